//! The MCP client against the real reference servers pinned in `tests/peers`
//! (installed by `cargo xtask test`), and through the real gateway with the
//! shipped Cedar policies. One server process per test: node starts in ~0.7 s.
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use std::collections::BTreeMap;
use std::fs;

use contextos_action::{ToolCatalog, ToolContract};
use contextos_core::{ApprovalMode, ToolCallStatus, ToolResponse, parse_yaml};
use contextos_mcp::{
    DiscoveredTool, McpClient, McpError, McpServerSpec, McpTools, check_drift, conservative_mode, contract_for, pin,
};
use contextos_testkit::peers::{self, HttpEverything};
use contextos_testkit::{TRACE_ID, world};
use serde_json::{Value, json};

fn spec(name: &str, package: &str, args: &[&str], env: &[(&str, &str)]) -> McpServerSpec {
    McpServerSpec {
        name: name.into(),
        command: "node".into(),
        args: std::iter::once(peers::entry(package).display().to_string())
            .chain(args.iter().map(|a| a.to_string()))
            .collect(),
        env: env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        url: None,
        bearer_token_env: None,
        timeout_secs: 30,
    }
}

/// A spec for server-everything over streamable HTTP at `url`.
fn http_spec(url: &str) -> McpServerSpec {
    McpServerSpec {
        name: "everything-http".into(),
        command: String::new(),
        args: vec![],
        env: BTreeMap::new(),
        url: Some(url.into()),
        bearer_token_env: None,
        timeout_secs: 30,
    }
}

fn tool<'a>(tools: &'a [DiscoveredTool], name: &str) -> &'a DiscoveredTool {
    tools.iter().find(|t| t.name == name).unwrap()
}

#[test]
fn everything_lists_tools_and_echoes_with_a_traceparent() {
    // `tee` keeps a copy of what the client writes, to check the `_meta` on the wire.
    let dir = tempfile::tempdir().unwrap();
    let wire = dir.path().join("wire.jsonl");
    let mut everything = spec("everything", "server-everything", &[], &[("PROBE", "only-me")]);
    everything.env.insert("WIRE".into(), wire.display().to_string());
    everything.env.insert("ENTRY".into(), everything.args.remove(0));
    everything.command = "sh".into();
    everything.args = vec!["-c".into(), r#"tee "$WIRE" | exec node "$ENTRY""#.into()];
    let client = McpClient::connect(&everything).unwrap();
    let tools = client.list_tools().unwrap();
    let echo = tool(&tools, "echo");
    assert_eq!(echo.input_schema["properties"]["message"]["type"], "string");
    assert_eq!(conservative_mode(&echo.annotations), ApprovalMode::ReadOnly);

    let meta = json!({ "traceparent": format!("00-{TRACE_ID}-00f067aa0ba902b7-01") });
    let response = client
        .call("echo", json!({ "message": "hello" }), meta.clone())
        .unwrap();
    assert_eq!(response, ToolResponse::Ok(json!("Echo: hello")));
    // `tee` may answer through the pipe before its copy reaches the file: wait for the line.
    let line = (0..100)
        .find_map(|_| {
            let sent = fs::read_to_string(&wire).unwrap_or_default();
            let line = sent.lines().find(|l| l.contains("tools/call")).map(str::to_string);
            if line.is_none() {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            line
        })
        .expect("the tools/call request reaches the wire copy");
    let request: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(
        request["params"]["_meta"]["traceparent"], meta["traceparent"],
        "the traceparent travels in _meta: {request}"
    );

    // The server sees the spec's environment and nothing else.
    let ToolResponse::Ok(Value::String(env)) = client.call("get-env", Value::Null, Value::Null).unwrap() else {
        unreachable!("get-env answers with text")
    };
    let env: BTreeMap<String, String> = serde_json::from_str(&env).unwrap();
    assert_eq!(env.get("PROBE").map(String::as_str), Some("only-me"));
    assert!(!env.contains_key("HOME") && !env.contains_key("PATH"), "{env:?}");

    // A JSON-RPC refusal is a tool error; malformed requests never leave the process.
    let unknown = client.call("no-such-tool", json!({}), Value::Null).unwrap();
    assert!(
        matches!(unknown, ToolResponse::Error(ref e) if e.contains("no-such-tool")),
        "{unknown:?}"
    );
    let invalid = client.call("echo", json!("hello"), Value::Null).unwrap_err();
    assert!(matches!(invalid, McpError::InvalidRequest { .. }), "{invalid}");
}

#[test]
fn a_server_that_cannot_start_is_a_clear_error() {
    let mut bad = spec("everything", "server-everything", &[], &[]);
    bad.command = "/nonexistent/node".into();
    let err = McpClient::connect(&bad).unwrap_err().to_string();
    assert!(err.contains("cannot connect to MCP server \"everything\""), "{err}");
}

#[test]
fn filesystem_hints_pins_gateway_calls_and_drift() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    fs::create_dir_all(&root).unwrap();
    let root = root.canonicalize().unwrap();
    let note = root.join("note.txt");
    fs::write(&note, "hello from the tempdir").unwrap();
    let client = McpClient::connect(&spec(
        "filesystem",
        "server-filesystem",
        &[&root.display().to_string()],
        &[],
    ))
    .unwrap();
    let mcp = McpTools::new(client).unwrap();
    let served: Vec<DiscoveredTool> = mcp.served().cloned().collect();

    // Annotations become conservative modes.
    let mode = |name: &str| conservative_mode(&tool(&served, name).annotations);
    assert_eq!(mode("read_text_file"), ApprovalMode::ReadOnly);
    assert_eq!(mode("write_file"), ApprovalMode::Destructive);
    assert_eq!(mode("move_file"), ApprovalMode::Destructive);
    assert_eq!(mode("create_directory"), ApprovalMode::LocalWrite);

    // Pin two tools; the pinned files load as a catalog and match what is served.
    let pins = dir.path().join("tools");
    for name in ["read_text_file", "write_file"] {
        let outcome = pin(
            &contract_for(tool(&served, name), "filesystem"),
            "filesystem",
            &pins,
            false,
        )
        .unwrap();
        assert!(!outcome.replaced);
    }
    let again = pin(
        &contract_for(tool(&served, "write_file"), "filesystem"),
        "filesystem",
        &pins,
        false,
    )
    .unwrap_err();
    assert!(matches!(again, McpError::AlreadyPinned { .. }), "{again}");
    let catalog = ToolCatalog::load(&pins).unwrap();
    let report = check_drift(&catalog, &served).unwrap();
    assert!(!report.has_drift(), "{report:?}");
    assert_eq!(report.unchanged, ["read_text_file", "write_file"]);
    assert!(report.unpinned.contains(&"move_file".to_string()));

    // The read goes through the whole gateway (shipped policies allow read_only in tenant).
    let w = world(catalog);
    let path = note.display().to_string();
    let read = w.call(&mcp, "read_text_file", json!({ "path": path })).unwrap();
    assert_eq!(read.envelope.status, ToolCallStatus::Executed);
    let result = read.envelope.result.unwrap();
    assert!(result.to_string().contains("hello from the tempdir"), "{result}");
    assert!(read.envelope.traceparent.starts_with(&format!("00-{TRACE_ID}-")));
    assert_eq!(read.envelope.evidence_refs.len(), 2, "request and result are evidence");

    // The destructive write is denied by policy before the adapter runs.
    let written = root.join("new.txt");
    let write = w
        .call(
            &mcp,
            "write_file",
            json!({ "path": written.display().to_string(), "content": "x" }),
        )
        .unwrap();
    assert_eq!(write.envelope.status, ToolCallStatus::Denied);
    assert!(!written.exists(), "a denied call has no effect");

    // Drift: the pinned contract now demands a property the server does not serve.
    let file = pins.join("read_text_file.yaml");
    let mut contract: ToolContract = parse_yaml("read_text_file.yaml", &fs::read_to_string(&file).unwrap()).unwrap();
    contract.input_schema["properties"]["encoding"] = json!({ "type": "string" });
    contract.input_schema["required"] = json!(["path", "encoding"]);
    fs::remove_file(&file).unwrap();
    pin(&contract, "filesystem", &pins, false).unwrap();
    let catalog = ToolCatalog::load(&pins).unwrap();
    let report = check_drift(&catalog, &served).unwrap();
    assert_eq!(report.drifted.len(), 1, "{report:?}");
    let drift = &report.drifted[0];
    assert_eq!(drift.tool, "read_text_file");
    assert_eq!(drift.pointers, ["/properties/encoding", "/required/1"]);
    assert_ne!(drift.pinned, drift.served);

    let w = world(catalog);
    let refused = w
        .call(&mcp, "read_text_file", json!({ "path": path, "encoding": "utf-8" }))
        .unwrap_err();
    let message = refused.to_string();
    assert!(
        message.contains("schema drift") && message.contains("/properties/encoding"),
        "{message}"
    );
}

#[test]
fn memory_creates_entities_then_reads_the_graph() {
    let dir = tempfile::tempdir().unwrap();
    let memory_file = dir.path().join("memory.jsonl");
    let memory_path = memory_file.display().to_string();
    let client = McpClient::connect(&spec(
        "memory",
        "server-memory",
        &[],
        &[("MEMORY_FILE_PATH", &memory_path)],
    ))
    .unwrap();
    let tools = client.list_tools().unwrap();
    assert_eq!(
        conservative_mode(&tool(&tools, "create_entities").annotations),
        ApprovalMode::LocalWrite
    );
    assert_eq!(
        conservative_mode(&tool(&tools, "delete_entities").annotations),
        ApprovalMode::Destructive
    );
    assert_eq!(
        conservative_mode(&tool(&tools, "read_graph").annotations),
        ApprovalMode::ReadOnly
    );

    let entities = json!({ "entities": [
        { "name": "ACME-778", "entityType": "customer", "observations": ["prefers email"] }
    ]});
    let created = client.call("create_entities", entities, Value::Null).unwrap();
    assert!(matches!(created, ToolResponse::Ok(_)), "{created:?}");
    let graph = client.call("read_graph", json!({}), Value::Null).unwrap();
    let ToolResponse::Ok(graph) = graph else {
        unreachable!("read_graph failed: {graph:?}")
    };
    assert!(graph.to_string().contains("prefers email"), "{graph}");
    assert!(
        fs::read_to_string(&memory_file).unwrap().contains("ACME-778"),
        "the graph lives in MEMORY_FILE_PATH"
    );
}

#[test]
fn everything_over_streamable_http_lists_and_calls_through_the_gateway() {
    let peer = HttpEverything::start();
    let mcp = McpTools::new(McpClient::connect(&http_spec(&peer.url)).unwrap()).unwrap();
    let served: Vec<DiscoveredTool> = mcp.served().cloned().collect();
    let echo = tool(&served, "echo");
    assert_eq!(echo.input_schema["properties"]["message"]["type"], "string");
    assert_eq!(conservative_mode(&echo.annotations), ApprovalMode::ReadOnly);

    // Pin echo and call it through the whole gateway, as a run would.
    let dir = tempfile::tempdir().unwrap();
    pin(
        &contract_for(echo, "everything-http"),
        "everything-http",
        dir.path(),
        false,
    )
    .unwrap();
    let w = world(ToolCatalog::load(dir.path()).unwrap());
    let call = w.call(&mcp, "echo", json!({ "message": "over http" })).unwrap();
    assert_eq!(call.envelope.status, ToolCallStatus::Executed);
    assert_eq!(call.envelope.result, Some(json!("Echo: over http")));
    assert!(call.envelope.traceparent.starts_with(&format!("00-{TRACE_ID}-")));

    // The same name and schema pinned from another server is not this tool:
    // the call is refused as source drift before it reaches the server.
    let elsewhere = tempfile::tempdir().unwrap();
    pin(
        &contract_for(echo, "other-server"),
        "other-server",
        elsewhere.path(),
        false,
    )
    .unwrap();
    let pinned = std::fs::read_to_string(elsewhere.path().join("echo.yaml")).unwrap();
    assert!(pinned.contains("source: mcp:other-server"), "{pinned}");
    let w = world(ToolCatalog::load(elsewhere.path()).unwrap());
    let refused = w
        .call(&mcp, "echo", json!({ "message": "over http" }))
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains("source drift: echo")
            && refused.contains("pinned from mcp:other-server, served by mcp:everything-http"),
        "{refused}"
    );

    // A refusal over HTTP is a tool error too.
    let unknown = mcp.client().call("no-such-tool", json!({}), Value::Null).unwrap();
    assert!(
        matches!(unknown, ToolResponse::Error(ref e) if e.contains("no-such-tool")),
        "{unknown:?}"
    );
}

#[test]
fn an_http_server_gets_the_bearer_token_and_a_refusal_is_a_clear_error() {
    // A loopback endpoint that records the Authorization header and refuses.
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let port = server.server_addr().to_ip().unwrap().port();
    let seen = std::thread::spawn(move || {
        let request = server.recv().unwrap();
        let auth = request
            .headers()
            .iter()
            .find(|h| h.field.equiv("authorization"))
            .map(|h| h.value.to_string());
        request
            .respond(tiny_http::Response::from_string("no").with_status_code(403))
            .unwrap();
        auth
    });
    let spec = McpServerSpec {
        name: "guarded".into(),
        command: String::new(),
        args: vec![],
        env: BTreeMap::new(),
        url: Some(format!("http://127.0.0.1:{port}/mcp")),
        bearer_token_env: Some("GUARDED_TOKEN".into()),
        timeout_secs: 5,
    };
    let token = contextos_core::Secret::new("tok-0123456789abcdef");
    let err = McpClient::connect_with(&spec, contextos_mcp::Limits::DEFAULT, Some(&token))
        .unwrap_err()
        .to_string();
    assert_eq!(seen.join().unwrap().as_deref(), Some("Bearer tok-0123456789abcdef"));
    assert!(
        err.contains("cannot connect to MCP server \"guarded\"") && err.contains("/mcp"),
        "{err}"
    );
    assert!(
        !err.contains("tok-0123456789abcdef"),
        "the token never reaches a message: {err}"
    );
}
