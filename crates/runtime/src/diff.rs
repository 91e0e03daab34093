//! Structured differences between two replay packets: what a change of
//! policies, tools, packs or thresholds did to a run.

use contextos_action::differing_pointers;
use contextos_core::{
    ApprovalRecord, DecisionRecord, Digest, InteractionKind, ModelRequest, PolicyOutcome, ReplayPacket, RunOutcome,
    ToolCallStatus, ToolEnvelope,
};
use contextos_decision::{RequestDrift, request_drift};
use contextos_trust::PolicyInfo;
use serde::Serialize;
use serde_json::Value;

/// A policy that determined a decision, and where it is written when the
/// bundle the run was decided under is at hand.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PolicyRef {
    /// The policy's `@id`.
    pub id: String,
    /// The file it was loaded from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// The 1-based line of its `permit` / `forbid` keyword.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
}

impl std::fmt::Display for PolicyRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.file, self.line) {
            (Some(file), Some(line)) => write!(f, "{} ({file}:{line})", self.id),
            _ => f.write_str(&self.id),
        }
    }
}

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
    /// The policies that determined the decision, from the decision record.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub determining_policies: Vec<PolicyRef>,
    /// The roles whose approval would permit the call, when it needed one
    /// (from its `approval_required` decision).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approver_roles: Vec<String>,
}

/// How one tool call changed.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CallChange {
    /// `newly_denied`, `newly_allowed`, `now_needs_approval`, `no_longer_needs_approval`,
    /// `status_changed`, `reasons_changed` (same outcome, other determining
    /// policies or approver roles), `added` or `removed`.
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

    /// Whether what the run did differs: its outcome, answer, confidence,
    /// tool calls or approvals (not only its inputs or what the model was shown).
    pub fn behaviour_changed(&self) -> bool {
        self.outcome.is_some()
            || self.answer.is_some()
            || self.confidence.is_some()
            || !self.tool_calls.is_empty()
            || self.approvals.is_some()
    }

    /// Fills in the file and line of each changed call's determining
    /// policies, from the bundle its side was decided under (`None`: not at
    /// hand, the ids stay bare).
    pub fn locate_policies(&mut self, before: Option<&[PolicyInfo]>, after: Option<&[PolicyInfo]>) {
        let locate = |side: &mut Option<CallSide>, bundle: Option<&[PolicyInfo]>| {
            let (Some(side), Some(bundle)) = (side.as_mut(), bundle) else {
                return;
            };
            for policy in &mut side.determining_policies {
                if let Some(info) = bundle.iter().find(|p| p.id == policy.id) {
                    policy.file = Some(info.file.clone());
                    policy.line = Some(info.line);
                }
            }
        };
        for call in &mut self.tool_calls {
            locate(&mut call.before, before);
            locate(&mut call.after, after);
        }
    }
}

fn side(e: &ToolEnvelope, record: &DecisionRecord) -> CallSide {
    let decisions = &record.policy_decisions;
    let at = decisions.iter().position(|d| d.decision_id == e.policy_decision_id);
    let decision = at.map(|i| &decisions[i]);
    // A call decided under a granted approval was first asked for: the
    // gateway records that `approval_required` decision just before.
    let asked = match (at, decision) {
        (Some(i), Some(d)) if d.outcome != PolicyOutcome::ApprovalRequired && i > 0 && e.approval.is_some() => {
            Some(&decisions[i - 1]).filter(|a| a.outcome == PolicyOutcome::ApprovalRequired && a.resource == d.resource)
        }
        _ => decision,
    };
    CallSide {
        policy: e.policy_outcome,
        status: e.status,
        approval: e
            .approval
            .as_ref()
            .map(|a| format!("{:?} by {} ({})", a.verdict, a.approver, a.role).to_lowercase()),
        determining_policies: decision
            .map(|d| {
                d.determining_policies
                    .iter()
                    .map(|id| PolicyRef {
                        id: id.clone(),
                        file: None,
                        line: None,
                    })
                    .collect()
            })
            .unwrap_or_default(),
        approver_roles: asked.map(|d| d.approver_roles.clone()).unwrap_or_default(),
    }
}

fn classify(before: &CallSide, after: &CallSide) -> Option<&'static str> {
    use PolicyOutcome::{Allow, ApprovalRequired, Deny};
    let ran = |s: &CallSide| matches!(s.status, ToolCallStatus::Executed | ToolCallStatus::Deduplicated);
    let same_reasons =
        before.determining_policies == after.determining_policies && before.approver_roles == after.approver_roles;
    Some(match (before.policy, after.policy) {
        (a, b) if a == b && before.status == after.status && before.approval == after.approval => {
            if same_reasons {
                return None;
            }
            "reasons_changed"
        }
        (a, b) if a == b && before.status == after.status && before.approval.is_some() && after.approval.is_none() => {
            "no_longer_needs_approval"
        }
        (a, b) if a == b && before.status == after.status && before.approval.is_none() && after.approval.is_some() => {
            "now_needs_approval"
        }
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
                let (before, after) = (side(ea, ra), side(eb, rb));
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
                before: Some(side(ea, ra)),
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
            after: Some(side(eb, rb)),
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
        model_drift: drift.iter().map(|d| (d.call, d.changes.clone())).collect(),
    }
}

/// The first call of a replayed run that asked for something its recording
/// does not have.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Divergence {
    /// `model call 2` or `tool call 3 (issue_refund)`: 1-based, counted per kind.
    pub call: String,
    /// The recorded call it is compared with (the model call at the same
    /// position, or the nearest recorded call of the same tool); absent when
    /// the recording has none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nearest: Option<String>,
    /// What differs from it: by tool name and message role for a model
    /// request, by JSON pointer for a tool request.
    pub changes: Vec<String>,
}

/// Where `replayed` first asked for a model response or tool result that
/// `recorded` does not hold at that point, walking both runs' interactions in
/// call order; `None` when every interaction of `replayed` is the recorded one.
pub fn first_divergence(recorded: &ReplayPacket, replayed: &ReplayPacket) -> Option<Divergence> {
    let of_kind = |p: &ReplayPacket, kind: InteractionKind| -> Vec<Value> {
        p.interactions
            .iter()
            .filter(|i| i.kind == kind)
            .map(|i| i.request.clone())
            .collect()
    };
    let (old_models, old_tools) = (
        of_kind(recorded, InteractionKind::Model),
        of_kind(recorded, InteractionKind::Tool),
    );
    let (mut models, mut tools) = (0, 0);
    for (i, new) in replayed.interactions.iter().enumerate() {
        match new.kind {
            InteractionKind::Model => models += 1,
            InteractionKind::Tool => tools += 1,
        }
        let old = recorded.interactions.get(i);
        if old.is_some_and(|o| o.kind == new.kind && o.request == new.request) {
            continue;
        }
        return Some(match new.kind {
            InteractionKind::Model => {
                let call = format!("model call {models}");
                match old_models.get(models - 1) {
                    Some(old) => {
                        let parse = |v: &Value| serde_json::from_value::<ModelRequest>(v.clone()).ok();
                        let changes = match (parse(old), parse(&new.request)) {
                            (Some(a), Some(b)) => request_drift(&a, &b),
                            _ => differing_pointers(old, &new.request),
                        };
                        Divergence {
                            call,
                            nearest: Some(format!("recorded model call {models}")),
                            changes,
                        }
                    }
                    None => Divergence {
                        call,
                        nearest: None,
                        changes: vec![format!(
                            "the recording has {} model call{}",
                            old_models.len(),
                            if old_models.len() == 1 { "" } else { "s" }
                        )],
                    },
                }
            }
            InteractionKind::Tool => {
                let tool = new.request["tool"].as_str().unwrap_or("?").to_string();
                let call = format!("tool call {tools} ({tool})");
                let nearest = old_tools
                    .iter()
                    .enumerate()
                    .filter(|(_, r)| r["tool"] == new.request["tool"])
                    .map(|(j, r)| (j, differing_pointers(r, &new.request)))
                    .min_by_key(|(j, d)| (d.len(), *j));
                match nearest {
                    Some((j, pointers)) => Divergence {
                        call,
                        nearest: Some(format!("recorded tool call {} ({tool})", j + 1)),
                        changes: pointers.into_iter().map(|p| format!("differs at {p}")).collect(),
                    },
                    None => Divergence {
                        call,
                        nearest: None,
                        changes: vec![format!("the recording never called {tool}")],
                    },
                }
            }
        });
    }
    None
}
