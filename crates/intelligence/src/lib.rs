//! The ContextOS intelligence plane: who is acting, for whom, in which tenant.
//!
//! Maps a [`RunContext`](contextos_core::RunContext) (tenant, user, agent,
//! workload identity, delegation chain) to the Cedar entities and the run
//! attributes (`context` record) that every policy request carries. It does
//! not decide anything (the trust plane does) and does not reach tools.
//! What the runtime knows beyond the run context (attributes of tenants,
//! users, agents and packs, and the deployment's own entities) comes from
//! the deployment's [`EntitySource`].
//!
//! The knowledge graph and promotion-aware memory grow here as later planes;
//! today memory proposals are produced by the decision loop and recorded in
//! the decision record, pending review.
//!
//! The shipped example run as Cedar entities:
//!
//! ```
//! use contextos_core::{RunContext, parse_yaml};
//! use contextos_intelligence::{EntitySource, identity_entities, principal_uid};
//!
//! let file = "../../runtime/examples/escalation/request.yaml";
//! let envelope: serde_json::Value = parse_yaml(file, &std::fs::read_to_string(file)?)?;
//! let run: RunContext = serde_json::from_value(envelope["run_context"].clone())?;
//! assert_eq!(principal_uid(&run)?.to_string(), r#"ContextOS::Agent::"triage-bot""#);
//! let entities = identity_entities(&run, &EntitySource::empty());
//! let uids: Vec<&str> = entities.iter().filter_map(|e| e["uid"]["type"].as_str()).collect();
//! assert!(uids.contains(&"ContextOS::Tenant") && uids.contains(&"ContextOS::User"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(missing_docs)]

mod entity_source;
mod identity;

pub use entity_source::{Described, ENTITY_SOURCE_FORMAT_VERSION, EntitySource, EntitySourceError};
pub use identity::{BudgetLeft, entity_uid, identity_entities, principal_uid, run_attributes};
