//! `pantau._pantau`: the Rust core of the Python package. The Python layer (`python/pantau`)
//! turns lists, pandas Series and Arrow arrays into a list of optional strings and the columns
//! returned here into the caller's type; everything else (normalization, participants, windows,
//! triage) is the library's bulk path, so Python gets exactly the CLI's rows.

use std::path::PathBuf;

use pyo3::exceptions::{PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use pantau::classify::explain::Method;
use pantau::classify::{classify_texts, StreamOptions};
use pantau::text::participants::Registry;
use pantau::{Classifier, Label, Triage};

/// A pantau error as the Python exception a caller expects, with the CLI's message.
fn to_py(e: pantau::Error) -> PyErr {
    let msg = e.to_string();
    match e {
        pantau::Error::Io { .. } => PyOSError::new_err(msg),
        pantau::Error::BadInput { .. }
        | pantau::Error::BadRow { .. }
        | pantau::Error::InvalidModel { .. }
        | pantau::Error::ModelNotFound { .. }
        | pantau::Error::Tokenizer(_) => PyValueError::new_err(msg),
        _ => PyRuntimeError::new_err(msg),
    }
}

fn probability(name: &str, p: f32) -> PyResult<f32> {
    if (0.0..=1.0).contains(&p) {
        Ok(p)
    } else {
        Err(PyValueError::new_err(format!(
            "{name}: {p} is not between 0 and 1"
        )))
    }
}

/// A loaded model, its participant registry and its triage settings.
#[pyclass(frozen, name = "Classifier", module = "pantau._pantau")]
struct PyClassifier {
    inner: Classifier,
    opts: StreamOptions,
}

#[pymethods]
impl PyClassifier {
    #[new]
    #[pyo3(signature = (model=None, participants=Vec::new(), only_participants=false, flag_threshold=0.5, review_band=(0.3, 0.7), explain=0, explain_method="gradient"))]
    fn new(
        model: Option<String>,
        participants: Vec<PathBuf>,
        only_participants: bool,
        flag_threshold: f32,
        review_band: (f32, f32),
        explain: usize,
        explain_method: &str,
    ) -> PyResult<Self> {
        let explain_method: Method = explain_method
            .parse()
            .map_err(|e| PyValueError::new_err(format!("explain_method: {e}")))?;
        let triage = Triage {
            flag_threshold: probability("flag_threshold", flag_threshold)?,
            review_low: probability("review_band", review_band.0)?,
            review_high: probability("review_band", review_band.1)?,
        };
        if triage.review_low > triage.review_high {
            return Err(PyValueError::new_err(format!(
                "review_band: {} is above {}",
                review_band.0, review_band.1
            )));
        }
        let clf = Classifier::open(model.as_deref(), &candle_core::Device::Cpu).map_err(to_py)?;
        let registry = Registry::for_run(&participants, only_participants).map_err(to_py)?;
        Ok(PyClassifier {
            inner: clf.with_registry(registry),
            opts: StreamOptions {
                triage,
                explain,
                explain_method,
                ..StreamOptions::default()
            },
        })
    }

    /// The model in use: its directory, or the built-in model.
    #[getter]
    fn model(&self) -> String {
        self.inner.name()
    }

    /// Classifies `texts` (str or None each) with the GIL released, on rayon's pool; returns the
    /// output columns as a dict of equal-length lists (None where a column does not apply).
    fn classify_columns<'py>(
        &self,
        py: Python<'py>,
        texts: Vec<Option<String>>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let outcomes = py
            .detach(|| classify_texts(&self.inner, &texts, self.opts))
            .map_err(to_py)?;
        let triage = self.opts.triage;
        let preds: Vec<Option<&pantau::Prediction>> =
            outcomes.iter().map(|o| o.as_ref().ok()).collect();
        let col = |f: &dyn Fn(&pantau::Prediction) -> f32| -> Vec<Option<f32>> {
            preds.iter().map(|p| p.map(f)).collect()
        };
        let yes = |f: &dyn Fn(&pantau::Prediction) -> bool| -> Vec<Option<bool>> {
            preds.iter().map(|p| p.map(f)).collect()
        };
        let cols = PyDict::new(py);
        let labels: Vec<Option<&str>> = preds.iter().map(|p| p.map(|p| p.label.as_str())).collect();
        cols.set_item("label", labels)?;
        for l in Label::ALL {
            cols.set_item(format!("p_{l}"), col(&|p| p.probability(l)))?;
        }
        cols.set_item("flagged", yes(&|p| triage.flagged(p)))?;
        cols.set_item("review", yes(&|p| triage.review(p)))?;
        let names: Vec<Option<&Vec<String>>> =
            preds.iter().map(|p| p.map(|p| &p.participants)).collect();
        cols.set_item("participants", names)?;
        let windows: Vec<Option<u32>> = preds.iter().map(|p| p.map(|p| p.windows)).collect();
        cols.set_item("windows", windows)?;
        cols.set_item("truncated", yes(&|p| p.truncated))?;
        let explained: Vec<Option<Vec<(&str, f32)>>> = preds
            .iter()
            .map(|p| {
                let words = (*p)?.explanation.as_ref()?;
                Some(words.iter().map(|w| (w.word.as_str(), w.weight)).collect())
            })
            .collect();
        cols.set_item("explanation", explained)?;
        let errors: Vec<Option<&str>> = outcomes
            .iter()
            .map(|o| o.as_ref().err().map(String::as_str))
            .collect();
        cols.set_item("error", errors)?;
        Ok(cols)
    }
}

#[pymodule]
fn _pantau(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyClassifier>()?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    // The CLI's output columns but `row` and `offset`, which a list of posts does not have.
    m.add("COLUMNS", &pantau::io::OUTPUT_COLUMNS[2..])?;
    Ok(())
}
