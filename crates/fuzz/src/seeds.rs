//! The seed corpus and the regression inputs, as files on disk.
//!
//! `fuzz/seeds.txt` says which shipped files seed which target, one line
//! each: `TARGET SELECTOR PATH SUFFIX`, where `SELECTOR` is the parser's
//! index (prepended to each file as one byte) or `-` for a target without
//! selector, `PATH` a file or directory (searched recursively) relative to
//! the repository root, and `SUFFIX` what the file names end with. `#`
//! starts a comment. `cargo xtask fuzz` reads the same file.
//!
//! Crash inputs the fuzzer found live under `fuzz/regressions/<target>/`,
//! as the fuzzer wrote them.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use crate::fixtures::root;

/// One seed input: a shipped file fed to a target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seed {
    /// The target's name.
    pub target: String,
    /// The file, relative to the repository root.
    pub path: String,
    /// The input: the selector byte (if any) and the file's bytes.
    pub input: Vec<u8>,
}

/// A line of `fuzz/seeds.txt` that does not say what it must, or a file it
/// names that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedError {
    /// Where: `fuzz/seeds.txt:LINE` or the unreadable path.
    pub at: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for SeedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.at, self.message)
    }
}

impl std::error::Error for SeedError {}

/// Every seed `fuzz/seeds.txt` names, in file order; a line that matches no
/// file is an error (a moved file would silently shrink the corpus).
pub fn seeds() -> Result<Vec<Seed>, SeedError> {
    let root = root();
    let list = "fuzz/seeds.txt";
    let text = fs::read_to_string(root.join(list)).map_err(|e| SeedError {
        at: list.to_owned(),
        message: e.to_string(),
    })?;
    let mut seeds = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let at = format!("{list}:{}", index + 1);
        let line = line.split('#').next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [target, selector, path, suffix] = fields[..] else {
            return Err(SeedError {
                at,
                message: format!("expected `TARGET SELECTOR PATH SUFFIX`, got {line:?}"),
            });
        };
        let prefix: Vec<u8> = match selector {
            "-" => Vec::new(),
            byte => vec![byte.parse().map_err(|_| SeedError {
                at: at.clone(),
                message: format!("selector {byte:?} is neither `-` nor a number from 0 to 255"),
            })?],
        };
        let files = files_under(&root.join(path), suffix);
        if files.is_empty() {
            return Err(SeedError {
                at,
                message: format!("no file ending in {suffix:?} at {path}"),
            });
        }
        for file in files {
            let bytes = fs::read(&file).map_err(|e| SeedError {
                at: file.display().to_string(),
                message: e.to_string(),
            })?;
            let shown = file.strip_prefix(&root).unwrap_or(&file).display().to_string();
            seeds.push(Seed {
                target: target.to_owned(),
                path: shown,
                input: [prefix.as_slice(), &bytes].concat(),
            });
        }
    }
    Ok(seeds)
}

/// The regression inputs of `target` (`fuzz/regressions/<target>/*`), sorted.
pub fn regressions(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = root().join("fuzz/regressions").join(target);
    let mut files = files_under(&dir, "");
    files.sort();
    files
        .into_iter()
        .filter_map(|path| fs::read(&path).ok().map(|bytes| (path, bytes)))
        .collect()
}

/// The files at `path` (itself, or everything under it) whose names end in
/// `suffix`, sorted.
fn files_under(path: &Path, suffix: &str) -> Vec<PathBuf> {
    if path.is_file() {
        return vec![path.to_path_buf()];
    }
    let mut files = Vec::new();
    let mut dirs = vec![path.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if path.is_dir() {
                dirs.push(path);
            } else if name.ends_with(suffix) && !name.starts_with('.') {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}
