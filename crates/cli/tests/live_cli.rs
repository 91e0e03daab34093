//! Recording runs against real peers, then replaying them offline:
//! `contextos run --script S --mcp SPEC --record FX` against the real
//! `server-everything` pinned in `tests/peers` (installed by `cargo xtask
//! test`) over stdio, and `contextos run --live` with a loopback model server
//! that speaks chat completions and server-everything over streamable HTTP.
//! `contextos run --fixtures FX` then runs with no server and no key, and the
//! packet is byte-identical; no credential appears in anything written.

#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use std::fs;
use std::path::{Path, PathBuf};

use contextos_testkit::peers::{self, HttpEverything};
use serde_json::{Value, json};

mod common;
use common::{Run, command_in, completion, contextos_in, model_server, repo, run};

/// A deployment whose only tool is server-everything's `echo`, pinned from
/// the server of `spec` (a spec file in `dir`; stdio by default).
fn deployment(dir: &Path, spec: Option<&str>) {
    fs::write(
        dir.join("everything.yaml"),
        format!(
            "name: everything\ncommand: node\nargs: [{:?}]\n",
            peers::entry("server-everything").display().to_string()
        ),
    )
    .unwrap();
    let pin = contextos_in(
        dir,
        &[
            "tools",
            "pin",
            "--server",
            spec.unwrap_or("everything.yaml"),
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
        )
        .replace(
            r#"entities = "entities.yaml""#,
            &format!("entities = {}", abs(runtime.join("entities.yaml"))),
        );
    assert!(!config.contains("\"../") && !config.contains("\"keys/"), "{config}");
    // The shipped policies name the shipped tools (refund rules): the
    // deployment carries them beside the pinned MCP tool.
    for entry in fs::read_dir(runtime.join("tools")).unwrap() {
        let entry = entry.unwrap();
        fs::copy(entry.path(), dir.join("tools").join(entry.file_name())).unwrap();
    }
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

/// `contextos run request.yaml --config contextos.toml EXTRA...` in `dir`,
/// with each variable of `env` set (`Some`) or removed (`None`).
fn run_request(dir: &Path, env: &[(&str, Option<&str>)], extra: &[&str]) -> Run {
    let mut cmd = command_in(dir);
    for (name, value) in env {
        match value {
            Some(value) => cmd.env(name, value),
            None => cmd.env_remove(name),
        };
    }
    run(cmd
        .args(["run", "request.yaml", "--config", "contextos.toml"])
        .args(extra))
}

fn json(run: &Run) -> Value {
    serde_json::from_str(&run.stdout).unwrap()
}

#[test]
fn record_from_a_real_mcp_server_then_replay_offline_byte_identical() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().canonicalize().unwrap();
    deployment(&dir, None);

    let record = run_request(
        &dir,
        &[],
        &[
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
    let replay = run_request(&dir, &[], &["--fixtures", "fx", "--store", "st2", "--format", "json"]);
    assert_eq!(replay.code, 0, "{}{}", replay.stdout, replay.stderr);
    let replayed = json(&replay);
    assert_eq!(replayed["packet"], recorded["packet"], "{recorded}\n{replayed}");
    assert_eq!(replayed["record"], recorded["record"]);
}

/// Every file under `dir`, as text (lossy).
fn all_files(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(all_files(&path));
        } else {
            out.push((
                path.clone(),
                String::from_utf8_lossy(&fs::read(&path).unwrap()).into_owned(),
            ));
        }
    }
    out
}

const MODEL_KEY: &str = "sk-loopback-key-0123456789abcdef";
const MCP_TOKEN: &str = "mcp-token-fedcba9876543210";

#[test]
fn live_model_and_http_mcp_record_then_replay_offline_with_no_secret_anywhere() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().canonicalize().unwrap();
    let everything = HttpEverything::start();
    fs::write(
        dir.join("everything-http.yaml"),
        format!(
            "name: everything\nurl: {}\nbearer_token_env: EVERYTHING_TOKEN\n",
            everything.url
        ),
    )
    .unwrap();
    // Listing over HTTP needs the token too, and says which variable is missing.
    let unset = contextos_in(&dir, &["tools", "list", "--server", "everything-http.yaml"]);
    assert_eq!(unset.code, 2, "{}", unset.stderr);
    assert!(unset.stderr.contains("EVERYTHING_TOKEN"), "{}", unset.stderr);
    let list = run(command_in(&dir).env("EVERYTHING_TOKEN", MCP_TOKEN).args([
        "tools",
        "list",
        "--server",
        "everything-http.yaml",
    ]));
    assert_eq!(list.code, 0, "{}", list.stderr);
    assert!(list.stdout.contains("echo"), "{}", list.stdout);
    deployment(&dir, None);

    let (url, model) = model_server(vec![
        completion(
            json!({ "role": "assistant", "content": null, "tool_calls": [{
                "id": "call_1", "type": "function",
                "function": { "name": "echo", "arguments": "{\"message\":\"hello\"}" }
            }]}),
            1200,
        ),
        completion(
            json!({ "role": "assistant", "content": json!({
                "answer": "The echo server answered hello.", "citations": ["call_1"], "confidence": 0.9
            }).to_string() }),
            1300,
        ),
    ]);
    let live = run_request(
        &dir,
        &[
            ("OPENAI_API_KEY", Some(MODEL_KEY)),
            ("EVERYTHING_TOKEN", Some(MCP_TOKEN)),
        ],
        &[
            "--live",
            "--model-url",
            &url,
            "--mcp",
            "everything-http.yaml",
            "--record",
            "fx",
            "--store",
            "st",
            "--format",
            "json",
        ],
    );
    assert_eq!(live.code, 0, "{}{}", live.stdout, live.stderr);
    assert!(
        live.stderr.contains("recorded 2 model and 1 tool interactions"),
        "{}",
        live.stderr
    );
    let received = model.join().unwrap();
    assert_eq!(received.len(), 2);
    for (auth, body) in &received {
        assert_eq!(auth.as_deref(), Some(format!("Bearer {MODEL_KEY}").as_str()));
        assert_eq!(body["model"], "gpt-4.1-mini");
        assert_eq!(body["tools"][0]["function"]["name"], "echo");
    }
    let messages = received[1].1["messages"].as_array().unwrap();
    let tool = messages.iter().find(|m| m["role"] == "tool").unwrap();
    assert_eq!(tool["tool_call_id"], "call_1");
    assert!(tool["content"].as_str().unwrap().contains("Echo: hello"), "{tool}");
    let recorded = json(&live);
    assert_eq!(recorded["decision_record"]["usage"]["tool_calls"], 1, "{recorded}");
    assert_eq!(recorded["decision_record"]["answer"], "The echo server answered hello.");

    // Offline: no model server, no MCP server, no key; the same packet.
    drop(everything);
    let replay = run_request(&dir, &[], &["--fixtures", "fx", "--store", "st2", "--format", "json"]);
    assert_eq!(replay.code, 0, "{}{}", replay.stdout, replay.stderr);
    assert_eq!(json(&replay)["packet"], recorded["packet"]);

    // No credential in anything written or printed.
    let mut scanned = 0;
    for (path, text) in all_files(&dir) {
        for secret in [MODEL_KEY, MCP_TOKEN] {
            assert!(!text.contains(secret), "{} holds a credential", path.display());
        }
        scanned += 1;
    }
    assert!(
        scanned >= 8,
        "the scan saw the fixtures and both stores ({scanned} files)"
    );
    for out in [&live.stdout, &live.stderr, &replay.stdout, &replay.stderr] {
        assert!(!out.contains(MODEL_KEY) && !out.contains(MCP_TOKEN));
    }
}

#[test]
fn live_without_a_key_or_a_model_says_what_to_set() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().canonicalize().unwrap();
    deployment(&dir, None);
    let no_model = run_request(&dir, &[], &["--live"]);
    assert_eq!(no_model.code, 2, "{}", no_model.stderr);
    assert!(no_model.stderr.contains("[model.live]"), "{}", no_model.stderr);
    let no_key = run_request(
        &dir,
        &[("OPENAI_API_KEY", None)],
        &["--live", "--model-url", "http://127.0.0.1:9/v1"],
    );
    assert_eq!(no_key.code, 2, "{}", no_key.stderr);
    assert!(no_key.stderr.contains("OPENAI_API_KEY"), "{}", no_key.stderr);
    let stray = run_request(&dir, &[], &["--mcp", "everything.yaml"]);
    assert_eq!(stray.code, 2, "{}", stray.stderr);
    assert!(stray.stderr.contains("need --script or --live"), "{}", stray.stderr);
}

#[test]
fn a_live_run_that_fails_still_writes_what_it_recorded() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().canonicalize().unwrap();
    deployment(&dir, None);
    let (url, model) = model_server(vec![
        completion(
            json!({ "role": "assistant", "content": null, "tool_calls": [{
                "id": "call_1", "type": "function",
                "function": { "name": "echo", "arguments": "{\"message\":\"hello\"}" }
            }]}),
            1200,
        ),
        json!({ "error": { "message": "context_length_exceeded", "type": "invalid_request_error" } }),
    ]);
    let live = run_request(
        &dir,
        &[("OPENAI_API_KEY", Some(MODEL_KEY))],
        &[
            "--live",
            "--model-url",
            &url,
            "--mcp",
            "everything.yaml",
            "--record",
            "fx",
            "--store",
            "st",
        ],
    );
    assert_eq!(model.join().unwrap().len(), 2);
    assert_eq!(live.code, 2, "{}{}", live.stdout, live.stderr);
    assert!(live.stderr.contains("context_length_exceeded"), "{}", live.stderr);
    assert!(
        live.stderr
            .contains("recorded 1 model and 1 tool interactions to fx before the run failed"),
        "{}",
        live.stderr
    );
    let count = |sub: &str| fs::read_dir(dir.join("fx").join(sub)).unwrap().count();
    assert_eq!((count("model"), count("tools")), (1, 1));
    assert!(!live.stderr.contains(MODEL_KEY));
}

/// A tool the MCP server offers but the deployment has not pinned is never
/// offered to the model; a call to it is refused before any effect, and
/// `run` says which server offers it and how to pin it; `show` lists it too.
#[test]
fn a_call_to_an_unpinned_mcp_tool_is_refused_and_shown() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().canonicalize().unwrap();
    deployment(&dir, None);
    fs::write(
        dir.join("script.yaml"),
        "format_version: 1\n\
model:\n  \
  - tool_calls:\n      \
      - { id: call_1, name: get-sum, arguments: { a: 1, b: 2 } }\n    \
    usage: { prompt_tokens: 1200, completion_tokens: 20 }\n  \
  - content: The sum tool is not available to me.\n    \
    confidence: 0.9\n    \
    usage: { prompt_tokens: 1300, completion_tokens: 12 }\n",
    )
    .unwrap();
    let args = [
        "--script",
        "script.yaml",
        "--mcp",
        "everything.yaml",
        "--record",
        "fx",
        "--store",
        "st",
    ];
    let r = run_request(&dir, &[], &args);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains(
            "refused tool calls\n  call_1   tool get-sum is offered by MCP server \"everything\" but not pinned \
             (contextos tools pin): refused before any effect\n"
        ),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains(" get-sum  "), "never executed: {}", r.stdout);
    let json = json(&run_request(&dir, &[], &[&args[..], &["--format", "json"]].concat()));
    assert_eq!(json["refused"][0]["tool"], "get-sum", "{json}");
    assert_eq!(json["decision_record"]["usage"]["tool_calls"], 0, "{json}");

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
    assert!(
        show.stdout
            .contains("  call_1   tool get-sum has no pinned contract: refused before any effect\n"),
        "{}",
        show.stdout
    );
}

/// `tools list` marks each served tool pinned or unpinned against the
/// deployment's contracts and warns that runs refuse the unpinned ones.
#[test]
fn tools_list_marks_unpinned_tools_and_warns_that_runs_refuse_them() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().canonicalize().unwrap();
    deployment(&dir, None);
    let list = contextos_in(
        &dir,
        &["tools", "list", "--server", "everything.yaml", "--tools", "tools"],
    );
    assert_eq!(list.code, 0, "{}", list.stderr);
    let line = list
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("get-sum "))
        .unwrap();
    assert!(line.ends_with("  UNPINNED"), "{line}");
    let echo = list
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("echo "))
        .unwrap();
    assert!(echo.ends_with("  pinned"), "{echo}");
    assert!(
        list.stderr.contains("warning: 12 of 13 tools of MCP server \"everything\" have no pinned contract in tools: a run refuses them until they are pinned"),
        "{}",
        list.stderr
    );
    assert!(list.stderr.contains("get-sum"), "{}", list.stderr);
    let listed = contextos_in(
        &dir,
        &[
            "tools",
            "list",
            "--server",
            "everything.yaml",
            "--tools",
            "tools",
            "--format",
            "json",
        ],
    );
    let listed: Value = serde_json::from_str(&listed.stdout).unwrap();
    let pinned = |name: &str| {
        listed["tools"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == name)
            .map(|t| t["pinned"].clone())
    };
    assert_eq!(pinned("echo"), Some(json!(true)), "{listed}");
    assert_eq!(pinned("get-sum"), Some(json!(false)), "{listed}");
}
