//! `cargo xtask`: project automation for ContextOS, in plain Rust so it runs
//! wherever cargo does. `cargo xtask help` lists the commands.
#![expect(
    clippy::disallowed_methods,
    reason = "xtask is the developer's tool, not a run: it times steps and reads cargo's environment"
)]

mod crash;
mod fuzz;
mod steps;
mod suite_bench;
mod tidy;
mod tidy_imports;

use std::env;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const HELP: &str = "\
cargo xtask: project automation for ContextOS

USAGE:
    cargo xtask <COMMAND> [ARGS...]

COMMANDS:
    test                 everything CI checks, in order: install test peers (npm
                         MCP servers, cedarpy in tests/parity/.venv), fmt,
                         unused dependencies (cargo-machete, installed when
                         missing), clippy, tests (with doc tests; peers
                         required), crash test (`crash`), tidy, golden check
    ci                   same as `test` (CI runs it through .ci/run)
    tidy                 project rules the lints cannot see: crate docs, crate
                         maps, file size, CI script
    bench [ARGS...]      cargo bench --workspace --locked, ARGS passed through
    goldens [--accept]   check golden replay packets, or accept the new output
    crash [KILLS]        SIGKILL `contextos run` at KILLS (default 50) seeded
                         random points; verify and the run index must hold up
    bench-suite [N]      time `contextos eval` on a generated N-case suite (default
                         10000) at 1 and 2 jobs: wall time, cases/s, peak memory
    fuzz [--time S] [--runs N] [TARGET...]
                         run the fuzz targets of fuzz/ one after another
                         (cargo-fuzz, installed when missing; RUSTC_BOOTSTRAP=1
                         on stable), seeded from fuzz/seeds.txt; default 1000000
                         executions each; prints executions and exec/s per target
    help                 print this help

EXAMPLES:
    cargo xtask test
    cargo xtask tidy
    cargo xtask bench -p contextos-trust
    cargo xtask bench -- authorize
    cargo xtask goldens --accept
    cargo xtask crash 20
    cargo xtask fuzz
    cargo xtask fuzz --time 60 scenario
";

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &[String]) -> Result<(), String> {
    let Some((command, rest)) = args.split_first() else {
        print!("{HELP}");
        return Ok(());
    };
    let root = repo_root()?;
    match command.as_str() {
        "help" | "--help" | "-h" => {
            print!("{HELP}");
            Ok(())
        }
        "test" | "ci" => {
            no_arguments(command, rest)?;
            steps::test(&root)
        }
        "tidy" => {
            no_arguments(command, rest)?;
            tidy::run(&root)
        }
        "bench" => steps::bench(&root, rest),
        "fuzz" => fuzz::run(&root, &fuzz::parse_args(rest)?),
        "bench-suite" => {
            let cases = match rest {
                [] => 10_000,
                [n] => n
                    .parse()
                    .map_err(|_| format!("`bench-suite` takes a case count, got `{n}`"))?,
                _ => return Err("`bench-suite` takes at most one argument, the case count".to_owned()),
            };
            suite_bench::run(&root, cases)
        }
        "crash" => {
            let kills = match rest {
                [] => crash::DEFAULT_KILLS,
                [n] => n
                    .parse()
                    .map_err(|_| format!("`crash` takes a kill count, got `{n}`"))?,
                _ => return Err("`crash` takes at most one argument, the kill count".to_owned()),
            };
            steps::crash(&root, kills)
        }
        "goldens" => match rest {
            [] => steps::goldens(&root, false),
            [flag] if flag == "--accept" => steps::goldens(&root, true),
            _ => Err(format!(
                "unexpected arguments to `goldens`: {}; usage: cargo xtask goldens [--accept]",
                rest.join(" ")
            )),
        },
        other => {
            eprint!("{HELP}");
            Err(format!("unknown command `{other}`; see the commands above"))
        }
    }
}

fn no_arguments(command: &str, rest: &[String]) -> Result<(), String> {
    if rest.is_empty() {
        Ok(())
    } else {
        Err(format!("`{command}` takes no arguments, got: {}", rest.join(" ")))
    }
}

/// The workspace root: the parent of this crate's directory, wherever cargo
/// was invoked from.
fn repo_root() -> Result<PathBuf, String> {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .ok_or_else(|| "xtask is not inside a workspace".to_owned())
}
