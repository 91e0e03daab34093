//! The context step of a run: decide pack and layer use with Cedar, and
//! compile.

use std::sync::Mutex;

use cedar_policy::{Entities, EntityUid};
use contextos_context::{CompileInput, GateVerdict, PackGate, PackRefInfo, compile};
use contextos_core::cedar_names::{ACTION, LAYER, PACK};
use contextos_core::{CompiledContext, ContextLayer, PolicyDecision, PolicyOutcome, RecordedRequest};
use contextos_intelligence::{BudgetLeft, entity_uid, run_attributes};
use contextos_trust::{PolicyEngine, PolicyRequest};

use crate::deployment::Deployment;
use crate::envelope::RequestEnvelope;
use crate::error::RunError;

/// Cedar `use_pack` decisions for the compiler, kept for the decision record.
struct CedarPackGate<'a> {
    policy: &'a PolicyEngine,
    principal: &'a EntityUid,
    entities: &'a Entities,
    env: &'a RequestEnvelope,
    decisions: Mutex<Vec<PolicyDecision>>,
}

impl CedarPackGate<'_> {
    fn decide(&self, resource_type: &str, id: &str) -> GateVerdict {
        let run = &self.env.run_context;
        let left = BudgetLeft {
            tool_calls: u64::from(run.budget.max_tool_calls),
            tokens: run.budget.max_tokens,
        };
        let request = entity_uid(ACTION, "use_pack").and_then(|action| {
            Ok(PolicyRequest {
                principal: self.principal.clone(),
                action,
                resource: entity_uid(resource_type, id)?,
                attributes: run_attributes(run, left)?,
                approval_role: None,
            })
        });
        let decision = match request {
            Ok(request) => {
                let mut decision = self.policy.authorize(&request, self.entities);
                // Kept so policy impact can re-evaluate it (see ToolGateway::call).
                decision.request = request.context_json().ok().map(|context| RecordedRequest {
                    context,
                    approval_role: None,
                });
                decision
            }
            // Fail closed: a request that cannot be built is a denial.
            Err(e) => {
                return GateVerdict {
                    allowed: false,
                    policy_ids: Vec::new(),
                    reason: format!("denied: {e}"),
                };
            }
        };
        let verdict = GateVerdict {
            allowed: decision.outcome == PolicyOutcome::Allow,
            policy_ids: decision.determining_policies.clone(),
            reason: decision.reason.clone(),
        };
        if let Ok(mut decisions) = self.decisions.lock() {
            decisions.push(decision);
        }
        verdict
    }
}

impl PackGate for CedarPackGate<'_> {
    fn allow_pack(&self, pack: &PackRefInfo) -> GateVerdict {
        self.decide(PACK, &pack.id)
    }

    fn allow_layer(&self, pack: &PackRefInfo, layer: ContextLayer) -> GateVerdict {
        self.decide(LAYER, &pack.layer_id(layer))
    }
}

/// Compiles the run's context; returns it with the `use_pack` decisions taken.
pub(crate) fn compile_for_run(
    dep: &Deployment,
    env: &RequestEnvelope,
    entities: &Entities,
    principal: &EntityUid,
) -> Result<(CompiledContext, Vec<PolicyDecision>), RunError> {
    let gate = CedarPackGate {
        policy: &dep.policy,
        principal,
        entities,
        env,
        decisions: Mutex::new(Vec::new()),
    };
    let input = CompileInput {
        packs: &dep.packs,
        request: &env.request.text,
        run: &env.run_context,
        now: env.started_at,
        token_budget: dep.config.context.budget_tokens,
        model: &dep.config.model.name,
        tokens: &dep.tokens,
    };
    let compiled = compile(&input, &gate)?;
    let decisions = gate.decisions.into_inner().unwrap_or_default();
    Ok((compiled, decisions))
}
