//! Turning the ids people type into runs and objects, and suggesting what
//! they may have meant when an id matches nothing.

use std::fs;
use std::io;

use contextos_core::Digest;

use crate::error::{StoreError, io_error};
use crate::runs::RunIndexEntry;
use crate::store::Store;
use crate::suggest::{SUGGESTIONS, closest_ids};

/// The fewest hex digits [`Store::resolve`] accepts as a digest prefix:
/// shorter prefixes collide too often to be worth typing.
pub const MIN_PREFIX_HEX_DIGITS: usize = 8;

/// What an id names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resolved {
    /// A run, by its run id.
    Run(RunIndexEntry),
    /// A stored object, by its full digest or a unique prefix of it.
    Object(Digest),
}

impl Store {
    /// Resolves `id`, trying in order: a run id (an exact run id wins over a
    /// digest prefix that happens to look the same), a full `sha256:` digest
    /// of a stored object, and a unique prefix of at least
    /// [`MIN_PREFIX_HEX_DIGITS`] hex digits (with or without `sha256:`) of a
    /// stored object's digest. A prefix of several objects is an input error
    /// listing them; an id that names nothing is an input error suggesting
    /// similar run ids.
    pub fn resolve(&self, id: &str) -> Result<Resolved, StoreError> {
        if let Some(entry) = self.find_run(id)? {
            return Ok(Resolved::Run(entry));
        }
        let hex = id.strip_prefix("sha256:").unwrap_or(id).to_ascii_lowercase();
        let is_hex = !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit());
        let reason = if !is_hex {
            "it is not a digest or hex digest prefix either".to_owned()
        } else if hex.len() > 64 {
            "it is longer than a sha256 digest (64 hex digits)".to_owned()
        } else if hex.len() < MIN_PREFIX_HEX_DIGITS {
            format!("a digest prefix needs at least {MIN_PREFIX_HEX_DIGITS} hex digits")
        } else {
            let mut matches = self.objects_with_prefix(&hex)?;
            match matches.len() {
                0 => format!("no stored object's digest starts with {hex}"),
                1 => return Ok(Resolved::Object(matches.remove(0))),
                _ => {
                    return Err(StoreError::AmbiguousId {
                        id: id.to_owned(),
                        candidates: matches,
                    });
                }
            }
        };
        let known = self.run_ids()?;
        Err(StoreError::UnknownId {
            id: id.to_owned(),
            dir: self.dir().to_owned(),
            reason,
            closest: closest_ids(id, &known, SUGGESTIONS),
            runs: known.len(),
        })
    }

    /// The stored objects whose hex digest starts with `hex` (lowercase, at
    /// least two digits), sorted. Only the one shard directory is listed.
    fn objects_with_prefix(&self, hex: &str) -> Result<Vec<Digest>, StoreError> {
        let Some(shard) = hex.get(..2) else {
            return Ok(Vec::new());
        };
        let dir = self.objects_dir().join(shard);
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_error("read object directory", &dir)(e)),
        };
        let mut found = Vec::new();
        for entry in entries {
            let entry = entry.map_err(io_error("read object directory", &dir))?;
            let name = entry.file_name();
            let Some(name) = name.to_str().filter(|name| name.starts_with(hex)) else {
                continue;
            };
            // Names that are not digests (crash leftovers, strays) never match.
            if let Ok(digest) = format!("sha256:{name}").parse::<Digest>() {
                found.push(digest);
            }
        }
        found.sort();
        Ok(found)
    }
}
