//! Policy impact: what a candidate policy set changes over every recorded
//! authorization request of a corpus, compared with a baseline set.

use std::collections::BTreeMap;

use contextos_core::{Digest, FORMAT_VERSION, PolicyOutcome};
use contextos_runtime::Deployment;
use contextos_trust::PolicyEngine;
use serde::{Deserialize, Serialize};

use crate::corpus::{Corpus, CorpusError, CorpusSource, Evaluated, NamedEngine, Reevaluator};

/// What about a decision differs between the baseline and the candidate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// Allow, deny or approval_required changed.
    Outcome,
    /// Other policies decide it.
    DeterminingPolicies,
    /// Other approver roles could grant it.
    ApproverRoles,
    /// Its evaluation fails under the candidate (and so denies, fail closed).
    NowErrors,
}

/// One recorded decision whose outcome, determining policies or approver
/// roles differ between the baseline and the candidate, or that errs under
/// the candidate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImpactChange {
    /// The packet's suite (parent directory name, or `store` for a stored run).
    pub suite: String,
    /// The packet's case (file name without `.packet.json`, or the stored run's id).
    pub case: String,
    /// Index of the decision in the packet's `policy_decisions`.
    pub index: u64,
    /// Cedar action, for example `Action::"call_tool"`.
    pub action: String,
    /// Cedar resource, for example `ContextOS::Tool::"issue_refund"`.
    pub resource: String,
    /// Cedar principal, for example `Agent::"triage-bot"`.
    pub principal: String,
    /// The outcome under the baseline.
    pub before: PolicyOutcome,
    /// The outcome under the candidate.
    pub after: PolicyOutcome,
    /// The policies that determined the baseline outcome.
    pub before_policies: Vec<String>,
    /// The policies that determined the candidate outcome.
    pub after_policies: Vec<String>,
    /// Roles whose approval would have granted it under the baseline.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub before_roles: Vec<String>,
    /// Roles whose approval would grant it under the candidate.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub after_roles: Vec<String>,
    /// Evaluation errors under the candidate.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors_after: Vec<String>,
    /// What differs, in a fixed order.
    pub what: Vec<ChangeKind>,
    /// The candidate's explanation.
    pub reason_after: String,
}

/// Outcome changes of one resource, by direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeCount {
    /// Allowed or approvable before, denied now.
    pub newly_denied: u64,
    /// Denied or approvable before, allowed now without asking.
    pub newly_allowed: u64,
    /// Allowed before, needs an approval now.
    pub now_needs_approval: u64,
    /// Denied before, approvable now.
    pub other: u64,
}

impl ChangeCount {
    fn add(&mut self, before: PolicyOutcome, after: PolicyOutcome) {
        match (before, after) {
            (_, PolicyOutcome::Deny) => self.newly_denied += 1,
            (_, PolicyOutcome::Allow) => self.newly_allowed += 1,
            (PolicyOutcome::Allow, PolicyOutcome::ApprovalRequired) => self.now_needs_approval += 1,
            _ => self.other += 1,
        }
    }
}

/// What a candidate policy set changes over a corpus.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ImpactReport {
    /// Document format version.
    pub format_version: u32,
    /// Digest of the baseline bundle.
    pub baseline_bundle: Digest,
    /// Digest of the candidate bundle.
    pub candidate_bundle: Digest,
    /// The corpus directories compared over, in the order given.
    #[serde(default)]
    pub corpora: Vec<CorpusSource>,
    /// Packets in the corpus.
    pub packets: u64,
    /// Decisions re-evaluated (recorded with their request).
    pub decisions: u64,
    /// Decisions recorded without their request (older packets): not re-evaluated.
    pub skipped: u64,
    /// Decisions whose recorded request does not fit the baseline's schema:
    /// recorded before a schema change (for example tool calls of format 1
    /// packets, before tools had their own actions). Counted, not compared.
    #[serde(default)]
    pub before_schema_change: u64,
    /// Decisions whose baseline outcome differs from the recorded one: the
    /// corpus was recorded under other policies (or other tools or packs).
    pub recorded_mismatch: u64,
    /// Decisions whose outcome changes, by suite, case and decision index.
    pub changes: Vec<ImpactChange>,
    /// Decisions whose outcome stays but whose determining policies or
    /// approver roles change, or that err under the candidate.
    pub reasons_changed: Vec<ImpactChange>,
    /// Outcome changes per resource.
    pub by_resource: BTreeMap<String, ChangeCount>,
    /// Per policy, the outcome changes whose baseline or candidate determining set names it.
    pub by_policy: BTreeMap<String, u64>,
}

impl ImpactReport {
    /// Whether the candidate changes nothing that matters: no outcome, no
    /// determining policies, no approver roles, no new evaluation error.
    pub fn is_unchanged(&self) -> bool {
        self.changes.is_empty() && self.reasons_changed.is_empty()
    }
}

/// Re-evaluates every recorded request of `corpus` under `baseline` and
/// `candidate` and lists what differs. Packets are evaluated in parallel; the
/// report is ordered by suite, case and decision index, so it is the same for
/// any thread count.
pub fn policy_impact(
    corpus: &Corpus,
    deployment: &Deployment,
    baseline: &PolicyEngine,
    candidate: &PolicyEngine,
) -> Result<ImpactReport, CorpusError> {
    let evaluator = Reevaluator::new(deployment);
    let engines = [
        NamedEngine {
            name: "baseline",
            engine: baseline,
        },
        NamedEngine {
            name: "candidate",
            engine: candidate,
        },
    ];
    let evaluated = evaluator.corpus(corpus, &engines)?;

    let mut report = ImpactReport {
        format_version: FORMAT_VERSION,
        baseline_bundle: baseline.bundle_digest(),
        candidate_bundle: candidate.bundle_digest(),
        corpora: corpus.sources.clone(),
        packets: corpus.packets.len() as u64,
        decisions: 0,
        skipped: 0,
        before_schema_change: 0,
        recorded_mismatch: 0,
        changes: Vec::new(),
        reasons_changed: Vec::new(),
        by_resource: BTreeMap::new(),
        by_policy: BTreeMap::new(),
    };
    for (packet, results) in corpus.packets.iter().zip(evaluated) {
        let recorded = &packet.packet.decision_record.policy_decisions;
        for (index, (decision, result)) in recorded.iter().zip(results).enumerate() {
            let Some([before, after]) = result.map(<[Evaluated; 2]>::try_from).and_then(Result::ok) else {
                report.skipped += 1;
                continue;
            };
            if before.unfit {
                report.before_schema_change += 1;
                continue;
            }
            report.decisions += 1;
            if before.outcome != decision.outcome {
                report.recorded_mismatch += 1;
            }
            let what = differences(&before, &after);
            if what.is_empty() {
                continue;
            }
            let change = ImpactChange {
                suite: packet.suite.clone(),
                case: packet.case.clone(),
                index: index as u64,
                action: decision.action.clone(),
                resource: decision.resource.clone(),
                principal: decision.principal.clone(),
                before: before.outcome,
                after: after.outcome,
                before_policies: before.determining,
                after_policies: after.determining,
                before_roles: before.approver_roles,
                after_roles: after.approver_roles,
                errors_after: after.errors,
                what,
                reason_after: after.reason,
            };
            if change.before == change.after {
                report.reasons_changed.push(change);
            } else {
                report.changes.push(change);
            }
        }
    }
    let order = |a: &ImpactChange, b: &ImpactChange| (&a.suite, &a.case, a.index).cmp(&(&b.suite, &b.case, b.index));
    report.changes.sort_by(order);
    report.reasons_changed.sort_by(order);
    for change in &report.changes {
        report
            .by_resource
            .entry(change.resource.clone())
            .or_default()
            .add(change.before, change.after);
        let mut policies: Vec<&String> = change.before_policies.iter().chain(&change.after_policies).collect();
        policies.sort();
        policies.dedup();
        for policy in policies {
            *report.by_policy.entry(policy.clone()).or_default() += 1;
        }
    }
    Ok(report)
}

/// What differs between two evaluations of one request.
fn differences(before: &Evaluated, after: &Evaluated) -> Vec<ChangeKind> {
    let mut what = Vec::new();
    if before.outcome != after.outcome {
        what.push(ChangeKind::Outcome);
    }
    if before.determining != after.determining {
        what.push(ChangeKind::DeterminingPolicies);
    }
    if before.approver_roles != after.approver_roles {
        what.push(ChangeKind::ApproverRoles);
    }
    if before.errors.is_empty() && !after.errors.is_empty() {
        what.push(ChangeKind::NowErrors);
    }
    what
}
