//! The supervisor's summary of a classified file: [`summary`] counts it in one streaming pass,
//! [`render`] writes it as a self-contained HTML page with SVG charts, or as Markdown.

pub mod render;
pub mod summary;

pub use render::{html, markdown};
pub use summary::{Listed, Summary, SummaryOptions};
