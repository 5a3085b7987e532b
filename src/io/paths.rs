//! Where an output file is written: the final path, the partial file filled while the run lasts
//! (locked, so two runs never write one output), and the checkpoint beside it (written and read by
//! the `checkpoint` module). Devices and FIFOs are written in place: renaming a file over
//! `/dev/null` would replace it for the whole system.

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Writes `bytes` to `path` through a temporary file beside it and a rename, so a crash never
/// leaves half a file (checkpoints, configs, training reports, reports).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, bytes).map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

/// Where a run's rows go.
#[derive(Debug)]
pub enum Destination {
    /// The process's stdout.
    Stdout,
    /// A device, FIFO or socket: written directly, no partial file, no resume.
    Special(PathBuf),
    /// A regular file, written through its partial file and renamed into place at the end.
    File(OutputPaths),
}

impl Destination {
    /// The destination of `--output PATH` (`None` or `-` is stdout). A symlink to a regular file is
    /// followed, so the link survives and its target receives the rows.
    pub fn for_path(path: Option<&Path>) -> Result<Self> {
        let Some(p) = path.filter(|p| *p != Path::new("-")) else {
            return Ok(Destination::Stdout);
        };
        match std::fs::metadata(p) {
            Ok(m) if m.is_dir() => Err(Error::BadInput {
                path: p.display().to_string(),
                reason: "is a directory: give a file name for the output".into(),
            }),
            Ok(m) if !m.is_file() => Ok(Destination::Special(p.to_path_buf())),
            Ok(_) => {
                let target = std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
                Ok(Destination::File(OutputPaths::new(&target)))
            }
            Err(_) => Ok(Destination::File(OutputPaths::new(p))),
        }
    }
}

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

    /// Opens the partial file for a fresh run: locked first, emptied only once the lock is held, so
    /// a second run on the same output is refused before it touches anything.
    pub fn create(&self) -> Result<File> {
        let f = self.open_locked()?;
        f.set_len(0).map_err(|e| Error::io(&self.partial, e))?;
        Ok(f)
    }

    /// Opens the existing partial file, creating it if missing, and takes its lock. The lock lasts
    /// as long as the returned file (or a clone of it) stays open.
    pub(crate) fn open_locked(&self) -> Result<File> {
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&self.partial)
            .map_err(|e| Error::io(&self.partial, e))?;
        match f.try_lock() {
            Ok(()) => Ok(f),
            Err(std::fs::TryLockError::WouldBlock) => Err(Error::BadInput {
                path: self.final_path.display().to_string(),
                reason: format!(
                    "another pantau run is writing this output (it holds the lock on {}): wait for it to finish or choose another --output",
                    self.partial.display()
                ),
            }),
            // Filesystems without locks (some network mounts) still get the output.
            Err(std::fs::TryLockError::Error(e)) if e.kind() == std::io::ErrorKind::Unsupported => {
                Ok(f)
            }
            Err(std::fs::TryLockError::Error(e)) => Err(Error::io(&self.partial, e)),
        }
    }

    /// Moves the finished output into place and removes the checkpoint. The caller still holds the
    /// partial's lock, so no other run can take the file between the last write and the rename.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stdout_devices_directories_and_files_are_told_apart() {
        assert!(matches!(
            Destination::for_path(None),
            Ok(Destination::Stdout)
        ));
        assert!(matches!(
            Destination::for_path(Some(Path::new("-"))),
            Ok(Destination::Stdout)
        ));
        #[cfg(unix)]
        assert!(matches!(
            Destination::for_path(Some(Path::new("/dev/null"))),
            Ok(Destination::Special(_))
        ));
        let d = tempfile::tempdir().unwrap();
        let err = Destination::for_path(Some(d.path()))
            .unwrap_err()
            .to_string();
        assert!(err.contains("is a directory"), "{err}");
        let new = d.path().join("new.jsonl");
        let Ok(Destination::File(p)) = Destination::for_path(Some(&new)) else {
            panic!("a new path is a regular file destination");
        };
        assert_eq!(p.final_path, new);
    }

    #[cfg(unix)]
    #[test]
    fn a_symlinked_output_keeps_its_link_and_fills_its_target() {
        let d = tempfile::tempdir().unwrap();
        let target = d.path().join("real.jsonl");
        std::fs::write(&target, "old\n").unwrap();
        let link = d.path().join("link.jsonl");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let Ok(Destination::File(p)) = Destination::for_path(Some(&link)) else {
            panic!("a link to a file is a file destination");
        };
        assert_eq!(p.final_path, std::fs::canonicalize(&target).unwrap());
    }

    #[test]
    fn a_second_writer_of_the_same_output_is_refused_until_the_first_ends() {
        let d = tempfile::tempdir().unwrap();
        let paths = OutputPaths::new(&d.path().join("out.jsonl"));
        let first = paths.create().unwrap();
        std::fs::write(&paths.partial, "row from the first run\n").unwrap();
        let err = paths.create().unwrap_err().to_string();
        assert!(err.contains("another pantau run"), "{err}");
        // The refused run did not empty the first run's file.
        assert_eq!(
            std::fs::read_to_string(&paths.partial).unwrap(),
            "row from the first run\n"
        );
        drop(first);
        assert!(paths.create().is_ok());
    }
}
