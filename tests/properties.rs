//! Invariants checked with proptest against the shipped model.

mod common;

use std::sync::OnceLock;

use candle_core::Device;
use pantau::classify::BatchOptions;
use pantau::io::{read_records, InputFormat, InputOptions};
use pantau::text::normalize::normalize;
use pantau::Classifier;
use proptest::prelude::*;

fn classifier() -> &'static Classifier {
    static C: OnceLock<Classifier> = OnceLock::new();
    C.get_or_init(|| Classifier::load_dir(&common::model_dir(), &Device::Cpu).unwrap())
}

/// Post-like text: Indonesian words, slang, numbers, emoji, hashtags, mentions, URLs, junk.
fn post() -> impl Strategy<Value = String> {
    let word = prop_oneof![
        Just("coblos".to_string()),
        Just("nomor".to_string()),
        Just("02".to_string()),
        Just("yg".to_string()),
        Just("gak".to_string()),
        Just("bangettt".to_string()),
        Just("#Coblos02".to_string()),
        Just("@budi".to_string()),
        Just("https://bit.ly/x".to_string()),
        Just("✌️".to_string()),
        Just("🔥🔥".to_string()),
        Just("PROMO".to_string()),
        Just("kampanye".to_string()),
        Just("Prabowo".to_string()),
        Just("HENUR".to_string()),
        "[a-zA-Z]{1,12}",
        "\\PC{1,6}",
    ];
    prop::collection::vec(word, 0..40).prop_map(|w| w.join(" "))
}

/// The texts that leave something to classify once normalized.
fn non_empty(texts: Vec<String>) -> Vec<String> {
    texts
        .into_iter()
        .filter(|t| !classifier().prepare(t).text.is_empty())
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]

    #[test]
    fn probabilities_are_finite_and_sum_to_one(text in prop_oneof![post(), any::<String>()]) {
        if classifier().prepare(&text).text.is_empty() {
            // Nothing to classify: the library says so, as the command line does.
            let e = classifier().classify(&text).unwrap_err();
            prop_assert!(matches!(e, pantau::Error::EmptyText { index: 0 }), "{e:?}");
            return Ok(());
        }
        let p = classifier().classify(&text).unwrap();
        prop_assert!(p.probabilities.iter().all(|x| x.is_finite() && *x >= 0.0 && *x <= 1.0));
        prop_assert!((p.probabilities.iter().sum::<f32>() - 1.0).abs() < 1e-5);
    }

    #[test]
    fn a_text_gets_the_same_prediction_in_any_batch(
        texts in prop::collection::vec(post(), 1..24),
        budget in 16usize..4096,
        max_batch in 1usize..64,
    ) {
        let clf = classifier();
        let texts = non_empty(texts);
        prop_assume!(!texts.is_empty());
        let alone: Vec<_> = texts.iter().map(|t| clf.classify(t).unwrap()).collect();
        let opts = BatchOptions { token_budget: budget, max_batch, parallel_batches: budget % 2 == 0 };
        let batched = Classifier::load_dir(&common::model_dir(), &Device::Cpu)
            .unwrap()
            .with_batching(opts)
            .classify_batch(&texts)
            .unwrap();
        let mut reversed: Vec<&String> = texts.iter().collect();
        reversed.reverse();
        let rev = clf.classify_batch(&reversed).unwrap();
        for (i, a) in alone.iter().enumerate() {
            let b = &batched[i];
            let r = &rev[texts.len() - 1 - i];
            for k in 0..3 {
                prop_assert!((a.probabilities[k] - b.probabilities[k]).abs() < 1e-5, "{a:?} vs {b:?}");
                prop_assert!((a.probabilities[k] - r.probabilities[k]).abs() < 1e-5, "{a:?} vs {r:?}");
            }
        }
    }

    #[test]
    fn thread_count_does_not_change_predictions(texts in prop::collection::vec(post(), 1..16)) {
        let clf = classifier();
        let texts = non_empty(texts);
        prop_assume!(!texts.is_empty());
        let run = |n: usize| {
            rayon::ThreadPoolBuilder::new().num_threads(n).build().unwrap()
                .install(|| clf.classify_batch(&texts).unwrap())
        };
        let one = run(1);
        let two = run(2);
        for (a, b) in one.iter().zip(&two) {
            for k in 0..3 {
                prop_assert!((a.probabilities[k] - b.probabilities[k]).abs() < 1e-5);
            }
        }
    }

    #[test]
    fn normalized_text_is_clean(text in any::<String>()) {
        let n = normalize(&text);
        prop_assert_eq!(n.trim(), n.as_str());
        prop_assert!(!n.chars().any(|c| c.is_control()));
        prop_assert!(!n.contains("  "));
        prop_assert_eq!(n.to_lowercase(), n.clone());
    }

    #[test]
    fn readers_never_panic_and_number_rows_in_order(bytes in prop::collection::vec(any::<u8>(), 0..2000)) {
        for format in [InputFormat::Jsonl, InputFormat::Text, InputFormat::Csv, InputFormat::Tsv] {
            let opts = InputOptions { format, ..InputOptions::default() };
            let Ok(records) = read_records(&bytes[..], "fuzz", &opts) else { continue };
            let mut last = 0;
            for r in records {
                let r = r.unwrap();
                prop_assert!(r.row > last);
                last = r.row;
            }
        }
    }

    #[test]
    fn csv_bodies_of_quotes_and_delimiters_never_lose_a_line(body in "[a\",\n;]{0,300}") {
        let input = format!("id,text\n{body}");
        let opts = InputOptions { format: InputFormat::Csv, ..InputOptions::default() };
        let records: Vec<_> = read_records(input.as_bytes(), "fuzz", &opts).unwrap().map(|r| r.unwrap()).collect();
        let lines = body.split('\n').filter(|l| !l.is_empty()).count();
        // A quoted field may join lines into one row, but no line is skipped: every row starts on
        // a line of its own, so there are never more rows than lines, and a body with content
        // has at least one row.
        prop_assert!(records.len() <= lines);
        prop_assert_eq!(records.is_empty(), lines == 0);
        for (i, r) in records.iter().enumerate() {
            prop_assert_eq!(r.row, i as u64 + 1);
        }
    }

    #[test]
    fn containers_of_random_bytes_are_errors_never_panics(
        magic in prop::sample::select(vec![&b"PAR1"[..], &b"PK\x03\x04"[..], &b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1"[..]]),
        tail in prop::collection::vec(any::<u8>(), 0..600),
    ) {
        let mut bytes = magic.to_vec();
        bytes.extend(tail);
        let opts = InputOptions::default();
        let rows = match read_records(&bytes[..], "fuzz", &opts) {
            Ok(records) => records.count(),
            Err(_) => 0,
        };
        prop_assert!(rows < 1000);
    }

    #[test]
    fn text_input_yields_one_row_per_line(lines in prop::collection::vec("[^\n\r]{0,30}", 0..50)) {
        let body = lines.iter().map(|l| format!("{l}\n")).collect::<String>();
        let opts = InputOptions { format: InputFormat::Text, ..InputOptions::default() };
        let n = read_records(body.as_bytes(), "t", &opts).unwrap().count();
        prop_assert_eq!(n, lines.len());
    }
}
