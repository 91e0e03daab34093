//! `contextos tools …`: list the tools an MCP server or an OpenAPI document
//! serves, pin them as contracts, check the served schemas against the pins.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand, ValueEnum};
use contextos_action::{ToolCatalog, ToolContract, check_drift};
use contextos_core::{Digest, ExitCode, digest_of};
use contextos_mcp::{DiscoveredTool, Hints, McpServerSpec};
use contextos_openapi::{OpenApiDocument, OpenApiSource};
use serde_json::{Value, json};

use crate::config::{live_sources, optional_config};
use crate::output::CliError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    Text,
    Json,
}

const SPEC_HELP: &str = "\
An MCP server spec (--server) is a YAML file:
  name: filesystem
  command: node
  args: [tests/peers/node_modules/@modelcontextprotocol/server-filesystem/dist/index.js, /srv/data]
  env: {}            # the server's whole environment: nothing is inherited
  timeout_secs: 30

MCP annotations are untrusted hints; the derived approval mode is conservative: no readOnlyHint
means at least local_write, destructiveHint absent or true (when not read-only) means destructive,
openWorldHint absent or true means network unless already destructive.

An OpenAPI source (--openapi) is a YAML file naming an OpenAPI 3.0 or 3.1 document:
  name: billing
  document: billing.openapi.yaml   # relative to the source file
  base_url: https://billing.internal/v1   # default: the document's first server; required with a token
  get_mode: read_only              # GET/HEAD/OPTIONS: read_only or network
  write_mode: local_write          # POST/PUT/PATCH: local_write or network
  bearer_token_env: BILLING_TOKEN  # read only when a run calls the API

Each operation becomes a tool named by its operationId; DELETE is destructive unless a pinned
contract says otherwise. list, pin and check-drift read only the document: they never contact
the API and need no token.

Sources the deployment configuration declares are used too (before those given here):
  [sources]
  mcp = [\"mcp/everything.yaml\"]          # relative to the configuration file
  openapi = [\"billing.source.yaml\"]
A source both declared and given is an error naming both places. With several sources, --format
json prints an array of listings, one per source.";

/// Where the tools come from: the deployment's `[sources]`, plus every
/// `--server` and `--openapi` given.
#[derive(Debug, Args)]
pub(crate) struct Origin {
    /// An MCP server spec (YAML); repeatable.
    #[arg(long, value_name = "SPEC")]
    server: Vec<PathBuf>,
    /// An OpenAPI source spec (YAML) naming an OpenAPI 3.0 or 3.1 document; repeatable.
    #[arg(long, value_name = "SOURCE")]
    openapi: Vec<PathBuf>,
    /// The deployment whose `[sources]` are used too [default: runtime/contextos.toml, when present].
    #[arg(long)]
    config: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ToolsCommand {
    /// List the tools an MCP server or an OpenAPI document serves: derived approval mode, hints or
    /// method and path, input-schema digest.
    #[command(after_help = format!(
        "Examples:\n  contextos tools list --server mcp/filesystem.yaml\n  \
         contextos tools list --server mcp/filesystem.yaml --format json\n  \
         contextos tools list --openapi openapi/billing.yaml\n  \
         contextos tools list --config runtime/contextos.toml   # every source its [sources] declares\n\n\
         A served tool with no contract in --tools is marked unpinned: a run never offers it to the\n\
         model and refuses a call to it (before any effect) until it is pinned with `contextos tools pin`.\n\n{SPEC_HELP}"
    ))]
    List {
        #[command(flatten)]
        origin: Origin,
        /// Directory of pinned tool contracts: served tools without one are marked unpinned
        /// [default: the config's `paths.tools`, else runtime/tools].
        #[arg(long)]
        tools: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Pin served tools as contracts (<out>/<tool>.yaml): input schema as served, derived approval mode.
    #[command(after_help = format!(
        "Examples:\n  contextos tools pin --server mcp/filesystem.yaml\n  \
         contextos tools pin --server mcp/filesystem.yaml --tool read_text_file --tool write_file\n  \
         contextos tools pin --server mcp/filesystem.yaml --out runtime/tools --force\n  \
         contextos tools pin --openapi openapi/billing.yaml --tool getInvoice --out runtime/tools\n\n\
         Review each written contract: the approval mode is only the starting point, and the gateway\n\
         enforces the file (lower a DELETE there if it is not destructive).\n\
         An existing contract is never replaced without --force.\n\n{SPEC_HELP}"
    ))]
    Pin {
        #[command(flatten)]
        origin: Origin,
        /// A tool to pin (repeatable) [default: every served tool].
        #[arg(long = "tool", value_name = "NAME")]
        tools: Vec<String>,
        /// Directory of tool contracts [default: the config's `paths.tools`, else runtime/tools].
        #[arg(long)]
        out: Option<PathBuf>,
        /// Replace existing contracts.
        #[arg(long)]
        force: bool,
    },
    /// Compare served input schemas with the pinned contracts; exit 1 on drift (for CI).
    #[command(name = "check-drift", after_help = format!(
        "Examples:\n  contextos tools check-drift --server mcp/filesystem.yaml\n  \
         contextos tools check-drift --server mcp/filesystem.yaml --tools runtime/tools/filesystem --exclusive\n  \
         contextos tools check-drift --openapi openapi/billing.yaml --tools runtime/tools/billing --exclusive\n\n\
         Drift lists the JSON pointers where the pinned and served schemas differ; the gateway refuses\n\
         calls to a drifted tool until it is pinned again. Served tools without a contract are listed\n\
         (the gateway refuses them as unknown) but do not fail the check. For --openapi the served\n\
         schema is the one derived from the document as it is now.\n\n{SPEC_HELP}"
    ))]
    CheckDrift {
        #[command(flatten)]
        origin: Origin,
        /// Directory of pinned tool contracts [default: the config's `paths.tools`, else runtime/tools].
        #[arg(long)]
        tools: Option<PathBuf>,
        /// The directory holds only this source's contracts: a pinned tool it no longer serves fails too.
        #[arg(long)]
        exclusive: bool,
    },
}

pub(crate) fn run(cmd: ToolsCommand) -> Result<ExitCode, CliError> {
    match cmd {
        ToolsCommand::List { origin, tools, format } => {
            let pins = contracts_dir(&origin, tools)?;
            list(&discover(&origin)?, &pins, format)
        }
        ToolsCommand::Pin {
            origin,
            tools,
            out,
            force,
        } => pin_all(&discover(&origin)?, &tools, &contracts_dir(&origin, out)?, force),
        ToolsCommand::CheckDrift {
            origin,
            tools,
            exclusive,
        } => check(&origin, &contracts_dir(&origin, tools)?, exclusive),
    }
}

/// What one source serves, each tool as the contract `tools pin` would write.
struct Served {
    /// `MCP server "x"` or `OpenAPI source "x"`, for messages.
    label: String,
    /// The JSON document's key for the source name (`server` or `source`).
    json_key: &'static str,
    name: String,
    tools: Vec<Listed>,
    /// `server` or `source`, in sentences.
    noun: &'static str,
    /// How the listed modes were derived, said after pinning.
    review: &'static str,
    origin: OriginKind,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum OriginKind {
    Mcp,
    OpenApi,
}

struct Listed {
    contract: ToolContract,
    /// Annotations (MCP) or method and path (OpenAPI), as text.
    detail: String,
    /// The same as JSON members of the listing.
    json: Vec<(&'static str, Value)>,
}

/// The contracts directory: `given`, else the configuration's `paths.tools`,
/// else `runtime/tools` (no configuration at all).
fn contracts_dir(origin: &Origin, given: Option<PathBuf>) -> Result<PathBuf, CliError> {
    if let Some(dir) = given {
        return Ok(dir);
    }
    Ok(optional_config(origin.config.as_deref())?
        .map_or_else(|| PathBuf::from("runtime/tools"), |(_, config)| config.paths.tools))
}

/// Every source of `origin`: the configuration's `[sources]`, then the flags'.
fn discover(origin: &Origin) -> Result<Vec<Served>, CliError> {
    let chosen = optional_config(origin.config.as_deref())?;
    let declared = chosen.as_ref().map(|(path, config)| (path.as_path(), &config.sources));
    let sources = live_sources(declared, "--server", &origin.server, &origin.openapi)?;
    if sources.is_empty() {
        return Err(CliError::input(
            "no tool source: give --server SPEC or --openapi SOURCE, or declare them under [sources] in the \
             deployment configuration",
        ));
    }
    if let Some((path, config)) = &chosen
        && !config.sources.is_empty()
    {
        let mut names: Vec<String> = config.sources.mcp.iter().map(|p| p.display().to_string()).collect();
        names.extend(config.sources.openapi.iter().map(|p| p.display().to_string()));
        eprintln!("using config {}: sources {}", path.display(), names.join(", "));
    }
    let mut served = Vec::new();
    for spec in &sources.mcp {
        served.push(discover_one(Some(spec), None)?);
    }
    for source in &sources.openapi {
        served.push(discover_one(None, Some(source))?);
    }
    Ok(served)
}

fn discover_one(server: Option<&PathBuf>, openapi: Option<&PathBuf>) -> Result<Served, CliError> {
    match (server, openapi) {
        (Some(server), _) => {
            let spec = McpServerSpec::load(server)?;
            let client = crate::live::connect_mcp(&spec)?;
            let tools: Vec<Listed> = client.list_tools()?.iter().map(|t| mcp_tool(t, &spec.name)).collect();
            Ok(Served {
                label: format!("MCP server {:?}", spec.name),
                json_key: "server",
                noun: "server",
                name: spec.name,
                tools,
                review: "review the approval modes: they are derived from untrusted hints",
                origin: OriginKind::Mcp,
            })
        }
        (None, Some(path)) => {
            // Reads the document only: listing and pinning never contact the API.
            let source = OpenApiSource::load(path)?;
            let document = OpenApiDocument::load(&source)?;
            Ok(Served {
                label: format!("OpenAPI source {:?}", source.name),
                json_key: "source",
                noun: "source",
                name: source.name,
                tools: document
                    .operations()
                    .map(|op| Listed {
                        contract: contextos_openapi::contract_for(op),
                        detail: format!("{} {}", op.method, op.path),
                        json: vec![("method", json!(op.method.as_str())), ("path", json!(op.path))],
                    })
                    .collect(),
                review: "review the approval modes: they are derived from the HTTP method \
                         (DELETE is destructive until its pinned contract says otherwise)",
                origin: OriginKind::OpenApi,
            })
        }
        (None, None) => Err(CliError::bug("a source is either an MCP server or an OpenAPI source")),
    }
}

fn mcp_tool(tool: &DiscoveredTool, server: &str) -> Listed {
    Listed {
        contract: contextos_mcp::contract_for(tool, server),
        detail: hints_text(&tool.annotations),
        json: vec![("hints", json!(tool.annotations))],
    }
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

/// The names of the contracts pinned in `dir` (none when it does not exist).
fn pinned_names(dir: &Path) -> Result<std::collections::BTreeSet<String>, CliError> {
    if !dir.is_dir() {
        return Ok(std::collections::BTreeSet::new());
    }
    Ok(ToolCatalog::load(dir)?
        .tools()
        .map(|t| t.contract.name.clone())
        .collect())
}

fn list(all: &[Served], pins: &Path, format: Format) -> Result<ExitCode, CliError> {
    let pinned = pinned_names(pins)?;
    let mut docs = Vec::new();
    for served in all {
        if let Some(doc) = list_one(served, &pinned, pins, format)? {
            docs.push(doc);
        }
    }
    if format == Format::Json {
        let doc = match <[Value; 1]>::try_from(docs) {
            Ok([one]) => one,
            Err(several) => Value::Array(several),
        };
        let text = serde_json::to_string_pretty(&doc).map_err(|e| CliError::input(e.to_string()))?;
        println!("{text}");
    }
    Ok(ExitCode::Success)
}

/// One source's listing: printed (text), or returned (JSON).
fn list_one(
    served: &Served,
    pinned: &std::collections::BTreeSet<String>,
    pins: &Path,
    format: Format,
) -> Result<Option<Value>, CliError> {
    let mut rows: Vec<(&Listed, Digest)> = Vec::with_capacity(served.tools.len());
    for tool in &served.tools {
        rows.push((tool, digest_of(&tool.contract.input_schema).map_err(CliError::bug)?));
    }
    let unpinned: Vec<&str> = served
        .tools
        .iter()
        .map(|t| t.contract.name.as_str())
        .filter(|name| !pinned.contains(*name))
        .collect();
    if !unpinned.is_empty() {
        eprintln!(
            "warning: {} of {} tools of {} have no pinned contract in {}: a run refuses them until \
             they are pinned (`contextos tools pin --tool NAME --out {}`): {}",
            unpinned.len(),
            served.tools.len(),
            served.label,
            pins.display(),
            pins.display(),
            unpinned.join(", ")
        );
    }
    match format {
        Format::Json => {
            let tools: Vec<Value> = rows
                .iter()
                .map(|(tool, digest)| {
                    let c = &tool.contract;
                    let mut entry = serde_json::Map::new();
                    entry.insert("name".into(), json!(c.name));
                    entry.insert("approval_mode".into(), json!(c.approval_mode.as_str()));
                    for (key, value) in &tool.json {
                        entry.insert((*key).into(), value.clone());
                    }
                    entry.insert("schema_digest".into(), json!(digest.to_string()));
                    entry.insert("pinned".into(), json!(pinned.contains(&c.name)));
                    entry.insert("description".into(), json!(c.description));
                    Value::Object(entry)
                })
                .collect();
            return Ok(Some(json!({ served.json_key: served.name, "tools": tools })));
        }
        Format::Text => {
            println!("{}: {} tools", served.label, served.tools.len());
            let width = served.tools.iter().map(|t| t.contract.name.len()).max().unwrap_or(0);
            for (tool, digest) in &rows {
                println!(
                    "  {:width$}  {:11}  {}  {}  {}",
                    tool.contract.name,
                    tool.contract.approval_mode.as_str(),
                    tool.detail,
                    digest,
                    if pinned.contains(&tool.contract.name) {
                        "pinned"
                    } else {
                        "UNPINNED"
                    }
                );
            }
        }
    }
    Ok(None)
}

/// Pins `names` (every served tool when empty) from the sources serving them.
fn pin_all(all: &[Served], names: &[String], out: &Path, force: bool) -> Result<ExitCode, CliError> {
    if let [one] = all {
        return pin_tools(one, names, out, force);
    }
    for name in names {
        if !all.iter().any(|s| s.tools.iter().any(|t| &t.contract.name == name)) {
            let offered: Vec<&str> = all
                .iter()
                .flat_map(|s| s.tools.iter().map(|t| t.contract.name.as_str()))
                .collect();
            return Err(CliError::input(format!(
                "no source serves a tool named {name:?}; they serve: {}",
                offered.join(", ")
            )));
        }
    }
    for served in all {
        let mine: Vec<String> = names
            .iter()
            .filter(|n| served.tools.iter().any(|t| &t.contract.name == *n))
            .cloned()
            .collect();
        if names.is_empty() || !mine.is_empty() {
            pin_tools(served, &mine, out, force)?;
        }
    }
    Ok(ExitCode::Success)
}

fn pin_tools(served: &Served, names: &[String], out: &Path, force: bool) -> Result<ExitCode, CliError> {
    let selected: Vec<&Listed> = if names.is_empty() {
        served.tools.iter().collect()
    } else {
        let mut selected = Vec::new();
        for name in names {
            match served.tools.iter().find(|t| &t.contract.name == name) {
                Some(tool) => selected.push(tool),
                None => {
                    let offered: Vec<&str> = served.tools.iter().map(|t| t.contract.name.as_str()).collect();
                    return Err(CliError::input(format!(
                        "{} does not serve a tool named {name:?}; it serves: {}",
                        served.label,
                        offered.join(", ")
                    )));
                }
            }
        }
        selected
    };
    if !force {
        let existing: Vec<String> = selected
            .iter()
            .map(|t| out.join(format!("{}.yaml", t.contract.name)))
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
        let contract = &tool.contract;
        let outcome = match served.origin {
            OriginKind::Mcp => contextos_mcp::pin(contract, &served.name, out, force)?,
            OriginKind::OpenApi => contextos_openapi::pin(contract, &served.name, out, force)?,
        };
        println!(
            "{} {} -> {} ({}, {})",
            if outcome.replaced { "re-pinned" } else { "pinned" },
            contract.name,
            outcome.path.display(),
            contract.approval_mode.as_str(),
            tool.detail
        );
    }
    println!("{}", served.review);
    Ok(ExitCode::Success)
}

fn check(origin: &Origin, dir: &Path, exclusive: bool) -> Result<ExitCode, CliError> {
    let catalog = ToolCatalog::load(dir)?;
    let mut failed = false;
    for served in discover(origin)? {
        failed |= check_one(&catalog, &served, dir, exclusive)? == ExitCode::GateFailed;
    }
    Ok(if failed {
        ExitCode::GateFailed
    } else {
        ExitCode::Success
    })
}

fn check_one(catalog: &ToolCatalog, served: &Served, dir: &Path, exclusive: bool) -> Result<ExitCode, CliError> {
    let contracts: Vec<&ToolContract> = served.tools.iter().map(|t| &t.contract).collect();
    let report = check_drift(catalog, &contracts).map_err(CliError::bug)?;
    println!("{} against {}:", served.label, dir.display());
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
            "  ({} pinned contracts are not served by this {}; with --exclusive they fail the check)",
            report.not_served.len(),
            served.noun
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
