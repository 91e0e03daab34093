//! `contextos policy …`: validate, test, explain.

use std::path::{Path, PathBuf};

use clap::{Subcommand, ValueEnum};
use contextos_core::{ExitCode, PolicyDecision, PolicyOutcome, parse_document};
use contextos_trust::{PolicyEngine, RequestDocument, run_policy_tests};

use crate::output::CliError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Parse the policy bundle and validate it against its schema (strict mode).
    #[command(after_help = "Example:\n  contextos policy validate --policies policies")]
    Validate {
        /// The bundle: schema.cedarschema, *.cedar files, approvers.yaml.
        #[arg(long, default_value = "policies")]
        policies: PathBuf,
    },
    /// Run policy tests (YAML files of requests and expected outcomes). Exit 1 if any fails.
    #[command(after_help = "Examples:\n  contextos policy test\n  contextos policy test policies/tests --format json")]
    Test {
        /// Directory of test files [default: <policies>/tests].
        dir: Option<PathBuf>,
        #[arg(long, default_value = "policies")]
        policies: PathBuf,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Decide one request and explain why: outcome, determining policies, approvals, shadow effects.
    #[command(
        after_help = "Example:\n  contextos policy explain --request examples/refund.yaml\n\n\
The request file (YAML or JSON) has principal, action, resource, context and entities\n\
(Cedar JSON entity format), the same fields as one policy test."
    )]
    Explain {
        /// The request file.
        #[arg(long)]
        request: PathBuf,
        #[arg(long, default_value = "policies")]
        policies: PathBuf,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
}

fn load(dir: &Path) -> Result<PolicyEngine, CliError> {
    PolicyEngine::load(dir).map_err(|e| CliError::new(e.kind(), e))
}

pub fn run(cmd: PolicyCommand) -> Result<ExitCode, CliError> {
    match cmd {
        PolicyCommand::Validate { policies } => {
            let engine = load(&policies)?;
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
        PolicyCommand::Test { dir, policies, format } => {
            let engine = load(&policies)?;
            let dir = dir.unwrap_or_else(|| policies.join("tests"));
            let report = run_policy_tests(&engine, &dir).map_err(|e| CliError::new(e.kind(), e))?;
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
        PolicyCommand::Explain {
            request,
            policies,
            format,
        } => {
            let engine = load(&policies)?;
            let shown = request.to_string_lossy().into_owned();
            let text =
                std::fs::read_to_string(&request).map_err(|e| CliError::input(format!("cannot read {shown}: {e}")))?;
            let doc: RequestDocument = parse_document(&shown, &text).map_err(|e| CliError::new(e_kind(), e))?;
            let (req, entities) = engine
                .request_from_document(&doc)
                .map_err(|e| CliError::new(e.kind(), e))?;
            let decision = engine.authorize(&req, &entities);
            match format {
                Format::Json => println!("{}", to_json(&decision)?),
                Format::Text => print_explanation(&engine, &decision),
            }
            Ok(ExitCode::Success)
        }
    }
}

fn e_kind() -> contextos_core::ErrorKind {
    contextos_core::ErrorKind::Input
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, CliError> {
    serde_json::to_string_pretty(value).map_err(|e| {
        CliError::new(
            contextos_core::ErrorKind::Bug,
            miette::MietteDiagnostic::new(e.to_string()),
        )
    })
}

fn print_explanation(engine: &PolicyEngine, d: &PolicyDecision) {
    let where_is = |id: &str| {
        engine
            .policies()
            .iter()
            .find(|p| p.id == id)
            .map(|p| format!("{} {} ({}:{})", p.effect, id, p.file, p.line))
            .unwrap_or_else(|| id.to_string())
    };
    println!("outcome:   {}", d.outcome);
    println!("request:   {} {} {}", d.principal, d.action, d.resource);
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
