//! Reports: a scorecard rendered as JUnit XML (for CI test tabs), Markdown
//! (for a pull-request comment) and one self-contained HTML page (for
//! drill-down). Every renderer is a pure function of the scorecard and the
//! gate failures: no clock, no I/O, so the same inputs give the same bytes.
//!
//! Deciding which gates failed is the caller's business; reports only show it.

mod format;
mod html;
mod junit;
mod markdown;

pub use html::render_html;
pub use junit::{ReportError, render_junit};
pub use markdown::{MARKDOWN_COMMENT_LIMIT, render_markdown};
