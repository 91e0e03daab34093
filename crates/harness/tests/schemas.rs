//! The published schemas are right, not just present: every shipped file of
//! each kind validates against its schema with a real JSON Schema validator
//! (the one the tool gateway uses), a misspelled field is rejected, and each
//! shipped file's first line points editors at its schema.
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use std::path::{Path, PathBuf};

use contextos_harness::FileKind;
use serde_json::Value;

/// The repository root.
fn repo() -> PathBuf {
    contextos_testkit::repo()
}

/// Every file under `dir` (relative to the repository), sorted, skipping
/// installed packages.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(repo().join(dir))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    entries.sort();
    for name in entries {
        let rel = dir.join(&name);
        if name == "node_modules" {
            continue;
        }
        if repo().join(&rel).is_dir() {
            walk(&rel, out);
        } else {
            out.push(rel);
        }
    }
}

/// The kind of a shipped file, `None` for files no user writes by hand
/// (recorded fixtures, built packs, Cedar files, keys, npm manifests).
fn kind_of(rel: &Path) -> Option<FileKind> {
    if let Some(kind) = FileKind::of_path(rel) {
        return Some(kind);
    }
    let parts: Vec<&str> = rel.iter().map(|p| p.to_str().unwrap()).collect();
    match parts.as_slice() {
        ["scenarios", _, "fixtures", ..] | ["runtime", "examples", _, "fixtures", ..] => None,
        _ => {
            let ext = rel.extension().and_then(|e| e.to_str()).unwrap_or("");
            let handwritten_format = matches!(ext, "yaml" | "yml" | "toml");
            assert!(
                !handwritten_format,
                "{} is a YAML or TOML file of no known kind: give it a FileKind",
                rel.display()
            );
            None
        }
    }
}

/// Every shipped file that has a kind.
fn shipped() -> Vec<(PathBuf, FileKind)> {
    let mut files = Vec::new();
    for dir in ["runtime", "policies", "scenarios", "tests/peers"] {
        walk(Path::new(dir), &mut files);
    }
    files
        .into_iter()
        .filter_map(|rel| kind_of(&rel).map(|kind| (rel, kind)))
        .collect()
}

/// A document as the JSON value its schema describes.
fn document(kind: FileKind, file: &str, text: &str) -> Value {
    if kind.is_toml() {
        toml::from_str(text).unwrap()
    } else {
        contextos_core::parse_yaml(file, text).unwrap()
    }
}

/// The schema violations of `doc`, one line each.
fn violations(kind: FileKind, doc: &Value) -> Vec<String> {
    let validator = jsonschema::validator_for(&kind.schema()).unwrap();
    validator
        .iter_errors(doc)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

#[test]
fn every_shipped_file_validates_against_its_schema() {
    let files = shipped();
    for kind in FileKind::ALL {
        let count = files.iter().filter(|(_, k)| *k == kind).count();
        let shipped_kind = !matches!(kind, FileKind::McpServer | FileKind::OpenApiSource);
        assert_eq!(count > 0, shipped_kind, "{kind}: {count} shipped files");
    }
    for (rel, kind) in &files {
        let text = std::fs::read_to_string(repo().join(rel)).unwrap();
        let doc = document(*kind, &rel.display().to_string(), &text);
        let problems = violations(*kind, &doc);
        assert!(
            problems.is_empty(),
            "{} ({kind}):\n{}",
            rel.display(),
            problems.join("\n")
        );
    }
}

/// The examples the MCP and OpenAPI crates document (no such file ships):
/// each parses with the crate's own parser and validates against the schema.
#[test]
fn documented_server_and_source_specs_validate_and_parse() {
    let specs = [
        (
            FileKind::McpServer,
            "name: filesystem\ncommand: node\nargs: [server.js, /srv/data]\nenv: {}\ntimeout_secs: 30\n",
        ),
        (
            FileKind::McpServer,
            "name: everything\nurl: http://127.0.0.1:3001/mcp\nbearer_token_env: EVERYTHING_TOKEN\n",
        ),
        (
            FileKind::OpenApiSource,
            "name: billing\ndocument: billing.openapi.yaml\nbase_url: https://billing.internal/v1\n\
             get_mode: read_only\nwrite_mode: local_write\ntimeout_secs: 30\nmax_response_bytes: 1048576\n\
             headers: {x-client: contextos}\nbearer_token_env: BILLING_TOKEN\n",
        ),
    ];
    for (kind, text) in specs {
        match kind {
            FileKind::McpServer => drop(contextos_mcp::McpServerSpec::parse("spec.yaml", text).unwrap()),
            _ => drop(contextos_openapi::OpenApiSource::parse("source.yaml", text).unwrap()),
        }
        let problems = violations(kind, &document(kind, "spec.yaml", text));
        assert!(problems.is_empty(), "{kind}:\n{}", problems.join("\n"));
    }
}

#[test]
fn a_misspelled_field_is_rejected_by_the_schema_as_by_the_parser() {
    let read = |rel: &str| std::fs::read_to_string(repo().join(rel)).unwrap();
    let case = "scenarios/customer-escalation/cases/order-status-lookup.yaml";
    let cases = [
        (FileKind::Case, case, "\nassertions:", "\nasertions:", "asertions"),
        (
            FileKind::Tool,
            "runtime/tools/issue_refund.yaml",
            "\napproval_mode:",
            "\naproval_mode:",
            "aproval_mode",
        ),
        (
            FileKind::Config,
            "runtime/contextos.toml",
            "\npolicies = ",
            "\npolices = ",
            "polices",
        ),
        (
            FileKind::PolicyTest,
            "policies/tests/tools.yaml",
            "\n    expect:",
            "\n    expects:",
            "expects",
        ),
        (
            FileKind::Approvers,
            "policies/approvers.yaml",
            "\nroles:",
            "\nrole:",
            "role",
        ),
    ];
    for (kind, rel, field, misspelled, name) in cases {
        let text = read(rel);
        assert!(text.contains(field), "{rel} has no {field:?}");
        let bad = text.replacen(field, misspelled, 1);
        let problems = violations(kind, &document(kind, rel, &bad));
        assert!(
            problems.iter().any(|p| p.contains(&format!("'{name}'"))),
            "{rel} with {name:?}: {problems:?}"
        );
    }
    // The parser says the same of the case file.
    let bad = read(case).replacen("\nassertions:", "\nasertions:", 1);
    let err = contextos_core::parse_yaml::<contextos_harness::CaseFile>(case, &bad).unwrap_err();
    assert!(err.to_string().contains("asertions"), "{err}");
}

#[test]
fn every_shipped_file_names_its_schema_on_its_first_line() {
    for (rel, kind) in shipped() {
        if kind == FileKind::Approvers {
            // approvers.yaml's bytes are part of the policy bundle digest every
            // packet records: a hint line would change every golden.
            continue;
        }
        let text = std::fs::read_to_string(repo().join(&rel)).unwrap();
        let first = text.lines().next().unwrap_or("");
        assert_eq!(first, kind.editor_hint_at(&rel), "{}: first line", rel.display());
        // The hint names a schema that exists.
        let schema = first.rsplit(['=', ' ']).next().unwrap();
        let schema = repo().join(rel.parent().unwrap()).join(schema);
        assert!(schema.is_file(), "{}", schema.display());
    }
}

/// Every object with named fields, at any depth, in `schema`, whose
/// `additionalProperties` is not `false`: its JSON pointer.
fn open_objects(schema: &Value, at: &str, out: &mut Vec<String>) {
    match schema {
        Value::Object(map) => {
            if map.contains_key("properties") && map.get("additionalProperties") != Some(&Value::Bool(false)) {
                out.push(at.to_string());
            }
            for (key, value) in map {
                open_objects(value, &format!("{at}/{key}"), out);
            }
        }
        Value::Array(items) => {
            for (i, value) in items.iter().enumerate() {
                open_objects(value, &format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// Every struct a user writes is `deny_unknown_fields`, so every object its
/// schema describes must refuse unknown keys too (an editor then flags a typo
/// anywhere in the file, not only at the top).
#[test]
fn every_object_in_every_schema_refuses_unknown_fields() {
    for kind in FileKind::ALL {
        let mut open = Vec::new();
        open_objects(&kind.schema(), "", &mut open);
        assert!(
            open.is_empty(),
            "{kind}: objects without additionalProperties: false at {open:?}"
        );
    }
}
