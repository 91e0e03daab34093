//! The tool gateway: the only way a run reaches a tool.
//!
//! `call` = contract lookup -> argument validation -> Cedar check ->
//! approval (when policy says `approval_required`) -> idempotency ->
//! execution through the adapter -> evidence capture -> ToolEnvelope.

use std::collections::BTreeMap;
use std::sync::Mutex;

use cedar_policy::{Entities, EntityUid};
use contextos_core::cedar_names::{ACTION, TOOL};
use contextos_core::{
    ApprovalRecord, ApprovalVerdict, Clock, Digest, ErrorKind, IdGen, Kind, PolicyDecision, PolicyOutcome,
    RecordedRequest, RunContext, ToolCall, ToolCallStatus, ToolEnvelope, ToolRequest, ToolResponse, canonical_json,
    digest_of, redact,
};
use contextos_intelligence::{BudgetLeft, entity_uid, run_attributes};
use contextos_trust::{ARGUMENTS, PolicyEngine, PolicyRequest};
use serde::Serialize;

use crate::approval::{ApprovalRequest, Approver};
use crate::contract::{LoadedTool, ToolCatalog};
use crate::recording::FixtureMiss;

/// Why an adapter could not produce a response.
#[derive(Debug, Clone, thiserror::Error, miette::Diagnostic)]
pub enum AdapterError {
    /// No recorded response for this request.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Miss(#[from] FixtureMiss),
    /// The transport failed (connection, protocol, timeout).
    #[error("tool transport failed: {0}")]
    Transport(String),
}

/// A missing recording is a fixture miss (exit 4); a failed transport is the peer's or the setup's fault (exit 2).
impl Kind for AdapterError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Miss(_) => ErrorKind::FixtureMiss,
            Self::Transport(_) => ErrorKind::Input,
        }
    }
}

/// Executes tool requests: recorded fixtures, MCP, OpenAPI, …
pub trait ToolAdapter: Send + Sync {
    /// Executes `request` under `tool`'s contract, propagating `traceparent`.
    fn call(&self, tool: &LoadedTool, request: &ToolRequest, traceparent: &str) -> Result<ToolResponse, AdapterError>;
}

/// A borrowed adapter is an adapter (so wrappers such as `RecordingTools` take `&dyn ToolAdapter`).
impl<T: ToolAdapter + ?Sized> ToolAdapter for &T {
    fn call(&self, tool: &LoadedTool, request: &ToolRequest, traceparent: &str) -> Result<ToolResponse, AdapterError> {
        (**self).call(tool, request, traceparent)
    }
}

/// Where an idempotency key stands.
#[derive(Clone, Debug, PartialEq)]
pub enum Attempt {
    /// Never attempted: execute.
    Fresh,
    /// Executed and recorded: return this response, never execute again.
    Done(ToolResponse),
    /// Attempted, but no result was recorded (a crash mid-call): the effect
    /// may have happened.
    InFlight,
}

/// Results of executed calls, by idempotency key. `begin` is durable before
/// the adapter runs and `finish` before the gateway returns, so a crash at
/// any point is visible to the retry.
pub trait IdempotencyStore: Send + Sync {
    /// Marks `key` as attempted and says where it stood before.
    fn begin(&self, key: &str) -> Result<Attempt, String>;
    /// Records the response of a successful execution.
    fn finish(&self, key: &str, response: &ToolResponse) -> Result<(), String>;
    /// Forgets an attempt that failed without effect, so a retry may execute.
    fn abandon(&self, key: &str) -> Result<(), String>;
}

/// An in-memory idempotency store: dedupes within one process (runs on
/// recorded fixtures, which are pure functions and never crash mid-effect).
#[derive(Debug, Default)]
pub struct MemoryIdempotency {
    entries: Mutex<BTreeMap<String, Option<ToolResponse>>>,
}

impl IdempotencyStore for MemoryIdempotency {
    fn begin(&self, key: &str) -> Result<Attempt, String> {
        let mut entries = self
            .entries
            .lock()
            .map_err(|_| "idempotency lock poisoned".to_string())?;
        Ok(match entries.get(key) {
            None => {
                entries.insert(key.to_string(), None);
                Attempt::Fresh
            }
            Some(None) => Attempt::InFlight,
            Some(Some(response)) => Attempt::Done(response.clone()),
        })
    }

    fn finish(&self, key: &str, response: &ToolResponse) -> Result<(), String> {
        let mut entries = self
            .entries
            .lock()
            .map_err(|_| "idempotency lock poisoned".to_string())?;
        entries.insert(key.to_string(), Some(response.clone()));
        Ok(())
    }

    fn abandon(&self, key: &str) -> Result<(), String> {
        let mut entries = self
            .entries
            .lock()
            .map_err(|_| "idempotency lock poisoned".to_string())?;
        entries.remove(key);
        Ok(())
    }
}

/// A durable idempotency store: `<dir>/<key>.attempt` written before the
/// adapter runs, `<dir>/<key>.done.json` after it succeeded, both crash-safe.
#[derive(Debug, Clone)]
pub struct FileIdempotency {
    dir: std::path::PathBuf,
}

impl FileIdempotency {
    /// A store in `dir` (created when missing).
    pub fn open(dir: &std::path::Path) -> Result<Self, String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        Ok(Self { dir: dir.to_path_buf() })
    }

    fn path(&self, key: &str, suffix: &str) -> Result<std::path::PathBuf, String> {
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("invalid idempotency key {key:?}"));
        }
        Ok(self.dir.join(format!("{key}{suffix}")))
    }
}

impl IdempotencyStore for FileIdempotency {
    fn begin(&self, key: &str) -> Result<Attempt, String> {
        let done = self.path(key, ".done.json")?;
        if let Ok(text) = std::fs::read_to_string(&done) {
            let response = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", done.display()))?;
            return Ok(Attempt::Done(response));
        }
        let attempt = self.path(key, ".attempt")?;
        if attempt.exists() {
            return Ok(Attempt::InFlight);
        }
        let options = contextos_fs::AtomicWrite {
            replace: false,
            secret: false,
        };
        contextos_fs::write_file_atomically(&attempt, b"attempted\n", options)
            .map_err(|e| format!("cannot record attempt {}: {e}", attempt.display()))?;
        Ok(Attempt::Fresh)
    }

    fn finish(&self, key: &str, response: &ToolResponse) -> Result<(), String> {
        let done = self.path(key, ".done.json")?;
        let bytes = canonical_json(response).map_err(|e| e.to_string())?;
        let options = contextos_fs::AtomicWrite {
            replace: true,
            secret: false,
        };
        contextos_fs::write_file_atomically(&done, &bytes, options)
            .map_err(|e| format!("cannot record result {}: {e}", done.display()))
    }

    fn abandon(&self, key: &str) -> Result<(), String> {
        let attempt = self.path(key, ".attempt")?;
        match std::fs::remove_file(&attempt) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(format!("cannot remove {}: {e}", attempt.display())),
        }
    }
}

/// Who is calling, in which run, with what left.
#[derive(Debug)]
pub struct GatewayContext<'a> {
    /// The run.
    pub run: &'a RunContext,
    /// The acting agent as a Cedar uid.
    pub principal: EntityUid,
    /// Identity and tool entities.
    pub entities: &'a Entities,
    /// Budget left before this call.
    pub budget_left: BudgetLeft,
}

/// A call the gateway refused before policy: the plan was malformed.
#[derive(Debug, Clone, thiserror::Error, miette::Diagnostic)]
pub enum GatewayError {
    /// No contract for the tool.
    #[error("unknown tool {0:?}: no contract in the catalog")]
    UnknownTool(String),
    /// Arguments do not match the contract's input schema.
    #[error("arguments of {tool} do not match its input schema: {}", .errors.join("; "))]
    InvalidArguments {
        /// The tool.
        tool: String,
        /// `pointer: message` per violation.
        errors: Vec<String>,
    },
    /// The adapter had no answer.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Adapter(#[from] AdapterError),
    /// The idempotency store failed: refuse rather than risk a double execution.
    #[error("idempotency store failed: {0}")]
    Idempotency(String),
    /// A request could not be built (a bug or a malformed identity).
    #[error("cannot build the policy request: {0}")]
    Request(String),
}

impl Kind for GatewayError {
    /// Exit-code kind.
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Adapter(e) => e.kind(),
            Self::UnknownTool(_) | Self::InvalidArguments { .. } => ErrorKind::Input,
            Self::Idempotency(_) => ErrorKind::Input,
            Self::Request(_) => ErrorKind::Bug,
        }
    }
}

/// Everything one gateway call produced.
#[derive(Debug, Clone)]
pub struct GatewayCall {
    /// The envelope.
    pub envelope: ToolEnvelope,
    /// Every policy decision taken (the first, and the one with the approval when asked).
    pub decisions: Vec<PolicyDecision>,
    /// Evidence blobs (canonical JSON of the request and of the response), by digest.
    pub evidence: Vec<(Digest, Vec<u8>)>,
    /// The executed interaction, for the replay packet (not for deduplicated or denied calls).
    pub interaction: Option<(ToolRequest, ToolResponse)>,
}

/// The gateway for one run.
pub struct ToolGateway<'a> {
    /// Tool contracts.
    pub catalog: &'a ToolCatalog,
    /// The policy engine.
    pub policy: &'a PolicyEngine,
    /// Where calls are executed.
    pub adapter: &'a dyn ToolAdapter,
    /// Who approves.
    pub approver: &'a dyn Approver,
    /// The injected clock.
    pub clock: &'a dyn Clock,
    /// The injected id generator.
    pub ids: &'a dyn IdGen,
    /// Executed-call results by idempotency key.
    pub idempotency: &'a dyn IdempotencyStore,
}

impl std::fmt::Debug for ToolGateway<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToolGateway")
            .field("tools", &self.catalog.tools().count())
            .finish_non_exhaustive()
    }
}

/// The idempotency key of a call: the same tenant, tool contract and
/// arguments always give the same key, so a retry never executes twice.
pub fn idempotency_key(tenant: &str, request: &ToolRequest) -> String {
    #[derive(Serialize)]
    struct Key<'a> {
        tenant: &'a str,
        request: &'a ToolRequest,
    }
    match digest_of(&Key { tenant, request }) {
        Ok(d) => format!("idem_{}", &d.hex()[..24]),
        Err(_) => format!("idem_unhashable_{}", request.tool),
    }
}

/// A request with its secrets redacted: what recordings are keyed by and records hold.
pub(crate) fn redact_request(request: &ToolRequest) -> ToolRequest {
    ToolRequest {
        arguments: redact(&request.arguments),
        ..request.clone()
    }
}

/// A response with its secrets redacted.
pub(crate) fn redact_response(response: &ToolResponse) -> ToolResponse {
    match response {
        ToolResponse::Ok(v) => ToolResponse::Ok(redact(v)),
        ToolResponse::Error(e) => ToolResponse::Error(contextos_core::redact_text(e)),
    }
}

/// A W3C `traceparent` for a span derived deterministically from `span_seed`.
pub fn traceparent(trace_id: &str, span_seed: &str) -> String {
    let span = Digest::of_bytes(span_seed.as_bytes()).hex();
    format!("00-{trace_id}-{}-01", &span[..16])
}

fn evidence_blob<T: Serialize>(value: &T) -> Option<(Digest, Vec<u8>)> {
    let bytes = canonical_json(value).ok()?;
    Some((Digest::of_bytes(&bytes), bytes))
}

impl ToolGateway<'_> {
    /// The Cedar request for calling `tool`, with an approval of
    /// `approval_role` when given: its own action (a member of
    /// `call_tool`), the run attributes and, for a real call, the typed
    /// `arguments` built from the redacted arguments (so the recorded request
    /// is exactly what Cedar evaluated, and never holds a secret).
    fn policy_request(
        &self,
        tool: &str,
        ctx: &GatewayContext<'_>,
        approval_role: Option<String>,
        arguments: Option<&serde_json::Value>,
    ) -> Result<PolicyRequest, GatewayError> {
        let mut attributes = run_attributes(ctx.run, ctx.budget_left).map_err(GatewayError::Request)?;
        if let Some(arguments) = arguments {
            let loaded = self
                .catalog
                .get(tool)
                .ok_or_else(|| GatewayError::UnknownTool(tool.to_string()))?;
            let value = loaded
                .arguments
                .expression(arguments)
                .map_err(|error| GatewayError::InvalidArguments {
                    tool: tool.to_string(),
                    errors: vec![error],
                })?;
            attributes.push((ARGUMENTS.to_string(), value));
        }
        Ok(PolicyRequest {
            principal: ctx.principal.clone(),
            action: entity_uid(ACTION, tool).map_err(GatewayError::Request)?,
            resource: entity_uid(TOOL, tool).map_err(GatewayError::Request)?,
            attributes,
            approval_role,
        })
    }

    /// Authorizes `tool` as the run would right now, before any arguments
    /// exist and without executing anything (capability discovery). Policies
    /// that read the arguments err here: their answer depends on the call.
    pub fn preview(&self, tool: &str, ctx: &GatewayContext<'_>) -> Result<PolicyDecision, GatewayError> {
        Ok(self
            .policy
            .preview(&self.policy_request(tool, ctx, None, None)?, ctx.entities))
    }

    /// Capability discovery: whether policy might allow calling `tool` now
    /// (`PolicyEngine::might_allow`): a clean denial rules it out, and so
    /// does a denial no permit could lift; policies that read the arguments
    /// the call does not have yet are decided when it has them.
    pub fn may_allow(&self, tool: &str, ctx: &GatewayContext<'_>) -> Result<bool, GatewayError> {
        Ok(self
            .policy
            .might_allow(&self.policy_request(tool, ctx, None, None)?, ctx.entities))
    }

    /// Decides `req` and keeps the request with the decision, so policy
    /// impact can re-evaluate it (a context that cannot be recorded only
    /// leaves it out; impact reports such decisions as skipped).
    fn decide_recorded(&self, req: PolicyRequest, ctx: &GatewayContext<'_>) -> PolicyDecision {
        let mut decision = self.policy.authorize(&req, ctx.entities);
        decision.request = req.context_json().ok().map(|context| RecordedRequest {
            context,
            approval_role: req.approval_role,
        });
        decision
    }

    /// Runs one tool call through the whole gateway.
    pub fn call(&self, call: &ToolCall, ctx: &GatewayContext<'_>) -> Result<GatewayCall, GatewayError> {
        let tool = self
            .catalog
            .get(&call.name)
            .ok_or_else(|| GatewayError::UnknownTool(call.name.clone()))?;
        tool.validate_arguments(&call.arguments)
            .map_err(|errors| GatewayError::InvalidArguments {
                tool: call.name.clone(),
                errors,
            })?;
        let started_at = self.clock.now();
        let envelope_id = self.ids.next_id("env");
        let request = ToolRequest {
            contract_digest: tool.digest,
            tool: call.name.clone(),
            arguments: redact(&call.arguments),
        };
        // Keyed by the real arguments: two calls that differ only in a secret
        // are different calls. The key is a digest, so the secret stays out.
        let idempotency_key = idempotency_key(
            &ctx.run.tenant_id,
            &ToolRequest {
                arguments: call.arguments.clone(),
                ..request.clone()
            },
        );
        let authorized = self.authorize(call, ctx, &request)?;

        let mut evidence: Vec<(Digest, Vec<u8>)> = evidence_blob(&request).into_iter().collect();
        let (status, result, interaction) = if authorized.governing.outcome == PolicyOutcome::Allow {
            let attempt = self
                .idempotency
                .begin(&idempotency_key)
                .map_err(GatewayError::Idempotency)?;
            let key = &idempotency_key;
            match attempt {
                Attempt::Done(stored) => (ToolCallStatus::Deduplicated, Some(stored), None),
                Attempt::InFlight if !tool.contract.idempotent => {
                    // At most once: an earlier attempt may have had its effect.
                    let error = ToolResponse::Error(format!(
                        "an earlier attempt with idempotency key {key} did not record its result; \
                         {} is not idempotent, so it is not executed again: reconcile with the tool's owner",
                        call.name
                    ));
                    (ToolCallStatus::Failed, Some(error), None)
                }
                Attempt::Fresh | Attempt::InFlight => {
                    let traceparent = traceparent(&ctx.run.trace_id, &envelope_id);
                    let (status, response) = self.execute(tool, call, &request, key, &traceparent)?;
                    (status, Some(response.clone()), Some((request.clone(), response)))
                }
            }
        } else {
            (ToolCallStatus::Denied, None, None)
        };
        if let Some(response) = &result {
            evidence.extend(evidence_blob(response));
        }
        let Authorized {
            decisions,
            approval,
            governing,
        } = authorized;
        let envelope = ToolEnvelope {
            format_version: contextos_core::FORMAT_VERSION,
            envelope_id: envelope_id.clone(),
            run_id: ctx.run.run_id.clone(),
            tool: call.name.clone(),
            approval_mode: tool.contract.approval_mode,
            arguments: request.arguments.clone(),
            idempotency_key,
            policy_decision_id: governing.decision_id.clone(),
            policy_outcome: governing.outcome,
            approval,
            status,
            result: result.map(|r| match r {
                ToolResponse::Ok(v) => v,
                ToolResponse::Error(e) => serde_json::json!({ "error": e }),
            }),
            evidence_refs: evidence.iter().map(|(d, _)| *d).collect(),
            traceparent: traceparent(&ctx.run.trace_id, &envelope_id),
            started_at,
            finished_at: self.clock.now(),
        };
        Ok(GatewayCall {
            envelope,
            decisions,
            evidence,
            interaction,
        })
    }

    /// Policy's decision on `call`, asking the approver when policy requires
    /// an approval; a granted approval is decided again with its role.
    fn authorize(
        &self,
        call: &ToolCall,
        ctx: &GatewayContext<'_>,
        request: &ToolRequest,
    ) -> Result<Authorized, GatewayError> {
        let first = self.decide_recorded(
            self.policy_request(&call.name, ctx, None, Some(&request.arguments))?,
            ctx,
        );
        let mut authorized = Authorized {
            decisions: vec![first.clone()],
            approval: None,
            governing: first.clone(),
        };
        if first.outcome != PolicyOutcome::ApprovalRequired {
            return Ok(authorized);
        }
        let answer = self.approver.decide(&ApprovalRequest {
            tool: &call.name,
            arguments: &request.arguments,
            roles: &first.approver_roles,
            reason: &first.reason,
        });
        let Some(answer) = answer else {
            return Ok(authorized);
        };
        authorized.approval = Some(ApprovalRecord {
            approver: answer.approver.clone(),
            role: answer.role.clone(),
            verdict: answer.verdict,
            at: self.clock.now(),
            channel: answer.channel.clone(),
        });
        if answer.verdict == ApprovalVerdict::Granted {
            let with = self.decide_recorded(
                self.policy_request(&call.name, ctx, Some(answer.role), Some(&request.arguments))?,
                ctx,
            );
            authorized.governing = with.clone();
            authorized.decisions.push(with);
        }
        Ok(authorized)
    }

    /// Executes a permitted call through the adapter and records its result
    /// under `key`; the response comes back redacted.
    fn execute(
        &self,
        tool: &LoadedTool,
        call: &ToolCall,
        request: &ToolRequest,
        key: &str,
        traceparent: &str,
    ) -> Result<(ToolCallStatus, ToolResponse), GatewayError> {
        // The tool gets the real arguments; records, evidence and
        // recordings only ever hold the redacted ones.
        let live = ToolRequest {
            arguments: call.arguments.clone(),
            ..request.clone()
        };
        let response = match self.adapter.call(tool, &live, traceparent) {
            Ok(response) => redact_response(&response),
            Err(e) => {
                // A miss executed nothing, so a retry may run. A transport
                // failure is ambiguous (the effect may have happened before
                // the connection dropped): only idempotent tools may rerun.
                if matches!(e, AdapterError::Miss(_)) || tool.contract.idempotent {
                    self.idempotency.abandon(key).map_err(GatewayError::Idempotency)?;
                }
                return Err(e.into());
            }
        };
        let status = match &response {
            ToolResponse::Ok(_) => {
                self.idempotency
                    .finish(key, &response)
                    .map_err(GatewayError::Idempotency)?;
                ToolCallStatus::Executed
            }
            ToolResponse::Error(_) => {
                self.idempotency.abandon(key).map_err(GatewayError::Idempotency)?;
                ToolCallStatus::Failed
            }
        };
        Ok((status, response))
    }
}

/// Policy's say on one call: every decision taken, the approval when one
/// was asked for, and the decision that governs.
struct Authorized {
    decisions: Vec<PolicyDecision>,
    approval: Option<ApprovalRecord>,
    governing: PolicyDecision,
}
