//! The fuzz targets: one per group of parsers, the first input byte choosing
//! the parser where a group has several (its selector, `byte % count`).
//! Parsers that only read files get the input written into a scratch
//! directory, so the file-level checks run too.

use std::str;

use contextos_action::{ToolCatalog, ToolContract};
use contextos_context::{LoadOptions, build_pack, load_pack_text, parse_pack_source};
use contextos_core::{ModelRequest, ReplayPacket, parse_document, parse_json, parse_yaml};
use contextos_harness::{CaseScript, load_suite};
use contextos_mcp::{DiscoveredTool, Hints, McpServerSpec, conservative_mode, contract_for};
use contextos_openapi::{OpenApiDocument, OpenApiSource};
use contextos_runtime::{Fixtures, REPLAY_PACKET_TYPE, RequestEnvelope, RuntimeConfig, Script, open_packet};
use contextos_trust::{PolicyEngine, SignedEnvelope, run_policy_tests};
use serde_json::Value;

use crate::fixtures::{copy_shipped, engine, keyring, render, scratch, write};

/// A fuzz target: its name (the cargo-fuzz binary in `fuzz/fuzz_targets/`)
/// and its body.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    /// The name, e.g. `scenario`.
    pub name: &'static str,
    /// What the selector byte chooses, in order; empty when the whole input
    /// goes to one parser.
    pub parsers: &'static [&'static str],
    /// The body: `Err` only when its setup fails (see the crate docs).
    pub run: fn(&[u8]) -> Result<(), String>,
}

/// The parsers of each target with a selector byte, in selector order.
const SCENARIO: &[&str] = &["case", "suite", "script", "request", "config", "case-script"];
const PACK: &[&str] = &["source", "artifact"];
const POLICY: &[&str] = &["test", "approvers"];
const TOOLS: &[&str] = &["contract", "model-fixture", "tool-fixture", "approvals"];
const MCP: &[&str] = &["spec", "tools-list", "tools-call"];
const OPENAPI: &[&str] = &["source", "yaml-document", "json-document"];

/// Every fuzz target.
pub const TARGETS: &[Target] = &[
    Target {
        name: "document",
        parsers: &[],
        run: document,
    },
    Target {
        name: "scenario",
        parsers: SCENARIO,
        run: scenario,
    },
    Target {
        name: "pack",
        parsers: PACK,
        run: pack,
    },
    Target {
        name: "packet",
        parsers: &[],
        run: packet,
    },
    Target {
        name: "policy",
        parsers: POLICY,
        run: policy,
    },
    Target {
        name: "tools",
        parsers: TOOLS,
        run: tools,
    },
    Target {
        name: "mcp",
        parsers: MCP,
        run: mcp,
    },
    Target {
        name: "openapi",
        parsers: OPENAPI,
        run: openapi,
    },
    Target {
        name: "model_response",
        parsers: &[],
        run: model_response,
    },
];

/// Runs target `name` on `data` as a cargo-fuzz binary does: a setup
/// failure (or an unknown name) panics, the only failure libFuzzer reports.
#[expect(clippy::panic, reason = "cargo-fuzz reports a failure only as a panic")]
pub fn fuzz(name: &str, data: &[u8]) {
    let Some(target) = TARGETS.iter().find(|t| t.name == name) else {
        panic!("no fuzz target {name:?}");
    };
    if let Err(e) = (target.run)(data) {
        panic!("{e}");
    }
}

/// Splits off the selector byte: `(parser index, rest)`.
fn select(data: &[u8], count: usize) -> Option<(usize, &[u8])> {
    let (&first, rest) = data.split_first()?;
    Some((usize::from(first) % count, rest))
}

/// The input as text; parsers of text files never see invalid UTF-8 (the
/// loaders read with `read_to_string`).
fn text(data: &[u8]) -> Option<&str> {
    str::from_utf8(data).ok()
}

/// YAML and JSON documents as `contextos_core` parses every user file.
fn document(data: &[u8]) -> Result<(), String> {
    let Some(text) = text(data) else { return Ok(()) };
    for result in [
        parse_yaml::<Value>("fuzz.yaml", text),
        parse_json::<Value>("fuzz.json", text),
        parse_document::<Value>("fuzz.json", text),
        parse_document::<Value>("fuzz.yaml", text),
    ] {
        if let Err(e) = result {
            render(&e);
        }
    }
    Ok(())
}

/// Scenario cases and suites (through `load_suite`), scripts, requests and
/// deployment configs.
fn scenario(data: &[u8]) -> Result<(), String> {
    let Some((parser, rest)) = select(data, SCENARIO.len()) else {
        return Ok(());
    };
    let Some(text) = text(rest) else { return Ok(()) };
    match parser {
        0 => case(text)?,
        1 => {
            let dir = scratch("suite")?;
            write(&dir.join("suite.yaml"), text.as_bytes())?;
            write(&dir.join("cases/.keep"), b"")?;
            if let Err(e) = load_suite(&dir) {
                render(&e);
            }
        }
        2 => {
            if let Err(e) = Script::parse("script.yaml", text) {
                render(&e);
            }
        }
        3 => {
            if let Err(e) = RequestEnvelope::parse("request.yaml", text) {
                render(&e);
            }
        }
        4 => {
            if let Err(e) = RuntimeConfig::parse("contextos.toml", text) {
                render(&e);
            }
        }
        _ => {
            let path = scratch("case-script")?.join("script.yaml");
            write(&path, text.as_bytes())?;
            if let Err(e) = CaseScript::load(&path) {
                render(&e);
            }
        }
    }
    Ok(())
}

/// A case file in a suite of its own, named as the case names itself (a
/// file name that differs is refused before the rest of the checks).
fn case(text: &str) -> Result<(), String> {
    let dir = scratch("case-suite")?;
    copy_shipped("scenarios/customer-escalation/suite.yaml", &dir)?;
    let name = parse_yaml::<Value>("case.yaml", text)
        .ok()
        .and_then(|v| v.get("name").and_then(Value::as_str).map(str::to_owned))
        .filter(|n| !n.is_empty() && n.len() < 100 && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        .unwrap_or_else(|| "case".to_owned());
    write(&dir.join(format!("cases/{name}.yaml")), text.as_bytes())?;
    match load_suite(&dir) {
        Ok(suite) => {
            for case in &suite.cases {
                if let Err(e) = case.load_script() {
                    render(&e);
                }
            }
        }
        Err(e) => {
            render(&e);
        }
    }
    Ok(())
}

/// Pack sources (parsed and built) and pack artifacts (signed or unsigned).
fn pack(data: &[u8]) -> Result<(), String> {
    let Some((parser, rest)) = select(data, PACK.len()) else {
        return Ok(());
    };
    let Some(text) = text(rest) else { return Ok(()) };
    if parser == 0 {
        match parse_pack_source("pack.yaml", text) {
            Ok(source) => {
                if let Err(e) = build_pack("pack.yaml", &source) {
                    render(&e);
                }
            }
            Err(e) => {
                render(&e);
            }
        }
    } else {
        let keyring = keyring()?;
        let options = LoadOptions {
            allow_unsigned_dev_packs: true,
        };
        if let Err(e) = load_pack_text("pack.json", text, &keyring, &options) {
            render(&e);
        }
    }
    Ok(())
}

/// Signed replay packets: the envelope, its verification, and the packet in
/// its payload parsed as if it had verified.
fn packet(data: &[u8]) -> Result<(), String> {
    let Some(text) = text(data) else { return Ok(()) };
    let envelope: SignedEnvelope = match parse_json("run.packet.json", text) {
        Ok(envelope) => envelope,
        Err(e) => {
            render(&e);
            return Ok(());
        }
    };
    let keyring = keyring()?;
    if let Err(e) = open_packet(&envelope, &keyring) {
        render(&e);
    }
    let _ = keyring.verify(&envelope, REPLAY_PACKET_TYPE);
    let _ = envelope.payload_digest();
    if let Ok(payload) = envelope.payload_bytes()
        && let Ok(payload) = str::from_utf8(&payload)
        && let Err(e) = parse_json::<ReplayPacket>("payload.json", payload)
    {
        render(&e);
    }
    Ok(())
}

/// Policy test files (run against the shipped policies) and approver files
/// (loaded with the shipped policies).
fn policy(data: &[u8]) -> Result<(), String> {
    let Some((parser, rest)) = select(data, POLICY.len()) else {
        return Ok(());
    };
    if parser == 0 {
        let dir = scratch("policy-tests")?;
        copy_shipped("policies/tests/entities.json", &dir)?;
        write(&dir.join("test.yaml"), rest)?;
        let engine = engine()?;
        if let Err(e) = run_policy_tests(&engine, &dir) {
            render(&e);
        }
    } else {
        let dir = scratch("policies")?;
        for file in POLICY_FILES {
            copy_shipped(&format!("policies/{file}"), &dir)?;
        }
        write(&dir.join("approvers.yaml"), rest)?;
        if let Err(e) = PolicyEngine::load(&dir) {
            render(&e);
        }
    }
    Ok(())
}

/// The shipped policy bundle but its approvers.
const POLICY_FILES: [&str; 6] = [
    "context.cedar",
    "contextos.generated.cedarschema",
    "refunds.cedar",
    "tenancy.cedar",
    "tools.cedar",
    "schema.cedarschema",
];

/// Tool contracts (checked as the catalog adds them) and recorded fixtures
/// (model and tool interactions, approvals) through `Fixtures::load`.
fn tools(data: &[u8]) -> Result<(), String> {
    let Some((parser, rest)) = select(data, TOOLS.len()) else {
        return Ok(());
    };
    if parser == 0 {
        let Some(text) = text(rest) else { return Ok(()) };
        match parse_yaml::<ToolContract>("tool.yaml", text) {
            Ok(contract) => {
                if let Err(e) = ToolCatalog::default().add(contract, "tool.yaml".to_owned()) {
                    render(&e);
                }
            }
            Err(e) => {
                render(&e);
            }
        }
        return Ok(());
    }
    let dir = scratch("fixtures")?;
    let file = match parser {
        1 => "model/001.json",
        2 => "tools/001.json",
        _ => "approvals.yaml",
    };
    write(&dir.join(file), rest)?;
    if let Err(e) = Fixtures::load(&dir) {
        render(&e);
    }
    Ok(())
}

/// MCP server specs and what a server answers to `tools/list` and
/// `tools/call` (rmcp's types, then the contract and approval mode derived
/// from each listed tool).
fn mcp(data: &[u8]) -> Result<(), String> {
    let Some((parser, rest)) = select(data, MCP.len()) else {
        return Ok(());
    };
    match parser {
        0 => {
            let Some(text) = text(rest) else { return Ok(()) };
            if let Err(e) = McpServerSpec::parse("server.yaml", text) {
                render(&e);
            }
        }
        1 => {
            let Ok(list) = serde_json::from_slice::<rmcp::model::ListToolsResult>(rest) else {
                return Ok(());
            };
            for tool in list.tools {
                let annotations = tool
                    .annotations
                    .map(|a| Hints {
                        read_only: a.read_only_hint,
                        destructive: a.destructive_hint,
                        idempotent: a.idempotent_hint,
                        open_world: a.open_world_hint,
                    })
                    .unwrap_or_default();
                let discovered = DiscoveredTool {
                    name: tool.name.to_string(),
                    description: tool.description.as_deref().unwrap_or_default().to_owned(),
                    input_schema: Value::Object(tool.input_schema.as_ref().clone()),
                    annotations,
                };
                conservative_mode(&discovered.annotations);
                contract_for(&discovered, "fuzz");
            }
        }
        _ => {
            let _ = serde_json::from_slice::<rmcp::model::CallToolResult>(rest);
        }
    }
    Ok(())
}

/// OpenAPI source specs and untrusted OpenAPI documents (YAML and JSON),
/// with the tool contracts derived from them.
fn openapi(data: &[u8]) -> Result<(), String> {
    let Some((parser, rest)) = select(data, OPENAPI.len()) else {
        return Ok(());
    };
    let Some(text) = text(rest) else { return Ok(()) };
    if parser == 0 {
        if let Err(e) = OpenApiSource::parse("source.yaml", text) {
            render(&e);
        }
        return Ok(());
    }
    let source = OpenApiSource::parse("source.yaml", "name: fuzz\ndocument: fuzz.yaml\n")
        .map_err(|e| format!("setup: openapi source: {e}"))?;
    let file = if parser == 1 { "fuzz.yaml" } else { "fuzz.json" };
    match OpenApiDocument::parse(&source, file, text) {
        Ok(document) => {
            document.contracts();
        }
        Err(e) => {
            render(&e);
        }
    }
    Ok(())
}

/// A chat-completion response body from an OpenAI-compatible server.
fn model_response(data: &[u8]) -> Result<(), String> {
    let request = ModelRequest {
        model: "fuzz".to_owned(),
        params: Default::default(),
        tools: Vec::new(),
        messages: Vec::new(),
    };
    let _ = contextos_decision::fuzz_parse_response(data, &request);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::root;

    #[test]
    fn target_names_are_unique_and_selectors_cover_their_parsers() {
        let mut names: Vec<_> = TARGETS.iter().map(|t| t.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), TARGETS.len());
        assert_eq!(select(&[7, 1], 5), Some((2, &[1_u8][..])));
        assert_eq!(select(&[], 5), None);
    }

    #[test]
    fn the_shipped_fixtures_load() {
        assert!(keyring().is_ok());
        assert!(engine().is_ok());
        assert!(root().join("fuzz/seeds.txt").is_file());
    }
}
