//! `cargo xtask tidy`: project rules that the compiler and clippy do not
//! check. The rules are pure functions of a [`Tree`] of file contents, so
//! they are tested on in-memory files; only [`run`] reads the disk.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io;
use std::path::Path;

use crate::lexer::{self, Line};

/// Longest allowed `.rs` file, in lines.
pub const MAX_LINES: usize = 1200;

/// The one file that may touch the clock, randomness and the environment:
/// the live implementations of `Clock` and `IdGen`.
const LIVE_FILE: &str = "crates/core/src/live.rs";

/// Documents that must name every crate.
const CRATE_MAPS: [&str; 2] = ["ARCHITECTURE.md", "crates/README.md"];

const CI_SCRIPT: &str = ".ci/run";
const CI_COMMAND: &str = "cargo xtask test";

const USE_CLOCK: &str = "take time from the injected `Clock`";
const USE_ID_GEN: &str = "take ids and randomness from the injected `IdGen`";
const USE_CONFIG: &str = "read the environment at the CLI edge and pass values in";

/// Calls that make a run depend on the machine rather than its inputs
/// (ARCHITECTURE.md, Determinism), with what to do instead. A pattern matches only
/// where it does not continue an identifier (`OsRng` but not `MyOsRng`).
const BANNED: &[(&str, &str)] = &[
    ("SystemTime::now", USE_CLOCK),
    ("Instant::now", USE_CLOCK),
    ("chrono::Utc::now", USE_CLOCK),
    ("Utc::now", USE_CLOCK),
    ("thread_rng", USE_ID_GEN),
    ("rand::random", USE_ID_GEN),
    ("OsRng", USE_ID_GEN),
    ("getrandom::", USE_ID_GEN),
    // Also covers `std::env::var_os`, `std::env::vars` and `std::env::vars_os`.
    ("std::env::var", USE_CONFIG),
    ("env::var(", USE_CONFIG),
    ("env::var_os(", USE_CONFIG),
    ("env::vars(", USE_CONFIG),
    ("env::vars_os(", USE_CONFIG),
];

/// One broken rule, printed as `path:line: message`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Violation {
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
pub struct Tree {
    files: BTreeMap<String, String>,
}

impl Tree {
    /// Builds a tree from in-memory `(path, contents)` pairs.
    #[cfg(test)]
    pub fn from_files<'a>(files: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Self {
            files: files
                .into_iter()
                .map(|(path, text)| (path.to_owned(), text.to_owned()))
                .collect(),
        }
    }

    /// Reads every `.rs` file and `Cargo.toml` under `crates/` and `xtask/`,
    /// plus the crate maps and the CI script, from the repository at `root`.
    pub fn read(root: &Path) -> Result<Self, String> {
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
    pub fn len(&self) -> usize {
        self.files.len()
    }
}

/// Checks the repository at `root`, prints every violation and fails if
/// there was any.
pub fn run(root: &Path) -> Result<(), String> {
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
pub fn check(tree: &Tree) -> Vec<Violation> {
    let mut violations = Vec::new();
    for (path, text) in &tree.files {
        if !path.ends_with(".rs") {
            continue;
        }
        let in_crates = path.starts_with("crates/");
        if in_crates || path.starts_with("xtask/") {
            violations.extend(check_length(path, text));
        }
        if in_crates && path != LIVE_FILE {
            violations.extend(check_banned_calls(path, text));
        }
        if is_crate_source(path) {
            violations.extend(check_allow_attributes(path, text));
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

/// `crates/<name>/src/...`
fn is_crate_source(path: &str) -> bool {
    let parts: Vec<&str> = path.split('/').collect();
    parts.len() >= 4 && parts[0] == "crates" && parts[2] == "src"
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

/// Banned calls in code (not comments or strings), unless the line opts out
/// with `// tidy: allow(<reason>)`.
fn check_banned_calls(path: &str, text: &str) -> Vec<Violation> {
    let mut violations = Vec::new();
    for (index, line) in lexer::split_lines(text).iter().enumerate() {
        let found = banned_calls(&line.code);
        if found.is_empty() {
            continue;
        }
        let number = index + 1;
        match opt_out(line) {
            Some(reason) if !reason.is_empty() => continue,
            Some(_) => violations.push(Violation::new(
                path,
                number,
                "`// tidy: allow()` needs a reason inside the parentheses",
            )),
            None => {}
        }
        for (pattern, instead) in found {
            violations.push(Violation::new(
                path,
                number,
                format!(
                    "`{pattern}` is nondeterministic; {instead} (only {LIVE_FILE} may call it), \
                     or end the line with `// tidy: allow(<reason>)`"
                ),
            ));
        }
    }
    violations
}

/// The banned patterns in `code`, left to right. Where matches overlap
/// (`chrono::Utc::now` and `Utc::now`), only the longest, leftmost is kept.
fn banned_calls(code: &str) -> Vec<(&'static str, &'static str)> {
    let mut matches: Vec<(usize, usize, &'static str, &'static str)> = Vec::new();
    for &(pattern, instead) in BANNED {
        for (start, _) in code.match_indices(pattern) {
            let continues_ident = code[..start]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_alphanumeric() || c == '_');
            if !continues_ident {
                matches.push((start, start + pattern.len(), pattern, instead));
            }
        }
    }
    // Leftmost first, and the longest of those starting at the same place.
    matches.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
    let mut kept = Vec::new();
    let mut covered_until = 0;
    for (start, end, pattern, instead) in matches {
        if start >= covered_until {
            kept.push((pattern, instead));
            covered_until = end;
        }
    }
    kept
}

/// The reason in a `// tidy: allow(<reason>)` comment on this line, trimmed
/// (possibly empty), or `None` without such a comment.
fn opt_out(line: &Line) -> Option<&str> {
    let (_, after) = line.comment.split_once("tidy:")?;
    let inner = after.trim_start().strip_prefix("allow(")?;
    let end = inner.rfind(')')?;
    Some(inner[..end].trim())
}

/// `#[allow(...)]` hides a lint forever; `#[expect(..., reason = "...")]`
/// says why and goes stale loudly (STYLE.md).
fn check_allow_attributes(path: &str, text: &str) -> Vec<Violation> {
    lexer::split_lines(text)
        .iter()
        .enumerate()
        .filter(|(_, line)| {
            let code: String = line.code.split_whitespace().collect();
            code.contains("#[allow(") || code.contains("#![allow(")
        })
        .map(|(index, _)| {
            Violation::new(
                path,
                index + 1,
                "use `#[expect(lint, reason = \"...\")]` instead of `#[allow(...)]`",
            )
        })
        .collect()
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
    let denies_missing_docs = lexer::split_lines(text).iter().any(|line| {
        let code: String = line.code.split_whitespace().collect();
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

    fn banned(path: &str, text: &str) -> Vec<String> {
        check_banned_calls(path, text).iter().map(ToString::to_string).collect()
    }

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
    fn banned_call_is_flagged_with_path_and_line() {
        let found = banned(
            "crates/x/src/a.rs",
            "fn f() {\n    let t = std::time::SystemTime::now();\n}\n",
        );
        assert_eq!(found.len(), 1);
        assert!(
            found[0].starts_with("crates/x/src/a.rs:2: `SystemTime::now` is nondeterministic"),
            "{found:?}"
        );
    }

    #[test]
    fn every_banned_pattern_is_caught() {
        let lines = [
            "let t = Instant::now();",
            "let t = chrono::Utc::now();",
            "let t = Utc::now();",
            "let mut r = rand::thread_rng();",
            "let x: u8 = rand::random();",
            "let r = OsRng;",
            "getrandom::fill(&mut buf)?;",
            "let v = std::env::var(\"HOME\");",
            "let v = std::env::var_os(\"HOME\");",
            "let v = env::var(\"HOME\");",
            "for (k, v) in env::vars() {}",
        ];
        for line in lines {
            assert_eq!(banned("crates/x/src/a.rs", line).len(), 1, "{line}");
        }
    }

    #[test]
    fn overlapping_patterns_are_reported_once() {
        let found = banned("crates/x/src/a.rs", "let t = chrono::Utc::now();");
        assert_eq!(found.len(), 1);
        assert!(found[0].contains("`chrono::Utc::now`"), "{found:?}");
        let found = banned("crates/x/src/a.rs", "let v = std::env::var(\"X\");");
        assert_eq!(found.len(), 1, "{found:?}");
    }

    #[test]
    fn two_calls_on_one_line_are_both_reported() {
        let found = banned("crates/x/src/a.rs", "(Instant::now(), env::var(\"X\"))");
        assert_eq!(found.len(), 2, "{found:?}");
    }

    #[test]
    fn comment_lines_are_not_flagged() {
        let text = "// SystemTime::now is banned\n/// Uses `Instant::now` in live.rs\n\
                    //! env::var( is read by the CLI\n/* OsRng */\n";
        assert_eq!(banned("crates/x/src/a.rs", text), Vec::<String>::new());
    }

    #[test]
    fn trailing_comments_and_strings_are_not_flagged() {
        let text = "let x = 1; // not Instant::now\nlet m = \"thread_rng is banned\";\n";
        assert_eq!(banned("crates/x/src/a.rs", text), Vec::<String>::new());
    }

    #[test]
    fn identifiers_containing_a_pattern_are_not_flagged() {
        let text = "let r = MyOsRng::new();\nlet d = my_getrandom::x();\n";
        assert_eq!(banned("crates/x/src/a.rs", text), Vec::<String>::new());
    }

    #[test]
    fn allow_comment_with_reason_opts_out() {
        let text = "let t = Instant::now(); // tidy: allow(bench timing only)\n";
        assert_eq!(banned("crates/x/src/a.rs", text), Vec::<String>::new());
    }

    #[test]
    fn allow_comment_without_reason_is_a_violation() {
        for comment in ["// tidy: allow()", "// tidy: allow(   )"] {
            let text = format!("let t = Instant::now(); {comment}\n");
            let found = banned("crates/x/src/a.rs", &text);
            assert_eq!(found.len(), 2, "{found:?}");
            assert!(found[0].contains("needs a reason"), "{found:?}");
        }
    }

    #[test]
    fn allow_comment_on_another_line_does_not_opt_out() {
        let text = "// tidy: allow(reason)\nlet t = Instant::now();\n";
        assert_eq!(banned("crates/x/src/a.rs", text).len(), 1);
    }

    #[test]
    fn live_rs_is_exempt_and_xtask_is_not_scanned() {
        let call = "let t = SystemTime::now();\n";
        let tree = clean_tree([("crates/core/src/live.rs", call), ("xtask/src/main.rs", call)]);
        assert_eq!(check(&tree), vec![]);
        let tree = clean_tree([("crates/core/src/clock.rs", call)]);
        let found = check(&tree);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].path, "crates/core/src/clock.rs");
        assert_eq!(found[0].line, 1);
    }

    #[test]
    fn banned_calls_in_tests_and_benches_are_flagged() {
        let tree = clean_tree([("crates/core/benches/b.rs", "Instant::now();\n")]);
        assert_eq!(check(&tree).len(), 1);
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
    fn allow_attributes_are_flagged_in_crate_sources_only() {
        let text = "#[allow(dead_code)]\nfn a() {}\n#![allow(unused)]\n\
                    #[expect(dead_code, reason = \"x\")]\n// #[allow(x)]\nlet s = \"#[allow(x)]\";\n";
        let found = check_allow_attributes("crates/core/src/a.rs", text);
        let lines: Vec<usize> = found.iter().map(|v| v.line).collect();
        assert_eq!(lines, vec![1, 3]);

        let tree = clean_tree([
            ("crates/core/src/a.rs", "#[allow(dead_code)]\n"),
            ("crates/core/tests/t.rs", "#[allow(dead_code)]\n"),
            ("xtask/src/a.rs", "#[allow(dead_code)]\n"),
        ]);
        let found = check(&tree);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].path, "crates/core/src/a.rs");
    }

    #[test]
    fn violations_print_as_path_line_message() {
        let violation = Violation::new("a/b.rs", 7, "bad");
        assert_eq!(violation.to_string(), "a/b.rs:7: bad");
    }
}
