//! `contextos init` and `contextos new`.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand, ValueEnum};
use contextos_core::{ApprovalMode, ExitCode};
use contextos_harness::{
    NewPolicyTest, NewTool, PROJECT_CONFIG, Template, ToolArg, init_project, new_case, new_policy_test, new_tool,
};

use crate::output::CliError;

/// `contextos init`.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  contextos init my-agent                      a minimal project in my-agent/
  contextos init . --template customer-escalation
  cd my-agent && contextos eval && contextos policy test

Writes the deployment config, Cedar schema, policies and policy tests, tool
contracts, a pack signed with a fresh key pair (the private key git-ignored),
a suite with two cases, their scripts, recorded fixtures, goldens and a
baseline scorecard. Never overwrites a file.")]
pub(crate) struct InitArgs {
    /// The project directory (created when missing).
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// What to start from.
    #[arg(long, value_enum, default_value_t = TemplateName::Minimal)]
    pub template: TemplateName,
}

/// Templates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum TemplateName {
    /// An inventory assistant: a read tool, a write behind a lead's approval, two cases.
    Minimal,
    /// The bundled customer-escalation deployment with two of its cases.
    CustomerEscalation,
}

pub(crate) fn init(args: InitArgs) -> Result<ExitCode, CliError> {
    let template = match args.template {
        TemplateName::Minimal => Template::Minimal,
        TemplateName::CustomerEscalation => Template::CustomerEscalation,
    };
    let progress = |step: &str| eprintln!("  {step}");
    eprintln!(
        "initialising {} from the {:?} template",
        args.dir.display(),
        args.template
    );
    let report = init_project(&args.dir, template, &progress)?;
    println!(
        "created a ContextOS project in {}: {} files, {} case(s) with goldens, {} policy test(s) passing",
        args.dir.display(),
        report.written.len(),
        report.cases,
        report.policy_tests
    );
    println!(
        "  signing key {} (runtime/keys/dev.key: keep it secret, CI reads it from a secret)",
        report.key_id
    );
    println!("  signed pack {}", report.pack.display());
    let cd = if args.dir == Path::new(".") {
        String::new()
    } else {
        format!("cd {} && ", args.dir.display())
    };
    println!("next:");
    println!("  {cd}contextos eval                      # the suite on its recorded fixtures");
    println!("  contextos policy test                  # the policy tests");
    println!("  contextos new tool NAME --mode read_only --arg id:string");
    println!("  contextos new case NAME                # then edit it and its script, and");
    println!("  contextos scenario record --case NAME && contextos golden accept");
    Ok(ExitCode::Success)
}

/// `contextos new …`.
#[derive(Debug, Subcommand)]
pub(crate) enum NewCommand {
    /// Add a scenario case (holding its script) to a suite.
    #[command(after_help = "\
Examples:
  contextos new case restart-needs-oncall
  contextos new case restart-needs-oncall --suite scenarios/sre")]
    Case {
        /// The case name (kebab-case).
        name: String,
        /// The suite directory [default: the only suite under scenarios/].
        #[arg(long)]
        suite: Option<PathBuf>,
    },
    /// Add a tool contract and regenerate the policies' ContextOS namespace.
    #[command(after_help = "\
Examples:
  contextos new tool read_logs --mode read_only --arg service:string --arg lines:integer?
  contextos new tool restart_service --mode local_write --arg service:string \\
      --description \"Restart one service of the cluster.\"")]
    Tool {
        /// The tool name.
        name: String,
        /// Its tier, which policies decide on.
        #[arg(long, value_enum, default_value_t = Mode::ReadOnly)]
        mode: Mode,
        /// One sentence the model reads.
        #[arg(long)]
        description: Option<String>,
        /// An argument, NAME:TYPE (string, integer, number, boolean; `?` after the type: optional). Repeatable.
        #[arg(long = "arg", value_name = "NAME:TYPE")]
        args: Vec<ToolArg>,
        /// The deployment configuration.
        #[arg(long, default_value = PROJECT_CONFIG)]
        config: PathBuf,
    },
    /// Add a policy test of one tool call, expecting what the bundle decides today.
    #[command(
        name = "policy-test",
        after_help = "\
Examples:
  contextos new policy-test restart-needs-lead --tool restart_service
  contextos new policy-test big-refund --tool issue_refund \\
      --arguments '{\"customer_id\": \"ACME-1\", \"order_id\": \"1\", \"amount_cents\": 50000, \"currency\": \"USD\", \"reason\": \"x\"}'

The test passes at once and pins today's decision; change its `expect` to
what the call must get, then run `contextos policy test`."
    )]
    PolicyTest {
        /// The file name under <policies>/tests/ (without .yaml).
        name: String,
        /// The tool the request calls.
        #[arg(long)]
        tool: String,
        /// The principal [default: the first agent of <policies>/tests/entities.json].
        #[arg(long, value_name = "ENTITY")]
        principal: Option<String>,
        /// The call's arguments, a JSON object [default: an example for each required argument].
        #[arg(long, value_name = "JSON", value_parser = json_object)]
        arguments: Option<serde_json::Value>,
        /// The deployment configuration.
        #[arg(long, default_value = PROJECT_CONFIG)]
        config: PathBuf,
    },
}

/// `path` without `dir/..` steps, for display (`runtime/../policies/x` is `policies/x`).
fn shown(path: &Path) -> String {
    use std::path::Component;
    let mut parts: Vec<Component<'_>> = Vec::new();
    for part in path.components() {
        match (part, parts.last()) {
            (Component::ParentDir, Some(Component::Normal(_))) => {
                parts.pop();
            }
            (Component::CurDir, _) => {}
            _ => parts.push(part),
        }
    }
    parts.iter().collect::<PathBuf>().display().to_string()
}

/// Parses a JSON object given on the command line.
fn json_object(text: &str) -> Result<serde_json::Value, String> {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(v) if v.is_object() => Ok(v),
        Ok(_) => Err("expected a JSON object, like '{\"service\": \"api\"}'".to_string()),
        Err(e) => Err(format!("not JSON: {e}")),
    }
}

/// Tool tiers, spelled as in tool contracts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "snake_case")]
pub(crate) enum Mode {
    /// Reads only.
    ReadOnly,
    /// Writes inside the tenant's own systems.
    LocalWrite,
    /// Reaches a remote system.
    Network,
    /// Hands work to another agent.
    Delegated,
    /// Deletes or irreversibly changes something.
    Destructive,
}

pub(crate) fn new(cmd: NewCommand) -> Result<ExitCode, CliError> {
    match cmd {
        NewCommand::Case { name, suite } => {
            let suite = match suite {
                Some(dir) => dir,
                None => crate::eval_cmd::only_suite()?,
            };
            let loaded = contextos_harness::load_suite(&suite)?;
            let tools = match contextos_runtime::RuntimeConfig::load(&loaded.config_path())
                .ok()
                .and_then(|c| contextos_action::ToolCatalog::load(&c.paths.tools).ok())
            {
                Some(catalog) => catalog.tools().map(|t| t.contract.name.clone()).collect(),
                None => Vec::new(),
            };
            let path = new_case(&suite, &name, &tools)?;
            println!("wrote {}", shown(&path));
            println!(
                "edit its request, script and assertions, then `contextos scenario record {} --case {name}` and `contextos golden accept {}`",
                suite.display(),
                suite.display()
            );
            Ok(ExitCode::Success)
        }
        NewCommand::Tool {
            name,
            mode,
            description,
            args,
            config,
        } => {
            let mode = match mode {
                Mode::ReadOnly => ApprovalMode::ReadOnly,
                Mode::LocalWrite => ApprovalMode::LocalWrite,
                Mode::Network => ApprovalMode::Network,
                Mode::Delegated => ApprovalMode::Delegated,
                Mode::Destructive => ApprovalMode::Destructive,
            };
            let tool = NewTool {
                name,
                mode,
                description,
                args,
            };
            let written = new_tool(&config, &tool)?;
            if let Some(contract) = written.first() {
                println!("wrote {}", shown(contract));
            }
            if let Some(schema) = written.get(1) {
                println!(
                    "updated {} (policies can now name ContextOS::Action::\"{}\")",
                    shown(schema),
                    tool.name
                );
                println!(
                    "the model now sees one more tool, so recorded model requests changed: re-record with `contextos scenario record`, then `contextos golden accept`"
                );
            }
            Ok(ExitCode::Success)
        }
        NewCommand::PolicyTest {
            name,
            tool,
            principal,
            arguments,
            config,
        } => {
            let written = new_policy_test(
                &config,
                &NewPolicyTest {
                    name,
                    tool,
                    principal,
                    arguments,
                },
            )?;
            let d = &written.decision;
            println!("wrote {}", shown(&written.file));
            println!(
                "  the bundle decides {} today (determining: {}{}); change `expect` to what the call must get",
                d.outcome,
                if d.determining_policies.is_empty() {
                    "none".to_string()
                } else {
                    d.determining_policies.join(", ")
                },
                if d.approver_roles.is_empty() {
                    String::new()
                } else {
                    format!("; approver roles: {}", d.approver_roles.join(", "))
                }
            );
            Ok(ExitCode::Success)
        }
    }
}
