//! A gateway world: the shipped Cedar policies, a tool catalog and the
//! standard run as entities, and a `ToolGateway` over them with
//! deterministic parts.

use cedar_policy::Entities;
use contextos_action::{
    AdapterError, GatewayCall, GatewayContext, GatewayError, IdempotencyStore, LoadedTool, MemoryIdempotency,
    RecordedApprover, ToolAdapter, ToolCatalog, ToolContract, ToolGateway,
};
use contextos_core::{
    ApprovalMode, FixedClock, RunContext, SequentialIdGen, Timestamp, ToolCall, ToolRequest, ToolResponse,
};
use contextos_intelligence::{BudgetLeft, EntitySource, identity_entities, principal_uid};
use contextos_trust::PolicyEngine;
use serde_json::Value;

use crate::{repo, run_context};

/// The shipped policies, a tool catalog, and a run with its identity and tool entities.
#[derive(Debug)]
pub struct World {
    policy: PolicyEngine,
    catalog: ToolCatalog,
    entities: Entities,
    run: RunContext,
}

/// The shipped policies (`policies/`), `catalog`, and the standard run of
/// tenant acme ([`run_context`]) with the approval ceiling `destructive`, so
/// Cedar decides every call.
pub fn world(catalog: ToolCatalog) -> World {
    World::new(catalog, run_context("run_world", ApprovalMode::Destructive))
}

/// A catalog of `contracts`, each as if pinned to `<name>.yaml`.
pub fn catalog_of(contracts: impl IntoIterator<Item = ToolContract>) -> ToolCatalog {
    let mut catalog = ToolCatalog::default();
    for contract in contracts {
        let file = format!("{}.yaml", contract.name);
        catalog
            .add(contract, file)
            .expect("each contract is valid and named once");
    }
    catalog
}

impl World {
    /// The shipped policies, `catalog` and `run`.
    pub fn new(catalog: ToolCatalog, run: RunContext) -> Self {
        // The shipped policies name shipped tools (the refund rules): their
        // actions are declared beside this world's own tools.
        let mut declared = ToolCatalog::load(&repo().join("runtime/tools")).expect("the shipped contracts load");
        for tool in catalog.tools() {
            if declared.get(&tool.contract.name).is_none() {
                declared
                    .add(tool.contract.clone(), tool.file.clone())
                    .expect("a valid contract");
            }
        }
        let policy = PolicyEngine::load_with_tools(&repo().join("policies"), &declared.cedar_actions())
            .expect("the shipped policies load with these tools");
        // The shipped entity source, when the bundled deployment names one.
        let shipped = repo().join("runtime/entities.yaml");
        let source = if shipped.is_file() {
            EntitySource::load(&shipped).expect("the shipped entity source loads")
        } else {
            EntitySource::empty()
        };
        let mut entities = identity_entities(&run, &source);
        entities.extend(source.entities.iter().cloned());
        entities.extend(catalog.cedar_entities());
        let entities = Entities::from_json_value(Value::Array(entities), Some(policy.schema()))
            .expect("identity and tool entities match the policy schema");
        Self {
            policy,
            catalog,
            entities,
            run,
        }
    }

    /// A gateway over this world executing through `adapter`: no recorded
    /// approvals and a fresh in-memory idempotency store unless set.
    pub fn gateway<'w>(&'w self, adapter: &'w dyn ToolAdapter) -> TestGateway<'w> {
        TestGateway {
            world: self,
            adapter,
            approver: RecordedApprover::new(vec![]),
            idempotency: None,
            memory: MemoryIdempotency::default(),
            clock: FixedClock::new(Timestamp(1_000), 1),
            ids: SequentialIdGen::new("t"),
            context: GatewayContext {
                run: &self.run,
                principal: principal_uid(&self.run).expect("the run's agent is a Cedar uid"),
                entities: &self.entities,
                budget_left: BudgetLeft {
                    tool_calls: 5,
                    tokens: 5_000,
                },
            },
        }
    }

    /// One call of tool `name` (call id `call_<name>`) through a fresh [`World::gateway`].
    pub fn call(&self, adapter: &dyn ToolAdapter, name: &str, arguments: Value) -> Result<GatewayCall, GatewayError> {
        self.gateway(adapter).call(name, arguments)
    }
}

/// A `ToolGateway` over a [`World`] with a fixed clock, sequential ids,
/// recorded approvals and an idempotency store. The clock, ids and the
/// default store carry over from one call to the next.
pub struct TestGateway<'w> {
    world: &'w World,
    adapter: &'w dyn ToolAdapter,
    approver: RecordedApprover,
    /// A store of the caller's; `memory` when `None`.
    idempotency: Option<&'w dyn IdempotencyStore>,
    memory: MemoryIdempotency,
    clock: FixedClock,
    ids: SequentialIdGen,
    context: GatewayContext<'w>,
}

impl std::fmt::Debug for TestGateway<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestGateway")
            .field("approver", &self.approver)
            .field("clock", &self.clock)
            .field("ids", &self.ids)
            .field("context", &self.context)
            .finish_non_exhaustive()
    }
}

impl<'w> TestGateway<'w> {
    /// Answers approval requests from `approver`.
    pub fn approver(self, approver: RecordedApprover) -> Self {
        Self { approver, ..self }
    }

    /// Keeps idempotency records in `store` instead of a fresh in-memory one.
    pub fn idempotency(self, store: &'w dyn IdempotencyStore) -> Self {
        Self {
            idempotency: Some(store),
            ..self
        }
    }

    /// Calls tool `name` with `arguments`; the call id is `call_<name>`.
    pub fn call(&self, name: &str, arguments: Value) -> Result<GatewayCall, GatewayError> {
        self.call_tool(&ToolCall {
            id: format!("call_{name}"),
            name: name.into(),
            arguments,
        })
    }

    /// Runs `call` through the whole gateway.
    pub fn call_tool(&self, call: &ToolCall) -> Result<GatewayCall, GatewayError> {
        let gateway = ToolGateway {
            catalog: &self.world.catalog,
            policy: &self.world.policy,
            adapter: self.adapter,
            approver: &self.approver,
            clock: &self.clock,
            ids: &self.ids,
            idempotency: self.idempotency.unwrap_or(&self.memory),
        };
        gateway.call(call, &self.context)
    }
}

/// An adapter that answers at once with the arguments it was given: the
/// gateway's own cost, without a tool behind it.
#[derive(Debug, Clone, Copy, Default)]
pub struct EchoAdapter;

impl ToolAdapter for EchoAdapter {
    fn call(&self, _: &LoadedTool, request: &ToolRequest, _: &str) -> Result<ToolResponse, AdapterError> {
        Ok(ToolResponse::Ok(request.arguments.clone()))
    }
}
