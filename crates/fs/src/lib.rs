//! ContextOS file helpers: the two ways the other crates touch the file
//! system that need to be the same everywhere.
//!
//! - [`write_file_atomically`]: a crash leaves either the old file or the
//!   whole new one, never a torn one (key files, the evidence-log head,
//!   store objects and run index entries, pack artifacts, idempotency
//!   markers), and [`sync_dir`] to make a rename durable;
//! - [`files_with_suffix`]: one sorted, suffix-filtered directory listing, so
//!   every loader reads its files in the same, deterministic order;
//! - [`check_inside`] and [`refuse_symlink`]: what a command writes or
//!   deletes stays inside its root after symbolic links, and is never a link.
//!
//! It knows nothing about what the files hold (no parsing, no formats, no
//! digests) and does not walk directory trees; callers own their layouts and
//! their error types.
//!
//! ```
//! use contextos_fs::{AtomicWrite, files_with_suffix, write_file_atomically};
//!
//! let dir = tempfile::tempdir()?;
//! let once = AtomicWrite { replace: false, secret: false };
//! write_file_atomically(&dir.path().join("b.json"), b"{}", once)?;
//! write_file_atomically(&dir.path().join("a.json"), b"[]", once)?;
//! write_file_atomically(&dir.path().join("notes.txt"), b"-", once)?;
//! // Write-once: a second write to the same path is refused.
//! assert!(write_file_atomically(&dir.path().join("a.json"), b"{}", once).is_err());
//!
//! let listed = files_with_suffix(dir.path(), &[".json"])?;
//! assert_eq!(listed, [dir.path().join("a.json"), dir.path().join("b.json")]);
//! assert_eq!(std::fs::read(&listed[0])?, b"[]");
//! # Ok::<(), std::io::Error>(())
//! ```

#![deny(missing_docs)]

mod atomic;
mod inside;
mod list;

pub use atomic::{AtomicWrite, sync_dir, write_file_atomically};
pub use inside::{check_inside, refuse_symlink};
pub use list::files_with_suffix;
