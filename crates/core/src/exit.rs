//! Error kinds and the exit codes the CLI maps them to (ARCHITECTURE.md, Exit codes).

use std::fmt;

/// What went wrong, at the granularity a caller acts on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// A gate or an assertion failed: the tool worked, the subject did not pass.
    GateFailed,
    /// Bad usage or bad input (file, line and field named in the message).
    Input,
    /// A signature, hash chain or digest did not verify.
    Verification,
    /// A recorded-fixture lookup missed.
    FixtureMiss,
    /// An internal invariant broke: a bug in ContextOS.
    Bug,
}

/// An error that knows its [`ErrorKind`], and so the exit code it ends in.
///
/// Every crate's error type implements it, so the CLI turns any of them into
/// its own error with `?` instead of spelling the kind out at each call.
pub trait Kind {
    /// What went wrong, at the granularity a caller acts on.
    fn kind(&self) -> ErrorKind;
}

/// The process exit codes of `contextos`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ExitCode {
    /// Everything passed.
    Success = 0,
    /// A gate or assertion failed.
    GateFailed = 1,
    /// Usage or input error.
    Input = 2,
    /// Verification failed (signature, chain, digest).
    Verification = 3,
    /// Recorded-fixture miss.
    FixtureMiss = 4,
    /// A bug.
    Bug = 101,
}

impl ExitCode {
    /// The numeric process exit status.
    pub fn code(self) -> u8 {
        self as u8
    }
}

impl From<ErrorKind> for ExitCode {
    fn from(kind: ErrorKind) -> Self {
        match kind {
            ErrorKind::GateFailed => Self::GateFailed,
            ErrorKind::Input => Self::Input,
            ErrorKind::Verification => Self::Verification,
            ErrorKind::FixtureMiss => Self::FixtureMiss,
            ErrorKind::Bug => Self::Bug,
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::GateFailed => "gate failed",
            Self::Input => "input error",
            Self::Verification => "verification failed",
            Self::FixtureMiss => "recorded fixture miss",
            Self::Bug => "internal error",
        })
    }
}
