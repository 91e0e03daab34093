//! Bad input fails clearly: unreadable fixture parts are exit 2 naming the
//! file in `run --fixtures` and `eval` alike, echoed values are bounded,
//! `pack build` refuses what `pack sign` would, and an empty `.cedar` file is
//! no policy file.
#![cfg(unix)]
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

mod common;

use std::path::Path;

use common::{contextos_in, says, scratch_project};

const SUITE: &str = "scenarios/customer-escalation";
const CASE: &str = "refund-approved-by-support-lead";
const EXAMPLE: &str = "runtime/examples/escalation";

/// Breaks a fixture directory; returns the path (relative to it) an error must name.
type Breakage = fn(&Path) -> &'static str;

/// Ways to break a fixture directory, each with what it is.
fn breakages() -> Vec<(&'static str, Breakage)> {
    vec![
        ("approvals.yaml that is not UTF-8", |fixtures| {
            std::fs::write(
                fixtures.join("approvals.yaml"),
                b"format_version: 1\napprovals: [\xff\xfe]\n",
            )
            .unwrap();
            "approvals.yaml"
        }),
        ("approvals.yaml that is a directory", |fixtures| {
            let _ = std::fs::remove_file(fixtures.join("approvals.yaml"));
            std::fs::create_dir(fixtures.join("approvals.yaml")).unwrap();
            "approvals.yaml"
        }),
        ("model directory that is a symbolic-link loop", |fixtures| {
            std::fs::remove_dir_all(fixtures.join("model")).unwrap();
            std::os::unix::fs::symlink("model", fixtures.join("model")).unwrap();
            "model"
        }),
    ]
}

#[test]
fn run_with_fixtures_and_eval_both_exit_2_naming_an_unreadable_fixture_part() {
    for (what, breakage) in breakages() {
        let work = scratch_project();
        let dir = work.path();
        let named = breakage(&dir.join(EXAMPLE).join("fixtures"));
        let run = contextos_in(
            dir,
            &[
                "run",
                &format!("{EXAMPLE}/request.yaml"),
                "--fixtures",
                &format!("{EXAMPLE}/fixtures"),
                "--store",
                "store",
            ],
        );
        assert_eq!(run.code, 2, "run, {what}: {}\n{}", run.stdout, run.stderr);
        assert!(
            says(&run.stderr, &format!("{EXAMPLE}/fixtures/{named}")),
            "run, {what}: {}",
            run.stderr
        );

        let fixtures = dir.join(SUITE).join("fixtures").join(CASE);
        let named = breakage(&fixtures);
        let eval = contextos_in(dir, &["eval", SUITE, "--filter", CASE]);
        assert_eq!(eval.code, 2, "eval, {what}: {}\n{}", eval.stdout, eval.stderr);
        assert!(
            says(&eval.stderr, &format!("{SUITE}/fixtures/{CASE}/{named}")),
            "eval, {what}: {}",
            eval.stderr
        );
    }
}

#[test]
fn a_ten_megabyte_value_is_echoed_as_a_bounded_excerpt_naming_its_field_at_its_line() {
    let work = scratch_project();
    let dir = work.path();
    let rel = format!("{SUITE}/cases/{CASE}.yaml");
    let text = std::fs::read_to_string(dir.join(&rel)).unwrap();
    let line = text.lines().position(|l| l == "  - kind: outcome").unwrap() + 1;
    let huge = "x".repeat(10_000_000);
    std::fs::write(
        dir.join(&rel),
        text.replacen("  - kind: outcome", &format!("  - kind: {huge}"), 1),
    )
    .unwrap();
    let r = contextos_in(dir, &["eval", SUITE]);
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(r.stderr.len() < 2_000, "{} bytes of stderr", r.stderr.len());
    assert!(says(&r.stderr, &format!("{rel}:{line}:5")), "{}", r.stderr);
    assert!(
        says(
            &r.stderr,
            &format!("unknown variant `{}… (10000000 bytes)`", &huge[..200])
        ),
        "{}",
        r.stderr
    );
}

#[test]
fn pack_build_refuses_a_source_whose_aliases_expand_past_the_artifact_limit() {
    let work = scratch_project();
    let dir = work.path();
    let source = dir.join("runtime/packs/support_escalation/pack.yaml");
    let text = std::fs::read_to_string(&source).unwrap();
    let mut snippets = format!(
        "        snippets:\n          - id: big.0\n            text: &big \"{}\"\n",
        "y".repeat(1_000_000)
    );
    for i in 1..20 {
        snippets.push_str(&format!("          - id: big.{i}\n            text: *big\n"));
    }
    std::fs::write(&source, text.replacen("        snippets:\n", &snippets, 1)).unwrap();
    assert!(
        std::fs::metadata(&source).unwrap().len() < 1_100_000,
        "the source itself is small"
    );
    let r = contextos_in(
        dir,
        &[
            "pack",
            "build",
            "runtime/packs/support_escalation",
            "--out",
            "big.built.json",
        ],
    );
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(
        says(&r.stderr, "runtime/packs/support_escalation/pack.yaml"),
        "{}",
        r.stderr
    );
    assert!(says(&r.stderr, "more than the limit of 16777216"), "{}", r.stderr);
    assert!(!dir.join("big.built.json").exists(), "nothing written");
}

#[test]
fn an_empty_cedar_file_is_no_policy_file() {
    let work = scratch_project();
    let dir = work.path();
    let digest = |r: &common::Run| {
        assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
        r.stdout.lines().find(|l| l.contains("digest:")).unwrap().to_string()
    };
    let without = digest(&contextos_in(dir, &["policy", "validate"]));
    for text in ["", "\n  \n"] {
        std::fs::write(dir.join("policies/empty.cedar"), text).unwrap();
        let with = contextos_in(dir, &["policy", "validate"]);
        assert_eq!(digest(&with), without, "an empty file {text:?} changes nothing");
        assert!(!with.stderr.contains("empty.cedar"), "{}", with.stderr);
    }
}
