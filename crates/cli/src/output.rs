//! Error rendering and exit codes for the CLI, and the one way untrusted
//! text reaches the terminal ([`terminal_text`]).

use std::borrow::Cow;
use std::error::Error;
use std::fmt;
use std::io::IsTerminal;

use contextos_core::{ErrorKind, ExitCode, Kind};
use miette::{Diagnostic, GraphicalReportHandler, GraphicalTheme, Report};

/// Untrusted text (model answers, tool names and results, reasons, messages)
/// made safe to print: every control character but `\n` and `\t`, and the
/// bidirectional overrides that reorder what is shown, is written visibly as
/// `\u{1b}`, so no escape sequence (cursor movement, screen clearing, an OSC 52
/// clipboard write) reaches the terminal.
pub(crate) fn terminal_text(text: &str) -> Cow<'_, str> {
    let unsafe_char = |c: char| {
        (c.is_control() && c != '\n' && c != '\t') || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if !text.chars().any(unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if unsafe_char(c) {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// An error on its way to the user: a diagnostic plus the kind that picks the exit code.
#[derive(Debug)]
pub(crate) struct CliError {
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

    pub(crate) fn input(message: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::Input,
            report: miette::miette!("{}", message.into()),
        }
    }

    /// A document the user asked to verify that does not parse or does not
    /// verify: a verification failure (exit 3), whatever the error's own kind.
    pub(crate) fn unverified<E: Diagnostic + Send + Sync + 'static>(err: E) -> Self {
        Self::with_kind(ErrorKind::Verification, err)
    }

    /// What the CLI built itself cannot be printed (serializing it failed): a bug.
    pub(crate) fn bug(err: impl std::fmt::Display) -> Self {
        Self::with_kind(ErrorKind::Bug, miette::MietteDiagnostic::new(err.to_string()))
    }

    pub(crate) fn exit_code(&self) -> ExitCode {
        ExitCode::from(self.kind)
    }

    /// Prints the error to stderr: colours on a terminal, plain text otherwise
    /// (so piped output and snapshots are stable).
    pub(crate) fn render(&self) {
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
        if handler
            .render_report(&mut text, &Printed(self.report.as_ref()))
            .is_err()
        {
            text = format!("{:?}", self.report);
        }
        eprint!("{text}");
    }
}

/// A diagnostic as printed. The renderer lists an error's causes below its
/// message; a cause the message already ends with (the operating-system error
/// of a `contextos_core::IoError`, say) is not printed a second time.
///
/// A YAML or JSON error (`contextos_core::DocumentError`) is printed as its
/// one `file:line:col` message, without the source line it carries: the CLI's
/// output for bad input files stays as scripts and snapshots know it.
struct Printed<'a>(&'a dyn Diagnostic);

/// The diagnostic code of `contextos_core::DocumentError`.
const DOCUMENT_CODE: &str = "contextos::document";

impl Printed<'_> {
    fn shows_source(&self) -> bool {
        self.0.code().is_none_or(|code| code.to_string() != DOCUMENT_CODE)
    }
}

impl fmt::Debug for Printed<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.0, f)
    }
}

impl fmt::Display for Printed<'_> {
    /// Messages can quote untrusted text (a tool name a model chose, a
    /// server's answer): it is printed through [`terminal_text`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&terminal_text(&self.0.to_string()))
    }
}

impl Error for Printed<'_> {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        let cause = self.0.source()?;
        if self.0.to_string().ends_with(&format!(": {cause}")) {
            cause.source()
        } else {
            Some(cause)
        }
    }
}

impl Diagnostic for Printed<'_> {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.0.code()
    }

    fn severity(&self) -> Option<miette::Severity> {
        self.0.severity()
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.0.help()
    }

    fn url<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.0.url()
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.0.source_code().filter(|_| self.shows_source())
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        self.0.labels().filter(|_| self.shows_source())
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        self.0.related()
    }

    fn diagnostic_source(&self) -> Option<&dyn Diagnostic> {
        self.0.diagnostic_source()
    }
}
