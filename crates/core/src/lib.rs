//! ContextOS primitives and the determinism toolkit.
//!
//! This crate owns the types that travel through every plane (RunContext,
//! ApprovalMode, ToolEnvelope, DecisionRecord, ReplayPacket and the context
//! types), canonical JSON (RFC 8785) with `sha256:` digests, the injected
//! [`Clock`] and [`IdGen`] traits, and the error kinds with their CLI exit
//! codes. It does no I/O: reading files, the network and the system clock is
//! the business of other crates (the one exception, [`live`], is the single
//! place where wall-clock time and operating-system randomness enter).
//!
//! Every document's id is the digest of its canonical form, so key order
//! and whitespace never change it:
//!
//! ```
//! use contextos_core::{Digest, canonical_json, digest_of};
//! use serde_json::json;
//!
//! let a = json!({"b": 1, "a": [true, null]});
//! let b: serde_json::Value = serde_json::from_str("{ \"a\": [true, null], \"b\": 1 }")?;
//! assert_eq!(canonical_json(&a)?, br#"{"a":[true,null],"b":1}"#);
//! assert_eq!(digest_of(&a)?, digest_of(&b)?);
//! assert_eq!(digest_of(&a)?, Digest::of_bytes(&canonical_json(&b)?));
//! assert!(digest_of(&a)?.to_string().starts_with("sha256:"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(missing_docs)]

mod canonical;
pub mod cedar_names;
mod clock;
mod context;
mod document;
mod exit;
mod ids;
mod interaction;
mod io_error;
pub mod live;
mod primitives;
mod redact;
mod secret;
mod text;

pub use canonical::{CanonicalError, Digest, DigestParseError, canonical_json, digest_of, merge_json};
pub use clock::{Clock, FixedClock, Timestamp};
pub use context::{
    BudgetReport, CompiledContext, ContextLayer, ContextPackRef, DebtKind, DebtWarning, LayerBudget, ManifestLayer,
    ManifestSnippet, ManifestSource, OmitReason, OmittedSnippet, RankedSnippet,
};
pub use document::{DocumentError, MAX_DOCUMENT_BYTES, parse_document, parse_json, parse_yaml};
pub use exit::{ErrorKind, ExitCode, Kind};
pub use ids::{IdGen, SequentialIdGen};
pub use interaction::{
    Message, ModelRequest, ModelResponse, Role, ToolCall, ToolRequest, ToolResponse, ToolSpec, Usage,
};
pub use io_error::IoError;
pub use primitives::{
    ActionSummary, AgentRef, ApprovalMode, ApprovalRecord, ApprovalVerdict, CriticNote, CriticStage, CriticVerdict,
    DecisionRecord, InteractionKind, MemoryProposal, PolicyDecision, PolicyOutcome, RecordedInteraction,
    RecordedRequest, ReplayInputs, ReplayPacket, RunBudget, RunContext, RunOutcome, RunUsage, SafetyMode, ShadowEffect,
    ToolCallStatus, ToolEnvelope, UserRef,
};
pub use redact::{REDACTED, is_secret_field, looks_like_secret, redact, redact_text};
pub use secret::Secret;
pub use text::{EXCERPT_CHARS, bound_quoted, cut_chars, excerpt};

/// The `format_version` written into every persisted document of this release
/// (decision records and replay packets have their own, below).
pub const FORMAT_VERSION: u32 = 1;

/// The `format_version` of decision records and replay packets.
///
/// - 3: the runtime's Cedar types and actions live in the `ContextOS`
///   namespace (`ContextOS::Tool::"issue_refund"`), and built-in entities
///   carry the deployment's declared `attributes`.
/// - 2: a tool call is its tool's own Cedar action (in the `call_tool`
///   group) and its recorded request carries the typed `arguments`.
/// - 1: every tool call was `Action::"call_tool"`, without arguments.
///
/// Formats 1 and 2 still load, verify and replay; policy impact counts their
/// decisions as recorded before the schema change.
pub const RECORD_FORMAT_VERSION: u32 = 3;
