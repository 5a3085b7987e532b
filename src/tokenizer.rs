//! Subword tokenization through Hugging Face `tokenizers`.
//!
//! pantau trains a WordPiece vocabulary on normalized training text; any HF `tokenizer.json` loads too.
//! Input to [`TextEncoder::encode`] is text that already went through [`crate::normalize`].

use std::path::Path;

use tokenizers::models::wordpiece::{WordPiece, WordPieceTrainer};
use tokenizers::pre_tokenizers::bert::BertPreTokenizer;
use tokenizers::processors::template::TemplateProcessing;
use tokenizers::utils::truncation::{TruncationDirection, TruncationParams, TruncationStrategy};
use tokenizers::models::TrainerWrapper;
use tokenizers::{AddedToken, Tokenizer};

use crate::error::{Error, Result};
use crate::normalize::{URL_TOKEN, USER_TOKEN};

/// Special tokens of tokenizers that pantau trains, in id order.
pub const SPECIAL_TOKENS: [&str; 7] = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", URL_TOKEN, USER_TOKEN];

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
        let inner = Tokenizer::from_file(path)
            .map_err(|e| Error::Tokenizer(format!("{}: {e}", path.display())))?;
        Self::from_tokenizer(inner, max_len)
    }

    fn from_tokenizer(mut inner: Tokenizer, max_len: usize) -> Result<Self> {
        if max_len < 2 {
            return Err(Error::Tokenizer(format!("max length {max_len} is too small")));
        }
        inner
            .with_truncation(Some(TruncationParams {
                max_length: max_len,
                strategy: TruncationStrategy::LongestFirst,
                direction: TruncationDirection::Right,
                stride: 0,
            }))
            .map_err(|e| Error::Tokenizer(e.to_string()))?;
        inner.with_padding(None);
        let pad_id = inner
            .token_to_id("[PAD]")
            .or_else(|| inner.token_to_id("<pad>"))
            .unwrap_or(0);
        Ok(TextEncoder {
            inner,
            max_len,
            pad_id,
        })
    }

    /// Trains a WordPiece vocabulary of at most `vocab_size` entries on already-normalized texts.
    pub fn train<S: AsRef<str> + Send>(
        texts: impl Iterator<Item = S> + Send,
        vocab_size: usize,
        max_len: usize,
    ) -> Result<Self> {
        let specials: Vec<AddedToken> = SPECIAL_TOKENS
            .iter()
            .map(|t| AddedToken::from(t.to_string(), true))
            .collect();
        let mut trainer = TrainerWrapper::WordPieceTrainer(
            WordPieceTrainer::builder()
                .vocab_size(vocab_size)
                .min_frequency(2)
                .show_progress(false)
                .special_tokens(specials)
                .limit_alphabet(500)
                .build(),
        );
        let model = WordPiece::builder()
            .unk_token("[UNK]".into())
            .build()
            .map_err(|e| Error::Tokenizer(e.to_string()))?;
        let mut tok = Tokenizer::new(model);
        tok.with_pre_tokenizer(Some(BertPreTokenizer));
        tok.train(&mut trainer, texts)
            .map_err(|e| Error::Tokenizer(format!("training failed: {e}")))?;
        let id = |t: &str| {
            tok.token_to_id(t)
                .ok_or_else(|| Error::Tokenizer(format!("trained vocabulary lacks {t}")))
        };
        let post = TemplateProcessing::builder()
            .try_single("[CLS] $A [SEP]")
            .map_err(|e| Error::Tokenizer(e.to_string()))?
            .special_tokens(vec![("[CLS]", id("[CLS]")?), ("[SEP]", id("[SEP]")?)])
            .build()
            .map_err(|e| Error::Tokenizer(e.to_string()))?;
        tok.with_post_processor(Some(post));
        Self::from_tokenizer(tok, max_len)
    }

    /// Token ids of one normalized text, special tokens included, at most `max_len` long.
    pub fn encode(&self, normalized: &str) -> Result<Vec<u32>> {
        // Normalized text never needs more than a few characters per token; cutting long inputs first
        // keeps a 1 MB post from costing a 1 MB tokenization. The cut only drops text far past the
        // truncation point, so the kept ids are the same.
        let budget = (self.max_len * 8).max(2048);
        let text = match normalized.char_indices().nth(budget) {
            Some((i, _)) => &normalized[..i],
            None => normalized,
        };
        let enc = self
            .inner
            .encode_fast(text, true)
            .map_err(|e| Error::Tokenizer(e.to_string()))?;
        let mut ids = enc.get_ids().to_vec();
        ids.truncate(self.max_len);
        Ok(ids)
    }

    /// Vocabulary size including added tokens: the model's embedding table must be at least this big.
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// The id used to pad batches.
    pub fn pad_id(&self) -> u32 {
        self.pad_id
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::normalize;

    fn tiny() -> TextEncoder {
        let texts = [
            "ayo coblos nomor dua",
            "berita kampanye hari ini di lapangan",
            "asn dilarang berkampanye",
            "promo diskon akhir tahun",
            "pilih yang jujur dan amanah",
        ];
        let normed: Vec<String> = texts.iter().cycle().take(50).map(|t| normalize(t)).collect();
        TextEncoder::train(normed.into_iter(), 200, 16).unwrap()
    }

    #[test]
    fn trained_tokenizer_has_special_tokens_in_order() {
        let t = tiny();
        for (i, s) in SPECIAL_TOKENS.iter().enumerate() {
            assert_eq!(t.inner.token_to_id(s), Some(i as u32), "{s}");
        }
        assert_eq!(t.pad_id(), 0);
    }

    #[test]
    fn encodes_with_cls_and_sep_and_keeps_placeholders_whole() {
        let t = tiny();
        let ids = t.encode(&normalize("ayo coblos https://x.co/a @budi")).unwrap();
        assert_eq!(ids.first(), Some(&2));
        assert_eq!(ids.last(), Some(&3));
        assert!(ids.contains(&5), "[url] is one token: {ids:?}");
        assert!(ids.contains(&6), "[user] is one token: {ids:?}");
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
