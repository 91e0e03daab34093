//! `contextos`: argument parsing and rendering. Every verb calls one library
//! function; this crate holds no domain logic.

mod config;
mod eval_cmd;
mod init_cmd;
mod live;
mod output;
mod pack_cmd;
mod policy_cmd;
mod run_cmd;
mod schema_cmd;
mod tools_cmd;

use std::path::PathBuf;
use std::process::ExitCode as ProcessExit;

use clap::{Parser, Subcommand};
use contextos_core::ExitCode;

use crate::output::CliError;

const AFTER_HELP: &str = "\
Examples:
  contextos init my-agent                         a working project: policies, tools, a suite with goldens
  contextos eval                                  run the bundled suite, print the scorecard
  contextos policy validate                       check policies/ against its schema
  contextos policy test                           run policies/tests/*.yaml
  contextos policy explain --request req.yaml     why is this call allowed or denied?
  contextos keys generate --name ci               new ed25519 key pair in runtime/keys/
  contextos run runtime/examples/escalation/request.yaml
  contextos replay run_escalation_4411 --policies candidate/
  contextos verify                                check the whole run store

Exit codes: 0 ok, 1 gate or test failed, 2 usage or input error,
3 verification failed, 4 recorded-fixture miss, 101 bug.";

/// ContextOS: a production agent runtime built trust-plane-first.
#[derive(Debug, Parser)]
#[command(name = "contextos", version, after_help = AFTER_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start a project: deployment, policies, tools, a signed pack, a suite with goldens.
    Init(init_cmd::InitArgs),
    /// Add one well-formed file: a case, a tool contract or a policy test.
    #[command(subcommand)]
    New(init_cmd::NewCommand),
    /// Validate, test and explain Cedar policies.
    #[command(subcommand)]
    Policy(policy_cmd::PolicyCommand),
    /// Run a scenario suite on recorded fixtures and print its scorecard (exit 1 when a gate fails).
    Eval(eval_cmd::EvalArgs),
    /// Record and check scenario suites.
    #[command(subcommand)]
    Scenario(eval_cmd::ScenarioCommand),
    /// Check or accept golden replay packets.
    #[command(subcommand)]
    Golden(eval_cmd::GoldenCommand),
    /// Merge sharded scorecards.
    #[command(subcommand)]
    Scorecard(eval_cmd::ScorecardCommand),
    /// Turn a stored run into a golden scenario case.
    Promote(eval_cmd::PromoteArgs),
    /// Print, list or write the JSON Schema of every kind of file a user writes (suite, case, tool, config, ...).
    Schema(schema_cmd::SchemaArgs),
    /// Run a request through every plane and store its signed replay packet.
    Run(run_cmd::RunArgs),
    /// Rerun a stored run from its recorded interactions, as it was or with overrides.
    Replay(run_cmd::ReplayArgs),
    /// Compare two replay packets.
    Diff(run_cmd::DiffArgs),
    /// Verify signatures, digests and the evidence chain (exit 3 naming what failed).
    Verify(run_cmd::VerifyArgs),
    /// Show a stored run (operator view) or object.
    Show(run_cmd::ShowArgs),
    /// Manage ed25519 signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Build, sign, verify, inspect and diff context packs.
    #[command(subcommand)]
    Pack(pack_cmd::PackCommand),
    /// List, pin and check MCP and OpenAPI tools against their contracts.
    #[command(subcommand)]
    Tools(tools_cmd::ToolsCommand),
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Generate an ed25519 key pair: NAME.pub (commit it to runtime/keys/) and NAME.key (keep it secret).
    #[command(after_help = "Example:\n  contextos keys generate --name release --out runtime/keys")]
    Generate {
        /// Key name: letters, digits, `-` and `_`.
        #[arg(long)]
        name: String,
        /// Directory to write both files to.
        #[arg(long, default_value = "runtime/keys")]
        out: PathBuf,
    },
}

fn run(cli: Cli) -> Result<ExitCode, CliError> {
    match cli.command {
        Command::Init(args) => init_cmd::init(args),
        Command::New(cmd) => init_cmd::new(cmd),
        Command::Policy(cmd) => policy_cmd::run(cmd),
        Command::Pack(cmd) => pack_cmd::run(cmd),
        Command::Tools(cmd) => tools_cmd::run(cmd),
        Command::Eval(args) => eval_cmd::eval(args),
        Command::Scenario(cmd) => eval_cmd::scenario(cmd),
        Command::Golden(cmd) => eval_cmd::golden(cmd),
        Command::Scorecard(cmd) => eval_cmd::scorecard(cmd),
        Command::Promote(args) => eval_cmd::promote(args),
        Command::Schema(args) => schema_cmd::schema(args),
        Command::Run(args) => run_cmd::run(args),
        Command::Replay(args) => run_cmd::replay_cmd(args),
        Command::Diff(args) => run_cmd::diff_cmd(args),
        Command::Verify(args) => run_cmd::verify_cmd(args),
        Command::Show(args) => run_cmd::show_cmd(args),
        Command::Keys(KeysCommand::Generate { name, out }) => {
            let (public, secret) = contextos_trust::generate_key_files(&out, &name)?;
            let key = contextos_trust::PublicKey::load(&public)?;
            println!("generated {}", key.key_id());
            println!(
                "  public key: {}  (commit this; verifiers trust keys in runtime/keys/*.pub)",
                public.display()
            );
            println!("  secret key: {}  (keep this out of version control)", secret.display());
            Ok(ExitCode::Success)
        }
    }
}

/// Ends the process quietly (exit 0) when stdout is closed early
/// (`contextos ... | head`): `println!` panics on a broken pipe, and that
/// panic is the reader going away, not a bug. Every other panic keeps the
/// default report (exit 101).
fn quiet_on_closed_stdout() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or_default();
        let broken_pipe = message.contains("Broken pipe") || message.contains("os error 32");
        if message.starts_with("failed printing to stdout") && broken_pipe {
            std::process::exit(0);
        }
        default(info);
    }));
}

fn main() -> ProcessExit {
    quiet_on_closed_stdout();
    let cli = Cli::parse();
    let code = match run(cli) {
        Ok(code) => code,
        Err(err) => {
            err.render();
            err.exit_code()
        }
    };
    ProcessExit::from(code.code())
}
