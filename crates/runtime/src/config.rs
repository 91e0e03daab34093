//! `runtime/contextos.toml`: the deployment a run executes in.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use contextos_core::DocumentError;
use contextos_decision::{LiveModelConfig, check_params};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::RunError;

/// The deployment configuration (`runtime/contextos.toml`): what every run
/// executes against. Relative paths are relative to the file's directory.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RuntimeConfig {
    /// Document format version (1).
    pub format_version: u32,
    /// The model every run calls (`[model]`).
    pub model: ModelConfig,
    /// The context packs offered and the prompt's token budget (`[context]`).
    pub context: ContextConfig,
    /// Where the deployment's files are (`[paths]`).
    pub paths: PathsConfig,
    /// When a final answer escalates to a human (`[evaluator]`).
    pub evaluator: EvaluatorConfig,
}

/// Model settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// Model name (also picks the tokenizer).
    pub name: String,
    /// Parameters sent with every request.
    #[serde(default)]
    pub params: BTreeMap<String, Value>,
    /// Where `contextos run --live` reaches an OpenAI-compatible model
    /// (`[model.live]`); runs on recorded fixtures ignore it.
    // Not serialized: the packet's `model_config` records what the model
    // was asked (name and params), not the transport, so a live run and
    // its offline replay pin the same inputs whatever this block says.
    #[serde(default, skip_serializing)]
    pub live: Option<LiveModelConfig>,
}

/// Context-plane settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ContextConfig {
    /// Built, signed pack artifacts to offer every run.
    pub packs: Vec<PathBuf>,
    /// Token budget of the compiled prompt.
    pub budget_tokens: u64,
    /// Accept unsigned packs (development only; recorded in controls_active).
    #[serde(default)]
    pub allow_unsigned_dev_packs: bool,
}

/// Where the deployment's files are, relative to the configuration file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PathsConfig {
    /// The policy bundle directory (`*.cedar`, `schema.cedarschema`, `approvers.yaml`).
    pub policies: PathBuf,
    /// The directory of tool contracts (`*.yaml`).
    pub tools: PathBuf,
    /// The directory of trusted public keys (`*.pub`).
    pub keys: PathBuf,
    /// The secret key that signs records and packets.
    pub signing_key: PathBuf,
    /// The run store directory (`.contextos`).
    pub store: PathBuf,
    /// The entity source: attributes of tenants, users, agents and packs,
    /// and the deployment's own entities (optional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entities: Option<PathBuf>,
}

/// Evaluator thresholds (a replay may override them).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct EvaluatorConfig {
    /// Below this confidence a final answer escalates.
    pub min_confidence: f64,
    /// Confidence assumed when the model reports none.
    pub default_confidence: f64,
}

impl EvaluatorConfig {
    /// The thresholds as the ordered map recorded in replay packets.
    pub fn as_map(&self) -> BTreeMap<String, f64> {
        BTreeMap::from([
            ("default_confidence".to_string(), self.default_confidence),
            ("min_confidence".to_string(), self.min_confidence),
        ])
    }
}

/// The 1-based line of the first line of `text` that starts with `prefix`
/// (after indentation).
fn line_of(text: &str, prefix: &str) -> Option<u64> {
    let index = text.lines().position(|l| l.trim_start().starts_with(prefix))?;
    u64::try_from(index + 1).ok()
}

impl RuntimeConfig {
    /// Reads and parses the file at `config_path`, with its relative paths
    /// resolved against the file's directory.
    pub fn load(config_path: &Path) -> Result<Self, RunError> {
        let shown = config_path.display().to_string();
        let text = std::fs::read_to_string(config_path).map_err(|e| RunError::io("read", &shown, e))?;
        let mut config = Self::parse(&shown, &text)?;
        config.resolve_paths(config_path.parent().unwrap_or(Path::new(".")));
        Ok(config)
    }

    /// Parses `runtime/contextos.toml`-style text.
    pub fn parse(file: &str, text: &str) -> Result<Self, DocumentError> {
        let config: Self = toml::from_str(text).map_err(|e| {
            let (line, column) = e
                .span()
                .map(|span| {
                    let before = &text[..span.start.min(text.len())];
                    let line = before.matches('\n').count() + 1;
                    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
                    (Some(line as u64), Some(column as u64))
                })
                .unwrap_or((None, None));
            DocumentError {
                line,
                column,
                ..DocumentError::new(file, e.message())
            }
            .with_source(text)
        })?;
        if config.format_version != 1 {
            return Err(DocumentError::new(
                file,
                format!("unsupported format_version {}, expected 1", config.format_version),
            ));
        }
        if let Some(live) = &config.model.live {
            live.check().map_err(|m| {
                DocumentError {
                    line: line_of(text, "[model.live]"),
                    ..DocumentError::new(file, format!("[model.live] {m}"))
                }
                .with_source(text)
            })?;
            check_params(&config.model.params).map_err(|m| {
                DocumentError {
                    line: line_of(text, "params"),
                    ..DocumentError::new(file, format!("[model] {m}"))
                }
                .with_source(text)
            })?;
        }
        Ok(config)
    }

    /// Resolves every relative path against `base` (the config file's directory).
    pub fn resolve_paths(&mut self, base: &Path) {
        let fix = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        fix(&mut self.paths.policies);
        fix(&mut self.paths.tools);
        fix(&mut self.paths.keys);
        fix(&mut self.paths.signing_key);
        fix(&mut self.paths.store);
        if let Some(entities) = &mut self.paths.entities {
            fix(entities);
        }
        for pack in &mut self.context.packs {
            fix(pack);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHIPPED: &str = include_str!("../../../runtime/contextos.toml");

    fn with_live(block: &str) -> String {
        SHIPPED.replace("\n[context]\n", &format!("\n[model.live]\n{block}\n[context]\n"))
    }

    #[test]
    fn the_shipped_config_has_no_live_model() {
        let config = RuntimeConfig::parse("contextos.toml", SHIPPED).unwrap();
        assert_eq!(config.model.live, None);
    }

    #[test]
    fn a_live_block_parses_with_defaults_and_stays_out_of_the_serialized_model() {
        let text = with_live("base_url = \"https://api.openai.com/v1\"\ntimeout_secs = 30\n");
        let config = RuntimeConfig::parse("contextos.toml", &text).unwrap();
        let live = config.model.live.clone().unwrap();
        assert_eq!(
            live,
            LiveModelConfig {
                timeout_secs: 30,
                ..LiveModelConfig::new("https://api.openai.com/v1")
            }
        );
        let shipped = RuntimeConfig::parse("contextos.toml", SHIPPED).unwrap();
        assert_eq!(
            serde_json::to_value(&config.model).unwrap(),
            serde_json::to_value(&shipped.model).unwrap()
        );
    }

    #[test]
    fn a_bad_live_block_names_the_file_line_and_field() {
        let err = RuntimeConfig::parse("contextos.toml", &with_live("base_url = \"ftp://x\"\n")).unwrap_err();
        let line = SHIPPED.lines().position(|l| l == "[context]").unwrap() + 1;
        assert_eq!(err.line, Some(line as u64));
        let shown = err.to_string();
        assert!(shown.contains("contextos.toml"), "{shown}");
        assert!(
            shown.contains("[model.live] `base_url` must start with http://"),
            "{shown}"
        );

        let err = RuntimeConfig::parse(
            "contextos.toml",
            &with_live("base_url = \"http://h\"\napi_key = \"x\"\n"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("unknown field `api_key`"), "{err}");

        let reserved =
            with_live("base_url = \"http://h\"\n").replace("max_tokens = 800", "max_tokens = 800, stream = true");
        let err = RuntimeConfig::parse("contextos.toml", &reserved)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("[model] parameter `stream` is set by the live model provider"),
            "{err}"
        );
    }
}
