//! The Cedar policy engine: loading a bundle, authorizing requests, and
//! running policy tests.

mod approval;
mod diagnostic;
mod engine;
mod load;
mod suite;

pub use diagnostic::SourceDiagnostic;
pub use engine::{PolicyEngine, PolicyRequest, RequestDocument, RequestError, is_shadow_error};
pub use load::{PolicyInfo, PolicyLoadError, PolicyMode};
pub use suite::*;
