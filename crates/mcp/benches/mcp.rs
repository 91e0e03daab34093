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

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};

use cedar_policy::Entities;
use contextos_action::{
    AdapterError, GatewayContext, LoadedTool, MemoryIdempotency, RecordedApprover, ToolAdapter, ToolCatalog,
    ToolGateway,
};
use contextos_core::{
    AgentRef, ApprovalMode, FixedClock, RunBudget, RunContext, SafetyMode, SequentialIdGen, Timestamp, ToolCall,
    ToolRequest, ToolResponse, UserRef,
};
use contextos_intelligence::{BudgetLeft, identity_entities, principal_uid};
use contextos_mcp::{McpClient, McpServerSpec, McpTools, contract_for};
use contextos_trust::PolicyEngine;
use divan::Bencher;
use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use serde_json::{Value, json};

fn main() {
    divan::main();
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn entry() -> String {
    let entry = repo().join("tests/peers/node_modules/@modelcontextprotocol/server-everything/dist/index.js");
    assert!(
        entry.is_file(),
        "{} is missing: run `cargo xtask test` (it installs tests/peers)",
        entry.display()
    );
    entry.display().to_string()
}

fn spec() -> McpServerSpec {
    McpServerSpec {
        name: "everything".into(),
        command: "node".into(),
        args: vec![entry()],
        env: Default::default(),
        url: None,
        bearer_token_env: None,
        timeout_secs: 30,
    }
}

fn next_message(counter: &AtomicU64) -> Value {
    json!({ "message": format!("m{}", counter.fetch_add(1, Ordering::Relaxed)) })
}

#[divan::bench(sample_count = 200)]
fn raw_rmcp(bencher: Bencher) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
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
    let counter = AtomicU64::new(0);
    bencher.bench_local(|| {
        let mut params = CallToolRequestParams::new("echo");
        params.arguments = next_message(&counter).as_object().cloned();
        runtime.block_on(client.call_tool(params)).unwrap()
    });
    runtime.block_on(client.cancel()).unwrap();
}

/// server-everything in streamable HTTP mode on a free loopback port, killed on drop.
struct HttpServer {
    child: std::process::Child,
    url: String,
}

impl HttpServer {
    fn start() -> Self {
        use std::io::{BufRead, BufReader};
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = std::process::Command::new("node")
            .args([entry().as_str(), "streamableHttp"])
            .env("PORT", port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = BufReader::new(child.stderr.take().unwrap());
        let listening = stderr
            .lines()
            .map_while(Result::ok)
            .any(|l| l.contains("listening on port"));
        assert!(listening, "server-everything (streamableHttp) did not start");
        Self {
            child,
            url: format!("http://127.0.0.1:{port}/mcp"),
        }
    }

    fn spec(&self) -> McpServerSpec {
        McpServerSpec {
            name: "everything-http".into(),
            command: String::new(),
            args: vec![],
            env: Default::default(),
            url: Some(self.url.clone()),
            bearer_token_env: None,
            timeout_secs: 30,
        }
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[divan::bench(sample_count = 200)]
fn raw_rmcp_http(bencher: Bencher) {
    let server = HttpServer::start();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = runtime
        .block_on(async {
            let http = contextos_action::http::async_client(std::time::Duration::from_secs(30)).unwrap();
            let config = StreamableHttpClientTransportConfig::with_uri(server.url.as_str());
            ().serve(StreamableHttpClientTransport::with_client(http, config)).await
        })
        .unwrap();
    let counter = AtomicU64::new(0);
    bencher.bench_local(|| {
        let mut params = CallToolRequestParams::new("echo");
        params.arguments = next_message(&counter).as_object().cloned();
        runtime.block_on(client.call_tool(params)).unwrap()
    });
    runtime.block_on(client.cancel()).unwrap();
}

#[divan::bench(sample_count = 200)]
fn gateway_http(bencher: Bencher) {
    let server = HttpServer::start();
    let mcp = McpTools::new(McpClient::connect(&server.spec()).unwrap()).unwrap();
    bench_gateway(bencher, &mcp, &mcp);
}

#[divan::bench(sample_count = 200)]
fn mcp_client(bencher: Bencher) {
    let client = McpClient::connect(&spec()).unwrap();
    let counter = AtomicU64::new(0);
    let meta = json!({ "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" });
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
    struct Stub;
    impl ToolAdapter for Stub {
        fn call(&self, _: &LoadedTool, request: &ToolRequest, _: &str) -> Result<ToolResponse, AdapterError> {
            Ok(ToolResponse::Ok(request.arguments.clone()))
        }
    }
    let mcp = McpTools::new(McpClient::connect(&spec()).unwrap()).unwrap();
    bench_gateway(bencher, &mcp, &Stub);
}

fn bench_gateway(bencher: Bencher, mcp: &McpTools, adapter: &dyn ToolAdapter) {
    let echo = mcp.served().find(|t| t.name == "echo").unwrap();
    let mut catalog = ToolCatalog::default();
    catalog.add(contract_for(echo), "echo.yaml".into()).unwrap();
    let policy = PolicyEngine::load(&repo().join("policies")).unwrap();
    let run = RunContext {
        format_version: 1,
        run_id: "run_mcp_bench".into(),
        trace_id: "4bf92f3577b34da6a3ce929d0e0e4736".into(),
        session_id: "s".into(),
        tenant_id: "acme".into(),
        user: UserRef {
            id: "alice".into(),
            roles: vec!["support_agent".into()],
        },
        agent: AgentRef {
            id: "triage-bot".into(),
            workload: "spiffe://acme.example/agents/triage-bot".into(),
        },
        delegation_chain: vec![],
        safety_mode: SafetyMode::Standard,
        approval_mode: ApprovalMode::Destructive,
        budget: RunBudget {
            max_iterations: 5,
            max_tool_calls: 10,
            max_tokens: 10_000,
            deadline: None,
        },
    };
    let mut entities = identity_entities(&run);
    entities.extend(catalog.cedar_entities());
    let entities = Entities::from_json_value(Value::Array(entities), Some(policy.schema())).unwrap();
    let clock = FixedClock::new(Timestamp(1_000), 1);
    let ids = SequentialIdGen::new("b");
    let approver = RecordedApprover::new(vec![]);
    let idempotency = MemoryIdempotency::default();
    let gateway = ToolGateway {
        catalog: &catalog,
        policy: &policy,
        adapter,
        approver: &approver,
        clock: &clock,
        ids: &ids,
        idempotency: &idempotency,
    };
    let ctx = GatewayContext {
        run: &run,
        principal: principal_uid(&run).unwrap(),
        entities: &entities,
        budget_left: BudgetLeft {
            tool_calls: 5,
            tokens: 5_000,
        },
    };
    let counter = AtomicU64::new(0);
    bencher.bench_local(|| {
        let call = ToolCall {
            id: "call_echo".into(),
            name: "echo".into(),
            arguments: next_message(&counter),
        };
        let out = gateway.call(&call, &ctx).unwrap();
        assert_eq!(out.envelope.status, contextos_core::ToolCallStatus::Executed);
        out
    });
}
