//! Differential test: the engine's decisions against an independent Cedar
//! evaluation (PyPI `cedarpy`, driven by `tests/parity/cedar_decide.py`).
//!
//! A seeded generator builds policy bundles (the shipped one, and the shipped
//! one with random extra enforced and shadow policies and the approver roles
//! they name) and requests over random entities and contexts. Each request is
//! decided by [`PolicyEngine::authorize`] and by the script, which applies the
//! same approval derivation and shadow rules on its own; outcome, determining
//! policies, approver roles, shadow effects and error counts must agree.
//!
//! Requests are documents (`principal`, `action`, `resource`, a `context`
//! JSON object and Cedar JSON entities) and bundles are directories of text
//! files, so richer contexts (tool arguments) need only a richer generator.
//!
//! Every bundle's deployment schema is [`PARITY_SCHEMA`]: tenants, users,
//! tools and packs carry `attributes` records of optional fields (a tool's
//! naming a team entity), entities carry random ones, and extra policies read
//! them, guarded by `has` or not (candidates strict validation refuses are
//! drawn again). The test reports how many decisions an attribute-reading
//! policy determined.
//!
//! Skips, saying so on stderr, when python3 or cedarpy is missing, unless
//! `CONTEXTOS_REQUIRE_PEERS` is set (`cargo xtask test` sets it and installs
//! cedarpy into `tests/parity/.venv`).

#![expect(
    clippy::unwrap_used,
    clippy::panic,
    reason = "a test fails loudly on broken fixtures and generator bugs"
)]

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use cedar_policy::{PolicySet, Schema, ValidationMode, Validator};
use contextos_core::PolicyDecision;
use contextos_trust::{
    ARGUMENTS, ArgumentType, GENERATED_SCHEMA_FILE, PolicyEngine, RecordType, RequestDocument, ToolArguments,
    is_shadow_error, tool_actions_schema,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The deployment schema of every generated bundle (it replaces the shipped
/// `schema.cedarschema`): attribute records for tenants, users, tools and
/// packs, all fields optional so `has` matters, and a team entity a tool's
/// attributes point at. `AgentAttributes` stays undeclared (`{}`). A
/// superset of what shipped policies may read (`data_class` on tools,
/// `plan` on tenants).
const PARITY_SCHEMA: &str = "\
namespace Parity {
  entity Team {
    size: Long,
  };
  type TenantAttributes = { plan?: String, region?: String };
  type UserAttributes = { clearance?: Long };
  type ToolAttributes = { data_class?: String, environment?: String, tier?: Long, owner_team?: Team };
  type PackAttributes = { data_class?: String };
}
";

/// Bundles compared; the first is the shipped bundle (with [`PARITY_SCHEMA`]).
const BUNDLES: usize = 16;
/// Requests per bundle (16 × 120 = 1,920 requests, over 1,000 of them tool
/// calls with arguments).
const REQUESTS_PER_BUNDLE: usize = 120;
const SEED: u64 = 0x0c0e_7e57_ced0_2026;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// SplitMix64: small, seeded, the same on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    /// True with probability `percent`/100.
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn int(&mut self, low: i64, high: i64) -> i64 {
        low + (self.next() % (high - low + 1) as u64) as i64
    }
}

const TENANTS: [&str; 2] = ["acme", "globex"];
const USERS: [&str; 3] = ["alice", "gina", "mallory"];
const AGENTS: [&str; 3] = ["triage-bot", "helper-bot", "rogue-bot"];
const TOOLS: [&str; 6] = [
    "read_ticket",
    "draft_reply",
    "issue_refund",
    "send_email",
    "delete_account",
    "restart_service",
];
/// The JSON Schema of each tool's arguments: the tool actions of every
/// generated bundle come from these, as a deployment's come from its contracts.
fn tool_input_schema(tool: &str) -> Value {
    let string = json!({ "type": "string" });
    match tool {
        "issue_refund" => json!({
            "type": "object",
            "required": ["amount_cents", "currency"],
            "properties": {
                "amount_cents": { "type": "integer" },
                "currency": { "enum": ["USD", "EUR"] },
                "express": { "type": "boolean" },
                "tags": { "type": "array", "items": string },
                "api_key": string,
            }
        }),
        "restart_service" => json!({
            "type": "object",
            "required": ["service", "environment"],
            "properties": {
                "service": string,
                "environment": { "enum": ["staging", "production"] },
                "replicas": { "type": "integer" },
                "window": { "type": "object", "required": ["start"], "properties": { "start": string, "minutes": { "type": "integer" } } },
            }
        }),
        _ => json!({ "type": "object", "required": ["ticket_id"], "properties": { "ticket_id": string } }),
    }
}

/// Arguments for a call of `tool` that fit [`tool_input_schema`]; optional
/// ones are sometimes left out, numbers sometimes at the edges of a Long.
fn arguments(rng: &mut Rng, tool: &str) -> Value {
    match tool {
        "issue_refund" => {
            let mut args = json!({
                "amount_cents": long(rng, 0, 90_000),
                "currency": rng.pick(&["USD", "EUR"]),
                "api_key": "sk-never-reaches-cedar",
            });
            if rng.chance(50) {
                args["express"] = json!(rng.chance(50));
            }
            if rng.chance(50) {
                let tags: Vec<&str> = ["vip", "fraud", "repeat"]
                    .into_iter()
                    .filter(|_| rng.chance(50))
                    .collect();
                args["tags"] = json!(tags);
            }
            args
        }
        "restart_service" => {
            let mut args = json!({
                "service": rng.pick(&["payments-db", "payments-api", "search"]),
                "environment": rng.pick(&["staging", "production"]),
            });
            if rng.chance(60) {
                args["replicas"] = json!(long(rng, 0, 5));
            }
            if rng.chance(40) {
                args["window"] = json!({ "start": "02:00", "minutes": rng.int(5, 60) });
            }
            args
        }
        _ => json!({ "ticket_id": format!("T-{}", rng.int(1, 9999)) }),
    }
}

/// The part of `value` policies see: the attributes of `record`, recursively.
fn visible(record: &RecordType, value: &Value) -> Value {
    let fields = record.fields.iter().filter_map(|(name, field)| {
        let v = value.get(name)?;
        let v = match &field.ty {
            ArgumentType::Record(inner) => visible(inner, v),
            _ => v.clone(),
        };
        Some((name.clone(), v))
    });
    Value::Object(fields.collect())
}

/// For a tool call, `context.arguments`: what the gateway hands Cedar, the
/// typed view of the arguments (secret-shaped ones left out).
fn add_arguments(rng: &mut Rng, action: &str, context: &mut serde_json::Map<String, Value>) {
    if !TOOLS.contains(&action) {
        return;
    }
    let args = arguments(rng, action);
    let typed = ToolArguments::from_json_schema(action, &tool_input_schema(action), &[]);
    typed.expression(&args).unwrap();
    let seen = visible(&typed.record, &args);
    assert!(seen.get("api_key").is_none(), "a secret-shaped argument reached Cedar");
    context.insert(ARGUMENTS.to_string(), seen);
}

/// The generated tool actions of a bundle (`tools.generated.cedarschema`).
fn tools_schema() -> String {
    let tools: Vec<ToolArguments> = TOOLS
        .iter()
        .map(|tool| ToolArguments::from_json_schema(tool, &tool_input_schema(tool), &[]))
        .collect();
    tool_actions_schema(&tools)
}

const MODES: [&str; 5] = ["read_only", "local_write", "network", "delegated", "destructive"];
const SAFETY: [&str; 3] = ["restricted", "standard", "elevated"];
/// Roles extra policies may name (the shipped ones first).
const ROLE_POOL: [&str; 4] = ["support_lead", "security_officer", "finance_lead", "oncall_lead"];

/// A uid of one of the runtime's types (`kind` without its namespace).
fn uid(kind: &str, id: &str) -> Value {
    json!({ "type": format!("ContextOS::{kind}"), "id": id })
}

fn entity_ref(kind: &str, id: &str) -> Value {
    json!({ "__entity": uid(kind, id) })
}

/// The built-in entity types that carry the deployment's `attributes` record.
const ATTRIBUTED: [&str; 5] = ["Tenant", "User", "Agent", "Tool", "Pack"];

fn entity(kind: &str, id: &str, mut attrs: Value, parents: &[(&str, &str)]) -> Value {
    let parents: Vec<Value> = parents.iter().map(|(k, i)| uid(k, i)).collect();
    if ATTRIBUTED.contains(&kind) && attrs.get("attributes").is_none() {
        attrs["attributes"] = json!({});
    }
    json!({ "uid": uid(kind, id), "attrs": attrs, "parents": parents })
}

/// A number, sometimes at the edges of a Long so arithmetic can overflow.
fn long(rng: &mut Rng, low: i64, high: i64) -> i64 {
    match rng.below(20) {
        0 => i64::MAX,
        1 => i64::MIN,
        _ => rng.int(low, high),
    }
}

/// The run attributes Cedar sees (the `context` record).
fn context(rng: &mut Rng, agent_tenant: &str, roles: &[String]) -> Value {
    let tenant = if rng.chance(90) {
        agent_tenant
    } else {
        rng.pick(&TENANTS)
    };
    let approval = if rng.chance(65) {
        json!({ "granted": false, "role": "" })
    } else {
        let role = if rng.chance(90) {
            roles[rng.below(roles.len())].clone()
        } else {
            "auditor".to_string()
        };
        json!({ "granted": true, "role": role })
    };
    json!({
        "tenant": entity_ref("Tenant", tenant),
        "safety_mode": rng.pick(&["restricted", "standard", "standard", "elevated", "elevated"]),
        "run_approval_level": match rng.below(20) {
            0 => 9,
            1 | 2 => 0,
            _ => rng.int(1, 4),
        },
        "approval": approval,
        "budget": {
            "tool_calls_left": long(rng, -1, 6),
            "tokens_left": long(rng, 0, 2000),
        },
    })
}

/// Sets `field` of `record` to `value` now and then (`percent` of the
/// time): the deployment's attribute fields are all optional.
fn maybe(rng: &mut Rng, percent: u64, record: &mut Value, field: &str, value: Value) {
    if rng.chance(percent) {
        record[field] = value;
    }
}

/// A tenant's `attributes` (`TenantAttributes` of [`PARITY_SCHEMA`]).
fn tenant_attributes(rng: &mut Rng) -> Value {
    let mut record = json!({});
    let plan = rng.pick(&["trial", "enterprise", "free"]);
    maybe(rng, 75, &mut record, "plan", json!(plan));
    let region = rng.pick(&["eu", "us"]);
    maybe(rng, 60, &mut record, "region", json!(region));
    json!({ "attributes": record })
}

/// A tool's `attributes`: its team (`Parity::Team`, whose entity may be
/// missing) and a tier sometimes at the edges of a Long.
fn tool_attributes(rng: &mut Rng) -> Value {
    let mut record = json!({});
    let class = rng.pick(&["financial", "public", "pii"]);
    maybe(rng, 70, &mut record, "data_class", json!(class));
    let environment = rng.pick(&["staging", "production"]);
    maybe(rng, 50, &mut record, "environment", json!(environment));
    let tier = long(rng, 0, 5);
    maybe(rng, 60, &mut record, "tier", json!(tier));
    let team = json!({ "__entity": { "type": "Parity::Team", "id": rng.pick(&TEAMS) } });
    maybe(rng, 50, &mut record, "owner_team", team);
    record
}

const TEAMS: [&str; 2] = ["payments", "search"];

/// The entities every request starts with: tenants with their attributes
/// and teams, each now and then missing so reading them errs.
fn base_entities(rng: &mut Rng) -> Vec<Value> {
    let mut entities = Vec::new();
    for tenant in TENANTS {
        let attrs = tenant_attributes(rng);
        if rng.chance(97) {
            entities.push(entity("Tenant", tenant, attrs, &[]));
        }
    }
    for team in TEAMS {
        let size = long(rng, 1, 12);
        if rng.chance(80) {
            entities.push(
                json!({ "uid": { "type": "Parity::Team", "id": team }, "attrs": { "size": size }, "parents": [] }),
            );
        }
    }
    entities
}

/// Sets `owner_tenant` of `attrs` now and then, most often to the agent's tenant.
fn owner(rng: &mut Rng, agent_tenant: &str, attrs: &mut Value) {
    if rng.chance(30) {
        let tenant = if rng.chance(70) {
            agent_tenant
        } else {
            rng.pick(&TENANTS)
        };
        attrs["owner_tenant"] = entity_ref("Tenant", tenant);
    }
}

/// An agent's attributes: of `tenant`, acting for `user`.
fn agent_attrs(rng: &mut Rng, tenant: &str, user: &str) -> Value {
    json!({
        "tenant": entity_ref("Tenant", tenant),
        "workload": format!("spiffe://{tenant}.example/agents/{}", rng.below(3)),
        "acting_for": entity_ref("User", user),
        "delegation_depth": rng.int(0, 3),
    })
}

/// A tool call's action and resource, adding the tool (now and then missing).
fn tool_resource(rng: &mut Rng, agent_tenant: &str, entities: &mut Vec<Value>) -> (&'static str, String) {
    let tool = rng.pick(&TOOLS);
    // Network tools (the approval path) most often.
    let level = rng.pick(&[0, 0, 1, 1, 2, 2, 2, 2, 2, 3, 4, 4]);
    // The level is the mode's number, except now and then.
    let level_attr = if rng.chance(90) { level as i64 } else { rng.int(0, 9) };
    let mut attrs = json!({
        "approval_mode": MODES[level],
        "approval_level": level_attr,
        "side_effect": rng.pick(&["none", "write", "network", "destructive"]),
        "attributes": tool_attributes(rng),
    });
    owner(rng, agent_tenant, &mut attrs);
    if rng.chance(97) {
        entities.push(entity("Tool", tool, attrs, &[]));
    }
    (tool, format!("ContextOS::Tool::{tool:?}"))
}

/// A `use_pack` request's resource (a pack or one of its layers), adding
/// the pack and layer.
fn pack_resource(rng: &mut Rng, agent_tenant: &str, entities: &mut Vec<Value>) -> (&'static str, String) {
    let pack = rng.pick(&["support", "billing"]);
    let mut pack_class = json!({});
    let class = rng.pick(&["financial", "public"]);
    maybe(rng, 60, &mut pack_class, "data_class", json!(class));
    let mut pack_attrs = json!({ "signed": rng.chance(70), "attributes": pack_class });
    owner(rng, agent_tenant, &mut pack_attrs);
    entities.push(entity("Pack", pack, pack_attrs, &[]));
    if rng.chance(50) {
        ("use_pack", format!("ContextOS::Pack::{pack:?}"))
    } else {
        let mut attrs = json!({ "kind": rng.pick(&["policy", "memory", "examples"]) });
        owner(rng, agent_tenant, &mut attrs);
        entities.push(entity("Layer", "layer-1", attrs, &[("Pack", pack)]));
        ("use_pack", "ContextOS::Layer::\"layer-1\"".to_string())
    }
}

/// One request with its entities: an agent acting for a user, one of the
/// four actions and a resource of a type the action applies to. Entities are
/// sometimes missing, so attribute access fails and evaluation errs.
fn request(rng: &mut Rng, roles: &[String]) -> RequestDocument {
    let mut entities = base_entities(rng);
    let agent = rng.pick(&AGENTS);
    let agent_tenant = rng.pick(&TENANTS);
    let user = rng.pick(&USERS);
    if rng.chance(95) {
        let tenant = if rng.chance(90) {
            agent_tenant
        } else {
            rng.pick(&TENANTS)
        };
        let user_roles: Vec<&str> = ["support_agent", "support_lead"]
            .into_iter()
            .filter(|_| rng.chance(50))
            .collect();
        let mut user_attributes = json!({});
        let clearance = long(rng, 0, 5);
        maybe(rng, 70, &mut user_attributes, "clearance", json!(clearance));
        let attrs =
            json!({ "tenant": entity_ref("Tenant", tenant), "roles": user_roles, "attributes": user_attributes });
        entities.push(entity("User", user, attrs, &[("Tenant", tenant)]));
    }
    if rng.chance(97) {
        let attrs = agent_attrs(rng, agent_tenant, user);
        entities.push(entity("Agent", agent, attrs, &[("Tenant", agent_tenant)]));
    }
    let (action, resource) = match rng.below(10) {
        0..=5 => tool_resource(rng, agent_tenant, &mut entities),
        6 | 7 => pack_resource(rng, agent_tenant, &mut entities),
        8 => {
            let tenant = rng.pick(&TENANTS);
            let attrs = agent_attrs(rng, tenant, user);
            entities.push(entity("Agent", "sub-agent", attrs, &[("Tenant", tenant)]));
            ("delegate", "ContextOS::Agent::\"sub-agent\"".to_string())
        }
        _ => {
            let tenant = rng.pick(&TENANTS);
            let attrs = json!({ "tenant": entity_ref("Tenant", tenant), "reviewed": rng.chance(50) });
            entities.push(entity("Memory", "m-1", attrs, &[]));
            ("promote_memory", "ContextOS::Memory::\"m-1\"".to_string())
        }
    };
    let Value::Object(mut context) = context(rng, agent_tenant, roles) else {
        unreachable!("the context is a record")
    };
    add_arguments(rng, action, &mut context);
    RequestDocument {
        principal: format!("ContextOS::Agent::{agent:?}"),
        action: action.to_string(),
        resource,
        context,
        entities,
    }
}

/// A condition every action can evaluate (principal and context only);
/// names the roles it compares `context.approval.role` with in `roles`.
fn common_atom(rng: &mut Rng, roles: &mut Vec<String>) -> String {
    let n = rng.int(0, 4);
    match rng.below(15) {
        0 => format!("context.safety_mode == {:?}", rng.pick(&SAFETY)),
        1 => format!("context.safety_mode != {:?}", rng.pick(&SAFETY)),
        2 => format!("context.run_approval_level >= {n}"),
        3 => format!("context.budget.tool_calls_left < {n}"),
        4 => format!("context.budget.tokens_left * {} > {}", n + 2, rng.int(0, 3000)),
        5 => format!("context.budget.tool_calls_left + {n} > 2"),
        6 => "context.approval.granted".to_string(),
        7 => {
            let role = rng.pick(&ROLE_POOL);
            roles.push(role.to_string());
            format!("context.approval.role == {role:?}")
        }
        8 => {
            let (a, b) = (rng.pick(&ROLE_POOL), rng.pick(&ROLE_POOL));
            roles.extend([a.to_string(), b.to_string()]);
            format!("[{a:?}, {b:?}].contains(context.approval.role)")
        }
        9 => format!("principal.delegation_depth > {}", rng.int(0, 2)),
        10 => "principal.tenant == context.tenant".to_string(),
        11 => "principal.acting_for.tenant == context.tenant".to_string(),
        12 => "principal.acting_for.roles.contains(\"support_lead\")".to_string(),
        13 => "principal.workload like \"spiffe://acme*\"".to_string(),
        _ => format!("principal in ContextOS::Tenant::{:?}", rng.pick(&TENANTS)),
    }
}

/// A condition on the optional attribute `field` of the record `path`:
/// guarded by `has`, the `has` test alone, or unguarded (`path.field` then
/// `test`), which strict validation accepts only where an earlier `has`
/// (another atom of an `&&`, an `if`) guards it.
fn optional(rng: &mut Rng, path: &str, field: &str, test: &str) -> String {
    match rng.below(10) {
        0..=4 => format!("{path} has {field} && {path}.{field}{test}"),
        5 | 6 => format!("{path} has {field}"),
        _ => format!("{path}.{field}{test}"),
    }
}

/// A condition on the attributes of the principal's tenant or user, or of
/// the run's tenant (every action can evaluate it).
fn principal_attribute_atom(rng: &mut Rng) -> String {
    let n = rng.int(0, 4);
    match rng.below(4) {
        0 => optional(rng, "principal.tenant.attributes", "plan", " == \"trial\""),
        1 => {
            let plan = rng.pick(&["enterprise", "free"]);
            optional(rng, "context.tenant.attributes", "plan", &format!(" != {plan:?}"))
        }
        2 => optional(rng, "context.tenant.attributes", "region", " == \"eu\""),
        _ => optional(rng, "principal.acting_for.attributes", "clearance", &format!(" >= {n}")),
    }
}

/// A condition on a tool's attributes; `scope` 7 (`restart_service`)
/// compares its environment with the call's argument.
fn tool_attribute_atom(rng: &mut Rng, scope: usize) -> String {
    let n = rng.int(0, 4);
    let path = "resource.attributes";
    match rng.below(6) {
        0 => optional(rng, path, "data_class", " == \"financial\""),
        1 => optional(rng, path, "tier", &format!(" > {n}")),
        // Overflows when the tier is at the edge of a Long.
        2 => optional(rng, path, "tier", &format!(" + {n} > 3")),
        3 => optional(rng, path, "owner_team", " == Parity::Team::\"payments\""),
        // Errs when the team's entity is missing.
        4 => optional(rng, path, "owner_team", &format!(".size > {n}")),
        _ if scope == 7 => optional(rng, path, "environment", " == context.arguments.environment"),
        _ => optional(rng, path, "environment", " == \"production\""),
    }
}

/// A condition on the resource of the scope's action.
fn resource_atom(rng: &mut Rng, scope: usize) -> Option<String> {
    let n = rng.int(0, 4);
    if rng.chance(70) {
        match scope {
            1 | 6 | 7 => return Some(tool_attribute_atom(rng, scope)),
            2 => return Some(optional(rng, "resource.attributes", "data_class", " == \"financial\"")),
            _ => {}
        }
    }
    let atom = match (scope, rng.below(4)) {
        (1 | 6 | 7, 0) => format!("resource.approval_level > {n}"),
        (1, 1) => format!("resource.approval_mode == {:?}", rng.pick(&MODES)),
        (1, 2) => "resource has owner_tenant && resource.owner_tenant == principal.tenant".to_string(),
        (1, _) => format!("resource == ContextOS::Tool::{:?}", rng.pick(&TOOLS)),
        (6, 1) => format!("context.arguments.amount_cents > {}", rng.int(0, 90_000)),
        (6, 2) => format!("context.arguments.currency == {:?}", rng.pick(&["USD", "EUR"])),
        (6, _) => rng
            .pick(&[
                "context.arguments has express && context.arguments.express",
                "context.arguments has tags && context.arguments.tags.contains(\"vip\")",
                "context.arguments.amount_cents * 3 > 100000",
            ])
            .to_string(),
        (7, 1) => "context.arguments.environment == \"production\"".to_string(),
        (7, 2) => format!("context.arguments has replicas && context.arguments.replicas >= {n}"),
        (7, _) => rng
            .pick(&[
                "context.arguments.service like \"payments*\"",
                "context.arguments has window && context.arguments.window has minutes && context.arguments.window.minutes > 30",
            ])
            .to_string(),
        (2, 0 | 1) => "resource.signed".to_string(),
        (2, _) => "resource has owner_tenant && resource.owner_tenant != context.tenant".to_string(),
        (3, 0) => "resource.kind == \"memory\"".to_string(),
        (3, _) => "resource in ContextOS::Pack::\"billing\"".to_string(),
        (4, 0 | 1) => "resource.delegation_depth < principal.delegation_depth".to_string(),
        (4, _) => "resource.tenant == principal.tenant".to_string(),
        (5, 0 | 1) => "resource.reviewed".to_string(),
        (5, _) => "resource.tenant == context.tenant".to_string(),
        _ => return None,
    };
    Some(atom)
}

/// A condition of one to three atoms joined by `&&` / `||`, some negated,
/// now and then an `if … then … else …`.
fn condition(rng: &mut Rng, scope: usize, roles: &mut Vec<String>) -> String {
    let mut atom = |rng: &mut Rng| {
        let text = match rng.chance(50).then(|| resource_atom(rng, scope)).flatten() {
            Some(text) => text,
            None if rng.chance(25) => principal_attribute_atom(rng),
            None => common_atom(rng, roles),
        };
        if rng.chance(15) {
            format!("!({text})")
        } else {
            format!("({text})")
        }
    };
    if rng.chance(10) {
        let (a, b, c) = (atom(rng), atom(rng), atom(rng));
        return format!("if {a} then {b} else {c}");
    }
    let mut text = atom(rng);
    for _ in 0..rng.below(3) {
        let joiner = if rng.chance(70) { "&&" } else { "||" };
        text = format!("{text} {joiner} {}", atom(rng));
    }
    text
}

/// One random policy, usually valid against the bundle's schema in strict
/// mode ([`valid_extra_policy`] keeps only those).
fn extra_policy(rng: &mut Rng, n: usize, roles: &mut Vec<String>) -> String {
    const SCOPES: [&str; 8] = [
        "action, resource",
        "action in ContextOS::Action::\"call_tool\", resource",
        "action == ContextOS::Action::\"use_pack\", resource is ContextOS::Pack",
        "action == ContextOS::Action::\"use_pack\", resource is ContextOS::Layer",
        "action == ContextOS::Action::\"delegate\", resource",
        "action == ContextOS::Action::\"promote_memory\", resource",
        "action == ContextOS::Action::\"issue_refund\", resource",
        "action == ContextOS::Action::\"restart_service\", resource",
    ];
    let scope = rng.below(SCOPES.len());
    let principal = match rng.below(4) {
        0 => "principal == ContextOS::Agent::\"triage-bot\"".to_string(),
        1 => format!("principal in ContextOS::Tenant::{:?}", rng.pick(&TENANTS)),
        _ => "principal".to_string(),
    };
    let effect = if rng.chance(55) { "permit" } else { "forbid" };
    let mode = if rng.chance(25) { "@mode(\"shadow\")\n" } else { "" };
    let mut body = format!("when {{ {} }}", condition(rng, scope, roles));
    if rng.chance(20) {
        body.push_str(&format!("\nunless {{ {} }}", condition(rng, scope, roles)));
    }
    format!(
        "@id(\"parity.extra-{n}\")\n{mode}{effect} ({principal}, {}) \n{body};\n",
        SCOPES[scope]
    )
}

/// Whether `text` (policies) passes strict validation.
fn validates(validator: &Validator, text: &str) -> bool {
    let set: PolicySet = text
        .parse()
        .unwrap_or_else(|e| panic!("generated policy does not parse: {e}\n{text}"));
    validator.validate(&set, ValidationMode::Strict).validation_passed()
}

/// A random policy that passes strict validation: candidates that read an
/// optional attribute no `has` guards are drawn again (counted in
/// `rejected`). The first of a bundle (`n` 0) reads an `attributes` record
/// (drawn again until it does). Adds the roles the kept policy names to
/// `roles`.
fn valid_extra_policy(
    rng: &mut Rng,
    n: usize,
    validator: &Validator,
    roles: &mut Vec<String>,
    rejected: &mut usize,
) -> String {
    for _ in 0..1000 {
        let mut named = Vec::new();
        let text = extra_policy(rng, n, &mut named);
        if n == 0 && !text.contains(".attributes") {
            continue;
        }
        if validates(validator, &text) {
            roles.extend(named);
            return text;
        }
        *rejected += 1;
    }
    panic!("no fitting valid extra policy in 1000 draws")
}

/// A generated bundle: its approver roles, the ids of its policies that
/// read an `attributes` record, and how many candidate policies failed
/// strict validation and were drawn again.
struct Bundle {
    roles: Vec<String>,
    attribute_policies: BTreeSet<String>,
    rejected: usize,
}

/// The ids of the policies in the bundle's `.cedar` files that read an
/// `attributes` record.
fn attribute_policies(dir: &Path) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "cedar") {
            let set: PolicySet = fs::read_to_string(&path).unwrap().parse().unwrap();
            ids.extend(
                set.policies()
                    .filter(|p| p.to_string().contains(".attributes"))
                    .map(|p| p.annotation("id").unwrap_or_else(|| p.id().as_ref()).to_string()),
            );
        }
    }
    ids
}

/// What every generated bundle shares: [`PARITY_SCHEMA`], the generated
/// `ContextOS` namespace for it and the tool actions, and a strict validator
/// of the two.
struct Schemas {
    generated: String,
    validator: Validator,
}

impl Schemas {
    /// Generates the namespace in `dir` (a scratch directory).
    fn new(dir: &Path) -> Self {
        fs::create_dir_all(dir).unwrap();
        fs::write(dir.join("schema.cedarschema"), PARITY_SCHEMA).unwrap();
        let generated = PolicyEngine::generated_schema(dir, &tools_schema()).unwrap();
        let (schema, _) = Schema::from_cedarschema_str(&format!("{PARITY_SCHEMA}\n{generated}")).unwrap();
        Self {
            generated,
            validator: Validator::new(schema),
        }
    }
}

/// A bundle directory: the shipped files with the parity schema for the
/// deployment's (and the namespace generated from it), plus (unless `index`
/// is 0) random extra policies and an `approvers.yaml` naming every role a
/// policy names.
fn write_bundle(rng: &mut Rng, index: usize, dir: &Path, schemas: &Schemas) -> Bundle {
    fs::create_dir_all(dir).unwrap();
    for entry in fs::read_dir(repo().join("policies")).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
        }
    }
    fs::write(dir.join("schema.cedarschema"), PARITY_SCHEMA).unwrap();
    fs::write(dir.join(GENERATED_SCHEMA_FILE), &schemas.generated).unwrap();
    // The shipped approvers.yaml, in its order.
    let mut roles: Vec<String> = vec!["support_lead".into(), "finance_lead".into(), "security_officer".into()];
    let mut rejected = 0;
    if index > 0 {
        let mut named = Vec::new();
        let policies: Vec<String> = (0..rng.int(1, 5))
            .map(|n| valid_extra_policy(rng, n as usize, &schemas.validator, &mut named, &mut rejected))
            .collect();
        fs::write(dir.join("zz-parity.cedar"), policies.concat()).unwrap();
        write_approvers(dir, &mut roles, named);
    }
    Bundle {
        roles,
        attribute_policies: attribute_policies(dir),
        rejected,
    }
}

/// Adds the `named` roles to `roles` (once each) and lists them all in the
/// bundle's `approvers.yaml`.
fn write_approvers(dir: &Path, roles: &mut Vec<String>, named: Vec<String>) {
    for role in named {
        if !roles.contains(&role) {
            roles.push(role);
        }
    }
    let listed: String = roles.iter().map(|r| format!("  - {r}\n")).collect();
    fs::write(
        dir.join("approvers.yaml"),
        format!("format_version: 1\nroles:\n{listed}"),
    )
    .unwrap();
}

/// What both sides must agree on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Verdict {
    outcome: String,
    determining: Vec<String>,
    approver_roles: Vec<String>,
    shadow: Vec<(String, String)>,
    enforced_errors: usize,
    shadow_errors: usize,
}

impl Verdict {
    fn of(decision: &PolicyDecision) -> Self {
        let shadow_errors = decision.errors.iter().filter(|e| is_shadow_error(e)).count();
        Self {
            outcome: snake_case(&decision.outcome),
            determining: decision.determining_policies.clone(),
            approver_roles: decision.approver_roles.clone(),
            shadow: decision
                .shadow
                .iter()
                .map(|s| (s.policy_id.clone(), snake_case(&s.would_be)))
                .collect(),
            enforced_errors: decision.errors.len() - shadow_errors,
            shadow_errors,
        }
    }
}

/// An outcome as serialized: `allow`, `deny`, `approval_required`.
fn snake_case(outcome: &impl Serialize) -> String {
    match serde_json::to_value(outcome).unwrap() {
        Value::String(s) => s,
        other => other.to_string(),
    }
}

#[derive(Deserialize)]
struct Decided {
    bundles: Vec<Vec<Verdict>>,
}

/// The interpreter to run the script with: the project venv's when
/// `cargo xtask test` made one, else `python3`.
fn python() -> PathBuf {
    let venv = repo().join("tests/parity/.venv/bin/python3");
    if venv.is_file() { venv } else { PathBuf::from("python3") }
}

/// Why the peer cannot run, if it cannot.
fn peer_missing(python: &Path) -> Option<String> {
    match Command::new(python).args(["-c", "import cedarpy"]).output() {
        Err(e) => Some(format!("cannot run {}: {e}", python.display())),
        Ok(out) if !out.status.success() => Some(format!(
            "{} cannot import cedarpy: {}",
            python.display(),
            String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or("")
        )),
        Ok(_) => None,
    }
}

/// Whether the test must skip because its peer is missing (and may: the
/// test command sets `CONTEXTOS_REQUIRE_PEERS`, so CI never skips).
#[expect(
    clippy::disallowed_methods,
    reason = "the test command, not the test, decides whether a missing peer may skip"
)]
fn skip_without_peer(python: &Path) -> bool {
    let Some(why) = peer_missing(python) else {
        return false;
    };
    let required = std::env::var_os("CONTEXTOS_REQUIRE_PEERS").is_some();
    assert!(
        !required,
        "CONTEXTOS_REQUIRE_PEERS is set but the Cedar parity peer is missing: {why}; \
         pip install -r tests/parity/requirements.txt"
    );
    // Written to the process's stderr, not the captured one, so `cargo test`
    // shows it without --nocapture.
    let line = format!(
        "SKIPPED engine_agrees_with_cedarpy_on_generated_requests: {why} \
         (pip install -r tests/parity/requirements.txt, or run `cargo xtask test`)\n"
    );
    std::io::stderr().write_all(line.as_bytes()).unwrap();
    true
}

/// The generated bundles and requests with the engine's verdicts.
struct Generated {
    bundles: Vec<Bundle>,
    requests: Vec<Vec<RequestDocument>>,
    ours: Vec<Vec<Verdict>>,
    /// What the script reads: per bundle its directory, roles and requests.
    cases: Vec<Value>,
}

/// Writes the bundles under `work`, generates their requests and decides
/// them with the engine.
fn generate(work: &Path) -> Generated {
    let mut rng = Rng(SEED);
    let schemas = Schemas::new(&work.join("schemas"));
    let mut generated = Generated {
        bundles: Vec::new(),
        requests: Vec::new(),
        ours: Vec::new(),
        cases: Vec::new(),
    };
    for index in 0..BUNDLES {
        let dir = work.join(format!("bundle-{index}"));
        let bundle = write_bundle(&mut rng, index, &dir, &schemas);
        let engine = PolicyEngine::load(&dir).unwrap_or_else(|e| {
            let extra = fs::read_to_string(dir.join("zz-parity.cedar")).unwrap_or_default();
            panic!(
                "generated bundle {index} does not load: {:?}\n{extra}",
                miette::Report::new(e)
            )
        });
        assert_eq!(engine.approver_roles(), bundle.roles.as_slice());
        let requests: Vec<RequestDocument> = (0..REQUESTS_PER_BUNDLE)
            .map(|_| request(&mut rng, &bundle.roles))
            .collect();
        generated.ours.push(
            requests
                .iter()
                .map(|doc| {
                    let (req, entities) = engine
                        .request_from_document(doc)
                        .unwrap_or_else(|e| panic!("generated request is invalid: {e}\n{doc:#?}"));
                    Verdict::of(&engine.authorize(&req, &entities))
                })
                .collect(),
        );
        generated
            .cases
            .push(json!({ "dir": dir, "approver_roles": bundle.roles, "requests": requests }));
        generated.requests.push(requests);
        generated.bundles.push(bundle);
    }
    generated
}

/// The script's verdicts on the generated cases.
fn decide_with_cedarpy(python: &Path, work: &Path, cases: &[Value]) -> Decided {
    let cases_path = work.join("cases.json");
    let decided_path = work.join("decided.json");
    fs::write(&cases_path, serde_json::to_vec(&json!({ "bundles": cases })).unwrap()).unwrap();
    let out = Command::new(python)
        .arg(repo().join("tests/parity/cedar_decide.py"))
        .arg(&cases_path)
        .arg(&decided_path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cedar_decide.py failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&fs::read(&decided_path).unwrap()).unwrap()
}

/// How much of the comparison exercised arguments and attributes.
#[derive(Debug, Default)]
struct Coverage {
    /// Tool calls: requests whose context carries `arguments`.
    with_arguments: usize,
    /// Policies (shipped and extra) that read an `attributes` record.
    attribute_policies: usize,
    /// Candidate extra policies strict validation refused (drawn again).
    rejected_policies: usize,
    /// Decisions an attribute-reading policy determined (or erred in, which
    /// determines a denial) or gave a shadow effect.
    attribute_decisions: usize,
    /// Those of them where an enforced policy erred.
    attribute_decisions_erred: usize,
}

impl Coverage {
    fn of(generated: &Generated) -> Self {
        let mut coverage = Self::default();
        for ((bundle, requests), verdicts) in generated.bundles.iter().zip(&generated.requests).zip(&generated.ours) {
            coverage.attribute_policies += bundle.attribute_policies.len();
            coverage.rejected_policies += bundle.rejected;
            coverage.with_arguments += requests.iter().filter(|r| r.context.contains_key(ARGUMENTS)).count();
            for verdict in verdicts {
                let mut ids = verdict.determining.iter().chain(verdict.shadow.iter().map(|s| &s.0));
                if ids.any(|id| bundle.attribute_policies.contains(id)) {
                    coverage.attribute_decisions += 1;
                    coverage.attribute_decisions_erred += usize::from(verdict.enforced_errors > 0);
                }
            }
        }
        coverage
    }
}

#[test]
fn engine_agrees_with_cedarpy_on_generated_requests() {
    let python = python();
    if skip_without_peer(&python) {
        return;
    }

    let work = tempfile::tempdir().unwrap();
    let generated = generate(work.path());
    let theirs = decide_with_cedarpy(&python, work.path(), &generated.cases);
    assert_eq!(theirs.bundles.len(), generated.ours.len());

    let mut compared = 0;
    let mut disagreements = Vec::new();
    let mut seen = BTreeMap::new();
    for (index, (mine, peer)) in generated.ours.iter().zip(&theirs.bundles).enumerate() {
        assert_eq!(mine.len(), peer.len());
        for (n, (a, b)) in mine.iter().zip(peer).enumerate() {
            compared += 1;
            *seen
                .entry((a.outcome.clone(), a.enforced_errors > 0, !a.shadow.is_empty()))
                .or_insert(0) += 1;
            if a != b {
                disagreements.push(format!(
                    "bundle {index} request {n}:\n  engine:  {a:?}\n  cedarpy: {b:?}\n  request: {}",
                    serde_json::to_string(&generated.requests[index][n]).unwrap()
                ));
            }
        }
    }
    let coverage = Coverage::of(&generated);
    println!("compared {compared} decisions (outcome, evaluation failed, shadow effect): {seen:?}");
    println!("{coverage:?}");
    assert!(compared >= 1000, "only {compared} requests compared");
    assert!(
        disagreements.is_empty(),
        "{} of {compared} decisions disagree with cedarpy; the first ones:\n{}",
        disagreements.len(),
        disagreements.iter().take(5).cloned().collect::<Vec<_>>().join("\n")
    );
    // The generator reaches every kind of decision, or the comparison proves little.
    for wanted in [
        ("allow", false, false),
        ("deny", false, false),
        ("approval_required", false, false),
        ("deny", true, false),
    ] {
        let wanted = (wanted.0.to_string(), wanted.1, wanted.2);
        assert!(
            seen.contains_key(&wanted),
            "no request decided {wanted:?}; seen {seen:?}"
        );
    }
    assert!(seen.keys().any(|s| s.2), "no shadow effect seen: {seen:?}");
    let extra_roles = generated.bundles.iter().any(|b| b.roles.len() > 2);
    assert!(extra_roles, "no bundle added an approver role");
    assert!(coverage.with_arguments >= 1000, "too few tool calls: {coverage:?}");
    assert!(
        coverage.attribute_decisions >= 100,
        "attributes decided too little: {coverage:?}"
    );
    assert!(
        coverage.attribute_decisions_erred > 0,
        "no attribute read erred: {coverage:?}"
    );
}
