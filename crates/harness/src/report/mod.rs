//! Reports: a scorecard rendered as JUnit XML (for CI test tabs), Markdown
//! (for a pull-request comment) and one self-contained HTML page (for
//! drill-down). Every renderer is a pure function of the scorecard and the
//! gate failures: no clock, no I/O, so the same inputs give the same bytes.
//!
//! Deciding which gates failed is the caller's business; reports only show it.

mod html;
mod junit;
mod markdown;

use contextos_core::{ErrorKind, Kind};

pub use html::render_html;
pub use junit::render_junit;
pub use markdown::{MARKDOWN_COMMENT_LIMIT, render_markdown};

/// Why a report could not be rendered.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ReportError {
    /// The JUnit writer refused the report.
    #[error("failed to serialize the JUnit report of suite {suite:?}")]
    Junit {
        /// The suite.
        suite: String,
        /// The writer's error.
        #[source]
        source: quick_junit::SerializeError,
    },
}

impl Kind for ReportError {
    /// Exit-code kind: rendering a well-formed scorecard cannot fail, so any
    /// failure is a bug.
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Junit { .. } => ErrorKind::Bug,
        }
    }
}

/// Escapes text for HTML element content and quoted attribute values. Every
/// piece of scorecard data goes through here before it meets markup.
fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// How a case ended, for every renderer: an error beats failed assertions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verdict {
    Pass,
    Fail,
    Error,
}

impl Verdict {
    fn of(case: &crate::CaseResult) -> Self {
        if case.error.is_some() {
            Self::Error
        } else if case.passed {
            Self::Pass
        } else {
            Self::Fail
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Fail => "fail",
            Self::Error => "error",
        }
    }
}

/// `0.833333` as `83.3%`.
fn percent(rate: f64) -> String {
    format!("{:.1}%", rate * 100.0)
}

/// A score as three decimals.
fn score(value: f64) -> String {
    format!("{value:.3}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_html_covers_markup_and_quotes() {
        assert_eq!(
            escape_html(r#"<a href="x" title='y'>&</a>"#),
            "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;"
        );
        assert_eq!(escape_html("plain ✅"), "plain ✅");
    }
}
