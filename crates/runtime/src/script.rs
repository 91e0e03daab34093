//! Recording runs: from a script (model responses in order, tool results by
//! tool and arguments, approver decisions) or live (a real model, real MCP
//! servers and HTTP APIs). `contextos run --script S --record DIR` and
//! `contextos run --live --record DIR` run once and write digest-keyed
//! fixtures that `contextos run --fixtures DIR` then replays exactly.

use std::path::Path;

use contextos_action::RecordedPair;
use contextos_action::{
    RecordedApproval, RecordedApprover, Recording, RecordingTools, ScriptedResult, ScriptedTools, ToolAdapter,
};
use contextos_core::{DocumentError, ModelRequest, ModelResponse, ReplayPacket, ToolRequest, ToolResponse, parse_yaml};
use contextos_decision::{ModelProvider, RecordingModel, ScriptedModel};
use serde::{Deserialize, Serialize};

use crate::deployment::Deployment;
use crate::envelope::RequestEnvelope;
use crate::error::RunError;
use crate::invoke::{RunArtifacts, invoke_agent};

/// A fixture-authoring script (`contextos run REQUEST --script FILE --record DIR`):
/// the model's responses, tool results and approver decisions of one run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Script {
    /// Document format version (1).
    pub format_version: u32,
    /// Model responses, in call order.
    pub model: Vec<ModelResponse>,
    /// Tool results by tool and arguments.
    #[serde(default)]
    pub tools: Vec<ScriptedResult>,
    /// Approver decisions, matched by tool and, when given, arguments.
    #[serde(default)]
    pub approvals: Vec<RecordedApproval>,
}

impl Script {
    /// Parses a script file.
    pub fn parse(file: &str, text: &str) -> Result<Self, DocumentError> {
        let script: Self = parse_yaml(file, text)?;
        if script.format_version != 1 {
            return Err(DocumentError::new(
                file,
                format!("unsupported format_version {}, expected 1", script.format_version),
            ));
        }
        Ok(script)
    }
}

/// A recorded run and its interactions.
#[derive(Debug, Clone)]
pub struct RecordedRun {
    /// The run.
    pub artifacts: RunArtifacts,
    /// Model interactions, in order.
    pub model: Vec<(ModelRequest, ModelResponse)>,
    /// Executed tool interactions, in order.
    pub tools: Vec<(ToolRequest, ToolResponse)>,
}

/// Runs `env` against `script`, recording every interaction.
pub fn run_scripted(dep: &Deployment, env: &RequestEnvelope, script: &Script) -> Result<RecordedRun, RunError> {
    run_scripted_with_tools(dep, env, script, &ScriptedTools::new(script.tools.clone()))
}

/// Runs `env` with the script's model responses and approvals, executing
/// tools through `adapter` (a real MCP server, say) instead of the script's
/// tool results, and records every interaction (redacted) for fixtures.
pub fn run_scripted_with_tools(
    dep: &Deployment,
    env: &RequestEnvelope,
    script: &Script,
    adapter: &dyn ToolAdapter,
) -> Result<RecordedRun, RunError> {
    run_recording(
        dep,
        env,
        &ScriptedModel::new(script.model.clone()),
        adapter,
        &script.approvals,
    )
}

/// Runs `env` with `model` (a script, or a live model), tools executed
/// through `adapter`, and approvals answered from `approvals`, recording
/// every interaction (tool interactions redacted, as the gateway records
/// them; the model is only ever shown redacted results) for fixtures.
pub fn run_recording(
    dep: &Deployment,
    env: &RequestEnvelope,
    model: &dyn ModelProvider,
    adapter: &dyn ToolAdapter,
    approvals: &[RecordedApproval],
) -> Result<RecordedRun, RunError> {
    let (artifacts, interactions) = run_recording_partial(dep, env, model, adapter, approvals);
    Ok(RecordedRun {
        artifacts: artifacts?,
        model: interactions.model,
        tools: interactions.tools,
    })
}

/// The interactions a recording run made, whether or not it finished.
#[derive(Debug, Clone, Default)]
pub struct Interactions {
    /// Model interactions, in order.
    pub model: Vec<(ModelRequest, ModelResponse)>,
    /// Executed tool interactions, in order.
    pub tools: Vec<(ToolRequest, ToolResponse)>,
}

/// [`run_recording`], keeping the interactions when the run fails (a live
/// model that stopped answering, a server that went away): what a live run
/// cost is not lost, and `--record` writes it before reporting the failure.
pub fn run_recording_partial(
    dep: &Deployment,
    env: &RequestEnvelope,
    model: &dyn ModelProvider,
    adapter: &dyn ToolAdapter,
    approvals: &[RecordedApproval],
) -> (Result<RunArtifacts, RunError>, Interactions) {
    let provider = RecordingModel::new(model);
    let adapter = RecordingTools::new(adapter);
    let approver = RecordedApprover::new(approvals.to_vec());
    let artifacts = invoke_agent(dep, env, &provider, &adapter, &approver, &dep.config.evaluator);
    let interactions = Interactions {
        model: provider.interactions(),
        tools: adapter.interactions(),
    };
    (artifacts, interactions)
}

/// The approver decisions recorded in a packet's envelopes, as fixtures
/// (replays and promotion answer approvals exactly as they were given).
pub fn packet_approvals(packet: &ReplayPacket) -> Vec<RecordedApproval> {
    packet
        .tool_envelopes
        .iter()
        .filter_map(|e| {
            e.approval.as_ref().map(|a| RecordedApproval {
                tool: e.tool.clone(),
                arguments: Some(e.arguments.clone()),
                verdict: a.verdict,
                approver: a.approver.clone(),
                role: a.role.clone(),
            })
        })
        .collect()
}

/// Writes digest-keyed fixtures: `DIR/model/NNN-<digest>.json`,
/// `DIR/tools/NNN-<tool>-<digest>.json`, `DIR/approvals.yaml`.
pub fn write_fixtures(
    dir: &Path,
    model: &[(ModelRequest, ModelResponse)],
    tools: &[(ToolRequest, ToolResponse)],
    approvals: &[RecordedApproval],
) -> Result<(), RunError> {
    for (i, (request, response)) in model.iter().enumerate() {
        let pair = RecordedPair {
            request: request.clone(),
            response: response.clone(),
        };
        Recording::<ModelRequest, ModelResponse>::write_pair(&dir.join("model"), &format!("{:03}", i + 1), &pair)?;
    }
    for (i, (request, response)) in tools.iter().enumerate() {
        let pair = RecordedPair {
            request: request.clone(),
            response: response.clone(),
        };
        Recording::<ToolRequest, ToolResponse>::write_pair(
            &dir.join("tools"),
            &format!("{:03}-{}", i + 1, request.tool),
            &pair,
        )?;
    }
    #[derive(Serialize)]
    struct ApprovalsFile<'a> {
        format_version: u32,
        approvals: &'a [RecordedApproval],
    }
    let yaml = serde_saphyr::to_string(&ApprovalsFile {
        format_version: 1,
        approvals,
    })
    .map_err(|e| RunError::Bug(format!("cannot render approvals: {e}")))?;
    std::fs::write(dir.join("approvals.yaml"), yaml)
        .map_err(|e| RunError::io("write", &dir.join("approvals.yaml").display().to_string(), e))?;
    Ok(())
}
