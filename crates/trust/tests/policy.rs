//! The policy engine against the shipped bundle: real Cedar evaluation.

#![expect(clippy::unwrap_used, reason = "a test or benchmark fails loudly on broken fixtures")]

use std::fs;
use std::path::{Path, PathBuf};

use contextos_core::PolicyOutcome;
use contextos_trust::{PolicyEffect, PolicyEngine, PolicyMode, RequestDocument, run_policy_tests};
use proptest::prelude::*;
use serde_json::json;

fn shipped() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies")
}

fn copy_bundle(extra: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in fs::read_dir(shipped()).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
        }
    }
    for (name, text) in extra {
        fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

fn outcomes(engine: &PolicyEngine) -> Vec<(String, PolicyOutcome)> {
    run_policy_tests(engine, &shipped().join("tests"))
        .unwrap()
        .results
        .into_iter()
        .map(|r| (r.name, r.actual.outcome))
        .collect()
}

#[test]
fn shipped_policy_tests_pass() {
    let engine = PolicyEngine::load(&shipped()).unwrap();
    let report = run_policy_tests(&engine, &shipped().join("tests")).unwrap();
    let failures: Vec<_> = report
        .results
        .iter()
        .filter(|r| !r.passed)
        .map(|r| (&r.name, &r.failures))
        .collect();
    assert!(failures.is_empty(), "{failures:#?}");
    // Every outcome kind is exercised by the shipped tests.
    for kind in [
        PolicyOutcome::Allow,
        PolicyOutcome::Deny,
        PolicyOutcome::ApprovalRequired,
    ] {
        assert!(
            report.results.iter().any(|r| r.actual.outcome == kind),
            "no test ends in {kind}"
        );
    }
}

#[test]
fn bundle_knows_modes_files_and_lines() {
    let engine = PolicyEngine::load(&shipped()).unwrap();
    let shadow: Vec<_> = engine
        .policies()
        .iter()
        .filter(|p| p.mode == PolicyMode::Shadow)
        .collect();
    assert_eq!(shadow.len(), 1);
    assert_eq!(shadow[0].id, "tools.shadow-network-budget-headroom");
    let guard = engine
        .policies()
        .iter()
        .find(|p| p.id == "tools.destructive-guard")
        .unwrap();
    assert_eq!(guard.effect, PolicyEffect::Forbid);
    assert!(guard.file.ends_with("tools.cedar"));
    let text = fs::read_to_string(shipped().join("tools.cedar")).unwrap();
    assert_eq!(
        text.lines().nth(guard.line - 1).unwrap(),
        "forbid (principal, action in ContextOS::Action::\"call_tool\", resource)"
    );
}

#[test]
fn bundle_digest_is_stable_across_locations_and_changes_with_content() {
    let a = PolicyEngine::load(&shipped()).unwrap();
    let copy = copy_bundle(&[]);
    let b = PolicyEngine::load(copy.path()).unwrap();
    assert_eq!(a.bundle_digest(), b.bundle_digest());
    let changed = copy_bundle(&[(
        "extra.cedar",
        "@id(\"x.extra\")\nforbid (principal, action, resource) when { context.safety_mode == \"x\" };\n",
    )]);
    assert_ne!(
        PolicyEngine::load(changed.path()).unwrap().bundle_digest(),
        a.bundle_digest()
    );
}

#[test]
fn evaluation_error_denies() {
    // `context.budget.tool_calls_left / 0`-style runtime errors do not exist in
    // Cedar, but an overflow does: the permit errors and the engine must deny
    // even though another permit is satisfied.
    let copy = copy_bundle(&[(
        "overflow.cedar",
        "@id(\"x.overflowing-permit\")\npermit (principal, action in ContextOS::Action::\"call_tool\", resource)\nwhen { context.budget.tokens_left * 9223372036854775807 > 0 };\n",
    )]);
    let engine = PolicyEngine::load(copy.path()).unwrap();
    let doc: RequestDocument = serde_json::from_value(json!({
        "principal": "ContextOS::Agent::\"triage-bot\"",
        "action": "read_ticket",
        "resource": "ContextOS::Tool::\"read_ticket\"",
        "context": {
            "arguments": {"ticket_id": "T-4420"},
            "tenant": {"type": "ContextOS::Tenant", "id": "acme"},
            "safety_mode": "standard",
            "run_approval_level": 2,
            "budget": {"tool_calls_left": 3, "tokens_left": 5000}
        },
        "entities": serde_json::from_str::<serde_json::Value>(&fs::read_to_string(shipped().join("tests/entities.json")).unwrap()).unwrap()
    }))
    .unwrap();
    let (req, entities) = engine.request_from_document(&doc).unwrap();
    let d = engine.authorize(&req, &entities);
    assert_eq!(d.outcome, PolicyOutcome::Deny, "{d:#?}");
    assert!(d.reason.contains("fail closed"), "{}", d.reason);
    assert!(
        d.errors.iter().any(|e| e.contains("x.overflowing-permit")),
        "{:?}",
        d.errors
    );
    // The erring policy decided; the satisfied permit is never named as the
    // cause of a deny.
    assert_eq!(d.determining_policies, ["x.overflowing-permit"], "{d:#?}");
    assert!(!d.reason.contains("tools.read-only-in-tenant"), "{}", d.reason);
}

#[test]
fn policy_tests_fail_on_an_unexpected_evaluation_error() {
    let copy = copy_bundle(&[(
        "overflow.cedar",
        "@id(\"x.overflowing-permit\")\npermit (principal, action in ContextOS::Action::\"call_tool\", resource)\nwhen { context.budget.tokens_left * 9223372036854775807 > 0 };\n",
    )]);
    let tests = copy.path().join("tests");
    fs::create_dir(&tests).unwrap();
    fs::copy(shipped().join("tests/entities.json"), tests.join("entities.json")).unwrap();
    let case = |name: &str, extra: &str| {
        format!(
            "  - name: {name}\n    principal: ContextOS::Agent::\"triage-bot\"\n    action: read_ticket\n    resource: ContextOS::Tool::\"read_ticket\"\n    arguments: {{ ticket_id: T-4420 }}\n    expect:\n      outcome: deny\n{extra}"
        )
    };
    let file = format!(
        "format_version: 1\nentities_from: entities.json\ndefaults:\n  context:\n    tenant: {{ type: ContextOS::Tenant, id: acme }}\n    safety_mode: standard\n    run_approval_level: 2\n    budget: {{ tool_calls_left: 3, tokens_left: 5000 }}\ntests:\n{}{}",
        case("denied only through an error", ""),
        case("denied through an expected error", "      errors: expected\n")
    );
    fs::write(tests.join("errors.yaml"), file).unwrap();
    let engine = PolicyEngine::load(copy.path()).unwrap();
    let report = run_policy_tests(&engine, &tests).unwrap();
    let [unexpected, expected] = &report.results[..] else {
        panic!("{report:#?}")
    };
    assert!(!unexpected.passed);
    assert!(
        unexpected.failures[0].contains("evaluation failed")
            && unexpected.failures[0].contains("x.overflowing-permit")
            && unexpected.failures[0].contains("errors: expected"),
        "{:?}",
        unexpected.failures
    );
    assert!(expected.passed, "{:?}", expected.failures);

    // On the shipped bundle nothing errs, so `errors: expected` fails.
    let engine = PolicyEngine::load(&shipped()).unwrap();
    let report = run_policy_tests(&engine, &tests).unwrap();
    assert!(
        report.results[1]
            .failures
            .contains(&"errors: expected an evaluation error, got none".to_string()),
        "{report:#?}"
    );
}

#[test]
fn request_that_violates_the_schema_is_an_input_error() {
    let engine = PolicyEngine::load(&shipped()).unwrap();
    let doc: RequestDocument = serde_json::from_value(json!({
        "principal": "ContextOS::Agent::\"triage-bot\"",
        "action": "read_ticket",
        "resource": "ContextOS::Tool::\"read_ticket\"",
        "context": { "tenant": {"type": "ContextOS::Tenant", "id": "acme"}, "safety_mode": 3 }
    }))
    .unwrap();
    let err = engine.request_from_document(&doc).unwrap_err();
    assert_eq!(err.field, "context");
}

/// The located role diagnostics of loading the shipped bundle with `extra`
/// files, as `file:line:col: message` with the directory left out.
fn role_problems(extra: &[(&str, &str)]) -> Vec<String> {
    let dir = copy_bundle(extra);
    let Err(err) = PolicyEngine::load(dir.path()) else {
        return Vec::new();
    };
    let prefix = format!("{}/", dir.path().display());
    err.diagnostics
        .iter()
        .map(|d| d.to_string().replace(&prefix, ""))
        .collect()
}

#[test]
fn approver_roles_are_checked_both_ways() {
    const APPROVERS: &str = "format_version: 1\nroles: [support_lead, finance_lead, security_officer, audit_lead]\n";
    assert_eq!(
        role_problems(&[("approvers.yaml", APPROVERS)]),
        ["approvers.yaml:2:55: approver role \"audit_lead\" is mentioned by no policy"]
    );
    // Every recognised comparison counts as mentioning the role; comments and
    // the empty role (an approval not granted) do not.
    for condition in [
        "context.approval.role == \"audit_lead\"",
        "\"audit_lead\" != context.approval.role",
        "[\"audit_lead\"].contains(context.approval.role)",
        "[context.approval.role].containsAny([\"audit_lead\", \"support_lead\"])",
    ] {
        let policy = format!(
            "// \"auditor\" is not a role here\n@id(\"x.audit\")\nforbid (principal, action, resource)\nwhen {{ context.approval.role != \"\" && {condition} }};\n"
        );
        assert_eq!(
            role_problems(&[("approvers.yaml", APPROVERS), ("audit.cedar", &policy)]),
            Vec::<String>::new(),
            "{condition}"
        );
        let undeclared = role_problems(&[("audit.cedar", &policy)]);
        assert_eq!(undeclared.len(), 1, "{condition}: {undeclared:?}");
        let column = "when { context.approval.role != \"\" && ".len() + condition.find("\"audit_lead\"").unwrap() + 1;
        assert_eq!(
            undeclared[0],
            format!("audit.cedar:4:{column}: approver role \"audit_lead\" is not listed in approvers.yaml"),
            "{condition}"
        );
    }
}

fn atom() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec!["restricted", "standard", "elevated"])
            .prop_map(|s| format!("context.safety_mode == \"{s}\"")),
        (0i64..4).prop_map(|n| format!("context.run_approval_level >= {n}")),
        (0i64..10).prop_map(|n| format!("context.budget.tool_calls_left < {n}")),
        Just("context.approval.granted".to_string()),
        prop::sample::select(vec!["support_lead", "security_officer", ""])
            .prop_map(|r| format!("context.approval.role == \"{r}\"")),
        (0i64..3).prop_map(|n| format!("principal.delegation_depth > {n}")),
    ]
}

fn random_forbid() -> impl Strategy<Value = String> {
    let scope = prop::sample::select(vec![
        "action",
        "action in ContextOS::Action::\"call_tool\"",
        "action == ContextOS::Action::\"use_pack\"",
        "action in [ContextOS::Action::\"delegate\", ContextOS::Action::\"promote_memory\"]",
    ]);
    (scope, prop::collection::vec(atom(), 0..3)).prop_map(|(scope, atoms)| {
        let cond = if atoms.is_empty() {
            "true".to_string()
        } else {
            atoms.join(" && ")
        };
        format!("@id(\"prop.random-forbid\")\nforbid (principal, {scope}, resource) when {{ {cond} }};\n")
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Adding a forbid never turns a deny into an allow or approval_required,
    /// and never turns approval_required into an allow.
    #[test]
    fn added_forbid_is_monotone(forbid in random_forbid()) {
        let base = outcomes(&PolicyEngine::load(&shipped()).unwrap());
        let copy = copy_bundle(&[("zz-random.cedar", &forbid)]);
        let engine = PolicyEngine::load(copy.path()).unwrap();
        let after = outcomes(&engine);
        prop_assert_eq!(base.len(), after.len());
        for ((name, before), (_, now)) in base.iter().zip(&after) {
            match before {
                PolicyOutcome::Deny => prop_assert_eq!(*now, PolicyOutcome::Deny, "{} with {}", name, forbid),
                PolicyOutcome::ApprovalRequired => prop_assert_ne!(*now, PolicyOutcome::Allow, "{} with {}", name, forbid),
                PolicyOutcome::Allow => {}
            }
        }
    }
}

/// Capability discovery before a call has arguments: a forbid that reads
/// them (refunds above 200 USD need a finance lead) cannot decide yet and is
/// set aside, but a door no permit could open stays closed.
#[test]
fn discovery_sets_aside_forbids_on_arguments_but_keeps_closed_doors_closed() {
    let engine = PolicyEngine::load(&shipped()).unwrap();
    let entities =
        serde_json::from_str::<serde_json::Value>(&fs::read_to_string(shipped().join("tests/entities.json")).unwrap())
            .unwrap();
    let discover = |agent: &str, tenant: &str, safety: &str, tool: &str, arguments: serde_json::Value| {
        let doc: RequestDocument = serde_json::from_value(json!({
            "principal": format!("ContextOS::Agent::{agent:?}"),
            "action": tool,
            "resource": format!("ContextOS::Tool::{tool:?}"),
            "context": {
                "arguments": arguments,
                "tenant": {"type": "ContextOS::Tenant", "id": tenant},
                "safety_mode": safety,
                "run_approval_level": 2,
                "budget": {"tool_calls_left": 3, "tokens_left": 5000}
            },
            "entities": entities.clone()
        }))
        .unwrap();
        let (mut req, entities) = engine.request_from_document(&doc).unwrap();
        req.attributes.retain(|(name, _)| name != "arguments");
        engine.might_allow(&req, &entities)
    };
    let refund = json!({"customer_id": "ACME-913", "order_id": "5610", "amount_cents": 12900, "currency": "USD", "reason": "duplicate"});
    assert!(
        discover("triage-bot", "acme", "standard", "issue_refund", refund.clone()),
        "a lead's grant may allow it"
    );
    assert!(
        !discover("triage-bot", "acme", "restricted", "issue_refund", refund.clone()),
        "no permit applies when restricted"
    );
    assert!(discover(
        "triage-bot",
        "acme",
        "restricted",
        "read_ticket",
        json!({"ticket_id": "T-4420"})
    ));
    // The trial tenants' refund limit reads the amount: decided at the call.
    assert!(discover("initech-bot", "initech", "standard", "issue_refund", refund));
    // Another tenant's tool: the tenancy forbid holds whatever anyone grants.
    assert!(!discover(
        "triage-bot",
        "acme",
        "standard",
        "globex_crm_export",
        json!({"customer_id": "GLOBEX-7"})
    ));
    assert!(!discover(
        "triage-bot",
        "acme",
        "standard",
        "delete_account",
        json!({"customer_id": "ACME-913", "reason": "asked"})
    ));
}
