//! Approval derivation against a reference: `PolicyEngine::authorize` must
//! decide exactly as the straightforward algorithm it replaces (evaluate the
//! enforced set; on a clean denial without an approval, evaluate it again as
//! if each approver role had approved; evaluate the shadow set), on random
//! bundles and requests. Real Cedar evaluation on both sides.

#![expect(clippy::unwrap_used, reason = "a test fails loudly on broken fixtures")]

use std::fs;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use cedar_policy::{
    AuthorizationError, Authorizer, Context, Decision, Entities, PolicyId, PolicySet, Request, Response,
    RestrictedExpression,
};
use contextos_core::{PolicyDecision, PolicyOutcome, ShadowEffect, digest_of};
use contextos_trust::{PolicyEngine, PolicyRequest, RequestDocument};
use proptest::prelude::*;
use serde::Serialize;
use serde_json::json;

fn shipped() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies")
}

const ROLES: [&str; 5] = [
    "support_lead",
    "security_officer",
    "finance_lead",
    "oncall_lead",
    "auditor",
];

// ---------------------------------------------------------------------------
// The reference: the algorithm `authorize` used before derivation was
// specialised, written out with nothing but Cedar.

struct Evaluation {
    decision: Decision,
    reason: Vec<String>,
    errors: Vec<String>,
    erroring: Vec<String>,
}

fn text(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}

fn evaluation(response: &Response) -> Evaluation {
    let mut reason: Vec<String> = response.diagnostics().reason().map(ToString::to_string).collect();
    reason.sort();
    Evaluation {
        decision: response.decision(),
        reason,
        errors: response.diagnostics().errors().map(|e| text(e)).collect(),
        erroring: response
            .diagnostics()
            .errors()
            .map(|e| match e {
                AuthorizationError::PolicyEvaluationError(e) => e.policy_id().to_string(),
            })
            .collect(),
    }
}

fn cedar_request(engine: &PolicyEngine, req: &PolicyRequest, role: Option<&str>) -> Request {
    let approval = RestrictedExpression::new_record([
        ("granted".to_string(), RestrictedExpression::new_bool(role.is_some())),
        (
            "role".to_string(),
            RestrictedExpression::new_string(role.unwrap_or("").to_string()),
        ),
    ])
    .unwrap();
    let context = Context::from_pairs(
        req.attributes
            .iter()
            .cloned()
            .chain([("approval".to_string(), approval)]),
    )
    .unwrap();
    Request::new(
        req.principal.clone(),
        req.action.clone(),
        req.resource.clone(),
        context,
        Some(engine.schema()),
    )
    .unwrap()
}

fn reference(
    engine: &PolicyEngine,
    shadow_set: &PolicySet,
    req: &PolicyRequest,
    entities: &Entities,
) -> PolicyDecision {
    let authorizer = Authorizer::new();
    let eval = |set: &PolicySet, role: Option<&str>| {
        evaluation(&authorizer.is_authorized(&cedar_request(engine, req, role), set, entities))
    };
    let first = eval(engine.enforced_policies(), req.approval_role.as_deref());
    let clean = first.errors.is_empty();
    let mut outcome = if clean && first.decision == Decision::Allow {
        PolicyOutcome::Allow
    } else {
        PolicyOutcome::Deny
    };
    let mut determining = if clean {
        first.reason.clone()
    } else {
        let mut ids = first.erroring.clone();
        if first.decision == Decision::Deny {
            ids.extend(first.reason.iter().cloned());
        }
        ids.sort();
        ids.dedup();
        ids
    };
    let mut roles = Vec::new();
    if outcome == PolicyOutcome::Deny && clean && req.approval_role.is_none() {
        let mut permits = Vec::new();
        for role in engine.approver_roles() {
            let with = eval(engine.enforced_policies(), Some(role));
            if with.errors.is_empty() && with.decision == Decision::Allow {
                roles.push(role.clone());
                permits.extend(with.reason);
            }
        }
        if !roles.is_empty() {
            outcome = PolicyOutcome::ApprovalRequired;
            permits.sort();
            permits.dedup();
            determining = permits;
        }
    }
    let mut errors = first.errors;
    let mut shadow = Vec::new();
    if !shadow_set.is_empty() {
        let s = eval(shadow_set, req.approval_role.as_deref());
        errors.extend(s.errors.iter().map(|e| format!("{e} (shadow, not enforced)")));
        let effect = if outcome != PolicyOutcome::Deny && s.decision == Decision::Deny && !s.reason.is_empty() {
            Some(PolicyOutcome::Deny)
        } else if outcome == PolicyOutcome::Deny
            && first.reason.is_empty()
            && s.decision == Decision::Allow
            && errors.is_empty()
        {
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
    let reason = reason_text(req, outcome, &determining, &roles, &errors, &shadow);
    let (principal, action, resource) = (
        req.principal.to_string(),
        req.action.to_string(),
        req.resource.to_string(),
    );
    let decision_id = decision_id(engine, req, outcome, &determining);
    PolicyDecision {
        decision_id,
        principal,
        action,
        resource,
        outcome,
        determining_policies: determining,
        approver_roles: roles,
        shadow,
        errors,
        reason,
        request: None,
    }
}

/// The engine's decision id: a digest of what was decided, under which bundle.
fn decision_id(engine: &PolicyEngine, req: &PolicyRequest, outcome: PolicyOutcome, determining: &[String]) -> String {
    #[derive(Serialize)]
    struct Identity<'a> {
        principal: &'a str,
        action: &'a str,
        resource: &'a str,
        approval_role: Option<&'a str>,
        outcome: PolicyOutcome,
        determining: &'a [String],
        bundle: contextos_core::Digest,
    }
    let id = digest_of(&Identity {
        principal: &req.principal.to_string(),
        action: &req.action.to_string(),
        resource: &req.resource.to_string(),
        approval_role: req.approval_role.as_deref(),
        outcome,
        determining,
        bundle: engine.bundle_digest(),
    })
    .unwrap();
    format!("pd_{}", &id.hex()[..16])
}

fn reason_text(
    req: &PolicyRequest,
    outcome: PolicyOutcome,
    determining: &[String],
    roles: &[String],
    errors: &[String],
    shadow: &[ShadowEffect],
) -> String {
    // A tool's own action reads as the tool call it is.
    let action = if req.resource.type_name().basename() == "Tool" {
        "call_tool".to_string()
    } else {
        req.action.id().unescaped().to_string()
    };
    let list = |ids: &[String]| ids.iter().map(|i| format!("`{i}`")).collect::<Vec<_>>().join(", ");
    let enforced_errors: Vec<&str> = errors
        .iter()
        .filter(|e| !e.ends_with(" (shadow, not enforced)"))
        .map(String::as_str)
        .collect();
    let mut text = match (outcome, &req.approval_role) {
        (PolicyOutcome::Allow, Some(role)) => format!("allowed by {} with the approval of a {role}", list(determining)),
        (PolicyOutcome::Allow, None) => format!("allowed by {}", list(determining)),
        (PolicyOutcome::ApprovalRequired, _) => format!(
            "needs approval: {} permit{} {action} on {} once a {} approves",
            list(determining),
            if determining.len() == 1 { "s" } else { "" },
            short(&req.resource),
            roles.join(" or a ")
        ),
        (PolicyOutcome::Deny, _) if !enforced_errors.is_empty() => format!(
            "denied because policy evaluation failed (fail closed): {}",
            enforced_errors.join("; ")
        ),
        (PolicyOutcome::Deny, _) if !determining.is_empty() => format!("denied: forbidden by {}", list(determining)),
        (PolicyOutcome::Deny, Some(role)) => format!(
            "denied: no policy permits {action} on {} for {}, even with the approval of a {role}",
            short(&req.resource),
            short(&req.principal)
        ),
        (PolicyOutcome::Deny, None) => format!(
            "denied: no policy permits {action} on {} for {}, with or without an approval",
            short(&req.resource),
            short(&req.principal)
        ),
    };
    for effect in shadow {
        text.push_str(&format!(
            "; shadow policy `{}` would make it {}",
            effect.policy_id, effect.would_be
        ));
    }
    text
}

// ---------------------------------------------------------------------------
// Random bundles and requests.

fn role_literal() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "support_lead",
        "security_officer",
        "finance_lead",
        "oncall_lead",
        "auditor",
        "support_agent",
        "",
    ])
    .prop_map(str::to_string)
}

/// A condition on the approval: role comparisons the load-time analysis
/// reads (`==`, `!=`, `contains`) and ones it cannot (`like`, the record as
/// a whole, `context has approval`).
fn approval_atom() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => Just("context.approval.granted".to_string()),
        2 => Just("!context.approval.granted".to_string()),
        6 => role_literal().prop_map(|r| format!("context.approval.role == \"{r}\"")),
        3 => role_literal().prop_map(|r| format!("\"{r}\" != context.approval.role")),
        4 => prop::collection::vec(role_literal(), 1..4).prop_map(|rs| format!(
            "[{}].contains(context.approval.role)",
            rs.iter().map(|r| format!("\"{r}\"")).collect::<Vec<_>>().join(", ")
        )),
        1 => Just("context.approval.role like \"*_lead\"".to_string()),
        1 => role_literal().prop_map(|r| format!("context.approval == {{granted: true, role: \"{r}\"}}")),
        1 => Just("context has approval".to_string()),
    ]
}

fn other_atom() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec!["restricted", "standard", "elevated"])
            .prop_map(|s| format!("context.safety_mode == \"{s}\"")),
        (0i64..4).prop_map(|n| format!("context.run_approval_level >= {n}")),
        (0i64..10).prop_map(|n| format!("context.budget.tool_calls_left < {n}")),
        prop::sample::select(vec!["read_only", "local_write", "network", "destructive"])
            .prop_map(|m| format!("resource.approval_mode == \"{m}\"")),
        Just("resource.approval_level > context.run_approval_level".to_string()),
        Just("principal.tenant == context.tenant".to_string()),
        (0i64..3).prop_map(|n| format!("principal.delegation_depth > {n}")),
        // Overflows (an evaluation error) when tokens_left is 2 or more.
        Just("context.budget.tokens_left * 9223372036854775807 > 0".to_string()),
    ]
}

fn atom() -> impl Strategy<Value = String> {
    prop_oneof![3 => approval_atom(), 2 => other_atom()]
}

#[derive(Debug, Clone)]
struct RandomPolicy {
    permit: bool,
    shadow: bool,
    when: Vec<String>,
    unless: Vec<String>,
}

/// Any policy: either effect, sometimes shadow, random `when` and `unless`.
fn random_policy() -> impl Strategy<Value = RandomPolicy> {
    (
        any::<bool>(),
        prop::bool::weighted(0.15),
        prop::collection::vec(atom(), 1..4),
        prop::collection::vec(atom(), 0..2),
    )
        .prop_map(|(permit, shadow, when, unless)| RandomPolicy {
            permit,
            shadow,
            when,
            unless,
        })
}

/// A permit shaped like the ones approvals are for: granted, a role
/// condition, perhaps conditions on the run or the tool (often one that can
/// err), in any order.
fn approval_permit() -> impl Strategy<Value = RandomPolicy> {
    let other = prop_oneof![
        2 => other_atom(),
        1 => Just("context.budget.tokens_left * 9223372036854775807 > 0".to_string()),
    ];
    (approval_atom(), prop::collection::vec(other, 0..3))
        .prop_flat_map(|(role, others)| {
            Just([vec!["context.approval.granted".to_string(), role], others].concat()).prop_shuffle()
        })
        .prop_map(|when| RandomPolicy {
            permit: true,
            shadow: false,
            when,
            unless: Vec::new(),
        })
}

fn policies() -> impl Strategy<Value = Vec<RandomPolicy>> {
    prop::collection::vec(prop_oneof![2 => random_policy(), 1 => approval_permit()], 1..7)
}

impl RandomPolicy {
    fn id(&self, n: usize) -> String {
        format!("random.p{n}")
    }

    fn source(&self, n: usize) -> String {
        let mut text = format!("@id(\"{}\")\n", self.id(n));
        if self.shadow {
            text.push_str("@mode(\"shadow\")\n");
        }
        text.push_str(if self.permit { "permit" } else { "forbid" });
        text.push_str(" (principal, action in ContextOS::Action::\"call_tool\", resource)");
        if !self.when.is_empty() {
            text.push_str(&format!("\nwhen {{ {} }}", self.when.join(" && ")));
        }
        if !self.unless.is_empty() {
            text.push_str(&format!("\nunless {{ {} }}", self.unless.join(" || ")));
        }
        text.push_str(";\n");
        text
    }
}

#[derive(Debug, Clone)]
struct RandomRequest {
    principal: &'static str,
    tool: &'static str,
    safety_mode: &'static str,
    run_approval_level: i64,
    tool_calls_left: i64,
    tokens_left: i64,
    approval: Option<String>,
}

fn random_request() -> impl Strategy<Value = RandomRequest> {
    (
        prop::sample::select(vec![
            "triage-bot",
            "triage-bot",
            "triage-bot",
            "billing-subagent",
            "confused-deputy",
            "globex-bot",
        ]),
        prop::sample::select(vec![
            "read_ticket",
            "lookup_customer",
            "update_ticket",
            "issue_refund",
            "send_email",
            "delete_account",
            "globex_crm_export",
        ]),
        prop::sample::select(vec!["restricted", "standard", "elevated"]),
        0i64..5,
        0i64..10,
        0i64..3,
        prop::option::weighted(
            0.2,
            prop::sample::select(vec![ROLES[0], ROLES[1], ROLES[2], "support_agent"]),
        ),
    )
        .prop_map(
            |(principal, tool, safety_mode, run_approval_level, tool_calls_left, tokens_left, approval)| {
                RandomRequest {
                    principal,
                    tool,
                    safety_mode,
                    run_approval_level,
                    tool_calls_left,
                    tokens_left,
                    approval: approval.map(str::to_string),
                }
            },
        )
}

/// Approver roles: any number of the pool (three or more half the time), in
/// any order, sometimes with a role listed twice.
fn approvers() -> impl Strategy<Value = Vec<String>> {
    (
        prop::sample::subsequence(ROLES.to_vec(), 0..=ROLES.len()),
        prop::bool::weighted(0.1),
    )
        .prop_flat_map(|(roles, twice)| {
            let mut roles: Vec<String> = roles.into_iter().map(str::to_string).collect();
            if twice && let Some(first) = roles.first().cloned() {
                roles.push(first);
            }
            Just(roles).prop_shuffle()
        })
}

struct Bundle {
    _dir: tempfile::TempDir,
    engine: PolicyEngine,
    shadow: PolicySet,
}

fn bundle(with_shipped: bool, policies: &[RandomPolicy], roles: &[String]) -> Bundle {
    let dir = tempfile::tempdir().unwrap();
    for file in ["schema.cedarschema", "contextos.generated.cedarschema"] {
        fs::copy(shipped().join(file), dir.path().join(file)).unwrap();
    }
    if with_shipped {
        for file in ["tools.cedar", "tenancy.cedar", "context.cedar"] {
            fs::copy(shipped().join(file), dir.path().join(file)).unwrap();
        }
    }
    let source: String = policies.iter().enumerate().map(|(n, p)| p.source(n)).collect();
    fs::write(dir.path().join("random.cedar"), source).unwrap();
    // The reference's shadow set: every `@mode("shadow")` policy of the
    // bundle, named by its `@id`.
    let mut shadow = PolicySet::new();
    for entry in fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "cedar") {
            for policy in PolicySet::from_str(&fs::read_to_string(&path).unwrap())
                .unwrap()
                .policies()
            {
                if policy.annotation("mode") == Some("shadow") {
                    let id = PolicyId::new(policy.annotation("id").unwrap());
                    shadow.add(policy.new_id(id)).unwrap();
                }
            }
        }
    }
    let engine = load_with_valid_roles(dir.path(), roles.to_vec());
    Bundle {
        _dir: dir,
        engine,
        shadow,
    }
}

/// Loads the bundle with `roles` as its approvers, first made valid the way
/// the loader demands: a role no policy mentions is dropped, a role a policy
/// compares with that is not listed is added.
fn load_with_valid_roles(dir: &Path, mut roles: Vec<String>) -> PolicyEngine {
    loop {
        let listed = serde_json::to_string(&roles).unwrap();
        fs::write(
            dir.join("approvers.yaml"),
            format!("format_version: 1\nroles: {listed}\n"),
        )
        .unwrap();
        let err = match PolicyEngine::load(dir) {
            Ok(engine) => return engine,
            Err(err) => err,
        };
        let before = roles.clone();
        for d in &err.diagnostics {
            let role = d.message.split('"').nth(1).unwrap_or_default().to_string();
            let unmentioned = d.message.contains("is mentioned by no policy");
            let unlisted = d.message.contains("is not listed in");
            assert!(unmentioned || unlisted, "generated bundle does not load: {d:?}");
            if unmentioned {
                roles.retain(|r| *r != role);
            } else if !roles.contains(&role) {
                roles.push(role);
            }
        }
        assert_ne!(
            roles, before,
            "approver roles of the generated bundle do not settle: {err:?}"
        );
    }
}

/// Arguments every shipped tool's contract accepts.
fn arguments(tool: &str) -> serde_json::Value {
    match tool {
        "issue_refund" => {
            json!({"customer_id": "ACME-913", "order_id": "5610", "amount_cents": 12900, "currency": "USD", "reason": "duplicate"})
        }
        "send_email" => json!({"customer_id": "ACME-913", "subject": "Refund", "body": "Refunded."}),
        "delete_account" => json!({"customer_id": "ACME-913", "reason": "request"}),
        "update_ticket" => json!({"ticket_id": "T-1", "note": "noted"}),
        "read_ticket" => json!({"ticket_id": "T-1"}),
        _ => json!({"customer_id": "ACME-913"}),
    }
}

fn request(engine: &PolicyEngine, r: &RandomRequest) -> (PolicyRequest, Entities) {
    let approval = match &r.approval {
        Some(role) => json!({"granted": true, "role": role}),
        None => json!({"granted": false, "role": ""}),
    };
    let doc: RequestDocument = serde_json::from_value(json!({
        "principal": format!("ContextOS::Agent::\"{}\"", r.principal),
        "action": r.tool,
        "resource": format!("ContextOS::Tool::\"{}\"", r.tool),
        "context": {
            "arguments": arguments(r.tool),
            "tenant": {"type": "ContextOS::Tenant", "id": "acme"},
            "safety_mode": r.safety_mode,
            "run_approval_level": r.run_approval_level,
            "approval": approval,
            "budget": {"tool_calls_left": r.tool_calls_left, "tokens_left": r.tokens_left}
        },
        "entities": serde_json::from_str::<serde_json::Value>(
            &fs::read_to_string(shipped().join("tests/entities.json")).unwrap()
        ).unwrap(),
    }))
    .unwrap();
    engine.request_from_document(&doc).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 160, ..ProptestConfig::default() })]

    /// Every field of every decision (outcome, determining policies, approver
    /// roles in order, shadow effects, errors, reason, decision id) equals
    /// the reference's.
    #[test]
    fn authorize_decides_as_per_role_reevaluation(
        with_shipped in any::<bool>(),
        policies in policies(),
        roles in approvers(),
        requests in prop::collection::vec(random_request(), 6..12),
    ) {
        let b = bundle(with_shipped, &policies, &roles);
        for r in &requests {
            let (req, entities) = request(&b.engine, r);
            let actual = b.engine.authorize(&req, &entities);
            let expected = reference(&b.engine, &b.shadow, &req, &entities);
            prop_assert_eq!(actual, expected, "request {:?}\nbundle:\n{}", r,
                policies.iter().enumerate().map(|(n, p)| p.source(n)).collect::<String>());
        }
    }
}

/// The comparison above can fail: the reference tells the roles apart on a
/// bundle where they differ, and agrees with the engine there.
#[test]
fn reference_sees_every_role_that_grants() {
    let policy = |role: &str| RandomPolicy {
        permit: true,
        shadow: false,
        when: vec![
            "context.approval.granted".into(),
            format!("context.approval.role == \"{role}\""),
        ],
        unless: vec![],
    };
    let roles: Vec<String> = ["auditor", "finance_lead", "oncall_lead", "support_lead"]
        .map(str::to_string)
        .to_vec();
    let b = bundle(false, &[policy("oncall_lead"), policy("auditor")], &roles);
    let (req, entities) = request(
        &b.engine,
        &RandomRequest {
            principal: "triage-bot",
            tool: "issue_refund",
            safety_mode: "standard",
            run_approval_level: 2,
            tool_calls_left: 5,
            tokens_left: 0,
            approval: None,
        },
    );
    let expected = reference(&b.engine, &b.shadow, &req, &entities);
    assert_eq!(expected.outcome, PolicyOutcome::ApprovalRequired);
    assert_eq!(expected.approver_roles, ["auditor", "oncall_lead"]);
    assert_eq!(expected.determining_policies, ["random.p0", "random.p1"]);
    assert_eq!(b.engine.authorize(&req, &entities), expected);
}

/// A uid as the reasons name it: the runtime's namespace implied.
fn short(uid: &cedar_policy::EntityUid) -> String {
    contextos_core::cedar_names::shown(&uid.to_string()).to_string()
}
