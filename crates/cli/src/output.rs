//! Error rendering and exit codes for the CLI.

use std::io::IsTerminal;

use contextos_core::{ErrorKind, ExitCode, Kind};
use miette::{Diagnostic, GraphicalReportHandler, GraphicalTheme, Report};

/// An error on its way to the user: a diagnostic plus the kind that picks the exit code.
#[derive(Debug)]
pub struct CliError {
    kind: ErrorKind,
    report: Report,
}

/// Any error of the workspace keeps its own kind (and so its exit code) on its way to the user.
impl<E: Kind + Diagnostic + Send + Sync + 'static> From<E> for CliError {
    fn from(err: E) -> Self {
        Self::with_kind(err.kind(), err)
    }
}

impl CliError {
    fn with_kind<E: Diagnostic + Send + Sync + 'static>(kind: ErrorKind, err: E) -> Self {
        Self {
            kind,
            report: Report::new(err),
        }
    }

    pub fn input(message: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::Input,
            report: miette::miette!("{}", message.into()),
        }
    }

    /// A document the user asked to verify that does not parse or does not
    /// verify: a verification failure (exit 3), whatever the error's own kind.
    pub fn unverified<E: Diagnostic + Send + Sync + 'static>(err: E) -> Self {
        Self::with_kind(ErrorKind::Verification, err)
    }

    /// What the CLI built itself cannot be printed (serializing it failed): a bug.
    pub fn bug(err: impl std::fmt::Display) -> Self {
        Self::with_kind(ErrorKind::Bug, miette::MietteDiagnostic::new(err.to_string()))
    }

    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(self.kind)
    }

    /// Prints the error to stderr: colours on a terminal, plain text otherwise
    /// (so piped output and snapshots are stable).
    pub fn render(&self) {
        let stderr = std::io::stderr();
        let theme = if stderr.is_terminal() {
            GraphicalTheme::unicode()
        } else {
            GraphicalTheme::unicode_nocolor()
        };
        let handler = GraphicalReportHandler::new_themed(theme)
            .with_width(100)
            .with_links(false);
        let mut text = String::new();
        if handler.render_report(&mut text, self.report.as_ref()).is_err() {
            text = format!("{:?}", self.report);
        }
        eprint!("{text}");
    }
}
