//! Goldens: each case's signed replay packet, committed under
//! `goldens/<suite>/<case>.packet.json`; a mismatch shows a readable diff of
//! the two documents.

use std::path::{Path, PathBuf};

use contextos_trust::{Keyring, SignedEnvelope};
use similar::TextDiff;

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

fn pretty_payload(bytes: &[u8], keyring: &Keyring) -> String {
    let decoded = serde_json::from_slice::<SignedEnvelope>(bytes)
        .ok()
        .and_then(|env| keyring.verify(&env, &env.payload_type).ok())
        .and_then(|payload| serde_json::from_slice::<serde_json::Value>(&payload).ok());
    match decoded {
        Some(v) => serde_json::to_string_pretty(&v).unwrap_or_default(),
        None => format!("(not a verifiable signed packet: {} bytes)", bytes.len()),
    }
}

/// Compares every run's packet with its golden.
pub fn check_goldens(runs: &[CaseRun], suite: &str, goldens: &Path, keyring: &Keyring) -> Vec<GoldenMismatch> {
    let mut out = Vec::new();
    for run in runs {
        let path = golden_path(goldens, suite, &run.result.name);
        let Some(bytes) = &run.packet_bytes else {
            out.push(GoldenMismatch {
                case: run.result.name.clone(),
                path,
                diff: format!("the case did not run: {}", run.result.error.clone().unwrap_or_default()),
            });
            continue;
        };
        match std::fs::read(&path) {
            Err(_) => out.push(GoldenMismatch {
                case: run.result.name.clone(),
                path,
                diff:
                    "no golden: run `contextos golden accept` (or `cargo xtask goldens --accept`) and review the diff"
                        .into(),
            }),
            Ok(golden) if &golden == bytes => {}
            Ok(golden) => {
                let (old, new) = (pretty_payload(&golden, keyring), pretty_payload(bytes, keyring));
                let diff = TextDiff::from_lines(&old, &new)
                    .unified_diff()
                    .context_radius(3)
                    .header("golden", "this run")
                    .to_string();
                let diff = if diff.trim().is_empty() {
                    "payloads are equal; the signature or encoding differs".to_string()
                } else {
                    diff
                };
                out.push(GoldenMismatch {
                    case: run.result.name.clone(),
                    path,
                    diff,
                });
            }
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
