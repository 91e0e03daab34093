//! The tidy rule "no two files of one crate import each other".
//!
//! Two files that import each other are one module cut in two: neither can be
//! read, tested or moved alone. Per crate (`crates/<name>/src/` and
//! `xtask/src/`) this builds a graph of files from the sources:
//!
//! - `mod name;` points from the declaring file to the child's file (a
//!   `#[cfg(test)]` module is the file's own business and is left out);
//! - `use crate::…`, `use super::…` and `use self::…` items, and `crate::…`
//!   paths in code, point to the file that defines what they name. A name
//!   re-exported by a module file (`pub use x::Name;`, which every `lib.rs`
//!   spells out) is followed to the file it comes from, so importing through
//!   the crate root is not an edge to `lib.rs`.
//!
//! `super::` paths are resolved only in `use` items at the start of a line:
//! an indented one sits in an inline module (a test module, usually), whose
//! `super` is the file itself, and a `super::` path inside code is not
//! followed for the same reason. Every pair of files with edges both ways is
//! a violation naming both.

use std::collections::{BTreeMap, BTreeSet};

/// Two files of one crate that import each other.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct ImportCycle {
    /// The file that sorts first.
    pub first: String,
    /// The other file.
    pub second: String,
}

impl ImportCycle {
    /// What is wrong and what to do about it.
    pub(crate) fn message(&self) -> String {
        format!(
            "imports {}, which imports it back; move what they share to the module that owns it \
             (or one of its own) so the imports point one way",
            self.second
        )
    }
}

/// Every import cycle of length two among the `.rs` files of `files`
/// (`(path, contents)`, paths relative to the repository root), sorted.
pub(crate) fn import_cycles<'a>(files: impl IntoIterator<Item = (&'a str, &'a str)>) -> Vec<ImportCycle> {
    let mut crates: BTreeMap<String, BTreeMap<Vec<String>, (&'a str, &'a str)>> = BTreeMap::new();
    for (path, text) in files {
        if let Some((root, module)) = module_of(path) {
            crates.entry(root).or_default().insert(module, (path, text));
        }
    }
    let mut cycles = Vec::new();
    for modules in crates.values() {
        let edges = crate_edges(modules);
        for (from, tos) in &edges {
            for to in tos {
                let back = edges.get(to).is_some_and(|set| set.contains(from));
                if back && from < to {
                    cycles.push(ImportCycle {
                        first: from.clone(),
                        second: to.clone(),
                    });
                }
            }
        }
    }
    cycles.sort();
    cycles
}

/// The crate source root (`crates/x/src/`) and module path of a `.rs` file,
/// or `None` for files outside crate sources.
fn module_of(path: &str) -> Option<(String, Vec<String>)> {
    let rs = path.strip_suffix(".rs")?;
    let (root, rest) = if let Some(rest) = rs.strip_prefix("xtask/src/") {
        ("xtask/src/".to_owned(), rest)
    } else {
        let after = rs.strip_prefix("crates/")?;
        let (name, rest) = after.split_once("/src/")?;
        if name.contains('/') {
            return None;
        }
        (format!("crates/{name}/src/"), rest)
    };
    let mut module: Vec<String> = rest.split('/').map(str::to_owned).collect();
    if module.len() == 1 && (module[0] == "lib" || module[0] == "main") {
        module.clear();
    } else if module.last().is_some_and(|last| last == "mod") {
        module.pop();
    }
    Some((root, module))
}

/// File -> files it imports, for one crate.
fn crate_edges(modules: &BTreeMap<Vec<String>, (&str, &str)>) -> BTreeMap<String, BTreeSet<String>> {
    let reexports: BTreeMap<&Vec<String>, BTreeMap<String, Vec<String>>> = modules
        .iter()
        .map(|(module, (_, text))| (module, reexports_of(module, text)))
        .collect();
    let resolver = Resolver { modules, reexports };
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, (path, text)) in modules {
        let mut targets = BTreeSet::new();
        for child in child_modules(text) {
            let mut child_path = module.clone();
            child_path.push(child);
            targets.extend(resolver.file_of(&child_path));
        }
        for (segments, top_level) in imported_paths(text) {
            if let Some(absolute) = absolute_path(module, &segments, top_level) {
                targets.extend(resolver.file_of(&absolute));
            }
        }
        targets.remove(*path);
        edges.insert((*path).to_owned(), targets);
    }
    edges
}

struct Resolver<'m, 'a> {
    modules: &'m BTreeMap<Vec<String>, (&'a str, &'a str)>,
    /// Per module: name it re-exports -> absolute path of what it names.
    reexports: BTreeMap<&'m Vec<String>, BTreeMap<String, Vec<String>>>,
}

impl Resolver<'_, '_> {
    /// The file defining what the absolute path `segments` names: the
    /// deepest module file on the path, following re-exports.
    fn file_of(&self, segments: &[String]) -> Option<String> {
        let mut target = segments.to_vec();
        // Re-exports can chain (lib.rs -> policy/mod.rs -> suite.rs); a few hops suffice.
        for _ in 0..8 {
            let depth = (0..=target.len())
                .rev()
                .find(|&n| self.modules.contains_key(&target[..n]))?;
            let module = target[..depth].to_vec();
            let followed = target
                .get(depth)
                .and_then(|name| self.reexports.get(&module).and_then(|names| names.get(name)));
            match followed {
                Some(next) if *next != target => {
                    let mut next = next.clone();
                    next.extend(target[depth + 1..].iter().cloned());
                    target = next;
                }
                _ => return self.modules.get(&module).map(|(path, _)| (*path).to_owned()),
            }
        }
        None
    }
}

/// `mod name;` declarations (not inline modules, not `#[cfg(test)]` ones).
fn child_modules(text: &str) -> Vec<String> {
    let mut children = Vec::new();
    let mut previous = "";
    for line in text.lines() {
        let trimmed = line.trim();
        let declaration = ["mod ", "pub mod ", "pub(crate) mod "]
            .iter()
            .find_map(|prefix| line.strip_prefix(prefix))
            .and_then(|rest| rest.strip_suffix(';'));
        if let Some(name) = declaration
            && previous != "#[cfg(test)]"
        {
            children.push(name.trim().to_owned());
        }
        if !trimmed.is_empty() {
            previous = trimmed;
        }
    }
    children
}

/// Names a module file re-exports (`pub use a::b::{C, D as E};`), each with
/// the absolute path of what it names.
fn reexports_of(module: &[String], text: &str) -> BTreeMap<String, Vec<String>> {
    let mut names = BTreeMap::new();
    for statement in use_statements(text) {
        if !statement.top_level || !statement.public {
            continue;
        }
        for (segments, alias) in expand_tree(&statement.tree) {
            let Some(last) = segments.last() else { continue };
            let name = alias.unwrap_or_else(|| last.clone());
            if name == "*" || name == "self" {
                continue;
            }
            // Relative to this module unless it starts with crate/super/self.
            let absolute = match segments.first().map(String::as_str) {
                Some("crate") => segments[1..].to_vec(),
                Some("super") => {
                    let mut parent = module.to_vec();
                    parent.pop();
                    parent.extend(segments[1..].iter().cloned());
                    parent
                }
                Some("self") => {
                    let mut here = module.to_vec();
                    here.extend(segments[1..].iter().cloned());
                    here
                }
                _ => {
                    let mut here = module.to_vec();
                    here.extend(segments.iter().cloned());
                    here
                }
            };
            names.insert(name, absolute);
        }
    }
    names
}

/// Paths a file imports: `(segments starting with crate/super/self, whether
/// the import is a top-level use item)`.
fn imported_paths(text: &str) -> Vec<(Vec<String>, bool)> {
    let mut paths = Vec::new();
    for statement in use_statements(text) {
        for (segments, _) in expand_tree(&statement.tree) {
            paths.push((segments, statement.top_level));
        }
    }
    for line in text.lines() {
        let code = line.trim_start();
        if code.starts_with("//") || code.starts_with("use ") || code.starts_with("pub use ") {
            continue;
        }
        for (at, _) in line.match_indices("crate::") {
            let before = &line[..at];
            // Quotes not escaped with a backslash open and close strings.
            let quotes = before
                .match_indices('"')
                .filter(|&(i, _)| !before[..i].ends_with('\\'))
                .count();
            let in_string = quotes % 2 == 1;
            let continues_identifier = before
                .chars()
                .last()
                .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$');
            let path: String = line[at + "crate::".len()..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            if !in_string && !continues_identifier && !path.is_empty() {
                let mut segments = vec!["crate".to_owned()];
                segments.extend(path.split("::").filter(|s| !s.is_empty()).map(str::to_owned));
                paths.push((segments, false));
            }
        }
    }
    paths
}

/// `segments` (starting with crate/super/self) as a path from the crate root,
/// or `None` for paths into other crates and `super` that cannot be placed.
fn absolute_path(module: &[String], segments: &[String], top_level: bool) -> Option<Vec<String>> {
    let (first, rest) = segments.split_first()?;
    // The module a `self`/`super` in this file starts from.
    let mut base = module.to_vec();
    match first.as_str() {
        "crate" => base.clear(),
        "self" if top_level => {}
        "super" if top_level => {
            base.pop()?;
        }
        _ => return None,
    }
    base.extend(rest.iter().cloned());
    Some(base)
}

/// One `use` item.
struct UseStatement {
    /// The use tree, e.g. `crate::a::{B, c::D}`.
    tree: String,
    /// At the start of a line (a file-level item), not in a function or inline module.
    top_level: bool,
    /// `pub use` (any visibility): a re-export.
    public: bool,
}

/// The `use` items of a file, each joined onto one line.
fn use_statements(text: &str) -> Vec<UseStatement> {
    let mut statements = Vec::new();
    let mut current: Option<UseStatement> = None;
    for line in text.lines() {
        if let Some(statement) = current.as_mut() {
            statement.tree.push(' ');
            statement.tree.push_str(line.trim());
        } else {
            let trimmed = line.trim_start();
            let top_level = trimmed.len() == line.len();
            let (public, rest) = if let Some(rest) = trimmed.strip_prefix("use ") {
                (false, rest)
            } else if let Some(rest) = ["pub use ", "pub(crate) use ", "pub(super) use "]
                .iter()
                .find_map(|prefix| trimmed.strip_prefix(prefix))
            {
                (true, rest)
            } else {
                continue;
            };
            current = Some(UseStatement {
                tree: rest.trim().to_owned(),
                top_level,
                public,
            });
        }
        if let Some(statement) = current.take_if(|s| s.tree.ends_with(';')) {
            let tree = statement.tree.trim_end_matches(';').trim().to_owned();
            statements.push(UseStatement { tree, ..statement });
        }
    }
    statements
}

/// A use tree expanded into its paths, each with its `as` alias:
/// `a::{b, c::{D as E}}` -> `a::b`, `a::c::D as E`.
fn expand_tree(tree: &str) -> Vec<(Vec<String>, Option<String>)> {
    let tree = tree.trim();
    let Some(open) = tree.find('{') else {
        let (path, alias) = match tree.split_once(" as ") {
            Some((path, alias)) => (path.trim(), Some(alias.trim().to_owned())),
            None => (tree, None),
        };
        let segments: Vec<String> = path
            .split("::")
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        return if segments.is_empty() {
            Vec::new()
        } else {
            vec![(segments, alias)]
        };
    };
    let prefix: Vec<String> = tree[..open]
        .split("::")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    let inner = tree[open + 1..].trim_end().trim_end_matches('}');
    let mut out = Vec::new();
    for part in split_top_level(inner) {
        for (mut segments, alias) in expand_tree(part) {
            // `a::{self, b}`: `self` names `a` itself.
            if segments.first().is_some_and(|s| s == "self") && segments.len() == 1 {
                segments.clear();
            }
            let mut full = prefix.clone();
            full.extend(segments);
            if !full.is_empty() {
                out.push((full, alias));
            }
        }
    }
    out
}

/// `a, b::{c, d}, e` split at the commas outside braces.
fn split_top_level(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts.into_iter().map(str::trim).filter(|p| !p.is_empty()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cycles(files: &[(&str, &str)]) -> Vec<String> {
        import_cycles(files.iter().copied())
            .iter()
            .map(|c| format!("{} <-> {}", c.first, c.second))
            .collect()
    }

    const LIB: &str = "mod a;\nmod b;\n\npub use a::A;\npub use b::{B, helper};\n";

    #[test]
    fn files_importing_each_other_are_a_cycle() {
        let found = cycles(&[
            ("crates/x/src/lib.rs", LIB),
            ("crates/x/src/a.rs", "use crate::b::helper;\npub struct A;\n"),
            (
                "crates/x/src/b.rs",
                "use crate::a::A;\npub struct B;\npub fn helper() {}\n",
            ),
        ]);
        assert_eq!(found, ["crates/x/src/a.rs <-> crates/x/src/b.rs"]);
    }

    #[test]
    fn imports_through_the_crate_root_are_followed_to_the_defining_file() {
        let found = cycles(&[
            ("crates/x/src/lib.rs", LIB),
            ("crates/x/src/a.rs", "use crate::{B, helper};\npub struct A;\n"),
            (
                "crates/x/src/b.rs",
                "pub struct B;\npub fn helper() {\n    let _ = crate::A;\n}\n",
            ),
        ]);
        assert_eq!(found, ["crates/x/src/a.rs <-> crates/x/src/b.rs"]);
    }

    #[test]
    fn one_way_imports_and_the_crate_root_are_fine() {
        let found = cycles(&[
            ("crates/x/src/lib.rs", LIB),
            ("crates/x/src/a.rs", "use crate::B;\npub struct A;\n"),
            ("crates/x/src/b.rs", "pub struct B;\npub fn helper() {}\n"),
        ]);
        assert_eq!(found, Vec::<String>::new());
    }

    #[test]
    fn a_child_using_its_parent_is_a_cycle_but_test_modules_are_not() {
        let parent = "mod html;\n#[cfg(test)]\nmod tests;\n\npub fn escape() {}\npub use html::render;\n";
        let found = cycles(&[
            ("crates/x/src/lib.rs", "mod report;\npub use report::render;\n"),
            ("crates/x/src/report/mod.rs", parent),
            (
                "crates/x/src/report/html.rs",
                "use super::escape;\npub fn render() {}\n",
            ),
            ("crates/x/src/report/tests.rs", "use super::*;\n"),
        ]);
        assert_eq!(found, ["crates/x/src/report/html.rs <-> crates/x/src/report/mod.rs"]);
    }

    #[test]
    fn indented_super_strings_and_other_crates_are_ignored() {
        let a = "use contextos_core::b;\npub fn f() {}\n\nmod tests {\n    use super::*;\n    const T: &str = \"crate::b::g\";\n}\n";
        let found = cycles(&[
            ("crates/x/src/lib.rs", "mod a;\nmod b;\n"),
            ("crates/x/src/a.rs", a),
            ("crates/x/src/b.rs", "use crate::a::f;\npub fn g() {}\n"),
            ("crates/y/src/lib.rs", "mod a;\n"),
            ("crates/y/src/a.rs", "use contextos_x::a;\n"),
        ]);
        assert_eq!(found, Vec::<String>::new());
    }

    #[test]
    fn nested_use_trees_are_expanded() {
        let tree = expand_tree("crate::{a::{self, B as C}, d::E}");
        let paths: Vec<String> = tree
            .iter()
            .map(|(s, alias)| {
                format!(
                    "{}{}",
                    s.join("::"),
                    alias.as_ref().map_or(String::new(), |a| format!(" as {a}"))
                )
            })
            .collect();
        assert_eq!(paths, ["crate::a", "crate::a::B as C", "crate::d::E"]);
    }

    #[test]
    fn the_cli_cycle_that_was_once_allowed_is_a_violation_again() {
        let found = cycles(&[
            ("crates/cli/src/main.rs", "mod live;\nmod tools_cmd;\n"),
            ("crates/cli/src/live.rs", "use crate::tools_cmd::mcp;\n"),
            ("crates/cli/src/tools_cmd.rs", "use crate::live::x;\npub fn mcp() {}\n"),
        ]);
        assert_eq!(found, ["crates/cli/src/live.rs <-> crates/cli/src/tools_cmd.rs"]);
    }
}
