//! Pinning a live tool as a contract, and schema drift against the pin:
//! the part every live adapter (MCP, OpenAPI) shares. Each adapter derives
//! its own starting contract (approval mode from MCP annotations, or from
//! the HTTP method); writing it and comparing what is served with what is
//! pinned is the same job everywhere, so it is done here once.

use std::io::Write;
use std::path::{Path, PathBuf};

use contextos_core::{ApprovalMode, CanonicalError, Digest, ErrorKind, IoError, Kind, digest_of, parse_yaml};
use serde_json::Value;

use crate::contract::{LoadedTool, PinnedSource, SideEffect, ToolCatalog, ToolContract};
use crate::gateway::AdapterError;
use crate::recording::differing_pointers;

/// The side-effect class a contract starts with for `mode`: reads reach
/// nothing, local writes stay inside, network and delegated effects reach
/// outside, destructive ones cannot be undone.
pub fn side_effect_of(mode: ApprovalMode) -> SideEffect {
    match mode {
        ApprovalMode::ReadOnly => SideEffect::None,
        ApprovalMode::LocalWrite => SideEffect::Internal,
        ApprovalMode::Network | ApprovalMode::Delegated => SideEffect::External,
        ApprovalMode::Destructive => SideEffect::Irreversible,
    }
}

/// Where a pinned contract was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PinOutcome {
    /// The contract file.
    pub path: PathBuf,
    /// Whether an existing contract was replaced (`force`).
    pub replaced: bool,
}

/// Why a contract could not be pinned.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum PinError {
    /// The contract would not load from the catalog (bad name, schema that
    /// does not compile, …): the live tool's metadata is unacceptable.
    #[error("cannot pin {name:?}: {message}")]
    Invalid {
        /// The tool.
        name: String,
        /// Why.
        message: String,
    },
    /// The contract could not be written as YAML that reads back the same (a bug).
    #[error("cannot encode the contract of {name}: {message}")]
    Encode {
        /// The tool.
        name: String,
        /// Why.
        message: String,
    },
    /// A file or directory cannot be written.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Io(#[from] IoError),
    /// The contract file exists and `force` was not given.
    #[error("{path} already exists: refusing to overwrite a pinned contract")]
    #[diagnostic(help("review the change with `contextos tools check-drift`, then pin again with `--force`"))]
    AlreadyPinned {
        /// The contract file.
        path: String,
    },
}

impl Kind for PinError {
    /// Exit-code kind: encoding failures are bugs, everything else is input (exit 2).
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Encode { .. } => ErrorKind::Bug,
            _ => ErrorKind::Input,
        }
    }
}

/// A tool name is also a file name: nothing that could leave the directory
/// or hide the file.
fn check_file_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.starts_with('.') || name.contains(['/', '\\', '\0']) {
        return Err(format!(
            "the tool name {name:?} cannot be a contract file name (empty, starts with `.`, or contains a path separator)"
        ));
    }
    Ok(())
}

/// The comment block above the YAML: every line of `header` starts with `#`.
fn comment_block(header: &str) -> String {
    header
        .lines()
        .map(|line| {
            if line.starts_with('#') {
                format!("{line}\n")
            } else if line.is_empty() {
                "#\n".to_string()
            } else {
                format!("# {line}\n")
            }
        })
        .collect()
}

/// Writes `contract` to `<dir>/<name>.yaml` under the comment `header`
/// (lines without a leading `#` get one), refusing to replace an existing
/// file unless `force`. The contract is checked the way the catalog loads
/// it, the YAML is read back and compared before anything is written, and
/// the file is synced before this returns.
pub fn pin_contract(contract: &ToolContract, header: &str, dir: &Path, force: bool) -> Result<PinOutcome, PinError> {
    let invalid = |message: String| PinError::Invalid {
        name: contract.name.clone(),
        message,
    };
    check_file_name(&contract.name).map_err(invalid)?;
    let path = dir.join(format!("{}.yaml", contract.name));
    let shown = path.display().to_string();
    ToolCatalog::default()
        .add(contract.clone(), shown.clone())
        .map_err(|e| invalid(e.to_string()))?;
    let encode = |message: String| PinError::Encode {
        name: contract.name.clone(),
        message,
    };
    let yaml = serde_saphyr::to_string(contract).map_err(|e| encode(e.to_string()))?;
    let round_trip: Result<ToolContract, _> = parse_yaml(&shown, &yaml);
    if round_trip.as_ref().ok() != Some(contract) {
        return Err(encode("the YAML does not read back to the same contract".into()));
    }
    let text = format!("{}{yaml}", comment_block(header));
    std::fs::create_dir_all(dir).map_err(IoError::of("create", dir))?;
    let existed = path.exists();
    if existed && !force {
        return Err(PinError::AlreadyPinned { path: shown });
    }
    let io = |e| PinError::Io(IoError::new("write", &path, e));
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if force {
        options.create(true).truncate(true);
    } else {
        // Not `exists()` alone: another writer may have created it since.
        options.create_new(true);
    }
    let mut file = options.open(&path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            PinError::AlreadyPinned { path: shown.clone() }
        } else {
            io(e)
        }
    })?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(io)?;
    Ok(PinOutcome {
        path,
        replaced: existed,
    })
}

/// A tool as a live source serves it right now: its name and input schema.
/// Drift is the difference between this and the pinned contract.
pub trait ServedTool {
    /// The tool's name (the contract's name).
    fn served_name(&self) -> &str;
    /// The input schema the source serves now.
    fn served_input_schema(&self) -> &Value;
    /// The source serving it and its annotations, when known.
    fn served_origin(&self) -> Option<PinnedSource> {
        None
    }
}

impl<T: ServedTool + ?Sized> ServedTool for &T {
    fn served_name(&self) -> &str {
        (**self).served_name()
    }

    fn served_input_schema(&self) -> &Value {
        (**self).served_input_schema()
    }

    fn served_origin(&self) -> Option<PinnedSource> {
        (**self).served_origin()
    }
}

/// A contract derived from the live source (not the pinned one) serves its schema.
impl ServedTool for ToolContract {
    fn served_name(&self) -> &str {
        &self.name
    }

    fn served_input_schema(&self) -> &Value {
        &self.input_schema
    }

    fn served_origin(&self) -> Option<PinnedSource> {
        self.pinned_from.clone()
    }
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
    /// How the serving source or its annotations differ from the pin, when they do.
    pub origin: Option<String>,
}

/// How `served` differs from `pinned` (source first, then annotations), or `None`.
fn origin_change(pinned: Option<&PinnedSource>, served: Option<&PinnedSource>) -> Option<String> {
    let (pinned, served) = (pinned?, served?);
    if pinned.source != served.source {
        return Some(format!("pinned from {}, served by {}", pinned.source, served.source));
    }
    if pinned.annotations != served.annotations {
        let shown = |d: &Option<Digest>| d.as_ref().map_or_else(|| "none".to_string(), ToString::to_string);
        return Some(format!(
            "annotations changed since the pin ({} -> {})",
            shown(&pinned.annotations),
            shown(&served.annotations)
        ));
    }
    None
}

impl SchemaDrift {
    /// Compares what `served` serves with the contract of `tool`; `None` when they match.
    pub fn between<S: ServedTool + ?Sized>(tool: &LoadedTool, served: &S) -> Result<Option<Self>, CanonicalError> {
        let origin = origin_change(tool.contract.pinned_from.as_ref(), served.served_origin().as_ref());
        let pinned = &tool.contract.input_schema;
        let served = served.served_input_schema();
        // Every gateway call checks this: equal documents need no canonicalization.
        if pinned == served && origin.is_none() {
            return Ok(None);
        }
        let pinned_digest = digest_of(pinned)?;
        let served_digest = digest_of(served)?;
        if pinned_digest == served_digest && origin.is_none() {
            return Ok(None);
        }
        let pointers = if pinned_digest == served_digest {
            Vec::new()
        } else {
            differing_pointers(pinned, served)
        };
        Ok(Some(Self {
            tool: tool.contract.name.clone(),
            file: tool.file.clone(),
            pinned: pinned_digest,
            served: served_digest,
            pointers,
            origin,
        }))
    }

    /// What an adapter does before a call: nothing when `served` matches the
    /// pin, a transport error refusing the call when it drifted.
    pub fn refuse_drifted<S: ServedTool + ?Sized>(tool: &LoadedTool, served: &S) -> Result<(), AdapterError> {
        match Self::between(tool, served) {
            Ok(None) => Ok(()),
            Ok(Some(drift)) => Err(AdapterError::Transport(drift.refusal())),
            Err(e) => Err(AdapterError::Transport(e.to_string())),
        }
    }

    /// The message an adapter refuses a drifted call with.
    pub fn refusal(&self) -> String {
        format!("{self}; the call is refused: review the change and pin it again with `contextos tools pin --force`")
    }
}

impl std::fmt::Display for SchemaDrift {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(origin) = &self.origin {
            write!(f, "source drift: {} (pinned in {}): {origin}", self.tool, self.file)?;
            if self.pinned == self.served {
                return Ok(());
            }
            f.write_str("; ")?;
        }
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
    /// Contracts in the catalog that the source does not serve (removed
    /// tools, or other sources' contracts when the directory is shared).
    pub not_served: Vec<String>,
}

impl DriftReport {
    /// Whether any pinned tool drifted.
    pub fn has_drift(&self) -> bool {
        !self.drifted.is_empty()
    }
}

/// Compares every served tool with its contract in `catalog`, by name.
pub fn check_drift<S: ServedTool>(catalog: &ToolCatalog, served: &[S]) -> Result<DriftReport, CanonicalError> {
    let mut report = DriftReport::default();
    for tool in served {
        let name = tool.served_name();
        match catalog.get(name) {
            None => report.unpinned.push(name.to_string()),
            Some(pinned) => match SchemaDrift::between(pinned, tool)? {
                Some(drift) => report.drifted.push(drift),
                None => report.unchanged.push(name.to_string()),
            },
        }
    }
    report.not_served = catalog
        .tools()
        .map(|t| t.contract.name.clone())
        .filter(|name| !served.iter().any(|s| s.served_name() == name))
        .collect();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn contract(name: &str, mode: ApprovalMode) -> ToolContract {
        ToolContract {
            format_version: 1,
            name: name.into(),
            description: "Reads a thing".into(),
            approval_mode: mode,
            side_effect: side_effect_of(mode),
            idempotent: true,
            input_schema: json!({"type": "object", "properties": {"id": {"type": "string"}}}),
            output_schema: None,
            memory_fields: Vec::new(),
            owner_tenant: None,
            hidden_from_policy: Vec::new(),
            attributes: std::collections::BTreeMap::new(),
            pinned_from: None,
        }
    }

    #[test]
    fn pins_with_a_header_refuses_overwrite_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let c = contract("get_thing", ApprovalMode::ReadOnly);
        let first = pin_contract(&c, "Pinned by a test.\n# already a comment", dir.path(), false).unwrap();
        assert!(!first.replaced);
        let text = std::fs::read_to_string(&first.path).unwrap();
        assert!(
            text.starts_with("# Pinned by a test.\n# already a comment\nformat_version: 1\n"),
            "{text}"
        );
        let again = pin_contract(&c, "", dir.path(), false).unwrap_err();
        assert!(matches!(again, PinError::AlreadyPinned { .. }), "{again}");
        assert!(pin_contract(&c, "", dir.path(), true).unwrap().replaced);
        let catalog = ToolCatalog::load(dir.path()).unwrap();
        assert_eq!(catalog.get("get_thing").unwrap().contract, c);
    }

    #[test]
    fn names_that_are_not_file_names_and_bad_schemas_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["../escape", ".hidden", "a/b", ""] {
            let err = pin_contract(&contract(name, ApprovalMode::ReadOnly), "", dir.path(), false).unwrap_err();
            assert!(matches!(err, PinError::Invalid { .. }), "{name}: {err}");
        }
        let mut bad = contract("bad_schema", ApprovalMode::ReadOnly);
        bad.input_schema = json!({"type": 7});
        let err = pin_contract(&bad, "", dir.path(), false).unwrap_err();
        assert!(err.to_string().contains("not a valid JSON Schema"), "{err}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "nothing written");
    }

    #[test]
    fn drift_names_pointers_and_reports_every_group() {
        let mut catalog = ToolCatalog::default();
        catalog
            .add(contract("same", ApprovalMode::ReadOnly), "same.yaml".into())
            .unwrap();
        catalog
            .add(contract("changed", ApprovalMode::ReadOnly), "changed.yaml".into())
            .unwrap();
        catalog
            .add(contract("gone", ApprovalMode::ReadOnly), "gone.yaml".into())
            .unwrap();
        let mut changed = contract("changed", ApprovalMode::ReadOnly);
        changed.input_schema["properties"]["id"]["type"] = json!("integer");
        let served = vec![
            contract("same", ApprovalMode::ReadOnly),
            changed,
            contract("new", ApprovalMode::Network),
        ];
        let report = check_drift(&catalog, &served).unwrap();
        assert_eq!(report.unchanged, ["same"]);
        assert_eq!(report.unpinned, ["new"]);
        assert_eq!(report.not_served, ["gone"]);
        assert_eq!(report.drifted.len(), 1);
        assert_eq!(report.drifted[0].pointers, ["/properties/id/type"]);
        let refusal = report.drifted[0].refusal();
        assert!(
            refusal.starts_with("schema drift: the served input schema of changed")
                && refusal.contains("changed.yaml")
                && refusal.ends_with("pin it again with `contextos tools pin --force`"),
            "{refusal}"
        );
    }

    #[test]
    fn side_effects_follow_the_mode() {
        assert_eq!(side_effect_of(ApprovalMode::ReadOnly), SideEffect::None);
        assert_eq!(side_effect_of(ApprovalMode::LocalWrite), SideEffect::Internal);
        assert_eq!(side_effect_of(ApprovalMode::Network), SideEffect::External);
        assert_eq!(side_effect_of(ApprovalMode::Delegated), SideEffect::External);
        assert_eq!(side_effect_of(ApprovalMode::Destructive), SideEffect::Irreversible);
    }

    #[test]
    fn a_pin_names_its_source_and_another_source_or_annotations_is_drift() {
        let mut catalog = ToolCatalog::default();
        let mut pinned = contract("echo", ApprovalMode::ReadOnly);
        pinned.format_version = 2;
        let origin = |source: &str, annotations: &str| PinnedSource {
            source: source.into(),
            annotations: Some(digest_of(&annotations).unwrap()),
        };
        pinned.pinned_from = Some(origin("mcp:a", "read-only"));
        catalog.add(pinned.clone(), "echo.yaml".into()).unwrap();
        let tool = catalog.get("echo").unwrap();

        let mut served = pinned.clone();
        assert_eq!(
            SchemaDrift::between(tool, &served).unwrap(),
            None,
            "same source, same annotations"
        );

        served.pinned_from = Some(origin("mcp:b", "read-only"));
        let drift = SchemaDrift::between(tool, &served).unwrap().unwrap();
        assert_eq!(drift.origin.as_deref(), Some("pinned from mcp:a, served by mcp:b"));
        assert!(drift.pointers.is_empty(), "the schema is the same");
        assert!(
            drift
                .refusal()
                .starts_with("source drift: echo (pinned in echo.yaml): pinned from mcp:a")
        );

        served.pinned_from = Some(origin("mcp:a", "destructive"));
        let drift = SchemaDrift::between(tool, &served).unwrap().unwrap();
        assert!(drift.origin.unwrap().starts_with("annotations changed since the pin"));

        // A version 1 contract names no source: any source serving the schema matches.
        let mut plain = ToolCatalog::default();
        plain
            .add(contract("echo", ApprovalMode::ReadOnly), "echo.yaml".into())
            .unwrap();
        assert_eq!(SchemaDrift::between(plain.get("echo").unwrap(), &served).unwrap(), None);

        // ... and may not claim one.
        let mut claims = contract("echo", ApprovalMode::ReadOnly);
        claims.pinned_from = Some(origin("mcp:a", "x"));
        let err = ToolCatalog::default()
            .add(claims, "old.yaml".into())
            .unwrap_err()
            .to_string();
        assert!(err.contains("pinned_from needs format_version 2"), "{err}");
    }
}
