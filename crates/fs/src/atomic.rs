//! Crash-safe file writes: a crash leaves either the old file or the whole
//! new one, never a torn one. Used for key files, the evidence-log head and
//! (by the run store) every persisted object.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

/// How [`write_file_atomically`] treats the destination.
#[derive(Clone, Copy, Debug)]
pub struct AtomicWrite {
    /// Replace an existing file (otherwise fail with `AlreadyExists`).
    pub replace: bool,
    /// Create the file readable by its owner only (unix mode 0600).
    pub secret: bool,
}

/// Writes `bytes` to `path` so that a crash leaves either the old file or the
/// complete new one: write a temporary file in the same directory, fsync it,
/// rename (or hard-link, to refuse overwriting) it into place, fsync the
/// directory.
pub fn write_file_atomically(path: &Path, bytes: &[u8], options: AtomicWrite) -> io::Result<()> {
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "destination has no file name"))?;
    let mut suffix = [0u8; 8];
    contextos_core::live::fill_random(&mut suffix);
    let suffix: String = suffix.iter().map(|b| format!("{b:02x}")).collect();
    let tmp = dir.join(format!(".{}.tmp-{suffix}", name.to_string_lossy()));

    let mut open = OpenOptions::new();
    open.write(true).create_new(true);
    #[cfg(unix)]
    if options.secret {
        use std::os::unix::fs::OpenOptionsExt as _;
        open.mode(0o600);
    }
    let result = (|| {
        let mut file = open.open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        if options.replace {
            fs::rename(&tmp, path)?;
        } else {
            fs::hard_link(&tmp, path)?;
            fs::remove_file(&tmp)?;
        }
        sync_dir(dir)
    })();
    if result.is_err() {
        // Best effort: the temporary file is garbage either way.
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Makes a rename or a new file in `dir` durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    fs::File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}
