//! From discovered tools to pinned contracts: the conservative approval
//! mode, the contract, writing it, and schema drift against it.

use std::io::Write;
use std::path::{Path, PathBuf};

use contextos_action::{ContractError, LoadedTool, SideEffect, ToolCatalog, ToolContract, differing_pointers};
use contextos_core::{ApprovalMode, Digest, digest_of, parse_yaml};
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

fn side_effect_of(mode: ApprovalMode) -> SideEffect {
    match mode {
        ApprovalMode::ReadOnly => SideEffect::None,
        ApprovalMode::LocalWrite => SideEffect::Internal,
        ApprovalMode::Network | ApprovalMode::Delegated => SideEffect::External,
        ApprovalMode::Destructive => SideEffect::Irreversible,
    }
}

/// The contract `tools pin` writes for a discovered tool: format version 1,
/// the [`conservative_mode`], its side-effect class, `idempotent` from
/// `idempotentHint` (default false) and the input schema exactly as served.
pub fn contract_for(tool: &DiscoveredTool) -> ToolContract {
    let approval_mode = conservative_mode(&tool.annotations);
    ToolContract {
        format_version: 1,
        name: tool.name.clone(),
        description: tool.description.clone(),
        approval_mode,
        side_effect: side_effect_of(approval_mode),
        idempotent: tool.annotations.idempotent.unwrap_or(false),
        input_schema: tool.input_schema.clone(),
        output_schema: None,
        memory_fields: Vec::new(),
        owner_tenant: None,
    }
}

/// The digest that pins an input schema (`sha256:` of its canonical JSON).
pub fn schema_digest(schema: &Value) -> Result<Digest, McpError> {
    digest_of(schema).map_err(|e| McpError::Encode {
        what: "an input schema".into(),
        message: e.to_string(),
    })
}

/// Where a pinned contract was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PinOutcome {
    /// The contract file.
    pub path: PathBuf,
    /// Whether an existing contract was replaced (`force`).
    pub replaced: bool,
}

/// Writes `contract` to `<dir>/<name>.yaml`, refusing to replace an existing
/// file unless `force`. The contract is checked the way the catalog loads
/// it, and the written YAML is read back and compared before it is kept.
pub fn pin(contract: &ToolContract, server: &str, dir: &Path, force: bool) -> Result<PinOutcome, McpError> {
    let path = dir.join(format!("{}.yaml", contract.name));
    let shown = path.display().to_string();
    let io = |action: &'static str, e: std::io::Error| McpError::Io {
        action,
        path: shown.clone(),
        message: e.to_string(),
    };
    ToolCatalog::default()
        .add(contract.clone(), shown.clone())
        .map_err(|e: ContractError| McpError::Untrusted {
            server: server.to_string(),
            what: format!("contract for {}", contract.name),
            message: e.to_string(),
        })?;
    let yaml = serde_saphyr::to_string(contract).map_err(|e| McpError::Encode {
        what: format!("the contract of {}", contract.name),
        message: e.to_string(),
    })?;
    let round_trip: Result<ToolContract, _> = parse_yaml(&shown, &yaml);
    if round_trip.as_ref().ok() != Some(contract) {
        return Err(McpError::Encode {
            what: format!("the contract of {}", contract.name),
            message: "the YAML does not read back to the same contract".into(),
        });
    }
    let text = format!(
        "# Pinned from MCP server {server:?} by `contextos tools pin`.\n\
         # The approval mode was derived conservatively from the server's (untrusted)\n\
         # annotations: review it. A served input schema that differs from this one is refused.\n{yaml}"
    );
    std::fs::create_dir_all(dir).map_err(|e| McpError::Io {
        action: "create",
        path: dir.display().to_string(),
        message: e.to_string(),
    })?;
    let existed = path.exists();
    if existed && !force {
        return Err(McpError::AlreadyPinned { path: shown });
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if force {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    let mut file = options.open(&path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            McpError::AlreadyPinned { path: shown.clone() }
        } else {
            io("write", e)
        }
    })?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| io("write", e))?;
    Ok(PinOutcome {
        path,
        replaced: existed,
    })
}

/// A served input schema that no longer matches its pinned contract.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchemaDrift {
    /// The tool.
    pub tool: String,
    /// The contract file.
    pub file: String,
    /// Digest of the pinned input schema.
    pub pinned: Digest,
    /// Digest of the served input schema.
    pub served: Digest,
    /// JSON pointers into the schema where the two differ.
    pub pointers: Vec<String>,
}

impl SchemaDrift {
    /// Compares `served` with the contract of `tool`; `None` when they match.
    pub fn between(tool: &LoadedTool, served: &DiscoveredTool) -> Result<Option<Self>, McpError> {
        // Every gateway call checks this: equal documents need no canonicalization.
        if tool.contract.input_schema == served.input_schema {
            return Ok(None);
        }
        let pinned_digest = schema_digest(&tool.contract.input_schema)?;
        let served_digest = schema_digest(&served.input_schema)?;
        if pinned_digest == served_digest {
            return Ok(None);
        }
        Ok(Some(Self {
            tool: tool.contract.name.clone(),
            file: tool.file.clone(),
            pinned: pinned_digest,
            served: served_digest,
            pointers: differing_pointers(&tool.contract.input_schema, &served.input_schema),
        }))
    }
}

impl std::fmt::Display for SchemaDrift {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "schema drift: the served input schema of {} ({}) differs from the one pinned in {} ({}) at {}",
            self.tool,
            self.served,
            self.file,
            self.pinned,
            if self.pointers.is_empty() {
                "(no pointer: the documents differ only in representation)".to_string()
            } else {
                self.pointers.join(", ")
            }
        )
    }
}

/// The served tools compared with the pinned contracts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DriftReport {
    /// Pinned tools whose served schema differs.
    pub drifted: Vec<SchemaDrift>,
    /// Tools pinned and served with the same schema.
    pub unchanged: Vec<String>,
    /// Served tools without a contract (the gateway refuses them as unknown).
    pub unpinned: Vec<String>,
    /// Contracts in the catalog that the server does not serve (removed
    /// tools, or other servers' contracts when the directory is shared).
    pub not_served: Vec<String>,
}

impl DriftReport {
    /// Whether any pinned tool drifted.
    pub fn has_drift(&self) -> bool {
        !self.drifted.is_empty()
    }
}

/// Compares every served tool with its contract in `catalog`, by name.
pub fn check_drift(catalog: &ToolCatalog, served: &[DiscoveredTool]) -> Result<DriftReport, McpError> {
    let mut report = DriftReport::default();
    for tool in served {
        match catalog.get(&tool.name) {
            None => report.unpinned.push(tool.name.clone()),
            Some(pinned) => match SchemaDrift::between(pinned, tool)? {
                Some(drift) => report.drifted.push(drift),
                None => report.unchanged.push(tool.name.clone()),
            },
        }
    }
    report.not_served = catalog
        .tools()
        .map(|t| t.contract.name.clone())
        .filter(|name| !served.iter().any(|s| &s.name == name))
        .collect();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let contract = contract_for(&tool);
        assert_eq!(contract.approval_mode, ApprovalMode::Destructive);
        assert_eq!(contract.side_effect, SideEffect::Irreversible);
        assert!(contract.idempotent);
        assert_eq!(contract.input_schema, tool.input_schema);
    }
}
