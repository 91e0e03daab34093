//! Every command in README.md, executed by the test build of `contextos`, so
//! the README cannot drift from the program.
//!
//! The fenced ```sh blocks are read in order; each command (a line, with its
//! heredoc or `\` continuations) runs with `bash -c` in one temporary copy of
//! the repository, since later commands use earlier results (a run stored,
//! then replayed); each block starts at the repository, and `cd DIR` moves
//! the rest of its block. `cargo run --release --` and an installed
//! `contextos` become the test binary's path;
//! small shell tools (`cat`, `cp`, `mkdir`, `sed`) run as written; commands
//! that are not `contextos` are skipped only when `SKIPPED` lists them with a
//! reason, and any other command fails the test. Every command must exit 0
//! unless `EXPECTED_EXIT` says otherwise, and those `OUTPUT_SHOWN` names
//! print, in order, every line of the untagged fenced block after them. Network peers are on
//! loopback, the README's addresses replaced by theirs: the live model is a
//! chat-completions server answering fixed responses, the billing API a small
//! HTTP server, and the MCP server the real server-everything pinned in
//! `tests/peers` (installed by `cargo xtask test`; without it the commands
//! that need it are skipped loudly, unless `CONTEXTOS_REQUIRE_PEERS` is set).

#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use std::fs;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::thread::JoinHandle;

use serde_json::json;

mod common;
use common::{Received, completion, copy_dir, repo, stoppable_model_server};

/// How the README runs `contextos`: from the repository, or as installed.
const CONTEXTOS_PREFIXES: [&str; 3] = ["cargo run --release -- ", "cargo run -q -- ", "contextos "];

/// Shell tools the README uses to write files; they run as written.
const SHELL_TOOLS: [&str; 4] = ["cat", "cp", "mkdir", "sed"];

/// Commands the test does not run, by prefix, and why.
const SKIPPED: [(&str, &str); 3] = [
    (
        "cargo install",
        "installs `contextos` on the PATH; where the README then says `contextos`, the test runs its own build",
    ),
    (
        "cargo xtask test",
        "the whole project check (installs peers, fmt, clippy, every test): CI runs it, and this test is one of its tests",
    ),
    (
        "cargo xtask bench",
        "benchmarks are measured by `cargo xtask bench`, not asserted by tests",
    ),
];

/// Commands that must exit non-zero, keyed by their text (without a trailing comment).
const EXPECTED_EXIT: [(&str, i32); 3] = [
    // The candidate denies the refund, so the replayed run asks the model for
    // more than was recorded: incomplete, exit 4.
    (
        "cargo run --release -- replay run_escalation_4411 --policies candidate-policies/",
        4,
    ),
    // The candidate bundle of the Runs section changes a refund decision: exit 1 on any change.
    (
        "cargo run --release -- policy impact --candidate candidate-policies/",
        1,
    ),
    (
        "cargo run --release -- policy impact --candidate candidate-policies/ --corpus goldens --corpus .contextos",
        1,
    ),
];

/// Commands whose output the README shows in the first untagged fenced block
/// after them: each line of it must be printed, in order (lines may be left out).
const OUTPUT_SHOWN: [&str; 1] = ["cargo run --release -- policy explain --request refund-request.yaml"];

/// What the repository copy holds: what the README's commands read.
const COPIED: [&str; 6] = [
    "README.md",
    "runtime",
    "policies",
    "scenarios",
    "goldens",
    "crates/openapi/tests/fixtures",
];

/// The live model's address in the README, replaced by the loopback model's.
const README_MODEL_URL: &str = "https://api.openai.com/v1";
/// The billing API's address in the README, replaced by the loopback billing server's.
const README_BILLING_URL: &str = "https://billing.internal/v1";

/// One command of a ```sh block.
#[derive(Debug, Clone, PartialEq)]
struct Command {
    /// The README line of its block's opening fence (1-based).
    block: usize,
    /// The README line it starts on (1-based).
    line: usize,
    /// The whole command, heredoc and continuation lines included.
    text: String,
    /// Its first line without a trailing comment: how expectations name it.
    key: String,
    /// The first untagged fenced block after it, before the next command,
    /// with the README line it starts on: its output, when `OUTPUT_SHOWN`
    /// names it.
    shown: Option<(usize, String)>,
}

/// What the test does with a command.
#[derive(Debug, PartialEq)]
enum Kind {
    /// `contextos ARGS`: the text with the test binary in place of `cargo run`.
    Contextos(String),
    /// A shell tool, run as written.
    Shell,
    /// Listed in `SKIPPED`, with the reason.
    Skipped(&'static str),
    /// `cd DIR`: the rest of its block runs in `DIR`.
    ChangeDirectory(String),
    /// Neither run nor listed: the test fails.
    Unknown,
}

/// The commands of every ```sh block of `readme`, in order.
fn sh_commands(readme: &str) -> Vec<Command> {
    let lines: Vec<&str> = readme.lines().collect();
    let mut commands: Vec<Command> = Vec::new();
    let mut in_sh = false;
    let mut in_other = false;
    let mut block = 0;
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let trimmed = line.trim();
        if let Some(info) = trimmed.strip_prefix("```") {
            if in_sh || in_other {
                (in_sh, in_other) = (false, false);
            } else if info.trim() == "sh" {
                in_sh = true;
                block = i + 1;
            } else if info.trim().is_empty()
                && let Some(last) = commands.last_mut()
                && last.shown.is_none()
            {
                let body: Vec<&str> = lines[i + 1..]
                    .iter()
                    .take_while(|l| l.trim() != "```")
                    .copied()
                    .collect();
                last.shown = Some((i + 1, body.join("\n")));
                i += body.len() + 2;
                continue;
            } else {
                in_other = true;
            }
            i += 1;
            continue;
        }
        if !in_sh || trimmed.is_empty() || trimmed.starts_with('#') {
            i += 1;
            continue;
        }
        let start = i;
        let mut text = line.to_owned();
        while text.ends_with('\\') && i + 1 < lines.len() {
            i += 1;
            text.push('\n');
            text.push_str(lines[i]);
        }
        if let Some(delimiter) = heredoc_delimiter(&text) {
            loop {
                i += 1;
                assert!(
                    i < lines.len(),
                    "README.md:{}: the heredoc is not closed by a line `{delimiter}`",
                    start + 1
                );
                let body = lines[i];
                text.push('\n');
                text.push_str(body);
                if body == delimiter {
                    break;
                }
            }
        }
        commands.push(Command {
            block,
            line: start + 1,
            key: without_comment(line).to_owned(),
            text,
            shown: None,
        });
        i += 1;
    }
    commands
}

/// The word that ends the heredoc started on `text`'s first line, if any.
fn heredoc_delimiter(text: &str) -> Option<String> {
    let first = text.lines().next()?;
    let rest = first.split_once("<<")?.1.trim_start_matches('-').trim_start();
    let word = rest.split_whitespace().next()?;
    Some(word.trim_matches(|c| c == '\'' || c == '"').to_owned())
}

/// `line` without a trailing ` # comment` and surrounding blanks.
fn without_comment(line: &str) -> &str {
    line.split_once(" #").map_or(line, |(command, _)| command).trim()
}

/// What the test does with `command`, with `binary` as the `contextos` path.
fn classify(command: &Command, binary: &str) -> Kind {
    let program = |segment: &str| -> String {
        let words: Vec<&str> = segment.split_whitespace().collect();
        let at = words.iter().position(|w| !is_assignment(w)).unwrap_or(words.len());
        words[at..].join(" ") + " "
    };
    if let Some((_, reason)) = SKIPPED
        .iter()
        .find(|(prefix, _)| program(&command.key).starts_with(prefix))
    {
        return Kind::Skipped(reason);
    }
    let segments: Vec<&str> = command
        .key
        .split(['&', '|', ';'])
        .filter(|s| !s.trim().is_empty())
        .collect();
    if let [only] = segments[..]
        && let Some(to) = program(only).strip_prefix("cd ")
    {
        return Kind::ChangeDirectory(to.trim().to_owned());
    }
    // Every program of a chain (`&&`, `||`, `;`, `|`) must be one the test knows.
    let mut runs_contextos = false;
    for segment in segments {
        let program = program(segment);
        if CONTEXTOS_PREFIXES.iter().any(|p| program.starts_with(p)) {
            runs_contextos = true;
        } else if !SHELL_TOOLS.iter().any(|tool| program.starts_with(&format!("{tool} "))) {
            return Kind::Unknown;
        }
    }
    if !runs_contextos {
        return Kind::Shell;
    }
    let quoted = format!("'{}' ", binary.replace('\'', r"'\''"));
    // Only the command's own lines: a heredoc's body is the file it writes.
    let mut lines: Vec<String> = Vec::new();
    let mut in_command = true;
    for line in command.text.lines() {
        if in_command {
            lines.push(in_segments(line, |segment| with_binary(segment, &quoted)));
            in_command = line.ends_with('\\');
        } else {
            lines.push(line.to_owned());
        }
    }
    Kind::Contextos(lines.join("\n"))
}

/// `line` with each of its chain's segments (between `&&`, `||`, `;`, `|`) passed through `f`.
fn in_segments(line: &str, f: impl Fn(&str) -> String) -> String {
    let mut out = String::new();
    let mut segment = String::new();
    for c in line.chars() {
        if matches!(c, '&' | '|' | ';') {
            out.push_str(&f(&segment));
            segment.clear();
            out.push(c);
        } else {
            segment.push(c);
        }
    }
    out.push_str(&f(&segment));
    out
}

/// `segment` with the `contextos` it starts with (after any assignments) as `quoted`.
fn with_binary(segment: &str, quoted: &str) -> String {
    let mut at = segment.len() - segment.trim_start().len();
    while let Some(word) = segment[at..].split(' ').next()
        && is_assignment(word)
        && segment.len() > at + word.len()
    {
        at += word.len() + 1;
    }
    let (head, rest) = segment.split_at(at);
    CONTEXTOS_PREFIXES
        .iter()
        .find_map(|prefix| rest.strip_prefix(prefix))
        .map_or_else(|| segment.to_owned(), |args| format!("{head}{quoted}{args}"))
}

/// `NAME=value`, an environment assignment before the program.
fn is_assignment(word: &str) -> bool {
    word.split_once('=').is_some_and(|(name, _)| {
        !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
    })
}

/// Whether `command` talks to the MCP peer server-everything.
fn needs_mcp_peer(command: &Command) -> bool {
    command.key.contains("everything.yaml") && !command.key.starts_with("cat ")
}

/// The first 4,000 characters of `text`, for failure messages.
fn clip(text: &str) -> String {
    const LIMIT: usize = 4000;
    if text.chars().count() <= LIMIT {
        text.to_owned()
    } else {
        let head: String = text.chars().take(LIMIT).collect();
        format!("{head}…")
    }
}

/// Fails on a command the test neither runs nor skips, and on an expectation
/// or a peer address the README no longer has.
fn check_commands(commands: &[Command], binary: &str) {
    let unknown: Vec<String> = commands
        .iter()
        .filter(|c| classify(c, binary) == Kind::Unknown)
        .map(|c| format!("README.md:{}: `{}`", c.line, c.key))
        .collect();
    assert!(
        unknown.is_empty(),
        "README commands this test neither runs nor lists in SKIPPED (with a reason):\n{}",
        unknown.join("\n")
    );
    for key in OUTPUT_SHOWN {
        assert!(
            commands.iter().any(|c| c.key == key && c.shown.is_some()),
            "OUTPUT_SHOWN names `{key}`, which README.md no longer has with an untagged block after it"
        );
    }
    for (key, _) in EXPECTED_EXIT {
        assert!(
            commands.iter().any(|c| c.key == key),
            "EXPECTED_EXIT names `{key}`, which README.md no longer has"
        );
    }
    assert!(
        commands
            .iter()
            .any(|c| c.key.contains(README_MODEL_URL) && c.key.contains("--live")),
        "README.md's live run no longer names --model-url {README_MODEL_URL}: the test cannot point it at the loopback model"
    );
}

/// Whether the MCP peers are installed; when they are not, the test may skip
/// the commands that need them unless the test command requires peers.
#[expect(
    clippy::disallowed_methods,
    reason = "the test command, not the test, decides whether a missing peer may skip"
)]
fn mcp_peers() -> bool {
    let installed = repo()
        .join("tests/peers/node_modules/@modelcontextprotocol/server-everything/dist/index.js")
        .is_file();
    if !installed {
        assert!(
            std::env::var_os("CONTEXTOS_REQUIRE_PEERS").is_none(),
            "CONTEXTOS_REQUIRE_PEERS is set but the MCP peers are missing; run `cargo xtask test` (it installs tests/peers)"
        );
        say(
            "SKIPPING the README commands that need the MCP peer server-everything, and the rest of their block: \
             tests/peers is not installed (run `cargo xtask test`)",
        );
    }
    installed
}

/// Written to the process's stderr, not the captured one, so `cargo test`
/// shows it without --nocapture.
fn say(line: &str) {
    std::io::stderr().write_all(format!("{line}\n").as_bytes()).unwrap();
}

/// A copy of what the README's commands read, in `dir`, with the MCP peers linked when installed.
fn copy_repository(dir: &Path, peers: bool) {
    for path in COPIED {
        let from = repo().join(path);
        if from.is_dir() {
            copy_dir(&from, &dir.join(path));
        } else {
            fs::copy(&from, dir.join(path)).unwrap();
        }
    }
    if peers {
        fs::create_dir_all(dir.join("tests/peers")).unwrap();
        std::os::unix::fs::symlink(
            repo().join("tests/peers/node_modules"),
            dir.join("tests/peers/node_modules"),
        )
        .unwrap();
    }
}

/// The loopback model of the live run: it calls echo and getInvoice, then answers.
fn live_model() -> (String, Arc<tiny_http::Server>, JoinHandle<Received>) {
    stoppable_model_server(vec![
        completion(
            json!({ "role": "assistant", "content": null, "tool_calls": [{
                "id": "call_1", "type": "function",
                "function": { "name": "echo", "arguments": "{\"message\":\"hello\"}" }
            }, {
                "id": "call_2", "type": "function",
                "function": { "name": "getInvoice", "arguments": "{\"invoice_id\":\"inv_1\"}" }
            }]}),
            1200,
        ),
        completion(
            json!({ "role": "assistant", "content": json!({
                "answer": "The echo server answered hello; invoice inv_1 is paid.",
                "citations": ["call_1", "call_2"],
                "confidence": 0.9
            }).to_string() }),
            1300,
        ),
    ])
}

/// What the loopback billing server was asked: method, URL and Authorization header.
type BillingCalls = Vec<(String, String, Option<String>)>;

/// The loopback billing API: every GET of an invoice answers a paid invoice,
/// anything else 404. Unblocking the server ends the thread.
fn billing_server() -> (String, Arc<tiny_http::Server>, JoinHandle<BillingCalls>) {
    let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
    let url = format!("http://127.0.0.1:{}/v1", server.server_addr().to_ip().unwrap().port());
    let serving = Arc::clone(&server);
    let handle = std::thread::spawn(move || {
        let mut calls = Vec::new();
        while let Ok(request) = serving.recv() {
            let auth = request
                .headers()
                .iter()
                .find(|h| h.field.equiv("authorization"))
                .map(|h| h.value.to_string());
            let (method, path) = (request.method().to_string(), request.url().to_owned());
            let response = match path.strip_prefix("/v1/invoices/") {
                Some(id) if method == "GET" => tiny_http::Response::from_string(
                    json!({ "id": id, "amount_cents": 1250, "status": "paid" }).to_string(),
                )
                .with_header(tiny_http::Header::from_bytes("content-type", "application/json").unwrap()),
                _ => tiny_http::Response::from_string("no such route").with_status_code(404),
            };
            calls.push((method, path, auth));
            request.respond(response).unwrap();
        }
        calls
    });
    (url, server, handle)
}

/// Runs `text`, the shell form of `command`, in `dir`, and checks its exit
/// code and the output the README shows for it.
fn run_command(command: &Command, text: &str, dir: &Path) {
    let out = std::process::Command::new("bash")
        .args(["--noprofile", "--norc", "-c", text])
        .current_dir(dir)
        .output()
        .unwrap();
    let code = out.status.code().unwrap_or(-1);
    let expected = EXPECTED_EXIT
        .iter()
        .find(|(key, _)| *key == command.key)
        .map_or(0, |(_, code)| *code);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        code,
        expected,
        "README.md:{}: `{}` exited {code}, expected {expected}\nran: {text}\nstdout:\n{}\nstderr:\n{}",
        command.line,
        command.key,
        clip(&stdout),
        clip(&String::from_utf8_lossy(&out.stderr)),
    );
    if let Some((shown_at, shown)) = &command.shown
        && OUTPUT_SHOWN.contains(&command.key.as_str())
    {
        let mut printed = stdout.lines();
        for line in shown.lines() {
            assert!(
                printed.any(|p| p == line),
                "README.md:{shown_at}: the output shown for `{}` (README.md:{}) has a line it does not print \
                 (or not in this order):\n{line}\nprinted:\n{}",
                command.key,
                command.line,
                clip(&stdout),
            );
        }
    }
}

#[test]
fn every_readme_command_runs_with_the_exit_code_it_documents() {
    let readme = fs::read_to_string(repo().join("README.md")).unwrap();
    let commands = sh_commands(&readme);
    let binary = env!("CARGO_BIN_EXE_contextos");
    check_commands(&commands, binary);
    let peers = mcp_peers();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().canonicalize().unwrap();
    copy_repository(&dir, peers);
    let (billing_url, billing, billing_calls) = billing_server();

    let mut ran = 0;
    // Without peers, the block of a skipped peer command is skipped to its end.
    let mut skipped_block = None;
    // Each block starts at the repository; `cd` moves the rest of its block.
    let mut cwd = (0, dir.clone());
    for command in &commands {
        if cwd.0 != command.block {
            cwd = (command.block, dir.clone());
        }
        let text = match classify(command, binary) {
            // Listed in SKIPPED with its reason.
            Kind::Skipped(_) => continue,
            Kind::ChangeDirectory(to) => {
                cwd.1 = cwd.1.join(to);
                assert!(
                    cwd.1.is_dir(),
                    "README.md:{}: `{}`: no such directory",
                    command.line,
                    command.key
                );
                continue;
            }
            Kind::Unknown => unreachable!("check_commands refused it"),
            Kind::Shell => command.text.clone(),
            Kind::Contextos(text) => text,
        };
        if !peers && (skipped_block == Some(command.block) || needs_mcp_peer(command)) {
            skipped_block = Some(command.block);
            say(&format!(
                "SKIPPED README.md:{}: `{}` (no MCP peers)",
                command.line, command.key
            ));
            continue;
        }
        let text = text.replace(README_BILLING_URL, &billing_url);
        if command.key.contains("--live") {
            let (url, server, model) = live_model();
            run_command(command, &text.replace(README_MODEL_URL, &url), &cwd.1);
            server.unblock();
            let received = model.join().unwrap();
            assert_eq!(
                received.len(),
                2,
                "README.md:{}: the live run asked the loopback model {} time(s), expected 2",
                command.line,
                received.len()
            );
            assert_eq!(received[0].0.as_deref(), Some("Bearer ..."));
        } else {
            run_command(command, &text, &cwd.1);
        }
        ran += 1;
    }
    assert!(ran >= 20, "only {ran} README commands ran");
    billing.unblock();
    let calls = billing_calls.join().unwrap();
    if peers {
        assert_eq!(
            calls,
            [(
                "GET".to_owned(),
                "/v1/invoices/inv_1".to_owned(),
                Some("Bearer ...".to_owned())
            )],
            "the live run calls getInvoice on the loopback billing API once, with BILLING_TOKEN"
        );
    }
}

#[test]
fn commands_keep_their_heredocs_continuations_and_lines() {
    let readme = "text\n```sh\n# a comment\ncat > a.yaml <<'SPEC'\nname: a\n# kept in the file\nSPEC\n\
                  cargo run --release -- eval \\\n  --jobs 2   # two jobs\n```\nprints\n```\nscore: 1/1\nall passed\n```\n```yaml\nnot: a command\n```\n";
    let commands = sh_commands(readme);
    assert_eq!(
        commands,
        vec![
            Command {
                block: 2,
                line: 4,
                text: "cat > a.yaml <<'SPEC'\nname: a\n# kept in the file\nSPEC".into(),
                key: "cat > a.yaml <<'SPEC'".into(),
                shown: None,
            },
            Command {
                block: 2,
                line: 8,
                text: "cargo run --release -- eval \\\n  --jobs 2   # two jobs".into(),
                key: "cargo run --release -- eval \\".into(),
                shown: Some((12, "score: 1/1\nall passed".into())),
            },
        ]
    );
}

#[test]
fn a_command_neither_run_nor_listed_is_unknown() {
    let commands = sh_commands(
        "```sh\nrm -rf somewhere\ncargo xtask bench -p x\nOPENAI_API_KEY=... cargo run --release -- run r.yaml --live\nsed s/a/b/ f\n\
         mkdir -p d && cp -r a d/\nmkdir -p d && rm -rf d\ncargo run --release -- eval; curl x\n```\n",
    );
    let kinds: Vec<Kind> = commands.iter().map(|c| classify(c, "/bin/contextos")).collect();
    assert_eq!(kinds[0], Kind::Unknown);
    assert!(matches!(kinds[1], Kind::Skipped(_)), "{kinds:?}");
    assert_eq!(
        kinds[2],
        Kind::Contextos("OPENAI_API_KEY=... '/bin/contextos' run r.yaml --live".into())
    );
    assert_eq!(kinds[3], Kind::Shell);
    assert_eq!(kinds[4], Kind::Shell);
    assert_eq!(
        kinds[5],
        Kind::Unknown,
        "a chain is known only when each of its programs is"
    );
    assert_eq!(kinds[6], Kind::Unknown);
    let installed = sh_commands(
        "```sh\ncargo install --path crates/cli\ncd my-agent\ncontextos eval && contextos policy test   # contextos \n\
         contextos new case x <<'EOF'\ncontextos stays\nEOF\n```\n",
    );
    let kinds: Vec<Kind> = installed.iter().map(|c| classify(c, "/bin/contextos")).collect();
    assert!(matches!(kinds[0], Kind::Skipped(_)), "{kinds:?}");
    assert_eq!(kinds[1], Kind::ChangeDirectory("my-agent".into()));
    assert_eq!(
        kinds[2],
        Kind::Contextos("'/bin/contextos' eval && '/bin/contextos' policy test   # contextos ".into())
    );
    assert_eq!(
        kinds[3],
        Kind::Contextos("'/bin/contextos' new case x <<'EOF'\ncontextos stays\nEOF".into())
    );
}
