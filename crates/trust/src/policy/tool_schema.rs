//! Tool arguments as Cedar sees them.
//!
//! Every tool is its own Cedar action, a member of the `call_tool` action
//! group, whose context carries the run attributes and `arguments`: a record
//! typed from the tool contract's JSON Schema (strings, integers as `Long`,
//! booleans, enums of strings as `String`, objects with properties as
//! records, arrays as sets). The contract is the one place a tool's shape is
//! written; [`tool_actions_schema`] generates the Cedar schema part from it,
//! and [`ToolArguments::expression`] builds the `arguments` value of a call.
//!
//! Policies never see secrets: arguments whose name is secret-shaped (and
//! any the contract hides) are left out of the Cedar view, and the values
//! are built from the redacted arguments, so the recorded request is exactly
//! what Cedar evaluated.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use cedar_policy::RestrictedExpression;
use contextos_core::is_secret_field;
use serde_json::Value;

/// The name of a tool's argument record in its action's context.
pub const ARGUMENTS: &str = "arguments";

/// Nesting deeper than this is left out of the Cedar view.
const MAX_DEPTH: usize = 8;

/// The Cedar type of one argument.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ArgumentType {
    /// A string (and an enum of strings).
    String,
    /// An integer.
    Long,
    /// A boolean.
    Bool,
    /// An array.
    Set(Box<ArgumentType>),
    /// An object with declared properties.
    Record(RecordType),
}

/// A record of named, typed attributes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecordType {
    /// Attributes by name.
    pub fields: BTreeMap<String, Field>,
}

/// One attribute of a record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    /// Its type.
    pub ty: ArgumentType,
    /// Whether every call carries it.
    pub required: bool,
}

/// A tool's arguments as Cedar sees them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ToolArguments {
    /// The tool (and its Cedar action id).
    pub tool: String,
    /// The typed record policies read as `context.arguments`.
    pub record: RecordType,
    /// Arguments left out of the Cedar view: JSON pointer and why.
    pub hidden: Vec<(String, String)>,
}

impl ToolArguments {
    /// The Cedar view of `input_schema` (a JSON Schema object). Arguments
    /// named in `hidden`, and those whose name looks like a secret, are left
    /// out, as is any shape Cedar cannot type (listed in `hidden` with why).
    pub fn from_json_schema(tool: &str, input_schema: &Value, hidden: &[String]) -> Self {
        let mut out = Self {
            tool: tool.to_string(),
            record: RecordType::default(),
            hidden: Vec::new(),
        };
        let mut omitted = Vec::new();
        if let Some(record) = record_of(input_schema, "", 0, &mut omitted, hidden) {
            out.record = record;
        } else if input_schema.get("type").is_some_and(|t| t != "object") {
            omitted.push(("".to_string(), "the arguments are not an object".to_string()));
        }
        omitted.sort();
        out.hidden = omitted;
        out
    }

    /// The `arguments` record of a call, built from its (redacted) arguments.
    /// Attributes outside the Cedar view are left out; a value that does not
    /// fit its Cedar type (a fraction, a number beyond a Long) is an error.
    pub fn expression(&self, arguments: &Value) -> Result<RestrictedExpression, String> {
        record_expression(&self.record, arguments, "")
    }
}

fn type_of(schema: &Value, pointer: &str, depth: usize, omitted: &mut Vec<(String, String)>) -> Option<ArgumentType> {
    if depth > MAX_DEPTH {
        omitted.push((pointer.to_string(), format!("nested deeper than {MAX_DEPTH} levels")));
        return None;
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        return if values.iter().all(Value::is_string) {
            Some(ArgumentType::String)
        } else if values.iter().all(|v| v.as_i64().is_some()) {
            Some(ArgumentType::Long)
        } else if values.iter().all(Value::is_boolean) {
            Some(ArgumentType::Bool)
        } else {
            omitted.push((pointer.to_string(), "an enum of mixed types".to_string()));
            None
        };
    }
    if let Some(value) = schema.get("const") {
        return match value {
            Value::String(_) => Some(ArgumentType::String),
            Value::Bool(_) => Some(ArgumentType::Bool),
            v if v.as_i64().is_some() => Some(ArgumentType::Long),
            _ => {
                omitted.push((pointer.to_string(), "a constant Cedar cannot type".to_string()));
                None
            }
        };
    }
    match schema.get("type").and_then(Value::as_str) {
        Some("string") => Some(ArgumentType::String),
        Some("integer" | "number") => Some(ArgumentType::Long),
        Some("boolean") => Some(ArgumentType::Bool),
        Some("array") => match schema.get("items") {
            Some(items) if items.is_object() => {
                type_of(items, &format!("{pointer}/items"), depth + 1, omitted).map(|t| ArgumentType::Set(Box::new(t)))
            }
            _ => {
                omitted.push((pointer.to_string(), "an array without one item schema".to_string()));
                None
            }
        },
        Some("object") => record_of(schema, pointer, depth, omitted, &[]).map(ArgumentType::Record),
        Some(other) => {
            omitted.push((pointer.to_string(), format!("type {other:?} has no Cedar form")));
            None
        }
        None => {
            omitted.push((pointer.to_string(), "no single declared type".to_string()));
            None
        }
    }
}

fn record_of(
    schema: &Value,
    pointer: &str,
    depth: usize,
    omitted: &mut Vec<(String, String)>,
    hidden: &[String],
) -> Option<RecordType> {
    let properties = schema.get("properties").and_then(Value::as_object);
    if schema.get("type").and_then(Value::as_str) != Some("object") {
        return None;
    }
    let Some(properties) = properties else {
        omitted.push((pointer.to_string(), "an object without declared properties".to_string()));
        return None;
    };
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut record = RecordType::default();
    for (name, property) in properties {
        let at = format!("{pointer}/{}", name.replace('~', "~0").replace('/', "~1"));
        if depth == 0 && hidden.iter().any(|h| h == name) {
            omitted.push((at, "hidden from policy by the contract".to_string()));
            continue;
        }
        if is_secret_field(name) {
            omitted.push((at, "secret-shaped name".to_string()));
            continue;
        }
        if let Some(ty) = type_of(property, &at, depth + 1, omitted) {
            let required = required.contains(&name.as_str());
            record.fields.insert(name.clone(), Field { ty, required });
        }
    }
    Some(record)
}

fn record_expression(record: &RecordType, value: &Value, pointer: &str) -> Result<RestrictedExpression, String> {
    let Some(object) = value.as_object() else {
        return Err(format!("{}: expected an object", shown(pointer)));
    };
    let mut attributes = Vec::with_capacity(record.fields.len());
    for (name, field) in &record.fields {
        let at = format!("{pointer}/{name}");
        match object.get(name) {
            None | Some(Value::Null) if !field.required => {}
            None | Some(Value::Null) => return Err(format!("{}: a required argument is missing", shown(&at))),
            Some(v) => attributes.push((name.clone(), value_expression(&field.ty, v, &at)?)),
        }
    }
    RestrictedExpression::new_record(attributes).map_err(|e| format!("{}: {e}", shown(pointer)))
}

fn value_expression(ty: &ArgumentType, value: &Value, pointer: &str) -> Result<RestrictedExpression, String> {
    let mismatch = |expected: &str| format!("{}: expected {expected}, got {value}", shown(pointer));
    match ty {
        ArgumentType::String => value
            .as_str()
            .map(|s| RestrictedExpression::new_string(s.to_string()))
            .ok_or_else(|| mismatch("a string")),
        ArgumentType::Bool => value
            .as_bool()
            .map(RestrictedExpression::new_bool)
            .ok_or_else(|| mismatch("a boolean")),
        ArgumentType::Long => long_of(value)
            .map(RestrictedExpression::new_long)
            .ok_or_else(|| mismatch("an integer that fits in 64 bits (policies see numbers as Long)")),
        ArgumentType::Set(item) => {
            let items = value.as_array().ok_or_else(|| mismatch("an array"))?;
            let elements = items
                .iter()
                .enumerate()
                .map(|(i, v)| value_expression(item, v, &format!("{pointer}/{i}")))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(RestrictedExpression::new_set(elements))
        }
        ArgumentType::Record(record) => record_expression(record, value, pointer),
    }
}

/// An integral JSON number that fits an `i64`.
fn long_of(value: &Value) -> Option<i64> {
    if let Some(n) = value.as_i64() {
        return Some(n);
    }
    let f = value.as_f64()?;
    // 2^63 is exactly representable; anything at or above it does not fit.
    (f.fract() == 0.0 && (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&f)).then_some(f as i64)
}

fn shown(pointer: &str) -> &str {
    if pointer.is_empty() { "/" } else { pointer }
}

/// The Cedar declarations of `tools` inside the runtime's namespace: one
/// action per tool in the `call_tool` group, its context the run attributes
/// plus `arguments`. Tools are written in name order, so the text depends on
/// the set only.
pub fn tool_actions_schema(tools: &[ToolArguments]) -> String {
    let mut sorted: Vec<&ToolArguments> = tools.iter().collect();
    sorted.sort_by(|a, b| a.tool.cmp(&b.tool));
    let mut out = String::from(
        "// Every tool is an action in the `call_tool` group. Its context carries the\n\
         // run attributes and `arguments`, typed from the contract's input schema.\n",
    );
    for tool in sorted {
        out.push('\n');
        for (pointer, why) in &tool.hidden {
            let _ = writeln!(
                out,
                "// {}{}: not visible to policies ({why})",
                tool.tool,
                shown(pointer)
            );
        }
        let _ = writeln!(out, "action {} in [call_tool] appliesTo {{", quoted(&tool.tool));
        out.push_str("  principal: [Agent],\n  resource: [Tool],\n  context: {\n");
        out.push_str("    tenant: Tenant,\n    safety_mode: String,\n    run_approval_level: Long,\n");
        out.push_str("    approval: Approval,\n    budget: Budget,\n");
        let _ = writeln!(out, "    {ARGUMENTS}: {}", render_record(&tool.record, 2));
        out.push_str("  }\n};\n");
    }
    out
}

fn render_type(ty: &ArgumentType, indent: usize) -> String {
    match ty {
        ArgumentType::String => "String".to_string(),
        ArgumentType::Long => "Long".to_string(),
        ArgumentType::Bool => "Bool".to_string(),
        ArgumentType::Set(item) => format!("Set<{}>", render_type(item, indent)),
        ArgumentType::Record(record) => render_record(record, indent),
    }
}

fn render_record(record: &RecordType, indent: usize) -> String {
    if record.fields.is_empty() {
        return "{}".to_string();
    }
    let pad = "  ".repeat(indent + 1);
    let fields: Vec<String> = record
        .fields
        .iter()
        .map(|(name, field)| {
            let optional = if field.required { "" } else { "?" };
            format!(
                "{pad}{}{optional}: {}",
                quoted(name),
                render_type(&field.ty, indent + 1)
            )
        })
        .collect();
    format!("{{\n{}\n{}}}", fields.join(",\n"), "  ".repeat(indent))
}

/// A Cedar string literal.
fn quoted(text: &str) -> String {
    format!("{text:?}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn refund() -> Value {
        json!({
            "type": "object",
            "required": ["amount_cents", "currency"],
            "properties": {
                "amount_cents": {"type": "integer"},
                "currency": {"enum": ["USD", "EUR"]},
                "express": {"type": "boolean"},
                "tags": {"type": "array", "items": {"type": "string"}},
                "address": {"type": "object", "required": ["city"], "properties": {"city": {"type": "string"}}},
                "api_key": {"type": "string"},
                "note": {"type": ["string", "null"]},
                "meta": {"type": "object"}
            }
        })
    }

    #[test]
    fn json_schema_types_map_to_cedar_types() {
        let args = ToolArguments::from_json_schema("issue_refund", &refund(), &["express".to_string()]);
        let f = &args.record.fields;
        assert_eq!(
            f["amount_cents"],
            Field {
                ty: ArgumentType::Long,
                required: true
            }
        );
        assert_eq!(f["currency"].ty, ArgumentType::String);
        assert_eq!(f["tags"].ty, ArgumentType::Set(Box::new(ArgumentType::String)));
        assert!(matches!(&f["address"].ty, ArgumentType::Record(r) if r.fields["city"].required));
        let hidden: Vec<&str> = args.hidden.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(hidden, ["/api_key", "/express", "/meta", "/note"]);
        assert_eq!(f.len(), 4);
    }

    #[test]
    fn values_that_do_not_fit_a_long_are_refused() {
        let args = ToolArguments::from_json_schema("issue_refund", &refund(), &[]);
        let ok = json!({"amount_cents": 22000, "currency": "USD", "api_key": "sk-secret"});
        assert!(args.expression(&ok).is_ok());
        for bad in [json!(1.5), json!(1e30), json!("12")] {
            let err = args
                .expression(&json!({"amount_cents": bad, "currency": "USD"}))
                .unwrap_err();
            assert!(err.starts_with("/amount_cents: expected an integer"), "{err}");
        }
        assert!(
            args.expression(&json!({"currency": "USD"}))
                .unwrap_err()
                .contains("missing")
        );
    }

    #[test]
    fn the_generated_schema_parses_with_the_built_in_types() {
        let text = tool_actions_schema(&[
            ToolArguments::from_json_schema("issue_refund", &refund(), &[]),
            ToolArguments::from_json_schema("read-ticket.v2", &json!({"type": "object", "properties": {}}), &[]),
        ]);
        let generated =
            crate::policy::builtin::generated_schema(&crate::policy::builtin::DeclaredAttributes::default(), &text);
        let schema = cedar_policy::Schema::from_cedarschema_str(&generated);
        assert!(schema.is_ok(), "{text}\n{:?}", schema.err());
        assert!(text.contains("\"amount_cents\": Long,"), "{text}");
        assert!(text.contains("// issue_refund/api_key: not visible to policies (secret-shaped name)"));
    }
}
