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

#![deny(missing_docs)]

mod adapters;
mod approval;
mod contract;
mod gateway;
pub mod http;
mod pin;
mod recording;
mod router;

pub use adapters::*;
pub use approval::*;
pub use contract::*;
pub use gateway::*;
pub use pin::*;
pub use recording::*;
pub use router::*;
