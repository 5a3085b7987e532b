//! Text normalization for Indonesian social-media posts.
//!
//! The same function runs before tokenization in training and in inference; models record
//! [`NORMALIZATION_VERSION`] in `config.json` so that a model is never fed text normalized differently
//! from what it was trained on.

use std::collections::HashMap;
use std::sync::OnceLock;

use unicode_normalization::UnicodeNormalization;

/// Version of what a model reads: bump when the output of [`normalize`] changes for any input
/// (including edits to `data/slang.tsv`). Version 2 added participant marking
/// ([`crate::text::participants`]) after normalization; version 3 keeps digit runs (`100000` stayed
/// `10` before, garbling amounts); version 4 joins a detached `nya` to its word (`makanan nya` →
/// `makanannya`). Models of earlier versions are still read as they were trained.
pub const NORMALIZATION_VERSION: u32 = 4;

/// The first version whose normalization keeps runs of repeated digits.
pub const DIGIT_RUNS_VERSION: u32 = 3;

/// The first version that joins a detached clitic `nya` to the word before it, and whose
/// participant marking reads a name with `nya` attached (`prabowonya` → `[calon]nya`).
pub const CLITIC_VERSION: u32 = 4;

/// The clitic that informal writing, and some corpora's tokenization, detaches from its word.
pub(crate) const CLITIC: &str = "nya";

/// The oldest `normalization_version` this pantau still reads.
pub const OLDEST_NORMALIZATION_VERSION: u32 = 1;

/// Placeholder that replaces URLs.
pub const URL_TOKEN: &str = "[url]";
/// Placeholder that replaces @mentions.
pub const USER_TOKEN: &str = "[user]";

const SLANG_TSV: &str = include_str!("../../data/slang.tsv");

fn slang() -> &'static HashMap<&'static str, &'static str> {
    static MAP: OnceLock<HashMap<&'static str, &'static str>> = OnceLock::new();
    MAP.get_or_init(|| {
        SLANG_TSV
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .filter_map(|l| l.split_once('\t'))
            .map(|(k, v)| (k.trim(), v.trim()))
            .collect()
    })
}

/// Normalizes one post: NFKC, URLs → `[url]`, @mentions → `[user]`, hashtags split into words
/// (`#Coblos02` → `coblos 02`), lowercase, runs of 3+ identical characters collapsed to one
/// (`bangettt` → `banget`), a detached `nya` joined to its word, slang expanded from
/// `data/slang.tsv`, emoji kept as separate tokens, control characters dropped and whitespace
/// collapsed.
pub fn normalize(text: &str) -> String {
    normalize_as(text, NORMALIZATION_VERSION)
}

/// [`normalize`] as models of normalization `version` read it: before [`DIGIT_RUNS_VERSION`],
/// digit runs collapsed like letters; before [`CLITIC_VERSION`], a detached `nya` stays a word.
pub fn normalize_as(text: &str, version: u32) -> String {
    let nfkc: String = text.nfkc().collect();
    let mut out = String::with_capacity(nfkc.len());
    for word in nfkc.split(|c: char| c.is_whitespace() || c.is_control()) {
        if word.is_empty() {
            continue;
        }
        push_word(&mut out, word);
    }
    let collapsed = collapse_runs(&out, version >= DIGIT_RUNS_VERSION);
    let joined = if version >= CLITIC_VERSION {
        join_clitics(&collapsed)
    } else {
        collapsed
    };
    expand_slang(&joined)
}

/// Joins a detached `nya` (`makanan nya.` → `makanannya.`) to the word before it. Real posts
/// write it both ways, and one corpus detaches it in about half its rows: left alone, the
/// detached form is a marker of where a post came from rather than of what it says.
fn join_clitics(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for token in s.split(' ') {
        let word_end = token
            .find(|c: char| !c.is_alphanumeric())
            .unwrap_or(token.len());
        let detached =
            &token[..word_end] == CLITIC && token[word_end..].chars().all(|c| !c.is_alphanumeric());
        if detached && out.chars().next_back().is_some_and(char::is_alphabetic) {
            out.push_str(token);
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(token);
    }
    out
}

/// Handles one whitespace-separated chunk of the original text.
fn push_word(out: &mut String, word: &str) {
    let lower = word.to_lowercase();
    if is_url(&lower) {
        push_token(out, URL_TOKEN);
        return;
    }
    if let Some(handle) = word.strip_prefix('@') {
        if handle
            .chars()
            .next()
            .is_some_and(|c| c.is_alphanumeric() || c == '_')
        {
            push_token(out, USER_TOKEN);
            // Keep punctuation that followed the handle ("@budi," → "[user] ,").
            let rest: String = handle
                .chars()
                .skip_while(|c| c.is_alphanumeric() || *c == '_' || *c == '.')
                .collect();
            if !rest.is_empty() {
                push_word(out, &rest);
            }
            return;
        }
    }
    // Hashtags anywhere in the chunk ("dukung#Coblos02") are split into words.
    let mut chars = word.chars().peekable();
    let mut plain = String::new();
    while let Some(c) = chars.next() {
        if c == '#' && chars.peek().is_some_and(|n| n.is_alphanumeric()) {
            push_plain(out, &plain);
            plain.clear();
            let mut tag = String::new();
            while let Some(&n) = chars.peek() {
                if n.is_alphanumeric() || n == '_' {
                    tag.push(n);
                    chars.next();
                } else {
                    break;
                }
            }
            for part in split_hashtag(&tag) {
                push_token(out, &part.to_lowercase());
            }
        } else {
            plain.push(c);
        }
    }
    push_plain(out, &plain);
}

/// Lowercases ordinary text, putting spaces around emoji and other pictographs so each is its own token.
fn push_plain(out: &mut String, s: &str) {
    if s.is_empty() {
        return;
    }
    let mut buf = String::with_capacity(s.len());
    for c in s.chars() {
        if is_ignorable(c) {
            continue;
        }
        if is_pictograph(c) {
            buf.push(' ');
            buf.push(c);
            buf.push(' ');
        } else {
            buf.extend(c.to_lowercase());
        }
    }
    for t in buf.split_whitespace() {
        push_token(out, t);
    }
}

fn push_token(out: &mut String, t: &str) {
    if t.is_empty() {
        return;
    }
    if !out.is_empty() {
        out.push(' ');
    }
    out.push_str(t);
}

fn is_url(lower: &str) -> bool {
    const SCHEMES: [&str; 3] = ["http://", "https://", "www."];
    if SCHEMES.iter().any(|s| lower.starts_with(s)) {
        return true;
    }
    // Bare short links ("bit.ly/abc", "t.co/xyz"): a dotted host followed by a path.
    match lower.split_once('/') {
        Some((host, path)) => {
            !path.is_empty()
                && host.contains('.')
                && host.rsplit('.').next().is_some_and(|tld| {
                    tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic())
                })
                && host
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
        }
        None => false,
    }
}

/// Splits a hashtag body at lower→upper case changes and letter↔digit boundaries:
/// `GanjarMahfud2024` → `Ganjar`, `Mahfud`, `2024`; `Coblos02` → `Coblos`, `02`.
fn split_hashtag(tag: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut prev: Option<char> = None;
    for c in tag.chars() {
        let boundary = match prev {
            None => false,
            Some(_) if c == '_' => true,
            Some(p) => {
                (p.is_lowercase() && c.is_uppercase())
                    || (p.is_alphabetic() && c.is_numeric())
                    || (p.is_numeric() && c.is_alphabetic())
            }
        };
        if boundary && !cur.is_empty() {
            parts.push(std::mem::take(&mut cur));
        }
        if c != '_' {
            cur.push(c);
        }
        prev = Some(c);
    }
    if !cur.is_empty() {
        parts.push(cur);
    }
    parts
}

/// Emoji and other pictographic symbols that should stand alone as tokens.
fn is_pictograph(c: char) -> bool {
    let u = c as u32;
    matches!(u,
        0x1F000..=0x1FAFF | 0x2600..=0x27BF | 0x2B00..=0x2BFF | 0x2300..=0x23FF | 0x2190..=0x21FF
    )
}

/// Zero-width joiners, variation selectors and skin-tone modifiers carry no meaning for us.
fn is_ignorable(c: char) -> bool {
    let u = c as u32;
    c.is_control() || matches!(u, 0x200B..=0x200F | 0xFE00..=0xFE0F | 0x1F3FB..=0x1F3FF | 0xFEFF)
}

/// Collapses runs of three or more identical characters to one (`bangettt` → `banget`, `!!!` → `!`);
/// digits too unless `keep_digits` (`100000` is an amount, not an elongation).
fn collapse_runs(s: &str, keep_digits: bool) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let mut j = i;
        while j < chars.len() && chars[j] == c {
            j += 1;
        }
        let run = j - i;
        let keep = if run >= 3 && !c.is_whitespace() && !(keep_digits && c.is_numeric()) {
            1
        } else {
            run
        };
        out.extend(std::iter::repeat_n(c, keep));
        i = j;
    }
    out
}

/// Replaces whole informal words with their standard form; punctuation around them is kept.
fn expand_slang(s: &str) -> String {
    let map = slang();
    let mut out = String::with_capacity(s.len() + 16);
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        if !word.is_empty() {
            out.push_str(map.get(word.as_str()).copied().unwrap_or(word.as_str()));
            word.clear();
        }
    };
    for c in s.chars() {
        if c.is_alphanumeric() {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashtags_keep_their_words() {
        assert_eq!(normalize("#Coblos02"), "coblos 02");
        assert_eq!(
            normalize("#GanjarMahfud2024 mantap"),
            "ganjar mahfud 2024 mantap"
        );
        assert_eq!(normalize("ayo#Pemilu_Damai"), "ayo pemilu damai");
        assert_eq!(normalize("# bukan tag"), "# bukan tag");
    }

    #[test]
    fn urls_become_a_placeholder() {
        assert_eq!(
            normalize("cek https://kpu.go.id/dpt?x=1 ya"),
            "cek [url] ya"
        );
        assert_eq!(normalize("info www.bawaslu.go.id"), "info [url]");
        assert_eq!(normalize("link bit.ly/3xYz"), "link [url]");
        // A sentence ending with a slash-free dotted word is not a URL.
        assert_eq!(normalize("selesai.kok"), "selesai.kok");
    }

    #[test]
    fn mentions_become_a_placeholder() {
        assert_eq!(normalize("@budi_88 ikut yuk"), "[user] ikut ayo");
        assert_eq!(
            normalize("makasih @kpu_ri, mantap"),
            "terima kasih [user] , mantap"
        );
        assert_eq!(normalize("email a@b"), "email a@b");
    }

    #[test]
    fn repeated_letters_collapse() {
        assert_eq!(normalize("bangettt"), "banget");
        assert_eq!(normalize("kerennnn!!!!"), "keren!");
        // Legitimate double letters survive.
        assert_eq!(normalize("maaf saat"), "maaf saat");
    }

    #[test]
    fn digit_runs_are_kept_and_older_models_read_them_collapsed() {
        assert_eq!(normalize("1000000"), "1000000");
        assert_eq!(
            normalize("uang 100000 per kepala!!!"),
            "uang 100000 per kepala!"
        );
        assert_eq!(normalize("nomor 111"), "nomor 111");
        assert_eq!(normalize("mantappp 2024"), "mantap 2024");
        // Non-ASCII digits (NFKC folds fullwidth ones to ASCII) are kept too.
        assert_eq!(normalize("１０００"), "1000");
        assert_eq!(normalize_as("uang 100000", 2), "uang 10");
        assert_eq!(normalize_as("bangettt 1000", 1), "banget 10");
    }

    #[test]
    fn a_detached_nya_joins_its_word_and_older_models_read_it_apart() {
        assert_eq!(normalize("makanan nya enak"), "makanannya enak");
        assert_eq!(
            normalize("Gubernur NYA, presiden nya."),
            "gubernurnya, presidennya."
        );
        // Only after a word: not at the start, after punctuation, a number or a placeholder.
        assert_eq!(normalize("nya dia"), "nya dia");
        assert_eq!(normalize("enak, nya"), "enak, nya");
        assert_eq!(normalize("2019 nya"), "2019 nya");
        assert_eq!(normalize("@budi nya"), "[user] nya");
        // Words that merely start with the clitic stay words.
        assert_eq!(normalize("tempat nyaman"), "tempat nyaman");
        assert_eq!(normalize("itu nyanyian"), "itu nyanyian");
        assert_eq!(normalize_as("makanan nya enak", 3), "makanan nya enak");
    }

    #[test]
    fn casing_is_folded() {
        assert_eq!(normalize("PILIH YANG JUJUR"), "pilih yang jujur");
    }

    #[test]
    fn slang_is_expanded_case_by_case() {
        assert_eq!(normalize("yg"), "yang");
        assert_eq!(normalize("gak"), "tidak");
        assert_eq!(normalize("ga"), "tidak");
        assert_eq!(normalize("nggak"), "tidak");
        assert_eq!(normalize("tdk"), "tidak");
        assert_eq!(normalize("dgn"), "dengan");
        assert_eq!(normalize("krn"), "karena");
        assert_eq!(normalize("udh"), "sudah");
        assert_eq!(normalize("bgt"), "banget");
        assert_eq!(normalize("aja"), "saja");
        assert_eq!(normalize("sy"), "saya");
        assert_eq!(
            normalize("Sy gk ikut, udh kerja aja."),
            "saya tidak ikut, sudah kerja saja."
        );
        // Slang inside a longer word is left alone.
        assert_eq!(normalize("yogyakarta"), "yogyakarta");
    }

    #[test]
    fn elongated_slang_is_expanded_after_collapsing() {
        assert_eq!(normalize("bgttt"), "banget");
    }

    #[test]
    fn emoji_are_separate_tokens() {
        assert_eq!(normalize("mantap🔥🔥"), "mantap 🔥 🔥");
        assert_eq!(normalize("salam dua jari✌️"), "salam dua jari ✌");
        assert_eq!(normalize("👍🏽oke"), "👍 oke");
    }

    #[test]
    fn whitespace_and_controls_are_cleaned() {
        assert_eq!(normalize("  a\r\n\tb\0c  "), "a b c");
        assert_eq!(normalize("\u{feff}halo"), "halo");
        assert_eq!(normalize(""), "");
        assert_eq!(normalize(" \n "), "");
    }

    #[test]
    fn fancy_unicode_letters_fold_to_ascii() {
        assert_eq!(normalize("𝐂𝐎𝐁𝐋𝐎𝐒"), "coblos");
    }

    #[test]
    fn normalization_is_idempotent_on_examples() {
        for s in [
            "Ayo #Coblos02 @budi https://x.co/a bangettt 🔥",
            "yg gak dgn krn",
            "ＡＢＣ",
            "rumah nya nya bagus",
        ] {
            let once = normalize(s);
            assert_eq!(normalize(&once), once, "{s}");
        }
    }
}
