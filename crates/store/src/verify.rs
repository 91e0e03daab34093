//! `Store::verify`: re-check every object, signed envelope, run index entry
//! and the evidence chain, and report every problem found.

use std::ffi::OsString;
use std::fs::{self, FileType};
use std::io;
use std::path::Path;

use contextos_core::Digest;
use contextos_trust::{EvidenceError, Keyring, SignedEnvelope, verify_log};
use serde::Serialize;
use serde_json::Value;

use crate::error::{StoreError, io_error};
use crate::runs::{MAX_RUN_ENTRY_BYTES, parse_entry, run_id_of_file_name};
use crate::store::{
    EVIDENCE_HEAD, EVIDENCE_LOG, MAX_OBJECT_BYTES, OBJECTS_DIR, RUNS_DIR, ReadError, Store, read_bounded,
};

/// What [`Store::verify`] found. Callers exit with the verification code (3)
/// when `problems` is not empty.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct StoreReport {
    /// Object files with a well-formed name (each re-hashed).
    pub objects: u64,
    /// Objects that are signed envelopes (each verified against the keyring).
    pub envelopes: u64,
    /// Run index entries that parsed.
    pub runs: u64,
    /// Entries of the evidence log (0 when there is no log).
    pub evidence_entries: u64,
    /// Temporary files left by an interrupted write (names starting with
    /// `.`): garbage, never content, so not problems.
    pub orphans: u64,
    /// Everything that did not verify, in path order within each part
    /// (objects, runs, evidence log).
    pub problems: Vec<StoreProblem>,
    /// What a killed writer left that the next [`Store::open`] repairs (an
    /// evidence-log tail its head file does not acknowledge yet, a torn
    /// final line): not tampering, so not problems.
    pub warnings: Vec<StoreProblem>,
}

impl StoreReport {
    /// Whether everything verified.
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }

    fn problem(&mut self, path: impl Into<String>, what: impl Into<String>) {
        self.problems.push(StoreProblem {
            path: path.into(),
            what: what.into(),
        });
    }
}

/// One thing in the store that did not verify.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StoreProblem {
    /// The file, relative to the store directory with `/` separators
    /// (`objects/ab/ab12…`, `runs/run-0001.json`, `evidence.log`).
    pub path: String,
    /// What is wrong with it.
    pub what: String,
}

/// One directory entry, without following symlinks.
struct Listed {
    name: OsString,
    file_type: FileType,
}

impl Listed {
    fn display_name(&self) -> String {
        self.name.to_string_lossy().into_owned()
    }

    /// A temporary file of `write_file_atomically` left by a crash (and
    /// anything else hidden, which the store never writes as content).
    fn is_leftover(&self) -> bool {
        self.name.as_encoded_bytes().starts_with(b".")
    }
}

/// The entries of `dir`, sorted by name; `None` when it does not exist.
fn list_dir(dir: &Path) -> io::Result<Option<Vec<Listed>>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut listed = Vec::new();
    for entry in entries {
        let entry = entry?;
        listed.push(Listed {
            name: entry.file_name(),
            file_type: entry.file_type()?,
        });
    }
    listed.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Some(listed))
}

fn is_shard_name(name: &str) -> bool {
    name.len() == 2 && name.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn read_problem(error: ReadError, limit: u64) -> String {
    match error {
        ReadError::Missing => "removed while verifying".to_owned(),
        ReadError::NotAFile => "not a regular file".to_owned(),
        ReadError::TooLarge(size) => format!("{size} bytes, over the {limit}-byte limit: not read"),
        ReadError::Io(e) => format!("cannot read: {e}"),
    }
}

/// The envelope in an object that claims to be one (a JSON object with a
/// `payloadType` field), or `None` for any other object. A claim that does
/// not parse as an envelope is a problem rather than a plain blob, so an
/// extra field cannot hide an envelope from verification.
fn envelope_in(bytes: &[u8]) -> Option<Result<SignedEnvelope, String>> {
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return None;
    }
    let value: Value = serde_json::from_slice(bytes).ok()?;
    if !value.as_object()?.contains_key("payloadType") {
        return None;
    }
    Some(serde_json::from_value(value).map_err(|e| e.to_string()))
}

impl Store {
    /// Verifies the whole store and reports every problem, not just the
    /// first: each object must hash to its name; each object that is a
    /// signed envelope must verify with `keyring` for its own payload type;
    /// each run index entry must parse and name stored packet and record
    /// objects; the evidence log, if there is one, must verify as a chain
    /// against its head file. Crash leftovers are counted as orphans.
    ///
    /// An evidence-log tail a killed writer left unacknowledged is a warning
    /// (the next [`Store::open`] repairs it), not a problem. Holds the store
    /// lock shared, so it waits for a writer to finish and never sees a run
    /// halfway written.
    ///
    /// Only failing to read the store directory itself is an error.
    pub fn verify(&self, keyring: &Keyring) -> Result<StoreReport, StoreError> {
        let _lock = self.lock_for_reading()?;
        let root = list_dir(self.dir())
            .map_err(io_error("read run store", self.dir()))?
            .ok_or_else(|| StoreError::MissingStore {
                dir: self.dir().to_owned(),
                problem: "the directory does not exist",
            })?;
        let mut report = StoreReport {
            orphans: root.iter().filter(|entry| entry.is_leftover()).count() as u64,
            ..StoreReport::default()
        };
        self.verify_objects(keyring, &mut report);
        self.verify_runs(&mut report);
        self.verify_evidence(&mut report);
        Ok(report)
    }

    fn verify_objects(&self, keyring: &Keyring, report: &mut StoreReport) {
        let dir = self.objects_dir();
        let shards = match list_dir(&dir) {
            Ok(shards) => shards.unwrap_or_default(),
            Err(e) => return report.problem(OBJECTS_DIR, format!("cannot read directory: {e}")),
        };
        for shard in shards {
            let rel = format!("{OBJECTS_DIR}/{}", shard.display_name());
            if shard.is_leftover() {
                report.orphans += 1;
                continue;
            }
            let name = shard.name.to_str().filter(|name| is_shard_name(name));
            let (Some(name), true) = (name, shard.file_type.is_dir()) else {
                report.problem(
                    rel,
                    "unexpected entry: objects/ holds only directories named by two hex digits",
                );
                continue;
            };
            let objects = match list_dir(&dir.join(name)) {
                Ok(objects) => objects.unwrap_or_default(),
                Err(e) => {
                    report.problem(rel, format!("cannot read directory: {e}"));
                    continue;
                }
            };
            for object in objects {
                self.verify_object(keyring, name, &object, report);
            }
        }
    }

    fn verify_object(&self, keyring: &Keyring, shard: &str, object: &Listed, report: &mut StoreReport) {
        let rel = format!("{OBJECTS_DIR}/{shard}/{}", object.display_name());
        if object.is_leftover() {
            report.orphans += 1;
            return;
        }
        let expected = object
            .name
            .to_str()
            .filter(|name| name.starts_with(shard))
            .and_then(|name| format!("sha256:{name}").parse::<Digest>().ok());
        let Some(expected) = expected else {
            let what = "not a content-addressed object: its name must be the 64 lowercase hex digits of its sha256";
            return report.problem(rel, what);
        };
        report.objects += 1;
        if !object.file_type.is_file() {
            return report.problem(rel, "not a regular file");
        }
        let bytes = match read_bounded(&self.object_path(&expected), MAX_OBJECT_BYTES) {
            Ok(bytes) => bytes,
            Err(e) => return report.problem(rel, read_problem(e, MAX_OBJECT_BYTES)),
        };
        let actual = Digest::of_bytes(&bytes);
        if actual != expected {
            report.problem(
                &rel,
                format!("corrupted object: its bytes hash to {actual}, not its name"),
            );
        }
        match envelope_in(&bytes) {
            None => {}
            Some(Err(problem)) => {
                report.envelopes += 1;
                report.problem(rel, format!("malformed signed envelope: {problem}"));
            }
            Some(Ok(envelope)) => {
                report.envelopes += 1;
                if let Err(e) = keyring.verify(&envelope, &envelope.payload_type) {
                    report.problem(rel, format!("signed envelope does not verify: {e}"));
                }
            }
        }
    }

    fn verify_runs(&self, report: &mut StoreReport) {
        let dir = self.runs_dir();
        let entries = match list_dir(&dir) {
            Ok(entries) => entries.unwrap_or_default(),
            Err(e) => return report.problem(RUNS_DIR, format!("cannot read directory: {e}")),
        };
        for listed in entries {
            let rel = format!("{RUNS_DIR}/{}", listed.display_name());
            if listed.is_leftover() {
                report.orphans += 1;
                continue;
            }
            let Some(run_id) = listed.name.to_str().and_then(run_id_of_file_name) else {
                report.problem(rel, "not a run index entry: entries are named `<run_id>.json`");
                continue;
            };
            if !listed.file_type.is_file() {
                report.problem(rel, "not a regular file");
                continue;
            }
            let path = dir.join(&listed.name);
            let parsed = read_bounded(&path, MAX_RUN_ENTRY_BYTES)
                .map_err(|e| read_problem(e, MAX_RUN_ENTRY_BYTES))
                .and_then(|bytes| {
                    parse_entry(&path, run_id, &bytes).map_err(|p| format!("malformed run index entry: {p}"))
                });
            let entry = match parsed {
                Ok(entry) => entry,
                Err(what) => {
                    report.problem(rel, what);
                    continue;
                }
            };
            report.runs += 1;
            for (field, digest) in [("packet", &entry.packet), ("record", &entry.record)] {
                match self.has_object(digest) {
                    Ok(true) => {}
                    Ok(false) => {
                        report.problem(&rel, format!("run {run_id:?}: its {field} object {digest} is missing"))
                    }
                    Err(e) => report.problem(&rel, e.to_string()),
                }
            }
        }
    }

    fn verify_evidence(&self, report: &mut StoreReport) {
        let log = self.evidence_path();
        // A path that cannot even be looked up counts as present, so
        // `verify_log` reports why.
        let present =
            |path: &Path| !matches!(fs::symlink_metadata(path), Err(e) if e.kind() == io::ErrorKind::NotFound);
        if !present(&log) && !present(&self.dir().join(EVIDENCE_HEAD)) {
            return;
        }
        let repaired = "left by an interrupted write; the next `contextos run` (any write) repairs it";
        match verify_log(&log) {
            Ok(log_report) => report.evidence_entries = log_report.entries,
            Err(EvidenceError::Unacknowledged { recorded, found, .. }) => {
                report.evidence_entries = found;
                report.warnings.push(StoreProblem {
                    path: EVIDENCE_LOG.to_owned(),
                    what: format!(
                        "holds {found} entries but its head file acknowledges only {recorded}: an unacknowledged tail {repaired}"
                    ),
                });
            }
            Err(EvidenceError::TornLine { line, .. }) => {
                report.evidence_entries = line.saturating_sub(1);
                report.warnings.push(StoreProblem {
                    path: EVIDENCE_LOG.to_owned(),
                    what: format!("line {line} is incomplete (no trailing newline): a torn final line {repaired}"),
                });
            }
            Err(e) => report.problem(EVIDENCE_LOG, e.to_string()),
        }
    }
}
