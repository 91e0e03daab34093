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

#![deny(missing_docs)]

mod agent_loop;
mod openai;
mod provider;

pub use agent_loop::*;
pub use openai::*;
pub use provider::*;
