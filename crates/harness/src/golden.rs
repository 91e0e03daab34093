//! Goldens: each case's signed replay packet, committed under
//! `goldens/<suite>/<case>.packet.json`. A golden fails when the run's
//! behaviour differs (see [`Behaviour`]); provenance changes are reported
//! apart. `GoldenMode::Exact` compares bytes. A mismatch shows a readable
//! diff of the two behaviour views.

use std::path::{Path, PathBuf};

use contextos_core::ReplayPacket;
use contextos_trust::{Keyring, SignedEnvelope};
use similar::TextDiff;

use crate::behaviour::{Behaviour, ProvenanceChange, provenance_changes};
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

/// How goldens are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GoldenMode {
    /// Fail on a change of behaviour; report provenance changes apart.
    #[default]
    Behaviour,
    /// Fail on any byte difference (for refactors that must change nothing).
    Exact,
}

/// The result of comparing a run's packet with its golden.
#[derive(Debug, Clone, PartialEq)]
pub enum GoldenComparison {
    /// Byte for byte the same.
    Identical,
    /// Same behaviour; only provenance (digests, ids) or encoding differs.
    ProvenanceOnly(Vec<ProvenanceChange>),
    /// The behaviour differs: a unified diff of the behaviour views (golden first).
    BehaviourChanged(String),
}

/// What the goldens of a suite said.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GoldenCheck {
    /// Goldens that fail.
    pub mismatches: Vec<GoldenMismatch>,
    /// Cases whose behaviour matches but whose provenance changed (information).
    pub provenance: Vec<(String, Vec<ProvenanceChange>)>,
}

fn verified_packet(bytes: &[u8], keyring: &Keyring) -> Option<ReplayPacket> {
    let envelope = serde_json::from_slice::<SignedEnvelope>(bytes).ok()?;
    keyring.verify_as(&envelope, &envelope.payload_type).ok()
}

fn pretty_payload(bytes: &[u8], keyring: &Keyring) -> String {
    match verified_packet(bytes, keyring) {
        Some(packet) => serde_json::to_string_pretty(&packet).unwrap_or_default(),
        None => format!("(not a verifiable signed packet: {} bytes)", bytes.len()),
    }
}

fn unified(old: &str, new: &str) -> String {
    TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header("golden", "this run")
        .to_string()
}

/// Compares a run's signed packet with its golden. Both must verify against
/// `keyring`; one that does not is a behaviour change (shown whole).
pub fn compare_packets(golden: &[u8], run: &[u8], keyring: &Keyring, mode: GoldenMode) -> GoldenComparison {
    if golden == run {
        return GoldenComparison::Identical;
    }
    let (Some(old), Some(new)) = (verified_packet(golden, keyring), verified_packet(run, keyring)) else {
        return GoldenComparison::BehaviourChanged(unified(
            &pretty_payload(golden, keyring),
            &pretty_payload(run, keyring),
        ));
    };
    let (old_view, new_view) = (Behaviour::of(&old), Behaviour::of(&new));
    if mode == GoldenMode::Exact || old_view != new_view {
        let diff = if old_view == new_view {
            let whole = |p: &ReplayPacket| serde_json::to_string_pretty(p).unwrap_or_default();
            unified(&whole(&old), &whole(&new))
        } else {
            unified(&old_view.pretty(), &new_view.pretty())
        };
        return GoldenComparison::BehaviourChanged(if diff.trim().is_empty() {
            "payloads are equal; the signature or encoding differs".to_string()
        } else {
            diff
        });
    }
    GoldenComparison::ProvenanceOnly(provenance_changes(&old, &new))
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
pub fn accept_goldens(runs: &[CaseRun], suite: &str, goldens: &Path) -> Result<Vec<PathBuf>, HarnessError> {
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
        std::fs::write(&path, bytes).map_err(|e| HarnessError::io("write", &path, e))?;
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
