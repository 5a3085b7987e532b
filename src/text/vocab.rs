//! Learning a WordPiece vocabulary from normalized text, deterministically.

use std::collections::BTreeMap;

use tokenizers::pre_tokenizers::bert::BertPreTokenizer;
use tokenizers::{OffsetReferential, OffsetType, PreTokenizedString, PreTokenizer};

use crate::error::{Error, Result};
use crate::text::normalize::{URL_TOKEN, USER_TOKEN};
use crate::text::participants::ROLE_TOKENS;

/// Special tokens of tokenizers that pantau trains, in id order: the BERT specials, the URL and
/// mention placeholders, and the participant role tokens.
pub const SPECIAL_TOKENS: [&str; 10] = [
    "[PAD]",
    "[UNK]",
    "[CLS]",
    "[SEP]",
    "[MASK]",
    URL_TOKEN,
    USER_TOKEN,
    ROLE_TOKENS[0],
    ROLE_TOKENS[1],
    ROLE_TOKENS[2],
];

/// Words as the BERT pre-tokenizer splits them (whitespace and punctuation).
fn pre_tokenize(text: &str) -> Result<Vec<String>> {
    let mut pts = PreTokenizedString::from(text);
    BertPreTokenizer
        .pre_tokenize(&mut pts)
        .map_err(|e| Error::Tokenizer(e.to_string()))?;
    Ok(pts
        .get_splits(OffsetReferential::Original, OffsetType::Char)
        .into_iter()
        .map(|(s, _, _)| s.to_string())
        .collect())
}

/// Chooses WordPiece entries: the special tokens, every frequent character (alone and as `##c`),
/// then word-initial pieces and `##` continuations ranked by how many characters they would save
/// (`count × (length − 1)`), ties broken alphabetically. Whole words are word-initial pieces of full
/// length, so frequent words end up as single tokens. Deterministic for a given corpus.
pub fn learn_vocab<S: AsRef<str>>(
    texts: impl Iterator<Item = S>,
    vocab_size: usize,
) -> Result<Vec<String>> {
    const MAX_ALPHABET: usize = 600;
    const MAX_PIECE_CHARS: usize = 12;
    let mut words: BTreeMap<String, u64> = BTreeMap::new();
    for t in texts {
        for w in pre_tokenize(t.as_ref())? {
            if !SPECIAL_TOKENS.contains(&w.as_str()) {
                *words.entry(w).or_default() += 1;
            }
        }
    }
    let mut chars: BTreeMap<char, u64> = BTreeMap::new();
    let mut pieces: BTreeMap<String, u64> = BTreeMap::new();
    for (w, &c) in &words {
        let cs: Vec<char> = w.chars().collect();
        for &ch in &cs {
            *chars.entry(ch).or_default() += c;
        }
        if cs.len() > 100 {
            continue;
        }
        for end in 2..=cs.len().min(MAX_PIECE_CHARS) {
            *pieces.entry(cs[..end].iter().collect()).or_default() += c;
        }
        for start in 1..cs.len() {
            for end in start + 2..=cs.len().min(start + MAX_PIECE_CHARS) {
                let p: String = cs[start..end].iter().collect();
                *pieces.entry(format!("##{p}")).or_default() += c;
            }
        }
    }
    let mut vocab: Vec<String> = SPECIAL_TOKENS.iter().map(|s| s.to_string()).collect();
    let mut alphabet: Vec<(char, u64)> = chars.into_iter().collect();
    alphabet.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    for (ch, _) in alphabet.into_iter().take(MAX_ALPHABET) {
        vocab.push(ch.to_string());
        vocab.push(format!("##{ch}"));
    }
    if vocab.len() > vocab_size {
        return Err(Error::Tokenizer(format!(
            "vocabulary size {vocab_size} is smaller than the {} special tokens and characters the corpus needs",
            vocab.len()
        )));
    }
    let mut ranked: Vec<(u64, String)> = pieces
        .into_iter()
        .filter(|(_, c)| *c >= 2)
        .map(|(p, c)| {
            let len = p.trim_start_matches("##").chars().count() as u64;
            (c * (len - 1), p)
        })
        .collect();
    ranked.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let room = vocab_size - vocab.len();
    vocab.extend(ranked.into_iter().take(room).map(|(_, p)| p));
    Ok(vocab)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vocabulary_learning_is_deterministic_and_keeps_frequent_words_whole() {
        let texts: Vec<String> = [
            "coblos nomor dua",
            "coblos sekarang",
            "nomor satu",
            "pilih nomor tiga",
        ]
        .iter()
        .cycle()
        .take(40)
        .map(|s| s.to_string())
        .collect();
        let a = learn_vocab(texts.iter(), 120).unwrap();
        let b = learn_vocab(texts.iter(), 120).unwrap();
        assert_eq!(a, b);
        assert!(a.len() <= 120);
        assert!(a.contains(&"nomor".to_string()) && a.contains(&"coblos".to_string()));
        assert_eq!(&a[..SPECIAL_TOKENS.len()], SPECIAL_TOKENS.map(String::from));
        assert!(learn_vocab(texts.iter(), 10).is_err());
    }
}
