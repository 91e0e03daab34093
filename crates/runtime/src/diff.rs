//! Structured differences between two replay packets: what a change of
//! policies, tools, packs or thresholds did to a run.

use contextos_core::{ApprovalRecord, Digest, PolicyOutcome, ReplayPacket, RunOutcome, ToolCallStatus, ToolEnvelope};
use contextos_decision::RequestDrift;
use serde::Serialize;
use serde_json::Value;

/// A tool call as compared across packets.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CallSide {
    /// Policy outcome.
    pub policy: PolicyOutcome,
    /// What happened.
    pub status: ToolCallStatus,
    /// Approver verdict, if asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval: Option<String>,
}

/// How one tool call changed.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CallChange {
    /// `newly_denied`, `newly_allowed`, `now_needs_approval`, `no_longer_needs_approval`,
    /// `status_changed`, `added` or `removed`.
    pub change: String,
    /// The tool.
    pub tool: String,
    /// Its arguments.
    pub arguments: Value,
    /// Before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<CallSide>,
    /// After.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<CallSide>,
}

/// A changed value.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Change<T> {
    /// Before.
    pub before: T,
    /// After.
    pub after: T,
}

fn change<T: PartialEq + Clone>(a: &T, b: &T) -> Option<Change<T>> {
    (a != b).then(|| Change {
        before: a.clone(),
        after: b.clone(),
    })
}

/// Everything that differs between two packets.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct PacketDiff {
    /// Run outcome.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Change<RunOutcome>>,
    /// Answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answer: Option<Change<String>>,
    /// Critic confidence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confidence: Option<Change<f64>>,
    /// Tool calls that changed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<CallChange>,
    /// Approvals.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approvals: Option<Change<Vec<ApprovalRecord>>>,
    /// Policy bundle digest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_bundle: Option<Change<Digest>>,
    /// Tool contracts whose digest changed, appeared or disappeared.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tool_contracts: Vec<String>,
    /// Evaluator thresholds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thresholds: Option<Change<std::collections::BTreeMap<String, f64>>>,
    /// Compiled prompt (digests, since prompts are long).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt: Option<Change<Digest>>,
    /// Snippet ids included before or after but not both.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub context_snippets: Vec<String>,
    /// Model calls whose request drifted in a replay.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub model_drift: Vec<(usize, Vec<String>)>,
}

impl PacketDiff {
    /// Whether nothing differs.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

fn side(e: &ToolEnvelope) -> CallSide {
    CallSide {
        policy: e.policy_outcome,
        status: e.status,
        approval: e
            .approval
            .as_ref()
            .map(|a| format!("{:?} by {} ({})", a.verdict, a.approver, a.role).to_lowercase()),
    }
}

fn classify(before: &CallSide, after: &CallSide) -> Option<&'static str> {
    use PolicyOutcome::{Allow, ApprovalRequired, Deny};
    let ran = |s: &CallSide| matches!(s.status, ToolCallStatus::Executed | ToolCallStatus::Deduplicated);
    Some(match (before.policy, after.policy) {
        (a, b) if a == b && before.status == after.status && before.approval == after.approval => return None,
        (Allow | ApprovalRequired, Deny) => "newly_denied",
        (Deny, Allow) => "newly_allowed",
        (Deny | Allow, ApprovalRequired) => "now_needs_approval",
        (ApprovalRequired, Allow) => "no_longer_needs_approval",
        _ if ran(before) && !ran(after) => "newly_denied",
        _ if !ran(before) && ran(after) => "newly_allowed",
        _ => "status_changed",
    })
}

/// Compares two packets.
pub fn diff_packets(a: &ReplayPacket, b: &ReplayPacket, drift: &[RequestDrift]) -> PacketDiff {
    let ra = &a.decision_record;
    let rb = &b.decision_record;
    // Match calls by (tool, arguments) in order of occurrence.
    let mut unmatched: Vec<Option<&ToolEnvelope>> = b.tool_envelopes.iter().map(Some).collect();
    let mut tool_calls = Vec::new();
    for ea in &a.tool_envelopes {
        let found = unmatched
            .iter_mut()
            .find(|slot| slot.is_some_and(|eb| eb.tool == ea.tool && eb.arguments == ea.arguments));
        match found.and_then(Option::take) {
            Some(eb) => {
                let (before, after) = (side(ea), side(eb));
                if let Some(kind) = classify(&before, &after) {
                    tool_calls.push(CallChange {
                        change: kind.into(),
                        tool: ea.tool.clone(),
                        arguments: ea.arguments.clone(),
                        before: Some(before),
                        after: Some(after),
                    });
                }
            }
            None => tool_calls.push(CallChange {
                change: "removed".into(),
                tool: ea.tool.clone(),
                arguments: ea.arguments.clone(),
                before: Some(side(ea)),
                after: None,
            }),
        }
    }
    for eb in unmatched.into_iter().flatten() {
        tool_calls.push(CallChange {
            change: "added".into(),
            tool: eb.tool.clone(),
            arguments: eb.arguments.clone(),
            before: None,
            after: Some(side(eb)),
        });
    }
    let mut tool_contracts: Vec<String> = a
        .inputs
        .tool_contracts
        .keys()
        .chain(b.inputs.tool_contracts.keys())
        .filter(|k| a.inputs.tool_contracts.get(*k) != b.inputs.tool_contracts.get(*k))
        .cloned()
        .collect();
    tool_contracts.sort();
    tool_contracts.dedup();
    let snippets = |p: &ReplayPacket| -> std::collections::BTreeSet<String> {
        p.compiled_context
            .manifest
            .iter()
            .flat_map(|l| l.sources.iter())
            .flat_map(|s| s.snippets.iter().map(|n| n.id.clone()))
            .collect()
    };
    let (sa, sb) = (snippets(a), snippets(b));
    let context_snippets = sa
        .symmetric_difference(&sb)
        .map(|id| {
            if sa.contains(id) {
                format!("-{id}")
            } else {
                format!("+{id}")
            }
        })
        .collect();
    PacketDiff {
        outcome: change(&ra.outcome, &rb.outcome),
        answer: change(&ra.answer, &rb.answer),
        confidence: change(&ra.confidence, &rb.confidence),
        tool_calls,
        approvals: change(&ra.approvals, &rb.approvals),
        policy_bundle: change(&a.inputs.policy_bundle, &b.inputs.policy_bundle),
        tool_contracts,
        thresholds: change(&a.inputs.thresholds, &b.inputs.thresholds),
        prompt: change(
            &Digest::of_bytes(a.compiled_context.prompt.as_bytes()),
            &Digest::of_bytes(b.compiled_context.prompt.as_bytes()),
        ),
        context_snippets,
        model_drift: drift.iter().map(|d| (d.call, d.pointers.clone())).collect(),
    }
}
