//! Recording runs: from a script (model responses in order, tool results by
//! tool and arguments, approver decisions) or live (a real model, real MCP
//! servers and HTTP APIs). `contextos run --script S --record DIR` and
//! `contextos run --live --record DIR` run once and write digest-keyed
//! fixtures that `contextos run --fixtures DIR` then replays exactly.

use std::collections::BTreeSet;
use std::fmt;
use std::path::Path;
use std::sync::Mutex;

use contextos_action::{
    AdapterError, ApprovalAnswer, ApprovalRequest, Approver, LoadedTool, RecordedApproval, RecordedApprover,
    RecordedPair, Recording, RecordingTools, ScriptedResult, ScriptedTools, ToolAdapter,
};
use contextos_core::{DocumentError, ModelRequest, ModelResponse, ReplayPacket, ToolRequest, ToolResponse, parse_yaml};
use contextos_decision::{ModelProvider, ProviderError, RecordingModel, ScriptedModel};
use serde::{Deserialize, Serialize};
use serde_json::Value;

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

/// Where a scripted run and its script parted ways: the run asked for
/// something the script does not have, or the script has something the run
/// never asked for. Fixtures recorded from such a run are not what the
/// script's author meant.
#[derive(Debug, Clone, PartialEq)]
pub enum ScriptProblem {
    /// Model call `call` found no response left (the script has `responses`).
    ModelRanOut {
        /// 1-based model call number.
        call: usize,
        /// Responses in the script.
        responses: usize,
    },
    /// Model responses `first..=responses` were never asked for.
    ModelUnused {
        /// 1-based number of the first unused response.
        first: usize,
        /// Responses in the script.
        responses: usize,
    },
    /// A tool call the script has no result for.
    ToolResultMissing {
        /// The tool.
        tool: String,
        /// The call's arguments.
        arguments: Value,
    },
    /// A scripted tool result no call used.
    ToolResultUnused {
        /// 1-based position in the script's `tools`.
        index: usize,
        /// The tool.
        tool: String,
    },
    /// An approval the gateway asked for that the script has no decision for.
    ApprovalMissing {
        /// The tool.
        tool: String,
        /// The call's arguments.
        arguments: Value,
    },
    /// A scripted approver decision nobody asked for.
    ApprovalUnused {
        /// 1-based position in the script's `approvals`.
        index: usize,
        /// The tool.
        tool: String,
        /// The approver's role.
        role: String,
    },
}

impl fmt::Display for ScriptProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ModelRanOut { call, responses } => write!(
                f,
                "the script ran out: model call {call} has no response (model: lists {responses} response(s))"
            ),
            Self::ModelUnused { first, responses } if first == responses => write!(
                f,
                "model response {first} of {responses} was never used (the run ended after {} model call(s))",
                first - 1
            ),
            Self::ModelUnused { first, responses } => write!(
                f,
                "model responses {first} to {responses} were never used (the run ended after {} model call(s))",
                first - 1
            ),
            Self::ToolResultMissing { tool, arguments } => write!(
                f,
                "the script ran out: tool call {tool} with arguments {arguments} has no result in tools:"
            ),
            Self::ToolResultUnused { index, tool } => {
                write!(
                    f,
                    "tool result {index} ({tool}) was never used: no call had its arguments"
                )
            }
            Self::ApprovalMissing { tool, arguments } => write!(
                f,
                "the script ran out: approval of {tool} with arguments {arguments} has no decision in approvals:"
            ),
            Self::ApprovalUnused { index, tool, role } => {
                write!(f, "approval {index} ({tool} by {role}) was never asked for")
            }
        }
    }
}

/// Counts model calls, noting the one that found the script empty.
struct CountingModel<'a> {
    inner: &'a ScriptedModel,
    ran_out_at: Mutex<Option<usize>>,
}

impl ModelProvider for CountingModel<'_> {
    fn complete(&self, request: &ModelRequest) -> Result<ModelResponse, ProviderError> {
        let response = self.inner.complete(request);
        if let Err(ProviderError::Exhausted(_, call)) = &response
            && let Ok(mut ran_out) = self.ran_out_at.lock()
        {
            ran_out.get_or_insert(*call);
        }
        response
    }
}

/// The script's tool results, noting which answered and which calls found none.
struct AccountedTools {
    inner: ScriptedTools,
    used: Mutex<BTreeSet<usize>>,
    missing: Mutex<Vec<(String, Value)>>,
}

impl ToolAdapter for AccountedTools {
    fn call(&self, tool: &LoadedTool, request: &ToolRequest, traceparent: &str) -> Result<ToolResponse, AdapterError> {
        match self.inner.position(request) {
            Some(i) => {
                if let Ok(mut used) = self.used.lock() {
                    used.insert(i);
                }
            }
            None => {
                if let Ok(mut missing) = self.missing.lock() {
                    missing.push((request.tool.clone(), request.arguments.clone()));
                }
            }
        }
        self.inner.call(tool, request, traceparent)
    }
}

/// The script's approvals, noting which answered and which requests found none.
struct AccountedApprover {
    inner: RecordedApprover,
    used: Mutex<BTreeSet<usize>>,
    missing: Mutex<Vec<(String, Value)>>,
}

impl Approver for AccountedApprover {
    fn decide(&self, request: &ApprovalRequest<'_>) -> Option<ApprovalAnswer> {
        match self.inner.position(request) {
            Some(i) => {
                if let Ok(mut used) = self.used.lock() {
                    used.insert(i);
                }
            }
            None => {
                if let Ok(mut missing) = self.missing.lock() {
                    missing.push((request.tool.to_owned(), request.arguments.clone()));
                }
            }
        }
        self.inner.decide(request)
    }
}

/// [`run_scripted`], also saying where the run and the script parted ways
/// (empty when the run used exactly what the script has): `scenario record`
/// refuses to write fixtures from a run that ran out of script or left some
/// of it unused. A run that failed (a call with no scripted result aborts
/// it) reports only what ran out: what it left unused follows from that.
pub fn run_scripted_accounted(
    dep: &Deployment,
    env: &RequestEnvelope,
    script: &Script,
) -> (Result<RecordedRun, RunError>, Vec<ScriptProblem>) {
    let scripted = ScriptedModel::new(script.model.clone());
    let model = CountingModel {
        inner: &scripted,
        ran_out_at: Mutex::new(None),
    };
    let tools = AccountedTools {
        inner: ScriptedTools::new(script.tools.clone()),
        used: Mutex::new(BTreeSet::new()),
        missing: Mutex::new(Vec::new()),
    };
    let approver = AccountedApprover {
        inner: RecordedApprover::new(script.approvals.clone()),
        used: Mutex::new(BTreeSet::new()),
        missing: Mutex::new(Vec::new()),
    };
    let (artifacts, interactions) = record_with(dep, env, &model, &tools, &approver);
    let mut problems = Vec::new();
    let responses = script.model.len();
    match model.ran_out_at.into_inner().ok().flatten() {
        Some(call) => problems.push(ScriptProblem::ModelRanOut { call, responses }),
        None if interactions.model.len() < responses => problems.push(ScriptProblem::ModelUnused {
            first: interactions.model.len() + 1,
            responses,
        }),
        None => {}
    }
    let missing = tools.missing.into_inner().unwrap_or_default();
    problems.extend(
        missing
            .into_iter()
            .map(|(tool, arguments)| ScriptProblem::ToolResultMissing { tool, arguments }),
    );
    let used = tools.used.into_inner().unwrap_or_default();
    problems.extend(
        script
            .tools
            .iter()
            .enumerate()
            .filter(|(i, _)| !used.contains(i))
            .map(|(i, r)| ScriptProblem::ToolResultUnused {
                index: i + 1,
                tool: r.tool.clone(),
            }),
    );
    let missing = approver.missing.into_inner().unwrap_or_default();
    problems.extend(
        missing
            .into_iter()
            .map(|(tool, arguments)| ScriptProblem::ApprovalMissing { tool, arguments }),
    );
    let used = approver.used.into_inner().unwrap_or_default();
    problems.extend(
        script
            .approvals
            .iter()
            .enumerate()
            .filter(|(i, _)| !used.contains(i))
            .map(|(i, a)| ScriptProblem::ApprovalUnused {
                index: i + 1,
                tool: a.tool.clone(),
                role: a.role.clone(),
            }),
    );
    let run = artifacts.map(|artifacts| RecordedRun {
        artifacts,
        model: interactions.model,
        tools: interactions.tools,
    });
    if run.is_err() {
        problems.retain(|p| {
            matches!(
                p,
                ScriptProblem::ModelRanOut { .. }
                    | ScriptProblem::ToolResultMissing { .. }
                    | ScriptProblem::ApprovalMissing { .. }
            )
        });
    }
    (run, problems)
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
    record_with(dep, env, model, adapter, &RecordedApprover::new(approvals.to_vec()))
}

/// Runs `env`, recording every model and tool interaction.
fn record_with(
    dep: &Deployment,
    env: &RequestEnvelope,
    model: &dyn ModelProvider,
    adapter: &dyn ToolAdapter,
    approver: &dyn Approver,
) -> (Result<RunArtifacts, RunError>, Interactions) {
    let provider = RecordingModel::new(model);
    let adapter = RecordingTools::new(adapter);
    let artifacts = invoke_agent(dep, env, &provider, &adapter, approver, &dep.config.evaluator);
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
