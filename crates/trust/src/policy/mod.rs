//! The Cedar policy engine: loading a bundle, authorizing requests, and
//! running policy tests.

mod approval;
mod builtin;
mod diagnostic;
mod engine;
mod load;
mod suite;
mod tool_schema;

pub use builtin::{ATTRIBUTE_TYPES, DeclaredAttributes, GENERATED_SCHEMA_FILE, generated_schema};
pub use diagnostic::SourceDiagnostic;
pub use engine::{PolicyEngine, PolicyRequest, RequestDocument, RequestError, is_shadow_error};
#[cfg(feature = "schema")]
pub use load::approvers_schema;
pub use load::{PolicyEffect, PolicyInfo, PolicyLoadError, PolicyMode};
#[cfg(feature = "schema")]
pub use suite::policy_test_schema;
pub use suite::{
    ErrorsExpectation, Expectation, PolicyTestError, PolicyTestReport, PolicyTestResult, run_policy_tests,
};
pub use tool_schema::{ARGUMENTS, ArgumentType, Field, RecordType, ToolArguments, tool_actions_schema};
