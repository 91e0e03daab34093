//! `contextos tools …` through the real binary against the real
//! `server-everything` pinned in `tests/peers` (installed by `cargo xtask test`).

#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use std::fs;

mod common;
use common::{contextos_in, repo};

/// A scratch directory with `everything.yaml`, a spec for the pinned server-everything.
fn scratch() -> tempfile::TempDir {
    let entry = repo().join("tests/peers/node_modules/@modelcontextprotocol/server-everything/dist/index.js");
    assert!(
        entry.is_file(),
        "{} is missing: the MCP peer servers are not installed; run `cargo xtask test` (it installs tests/peers)",
        entry.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let spec = format!(
        "name: everything\ncommand: node\nargs: [{:?}]\n",
        entry.canonicalize().unwrap().display().to_string()
    );
    fs::write(dir.path().join("everything.yaml"), spec).unwrap();
    dir
}

#[test]
fn list_shows_modes_hints_and_digests() {
    let dir = scratch();
    let run = contextos_in(dir.path(), &["tools", "list", "--server", "everything.yaml"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let echo = run
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("echo "))
        .unwrap();
    assert!(echo.contains("read_only") && echo.contains("readOnly=true"), "{echo}");
    assert!(echo.contains("sha256:"), "{echo}");
}

#[test]
fn check_drift_exits_1_on_drift_and_pin_refuses_to_overwrite() {
    let dir = scratch();
    let pin = contextos_in(
        dir.path(),
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
    );
    assert_eq!(pin.code, 0, "{}", pin.stderr);
    assert!(
        pin.stdout.contains("pinned echo -> tools/echo.yaml (read_only"),
        "{}",
        pin.stdout
    );

    let check = [
        "tools",
        "check-drift",
        "--server",
        "everything.yaml",
        "--tools",
        "tools",
    ];
    let clean = contextos_in(dir.path(), &check);
    assert_eq!(clean.code, 0, "{}{}", clean.stdout, clean.stderr);
    assert!(clean.stdout.contains("ok        echo"), "{}", clean.stdout);

    let file = dir.path().join("tools/echo.yaml");
    let pinned = fs::read_to_string(&file).unwrap();
    fs::write(&file, pinned.replace("Message to echo", "A changed description")).unwrap();
    let drifted = contextos_in(dir.path(), &check);
    assert_eq!(drifted.code, 1, "{}{}", drifted.stdout, drifted.stderr);
    assert!(
        drifted.stdout.contains("drift     echo") && drifted.stdout.contains("/properties/message/description"),
        "{}",
        drifted.stdout
    );

    let again = contextos_in(
        dir.path(),
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
    );
    assert_eq!(again.code, 2, "{}", again.stdout);
    assert!(again.stderr.contains("refusing to overwrite"), "{}", again.stderr);
}
