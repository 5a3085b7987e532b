//! The analyst's workflow on the command line: calibrated scores, flag threshold and review band,
//! flagged-only output, the review order, and long posts read in windows.

mod common;

use common::*;
use pantau::model::config::TopStretch;

/// A long neutral preamble (far past the model's 128 tokens) and a campaigning ending.
fn long_post() -> (String, String) {
    let preamble = "Hari ini cuaca di kampung cerah sekali, ibu-ibu berangkat ke pasar pagi, \
                    anak-anak bermain bola di lapangan, bapak-bapak memperbaiki pagar balai desa \
                    sambil bercerita tentang panen padi tahun ini yang cukup bagus. "
        .repeat(6);
    let ending = "Jangan lupa tanggal 14 Februari ayo coblos nomor 2, pilih Prabowo-Gibran!";
    (format!("{preamble}{ending}"), ending.to_string())
}

fn classify_texts(
    texts: &[&str],
    flags: &[&str],
) -> Vec<serde_json::Map<String, serde_json::Value>> {
    let input: String = texts
        .iter()
        .map(|t| serde_json::json!({ "text": t }).to_string() + "\n")
        .collect();
    let mut args = vec!["classify", "--format", "jsonl"];
    args.extend_from_slice(flags);
    let o = run(&args, Some(input.as_bytes()));
    assert!(o.status.success(), "{}", stderr(&o));
    jsonl(&o.stdout)
}

#[test]
fn a_campaigning_ending_after_a_long_neutral_preamble_is_found() {
    let (post, ending) = long_post();
    let preamble = post.strip_suffix(&ending).unwrap().to_string();
    let rows = classify_texts(&[&post, &ending, &preamble], &[]);
    assert_eq!(rows[1]["label"], "campaigning", "the ending alone");
    assert_eq!(rows[2]["label"], "neutral", "the preamble alone");
    assert_eq!(rows[0]["label"], "campaigning", "{:?}", rows[0]);
    assert!(rows[0]["windows"].as_u64().unwrap() > 1);
    assert_eq!(rows[0]["truncated"], false);
    assert_eq!(rows[1]["windows"], 1);
    // Past the last window the text is not read, and the row says so.
    let huge = format!("{} {ending}", preamble.repeat(20));
    let rows = classify_texts(&[&huge], &[]);
    assert_eq!(rows[0]["truncated"], true);
    assert_eq!(
        rows[0]["windows"],
        pantau::classify::classifier::MAX_WINDOWS as u64
    );
}

#[test]
fn every_row_has_flagged_and_review_and_the_threshold_moves_them() {
    let texts = [
        "Ayo coblos nomor 2 tanggal 14 Februari!",
        "Selamat pagi semua, jangan lupa sarapan",
        "Program makan siang gratisnya keren banget, Prabowo emang peduli",
    ];
    let rows = classify_texts(&texts, &[]);
    for r in &rows {
        let score = r["p_promotional"].as_f64().unwrap() + r["p_campaigning"].as_f64().unwrap();
        assert_eq!(r["flagged"], score >= 0.5, "{r:?}");
        assert_eq!(r["review"], (0.3..=0.7).contains(&score), "{r:?}");
    }
    assert_eq!(rows[0]["flagged"], true);
    assert_eq!(rows[1]["flagged"], false);
    let strict = classify_texts(&texts, &["--flag-threshold", "1", "--review-band", "0..1"]);
    assert!(strict
        .iter()
        .all(|r| r["flagged"] == false && r["review"] == true));
}

#[test]
fn flagged_only_writes_flagged_and_error_rows_and_counts_everything() {
    let input = concat!(
        "{\"id\":1,\"text\":\"Ayo coblos nomor 2 tanggal 14 Februari!\"}\n",
        "{\"id\":2,\"text\":\"Selamat pagi semua, jangan lupa sarapan\"}\n",
        "{\"id\":3,\"text\":\"\"}\n",
        "{\"id\":4,\"text\":\"Promo diskon 50% akhir tahun di toko kami\"}\n",
    );
    let o = run(
        &["classify", "--format", "jsonl", "--flagged-only"],
        Some(input.as_bytes()),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let rows = jsonl(&o.stdout);
    let ids: Vec<u64> = rows.iter().map(|r| r["id"].as_u64().unwrap()).collect();
    assert_eq!(ids, vec![1, 3], "the flagged row and the error row");
    assert!(
        stderr(&o).contains("4 rows (3 classified, 1 flagged, 1 errors)"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn sort_review_puts_the_most_uncertain_rows_first_and_errors_last() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("review.jsonl");
    let o = run(
        &[
            "classify",
            "data/test.jsonl",
            "-o",
            out.to_str().unwrap(),
            "--sort-review",
        ],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let rows = jsonl(&read(&out));
    let n = read(&root().join("data/test.jsonl"))
        .iter()
        .filter(|&&b| b == b'\n')
        .count();
    assert_eq!(rows.len(), n, "nothing lost in the reordering");
    let distance: Vec<f64> = rows
        .iter()
        .map(|r| {
            (r["p_promotional"].as_f64().unwrap() + r["p_campaigning"].as_f64().unwrap() - 0.5)
                .abs()
        })
        .collect();
    assert!(distance.windows(2).all(|w| w[0] <= w[1] + 1e-6));
    let mut seen: Vec<u64> = rows.iter().map(|r| r["row"].as_u64().unwrap()).collect();
    seen.sort();
    assert_eq!(seen, (1..=n as u64).collect::<Vec<_>>());
    let o = run(&["classify", "data/test.jsonl", "--sort-review"], None);
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn calibrate_fits_a_temperature_into_the_config_and_keeps_every_label() {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("m");
    std::fs::create_dir_all(&m).unwrap();
    for f in ["config.json", "tokenizer.json", "model.safetensors"] {
        std::fs::copy(model_dir().join(f), m.join(f)).unwrap();
    }
    let set_t = |t: f64| {
        let p = m.join("config.json");
        let mut v: serde_json::Value = serde_json::from_slice(&read(&p)).unwrap();
        v["temperature"] = t.into();
        std::fs::write(&p, serde_json::to_vec(&v).unwrap()).unwrap();
    };
    // Start from a badly overconfident temperature: the fit must undo most of it.
    set_t(0.1);
    let mdir = m.to_str().unwrap();
    let before = run(&["classify", "-m", mdir, "data/sample.jsonl"], None);
    // Its printout and the config it wrote.
    let calibrate = |extra: &[&str]| -> (String, serde_json::Value) {
        let mut args = vec![
            "calibrate",
            "-m",
            mdir,
            "--data",
            "data/dev.jsonl",
            "--participants",
            "data/participants-corpus.csv",
        ];
        args.extend_from_slice(extra);
        let o = run(&args, None);
        assert!(o.status.success(), "{}", stderr(&o));
        let config = serde_json::from_slice(&read(&m.join("config.json"))).unwrap();
        (String::from_utf8_lossy(&o.stdout).to_string(), config)
    };
    let (text, v) = calibrate(&[]);
    assert!(text.contains("temperature 0.1000 ->"), "{text}");
    let t = v["temperature"].as_f64().unwrap();
    assert!((0.3..3.0).contains(&t), "{t}");
    let ece = |line: &str| -> f64 {
        let l = text.lines().find(|l| l.starts_with(line)).unwrap();
        l.split_whitespace().nth(2).unwrap().parse().unwrap()
    };
    assert!(ece("after") < ece("before"), "{text}");
    // Any stretch it fitted only sharpens; `--no-top-stretch` fits the temperature alone.
    if let Some(s) = v.get("top_stretch") {
        assert!(s["slope"].as_f64().unwrap() > 1.0, "{s}");
    }
    let after = run(&["classify", "-m", mdir, "data/sample.jsonl"], None);
    assert_eq!(labels(&before), labels(&after));
    let (_, v) = calibrate(&["--no-top-stretch"]);
    assert!(v.get("top_stretch").is_none(), "{v}");
}

#[test]
fn the_shipped_model_is_calibrated_past_the_label_smoothing_cap() {
    // Label smoothing 0.1 alone caps every probability near 0.95; the fitted temperature must
    // stretch the scale past it where the model is sure.
    let o = run(
        &[
            "classify",
            "data/test.jsonl",
            "--participants",
            "data/participants-corpus.csv",
            "-q",
        ],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let rows = jsonl(&o.stdout);
    let tops: Vec<f64> = rows
        .iter()
        .map(|r| {
            ["p_neutral", "p_promotional", "p_campaigning"]
                .iter()
                .map(|k| r[*k].as_f64().unwrap())
                .fold(0.0, f64::max)
        })
        .collect();
    let past_cap = tops.iter().filter(|&&p| p > 0.96).count();
    assert!(
        past_cap * 2 > tops.len(),
        "only {past_cap} of {} posts above 0.96",
        tops.len()
    );
    // The top stretch takes the surest posts to 0.99.
    let top = tops.iter().cloned().fold(0.0, f64::max);
    assert!(top >= 0.99, "highest probability {top}");
}

#[test]
fn the_top_stretch_changes_no_label_and_no_flag_and_explanations_report_it_too() {
    let texts = test_texts(300);
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    // The model's own stretch, or one like those calibration fits: the property holds for any.
    let stretch = shipped().config().top_stretch.unwrap_or(TopStretch {
        knot: 2.0,
        slope: 2.0,
    });
    let clf = shipped().with_top_stretch(Some(stretch));
    let with = clf.classify_batch(&refs).unwrap();
    let without = shipped()
        .with_top_stretch(None)
        .classify_batch(&refs)
        .unwrap();
    let p_knot = stretch.knot_probability();
    let mut moved = 0;
    for (a, b) in with.iter().zip(&without) {
        assert_eq!(a.label, b.label);
        let flag = |p: &pantau::Prediction| p.probabilities[1] + p.probabilities[2];
        // No flag decision at any threshold between 1 − p(knot) and p(knot) changes.
        for t in [1.0 - p_knot + 1e-3, 0.3, 0.5, 0.7, p_knot - 1e-3] {
            assert_eq!(flag(a) >= t, flag(b) >= t, "{a:?} {b:?} at {t}");
        }
        let top = |p: &pantau::Prediction| p.probabilities[p.label.index()];
        assert!(top(a) >= top(b));
        moved += (top(a) > top(b)) as usize;
    }
    assert!(moved > 0, "the stretch moved no post");
    // `explain` computes its own pass: its probabilities are the classifier's.
    for (text, p) in refs.iter().zip(&with).take(20) {
        let e = clf.explain(text, 3).unwrap();
        for (x, y) in e.prediction.probabilities.iter().zip(p.probabilities) {
            assert!(
                (x - y).abs() < 1e-4,
                "{text}: {:?} vs {:?}",
                e.prediction,
                p
            );
        }
    }
}

/// The post without the first occurrence of `unit` (one word, or a name of several).
fn without(text: &str, unit: &str) -> String {
    let words: Vec<&str> = text.split_whitespace().collect();
    let parts: Vec<&str> = unit.split(' ').collect();
    let at = (0..words.len())
        .find(|&i| words[i..].starts_with(&parts))
        .unwrap_or_else(|| panic!("{unit:?} is not in {text:?}"));
    let mut rest = words[..at].to_vec();
    rest.extend_from_slice(&words[at + parts.len()..]);
    rest.join(" ")
}

/// The texts of the first `n` rows of the test split.
fn test_texts(n: usize) -> Vec<String> {
    std::fs::read_to_string(root().join("data/test.jsonl"))
        .unwrap()
        .lines()
        .take(n)
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["text"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

fn shipped() -> pantau::Classifier {
    pantau::Classifier::load_dir(&model_dir(), &candle_core::Device::Cpu).unwrap()
}

#[test]
fn occlusion_weights_are_the_log_odds_drop_without_the_word() {
    use pantau::classify::explain::{log_odds, Method};
    let clf = shipped();
    let text = "Besok pagi jangan lupa ayo coblos nomor 2 di TPS";
    let e = clf
        .explain_batch(&[text], 5, Method::Occlusion)
        .unwrap()
        .remove(0);
    assert_eq!(e.label, pantau::Label::Campaigning);
    assert!(!e.words.is_empty() && e.words.len() <= 5);
    assert!(e.words.windows(2).all(|w| w[0].weight >= w[1].weight));
    let top = &e.words[0];
    // Measured independently: the post without its top word.
    let p = clf.classify(&without(text, &top.word)).unwrap();
    let odds_drop = log_odds(e.prediction.probability(e.label)) - log_odds(p.probability(e.label));
    assert!(odds_drop > 0.0, "{top:?}");
    assert!(
        (odds_drop - top.weight).abs() < 1e-4,
        "{odds_drop} vs {top:?}"
    );
}

#[test]
fn removing_the_top_gradient_word_lowers_the_labels_probability() {
    let clf = shipped();
    for text in [
        "Besok pagi jangan lupa ayo coblos nomor 2 di TPS",
        "Pak Prabowo memang pemimpin tegas dan merakyat, bangga sama beliau 🇮🇩",
        "yuk gaes tanggal 14 nanti coblos PDI Perjuangan, nomor 3 ya!",
    ] {
        let e = clf.explain(text, 5).unwrap();
        assert_ne!(e.label, pantau::Label::Neutral, "{text}");
        assert!(!e.words.is_empty() && e.words.len() <= 5, "{text}");
        assert!(e.words.windows(2).all(|w| w[0].weight >= w[1].weight));
        assert!(e.words.iter().all(|w| w.weight > 0.0));
        let top = &e.words[0];
        let p = clf.classify(&without(text, &top.word)).unwrap();
        assert!(
            p.probability(e.label) < e.prediction.probability(e.label),
            "{text}: without {top:?} {} ≥ {}",
            p.probability(e.label),
            e.prediction.probability(e.label)
        );
    }
}

#[test]
fn gradient_explanations_point_at_words_that_matter_on_most_flagged_posts() {
    // Over the flagged posts of the test split's first 200 rows: removing the top word must lower
    // the label's probability for nearly all of them (for 99.8% of the 464 flagged test posts, as
    // measured in benches/README.md; 87.3% when the words' share of the lexical head was left
    // out).
    let clf = shipped();
    let texts: Vec<String> = test_texts(200);
    let preds = clf.classify_batch(&texts).unwrap();
    let flagged: Vec<usize> = (0..texts.len())
        .filter(|&i| preds[i].flag_score() >= 0.5)
        .collect();
    let posts: Vec<&str> = flagged.iter().map(|&i| texts[i].as_str()).collect();
    let explained = clf
        .explain_predicted(
            &posts,
            flagged.iter().map(|&i| preds[i].clone()).collect(),
            3,
            pantau::classify::explain::Method::Gradient,
        )
        .unwrap();
    let (mut lowered, mut total) = (0, 0);
    for (text, e) in posts.iter().zip(&explained) {
        let Some(top) = e.words.first() else { continue };
        let rest = without(text, &top.word);
        if rest.trim().is_empty() {
            continue;
        }
        total += 1;
        let p = clf.classify(&rest).unwrap();
        lowered += usize::from(p.probability(e.label) < e.prediction.probability(e.label));
    }
    assert!(total >= 60, "{total} flagged posts explained");
    assert!(
        lowered * 100 >= total * 95,
        "removing the top word lowered the label for only {lowered} of {total}"
    );
}

#[test]
fn bulk_explanations_come_from_the_classifying_pass_and_change_no_prediction() {
    // The bulk path (`classify --explain`) weighs flagged posts from the pass that classified
    // them: its predictions must be those of plain classification, bit for bit, and its words
    // those of a separate explanation pass. A long post checks the verdict window's bookkeeping.
    let clf = shipped();
    let mut texts: Vec<String> = test_texts(120);
    texts.push(long_post().0);
    let windows: Vec<_> = texts
        .iter()
        .map(|t| clf.encode_windows(&clf.prepare(t).text).unwrap())
        .collect();
    let flagged = |p: &pantau::Prediction| p.flag_score() >= 0.5;
    let bulk = clf.predict_explained(&texts, &windows, flagged, 3).unwrap();
    let plain = clf.predict_windows(&windows).unwrap();
    let picked: Vec<usize> = (0..texts.len()).filter(|&i| flagged(&plain[i])).collect();
    assert!(picked.len() >= 30 && picked.contains(&(texts.len() - 1)));
    let posts: Vec<&str> = picked.iter().map(|&i| texts[i].as_str()).collect();
    let separate = clf
        .explain_predicted(
            &posts,
            picked.iter().map(|&i| plain[i].clone()).collect(),
            3,
            pantau::classify::explain::Method::Gradient,
        )
        .unwrap();
    for (i, (b, p)) in bulk.iter().zip(&plain).enumerate() {
        let mut b = b.clone();
        let words = b.explanation.take();
        assert_eq!(&b, p, "row {i}: the prediction changed");
        assert_eq!(
            words.is_some(),
            flagged(p),
            "row {i}: explained iff flagged"
        );
    }
    for (&i, e) in picked.iter().zip(&separate) {
        let got = bulk[i].explanation.as_ref().unwrap();
        assert_eq!(got.len(), e.words.len(), "row {i}");
        for (g, w) in got.iter().zip(&e.words) {
            assert_eq!(g.word, w.word, "row {i}");
            assert!(
                (g.weight - w.weight).abs() < 1e-3,
                "row {i}: {g:?} vs {w:?}"
            );
        }
    }
}

#[test]
fn explain_prints_the_words_and_classify_explains_only_flagged_rows() {
    let o = run(
        &[
            "explain",
            "--json",
            "Ayo coblos nomor 2 tanggal 14 Februari!",
        ],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let rows = jsonl(&o.stdout);
    assert_eq!(rows[0]["label"], "campaigning");
    assert!(!rows[0]["words"].as_array().unwrap().is_empty());
    let rows = classify_texts(
        &[
            "Ayo coblos nomor 2 tanggal 14 Februari!",
            "Selamat pagi semua, jangan lupa sarapan",
        ],
        &["--explain"],
    );
    assert_eq!(rows[0]["flagged"], true);
    let words = rows[0]["explanation"].as_array().unwrap();
    assert!(!words.is_empty() && words[0]["word"].is_string() && words[0]["weight"].is_number());
    assert!(
        rows[1]["explanation"].is_null(),
        "unflagged rows are not explained"
    );
    // Occlusion on request, in both commands; the method needs --explain.
    let exact = classify_texts(
        &["Ayo coblos nomor 2 tanggal 14 Februari!"],
        &["--explain", "--explain-method", "occlusion"],
    );
    let exact_words = exact[0]["explanation"].as_array().unwrap();
    assert!(!exact_words.is_empty());
    let o = run(
        &[
            "explain",
            "--json",
            "--method",
            "occlusion",
            "Ayo coblos nomor 2 tanggal 14 Februari!",
        ],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let words_of = |ws: &[serde_json::Value]| -> Vec<String> {
        ws.iter()
            .map(|w| w["word"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        words_of(jsonl(&o.stdout)[0]["words"].as_array().unwrap()),
        words_of(exact_words)
    );
    let o = run(
        &[
            "classify",
            "--explain-method",
            "occlusion",
            "data/sample.jsonl",
        ],
        None,
    );
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--explain"), "{}", stderr(&o));
}
