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
        ("posts.parquet", &[]),
        ("posts.xlsx", &[]),
        ("posts.ods", &[]),
        ("posts.xls", &[]),
        ("noheader.csv", &["--no-headers", "--text-column", "2"]),
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
        "posts.parquet",
        "posts.xlsx",
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
    let out = dir.path().join("out.xlsx");
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
    assert!(stderr(&o).contains("cannot write .xlsx"), "{}", stderr(&o));
    assert!(!out.exists());
    let bz = dir.path().join("posts.jsonl.bz2");
    std::fs::write(&bz, b"BZh91AY&SY").unwrap();
    let o = run(&["classify", bz.to_str().unwrap()], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("bunzip2"), "{}", stderr(&o));
    // A truncated Parquet file, and a spreadsheet without the text column, name the problem.
    let cut = dir.path().join("cut.parquet");
    std::fs::write(
        &cut,
        &read(&root().join("tests/data/formats/posts.parquet"))[..200],
    )
    .unwrap();
    let o = run(&["classify", cut.to_str().unwrap()], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("not a readable Parquet file"),
        "{}",
        stderr(&o)
    );
    let o = run(
        &[
            "classify",
            "tests/data/formats/posts.xlsx",
            "--text-column",
            "isi",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("(id, text)"), "{}", stderr(&o));
    let o = run(
        &[
            "classify",
            "--resume",
            "-o",
            dir.path().join("o.parquet").to_str().unwrap(),
            "tests/data/formats/posts.jsonl",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("cannot continue a Parquet output"),
        "{}",
        stderr(&o)
    );
}

/// A Parquet file's rows as JSON objects (through the parquet crate's own reader).
fn parquet_rows(path: &std::path::Path) -> (Vec<String>, Vec<serde_json::Value>) {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let r = SerializedFileReader::new(std::fs::File::open(path).unwrap()).unwrap();
    let columns = r
        .metadata()
        .file_metadata()
        .schema_descr()
        .root_schema()
        .get_fields()
        .iter()
        .map(|f| f.name().to_string())
        .collect();
    let rows = r
        .get_row_iter(None)
        .unwrap()
        .map(|row| group(&row.unwrap()))
        .collect();
    (columns, rows)
}

fn group(row: &parquet::record::Row) -> serde_json::Value {
    row.get_column_iter()
        .map(|(k, v)| (k.clone(), field(v)))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

fn field(f: &parquet::record::Field) -> serde_json::Value {
    use parquet::record::Field as F;
    match f {
        F::Null => serde_json::Value::Null,
        F::Bool(b) => (*b).into(),
        F::Long(n) => (*n).into(),
        F::ULong(n) => (*n).into(),
        F::Double(x) => (*x).into(),
        F::Str(s) => s.as_str().into(),
        F::ListInternal(l) => l.elements().iter().map(field).collect(),
        F::Group(g) => group(g),
        other => panic!("unexpected Parquet value {other:?}"),
    }
}

#[test]
fn parquet_output_has_one_schema_with_every_column_and_the_same_scores() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.parquet");
    // A good row, an error row, ordinary rows to fill the first batch (whose rows type the
    // columns), and then a row with a string id and a key the first batch lacked.
    let mut input =
        String::from("{\"id\":1,\"text\":\"Ayo coblos nomor 2 tanggal 14 Februari!\"}\n{bad\n");
    for i in 3..=4096 {
        input.push_str(&format!("{{\"id\":{i},\"text\":\"Selamat pagi\"}}\n"));
    }
    input.push_str("{\"id\":\"x\",\"text\":\"Selamat pagi\",\"baru\":true}\n");
    let o = run(
        &["classify", "--format", "jsonl", "-o", out.to_str().unwrap()],
        Some(input.as_bytes()),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let (columns, rows) = parquet_rows(&out);
    let mut want = vec!["id", "text"];
    want.extend(pantau::io::OUTPUT_COLUMNS);
    want.push("extra");
    assert_eq!(columns, want);
    assert_eq!(rows.len(), 4097);
    let jsonl_rows = scores(
        &["classify", "--format", "jsonl"],
        Some(&input.as_bytes()[..58]),
    );
    assert_eq!(rows[0]["label"], jsonl_rows[0].0.as_str());
    assert!((rows[0]["p_campaigning"].as_f64().unwrap() - jsonl_rows[0].1[2]).abs() < 1e-6);
    assert_eq!(rows[0]["participants"], serde_json::json!([]));
    assert!(rows[0]["error"].is_null() && rows[0]["extra"].is_null());
    assert!(rows[1]["label"].is_null());
    assert!(rows[1]["error"]
        .as_str()
        .unwrap()
        .contains("malformed JSON"));
    assert_eq!(rows[1]["text"], "{bad");
    assert_eq!(rows[1]["offset"], 58);
    assert_eq!(rows[4095]["id"], 4096);
    // `id` is an integer column: the string id and the unknown key go to `extra`, not lost.
    assert!(rows[4096]["id"].is_null());
    let extra: serde_json::Value =
        serde_json::from_str(rows[4096]["extra"].as_str().unwrap()).unwrap();
    assert_eq!(extra, serde_json::json!({"id": "x", "baru": true}));
    // --sort-review reorders a Parquet output too; `pantau report` reads it.
    let sorted = dir.path().join("sorted.parquet");
    let o = run(
        &[
            "classify",
            "tests/data/formats/posts.parquet",
            "--sort-review",
            "-o",
            sorted.to_str().unwrap(),
        ],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let (_, rows) = parquet_rows(&sorted);
    let certainty = |r: &serde_json::Value| {
        (r["p_promotional"].as_f64().unwrap() + r["p_campaigning"].as_f64().unwrap() - 0.5).abs()
    };
    assert_eq!(rows.len(), 6);
    assert!(rows
        .windows(2)
        .all(|w| certainty(&w[0]) <= certainty(&w[1])));
    let o = run(
        &["report", sorted.to_str().unwrap(), "--format", "md"],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("6 rows, 6 classified"));
}

#[test]
fn one_bad_quote_costs_one_row_and_blank_lines_do_not_hide_the_format() {
    let csv = "id,text\n1,Selamat pagi\n2,\"Ayo coblos nomor 2 tanggal 14 Februari!\n3,tiga\n4,empat\n5,lima\n";
    let o = run(
        &["classify", "--output-format", "jsonl"],
        Some(csv.as_bytes()),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let rows = jsonl(&o.stdout);
    assert_eq!(rows.len(), 5);
    let errors: Vec<u64> = rows
        .iter()
        .filter(|r| !r["error"].is_null())
        .map(|r| r["row"].as_u64().unwrap())
        .collect();
    assert_eq!(errors, [2]);
    assert_eq!(rows[1]["offset"], 23);
    assert_eq!(rows[4]["text"], "lima");
    // A JSONL file with no extension that opens with 70,000 blank lines is still JSONL.
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("dump");
    let mut body = "\n".repeat(70_000);
    body.push_str("{\"text\":\"Selamat pagi\"}\n");
    std::fs::write(&f, body).unwrap();
    let o = run(&["classify", f.to_str().unwrap()], None);
    let rows = jsonl(&o.stdout);
    assert_eq!(rows.len(), 1, "{}", stderr(&o));
    assert_eq!(
        (rows[0]["row"].as_u64(), rows[0]["text"].as_str()),
        (Some(70_001), Some("Selamat pagi"))
    );
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

#[test]
fn damaged_parquet_and_spreadsheets_are_errors_never_panics() {
    let dir = tempfile::tempdir().unwrap();
    let mut seed = 7u64;
    let mut next = move || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) as usize
    };
    for file in ["posts.parquet", "posts.xlsx", "posts.ods"] {
        let good = read(&root().join("tests/data/formats").join(file));
        for k in 0..12 {
            let mut bytes = good.clone();
            if k % 2 == 0 {
                bytes.truncate(1 + next() % (good.len() - 1));
            } else {
                for _ in 0..1 + next() % 16 {
                    let i = next() % bytes.len();
                    bytes[i] = next() as u8;
                }
            }
            let path = dir.path().join(format!("damaged-{k}-{file}"));
            std::fs::write(&path, &bytes).unwrap();
            let o = run(&["classify", path.to_str().unwrap(), "-q"], None);
            let err = stderr(&o);
            assert!(
                matches!(o.status.code(), Some(0 | 1)),
                "{file} variant {k}: {err}"
            );
            assert!(!err.contains("panicked"), "{file} variant {k}: {err}");
        }
    }
}
