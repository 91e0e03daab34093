//! The server spec: how to start one MCP server, as a YAML file.

use std::collections::BTreeMap;
use std::path::Path;

use contextos_core::{DocumentError, IoError, parse_yaml};
use serde::{Deserialize, Serialize};

use crate::error::McpError;

/// How to reach one MCP server: a program started over stdio, or a running
/// server over streamable HTTP.
///
/// ```yaml
/// name: filesystem
/// command: node
/// args: [tests/peers/node_modules/@modelcontextprotocol/server-filesystem/dist/index.js, /srv/data]
/// env: {}            # the server sees these variables and no others
/// timeout_secs: 30   # per request, and for the handshake
/// ```
///
/// ```yaml
/// name: everything
/// url: http://127.0.0.1:3001/mcp
/// bearer_token_env: EVERYTHING_TOKEN   # optional: the variable holding the token
/// ```
///
/// A stdio server starts with an empty environment plus `env`: nothing from
/// the caller's environment (API keys, tokens) leaks into the server
/// implicitly. Without `PATH` in `env`, a bare `command` is looked up in
/// `/bin` and `/usr/bin`; give an absolute path otherwise.
///
/// An HTTP server's token is named, never written here: the CLI reads the
/// variable and passes the value to `McpClient::connect_with`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct McpServerSpec {
    /// The server's name (shown in messages and listings).
    pub name: String,
    /// The program to run (stdio; exactly one of `command` and `url`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub command: String,
    /// Its arguments.
    #[serde(default)]
    pub args: Vec<String>,
    /// The complete environment of the server process.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// The server's streamable HTTP endpoint (exactly one of `command` and `url`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// For `url`: the environment variable holding a bearer token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bearer_token_env: Option<String>,
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
        let text = std::fs::read_to_string(path).map_err(IoError::of("read", path))?;
        Self::parse(&shown, &text)
    }

    /// Parses and checks a spec from text (`file` names it in errors).
    pub fn parse(file: &str, text: &str) -> Result<Self, McpError> {
        let spec: Self = parse_yaml(file, text)?;
        let fail = |message: &str| McpError::Spec(DocumentError::new(file, message));
        if spec.name.trim().is_empty() {
            return Err(fail("`name` must not be empty"));
        }
        match (&spec.url, spec.command.trim().is_empty()) {
            (None, true) => {
                return Err(fail(
                    "give `command` (a program to start over stdio) or `url` (streamable HTTP)",
                ));
            }
            (Some(_), false) => return Err(fail("give either `command` or `url`, not both")),
            (Some(url), true) => {
                contextos_action::http::check_endpoint(
                    "url",
                    url,
                    "name the token's variable in `bearer_token_env`",
                    true,
                )
                .map_err(|m| fail(&m))?;
                if !spec.args.is_empty() || !spec.env.is_empty() {
                    return Err(fail("`args` and `env` apply to a started program, not to a `url`"));
                }
            }
            (None, false) => {
                if spec.bearer_token_env.is_some() {
                    return Err(fail(
                        "`bearer_token_env` applies to a `url`; give a stdio server its credentials in `env`",
                    ));
                }
            }
        }
        if let Some(name) = &spec.bearer_token_env
            && !contextos_core::live::is_env_var_name(name)
        {
            return Err(fail(
                "`bearer_token_env` must be an environment variable name (A-Z, 0-9, _)",
            ));
        }
        if spec.timeout_secs == 0 || spec.timeout_secs > 3600 {
            return Err(fail("`timeout_secs` must be between 1 and 3600"));
        }
        Ok(spec)
    }

    /// Where the server is, for messages: its command line, or its URL.
    pub fn command_line(&self) -> String {
        if let Some(url) = &self.url {
            return url.clone();
        }
        std::iter::once(self.command.as_str())
            .chain(self.args.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<McpServerSpec, String> {
        McpServerSpec::parse("spec.yaml", text).map_err(|e| e.to_string())
    }

    #[test]
    fn a_spec_is_stdio_or_http_never_both() {
        let stdio = parse("name: fs\ncommand: node\nargs: [x.js]\n").unwrap();
        assert_eq!(stdio.command_line(), "node x.js");
        let http = parse("name: ev\nurl: http://127.0.0.1:3001/mcp\nbearer_token_env: EV_TOKEN\n").unwrap();
        assert_eq!(http.command_line(), "http://127.0.0.1:3001/mcp");
        assert_eq!(http.bearer_token_env.as_deref(), Some("EV_TOKEN"));
        for (bad, why) in [
            ("name: x\n", "give `command`"),
            ("name: x\ncommand: node\nurl: http://h/mcp\n", "not both"),
            ("name: x\nurl: ftp://h/mcp\n", "http:// or https://"),
            ("name: x\nurl: http://user:pw@h/mcp\n", "credentials"),
            ("name: x\nurl: http:///mcp\n", "no host"),
            ("name: x\nurl: http://h/mcp\nargs: [a]\n", "not to a `url`"),
            ("name: x\ncommand: node\nbearer_token_env: T\n", "applies to a `url`"),
            (
                "name: x\nurl: http://h/mcp\nbearer_token_env: \"A B\"\n",
                "variable name",
            ),
        ] {
            let err = parse(bad).unwrap_err();
            assert!(err.contains(why), "{bad:?}: {err}");
        }
    }
}
