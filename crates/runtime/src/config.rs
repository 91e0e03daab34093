//! `runtime/contextos.toml`: the deployment a run executes in.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use contextos_core::DocumentError;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The parsed configuration file. Relative paths are relative to the file's directory.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuntimeConfig {
    /// Document format version.
    pub format_version: u32,
    /// The model.
    pub model: ModelConfig,
    /// The context plane.
    pub context: ContextConfig,
    /// Where things live.
    pub paths: PathsConfig,
    /// Evaluator thresholds.
    pub evaluator: EvaluatorConfig,
}

/// Model settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// Model name (also picks the tokenizer).
    pub name: String,
    /// Parameters sent with every request.
    #[serde(default)]
    pub params: BTreeMap<String, Value>,
}

/// Context-plane settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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

/// Paths.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathsConfig {
    /// The policy bundle.
    pub policies: PathBuf,
    /// Tool contracts.
    pub tools: PathBuf,
    /// Trusted public keys (`*.pub`).
    pub keys: PathBuf,
    /// The key that signs records and packets.
    pub signing_key: PathBuf,
    /// The embedded store.
    pub store: PathBuf,
}

/// Evaluator thresholds (a replay may override them).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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

impl RuntimeConfig {
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
                file: file.to_string(),
                line,
                column,
                message: e.message().to_string(),
            }
        })?;
        if config.format_version != 1 {
            return Err(DocumentError::new(
                file,
                format!("unsupported format_version {}, expected 1", config.format_version),
            ));
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
        for pack in &mut self.context.packs {
            fix(pack);
        }
    }
}
