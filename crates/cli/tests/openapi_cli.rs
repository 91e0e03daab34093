//! `contextos tools … --openapi` through the real binary, over the billing
//! document of `crates/openapi/tests/fixtures`. These commands read the
//! document only: the source points at a port where nothing listens and
//! names a token variable that is unset, and they still work.

#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use std::fs;
use std::path::Path;

use serde_json::Value;

mod common;
use common::{Run, command_in, repo, run};

/// A scratch directory with `billing.yaml`, an OpenAPI source for the 3.0 billing fixture.
fn scratch() -> tempfile::TempDir {
    let document = repo().join("crates/openapi/tests/fixtures/billing-3.0.yaml");
    let dir = tempfile::tempdir().unwrap();
    let source = format!(
        "name: billing\ndocument: {:?}\nbase_url: http://127.0.0.1:9/v1\nbearer_token_env: CONTEXTOS_TEST_UNSET_TOKEN\n",
        document.display().to_string()
    );
    fs::write(dir.path().join("billing.yaml"), source).unwrap();
    dir
}

fn tools(dir: &Path, args: &[&str]) -> Run {
    run(command_in(dir)
        .env_remove("CONTEXTOS_TEST_UNSET_TOKEN")
        .arg("tools")
        .args(args))
}

#[test]
fn list_shows_modes_methods_paths_and_digests() {
    let dir = scratch();
    let listed = tools(dir.path(), &["list", "--openapi", "billing.yaml"]);
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    assert!(
        listed.stdout.starts_with("OpenAPI source \"billing\": 4 tools\n"),
        "{}",
        listed.stdout
    );
    let line = |name: &str| {
        listed
            .stdout
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{name} ")))
            .unwrap()
            .to_string()
    };
    let get = line("getInvoice");
    assert!(
        get.contains("read_only") && get.contains("GET /invoices/{invoice_id}") && get.contains("sha256:"),
        "{get}"
    );
    assert!(
        line("createInvoice").contains("local_write  POST /invoices  sha256:"),
        "{}",
        listed.stdout
    );
    assert!(
        line("voidInvoice").contains("destructive  DELETE /invoices/{invoice_id}  sha256:"),
        "{}",
        listed.stdout
    );

    let json = tools(dir.path(), &["list", "--openapi", "billing.yaml", "--format", "json"]);
    assert_eq!(json.code, 0, "{}", json.stderr);
    let doc: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(doc["source"], "billing");
    let void = doc["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "voidInvoice")
        .unwrap();
    assert_eq!(void["approval_mode"], "destructive");
    assert_eq!(
        (void["method"].as_str(), void["path"].as_str()),
        (Some("DELETE"), Some("/invoices/{invoice_id}"))
    );
    assert!(void["schema_digest"].as_str().unwrap().starts_with("sha256:"));
}

#[test]
fn pin_then_check_drift_over_an_openapi_source() {
    let dir = scratch();
    let pin = [
        "pin",
        "--openapi",
        "billing.yaml",
        "--tool",
        "getInvoice",
        "--tool",
        "voidInvoice",
        "--out",
        "tools",
    ];
    let pinned = tools(dir.path(), &pin);
    assert_eq!(pinned.code, 0, "{}", pinned.stderr);
    assert!(
        pinned
            .stdout
            .contains("pinned getInvoice -> tools/getInvoice.yaml (read_only, GET /invoices/{invoice_id})"),
        "{}",
        pinned.stdout
    );
    assert!(
        pinned.stdout.contains("(destructive, DELETE /invoices/{invoice_id})"),
        "{}",
        pinned.stdout
    );
    let file = dir.path().join("tools/voidInvoice.yaml");
    let text = fs::read_to_string(&file).unwrap();
    assert!(text.starts_with("# Pinned from OpenAPI source \"billing\""), "{text}");

    let check = ["check-drift", "--openapi", "billing.yaml", "--tools", "tools"];
    let clean = tools(dir.path(), &check);
    assert_eq!(clean.code, 0, "{}{}", clean.stdout, clean.stderr);
    assert!(
        clean.stdout.starts_with("OpenAPI source \"billing\" against tools:\n"),
        "{}",
        clean.stdout
    );
    assert!(clean.stdout.contains("ok        getInvoice") && clean.stdout.contains("unpinned  listInvoices"));

    // Lowering the mode is the operator's call, not drift; changing the schema is drift.
    fs::write(
        &file,
        text.replace("approval_mode: destructive", "approval_mode: local_write"),
    )
    .unwrap();
    let lowered = tools(dir.path(), &check);
    assert_eq!(lowered.code, 0, "{}{}", lowered.stdout, lowered.stderr);
    let get = dir.path().join("tools/getInvoice.yaml");
    let schema = fs::read_to_string(&get).unwrap();
    fs::write(&get, schema.replace("^inv_[a-z0-9]+$", "^.*$")).unwrap();
    let drifted = tools(dir.path(), &check);
    assert_eq!(drifted.code, 1, "{}{}", drifted.stdout, drifted.stderr);
    assert!(
        drifted.stdout.contains("drift     getInvoice")
            && drifted.stdout.contains("/properties/invoice_id/pattern")
            && drifted.stdout.contains("FAILED: 1 drifted"),
        "{}",
        drifted.stdout
    );

    let again = tools(dir.path(), &pin);
    assert_eq!(again.code, 2, "{}", again.stdout);
    assert!(again.stderr.contains("refusing to overwrite"), "{}", again.stderr);
    let forced = tools(dir.path(), &[&pin[..], &["--force"]].concat());
    assert_eq!(forced.code, 0, "{}", forced.stderr);
    assert!(forced.stdout.contains("re-pinned getInvoice"), "{}", forced.stdout);
}

#[test]
fn every_origin_is_read_and_input_errors_are_clear() {
    let dir = scratch();
    // Both kinds may be given; each is read, so a missing spec is named.
    let both = tools(dir.path(), &["list", "--openapi", "billing.yaml", "--server", "x.yaml"]);
    assert_eq!(both.code, 2, "{}", both.stdout);
    assert!(both.stderr.contains("x.yaml"), "{}", both.stderr);
    let neither = tools(dir.path(), &["list"]);
    assert_eq!(neither.code, 2, "{}", neither.stdout);
    assert!(
        neither
            .stderr
            .contains("no tool source: give --server SPEC or --openapi SOURCE, or declare them under [sources]"),
        "{}",
        neither.stderr
    );

    let unknown = tools(dir.path(), &["pin", "--openapi", "billing.yaml", "--tool", "refund"]);
    assert_eq!(unknown.code, 2, "{}", unknown.stdout);
    assert!(
        unknown
            .stderr
            .contains("OpenAPI source \"billing\" does not serve a tool named \"refund\""),
        "{}",
        unknown.stderr
    );

    fs::write(dir.path().join("broken.openapi.yaml"), "openapi: 3.1.0\ninfo: [\n").unwrap();
    fs::write(
        dir.path().join("broken.yaml"),
        "name: broken\ndocument: broken.openapi.yaml\n",
    )
    .unwrap();
    let broken = tools(dir.path(), &["list", "--openapi", "broken.yaml"]);
    assert_eq!(broken.code, 2, "{}", broken.stdout);
    assert!(
        broken.stderr.contains("failed to parse broken.openapi.yaml:"),
        "{}",
        broken.stderr
    );
}
