//! Loading a suite directory into runnable cases.

use std::fs;
use std::path::{Path, PathBuf};

use contextos_core::{
    DocumentError, ErrorKind, IoError, Kind, ModelResponse, RunContext, Timestamp, merge_json, parse_yaml,
};
use contextos_runtime::{Request, RequestEnvelope};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;
use serde_saphyr::Spanned;

use crate::scenario::{CaseFile, InlineScript, ScriptRef, SuiteFile};

/// The newest case format: 2 lets a case hold its script (`script:` as a mapping).
pub const CASE_FORMAT_VERSION: u32 = 2;

/// A suite that cannot be loaded or run.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum HarnessError {
    /// A file does not parse or is inconsistent.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Document(#[from] DocumentError),
    /// A file or directory cannot be read or written.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Io(#[from] IoError),
    /// The runtime failed outside a case (deployment, keys).
    #[error(transparent)]
    #[diagnostic(transparent)]
    Run(#[from] contextos_runtime::RunError),
    /// Usage error.
    #[error("{0}")]
    Usage(String),
    /// A case's run and its authoring script parted ways; nothing was recorded.
    #[error(
        "case {case} did not record from {script} (its fixtures are unchanged): {}",
        problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
    )]
    #[diagnostic(help(
        "make the script match the run: add what ran out, remove what was never used, or fix the request it answers"
    ))]
    Script {
        /// The case.
        case: String,
        /// The script file, as shown to the user.
        script: String,
        /// What happened: the model's script, then tool results, then approvals.
        problems: Vec<contextos_runtime::ScriptProblem>,
    },
}

impl Kind for HarnessError {
    /// Exit-code kind.
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Run(e) => e.kind(),
            Self::Script { .. } => ErrorKind::GateFailed,
            _ => ErrorKind::Input,
        }
    }
}

impl HarnessError {
    pub(crate) fn io(action: &'static str, path: &Path, e: std::io::Error) -> Self {
        Self::Io(IoError::new(action, path, e))
    }
}

/// One case ready to run.
#[derive(Debug, Clone)]
pub struct Case {
    /// The parsed file.
    pub file: CaseFile,
    /// Where it came from, as shown to the user.
    pub path: String,
    /// The request envelope the runtime receives.
    pub envelope: RequestEnvelope,
    /// The recorded fixtures.
    pub fixtures: PathBuf,
    /// The authoring script file, when present.
    pub script: Option<PathBuf>,
    /// The authoring script written in the case (format version 2), when present.
    pub inline_script: Option<CaseScript>,
}

impl Case {
    /// Whether the case has an authoring script (a file or written in the case).
    pub fn has_script(&self) -> bool {
        self.script.is_some() || self.inline_script.is_some()
    }

    /// The authoring script, read from its file or taken from the case.
    pub fn load_script(&self) -> Result<Option<CaseScript>, HarnessError> {
        match (&self.inline_script, &self.script) {
            (Some(inline), _) => Ok(Some(inline.clone())),
            (None, Some(path)) => CaseScript::load(path).map(Some),
            (None, None) => Ok(None),
        }
    }
}

/// A loaded suite.
#[derive(Debug, Clone)]
pub struct Suite {
    /// The suite directory.
    pub dir: PathBuf,
    /// `suite.yaml`.
    pub file: SuiteFile,
    /// Cases, sorted by name.
    pub cases: Vec<Case>,
}

impl Suite {
    /// The deployment configuration path.
    pub fn config_path(&self) -> PathBuf {
        self.dir.join(&self.file.config)
    }

    /// Where goldens of this suite live: `<repo>/goldens/<suite>/`, with the
    /// repository root taken as the parent of the suite's `scenarios/` folder.
    pub fn golden_dir(&self, goldens_root: &Path) -> PathBuf {
        goldens_root.join(&self.file.name)
    }
}

fn read(path: &Path) -> Result<String, HarnessError> {
    fs::read_to_string(path).map_err(|e| HarnessError::io("read", path, e))
}

/// A run id made from suite and case names: letters, digits, `_`, `-`, `.`.
pub(crate) fn case_run_id(suite: &str, case: &str) -> String {
    let clean = |s: &str| {
        s.chars()
            .map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' })
            .collect::<String>()
    };
    format!("run_{}_{}", clean(suite), clean(case))
}

fn envelope(suite: &SuiteFile, case: &CaseFile, shown: &str) -> Result<RequestEnvelope, HarnessError> {
    let fail = |message: String| HarnessError::Document(DocumentError::new(shown, message));
    let mut run_context = match &suite.defaults.run_context {
        Value::Object(m) => m.clone(),
        _ => return Err(fail("suite defaults.run_context must be a mapping".into())),
    };
    match &case.run_context {
        Value::Object(over) => merge_json(&mut run_context, over),
        Value::Null => {}
        _ => return Err(fail("run_context must be a mapping".into())),
    }
    run_context
        .entry("run_id")
        .or_insert_with(|| Value::String(case_run_id(&suite.name, &case.name)));
    let run_context: RunContext = serde_json::from_value(Value::Object(run_context))
        .map_err(|e| fail(format!("run_context (suite defaults merged with the case): {e}")))?;
    let env = RequestEnvelope {
        format_version: 1,
        request: Request {
            id: case.request.id.clone().unwrap_or_else(|| format!("req-{}", case.name)),
            channel: case
                .request
                .channel
                .clone()
                .unwrap_or_else(|| suite.defaults.channel.clone()),
            text: case.request.text.clone(),
        },
        run_context,
        started_at: Timestamp(case.started_at.unwrap_or(suite.defaults.started_at)),
    };
    // The same checks as a request file gets (trace id, ids, budget).
    let text = serde_json::to_string(&env).map_err(|e| fail(e.to_string()))?;
    RequestEnvelope::parse(&format!("{shown} (merged envelope).json"), &text)?;
    Ok(env)
}

/// The parts of a case file that name things, with positions.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct CaseNames {
    #[serde(default)]
    pub(crate) assertions: Vec<AssertionNames>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct AssertionNames {
    #[serde(default)]
    pub(crate) tool: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) tools: Vec<Spanned<String>>,
    #[serde(default)]
    pub(crate) policy_id: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) role: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) pattern: Option<Spanned<String>>,
}

/// Where assertion `index`'s `pattern` is in a case file's `text`, when it can be told.
fn pattern_position(text: &str, index: usize) -> Option<(u64, u64)> {
    let names: CaseNames = parse_yaml("case", text).ok()?;
    let pattern = names.assertions.get(index)?.pattern.as_ref()?;
    let (line, column) = (pattern.referenced.line(), pattern.referenced.column());
    (line > 0).then_some((line, column))
}

/// A case has assertions, each with a positive weight and, for
/// `answer_regex`, a pattern that compiles.
fn check_assertions(shown: &str, text: &str, case: &CaseFile) -> Result<(), HarnessError> {
    if case.assertions.is_empty() {
        return Err(DocumentError::new(shown, "a case needs at least one assertion").into());
    }
    for (i, a) in case.assertions.iter().enumerate() {
        if !(a.weight() > 0.0 && a.weight().is_finite()) {
            return Err(DocumentError::new(
                shown,
                format!(
                    "{} assertion has weight {}, expected a positive number",
                    a.kind(),
                    a.weight()
                ),
            )
            .into());
        }
        if let crate::scenario::Assertion::AnswerRegex { pattern, .. } = a
            && let Err(e) = regex::Regex::new(pattern)
        {
            let message = format!("answer_regex pattern /{pattern}/ is invalid (eval's regex engine): {e}");
            let (line, column) = pattern_position(text, i).unzip();
            return Err(DocumentError {
                line,
                column,
                ..DocumentError::new(shown, message)
            }
            .with_source(text)
            .into());
        }
    }
    Ok(())
}

#[derive(Deserialize)]
struct NameField {
    name: Spanned<String>,
}

/// Refuses a suite or case `name` that is not an identifier (ASCII letters,
/// digits, `-`, `_`): it becomes a directory and file name under the goldens
/// and fixtures, so `../x` or `a/b` would write elsewhere. The error points at
/// the `name:` field of `text` (the file `shown`).
fn check_identifier(shown: &str, text: &str, what: &str, name: &str) -> Result<(), HarnessError> {
    if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Ok(());
    }
    let position = parse_yaml::<NameField>(shown, text)
        .ok()
        .map(|n| (n.name.referenced.line(), n.name.referenced.column()))
        .filter(|(line, _)| *line > 0);
    let (line, column) = position.unzip();
    Err(DocumentError {
        line,
        column,
        ..DocumentError::new(
            shown,
            format!(
                "field name: {what} name {:?} is not an identifier, expected ASCII letters, digits, `-` and `_` only",
                contextos_core::excerpt(name)
            ),
        )
    }
    .with_source(text)
    .into())
}

/// Loads `dir/suite.yaml` alone (its name, deployment config, defaults and
/// thresholds), without reading its cases.
pub fn load_suite_file(dir: &Path) -> Result<SuiteFile, HarnessError> {
    let suite_path = dir.join("suite.yaml");
    let shown = suite_path.display().to_string();
    let text = read(&suite_path)?;
    let file: SuiteFile = parse_yaml(&shown, &text)?;
    check_identifier(&shown, &text, "suite", &file.name)?;
    if file.format_version != 1 {
        return Err(DocumentError::new(
            &shown,
            format!("unsupported format_version {}, expected 1", file.format_version),
        )
        .into());
    }
    Ok(file)
}

/// Loads `dir/suite.yaml` and every `dir/cases/*.yaml`.
pub fn load_suite(dir: &Path) -> Result<Suite, HarnessError> {
    let file = load_suite_file(dir)?;
    let cases_dir = dir.join("cases");
    let names = contextos_fs::files_with_suffix(&cases_dir, &[".yaml", ".yml"])
        .map_err(|e| HarnessError::io("read", &cases_dir, e))?;
    let mut cases = Vec::new();
    for path in names {
        let shown = path.display().to_string();
        let text = read(&path)?;
        let case: CaseFile = parse_yaml(&shown, &text)?;
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !(1..=CASE_FORMAT_VERSION).contains(&case.format_version) {
            return Err(DocumentError::new(
                &shown,
                format!(
                    "unsupported format_version {}, expected 1 to {CASE_FORMAT_VERSION}",
                    case.format_version
                ),
            )
            .into());
        }
        check_identifier(&shown, &text, "case", &case.name)?;
        if case.name != stem {
            return Err(DocumentError::new(
                &shown,
                format!("name {:?} must equal the file name {stem:?}", case.name),
            )
            .into());
        }
        check_assertions(&shown, &text, &case)?;
        let within = |rel: &str, field: &str| -> Result<PathBuf, HarnessError> {
            if rel.starts_with('/') || rel.split('/').any(|c| c == "..") {
                return Err(DocumentError::new(
                    &shown,
                    format!("{field} {rel:?} must be a path inside the suite directory"),
                )
                .into());
            }
            Ok(dir.join(rel))
        };
        let fixtures = within(
            case.fixtures.as_deref().unwrap_or(&format!("fixtures/{}", case.name)),
            "fixtures",
        )?;
        let (script, inline_script) = match &case.script {
            Some(ScriptRef::Path(rel)) => (Some(within(rel, "script")?), None),
            Some(ScriptRef::Inline(inline)) => {
                if case.format_version < 2 {
                    return Err(DocumentError::new(
                        &shown,
                        "a script written in the case needs format_version 2 (version 1 takes a script path)",
                    )
                    .into());
                }
                (None, Some(CaseScript::from_inline(inline)))
            }
            None => (
                Some(dir.join("scripts").join(format!("{}.yaml", case.name))).filter(|p| p.is_file()),
                None,
            ),
        };
        let envelope = envelope(&file, &case, &shown)?;
        cases.push(Case {
            file: case,
            path: shown,
            envelope,
            fixtures,
            script,
            inline_script,
        });
    }
    let mut seen = std::collections::BTreeSet::new();
    for case in &cases {
        if !seen.insert(case.envelope.run_context.run_id.clone()) {
            return Err(DocumentError::new(
                &case.path,
                format!("run_id {:?} is used by two cases", case.envelope.run_context.run_id),
            )
            .into());
        }
    }
    Ok(Suite {
        dir: dir.to_path_buf(),
        file,
        cases,
    })
}

/// Which cases to run.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Case-name substrings or `tag:<tag>`; a case runs if any matches (all run when empty).
    pub filters: Vec<String>,
    /// `(index, count)`: run every case whose position (by name) is `index - 1` modulo `count`.
    pub partition: Option<(usize, usize)>,
}

impl Selection {
    /// The selected cases, in name order.
    pub fn apply<'a>(&self, cases: &'a [Case]) -> Vec<&'a Case> {
        cases
            .iter()
            .filter(|c| {
                self.filters.is_empty()
                    || self.filters.iter().any(|f| match f.strip_prefix("tag:") {
                        Some(tag) => c.file.tags.iter().any(|t| t == tag),
                        None => c.file.name.contains(f.as_str()),
                    })
            })
            .enumerate()
            .filter(|(i, _)| self.partition.is_none_or(|(index, count)| i % count == index - 1))
            .map(|(_, c)| c)
            .collect()
    }
}

/// Parses `I/N` (1-based shard of N).
pub fn parse_partition(text: &str) -> Result<(usize, usize), String> {
    let (i, n) = text
        .split_once('/')
        .ok_or_else(|| format!("partition {text:?} is not I/N (for example 2/4)"))?;
    let i: usize = i
        .trim()
        .parse()
        .map_err(|_| format!("partition index {i:?} is not a number"))?;
    let n: usize = n
        .trim()
        .parse()
        .map_err(|_| format!("partition count {n:?} is not a number"))?;
    if n == 0 || i == 0 || i > n {
        return Err(format!("partition {text:?} must satisfy 1 <= I <= N"));
    }
    Ok((i, n))
}

/// A fixture-authoring script: the model's responses, tool results and
/// approver decisions of one run, and in a scenario's `scripts/` the judge's
/// responses. (`contextos run --script` reads the same file without `judge`.)
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CaseScript {
    /// Document format version (1).
    pub format_version: u32,
    /// Model responses in call order.
    pub model: Vec<ModelResponse>,
    /// Tool results by tool and exact arguments.
    #[serde(default)]
    pub tools: Vec<contextos_action::ScriptedResult>,
    /// Approver decisions, matched by tool and, when given, arguments.
    #[serde(default)]
    pub approvals: Vec<contextos_action::RecordedApproval>,
    /// Judge responses, one per `graded` assertion, in order (scenario scripts only).
    #[serde(default)]
    pub judge: Vec<ModelResponse>,
}

impl CaseScript {
    /// The script a case holds.
    pub fn from_inline(inline: &InlineScript) -> Self {
        Self {
            format_version: 1,
            model: inline.model.clone(),
            tools: inline.tools.clone(),
            approvals: inline.approvals.clone(),
            judge: inline.judge.clone(),
        }
    }

    /// Parses a script file.
    pub fn load(path: &Path) -> Result<Self, HarnessError> {
        let shown = path.display().to_string();
        let script: Self = parse_yaml(&shown, &read(path)?)?;
        if script.format_version != 1 {
            return Err(DocumentError::new(
                shown,
                format!("unsupported format_version {}, expected 1", script.format_version),
            )
            .into());
        }
        Ok(script)
    }

    /// The runtime part.
    pub fn runtime_script(&self) -> contextos_runtime::Script {
        contextos_runtime::Script {
            format_version: 1,
            model: self.model.clone(),
            tools: self.tools.clone(),
            approvals: self.approvals.clone(),
        }
    }
}
