//! `contextos policy impact` and `contextos policy coverage` through the real
//! binary, over a corpus recorded from the bundled example.

#![expect(clippy::unwrap_used, reason = "a test fails loudly on broken fixtures")]

use std::fs;
use std::sync::OnceLock;

use contextos_runtime::{Deployment, Fixtures, RequestEnvelope, envelope_bytes, run_on_fixtures};

mod common;
use common::{Run, command_in, repo, run};

fn example_packet_bytes() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| {
        let dep = Deployment::load(&repo().join("runtime/contextos.toml")).unwrap();
        let dir = repo().join("runtime/examples/escalation");
        let text = fs::read_to_string(dir.join("request.yaml")).unwrap();
        let env = RequestEnvelope::parse("request.yaml", &text).unwrap();
        let fixtures = Fixtures::load(&dir.join("fixtures")).unwrap();
        envelope_bytes(&run_on_fixtures(&dep, &env, &fixtures).unwrap().packet_envelope).unwrap()
    })
}

/// A scratch directory with `goldens/escalation/example.packet.json`, a copy
/// of the shipped bundle in `policies/` and a candidate in `candidate/`
/// (the shipped bundle plus `extra`, when given).
fn workspace(extra: Option<&str>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let golden = dir.path().join("goldens/escalation");
    fs::create_dir_all(&golden).unwrap();
    fs::write(golden.join("example.packet.json"), example_packet_bytes()).unwrap();
    for bundle in ["policies", "candidate"] {
        let to = dir.path().join(bundle);
        fs::create_dir_all(&to).unwrap();
        for entry in fs::read_dir(repo().join("policies")).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_file() {
                fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
            }
        }
    }
    if let Some(text) = extra {
        fs::write(dir.path().join("candidate/extra.cedar"), text).unwrap();
    }
    dir
}

/// `contextos ARGS --config <repo>/runtime/contextos.toml` in `dir`.
fn contextos(dir: &std::path::Path, args: &[&str]) -> Run {
    let config = repo().join("runtime/contextos.toml");
    run(command_in(dir).args(args).args(["--config", config.to_str().unwrap()]))
}

/// Bundle digests change with every policy edit; the rest is stable.
fn without_digests(text: &str) -> String {
    text.lines()
        .filter(|l| !l.contains("sha256:"))
        .collect::<Vec<_>>()
        .join("\n")
}

const REFUND_FREEZE: &str = "@id(\"tools.refund-freeze\")\n\
forbid (principal, action == Action::\"issue_refund\", resource == Tool::\"issue_refund\");\n";

#[test]
fn impact_of_an_unchanged_bundle_passes() {
    let dir = workspace(None);
    let r = contextos(dir.path(), &["policy", "impact", "--candidate", "candidate"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("in 1 packet re-evaluated: 0 changed"), "{}", r.stdout);
}

#[test]
fn impact_of_a_refund_freeze_fails_and_lists_the_changes() {
    let dir = workspace(Some(REFUND_FREEZE));
    let r = contextos(dir.path(), &["policy", "impact", "--candidate", "candidate"]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    insta::assert_snapshot!(without_digests(&r.stdout));

    let allowed = contextos(
        dir.path(),
        &["policy", "impact", "--candidate", "candidate", "--allow-changes"],
    );
    assert_eq!(allowed.code, 0, "{}", allowed.stderr);
    assert!(!allowed.stdout.contains("--allow-changes"), "{}", allowed.stdout);
}

#[test]
fn impact_json_is_the_report() {
    let dir = workspace(Some(REFUND_FREEZE));
    let r = contextos(
        dir.path(),
        &["policy", "impact", "--candidate", "candidate", "--format", "json"],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    let report: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(report["changes"].as_array().unwrap().len(), 2);
    assert_eq!(report["by_resource"]["Tool::\"issue_refund\""]["newly_denied"], 2);
    assert_eq!(report["skipped"], 0);
}

#[test]
fn impact_input_and_verification_errors_have_their_exit_codes() {
    let dir = workspace(None);
    let r = contextos(dir.path(), &["policy", "impact", "--candidate", "nowhere"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    let r = contextos(
        dir.path(),
        &["policy", "impact", "--candidate", "candidate", "--corpus", "nowhere"],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("corpus directory nowhere does not exist"),
        "{}",
        r.stderr
    );

    // A packet whose payload was edited after signing.
    let path = dir.path().join("goldens/escalation/example.packet.json");
    let mut envelope: serde_json::Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    let sig = envelope["signatures"][0]["sig"].as_str().unwrap().to_string();
    let flipped = if sig.starts_with('A') { "B" } else { "A" };
    envelope["signatures"][0]["sig"] = format!("{flipped}{}", &sig[1..]).into();
    fs::write(&path, serde_json::to_vec(&envelope).unwrap()).unwrap();
    let r = contextos(dir.path(), &["policy", "impact", "--candidate", "candidate"]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("example.packet.json"), "{}", r.stderr);
}

#[test]
fn coverage_lists_never_exercised_policies_and_gates_on_min() {
    let dir = workspace(None);
    let r = contextos(dir.path(), &["policy", "coverage", "--min", "0.2"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    insta::assert_snapshot!(r.stdout);

    let r = contextos(dir.path(), &["policy", "coverage"]);
    assert_eq!(r.code, 1, "the default minimum is 0.9: {}", r.stdout);
    assert!(r.stdout.contains("is below the minimum 90.0%"), "{}", r.stdout);

    let r = contextos(dir.path(), &["policy", "coverage", "--format", "json", "--min", "0"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let report: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert!(report["exercised"]["tools.destructive-guard"].as_u64().unwrap() > 0);

    let r = contextos(dir.path(), &["policy", "coverage", "--min", "1.5"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
}

#[test]
fn impact_fails_on_a_change_of_approver_roles_alone() {
    let dir = workspace(None);
    let tools = dir.path().join("candidate/tools.cedar");
    let text = fs::read_to_string(&tools).unwrap();
    let narrowed = text.replace(
        "[\"support_lead\", \"security_officer\"].contains(context.approval.role)",
        "context.approval.role == \"support_lead\"",
    );
    assert_ne!(narrowed, text);
    fs::write(&tools, narrowed).unwrap();
    let r = contextos(dir.path(), &["policy", "impact", "--candidate", "candidate"]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("re-evaluated: 0 changed"), "{}", r.stdout);
    assert!(
        r.stdout.contains("approval_required -> approval_required")
            && r.stdout
                .contains("approver roles: [support_lead, security_officer] -> [support_lead]"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("changes why decisions are made"), "{}", r.stdout);
    let r = contextos(
        dir.path(),
        &["policy", "impact", "--candidate", "candidate", "--allow-changes"],
    );
    assert_eq!(r.code, 0, "{}", r.stdout);
}

#[test]
fn impact_shows_a_decision_that_now_errors_with_its_error() {
    let dir = workspace(Some(
        "@id(\"x.overflowing-refund\")\n\
         permit (principal, action == Action::\"issue_refund\", resource == Tool::\"issue_refund\")\n\
         when { context.budget.tokens_left * 9223372036854775807 > 0 };\n",
    ));
    let r = contextos(dir.path(), &["policy", "impact", "--candidate", "candidate"]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    let refund_lines: Vec<&str> = r.stdout.lines().filter(|l| l.starts_with("  escalation/")).collect();
    assert_eq!(refund_lines.len(), 2, "{}", r.stdout);
    for line in refund_lines {
        assert!(
            line.contains("-> deny  (evaluation failed: error while evaluating policy `x.overflowing-refund`"),
            "{line}"
        );
        assert!(!line.contains("by no policy"), "{line}");
    }
    let json = contextos(
        dir.path(),
        &["policy", "impact", "--candidate", "candidate", "--format", "json"],
    );
    let report: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let kinds = &report["changes"][0]["what"];
    assert!(kinds.as_array().unwrap().contains(&"now_errors".into()), "{kinds}");
}
