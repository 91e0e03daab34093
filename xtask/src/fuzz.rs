//! `cargo xtask fuzz [--time S] [--runs N] [TARGET...]`: runs the
//! coverage-guided fuzz targets of `fuzz/` (cargo-fuzz, libFuzzer) one after
//! another, each seeded with the repository's own files (`fuzz/seeds.txt`,
//! written by `contextos-fuzz`'s `fuzz-seeds`), and prints executions and
//! executions per second per target.
//!
//! cargo-fuzz passes `-Z` flags to rustc, which the stable toolchain accepts
//! with `RUSTC_BOOTSTRAP=1`. Targets build with debug assertions (overflow
//! checks) and no sanitizer: the workspace forbids `unsafe`, so a crash is a
//! panic, which needs no sanitizer to be seen.

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Executions per target when neither `--time` nor `--runs` is given.
const DEFAULT_RUNS: u64 = 1_000_000;

/// What to fuzz and for how long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FuzzArgs {
    /// Seconds per target (libFuzzer's `-max_total_time`), if limited.
    pub time: Option<u64>,
    /// Executions per target (libFuzzer's `-runs`), if limited.
    pub runs: Option<u64>,
    /// Targets to run; empty means all.
    pub targets: Vec<String>,
}

/// Parses the arguments after `fuzz`.
pub(crate) fn parse_args(args: &[String]) -> Result<FuzzArgs, String> {
    let mut parsed = FuzzArgs {
        time: None,
        runs: None,
        targets: Vec::new(),
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut number = |flag: &str| -> Result<u64, String> {
            let value = args.next().ok_or_else(|| format!("`{flag}` needs a number"))?;
            value
                .parse()
                .map_err(|_| format!("`{flag}` takes a whole number, got `{value}`"))
        };
        match arg.as_str() {
            "--time" => parsed.time = Some(number("--time")?),
            "--runs" => parsed.runs = Some(number("--runs")?),
            flag if flag.starts_with('-') => {
                return Err(format!(
                    "unknown flag `{flag}`; usage: cargo xtask fuzz [--time S] [--runs N] [TARGET...]"
                ));
            }
            target => parsed.targets.push(target.to_owned()),
        }
    }
    if parsed.time.is_none() && parsed.runs.is_none() {
        parsed.runs = Some(DEFAULT_RUNS);
    }
    Ok(parsed)
}

/// The fuzz targets: the `[[bin]]` names of `fuzz/Cargo.toml`, in order.
pub(crate) fn target_names(manifest: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut in_bin = false;
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_bin = line == "[[bin]]";
            continue;
        }
        if let Some(value) = line
            .strip_prefix("name")
            .map(str::trim_start)
            .and_then(|r| r.strip_prefix('='))
            && in_bin
        {
            names.push(value.trim().trim_matches('"').to_owned());
        }
    }
    names
}

/// libFuzzer's final statistics of one run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Stats {
    /// `stat::number_of_executed_units`.
    pub executions: Option<u64>,
    /// `stat::average_exec_per_sec`.
    pub exec_per_sec: Option<u64>,
}

impl Stats {
    /// Reads one line of libFuzzer's output (`-print_final_stats=1`).
    pub(crate) fn read_line(&mut self, line: &str) {
        let value = |prefix: &str| line.strip_prefix(prefix).and_then(|v| v.trim().parse().ok());
        if let Some(n) = value("stat::number_of_executed_units:") {
            self.executions = Some(n);
        } else if let Some(n) = value("stat::average_exec_per_sec:") {
            self.exec_per_sec = Some(n);
        }
    }
}

/// Runs the fuzz targets of the repository at `root`.
pub(crate) fn run(root: &Path, args: &FuzzArgs) -> Result<(), String> {
    let manifest = root.join("fuzz/Cargo.toml");
    let manifest = fs::read_to_string(&manifest).map_err(|e| format!("failed to read {}: {e}", manifest.display()))?;
    let all = target_names(&manifest);
    let targets = if args.targets.is_empty() {
        all.clone()
    } else {
        args.targets.clone()
    };
    if let Some(unknown) = targets.iter().find(|t| !all.contains(t)) {
        return Err(format!(
            "no fuzz target `{unknown}`; the targets are: {}",
            all.join(", ")
        ));
    }
    ensure_cargo_fuzz(root)?;
    let corpus = root.join("fuzz/corpus");
    let status = Command::new(cargo())
        .current_dir(root)
        .args(["run", "-q", "-p", "contextos-fuzz", "--bin", "fuzz-seeds", "--"])
        .arg(&corpus)
        .status()
        .map_err(|e| format!("failed to run fuzz-seeds: {e}"))?;
    if !status.success() {
        return Err("writing the seed corpus failed (fuzz-seeds above)".to_owned());
    }
    let mut results = Vec::new();
    for target in &targets {
        println!("==> fuzz {target}");
        results.push((target.clone(), fuzz_target(root, target, args)?));
    }
    println!("\n{:<16} {:>12} {:>10}  result", "target", "executions", "exec/s");
    let mut failed = Vec::new();
    for (target, (stats, ok)) in &results {
        let shown = |n: Option<u64>| n.map_or_else(|| "?".to_owned(), |n| n.to_string());
        let result = if *ok { "no crash" } else { "CRASH" };
        println!(
            "{target:<16} {:>12} {:>10}  {result}",
            shown(stats.executions),
            shown(stats.exec_per_sec)
        );
        if !ok {
            failed.push(target.as_str());
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "fuzzing found crashes in {}: the inputs are under fuzz/artifacts/<target>/; fix the bug and \
             commit each input under fuzz/regressions/<target>/ (the corpus tests replay it)",
            failed.join(", ")
        ))
    }
}

/// Fuzzes one target; `(stats, whether it ran without a crash)`.
fn fuzz_target(root: &Path, target: &str, args: &FuzzArgs) -> Result<(Stats, bool), String> {
    let artifacts = root.join("fuzz/artifacts").join(target);
    fs::create_dir_all(&artifacts).map_err(|e| format!("failed to create {}: {e}", artifacts.display()))?;
    let mut libfuzzer = vec!["-print_final_stats=1".to_owned()];
    libfuzzer.push(format!("-artifact_prefix={}/", artifacts.display()));
    if let Some(time) = args.time {
        libfuzzer.push(format!("-max_total_time={time}"));
    }
    if let Some(runs) = args.runs {
        libfuzzer.push(format!("-runs={runs}"));
    }
    let mut child = Command::new(cargo())
        .current_dir(root)
        .env("RUSTC_BOOTSTRAP", "1")
        .args(["fuzz", "run", "--release", "--debug-assertions", "--sanitizer", "none"])
        .arg("--target-dir")
        .arg(fuzz_target_dir(root))
        .arg(target)
        .arg(root.join("fuzz/corpus").join(target))
        .arg("--")
        .args(&libfuzzer)
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("failed to run cargo fuzz: {e}"))?;
    let mut stats = Stats::default();
    if let Some(stderr) = child.stderr.take() {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            eprintln!("{line}");
            stats.read_line(&line);
        }
    }
    let status = child
        .wait()
        .map_err(|e| format!("failed to wait for cargo fuzz: {e}"))?;
    Ok((stats, status.success()))
}

/// Installs cargo-fuzz when `cargo fuzz` is not there.
fn ensure_cargo_fuzz(root: &Path) -> Result<(), String> {
    let present = Command::new(cargo())
        .current_dir(root)
        .args(["fuzz", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if present {
        return Ok(());
    }
    println!("==> install cargo-fuzz (cargo install cargo-fuzz --locked)");
    let status = Command::new(cargo())
        .args(["install", "cargo-fuzz", "--locked"])
        .status()
        .map_err(|e| format!("failed to run cargo install: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err("`cargo install cargo-fuzz --locked` failed".to_owned())
    }
}

/// The instrumented builds live apart from the workspace's: under
/// `$CARGO_TARGET_DIR/fuzz` (or `target/fuzz`).
fn fuzz_target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| root.join("target"), PathBuf::from)
        .join("fuzz")
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|a| (*a).to_owned()).collect()
    }

    #[test]
    fn arguments_default_to_a_million_runs_of_every_target() {
        let args = parse_args(&[]).unwrap();
        assert_eq!(args.runs, Some(DEFAULT_RUNS));
        assert_eq!(args.time, None);
        assert!(args.targets.is_empty());
        let args = parse_args(&strings(&["--time", "60", "pack", "mcp"])).unwrap();
        assert_eq!((args.time, args.runs), (Some(60), None));
        assert_eq!(args.targets, ["pack", "mcp"]);
        assert!(
            parse_args(&strings(&["--time", "soon"]))
                .unwrap_err()
                .contains("`soon`")
        );
        assert!(parse_args(&strings(&["--jobs", "2"])).unwrap_err().contains("--jobs"));
    }

    #[test]
    fn targets_are_the_bins_of_the_fuzz_manifest() {
        let manifest = "[package]\nname = \"contextos-fuzz-targets\"\n\n[[bin]]\nname = \"pack\"\npath = \
                        \"fuzz_targets/pack.rs\"\n\n[[bin]]\nname = \"mcp\"\n";
        assert_eq!(target_names(manifest), ["pack", "mcp"]);
        let shipped = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/Cargo.toml")).unwrap();
        assert!(target_names(&shipped).contains(&"document".to_owned()));
    }

    #[test]
    fn final_stats_are_read_from_libfuzzer_output() {
        let mut stats = Stats::default();
        for line in [
            "#1000000\tDONE   cov: 4107 ft: 12000 corp: 900/80Kb exec/s: 8000",
            "stat::number_of_executed_units: 1000000",
            "stat::average_exec_per_sec:     8000",
            "stat::new_units_added:          12",
        ] {
            stats.read_line(line);
        }
        assert_eq!(
            stats,
            Stats {
                executions: Some(1_000_000),
                exec_per_sec: Some(8000)
            }
        );
    }
}
