//! The participant registry with the shipped model: who is running decides what praise means.

mod common;

use candle_core::Device;
use common::*;
use pantau::text::participants::{Kind, Participant, Registry};
use pantau::{Classifier, Label};

fn shipped() -> Classifier {
    Classifier::load(model_dir().to_str().unwrap(), &Device::Cpu).unwrap()
}

fn person(name: &str) -> Participant {
    Participant {
        name: name.into(),
        kind: Kind::Person,
        race: "pilbup-contoh-2024".into(),
        region: String::new(),
        number: Some(2),
        party: String::new(),
        certain: true,
    }
}

/// Praise of people who are not running (the issue's own examples of false alarms), with the
/// alias a registry would give each if they were.
const PRAISE: [(&str, &str); 3] = [
    ("Cantik banget sih mbak Raisa, suaranya adem 😍", "raisa"),
    (
        "Timnas keren banget semalam, Shin Tae-yong emang pelatih hebat!",
        "shin tae yong",
    ),
    (
        "Ustadz Abdul Somad ceramahnya menyejukkan hati",
        "abdul somad",
    ),
];

#[test]
fn the_shipped_model_marks_participants() {
    let clf = shipped();
    assert!(
        clf.marks_participants(),
        "the shipped model is trained with participant marking"
    );
    let p = clf.classify("Pak Prabowo tegas dan merakyat").unwrap();
    assert_eq!(p.participants, ["Prabowo Subianto"]);
    let p = clf.classify("Selamat pagi, hujan deras di Bekasi").unwrap();
    assert!(p.participants.is_empty());
}

#[test]
fn praise_of_an_unregistered_person_is_neutral_and_registering_them_flips_it() {
    let clf = shipped();
    let mut registry = Registry::builtin().clone();
    for (_, alias) in PRAISE {
        registry.add(person(alias), &[alias]).unwrap();
    }
    let texts: Vec<&str> = PRAISE.iter().map(|(t, _)| *t).collect();
    let before = clf.classify_batch(&texts).unwrap();
    let after = shipped()
        .with_registry(registry)
        .classify_batch(&texts)
        .unwrap();
    for ((text, b), a) in texts.iter().zip(&before).zip(&after) {
        assert_eq!(b.label, Label::Neutral, "unregistered: {text} -> {b:?}");
        assert!(b.participants.is_empty());
        assert_eq!(a.label, Label::Promotional, "registered: {text} -> {a:?}");
        assert_eq!(a.participants.len(), 1, "{a:?}");
    }
}

#[test]
fn the_same_praise_of_a_registered_participant_is_promotional() {
    let clf = shipped();
    for text in [
        "Pak Anies orangnya merakyat banget, tiap pagi nyapa warga di pasar 👍",
        "Salut sama Pak Ganjar, sosok pemimpin yang tegas dan amanah 🔥",
        "Mas Gibran keren bgt, kerjanya nyata dan jujur, bangga punya sosok kayak beliau",
    ] {
        let p = clf.classify(text).unwrap();
        assert_eq!(p.label, Label::Promotional, "{text} -> {p:?}");
    }
}

#[test]
fn two_registered_names_of_the_same_kind_give_the_same_probabilities() {
    let clf = shipped();
    for (a, b) in [
        (
            "Ayo coblos Prabowo tanggal 14!",
            "Ayo coblos Ganjar tanggal 14!",
        ),
        ("Partai Golkar makin keren", "PKS makin keren"),
        (
            "Pasangan Ridwan Kamil Suswono paling peduli warga",
            "Pasangan Pramono Rano paling peduli warga",
        ),
    ] {
        let (pa, pb) = (clf.classify(a).unwrap(), clf.classify(b).unwrap());
        assert_ne!(pa.participants, pb.participants, "{a} / {b}");
        assert_eq!(pa.probabilities, pb.probabilities, "{a} / {b}");
    }
}

#[test]
fn swapping_participants_in_the_test_split_changes_no_label() {
    // Every test post that names Prabowo (alone or as the 02 pair), with the names swapped for the
    // 01 pair's: the model reads the same text, so labels and probabilities agree.
    const SWAPS: [(&str, &str); 4] = [
        ("Prabowo-Gibran", "Anies-Muhaimin"),
        ("Prabowo Subianto", "Anies Baswedan"),
        ("Prabowo", "Anies"),
        ("Gibran", "Cak Imin"),
    ];
    let clf = shipped();
    let rows = pantau::io::read_examples(&root().join("data/test.jsonl")).unwrap();
    let (orig, swap): (Vec<String>, Vec<String>) = rows
        .iter()
        .filter(|e| e.text.contains("Prabowo"))
        .filter(|e| {
            !["Anies", "Imin", "Muhaimin", "AMIN"]
                .iter()
                .any(|n| e.text.contains(n))
        })
        .map(|e| {
            let swapped = SWAPS
                .iter()
                .fold(e.text.clone(), |t, (from, to)| t.replace(from, to));
            (e.text.clone(), swapped)
        })
        .unzip();
    assert!(orig.len() >= 10, "{} test rows name Prabowo", orig.len());
    let (po, ps) = (
        clf.classify_batch(&orig).unwrap(),
        clf.classify_batch(&swap).unwrap(),
    );
    let mut same_input = 0;
    for (((t, s), a), b) in orig.iter().zip(&swap).zip(&po).zip(&ps) {
        assert_eq!(a.label, b.label, "{t} / {s}");
        assert_ne!(a.participants, b.participants, "{t} / {s}");
        if clf.prepare(t).text == clf.prepare(s).text {
            same_input += 1;
            assert_eq!(a.probabilities, b.probabilities, "{t}");
        }
    }
    assert!(
        same_input * 10 >= orig.len() * 9,
        "only {same_input} of {} swaps read the same to the model",
        orig.len()
    );
}

#[test]
fn a_participant_file_on_the_command_line_flips_a_post_and_is_listed() {
    let dir = tempfile::tempdir().unwrap();
    let reg = dir.path().join("pilbup.csv");
    std::fs::write(
        &reg,
        "name,kind,race,region,number,party,aliases\n\
         Raisa Andriana,person,pilbup-contoh-2024,Kabupaten Contoh,2,,raisa|mbak raisa\n",
    )
    .unwrap();
    let post = format!("{{\"text\": \"{}\"}}\n", PRAISE[0].0);
    let plain = run(&["classify", "-q"], Some(post.as_bytes()));
    assert!(plain.status.success(), "{}", stderr(&plain));
    let row = &jsonl(&plain.stdout)[0];
    assert_eq!(row["label"], "neutral");
    assert_eq!(row["participants"], serde_json::json!([]));

    let flipped = run(
        &["classify", "-q", "--participants", reg.to_str().unwrap()],
        Some(post.as_bytes()),
    );
    assert!(flipped.status.success(), "{}", stderr(&flipped));
    let row = &jsonl(&flipped.stdout)[0];
    assert_ne!(row["label"], "neutral", "{row:?}");
    assert_eq!(row["participants"], serde_json::json!(["Raisa Andriana"]));

    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "name,kind\nX,mayor\n").unwrap();
    let o = run(
        &["classify", "-q", "--participants", bad.to_str().unwrap()],
        Some(post.as_bytes()),
    );
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(
        err.contains("bad.csv, row 2") && err.contains("person, pair, party"),
        "{err}"
    );
}

#[test]
fn the_shipped_registry_is_consistent() {
    let reg = Registry::builtin();
    let mut names = std::collections::HashSet::new();
    for p in reg.participants() {
        assert!(names.insert(p.name.as_str()), "{} listed twice", p.name);
        assert!(
            p.race.ends_with("2024"),
            "{}: the shipped registry is the 2024 races",
            p.name
        );
    }
    for kind in [Kind::Person, Kind::Pair, Kind::Party] {
        assert!(reg.participants().iter().any(|p| p.kind == kind));
    }
    let numbers: Vec<(String, Option<u32>)> = reg
        .participants()
        .iter()
        .filter(|p| p.race == "pilpres-2024" && p.kind == Kind::Pair)
        .map(|p| (p.name.clone(), p.number))
        .collect();
    assert_eq!(numbers.len(), 3);
    assert!(numbers
        .iter()
        .any(|(n, x)| n.starts_with("Prabowo") && *x == Some(2)));
    for f in [
        "data/participants-history.csv",
        "data/participants-corpus.csv",
    ] {
        let r = Registry::from_path(&root().join(f)).unwrap();
        assert!(r.len() > 20, "{f}");
    }
}
