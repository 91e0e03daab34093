//! The deployment a run executes against: `runtime/contextos.toml` and the
//! policies, tool contracts, keys and verified context packs it names.

use std::path::Path;

use contextos_action::ToolCatalog;
use contextos_context::{LoadOptions, LoadedPack, TokenCounter, load_pack};
use contextos_trust::{Keyring, PolicyEngine, SigningKey};

use crate::config::RuntimeConfig;
use crate::error::RunError;

/// Everything a run executes against: configuration, policies, tools, packs, keys.
#[derive(Debug)]
pub struct Deployment {
    /// The configuration (paths resolved).
    pub config: RuntimeConfig,
    /// The policy engine.
    pub policy: PolicyEngine,
    /// Tool contracts.
    pub catalog: ToolCatalog,
    /// Trusted keys.
    pub keyring: Keyring,
    /// The key that signs records and packets.
    pub signing_key: SigningKey,
    /// Verified context packs.
    pub packs: Vec<LoadedPack>,
    /// Token counter for the model's encoding (kept: it caches counts per snippet).
    pub tokens: TokenCounter,
}

impl Deployment {
    /// Loads `runtime/contextos.toml` and everything it names.
    pub fn load(config_path: &Path) -> Result<Self, RunError> {
        Self::from_config(RuntimeConfig::load(config_path)?)
    }

    /// Loads everything `config` names.
    pub fn from_config(config: RuntimeConfig) -> Result<Self, RunError> {
        let catalog = ToolCatalog::load(&config.paths.tools)?;
        // The tool actions come from this deployment's own contracts, so the
        // schema always matches the tools a run can call.
        let policy = PolicyEngine::load_with_tools(&config.paths.policies, &catalog.cedar_schema())?;
        check_tool_entities(&catalog, &policy, &config.paths.tools)?;
        let keyring = Keyring::load_dir(&config.paths.keys)?;
        let signing_key = SigningKey::load(&config.paths.signing_key)?;
        let packs = load_packs(&config, &keyring)?;
        let tokens = TokenCounter::for_model(&config.model.name)?;
        Ok(Self {
            config,
            policy,
            catalog,
            keyring,
            signing_key,
            packs,
            tokens,
        })
    }

    /// Replaces the policy bundle (a what-if replay).
    pub fn with_policies(mut self, dir: &Path) -> Result<Self, RunError> {
        self.policy = PolicyEngine::load_with_tools(dir, &self.catalog.cedar_schema())?;
        check_tool_entities(&self.catalog, &self.policy, &self.config.paths.tools)?;
        self.config.paths.policies = dir.to_path_buf();
        Ok(self)
    }

    /// Replaces the tool contracts.
    pub fn with_tools(mut self, dir: &Path) -> Result<Self, RunError> {
        self.catalog = ToolCatalog::load(dir)?;
        self.policy = PolicyEngine::load_with_tools(&self.config.paths.policies, &self.catalog.cedar_schema())?;
        check_tool_entities(&self.catalog, &self.policy, dir)?;
        self.config.paths.tools = dir.to_path_buf();
        Ok(self)
    }

    /// Replaces the context packs with every `*.pack.json` in `dir`.
    pub fn with_packs(mut self, dir: &Path) -> Result<Self, RunError> {
        let files = contextos_fs::files_with_suffix(dir, &[".pack.json"])
            .map_err(|e| RunError::io("read", &dir.display().to_string(), e))?;
        self.config.context.packs = files;
        self.packs = load_packs(&self.config, &self.keyring)?;
        Ok(self)
    }
}

/// Refuses tool contracts whose entity (built-in attributes plus the
/// contract's declared `attributes:`) does not fit the policy schema's `Tool`.
fn check_tool_entities(catalog: &ToolCatalog, policy: &PolicyEngine, tools: &Path) -> Result<(), RunError> {
    let entities = serde_json::Value::Array(catalog.cedar_entities());
    cedar_policy::Entities::from_json_value(entities, Some(policy.schema()))
        .map(|_| ())
        .map_err(|e| {
            // Cedar's own message is "error during entity deserialization";
            // what is wrong is in its causes.
            let mut why = e.to_string();
            let mut cause = std::error::Error::source(&e);
            while let Some(c) = cause {
                why = format!("{why}: {c}");
                cause = c.source();
            }
            RunError::Input(format!(
                "the tool contracts in {} do not match the policy schema's Tool: {why}; declare each contract \
                 attribute on `entity Tool` in schema.cedarschema",
                tools.display()
            ))
        })
}

/// Loads and verifies the packs the configuration names (unsigned packs only in development mode).
pub fn load_packs(config: &RuntimeConfig, keyring: &Keyring) -> Result<Vec<LoadedPack>, RunError> {
    let options = LoadOptions {
        allow_unsigned_dev_packs: config.context.allow_unsigned_dev_packs,
    };
    config
        .context
        .packs
        .iter()
        .map(|path| Ok(load_pack(path, keyring, &options)?))
        .collect()
}
