//! `invoke_agent`: one run through every plane, ending in a signed decision
//! record inside a signed, content-addressed replay packet.

use cedar_policy::Entities;
use contextos_action::{Approver, GatewayContext, MemoryIdempotency, ToolAdapter, ToolGateway};
use contextos_core::{
    ActionSummary, CompiledContext, DecisionRecord, Digest, FORMAT_VERSION, FixedClock, InteractionKind, ModelRequest,
    ModelResponse, PolicyDecision, RECORD_FORMAT_VERSION, RecordedInteraction, ReplayInputs, ReplayPacket, RunUsage,
    SequentialIdGen, ToolRequest, ToolResponse, canonical_json, digest_of,
};
use contextos_decision::{LoopConfig, LoopInput, LoopResult, ModelProvider, run_loop};
use contextos_intelligence::{identity_entities, principal_uid};
use contextos_store::{RunIndexEntry, Store};
use contextos_trust::{SignedEnvelope, sign};
use serde::Serialize;
use serde_json::Value;

use crate::compile_step::compile_for_run;
use crate::config::EvaluatorConfig;
use crate::deployment::{Deployment, error_chain};
use crate::envelope::RequestEnvelope;
use crate::error::RunError;
use crate::fixtures::Fixtures;

/// Payload type of a signed decision record.
pub const DECISION_RECORD_TYPE: &str = "application/vnd.contextos.decision-record+json";
/// Payload type of a signed replay packet.
pub const REPLAY_PACKET_TYPE: &str = "application/vnd.contextos.replay-packet+json";

/// The products of one run, signed and ready to store.
#[derive(Debug, Clone)]
pub struct RunArtifacts {
    /// The packet.
    pub packet: ReplayPacket,
    /// The packet, signed.
    pub packet_envelope: SignedEnvelope,
    /// The decision record, signed.
    pub record_envelope: SignedEnvelope,
    /// Evidence blobs captured by the gateway.
    pub evidence: Vec<(Digest, Vec<u8>)>,
}

/// Where a stored run landed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRun {
    /// Object digest of the signed packet.
    pub packet: Digest,
    /// Object digest of the signed decision record.
    pub record: Digest,
    /// Whether the store already held this exact run (an idempotent re-run).
    pub already_stored: bool,
}

fn interaction<Req: Serialize, Resp: Serialize>(
    kind: InteractionKind,
    request: &Req,
    response: &Resp,
) -> Result<RecordedInteraction, RunError> {
    let request = serde_json::to_value(request).map_err(RunError::bug)?;
    Ok(RecordedInteraction {
        kind,
        request_digest: digest_of(&request).map_err(RunError::bug)?,
        request,
        response: serde_json::to_value(response).map_err(RunError::bug)?,
    })
}

/// Cedar entities of the run: identities, tools, packs and the entity source's.
pub fn run_entities(dep: &Deployment, env: &RequestEnvelope) -> Result<Entities, RunError> {
    let mut entities = identity_entities(&env.run_context, &dep.entities);
    entities.extend(dep.shared_entities());
    Entities::from_json_value(Value::Array(entities), Some(dep.policy.schema())).map_err(|e| {
        let source = dep
            .config
            .paths
            .entities
            .as_ref()
            .map_or("the deployment's entity source (none is configured)".to_string(), |p| {
                p.display().to_string()
            });
        RunError::Input(format!(
            "the run's identities do not match the policy schema: {}; the attributes {source} gives a tenant, \
             user or agent must fit the TenantAttributes / UserAttributes / AgentAttributes record that \
             schema.cedarschema declares",
            error_chain(&e)
        ))
    })
}

/// Runs `env` through every plane with the given model, tools and approver.
pub fn invoke_agent(
    dep: &Deployment,
    env: &RequestEnvelope,
    provider: &dyn ModelProvider,
    adapter: &dyn ToolAdapter,
    approver: &dyn Approver,
    thresholds: &EvaluatorConfig,
) -> Result<RunArtifacts, RunError> {
    let run = &env.run_context;
    let clock = FixedClock::new(env.started_at, 1);
    let ids = SequentialIdGen::new(run.run_id.clone());
    let entities = run_entities(dep, env)?;
    let principal = principal_uid(run).map_err(RunError::Input)?;

    let (compiled, pack_decisions): (CompiledContext, _) = compile_for_run(dep, env, &entities, &principal)?;

    let config = LoopConfig {
        model: dep.config.model.name.clone(),
        params: dep.config.model.params.clone(),
        min_confidence: thresholds.min_confidence,
        default_confidence: thresholds.default_confidence,
    };
    let idempotency = MemoryIdempotency::default();
    let gateway = ToolGateway {
        catalog: &dep.catalog,
        policy: &dep.policy,
        adapter,
        approver,
        clock: &clock,
        ids: &ids,
        idempotency: &idempotency,
    };
    let input = LoopInput {
        run,
        system_prompt: &compiled.prompt,
        request_text: &env.request.text,
        config: &config,
        catalog: &dep.catalog,
    };
    let context_for = |budget_left| GatewayContext {
        run,
        principal: principal.clone(),
        entities: &entities,
        budget_left,
    };
    let result = run_loop(&input, provider, &gateway, &clock, &context_for)?;

    let inputs = replay_inputs(dep, env, &compiled, thresholds)?;
    let replay_id = format!("rp_{}", &digest_of(&inputs).map_err(RunError::bug)?.hex()[..16]);
    let record = decision_record(env, &compiled, pack_decisions, &result, replay_id.clone());
    let evidence: Vec<(Digest, Vec<u8>)> = result.calls.iter().flat_map(|c| c.evidence.iter().cloned()).collect();
    let packet = ReplayPacket {
        format_version: RECORD_FORMAT_VERSION,
        run_id: run.run_id.clone(),
        replay_id,
        replay_of: None,
        inputs,
        compiled_context: compiled,
        interactions: recorded_interactions(&result)?,
        tool_envelopes: result.calls.iter().map(|c| c.envelope.clone()).collect(),
        critic: result.critic.clone(),
        decision_record: record.clone(),
    };
    let record_envelope = sign(DECISION_RECORD_TYPE, &record, &dep.signing_key)?;
    let packet_envelope = sign(REPLAY_PACKET_TYPE, &packet, &dep.signing_key)?;
    Ok(RunArtifacts {
        packet,
        packet_envelope,
        record_envelope,
        evidence,
    })
}

/// Everything a run's outcome depends on; its digest names the replay (`rp_…`).
fn replay_inputs(
    dep: &Deployment,
    env: &RequestEnvelope,
    compiled: &CompiledContext,
    thresholds: &EvaluatorConfig,
) -> Result<ReplayInputs, RunError> {
    Ok(ReplayInputs {
        request: serde_json::to_value(&env.request).map_err(RunError::bug)?,
        started_at: env.started_at,
        run_context: env.run_context.clone(),
        policy_bundle: dep.policy.bundle_digest(),
        packs: compiled.packs.clone(),
        tool_contracts: dep.catalog.digests(),
        entity_source: if dep.entities.is_empty() {
            None
        } else {
            Some(dep.entities.digest().map_err(RunError::bug)?)
        },
        model_config: serde_json::to_value(&dep.config.model).map_err(RunError::bug)?,
        thresholds: thresholds.as_map(),
    })
}

/// The model calls, then the executed tool calls, as a replay reads them back.
fn recorded_interactions(result: &LoopResult) -> Result<Vec<RecordedInteraction>, RunError> {
    let mut interactions = Vec::new();
    for (request, response) in &result.model_interactions {
        interactions.push(interaction(InteractionKind::Model, request, response)?);
    }
    for call in &result.calls {
        if let Some((request, response)) = &call.interaction {
            interactions.push(interaction(InteractionKind::Tool, request, response)?);
        }
    }
    Ok(interactions)
}

/// The controls every run has, plus those the compiled context switched on; sorted, unique.
fn controls_active(compiled: &CompiledContext) -> Vec<String> {
    let mut controls = vec![
        "budget".to_string(),
        "policy".into(),
        "approval".into(),
        "trace".into(),
        "eval".into(),
    ];
    controls.extend(compiled.controls.iter().cloned());
    controls.sort();
    controls.dedup();
    controls
}

/// What the run decided and why: the record that gets signed on its own and inside the packet.
fn decision_record(
    env: &RequestEnvelope,
    compiled: &CompiledContext,
    pack_decisions: Vec<PolicyDecision>,
    result: &LoopResult,
    replay_id: String,
) -> DecisionRecord {
    let run = &env.run_context;
    let mut evidence_refs: Vec<Digest> = result
        .calls
        .iter()
        .flat_map(|c| c.evidence.iter().map(|(d, _)| *d))
        .collect();
    evidence_refs.sort();
    evidence_refs.dedup();
    DecisionRecord {
        format_version: RECORD_FORMAT_VERSION,
        run_id: run.run_id.clone(),
        outcome: result.outcome,
        answer: contextos_core::redact_text(&result.answer),
        actions: result
            .calls
            .iter()
            .map(|c| ActionSummary {
                tool: c.envelope.tool.clone(),
                envelope_id: c.envelope.envelope_id.clone(),
                policy_outcome: c.envelope.policy_outcome,
                status: c.envelope.status,
            })
            .collect(),
        citations: result.citations.clone(),
        evidence_refs,
        approvals: result.approvals(),
        controls_active: controls_active(compiled),
        policy_decisions: pack_decisions.into_iter().chain(result.policy_decisions()).collect(),
        confidence: result.confidence,
        memory_proposals: result.memory_proposals.clone(),
        usage: RunUsage {
            iterations: result.iterations,
            tool_calls: result.tool_calls_used,
            tokens: result.tokens_used,
        },
        trace_id: run.trace_id.clone(),
        replay_id,
    }
}

/// Runs `env` on recorded fixtures.
pub fn run_on_fixtures(dep: &Deployment, env: &RequestEnvelope, fixtures: &Fixtures) -> Result<RunArtifacts, RunError> {
    invoke_agent(
        dep,
        env,
        &fixtures.model,
        &fixtures.tools,
        &fixtures.approver,
        &dep.config.evaluator,
    )
}

/// The canonical bytes of a signed envelope, as stored.
pub fn envelope_bytes(envelope: &SignedEnvelope) -> Result<Vec<u8>, RunError> {
    canonical_json(envelope).map_err(RunError::bug)
}

/// Stores a run: evidence and signed documents as objects, evidence-log
/// entries, then the run index entry (written last: a run is listed only
/// once everything it points to is durable). Holds the store's write lock
/// throughout, so concurrent runs on one store take turns. Re-storing a run
/// a kill interrupted skips the evidence-log entries it already appended.
pub fn persist(store: &Store, artifacts: &RunArtifacts) -> Result<StoredRun, RunError> {
    let packet_bytes = envelope_bytes(&artifacts.packet_envelope)?;
    let record_bytes = envelope_bytes(&artifacts.record_envelope)?;
    let run_id = &artifacts.packet.run_id;
    let _lock = store.lock_for_writing()?;
    if let Ok(existing) = store.get_run(run_id) {
        if existing.packet == Digest::of_bytes(&packet_bytes) {
            return Ok(StoredRun {
                packet: existing.packet,
                record: existing.record,
                already_stored: true,
            });
        }
        return Err(RunError::Input(format!(
            "run {run_id} is already stored with a different packet ({}); use a new run_id or `contextos replay` to compare",
            existing.packet
        )));
    }
    for (_, bytes) in &artifacts.evidence {
        store.put_object(bytes)?;
    }
    let record = store.put_object(&record_bytes)?;
    let packet = store.put_object(&packet_bytes)?;
    let mut log = store.evidence()?;
    let record_doc = &artifacts.packet.decision_record;
    let mut entries = Vec::new();
    for envelope in &artifacts.packet.tool_envelopes {
        entries.push(("tool_envelope", serde_json::to_value(envelope).map_err(RunError::bug)?));
    }
    entries.push((
        "decision_record",
        serde_json::json!({
            "run_id": run_id,
            "record": record,
            "packet": packet,
            "outcome": record_doc.outcome,
            "trace_id": record_doc.trace_id,
        }),
    ));
    for (kind, payload) in &entries {
        if !log.holds(kind, payload)? {
            log.append(kind, payload)?;
        }
    }
    drop(log);
    store.put_run(&RunIndexEntry {
        format_version: FORMAT_VERSION,
        run_id: run_id.clone(),
        packet,
        record,
        outcome: record_doc.outcome,
        trace_id: record_doc.trace_id.clone(),
        created_at: artifacts
            .packet
            .tool_envelopes
            .last()
            .map_or(artifacts.packet.inputs.started_at, |e| e.finished_at),
        replay_of: artifacts.packet.replay_of.clone(),
    })?;
    Ok(StoredRun {
        packet,
        record,
        already_stored: false,
    })
}

/// A packet's recorded interactions, decoded: model calls and executed tool calls, in order.
#[derive(Debug, Clone, Default)]
pub struct PacketInteractions {
    /// Model calls.
    pub model: Vec<(ModelRequest, ModelResponse)>,
    /// Executed tool calls.
    pub tools: Vec<(ToolRequest, ToolResponse)>,
}

/// Model and tool interactions of a packet, decoded.
pub fn packet_interactions(packet: &ReplayPacket) -> Result<PacketInteractions, RunError> {
    let mut model = Vec::new();
    let mut tools = Vec::new();
    for i in &packet.interactions {
        let bad = |e: serde_json::Error| {
            RunError::Input(format!(
                "packet {}: malformed {} interaction: {e}",
                packet.run_id, i.kind
            ))
        };
        match i.kind {
            InteractionKind::Model => model.push((
                serde_json::from_value(i.request.clone()).map_err(bad)?,
                serde_json::from_value(i.response.clone()).map_err(bad)?,
            )),
            InteractionKind::Tool => tools.push((
                serde_json::from_value(i.request.clone()).map_err(bad)?,
                serde_json::from_value(i.response.clone()).map_err(bad)?,
            )),
        }
    }
    Ok(PacketInteractions { model, tools })
}
