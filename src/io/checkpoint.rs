//! Checkpoint and resume: the output's progress is saved beside it before the first row and after
//! each window, so `--resume` can cut the partial output back to the last checkpoint and continue.
//!
//! A checkpoint also records what the output depends on (the run's identity: model files, options,
//! pantau's version) and a hash of the input prefix read so far; `--resume` refuses any mismatch,
//! so rows of two runs never end up in one file.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Seek};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::Xxh3;

use crate::error::{Error, Result};
use crate::io::paths::{write_atomic, OutputPaths};

/// Progress of an output file being written, saved beside it so `--resume` can continue.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Output rows fully written (= input rows consumed).
    pub rows: u64,
    /// Bytes of the partial output that hold exactly those rows.
    pub bytes: u64,
    /// CSV column layout, if any.
    pub columns: Option<Vec<String>>,
    /// The input prefix read when the checkpoint was taken.
    #[serde(default)]
    pub input: Option<InputPrefix>,
    /// What the output depends on besides the input (see [`RunIdentity`]).
    #[serde(default)]
    pub run: Option<RunIdentity>,
}

/// Length and hash of the first bytes of an input stream.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputPrefix {
    pub bytes: u64,
    /// XXH3-128 of those bytes, in hex.
    pub hash: String,
}

/// Everything besides the input that a run's output depends on, by name: the model's file hash,
/// each output-changing option, pantau's version. Two runs with equal identities and inputs write
/// the same rows.
pub type RunIdentity = BTreeMap<String, String>;

impl InputPrefix {
    /// The prefix of zero bytes.
    pub fn empty() -> Self {
        PrefixHasher::default().prefix()
    }
}

impl Checkpoint {
    /// Refuses to continue a checkpoint written by a different run, naming every difference.
    pub fn check_same_run(&self, run: &RunIdentity, path: &Path) -> Result<()> {
        let Some(saved) = &self.run else {
            return Err(Error::BadInput {
                path: path.display().to_string(),
                reason: "was written by an older pantau that did not record its options: delete it and the .partial file and start over".into(),
            });
        };
        let keys: std::collections::BTreeSet<&String> = saved.keys().chain(run.keys()).collect();
        let differences: Vec<String> = keys
            .into_iter()
            .filter(|k| saved.get(*k) != run.get(*k))
            .map(|k| {
                let show =
                    |v: Option<&String>| v.map_or("(none)".to_string(), |v| format!("{v:?}"));
                format!(
                    "{k} was {} and is now {}",
                    show(saved.get(k)),
                    show(run.get(k))
                )
            })
            .collect();
        if differences.is_empty() {
            Ok(())
        } else {
            Err(Error::BadInput {
                path: path.display().to_string(),
                reason: format!(
                    "cannot resume: this run differs from the interrupted one ({}); rerun with the same input, model and options, or start over without --resume",
                    differences.join("; ")
                ),
            })
        }
    }
}

impl OutputPaths {
    /// Records progress atomically (write a temporary file, then rename).
    pub fn save_checkpoint(&self, c: &Checkpoint) -> Result<()> {
        let json = serde_json::to_vec(c).map_err(|e| Error::BadInput {
            path: self.checkpoint.display().to_string(),
            reason: format!("checkpoint does not serialize: {e}"),
        })?;
        write_atomic(&self.checkpoint, &json)
    }

    /// The checkpoint as saved now, if there is a readable one (read without the lock: for
    /// knowing, before the output is opened, which input prefix an interrupted run had read).
    pub fn peek_checkpoint(&self) -> Option<Checkpoint> {
        let text = std::fs::read_to_string(&self.checkpoint).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Opens the partial output of an interrupted run, locked, with its checkpoint; nothing is
    /// changed yet (see [`OutputPaths::rewind`]). `None` means the run was stopped before it wrote
    /// anything (no checkpoint, empty partial): start from the first row.
    pub fn reopen(&self) -> Result<(File, Option<Checkpoint>)> {
        if !self.partial.exists() && !self.checkpoint.exists() {
            return Err(Error::BadInput {
                path: self.partial.display().to_string(),
                reason: "does not exist: nothing to resume (run without --resume)".into(),
            });
        }
        let f = self.open_locked()?;
        let len = f.metadata().map_err(|e| Error::io(&self.partial, e))?.len();
        let text = match std::fs::read_to_string(&self.checkpoint) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && len == 0 => return Ok((f, None)),
            Err(e) => {
                return Err(Error::BadInput {
                    path: self.checkpoint.display().to_string(),
                    reason: format!(
                        "{e}: the partial output cannot be resumed; delete {} and start over",
                        self.partial.display()
                    ),
                })
            }
        };
        let c: Checkpoint = serde_json::from_str(&text).map_err(|e| Error::BadInput {
            path: self.checkpoint.display().to_string(),
            reason: format!(
                "corrupt checkpoint ({e}); delete it and the .partial file and start over"
            ),
        })?;
        if len < c.bytes {
            return Err(Error::BadInput {
                path: self.partial.display().to_string(),
                reason: format!(
                    "is {len} bytes but the checkpoint records {}; delete both files and start over",
                    c.bytes
                ),
            });
        }
        Ok((f, Some(c)))
    }

    /// Cuts the partial output back to the checkpoint and positions `f` at its end.
    pub fn rewind(&self, f: &mut File, c: &Checkpoint) -> Result<()> {
        f.set_len(c.bytes)
            .map_err(|e| Error::io(&self.partial, e))?;
        f.seek(std::io::SeekFrom::End(0))
            .map_err(|e| Error::io(&self.partial, e))?;
        Ok(())
    }
}

/// XXH3-128 of the files' contents, in order, in hex (the model's identity in a checkpoint).
pub fn hash_files(paths: &[PathBuf]) -> Result<String> {
    let mut h = Xxh3::new();
    let mut buf = vec![0u8; 1 << 16];
    for p in paths {
        let mut f = File::open(p).map_err(|e| Error::io(p, e))?;
        loop {
            let n = f.read(&mut buf).map_err(|e| Error::io(p, e))?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
        // A separator, so moving bytes between files changes the hash.
        h.update(&(p.as_os_str().len() as u64).to_le_bytes());
    }
    Ok(format!("{:032x}", h.digest128()))
}

/// The prefix of `path`'s first `bytes` bytes, or `None` when the file is shorter.
pub fn hash_prefix(path: &Path, bytes: u64) -> Result<Option<InputPrefix>> {
    let f = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut tap = PrefixHasher::default();
    let mut r = f.take(bytes);
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = r.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        tap.update(&buf[..n]);
    }
    Ok((tap.count == bytes).then(|| tap.prefix()))
}

/// Hashes the bytes of an input stream as they are read, and can check them against a recorded
/// prefix (for inputs that cannot be read twice, such as stdin).
#[derive(Default)]
struct PrefixHasher {
    hasher: Xxh3,
    count: u64,
    expect: Option<InputPrefix>,
    verdict: Option<bool>,
}

impl PrefixHasher {
    fn update(&mut self, mut data: &[u8]) {
        if let Some(expect) = &self.expect {
            if self.verdict.is_none() && self.count + data.len() as u64 >= expect.bytes {
                let head = (expect.bytes - self.count) as usize;
                self.hasher.update(&data[..head]);
                self.count += head as u64;
                self.verdict = Some(self.prefix() == *expect);
                data = &data[head..];
            }
        }
        self.hasher.update(data);
        self.count += data.len() as u64;
    }

    fn prefix(&self) -> InputPrefix {
        InputPrefix {
            bytes: self.count,
            hash: format!("{:032x}", self.hasher.digest128()),
        }
    }
}

/// A reader that hashes what passes through it; [`InputTap`] reads the hash from another place.
pub struct HashingReader<R> {
    inner: R,
    state: Arc<Mutex<PrefixHasher>>,
}

/// The reading side of a [`HashingReader`]: the prefix read so far, and the verdict on an expected
/// prefix.
#[derive(Clone)]
pub struct InputTap(Arc<Mutex<PrefixHasher>>);

impl<R: Read> HashingReader<R> {
    /// Wraps `inner`; with `expect`, the stream's first `expect.bytes` bytes are checked against it.
    pub fn new(inner: R, expect: Option<InputPrefix>) -> (Self, InputTap) {
        let verdict = expect
            .as_ref()
            .filter(|e| e.bytes == 0)
            .map(|e| e.hash == PrefixHasher::default().prefix().hash);
        let state = Arc::new(Mutex::new(PrefixHasher {
            expect,
            verdict,
            ..PrefixHasher::default()
        }));
        (
            HashingReader {
                inner,
                state: state.clone(),
            },
            InputTap(state),
        )
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .update(&buf[..n]);
        Ok(n)
    }
}

impl InputTap {
    /// Length and hash of everything read so far.
    pub fn prefix(&self) -> InputPrefix {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).prefix()
    }

    /// Whether the stream began with the expected prefix: `None` while too little has been read to
    /// tell (or when nothing was expected).
    pub fn verdict(&self) -> Option<bool> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).verdict
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checkpoint(rows: u64, bytes: u64) -> Checkpoint {
        Checkpoint {
            rows,
            bytes,
            columns: None,
            input: None,
            run: Some(RunIdentity::from([("model".into(), "abc".into())])),
        }
    }

    #[test]
    fn checkpoint_reopen_truncates_to_recorded_bytes() {
        let d = tempfile::tempdir().unwrap();
        let paths = OutputPaths::new(&d.path().join("out.jsonl"));
        std::fs::write(&paths.partial, b"row1\nrow2\nhalf").unwrap();
        let c = checkpoint(2, 10);
        paths.save_checkpoint(&c).unwrap();
        let (mut f, back) = paths.reopen().unwrap();
        assert_eq!(back.as_ref(), Some(&c));
        assert_eq!(std::fs::read(&paths.partial).unwrap(), b"row1\nrow2\nhalf");
        paths.rewind(&mut f, &c).unwrap();
        assert_eq!(std::fs::read(&paths.partial).unwrap(), b"row1\nrow2\n");
        paths.finish().unwrap();
        drop(f);
        assert!(paths.final_path.exists() && !paths.checkpoint.exists());
    }

    #[test]
    fn a_run_stopped_before_its_first_checkpoint_resumes_from_the_start() {
        let d = tempfile::tempdir().unwrap();
        let paths = OutputPaths::new(&d.path().join("out.jsonl"));
        assert!(paths
            .reopen()
            .unwrap_err()
            .to_string()
            .contains("nothing to resume"));
        std::fs::write(&paths.partial, b"").unwrap();
        assert_eq!(paths.reopen().unwrap().1, None);
        std::fs::write(&paths.partial, b"rows without a checkpoint\n").unwrap();
        assert!(paths
            .reopen()
            .unwrap_err()
            .to_string()
            .contains("cannot be resumed"));
    }

    #[test]
    fn a_different_run_is_refused_naming_what_differs() {
        let c = checkpoint(5, 50);
        let p = Path::new("out.jsonl.partial.ckpt");
        let same = c.run.clone().unwrap();
        assert!(c.check_same_run(&same, p).is_ok());
        let mut other = same.clone();
        other.insert("model".into(), "def".into());
        other.insert("text_field".into(), "body".into());
        let err = c.check_same_run(&other, p).unwrap_err().to_string();
        assert!(
            err.contains("model was \"abc\" and is now \"def\""),
            "{err}"
        );
        assert!(
            err.contains("text_field was (none) and is now \"body\""),
            "{err}"
        );
        let old = Checkpoint { run: None, ..c };
        assert!(old
            .check_same_run(&same, p)
            .unwrap_err()
            .to_string()
            .contains("older pantau"));
    }

    #[test]
    fn the_hashing_reader_checks_a_prefix_across_read_boundaries() {
        let data = b"{\"text\":\"satu\"}\n{\"text\":\"dua\"}\n".repeat(100);
        let (mut r, tap) = HashingReader::new(&data[..], None);
        let mut first = vec![0u8; 40];
        r.read_exact(&mut first).unwrap();
        let recorded = tap.prefix();
        assert_eq!(recorded.bytes, 40);
        // The same stream, read in other chunk sizes, matches; another stream does not.
        for chunk in [1usize, 7, 40, 4096] {
            let (mut r, tap) = HashingReader::new(&data[..], Some(recorded.clone()));
            let mut buf = vec![0u8; chunk];
            while tap.verdict().is_none() {
                assert!(r.read(&mut buf).unwrap() > 0);
            }
            assert_eq!(tap.verdict(), Some(true), "chunk {chunk}");
        }
        let mut edited = data.clone();
        edited[10] = b'X';
        let (mut r, tap) = HashingReader::new(&edited[..], Some(recorded.clone()));
        std::io::copy(&mut r, &mut std::io::sink()).unwrap();
        assert_eq!(tap.verdict(), Some(false));
        // The same bytes as a file.
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("in.jsonl");
        std::fs::write(&f, &data).unwrap();
        assert_eq!(hash_prefix(&f, 40).unwrap(), Some(recorded));
        assert_eq!(hash_prefix(&f, data.len() as u64 + 1).unwrap(), None);
    }
}
