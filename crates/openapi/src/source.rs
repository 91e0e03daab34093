//! The source spec: which OpenAPI document, where its operations are called,
//! and with which approval modes, limits and headers.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use contextos_core::{ApprovalMode, DocumentError, IoError, MAX_DOCUMENT_BYTES, looks_like_secret, parse_yaml};
use reqwest::Url;
use reqwest::header::{HeaderName, HeaderValue};
use serde::{Deserialize, Serialize};

use crate::error::OpenApiError;
use crate::operation::HttpMethod;

/// The largest `max_response_bytes` a source may set (64 MiB).
pub const MAX_RESPONSE_BYTES_LIMIT: usize = 64 * 1024 * 1024;

/// Headers the adapter sets itself, or that carry credentials: a source
/// cannot set them statically (the token goes through `bearer_token_env`).
const RESERVED_HEADERS: [&str; 9] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "traceparent",
    "host",
    "content-length",
    "content-type",
    "transfer-encoding",
    "connection",
];

/// One OpenAPI document as a source of tools, as a YAML file.
///
/// ```yaml
/// name: billing
/// document: billing.openapi.yaml      # relative to this file; YAML or JSON, OpenAPI 3.0 or 3.1
/// base_url: https://billing.internal/v1   # default: the document's first `servers` URL (needed with a token)
/// get_mode: read_only                 # GET/HEAD/OPTIONS: read_only (default) or network
/// write_mode: local_write             # POST/PUT/PATCH: local_write (default) or network
/// timeout_secs: 30                    # per request, connect included (1..=3600)
/// max_response_bytes: 1048576         # a larger response is refused, not cut
/// headers: {x-client: contextos}      # static, non-secret headers
/// bearer_token_env: BILLING_TOKEN     # the NAME of the variable holding the token
/// ```
///
/// DELETE is always `destructive` here; a pinned contract can lower it.
/// The token's value is never in the spec: the CLI reads the variable and
/// passes a `Secret` in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct OpenApiSource {
    /// The source's name (shown in messages and listings).
    pub name: String,
    /// The OpenAPI document (YAML or JSON, OpenAPI 3.0 or 3.1), relative to
    /// this file (`load` resolves it).
    pub document: PathBuf,
    /// Where operations are called; the document's first server when absent.
    /// A source that names `bearer_token_env` must set it: credentials go
    /// only to an address the operator wrote, never to one the untrusted
    /// document chose.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// The mode of GET, HEAD and OPTIONS operations: `read_only` or `network`.
    #[serde(default = "default_get_mode")]
    pub get_mode: ApprovalMode,
    /// The mode of POST, PUT and PATCH operations: `local_write` or `network`.
    #[serde(default = "default_write_mode")]
    pub write_mode: ApprovalMode,
    /// Seconds each request may take, connect included.
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
    /// The largest response body accepted.
    #[serde(default = "default_max_response_bytes")]
    pub max_response_bytes: usize,
    /// Static, non-secret headers sent with every request.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// The name of the environment variable that holds a bearer token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bearer_token_env: Option<String>,
}

fn default_get_mode() -> ApprovalMode {
    ApprovalMode::ReadOnly
}

fn default_write_mode() -> ApprovalMode {
    ApprovalMode::LocalWrite
}

fn default_timeout_secs() -> u64 {
    30
}

fn default_max_response_bytes() -> usize {
    1024 * 1024
}

/// Reads a text file of at most [`MAX_DOCUMENT_BYTES`], refusing a larger
/// one before reading it whole.
pub(crate) fn read_text(path: &Path) -> Result<String, OpenApiError> {
    let shown = path.display().to_string();
    let io = |e| OpenApiError::Io(IoError::new("read", path, e));
    let file = std::fs::File::open(path).map_err(io)?;
    let limit = u64::try_from(MAX_DOCUMENT_BYTES).unwrap_or(u64::MAX);
    let mut text = String::new();
    file.take(limit.saturating_add(1))
        .read_to_string(&mut text)
        .map_err(io)?;
    if text.len() > MAX_DOCUMENT_BYTES {
        return Err(DocumentError::new(
            shown,
            format!("document is larger than the limit of {MAX_DOCUMENT_BYTES} bytes"),
        )
        .into());
    }
    Ok(text)
}

/// Checks a base URL: absolute http or https with a host, no credentials,
/// no query or fragment (operation paths are appended to it).
/// Why a source that sends a token must say where: the document's `servers`
/// are untrusted input, so the token would go to a host the document chose.
pub(crate) fn token_without_base_url(name: &str) -> String {
    format!(
        "OpenAPI source {name:?} names a bearer token (`bearer_token_env`) but sets no `base_url`: {TOKEN_NEEDS_BASE_URL}"
    )
}

/// Why a token needs an operator-written `base_url`.
pub(crate) const TOKEN_NEEDS_BASE_URL: &str = "credentials go only to a base URL the operator wrote, \
     never to the document's `servers`; set `base_url` in the source spec";

pub(crate) fn check_base_url(url: &str) -> Result<Url, String> {
    let parsed = Url::parse(url).map_err(|e| format!("{url:?} is not an absolute URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!("{url:?} is not http or https"));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(format!("{url:?} has no host"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(format!("{url:?} carries credentials: use `bearer_token_env` instead"));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(format!("{url:?} has a query or fragment"));
    }
    Ok(parsed)
}

impl OpenApiSource {
    /// Loads and checks a source spec; a relative `document` is resolved
    /// against the spec file's directory.
    pub fn load(path: &Path) -> Result<Self, OpenApiError> {
        let shown = path.display().to_string();
        let text = read_text(path)?;
        let mut source = Self::parse(&shown, &text)?;
        if source.document.is_relative() {
            let dir = path.parent().unwrap_or_else(|| Path::new(""));
            source.document = dir.join(&source.document);
        }
        Ok(source)
    }

    /// Parses and checks a source spec from text (`file` names it in errors).
    pub fn parse(file: &str, text: &str) -> Result<Self, OpenApiError> {
        let source: Self = parse_yaml(file, text)?;
        source
            .check()
            .map_err(|message| OpenApiError::Document(DocumentError::new(file, message)))?;
        Ok(source)
    }

    /// Every rule the YAML types cannot say.
    fn check(&self) -> Result<(), String> {
        if self.name.trim().is_empty() || self.name.len() > 128 || self.name.chars().any(char::is_control) {
            return Err("`name` must be 1 to 128 printable characters".into());
        }
        if self.document.as_os_str().is_empty() {
            return Err("`document` must name the OpenAPI document".into());
        }
        if let Some(url) = &self.base_url {
            check_base_url(url).map_err(|e| format!("`base_url` {e}"))?;
        }
        if !matches!(self.get_mode, ApprovalMode::ReadOnly | ApprovalMode::Network) {
            return Err(format!(
                "`get_mode` must be read_only or network, not {}",
                self.get_mode
            ));
        }
        if !matches!(self.write_mode, ApprovalMode::LocalWrite | ApprovalMode::Network) {
            return Err(format!(
                "`write_mode` must be local_write or network, not {} (pin a contract to say otherwise for one tool)",
                self.write_mode
            ));
        }
        if self.timeout_secs == 0 || self.timeout_secs > 3600 {
            return Err("`timeout_secs` must be between 1 and 3600".into());
        }
        if self.max_response_bytes == 0 || self.max_response_bytes > MAX_RESPONSE_BYTES_LIMIT {
            return Err(format!(
                "`max_response_bytes` must be between 1 and {MAX_RESPONSE_BYTES_LIMIT}"
            ));
        }
        for (name, value) in &self.headers {
            if HeaderName::from_bytes(name.as_bytes()).is_err() {
                return Err(format!("header name {name:?} is not a valid HTTP header name"));
            }
            if RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
                return Err(format!(
                    "header {name:?} cannot be set statically (credentials go through `bearer_token_env`; \
                     the adapter sets traceparent, content-type and the framing headers)"
                ));
            }
            if HeaderValue::from_str(value).is_err() {
                return Err(format!("the value of header {name:?} is not a valid HTTP header value"));
            }
            if looks_like_secret(value) {
                return Err(format!(
                    "the value of header {name:?} looks like a credential: source specs hold no secrets \
                     (use `bearer_token_env`)"
                ));
            }
        }
        if let Some(name) = &self.bearer_token_env
            && !contextos_core::live::is_env_var_name(name)
        {
            return Err(format!(
                "`bearer_token_env` must be an environment variable name (letters, digits, _), not {name:?}"
            ));
        }
        if self.bearer_token_env.is_some() && self.base_url.is_none() {
            return Err(token_without_base_url(&self.name));
        }
        Ok(())
    }

    /// The approval mode an operation of `method` starts with: GET, HEAD and
    /// OPTIONS take `get_mode`, POST, PUT and PATCH `write_mode`, DELETE is
    /// `destructive`.
    pub fn mode_for(&self, method: HttpMethod) -> ApprovalMode {
        match method {
            HttpMethod::Get | HttpMethod::Head | HttpMethod::Options => self.get_mode,
            HttpMethod::Post | HttpMethod::Put | HttpMethod::Patch => self.write_mode,
            HttpMethod::Delete => ApprovalMode::Destructive,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<OpenApiSource, String> {
        OpenApiSource::parse("billing.yaml", text).map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_and_modes() {
        let source = parse("name: billing\ndocument: billing.openapi.yaml\n").unwrap();
        assert_eq!(source.get_mode, ApprovalMode::ReadOnly);
        assert_eq!(source.write_mode, ApprovalMode::LocalWrite);
        assert_eq!((source.timeout_secs, source.max_response_bytes), (30, 1024 * 1024));
        assert_eq!(source.mode_for(HttpMethod::Head), ApprovalMode::ReadOnly);
        assert_eq!(source.mode_for(HttpMethod::Patch), ApprovalMode::LocalWrite);
        assert_eq!(source.mode_for(HttpMethod::Delete), ApprovalMode::Destructive);
        let network = parse("name: b\ndocument: d.yaml\nget_mode: network\nwrite_mode: network\n").unwrap();
        assert_eq!(network.mode_for(HttpMethod::Get), ApprovalMode::Network);
        assert_eq!(network.mode_for(HttpMethod::Put), ApprovalMode::Network);
    }

    #[test]
    fn bad_specs_say_what_is_wrong() {
        let cases = [
            ("name: b\ndocument: d.yaml\nurl: x\n", "unknown field"),
            (
                "name: b\ndocument: d.yaml\nget_mode: local_write\n",
                "`get_mode` must be read_only or network",
            ),
            (
                "name: b\ndocument: d.yaml\nwrite_mode: destructive\n",
                "`write_mode` must be local_write or network",
            ),
            ("name: b\ndocument: d.yaml\ntimeout_secs: 0\n", "`timeout_secs`"),
            (
                "name: b\ndocument: d.yaml\nmax_response_bytes: 0\n",
                "`max_response_bytes`",
            ),
            ("name: b\ndocument: d.yaml\nbase_url: ftp://x/\n", "not http or https"),
            (
                "name: b\ndocument: d.yaml\nbase_url: https://u:p@x/\n",
                "carries credentials",
            ),
            ("name: b\ndocument: d.yaml\nbase_url: /v1\n", "not an absolute URL"),
            (
                "name: b\ndocument: d.yaml\nheaders: {Authorization: x}\n",
                "cannot be set statically",
            ),
            (
                "name: b\ndocument: d.yaml\nheaders: {x-key: sk-live-0123456789abcdefghij}\n",
                "looks like a credential",
            ),
            (
                "name: b\ndocument: d.yaml\nheaders: {\"bad name\": x}\n",
                "not a valid HTTP header name",
            ),
            (
                "name: b\ndocument: d.yaml\nbearer_token_env: \"$TOKEN\"\n",
                "`bearer_token_env`",
            ),
            (
                "name: b\ndocument: d.yaml\nbearer_token_env: B_TOKEN\n",
                "source \"b\" names a bearer token (`bearer_token_env`) but sets no `base_url`",
            ),
            ("name: \"\"\ndocument: d.yaml\n", "`name`"),
        ];
        for (text, want) in cases {
            let err = parse(text).unwrap_err();
            assert!(err.starts_with("failed to parse billing.yaml"), "{err}");
            assert!(err.contains(want), "{text}: {err}");
        }
    }

    #[test]
    fn load_resolves_the_document_next_to_the_spec() {
        let dir = tempfile::tempdir().unwrap();
        let spec = dir.path().join("billing.yaml");
        std::fs::write(&spec, "name: billing\ndocument: api/billing.json\n").unwrap();
        let source = OpenApiSource::load(&spec).unwrap();
        assert_eq!(source.document, dir.path().join("api/billing.json"));
    }
}
