//! Deterministic assertions and the model-graded one, scored in [0, 1].

use contextos_core::cedar_names::TOOL;
use contextos_core::{
    ApprovalVerdict, CompiledContext, CriticNote, CriticStage, CriticVerdict, Message, ModelRequest, PolicyDecision,
    PolicyOutcome, ReplayPacket, Role, ToolCallStatus, ToolEnvelope,
};
use contextos_decision::ModelProvider;
use serde_json::{Value, json};

use crate::behaviour::GoldenComparison;
use crate::scenario::{Assertion, SequenceMode};
use crate::scorecard::AssertionResult;

/// What assertions look at.
pub struct Evidence<'a> {
    /// The run's packet.
    pub packet: &'a ReplayPacket,
    /// The signed packet's bytes.
    pub packet_bytes: &'a [u8],
    /// The packet compared with its golden (`None` when there is no golden yet).
    pub golden: Option<&'a GoldenComparison>,
    /// The judge for `graded` assertions (recorded fixtures).
    pub judge: &'a dyn ModelProvider,
    /// The judge model name.
    pub judge_model: Option<&'a str>,
}

impl std::fmt::Debug for Evidence<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Evidence")
            .field("run_id", &self.packet.run_id)
            .finish_non_exhaustive()
    }
}

/// The judge's request for grading `answer` against `rubric`.
pub fn judge_request(model: &str, rubric: &str, answer: &str) -> ModelRequest {
    let text = |role, content: String| Message {
        role,
        content,
        tool_calls: Vec::new(),
        tool_call_id: None,
    };
    ModelRequest {
        model: model.to_string(),
        params: [("temperature".to_string(), json!(0))].into_iter().collect(),
        tools: Vec::new(),
        messages: vec![
            text(
                Role::System,
                format!(
                    "You grade a support agent's answer against a rubric. Reply with JSON only: \
                     {{\"score\": <number from 0 to 1>, \"reason\": \"<one sentence>\"}}.\n\nRubric: {rubric}"
                ),
            ),
            text(Role::User, answer.to_string()),
        ],
    }
}

/// A case-stopping problem inside an assertion (a judge fixture miss).
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("graded assertion: {0}")]
pub struct GradeError(#[from] pub contextos_decision::ProviderError);

/// The kind of the judge's failure (a fixture miss is exit 4).
impl contextos_core::Kind for GradeError {
    fn kind(&self) -> contextos_core::ErrorKind {
        contextos_core::Kind::kind(&self.0)
    }
}

fn subset(expected: &Value, actual: &Value) -> bool {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => e.iter().all(|(k, v)| a.get(k).is_some_and(|av| subset(v, av))),
        _ => expected == actual,
    }
}

/// An assertion's score in [0, 1], whether it passed, and what was found.
struct Scored {
    score: f64,
    passed: bool,
    found: String,
    /// The check could not be made (a judge reply that is not JSON): negation
    /// does not turn it into a pass.
    broken: bool,
}

fn verdict(passed: bool, found: String) -> Scored {
    Scored {
        score: if passed { 1.0 } else { 0.0 },
        passed,
        found,
        broken: false,
    }
}

fn broken(found: String) -> Scored {
    Scored {
        broken: true,
        ..verdict(false, found)
    }
}

/// How long an answer may be in a message before it is cut.
const SHOWN_ANSWER: usize = 200;

/// The answer as a message shows it (quoted, cut after 200 characters).
fn shown_answer(answer: &str) -> String {
    let cut: String = answer.chars().take(SHOWN_ANSWER).collect();
    if cut.len() < answer.len() {
        format!("answer {cut:?}…")
    } else {
        format!("answer {cut:?}")
    }
}

/// Scores one assertion. The message says what was expected and what was
/// found: `expected <what>; found <what>` (`expected not <what>; …` when negated).
pub fn check(assertion: &Assertion, ev: &Evidence<'_>) -> Result<AssertionResult, GradeError> {
    let mut scored = measure(assertion, ev)?;
    let not = assertion.negated();
    if not && !scored.broken {
        scored.passed = !scored.passed;
        scored.score = 1.0 - scored.score;
    }
    Ok(AssertionResult {
        kind: assertion.kind().to_string(),
        weight: assertion.weight(),
        score: scored.score,
        passed: scored.passed,
        message: format!(
            "expected {}{}; found {}",
            if not { "not " } else { "" },
            expectation(assertion),
            scored.found
        ),
    })
}

/// What the run was checked for.
fn measure(assertion: &Assertion, ev: &Evidence<'_>) -> Result<Scored, GradeError> {
    let record = &ev.packet.decision_record;
    let envelopes = &ev.packet.tool_envelopes;
    let answer = &record.answer;
    Ok(match assertion {
        Assertion::AnswerContains { text, .. } => verdict(answer.contains(text.as_str()), shown_answer(answer)),
        Assertion::AnswerRegex { pattern, .. } => answer_regex(answer, pattern),
        Assertion::AnswerEquals { text, .. } => verdict(answer == text, shown_answer(answer)),
        Assertion::AnswerJson { pointer, equals, .. } => answer_json(answer, pointer, equals),
        Assertion::Outcome { is, .. } => verdict(record.outcome == *is, format!("outcome {}", record.outcome)),
        Assertion::ToolCalled { tool, times, .. } => tool_called(envelopes, tool, *times),
        Assertion::ToolNotCalled { tool, .. } => {
            let n = envelopes.iter().filter(|e| &e.tool == tool).count();
            verdict(n == 0, format!("{tool} called {n} time(s)"))
        }
        Assertion::ToolStatus { tool, status, .. } => tool_status(envelopes, tool, *status),
        Assertion::ToolSequence { tools, mode, .. } => tool_sequence(envelopes, tools, *mode),
        Assertion::ToolArguments { tool, arguments, .. } => tool_arguments(envelopes, tool, arguments),
        Assertion::MaxSteps { steps, .. } => verdict(
            record.usage.iterations <= *steps,
            format!("{} iteration(s)", record.usage.iterations),
        ),
        Assertion::Policy {
            tool,
            outcome,
            policy_id,
            ..
        } => policy(&record.policy_decisions, tool, *outcome, policy_id.as_deref()),
        Assertion::Approval {
            tool, role, verdict, ..
        } => approval(envelopes, tool, role.as_deref(), *verdict),
        Assertion::Budget {
            max_tokens,
            max_tool_calls,
            max_iterations,
            ..
        } => {
            let u = &record.usage;
            let ok = max_tokens.is_none_or(|m| u.tokens <= m)
                && max_tool_calls.is_none_or(|m| u.tool_calls <= m)
                && max_iterations.is_none_or(|m| u.iterations <= m);
            verdict(
                ok,
                format!(
                    "{} tokens, {} tool calls, {} iterations",
                    u.tokens, u.tool_calls, u.iterations
                ),
            )
        }
        Assertion::ContextLayer { layer, included, .. } => context_layer(&ev.packet.compiled_context, layer, *included),
        Assertion::DebtWarning { warning, present, .. } => debt_warning(&ev.packet.compiled_context, warning, *present),
        Assertion::Critic { verdict, stage, .. } => critic(&ev.packet.critic, *verdict, *stage),
        Assertion::Golden { .. } => golden(ev.golden),
        Assertion::Graded { rubric, min_score, .. } => graded(ev, rubric, *min_score)?,
    })
}

/// What an assertion expects, as the object of "expected …".
fn expectation(assertion: &Assertion) -> String {
    match assertion {
        Assertion::AnswerContains { text, .. } => format!("the answer to contain {text:?}"),
        Assertion::AnswerRegex { pattern, .. } => format!("the answer to match /{pattern}/"),
        Assertion::AnswerEquals { text, .. } => format!("the answer {text:?}"),
        Assertion::AnswerJson { pointer, equals, .. } => format!("{pointer} of the JSON answer to be {equals}"),
        Assertion::Outcome { is, .. } => format!("outcome {is}"),
        Assertion::ToolCalled { tool, times, .. } => match times {
            Some(t) => format!("{tool} called {t} time(s)"),
            None => format!("{tool} called"),
        },
        Assertion::ToolNotCalled { tool, .. } => format!("{tool} never called"),
        Assertion::ToolStatus { tool, status, .. } => format!("a call of {tool} to end {}", status.as_str()),
        Assertion::ToolSequence { tools, mode, .. } => match mode {
            SequenceMode::Exact => format!("exactly the calls [{}]", tools.join(", ")),
            SequenceMode::InOrder => format!("the calls [{}] in this order", tools.join(", ")),
        },
        Assertion::ToolArguments { tool, arguments, .. } => format!("a call of {tool} with {arguments}"),
        Assertion::MaxSteps { steps, .. } => format!("at most {steps} iteration(s)"),
        Assertion::Policy {
            tool,
            outcome,
            policy_id,
            ..
        } => {
            let by = policy_id.as_ref().map(|p| format!(" by {p}")).unwrap_or_default();
            format!("{tool}: {outcome}{by}")
        }
        Assertion::Approval {
            tool, role, verdict, ..
        } => {
            let verdict = verdict.map(|v| format!(" {v}")).unwrap_or_default();
            let role = role.as_ref().map(|r| format!(" by a {r}")).unwrap_or_default();
            format!("an approval for {tool}{verdict}{role}")
        }
        Assertion::Budget {
            max_tokens,
            max_tool_calls,
            max_iterations,
            ..
        } => {
            let limits: Vec<String> = [
                max_tokens.map(|m| format!("{m} tokens")),
                max_tool_calls.map(|m| format!("{m} tool calls")),
                max_iterations.map(|m| format!("{m} iterations")),
            ]
            .into_iter()
            .flatten()
            .collect();
            format!("at most {}", limits.join(", "))
        }
        Assertion::ContextLayer { layer, included, .. } => {
            format!("layer {layer} {}", if *included { "included" } else { "not included" })
        }
        Assertion::DebtWarning { warning, present, .. } => {
            format!("{} {warning} debt warning", if *present { "a" } else { "no" })
        }
        Assertion::Critic { verdict, stage, .. } => match stage {
            Some(s) => format!("critic verdict {s}:{verdict}"),
            None => format!("critic verdict {verdict}"),
        },
        Assertion::Golden { .. } => "behaviour equal to the golden".to_string(),
        Assertion::Graded { min_score, .. } => format!("a judge score of at least {min_score}"),
    }
}

fn answer_regex(answer: &str, pattern: &str) -> Scored {
    match regex::Regex::new(pattern) {
        Ok(re) => verdict(re.is_match(answer), shown_answer(answer)),
        Err(e) => broken(format!("an invalid pattern: {e}")),
    }
}

fn answer_json(answer: &str, pointer: &str, equals: &Value) -> Scored {
    match serde_json::from_str::<Value>(answer) {
        Ok(v) => {
            let found = v.pointer(pointer);
            verdict(
                found == Some(equals),
                format!("{pointer} is {}", found.map_or("missing".to_string(), Value::to_string)),
            )
        }
        Err(e) => verdict(false, format!("an answer that is not JSON ({e})")),
    }
}

fn tool_called(envelopes: &[ToolEnvelope], tool: &str, times: Option<u32>) -> Scored {
    let n = u32::try_from(envelopes.iter().filter(|e| e.tool == tool).count()).unwrap_or(u32::MAX);
    let ok = match times {
        Some(t) => n == t,
        None => n > 0,
    };
    verdict(ok, format!("{tool} called {n} time(s)"))
}

fn tool_status(envelopes: &[ToolEnvelope], tool: &str, want: ToolCallStatus) -> Scored {
    let seen: Vec<&str> = envelopes
        .iter()
        .filter(|e| e.tool == tool)
        .map(|e| e.status.as_str())
        .collect();
    verdict(
        envelopes.iter().any(|e| e.tool == tool && e.status == want),
        format!("{tool} calls ended [{}]", seen.join(", ")),
    )
}

fn tool_sequence(envelopes: &[ToolEnvelope], want: &[String], mode: SequenceMode) -> Scored {
    let tools: Vec<&str> = envelopes.iter().map(|e| e.tool.as_str()).collect();
    let ok = match mode {
        SequenceMode::Exact => tools.iter().copied().eq(want.iter().map(String::as_str)),
        SequenceMode::InOrder => {
            let mut it = tools.iter();
            want.iter().all(|w| it.any(|t| *t == w.as_str()))
        }
    };
    verdict(ok, format!("the calls [{}]", tools.join(", ")))
}

fn tool_arguments(envelopes: &[ToolEnvelope], tool: &str, arguments: &Value) -> Scored {
    let calls: Vec<&Value> = envelopes
        .iter()
        .filter(|e| e.tool == tool)
        .map(|e| &e.arguments)
        .collect();
    let ok = calls.iter().any(|a| subset(arguments, a));
    if calls.is_empty() {
        return verdict(false, format!("{tool} never called"));
    }
    verdict(
        ok,
        format!(
            "{tool} called with {}",
            calls.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(" | ")
        ),
    )
}

/// The first decision on the tool had `want`, and `policy_id` (when given) among its determining policies.
fn policy(decisions: &[PolicyDecision], tool: &str, want: PolicyOutcome, policy_id: Option<&str>) -> Scored {
    let resource = format!("{TOOL}::{tool:?}");
    match decisions.iter().find(|d| d.resource == resource) {
        None => verdict(false, format!("no policy decision on {tool}")),
        Some(d) => {
            let id_ok = policy_id.is_none_or(|id| d.determining_policies.iter().any(|p| p == id));
            verdict(
                d.outcome == want && id_ok,
                format!("{tool}: {} by [{}]", d.outcome, d.determining_policies.join(", ")),
            )
        }
    }
}

fn approval(envelopes: &[ToolEnvelope], tool: &str, role: Option<&str>, want: Option<ApprovalVerdict>) -> Scored {
    let asked: Vec<_> = envelopes
        .iter()
        .filter(|e| e.tool == tool)
        .filter_map(|e| e.approval.as_ref())
        .collect();
    let ok = asked
        .iter()
        .any(|a| role.is_none_or(|r| a.role == r) && want.is_none_or(|v| a.verdict == v));
    let found: Vec<String> = asked
        .iter()
        .map(|a| format!("{:?} by {} ({})", a.verdict, a.approver, a.role).to_lowercase())
        .collect();
    verdict(
        ok,
        if found.is_empty() {
            format!("no approval asked for {tool}")
        } else {
            found.join("; ")
        },
    )
}

fn context_layer(context: &CompiledContext, layer: &str, included: bool) -> Scored {
    let present = context
        .manifest
        .iter()
        .any(|l| l.layer.as_str() == layer && l.tokens > 0);
    verdict(
        present == included,
        format!("layer {layer} {}", if present { "included" } else { "not included" }),
    )
}

fn debt_warning(context: &CompiledContext, warning: &str, present: bool) -> Scored {
    let kinds: Vec<String> = context
        .debt
        .iter()
        .map(|d| {
            serde_json::to_value(d.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default()
        })
        .collect();
    let found = kinds.iter().any(|k| k == warning);
    verdict(found == present, format!("debt warnings: [{}]", kinds.join(", ")))
}

fn critic(notes: &[CriticNote], want: CriticVerdict, stage: Option<CriticStage>) -> Scored {
    let ok = notes
        .iter()
        .any(|n| n.verdict == want && stage.is_none_or(|s| n.stage == s));
    let seen: Vec<String> = notes.iter().map(|n| format!("{}:{}", n.stage, n.verdict)).collect();
    verdict(ok, format!("critic verdicts [{}]", seen.join(", ")))
}

fn golden(golden: Option<&GoldenComparison>) -> Scored {
    match golden {
        None => verdict(false, "no golden yet: run `contextos golden accept`".to_string()),
        Some(GoldenComparison::Identical) => verdict(true, "packet equals the golden".into()),
        Some(GoldenComparison::ProvenanceOnly(_)) => verdict(
            true,
            "behaviour equals the golden; provenance changed (`contextos golden check` lists it)".into(),
        ),
        Some(GoldenComparison::BehaviourChanged(_)) => verdict(
            false,
            "behaviour differs from the golden (`contextos golden check` shows the diff)".into(),
        ),
    }
}

/// Asks the judge (a recorded fixture) to score the answer against the rubric.
fn graded(ev: &Evidence<'_>, rubric: &str, min_score: f64) -> Result<Scored, GradeError> {
    let model = ev.judge_model.unwrap_or("judge");
    let response = ev
        .judge
        .complete(&judge_request(model, rubric, &ev.packet.decision_record.answer))?;
    Ok(match serde_json::from_str::<Value>(&response.content) {
        Ok(v) => match v.get("score").and_then(Value::as_f64) {
            Some(s) => {
                let s = s.clamp(0.0, 1.0);
                let reason = v.get("reason").and_then(Value::as_str).unwrap_or("");
                Scored {
                    score: s,
                    passed: s >= min_score,
                    found: format!("a judge score of {s}: {reason}"),
                    broken: false,
                }
            }
            None => broken(format!("a judge reply with no numeric score: {}", response.content)),
        },
        Err(e) => broken(format!("a judge reply that is not JSON ({e}): {}", response.content)),
    })
}
