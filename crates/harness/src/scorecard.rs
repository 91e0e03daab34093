//! Scorecards: the deterministic result of a suite run, per case, per tag and
//! per assertion kind. No wall-clock times: the same suite gives the same
//! scorecard bytes for any thread count.

use std::collections::BTreeMap;

use contextos_core::{ApprovalRecord, CriticNote, PolicyDecision, RunOutcome, ToolEnvelope};
use serde::{Deserialize, Serialize};

/// The result of one assertion.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AssertionResult {
    /// Kind (`tool_called`, …).
    pub kind: String,
    /// Weight.
    pub weight: f64,
    /// Score in [0, 1].
    pub score: f64,
    /// Whether it passed.
    pub passed: bool,
    /// What was checked and what was found.
    pub message: String,
}

/// What a case run produced, for drill-down in reports.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CaseDetail {
    /// The answer.
    pub answer: String,
    /// The tool envelopes, in order.
    pub tool_calls: Vec<ToolEnvelope>,
    /// Every policy decision.
    pub policy_decisions: Vec<PolicyDecision>,
    /// Approvals.
    pub approvals: Vec<ApprovalRecord>,
    /// The critic's notes.
    pub critic: Vec<CriticNote>,
    /// Compiled-context manifest summary: `pack/layer: snippet ids`.
    pub context_manifest: Vec<String>,
    /// Context-debt warnings.
    pub debt: Vec<String>,
    /// The replay packet's digest (object id of the signed packet).
    pub packet: String,
}

/// The result of one case.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CaseResult {
    /// Case name.
    pub name: String,
    /// Tags.
    pub tags: Vec<String>,
    /// Whether every assertion passed (and the run did not error).
    pub passed: bool,
    /// Weighted score in [0, 1].
    pub score: f64,
    /// How the run ended (absent when it errored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<RunOutcome>,
    /// The error that stopped the run (a fixture miss, a bad file), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Assertion results, in declaration order.
    pub assertions: Vec<AssertionResult>,
    /// Drill-down (absent when the run errored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<CaseDetail>,
}

/// Pass counts for a group of cases or assertions.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Tally {
    /// Members.
    pub total: u64,
    /// Passing members.
    pub passed: u64,
    /// `passed / total` (1 when empty).
    pub pass_rate: f64,
}

impl Tally {
    /// Adds one member.
    pub fn add(&mut self, passed: bool) {
        self.total += 1;
        self.passed += u64::from(passed);
        self.pass_rate = rate(self.passed, self.total);
    }
}

/// `passed / total`, rounded to 6 decimals so the scorecard is byte-stable; 1 when empty.
pub fn rate(passed: u64, total: u64) -> f64 {
    if total == 0 {
        return 1.0;
    }
    #[expect(clippy::cast_precision_loss, reason = "case counts are far below 2^52")]
    let r = passed as f64 / total as f64;
    (r * 1e6).round() / 1e6
}

/// The scorecard of a suite run (or of merged shards).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Scorecard {
    /// Document format version.
    pub format_version: u32,
    /// Suite name.
    pub suite: String,
    /// `I/N` when this scorecard covers one shard.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<String>,
    /// Case results, sorted by name.
    pub cases: Vec<CaseResult>,
    /// All cases.
    pub overall: Tally,
    /// Mean weighted score over cases.
    pub mean_score: f64,
    /// Cases per tag.
    pub by_tag: BTreeMap<String, Tally>,
    /// Assertions per kind.
    pub by_kind: BTreeMap<String, Tally>,
}

impl Scorecard {
    /// Builds the totals from case results (sorted by name first).
    pub fn from_cases(suite: &str, partition: Option<String>, mut cases: Vec<CaseResult>) -> Self {
        cases.sort_by(|a, b| a.name.cmp(&b.name));
        let mut overall = Tally::default();
        let mut by_tag: BTreeMap<String, Tally> = BTreeMap::new();
        let mut by_kind: BTreeMap<String, Tally> = BTreeMap::new();
        let mut score_sum = 0.0;
        for case in &cases {
            overall.add(case.passed);
            score_sum += case.score;
            for tag in &case.tags {
                by_tag.entry(tag.clone()).or_default().add(case.passed);
            }
            for a in &case.assertions {
                by_kind.entry(a.kind.clone()).or_default().add(a.passed);
            }
        }
        #[expect(clippy::cast_precision_loss, reason = "case counts are far below 2^52")]
        let mean = if cases.is_empty() {
            1.0
        } else {
            score_sum / cases.len() as f64
        };
        Self {
            format_version: contextos_core::FORMAT_VERSION,
            suite: suite.to_string(),
            partition,
            cases,
            overall,
            mean_score: (mean * 1e6).round() / 1e6,
            by_tag,
            by_kind,
        }
    }

    /// Merges shard scorecards of one suite into one (cases re-sorted, totals recomputed).
    pub fn merge(parts: Vec<Scorecard>) -> Result<Self, String> {
        let Some(first) = parts.first() else {
            return Err("nothing to merge".into());
        };
        let suite = first.suite.clone();
        let mut cases = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for part in parts {
            if part.suite != suite {
                return Err(format!(
                    "cannot merge scorecards of suites {suite:?} and {:?}",
                    part.suite
                ));
            }
            for case in part.cases {
                if !seen.insert(case.name.clone()) {
                    return Err(format!("case {:?} appears in more than one shard", case.name));
                }
                cases.push(case);
            }
        }
        Ok(Self::from_cases(&suite, None, cases))
    }
}
