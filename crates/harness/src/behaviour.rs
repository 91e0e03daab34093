//! What a run did, apart from where its inputs came from.
//!
//! A golden packet holds everything; most of it is provenance (the bundle,
//! pack and contract digests, and the ids derived from them: decision ids,
//! replay ids, idempotency keys, request digests). Goldens compare the
//! [`Behaviour`] view, so a policy edit fails only the cases whose behaviour
//! it changes; provenance changes are reported apart, as information.

use std::collections::BTreeMap;

use contextos_core::{
    ApprovalMode, ApprovalVerdict, BudgetReport, ContextLayer, CriticNote, Digest, OmitReason, PolicyOutcome,
    ReplayPacket, RunOutcome, RunUsage, ShadowEffect, ToolCallStatus,
};
use contextos_trust::{Keyring, SignedEnvelope};
use serde::Serialize;
use serde_json::Value;
use similar::TextDiff;

/// The behaviour of one run: what a golden comparison fails on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Behaviour<'a> {
    /// How the run ended.
    pub outcome: RunOutcome,
    /// The final answer.
    pub answer: &'a str,
    /// The answer's confidence.
    pub confidence: f64,
    /// Every tool call, in call order.
    pub tool_calls: Vec<ToolCallBehaviour<'a>>,
    /// Every policy decision, in order.
    pub policy_decisions: Vec<PolicyBehaviour<'a>>,
    /// Approvals asked for and given.
    pub approvals: Vec<ApprovalBehaviour<'a>>,
    /// The critic's verdicts.
    pub critic: &'a [CriticNote],
    /// What the run spent.
    pub usage: &'a RunUsage,
    /// The token budget of the compiled context.
    pub budget: &'a BudgetReport,
    /// The context the model saw, layer by layer.
    pub manifest: Vec<LayerBehaviour<'a>>,
    /// Context left out, and why.
    pub omitted: Vec<OmittedBehaviour<'a>>,
    /// Memory proposals, by statement.
    pub memory_proposals: Vec<&'a str>,
}

/// One tool call.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToolCallBehaviour<'a> {
    /// The tool.
    pub tool: &'a str,
    /// Its approval mode.
    pub approval_mode: ApprovalMode,
    /// The arguments (as recorded, redacted).
    pub arguments: &'a Value,
    /// The policy outcome.
    pub policy_outcome: PolicyOutcome,
    /// What happened.
    pub status: ToolCallStatus,
    /// The result, when there is one.
    pub result: Option<&'a Value>,
}

/// One policy decision, without its id and explanation text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PolicyBehaviour<'a> {
    /// The principal.
    pub principal: &'a str,
    /// The action.
    pub action: &'a str,
    /// The resource.
    pub resource: &'a str,
    /// The outcome.
    pub outcome: PolicyOutcome,
    /// The policies that decided it.
    pub determining_policies: &'a [String],
    /// Roles whose approval would permit it.
    pub approver_roles: &'a [String],
    /// What shadow policies would have changed.
    pub shadow: &'a [ShadowEffect],
    /// Evaluation errors.
    pub errors: &'a [String],
}

/// One approval, without its timestamp.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApprovalBehaviour<'a> {
    /// Who answered.
    pub approver: &'a str,
    /// In which role.
    pub role: &'a str,
    /// Granted or refused.
    pub verdict: ApprovalVerdict,
    /// How the approval arrived.
    pub channel: &'a str,
}

/// One layer of the context manifest: which snippets of which sources.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LayerBehaviour<'a> {
    /// The layer.
    pub layer: ContextLayer,
    /// Tokens it used.
    pub tokens: u64,
    /// Included snippet ids by source uri.
    pub snippets: BTreeMap<&'a str, Vec<&'a str>>,
}

/// One omitted snippet.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OmittedBehaviour<'a> {
    /// The layer.
    pub layer: ContextLayer,
    /// The snippet.
    pub id: &'a str,
    /// Why it was left out.
    pub reason: OmitReason,
    /// Its tokens.
    pub tokens: u64,
}

impl<'a> Behaviour<'a> {
    /// The behaviour view of `packet`.
    pub fn of(packet: &'a ReplayPacket) -> Self {
        let record = &packet.decision_record;
        let context = &packet.compiled_context;
        Self {
            outcome: record.outcome,
            answer: &record.answer,
            confidence: record.confidence,
            tool_calls: packet
                .tool_envelopes
                .iter()
                .map(|e| ToolCallBehaviour {
                    tool: &e.tool,
                    approval_mode: e.approval_mode,
                    arguments: &e.arguments,
                    policy_outcome: e.policy_outcome,
                    status: e.status,
                    result: e.result.as_ref(),
                })
                .collect(),
            policy_decisions: record
                .policy_decisions
                .iter()
                .map(|d| PolicyBehaviour {
                    principal: &d.principal,
                    action: &d.action,
                    resource: &d.resource,
                    outcome: d.outcome,
                    determining_policies: &d.determining_policies,
                    approver_roles: &d.approver_roles,
                    shadow: &d.shadow,
                    errors: &d.errors,
                })
                .collect(),
            approvals: record
                .approvals
                .iter()
                .map(|a| ApprovalBehaviour {
                    approver: &a.approver,
                    role: &a.role,
                    verdict: a.verdict,
                    channel: &a.channel,
                })
                .collect(),
            critic: &packet.critic,
            usage: &record.usage,
            budget: &context.budget,
            manifest: context
                .manifest
                .iter()
                .map(|layer| LayerBehaviour {
                    layer: layer.layer,
                    tokens: layer.tokens,
                    snippets: layer
                        .sources
                        .iter()
                        .map(|s| (s.uri.as_str(), s.snippets.iter().map(|n| n.id.as_str()).collect()))
                        .collect(),
                })
                .collect(),
            omitted: context
                .omitted
                .iter()
                .map(|o| OmittedBehaviour {
                    layer: o.layer,
                    id: &o.id,
                    reason: o.reason,
                    tokens: o.tokens,
                })
                .collect(),
            memory_proposals: record.memory_proposals.iter().map(|m| m.statement.as_str()).collect(),
        }
    }

    /// The view as indented JSON, for diffs.
    pub fn pretty(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

/// A provenance difference between two packets: informational, never a failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProvenanceChange {
    /// What changed (`policy bundle`, `pack support_escalation:18`, `tool contract issue_refund`, `ids`).
    pub subject: String,
    /// The golden's value.
    pub golden: String,
    /// This run's value.
    pub run: String,
}

impl std::fmt::Display for ProvenanceChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {} -> {}", self.subject, self.golden, self.run)
    }
}

/// How the provenance of `run` differs from that of `golden`: bundle, pack
/// and contract digests, then whether derived ids changed.
pub fn provenance_changes(golden: &ReplayPacket, run: &ReplayPacket) -> Vec<ProvenanceChange> {
    let mut out = Vec::new();
    let mut push = |subject: String, golden: String, run: String| {
        if golden != run {
            out.push(ProvenanceChange { subject, golden, run });
        }
    };
    let short = |d: &Digest| d.to_string().chars().take(19).collect::<String>();
    push(
        "policy bundle".into(),
        short(&golden.inputs.policy_bundle),
        short(&run.inputs.policy_bundle),
    );
    let packs = |p: &ReplayPacket| {
        p.inputs
            .packs
            .iter()
            .map(|r| format!("{} {}", r.id, short(&r.digest)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    push("packs".into(), packs(golden), packs(run));
    let names: std::collections::BTreeSet<&String> = golden
        .inputs
        .tool_contracts
        .keys()
        .chain(run.inputs.tool_contracts.keys())
        .collect();
    let absent = || "(none)".to_string();
    for name in names {
        let digest = |p: &ReplayPacket| p.inputs.tool_contracts.get(name).map(short).unwrap_or_else(absent);
        push(format!("tool contract {name}"), digest(golden), digest(run));
    }
    let ids = |p: &ReplayPacket| {
        let mut all = vec![p.replay_id.clone()];
        all.extend(p.decision_record.policy_decisions.iter().map(|d| d.decision_id.clone()));
        all.extend(p.tool_envelopes.iter().map(|e| e.idempotency_key.clone()));
        all.extend(p.interactions.iter().map(|i| i.request_digest.hex()));
        contextos_core::digest_of(&all).map(|d| short(&d)).unwrap_or_default()
    };
    push(
        "derived ids (replay, decision, idempotency, request digests)".into(),
        ids(golden),
        ids(run),
    );
    out
}

/// How goldens are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GoldenMode {
    /// Fail on a change of behaviour; report provenance changes apart.
    #[default]
    Behaviour,
    /// Fail on any byte difference (for refactors that must change nothing).
    Exact,
}

/// The result of comparing a run's packet with its golden.
#[derive(Debug, Clone, PartialEq)]
pub enum GoldenComparison {
    /// Byte for byte the same.
    Identical,
    /// Same behaviour; only provenance (digests, ids) or encoding differs.
    ProvenanceOnly(Vec<ProvenanceChange>),
    /// The behaviour differs: a unified diff of the behaviour views (golden first).
    BehaviourChanged(String),
}

fn verified_packet(bytes: &[u8], keyring: &Keyring) -> Option<ReplayPacket> {
    let envelope = serde_json::from_slice::<SignedEnvelope>(bytes).ok()?;
    keyring.verify_as(&envelope, &envelope.payload_type).ok()
}

fn pretty_payload(bytes: &[u8], keyring: &Keyring) -> String {
    match verified_packet(bytes, keyring) {
        Some(packet) => serde_json::to_string_pretty(&packet).unwrap_or_default(),
        None => format!("(not a verifiable signed packet: {} bytes)", bytes.len()),
    }
}

fn unified(old: &str, new: &str) -> String {
    TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header("golden", "this run")
        .to_string()
}

/// Compares a run's signed packet with its golden. Both must verify against
/// `keyring`; one that does not is a behaviour change (shown whole).
pub fn compare_packets(golden: &[u8], run: &[u8], keyring: &Keyring, mode: GoldenMode) -> GoldenComparison {
    if golden == run {
        return GoldenComparison::Identical;
    }
    let (Some(old), Some(new)) = (verified_packet(golden, keyring), verified_packet(run, keyring)) else {
        return GoldenComparison::BehaviourChanged(unified(
            &pretty_payload(golden, keyring),
            &pretty_payload(run, keyring),
        ));
    };
    let (old_view, new_view) = (Behaviour::of(&old), Behaviour::of(&new));
    if mode == GoldenMode::Exact || old_view != new_view {
        let diff = if old_view == new_view {
            let whole = |p: &ReplayPacket| serde_json::to_string_pretty(p).unwrap_or_default();
            unified(&whole(&old), &whole(&new))
        } else {
            unified(&old_view.pretty(), &new_view.pretty())
        };
        return GoldenComparison::BehaviourChanged(if diff.trim().is_empty() {
            "payloads are equal; the signature or encoding differs".to_string()
        } else {
            diff
        });
    }
    GoldenComparison::ProvenanceOnly(provenance_changes(&old, &new))
}
