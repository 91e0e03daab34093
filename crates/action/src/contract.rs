//! Tool contracts: the pinned promise a tool makes (schema, approval mode,
//! side effects), loaded from `runtime/tools/*.yaml`. The contract, not the
//! model and not the tool's own metadata, decides a call's approval tier.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use contextos_core::cedar_names::{TENANT, TOOL};
use contextos_core::{ApprovalMode, Digest, DocumentError, ErrorKind, IoError, Kind, ToolSpec, digest_of, parse_yaml};
use contextos_trust::{ToolArguments, tool_actions_schema};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// What a tool's effect reaches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum SideEffect {
    /// Reads only.
    None,
    /// Changes the tenant's own systems.
    Internal,
    /// Reaches outside (payments, email).
    External,
    /// Cannot be undone.
    Irreversible,
}

impl SideEffect {
    /// The snake_case name used in Cedar entities.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Internal => "internal",
            Self::External => "external",
            Self::Irreversible => "irreversible",
        }
    }
}

/// A tool contract as written in `runtime/tools/<name>.yaml`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ToolContract {
    /// Document format version (1).
    pub format_version: u32,
    /// Tool name (unique in the catalog).
    pub name: String,
    /// What the tool does, as shown to the model.
    pub description: String,
    /// The pinned approval tier.
    pub approval_mode: ApprovalMode,
    /// What its effect reaches.
    pub side_effect: SideEffect,
    /// Whether executing twice is harmless.
    pub idempotent: bool,
    /// JSON Schema of the arguments.
    pub input_schema: Value,
    /// JSON Schema of the result, when pinned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_schema: Option<Value>,
    /// JSON pointers into a result whose values become memory proposals.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub memory_fields: Vec<String>,
    /// The tenant that owns the tool, for tenant-private tools.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_tenant: Option<String>,
    /// Top-level arguments policies may not see (besides those with a
    /// secret-shaped name, which they never see).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hidden_from_policy: Vec<String>,
    /// The tool entity's `attributes` record (owner team, environment,
    /// service, data class…), as Cedar JSON values; its type is the
    /// deployment schema's `ToolAttributes`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, Value>,
    /// Where `contextos tools pin` took the tool from (format version 2): a
    /// served tool whose source or annotations differ from these is drift,
    /// refused like a changed input schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pinned_from: Option<PinnedSource>,
}

/// The newest tool contract format: 2 adds `pinned_from`.
pub const CONTRACT_FORMAT_VERSION: u32 = 2;

/// The source a contract was pinned from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PinnedSource {
    /// The source, as `mcp:<server name>`.
    pub source: String,
    /// `sha256:` digest of the tool's annotations as the source served them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub annotations: Option<Digest>,
}

/// Cedar actions that are not tools; no tool may take their names.
pub(crate) const BUILT_IN_ACTIONS: [&str; 4] = ["call_tool", "use_pack", "delegate", "promote_memory"];

/// Whether `name` may name a tool discovered from a server or a document:
/// 1 to 128 characters of `A-Z a-z 0-9 _ - .`, not starting with `.` (a
/// tool name becomes a contract file name and a Cedar entity id).
pub fn is_tool_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// A contract with its digest and compiled argument validator.
#[derive(Debug)]
pub struct LoadedTool {
    /// The contract.
    pub contract: ToolContract,
    /// Digest of the canonical contract.
    pub digest: Digest,
    /// The file it came from.
    pub file: String,
    /// Its arguments as policies see them.
    pub arguments: ToolArguments,
    validator: jsonschema::Validator,
}

impl LoadedTool {
    /// Validates `arguments` against the input schema; each error is `pointer: message`.
    pub fn validate_arguments(&self, arguments: &Value) -> Result<(), Vec<String>> {
        let errors: Vec<String> = self
            .validator
            .iter_errors(arguments)
            .map(|e| {
                let at = e.instance_path().to_string();
                format!("{}: {e}", if at.is_empty() { "/" } else { &at })
            })
            .collect();
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }

    /// The Cedar entity for this tool (JSON entity format).
    pub fn cedar_entity(&self) -> Value {
        let c = &self.contract;
        let mut attrs = json!({
            "approval_mode": c.approval_mode.as_str(),
            "approval_level": c.approval_mode.level(),
            "side_effect": c.side_effect.as_str(),
        });
        if let Some(owner) = &c.owner_tenant {
            attrs["owner_tenant"] = json!({"type": TENANT, "id": owner});
        }
        attrs["attributes"] = Value::Object(c.attributes.clone().into_iter().collect());
        json!({ "uid": {"type": TOOL, "id": c.name}, "attrs": attrs, "parents": [] })
    }

    /// The tool as offered to the model.
    pub fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: self.contract.name.clone(),
            description: self.contract.description.clone(),
            input_schema: self.contract.input_schema.clone(),
        }
    }
}

/// A contract directory that cannot be loaded.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ContractError {
    /// A file does not parse.
    #[error(transparent)]
    Document(#[from] DocumentError),
    /// A file or directory cannot be read.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Io(#[from] IoError),
}

impl Kind for ContractError {
    /// Always an input error (exit 2).
    fn kind(&self) -> ErrorKind {
        ErrorKind::Input
    }
}

/// Every tool contract of a deployment, by name.
#[derive(Debug, Default)]
pub struct ToolCatalog {
    tools: BTreeMap<String, LoadedTool>,
}

impl ToolCatalog {
    /// Loads every `*.yaml` contract in `dir` (sorted by file name).
    pub fn load(dir: &Path) -> Result<Self, ContractError> {
        let files = contextos_fs::files_with_suffix(dir, &[".yaml", ".yml"]).map_err(IoError::of("read", dir))?;
        let mut catalog = Self::default();
        for path in files {
            let shown = path.display().to_string();
            let text = fs::read_to_string(&path).map_err(IoError::of("read", &path))?;
            let contract: ToolContract = parse_yaml(&shown, &text)?;
            catalog.add(contract, shown)?;
        }
        Ok(catalog)
    }

    /// Adds one contract (checked: format version, unique name, compilable schema, memory pointers).
    pub fn add(&mut self, contract: ToolContract, file: String) -> Result<(), ContractError> {
        let fail = |message: String| ContractError::Document(DocumentError::new(&file, message));
        if !(1..=CONTRACT_FORMAT_VERSION).contains(&contract.format_version) {
            return Err(fail(format!(
                "unsupported format_version {}, expected 1 to {CONTRACT_FORMAT_VERSION}",
                contract.format_version
            )));
        }
        if contract.pinned_from.is_some() && contract.format_version < 2 {
            return Err(fail(
                "pinned_from needs format_version 2 (version 1 contracts name no source)".to_string(),
            ));
        }
        if let Some(first) = self.tools.get(&contract.name) {
            return Err(fail(format!(
                "tool {:?} is already defined in {}",
                contract.name, first.file
            )));
        }
        let validator = jsonschema::validator_for(&contract.input_schema).map_err(|e| {
            fail(format!(
                "input_schema of {:?} is not a valid JSON Schema: {e}",
                contract.name
            ))
        })?;
        if BUILT_IN_ACTIONS.contains(&contract.name.as_str()) {
            return Err(fail(format!(
                "tool name {:?} is taken by a built-in Cedar action ({})",
                contract.name,
                BUILT_IN_ACTIONS.join(", ")
            )));
        }
        let properties = contract.input_schema.get("properties").and_then(Value::as_object);
        if let Some(bad) = contract
            .hidden_from_policy
            .iter()
            .find(|name| !properties.is_some_and(|p| p.contains_key(name.as_str())))
        {
            return Err(fail(format!(
                "hidden_from_policy names {bad:?}, which is not a property of the input_schema of {:?}",
                contract.name
            )));
        }
        if let Some(bad) = contract.memory_fields.iter().find(|p| !p.starts_with('/')) {
            return Err(fail(format!(
                "memory_fields entry {bad:?} is not a JSON pointer (it must start with /)"
            )));
        }
        let digest = digest_of(&contract).map_err(|e| fail(e.to_string()))?;
        let arguments =
            ToolArguments::from_json_schema(&contract.name, &contract.input_schema, &contract.hidden_from_policy);
        self.tools.insert(
            contract.name.clone(),
            LoadedTool {
                contract,
                digest,
                file,
                arguments,
                validator,
            },
        );
        Ok(())
    }

    /// The tool called `name`.
    pub fn get(&self, name: &str) -> Option<&LoadedTool> {
        self.tools.get(name)
    }

    /// Every tool, by name.
    pub fn tools(&self) -> impl Iterator<Item = &LoadedTool> {
        self.tools.values()
    }

    /// Contract digests by tool name (the replay packet pins them).
    pub fn digests(&self) -> BTreeMap<String, Digest> {
        self.tools.iter().map(|(k, v)| (k.clone(), v.digest)).collect()
    }

    /// Cedar entities of every tool.
    pub fn cedar_entities(&self) -> Vec<Value> {
        self.tools.values().map(LoadedTool::cedar_entity).collect()
    }

    /// The Cedar declarations of these tools: one action per tool with its
    /// typed arguments (part of the bundle's generated
    /// `contextos.generated.cedarschema`).
    pub fn cedar_actions(&self) -> String {
        let arguments: Vec<ToolArguments> = self.tools.values().map(|t| t.arguments.clone()).collect();
        tool_actions_schema(&arguments)
    }
}
