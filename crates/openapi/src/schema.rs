//! Schemas out of an untrusted document: local `$ref`s followed and inlined
//! with depth and size limits (remote ones refused: nothing is fetched), and
//! OpenAPI 3.0's schema dialect read as the JSON Schema 2020-12 that 3.1
//! uses and the gateway validates with.
//!
//! Schemas stay raw JSON rather than a typed model: a typed model keeps the
//! keywords it knows and drops the rest (`not`, `patternProperties`, …),
//! and a pinned input schema must say what the document says.

use serde_json::{Map, Value};

/// The most `$ref`s followed in a chain, or open at once while inlining.
pub const MAX_REF_DEPTH: usize = 32;
/// The deepest nesting of an inlined schema.
pub const MAX_SCHEMA_DEPTH: usize = 64;
/// The most JSON values in one operation's input schema once inlined
/// (bounds the expansion of a schema that references another many times).
pub const MAX_SCHEMA_NODES: usize = 50_000;

/// Keywords whose values are data, not schemas: copied, never searched for `$ref`.
const DATA_KEYWORDS: [&str; 5] = ["enum", "const", "default", "example", "examples"];
/// Keywords whose values map names to schemas: the names are not keywords.
const SCHEMA_MAPS: [&str; 5] = [
    "properties",
    "patternProperties",
    "$defs",
    "definitions",
    "dependentSchemas",
];
/// Annotations that may sit beside a `$ref` and are merged into the target.
const ANNOTATIONS: [&str; 6] = ["description", "title", "summary", "deprecated", "readOnly", "writeOnly"];

/// Escapes a JSON pointer token (RFC 6901).
pub(crate) fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The JSON pointer a `$ref` names in this document; a reference to anything
/// outside it (a file, a URL) is refused.
pub(crate) fn local_pointer(reference: &str, at: &str) -> Result<String, String> {
    let Some(fragment) = reference.strip_prefix('#') else {
        return Err(format!(
            "remote $ref {reference:?} at {at} is refused: only references inside the document \
             (#/components/...) are resolved, nothing is fetched"
        ));
    };
    let pointer = percent_decode(fragment).ok_or_else(|| format!("$ref {reference:?} at {at} is not valid"))?;
    if !pointer.starts_with('/') {
        return Err(format!(
            "$ref {reference:?} at {at} is not a JSON pointer into the document (#/...)"
        ));
    }
    Ok(pointer)
}

fn reference_of(value: &Value) -> Option<&str> {
    value.as_object()?.get("$ref")?.as_str()
}

/// Follows `$ref`s from `value` (found at pointer `at`) to the object they
/// name; returns it with its pointer.
pub(crate) fn follow<'a>(doc: &'a Value, mut value: &'a Value, at: &str) -> Result<(&'a Value, String), String> {
    let mut here = at.to_string();
    for _ in 0..MAX_REF_DEPTH {
        let Some(reference) = reference_of(value) else {
            return Ok((value, here));
        };
        let pointer = local_pointer(reference, &here)?;
        value = doc
            .pointer(&pointer)
            .ok_or_else(|| format!("$ref {reference:?} at {here} names nothing in the document"))?;
        here = pointer;
    }
    Err(format!("more than {MAX_REF_DEPTH} chained $refs from {at}"))
}

/// Inlines the local `$ref`s of schemas taken from one document.
#[derive(Debug)]
pub(crate) struct Inliner<'a> {
    doc: &'a Value,
    /// OpenAPI 3.0: siblings of a `$ref` are ignored, as that version says.
    ignore_ref_siblings: bool,
    nodes: usize,
    open: Vec<String>,
}

impl<'a> Inliner<'a> {
    /// An inliner over `doc` (already upgraded to 3.1's schema dialect).
    pub(crate) fn new(doc: &'a Value, ignore_ref_siblings: bool) -> Self {
        Self {
            doc,
            ignore_ref_siblings,
            nodes: 0,
            open: Vec::new(),
        }
    }

    /// The schema at `at` with every `$ref` replaced by what it names. The
    /// node budget is shared by every call on this inliner.
    pub(crate) fn schema(&mut self, schema: &Value, at: &str) -> Result<Value, String> {
        self.walk(schema, at, 0)
    }

    fn count(&mut self, nodes: usize) -> Result<(), String> {
        self.nodes = self.nodes.saturating_add(nodes);
        if self.nodes > MAX_SCHEMA_NODES {
            return Err(format!(
                "the input schema expands to more than {MAX_SCHEMA_NODES} values through its $refs"
            ));
        }
        Ok(())
    }

    fn walk(&mut self, value: &Value, at: &str, depth: usize) -> Result<Value, String> {
        if depth > MAX_SCHEMA_DEPTH {
            return Err(format!(
                "the schema at {at} is nested deeper than {MAX_SCHEMA_DEPTH} levels"
            ));
        }
        self.count(1)?;
        match value {
            Value::Object(map) => {
                if let Some(reference) = reference_of(value) {
                    return self.inline_reference(reference, map, at, depth);
                }
                let mut out = Map::new();
                for (key, sub) in map {
                    let here = format!("{at}/{}", escape(key));
                    let copied = if DATA_KEYWORDS.contains(&key.as_str()) || key.starts_with("x-") {
                        self.count(size(sub))?;
                        sub.clone()
                    } else if SCHEMA_MAPS.contains(&key.as_str())
                        && let Value::Object(named) = sub
                    {
                        let mut schemas = Map::new();
                        for (name, schema) in named {
                            let at_name = format!("{here}/{}", escape(name));
                            schemas.insert(name.clone(), self.walk(schema, &at_name, depth + 1)?);
                        }
                        Value::Object(schemas)
                    } else {
                        self.walk(sub, &here, depth + 1)?
                    };
                    out.insert(key.clone(), copied);
                }
                Ok(Value::Object(out))
            }
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, item)| self.walk(item, &format!("{at}/{i}"), depth + 1))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            scalar => Ok(scalar.clone()),
        }
    }

    fn inline_reference(
        &mut self,
        reference: &str,
        map: &Map<String, Value>,
        at: &str,
        depth: usize,
    ) -> Result<Value, String> {
        let pointer = local_pointer(reference, at)?;
        if self.open.contains(&pointer) {
            return Err(format!(
                "$ref {reference:?} at {at} is recursive: a recursive schema cannot be inlined into a \
                 tool's input schema"
            ));
        }
        if self.open.len() >= MAX_REF_DEPTH {
            return Err(format!("more than {MAX_REF_DEPTH} nested $refs at {at}"));
        }
        let target = self
            .doc
            .pointer(&pointer)
            .ok_or_else(|| format!("$ref {reference:?} at {at} names nothing in the document"))?;
        self.open.push(pointer.clone());
        let resolved = self.walk(target, &pointer, depth + 1);
        self.open.pop();
        let resolved = resolved?;
        let siblings: Vec<(&String, &Value)> = map.iter().filter(|(k, _)| k.as_str() != "$ref").collect();
        if self.ignore_ref_siblings || siblings.is_empty() {
            return Ok(resolved);
        }
        let mut annotations = Map::new();
        let mut others = Map::new();
        for (key, sub) in siblings {
            let here = format!("{at}/{}", escape(key));
            let walked = self.walk(sub, &here, depth + 1)?;
            if ANNOTATIONS.contains(&key.as_str()) {
                annotations.insert(key.clone(), walked);
            } else {
                others.insert(key.clone(), walked);
            }
        }
        // 3.1: keywords beside a `$ref` apply too. Annotations override the
        // target's; assertions are kept beside it in an `allOf`.
        let mut merged = match resolved {
            Value::Object(target) if others.is_empty() => target,
            other => {
                let mut wrapper = others;
                wrapper.insert("allOf".into(), Value::Array(vec![other]));
                wrapper
            }
        };
        merged.extend(annotations);
        Ok(Value::Object(merged))
    }
}

/// How many JSON values `value` holds.
fn size(value: &Value) -> usize {
    match value {
        Value::Object(map) => 1 + map.values().map(size).sum::<usize>(),
        Value::Array(items) => 1 + items.iter().map(size).sum::<usize>(),
        _ => 1,
    }
}

/// Object keys whose values map names to OpenAPI objects or schemas: the
/// names are walked into but never read as keywords.
const NAMED_MAPS: [&str; 14] = [
    "properties",
    "patternProperties",
    "$defs",
    "definitions",
    "dependentSchemas",
    "schemas",
    "parameters",
    "requestBodies",
    "responses",
    "headers",
    "callbacks",
    "paths",
    "content",
    "links",
];

/// Rewrites OpenAPI 3.0's schema keywords in the whole document as 3.1
/// (JSON Schema 2020-12) says them: `nullable: true` adds `"null"` to the
/// type (and to an `enum`), and boolean `exclusiveMinimum`/`exclusiveMaximum`
/// become numbers. Examples, defaults and extensions are left alone. Returns
/// whether anything changed.
pub(crate) fn upgrade_3_0(value: &mut Value) -> bool {
    let mut changed = false;
    upgrade_node(value, &mut changed, 0);
    changed
}

fn upgrade_node(value: &mut Value, changed: &mut bool, depth: usize) {
    // The document came through the parser's own depth limits; this bound
    // only keeps the walk's stack finite whatever it is handed.
    if depth > 256 {
        return;
    }
    match value {
        Value::Object(map) => {
            upgrade_schema_keywords(map, changed);
            for (key, sub) in map.iter_mut() {
                if DATA_KEYWORDS.contains(&key.as_str()) || key.starts_with("x-") {
                    continue;
                }
                if NAMED_MAPS.contains(&key.as_str())
                    && let Value::Object(named) = sub
                {
                    for entry in named.values_mut() {
                        upgrade_node(entry, changed, depth + 1);
                    }
                } else {
                    upgrade_node(sub, changed, depth + 1);
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                upgrade_node(item, changed, depth + 1);
            }
        }
        _ => {}
    }
}

fn upgrade_schema_keywords(map: &mut Map<String, Value>, changed: &mut bool) {
    if let Some(Value::Bool(nullable)) = map.get("nullable").cloned() {
        map.remove("nullable");
        *changed = true;
        if nullable {
            if let Some(Value::String(single)) = map.get("type").cloned() {
                map.insert("type".into(), Value::Array(vec![Value::String(single), "null".into()]));
            }
            if let Some(Value::Array(values)) = map.get_mut("enum")
                && !values.contains(&Value::Null)
            {
                values.push(Value::Null);
            }
        }
    }
    for (exclusive, bound) in [("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")] {
        if let Some(Value::Bool(is_exclusive)) = map.get(exclusive).cloned() {
            map.remove(exclusive);
            *changed = true;
            if is_exclusive && let Some(limit) = map.remove(bound) {
                map.insert(exclusive.into(), limit);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn refs_are_inlined_with_annotations_and_assertions_beside_them() {
        let doc = json!({"components": {"schemas": {
            "Money": {"type": "integer", "minimum": 0},
            "Line": {"type": "object", "properties": {
                "amount": {"$ref": "#/components/schemas/Money", "description": "cents"},
                "tax": {"$ref": "#/components/schemas/Money", "maximum": 100},
            }},
        }}});
        let mut inliner = Inliner::new(&doc, false);
        let out = inliner
            .schema(&json!({"$ref": "#/components/schemas/Line"}), "/x")
            .unwrap();
        assert_eq!(
            out,
            json!({"type": "object", "properties": {
                "amount": {"type": "integer", "minimum": 0, "description": "cents"},
                "tax": {"maximum": 100, "allOf": [{"type": "integer", "minimum": 0}]},
            }})
        );
        let mut v30 = Inliner::new(&doc, true);
        let out = v30
            .schema(
                &json!({"$ref": "#/components/schemas/Money", "description": "ignored in 3.0"}),
                "/x",
            )
            .unwrap();
        assert_eq!(out, json!({"type": "integer", "minimum": 0}));
    }

    #[test]
    fn data_keywords_and_property_names_are_not_keywords() {
        let doc = json!({"components": {"schemas": {"Id": {"type": "string"}}}});
        let schema = json!({"type": "object",
            "properties": {"default": {"$ref": "#/components/schemas/Id"}},
            "default": {"$ref": "literal data"},
            "enum": [{"$ref": "also data"}]});
        let out = Inliner::new(&doc, false).schema(&schema, "/s").unwrap();
        assert_eq!(out["properties"]["default"], json!({"type": "string"}));
        assert_eq!(out["default"], json!({"$ref": "literal data"}));
        assert_eq!(out["enum"], json!([{"$ref": "also data"}]));
    }

    #[test]
    fn remote_recursive_missing_and_exploding_refs_are_refused() {
        let doc = json!({"components": {"schemas": {
            "Node": {"type": "object", "properties": {"next": {"$ref": "#/components/schemas/Node"}}},
        }}});
        let err = |schema: Value| Inliner::new(&doc, false).schema(&schema, "/s").unwrap_err();
        assert!(err(json!({"$ref": "https://evil.example/s.json"})).contains("remote $ref"));
        assert!(err(json!({"$ref": "other.yaml#/X"})).contains("remote $ref"));
        assert!(err(json!({"$ref": "#/components/schemas/Node"})).contains("recursive"));
        assert!(err(json!({"$ref": "#/components/schemas/Nope"})).contains("names nothing"));
        assert!(err(json!({"$ref": "#components"})).contains("not a JSON pointer"));

        // Each level references the next twice: 2^20 copies without a budget.
        let mut schemas = Map::new();
        for level in 0..20 {
            let next = format!("#/components/schemas/L{}", level + 1);
            schemas.insert(
                format!("L{level}"),
                json!({"type": "object", "properties": {"a": {"$ref": next}, "b": {"$ref": next}}}),
            );
        }
        schemas.insert("L20".into(), json!({"type": "string"}));
        let doc = json!({"components": {"schemas": schemas}});
        let message = Inliner::new(&doc, false)
            .schema(&json!({"$ref": "#/components/schemas/L0"}), "/s")
            .unwrap_err();
        assert!(message.contains("more than 50000 values"), "{message}");
    }

    #[test]
    fn follow_walks_chains_and_bounds_them() {
        let doc = json!({"components": {"parameters": {
            "A": {"$ref": "#/components/parameters/B"},
            "B": {"name": "b", "in": "query"},
            "Loop": {"$ref": "#/components/parameters/Loop"},
            "Sp ace": {"name": "s", "in": "query"},
        }}});
        let chain = json!({"$ref": "#/components/parameters/A"});
        let (found, at) = follow(&doc, &chain, "/p").unwrap();
        assert_eq!(
            (found["name"].as_str(), at.as_str()),
            (Some("b"), "/components/parameters/B")
        );
        let encoded = json!({"$ref": "#/components/parameters/Sp%20ace"});
        let (found, _) = follow(&doc, &encoded, "/p").unwrap();
        assert_eq!(found["name"], "s");
        let err = follow(&doc, &json!({"$ref": "#/components/parameters/Loop"}), "/p").unwrap_err();
        assert!(err.contains("chained $refs"), "{err}");
    }

    #[test]
    fn openapi_3_0_keywords_become_json_schema_2020_12() {
        let mut doc = json!({"components": {"schemas": {
            "Amount": {"type": "number", "minimum": 0, "exclusiveMinimum": true, "nullable": true},
            "Status": {"type": "string", "enum": ["open", "paid"], "nullable": true},
            "Cap": {"type": "integer", "maximum": 10, "exclusiveMaximum": false},
            "example": {"type": "object", "properties": {"nullable": {"type": "boolean"}},
                        "example": {"nullable": true}},
        }}});
        assert!(upgrade_3_0(&mut doc));
        let s = &doc["components"]["schemas"];
        assert_eq!(s["Amount"], json!({"type": ["number", "null"], "exclusiveMinimum": 0}));
        assert_eq!(
            s["Status"],
            json!({"type": ["string", "null"], "enum": ["open", "paid", null]})
        );
        assert_eq!(s["Cap"], json!({"type": "integer", "maximum": 10}));
        assert_eq!(s["example"]["properties"]["nullable"], json!({"type": "boolean"}));
        assert_eq!(s["example"]["example"], json!({"nullable": true}), "examples are data");
        assert!(!upgrade_3_0(&mut doc), "a second pass changes nothing");
    }
}
