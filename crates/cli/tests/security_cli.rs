//! Findings of the security review, each through the real binary: the signer
//! a command reports is the key that verified, and `show` verifies a stored
//! run's decision record before showing it.
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use std::fs;
use std::path::Path;

use contextos_core::{Digest, canonical_json};
use contextos_trust::{SignedEnvelope, SigningKey, sign};
use serde_json::{Value, json};

mod common;
use common::{Run, command_in, repo, run};

const REQUEST: &str = "runtime/examples/escalation/request.yaml";
const RECORD_TYPE: &str = "application/vnd.contextos.decision-record+json";

/// `contextos ARGS --store STORE` in the repository.
fn contextos(store: &Path, args: &[&str]) -> Run {
    run(command_in(&repo()).args(args).arg("--store").arg(store))
}

/// stderr without miette's line wrapping.
fn unwrapped(stderr: &str) -> String {
    stderr
        .split_whitespace()
        .filter(|word| *word != "│")
        .collect::<Vec<_>>()
        .join(" ")
}

/// The bundled deployment's signing key, whose public half `runtime/keys` trusts.
fn trusted_key() -> SigningKey {
    SigningKey::load(&repo().join("runtime/keys/dev.key")).unwrap()
}

/// A key no keyring of the repository trusts.
fn rogue_key() -> SigningKey {
    SigningKey::from_seed([0x5a; 32])
}

#[test]
fn verify_names_the_trusted_key_that_verified_not_the_first_signature() {
    let dir = tempfile::tempdir().unwrap();
    let (trusted, rogue) = (trusted_key(), rogue_key());
    let document = json!({"run_id": "run_1", "answer": "approved"});
    let mut envelope = sign(RECORD_TYPE, &document, &rogue).unwrap();
    envelope
        .signatures
        .extend(sign(RECORD_TYPE, &document, &trusted).unwrap().signatures);
    assert_eq!(
        envelope.signatures[0].keyid,
        rogue.key_id(),
        "the rogue signature comes first"
    );
    let file = dir.path().join("two-signatures.json");
    fs::write(&file, serde_json::to_string(&envelope).unwrap()).unwrap();

    let keys = repo().join("runtime/keys");
    let r = run(command_in(&repo()).args(["verify", file.to_str().unwrap(), "--keys", keys.to_str().unwrap()]));
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains(&format!(
            "two-signatures.json: signature by {} verifies",
            trusted.key_id()
        )),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains(rogue.key_id()), "{}", r.stdout);
}

/// Runs the bundled example into `store` and returns (run id, record digest hex).
fn stored_run(store: &Path) -> (String, String) {
    let r = contextos(store, &["run", REQUEST, "--format", "json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let out: Value = serde_json::from_str(&r.stdout).unwrap();
    let hex = out["record"]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:")
        .to_string();
    (out["run_id"].as_str().unwrap().to_string(), hex)
}

fn object_path(store: &Path, hex: &str) -> std::path::PathBuf {
    store.join("objects").join(&hex[..2]).join(hex)
}

/// Stores `envelope` as an object and points run `run_id`'s index entry at it
/// as the decision record: what someone with write access to the store does.
fn replace_record(store: &Path, run_id: &str, envelope: &SignedEnvelope) -> String {
    let bytes = serde_json::to_vec(envelope).unwrap();
    let digest = Digest::of_bytes(&bytes);
    let path = object_path(store, &digest.hex());
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(&path, &bytes).unwrap();
    let entry_path = store.join("runs").join(format!("{run_id}.json"));
    let mut entry: Value = serde_json::from_slice(&fs::read(&entry_path).unwrap()).unwrap();
    entry["record"] = json!(digest.to_string());
    fs::write(&entry_path, canonical_json(&entry).unwrap()).unwrap();
    digest.to_string()
}

#[test]
fn show_verifies_the_stored_record_and_exits_3_when_it_was_tampered_with() {
    let store = tempfile::tempdir().unwrap();
    let (run_id, hex) = stored_run(store.path());
    let shown = contextos(store.path(), &["show", &run_id]);
    assert_eq!(shown.code, 0, "{}", shown.stderr);
    assert!(
        shown.stdout.contains(&format!("(signed {})", trusted_key().key_id())),
        "{}",
        shown.stdout
    );

    // The record's answer is rewritten and stored under its new digest; the
    // original signature no longer covers it.
    let original: SignedEnvelope = serde_json::from_slice(&fs::read(object_path(store.path(), &hex)).unwrap()).unwrap();
    let mut record: Value = serde_json::from_slice(&original.payload_bytes().unwrap()).unwrap();
    record["answer"] = json!("Refund approved in full.");
    let mut tampered = sign(RECORD_TYPE, &record, &rogue_key()).unwrap();
    tampered.signatures = original.signatures.clone();
    let digest = replace_record(store.path(), &run_id, &tampered);
    for format in ["text", "json"] {
        let r = contextos(store.path(), &["show", &run_id, "--format", format]);
        assert_eq!(r.code, 3, "{format}: {}\n{}", r.stdout, r.stderr);
        assert!(r.stdout.is_empty(), "nothing is shown: {}", r.stdout);
        let stderr = unwrapped(&r.stderr);
        assert!(
            stderr.contains(&format!("decision record {digest} of run {run_id}: signature by"))
                && stderr.contains("does not verify"),
            "{stderr}"
        );
    }

    // A record signed by an untrusted key is refused the same way.
    let rogue = sign(RECORD_TYPE, &record, &rogue_key()).unwrap();
    replace_record(store.path(), &run_id, &rogue);
    let r = contextos(store.path(), &["show", &run_id]);
    assert_eq!(r.code, 3, "{}\n{}", r.stdout, r.stderr);
    assert!(
        unwrapped(&r.stderr).contains("not signed by a trusted key"),
        "{}",
        r.stderr
    );

    // A validly signed record that is not the one the packet holds is refused too.
    let other = sign(RECORD_TYPE, &record, &trusted_key()).unwrap();
    replace_record(store.path(), &run_id, &other);
    let r = contextos(store.path(), &["show", &run_id]);
    assert_eq!(r.code, 3, "{}\n{}", r.stdout, r.stderr);
    assert!(unwrapped(&r.stderr).contains("not the decision record"), "{}", r.stderr);
}

#[test]
fn usage_reports_that_overflow_exhaust_the_token_budget_instead_of_wrapping() {
    let store = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    // The largest budget there is, so only an overflow can exhaust it.
    let request = fs::read_to_string(repo().join(REQUEST))
        .unwrap()
        .replace("run_escalation_4411", "run_usage_overflow")
        .replace("max_tokens: 20000", &format!("max_tokens: {}", u64::MAX));
    fs::write(dir.path().join("request.yaml"), request).unwrap();
    // Two responses of 2^63 tokens each: together exactly 2^64, which wraps to 0.
    let half = 1u64 << 63;
    let script = format!(
        "format_version: 1\nmodel:\n  - content: \"\"\n    usage: {{ prompt_tokens: {half}, completion_tokens: 0 }}\n  \
         - content: The duplicate charge was refunded.\n    usage: {{ prompt_tokens: {half}, completion_tokens: 0 }}\n"
    );
    fs::write(dir.path().join("script.yaml"), script).unwrap();
    let d = dir.path();
    let r = contextos(
        store.path(),
        &[
            "run",
            d.join("request.yaml").to_str().unwrap(),
            "--script",
            d.join("script.yaml").to_str().unwrap(),
            "--record",
            d.join("recorded").to_str().unwrap(),
            "--format",
            "json",
        ],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let out: Value = serde_json::from_str(&r.stdout).unwrap();
    let record = &out["decision_record"];
    assert_eq!(record["outcome"], "escalated", "{record}");
    assert_eq!(record["usage"]["tokens"], json!(u64::MAX), "{record}");
    assert_eq!(record["usage"]["iterations"], 2, "{record}");
    assert!(
        record["answer"].as_str().unwrap().contains(&format!(
            "token budget of {} exhausted (the reported usage overflows a 64-bit count)",
            u64::MAX
        )),
        "{record}"
    );
}

#[test]
fn model_text_reaches_the_terminal_with_its_control_characters_escaped_visibly() {
    let store = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let request = fs::read_to_string(repo().join(REQUEST))
        .unwrap()
        .replace("run_escalation_4411", "run_hostile_text");
    fs::write(dir.path().join("request.yaml"), request).unwrap();
    // The model asks for an unpinned tool with a hostile name, then answers.
    // YAML escapes: a raw C1 character or escape is not allowed in the file itself.
    let script = "format_version: 1\nmodel:\n  \
                  - tool_calls: [{ id: \"call_1\\e[K\", name: \"wipe\\e[2K_disk\", arguments: {} }]\n  \
                  - content: \"Done.\\e[2J\\e]52;c;ZXZpbA==\\a \\u009b31m red\\u202e tab\\there\\nsecond line\"\n";
    fs::write(dir.path().join("script.yaml"), script).unwrap();
    let d = dir.path();
    let ran = contextos(
        store.path(),
        &[
            "run",
            d.join("request.yaml").to_str().unwrap(),
            "--script",
            d.join("script.yaml").to_str().unwrap(),
            "--record",
            d.join("recorded").to_str().unwrap(),
        ],
    );
    assert_eq!(ran.code, 0, "{}\n{}", ran.stdout, ran.stderr);
    let shown = contextos(store.path(), &["show", "run_hostile_text"]);
    assert_eq!(shown.code, 0, "{}", shown.stderr);
    for out in [&ran.stdout, &shown.stdout] {
        let raw: Vec<char> = out
            .chars()
            .filter(|&c| (c.is_control() && c != '\n' && c != '\t') || c == '\u{202e}')
            .collect();
        assert!(raw.is_empty(), "raw control characters {raw:?} in\n{out}");
        assert!(
            out.contains(
                "  Done.\\u{1b}[2J\\u{1b}]52;c;ZXZpbA==\\u{7} \\u{9b}31m red\\u{202e} tab\there\n  second line\n"
            ),
            "{out}"
        );
        assert!(
            out.contains("  call_1\\u{1b}[K tool wipe\\u{1b}[2K_disk has no pinned contract"),
            "{out}"
        );
    }
}
