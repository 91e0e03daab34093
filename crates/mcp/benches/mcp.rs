//! Per-call cost of an MCP tool call to `echo` on the pinned server-everything:
//! raw rmcp, through [`McpClient`] (limits, result mapping, `_meta`), and
//! through the whole [`ToolGateway`] (schema validation, Cedar with the
//! shipped policies, idempotency, drift check, evidence, envelope).
//! The gateway's overhead is `gateway / raw_rmcp`, over stdio and over
//! streamable HTTP (`*_http`). Every iteration sends a new message, so
//! idempotency never short-circuits a call.
//!
//! Needs `tests/peers` installed (`cargo xtask test` does it).

#![expect(clippy::unwrap_used, reason = "a benchmark fails loudly on broken fixtures")]

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};

use contextos_action::ToolAdapter;
use contextos_mcp::{McpClient, McpServerSpec, McpTools, contract_for};
use contextos_testkit::peers::{self, HttpEverything};
use contextos_testkit::{EchoAdapter, TRACE_ID, catalog_of, world};
use divan::Bencher;
use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use rmcp::service::{RoleClient, RunningService};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use serde_json::{Value, json};
use tokio::runtime::Runtime;

fn main() {
    divan::main();
}

fn entry() -> PathBuf {
    peers::entry("server-everything")
}

fn spec() -> McpServerSpec {
    McpServerSpec {
        name: "everything".into(),
        command: "node".into(),
        args: vec![entry().display().to_string()],
        env: Default::default(),
        url: None,
        bearer_token_env: None,
        timeout_secs: 30,
    }
}

fn http_spec(url: &str) -> McpServerSpec {
    McpServerSpec {
        name: "everything-http".into(),
        command: String::new(),
        args: vec![],
        env: Default::default(),
        url: Some(url.into()),
        bearer_token_env: None,
        timeout_secs: 30,
    }
}

fn next_message(counter: &AtomicU64) -> Value {
    json!({ "message": format!("m{}", counter.fetch_add(1, Ordering::Relaxed)) })
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Calls `echo` on a raw rmcp client, a new message per iteration, then closes it.
fn bench_raw(bencher: Bencher, runtime: &Runtime, client: RunningService<RoleClient, ()>) {
    let counter = AtomicU64::new(0);
    bencher.bench_local(|| {
        let mut params = CallToolRequestParams::new("echo");
        params.arguments = next_message(&counter).as_object().cloned();
        runtime.block_on(client.call_tool(params)).unwrap()
    });
    runtime.block_on(client.cancel()).unwrap();
}

#[divan::bench(sample_count = 200)]
fn raw_rmcp(bencher: Bencher) {
    let runtime = runtime();
    let client = runtime
        .block_on(async {
            let mut command = tokio::process::Command::new("node");
            command.arg(entry()).env_clear();
            let (transport, _) = TokioChildProcess::builder(command)
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            ().serve(transport).await
        })
        .unwrap();
    bench_raw(bencher, &runtime, client);
}

#[divan::bench(sample_count = 200)]
fn raw_rmcp_http(bencher: Bencher) {
    let server = HttpEverything::start();
    let runtime = runtime();
    let client = runtime
        .block_on(async {
            let http = contextos_action::http::async_client(std::time::Duration::from_secs(30)).unwrap();
            let config = StreamableHttpClientTransportConfig::with_uri(server.url.as_str());
            ().serve(StreamableHttpClientTransport::with_client(http, config)).await
        })
        .unwrap();
    bench_raw(bencher, &runtime, client);
}

#[divan::bench(sample_count = 200)]
fn gateway_http(bencher: Bencher) {
    let server = HttpEverything::start();
    let mcp = McpTools::new(McpClient::connect(&http_spec(&server.url)).unwrap()).unwrap();
    bench_gateway(bencher, &mcp, &mcp);
}

#[divan::bench(sample_count = 200)]
fn mcp_client(bencher: Bencher) {
    let client = McpClient::connect(&spec()).unwrap();
    let counter = AtomicU64::new(0);
    let meta = json!({ "traceparent": format!("00-{TRACE_ID}-00f067aa0ba902b7-01") });
    bencher.bench_local(|| client.call("echo", next_message(&counter), meta.clone()).unwrap());
}

#[divan::bench(sample_count = 200)]
fn gateway(bencher: Bencher) {
    let mcp = McpTools::new(McpClient::connect(&spec()).unwrap()).unwrap();
    bench_gateway(bencher, &mcp, &mcp);
}

/// The gateway alone: the same contract and policies, an adapter that answers at once.
#[divan::bench(sample_count = 200)]
fn gateway_stub_adapter(bencher: Bencher) {
    let mcp = McpTools::new(McpClient::connect(&spec()).unwrap()).unwrap();
    bench_gateway(bencher, &mcp, &EchoAdapter);
}

fn bench_gateway(bencher: Bencher, mcp: &McpTools, adapter: &dyn ToolAdapter) {
    let echo = mcp.served().find(|t| t.name == "echo").unwrap();
    let w = world(catalog_of([contract_for(echo, "everything")]));
    let gateway = w.gateway(adapter);
    let counter = AtomicU64::new(0);
    bencher.bench_local(|| {
        let out = gateway.call("echo", next_message(&counter)).unwrap();
        assert_eq!(out.envelope.status, contextos_core::ToolCallStatus::Executed);
        out
    });
}
