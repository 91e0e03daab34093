//! The JSON Schema of every kind of file a user writes, in one registry:
//! `contextos schema KIND` prints one, `contextos schema --write DIR` writes
//! them all (the committed copies live in `schemas/`), and scaffolding puts
//! [`FileKind::editor_hint`] on the first line of the files it writes.
//!
//! Each schema is derived with `schemars` from the type that parses the file
//! (`deny_unknown_fields` becomes `additionalProperties: false`, doc comments
//! become descriptions), so a schema cannot drift from its parser. What a
//! parser checks beyond the shape (a format version, one of two fields, a
//! name pattern) is checked when the file is loaded, not by the schema.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use contextos_core::IoError;
use contextos_fs::{AtomicWrite, write_file_atomically};
use serde_json::Value;

/// A kind of file a user writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FileKind {
    /// A scenario suite, `scenarios/<suite>/suite.yaml`.
    Suite,
    /// A scenario case, `scenarios/<suite>/cases/*.yaml`.
    Case,
    /// A fixture-authoring script (`contextos run --script`).
    Script,
    /// A tool contract, `runtime/tools/*.yaml`.
    Tool,
    /// A context pack source, `pack.yaml`.
    Pack,
    /// The deployment configuration, `runtime/contextos.toml`.
    Config,
    /// The approver roles of a policy bundle, `policies/approvers.yaml`.
    Approvers,
    /// A policy test file, `policies/tests/*.yaml`.
    PolicyTest,
    /// A request envelope (`contextos run REQUEST`).
    Request,
    /// An MCP server spec (`contextos tools list --server`).
    McpServer,
    /// An OpenAPI source spec (`contextos tools list --openapi`).
    OpenApiSource,
    /// The deployment's entity source, `runtime/entities.yaml`.
    Entities,
}

impl FileKind {
    /// Every kind, in the order `contextos schema --list` shows them.
    pub const ALL: [Self; 12] = [
        Self::Suite,
        Self::Case,
        Self::Script,
        Self::Tool,
        Self::Pack,
        Self::Config,
        Self::Approvers,
        Self::PolicyTest,
        Self::Request,
        Self::McpServer,
        Self::OpenApiSource,
        Self::Entities,
    ];

    /// The word naming the kind on the command line (`policy-test`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Suite => "suite",
            Self::Case => "case",
            Self::Script => "script",
            Self::Tool => "tool",
            Self::Pack => "pack",
            Self::Config => "config",
            Self::Approvers => "approvers",
            Self::PolicyTest => "policy-test",
            Self::Request => "request",
            Self::McpServer => "mcp-server",
            Self::OpenApiSource => "openapi-source",
            Self::Entities => "entities",
        }
    }

    /// The schema's file name (`case.schema.json`).
    pub fn file_name(self) -> String {
        format!("{}.schema.json", self.name())
    }

    /// The files of this kind, as a pattern over a project (for listings).
    pub fn describes(self) -> &'static str {
        match self {
            Self::Suite => "scenarios/<suite>/suite.yaml",
            Self::Case => "scenarios/<suite>/cases/*.yaml",
            Self::Script => "scenarios/<suite>/scripts/*.yaml, runtime/examples/<example>/script.yaml",
            Self::Tool => "runtime/tools/*.yaml",
            Self::Pack => "runtime/packs/<pack>/pack.yaml",
            Self::Config => "runtime/contextos.toml",
            Self::Approvers => "policies/approvers.yaml",
            Self::PolicyTest => "policies/tests/*.yaml",
            Self::Request => "runtime/examples/<example>/request.yaml",
            Self::McpServer => "an MCP server spec (YAML) given to --server",
            Self::OpenApiSource => "an OpenAPI source spec (YAML) given to --openapi",
            Self::Entities => "runtime/entities.yaml",
        }
    }

    /// Whether files of this kind are TOML (otherwise YAML, or JSON where
    /// the parser also reads JSON).
    pub fn is_toml(self) -> bool {
        self == Self::Config
    }

    /// The JSON Schema (draft 2020-12) of files of this kind.
    pub fn schema(self) -> Value {
        let schema = match self {
            Self::Suite => schemars::schema_for!(crate::SuiteFile),
            Self::Case => schemars::schema_for!(crate::CaseFile),
            // A scenario script is a runtime script plus `judge`: one schema for both.
            Self::Script => schemars::schema_for!(crate::CaseScript),
            Self::Tool => schemars::schema_for!(contextos_action::ToolContract),
            Self::Pack => schemars::schema_for!(contextos_context::PackSource),
            Self::Config => schemars::schema_for!(contextos_runtime::RuntimeConfig),
            Self::Approvers => contextos_trust::approvers_schema(),
            Self::PolicyTest => contextos_trust::policy_test_schema(),
            Self::Request => schemars::schema_for!(contextos_runtime::RequestEnvelope),
            Self::McpServer => schemars::schema_for!(contextos_mcp::McpServerSpec),
            Self::OpenApiSource => schemars::schema_for!(contextos_openapi::OpenApiSource),
            Self::Entities => schemars::schema_for!(contextos_intelligence::EntitySource),
        };
        // Serialized (not `Schema::to_value`) to keep the key order the
        // committed schemas have always had.
        serde_json::to_value(schema).unwrap_or(Value::Null)
    }

    /// The schema as written to `<kind>.schema.json` and printed by
    /// `contextos schema KIND`: pretty JSON ending in a newline.
    pub fn schema_text(self) -> String {
        let mut text = serde_json::to_string_pretty(&self.schema()).unwrap_or_default();
        text.push('\n');
        text
    }

    /// The first line that points an editor at the schema: a
    /// `yaml-language-server` modeline in YAML, a `#:schema` directive in
    /// TOML. `schema_path` is relative to the file (or a URL).
    pub fn editor_hint(self, schema_path: &str) -> String {
        if self.is_toml() {
            format!("#:schema {schema_path}")
        } else {
            format!("# yaml-language-server: $schema={schema_path}")
        }
    }

    /// The hint for a file at `file` (relative to a project root whose
    /// `schemas/` holds the schemas): its schema path is relative to the
    /// file, e.g. `../../../schemas/case.schema.json` for
    /// `scenarios/support/cases/refund.yaml`.
    pub fn editor_hint_at(self, file: &Path) -> String {
        let depth = file.parent().map_or(0, |dir| dir.iter().count());
        self.editor_hint(&format!("{}schemas/{}", "../".repeat(depth), self.file_name()))
    }

    /// The kind of a file by where it sits in a project (`rel`, relative to
    /// the project root, laid out as `contextos init` lays it out), or `None`
    /// for files no one writes by hand (fixtures, built packs, Cedar, keys).
    pub fn of_path(rel: &Path) -> Option<Self> {
        let parts: Vec<&str> = rel.iter().filter_map(|p| p.to_str()).collect();
        let yaml = rel.extension().is_some_and(|e| e == "yaml" || e == "yml");
        match parts.as_slice() {
            ["scenarios", _, "suite.yaml"] => Some(Self::Suite),
            ["scenarios", _, "cases", _] if yaml => Some(Self::Case),
            ["scenarios", _, "scripts", _] if yaml => Some(Self::Script),
            ["runtime", "examples", _, "script.yaml"] => Some(Self::Script),
            ["runtime", "examples", _, "request.yaml"] => Some(Self::Request),
            ["runtime", "tools", _] if yaml => Some(Self::Tool),
            ["runtime", "packs", _, "pack.yaml"] => Some(Self::Pack),
            ["runtime", "contextos.toml"] => Some(Self::Config),
            ["runtime", "entities.yaml"] => Some(Self::Entities),
            ["policies", "approvers.yaml"] => Some(Self::Approvers),
            ["policies", "tests", _] if yaml => Some(Self::PolicyTest),
            _ => None,
        }
    }
}

impl fmt::Display for FileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for FileKind {
    type Err = String;

    /// A kind by its [`name`](FileKind::name); `scenario` is `case`.
    fn from_str(word: &str) -> Result<Self, Self::Err> {
        if word == "scenario" {
            return Ok(Self::Case);
        }
        Self::ALL.into_iter().find(|k| k.name() == word).ok_or_else(|| {
            let names: Vec<_> = Self::ALL.iter().map(|k| k.name()).collect();
            format!("unknown file kind {word:?}, expected one of {}", names.join(", "))
        })
    }
}

/// Writes every kind's `<kind>.schema.json` into `dir` (created as needed),
/// each file atomically, replacing what is there. Returns the paths written,
/// in [`FileKind::ALL`] order.
pub fn write_schemas(dir: &Path) -> Result<Vec<PathBuf>, IoError> {
    std::fs::create_dir_all(dir).map_err(IoError::of("create", dir))?;
    FileKind::ALL
        .into_iter()
        .map(|kind| {
            let path = dir.join(kind.file_name());
            let options = AtomicWrite {
                replace: true,
                secret: false,
            };
            write_file_atomically(&path, kind.schema_text().as_bytes(), options)
                .map_err(IoError::of("write", &path))?;
            Ok(path)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_named_by_its_word_and_scenario_is_a_case() {
        for kind in FileKind::ALL {
            assert_eq!(kind.name().parse::<FileKind>(), Ok(kind));
        }
        assert_eq!("scenario".parse::<FileKind>(), Ok(FileKind::Case));
        let err = "cases".parse::<FileKind>().unwrap_err();
        assert!(
            err.contains("unknown file kind \"cases\"") && err.contains("policy-test"),
            "{err}"
        );
    }

    #[test]
    fn hints_follow_the_format() {
        assert_eq!(
            FileKind::Case.editor_hint("../schemas/case.schema.json"),
            "# yaml-language-server: $schema=../schemas/case.schema.json"
        );
        assert_eq!(
            FileKind::Config.editor_hint("../schemas/config.schema.json"),
            "#:schema ../schemas/config.schema.json"
        );
        assert_eq!(
            FileKind::Case.editor_hint_at(Path::new("scenarios/support/cases/refund.yaml")),
            "# yaml-language-server: $schema=../../../schemas/case.schema.json"
        );
        assert_eq!(
            FileKind::Config.editor_hint_at(Path::new("contextos.toml")),
            "#:schema schemas/config.schema.json"
        );
    }
}
