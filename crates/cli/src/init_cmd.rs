//! `contextos init` and `contextos new`.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use contextos_core::{ApprovalMode, ExitCode};
use contextos_harness::{NewTool, PROJECT_CONFIG, Template, ToolArg, init_project, new_case, new_tool};

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
    let cd = if args.dir == PathBuf::from(".") {
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
            println!("wrote {}", path.display());
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
                println!("wrote {}", contract.display());
            }
            if let Some(schema) = written.get(1) {
                println!(
                    "updated {} (policies can now name ContextOS::Action::\"{}\")",
                    schema.display(),
                    tool.name
                );
            }
            Ok(ExitCode::Success)
        }
    }
}
