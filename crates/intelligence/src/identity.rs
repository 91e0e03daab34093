//! Identities as Cedar entities, and the run attributes as a Cedar context.

use cedar_policy::{EntityUid, RestrictedExpression};
use contextos_core::RunContext;
use contextos_core::cedar_names::{AGENT, TENANT, USER};
use serde_json::{Value, json};

use crate::entity_source::{Described, EntitySource};

/// A Cedar uid as the JSON form used in entity lists (`{"type": …, "id": …}`).
pub(crate) fn uid_json(entity_type: &str, id: &str) -> Value {
    json!({ "type": entity_type, "id": id })
}

/// A Cedar uid; the id is escaped, so any string is safe.
pub fn entity_uid(entity_type: &str, id: &str) -> Result<EntityUid, String> {
    let type_name = entity_type
        .parse()
        .map_err(|e| format!("invalid entity type {entity_type:?}: {e}"))?;
    Ok(EntityUid::from_type_name_and_id(
        type_name,
        id.parse().map_err(|e| format!("invalid id {id:?}: {e:?}"))?,
    ))
}

/// The principal of every request of this run: the acting agent.
pub fn principal_uid(run: &RunContext) -> Result<EntityUid, String> {
    entity_uid(AGENT, &run.agent.id)
}

/// Cedar entities (JSON entity format) for the run's tenant, user, agent and
/// the agents of its delegation chain (each acting for the same user, one
/// level shallower), each with its `attributes` from `source`.
pub fn identity_entities(run: &RunContext, source: &EntitySource) -> Vec<Value> {
    let tenant = uid_json(TENANT, &run.tenant_id);
    let user = uid_json(USER, &run.user.id);
    let mut entities = vec![
        json!({
            "uid": tenant,
            "attrs": { "attributes": source.attributes(Described::Tenant, &run.tenant_id) },
            "parents": [],
        }),
        json!({
            "uid": user,
            "attrs": {
                "tenant": tenant,
                "roles": run.user.roles,
                "attributes": source.attributes(Described::User, &run.user.id),
            },
            "parents": [tenant],
        }),
        json!({
            "uid": uid_json(AGENT, &run.agent.id),
            "attrs": {
                "tenant": tenant,
                "workload": run.agent.workload,
                "acting_for": user,
                "delegation_depth": run.delegation_chain.len(),
                "attributes": source.attributes(Described::Agent, &run.agent.id),
            },
            "parents": [tenant],
        }),
    ];
    for (depth, agent) in run.delegation_chain.iter().enumerate() {
        if agent == &run.agent.id {
            continue;
        }
        entities.push(json!({
            "uid": uid_json(AGENT, agent),
            "attrs": {
                "tenant": tenant,
                "workload": format!("delegator:{agent}"),
                "acting_for": user,
                "delegation_depth": depth,
                "attributes": source.attributes(Described::Agent, agent),
            },
            "parents": [tenant],
        }));
    }
    entities
}

/// What is left of the run budget when a request is made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BudgetLeft {
    /// Tool calls left.
    pub tool_calls: u64,
    /// Tokens left.
    pub tokens: u64,
}

/// The run attributes every policy request carries (`context` minus
/// `approval`, which the policy engine sets), built directly as Cedar values:
/// building them from JSON costs more than the evaluation itself.
pub fn run_attributes(run: &RunContext, left: BudgetLeft) -> Result<Vec<(String, RestrictedExpression)>, String> {
    let tenant = entity_uid(TENANT, &run.tenant_id)?;
    let long = |n: u64| RestrictedExpression::new_long(i64::try_from(n).unwrap_or(i64::MAX));
    let budget = RestrictedExpression::new_record([
        ("tool_calls_left".to_string(), long(left.tool_calls)),
        ("tokens_left".to_string(), long(left.tokens)),
    ])
    .map_err(|e| e.to_string())?;
    Ok(vec![
        ("tenant".to_string(), RestrictedExpression::new_entity_uid(tenant)),
        (
            "safety_mode".to_string(),
            RestrictedExpression::new_string(run.safety_mode.as_str().to_string()),
        ),
        (
            "run_approval_level".to_string(),
            RestrictedExpression::new_long(run.approval_mode.level()),
        ),
        ("budget".to_string(), budget),
    ])
}
