//! The live model: an OpenAI-compatible chat-completions client with tool
//! calling. It owns the wire mapping (a canonical [`ModelRequest`] to a
//! chat-completions body, the answer back to a normalized [`ModelResponse`]),
//! retries with backoff, and keeping the API key out of everything that is
//! printed or stored. Recording for `--record` is [`RecordingModel`]'s job.
//!
//! [`RecordingModel`]: crate::RecordingModel

use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, Read};
use std::sync::Arc;
use std::time::Duration;

use contextos_action::http::{blocking_client, error_chain, read_limited};
use contextos_core::{
    Message, ModelRequest, ModelResponse, REDACTED, Role, Secret, ToolCall, ToolSpec, Usage, redact_text,
};
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue, RETRY_AFTER};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::provider::{ModelProvider, ProviderError};

/// The longest wait between two attempts, whatever the backoff or the
/// server's `Retry-After` says.
pub(crate) const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Request keys the provider sets itself; `[model] params` may not carry
/// them (`stream` because the provider reads one whole JSON answer).
pub(crate) const RESERVED_PARAMS: [&str; 4] = ["messages", "model", "stream", "tools"];

/// At most this much of an error body is quoted in an error message.
const SNIPPET_CHARS: usize = 300;

/// Error bodies larger than this are not quoted at all.
const ERROR_BODY_LIMIT: usize = 64 * 1024;

/// Where and how to reach an OpenAI-compatible chat-completions API
/// (`[model.live]` in `runtime/contextos.toml`).
///
/// ```toml
/// [model.live]
/// base_url = "https://api.openai.com/v1"   # POSTs go to {base_url}/chat/completions
/// api_key_env = "OPENAI_API_KEY"           # the variable's NAME; the key is never written here
/// timeout_secs = 60                        # per attempt, connect included
/// max_retries = 3                          # after 429, 5xx, connection errors and timeouts
/// backoff_ms = 500                         # doubled each retry, capped at 30 s
/// max_response_bytes = 4194304             # a longer answer is refused, not cut
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct LiveModelConfig {
    /// The API root, `http://` or `https://`, without credentials, query or
    /// fragment (e.g. `https://api.openai.com/v1`).
    pub base_url: String,
    /// The environment variable that holds the API key (its name only).
    #[serde(default = "default_api_key_env")]
    pub api_key_env: String,
    /// Seconds one attempt may take, connect included.
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
    /// Retries after a 429, a 5xx, a connection error or a timeout.
    #[serde(default = "default_max_retries")]
    pub max_retries: u32,
    /// The first retry's wait in milliseconds, doubled for each further retry.
    #[serde(default = "default_backoff_ms")]
    pub backoff_ms: u64,
    /// The largest response body accepted.
    #[serde(default = "default_max_response_bytes")]
    pub max_response_bytes: usize,
}

fn default_api_key_env() -> String {
    "OPENAI_API_KEY".into()
}

fn default_timeout_secs() -> u64 {
    60
}

fn default_max_retries() -> u32 {
    3
}

fn default_backoff_ms() -> u64 {
    500
}

fn default_max_response_bytes() -> usize {
    4 * 1024 * 1024
}

impl LiveModelConfig {
    /// The defaults, for the API at `base_url`.
    pub fn new(base_url: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            api_key_env: default_api_key_env(),
            timeout_secs: default_timeout_secs(),
            max_retries: default_max_retries(),
            backoff_ms: default_backoff_ms(),
            max_response_bytes: default_max_response_bytes(),
        }
    }

    /// Checks every field; the message names the field and what it must be.
    pub fn check(&self) -> Result<(), String> {
        contextos_action::http::check_endpoint(
            "base_url",
            &self.base_url,
            "name the key's variable in `api_key_env`",
            false,
        )?;
        let name = &self.api_key_env;
        if !contextos_core::live::is_env_var_name(name) {
            return Err(format!(
                "`api_key_env` must name an environment variable (A-Z, 0-9, _), got {name:?}; \
                 the key itself never goes in the configuration"
            ));
        }
        if !(1..=3600).contains(&self.timeout_secs) {
            return Err(format!(
                "`timeout_secs` must be between 1 and 3600, got {}",
                self.timeout_secs
            ));
        }
        if self.max_retries > 10 {
            return Err(format!("`max_retries` must be at most 10, got {}", self.max_retries));
        }
        let cap = MAX_BACKOFF.as_millis();
        if u128::from(self.backoff_ms) > cap {
            return Err(format!("`backoff_ms` must be at most {cap}, got {}", self.backoff_ms));
        }
        if !(1..=256 * 1024 * 1024).contains(&self.max_response_bytes) {
            return Err(format!(
                "`max_response_bytes` must be between 1 and 268435456 (256 MiB), got {}",
                self.max_response_bytes
            ));
        }
        Ok(())
    }

    /// Where requests go: `{base_url}/chat/completions`.
    pub fn endpoint(&self) -> String {
        format!("{}/chat/completions", self.base_url.trim_end_matches('/'))
    }

    /// The wait before retry `retry` (0 for the first): `backoff_ms`
    /// doubled `retry` times, or the server's `Retry-After` when that is
    /// longer, never more than [`MAX_BACKOFF`]. There is no jitter: it would
    /// need randomness, which a run takes only from the injected `IdGen`.
    pub fn retry_delay(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        let exponential = Duration::from_millis(self.backoff_ms.saturating_mul(2u64.saturating_pow(retry)));
        exponential.max(retry_after.unwrap_or_default()).min(MAX_BACKOFF)
    }
}

/// Refuses `params` that would override what the provider sets itself
/// ([`RESERVED_PARAMS`]).
pub fn check_params(params: &BTreeMap<String, Value>) -> Result<(), String> {
    match params.keys().find(|k| RESERVED_PARAMS.contains(&k.as_str())) {
        Some(key) => Err(format!(
            "parameter `{key}` is set by the live model provider and may not be given in params \
             (reserved: {})",
            RESERVED_PARAMS.join(", ")
        )),
        None => Ok(()),
    }
}

type Sleeper = Arc<dyn Fn(Duration) + Send + Sync>;

/// A [`ModelProvider`] over an OpenAI-compatible chat-completions API.
///
/// Requests are `{model, messages, tools, ...params}`; tools go out as
/// `function` tools and tool results as `tool` messages with their
/// `tool_call_id`. Responses are normalized so that they depend on the HTTP
/// body only, and on nothing the server makes up per call:
///
/// - the content of `choices[0].message` (`null` is `""`) and its tool
///   calls, whose JSON-string arguments are parsed (an unparseable one is an
///   error naming the call; an empty one is `{}`);
/// - tool call ids renumbered `call_N`, counting on from the tool calls
///   already in the request's conversation, so they are unique within a run
///   (answers cite calls by id; some compatible servers repeat ids across
///   turns) and no server-made id reaches a recording;
/// - `usage.prompt_tokens` / `usage.completion_tokens` (absent is 0);
/// - nothing else: the completion id, timestamp and fingerprint are dropped.
///
/// **Final-answer convention.** Chat completions have no field for
/// citations or confidence, so a final answer (no tool calls) whose content
/// is a JSON object `{"answer": "...", "citations": ["call_1"],
/// "confidence": 0.9}` (optionally in a ```` ```json ```` fence; `citations`
/// and `confidence` optional, confidence in [0, 1], no other keys) is
/// unpacked into `content`, `citations` and `confidence`. Any other content
/// is the answer as is, with no citations and no confidence. Asking the
/// model for this shape is the context packs' job (`support_escalation`'s
/// `output.shape` snippet does).
///
/// Retries: a 429, a 5xx, a connection error, a timeout or a body cut off
/// mid-read is tried again up to `max_retries` times, waiting
/// [`LiveModelConfig::retry_delay`]; any other status fails at once with the
/// status and the start of the error body. Redirects are not followed.
///
/// The API key goes into the `authorization` header and nowhere else: it is
/// not in `Debug`, and every error message is scrubbed of it.
pub struct OpenAiCompatible {
    config: LiveModelConfig,
    endpoint: String,
    authorization: HeaderValue,
    key: Secret,
    client: reqwest::blocking::Client,
    sleep: Sleeper,
}

impl fmt::Debug for OpenAiCompatible {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAiCompatible")
            .field("endpoint", &self.endpoint)
            .field("config", &self.config)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl OpenAiCompatible {
    /// A provider for `config` authenticating with `key`, which the CLI
    /// reads from the variable `config.api_key_env`
    /// (`contextos_core::live::secret_from_env`); `None` or an empty key is
    /// an error saying which variable to set. Waits between retries with
    /// `std::thread::sleep`.
    ///
    /// Must not be called inside an async runtime (the blocking HTTP client
    /// runs its own).
    pub fn new(config: &LiveModelConfig, key: Option<Secret>) -> Result<Self, ProviderError> {
        config
            .check()
            .map_err(|m| ProviderError::Config(format!("invalid live model configuration: {m}")))?;
        let key = key.filter(|k| !k.expose().trim().is_empty()).ok_or_else(|| {
            ProviderError::Config(format!(
                "no API key for the live model at {}: set the environment variable {} \
                 (named by `api_key_env`)",
                config.base_url, config.api_key_env
            ))
        })?;
        let mut authorization = HeaderValue::from_str(&format!("Bearer {}", key.expose())).map_err(|_| {
            ProviderError::Config(format!(
                "the API key in {} contains characters not allowed in an HTTP header",
                config.api_key_env
            ))
        })?;
        authorization.set_sensitive(true);
        let client = blocking_client(Duration::from_secs(config.timeout_secs)).map_err(ProviderError::Transport)?;
        Ok(Self {
            config: config.clone(),
            endpoint: config.endpoint(),
            authorization,
            key,
            client,
            sleep: Arc::new(std::thread::sleep),
        })
    }

    /// Waits between retries with `sleep` instead (tests record the waits).
    pub fn with_sleeper(mut self, sleep: impl Fn(Duration) + Send + Sync + 'static) -> Self {
        self.sleep = Arc::new(sleep);
        self
    }

    /// The configuration.
    pub fn config(&self) -> &LiveModelConfig {
        &self.config
    }

    /// An error whose message cannot contain the key, even where a server
    /// echoed it.
    fn error(&self, message: String) -> ProviderError {
        ProviderError::Transport(message.replace(self.key.expose(), REDACTED))
    }

    /// One POST: the body of a 2xx answer, or why not and whether to retry.
    fn attempt(&self, body: &[u8]) -> Result<Vec<u8>, Failure> {
        let response = self
            .client
            .post(&self.endpoint)
            .header(AUTHORIZATION, self.authorization.clone())
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, "application/json")
            .body(body.to_vec())
            .send()
            .map_err(|e| {
                let builder = e.is_builder();
                // The URL is already in the message.
                let message = format!("POST {} failed: {}", self.endpoint, error_chain(&e.without_url()));
                if builder {
                    Failure::Final(message)
                } else {
                    Failure::Retry(message, None)
                }
            })?;
        let status = response.status();
        let retry_after = retry_after(response.headers());
        let mut reader = Watched::new(response);
        if status.is_success() {
            return read_limited(&mut reader, self.config.max_response_bytes).map_err(|e| {
                let message = format!("POST {} answered {status} but {e}", self.endpoint);
                // A read that failed (a timeout, a reset) is worth another
                // try; a body over the limit will be over it again.
                if reader.failed {
                    Failure::Retry(message, None)
                } else {
                    Failure::Final(message)
                }
            });
        }
        let quoted = read_limited(&mut reader, ERROR_BODY_LIMIT.min(self.config.max_response_bytes))
            .map(|bytes| snippet(&bytes))
            .unwrap_or_default();
        let mut message = format!("POST {} answered {status}{quoted}", self.endpoint);
        if status.is_redirection() {
            message.push_str(" (redirects are not followed: set `base_url` to the final address)");
        }
        if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
            Err(Failure::Retry(message, retry_after))
        } else {
            Err(Failure::Final(message))
        }
    }
}

impl ModelProvider for OpenAiCompatible {
    fn complete(&self, request: &ModelRequest) -> Result<ModelResponse, ProviderError> {
        let body = request_body(request).map_err(|m| self.error(m))?;
        let mut retry = 0;
        loop {
            match self.attempt(&body) {
                Ok(bytes) => {
                    return parse_response(&bytes, request)
                        .map_err(|m| self.error(format!("the answer of POST {} {m}", self.endpoint)));
                }
                Err(Failure::Final(message)) => return Err(self.error(message)),
                Err(Failure::Retry(message, _)) if retry >= self.config.max_retries => {
                    let attempts = match retry {
                        0 => "1 attempt".to_string(),
                        n => format!("{} attempts", n + 1),
                    };
                    return Err(self.error(format!("{message} (gave up after {attempts})")));
                }
                Err(Failure::Retry(_, retry_after)) => {
                    (self.sleep)(self.config.retry_delay(retry, retry_after));
                    retry += 1;
                }
            }
        }
    }
}

/// Why an attempt produced no answer.
enum Failure {
    /// Worth another try (after the server's `Retry-After`, if it said).
    Retry(String, Option<Duration>),
    /// Another try would fail the same way.
    Final(String),
}

/// A reader that remembers whether reading failed, to tell a broken
/// connection from a body over the limit.
struct Watched<R> {
    inner: R,
    failed: bool,
}

impl<R> Watched<R> {
    fn new(inner: R) -> Self {
        Self { inner, failed: false }
    }
}

impl<R: Read> Read for Watched<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.inner.read(buf);
        if read.as_ref().is_err_and(|e| e.kind() != io::ErrorKind::Interrupted) {
            self.failed = true;
        }
        read
    }
}

/// `Retry-After` in whole seconds; the HTTP-date form is ignored (it would
/// need the wall clock).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let seconds: u64 = headers.get(RETRY_AFTER)?.to_str().ok()?.trim().parse().ok()?;
    Some(Duration::from_secs(seconds.min(MAX_BACKOFF.as_secs())))
}

/// `: <the start of body>`, whitespace collapsed, secret-looking words
/// redacted; empty for an empty body.
fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if collapsed.is_empty() {
        return String::new();
    }
    format!(
        ": {}",
        redact_text(&contextos_core::cut_chars(&collapsed, SNIPPET_CHARS, "…"))
    )
}

/// The chat-completions body for `request`.
fn request_body(request: &ModelRequest) -> Result<Vec<u8>, String> {
    check_params(&request.params)?;
    let mut body: Map<String, Value> = request.params.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    body.insert("model".into(), Value::String(request.model.clone()));
    let messages = request
        .messages
        .iter()
        .enumerate()
        .map(|(i, m)| wire_message(i, m))
        .collect::<Result<Vec<_>, _>>()?;
    body.insert("messages".into(), Value::Array(messages));
    if !request.tools.is_empty() {
        body.insert("tools".into(), request.tools.iter().map(wire_tool).collect());
    }
    serde_json::to_vec(&body).map_err(|e| format!("cannot encode the request: {e}"))
}

fn wire_message(index: usize, message: &Message) -> Result<Value, String> {
    Ok(match message.role {
        Role::System => json!({ "role": "system", "content": message.content }),
        Role::User => json!({ "role": "user", "content": message.content }),
        Role::Assistant if message.tool_calls.is_empty() => json!({ "role": "assistant", "content": message.content }),
        Role::Assistant => {
            let calls = message
                .tool_calls
                .iter()
                .map(|call| {
                    let arguments = serde_json::to_string(&call.arguments)
                        .map_err(|e| format!("cannot encode the arguments of tool call {}: {e}", call.id))?;
                    Ok(json!({
                        "id": call.id,
                        "type": "function",
                        "function": { "name": call.name, "arguments": arguments },
                    }))
                })
                .collect::<Result<Vec<_>, String>>()?;
            let content = if message.content.is_empty() {
                Value::Null
            } else {
                Value::String(message.content.clone())
            };
            json!({ "role": "assistant", "content": content, "tool_calls": calls })
        }
        Role::Tool => {
            let id = message
                .tool_call_id
                .as_deref()
                .ok_or_else(|| format!("message {index} is a tool result without a tool_call_id"))?;
            json!({ "role": "tool", "tool_call_id": id, "content": message.content })
        }
    })
}

fn wire_tool(tool: &ToolSpec) -> Value {
    json!({
        "type": "function",
        "function": { "name": tool.name, "description": tool.description, "parameters": tool.input_schema },
    })
}

/// The fields of a chat completion the provider reads; everything else
/// (ids, timestamps, fingerprints, logprobs) is ignored.
#[derive(Deserialize)]
struct WireCompletion {
    #[serde(default)]
    choices: Option<Vec<WireChoice>>,
    #[serde(default)]
    usage: Option<WireUsage>,
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Deserialize)]
struct WireChoice {
    message: WireMessage,
}

#[derive(Deserialize)]
struct WireMessage {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    tool_calls: Option<Vec<WireToolCall>>,
}

#[derive(Deserialize)]
struct WireToolCall {
    #[serde(default)]
    id: Option<String>,
    function: WireFunction,
}

#[derive(Deserialize)]
struct WireFunction {
    name: String,
    /// A JSON string per the API; some compatible servers send the object.
    #[serde(default)]
    arguments: Value,
}

#[derive(Deserialize)]
struct WireUsage {
    #[serde(default)]
    prompt_tokens: Option<u64>,
    #[serde(default)]
    completion_tokens: Option<u64>,
}

/// The normalized response to `request` in `body`; the error completes
/// "the answer of POST … ".
fn parse_response(body: &[u8], request: &ModelRequest) -> Result<ModelResponse, String> {
    let completion: WireCompletion =
        serde_json::from_slice(body).map_err(|e| format!("is not a chat completion: {e}"))?;
    let Some(choice) = completion.choices.and_then(|c| c.into_iter().next()) else {
        let reason = completion
            .error
            .map(|e| snippet(e.to_string().as_bytes()))
            .unwrap_or_default();
        return Err(format!("has no choices{reason}"));
    };
    let usage = completion.usage.map_or_else(Usage::default, |u| Usage {
        prompt_tokens: u.prompt_tokens.unwrap_or(0),
        completion_tokens: u.completion_tokens.unwrap_or(0),
    });
    let earlier: usize = request.messages.iter().map(|m| m.tool_calls.len()).sum();
    let tool_calls = choice
        .message
        .tool_calls
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(i, call)| tool_call(earlier + i + 1, call))
        .collect::<Result<Vec<_>, _>>()?;
    let content = choice.message.content.unwrap_or_default();
    if !tool_calls.is_empty() {
        return Ok(ModelResponse {
            content,
            tool_calls,
            citations: Vec::new(),
            confidence: None,
            usage,
        });
    }
    let (content, citations, confidence) = final_answer(&content).unwrap_or((content, Vec::new(), None));
    Ok(ModelResponse {
        content,
        tool_calls,
        citations,
        confidence,
        usage,
    })
}

/// The fuzz entry point of the chat-completion parser: [`parse_response`] on
/// an untrusted `body`, answering `request`. Not part of the API.
#[doc(hidden)]
pub fn fuzz_parse_response(body: &[u8], request: &ModelRequest) -> Result<ModelResponse, String> {
    parse_response(body, request)
}

fn tool_call(number: usize, call: WireToolCall) -> Result<ToolCall, String> {
    let shown = call
        .id
        .as_deref()
        .filter(|id| !id.is_empty())
        .unwrap_or("without an id");
    let arguments = match call.function.arguments {
        Value::String(text) if text.trim().is_empty() => json!({}),
        Value::String(text) => serde_json::from_str(&text).map_err(|e| {
            format!(
                "has tool call {shown} ({}) whose arguments are not JSON: {e}",
                call.function.name
            )
        })?,
        Value::Null => json!({}),
        other => other,
    };
    Ok(ToolCall {
        id: format!("call_{number}"),
        name: call.function.name,
        arguments,
    })
}

/// The parts of a final answer that follows the convention documented on
/// [`OpenAiCompatible`]; `None` when it does not.
fn final_answer(content: &str) -> Option<(String, Vec<String>, Option<f64>)> {
    let trimmed = content.trim();
    let json_text = match trimmed.strip_prefix("```") {
        Some(fenced) => {
            let (_language, rest) = fenced.split_once('\n')?;
            rest.trim_end().strip_suffix("```")?
        }
        None => trimmed,
    };
    if !json_text.trim_start().starts_with('{') {
        return None;
    }
    let Value::Object(fields) = serde_json::from_str::<Value>(json_text).ok()? else {
        return None;
    };
    if fields
        .keys()
        .any(|k| !matches!(k.as_str(), "answer" | "citations" | "confidence"))
    {
        return None;
    }
    let answer = fields.get("answer")?.as_str()?.to_string();
    let citations = match fields.get("citations") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|c| c.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()?,
        Some(_) => return None,
    };
    let confidence = match fields.get("confidence") {
        None | Some(Value::Null) => None,
        Some(value) => Some(value.as_f64().filter(|c| (0.0..=1.0).contains(c))?),
    };
    Some((answer, citations, confidence))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> ModelRequest {
        ModelRequest {
            model: "m".into(),
            params: BTreeMap::new(),
            tools: Vec::new(),
            messages: Vec::new(),
        }
    }

    #[test]
    fn final_answers_unpack_only_the_documented_shape() {
        let unpacked = final_answer(r#"{"answer": "ok", "citations": ["call_1"], "confidence": 0.9}"#);
        assert_eq!(unpacked, Some(("ok".into(), vec!["call_1".into()], Some(0.9))));
        let fenced = final_answer("```json\n{\"answer\": \"ok\"}\n```");
        assert_eq!(fenced, Some(("ok".into(), Vec::new(), None)));
        for verbatim in [
            "plain text",
            r#"{"answer": "ok", "extra": 1}"#,
            r#"{"answer": 3}"#,
            r#"{"answer": "ok", "confidence": 1.5}"#,
            r#"{"answer": "ok", "citations": [1]}"#,
            r#"["answer"]"#,
            "{not json",
        ] {
            assert_eq!(final_answer(verbatim), None, "{verbatim}");
        }
    }

    #[test]
    fn retry_delays_double_and_respect_the_cap() {
        let config = LiveModelConfig::new("http://127.0.0.1:1");
        let waits: Vec<u128> = (0..8).map(|r| config.retry_delay(r, None).as_millis()).collect();
        assert_eq!(waits, [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000]);
        assert_eq!(
            config.retry_delay(0, Some(Duration::from_secs(3))),
            Duration::from_secs(3)
        );
        assert_eq!(
            config.retry_delay(3, Some(Duration::from_secs(1))),
            Duration::from_secs(4)
        );
        assert_eq!(config.retry_delay(u32::MAX, None), MAX_BACKOFF);
    }

    #[test]
    fn config_checks_name_the_field() {
        let ok = LiveModelConfig::new("https://api.openai.com/v1/");
        assert_eq!(ok.check(), Ok(()));
        assert_eq!(ok.endpoint(), "https://api.openai.com/v1/chat/completions");
        let bad = |edit: fn(&mut LiveModelConfig)| {
            let mut config = ok.clone();
            edit(&mut config);
            config.check().unwrap_err()
        };
        assert!(bad(|c| c.base_url = "ftp://h".into()).contains("`base_url` must start with http"));
        assert!(bad(|c| c.base_url = "https://u:p@h/v1".into()).contains("credentials"));
        assert!(bad(|c| c.base_url = "https://h/v1?x=1".into()).contains("query"));
        assert!(bad(|c| c.base_url = "https:///v1".into()).contains("no host"));
        assert!(bad(|c| c.api_key_env = "sk-abc".into()).contains("`api_key_env`"));
        assert!(bad(|c| c.timeout_secs = 0).contains("`timeout_secs`"));
        assert!(bad(|c| c.max_retries = 11).contains("`max_retries`"));
        assert!(bad(|c| c.backoff_ms = 30_001).contains("`backoff_ms`"));
        assert!(bad(|c| c.max_response_bytes = 0).contains("`max_response_bytes`"));
    }

    #[test]
    fn reserved_params_are_refused() {
        let mut req = request();
        req.params.insert("temperature".into(), json!(0));
        assert!(request_body(&req).is_ok());
        req.params.insert("model".into(), json!("other"));
        assert!(request_body(&req).unwrap_err().contains("parameter `model`"));
    }

    #[test]
    fn responses_drop_server_ids_and_number_tool_calls_on() {
        let mut req = request();
        req.messages.push(Message {
            role: Role::Assistant,
            content: String::new(),
            tool_calls: vec![ToolCall {
                id: "call_1".into(),
                name: "t".into(),
                arguments: json!({}),
            }],
            tool_call_id: None,
        });
        let body = json!({
            "id": "chatcmpl-123", "created": 1_700_000_000, "system_fingerprint": "fp",
            "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {"role": "assistant", "content": null,
                "tool_calls": [
                    {"id": "call_XyZ", "type": "function", "function": {"name": "a", "arguments": "{\"x\":1}"}},
                    {"id": "call_0", "type": "function", "function": {"name": "b", "arguments": ""}}
                ]}}],
        });
        let response = parse_response(body.to_string().as_bytes(), &req).unwrap();
        let ids: Vec<&str> = response.tool_calls.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["call_2", "call_3"]);
        assert_eq!(response.tool_calls[0].arguments, json!({"x": 1}));
        assert_eq!(response.tool_calls[1].arguments, json!({}));
        assert_eq!(response.usage, Usage::default());
        let broken = json!({"choices": [{"message": {"tool_calls": [
            {"id": "call_q", "type": "function", "function": {"name": "a", "arguments": "{x"}}]}}]});
        let err = parse_response(broken.to_string().as_bytes(), &req).unwrap_err();
        assert!(err.contains("tool call call_q (a)"), "{err}");
    }
}
