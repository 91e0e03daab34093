//! `cargo xtask crash [KILLS]` (also a step of `cargo xtask test`): kills
//! `contextos run` with SIGKILL at seeded random points and checks the store
//! each crash leaves: `verify` passes (an unacknowledged evidence tail is a
//! warning, not tampering), every run whose process finished is listed, and
//! re-running every killed run leaves no leftovers and no duplicate evidence.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::thread;
use std::time::Instant;

/// Kills per `cargo xtask test`.
pub(crate) const DEFAULT_KILLS: u32 = 50;
/// The seed of the kill points: the same kills every time.
const SEED: u64 = 0x5eed_c0de_0013_0001;
/// Distinct run ids; kills cycle through them, so killed runs are re-run.
const RUN_IDS: usize = 6;
/// `verify` runs after every this many kills (and at the end).
const VERIFY_EVERY: u32 = 10;
/// Evidence-log entries one run of the bundled request appends.
const ENTRIES_PER_RUN: usize = 5;
const REQUEST: &str = "runtime/examples/escalation/request.yaml";
const FIXTURES: &str = "runtime/examples/escalation/fixtures";

/// xorshift64*: seeded, so a failing kill sequence repeats.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A fraction in [0, 1).
    #[expect(clippy::cast_precision_loss, reason = "53 bits are exact in an f64")]
    fn fraction(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The target directory cargo builds into.
fn target_dir(root: &Path) -> PathBuf {
    match env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => root.join(dir),
        None => root.join("target"),
    }
}

struct Harness {
    root: PathBuf,
    bin: PathBuf,
    store: PathBuf,
    requests: Vec<PathBuf>,
}

impl Harness {
    fn run_command(&self, run: usize) -> Command {
        let mut command = Command::new(&self.bin);
        command
            .current_dir(&self.root)
            .arg("run")
            .arg(&self.requests[run])
            .arg("--fixtures")
            .arg(self.root.join(FIXTURES))
            .arg("--store")
            .arg(&self.store)
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        command
    }

    fn run_to_completion(&self, run: usize) -> Result<(), String> {
        let out = self
            .run_command(run)
            .output()
            .map_err(|e| format!("cannot start contextos: {e}"))?;
        if out.status.success() {
            return Ok(());
        }
        Err(format!(
            "re-running {} after the kills failed ({}): {}",
            run_id(run),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ))
    }

    fn verify(&self) -> Result<Output, String> {
        let out = Command::new(&self.bin)
            .current_dir(&self.root)
            .args(["verify", "--store"])
            .arg(&self.store)
            .output()
            .map_err(|e| format!("cannot start contextos verify: {e}"))?;
        if out.status.success() {
            return Ok(out);
        }
        Err(format!(
            "verify exited {} on the store a kill left ({}):\n{}{}",
            out.status,
            self.store.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }

    /// Every run whose process finished is in the run index.
    fn check_acknowledged(&self, finished: &[bool]) -> Result<(), String> {
        for (run, _) in finished.iter().enumerate().filter(|(_, done)| **done) {
            let entry = self.store.join("runs").join(format!("{}.json", run_id(run)));
            if !entry.is_file() {
                return Err(format!("{} finished but {} is missing", run_id(run), entry.display()));
            }
        }
        Ok(())
    }
}

fn run_id(run: usize) -> String {
    format!("run_crash_{run}")
}

/// Kills `kills` runs of the built `contextos` and checks the store after them.
pub(crate) fn run(root: &Path, kills: u32) -> Result<(), String> {
    let started = Instant::now();
    let work = target_dir(root).join("crash-test");
    if work.exists() {
        fs::remove_dir_all(&work).map_err(|e| format!("cannot clear {}: {e}", work.display()))?;
    }
    fs::create_dir_all(&work).map_err(|e| format!("cannot create {}: {e}", work.display()))?;
    let text = fs::read_to_string(root.join(REQUEST)).map_err(|e| format!("cannot read {REQUEST}: {e}"))?;
    let mut requests = Vec::new();
    for run in 0..RUN_IDS {
        let path = work.join(format!("{}.yaml", run_id(run)));
        let changed = text.replace("run_id: run_escalation_4411", &format!("run_id: {}", run_id(run)));
        fs::write(&path, changed).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        requests.push(path);
    }
    let harness = Harness {
        root: root.to_owned(),
        bin: target_dir(root).join("debug/contextos"),
        store: work.join("store"),
        requests,
    };
    // How long a whole run takes here. Kills land from 40% of it (the
    // deployment is loaded by then) to a bit past it (the run finished).
    let timed = Instant::now();
    harness.run_to_completion(0)?;
    let full = timed.elapsed();
    let mut finished = vec![false; RUN_IDS];
    finished[0] = true;
    let mut rng = Rng(SEED);
    let mut survived = 0;
    for kill in 1..=kills {
        let run = kill as usize % RUN_IDS;
        let delay = full.mul_f64(0.4 + 0.7 * rng.fraction());
        let mut child = harness
            .run_command(run)
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start contextos: {e}"))?;
        thread::sleep(delay);
        // Fails only when the process already exited; `wait` says how.
        drop(child.kill());
        let status = child.wait().map_err(|e| format!("cannot wait for contextos: {e}"))?;
        if status.success() {
            finished[run] = true;
            survived += 1;
        }
        harness.check_acknowledged(&finished)?;
        if kill % VERIFY_EVERY == 0 {
            harness.verify()?;
        }
    }
    harness.verify()?;
    for run in 0..RUN_IDS {
        harness.run_to_completion(run)?;
    }
    let out = harness.verify()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let expected = format!(" {RUN_IDS} runs, {} evidence entries", RUN_IDS * ENTRIES_PER_RUN);
    if !stdout.contains(&expected) || stdout.contains("leftover") || stderr.contains("warning") {
        return Err(format!(
            "after re-running every killed run the store should hold{expected}, no leftovers and no warnings:\n{stdout}{stderr}"
        ));
    }
    println!(
        "    crash ok: {kills} kills ({survived} runs finished first), store verified, in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Rng;

    #[test]
    fn the_kill_points_are_seeded_fractions() {
        let (mut a, mut b) = (Rng(super::SEED), Rng(super::SEED));
        let first: Vec<f64> = (0..100).map(|_| a.fraction()).collect();
        assert!(first.iter().all(|f| (0.0..1.0).contains(f)));
        assert_eq!(first, (0..100).map(|_| b.fraction()).collect::<Vec<_>>());
        assert!(first.windows(2).any(|w| w[0] != w[1]));
    }
}
