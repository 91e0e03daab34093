//! Raw Cedar `is_authorized` against ContextOS `authorize` (approval
//! derivation and shadow evaluation included) on the shipped policies, in one run.
//!
//! `cargo bench -p contextos-trust --bench authorize`
//!
//! Each path is measured both ways with the same request:
//! - `allow`: `read_ticket`, allowed by a permit;
//! - `approval_required`: `issue_refund` without an approval (derivation runs);
//! - `approved`: `issue_refund` with a support lead's approval in hand;
//! - `approval_required_4_roles`: `issue_refund` without an approval, on a copy
//!   of the bundle whose `approvers.yaml` lists four roles.

#![expect(clippy::expect_used, reason = "a benchmark fails loudly on broken fixtures")]

use std::path::{Path, PathBuf};

use cedar_policy::{Authorizer, Context, Entities, Request, RestrictedExpression};
use contextos_trust::{PolicyEngine, PolicyRequest, RequestDocument};
use divan::{Bencher, black_box};
use serde_json::json;

fn main() {
    divan::main();
}

struct Fixture {
    engine: PolicyEngine,
    request: PolicyRequest,
    entities: Entities,
}

fn shipped() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies")
}

/// Policies that give the two extra roles of the four-role bundle something
/// to approve (a role no policy mentions would not be a realistic approver).
const EXTRA_ROLE_POLICIES: &str = r#"@id("bench.refund-by-finance-lead")
permit (principal, action in ContextOS::Action::"call_tool", resource)
when {
  resource.approval_mode == "network" &&
  context.approval.granted &&
  context.approval.role == "finance_lead"
};

@id("bench.delegated-by-oncall-lead")
permit (principal, action in ContextOS::Action::"call_tool", resource)
when {
  resource.approval_mode == "delegated" &&
  context.approval.granted &&
  context.approval.role == "oncall_lead"
};
"#;

/// The shipped bundle with four approver roles, loaded from a temporary copy.
fn four_role_engine() -> PolicyEngine {
    let dir = tempfile::tempdir().expect("temp dir");
    for entry in std::fs::read_dir(shipped()).expect("shipped bundle") {
        let entry = entry.expect("entry");
        if entry.file_type().expect("file type").is_file() {
            std::fs::copy(entry.path(), dir.path().join(entry.file_name())).expect("copy");
        }
    }
    std::fs::write(dir.path().join("zz-bench-roles.cedar"), EXTRA_ROLE_POLICIES).expect("policies");
    std::fs::write(
        dir.path().join("approvers.yaml"),
        "format_version: 1\nroles: [support_lead, security_officer, finance_lead, oncall_lead]\n",
    )
    .expect("approvers");
    let engine = PolicyEngine::load(dir.path()).expect("four-role bundle loads");
    assert_eq!(engine.approver_roles().len(), 4);
    engine
}

fn fixture(path: &str) -> Fixture {
    let (engine, tool, approval) = match path {
        "allow" => (PolicyEngine::load(&shipped()).expect("shipped"), "read_ticket", None),
        "approval_required" => (PolicyEngine::load(&shipped()).expect("shipped"), "issue_refund", None),
        "approved" => (
            PolicyEngine::load(&shipped()).expect("shipped"),
            "issue_refund",
            // 220 USD: above the shipped finance-lead limit.
            Some("finance_lead"),
        ),
        _ => (four_role_engine(), "issue_refund", None),
    };
    let entities: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(shipped().join("tests/entities.json")).expect("entities"))
            .expect("json");
    let approval = match approval {
        Some(role) => json!({"granted": true, "role": role}),
        None => json!({"granted": false, "role": ""}),
    };
    // A tool call is its tool's action with its typed arguments: the
    // refund carries all five of its contract's fields.
    let arguments = if tool == "issue_refund" {
        json!({"customer_id": "ACME-913", "order_id": "5610", "amount_cents": 22000, "currency": "USD",
               "reason": "duplicate capture np-5610-r1"})
    } else {
        json!({"ticket_id": "T-4420"})
    };
    let doc: RequestDocument = serde_json::from_value(json!({
        "principal": "ContextOS::Agent::\"triage-bot\"",
        "action": tool,
        "resource": format!("ContextOS::Tool::\"{tool}\""),
        "context": {
            "arguments": arguments,
            "tenant": {"type": "ContextOS::Tenant", "id": "acme"},
            "safety_mode": "standard",
            "run_approval_level": 2,
            "approval": approval,
            "budget": {"tool_calls_left": 8, "tokens_left": 20000}
        },
        "entities": entities,
    }))
    .expect("request document");
    let (request, entities) = engine.request_from_document(&doc).expect("request");
    Fixture {
        engine,
        request,
        entities,
    }
}

fn raw_request(f: &Fixture) -> Request {
    let approval = RestrictedExpression::new_record([
        (
            "granted".to_string(),
            RestrictedExpression::new_bool(f.request.approval_role.is_some()),
        ),
        (
            "role".to_string(),
            RestrictedExpression::new_string(f.request.approval_role.clone().unwrap_or_default()),
        ),
    ])
    .expect("record");
    let context = Context::from_pairs(
        f.request
            .attributes
            .iter()
            .cloned()
            .chain([("approval".to_string(), approval)]),
    )
    .expect("context");
    Request::new(
        f.request.principal.clone(),
        f.request.action.clone(),
        f.request.resource.clone(),
        context,
        Some(f.engine.schema()),
    )
    .expect("request")
}

const PATHS: [&str; 4] = ["allow", "approval_required", "approved", "approval_required_4_roles"];

/// Raw Cedar: build the request (context from typed pairs) and evaluate the enforced set once.
#[divan::bench(args = PATHS)]
fn raw_cedar(bencher: Bencher, path: &str) {
    let f = fixture(path);
    let authorizer = Authorizer::new();
    bencher.bench_local(|| {
        let request = raw_request(&f);
        black_box(authorizer.is_authorized(&request, f.engine.enforced_policies(), &f.entities))
    });
}

/// ContextOS: the same request through `authorize` (shadow evaluation,
/// approval derivation on the deny path, explanation and decision id).
#[divan::bench(args = PATHS)]
fn contextos_authorize(bencher: Bencher, path: &str) {
    let f = fixture(path);
    let expected = match path {
        "allow" | "approved" => "allow",
        _ => "approval_required",
    };
    assert_eq!(
        f.engine.authorize(&f.request, &f.entities).outcome.to_string(),
        expected
    );
    bencher.bench_local(|| black_box(f.engine.authorize(&f.request, &f.entities)));
}
