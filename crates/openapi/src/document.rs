//! Reading an untrusted OpenAPI 3.0 or 3.1 document and deriving its
//! operations as tools.
//!
//! The document is read once as raw JSON (through the one loader, so syntax
//! errors have `file:line:col`), 3.0's schema keywords are upgraded, and it
//! is read again as oas3's typed model, which checks its structure. The
//! operations come from the typed model; parameters, bodies and schemas are
//! taken from the raw JSON at the same pointers, so nothing the document
//! says about an argument is lost.

use std::collections::{BTreeMap, BTreeSet};

use contextos_action::{ToolCatalog, ToolContract};
use contextos_core::{DocumentError, parse_document};
use oas3::spec::{self as oas, ParameterIn};
use serde_json::{Map, Value, json};

use crate::error::OpenApiError;
use crate::operation::{
    BODY_ARGUMENT, HttpMethod, Operation, Parameter, ParameterLocation, ParameterStyle, RequestBody, contract_for,
};
use crate::schema::{Inliner, escape, follow, upgrade_3_0};
use crate::source::{OpenApiSource, read_text};

/// The most operations one document may define.
pub const MAX_OPERATIONS: usize = 512;
/// The most parameters one operation may take.
pub const MAX_PARAMETERS: usize = 128;
/// Tool descriptions are cut to this many characters.
pub const MAX_DESCRIPTION_CHARS: usize = 1024;

/// Header parameters OpenAPI says to ignore (the adapter sets them).
const IGNORED_HEADERS: [&str; 3] = ["accept", "content-type", "authorization"];
/// Headers the adapter or the HTTP framing owns: a parameter cannot set them.
const ADAPTER_HEADERS: [&str; 6] = [
    "traceparent",
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "proxy-authorization",
];

/// The OpenAPI version a document declares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// OpenAPI 3.0.x (its schema keywords are upgraded to 3.1's on load).
    V3_0,
    /// OpenAPI 3.1.x.
    V3_1,
}

/// An OpenAPI document's operations, derived as tools for one source.
#[derive(Clone, Debug)]
pub struct OpenApiDocument {
    /// The document file, as shown in messages.
    pub file: String,
    /// Its OpenAPI version.
    pub dialect: Dialect,
    /// `info.title`.
    pub title: String,
    /// The first `servers` URL with its variables' defaults filled in, if any.
    pub server: Option<String>,
    operations: BTreeMap<String, Operation>,
}

impl OpenApiDocument {
    /// Reads `source.document` and derives its operations.
    pub fn load(source: &OpenApiSource) -> Result<Self, OpenApiError> {
        let text = read_text(&source.document)?;
        Self::parse(source, &source.document.display().to_string(), &text)
    }

    /// Derives the operations of the document `text` (`file` names it in
    /// errors; a name ending in `.json` is read as JSON, anything else as YAML).
    pub fn parse(source: &OpenApiSource, file: &str, text: &str) -> Result<Self, OpenApiError> {
        let fail = |message: String| OpenApiError::Document(DocumentError::new(file, message));
        let mut raw: Value = parse_document(file, text)?;
        let dialect = dialect_of(&raw).map_err(fail)?;
        let upgraded = dialect == Dialect::V3_0 && upgrade_3_0(&mut raw);
        // The typed read from the text keeps file:line:col; a 3.0 document
        // whose schemas needed upgrading is read from the upgraded JSON.
        let spec: oas::Spec = match parse_document(file, text) {
            Ok(spec) => spec,
            Err(_) if upgraded => serde_json::from_value(raw.clone()).map_err(|e| {
                fail(format!(
                    "{} (found after reading its OpenAPI 3.0 schema keywords as 3.1's, so no line is known)",
                    explain(&e.to_string())
                ))
            })?,
            Err(mut located) => {
                located.message = explain(&located.message);
                return Err(located.into());
            }
        };
        let server = first_server(&spec.servers).map_err(fail)?;
        let mut derive = Derive {
            source,
            raw: &raw,
            dialect,
            operations: BTreeMap::new(),
            places: BTreeMap::new(),
        };
        derive.all(&spec).map_err(fail)?;
        // Every derived contract must load the way a pinned one will.
        let mut catalog = ToolCatalog::default();
        for operation in derive.operations.values() {
            catalog
                .add(contract_for(operation), file.to_string())
                .map_err(|e| fail(format!("operation {} cannot be a tool: {e}", operation.name)))?;
        }
        Ok(Self {
            file: file.to_string(),
            dialect,
            title: spec.info.title,
            server,
            operations: derive.operations,
        })
    }

    /// Every operation, by tool name.
    pub fn operations(&self) -> impl Iterator<Item = &Operation> {
        self.operations.values()
    }

    /// The operation whose tool name is `name`.
    pub fn operation(&self, name: &str) -> Option<&Operation> {
        self.operations.get(name)
    }

    /// The contract of every operation, by tool name.
    pub fn contracts(&self) -> Vec<ToolContract> {
        self.operations.values().map(contract_for).collect()
    }
}

/// serde's message for an object that fits no variant of oas3's
/// "reference or object" says nothing about OpenAPI; say what was expected.
fn explain(message: &str) -> String {
    const UNTAGGED: &str = "data did not match any variant of untagged enum ObjectOrReference";
    message.replace(
        UNTAGGED,
        "neither a `$ref` nor a valid OpenAPI object (a required field is missing or a value has the \
         wrong kind: for example a parameter needs `name` and an `in` of path, query, header or cookie)",
    )
}

fn dialect_of(raw: &Value) -> Result<Dialect, String> {
    if raw.get("swagger").is_some() {
        return Err("this is a Swagger 2.0 document: only OpenAPI 3.0 and 3.1 are supported".into());
    }
    match raw.get("openapi") {
        Some(Value::String(v)) if v.starts_with("3.0.") => Ok(Dialect::V3_0),
        Some(Value::String(v)) if v.starts_with("3.1.") => Ok(Dialect::V3_1),
        Some(other) => Err(format!(
            "`openapi` is {other}: only OpenAPI 3.0.x and 3.1.x documents are supported"
        )),
        None => Err("no `openapi` field: not an OpenAPI 3 document".into()),
    }
}

fn first_server(servers: &[oas::Server]) -> Result<Option<String>, String> {
    let Some(server) = servers.first() else {
        return Ok(None);
    };
    let mut url = server.url.clone();
    for (name, variable) in server.variables.iter() {
        url = url.replace(&format!("{{{name}}}"), &variable.default);
    }
    if url.contains('{') {
        return Err(format!(
            "the server URL {:?} uses a variable the document does not define",
            server.url
        ));
    }
    Ok(Some(url))
}

/// An operation id is a tool name and a file name.
fn check_operation_id(id: &str) -> Result<(), String> {
    if contextos_action::is_tool_name(id) {
        Ok(())
    } else {
        Err(format!(
            "operationId {id:?} cannot be a tool name: 1 to 128 of A-Z a-z 0-9 _ . -, not starting with `.`"
        ))
    }
}

fn capped(text: &str) -> String {
    let text = text.trim();
    match text.char_indices().nth(MAX_DESCRIPTION_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

fn description(method: HttpMethod, path: &str, summary: Option<&str>, detail: Option<&str>) -> String {
    let parts: Vec<&str> = [summary, detail]
        .into_iter()
        .flatten()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if parts.is_empty() {
        format!("{method} {path}")
    } else {
        capped(&parts.join("\n\n"))
    }
}

/// The `{name}`s of a path template.
fn template_names(path: &str) -> Result<Vec<String>, String> {
    let mut names = Vec::new();
    let mut rest = path;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let close = after
            .find('}')
            .ok_or_else(|| format!("path {path:?} has an unclosed `{{`"))?;
        names.push(after[..close].to_string());
        rest = &after[close + 1..];
    }
    if rest.contains('}') {
        return Err(format!("path {path:?} has an unopened `}}`"));
    }
    Ok(names)
}

fn is_json_media_type(media_type: &str) -> bool {
    let essence = media_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    essence == "application/json" || essence.ends_with("+json")
}

struct Derive<'a> {
    source: &'a OpenApiSource,
    raw: &'a Value,
    dialect: Dialect,
    operations: BTreeMap<String, Operation>,
    /// Where each tool name was defined, for duplicate messages.
    places: BTreeMap<String, String>,
}

impl Derive<'_> {
    fn all(&mut self, spec: &oas::Spec) -> Result<(), String> {
        let Some(paths) = &spec.paths else {
            return Ok(());
        };
        let count: usize = paths.iter().map(|(_, item)| operations_of(item).len()).sum();
        if count > MAX_OPERATIONS {
            return Err(format!(
                "the document defines {count} operations, more than the limit of {MAX_OPERATIONS}"
            ));
        }
        for (path, item) in paths.iter() {
            let at_path = format!("/paths/{}", escape(path));
            if let Some(reference) = &item.reference {
                return Err(format!(
                    "path item $ref {reference:?} at {at_path} is not supported: write the operations inline"
                ));
            }
            for (method, key, operation) in operations_of(item) {
                let at = format!("{at_path}/{key}");
                let derived = self
                    .operation(path, method, operation, &at_path, &at)
                    .map_err(|e| format!("operation {method} {path} (at {at}): {e}"))?;
                if let Some(first) = self.places.get(&derived.name) {
                    return Err(format!(
                        "operationId {:?} at {at} is already used at {first}: tool names must be unique",
                        derived.name
                    ));
                }
                self.places.insert(derived.name.clone(), at);
                self.operations.insert(derived.name.clone(), derived);
            }
        }
        Ok(())
    }

    fn operation(
        &self,
        path: &str,
        method: HttpMethod,
        operation: &oas::Operation,
        at_path: &str,
        at: &str,
    ) -> Result<Operation, String> {
        let name = operation
            .operation_id
            .clone()
            .ok_or("it has no operationId: every operation needs one, it becomes the tool name")?;
        check_operation_id(&name)?;
        let parameters = self.parameters(path, at_path, at)?;
        let mut inliner = Inliner::new(self.raw, self.dialect == Dialect::V3_0);
        let mut properties = Map::new();
        let mut required = Vec::new();
        for (parameter, raw, raw_at) in &parameters {
            let schema = self.parameter_schema(&mut inliner, raw, raw_at)?;
            if parameter.required {
                required.push(Value::String(parameter.name.clone()));
            }
            properties.insert(parameter.name.clone(), schema);
        }
        let body = match self.raw.pointer(&format!("{at}/requestBody")) {
            None => None,
            Some(raw) => self.body(&mut inliner, raw, &format!("{at}/requestBody"))?,
        };
        let body = match body {
            None => None,
            Some((body, schema)) => {
                if properties.contains_key(BODY_ARGUMENT) {
                    return Err(format!(
                        "a parameter is named {BODY_ARGUMENT:?}, which is the argument that carries the request body"
                    ));
                }
                if body.required {
                    required.push(Value::String(BODY_ARGUMENT.into()));
                }
                properties.insert(BODY_ARGUMENT.into(), schema);
                Some(body)
            }
        };
        let mut schema = Map::new();
        schema.insert("type".into(), "object".into());
        schema.insert("properties".into(), Value::Object(properties));
        if !required.is_empty() {
            schema.insert("required".into(), Value::Array(required));
        }
        schema.insert("additionalProperties".into(), Value::Bool(false));
        let input_schema = Value::Object(schema);
        Ok(Operation {
            description: description(
                method,
                path,
                operation.summary.as_deref(),
                operation.description.as_deref(),
            ),
            approval_mode: self.source.mode_for(method),
            name,
            method,
            path: path.to_string(),
            parameters: parameters.into_iter().map(|(p, _, _)| p).collect(),
            body,
            input_schema,
        })
    }

    /// The path item's parameters overridden by the operation's, with their raw objects.
    fn parameters<'r>(
        &'r self,
        path: &str,
        at_path: &str,
        at: &str,
    ) -> Result<Vec<(Parameter, &'r Value, String)>, String> {
        let mut merged: Vec<(Parameter, &'r Value, String)> = Vec::new();
        for list_at in [format!("{at_path}/parameters"), format!("{at}/parameters")] {
            let Some(list) = self.raw.pointer(&list_at) else {
                continue;
            };
            let items = list.as_array().ok_or_else(|| format!("{list_at} is not a list"))?;
            if items.len() > MAX_PARAMETERS {
                return Err(format!("more than {MAX_PARAMETERS} parameters at {list_at}"));
            }
            for (i, item) in items.iter().enumerate() {
                let (raw, raw_at) = follow(self.raw, item, &format!("{list_at}/{i}"))?;
                let Some(parameter) = self.parameter(raw, &raw_at)? else {
                    continue;
                };
                // An operation's parameter replaces the path item's of the same name and location.
                merged.retain(|(p, _, _)| !(p.name == parameter.name && p.location == parameter.location));
                merged.push((parameter, raw, raw_at));
            }
        }
        let mut seen = BTreeSet::new();
        for (p, _, _) in &merged {
            if !seen.insert(p.name.as_str()) {
                return Err(format!(
                    "two parameters are named {:?}: tool arguments need distinct names",
                    p.name
                ));
            }
        }
        let template = template_names(path)?;
        for name in &template {
            if !merged
                .iter()
                .any(|(p, _, _)| p.location == ParameterLocation::Path && &p.name == name)
            {
                return Err(format!(
                    "the path uses {{{name}}} but no path parameter {name:?} is declared"
                ));
            }
        }
        if let Some((p, _, _)) = merged
            .iter()
            .find(|(p, _, _)| p.location == ParameterLocation::Path && !template.contains(&p.name))
        {
            return Err(format!("path parameter {:?} does not appear in the path", p.name));
        }
        Ok(merged)
    }

    /// One parameter; `None` for those that are not arguments (optional
    /// cookies, and the headers OpenAPI says to ignore).
    fn parameter(&self, raw: &Value, at: &str) -> Result<Option<Parameter>, String> {
        let typed: oas::Parameter =
            serde_json::from_value(raw.clone()).map_err(|e| format!("the parameter at {at} is malformed: {e}"))?;
        let location = match typed.location {
            ParameterIn::Path => ParameterLocation::Path,
            ParameterIn::Query => ParameterLocation::Query,
            ParameterIn::Header if IGNORED_HEADERS.contains(&typed.name.to_ascii_lowercase().as_str()) => {
                return Ok(None);
            }
            ParameterIn::Header => ParameterLocation::Header,
            ParameterIn::Cookie if typed.required == Some(true) => {
                return Err(format!(
                    "required cookie parameter {:?} at {at} is not supported",
                    typed.name
                ));
            }
            ParameterIn::Cookie => return Ok(None),
        };
        if typed.name.is_empty() {
            return Err(format!("the parameter at {at} has an empty name"));
        }
        if location == ParameterLocation::Header {
            if reqwest::header::HeaderName::from_bytes(typed.name.as_bytes()).is_err() {
                return Err(format!(
                    "header parameter {:?} at {at} is not a valid header name",
                    typed.name
                ));
            }
            if ADAPTER_HEADERS.contains(&typed.name.to_ascii_lowercase().as_str()) {
                return Err(format!(
                    "header parameter {:?} at {at} names a header the adapter sets itself",
                    typed.name
                ));
            }
        }
        let style = match (location, typed.style) {
            (ParameterLocation::Path | ParameterLocation::Header, None | Some(oas::ParameterStyle::Simple)) => {
                ParameterStyle::Simple
            }
            (ParameterLocation::Query, None | Some(oas::ParameterStyle::Form)) => ParameterStyle::Form,
            (ParameterLocation::Query, Some(oas::ParameterStyle::SpaceDelimited)) => ParameterStyle::SpaceDelimited,
            (ParameterLocation::Query, Some(oas::ParameterStyle::PipeDelimited)) => ParameterStyle::PipeDelimited,
            (ParameterLocation::Query, Some(oas::ParameterStyle::DeepObject)) => ParameterStyle::DeepObject,
            (_, Some(other)) => {
                return Err(format!(
                    "style {other:?} of {} parameter {:?} at {at} is not supported",
                    location.as_str(),
                    typed.name
                ));
            }
        };
        Ok(Some(Parameter {
            required: location == ParameterLocation::Path || typed.required == Some(true),
            explode: typed.explode.unwrap_or(style == ParameterStyle::Form),
            as_json: typed.schema.is_none() && typed.content.is_some(),
            name: typed.name,
            location,
            style,
        }))
    }

    /// The argument schema of a parameter: its `schema`, or the schema of its
    /// single `content` media type; its description is added when the schema has none.
    fn parameter_schema(&self, inliner: &mut Inliner<'_>, raw: &Value, at: &str) -> Result<Value, String> {
        let (schema, schema_at) = if let Some(schema) = raw.get("schema") {
            (Some(schema), format!("{at}/schema"))
        } else if let Some(Value::Object(content)) = raw.get("content") {
            let (media_type, entry) = content
                .iter()
                .next()
                .ok_or_else(|| format!("the parameter at {at} has an empty `content`"))?;
            (
                entry.get("schema"),
                format!("{at}/content/{}/schema", escape(media_type)),
            )
        } else {
            (None, at.to_string())
        };
        let mut schema = match schema {
            Some(schema) => inliner.schema(schema, &schema_at)?,
            None => json!({}),
        };
        if let (Value::Object(map), Some(Value::String(text))) = (&mut schema, raw.get("description"))
            && !map.contains_key("description")
        {
            map.insert("description".into(), Value::String(capped(text)));
        }
        Ok(schema)
    }

    /// The JSON request body and its argument schema; `None` when the body
    /// is optional and not JSON (the tool then sends none).
    fn body(&self, inliner: &mut Inliner<'_>, raw: &Value, at: &str) -> Result<Option<(RequestBody, Value)>, String> {
        let (raw, at) = follow(self.raw, raw, at)?;
        let typed: oas::RequestBody =
            serde_json::from_value(raw.clone()).map_err(|e| format!("the request body at {at} is malformed: {e}"))?;
        let required = typed.required == Some(true);
        let media_type = typed
            .content
            .iter()
            .map(|(media_type, _)| media_type)
            .find(|m| m.eq_ignore_ascii_case("application/json"))
            .or_else(|| typed.content.iter().map(|(m, _)| m).find(|m| is_json_media_type(m)));
        let Some(media_type) = media_type else {
            if required {
                let offered: Vec<&String> = typed.content.iter().map(|(m, _)| m).collect();
                return Err(format!(
                    "the required request body at {at} has no JSON media type (offered: {offered:?}): \
                     only JSON bodies are supported"
                ));
            }
            return Ok(None);
        };
        let schema_at = format!("{at}/content/{}/schema", escape(media_type));
        let schema = match self.raw.pointer(&schema_at) {
            Some(schema) => inliner.schema(schema, &schema_at)?,
            None => json!({}),
        };
        Ok(Some((
            RequestBody {
                required,
                media_type: media_type.clone(),
            },
            schema,
        )))
    }
}

/// The operations of a path item that become tools, with their key in the item.
fn operations_of(item: &oas::PathItem) -> Vec<(HttpMethod, &'static str, &oas::Operation)> {
    [
        (HttpMethod::Get, "get", &item.get),
        (HttpMethod::Head, "head", &item.head),
        (HttpMethod::Options, "options", &item.options),
        (HttpMethod::Post, "post", &item.post),
        (HttpMethod::Put, "put", &item.put),
        (HttpMethod::Patch, "patch", &item.patch),
        (HttpMethod::Delete, "delete", &item.delete),
    ]
    .into_iter()
    .filter_map(|(method, key, operation)| operation.as_ref().map(|o| (method, key, o)))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use contextos_core::ApprovalMode;

    fn source() -> OpenApiSource {
        OpenApiSource::parse("s.yaml", "name: t\ndocument: t.yaml\n").unwrap()
    }

    fn parse(text: &str) -> Result<OpenApiDocument, String> {
        OpenApiDocument::parse(&source(), "t.yaml", text).map_err(|e| e.to_string())
    }

    const HEAD: &str = "openapi: 3.1.0\ninfo: {title: t, version: '1'}\n";

    #[test]
    fn parameters_merge_and_become_one_object_schema() {
        let doc = parse(&format!(
            "{HEAD}paths:\n  /items/{{id}}:\n    parameters:\n      - {{name: id, in: path, schema: {{type: integer}}}}\n      \
             - {{name: verbose, in: query, schema: {{type: boolean}}}}\n    patch:\n      operationId: patchItem\n      \
             summary: Patch an item\n      parameters:\n        - {{name: verbose, in: query, required: true, \
             description: More output, schema: {{type: string}}}}\n        - {{name: Accept, in: header, schema: {{type: string}}}}\n        \
             - {{name: session, in: cookie, schema: {{type: string}}}}\n      requestBody:\n        content:\n          \
             application/merge-patch+json:\n            schema: {{type: object}}\n"
        ))
        .unwrap();
        let op = doc.operation("patchItem").unwrap();
        assert_eq!(op.method, HttpMethod::Patch);
        assert_eq!(op.approval_mode, ApprovalMode::LocalWrite);
        assert_eq!(op.description, "Patch an item");
        assert_eq!(
            op.input_schema,
            json!({"type": "object", "additionalProperties": false,
                "properties": {
                    "id": {"type": "integer"},
                    "verbose": {"type": "string", "description": "More output"},
                    "body": {"type": "object"}},
                "required": ["id", "verbose"]})
        );
        assert_eq!(op.body.as_ref().unwrap().media_type, "application/merge-patch+json");
        let contract = contract_for(op);
        assert!(!contract.idempotent);
    }

    #[test]
    fn documents_that_cannot_be_tools_say_where() {
        let op = |extra: &str| {
            format!(
                "{HEAD}paths:\n  /a/{{id}}:\n    get:\n{extra}      parameters: [{{name: id, in: path, schema: {{type: string}}}}]\n"
            )
        };
        let cases = [
            (op(""), "has no operationId"),
            (op("      operationId: ../x\n"), "cannot be a tool name"),
            (op("      operationId: .hidden\n"), "cannot be a tool name"),
            (
                format!("{HEAD}paths:\n  /a/{{id}}:\n    get: {{operationId: a}}\n"),
                "the path uses {id} but no path parameter",
            ),
            (
                format!("{HEAD}paths:\n  /a:\n    get: {{operationId: a}}\n  /b:\n    get: {{operationId: a}}\n"),
                "is already used at /paths/~1a/get",
            ),
            (
                format!(
                    "{HEAD}paths:\n  /a:\n    get: {{operationId: a, parameters: [{{name: c, in: cookie, required: true}}]}}\n"
                ),
                "required cookie parameter",
            ),
            (
                format!(
                    "{HEAD}paths:\n  /a:\n    post: {{operationId: a, requestBody: {{required: true, content: {{text/csv: {{}}}}}}}}\n"
                ),
                "no JSON media type",
            ),
            (
                "swagger: '2.0'\ninfo: {title: t, version: '1'}\n".to_string(),
                "Swagger 2.0",
            ),
            (
                "openapi: 4.0.0\ninfo: {title: t, version: '1'}\n".to_string(),
                "only OpenAPI 3.0.x and 3.1.x",
            ),
        ];
        for (text, want) in cases {
            let err = parse(&text).unwrap_err();
            assert!(err.starts_with("failed to parse t.yaml"), "{err}");
            assert!(err.contains(want), "want {want:?}: {err}");
        }
    }

    #[test]
    fn too_many_operations_are_refused() {
        let mut text = format!("{HEAD}paths:\n");
        for i in 0..=MAX_OPERATIONS {
            text.push_str(&format!("  /p{i}:\n    get: {{operationId: op{i}}}\n"));
        }
        assert!(parse(&text).unwrap_err().contains("more than the limit of 512"));
    }

    #[test]
    fn descriptions_fall_back_and_are_capped() {
        assert_eq!(description(HttpMethod::Get, "/a", None, Some("  ")), "GET /a");
        assert_eq!(description(HttpMethod::Get, "/a", Some("S"), Some("D")), "S\n\nD");
        let long = "é".repeat(MAX_DESCRIPTION_CHARS + 10);
        let cut = description(HttpMethod::Get, "/a", Some(&long), None);
        assert_eq!(cut.chars().count(), MAX_DESCRIPTION_CHARS + 1);
        assert!(cut.ends_with('…'));
    }

    #[test]
    fn server_variables_take_their_defaults() {
        let doc = parse(&format!(
            "{HEAD}servers:\n  - url: 'https://{{region}}.example.com/v1'\n    variables: {{region: {{default: eu}}}}\npaths: {{}}\n"
        ))
        .unwrap();
        assert_eq!(doc.server.as_deref(), Some("https://eu.example.com/v1"));
    }
}
