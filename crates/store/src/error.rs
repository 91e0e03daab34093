//! The store's one error type and the exit-code kind of each failure.

use std::io;
use std::path::{Path, PathBuf};

use contextos_core::{CanonicalError, Digest, ErrorKind, IoError, Kind};
use contextos_trust::EvidenceError;

/// An error opening, reading or writing a run store.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum StoreError {
    /// A store file or directory could not be read, created or written.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Io(#[from] IoError),
    /// A command that only reads named a store directory that is not there.
    #[error("no run store at {}: {problem}", dir.display())]
    #[diagnostic(help("a store is created by the first run recorded into it; check the store directory given"))]
    MissingStore {
        /// The store directory.
        dir: PathBuf,
        /// `the directory does not exist` or `it is not a directory`.
        problem: &'static str,
    },
    /// A blob to store is larger than [`crate::MAX_OBJECT_BYTES`].
    #[error("cannot store a blob of {size} bytes: objects are limited to {limit} bytes")]
    BlobTooLarge {
        /// The blob's size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// An object file is larger than any object the store writes.
    #[error("object {} is {size} bytes, over the {limit}-byte object limit: refusing to read it", path.display())]
    OversizedObject {
        /// The object file.
        path: PathBuf,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// No object with this digest is stored.
    #[error("object {digest} is not in the store (no file {})", path.display())]
    MissingObject {
        /// The digest asked for.
        digest: Digest,
        /// Where it would be.
        path: PathBuf,
    },
    /// An object's bytes do not hash to its name.
    #[error("corrupted object {}: its bytes hash to {actual}, not {expected}", path.display())]
    CorruptObject {
        /// The object file.
        path: PathBuf,
        /// The digest its name promises.
        expected: Digest,
        /// The digest of its bytes.
        actual: Digest,
    },
    /// Something other than a regular file where an object or run entry belongs.
    #[error("{} is not a regular file", path.display())]
    NotAFile {
        /// The path.
        path: PathBuf,
    },
    /// A run index entry the store refuses to record.
    #[error("invalid run index entry for run {run_id:?}: {problem}")]
    InvalidRunEntry {
        /// The entry's run id.
        run_id: String,
        /// What is wrong.
        problem: String,
    },
    /// A different entry is already recorded under this run id.
    #[error("run id {run_id:?} already exists with a different entry: {}", path.display())]
    #[diagnostic(help("run ids are unique; a replay gets a run id of its own and names the original in `replay_of`"))]
    RunExists {
        /// The run id.
        run_id: String,
        /// The existing entry.
        path: PathBuf,
    },
    /// A run index file that is not an entry this store wrote.
    #[error("malformed run index entry {}: {problem}", path.display())]
    MalformedRun {
        /// The entry file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// No run has this id.
    #[error("unknown run id {run_id:?} in {}: {}", runs_dir.display(), closest_note(closest, *runs))]
    UnknownRun {
        /// The id asked for.
        run_id: String,
        /// The run index directory.
        runs_dir: PathBuf,
        /// Up to five similar run ids, closest first.
        closest: Vec<String>,
        /// How many runs the store holds.
        runs: usize,
    },
    /// An id that is no run id, stored digest or digest prefix.
    #[error("no run or object {id:?} in store {}: {reason}; {}", dir.display(), closest_note(closest, *runs))]
    UnknownId {
        /// The id asked for.
        id: String,
        /// The store directory.
        dir: PathBuf,
        /// Why it matched no object.
        reason: String,
        /// Up to five similar run ids, closest first.
        closest: Vec<String>,
        /// How many runs the store holds.
        runs: usize,
    },
    /// A digest prefix shared by more than one object.
    #[error("id {id:?} is ambiguous: it is a prefix of {} object digests: {}", candidates.len(), digest_list(candidates))]
    #[diagnostic(help("type more hex digits, or the full `sha256:` digest"))]
    AmbiguousId {
        /// The prefix asked for.
        id: String,
        /// The matching digests, sorted.
        candidates: Vec<Digest>,
    },
    /// A run index entry has no canonical JSON form (a bug: its fields are plain).
    #[error("cannot canonicalize run index entry for run {run_id:?}")]
    Canonical {
        /// The entry's run id.
        run_id: String,
        /// Why.
        source: CanonicalError,
    },
    /// The evidence log could not be opened or did not verify.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Evidence(#[from] EvidenceError),
}

impl Kind for StoreError {
    /// The error kind the CLI maps to an exit code: a digest, object or log
    /// that does not check out is a verification failure; a missing store,
    /// unknown id, refused write or I/O failure is an input error.
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Io(_)
            | Self::MissingStore { .. }
            | Self::BlobTooLarge { .. }
            | Self::MissingObject { .. }
            | Self::InvalidRunEntry { .. }
            | Self::RunExists { .. }
            | Self::UnknownRun { .. }
            | Self::UnknownId { .. }
            | Self::AmbiguousId { .. } => ErrorKind::Input,
            Self::OversizedObject { .. }
            | Self::CorruptObject { .. }
            | Self::NotAFile { .. }
            | Self::MalformedRun { .. } => ErrorKind::Verification,
            Self::Canonical { .. } => ErrorKind::Bug,
            Self::Evidence(e) => e.kind(),
        }
    }
}

/// `did you mean ...?`, or why there is nothing to suggest.
fn closest_note(closest: &[String], runs: usize) -> String {
    match closest {
        [] if runs == 0 => "the store has no runs".to_owned(),
        [] => format!("none of its {runs} run ids is similar"),
        [one] => format!("did you mean {one:?}?"),
        many => {
            let quoted: Vec<String> = many.iter().map(|id| format!("{id:?}")).collect();
            format!("did you mean one of {}?", quoted.join(", "))
        }
    }
}

/// At most ten digests, then how many more.
fn digest_list(digests: &[Digest]) -> String {
    const SHOWN: usize = 10;
    let mut list: Vec<String> = digests.iter().take(SHOWN).map(Digest::to_string).collect();
    if digests.len() > SHOWN {
        list.push(format!("and {} more", digests.len() - SHOWN));
    }
    list.join(", ")
}

/// Maps an I/O error on `path` to [`StoreError::Io`].
pub(crate) fn io_error(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> StoreError + Copy {
    move |source| StoreError::Io(IoError::new(action, path, source))
}
