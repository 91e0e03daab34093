//! The run store under concurrency and crashes, through the real binary:
//! concurrent `run`s take turns, `verify` during runs sees whole runs only,
//! a run interrupted after its evidence re-runs without duplicating it, and
//! a closed stdout ends a command quietly.

#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;

mod common;
use common::{Run, command_in, repo, run};

const REQUEST: &str = "runtime/examples/escalation/request.yaml";
const FIXTURES: &str = "runtime/examples/escalation/fixtures";

/// `contextos ARGS --store STORE` in the repository.
fn contextos(store: &Path, args: &[&str]) -> Run {
    run(command_in(&repo()).args(args).arg("--store").arg(store))
}

/// The bundled request under run id `run_id`, written into `dir`.
fn request_with_run_id(dir: &Path, run_id: &str) -> PathBuf {
    let text = fs::read_to_string(repo().join(REQUEST)).unwrap();
    let changed = text.replace("run_id: run_escalation_4411", &format!("run_id: {run_id}"));
    assert_ne!(changed, text, "the bundled request names its run id");
    let path = dir.join(format!("{run_id}.yaml"));
    fs::write(&path, changed).unwrap();
    path
}

/// `contextos run REQUEST` on the bundled fixtures into `store`.
fn run_request(store: &Path, request: &Path) -> Run {
    let fixtures = repo().join(FIXTURES);
    let args = [
        "run",
        request.to_str().unwrap(),
        "--fixtures",
        fixtures.to_str().unwrap(),
    ];
    contextos(store, &args)
}

#[test]
fn four_concurrent_runs_on_one_store_all_succeed_and_verify() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let requests: Vec<PathBuf> = (1..=4)
        .map(|n| request_with_run_id(dir.path(), &format!("run_concurrent_{n}")))
        .collect();
    let runs: Vec<Run> = thread::scope(|scope| {
        let handles: Vec<_> = requests
            .iter()
            .map(|request| scope.spawn(|| run_request(&store, request)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for r in &runs {
        assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    }
    let v = contextos(&store, &["verify"]);
    assert_eq!(v.code, 0, "{}\n{}", v.stdout, v.stderr);
    assert!(v.stdout.contains(" 4 runs, 20 evidence entries"), "{}", v.stdout);
    assert!(!v.stdout.contains("leftover"), "{}", v.stdout);
    assert!(!v.stderr.contains("warning"), "{}", v.stderr);
}

#[test]
fn verify_while_runs_write_never_reports_a_problem_or_a_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let requests: Vec<PathBuf> = (1..=6)
        .map(|n| request_with_run_id(dir.path(), &format!("run_during_verify_{n}")))
        .collect();
    // The store exists before the first verify.
    assert_eq!(run_request(&store, &requests[0]).code, 0);
    let verifies: Vec<Run> = thread::scope(|scope| {
        let writer = scope.spawn(|| {
            for request in &requests[1..] {
                let r = run_request(&store, request);
                assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
            }
        });
        let mut verifies = Vec::new();
        while !writer.is_finished() {
            verifies.push(contextos(&store, &["verify"]));
        }
        writer.join().unwrap();
        verifies
    });
    assert!(!verifies.is_empty());
    for v in &verifies {
        assert_eq!(v.code, 0, "{}\n{}", v.stdout, v.stderr);
        assert!(!v.stderr.contains("warning"), "{}", v.stderr);
    }
    let last = contextos(&store, &["verify"]);
    assert!(last.stdout.contains(" 6 runs, 30 evidence entries"), "{}", last.stdout);
}

#[test]
fn a_run_interrupted_after_its_evidence_reruns_without_duplicate_entries() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let request = request_with_run_id(dir.path(), "run_interrupted");
    assert_eq!(run_request(&store, &request).code, 0);
    let before = contextos(&store, &["verify"]);
    assert!(
        before.stdout.contains(" 1 runs, 5 evidence entries"),
        "{}",
        before.stdout
    );
    // What a kill between the last evidence append and the run index entry
    // leaves: the evidence, no index entry.
    fs::remove_file(store.join("runs/run_interrupted.json")).unwrap();
    let missing = contextos(&store, &["verify"]);
    assert!(
        missing.stdout.contains(" 0 runs, 5 evidence entries"),
        "{}",
        missing.stdout
    );

    let again = run_request(&store, &request);
    assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);
    let after = contextos(&store, &["verify"]);
    assert_eq!(after.code, 0, "{}\n{}", after.stdout, after.stderr);
    assert!(after.stdout.contains(" 1 runs, 5 evidence entries"), "{}", after.stdout);
}

#[test]
fn an_unacknowledged_evidence_tail_warns_exits_0_and_the_next_run_repairs_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let first = request_with_run_id(dir.path(), "run_before_crash");
    assert_eq!(run_request(&store, &first).code, 0);
    // A writer killed after syncing a line but before replacing the head
    // file: the log holds a line the head does not count, and a torn one.
    let log = store.join("evidence.log");
    let text = fs::read_to_string(&log).unwrap();
    let head = fs::read_to_string(store.join("evidence.log.head")).unwrap();
    let digest_of_line = |n: usize| {
        let entry: serde_json::Value = serde_json::from_str(text.lines().nth(n).unwrap()).unwrap();
        entry["entry_digest"].to_string()
    };
    let earlier_head = head
        .replace("\"entries\":5", "\"entries\":4")
        .replace(&digest_of_line(4), &digest_of_line(3));
    assert_ne!(earlier_head, head);
    fs::write(store.join("evidence.log.head"), earlier_head).unwrap();
    let v = contextos(&store, &["verify"]);
    assert_eq!(v.code, 0, "a crash is not tampering: {}\n{}", v.stdout, v.stderr);
    assert!(
        v.stderr
            .contains("warning: evidence.log: holds 5 entries but its head file acknowledges only 4"),
        "{}",
        v.stderr
    );

    let second = request_with_run_id(dir.path(), "run_after_crash");
    assert_eq!(run_request(&store, &second).code, 0);
    let repaired = contextos(&store, &["verify"]);
    assert_eq!(repaired.code, 0, "{}\n{}", repaired.stdout, repaired.stderr);
    assert!(!repaired.stderr.contains("warning"), "{}", repaired.stderr);
    assert!(
        repaired.stdout.contains(" 2 runs, 10 evidence entries"),
        "{}",
        repaired.stdout
    );
}

#[test]
fn a_closed_stdout_ends_the_command_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let request = request_with_run_id(dir.path(), "run_piped");
    assert_eq!(run_request(&store, &request).code, 0);
    // A reader that went away before the first line: every write is EPIPE.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = Command::new(assert_cmd::cargo::cargo_bin("contextos"))
        .current_dir(repo())
        .args(["verify", "--store", store.to_str().unwrap()])
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
