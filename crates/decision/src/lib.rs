//! The ContextOS decision plane: how a bounded loop turns compiled context
//! into work.
//!
//! Owns the model-provider seam ([`ModelProvider`]: recorded fixtures keyed
//! by request digest, scripted responses for authoring, sequence replay for
//! what-if replays, recording wrappers, and [`OpenAiCompatible`], the live
//! chat-completions client behind `contextos run --live`) and the planner /
//! critic / executor loop ([`run_loop`]): the planner is the model,
//! `critic.verify` checks a plan before any effect, the executor goes
//! through the tool gateway, `critic.score` accepts, retries, replans or
//! escalates, and consolidation turns results into memory proposals. Every
//! bound (iterations, tool calls, tokens, deadline) ends in a recorded
//! escalation, never a hang.
//!
//! It does not compile context (context plane), decide policy (trust plane)
//! or sign and store records (runtime).
//!
//! Every model is a [`ModelProvider`]; the loop only ever sees that seam.
//! A scripted provider answers in order and runs dry loudly:
//!
//! ```
//! use std::collections::BTreeMap;
//! use contextos_core::{ModelRequest, ModelResponse, Usage};
//! use contextos_decision::{ModelProvider, ScriptedModel};
//!
//! let answer = ModelResponse {
//!     content: "refund issued".into(),
//!     tool_calls: vec![],
//!     citations: vec![],
//!     confidence: Some(0.9),
//!     usage: Usage::default(),
//! };
//! let model = ScriptedModel::new(vec![answer.clone()]);
//! let request = ModelRequest { model: "gpt-4o".into(), params: BTreeMap::new(), tools: vec![], messages: vec![] };
//! assert_eq!(model.complete(&request)?, answer);
//! assert!(model.complete(&request).is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(missing_docs)]

mod agent_loop;
mod drift;
mod openai;
mod provider;

pub use agent_loop::{LoopConfig, LoopError, LoopInput, LoopResult, run_loop};
pub use drift::{model_call_number, request_drift};
pub use openai::{LiveModelConfig, OpenAiCompatible, check_params, fuzz_parse_response};
pub use provider::{
    ModelProvider, ProviderError, RecordedModel, RecordingModel, RequestDrift, ScriptedModel, SequenceReplayModel,
};
