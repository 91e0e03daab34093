//! `contextos eval`, `scenario record`, `golden check|accept`, `scorecard merge`, `promote`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use contextos_core::{ExitCode, IoError};
use contextos_harness::{
    CaseRun, GateOptions, GoldenMode, RunOptions, Scorecard, Selection, Suite, accept_goldens, check_case_name,
    check_goldens, evaluate_gates, load_suite, parse_partition, promote_packet, record_case, render_html, render_junit,
    render_markdown, run_promoted_case, run_suite, stale_goldens,
};
use contextos_runtime::Deployment;

use crate::config::{Using, config_path};
use crate::output::{CliError, terminal_text};
use crate::policy_cmd::Format;

/// The suite commands use when none is given: the only one under `scenarios/`.
pub(crate) fn only_suite() -> Result<PathBuf, CliError> {
    let found = suites_under(Path::new("scenarios"))?;
    match found.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(CliError::input(
            "no suite under scenarios/ (a folder holding suite.yaml): give the suite's directory, or start a project with `contextos init`",
        )),
        many => Err(CliError::input(format!(
            "several suites under scenarios/: give one of {}",
            many.iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// Every folder of `root` that holds a `suite.yaml`, sorted.
fn suites_under(root: &Path) -> Result<Vec<PathBuf>, CliError> {
    if !root.is_dir() {
        return Ok(Vec::new());
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir(root)
        .map_err(IoError::of("read", root))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.join("suite.yaml").is_file())
        .collect();
    found.sort();
    Ok(found)
}

/// `dir`, or the only suite under `scenarios/`.
fn suite_or_only(dir: Option<PathBuf>) -> Result<PathBuf, CliError> {
    dir.map_or_else(only_suite, Ok)
}

/// `contextos eval`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  contextos eval                                   the bundled customer-escalation suite\n  \
contextos eval scenarios/customer-escalation --jobs 2 --filter tag:approval\n  \
contextos eval --partition 1/4 --json shard1.json   one CI shard (merge with `contextos scorecard merge`)\n  \
contextos eval --baseline goldens/customer-escalation/baseline.scorecard.json --max-regression 0.02\n  \
contextos eval --junit report.xml --markdown comment.md --html report.html"
)]
pub(crate) struct EvalArgs {
    /// The suite directory (suite.yaml + cases/) [default: the only suite under scenarios/].
    pub suite: Option<PathBuf>,
    /// Parallel jobs [default: the number of cores].
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Stop starting cases after the first failure.
    #[arg(long)]
    pub fail_fast: bool,
    /// Run only cases whose name contains this, or `tag:<tag>` (repeatable; any match runs).
    /// The suite's thresholds on tags and kinds no selected case has are not gated.
    #[arg(long)]
    pub filter: Vec<String>,
    /// Run shard I of N (1-based), for CI fan-out.
    #[arg(long)]
    pub partition: Option<String>,
    /// Deployment configuration [default: the suite's `config`].
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Golden packets root.
    #[arg(long, default_value = "goldens")]
    pub goldens: PathBuf,
    /// Minimum overall pass rate in [0, 1] (overrides the suite).
    #[arg(long)]
    pub min_pass_rate: Option<f64>,
    /// Minimum pass rate for a tag, as TAG=RATE (repeatable).
    #[arg(long, value_parser = parse_rate)]
    pub min_tag: Vec<(String, f64)>,
    /// Minimum pass rate for an assertion kind, as KIND=RATE (repeatable).
    #[arg(long, value_parser = parse_rate)]
    pub min_kind: Vec<(String, f64)>,
    /// A baseline scorecard: fail when a passing case fails or a rate drops
    /// (with --filter or --partition, compared on the cases that ran).
    #[arg(long)]
    pub baseline: Option<PathBuf>,
    /// How far a rate may drop against the baseline (0.02 = two points).
    #[arg(long, default_value_t = 0.0)]
    pub max_regression: f64,
    /// Write the scorecard JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write JUnit XML here.
    #[arg(long)]
    pub junit: Option<PathBuf>,
    /// Write a Markdown pull-request comment here.
    #[arg(long)]
    pub markdown: Option<PathBuf>,
    /// Write a self-contained HTML report here.
    #[arg(long)]
    pub html: Option<PathBuf>,
    /// Standard output: a summary (text) or the scorecard (json).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

fn parse_rate(text: &str) -> Result<(String, f64), String> {
    let (name, rate) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?} is not NAME=RATE"))?;
    let rate: f64 = rate.parse().map_err(|_| format!("{rate:?} is not a number"))?;
    if !(0.0..=1.0).contains(&rate) {
        return Err(format!("rate {rate} is outside [0, 1]"));
    }
    Ok((name.to_string(), rate))
}

fn deployment_for(suite: &Suite, config: &Option<PathBuf>) -> Result<Deployment, CliError> {
    let path = config.clone().unwrap_or_else(|| suite.config_path());
    Ok(Deployment::load(&path)?)
}

/// Writes a report or scorecard atomically (a crash leaves the old file or the
/// whole new one), creating the folders it goes in.
fn write(path: &Path, text: &str) -> Result<(), CliError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(IoError::of("create", dir))?;
    }
    let options = contextos_fs::AtomicWrite {
        replace: true,
        secret: false,
    };
    Ok(contextos_fs::write_file_atomically(path, text.as_bytes(), options).map_err(IoError::of("write", path))?)
}

fn with_jobs<T: Send>(jobs: Option<usize>, f: impl FnOnce() -> T + Send) -> Result<T, CliError> {
    match jobs {
        None => Ok(f()),
        Some(0) => Err(CliError::input("--jobs must be at least 1")),
        Some(n) => rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .map(|pool| pool.install(f))
            .map_err(|e| CliError::input(format!("cannot start {n} worker threads: {e}"))),
    }
}

fn progress(total: usize) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::with_draw_target(Some(total as u64), indicatif::ProgressDrawTarget::stderr());
    if let Ok(style) = indicatif::ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} cases  {msg}") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// Runs the selected cases with a progress bar.
fn run_cases(
    dep: &Deployment,
    suite: &Suite,
    selection: &Selection,
    partition: Option<String>,
    jobs: Option<usize>,
    template: RunOptions<'_>,
) -> Result<(Vec<CaseRun>, Scorecard), CliError> {
    let cases = selection.apply(&suite.cases);
    if cases.is_empty() {
        return Err(CliError::input(format!(
            "no case of {} matches the filters",
            suite.dir.display()
        )));
    }
    let bar = progress(cases.len());
    let on_case = |r: &contextos_harness::CaseResult| {
        bar.inc(1);
        if !r.passed {
            bar.set_message(format!("last failure: {}", r.name));
        }
    };
    let options = RunOptions {
        on_case: Some(&on_case),
        ..template
    };
    let out = with_jobs(jobs, || run_suite(dep, suite, &cases, partition, &options))?;
    bar.finish_and_clear();
    Ok(out)
}

fn print_summary(card: &Scorecard, failures: &[String]) {
    println!(
        "suite {}{}",
        card.suite,
        card.partition
            .as_ref()
            .map(|p| format!(" (shard {p})"))
            .unwrap_or_default()
    );
    for case in &card.cases {
        let outcome = case.outcome.map(|o| o.to_string());
        println!(
            "  {}  {:<40} {:.3}  {}",
            if case.passed { "PASS" } else { "FAIL" },
            terminal_text(&case.name),
            case.score,
            outcome.unwrap_or_else(|| "error".to_string())
        );
        if let Some(e) = &case.error {
            println!("        error: {}", terminal_text(e));
        }
        for a in case.assertions.iter().filter(|a| !a.passed) {
            println!("        x {}: {}", a.kind, terminal_text(&a.message));
        }
    }
    let tally = |m: &BTreeMap<String, contextos_harness::Tally>| {
        m.iter()
            .map(|(k, t)| format!("{k} {}/{}", t.passed, t.total))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!("\nby tag:   {}", tally(&card.by_tag));
    println!("by kind:  {}", tally(&card.by_kind));
    println!(
        "score:    {}/{} cases passed ({:.1}%), mean score {:.3}",
        card.overall.passed,
        card.overall.total,
        card.overall.pass_rate * 100.0,
        card.mean_score
    );
    if failures.is_empty() {
        println!("gates:    all passed");
    } else {
        println!("gates:    {} failed", failures.len());
        for f in failures {
            println!("  - {}", terminal_text(f));
        }
    }
}

fn load_scorecard(path: &Path) -> Result<Scorecard, CliError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(IoError::of("read", path))?;
    Ok(contextos_core::parse_json(&shown, &text)?)
}

pub(crate) fn eval(args: EvalArgs) -> Result<ExitCode, CliError> {
    let suite = load_suite(&suite_or_only(args.suite.clone())?)?;
    let dep = deployment_for(&suite, &args.config)?;
    let partition = args
        .partition
        .as_deref()
        .map(parse_partition)
        .transpose()
        .map_err(CliError::input)?;
    let selection = Selection {
        filters: args.filter.clone(),
        partition,
    };
    // The HTML report drills into every case; otherwise only failing cases carry details.
    let template = RunOptions {
        fail_fast: args.fail_fast,
        goldens: Some(&args.goldens),
        all_details: args.html.is_some(),
        ..RunOptions::default()
    };
    let (runs, card) = run_cases(&dep, &suite, &selection, args.partition.clone(), args.jobs, template)?;
    let options = GateOptions {
        min_pass_rate: args.min_pass_rate,
        min_tag: args.min_tag.iter().cloned().collect(),
        min_kind: args.min_kind.iter().cloned().collect(),
        baseline: args.baseline.as_deref().map(load_scorecard).transpose()?,
        max_regression: args.max_regression,
        selection: !args.filter.is_empty() || args.partition.is_some(),
    };
    let failures = evaluate_gates(&card, &suite.file.thresholds, &options);
    let json = serde_json::to_string_pretty(&card).map_err(CliError::bug)?;
    if let Some(p) = &args.json {
        write(p, &format!("{json}\n"))?;
    }
    if let Some(p) = &args.junit {
        write(p, &render_junit(&card)?)?;
    }
    if let Some(p) = &args.markdown {
        write(p, &render_markdown(&card, &failures))?;
    }
    if let Some(p) = &args.html {
        write(p, &render_html(&card, &failures))?;
    }
    match args.format {
        Format::Json => println!("{json}"),
        Format::Text => print_summary(&card, &failures),
    }
    // Fixtures that cannot be read are bad input, as for `run --fixtures`.
    if let Some(run) = runs.iter().find(|r| r.unreadable_fixtures) {
        eprintln!(
            "case {} cannot read its fixtures: {}",
            run.result.name,
            run.result.error.as_deref().unwrap_or_default()
        );
        return Ok(ExitCode::Input);
    }
    Ok(if failures.is_empty() {
        ExitCode::Success
    } else {
        ExitCode::GateFailed
    })
}

/// `contextos scenario …`.
#[derive(Debug, Subcommand)]
pub(crate) enum ScenarioCommand {
    /// Record each case's fixtures from its authoring script (scripts/<case>.yaml).
    ///
    /// The run must use its script exactly. A case whose run asks for a model
    /// response, tool result or approval the script does not have, or leaves
    /// some of the script unused, is not recorded: the error names the case,
    /// the script and what ran out or was left over, and the case's previous
    /// fixtures stay as they were (new ones are written beside them and
    /// renamed into place only when complete). The other cases still record.
    /// Exit 1 when some case did not record, 2 when a script or case is bad
    /// input (does not parse, judge responses do not match graded assertions).
    #[command(
        after_help = "Examples:\n  contextos scenario record scenarios/customer-escalation\n  \
contextos scenario record scenarios/customer-escalation --case refund-approved-by-support-lead\n\n\
A script that ran out (exit 1):\n  \
FAIL   refund-approved-by-support-lead: the run does not match scenarios/customer-escalation/scripts/refund-approved-by-support-lead.yaml; its fixtures are unchanged\n       \
- the script ran out: model call 3 has no response (model: lists 2 response(s))"
    )]
    Record {
        /// The suite directory [default: the only suite under scenarios/].
        suite: Option<PathBuf>,
        /// Only these cases (repeatable).
        #[arg(long)]
        case: Vec<String>,
        /// Deployment configuration [default: the suite's].
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Load a suite and resolve its names against the deployment, without running it.
    ///
    /// Every tool a case or its script names (assertions, script tool results
    /// and approvals) must be a tool contract; every assertion's policy_id an
    /// @id of the policy bundle; every approver role one of approvers.yaml;
    /// every answer_regex pattern must compile with eval's engine. Each problem
    /// is printed with file:line:col, what was found, the nearest known name
    /// and what is known. Exit 2 if there is any problem.
    #[command(after_help = "Examples:\n  contextos scenario check\n  \
contextos scenario check scenarios/customer-escalation --config runtime/contextos.toml\n\n\
A problem (exit 2):\n  \
scenarios/customer-escalation/cases/refund-approved-by-support-lead.yaml:34:11: assertions[5].tool: tool `issue_refnd` \
is not a contract of this deployment; did you mean `issue_refund`? known: delete_account, globex_crm_export, issue_refund, ...")]
    Check {
        /// The suite directory [default: the only suite under scenarios/].
        suite: Option<PathBuf>,
        /// Deployment configuration [default: the suite's `config`].
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

pub(crate) fn scenario(cmd: ScenarioCommand) -> Result<ExitCode, CliError> {
    match cmd {
        ScenarioCommand::Record { suite, case, config } => {
            let suite = load_suite(&suite_or_only(suite)?)?;
            let dep = deployment_for(&suite, &config)?;
            for name in &case {
                if !suite.cases.iter().any(|c| &c.file.name == name) {
                    return Err(CliError::input(format!(
                        "no case named {name:?} in {}",
                        suite.dir.display()
                    )));
                }
            }
            let mut recorded = 0;
            let mut failed: Vec<ExitCode> = Vec::new();
            for c in suite
                .cases
                .iter()
                .filter(|c| case.is_empty() || case.contains(&c.file.name))
            {
                if !c.has_script() {
                    println!("skip   {} (no script)", c.file.name);
                    continue;
                }
                match record_case(&dep, &suite, c) {
                    Ok(r) => {
                        println!(
                            "record {}: {} model, {} tool, {} judge interaction(s) -> {}",
                            r.case,
                            r.model,
                            r.tools,
                            r.judge,
                            c.fixtures.display()
                        );
                        recorded += 1;
                    }
                    Err(contextos_harness::HarnessError::Script { case, script, problems }) => {
                        eprintln!("FAIL   {case}: the run does not match {script}; its fixtures are unchanged");
                        for p in &problems {
                            eprintln!("       - {p}");
                        }
                        failed.push(ExitCode::GateFailed);
                    }
                    Err(e) => {
                        eprintln!("FAIL   {}", c.file.name);
                        let e = CliError::from(e);
                        e.render();
                        failed.push(e.exit_code());
                    }
                }
            }
            if failed.is_empty() {
                println!("recorded {recorded} case(s)");
                return Ok(ExitCode::Success);
            }
            println!("recorded {recorded} case(s), {} failed", failed.len());
            // Bad input outranks a script the run parted ways with.
            Ok(failed
                .into_iter()
                .find(|c| *c != ExitCode::GateFailed)
                .unwrap_or(ExitCode::GateFailed))
        }
        ScenarioCommand::Check { suite, config } => {
            let suite = load_suite(&suite_or_only(suite)?)?;
            let dep = deployment_for(&suite, &config)?;
            let checked = contextos_harness::check_suite(&dep, &suite)?;
            if !checked.problems.is_empty() {
                for p in &checked.problems {
                    eprintln!("{p}");
                }
                eprintln!(
                    "suite {} has {} problem(s) in {} case(s) and {} script(s)",
                    suite.file.name,
                    checked.problems.len(),
                    checked.cases,
                    checked.scripts
                );
                return Ok(ExitCode::Input);
            }
            println!(
                "suite {} is valid: {} cases, {} scripts; resolved {} tools, {} policy ids, {} approver roles; {} patterns compile",
                suite.file.name,
                checked.cases,
                checked.scripts,
                checked.tools.len(),
                checked.policy_ids.len(),
                checked.roles.len(),
                checked.patterns
            );
            Ok(ExitCode::Success)
        }
    }
}

/// `contextos golden …`.
#[derive(Debug, Subcommand)]
pub(crate) enum GoldenCommand {
    /// Run every suite and compare each case's packet with its golden (exit 1 on a mismatch).
    #[command(
        after_help = "Examples:\n  contextos golden check\n  contextos golden check scenarios/billing\n\n\
Each suite runs under the deployment its suite.yaml `config` names, and its goldens\n\
(goldens/<suite>/) are verified with that deployment's keys."
    )]
    Check(GoldenArgs),
    /// Run every suite and write each case's packet as its golden (review the diff before committing).
    #[command(after_help = "Example:\n  contextos golden accept scenarios/customer-escalation")]
    Accept(GoldenArgs),
}

/// Which suites, and where goldens live.
#[derive(Debug, Args)]
pub(crate) struct GoldenArgs {
    /// Suite directories [default: every suite under scenarios/].
    pub suites: Vec<PathBuf>,
    /// Golden packets root.
    #[arg(long, default_value = "goldens")]
    pub goldens: PathBuf,
    /// Parallel jobs.
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Fail on any byte difference, not only on a change of behaviour (for
    /// refactors that must change nothing).
    #[arg(long)]
    pub exact: bool,
}

fn suites(args: &GoldenArgs) -> Result<Vec<PathBuf>, CliError> {
    if !args.suites.is_empty() {
        return Ok(args.suites.clone());
    }
    suites_under(Path::new("scenarios"))
}

pub(crate) fn golden(cmd: GoldenCommand) -> Result<ExitCode, CliError> {
    let (accept, args) = match cmd {
        GoldenCommand::Check(a) => (false, a),
        GoldenCommand::Accept(a) => (true, a),
    };
    let mut mismatches = 0;
    let mut checked = 0;
    for dir in suites(&args)? {
        let suite = load_suite(&dir)?;
        let config = suite.config_path();
        let dep = Deployment::load(&config)?;
        let golden_dir = suite.golden_dir(&args.goldens);
        Using {
            config: Some(&config),
            bundles: vec![("policies", &dep.config.paths.policies, &dep.policy)],
            keyring: Some(&dep.keyring),
            goldens: Some(&golden_dir),
            ..Using::default()
        }
        .print();
        let template = RunOptions {
            goldens: Some(&args.goldens),
            keep_packets: true,
            ..RunOptions::default()
        };
        let (runs, _) = run_cases(&dep, &suite, &Selection::default(), None, args.jobs, template)?;
        checked += runs.len();
        if accept {
            let written = accept_goldens(&runs, &suite.file.name, &args.goldens)?;
            println!(
                "suite {}: {} golden(s) written, {} unchanged",
                suite.file.name,
                written.len(),
                runs.len() - written.len()
            );
            for p in written {
                println!("  wrote {}", p.display());
            }
        } else {
            let mode = if args.exact {
                GoldenMode::Exact
            } else {
                GoldenMode::Behaviour
            };
            let check = check_goldens(&runs, &suite.file.name, &args.goldens, &dep.keyring, mode);
            for m in &check.mismatches {
                println!("MISMATCH {} ({})\n{}", m.case, m.path.display(), m.diff);
            }
            for (case, changes) in &check.provenance {
                println!("  provenance changed, behaviour matches: {case}");
                for change in changes {
                    println!("    {change}");
                }
            }
            let bad = check.mismatches.len();
            mismatches += bad;
            println!(
                "suite {}: {} of {} golden(s) match",
                suite.file.name,
                runs.len() - bad,
                runs.len()
            );
        }
        for stale in stale_goldens(&runs, &suite.file.name, &args.goldens) {
            println!("  stale golden (no such case): {}", stale.display());
        }
    }
    if !accept && mismatches > 0 {
        println!(
            "golden check failed: {mismatches} of {checked} packet(s) differ; review, then `cargo xtask goldens --accept`"
        );
        return Ok(ExitCode::GateFailed);
    }
    Ok(ExitCode::Success)
}

/// `contextos scorecard …`.
#[derive(Debug, Subcommand)]
pub(crate) enum ScorecardCommand {
    /// Merge shard scorecards (from `eval --partition I/N --json F`) into one.
    #[command(after_help = "Example:\n  contextos scorecard merge shard1.json shard2.json --out scorecard.json")]
    Merge {
        /// Shard scorecards.
        #[arg(required = true)]
        parts: Vec<PathBuf>,
        /// Write the merged scorecard here [default: standard output].
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

pub(crate) fn scorecard(cmd: ScorecardCommand) -> Result<ExitCode, CliError> {
    let ScorecardCommand::Merge { parts, out } = cmd;
    let cards = parts.iter().map(|p| load_scorecard(p)).collect::<Result<Vec<_>, _>>()?;
    let merged = Scorecard::merge(cards).map_err(CliError::input)?;
    let json = serde_json::to_string_pretty(&merged).map_err(CliError::bug)?;
    match out {
        Some(p) => write(&p, &format!("{json}\n"))?,
        None => println!("{json}"),
    }
    Ok(ExitCode::Success)
}

/// `contextos promote`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  contextos promote run_escalation_4411 --suite scenarios/customer-escalation --case double-charge-refund\n  \
contextos promote run_4412 --suite scenarios/billing --case invoice-dispute   # billing's config: its store and keys\n\n\
The run is read from the store of the suite's deployment config (suite.yaml `config`), verified with\n\
its keys, and the new case runs under it; --config and --store override."
)]
pub(crate) struct PromoteArgs {
    /// A stored run id, packet digest, or signed packet file.
    pub run: String,
    /// The suite to add the case to [default: the only suite under scenarios/].
    #[arg(long)]
    pub suite: Option<PathBuf>,
    /// The new case's name (kebab-case).
    #[arg(long)]
    pub case: String,
    /// Golden packets root.
    #[arg(long, default_value = "goldens")]
    pub goldens: PathBuf,
    /// The deployment configuration [default: the suite's `config`].
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// The run store [default: the configuration's `paths.store`].
    #[arg(long)]
    pub store: Option<PathBuf>,
}

pub(crate) fn promote(args: PromoteArgs) -> Result<ExitCode, CliError> {
    check_case_name(&args.case)?;
    let suite = suite_or_only(args.suite.clone())?;
    let config = config_path(args.config.as_deref(), Some(&suite))?;
    let dep = Deployment::load(&config)?;
    let store_dir = args.store.clone().unwrap_or(dep.config.paths.store.clone());
    Using {
        config: Some(&config),
        keyring: Some(&dep.keyring),
        store: Some(&store_dir),
        goldens: Some(&args.goldens),
        ..Using::default()
    }
    .print();
    let (packet, _) = crate::run_cmd::load_packet(&args.run, &dep, &store_dir)?;
    let promoted = promote_packet(&packet, &args.case, &suite)?;
    println!("wrote {}", promoted.case_file.display());
    println!(
        "wrote {}/ (model, tools, approvals from the packet)",
        promoted.fixtures.display()
    );
    // Run the new case once and keep its packet as the golden.
    let first = run_promoted_case(&dep, &suite, &args.case, &args.goldens)?;
    for p in first.goldens {
        println!("wrote {} (golden)", p.display());
    }
    for a in &first.pending {
        println!("note: scaffolded {} does not hold yet: {}", a.kind, a.message);
    }
    println!("edit the assertions, then `contextos eval {}`", suite.display());
    Ok(ExitCode::Success)
}
