//! The model's verdict on one post, shared by the classifier, the writers and the metrics.

use serde::Serialize;

use crate::label::Label;

/// The model's verdict on one post.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Prediction {
    /// The most probable label.
    pub label: Label,
    /// Probabilities in [`Label::ALL`] order; they sum to 1.
    pub probabilities: [f32; 3],
    /// Names of the registered election participants the post mentions, in order of first mention
    /// (see [`crate::text::participants`]); empty when none, or when the prediction was made from
    /// token ids alone.
    pub participants: Vec<String>,
    /// Model windows the post was read in: 1 for posts that fit the model's length, more for long
    /// posts, read in overlapping windows whose most flagged one gives the probabilities.
    pub windows: u32,
    /// Whether text past the last window was left unread.
    pub truncated: bool,
    /// The words that drove the label, when explanations were asked for (see
    /// [`crate::classify::explain`]).
    pub explanation: Option<Vec<WordWeight>>,
}

/// One word of a post (or a registered name of several, read as one token) and its weight: how
/// much the label's log-odds fall without it (estimated to first order by the default method; see
/// [`crate::classify::explain`]).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WordWeight {
    pub word: String,
    pub weight: f32,
}

/// An analyst's thresholds: when a post is flagged and when it is sent for human review.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Triage {
    /// A post is flagged when p_promotional + p_campaigning reaches this.
    pub flag_threshold: f32,
    /// Posts whose flag score lies in `review_low..=review_high` are marked for review: the model
    /// is unsure about them.
    pub review_low: f32,
    pub review_high: f32,
}

impl Default for Triage {
    /// Flag at 0.5 (a post more likely favouring a participant than not); review 0.3–0.7.
    fn default() -> Self {
        Triage {
            flag_threshold: 0.5,
            review_low: 0.3,
            review_high: 0.7,
        }
    }
}

impl Triage {
    /// Whether `p` is flagged.
    pub fn flagged(&self, p: &Prediction) -> bool {
        p.flag_score() >= self.flag_threshold
    }

    /// Whether `p` is in the review band.
    pub fn review(&self, p: &Prediction) -> bool {
        (self.review_low..=self.review_high).contains(&p.flag_score())
    }

    /// How far `p` is from the flag threshold: the review queue's order, nearest first.
    pub fn certainty(&self, p: &Prediction) -> f32 {
        (p.flag_score() - self.flag_threshold).abs()
    }
}

impl Prediction {
    /// Builds a prediction from a probability vector (ties go to the earlier label).
    pub fn from_probabilities(probabilities: [f32; 3]) -> Self {
        let mut best = 0;
        for i in 1..3 {
            if probabilities[i] > probabilities[best] {
                best = i;
            }
        }
        Prediction {
            label: Label::ALL[best],
            probabilities,
            participants: Vec::new(),
            windows: 1,
            truncated: false,
            explanation: None,
        }
    }

    /// p_promotional + p_campaigning: how likely the post favours an election participant.
    pub fn flag_score(&self) -> f32 {
        self.probability(Label::Promotional) + self.probability(Label::Campaigning)
    }

    /// Probability of one label.
    pub fn probability(&self, label: Label) -> f32 {
        self.probabilities[label.index()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argmax_prefers_the_largest_probability() {
        let p = Prediction::from_probabilities([0.2, 0.7, 0.1]);
        assert_eq!(p.label, Label::Promotional);
        assert_eq!(p.probability(Label::Campaigning), 0.1);
        assert_eq!(
            Prediction::from_probabilities([0.4, 0.2, 0.4]).label,
            Label::Neutral
        );
    }

    #[test]
    fn triage_flags_from_the_threshold_and_reviews_inside_the_band() {
        let t = Triage::default();
        let sure = Prediction::from_probabilities([0.05, 0.9, 0.05]);
        let unsure = Prediction::from_probabilities([0.55, 0.3, 0.15]);
        assert!(t.flagged(&sure) && !t.review(&sure));
        assert!(!t.flagged(&unsure) && t.review(&unsure));
        assert!(t.certainty(&unsure) < t.certainty(&sure));
        let strict = Triage {
            flag_threshold: 0.99,
            ..t
        };
        assert!(!strict.flagged(&sure));
    }
}
