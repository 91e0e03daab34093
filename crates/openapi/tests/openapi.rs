//! OpenAPI tools against a real HTTP server on loopback: a small billing API
//! served by `tiny_http` on 127.0.0.1 (a free port) in a thread of the test,
//! described by `tests/fixtures/billing-3.0.yaml` and `billing-3.1.json`,
//! called through the real gateway with the shipped Cedar policies.
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use contextos_action::{AdapterError, SideEffect, ToolAdapter, ToolCatalog, ToolContract};
use contextos_core::{ApprovalMode, Kind, Secret, ToolCallStatus, ToolRequest, ToolResponse};
use contextos_openapi::{
    Dialect, HttpMethod, OpenApiDocument, OpenApiError, OpenApiSource, OpenApiTools, contract_for, pin,
};
use contextos_testkit::{TRACE_ID, catalog_of, world};
use serde_json::{Value, json};

const TOKEN: &str = "billing-token-5f2c9a7e";

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

/// What the server received.
#[derive(Clone, Debug)]
struct Seen {
    method: String,
    url: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The billing API on 127.0.0.1, until dropped.
struct Billing {
    server: Arc<tiny_http::Server>,
    seen: Arc<Mutex<Vec<Seen>>>,
    base_url: String,
}

impl Drop for Billing {
    fn drop(&mut self) {
        self.server.unblock();
    }
}

fn header(name: &str, value: &str) -> tiny_http::Header {
    tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()).unwrap()
}

fn json_response(status: u16, body: &Value) -> tiny_http::Response<std::io::Cursor<Vec<u8>>> {
    tiny_http::Response::from_string(body.to_string())
        .with_status_code(status)
        .with_header(header("Content-Type", "application/json"))
}

fn text_response(status: u16, body: &str) -> tiny_http::Response<std::io::Cursor<Vec<u8>>> {
    tiny_http::Response::from_string(body)
        .with_status_code(status)
        .with_header(header("Content-Type", "text/plain; charset=utf-8"))
}

fn respond(seen: &Seen) -> tiny_http::Response<std::io::Cursor<Vec<u8>>> {
    let path = seen.url.split('?').next().unwrap_or("");
    match (seen.method.as_str(), path) {
        ("GET", "/v1/invoices") => json_response(
            200,
            &json!({"invoices": [{"id": "inv_1", "status": "open"}], "query": seen.url.split('?').nth(1)}),
        ),
        ("POST", "/v1/invoices") => json_response(
            201,
            &json!({"id": "inv_2", "received": serde_json::from_str::<Value>(&seen.body).unwrap_or(Value::Null)}),
        ),
        ("GET", "/v1/invoices/inv_1") => json_response(200, &json!({"id": "inv_1", "amount_cents": 1250})),
        ("GET", "/v1/invoices/inv_note") => text_response(200, "paid in full"),
        ("GET", "/v1/invoices/inv_boom") => text_response(500, "ledger unavailable"),
        ("GET", "/v1/invoices/inv_big") => json_response(200, &json!({"blob": "x".repeat(2 * 1024 * 1024)})),
        ("GET", "/v1/invoices/inv_slow") => {
            thread::sleep(Duration::from_secs(3));
            json_response(200, &json!({"id": "inv_slow"}))
        }
        ("GET", "/v1/invoices/inv_moved") => {
            text_response(302, "").with_header(header("Location", "http://127.0.0.1:9/v2/invoices/inv_moved"))
        }
        ("GET", "/v1/invoices/inv_echo") => text_response(
            200,
            &format!("you sent {}", seen.header("authorization").unwrap_or("nothing")),
        ),
        ("DELETE", p) if p.starts_with("/v1/invoices/inv_") => {
            tiny_http::Response::from_data(Vec::new()).with_status_code(204)
        }
        (_, p) if p.starts_with("/v1/invoices/") => {
            text_response(404, &format!("no invoice {}", p.trim_start_matches("/v1/invoices/")))
        }
        _ => text_response(404, "no route"),
    }
}

fn billing() -> Billing {
    let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
    let port = server.server_addr().to_ip().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (srv, log) = (Arc::clone(&server), Arc::clone(&seen));
    thread::spawn(move || {
        for mut request in srv.incoming_requests() {
            let mut body = String::new();
            request.as_reader().read_to_string(&mut body).unwrap();
            let record = Seen {
                method: request.method().as_str().to_string(),
                url: request.url().to_string(),
                headers: request
                    .headers()
                    .iter()
                    .map(|h| (h.field.as_str().as_str().to_string(), h.value.as_str().to_string()))
                    .collect(),
                body,
            };
            log.lock().unwrap().push(record.clone());
            // A client that gave up (the timeout test) is not an error here.
            let _ = request.respond(respond(&record));
        }
    });
    Billing {
        server,
        seen,
        base_url: format!("http://127.0.0.1:{port}/v1"),
    }
}

fn source(document: &str, base_url: &str) -> OpenApiSource {
    OpenApiSource {
        name: "billing".into(),
        document: fixture(document),
        base_url: Some(base_url.into()),
        get_mode: ApprovalMode::ReadOnly,
        write_mode: ApprovalMode::LocalWrite,
        timeout_secs: 30,
        max_response_bytes: 1024 * 1024,
        headers: [("x-client".to_string(), "contextos-tests".to_string())].into(),
        bearer_token_env: Some("BILLING_TOKEN".into()),
    }
}

fn tools(source: &OpenApiSource) -> OpenApiTools {
    OpenApiTools::new(source, Some(Secret::new(TOKEN))).unwrap()
}

/// The derived contract of every operation, as a catalog (what `tools pin` writes).
fn derived_catalog(tools: &OpenApiTools) -> ToolCatalog {
    catalog_of(tools.document().contracts())
}

/// Calls the adapter directly (no gateway): what it does with HTTP outcomes.
fn call(
    tools: &OpenApiTools,
    catalog: &ToolCatalog,
    name: &str,
    arguments: Value,
) -> Result<ToolResponse, AdapterError> {
    let tool = catalog.get(name).unwrap();
    let request = ToolRequest {
        contract_digest: tool.digest,
        tool: name.into(),
        arguments,
    };
    tools.call(tool, &request, &format!("00-{TRACE_ID}-00f067aa0ba902b7-01"))
}

#[test]
fn a_3_0_yaml_and_a_3_1_json_document_derive_the_same_tools() {
    let v30 = OpenApiDocument::load(&source("billing-3.0.yaml", "http://127.0.0.1:9/v1")).unwrap();
    let v31 = OpenApiDocument::load(&source("billing-3.1.json", "http://127.0.0.1:9/v1")).unwrap();
    assert_eq!((v30.dialect, v31.dialect), (Dialect::V3_0, Dialect::V3_1));
    assert_eq!(v30.title, "Billing");
    assert_eq!(v30.server.as_deref(), Some("http://127.0.0.1:9/v1"));
    let names: Vec<&str> = v30.operations().map(|o| o.name.as_str()).collect();
    assert_eq!(names, ["createInvoice", "getInvoice", "listInvoices", "voidInvoice"]);
    assert_eq!(v30.contracts(), v31.contracts(), "3.0 keywords read as 3.1 says them");

    let list = v30.operation("listInvoices").unwrap();
    assert_eq!((list.method, list.path.as_str()), (HttpMethod::Get, "/invoices"));
    assert_eq!(
        list.input_schema,
        json!({
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "status": {"type": ["string", "null"], "enum": ["open", "paid", "void", null],
                           "description": "Only invoices in this status"},
                "limit": {"type": "integer", "exclusiveMinimum": 0, "maximum": 100},
                "X-Billing-Account": {"type": "string"},
            },
        })
    );
    let create = v30.operation("createInvoice").unwrap();
    assert_eq!(create.input_schema["required"], json!(["body"]));
    assert_eq!(
        create.input_schema["properties"]["body"]["properties"]["amount_cents"],
        json!({"type": "integer", "minimum": 1}),
        "$refs are inlined"
    );
    assert_eq!(
        create.description,
        "Create an invoice\n\nCreates a draft invoice for a customer."
    );
    let get = v30.operation("getInvoice").unwrap();
    assert_eq!(
        get.input_schema["required"],
        json!(["invoice_id"]),
        "path parameters are required"
    );
}

#[test]
fn approval_modes_follow_the_method_and_the_source() {
    let mut config = source("billing-3.0.yaml", "http://127.0.0.1:9/v1");
    let modes = |config: &OpenApiSource| -> Vec<(String, ApprovalMode, SideEffect, bool)> {
        OpenApiDocument::load(config)
            .unwrap()
            .contracts()
            .into_iter()
            .map(|c| (c.name, c.approval_mode, c.side_effect, c.idempotent))
            .collect()
    };
    let by_default = modes(&config);
    assert_eq!(
        by_default,
        [
            (
                "createInvoice".to_string(),
                ApprovalMode::LocalWrite,
                SideEffect::Internal,
                false
            ),
            ("getInvoice".to_string(), ApprovalMode::ReadOnly, SideEffect::None, true),
            (
                "listInvoices".to_string(),
                ApprovalMode::ReadOnly,
                SideEffect::None,
                true
            ),
            (
                "voidInvoice".to_string(),
                ApprovalMode::Destructive,
                SideEffect::Irreversible,
                true
            ),
        ]
    );
    config.get_mode = ApprovalMode::Network;
    config.write_mode = ApprovalMode::Network;
    let networked: Vec<ApprovalMode> = modes(&config).into_iter().map(|(_, mode, _, _)| mode).collect();
    assert_eq!(
        networked,
        [
            ApprovalMode::Network,
            ApprovalMode::Network,
            ApprovalMode::Network,
            ApprovalMode::Destructive
        ],
        "DELETE stays destructive whatever the source says"
    );
}

#[test]
fn gateway_calls_carry_traceparent_path_query_headers_body_and_token() {
    let server = billing();
    let config = source("billing-3.1.json", &server.base_url);
    let tools = tools(&config);
    assert_eq!(
        tools.tool_names(),
        ["createInvoice", "getInvoice", "listInvoices", "voidInvoice"]
    );

    // Pinned as `tools pin` writes them, loaded as a deployment loads them.
    let dir = tempfile::tempdir().unwrap();
    for op in tools.document().operations() {
        pin(&contract_for(op), "billing", dir.path(), false).unwrap();
    }
    let pinned = std::fs::read_to_string(dir.path().join("voidInvoice.yaml")).unwrap();
    assert!(
        pinned.starts_with("# Pinned from OpenAPI source \"billing\""),
        "{pinned}"
    );
    let w = world(ToolCatalog::load(dir.path()).unwrap());

    let got = w.call(&tools, "getInvoice", json!({"invoice_id": "inv_1"})).unwrap();
    assert_eq!(got.envelope.status, ToolCallStatus::Executed);
    assert_eq!(got.envelope.result, Some(json!({"id": "inv_1", "amount_cents": 1250})));

    let listed = w
        .call(
            &tools,
            "listInvoices",
            json!({"status": "open", "limit": 5, "X-Billing-Account": "acct_42"}),
        )
        .unwrap();
    assert_eq!(listed.envelope.status, ToolCallStatus::Executed);

    let invoice = json!({"customer_id": "cus_7", "amount_cents": 990, "memo": null});
    let created = w.call(&tools, "createInvoice", json!({"body": invoice})).unwrap();
    assert_eq!(created.envelope.status, ToolCallStatus::Executed);
    assert_eq!(created.envelope.result.as_ref().unwrap()["received"], invoice);

    let seen = server.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3, "{seen:?}");
    for (request, call) in seen.iter().zip([&got, &listed, &created]) {
        assert_eq!(
            request.header("traceparent"),
            Some(call.envelope.traceparent.as_str()),
            "the envelope's traceparent is the one sent"
        );
        assert!(call.envelope.traceparent.starts_with(&format!("00-{TRACE_ID}-")));
        assert_eq!(
            request.header("authorization"),
            Some(format!("Bearer {TOKEN}").as_str())
        );
        assert_eq!(request.header("accept"), Some("application/json"));
        assert_eq!(request.header("x-client"), Some("contextos-tests"));
    }
    assert_eq!(
        (seen[0].method.as_str(), seen[0].url.as_str()),
        ("GET", "/v1/invoices/inv_1")
    );
    assert_eq!(seen[1].url, "/v1/invoices?status=open&limit=5");
    assert_eq!(seen[1].header("x-billing-account"), Some("acct_42"));
    assert_eq!(
        (seen[2].method.as_str(), seen[2].url.as_str()),
        ("POST", "/v1/invoices")
    );
    assert_eq!(seen[2].header("content-type"), Some("application/json"));
    assert_eq!(serde_json::from_str::<Value>(&seen[2].body).unwrap(), invoice);

    // Nothing recorded holds the token.
    for call in [&got, &listed, &created] {
        let record = serde_json::to_string(&call.envelope).unwrap();
        assert!(!record.contains(TOKEN), "{record}");
    }
}

#[test]
fn a_delete_is_destructive_unless_pinned_otherwise() {
    let server = billing();
    let tools = tools(&source("billing-3.0.yaml", &server.base_url));
    let dir = tempfile::tempdir().unwrap();
    let void = contract_for(tools.document().operation("voidInvoice").unwrap());
    assert_eq!(void.approval_mode, ApprovalMode::Destructive);
    pin(&void, "billing", dir.path(), false).unwrap();

    // As derived: the shipped policies forbid destructive calls in a standard run.
    let w = world(ToolCatalog::load(dir.path()).unwrap());
    let denied = w.call(&tools, "voidInvoice", json!({"invoice_id": "inv_1"})).unwrap();
    assert_eq!(denied.envelope.status, ToolCallStatus::Denied);
    assert!(server.seen.lock().unwrap().is_empty(), "a denied call sends nothing");

    // An operator lowers it in the pinned file: the gateway uses the pin.
    let lowered = ToolContract {
        approval_mode: ApprovalMode::LocalWrite,
        side_effect: SideEffect::Internal,
        ..void
    };
    let again = pin(&lowered, "billing", dir.path(), false).unwrap_err();
    assert!(again.to_string().contains("refusing to overwrite"), "{again}");
    assert!(pin(&lowered, "billing", dir.path(), true).unwrap().replaced);
    let w = world(ToolCatalog::load(dir.path()).unwrap());
    let voided = w.call(&tools, "voidInvoice", json!({"invoice_id": "inv_1"})).unwrap();
    assert_eq!(voided.envelope.status, ToolCallStatus::Executed);
    assert_eq!(voided.envelope.approval_mode, ApprovalMode::LocalWrite);
    assert_eq!(voided.envelope.result, Some(Value::Null), "204 No Content is null");
    let seen = server.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        (seen[0].method.as_str(), seen[0].url.as_str()),
        ("DELETE", "/v1/invoices/inv_1")
    );
}

#[test]
fn http_outcomes_become_results_tool_errors_or_transport_errors() {
    let server = billing();
    let mut config = source("billing-3.1.json", &server.base_url);
    let tools = tools(&config);
    let catalog = derived_catalog(&tools);
    let get = |id: &str| call(&tools, &catalog, "getInvoice", json!({"invoice_id": id}));
    let transport = |id: &str| match get(id) {
        Err(AdapterError::Transport(message)) => message,
        other => panic!("{id}: expected a transport error, got {other:?}"),
    };

    assert_eq!(
        get("inv_404").unwrap(),
        ToolResponse::Error("HTTP 404 Not Found: no invoice inv_404".into())
    );
    assert_eq!(
        get("inv_note").unwrap(),
        ToolResponse::Ok(json!("paid in full")),
        "text is a string"
    );

    let boom = transport("inv_boom");
    assert!(
        boom.starts_with("OpenAPI source \"billing\": GET /invoices/{invoice_id}: answered HTTP 500")
            && boom.ends_with("ledger unavailable"),
        "{boom}"
    );
    let big = transport("inv_big");
    assert!(big.contains("larger than the limit of 1048576 bytes"), "{big}");
    let moved = transport("inv_moved");
    assert!(
        moved.contains("HTTP 302 Found") && moved.contains("redirects are not followed"),
        "{moved}"
    );

    // A server that echoes the credential: the token never reaches a result.
    let echoed = get("inv_echo").unwrap();
    assert_eq!(echoed, ToolResponse::Ok(json!("you sent Bearer [redacted]")));

    // Values that would move the request elsewhere are refused before sending.
    let escaped = get("..").unwrap();
    assert!(
        matches!(&escaped, ToolResponse::Error(e) if e.contains("instead of")),
        "{escaped:?}"
    );
    let encoded = get("a/b").unwrap();
    assert_eq!(
        encoded,
        ToolResponse::Error("HTTP 404 Not Found: no invoice a%2Fb".into())
    );

    // Nobody listens: a transport error that names the source, not the token.
    config.base_url = Some("http://127.0.0.1:9/v1".into());
    let closed = OpenApiTools::new(&config, Some(Secret::new(TOKEN))).unwrap();
    let refused = call(&closed, &catalog, "getInvoice", json!({"invoice_id": "inv_1"})).unwrap_err();
    let message = refused.to_string();
    assert!(
        message.contains("cannot connect") && !message.contains(TOKEN),
        "{message}"
    );
}

#[test]
fn a_slow_endpoint_hits_the_timeout() {
    let server = billing();
    let mut config = source("billing-3.1.json", &server.base_url);
    config.timeout_secs = 1;
    let tools = tools(&config);
    let catalog = derived_catalog(&tools);
    let err = call(&tools, &catalog, "getInvoice", json!({"invoice_id": "inv_slow"})).unwrap_err();
    assert!(err.to_string().contains("no answer within 1 s"), "{err}");
}

#[test]
fn drift_between_the_pin_and_the_document_is_refused_before_sending() {
    let server = billing();
    let tools = tools(&source("billing-3.0.yaml", &server.base_url));
    let mut contract = contract_for(tools.document().operation("getInvoice").unwrap());
    contract.input_schema["properties"]["invoice_id"]["pattern"] = json!("^.*$");
    let mut catalog = ToolCatalog::default();
    catalog.add(contract, "tools/getInvoice.yaml".into()).unwrap();
    let w = world(catalog);
    let err = w
        .call(&tools, "getInvoice", json!({"invoice_id": "inv_1"}))
        .unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("schema drift: the served input schema of getInvoice")
            && message.contains("tools/getInvoice.yaml")
            && message.contains("/properties/invoice_id/pattern")
            && message.contains("pin it again with `contextos tools pin --force`"),
        "{message}"
    );
    assert!(server.seen.lock().unwrap().is_empty(), "a drifted call sends nothing");

    // A contract for an operation the document does not have.
    let mut unknown = contract_for(tools.document().operation("getInvoice").unwrap());
    unknown.name = "refundInvoice".into();
    let catalog = catalog_of([unknown]);
    let err = call(&tools, &catalog, "refundInvoice", json!({"invoice_id": "inv_1"})).unwrap_err();
    assert!(
        err.to_string()
            .contains("OpenAPI source \"billing\" has no operation refundInvoice"),
        "{err}"
    );
}

fn parse_error(file: &str, text: &str) -> String {
    let config = source("unused.yaml", "http://127.0.0.1:9/v1");
    OpenApiDocument::parse(&config, file, text).unwrap_err().to_string()
}

#[test]
fn bad_documents_name_file_line_and_column() {
    let yaml = "openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    get: [unclosed\n";
    let err = parse_error("api.yaml", yaml);
    assert!(err.starts_with("failed to parse api.yaml:"), "{err}");
    let json = "{\n  \"openapi\": \"3.1.0\",\n  \"info\": {\"title\": \"t\" \"version\": \"1\"}\n}";
    let err = parse_error("api.json", json);
    assert!(err.starts_with("failed to parse api.json:3:"), "{err}");
    // Well-formed, but a parameter's `in` is not an OpenAPI location.
    let wrong = "openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    get:\n      operationId: a\n      \
                 parameters:\n        - {name: x, in: body}\n";
    let err = parse_error("api.yaml", wrong);
    assert!(err.starts_with("failed to parse api.yaml:8:"), "{err}");
    let oversized = format!("openapi: 3.1.0\n#{}\n", "x".repeat(contextos_core::MAX_DOCUMENT_BYTES));
    assert!(parse_error("api.yaml", &oversized).contains("more than the limit"));
}

#[test]
fn remote_refs_are_refused_and_nothing_is_fetched() {
    let text = "openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    post:\n      operationId: a\n      \
                requestBody:\n        content:\n          application/json:\n            \
                schema: {$ref: 'https://schemas.example/invoice.json'}\n";
    let err = parse_error("api.yaml", text);
    assert!(
        err.contains("remote $ref \"https://schemas.example/invoice.json\"")
            && err.contains("/paths/~1a/post/requestBody/content/application~1json/schema")
            && err.contains("nothing is fetched"),
        "{err}"
    );
}

#[test]
fn missing_token_and_base_url_are_clear_errors() {
    let config = source("billing-3.1.json", "http://127.0.0.1:9/v1");
    let err = OpenApiTools::new(&config, None).unwrap_err();
    assert!(matches!(err, OpenApiError::MissingToken { .. }), "{err}");
    assert!(err.to_string().contains("BILLING_TOKEN"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let doc = dir.path().join("no-servers.yaml");
    std::fs::write(&doc, "openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths: {}\n").unwrap();
    let bare = OpenApiSource {
        document: doc,
        base_url: None,
        bearer_token_env: None,
        ..config
    };
    let err = OpenApiTools::new(&bare, None).unwrap_err();
    assert!(matches!(err, OpenApiError::BaseUrl { .. }), "{err}");
    assert_eq!(err.kind(), contextos_core::ErrorKind::Input);
}

#[test]
fn a_token_never_goes_to_a_host_the_document_chose() {
    // The document's `servers` point at a live loopback server: the host an
    // attacker who wrote the document would choose.
    let server = billing();
    let dir = tempfile::tempdir().unwrap();
    let doc = dir.path().join("hostile.json");
    let text = std::fs::read_to_string(fixture("billing-3.1.json"))
        .unwrap()
        .replace("http://127.0.0.1:9/v1", &server.base_url);
    std::fs::write(&doc, text).unwrap();
    let config = source("billing-3.1.json", &server.base_url);
    let without_base = OpenApiSource {
        document: doc,
        base_url: None,
        ..config
    };

    // A source that names a token and no base URL is refused, naming it and saying to set `base_url`.
    let err = OpenApiTools::new(&without_base, Some(Secret::new(TOKEN))).unwrap_err();
    assert!(matches!(err, OpenApiError::BaseUrl { .. }), "{err}");
    let message = err.to_string();
    assert!(
        message.contains("OpenAPI source \"billing\"") && message.contains("set `base_url`"),
        "{message}"
    );
    assert_eq!(err.kind(), contextos_core::ErrorKind::Input);
    // So is a token passed for a source that names no variable.
    let unnamed = OpenApiSource {
        bearer_token_env: None,
        ..without_base.clone()
    };
    let err = OpenApiTools::new(&unnamed, Some(Secret::new(TOKEN))).unwrap_err();
    assert!(matches!(err, OpenApiError::BaseUrl { .. }), "{err}");
    // The source spec file says so at parse time too.
    let spec = format!(
        "name: billing\ndocument: {:?}\nbearer_token_env: BILLING_TOKEN\n",
        without_base.document
    );
    let err = OpenApiSource::parse("billing.yaml", &spec).unwrap_err().to_string();
    assert!(err.contains("billing.yaml") && err.contains("set `base_url`"), "{err}");

    // Without credentials the document's server is still used, and gets no Authorization.
    let tools = OpenApiTools::new(&unnamed, None).unwrap();
    assert!(tools.base_url().starts_with(&server.base_url), "{}", tools.base_url());
    let got = call(
        &tools,
        &derived_catalog(&tools),
        "getInvoice",
        json!({"invoice_id": "inv_echo"}),
    )
    .unwrap();
    assert_eq!(got, ToolResponse::Ok(json!("you sent nothing")));
    let seen = server.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(seen.iter().all(|s| s.header("authorization").is_none()), "{seen:?}");
}
