//! Policy tests: YAML files of requests and the outcome each must get.
//!
//! ```yaml
//! format_version: 1
//! entities_from: entities.json    # Cedar JSON entities, same directory
//! defaults:
//!   context: { tenant: { type: ContextOS::Tenant, id: acme }, safety_mode: standard, ... }
//! tests:
//!   - name: lookup inside the tenant is allowed
//!     principal: Agent::"triage-bot"
//!     action: lookup_customer            # a tool call is its tool's action
//!     resource: Tool::"lookup_customer"
//!     arguments: { customer_id: ACME-1 } # context.arguments
//!     context: { }                 # merged over defaults.context
//!     expect:
//!       outcome: allow
//!       determining: [tools.read-only-in-tenant]
//!       # errors: expected        # only when evaluation is meant to fail
//! ```
//!
//! Each test is a Cedar request plus an expectation, so a file converts
//! directly to the JSON that `cedar run-tests` reads.

use std::fs;
use std::path::Path;

use contextos_core::{
    DocumentError, ErrorKind, IoError, Kind, PolicyDecision, PolicyOutcome, parse_document, parse_yaml,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::engine::{PolicyEngine, RequestDocument, is_shadow_error};
use super::tool_schema::ARGUMENTS;
use contextos_fs::files_with_suffix;

/// A policy test file (`policies/tests/*.yaml`): Cedar requests and the
/// outcome each must get from the bundle.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
struct TestFile {
    /// Document format version (1).
    format_version: u32,
    /// A file of Cedar JSON entities, relative to this file, that every test sees.
    #[serde(default)]
    entities_from: Option<String>,
    /// Cedar JSON entities every test sees (besides those of `entities_from`).
    #[serde(default)]
    entities: Vec<Value>,
    /// What every test shares.
    #[serde(default)]
    defaults: Defaults,
    /// The tests, run in order.
    tests: Vec<TestCase>,
}

/// What every test of a file shares.
#[derive(Debug, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
struct Defaults {
    /// The Cedar request context every test starts from (a test's `context`
    /// is merged over it).
    #[serde(default)]
    context: serde_json::Map<String, Value>,
}

/// One policy test: a Cedar request and what it must get.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
struct TestCase {
    /// What the test checks (shown in reports; unique within the file).
    name: String,
    /// The principal, an entity uid such as `Agent::"triage-bot"`.
    principal: String,
    /// The action: a tool's name for a tool call, or a built-in action
    /// (`call_tool`, `use_pack`, `delegate`, `promote_memory`).
    action: String,
    /// The resource, an entity uid such as `Tool::"lookup_customer"`.
    resource: String,
    /// Request context fields, merged over the file's `defaults.context`.
    #[serde(default)]
    context: serde_json::Map<String, Value>,
    /// The tool call's arguments (`context.arguments`), for tool actions.
    #[serde(default)]
    arguments: Option<Value>,
    /// Cedar JSON entities this test sees besides the file's.
    #[serde(default)]
    entities: Vec<Value>,
    /// The outcome the request must get.
    expect: Expectation,
}

/// What a policy test expects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Expectation {
    /// The outcome the request must get.
    pub outcome: PolicyOutcome,
    /// Exactly these policies determine it (order does not matter), when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub determining: Option<Vec<String>>,
    /// Exactly these approver roles would permit it, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approver_roles: Option<Vec<String>>,
    /// Exactly these shadow policies would change it, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shadow: Option<Vec<String>>,
    /// `expected` when the test means evaluation to fail (and so deny, fail
    /// closed). Without it, an evaluation error fails the test: a deny that
    /// only an error produced is not the deny a policy author meant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors: Option<ErrorsExpectation>,
}

/// What a policy test says about evaluation errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ErrorsExpectation {
    /// Evaluation must fail.
    Expected,
}

/// The result of one policy test.
#[derive(Debug, Clone, Serialize)]
pub struct PolicyTestResult {
    /// Test file, as shown to the user.
    pub file: String,
    /// Test name.
    pub name: String,
    /// Whether every expectation held.
    pub passed: bool,
    /// What was expected.
    pub expected: Expectation,
    /// What the engine decided.
    pub actual: PolicyDecision,
    /// One line per unmet expectation.
    pub failures: Vec<String>,
}

/// Every policy test that ran, in file and declaration order.
#[derive(Debug, Clone, Serialize)]
pub struct PolicyTestReport {
    /// Results.
    pub results: Vec<PolicyTestResult>,
}

impl PolicyTestReport {
    /// Number of passing tests.
    pub fn passed(&self) -> usize {
        self.results.iter().filter(|r| r.passed).count()
    }

    /// Number of failing tests.
    pub fn failed(&self) -> usize {
        self.results.len() - self.passed()
    }
}

/// A policy test file that cannot be run.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum PolicyTestError {
    /// The file does not parse or has the wrong shape.
    #[error(transparent)]
    Document(#[from] DocumentError),
    /// A file or directory could not be read.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Io(#[from] IoError),
}

impl Kind for PolicyTestError {
    /// Always an input error (exit 2).
    fn kind(&self) -> ErrorKind {
        ErrorKind::Input
    }
}

/// The JSON Schema of policy test files (`policies/tests/*.yaml`).
#[cfg(feature = "schema")]
pub fn policy_test_schema() -> schemars::Schema {
    schemars::schema_for!(TestFile)
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn check(expected: &Expectation, actual: &PolicyDecision) -> Vec<String> {
    let mut failures = Vec::new();
    if expected.outcome != actual.outcome {
        failures.push(format!(
            "outcome: expected {}, got {} ({})",
            expected.outcome, actual.outcome, actual.reason
        ));
    }
    let compare = |what: &str, want: &Option<Vec<String>>, got: Vec<String>, failures: &mut Vec<String>| {
        if let Some(want) = want {
            let want = sorted(want.clone());
            let got = sorted(got);
            if want != got {
                failures.push(format!("{what}: expected {want:?}, got {got:?}"));
            }
        }
    };
    compare(
        "determining",
        &expected.determining,
        actual.determining_policies.clone(),
        &mut failures,
    );
    compare(
        "approver_roles",
        &expected.approver_roles,
        actual.approver_roles.clone(),
        &mut failures,
    );
    compare(
        "shadow",
        &expected.shadow,
        actual.shadow.iter().map(|s| s.policy_id.clone()).collect(),
        &mut failures,
    );
    let errors: Vec<&str> = actual
        .errors
        .iter()
        .map(String::as_str)
        .filter(|e| !is_shadow_error(e))
        .collect();
    match (expected.errors, errors.is_empty()) {
        (Some(ErrorsExpectation::Expected), true) => {
            failures.push("errors: expected an evaluation error, got none".to_string());
        }
        (None, false) => failures.push(format!(
            "errors: evaluation failed, so the request was denied (fail closed): {}; \
             if the test means that, add `errors: expected`",
            errors.join("; ")
        )),
        _ => {}
    }
    failures
}

fn read(path: &Path, shown: &str) -> Result<String, PolicyTestError> {
    Ok(fs::read_to_string(path).map_err(IoError::of("read", shown))?)
}

/// Runs every `*.yaml` / `*.yml` test file in `dir` (sorted by name) against `engine`.
pub fn run_policy_tests(engine: &PolicyEngine, dir: &Path) -> Result<PolicyTestReport, PolicyTestError> {
    let dir_shown = dir.to_string_lossy().trim_end_matches('/').to_string();
    let files = files_with_suffix(dir, &[".yaml", ".yml"]).map_err(IoError::of("read", &dir_shown))?;
    let names = files
        .iter()
        .filter_map(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned());
    let mut results = Vec::new();
    for name in names {
        let shown = format!("{dir_shown}/{name}");
        let file: TestFile = parse_yaml(&shown, &read(&dir.join(&name), &shown)?)?;
        if file.format_version != 1 {
            return Err(DocumentError::new(
                &shown,
                format!("unsupported format_version {}, expected 1", file.format_version),
            )
            .into());
        }
        let mut shared = Vec::new();
        if let Some(from) = &file.entities_from {
            // Untrusted input: only a plain file name in the same directory.
            if from.contains(['/', '\\']) || from.starts_with('.') {
                return Err(DocumentError::new(
                    &shown,
                    format!("entities_from {from:?} must name a file in the same directory"),
                )
                .into());
            }
            let from_shown = format!("{dir_shown}/{from}");
            shared = parse_document::<Vec<Value>>(&from_shown, &read(&dir.join(from), &from_shown)?)?;
        }
        shared.extend(file.entities.iter().cloned());
        for case in file.tests {
            let mut context = file.defaults.context.clone();
            contextos_core::merge_json(&mut context, &case.context);
            if let Some(arguments) = case.arguments {
                context.insert(ARGUMENTS.to_string(), arguments);
            }
            let mut entities = shared.clone();
            entities.extend(case.entities);
            let doc = RequestDocument {
                principal: case.principal,
                action: case.action,
                resource: case.resource,
                context,
                entities,
            };
            let (request, entities) = engine
                .request_from_document(&doc)
                .map_err(|e| DocumentError::new(&shown, format!("test {:?}: {e}", case.name)))?;
            let actual = engine.authorize(&request, &entities);
            let failures = check(&case.expect, &actual);
            results.push(PolicyTestResult {
                file: shown.clone(),
                name: case.name,
                passed: failures.is_empty(),
                expected: case.expect,
                actual,
                failures,
            });
        }
    }
    Ok(PolicyTestReport { results })
}
