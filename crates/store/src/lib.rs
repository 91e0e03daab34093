//! The embedded run store: the `.contextos/` directory.
//!
//! Owns the on-disk layout of a store and checking it:
//!
//! - `objects/<first 2 hex>/<64 hex>`: content-addressed blobs, each named by
//!   the sha256 of its exact bytes, written crash-safely and idempotently and
//!   re-hashed on every read;
//! - `runs/<run_id>.json`: the run index, one canonical-JSON
//!   [`RunIndexEntry`] per run, pointing at its packet and record objects;
//! - `evidence.log` (+ `evidence.log.head`): where the evidence log lives;
//! - `store.lock`: held exclusively by a writer for a whole run's writes
//!   ([`Store::lock_for_writing`]) and shared by [`Store::verify`];
//! - resolving the ids people type (run id, `sha256:` digest, hex prefix) and
//!   [`Store::verify`], which re-checks all of the above and reports every
//!   problem rather than the first.
//!
//! It does not decide what a packet or record holds (the runtime does), does
//! not read the clock (timestamps come from callers), and implements neither
//! signatures nor the hash chain: those are `contextos-trust`, which this
//! crate calls. A server-backed store (Postgres indexes, object storage)
//! would be another implementation of the same operations, not this crate.
//!
//! ```
//! use contextos_store::{Resolved, Store};
//!
//! let dir = tempfile::tempdir()?;
//! let store = Store::open(&dir.path().join(".contextos"))?;
//! let digest = store.put_object(b"hello")?;
//! assert_eq!(store.put_object(b"hello")?, digest); // idempotent
//! assert_eq!(store.get_object(&digest)?, b"hello");
//! let prefix = &digest.to_string()["sha256:".len()..][..8];
//! assert_eq!(store.resolve(prefix)?, Resolved::Object(digest));
//! assert!(store.verify(&contextos_trust::Keyring::default())?.is_clean());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(missing_docs)]

mod error;
mod lock;
mod resolve;
mod runs;
mod store;
mod suggest;
mod verify;

pub use error::StoreError;
pub use lock::StoreLock;
pub use resolve::{MIN_PREFIX_HEX_DIGITS, Resolved};
pub use runs::RunIndexEntry;
pub use store::{MAX_OBJECT_BYTES, Store};
pub use suggest::closest_ids;
pub use verify::{StoreProblem, StoreReport};
