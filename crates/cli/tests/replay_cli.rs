//! `contextos replay | diff` that explain: the replay's status (incomplete
//! when the recorded model responses ran out, behaviour changed, or not),
//! the first divergent call, model-request drift by tool name and message
//! role, and each changed call's determining policies with file:line.
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use std::fs;
use std::path::Path;

mod common;
use common::{Run, command_in, copy_dir, repo, run};

const REQUEST: &str = "runtime/examples/escalation/request.yaml";
const RUN: &str = "run_escalation_4411";
const FREEZE: &str = "@id(\"x.refund-freeze\")\nforbid (principal, action == ContextOS::Action::\"issue_refund\", resource == ContextOS::Tool::\"issue_refund\");\n";

/// `contextos ARGS --store STORE` in the repository.
fn contextos(store: &Path, args: &[&str]) -> Run {
    run(command_in(&repo()).args(args).arg("--store").arg(store))
}

/// A store holding the bundled example's run.
fn store_with_run() -> tempfile::TempDir {
    let store = tempfile::tempdir().unwrap();
    let r = contextos(store.path(), &["run", REQUEST]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    store
}

/// The shipped policies plus `name` holding `text`.
fn policies_with(name: &str, text: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for e in fs::read_dir(repo().join("policies")).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_file() {
            fs::copy(e.path(), dir.path().join(e.file_name())).unwrap();
        }
    }
    fs::write(dir.path().join(name), text).unwrap();
    dir
}

/// The run id of a stored what-if replay, from its first line.
fn replay_id(stdout: &str) -> String {
    stdout.lines().next().unwrap().rsplit(' ').next().unwrap().to_string()
}

#[test]
fn a_replay_that_runs_out_of_recorded_model_responses_is_incomplete_and_exits_4() {
    let store = store_with_run();
    let freeze = policies_with("zz-freeze.cedar", FREEZE);
    let p = freeze.path().to_str().unwrap();
    let r = contextos(store.path(), &["replay", RUN, "--policies", p]);
    assert_eq!(r.code, 4, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("status          incomplete: recorded model responses ran out at model call 5"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("first divergent model call 1 (against recorded model call 1)\n                    tool removed: issue_refund\n"),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("behaviour changed"), "{}", r.stdout);

    let json = contextos(store.path(), &["replay", RUN, "--policies", p, "--format", "json"]);
    assert_eq!(json.code, 4, "{}", json.stderr);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v["status"], "incomplete");
    assert_eq!(v["ran_out_at_model_call"], 5);
    assert_eq!(v["first_divergence"]["call"], "model call 1");
    assert_eq!(v["first_divergence"]["changes"][0], "tool removed: issue_refund");
}

#[test]
fn a_replay_that_changes_behaviour_says_so_and_fails_on_change_with_exit_1() {
    let store = store_with_run();
    let open = policies_with(
        "zz-open.cedar",
        "@id(\"x.refunds-without-approval\")\npermit (principal, action == ContextOS::Action::\"issue_refund\", resource);\n",
    );
    let p = open.path().to_str().unwrap();
    let r = contextos(store.path(), &["replay", RUN, "--policies", p, "--fail-on-change"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("status          behaviour changed\n"), "{}", r.stdout);
    assert!(r.stdout.contains("issue_refund"), "{}", r.stdout);
    assert!(
        r.stdout
            .contains(": no_longer_needs_approval allow/executed -> allow/executed"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("after  allow by x.refunds-without-approval (") && r.stdout.contains("zz-open.cedar:2)"),
        "{}",
        r.stdout
    );
    // Without --fail-on-change a change is reported, not failed.
    let again = contextos(store.path(), &["replay", RUN, "--policies", p]);
    assert_eq!(again.code, 0, "{}", again.stderr);
}

#[test]
fn diff_names_the_determining_policies_and_approver_roles_with_file_and_line() {
    let store = store_with_run();
    let freeze = policies_with("zz-freeze.cedar", FREEZE);
    let p = freeze.path().to_str().unwrap();
    let what_if = contextos(store.path(), &["replay", RUN, "--policies", p]);
    let id = replay_id(&what_if.stdout);

    // The first run's bundle is the deployment's; the second's is given.
    let d = contextos(store.path(), &["diff", RUN, &id, "--policies", p]);
    assert_eq!(d.code, 0, "{}", d.stderr);
    let refund = d
        .stdout
        .lines()
        .position(|l| l.starts_with("  tool call       issue_refund"))
        .unwrap_or_else(|| panic!("{}", d.stdout));
    let lines: Vec<&str> = d.stdout.lines().collect();
    assert!(
        lines[refund].contains("newly_denied allow/executed -> deny/denied"),
        "{}",
        d.stdout
    );
    assert!(
        lines[refund + 1].trim_start().starts_with("before allow by tools.network-with-approval (")
            && lines[refund + 1].ends_with(
                "policies/tools.cedar:21); approver roles support_lead, security_officer; granted by lena.ortiz (support_lead)"
            ),
        "{}",
        d.stdout
    );
    assert!(
        lines[refund + 2]
            .trim_start()
            .starts_with("after  deny by x.refund-freeze (")
            && lines[refund + 2].ends_with("zz-freeze.cedar:2)"),
        "{}",
        d.stdout
    );

    // Without --policies the second bundle is not at hand: its ids stay bare.
    let bare = contextos(store.path(), &["diff", RUN, &id]);
    assert!(
        bare.stdout.contains("after  deny by x.refund-freeze\n"),
        "{}",
        bare.stdout
    );

    let json = contextos(store.path(), &["diff", RUN, &id, "--policies", p, "--format", "json"]);
    assert_eq!(json.code, 0, "{}", json.stderr);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let call = v["tool_calls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["tool"] == "issue_refund")
        .unwrap();
    assert_eq!(
        call["before"]["determining_policies"][0]["id"],
        "tools.network-with-approval"
    );
    assert_eq!(call["before"]["determining_policies"][0]["line"], 21);
    assert_eq!(call["after"]["determining_policies"][0]["id"], "x.refund-freeze");
    assert_eq!(call["after"]["determining_policies"][0]["line"], 2);
    assert_eq!(call["after"]["policy"], "deny");
}

#[test]
fn diff_shows_the_approver_roles_a_call_now_needs() {
    let store = store_with_run();
    // Refunds now need a security officer: the recorded support lead's grant no longer opens it.
    let stricter = policies_with(
        "zz-officer.cedar",
        "@id(\"x.refunds-need-officer\")\nforbid (principal, action == ContextOS::Action::\"issue_refund\", resource)\nunless { context.approval.granted && context.approval.role == \"security_officer\" };\n",
    );
    let p = stricter.path().to_str().unwrap();
    let r = contextos(store.path(), &["replay", RUN, "--policies", p]);
    assert!(
        r.stdout.contains("tool call       issue_refund"),
        "{}\n{}",
        r.stdout,
        r.stderr
    );
    // Before: a support lead or a security officer could approve, and a
    // support lead did; after: only a security officer can, so the same grant is denied.
    assert!(
        r.stdout.contains(
            "before allow by tools.network-with-approval (runtime/../policies/tools.cedar:21); approver roles support_lead, security_officer; granted by "
        ),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("after  deny by x.refunds-need-officer (")
            && r.stdout
                .contains("zz-officer.cedar:2); approver roles security_officer; granted by "),
        "{}",
        r.stdout
    );
}

#[test]
fn a_replay_after_adding_one_tool_contract_prints_one_tool_added_line_per_model_call() {
    let store = store_with_run();
    let tools = tempfile::tempdir().unwrap();
    copy_dir(&repo().join("runtime/tools"), tools.path());
    fs::write(
        tools.path().join("restart_service.yaml"),
        "format_version: 1\nname: restart_service\ndescription: Restart a service.\napproval_mode: read_only\n\
side_effect: none\nidempotent: true\ninput_schema:\n  type: object\n  additionalProperties: false\n  \
required: [service]\n  properties:\n    service: { type: string }\n",
    )
    .unwrap();
    let r = contextos(
        store.path(),
        &["replay", RUN, "--tools", tools.path().to_str().unwrap()],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("status          behaviour unchanged"), "{}", r.stdout);
    // Four model calls drifted, each by exactly one line; the first divergence says it once more.
    let drifted = r
        .stdout
        .matches("request drifted:\n                    tool added: restart_service\n")
        .count();
    assert_eq!(drifted, 4, "{}", r.stdout);
    assert_eq!(r.stdout.matches("tool added").count(), 5, "{}", r.stdout);
    assert!(!r.stdout.contains("/tools/"), "no JSON pointers: {}", r.stdout);
}
