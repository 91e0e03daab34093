//! The deployment a run executes against: `runtime/contextos.toml` and the
//! policies, tool contracts, keys and verified context packs it names.

use std::path::Path;

use contextos_action::ToolCatalog;
use contextos_context::{LoadOptions, LoadedPack, TokenCounter, load_pack};
use contextos_core::cedar_names::{LAYER, PACK, TENANT};
use contextos_intelligence::{Described, EntitySource};
use contextos_trust::{Keyring, PolicyEngine, SigningKey};
use serde_json::{Value, json};

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
    /// The entity source (empty when the configuration names none).
    pub entities: EntitySource,
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
        let policy = PolicyEngine::load_with_tools(&config.paths.policies, &catalog.cedar_actions())?;
        let keyring = Keyring::load_dir(&config.paths.keys)?;
        let signing_key = SigningKey::load(&config.paths.signing_key)?;
        let packs = load_packs(&config, &keyring)?;
        let tokens = TokenCounter::for_model(&config.model.name)?;
        let entities = match &config.paths.entities {
            Some(path) => EntitySource::load(path)?,
            None => EntitySource::empty(),
        };
        let dep = Self {
            config,
            policy,
            catalog,
            keyring,
            signing_key,
            packs,
            entities,
            tokens,
        };
        dep.check_entities()?;
        Ok(dep)
    }

    /// The Cedar entities every run of this deployment shares: tools, packs
    /// and layers, and the entity source's own entities.
    pub fn shared_entities(&self) -> Vec<Value> {
        let mut out = self.catalog.cedar_entities();
        out.extend(pack_entities(&self.packs, &self.entities));
        out.extend(self.entities.entities.iter().cloned());
        out
    }

    /// Refuses shared entities that do not fit the policy schema (a tool
    /// contract's or a pack's `attributes` not matching the declared type),
    /// so the mismatch is reported when the deployment loads, not mid-run.
    fn check_entities(&self) -> Result<(), RunError> {
        let entities = Value::Array(self.shared_entities());
        cedar_policy::Entities::from_json_value(entities, Some(self.policy.schema()))
            .map(|_| ())
            .map_err(|e| {
                RunError::Input(format!(
                    "the tool contracts ({}), packs and entity source of this deployment do not match the policy \
                     schema: {}; a contract's or pack's `attributes` must fit the ToolAttributes / PackAttributes \
                     record that schema.cedarschema declares",
                    self.config.paths.tools.display(),
                    error_chain(&e)
                ))
            })
    }

    /// Replaces the policy bundle (a what-if replay).
    pub fn with_policies(mut self, dir: &Path) -> Result<Self, RunError> {
        self.policy = PolicyEngine::load_with_tools(dir, &self.catalog.cedar_actions())?;
        self.config.paths.policies = dir.to_path_buf();
        self.check_entities()?;
        Ok(self)
    }

    /// Replaces the tool contracts.
    pub fn with_tools(mut self, dir: &Path) -> Result<Self, RunError> {
        self.catalog = ToolCatalog::load(dir)?;
        self.policy = PolicyEngine::load_with_tools(&self.config.paths.policies, &self.catalog.cedar_actions())?;
        self.config.paths.tools = dir.to_path_buf();
        self.check_entities()?;
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

/// Cedar entities for packs (`ContextOS::Pack::"name:version"`, with the
/// `attributes` the entity source gives the pack's name) and their layers
/// (`ContextOS::Layer::"name:version#layer"`).
pub fn pack_entities(packs: &[LoadedPack], source: &EntitySource) -> Vec<Value> {
    let mut out = Vec::new();
    for loaded in packs {
        let pack = loaded.pack();
        let owner = pack.owner_tenant.as_ref().map(|t| json!({"type": TENANT, "id": t}));
        let mut attrs = json!({
            "signed": loaded.is_signed(),
            "attributes": source.attributes(Described::Pack, &pack.name),
        });
        if let Some(owner) = &owner {
            attrs["owner_tenant"] = owner.clone();
        }
        out.push(json!({ "uid": {"type": PACK, "id": pack.id}, "attrs": attrs, "parents": [] }));
        for layer in &pack.layers {
            let mut attrs = json!({ "kind": layer.layer.as_str() });
            if let Some(owner) = &owner {
                attrs["owner_tenant"] = owner.clone();
            }
            out.push(json!({
                "uid": {"type": LAYER, "id": format!("{}#{}", pack.id, layer.layer)},
                "attrs": attrs,
                "parents": [{"type": PACK, "id": pack.id}],
            }));
        }
    }
    out
}

/// Cedar's message with its causes (its own top line is only "error during
/// entity deserialization"; what is wrong is in the causes).
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut why = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        why = format!("{why}: {c}");
        cause = c.source();
    }
    why
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
