//! Test and bench support for the ContextOS crates: the scaffolding their
//! integration tests and benchmarks would otherwise each write again.
//!
//! - [`repo`]: the repository root, for the shipped `policies/`, `runtime/`
//!   and `tests/peers`.
//! - [`run_context`]: the standard run of tenant acme (user alice, agent
//!   triage-bot).
//! - [`World`] and [`world`]: the shipped policies, a tool catalog and that
//!   run as Cedar entities; [`World::call`] sends one tool call through a
//!   real `ToolGateway` with a fixed clock, sequential ids, recorded
//!   approvals and in-memory idempotency; [`catalog_of`] makes a catalog of
//!   contracts and [`EchoAdapter`] stands in for a tool that answers at once.
//! - [`peers`]: the MCP reference servers pinned in `tests/peers`, on stdio
//!   or over streamable HTTP.
//!
//! Only ever a `[dev-dependencies]` entry of integration tests and benches:
//! never a dependency of a library or the binary, and never used from a
//! crate's own `src` unit tests (there the dev-dependency cycle through
//! `contextos-action` would link two copies of that crate). It fails loudly
//! (panics) on broken fixtures instead of returning errors.

#![deny(missing_docs)]
#![expect(clippy::expect_used, reason = "test support fails loudly")]

use std::path::{Path, PathBuf};

use contextos_core::{AgentRef, ApprovalMode, RunBudget, RunContext, SafetyMode, UserRef};

pub mod peers;
mod world;

pub use world::{EchoAdapter, TestGateway, World, catalog_of, world};

/// The W3C trace id of [`run_context`]: every envelope's `traceparent` starts with `00-{TRACE_ID}-`.
pub const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

/// The repository root (canonical).
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the repository root exists")
}

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
