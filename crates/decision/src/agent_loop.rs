//! The bounded planner / critic / executor loop.

use std::collections::BTreeMap;

use contextos_action::{GatewayCall, GatewayContext, GatewayError, ToolCatalog, ToolGateway};
use contextos_core::{
    ApprovalMode, ApprovalRecord, Clock, CriticNote, Digest, ErrorKind, Kind, MemoryProposal, Message, ModelRequest,
    ModelResponse, PolicyDecision, PolicyOutcome, Role, RunContext, RunOutcome, Timestamp, ToolCall, ToolCallStatus,
    ToolSpec, canonical_json,
};
use contextos_intelligence::BudgetLeft;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::provider::{ModelProvider, ProviderError};

/// Model settings and evaluator thresholds for one run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LoopConfig {
    /// Model name.
    pub model: String,
    /// Model parameters (temperature, max_tokens, …).
    pub params: BTreeMap<String, Value>,
    /// Below this confidence the critic escalates a final answer.
    pub min_confidence: f64,
    /// Confidence assumed when the model reports none.
    pub default_confidence: f64,
}

/// Everything the loop did.
#[derive(Debug, Clone)]
pub struct LoopResult {
    /// How the run ended.
    pub outcome: RunOutcome,
    /// The answer (or the escalation message).
    pub answer: String,
    /// Evidence the answer cites.
    pub citations: Vec<Digest>,
    /// Critic confidence in [0, 1].
    pub confidence: f64,
    /// Every gateway call, in order.
    pub calls: Vec<GatewayCall>,
    /// Model interactions, in order.
    pub model_interactions: Vec<(ModelRequest, ModelResponse)>,
    /// Memory proposals from consolidation.
    pub memory_proposals: Vec<MemoryProposal>,
    /// The critic's notes.
    pub critic: Vec<CriticNote>,
    /// Iterations used.
    pub iterations: u32,
    /// Tokens used.
    pub tokens_used: u64,
    /// Tool calls used (executions, retries included).
    pub tool_calls_used: u32,
}

impl LoopResult {
    /// Every policy decision, in order.
    pub fn policy_decisions(&self) -> Vec<PolicyDecision> {
        self.calls.iter().flat_map(|c| c.decisions.iter().cloned()).collect()
    }

    /// Every approval asked for, in order.
    pub fn approvals(&self) -> Vec<ApprovalRecord> {
        self.calls.iter().filter_map(|c| c.envelope.approval.clone()).collect()
    }
}

/// The loop could not finish: a recorded fixture missed, or a bug.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum LoopError {
    /// The model provider failed.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Provider(#[from] ProviderError),
    /// The gateway failed beyond a refusal (fixture miss, transport).
    #[error(transparent)]
    #[diagnostic(transparent)]
    Gateway(#[from] GatewayError),
}

impl Kind for LoopError {
    /// Exit-code kind.
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Provider(e) => e.kind(),
            Self::Gateway(e) => e.kind(),
        }
    }
}

/// The inputs of one loop.
#[derive(Debug)]
pub struct LoopInput<'a> {
    /// The run.
    pub run: &'a RunContext,
    /// The compiled system prompt.
    pub system_prompt: &'a str,
    /// The request text.
    pub request_text: &'a str,
    /// Settings.
    pub config: &'a LoopConfig,
    /// Tool contracts.
    pub catalog: &'a ToolCatalog,
}

/// What to verify before executing a plan.
enum Verify {
    Ok,
    Replan(Vec<String>),
    Reject(String),
}

fn verify(plan: &[ToolCall], catalog: &ToolCatalog, ceiling: ApprovalMode) -> Verify {
    let mut problems = Vec::new();
    for call in plan {
        let Some(tool) = catalog.get(&call.name) else {
            problems.push(format!("{}: unknown tool {:?}", call.id, call.name));
            continue;
        };
        if tool.contract.approval_mode > ceiling {
            return Verify::Reject(format!(
                "{}: {} needs approval mode {}, above this run's {}",
                call.id, call.name, tool.contract.approval_mode, ceiling
            ));
        }
        if let Err(errors) = tool.validate_arguments(&call.arguments) {
            problems.push(format!(
                "{}: invalid arguments for {}: {}",
                call.id,
                call.name,
                errors.join("; ")
            ));
        }
    }
    let mut ids: Vec<&str> = plan.iter().map(|c| c.id.as_str()).collect();
    ids.sort_unstable();
    if ids.windows(2).any(|w| w[0] == w[1]) {
        problems.push("tool call ids repeat within one plan".into());
    }
    if problems.is_empty() {
        Verify::Ok
    } else {
        Verify::Replan(problems)
    }
}

fn tool_message(call_id: &str, content: Value) -> Message {
    let text = canonical_json(&content)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    Message {
        role: Role::Tool,
        content: text,
        tool_calls: Vec::new(),
        tool_call_id: Some(call_id.to_string()),
    }
}

fn result_message(call_id: &str, call: &GatewayCall) -> Message {
    let env = &call.envelope;
    let content = match env.status {
        ToolCallStatus::Denied => {
            let reason = call.decisions.last().map(|d| d.reason.clone()).unwrap_or_default();
            let approval = env
                .approval
                .as_ref()
                .map(|a| format!("{:?} by {} ({})", a.verdict, a.approver, a.role));
            json!({ "status": "denied", "policy": env.policy_outcome.as_str(), "reason": reason, "approval": approval })
        }
        ToolCallStatus::Failed => json!({ "status": "failed", "error": env.result }),
        ToolCallStatus::Executed | ToolCallStatus::Deduplicated => json!({
            "status": if env.status == ToolCallStatus::Executed { "executed" } else { "deduplicated" },
            "result": env.result,
            "evidence": env.evidence_refs.last(),
        }),
    };
    tool_message(call_id, content)
}

fn feedback(call_id: &str, verdict: &str, reason: &str) -> Message {
    tool_message(call_id, json!({ "status": verdict, "reason": reason }))
}

fn consolidate(call: &GatewayCall, catalog: &ToolCatalog) -> Vec<MemoryProposal> {
    let env = &call.envelope;
    let (Some(tool), Some(result)) = (catalog.get(&env.tool), &env.result) else {
        return Vec::new();
    };
    if env.status != ToolCallStatus::Executed {
        return Vec::new();
    }
    tool.contract
        .memory_fields
        .iter()
        .filter_map(|pointer| {
            let value = result.pointer(pointer)?;
            let shown = value.as_str().map(str::to_string).unwrap_or_else(|| value.to_string());
            Some(MemoryProposal {
                statement: format!("{}{} = {}", env.tool, pointer, shown),
                evidence_refs: env.evidence_refs.last().copied().into_iter().collect(),
            })
        })
        .collect()
}

/// Runs the bounded loop. `gateway_context` builds the gateway context for
/// the budget left at each call.
pub fn run_loop<'c>(
    input: &LoopInput<'_>,
    provider: &dyn ModelProvider,
    gateway: &ToolGateway<'_>,
    clock: &dyn Clock,
    gateway_context: &dyn Fn(BudgetLeft) -> GatewayContext<'c>,
) -> Result<LoopResult, LoopError> {
    let run = input.run;
    let budget = &run.budget;
    let mut result = LoopResult {
        outcome: RunOutcome::Escalated,
        answer: String::new(),
        citations: Vec::new(),
        confidence: 0.0,
        calls: Vec::new(),
        model_interactions: Vec::new(),
        memory_proposals: Vec::new(),
        critic: Vec::new(),
        iterations: 0,
        tokens_used: 0,
        tool_calls_used: 0,
    };
    let left = |r: &LoopResult| BudgetLeft {
        tool_calls: u64::from(budget.max_tool_calls.saturating_sub(r.tool_calls_used)),
        tokens: budget.max_tokens.saturating_sub(r.tokens_used),
    };

    // Capability discovery: tools within the run's ceiling that policy does
    // not deny outright. The model may still name others; the critic and the
    // gateway decide those, and every attempt is recorded.
    let offered: Vec<ToolSpec> = {
        let ctx = gateway_context(left(&result));
        input
            .catalog
            .tools()
            .filter(|t| t.contract.approval_mode <= run.approval_mode)
            .filter(|t| {
                gateway
                    .preview(&t.contract.name, &ctx)
                    .map(|d| d.outcome != PolicyOutcome::Deny)
                    .unwrap_or(false)
            })
            .map(|t| t.spec())
            .collect()
    };
    let mut messages = vec![
        Message {
            role: Role::System,
            content: input.system_prompt.to_string(),
            tool_calls: Vec::new(),
            tool_call_id: None,
        },
        Message {
            role: Role::User,
            content: input.request_text.to_string(),
            tool_calls: Vec::new(),
            tool_call_id: None,
        },
    ];
    let mut executed_by_call_id: BTreeMap<String, Digest> = BTreeMap::new();
    let escalate = |result: &mut LoopResult, iteration: u32, stage: &str, reason: String| {
        result.critic.push(CriticNote {
            iteration,
            stage: stage.into(),
            verdict: "escalate".into(),
            reason: reason.clone(),
        });
        result.outcome = RunOutcome::Escalated;
        result.answer = format!("escalated to a human: {reason}");
    };

    loop {
        if result.iterations >= budget.max_iterations {
            let n = result.iterations;
            escalate(
                &mut result,
                n,
                "budget",
                format!("iteration budget of {} exhausted", budget.max_iterations),
            );
            return Ok(result);
        }
        if let Some(deadline) = budget.deadline {
            let now: Timestamp = clock.now();
            if now > deadline {
                let n = result.iterations;
                escalate(&mut result, n, "budget", format!("deadline {deadline} passed at {now}"));
                return Ok(result);
            }
        }
        result.iterations += 1;
        let iteration = result.iterations;

        // Planner.
        let request = ModelRequest {
            model: input.config.model.clone(),
            params: input.config.params.clone(),
            tools: offered.clone(),
            messages: messages.clone(),
        };
        let response = match provider.complete(&request) {
            Ok(response) => response,
            // A replay that diverged from its recording (or a script that ran
            // out) ends like any other exhausted budget: escalated, recorded.
            Err(ProviderError::Exhausted(source, call)) => {
                let reason = format!(
                    "the {source} has no model response for call {call}: the run diverged from what was recorded"
                );
                escalate(&mut result, iteration, "budget", reason);
                return Ok(result);
            }
            Err(e) => return Err(e.into()),
        };
        result.model_interactions.push((request, response.clone()));
        result.tokens_used += response.usage.prompt_tokens + response.usage.completion_tokens;
        if result.tokens_used > budget.max_tokens {
            let reason = format!(
                "token budget of {} exhausted ({} used)",
                budget.max_tokens, result.tokens_used
            );
            escalate(&mut result, iteration, "budget", reason);
            return Ok(result);
        }
        messages.push(Message {
            role: Role::Assistant,
            content: response.content.clone(),
            tool_calls: response.tool_calls.clone(),
            tool_call_id: None,
        });

        if response.tool_calls.is_empty() {
            // critic.score of a final answer.
            let unknown: Vec<&String> = response
                .citations
                .iter()
                .filter(|c| !executed_by_call_id.contains_key(*c))
                .collect();
            if response.content.trim().is_empty() || !unknown.is_empty() {
                let reason = if unknown.is_empty() {
                    "the answer is empty".to_string()
                } else {
                    format!("citations {unknown:?} refer to no executed tool call")
                };
                result.critic.push(CriticNote {
                    iteration,
                    stage: "score".into(),
                    verdict: "replan".into(),
                    reason: reason.clone(),
                });
                messages.push(Message {
                    role: Role::User,
                    content: format!("critic: {reason}; answer again citing executed tool calls only"),
                    tool_calls: Vec::new(),
                    tool_call_id: None,
                });
                continue;
            }
            let confidence = response
                .confidence
                .unwrap_or(input.config.default_confidence)
                .clamp(0.0, 1.0);
            result.confidence = confidence;
            result.citations = response
                .citations
                .iter()
                .filter_map(|c| executed_by_call_id.get(c).copied())
                .collect();
            if confidence < input.config.min_confidence {
                escalate(
                    &mut result,
                    iteration,
                    "score",
                    format!(
                        "confidence {confidence} below the threshold {}",
                        input.config.min_confidence
                    ),
                );
                result.answer = format!(
                    "{} (escalated: confidence {confidence} below {})",
                    response.content, input.config.min_confidence
                );
                return Ok(result);
            }
            result.critic.push(CriticNote {
                iteration,
                stage: "score".into(),
                verdict: "accept".into(),
                reason: format!("answer cites {} executed call(s)", result.citations.len()),
            });
            result.outcome = RunOutcome::Completed;
            result.answer = response.content;
            return Ok(result);
        }

        // critic.verify before any effect.
        match verify(&response.tool_calls, input.catalog, run.approval_mode) {
            Verify::Reject(reason) => {
                result.critic.push(CriticNote {
                    iteration,
                    stage: "verify".into(),
                    verdict: "reject".into(),
                    reason: reason.clone(),
                });
                result.outcome = RunOutcome::Rejected;
                result.answer = format!("rejected before any effect: {reason}");
                return Ok(result);
            }
            Verify::Replan(problems) => {
                let reason = problems.join("; ");
                result.critic.push(CriticNote {
                    iteration,
                    stage: "verify".into(),
                    verdict: "replan".into(),
                    reason: reason.clone(),
                });
                for call in &response.tool_calls {
                    messages.push(feedback(&call.id, "not_executed", &reason));
                }
                continue;
            }
            Verify::Ok => {}
        }
        let planned = u32::try_from(response.tool_calls.len()).unwrap_or(u32::MAX);
        if result.tool_calls_used.saturating_add(planned) > budget.max_tool_calls {
            escalate(
                &mut result,
                iteration,
                "verify",
                format!("tool-call budget of {} would be exceeded", budget.max_tool_calls),
            );
            return Ok(result);
        }
        result.critic.push(CriticNote {
            iteration,
            stage: "verify".into(),
            verdict: "ok".into(),
            reason: format!("{planned} call(s) within contracts and budget"),
        });

        // Executor, then critic.score of the step.
        let mut denied = Vec::new();
        for call in &response.tool_calls {
            let mut outcome = gateway.call(call, &gateway_context(left(&result)))?;
            result.tool_calls_used += 1;
            if outcome.envelope.status == ToolCallStatus::Failed {
                if result.tool_calls_used >= budget.max_tool_calls {
                    result.calls.push(outcome);
                    escalate(
                        &mut result,
                        iteration,
                        "score",
                        format!("{} failed and no tool-call budget is left to retry", call.name),
                    );
                    return Ok(result);
                }
                result.critic.push(CriticNote {
                    iteration,
                    stage: "score".into(),
                    verdict: "retry".into(),
                    reason: format!("{} failed; retrying once", call.name),
                });
                result.calls.push(outcome);
                outcome = gateway.call(call, &gateway_context(left(&result)))?;
                result.tool_calls_used += 1;
                if outcome.envelope.status == ToolCallStatus::Failed {
                    messages.push(result_message(&call.id, &outcome));
                    result.calls.push(outcome);
                    escalate(&mut result, iteration, "score", format!("{} failed twice", call.name));
                    return Ok(result);
                }
            }
            if matches!(
                outcome.envelope.status,
                ToolCallStatus::Executed | ToolCallStatus::Deduplicated
            ) {
                if let Some(d) = outcome.envelope.evidence_refs.last() {
                    executed_by_call_id.insert(call.id.clone(), *d);
                }
                result.memory_proposals.extend(consolidate(&outcome, input.catalog));
            } else {
                denied.push(call.name.clone());
            }
            messages.push(result_message(&call.id, &outcome));
            result.calls.push(outcome);
        }
        let (verdict, reason) = if denied.is_empty() {
            ("accept", "every call executed".to_string())
        } else {
            ("replan", format!("denied: {}", denied.join(", ")))
        };
        result.critic.push(CriticNote {
            iteration,
            stage: "score".into(),
            verdict: verdict.into(),
            reason,
        });
    }
}
