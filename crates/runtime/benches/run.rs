//! Gateway overhead per tool call against raw Cedar authorization of the same
//! request, and runs per second of the bundled example, in one run.
//!
//! `cargo xtask bench -p contextos-runtime`
#![expect(clippy::expect_used, reason = "a benchmark fails loudly on broken fixtures")]

use std::path::{Path, PathBuf};

use cedar_policy::{Authorizer, Context, Request, RestrictedExpression};
use contextos_action::{GatewayContext, MemoryIdempotency, ToolGateway};
use contextos_core::{FixedClock, SequentialIdGen, Timestamp, ToolCall};
use contextos_intelligence::{BudgetLeft, entity_uid, principal_uid, run_attributes};
use contextos_runtime::{Deployment, Fixtures, RequestEnvelope, run_entities, run_on_fixtures};
use contextos_trust::PolicyRequest;
use divan::{Bencher, black_box};
use serde_json::json;

fn main() {
    divan::main();
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn setup() -> (Deployment, RequestEnvelope, Fixtures) {
    let dep = Deployment::load(&repo().join("runtime/contextos.toml")).expect("deployment");
    let dir = repo().join("runtime/examples/escalation");
    let text = std::fs::read_to_string(dir.join("request.yaml")).expect("request");
    let env = RequestEnvelope::parse("request.yaml", &text).expect("envelope");
    let fixtures = Fixtures::load(&dir.join("fixtures")).expect("fixtures");
    (dep, env, fixtures)
}

const LEFT: BudgetLeft = BudgetLeft {
    tool_calls: 8,
    tokens: 20_000,
};

/// One `read_ticket` call through the whole gateway: schema validation, Cedar,
/// idempotency, recorded execution, evidence capture, envelope.
#[divan::bench]
fn gateway_call(bencher: Bencher) {
    let (dep, env, fixtures) = setup();
    let entities = run_entities(&dep, &env).expect("entities");
    let principal = principal_uid(&env.run_context).expect("principal");
    let call = ToolCall {
        id: "call_1".into(),
        name: "read_ticket".into(),
        arguments: json!({"ticket_id": "T-4411"}),
    };
    let clock = FixedClock::new(Timestamp(0), 1);
    let ids = SequentialIdGen::new("bench");
    bencher.bench_local(|| {
        let idempotency = MemoryIdempotency::default();
        let gateway = ToolGateway {
            catalog: &dep.catalog,
            policy: &dep.policy,
            adapter: &fixtures.tools,
            approver: &fixtures.approver,
            clock: &clock,
            ids: &ids,
            idempotency: &idempotency,
        };
        let ctx = GatewayContext {
            run: &env.run_context,
            principal: principal.clone(),
            entities: &entities,
            budget_left: LEFT,
        };
        black_box(gateway.call(&call, &ctx).expect("call"))
    });
}

/// Raw Cedar for the same request: build the context and request, evaluate once.
#[divan::bench]
fn raw_cedar_authorize(bencher: Bencher) {
    let (dep, env, _) = setup();
    let entities = run_entities(&dep, &env).expect("entities");
    let principal = principal_uid(&env.run_context).expect("principal");
    let action = entity_uid("Action", "call_tool").expect("action");
    let resource = entity_uid("Tool", "read_ticket").expect("tool");
    let authorizer = Authorizer::new();
    bencher.bench_local(|| {
        let approval = RestrictedExpression::new_record([
            ("granted".to_string(), RestrictedExpression::new_bool(false)),
            ("role".to_string(), RestrictedExpression::new_string(String::new())),
        ])
        .expect("record");
        let mut attrs = run_attributes(&env.run_context, LEFT).expect("attrs");
        attrs.push(("approval".into(), approval));
        let context = Context::from_pairs(attrs).expect("context");
        let request = Request::new(
            principal.clone(),
            action.clone(),
            resource.clone(),
            context,
            Some(dep.policy.schema()),
        )
        .expect("request");
        black_box(authorizer.is_authorized(&request, dep.policy.enforced_policies(), &entities))
    });
}

/// ContextOS `authorize` for the same request (shadow policies, explanation).
#[divan::bench]
fn contextos_authorize(bencher: Bencher) {
    let (dep, env, _) = setup();
    let entities = run_entities(&dep, &env).expect("entities");
    let request = PolicyRequest {
        principal: principal_uid(&env.run_context).expect("principal"),
        action: entity_uid("Action", "call_tool").expect("action"),
        resource: entity_uid("Tool", "read_ticket").expect("tool"),
        attributes: run_attributes(&env.run_context, LEFT).expect("attrs"),
        approval_role: None,
    };
    bencher.bench_local(|| black_box(dep.policy.authorize(&request, &entities)));
}

/// The whole bundled example on recorded fixtures (compile, 4 model calls, 4
/// tool calls, 2 approvals, signing), without persisting.
#[divan::bench(sample_count = 30)]
fn bundled_example_run(bencher: Bencher) {
    let (dep, env, fixtures) = setup();
    bencher.bench_local(|| black_box(run_on_fixtures(&dep, &env, &fixtures).expect("run")));
}
