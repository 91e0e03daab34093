//! What every report shows the same way: a case's verdict, rates as
//! percentages, scores, and text escaped for HTML.

use std::fmt::Write as _;

/// Escapes text for HTML element content and quoted attribute values. Every
/// piece of scorecard data goes through here before it meets markup.
pub(super) fn escape_html(text: &str) -> String {
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

/// Writes `c` visibly as `\u{1b}`: how every report shows a character it
/// must not emit as is (a control character, or one XML forbids).
pub(super) fn push_visible_escape(out: &mut String, c: char) {
    let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
}

/// How a case ended, for every renderer: an error beats failed assertions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Verdict {
    Pass,
    Fail,
    Error,
}

impl Verdict {
    pub(super) fn of(case: &crate::CaseResult) -> Self {
        if case.error.is_some() {
            Self::Error
        } else if case.passed {
            Self::Pass
        } else {
            Self::Fail
        }
    }

    pub(super) fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Fail => "fail",
            Self::Error => "error",
        }
    }
}

/// `0.833333` as `83.3%`.
pub(super) fn percent(rate: f64) -> String {
    format!("{:.1}%", rate * 100.0)
}

/// A score as three decimals.
pub(super) fn score(value: f64) -> String {
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
