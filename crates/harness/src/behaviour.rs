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
use serde::Serialize;
use serde_json::Value;

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
