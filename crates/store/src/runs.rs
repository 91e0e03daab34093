//! The run index: `runs/<run_id>.json`, one canonical-JSON entry per run.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use contextos_core::{Digest, FORMAT_VERSION, RunOutcome, Timestamp, canonical_json, parse_json};
use contextos_fs::{AtomicWrite, write_file_atomically};
use serde::{Deserialize, Serialize};

use crate::error::{StoreError, io_error};
use crate::store::{ReadError, Store, read_bounded};
use crate::suggest::{SUGGESTIONS, closest_ids};

/// Run ids are file names; longer ones are refused.
const MAX_RUN_ID_CHARS: usize = 128;

/// A run index entry is a few hundred bytes; anything much larger is not one.
pub(crate) const MAX_RUN_ENTRY_BYTES: u64 = 64 * 1024;

const ENTRY_SUFFIX: &str = ".json";

/// What the store knows about one run: where its replay packet and signed
/// decision record are, and enough to list and find it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunIndexEntry {
    /// The format version ([`FORMAT_VERSION`]).
    pub format_version: u32,
    /// The run id: 1 to 128 of `A-Z a-z 0-9 _ - .`, not starting with `.`.
    pub run_id: String,
    /// The replay packet object.
    pub packet: Digest,
    /// The signed decision record object.
    pub record: Digest,
    /// How the run ended.
    pub outcome: RunOutcome,
    /// The W3C trace id of the run.
    pub trace_id: String,
    /// When the run was recorded (from the caller's clock).
    pub created_at: Timestamp,
    /// The run this one replays, if it is a replay.
    pub replay_of: Option<String>,
}

/// Why `run_id` cannot name a run index file, or `None` if it can. The
/// character set keeps ids portable file names with no path separators, and
/// the leading-dot rule keeps them apart from crash leftovers.
pub(crate) fn run_id_problem(run_id: &str) -> Option<String> {
    if run_id.is_empty() {
        return Some("a run id may not be empty".to_owned());
    }
    if run_id.chars().count() > MAX_RUN_ID_CHARS {
        return Some(format!("a run id may be at most {MAX_RUN_ID_CHARS} characters"));
    }
    if run_id.starts_with('.') {
        return Some("a run id may not start with '.'".to_owned());
    }
    if let Some(c) = run_id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
    {
        return Some(format!(
            "character {c:?} is not allowed: use A-Z, a-z, 0-9, '_', '-' and '.'"
        ));
    }
    None
}

/// The run id an index file name stands for, if it is one.
pub(crate) fn run_id_of_file_name(name: &str) -> Option<&str> {
    name.strip_suffix(ENTRY_SUFFIX)
        .filter(|run_id| run_id_problem(run_id).is_none())
}

/// Parses a run index file's bytes; the problem does not repeat the path.
pub(crate) fn parse_entry(path: &Path, run_id: &str, bytes: &[u8]) -> Result<RunIndexEntry, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| format!("not UTF-8: {e}"))?;
    let entry: RunIndexEntry = parse_json(&path.display().to_string(), text).map_err(|e| match (e.line, e.column) {
        (Some(line), Some(column)) => format!("line {line}, column {column}: {}", e.message),
        _ => e.message,
    })?;
    if entry.format_version != FORMAT_VERSION {
        return Err(format!(
            "unsupported format_version {}, expected {FORMAT_VERSION}",
            entry.format_version
        ));
    }
    if entry.run_id != run_id {
        return Err(format!(
            "it records run {:?} but its file name says {run_id:?}",
            entry.run_id
        ));
    }
    Ok(entry)
}

/// Reads and parses a run index file; `Ok(None)` when there is none.
fn read_entry(path: &Path, run_id: &str) -> Result<Option<RunIndexEntry>, StoreError> {
    let Some(bytes) = read_entry_bytes(path)? else {
        return Ok(None);
    };
    parse_entry(path, run_id, &bytes)
        .map(Some)
        .map_err(|problem| StoreError::MalformedRun {
            path: path.to_owned(),
            problem,
        })
}

/// The bytes of a run index file; `Ok(None)` when there is none.
pub(crate) fn read_entry_bytes(path: &Path) -> Result<Option<Vec<u8>>, StoreError> {
    match read_bounded(path, MAX_RUN_ENTRY_BYTES) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(ReadError::Missing) => Ok(None),
        Err(ReadError::NotAFile) => Err(StoreError::NotAFile { path: path.to_owned() }),
        Err(ReadError::TooLarge(size)) => Err(StoreError::MalformedRun {
            path: path.to_owned(),
            problem: format!("{size} bytes, over the {MAX_RUN_ENTRY_BYTES}-byte limit for an entry"),
        }),
        Err(ReadError::Io(e)) => Err(io_error("read run index entry", path)(e)),
    }
}

impl Store {
    /// The index file of a run: `runs/<run_id>.json`. Only meaningful for a
    /// valid run id.
    fn run_path(&self, run_id: &str) -> PathBuf {
        self.runs_dir().join(format!("{run_id}{ENTRY_SUFFIX}"))
    }

    /// Records a run's index entry (canonical JSON, crash-safe). The packet
    /// and record objects must be stored first, so a crash never leaves an
    /// entry pointing at nothing. Recording the identical entry again is a
    /// no-op; a different entry under an existing run id is an input error.
    pub fn put_run(&self, entry: &RunIndexEntry) -> Result<(), StoreError> {
        let run_id = &entry.run_id;
        let invalid = |problem: String| StoreError::InvalidRunEntry {
            run_id: run_id.clone(),
            problem,
        };
        if let Some(problem) = run_id_problem(run_id) {
            return Err(invalid(problem));
        }
        if entry.format_version != FORMAT_VERSION {
            let version = entry.format_version;
            return Err(invalid(format!(
                "unsupported format_version {version}, expected {FORMAT_VERSION}"
            )));
        }
        for (field, digest) in [("packet", &entry.packet), ("record", &entry.record)] {
            if !self.has_object(digest)? {
                return Err(invalid(format!(
                    "its {field} object {digest} is not in the store; put objects before the entry that names them"
                )));
            }
        }
        let bytes = canonical_json(entry).map_err(|source| StoreError::Canonical {
            run_id: run_id.clone(),
            source,
        })?;
        let path = self.run_path(run_id);
        let same_or_exists = |existing: Vec<u8>| {
            if existing == bytes {
                Ok(())
            } else {
                Err(StoreError::RunExists {
                    run_id: run_id.clone(),
                    path: path.clone(),
                })
            }
        };
        if let Some(existing) = read_entry_bytes(&path)? {
            return same_or_exists(existing);
        }
        let options = AtomicWrite {
            replace: false,
            secret: false,
        };
        match write_file_atomically(&path, &bytes, options) {
            Ok(()) => Ok(()),
            // Another writer recorded this run id first.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => match read_entry_bytes(&path)? {
                Some(existing) => same_or_exists(existing),
                None => Err(io_error("write run index entry", &path)(e)),
            },
            Err(e) => Err(io_error("write run index entry", &path)(e)),
        }
    }

    /// The index entry of `run_id`. An unknown id is an input error that
    /// suggests up to five similar run ids.
    pub fn get_run(&self, run_id: &str) -> Result<RunIndexEntry, StoreError> {
        if run_id_problem(run_id).is_none()
            && let Some(entry) = read_entry(&self.run_path(run_id), run_id)?
        {
            return Ok(entry);
        }
        let known = self.run_ids()?;
        Err(StoreError::UnknownRun {
            run_id: run_id.to_owned(),
            runs_dir: self.runs_dir(),
            closest: closest_ids(run_id, &known, SUGGESTIONS),
            runs: known.len(),
        })
    }

    /// Like [`Store::get_run`], but `Ok(None)` for an unknown id.
    pub(crate) fn find_run(&self, run_id: &str) -> Result<Option<RunIndexEntry>, StoreError> {
        if run_id_problem(run_id).is_some() {
            return Ok(None);
        }
        read_entry(&self.run_path(run_id), run_id)
    }

    /// Every run index entry, sorted by `(created_at, run_id)`. The first
    /// malformed entry is an error ([`Store::verify`] reports them all).
    pub fn list_runs(&self) -> Result<Vec<RunIndexEntry>, StoreError> {
        let mut entries = Vec::new();
        for run_id in self.run_ids()? {
            if let Some(entry) = read_entry(&self.run_path(&run_id), &run_id)? {
                entries.push(entry);
            }
        }
        entries.sort_by(|a, b| (a.created_at, &a.run_id).cmp(&(b.created_at, &b.run_id)));
        Ok(entries)
    }

    /// The run ids of the index, sorted: file names `<run_id>.json` with a
    /// valid run id. Crash leftovers (`.` names) and stray files are skipped.
    pub(crate) fn run_ids(&self) -> Result<Vec<String>, StoreError> {
        let dir = self.runs_dir();
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_error("read run index", &dir)(e)),
        };
        let mut ids = Vec::new();
        for entry in entries {
            let entry = entry.map_err(io_error("read run index", &dir))?;
            if let Some(run_id) = entry.file_name().to_str().and_then(run_id_of_file_name) {
                ids.push(run_id.to_owned());
            }
        }
        ids.sort();
        Ok(ids)
    }
}
