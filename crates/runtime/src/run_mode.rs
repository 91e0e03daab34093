//! How `contextos run` answers a request: from recorded fixtures, or from a
//! model and tools that answer now (a script or live sources), recorded as
//! they answer.

use std::path::Path;

use contextos_action::{RecordedApproval, ToolAdapter};
use contextos_decision::ModelProvider;

use crate::deployment::Deployment;
use crate::envelope::RequestEnvelope;
use crate::error::RunError;
use crate::fixtures::Fixtures;
use crate::invoke::{RunArtifacts, run_on_fixtures};
use crate::script::{run_recording_partial, write_fixtures};

/// Where the answers of a run come from.
#[derive(Clone, Copy)]
#[expect(missing_debug_implementations, reason = "holds trait objects without Debug")]
pub enum RunMode<'a> {
    /// The recorded fixtures in this directory.
    Fixtures(&'a Path),
    /// A model and tools that answer now, with these approvals; what they
    /// answer is written as fixtures to `record` when given.
    Record {
        /// The model (scripted or live).
        model: &'a dyn ModelProvider,
        /// The tools (scripted results, MCP servers, OpenAPI sources).
        tools: &'a dyn ToolAdapter,
        /// The approvals given to approval-required calls.
        approvals: &'a [RecordedApproval],
        /// Where to write the run's fixtures.
        record: Option<&'a Path>,
    },
}

/// The fixtures a recording run wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recorded<'a> {
    /// The fixtures directory.
    pub dir: &'a Path,
    /// Model interactions written.
    pub model: usize,
    /// Tool interactions written.
    pub tools: usize,
    /// Whether the run failed after making them.
    pub run_failed: bool,
}

/// Runs `env` under `dep`, answered as `mode` says. A recording run writes
/// what was answered before it returns, even when the run failed, and tells
/// `on_recorded` so the caller can say what was kept.
pub fn run_in_mode(
    dep: &Deployment,
    env: &RequestEnvelope,
    mode: RunMode<'_>,
    on_recorded: impl FnOnce(Recorded<'_>),
) -> Result<RunArtifacts, RunError> {
    match mode {
        RunMode::Fixtures(dir) => run_on_fixtures(dep, env, &Fixtures::load(dir)?),
        RunMode::Record {
            model,
            tools,
            approvals,
            record,
        } => {
            let (artifacts, recorded) = run_recording_partial(dep, env, model, tools, approvals);
            if let Some(dir) = record {
                write_fixtures(dir, &recorded.model, &recorded.tools, approvals)?;
                on_recorded(Recorded {
                    dir,
                    model: recorded.model.len(),
                    tools: recorded.tools.len(),
                    run_failed: artifacts.is_err(),
                });
            }
            artifacts
        }
    }
}
