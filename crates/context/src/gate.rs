//! The policy seam of the compiler: which packs and layers a run may use.
//!
//! The compiler asks a [`PackGate`] once per pack and once per layer of each
//! permitted pack. The runtime implements it with Cedar (`use_pack` on
//! `Pack::"name:version"` and `Layer::"name:version#layer"`); the compiler
//! only records the verdicts.

use contextos_core::{ContextLayer, Digest};

/// What a gate knows about a pack: the attributes a policy may look at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PackRefInfo {
    /// `name:version`.
    pub id: String,
    /// Pack name.
    pub name: String,
    /// Pack version.
    pub version: u32,
    /// Digest of the built pack.
    pub digest: Digest,
    /// Whether a trusted key signed it (false only in development mode).
    pub signed: bool,
    /// The tenant that owns the pack, if it is tenant-private.
    pub owner_tenant: Option<String>,
}

impl PackRefInfo {
    /// The Cedar id of one of the pack's layers: `name:version#layer`.
    pub fn layer_id(&self, layer: ContextLayer) -> String {
        format!("{}#{}", self.id, layer)
    }
}

/// A gate's answer, with the policies that decided and a reason a person can read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GateVerdict {
    /// Whether the pack or layer may be used.
    pub allowed: bool,
    /// The policies that determined the verdict.
    pub policy_ids: Vec<String>,
    /// Why.
    pub reason: String,
}

/// Decides which packs and layers a run may use.
pub trait PackGate {
    /// May the run use this pack at all?
    fn allow_pack(&self, pack: &PackRefInfo) -> GateVerdict;
    /// May the run use this layer of a permitted pack?
    fn allow_layer(&self, pack: &PackRefInfo, layer: ContextLayer) -> GateVerdict;
}
