//! `contextos run --script S --mcp SPEC --record FX` against the real
//! `server-everything` pinned in `tests/peers` (installed by `cargo xtask
//! test`), then `contextos run --fixtures FX` with no server: the replayed
//! packet is byte-identical to the recorded one.

#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;

mod common;
use common::{Run, contextos_in, repo};

/// A deployment whose only tool is server-everything's `echo`, pinned from the server.
fn deployment(dir: &Path) {
    let entry = repo().join("tests/peers/node_modules/@modelcontextprotocol/server-everything/dist/index.js");
    assert!(
        entry.is_file(),
        "{} is missing: the MCP peer servers are not installed; run `cargo xtask test` (it installs tests/peers)",
        entry.display()
    );
    fs::write(
        dir.join("everything.yaml"),
        format!(
            "name: everything\ncommand: node\nargs: [{:?}]\n",
            entry.display().to_string()
        ),
    )
    .unwrap();
    let pin = contextos_in(
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
    );
    assert_eq!(pin.code, 0, "{}", pin.stderr);

    let runtime = repo().join("runtime");
    let config = fs::read_to_string(runtime.join("contextos.toml")).unwrap();
    let abs = |p: PathBuf| format!("{:?}", p.display().to_string());
    let config = config
        .replace(
            r#"packs = ["packs/support_escalation-18.pack.json"]"#,
            &format!(
                "packs = [{}]",
                abs(runtime.join("packs/support_escalation-18.pack.json"))
            ),
        )
        .replace(
            r#"policies = "../policies""#,
            &format!("policies = {}", abs(repo().join("policies"))),
        )
        .replace(r#"tools = "tools""#, &format!("tools = {}", abs(dir.join("tools"))))
        .replace(r#"keys = "keys""#, &format!("keys = {}", abs(runtime.join("keys"))))
        .replace(
            r#"signing_key = "keys/dev.key""#,
            &format!("signing_key = {}", abs(runtime.join("keys/dev.key"))),
        )
        .replace(
            r#"store = "../.contextos""#,
            &format!("store = {}", abs(dir.join("store"))),
        );
    assert!(!config.contains("\"../") && !config.contains("\"keys/"), "{config}");
    fs::write(dir.join("contextos.toml"), config).unwrap();

    let request = fs::read_to_string(runtime.join("examples/escalation/request.yaml"))
        .unwrap()
        .replace("run_id: run_escalation_4411", "run_id: run_mcp_echo_record");
    fs::write(dir.join("request.yaml"), request).unwrap();
    fs::write(
        dir.join("script.yaml"),
        "format_version: 1\n\
model:\n  \
  - tool_calls:\n      \
      - { id: call_1, name: echo, arguments: { message: hello } }\n    \
    usage: { prompt_tokens: 1200, completion_tokens: 20 }\n  \
  - content: The echo server answered hello.\n    \
    citations: [call_1]\n    \
    confidence: 0.9\n    \
    usage: { prompt_tokens: 1300, completion_tokens: 12 }\n",
    )
    .unwrap();
}

fn json(run: &Run) -> Value {
    serde_json::from_str(&run.stdout).unwrap()
}

#[test]
fn record_from_a_real_mcp_server_then_replay_offline_byte_identical() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().canonicalize().unwrap();
    deployment(&dir);

    let record = contextos_in(
        &dir,
        &[
            "run",
            "request.yaml",
            "--config",
            "contextos.toml",
            "--script",
            "script.yaml",
            "--mcp",
            "everything.yaml",
            "--record",
            "fx",
            "--store",
            "st",
            "--format",
            "json",
        ],
    );
    assert_eq!(record.code, 0, "{}{}", record.stdout, record.stderr);
    assert!(
        record.stderr.contains("recorded 2 model and 1 tool interactions"),
        "{}",
        record.stderr
    );
    let recorded = json(&record);
    assert!(
        recorded["packet"].as_str().unwrap().starts_with("sha256:"),
        "{recorded}"
    );
    let usage = &recorded["decision_record"]["usage"];
    assert_eq!(usage["tool_calls"], 1, "{recorded}");
    let tools: Vec<PathBuf> = fs::read_dir(dir.join("fx/tools"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(tools.len(), 1, "{tools:?}");
    let name = tools[0].file_name().unwrap().to_string_lossy().to_string();
    assert!(name.starts_with("001-echo-"), "{name}");
    let pair = fs::read_to_string(&tools[0]).unwrap();
    assert!(pair.contains("Echo: hello"), "{pair}");

    // The operator view of the stored run shows echo executed.
    let show = contextos_in(
        &dir,
        &[
            "show",
            "run_mcp_echo_record",
            "--config",
            "contextos.toml",
            "--store",
            "st",
        ],
    );
    assert_eq!(show.code, 0, "{}", show.stderr);
    let line = show.stdout.lines().find(|l| l.contains(" echo ")).unwrap();
    assert!(line.contains("executed"), "{}", show.stdout);

    // Offline: no server, the recorded fixtures answer, and the packet is the same bytes.
    let replay = contextos_in(
        &dir,
        &[
            "run",
            "request.yaml",
            "--config",
            "contextos.toml",
            "--fixtures",
            "fx",
            "--store",
            "st2",
            "--format",
            "json",
        ],
    );
    assert_eq!(replay.code, 0, "{}{}", replay.stdout, replay.stderr);
    let replayed = json(&replay);
    assert_eq!(replayed["packet"], recorded["packet"], "{recorded}\n{replayed}");
    assert_eq!(replayed["record"], recorded["record"]);
}
