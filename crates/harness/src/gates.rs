//! Gates: absolute thresholds and regressions against a baseline scorecard.

use std::collections::BTreeMap;

use crate::scenario::Thresholds;
use crate::scorecard::{Scorecard, Tally};

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
}

fn below(what: &str, tally: Option<&Tally>, min: f64, shard: bool, out: &mut Vec<String>) {
    match tally {
        Some(t) if t.pass_rate + 1e-9 < min => out.push(format!(
            "{what} pass rate {:.1}% ({}/{}) is below {:.1}%",
            t.pass_rate * 100.0,
            t.passed,
            t.total,
            min * 100.0
        )),
        Some(_) => {}
        // A shard may hold no case of a tag; the merged scorecard is gated on it.
        None if shard => {}
        None => out.push(format!(
            "{what} has no results, but a threshold of {:.1}% is set",
            min * 100.0
        )),
    }
}

/// Every gate that fails, as a sentence; empty when all pass.
pub fn evaluate_gates(card: &Scorecard, suite: &Thresholds, options: &GateOptions) -> Vec<String> {
    let mut failures = Vec::new();
    let shard = card.partition.is_some();
    if let Some(min) = options.min_pass_rate.or(suite.overall) {
        below("overall", Some(&card.overall), min, shard, &mut failures);
    }
    let mut tags = suite.tags.clone();
    tags.extend(options.min_tag.clone());
    for (tag, min) in &tags {
        below(&format!("tag {tag}"), card.by_tag.get(tag), *min, shard, &mut failures);
    }
    let mut kinds = suite.kinds.clone();
    kinds.extend(options.min_kind.clone());
    for (kind, min) in &kinds {
        below(
            &format!("assertion kind {kind}"),
            card.by_kind.get(kind),
            *min,
            shard,
            &mut failures,
        );
    }
    for case in &card.cases {
        if let Some(e) = &case.error {
            failures.push(format!("case {} did not run: {e}", case.name));
        }
    }
    if let Some(base) = &options.baseline {
        let x = options.max_regression;
        for case in &card.cases {
            if !case.passed && base.cases.iter().any(|b| b.name == case.name && b.passed) {
                failures.push(format!("case {} passed in the baseline and fails now", case.name));
            }
        }
        let drop = |what: &str, before: f64, after: f64, out: &mut Vec<String>| {
            if before - after > x + 1e-9 {
                out.push(format!(
                    "{what} dropped from {:.1}% to {:.1}% (more than {:.1} points)",
                    before * 100.0,
                    after * 100.0,
                    x * 100.0
                ));
            }
        };
        drop(
            "overall pass rate",
            base.overall.pass_rate,
            card.overall.pass_rate,
            &mut failures,
        );
        drop("mean score", base.mean_score, card.mean_score, &mut failures);
        for (tag, t) in &base.by_tag {
            drop(
                &format!("tag {tag} pass rate"),
                t.pass_rate,
                card.by_tag.get(tag).map_or(0.0, |c| c.pass_rate),
                &mut failures,
            );
        }
        for (kind, t) in &base.by_kind {
            drop(
                &format!("assertion kind {kind} pass rate"),
                t.pass_rate,
                card.by_kind.get(kind).map_or(0.0, |c| c.pass_rate),
                &mut failures,
            );
        }
    }
    failures
}
