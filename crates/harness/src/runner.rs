//! The parallel runner: cases run on rayon's pool, results are reported in
//! name order, so a scorecard is byte-identical for any thread count.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use contextos_action::Recording;
use contextos_core::{ReplayPacket, RunOutcome};
use contextos_decision::RecordedModel;
use contextos_runtime::{Deployment, Fixtures, RunArtifacts, envelope_bytes, run_on_fixtures};
use rayon::prelude::*;

use crate::assertions::{Evidence, check};
use crate::behaviour::{GoldenMode, compare_packets};
use crate::scorecard::{AssertionResult, CaseDetail, CaseResult, Scorecard};
use crate::suite::{Case, Suite};

/// One case's run: its result and, when it ran, its artifacts.
#[derive(Debug, Clone)]
pub struct CaseRun {
    /// The scored result.
    pub result: CaseResult,
    /// The run's artifacts.
    pub artifacts: Option<RunArtifacts>,
    /// The signed packet's bytes (what goldens store).
    pub packet_bytes: Option<Vec<u8>>,
    /// The case's fixtures could not be read (a part that is not valid
    /// UTF-8, a directory where a file belongs, a symbolic-link loop): bad
    /// input, which `eval` ends in like `run --fixtures` does (exit 2).
    pub unreadable_fixtures: bool,
}

/// How to run.
#[derive(Default)]
pub struct RunOptions<'a> {
    /// Stop starting new cases after the first failure.
    pub fail_fast: bool,
    /// Called as each case finishes (in completion order: for progress only).
    pub on_case: Option<&'a (dyn Fn(&CaseResult) + Sync)>,
    /// Where goldens live (`goldens/<suite>/<case>.packet.json`).
    pub goldens: Option<&'a Path>,
    /// Keep each case's artifacts and packet bytes (goldens, promotion need them;
    /// a large eval does not, and memory stays flat without them).
    pub keep_packets: bool,
    /// Put a drill-down in every case result, not only in failing ones.
    pub all_details: bool,
}

impl std::fmt::Debug for RunOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunOptions")
            .field("fail_fast", &self.fail_fast)
            .field("goldens", &self.goldens)
            .finish_non_exhaustive()
    }
}

/// The golden packet file of a case.
pub(crate) fn golden_path(goldens: &Path, suite: &str, case: &str) -> std::path::PathBuf {
    goldens.join(suite).join(format!("{case}.packet.json"))
}

fn detail(packet: &ReplayPacket, packet_bytes: &[u8]) -> CaseDetail {
    let record = &packet.decision_record;
    CaseDetail {
        answer: record.answer.clone(),
        tool_calls: packet.tool_envelopes.clone(),
        policy_decisions: record.policy_decisions.clone(),
        approvals: record.approvals.clone(),
        critic: packet.critic.clone(),
        context_manifest: packet
            .compiled_context
            .manifest
            .iter()
            .map(|l| {
                let ids: Vec<&str> = l
                    .sources
                    .iter()
                    .flat_map(|s| s.snippets.iter().map(|n| n.id.as_str()))
                    .collect();
                format!("{}/{} ({} tokens): {}", l.pack, l.layer, l.tokens, ids.join(", "))
            })
            .collect(),
        debt: packet.compiled_context.debt.iter().map(|d| d.message.clone()).collect(),
        packet: contextos_core::Digest::of_bytes(packet_bytes).to_string(),
    }
}

fn errored(case: &Case, error: String) -> CaseRun {
    CaseRun {
        result: CaseResult {
            name: case.file.name.clone(),
            tags: case.file.tags.clone(),
            passed: false,
            score: 0.0,
            outcome: None,
            error: Some(error),
            assertions: Vec::new(),
            detail: None,
        },
        artifacts: None,
        packet_bytes: None,
        unreadable_fixtures: false,
    }
}

fn unreadable(case: &Case, error: String) -> CaseRun {
    CaseRun {
        unreadable_fixtures: true,
        ..errored(case, error)
    }
}

/// Runs one case on its recorded fixtures and scores it.
pub(crate) fn run_case(dep: &Deployment, suite: &Suite, case: &Case, options: &RunOptions<'_>) -> CaseRun {
    let goldens = options.goldens;
    let fixtures = match Fixtures::load(&case.fixtures) {
        Ok(f) => f,
        Err(e) => return unreadable(case, format!("{e}")),
    };
    let artifacts = match run_on_fixtures(dep, &case.envelope, &fixtures) {
        Ok(a) => a,
        Err(e) => return errored(case, format!("{e}")),
    };
    let packet_bytes = match envelope_bytes(&artifacts.packet_envelope) {
        Ok(b) => b,
        Err(e) => return errored(case, format!("{e}")),
    };
    let golden = goldens
        .and_then(|g| std::fs::read(golden_path(g, &suite.file.name, &case.file.name)).ok())
        .map(|g| compare_packets(&g, &packet_bytes, &dep.keyring, GoldenMode::Behaviour));
    let judge = match Recording::load("model", &case.fixtures.join("judge")) {
        Ok(r) => RecordedModel::new(r),
        Err(e) => return unreadable(case, format!("{e}")),
    };
    let evidence = Evidence {
        packet: &artifacts.packet,
        packet_bytes: &packet_bytes,
        golden: golden.as_ref(),
        judge: &judge,
        judge_model: suite.file.judge.as_ref().map(|j| j.model.as_str()),
    };
    let mut results: Vec<AssertionResult> = Vec::new();
    for assertion in &case.file.assertions {
        match check(assertion, &evidence) {
            Ok(r) => results.push(r),
            Err(e) => return errored(case, e.to_string()),
        }
    }
    let total_weight: f64 = results.iter().map(|r| r.weight).sum();
    let score = if total_weight > 0.0 {
        results.iter().map(|r| r.weight * r.score).sum::<f64>() / total_weight
    } else {
        1.0
    };
    let outcome: RunOutcome = artifacts.packet.decision_record.outcome;
    let passed = results.iter().all(|r| r.passed);
    let result = CaseResult {
        name: case.file.name.clone(),
        tags: case.file.tags.clone(),
        passed,
        score: (score * 1e6).round() / 1e6,
        outcome: Some(outcome),
        error: None,
        assertions: results,
        detail: (options.all_details || !passed).then(|| detail(&artifacts.packet, &packet_bytes)),
    };
    if options.keep_packets {
        CaseRun {
            result,
            artifacts: Some(artifacts),
            packet_bytes: Some(packet_bytes),
            unreadable_fixtures: false,
        }
    } else {
        CaseRun {
            result,
            artifacts: None,
            packet_bytes: None,
            unreadable_fixtures: false,
        }
    }
}

/// Runs `cases` of `suite` in parallel; returns the runs in name order and the scorecard.
pub fn run_suite(
    dep: &Deployment,
    suite: &Suite,
    cases: &[&Case],
    partition: Option<String>,
    options: &RunOptions<'_>,
) -> (Vec<CaseRun>, Scorecard) {
    let stop = AtomicBool::new(false);
    let mut runs: Vec<CaseRun> = cases
        .par_iter()
        .filter_map(|case| {
            if options.fail_fast && stop.load(Ordering::Relaxed) {
                return None;
            }
            let run = run_case(dep, suite, case, options);
            if !run.result.passed {
                stop.store(true, Ordering::Relaxed);
            }
            if let Some(cb) = options.on_case {
                cb(&run.result);
            }
            Some(run)
        })
        .collect();
    runs.sort_by(|a, b| a.result.name.cmp(&b.result.name));
    let card = Scorecard::from_cases(
        &suite.file.name,
        partition,
        runs.iter().map(|r| r.result.clone()).collect(),
    );
    (runs, card)
}
