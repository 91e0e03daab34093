//! Per-call cost of an OpenAPI tool call to `GET /v1/invoices` on a loopback
//! `tiny_http` server: a raw reqwest request, the [`OpenApiTools`] adapter
//! alone (drift check, request building, response mapping), the whole
//! [`ToolGateway`] (schema validation, Cedar with the shipped policies,
//! idempotency, evidence, envelope) and the gateway with an adapter that
//! answers at once. The gateway's overhead is `gateway / raw_reqwest`.
//! Every iteration sends a new header value, so idempotency never
//! short-circuits a call.

#![expect(clippy::unwrap_used, reason = "a benchmark fails loudly on broken fixtures")]

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;

use contextos_action::ToolAdapter;
use contextos_core::{ApprovalMode, ToolRequest};
use contextos_openapi::{OpenApiSource, OpenApiTools};
use contextos_testkit::{EchoAdapter, catalog_of, world};
use divan::Bencher;
use serde_json::{Value, json};

const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

fn main() {
    divan::main();
}

/// A loopback server answering every request with a small JSON list; stops when dropped.
struct Server {
    server: Arc<tiny_http::Server>,
    base_url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.server.unblock();
    }
}

fn server() -> Server {
    let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
    let port = server.server_addr().to_ip().unwrap().port();
    let serving = Arc::clone(&server);
    thread::spawn(move || {
        let body = json!({"invoices": [{"id": "inv_1", "status": "open", "amount_cents": 1250}]}).to_string();
        let content_type = tiny_http::Header::from_bytes(&b"Content-Type"[..], &b"application/json"[..]).unwrap();
        for request in serving.incoming_requests() {
            let response = tiny_http::Response::from_string(body.clone()).with_header(content_type.clone());
            let _ = request.respond(response);
        }
    });
    Server {
        server,
        base_url: format!("http://127.0.0.1:{port}/v1"),
    }
}

fn source(base_url: &str) -> OpenApiSource {
    OpenApiSource {
        name: "billing".into(),
        document: Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/billing-3.1.json"),
        base_url: Some(base_url.into()),
        get_mode: ApprovalMode::ReadOnly,
        write_mode: ApprovalMode::LocalWrite,
        timeout_secs: 30,
        max_response_bytes: 1024 * 1024,
        headers: Default::default(),
        bearer_token_env: None,
    }
}

fn next_arguments(counter: &AtomicU64) -> Value {
    json!({ "status": "open", "X-Billing-Account": format!("acct_{}", counter.fetch_add(1, Ordering::Relaxed)) })
}

#[divan::bench(sample_count = 200)]
fn raw_reqwest(bencher: Bencher) {
    let server = server();
    contextos_action::http::install_tls_provider();
    let client = reqwest::blocking::Client::new();
    let url = format!("{}/invoices?status=open", server.base_url);
    let counter = AtomicU64::new(0);
    bencher.bench_local(|| {
        let response = client
            .get(&url)
            .header("accept", "application/json")
            .header("traceparent", TRACEPARENT)
            .header(
                "x-billing-account",
                format!("acct_{}", counter.fetch_add(1, Ordering::Relaxed)),
            )
            .send()
            .unwrap();
        serde_json::from_slice::<Value>(&response.bytes().unwrap()).unwrap()
    });
}

#[divan::bench(sample_count = 200)]
fn adapter(bencher: Bencher) {
    let server = server();
    let tools = OpenApiTools::new(&source(&server.base_url), None).unwrap();
    let catalog = catalog_of(tools.document().contracts());
    let tool = catalog.get("listInvoices").unwrap();
    let counter = AtomicU64::new(0);
    bencher.bench_local(|| {
        let request = ToolRequest {
            contract_digest: tool.digest,
            tool: "listInvoices".into(),
            arguments: next_arguments(&counter),
        };
        tools.call(tool, &request, TRACEPARENT).unwrap()
    });
}

#[divan::bench(sample_count = 200)]
fn gateway(bencher: Bencher) {
    let server = server();
    let tools = OpenApiTools::new(&source(&server.base_url), None).unwrap();
    bench_gateway(bencher, &tools, &tools);
}

/// The gateway alone: the same contract and policies, an adapter that answers at once.
#[divan::bench(sample_count = 200)]
fn gateway_stub_adapter(bencher: Bencher) {
    let tools = OpenApiTools::new(&source("http://127.0.0.1:9/v1"), None).unwrap();
    bench_gateway(bencher, &tools, &EchoAdapter);
}

fn bench_gateway(bencher: Bencher, tools: &OpenApiTools, adapter: &dyn ToolAdapter) {
    let w = world(catalog_of(tools.document().contracts()));
    let gateway = w.gateway(adapter);
    let counter = AtomicU64::new(0);
    bencher.bench_local(|| {
        let done = gateway.call("listInvoices", next_arguments(&counter)).unwrap();
        assert_eq!(done.envelope.status, contextos_core::ToolCallStatus::Executed);
        done
    });
}
