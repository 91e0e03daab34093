//! The steps of `cargo xtask test` and the commands that forward to cargo.
//! Each step is announced with a `==> step` line and stops the run on
//! failure with a message naming the step.

use std::env;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::time::Instant;

use crate::tidy;

const PEERS_DIR: &str = "tests/peers";
/// The unused-dependency checker `cargo xtask test` installs when missing.
const MACHETE_VERSION: &str = "0.9.2";
const PARITY_DIR: &str = "tests/parity";
/// Set for the test step: a test whose peer is missing fails instead of skipping.
const REQUIRE_PEERS: &str = "CONTEXTOS_REQUIRE_PEERS";
const GOLDENS_DIR: &str = "goldens";

/// `cargo xtask test` (and `ci`): everything CI checks, in order.
pub(crate) fn test(root: &Path) -> Result<(), String> {
    let started = Instant::now();
    install_peers(root)?;
    install_cedar_peer(root)?;
    cargo_step(
        root,
        "fmt",
        &["fmt", "--all", "--", "--check"],
        "run `cargo fmt --all` to fix the formatting",
    )?;
    unused_dependencies(root)?;
    cargo_step(
        root,
        "clippy",
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--locked",
            "--",
            "-D",
            "warnings",
        ],
        "",
    )?;
    cargo_step_with_env(
        root,
        "test",
        &["test", "--workspace", "--locked"],
        "",
        &[(REQUIRE_PEERS, "1")],
    )?;

    crash(root, crate::crash::DEFAULT_KILLS)?;

    announce("tidy", "project rules (in-process)");
    tidy::run(root).map_err(|err| step_failed("tidy", &err))?;

    if has_goldens(root).map_err(|err| step_failed("goldens", &err))? {
        cargo_step(root, "goldens", &golden_args("check"), "")?;
    } else {
        announce("goldens", "golden check");
        println!("no goldens yet");
    }

    println!("==> all checks passed in {:.0}s", started.elapsed().as_secs_f64());
    Ok(())
}

/// `cargo xtask crash [KILLS]`: builds `contextos` as the test step does (a
/// no-op after it), then kills runs of it and checks the store they leave.
pub(crate) fn crash(root: &Path, kills: u32) -> Result<(), String> {
    cargo_step(root, "crash", &["test", "--workspace", "--locked", "--no-run"], "")?;
    crate::crash::run(root, kills)
}

/// `cargo xtask bench [ARGS...]`.
pub(crate) fn bench(root: &Path, extra: &[String]) -> Result<(), String> {
    let mut args = vec!["bench".to_owned()];
    // `-p` narrows the run; `--workspace` would widen it again.
    if !extra.iter().any(|arg| arg == "-p" || arg.starts_with("--package")) {
        args.push("--workspace".to_owned());
    }
    args.push("--locked".to_owned());
    args.extend(extra.iter().cloned());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    println!(
        "note: numbers are for the release (bench) profile on this machine; compare runs on the same machine only"
    );
    cargo_step(root, "bench", &args, "")
}

/// `cargo xtask goldens [--accept]`.
pub(crate) fn goldens(root: &Path, accept: bool) -> Result<(), String> {
    let verb = if accept { "accept" } else { "check" };
    let hint = if accept {
        ""
    } else {
        "if the change is intended, review the diff and run `cargo xtask goldens --accept`"
    };
    cargo_step(root, "goldens", &golden_args(verb), hint)
}

fn golden_args(verb: &str) -> [&str; 8] {
    [
        "run",
        "--quiet",
        "--locked",
        "-p",
        "contextos-cli",
        "--",
        "golden",
        verb,
    ]
}

/// Installs the pinned npm MCP servers used as real peers by the end-to-end
/// tests, when there are any.
fn install_peers(root: &Path) -> Result<(), String> {
    let lockfile = format!("{PEERS_DIR}/package-lock.json");
    if !root.join(&lockfile).is_file() {
        announce("peers", "install test peers");
        println!("no peers to install");
        return Ok(());
    }
    let args = ["ci", "--prefix", PEERS_DIR, "--no-audit", "--no-fund"];
    program_step(
        root,
        "peers",
        "npm",
        &args,
        &format!(
            "npm is not installed, but {lockfile} pins the MCP servers the end-to-end tests run against; install Node.js (with npm) and rerun"
        ),
    )
}

/// Installs the pinned `cedarpy` (the independent Cedar evaluation the
/// parity test compares the engine with) into `tests/parity/.venv`.
fn install_cedar_peer(root: &Path) -> Result<(), String> {
    let requirements = format!("{PARITY_DIR}/requirements.txt");
    if !root.join(&requirements).is_file() {
        announce("cedar peer", "install cedarpy");
        println!("no cedar peer to install");
        return Ok(());
    }
    let venv = format!("{PARITY_DIR}/.venv");
    let missing = format!(
        "python3 is not installed, but {requirements} pins the Cedar evaluation the parity test compares with; install Python 3 (with venv and pip) and rerun"
    );
    if !root.join(&venv).join("bin/python3").is_file() {
        program_step(root, "cedar peer", "python3", &["-m", "venv", &venv], &missing)?;
    }
    let python = format!("{venv}/bin/python3");
    let args = [
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "-r",
        &requirements,
    ];
    program_step(root, "cedar peer", &python, &args, &missing)
}

/// Runs `program ARGS` at the repository root as the step `name`;
/// `missing` is the failure message when the program is not installed.
fn program_step(root: &Path, name: &str, program: &str, args: &[&str], missing: &str) -> Result<(), String> {
    announce(name, &display(program, args));
    // A path is the repository's; a bare name is looked up on PATH.
    let executable = if program.contains('/') {
        root.join(program)
    } else {
        PathBuf::from(program)
    };
    match Command::new(executable).args(args).current_dir(root).status() {
        Ok(status) if status.success() => Ok(()),
        Ok(status) => Err(step_failed(
            name,
            &format!("`{}` {}", display(program, args), describe(status)),
        )),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Err(step_failed(name, missing)),
        Err(err) => Err(step_failed(name, &format!("could not run {program}: {err}"))),
    }
}

/// Every dependency a crate lists is used (cargo-machete, on the stable
/// toolchain), installing the pinned cargo-machete first when it is missing.
fn unused_dependencies(root: &Path) -> Result<(), String> {
    let installed = Command::new(cargo())
        .args(["machete", "--version"])
        .env_remove("CARGO_PKG_NAME")
        .output()
        .is_ok_and(|out| out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == MACHETE_VERSION);
    if !installed {
        cargo_step(
            root,
            "unused-deps",
            &["install", "--locked", "cargo-machete", "--version", MACHETE_VERSION],
            "",
        )?;
    }
    cargo_step(
        root,
        "unused-deps",
        &["machete", "--skip-target-dir"],
        "remove the unused dependency from its Cargo.toml, or, if a macro uses it unseen, \
         list it under [package.metadata.cargo-machete] ignored with a comment saying why",
    )
}

/// Whether `goldens/` holds any `*.json` file, at any depth.
fn has_goldens(root: &Path) -> Result<bool, String> {
    fn walk(dir: &Path) -> Result<bool, String> {
        let entries = match fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(err) => return Err(format!("failed to list {}: {err}", dir.display())),
        };
        for entry in entries {
            let path = entry
                .map_err(|err| format!("failed to list {}: {err}", dir.display()))?
                .path();
            if path.is_dir() {
                if walk(&path)? {
                    return Ok(true);
                }
            } else if path.extension().is_some_and(|ext| ext == "json") {
                return Ok(true);
            }
        }
        Ok(false)
    }
    walk(&root.join(GOLDENS_DIR))
}

/// Runs cargo (from `$CARGO` when cargo launched us) at the repository root
/// as the step `name`; `hint` is added to the failure message when non-empty.
fn cargo_step(root: &Path, name: &str, args: &[&str], hint: &str) -> Result<(), String> {
    cargo_step_with_env(root, name, args, hint, &[])
}

/// [`cargo_step`] with `vars` set in cargo's environment.
fn cargo_step_with_env(
    root: &Path,
    name: &str,
    args: &[&str],
    hint: &str,
    vars: &[(&str, &str)],
) -> Result<(), String> {
    let cargo = cargo();
    let shown = display("cargo", args);
    announce(name, &shown);
    let started = Instant::now();
    let mut command = Command::new(&cargo);
    // `cargo run` gave us our own package's variables; cargo subcommands such
    // as cargo-machete take `CARGO_PKG_NAME` to mean they run inside a build.
    command
        .args(args)
        .current_dir(root)
        .env_remove("CARGO_PKG_NAME")
        .envs(vars.iter().copied());
    // A fresh clone gains nothing from incremental caches, and they double
    // the target directory's size; a developer's own setting wins.
    if env::var_os("CARGO_INCREMENTAL").is_none() {
        command.env("CARGO_INCREMENTAL", "0");
    }
    let status = command
        .status()
        .map_err(|err| step_failed(name, &format!("could not run {cargo}: {err}")))?;
    if status.success() {
        println!("    {name} ok in {:.1}s", started.elapsed().as_secs_f64());
        return Ok(());
    }
    let mut message = format!("`{shown}` {}", describe(status));
    if !hint.is_empty() {
        message.push_str("; ");
        message.push_str(hint);
    }
    Err(step_failed(name, &message))
}

/// Cargo: `$CARGO` when cargo launched us.
fn cargo() -> String {
    env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned())
}

fn announce(name: &str, what: &str) {
    println!("==> {name}: {what}");
}

fn step_failed(name: &str, detail: &str) -> String {
    format!("step `{name}` failed: {detail}")
}

fn display(program: &str, args: &[&str]) -> String {
    std::iter::once(program)
        .chain(args.iter().copied())
        .collect::<Vec<_>>()
        .join(" ")
}

fn describe(status: ExitStatus) -> String {
    match status.code() {
        Some(code) => format!("exited with status {code}"),
        None => "was killed by a signal".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_messages_name_the_step_and_command() {
        let message = step_failed(
            "fmt",
            &format!("`{}` exited with status 1", display("cargo", &["fmt", "--all"])),
        );
        assert_eq!(message, "step `fmt` failed: `cargo fmt --all` exited with status 1");
    }

    #[test]
    fn golden_args_forward_the_verb() {
        assert_eq!(
            display("cargo", &golden_args("accept")),
            "cargo run --quiet --locked -p contextos-cli -- golden accept"
        );
    }
}
