//! The three labels, in the stable order used by model outputs (`id2label`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::Error;

/// What a post does with respect to election participants.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Label {
    /// Favors or opposes no election participant (news, everyday posts, general calls to vote, product promos).
    Neutral,
    /// Favorable publicity for a participant without an explicit appeal to vote or act.
    Promotional,
    /// An explicit attempt to influence votes (calls to vote, rallies, fundraising, attacks with an appeal, vote buying).
    Campaigning,
}

impl Label {
    /// All labels in model-output order.
    pub const ALL: [Label; 3] = [Label::Neutral, Label::Promotional, Label::Campaigning];

    /// Position in model outputs and probability vectors.
    pub fn index(self) -> usize {
        self as usize
    }

    /// The label at a model-output position.
    pub fn from_index(i: usize) -> Option<Label> {
        Label::ALL.get(i).copied()
    }

    /// Canonical English name, as written in outputs and `config.json`.
    pub fn as_str(self) -> &'static str {
        match self {
            Label::Neutral => "neutral",
            Label::Promotional => "promotional",
            Label::Campaigning => "campaigning",
        }
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Label {
    type Err = Error;

    /// Accepts the English names, the Indonesian ones (netral, promosi, kampanye) and a few
    /// spellings researchers use, case-insensitively.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_lowercase().as_str() {
            "neutral" | "netral" | "0" => Ok(Label::Neutral),
            "promotional" | "promosi" | "promotion" | "1" => Ok(Label::Promotional),
            "campaigning" | "kampanye" | "campaign" | "berkampanye" | "2" => Ok(Label::Campaigning),
            _ => Err(Error::UnknownLabel(s.to_string())),
        }
    }
}

impl Serialize for Label {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Label {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_is_stable() {
        for (i, l) in Label::ALL.iter().enumerate() {
            assert_eq!(l.index(), i);
            assert_eq!(Label::from_index(i), Some(*l));
        }
        assert_eq!(Label::from_index(3), None);
    }

    #[test]
    fn parses_english_and_indonesian_names() {
        assert_eq!("netral".parse::<Label>().unwrap(), Label::Neutral);
        assert_eq!(" Promosi ".parse::<Label>().unwrap(), Label::Promotional);
        assert_eq!("KAMPANYE".parse::<Label>().unwrap(), Label::Campaigning);
        assert_eq!("campaigning".parse::<Label>().unwrap(), Label::Campaigning);
        assert!(matches!("golput".parse::<Label>(), Err(Error::UnknownLabel(s)) if s == "golput"));
    }

    #[test]
    fn display_round_trips() {
        for l in Label::ALL {
            assert_eq!(l.to_string().parse::<Label>().unwrap(), l);
        }
    }

    #[test]
    fn serde_uses_names_and_accepts_aliases() {
        assert_eq!(
            serde_json::to_string(&Label::Promotional).unwrap(),
            "\"promotional\""
        );
        let l: Label = serde_json::from_str("\"kampanye\"").unwrap();
        assert_eq!(l, Label::Campaigning);
        assert!(serde_json::from_str::<Label>("\"x\"").is_err());
    }
}
