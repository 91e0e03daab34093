//! The one I/O error of the workspace: what was being done, to which path,
//! and the operating-system error as its cause.

use std::path::PathBuf;

use crate::exit::{ErrorKind, Kind};

/// A file or directory that could not be read, created or written.
///
/// The message names the action and the path and ends with the
/// operating-system error, which is also kept as the [`source`] so the cause
/// chain survives (a renderer should not print a cause its message already
/// ends with).
///
/// [`source`]: std::error::Error::source
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("cannot {action} {}: {source}", path.display())]
pub struct IoError {
    /// What was being done (`read`, `create directory`, `write object`, ...).
    pub action: &'static str,
    /// The file or directory, as shown to the user.
    pub path: PathBuf,
    /// The operating-system error.
    #[source]
    pub source: std::io::Error,
}

impl IoError {
    /// The error of doing `action` to `path`.
    pub fn new(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self {
            action,
            path: path.into(),
            source,
        }
    }

    /// A closure for `map_err`: the error of doing `action` to `path`.
    pub fn of(action: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::new(action, path, source)
    }
}

/// Reading, creating or writing a file is the caller's input (exit 2).
impl Kind for IoError {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Input
    }
}
