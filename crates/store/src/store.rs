//! The store directory and its content-addressed objects.

use std::fs::{self, File};
use std::io::{self, Read as _};
use std::path::{Path, PathBuf};

use contextos_core::Digest;
use contextos_fs::{AtomicWrite, sync_dir, write_file_atomically};
use contextos_trust::EvidenceLog;

use crate::error::{StoreError, io_error};

/// The largest object the store writes or reads. Store files are untrusted
/// input, so reads are bounded; packets and records are far smaller.
pub const MAX_OBJECT_BYTES: u64 = 64 * 1024 * 1024;

pub(crate) const OBJECTS_DIR: &str = "objects";
pub(crate) const RUNS_DIR: &str = "runs";
pub(crate) const EVIDENCE_LOG: &str = "evidence.log";
pub(crate) const EVIDENCE_HEAD: &str = "evidence.log.head";

/// Objects are written once and never replaced; the temporary file and the
/// directory are synced before `put_object` returns.
const WRITE_ONCE: AtomicWrite = AtomicWrite {
    replace: false,
    secret: false,
};

/// A run store directory (by default `.contextos/` in the working directory;
/// the caller chooses). Holds only its path: every call reads the disk, so
/// any number of `Store`s and threads may share a directory. Writers that
/// race on the same object or run id converge on one file; a whole run's
/// writes go under [`Store::lock_for_writing`], so runs take turns.
#[derive(Clone, Debug)]
pub struct Store {
    dir: PathBuf,
}

impl Store {
    /// Opens the store at `dir` for writing, creating `dir`, `objects/` and
    /// `runs/` as needed (each new directory is synced into its parent), and
    /// repairs what a killed writer left behind (temporary files, a torn or
    /// unacknowledged evidence-log tail), waiting for the store lock to do so.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let store = Self { dir: dir.to_owned() };
        ensure_dir(dir)?;
        ensure_dir(&store.objects_dir())?;
        ensure_dir(&store.runs_dir())?;
        let lock = store.lock_for_writing()?;
        store.recover(&lock)?;
        Ok(store)
    }

    /// Opens an existing store without creating anything, for commands that
    /// only read. A missing `dir` is an input error naming it.
    pub fn open_existing(dir: &Path) -> Result<Self, StoreError> {
        let missing = |problem| StoreError::MissingStore {
            dir: dir.to_owned(),
            problem,
        };
        match fs::metadata(dir) {
            Ok(meta) if meta.is_dir() => Ok(Self { dir: dir.to_owned() }),
            Ok(_) => Err(missing("it is not a directory")),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(missing("the directory does not exist")),
            Err(e) => Err(io_error("open run store", dir)(e)),
        }
    }

    /// Whether `dir` has a store's layout: both `objects/` and `runs/` are
    /// directories ([`Store::open`] creates both). Reads no file, so it
    /// tells a store from other directories (a tree of packet files, say)
    /// without checking the store; reading it does that.
    pub fn has_layout(dir: &Path) -> bool {
        [OBJECTS_DIR, RUNS_DIR]
            .iter()
            .all(|sub| fs::metadata(dir.join(sub)).is_ok_and(|meta| meta.is_dir()))
    }

    /// The store directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the object with this digest lives: `objects/<2 hex>/<64 hex>`.
    pub fn object_path(&self, digest: &Digest) -> PathBuf {
        let hex = digest.hex();
        self.objects_dir().join(&hex[..2]).join(hex)
    }

    /// The evidence log file, `<dir>/evidence.log`.
    pub fn evidence_path(&self) -> PathBuf {
        self.dir.join(EVIDENCE_LOG)
    }

    pub(crate) fn objects_dir(&self) -> PathBuf {
        self.dir.join(OBJECTS_DIR)
    }

    pub(crate) fn runs_dir(&self) -> PathBuf {
        self.dir.join(RUNS_DIR)
    }

    /// Stores `bytes` under their sha256 and returns it. Crash-safe (a crash
    /// leaves no object or the whole object) and idempotent: storing bytes
    /// that are already there succeeds after checking the stored copy still
    /// hashes to its name; a stored copy that does not is a verification
    /// error naming the file.
    pub fn put_object(&self, bytes: &[u8]) -> Result<Digest, StoreError> {
        let size = bytes.len() as u64;
        if size > MAX_OBJECT_BYTES {
            return Err(StoreError::BlobTooLarge {
                size,
                limit: MAX_OBJECT_BYTES,
            });
        }
        let digest = Digest::of_bytes(bytes);
        if self.has_object(&digest)? {
            self.get_object(&digest)?;
            return Ok(digest);
        }
        let path = self.object_path(&digest);
        if let Some(shard) = path.parent() {
            ensure_dir(shard)?;
        }
        match write_file_atomically(&path, bytes, WRITE_ONCE) {
            Ok(()) => Ok(digest),
            // Another writer stored the same bytes first.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => self.get_object(&digest).map(|_| digest),
            Err(e) => Err(io_error("write object", &path)(e)),
        }
    }

    /// The bytes of the object with this digest, re-hashed: bytes that do not
    /// hash to `digest` are a verification error naming the object file.
    pub fn get_object(&self, digest: &Digest) -> Result<Vec<u8>, StoreError> {
        let path = self.object_path(digest);
        let bytes = match read_bounded(&path, MAX_OBJECT_BYTES) {
            Ok(bytes) => bytes,
            Err(ReadError::Missing) => return Err(StoreError::MissingObject { digest: *digest, path }),
            Err(ReadError::NotAFile) => return Err(StoreError::NotAFile { path }),
            Err(ReadError::TooLarge(size)) => {
                return Err(StoreError::OversizedObject {
                    path,
                    size,
                    limit: MAX_OBJECT_BYTES,
                });
            }
            Err(ReadError::Io(e)) => return Err(io_error("read object", &path)(e)),
        };
        let actual = Digest::of_bytes(&bytes);
        if actual != *digest {
            return Err(StoreError::CorruptObject {
                path,
                expected: *digest,
                actual,
            });
        }
        Ok(bytes)
    }

    /// Whether a file exists under this digest's name. Does not read it:
    /// [`Store::get_object`] and [`Store::verify`] check the bytes.
    pub fn has_object(&self, digest: &Digest) -> Result<bool, StoreError> {
        let path = self.object_path(digest);
        match fs::symlink_metadata(&path) {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(io_error("look up object", &path)(e)),
        }
    }

    /// Opens the evidence log `<dir>/evidence.log` for appending (creating it
    /// if missing). The log holds an exclusive lock until dropped, so open it
    /// when there is something to append, not for the store's lifetime.
    pub fn evidence(&self) -> Result<EvidenceLog, StoreError> {
        Ok(EvidenceLog::open(&self.evidence_path())?)
    }
}

/// Creates `path` (and its ancestors) if it is not a directory yet, and syncs
/// the new entry into its parent so files put into it survive a crash.
fn ensure_dir(path: &Path) -> Result<(), StoreError> {
    if fs::metadata(path).is_ok_and(|meta| meta.is_dir()) {
        return Ok(());
    }
    fs::create_dir_all(path).map_err(io_error("create directory", path))?;
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    sync_dir(parent).map_err(io_error("sync directory", parent))
}

/// Why [`read_bounded`] returned no bytes.
pub(crate) enum ReadError {
    Missing,
    NotAFile,
    TooLarge(u64),
    Io(io::Error),
}

/// Reads a regular file of at most `limit` bytes. Checks the type before
/// opening, so a FIFO planted in the store cannot block a reader.
pub(crate) fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    let not_found = |e: io::Error| {
        if e.kind() == io::ErrorKind::NotFound {
            ReadError::Missing
        } else {
            ReadError::Io(e)
        }
    };
    let meta = fs::metadata(path).map_err(not_found)?;
    if !meta.is_file() {
        return Err(ReadError::NotAFile);
    }
    if meta.len() > limit {
        return Err(ReadError::TooLarge(meta.len()));
    }
    let file = File::open(path).map_err(not_found)?;
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(ReadError::Io)?;
    let len = bytes.len() as u64;
    if len > limit {
        // The file grew after the size check.
        return Err(ReadError::TooLarge(len));
    }
    Ok(bytes)
}
