//! Checks the labeled corpus in `data/`: size, fields, split hygiene, generated-row rules, hard cases
//! in every split, and that no participant name predicts a label.

use std::collections::{BTreeMap, HashMap, HashSet};

use pantau::text::normalize::normalize;
use pantau::Label;
use serde_json::Value;

const SPLITS: [&str; 3] = ["train", "dev", "test"];
const HARD_KINDS: [&str; 9] = [
    "news_campaign",
    "news_neutrality",
    "gotv_general",
    "commercial_promo",
    "factual_mention",
    "subtle_praise",
    "negative_campaign",
    "vote_buying",
    "rally_invite",
];
const KINDS: [(&str, Label); 18] = [
    ("everyday", Label::Neutral),
    ("public_service", Label::Neutral),
    ("news_campaign", Label::Neutral),
    ("news_neutrality", Label::Neutral),
    ("gotv_general", Label::Neutral),
    ("election_logistics", Label::Neutral),
    ("commercial_promo", Label::Neutral),
    ("factual_mention", Label::Neutral),
    ("praise_achievement", Label::Promotional),
    ("praise_character", Label::Promotional),
    ("subtle_praise", Label::Promotional),
    ("support_hashtag", Label::Promotional),
    ("vote_call", Label::Campaigning),
    ("implicit_number_cue", Label::Campaigning),
    ("rally_invite", Label::Campaigning),
    ("fundraising", Label::Campaigning),
    ("negative_campaign", Label::Campaigning),
    ("vote_buying", Label::Campaigning),
];

struct Row {
    id: String,
    text: String,
    label: Label,
    source: String,
    kind: String,
}

fn load(split: &str) -> Vec<Row> {
    let path = format!("{}/data/{split}.jsonl", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .enumerate()
        .map(|(i, l)| {
            let v: Value =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("{path}:{}: {e}", i + 1));
            let s = |k: &str| {
                v[k].as_str()
                    .unwrap_or_else(|| panic!("{path}:{}: missing {k}", i + 1))
                    .to_string()
            };
            Row {
                id: s("id"),
                text: s("text"),
                label: s("label").parse().unwrap(),
                source: s("source"),
                kind: s("kind"),
            }
        })
        .collect()
}

fn all() -> Vec<(&'static str, Vec<Row>)> {
    SPLITS.iter().map(|s| (*s, load(s))).collect()
}

#[test]
fn size_fields_and_kinds() {
    let splits = all();
    let total: usize = splits.iter().map(|(_, r)| r.len()).sum();
    assert!(total >= 3000, "{total} rows");
    let kinds: HashMap<&str, Label> = KINDS.iter().copied().collect();
    let sources = ["tweet", "fb", "ig", "wa", "tiktok", "news", "generated"];
    let mut ids = HashSet::new();
    for (split, rows) in &splits {
        for r in rows {
            assert!(ids.insert(r.id.clone()), "duplicate id {}", r.id);
            assert!(!r.text.trim().is_empty(), "{}", r.id);
            assert_eq!(
                kinds.get(r.kind.as_str()),
                Some(&r.label),
                "{split} {}: kind {} vs label {}",
                r.id,
                r.kind,
                r.label
            );
            assert!(
                sources.contains(&r.source.as_str()),
                "{}: source {}",
                r.id,
                r.source
            );
        }
    }
}

#[test]
fn generated_rows_only_in_train_and_at_most_half() {
    for (split, rows) in all() {
        let generated = rows.iter().filter(|r| r.source == "generated").count();
        if split == "train" {
            assert!(
                generated * 2 <= rows.len(),
                "{generated} of {} train rows are generated",
                rows.len()
            );
        } else {
            assert_eq!(generated, 0, "{split} has generated rows");
        }
    }
}

#[test]
fn hard_cases_in_every_split() {
    for (split, rows) in all() {
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for r in rows.iter().filter(|r| r.source != "generated") {
            *counts.entry(r.kind.as_str()).or_default() += 1;
        }
        for k in HARD_KINDS {
            let n = counts.get(k).copied().unwrap_or(0);
            assert!(n >= 15, "{split}: only {n} hand-written rows of kind {k}");
        }
    }
}

fn shingles(text: &str) -> HashSet<u64> {
    use std::hash::{Hash, Hasher};
    let chars: Vec<char> = text.chars().collect();
    if chars.len() <= 5 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        chars.hash(&mut h);
        return HashSet::from([h.finish()]);
    }
    chars
        .windows(5)
        .map(|w| {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            w.hash(&mut h);
            h.finish()
        })
        .collect()
}

#[test]
fn no_duplicates_or_near_duplicates_across_splits() {
    let splits = all();
    let norm: Vec<Vec<String>> = splits
        .iter()
        .map(|(_, rows)| rows.iter().map(|r| normalize(&r.text)).collect())
        .collect();
    // Exact overlap of normalized text.
    for a in 0..3 {
        let set: HashSet<&String> = norm[a].iter().collect();
        for b in a + 1..3 {
            for (i, t) in norm[b].iter().enumerate() {
                assert!(
                    !set.contains(t),
                    "{} {} duplicates a {} row",
                    SPLITS[b],
                    splits[b].1[i].id,
                    SPLITS[a]
                );
            }
        }
    }
    // Near duplicates: Jaccard similarity of character 5-gram sets.
    const THRESHOLD: f64 = 0.8;
    let sh: Vec<Vec<HashSet<u64>>> = norm
        .iter()
        .map(|ts| ts.iter().map(|t| shingles(t)).collect())
        .collect();
    let mut near = Vec::new();
    for a in 0..3 {
        let mut index: HashMap<u64, Vec<u32>> = HashMap::new();
        for (i, s) in sh[a].iter().enumerate() {
            for h in s {
                index.entry(*h).or_default().push(i as u32);
            }
        }
        for b in a + 1..3 {
            for (j, s) in sh[b].iter().enumerate() {
                let mut shared: HashMap<u32, u32> = HashMap::new();
                for h in s {
                    if let Some(list) = index.get(h) {
                        for &i in list {
                            *shared.entry(i).or_default() += 1;
                        }
                    }
                }
                for (i, c) in shared {
                    let other = &sh[a][i as usize];
                    let jac = c as f64 / (s.len() + other.len() - c as usize) as f64;
                    if jac >= THRESHOLD {
                        near.push(format!(
                            "{} {} ~ {} {} ({jac:.2})",
                            SPLITS[a], splits[a].1[i as usize].id, SPLITS[b], splits[b].1[j].id
                        ));
                    }
                }
            }
        }
    }
    assert!(
        near.is_empty(),
        "near-duplicates across splits:\n{}",
        near.join("\n")
    );
}

/// Words of a text for participant matching (the rule of data/tools/generate.py): lowercase, URLs and
/// @mentions removed, `#` dropped, split on anything that is not a letter or digit.
fn words(text: &str) -> Vec<String> {
    let lower = text.to_lowercase();
    let mut out = Vec::new();
    for tok in lower.split_whitespace() {
        if tok.starts_with("http") || tok.starts_with("www.") || tok.starts_with('@') {
            continue;
        }
        out.extend(
            tok.split(|c: char| !c.is_alphanumeric())
                .filter(|w| !w.is_empty())
                .map(String::from),
        );
    }
    out
}

#[test]
fn no_participant_name_predicts_a_label() {
    let tsv = std::fs::read_to_string(format!(
        "{}/data/participants.tsv",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let participants: Vec<(String, Vec<Vec<String>>)> = tsv
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (name, pats) = l.split_once('\t').expect("name<TAB>patterns");
            (
                name.to_string(),
                pats.split('|')
                    .map(|p| p.split_whitespace().map(String::from).collect())
                    .collect(),
            )
        })
        .collect();
    assert!(participants.len() >= 30);
    let mut counts: Vec<[usize; 3]> = vec![[0; 3]; participants.len()];
    for (_, rows) in all() {
        for r in rows {
            let w = words(&r.text);
            for (pi, (_, pats)) in participants.iter().enumerate() {
                if pats
                    .iter()
                    .any(|p| !p.is_empty() && w.windows(p.len()).any(|win| win == &p[..]))
                {
                    counts[pi][r.label.index()] += 1;
                }
            }
        }
    }
    println!(
        "{:<36} {:>8} {:>12} {:>12}",
        "participant", "neutral", "promotional", "campaigning"
    );
    let mut problems = Vec::new();
    for ((name, _), c) in participants.iter().zip(&counts) {
        println!("{name:<36} {:>8} {:>12} {:>12}", c[0], c[1], c[2]);
        let total: usize = c.iter().sum();
        let max_share = *c.iter().max().unwrap() as f64 / total.max(1) as f64;
        if c.iter().any(|&n| n < 5) || max_share > 0.6 {
            problems.push(format!("{name}: {c:?}"));
        }
    }
    assert!(
        problems.is_empty(),
        "participants missing from a label or dominated by one:\n{}",
        problems.join("\n")
    );
}

/// FNV-1a over the sorted test rows (text, label, kind, source), independent of row order and ids.
/// The test split is frozen (data/README.md): figures reported on it must stay comparable, so a
/// rebuild may grow train and dev but never change test.
const TEST_SPLIT_FINGERPRINT: (usize, u64) = (844, 0xbbc9_c563_fc00_fe17);

#[test]
fn test_split_is_frozen() {
    let mut rows: Vec<String> = load("test")
        .into_iter()
        .map(|r| [r.text, r.label.as_str().into(), r.kind, r.source].join("\u{1f}"))
        .collect();
    rows.sort();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for row in &rows {
        for &b in row.as_bytes().iter().chain(b"\x1e") {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    assert_eq!(
        (rows.len(), h),
        TEST_SPLIT_FINGERPRINT,
        "data/test.jsonl changed, but the test split is frozen: add rows as a new raw file and \
         rebuild with data/tools/build_corpus.py instead of editing raw/w1-w16"
    );
}
