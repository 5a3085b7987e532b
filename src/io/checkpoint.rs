//! Checkpoint and resume: after each window the output's progress is saved beside it, so
//! `--resume` can cut the partial output back to the last checkpoint and continue from there.

use std::fs::File;
use std::io::Seek;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::io::paths::OutputPaths;

/// Progress of an output file being written, saved beside it so `--resume` can continue.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Output rows fully written (= input rows consumed).
    pub rows: u64,
    /// Bytes of the partial output that hold exactly those rows.
    pub bytes: u64,
    /// CSV column layout, if any.
    pub columns: Option<Vec<String>>,
}

impl OutputPaths {
    /// Records progress atomically (write a temporary file, then rename).
    pub fn save_checkpoint(&self, c: &Checkpoint) -> Result<()> {
        let mut tmp = self.checkpoint.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        let json = serde_json::to_vec(c).expect("checkpoint serializes");
        std::fs::write(&tmp, json).map_err(|e| Error::io(&tmp, e))?;
        std::fs::rename(&tmp, &self.checkpoint).map_err(|e| Error::io(&self.checkpoint, e))
    }

    /// Opens the partial output for a resumed run: cuts it back to the last checkpoint and returns
    /// the file positioned at its end, with the checkpoint.
    pub fn reopen(&self) -> Result<(File, Checkpoint)> {
        let text = std::fs::read_to_string(&self.checkpoint).map_err(|e| {
            Error::io(
                &self.checkpoint,
                std::io::Error::new(
                    e.kind(),
                    format!("{e}: nothing to resume (run without --resume)"),
                ),
            )
        })?;
        let c: Checkpoint = serde_json::from_str(&text).map_err(|e| Error::BadInput {
            path: self.checkpoint.display().to_string(),
            reason: format!(
                "corrupt checkpoint ({e}); delete it and the .partial file and start over"
            ),
        })?;
        let mut f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&self.partial)
            .map_err(|e| Error::io(&self.partial, e))?;
        let len = f.metadata().map_err(|e| Error::io(&self.partial, e))?.len();
        if len < c.bytes {
            return Err(Error::BadInput {
                path: self.partial.display().to_string(),
                reason: format!(
                    "is {len} bytes but the checkpoint records {}; delete both files and start over",
                    c.bytes
                ),
            });
        }
        f.set_len(c.bytes)
            .map_err(|e| Error::io(&self.partial, e))?;
        f.seek(std::io::SeekFrom::End(0))
            .map_err(|e| Error::io(&self.partial, e))?;
        Ok((f, c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoint_reopen_truncates_to_recorded_bytes() {
        let d = tempfile::tempdir().unwrap();
        let paths = OutputPaths::new(&d.path().join("out.jsonl"));
        std::fs::write(&paths.partial, b"row1\nrow2\nhalf").unwrap();
        let c = Checkpoint {
            rows: 2,
            bytes: 10,
            columns: None,
        };
        paths.save_checkpoint(&c).unwrap();
        let (_f, back) = paths.reopen().unwrap();
        assert_eq!(back, c);
        assert_eq!(std::fs::read(&paths.partial).unwrap(), b"row1\nrow2\n");
        paths.finish().unwrap();
        assert!(paths.final_path.exists() && !paths.checkpoint.exists());
    }
}
