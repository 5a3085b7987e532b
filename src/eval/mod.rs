//! Measuring a model: [`metrics`] scores predictions against gold labels into a [`Report`],
//! [`report`] prints it.

pub mod metrics;
pub mod report;

pub use metrics::{evaluate, KindMetrics, LabelMetrics, Report};
