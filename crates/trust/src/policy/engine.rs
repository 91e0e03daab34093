//! Authorization with approval derivation, shadow policies and explanations.

use std::path::Path;
use std::str::FromStr;

use cedar_policy::{
    AuthorizationError, Authorizer, Context, Decision, Entities, EntityUid, PolicySet, Request, Response,
    RestrictedExpression, Schema,
};
use contextos_core::cedar_names::{ACTION, CALL_TOOL, TOOL, shown};
use contextos_core::{Digest, ErrorKind, Kind, PolicyDecision, PolicyOutcome, ShadowEffect, digest_of};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::approval::{ApprovalCopies, Derived};
use super::diagnostic::{SourceDiagnostic, miette_text};
use super::load::{LoadedBundle, PolicyEffect, PolicyInfo, PolicyLoadError, generated_schema_for, load_bundle};

/// An authorization request in Cedar terms. The context holds every run
/// attribute except `approval`, which the engine sets itself: from
/// `approval_role` for the decision, and hypothetically for approval
/// derivation.
#[derive(Debug, Clone)]
pub struct PolicyRequest {
    /// The agent.
    pub principal: EntityUid,
    /// `ContextOS::Action::"issue_refund"` and friends.
    pub action: EntityUid,
    /// The tool, pack, layer, agent or memory.
    pub resource: EntityUid,
    /// Context attributes other than `approval`.
    pub attributes: Vec<(String, RestrictedExpression)>,
    /// The role of an approver who already granted this request, if any.
    pub approval_role: Option<String>,
}

impl PolicyRequest {
    /// The context attributes (everything but `approval`) as Cedar JSON, for
    /// recording the request with its decision. Kept off the `authorize`
    /// path: converting to JSON costs more than evaluating.
    pub fn context_json(&self) -> Result<Value, String> {
        Context::from_pairs(self.attributes.clone())
            .map_err(|e| miette_text(&e))?
            .to_json_value()
            .map_err(|e| miette_text(&e))
    }
}

/// An authorization request as a document (`contextos policy explain --request`,
/// policy tests): Cedar uids as strings, the context and entities as Cedar JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestDocument {
    /// For example `ContextOS::Agent::"triage-bot"`.
    pub principal: String,
    /// An action of the runtime's namespace by its id (`use_pack`,
    /// `issue_refund`), or any action uid (`ContextOS::Action::"use_pack"`).
    pub action: String,
    /// For example `ContextOS::Tool::"issue_refund"`.
    pub resource: String,
    /// The context record (Cedar JSON). `approval` defaults to not granted.
    #[serde(default)]
    pub context: serde_json::Map<String, Value>,
    /// Entities in Cedar's JSON entity format.
    #[serde(default)]
    pub entities: Vec<Value>,
}

/// A request document that does not fit the schema.
#[derive(Debug, Clone, thiserror::Error, miette::Diagnostic)]
#[error("invalid authorization request: {field}: {message}")]
pub struct RequestError {
    /// The field at fault (`principal`, `context.approval`, `entities`, …).
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl Kind for RequestError {
    /// Always an input error (exit 2).
    fn kind(&self) -> ErrorKind {
        ErrorKind::Input
    }
}

fn request_error(field: &str, message: impl ToString) -> RequestError {
    RequestError {
        field: field.to_string(),
        message: message.to_string(),
    }
}

/// The Cedar policy engine of one validated bundle.
#[derive(Debug)]
pub struct PolicyEngine {
    schema: Schema,
    enforced: PolicySet,
    shadow: PolicySet,
    policies: Vec<PolicyInfo>,
    approver_roles: Vec<String>,
    digest: Digest,
    warnings: Vec<SourceDiagnostic>,
    authorizer: Authorizer,
    /// Role-specialised copies of the approval-sensitive policies; `None`
    /// when the bundle reads `context` in a way they cannot capture.
    approval_copies: Option<ApprovalCopies>,
}

struct Evaluation {
    decision: Decision,
    reason: Vec<String>,
    errors: Vec<String>,
    /// Ids of the policies whose evaluation failed.
    erroring: Vec<String>,
}

impl PolicyEngine {
    /// Loads and strictly validates the bundle in `dir`, with the runtime's
    /// namespace as committed in its `contextos.generated.cedarschema` (or,
    /// without one, the built-in types and no tool actions).
    pub fn load(dir: &Path) -> Result<Self, PolicyLoadError> {
        Self::from_bundle(load_bundle(dir, None)?)
    }

    /// Loads and strictly validates the bundle in `dir` with the tool actions
    /// in `tool_actions` (generated from a deployment's tool contracts by
    /// [`crate::tool_actions_schema`]), instead of the bundle's committed copy.
    pub fn load_with_tools(dir: &Path, tool_actions: &str) -> Result<Self, PolicyLoadError> {
        Self::from_bundle(load_bundle(dir, Some(tool_actions))?)
    }

    /// The generated schema file (`contextos.generated.cedarschema`) for the
    /// bundle in `dir` with `tool_actions`: the runtime's namespace with the
    /// attribute types `dir`'s `schema.cedarschema` declares.
    pub fn generated_schema(dir: &Path, tool_actions: &str) -> Result<String, PolicyLoadError> {
        generated_schema_for(dir, tool_actions)
    }

    fn from_bundle(b: LoadedBundle) -> Result<Self, PolicyLoadError> {
        let approval_copies = ApprovalCopies::build(&b.enforced, &b.approver_roles);
        Ok(Self {
            schema: b.schema,
            enforced: b.enforced,
            shadow: b.shadow,
            policies: b.policies,
            approver_roles: b.approver_roles,
            digest: b.digest,
            warnings: b.warnings,
            authorizer: Authorizer::new(),
            approval_copies,
        })
    }

    /// Every policy, in bundle order (files sorted by path, policies in file order).
    pub fn policies(&self) -> &[PolicyInfo] {
        &self.policies
    }

    /// Validator warnings (the bundle loads; these are worth a look).
    pub fn warnings(&self) -> &[SourceDiagnostic] {
        &self.warnings
    }

    /// Digest of the bundle's schema and files.
    pub fn bundle_digest(&self) -> Digest {
        self.digest
    }

    /// The validated schema.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// Roles the engine tries when deriving whether an approval would help.
    pub fn approver_roles(&self) -> &[String] {
        &self.approver_roles
    }

    /// The enforced policies as a Cedar set (for callers that evaluate policies one at a time).
    pub fn enforced_policies(&self) -> &PolicySet {
        &self.enforced
    }

    /// Builds a request and its entities from a document, checking both against the schema.
    pub fn request_from_document(&self, doc: &RequestDocument) -> Result<(PolicyRequest, Entities), RequestError> {
        let principal = EntityUid::from_str(&doc.principal).map_err(|e| request_error("principal", e))?;
        let action_text = if doc.action.contains("::") {
            doc.action.clone()
        } else {
            format!("{ACTION}::{:?}", doc.action)
        };
        let action = EntityUid::from_str(&action_text).map_err(|e| request_error("action", e))?;
        let resource = EntityUid::from_str(&doc.resource).map_err(|e| request_error("resource", e))?;

        let mut context = doc.context.clone();
        let approval_role = match context.get("approval") {
            None => None,
            Some(v) => {
                let granted = v
                    .get("granted")
                    .and_then(Value::as_bool)
                    .ok_or_else(|| request_error("context.approval.granted", "expected a boolean"))?;
                let role = v.get("role").and_then(Value::as_str).unwrap_or("");
                if granted {
                    if role.is_empty() {
                        return Err(request_error(
                            "context.approval.role",
                            "a granted approval names the approver's role",
                        ));
                    }
                    Some(role.to_string())
                } else {
                    None
                }
            }
        };
        context.insert("approval".into(), approval_value(approval_role.as_deref()));
        let cedar_context = Context::from_json_value(Value::Object(context), Some((&self.schema, &action)))
            .map_err(|e| request_error("context", miette_text(&e)))?;
        let attributes = cedar_context.into_iter().filter(|(k, _)| k != "approval").collect();
        let entities = Entities::from_json_value(Value::Array(doc.entities.clone()), Some(&self.schema))
            .map_err(|e| request_error("entities", miette_text(&e)))?;
        Ok((
            PolicyRequest {
                principal,
                action,
                resource,
                attributes,
                approval_role,
            },
            entities,
        ))
    }

    /// The Cedar request for `req` with `approval_role`'s approval. Only the
    /// first request of a decision is checked against the schema; derived ones
    /// differ from it only in the `approval` record the engine builds itself.
    fn cedar_request(
        &self,
        req: &PolicyRequest,
        approval_role: Option<&str>,
        validate: bool,
    ) -> Result<Request, String> {
        let attributes = req.attributes.iter().cloned().chain(std::iter::once((
            "approval".to_string(),
            approval_expression(approval_role),
        )));
        let context = Context::from_pairs(attributes).map_err(|e| miette_text(&e))?;
        let schema = if validate { Some(&self.schema) } else { None };
        Request::new(
            req.principal.clone(),
            req.action.clone(),
            req.resource.clone(),
            context,
            schema,
        )
        .map_err(|e| miette_text(&e))
    }

    fn evaluate(&self, set: &PolicySet, request: &Result<Request, String>, entities: &Entities) -> Evaluation {
        match request {
            Ok(request) => from_response(&self.authorizer.is_authorized(request, set, entities)),
            Err(e) => Evaluation {
                decision: Decision::Deny,
                reason: Vec::new(),
                errors: vec![format!("request does not match the schema: {e}")],
                erroring: Vec::new(),
            },
        }
    }

    /// Decides `req`: allow, deny or approval_required, with the determining
    /// policies, the approver roles that would permit it, shadow effects and a
    /// reason. Fails closed: any evaluation error denies.
    pub fn authorize(&self, req: &PolicyRequest, entities: &Entities) -> PolicyDecision {
        self.decide(req, entities, true)
    }

    /// Decides `req` like [`Self::authorize`] without checking it against the
    /// schema. Capability discovery asks before a call has arguments: a policy
    /// that reads `context.arguments` then errs (and the decision lists the
    /// error) rather than the whole request being refused.
    pub fn preview(&self, req: &PolicyRequest, entities: &Entities) -> PolicyDecision {
        self.decide(req, entities, false)
    }

    /// Capability discovery: whether the enforced policies might allow `req`
    /// once the call has its arguments (it has none yet; the request is not
    /// validated). Without evaluation errors this is [`Self::preview`]'s
    /// answer (allow or approval_required). Policies that read the arguments
    /// err here; an erring forbid cannot decide yet, so it is set aside: the
    /// call stays possible when a permit holds, or errs while no forbid
    /// holds, now or under one approver role's grant.
    pub fn might_allow(&self, req: &PolicyRequest, entities: &Entities) -> bool {
        let request = self.cedar_request(req, req.approval_role.as_deref(), false);
        let first = self.evaluate(&self.enforced, &request, entities);
        if first.errors.is_empty() {
            // As `preview` decides it (allow or approval_required), without
            // evaluating the enforced set again or the shadow set at all.
            return first.decision == Decision::Allow
                || (req.approval_role.is_none() && !self.derive(req, &request, entities, &first).roles.is_empty());
        }
        // Possible under one grant: a permit holds, or one errs while no
        // forbid holds.
        let possible = |e: &Evaluation| {
            e.decision == Decision::Allow
                || e.reason.is_empty()
                    && e.erroring.iter().any(|id| {
                        self.policies
                            .iter()
                            .any(|p| &p.id == id && p.effect == PolicyEffect::Permit)
                    })
        };
        possible(&first)
            || (req.approval_role.is_none()
                && self.approver_roles.iter().any(|role| {
                    let granted = self.cedar_request(req, Some(role), false);
                    possible(&self.evaluate(&self.enforced, &granted, entities))
                }))
    }

    fn decide(&self, req: &PolicyRequest, entities: &Entities, validate: bool) -> PolicyDecision {
        let request = self.cedar_request(req, req.approval_role.as_deref(), validate);
        let first = self.evaluate(&self.enforced, &request, entities);
        let mut outcome = if !first.errors.is_empty() {
            PolicyOutcome::Deny
        } else if first.decision == Decision::Allow {
            PolicyOutcome::Allow
        } else {
            PolicyOutcome::Deny
        };
        let mut determining = if first.errors.is_empty() {
            first.reason.clone()
        } else {
            fail_closed_determining(&first)
        };
        let mut approver_roles = Vec::new();

        // Approval derivation: only for a clean denial without an approval in
        // hand. The common allow path costs one evaluation.
        if outcome == PolicyOutcome::Deny && first.errors.is_empty() && req.approval_role.is_none() {
            let derived = self.derive(req, &request, entities, &first);
            if !derived.roles.is_empty() {
                outcome = PolicyOutcome::ApprovalRequired;
                let mut permits = derived.permits;
                permits.sort();
                permits.dedup();
                determining = permits;
            }
            approver_roles = derived.roles;
        }

        // Shadow policies: evaluated on their own; combined with the enforced
        // outcome by Cedar's rule (a satisfied forbid wins; a permit only
        // matters when nothing enforced was satisfied).
        let mut shadow = Vec::new();
        let mut errors = first.errors;
        if !self.shadow.is_empty() {
            let s = self.evaluate(&self.shadow, &request, entities);
            errors.extend(s.errors.iter().map(|e| format!("{e}{SHADOW_ERROR_SUFFIX}")));
            let would_deny = s.decision == Decision::Deny && !s.reason.is_empty();
            let would_allow = s.decision == Decision::Allow;
            let effect = if outcome != PolicyOutcome::Deny && would_deny {
                Some(PolicyOutcome::Deny)
            } else if outcome == PolicyOutcome::Deny && first.reason.is_empty() && would_allow && errors.is_empty() {
                Some(PolicyOutcome::Allow)
            } else {
                None
            };
            if let Some(would_be) = effect {
                shadow = s
                    .reason
                    .into_iter()
                    .map(|policy_id| ShadowEffect { policy_id, would_be })
                    .collect();
            }
        }

        let reason = self.reason(req, outcome, &determining, &approver_roles, &errors, &shadow);
        let principal = req.principal.to_string();
        let action = req.action.to_string();
        let resource = req.resource.to_string();
        #[derive(Serialize)]
        struct Identity<'a> {
            principal: &'a str,
            action: &'a str,
            resource: &'a str,
            approval_role: Option<&'a str>,
            outcome: PolicyOutcome,
            determining: &'a [String],
            bundle: Digest,
        }
        let decision_id = digest_of(&Identity {
            principal: &principal,
            action: &action,
            resource: &resource,
            approval_role: req.approval_role.as_deref(),
            outcome,
            determining: &determining,
            bundle: self.digest,
        })
        .map(|d| format!("pd_{}", &d.hex()[..16]))
        .unwrap_or_else(|_| "pd_unavailable".into());
        PolicyDecision {
            decision_id,
            principal,
            action,
            resource,
            outcome,
            determining_policies: determining,
            approver_roles,
            shadow,
            errors,
            reason,
            request: None,
        }
    }

    /// Approval derivation by brute force, for bundles the role-specialised
    /// copies cannot capture: the whole enforced set once per approver role.
    /// The approver roles whose grant would allow a clean denial (`first`),
    /// and the permits that would: on the role-specialised copies in one
    /// evaluation, or per role when the bundle cannot be specialised.
    fn derive(
        &self,
        req: &PolicyRequest,
        request: &Result<Request, String>,
        entities: &Entities,
        first: &Evaluation,
    ) -> Derived {
        match (&self.approval_copies, request) {
            (Some(copies), Ok(cedar)) => {
                copies.derive(&self.authorizer, cedar, entities, &first.reason, &self.approver_roles)
            }
            _ => self.derive_per_role(req, entities),
        }
    }

    fn derive_per_role(&self, req: &PolicyRequest, entities: &Entities) -> Derived {
        let mut derived = Derived::default();
        for role in &self.approver_roles {
            let with = self.evaluate(&self.enforced, &self.cedar_request(req, Some(role), false), entities);
            if with.errors.is_empty() && with.decision == Decision::Allow {
                derived.roles.push(role.clone());
                derived.permits.extend(with.reason);
            }
        }
        derived
    }

    fn reason(
        &self,
        req: &PolicyRequest,
        outcome: PolicyOutcome,
        determining: &[String],
        roles: &[String],
        errors: &[String],
        shadow: &[ShadowEffect],
    ) -> String {
        // A tool's own action reads as the tool call it is: the record keeps
        // the action id, the sentence names what happened.
        let action = if req.resource.type_name().to_string() == TOOL {
            CALL_TOOL.to_string()
        } else {
            req.action.id().unescaped().to_string()
        };
        let list = |ids: &[String]| ids.iter().map(|i| format!("`{i}`")).collect::<Vec<_>>().join(", ");
        let enforced_errors: Vec<_> = errors.iter().filter(|e| !is_shadow_error(e)).collect();
        let mut text = match outcome {
            PolicyOutcome::Allow => match &req.approval_role {
                Some(role) => format!("allowed by {} with the approval of a {role}", list(determining)),
                None => format!("allowed by {}", list(determining)),
            },
            PolicyOutcome::ApprovalRequired => format!(
                "needs approval: {} permit{} {action} on {} once a {} approves",
                list(determining),
                if determining.len() == 1 { "s" } else { "" },
                short(&req.resource),
                roles.join(" or a ")
            ),
            PolicyOutcome::Deny if !enforced_errors.is_empty() => format!(
                "denied because policy evaluation failed (fail closed): {}",
                enforced_errors
                    .iter()
                    .map(|e| e.as_str())
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            PolicyOutcome::Deny if !determining.is_empty() => format!("denied: forbidden by {}", list(determining)),
            PolicyOutcome::Deny => match &req.approval_role {
                Some(role) => format!(
                    "denied: no policy permits {action} on {} for {}, even with the approval of a {role}",
                    short(&req.resource),
                    short(&req.principal)
                ),
                None => format!(
                    "denied: no policy permits {action} on {} for {}, with or without an approval",
                    short(&req.resource),
                    short(&req.principal)
                ),
            },
        };
        for effect in shadow {
            text.push_str(&format!(
                "; shadow policy `{}` would make it {}",
                effect.policy_id, effect.would_be
            ));
        }
        text
    }
}

/// A uid as a sentence names it (the runtime's namespace implied).
fn short(uid: &EntityUid) -> String {
    shown(&uid.to_string()).to_string()
}

/// Marks an error of a shadow policy in `PolicyDecision::errors`: recorded,
/// never enforced.
const SHADOW_ERROR_SUFFIX: &str = " (shadow, not enforced)";

/// Whether a recorded evaluation error came from a shadow policy (and so did
/// not decide anything).
pub fn is_shadow_error(error: &str) -> bool {
    error.ends_with(SHADOW_ERROR_SUFFIX)
}

/// The policies that decide a denial made because evaluation failed: the
/// satisfied forbids (Cedar's reason for a deny) and the policies that
/// erred. A permit Cedar counted as satisfied is never the cause of a
/// deny, so it is left out.
fn fail_closed_determining(evaluation: &Evaluation) -> Vec<String> {
    let mut ids = evaluation.erroring.clone();
    if evaluation.decision == Decision::Deny {
        ids.extend(evaluation.reason.iter().cloned());
    }
    ids.sort();
    ids.dedup();
    ids
}

fn from_response(response: &Response) -> Evaluation {
    let mut reason: Vec<String> = response.diagnostics().reason().map(ToString::to_string).collect();
    reason.sort();
    let errors = response.diagnostics().errors().map(|e| miette_text(e)).collect();
    let erroring = response
        .diagnostics()
        .errors()
        .map(|e| match e {
            AuthorizationError::PolicyEvaluationError(e) => e.policy_id().to_string(),
        })
        .collect();
    Evaluation {
        decision: response.decision(),
        reason,
        errors,
        erroring,
    }
}

fn approval_value(role: Option<&str>) -> Value {
    serde_json::json!({ "granted": role.is_some(), "role": role.unwrap_or("") })
}

fn approval_expression(role: Option<&str>) -> RestrictedExpression {
    RestrictedExpression::new_record([
        ("granted".to_string(), RestrictedExpression::new_bool(role.is_some())),
        (
            "role".to_string(),
            RestrictedExpression::new_string(role.unwrap_or("").to_string()),
        ),
    ])
    // A two-field record with distinct keys always builds.
    .unwrap_or_else(|_| RestrictedExpression::new_bool(false))
}
