//! The live provider against a loopback server that speaks chat completions:
//! request and response mapping, retries and backoff, limits, timeouts,
//! record-then-replay, and the API key staying out of everything printed or
//! recorded.

#![expect(clippy::unwrap_used, reason = "a test fails loudly on a broken stub")]

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use contextos_action::{RecordedPair, Recording};
use contextos_core::{Message, ModelRequest, ModelResponse, Role, Secret, ToolCall, ToolSpec, Usage};
use contextos_decision::{
    LiveModelConfig, ModelProvider, OpenAiCompatible, ProviderError, RecordedModel, RecordingModel,
};
use serde_json::{Value, json};

const KEY: &str = "live-key-7f3a9c1e5b2d";

/// One canned answer of the stub.
struct Canned {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: String,
    delay: Duration,
}

impl Canned {
    fn json(status: u16, body: &Value) -> Self {
        Self::text(status, body.to_string())
    }

    fn text(status: u16, body: String) -> Self {
        Self {
            status,
            headers: vec![("content-type", "application/json".into())],
            body,
            delay: Duration::ZERO,
        }
    }

    fn header(mut self, name: &'static str, value: &str) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    fn after(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

/// What the stub received.
#[derive(Debug, Clone)]
struct Received {
    method: String,
    path: String,
    headers: BTreeMap<String, String>,
    body: Value,
}

/// A chat-completions server on loopback answering from a queue.
struct Stub {
    base_url: String,
    received: Arc<Mutex<Vec<Received>>>,
    server: Arc<tiny_http::Server>,
    thread: Option<JoinHandle<()>>,
}

impl Stub {
    fn start(canned: Vec<Canned>) -> Self {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
        let port = server.server_addr().to_ip().unwrap().port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let thread = {
            let (server, received) = (server.clone(), received.clone());
            let mut queue: std::collections::VecDeque<Canned> = canned.into();
            std::thread::spawn(move || {
                while let Ok(mut request) = server.recv() {
                    let mut text = String::new();
                    request.as_reader().read_to_string(&mut text).unwrap();
                    received.lock().unwrap().push(Received {
                        method: request.method().to_string(),
                        path: request.url().to_string(),
                        headers: request
                            .headers()
                            .iter()
                            .map(|h| (h.field.as_str().as_str().to_ascii_lowercase(), h.value.to_string()))
                            .collect(),
                        body: serde_json::from_str(&text).unwrap_or(Value::Null),
                    });
                    let canned = queue
                        .pop_front()
                        .unwrap_or_else(|| Canned::text(500, "the stub has no answer left".into()));
                    std::thread::sleep(canned.delay);
                    let mut response = tiny_http::Response::from_string(canned.body).with_status_code(canned.status);
                    for (name, value) in &canned.headers {
                        response.add_header(tiny_http::Header::from_bytes(*name, value.as_bytes()).unwrap());
                    }
                    // The client may have given up (timeout test).
                    let _ = request.respond(response);
                }
            })
        };
        Self {
            base_url: format!("http://127.0.0.1:{port}/v1"),
            received,
            server,
            thread: Some(thread),
        }
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    fn config(&self) -> LiveModelConfig {
        LiveModelConfig {
            backoff_ms: 100,
            ..LiveModelConfig::new(&self.base_url)
        }
    }
}

impl Drop for Stub {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A provider whose waits are recorded instead of slept.
fn provider(config: &LiveModelConfig) -> (OpenAiCompatible, Arc<Mutex<Vec<Duration>>>) {
    let waits = Arc::new(Mutex::new(Vec::new()));
    let log = waits.clone();
    let provider = OpenAiCompatible::new(config, Some(Secret::new(KEY)))
        .unwrap()
        .with_sleeper(move |d| log.lock().unwrap().push(d));
    (provider, waits)
}

fn message(role: Role, content: &str) -> Message {
    Message {
        role,
        content: content.into(),
        tool_calls: Vec::new(),
        tool_call_id: None,
    }
}

fn first_request() -> ModelRequest {
    ModelRequest {
        model: "gpt-4.1-mini".into(),
        params: BTreeMap::from([("max_tokens".into(), json!(800)), ("temperature".into(), json!(0))]),
        tools: vec![ToolSpec {
            name: "lookup_order".into(),
            description: "Look up an order".into(),
            input_schema: json!({"type": "object", "properties": {"order_id": {"type": "string"}}}),
        }],
        messages: vec![
            message(Role::System, "You are a support agent."),
            message(Role::User, "Where is order A-1?"),
        ],
    }
}

/// The conversation after the model called `calls` and the tool answered.
fn second_request(calls: &[ToolCall]) -> ModelRequest {
    let mut request = first_request();
    request.messages.push(Message {
        tool_calls: calls.to_vec(),
        ..message(Role::Assistant, "")
    });
    request.messages.push(Message {
        tool_call_id: Some(calls[0].id.clone()),
        ..message(Role::Tool, r#"{"result":{"status":"shipped"},"status":"executed"}"#)
    });
    request
}

fn tool_call_answer() -> Value {
    json!({
        "id": "chatcmpl-9f8e7d", "object": "chat.completion", "created": 1_754_000_000,
        "model": "gpt-4.1-mini-2025-04-14", "system_fingerprint": "fp_abc",
        "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
            "role": "assistant", "content": null, "refusal": null,
            "tool_calls": [{"id": "call_Qx7RandomServerId", "type": "function",
                "function": {"name": "lookup_order", "arguments": "{\"order_id\": \"A-1\"}"}}]}}],
        "usage": {"prompt_tokens": 120, "completion_tokens": 18, "total_tokens": 138},
    })
}

fn final_answer() -> Value {
    let content = json!({"answer": "Order A-1 has shipped.", "citations": ["call_1"], "confidence": 0.9});
    json!({
        "id": "chatcmpl-0a1b2c", "created": 1_754_000_001,
        "choices": [{"index": 0, "finish_reason": "stop",
            "message": {"role": "assistant", "content": content.to_string()}}],
        "usage": {"prompt_tokens": 160, "completion_tokens": 22},
    })
}

#[test]
fn a_tool_call_turn_then_a_final_answer_round_trips() {
    let stub = Stub::start(vec![
        Canned::json(200, &tool_call_answer()),
        Canned::json(200, &final_answer()),
    ]);
    let (provider, waits) = provider(&stub.config());

    let planned = provider.complete(&first_request()).unwrap();
    assert_eq!(
        planned,
        ModelResponse {
            content: String::new(),
            tool_calls: vec![ToolCall {
                id: "call_1".into(),
                name: "lookup_order".into(),
                arguments: json!({"order_id": "A-1"}),
            }],
            citations: Vec::new(),
            confidence: None,
            usage: Usage {
                prompt_tokens: 120,
                completion_tokens: 18,
            },
        }
    );
    let answered = provider.complete(&second_request(&planned.tool_calls)).unwrap();
    assert_eq!(answered.content, "Order A-1 has shipped.");
    assert_eq!(answered.citations, ["call_1"]);
    assert_eq!(answered.confidence, Some(0.9));
    assert!(answered.tool_calls.is_empty());
    assert_eq!(answered.usage.prompt_tokens, 160);
    assert!(waits.lock().unwrap().is_empty());

    let received = stub.received();
    assert_eq!(received.len(), 2);
    for r in &received {
        assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", "/v1/chat/completions"));
        assert_eq!(r.headers["authorization"], format!("Bearer {KEY}"));
        assert_eq!(r.headers["content-type"], "application/json");
    }
    assert_eq!(
        received[0].body,
        json!({
            "model": "gpt-4.1-mini",
            "max_tokens": 800,
            "temperature": 0,
            "messages": [
                {"role": "system", "content": "You are a support agent."},
                {"role": "user", "content": "Where is order A-1?"},
            ],
            "tools": [{"type": "function", "function": {
                "name": "lookup_order",
                "description": "Look up an order",
                "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}}},
            }}],
        })
    );
    let messages = &received[1].body["messages"];
    assert_eq!(
        messages[2],
        json!({"role": "assistant", "content": null, "tool_calls": [{
            "id": "call_1", "type": "function",
            "function": {"name": "lookup_order", "arguments": "{\"order_id\":\"A-1\"}"},
        }]})
    );
    assert_eq!(
        messages[3],
        json!({"role": "tool", "tool_call_id": "call_1",
            "content": r#"{"result":{"status":"shipped"},"status":"executed"}"#})
    );
}

#[test]
fn no_tools_means_no_tools_key_and_plain_content_is_the_answer() {
    let answer = json!({"choices": [{"message": {"role": "assistant", "content": "It shipped."}}]});
    let stub = Stub::start(vec![Canned::json(200, &answer)]);
    let (provider, _) = provider(&stub.config());
    let request = ModelRequest {
        tools: Vec::new(),
        ..first_request()
    };
    let response = provider.complete(&request).unwrap();
    assert_eq!((response.content.as_str(), response.confidence), ("It shipped.", None));
    assert_eq!(response.usage, Usage::default());
    assert!(stub.received()[0].body.get("tools").is_none());
}

#[test]
fn too_many_requests_is_retried_after_the_servers_delay() {
    let busy = json!({"error": {"message": "Rate limit reached", "type": "requests"}});
    let stub = Stub::start(vec![
        Canned::json(429, &busy).header("retry-after", "120"),
        Canned::json(429, &busy).header("retry-after", "2"),
        Canned::json(429, &busy),
        Canned::json(200, &final_answer()),
    ]);
    let (provider, waits) = provider(&stub.config());
    let response = provider.complete(&first_request()).unwrap();
    assert_eq!(response.content, "Order A-1 has shipped.");
    assert_eq!(stub.received().len(), 4);
    // Retry-After 120 s is capped at 30 s; 2 s beats the 200 ms backoff; then 400 ms.
    assert_eq!(
        *waits.lock().unwrap(),
        [
            Duration::from_secs(30),
            Duration::from_secs(2),
            Duration::from_millis(400)
        ]
    );
}

#[test]
fn server_errors_give_up_after_max_retries_plus_one_attempts() {
    let down = || Canned::text(503, "upstream unavailable".into());
    let stub = Stub::start(vec![down(), down(), down(), down(), Canned::json(200, &final_answer())]);
    let (provider, waits) = provider(&stub.config());
    let err = provider.complete(&first_request()).unwrap_err().to_string();
    assert!(err.contains("503 Service Unavailable: upstream unavailable"), "{err}");
    assert!(err.contains("gave up after 4 attempts"), "{err}");
    assert_eq!(stub.received().len(), 4);
    let expected: Vec<Duration> = [100, 200, 400].into_iter().map(Duration::from_millis).collect();
    assert_eq!(*waits.lock().unwrap(), expected);
}

#[test]
fn a_client_error_is_not_retried() {
    let bad =
        json!({"error": {"message": "Unrecognized request argument supplied: foo", "type": "invalid_request_error"}});
    let stub = Stub::start(vec![Canned::json(400, &bad), Canned::json(200, &final_answer())]);
    let (provider, waits) = provider(&stub.config());
    let err = provider.complete(&first_request()).unwrap_err();
    assert!(matches!(err, ProviderError::Transport(_)));
    let err = err.to_string();
    assert!(err.contains("400 Bad Request"), "{err}");
    assert!(err.contains("Unrecognized request argument supplied: foo"), "{err}");
    assert_eq!(stub.received().len(), 1);
    assert!(waits.lock().unwrap().is_empty());
}

#[test]
fn a_body_over_the_limit_is_refused_not_retried() {
    let mut big = final_answer();
    big["padding"] = json!("x".repeat(4096));
    let stub = Stub::start(vec![Canned::json(200, &big), Canned::json(200, &final_answer())]);
    let config = LiveModelConfig {
        max_response_bytes: 1024,
        ..stub.config()
    };
    let (provider, _) = provider(&config);
    let err = provider.complete(&first_request()).unwrap_err().to_string();
    assert!(err.contains("larger than the limit of 1024 bytes"), "{err}");
    assert_eq!(stub.received().len(), 1);
}

#[test]
fn a_slow_server_times_out() {
    let slow = || Canned::json(200, &final_answer()).after(Duration::from_millis(1500));
    let stub = Stub::start(vec![slow(), slow()]);
    let config = LiveModelConfig {
        timeout_secs: 1,
        max_retries: 1,
        ..stub.config()
    };
    let (provider, waits) = provider(&config);
    let err = provider.complete(&first_request()).unwrap_err().to_string();
    assert!(err.contains("gave up after 2 attempts"), "{err}");
    assert_eq!(*waits.lock().unwrap(), [Duration::from_millis(100)]);
}

#[test]
fn malformed_answers_are_errors_not_panics() {
    let broken_arguments = json!({"choices": [{"message": {"content": null, "tool_calls": [
        {"id": "call_z", "type": "function", "function": {"name": "lookup_order", "arguments": "{\"order_id\": "}}]}}]});
    let stub = Stub::start(vec![
        Canned::json(200, &broken_arguments),
        Canned::text(200, "<html>not json</html>".into()),
        Canned::json(200, &json!({"choices": []})),
    ]);
    let (provider, _) = provider(&stub.config());
    let errors: Vec<String> = (0..3)
        .map(|_| provider.complete(&first_request()).unwrap_err().to_string())
        .collect();
    assert!(
        errors[0].contains("tool call call_z (lookup_order) whose arguments are not JSON"),
        "{}",
        errors[0]
    );
    assert!(errors[1].contains("is not a chat completion"), "{}", errors[1]);
    assert!(errors[2].contains("has no choices"), "{}", errors[2]);
}

#[test]
fn a_recorded_live_run_replays_offline() {
    let stub = Stub::start(vec![
        Canned::json(200, &tool_call_answer()),
        Canned::json(200, &final_answer()),
    ]);
    let (live, _) = provider(&stub.config());
    let recording = RecordingModel::new(live);
    let planned = recording.complete(&first_request()).unwrap();
    let second = second_request(&planned.tool_calls);
    let answered = recording.complete(&second).unwrap();
    let interactions = recording.interactions();
    assert_eq!(interactions.len(), 2);

    // Written as `--record` writes fixtures, loaded as `--fixtures` loads them.
    let dir = tempfile::tempdir().unwrap();
    for (i, (request, response)) in interactions.iter().enumerate() {
        let pair = RecordedPair {
            request: request.clone(),
            response: response.clone(),
        };
        Recording::<ModelRequest, ModelResponse>::write_pair(dir.path(), &format!("{:03}", i + 1), &pair).unwrap();
    }
    let replay = RecordedModel::new(Recording::load("model", dir.path()).unwrap());
    assert_eq!(replay.complete(&first_request()).unwrap(), planned);
    assert_eq!(replay.complete(&second).unwrap(), answered);
    drop(stub);
    // Offline: the stub is gone and nothing else was called.
    assert_eq!(replay.complete(&second).unwrap(), answered);

    let serialized = serde_json::to_string(&interactions).unwrap();
    assert!(!serialized.contains(KEY));
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        assert!(!std::fs::read_to_string(entry.unwrap().path()).unwrap().contains(KEY));
    }
}

#[test]
fn the_key_is_absent_from_every_error_and_debug_string() {
    // The server echoes the credential back, as some do in their errors.
    let echo = format!(r#"{{"error": {{"message": "Incorrect API key provided: Bearer {KEY}"}}}}"#);
    let stub = Stub::start(vec![
        Canned::text(401, echo.clone()),
        Canned::text(503, echo.clone()),
        Canned::text(503, echo.clone()),
        Canned::text(200, format!("not json {KEY}")),
        Canned::json(200, &json!({"padding": "x".repeat(2048), "key": KEY})),
        Canned::json(
            200,
            &json!({"choices": [{"message": {"tool_calls": [
            {"id": KEY, "type": "function", "function": {"name": "t", "arguments": "{"}}]}}]}),
        ),
        Canned::json(200, &final_answer()).after(Duration::from_millis(1500)),
    ]);
    let config = LiveModelConfig {
        max_retries: 1,
        ..stub.config()
    };
    let (provider, _) = provider(&config);
    let mut shown = vec![format!("{provider:?}")];
    let mut fail = |provider: &OpenAiCompatible| {
        let err = provider.complete(&first_request()).unwrap_err();
        shown.push(err.to_string());
        shown.push(format!("{err:?}"));
    };
    fail(&provider); // 401, echoed
    fail(&provider); // 503 twice, echoed
    fail(&provider); // not JSON, echoed
    let small = LiveModelConfig {
        max_response_bytes: 1024,
        ..config.clone()
    };
    fail(&self::provider(&small).0); // over the limit
    fail(&provider); // unparseable arguments of a call whose id is the key
    fail(
        &self::provider(&LiveModelConfig {
            timeout_secs: 1,
            max_retries: 0,
            ..config.clone()
        })
        .0,
    ); // timeout
    let closed = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    fail(&self::provider(&LiveModelConfig::new(format!("http://127.0.0.1:{closed}/v1"))).0); // refused
    let no_key = OpenAiCompatible::new(&config, None).unwrap_err();
    shown.push(no_key.to_string());
    let empty_key = OpenAiCompatible::new(&config, Some(Secret::new("  "))).unwrap_err();
    shown.push(empty_key.to_string());
    let bad_config = OpenAiCompatible::new(&LiveModelConfig::new("ftp://x"), Some(Secret::new(KEY))).unwrap_err();
    shown.push(format!("{bad_config:?}"));

    assert!(
        no_key
            .to_string()
            .contains("set the environment variable OPENAI_API_KEY"),
        "{no_key}"
    );
    assert!(shown[1].contains("401 Unauthorized"), "{}", shown[1]);
    assert!(shown.iter().any(|s| s.contains("[redacted]")), "{shown:#?}");
    for text in &shown {
        assert!(!text.contains(KEY), "the key leaked into: {text}");
    }
}
