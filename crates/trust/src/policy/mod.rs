//! The Cedar policy engine: loading a bundle, authorizing requests, and
//! running policy tests.

mod diagnostic;
mod engine;
mod load;
mod suite;

pub use diagnostic::SourceDiagnostic;
pub use engine::{PolicyEngine, PolicyRequest, RequestDocument, RequestError};
pub use load::{PolicyEffect, PolicyInfo, PolicyLoadError, PolicyMode};
pub use suite::*;
