//! The ContextOS runtime: `invoke_agent` composing the planes.
//!
//! Loads a deployment (`runtime/contextos.toml`: policies, tool contracts,
//! packs, keys), runs a request envelope through compile -> bounded loop ->
//! signed decision record -> signed replay packet, persists it in the
//! embedded store (objects, evidence log, run index), replays packets with
//! or without overrides, and diffs packets. Runs on recorded fixtures use a
//! fixed clock and sequential ids, so they are pure functions of their
//! inputs.
//!
//! It holds no policy logic (trust plane), no planning logic (decision
//! plane) and no rendering (CLI).

#![deny(missing_docs)]

mod compile_step;
mod config;
mod deployment;
mod diff;
mod envelope;
mod error;
mod fixtures;
mod invoke;
mod replay;
mod script;

pub use compile_step::pack_entities;
pub use config::*;
pub use deployment::{Deployment, load_packs};
pub use diff::*;
pub use envelope::*;
pub use error::RunError;
pub use fixtures::Fixtures;
pub use invoke::*;
pub use replay::*;
pub use script::*;
