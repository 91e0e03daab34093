//! The ContextOS evaluation harness.
//!
//! Owns scenario suites (YAML), the JSON Schema of every kind of file a user
//! writes ([`FileKind`]), assertions and graders, the parallel runner (rayon,
//! results in a fixed order), scorecards, gates, goldens, reports, promotion of stored runs into cases,
//! and policy impact and coverage over recorded corpora.
//!
//! It runs cases through the runtime; it does not decide policy, plan, or
//! reach tools itself.
//!
//! The bundled suite, loaded and run on its recorded fixtures:
//!
//! ```
//! use std::path::Path;
//! use contextos_harness::{RunOptions, load_suite, run_suite};
//! use contextos_runtime::Deployment;
//!
//! let suite = load_suite(Path::new("../../scenarios/customer-escalation"))?;
//! let dep = Deployment::load(&suite.config_path())?;
//! let cases: Vec<_> = suite.cases.iter().filter(|c| c.path.ends_with("order-status-lookup.yaml")).collect();
//! let options = RunOptions { goldens: Some(Path::new("../../goldens")), ..RunOptions::default() };
//! let (runs, scorecard) = run_suite(&dep, &suite, &cases, None, &options);
//! assert_eq!(runs.len(), 1);
//! assert_eq!(scorecard.cases.len(), 1);
//! assert!(scorecard.cases[0].passed, "{:?}", runs[0].result);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(missing_docs)]

mod assertions;
mod behaviour;
mod corpus;
mod coverage;
mod gates;
mod golden;
mod impact;
mod promote;
mod promotion;
mod record;
mod report;
mod runner;
mod scaffold;
mod scenario;
mod schemas;
mod scorecard;
mod suite;

pub use assertions::{Evidence, GradeError, check, judge_request};
pub use behaviour::{
    ApprovalBehaviour, Behaviour, GoldenComparison, GoldenMode, LayerBehaviour, OmittedBehaviour, PolicyBehaviour,
    ProvenanceChange, ToolCallBehaviour, compare_packets, provenance_changes,
};
pub use corpus::{Corpus, CorpusError, CorpusKind, CorpusPacket, CorpusSource, STORE_SUITE};
pub use coverage::{CoverageReport, ShadowCoverage, policy_coverage};
pub use gates::{GateOptions, evaluate_gates};
pub use golden::{GoldenCheck, GoldenMismatch, accept_goldens, check_goldens, stale_goldens};
pub use impact::{ChangeCount, ChangeKind, ImpactChange, ImpactReport, policy_impact};
pub use promote::{scaffold_case, write_case, write_packet_fixtures};
pub use promotion::{FirstRun, PromotedCase, check_case_name, promote_packet, run_promoted_case};
pub use record::{Recorded, record_case};
pub use report::{MARKDOWN_COMMENT_LIMIT, ReportError, render_html, render_junit, render_markdown};
pub use runner::{CaseRun, RunOptions, run_suite};
pub use scaffold::{
    InitReport, NewPolicyTest, NewTool, PROJECT_CONFIG, Template, ToolArg, WrittenPolicyTest, init_project, new_case,
    new_policy_test, new_tool,
};
pub use scenario::{
    Assertion, CaseDefaults, CaseFile, CaseRequest, InlineScript, JudgeConfig, ScriptRef, SequenceMode, SuiteFile,
    Thresholds,
};
pub use schemas::{FileKind, write_schemas};
pub use scorecard::{AssertionResult, CaseDetail, CaseResult, Scorecard, Tally, rate};
pub use suite::{CASE_FORMAT_VERSION, Case, CaseScript, HarnessError, Selection, Suite, load_suite, parse_partition};
