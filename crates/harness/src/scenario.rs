//! Scenario suites on disk: `scenarios/<suite>/suite.yaml` and
//! `scenarios/<suite>/cases/*.yaml`, with a published JSON Schema.

use std::collections::BTreeMap;

use contextos_core::{ApprovalVerdict, CriticStage, CriticVerdict, PolicyOutcome, RunOutcome, ToolCallStatus};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `suite.yaml`: what every case of a suite shares.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SuiteFile {
    /// Document format version (1).
    pub format_version: u32,
    /// Suite name (the directory name by convention).
    pub name: String,
    /// What the suite covers.
    #[serde(default)]
    pub description: String,
    /// The deployment configuration, relative to the suite directory.
    pub config: String,
    /// Defaults merged under every case.
    pub defaults: CaseDefaults,
    /// Gate thresholds.
    #[serde(default)]
    pub thresholds: Thresholds,
    /// The judge model for `graded` assertions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub judge: Option<JudgeConfig>,
}

/// Defaults for every case of a suite.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CaseDefaults {
    /// A partial run context (`run_id` defaults to `run_<suite>_<case>`).
    pub run_context: Value,
    /// Start of the injected clock (ms since the epoch).
    pub started_at: u64,
    /// Request channel.
    #[serde(default = "default_channel")]
    pub channel: String,
}

fn default_channel() -> String {
    "scenario".to_string()
}

/// Gate thresholds: minimum pass rates in [0, 1].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    /// Overall case pass rate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overall: Option<f64>,
    /// Case pass rate per tag.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, f64>,
    /// Assertion pass rate per assertion kind.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub kinds: BTreeMap<String, f64>,
}

/// The judge of model-graded assertions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JudgeConfig {
    /// Judge model name.
    pub model: String,
}

/// `cases/<name>.yaml`: one scenario.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CaseFile {
    /// Document format version: 1, or 2 (the script may be written in the case).
    pub format_version: u32,
    /// Case name; must equal the file name without `.yaml`.
    pub name: String,
    /// What the case checks.
    #[serde(default)]
    pub description: String,
    /// Tags for filtering and per-tag gates.
    #[serde(default)]
    pub tags: Vec<String>,
    /// The request.
    pub request: CaseRequest,
    /// Run-context fields merged over the suite defaults.
    #[serde(default)]
    pub run_context: Value,
    /// Start of the injected clock [default: the suite's].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<u64>,
    /// Recorded fixtures, relative to the suite directory [default: `fixtures/<name>`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixtures: Option<String>,
    /// Authoring script: a path relative to the suite directory, or (format
    /// version 2) the script itself [default: `scripts/<name>.yaml` when present].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub script: Option<ScriptRef>,
    /// What must hold.
    pub assertions: Vec<Assertion>,
}

/// A case's authoring script: where it is, or the script itself.
#[derive(Clone, Debug, PartialEq, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum ScriptRef {
    /// A script file, relative to the suite directory.
    Path(String),
    /// The script written in the case (case format version 2).
    Inline(Box<InlineScript>),
}

impl<'de> Deserialize<'de> for ScriptRef {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RefVisitor;
        impl<'de> serde::de::Visitor<'de> for RefVisitor {
            type Value = ScriptRef;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a script path, or a script (model, tools, approvals, judge)")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ScriptRef, E> {
                Ok(ScriptRef::Path(v.to_string()))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<ScriptRef, A::Error> {
                let script = InlineScript::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
                Ok(ScriptRef::Inline(Box::new(script)))
            }
        }
        deserializer.deserialize_any(RefVisitor)
    }
}

/// A script written inside its case: what the model answers, in order, what
/// each tool returns, who approves, and what the judge says.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InlineScript {
    /// Model responses, in call order.
    pub model: Vec<contextos_core::ModelResponse>,
    /// Tool results by tool and arguments.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<contextos_action::ScriptedResult>,
    /// Approver decisions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approvals: Vec<contextos_action::RecordedApproval>,
    /// Judge responses, one per `graded` assertion, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub judge: Vec<contextos_core::ModelResponse>,
}

/// The request of a case.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CaseRequest {
    /// Request id [default: `req-<case>`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Channel [default: the suite's].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// What is asked.
    pub text: String,
}

/// Tool-sequence matching.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SequenceMode {
    /// Exactly these calls, in this order.
    Exact,
    /// These calls in this order, others may come between.
    #[default]
    InOrder,
}

/// One assertion. Every kind takes an optional `weight` (default 1) and an
/// optional `not: true`, which passes exactly when the check fails (the
/// failure message then says what was not expected and what happened).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Assertion {
    /// The answer contains `text`.
    AnswerContains {
        /// Text to find.
        text: String,
        /// Weight.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        weight: Option<f64>,
        /// Negate: pass when the check does not hold [default: false].
        #[serde(default, skip_serializing_if = "is_false")]
        not: bool,
    },
    /// The answer matches a regular expression.
    AnswerRegex {
        /// Pattern (Rust regex syntax).
        pattern: String,
        /// Weight.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        weight: Option<f64>,
        /// Negate: pass when the check does not hold [default: false].
        #[serde(default, skip_serializing_if = "is_false")]
        not: bool,
    },
    /// The answer equals `text` exactly.
    AnswerEquals {
        /// Expected answer.
        text: String,
        /// Weight.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        weight: Option<f64>,
        /// Negate: pass when the check does not hold [default: false].
        #[serde(default, skip_serializing_if = "is_false")]
        not: bool,
    },
    /// The answer, parsed as JSON, has `equals` at `pointer`.
    AnswerJson {
        /// RFC 6901 pointer.
        pointer: String,
        /// Expected value.
        equals: Value,
        /// Weight.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        weight: Option<f64>,
        /// Negate: pass when the check does not hold [default: false].
        #[serde(default, skip_serializing_if = "is_false")]
        not: bool,
    },
    /// The run ended this way.
    Outcome {
        /// Expected outcome.
        is: RunOutcome,
        /// Weight.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        weight: Option<f64>,
        /// Negate: pass when the check does not hold [default: false].
        #[serde(default, skip_serializing_if = "is_false")]
        not: bool,
    },
    /// The agent called the tool (through the gateway, whatever the policy said).
    ToolCalled {
        /// Tool name.
        tool: String,
        /// Exactly this many times, when given.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        times: Option<u32>,
        /// Weight.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        weight: Option<f64>,
        /// Negate: pass when the check does not hold [default: false].
        #[serde(default, skip_serializing_if = "is_false")]
        not: bool,
    },
    /// The agent never called the tool.
    ToolNotCalled {
        /// Tool name.
        tool: String,
        /// Weight.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        weight: Option<f64>,
        /// Negate: pass when the check does not hold [default: false].
        #[serde(default, skip_serializing_if = "is_false")]
        not: bool,
    },
    /// Some call of the tool ended with this status.
    ToolStatus {
        /// Tool name.
        tool: String,
        /// Expected status.
        status: ToolCallStatus,
        /// Weight.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        weight: Option<f64>,
        /// Negate: pass when the check does not hold [default: false].
        #[serde(default, skip_serializing_if = "is_false")]
        not: bool,
    },
    /// The calls came in this order.
    ToolSequence {
        /// Tool names.
        tools: Vec<String>,
        /// Exact or in order.
        #[serde(default)]
        mode: SequenceMode,
        /// Weight.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        weight: Option<f64>,
        /// Negate: pass when the check does not hold [default: false].
        #[serde(default, skip_serializing_if = "is_false")]
        not: bool,
    },
    /// Some call of the tool had these arguments (every given field equal).
    ToolArguments {
        /// Tool name.
        tool: String,
        /// Expected fields.
        arguments: Value,
        /// Weight.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        weight: Option<f64>,
        /// Negate: pass when the check does not hold [default: false].
        #[serde(default, skip_serializing_if = "is_false")]
        not: bool,
    },
    /// At most this many planner iterations.
    MaxSteps {
        /// Iterations.
        steps: u32,
        /// Weight.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        weight: Option<f64>,
        /// Negate: pass when the check does not hold [default: false].
        #[serde(default, skip_serializing_if = "is_false")]
        not: bool,
    },
    /// The first policy decision on the tool had this outcome (and determining policy).
    Policy {
        /// Tool name.
        tool: String,
        /// Expected outcome before any approval.
        outcome: PolicyOutcome,
        /// A policy that must be among the determining ones.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        policy_id: Option<String>,
        /// Weight.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        weight: Option<f64>,
        /// Negate: pass when the check does not hold [default: false].
        #[serde(default, skip_serializing_if = "is_false")]
        not: bool,
    },
    /// An approver was asked about the tool.
    Approval {
        /// Tool name.
        tool: String,
        /// Approver role, when given.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        role: Option<String>,
        /// Verdict, when given.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        verdict: Option<ApprovalVerdict>,
        /// Weight.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        weight: Option<f64>,
        /// Negate: pass when the check does not hold [default: false].
        #[serde(default, skip_serializing_if = "is_false")]
        not: bool,
    },
    /// Budget use stayed within these limits.
    Budget {
        /// Tokens.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_tokens: Option<u64>,
        /// Tool calls.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_tool_calls: Option<u32>,
        /// Iterations.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_iterations: Option<u32>,
        /// Weight.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        weight: Option<f64>,
        /// Negate: pass when the check does not hold [default: false].
        #[serde(default, skip_serializing_if = "is_false")]
        not: bool,
    },
    /// A context layer was (or was not) in the compiled prompt.
    ContextLayer {
        /// Layer name (`system`, `memory`, …).
        layer: String,
        /// Whether it must be included.
        included: bool,
        /// Weight.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        weight: Option<f64>,
        /// Negate: pass when the check does not hold [default: false].
        #[serde(default, skip_serializing_if = "is_false")]
        not: bool,
    },
    /// A context-debt warning of this kind was (or was not) raised.
    DebtWarning {
        /// Debt kind (`stale_source`, `unowned_source`, …).
        warning: String,
        /// Whether it must be present [default: true].
        #[serde(default = "yes")]
        present: bool,
        /// Weight.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        weight: Option<f64>,
        /// Negate: pass when the check does not hold [default: false].
        #[serde(default, skip_serializing_if = "is_false")]
        not: bool,
    },
    /// The critic gave this verdict at some point.
    Critic {
        /// `ok`, `replan`, `reject`, `accept`, `retry`, `escalate`.
        // The published schema has always said only "a string" here.
        #[schemars(with = "String")]
        verdict: CriticVerdict,
        /// Only at this stage (`verify`, `score`, `budget`), when given.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(with = "Option<String>")]
        stage: Option<CriticStage>,
        /// Weight.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        weight: Option<f64>,
        /// Negate: pass when the check does not hold [default: false].
        #[serde(default, skip_serializing_if = "is_false")]
        not: bool,
    },
    /// The replay packet equals the golden in `goldens/<suite>/<case>.packet.json`.
    Golden {
        /// Weight.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        weight: Option<f64>,
        /// Negate: pass when the check does not hold [default: false].
        #[serde(default, skip_serializing_if = "is_false")]
        not: bool,
    },
    /// A judge model scores the answer against a rubric (its call is a recorded fixture).
    Graded {
        /// What a good answer does.
        rubric: String,
        /// Minimum score in [0, 1] to pass.
        min_score: f64,
        /// Weight.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        weight: Option<f64>,
        /// Negate: pass when the check does not hold [default: false].
        #[serde(default, skip_serializing_if = "is_false")]
        not: bool,
    },
}

fn yes() -> bool {
    true
}

#[expect(
    clippy::trivially_copy_pass_by_ref,
    reason = "serde's skip_serializing_if passes a reference"
)]
fn is_false(b: &bool) -> bool {
    !*b
}

impl Assertion {
    /// The kind name (`answer_contains`, `tool_called`, …).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::AnswerContains { .. } => "answer_contains",
            Self::AnswerRegex { .. } => "answer_regex",
            Self::AnswerEquals { .. } => "answer_equals",
            Self::AnswerJson { .. } => "answer_json",
            Self::Outcome { .. } => "outcome",
            Self::ToolCalled { .. } => "tool_called",
            Self::ToolNotCalled { .. } => "tool_not_called",
            Self::ToolStatus { .. } => "tool_status",
            Self::ToolSequence { .. } => "tool_sequence",
            Self::ToolArguments { .. } => "tool_arguments",
            Self::MaxSteps { .. } => "max_steps",
            Self::Policy { .. } => "policy",
            Self::Approval { .. } => "approval",
            Self::Budget { .. } => "budget",
            Self::ContextLayer { .. } => "context_layer",
            Self::DebtWarning { .. } => "debt_warning",
            Self::Critic { .. } => "critic",
            Self::Golden { .. } => "golden",
            Self::Graded { .. } => "graded",
        }
    }

    /// The weight (default 1).
    pub fn weight(&self) -> f64 {
        let w = match self {
            Self::AnswerContains { weight, .. }
            | Self::AnswerRegex { weight, .. }
            | Self::AnswerEquals { weight, .. }
            | Self::AnswerJson { weight, .. }
            | Self::Outcome { weight, .. }
            | Self::ToolCalled { weight, .. }
            | Self::ToolNotCalled { weight, .. }
            | Self::ToolStatus { weight, .. }
            | Self::ToolSequence { weight, .. }
            | Self::ToolArguments { weight, .. }
            | Self::MaxSteps { weight, .. }
            | Self::Policy { weight, .. }
            | Self::Approval { weight, .. }
            | Self::Budget { weight, .. }
            | Self::ContextLayer { weight, .. }
            | Self::DebtWarning { weight, .. }
            | Self::Critic { weight, .. }
            | Self::Golden { weight, .. }
            | Self::Graded { weight, .. } => *weight,
        };
        w.unwrap_or(1.0)
    }

    /// Whether the assertion is negated (`not: true`).
    pub fn negated(&self) -> bool {
        match self {
            Self::AnswerContains { not, .. }
            | Self::AnswerRegex { not, .. }
            | Self::AnswerEquals { not, .. }
            | Self::AnswerJson { not, .. }
            | Self::Outcome { not, .. }
            | Self::ToolCalled { not, .. }
            | Self::ToolNotCalled { not, .. }
            | Self::ToolStatus { not, .. }
            | Self::ToolSequence { not, .. }
            | Self::ToolArguments { not, .. }
            | Self::MaxSteps { not, .. }
            | Self::Policy { not, .. }
            | Self::Approval { not, .. }
            | Self::Budget { not, .. }
            | Self::ContextLayer { not, .. }
            | Self::DebtWarning { not, .. }
            | Self::Critic { not, .. }
            | Self::Golden { not, .. }
            | Self::Graded { not, .. } => *not,
        }
    }
}
