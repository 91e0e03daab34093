//! Which deployment configuration a command uses, and the line saying so.
//!
//! One rule for every command that reads policies, keys, packs, goldens or
//! the store: `--config` when given; else, for a command given a suite, the
//! suite's `config`; else `runtime/contextos.toml`. `--policies` (and
//! `--baseline`) override only the bundle, defaulting to the config's
//! `paths.policies`. Packets of a packet tree are verified with the keys of
//! their own suite's deployment: the suite of `goldens/<suite>/` is the suite
//! of that name under `scenarios/`. Each command says once, on stderr, which
//! config, bundle, keys and corpus it used.

use std::path::{Path, PathBuf};

use contextos_harness::{Corpus, CorpusKeys, load_suite_file};
use contextos_runtime::{RuntimeConfig, SourcesConfig, collapse_parent_dirs};
use contextos_trust::{Keyring, PolicyEngine};

use crate::output::CliError;

/// The deployment configuration used when neither `--config` nor a suite names one.
pub(crate) const DEFAULT_CONFIG: &str = "runtime/contextos.toml";

/// Where suites live; `goldens/<suite>/` belongs to the suite of that name here.
const SCENARIOS_DIR: &str = "scenarios";

/// The configuration path: `explicit` (`--config`), else the `config` of the
/// suite in `suite_dir`, else [`DEFAULT_CONFIG`].
pub(crate) fn config_path(explicit: Option<&Path>, suite_dir: Option<&Path>) -> Result<PathBuf, CliError> {
    if let Some(path) = explicit {
        return Ok(path.to_path_buf());
    }
    if let Some(dir) = suite_dir {
        let file = load_suite_file(dir)?;
        return Ok(dir.join(file.config));
    }
    Ok(PathBuf::from(DEFAULT_CONFIG))
}

/// The configuration at `explicit`, or the default one when it exists
/// (`None` when no `--config` is given and there is no default file: a bare
/// policy bundle can still be validated, tested and explained).
pub(crate) fn optional_config(explicit: Option<&Path>) -> Result<Option<(PathBuf, RuntimeConfig)>, CliError> {
    let path = config_path(explicit, None)?;
    if explicit.is_none() && !path.is_file() {
        return Ok(None);
    }
    let config = RuntimeConfig::load(&path)?;
    Ok(Some((path, config)))
}

/// A suite whose packets are verified with keys other than the command's.
#[derive(Debug)]
pub(crate) struct SuiteKeys {
    suite: String,
    config: PathBuf,
    keyring: Keyring,
}

/// The keys a corpus is verified with: `default` (the command's
/// deployment's, at `config`), and for each suite under `scenarios/` whose
/// own configuration is another file, that configuration's keys.
pub(crate) fn corpus_keys(config: &Path, default: &Keyring) -> Result<(CorpusKeys, Vec<SuiteKeys>), CliError> {
    let mut keys = CorpusKeys::new(default.clone());
    let mut others = Vec::new();
    let Ok(entries) = std::fs::read_dir(SCENARIOS_DIR) else {
        return Ok((keys, others));
    };
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.join("suite.yaml").is_file())
        .collect();
    dirs.sort();
    let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    };
    for dir in dirs {
        let file = load_suite_file(&dir)?;
        let suite_config = dir.join(&file.config);
        if same(&suite_config, config) {
            continue;
        }
        let parsed = RuntimeConfig::load(&suite_config)?;
        let keyring = Keyring::load_dir(&parsed.paths.keys)?;
        keys.insert_suite(&file.name, keyring.clone());
        others.push(SuiteKeys {
            suite: file.name,
            config: suite_config,
            keyring,
        });
    }
    Ok((keys, others))
}

/// What a command used, printed once to stderr (stdout stays the command's
/// own output, JSON included).
#[derive(Debug, Default)]
pub(crate) struct Using<'a> {
    /// The deployment configuration, when one was read.
    pub config: Option<&'a Path>,
    /// The policy bundles: a label (`policies`, `baseline`, `candidate`), where, and what loaded.
    pub bundles: Vec<(&'a str, &'a Path, &'a PolicyEngine)>,
    /// The trusted keys.
    pub keyring: Option<&'a Keyring>,
    /// The run store.
    pub store: Option<&'a Path>,
    /// Where goldens are read or written.
    pub goldens: Option<&'a Path>,
    /// The corpus, and the suites verified with keys of their own.
    pub corpus: Option<(&'a Corpus, &'a [SuiteKeys])>,
}

/// The key ids of `keyring`, comma-separated (`none` when empty).
pub(crate) fn key_list(keyring: &Keyring) -> String {
    let ids: Vec<&str> = keyring.key_ids().collect();
    if ids.is_empty() {
        "none".to_owned()
    } else {
        ids.join(", ")
    }
}

/// `path` as shown: each `dir/..` collapsed.
fn shown(path: &Path) -> String {
    collapse_parent_dirs(path).display().to_string()
}

impl Using<'_> {
    /// The line (and, when suites have keys of their own, a second line).
    pub(crate) fn render(&self) -> String {
        let mut parts = Vec::new();
        for (label, dir, engine) in &self.bundles {
            parts.push(format!("{label} {} ({} policies)", shown(dir), engine.policies().len()));
        }
        if let Some(keyring) = self.keyring {
            parts.push(format!("keys {}", key_list(keyring)));
        }
        if let Some(store) = self.store {
            parts.push(format!("store {}", shown(store)));
        }
        if let Some(goldens) = self.goldens {
            parts.push(format!("goldens {}", shown(goldens)));
        }
        let mut second = None;
        if let Some((corpus, others)) = self.corpus {
            let dirs: Vec<&str> = corpus.sources.iter().map(|s| s.dir.as_str()).collect();
            let suites = corpus.suites();
            parts.push(format!(
                "corpus {} ({} packets, {} {}: {})",
                dirs.join(" + "),
                corpus.packets.len(),
                suites.len(),
                if suites.len() == 1 { "suite" } else { "suites" },
                suites.join(", ")
            ));
            let own: Vec<String> = others
                .iter()
                .filter(|o| suites.contains(&o.suite.as_str()))
                .map(|o| {
                    format!(
                        "{} with the keys of {} ({})",
                        o.suite,
                        shown(&o.config),
                        key_list(&o.keyring)
                    )
                })
                .collect();
            if !own.is_empty() {
                second = Some(format!("  packets of suite {}", own.join("; of suite ")));
            }
        }
        let head = match self.config {
            Some(config) => format!("using config {}", shown(config)),
            None => "using no deployment config".to_owned(),
        };
        let mut text = if parts.is_empty() {
            head
        } else {
            format!("{head}: {}", parts.join(", "))
        };
        if let Some(line) = second {
            text.push('\n');
            text.push_str(&line);
        }
        text
    }

    /// Prints [`Using::render`] to stderr.
    pub(crate) fn print(&self) {
        eprintln!("{}", self.render());
    }
}

/// The live tool sources of a command: the deployment's `[sources]` first,
/// then those given on the command line.
#[derive(Debug, Default)]
pub(crate) struct LiveSources {
    /// MCP server specs.
    pub mcp: Vec<PathBuf>,
    /// OpenAPI source specs.
    pub openapi: Vec<PathBuf>,
}

impl LiveSources {
    /// Whether there is no source at all.
    pub(crate) fn is_empty(&self) -> bool {
        self.mcp.is_empty() && self.openapi.is_empty()
    }
}

/// One source list: `declared` (from `[sources] <kind>` of `config`) then
/// `given` (by `flag`); a file named twice is an error naming both places.
fn merge_sources(
    config: Option<&Path>,
    kind: &str,
    declared: &[PathBuf],
    flag: &str,
    given: &[PathBuf],
) -> Result<Vec<PathBuf>, CliError> {
    let place = |from_config: bool, path: &Path| match (from_config, config) {
        (true, Some(config)) => format!("[sources] {kind} of {} ({})", shown(config), path.display()),
        _ => format!("{flag} {}", path.display()),
    };
    let key = |path: &Path| path.canonicalize().unwrap_or_else(|_| collapse_parent_dirs(path));
    let mut out: Vec<(PathBuf, bool)> = Vec::new();
    let all = declared
        .iter()
        .map(|p| (p, true))
        .chain(given.iter().map(|p| (p, false)));
    for (path, from_config) in all {
        if let Some((first, first_from_config)) = out.iter().find(|(p, _)| key(p) == key(path)) {
            return Err(CliError::input(format!(
                "the {kind} source {} is given twice: by {} and by {}; name it once",
                path.display(),
                place(*first_from_config, first),
                place(from_config, path)
            )));
        }
        out.push((path.clone(), from_config));
    }
    Ok(out.into_iter().map(|(p, _)| p).collect())
}

/// The deployment's sources (`config`, when there is one) plus those given
/// by `mcp_flag` and `--openapi`.
pub(crate) fn live_sources(
    config: Option<(&Path, &SourcesConfig)>,
    mcp_flag: &str,
    mcp: &[PathBuf],
    openapi: &[PathBuf],
) -> Result<LiveSources, CliError> {
    let empty = SourcesConfig::default();
    let (path, declared) = match config {
        Some((path, sources)) => (Some(path), sources),
        None => (None, &empty),
    };
    Ok(LiveSources {
        mcp: merge_sources(path, "mcp", &declared.mcp, mcp_flag, mcp)?,
        openapi: merge_sources(path, "openapi", &declared.openapi, "--openapi", openapi)?,
    })
}
