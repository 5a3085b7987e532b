//! Measuring a model: [`metrics`] scores predictions against gold labels into a [`Report`],
//! [`report`] prints it, [`calibrate`] fits the temperature that makes probabilities honest.

pub mod calibrate;
pub mod metrics;
pub mod report;

pub use metrics::{evaluate, KindMetrics, LabelMetrics, Report};
