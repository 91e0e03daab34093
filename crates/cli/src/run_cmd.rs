//! `contextos run | replay | diff | verify | show`: runs, packets and the store.

use std::path::{Path, PathBuf};

use clap::Args;
use contextos_action::ScriptedTools;
use contextos_core::cedar_names::TOOL;
use contextos_core::{ExitCode, InteractionKind, IoError, PolicyOutcome, ReplayPacket};
use contextos_decision::{ModelProvider, ScriptedModel};
use contextos_runtime::{
    DECISION_RECORD_TYPE, Deployment, EvaluatorConfig, PacketDiff, Recorded, ReplayOverrides, RequestEnvelope, RunMode,
    Script, StoredRun, diff_packets, open_packet, persist, replay, run_in_mode,
};
use contextos_store::{Resolved, Store};
use contextos_trust::SignedEnvelope;

use crate::live::{LiveTools, live_model};
use crate::output::{CliError, terminal_text};
use crate::policy_cmd::Format;

/// Where the deployment and the store are.
#[derive(Debug, Args)]
pub(crate) struct DeploymentArgs {
    /// The deployment configuration.
    #[arg(long, default_value = "runtime/contextos.toml")]
    pub config: PathBuf,
    /// The run store [default: the configuration's `paths.store`].
    #[arg(long)]
    pub store: Option<PathBuf>,
}

impl DeploymentArgs {
    fn deployment(&self) -> Result<Deployment, CliError> {
        Ok(Deployment::load(&self.config)?)
    }

    fn store_dir(&self, dep: Option<&Deployment>) -> Result<PathBuf, CliError> {
        if let Some(dir) = &self.store {
            return Ok(dir.clone());
        }
        match dep {
            Some(dep) => Ok(dep.config.paths.store.clone()),
            None => Ok(self.deployment()?.config.paths.store.clone()),
        }
    }
}

/// `contextos run`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  contextos run runtime/examples/escalation/request.yaml\n  \
contextos run req.yaml --fixtures recorded/\n  \
contextos run req.yaml --script script.yaml --record recorded/   author fixtures from a script\n  \
contextos run req.yaml --script script.yaml --mcp everything.yaml --record recorded/\n      \
record what a real MCP server answers; `--fixtures recorded/` then replays it offline\n  \
OPENAI_API_KEY=... contextos run req.yaml --live --mcp crm.yaml --openapi billing.yaml --record recorded/\n      \
a live model ([model.live] in the configuration) and live tools, recorded for offline replay\n\n\
Sources: --mcp takes an MCP server spec (stdio `command` or streamable HTTP `url`), --openapi an\n\
OpenAPI source spec; both repeat, and a tool name may be served by only one source. A recording or\n\
live run also reaches the sources the configuration declares ([sources] mcp = [...], openapi = [...]);\n\
a source both declared and given is an error naming both places. Tools no source\n\
serves answer from --script's results. Approvals come from --script's approvals; without them an\n\
approval-required call is refused. Credentials come only from the environment variables the\n\
configuration and specs name, and never reach packets, fixtures or logs."
)]
pub(crate) struct RunArgs {
    /// The request envelope (YAML or JSON): request, run_context, started_at.
    pub request: PathBuf,
    /// Recorded fixtures [default: `fixtures/` next to the request].
    #[arg(long, conflicts_with_all = ["script", "live"])]
    pub fixtures: Option<PathBuf>,
    /// Answer from this script: model responses in order (unless --live), tool results, approvals.
    #[arg(long)]
    pub script: Option<PathBuf>,
    /// Use the live model of `[model.live]` (key from its `api_key_env` variable).
    #[arg(long)]
    pub live: bool,
    /// With --live: the chat-completions base URL, instead of `[model.live].base_url`.
    #[arg(long, value_name = "URL", requires = "live")]
    pub model_url: Option<String>,
    /// Execute tools on this MCP server (a spec YAML, as for `contextos tools`); repeatable.
    #[arg(long, value_name = "SPEC")]
    pub mcp: Vec<PathBuf>,
    /// Execute tools through this OpenAPI source (a source spec YAML); repeatable.
    #[arg(long, value_name = "SOURCE")]
    pub openapi: Vec<PathBuf>,
    /// Write the run's digest-keyed fixtures (model, tools, approvals) to this directory.
    #[arg(long, value_name = "DIR")]
    pub record: Option<PathBuf>,
    #[command(flatten)]
    pub deployment: DeploymentArgs,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

fn read(path: &Path) -> Result<String, CliError> {
    Ok(std::fs::read_to_string(path).map_err(IoError::of("read", path))?)
}

impl RunArgs {
    /// Whether the run records (a script or live), rather than replaying fixtures.
    fn records(&self) -> bool {
        self.live || self.script.is_some()
    }

    fn check(&self) -> Result<(), CliError> {
        if self.script.is_some() && !self.live && self.record.is_none() {
            return Err(CliError::input(
                "--script authors fixtures: give --record DIR (or --live to run the live model)",
            ));
        }
        if !self.records() && (self.record.is_some() || !self.mcp.is_empty() || !self.openapi.is_empty()) {
            return Err(CliError::input(
                "--record, --mcp and --openapi need --script or --live (a fixture replay never reaches live tools)",
            ));
        }
        Ok(())
    }
}

pub(crate) fn run(args: RunArgs) -> Result<ExitCode, CliError> {
    args.check()?;
    let dep = args.deployment.deployment()?;
    let shown = args.request.display().to_string();
    let env = RequestEnvelope::parse(&shown, &read(&args.request)?)?;
    let on_recorded = |r: Recorded<'_>| {
        eprintln!(
            "recorded {} model and {} tool interactions to {}{}",
            r.model,
            r.tools,
            r.dir.display(),
            if r.run_failed { " before the run failed" } else { "" }
        );
    };
    let sources = if args.records() {
        let declared = Some((args.deployment.config.as_path(), &dep.config.sources));
        let live = crate::config::live_sources(declared, "--mcp", &args.mcp, &args.openapi)?;
        LiveTools::open(&live.mcp, &live.openapi)?
    } else {
        LiveTools::default()
    };
    let artifacts = if args.records() {
        let script = match &args.script {
            Some(path) => Some(Script::parse(&path.display().to_string(), &read(path)?)?),
            None => None,
        };
        let router = sources.router(script.as_ref().map(|s| ScriptedTools::new(s.tools.clone())))?;
        let model: Box<dyn ModelProvider> = match &script {
            Some(script) if !args.live => Box::new(ScriptedModel::new(script.model.clone())),
            _ => Box::new(live_model(&dep, args.model_url.as_deref())?),
        };
        let approvals = script.map(|s| s.approvals).unwrap_or_default();
        let mode = RunMode::Record {
            model: model.as_ref(),
            tools: &router,
            approvals: &approvals,
            record: args.record.as_deref(),
        };
        run_in_mode(&dep, &env, mode, on_recorded)?
    } else {
        let dir = args
            .fixtures
            .clone()
            .unwrap_or_else(|| args.request.parent().unwrap_or(Path::new(".")).join("fixtures"));
        run_in_mode(&dep, &env, RunMode::Fixtures(&dir), on_recorded)?
    };
    let store = Store::open(&args.deployment.store_dir(Some(&dep))?)?;
    let stored = persist(&store, &artifacts)?;
    let refused = refused_calls(&artifacts.packet, Some(&sources));
    match args.format {
        Format::Json => print_json(&serde_json::json!({
            "run_id": artifacts.packet.run_id,
            "packet": stored.packet,
            "record": stored.record,
            "decision_record": artifacts.packet.decision_record,
            "refused": refused,
        }))?,
        Format::Text => {
            // The record was just signed with the deployment's key; name the
            // key the keyring verifies it with, or say that none does.
            let signer = match dep
                .keyring
                .verify_signer(&artifacts.record_envelope, DECISION_RECORD_TYPE)
            {
                Ok(verified) => verified.key_id,
                Err(e) => format!("by {}, which does not verify: {e}", dep.signing_key.key_id()),
            };
            print_operator_view(&artifacts.packet, Some(&stored), &signer, &refused);
        }
    }
    Ok(ExitCode::Success)
}

/// A tool call the model asked for that names no pinned contract: the
/// critic refused it before any effect (the tool was never offered).
#[derive(Debug, serde::Serialize)]
struct Refused {
    call: String,
    tool: String,
    reason: String,
}

/// The refused calls of `packet`: tool calls in its recorded model
/// responses whose tool has no contract among the run's pinned ones. With
/// the run's live sources at hand, the reason names the source offering it.
fn refused_calls(packet: &ReplayPacket, sources: Option<&LiveTools>) -> Vec<Refused> {
    let mut refused = Vec::new();
    for interaction in packet.interactions.iter().filter(|i| i.kind == InteractionKind::Model) {
        let Some(calls) = interaction.response["tool_calls"].as_array() else {
            continue;
        };
        for call in calls {
            let tool = call["name"].as_str().unwrap_or_default();
            if packet.inputs.tool_contracts.contains_key(tool) {
                continue;
            }
            let reason = match sources.and_then(|s| s.offered_by(tool)) {
                Some(source) => format!(
                    "tool {tool} is offered by {source} but not pinned (contextos tools pin): refused before any effect"
                ),
                None => format!("tool {tool} has no pinned contract: refused before any effect"),
            };
            refused.push(Refused {
                call: call["id"].as_str().unwrap_or_default().to_string(),
                tool: tool.to_string(),
                reason,
            });
        }
    }
    refused
}

fn print_json<T: serde::Serialize>(value: &T) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(value).map_err(CliError::bug)?;
    println!("{text}");
    Ok(())
}

fn short(d: &contextos_core::Digest) -> String {
    d.to_string()[..19].to_string()
}

fn print_refused(refused: &[Refused]) {
    if !refused.is_empty() {
        println!("\nrefused tool calls");
        for r in refused {
            println!("  {:<8} {}", terminal_text(&r.call), terminal_text(&r.reason));
        }
    }
}

/// The operator view of a run.
/// `signer` says who signed the decision record: the key that verified it.
fn print_operator_view(packet: &ReplayPacket, stored: Option<&StoredRun>, signer: &str, refused: &[Refused]) {
    let record = &packet.decision_record;
    let rc = &packet.inputs.run_context;
    let cc = &packet.compiled_context;
    println!(
        "run             {}  ({})",
        terminal_text(&packet.run_id),
        record.outcome
    );
    println!(
        "approval_mode   {} ceiling, {} safety",
        rc.approval_mode,
        rc.safety_mode.as_str()
    );
    let packs: Vec<String> = cc.packs.iter().map(|p| p.id.clone()).collect();
    println!(
        "context_pack    {}  ({} of {} tokens, {} omitted, {} debt warning{})",
        if packs.is_empty() {
            "none".to_string()
        } else {
            packs.join(", ")
        },
        cc.prompt_tokens,
        cc.budget.total_tokens,
        cc.omitted.len(),
        cc.debt.len(),
        if cc.debt.len() == 1 { "" } else { "s" }
    );
    println!(
        "tool_policy     allowlist + approval gate  (policy bundle {})",
        short(&packet.inputs.policy_bundle)
    );
    match stored {
        Some(s) => {
            println!("decision_record {}  (signed {signer})", short(&s.record));
            println!(
                "replay_status   ready: {} ({}){}",
                packet.replay_id,
                short(&s.packet),
                if s.already_stored {
                    ", already stored: identical re-run"
                } else {
                    ""
                }
            );
        }
        None => println!("replay_status   {}", packet.replay_id),
    }
    println!("controls_active {}", record.controls_active.join(", "));
    println!("trace_id        {}", record.trace_id);
    println!(
        "usage           {} iterations, {} tool calls, {} tokens",
        record.usage.iterations, record.usage.tool_calls, record.usage.tokens
    );
    if !packet.tool_envelopes.is_empty() {
        println!("\ntool calls");
        for (i, env) in packet.tool_envelopes.iter().enumerate() {
            let decision = record
                .policy_decisions
                .iter()
                .find(|d| d.decision_id == env.policy_decision_id);
            let first = record.policy_decisions.iter().find(|d| {
                d.resource == format!("{TOOL}::{:?}", env.tool) && d.outcome == PolicyOutcome::ApprovalRequired
            });
            let policy = match (&env.approval, first) {
                (Some(a), Some(_)) => format!(
                    "approval_required -> {} ({} by {}, {})",
                    env.policy_outcome,
                    a.verdict,
                    terminal_text(&a.approver),
                    terminal_text(&a.role)
                ),
                _ => env.policy_outcome.to_string(),
            };
            let ids = decision.map(|d| d.determining_policies.join(", ")).unwrap_or_default();
            println!(
                "  {:>2}. {:<16} {:<14} {}  [{}]",
                i + 1,
                terminal_text(&env.tool),
                env.status,
                policy,
                ids
            );
        }
    }
    print_refused(refused);
    for warning in &cc.debt {
        println!("debt            {}", terminal_text(&warning.message));
    }
    if !record.memory_proposals.is_empty() {
        println!("\nmemory proposals (pending review)");
        for m in &record.memory_proposals {
            println!("  - {}", terminal_text(&m.statement));
        }
    }
    println!("\nanswer (confidence {:.2})", record.confidence);
    for line in terminal_text(&record.answer).lines() {
        println!("  {line}");
    }
}

/// `contextos replay`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  contextos replay run_escalation_4411                 byte-identical rerun\n  \
contextos replay run_escalation_4411 --policies candidate-policies/\n  \
contextos replay packet.json --thresholds strict.yaml --fail-on-change\n  \
contextos replay run_escalation_4411 --tools candidate-tools/ --format json\n\n\
A replay with overrides drives the recorded model responses in order. Its status is one of:\n  \
behaviour changed     outcome, answer, confidence, tool calls or approvals differ (exit 1 with --fail-on-change)\n  \
behaviour unchanged   only inputs, provenance or what the model was shown differ\n  \
incomplete            the recorded model responses ran out at model call N (exit 4): the replay\n                        \
asked for more than was recorded, so what the agent would have done is unknown\n\
It names the first divergent call against the nearest recorded one, each drifted model request by\n\
tool name and message role (`tool added: restart_service`, `message 4 (tool) changed: content`),\n\
and each changed call's determining policies (file:line) and approver roles before and after."
)]
pub(crate) struct ReplayArgs {
    /// A run id, a packet digest (or unique prefix), or a signed packet file.
    pub packet: String,
    /// Replay against this policy bundle.
    #[arg(long)]
    pub policies: Option<PathBuf>,
    /// Replay against these tool contracts.
    #[arg(long)]
    pub tools: Option<PathBuf>,
    /// Replay against the built packs (`*.pack.json`) in this directory.
    #[arg(long)]
    pub packs: Option<PathBuf>,
    /// Replay with these evaluator thresholds (YAML: min_confidence, default_confidence).
    #[arg(long)]
    pub thresholds: Option<PathBuf>,
    /// Exit 1 when the replay differs from the recorded run.
    #[arg(long)]
    pub fail_on_change: bool,
    #[command(flatten)]
    pub deployment: DeploymentArgs,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// Loads a packet by run id, digest, or file path, verifying its signature.
pub(crate) fn load_packet(id: &str, dep: &Deployment, store_dir: &Path) -> Result<(ReplayPacket, Vec<u8>), CliError> {
    let bytes = if Path::new(id).is_file() {
        std::fs::read(id).map_err(IoError::of("read", id))?
    } else {
        let store = Store::open_existing(store_dir)?;
        let digest = match store.resolve(id)? {
            Resolved::Run(entry) => entry.packet,
            Resolved::Object(d) => d,
        };
        store.get_object(&digest)?
    };
    let envelope: SignedEnvelope = contextos_core::parse_json(id, &String::from_utf8_lossy(&bytes))?;
    let packet = open_packet(&envelope, &dep.keyring)?;
    Ok((packet, bytes))
}

pub(crate) fn replay_cmd(args: ReplayArgs) -> Result<ExitCode, CliError> {
    let mut dep = args.deployment.deployment()?;
    let store_dir = args.deployment.store_dir(Some(&dep))?;
    let (packet, old_bytes) = load_packet(&args.packet, &dep, &store_dir)?;
    let before_policies =
        (dep.policy.bundle_digest() == packet.inputs.policy_bundle).then(|| dep.policy.policies().to_vec());
    let mut overrides = ReplayOverrides::default();
    if let Some(dir) = &args.policies {
        dep = dep.with_policies(dir)?;
        overrides.policies = true;
    }
    if let Some(dir) = &args.tools {
        dep = dep.with_tools(dir)?;
        overrides.tools = true;
    }
    if let Some(dir) = &args.packs {
        dep = dep.with_packs(dir)?;
        overrides.packs = true;
    }
    if let Some(file) = &args.thresholds {
        let shown = file.display().to_string();
        let t: EvaluatorConfig = contextos_core::parse_yaml(&shown, &read(file)?)?;
        overrides.thresholds = Some(t);
    }
    let replayed = replay(&dep, &packet, &overrides)?;
    let new_bytes = contextos_runtime::envelope_bytes(&replayed.artifacts.packet_envelope)?;
    let mut diff = diff_packets(&packet, &replayed.artifacts.packet, &replayed.drift);
    // The after side ran against `dep.policy`; the before side's bundle is at
    // hand when the deployment's own bundle is the one the packet pinned.
    diff.locate_policies(before_policies.as_deref(), Some(dep.policy.policies()));
    let identical = new_bytes == old_bytes;
    let stored = if identical {
        None
    } else {
        let store = Store::open(&store_dir)?;
        Some(persist(&store, &replayed.artifacts)?)
    };
    let status = replay_status(identical, &replayed, &diff);
    match args.format {
        Format::Json => print_json(&serde_json::json!({
            "run_id": replayed.artifacts.packet.run_id,
            "replay_of": packet.run_id,
            "identical": identical,
            "status": status.name(),
            "ran_out_at_model_call": replayed.ran_out_at,
            "first_divergence": replayed.first_divergence,
            "packet": stored.as_ref().map(|s| s.packet),
            "diff": diff,
        }))?,
        Format::Text => {
            if identical {
                println!(
                    "replay of {} is byte-identical to the recorded packet ({})",
                    packet.run_id,
                    contextos_core::Digest::of_bytes(&new_bytes)
                );
            } else {
                println!(
                    "replay of {} stored as {}",
                    packet.run_id, replayed.artifacts.packet.run_id
                );
                println!("  status          {}", status.text(&replayed));
                if let Some(d) = &replayed.first_divergence {
                    print_divergence(d);
                }
                print_diff(&diff);
            }
        }
    }
    Ok(match status {
        ReplayStatus::Incomplete => ExitCode::FixtureMiss,
        _ if args.fail_on_change && !(identical || diff.is_empty()) => ExitCode::GateFailed,
        _ => ExitCode::Success,
    })
}

/// How a replay ended, from most to least telling: a replay whose recorded
/// model responses ran out says so before anything it changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ReplayStatus {
    Identical,
    Incomplete,
    BehaviourChanged,
    ProvenanceChanged,
}

impl ReplayStatus {
    fn name(self) -> &'static str {
        match self {
            Self::Identical => "identical",
            Self::Incomplete => "incomplete",
            Self::BehaviourChanged => "behaviour_changed",
            Self::ProvenanceChanged => "provenance_changed",
        }
    }

    fn text(self, replayed: &contextos_runtime::Replay) -> String {
        match (self, replayed.ran_out_at) {
            (Self::Incomplete, Some(call)) => {
                format!("incomplete: recorded model responses ran out at model call {call}")
            }
            (Self::BehaviourChanged, _) => "behaviour changed".to_string(),
            (Self::ProvenanceChanged, _) => "behaviour unchanged (inputs or provenance differ)".to_string(),
            _ => self.name().to_string(),
        }
    }
}

fn replay_status(identical: bool, replayed: &contextos_runtime::Replay, diff: &PacketDiff) -> ReplayStatus {
    if identical {
        ReplayStatus::Identical
    } else if replayed.is_incomplete() {
        ReplayStatus::Incomplete
    } else if diff.behaviour_changed() {
        ReplayStatus::BehaviourChanged
    } else {
        ReplayStatus::ProvenanceChanged
    }
}

/// At most this many lines per item (a drifted model call, a divergence).
const LINES_PER_ITEM: usize = 5;

fn print_lines(indent: &str, lines: &[String]) {
    for line in lines.iter().take(LINES_PER_ITEM) {
        println!("{indent}{}", terminal_text(line));
    }
    if lines.len() > LINES_PER_ITEM {
        println!("{indent}and {} more", lines.len() - LINES_PER_ITEM);
    }
}

fn print_divergence(d: &contextos_runtime::Divergence) {
    match &d.nearest {
        Some(nearest) => println!("  first divergent {} (against {nearest})", d.call),
        None => println!("  first divergent {}", d.call),
    }
    print_lines("                    ", &d.changes);
}

fn print_diff(diff: &PacketDiff) {
    if diff.is_empty() {
        println!("  no difference in outcome, answer, tool calls, approvals or context");
        return;
    }
    if let Some(c) = &diff.policy_bundle {
        println!("  policy bundle   {} -> {}", short(&c.before), short(&c.after));
    }
    if !diff.tool_contracts.is_empty() {
        println!("  tool contracts  changed: {}", diff.tool_contracts.join(", "));
    }
    if let Some(c) = &diff.thresholds {
        println!("  thresholds      {:?} -> {:?}", c.before, c.after);
    }
    if let Some(c) = &diff.prompt {
        println!("  prompt          {} -> {}", short(&c.before), short(&c.after));
    }
    for s in &diff.context_snippets {
        println!("  context         {s}");
    }
    for c in &diff.tool_calls {
        let side = |s: &Option<contextos_runtime::CallSide>| {
            s.as_ref()
                .map_or("-".to_string(), |s| format!("{}/{}", s.policy, s.status))
        };
        println!(
            "  tool call       {} {}: {} {} -> {}",
            terminal_text(&c.tool),
            terminal_text(&c.arguments.to_string()),
            c.change,
            side(&c.before),
            side(&c.after)
        );
        for (label, s) in [("before", &c.before), ("after ", &c.after)] {
            if let Some(s) = s {
                println!("                    {label} {}", why(s));
            }
        }
    }
    if let Some(c) = &diff.approvals {
        println!("  approvals       {} -> {}", c.before.len(), c.after.len());
    }
    if let Some(c) = &diff.outcome {
        println!("  outcome         {} -> {}", c.before, c.after);
    }
    if let Some(c) = &diff.confidence {
        println!("  confidence      {} -> {}", c.before, c.after);
    }
    if let Some(c) = &diff.answer {
        println!("  answer          {:?}\n               -> {:?}", c.before, c.after);
    }
    for (call, changes) in &diff.model_drift {
        println!("  model call {call:<4} request drifted:");
        print_lines("                    ", changes);
    }
}

/// `allow by p (file:line), q; approvers: r` for one side of a changed call.
fn why(side: &contextos_runtime::CallSide) -> String {
    let policies: Vec<String> = side.determining_policies.iter().map(ToString::to_string).collect();
    let by = if policies.is_empty() {
        "no determining policy".to_string()
    } else {
        format!("by {}", policies.join(", "))
    };
    let roles = if side.approver_roles.is_empty() {
        String::new()
    } else {
        format!("; approver roles {}", side.approver_roles.join(", "))
    };
    let approval = side.approval.as_ref().map(|a| format!("; {a}")).unwrap_or_default();
    format!("{} {by}{roles}{approval}", side.policy)
}

/// `contextos diff`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  contextos diff run_escalation_4411 run_escalation_4411.replay-3f2a9c1b\n  \
contextos diff run_escalation_4411 run_escalation_4411.replay-3f2a9c1b --policies candidate-policies/\n  \
contextos diff run_a run_b --format json\n\n\
For each tool call whose decision changed: the outcome, the determining policies and the approver\n\
roles before and after. A policy's file:line comes from the bundle each run was decided under: the\n\
deployment's when its digest is the one the run pinned, or --policies for the second run."
)]
pub(crate) struct DiffArgs {
    /// First packet: run id, digest, or signed packet file.
    pub a: String,
    /// Second packet.
    pub b: String,
    /// The policy bundle the second run was decided under (for file:line of its policies).
    #[arg(long, value_name = "DIR")]
    pub policies: Option<PathBuf>,
    #[command(flatten)]
    pub deployment: DeploymentArgs,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

pub(crate) fn diff_cmd(args: DiffArgs) -> Result<ExitCode, CliError> {
    let dep = args.deployment.deployment()?;
    let store_dir = args.deployment.store_dir(Some(&dep))?;
    let (a, _) = load_packet(&args.a, &dep, &store_dir)?;
    let (b, _) = load_packet(&args.b, &dep, &store_dir)?;
    let mut diff = diff_packets(&a, &b, &[]);
    let own = dep.policy.policies().to_vec();
    let own_digest = dep.policy.bundle_digest();
    let given = match &args.policies {
        Some(dir) => {
            let engine = contextos_trust::PolicyEngine::load_with_tools(dir, &dep.catalog.cedar_actions())?;
            Some((engine.bundle_digest(), engine.policies().to_vec()))
        }
        None => None,
    };
    let bundle_of = |pinned: &contextos_core::Digest| {
        given
            .as_ref()
            .filter(|(d, _)| d == pinned)
            .map(|(_, p)| p.as_slice())
            .or_else(|| (own_digest == *pinned).then_some(own.as_slice()))
    };
    // --policies is said to be the second run's bundle: trusted for it even
    // when its digest differs (tool contracts outside it may have changed).
    let after = bundle_of(&b.inputs.policy_bundle).or(given.as_ref().map(|(_, p)| p.as_slice()));
    diff.locate_policies(bundle_of(&a.inputs.policy_bundle), after);
    match args.format {
        Format::Json => print_json(&diff)?,
        Format::Text => {
            println!("{} -> {}", a.run_id, b.run_id);
            print_diff(&diff);
        }
    }
    Ok(ExitCode::Success)
}

/// `contextos verify`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  contextos verify                       the whole store: objects, signatures, runs, evidence chain\n  \
contextos verify runtime/packs/support_escalation-18.pack.json"
)]
pub(crate) struct VerifyArgs {
    /// A signed document, or a store directory [default: the configured store].
    pub path: Option<PathBuf>,
    /// Trusted public keys [default: the configuration's `paths.keys`].
    #[arg(long)]
    pub keys: Option<PathBuf>,
    #[command(flatten)]
    pub deployment: DeploymentArgs,
}

pub(crate) fn verify_cmd(args: VerifyArgs) -> Result<ExitCode, CliError> {
    let (keys_dir, default_store) = match (&args.keys, &args.path) {
        (Some(k), Some(_)) => (k.clone(), PathBuf::new()),
        _ => {
            let dep = args.deployment.deployment()?;
            (
                args.keys.clone().unwrap_or(dep.config.paths.keys.clone()),
                args.deployment.store_dir(Some(&dep))?,
            )
        }
    };
    let keyring = contextos_trust::Keyring::load_dir(&keys_dir)?;
    let path = args.path.clone().unwrap_or(default_store);
    let config_read = args.keys.is_none() || args.path.is_none();
    crate::config::Using {
        config: config_read.then_some(args.deployment.config.as_path()),
        keyring: Some(&keyring),
        store: (!path.is_file()).then_some(path.as_path()),
        ..Default::default()
    }
    .print();
    if path.is_file() {
        let shown = path.display().to_string();
        let envelope: SignedEnvelope =
            contextos_core::parse_json(&shown, &read(&path)?).map_err(CliError::unverified)?;
        let verified = keyring
            .verify_signer(&envelope, &envelope.payload_type)
            .map_err(CliError::unverified)?;
        println!(
            "{shown}: signature by {} verifies ({})",
            verified.key_id, envelope.payload_type
        );
        return Ok(ExitCode::Success);
    }
    let store = Store::open_existing(&path)?;
    let report = store.verify(&keyring)?;
    println!(
        "{}: {} objects, {} signed envelopes, {} runs, {} evidence entries{}",
        path.display(),
        report.objects,
        report.envelopes,
        report.runs,
        report.evidence_entries,
        if report.orphans > 0 {
            format!(", {} leftover temp files", report.orphans)
        } else {
            String::new()
        }
    );
    for w in &report.warnings {
        eprintln!("warning: {}: {}", w.path, w.what);
    }
    if report.is_clean() {
        println!("ok: every digest, signature and chain link verifies");
        return Ok(ExitCode::Success);
    }
    for p in &report.problems {
        eprintln!("error: {}: {}", p.path, p.what);
    }
    eprintln!("verification failed: {} problem(s)", report.problems.len());
    Ok(ExitCode::Verification)
}

/// Verifies the stored decision record `digest` of `packet`'s run: a valid
/// signature by a trusted key over the record the packet holds. Returns the
/// key id that verified; any failure is a verification failure (exit 3)
/// naming the record and the run.
fn verify_record(
    store: &Store,
    digest: &contextos_core::Digest,
    packet: &ReplayPacket,
    keyring: &contextos_trust::Keyring,
) -> Result<String, CliError> {
    let failed = |what: String| {
        CliError::unverified(miette::MietteDiagnostic::new(format!(
            "decision record {digest} of run {}: {what}",
            packet.run_id
        )))
    };
    let bytes = store.get_object(digest)?;
    let envelope: SignedEnvelope = contextos_core::parse_json(&digest.to_string(), &String::from_utf8_lossy(&bytes))
        .map_err(|e| failed(e.to_string()))?;
    let verified = keyring
        .verify_signer(&envelope, DECISION_RECORD_TYPE)
        .map_err(|e| failed(e.to_string()))?;
    // The payload verified as canonical JSON, so the same record has the same bytes.
    let held = contextos_core::canonical_json(&packet.decision_record).map_err(CliError::bug)?;
    if held != verified.payload {
        return Err(failed(
            "it verifies but is not the decision record the run's replay packet holds".to_owned(),
        ));
    }
    Ok(verified.key_id)
}

/// `contextos show`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  contextos show run_escalation_4411\n  contextos show sha256:3f2a9c1b --format json"
)]
pub(crate) struct ShowArgs {
    /// A run id, or an object digest (or unique prefix of at least 8 hex digits).
    pub id: String,
    #[command(flatten)]
    pub deployment: DeploymentArgs,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

pub(crate) fn show_cmd(args: ShowArgs) -> Result<ExitCode, CliError> {
    let dep = args.deployment.deployment()?;
    let store = Store::open_existing(&args.deployment.store_dir(Some(&dep))?)?;
    match store.resolve(&args.id)? {
        Resolved::Run(entry) => {
            let bytes = store.get_object(&entry.packet)?;
            let envelope: SignedEnvelope = contextos_core::parse_json(&args.id, &String::from_utf8_lossy(&bytes))?;
            let packet = open_packet(&envelope, &dep.keyring)?;
            // The stored decision record is shown only once it verifies and
            // is the record the packet holds.
            let signer = verify_record(&store, &entry.record, &packet, &dep.keyring)?;
            match args.format {
                Format::Json => print_json(&packet)?,
                Format::Text => {
                    let stored = StoredRun {
                        packet: entry.packet,
                        record: entry.record,
                        already_stored: true,
                    };
                    let refused = refused_calls(&packet, None);
                    print_operator_view(&packet, Some(&stored), &signer, &refused);
                }
            }
        }
        Resolved::Object(digest) => {
            let bytes = store.get_object(&digest)?;
            let value: serde_json::Value = serde_json::from_slice(&bytes)
                .map_err(|e| CliError::input(format!("object {digest} is not JSON: {e}")))?;
            // A signed envelope shows its verified payload.
            let shown = match serde_json::from_value::<SignedEnvelope>(value.clone()) {
                Ok(env) => {
                    let payload = dep
                        .keyring
                        .verify(&env, &env.payload_type)
                        .map_err(CliError::unverified)?;
                    serde_json::from_slice(&payload).unwrap_or(value)
                }
                Err(_) => value,
            };
            print_json(&shown)?;
        }
    }
    Ok(ExitCode::Success)
}
