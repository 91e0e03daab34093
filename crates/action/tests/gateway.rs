//! The gateway with real parts: the shipped Cedar policies, the shipped tool
//! contracts, durable idempotency files. Only the tool itself is a stand-in.
#![expect(
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests fail loudly; a panic emulates a crash"
)]

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use contextos_action::{
    AdapterError, FileIdempotency, GatewayError, IdempotencyStore, LoadedTool, MemoryIdempotency, RecordedApproval,
    RecordedApprover, ToolAdapter, ToolCatalog,
};
use contextos_core::{ApprovalVerdict, PolicyOutcome, ToolCall, ToolCallStatus, ToolRequest, ToolResponse};
use contextos_testkit::{World, repo};
use proptest::prelude::*;
use serde_json::{Value, json};

/// The shipped policies and the shipped tool contracts.
fn world() -> World {
    contextos_testkit::world(ToolCatalog::load(&repo().join("runtime/tools")).unwrap())
}

/// A stand-in tool that counts executions per request and can crash.
#[derive(Default)]
struct CountingTool {
    executions: Mutex<BTreeMap<String, u64>>,
    /// Crash (panic) before or after the effect on the next call.
    crash: Mutex<Option<Crash>>,
    transport_error_after_effect: Mutex<bool>,
}

#[derive(Clone, Copy, Debug)]
enum Crash {
    BeforeEffect,
    AfterEffect,
}

impl ToolAdapter for CountingTool {
    fn call(
        &self,
        _tool: &LoadedTool,
        request: &ToolRequest,
        _traceparent: &str,
    ) -> Result<ToolResponse, AdapterError> {
        let crash = self.crash.lock().unwrap().take();
        if let Some(Crash::BeforeEffect) = crash {
            panic!("process killed before the effect");
        }
        let key = request.arguments.to_string();
        let n = {
            let mut executions = self.executions.lock().unwrap();
            let n = executions.entry(key).or_default();
            *n += 1;
            *n
        };
        if let Some(Crash::AfterEffect) = crash {
            panic!("process killed after the effect");
        }
        if std::mem::take(&mut *self.transport_error_after_effect.lock().unwrap()) {
            return Err(AdapterError::Transport(
                "connection reset after the request was sent".into(),
            ));
        }
        Ok(ToolResponse::Ok(
            json!({ "refund_id": format!("rf_{n}"), "arguments": request.arguments }),
        ))
    }
}

fn approver() -> RecordedApprover {
    RecordedApprover::new(vec![RecordedApproval {
        tool: "issue_refund".into(),
        arguments: None,
        verdict: ApprovalVerdict::Granted,
        approver: "lena.ortiz".into(),
        role: "support_lead".into(),
    }])
}

fn refund(order: u32) -> ToolCall {
    ToolCall {
        id: format!("call_{order}"),
        name: "issue_refund".into(),
        arguments: json!({ "customer_id": "ACME-778", "order_id": order.to_string(), "amount_cents": 4999, "currency": "USD", "reason": "duplicate" }),
    }
}

fn call_once(
    w: &World,
    adapter: &dyn ToolAdapter,
    store: &dyn IdempotencyStore,
    call: &ToolCall,
) -> Result<contextos_action::GatewayCall, GatewayError> {
    w.gateway(adapter)
        .approver(approver())
        .idempotency(store)
        .call_tool(call)
}

#[test]
fn refund_goes_through_approval_and_is_recorded() {
    let w = world();
    let tool = CountingTool::default();
    let out = call_once(&w, &tool, &MemoryIdempotency::default(), &refund(1)).unwrap();
    assert_eq!(out.envelope.status, ToolCallStatus::Executed);
    assert_eq!(
        out.decisions.len(),
        2,
        "first approval_required, then allow with the approval"
    );
    assert_eq!(out.decisions[0].outcome, PolicyOutcome::ApprovalRequired);
    assert_eq!(out.decisions[1].outcome, PolicyOutcome::Allow);
    let approval = out.envelope.approval.unwrap();
    assert_eq!(
        (approval.approver.as_str(), approval.role.as_str()),
        ("lena.ortiz", "support_lead")
    );
    assert_eq!(out.envelope.evidence_refs.len(), 2, "request and result evidence");
    assert!(
        out.envelope
            .traceparent
            .starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-")
    );
}

#[test]
fn destructive_call_is_denied_and_never_executed() {
    let w = world();
    let tool = CountingTool::default();
    let call = ToolCall {
        id: "c".into(),
        name: "delete_account".into(),
        arguments: json!({"customer_id": "ACME-778", "reason": "asked"}),
    };
    let out = call_once(&w, &tool, &MemoryIdempotency::default(), &call).unwrap();
    assert_eq!(out.envelope.status, ToolCallStatus::Denied);
    assert_eq!(out.decisions[0].determining_policies, vec!["tools.destructive-guard"]);
    assert!(tool.executions.lock().unwrap().is_empty());
}

#[test]
fn invalid_arguments_and_unknown_tools_are_refused_before_policy() {
    let w = world();
    let tool = CountingTool::default();
    let bad = ToolCall {
        id: "c".into(),
        name: "issue_refund".into(),
        arguments: json!({"customer_id": "acme 778"}),
    };
    let err = call_once(&w, &tool, &MemoryIdempotency::default(), &bad).unwrap_err();
    assert!(matches!(err, GatewayError::InvalidArguments { .. }), "{err}");
    let unknown = ToolCall {
        id: "c".into(),
        name: "format_disk".into(),
        arguments: json!({}),
    };
    assert!(matches!(
        call_once(&w, &tool, &MemoryIdempotency::default(), &unknown),
        Err(GatewayError::UnknownTool(_))
    ));
}

#[test]
fn secrets_in_arguments_and_results_are_redacted() {
    let w = world();
    struct Leaky;
    impl ToolAdapter for Leaky {
        fn call(&self, _: &LoadedTool, _: &ToolRequest, _: &str) -> Result<ToolResponse, AdapterError> {
            Ok(ToolResponse::Ok(
                json!({"ticket_id": "T-1", "api_key": "k-123", "note": "token sk-abcdefghijklmnopqrstuvwx"}),
            ))
        }
    }
    let call = ToolCall {
        id: "c".into(),
        name: "read_ticket".into(),
        arguments: json!({"ticket_id": "T-1"}),
    };
    let out = call_once(&w, &Leaky, &MemoryIdempotency::default(), &call).unwrap();
    let text = serde_json::to_string(&out.envelope).unwrap();
    assert!(
        !text.contains("k-123") && !text.contains("sk-abcdefghijklmnopqrstuvwx"),
        "{text}"
    );
    for (_, blob) in &out.evidence {
        let blob = String::from_utf8_lossy(blob);
        assert!(!blob.contains("k-123") && !blob.contains("sk-abcdefghij"), "{blob}");
    }
}

#[test]
fn the_tool_gets_real_arguments_while_records_hold_redacted_ones() {
    let w = world();
    #[derive(Default)]
    struct Capture(Mutex<Option<Value>>);
    impl ToolAdapter for Capture {
        fn call(&self, _: &LoadedTool, request: &ToolRequest, _: &str) -> Result<ToolResponse, AdapterError> {
            *self.0.lock().unwrap() = Some(request.arguments.clone());
            Ok(ToolResponse::Ok(json!({"ok": true})))
        }
    }
    let secret = "use token sk-abcdefghijklmnopqrstuvwx to retry";
    let call = ToolCall {
        id: "c".into(),
        name: "update_ticket".into(),
        arguments: json!({"ticket_id": "T-1", "note": secret}),
    };
    let tool = Capture::default();
    let out = call_once(&w, &tool, &MemoryIdempotency::default(), &call).unwrap();
    assert_eq!(
        tool.0.lock().unwrap().as_ref().unwrap()["note"],
        secret,
        "the live tool needs the real value"
    );
    assert_eq!(out.envelope.arguments["note"], "use token [redacted] to retry");
    let (recorded, _) = out.interaction.unwrap();
    assert_eq!(recorded.arguments["note"], "use token [redacted] to retry");
}

#[test]
fn calls_differing_only_in_a_secret_are_not_deduplicated() {
    let w = world();
    let tool = CountingTool::default();
    let store = MemoryIdempotency::default();
    let note = |token: &str| ToolCall {
        id: "c".into(),
        name: "update_ticket".into(),
        arguments: json!({"ticket_id": "T-1", "note": format!("retry with {token}")}),
    };
    let a = call_once(&w, &tool, &store, &note("sk-aaaaaaaaaaaaaaaaaaaaaaaa")).unwrap();
    let b = call_once(&w, &tool, &store, &note("sk-bbbbbbbbbbbbbbbbbbbbbbbb")).unwrap();
    assert_eq!(
        (a.envelope.status, b.envelope.status),
        (ToolCallStatus::Executed, ToolCallStatus::Executed)
    );
    assert_ne!(a.envelope.idempotency_key, b.envelope.idempotency_key);
    assert_eq!(a.envelope.arguments, b.envelope.arguments, "both recorded redacted");
    let again = call_once(&w, &tool, &store, &note("sk-aaaaaaaaaaaaaaaaaaaaaaaa")).unwrap();
    assert_eq!(again.envelope.status, ToolCallStatus::Deduplicated);
}

#[test]
fn ambiguous_transport_failure_of_a_non_idempotent_tool_is_never_retried() {
    let w = world();
    let dir = tempfile::tempdir().unwrap();
    let store = FileIdempotency::open(dir.path()).unwrap();
    let tool = CountingTool::default();
    *tool.transport_error_after_effect.lock().unwrap() = true;
    assert!(matches!(
        call_once(&w, &tool, &store, &refund(7)),
        Err(GatewayError::Adapter(AdapterError::Transport(_)))
    ));
    let retry = call_once(&w, &tool, &store, &refund(7)).unwrap();
    assert_eq!(retry.envelope.status, ToolCallStatus::Failed);
    assert_eq!(tool.executions.lock().unwrap().values().sum::<u64>(), 1);
}

#[derive(Clone, Copy, Debug)]
enum Op {
    Call(u32),
    CrashBefore(u32),
    CrashAfter(u32),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0u32..3).prop_map(Op::Call),
        1 => (0u32..3).prop_map(Op::CrashBefore),
        1 => (0u32..3).prop_map(Op::CrashAfter),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Whatever sequence of calls, crashes and restarts: a non-idempotent
    /// refund executes at most once per idempotency key, and once a result is
    /// recorded every retry returns it without executing.
    #[test]
    fn retries_never_execute_twice(ops in prop::collection::vec(op(), 1..12)) {
        let w = world();
        let dir = tempfile::tempdir().unwrap();
        let tool = CountingTool::default();
        let mut recorded: BTreeMap<u32, Value> = BTreeMap::new();
        let panics = AtomicU64::new(0);
        let hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        for op in &ops {
            // Every operation is a fresh process over the same durable store.
            let store = FileIdempotency::open(dir.path()).unwrap();
            let (order, crash) = match *op {
                Op::Call(k) => (k, None),
                Op::CrashBefore(k) => (k, Some(Crash::BeforeEffect)),
                Op::CrashAfter(k) => (k, Some(Crash::AfterEffect)),
            };
            *tool.crash.lock().unwrap() = crash;
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| call_once(&w, &tool, &store, &refund(order))));
            *tool.crash.lock().unwrap() = None;
            match outcome {
                Err(_) => { panics.fetch_add(1, Ordering::Relaxed); }
                Ok(result) => {
                    let out = result.unwrap();
                    match out.envelope.status {
                        ToolCallStatus::Executed => {
                            prop_assert!(!recorded.contains_key(&order), "executed again after a recorded result");
                            recorded.insert(order, out.envelope.result.clone().unwrap());
                        }
                        ToolCallStatus::Deduplicated => {
                            prop_assert_eq!(Some(&out.envelope.result.clone().unwrap()), recorded.get(&order));
                        }
                        ToolCallStatus::Failed => {} // an in-flight attempt: reconcile, never re-execute
                        ToolCallStatus::Denied => prop_assert!(false, "refund denied: {:?}", out.decisions),
                    }
                }
            }
        }
        std::panic::set_hook(hook);
        for (key, n) in tool.executions.lock().unwrap().iter() {
            prop_assert!(*n <= 1, "{} executed {} times", key, n);
        }
    }
}
