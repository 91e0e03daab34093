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
//!
//! Loading the shipped policy bundle and asking it one question (doctests run
//! in the crate directory, so the repository root is `../..`):
//!
//! ```
//! use std::path::Path;
//! use contextos_core::PolicyOutcome;
//! use contextos_trust::{PolicyEngine, RequestDocument};
//! use serde_json::json;
//!
//! let engine = PolicyEngine::load(Path::new("../../policies"))?;
//! let entities = std::fs::read_to_string("../../policies/tests/entities.json")?;
//! let ask = |pack: &str| -> Result<PolicyOutcome, Box<dyn std::error::Error>> {
//!     let doc: RequestDocument = serde_json::from_value(json!({
//!         "principal": "ContextOS::Agent::\"triage-bot\"",
//!         "action": "use_pack",
//!         "resource": format!("ContextOS::Pack::\"{pack}\""),
//!         "context": {
//!             "tenant": {"type": "ContextOS::Tenant", "id": "acme"},
//!             "safety_mode": "standard",
//!             "run_approval_level": 2,
//!             "budget": {"tool_calls_left": 8, "tokens_left": 20000},
//!         },
//!         "entities": serde_json::from_str::<serde_json::Value>(&entities)?,
//!     }))?;
//!     let (request, entities) = engine.request_from_document(&doc)?;
//!     Ok(engine.authorize(&request, &entities).outcome)
//! };
//! assert_eq!(ask("support_escalation:18")?, PolicyOutcome::Allow);
//! // Fail closed: an unsigned pack is not permitted.
//! assert_eq!(ask("scratch:1")?, PolicyOutcome::Deny);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(missing_docs)]

mod evidence;
mod policy;
mod signing;

pub use policy::{
    ARGUMENTS, ATTRIBUTE_TYPES, ArgumentType, DeclaredAttributes, ErrorsExpectation, Expectation, Field,
    GENERATED_SCHEMA_FILE, PolicyEffect, PolicyEngine, PolicyInfo, PolicyLoadError, PolicyMode, PolicyRequest,
    PolicyTestError, PolicyTestReport, PolicyTestResult, RecordType, RequestDocument, RequestError, SourceDiagnostic,
    ToolArguments, generated_schema, is_shadow_error, run_policy_tests, tool_actions_schema,
};
/// JSON Schemas of the bundle's YAML files (the harness publishes them).
#[cfg(feature = "schema")]
pub use policy::{approvers_schema, policy_test_schema};

// Signing and evidence log (see signing.rs and evidence.rs).
pub use evidence::{EvidenceEntry, EvidenceError, EvidenceLog, LogReport, verify_log};
pub use signing::{
    EnvelopeSignature, Keyring, PublicKey, SignedEnvelope, SigningError, SigningKey, Verified, VerifyError,
    generate_key_files, sign,
};
