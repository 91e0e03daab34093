//! The primitives that travel through every plane. Every persisted document
//! carries `format_version`; maps are ordered (`BTreeMap`) so serialized
//! output is stable.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{CompiledContext, ContextPackRef, Digest, Timestamp};

/// The approval tier bound to every capability, ordered from least to most
/// authority: a run whose ceiling is `network` may use `read_only`,
/// `local_write` and `network` capabilities.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ApprovalMode {
    /// Reads only; no effect outside the run.
    ReadOnly,
    /// Writes inside the tenant's own systems.
    LocalWrite,
    /// Reaches a remote system or moves money or data outward.
    Network,
    /// Hands work to another agent.
    Delegated,
    /// Deletes or irreversibly changes something.
    Destructive,
}

impl ApprovalMode {
    /// Every mode, in ascending order of authority.
    pub const ALL: [Self; 5] = [
        Self::ReadOnly,
        Self::LocalWrite,
        Self::Network,
        Self::Delegated,
        Self::Destructive,
    ];

    /// The snake_case name used in documents and Cedar policies.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ReadOnly => "read_only",
            Self::LocalWrite => "local_write",
            Self::Network => "network",
            Self::Delegated => "delegated",
            Self::Destructive => "destructive",
        }
    }

    /// The numeric level (0 = read_only … 4 = destructive) that Cedar policies compare.
    pub fn level(self) -> i64 {
        self as i64
    }
}

impl fmt::Display for ApprovalMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl FromStr for ApprovalMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|m| m.as_str() == s).ok_or_else(|| {
            format!(
                "unknown approval mode {s:?}, expected one of read_only, local_write, network, delegated, destructive"
            )
        })
    }
}

/// How much risk the operator allows this run to take.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum SafetyMode {
    /// Read-only investigation; policies deny effects.
    Restricted,
    /// The default.
    Standard,
    /// An operator raised the ceiling for this run (destructive tools become possible with approval).
    Elevated,
}

impl SafetyMode {
    /// The snake_case name used in documents and Cedar policies.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Restricted => "restricted",
            Self::Standard => "standard",
            Self::Elevated => "elevated",
        }
    }
}

/// Limits a run may not exceed; exhausting one ends the run in a recorded escalation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RunBudget {
    /// Planner/executor/critic iterations.
    pub max_iterations: u32,
    /// Tool calls across the run.
    pub max_tool_calls: u32,
    /// Model tokens (prompt and completion) across the run.
    pub max_tokens: u64,
    /// Deadline on the injected clock, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<Timestamp>,
}

/// The human the agent acts for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct UserRef {
    /// User id, unique within the tenant.
    pub id: String,
    /// The user's roles (for example `support_agent`).
    #[serde(default)]
    pub roles: Vec<String>,
}

/// The agent and the workload identity it runs as.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct AgentRef {
    /// Agent id (its Cedar entity id).
    pub id: String,
    /// Workload identity, for example a SPIFFE id.
    pub workload: String,
}

/// The canonical identity envelope of a run, fixed before the model sees anything.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RunContext {
    /// Document format version (1).
    pub format_version: u32,
    /// Run id.
    pub run_id: String,
    /// W3C trace id (32 lowercase hex digits).
    pub trace_id: String,
    /// Session the run belongs to.
    pub session_id: String,
    /// Tenant the run acts in.
    pub tenant_id: String,
    /// The user the agent acts for.
    pub user: UserRef,
    /// The acting agent.
    pub agent: AgentRef,
    /// Agents that delegated to this one, outermost first.
    #[serde(default)]
    pub delegation_chain: Vec<String>,
    /// Operator safety mode.
    pub safety_mode: SafetyMode,
    /// The highest approval mode any capability of this run may have.
    pub approval_mode: ApprovalMode,
    /// Run budget.
    pub budget: RunBudget,
}

/// What the policy engine decided for one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
// Named as the published scenario schema has always named it.
#[cfg_attr(
    feature = "schema",
    derive(schemars::JsonSchema),
    schemars(rename = "ExpectedPolicy")
)]
#[serde(rename_all = "snake_case")]
pub enum PolicyOutcome {
    /// Permitted as asked.
    Allow,
    /// Denied (forbidden, not permitted, or an evaluation error).
    Deny,
    /// Denied without an approval but permitted with one.
    ApprovalRequired,
}

impl PolicyOutcome {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Deny => "deny",
            Self::ApprovalRequired => "approval_required",
        }
    }
}

impl fmt::Display for PolicyOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// A shadow-mode policy that would have changed the outcome had it been enforced.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShadowEffect {
    /// The shadow policy's `@id`.
    pub policy_id: String,
    /// The outcome the request would have had.
    pub would_be: PolicyOutcome,
}

/// The explained outcome of one authorization request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyDecision {
    /// Content id of the request and its outcome (`pd_` + digest prefix).
    pub decision_id: String,
    /// Cedar principal, for example `Agent::"triage-bot"`.
    pub principal: String,
    /// Cedar action, for example `Action::"call_tool"`.
    pub action: String,
    /// Cedar resource, for example `Tool::"issue_refund"`.
    pub resource: String,
    /// The outcome.
    pub outcome: PolicyOutcome,
    /// `@id`s of the enforced policies that determined the outcome (for
    /// `approval_required`: the policies that would permit with the approval).
    pub determining_policies: Vec<String>,
    /// For `approval_required`: the approver roles whose approval permits the request.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approver_roles: Vec<String>,
    /// Shadow policies that would have changed the outcome.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shadow: Vec<ShadowEffect>,
    /// Evaluation errors (any error denies).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
    /// A sentence a person can read.
    pub reason: String,
    /// The request as it was decided, recorded where decisions are taken for
    /// a run (gateway, pack gate) so a policy change can be re-evaluated over
    /// recorded runs (`contextos policy impact`). Absent in older packets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<RecordedRequest>,
}

/// The part of an authorization request a [`PolicyDecision`] does not already
/// name (principal, action and resource are there): enough, with the run's
/// entities, to evaluate the same request against another policy set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedRequest {
    /// The Cedar context as Cedar JSON, without the `approval` attribute
    /// (the engine builds it from `approval_role`).
    pub context: Value,
    /// The role of the approver whose granted approval the request carried, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval_role: Option<String>,
}

/// Whether an approver granted or refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
// Named as the published scenario schema has always named it.
#[cfg_attr(
    feature = "schema",
    derive(schemars::JsonSchema),
    schemars(rename = "ExpectedVerdict")
)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalVerdict {
    /// The approver approved.
    Granted,
    /// The approver refused.
    Refused,
}

impl ApprovalVerdict {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Granted => "granted",
            Self::Refused => "refused",
        }
    }
}

impl fmt::Display for ApprovalVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// Who approved (or refused) an effect, and when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalRecord {
    /// Approver id.
    pub approver: String,
    /// The approver's role used for the policy decision.
    pub role: String,
    /// The verdict.
    pub verdict: ApprovalVerdict,
    /// When, on the injected clock.
    pub at: Timestamp,
    /// Where the verdict came from (`fixture`, `interactive`, `webhook:<url>`).
    pub channel: String,
}

/// What happened to a tool call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
// Named as the published scenario schema has always named it.
#[cfg_attr(
    feature = "schema",
    derive(schemars::JsonSchema),
    schemars(rename = "ExpectedStatus")
)]
#[serde(rename_all = "snake_case")]
pub enum ToolCallStatus {
    /// Executed and returned a result.
    Executed,
    /// Refused by policy or by a refused approval.
    Denied,
    /// Returned the stored result of an earlier call with the same idempotency key.
    Deduplicated,
    /// Executed and failed.
    Failed,
}

impl ToolCallStatus {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Executed => "executed",
            Self::Denied => "denied",
            Self::Deduplicated => "deduplicated",
            Self::Failed => "failed",
        }
    }
}

impl fmt::Display for ToolCallStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// The typed record of one external effect.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ToolEnvelope {
    /// Document format version.
    pub format_version: u32,
    /// Envelope id.
    pub envelope_id: String,
    /// The run.
    pub run_id: String,
    /// Tool name.
    pub tool: String,
    /// The tool contract's pinned approval mode.
    pub approval_mode: ApprovalMode,
    /// Call arguments (secrets redacted).
    pub arguments: Value,
    /// Idempotency key.
    pub idempotency_key: String,
    /// The policy decision that governed the call.
    pub policy_decision_id: String,
    /// Its outcome.
    pub policy_outcome: PolicyOutcome,
    /// Approval, when one was asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<ApprovalRecord>,
    /// What happened.
    pub status: ToolCallStatus,
    /// Result (secrets redacted), if executed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    /// Digests of the stored request and result evidence.
    pub evidence_refs: Vec<Digest>,
    /// W3C `traceparent` propagated into the call.
    pub traceparent: String,
    /// Start time on the injected clock.
    pub started_at: Timestamp,
    /// End time on the injected clock.
    pub finished_at: Timestamp,
}

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
// Named as the published scenario schema has always named it.
#[cfg_attr(
    feature = "schema",
    derive(schemars::JsonSchema),
    schemars(rename = "ExpectedOutcome")
)]
#[serde(rename_all = "snake_case")]
pub enum RunOutcome {
    /// The critic accepted an answer.
    Completed,
    /// Budget, critic or approval escalated to a human.
    Escalated,
    /// The critic rejected the plan outright.
    Rejected,
}

impl RunOutcome {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Completed => "completed",
            Self::Escalated => "escalated",
            Self::Rejected => "rejected",
        }
    }
}

impl fmt::Display for RunOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// One action the run took, as summarized in its decision record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionSummary {
    /// Tool name.
    pub tool: String,
    /// The envelope recording it.
    pub envelope_id: String,
    /// Its policy outcome.
    pub policy_outcome: PolicyOutcome,
    /// What happened.
    pub status: ToolCallStatus,
}

/// A proposed memory write, pending review before promotion.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryProposal {
    /// The fact to remember.
    pub statement: String,
    /// Evidence supporting it.
    pub evidence_refs: Vec<Digest>,
}

/// When the critic spoke.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CriticStage {
    /// Before any effect: the plan is checked.
    Verify,
    /// After the effects: the answer is scored.
    Score,
    /// A budget or deadline ran out.
    Budget,
}

impl CriticStage {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Verify => "verify",
            Self::Score => "score",
            Self::Budget => "budget",
        }
    }
}

impl fmt::Display for CriticStage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// What the critic decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CriticVerdict {
    /// The plan may run.
    Ok,
    /// Plan again.
    Replan,
    /// The plan is refused outright.
    Reject,
    /// The answer is accepted.
    Accept,
    /// Try the failed call again.
    Retry,
    /// Hand over to a human.
    Escalate,
}

impl CriticVerdict {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Replan => "replan",
            Self::Reject => "reject",
            Self::Accept => "accept",
            Self::Retry => "retry",
            Self::Escalate => "escalate",
        }
    }
}

impl fmt::Display for CriticVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// What the critic said, and when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CriticNote {
    /// 1-based iteration.
    pub iteration: u32,
    /// Before effects, after them, or on an exhausted budget.
    pub stage: CriticStage,
    /// The decision.
    pub verdict: CriticVerdict,
    /// Why.
    pub reason: String,
}

/// How much of its budget a run used.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunUsage {
    /// Planner iterations.
    pub iterations: u32,
    /// Tool calls (retries included).
    pub tool_calls: u32,
    /// Model tokens.
    pub tokens: u64,
}

/// The durable, signed outcome of a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DecisionRecord {
    /// Document format version.
    pub format_version: u32,
    /// The run.
    pub run_id: String,
    /// How the run ended.
    pub outcome: RunOutcome,
    /// The answer given.
    pub answer: String,
    /// Actions taken or refused.
    pub actions: Vec<ActionSummary>,
    /// Evidence the answer cites.
    pub citations: Vec<Digest>,
    /// All evidence captured during the run.
    pub evidence_refs: Vec<Digest>,
    /// Approvals asked for and their verdicts.
    pub approvals: Vec<ApprovalRecord>,
    /// Runtime controls in force.
    pub controls_active: Vec<String>,
    /// Every policy decision taken.
    pub policy_decisions: Vec<PolicyDecision>,
    /// Critic confidence in [0, 1].
    pub confidence: f64,
    /// Memory proposals produced by consolidation, pending review.
    #[serde(default)]
    pub memory_proposals: Vec<MemoryProposal>,
    /// Budget used.
    pub usage: RunUsage,
    /// W3C trace id.
    pub trace_id: String,
    /// The replay packet that reproduces this run.
    pub replay_id: String,
}

/// Which boundary an interaction crossed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InteractionKind {
    /// A model completion.
    Model,
    /// A tool call.
    Tool,
}

impl InteractionKind {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Model => "model",
            Self::Tool => "tool",
        }
    }
}

impl fmt::Display for InteractionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// One recorded model or tool interaction, keyed by the digest of its canonical request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecordedInteraction {
    /// Model or tool.
    pub kind: InteractionKind,
    /// Digest of the canonical request.
    pub request_digest: Digest,
    /// The canonical request.
    pub request: Value,
    /// The recorded response.
    pub response: Value,
}

/// Everything a run consumed, by content.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReplayInputs {
    /// The request (id, channel, text).
    pub request: Value,
    /// Start of the injected clock.
    pub started_at: Timestamp,
    /// The run context.
    pub run_context: RunContext,
    /// Digest of the policy bundle.
    pub policy_bundle: Digest,
    /// Context packs used.
    pub packs: Vec<ContextPackRef>,
    /// Tool contract digests by tool name.
    pub tool_contracts: BTreeMap<String, Digest>,
    /// Digest of the deployment's entity source, when it has one (format 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity_source: Option<Digest>,
    /// Model configuration.
    pub model_config: Value,
    /// Evaluator thresholds.
    pub thresholds: BTreeMap<String, f64>,
}

/// The reproducible package of a run: inputs, recorded interactions, outputs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReplayPacket {
    /// Document format version.
    pub format_version: u32,
    /// The run.
    pub run_id: String,
    /// `rp_` + digest prefix of the inputs: the handle the decision record cites.
    pub replay_id: String,
    /// The run this one replays, for replays.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replay_of: Option<String>,
    /// Inputs.
    pub inputs: ReplayInputs,
    /// What the model saw and what was left out.
    pub compiled_context: CompiledContext,
    /// Recorded model and tool interactions, in call order.
    pub interactions: Vec<RecordedInteraction>,
    /// Tool envelopes, in call order.
    pub tool_envelopes: Vec<ToolEnvelope>,
    /// The critic's notes, in order.
    pub critic: Vec<CriticNote>,
    /// The decision record.
    pub decision_record: DecisionRecord,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn approval_modes_are_ordered_and_named() {
        assert!(ApprovalMode::ReadOnly < ApprovalMode::Network);
        assert!(ApprovalMode::Network < ApprovalMode::Destructive);
        for m in ApprovalMode::ALL {
            assert_eq!(m.as_str().parse::<ApprovalMode>().unwrap(), m);
            assert_eq!(serde_json::to_value(m).unwrap(), Value::String(m.as_str().into()));
        }
        assert!("root".parse::<ApprovalMode>().is_err());
    }
}
