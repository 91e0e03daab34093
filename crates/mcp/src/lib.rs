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
//!
//! A server spec, and the approval mode its untrusted annotations earn (a
//! missing hint demands the most authority):
//!
//! ```
//! use contextos_core::ApprovalMode;
//! use contextos_mcp::{Hints, McpServerSpec, conservative_mode};
//!
//! let spec = McpServerSpec::parse("fs.yaml", "name: fs\ncommand: node\nargs: [server.js]\n")?;
//! assert_eq!(spec.command_line(), "node server.js");
//! assert!(McpServerSpec::parse("x.yaml", "name: x\nurl: http://user:pw@h/mcp\n").is_err());
//!
//! let closed_read = Hints { read_only: Some(true), open_world: Some(false), ..Hints::default() };
//! assert_eq!(conservative_mode(&closed_read), ApprovalMode::ReadOnly);
//! assert_eq!(conservative_mode(&Hints::default()), ApprovalMode::Destructive);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

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
    DriftReport, PinOutcome, SchemaDrift, ServedBy, check_drift, conservative_mode, contract_for, origin_of, pin,
    schema_digest,
};
pub use spec::McpServerSpec;
