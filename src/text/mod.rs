//! Text before the model: [`normalize`] cleans a post, [`vocab`] learns a WordPiece vocabulary from
//! cleaned posts, and [`tokenizer`] turns cleaned text into token ids.

pub mod normalize;
pub mod tokenizer;
pub mod vocab;
