//! The ContextOS MCP client: real tools behind the gateway, over rmcp.
//!
//! Owns the server spec ([`McpServerSpec`], a YAML file naming the command,
//! its arguments and an explicit environment, or a streamable HTTP URL and
//! the variable holding its token), the synchronous client ([`McpClient`]:
//! spawns the server over stdio or opens an HTTP session, discovers its tools with
//! limits on the untrusted metadata, calls them with the W3C `traceparent`
//! in `_meta`), the conservative approval mode derived from MCP annotations
//! ([`conservative_mode`]: annotations are untrusted hints and only ever
//! raise the tier), pinning a discovered tool as a contract ([`contract_for`],
//! [`pin`]), schema drift against the pin ([`check_drift`]), and the gateway
//! adapter [`McpTools`], which refuses a call whose served schema drifted.
//!
//! It does not decide policy, approval or idempotency (the gateway in
//! `contextos-action` does, before the adapter runs), does not record
//! fixtures (the runtime's recording adapter does), and does not read the
//! environment (the CLI reads a token and passes it in).

#![deny(missing_docs)]

mod adapter;
mod client;
mod error;
mod pinning;
mod spec;

pub use adapter::McpTools;
pub use client::{DiscoveredTool, Hints, Limits, McpClient};
pub use error::McpError;
pub use pinning::{
    DriftReport, PinOutcome, SchemaDrift, check_drift, conservative_mode, contract_for, pin, schema_digest,
};
pub use spec::McpServerSpec;
