//! Nothing a command writes or deletes leaves the project: `scenario record`
//! and `golden accept` on a scratch copy of the bundled suite whose fixtures,
//! goldens or names point outside it.
#![cfg(unix)]
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

mod common;

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use common::{contextos_in, says, scratch_project};

const SUITE: &str = "scenarios/customer-escalation";
const CASE: &str = "refund-approved-by-support-lead";

/// Every entry under `dir` (links as links), relative, with file bytes.
fn tree(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let rel = path.strip_prefix(root).unwrap().to_path_buf();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            if meta.is_dir() {
                out.push((rel, b"<dir>".to_vec()));
                walk(root, &path, out);
            } else if meta.file_type().is_symlink() {
                out.push((
                    rel,
                    std::fs::read_link(&path).unwrap().into_os_string().into_encoded_bytes(),
                ));
            } else {
                out.push((rel, std::fs::read(&path).unwrap()));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// Moves `dir/rel` to `outside/rel` and leaves a symbolic link to it in its place.
fn move_out_and_link(dir: &Path, rel: &str, outside: &Path) -> PathBuf {
    let away = outside.join(rel.replace('/', "_"));
    std::fs::rename(dir.join(rel), &away).unwrap();
    symlink(&away, dir.join(rel)).unwrap();
    away
}

#[test]
fn record_refuses_a_fixtures_directory_symlinked_outside_the_suite_and_leaves_it_untouched() {
    let work = scratch_project();
    let dir = work.path();
    let outside = tempfile::tempdir().unwrap();
    move_out_and_link(dir, &format!("{SUITE}/fixtures"), outside.path());
    let before = tree(outside.path());
    let r = contextos_in(dir, &["scenario", "record", SUITE, "--case", CASE]);
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(says(&r.stderr, "symbolic link"), "{}", r.stderr);
    assert!(says(&r.stderr, &format!("{SUITE}/fixtures/{CASE}")), "{}", r.stderr);
    assert_eq!(tree(outside.path()), before, "nothing outside the project changed");
}

#[test]
fn record_refuses_a_case_fixtures_directory_that_is_a_symlink() {
    let work = scratch_project();
    let dir = work.path();
    let outside = tempfile::tempdir().unwrap();
    let rel = format!("{SUITE}/fixtures/{CASE}");
    move_out_and_link(dir, &rel, outside.path());
    let before = (tree(outside.path()), tree(&dir.join(SUITE)));
    let r = contextos_in(dir, &["scenario", "record", SUITE, "--case", CASE]);
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(says(&r.stderr, "is a symbolic link"), "{}", r.stderr);
    assert_eq!(
        (tree(outside.path()), tree(&dir.join(SUITE))),
        before,
        "nothing changed"
    );
}

#[test]
fn a_suite_named_to_climb_out_of_the_goldens_is_refused_at_load_at_its_line() {
    let work = scratch_project();
    let dir = work.path();
    let path = dir.join(SUITE).join("suite.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let line = text.lines().position(|l| l.starts_with("name:")).unwrap() + 1;
    std::fs::write(&path, text.replace("name: customer-escalation", "name: ../../x")).unwrap();
    let before = tree(dir);
    let r = contextos_in(dir, &["golden", "accept", SUITE]);
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(
        says(&r.stderr, &format!("{SUITE}/suite.yaml:{line}:7")),
        "names the file, line and column of the field: {}",
        r.stderr
    );
    assert!(
        says(&r.stderr, "field name: suite name \"../../x\" is not an identifier"),
        "{}",
        r.stderr
    );
    assert_eq!(tree(dir), before, "nothing written");
}

#[test]
fn a_case_name_with_a_slash_is_refused_at_load() {
    let work = scratch_project();
    let dir = work.path();
    let path = dir.join(SUITE).join("cases").join(format!("{CASE}.yaml"));
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace(&format!("name: {CASE}"), "name: a/b")).unwrap();
    let r = contextos_in(dir, &["eval", SUITE]);
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(
        says(&r.stderr, "field name: case name \"a/b\" is not an identifier"),
        "{}",
        r.stderr
    );
}

#[test]
fn golden_accept_refuses_a_golden_symlinked_outside_and_writes_nothing() {
    let work = scratch_project();
    let dir = work.path();
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().join("precious.json");
    std::fs::write(&target, "precious").unwrap();
    let golden = dir
        .join("goldens/customer-escalation")
        .join(format!("{CASE}.packet.json"));
    std::fs::remove_file(&golden).unwrap();
    symlink(&target, &golden).unwrap();
    let before = tree(&dir.join("goldens"));
    let r = contextos_in(dir, &["golden", "accept", SUITE]);
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(says(&r.stderr, &format!("{CASE}.packet.json")), "{}", r.stderr);
    assert!(says(&r.stderr, "is a symbolic link"), "{}", r.stderr);
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "precious");
    assert_eq!(tree(&dir.join("goldens")), before, "no golden written");
}

#[test]
fn golden_accept_refuses_a_suite_goldens_directory_symlinked_outside() {
    let work = scratch_project();
    let dir = work.path();
    let outside = tempfile::tempdir().unwrap();
    let away = move_out_and_link(dir, "goldens/customer-escalation", outside.path());
    std::fs::write(away.join(format!("{CASE}.packet.json")), "precious").unwrap();
    let before = tree(outside.path());
    let r = contextos_in(dir, &["golden", "accept", SUITE]);
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(says(&r.stderr, "through a symbolic link"), "{}", r.stderr);
    assert_eq!(tree(outside.path()), before);
}

#[test]
fn new_case_refuses_a_cases_directory_symlinked_outside_the_suite() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let init = contextos_in(dir, &["init"]);
    assert_eq!(init.code, 0, "{}", init.stderr);
    let outside = tempfile::tempdir().unwrap();
    move_out_and_link(dir, "scenarios/assistant/cases", outside.path());
    let before = tree(outside.path());
    let r = contextos_in(dir, &["new", "case", "escaped"]);
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(says(&r.stderr, "escaped.yaml"), "{}", r.stderr);
    assert!(says(&r.stderr, "through a symbolic link"), "{}", r.stderr);
    assert_eq!(tree(outside.path()), before, "nothing written outside");
}

#[test]
fn init_refuses_a_project_folder_symlinked_outside_and_writes_nothing_there() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let outside = tempfile::tempdir().unwrap();
    symlink(outside.path(), dir.join("scenarios")).unwrap();
    let r = contextos_in(dir, &["init"]);
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(says(&r.stderr, "through a symbolic link"), "{}", r.stderr);
    assert!(tree(outside.path()).is_empty(), "nothing written outside");
    assert_eq!(
        std::fs::read_dir(dir).unwrap().count(),
        1,
        "only the link is there: init wrote nothing"
    );
}

#[test]
fn promote_refuses_a_fixtures_directory_symlinked_outside_the_suite() {
    let work = scratch_project();
    let dir = work.path();
    let run = contextos_in(dir, &["run", "runtime/examples/escalation/request.yaml"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let outside = tempfile::tempdir().unwrap();
    move_out_and_link(dir, &format!("{SUITE}/fixtures"), outside.path());
    let before = (tree(outside.path()), tree(&dir.join(SUITE)), tree(&dir.join("goldens")));
    let r = contextos_in(dir, &["promote", "run_escalation_4411", "--case", "promoted-refund"]);
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(says(&r.stderr, "fixtures/promoted-refund"), "{}", r.stderr);
    assert!(says(&r.stderr, "through a symbolic link"), "{}", r.stderr);
    let after = (tree(outside.path()), tree(&dir.join(SUITE)), tree(&dir.join("goldens")));
    assert_eq!(after, before, "nothing written, inside or outside");
}
