//! Which words of a post each model token came from, so that explanations can name the post's own
//! words. Normalization works word by word ([`normalize_as`] splits on whitespace first), so each
//! word is normalized alone and the pieces joined: that is the text the model reads, with each
//! word's byte range known. Participant marking may replace several words by one role token
//! (`Ganjar Pranowo` → `[calon]`); those words become one unit, shown as they were written.

use std::ops::Range;

use crate::error::Result;
use crate::text::normalize::normalize_as;
use crate::text::participants::{mark_as, Registry, Replacement};
use crate::text::tokenizer::{TextEncoder, Windows};

/// A post tokenized as the model reads it, with each token's unit of the post.
#[derive(Clone, Debug, PartialEq)]
pub struct Aligned {
    /// The post's units: its whitespace-separated words, except that words read as one token
    /// (a registered name of several words) are joined into one.
    pub units: Vec<String>,
    /// The token ids, window by window, as [`TextEncoder::encode_windows`] gives them.
    pub windows: Windows,
    /// For each window, each token's index into `units` (`None` for special tokens).
    pub token_units: Vec<Vec<Option<usize>>>,
    /// The normalized, marked text the tokens were read from.
    pub marked: String,
    /// Each whitespace-separated word of `marked`, its index into `units`.
    pub marked_units: Vec<Option<usize>>,
}

/// Aligns `text`'s tokens with its words for a model of normalization `version`.
pub fn align(
    text: &str,
    registry: &Registry,
    version: u32,
    encoder: &TextEncoder,
    max_windows: usize,
) -> Result<Aligned> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let mut normalized = String::with_capacity(text.len());
    let mut ranges: Vec<Range<usize>> = Vec::with_capacity(words.len());
    for w in &words {
        let n = normalize_as(w, version);
        if !n.is_empty() && !normalized.is_empty() {
            normalized.push(' ');
        }
        let start = normalized.len();
        normalized.push_str(&n);
        ranges.push(start..normalized.len());
    }
    let (marked, replaced) = mark_as(&normalized, registry, version);
    let (windows, offsets) = encoder.encode_windows_with_offsets(&marked.text, max_windows)?;
    // Each token's first and last word.
    let spans: Vec<Vec<Option<(usize, usize)>>> = offsets
        .iter()
        .map(|w| {
            w.iter()
                .map(|o| {
                    let (s, e) = to_normalized((*o)?, &replaced);
                    let first = ranges.iter().position(|r| r.end > s && !r.is_empty())?;
                    let last = ranges
                        .iter()
                        .rposition(|r| r.start < e.max(s + 1) && !r.is_empty())?
                        .max(first);
                    Some((first, last))
                })
                .collect()
        })
        .collect();
    // Words a single token spans are one unit.
    let mut joined = vec![false; words.len()];
    for &(first, last) in spans.iter().flatten().flatten() {
        joined[first..last].iter_mut().for_each(|j| *j = true);
    }
    let mut unit_of = Vec::with_capacity(words.len());
    let mut units: Vec<String> = Vec::new();
    for (i, w) in words.iter().enumerate() {
        if i > 0 && joined[i - 1] {
            let u = units.last_mut().expect("a unit before a joined word");
            u.push(' ');
            u.push_str(w);
        } else {
            units.push((*w).to_string());
        }
        unit_of.push(units.len() - 1);
    }
    let token_units = spans
        .iter()
        .map(|w| {
            w.iter()
                .map(|s| s.map(|(first, _)| unit_of[first]))
                .collect()
        })
        .collect();
    let marked_units = word_spans(&marked.text)
        .map(|span| {
            let (s, e) = to_normalized(span, &replaced);
            let first = ranges
                .iter()
                .position(|r| r.end > s && r.start < e.max(s + 1) && !r.is_empty())?;
            Some(unit_of[first])
        })
        .collect();
    Ok(Aligned {
        units,
        windows,
        token_units,
        marked: marked.text,
        marked_units,
    })
}

/// The byte range of each whitespace-separated word of `text`.
fn word_spans(text: &str) -> impl Iterator<Item = (usize, usize)> + '_ {
    text.split_whitespace().map(move |w| {
        let start = w.as_ptr() as usize - text.as_ptr() as usize;
        (start, start + w.len())
    })
}

/// A byte range of the marked text as a range of the normalized text: a role token stands for the
/// whole mention it replaced; other text is shifted by the replacements before it.
fn to_normalized((s, e): (usize, usize), replaced: &[Replacement]) -> (usize, usize) {
    let mut shift: isize = 0;
    for r in replaced {
        if s >= r.marked.end {
            shift += r.normalized.len() as isize - r.marked.len() as isize;
        } else if s >= r.marked.start {
            return (r.normalized.start, r.normalized.end);
        } else {
            break;
        }
    }
    let at = |x: usize| (x as isize + shift).max(0) as usize;
    (at(s), at(e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::normalize::NORMALIZATION_VERSION;
    use crate::text::participants::{Kind, Participant};

    fn encoder() -> TextEncoder {
        let texts = [
            "ayo coblos nomor 2 di tps besok pagi",
            "[calon] orangnya merakyat banget",
            "jangan lupa sarapan dulu ya",
        ];
        TextEncoder::train(texts.iter(), 200, 64).unwrap()
    }

    fn registry() -> Registry {
        let mut r = Registry::empty();
        r.add(
            Participant {
                name: "Darsono Wibowo".into(),
                kind: Kind::Person,
                race: String::new(),
                region: String::new(),
                number: None,
                party: String::new(),
                certain: true,
            },
            &["darsono wibowo"],
        )
        .unwrap();
        r
    }

    #[test]
    fn every_token_points_at_the_word_it_came_from() {
        let enc = encoder();
        let text = "Ayo COBLOS nomorrr 2 di TPS 😍 besok https://x.id pagi";
        let a = align(text, &Registry::empty(), NORMALIZATION_VERSION, &enc, 4).unwrap();
        assert_eq!(a.units, text.split_whitespace().collect::<Vec<_>>());
        // The same ids the classifier reads for this post.
        let prepared =
            crate::text::participants::prepare(text, &Registry::empty(), NORMALIZATION_VERSION);
        assert_eq!(a.windows, enc.encode_windows(&prepared.text, 4).unwrap());
        let ids = &a.windows.ids[0];
        let units = &a.token_units[0];
        assert_eq!(units.len(), ids.len());
        assert_eq!(
            (units[0], *units.last().unwrap()),
            (None, None),
            "[CLS] and [SEP]"
        );
        let covered: Vec<usize> = units.iter().flatten().copied().collect();
        assert!(covered.windows(2).all(|w| w[0] <= w[1]), "{covered:?}");
        for (i, w) in [
            "Ayo", "COBLOS", "nomorrr", "2", "di", "TPS", "besok", "pagi",
        ]
        .iter()
        .enumerate()
        {
            let u = a.units.iter().position(|x| x == w).unwrap();
            assert!(
                covered.contains(&u),
                "word {i} {w:?} has no token: {covered:?}"
            );
        }
    }

    #[test]
    fn a_registered_name_of_two_words_is_one_unit() {
        let enc = encoder();
        let text = "Pak Darsono Wibowo orangnya merakyat banget";
        let a = align(text, &registry(), NORMALIZATION_VERSION, &enc, 4).unwrap();
        assert_eq!(
            a.units,
            ["Pak", "Darsono Wibowo", "orangnya", "merakyat", "banget"]
        );
        let prepared = crate::text::participants::prepare(text, &registry(), NORMALIZATION_VERSION);
        assert!(prepared.text.contains("[calon]"));
        assert_eq!(a.windows, enc.encode_windows(&prepared.text, 4).unwrap());
        assert!(a.token_units[0].contains(&Some(1)));
        assert!(a.token_units[0].contains(&Some(4)));
        // The marked text's words, as the lexical head reads them, point at the same units.
        assert_eq!(a.marked, prepared.text);
        assert_eq!(
            a.marked_units,
            [Some(0), Some(1), Some(2), Some(3), Some(4)],
            "{}",
            a.marked
        );
    }

    #[test]
    fn long_posts_are_aligned_in_every_window() {
        let enc = encoder();
        let text = "jangan lupa sarapan dulu ya ".repeat(12) + "ayo coblos nomor 2";
        let a = align(&text, &Registry::empty(), NORMALIZATION_VERSION, &enc, 8).unwrap();
        assert!(a.windows.ids.len() > 1 && !a.windows.truncated);
        let last = a.token_units.last().unwrap();
        let n = a.units.len();
        assert!(
            last.contains(&Some(n - 1)),
            "the last word is in the last window"
        );
        for (ids, units) in a.windows.ids.iter().zip(&a.token_units) {
            assert_eq!(ids.len(), units.len());
        }
    }
}
