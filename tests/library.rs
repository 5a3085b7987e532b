//! The library API: model-directory validation, hub resolution, and training.

mod common;

use std::path::Path;

use candle_core::Device;
use common::*;
use pantau::io::{read_examples, Example};
use pantau::train::{train, TrainConfig, TrainData};
use pantau::{Classifier, Error, Label};

fn copy_model(to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for f in ["config.json", "tokenizer.json", "model.safetensors"] {
        std::fs::copy(model_dir().join(f), to.join(f)).unwrap();
    }
}

fn load_err(dir: &Path) -> String {
    match Classifier::load_dir(dir, &Device::Cpu) {
        Ok(_) => panic!("{} loaded", dir.display()),
        Err(e) => {
            assert!(matches!(e, Error::InvalidModel { .. }), "{e:?}");
            e.to_string()
        }
    }
}

fn edit_config(dir: &Path, f: impl FnOnce(&mut serde_json::Value)) {
    let p = dir.join("config.json");
    let mut v: serde_json::Value = serde_json::from_slice(&read(&p)).unwrap();
    f(&mut v);
    std::fs::write(&p, serde_json::to_vec(&v).unwrap()).unwrap();
}

#[test]
fn the_shipped_model_loads_and_classifies() {
    let clf = Classifier::load(model_dir().to_str().unwrap(), &Device::Cpu).unwrap();
    let p = clf
        .classify("Promo diskon akhir tahun, semua produk 50%!")
        .unwrap();
    assert!((p.probabilities.iter().sum::<f32>() - 1.0).abs() < 1e-5);
    let batch = clf
        .classify_batch(&["satu", "dua dua", "tiga tiga tiga"])
        .unwrap();
    assert_eq!(batch.len(), 3);
}

#[test]
fn broken_model_directories_name_the_file_and_the_problem() {
    let tmp = tempfile::tempdir().unwrap();

    let d = tmp.path().join("no_tokenizer");
    copy_model(&d);
    std::fs::remove_file(d.join("tokenizer.json")).unwrap();
    assert!(load_err(&d).contains("tokenizer.json is missing"));

    let d = tmp.path().join("no_config");
    copy_model(&d);
    std::fs::remove_file(d.join("config.json")).unwrap();
    assert!(load_err(&d).contains("config.json is missing"));

    let d = tmp.path().join("small_vocab");
    copy_model(&d);
    edit_config(&d, |v| v["vocab_size"] = 100.into());
    let e = load_err(&d);
    assert!(
        e.contains("tokenizer.json has") && e.contains("vocab_size 100"),
        "{e}"
    );

    let d = tmp.path().join("big_vocab");
    copy_model(&d);
    edit_config(&d, |v| {
        v["vocab_size"] = (v["vocab_size"].as_u64().unwrap() + 10).into()
    });
    let e = load_err(&d);
    assert!(
        e.contains("model.safetensors") && e.contains("word_embeddings"),
        "{e}"
    );

    let d = tmp.path().join("max_len");
    copy_model(&d);
    edit_config(&d, |v| v["max_position_embeddings"] = 512.into());
    let e = load_err(&d);
    assert!(
        e.contains("position_embeddings") && e.contains("512"),
        "{e}"
    );

    let d = tmp.path().join("labels");
    copy_model(&d);
    edit_config(&d, |v| {
        v["id2label"] = serde_json::json!({"0": "neutral", "1": "positive", "2": "campaigning"});
    });
    let e = load_err(&d);
    assert!(e.contains("config.json") && e.contains("positive"), "{e}");

    let d = tmp.path().join("four_labels");
    copy_model(&d);
    edit_config(&d, |v| v["id2label"]["3"] = "other".into());
    assert!(load_err(&d).contains("exactly 3"));

    let d = tmp.path().join("truncated");
    copy_model(&d);
    let w = read(&d.join("model.safetensors"));
    std::fs::write(d.join("model.safetensors"), &w[..w.len() / 2]).unwrap();
    let e = load_err(&d);
    assert!(e.contains("model.safetensors"), "{e}");

    let d = tmp.path().join("garbage");
    copy_model(&d);
    std::fs::write(d.join("config.json"), b"{not json").unwrap();
    assert!(load_err(&d).contains("config.json"));

    let d = tmp.path().join("heads");
    copy_model(&d);
    edit_config(&d, |v| v["num_attention_heads"] = 7.into());
    assert!(load_err(&d).contains("divisible"));
}

#[test]
fn a_typo_in_a_local_model_path_is_a_missing_directory_not_a_hub_id() {
    let e = Classifier::load("models/pantau-smal", &Device::Cpu)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("no such directory"), "{e}");
    assert!(
        e.contains("pantau-small"),
        "names the model that is there: {e}"
    );
    assert!(!e.contains("huggingface"), "{e}");
}

#[test]
fn hub_ids_resolve_through_a_local_cache() {
    let cache = tempfile::tempdir().unwrap();
    let c = hf_hub::Cache::new(cache.path().to_path_buf());
    let repo = hf_hub::Repo::model("pantau/cached".into());
    let commit = "abcdefabcdefabcdefabcdefabcdefabcdefabcd";
    let snap = cache
        .path()
        .join(repo.folder_name())
        .join("snapshots")
        .join(commit);
    copy_model(&snap);
    c.repo(repo).create_ref(commit).unwrap();
    let dir = pantau::hub::resolve_with("pantau/cached", &c).unwrap();
    let clf = Classifier::load_dir(&dir, &Device::Cpu).unwrap();
    assert_eq!(clf.classify_batch(&["halo"]).unwrap().len(), 1);
}

#[test]
fn the_lexical_head_adds_its_weighted_logits_to_the_encoder_s() {
    // Without the stretch, p = softmax(ln q + o / T): q the encoder alone at temperature T, o the
    // head's offset.
    let clf = Classifier::load_dir(&model_dir(), &Device::Cpu)
        .unwrap()
        .with_top_stretch(None);
    assert!(
        clf.lexical().is_some(),
        "the shipped model has a lexical head"
    );
    let t = clf.config().temperature;
    let posts = [
        "Cantik banget sih mbak Raisa, suaranya adem",
        "Ayo coblos nomor 2 tanggal 14 Februari!",
        "Pak Prabowo hebat, programnya makan siang gratis mantap",
        "Promo diskon akhir tahun 50% hanya hari ini",
        "jangan pilih yang suka ingkar janji, pilih yang amanah",
    ];
    let whole = clf.classify_batch(&posts).unwrap();
    let mut changed = 0;
    for (post, p) in posts.iter().zip(&whole) {
        let q = clf
            .predict_ids(&[clf.encode(post).unwrap()])
            .unwrap()
            .remove(0);
        let o = clf.lexical_offset(&clf.prepare(post).text).unwrap();
        let z: Vec<f32> = (0..3).map(|k| q.probabilities[k].ln() + o[k] / t).collect();
        let m = z.iter().cloned().fold(f32::MIN, f32::max);
        let s: f32 = z.iter().map(|v| (v - m).exp()).sum();
        for (k, zk) in z.iter().enumerate() {
            let want = (zk - m).exp() / s;
            assert!(
                (p.probabilities[k] - want).abs() < 1e-4,
                "{post}: {:?} vs {want} at {k}",
                p.probabilities
            );
        }
        changed += (q.probabilities != p.probabilities) as usize;
    }
    assert_eq!(changed, posts.len(), "the head moved every post");
    // Without the head the model is the encoder alone.
    let alone = clf.with_lexical(None);
    for post in posts {
        let q = alone
            .predict_ids(&[alone.encode(post).unwrap()])
            .unwrap()
            .remove(0);
        assert_eq!(alone.classify(post).unwrap().probabilities, q.probabilities);
    }
}

#[test]
fn zero_epochs_keep_the_encoder_and_fit_a_lexical_head_on_its_data() {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().join("base");
    let cfg = TrainConfig {
        no_lexical: true,
        ..tiny_config(3)
    };
    train(&cfg, &slice(), &base, &Device::Cpu, |_| {}).unwrap();
    assert!(Classifier::load_dir(&base, &Device::Cpu)
        .unwrap()
        .lexical()
        .is_none());
    let mut cfg = tiny_config(3);
    cfg.init = Some(base.display().to_string());
    cfg.epochs = 0;
    let head = tmp.path().join("head");
    let mut seen = false;
    let report = train(&cfg, &slice(), &head, &Device::Cpu, |e| {
        seen |= matches!(e, pantau::train::Event::Lexical(_))
    })
    .unwrap();
    assert!(seen && report.epochs.is_empty());
    let fitted = report.lexical.expect("a head was fitted");
    assert_eq!(fitted.train_rows, 300);
    assert_eq!(
        fitted.dev_macro_f1.len(),
        13,
        "every weight was tried on dev"
    );
    let best = fitted
        .dev_macro_f1
        .iter()
        .map(|(_, f)| *f)
        .fold(f64::MIN, f64::max);
    let chosen = fitted
        .dev_macro_f1
        .iter()
        .find(|(w, _)| *w == fitted.weight);
    assert_eq!(
        chosen.unwrap().1,
        best,
        "the weight with the best dev macro-F1"
    );
    // The encoder's tensors are the base model's, bit for bit; the head's are new.
    let tensors = |d: &Path| {
        candle_core::safetensors::load(d.join("model.safetensors"), &Device::Cpu).unwrap()
    };
    let (a, b) = (tensors(&base), tensors(&head));
    assert_eq!(b.len(), a.len() + 3);
    for (name, t) in &a {
        let u = &b[name];
        let diff = (t.to_dtype(candle_core::DType::F32).unwrap()
            - u.to_dtype(candle_core::DType::F32).unwrap())
        .unwrap()
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
        assert_eq!(diff, 0.0, "{name}");
    }
    let clf = Classifier::load_dir(&head, &Device::Cpu).unwrap();
    assert_eq!(clf.config().lexical.unwrap().weight, fitted.weight);
    let card = std::fs::read_to_string(head.join("README.md")).unwrap();
    assert!(card.contains("A lexical head beside the encoder"), "{card}");
    // A new model needs epochs.
    let e = train(
        &TrainConfig {
            epochs: 0,
            ..tiny_config(3)
        },
        &slice(),
        &tmp.path().join("never"),
        &Device::Cpu,
        |_| {},
    )
    .unwrap_err();
    assert!(e.to_string().contains("needs --init"), "{e}");
}

fn tiny_config(seed: u64) -> TrainConfig {
    TrainConfig {
        epochs: 3,
        batch_size: 16,
        learning_rate: 3e-3,
        patience: 10,
        seed,
        vocab_size: 600,
        hidden_size: 32,
        num_layers: 1,
        num_heads: 2,
        intermediate_size: 64,
        max_len: 48,
        pretrain_epochs: Some(0),
        ..TrainConfig::default()
    }
}

fn slice() -> TrainData {
    let all: Vec<Example> = read_examples(&root().join("data/train.jsonl")).unwrap();
    TrainData {
        train: all[..300].to_vec(),
        dev: all[300..380].to_vec(),
        ..TrainData::default()
    }
}

#[test]
fn tiny_training_lowers_loss_and_saves_a_loadable_model() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("m");
    let report = train(&tiny_config(5), &slice(), &out, &Device::Cpu, |_| {}).unwrap();
    let first = report.epochs.first().unwrap().train_loss;
    let last = report.epochs.last().unwrap().train_loss;
    assert!(last < first, "loss went from {first} to {last}");
    assert!(report.best_epoch >= 1);
    let clf = Classifier::load_dir(&out, &Device::Cpu).unwrap();
    let p = clf.classify("coblos nomor dua").unwrap();
    assert!(Label::ALL.contains(&p.label));
    // The card states the size of the weights that were written.
    let card = std::fs::read_to_string(out.join("README.md")).unwrap();
    let bytes = std::fs::metadata(out.join("model.safetensors"))
        .unwrap()
        .len();
    let stated: f64 = card
        .split(" MB of weights")
        .next()
        .and_then(|s| s.rsplit('(').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no weight size in the card:\n{card}"));
    assert!(
        (stated - bytes as f64 / 1e6).abs() <= 0.1,
        "card says {stated} MB, file has {bytes} bytes"
    );
    // No temporary directories are left beside the model.
    let leftovers: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n != "m")
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn training_is_reproducible_with_a_seed() {
    let tmp = tempfile::tempdir().unwrap();
    let data = slice();
    let mut cfg = tiny_config(7);
    cfg.epochs = 2;
    train(&cfg, &data, &tmp.path().join("a"), &Device::Cpu, |_| {}).unwrap();
    train(&cfg, &data, &tmp.path().join("b"), &Device::Cpu, |_| {}).unwrap();
    assert!(
        read(&tmp.path().join("a/model.safetensors"))
            == read(&tmp.path().join("b/model.safetensors")),
        "same seed, same weights"
    );
    cfg.seed = 8;
    train(&cfg, &data, &tmp.path().join("c"), &Device::Cpu, |_| {}).unwrap();
    assert!(
        read(&tmp.path().join("a/model.safetensors"))
            != read(&tmp.path().join("c/model.safetensors"))
    );
}

#[test]
fn fine_tuning_starts_from_an_existing_model() {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().join("base");
    train(&tiny_config(3), &slice(), &base, &Device::Cpu, |_| {}).unwrap();
    let mut cfg = tiny_config(3);
    cfg.init = Some(base.display().to_string());
    cfg.epochs = 1;
    cfg.hidden_size = 999; // ignored: the architecture comes from --init
    cfg.pretrain_epochs = None; // fine-tuning skips pretraining unless it is asked for
    let tuned = tmp.path().join("tuned");
    let report = train(&cfg, &slice(), &tuned, &Device::Cpu, |_| {}).unwrap();
    assert_eq!(report.epochs.len(), 1);
    assert!(report.pretraining.is_empty());
    assert_eq!(report.config.pretrain_epochs, Some(0));
    let card = std::fs::read_to_string(tuned.join("README.md")).unwrap();
    assert!(card.contains(&format!("Fine-tuned from `{}`", base.display())));
    assert_eq!(
        read(&base.join("tokenizer.json")),
        read(&tuned.join("tokenizer.json"))
    );
    let clf = Classifier::load_dir(&tuned, &Device::Cpu).unwrap();
    assert_eq!(clf.config().hidden_size, 32);
}

#[test]
fn pretraining_lowers_the_masked_lm_loss_and_saves_only_classifier_tensors() {
    let tmp = tempfile::tempdir().unwrap();
    let mut data = slice();
    data.unlabeled = data.train[..60].iter().map(|e| e.text.clone()).collect();
    let mut cfg = tiny_config(4);
    cfg.pretrain_epochs = Some(3);
    cfg.epochs = 1;
    let out = tmp.path().join("pre");
    let report = train(&cfg, &data, &out, &Device::Cpu, |_| {}).unwrap();
    assert_eq!(report.pretraining.len(), 3);
    assert_eq!(report.unlabeled_texts, 60);
    let (first, last) = (report.pretraining[0].loss, report.pretraining[2].loss);
    assert!(last < first, "masked-LM loss went from {first} to {last}");
    // The pretraining head's bias is not part of the model: same tensors as a plain run.
    cfg.pretrain_epochs = Some(0);
    let plain = tmp.path().join("plain");
    train(&cfg, &data, &plain, &Device::Cpu, |_| {}).unwrap();
    let names = |dir: &std::path::Path| {
        let mut n: Vec<String> =
            candle_core::safetensors::load(dir.join("model.safetensors"), &Device::Cpu)
                .unwrap()
                .into_keys()
                .collect();
        n.sort();
        n
    };
    assert_eq!(names(&out), names(&plain));
    let clf = Classifier::load_dir(&out, &Device::Cpu).unwrap();
    assert!(Label::ALL.contains(&clf.classify("coblos nomor dua").unwrap().label));
}

#[test]
fn pretraining_needs_a_mask_token() {
    let tmp = tempfile::tempdir().unwrap();
    let tok = tmp.path().join("tokenizer.json");
    let json = serde_json::json!({
        "version": "1.0", "truncation": null, "padding": null, "added_tokens": [],
        "normalizer": null, "pre_tokenizer": {"type": "Whitespace"}, "post_processor": null,
        "decoder": null,
        "model": {"type": "WordLevel", "vocab": {"<unk>": 0, "coblos": 1, "nomor": 2}, "unk_token": "<unk>"}
    });
    std::fs::write(&tok, json.to_string()).unwrap();
    let mut cfg = tiny_config(4);
    cfg.tokenizer = Some(tok);
    cfg.pretrain_epochs = Some(1);
    let err = train(&cfg, &slice(), &tmp.path().join("m"), &Device::Cpu, |_| {})
        .expect_err("no [MASK] token")
        .to_string();
    assert!(err.contains("[MASK]"), "{err}");
    assert!(!tmp.path().join("m").exists());
}

#[test]
fn background_rows_train_with_their_own_registry_and_the_model_marks_participants() {
    use pantau::text::participants::Registry;
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("m");
    let mut data = slice();
    // A past race's candidate, registered only for the background rows.
    let history = Registry::from_reader(
        &b"name,kind,aliases\nOld Candidate,person,pak lama\n"[..],
        "h.csv",
        b',',
    )
    .unwrap();
    data.registry = Registry::builtin().clone();
    data.background_registry = Registry::builtin().clone();
    data.background_registry.extend(&history);
    data.background = (0..40)
        .map(|i| Example {
            text: format!("pak lama hebat sekali, kerja nyata nomor {i}"),
            label: Label::Promotional,
            kind: None,
        })
        .collect();
    let mut cfg = tiny_config(3);
    cfg.epochs = 1;
    let report = train(&cfg, &data, &out, &Device::Cpu, |_| {}).unwrap();
    assert_eq!(
        report.train_examples, 340,
        "300 rows plus 40 background rows"
    );
    let clf = Classifier::load_dir(&out, &Device::Cpu).unwrap();
    assert!(clf.marks_participants());
    // The role tokens are whole tokens of the learned vocabulary.
    let ids = clf.encode("Pak Prabowo").unwrap();
    assert_eq!(ids.len(), 4, "[CLS] bapak [calon] [SEP]: {ids:?}");
    assert_eq!(
        clf.classify("Pak Prabowo hebat").unwrap().participants,
        ["Prabowo Subianto"]
    );
}
