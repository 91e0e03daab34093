//! The hash-chained, append-only evidence log.
//!
//! The log is a JSON Lines file: one [`EvidenceEntry`] per line, each in
//! canonical JSON and carrying the digest of the entry before it. Beside it a
//! head file (`<log>.head`) records how many entries have been acknowledged
//! and the digest of the last one, so removing entries from the end is as
//! visible as changing, removing or reordering them in the middle.
//!
//! An append is acknowledged (returns `Ok`) only once its line is synced and
//! the head file has been replaced crash-safely, so an acknowledged entry
//! survives a crash. [`EvidenceLog::open`] repairs what a crash can leave
//! behind (a torn final line, or a complete line the head does not count yet)
//! and refuses everything else; [`verify_log`] only reads and reports.

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use contextos_core::{CanonicalError, Digest, ErrorKind, FORMAT_VERSION, IoError, Kind, canonical_json, digest_of};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use contextos_fs::{AtomicWrite, sync_dir, write_file_atomically};

/// No line of the log may be longer than this (without its newline); longer
/// lines are refused on append and treated as corruption when reading.
const MAX_LINE_BYTES: usize = 16 * 1024 * 1024;

/// The head file is one short JSON object.
const MAX_HEAD_BYTES: u64 = 4096;

/// An error opening, appending to or verifying an evidence log.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum EvidenceError {
    /// A file of the log could not be read, created or written.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Io(#[from] IoError),
    /// A complete line that is not the entry the chain requires there.
    #[error("evidence log {}: entry {line} (line {line}{}): {problem}", path.display(), seq_note(*seq))]
    BadEntry {
        /// The log file.
        path: PathBuf,
        /// The 1-based line number (also the 1-based entry number).
        line: u64,
        /// The entry's own `seq`, when the line parsed far enough to have one.
        seq: Option<u64>,
        /// What is wrong.
        problem: String,
    },
    /// The last line has no trailing newline: an append was interrupted.
    #[error("evidence log {}: line {line} is incomplete (no trailing newline)", path.display())]
    #[diagnostic(help("an append was interrupted; opening the log for writing removes the unacknowledged torn line"))]
    TornLine {
        /// The log file.
        path: PathBuf,
        /// The 1-based number of the torn line.
        line: u64,
    },
    /// The log holds fewer entries than the head file acknowledges.
    #[error(
        "evidence log {}: head file {} records {recorded} entries but the log holds only {found}: acknowledged entries were removed",
        path.display(), head_path_of(path).display()
    )]
    Truncated {
        /// The log file.
        path: PathBuf,
        /// The entry count in the head file.
        recorded: u64,
        /// The complete entries in the log.
        found: u64,
    },
    /// The last acknowledged entry does not hash to the head file's digest.
    #[error(
        "evidence log {}: head file {} records head {} after {entries} entries but {}",
        path.display(), head_path_of(path).display(), digest_note(*recorded), head_note(*entries, *actual)
    )]
    HeadMismatch {
        /// The log file.
        path: PathBuf,
        /// The entry count in the head file.
        entries: u64,
        /// The head digest in the head file.
        recorded: Option<Digest>,
        /// The digest of entry `entries` in the log.
        actual: Option<Digest>,
    },
    /// The log holds valid entries beyond the acknowledged count.
    #[error(
        "evidence log {}: holds {found} entries but head file {} acknowledges only {recorded}",
        path.display(), head_path_of(path).display()
    )]
    #[diagnostic(help("an append was interrupted; opening the log for writing keeps the complete entries"))]
    Unacknowledged {
        /// The log file.
        path: PathBuf,
        /// The entry count in the head file.
        recorded: u64,
        /// The complete entries in the log.
        found: u64,
    },
    /// The head file is not the JSON object ContextOS writes.
    #[error("malformed evidence head file {}: {problem}", path.display())]
    HeadFile {
        /// The head file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// The log exists with entries but its head file does not.
    #[error("evidence log {} has entries but its head file {} is missing", path.display(), head_path_of(path).display())]
    MissingHead {
        /// The log file.
        path: PathBuf,
    },
    /// The head file exists but the log does not.
    #[error("evidence log {} is missing but its head file {} exists", path.display(), head_path_of(path).display())]
    MissingLog {
        /// The log file.
        path: PathBuf,
    },
    /// Another writer holds the log open.
    #[error("evidence log {} is already open for writing", path.display())]
    Locked {
        /// The log file.
        path: PathBuf,
    },
    /// An earlier append failed half-way and could not be undone.
    #[error("evidence log {}: an earlier append failed and could not be rolled back; reopen the log", path.display())]
    Poisoned {
        /// The log file.
        path: PathBuf,
    },
    /// The entry to append has no canonical JSON form or is over the line limit.
    #[error("evidence log {}: cannot record entry of kind {kind:?}: {problem}", path.display())]
    Unrecordable {
        /// The log file.
        path: PathBuf,
        /// The entry kind.
        kind: String,
        /// Why.
        problem: String,
    },
}

impl Kind for EvidenceError {
    /// The error kind the CLI maps to an exit code: a log or head file that
    /// does not verify is a verification failure; I/O and unrecordable
    /// payloads are input errors.
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Io(_) | Self::Locked { .. } | Self::Poisoned { .. } | Self::Unrecordable { .. } => ErrorKind::Input,
            Self::BadEntry { .. }
            | Self::TornLine { .. }
            | Self::Truncated { .. }
            | Self::HeadMismatch { .. }
            | Self::Unacknowledged { .. }
            | Self::HeadFile { .. }
            | Self::MissingHead { .. }
            | Self::MissingLog { .. } => ErrorKind::Verification,
        }
    }
}

fn seq_note(seq: Option<u64>) -> String {
    seq.map(|seq| format!(", seq {seq}")).unwrap_or_default()
}

fn digest_note(digest: Option<Digest>) -> String {
    digest.map_or_else(|| "none".to_owned(), |d| d.to_string())
}

fn head_note(entries: u64, actual: Option<Digest>) -> String {
    match actual {
        Some(actual) => format!("entry {entries} hashes to {actual}"),
        None => "the log is empty".to_owned(),
    }
}

fn io_error(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> EvidenceError + Copy {
    move |source| EvidenceError::Io(IoError::new(action, path, source))
}

/// One record of the evidence log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvidenceEntry {
    /// The format version ([`FORMAT_VERSION`]).
    pub format_version: u32,
    /// The 0-based position in the log.
    pub seq: u64,
    /// The `entry_digest` of the previous entry; `None` only for seq 0.
    pub prev: Option<Digest>,
    /// What the entry records (`decision`, `tool_call`, `approval`, ...).
    pub kind: String,
    /// The digest of the canonical JSON of `payload`.
    pub payload_digest: Digest,
    /// The recorded document.
    pub payload: Value,
    /// The digest of this entry's canonical JSON without `entry_digest`.
    pub entry_digest: Digest,
}

/// What `entry_digest` covers: the entry without its own digest.
#[derive(Serialize)]
struct EntryBody<'a> {
    format_version: u32,
    seq: u64,
    prev: Option<&'a Digest>,
    kind: &'a str,
    payload_digest: &'a Digest,
    payload: &'a Value,
}

impl EvidenceEntry {
    fn body(&self) -> EntryBody<'_> {
        EntryBody {
            format_version: self.format_version,
            seq: self.seq,
            prev: self.prev.as_ref(),
            kind: &self.kind,
            payload_digest: &self.payload_digest,
            payload: &self.payload,
        }
    }
}

/// The state of a log that verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogReport {
    /// How many entries the log holds.
    pub entries: u64,
    /// The digest of the last entry; `None` for an empty log.
    pub head: Option<Digest>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct HeadFile {
    format_version: u32,
    entries: u64,
    head: Option<Digest>,
}

impl HeadFile {
    fn new(entries: u64, head: Option<Digest>) -> Self {
        Self {
            format_version: FORMAT_VERSION,
            entries,
            head,
        }
    }

    /// The exact bytes of a head file: canonical JSON and a newline.
    fn to_bytes(&self) -> Result<Vec<u8>, CanonicalError> {
        let mut bytes = canonical_json(self)?;
        bytes.push(b'\n');
        Ok(bytes)
    }
}

/// The head file beside a log: `<log>.head`.
fn head_path_of(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".head");
    PathBuf::from(name)
}

fn exists(path: &Path) -> Result<bool, EvidenceError> {
    path.try_exists().map_err(io_error("check", path))
}

fn read_head(path: &Path) -> Result<HeadFile, EvidenceError> {
    let mut bytes = Vec::new();
    File::open(path)
        .and_then(|file| file.take(MAX_HEAD_BYTES + 1).read_to_end(&mut bytes))
        .map_err(io_error("read evidence head file", path))?;
    let problem = |problem: String| EvidenceError::HeadFile {
        path: path.to_owned(),
        problem,
    };
    if bytes.len() as u64 > MAX_HEAD_BYTES {
        return Err(problem(format!("larger than {MAX_HEAD_BYTES} bytes")));
    }
    let head: HeadFile = serde_json::from_slice(&bytes).map_err(|e| problem(e.to_string()))?;
    if head.format_version != FORMAT_VERSION {
        let version = head.format_version;
        return Err(problem(format!(
            "unsupported format_version {version}, expected {FORMAT_VERSION}"
        )));
    }
    // Exact bytes, so that no edit of the file goes unnoticed.
    if head.to_bytes().ok().as_deref() != Some(bytes.as_slice()) {
        return Err(problem("not in the canonical form ContextOS writes".to_owned()));
    }
    Ok(head)
}

/// What reading a log found: its complete entries verified as a chain, and a
/// torn final line if there is one.
#[derive(Default)]
struct Scan {
    /// Complete, valid entries.
    entries: u64,
    /// The digest of the last complete entry.
    last: Option<Digest>,
    /// The digest of entry number `acknowledged` (1-based), once reached.
    at_acknowledged: Option<Digest>,
    /// Bytes up to and including the last complete line's newline.
    complete_len: u64,
    /// The 1-based line number of a final line without a newline.
    torn_line: Option<u64>,
    /// The kind and payload digest of every complete entry.
    recorded: HashSet<(String, Digest)>,
}

/// Reads the log from the start, verifying every complete line as the next
/// link of the chain; stops at the first bad one.
fn scan(path: &Path, file: &File, acknowledged: u64) -> Result<Scan, EvidenceError> {
    let mut reader = BufReader::new(file);
    let mut state = Scan::default();
    let mut line = Vec::new();
    loop {
        line.clear();
        let mut limited = reader.by_ref().take(MAX_LINE_BYTES as u64 + 1);
        let read = limited
            .read_until(b'\n', &mut line)
            .map_err(io_error("read evidence log", path))?;
        if read == 0 {
            return Ok(state);
        }
        let line_no = state.entries + 1;
        let bad = |seq, problem| EvidenceError::BadEntry {
            path: path.to_owned(),
            line: line_no,
            seq,
            problem,
        };
        if line.last() != Some(&b'\n') {
            if line.len() > MAX_LINE_BYTES {
                return Err(bad(None, format!("line is longer than {MAX_LINE_BYTES} bytes")));
            }
            // Shorter than the limit and no newline: this is the end of file.
            state.torn_line = Some(line_no);
            return Ok(state);
        }
        line.pop();
        let entry: EvidenceEntry =
            serde_json::from_slice(&line).map_err(|e| bad(None, format!("not a valid evidence entry: {e}")))?;
        entry_problem(&entry, line_no, &line, state.last).map_err(|problem| bad(Some(entry.seq), problem))?;
        state.entries = line_no;
        state.last = Some(entry.entry_digest);
        state.recorded.insert((entry.kind, entry.payload_digest));
        if line_no == acknowledged {
            state.at_acknowledged = state.last;
        }
        state.complete_len += read as u64;
    }
}

/// Checks a parsed line as entry number `line_no` following `prev`.
fn entry_problem(entry: &EvidenceEntry, line_no: u64, line: &[u8], prev: Option<Digest>) -> Result<(), String> {
    if entry.format_version != FORMAT_VERSION {
        let version = entry.format_version;
        return Err(format!(
            "unsupported format_version {version}, expected {FORMAT_VERSION}"
        ));
    }
    let (seq, expected) = (entry.seq, line_no - 1);
    if seq != expected {
        return Err(format!(
            "seq is {seq} but entry {line_no} must have seq {expected}: entries were removed, inserted or reordered"
        ));
    }
    if entry.prev != prev {
        let found = digest_note(entry.prev);
        return Err(match prev {
            Some(prev) => format!("prev is {found} but entry {expected} hashes to {prev}"),
            None => format!("prev is {found} but the first entry has no predecessor"),
        });
    }
    let payload_digest = digest_of(&entry.payload).map_err(|e| e.to_string())?;
    if entry.payload_digest != payload_digest {
        let recorded = entry.payload_digest;
        return Err(format!(
            "payload_digest is {recorded} but the payload hashes to {payload_digest}"
        ));
    }
    let entry_digest = digest_of(&entry.body()).map_err(|e| e.to_string())?;
    if entry.entry_digest != entry_digest {
        let recorded = entry.entry_digest;
        return Err(format!(
            "entry_digest is {recorded} but the entry hashes to {entry_digest}"
        ));
    }
    // Digests cover values, not bytes: only the canonical form is accepted so
    // that no edit of the line (whitespace, escapes, key order) goes unnoticed.
    if canonical_json(entry).map_err(|e| e.to_string())? != line {
        return Err("line is not the canonical JSON of its entry".to_owned());
    }
    Ok(())
}

/// Checks the acknowledged part of a scanned log against its head file.
fn check_head(path: &Path, recorded: &HeadFile, scan: &Scan) -> Result<(), EvidenceError> {
    let path = path.to_owned();
    if scan.entries < recorded.entries {
        return Err(EvidenceError::Truncated {
            path,
            recorded: recorded.entries,
            found: scan.entries,
        });
    }
    let actual = if recorded.entries == 0 {
        None
    } else {
        scan.at_acknowledged
    };
    if actual != recorded.head {
        return Err(EvidenceError::HeadMismatch {
            path,
            entries: recorded.entries,
            recorded: recorded.head,
            actual,
        });
    }
    Ok(())
}

/// Verifies the log at `path` against its head file without changing either:
/// every entry must chain to the one before, and the log must hold exactly
/// the entries the head file acknowledges, ending at its head digest. The
/// error names the first bad entry.
pub fn verify_log(path: &Path) -> Result<LogReport, EvidenceError> {
    let head_path = head_path_of(path);
    match (exists(path)?, exists(&head_path)?) {
        (true, false) => return Err(EvidenceError::MissingHead { path: path.to_owned() }),
        (false, true) => return Err(EvidenceError::MissingLog { path: path.to_owned() }),
        _ => {}
    }
    let file = File::open(path).map_err(io_error("read evidence log", path))?;
    let recorded = read_head(&head_path)?;
    let scan = scan(path, &file, recorded.entries)?;
    check_head(path, &recorded, &scan)?;
    let path = path.to_owned();
    if let Some(line) = scan.torn_line {
        return Err(EvidenceError::TornLine { path, line });
    }
    if scan.entries > recorded.entries {
        return Err(EvidenceError::Unacknowledged {
            path,
            recorded: recorded.entries,
            found: scan.entries,
        });
    }
    Ok(LogReport {
        entries: scan.entries,
        head: scan.last,
    })
}

/// An evidence log open for appending. Holds an exclusive lock on the log
/// file while open, so there is one writer at a time.
#[derive(Debug)]
pub struct EvidenceLog {
    path: PathBuf,
    file: File,
    entries: u64,
    head: Option<Digest>,
    /// Bytes of durable content; an append that fails half-way truncates back to this.
    len: u64,
    poisoned: bool,
    /// The kind and payload digest of every entry, for [`EvidenceLog::holds`].
    recorded: HashSet<(String, Digest)>,
}

impl EvidenceLog {
    /// Opens (creating if missing) the log at `path` and its head file,
    /// verifies the whole chain and recovers from a crash: a torn final line
    /// beyond the acknowledged entries is truncated away, complete valid
    /// entries beyond them are kept and acknowledged. A log that does not
    /// verify otherwise is refused.
    pub fn open(path: &Path) -> Result<Self, EvidenceError> {
        let head_path = head_path_of(path);
        let dir = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        fs::create_dir_all(dir).map_err(io_error("create directory", dir))?;
        let (log_existed, head_existed) = (exists(path)?, exists(&head_path)?);
        if head_existed && !log_existed {
            return Err(EvidenceError::MissingLog { path: path.to_owned() });
        }
        let file = OpenOptions::new().read(true).append(true).create(true).open(path);
        let file = file.map_err(io_error("open evidence log", path))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => return Err(EvidenceError::Locked { path: path.to_owned() }),
            // A file system without locks still gets a working log.
            Err(fs::TryLockError::Error(e)) if e.kind() == io::ErrorKind::Unsupported => {}
            Err(fs::TryLockError::Error(e)) => return Err(io_error("lock evidence log", path)(e)),
        }
        if !log_existed {
            sync_dir(dir).map_err(io_error("sync directory", dir))?;
        }
        let recorded = if head_existed {
            read_head(&head_path)?
        } else {
            // Only a crash during the very first open leaves a log without a
            // head, and then the log is still empty.
            if file.metadata().map_err(io_error("read evidence log", path))?.len() > 0 {
                return Err(EvidenceError::MissingHead { path: path.to_owned() });
            }
            HeadFile::new(0, None)
        };
        let scan = scan(path, &file, recorded.entries)?;
        check_head(path, &recorded, &scan)?;
        if scan.torn_line.is_some() {
            // Never acknowledged (it lies beyond the head), so safe to drop.
            file.set_len(scan.complete_len)
                .and_then(|()| file.sync_data())
                .map_err(io_error("truncate torn line of evidence log", path))?;
        }
        let (entries, head, len) = (scan.entries, scan.last, scan.complete_len);
        let log = Self {
            path: path.to_owned(),
            file,
            entries,
            head,
            len,
            poisoned: false,
            recorded: scan.recorded,
        };
        if !head_existed || entries != recorded.entries {
            log.write_head()?;
        }
        Ok(log)
    }

    /// Appends an entry recording `payload` and returns it once it is
    /// acknowledged: its line is synced and the head file updated.
    pub fn append(&mut self, kind: &str, payload: &Value) -> Result<EvidenceEntry, EvidenceError> {
        if self.poisoned {
            return Err(EvidenceError::Poisoned {
                path: self.path.clone(),
            });
        }
        let unrecordable = |problem: String| EvidenceError::Unrecordable {
            path: self.path.clone(),
            kind: kind.to_owned(),
            problem,
        };
        let (seq, prev) = (self.entries, self.head);
        let payload_digest = digest_of(payload).map_err(|e| unrecordable(e.to_string()))?;
        let body = EntryBody {
            format_version: FORMAT_VERSION,
            seq,
            prev: prev.as_ref(),
            kind,
            payload_digest: &payload_digest,
            payload,
        };
        let entry_digest = digest_of(&body).map_err(|e| unrecordable(e.to_string()))?;
        let (format_version, kind, payload) = (FORMAT_VERSION, kind.to_owned(), payload.clone());
        let entry = EvidenceEntry {
            format_version,
            seq,
            prev,
            kind,
            payload_digest,
            payload,
            entry_digest,
        };
        let mut line = canonical_json(&entry).map_err(|e| unrecordable(e.to_string()))?;
        if line.len() > MAX_LINE_BYTES {
            return Err(unrecordable(format!(
                "{} bytes, over the {MAX_LINE_BYTES}-byte line limit",
                line.len()
            )));
        }
        line.push(b'\n');
        if let Err(source) = self.write_line(&line) {
            // Undo a partial line so the next append does not follow garbage.
            let rolled_back = self.file.set_len(self.len).and_then(|()| self.file.sync_data());
            self.poisoned = rolled_back.is_err();
            return Err(io_error("append to evidence log", &self.path)(source));
        }
        // The line is durable and chains correctly: whatever happens to the
        // head file now, reopening keeps it, so the next append follows it.
        self.len += line.len() as u64;
        self.entries += 1;
        self.head = Some(entry_digest);
        self.recorded.insert((entry.kind.clone(), entry.payload_digest));
        self.write_head()?;
        Ok(entry)
    }

    fn write_line(&mut self, line: &[u8]) -> io::Result<()> {
        self.file.write_all(line)?;
        self.file.sync_data()
    }

    fn write_head(&self) -> Result<(), EvidenceError> {
        let head_path = head_path_of(&self.path);
        let write = || {
            let bytes = HeadFile::new(self.entries, self.head)
                .to_bytes()
                .map_err(io::Error::other)?;
            write_file_atomically(
                &head_path,
                &bytes,
                AtomicWrite {
                    replace: true,
                    secret: false,
                },
            )
        };
        write().map_err(io_error("write evidence head file", &head_path))
    }

    /// Whether the log already holds an entry of `kind` recording exactly
    /// `payload`, so a writer re-recording what a killed run left behind can
    /// skip it instead of appending a duplicate.
    pub fn holds(&self, kind: &str, payload: &Value) -> Result<bool, EvidenceError> {
        let digest = digest_of(payload).map_err(|e| EvidenceError::Unrecordable {
            path: self.path.clone(),
            kind: kind.to_owned(),
            problem: e.to_string(),
        })?;
        Ok(self.recorded.contains(&(kind.to_owned(), digest)))
    }

    /// The log file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How many entries the log holds.
    pub fn entries(&self) -> u64 {
        self.entries
    }

    /// The digest of the last entry; `None` while the log is empty.
    pub fn head(&self) -> Option<Digest> {
        self.head
    }
}
