//! ContextOS primitives and the determinism toolkit.
//!
//! This crate owns the types that travel through every plane (RunContext,
//! ApprovalMode, ToolEnvelope, DecisionRecord, ReplayPacket and the context
//! types), canonical JSON (RFC 8785) with `sha256:` digests, the injected
//! [`Clock`] and [`IdGen`] traits, and the error kinds with their CLI exit
//! codes. It does no I/O: reading files, the network and the system clock is
//! the business of other crates (the one exception, [`live`], is the single
//! place where wall-clock time and operating-system randomness enter).

#![deny(missing_docs)]

mod canonical;
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
pub use context::*;
pub use document::{DocumentError, MAX_DOCUMENT_BYTES, parse_document, parse_json, parse_yaml};
pub use exit::{ErrorKind, ExitCode, Kind};
pub use ids::{IdGen, SequentialIdGen};
pub use interaction::*;
pub use io_error::IoError;
pub use primitives::*;
pub use redact::{REDACTED, looks_like_secret, redact, redact_text};
pub use secret::Secret;
pub use text::cut_chars;

/// The `format_version` written into every persisted document of this release.
pub const FORMAT_VERSION: u32 = 1;
