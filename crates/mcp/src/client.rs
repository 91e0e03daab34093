//! The synchronous MCP client: spawns a server over stdio or opens a
//! streamable HTTP session, discovers its tools (untrusted metadata, parsed
//! with limits) and calls them.
//!
//! The client owns a current-thread tokio runtime, so callers (the gateway,
//! the CLI) stay synchronous; it must not be used from inside an async
//! runtime, and says so instead of panicking.

use std::collections::BTreeSet;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use contextos_core::{Secret, ToolResponse, cut_chars};
use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, CallToolResult, MetaObject, RequestMetaObject, Tool};
use rmcp::service::{RoleClient, RunningService, ServiceError};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;
use tokio::process::ChildStderr;

use crate::error::McpError;
use crate::spec::McpServerSpec;

/// Limits on what a server may send: its metadata and results are untrusted input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Most tools one server may list.
    pub max_tools: usize,
    /// Descriptions longer than this (in characters) are cut, with a marker.
    pub max_description_chars: usize,
    /// Descriptions longer than this (in bytes) are refused outright.
    pub max_description_bytes: usize,
    /// Largest input schema, as compact JSON bytes.
    pub max_schema_bytes: usize,
    /// Deepest nesting of an input schema.
    pub max_schema_depth: usize,
    /// Largest tool result, as compact JSON bytes.
    pub max_result_bytes: usize,
}

impl Limits {
    /// The defaults: generous for real servers, small enough to keep a
    /// hostile server from flooding prompts, contracts and evidence.
    pub const DEFAULT: Self = Self {
        max_tools: 512,
        max_description_chars: 2_000,
        max_description_bytes: 64 * 1024,
        max_schema_bytes: 64 * 1024,
        max_schema_depth: 32,
        max_result_bytes: 4 * 1024 * 1024,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// MCP tool annotations, as the server claims them (untrusted hints; absent stays absent).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Hints {
    /// `readOnlyHint` (MCP default: false).
    pub read_only: Option<bool>,
    /// `destructiveHint` (MCP default: true; meaningful only when not read-only).
    pub destructive: Option<bool>,
    /// `idempotentHint` (MCP default: false).
    pub idempotent: Option<bool>,
    /// `openWorldHint` (MCP default: true).
    pub open_world: Option<bool>,
}

/// A tool as a server lists it, after the limits were applied.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DiscoveredTool {
    /// Tool name: 1 to 128 characters of `A-Z a-z 0-9 _ - .`, not starting with `.`.
    pub name: String,
    /// Description, cut to [`Limits::max_description_chars`].
    pub description: String,
    /// The input JSON Schema, as served.
    pub input_schema: Value,
    /// The annotations.
    pub annotations: Hints,
}

/// A connected MCP server.
pub struct McpClient {
    spec: McpServerSpec,
    limits: Limits,
    timeout: Duration,
    stderr: Arc<Mutex<Vec<u8>>>,
    // Dropped (closed) in `Drop` before the runtime that drives it.
    service: Option<RunningService<RoleClient, ()>>,
    runtime: tokio::runtime::Runtime,
}

impl std::fmt::Debug for McpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("McpClient")
            .field("server", &self.spec.name)
            .field("command", &self.spec.command_line())
            .finish_non_exhaustive()
    }
}

/// How much of the server's stderr is kept for error messages.
const STDERR_TAIL_BYTES: usize = 4 * 1024;

fn refuse_inside_runtime() -> Result<(), McpError> {
    match tokio::runtime::Handle::try_current() {
        Ok(_) => Err(McpError::Runtime(
            "call it from a plain thread (for example with tokio::task::spawn_blocking)".into(),
        )),
        Err(_) => Ok(()),
    }
}

async fn drain_stderr(mut stderr: ChildStderr, tail: Arc<Mutex<Vec<u8>>>) {
    let mut buf = [0u8; 1024];
    while let Ok(n) = stderr.read(&mut buf).await {
        if n == 0 {
            break;
        }
        if let Ok(mut tail) = tail.lock() {
            tail.extend_from_slice(&buf[..n]);
            let excess = tail.len().saturating_sub(STDERR_TAIL_BYTES);
            tail.drain(..excess);
        }
    }
}

impl McpClient {
    /// Connects to the server of `spec` (no token) and completes the MCP
    /// handshake, with the default [`Limits`].
    pub fn connect(spec: &McpServerSpec) -> Result<Self, McpError> {
        Self::connect_with(spec, Limits::DEFAULT, None)
    }

    /// Connects to the server of `spec` and completes the MCP handshake:
    /// spawns `command` over stdio, or opens a streamable HTTP session with
    /// `url`, sending `token` (from the spec's `bearer_token_env`, read by
    /// the caller) as a bearer token.
    pub fn connect_with(spec: &McpServerSpec, limits: Limits, token: Option<&Secret>) -> Result<Self, McpError> {
        refuse_inside_runtime()?;
        let connect_error = |message: String, stderr: String| McpError::Connect {
            server: spec.name.clone(),
            command: spec.command_line(),
            message,
            stderr,
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| connect_error(format!("cannot start the async runtime: {e}"), String::new()))?;
        let timeout = Duration::from_secs(spec.timeout_secs);
        let tail = Arc::new(Mutex::new(Vec::new()));
        let (served, drain) = match &spec.url {
            Some(url) => {
                let http =
                    contextos_action::http::async_client(timeout).map_err(|m| connect_error(m, String::new()))?;
                let mut config = StreamableHttpClientTransportConfig::with_uri(url.as_str())
                    .max_json_response_size(limits.max_result_bytes)
                    .max_sse_event_size(limits.max_result_bytes);
                if let Some(token) = token {
                    config = config.auth_header(token.expose());
                }
                let transport = {
                    let _context = runtime.enter();
                    StreamableHttpClientTransport::with_client(http, config)
                };
                let served = runtime.block_on(async { tokio::time::timeout(timeout, ().serve(transport)).await });
                (served, None)
            }
            None => {
                let mut command = tokio::process::Command::new(&spec.command);
                // Only the spec's explicit environment: secrets never reach a server implicitly.
                command.args(&spec.args).env_clear().envs(&spec.env).kill_on_drop(true);
                let spawned = {
                    let _context = runtime.enter();
                    TokioChildProcess::builder(command).stderr(Stdio::piped()).spawn()
                };
                let (transport, stderr) = spawned.map_err(|e| connect_error(e.to_string(), String::new()))?;
                let drain = stderr.map(|stderr| runtime.spawn(drain_stderr(stderr, Arc::clone(&tail))));
                let served = runtime.block_on(async { tokio::time::timeout(timeout, ().serve(transport)).await });
                (served, drain)
            }
        };
        let failure = match served {
            Ok(Ok(service)) => {
                return Ok(Self {
                    spec: spec.clone(),
                    limits,
                    timeout,
                    stderr: tail,
                    service: Some(service),
                    runtime,
                });
            }
            Ok(Err(e)) => e.to_string(),
            Err(_) => format!("no handshake within {} s", spec.timeout_secs),
        };
        // A stdio server usually died: let the drain collect its last words.
        if let Some(drain) = drain {
            let _ = runtime.block_on(async { tokio::time::timeout(Duration::from_secs(1), drain).await });
        }
        Err(connect_error(failure, stderr_text(&tail)))
    }

    /// The spec this client was started from.
    pub fn spec(&self) -> &McpServerSpec {
        &self.spec
    }

    /// The server name from the spec.
    pub fn server_name(&self) -> &str {
        &self.spec.name
    }

    fn protocol_error(&self, operation: &str, message: String) -> McpError {
        McpError::Protocol {
            server: self.spec.name.clone(),
            operation: operation.to_string(),
            message,
            stderr: stderr_text(&self.stderr),
        }
    }

    /// Runs one request on the client's runtime, bounded by the spec's timeout.
    fn block_on<T>(
        &self,
        operation: &str,
        request: impl Future<Output = Result<T, ServiceError>>,
    ) -> Result<Result<T, ServiceError>, McpError> {
        refuse_inside_runtime()?;
        self.runtime
            .block_on(async { tokio::time::timeout(self.timeout, request).await })
            .map_err(|_| McpError::Timeout {
                server: self.spec.name.clone(),
                operation: operation.to_string(),
                seconds: self.timeout.as_secs(),
            })
    }

    fn peer(&self, operation: &str) -> Result<&rmcp::Peer<RoleClient>, McpError> {
        self.service
            .as_ref()
            .map(|s| s.peer())
            .ok_or_else(|| self.protocol_error(operation, "the connection is closed".into()))
    }

    /// Every tool the server lists (all pages), sorted by name, checked against the limits.
    pub fn list_tools(&self) -> Result<Vec<DiscoveredTool>, McpError> {
        let operation = "tools/list";
        let peer = self.peer(operation)?;
        let tools = self
            .block_on(operation, peer.list_all_tools())?
            .map_err(|e| self.protocol_error(operation, e.to_string()))?;
        if tools.len() > self.limits.max_tools {
            return Err(self.untrusted(
                "tool list",
                format!(
                    "{} tools, more than the limit of {}",
                    tools.len(),
                    self.limits.max_tools
                ),
            ));
        }
        let mut seen = BTreeSet::new();
        let mut discovered = Vec::with_capacity(tools.len());
        for tool in tools {
            let tool = self.discovered(tool)?;
            if !seen.insert(tool.name.clone()) {
                return Err(self.untrusted("tool list", format!("tool {:?} is listed twice", tool.name)));
            }
            discovered.push(tool);
        }
        discovered.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(discovered)
    }

    fn untrusted(&self, what: impl Into<String>, message: String) -> McpError {
        McpError::Untrusted {
            server: self.spec.name.clone(),
            what: what.into(),
            message,
        }
    }

    fn discovered(&self, tool: Tool) -> Result<DiscoveredTool, McpError> {
        let name = tool.name.to_string();
        check_tool_name(&name).map_err(|message| self.untrusted("tool name", message))?;
        let description = tool.description.as_deref().unwrap_or_default();
        if description.len() > self.limits.max_description_bytes {
            return Err(self.untrusted(
                format!("description of {name}"),
                format!(
                    "{} bytes, more than the limit of {}",
                    description.len(),
                    self.limits.max_description_bytes
                ),
            ));
        }
        let description = cut_chars(description, self.limits.max_description_chars, DESCRIPTION_CUT);
        let input_schema = Value::Object(tool.input_schema.as_ref().clone());
        check_schema(&input_schema, &self.limits).map_err(|m| self.untrusted(format!("input schema of {name}"), m))?;
        let annotations = tool
            .annotations
            .map(|a| Hints {
                read_only: a.read_only_hint,
                destructive: a.destructive_hint,
                idempotent: a.idempotent_hint,
                open_world: a.open_world_hint,
            })
            .unwrap_or_default();
        Ok(DiscoveredTool {
            name,
            description,
            input_schema,
            annotations,
        })
    }

    /// Calls tool `name` with `arguments` (an object, or null for none) and
    /// `meta` (the request's `_meta`, e.g. `{"traceparent": "00-…"}`; an
    /// object or null).
    ///
    /// A result with `isError` becomes [`ToolResponse::Error`] (its text);
    /// otherwise `structuredContent` when present, else the text content
    /// joined by newlines as a JSON string, else (images, resources) the
    /// whole content array as `{"content": [...]}`. A JSON-RPC error from the
    /// server (unknown tool, invalid parameters) is a definitive refusal and
    /// also becomes [`ToolResponse::Error`]; transport failures and timeouts
    /// are errors.
    pub fn call(&self, name: &str, arguments: Value, meta: Value) -> Result<ToolResponse, McpError> {
        let invalid = |what: &'static str, value: &Value| McpError::InvalidRequest {
            tool: name.to_string(),
            what,
            message: format!("expected a JSON object or null, got {value}"),
        };
        let mut params = CallToolRequestParams::new(name.to_string());
        params.arguments = match arguments {
            Value::Object(map) => Some(map),
            Value::Null => None,
            other => return Err(invalid("arguments", &other)),
        };
        params.meta = match meta {
            Value::Object(map) if map.is_empty() => None,
            Value::Object(map) => Some(RequestMetaObject(MetaObject(map))),
            Value::Null => None,
            other => return Err(invalid("_meta", &other)),
        };
        let operation = format!("tools/call {name}");
        let peer = self.peer(&operation)?;
        match self.block_on(&operation, peer.call_tool(params))? {
            Ok(result) => self.response(name, result),
            Err(ServiceError::McpError(error)) => Ok(ToolResponse::Error(format!(
                "MCP server {:?} refused the call: {} (code {})",
                self.spec.name, error.message, error.code.0
            ))),
            Err(e) => Err(self.protocol_error(&operation, e.to_string())),
        }
    }

    fn response(&self, name: &str, result: CallToolResult) -> Result<ToolResponse, McpError> {
        let texts: Vec<&str> = result
            .content
            .iter()
            .filter_map(|c| c.as_text().map(|t| t.text.as_str()))
            .collect();
        let only_text = texts.len() == result.content.len();
        let response = if result.is_error.unwrap_or(false) {
            let message = if !texts.is_empty() {
                texts.join("\n")
            } else if let Some(structured) = &result.structured_content {
                structured.to_string()
            } else {
                "the tool reported an error without a message".to_string()
            };
            ToolResponse::Error(message)
        } else if let Some(structured) = result.structured_content {
            ToolResponse::Ok(structured)
        } else if only_text {
            ToolResponse::Ok(Value::String(texts.join("\n")))
        } else {
            let content = serde_json::to_value(&result.content).map_err(|e| McpError::Encode {
                what: format!("the content of {name}"),
                message: e.to_string(),
            })?;
            ToolResponse::Ok(json!({ "content": content }))
        };
        let size = match &response {
            ToolResponse::Ok(v) => serde_json::to_vec(v).map(|b| b.len()).unwrap_or(usize::MAX),
            ToolResponse::Error(e) => e.len(),
        };
        if size > self.limits.max_result_bytes {
            return Err(self.untrusted(
                format!("result of {name}"),
                format!("{size} bytes, more than the limit of {}", self.limits.max_result_bytes),
            ));
        }
        Ok(response)
    }
}

impl Drop for McpClient {
    fn drop(&mut self) {
        if let Some(mut service) = self.service.take() {
            // Close stdin and let the server exit (rmcp escalates to SIGTERM,
            // then kill); `kill_on_drop` is the backstop. Never block inside
            // an async runtime.
            if tokio::runtime::Handle::try_current().is_err() {
                let _ = self
                    .runtime
                    .block_on(service.close_with_timeout(Duration::from_secs(5)));
            }
            let _context = self.runtime.enter();
            drop(service);
        }
    }
}

fn stderr_text(tail: &Mutex<Vec<u8>>) -> String {
    tail.lock()
        .map(|t| String::from_utf8_lossy(&t).into_owned())
        .unwrap_or_default()
}

/// Tool names become file names (`<name>.yaml`) and Cedar entity ids, so only a safe alphabet passes.
fn check_tool_name(name: &str) -> Result<(), String> {
    if contextos_action::is_tool_name(name) {
        Ok(())
    } else {
        let shown: String = name.chars().take(140).collect();
        Err(format!(
            "{shown:?} is not a valid tool name (1 to 128 characters of A-Z a-z 0-9 _ - ., not starting with .)"
        ))
    }
}

/// What marks a description cut to [`Limits::max_description_chars`].
const DESCRIPTION_CUT: &str = " [description truncated by contextos]";

fn check_schema(schema: &Value, limits: &Limits) -> Result<(), String> {
    fn depth(value: &Value) -> usize {
        match value {
            Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
            Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
            _ => 0,
        }
    }
    let size = serde_json::to_vec(schema).map(|b| b.len()).unwrap_or(usize::MAX);
    if size > limits.max_schema_bytes {
        return Err(format!(
            "{size} bytes, more than the limit of {}",
            limits.max_schema_bytes
        ));
    }
    let depth = depth(schema);
    if depth > limits.max_schema_depth {
        return Err(format!(
            "nested {depth} levels deep, more than the limit of {}",
            limits.max_schema_depth
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_names_are_safe_file_names() {
        for good in ["echo", "read_text_file", "a.b-c_9"] {
            assert!(check_tool_name(good).is_ok(), "{good}");
        }
        for bad in ["", "../etc/passwd", ".hidden", "a/b", "a b", &"x".repeat(129)] {
            assert!(check_tool_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn descriptions_are_cut_on_a_char_boundary() {
        assert_eq!(cut_chars("short", 10, DESCRIPTION_CUT), "short");
        let cut = cut_chars("ééééé", 2, DESCRIPTION_CUT);
        assert!(cut.starts_with("éé ["), "{cut}");
    }

    #[test]
    fn absurd_schemas_are_refused() {
        let mut deep = json!({});
        for _ in 0..40 {
            deep = json!({ "properties": { "x": deep } });
        }
        assert!(check_schema(&deep, &Limits::DEFAULT).is_err());
        let wide = json!({ "description": "x".repeat(70_000) });
        assert!(check_schema(&wide, &Limits::DEFAULT).is_err());
        assert!(check_schema(&json!({"type": "object"}), &Limits::DEFAULT).is_ok());
    }
}
