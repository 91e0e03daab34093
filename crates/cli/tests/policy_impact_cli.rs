//! `contextos policy impact` and `contextos policy coverage` through the real
//! binary, over a corpus recorded from the bundled example.

#![expect(clippy::unwrap_used, reason = "a test fails loudly on broken fixtures")]

use std::fs;
use std::path::Path;
use std::sync::OnceLock;

use contextos_runtime::{Deployment, Fixtures, RequestEnvelope, envelope_bytes, run_on_fixtures};

mod common;
use common::{Run, command_in, contextos_in, copy_dir, deployment_config, repo, run};

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
    deployment_config(dir.path(), "contextos.toml", &[("policies", "policies")]);
    dir
}

/// `contextos ARGS --config contextos.toml` in `dir`: the shipped deployment
/// with the bundle in `dir/policies`.
fn contextos(dir: &std::path::Path, args: &[&str]) -> Run {
    run(command_in(dir).args(args).args(["--config", "contextos.toml"]))
}

/// Bundle digests change with every policy edit; the rest is stable.
fn without_digests(text: &str) -> String {
    text.lines()
        .filter(|l| !l.contains("sha256:"))
        .collect::<Vec<_>>()
        .join("\n")
}

const REFUND_FREEZE: &str = "@id(\"tools.refund-freeze\")\n\
forbid (principal, action == ContextOS::Action::\"issue_refund\", resource == ContextOS::Tool::\"issue_refund\");\n";

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
fn impact_compares_over_every_corpus_given_and_says_which() {
    let dir = workspace(Some(REFUND_FREEZE));
    copy_dir(&dir.path().join("goldens"), &dir.path().join("more-goldens"));
    let r = contextos(
        dir.path(),
        &[
            "policy",
            "impact",
            "--candidate",
            "candidate",
            "--corpus",
            "goldens",
            "--corpus",
            "more-goldens",
        ],
    );
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("compared: policies -> candidate\n"), "{}", r.stdout);
    assert!(
        r.stdout
            .contains("corpus:   goldens (packet tree, 1 packet)\ncorpus:   more-goldens (packet tree, 1 packet)\n"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("in 2 packets re-evaluated: 4 changed"),
        "{}",
        r.stdout
    );
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
    assert_eq!(
        report["by_resource"]["ContextOS::Tool::\"issue_refund\""]["newly_denied"],
        2
    );
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

/// An error as printed, without the line breaks and gutters of its wrapping.
fn unwrapped(stderr: &str) -> String {
    stderr
        .split_whitespace()
        .filter(|word| *word != "│")
        .collect::<Vec<_>>()
        .join(" ")
}

/// Records the bundled example with `contextos run` into `<dir>/.contextos`,
/// as `run_escalation_4411` and again as `run_escalation_4412`.
fn store_of_two_runs(dir: &Path) {
    let request = repo().join("runtime/examples/escalation/request.yaml");
    let text = fs::read_to_string(&request).unwrap();
    let second = dir.join("request-4412.yaml");
    let renamed = text.replace("run_id: run_escalation_4411", "run_id: run_escalation_4412");
    assert_ne!(renamed, text);
    fs::write(&second, renamed).unwrap();
    let fixtures = repo().join("runtime/examples/escalation/fixtures");
    let store = dir.join(".contextos");
    for request in [request, second] {
        let r = run_into_store(&request, &fixtures, &store);
        assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    }
}

/// `contextos run REQUEST --fixtures FIXTURES --store STORE`, from the repository root.
fn run_into_store(request: &Path, fixtures: &Path, store: &Path) -> Run {
    contextos_in(
        &repo(),
        &[
            "run",
            request.to_str().unwrap(),
            "--fixtures",
            fixtures.to_str().unwrap(),
            "--store",
            store.to_str().unwrap(),
        ],
    )
}

/// The candidate's signed-packs permit also asks for an elevated session:
/// the one pack decision of each run is denied now.
fn packs_only_when_elevated(dir: &Path) {
    let path = dir.join("candidate/context.cedar");
    let text = fs::read_to_string(&path).unwrap();
    let edited = text.replace(
        "when { resource.signed };",
        "when { resource.signed && context.safety_mode == \"elevated\" };",
    );
    assert_ne!(edited, text);
    fs::write(&path, edited).unwrap();
}

#[test]
fn impact_over_a_run_store_lists_each_changed_decision_by_run_id() {
    let dir = workspace(None);
    store_of_two_runs(dir.path());
    packs_only_when_elevated(dir.path());
    let args = [
        "policy",
        "impact",
        "--candidate",
        "candidate",
        "--corpus",
        "goldens",
        "--corpus",
        ".contextos",
    ];
    let r = contextos(dir.path(), &args);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("corpus:   goldens (packet tree, 1 packet)\ncorpus:   .contextos (run store, 2 packets)\n"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("in 3 packets re-evaluated: 3 changed"),
        "{}",
        r.stdout
    );
    let changed: Vec<&str> = r
        .stdout
        .lines()
        .skip_while(|l| *l != "changed outcomes:")
        .skip(1)
        .take_while(|l| !l.is_empty())
        .collect();
    assert_eq!(changed.len(), 3, "{}", r.stdout);
    for (line, case) in changed.iter().zip([
        "escalation/example #",
        "store/run_escalation_4411 #",
        "store/run_escalation_4412 #",
    ]) {
        assert!(line.starts_with(&format!("  {case}")), "{line}");
        assert!(
            line.contains("allow -> deny  (by no policy; was context.signed-packs)"),
            "{line}"
        );
    }

    let json = contextos(dir.path(), &[&args[..], &["--format", "json"]].concat());
    assert_eq!(json.code, 1, "{}", json.stderr);
    let report: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(
        report["corpora"],
        serde_json::json!([
            {"dir": "goldens", "kind": "packets", "packets": 1},
            {"dir": ".contextos", "kind": "store", "packets": 2},
        ])
    );
    assert_eq!(report["changes"][1]["suite"], "store");
    assert_eq!(report["changes"][1]["case"], "run_escalation_4411");

    let r = contextos(
        dir.path(),
        &["policy", "coverage", "--corpus", ".contextos", "--min", "0"],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .starts_with("measured: policies\ncorpus:   .contextos (run store, 2 packets)\ncoverage "),
        "{}",
        r.stdout
    );
}

#[test]
fn a_tampered_or_empty_run_store_fails_with_its_exit_code() {
    let dir = workspace(None);
    store_of_two_runs(dir.path());
    let impact = ["policy", "impact", "--candidate", "candidate", "--corpus", ".contextos"];
    assert_eq!(contextos(dir.path(), &impact).code, 0);

    // A byte flipped in the stored packet of one run: its object no longer hashes to its name.
    let store = contextos_store::Store::open_existing(&dir.path().join(".contextos")).unwrap();
    let entry = store.get_run("run_escalation_4412").unwrap();
    let object = store.object_path(&entry.packet);
    let original = fs::read(&object).unwrap();
    let mut bytes = original.clone();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    fs::write(&object, &bytes).unwrap();
    let r = contextos(dir.path(), &impact);
    assert_eq!(r.code, 3, "{}{}", r.stdout, r.stderr);
    assert!(
        unwrapped(&r.stderr).contains(&format!(
            "run store .contextos: run run_escalation_4412: its packet object {} cannot be read",
            entry.packet
        )) && r.stderr.contains("corrupted object"),
        "{}",
        r.stderr
    );
    fs::write(&object, &original).unwrap();

    // The packet's signature altered and stored under its new digest: the keyring refuses it.
    let mut envelope: serde_json::Value = serde_json::from_slice(&original).unwrap();
    let sig = envelope["signatures"][0]["sig"].as_str().unwrap().to_string();
    let flipped = if sig.starts_with('A') { "B" } else { "A" };
    envelope["signatures"][0]["sig"] = format!("{flipped}{}", &sig[1..]).into();
    let mut resigned = entry.clone();
    resigned.packet = store.put_object(&serde_json::to_vec(&envelope).unwrap()).unwrap();
    fs::remove_file(dir.path().join(".contextos/runs/run_escalation_4412.json")).unwrap();
    store.put_run(&resigned).unwrap();
    let r = contextos(dir.path(), &impact);
    assert_eq!(r.code, 3, "{}{}", r.stdout, r.stderr);
    assert!(
        unwrapped(&r.stderr).contains(&format!(
            "packet run run_escalation_4412 in store .contextos ({}) does not verify",
            resigned.packet
        )) && r.stderr.contains("signature by ed25519:"),
        "{}",
        r.stderr
    );

    // A store with no runs checks nothing: an input error, not a pass.
    let empty = dir.path().join("empty-store");
    contextos_store::Store::open(&empty).unwrap();
    let r = contextos(
        dir.path(),
        &["policy", "coverage", "--corpus", "empty-store", "--min", "0"],
    );
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("run store empty-store holds no runs"), "{}", r.stderr);
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
         permit (principal, action == ContextOS::Action::\"issue_refund\", resource == ContextOS::Tool::\"issue_refund\")\n\
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

/// The shipped bundle without the finance_lead rule: no `refunds.cedar`, its
/// policy tests or `finance_lead` among the approver roles.
fn bundle_without_the_finance_lead_rule(to: &Path) {
    copy_dir(&repo().join("policies"), to);
    fs::remove_file(to.join("refunds.cedar")).unwrap();
    fs::remove_file(to.join("tests/refunds.yaml")).unwrap();
    let approvers = fs::read_to_string(to.join("approvers.yaml")).unwrap();
    let without = approvers.replace("  - finance_lead\n", "");
    assert_ne!(without, approvers, "approvers.yaml lists finance_lead");
    fs::write(to.join("approvers.yaml"), without).unwrap();
}

/// "Refunds above 200 USD need a finance lead" is Cedar alone, shipped in
/// `policies/refunds.cedar` as the README shows it: against the shipped bundle
/// without it, it changes exactly the refund decisions above 200 USD.
#[test]
fn the_finance_lead_rule_is_cedar_alone_and_changes_exactly_the_refunds_above_200_usd() {
    // The shipped rule is the README's, policy for policy.
    let shipped = fs::read_to_string(repo().join("policies/refunds.cedar")).unwrap();
    let readme = fs::read_to_string(repo().join("README.md")).unwrap();
    let rules: Vec<&str> = shipped
        .split("\n\n")
        .map(str::trim)
        .filter(|b| b.starts_with("@id("))
        .collect();
    assert_eq!(rules.len(), 2, "{shipped}");
    for rule in rules {
        assert!(readme.contains(rule), "README shows the shipped rule:\n{rule}");
    }

    let work = tempfile::tempdir().unwrap();
    let baseline = work.path().join("baseline");
    bundle_without_the_finance_lead_rule(&baseline);
    let path = baseline.to_str().unwrap();
    let r = contextos_in(&repo(), &["policy", "validate", "--policies", path]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let r = contextos_in(&repo(), &["policy", "test"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("PASS policies/tests/refunds.yaml › a 220 USD refund approved by a support lead alone is denied"),
        "{}",
        r.stdout
    );

    // Over the bundled goldens: exactly the refund decisions above 200 USD
    // (the 220 USD ones, approved by a support lead alone or by a finance
    // lead, and the 780 USD one); not the 129 USD or the trial tenant's.
    let r = contextos_in(
        &repo(),
        &["policy", "impact", "--baseline", path, "--candidate", "policies"],
    );
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    let listed: Vec<&str> = r
        .stdout
        .lines()
        .filter(|l| l.starts_with("  customer-escalation/"))
        .collect();
    assert_eq!(listed.len(), 5, "{}", r.stdout);
    for line in &listed {
        assert!(line.contains("Tool::\"issue_refund\""), "{line}");
        assert!(
            line.contains("/shadow-refund-on-last-tool-call #")
                || line.contains("/large-refund-support-lead-alone-denied #")
                || line.contains("/refund-refused-by-support-lead #"),
            "only the 220 and 780 USD refunds change: {line}"
        );
    }
    assert!(
        r.stdout.contains(
            "large-refund-support-lead-alone-denied #14  Tool::\"issue_refund\"  allow -> deny  (by refunds.large-need-finance-lead"
        ),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("approver roles: [support_lead, security_officer] -> [finance_lead]"),
        "{}",
        r.stdout
    );

    // Coverage counts the policies on argument conditions: both refund rules
    // and the trial tenants' refund limit are exercised.
    let r = contextos_in(&repo(), &["policy", "coverage", "--min", "0"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("of them on tool-call arguments: 3/3 exercised"),
        "{}",
        r.stdout
    );
}

/// The request of the bundled case `large-refund-support-lead-alone-denied`.
const REFUND_220_BY_SUPPORT_LEAD: &str = r#"format_version: 1
request:
  id: req-large-refund-support-lead-alone-denied
  channel: support_portal
  text: >-
    Ticket T-5388: customer ACME-5561 was charged twice for order 7432 during
    the northpay incident and wants the duplicate 220.00 USD refunded.
run_context:
  format_version: 1
  run_id: run_refund_5388
  trace_id: 4bf92f3577b34da6a3ce929d0e0e4736
  session_id: sess_portal_0193
  tenant_id: acme
  user: { id: alice, roles: [support_agent] }
  agent: { id: triage-bot, workload: "spiffe://acme.example/agents/triage-bot" }
  delegation_chain: []
  safety_mode: standard
  approval_mode: destructive
  budget: { max_iterations: 6, max_tool_calls: 8, max_tokens: 20000 }
started_at: 1767225600000
"#;

/// Done when: the 220 USD refund a support lead alone approved is not
/// executed, and the run and `policy explain` name the rule that denied it.
#[test]
fn a_220_usd_refund_approved_by_a_support_lead_alone_is_not_executed() {
    let work = tempfile::tempdir().unwrap();
    let request = work.path().join("refund-5388.yaml");
    fs::write(&request, REFUND_220_BY_SUPPORT_LEAD).unwrap();
    let fixtures = repo().join("scenarios/customer-escalation/fixtures/large-refund-support-lead-alone-denied");
    let store = work.path().join("store");
    let r = run_into_store(&request, &fixtures, &store);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let refund = r
        .stdout
        .lines()
        .find(|l| l.contains("issue_refund"))
        .unwrap_or_else(|| panic!("{}", r.stdout));
    assert!(refund.contains(" denied "), "{refund}");
    assert!(
        refund.contains("approval_required -> deny (granted by dev.patel, support_lead)")
            && refund.contains("[refunds.large-need-finance-lead]"),
        "{refund}"
    );
    assert!(!r.stdout.contains("rf_"), "no refund id: {}", r.stdout);

    let shown = contextos_in(
        &repo(),
        &["show", "run_refund_5388", "--store", store.to_str().unwrap()],
    );
    assert_eq!(shown.code, 0, "{}{}", shown.stdout, shown.stderr);
    assert!(
        shown.stdout.contains("[refunds.large-need-finance-lead]"),
        "{}",
        shown.stdout
    );

    // And explain of that decision names the rule, with its file and line.
    let entities = fs::read_to_string(repo().join("policies/tests/entities.json")).unwrap();
    let explain = work.path().join("refund-220.yaml");
    fs::write(
        &explain,
        format!(
            "principal: ContextOS::Agent::\"triage-bot\"\naction: issue_refund\nresource: ContextOS::Tool::\"issue_refund\"\ncontext:\n  \
             arguments: {{ customer_id: ACME-5561, order_id: \"7432\", amount_cents: 22000, currency: USD, reason: duplicate }}\n  \
             approval: {{ granted: true, role: support_lead }}\n  tenant: {{ type: ContextOS::Tenant, id: acme }}\n  \
             safety_mode: standard\n  run_approval_level: 2\n  budget: {{ tool_calls_left: 5, tokens_left: 9000 }}\n\
             entities: {entities}\n"
        ),
    )
    .unwrap();
    let r = contextos_in(&repo(), &["policy", "explain", "--request", explain.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.starts_with("outcome:   deny\n"), "{}", r.stdout);
    assert!(
        r.stdout.contains("  - forbid refunds.large-need-finance-lead (") && r.stdout.contains("refunds.cedar:6)"),
        "{}",
        r.stdout
    );
}

const RESTART_SERVICE: &str = "format_version: 1\nname: restart_service\n\
description: Restart a service.\napproval_mode: network\nside_effect: internal\nidempotent: true\n\
attributes: { environment: production, service: payments-db }\n\
input_schema: { type: object, additionalProperties: false, required: [reason], properties: { reason: { type: string } } }\n";

const PRODUCTION_RESTART_RULE: &str = r#"@id("ops.production-restart-needs-oncall-lead")
forbid (principal, action == ContextOS::Action::"restart_service", resource)
when { resource.attributes has environment && resource.attributes.environment == "production" }
unless { context.approval.granted && context.approval.role == "oncall_lead" };

@id("ops.restart-by-oncall-lead")
permit (principal, action == ContextOS::Action::"restart_service", resource)
when { principal.tenant == context.tenant && context.approval.granted && context.approval.role == "oncall_lead" };
"#;

#[test]
fn a_rule_on_a_declared_tool_attribute_works_like_one_on_arguments() {
    let work = tempfile::tempdir().unwrap();
    for sub in ["runtime", "policies", "goldens"] {
        copy_dir(&repo().join(sub), &work.path().join(sub));
    }
    fs::write(work.path().join("runtime/tools/restart_service.yaml"), RESTART_SERVICE).unwrap();
    let r = contextos_in(work.path(), &["policy", "schema", "--write"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);

    // An attribute the deployment's schema does not declare: the deployment refuses to load.
    let r = contextos_in(work.path(), &["policy", "impact", "--candidate", "policies"]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("do not match")
            && r.stderr.contains("restart_service")
            && r.stderr.contains("ToolAttributes"),
        "{}",
        r.stderr
    );

    // Declared in the deployment's own schema, with the rule and its approver role.
    let schema_path = work.path().join("policies/schema.cedarschema");
    let schema = fs::read_to_string(&schema_path).unwrap();
    let declared = schema.replace(
        "type ToolAttributes = { data_class?: String };",
        "type ToolAttributes = { data_class?: String, environment?: String, service?: String };",
    );
    assert_ne!(declared, schema, "the bundled schema declares ToolAttributes");
    fs::write(&schema_path, declared).unwrap();
    // The generated namespace names the deployment's ToolAttributes without
    // copying it: widening the record leaves it up to date.
    let r = contextos_in(work.path(), &["policy", "validate"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    fs::write(work.path().join("policies/ops.cedar"), PRODUCTION_RESTART_RULE).unwrap();
    let approvers = fs::read_to_string(work.path().join("policies/approvers.yaml")).unwrap();
    fs::write(
        work.path().join("policies/approvers.yaml"),
        format!("{approvers}  - oncall_lead\n"),
    )
    .unwrap();
    let r = contextos_in(work.path(), &["policy", "validate"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let r = contextos_in(
        work.path(),
        &["policy", "impact", "--candidate", "policies", "--allow-changes"],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);

    // The rule decides on the tool's attribute: a support lead's approval is
    // not enough in production, an on-call lead's is.
    let entities = fs::read_to_string(repo().join("policies/tests/entities.json")).unwrap();
    let mut entities: Vec<serde_json::Value> = serde_json::from_str(&entities).unwrap();
    entities.push(serde_json::json!({
        "uid": {"type": "ContextOS::Tool", "id": "restart_service"},
        "attrs": {"approval_mode": "network", "approval_level": 2, "side_effect": "internal",
                  "attributes": {"environment": "production", "service": "payments-db"}},
        "parents": []
    }));
    let tests = work.path().join("policies/tests");
    fs::write(tests.join("entities.json"), serde_json::to_string(&entities).unwrap()).unwrap();
    fs::write(
        tests.join("ops.yaml"),
        "format_version: 1\nentities_from: entities.json\ndefaults:\n  context:\n    tenant: { type: ContextOS::Tenant, id: acme }\n    \
         safety_mode: standard\n    run_approval_level: 2\n    budget: { tool_calls_left: 8, tokens_left: 20000 }\ntests:\n  \
         - name: a production restart approved by a support lead is denied\n    principal: ContextOS::Agent::\"triage-bot\"\n    \
         action: restart_service\n    resource: ContextOS::Tool::\"restart_service\"\n    arguments: { reason: stuck }\n    \
         context: { approval: { granted: true, role: support_lead } }\n    \
         expect: { outcome: deny, determining: [ops.production-restart-needs-oncall-lead] }\n  \
         - name: a production restart waits for an on-call lead\n    principal: ContextOS::Agent::\"triage-bot\"\n    \
         action: restart_service\n    resource: ContextOS::Tool::\"restart_service\"\n    arguments: { reason: stuck }\n    \
         expect: { outcome: approval_required, approver_roles: [oncall_lead] }\n",
    )
    .unwrap();
    let r = contextos_in(work.path(), &["policy", "test"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("PASS policies/tests/ops.yaml › a production restart approved by a support lead is denied"),
        "{}",
        r.stdout
    );
}
