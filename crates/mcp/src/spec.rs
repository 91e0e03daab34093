//! The server spec: how to start one MCP server, as a YAML file.

use std::collections::BTreeMap;
use std::path::Path;

use contextos_core::{DocumentError, parse_yaml};
use serde::{Deserialize, Serialize};

use crate::error::McpError;

/// How to start one MCP server over stdio.
///
/// ```yaml
/// name: filesystem
/// command: node
/// args: [tests/peers/node_modules/@modelcontextprotocol/server-filesystem/dist/index.js, /srv/data]
/// env: {}            # the server sees these variables and no others
/// timeout_secs: 30   # per request, and for the handshake
/// ```
///
/// The server starts with an empty environment plus `env`: nothing from the
/// caller's environment (API keys, tokens) leaks into the server implicitly.
/// Without `PATH` in `env`, a bare `command` is looked up in `/bin` and
/// `/usr/bin`; give an absolute path otherwise.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct McpServerSpec {
    /// The server's name (shown in messages and listings).
    pub name: String,
    /// The program to run.
    pub command: String,
    /// Its arguments.
    #[serde(default)]
    pub args: Vec<String>,
    /// The complete environment of the server process.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Seconds to wait for the handshake and for each request.
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
}

fn default_timeout_secs() -> u64 {
    30
}

impl McpServerSpec {
    /// Loads and checks a spec file.
    pub fn load(path: &Path) -> Result<Self, McpError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| McpError::Io {
            action: "read",
            path: shown.clone(),
            message: e.to_string(),
        })?;
        Self::parse(&shown, &text)
    }

    /// Parses and checks a spec from text (`file` names it in errors).
    pub fn parse(file: &str, text: &str) -> Result<Self, McpError> {
        let spec: Self = parse_yaml(file, text)?;
        let fail = |message: &str| McpError::Spec(DocumentError::new(file, message));
        if spec.name.trim().is_empty() {
            return Err(fail("`name` must not be empty"));
        }
        if spec.command.trim().is_empty() {
            return Err(fail("`command` must not be empty"));
        }
        if spec.timeout_secs == 0 || spec.timeout_secs > 3600 {
            return Err(fail("`timeout_secs` must be between 1 and 3600"));
        }
        Ok(spec)
    }

    /// The command line, for messages.
    pub fn command_line(&self) -> String {
        std::iter::once(self.command.as_str())
            .chain(self.args.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" ")
    }
}
