//! Errors of the context plane: [`PackError`] for reading, building,
//! signing and loading packs, [`CompileError`] for compiling.

use contextos_core::{ContextLayer, DocumentError, ErrorKind, IoError, Kind};
use contextos_trust::{SigningError, VerifyError};

/// A pack that could not be read, built, signed or trusted.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum PackError {
    /// A file or directory could not be read or written.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Io(#[from] IoError),
    /// A source or artifact that does not parse (file, line and column named).
    #[error(transparent)]
    #[diagnostic(transparent)]
    Document(#[from] DocumentError),
    /// A pack that parses but breaks a rule of the format.
    #[error("invalid pack {file}: {field}: {message}")]
    #[diagnostic(help("see runtime/packs/support_escalation/pack.yaml for a complete pack"))]
    Invalid {
        /// The source or artifact.
        file: String,
        /// Where in the pack (`layers[memory].sources[0].snippets[2].id`).
        field: String,
        /// What is wrong.
        message: String,
    },
    /// A signed pack whose signature does not verify.
    #[error("pack {file} failed verification: {reason}")]
    Verify {
        /// The artifact.
        file: String,
        /// Why it failed (in the message, not repeated as a cause).
        reason: VerifyError,
    },
    /// An artifact whose content does not match its digests or its canonical form.
    #[error("pack {file} failed verification: {problem}")]
    Tampered {
        /// The artifact.
        file: String,
        /// What does not match.
        problem: String,
    },
    /// An unsigned pack, refused outside development mode.
    #[error("pack {id} in {file} is not signed")]
    #[diagnostic(help(
        "sign it with `contextos pack sign`; for local development only, set allow_unsigned_dev_packs \
         (the compiled context then records unsigned_pack_dev_mode)"
    ))]
    Unsigned {
        /// The artifact.
        file: String,
        /// The pack id.
        id: String,
    },
    /// The signing key could not be used.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Signing(#[from] SigningError),
}

impl Kind for PackError {
    /// The error kind the CLI maps to an exit code: anything about signatures,
    /// digests or tampering is `Verification` (exit 3), bad sources are `Input`.
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Io(_) | Self::Document(_) | Self::Invalid { .. } => ErrorKind::Input,
            Self::Verify { reason, .. } => reason.kind(),
            Self::Tampered { .. } | Self::Unsigned { .. } => ErrorKind::Verification,
            Self::Signing(e) => e.kind(),
        }
    }
}

impl PackError {
    pub(crate) fn invalid(file: &str, field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid {
            file: file.to_owned(),
            field: field.into(),
            message: message.into(),
        }
    }

    pub(crate) fn tampered(file: &str, problem: impl Into<String>) -> Self {
        Self::Tampered {
            file: file.to_owned(),
            problem: problem.into(),
        }
    }
}

/// A compilation that could not run.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum CompileError {
    /// The model name maps to no known tokenizer.
    #[error("unknown model {model:?}: no tokenizer is known for it (known prefixes: {known})")]
    #[diagnostic(help("use a model name with a known prefix, or add its encoding to the mapping"))]
    UnknownModel {
        /// The model name.
        model: String,
        /// The known prefixes.
        known: String,
    },
    /// The token counter passed in uses another encoding than the model's.
    #[error("token counter uses {counter} but model {model:?} uses {model_encoding}")]
    EncodingMismatch {
        /// The model name.
        model: String,
        /// The model's encoding.
        model_encoding: &'static str,
        /// The counter's encoding.
        counter: &'static str,
    },
    /// The same pack id was given twice.
    #[error("pack {id} is given twice")]
    DuplicatePack {
        /// The pack id.
        id: String,
    },
    /// Policy denied a required layer of a pack the run may use.
    #[error(
        "required layer {layer} of pack {pack} is denied by policy ({}): {reason}",
        if .policies.is_empty() { "no policy permits it".to_owned() } else { format!("determined by {}", .policies.join(", ")) }
    )]
    #[diagnostic(help(
        "a run cannot go on without a required layer: change the policy that denies it, or make the layer not required in the pack"
    ))]
    RequiredLayerDenied {
        /// The layer.
        layer: ContextLayer,
        /// The pack (`name:version`).
        pack: String,
        /// The determining policies (`@id`s; empty when nothing permitted it).
        policies: Vec<String>,
        /// The gate's reason.
        reason: String,
    },
    /// The tokenizer could not be built (a bug: its tables ship with the binary).
    #[error("cannot build the {encoding} tokenizer: {message}")]
    Encoder {
        /// The encoding.
        encoding: &'static str,
        /// Why.
        message: String,
    },
}

impl Kind for CompileError {
    /// The error kind the CLI maps to an exit code.
    fn kind(&self) -> ErrorKind {
        match self {
            Self::UnknownModel { .. } | Self::DuplicatePack { .. } | Self::RequiredLayerDenied { .. } => {
                ErrorKind::Input
            }
            Self::EncodingMismatch { .. } | Self::Encoder { .. } => ErrorKind::Bug,
        }
    }
}
