//! `contextos tools …`: list an MCP server's tools, pin them as contracts,
//! check the served schemas against the pins.

use std::path::{Path, PathBuf};

use clap::{Subcommand, ValueEnum};
use contextos_action::ToolCatalog;
use contextos_core::ExitCode;
use contextos_mcp::{
    DiscoveredTool, Hints, McpClient, McpError, McpServerSpec, check_drift, conservative_mode, contract_for, pin,
    schema_digest,
};
use serde_json::json;

use crate::output::CliError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

const SPEC_HELP: &str = "\
The server spec is a YAML file:
  name: filesystem
  command: node
  args: [tests/peers/node_modules/@modelcontextprotocol/server-filesystem/dist/index.js, /srv/data]
  env: {}            # the server's whole environment: nothing is inherited
  timeout_secs: 30

MCP annotations are untrusted hints; the derived approval mode is conservative: no readOnlyHint
means at least local_write, destructiveHint absent or true (when not read-only) means destructive,
openWorldHint absent or true means network unless already destructive.";

#[derive(Debug, Subcommand)]
pub enum ToolsCommand {
    /// List the tools an MCP server serves: derived approval mode, hints, input-schema digest.
    #[command(after_help = format!(
        "Examples:\n  contextos tools list --server mcp/filesystem.yaml\n  \
         contextos tools list --server mcp/filesystem.yaml --format json\n\n{SPEC_HELP}"
    ))]
    List {
        /// The server spec (YAML).
        #[arg(long)]
        server: PathBuf,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Pin served tools as contracts (<out>/<tool>.yaml): input schema as served, conservative approval mode.
    #[command(after_help = format!(
        "Examples:\n  contextos tools pin --server mcp/filesystem.yaml\n  \
         contextos tools pin --server mcp/filesystem.yaml --tool read_text_file --tool write_file\n  \
         contextos tools pin --server mcp/filesystem.yaml --out runtime/tools --force\n\n\
         Review each written contract: the approval mode is only the conservative starting point.\n\
         An existing contract is never replaced without --force.\n\n{SPEC_HELP}"
    ))]
    Pin {
        /// The server spec (YAML).
        #[arg(long)]
        server: PathBuf,
        /// A tool to pin (repeatable) [default: every served tool].
        #[arg(long = "tool", value_name = "NAME")]
        tools: Vec<String>,
        /// Directory of tool contracts.
        #[arg(long, default_value = "runtime/tools")]
        out: PathBuf,
        /// Replace existing contracts.
        #[arg(long)]
        force: bool,
    },
    /// Compare served input schemas with the pinned contracts; exit 1 on drift (for CI).
    #[command(name = "check-drift", after_help = format!(
        "Examples:\n  contextos tools check-drift --server mcp/filesystem.yaml\n  \
         contextos tools check-drift --server mcp/filesystem.yaml --tools runtime/tools/filesystem --exclusive\n\n\
         Drift lists the JSON pointers where the pinned and served schemas differ; the gateway refuses\n\
         calls to a drifted tool until it is pinned again. Served tools without a contract are listed\n\
         (the gateway refuses them as unknown) but do not fail the check.\n\n{SPEC_HELP}"
    ))]
    CheckDrift {
        /// The server spec (YAML).
        #[arg(long)]
        server: PathBuf,
        /// Directory of pinned tool contracts.
        #[arg(long, default_value = "runtime/tools")]
        tools: PathBuf,
        /// The directory holds only this server's contracts: a pinned tool it no longer serves fails too.
        #[arg(long)]
        exclusive: bool,
    },
}

pub fn run(cmd: ToolsCommand) -> Result<ExitCode, CliError> {
    match cmd {
        ToolsCommand::List { server, format } => list(&server, format),
        ToolsCommand::Pin {
            server,
            tools,
            out,
            force,
        } => pin_tools(&server, &tools, &out, force),
        ToolsCommand::CheckDrift {
            server,
            tools,
            exclusive,
        } => check(&server, &tools, exclusive),
    }
}

pub(crate) fn mcp(err: McpError) -> CliError {
    CliError::new(err.kind(), err)
}

fn discover(server: &Path) -> Result<(McpServerSpec, Vec<DiscoveredTool>), CliError> {
    let spec = McpServerSpec::load(server).map_err(mcp)?;
    let client = McpClient::connect_stdio(&spec).map_err(mcp)?;
    let tools = client.list_tools().map_err(mcp)?;
    Ok((spec, tools))
}

fn hint(value: Option<bool>) -> &'static str {
    match value {
        Some(true) => "true",
        Some(false) => "false",
        None => "-",
    }
}

fn hints_text(h: &Hints) -> String {
    format!(
        "readOnly={} destructive={} idempotent={} openWorld={}",
        hint(h.read_only),
        hint(h.destructive),
        hint(h.idempotent),
        hint(h.open_world)
    )
}

fn list(server: &Path, format: Format) -> Result<ExitCode, CliError> {
    let (spec, tools) = discover(server)?;
    let mut rows = Vec::with_capacity(tools.len());
    for tool in &tools {
        rows.push((
            tool,
            conservative_mode(&tool.annotations),
            schema_digest(&tool.input_schema).map_err(mcp)?,
        ));
    }
    match format {
        Format::Json => {
            let doc = json!({
                "server": spec.name,
                "tools": rows.iter().map(|(t, mode, digest)| json!({
                    "name": t.name,
                    "approval_mode": mode.as_str(),
                    "hints": t.annotations,
                    "schema_digest": digest.to_string(),
                    "description": t.description,
                })).collect::<Vec<_>>(),
            });
            let text = serde_json::to_string_pretty(&doc).map_err(|e| CliError::input(e.to_string()))?;
            println!("{text}");
        }
        Format::Text => {
            println!("MCP server {:?}: {} tools", spec.name, tools.len());
            let width = tools.iter().map(|t| t.name.len()).max().unwrap_or(0);
            for (tool, mode, digest) in &rows {
                println!(
                    "  {:width$}  {:11}  {}  {}",
                    tool.name,
                    mode.as_str(),
                    hints_text(&tool.annotations),
                    digest
                );
            }
        }
    }
    Ok(ExitCode::Success)
}

fn pin_tools(server: &Path, names: &[String], out: &Path, force: bool) -> Result<ExitCode, CliError> {
    let (spec, tools) = discover(server)?;
    let selected: Vec<&DiscoveredTool> = if names.is_empty() {
        tools.iter().collect()
    } else {
        let mut selected = Vec::new();
        for name in names {
            match tools.iter().find(|t| &t.name == name) {
                Some(tool) => selected.push(tool),
                None => {
                    let served: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
                    return Err(CliError::input(format!(
                        "MCP server {:?} does not serve a tool named {name:?}; it serves: {}",
                        spec.name,
                        served.join(", ")
                    )));
                }
            }
        }
        selected
    };
    if !force {
        let existing: Vec<String> = selected
            .iter()
            .map(|t| out.join(format!("{}.yaml", t.name)))
            .filter(|p| p.exists())
            .map(|p| p.display().to_string())
            .collect();
        if !existing.is_empty() {
            return Err(CliError::input(format!(
                "refusing to overwrite pinned contracts: {}\nreview the change with `contextos tools check-drift`, \
                 then pin again with --force",
                existing.join(", ")
            )));
        }
    }
    for tool in selected {
        let contract = contract_for(tool);
        let outcome = pin(&contract, &spec.name, out, force).map_err(mcp)?;
        println!(
            "{} {} -> {} ({}, {})",
            if outcome.replaced { "re-pinned" } else { "pinned" },
            contract.name,
            outcome.path.display(),
            contract.approval_mode.as_str(),
            hints_text(&tool.annotations)
        );
    }
    println!("review the approval modes: they are derived from untrusted hints");
    Ok(ExitCode::Success)
}

fn check(server: &Path, dir: &Path, exclusive: bool) -> Result<ExitCode, CliError> {
    let catalog = ToolCatalog::load(dir).map_err(|e| CliError::new(e.kind(), e))?;
    let (spec, tools) = discover(server)?;
    let report = check_drift(&catalog, &tools).map_err(mcp)?;
    println!("MCP server {:?} against {}:", spec.name, dir.display());
    for drift in &report.drifted {
        println!("  drift     {}  ({})", drift.tool, drift.file);
        println!("            pinned {}", drift.pinned);
        println!("            served {}", drift.served);
        println!("            differs at {}", drift.pointers.join(", "));
    }
    for name in &report.unchanged {
        println!("  ok        {name}");
    }
    for name in &report.unpinned {
        println!("  unpinned  {name}  (served without a contract: the gateway refuses it as unknown)");
    }
    if exclusive {
        for name in &report.not_served {
            println!("  removed   {name}  (pinned, no longer served)");
        }
    } else if !report.not_served.is_empty() {
        println!(
            "  ({} pinned contracts are not served by this server; with --exclusive they fail the check)",
            report.not_served.len()
        );
    }
    let failed = report.has_drift() || (exclusive && !report.not_served.is_empty());
    println!(
        "{}: {} drifted, {} unchanged, {} unpinned{}",
        if failed { "FAILED" } else { "ok" },
        report.drifted.len(),
        report.unchanged.len(),
        report.unpinned.len(),
        if exclusive {
            format!(", {} removed", report.not_served.len())
        } else {
            String::new()
        }
    );
    if report.has_drift() {
        println!(
            "the gateway refuses calls to a drifted tool; after review, pin it again with `contextos tools pin --force`"
        );
    }
    Ok(if failed {
        ExitCode::GateFailed
    } else {
        ExitCode::Success
    })
}
