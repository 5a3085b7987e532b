//! Text before the model: [`normalize`] cleans a post, [`participants`] marks registered election
//! participants, [`vocab`] learns a WordPiece vocabulary from
//! cleaned posts, and [`tokenizer`] turns cleaned text into token ids. [`align`] maps tokens back to
//! the post's words for explanations. [`ngrams`] counts the hashed n-grams the lexical head reads.

pub mod align;
pub mod ngrams;
pub mod normalize;
pub mod participants;
pub mod tokenizer;
pub mod vocab;
