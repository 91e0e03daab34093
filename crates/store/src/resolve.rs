//! Turning the ids people type into runs and objects, and suggesting what
//! they may have meant when an id matches nothing.

use std::fs;
use std::io;

use contextos_core::Digest;

use crate::error::{StoreError, io_error};
use crate::runs::{RunIndexEntry, SUGGESTIONS};
use crate::store::Store;

/// The fewest hex digits [`Store::resolve`] accepts as a digest prefix:
/// shorter prefixes collide too often to be worth typing.
pub const MIN_PREFIX_HEX_DIGITS: usize = 8;

/// Only this many leading characters of a typed id are compared for
/// suggestions, which bounds the edit-distance work.
const MAX_COMPARED_CHARS: usize = 256;

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

/// Up to `limit` of `known` that look like `typed`, closest first: ids that
/// extend or are extended by it, then by edit distance (ties by name). Ids
/// further than a third of the typed length (at least 2 edits) are left out.
pub(crate) fn closest_ids(typed: &str, known: &[String], limit: usize) -> Vec<String> {
    let typed: Vec<char> = typed.chars().take(MAX_COMPARED_CHARS).collect();
    let max_distance = (typed.len() / 3).max(2);
    let mut scored: Vec<(bool, usize, &String)> = known
        .iter()
        .filter_map(|id| {
            let id_chars: Vec<char> = id.chars().take(MAX_COMPARED_CHARS).collect();
            let related = !typed.is_empty() && (id_chars.starts_with(&typed) || typed.starts_with(&id_chars));
            let distance = edit_distance(&typed, &id_chars);
            (related || distance <= max_distance).then_some((!related, distance, id))
        })
        .collect();
    scored.sort();
    scored.into_iter().take(limit).map(|(_, _, id)| id.clone()).collect()
}

/// Levenshtein distance (insertions, deletions, substitutions).
fn edit_distance(a: &[char], b: &[char]) -> usize {
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        current[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = previous[j] + usize::from(ca != cb);
            current[j + 1] = substitute.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn distance(a: &str, b: &str) -> usize {
        let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
        edit_distance(&a, &b)
    }

    fn ids(names: &[&str]) -> Vec<String> {
        names.iter().map(|name| (*name).to_owned()).collect()
    }

    #[test]
    fn edit_distance_known_values() {
        assert_eq!(distance("", ""), 0);
        assert_eq!(distance("abc", ""), 3);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("run-0001", "run-0002"), 1);
        assert_eq!(distance("flaw", "lawn"), 2);
    }

    #[test]
    fn prefixes_come_first_then_nearest() {
        let known = ids(&["run-0001", "run-0002", "run-0010", "deploy-7", "run-0001-replay"]);
        assert_eq!(
            closest_ids("run-0001", &known, 5),
            ["run-0001", "run-0001-replay", "run-0002", "run-0010"]
        );
        assert_eq!(closest_ids("run-000", &known, 2), ["run-0001", "run-0002"]);
    }

    #[test]
    fn unrelated_ids_are_not_suggested() {
        let known = ids(&["deploy-7", "nightly-42"]);
        assert!(closest_ids("run-0003", &known, 5).is_empty());
        assert!(closest_ids("", &known, 5).is_empty());
    }
}
