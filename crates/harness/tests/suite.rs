//! The harness on a small suite built around the bundled example's recorded
//! fixtures: real runtime, real Cedar, real tokenizer, real signatures.
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use std::fs;
use std::path::{Path, PathBuf};

use contextos_harness::{
    GateOptions, GoldenMode, RunOptions, Scorecard, Selection, accept_goldens, check_goldens, evaluate_gates,
    load_suite, run_suite,
};
use contextos_runtime::Deployment;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

const SUITE: &str = r#"format_version: 1
name: mini
description: the bundled example as a suite
config: CONFIG
defaults:
  started_at: 1767225600000
  channel: support_portal
  run_context:
    format_version: 1
    trace_id: 4bf92f3577b34da6a3ce929d0e0e4736
    session_id: sess_portal_0193
    tenant_id: acme
    user: { id: alice, roles: [support_agent] }
    agent: { id: triage-bot, workload: "spiffe://acme.example/agents/triage-bot" }
    delegation_chain: []
    safety_mode: standard
    approval_mode: destructive
    budget: { max_iterations: 6, max_tool_calls: 8, max_tokens: 20000 }
thresholds:
  overall: 1.0
"#;

const TEXT: &str = "Ticket T-4411: customer ACME-778 says they were charged twice for order 5531 and wants the duplicate charge refunded. They also asked us to close their account.";

fn case(name: &str, tags: &str, assertions: &str, run_context: &str) -> String {
    format!(
        "format_version: 1\nname: {name}\ntags: [{tags}]\nrequest:\n  text: \"{TEXT}\"\nrun_context: {run_context}\nfixtures: shared\nassertions:\n{assertions}"
    )
}

/// A suite directory with three cases sharing the example's fixtures.
fn mini_suite() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let config = repo().join("runtime/contextos.toml");
    fs::write(
        dir.path().join("suite.yaml"),
        SUITE.replace("CONFIG", config.to_str().unwrap()),
    )
    .unwrap();
    fs::create_dir_all(dir.path().join("cases")).unwrap();
    let src = repo().join("runtime/examples/escalation/fixtures");
    for sub in ["model", "tools"] {
        fs::create_dir_all(dir.path().join("shared").join(sub)).unwrap();
        for e in fs::read_dir(src.join(sub)).unwrap() {
            let e = e.unwrap();
            fs::copy(e.path(), dir.path().join("shared").join(sub).join(e.file_name())).unwrap();
        }
    }
    fs::copy(src.join("approvals.yaml"), dir.path().join("shared/approvals.yaml")).unwrap();
    let cases = [
        case(
            "refund-and-delete",
            "approval, refund",
            "  - { kind: outcome, is: completed }\n  - { kind: tool_sequence, tools: [read_ticket, lookup_customer, issue_refund, delete_account], mode: exact }\n  - { kind: policy, tool: issue_refund, outcome: approval_required, policy_id: tools.network-with-approval }\n  - { kind: approval, tool: issue_refund, role: support_lead, verdict: granted }\n  - { kind: policy, tool: delete_account, outcome: deny, policy_id: tools.destructive-guard }\n  - { kind: tool_arguments, tool: issue_refund, arguments: { amount_cents: 4999 } }\n  - { kind: answer_contains, text: rf_20931 }\n  - { kind: budget, max_tool_calls: 4, max_iterations: 4 }\n  - { kind: debt_warning, warning: stale_source }\n  - { kind: context_layer, layer: system, included: true }\n  - { kind: critic, verdict: accept, stage: score }\n  - { kind: golden }\n",
            "{}",
        ),
        case(
            "wrong-expectation",
            "refund",
            "  - { kind: tool_not_called, tool: issue_refund, weight: 3 }\n  - { kind: outcome, is: completed }\n",
            "{}",
        ),
        case(
            "tight-budget",
            "budget",
            "  - { kind: outcome, is: escalated }\n  - { kind: critic, verdict: escalate }\n",
            "{ budget: { max_iterations: 2 } }",
        ),
    ];
    for text in &cases {
        let name = text.lines().nth(1).unwrap().trim_start_matches("name: ");
        fs::write(dir.path().join("cases").join(format!("{name}.yaml")), text).unwrap();
    }
    dir
}

fn run(dir: &Path, threads: usize, goldens: Option<&Path>) -> (Vec<contextos_harness::CaseRun>, Scorecard) {
    let suite = load_suite(dir).unwrap();
    let dep = Deployment::load(&suite.config_path()).unwrap();
    let cases = Selection::default().apply(&suite.cases);
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(|| {
            run_suite(
                &dep,
                &suite,
                &cases,
                None,
                &RunOptions {
                    goldens,
                    keep_packets: true,
                    ..RunOptions::default()
                },
            )
        })
}

#[test]
fn scores_cases_and_is_identical_for_any_thread_count() {
    let dir = mini_suite();
    let goldens = tempfile::tempdir().unwrap();
    let (runs, one) = run(dir.path(), 1, Some(goldens.path()));
    let (_, two) = run(dir.path(), 2, Some(goldens.path()));
    assert_eq!(
        serde_json::to_string(&one).unwrap(),
        serde_json::to_string(&two).unwrap()
    );
    let by_name = |n: &str| one.cases.iter().find(|c| c.name == n).unwrap();
    let main = by_name("refund-and-delete");
    let failed: Vec<_> = main
        .assertions
        .iter()
        .filter(|a| !a.passed)
        .map(|a| (&a.kind, &a.message))
        .collect();
    assert_eq!(
        failed,
        vec![(
            &"golden".to_string(),
            &"expected behaviour equal to the golden; found no golden yet: run `contextos golden accept`".to_string()
        )]
    );
    let wrong = by_name("wrong-expectation");
    assert!(!wrong.passed);
    assert_eq!(wrong.score, 0.25, "weights 3 (failed) and 1 (passed)");
    assert!(by_name("tight-budget").passed, "{:#?}", by_name("tight-budget"));
    assert_eq!(one.by_tag["refund"].total, 2);
    assert_eq!(one.by_kind["outcome"].passed, 3);

    // Goldens: accept, then every golden assertion and check passes.
    accept_goldens(&runs, "mini", goldens.path()).unwrap();
    let (runs, card) = run(dir.path(), 2, Some(goldens.path()));
    assert!(
        card.cases
            .iter()
            .find(|c| c.name == "refund-and-delete")
            .unwrap()
            .passed
    );
    let dep = Deployment::load(&repo().join("runtime/contextos.toml")).unwrap();
    let clean = check_goldens(&runs, "mini", goldens.path(), &dep.keyring, GoldenMode::Behaviour);
    assert!(clean.mismatches.is_empty() && clean.provenance.is_empty(), "{clean:#?}");

    // A golden edited by hand shows a readable diff of the documents.
    let golden = goldens.path().join("mini/tight-budget.packet.json");
    let other = fs::read(goldens.path().join("mini/refund-and-delete.packet.json")).unwrap();
    fs::write(&golden, other).unwrap();
    let mismatches = check_goldens(&runs, "mini", goldens.path(), &dep.keyring, GoldenMode::Behaviour).mismatches;
    assert_eq!(mismatches.len(), 1);
    assert!(
        mismatches[0].diff.contains("--- golden") && mismatches[0].diff.contains("+++ this run"),
        "{}",
        mismatches[0].diff
    );
    assert!(mismatches[0].diff.contains("escalated"), "{}", mismatches[0].diff);
}

#[test]
fn gates_check_thresholds_and_baseline_regressions() {
    let dir = mini_suite();
    let (_, card) = run(dir.path(), 2, None);
    let suite = load_suite(dir.path()).unwrap();
    let failures = evaluate_gates(&card, &suite.file.thresholds, &GateOptions::default());
    assert!(
        failures
            .iter()
            .any(|f| f.starts_with("overall pass rate 33.3% (1/3) is below 100.0%")),
        "{failures:#?}"
    );
    let lenient = GateOptions {
        min_pass_rate: Some(0.3),
        ..GateOptions::default()
    };
    assert!(evaluate_gates(&card, &suite.file.thresholds, &lenient).is_empty());
    // A baseline where every case passed: the two failing cases regress.
    let mut base = card.clone();
    for c in &mut base.cases {
        c.passed = true;
    }
    let base = Scorecard::from_cases("mini", None, base.cases);
    let with_base = GateOptions {
        min_pass_rate: Some(0.0),
        baseline: Some(base),
        max_regression: 0.1,
        ..GateOptions::default()
    };
    let failures = evaluate_gates(&card, &suite.file.thresholds, &with_base);
    assert!(
        failures
            .iter()
            .any(|f| f.starts_with("case wrong-expectation passed in the baseline and fails now: assertion ")),
        "{failures:#?}"
    );
    assert!(
        failures
            .iter()
            .any(|f| f.starts_with("overall pass rate dropped from 100.0% to 33.3%")),
        "{failures:#?}"
    );
    // Regressions name the case and assertion before any rate delta.
    let first_delta = failures.iter().position(|f| f.contains(" dropped from ")).unwrap();
    assert!(
        failures[..first_delta].iter().all(|f| f.starts_with("case ")) && first_delta >= 2,
        "{failures:#?}"
    );
}

#[test]
fn a_selection_is_gated_on_the_tags_and_cases_that_ran() {
    let dir = mini_suite();
    let (_, full) = run(dir.path(), 1, None);
    let suite = load_suite(dir.path()).unwrap();
    let passing: Vec<_> = full.cases.iter().filter(|c| c.passed).cloned().collect();
    assert_eq!(passing.len(), 1);
    let selected = Scorecard::from_cases("mini", None, passing);
    // The suite's overall threshold holds for what ran; a suite tag threshold
    // on a tag the selection left out is skipped; the baseline (every case
    // passing, a tag only left-out cases have) is compared on the selected case only.
    let mut thresholds = suite.file.thresholds.clone();
    thresholds.tags.insert("refund".into(), 1.0);
    let mut base = full.clone();
    for c in &mut base.cases {
        if !c.passed {
            c.passed = true;
            c.tags.push("extra".into());
        }
    }
    let base = Scorecard::from_cases("mini", None, base.cases);
    let options = GateOptions {
        baseline: Some(base.clone()),
        selection: true,
        ..GateOptions::default()
    };
    assert_eq!(selected.cases[0].tags, vec!["budget".to_string()]);
    let failures = evaluate_gates(&selected, &thresholds, &options);
    assert!(failures.is_empty(), "{failures:#?}");
    // The same run gated as the whole suite fails on what it left out.
    let whole = GateOptions {
        selection: false,
        ..options.clone()
    };
    let failures = evaluate_gates(&selected, &thresholds, &whole);
    assert!(
        failures.iter().any(|f| f.starts_with("tag extra pass rate dropped")),
        "{failures:#?}"
    );
    // A threshold given on the command line still fails when nothing it names ran.
    let explicit = GateOptions {
        min_tag: [("nothing-ran".to_string(), 1.0)].into_iter().collect(),
        ..options
    };
    let failures = evaluate_gates(&selected, &thresholds, &explicit);
    assert_eq!(
        failures,
        vec!["tag nothing-ran has no results, but a threshold of 100.0% is set"]
    );
}

#[test]
fn partitions_merge_back_into_the_full_scorecard() {
    let dir = mini_suite();
    let suite = load_suite(dir.path()).unwrap();
    let dep = Deployment::load(&suite.config_path()).unwrap();
    let (_, full) = run(dir.path(), 2, None);
    let mut parts = Vec::new();
    for i in 1..=2 {
        let sel = Selection {
            filters: Vec::new(),
            partition: Some((i, 2)),
        };
        let cases = sel.apply(&suite.cases);
        parts.push(run_suite(&dep, &suite, &cases, Some(format!("{i}/2")), &RunOptions::default()).1);
    }
    assert_eq!(parts[0].cases.len() + parts[1].cases.len(), 3);
    let merged = Scorecard::merge(parts).unwrap();
    assert_eq!(
        serde_json::to_string(&merged).unwrap(),
        serde_json::to_string(&full).unwrap()
    );
    let tagged = Selection {
        filters: vec!["tag:budget".into()],
        partition: None,
    };
    assert_eq!(tagged.apply(&suite.cases).len(), 1);
}

#[test]
fn a_missing_fixture_is_a_case_error_not_a_crash() {
    let dir = mini_suite();
    let model = dir.path().join("shared/model");
    // The first model call's recording: every case needs it.
    let first = fs::read_dir(&model)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with("001-"))
        .unwrap();
    fs::remove_file(first).unwrap();
    let (_, card) = run(dir.path(), 2, None);
    for c in &card.cases {
        assert!(!c.passed);
        assert!(
            c.error
                .as_deref()
                .unwrap_or("")
                .contains("no recorded model interaction"),
            "{:?}",
            c.error
        );
    }
}

#[test]
fn case_file_errors_name_file_line_and_column() {
    let dir = mini_suite();
    let path = dir.path().join("cases/tight-budget.yaml");
    let text = fs::read_to_string(&path)
        .unwrap()
        .replace("kind: critic, verdict: escalate", "kind: critic, verdit: escalate");
    fs::write(&path, text).unwrap();
    let err = load_suite(dir.path()).unwrap_err().to_string();
    assert!(err.contains("tight-budget.yaml:"), "{err}");
    assert!(err.contains("verdit"), "{err}");
}

#[test]
fn a_case_whose_model_fixtures_run_out_says_so_and_names_the_model_call() {
    let dir = mini_suite();
    // The last model response: the full cases need it, the two-iteration case stops before.
    let last = fs::read_dir(dir.path().join("shared/model"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with("004-"))
        .unwrap();
    fs::remove_file(last).unwrap();
    let (_, card) = run(dir.path(), 1, None);
    let error = |name: &str| {
        card.cases
            .iter()
            .find(|c| c.name == name)
            .unwrap()
            .error
            .clone()
            .unwrap_or_default()
    };
    let full = error("refund-and-delete");
    assert!(
        full.contains("model call 4 (recorded model responses ran out: the recording has 3)"),
        "{full}"
    );
    assert!(error("tight-budget").is_empty(), "{}", error("tight-budget"));
}
