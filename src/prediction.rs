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
        }
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
}
