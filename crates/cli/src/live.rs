//! The live edges of `contextos run`: MCP servers, OpenAPI sources and the
//! live model, with their credentials read from the environment here (the
//! CLI edge) and handed over as [`Secret`]s.

use std::path::PathBuf;

use contextos_action::{ScriptedTools, ToolRouter};
use contextos_core::{Secret, live};
use contextos_decision::{LiveModelConfig, OpenAiCompatible};
use contextos_mcp::{Limits, McpClient, McpServerSpec, McpTools};
use contextos_openapi::{OpenApiSource, OpenApiTools};
use contextos_runtime::Deployment;

use crate::output::CliError;

/// The credential named by `variable` (for `what`), or an error saying which variable to set.
fn credential(variable: &str, what: &str) -> Result<Secret, CliError> {
    live::secret_from_env(variable).ok_or_else(|| {
        CliError::input(format!(
            "{what} needs a token: set the environment variable {variable} (it is never written to packets, fixtures or logs)"
        ))
    })
}

/// Connects to the MCP server of `spec`, with its bearer token when the spec names one.
pub(crate) fn connect_mcp(spec: &McpServerSpec) -> Result<McpClient, CliError> {
    let token = match &spec.bearer_token_env {
        Some(variable) => Some(credential(variable, &format!("MCP server {:?}", spec.name))?),
        None => None,
    };
    Ok(McpClient::connect_with(spec, Limits::DEFAULT, token.as_ref())?)
}

/// The live tool sources of one run.
#[derive(Debug, Default)]
pub(crate) struct LiveTools {
    mcp: Vec<McpTools>,
    openapi: Vec<OpenApiTools>,
}

impl LiveTools {
    /// Connects to every MCP server and loads every OpenAPI source.
    pub(crate) fn open(mcp_specs: &[PathBuf], openapi_sources: &[PathBuf]) -> Result<Self, CliError> {
        let mut tools = Self::default();
        for path in mcp_specs {
            let spec = McpServerSpec::load(path)?;
            tools.mcp.push(McpTools::new(connect_mcp(&spec)?)?);
        }
        for path in openapi_sources {
            let source = OpenApiSource::load(path)?;
            let token = match &source.bearer_token_env {
                Some(variable) => Some(credential(variable, &format!("OpenAPI source {:?}", source.name))?),
                None => None,
            };
            tools.openapi.push(OpenApiTools::new(&source, token)?);
        }
        Ok(tools)
    }

    /// The source that serves `tool`, as `MCP server "x"` or `OpenAPI source "x"`.
    pub(crate) fn offered_by(&self, tool: &str) -> Option<String> {
        let mcp = self
            .mcp
            .iter()
            .find(|server| server.served().any(|t| t.name == tool))
            .map(|server| format!("MCP server {:?}", server.client().server_name()));
        mcp.or_else(|| {
            self.openapi
                .iter()
                .find(|source| source.tool_names().iter().any(|t| t == tool))
                .map(|source| format!("OpenAPI source {:?}", source.name()))
        })
    }

    /// One adapter over all sources; tools none of them serves go to `fallback` (a script's results).
    pub(crate) fn router(&self, fallback: Option<ScriptedTools>) -> Result<ToolRouter<'_>, CliError> {
        let mut router = ToolRouter::new();
        for server in &self.mcp {
            let names = server.served().map(|t| t.name.clone());
            router.add(server.client().server_name(), Box::new(server), names)?;
        }
        for source in &self.openapi {
            router.add(source.name(), Box::new(source), source.tool_names())?;
        }
        if let Some(fallback) = fallback {
            router.fallback(Box::new(fallback));
        }
        Ok(router)
    }
}

/// The live model of the deployment (`[model.live]`), its base URL replaced
/// by `url` when given; the key comes from the configured variable.
pub(crate) fn live_model(dep: &Deployment, url: Option<&str>) -> Result<OpenAiCompatible, CliError> {
    let mut config = match (&dep.config.model.live, url) {
        (Some(config), _) => config.clone(),
        (None, Some(url)) => LiveModelConfig::new(url),
        (None, None) => {
            return Err(CliError::input(
                "--live needs a live model: add a [model.live] section (base_url, api_key_env) to the \
                 deployment configuration, or pass --model-url",
            ));
        }
    };
    if let Some(url) = url {
        config.base_url = url.to_string();
    }
    config
        .check()
        .map_err(|m| CliError::input(format!("[model.live]: {m}")))?;
    let key = credential(&config.api_key_env, &format!("the live model at {}", config.base_url))?;
    Ok(OpenAiCompatible::new(&config, Some(key))?)
}
