//! Recorded fixtures of a run: what the model, the tools and the approver
//! answered, read back from a fixture directory.

use std::path::Path;

use contextos_action::{RecordedApprover, RecordedTools, Recording};
use contextos_decision::RecordedModel;

use crate::error::RunError;

/// Recorded fixtures of one run: model responses, tool results, approver decisions.
#[derive(Debug, Clone)]
pub struct Fixtures {
    /// Model responses keyed by request digest.
    pub model: RecordedModel,
    /// Tool results keyed by request digest.
    pub tools: RecordedTools,
    /// Recorded approver decisions.
    pub approver: RecordedApprover,
}

impl Fixtures {
    /// Loads `DIR/model/*.json`, `DIR/tools/*.json` and `DIR/approvals.yaml`.
    pub fn load(dir: &Path) -> Result<Self, RunError> {
        match std::fs::metadata(dir) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => {
                return Err(RunError::Input(format!(
                    "fixture directory {} is a file, expected a directory",
                    dir.display()
                )));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(RunError::Input(format!(
                    "fixture directory {} does not exist",
                    dir.display()
                )));
            }
            Err(e) => {
                return Err(RunError::Input(format!(
                    "fixture directory {} cannot be read: {e}",
                    dir.display()
                )));
            }
        }
        Ok(Self {
            model: RecordedModel::new(Recording::load("model", &dir.join("model"))?),
            tools: RecordedTools::new(Recording::load("tool", &dir.join("tools"))?),
            approver: RecordedApprover::load(dir)?,
        })
    }
}
