//! Context-plane types that travel in replay packets: the ten layers, pack
//! references and the compiled context with its manifest.

use serde::{Deserialize, Serialize};

use crate::Digest;

/// The ten layers of a context pack, in canonical order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContextLayer {
    /// System instructions.
    System,
    /// Policy excerpts the model must follow.
    Policy,
    /// The task definition.
    Task,
    /// Domain knowledge.
    Domain,
    /// Tenant-specific facts.
    Tenant,
    /// Retrieved evidence.
    RetrievedEvidence,
    /// Promoted memory.
    Memory,
    /// Tool contracts shown to the model.
    ToolContracts,
    /// Session history.
    Session,
    /// The required output shape.
    OutputContract,
}

/// A reference to a built, signed context pack.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ContextPackRef {
    /// `name:version`.
    pub id: String,
    /// Digest of the built pack.
    pub digest: Digest,
}

/// The model-ready payload and the manifest of how it was made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompiledContext {
    /// Document format version.
    pub format_version: u32,
    /// Packs used.
    pub packs: Vec<ContextPackRef>,
    /// The rendered prompt.
    pub prompt: String,
    /// Runtime controls in force (for example `budget`, `policy`, `approval`).
    pub controls: Vec<String>,
}
