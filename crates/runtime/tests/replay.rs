//! Replays that explain themselves: a replay that runs out of recorded model
//! responses says where, the first divergent call is named with what differs,
//! model-request drift is said by tool name and message role, and a diff
//! names the determining policies and approver roles of each changed call.
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use std::path::{Path, PathBuf};

use contextos_core::PolicyOutcome;
use contextos_runtime::{
    Deployment, Fixtures, ReplayOverrides, RequestEnvelope, RunArtifacts, diff_packets, replay, run_on_fixtures,
};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn deployment() -> Deployment {
    Deployment::load(&repo().join("runtime/contextos.toml")).unwrap()
}

fn recorded() -> RunArtifacts {
    let dir = repo().join("runtime/examples/escalation");
    let text = std::fs::read_to_string(dir.join("request.yaml")).unwrap();
    let env = RequestEnvelope::parse("request.yaml", &text).unwrap();
    run_on_fixtures(&deployment(), &env, &Fixtures::load(&dir.join("fixtures")).unwrap()).unwrap()
}

/// The shipped bundle plus one file.
fn policies_with(name: &str, text: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(repo().join("policies")).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
        }
    }
    std::fs::write(dir.path().join(name), text).unwrap();
    dir
}

const FREEZE: &str = "@id(\"x.refund-freeze\")\nforbid (principal, action == ContextOS::Action::\"issue_refund\", resource == ContextOS::Tool::\"issue_refund\");\n";

fn policies_override() -> ReplayOverrides {
    ReplayOverrides {
        policies: true,
        ..ReplayOverrides::default()
    }
}

#[test]
fn a_replay_that_runs_out_of_recorded_responses_names_the_call_and_the_first_divergence() {
    let recorded = recorded();
    let freeze = policies_with("zz-freeze.cedar", FREEZE);
    let dep = deployment().with_policies(freeze.path()).unwrap();
    let r = replay(&dep, &recorded.packet, &policies_override()).unwrap();
    // The recording has four model responses; the frozen refund makes the run ask for a fifth.
    assert_eq!(r.ran_out_at, Some(5));
    assert!(r.is_incomplete());
    let first = r.first_divergence.unwrap();
    assert_eq!(first.call, "model call 1");
    assert_eq!(first.nearest.as_deref(), Some("recorded model call 1"));
    // The freeze withholds the refund tool from the model from the first call on.
    assert_eq!(first.changes, vec!["tool removed: issue_refund"]);
}

#[test]
fn a_replay_that_only_adds_a_tool_is_complete_and_each_drift_is_one_line() {
    let recorded = recorded();
    let tools = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(repo().join("runtime/tools")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), tools.path().join(entry.file_name())).unwrap();
    }
    std::fs::write(
        tools.path().join("restart_service.yaml"),
        "format_version: 1\nname: restart_service\ndescription: Restart a service.\napproval_mode: read_only\n\
side_effect: none\nidempotent: true\ninput_schema:\n  type: object\n  additionalProperties: false\n  \
required: [service]\n  properties:\n    service: { type: string }\n",
    )
    .unwrap();
    let dep = deployment().with_tools(tools.path()).unwrap();
    let overrides = ReplayOverrides {
        tools: true,
        ..ReplayOverrides::default()
    };
    let r = replay(&dep, &recorded.packet, &overrides).unwrap();
    assert_eq!(r.ran_out_at, None);
    let diff = diff_packets(&recorded.packet, &r.artifacts.packet, &r.drift);
    assert!(!diff.behaviour_changed(), "{diff:#?}");
    assert_eq!(diff.model_drift.len(), 4, "{:#?}", diff.model_drift);
    for (_, changes) in &diff.model_drift {
        assert_eq!(changes, &["tool added: restart_service"]);
    }
}

#[test]
fn a_diff_names_the_determining_policies_and_where_they_are_written() {
    let recorded = recorded();
    let freeze = policies_with("zz-freeze.cedar", FREEZE);
    let dep = deployment().with_policies(freeze.path()).unwrap();
    let r = replay(&dep, &recorded.packet, &policies_override()).unwrap();
    let mut diff = diff_packets(&recorded.packet, &r.artifacts.packet, &r.drift);
    let refund = diff.tool_calls.iter().find(|c| c.tool == "issue_refund").unwrap();
    let (before, after) = (refund.before.clone().unwrap(), refund.after.clone().unwrap());
    assert_eq!(
        (before.policy, after.policy),
        (PolicyOutcome::Allow, PolicyOutcome::Deny)
    );
    let ids = |s: &contextos_runtime::CallSide| s.determining_policies.iter().map(|p| p.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&before), vec!["tools.network-with-approval"]);
    assert_eq!(ids(&after), vec!["x.refund-freeze"]);
    // Without bundles at hand the ids stay bare; with them each gets its file and line.
    assert_eq!(before.determining_policies[0].file, None);
    let shipped = deployment();
    diff.locate_policies(Some(shipped.policy.policies()), Some(dep.policy.policies()));
    let refund = diff.tool_calls.iter().find(|c| c.tool == "issue_refund").unwrap();
    let before = &refund.before.as_ref().unwrap().determining_policies[0];
    assert!(
        before.file.as_deref().unwrap().ends_with("policies/tools.cedar"),
        "{before:?}"
    );
    assert_eq!(before.line, Some(21));
    let after = &refund.after.as_ref().unwrap().determining_policies[0];
    assert!(after.file.as_deref().unwrap().ends_with("zz-freeze.cedar"), "{after:?}");
    assert_eq!(after.line, Some(2));
    assert!(after.to_string().ends_with("zz-freeze.cedar:2)"), "{after}");
}

#[test]
fn a_replay_without_overrides_does_not_diverge() {
    let recorded = recorded();
    let r = replay(&deployment(), &recorded.packet, &ReplayOverrides::default()).unwrap();
    assert_eq!((r.ran_out_at, r.first_divergence), (None, None));
}
