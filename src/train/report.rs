//! What a training run reports: per-epoch numbers, the run's summary (`training.json`) and the
//! events progress bars follow.

use serde::Serialize;

use crate::eval::metrics::Report;
use crate::train::config::TrainConfig;
use crate::train::lexical::LexicalReport;

/// Numbers from one epoch.
#[derive(Clone, Debug, Serialize)]
pub struct EpochReport {
    pub epoch: usize,
    pub train_loss: f64,
    pub dev_accuracy: f64,
    pub dev_macro_f1: f64,
    pub learning_rate: f64,
    pub seconds: f64,
    /// Whether this epoch's weights were saved as the new best.
    pub saved: bool,
}

/// Numbers from one epoch of masked-language-model pretraining.
#[derive(Clone, Debug, Serialize)]
pub struct PretrainEpoch {
    pub epoch: usize,
    /// Mean cross-entropy over the masked tokens.
    pub loss: f64,
    pub learning_rate: f64,
    pub seconds: f64,
}

/// What happened during training, written to `training.json` in the model directory.
#[derive(Clone, Debug, Serialize)]
pub struct TrainReport {
    pub config: TrainConfig,
    pub train_examples: usize,
    pub dev_examples: usize,
    pub unlabeled_texts: usize,
    pub parameters: usize,
    pub best_epoch: usize,
    pub best_dev: Option<Report>,
    pub pretraining: Vec<PretrainEpoch>,
    pub epochs: Vec<EpochReport>,
    /// The lexical head fitted after the epochs, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lexical: Option<LexicalReport>,
}

/// Events reported while training (for progress bars and logs).
pub enum Event<'a> {
    /// Steps done within the current epoch, out of `of`, and the running mean loss; `pretraining`
    /// tells the masked-language-model epochs from the classifier's.
    Step {
        pretraining: bool,
        epoch: usize,
        step: usize,
        of: usize,
        loss: f64,
    },
    /// A pretraining epoch finished.
    Pretrained(&'a PretrainEpoch),
    /// A classifier epoch finished.
    Epoch(&'a EpochReport),
    /// The lexical head was fitted.
    Lexical(&'a LexicalReport),
}
