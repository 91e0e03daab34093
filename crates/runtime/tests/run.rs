//! The bundled customer-escalation example through every plane: real Cedar,
//! real tokenizer, real signatures, recorded model and tool fixtures.
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use std::path::{Path, PathBuf};

use contextos_core::{ApprovalVerdict, CriticVerdict, ErrorKind, Kind, PolicyOutcome, RunOutcome, ToolCallStatus};
use contextos_runtime::{
    DECISION_RECORD_TYPE, Deployment, Fixtures, REPLAY_PACKET_TYPE, ReplayOverrides, RequestEnvelope, RunError,
    diff_packets, envelope_bytes, open_packet, persist, replay, run_on_fixtures,
};
use contextos_store::Store;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn deployment() -> Deployment {
    Deployment::load(&repo().join("runtime/contextos.toml")).unwrap()
}

fn example() -> (RequestEnvelope, Fixtures) {
    let dir = repo().join("runtime/examples/escalation");
    let text = std::fs::read_to_string(dir.join("request.yaml")).unwrap();
    (
        RequestEnvelope::parse("request.yaml", &text).unwrap(),
        Fixtures::load(&dir.join("fixtures")).unwrap(),
    )
}

#[test]
fn bundled_example_reads_refunds_with_approval_and_is_denied_the_delete() {
    let dep = deployment();
    let (env, fixtures) = example();
    let a = run_on_fixtures(&dep, &env, &fixtures).unwrap();
    let record = &a.packet.decision_record;
    assert_eq!(record.outcome, RunOutcome::Completed, "{:#?}", a.packet.critic);
    let calls: Vec<(&str, ToolCallStatus, PolicyOutcome)> = a
        .packet
        .tool_envelopes
        .iter()
        .map(|e| (e.tool.as_str(), e.status, e.policy_outcome))
        .collect();
    assert_eq!(
        calls,
        vec![
            ("read_ticket", ToolCallStatus::Executed, PolicyOutcome::Allow),
            ("lookup_customer", ToolCallStatus::Executed, PolicyOutcome::Allow),
            ("issue_refund", ToolCallStatus::Executed, PolicyOutcome::Allow),
            ("delete_account", ToolCallStatus::Denied, PolicyOutcome::Deny),
        ]
    );
    let approval = a.packet.tool_envelopes[2].approval.clone().unwrap();
    assert_eq!(
        (approval.verdict, approval.role.as_str()),
        (ApprovalVerdict::Granted, "support_lead")
    );
    let delete = record
        .policy_decisions
        .iter()
        .find(|d| d.resource == "ContextOS::Tool::\"delete_account\"")
        .unwrap();
    assert_eq!(delete.determining_policies, vec!["tools.destructive-guard"]);
    // Pack and layer use went through Cedar too.
    assert!(
        record
            .policy_decisions
            .iter()
            .any(|d| d.action == "ContextOS::Action::\"use_pack\"")
    );
    assert_eq!(record.citations.len(), 3);
    assert!(record.citations.iter().all(|c| record.evidence_refs.contains(c)));
    assert_eq!(record.memory_proposals.len(), 1);
    assert_eq!(record.trace_id, env.run_context.trace_id);
    assert_eq!(record.replay_id, a.packet.replay_id);
    assert!(!a.packet.compiled_context.prompt.is_empty());
    assert!(
        a.packet
            .compiled_context
            .debt
            .iter()
            .any(|d| d.message.contains("expired")),
        "stale source warned"
    );
    // Both documents verify against the trusted keys.
    let keys = &dep.keyring;
    keys.verify(&a.record_envelope, DECISION_RECORD_TYPE).unwrap();
    assert_eq!(open_packet(&a.packet_envelope, keys).unwrap(), a.packet);
    assert_eq!(a.packet_envelope.payload_type, REPLAY_PACKET_TYPE);
}

#[test]
fn repeat_runs_and_store_round_trip_replay_are_byte_identical() {
    let dep = deployment();
    let (env, fixtures) = example();
    let first = run_on_fixtures(&dep, &env, &fixtures).unwrap();
    let second = run_on_fixtures(&dep, &env, &fixtures).unwrap();
    assert_eq!(
        envelope_bytes(&first.packet_envelope).unwrap(),
        envelope_bytes(&second.packet_envelope).unwrap()
    );
    assert_eq!(
        envelope_bytes(&first.record_envelope).unwrap(),
        envelope_bytes(&second.record_envelope).unwrap()
    );

    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let stored = persist(&store, &first).unwrap();
    assert!(!stored.already_stored);
    assert!(
        persist(&store, &second).unwrap().already_stored,
        "an identical re-run is idempotent"
    );
    let bytes = store.get_object(&stored.packet).unwrap();
    let envelope = serde_json::from_slice(&bytes).unwrap();
    let packet = open_packet(&envelope, &dep.keyring).unwrap();
    let replayed = replay(&dep, &packet, &ReplayOverrides::default()).unwrap();
    assert_eq!(envelope_bytes(&replayed.artifacts.packet_envelope).unwrap(), bytes);
    assert!(replayed.drift.is_empty());
    assert!(store.verify(&dep.keyring).unwrap().is_clean());
}

#[test]
fn flipping_any_byte_of_a_stored_packet_or_record_fails_verification() {
    let dep = deployment();
    let (env, fixtures) = example();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let stored = persist(&store, &run_on_fixtures(&dep, &env, &fixtures).unwrap()).unwrap();
    for digest in [stored.packet, stored.record] {
        let path = store.object_path(&digest);
        let original = std::fs::read(&path).unwrap();
        // Every 97th byte plus both ends: each flip must be caught.
        let positions: Vec<usize> = (0..original.len()).step_by(97).chain([original.len() - 1]).collect();
        for pos in positions {
            let mut bytes = original.clone();
            bytes[pos] ^= 0x20;
            std::fs::write(&path, &bytes).unwrap();
            let report = store.verify(&dep.keyring).unwrap();
            assert!(!report.is_clean(), "flip at byte {pos} of {digest} went unnoticed");
        }
        std::fs::write(&path, &original).unwrap();
    }
    assert!(store.verify(&dep.keyring).unwrap().is_clean());
}

#[test]
fn changed_request_misses_and_names_the_nearest_recording() {
    let dep = deployment();
    let (mut env, fixtures) = example();
    env.request.text.push_str(" Please hurry.");
    let err = run_on_fixtures(&dep, &env, &fixtures).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::FixtureMiss);
    let text = err.to_string();
    assert!(text.contains("nearest recorded request is"), "{text}");
    // Said by message role, not JSON pointer, and naming the model call.
    assert!(text.contains("message 2 (user) changed: content"), "{text}");
    assert!(
        text.contains("model call 1 (the run diverged from the recording)"),
        "{text}"
    );
}

#[test]
fn exhausted_iteration_budget_escalates_with_a_record() {
    let dep = deployment();
    let (mut env, fixtures) = example();
    env.run_context.budget.max_iterations = 2;
    let a = run_on_fixtures(&dep, &env, &fixtures).unwrap();
    assert_eq!(a.packet.decision_record.outcome, RunOutcome::Escalated);
    assert!(
        a.packet
            .critic
            .iter()
            .any(|n| n.verdict == CriticVerdict::Escalate && n.reason.contains("iteration budget")),
        "{:#?}",
        a.packet.critic
    );
}

fn policies_with(extra_name: &str, extra: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(repo().join("policies")).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
        }
    }
    std::fs::write(dir.path().join(extra_name), extra).unwrap();
    dir
}

#[test]
fn a_policy_evaluation_error_denies_every_tool_call() {
    let (env, fixtures) = example();
    let recorded = run_on_fixtures(&deployment(), &env, &fixtures).unwrap();
    let broken = policies_with(
        "overflow.cedar",
        "@id(\"x.overflow\")\npermit (principal, action in ContextOS::Action::\"call_tool\", resource)\nwhen { context.budget.tokens_left * 9223372036854775807 > 0 };\n",
    );
    let dep = deployment().with_policies(broken.path()).unwrap();
    let overrides = ReplayOverrides {
        policies: true,
        ..ReplayOverrides::default()
    };
    let r = replay(&dep, &recorded.packet, &overrides).unwrap();
    let envelopes = &r.artifacts.packet.tool_envelopes;
    assert!(!envelopes.is_empty());
    for e in envelopes {
        assert_eq!(
            e.status,
            ToolCallStatus::Denied,
            "{} ran despite a policy error",
            e.tool
        );
    }
    let reasons: Vec<_> = r
        .artifacts
        .packet
        .decision_record
        .policy_decisions
        .iter()
        .filter(|d| d.resource.starts_with("ContextOS::Tool::"))
        .map(|d| d.reason.clone())
        .collect();
    assert!(reasons.iter().all(|r| r.contains("fail closed")), "{reasons:#?}");
}

#[test]
fn replay_against_stricter_policies_reports_the_newly_denied_refund() {
    let (env, fixtures) = example();
    let recorded = run_on_fixtures(&deployment(), &env, &fixtures).unwrap();
    let stricter = policies_with(
        "zz-no-refunds.cedar",
        "@id(\"x.refund-freeze\")\nforbid (principal, action == ContextOS::Action::\"issue_refund\", resource == ContextOS::Tool::\"issue_refund\");\n",
    );
    let dep = deployment().with_policies(stricter.path()).unwrap();
    let r = replay(
        &dep,
        &recorded.packet,
        &ReplayOverrides {
            policies: true,
            ..ReplayOverrides::default()
        },
    )
    .unwrap();
    assert_eq!(r.artifacts.packet.replay_of.as_deref(), Some("run_escalation_4411"));
    assert_ne!(r.artifacts.packet.run_id, "run_escalation_4411");
    let diff = diff_packets(&recorded.packet, &r.artifacts.packet, &r.drift);
    let refund = diff.tool_calls.iter().find(|c| c.tool == "issue_refund").unwrap();
    assert_eq!(refund.change, "newly_denied");
    assert!(diff.policy_bundle.is_some());
    assert!(
        !diff.model_drift.is_empty(),
        "the model saw a denial instead of a refund"
    );
}

#[test]
fn replay_without_override_refuses_a_changed_policy_bundle() {
    let (env, fixtures) = example();
    let recorded = run_on_fixtures(&deployment(), &env, &fixtures).unwrap();
    let changed = policies_with(
        "zz-extra.cedar",
        "@id(\"x.extra\")\nforbid (principal, action, resource) when { context.safety_mode == \"none\" };\n",
    );
    let mut dep = deployment();
    dep.policy = contextos_trust::PolicyEngine::load(changed.path()).unwrap();
    let err = replay(&dep, &recorded.packet, &ReplayOverrides::default()).unwrap_err();
    assert!(matches!(err, RunError::Drift(_)), "{err}");
}

#[test]
fn invalid_request_envelope_names_the_field() {
    let text = std::fs::read_to_string(repo().join("runtime/examples/escalation/request.yaml")).unwrap();
    let bad = text.replace("4bf92f3577b34da6a3ce929d0e0e4736", "not-a-trace");
    let err = RequestEnvelope::parse("request.yaml", &bad).unwrap_err();
    assert!(err.to_string().contains("run_context.trace_id"), "{err}");
    let typo = text.replace("max_tool_calls", "max_tool_call");
    let err = RequestEnvelope::parse("request.yaml", &typo).unwrap_err();
    assert!(err.line.is_some(), "{err}");
}

#[test]
fn replay_against_an_edited_pack_shows_what_the_model_saw_change() {
    let (env, fixtures) = example();
    let recorded = run_on_fixtures(&deployment(), &env, &fixtures).unwrap();
    // Edit one snippet of the bundled pack, rebuild it and sign it with the development key.
    let work = tempfile::tempdir().unwrap();
    let source = repo().join("runtime/packs/support_escalation/pack.yaml");
    let text = std::fs::read_to_string(&source).unwrap();
    let edited = text.replace("Be precise and brief.", "Be precise, brief and polite.");
    assert_ne!(edited, text, "the edit must apply");
    std::fs::create_dir_all(work.path().join("src")).unwrap();
    std::fs::write(work.path().join("src/pack.yaml"), edited).unwrap();
    let built = contextos_context::build_pack_dir(&work.path().join("src")).unwrap();
    let key = contextos_trust::SigningKey::load(&repo().join("runtime/keys/dev.key")).unwrap();
    let signed = contextos_context::sign_pack(&built, &key).unwrap();
    let packs = work.path().join("packs");
    std::fs::create_dir_all(&packs).unwrap();
    let bytes = contextos_context::artifact_bytes(&signed).unwrap();
    contextos_context::write_artifact(&packs.join("support_escalation-18.pack.json"), &bytes).unwrap();

    let dep = deployment().with_packs(&packs).unwrap();
    let r = replay(
        &dep,
        &recorded.packet,
        &ReplayOverrides {
            packs: true,
            ..ReplayOverrides::default()
        },
    )
    .unwrap();
    let diff = diff_packets(&recorded.packet, &r.artifacts.packet, &r.drift);
    assert!(diff.prompt.is_some(), "the prompt changed");
    assert!(
        r.artifacts
            .packet
            .compiled_context
            .prompt
            .contains("Be precise, brief and polite.")
    );
    assert_ne!(
        recorded.packet.inputs.packs, r.artifacts.packet.inputs.packs,
        "the packet pins the new pack digest"
    );
    assert!(
        !diff.model_drift.is_empty(),
        "every model request carries the new system prompt"
    );
    assert!(
        diff.model_drift
            .iter()
            .all(|(_, changes)| changes == &["system prompt changed"]),
        "{:#?}",
        diff.model_drift
    );
    // Same decisions on the same recorded model responses: the tool calls did not change.
    assert!(diff.tool_calls.is_empty(), "{:#?}", diff.tool_calls);
}

/// A model that answers from the example script until it fails, as a live
/// model that stops answering would.
struct FailsAfter {
    script: contextos_decision::ScriptedModel,
    left: std::sync::Mutex<usize>,
}

impl contextos_decision::ModelProvider for FailsAfter {
    fn complete(
        &self,
        request: &contextos_core::ModelRequest,
    ) -> Result<contextos_core::ModelResponse, contextos_decision::ProviderError> {
        let mut left = self.left.lock().unwrap();
        if *left == 0 {
            return Err(contextos_decision::ProviderError::Transport(
                "HTTP 503 after 3 retries".into(),
            ));
        }
        *left -= 1;
        self.script.complete(request)
    }
}

#[test]
fn a_recording_run_that_fails_keeps_what_it_recorded() {
    let dep = deployment();
    let (env, _) = example();
    let dir = repo().join("runtime/examples/escalation");
    let script = contextos_runtime::Script::parse(
        "script.yaml",
        &std::fs::read_to_string(dir.join("script.yaml")).unwrap(),
    )
    .unwrap();
    let model = FailsAfter {
        script: contextos_decision::ScriptedModel::new(script.model.clone()),
        left: std::sync::Mutex::new(1),
    };
    let tools = contextos_action::ScriptedTools::new(script.tools.clone());
    let (artifacts, recorded) = contextos_runtime::run_recording_partial(&dep, &env, &model, &tools, &script.approvals);
    let err = artifacts.unwrap_err();
    assert!(err.to_string().contains("HTTP 503"), "{err}");
    assert_eq!(recorded.model.len(), 1, "the one answered model call is kept");
    let tools: Vec<&str> = recorded.tools.iter().map(|(r, _)| r.tool.as_str()).collect();
    assert_eq!(tools, ["read_ticket", "lookup_customer"], "and the tool calls it made");
}
