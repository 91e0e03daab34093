//! Per-call cost of the live provider against a loopback chat-completions
//! stub: a raw reqwest POST of a prebuilt body (the HTTP round trip alone)
//! and [`OpenAiCompatible::complete`] (request mapping, the same POST,
//! response parsing and normalization). The provider's overhead is
//! `provider - raw_post`. The conversation has a system prompt, a user
//! message, one tool turn and two tools; the answer is a final JSON answer
//! with citations.

#![expect(clippy::unwrap_used, reason = "a benchmark fails loudly on a broken stub")]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use contextos_core::{Message, ModelRequest, Role, Secret, ToolCall, ToolSpec};
use contextos_decision::{LiveModelConfig, ModelProvider, OpenAiCompatible};
use divan::Bencher;
use serde_json::{Value, json};

fn main() {
    divan::main();
}

/// Answers every request with the same chat completion.
struct Stub {
    base_url: String,
    server: Arc<tiny_http::Server>,
    threads: Vec<JoinHandle<()>>,
}

impl Stub {
    fn start() -> Self {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
        let port = server.server_addr().to_ip().unwrap().port();
        let answer = json!({"answer": "Order A-1 has shipped.", "citations": ["call_1"], "confidence": 0.9});
        let body = json!({
            "id": "chatcmpl-9f8e7d", "object": "chat.completion", "created": 1_754_000_000,
            "model": "gpt-4.1-mini-2025-04-14", "system_fingerprint": "fp_abc",
            "choices": [{"index": 0, "finish_reason": "stop",
                "message": {"role": "assistant", "content": answer.to_string(), "refusal": null}}],
            "usage": {"prompt_tokens": 812, "completion_tokens": 31, "total_tokens": 843},
        })
        .to_string();
        let threads = (0..2)
            .map(|_| {
                let (server, body) = (server.clone(), body.clone());
                std::thread::spawn(move || {
                    while let Ok(mut request) = server.recv() {
                        let mut sink = Vec::new();
                        request.as_reader().read_to_end(&mut sink).unwrap();
                        let header = tiny_http::Header::from_bytes("content-type", "application/json").unwrap();
                        let _ = request.respond(tiny_http::Response::from_string(body.as_str()).with_header(header));
                    }
                })
            })
            .collect();
        Self {
            base_url: format!("http://127.0.0.1:{port}/v1"),
            server,
            threads,
        }
    }
}

impl Drop for Stub {
    fn drop(&mut self) {
        for _ in &self.threads {
            self.server.unblock();
        }
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

fn message(role: Role, content: &str) -> Message {
    Message {
        role,
        content: content.into(),
        tool_calls: Vec::new(),
        tool_call_id: None,
    }
}

fn request() -> ModelRequest {
    let schema = json!({"type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]});
    ModelRequest {
        model: "gpt-4.1-mini".into(),
        params: BTreeMap::from([("max_tokens".into(), json!(800)), ("temperature".into(), json!(0))]),
        tools: ["lookup_order", "refund_order"]
            .into_iter()
            .map(|name| ToolSpec {
                name: name.into(),
                description: format!("{name} for a customer order"),
                input_schema: schema.clone(),
            })
            .collect(),
        messages: vec![
            message(
                Role::System,
                &"You are a support agent. Cite the tool calls you rely on. ".repeat(40),
            ),
            message(Role::User, "Where is order A-1, and can it still be refunded?"),
            Message {
                tool_calls: vec![ToolCall {
                    id: "call_1".into(),
                    name: "lookup_order".into(),
                    arguments: json!({"order_id": "A-1"}),
                }],
                ..message(Role::Assistant, "")
            },
            Message {
                tool_call_id: Some("call_1".into()),
                ..message(
                    Role::Tool,
                    r#"{"result":{"order_id":"A-1","status":"shipped"},"status":"executed"}"#,
                )
            },
        ],
    }
}

/// The body the provider sends for [`request`], built by hand.
fn raw_body(request: &ModelRequest) -> Vec<u8> {
    let messages: Vec<Value> = request
        .messages
        .iter()
        .map(|m| match m.role {
            Role::System => json!({"role": "system", "content": m.content}),
            Role::User => json!({"role": "user", "content": m.content}),
            Role::Assistant => {
                json!({"role": "assistant", "content": null, "tool_calls": m.tool_calls.iter().map(|c| json!({
                "id": c.id, "type": "function",
                "function": {"name": c.name, "arguments": c.arguments.to_string()},
            })).collect::<Vec<_>>()})
            }
            Role::Tool => json!({"role": "tool", "tool_call_id": m.tool_call_id, "content": m.content}),
        })
        .collect();
    let tools: Vec<Value> = request
        .tools
        .iter()
        .map(|t| json!({"type": "function", "function": {"name": t.name, "description": t.description, "parameters": t.input_schema}}))
        .collect();
    serde_json::to_vec(&json!({
        "model": request.model, "max_tokens": 800, "temperature": 0, "messages": messages, "tools": tools,
    }))
    .unwrap()
}

#[divan::bench]
fn raw_post(bencher: Bencher) {
    let stub = Stub::start();
    let client = contextos_action::http::blocking_client(Duration::from_secs(10)).unwrap();
    let url = format!("{}/chat/completions", stub.base_url);
    let body = raw_body(&request());
    bencher.bench_local(|| {
        let response = client
            .post(&url)
            .header("authorization", "Bearer bench-key")
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .unwrap();
        let bytes = contextos_action::http::read_limited(response, 4 * 1024 * 1024).unwrap();
        divan::black_box(bytes)
    });
}

#[divan::bench]
fn provider(bencher: Bencher) {
    let stub = Stub::start();
    let config = LiveModelConfig::new(&stub.base_url);
    let provider = OpenAiCompatible::new(&config, Some(Secret::new("bench-key"))).unwrap();
    let request = request();
    assert_eq!(provider.complete(&request).unwrap().citations, ["call_1"]);
    bencher.bench_local(|| provider.complete(&request).unwrap());
}
