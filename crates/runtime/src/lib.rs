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
//!
//! The shipped example, end to end on its recorded fixtures:
//!
//! ```
//! use std::path::Path;
//! use contextos_runtime::{Deployment, Fixtures, RequestEnvelope, run_on_fixtures};
//!
//! let dep = Deployment::load(Path::new("../../runtime/contextos.toml"))?;
//! let file = "../../runtime/examples/escalation/request.yaml";
//! let env = RequestEnvelope::parse(file, &std::fs::read_to_string(file)?)?;
//! let fixtures = Fixtures::load(Path::new("../../runtime/examples/escalation/fixtures"))?;
//! let first = run_on_fixtures(&dep, &env, &fixtures)?;
//! let again = run_on_fixtures(&dep, &env, &fixtures)?;
//! assert_eq!(first.packet.run_id, "run_escalation_4411");
//! // A run on fixtures is a pure function of its inputs.
//! assert_eq!(first.packet_envelope, again.packet_envelope);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

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
mod run_mode;
mod script;

pub use config::{ContextConfig, EvaluatorConfig, ModelConfig, PathsConfig, RuntimeConfig};
pub use deployment::{Deployment, load_packs, pack_entities};
pub use diff::{CallChange, CallSide, Change, Divergence, PacketDiff, PolicyRef, diff_packets, first_divergence};
pub use envelope::{Request, RequestEnvelope};
pub use error::RunError;
pub use fixtures::Fixtures;
pub use invoke::{
    DECISION_RECORD_TYPE, PacketInteractions, REPLAY_PACKET_TYPE, RunArtifacts, StoredRun, envelope_bytes,
    invoke_agent, packet_interactions, persist, run_entities, run_on_fixtures,
};
pub use replay::{Replay, ReplayOverrides, open_packet, replay};
pub use run_mode::{Recorded, RunMode, run_in_mode};
pub use script::{
    Interactions, RecordedRun, Script, packet_approvals, run_recording, run_recording_partial, run_scripted,
    run_scripted_with_tools, write_fixtures,
};
