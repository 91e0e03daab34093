//! One OpenAPI operation as a tool: what the adapter needs to call it, and
//! the contract `tools pin` writes for it.

use std::path::Path;

use contextos_action::{PinOutcome, ServedTool, ToolContract, pin_contract, side_effect_of};
use contextos_core::ApprovalMode;
use serde_json::Value;

use crate::error::OpenApiError;

/// The HTTP methods that become tools (TRACE does not).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HttpMethod {
    /// GET.
    Get,
    /// HEAD.
    Head,
    /// OPTIONS.
    Options,
    /// POST.
    Post,
    /// PUT.
    Put,
    /// PATCH.
    Patch,
    /// DELETE.
    Delete,
}

impl HttpMethod {
    /// The method as sent (`GET`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Head => "HEAD",
            Self::Options => "OPTIONS",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Patch => "PATCH",
            Self::Delete => "DELETE",
        }
    }

    /// Whether HTTP defines the method as idempotent (RFC 9110): every one but POST and PATCH.
    pub fn is_idempotent(self) -> bool {
        !matches!(self, Self::Post | Self::Patch)
    }

    pub(crate) fn to_reqwest(self) -> reqwest::Method {
        match self {
            Self::Get => reqwest::Method::GET,
            Self::Head => reqwest::Method::HEAD,
            Self::Options => reqwest::Method::OPTIONS,
            Self::Post => reqwest::Method::POST,
            Self::Put => reqwest::Method::PUT,
            Self::Patch => reqwest::Method::PATCH,
            Self::Delete => reqwest::Method::DELETE,
        }
    }
}

impl std::fmt::Display for HttpMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a parameter goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParameterLocation {
    /// A `{name}` in the path template.
    Path,
    /// The query string.
    Query,
    /// A request header.
    Header,
}

impl ParameterLocation {
    /// The OpenAPI name (`path`, `query`, `header`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Path => "path",
            Self::Query => "query",
            Self::Header => "header",
        }
    }
}

/// How an array or object value is written (OpenAPI `style`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParameterStyle {
    /// `a,b` (path and header).
    Simple,
    /// `name=a&name=b` or `name=a,b` (query).
    Form,
    /// `name=a%20b` (query arrays).
    SpaceDelimited,
    /// `name=a|b` (query arrays).
    PipeDelimited,
    /// `name[key]=value` (query objects).
    DeepObject,
}

/// A path, query or header parameter of an operation.
#[derive(Clone, Debug, PartialEq)]
pub struct Parameter {
    /// The parameter's name (and its property in the tool's arguments).
    pub name: String,
    /// Where it goes.
    pub location: ParameterLocation,
    /// Whether a call must give it.
    pub required: bool,
    /// How arrays and objects are written.
    pub style: ParameterStyle,
    /// Whether array items and object members become separate values.
    pub explode: bool,
    /// Declared with `content` (a media type) instead of `schema`: the value is sent as JSON text.
    pub as_json: bool,
}

/// A JSON request body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestBody {
    /// Whether a call must give it.
    pub required: bool,
    /// The JSON media type sent as `content-type`.
    pub media_type: String,
}

/// The argument that carries the request body.
pub const BODY_ARGUMENT: &str = "body";

/// One operation of the document, derived as a tool.
#[derive(Clone, Debug, PartialEq)]
pub struct Operation {
    /// The tool name: the operation's `operationId`.
    pub name: String,
    /// The HTTP method.
    pub method: HttpMethod,
    /// The path template as written in the document (`/invoices/{invoice_id}`).
    pub path: String,
    /// Summary and description, capped.
    pub description: String,
    /// The approval mode derived from the method and the source.
    pub approval_mode: ApprovalMode,
    /// Path, query and header parameters.
    pub parameters: Vec<Parameter>,
    /// The JSON request body, when the operation takes one.
    pub body: Option<RequestBody>,
    /// JSON Schema of the tool's arguments: one property per parameter plus
    /// `body`, every `$ref` inlined, no other properties allowed.
    pub input_schema: Value,
}

/// The contract `tools pin` writes for an operation: format version 1, the
/// derived approval mode and its side-effect class, `idempotent` from the
/// method, and the derived input schema. The pinned contract, not this, is
/// what the gateway enforces: lowering a DELETE's mode in the pinned file
/// is how an operator says "unless pinned otherwise".
pub fn contract_for(operation: &Operation) -> ToolContract {
    ToolContract {
        format_version: 1,
        name: operation.name.clone(),
        description: operation.description.clone(),
        approval_mode: operation.approval_mode,
        side_effect: side_effect_of(operation.approval_mode),
        idempotent: operation.method.is_idempotent(),
        input_schema: operation.input_schema.clone(),
        output_schema: None,
        memory_fields: Vec::new(),
        owner_tenant: None,
        hidden_from_policy: Vec::new(),
        attributes: std::collections::BTreeMap::new(),
        pinned_from: None,
    }
}

/// The document serves the operation's derived input schema.
impl ServedTool for Operation {
    fn served_name(&self) -> &str {
        &self.name
    }

    fn served_input_schema(&self) -> &Value {
        &self.input_schema
    }
}

/// Writes `contract` to `<dir>/<name>.yaml` under a header naming the
/// source, refusing to replace an existing file unless `force` (see
/// [`pin_contract`]).
pub fn pin(contract: &ToolContract, source: &str, dir: &Path, force: bool) -> Result<PinOutcome, OpenApiError> {
    let header = format!(
        "Pinned from OpenAPI source {source:?} by `contextos tools pin`.\n\
         The approval mode was derived from the HTTP method (GET/HEAD/OPTIONS: the source's get_mode,\n\
         POST/PUT/PATCH: its write_mode, DELETE: destructive): review it. The gateway enforces this file,\n\
         so a mode changed here is the one that holds. An input schema derived from the document that\n\
         differs from this one is refused."
    );
    Ok(pin_contract(contract, &header, dir, force)?)
}
