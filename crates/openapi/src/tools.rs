//! [`OpenApiTools`]: the gateway adapter for one OpenAPI source.

use std::time::Duration;

use contextos_action::http::{blocking_client, error_chain, read_limited};
use contextos_action::{AdapterError, LoadedTool, SchemaDrift, ToolAdapter};
use contextos_core::{REDACTED, Secret, ToolRequest, ToolResponse, redact_text};
use reqwest::Url;
use reqwest::blocking::{Client, Request};
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, LOCATION};
use serde_json::{Map, Value};

use crate::document::OpenApiDocument;
use crate::error::OpenApiError;
use crate::operation::{BODY_ARGUMENT, Operation, Parameter, ParameterLocation, ParameterStyle};
use crate::source::{OpenApiSource, TOKEN_NEEDS_BASE_URL, check_base_url};

/// Error bodies are cut to this many characters in messages.
const MAX_SNIPPET_CHARS: usize = 512;

/// Executes gateway calls as HTTP requests to one OpenAPI source. By the
/// time a call gets here the gateway has validated the arguments against
/// the pinned contract and done Cedar, approval and idempotency; the adapter
/// refuses a tool whose input schema, as derived from the document now,
/// drifted from that contract.
///
/// Every request carries `traceparent`, `accept: application/json`, the
/// source's static headers and, when a token was given, `authorization:
/// Bearer …` (only to the source's own `base_url`: a source without one
/// that sends a token is refused, so the document's `servers` never get it). A 2xx answer is the result (JSON, text, or `null` when
/// empty); a 4xx is a tool error the model sees; a redirect, a 5xx, a
/// timeout, a failed connection or a body over `max_response_bytes` is a
/// transport error. The token never appears in a message or a result.
#[derive(Debug)]
pub struct OpenApiTools {
    name: String,
    base: Url,
    client: Client,
    document: OpenApiDocument,
    headers: HeaderMap,
    token: Option<Secret>,
    timeout_secs: u64,
    max_response_bytes: usize,
}

impl OpenApiTools {
    /// Reads the source's document and builds the client. `token` is the
    /// bearer token (the value of the variable `bearer_token_env` names,
    /// read by the caller); a source that names one needs it.
    pub fn new(source: &OpenApiSource, token: Option<Secret>) -> Result<Self, OpenApiError> {
        let document = OpenApiDocument::load(source)?;
        Self::with_document(source, document, token)
    }

    /// An adapter over an already derived `document` of `source`.
    pub fn with_document(
        source: &OpenApiSource,
        document: OpenApiDocument,
        token: Option<Secret>,
    ) -> Result<Self, OpenApiError> {
        let base_error = |message: String| OpenApiError::BaseUrl {
            name: source.name.clone(),
            message,
        };
        if source.base_url.is_none() && (token.is_some() || source.bearer_token_env.is_some()) {
            // The document is untrusted: its `servers` must not receive the token.
            return Err(base_error(format!(
                "it sends a bearer token and sets no `base_url`: {TOKEN_NEEDS_BASE_URL}"
            )));
        }
        let base = match (&source.base_url, &document.server) {
            (Some(url), _) => url.clone(),
            (None, Some(server)) => server.clone(),
            (None, None) => {
                return Err(base_error(format!(
                    "the source sets no `base_url` and {} has no `servers`",
                    document.file
                )));
            }
        };
        let base = check_base_url(&base).map_err(|e| base_error(format!("the base URL {e}")))?;
        if let (Some(variable), None) = (&source.bearer_token_env, &token) {
            return Err(OpenApiError::MissingToken {
                name: source.name.clone(),
                variable: variable.clone(),
            });
        }
        let mut headers = HeaderMap::new();
        for (name, value) in &source.headers {
            // The source spec checked both; a failure here is a spec that skipped `check`.
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(|e| OpenApiError::Client(e.to_string()))?;
            let value = HeaderValue::from_str(value).map_err(|e| OpenApiError::Client(e.to_string()))?;
            headers.insert(name, value);
        }
        let client = blocking_client(Duration::from_secs(source.timeout_secs)).map_err(OpenApiError::Client)?;
        Ok(Self {
            name: source.name.clone(),
            base,
            client,
            document,
            headers,
            token,
            timeout_secs: source.timeout_secs,
            max_response_bytes: source.max_response_bytes,
        })
    }

    /// The source's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The tool name of every operation, sorted.
    pub fn tool_names(&self) -> Vec<String> {
        self.document.operations().map(|o| o.name.clone()).collect()
    }

    /// The derived document.
    pub fn document(&self) -> &OpenApiDocument {
        &self.document
    }

    /// Where operations are called.
    pub fn base_url(&self) -> &str {
        self.base.as_str()
    }

    /// `text` without the token, and with anything else credential-like redacted.
    fn scrub(&self, text: &str) -> String {
        redact_text(&self.without_token(text))
    }

    fn without_token(&self, text: &str) -> String {
        match &self.token {
            Some(token) if !token.expose().is_empty() && text.contains(token.expose()) => {
                text.replace(token.expose(), REDACTED)
            }
            _ => text.to_string(),
        }
    }

    /// The HTTP request for a call; `Err` is a tool error (nothing was sent).
    fn request(&self, op: &Operation, arguments: &Value, traceparent: &str) -> Result<Request, String> {
        let arguments = arguments
            .as_object()
            .ok_or_else(|| format!("the arguments of {} are not a JSON object", op.name))?;
        let path = fill_path(op, arguments)?;
        let full = format!("{}{path}", self.base.path().trim_end_matches('/'));
        let mut url = self.base.clone();
        url.set_path(&full);
        if url.path() != full {
            // A value such as `..` would have moved the request to another path.
            return Err(format!(
                "the path parameters of {} resolve to {} instead of {full}: refused",
                op.name,
                url.path()
            ));
        }
        let mut query = Vec::new();
        let mut headers = self.headers.clone();
        for parameter in &op.parameters {
            let Some(value) = arguments.get(&parameter.name).filter(|v| !v.is_null()) else {
                continue;
            };
            match parameter.location {
                ParameterLocation::Path => {}
                ParameterLocation::Query => query.extend(query_pairs(parameter, value)),
                ParameterLocation::Header => {
                    let name = HeaderName::from_bytes(parameter.name.as_bytes())
                        .map_err(|_| format!("{:?} is not a header name", parameter.name))?;
                    let value = HeaderValue::from_str(&header_text(parameter, value))
                        .map_err(|_| format!("the value of header parameter {:?} cannot be sent", parameter.name))?;
                    headers.insert(name, value);
                }
            }
        }
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        if !headers.contains_key(ACCEPT) {
            headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        }
        let traceparent = HeaderValue::from_str(traceparent)
            .map_err(|_| format!("traceparent {traceparent:?} is not a header value"))?;
        headers.insert(HeaderName::from_static("traceparent"), traceparent);
        if let Some(token) = &self.token {
            let mut value = HeaderValue::from_str(&format!("Bearer {}", token.expose()))
                .map_err(|_| "the bearer token cannot be sent in a header".to_string())?;
            value.set_sensitive(true);
            headers.insert(AUTHORIZATION, value);
        }
        let mut builder = self.client.request(op.method.to_reqwest(), url);
        if let (Some(body), Some(value)) = (&op.body, arguments.get(BODY_ARGUMENT)) {
            let bytes = serde_json::to_vec(value).map_err(|e| format!("cannot encode the body: {e}"))?;
            let media_type =
                HeaderValue::from_str(&body.media_type).unwrap_or(HeaderValue::from_static("application/json"));
            headers.insert(CONTENT_TYPE, media_type);
            builder = builder.body(bytes);
        }
        builder
            .headers(headers)
            .build()
            .map_err(|e| format!("cannot build the request: {}", e.without_url()))
    }

    fn send(&self, op: &Operation, request: Request) -> Result<ToolResponse, AdapterError> {
        let what = format!("OpenAPI source {:?}: {} {}", self.name, op.method, op.path);
        let transport = |message: String| AdapterError::Transport(self.scrub(&format!("{what}: {message}")));
        let response = self
            .client
            .execute(request)
            .map_err(|e| transport(describe(e, self.timeout_secs)))?;
        let status = response.status();
        if status.is_redirection() {
            let location = response
                .headers()
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("no location");
            return Err(transport(format!(
                "answered HTTP {status} (a redirect to {}): redirects are not followed; point `base_url` at \
                 the final address",
                cut(location)
            )));
        }
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_ascii_lowercase);
        let body = read_limited(response, self.max_response_bytes).map_err(transport)?;
        if status.is_success() {
            return self.success(content_type.as_deref(), body).map_err(transport);
        }
        let text = String::from_utf8_lossy(&body);
        let text = text.trim();
        let detail = if text.is_empty() {
            String::new()
        } else {
            format!(": {}", cut(text))
        };
        if status.is_client_error() {
            // The request was understood and refused: a result the model can act on.
            return Ok(ToolResponse::Error(self.scrub(&format!("HTTP {status}{detail}"))));
        }
        Err(transport(format!("answered HTTP {status}{detail}")))
    }

    fn success(&self, content_type: Option<&str>, body: Vec<u8>) -> Result<ToolResponse, String> {
        if body.is_empty() {
            return Ok(ToolResponse::Ok(Value::Null));
        }
        let size = body.len();
        let text = String::from_utf8(body).map_err(|_| {
            format!(
                "answered {size} bytes of binary content ({}): a tool result must be JSON or text",
                content_type.unwrap_or("no content-type")
            )
        })?;
        let text = self.without_token(&text);
        let declared_json = content_type.is_some_and(|c| {
            let essence = c.split(';').next().unwrap_or("").trim();
            essence == "application/json" || essence.ends_with("+json")
        });
        match serde_json::from_str::<Value>(&text) {
            Ok(value) if declared_json || content_type.is_none() => Ok(ToolResponse::Ok(value)),
            Err(e) if declared_json => Err(format!("answered invalid JSON: {e}")),
            _ => Ok(ToolResponse::Ok(Value::String(text))),
        }
    }
}

impl ToolAdapter for OpenApiTools {
    fn call(&self, tool: &LoadedTool, request: &ToolRequest, traceparent: &str) -> Result<ToolResponse, AdapterError> {
        let op = self.document.operation(&tool.contract.name).ok_or_else(|| {
            AdapterError::Transport(format!(
                "OpenAPI source {:?} has no operation {} (pinned in {})",
                self.name, tool.contract.name, tool.file
            ))
        })?;
        SchemaDrift::refuse_drifted(tool, op)?;
        match self.request(op, &request.arguments, traceparent) {
            Ok(http) => self.send(op, http),
            Err(message) => Ok(ToolResponse::Error(self.scrub(&message))),
        }
    }
}

/// What went wrong with a request that got no answer, without its URL
/// (which holds argument values).
fn describe(error: reqwest::Error, timeout_secs: u64) -> String {
    if error.is_timeout() {
        return format!("no answer within {timeout_secs} s (the source's `timeout_secs`)");
    }
    let prefix = if error.is_connect() {
        "cannot connect"
    } else {
        "the request failed"
    };
    format!("{prefix}: {}", error_chain(&error.without_url()))
}

fn cut(text: &str) -> String {
    contextos_core::cut_chars(text, MAX_SNIPPET_CHARS, "…")
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// A scalar as text; nested arrays and objects as JSON.
fn scalar(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// `k,v,k,v` (explode false) or `k=v,k=v` (explode true), each part through `each`.
fn object_text(map: &Map<String, Value>, explode: bool, each: impl Fn(&str) -> String) -> String {
    map.iter()
        .map(|(k, v)| {
            let (k, v) = (each(k), each(&scalar(v)));
            if explode {
                format!("{k}={v}")
            } else {
                format!("{k},{v}")
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// The `simple` style of a path or header value, each part through `each`.
fn simple_text(parameter: &Parameter, value: &Value, each: impl Fn(&str) -> String) -> String {
    if parameter.as_json {
        return each(&value.to_string());
    }
    match value {
        Value::Array(items) => items.iter().map(|i| each(&scalar(i))).collect::<Vec<_>>().join(","),
        Value::Object(map) => object_text(map, parameter.explode, each),
        other => each(&scalar(other)),
    }
}

fn header_text(parameter: &Parameter, value: &Value) -> String {
    simple_text(parameter, value, str::to_string)
}

/// The path template with every `{name}` replaced by its encoded argument.
fn fill_path(op: &Operation, arguments: &Map<String, Value>) -> Result<String, String> {
    let mut out = String::with_capacity(op.path.len());
    let mut rest = op.path.as_str();
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let close = after.find('}').unwrap_or(after.len());
        let name = &after[..close];
        let parameter = op
            .parameters
            .iter()
            .find(|p| p.location == ParameterLocation::Path && p.name == name)
            .ok_or_else(|| format!("no path parameter {name:?}"))?;
        let value = arguments
            .get(name)
            .filter(|v| !v.is_null())
            .ok_or_else(|| format!("path parameter {name:?} is missing"))?;
        let text = simple_text(parameter, value, encode);
        if text.is_empty() {
            return Err(format!("path parameter {name:?} is empty"));
        }
        out.push_str(&text);
        rest = after.get(close + 1..).unwrap_or("");
    }
    out.push_str(rest);
    Ok(out)
}

/// The query pairs of one parameter (encoded later, by the URL).
fn query_pairs(parameter: &Parameter, value: &Value) -> Vec<(String, String)> {
    let name = &parameter.name;
    if parameter.as_json {
        return vec![(name.clone(), value.to_string())];
    }
    let joined = |items: &[Value], separator: &str| items.iter().map(scalar).collect::<Vec<_>>().join(separator);
    match (value, parameter.style) {
        (Value::Array(items), ParameterStyle::SpaceDelimited) => vec![(name.clone(), joined(items, " "))],
        (Value::Array(items), ParameterStyle::PipeDelimited) => vec![(name.clone(), joined(items, "|"))],
        (Value::Array(items), _) if parameter.explode => items.iter().map(|i| (name.clone(), scalar(i))).collect(),
        (Value::Array(items), _) => vec![(name.clone(), joined(items, ","))],
        (Value::Object(map), ParameterStyle::DeepObject) => {
            map.iter().map(|(k, v)| (format!("{name}[{k}]"), scalar(v))).collect()
        }
        (Value::Object(map), _) if parameter.explode => map.iter().map(|(k, v)| (k.clone(), scalar(v))).collect(),
        (Value::Object(map), _) => vec![(name.clone(), object_text(map, false, str::to_string))],
        (other, _) => vec![(name.clone(), scalar(other))],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parameter(name: &str, location: ParameterLocation, style: ParameterStyle, explode: bool) -> Parameter {
        Parameter {
            name: name.into(),
            location,
            required: true,
            style,
            explode,
            as_json: false,
        }
    }

    #[test]
    fn path_values_are_encoded_so_they_stay_one_segment() {
        let op = Operation {
            name: "get".into(),
            method: crate::operation::HttpMethod::Get,
            path: "/files/{name}/v{version}".into(),
            description: String::new(),
            approval_mode: contextos_core::ApprovalMode::ReadOnly,
            parameters: vec![
                parameter("name", ParameterLocation::Path, ParameterStyle::Simple, false),
                parameter("version", ParameterLocation::Path, ParameterStyle::Simple, false),
            ],
            body: None,
            input_schema: json!({}),
        };
        let args = |name: Value| json!({"name": name, "version": 2}).as_object().unwrap().clone();
        assert_eq!(
            fill_path(&op, &args(json!("a/b c?#"))).unwrap(),
            "/files/a%2Fb%20c%3F%23/v2"
        );
        assert_eq!(fill_path(&op, &args(json!(["x", "y"]))).unwrap(), "/files/x,y/v2");
        assert_eq!(fill_path(&op, &args(json!({"k": "v"}))).unwrap(), "/files/k,v/v2");
        assert!(fill_path(&op, &args(json!(""))).unwrap_err().contains("empty"));
        assert!(fill_path(&op, &args(Value::Null)).unwrap_err().contains("missing"));
    }

    #[test]
    fn query_styles() {
        let form = parameter("tag", ParameterLocation::Query, ParameterStyle::Form, true);
        let pairs = |p: &Parameter, v: Value| query_pairs(p, &v);
        assert_eq!(
            pairs(&form, json!(["a", "b"])),
            [("tag".to_string(), "a".to_string()), ("tag".into(), "b".into())]
        );
        let flat = Parameter {
            explode: false,
            ..form.clone()
        };
        assert_eq!(
            pairs(&flat, json!(["a", "b"])),
            [("tag".to_string(), "a,b".to_string())]
        );
        let pipe = Parameter {
            style: ParameterStyle::PipeDelimited,
            ..flat.clone()
        };
        assert_eq!(pairs(&pipe, json!([1, 2])), [("tag".to_string(), "1|2".to_string())]);
        let deep = parameter("filter", ParameterLocation::Query, ParameterStyle::DeepObject, true);
        assert_eq!(
            pairs(&deep, json!({"status": "open"})),
            [("filter[status]".to_string(), "open".to_string())]
        );
        let json_content = Parameter { as_json: true, ..form };
        assert_eq!(
            pairs(&json_content, json!({"a": 1})),
            [("tag".to_string(), "{\"a\":1}".to_string())]
        );
    }

    #[test]
    fn snippets_are_cut_on_character_boundaries() {
        let long = "ü".repeat(MAX_SNIPPET_CHARS + 5);
        assert_eq!(cut(&long).chars().count(), MAX_SNIPPET_CHARS + 1);
        assert_eq!(cut("short"), "short");
    }
}
