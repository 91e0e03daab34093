//! Goldens: each case's signed replay packet, committed under
//! `goldens/<suite>/<case>.packet.json`. A golden fails when the run's
//! behaviour differs (see [`Behaviour`]); provenance changes are reported
//! apart. `GoldenMode::Exact` compares bytes. A mismatch shows a readable
//! diff of the two behaviour views.

use std::path::{Path, PathBuf};

use contextos_trust::Keyring;

use crate::behaviour::{GoldenComparison, GoldenMode, ProvenanceChange, compare_packets};
use crate::runner::{CaseRun, golden_path};
use crate::suite::HarnessError;

/// A golden that does not match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoldenMismatch {
    /// Case name.
    pub case: String,
    /// The golden file.
    pub path: PathBuf,
    /// Unified diff of the decoded packets (golden first), or why there is none.
    pub diff: String,
}

/// What the goldens of a suite said.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GoldenCheck {
    /// Goldens that fail.
    pub mismatches: Vec<GoldenMismatch>,
    /// Cases whose behaviour matches but whose provenance changed (information).
    pub provenance: Vec<(String, Vec<ProvenanceChange>)>,
}

/// Compares every run's packet with its golden.
pub fn check_goldens(
    runs: &[CaseRun],
    suite: &str,
    goldens: &Path,
    keyring: &Keyring,
    mode: GoldenMode,
) -> GoldenCheck {
    let mut out = GoldenCheck::default();
    for run in runs {
        let case = run.result.name.clone();
        let path = golden_path(goldens, suite, &case);
        let mismatch = |diff: String| GoldenMismatch {
            case: case.clone(),
            path: path.clone(),
            diff,
        };
        let Some(bytes) = &run.packet_bytes else {
            let diff = format!("the case did not run: {}", run.result.error.clone().unwrap_or_default());
            out.mismatches.push(mismatch(diff));
            continue;
        };
        let Ok(golden) = std::fs::read(&path) else {
            out.mismatches.push(mismatch(
                "no golden: run `contextos golden accept` (or `cargo xtask goldens --accept`) and review the diff"
                    .into(),
            ));
            continue;
        };
        match compare_packets(&golden, bytes, keyring, mode) {
            GoldenComparison::Identical => {}
            GoldenComparison::ProvenanceOnly(changes) => out.provenance.push((case, changes)),
            GoldenComparison::BehaviourChanged(diff) => out.mismatches.push(mismatch(diff)),
        }
    }
    out
}

/// Writes every run's packet as its golden; returns the files written (unchanged ones skipped).
/// Refuses, before writing any, a golden that is a symbolic link or whose
/// directory resolves outside `goldens` (which is created when missing).
pub fn accept_goldens(runs: &[CaseRun], suite: &str, goldens: &Path) -> Result<Vec<PathBuf>, HarnessError> {
    std::fs::create_dir_all(goldens).map_err(|e| HarnessError::io("create", goldens, e))?;
    for run in runs {
        let path = golden_path(goldens, suite, &run.result.name);
        contextos_fs::check_inside(goldens, &path).map_err(|e| HarnessError::io("write", &path, e))?;
    }
    let mut written = Vec::new();
    for run in runs {
        let Some(bytes) = &run.packet_bytes else {
            return Err(HarnessError::Usage(format!(
                "case {} did not run ({}); fix it before accepting goldens",
                run.result.name,
                run.result.error.clone().unwrap_or_default()
            )));
        };
        let path = golden_path(goldens, suite, &run.result.name);
        if std::fs::read(&path).ok().as_ref() == Some(bytes) {
            continue;
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| HarnessError::io("create", dir, e))?;
        }
        // Atomic: a killed `golden accept` leaves the old golden or the new one.
        let options = contextos_fs::AtomicWrite {
            replace: true,
            secret: false,
        };
        contextos_fs::write_file_atomically(&path, bytes, options).map_err(|e| HarnessError::io("write", &path, e))?;
        written.push(path);
    }
    Ok(written)
}

/// Golden files of `suite` that no case produces any more.
pub fn stale_goldens(runs: &[CaseRun], suite: &str, goldens: &Path) -> Vec<PathBuf> {
    let dir = goldens.join(suite);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut stale: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            name.strip_suffix(".packet.json")
                .is_some_and(|case| !runs.iter().any(|r| r.result.name == case))
        })
        .collect();
    stale.sort();
    stale
}
