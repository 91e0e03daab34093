//! `contextos schema` through the real binary: the committed `schemas/` are
//! what the code generates, and every kind prints, lists and writes.
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use std::collections::BTreeMap;
use std::path::Path;

mod common;
use common::{contextos_in, repo};

const KINDS: [&str; 12] = [
    "suite",
    "case",
    "script",
    "tool",
    "pack",
    "config",
    "approvers",
    "policy-test",
    "request",
    "mcp-server",
    "openapi-source",
    "entities",
];

/// Every file in `dir` by name, with its text.
fn files(dir: &Path) -> BTreeMap<String, String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let path = e.unwrap().path();
            let name = path.file_name().unwrap().to_str().unwrap().to_string();
            (name, std::fs::read_to_string(&path).unwrap())
        })
        .collect()
}

#[test]
fn committed_schemas_are_what_the_code_generates() {
    let out = tempfile::tempdir().unwrap();
    let written = out.path().join("new/schemas");
    let r = contextos_in(out.path(), &["schema", "--write", "new/schemas"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let expected: Vec<String> = KINDS
        .iter()
        .map(|k| format!("wrote new/schemas/{k}.schema.json"))
        .collect();
    assert_eq!(r.stdout.lines().collect::<Vec<_>>(), expected);

    let generated = files(&written);
    let committed = files(&repo().join("schemas"));
    let names = |m: &BTreeMap<String, String>| m.keys().cloned().collect::<Vec<_>>();
    assert_eq!(
        names(&committed),
        names(&generated),
        "schemas/ holds other files than the code generates: regenerate them with `cargo run -q -- schema --write schemas`"
    );
    for (name, text) in &generated {
        assert!(
            committed[name] == *text,
            "schemas/{name} is stale: regenerate them with `cargo run -q -- schema --write schemas`"
        );
    }
}

#[test]
fn each_kind_prints_its_committed_schema_and_scenario_is_case() {
    for kind in KINDS {
        let r = contextos_in(&repo(), &["schema", kind]);
        assert_eq!(r.code, 0, "{kind}: {}", r.stderr);
        let committed = std::fs::read_to_string(repo().join(format!("schemas/{kind}.schema.json"))).unwrap();
        assert_eq!(r.stdout, committed, "{kind}");
        let schema: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
        assert_eq!(
            schema["$schema"], "https://json-schema.org/draft/2020-12/schema",
            "{kind}"
        );
        // Every file type refuses unknown fields at the top level.
        assert_eq!(schema["additionalProperties"], false, "{kind}");
    }
    let scenario = contextos_in(&repo(), &["schema", "scenario"]);
    let case = contextos_in(&repo(), &["schema", "case"]);
    assert_eq!((scenario.code, &scenario.stdout), (0, &case.stdout));
}

#[test]
fn list_names_each_kind_its_schema_file_and_the_files_it_describes() {
    let r = contextos_in(&repo(), &["schema", "--list"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let rows: Vec<Vec<&str>> = r
        .stdout
        .lines()
        .map(|l| l.split_whitespace().take(2).collect())
        .collect();
    assert_eq!(rows.iter().map(|r| r[0]).collect::<Vec<_>>(), KINDS);
    assert!(
        rows.iter().all(|r| r[1] == format!("{}.schema.json", r[0])),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("runtime/contextos.toml"), "{}", r.stdout);
    assert!(r.stdout.contains("policies/tests/*.yaml"), "{}", r.stdout);
}

#[test]
fn an_unknown_kind_or_no_kind_is_a_usage_error_naming_the_kinds() {
    let r = contextos_in(&repo(), &["schema", "cases"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("invalid value 'cases'"), "{}", r.stderr);
    assert!(r.stderr.contains("policy-test"), "{}", r.stderr);
    let r = contextos_in(&repo(), &["schema"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    let r = contextos_in(&repo(), &["schema", "case", "--list"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
}

#[test]
fn write_replaces_stale_files_in_place() {
    let out = tempfile::tempdir().unwrap();
    std::fs::write(out.path().join("case.schema.json"), "stale").unwrap();
    let r = contextos_in(out.path(), &["schema", "--write", "."]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let committed = std::fs::read_to_string(repo().join("schemas/case.schema.json")).unwrap();
    assert_eq!(
        std::fs::read_to_string(out.path().join("case.schema.json")).unwrap(),
        committed
    );
    // No temporary files are left behind.
    assert_eq!(files(out.path()).len(), KINDS.len());
}
