//! The deployment's entity source: what the runtime knows about tenants,
//! users, agents and packs beyond the run context, and the deployment's own
//! entities (teams, services, customers) that policies and attributes refer to.
//!
//! A YAML or JSON file named by the deployment (`[paths] entities`), parsed
//! with the same limits as every other document:
//!
//! ```yaml
//! format_version: 1
//! users:
//!   u-2041: { customer_tier: gold }
//! packs:
//!   support_escalation: { data_class: internal }
//! entities:
//!   - uid: { type: Acme::Team, id: payments }
//!     attrs: {}
//!     parents: []
//! ```
//!
//! Each attribute record is the `attributes` of that built-in entity and must
//! fit the deployment schema's `UserAttributes`, `PackAttributes`, … (Cedar
//! checks it when the entities are built); `entities` are in Cedar's JSON
//! entity format. Nothing here is evaluated: values are data for Cedar.

use std::collections::BTreeMap;
use std::path::Path;

use contextos_core::{Digest, DocumentError, ErrorKind, IoError, Kind, digest_of, parse_document};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The `format_version` this release reads and writes.
pub const ENTITY_SOURCE_FORMAT_VERSION: u32 = 1;

/// The deployment's entity source (empty when the deployment names none).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct EntitySource {
    /// Document format version (1, [`ENTITY_SOURCE_FORMAT_VERSION`]).
    pub format_version: u32,
    /// Tenant attributes by tenant id.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tenants: BTreeMap<String, Map<String, Value>>,
    /// User attributes by user id.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub users: BTreeMap<String, Map<String, Value>>,
    /// Agent attributes by agent id.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub agents: BTreeMap<String, Map<String, Value>>,
    /// Pack attributes by pack id.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub packs: BTreeMap<String, Map<String, Value>>,
    /// The deployment's own entities, in Cedar's JSON entity format.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entities: Vec<Value>,
}

/// An entity source that could not be read.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum EntitySourceError {
    /// The file could not be read.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Io(#[from] IoError),
    /// The file is not a valid entity source (located).
    #[error(transparent)]
    #[diagnostic(transparent)]
    Document(#[from] DocumentError),
    /// A `format_version` this release does not read.
    #[error("{file}: format_version {found} is not supported (this release reads {ENTITY_SOURCE_FORMAT_VERSION})")]
    Version {
        /// The file.
        file: String,
        /// The version it declares.
        found: u32,
    },
}

impl Kind for EntitySourceError {
    /// Always bad input (exit 2).
    fn kind(&self) -> ErrorKind {
        ErrorKind::Input
    }
}

/// Which built-in entity an attribute record belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Described {
    /// A tenant.
    Tenant,
    /// A user.
    User,
    /// An agent.
    Agent,
    /// A context pack.
    Pack,
}

impl EntitySource {
    /// An empty source, for a deployment that names none.
    pub fn empty() -> Self {
        Self {
            format_version: ENTITY_SOURCE_FORMAT_VERSION,
            ..Self::default()
        }
    }

    /// Reads and parses `path` (YAML, or JSON when it ends in `.json`).
    pub fn load(path: &Path) -> Result<Self, EntitySourceError> {
        let shown = path.to_string_lossy().replace('\\', "/");
        let text = std::fs::read_to_string(path).map_err(IoError::of("read", path))?;
        let source: Self = parse_document(&shown, &text)?;
        if source.format_version != ENTITY_SOURCE_FORMAT_VERSION {
            return Err(EntitySourceError::Version {
                file: shown,
                found: source.format_version,
            });
        }
        Ok(source)
    }

    /// The `attributes` record of one built-in entity (`{}` when the source
    /// says nothing about it).
    pub fn attributes(&self, of: Described, id: &str) -> Value {
        let table = match of {
            Described::Tenant => &self.tenants,
            Described::User => &self.users,
            Described::Agent => &self.agents,
            Described::Pack => &self.packs,
        };
        Value::Object(table.get(id).cloned().unwrap_or_default())
    }

    /// The digest of the source's canonical form (recorded in replay packets).
    pub fn digest(&self) -> Result<Digest, contextos_core::CanonicalError> {
        digest_of(self)
    }

    /// Whether the source says nothing at all.
    pub fn is_empty(&self) -> bool {
        self.tenants.is_empty()
            && self.users.is_empty()
            && self.agents.is_empty()
            && self.packs.is_empty()
            && self.entities.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str, name: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write");
        (dir, path)
    }

    #[test]
    fn attributes_are_read_by_kind_and_id_and_default_to_an_empty_record() {
        let (_dir, path) = write(
            "format_version: 1\nusers:\n  u-1: { tier: gold }\npacks:\n  p: { data_class: internal }\n",
            "entities.yaml",
        );
        let source = EntitySource::load(&path).expect("loads");
        assert_eq!(
            source.attributes(Described::User, "u-1"),
            serde_json::json!({"tier": "gold"})
        );
        assert_eq!(source.attributes(Described::Pack, "p")["data_class"], "internal");
        assert_eq!(source.attributes(Described::User, "u-2"), serde_json::json!({}));
        assert_eq!(source.attributes(Described::Agent, "u-1"), serde_json::json!({}));
    }

    #[test]
    fn unknown_fields_and_versions_are_refused_with_the_file() {
        let (_dir, path) = write("format_version: 1\nuser:\n  u-1: {}\n", "entities.yaml");
        let err = EntitySource::load(&path).expect_err("unknown field").to_string();
        assert!(
            err.contains("entities.yaml:2:1") && err.contains("unknown field `user`"),
            "{err}"
        );
        let (_dir, path) = write(r#"{"format_version": 2}"#, "entities.json");
        let err = EntitySource::load(&path).expect_err("version").to_string();
        assert!(err.contains("format_version 2 is not supported"), "{err}");
    }
}
