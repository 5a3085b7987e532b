//! Where an output file is written: the final path, the partial file filled while the run lasts,
//! and the checkpoint beside it (written and read by the `checkpoint` module).

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Files behind one output path: the partial output being written and its checkpoint.
#[derive(Clone, Debug)]
pub struct OutputPaths {
    pub final_path: PathBuf,
    pub partial: PathBuf,
    pub checkpoint: PathBuf,
}

impl OutputPaths {
    /// `out.jsonl` → `out.jsonl.partial` and `out.jsonl.partial.ckpt`, in the same directory so the
    /// final rename stays on one filesystem.
    pub fn new(final_path: &Path) -> Self {
        let mut partial = final_path.as_os_str().to_owned();
        partial.push(".partial");
        let partial = PathBuf::from(partial);
        let mut ckpt = partial.as_os_str().to_owned();
        ckpt.push(".ckpt");
        OutputPaths {
            final_path: final_path.to_path_buf(),
            partial,
            checkpoint: PathBuf::from(ckpt),
        }
    }

    /// Moves the finished output into place and removes the checkpoint.
    pub fn finish(&self) -> Result<()> {
        std::fs::rename(&self.partial, &self.final_path)
            .map_err(|e| Error::io(&self.final_path, e))?;
        match std::fs::remove_file(&self.checkpoint) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(&self.checkpoint, e)),
        }
    }
}
