//! Markdown for a pull-request comment: headline, gates, the case table,
//! per-tag and per-kind tables, and a `<details>` block per failing case.
//!
//! Data text is escaped so that a case name or assertion message cannot
//! break a table, open a link, inject HTML, notify anyone with an
//! `@mention` or become an autolink ([`defuse`]), and the whole comment stays
//! under [`MARKDOWN_COMMENT_LIMIT`]: passing-case rows go first, then failure
//! details, then failing-case rows, each omission noted in the comment.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::format::{Verdict, escape_html, percent, push_visible_escape, score};
use crate::{CaseResult, Scorecard, Tally};

/// The most bytes [`render_markdown`] produces. GitHub refuses comments over
/// 65,536 characters; a byte count is never below the character count, and
/// the margin leaves room for a caller's own footer.
pub const MARKDOWN_COMMENT_LIMIT: usize = 65_000;

/// Longest case name or gate failure shown, in characters.
const MAX_NAME_CHARS: usize = 300;
/// Longest assertion message or run error shown in a failure block, in characters.
const MAX_MESSAGE_CHARS: usize = 2_000;
/// Room kept for the omission notes.
const NOTE_RESERVE: usize = 600;

/// Renders a scorecard and the failed gates as a pull-request comment, at
/// most [`MARKDOWN_COMMENT_LIMIT`] bytes long.
pub fn render_markdown(card: &Scorecard, gate_failures: &[String]) -> String {
    let head = headline(card, gate_failures);
    let breakdowns = format!(
        "{}{}",
        tally_table("By tag", "Tag", &card.by_tag, "No case has a tag."),
        tally_table("By assertion kind", "Kind", &card.by_kind, "No assertions."),
    );
    let rows: Vec<(Verdict, String)> = card.cases.iter().map(|c| (Verdict::of(c), case_row(c))).collect();
    let details: Vec<String> = card
        .cases
        .iter()
        .filter(|c| Verdict::of(c) != Verdict::Pass)
        .map(failure_block)
        .collect();

    let fixed = head.len()
        + CASES_HEADER.len()
        + CASES_TABLE_HEADER.len()
        + breakdowns.len()
        + FAILURES_HEADER.len()
        + NOTE_RESERVE;
    let mut budget = MARKDOWN_COMMENT_LIMIT.saturating_sub(fixed);
    // Failing rows are worth most, then their details, then passing rows.
    let failing: Vec<&str> = rows
        .iter()
        .filter(|(v, _)| *v != Verdict::Pass)
        .map(|(_, r)| r.as_str())
        .collect();
    let failing_shown = take_fitting(&failing, &mut budget);
    let details_shown = take_fitting(&details, &mut budget);
    let passing: Vec<&str> = rows
        .iter()
        .filter(|(v, _)| *v == Verdict::Pass)
        .map(|(_, r)| r.as_str())
        .collect();
    let passing_shown = take_fitting(&passing, &mut budget);

    let mut out = head;
    out.push_str(CASES_HEADER);
    if rows.is_empty() {
        out.push_str("_The suite has no cases._\n");
    } else {
        out.push_str(CASES_TABLE_HEADER);
        let (mut failing_seen, mut passing_seen) = (0, 0);
        for (verdict, row) in &rows {
            let counter = if *verdict == Verdict::Pass {
                &mut passing_seen
            } else {
                &mut failing_seen
            };
            let limit = if *verdict == Verdict::Pass {
                passing_shown
            } else {
                failing_shown
            };
            if *counter < limit {
                out.push_str(row);
            }
            *counter += 1;
        }
        let hidden_failing = failing.len() - failing_shown;
        let hidden_passing = passing.len() - passing_shown;
        if hidden_failing + hidden_passing > 0 {
            let mut hidden = Vec::new();
            if hidden_passing > 0 {
                hidden.push(count(hidden_passing, "passing case"));
            }
            if hidden_failing > 0 {
                hidden.push(count(hidden_failing, "failing case"));
            }
            let _ = writeln!(
                out,
                "\n_{} not shown to stay under GitHub's comment size limit; the HTML report lists every case._",
                hidden.join(" and ")
            );
        }
    }
    out.push_str(&breakdowns);
    if !details.is_empty() {
        out.push_str(FAILURES_HEADER);
        for block in &details[..details_shown] {
            out.push_str(block);
        }
        if details_shown < details.len() {
            let _ = writeln!(
                out,
                "_Details of {} not shown to stay under GitHub's comment size limit._",
                count(details.len() - details_shown, "more failing case")
            );
        }
    }
    enforce_limit(out)
}

const CASES_HEADER: &str = "\n### Cases\n\n";
const CASES_TABLE_HEADER: &str =
    "| Case | Result | Score | Outcome | Failed assertions |\n| --- | --- | ---: | --- | --- |\n";
const FAILURES_HEADER: &str = "\n### Failures\n\n";

fn headline(card: &Scorecard, gate_failures: &[String]) -> String {
    let green = gate_failures.is_empty() && card.overall.passed == card.overall.total;
    let mut out = String::new();
    let partition = card
        .partition
        .as_deref()
        .map(|p| format!(" (partition {})", md_text(p)))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "## {} Scenario suite {}{partition}: {} of {} cases passed\n",
        if green { "✅" } else { "❌" },
        md_code(&card.suite),
        card.overall.passed,
        card.overall.total,
    );
    let errored = card.cases.iter().filter(|c| c.error.is_some()).count();
    let _ = write!(
        out,
        "**Pass rate** {} · **mean score** {}",
        percent(card.overall.pass_rate),
        score(card.mean_score)
    );
    if errored > 0 {
        let _ = write!(out, " · **errored** {errored}");
    }
    out.push_str("\n\n### Gates\n\n");
    if gate_failures.is_empty() {
        out.push_str("✅ All gates passed.\n");
    } else {
        let _ = writeln!(out, "❌ {} failed:\n", count(gate_failures.len(), "gate"));
        for failure in gate_failures {
            let _ = writeln!(out, "- {}", md_text(&clip(failure, MAX_NAME_CHARS)));
        }
    }
    out
}

fn case_row(case: &CaseResult) -> String {
    let verdict = Verdict::of(case);
    let result = match verdict {
        Verdict::Pass => "✅ pass",
        Verdict::Fail => "❌ fail",
        Verdict::Error => "💥 error",
    };
    let outcome = case.outcome.map_or("—", contextos_core::RunOutcome::as_str);
    let failed: Vec<String> = case
        .assertions
        .iter()
        .filter(|a| !a.passed)
        .map(|a| md_code(&a.kind))
        .collect();
    let failed = match (verdict, failed.is_empty()) {
        (Verdict::Error, true) => "run error".to_string(),
        (_, true) => "—".to_string(),
        (_, false) => failed.join(", "),
    };
    format!(
        "| {} | {result} | {} | {outcome} | {failed} |\n",
        md_text(&clip(&case.name, MAX_NAME_CHARS)),
        score(case.score),
    )
}

fn tally_table(title: &str, column: &str, tallies: &BTreeMap<String, Tally>, empty: &str) -> String {
    let mut out = format!("\n### {title}\n\n");
    if tallies.is_empty() {
        let _ = writeln!(out, "_{empty}_");
        return out;
    }
    let _ = writeln!(
        out,
        "| {column} | Passed | Total | Pass rate |\n| --- | ---: | ---: | ---: |"
    );
    for (name, tally) in tallies {
        let icon = if tally.passed == tally.total { "✅" } else { "❌" };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {icon} {} |",
            md_text(&clip(name, MAX_NAME_CHARS)),
            tally.passed,
            tally.total,
            percent(tally.pass_rate)
        );
    }
    out
}

fn failure_block(case: &CaseResult) -> String {
    let failed: Vec<_> = case.assertions.iter().filter(|a| !a.passed).collect();
    let mut out = String::new();
    let (icon, what) = match &case.error {
        Some(_) => ("💥", "run error".to_string()),
        None => ("❌", count(failed.len(), "failed assertion")),
    };
    // The summary line is raw HTML to GitHub (no Markdown escapes there), and
    // a blank line would end the HTML block: HTML-escape and keep it on one line.
    let name = clip(&case.name, MAX_NAME_CHARS).replace(['\r', '\n'], " ");
    let _ = writeln!(
        out,
        "<details><summary>{icon} <code>{}</code>: {what} (score {})</summary>\n",
        escape_html(&defuse(&name)),
        score(case.score)
    );
    if let Some(error) = &case.error {
        let _ = writeln!(out, "- **error**: {}", md_text(&clip(error, MAX_MESSAGE_CHARS)));
    }
    for assertion in &failed {
        let _ = writeln!(
            out,
            "- {}: {}",
            md_code(&assertion.kind),
            md_text(&clip(&assertion.message, MAX_MESSAGE_CHARS))
        );
    }
    if failed.is_empty() && case.error.is_none() {
        out.push_str("- every assertion passed, but the case's score is below its bar\n");
    }
    if let Some(detail) = &case.detail {
        let _ = writeln!(out, "\nPacket {}", md_code(&detail.packet));
    }
    out.push_str("\n</details>\n\n");
    out
}

/// How many of `items`, in order, fit in `budget` bytes; takes their size from it.
fn take_fitting<S: AsRef<str>>(items: &[S], budget: &mut usize) -> usize {
    let mut shown = 0;
    for item in items {
        let len = item.as_ref().len();
        if len > *budget {
            break;
        }
        *budget -= len;
        shown += 1;
    }
    shown
}

/// The last line of defence (a huge gate list or tag set): cut at a character
/// boundary and say so.
fn enforce_limit(mut out: String) -> String {
    if out.len() <= MARKDOWN_COMMENT_LIMIT {
        return out;
    }
    const TRUNCATED: &str = "\n\n_… comment truncated to stay under GitHub's comment size limit._\n";
    let mut cut = MARKDOWN_COMMENT_LIMIT - TRUNCATED.len();
    while !out.is_char_boundary(cut) {
        cut -= 1;
    }
    out.truncate(cut);
    out.push_str(TRUNCATED);
    out
}

/// `1 gate`, `2 gates`.
fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// At most `max` characters of `text`, with `…` when cut.
fn clip(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_string(),
    }
}

/// Untrusted text with what GitHub acts on in plain text taken away, for
/// every piece of data a comment shows: a zero-width joiner after each `@`
/// (no `@mention` notifies anyone, no email address links), after the `:` of
/// `://` and before the `.` of `www.` (no URL autolinks), and control
/// characters other than line breaks and tab written visibly as `\u{1b}`.
/// Markdown and HTML escaping come after it.
pub(super) fn defuse(text: &str) -> String {
    const ZWJ: char = '\u{200d}';
    let mut out = String::with_capacity(text.len());
    for (i, c) in text.char_indices() {
        match c {
            '@' => {
                out.push('@');
                out.push(ZWJ);
            }
            ':' if text[i + 1..].starts_with("//") => {
                out.push(':');
                out.push(ZWJ);
            }
            '.' if out
                .get(out.len().saturating_sub(3)..)
                .is_some_and(|tail| tail.eq_ignore_ascii_case("www")) =>
            {
                out.push(ZWJ);
                out.push('.');
            }
            '\n' | '\r' | '\t' => out.push(c),
            c if c.is_control() => push_visible_escape(&mut out, c),
            _ => out.push(c),
        }
    }
    out
}

/// Data text as inert Markdown inside a table cell or list item: first
/// [`defuse`]d, then HTML special characters become entities, `|` becomes
/// `&#124;` (it would end the cell), line breaks become `<br>` (they would
/// end the row), and the punctuation that starts emphasis, code, links,
/// headings or math is backslash-escaped.
fn md_text(text: &str) -> String {
    let text = defuse(text);
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '|' => out.push_str("&#124;"),
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push_str("<br>");
            }
            '\n' => out.push_str("<br>"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '~' | '#' | '$' | '!' => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

/// Data text in a `<code>` element (entities and escapes still apply there,
/// unlike in a backtick span, so no content can close it).
fn md_code(text: &str) -> String {
    format!("<code>{}</code>", md_text(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md_text_neutralizes_table_and_markup_syntax() {
        assert_eq!(md_text("a|b\r\nc\nd"), "a&#124;b<br>c<br>d");
        assert_eq!(md_text("<img src=x>"), "&lt;img src=x&gt;");
        assert_eq!(md_text("[x](y) *z*"), "\\[x\\](y) \\*z\\*");
    }

    #[test]
    fn defuse_breaks_mentions_autolinks_and_controls() {
        assert_eq!(defuse("@octocat"), "@\u{200d}octocat");
        assert_eq!(defuse("HTTPS://x.example"), "HTTPS:\u{200d}//x.example");
        assert_eq!(defuse("see WWW.x.example"), "see WWW\u{200d}.x.example");
        assert_eq!(defuse("a\u{1b}[2Jb\tc\n"), "a\\u{1b}[2Jb\tc\n");
        assert_eq!(defuse("plain: text."), "plain: text.");
    }

    #[test]
    fn clip_cuts_at_characters() {
        assert_eq!(clip("ééé", 2), "éé…");
        assert_eq!(clip("abc", 3), "abc");
    }
}
