//! The ContextOS intelligence plane: who is acting, for whom, in which tenant.
//!
//! Maps a [`RunContext`](contextos_core::RunContext) (tenant, user, agent,
//! workload identity, delegation chain) to the Cedar entities and the run
//! attributes (`context` record) that every policy request carries. It does
//! not decide anything (the trust plane does) and does not reach tools.
//!
//! The knowledge graph and promotion-aware memory of DESIGN.md grow here;
//! today memory proposals are produced by the decision loop and recorded in
//! the decision record, pending review.

#![deny(missing_docs)]

mod identity;

pub use identity::*;
