//! Subword tokenization through Hugging Face `tokenizers`.
//!
//! pantau trains a WordPiece vocabulary on normalized training text ([`crate::text::vocab`]); any
//! HF `tokenizer.json` loads too. Input to [`TextEncoder::encode`] is text that already went through
//! [`crate::text::normalize`].

use std::path::Path;

use tokenizers::models::wordpiece::WordPiece;
use tokenizers::pre_tokenizers::bert::BertPreTokenizer;
use tokenizers::processors::template::TemplateProcessing;
use tokenizers::utils::truncation::{TruncationDirection, TruncationParams, TruncationStrategy};
use tokenizers::{AddedToken, Tokenizer};

use crate::error::{Error, Result};
use crate::text::vocab::{learn_vocab, SPECIAL_TOKENS};

/// Normalized text → token ids, truncated to the model's maximum length.
#[derive(Clone)]
pub struct TextEncoder {
    inner: Tokenizer,
    max_len: usize,
    pad_id: u32,
}

impl TextEncoder {
    /// Loads a `tokenizer.json` and truncates its output to `max_len` tokens.
    pub fn from_file(path: &Path, max_len: usize) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::from_json(&text, path, max_len)
    }

    /// Reads the text of a `tokenizer.json`; `path` names it in messages.
    pub fn from_json(text: &str, path: &Path, max_len: usize) -> Result<Self> {
        let bad = |e: String| Error::Tokenizer(format!("{}: {e}", path.display()));
        // `tokenizers` panics (an `expect` in its decoder deserializer, found by fuzzing) on some
        // malformed JSON instead of returning an error: check the syntax first for a clear message,
        // and catch any panic left so that no model file can crash pantau.
        serde_json::from_str::<serde::de::IgnoredAny>(text)
            .map_err(|e| bad(format!("not valid JSON: {e}")))?;
        let inner = std::panic::catch_unwind(|| text.parse::<Tokenizer>())
            .map_err(|_| bad("not a tokenizer the `tokenizers` library can read".into()))?
            .map_err(|e| bad(e.to_string()))?;
        Self::from_tokenizer(inner, max_len)
    }

    fn from_tokenizer(mut inner: Tokenizer, max_len: usize) -> Result<Self> {
        if max_len < 2 {
            return Err(Error::Tokenizer(format!(
                "max length {max_len} is too small"
            )));
        }
        inner
            .with_truncation(Some(TruncationParams {
                max_length: max_len,
                strategy: TruncationStrategy::LongestFirst,
                direction: TruncationDirection::Right,
                // Long posts continue in overlapping windows (`encode_windows`), so a sentence cut
                // at a window's end is read whole by the next.
                stride: window_overlap(max_len),
            }))
            .map_err(|e| Error::Tokenizer(e.to_string()))?;
        inner.with_padding(None);
        let pad_id = special_id(&inner, "pad").unwrap_or(0);
        Ok(TextEncoder {
            inner,
            max_len,
            pad_id,
        })
    }

    /// Learns a WordPiece vocabulary of at most `vocab_size` entries from already-normalized texts.
    ///
    /// The vocabulary is chosen deterministically (see [`learn_vocab`]) rather than with the
    /// `tokenizers` trainer, whose tie-breaking follows hash-map order and so changes between runs:
    /// the same corpus must always give the same tokenizer for `--seed` to reproduce a model.
    pub fn train<S: AsRef<str>>(
        texts: impl Iterator<Item = S>,
        vocab_size: usize,
        max_len: usize,
    ) -> Result<Self> {
        let pieces = learn_vocab(texts, vocab_size)?;
        let vocab: serde_json::Map<String, serde_json::Value> = pieces
            .iter()
            .enumerate()
            .map(|(i, p)| (p.clone(), serde_json::Value::from(i as u32)))
            .collect();
        // WordPiece deserializes only from text (it borrows its type tag).
        let spec = serde_json::json!({
            "type": "WordPiece",
            "unk_token": "[UNK]",
            "continuing_subword_prefix": "##",
            "max_input_chars_per_word": 100,
            "vocab": vocab,
        })
        .to_string();
        let model: WordPiece = serde_json::from_str(&spec)
            .map_err(|e| Error::Tokenizer(format!("building WordPiece: {e}")))?;
        let mut tok = Tokenizer::new(model);
        tok.with_pre_tokenizer(Some(BertPreTokenizer));
        let specials: Vec<AddedToken> = SPECIAL_TOKENS
            .iter()
            .map(|t| AddedToken::from(t.to_string(), true))
            .collect();
        tok.add_special_tokens(&specials);
        let post = TemplateProcessing::builder()
            .try_single("[CLS] $A [SEP]")
            .map_err(|e| Error::Tokenizer(e.to_string()))?
            .special_tokens(vec![("[CLS]", 2), ("[SEP]", 3)])
            .build()
            .map_err(|e| Error::Tokenizer(e.to_string()))?;
        tok.with_post_processor(Some(post));
        Self::from_tokenizer(tok, max_len)
    }

    /// Token ids of one normalized text, special tokens included, at most `max_len` long.
    pub fn encode(&self, normalized: &str) -> Result<Vec<u32>> {
        Ok(self.encode_windows(normalized, 1)?.ids.swap_remove(0))
    }

    /// Token ids of one normalized text in up to `max_windows` windows of at most `max_len` ids
    /// each (special tokens included), consecutive windows overlapping by a quarter window or 32
    /// tokens. `truncated` says whether text past the last window was left unread.
    pub fn encode_windows(&self, normalized: &str, max_windows: usize) -> Result<Windows> {
        Ok(self.windows(normalized, max_windows, false)?.0)
    }

    /// [`TextEncoder::encode_windows`] with each token's byte range in `normalized` (`None` for
    /// the special tokens), window by window.
    pub fn encode_windows_with_offsets(
        &self,
        normalized: &str,
        max_windows: usize,
    ) -> Result<(Windows, TokenOffsets)> {
        self.windows(normalized, max_windows, true)
    }

    fn windows(
        &self,
        normalized: &str,
        max_windows: usize,
        offsets: bool,
    ) -> Result<(Windows, TokenOffsets)> {
        let max_windows = max_windows.max(1);
        // Normalized text never needs more than a few characters per token; cutting long inputs
        // first keeps a 1 MB post from costing a 1 MB tokenization. The cut only drops text far
        // past the last window, so the kept ids are the same.
        let budget = (self.max_len * 8).max(2048) * max_windows;
        let (text, cut) = match normalized.char_indices().nth(budget) {
            Some((i, _)) => (&normalized[..i], true),
            None => (normalized, false),
        };
        // Offsets cost time, so only explanations ask for them.
        let enc = if offsets {
            self.inner.encode(text, true)
        } else {
            self.inner.encode_fast(text, true)
        }
        .map_err(|e| Error::Tokenizer(e.to_string()))?;
        let mut parts = vec![&enc];
        parts.extend(enc.get_overflowing().iter());
        let truncated = cut || parts.len() > max_windows;
        parts.truncate(max_windows);
        let mut ids = Vec::with_capacity(parts.len());
        let mut spans = Vec::new();
        for part in parts {
            let n = part.get_ids().len().min(self.max_len);
            ids.push(part.get_ids()[..n].to_vec());
            if offsets {
                spans.push(
                    part.get_offsets()[..n]
                        .iter()
                        .zip(part.get_special_tokens_mask())
                        .map(|(&o, &special)| (special == 0).then_some(o))
                        .collect(),
                );
            }
        }
        let offset = None;
        Ok((
            Windows {
                ids,
                truncated,
                offset,
            },
            spans,
        ))
    }

    /// Vocabulary size including added tokens: the model's embedding table must be at least this big.
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// Checks the vocabulary against a model's embedding table: every id below `vocab_size`, no id
    /// given to two tokens, an unknown-word token (without one, every post with an unseen word
    /// fails) and a padding token whose id is the config's `pad_token_id`.
    pub fn validate(
        &self,
        vocab_size: usize,
        pad_token_id: u32,
    ) -> std::result::Result<(), String> {
        let vocab = self.inner.get_vocab(true);
        // Sorted, so the message names the same tokens on every run.
        let mut tokens: Vec<(&String, &u32)> = vocab.iter().collect();
        tokens.sort();
        let mut by_id: std::collections::BTreeMap<u32, &str> = std::collections::BTreeMap::new();
        for &(token, &id) in &tokens {
            if let Some(other) = by_id.insert(id, token) {
                return Err(format!(
                    "gives tokens {other:?} and {token:?} the same id {id}: every token needs its own id"
                ));
            }
        }
        if tokens.len() > vocab_size {
            return Err(format!(
                "has {} tokens but config.json says vocab_size {vocab_size}: they come from different models",
                tokens.len()
            ));
        }
        if let Some((token, id)) = tokens.iter().find(|(_, &id)| id as usize >= vocab_size) {
            return Err(format!(
                "gives token {token:?} id {id}, not below config.json's vocab_size {vocab_size}: the tokenizer and the weights come from different models"
            ));
        }
        if self.unk_id().is_none() {
            return Err("has no unknown-word token ([UNK] or <unk>): every post with a word outside the vocabulary would fail".into());
        }
        match special_id(&self.inner, "pad") {
            None => Err("has no padding token ([PAD] or <pad>)".into()),
            Some(id) if id != pad_token_id => Err(format!(
                "gives the padding token id {id} but config.json says pad_token_id {pad_token_id}"
            )),
            Some(_) => Ok(()),
        }
    }

    /// The id used to pad batches.
    pub fn pad_id(&self) -> u32 {
        self.pad_id
    }

    /// The id of the unknown-word token (`[UNK]` or `<unk>`), if the vocabulary has one.
    pub fn unk_id(&self) -> Option<u32> {
        special_id(&self.inner, "unk")
    }

    /// The id of the mask token (`[MASK]` or `<mask>`) used by pretraining, if the vocabulary has one.
    pub fn mask_id(&self) -> Option<u32> {
        special_id(&self.inner, "mask")
    }

    /// The maximum number of ids [`TextEncoder::encode`] returns.
    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// Writes `tokenizer.json`.
    pub fn save(&self, path: &Path) -> Result<()> {
        self.inner
            .save(path, false)
            .map_err(|e| Error::Tokenizer(format!("{}: {e}", path.display())))
    }
}

/// Each window's tokens' byte ranges in the text they were cut from (`None` for special tokens).
pub type TokenOffsets = Vec<Vec<Option<(usize, usize)>>>;

/// A post's token ids, window by window.
#[derive(Clone, Debug, PartialEq)]
pub struct Windows {
    pub ids: Vec<Vec<u32>>,
    /// Text past the last window was not read.
    pub truncated: bool,
    /// Added to every window's logits: the lexical head's verdict on the whole post
    /// ([`crate::Classifier::encode_windows`] fills it in; the tokenizer leaves it `None`).
    pub offset: Option<[f32; 3]>,
}

/// Tokens shared by consecutive windows: a quarter window, at most 32.
fn window_overlap(max_len: usize) -> usize {
    (max_len.saturating_sub(2) / 4).min(32)
}

/// The id of a special token in either spelling: BERT's `[PAD]` or SentencePiece's `<pad>`.
fn special_id(inner: &Tokenizer, name: &str) -> Option<u32> {
    inner
        .token_to_id(&format!("[{}]", name.to_uppercase()))
        .or_else(|| inner.token_to_id(&format!("<{name}>")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::normalize::normalize;

    fn tiny() -> TextEncoder {
        let texts = [
            "ayo coblos nomor dua",
            "berita kampanye hari ini di lapangan",
            "asn dilarang berkampanye",
            "promo diskon akhir tahun",
            "pilih yang jujur dan amanah",
        ];
        let normed: Vec<String> = texts
            .iter()
            .cycle()
            .take(50)
            .map(|t| normalize(t))
            .collect();
        TextEncoder::train(normed.into_iter(), 200, 16).unwrap()
    }

    #[test]
    fn trained_tokenizer_has_special_tokens_in_order() {
        let t = tiny();
        for (i, s) in SPECIAL_TOKENS.iter().enumerate() {
            assert_eq!(t.inner.token_to_id(s), Some(i as u32), "{s}");
        }
        assert_eq!(t.pad_id(), 0);
        assert_eq!((t.unk_id(), t.mask_id()), (Some(1), Some(4)));
    }

    #[test]
    fn encodes_with_cls_and_sep_and_keeps_placeholders_whole() {
        let t = tiny();
        let ids = t
            .encode(&normalize("ayo coblos https://x.co/a @budi"))
            .unwrap();
        assert_eq!(ids.first(), Some(&2));
        assert_eq!(ids.last(), Some(&3));
        assert!(ids.contains(&5), "[url] is one token: {ids:?}");
        assert!(ids.contains(&6), "[user] is one token: {ids:?}");
    }

    #[test]
    fn a_foreign_tokenizer_json_loads_and_truncates() {
        // A minimal word-level tokenizer as another tool would write it, without a [PAD] token.
        let json = serde_json::json!({
            "version": "1.0",
            "truncation": null,
            "padding": null,
            "added_tokens": [],
            "normalizer": null,
            "pre_tokenizer": {"type": "Whitespace"},
            "post_processor": null,
            "decoder": null,
            "model": {"type": "WordLevel", "vocab": {"<unk>": 0, "coblos": 1, "nomor": 2, "dua": 3}, "unk_token": "<unk>"}
        });
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("tokenizer.json");
        std::fs::write(&p, json.to_string()).unwrap();
        let t = TextEncoder::from_file(&p, 3).unwrap();
        assert_eq!(t.encode("coblos nomor dua").unwrap(), vec![1, 2, 3]);
        assert_eq!(t.encode("coblos nomor dua dua").unwrap(), vec![1, 2, 3]);
        assert_eq!(t.encode("apa").unwrap(), vec![0]);
        assert_eq!(t.vocab_size(), 4);
        assert_eq!((t.unk_id(), t.mask_id()), (Some(0), None));
        assert!(TextEncoder::from_file(&dir.path().join("missing.json"), 8).is_err());
        // It loads as a tokenizer, but a model needs a padding token.
        assert!(t.validate(4, 0).unwrap_err().contains("no padding token"));
    }

    #[test]
    fn validation_names_ids_out_of_range_shared_ids_and_missing_specials() {
        let t = tiny();
        assert!(t.validate(t.vocab_size(), 0).is_ok());
        let err = t.validate(t.vocab_size() - 1, 0).unwrap_err();
        assert!(err.contains("but config.json says vocab_size"), "{err}");
        assert!(t
            .validate(t.vocab_size(), 1)
            .unwrap_err()
            .contains("pad_token_id 1"));
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("tokenizer.json");
        t.save(&p).unwrap();
        let json = std::fs::read_to_string(&p).unwrap();
        let dup = json.replacen("\"coblos\":", "\"coblos\":7,\"xcoblos\":", 1);
        assert_ne!(dup, json);
        std::fs::write(&p, &dup).unwrap();
        let err = TextEncoder::from_file(&p, 16)
            .unwrap()
            .validate(t.vocab_size() + 1, 0)
            .unwrap_err();
        assert!(err.contains("the same id 7"), "{err}");
    }

    #[test]
    fn long_texts_continue_in_overlapping_windows_each_with_its_special_tokens() {
        let t = tiny();
        let short = t
            .encode_windows(&normalize("ayo coblos nomor dua"), 8)
            .unwrap();
        assert_eq!(
            short.ids,
            vec![t.encode(&normalize("ayo coblos nomor dua")).unwrap()]
        );
        assert!(!short.truncated);
        let words: Vec<String> = (0..40)
            .map(|i| ["asn", "promo", "diskon", "hari", "ini"][i % 5].to_string())
            .collect();
        let long = normalize(&(words.join(" ") + " ayo coblos nomor dua"));
        let w = t.encode_windows(&long, 8).unwrap();
        assert!(w.ids.len() > 2, "{:?}", w.ids);
        assert!(!w.truncated);
        assert_eq!(
            w.ids[0],
            t.encode(&long).unwrap(),
            "the first window is what encode reads"
        );
        for win in &w.ids {
            assert!(win.len() <= 16);
            assert_eq!(
                (win[0], *win.last().unwrap()),
                (2, 3),
                "[CLS] … [SEP] in every window"
            );
        }
        let coblos = t.encode(&normalize("coblos")).unwrap()[1];
        assert!(
            w.ids.last().unwrap().contains(&coblos),
            "the ending is read"
        );
        let capped = t.encode_windows(&long, 2).unwrap();
        assert_eq!(capped.ids.len(), 2);
        assert!(capped.truncated);
    }

    #[test]
    fn truncates_to_max_len() {
        let t = tiny();
        let long = "coblos ".repeat(10_000);
        assert_eq!(t.encode(&long).unwrap().len(), 16);
    }

    #[test]
    fn save_and_reload_gives_same_ids() {
        let t = tiny();
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("tokenizer.json");
        t.save(&p).unwrap();
        let u = TextEncoder::from_file(&p, 16).unwrap();
        let s = normalize("asn dilarang kampanye, promo diskon!");
        assert_eq!(t.encode(&s).unwrap(), u.encode(&s).unwrap());
    }
}
