//! One deployment configuration per command, through the real binary: a copy
//! of the repository with a second suite whose deployment
//! (`runtime/second.toml`) has its own bundle, its own key and its own
//! store, its goldens accepted beside the bundled suite's under `goldens/`.

#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use std::fs;
use std::path::Path;

use serde_json::Value;

mod common;
use common::{Run, contextos_in, copy_dir, repo};

/// A policy only the second bundle has; it decides nothing in a standard session.
const SECOND_ONLY: &str = "@id(\"second.no-refunds-in-restricted-sessions\")\n\
forbid (principal, action == ContextOS::Action::\"issue_refund\", resource)\n\
when { context.safety_mode == \"restricted\" };\n";

/// The cases the second suite takes from the bundled one.
const SECOND_CASES: [&str; 2] = ["order-status-lookup", "refund-approved-by-support-lead"];

fn ok(run: &Run) {
    assert_eq!(run.code, 0, "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
}

/// Builds the two-suite repository in `dir`; returns the second key's id.
fn two_suites(dir: &Path) -> String {
    for sub in ["policies", "runtime", "goldens"] {
        copy_dir(&repo().join(sub), &dir.join(sub));
    }
    copy_dir(
        &repo().join("scenarios/customer-escalation"),
        &dir.join("scenarios/customer-escalation"),
    );

    // The second deployment: its own key, a pack signed with it, its own bundle and store.
    let keys = contextos_in(dir, &["keys", "generate", "--name", "second", "--out", "second/keys"]);
    ok(&keys);
    let key_id = keys.stdout.split_whitespace().nth(1).unwrap().to_owned();
    let built = "second/support_escalation-18.built.json";
    ok(&contextos_in(
        dir,
        &["pack", "build", "runtime/packs/support_escalation", "--out", built],
    ));
    ok(&contextos_in(
        dir,
        &[
            "pack",
            "sign",
            built,
            "--key",
            "second/keys/second.key",
            "--out",
            "second/support_escalation-18.pack.json",
        ],
    ));
    copy_dir(&dir.join("policies"), &dir.join("second/policies"));
    fs::write(dir.join("second/policies/second.cedar"), SECOND_ONLY).unwrap();
    let config = fs::read_to_string(dir.join("runtime/contextos.toml"))
        .unwrap()
        .replace(
            "packs = [\"packs/support_escalation-18.pack.json\"]",
            "packs = [\"../second/support_escalation-18.pack.json\"]",
        )
        .replace("policies = \"../policies\"", "policies = \"../second/policies\"")
        .replace("keys = \"keys\"", "keys = \"../second/keys\"")
        .replace(
            "signing_key = \"keys/dev.key\"",
            "signing_key = \"../second/keys/second.key\"",
        )
        .replace("store = \"../.contextos\"", "store = \"../second/store\"");
    assert!(config.contains("../second/keys/second.key"), "{config}");
    fs::write(dir.join("runtime/second.toml"), config).unwrap();

    // The second suite: two of the bundled cases, run under the second deployment.
    let from = repo().join("scenarios/customer-escalation");
    let to = dir.join("scenarios/second");
    let suite = fs::read_to_string(from.join("suite.yaml"))
        .unwrap()
        .replace("name: customer-escalation", "name: second")
        .replace(
            "config: ../../runtime/contextos.toml",
            "config: ../../runtime/second.toml",
        );
    fs::create_dir_all(to.join("cases")).unwrap();
    fs::write(to.join("suite.yaml"), suite).unwrap();
    for case in SECOND_CASES {
        let file = format!("{case}.yaml");
        fs::copy(from.join("cases").join(&file), to.join("cases").join(&file)).unwrap();
        copy_dir(&from.join("fixtures").join(case), &to.join("fixtures").join(case));
    }
    ok(&contextos_in(dir, &["golden", "accept", "scenarios/second"]));
    key_id
}

/// A scratch copy of the repository with the second suite, and the second key's id.
fn scratch() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let key = two_suites(dir.path());
    (dir, key)
}

fn signer(packet: &Path) -> String {
    let envelope: Value = serde_json::from_str(&fs::read_to_string(packet).unwrap()).unwrap();
    envelope["signatures"][0]["keyid"].as_str().unwrap().to_owned()
}

#[test]
fn the_second_suites_goldens_are_signed_by_its_own_key_and_check_with_it() {
    let (work, key) = scratch();
    let (dir, key) = (work.path(), &key);
    for case in SECOND_CASES {
        let packet = dir.join(format!("goldens/second/{case}.packet.json"));
        assert_eq!(&signer(&packet), key, "{}", packet.display());
    }
    let bundled = dir.join("goldens/customer-escalation/order-status-lookup.packet.json");
    assert_ne!(&signer(&bundled), key);

    let check = contextos_in(dir, &["golden", "check", "scenarios/second"]);
    ok(&check);
    assert!(
        check.stdout.contains("suite second: 2 of 2 golden(s) match"),
        "{}",
        check.stdout
    );
    assert!(
        check.stderr.contains(&format!(
            "using config runtime/second.toml: policies second/policies (21 policies), keys {key}, goldens goldens/second"
        )),
        "{}",
        check.stderr
    );
}

#[test]
fn impact_and_coverage_verify_each_suite_with_its_own_keys_and_name_both() {
    let (work, key) = scratch();
    let (dir, key) = (work.path(), &key);
    let impact = contextos_in(dir, &["policy", "impact", "--candidate", "policies"]);
    ok(&impact);
    let using: Vec<&str> = impact.stderr.lines().collect();
    assert!(
        using[0].starts_with("using config runtime/contextos.toml: baseline policies (20 policies), candidate policies (20 policies), keys ed25519:"),
        "{}",
        impact.stderr
    );
    assert!(
        using[0].ends_with("corpus goldens (23 packets, 2 suites: customer-escalation, second)"),
        "{}",
        impact.stderr
    );
    assert_eq!(
        using[1],
        format!("  packets of suite second with the keys of runtime/second.toml ({key})")
    );
    assert!(
        impact.stdout.contains("in 23 packets re-evaluated: 0 changed"),
        "{}",
        impact.stdout
    );

    // The default deployment's bundle is measured: the second bundle's own policy is not in it.
    let coverage = contextos_in(dir, &["policy", "coverage", "--min", "0"]);
    ok(&coverage);
    assert!(
        !coverage.stdout.contains("second.no-refunds-in-restricted-sessions"),
        "{}",
        coverage.stdout
    );
    assert!(
        coverage.stdout.contains("over 23 packets") || coverage.stdout.contains("in 23 packets"),
        "{}",
        coverage.stdout
    );

    // --config measures that deployment's bundle, verified with its keys.
    let second = contextos_in(
        dir,
        &["policy", "coverage", "--config", "runtime/second.toml", "--min", "0"],
    );
    ok(&second);
    assert!(
        second
            .stdout
            .contains("forbid second.no-refunds-in-restricted-sessions  (second/policies/second.cedar:2)"),
        "{}",
        second.stdout
    );
    assert!(
        second.stderr.starts_with(&format!(
            "using config runtime/second.toml: policies second/policies (21 policies), keys {key}, corpus goldens"
        )),
        "{}",
        second.stderr
    );
    // Seen from the second deployment, the bundled suite has keys of its own.
    assert!(
        second
            .stderr
            .contains("packets of suite customer-escalation with the keys of runtime/contextos.toml"),
        "{}",
        second.stderr
    );
    // validate, test and explain take the bundle from --config too.
    let validate = contextos_in(dir, &["policy", "validate", "--config", "runtime/second.toml"]);
    ok(&validate);
    assert!(
        validate
            .stdout
            .starts_with("policy bundle second/policies is valid: 21 policies"),
        "{}",
        validate.stdout
    );
    // The second bundle's own forbid now determines a shipped test's restricted refund.
    let test = contextos_in(dir, &["policy", "test", "--config", "runtime/second.toml"]);
    assert_eq!(test.code, 1, "{}\n{}", test.stdout, test.stderr);
    assert!(
        test.stdout
            .contains("determining: expected [], got [\"second.no-refunds-in-restricted-sessions\"]"),
        "{}",
        test.stdout
    );
    ok(&contextos_in(dir, &["policy", "test"]));
    assert!(
        test.stderr
            .starts_with("using config runtime/second.toml: policies second/policies (21 policies)"),
        "{}",
        test.stderr
    );

    // JSON on stdout stays clean: the using line is on stderr.
    let json = contextos_in(dir, &["policy", "coverage", "--min", "0", "--format", "json"]);
    ok(&json);
    let report: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(report["packets"], 23);
}

#[test]
fn a_packet_signed_by_another_suites_key_fails_verification_naming_it() {
    let (work, _) = scratch();
    let dir = work.path();
    // A packet signed by the bundled suite's key, filed under the second suite.
    fs::copy(
        dir.join("goldens/customer-escalation/order-status-lookup.packet.json"),
        dir.join("goldens/second/intruder.packet.json"),
    )
    .unwrap();
    for args in [
        &["policy", "impact", "--candidate", "policies"][..],
        &["policy", "coverage", "--min", "0"][..],
    ] {
        let run = contextos_in(dir, args);
        assert_eq!(run.code, 3, "{args:?}\n{}\n{}", run.stdout, run.stderr);
        assert!(
            run.stderr
                .contains("packet goldens/second/intruder.packet.json does not verify"),
            "{}",
            run.stderr
        );
    }
}

#[test]
fn promote_into_the_second_suite_reads_its_store_and_signs_with_its_key() {
    let (work, key) = scratch();
    let (dir, key) = (work.path(), &key);
    let request = "runtime/examples/escalation/request.yaml";
    ok(&contextos_in(dir, &["run", request, "--config", "runtime/second.toml"]));
    assert!(dir.join("second/store/runs").is_dir());

    let promote = contextos_in(
        dir,
        &[
            "promote",
            "run_escalation_4411",
            "--suite",
            "scenarios/second",
            "--case",
            "promoted-refund",
        ],
    );
    ok(&promote);
    assert!(
        promote.stderr.starts_with(&format!(
            "using config runtime/second.toml: keys {key}, store second/store, goldens goldens"
        )),
        "{}",
        promote.stderr
    );
    assert!(dir.join("scenarios/second/cases/promoted-refund.yaml").is_file());
    let golden = dir.join("goldens/second/promoted-refund.packet.json");
    assert_eq!(&signer(&golden), key);

    // The bundled suite's deployment has no such run in its store.
    let other = contextos_in(
        dir,
        &[
            "promote",
            "run_escalation_4411",
            "--suite",
            "scenarios/customer-escalation",
            "--case",
            "promoted-refund",
        ],
    );
    assert_eq!(other.code, 2, "{}\n{}", other.stdout, other.stderr);
}

/// A deployment (`contextos.toml` in `dir`) whose `[sources]` declare
/// server-everything (`everything.yaml`), with its `echo` pinned beside the
/// shipped tools, and a request and script that call echo.
fn mcp_deployment(dir: &Path) {
    let spec = format!(
        "name: everything\ncommand: node\nargs: [{:?}]\n",
        contextos_testkit::peers::entry("server-everything")
            .display()
            .to_string()
    );
    fs::write(dir.join("everything.yaml"), spec).unwrap();
    copy_dir(&repo().join("runtime/tools"), &dir.join("tools"));
    ok(&contextos_in(
        dir,
        &[
            "tools",
            "pin",
            "--server",
            "everything.yaml",
            "--tool",
            "echo",
            "--out",
            "tools",
        ],
    ));
    let config = common::deployment_config(dir, "contextos.toml", &[("tools", "tools")]);
    let mut text = fs::read_to_string(&config).unwrap();
    text.push_str("\n[sources]\nmcp = [\"everything.yaml\"]\n");
    fs::write(&config, text).unwrap();
    let request = fs::read_to_string(repo().join("runtime/examples/escalation/request.yaml"))
        .unwrap()
        .replace("run_id: run_escalation_4411", "run_id: run_declared_mcp");
    fs::write(dir.join("request.yaml"), request).unwrap();
    fs::write(
        dir.join("script.yaml"),
        "format_version: 1\nmodel:\n  \
- tool_calls:\n      - { id: call_1, name: echo, arguments: { message: hello } }\n    \
usage: { prompt_tokens: 1200, completion_tokens: 20 }\n  \
- content: The echo server answered hello.\n    citations: [call_1]\n    confidence: 0.9\n    \
usage: { prompt_tokens: 1300, completion_tokens: 12 }\n",
    )
    .unwrap();
}

#[test]
fn an_mcp_source_declared_in_the_config_is_listed_and_reached_by_a_recorded_run() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    mcp_deployment(dir);

    let list = contextos_in(dir, &["tools", "list", "--config", "contextos.toml"]);
    ok(&list);
    assert!(list.stdout.contains("MCP server \"everything\""), "{}", list.stdout);
    assert!(
        list.stdout.lines().any(|l| l.trim_start().starts_with("echo ")),
        "{}",
        list.stdout
    );
    assert!(
        list.stderr
            .contains("using config contextos.toml: sources everything.yaml"),
        "{}",
        list.stderr
    );

    // The same source declared and given: an error naming both places.
    let twice = contextos_in(
        dir,
        &[
            "tools",
            "list",
            "--config",
            "contextos.toml",
            "--server",
            "everything.yaml",
        ],
    );
    assert_eq!(twice.code, 2, "{}", twice.stderr);
    for part in [
        "is given twice",
        "[sources] mcp of contextos.toml",
        "--server everything.yaml",
    ] {
        assert!(twice.stderr.contains(part), "{part}: {}", twice.stderr);
    }

    // check-drift compares the declared source with the config's contracts.
    let drift = contextos_in(dir, &["tools", "check-drift", "--config", "contextos.toml"]);
    ok(&drift);
    assert!(
        drift.stdout.contains("MCP server \"everything\" against tools:"),
        "{}",
        drift.stdout
    );
    assert!(drift.stdout.contains("  ok        echo"), "{}", drift.stdout);

    // A recorded run reaches the declared server with no --mcp.
    let record = contextos_in(
        dir,
        &[
            "run",
            "request.yaml",
            "--config",
            "contextos.toml",
            "--script",
            "script.yaml",
            "--record",
            "fx",
        ],
    );
    ok(&record);
    assert!(
        record.stderr.contains("recorded 2 model and 1 tool interactions"),
        "{}",
        record.stderr
    );
    let tools: Vec<_> = fs::read_dir(dir.join("fx/tools"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(tools.len(), 1, "{tools:?}");
    assert!(fs::read_to_string(&tools[0]).unwrap().contains("Echo: hello"));

    let twice = contextos_in(
        dir,
        &[
            "run",
            "request.yaml",
            "--config",
            "contextos.toml",
            "--script",
            "script.yaml",
            "--record",
            "fx2",
            "--mcp",
            "./everything.yaml",
        ],
    );
    assert_eq!(twice.code, 2, "{}", twice.stderr);
    assert!(twice.stderr.contains("by --mcp ./everything.yaml"), "{}", twice.stderr);
}
