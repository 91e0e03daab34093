//! `contextos scenario record`: turn each case's authoring script into
//! digest-keyed fixtures, judge calls included.

use contextos_action::{RecordedPair, Recording};
use contextos_core::{ModelRequest, ModelResponse};
use contextos_runtime::{Deployment, run_scripted, write_fixtures};

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

/// Records `case` from its script into its fixture directory (replacing what was there).
pub fn record_case(dep: &Deployment, suite: &Suite, case: &Case) -> Result<Recorded, HarnessError> {
    let Some(script) = case.load_script()? else {
        return Err(HarnessError::Usage(format!(
            "case {} has no script (scripts/{}.yaml, or `script:` in the case)",
            case.file.name, case.file.name
        )));
    };
    let run = run_scripted(dep, &case.envelope, &script.runtime_script())?;
    let dir = &case.fixtures;
    for sub in ["model", "tools", "judge"] {
        let p = dir.join(sub);
        if p.exists() {
            std::fs::remove_dir_all(&p).map_err(|e| HarnessError::io("clear", &p, e))?;
        }
    }
    write_fixtures(dir, &run.model, &run.tools, &script.approvals)?;
    let answer = run.artifacts.packet.decision_record.answer.clone();
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
            "case {} has {} graded assertion(s) but its script has {} judge response(s)",
            case.file.name,
            rubrics.len(),
            script.judge.len()
        )));
    }
    let model = suite.file.judge.as_ref().map_or("judge", |j| j.model.as_str());
    for (i, (rubric, response)) in rubrics.iter().zip(&script.judge).enumerate() {
        let pair = RecordedPair {
            request: judge_request(model, rubric, &answer),
            response: response.clone(),
        };
        Recording::<ModelRequest, ModelResponse>::write_pair(&dir.join("judge"), &format!("{:03}", i + 1), &pair)
            .map_err(contextos_runtime::RunError::from)?;
    }
    Ok(Recorded {
        case: case.file.name.clone(),
        model: run.model.len(),
        tools: run.tools.len(),
        judge: rubrics.len(),
    })
}
