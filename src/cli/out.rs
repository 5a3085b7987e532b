//! The process's standard streams, used so that no write can panic or be lost silently.
//!
//! Rust's `println!` panics when stdout is full or broken, and its `Stdout` reports success when
//! file descriptor 1 is closed (it treats `EBADF` as "nowhere to write"). pantau's rows must never
//! vanish with exit 0, so every subcommand writes through [`stdout`], which fails at once when
//! stdout is closed and reports every later write error; messages go through [`say`], which
//! never panics. A reader that stops early (`pantau classify x | head`) ends the process through
//! the default SIGPIPE action, set in `main`, as with other command-line tools.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{bail, Result};

static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

/// Whether descriptor 1 was closed when the process started. Rust's runtime opens `/dev/null` on
/// closed standard descriptors before `main` runs (so no file lands on them), which would make a
/// closed stdout indistinguishable from `> /dev/null`; a constructor in `.init_array` runs before
/// the runtime and sees the descriptor as the shell left it. Hand-written because it is five
/// lines and no std API exposes the runtime's finding.
#[cfg(target_os = "linux")]
#[used]
#[link_section = ".init_array"]
static NOTE_CLOSED_STDOUT: extern "C" fn() = {
    extern "C" fn note() {
        // Safety: `fcntl(F_GETFD)` only queries the descriptor.
        if unsafe { libc::fcntl(1, libc::F_GETFD) } == -1 {
            STDOUT_CLOSED.store(true, Ordering::Relaxed);
        }
    }
    note
};

/// A writer on the process's stdout that reports every error, including a closed descriptor.
pub fn stdout() -> Result<Box<dyn Write + Send>> {
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        bail!(
            "stdout is closed, so the output would be lost: redirect it (`> out.jsonl`) or give --output FILE"
        );
    }
    #[cfg(unix)]
    {
        use std::os::fd::AsFd;
        // A duplicate of descriptor 1, so writes report their errors: `Stdout` swallows `EBADF`.
        let fd = std::io::stdout()
            .as_fd()
            .try_clone_to_owned()
            .map_err(|e| anyhow::anyhow!("stdout cannot be written: {e}"))?;
        Ok(Box::new(std::fs::File::from(fd)))
    }
    #[cfg(not(unix))]
    {
        Ok(Box::new(std::io::stdout()))
    }
}

/// Prints one message line on stderr. A closed or full stderr cannot stop the run or make it
/// panic: the outcome is also in the exit status.
pub fn say(msg: impl std::fmt::Display) {
    let _ = writeln!(std::io::stderr(), "{msg}");
}

/// Restores the default SIGPIPE action (end the process quietly), which Rust's runtime replaces
/// with "ignore" so that writes to a closed pipe return errors: `head` is a normal consumer of
/// pantau's output, and a half-written line after it has gone is nobody's loss. Files written with
/// `--output` are unaffected: they are finished through the `.partial` file, which a signal
/// leaves resumable.
pub fn default_sigpipe() {
    #[cfg(unix)]
    // Safety: called first thing in `main`, before any thread exists; `SIG_DFL` is a valid action.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// The message of an error and its causes, each said once: library errors already include their
/// source's text (an I/O error names the file and the OS reason), so a cause that is already in the
/// message is not repeated.
pub fn message(e: &anyhow::Error) -> String {
    let mut msg = e.to_string();
    for cause in e.chain().skip(1) {
        let c = cause.to_string();
        if !msg.contains(&c) {
            msg.push_str(": ");
            msg.push_str(&c);
        }
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cause_already_in_the_message_is_not_repeated() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "No such file or directory");
        let e: anyhow::Error = pantau::Error::io("in.jsonl", io).into();
        assert_eq!(message(&e), "in.jsonl: No such file or directory");
        let e = anyhow::anyhow!("inner reason").context("reading in.jsonl");
        assert_eq!(message(&e), "reading in.jsonl: inner reason");
    }
}
