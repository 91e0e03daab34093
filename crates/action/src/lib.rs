//! The ContextOS action plane: tools are reached only through the gateway.
//!
//! Owns tool contracts (pinned schema, approval mode, side-effect class,
//! idempotency), the [`ToolGateway`] (argument validation, Cedar check,
//! approval, idempotency keys, execution, evidence capture, one
//! [`ToolEnvelope`](contextos_core::ToolEnvelope) per call), the approver
//! seam, and the recorded-fixture machinery shared by tools and models
//! ([`Recording`]: interactions keyed by the digest of the canonical request;
//! a miss names the nearest recorded request and the JSON pointers that
//! differ). Live adapters (MCP, OpenAPI) plug in behind [`ToolAdapter`], over
//! the [`http`] client, and a [`ToolRouter`] sends each call to the one
//! source that serves its tool.
//!
//! It does not plan (the decision plane does) and does not decide policy
//! (the trust plane does).
//!
//! The shipped tool contracts, each with the approval tier the gateway asks
//! Cedar about:
//!
//! ```
//! use std::path::Path;
//! use contextos_action::ToolCatalog;
//! use contextos_core::ApprovalMode;
//!
//! let catalog = ToolCatalog::load(Path::new("../../runtime/tools"))?;
//! let refund = catalog.get("issue_refund").ok_or("issue_refund is shipped")?;
//! assert_eq!(refund.contract.approval_mode, ApprovalMode::Network);
//! assert!(catalog.get("no_such_tool").is_none());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(missing_docs)]

mod adapters;
mod approval;
mod contract;
mod gateway;
pub mod http;
mod pin;
mod recording;
mod router;

pub use adapters::{RecordedTools, RecordingTools, ReplayTools, ScriptedResult, ScriptedTools};
pub use approval::{ApprovalAnswer, ApprovalRequest, Approver, RecordedApproval, RecordedApprover};
pub use contract::{
    CONTRACT_FORMAT_VERSION, ContractError, LoadedTool, PinnedSource, SideEffect, ToolCatalog, ToolContract,
    is_tool_name,
};
pub use gateway::{
    AdapterError, Attempt, FileIdempotency, GatewayCall, GatewayContext, GatewayError, IdempotencyStore,
    MemoryIdempotency, ToolAdapter, ToolGateway, idempotency_key, traceparent,
};
pub use pin::{DriftReport, PinError, PinOutcome, SchemaDrift, ServedTool, check_drift, pin_contract, side_effect_of};
pub use recording::{FixtureMiss, RecordedPair, Recording, RecordingError, differing_pointers};
pub use router::{RouteConflict, ToolRouter};
