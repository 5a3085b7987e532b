//! The participant registry: who is running in the race being monitored.
//!
//! Whether praise is *promotional* depends on whether its target is an election participant, which the
//! text alone cannot tell. The registry lists participants with the ways posts name them; models
//! trained with marking (see [`MARKING_VERSION`]) see every registered mention replaced by a role
//! token ([`Kind::token`]), so two participants of the same kind read the same to the model and an
//! analyst can add the candidates of their own race without retraining.
//!
//! Matching works on [`crate::text::normalize::normalize`]d text: an alias is normalized the same way
//! and matches when its words occur contiguously (punctuation between words is ignored, so
//! `Prabowo-Gibran` matches the alias `prabowo gibran`). Aliases that are also ordinary words carry
//! context, with braces around the part that names the participant: `coblos {amin}` matches
//! "coblos amin" and replaces only "amin", and a bare "amin" (the prayer) never matches.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;
use std::sync::OnceLock;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::text::normalize::{normalize, normalize_as, CLITIC, CLITIC_VERSION};

/// The registry shipped with pantau: 2024 presidential pairs, national and Aceh parties, and
/// Pilkada 2024 pairs (see `data/participants-notes.md` for sources and uncertain rows).
pub const BUILTIN_CSV: &str = include_str!("../../data/participants.csv");

/// Role tokens a model trained with marking has in its vocabulary.
pub const ROLE_TOKENS: [&str; 3] = ["[calon]", "[paslon]", "[partai]"];

/// The first `normalization_version` of models that see registered mentions as role tokens.
pub const MARKING_VERSION: u32 = 2;

/// What a participant is; decides the role token that replaces its mentions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A single candidate (capres, cagub, caleg, …).
    Person,
    /// A ticket of two candidates (paslon).
    Pair,
    /// A political party.
    Party,
}

impl Kind {
    /// The token that replaces a mention of this kind in the model's input.
    pub fn token(self) -> &'static str {
        match self {
            Kind::Person => ROLE_TOKENS[0],
            Kind::Pair => ROLE_TOKENS[1],
            Kind::Party => ROLE_TOKENS[2],
        }
    }

    fn parse(s: &str) -> Option<Kind> {
        match s.trim().to_lowercase().as_str() {
            "person" | "candidate" | "calon" | "orang" => Some(Kind::Person),
            "pair" | "paslon" | "pasangan" => Some(Kind::Pair),
            "party" | "partai" => Some(Kind::Party),
            _ => None,
        }
    }
}

/// One registered participant.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Participant {
    /// Display name, also the value listed in the output's `participants` field.
    pub name: String,
    pub kind: Kind,
    /// The race, e.g. `pilpres-2024` or `pilgub-jabar-2024` (empty when not given).
    pub race: String,
    pub region: String,
    /// Ballot number (nomor urut), when known.
    pub number: Option<u32>,
    pub party: String,
    /// `false` for rows whose facts the registry's author could not confirm.
    pub certain: bool,
}

/// One way of naming a participant: the words to match and which of them are the name.
#[derive(Debug, Clone)]
struct Alias {
    words: Vec<String>,
    /// Word range replaced by the role token; the words outside it are required context.
    span: (usize, usize),
    participant: usize,
}

/// The result of [`Registry::mark`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Marked {
    /// The normalized text with each mention replaced by its role token.
    pub text: String,
    /// Indices into [`Registry::participants`] of the participants mentioned, in order of first
    /// mention, without repeats.
    pub participants: Vec<usize>,
}

/// What a model of normalization `version` reads for `text`: its normalized form
/// ([`normalize_as`]), with the registered mentions replaced by role tokens from [`MARKING_VERSION`]
/// on, and the participants mentioned.
pub fn prepare(text: &str, registry: &Registry, version: u32) -> Marked {
    mark_as(&normalize_as(text, version), registry, version).0
}

/// The marking step of [`prepare`] on already-normalized text, with where each replacement
/// happened: none before [`MARKING_VERSION`], whose models read names as they are (the
/// participants are still found).
pub fn mark_as(normalized: &str, registry: &Registry, version: u32) -> (Marked, Vec<Replacement>) {
    let (marked, replaced) = registry.mark_spans_with(normalized, version >= CLITIC_VERSION);
    if version >= MARKING_VERSION {
        (marked, replaced)
    } else {
        let kept = Marked {
            text: normalized.to_string(),
            participants: marked.participants,
        };
        (kept, Vec::new())
    }
}

/// One mention replaced by its role token: its bytes in the normalized and in the marked text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Replacement {
    pub normalized: std::ops::Range<usize>,
    pub marked: std::ops::Range<usize>,
}

/// A set of participants and an index of their aliases.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    participants: Vec<Participant>,
    /// Aliases by their first word, longest first.
    by_first: HashMap<String, Vec<Alias>>,
}

impl Registry {
    /// An empty registry: nothing is marked.
    pub fn empty() -> Self {
        Self::default()
    }

    /// The registry shipped with pantau (parsed once).
    pub fn builtin() -> &'static Registry {
        static REG: OnceLock<Registry> = OnceLock::new();
        REG.get_or_init(|| {
            Registry::from_reader(BUILTIN_CSV.as_bytes(), "data/participants.csv", b',')
                .expect("the shipped data/participants.csv parses (tested)")
        })
    }

    /// Reads a registry file: CSV, or TSV when the name ends in `.tsv` or the header has a tab.
    ///
    /// Columns, by header name (case-insensitive): `name` and `kind` (person/pair/party) are required;
    /// `aliases` (`|`-separated), `race`, `region`, `number`, `party` and `certain` (yes/no) are
    /// optional. The name itself is always an alias.
    pub fn from_path(path: &Path) -> Result<Self> {
        let mut bytes = Vec::new();
        std::fs::File::open(path)
            .and_then(|mut f| f.read_to_end(&mut bytes))
            .map_err(|e| Error::io(path, e))?;
        let first_line = bytes.split(|&b| b == b'\n').next().unwrap_or(&[]);
        let tsv = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("tsv"))
            || first_line.contains(&b'\t');
        let delimiter = if tsv {
            b'\t'
        } else if !first_line.contains(&b',') && first_line.contains(&b';') {
            b';'
        } else {
            b','
        };
        Self::from_reader(&bytes[..], &path.display().to_string(), delimiter)
    }

    /// Parses registry rows from any reader; `source` names it in error messages.
    pub fn from_reader<R: Read>(reader: R, source: &str, delimiter: u8) -> Result<Self> {
        let mut rdr = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .flexible(false)
            .trim(csv::Trim::All)
            .comment(Some(b'#'))
            .from_reader(reader);
        let bad = |row: u64, reason: String| Error::BadRow {
            path: source.to_string(),
            row,
            reason,
        };
        let headers: Vec<String> = rdr
            .headers()
            .map_err(|e| Error::BadInput {
                path: source.to_string(),
                reason: format!("cannot read the header: {e}"),
            })?
            .iter()
            .map(|h| h.trim_start_matches('\u{feff}').to_lowercase())
            .collect();
        let col = |name: &str| headers.iter().position(|h| h == name);
        let (Some(name_col), Some(kind_col)) = (col("name"), col("kind")) else {
            return Err(Error::BadInput {
                path: source.to_string(),
                reason: format!(
                    "a participant file needs the columns name and kind (and optionally aliases, race, region, number, party, certain); the header has {}",
                    headers.join(", ")
                ),
            });
        };
        let mut reg = Registry::empty();
        for (i, rec) in rdr.records().enumerate() {
            // Row numbers count the header as row 1, as a spreadsheet shows them.
            let row = rec
                .as_ref()
                .ok()
                .and_then(|r| r.position())
                .map_or(i as u64 + 2, |p| p.line());
            let rec = rec.map_err(|e| bad(row, e.to_string()))?;
            let field = |c: Option<usize>| c.and_then(|c| rec.get(c)).unwrap_or("").trim();
            let name = field(Some(name_col));
            if name.is_empty() {
                return Err(bad(row, "empty name".into()));
            }
            let kind = Kind::parse(field(Some(kind_col))).ok_or_else(|| {
                bad(
                    row,
                    format!(
                        "kind {:?} is not one of person, pair, party",
                        field(Some(kind_col))
                    ),
                )
            })?;
            let number =
                match field(col("number")) {
                    "" => None,
                    n => Some(n.parse::<u32>().map_err(|_| {
                        bad(row, format!("ballot number {n:?} is not a whole number"))
                    })?),
                };
            let certain = !matches!(
                field(col("certain")).to_lowercase().as_str(),
                "no" | "n" | "false" | "0" | "tidak"
            );
            let participant = Participant {
                name: name.to_string(),
                kind,
                race: field(col("race")).to_string(),
                region: field(col("region")).to_string(),
                number,
                party: field(col("party")).to_string(),
                certain,
            };
            let aliases: Vec<&str> = std::iter::once(name)
                .chain(field(col("aliases")).split('|'))
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .collect();
            reg.push(participant, &aliases)
                .map_err(|reason| bad(row, reason))?;
        }
        Ok(reg)
    }

    /// Adds one participant with its aliases; a later alias with the same words replaces an earlier
    /// one, so a user's file can re-assign a name of the built-in registry.
    pub fn add(&mut self, participant: Participant, aliases: &[&str]) -> Result<()> {
        let name = participant.name.clone();
        self.push(participant, aliases)
            .map_err(|reason| Error::BadInput { path: name, reason })
    }

    fn push(&mut self, participant: Participant, aliases: &[&str]) -> Result<(), String> {
        let parsed = aliases
            .iter()
            .map(|a| parse_alias(a))
            .collect::<Result<Vec<_>, String>>()?;
        let index = self.participants.len();
        self.participants.push(participant);
        for (words, span) in parsed.into_iter().flatten() {
            self.insert(Alias {
                words,
                span,
                participant: index,
            });
        }
        Ok(())
    }

    fn insert(&mut self, alias: Alias) {
        let list = self.by_first.entry(alias.words[0].clone()).or_default();
        list.retain(|a| a.words != alias.words);
        let at = list.partition_point(|a| a.words.len() >= alias.words.len());
        list.insert(at, alias);
    }

    /// The registry of a run: the shipped one extended by `paths` (later files win on a clash), or
    /// only `paths` when `only`.
    pub fn for_run(paths: &[std::path::PathBuf], only: bool) -> Result<Self> {
        let mut reg = if only {
            Registry::empty()
        } else {
            Registry::builtin().clone()
        };
        reg.extend_from_paths(paths)?;
        Ok(reg)
    }

    /// Adds the participants of each file in turn, as [`Registry::extend`] does (later files win
    /// on a clash).
    pub fn extend_from_paths(&mut self, paths: &[std::path::PathBuf]) -> Result<()> {
        for p in paths {
            self.extend(&Registry::from_path(p)?);
        }
        Ok(())
    }

    /// Adds every participant of `other`; its aliases win over this registry's on a clash.
    pub fn extend(&mut self, other: &Registry) {
        let offset = self.participants.len();
        self.participants.extend(other.participants.iter().cloned());
        let mut aliases: Vec<&Alias> = other.by_first.values().flatten().collect();
        aliases.sort_by_key(|a| a.participant);
        for a in aliases {
            self.insert(Alias {
                participant: a.participant + offset,
                ..a.clone()
            });
        }
    }

    /// Every participant, in file order.
    pub fn participants(&self) -> &[Participant] {
        &self.participants
    }

    /// Number of participants.
    pub fn len(&self) -> usize {
        self.participants.len()
    }

    /// Whether the registry has no participant.
    pub fn is_empty(&self) -> bool {
        self.participants.is_empty()
    }

    /// Finds the registered mentions in already-normalized text and replaces each by its role token.
    pub fn mark(&self, normalized: &str) -> Marked {
        self.mark_spans(normalized).0
    }

    /// [`Registry::mark`], with where each replacement happened: `(normalized, marked)` byte
    /// ranges, in order (explanations map the model's tokens back to the post's words with them).
    pub fn mark_spans(&self, normalized: &str) -> (Marked, Vec<Replacement>) {
        self.mark_spans_with(normalized, true)
    }

    /// [`Registry::mark_spans`]; `clitic`: a name's last word may carry `nya` (`prabowonya`),
    /// which stays after the role token (`[calon]nya`).
    fn mark_spans_with(&self, normalized: &str, clitic: bool) -> (Marked, Vec<Replacement>) {
        let words = word_spans(normalized);
        let mut replaced = Vec::new();
        if self.by_first.is_empty() || words.is_empty() {
            let marked = Marked {
                text: normalized.to_string(),
                participants: Vec::new(),
            };
            return (marked, replaced);
        }
        let mut text = String::with_capacity(normalized.len());
        let mut participants: Vec<usize> = Vec::new();
        let mut copied = 0; // bytes of `normalized` already handled
        let mut i = 0;
        while i < words.len() {
            let Some((alias, suffix)) = self.longest_at(normalized, &words, i, clitic) else {
                i += 1;
                continue;
            };
            let start = words[i + alias.span.0].0;
            // A clitic on the name's last word stays in the text; one on a context word after
            // the name is copied with it.
            let last = i + alias.span.1 - 1;
            let end = words[last].1
                - if alias.span.1 == alias.words.len() {
                    suffix
                } else {
                    0
                };
            text.push_str(&normalized[copied..start]);
            let at = text.len();
            text.push_str(self.participants[alias.participant].kind.token());
            replaced.push(Replacement {
                normalized: start..end,
                marked: at..text.len(),
            });
            copied = end;
            if !participants.contains(&alias.participant) {
                participants.push(alias.participant);
            }
            i += alias.span.1;
        }
        text.push_str(&normalized[copied..]);
        (Marked { text, participants }, replaced)
    }

    /// The names of the participants mentioned in already-normalized text.
    pub fn mentions(&self, normalized: &str) -> Vec<&str> {
        self.mark(normalized)
            .participants
            .iter()
            .map(|&p| self.participants[p].name.as_str())
            .collect()
    }

    /// The longest alias whose words start at word `i`, and the bytes of clitic on its last word.
    fn longest_at(
        &self,
        text: &str,
        words: &[(usize, usize)],
        i: usize,
        clitic: bool,
    ) -> Option<(&Alias, usize)> {
        let word = |k: usize| &text[words[k].0..words[k].1];
        // A one-word alias is found by its first word with the clitic taken off.
        let bare = match word(i).strip_suffix(CLITIC) {
            Some(stem) if clitic && !stem.is_empty() => Some(stem),
            _ => None,
        };
        let candidates = [Some(word(i)), bare];
        candidates.into_iter().flatten().find_map(|first| {
            self.by_first.get(first)?.iter().find_map(|a| {
                let n = a.words.len();
                if n > words.len() - i {
                    return None;
                }
                let head_ok = a.words[..n - 1]
                    .iter()
                    .enumerate()
                    .all(|(k, w)| w == word(i + k));
                let last = word(i + n - 1);
                let suffix = if a.words[n - 1] == last {
                    0
                } else if clitic && last.strip_suffix(CLITIC) == Some(a.words[n - 1].as_str()) {
                    CLITIC.len()
                } else {
                    return None;
                };
                head_ok.then_some((a, suffix))
            })
        })
    }
}

/// Byte spans of the words of normalized text: maximal runs of letters, digits and the role-token
/// brackets' contents are not words (a role token is never matched again).
fn word_spans(text: &str) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut start: Option<usize> = None;
    for (i, c) in text.char_indices() {
        if c.is_alphanumeric() {
            start.get_or_insert(i);
        } else if let Some(s) = start.take() {
            spans.push((s, i));
        }
    }
    if let Some(s) = start {
        spans.push((s, text.len()));
    }
    // Words inside placeholders ("[user]", "[calon]") are not names.
    spans.retain(|&(s, e)| !(text[..s].ends_with('[') && text[e..].starts_with(']')));
    spans
}

fn words_of(text: &str) -> Vec<String> {
    let norm = normalize(text);
    word_spans(&norm)
        .into_iter()
        .map(|(s, e)| norm[s..e].to_string())
        .collect()
}

/// Parses `before {name} after` (braces optional) into its words and the name's word range.
/// `Ok(None)` for an alias that normalizes to no word at all (e.g. only emoji).
type ParsedAlias = Option<(Vec<String>, (usize, usize))>;

fn parse_alias(alias: &str) -> Result<ParsedAlias, String> {
    let (before, name, after) = match (alias.find('{'), alias.find('}')) {
        (None, None) => ("", alias, ""),
        (Some(o), Some(c)) if o < c && alias[c + 1..].find(['{', '}']).is_none() => {
            (&alias[..o], &alias[o + 1..c], &alias[c + 1..])
        }
        _ => {
            return Err(format!(
            "alias {alias:?} has unbalanced braces: write the name part once, like coblos {{amin}}"
        ))
        }
    };
    let (b, n, a) = (words_of(before), words_of(name), words_of(after));
    if n.is_empty() {
        if b.is_empty() && a.is_empty() {
            return Ok(None);
        }
        return Err(format!("alias {alias:?} has no name inside its braces"));
    }
    let span = (b.len(), b.len() + n.len());
    Ok(Some(([b, n, a].concat(), span)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reg(csv: &str) -> Registry {
        Registry::from_reader(csv.as_bytes(), "test.csv", b',').unwrap()
    }

    fn mark(r: &Registry, text: &str) -> String {
        r.mark(&normalize(text)).text
    }

    const SMALL: &str = "name,kind,aliases,number\n\
        Budi Santoso,person,pak budi santoso|bang budi,1\n\
        Budi Santoso – Sri Lestari,pair,BUSRI|#BersamaBusri|coblos {busri},1\n\
        Partai Contoh,party,partai contoh|{pc} nomor 9,9\n";

    #[test]
    fn mentions_become_role_tokens() {
        let r = reg(SMALL);
        assert_eq!(
            mark(&r, "Pak Budi Santoso keren banget!"),
            "[calon] keren banget!"
        );
        assert_eq!(mark(&r, "#BersamaBusri 🔥"), "[paslon] 🔥");
        assert_eq!(mark(&r, "partai contoh juara"), "[partai] juara");
    }

    #[test]
    fn context_words_stay_and_bare_words_do_not_match() {
        let r = reg("name,kind,aliases\nA – M,pair,coblos {amin}|{amin} 01\n");
        assert_eq!(mark(&r, "ayo coblos AMIN!"), "ayo coblos [paslon]!");
        assert_eq!(mark(&r, "AMIN 01 menang"), "[paslon] 01 menang");
        assert_eq!(mark(&r, "amin ya allah"), "amin ya allah");
    }

    #[test]
    fn punctuation_between_words_is_ignored_and_longest_alias_wins() {
        let r = reg("name,kind,aliases\nP,person,prabowo\nPG,pair,prabowo gibran\n");
        assert_eq!(mark(&r, "Prabowo-Gibran oke"), "[paslon] oke");
        assert_eq!(mark(&r, "Prabowo oke"), "[calon] oke");
        assert_eq!(
            r.mentions(&normalize("prabowo, prabowo gibran")),
            ["P", "PG"]
        );
    }

    #[test]
    fn words_inside_other_words_do_not_match() {
        let r = reg("name,kind,aliases\nPAN,party,pan\n");
        assert_eq!(mark(&r, "panci baru"), "panci baru");
        assert_eq!(mark(&r, "pan-pan"), "[partai]-[partai]");
    }

    #[test]
    fn a_name_with_the_clitic_attached_is_marked_and_keeps_it() {
        let r = reg(SMALL);
        assert_eq!(mark(&r, "bang budinya keren"), "[calon]nya keren");
        // Detached, it is joined by normalization first: the same text.
        assert_eq!(mark(&r, "bang budi nya keren"), "[calon]nya keren");
        assert_eq!(mark(&r, "Partai Contohnya"), "[partai]nya");
        // On a context word after the name, the clitic is copied with it.
        assert_eq!(mark(&r, "PC nomor 9nya"), "[partai] nomor 9nya");
        // Only the clitic: other endings still make another word.
        assert_eq!(mark(&r, "busrian"), "busrian");
        let pan = reg("name,kind,aliases\nPAN,party,pan\n");
        assert_eq!(mark(&pan, "nya"), "nya");
        // Models before the clitic version read the attached form as a plain word.
        let (old, _) = mark_as("busrinya menang", &r, CLITIC_VERSION - 1);
        assert_eq!(old.text, "busrinya menang");
        assert!(old.participants.is_empty());
    }

    #[test]
    fn participants_are_listed_once_in_order_of_mention() {
        let r = reg(SMALL);
        let m = r.mark(&normalize("busri! bang budi, #BersamaBusri"));
        let names: Vec<&str> = m
            .participants
            .iter()
            .map(|&i| r.participants()[i].name.as_str())
            .collect();
        assert_eq!(names, ["Budi Santoso – Sri Lestari", "Budi Santoso"]);
    }

    #[test]
    fn a_later_registry_wins_on_the_same_alias() {
        let mut r = reg(SMALL);
        r.extend(&reg("name,kind,aliases\nBang Budi Lain,party,bang budi\n"));
        assert_eq!(mark(&r, "bang budi"), "[partai]");
        assert_eq!(r.mentions(&normalize("bang budi")), ["Bang Budi Lain"]);
    }

    #[test]
    fn tsv_and_semicolons_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let tsv = dir.path().join("p.tsv");
        std::fs::write(&tsv, "name\tkind\taliases\nRatna Dewi\tperson\tbu ratna\n").unwrap();
        assert_eq!(
            mark(&Registry::from_path(&tsv).unwrap(), "bu ratna"),
            "[calon]"
        );
        let semi = dir.path().join("p.csv");
        std::fs::write(&semi, "name;kind\nRatna Dewi;person\n").unwrap();
        assert_eq!(
            mark(&Registry::from_path(&semi).unwrap(), "ratna dewi"),
            "[calon]"
        );
    }

    #[test]
    fn bad_rows_name_the_row_and_the_fix() {
        let err = Registry::from_reader(&b"name,kind\nX,person\nY,mayor\n"[..], "mine.csv", b',')
            .unwrap_err()
            .to_string();
        assert!(err.contains("mine.csv, row 3"), "{err}");
        assert!(err.contains("person, pair, party"), "{err}");
        let err = Registry::from_reader(&b"nama,jenis\nX,person\n"[..], "mine.csv", b',')
            .unwrap_err()
            .to_string();
        assert!(err.contains("name and kind"), "{err}");
        let err =
            Registry::from_reader(&b"name,kind,aliases\nX,pair,coblos {x\n"[..], "m.csv", b',')
                .unwrap_err()
                .to_string();
        assert!(err.contains("unbalanced braces"), "{err}");
        let err = Registry::from_reader(&b"name,kind,number\nX,pair,dua\n"[..], "m.csv", b',')
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a whole number"), "{err}");
    }

    #[test]
    fn marking_never_touches_placeholders_or_unrelated_text() {
        let r = reg("name,kind,aliases\nUser,person,user|url\n");
        assert_eq!(mark(&r, "@budi cek https://x.co/a"), "[user] cek [url]");
        assert_eq!(r.mark("").text, "");
    }

    #[test]
    fn the_builtin_registry_parses_and_knows_the_presidential_pairs() {
        let r = Registry::builtin();
        assert!(r.len() > 20);
        for (post, token) in [
            ("Pak Prabowo hebat", "[calon]"),
            ("Anies keren", "[calon]"),
            ("PDIP menang", "[partai]"),
        ] {
            assert!(mark(r, post).contains(token), "{post} -> {}", mark(r, post));
        }
        assert_eq!(
            mark(r, "amin ya allah, semoga sehat"),
            "amin ya allah, semoga sehat"
        );
        assert!(r.participants().iter().all(|p| !p.name.is_empty()));
    }
}
