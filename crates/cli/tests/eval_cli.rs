//! `contextos eval`, `scorecard merge` through the real binary.
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use std::path::Path;

mod common;
use common::{contextos_in, repo, scratch_project};

/// `contextos ARGS` in the repository: (exit code, stdout, stderr).
fn contextos(args: &[&str]) -> (i32, String, String) {
    let r = contextos_in(&repo(), args);
    (r.code, r.stdout, r.stderr)
}

#[test]
fn eval_is_identical_for_any_job_count_and_writes_every_report() {
    let out = tempfile::tempdir().unwrap();
    let o = |name: &str| out.path().join(name).to_str().unwrap().to_string();
    let (code, one, stderr) = contextos(&["eval", "--jobs", "1", "--format", "json"]);
    assert_eq!(code, 0, "{stderr}");
    let (code, two, _) = contextos(&[
        "eval",
        "--jobs",
        "2",
        "--format",
        "json",
        "--junit",
        &o("r.xml"),
        "--markdown",
        &o("r.md"),
        "--html",
        &o("r.html"),
    ]);
    assert_eq!(code, 0);
    let strip = |s: &str| {
        // The HTML run keeps every case's drill-down; compare the totals and per-case verdicts.
        let v: serde_json::Value = serde_json::from_str(s).unwrap();
        let cases: Vec<_> = v["cases"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (c["name"].clone(), c["passed"].clone(), c["score"].clone()))
            .collect();
        (cases, v["overall"].clone(), v["by_tag"].clone(), v["by_kind"].clone())
    };
    assert_eq!(strip(&one), strip(&two));
    let card: serde_json::Value = serde_json::from_str(&one).unwrap();
    assert!(card["cases"].as_array().unwrap().len() >= 12);
    let junit = std::fs::read_to_string(out.path().join("r.xml")).unwrap();
    assert!(junit.contains("refund-approved-by-support-lead"));
    let html = std::fs::read_to_string(out.path().join("r.html")).unwrap();
    assert!(html.contains("<details") && html.contains("tools.destructive-guard"));
    assert!(
        std::fs::read_to_string(out.path().join("r.md"))
            .unwrap()
            .contains("refund-approved-by-support-lead")
    );
}

#[test]
fn a_failing_gate_exits_1_with_the_reason() {
    let (code, stdout, _) = contextos(&["eval", "--filter", "order-status-lookup", "--min-tag", "refund=1.0"]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("tag refund has no results"), "{stdout}");
}

#[test]
fn shards_merge_into_the_full_scorecard() {
    let out = tempfile::tempdir().unwrap();
    let p = |n: &str| out.path().join(n).to_str().unwrap().to_string();
    let (_, full, _) = contextos(&["eval", "--format", "json"]);
    for i in 1..=2 {
        let (code, _, stderr) = contextos(&[
            "eval",
            "--partition",
            &format!("{i}/2"),
            "--json",
            &p(&format!("s{i}.json")),
        ]);
        assert_eq!(code, 0, "{stderr}");
    }
    let (code, merged, stderr) = contextos(&["scorecard", "merge", &p("s1.json"), &p("s2.json")]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(merged.trim(), full.trim());
}

#[test]
fn promote_turns_a_stored_run_into_a_passing_golden_case() {
    let work = tempfile::tempdir().unwrap();
    let store = work.path().join("store");
    let suite = work.path().join("suite");
    let goldens = work.path().join("goldens");
    std::fs::create_dir_all(suite.join("cases")).unwrap();
    let config = repo().join("runtime/contextos.toml").canonicalize().unwrap();
    // The bundled suite's settings, without its per-tag thresholds (this suite has one case).
    let bundled = std::fs::read_to_string(repo().join("scenarios/customer-escalation/suite.yaml")).unwrap();
    let mut suite_yaml: serde_json::Value = serde_saphyr::from_str(&bundled).unwrap();
    suite_yaml["config"] = serde_json::json!(config.display().to_string());
    suite_yaml["thresholds"] = serde_json::json!({ "overall": 1.0 });
    let suite_yaml = serde_json::to_string(&suite_yaml).unwrap();
    std::fs::write(suite.join("suite.yaml"), suite_yaml).unwrap();
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let (code, _, stderr) = contextos(&["run", "runtime/examples/escalation/request.yaml", "--store", &s(&store)]);
    assert_eq!(code, 0, "{stderr}");
    let (code, stdout, stderr) = contextos(&[
        "promote",
        "run_escalation_4411",
        "--suite",
        &s(&suite),
        "--case",
        "double-charge",
        "--goldens",
        &s(&goldens),
        "--store",
        &s(&store),
    ]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(suite.join("cases/double-charge.yaml").is_file());
    assert!(goldens.join("customer-escalation/double-charge.packet.json").is_file());
    let case = std::fs::read_to_string(suite.join("cases/double-charge.yaml")).unwrap();
    assert!(
        case.contains("tools.destructive-guard") && case.contains("support_lead"),
        "{case}"
    );
    let (code, stdout, stderr) = contextos(&["eval", &s(&suite), "--goldens", &s(&goldens)]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains("PASS  double-charge"), "{stdout}");
    // The same name twice is refused.
    let (code, _, _) = contextos(&[
        "promote",
        "run_escalation_4411",
        "--suite",
        &s(&suite),
        "--case",
        "double-charge",
        "--goldens",
        &s(&goldens),
        "--store",
        &s(&store),
    ]);
    assert_eq!(code, 2);
}

/// Applies `edit` to the scratch project's `policies/tools.cedar`.
fn edit_tools_policies(dir: &Path, edit: impl FnOnce(String) -> String) {
    let path = dir.join("policies/tools.cedar");
    let text = std::fs::read_to_string(&path).unwrap();
    let edited = edit(text.clone());
    assert_ne!(edited, text, "the edit must change the bundle");
    std::fs::write(&path, edited).unwrap();
}

/// The cases `golden check` reported as mismatches.
fn mismatched_cases(stdout: &str) -> Vec<&str> {
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix("MISMATCH "))
        .filter_map(|l| l.split_whitespace().next())
        .collect()
}

#[test]
fn a_bundle_edit_that_changes_no_decision_keeps_goldens_and_reports_provenance() {
    let work = scratch_project();
    edit_tools_policies(work.path(), |text| {
        text + "\n@id(\"tools.nothing-this-tall\")\nforbid (principal, action in ContextOS::Action::\"call_tool\", resource)\nwhen { resource.approval_level > 99 };\n"
    });
    let r = contextos_in(work.path(), &["golden", "check"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("suite customer-escalation: 21 of 21 golden(s) match"),
        "{}",
        r.stdout
    );
    assert_eq!(
        r.stdout.matches("provenance changed, behaviour matches").count(),
        21,
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("    policy bundle: sha256:"), "{}", r.stdout);

    // `--exact` keeps the byte comparison: every packet differs.
    let r = contextos_in(work.path(), &["golden", "check", "--exact"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(mismatched_cases(&r.stdout).len(), 21, "{}", r.stdout);
}

#[test]
fn a_change_of_determining_policy_alone_fails_only_the_cases_it_decides() {
    let work = scratch_project();
    // Same permits, same outcomes; only the id of the approval permit changes.
    edit_tools_policies(work.path(), |text| {
        text.replace("tools.network-with-approval", "tools.network-with-lead-approval")
    });
    let r = contextos_in(work.path(), &["golden", "check"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let failed = mismatched_cases(&r.stdout);
    assert!(failed.contains(&"refund-approved-by-support-lead"), "{}", r.stdout);
    assert!(!failed.contains(&"order-status-lookup"), "{}", r.stdout);
    assert!(!failed.contains(&"delete-account-denied-standard"), "{}", r.stdout);
    assert!(
        r.stdout.contains("-        \"tools.network-with-approval\"")
            && r.stdout.contains("+        \"tools.network-with-lead-approval\""),
        "the diff shows the determining policy: {}",
        r.stdout
    );
}

#[test]
fn the_readme_filter_example_passes_the_suite_gates() {
    // README: `eval --jobs 2 --filter tag:approval`; the suite's thresholds on
    // tags no approval case carries are not gated.
    let (code, stdout, stderr) = contextos(&["eval", "--jobs", "2", "--filter", "tag:approval"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains("gates:    all passed"), "{stdout}");
    assert!(stdout.contains("6/6 cases passed"), "{stdout}");
}

/// The gate lines `eval` printed.
fn gate_lines(stdout: &str) -> Vec<&str> {
    stdout.lines().filter_map(|l| l.strip_prefix("  - ")).collect()
}

#[test]
fn a_filtered_or_partitioned_run_is_compared_with_the_baseline_on_what_ran() {
    let work = scratch_project();
    let base = work.path().join("base.scorecard.json");
    let base = base.to_str().unwrap();
    let r = contextos_in(work.path(), &["eval", "--json", base]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    for selection in [["--filter", "tag:approval"], ["--partition", "2/3"]] {
        let r = contextos_in(work.path(), &["eval", selection[0], selection[1], "--baseline", base]);
        assert_eq!(r.code, 0, "{selection:?}: {}\n{}", r.stdout, r.stderr);
        assert!(r.stdout.contains("gates:    all passed"), "{}", r.stdout);
    }

    // A real regression inside the filter: the answer no longer carries the refund id.
    let case = work
        .path()
        .join("scenarios/customer-escalation/cases/refund-approved-by-support-lead.yaml");
    let text = std::fs::read_to_string(&case).unwrap();
    std::fs::write(&case, text.replace("text: rf_31877", "text: rf_00000")).unwrap();
    let r = contextos_in(work.path(), &["eval", "--filter", "tag:approval", "--baseline", base]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let gates = gate_lines(&r.stdout);
    assert!(
        gates[0].starts_with(
            "case refund-approved-by-support-lead passed in the baseline and fails now: \
             assertion 10 (answer_contains): expected the answer to contain \"rf_00000\"; found"
        ),
        "{gates:#?}"
    );
    assert!(gates[0].contains("rf_31877"), "the actual answer is shown: {gates:#?}");
    assert!(
        gates[1..].iter().all(|g| !g.starts_with("case ")),
        "only one case regressed: {gates:#?}"
    );
    assert!(
        gates
            .iter()
            .any(|g| g.starts_with("tag refund pass rate dropped from 100.0%")),
        "tag deltas follow: {gates:#?}"
    );
    // Nothing about tags the filter left out.
    for tag in ["tenancy", "context", "graded", "critic"] {
        assert!(!gates.iter().any(|g| g.contains(&format!("tag {tag} "))), "{gates:#?}");
    }
}

#[test]
fn reports_are_written_into_folders_that_do_not_exist_yet() {
    let out = tempfile::tempdir().unwrap();
    let p = |n: &str| out.path().join(n).to_str().unwrap().to_string();
    let (code, stdout, stderr) = contextos(&[
        "eval",
        "--filter",
        "order-status-lookup",
        "--json",
        &p("a/b/scorecard.json"),
        "--junit",
        &p("c/report.xml"),
        "--markdown",
        &p("d/e/comment.md"),
        "--html",
        &p("f/report.html"),
    ]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    for file in ["a/b/scorecard.json", "c/report.xml", "d/e/comment.md", "f/report.html"] {
        let text = std::fs::read_to_string(out.path().join(file)).unwrap();
        assert!(text.contains("order-status-lookup"), "{file}: {text}");
    }
    // Only the reports: no temporary file is left beside them.
    let left: Vec<_> = std::fs::read_dir(out.path().join("c"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, vec![std::ffi::OsString::from("report.xml")]);
}

#[test]
fn a_negated_assertion_passes_when_its_check_fails_and_says_what_it_did_not_expect() {
    let work = scratch_project();
    let case = work
        .path()
        .join("scenarios/customer-escalation/cases/order-status-lookup.yaml");
    let text = std::fs::read_to_string(&case).unwrap();
    // Holds: the lookup never deletes an account. Fails: it reads the ticket.
    let negated = "  - kind: tool_called\n    tool: delete_account\n    not: true\n  \
                   - { kind: tool_called, tool: read_ticket, not: true }\n";
    std::fs::write(&case, format!("{text}{negated}")).unwrap();
    let r = contextos_in(work.path(), &["scenario", "check"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let r = contextos_in(
        work.path(),
        &["eval", "--filter", "order-status-lookup", "--format", "json"],
    );
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let card: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let assertions = card["cases"][0]["assertions"].as_array().unwrap();
    let last_two: Vec<_> = assertions[assertions.len() - 2..]
        .iter()
        .map(|a| (a["passed"].as_bool().unwrap(), a["message"].as_str().unwrap()))
        .collect();
    assert_eq!(
        last_two,
        vec![
            (
                true,
                "expected not delete_account called; found delete_account called 0 time(s)"
            ),
            (
                false,
                "expected not read_ticket called; found read_ticket called 1 time(s)"
            ),
        ]
    );
    let r = contextos_in(work.path(), &["eval", "--filter", "order-status-lookup"]);
    assert!(
        r.stdout
            .contains("x tool_called: expected not read_ticket called; found read_ticket called 1 time(s)"),
        "{}",
        r.stdout
    );
}
