//! `contextos run | replay | diff | verify | show` through the real binary,
//! on the bundled example's recorded fixtures.

use std::fs;
use std::path::Path;
use std::time::Duration;

mod common;
use common::{Run, command_in, repo, run};

const REQUEST: &str = "runtime/examples/escalation/request.yaml";

/// `contextos ARGS --store STORE` in the repository.
fn contextos(store: &Path, args: &[&str]) -> Run {
    run(command_in(&repo()).args(args).arg("--store").arg(store))
}

#[test]
fn run_prints_the_operator_view_and_stores_a_verifiable_run() {
    let store = tempfile::tempdir().unwrap();
    let r = contextos(store.path(), &["run", REQUEST]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    insta::with_settings!({ filters => vec![(r"sha256:[0-9a-f]{12,64}", "sha256:[digest]"), (r"rp_[0-9a-f]{16}", "rp_[id]")] }, {
        insta::assert_snapshot!(r.stdout);
    });
    let v = contextos(store.path(), &["verify"]);
    assert_eq!(v.code, 0, "{}\n{}", v.stdout, v.stderr);
    assert!(v.stdout.contains("1 runs"), "{}", v.stdout);
    let again = contextos(store.path(), &["run", REQUEST]);
    assert!(
        again.stdout.contains("already stored: identical re-run"),
        "{}",
        again.stdout
    );
}

#[test]
fn flipping_a_byte_of_the_stored_packet_makes_verify_exit_3() {
    let store = tempfile::tempdir().unwrap();
    let r = contextos(store.path(), &["run", REQUEST, "--format", "json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let out: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let hex = out["packet"]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:")
        .to_string();
    let path = store.path().join("objects").join(&hex[..2]).join(&hex);
    let mut bytes = fs::read(&path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    fs::write(&path, bytes).unwrap();
    let v = contextos(store.path(), &["verify"]);
    assert_eq!(v.code, 3, "{}\n{}", v.stdout, v.stderr);
    assert!(v.stderr.contains(&hex), "the message names the object: {}", v.stderr);
}

#[test]
fn missing_model_fixture_exits_4_naming_the_nearest_recording() {
    let store = tempfile::tempdir().unwrap();
    let fixtures = tempfile::tempdir().unwrap();
    let src = repo().join("runtime/examples/escalation/fixtures");
    for sub in ["model", "tools"] {
        fs::create_dir_all(fixtures.path().join(sub)).unwrap();
        for e in fs::read_dir(src.join(sub)).unwrap() {
            let e = e.unwrap();
            fs::copy(e.path(), fixtures.path().join(sub).join(e.file_name())).unwrap();
        }
    }
    fs::copy(src.join("approvals.yaml"), fixtures.path().join("approvals.yaml")).unwrap();
    let third = fs::read_dir(fixtures.path().join("model"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with("003-"))
        .unwrap();
    fs::remove_file(third).unwrap();
    let r = contextos(
        store.path(),
        &["run", REQUEST, "--fixtures", fixtures.path().to_str().unwrap()],
    );
    assert_eq!(r.code, 4, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("no recorded model interaction"), "{}", r.stderr);
    assert!(
        r.stderr.contains("nearest recorded") && r.stderr.contains("002-"),
        "{}",
        r.stderr
    );
}

#[test]
fn invalid_request_exits_2_naming_the_field() {
    let store = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let text = fs::read_to_string(repo().join(REQUEST))
        .unwrap()
        .replace("safety_mode: standard", "safety_mode: reckless");
    let path = dir.path().join("request.yaml");
    fs::write(&path, text).unwrap();
    let r = contextos(
        store.path(),
        &[
            "run",
            path.to_str().unwrap(),
            "--fixtures",
            "runtime/examples/escalation/fixtures",
        ],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("reckless"), "{}", r.stderr);
    assert!(r.stderr.contains("request.yaml:"), "{}", r.stderr);
}

#[test]
fn replay_is_identical_and_what_if_replay_shows_the_change() {
    let store = tempfile::tempdir().unwrap();
    assert_eq!(contextos(store.path(), &["run", REQUEST]).code, 0);
    let same = contextos(store.path(), &["replay", "run_escalation_4411"]);
    assert_eq!(same.code, 0, "{}", same.stderr);
    assert!(same.stdout.contains("byte-identical"), "{}", same.stdout);

    let policies = tempfile::tempdir().unwrap();
    for e in fs::read_dir(repo().join("policies")).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_file() {
            fs::copy(e.path(), policies.path().join(e.file_name())).unwrap();
        }
    }
    fs::write(
        policies.path().join("zz-freeze.cedar"),
        "@id(\"x.refund-freeze\")\nforbid (principal, action == ContextOS::Action::\"issue_refund\", resource == ContextOS::Tool::\"issue_refund\");\n",
    )
    .unwrap();
    let p = policies.path().to_str().unwrap();
    let what_if = contextos(
        store.path(),
        &["replay", "run_escalation_4411", "--policies", p, "--fail-on-change"],
    );
    // The frozen refund makes the run ask for a fifth model response the
    // recording does not have: incomplete (exit 4), not a plain change.
    assert_eq!(what_if.code, 4, "{}\n{}", what_if.stdout, what_if.stderr);
    assert!(what_if.stdout.contains("issue_refund"), "{}", what_if.stdout);
    assert!(what_if.stdout.contains("newly_denied"), "{}", what_if.stdout);
    let replay_id = what_if
        .stdout
        .lines()
        .next()
        .unwrap()
        .rsplit(' ')
        .next()
        .unwrap()
        .to_string();
    let diff = contextos(store.path(), &["diff", "run_escalation_4411", &replay_id]);
    assert_eq!(diff.code, 0, "{}", diff.stderr);
    assert!(diff.stdout.contains("newly_denied"), "{}", diff.stdout);
    let show = contextos(store.path(), &["show", &replay_id]);
    assert_eq!(show.code, 0, "{}", show.stderr);
    assert!(show.stdout.contains("issue_refund"), "{}", show.stdout);
    assert_eq!(contextos(store.path(), &["verify"]).code, 0);
}

/// A run killed with SIGKILL at any point leaves a store that verifies, and
/// every run it lists is complete.
#[test]
fn sigkill_mid_run_leaves_a_store_that_verifies() {
    let store = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let template = fs::read_to_string(repo().join(REQUEST)).unwrap();
    let fixtures = repo().join("runtime/examples/escalation/fixtures");
    let bin = assert_cmd::cargo::cargo_bin("contextos");
    // Kill points spread from process start to the end of persisting.
    for (i, delay_ms) in [5u64, 40, 80, 120, 160, 200, 240, 300, 400, 600].iter().enumerate() {
        let request = dir.path().join(format!("r{i}.yaml"));
        fs::write(&request, &template).unwrap();
        let mut child = std::process::Command::new(&bin)
            .current_dir(repo())
            .args([
                "run",
                request.to_str().unwrap(),
                "--fixtures",
                fixtures.to_str().unwrap(),
                "--store",
            ])
            .arg(store.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(*delay_ms));
        let _ = child.kill(); // SIGKILL on unix
        let _ = child.wait();
        let v = contextos(store.path(), &["verify"]);
        assert_eq!(v.code, 0, "after a kill at {delay_ms} ms:\n{}\n{}", v.stdout, v.stderr);
    }
    // The store still takes the run to completion afterwards.
    let r = contextos(store.path(), &["run", REQUEST]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(contextos(store.path(), &["verify"]).code, 0);
}
