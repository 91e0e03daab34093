//! Run errors and their exit-code kinds.

use contextos_core::{DocumentError, ErrorKind, IoError, Kind};

/// Why a run, replay or verification could not complete.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum RunError {
    /// Bad input, described.
    #[error("{0}")]
    Input(String),
    /// A file or directory cannot be read or written.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Io(#[from] IoError),
    /// A document does not parse.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Document(#[from] DocumentError),
    /// The policy bundle does not load.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Policy(#[from] contextos_trust::PolicyLoadError),
    /// Tool contracts do not load.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Contract(#[from] contextos_action::ContractError),
    /// A key could not be read or a document signed.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Signing(#[from] contextos_trust::SigningError),
    /// A signature did not verify.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Verify(#[from] contextos_trust::VerifyError),
    /// A recording does not load.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Recording(#[from] contextos_action::RecordingError),
    /// The decision loop failed (fixture miss, transport).
    #[error(transparent)]
    #[diagnostic(transparent)]
    Loop(#[from] contextos_decision::LoopError),
    /// The store failed.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Store(#[from] contextos_store::StoreError),
    /// The evidence log failed.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Evidence(#[from] contextos_trust::EvidenceError),
    /// A context pack failed to load or verify.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Pack(#[from] contextos_context::PackError),
    /// The entity source failed to load.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Entities(#[from] contextos_intelligence::EntitySourceError),
    /// Context compilation failed.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Compile(#[from] contextos_context::CompileError),
    /// The replay inputs no longer match the deployment.
    #[error("{0}")]
    #[diagnostic(help(
        "pass the matching override (--policies, --tools, --packs) to replay against the changed deployment"
    ))]
    Drift(String),
    /// An internal invariant broke.
    #[error("internal error: {0}")]
    Bug(String),
}

impl Kind for RunError {
    /// Exit-code kind.
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Input(_) | Self::Document(_) | Self::Drift(_) => ErrorKind::Input,
            Self::Io(e) => e.kind(),
            Self::Policy(e) => e.kind(),
            Self::Contract(e) => e.kind(),
            Self::Signing(e) => e.kind(),
            Self::Verify(e) => e.kind(),
            Self::Recording(e) => e.kind(),
            Self::Loop(e) => e.kind(),
            Self::Store(e) => e.kind(),
            Self::Evidence(e) => e.kind(),
            Self::Pack(e) => e.kind(),
            Self::Compile(e) => e.kind(),
            Self::Entities(e) => e.kind(),
            Self::Bug(_) => ErrorKind::Bug,
        }
    }
}

impl RunError {
    pub(crate) fn bug(e: impl std::fmt::Display) -> Self {
        Self::Bug(e.to_string())
    }

    pub(crate) fn io(action: &'static str, path: &str, e: std::io::Error) -> Self {
        Self::Io(IoError::new(action, path, e))
    }
}
