//! Loading a policy bundle: `schema.cedarschema`, every `*.cedar` file under
//! the directory, and `approvers.yaml`. Strict validation happens here, so an
//! engine that exists is an engine whose policies type-check.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use cedar_policy::{Effect, PolicyId, PolicySet, Schema, ValidationMode, Validator};
use contextos_core::{Digest, ErrorKind, Kind, digest_of};
use serde::{Deserialize, Serialize};

use super::diagnostic::{SourceDiagnostic, effect_offset, line_col, statement_starts};

/// Whether a policy decides or is only observed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyMode {
    /// Decides (the default).
    Enforce,
    /// `@mode("shadow")`: evaluated and reported, never decides.
    Shadow,
}

/// What the bundle knows about one policy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyInfo {
    /// The `@id`.
    pub id: String,
    /// `permit` or `forbid`.
    pub effect: String,
    /// Enforced or shadow.
    pub mode: PolicyMode,
    /// File it was loaded from, as shown to the user.
    pub file: String,
    /// 1-based line of the policy's `permit` / `forbid` keyword.
    pub line: usize,
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ApproversFile {
    format_version: u32,
    roles: Vec<String>,
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
            SourceDiagnostic::new(shown, "", None, format!("cannot read file: {e}"), None, None),
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

pub(crate) fn load_bundle(dir: &Path) -> Result<LoadedBundle, PolicyLoadError> {
    let dir_display = dir.to_string_lossy().replace('\\', "/");
    let dir_display = dir_display.trim_end_matches('/').to_string();
    let mut diagnostics = Vec::new();

    // Schema.
    let schema_shown = display(&dir_display, Path::new("schema.cedarschema"));
    let schema_path = dir.join("schema.cedarschema");
    if !schema_path.is_file() {
        return Err(PolicyLoadError::single(
            &dir_display,
            SourceDiagnostic::new(
                &schema_shown,
                "",
                None,
                "missing Cedar schema",
                Some(
                    "every policy bundle has a schema.cedarschema; policies are validated against it in strict mode"
                        .into(),
                ),
                None,
            ),
        ));
    }
    let schema_text = read(&dir_display, &schema_path, &schema_shown)?;
    let schema = match Schema::from_cedarschema_str(&schema_text) {
        Ok((schema, _warnings)) => schema,
        Err(err) => {
            return Err(PolicyLoadError::single(
                &dir_display,
                SourceDiagnostic::from_miette(&schema_shown, &schema_text, &err),
            ));
        }
    };

    // Policies.
    let mut files = Vec::new();
    if let Err(e) = cedar_files(dir, Path::new(""), &mut files) {
        return Err(PolicyLoadError::single(
            &dir_display,
            SourceDiagnostic::new(
                &dir_display,
                "",
                None,
                format!("cannot list policy files: {e}"),
                None,
                None,
            ),
        ));
    }
    let mut sources: BTreeMap<String, String> = BTreeMap::new();
    let mut policies: Vec<PolicyInfo> = Vec::new();
    let mut all = PolicySet::new();
    let mut enforced = PolicySet::new();
    let mut shadow = PolicySet::new();
    let mut seen: BTreeMap<String, (String, usize)> = BTreeMap::new();
    for rel in &files {
        let shown = display(&dir_display, rel);
        let text = read(&dir_display, &dir.join(rel), &shown)?;
        let parsed = match PolicySet::from_str(&text) {
            Ok(set) => set,
            Err(errs) => {
                diagnostics.extend(errs.iter().map(|e| SourceDiagnostic::from_miette(&shown, &text, e)));
                sources.insert(shown, text);
                continue;
            }
        };
        let starts = statement_starts(&text);
        if parsed.templates().next().is_some() {
            diagnostics.push(SourceDiagnostic::new(
                &shown,
                &text,
                None,
                "policy templates are not supported in a ContextOS bundle",
                Some("write static policies; per-tenant variation belongs in entity attributes".into()),
                None,
            ));
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
        for (n, policy) in in_file.into_iter().enumerate() {
            let start = starts.get(n).map(|&s| effect_offset(&text, s));
            let span = start.map(|s| (s, text[s..].find(['(', '\n']).unwrap_or(1).max(1)));
            let line = start.map_or(0, |s| line_col(&text, s).0);
            let Some(id) = policy.annotation("id").map(str::to_string) else {
                diagnostics.push(SourceDiagnostic::new(
                    &shown,
                    &text,
                    span,
                    "policy is missing an @id annotation",
                    Some("add @id(\"area.what-it-does\") on the line before permit/forbid; ids name policies in decisions, tests and coverage".into()),
                    Some("this policy has no @id".into()),
                ));
                continue;
            };
            if id.is_empty() || id.chars().any(char::is_whitespace) {
                diagnostics.push(SourceDiagnostic::new(
                    &shown,
                    &text,
                    span,
                    format!("policy @id {id:?} must be non-empty and contain no whitespace"),
                    None,
                    None,
                ));
                continue;
            }
            if let Some((first_file, first_line)) = seen.get(&id) {
                diagnostics.push(SourceDiagnostic::new(
                    &shown,
                    &text,
                    span,
                    format!("duplicate policy @id {id:?}, first defined at {first_file}:{first_line}"),
                    Some("policy ids are unique across the bundle".into()),
                    None,
                ));
                continue;
            }
            let mode = match policy.annotation("mode") {
                None | Some("enforce") => PolicyMode::Enforce,
                Some("shadow") => PolicyMode::Shadow,
                Some(other) => {
                    diagnostics.push(SourceDiagnostic::new(
                        &shown,
                        &text,
                        span,
                        format!("unknown @mode {other:?}"),
                        Some("expected @mode(\"shadow\") or @mode(\"enforce\") (the default)".into()),
                        None,
                    ));
                    continue;
                }
            };
            seen.insert(id.clone(), (shown.clone(), line));
            let renamed = policy.new_id(PolicyId::new(&id));
            let target = if mode == PolicyMode::Shadow {
                &mut shadow
            } else {
                &mut enforced
            };
            // Ids are unique (checked above), so adding cannot fail.
            if target.add(renamed.clone()).is_err() || all.add(renamed).is_err() {
                diagnostics.push(SourceDiagnostic::new(
                    &shown,
                    &text,
                    span,
                    format!("cannot add policy {id:?} to the bundle"),
                    None,
                    None,
                ));
                continue;
            }
            policies.push(PolicyInfo {
                id,
                effect: match policy.effect() {
                    Effect::Permit => "permit".into(),
                    Effect::Forbid => "forbid".into(),
                },
                mode,
                file: shown.clone(),
                line,
            });
        }
        sources.insert(shown, text);
    }
    if files.is_empty() {
        diagnostics.push(SourceDiagnostic::new(
            &dir_display,
            "",
            None,
            "no *.cedar policy files found",
            None,
            None,
        ));
    }

    // Strict validation of the whole bundle against the schema.
    let file_of: BTreeMap<&str, &str> = policies.iter().map(|p| (p.id.as_str(), p.file.as_str())).collect();
    let locate = |policy_id: &PolicyId, diag: &dyn miette::Diagnostic| {
        let file = file_of.get(policy_id.to_string().as_str()).copied().unwrap_or("");
        let text = sources.get(file).map_or("", String::as_str);
        SourceDiagnostic::from_miette(file, text, diag)
    };
    let result = Validator::new(schema.clone()).validate(&all, ValidationMode::Strict);
    diagnostics.extend(result.validation_errors().map(|e| locate(e.policy_id(), e)));
    let warnings: Vec<_> = result.validation_warnings().map(|w| locate(w.policy_id(), w)).collect();

    // Approver roles.
    let approvers_shown = display(&dir_display, Path::new("approvers.yaml"));
    let approvers_path = dir.join("approvers.yaml");
    let mut approver_roles = Vec::new();
    if approvers_path.is_file() {
        let text = read(&dir_display, &approvers_path, &approvers_shown)?;
        match contextos_core::parse_yaml::<ApproversFile>(&approvers_shown, &text) {
            Ok(file) if file.format_version == 1 => approver_roles = file.roles,
            Ok(file) => diagnostics.push(SourceDiagnostic::new(
                &approvers_shown,
                &text,
                None,
                format!("unsupported format_version {}, expected 1", file.format_version),
                None,
                None,
            )),
            Err(e) => diagnostics.push(SourceDiagnostic::new(
                &approvers_shown,
                &text,
                None,
                e.message,
                Some("expected `format_version: 1` and `roles: [role, ...]`".into()),
                None,
            )),
        }
        sources.insert(approvers_shown, text);
    }

    if !diagnostics.is_empty() {
        return Err(PolicyLoadError {
            dir: dir_display,
            diagnostics,
        });
    }
    #[derive(Serialize)]
    struct BundleContent<'a> {
        schema: &'a str,
        files: &'a BTreeMap<String, String>,
    }
    // Digest over file contents keyed by their path inside the bundle, so the
    // same bundle has the same digest wherever it is checked out.
    let prefix = if dir_display.is_empty() {
        String::new()
    } else {
        format!("{dir_display}/")
    };
    let relative: BTreeMap<String, String> = sources
        .iter()
        .map(|(k, v)| (k.strip_prefix(&prefix).unwrap_or(k).to_string(), v.clone()))
        .collect();
    let digest = digest_of(&BundleContent {
        schema: &schema_text,
        files: &relative,
    })
    .map_err(|e| {
        PolicyLoadError::single(
            &dir_display,
            SourceDiagnostic::new(&dir_display, "", None, e.to_string(), None, None),
        )
    })?;
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
