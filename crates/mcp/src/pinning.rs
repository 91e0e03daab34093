//! From discovered tools to pinned contracts: the conservative approval
//! mode and the contract. Writing it and schema drift are shared with every
//! live adapter and live in `contextos-action` ([`pin_contract`],
//! [`SchemaDrift`], [`check_drift`]); this module adds what is MCP's own.

use std::path::Path;

pub use contextos_action::{DriftReport, PinOutcome, SchemaDrift, check_drift};
use contextos_action::{PinError, PinnedSource, ServedTool, ToolContract, pin_contract, side_effect_of};
use contextos_core::{ApprovalMode, Digest, digest_of};
use serde_json::Value;

use crate::client::{DiscoveredTool, Hints};
use crate::error::McpError;

/// The approval mode a tool gets from its MCP annotations, which are
/// untrusted hints: a missing hint takes the value that demands the most
/// authority, and a hint can lower the tier only as far as the others allow.
///
/// - `readOnlyHint` absent or false: at least `local_write`; then
///   `destructiveHint` absent or true (MCP's default) gives `destructive`.
/// - `openWorldHint` absent or true (MCP's default) gives `network` unless
///   the tool is already `destructive`.
/// - `readOnlyHint: true` ignores `destructiveHint` (MCP defines it only for
///   tools that write) and gives `read_only` in a closed world, but
///   `network` in an open one: a read that reaches outside (a web fetch)
///   can carry data out through its arguments.
///
/// `delegated` is never derived. A pinned contract can always say otherwise:
/// this is only the starting point `tools pin` writes.
pub fn conservative_mode(hints: &Hints) -> ApprovalMode {
    let open_world = hints.open_world.unwrap_or(true);
    if hints.read_only == Some(true) {
        return if open_world {
            ApprovalMode::Network
        } else {
            ApprovalMode::ReadOnly
        };
    }
    if hints.destructive.unwrap_or(true) {
        ApprovalMode::Destructive
    } else if open_world {
        ApprovalMode::Network
    } else {
        ApprovalMode::LocalWrite
    }
}

/// Where a tool served by `server` comes from: `mcp:<server>` and the
/// digest of its annotations as served.
pub fn origin_of(server: &str, tool: &DiscoveredTool) -> PinnedSource {
    PinnedSource {
        source: format!("mcp:{server}"),
        annotations: digest_of(&tool.annotations).ok(),
    }
}

/// The contract `tools pin` writes for a discovered tool of `server`: format
/// version 2 naming its source ([`origin_of`]), the [`conservative_mode`],
/// its side-effect class, `idempotent` from `idempotentHint` (default false)
/// and the input schema exactly as served.
pub fn contract_for(tool: &DiscoveredTool, server: &str) -> ToolContract {
    let approval_mode = conservative_mode(&tool.annotations);
    ToolContract {
        format_version: contextos_action::CONTRACT_FORMAT_VERSION,
        name: tool.name.clone(),
        description: tool.description.clone(),
        approval_mode,
        side_effect: side_effect_of(approval_mode),
        idempotent: tool.annotations.idempotent.unwrap_or(false),
        input_schema: tool.input_schema.clone(),
        output_schema: None,
        memory_fields: Vec::new(),
        owner_tenant: None,
        hidden_from_policy: Vec::new(),
        attributes: std::collections::BTreeMap::new(),
        pinned_from: Some(origin_of(server, tool)),
    }
}

/// A discovered tool as a named server serves it: its schema and its origin.
#[derive(Clone, Copy, Debug)]
pub struct ServedBy<'a> {
    /// The server's name.
    pub server: &'a str,
    /// The tool as listed.
    pub tool: &'a DiscoveredTool,
}

impl ServedTool for ServedBy<'_> {
    fn served_name(&self) -> &str {
        &self.tool.name
    }

    fn served_input_schema(&self) -> &Value {
        &self.tool.input_schema
    }

    fn served_origin(&self) -> Option<PinnedSource> {
        Some(origin_of(self.server, self.tool))
    }
}

/// The digest that pins an input schema (`sha256:` of its canonical JSON).
pub fn schema_digest(schema: &Value) -> Result<Digest, McpError> {
    digest_of(schema).map_err(|e| McpError::Encode {
        what: "an input schema".into(),
        message: e.to_string(),
    })
}

/// Writes `contract` to `<dir>/<name>.yaml`, refusing to replace an existing
/// file unless `force` (see [`pin_contract`]); the header names `server`.
pub fn pin(contract: &ToolContract, server: &str, dir: &Path, force: bool) -> Result<PinOutcome, McpError> {
    let header = format!(
        "Pinned from MCP server {server:?} by `contextos tools pin`.\n\
         The approval mode was derived conservatively from the server's (untrusted)\n\
         annotations: review it. A served input schema that differs from this one is refused."
    );
    pin_contract(contract, &header, dir, force).map_err(|e| match e {
        PinError::Invalid { name, message } => McpError::Untrusted {
            server: server.to_string(),
            what: format!("contract for {name}"),
            message,
        },
        PinError::Encode { name, message } => McpError::Encode {
            what: format!("the contract of {name}"),
            message,
        },
        PinError::Io(e) => McpError::Io(e),
        PinError::AlreadyPinned { path } => McpError::AlreadyPinned { path },
    })
}

/// A discovered tool serves its input schema as listed.
impl ServedTool for DiscoveredTool {
    fn served_name(&self) -> &str {
        &self.name
    }

    fn served_input_schema(&self) -> &Value {
        &self.input_schema
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use contextos_action::SideEffect;

    fn hints(read_only: Option<bool>, destructive: Option<bool>, open_world: Option<bool>) -> Hints {
        Hints {
            read_only,
            destructive,
            idempotent: None,
            open_world,
        }
    }

    #[test]
    fn missing_hints_demand_the_most_authority() {
        use ApprovalMode::*;
        let cases = [
            (hints(None, None, None), Destructive),
            (hints(Some(false), None, Some(false)), Destructive),
            (hints(Some(false), Some(true), Some(false)), Destructive),
            (hints(Some(false), Some(false), Some(false)), LocalWrite),
            (hints(Some(false), Some(false), None), Network),
            (hints(Some(false), Some(false), Some(true)), Network),
            (hints(Some(false), Some(true), Some(true)), Destructive),
            (hints(Some(true), None, Some(false)), ReadOnly),
            (hints(Some(true), Some(true), Some(false)), ReadOnly),
            (hints(Some(true), None, None), Network),
            (hints(Some(true), Some(false), Some(true)), Network),
        ];
        for (h, want) in cases {
            assert_eq!(conservative_mode(&h), want, "{h:?}");
        }
    }

    #[test]
    fn contracts_keep_the_served_schema_and_map_side_effects() {
        let tool = DiscoveredTool {
            name: "write_file".into(),
            description: "Write a file".into(),
            input_schema: serde_json::json!({"type": "object", "required": ["path"]}),
            annotations: Hints {
                read_only: Some(false),
                destructive: Some(true),
                idempotent: Some(true),
                open_world: Some(false),
            },
        };
        let contract = contract_for(&tool, "test");
        assert_eq!(contract.approval_mode, ApprovalMode::Destructive);
        assert_eq!(contract.side_effect, SideEffect::Irreversible);
        assert!(contract.idempotent);
        assert_eq!(contract.input_schema, tool.input_schema);
    }
}
