//! The same six posts in every container, compression, encoding and delimiter pantau reads:
//! each file gives the same labels and probabilities as the posts as UTF-8 JSONL.

mod common;

use common::*;

/// Labels and probabilities of a run, in row order.
fn scores(args: &[&str], stdin: Option<&[u8]>) -> Vec<(String, [f64; 3])> {
    let o = run(args, stdin);
    assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    jsonl(&o.stdout)
        .iter()
        .map(|r| {
            assert!(r["error"].is_null(), "{args:?}: {r:?}");
            let p = |k: &str| r[k].as_f64().unwrap();
            (
                r["label"].as_str().unwrap().to_string(),
                [p("p_neutral"), p("p_promotional"), p("p_campaigning")],
            )
        })
        .collect()
}

fn classify(file: &str, extra: &[&str]) -> Vec<(String, [f64; 3])> {
    let path = format!("tests/data/formats/{file}");
    let mut args = vec!["classify", path.as_str(), "--output-format", "jsonl"];
    args.extend_from_slice(extra);
    scores(&args, None)
}

#[test]
fn every_container_encoding_and_delimiter_gives_the_same_scores_as_utf8_jsonl() {
    let want = classify("posts.jsonl", &[]);
    assert_eq!(want.len(), 6);
    for (file, extra) in [
        ("posts.jsonl.gz", &[][..]),
        ("posts_array.json", &[]),
        ("posts.jsonl.zst", &[]),
        ("semicolon.csv", &[]),
        ("pipe.csv", &[]),
        ("tab_named.csv", &[]),
        ("quotes.tsv", &[]),
        ("utf16le_bom.csv", &[]),
        ("utf16be.txt", &[]),
        ("utf32le_bom.txt", &[]),
        ("cr_only.txt", &[]),
        ("cp1252.csv", &["--encoding", "windows-1252"]),
        ("semicolon.csv", &["--delimiter", ";"]),
    ] {
        assert_eq!(classify(file, extra), want, "{file} {extra:?}");
    }
    // On stdin, with no name to go by: compression, UTF-16 and a CSV header are found from the
    // content.
    for file in [
        "posts.jsonl.gz",
        "utf16le_bom.csv",
        "semicolon.csv",
        "posts_array.json",
    ] {
        let bytes = read(&root().join("tests/data/formats").join(file));
        assert_eq!(
            scores(&["classify", "--output-format", "jsonl"], Some(&bytes)),
            want,
            "{file} on stdin"
        );
    }
}

#[test]
fn a_wrong_text_field_stops_at_once_listing_the_fields_and_dotted_paths_reach_nested_ones() {
    let o = run(
        &[
            "classify",
            "tests/data/formats/posts.jsonl",
            "--text-field",
            "isi",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(o.stdout.is_empty(), "no error rows written");
    let err = stderr(&o);
    assert!(err.contains("their fields are: id, text"), "{err}");
    // With an output file, nothing is left behind.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    let o = run(
        &[
            "classify",
            "tests/data/formats/posts.jsonl",
            "--text-field",
            "isi",
            "-o",
            out.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "no partial or checkpoint left"
    );
    let nested = "{\"data\":{\"full_text\":\"Ayo coblos nomor 2 tanggal 14 Februari!\"}}\n";
    let rows = scores(
        &[
            "classify",
            "--format",
            "jsonl",
            "--text-field",
            "data.full_text",
        ],
        Some(nested.as_bytes()),
    );
    assert_eq!(rows[0], classify("posts.jsonl", &[])[0]);
}

#[test]
fn outputs_pantau_cannot_write_and_inputs_it_cannot_read_are_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.parquet");
    let o = run(
        &[
            "classify",
            "tests/data/formats/posts.jsonl",
            "-o",
            out.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("cannot write .parquet"),
        "{}",
        stderr(&o)
    );
    assert!(!out.exists());
    let bz = dir.path().join("posts.jsonl.bz2");
    std::fs::write(&bz, b"BZh91AY&SY").unwrap();
    let o = run(&["classify", bz.to_str().unwrap()], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("bunzip2"), "{}", stderr(&o));
}

#[test]
fn every_row_carries_its_byte_offset_so_an_error_row_can_be_found_in_the_file() {
    let input = "{\"text\":\"Selamat pagi\"}\n{not json\n\n{\"text\":\"Ayo coblos nomor 2\"}\n";
    let o = run(&["classify", "--format", "jsonl"], Some(input.as_bytes()));
    assert!(o.status.success(), "{}", stderr(&o));
    let rows = jsonl(&o.stdout);
    let offsets: Vec<u64> = rows.iter().map(|r| r["offset"].as_u64().unwrap()).collect();
    assert_eq!(offsets, vec![0, 24, 35]);
    assert!(rows[1]["error"]
        .as_str()
        .unwrap()
        .contains("malformed JSON"));
    assert_eq!(&input[24..33], "{not json");
    let csv = "id,text\n1,halo\n2,\"dua\nbaris\"\n3,tiga\n";
    let o = run(
        &["classify", "--format", "csv", "--output-format", "jsonl"],
        Some(csv.as_bytes()),
    );
    let offsets: Vec<u64> = jsonl(&o.stdout)
        .iter()
        .map(|r| r["offset"].as_u64().unwrap())
        .collect();
    assert_eq!(offsets, vec![8, 15, 29]);
}

#[test]
fn input_fields_pass_through_untouched_long_numbers_included() {
    let input =
        "{\"id\":123456789012345678901234567890,\"skor\":0.1000,\"text\":\"Selamat pagi\"}\n";
    let o = run(&["classify", "--format", "jsonl"], Some(input.as_bytes()));
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8(o.stdout).unwrap();
    assert!(
        out.starts_with("{\"id\":123456789012345678901234567890,\"skor\":0.1000,"),
        "{out}"
    );
}
