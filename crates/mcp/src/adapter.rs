//! [`McpTools`]: the gateway adapter for one MCP server.

use std::collections::BTreeMap;

use contextos_action::{AdapterError, LoadedTool, ToolAdapter};
use contextos_core::{ToolRequest, ToolResponse};
use serde_json::json;

use crate::client::{DiscoveredTool, McpClient};
use crate::error::McpError;
use crate::pinning::{SchemaDrift, ServedBy};

/// Executes gateway calls on one MCP server. By the time a call gets here
/// the gateway has validated the arguments against the pinned contract and
/// done Cedar, approval and idempotency; the adapter refuses a tool whose
/// served input schema drifted from that contract, and sends the W3C
/// `traceparent` in the request's `_meta`.
///
/// The served schemas are the ones listed when the adapter was built (or
/// last [`refresh`](Self::refresh)ed).
#[derive(Debug)]
pub struct McpTools {
    client: McpClient,
    served: BTreeMap<String, DiscoveredTool>,
}

impl McpTools {
    /// Lists the server's tools once and wraps the client.
    pub fn new(client: McpClient) -> Result<Self, McpError> {
        let mut tools = Self {
            client,
            served: BTreeMap::new(),
        };
        tools.refresh()?;
        Ok(tools)
    }

    /// Lists the server's tools again (after a `tools/list_changed`, or before a long run).
    pub fn refresh(&mut self) -> Result<(), McpError> {
        self.served = self
            .client
            .list_tools()?
            .into_iter()
            .map(|t| (t.name.clone(), t))
            .collect();
        Ok(())
    }

    /// The client.
    pub fn client(&self) -> &McpClient {
        &self.client
    }

    /// The tools as last listed, by name.
    pub fn served(&self) -> impl Iterator<Item = &DiscoveredTool> {
        self.served.values()
    }
}

impl ToolAdapter for McpTools {
    fn call(&self, tool: &LoadedTool, request: &ToolRequest, traceparent: &str) -> Result<ToolResponse, AdapterError> {
        let server = self.client.server_name();
        let served = self.served.get(&tool.contract.name).ok_or_else(|| {
            AdapterError::Transport(format!(
                "MCP server {server:?} does not serve {} (pinned in {})",
                tool.contract.name, tool.file
            ))
        })?;
        SchemaDrift::refuse_drifted(tool, &ServedBy { server, tool: served })?;
        self.client
            .call(
                &request.tool,
                request.arguments.clone(),
                json!({ "traceparent": traceparent }),
            )
            .map_err(|e| AdapterError::Transport(e.to_string()))
    }
}
