//! pantau classifies Indonesian social-media posts as **neutral**, **promotional** or **campaigning**,
//! for monitoring the neutrality of civil servants (ASN) around elections.
//!
//! Data flows one way: [`io`] reads rows → [`normalize`] cleans text → [`tokenizer`] makes ids →
//! [`batch`] groups them → [`model`] scores them → [`io`] writes rows. [`Classifier`] bundles the middle.
//!
//! ```no_run
//! use pantau::{Classifier, Label};
//! let clf = Classifier::load("models/pantau-small", &candle_core::Device::Cpu)?;
//! let p = clf.classify("Jangan lupa 14 Februari coblos nomor 3 ya!")?;
//! println!("{} ({:.2})", p.label, p.probability(p.label));
//! # Ok::<(), pantau::Error>(())
//! ```

mod autograd;
pub mod batch;
pub mod classifier;
pub mod device;
pub mod error;
pub mod eval;
pub mod hub;
pub mod io;
#[doc(hidden)]
pub mod kernels;
pub mod label;
pub mod model;
pub mod normalize;
mod optim;
pub mod tokenizer;
pub mod train;

pub use classifier::{Classifier, Prediction};
pub use device::parse_device;
pub use error::{Error, Result};
pub use label::Label;

/// Where the model shipped with pantau lives, relative to the repository root.
pub const DEFAULT_MODEL: &str = "models/pantau-small";
