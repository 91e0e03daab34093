//! Corpora of recorded runs, verified with the deployment's keyring, and the
//! re-evaluation of their recorded policy requests under another policy set
//! (shared by impact and coverage). A corpus directory is either a tree of
//! signed replay packets (`<suite>/<case>.packet.json`, default `goldens/`)
//! or a run store (`.contextos/`: a directory with both `objects/` and
//! `runs/`, as [`Store::has_layout`] says), whose every stored run is one
//! packet named `store/<run_id>`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use cedar_policy::Entities;
use contextos_core::{
    DocumentError, ErrorKind, IoError, Kind, PolicyDecision, PolicyOutcome, RecordedRequest, ReplayPacket,
    ShadowEffect, parse_json,
};
use contextos_intelligence::{EntitySource, identity_entities};
use contextos_runtime::{Deployment, REPLAY_PACKET_TYPE};
use contextos_store::{RunIndexEntry, Store, StoreError};
use contextos_trust::{Keyring, PolicyEngine, RequestDocument, SignedEnvelope, VerifyError, is_shadow_error};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The file-name suffix of a signed replay packet in a corpus.
const PACKET_SUFFIX: &str = ".packet.json";

/// The suite of every packet read from a run store (its case is the run id).
pub const STORE_SUITE: &str = "store";

/// A corpus that could not be loaded or evaluated.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum CorpusError {
    /// The corpus directory is missing or not a directory.
    #[error("corpus directory {dir} does not exist or is not a directory")]
    #[diagnostic(help("record runs into it (one `<suite>/<case>.packet.json` per run) or pass --corpus"))]
    Missing {
        /// The directory as given.
        dir: String,
    },
    /// The corpus holds no packets: nothing would be checked.
    #[error("corpus directory {dir} holds no *{PACKET_SUFFIX} files")]
    #[diagnostic(help(
        "a corpus is a tree of signed replay packets named `<suite>/<case>.packet.json`, or a run store (`objects/` and `runs/`)"
    ))]
    Empty {
        /// The directory as given.
        dir: String,
    },
    /// The run store holds no runs: nothing would be checked.
    #[error("run store {dir} holds no runs")]
    #[diagnostic(help("record runs into it (`contextos run REQUEST --store {dir}`) or pass another --corpus"))]
    EmptyStore {
        /// The store directory as given.
        dir: String,
    },
    /// A run store's index or one of its objects could not be read.
    #[error("run store {dir}: {what}")]
    Store {
        /// The store directory as given.
        dir: String,
        /// What was being read: the index, or which run's packet object.
        what: String,
        /// Why (boxed: a store error is large; its cause is printed below).
        #[source]
        source: Box<StoreError>,
    },
    /// A stored packet records another run than the index entry naming it.
    #[error("packet {file} records run {recorded:?}, not the run it is stored under")]
    RunMismatch {
        /// The stored packet, as shown to the user.
        file: String,
        /// The run id the packet records.
        recorded: String,
    },
    /// A file or directory could not be read.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Io(#[from] IoError),
    /// A packet file is not a signed envelope.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Document(#[from] DocumentError),
    /// A packet's signature, payload type or canonical form did not verify.
    #[error("packet {file} does not verify")]
    Verification {
        /// The packet file.
        file: String,
        /// Why.
        #[source]
        #[diagnostic_source]
        source: VerifyError,
    },
    /// A run's identities, tools or packs do not fit a policy bundle's schema.
    #[error("packet {file}: the run's entities do not match the {bundle} policy schema: {message}")]
    #[diagnostic(help("a schema change that rejects recorded identities, tools or packs would refuse every such run"))]
    Entities {
        /// The packet file.
        file: String,
        /// Which policy set: `baseline`, `candidate` or `measured` (coverage).
        bundle: String,
        /// Cedar's message.
        message: String,
    },
}

impl Kind for CorpusError {
    /// Exit-code kind: a packet that does not verify is a verification
    /// failure (exit 3); everything else is bad input (exit 2).
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Verification { source, .. } => source.kind(),
            Self::Store { source, .. } => source.kind(),
            Self::RunMismatch { .. } => ErrorKind::Verification,
            Self::Missing { .. }
            | Self::Empty { .. }
            | Self::EmptyStore { .. }
            | Self::Io(_)
            | Self::Document(_)
            | Self::Entities { .. } => ErrorKind::Input,
        }
    }
}

/// One verified packet of a corpus.
#[derive(Clone, Debug, PartialEq)]
pub struct CorpusPacket {
    /// Where the packet was read, as shown to the user: the packet file, or
    /// `run <run_id> in store <dir> (<packet digest>)`.
    pub file: String,
    /// The parent directory's name, or [`STORE_SUITE`] for a stored run.
    pub suite: String,
    /// The file name without `.packet.json`, or the run id of a stored run.
    pub case: String,
    /// The verified packet.
    pub packet: ReplayPacket,
}

/// The keys a corpus is verified with: a packet of a packet tree with that
/// suite's own keyring when one is given for its suite (its parent
/// directory's name), every other packet, stored runs included, with the
/// default keyring. So suites signed by different keys live side by side
/// under one `goldens/`, and a packet still verifies only by its own suite's
/// keys.
#[derive(Clone, Debug, Default)]
pub struct CorpusKeys {
    default: Keyring,
    suites: BTreeMap<String, Keyring>,
}

impl CorpusKeys {
    /// Every packet verified with `default`.
    pub fn new(default: Keyring) -> Self {
        Self {
            default,
            suites: BTreeMap::new(),
        }
    }

    /// Packets of suite `suite` verified with `keyring` instead.
    pub fn insert_suite(&mut self, suite: &str, keyring: Keyring) {
        self.suites.insert(suite.to_owned(), keyring);
    }

    /// The keyring packets of `suite` are verified with.
    pub fn for_suite(&self, suite: &str) -> &Keyring {
        self.suites.get(suite).unwrap_or(&self.default)
    }

    /// The default keyring.
    pub fn default_keyring(&self) -> &Keyring {
        &self.default
    }

    /// The suites with a keyring of their own, by name.
    pub fn suites(&self) -> &BTreeMap<String, Keyring> {
        &self.suites
    }
}

/// What a corpus directory is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CorpusKind {
    /// A directory tree of signed replay packets (`<suite>/<case>.packet.json`).
    Packets,
    /// A run store (`.contextos/`): one packet per stored run.
    Store,
}

impl fmt::Display for CorpusKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Packets => "packet tree",
            Self::Store => "run store",
        })
    }
}

/// One directory a corpus was loaded from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorpusSource {
    /// The directory, as given.
    pub dir: String,
    /// What it is.
    pub kind: CorpusKind,
    /// How many packets it gave.
    pub packets: u64,
}

/// Every packet of one or more corpus directories, verified.
#[derive(Clone, Debug, PartialEq)]
pub struct Corpus {
    /// The directories, in the order given.
    pub sources: Vec<CorpusSource>,
    /// The packets: per directory in the order given, a packet tree's in
    /// path order and a run store's in run id order.
    pub packets: Vec<CorpusPacket>,
}

impl Corpus {
    /// Loads the corpus directory `dir`: a run store when it has both
    /// `objects/` and `runs/` directories ([`Store::has_layout`]), else a
    /// packet tree. Every packet is verified against `keyring` as a replay
    /// packet; loading fails on the first bad packet in corpus order,
    /// whatever the thread count. An empty corpus is an error (a check over
    /// nothing would pass silently).
    pub fn load(dir: &Path, keyring: &Keyring) -> Result<Self, CorpusError> {
        Self::load_with(dir, &CorpusKeys::new(keyring.clone()))
    }

    /// Loads `dir` as [`Corpus::load`] does, each packet verified with the
    /// keyring `keys` gives its suite.
    pub fn load_with(dir: &Path, keys: &CorpusKeys) -> Result<Self, CorpusError> {
        let shown = dir.to_string_lossy().replace('\\', "/");
        if !dir.is_dir() {
            return Err(CorpusError::Missing { dir: shown });
        }
        let (kind, packets) = if Store::has_layout(dir) {
            (CorpusKind::Store, load_store(dir, &shown, keys.for_suite(STORE_SUITE))?)
        } else {
            (CorpusKind::Packets, load_tree(dir, &shown, keys)?)
        };
        Ok(Self {
            sources: vec![CorpusSource {
                dir: shown,
                kind,
                packets: packets.len() as u64,
            }],
            packets,
        })
    }

    /// One corpus of every packet of each of `dirs`, in the order given
    /// (each loaded as by [`Corpus::load`]); its `sources` name them all.
    pub fn load_all(dirs: &[PathBuf], keyring: &Keyring) -> Result<Self, CorpusError> {
        Self::load_all_with(dirs, &CorpusKeys::new(keyring.clone()))
    }

    /// One corpus of every packet of each of `dirs`, each packet verified
    /// with the keyring `keys` gives its suite.
    pub fn load_all_with(dirs: &[PathBuf], keys: &CorpusKeys) -> Result<Self, CorpusError> {
        let mut all = Self {
            sources: Vec::new(),
            packets: Vec::new(),
        };
        for dir in dirs {
            let one = Self::load_with(dir, keys)?;
            all.sources.extend(one.sources);
            all.packets.extend(one.packets);
        }
        Ok(all)
    }

    /// The distinct suites of its packets (`store` for stored runs), sorted.
    pub fn suites(&self) -> Vec<&str> {
        let names: std::collections::BTreeSet<&str> = self.packets.iter().map(|p| p.suite.as_str()).collect();
        names.into_iter().collect()
    }

    /// How many policy decisions the corpus records.
    pub fn decisions(&self) -> u64 {
        self.packets
            .iter()
            .map(|p| p.packet.decision_record.policy_decisions.len() as u64)
            .sum()
    }
}

/// Every `*.packet.json` under `dir` (recursively), in path order.
fn load_tree(dir: &Path, shown: &str, keys: &CorpusKeys) -> Result<Vec<CorpusPacket>, CorpusError> {
    let mut files = Vec::new();
    packet_files(dir, &mut files)?;
    files.sort();
    if files.is_empty() {
        return Err(CorpusError::Empty { dir: shown.to_owned() });
    }
    first_error_in_order(files.par_iter().map(|path| load_packet(path, keys)).collect())
}

/// The packet of every run of the store at `dir`, in run id order. Objects
/// are read through the store, which re-hashes them.
fn load_store(dir: &Path, shown: &str, keyring: &Keyring) -> Result<Vec<CorpusPacket>, CorpusError> {
    let store = Store::open_existing(dir).map_err(|source| CorpusError::Store {
        dir: shown.to_owned(),
        what: "it cannot be opened".to_owned(),
        source: Box::new(source),
    })?;
    let mut runs = store.list_runs().map_err(|source| CorpusError::Store {
        dir: shown.to_owned(),
        what: "its run index cannot be read".to_owned(),
        source: Box::new(source),
    })?;
    if runs.is_empty() {
        return Err(CorpusError::EmptyStore { dir: shown.to_owned() });
    }
    runs.sort_by(|a, b| a.run_id.cmp(&b.run_id));
    first_error_in_order(
        runs.par_iter()
            .map(|entry| load_stored_packet(&store, shown, entry, keyring))
            .collect(),
    )
}

/// The packets, or the first error in corpus order (rayon's own collect
/// into a `Result` may return any of the errors).
fn first_error_in_order(loaded: Vec<Result<CorpusPacket, CorpusError>>) -> Result<Vec<CorpusPacket>, CorpusError> {
    loaded.into_iter().collect()
}

fn load_stored_packet(
    store: &Store,
    shown: &str,
    entry: &RunIndexEntry,
    keyring: &Keyring,
) -> Result<CorpusPacket, CorpusError> {
    let file = format!("run {} in store {shown} ({})", entry.run_id, entry.packet);
    let bytes = store.get_object(&entry.packet).map_err(|source| CorpusError::Store {
        dir: shown.to_owned(),
        what: format!(
            "run {}: its packet object {} cannot be read",
            entry.run_id, entry.packet
        ),
        source: Box::new(source),
    })?;
    let text = String::from_utf8_lossy(&bytes);
    let envelope: SignedEnvelope = parse_json(&file, &text)?;
    let packet: ReplayPacket =
        keyring
            .verify_as(&envelope, REPLAY_PACKET_TYPE)
            .map_err(|source| CorpusError::Verification {
                file: file.clone(),
                source,
            })?;
    if packet.run_id != entry.run_id {
        return Err(CorpusError::RunMismatch {
            file,
            recorded: packet.run_id,
        });
    }
    Ok(CorpusPacket {
        file,
        suite: STORE_SUITE.to_owned(),
        case: entry.run_id.clone(),
        packet,
    })
}

fn packet_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), CorpusError> {
    let io = |e| CorpusError::Io(IoError::new("read", dir, e));
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let path = entry.path();
        if entry.file_type().map_err(io)?.is_dir() {
            packet_files(&path, out)?;
        } else if path.to_string_lossy().ends_with(PACKET_SUFFIX) {
            out.push(path);
        }
    }
    Ok(())
}

fn load_packet(path: &Path, keys: &CorpusKeys) -> Result<CorpusPacket, CorpusError> {
    let file = path.to_string_lossy().replace('\\', "/");
    let name = |p: Option<&std::ffi::OsStr>| p.map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let suite = name(path.parent().and_then(Path::file_name));
    let text = std::fs::read_to_string(path).map_err(IoError::of("read", &file))?;
    let envelope: SignedEnvelope = parse_json(&file, &text)?;
    let packet = keys
        .for_suite(&suite)
        .verify_as(&envelope, REPLAY_PACKET_TYPE)
        .map_err(|source| CorpusError::Verification {
            file: file.clone(),
            source,
        })?;
    let file_name = name(path.file_name());
    Ok(CorpusPacket {
        suite,
        case: file_name.strip_suffix(PACKET_SUFFIX).unwrap_or(&file_name).to_string(),
        file,
        packet,
    })
}

/// The outcome of one recorded request under a policy set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Evaluated {
    pub outcome: PolicyOutcome,
    pub determining: Vec<String>,
    pub approver_roles: Vec<String>,
    pub shadow: Vec<ShadowEffect>,
    /// Errors of enforced policies (shadow policies' errors decide nothing).
    pub errors: Vec<String>,
    pub reason: String,
    /// The recorded request does not fit this engine's schema (it was
    /// recorded before a schema change), so it was not decided.
    pub unfit: bool,
}

impl From<PolicyDecision> for Evaluated {
    fn from(d: PolicyDecision) -> Self {
        Self {
            outcome: d.outcome,
            determining: d.determining_policies,
            approver_roles: d.approver_roles,
            shadow: d.shadow,
            errors: d.errors.into_iter().filter(|e| !is_shadow_error(e)).collect(),
            reason: d.reason,
            unfit: false,
        }
    }
}

/// Re-evaluates recorded requests: the tool, pack and entity-source entities
/// come from the deployment, the identities from each packet's run context
/// (with the deployment's entity-source attributes).
#[derive(Debug)]
pub(crate) struct Reevaluator {
    shared_entities: Vec<Value>,
    source: EntitySource,
}

/// A policy set to evaluate under, with the name errors use for it.
pub(crate) struct NamedEngine<'a> {
    pub name: &'a str,
    pub engine: &'a PolicyEngine,
}

impl Reevaluator {
    pub(crate) fn new(deployment: &Deployment) -> Self {
        Self {
            shared_entities: deployment.shared_entities(),
            source: deployment.entities.clone(),
        }
    }

    /// Every packet of `corpus` re-evaluated (in parallel, results in corpus order).
    pub(crate) fn corpus(
        &self,
        corpus: &Corpus,
        engines: &[NamedEngine<'_>],
    ) -> Result<Vec<Vec<Option<Vec<Evaluated>>>>, CorpusError> {
        corpus
            .packets
            .par_iter()
            .map(|p| self.packet(p, engines))
            .collect::<Vec<_>>()
            .into_iter()
            .collect()
    }

    /// Every decision of `packet`, in record order, re-evaluated under each
    /// engine (`None` for a decision recorded without its request).
    pub(crate) fn packet(
        &self,
        packet: &CorpusPacket,
        engines: &[NamedEngine<'_>],
    ) -> Result<Vec<Option<Vec<Evaluated>>>, CorpusError> {
        let mut json = identity_entities(&packet.packet.inputs.run_context, &self.source);
        json.extend(self.shared_entities.iter().cloned());
        let json = Value::Array(json);
        let entities = engines
            .iter()
            .map(|e| {
                Entities::from_json_value(json.clone(), Some(e.engine.schema())).map_err(|err| CorpusError::Entities {
                    file: packet.file.clone(),
                    bundle: e.name.to_string(),
                    message: err.to_string(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(packet
            .packet
            .decision_record
            .policy_decisions
            .iter()
            .map(|d| Some(evaluate(d, d.request.as_ref()?, engines, &entities)))
            .collect())
    }
}

/// One recorded request under each engine, as the runtime would decide it:
/// a request that does not fit an engine's schema denies (fail closed).
fn evaluate(
    d: &PolicyDecision,
    request: &RecordedRequest,
    engines: &[NamedEngine<'_>],
    entities: &[Entities],
) -> Vec<Evaluated> {
    let deny = |message: String| Evaluated {
        outcome: PolicyOutcome::Deny,
        determining: Vec::new(),
        approver_roles: Vec::new(),
        shadow: Vec::new(),
        reason: format!("denied because policy evaluation failed (fail closed): {message}"),
        errors: vec![message],
        unfit: true,
    };
    let Value::Object(context) = &request.context else {
        return engines
            .iter()
            .map(|_| deny("the recorded context is not a record".to_string()))
            .collect();
    };
    let mut context = context.clone();
    let role = request.approval_role.as_deref();
    context.insert(
        "approval".to_string(),
        json!({ "granted": role.is_some(), "role": role.unwrap_or("") }),
    );
    let doc = RequestDocument {
        principal: d.principal.clone(),
        action: d.action.clone(),
        resource: d.resource.clone(),
        context,
        entities: Vec::new(),
    };
    // Building the Cedar context from JSON costs more than deciding, so a
    // request built for one engine is reused for the next: the recorded
    // context is explicit Cedar JSON (entity and extension escapes), which
    // reads the same under any schema, and `authorize` still validates the
    // request against each engine's own schema.
    let mut built = None;
    engines
        .iter()
        .zip(entities)
        .map(|(e, entities)| {
            if built.is_none() {
                match e.engine.request_from_document(&doc) {
                    Ok((req, _)) => built = Some(req),
                    Err(err) => return deny(format!("request does not match the schema: {err}")),
                }
            }
            match &built {
                Some(req) => e.engine.authorize(req, entities).into(),
                None => deny("the request could not be built".to_string()),
            }
        })
        .collect()
}
