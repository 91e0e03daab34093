//! The one error type of the OpenAPI tools.

use contextos_action::PinError;
use contextos_core::{DocumentError, ErrorKind, IoError, Kind};

/// Why a source spec or an OpenAPI document could not be used, or a tool not pinned.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum OpenApiError {
    /// The source spec or the OpenAPI document does not parse, breaks a
    /// limit, or describes something that cannot become a tool.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Document(#[from] DocumentError),
    /// A file cannot be read.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Io(#[from] IoError),
    /// Calls need a base URL and neither the source nor the document gives a usable one.
    #[error("OpenAPI source {name:?} has no usable base URL: {message}")]
    #[diagnostic(help("set `base_url` in the source spec (http or https, no credentials, no query)"))]
    BaseUrl {
        /// The source.
        name: String,
        /// Why.
        message: String,
    },
    /// The source names a token variable and the caller passed no token.
    #[error(
        "OpenAPI source {name:?} needs a bearer token from the environment variable {variable}, which is unset or empty"
    )]
    #[diagnostic(help("export {variable}, or remove `bearer_token_env` from the source spec"))]
    MissingToken {
        /// The source.
        name: String,
        /// The variable named by `bearer_token_env`.
        variable: String,
    },
    /// The HTTP client could not be built (a bug or a broken TLS setup).
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
    /// A contract could not be pinned.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Pin(#[from] PinError),
}

impl Kind for OpenApiError {
    /// Exit-code kind: bad input (exit 2) except for bugs.
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Client(_) => ErrorKind::Bug,
            Self::Pin(e) => e.kind(),
            _ => ErrorKind::Input,
        }
    }
}
