//! `contextos policy …` and `contextos keys …` through the real binary.

#![expect(clippy::unwrap_used, reason = "a test or benchmark fails loudly on broken fixtures")]

use std::fs;

mod common;
use common::{Run, command_in, copy_dir, repo, run};

/// A scratch directory holding a copy of the shipped `policies/` bundle.
fn scratch_bundle() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&repo().join("policies"), &dir.path().join("policies"));
    dir
}

#[test]
fn validate_shipped_bundle() {
    let r = run(command_in(&repo()).args(["policy", "validate"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    // The digest line changes with every policy edit; the rest is stable.
    let stable: Vec<_> = r.stdout.lines().filter(|l| !l.contains("digest:")).collect();
    insta::assert_snapshot!(stable.join("\n"));
    assert!(r.stdout.contains("digest: sha256:"));
}

fn validate_error(file: &str, text: &str) -> Run {
    let dir = scratch_bundle();
    fs::write(dir.path().join("policies").join(file), text).unwrap();
    let r = run(command_in(dir.path()).args(["policy", "validate", "--policies", "policies"]));
    assert_eq!(r.code, 2, "stdout: {}\nstderr: {}", r.stdout, r.stderr);
    r
}

#[test]
fn validate_reports_bad_syntax_with_location() {
    let r = validate_error(
        "broken.cedar",
        "@id(\"x.broken\")\npermit (principal, action, resource)\nwhen { context.safety_mode == };\n",
    );
    assert!(r.stderr.contains("policies/broken.cedar:3:31"), "{}", r.stderr);
    insta::assert_snapshot!(r.stderr);
}

#[test]
fn validate_reports_unknown_entity_type_with_location() {
    let r = validate_error(
        "typo.cedar",
        "@id(\"x.typo\")\npermit (principal is ContextOS::Agnet, action == ContextOS::Action::\"call_tool\", resource);\n",
    );
    assert!(r.stderr.contains("policies/typo.cedar:2:22"), "{}", r.stderr);
    insta::assert_snapshot!(r.stderr);
}

#[test]
fn validate_reports_missing_id_with_location() {
    let r = validate_error(
        "anonymous.cedar",
        "// Refunds need a lead.\n\npermit (principal, action == ContextOS::Action::\"call_tool\", resource)\nwhen { context.approval.granted };\n",
    );
    assert!(r.stderr.contains("policies/anonymous.cedar:3:1"), "{}", r.stderr);
    insta::assert_snapshot!(r.stderr);
}

#[test]
fn validate_reports_an_argument_the_tool_does_not_have_with_location() {
    // issue_refund's contract has `amount_cents`, not `amount`.
    let r = validate_error(
        "refund-args.cedar",
        "@id(\"refunds.large\")\nforbid (principal, action == ContextOS::Action::\"issue_refund\", resource)\nwhen { context.arguments.amount > 20000 };\n",
    );
    assert!(r.stderr.contains("policies/refund-args.cedar:3:8"), "{}", r.stderr);
    assert!(r.stderr.contains("amount"), "{}", r.stderr);
    insta::assert_snapshot!(r.stderr);
}

#[test]
fn validate_reports_an_argument_of_the_wrong_type_with_location() {
    // `currency` is an enum of strings: Cedar sees a String, not a Long.
    let r = validate_error(
        "refund-args.cedar",
        "@id(\"refunds.currency\")\nforbid (principal, action == ContextOS::Action::\"issue_refund\", resource)\nwhen { context.arguments.currency > 100 };\n",
    );
    assert!(r.stderr.contains("policies/refund-args.cedar:3:8"), "{}", r.stderr);
    insta::assert_snapshot!(r.stderr);
}

/// `ARGS` in a copy of the repository's `policies/` (without the shipped
/// finance_lead rule, `refunds.cedar`) and `runtime/` whose
/// `policies/approvers.yaml` is `approvers` and which has `extra.cedar` as an
/// additional policy file when given.
fn with_approvers(approvers: &str, extra: Option<&str>, args: &[&str]) -> Run {
    let dir = scratch_bundle();
    fs::remove_file(dir.path().join("policies/refunds.cedar")).unwrap();
    fs::remove_file(dir.path().join("policies/tests/refunds.yaml")).unwrap();
    copy_dir(&repo().join("runtime"), &dir.path().join("runtime"));
    fs::write(dir.path().join("policies/approvers.yaml"), approvers).unwrap();
    if let Some(extra) = extra {
        fs::write(dir.path().join("policies/extra.cedar"), extra).unwrap();
    }
    run(command_in(dir.path()).args(args))
}

const APPROVERS_WITHOUT_FINANCE_LEAD: &str = "format_version: 1\nroles:\n  - support_lead\n  - security_officer\n";

const APPROVERS_WITH_FINANCE_LEAD: &str =
    "format_version: 1\nroles:\n  - support_lead\n  - finance_lead\n  - security_officer\n";

const FINANCE_LEAD_RULE: &str = "// Refunds need finance.\n@id(\"x.refund-by-finance\")\npermit (principal, action == ContextOS::Action::\"call_tool\", resource)\nwhen {\n  context.approval.granted &&\n  context.approval.role == \"finance_lead\"\n};\n";

#[test]
fn validate_reports_an_approver_role_no_policy_mentions_with_location() {
    let r = with_approvers(APPROVERS_WITH_FINANCE_LEAD, None, &["policy", "validate"]);
    assert_eq!(r.code, 2, "stdout: {}\nstderr: {}", r.stdout, r.stderr);
    assert!(r.stderr.contains("policies/approvers.yaml:4:5"), "{}", r.stderr);
    insta::assert_snapshot!(r.stderr);
}

#[test]
fn validate_reports_a_policy_role_missing_from_approvers_with_location() {
    let approvers = APPROVERS_WITHOUT_FINANCE_LEAD;
    let r = with_approvers(approvers, Some(FINANCE_LEAD_RULE), &["policy", "validate"]);
    assert_eq!(r.code, 2, "stdout: {}\nstderr: {}", r.stdout, r.stderr);
    assert!(r.stderr.contains("policies/extra.cedar:6:28"), "{}", r.stderr);
    insta::assert_snapshot!(r.stderr);
}

#[test]
fn a_role_declared_and_used_validates() {
    let r = with_approvers(
        APPROVERS_WITH_FINANCE_LEAD,
        Some(FINANCE_LEAD_RULE),
        &["policy", "validate"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn policy_test_and_run_refuse_a_bundle_with_an_undeclared_or_unused_role() {
    let approvers = APPROVERS_WITHOUT_FINANCE_LEAD;
    let run_args = [
        "run",
        "runtime/examples/escalation/request.yaml",
        "--fixtures",
        "runtime/examples/escalation/fixtures",
        "--store",
        "store",
    ];
    for args in [&["policy", "test"][..], &run_args[..]] {
        let unused = with_approvers(APPROVERS_WITH_FINANCE_LEAD, None, args);
        assert_eq!(unused.code, 2, "{args:?}: {}\n{}", unused.stdout, unused.stderr);
        assert!(
            unused
                .stderr
                .contains("approvers.yaml:4:5: approver role \"finance_lead\" is mentioned by no policy"),
            "{args:?}: {}",
            unused.stderr
        );
        let undeclared = with_approvers(approvers, Some(FINANCE_LEAD_RULE), args);
        assert_eq!(
            undeclared.code, 2,
            "{args:?}: {}\n{}",
            undeclared.stdout, undeclared.stderr
        );
        assert!(
            undeclared
                .stderr
                .contains("extra.cedar:6:28: approver role \"finance_lead\" is not listed"),
            "{args:?}: {}",
            undeclared.stderr
        );
    }
}

#[test]
fn validate_reports_missing_schema() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("policies")).unwrap();
    let r = run(command_in(dir.path()).args(["policy", "validate"]));
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("policies/schema.cedarschema: missing Cedar schema"),
        "{}",
        r.stderr
    );
}

#[test]
fn shipped_policy_tests_pass() {
    let r = run(command_in(&repo()).args(["policy", "test"]));
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(!r.stdout.contains("FAIL"), "{}", r.stdout);
    let last = r.stdout.lines().last().unwrap();
    assert!(
        last.starts_with("policy tests: ") && last.ends_with(" passed, 0 failed"),
        "{last}"
    );
}

#[test]
fn broken_policy_makes_policy_test_fail() {
    let dir = scratch_bundle();
    let tools = dir.path().join("policies/tools.cedar");
    // Make the approval optional in the network permit: refunds no longer
    // need an approver (the roles stay mentioned, so the bundle still loads).
    let text = fs::read_to_string(&tools).unwrap().replace(
        "  context.approval.granted &&\n  [\"support_lead\", \"security_officer\"].contains(context.approval.role)\n",
        "  (!context.approval.granted || [\"support_lead\", \"security_officer\"].contains(context.approval.role))\n",
    );
    assert!(text.contains("(!context.approval.granted ||"), "edit did not apply");
    fs::write(&tools, text).unwrap();
    let r = run(command_in(dir.path()).args(["policy", "test"]));
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("FAIL policies/tests/tools.yaml › refund without approval requires a lead or officer"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("outcome: expected approval_required, got allow"),
        "{}",
        r.stdout
    );
}

#[test]
fn policy_test_json_format() {
    let r = run(command_in(&repo()).args(["policy", "test", "--format", "json"]));
    assert_eq!(r.code, 0);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let results = v["results"].as_array().unwrap();
    assert!(results.len() >= 20);
    assert!(results.iter().all(|r| r["passed"] == true));
    assert!(results.iter().any(|r| r["actual"]["outcome"] == "approval_required"));
}

#[test]
fn explain_refund_needs_approval() {
    let dir = tempfile::tempdir().unwrap();
    let entities = fs::read_to_string(repo().join("policies/tests/entities.json")).unwrap();
    let request = format!(
        "principal: ContextOS::Agent::\"triage-bot\"\naction: issue_refund\nresource: ContextOS::Tool::\"issue_refund\"\ncontext:\n  arguments: {{ customer_id: ACME-913, order_id: \"5610\", amount_cents: 12900, currency: USD, reason: duplicate }}\n  tenant: {{ type: ContextOS::Tenant, id: acme }}\n  safety_mode: standard\n  run_approval_level: 2\n  budget: {{ tool_calls_left: 1, tokens_left: 900 }}\nentities: {entities}\n"
    );
    fs::write(dir.path().join("refund.yaml"), request).unwrap();
    let r = run(command_in(&repo())
        .args(["policy", "explain", "--request"])
        .arg(dir.path().join("refund.yaml")));
    assert_eq!(r.code, 0, "{}", r.stderr);
    insta::assert_snapshot!(r.stdout);
}

#[test]
fn explain_bad_request_file_is_an_input_error() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("req.yaml"),
        "principal: ContextOS::Agent::\"a\"\naction: call_tool\nresourse: ContextOS::Tool::\"x\"\n",
    )
    .unwrap();
    let r = run(command_in(dir.path())
        .args(["policy", "explain", "--request", "req.yaml", "--policies"])
        .arg(repo().join("policies")));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("req.yaml:3:1"), "{}", r.stderr);
    assert!(r.stderr.contains("resourse"), "{}", r.stderr);
}

#[test]
fn keys_generate_writes_a_loadable_pair_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(command_in(dir.path()).args(["keys", "generate", "--name", "ci", "--out", "keys"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.starts_with("generated ed25519:"), "{}", r.stdout);
    let public = fs::read_to_string(dir.path().join("keys/ci.pub")).unwrap();
    let secret = fs::read_to_string(dir.path().join("keys/ci.key")).unwrap();
    let public: serde_json::Value = serde_json::from_str(&public).unwrap();
    let secret: serde_json::Value = serde_json::from_str(&secret).unwrap();
    assert_eq!(public["key_id"], secret["key_id"]);
    assert!(public.get("secret_key").is_none());
    assert!(!r.stdout.contains(secret["secret_key"].as_str().unwrap()));
    let again = run(command_in(dir.path()).args(["keys", "generate", "--name", "ci", "--out", "keys"]));
    assert_eq!(again.code, 2, "{}", again.stderr);
}

/// A deployment schema declaring user attributes, a rule reading them, and a
/// request whose user carries them: explain shows what the decision could read.
#[test]
fn explain_shows_the_declared_attributes_a_decision_could_read() {
    let work = tempfile::tempdir().unwrap();
    for sub in ["runtime", "policies"] {
        copy_dir(&repo().join(sub), &work.path().join(sub));
    }
    let schema = work.path().join("policies/schema.cedarschema");
    let text = fs::read_to_string(&schema).unwrap();
    fs::write(
        &schema,
        format!("{text}\nnamespace Probe {{\n  type UserAttributes = {{ clearance?: Long }};\n}}\n"),
    )
    .unwrap();
    fs::write(
        work.path().join("policies/probe.cedar"),
        "@id(\"probe.refunds-need-clearance\")\nforbid (principal, action == ContextOS::Action::\"issue_refund\", resource)\n\
         when { principal.acting_for.attributes has clearance && principal.acting_for.attributes.clearance < 2 };\n",
    )
    .unwrap();
    let r = run(command_in(work.path()).args(["policy", "schema", "--write"]));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let entities = fs::read_to_string(repo().join("policies/tests/entities.json")).unwrap();
    let mut entities: Vec<serde_json::Value> = serde_json::from_str(&entities).unwrap();
    for e in &mut entities {
        if e["uid"] == serde_json::json!({"type": "ContextOS::User", "id": "alice"}) {
            e["attrs"]["attributes"] = serde_json::json!({"clearance": 1});
        }
    }
    let request = format!(
        "principal: ContextOS::Agent::\"triage-bot\"\naction: issue_refund\nresource: ContextOS::Tool::\"issue_refund\"\n\
         context:\n  arguments: {{ customer_id: ACME-913, order_id: \"5610\", amount_cents: 12900, currency: USD, reason: duplicate }}\n  \
         tenant: {{ type: ContextOS::Tenant, id: acme }}\n  safety_mode: standard\n  run_approval_level: 2\n  \
         budget: {{ tool_calls_left: 4, tokens_left: 900 }}\nentities: {}\n",
        serde_json::to_string(&entities).unwrap()
    );
    fs::write(work.path().join("refund.yaml"), request).unwrap();
    let r = run(command_in(work.path()).args(["policy", "explain", "--request", "refund.yaml"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("outcome:   deny"), "{}", r.stdout);
    assert!(
        r.stdout.contains("declared:  User::\"alice\" {\"clearance\":1}"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("  - forbid probe.refunds-need-clearance (policies/probe.cedar:2)"),
        "{}",
        r.stdout
    );
}
