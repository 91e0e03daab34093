//! Gates: absolute thresholds and regressions against a baseline scorecard.
//!
//! A run of a selection of the suite (`--filter`, `--partition`) is gated on
//! what ran: a suite threshold on a tag or assertion kind with no result in
//! the selection is skipped, and the baseline is cut down to the cases that
//! ran before rates are compared. Thresholds given on the command line still
//! fail when nothing they name ran (the user asked for them), except in a
//! shard, whose merged scorecard is gated instead.
//!
//! Failures come in this order: cases that newly fail against the baseline,
//! each naming the assertion that fails and what it expected and found;
//! cases that did not run; thresholds; then the baseline's rate deltas
//! (overall, mean score, per tag, per assertion kind).

use std::collections::{BTreeMap, BTreeSet};

use crate::scenario::Thresholds;
use crate::scorecard::{CaseResult, Scorecard, Tally};

/// Gate settings from the command line (they override the suite's thresholds).
#[derive(Debug, Clone, Default)]
pub struct GateOptions {
    /// Minimum overall pass rate.
    pub min_pass_rate: Option<f64>,
    /// Minimum pass rate per tag.
    pub min_tag: BTreeMap<String, f64>,
    /// Minimum pass rate per assertion kind.
    pub min_kind: BTreeMap<String, f64>,
    /// The scorecard to compare against.
    pub baseline: Option<Scorecard>,
    /// How much a rate may drop against the baseline (0.05 = five points).
    pub max_regression: f64,
    /// The run covered a selection of the suite's cases (a filter or a
    /// partition): gate only the tags, kinds and cases that ran.
    pub selection: bool,
}

/// Where a threshold came from, and so what its absence from the results means.
#[derive(Clone, Copy)]
struct Absent {
    /// A shard: absence is never a failure (the merged scorecard is gated).
    shard: bool,
    /// A selection and a suite threshold: absence means it was not selected.
    skipped: bool,
}

fn below(what: &str, tally: Option<&Tally>, min: f64, absent: Absent, out: &mut Vec<String>) {
    match tally {
        Some(t) if t.pass_rate + 1e-9 < min => out.push(format!(
            "{what} pass rate {:.1}% ({}/{}) is below {:.1}%",
            t.pass_rate * 100.0,
            t.passed,
            t.total,
            min * 100.0
        )),
        Some(_) => {}
        None if absent.shard || absent.skipped => {}
        None => out.push(format!(
            "{what} has no results, but a threshold of {:.1}% is set",
            min * 100.0
        )),
    }
}

/// Every gate that fails, as a sentence; empty when all pass.
pub fn evaluate_gates(card: &Scorecard, suite: &Thresholds, options: &GateOptions) -> Vec<String> {
    let shard = card.partition.is_some();
    let selection = options.selection || shard;
    // The baseline, cut down to the cases that ran when only some were selected.
    let baseline = options.baseline.as_ref().map(|base| {
        if selection {
            let ran: BTreeSet<&str> = card.cases.iter().map(|c| c.name.as_str()).collect();
            let kept = base
                .cases
                .iter()
                .filter(|c| ran.contains(c.name.as_str()))
                .cloned()
                .collect();
            Scorecard::from_cases(&base.suite, None, kept)
        } else {
            base.clone()
        }
    });
    let mut failures = Vec::new();
    if let Some(base) = &baseline {
        failures.extend(newly_failing(card, base));
    }
    for case in &card.cases {
        let regressed = baseline
            .as_ref()
            .is_some_and(|b| b.cases.iter().any(|c| c.name == case.name && c.passed));
        if let (Some(e), false) = (&case.error, regressed) {
            failures.push(format!("case {} did not run: {e}", case.name));
        }
    }
    thresholds(card, suite, options, selection, &mut failures);
    if let Some(base) = &baseline {
        failures.extend(rate_deltas(card, base, options.max_regression));
    }
    failures
}

/// Suite thresholds, overridden and extended by the command line's.
fn thresholds(card: &Scorecard, suite: &Thresholds, options: &GateOptions, selection: bool, out: &mut Vec<String>) {
    let shard = card.partition.is_some();
    let from_suite = Absent {
        shard,
        skipped: selection,
    };
    let from_cli = Absent { shard, skipped: false };
    if let Some(min) = options.min_pass_rate.or(suite.overall) {
        below("overall", Some(&card.overall), min, from_cli, out);
    }
    let groups = [
        ("tag", &suite.tags, &options.min_tag, &card.by_tag),
        ("assertion kind", &suite.kinds, &options.min_kind, &card.by_kind),
    ];
    for (what, from_file, from_line, tallies) in groups {
        let mut all: BTreeMap<&String, (f64, Absent)> = from_file.iter().map(|(k, v)| (k, (*v, from_suite))).collect();
        all.extend(from_line.iter().map(|(k, v)| (k, (*v, from_cli))));
        for (name, (min, absent)) in all {
            below(&format!("{what} {name}"), tallies.get(name), min, absent, out);
        }
    }
}

/// Each case that passed in the baseline and fails now, and each assertion
/// that passed in the baseline and fails now, with what it expected and found.
fn newly_failing(card: &Scorecard, base: &Scorecard) -> Vec<String> {
    let mut out = Vec::new();
    for case in card.cases.iter().filter(|c| !c.passed) {
        let Some(before) = base.cases.iter().find(|b| b.name == case.name) else {
            continue;
        };
        if let Some(e) = &case.error {
            if before.passed {
                out.push(format!(
                    "case {} passed in the baseline and did not run now: {e}",
                    case.name
                ));
            }
            continue;
        }
        for (i, a) in failing_assertions(case, before) {
            let what = format!("assertion {} ({})", i + 1, a.kind);
            out.push(if before.passed {
                format!(
                    "case {} passed in the baseline and fails now: {what}: {}",
                    case.name, a.message
                )
            } else {
                format!(
                    "case {} {what} passed in the baseline and fails now: {}",
                    case.name, a.message
                )
            });
        }
    }
    out
}

/// The failing assertions of `case` that passed in `before` (by position and
/// kind; every failing one when the case passed in the baseline).
fn failing_assertions<'a>(
    case: &'a CaseResult,
    before: &CaseResult,
) -> Vec<(usize, &'a crate::scorecard::AssertionResult)> {
    case.assertions
        .iter()
        .enumerate()
        .filter(|(_, a)| !a.passed)
        .filter(|(i, a)| before.passed || before.assertions.get(*i).is_some_and(|b| b.kind == a.kind && b.passed))
        .collect()
}

/// Rates that dropped by more than `max` against the baseline.
fn rate_deltas(card: &Scorecard, base: &Scorecard, max: f64) -> Vec<String> {
    let mut out = Vec::new();
    let mut drop = |what: &str, before: f64, after: f64| {
        if before - after > max + 1e-9 {
            out.push(format!(
                "{what} dropped from {:.1}% to {:.1}% (more than {:.1} points)",
                before * 100.0,
                after * 100.0,
                max * 100.0
            ));
        }
    };
    drop("overall pass rate", base.overall.pass_rate, card.overall.pass_rate);
    drop("mean score", base.mean_score, card.mean_score);
    for (tag, t) in &base.by_tag {
        let now = card.by_tag.get(tag).map_or(0.0, |c| c.pass_rate);
        drop(&format!("tag {tag} pass rate"), t.pass_rate, now);
    }
    for (kind, t) in &base.by_kind {
        let now = card.by_kind.get(kind).map_or(0.0, |c| c.pass_rate);
        drop(&format!("assertion kind {kind} pass rate"), t.pass_rate, now);
    }
    out
}
