//! Directory listings for the loaders (policy tests, tool contracts,
//! recordings, scenario cases, packs): one sorted, suffix-filtered listing so
//! every loader reads files in the same, deterministic order.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// The files directly in `dir` whose names end in one of `suffixes`, sorted by
/// path. Entries that cannot be read are skipped, like missing files.
pub fn files_with_suffix(dir: &Path, suffixes: &[&str]) -> io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .map(|n| n.to_string_lossy())
                .is_some_and(|n| suffixes.iter().any(|s| n.ends_with(s)))
        })
        .collect();
    files.sort();
    Ok(files)
}
