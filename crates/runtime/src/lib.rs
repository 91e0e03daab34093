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
mod diff;
mod envelope;
mod error;
mod invoke;
mod replay;
mod run_mode;
mod script;

pub use compile_step::{load_packs, pack_entities};
pub use config::*;
pub use diff::*;
pub use envelope::*;
pub use error::RunError;
pub use invoke::*;
pub use replay::*;
pub use run_mode::{Recorded, RunMode, run_in_mode};
pub use script::*;
