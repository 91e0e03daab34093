//! `contextos scenario record`: turn each case's authoring script into
//! digest-keyed fixtures, judge calls included.

use std::path::{Path, PathBuf};

use contextos_action::{RecordedPair, Recording};
use contextos_core::{ModelRequest, ModelResponse};
use contextos_runtime::{Deployment, run_scripted_accounted, write_fixtures};

use crate::assertions::judge_request;
use crate::scenario::Assertion;
use crate::suite::{Case, HarnessError, Suite};

/// What recording one case wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// Case name.
    pub case: String,
    /// Model interactions.
    pub model: usize,
    /// Tool interactions.
    pub tools: usize,
    /// Judge interactions.
    pub judge: usize,
}

/// Records `case` from its script into its fixture directory, which must
/// stay inside the suite directory after symbolic links and not be one.
///
/// The run must use its script exactly: a run that asks for a model
/// response, tool result or approval the script does not have, or that
/// leaves some of the script unused, fails with [`HarnessError::Script`]
/// naming the case, the script and what happened. Fixtures are written into
/// a fresh directory beside the case's and renamed into place only when
/// everything was written, so a failed recording leaves the previous
/// fixtures as they were.
pub fn record_case(dep: &Deployment, suite: &Suite, case: &Case) -> Result<Recorded, HarnessError> {
    let Some(script) = case.load_script()? else {
        return Err(HarnessError::Usage(format!(
            "case {} has no script (scripts/{}.yaml, or `script:` in the case)",
            case.file.name, case.file.name
        )));
    };
    // Where the script is written, for messages: its file, or the case that holds it.
    let script_file = case
        .script
        .as_ref()
        .map_or_else(|| case.path.clone(), |p| p.display().to_string());
    let rubrics: Vec<&String> = case
        .file
        .assertions
        .iter()
        .filter_map(|a| match a {
            Assertion::Graded { rubric, .. } => Some(rubric),
            _ => None,
        })
        .collect();
    if rubrics.len() != script.judge.len() {
        return Err(HarnessError::Usage(format!(
            "case {} has {} graded assertion(s) but its script {} has {} judge response(s)",
            case.file.name,
            rubrics.len(),
            script_file,
            script.judge.len()
        )));
    }
    let (run, problems) = run_scripted_accounted(dep, &case.envelope, &script.runtime_script());
    if !problems.is_empty() {
        return Err(HarnessError::Script {
            case: case.file.name.clone(),
            script: script_file,
            problems,
        });
    }
    let run = run?;
    let dir = &case.fixtures;
    // Recording deletes and replaces: never through a symbolic link, never outside the suite.
    contextos_fs::check_inside(&suite.dir, dir).map_err(|e| HarnessError::io("record into", dir, e))?;
    let staging = sibling(dir, "recording");
    clear(&staging)?;
    std::fs::create_dir_all(&staging).map_err(|e| HarnessError::io("create", &staging, e))?;
    write_fixtures(&staging, &run.model, &run.tools, &script.approvals)?;
    let answer = run.artifacts.packet.decision_record.answer.clone();
    let model = suite.file.judge.as_ref().map_or("judge", |j| j.model.as_str());
    for (i, (rubric, response)) in rubrics.iter().zip(&script.judge).enumerate() {
        let pair = RecordedPair {
            request: judge_request(model, rubric, &answer),
            response: response.clone(),
        };
        Recording::<ModelRequest, ModelResponse>::write_pair(&staging.join("judge"), &format!("{:03}", i + 1), &pair)
            .map_err(contextos_runtime::RunError::from)?;
    }
    replace_dir(&staging, dir)?;
    Ok(Recorded {
        case: case.file.name.clone(),
        model: run.model.len(),
        tools: run.tools.len(),
        judge: rubrics.len(),
    })
}

/// `dir`'s hidden sibling `.<name>.<what>` (same parent, so a rename is atomic).
fn sibling(dir: &Path, what: &str) -> PathBuf {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    dir.with_file_name(format!(".{name}.{what}"))
}

/// Removes `dir` and what it holds; refuses a symbolic link in its place.
fn clear(dir: &Path) -> Result<(), HarnessError> {
    contextos_fs::refuse_symlink(dir).map_err(|e| HarnessError::io("remove", dir, e))?;
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(|e| HarnessError::io("remove", dir, e))?;
    }
    Ok(())
}

/// Puts the complete `staging` directory where `dir` was: the old one is
/// moved aside first and removed only once the new one is in place.
fn replace_dir(staging: &Path, dir: &Path) -> Result<(), HarnessError> {
    let previous = sibling(dir, "previous");
    clear(&previous)?;
    if dir.exists() {
        std::fs::rename(dir, &previous).map_err(|e| HarnessError::io("move aside", dir, e))?;
    } else if let Some(parent) = dir.parent() {
        std::fs::create_dir_all(parent).map_err(|e| HarnessError::io("create", parent, e))?;
    }
    if let Err(e) = std::fs::rename(staging, dir) {
        // Put the previous fixtures back before reporting.
        if previous.exists() {
            let _restored = std::fs::rename(&previous, dir);
        }
        return Err(HarnessError::io("rename into place", dir, e));
    }
    clear(&previous)
}
