//! The bounded planner / critic / executor loop.

use std::collections::BTreeMap;
use std::ops::ControlFlow;

use contextos_action::{GatewayCall, GatewayContext, GatewayError, ToolCatalog, ToolGateway};
use contextos_core::{
    ApprovalMode, ApprovalRecord, Clock, CriticNote, CriticStage, CriticVerdict, Digest, ErrorKind, Kind,
    MemoryProposal, Message, ModelRequest, ModelResponse, PolicyDecision, Role, RunContext, RunOutcome, Timestamp,
    ToolCall, ToolCallStatus, ToolSpec, canonical_json,
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
    let mut state = LoopState {
        input,
        gateway,
        gateway_context,
        result: LoopResult {
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
        },
        messages: vec![
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
        ],
        executed_by_call_id: BTreeMap::new(),
    };
    let offered = state.offered_tools();
    loop {
        if state.out_of_time(clock).is_break() {
            return Ok(state.result);
        }
        state.result.iterations = state.result.iterations.saturating_add(1);
        let iteration = state.result.iterations;
        // Planner.
        let Some(response) = state.plan(provider, &offered, iteration)? else {
            return Ok(state.result);
        };
        let step = if response.tool_calls.is_empty() {
            state.score_answer(iteration, response)
        } else {
            // critic.verify before any effect, then the executor.
            match state.verify_plan(iteration, &response.tool_calls) {
                Checked::Run => state.execute_plan(iteration, &response.tool_calls)?,
                Checked::Replan => ControlFlow::Continue(()),
                Checked::Ended => ControlFlow::Break(()),
            }
        };
        if let ControlFlow::Break(()) = step {
            return Ok(state.result);
        }
    }
}

/// What the critic's check of a plan left to do.
enum Checked {
    /// Execute the plan.
    Run,
    /// Plan again: the planner was told what was wrong.
    Replan,
    /// The run ended (rejected or escalated).
    Ended,
}

/// One loop in progress. `ControlFlow::Break` from a step means the run
/// ended (its outcome is in `result`); `Continue` means plan again.
struct LoopState<'i, 'g, 'c> {
    input: &'i LoopInput<'i>,
    gateway: &'g ToolGateway<'g>,
    gateway_context: &'g dyn Fn(BudgetLeft) -> GatewayContext<'c>,
    result: LoopResult,
    messages: Vec<Message>,
    executed_by_call_id: BTreeMap<String, Digest>,
}

impl<'c> LoopState<'_, '_, 'c> {
    /// The gateway context for the budget left now.
    fn context(&self) -> GatewayContext<'c> {
        let budget = &self.input.run.budget;
        (self.gateway_context)(BudgetLeft {
            tool_calls: u64::from(budget.max_tool_calls.saturating_sub(self.result.tool_calls_used)),
            tokens: budget.max_tokens.saturating_sub(self.result.tokens_used),
        })
    }

    /// Capability discovery: tools within the run's ceiling that policy does
    /// not deny outright. The model may still name others; the critic and the
    /// gateway decide those, and every attempt is recorded.
    fn offered_tools(&self) -> Vec<ToolSpec> {
        let ctx = self.context();
        self.input
            .catalog
            .tools()
            .filter(|t| t.contract.approval_mode <= self.input.run.approval_mode)
            .filter(|t| self.gateway.may_allow(&t.contract.name, &ctx).unwrap_or(false))
            .map(|t| t.spec())
            .collect()
    }

    /// Notes the critic's verdict.
    fn note(&mut self, iteration: u32, stage: CriticStage, verdict: CriticVerdict, reason: String) {
        self.result.critic.push(CriticNote {
            iteration,
            stage,
            verdict,
            reason,
        });
    }

    /// Ends the run escalated to a human.
    fn escalate(&mut self, iteration: u32, stage: CriticStage, reason: String) {
        self.note(iteration, stage, CriticVerdict::Escalate, reason.clone());
        self.result.outcome = RunOutcome::Escalated;
        self.result.answer = format!("escalated to a human: {reason}");
    }

    /// Ends the run when the iteration budget or the deadline is spent.
    fn out_of_time(&mut self, clock: &dyn Clock) -> ControlFlow<()> {
        let budget = &self.input.run.budget;
        let n = self.result.iterations;
        if n >= budget.max_iterations {
            let reason = format!("iteration budget of {} exhausted", budget.max_iterations);
            self.escalate(n, CriticStage::Budget, reason);
            return ControlFlow::Break(());
        }
        if let Some(deadline) = budget.deadline {
            let now: Timestamp = clock.now();
            if now > deadline {
                self.escalate(n, CriticStage::Budget, format!("deadline {deadline} passed at {now}"));
                return ControlFlow::Break(());
            }
        }
        ControlFlow::Continue(())
    }

    /// Asks the model for the next step; `None` when the run ended (the
    /// model had no response, or the token budget is spent).
    fn plan(
        &mut self,
        provider: &dyn ModelProvider,
        offered: &[ToolSpec],
        iteration: u32,
    ) -> Result<Option<ModelResponse>, LoopError> {
        let request = ModelRequest {
            model: self.input.config.model.clone(),
            params: self.input.config.params.clone(),
            tools: offered.to_vec(),
            messages: self.messages.clone(),
        };
        let response = match provider.complete(&request) {
            Ok(response) => response,
            // A replay that diverged from its recording (or a script that ran
            // out) ends like any other exhausted budget: escalated, recorded.
            Err(ProviderError::Exhausted(source, call)) => {
                let reason = format!(
                    "the {source} has no model response for call {call}: the run diverged from what was recorded"
                );
                self.escalate(iteration, CriticStage::Budget, reason);
                return Ok(None);
            }
            Err(e) => return Err(e.into()),
        };
        self.result.model_interactions.push((request, response.clone()));
        // Usage is reported by the model (or a recording of it): a report that
        // overflows spends the budget instead of wrapping to a small total.
        let total = response
            .usage
            .prompt_tokens
            .checked_add(response.usage.completion_tokens)
            .and_then(|reported| self.result.tokens_used.checked_add(reported));
        self.result.tokens_used = total.unwrap_or(u64::MAX);
        let max_tokens = self.input.run.budget.max_tokens;
        // A total past u64::MAX spends any budget, u64::MAX itself included.
        if total.is_none_or(|used| used > max_tokens) {
            let reason = match total {
                Some(used) => format!("token budget of {max_tokens} exhausted ({used} used)"),
                None => format!("token budget of {max_tokens} exhausted (the reported usage overflows a 64-bit count)"),
            };
            self.escalate(iteration, CriticStage::Budget, reason);
            return Ok(None);
        }
        self.messages.push(Message {
            role: Role::Assistant,
            content: response.content.clone(),
            tool_calls: response.tool_calls.clone(),
            tool_call_id: None,
        });
        Ok(Some(response))
    }

    /// critic.score of a final answer: accept it, escalate it for low
    /// confidence, or ask again when it is empty or cites calls never executed.
    fn score_answer(&mut self, iteration: u32, response: ModelResponse) -> ControlFlow<()> {
        let unknown: Vec<&String> = response
            .citations
            .iter()
            .filter(|c| !self.executed_by_call_id.contains_key(*c))
            .collect();
        if response.content.trim().is_empty() || !unknown.is_empty() {
            let reason = if unknown.is_empty() {
                "the answer is empty".to_string()
            } else {
                format!("citations {unknown:?} refer to no executed tool call")
            };
            self.note(iteration, CriticStage::Score, CriticVerdict::Replan, reason.clone());
            self.messages.push(Message {
                role: Role::User,
                content: format!("critic: {reason}; answer again citing executed tool calls only"),
                tool_calls: Vec::new(),
                tool_call_id: None,
            });
            return ControlFlow::Continue(());
        }
        let config = self.input.config;
        let confidence = response.confidence.unwrap_or(config.default_confidence).clamp(0.0, 1.0);
        self.result.confidence = confidence;
        self.result.citations = response
            .citations
            .iter()
            .filter_map(|c| self.executed_by_call_id.get(c).copied())
            .collect();
        if confidence < config.min_confidence {
            let reason = format!("confidence {confidence} below the threshold {}", config.min_confidence);
            self.escalate(iteration, CriticStage::Score, reason);
            self.result.answer = format!(
                "{} (escalated: confidence {confidence} below {})",
                response.content, config.min_confidence
            );
            return ControlFlow::Break(());
        }
        let reason = format!("answer cites {} executed call(s)", self.result.citations.len());
        self.note(iteration, CriticStage::Score, CriticVerdict::Accept, reason);
        self.result.outcome = RunOutcome::Completed;
        self.result.answer = response.content;
        ControlFlow::Break(())
    }

    /// critic.verify of a plan before any effect: reject it, send it back
    /// to the planner, or let it run when it fits the contracts and budget.
    fn verify_plan(&mut self, iteration: u32, plan: &[ToolCall]) -> Checked {
        match verify(plan, self.input.catalog, self.input.run.approval_mode) {
            Verify::Reject(reason) => {
                self.note(iteration, CriticStage::Verify, CriticVerdict::Reject, reason.clone());
                self.result.outcome = RunOutcome::Rejected;
                self.result.answer = format!("rejected before any effect: {reason}");
                return Checked::Ended;
            }
            Verify::Replan(problems) => {
                let reason = problems.join("; ");
                self.note(iteration, CriticStage::Verify, CriticVerdict::Replan, reason.clone());
                for call in plan {
                    self.messages.push(feedback(&call.id, "not_executed", &reason));
                }
                return Checked::Replan;
            }
            Verify::Ok => {}
        }
        let max_tool_calls = self.input.run.budget.max_tool_calls;
        let planned = u32::try_from(plan.len()).unwrap_or(u32::MAX);
        if self.result.tool_calls_used.saturating_add(planned) > max_tool_calls {
            let reason = format!("tool-call budget of {max_tool_calls} would be exceeded");
            self.escalate(iteration, CriticStage::Verify, reason);
            return Checked::Ended;
        }
        self.note(
            iteration,
            CriticStage::Verify,
            CriticVerdict::Ok,
            format!("{planned} call(s) within contracts and budget"),
        );
        Checked::Run
    }

    /// The executor, then critic.score of the step.
    fn execute_plan(&mut self, iteration: u32, plan: &[ToolCall]) -> Result<ControlFlow<()>, LoopError> {
        let mut denied = Vec::new();
        for call in plan {
            let Some(outcome) = self.execute_call(iteration, call)? else {
                return Ok(ControlFlow::Break(()));
            };
            if matches!(
                outcome.envelope.status,
                ToolCallStatus::Executed | ToolCallStatus::Deduplicated
            ) {
                if let Some(d) = outcome.envelope.evidence_refs.last() {
                    self.executed_by_call_id.insert(call.id.clone(), *d);
                }
                self.result
                    .memory_proposals
                    .extend(consolidate(&outcome, self.input.catalog));
            } else {
                denied.push(call.name.clone());
            }
            self.messages.push(result_message(&call.id, &outcome));
            self.result.calls.push(outcome);
        }
        let (verdict, reason) = if denied.is_empty() {
            (CriticVerdict::Accept, "every call executed".to_string())
        } else {
            (CriticVerdict::Replan, format!("denied: {}", denied.join(", ")))
        };
        self.note(iteration, CriticStage::Score, verdict, reason);
        Ok(ControlFlow::Continue(()))
    }

    /// Calls one tool, retrying a failure once when the budget allows; `None`
    /// when the run ended because the call kept failing.
    fn execute_call(&mut self, iteration: u32, call: &ToolCall) -> Result<Option<GatewayCall>, LoopError> {
        let outcome = self.gateway.call(call, &self.context())?;
        self.result.tool_calls_used = self.result.tool_calls_used.saturating_add(1);
        if outcome.envelope.status != ToolCallStatus::Failed {
            return Ok(Some(outcome));
        }
        if self.result.tool_calls_used >= self.input.run.budget.max_tool_calls {
            self.result.calls.push(outcome);
            let reason = format!("{} failed and no tool-call budget is left to retry", call.name);
            self.escalate(iteration, CriticStage::Score, reason);
            return Ok(None);
        }
        self.note(
            iteration,
            CriticStage::Score,
            CriticVerdict::Retry,
            format!("{} failed; retrying once", call.name),
        );
        self.result.calls.push(outcome);
        let outcome = self.gateway.call(call, &self.context())?;
        self.result.tool_calls_used = self.result.tool_calls_used.saturating_add(1);
        if outcome.envelope.status == ToolCallStatus::Failed {
            self.messages.push(result_message(&call.id, &outcome));
            self.result.calls.push(outcome);
            self.escalate(iteration, CriticStage::Score, format!("{} failed twice", call.name));
            return Ok(None);
        }
        Ok(Some(outcome))
    }
}
