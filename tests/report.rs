//! `pantau report` on a file `pantau classify` wrote: the page shows the file's own numbers.

mod common;

use common::*;

/// Classifies a small dump with accounts and timestamps; returns the output path.
fn classified(dir: &std::path::Path, csv: bool) -> std::path::PathBuf {
    let posts = [
        (
            "akun_a",
            "2024-02-01T08:00:00",
            "Ayo coblos nomor 2 tanggal 14 Februari, pilih Prabowo-Gibran!",
        ),
        (
            "akun_a",
            "2024-02-01T09:30:00",
            "Selamat pagi semua, jangan lupa sarapan",
        ),
        (
            "akun_b",
            "2024-02-02T10:00:00",
            "Program makan siang gratis Prabowo keren banget, pemimpin yang peduli",
        ),
        (
            "akun_b",
            "2024-02-02T11:00:00",
            "Promo diskon 50% akhir tahun di toko kami",
        ),
        (
            "akun_c",
            "2024-02-03T12:00:00",
            "Bawaslu mengingatkan ASN untuk menjaga netralitas",
        ),
        (
            "akun_c",
            "2024-02-03T13:00:00",
            "Anies orangnya cerdas, visinya jelas untuk Indonesia",
        ),
    ];
    let input = dir.join("dump.jsonl");
    let body: String = posts
        .iter()
        .map(|(a, t, x)| serde_json::json!({"akun": a, "waktu": t, "text": x}).to_string() + "\n")
        .collect();
    std::fs::write(&input, body).unwrap();
    let out = dir.join(if csv { "out.csv" } else { "out.jsonl" });
    let o = run(
        &[
            "classify",
            input.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "--explain",
        ],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    out
}

#[test]
fn the_report_counts_what_the_classified_file_holds() {
    let dir = tempfile::tempdir().unwrap();
    let out = classified(dir.path(), false);
    let rows = jsonl(&read(&out));
    let count = |l: &str| rows.iter().filter(|r| r["label"] == l).count();
    let flagged = rows.iter().filter(|r| r["flagged"] == true).count();
    assert!(flagged >= 2, "{rows:?}");
    let page = dir.path().join("report.html");
    let o = run(
        &[
            "report",
            out.to_str().unwrap(),
            "--by",
            "akun",
            "--date-field",
            "waktu",
            "-o",
            page.to_str().unwrap(),
        ],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let html = String::from_utf8(read(&page)).unwrap();
    assert!(
        html.contains(&format!("<b id=\"flagged\">{flagged}</b>")),
        "{html}"
    );
    for l in ["neutral", "promotional", "campaigning"] {
        assert!(
            html.contains(&format!("<tr><td>{l}</td><td>{}</td>", count(l))),
            "{l}"
        );
    }
    assert!(
        html.contains("Prabowo Subianto"),
        "participants of flagged posts are listed"
    );
    assert!(html.contains("2024-02-01") && html.contains("akun_b"));
    assert!(
        html.contains("<svg") && !html.contains("http://")
            || html.contains("xmlns=\"http://www.w3.org/2000/svg\"")
    );
    assert!(
        !html.contains("<script"),
        "self-contained, nothing to fetch"
    );

    // The same numbers as Markdown, and from the CSV output.
    let o = run(&["report", out.to_str().unwrap(), "--format", "md"], None);
    let md = String::from_utf8(o.stdout).unwrap();
    assert!(md.contains(&format!("{flagged} flagged")), "{md}");
    let csv_out = classified(dir.path(), true);
    let o = run(
        &["report", csv_out.to_str().unwrap(), "--format", "md"],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let md_csv = String::from_utf8(o.stdout).unwrap();
    assert!(md_csv.contains(&format!("{flagged} flagged")), "{md_csv}");
    assert!(md_csv.contains("Prabowo Subianto"));
}

#[test]
fn the_page_renders_in_a_headless_browser() {
    let Some(browser) = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|b| {
            std::process::Command::new(b)
                .arg("--version")
                .output()
                .is_ok()
        })
    else {
        eprintln!("skipped: no chromium found (Debian: apt install chromium)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = classified(dir.path(), false);
    let page = dir.path().join("report.html");
    assert!(run(
        &[
            "report",
            out.to_str().unwrap(),
            "-o",
            page.to_str().unwrap()
        ],
        None
    )
    .status
    .success());
    let o = std::process::Command::new(browser)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--dump-dom"])
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&o.stdout);
    let flagged = jsonl(&read(&out))
        .iter()
        .filter(|r| r["flagged"] == true)
        .count();
    assert!(
        dom.contains(&format!("<b id=\"flagged\">{flagged}</b>")),
        "{dom}"
    );
}
