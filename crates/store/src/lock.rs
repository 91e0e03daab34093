//! The store lock, `<dir>/store.lock`: writers hold it exclusively for a
//! whole run's writes, [`Store::verify`] holds it shared, so concurrent runs
//! wait for each other and a verify reads a store no writer is halfway
//! through. Opening a store for writing also repairs what a killed writer
//! left behind.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::Path;

use contextos_trust::EvidenceLog;

use crate::error::{StoreError, io_error};
use crate::store::{EVIDENCE_HEAD, Store};

/// The lock file in the store directory. Not hidden, so it is never taken
/// for a crash leftover.
pub(crate) const LOCK_FILE: &str = "store.lock";

/// A held store lock; dropping it releases the lock.
#[derive(Debug)]
pub struct StoreLock {
    // The lock lives as long as the open file.
    _file: Option<File>,
}

/// Locks `file`, waiting for other holders. A file system without locks
/// still gets a working store (without the waiting).
fn lock(file: File, shared: bool, path: &Path) -> Result<StoreLock, StoreError> {
    let locked = if shared { file.lock_shared() } else { file.lock() };
    match locked {
        Ok(()) => Ok(StoreLock { _file: Some(file) }),
        Err(e) if e.kind() == io::ErrorKind::Unsupported => Ok(StoreLock { _file: None }),
        Err(e) => Err(io_error("lock run store", path)(e)),
    }
}

impl Store {
    /// Takes the store's write lock, waiting while another writer or a
    /// verify holds it. Every write to the store (objects, evidence log, run
    /// index) happens under it, so crash leftovers found while holding it
    /// are never another writer's work in progress.
    pub fn lock_for_writing(&self) -> Result<StoreLock, StoreError> {
        let path = self.dir().join(LOCK_FILE);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io_error("open store lock", &path))?;
        lock(file, false, &path)
    }

    /// Takes the store's lock shared, waiting while a writer holds it: a
    /// reader holding it sees every run either whole or not at all. A store
    /// that cannot hold a lock file (read-only, say) is read unlocked.
    pub(crate) fn lock_for_reading(&self) -> Result<StoreLock, StoreError> {
        let path = self.dir().join(LOCK_FILE);
        let opened = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .or_else(|_| File::open(&path));
        match opened {
            Ok(file) => lock(file, true, &path),
            Err(_) => Ok(StoreLock { _file: None }),
        }
    }

    /// Repairs what a killed writer can leave, holding the write lock:
    /// removes temporary files (hidden names) from the store directory,
    /// `objects/` and `runs/`, and reopens the evidence log, which drops a
    /// torn final line and acknowledges complete entries its head file does
    /// not count yet. A log that does not verify is left as it is, for
    /// `verify` to report and the next append to refuse.
    pub(crate) fn recover(&self, _lock: &StoreLock) -> Result<(), StoreError> {
        remove_leftovers(self.dir())?;
        remove_leftovers(&self.runs_dir())?;
        let objects = self.objects_dir();
        remove_leftovers(&objects)?;
        for shard in read_dir_names(&objects)? {
            let path = objects.join(&shard);
            if fs::symlink_metadata(&path).is_ok_and(|meta| meta.is_dir()) {
                remove_leftovers(&path)?;
            }
        }
        let log = self.evidence_path();
        if log.exists() || self.dir().join(EVIDENCE_HEAD).exists() {
            // Opening repairs; a refusal is reported by `verify` and by the
            // next writer, not here.
            drop(EvidenceLog::open(&log));
        }
        Ok(())
    }
}

/// The names in `dir`; none when it does not exist.
fn read_dir_names(dir: &Path) -> Result<Vec<std::ffi::OsString>, StoreError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_error("read directory", dir)(e)),
    };
    let mut names = Vec::new();
    for entry in entries {
        names.push(entry.map_err(io_error("read directory", dir))?.file_name());
    }
    Ok(names)
}

/// Removes the temporary files `write_file_atomically` leaves when killed:
/// regular files in `dir` named `.<name>.tmp-<suffix>`.
fn remove_leftovers(dir: &Path) -> Result<(), StoreError> {
    for name in read_dir_names(dir)? {
        let bytes = name.as_encoded_bytes();
        let is_temp = bytes.starts_with(b".") && bytes.windows(5).any(|w| w == b".tmp-");
        let path = dir.join(&name);
        if is_temp && fs::symlink_metadata(&path).is_ok_and(|meta| meta.is_file()) {
            fs::remove_file(&path).map_err(io_error("remove leftover temporary file", &path))?;
        }
    }
    Ok(())
}
