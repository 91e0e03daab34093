//! Loading a policy bundle: `schema.cedarschema`, every `*.cedar` file under
//! the directory, and `approvers.yaml`. Strict validation happens here, so an
//! engine that exists is an engine whose policies type-check.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use cedar_policy::{Effect, Policy, PolicyId, PolicySet, Schema, SchemaFragment, ValidationMode, Validator};
use contextos_core::{Digest, ErrorKind, Kind, digest_of};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::builtin::{DeclaredAttributes, GENERATED_SCHEMA_FILE, LEGACY_TOOL_SCHEMA_FILE, generated_schema};
use super::diagnostic::{
    SourceDiagnostic, effect_offset, line_col, miette_text, statement_starts, string_literals, yaml_list_item,
};
use super::tool_schema::ARGUMENTS;

/// Whether a policy decides or is only observed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyMode {
    /// Decides (the default).
    Enforce,
    /// `@mode("shadow")`: evaluated and reported, never decides.
    Shadow,
}

/// Whether a policy permits or forbids what it matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyEffect {
    /// `permit`.
    Permit,
    /// `forbid`.
    Forbid,
}

impl PolicyEffect {
    /// The Cedar keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Permit => "permit",
            Self::Forbid => "forbid",
        }
    }
}

impl std::fmt::Display for PolicyEffect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

impl From<Effect> for PolicyEffect {
    fn from(effect: Effect) -> Self {
        match effect {
            Effect::Permit => Self::Permit,
            Effect::Forbid => Self::Forbid,
        }
    }
}

/// What the bundle knows about one policy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyInfo {
    /// The `@id`.
    pub id: String,
    /// Permit or forbid.
    pub effect: PolicyEffect,
    /// Enforced or shadow.
    pub mode: PolicyMode,
    /// File it was loaded from, as shown to the user.
    pub file: String,
    /// 1-based line of the policy's `permit` / `forbid` keyword.
    pub line: usize,
    /// Whether a condition reads a tool call's arguments (`context.arguments`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reads_arguments: bool,
}

/// A policy bundle that failed to load; each diagnostic points at a file, line and column.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("policy bundle {dir} is invalid ({} problem{})", .diagnostics.len(), if .diagnostics.len() == 1 { "" } else { "s" })]
pub struct PolicyLoadError {
    /// The bundle directory.
    pub dir: String,
    /// Every problem found.
    #[related]
    pub diagnostics: Vec<SourceDiagnostic>,
}

impl Kind for PolicyLoadError {
    /// Always an input error (exit 2).
    fn kind(&self) -> ErrorKind {
        ErrorKind::Input
    }
}

impl PolicyLoadError {
    fn single(dir: &str, diag: SourceDiagnostic) -> Self {
        Self {
            dir: dir.to_string(),
            diagnostics: vec![diag],
        }
    }
}

/// `approvers.yaml` in a policy bundle: the approver roles the engine may ask for.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
struct ApproversFile {
    /// Document format version (1).
    format_version: u32,
    /// Approver roles. A request denied without an approval is re-evaluated as
    /// if each role had approved; the roles that turn it into an allow make the
    /// outcome `approval_required`, and the gateway asks an approver holding one.
    roles: Vec<String>,
}

/// The JSON Schema of `approvers.yaml`.
#[cfg(feature = "schema")]
pub fn approvers_schema() -> schemars::Schema {
    schemars::schema_for!(ApproversFile)
}

/// The parsed, validated contents of a policy directory.
#[derive(Debug)]
pub(crate) struct LoadedBundle {
    pub schema: Schema,
    pub enforced: PolicySet,
    pub shadow: PolicySet,
    pub policies: Vec<PolicyInfo>,
    pub approver_roles: Vec<String>,
    pub digest: Digest,
    pub warnings: Vec<SourceDiagnostic>,
}

fn display(dir_display: &str, rel: &Path) -> String {
    let rel = rel.to_string_lossy().replace('\\', "/");
    if dir_display.is_empty() || dir_display == "." {
        rel
    } else {
        format!("{}/{rel}", dir_display.trim_end_matches('/'))
    }
}

fn read(dir_display: &str, path: &Path, shown: &str) -> Result<String, PolicyLoadError> {
    fs::read_to_string(path).map_err(|e| {
        PolicyLoadError::single(
            dir_display,
            SourceDiagnostic::error(shown, format!("cannot read file: {e}")),
        )
    })
}

fn cedar_files(root: &Path, rel: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<_> = fs::read_dir(root.join(rel))?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let rel_path = rel.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            cedar_files(root, &rel_path, out)?;
        } else if rel_path.extension().is_some_and(|e| e == "cedar") {
            out.push(rel_path);
        }
    }
    Ok(())
}

pub(crate) fn load_bundle(dir: &Path, tool_actions: Option<&str>) -> Result<LoadedBundle, PolicyLoadError> {
    let dir_display = dir.to_string_lossy().replace('\\', "/");
    let dir_display = dir_display.trim_end_matches('/').to_string();
    let (schema_text, schema) = load_schema(dir, &dir_display, tool_actions)?;

    // Policies.
    let mut files = Vec::new();
    if let Err(e) = cedar_files(dir, Path::new(""), &mut files) {
        return Err(PolicyLoadError::single(
            &dir_display,
            SourceDiagnostic::error(&dir_display, format!("cannot list policy files: {e}")),
        ));
    }
    let mut bundle = Collected::new();
    let mut read_files = Vec::new();
    for rel in files {
        let shown = display(&dir_display, &rel);
        let text = read(&dir_display, &dir.join(&rel), &shown)?;
        // An empty file (whitespace only) is no policy file: neither parsed nor part of the digest.
        if text.trim().is_empty() {
            continue;
        }
        bundle.add_file(shown, text);
        read_files.push(rel);
    }
    let files = read_files;
    if files.is_empty() {
        bundle
            .diagnostics
            .push(SourceDiagnostic::error(&dir_display, "no *.cedar policy files found"));
    }
    let warnings = bundle.validate(&schema);
    let approvers = bundle.add_approvers(dir, &dir_display)?;
    if let Some(roles) = &approvers {
        bundle.check_roles(roles, &display(&dir_display, Path::new("approvers.yaml")));
    }
    let approver_roles = approvers.unwrap_or_default();

    let Collected {
        sources,
        policies,
        enforced,
        shadow,
        diagnostics,
        ..
    } = bundle;
    if !diagnostics.is_empty() {
        return Err(PolicyLoadError {
            dir: dir_display,
            diagnostics,
        });
    }
    let digest = bundle_digest(&dir_display, &schema_text, &sources)?;
    Ok(LoadedBundle {
        schema,
        enforced,
        shadow,
        policies,
        approver_roles,
        digest,
        warnings,
    })
}

/// The bundle's `schema.cedarschema` (the deployment's own types) plus the
/// generated `ContextOS` namespace: composed with `tool_actions` when given
/// (a deployment generates them from its catalog), else the bundle's
/// committed `contextos.generated.cedarschema`, else composed without tools.
/// Returns their text and the parsed schema.
fn load_schema(dir: &Path, dir_display: &str, tool_actions: Option<&str>) -> Result<(String, Schema), PolicyLoadError> {
    let schema_shown = display(dir_display, Path::new("schema.cedarschema"));
    let generated_shown = display(dir_display, Path::new(GENERATED_SCHEMA_FILE));
    let legacy = dir.join(LEGACY_TOOL_SCHEMA_FILE);
    if legacy.is_file() {
        return Err(PolicyLoadError::single(
            dir_display,
            SourceDiagnostic::error(
                &display(dir_display, Path::new(LEGACY_TOOL_SCHEMA_FILE)),
                "generated by an older release",
            )
            .help(format!(
                "the runtime's types moved to the ContextOS namespace: delete this file, keep only your own types in \
                     {schema_shown} and run `contextos policy schema --write` to generate {generated_shown}"
            )),
        ));
    }
    let schema_text = user_schema_text(dir, dir_display)?;
    let fragment = |shown: &str, text: &str| {
        SchemaFragment::from_cedarschema_str(text)
            .map(|(fragment, _warnings)| fragment)
            .map_err(|err| PolicyLoadError::single(dir_display, SourceDiagnostic::from_miette(shown, text, &err)))
    };
    let user = fragment(&schema_shown, &schema_text)?;
    let generated_path = dir.join(GENERATED_SCHEMA_FILE);
    let generated_text = match tool_actions {
        None if generated_path.is_file() => read(dir_display, &generated_path, &generated_shown)?,
        _ => generated_schema(
            &declared_attributes(dir_display, &schema_shown, &schema_text)?,
            tool_actions.unwrap_or(""),
        ),
    };
    let fragments = vec![user, fragment(&generated_shown, &generated_text)?];
    match Schema::from_schema_fragments(fragments) {
        Ok(schema) => Ok((format!("{schema_text}{generated_text}"), schema)),
        Err(err) => Err(PolicyLoadError::single(
            dir_display,
            SourceDiagnostic::error(&schema_shown, miette_text(&err)).help(format!(
                "{schema_shown} declares the deployment's own types (in a namespace of its own); the runtime's \
                 types are in {generated_shown}, and the two must make one schema"
            )),
        )),
    }
}

/// The text of the bundle's `schema.cedarschema`.
fn user_schema_text(dir: &Path, dir_display: &str) -> Result<String, PolicyLoadError> {
    let schema_shown = display(dir_display, Path::new("schema.cedarschema"));
    let schema_path = dir.join("schema.cedarschema");
    if !schema_path.is_file() {
        return Err(PolicyLoadError::single(
            dir_display,
            SourceDiagnostic::error(&schema_shown, "missing Cedar schema").help(
                "every policy bundle has a schema.cedarschema with the deployment's own types (it may be empty); \
                 policies are validated against it and the runtime's types in strict mode",
            ),
        ));
    }
    read(dir_display, &schema_path, &schema_shown)
}

/// The attribute types the deployment's schema text declares.
fn declared_attributes(dir_display: &str, shown: &str, text: &str) -> Result<DeclaredAttributes, PolicyLoadError> {
    let located = |message: String| PolicyLoadError::single(dir_display, SourceDiagnostic::error(shown, message));
    let (fragment, _) = SchemaFragment::from_cedarschema_str(text).map_err(|e| located(miette_text(&e)))?;
    DeclaredAttributes::of(fragment).map_err(located)
}

/// The generated `ContextOS` namespace for the bundle in `dir` with
/// `tool_actions` (what `contextos policy schema` prints or writes).
pub(crate) fn generated_schema_for(dir: &Path, tool_actions: &str) -> Result<String, PolicyLoadError> {
    let dir_display = dir.to_string_lossy().replace('\\', "/");
    let schema_shown = display(&dir_display, Path::new("schema.cedarschema"));
    let text = user_schema_text(dir, &dir_display)?;
    Ok(generated_schema(
        &declared_attributes(&dir_display, &schema_shown, &text)?,
        tool_actions,
    ))
}

/// Digest over file contents keyed by their path inside the bundle, so the
/// same bundle has the same digest wherever it is checked out.
fn bundle_digest(
    dir_display: &str,
    schema_text: &str,
    sources: &BTreeMap<String, String>,
) -> Result<Digest, PolicyLoadError> {
    #[derive(Serialize)]
    struct BundleContent<'a> {
        schema: &'a str,
        files: &'a BTreeMap<String, String>,
    }
    let prefix = if dir_display.is_empty() {
        String::new()
    } else {
        format!("{dir_display}/")
    };
    let relative: BTreeMap<String, String> = sources
        .iter()
        .map(|(k, v)| (k.strip_prefix(&prefix).unwrap_or(k).to_string(), v.clone()))
        .collect();
    digest_of(&BundleContent {
        schema: schema_text,
        files: &relative,
    })
    .map_err(|e| PolicyLoadError::single(dir_display, SourceDiagnostic::error(dir_display, e.to_string())))
}

/// What the bundle's files hold so far, and every problem found in them.
struct Collected {
    /// File texts by shown path (they feed the digest and locate diagnostics).
    sources: BTreeMap<String, String>,
    policies: Vec<PolicyInfo>,
    all: PolicySet,
    enforced: PolicySet,
    shadow: PolicySet,
    /// Where each `@id` was first defined (file, line).
    seen: BTreeMap<String, (String, usize)>,
    /// Every approver role a policy compares `context.approval.role` with.
    role_uses: Vec<RoleUse>,
    diagnostics: Vec<SourceDiagnostic>,
}

impl Collected {
    fn new() -> Self {
        Self {
            sources: BTreeMap::new(),
            policies: Vec::new(),
            all: PolicySet::new(),
            enforced: PolicySet::new(),
            shadow: PolicySet::new(),
            seen: BTreeMap::new(),
            role_uses: Vec::new(),
            diagnostics: Vec::new(),
        }
    }

    /// Parses one `*.cedar` file and adds its policies.
    fn add_file(&mut self, shown: String, text: String) {
        match PolicySet::from_str(&text) {
            Ok(parsed) => self.add_policies(&shown, &text, &parsed),
            Err(errs) => {
                let located = errs.iter().map(|e| SourceDiagnostic::from_miette(&shown, &text, e));
                self.diagnostics.extend(located);
            }
        }
        self.sources.insert(shown, text);
    }

    fn add_policies(&mut self, shown: &str, text: &str, parsed: &PolicySet) {
        let starts = statement_starts(text);
        if parsed.templates().next().is_some() {
            self.diagnostics.push(
                SourceDiagnostic::error(shown, "policy templates are not supported in a ContextOS bundle")
                    .in_text(text)
                    .help("write static policies; per-tenant variation belongs in entity attributes"),
            );
        }
        let mut in_file: Vec<_> = parsed.policies().collect();
        // Cedar names a file's policies policy0, policy1, … in source order.
        in_file.sort_by_key(|p| {
            p.id()
                .to_string()
                .trim_start_matches("policy")
                .parse::<usize>()
                .unwrap_or(usize::MAX)
        });
        let literals = string_literals(text);
        for (n, policy) in in_file.into_iter().enumerate() {
            let start = starts.get(n).map(|&s| effect_offset(text, s));
            // The structured form, once: what the policy reads is found there.
            let est = policy.to_json().ok();
            match self.add_policy(policy, est.as_ref(), shown, text, start) {
                Ok(()) => {
                    let body = start.unwrap_or(text.len())..starts.get(n + 1).copied().unwrap_or(text.len());
                    self.add_role_uses(policy, est.as_ref(), shown, text, &literals, body);
                }
                Err(diagnostic) => self.diagnostics.push(*diagnostic),
            }
        }
    }

    /// Notes the approver roles `policy` compares `context.approval.role`
    /// with, each located at its first string literal in `body` (the
    /// policy's text from its `permit` / `forbid` keyword on).
    fn add_role_uses(
        &mut self,
        policy: &Policy,
        est: Option<&serde_json::Value>,
        shown: &str,
        text: &str,
        literals: &[(usize, usize)],
        body: Range<usize>,
    ) {
        let mut roles = BTreeSet::new();
        if let Some(est) = est {
            compared_roles(est, &mut roles);
        }
        let policy_id = policy.annotation("id").unwrap_or_default();
        let mut uses: Vec<RoleUse> = roles
            .into_iter()
            .map(|role| {
                let quoted = format!("{role:?}");
                let span = literals
                    .iter()
                    .find(|&&(offset, len)| body.contains(&offset) && text.get(offset..offset + len) == Some(&quoted))
                    .copied();
                RoleUse {
                    role,
                    policy_id: policy_id.to_string(),
                    file: shown.to_string(),
                    span,
                }
            })
            .collect();
        uses.sort_by_key(|u| u.span.map_or(usize::MAX, |(offset, _)| offset));
        self.role_uses.extend(uses);
    }

    /// Cross-checks `approvers.yaml` (`roles`, shown as `approvers_shown`)
    /// with the policies: a role a policy accepts must be listed, and a
    /// listed role must be accepted by some policy (enforced or shadow).
    fn check_roles(&mut self, roles: &[String], approvers_shown: &str) {
        for used in &self.role_uses {
            if roles.contains(&used.role) {
                continue;
            }
            let text = self.sources.get(&used.file).map_or("", String::as_str);
            self.diagnostics.push(
                SourceDiagnostic::error(
                    &used.file,
                    format!("approver role {:?} is not listed in {approvers_shown}", used.role),
                )
                .in_text(text)
                .at(used.span)
                .label(format!(
                    "`{}` compares context.approval.role with this role",
                    used.policy_id
                ))
                .help(
                    "add it to approvers.yaml: the engine asks only the roles listed there, \
                     so no approver holding this role would ever be asked",
                ),
            );
        }
        let used: BTreeSet<&str> = self.role_uses.iter().map(|u| u.role.as_str()).collect();
        let text = self.sources.get(approvers_shown).map_or("", String::as_str);
        for role in roles.iter().filter(|r| !used.contains(r.as_str())) {
            self.diagnostics.push(
                SourceDiagnostic::error(
                    approvers_shown,
                    format!("approver role {role:?} is mentioned by no policy"),
                )
                .in_text(text)
                .at(yaml_list_item(text, "roles", role))
                .label("no policy compares context.approval.role with this role")
                .help(format!(
                    "an approval by this role could never turn a denial into an allow; remove it, \
                     or write the policy that accepts it (context.approval.role == {role:?})"
                )),
            );
        }
    }

    /// Checks a policy's annotations and adds it to the enforced or shadow
    /// set; `start` is the offset of its `permit` / `forbid` keyword.
    fn add_policy(
        &mut self,
        policy: &Policy,
        est: Option<&serde_json::Value>,
        shown: &str,
        text: &str,
        start: Option<usize>,
    ) -> Result<(), Box<SourceDiagnostic>> {
        let span = start.map(|s| (s, text[s..].find(['(', '\n']).unwrap_or(1).max(1)));
        let line = start.map_or(0, |s| line_col(text, s).0);
        let here = |message: String| SourceDiagnostic::error(shown, message).in_text(text).at(span);
        let Some(id) = policy.annotation("id").map(str::to_string) else {
            return Err(here("policy is missing an @id annotation".into())
                .help("add @id(\"area.what-it-does\") on the line before permit/forbid; ids name policies in decisions, tests and coverage")
                .label("this policy has no @id")
                .into());
        };
        if id.is_empty() || id.chars().any(char::is_whitespace) {
            return Err(here(format!("policy @id {id:?} must be non-empty and contain no whitespace")).into());
        }
        if let Some((first_file, first_line)) = self.seen.get(&id) {
            return Err(here(format!(
                "duplicate policy @id {id:?}, first defined at {first_file}:{first_line}"
            ))
            .help("policy ids are unique across the bundle")
            .into());
        }
        let mode = match policy.annotation("mode") {
            None | Some("enforce") => PolicyMode::Enforce,
            Some("shadow") => PolicyMode::Shadow,
            Some(other) => {
                return Err(here(format!("unknown @mode {other:?}"))
                    .help("expected @mode(\"shadow\") or @mode(\"enforce\") (the default)")
                    .into());
            }
        };
        self.seen.insert(id.clone(), (shown.to_string(), line));
        let renamed = policy.new_id(PolicyId::new(&id));
        let target = if mode == PolicyMode::Shadow {
            &mut self.shadow
        } else {
            &mut self.enforced
        };
        // Ids are unique (checked above), so adding cannot fail.
        if target.add(renamed.clone()).is_err() || self.all.add(renamed).is_err() {
            return Err(here(format!("cannot add policy {id:?} to the bundle")).into());
        }
        self.policies.push(PolicyInfo {
            id,
            effect: policy.effect().into(),
            mode,
            file: shown.to_string(),
            line,
            reads_arguments: est.is_some_and(reads_arguments),
        });
        Ok(())
    }

    /// Strict validation of the whole bundle against the schema: errors join
    /// the diagnostics, warnings are returned.
    fn validate(&mut self, schema: &Schema) -> Vec<SourceDiagnostic> {
        let file_of: BTreeMap<&str, &str> = self.policies.iter().map(|p| (p.id.as_str(), p.file.as_str())).collect();
        let locate = |policy_id: &PolicyId, diag: &dyn miette::Diagnostic| {
            let file = file_of.get(policy_id.to_string().as_str()).copied().unwrap_or("");
            let text = self.sources.get(file).map_or("", String::as_str);
            SourceDiagnostic::from_miette(file, text, diag)
        };
        let result = Validator::new(schema.clone()).validate(&self.all, ValidationMode::Strict);
        let errors: Vec<_> = result.validation_errors().map(|e| locate(e.policy_id(), e)).collect();
        let warnings = result.validation_warnings().map(|w| locate(w.policy_id(), w)).collect();
        self.diagnostics.extend(errors);
        warnings
    }

    /// Reads the approver roles from `approvers.yaml` (none when the bundle
    /// has no such file); `None` when the file is invalid.
    fn add_approvers(&mut self, dir: &Path, dir_display: &str) -> Result<Option<Vec<String>>, PolicyLoadError> {
        let approvers_shown = display(dir_display, Path::new("approvers.yaml"));
        let approvers_path = dir.join("approvers.yaml");
        let mut approver_roles = None;
        if !approvers_path.is_file() {
            return Ok(Some(Vec::new()));
        }
        let text = read(dir_display, &approvers_path, &approvers_shown)?;
        let problem = |message: String| SourceDiagnostic::error(&approvers_shown, message).in_text(&text);
        match contextos_core::parse_yaml::<ApproversFile>(&approvers_shown, &text) {
            Ok(file) if file.format_version == 1 => approver_roles = Some(file.roles),
            Ok(file) => self.diagnostics.push(problem(format!(
                "unsupported format_version {}, expected 1",
                file.format_version
            ))),
            Err(e) => self
                .diagnostics
                .push(problem(e.message).help("expected `format_version: 1` and `roles: [role, ...]`")),
        }
        self.sources.insert(approvers_shown, text);
        Ok(approver_roles)
    }
}

/// A policy comparing `context.approval.role` with a role literal.
struct RoleUse {
    role: String,
    policy_id: String,
    /// The policy's file, as shown.
    file: String,
    /// The literal in the file, when found.
    span: Option<(usize, usize)>,
}

/// Collects the string literals that `context.approval.role` is compared
/// with anywhere in a policy's structured (JSON) form: `==` and `!=` with a
/// literal, `contains` / `containsAny` / `containsAll` between a set holding
/// the role and a set of literals, or a set of literals and the role. The
/// empty string (the role of an approval not granted) is not a role.
fn compared_roles(expr: &Value, roles: &mut BTreeSet<String>) {
    match expr {
        Value::Object(map) => {
            for (op, operands) in map {
                if ["==", "!=", "contains", "containsAny", "containsAll"].contains(&op.as_str())
                    && let (Some(left), Some(right)) = (operands.get("left"), operands.get("right"))
                {
                    for (role_side, other) in [(left, right), (right, left)] {
                        if holds_role(role_side) {
                            roles.extend(string_values(other).filter(|r| !r.is_empty()).map(str::to_string));
                        }
                    }
                }
                compared_roles(operands, roles);
            }
        }
        Value::Array(items) => items.iter().for_each(|item| compared_roles(item, roles)),
        _ => {}
    }
}

/// `context.approval.role`, or a set literal holding it.
fn holds_role(expr: &Value) -> bool {
    let is_role = |e: &Value| {
        attribute_of(e, "role")
            .and_then(|approval| attribute_of(approval, "approval"))
            .is_some_and(|context| context.get("Var").and_then(Value::as_str) == Some("context"))
    };
    is_role(expr)
        || expr
            .get("Set")
            .and_then(Value::as_array)
            .is_some_and(|set| set.iter().any(is_role))
}

/// `x` when `expr` is `x.name`.
fn attribute_of<'a>(expr: &'a Value, name: &str) -> Option<&'a Value> {
    let access = expr.get(".")?;
    (access.get("attr")? == name).then(|| access.get("left")).flatten()
}

/// The string literals of a literal expression or a set literal.
fn string_values(expr: &Value) -> impl Iterator<Item = &str> {
    let one = expr.get("Value").and_then(Value::as_str);
    let set = expr.get("Set").and_then(Value::as_array).into_iter().flatten();
    one.into_iter()
        .chain(set.filter_map(|item| item.get("Value").and_then(Value::as_str)))
}

/// Whether a policy's JSON form reads `context.arguments` (an attribute
/// access or a `has` test on it).
fn reads_arguments(est: &serde_json::Value) -> bool {
    use serde_json::Value;
    match est {
        Value::Object(map) => {
            let on_context_arguments =
                |node: Option<&Value>| node.is_some_and(|n| n["left"]["Var"] == "context" && n["attr"] == ARGUMENTS);
            on_context_arguments(map.get("."))
                || on_context_arguments(map.get("has"))
                || map.values().any(reads_arguments)
        }
        Value::Array(items) => items.iter().any(reads_arguments),
        _ => false,
    }
}
