//! Error rendering and exit codes for the CLI.

use std::io::IsTerminal;

use contextos_core::{ErrorKind, ExitCode};
use miette::{Diagnostic, GraphicalReportHandler, GraphicalTheme, Report};

/// An error on its way to the user: a diagnostic plus the kind that picks the exit code.
#[derive(Debug)]
pub struct CliError {
    kind: ErrorKind,
    report: Report,
}

impl CliError {
    pub fn new<E: Diagnostic + Send + Sync + 'static>(kind: ErrorKind, err: E) -> Self {
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

    pub fn from_signing(err: contextos_trust::SigningError) -> Self {
        Self::new(err.kind(), err)
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
