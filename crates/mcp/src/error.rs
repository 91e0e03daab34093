//! The one error type of the MCP client.

use contextos_core::{DocumentError, ErrorKind, IoError, Kind};

/// Why talking to an MCP server, or pinning its tools, failed.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum McpError {
    /// The server spec does not parse.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Spec(#[from] DocumentError),
    /// A file or directory cannot be read or written.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Io(#[from] IoError),
    /// The server could not be started or reached, or did not complete the MCP handshake.
    #[error("cannot connect to MCP server {server:?} ({command}): {message}{}", stderr_tail(.stderr))]
    #[diagnostic(help(
        "check `command` and `args` (or `url` and the token's variable) in the server spec; \
         a started server sees only the spec's `env`"
    ))]
    Connect {
        /// The server name from the spec.
        server: String,
        /// The command line, or the URL.
        command: String,
        /// What failed.
        message: String,
        /// The end of what the server wrote to stderr.
        stderr: String,
    },
    /// The server answered outside the protocol, closed the connection, or failed a request.
    #[error("MCP server {server:?} failed {operation}: {message}{}", stderr_tail(.stderr))]
    Protocol {
        /// The server name.
        server: String,
        /// The request (`tools/list`, `tools/call echo`, …).
        operation: String,
        /// What failed.
        message: String,
        /// The end of what the server wrote to stderr.
        stderr: String,
    },
    /// A request did not complete in time.
    #[error("MCP server {server:?} did not answer {operation} within {seconds} s")]
    #[diagnostic(help("raise `timeout_secs` in the server spec if the tool is slow by design"))]
    Timeout {
        /// The server name.
        server: String,
        /// The request.
        operation: String,
        /// The limit.
        seconds: u64,
    },
    /// The server's metadata or result breaks a limit or is malformed (it is untrusted input).
    #[error("MCP server {server:?} sent unacceptable {what}: {message}")]
    Untrusted {
        /// The server name.
        server: String,
        /// Which part (`tool name`, `input schema of read_file`, `result of echo`, …).
        what: String,
        /// Which limit or rule it broke.
        message: String,
    },
    /// A call's arguments or `_meta` are not JSON objects.
    #[error("invalid {what} for MCP tool {tool:?}: {message}")]
    InvalidRequest {
        /// The tool.
        tool: String,
        /// `arguments` or `_meta`.
        what: &'static str,
        /// Why.
        message: String,
    },
    /// `pin` would overwrite an existing contract.
    #[error("{path} already exists: refusing to overwrite a pinned contract")]
    #[diagnostic(help("review the change with `contextos tools check-drift`, then pin again with `--force`"))]
    AlreadyPinned {
        /// The contract file.
        path: String,
    },
    /// The client is used where it cannot block (inside an async runtime).
    #[error("the MCP client is synchronous and cannot run inside an async runtime: {0}")]
    Runtime(String),
    /// A value could not be encoded (a bug).
    #[error("cannot encode {what}: {message}")]
    Encode {
        /// What.
        what: String,
        /// Why.
        message: String,
    },
}

impl Kind for McpError {
    /// Exit-code kind: everything is the user's input or the peer's fault (exit 2) except encoding bugs.
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Encode { .. } => ErrorKind::Bug,
            _ => ErrorKind::Input,
        }
    }
}

fn stderr_tail(stderr: &str) -> String {
    let trimmed = stderr.trim();
    if trimmed.is_empty() {
        String::new()
    } else {
        format!("\nserver stderr (last lines):\n{trimmed}")
    }
}
