//! Context-plane types that travel in replay packets: the ten layers, pack
//! references and the compiled context with its manifest, ranking, omissions,
//! budget report and context-debt warnings.
//!
//! Everything here serializes to stable canonical JSON: lists are ordered by
//! the compiler, scores are integer millis and token counts are integers, so
//! the same compilation gives the same bytes on every machine.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{Digest, Timestamp};

/// The ten layers of a context pack, in canonical order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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

impl ContextLayer {
    /// Every layer, in canonical order.
    pub const ALL: [Self; 10] = [
        Self::System,
        Self::Policy,
        Self::Task,
        Self::Domain,
        Self::Tenant,
        Self::RetrievedEvidence,
        Self::Memory,
        Self::ToolContracts,
        Self::Session,
        Self::OutputContract,
    ];

    /// The snake_case name used in documents, prompts and Cedar layer ids.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::System => "system",
            Self::Policy => "policy",
            Self::Task => "task",
            Self::Domain => "domain",
            Self::Tenant => "tenant",
            Self::RetrievedEvidence => "retrieved_evidence",
            Self::Memory => "memory",
            Self::ToolContracts => "tool_contracts",
            Self::Session => "session",
            Self::OutputContract => "output_contract",
        }
    }
}

impl fmt::Display for ContextLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl FromStr for ContextLayer {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|l| l.as_str() == s).ok_or_else(|| {
            let names: Vec<&str> = Self::ALL.iter().map(|l| l.as_str()).collect();
            format!("unknown context layer {s:?}, expected one of {}", names.join(", "))
        })
    }
}

/// A reference to a built, signed context pack.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ContextPackRef {
    /// `name:version`.
    pub id: String,
    /// Digest of the built pack.
    pub digest: Digest,
}

/// The model-ready payload and the manifest of how it was made: exactly what
/// the model saw and what was intentionally left out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompiledContext {
    /// Document format version.
    pub format_version: u32,
    /// Packs the run was allowed to use (input order).
    pub packs: Vec<ContextPackRef>,
    /// The rendered prompt.
    pub prompt: String,
    /// Runtime controls in force (for example `budget:4000`, `policy:use_pack`,
    /// `unsigned_pack_dev_mode`).
    pub controls: Vec<String>,
    /// Tokens of `prompt` under `encoding`.
    pub prompt_tokens: u64,
    /// The tokenizer that counted every token here (`o200k_base`, `cl100k_base`).
    pub encoding: String,
    /// Digest of the request text the snippets were ranked against.
    pub request_digest: Digest,
    /// Per layer, the included snippets with their sources' provenance, in prompt order.
    pub manifest: Vec<ManifestLayer>,
    /// Every snippet of a permitted layer, best first.
    pub ranked: Vec<RankedSnippet>,
    /// Every snippet left out, with the reason.
    pub omitted: Vec<OmittedSnippet>,
    /// What each layer was allowed, used and lost.
    pub budget: BudgetReport,
    /// Context-debt warnings: problems worth fixing in the packs.
    pub debt: Vec<DebtWarning>,
}

/// One rendered layer of one pack in the source manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestLayer {
    /// Pack id (`name:version`).
    pub pack: String,
    /// The layer.
    pub layer: ContextLayer,
    /// Who owns the layer's content.
    pub owner: String,
    /// Tokens the layer takes in the prompt (header line included).
    pub tokens: u64,
    /// Sources with at least one included snippet, in pack order.
    pub sources: Vec<ManifestSource>,
}

/// A source's provenance and the snippets of it that were included.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestSource {
    /// Where the content came from.
    pub uri: String,
    /// Who owns the source (empty when unowned: a debt warning).
    pub owner: String,
    /// When the content was fetched.
    pub fetched_at: Timestamp,
    /// How long the content stays fresh, in milliseconds (absent: does not expire).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_ms: Option<u64>,
    /// Digest of the source's snippets as built.
    pub digest: Digest,
    /// The included snippets, in source order.
    pub snippets: Vec<ManifestSnippet>,
}

/// One included snippet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestSnippet {
    /// Snippet id, unique within its pack.
    pub id: String,
    /// Digest of the snippet text.
    pub digest: Digest,
    /// Tokens of the snippet as rendered.
    pub tokens: u64,
}

/// A snippet's relevance to the request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RankedSnippet {
    /// Pack id.
    pub pack: String,
    /// The layer.
    pub layer: ContextLayer,
    /// Snippet id.
    pub id: String,
    /// BM25 score in thousandths (integer so the document is stable).
    pub score_millis: u64,
}

/// Why a snippet was left out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OmitReason {
    /// It did not fit the total budget or its layer's `max_tokens`.
    Budget,
    /// Policy denied its pack or layer.
    Policy,
    /// Its source is past `fetched_at + ttl` (in a layer that is not required).
    Stale,
    /// The same text is already included elsewhere.
    Duplicate,
}

impl OmitReason {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Budget => "budget",
            Self::Policy => "policy",
            Self::Stale => "stale",
            Self::Duplicate => "duplicate",
        }
    }
}

impl fmt::Display for OmitReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// A snippet left out of the prompt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OmittedSnippet {
    /// Pack id.
    pub pack: String,
    /// The layer.
    pub layer: ContextLayer,
    /// Snippet id.
    pub id: String,
    /// Digest of the snippet text.
    pub digest: Digest,
    /// The source it belongs to.
    pub source_uri: String,
    /// Tokens it would have taken.
    pub tokens: u64,
    /// Why it was left out.
    pub reason: OmitReason,
    /// The specifics, for a person.
    pub detail: String,
    /// For `policy`: the policies that decided.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policy_ids: Vec<String>,
}

/// The token budget and how it was spent.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BudgetReport {
    /// The budget the compiler was given.
    pub total_tokens: u64,
    /// Tokens the prompt takes (equals `prompt_tokens`).
    pub used_tokens: u64,
    /// Tokens of omitted snippets.
    pub omitted_tokens: u64,
    /// `total_tokens - used_tokens`.
    pub remaining_tokens: u64,
    /// Per pack layer, in canonical layer order.
    pub layers: Vec<LayerBudget>,
}

/// One pack layer's share of the budget.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerBudget {
    /// Pack id.
    pub pack: String,
    /// The layer.
    pub layer: ContextLayer,
    /// Whether the layer must be present.
    pub required: bool,
    /// Allocation priority (higher first, after required layers).
    pub priority: u32,
    /// The layer's declared minimum.
    pub min_tokens: u64,
    /// The layer's declared maximum.
    pub max_tokens: u64,
    /// What the layer could use: `max_tokens` when policy permits it, 0 otherwise.
    pub allowed_tokens: u64,
    /// What it used (header line included).
    pub used_tokens: u64,
    /// Tokens of its omitted snippets.
    pub omitted_tokens: u64,
}

/// What kind of context debt a warning is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DebtKind {
    /// A source is past `fetched_at + ttl`.
    StaleSource,
    /// A source names no owner.
    UnownedSource,
    /// A layer's content is larger than its `max_tokens`, so some was cut.
    LayerOverMax,
    /// A required layer did not get its `min_tokens` (budget) or was denied (policy).
    RequiredLayerStarved,
    /// Two included snippets of a layer state the same fact differently.
    ConflictingFacts,
    /// A pack was used without a signature under the development flag.
    UnsignedPackDevMode,
}

impl DebtKind {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::StaleSource => "stale_source",
            Self::UnownedSource => "unowned_source",
            Self::LayerOverMax => "layer_over_max",
            Self::RequiredLayerStarved => "required_layer_starved",
            Self::ConflictingFacts => "conflicting_facts",
            Self::UnsignedPackDevMode => "unsigned_pack_dev_mode",
        }
    }
}

impl fmt::Display for DebtKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// A context-debt warning.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct DebtWarning {
    /// Pack id.
    pub pack: String,
    /// The layer, when the warning is about one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer: Option<ContextLayer>,
    /// What kind of debt.
    pub kind: DebtKind,
    /// What it is about: a source uri, a fact key, a layer name or the pack id.
    pub subject: String,
    /// A sentence a person can act on.
    pub message: String,
}
