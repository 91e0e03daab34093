//! Helpers shared by the CLI integration tests: where the repository is, and
//! running the real `contextos` binary.
#![allow(dead_code, reason = "each test binary uses a different subset of the helpers")]
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;

use assert_cmd::Command;
use serde_json::{Value, json};

/// The repository root (canonical).
pub(crate) fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// What a finished `contextos` process left.
#[derive(Debug)]
pub(crate) struct Run {
    /// Exit code.
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

/// The `contextos` binary, working in `dir`.
pub(crate) fn command_in(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("contextos").unwrap();
    cmd.current_dir(dir);
    cmd
}

/// Runs `cmd` to completion.
pub(crate) fn run(cmd: &mut Command) -> Run {
    let out = cmd.output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

/// Runs `contextos ARGS` in `dir`.
pub(crate) fn contextos_in(dir: &Path, args: &[&str]) -> Run {
    run(command_in(dir).args(args))
}

/// A scratch copy of everything the bundled suite and example run on.
pub(crate) fn scratch_project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for sub in ["runtime", "policies", "scenarios", "goldens"] {
        copy_dir(&repo().join(sub), &dir.path().join(sub));
    }
    dir
}

/// Every file under `dir` (following directories), relative, with its bytes, sorted.
pub(crate) fn files_under(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                out.push((
                    path.strip_prefix(root).unwrap().to_path_buf(),
                    std::fs::read(&path).unwrap(),
                ));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// Whether `stderr` says `needle` once miette's wrapping (line breaks, gutters,
/// indentation) is taken out of both.
pub(crate) fn says(stderr: &str, needle: &str) -> bool {
    let flat = |t: &str| {
        t.chars()
            .filter(|c| !c.is_whitespace() && *c != '│')
            .collect::<String>()
    };
    flat(stderr).contains(&flat(needle))
}

/// Copies the directory tree `from` to `to`.
pub(crate) fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &to.join(entry.file_name()));
        } else {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

/// Writes `dir/<name>`: the shipped deployment configuration with each
/// path absolute into the repository's `runtime/` (policies, tools, keys,
/// signing key, entities, packs) except those `overrides` give (a `[paths]`
/// key and the value written, relative to `dir`); the store is `dir/store`
/// unless overridden. Returns the file's path.
pub(crate) fn deployment_config(dir: &Path, name: &str, overrides: &[(&str, &str)]) -> PathBuf {
    let runtime = repo().join("runtime");
    let text = std::fs::read_to_string(runtime.join("contextos.toml")).unwrap();
    let absolute = |value: &str| {
        let path = contextos_runtime::collapse_parent_dirs(&runtime.join(value));
        format!("{:?}", path.display().to_string())
    };
    let mut out = String::new();
    for line in text.lines() {
        let key = line.split(" = ").next().unwrap_or_default();
        let value = line.split_once(" = \"").map(|(_, v)| v.trim_end_matches('"'));
        let line = match (key, value) {
            ("packs", _) => {
                let inner = line.split_once("[\"").unwrap().1.trim_end_matches("\"]");
                format!("packs = [{}]", absolute(inner))
            }
            (_, Some(_)) if overrides.iter().any(|(k, _)| *k == key) => {
                let (_, given) = overrides.iter().find(|(k, _)| *k == key).unwrap();
                format!("{key} = {given:?}")
            }
            ("store", Some(_)) => "store = \"store\"".to_owned(),
            ("policies" | "tools" | "keys" | "signing_key" | "entities", Some(value)) => {
                format!("{key} = {}", absolute(value))
            }
            _ => line.to_owned(),
        };
        out.push_str(&line);
        out.push('\n');
    }
    let path = dir.join(name);
    std::fs::write(&path, out).unwrap();
    path
}

/// What the loopback model server received: the Authorization header and the body.
pub(crate) type Received = Vec<(Option<String>, Value)>;

/// A loopback chat-completions server answering `answers` in order, then
/// stopping; an answer with a top-level `error` is sent with status 400.
pub(crate) fn model_server(answers: Vec<Value>) -> (String, JoinHandle<Received>) {
    let (url, _, handle) = stoppable_model_server(answers);
    (url, handle)
}

/// `model_server`, with the server: unblocking it stops the thread early, so
/// joining it never waits for a request that will not come.
pub(crate) fn stoppable_model_server(answers: Vec<Value>) -> (String, Arc<tiny_http::Server>, JoinHandle<Received>) {
    let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
    let url = format!("http://127.0.0.1:{}/v1", server.server_addr().to_ip().unwrap().port());
    let serving = Arc::clone(&server);
    let handle = std::thread::spawn(move || {
        let mut received = Vec::new();
        for answer in answers {
            let Ok(mut request) = serving.recv() else {
                break;
            };
            assert_eq!(request.url(), "/v1/chat/completions");
            let auth = request
                .headers()
                .iter()
                .find(|h| h.field.equiv("authorization"))
                .map(|h| h.value.to_string());
            let mut body = String::new();
            request.as_reader().read_to_string(&mut body).unwrap();
            received.push((auth, serde_json::from_str(&body).unwrap()));
            let json = tiny_http::Header::from_bytes("content-type", "application/json").unwrap();
            let status = if answer.get("error").is_some() { 400 } else { 200 };
            let response = tiny_http::Response::from_string(answer.to_string())
                .with_header(json)
                .with_status_code(status);
            request.respond(response).unwrap();
        }
        received
    });
    (url, server, handle)
}

/// A chat-completions response whose one choice is `message`.
pub(crate) fn completion(message: Value, prompt_tokens: u64) -> Value {
    json!({
        "id": "chatcmpl-loopback",
        "object": "chat.completion",
        "created": 1_767_000_000,
        "model": "gpt-4.1-mini",
        "choices": [{ "index": 0, "message": message, "finish_reason": "stop" }],
        "usage": { "prompt_tokens": prompt_tokens, "completion_tokens": 20, "total_tokens": prompt_tokens + 20 }
    })
}
