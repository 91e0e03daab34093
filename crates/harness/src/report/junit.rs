//! JUnit XML through `quick-junit`: one test suite per scorecard, one test
//! case per scenario case. Times and timestamps stay unset so the XML is a
//! function of the scorecard alone. Every piece of data goes through
//! [`xml_text`] first, so the XML parses whatever a model or a case wrote.

use contextos_core::{ErrorKind, Kind};
use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};

use super::format::{Verdict, push_visible_escape, score};
use crate::{CaseResult, Scorecard};

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

/// Untrusted text as XML 1.0 character data: a character XML forbids
/// (C0 controls other than tab, newline and carriage return, U+FFFE, U+FFFF)
/// and any other control character is written visibly as `\u{1b}` rather
/// than dropped, so the XML parses and the report still shows it was there.
pub(super) fn xml_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\t' | '\n' | '\r' => out.push(c),
            '\u{fffe}' | '\u{ffff}' => push_visible_escape(&mut out, c),
            c if c.is_control() => push_visible_escape(&mut out, c),
            _ => out.push(c),
        }
    }
    out
}

/// Renders a scorecard as JUnit XML: a suite named after the scorecard's suite
/// (and partition), a test case per case with class name `contextos.<suite>`,
/// a `failure` listing each failed assertion as `kind: message`, an `error`
/// for a run that errored, and `mean_score` and `pass_rate` as properties.
pub fn render_junit(card: &Scorecard) -> Result<String, ReportError> {
    let suite_name = match &card.partition {
        Some(partition) => format!("{} ({partition})", card.suite),
        None => card.suite.clone(),
    };
    let classname = xml_text(&format!("contextos.{}", card.suite));
    let mut suite = TestSuite::new(xml_text(&suite_name));
    suite.add_properties([
        Property::new("mean_score", card.mean_score.to_string()),
        Property::new("pass_rate", card.overall.pass_rate.to_string()),
    ]);
    for case in &card.cases {
        let mut test_case = TestCase::new(xml_text(&case.name), status(case));
        test_case
            .set_classname(classname.as_str())
            .set_assertions(case.assertions.len());
        suite.add_test_case(test_case);
    }
    let mut report = Report::new("contextos");
    report.add_test_suite(suite);
    report.to_string().map_err(|source| ReportError::Junit {
        suite: card.suite.clone(),
        source,
    })
}

fn status(case: &CaseResult) -> TestCaseStatus {
    let failed: Vec<_> = case.assertions.iter().filter(|a| !a.passed).collect();
    let listing = failed
        .iter()
        .map(|a| format!("{}: {}", a.kind, a.message))
        .collect::<Vec<_>>()
        .join("\n");
    let listing = xml_text(&listing);
    match Verdict::of(case) {
        Verdict::Pass => TestCaseStatus::success(),
        Verdict::Error => {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
            status
                .set_message(xml_text(case.error.as_deref().unwrap_or_default()))
                .set_type("run_error");
            if !listing.is_empty() {
                status.set_description(listing);
            }
            status
        }
        Verdict::Fail => {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
            match failed.first() {
                Some(first) => {
                    let noun = if case.assertions.len() == 1 {
                        "assertion"
                    } else {
                        "assertions"
                    };
                    status
                        .set_message(format!("{} of {} {noun} failed", failed.len(), case.assertions.len()))
                        .set_type(xml_text(&first.kind))
                        .set_description(listing);
                }
                // Failed with every assertion passing: the case's own bar (its score) was not met.
                None => {
                    status
                        .set_message(format!("case failed with score {}", score(case.score)))
                        .set_type("case");
                }
            }
            status
        }
    }
}
