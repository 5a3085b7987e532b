//! Hashed n-gram counts of prepared text: what the lexical head ([`crate::model::lexical`]) reads.
//!
//! Two blocks of `buckets` each: word 1–2-grams (words split on whitespace) in the first, and
//! character 2–5-grams inside each word padded with a space on both sides in the second (an
//! n-gram never spans two words, and a word shorter than `n` counts once, whole). Hashing keeps
//! the head a fixed size with no vocabulary to store, and a name or slang spelling never seen in
//! training still lands somewhere.

use std::cell::RefCell;

use xxhash_rust::xxh3::xxh3_64_with_seed;

/// Shortest and longest character n-gram.
const CHARS: std::ops::RangeInclusive<usize> = 2..=5;
/// Seeds of the two blocks, so a one-character word and its character bigram hash apart.
const WORD_SEED: u64 = 0x7061_6e74_6175_0001;
const CHAR_SEED: u64 = 0x7061_6e74_6175_0002;

thread_local! {
    /// Per-bucket counts while a post is counted, all zero between posts: counting into it
    /// measured 3× faster than sorting the post's hashes, which took a third of the head's time.
    static TALLY: RefCell<Vec<u32>> = const { RefCell::new(Vec::new()) };
}

/// One n-gram occurrence of a text: its bucket and the whitespace-separated word it comes from
/// (`pair`: a word bigram of that word and the next).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Gram {
    pub bucket: u32,
    pub word: usize,
    pub pair: bool,
}

/// Calls `f` on every n-gram occurrence of `text`, word n-grams before character n-grams.
pub fn for_each_gram(text: &str, buckets: usize, mut f: impl FnMut(Gram)) {
    let b = buckets as u64;
    let words: Vec<&str> = text.split_whitespace().collect();
    let mut pair = String::new();
    for (i, w) in words.iter().enumerate() {
        let bucket = (xxh3_64_with_seed(w.as_bytes(), WORD_SEED) % b) as u32;
        f(Gram {
            bucket,
            word: i,
            pair: false,
        });
        if let Some(next) = words.get(i + 1) {
            pair.clear();
            pair.push_str(w);
            pair.push(' ');
            pair.push_str(next);
            let bucket = (xxh3_64_with_seed(pair.as_bytes(), WORD_SEED) % b) as u32;
            f(Gram {
                bucket,
                word: i,
                pair: true,
            });
        }
    }
    let mut padded = String::new();
    let mut starts: Vec<usize> = Vec::new();
    for (i, w) in words.iter().enumerate() {
        let mut gram = |bucket| {
            f(Gram {
                bucket,
                word: i,
                pair: false,
            })
        };
        padded.clear();
        padded.push(' ');
        padded.push_str(w);
        padded.push(' ');
        starts.clear();
        starts.extend(padded.char_indices().map(|(i, _)| i));
        starts.push(padded.len());
        let chars = starts.len() - 1;
        for n in CHARS {
            if n >= chars {
                gram(char_bucket(padded.as_bytes(), b));
                break;
            }
            for s in 0..=chars - n {
                gram(char_bucket(&padded.as_bytes()[starts[s]..starts[s + n]], b));
            }
        }
    }
}

/// Counts of the hashed n-grams of `text`: `(bucket, count)`, each bucket once, word n-grams
/// (buckets `0..buckets`) before character n-grams (`buckets..2 * buckets`), each block in the
/// order the n-grams first occur.
pub fn hashed_counts(text: &str, buckets: usize) -> Vec<(u32, u32)> {
    let mut hits: Vec<u32> = Vec::with_capacity(text.len() * 5);
    for_each_gram(text, buckets, |g| hits.push(g.bucket));
    // Words were hashed first, so the blocks stay in order.
    TALLY.with_borrow_mut(|tally| {
        if tally.len() < 2 * buckets {
            tally.resize(2 * buckets, 0);
        }
        let mut first: Vec<u32> = Vec::with_capacity(hits.len());
        for &h in &hits {
            let t = &mut tally[h as usize];
            if *t == 0 {
                first.push(h);
            }
            *t += 1;
        }
        first
            .into_iter()
            .map(|h| (h, std::mem::take(&mut tally[h as usize])))
            .collect()
    })
}

fn char_bucket(gram: &[u8], b: u64) -> u32 {
    (b + xxh3_64_with_seed(gram, CHAR_SEED) % b) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn total(counts: &[(u32, u32)], range: std::ops::Range<u32>) -> u32 {
        counts
            .iter()
            .filter(|(b, _)| range.contains(b))
            .map(|(_, c)| c)
            .sum()
    }

    #[test]
    fn counts_every_word_pair_and_character_gram_once() {
        let b = 1 << 20;
        let c = hashed_counts("ayo coblos", b);
        // Words: ayo, coblos, "ayo coblos".
        assert_eq!(total(&c, 0..b as u32), 3);
        // " ayo " has 5 characters: 4 bigrams, 3 trigrams, 2 four-grams, 1 five-gram; " coblos "
        // has 8: 7 + 6 + 5 + 4.
        assert_eq!(total(&c, b as u32..2 * b as u32), 10 + 22);
        let mut buckets: Vec<u32> = c.iter().map(|(b, _)| *b).collect();
        let split = buckets.partition_point(|&k| k < b as u32);
        assert!(
            buckets[split..].iter().all(|&k| k >= b as u32),
            "words first"
        );
        buckets.sort_unstable();
        buckets.dedup();
        assert_eq!(buckets.len(), c.len(), "each bucket once");
        // The tally is clean for the next post.
        assert_eq!(hashed_counts("ayo coblos", b), c);
    }

    #[test]
    fn repeats_add_up_and_short_words_count_whole_once() {
        let b = 1 << 20;
        let once = hashed_counts("a", b);
        // " a " has 3 characters: 2 bigrams, then the whole padded word once for n = 3..5.
        assert_eq!(total(&once, b as u32..2 * b as u32), 3);
        let twice = hashed_counts("a a", b);
        assert_eq!(total(&twice, 0..b as u32), 3, "a, a, \"a a\"");
        let word_a = once.iter().find(|(k, _)| *k < b as u32).unwrap().0;
        assert_eq!(twice.iter().find(|(k, _)| *k == word_a).unwrap().1, 2);
    }

    #[test]
    fn characters_are_not_split_and_buckets_stay_in_range() {
        for text in ["suaranya adem 😍😍", "é\u{301} [paslon] #2", "", "   "] {
            for b in [1, 7, 64] {
                let c = hashed_counts(text, b);
                assert!(c.iter().all(|&(k, _)| (k as usize) < 2 * b), "{text:?}");
            }
        }
        assert!(hashed_counts(" \n\t", 64).is_empty());
    }
}
