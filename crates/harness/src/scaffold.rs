//! `contextos init` and `contextos new`: a working project from a template,
//! and one well-formed file at a time.
//!
//! A template holds only what a person writes (configuration, contracts,
//! policies, pack source, cases and their scripts). Everything derived from
//! those is made here with the same functions the commands use: a fresh key
//! pair, the built and signed pack, the generated Cedar namespace, the
//! recorded fixtures, the goldens and the baseline scorecard. So a new
//! project passes `contextos eval` and `contextos policy test` at once, and
//! nothing derived can be stale in the template.

use std::path::{Path, PathBuf};

use contextos_action::ToolCatalog;
use contextos_context::{artifact_bytes, build_pack_dir, sign_pack, write_artifact};
use contextos_core::IoError;
use contextos_runtime::{Deployment, RuntimeConfig};
use contextos_trust::{GENERATED_SCHEMA_FILE, PolicyEngine, SigningKey, generate_key_files, run_policy_tests};
use serde::Serialize;

use crate::golden::accept_goldens;
use crate::record::record_case;
use crate::runner::{RunOptions, run_suite};
use crate::suite::{HarnessError, Suite, load_suite};

/// A file of a template: its path in the project and its text.
type TemplateFile = (&'static str, &'static str);

macro_rules! template_files {
    ($root:literal: $($path:literal),* $(,)?) => {
        &[$(($path, include_str!(concat!($root, $path)))),*]
    };
}

/// The minimal template: an inventory assistant with one read and one write.
const MINIMAL: &[TemplateFile] = template_files!("../templates/minimal/":
    "runtime/contextos.toml",
    "runtime/entities.yaml",
    "runtime/tools/lookup_item.yaml",
    "runtime/tools/update_item.yaml",
    "runtime/packs/assistant/pack.yaml",
    "policies/schema.cedarschema",
    "policies/context.cedar",
    "policies/tools.cedar",
    "policies/approvers.yaml",
    "policies/tests/tools.yaml",
    "policies/tests/entities.json",
    "scenarios/assistant/suite.yaml",
    "scenarios/assistant/cases/lookup-item.yaml",
    "scenarios/assistant/cases/retire-item-approved.yaml",
    "scenarios/assistant/scripts/lookup-item.yaml",
    "scenarios/assistant/scripts/retire-item-approved.yaml",
);

/// The bundled deployment's own files, read from the repository at build
/// time so the template cannot drift from it.
const ESCALATION_DEPLOYMENT: &[TemplateFile] = template_files!("../../../":
    "runtime/contextos.toml",
    "runtime/entities.yaml",
    "runtime/tools/delete_account.yaml",
    "runtime/tools/globex_crm_export.yaml",
    "runtime/tools/issue_refund.yaml",
    "runtime/tools/lookup_customer.yaml",
    "runtime/tools/read_ticket.yaml",
    "runtime/tools/send_email.yaml",
    "runtime/tools/update_ticket.yaml",
    "runtime/packs/support_escalation/pack.yaml",
    "policies/schema.cedarschema",
    "policies/context.cedar",
    "policies/refunds.cedar",
    "policies/tenancy.cedar",
    "policies/tools.cedar",
    "policies/approvers.yaml",
    "policies/tests/context.yaml",
    "policies/tests/entities.json",
    "policies/tests/refunds.yaml",
    "policies/tests/tenancy.yaml",
    "policies/tests/tools.yaml",
    "scenarios/customer-escalation/cases/order-status-lookup.yaml",
    "scenarios/customer-escalation/cases/refund-approved-by-support-lead.yaml",
    "scenarios/customer-escalation/scripts/order-status-lookup.yaml",
    "scenarios/customer-escalation/scripts/refund-approved-by-support-lead.yaml",
);

/// The two-case suite file of the customer-escalation template (the bundled
/// suite's thresholds name tags of cases the template leaves out).
const ESCALATION_SUITE: TemplateFile = (
    "scenarios/customer-escalation/suite.yaml",
    include_str!("../templates/customer-escalation/suite.yaml"),
);

/// The lines `init` adds to the project's `.gitignore` (kept when present).
const GITIGNORE: &str = include_str!("../templates/gitignore");

/// What `contextos init` starts from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Template {
    /// An inventory assistant: one read-only and one write tool behind a
    /// lead's approval, two cases.
    Minimal,
    /// The bundled customer-escalation deployment with two of its cases.
    CustomerEscalation,
}

impl Template {
    fn files(self) -> Vec<TemplateFile> {
        let mut files: Vec<TemplateFile> = Vec::new();
        match self {
            Self::Minimal => files.extend_from_slice(MINIMAL),
            Self::CustomerEscalation => {
                files.extend_from_slice(ESCALATION_DEPLOYMENT);
                files.push(ESCALATION_SUITE);
            }
        }
        files
    }

    /// The suite directory the template creates, relative to the project.
    pub fn suite_dir(self) -> &'static str {
        match self {
            Self::Minimal => "scenarios/assistant",
            Self::CustomerEscalation => "scenarios/customer-escalation",
        }
    }

    /// The pack source directory, relative to the project.
    fn pack_source(self) -> &'static str {
        match self {
            Self::Minimal => "runtime/packs/assistant",
            Self::CustomerEscalation => "runtime/packs/support_escalation",
        }
    }
}

/// The configuration every project's commands default to.
pub const PROJECT_CONFIG: &str = "runtime/contextos.toml";
/// The signing key `init` generates (`runtime/keys/dev.key`, git-ignored).
const KEY_NAME: &str = "dev";

/// What `init` made.
#[derive(Clone, Debug, Serialize)]
pub struct InitReport {
    /// Files written from the template, relative to the project.
    pub written: Vec<PathBuf>,
    /// The new signing key's id.
    pub key_id: String,
    /// The signed pack, relative to the project.
    pub pack: PathBuf,
    /// Cases recorded from their scripts.
    pub cases: usize,
    /// Goldens written.
    pub goldens: usize,
    /// Policy tests run (all passed).
    pub policy_tests: usize,
    /// The suite directory, relative to the project.
    pub suite: PathBuf,
}

/// Writes a working project from `template` into `dir` (created when
/// missing). Refuses, writing nothing, when any file it would write exists
/// or would be reached through a symbolic link.
///
/// The project is assembled in a staging folder inside `dir` and moved into
/// place only when every step (keys, pack, schema, fixtures, goldens,
/// baseline, policy tests) succeeded, so a failure leaves `dir` as it was.
pub fn init_project(dir: &Path, template: Template, progress: &dyn Fn(&str)) -> Result<InitReport, HarnessError> {
    let files = template.files();
    let suite_dir = Path::new(template.suite_dir());
    let suite_name = suite_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // Every top-level entry init creates, and the deeper paths it must not overwrite.
    let mut targets: Vec<PathBuf> = files.iter().map(|(p, _)| PathBuf::from(p)).collect();
    targets.push(PathBuf::from(format!("runtime/keys/{KEY_NAME}.key")));
    targets.push(PathBuf::from(format!("runtime/keys/{KEY_NAME}.pub")));
    targets.push(suite_dir.join("fixtures"));
    targets.push(Path::new("goldens").join(&suite_name));
    targets.push(Path::new("policies").join(GENERATED_SCHEMA_FILE));
    targets.extend(
        crate::schemas::FileKind::ALL
            .iter()
            .map(|k| Path::new("schemas").join(k.file_name())),
    );
    let existing: Vec<String> = targets
        .iter()
        .filter(|p| dir.join(p).exists())
        .map(|p| p.display().to_string())
        .collect();
    if !existing.is_empty() {
        let more = existing.len().saturating_sub(4);
        let mut named = existing.iter().take(4).cloned().collect::<Vec<_>>().join(", ");
        if more > 0 {
            named.push_str(&format!(" and {more} more"));
        }
        return Err(HarnessError::Usage(format!(
            "init never overwrites, and {} already holds {named}: choose an empty directory",
            dir.display()
        )));
    }
    if dir.exists() {
        // A symbolic link on the way (`scenarios` -> elsewhere, say) would take the project outside `dir`.
        for path in targets.iter().map(|p| dir.join(p)).chain([dir.join(".contextos-init")]) {
            contextos_fs::check_inside(dir, &path).map_err(|e| HarnessError::io("write", &path, e))?;
        }
    }
    std::fs::create_dir_all(dir).map_err(|e| HarnessError::io("create", dir, e))?;
    let staging = dir.join(".contextos-init");
    if staging.exists() {
        return Err(HarnessError::Usage(format!(
            "{} exists: an earlier init was interrupted; remove it and run init again",
            staging.display()
        )));
    }
    let result = assemble(&staging, template, &files, progress);
    let report = match result {
        Ok(report) => report,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(e);
        }
    };
    // Move every top-level entry of the staging folder into place. Folders
    // that already exist (an empty `scenarios/`, say) are merged one level down.
    move_into(&staging, dir)?;
    std::fs::remove_dir_all(&staging).map_err(|e| HarnessError::io("remove", &staging, e))?;
    add_gitignore(dir)?;
    Ok(report)
}

/// Adds the lines of [`GITIGNORE`] that `dir/.gitignore` lacks (creating it).
fn add_gitignore(dir: &Path) -> Result<(), HarnessError> {
    let path = dir.join(".gitignore");
    let current = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(HarnessError::io("read", &path, e)),
    };
    let present: Vec<&str> = current.lines().map(str::trim).collect();
    let missing: Vec<&str> = GITIGNORE
        .lines()
        .filter(|l| l.starts_with('#') || l.trim().is_empty() || !present.contains(&l.trim()))
        .collect();
    if missing.iter().all(|l| l.starts_with('#') || l.trim().is_empty()) {
        return Ok(());
    }
    let mut text = current;
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    for line in missing {
        text.push_str(line);
        text.push('\n');
    }
    let options = contextos_fs::AtomicWrite {
        replace: true,
        secret: false,
    };
    contextos_fs::write_file_atomically(&path, text.as_bytes(), options)
        .map_err(|e| HarnessError::Io(IoError::new("write", &path, e)))
}

fn assemble(
    root: &Path,
    template: Template,
    files: &[TemplateFile],
    progress: &dyn Fn(&str),
) -> Result<InitReport, HarnessError> {
    let mut written = Vec::new();
    for (rel, text) in files {
        write_new(&root.join(rel), with_hint(Path::new(rel), text).as_bytes())?;
        written.push(PathBuf::from(rel));
    }
    // The schemas the files' editor hints point at.
    for path in crate::schemas::write_schemas(&root.join("schemas"))? {
        if let Ok(rel) = path.strip_prefix(root) {
            written.push(rel.to_path_buf());
        }
    }
    progress(&format!(
        "wrote {} files from the template (with JSON Schemas under schemas/ for editors)",
        written.len()
    ));

    let keys = root.join("runtime/keys");
    let (_, secret) = generate_key_files(&keys, KEY_NAME).map_err(contextos_runtime::RunError::from)?;
    let key = SigningKey::load(&secret).map_err(contextos_runtime::RunError::from)?;
    let key_id = key.key_id().to_string();
    progress(&format!(
        "generated signing key {key_id} (runtime/keys/{KEY_NAME}.key, git-ignored)"
    ));

    let source = root.join(template.pack_source());
    let built = build_pack_dir(&source).map_err(contextos_runtime::RunError::from)?;
    let envelope = sign_pack(&built, &key).map_err(contextos_runtime::RunError::from)?;
    let pack = PathBuf::from(format!("runtime/packs/{}-{}.pack.json", built.name, built.version));
    let bytes = artifact_bytes(&envelope).map_err(contextos_runtime::RunError::from)?;
    write_artifact(&root.join(&pack), &bytes).map_err(contextos_runtime::RunError::from)?;
    progress(&format!("built and signed {}", pack.display()));

    let config = RuntimeConfig::load(&root.join(PROJECT_CONFIG))?;
    let catalog = ToolCatalog::load(&config.paths.tools).map_err(contextos_runtime::RunError::from)?;
    let generated = PolicyEngine::generated_schema(&config.paths.policies, &catalog.cedar_actions())
        .map_err(contextos_runtime::RunError::from)?;
    write_new(&config.paths.policies.join(GENERATED_SCHEMA_FILE), generated.as_bytes())?;
    progress(&format!("generated policies/{GENERATED_SCHEMA_FILE}"));

    let dep = Deployment::from_config(config)?;
    let engine = &dep.policy;
    let tests = run_policy_tests(engine, &dep.config.paths.policies.join("tests"))
        .map_err(|e| HarnessError::Usage(format!("the template's policy tests do not load (a bug): {e}")))?;
    if tests.failed() > 0 {
        let failed: Vec<String> = tests
            .results
            .iter()
            .filter(|r| !r.passed)
            .map(|r| format!("{} › {}: {}", r.file, r.name, r.failures.join("; ")))
            .collect();
        return Err(HarnessError::Usage(format!(
            "the template's policy tests fail (a bug): {}",
            failed.join(" | ")
        )));
    }

    let suite_dir = root.join(template.suite_dir());
    let suite = load_suite(&suite_dir)?;
    for case in &suite.cases {
        record_case(&dep, &suite, case)?;
    }
    progress(&format!(
        "recorded fixtures of {} case(s) from their scripts",
        suite.cases.len()
    ));

    let goldens = root.join("goldens");
    let goldens_written = write_goldens_and_baseline(&dep, &suite, &goldens)?;
    progress(&format!(
        "accepted {goldens_written} golden(s) and wrote the baseline scorecard"
    ));

    Ok(InitReport {
        written,
        key_id,
        pack,
        cases: suite.cases.len(),
        goldens: goldens_written,
        policy_tests: tests.results.len(),
        suite: PathBuf::from(template.suite_dir()),
    })
}

/// Runs `suite`, accepts its packets as goldens, runs it again against them
/// and writes the passing scorecard as `goldens/<suite>/baseline.scorecard.json`.
fn write_goldens_and_baseline(dep: &Deployment, suite: &Suite, goldens: &Path) -> Result<usize, HarnessError> {
    let cases: Vec<_> = suite.cases.iter().collect();
    let keep = RunOptions {
        keep_packets: true,
        ..RunOptions::default()
    };
    let (runs, _) = run_suite(dep, suite, &cases, None, &keep);
    let written = accept_goldens(&runs, &suite.file.name, goldens)?;
    let check = RunOptions {
        goldens: Some(goldens),
        ..RunOptions::default()
    };
    let (_, card) = run_suite(dep, suite, &cases, None, &check);
    let failing: Vec<String> = card
        .cases
        .iter()
        .filter(|c| !c.passed)
        .map(|c| {
            let why: Vec<String> = c
                .assertions
                .iter()
                .filter(|a| !a.passed)
                .map(|a| format!("{}: {}", a.kind, a.message))
                .chain(c.error.clone())
                .collect();
            format!("{} ({})", c.name, why.join("; "))
        })
        .collect();
    if !failing.is_empty() {
        return Err(HarnessError::Usage(format!(
            "the template's cases do not pass (a bug): {}",
            failing.join(" | ")
        )));
    }
    let json = serde_json::to_string_pretty(&card).map_err(|e| HarnessError::Usage(e.to_string()))?;
    let baseline = goldens.join(&suite.file.name).join("baseline.scorecard.json");
    write_new(&baseline, format!("{json}\n").as_bytes())?;
    Ok(written.len())
}

/// `text` with the editor hint of its kind on its first line (when the file
/// at `rel`, relative to the project, is of a kind and does not name one yet).
fn with_hint(rel: &Path, text: &str) -> String {
    match crate::schemas::FileKind::of_path(rel) {
        Some(kind) if !text.starts_with("# yaml-language-server:") && !text.starts_with("#:schema") => {
            format!("{}\n{text}", kind.editor_hint_at(rel))
        }
        _ => text.to_string(),
    }
}

/// `text` with the editor hint of `kind` for a file about to be written at
/// `file` inside `project`, when the project has that kind's schema under
/// `schemas/` (as `init` writes it); `text` unchanged otherwise.
fn with_project_hint(project: &Path, file: &Path, kind: crate::schemas::FileKind, text: &str) -> String {
    let rel = (|| {
        let project = std::fs::canonicalize(project).ok()?;
        if !project.join("schemas").join(kind.file_name()).is_file() {
            return None;
        }
        let dir = std::fs::canonicalize(file.parent()?).ok()?;
        Some(dir.strip_prefix(&project).ok()?.join(file.file_name()?))
    })();
    match rel {
        Some(rel) => format!("{}\n{text}", kind.editor_hint_at(&rel)),
        None => text.to_string(),
    }
}

/// Writes a file that must not exist yet, creating its folders.
fn write_new(path: &Path, bytes: &[u8]) -> Result<(), HarnessError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| HarnessError::io("create", parent, e))?;
    }
    let options = contextos_fs::AtomicWrite {
        replace: false,
        secret: false,
    };
    contextos_fs::write_file_atomically(path, bytes, options)
        .map_err(|e| HarnessError::Io(IoError::new("write", path, e)))
}

/// Moves the entries of `from` into `to`, descending into folders that
/// exist on both sides (init checked that no file collides).
fn move_into(from: &Path, to: &Path) -> Result<(), HarnessError> {
    let entries = std::fs::read_dir(from).map_err(|e| HarnessError::io("read", from, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| HarnessError::io("read", from, e))?;
        let source = entry.path();
        let target = to.join(entry.file_name());
        if target.is_dir() && source.is_dir() {
            move_into(&source, &target)?;
        } else {
            std::fs::rename(&source, &target).map_err(|e| HarnessError::io("move", &target, e))?;
        }
    }
    Ok(())
}

/// A tool argument for `contextos new tool`: `NAME:TYPE`, optional with a
/// trailing `?` (`note:string?`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ToolArg {
    /// Argument name.
    pub name: String,
    /// JSON Schema type: `string`, `integer`, `number` or `boolean`.
    pub kind: String,
    /// Whether the call must give it.
    pub required: bool,
}

impl std::str::FromStr for ToolArg {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (name, kind) = text
            .split_once(':')
            .ok_or_else(|| format!("{text:?} is not NAME:TYPE (for example ticket_id:string)"))?;
        let (kind, required) = match kind.strip_suffix('?') {
            Some(k) => (k, false),
            None => (kind, true),
        };
        if !valid_name(name) {
            return Err(format!("argument name {name:?} must be letters, digits and `_`"));
        }
        if !["string", "integer", "number", "boolean"].contains(&kind) {
            return Err(format!(
                "argument type {kind:?} is not one of string, integer, number, boolean"
            ));
        }
        Ok(Self {
            name: name.to_string(),
            kind: kind.to_string(),
            required,
        })
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// What `contextos new tool` writes.
#[derive(Clone, Debug)]
pub struct NewTool {
    /// Tool name.
    pub name: String,
    /// Its tier: `read_only`, `local_write`, `network`, `delegated`, `destructive`.
    pub mode: contextos_core::ApprovalMode,
    /// One sentence for the model.
    pub description: Option<String>,
    /// Arguments.
    pub args: Vec<ToolArg>,
}

/// Writes the contract `<tools>/<name>.yaml` of the deployment at `config`
/// and regenerates the bundle's ContextOS namespace so the new action can be
/// named in policies at once. Returns the files written.
pub fn new_tool(config: &Path, tool: &NewTool) -> Result<Vec<PathBuf>, HarnessError> {
    use contextos_core::ApprovalMode;
    if !contextos_action::is_tool_name(&tool.name) {
        return Err(HarnessError::Usage(format!(
            "{:?} is not a tool name (letters, digits, `_`, `-` and `.`)",
            tool.name
        )));
    }
    let parsed = RuntimeConfig::load(config)?;
    let file = parsed.paths.tools.join(format!("{}.yaml", tool.name));
    let (side_effect, idempotent) = match tool.mode {
        ApprovalMode::ReadOnly => ("none", true),
        ApprovalMode::LocalWrite => ("internal", true),
        ApprovalMode::Network | ApprovalMode::Delegated => ("external", false),
        ApprovalMode::Destructive => ("irreversible", false),
    };
    let mode = serde_json::to_value(tool.mode)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let description = tool
        .description
        .clone()
        .unwrap_or_else(|| format!("What {} does, in one sentence the model reads.", tool.name));
    let required: Vec<&str> = tool
        .args
        .iter()
        .filter(|a| a.required)
        .map(|a| a.name.as_str())
        .collect();
    let mut text = format!(
        "# A tool contract: what the model may call and the tier policy decides on.\n\
         # After an edit, regenerate the Cedar namespace: contextos policy schema --write\n\
         format_version: 1\nname: {}\ndescription: {}\napproval_mode: {mode}\nside_effect: {side_effect}\nidempotent: {idempotent}\n\
         input_schema:\n  type: object\n  additionalProperties: false\n  required: [{}]\n  properties:\n",
        tool.name,
        yaml_string(&description),
        required.join(", ")
    );
    if tool.args.is_empty() {
        text = text.replace("  properties:\n", "  properties: {}\n");
    }
    for arg in &tool.args {
        text.push_str(&format!("    {}: {{ type: {} }}\n", arg.name, arg.kind));
    }
    let project = config.parent().and_then(Path::parent).unwrap_or(Path::new("."));
    let project = if project.as_os_str().is_empty() {
        Path::new(".")
    } else {
        project
    };
    let text = with_project_hint(project, &file, crate::schemas::FileKind::Tool, &text);
    write_new(&file, text.as_bytes())?;
    // The contract must load with the others, and the namespace follow it.
    let regenerated = ToolCatalog::load(&parsed.paths.tools)
        .map_err(contextos_runtime::RunError::from)
        .and_then(|catalog| {
            PolicyEngine::generated_schema(&parsed.paths.policies, &catalog.cedar_actions())
                .map_err(contextos_runtime::RunError::from)
        });
    let generated = match regenerated {
        Ok(text) => text,
        Err(e) => {
            let _ = std::fs::remove_file(&file);
            return Err(e.into());
        }
    };
    let schema = parsed.paths.policies.join(GENERATED_SCHEMA_FILE);
    let options = contextos_fs::AtomicWrite {
        replace: true,
        secret: false,
    };
    contextos_fs::write_file_atomically(&schema, generated.as_bytes(), options)
        .map_err(|e| HarnessError::Io(IoError::new("write", &schema, e)))?;
    Ok(vec![file, schema])
}

/// A YAML scalar for `text`: plain when that reads back the same, quoted otherwise.
fn yaml_string(text: &str) -> String {
    let plain = !text.is_empty()
        && !text.contains([
            ':', '#', '\n', '"', '\'', '{', '}', '[', ']', ',', '&', '*', '!', '|', '>', '%', '@', '`',
        ])
        && !text.starts_with([' ', '-', '?'])
        && !text.ends_with(' ');
    if plain {
        text.to_string()
    } else {
        serde_json::to_string(text).unwrap_or_default()
    }
}

/// Writes `cases/<name>.yaml` into `suite_dir`: a case holding its own
/// script (format version 2) that loads and records as it is, to be edited.
/// `tools` are the deployment's tool names, named in the examples. Refuses to
/// overwrite. Returns the file written.
pub fn new_case(suite_dir: &Path, name: &str, tools: &[String]) -> Result<PathBuf, HarnessError> {
    crate::promotion::check_case_name(name)?;
    let suite = load_suite(suite_dir)?;
    let case = suite_dir.join("cases").join(format!("{name}.yaml"));
    if suite.cases.iter().any(|c| c.file.name == name) || case.exists() {
        return Err(HarnessError::Usage(format!(
            "suite {} already has a case named {name}; new never overwrites",
            suite_dir.display()
        )));
    }
    let example = tools.first().map_or("a_tool", String::as_str);
    let known = if tools.is_empty() {
        String::from("none yet: add one with `contextos new tool`")
    } else {
        tools.join(", ")
    };
    let text = format!(
        "# A scenario: a request, what the model and tools answer (the script), and\n\
         # what must hold. `contextos scenario record --case {name}` runs the script\n\
         # and records the fixtures; `contextos golden accept` then keeps the packet.\n\
         # Every kind of assertion: `contextos schema case`; any can take `not: true`.\n\
         format_version: 2\nname: {name}\ndescription: What this case checks, and why it matters.\ntags: []\n\
         request:\n  text: What the user asks the agent.\n\
         # The deployment's tools: {known}.\n\
         script:\n  model:\n\
         \x20   # - tool_calls:\n\
         \x20   #     - {{ id: call_1, name: {example}, arguments: {{}} }}\n\
         \x20   - content: The agent's final answer.\n      confidence: 0.9\n\
         \x20 tools: []\n\
         \x20   # - tool: {example}\n\
         \x20   #   arguments: {{}}\n\
         \x20   #   response: {{ ok: {{}} }}\n\
         \x20 approvals: []\n\
         \x20   # - {{ tool: {example}, arguments: {{}}, verdict: granted, approver: maria, role: lead }}\n\
         assertions:\n  - kind: outcome\n    is: completed\n\
         \x20 # - kind: tool_sequence\n\
         \x20 #   tools: [{example}]\n\
         \x20 #   mode: exact\n\
         \x20 # - kind: policy\n\
         \x20 #   tool: {example}\n\
         \x20 #   outcome: allow          # deny, approval_required\n\
         \x20 #   policy_id: the.policy-id\n\
         \x20 - kind: golden\n"
    );
    let project = suite_dir.parent().and_then(Path::parent).unwrap_or(Path::new("."));
    let project = if project.as_os_str().is_empty() {
        Path::new(".")
    } else {
        project
    };
    let text = with_project_hint(project, &case, crate::schemas::FileKind::Case, &text);
    contextos_fs::check_inside(suite_dir, &case).map_err(|e| HarnessError::io("write", &case, e))?;
    write_new(&case, text.as_bytes())?;
    Ok(case)
}

/// What `contextos new policy-test` writes.
#[derive(Clone, Debug)]
pub struct NewPolicyTest {
    /// The file name (without `.yaml`) and the test's name.
    pub name: String,
    /// The tool the request calls.
    pub tool: String,
    /// The principal, `ContextOS::Agent::"id"` [default: the first agent of `tests/entities.json`].
    pub principal: Option<String>,
    /// The call's arguments [default: an example value for each required argument].
    pub arguments: Option<serde_json::Value>,
}

/// What `new policy-test` wrote and what the bundle decides today.
#[derive(Clone, Debug)]
pub struct WrittenPolicyTest {
    /// The file.
    pub file: PathBuf,
    /// The decision the test now expects.
    pub decision: contextos_core::PolicyDecision,
}

/// Writes `<policies>/tests/<name>.yaml` with one test of a call to `tool`,
/// expecting what the bundle decides today (so it passes at once and pins
/// today's behaviour; edit `expect` to what the call must get).
pub fn new_policy_test(config: &Path, test: &NewPolicyTest) -> Result<WrittenPolicyTest, HarnessError> {
    use serde_json::{Value, json};
    if !valid_name(&test.name) {
        return Err(HarnessError::Usage(format!(
            "policy test name {:?} must be letters, digits, `_` and `-`",
            test.name
        )));
    }
    let dep = Deployment::load(config)?;
    let dir = dep.config.paths.policies.join("tests");
    let file = dir.join(format!("{}.yaml", test.name));
    if file.exists() {
        return Err(HarnessError::Usage(format!(
            "{} exists; new never overwrites",
            file.display()
        )));
    }
    let tool = contract_of(&dep, &test.tool)?;
    let entities_file = dir.join("entities.json");
    let entities: Vec<Value> = match std::fs::read_to_string(&entities_file) {
        Ok(text) => contextos_core::parse_json(&entities_file.display().to_string(), &text)?,
        Err(_) => Vec::new(),
    };
    let (principal, tenant) = principal_and_tenant(&entities, test.principal.as_deref(), &entities_file)?;
    let contract = &tool.contract;
    let arguments = test
        .arguments
        .clone()
        .unwrap_or_else(|| example_arguments(&contract.input_schema));
    let tool_entity = tool_entity(contract);
    let has_tool_entity = entities.iter().any(|e| {
        e.pointer("/uid/type").and_then(Value::as_str) == Some(contextos_core::cedar_names::TOOL)
            && e.pointer("/uid/id").and_then(Value::as_str) == Some(contract.name.as_str())
    });
    let context = json!({
        "tenant": tenant,
        "safety_mode": "standard",
        "run_approval_level": contract.approval_mode.level(),
        "approval": { "granted": false, "role": "" },
        "budget": { "tool_calls_left": 8, "tokens_left": 20000 },
    });
    let build = |expect: Value| -> Value {
        let mut case = json!({
            "name": format!("{} as the bundle decides it today", contract.name),
            "principal": principal,
            "action": contract.name,
            "resource": format!("{}::{}", contextos_core::cedar_names::TOOL, serde_json::to_string(&contract.name).unwrap_or_default()),
            "arguments": arguments,
            "expect": expect,
        });
        if !has_tool_entity && let Some(map) = case.as_object_mut() {
            map.insert("entities".into(), json!([tool_entity]));
        }
        let mut doc = json!({ "format_version": 1, "defaults": { "context": context }, "tests": [case] });
        if !entities.is_empty()
            && let Some(map) = doc.as_object_mut()
        {
            map.insert("entities_from".into(), json!("entities.json"));
        }
        doc
    };
    let project = dep.config.paths.policies.parent().unwrap_or(Path::new("."));
    let project = if project.as_os_str().is_empty() {
        Path::new(".")
    } else {
        project
    };
    let render = |doc: &Value| -> Result<String, HarnessError> {
        let yaml = serde_saphyr::to_string(doc).map_err(|e| HarnessError::Usage(format!("cannot render YAML: {e}")))?;
        let text = format!(
            "# A policy test: a request and the outcome it must get (`contextos policy test`).\n\
             # `contextos new policy-test` wrote what the bundle decides today; change\n\
             # `expect` to what this call must get, and vary `arguments` and `context`.\n{yaml}"
        );
        Ok(with_project_hint(
            project,
            &file,
            crate::schemas::FileKind::PolicyTest,
            &text,
        ))
    };
    // Decide the request once with a placeholder expectation, then keep the decision.
    write_new(&file, render(&build(json!({ "outcome": "deny" })))?.as_bytes())?;
    let result = match decide_one(&dep.policy, &dir, &file) {
        Ok(result) => result,
        Err(e) => {
            let _ = std::fs::remove_file(&file);
            return Err(e);
        }
    };
    let decision = result.actual;
    let expect = expectation_of(&decision);
    let options = contextos_fs::AtomicWrite {
        replace: true,
        secret: false,
    };
    contextos_fs::write_file_atomically(&file, render(&build(expect))?.as_bytes(), options)
        .map_err(|e| HarnessError::Io(IoError::new("write", &file, e)))?;
    Ok(WrittenPolicyTest { file, decision })
}

/// The principal of a new policy test and its tenant, from `--principal` or
/// the first agent of the tests' entities.
fn principal_and_tenant(
    entities: &[serde_json::Value],
    given: Option<&str>,
    entities_file: &Path,
) -> Result<(String, serde_json::Value), HarnessError> {
    use serde_json::{Value, json};
    let agent_type = contextos_core::cedar_names::AGENT;
    let uid_text = |e: &Value| -> Option<String> {
        let uid = e.get("uid")?;
        Some(format!(
            "{}::{}",
            uid.get("type")?.as_str()?,
            serde_json::to_string(uid.get("id")?).ok()?
        ))
    };
    let principal = match given {
        Some(p) => p.to_string(),
        None => entities
            .iter()
            .filter(|e| e.pointer("/uid/type").and_then(Value::as_str) == Some(agent_type))
            .find_map(uid_text)
            .ok_or_else(|| {
                HarnessError::Usage(format!(
                    "no agent in {} to call the tool as: give --principal '{agent_type}::\"id\"'",
                    entities_file.display()
                ))
            })?,
    };
    // The principal's tenant is the run's tenant.
    let tenant = entities
        .iter()
        .find(|e| uid_text(e).as_deref() == Some(principal.as_str()))
        .and_then(|e| e.pointer("/attrs/tenant").cloned())
        .unwrap_or_else(|| json!({ "type": contextos_core::cedar_names::TENANT, "id": "example" }));
    Ok((principal, tenant))
}

/// The loaded contract of `name`, or an error listing the known tools.
fn contract_of<'d>(dep: &'d Deployment, name: &str) -> Result<&'d contextos_action::LoadedTool, HarnessError> {
    dep.catalog.get(name).ok_or_else(|| {
        let known: Vec<&str> = dep.catalog.tools().map(|t| t.contract.name.as_str()).collect();
        HarnessError::Usage(format!(
            "tool {name:?} has no contract in {}; known: {}",
            dep.config.paths.tools.display(),
            known.join(", ")
        ))
    })
}

/// The Cedar entity of a tool, as the gateway builds it from its contract.
fn tool_entity(contract: &contextos_action::ToolContract) -> serde_json::Value {
    serde_json::json!({
        "uid": { "type": contextos_core::cedar_names::TOOL, "id": contract.name },
        "attrs": {
            "approval_mode": contract.approval_mode.as_str(),
            "approval_level": contract.approval_mode.level(),
            "side_effect": serde_json::to_value(contract.side_effect).unwrap_or(serde_json::Value::Null),
            "attributes": contract.attributes,
        },
        "parents": [],
    })
}

/// Runs the policy tests of `dir` and returns the result of the one in `file`.
fn decide_one(
    engine: &PolicyEngine,
    dir: &Path,
    file: &Path,
) -> Result<contextos_trust::PolicyTestResult, HarnessError> {
    let report = run_policy_tests(engine, dir).map_err(|e| HarnessError::Usage(e.to_string()))?;
    report
        .results
        .into_iter()
        .find(|r| Path::new(&r.file).file_name() == file.file_name())
        .ok_or_else(|| HarnessError::Usage(format!("{} did not run", file.display())))
}

/// A policy test's `expect` for what `decision` decided.
fn expectation_of(decision: &contextos_core::PolicyDecision) -> serde_json::Value {
    let mut expect = serde_json::json!({
        "outcome": decision.outcome,
        "determining": decision.determining_policies,
    });
    if !decision.approver_roles.is_empty()
        && let Some(map) = expect.as_object_mut()
    {
        map.insert("approver_roles".into(), serde_json::json!(decision.approver_roles));
    }
    expect
}

/// An example value for each required property of an object schema.
fn example_arguments(schema: &serde_json::Value) -> serde_json::Value {
    use serde_json::{Value, json};
    let mut out = serde_json::Map::new();
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    for name in required {
        let prop = schema
            .pointer(&format!("/properties/{name}"))
            .cloned()
            .unwrap_or(Value::Null);
        let value = if let Some(first) = prop.get("enum").and_then(Value::as_array).and_then(|e| e.first()) {
            first.clone()
        } else {
            match prop.get("type").and_then(Value::as_str) {
                Some("integer") => json!(1),
                Some("number") => json!(1.5),
                Some("boolean") => json!(false),
                Some("array") => json!([]),
                Some("object") => json!({}),
                _ => json!("example"),
            }
        };
        out.insert(name.to_string(), value);
    }
    Value::Object(out)
}
