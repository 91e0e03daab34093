//! `contextos scenario check`: a loaded suite's names resolved against the
//! deployment it runs on, before anything runs. Tool names (in assertions,
//! script tool results and script approvals) must be tool contracts, policy
//! ids must be `@id`s of the bundle, approver roles must be in
//! `approvers.yaml` (or be held by one of the suite's users: an approval by
//! someone who may not approve is what some cases test); each problem names
//! its file, line and column, what was found and what is known.
//!
//! Positions come from a second, span-keeping read of each file (the typed
//! read in [`crate::load_suite`] has already refused anything malformed).

use std::collections::BTreeSet;
use std::fmt;
use std::path::Path;

use contextos_core::{DocumentError, parse_yaml};
use contextos_runtime::Deployment;
use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::suite::{CaseNames, CaseScript, HarnessError, Suite};

/// How many close names a problem suggests.
const SUGGESTIONS: usize = 3;

/// One thing `scenario check` found wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file, as shown to the user.
    pub file: String,
    /// 1-based line, when known.
    pub line: Option<u64>,
    /// 1-based column, when known.
    pub column: Option<u64>,
    /// The field path (`assertions[2].tool`, `approvals[0].role`).
    pub field: String,
    /// What was found and what is known.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        write!(f, ": {}: {}", self.field, self.message)
    }
}

impl From<DocumentError> for Problem {
    fn from(e: DocumentError) -> Self {
        Self {
            file: e.file,
            line: e.line,
            column: e.column,
            field: "(document)".to_owned(),
            message: e.message,
        }
    }
}

/// What `scenario check` checked, and what it found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SuiteCheck {
    /// Every problem, in file order.
    pub problems: Vec<Problem>,
    /// Cases checked.
    pub cases: usize,
    /// Authoring scripts checked.
    pub scripts: usize,
    /// Distinct tool names resolved to contracts.
    pub tools: BTreeSet<String>,
    /// Distinct policy ids resolved to `@id`s of the bundle.
    pub policy_ids: BTreeSet<String>,
    /// Distinct approver roles resolved to `approvers.yaml`.
    pub roles: BTreeSet<String>,
    /// `answer_regex` patterns (compiled by the loader, with eval's engine).
    pub patterns: usize,
}

/// The names a suite may use: the deployment's.
struct Known {
    tools: Vec<String>,
    policy_ids: Vec<String>,
    roles: Vec<String>,
    /// Roles the suite's users hold: an approval by one of them that is not
    /// an approver role is deliberate (the gateway refusing it is the test).
    user_roles: BTreeSet<String>,
}

/// A case's `script:`: a path (checked as its own file) or the script itself.
#[derive(Debug, Default)]
enum CaseScriptNames {
    /// No script, or a path to one.
    #[default]
    Elsewhere,
    /// A script written in the case.
    Inline(ScriptNames),
}

impl<'de> Deserialize<'de> for CaseScriptNames {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NamesVisitor;
        impl<'de> serde::de::Visitor<'de> for NamesVisitor {
            type Value = CaseScriptNames;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a script path or a script")
            }
            fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<CaseScriptNames, E> {
                Ok(CaseScriptNames::Elsewhere)
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<CaseScriptNames, A::Error> {
                let names = ScriptNames::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
                Ok(CaseScriptNames::Inline(names))
            }
        }
        deserializer.deserialize_any(NamesVisitor)
    }
}

/// The `script:` of a case file, when the case holds its script.
#[derive(Debug, Default, Deserialize)]
struct CaseWithScript {
    #[serde(default)]
    script: CaseScriptNames,
}

/// The parts of a script that name things, with positions.
#[derive(Debug, Default, Deserialize)]
struct ScriptNames {
    #[serde(default)]
    model: Vec<ModelNames>,
    #[serde(default)]
    tools: Vec<ResultNames>,
    #[serde(default)]
    approvals: Vec<ApprovalNames>,
}

#[derive(Debug, Default, Deserialize)]
struct ModelNames {
    #[serde(default)]
    tool_calls: Vec<CallNames>,
}

#[derive(Debug, Default, Deserialize)]
struct CallNames {
    #[serde(default)]
    name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct ResultNames {
    #[serde(default)]
    tool: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
struct ApprovalNames {
    #[serde(default)]
    tool: Option<Spanned<String>>,
    #[serde(default)]
    role: Option<Spanned<String>>,
}

/// The `(file, line, column)` of a value.
fn at(file: &str, value: &Spanned<String>) -> (String, Option<u64>, Option<u64>) {
    let line = value.referenced.line();
    let column = value.referenced.column();
    // Line 0 means the parser could not say (see `serde_saphyr::Spanned`).
    (
        file.to_owned(),
        (line > 0).then_some(line),
        (line > 0).then_some(column),
    )
}

fn listed(names: &[String]) -> String {
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}

/// "did you mean `x`? " when some known name is close to `typed`.
fn nearest(typed: &str, known: &[String]) -> String {
    let close = contextos_store::closest_ids(typed, known, SUGGESTIONS);
    if close.is_empty() {
        String::new()
    } else {
        let close: Vec<String> = close.iter().map(|c| format!("`{c}`")).collect();
        format!("did you mean {}? ", close.join(" or "))
    }
}

/// Collects problems and what resolved, for one file at a time.
struct Checker<'a> {
    known: &'a Known,
    out: SuiteCheck,
}

impl Checker<'_> {
    fn problem(&mut self, file: &str, value: &Spanned<String>, field: String, message: String) {
        let (file, line, column) = at(file, value);
        self.out.problems.push(Problem {
            file,
            line,
            column,
            field,
            message,
        });
    }

    /// A tool name must be a contract (or, in a case, a tool its script's
    /// model deliberately calls off contract).
    fn tool(&mut self, file: &str, value: &Spanned<String>, field: String, off_contract: &BTreeSet<String>) {
        let name = &value.value;
        if self.known.tools.contains(name) {
            self.out.tools.insert(name.clone());
        } else if !off_contract.contains(name) {
            let message = format!(
                "tool `{name}` is not a contract of this deployment; {}known: {}",
                nearest(name, &self.known.tools),
                listed(&self.known.tools)
            );
            self.problem(file, value, field, message);
        }
    }

    fn policy_id(&mut self, file: &str, value: &Spanned<String>, field: String) {
        let id = &value.value;
        if self.known.policy_ids.contains(id) {
            self.out.policy_ids.insert(id.clone());
        } else {
            let message = format!(
                "policy id `{id}` is not an @id of the policy bundle; {}known: {}",
                nearest(id, &self.known.policy_ids),
                listed(&self.known.policy_ids)
            );
            self.problem(file, value, field, message);
        }
    }

    fn role(&mut self, file: &str, value: &Spanned<String>, field: String) {
        let role = &value.value;
        if self.known.roles.contains(role) {
            self.out.roles.insert(role.clone());
        } else if !self.known.user_roles.contains(role) {
            let message = format!(
                "approver role `{role}` is not in approvers.yaml; {}known: {}",
                nearest(role, &self.known.roles),
                listed(&self.known.roles)
            );
            self.problem(file, value, field, message);
        }
    }

    fn case(&mut self, file: &str, names: &CaseNames, off_contract: &BTreeSet<String>) {
        for (i, a) in names.assertions.iter().enumerate() {
            if let Some(tool) = &a.tool {
                self.tool(file, tool, format!("assertions[{i}].tool"), off_contract);
            }
            for (j, tool) in a.tools.iter().enumerate() {
                self.tool(file, tool, format!("assertions[{i}].tools[{j}]"), off_contract);
            }
            if let Some(id) = &a.policy_id {
                self.policy_id(file, id, format!("assertions[{i}].policy_id"));
            }
            if let Some(role) = &a.role {
                self.role(file, role, format!("assertions[{i}].role"));
            }
            if a.pattern.is_some() {
                self.out.patterns += 1;
            }
        }
    }

    fn script(&mut self, file: &str, names: &ScriptNames) {
        let none = BTreeSet::new();
        for (i, r) in names.tools.iter().enumerate() {
            if let Some(tool) = &r.tool {
                self.tool(file, tool, format!("tools[{i}].tool"), &none);
            }
        }
        for (i, a) in names.approvals.iter().enumerate() {
            if let Some(tool) = &a.tool {
                self.tool(file, tool, format!("approvals[{i}].tool"), &none);
            }
            if let Some(role) = &a.role {
                self.role(file, role, format!("approvals[{i}].role"));
            }
        }
    }
}

fn read(path: &Path) -> Result<String, HarnessError> {
    std::fs::read_to_string(path).map_err(|e| HarnessError::io("read", path, e))
}

/// Resolves every name `suite` (its cases and their scripts) uses against
/// `dep`. Problems are collected, not returned as errors: all of them are
/// reported at once. A script that does not parse is a problem too; an
/// unreadable file is an error.
pub fn check_suite(dep: &Deployment, suite: &Suite) -> Result<SuiteCheck, HarnessError> {
    let known = Known {
        tools: dep.catalog.tools().map(|t| t.contract.name.clone()).collect(),
        policy_ids: dep
            .policy
            .policies()
            .iter()
            .map(|p| p.id.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect(),
        roles: dep.policy.approver_roles().to_vec(),
        user_roles: suite
            .cases
            .iter()
            .flat_map(|c| c.envelope.run_context.user.roles.iter().cloned())
            .collect(),
    };
    let mut checker = Checker {
        known: &known,
        out: SuiteCheck::default(),
    };
    for case in &suite.cases {
        checker.out.cases += 1;
        let case_names: CaseNames = parse_yaml(&case.path, &read(Path::new(&case.path))?)?;
        let mut off_contract = BTreeSet::new();
        if case.inline_script.is_some() {
            checker.out.scripts += 1;
            let held: CaseWithScript = parse_yaml(&case.path, &read(Path::new(&case.path))?)?;
            if let CaseScriptNames::Inline(names) = held.script {
                off_contract.extend(
                    names
                        .model
                        .iter()
                        .flat_map(|m| &m.tool_calls)
                        .filter_map(|c| c.name.clone())
                        .filter(|n| !known.tools.contains(n)),
                );
                checker.script(&case.path, &names);
            }
        } else if let Some(script_path) = &case.script {
            checker.out.scripts += 1;
            let shown = script_path.display().to_string();
            // The typed read first: a script that does not parse is a problem.
            match CaseScript::load(script_path) {
                Err(HarnessError::Document(e)) => checker.out.problems.push(e.into()),
                Err(e) => return Err(e),
                Ok(_) => {
                    let names: ScriptNames = parse_yaml(&shown, &read(script_path)?)?;
                    // The model may call a tool that has no contract on purpose
                    // (the critic's replan is what such a case tests); the
                    // case's assertions may then name it.
                    off_contract.extend(
                        names
                            .model
                            .iter()
                            .flat_map(|m| &m.tool_calls)
                            .filter_map(|c| c.name.clone())
                            .filter(|n| !known.tools.contains(n)),
                    );
                    checker.script(&shown, &names);
                }
            }
        }
        checker.case(&case.path, &case_names, &off_contract);
    }
    checker
        .out
        .problems
        .sort_by(|a, b| (&a.file, a.line, a.column, &a.field).cmp(&(&b.file, b.line, b.column, &b.field)));
    Ok(checker.out)
}
