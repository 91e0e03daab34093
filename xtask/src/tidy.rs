//! `cargo xtask tidy`: project rules that the compiler and clippy cannot
//! check (the banned clock, randomness and environment calls are clippy's
//! `disallowed_methods`, configured in clippy.toml). The rules are pure
//! functions of a [`Tree`] of file contents, so they are tested on in-memory
//! files; only [`run`] reads the disk.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io;
use std::path::Path;

/// Longest allowed `.rs` file, in lines.
pub(crate) const MAX_LINES: usize = 1200;

/// Documents that must name every crate.
const CRATE_MAPS: [&str; 2] = ["ARCHITECTURE.md", "crates/README.md"];

const CI_SCRIPT: &str = ".ci/run";
const CI_COMMAND: &str = "cargo xtask test";

/// One broken rule, printed as `path:line: message`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Violation {
    /// Path relative to the repository root, with `/` separators.
    pub path: String,
    /// 1-based line number; file-level problems point at line 1.
    pub line: usize,
    /// What is wrong and what to do about it.
    pub message: String,
}

impl Violation {
    fn new(path: &str, line: usize, message: impl Into<String>) -> Self {
        Self {
            path: path.to_owned(),
            line,
            message: message.into(),
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.path, self.line, self.message)
    }
}

/// The files tidy looks at, keyed by path relative to the repository root
/// (`/` separators).
#[derive(Debug, Default)]
pub(crate) struct Tree {
    files: BTreeMap<String, String>,
}

impl Tree {
    /// Builds a tree from in-memory `(path, contents)` pairs.
    #[cfg(test)]
    pub(crate) fn from_files<'a>(files: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Self {
            files: files
                .into_iter()
                .map(|(path, text)| (path.to_owned(), text.to_owned()))
                .collect(),
        }
    }

    /// Reads every `.rs` file and `Cargo.toml` under `crates/` and `xtask/`,
    /// plus the crate maps and the CI script, from the repository at `root`.
    pub(crate) fn read(root: &Path) -> Result<Self, String> {
        let mut tree = Self::default();
        for dir in ["crates", "xtask"] {
            tree.read_dir(root, dir)?;
        }
        for path in CRATE_MAPS.into_iter().chain([CI_SCRIPT]) {
            tree.read_file(root, path)?;
        }
        Ok(tree)
    }

    fn read_dir(&mut self, root: &Path, rel: &str) -> Result<(), String> {
        let entries = match fs::read_dir(root.join(rel)) {
            Ok(entries) => entries,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(err) => return Err(format!("failed to list {rel}: {err}")),
        };
        for entry in entries {
            let entry = entry.map_err(|err| format!("failed to list {rel}: {err}"))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = format!("{rel}/{name}");
            let file_type = entry
                .file_type()
                .map_err(|err| format!("failed to stat {path}: {err}"))?;
            if file_type.is_dir() {
                if !name.starts_with('.') && name != "target" && name != "node_modules" {
                    self.read_dir(root, &path)?;
                }
            } else if name.ends_with(".rs") || name == "Cargo.toml" {
                self.read_file(root, &path)?;
            }
        }
        Ok(())
    }

    /// Reads one file if it exists; a missing file is a rule's business.
    fn read_file(&mut self, root: &Path, rel: &str) -> Result<(), String> {
        match fs::read(root.join(rel)) {
            Ok(bytes) => {
                let text = String::from_utf8_lossy(&bytes).into_owned();
                self.files.insert(rel.to_owned(), text);
                Ok(())
            }
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(err) => Err(format!("failed to read {rel}: {err}")),
        }
    }

    fn get(&self, path: &str) -> Option<&str> {
        self.files.get(path).map(String::as_str)
    }

    /// Number of files read.
    pub(crate) fn len(&self) -> usize {
        self.files.len()
    }
}

/// Checks the repository at `root`, prints every violation and fails if
/// there was any.
pub(crate) fn run(root: &Path) -> Result<(), String> {
    let tree = Tree::read(root)?;
    let violations = check(&tree);
    for violation in &violations {
        println!("{violation}");
    }
    match violations.len() {
        0 => {
            println!("tidy: {} files checked, no violations", tree.len());
            Ok(())
        }
        1 => Err("tidy found 1 violation".to_owned()),
        n => Err(format!("tidy found {n} violations")),
    }
}

/// Every rule over every file, sorted by path and line.
pub(crate) fn check(tree: &Tree) -> Vec<Violation> {
    let mut violations = Vec::new();
    for (path, text) in &tree.files {
        if !path.ends_with(".rs") {
            continue;
        }
        if path.starts_with("crates/") || path.starts_with("xtask/") {
            violations.extend(check_length(path, text));
        }
    }

    let crates = crates(tree, &mut violations);
    for krate in &crates {
        let lib = format!("crates/{}/src/lib.rs", krate.dir);
        if let Some(text) = tree.get(&lib) {
            violations.extend(check_lib_docs(&lib, text));
        }
    }
    for map in CRATE_MAPS {
        match tree.get(map) {
            Some(text) => violations.extend(check_crate_map(map, text, &crates)),
            None => violations.push(Violation::new(
                map,
                1,
                "file is missing; it must describe every crate under crates/",
            )),
        }
    }
    violations.extend(check_ci_script(tree.get(CI_SCRIPT)));
    let sources = tree.files.iter().map(|(path, text)| (path.as_str(), text.as_str()));
    for cycle in crate::tidy_imports::import_cycles(sources) {
        violations.push(Violation::new(&cycle.first, 1, cycle.message()));
    }

    violations.sort();
    violations
}

/// A crate under `crates/`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Crate {
    /// Directory name under `crates/`, e.g. `core`.
    dir: String,
    /// `[package] name`, e.g. `contextos-core`.
    package: String,
}

/// The crates under `crates/`, from their `Cargo.toml`s. A manifest without
/// a package name is reported.
fn crates(tree: &Tree, violations: &mut Vec<Violation>) -> Vec<Crate> {
    let mut crates = Vec::new();
    for (path, text) in &tree.files {
        let Some(dir) = path
            .strip_prefix("crates/")
            .and_then(|rest| rest.strip_suffix("/Cargo.toml"))
            .filter(|dir| !dir.contains('/'))
        else {
            continue;
        };
        match package_name(text) {
            Some(package) => crates.push(Crate {
                dir: dir.to_owned(),
                package,
            }),
            None => violations.push(Violation::new(path, 1, "no `name = \"...\"` in the [package] table")),
        }
    }
    crates
}

/// The `name` of the `[package]` table of a `Cargo.toml`.
fn package_name(manifest: &str) -> Option<String> {
    let mut in_package = false;
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_package = line == "[package]";
            continue;
        }
        if !in_package {
            continue;
        }
        let Some(value) = line
            .strip_prefix("name")
            .map(str::trim_start)
            .and_then(|rest| rest.strip_prefix('='))
        else {
            continue;
        };
        let value = value.trim();
        let value = value.strip_prefix('"')?;
        let end = value.find('"')?;
        return Some(value[..end].to_owned());
    }
    None
}

fn check_length(path: &str, text: &str) -> Option<Violation> {
    let lines = text.lines().count();
    (lines > MAX_LINES).then(|| {
        Violation::new(
            path,
            MAX_LINES + 1,
            format!("file has {lines} lines, over the limit of {MAX_LINES}; split it by responsibility"),
        )
    })
}

/// A library's `lib.rs` opens with a `//!` crate doc and denies missing docs.
fn check_lib_docs(path: &str, text: &str) -> Vec<Violation> {
    let mut violations = Vec::new();
    let first = text.lines().enumerate().find(|(_, line)| !line.trim().is_empty());
    match first {
        Some((_, line)) if line.trim_start().starts_with("//!") => {}
        Some((index, _)) => violations.push(Violation::new(
            path,
            index + 1,
            "lib.rs must start with a `//!` crate doc saying what the crate does and does not do",
        )),
        None => violations.push(Violation::new(
            path,
            1,
            "lib.rs is empty; it must start with a `//!` crate doc",
        )),
    }
    // Attributes on lines of their own; a commented-out one does not count.
    let denies_missing_docs = text
        .lines()
        .filter(|line| line.trim_start().starts_with("#!"))
        .any(|line| {
            let code: String = line.split_whitespace().collect();
            ["#![deny(", "#![forbid("].iter().any(|attr| {
                code.match_indices(attr).any(|(start, _)| {
                    let lints = &code[start + attr.len()..];
                    let lints = lints.split(')').next().unwrap_or_default();
                    lints.split(',').any(|lint| lint == "missing_docs")
                })
            })
        });
    if !denies_missing_docs {
        violations.push(Violation::new(
            path,
            1,
            "library crates must have `#![deny(missing_docs)]`",
        ));
    }
    violations
}

/// A crate map names every crate by directory and by package.
fn check_crate_map(path: &str, text: &str, crates: &[Crate]) -> Vec<Violation> {
    let mut violations = Vec::new();
    for krate in crates {
        if !mentions(text, &krate.dir) {
            violations.push(Violation::new(
                path,
                1,
                format!("does not mention the crate directory `{}`", krate.dir),
            ));
        }
        if !mentions(text, &krate.package) {
            violations.push(Violation::new(
                path,
                1,
                format!(
                    "does not mention the package `{}` (crates/{})",
                    krate.package, krate.dir
                ),
            ));
        }
    }
    violations
}

/// Whether `word` occurs in `text` as a whole name: `core` counts in
/// `crates/core` or `` `core` `` but not inside `contextos-core`.
fn mentions(text: &str, word: &str) -> bool {
    let is_name_char = |c: char| c.is_alphanumeric() || c == '_' || c == '-';
    text.match_indices(word).any(|(start, _)| {
        let before = text[..start].chars().next_back();
        let after = text[start + word.len()..].chars().next();
        !before.is_some_and(is_name_char) && !after.is_some_and(is_name_char)
    })
}

/// CI runs `.ci/run`, which must run the same checks as the README says.
fn check_ci_script(text: Option<&str>) -> Option<Violation> {
    let Some(text) = text else {
        return Some(Violation::new(
            CI_SCRIPT,
            1,
            format!("file is missing; CI runs it and it must run `{CI_COMMAND}`"),
        ));
    };
    let runs_tests = text
        .lines()
        .any(|line| !line.trim_start().starts_with('#') && line.contains(CI_COMMAND));
    (!runs_tests).then(|| Violation::new(CI_SCRIPT, 1, format!("must run `{CI_COMMAND}`")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIB: &str = "//! Does one thing.\n#![deny(missing_docs)]\n";
    const CI: &str = "#!/usr/bin/env bash\ncargo xtask test\n";
    const MAP: &str = "`crates/core` is `contextos-core`.\n";
    const CORE_TOML: &str = "[package]\nname = \"contextos-core\"\n";

    fn clean_tree<'a>(extra: impl IntoIterator<Item = (&'a str, &'a str)>) -> Tree {
        let mut files = vec![
            ("crates/core/Cargo.toml", CORE_TOML),
            ("crates/core/src/lib.rs", LIB),
            ("ARCHITECTURE.md", MAP),
            ("crates/README.md", MAP),
            (".ci/run", CI),
        ];
        files.extend(extra);
        Tree::from_files(files)
    }

    #[test]
    fn clean_tree_has_no_violations() {
        assert_eq!(check(&clean_tree([])), vec![]);
    }

    #[test]
    fn lib_needs_crate_doc_and_deny_missing_docs() {
        assert_eq!(check_lib_docs("l.rs", LIB), vec![]);
        assert_eq!(
            check_lib_docs("l.rs", "\n//! Doc.\n#![deny(missing_docs, unreachable_pub)]\n"),
            vec![]
        );
        assert_eq!(check_lib_docs("l.rs", "//! Doc.\n#![forbid(missing_docs)]\n"), vec![]);

        let found = check_lib_docs("l.rs", "#![deny(missing_docs)]\n//! Doc.\n");
        assert_eq!(found.len(), 1);
        assert!(found[0].message.contains("`//!` crate doc"));

        let found = check_lib_docs("l.rs", "//! Doc.\n// #![deny(missing_docs)]\n");
        assert_eq!(found.len(), 1);
        assert!(found[0].message.contains("#![deny(missing_docs)]"));

        assert_eq!(check_lib_docs("l.rs", "").len(), 2);
    }

    #[test]
    fn binary_crates_need_no_lib_docs() {
        let tree = clean_tree([
            ("crates/cli/Cargo.toml", "[package]\nname = \"contextos-cli\"\n"),
            ("crates/cli/src/main.rs", "fn main() {}\n"),
        ]);
        let found: Vec<String> = check(&tree).iter().map(ToString::to_string).collect();
        // Only the maps complain, about the new crate.
        assert_eq!(found.len(), 4, "{found:?}");
        assert!(
            found
                .iter()
                .all(|v| v.contains("`cli`") || v.contains("`contextos-cli`"))
        );
    }

    #[test]
    fn package_name_comes_from_the_package_table() {
        let toml = "[lib]\nname = \"lib_name\"\n\n[package]\ndescription = \"x\"\nname=\"contextos-core\"\n";
        assert_eq!(package_name(toml).as_deref(), Some("contextos-core"));
        assert_eq!(package_name("[workspace]\nname = \"x\"\n"), None);
    }

    #[test]
    fn crate_maps_must_name_directory_and_package() {
        let crates = [Crate {
            dir: "core".to_owned(),
            package: "contextos-core".to_owned(),
        }];
        assert_eq!(check_crate_map("A.md", MAP, &crates), vec![]);
        // `core` inside `contextos-core` is not a mention of the directory.
        let found = check_crate_map("A.md", "`contextos-core` does it.", &crates);
        assert_eq!(found.len(), 1);
        assert!(found[0].message.contains("directory `core`"));
        let found = check_crate_map("A.md", "crates/core and contextos-core-extra", &crates);
        assert_eq!(found.len(), 1);
        assert!(found[0].message.contains("package `contextos-core`"));
    }

    #[test]
    fn missing_crate_maps_and_ci_script_are_reported() {
        let tree = Tree::from_files([]);
        let found: Vec<String> = check(&tree).iter().map(ToString::to_string).collect();
        assert_eq!(
            found,
            vec![
                ".ci/run:1: file is missing; CI runs it and it must run `cargo xtask test`",
                "ARCHITECTURE.md:1: file is missing; it must describe every crate under crates/",
                "crates/README.md:1: file is missing; it must describe every crate under crates/",
            ]
        );
    }

    #[test]
    fn ci_script_must_run_xtask_test() {
        assert_eq!(check_ci_script(Some(CI)), None);
        assert!(check_ci_script(Some("#!/bin/sh\n# cargo xtask test\ncargo test\n")).is_some());
    }

    #[test]
    fn long_files_are_flagged_in_crates_and_xtask() {
        let ok = "x\n".repeat(MAX_LINES);
        let long = "x\n".repeat(MAX_LINES + 1);
        let tree = clean_tree([
            ("crates/core/src/ok.rs", ok.as_str()),
            ("crates/core/src/long.rs", long.as_str()),
            ("xtask/src/long.rs", long.as_str()),
        ]);
        let found: Vec<String> = check(&tree).iter().map(ToString::to_string).collect();
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].starts_with("crates/core/src/long.rs:1201: file has 1201 lines"));
        assert!(found[1].starts_with("xtask/src/long.rs:1201:"));
    }

    #[test]
    fn violations_print_as_path_line_message() {
        let violation = Violation::new("a/b.rs", 7, "bad");
        assert_eq!(violation.to_string(), "a/b.rs:7: bad");
    }
}
