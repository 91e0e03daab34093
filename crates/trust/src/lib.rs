//! The ContextOS trust plane.
//!
//! Owns the Cedar policy engine (schema validation at load, `@id`s, shadow
//! mode, approval derivation, explanations), policy tests, ed25519 signed
//! envelopes over canonical JSON with the keyring that verifies them, and the
//! hash-chained, append-only evidence log. Every check here fails closed: an
//! evaluation error denies, a bad signature or broken chain is an error.
//!
//! It does not decide what a run does (that is the decision plane) and does
//! not reach tools (the action plane); it answers "may this happen?" and
//! "is this what was signed?".

#![deny(missing_docs)]

mod evidence;
mod policy;
mod signing;

pub use policy::*;

// Signing and evidence log (see signing.rs and evidence.rs).
pub use evidence::*;
pub use signing::*;
