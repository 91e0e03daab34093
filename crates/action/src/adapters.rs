//! Tool adapters that need no network: recorded fixtures (the default),
//! scripted results (authoring), replay of a packet's recorded calls, and
//! a recording wrapper for `--record`.

use std::sync::Mutex;

use contextos_core::{ToolRequest, ToolResponse, redact};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::contract::LoadedTool;
use crate::gateway::{AdapterError, ToolAdapter, redact_request, redact_response};
use crate::recording::Recording;

/// Answers from recorded tool interactions keyed by request digest; a miss is an error.
#[derive(Debug, Clone)]
pub struct RecordedTools {
    recording: Recording<ToolRequest, ToolResponse>,
}

impl RecordedTools {
    /// An adapter over `recording`.
    pub fn new(recording: Recording<ToolRequest, ToolResponse>) -> Self {
        Self { recording }
    }
}

impl ToolAdapter for RecordedTools {
    fn call(
        &self,
        _tool: &LoadedTool,
        request: &ToolRequest,
        _traceparent: &str,
    ) -> Result<ToolResponse, AdapterError> {
        Ok(self.recording.lookup(&redact_request(request))?.1)
    }
}

/// A scripted tool result: for this tool and these arguments, this response.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ScriptedResult {
    /// The tool.
    pub tool: String,
    /// The exact arguments.
    pub arguments: Value,
    /// The response.
    pub response: ToolResponse,
}

/// Answers from a script by tool and arguments (authoring fixtures; the
/// contract digest is filled in by the gateway, so scripts survive contract edits).
#[derive(Debug, Clone)]
pub struct ScriptedTools {
    results: Vec<ScriptedResult>,
}

impl ScriptedTools {
    /// An adapter answering from `results`.
    pub fn new(results: Vec<ScriptedResult>) -> Self {
        Self { results }
    }
}

impl ToolAdapter for ScriptedTools {
    fn call(
        &self,
        _tool: &LoadedTool,
        request: &ToolRequest,
        _traceparent: &str,
    ) -> Result<ToolResponse, AdapterError> {
        self.results
            .iter()
            .find(|r| r.tool == request.tool && redact(&r.arguments) == redact(&request.arguments))
            .map(|r| r.response.clone())
            .ok_or_else(|| {
                AdapterError::Transport(format!(
                    "the script has no result for {} with arguments {}",
                    request.tool, request.arguments
                ))
            })
    }
}

/// Replays a packet's recorded tool calls by tool and arguments, whatever
/// the contract digest; a call the original run never executed answers with
/// an error result ("not recorded"), so a what-if replay reports it instead
/// of reaching a live system.
#[derive(Debug, Clone)]
pub struct ReplayTools {
    recorded: Vec<(ToolRequest, ToolResponse)>,
}

impl ReplayTools {
    /// An adapter over the recorded `(request, response)` pairs.
    pub fn new(recorded: Vec<(ToolRequest, ToolResponse)>) -> Self {
        Self { recorded }
    }
}

/// The error text of a replayed call that the original run never executed.
pub(crate) const NOT_RECORDED: &str = "not recorded in the original run: replays never call live tools";

impl ToolAdapter for ReplayTools {
    fn call(
        &self,
        _tool: &LoadedTool,
        request: &ToolRequest,
        _traceparent: &str,
    ) -> Result<ToolResponse, AdapterError> {
        Ok(self
            .recorded
            .iter()
            .find(|(r, _)| r.tool == request.tool && r.arguments == redact(&request.arguments))
            .map(|(_, resp)| resp.clone())
            .unwrap_or_else(|| ToolResponse::Error(NOT_RECORDED.to_string())))
    }
}

/// Wraps an adapter and keeps every executed interaction, for `--record`.
#[derive(Debug)]
pub struct RecordingTools<A> {
    inner: A,
    log: Mutex<Vec<(ToolRequest, ToolResponse)>>,
}

impl<A: ToolAdapter> RecordingTools<A> {
    /// Records what `inner` answers.
    pub fn new(inner: A) -> Self {
        Self {
            inner,
            log: Mutex::new(Vec::new()),
        }
    }

    /// The interactions so far, in call order.
    pub fn interactions(&self) -> Vec<(ToolRequest, ToolResponse)> {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

impl<A: ToolAdapter> ToolAdapter for RecordingTools<A> {
    fn call(&self, tool: &LoadedTool, request: &ToolRequest, traceparent: &str) -> Result<ToolResponse, AdapterError> {
        let response = self.inner.call(tool, request, traceparent)?;
        if let Ok(mut log) = self.log.lock() {
            // Recordings never hold secrets.
            log.push((redact_request(request), redact_response(&response)));
        }
        Ok(response)
    }
}
