//! Test and bench support for the ContextOS crates: the scaffolding their
//! integration tests and benchmarks would otherwise each write again.
//!
//! - [`repo`]: the repository root, for the shipped `policies/`, `runtime/`
//!   and `tests/peers`.
//! - [`run_context`]: the standard run of tenant acme (user alice, agent
//!   triage-bot).
//! - [`World`] and [`world`]: the shipped policies, a tool catalog and that
//!   run as Cedar entities; [`World::call`] sends one tool call through a
//!   real `ToolGateway` with a fixed clock, sequential ids, recorded
//!   approvals and in-memory idempotency; [`catalog_of`] makes a catalog of
//!   contracts and [`EchoAdapter`] stands in for a tool that answers at once.
//! - [`peers`]: the MCP reference servers pinned in `tests/peers`, on stdio
//!   or over streamable HTTP.
//!
//! Only ever a `[dev-dependencies]` entry of integration tests and benches:
//! never a dependency of a library or the binary, and never used from a
//! crate's own `src` unit tests (there the dev-dependency cycle through
//! `contextos-action` would link two copies of that crate). It fails loudly
//! (panics) on broken fixtures instead of returning errors.

#![deny(missing_docs)]
#![expect(clippy::expect_used, reason = "test support fails loudly")]

pub mod peers;
mod repo;
mod run;
mod world;

pub use repo::repo;
pub use run::{TRACE_ID, run_context};
pub use world::{EchoAdapter, TestGateway, World, catalog_of, world};
