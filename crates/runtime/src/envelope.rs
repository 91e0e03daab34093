//! Request envelopes: what a caller asks, with the run context it runs under.

use contextos_core::{DocumentError, RunContext, Timestamp};
use serde::{Deserialize, Serialize};

/// The request itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Request {
    /// Caller's request id.
    pub id: String,
    /// Where it came from (`support_portal`, `email`, …).
    pub channel: String,
    /// What is asked.
    pub text: String,
}

/// A request envelope file (YAML or JSON): what `contextos run REQUEST` runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RequestEnvelope {
    /// Document format version (1).
    pub format_version: u32,
    /// What is asked, and through which channel.
    pub request: Request,
    /// Who the run acts for, in which tenant, with which ceiling and budget.
    pub run_context: RunContext,
    /// Start of the injected clock for runs on recorded fixtures.
    pub started_at: Timestamp,
}

impl RequestEnvelope {
    /// Parses and checks an envelope: format version, ids, trace id shape.
    pub fn parse(file: &str, text: &str) -> Result<Self, DocumentError> {
        let env: Self = contextos_core::parse_document(file, text)?;
        let fail = |field: &str, message: String| Err(DocumentError::new(file, format!("{field}: {message}")));
        if env.format_version != 1 {
            return fail(
                "format_version",
                format!("unsupported version {}, expected 1", env.format_version),
            );
        }
        let rc = &env.run_context;
        if rc.format_version != 1 {
            return fail(
                "run_context.format_version",
                format!("unsupported version {}, expected 1", rc.format_version),
            );
        }
        let trace_ok = rc.trace_id.len() == 32
            && rc.trace_id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
            && rc.trace_id.bytes().any(|b| b != b'0');
        if !trace_ok {
            return fail(
                "run_context.trace_id",
                format!(
                    "{:?} is not a W3C trace id (32 lowercase hex digits, not all zero)",
                    rc.trace_id
                ),
            );
        }
        for (field, value) in [
            ("run_context.run_id", &rc.run_id),
            ("run_context.tenant_id", &rc.tenant_id),
            ("run_context.user.id", &rc.user.id),
            ("run_context.agent.id", &rc.agent.id),
            ("request.text", &env.request.text),
        ] {
            if value.trim().is_empty() {
                return fail(field, "must not be empty".into());
            }
        }
        if !rc
            .run_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        {
            return fail(
                "run_context.run_id",
                format!("{:?} may contain only letters, digits, '_', '-' and '.'", rc.run_id),
            );
        }
        if rc.budget.max_iterations == 0 {
            return fail("run_context.budget.max_iterations", "must be at least 1".into());
        }
        Ok(env)
    }
}
