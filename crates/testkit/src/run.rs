//! The standard run every test starts from.

use contextos_core::{AgentRef, ApprovalMode, RunBudget, RunContext, SafetyMode, UserRef};

/// The W3C trace id of [`run_context`]: every envelope's `traceparent` starts with `00-{TRACE_ID}-`.
pub const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

/// The standard run of tenant acme: user alice (`support_agent`), agent
/// triage-bot with its SPIFFE workload, safety `Standard`, a budget of 5
/// iterations, 10 tool calls and 10,000 tokens, and the given id and
/// approval ceiling. Change anything else with struct update syntax.
pub fn run_context(run_id: &str, approval_mode: ApprovalMode) -> RunContext {
    RunContext {
        format_version: 1,
        run_id: run_id.into(),
        trace_id: TRACE_ID.into(),
        session_id: "s".into(),
        tenant_id: "acme".into(),
        user: UserRef {
            id: "alice".into(),
            roles: vec!["support_agent".into()],
        },
        agent: AgentRef {
            id: "triage-bot".into(),
            workload: "spiffe://acme.example/agents/triage-bot".into(),
        },
        delegation_chain: vec![],
        safety_mode: SafetyMode::Standard,
        approval_mode,
        budget: RunBudget {
            max_iterations: 5,
            max_tool_calls: 10,
            max_tokens: 10_000,
            deadline: None,
        },
    }
}
