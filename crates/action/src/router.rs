//! [`ToolRouter`]: one adapter over several live sources (MCP servers,
//! OpenAPI documents), each tool served by exactly one of them.

use std::collections::BTreeMap;

use contextos_core::{ErrorKind, Kind, ToolRequest, ToolResponse};

use crate::contract::LoadedTool;
use crate::gateway::{AdapterError, ToolAdapter};

/// Sends each call to the source that serves its tool. Tool names are one
/// namespace: the gateway's contracts are keyed by name, so two sources
/// serving the same name is refused when the router is built rather than
/// settled by order. A tool no source serves goes to the fallback (a
/// script's results), or fails naming the sources.
#[derive(Default)]
pub struct ToolRouter<'a> {
    sources: Vec<(String, Box<dyn ToolAdapter + 'a>)>,
    routes: BTreeMap<String, usize>,
    fallback: Option<Box<dyn ToolAdapter + 'a>>,
}

impl std::fmt::Debug for ToolRouter<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToolRouter")
            .field(
                "sources",
                &self.sources.iter().map(|(name, _)| name).collect::<Vec<_>>(),
            )
            .field("routes", &self.routes)
            .field("fallback", &self.fallback.is_some())
            .finish()
    }
}

/// Two sources serve the same tool name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, miette::Diagnostic)]
#[error("tool {tool:?} is served by both {first:?} and {second:?}")]
#[diagnostic(help(
    "tool names are one namespace: drop one of the sources from this run, or rename the tool at its source"
))]
pub struct RouteConflict {
    /// The tool.
    pub tool: String,
    /// The source added first.
    pub first: String,
    /// The source that also serves it.
    pub second: String,
}

/// Two sources for one tool is a mistake in the run's sources (exit 2).
impl Kind for RouteConflict {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Input
    }
}

impl<'a> ToolRouter<'a> {
    /// An empty router.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds source `name`, serving `tools` through `adapter`.
    pub fn add(
        &mut self,
        name: &str,
        adapter: Box<dyn ToolAdapter + 'a>,
        tools: impl IntoIterator<Item = String>,
    ) -> Result<(), RouteConflict> {
        let index = self.sources.len();
        let mut routes = self.routes.clone();
        for tool in tools {
            if let Some(&other) = routes.get(&tool) {
                let first = if other == index {
                    name
                } else {
                    self.sources[other].0.as_str()
                };
                return Err(RouteConflict {
                    tool,
                    first: first.to_string(),
                    second: name.to_string(),
                });
            }
            routes.insert(tool, index);
        }
        self.routes = routes;
        self.sources.push((name.to_string(), adapter));
        Ok(())
    }

    /// Where calls to tools no source serves go.
    pub fn fallback(&mut self, adapter: Box<dyn ToolAdapter + 'a>) {
        self.fallback = Some(adapter);
    }

    /// The source serving `tool`, if any.
    pub fn source_of(&self, tool: &str) -> Option<&str> {
        self.routes.get(tool).map(|&i| self.sources[i].0.as_str())
    }
}

impl ToolAdapter for ToolRouter<'_> {
    fn call(&self, tool: &LoadedTool, request: &ToolRequest, traceparent: &str) -> Result<ToolResponse, AdapterError> {
        if let Some(&index) = self.routes.get(&request.tool) {
            return self.sources[index].1.call(tool, request, traceparent);
        }
        if let Some(fallback) = &self.fallback {
            return fallback.call(tool, request, traceparent);
        }
        let sources: Vec<&str> = self.sources.iter().map(|(name, _)| name.as_str()).collect();
        Err(AdapterError::Transport(format!(
            "no live source serves tool {:?} (sources: {})",
            request.tool,
            if sources.is_empty() {
                "none".to_string()
            } else {
                sources.join(", ")
            }
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ScriptedResult, ScriptedTools, ToolCatalog, ToolContract};
    use contextos_core::ApprovalMode;
    use serde_json::json;

    fn scripted(answer: &str) -> Box<dyn ToolAdapter> {
        let results = ["read_ticket", "lookup_customer"]
            .into_iter()
            .map(|tool| ScriptedResult {
                tool: tool.into(),
                arguments: json!({}),
                response: ToolResponse::Ok(json!(answer)),
            })
            .collect();
        Box::new(ScriptedTools::new(results))
    }

    fn call(router: &ToolRouter<'_>, name: &str) -> Result<ToolResponse, AdapterError> {
        let mut catalog = ToolCatalog::default();
        catalog
            .add(
                ToolContract {
                    format_version: 1,
                    name: name.into(),
                    description: "d".into(),
                    approval_mode: ApprovalMode::ReadOnly,
                    side_effect: crate::SideEffect::None,
                    idempotent: true,
                    input_schema: json!({"type": "object"}),
                    output_schema: None,
                    memory_fields: vec![],
                    owner_tenant: None,
                    hidden_from_policy: Vec::new(),
                    attributes: BTreeMap::new(),
                    pinned_from: None,
                },
                "t.yaml".into(),
            )
            .unwrap();
        let tool = catalog.get(name).unwrap();
        let request = ToolRequest {
            contract_digest: tool.digest,
            tool: name.into(),
            arguments: json!({}),
        };
        router.call(tool, &request, "00-x")
    }

    #[test]
    fn calls_go_to_the_serving_source_then_the_fallback() {
        let mut router = ToolRouter::new();
        router
            .add("crm", scripted("from crm"), ["lookup_customer".to_string()])
            .unwrap();
        router
            .add("desk", scripted("from desk"), ["read_ticket".to_string()])
            .unwrap();
        assert_eq!(router.source_of("read_ticket"), Some("desk"));
        assert_eq!(
            call(&router, "read_ticket").unwrap(),
            ToolResponse::Ok(json!("from desk"))
        );
        assert_eq!(
            call(&router, "lookup_customer").unwrap(),
            ToolResponse::Ok(json!("from crm"))
        );
        let err = call(&router, "send_email").unwrap_err().to_string();
        assert!(
            err.contains("no live source serves tool \"send_email\" (sources: crm, desk)"),
            "{err}"
        );
        router.fallback(scripted("from script"));
        let err = call(&router, "send_email").unwrap_err().to_string();
        assert!(err.contains("script has no result for send_email"), "{err}");
    }

    #[test]
    fn two_sources_serving_one_name_are_refused() {
        let mut router = ToolRouter::new();
        router
            .add("crm", scripted("a"), ["lookup_customer".to_string()])
            .unwrap();
        let conflict = router
            .add(
                "crm2",
                scripted("b"),
                ["read_ticket".to_string(), "lookup_customer".to_string()],
            )
            .unwrap_err();
        assert_eq!(conflict.first, "crm");
        assert_eq!(conflict.second, "crm2");
        assert_eq!(router.source_of("read_ticket"), None, "a refused source adds no route");
        let twice = router
            .add("x", scripted("c"), ["t".to_string(), "t".to_string()])
            .unwrap_err();
        assert_eq!((twice.first.as_str(), twice.second.as_str()), ("x", "x"));
    }
}
