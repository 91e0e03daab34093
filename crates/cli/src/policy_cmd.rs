//! `contextos policy …`: validate, schema, test, explain, impact, coverage.

use std::path::{Path, PathBuf};

use clap::{Subcommand, ValueEnum};
use contextos_action::ToolCatalog;
use contextos_core::cedar_names::shown;
use contextos_core::{ExitCode, IoError, PolicyDecision, PolicyOutcome, parse_document};
use contextos_harness::{
    ChangeKind, Corpus, CorpusSource, CoverageReport, ImpactChange, ImpactReport, policy_coverage, policy_impact,
};
use contextos_runtime::{Deployment, RuntimeConfig};
use contextos_trust::{GENERATED_SCHEMA_FILE, PolicyEngine, RequestDocument, run_policy_tests};

use crate::config::{SuiteKeys, Using, config_path, corpus_keys, optional_config};
use crate::output::CliError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub(crate) enum PolicyCommand {
    /// Parse the policy bundle and validate it against its schema (strict mode), including the tool
    /// actions generated from the deployment's contracts (which must be up to date).
    #[command(after_help = "Examples:\n  contextos policy validate\n  \
contextos policy validate --config runtime/staging.toml     # that deployment's bundle and contracts\n  \
contextos policy validate --policies candidate/             # another bundle, the default deployment's contracts")]
    Validate {
        /// The bundle: schema.cedarschema, contextos.generated.cedarschema, *.cedar files, approvers.yaml
        /// [default: the config's `paths.policies`].
        #[arg(long)]
        policies: Option<PathBuf>,
        /// The deployment whose bundle and tool contracts are checked [default: runtime/contextos.toml;
        /// without it, `policies/` is validated alone].
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Print the generated ContextOS namespace: the runtime's built-in types and actions, the
    /// attribute types your schema.cedarschema declares (ToolAttributes, PackAttributes, ...), and one
    /// action per tool in the `call_tool` group with its arguments typed as `context.arguments`.
    #[command(after_help = "Examples:\n  contextos policy schema\n  \
contextos policy schema --write     # writes <policies>/contextos.generated.cedarschema\n\n\
Write it again after adding or changing a tool contract (bundled, MCP or OpenAPI pins alike) or an\n\
attribute type; `policy validate` fails while the committed file is out of date.")]
    Schema {
        /// The deployment: its tool contracts and policy bundle [default: runtime/contextos.toml].
        #[arg(long)]
        config: Option<PathBuf>,
        /// Write it into the deployment's policy bundle instead of printing it.
        #[arg(long)]
        write: bool,
    },
    /// Run policy tests (YAML files of requests and expected outcomes). Exit 1 if any fails.
    #[command(
        after_help = "Examples:\n  contextos policy test\n  contextos policy test policies/tests --format json\n  \
contextos policy test --config runtime/staging.toml"
    )]
    Test {
        /// Directory of test files [default: <policies>/tests].
        dir: Option<PathBuf>,
        /// The bundle [default: the config's `paths.policies`].
        #[arg(long)]
        policies: Option<PathBuf>,
        /// The deployment whose bundle is tested [default: runtime/contextos.toml].
        #[arg(long)]
        config: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Decide one request and explain why: outcome, determining policies, approvals, shadow effects.
    #[command(
        after_help = "Examples:\n  contextos policy explain --request examples/refund.yaml\n  \
contextos policy explain --request examples/refund.yaml --policies candidate/\n\n\
The request file (YAML or JSON) has principal, action, resource, context and entities\n\
(Cedar JSON entity format), the same fields as one policy test."
    )]
    Explain {
        /// The request file.
        #[arg(long)]
        request: PathBuf,
        /// The bundle [default: the config's `paths.policies`].
        #[arg(long)]
        policies: Option<PathBuf>,
        /// The deployment whose bundle decides [default: runtime/contextos.toml].
        #[arg(long)]
        config: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Re-evaluate every recorded policy decision of a corpus under a candidate bundle and list every
    /// decision that changes: outcome, determining policies, approver roles, or a new evaluation
    /// error. Exit 1 on any change unless --allow-changes.
    #[command(after_help = "Examples:\n  contextos policy impact --candidate candidate/\n  \
contextos policy impact --candidate candidate/ --corpus goldens --corpus .contextos\n  \
contextos policy impact --candidate candidate/ --corpus goldens/escalation --allow-changes --format json\n\n\
A corpus is a directory tree of signed replay packets (<suite>/<case>.packet.json) or a run store\n\
(a directory with objects/ and runs/, such as .contextos), whose stored runs are listed as\n\
store/<run_id>. Every packet is verified with the trusted keys of its suite's deployment (the\n\
suite of goldens/<suite>/ is scenarios/<suite>; other packets and stored runs: --config's keys), exit\n\
3 if one does not verify. Each recorded request is decided again under the baseline and the candidate, with the run's\n\
identities and the deployment's tools and packs as entities. Decisions recorded without their\n\
request (older packets) are skipped and counted.")]
    Impact {
        /// The candidate bundle: schema.cedarschema, *.cedar files, approvers.yaml.
        #[arg(long)]
        candidate: PathBuf,
        /// The bundle to compare with [default: the config's `paths.policies`].
        #[arg(long)]
        baseline: Option<PathBuf>,
        /// A directory tree of signed replay packets or a run store (.contextos); repeat to compare
        /// over several.
        #[arg(long, default_value = "goldens")]
        corpus: Vec<PathBuf>,
        /// The deployment: policy bundle, trusted keys, tool contracts and packs
        /// [default: runtime/contextos.toml].
        #[arg(long)]
        config: Option<PathBuf>,
        /// Report changes but exit 0 (reviewing an intended change).
        #[arg(long)]
        allow_changes: bool,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Share of enforced policies that determine at least one outcome over a corpus of recorded
    /// runs; lists the policies no run exercises. Exit 1 when below --min.
    #[command(
        after_help = "Examples:\n  contextos policy coverage\n  contextos policy coverage --corpus goldens --corpus .contextos\n  \
contextos policy coverage --policies candidate/ --min 0.5 --format json\n  \
contextos policy coverage --config runtime/staging.toml   # that deployment's bundle and keys\n\n\
The corpus is read as for `policy impact`: packet trees and run stores (.contextos). Every recorded\n\
request is decided again under --policies, so a candidate bundle can be measured on the same corpus.\n\
Shadow policies never decide: they are listed with how many outcomes they would have changed and do\n\
not count towards coverage."
    )]
    Coverage {
        /// A directory tree of signed replay packets or a run store (.contextos); repeat to measure
        /// over several.
        #[arg(long, default_value = "goldens")]
        corpus: Vec<PathBuf>,
        /// The bundle to measure [default: the config's `paths.policies`].
        #[arg(long)]
        policies: Option<PathBuf>,
        /// The deployment: policy bundle, trusted keys, tool contracts and packs
        /// [default: runtime/contextos.toml].
        #[arg(long)]
        config: Option<PathBuf>,
        /// Minimum share of enforced policies exercised, in [0, 1].
        #[arg(long, default_value_t = 0.9)]
        min: f64,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
}

fn load(dir: &Path) -> Result<PolicyEngine, CliError> {
    Ok(PolicyEngine::load(dir)?)
}

/// The bundle in `dir` with the tool actions of `dep`'s own contracts.
fn load_for(dep: &Deployment, dir: &Path) -> Result<PolicyEngine, CliError> {
    Ok(PolicyEngine::load_with_tools(dir, &dep.catalog.cedar_actions())?)
}

/// The deployment configuration at `config` (paths resolved) and its tool contracts.
fn tools_of(config: &Path) -> Result<(RuntimeConfig, ToolCatalog), CliError> {
    let parsed = RuntimeConfig::load(config)?;
    let catalog = ToolCatalog::load(&parsed.paths.tools)?;
    Ok((parsed, catalog))
}

/// Refuses a bundle whose committed generated schema does not match its own
/// schema.cedarschema and `config`'s contracts.
fn check_tool_schema(policies: &Path, config: &Path, parsed: &RuntimeConfig) -> Result<(), CliError> {
    let catalog = ToolCatalog::load(&parsed.paths.tools)?;
    let file = policies.join(GENERATED_SCHEMA_FILE);
    let committed = std::fs::read_to_string(&file).ok();
    let generated = PolicyEngine::generated_schema(policies, &catalog.cedar_actions())?;
    if committed.as_deref() == Some(generated.as_str()) {
        return Ok(());
    }
    let state = if committed.is_some() {
        "is out of date with"
    } else {
        "is missing for"
    };
    Err(CliError::input(format!(
        "{} {state} the attribute types and tool contracts of {}: run `contextos policy schema --write --config {}`",
        file.display(),
        config.display(),
        config.display()
    )))
}

pub(crate) fn run(cmd: PolicyCommand) -> Result<ExitCode, CliError> {
    match cmd {
        PolicyCommand::Validate { policies, config } => validate(policies, config.as_deref()),
        PolicyCommand::Schema { config, write } => tool_schema(&config_path(config.as_deref(), None)?, write),
        PolicyCommand::Test {
            dir,
            policies,
            config,
            format,
        } => test(dir, policies, config.as_deref(), format),
        PolicyCommand::Explain {
            request,
            policies,
            config,
            format,
        } => explain(&request, policies, config.as_deref(), format),
        PolicyCommand::Impact {
            candidate,
            baseline,
            corpus,
            config,
            allow_changes,
            format,
        } => impact(&candidate, baseline, &corpus, config.as_deref(), allow_changes, format),
        PolicyCommand::Coverage {
            corpus,
            policies,
            config,
            min,
            format,
        } => coverage(&corpus, policies, config.as_deref(), min, format),
    }
}

/// The configuration (when there is one) and the bundle: `--policies`, else
/// the config's `paths.policies`, else `policies` (no config at all).
fn bundle_of(
    policies: Option<PathBuf>,
    config: Option<&Path>,
) -> Result<(Option<(PathBuf, RuntimeConfig)>, PathBuf), CliError> {
    let chosen = optional_config(config)?;
    let policies = policies
        .or_else(|| chosen.as_ref().map(|(_, c)| c.paths.policies.clone()))
        .unwrap_or_else(|| PathBuf::from("policies"));
    Ok((chosen, policies))
}

/// The bundle of `policies` under `chosen`, and the line saying which.
fn load_bundle(chosen: &Option<(PathBuf, RuntimeConfig)>, policies: &Path) -> Result<PolicyEngine, CliError> {
    let engine = load(policies)?;
    Using {
        config: chosen.as_ref().map(|(p, _)| p.as_path()),
        bundles: vec![("policies", policies, &engine)],
        ..Using::default()
    }
    .print();
    Ok(engine)
}

/// `policy validate`: the bundle loads, and what it holds.
fn validate(policies: Option<PathBuf>, config: Option<&Path>) -> Result<ExitCode, CliError> {
    let (chosen, policies) = bundle_of(policies, config)?;
    let policies = policies.as_path();
    let engine = load_bundle(&chosen, policies)?;
    if let Some((path, parsed)) = &chosen {
        check_tool_schema(policies, path, parsed)?;
    }
    let shadow = engine
        .policies()
        .iter()
        .filter(|p| p.mode == contextos_trust::PolicyMode::Shadow)
        .count();
    println!(
        "policy bundle {} is valid: {} policies ({} enforced, {} shadow)",
        policies.display(),
        engine.policies().len(),
        engine.policies().len() - shadow,
        shadow
    );
    println!(
        "  approver roles: {}",
        if engine.approver_roles().is_empty() {
            "none".into()
        } else {
            engine.approver_roles().join(", ")
        }
    );
    println!("  digest: {}", engine.bundle_digest());
    for w in engine.warnings() {
        println!("  warning: {w}");
    }
    Ok(ExitCode::Success)
}

/// `policy schema`: the generated ContextOS namespace, printed or written.
fn tool_schema(config: &Path, write: bool) -> Result<ExitCode, CliError> {
    let (parsed, catalog) = tools_of(config)?;
    let text = PolicyEngine::generated_schema(&parsed.paths.policies, &catalog.cedar_actions())?;
    if write {
        let file = parsed.paths.policies.join(GENERATED_SCHEMA_FILE);
        std::fs::write(&file, &text).map_err(IoError::of("write", &file))?;
        println!("wrote {} ({} tool actions)", file.display(), catalog.tools().count());
        // The file an older release generated (tool actions only).
        let legacy = parsed.paths.policies.join("tools.generated.cedarschema");
        if legacy.is_file() {
            std::fs::remove_file(&legacy).map_err(IoError::of("remove", &legacy))?;
            println!(
                "removed {} (replaced by {GENERATED_SCHEMA_FILE}; keep only your own types in schema.cedarschema)",
                legacy.display()
            );
        }
    } else {
        print!("{text}");
    }
    Ok(ExitCode::Success)
}

/// `policy test`: every test file of `dir` (default `<policies>/tests`); exit 1 if one fails.
fn test(
    dir: Option<PathBuf>,
    policies: Option<PathBuf>,
    config: Option<&Path>,
    format: Format,
) -> Result<ExitCode, CliError> {
    let (chosen, policies) = bundle_of(policies, config)?;
    let engine = load_bundle(&chosen, &policies)?;
    let dir = dir.unwrap_or_else(|| policies.join("tests"));
    let report = run_policy_tests(&engine, &dir)?;
    match format {
        Format::Json => println!("{}", to_json(&report)?),
        Format::Text => {
            for r in &report.results {
                println!("{} {} › {}", if r.passed { "PASS" } else { "FAIL" }, r.file, r.name);
                for f in &r.failures {
                    println!("       {f}");
                }
            }
            println!("\npolicy tests: {} passed, {} failed", report.passed(), report.failed());
        }
    }
    Ok(if report.failed() == 0 {
        ExitCode::Success
    } else {
        ExitCode::GateFailed
    })
}

/// `policy explain`: decides the request in `request` and says why.
fn explain(
    request: &Path,
    policies: Option<PathBuf>,
    config: Option<&Path>,
    format: Format,
) -> Result<ExitCode, CliError> {
    let (chosen, policies) = bundle_of(policies, config)?;
    let engine = load_bundle(&chosen, &policies)?;
    let shown = request.to_string_lossy().into_owned();
    let text = std::fs::read_to_string(request).map_err(IoError::of("read", request))?;
    let doc: RequestDocument = parse_document(&shown, &text)?;
    let (req, entities) = engine.request_from_document(&doc)?;
    let decision = engine.authorize(&req, &entities);
    match format {
        Format::Json => println!("{}", to_json(&decision)?),
        Format::Text => print_explanation(&engine, &decision, &doc),
    }
    Ok(ExitCode::Success)
}

/// `policy impact`: exit 1 when the candidate changes an outcome, unless `allow_changes`.
fn impact(
    candidate: &Path,
    baseline: Option<PathBuf>,
    corpus: &[PathBuf],
    config: Option<&Path>,
    allow_changes: bool,
    format: Format,
) -> Result<ExitCode, CliError> {
    let config = config_path(config, None)?;
    let (dep, corpus, others) = load_corpus(&config, corpus)?;
    let baseline = baseline.unwrap_or_else(|| dep.config.paths.policies.clone());
    let baseline = baseline.as_path();
    let baseline_engine = load_for(&dep, baseline)?;
    let candidate_engine = load_for(&dep, candidate)?;
    Using {
        config: Some(&config),
        bundles: vec![
            ("baseline", baseline, &baseline_engine),
            ("candidate", candidate, &candidate_engine),
        ],
        keyring: Some(&dep.keyring),
        corpus: Some((&corpus, &others)),
        ..Using::default()
    }
    .print();
    let report = policy_impact(&corpus, &dep, &baseline_engine, &candidate_engine)?;
    match format {
        Format::Json => println!("{}", to_json(&report)?),
        Format::Text => {
            println!("compared: {} -> {}", baseline.display(), candidate.display());
            print_corpora(&report.corpora);
            print_impact(&report, allow_changes);
        }
    }
    Ok(if report.is_unchanged() || allow_changes {
        ExitCode::Success
    } else {
        ExitCode::GateFailed
    })
}

/// `policy coverage`: exit 1 when the share of enforced policies exercised is below `min`.
fn coverage(
    corpus: &[PathBuf],
    policies: Option<PathBuf>,
    config: Option<&Path>,
    min: f64,
    format: Format,
) -> Result<ExitCode, CliError> {
    if !(0.0..=1.0).contains(&min) {
        return Err(CliError::input(format!("--min {min} is not a share in [0, 1]")));
    }
    let config = config_path(config, None)?;
    let (dep, corpus, others) = load_corpus(&config, corpus)?;
    let policies = policies.unwrap_or_else(|| dep.config.paths.policies.clone());
    let policies = policies.as_path();
    let engine = load_for(&dep, policies)?;
    Using {
        config: Some(&config),
        bundles: vec![("policies", policies, &engine)],
        keyring: Some(&dep.keyring),
        corpus: Some((&corpus, &others)),
        ..Using::default()
    }
    .print();
    let report = policy_coverage(&corpus, &dep, &engine)?;
    match format {
        Format::Json => println!("{}", to_json(&report)?),
        Format::Text => {
            println!("measured: {}", policies.display());
            print_corpora(&report.corpora);
            print_coverage(&report, min);
        }
    }
    Ok(if report.meets(min) {
        ExitCode::Success
    } else {
        ExitCode::GateFailed
    })
}

/// The deployment (keys, tools, packs) and the corpus, each packet verified
/// with its suite's keys; the suites verified with keys of their own.
fn load_corpus(config: &Path, corpus: &[PathBuf]) -> Result<(Deployment, Corpus, Vec<SuiteKeys>), CliError> {
    let dep = Deployment::load(config)?;
    let (keys, others) = corpus_keys(config, &dep.keyring)?;
    let corpus = Corpus::load_all_with(corpus, &keys)?;
    Ok((dep, corpus, others))
}

/// One `corpus:` line per directory: where, what kind, how many packets.
fn print_corpora(corpora: &[CorpusSource]) {
    for c in corpora {
        println!(
            "corpus:   {} ({}, {})",
            c.dir,
            c.kind,
            plural(c.packets, "packet", "packets")
        );
    }
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn policy_list(ids: &[String]) -> String {
    if ids.is_empty() {
        "no policy".to_string()
    } else {
        ids.join(", ")
    }
}

fn print_impact(r: &ImpactReport, allow_changes: bool) {
    println!("baseline:  {}", r.baseline_bundle);
    println!("candidate: {}", r.candidate_bundle);
    println!(
        "{} in {} re-evaluated: {} changed",
        plural(r.decisions, "decision", "decisions"),
        plural(r.packets, "packet", "packets"),
        r.changes.len()
    );
    if r.skipped > 0 {
        println!(
            "  skipped {} recorded without their request (older packets)",
            plural(r.skipped, "decision", "decisions")
        );
    }
    if r.before_schema_change > 0 {
        println!(
            "  not compared: {} recorded before the schema change (the request does not fit the baseline's schema)",
            plural(r.before_schema_change, "decision", "decisions")
        );
    }
    if r.recorded_mismatch > 0 {
        println!(
            "  note: {} differ from the recorded outcome under the baseline (recorded under other policies?)",
            plural(r.recorded_mismatch, "decision", "decisions")
        );
    }
    let line = |c: &ImpactChange| {
        let after = if c.errors_after.is_empty() {
            format!("by {}", policy_list(&c.after_policies))
        } else {
            format!("evaluation failed: {}", c.errors_after.join("; "))
        };
        let mut text = format!(
            "  {}/{} #{}  {}  {} -> {}  ({after}; was {})",
            c.suite,
            c.case,
            c.index,
            shown(&c.resource),
            c.before,
            c.after,
            policy_list(&c.before_policies)
        );
        // An outcome change already says the roles changed with it.
        if c.what.contains(&ChangeKind::ApproverRoles) && !c.what.contains(&ChangeKind::Outcome) {
            text.push_str(&format!(
                "  approver roles: [{}] -> [{}]",
                c.before_roles.join(", "),
                c.after_roles.join(", ")
            ));
        }
        text
    };
    if !r.changes.is_empty() {
        println!("\nchanged outcomes:");
        for c in &r.changes {
            println!("{}", line(c));
        }
    }
    if !r.reasons_changed.is_empty() {
        println!("\nsame outcome, other determining policies, approver roles or errors:");
        for c in &r.reasons_changed {
            println!("{}", line(c));
        }
    }
    if !r.by_resource.is_empty() {
        println!("\nby resource:");
        for (resource, n) in &r.by_resource {
            let parts: Vec<String> = [
                (n.newly_denied, "newly denied"),
                (n.newly_allowed, "newly allowed"),
                (n.now_needs_approval, "now need approval"),
                (n.other, "now approvable"),
            ]
            .iter()
            .filter(|(count, _)| *count > 0)
            .map(|(count, label)| format!("{count} {label}"))
            .collect();
            println!("  {}  {}", shown(resource), parts.join(", "));
        }
    }
    if !r.by_policy.is_empty() {
        println!("\nby policy (changed outcomes it determined, before or after):");
        for (policy, n) in &r.by_policy {
            println!("  {policy}  {n}");
        }
    }
    if !allow_changes {
        if !r.changes.is_empty() {
            println!("\nthe candidate changes outcomes; review them and pass --allow-changes to accept");
        } else if !r.reasons_changed.is_empty() {
            println!("\nthe candidate changes why decisions are made; review them and pass --allow-changes to accept");
        }
    }
}

fn print_coverage(r: &CoverageReport, min: f64) {
    println!(
        "coverage {}/{} enforced policies ({:.1}%) over {} in {}",
        r.enforced_exercised,
        r.enforced_total,
        r.coverage * 100.0,
        plural(r.decisions, "decision", "decisions"),
        plural(r.packets, "packet", "packets")
    );
    if r.skipped > 0 {
        println!(
            "  skipped {} recorded without their request (older packets)",
            plural(r.skipped, "decision", "decisions")
        );
    }
    if r.argument_policies_total > 0 {
        println!(
            "  of them on tool-call arguments: {}/{} exercised",
            r.argument_policies_exercised, r.argument_policies_total
        );
    }
    if !r.exercised.is_empty() {
        println!("\nexercised (outcomes determined):");
        for (id, n) in &r.exercised {
            println!("  {id}  {n}");
        }
    }
    if !r.never_exercised.is_empty() {
        println!("\nnever exercised:");
        for p in &r.never_exercised {
            let on = if p.reads_arguments { "  [reads arguments]" } else { "" };
            println!("  {} {}  ({}:{}){on}", p.effect, p.id, p.file, p.line);
        }
    }
    if !r.shadow.is_empty() {
        println!("\nshadow (evaluated, never enforced):");
        for s in &r.shadow {
            println!(
                "  {} {}  would have changed {}  ({}:{})",
                s.policy.effect,
                s.policy.id,
                plural(s.would_change, "outcome", "outcomes"),
                s.policy.file,
                s.policy.line
            );
        }
    }
    if !r.meets(min) {
        println!(
            "\ncoverage {:.1}% is below the minimum {:.1}%",
            r.coverage * 100.0,
            min * 100.0
        );
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, CliError> {
    serde_json::to_string_pretty(value).map_err(CliError::bug)
}

/// The attributes of the entity `uid` (`Type::"id"`) among Cedar JSON entities.
fn entity_attributes<'a>(entities: &'a [serde_json::Value], uid: &str) -> Option<&'a serde_json::Value> {
    entities.iter().find_map(|e| {
        let (ty, id) = (e["uid"]["type"].as_str()?, e["uid"]["id"].as_str()?);
        (format!("{ty}::{id:?}") == uid).then(|| &e["attrs"])
    })
}

/// The deployment-declared `attributes` of the principal, the user it acts
/// for and its tenant, where not empty (`user alice {"clearance":2}`).
fn principal_attributes(entities: &[serde_json::Value], principal: &str) -> Vec<String> {
    let uid_of = |v: &serde_json::Value| {
        let v = v.get("__entity").unwrap_or(v);
        Some(format!("{}::{:?}", v["type"].as_str()?, v["id"].as_str()?))
    };
    let Some(agent) = entity_attributes(entities, principal) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut describe = |uid: &str, attrs: &serde_json::Value| {
        if let Some(declared) = attrs
            .get("attributes")
            .filter(|a| a.as_object().is_some_and(|o| !o.is_empty()))
        {
            out.push(format!("{} {declared}", shown(uid)));
        }
    };
    describe(principal, agent);
    for link in ["acting_for", "tenant"] {
        if let Some(uid) = agent.get(link).and_then(uid_of)
            && let Some(attrs) = entity_attributes(entities, &uid)
        {
            describe(&uid, attrs);
        }
    }
    out
}

fn print_explanation(engine: &PolicyEngine, d: &PolicyDecision, doc: &RequestDocument) {
    let where_is = |id: &str| {
        engine
            .policies()
            .iter()
            .find(|p| p.id == id)
            .map(|p| format!("{} {} ({}:{})", p.effect, id, p.file, p.line))
            .unwrap_or_else(|| id.to_string())
    };
    println!("outcome:   {}", d.outcome);
    println!(
        "request:   {} {} {}",
        shown(&d.principal),
        shown(&d.action),
        shown(&d.resource)
    );
    // What the policies could read about the effect: the call's arguments
    // and the resource's attributes.
    if let Some(arguments) = doc.context.get(contextos_trust::ARGUMENTS) {
        println!("arguments: {arguments}");
    }
    if let Some(attributes) = entity_attributes(&doc.entities, &d.resource) {
        println!("resource:  {attributes}");
    }
    let declared = principal_attributes(&doc.entities, &d.principal);
    if !declared.is_empty() {
        println!("declared:  {}", declared.join("; "));
    }
    println!("reason:    {}", d.reason);
    if !d.determining_policies.is_empty() {
        let label = if d.outcome == PolicyOutcome::ApprovalRequired {
            "permits with approval"
        } else {
            "determined by"
        };
        println!("{label}:");
        for id in &d.determining_policies {
            println!("  - {}", where_is(id));
        }
    }
    if !d.approver_roles.is_empty() {
        println!("approvers: any of {}", d.approver_roles.join(", "));
    }
    for s in &d.shadow {
        println!("shadow:    {} would make it {}", where_is(&s.policy_id), s.would_be);
    }
    for e in &d.errors {
        println!("error:     {e}");
    }
    println!("decision:  {}", d.decision_id);
}
