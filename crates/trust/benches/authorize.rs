//! Raw Cedar `is_authorized` against ContextOS `authorize` (approval
//! derivation and shadow evaluation included) on the shipped policies, in one run.
//!
//! `cargo xtask bench -p contextos-trust`

#![expect(clippy::expect_used, reason = "a benchmark fails loudly on broken fixtures")]

use std::path::Path;

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

fn fixture(tool: &str, approval: Option<&str>) -> Fixture {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies");
    let engine = PolicyEngine::load(&root).expect("shipped policies load");
    let entities: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("tests/entities.json")).expect("entities"))
            .expect("json");
    let approval = match approval {
        Some(role) => json!({"granted": true, "role": role}),
        None => json!({"granted": false, "role": ""}),
    };
    let doc: RequestDocument = serde_json::from_value(json!({
        "principal": "Agent::\"triage-bot\"",
        "action": "call_tool",
        "resource": format!("Tool::\"{tool}\""),
        "context": {
            "tenant": {"type": "Tenant", "id": "acme"},
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

const PATHS: [(&str, Option<&str>); 3] = [
    ("read_ticket", None),
    ("issue_refund", None),
    ("issue_refund", Some("support_lead")),
];

/// Raw Cedar: build the request (context from typed pairs) and evaluate the enforced set once.
#[divan::bench(args = PATHS)]
fn raw_cedar(bencher: Bencher, (tool, approval): (&str, Option<&str>)) {
    let f = fixture(tool, approval);
    let authorizer = Authorizer::new();
    bencher.bench_local(|| {
        let request = raw_request(&f);
        black_box(authorizer.is_authorized(&request, f.engine.enforced_policies(), &f.entities))
    });
}

/// ContextOS: the same request through `authorize` (shadow evaluation,
/// approval derivation on the deny path, explanation and decision id).
#[divan::bench(args = PATHS)]
fn contextos_authorize(bencher: Bencher, (tool, approval): (&str, Option<&str>)) {
    let f = fixture(tool, approval);
    bencher.bench_local(|| black_box(f.engine.authorize(&f.request, &f.entities)));
}
