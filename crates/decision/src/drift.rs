//! How a model request differs from a recorded one, said by tool name and
//! message role rather than by array index: adding one tool is one line,
//! not a JSON pointer for every tool after it.

use contextos_core::{Message, ModelRequest, Role, ToolSpec};

fn role_name(role: Role) -> &'static str {
    match role {
        Role::System => "system",
        Role::User => "user",
        Role::Assistant => "assistant",
        Role::Tool => "tool",
    }
}

/// The changed parts of a tool as offered to the model.
fn tool_parts(a: &ToolSpec, b: &ToolSpec) -> Vec<&'static str> {
    let mut parts = Vec::new();
    if a.description != b.description {
        parts.push("description");
    }
    if a.input_schema != b.input_schema {
        parts.push("parameters");
    }
    parts
}

/// The changed parts of a message at the same position.
fn message_parts(a: &Message, b: &Message) -> Vec<&'static str> {
    let mut parts = Vec::new();
    if a.role != b.role {
        parts.push("role");
    }
    if a.content != b.content {
        parts.push("content");
    }
    if a.tool_calls != b.tool_calls {
        parts.push("tool calls");
    }
    if a.tool_call_id != b.tool_call_id {
        parts.push("tool call id");
    }
    parts
}

/// `message 3 (tool)`, `messages 4-7 (assistant, tool, assistant, tool)`: 1-based positions.
fn messages_span(first: usize, messages: &[Message]) -> String {
    let roles: Vec<&str> = messages.iter().map(|m| role_name(m.role)).collect();
    match messages.len() {
        1 => format!("message {} ({})", first + 1, roles[0]),
        n => format!("messages {}-{} ({})", first + 1, first + n, roles.join(", ")),
    }
}

/// What differs between the `recorded` request and the `new` one, one line
/// per item: `model changed`, `params changed: temperature`, `tool added:
/// restart_service`, `tool removed: …`, `tool changed: read_logs
/// (parameters)`, `tools reordered`, `system prompt changed`, `message 4
/// (tool) changed: content`, `messages 5-6 (assistant, tool) added`. Tools
/// are matched by name and messages by position (1-based); consecutive
/// added or removed messages are one line. Empty when they are equal.
pub fn request_drift(recorded: &ModelRequest, new: &ModelRequest) -> Vec<String> {
    let mut out = Vec::new();
    if recorded.model != new.model {
        out.push(format!("model changed: {} -> {}", recorded.model, new.model));
    }
    let params: Vec<&String> = recorded
        .params
        .keys()
        .chain(new.params.keys())
        .filter(|k| recorded.params.get(*k) != new.params.get(*k))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    if !params.is_empty() {
        let names: Vec<&str> = params.iter().map(|s| s.as_str()).collect();
        out.push(format!("params changed: {}", names.join(", ")));
    }
    let find = |tools: &'_ [ToolSpec], name: &str| tools.iter().position(|t| t.name == name);
    for tool in &recorded.tools {
        match find(&new.tools, &tool.name) {
            None => out.push(format!("tool removed: {}", tool.name)),
            Some(i) => {
                let parts = tool_parts(tool, &new.tools[i]);
                if !parts.is_empty() {
                    out.push(format!("tool changed: {} ({})", tool.name, parts.join(", ")));
                }
            }
        }
    }
    for tool in &new.tools {
        if find(&recorded.tools, &tool.name).is_none() {
            out.push(format!("tool added: {}", tool.name));
        }
    }
    let kept = |a: &[ToolSpec], b: &[ToolSpec]| -> Vec<String> {
        a.iter()
            .filter(|t| find(b, &t.name).is_some())
            .map(|t| t.name.clone())
            .collect()
    };
    if kept(&recorded.tools, &new.tools) != kept(&new.tools, &recorded.tools) {
        out.push("tools reordered".to_string());
    }
    let common = recorded.messages.len().min(new.messages.len());
    for (i, (a, b)) in recorded.messages.iter().zip(&new.messages).enumerate() {
        let parts = message_parts(a, b);
        if parts.is_empty() {
            continue;
        }
        if i == 0 && a.role == Role::System && b.role == Role::System {
            out.push("system prompt changed".to_string());
        } else if parts == ["role"] || a.role != b.role {
            out.push(format!(
                "message {} changed: {} -> {} ({})",
                i + 1,
                role_name(a.role),
                role_name(b.role),
                parts.join(", ")
            ));
        } else {
            out.push(format!(
                "{} changed: {}",
                messages_span(i, std::slice::from_ref(b)),
                parts.join(", ")
            ));
        }
    }
    if new.messages.len() > common {
        out.push(format!("{} added", messages_span(common, &new.messages[common..])));
    }
    if recorded.messages.len() > common {
        out.push(format!(
            "{} removed",
            messages_span(common, &recorded.messages[common..])
        ));
    }
    out
}

/// The 1-based number of the model call that sends `request`: one more than
/// the assistant turns it already holds.
pub fn model_call_number(request: &ModelRequest) -> usize {
    request.messages.iter().filter(|m| m.role == Role::Assistant).count() + 1
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;

    fn tool(name: &str) -> ToolSpec {
        ToolSpec {
            name: name.into(),
            description: format!("{name} does things"),
            input_schema: json!({"type": "object", "properties": {"id": {"type": "string"}}}),
        }
    }

    fn message(role: Role, content: &str) -> Message {
        Message {
            role,
            content: content.into(),
            tool_calls: vec![],
            tool_call_id: None,
        }
    }

    fn request(tools: &[&str]) -> ModelRequest {
        ModelRequest {
            model: "gpt-4o".into(),
            params: BTreeMap::new(),
            tools: tools.iter().map(|t| tool(t)).collect(),
            messages: vec![message(Role::System, "be brief"), message(Role::User, "help")],
        }
    }

    #[test]
    fn adding_a_tool_in_the_middle_is_one_line() {
        let names: Vec<String> = (0..12).map(|i| format!("tool_{i:02}")).collect();
        let before: Vec<&str> = names.iter().map(String::as_str).collect();
        let mut after = before.clone();
        after.insert(3, "restart_service");
        let (a, b) = (request(&before), request(&after));
        assert_eq!(request_drift(&a, &b), vec!["tool added: restart_service"]);
        // The pointer view of the same change names every shifted tool.
        let pointers = contextos_action::differing_pointers(
            &serde_json::to_value(&a).unwrap_or_default(),
            &serde_json::to_value(&b).unwrap_or_default(),
        );
        assert!(pointers.len() > 9, "{pointers:?}");
    }

    #[test]
    fn changes_are_named_by_tool_and_message_role() {
        let a = request(&["read_logs", "restart_service"]);
        let mut b = request(&["read_logs", "page_oncall"]);
        b.tools[0].input_schema = json!({"type": "object"});
        b.messages[0].content = "be polite".into();
        b.messages[1].content = "help me".into();
        b.messages.push(message(Role::Assistant, ""));
        b.messages.push(message(Role::Tool, "ok"));
        b.params.insert("temperature".into(), json!(0.2));
        assert_eq!(
            request_drift(&a, &b),
            vec![
                "params changed: temperature",
                "tool changed: read_logs (parameters)",
                "tool removed: restart_service",
                "tool added: page_oncall",
                "system prompt changed",
                "message 2 (user) changed: content",
                "messages 3-4 (assistant, tool) added",
            ]
        );
        assert!(request_drift(&a, &a).is_empty());
        assert_eq!(
            request_drift(&b, &a).last().map(String::as_str),
            Some("messages 3-4 (assistant, tool) removed")
        );
    }

    #[test]
    fn model_calls_are_counted_by_assistant_turns() {
        let mut r = request(&[]);
        assert_eq!(model_call_number(&r), 1);
        r.messages.push(message(Role::Assistant, ""));
        r.messages.push(message(Role::Tool, "ok"));
        assert_eq!(model_call_number(&r), 2);
    }
}
