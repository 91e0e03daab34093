//! `contextos scenario check` and `scenario record` on a scratch copy of the
//! bundled suite, broken on purpose; and a required context layer denied by
//! policy, through `run` and `eval`.
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

mod common;

use std::path::Path;

use common::{contextos_in, files_under, repo, scratch_project};

const SUITE: &str = "scenarios/customer-escalation";

/// Replaces the one occurrence of `from` in `dir/rel` with `to`.
fn edit(dir: &Path, rel: &str, from: &str, to: &str) {
    let path = dir.join(rel);
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.matches(from).count(), 1, "{from:?} must occur once in {rel}");
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
}

#[test]
fn check_resolves_the_bundled_suite_and_says_what_it_resolved() {
    let r = contextos_in(&repo(), &["scenario", "check"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(
        r.stdout.trim(),
        "suite customer-escalation is valid: 21 cases, 21 scripts; resolved 7 tools, 7 policy ids, \
         3 approver roles; 7 patterns compile"
    );
}

#[test]
fn check_reports_every_unresolved_name_at_its_file_line_and_column() {
    let work = scratch_project();
    let dir = work.path();
    let case = format!("{SUITE}/cases/refund-approved-by-support-lead.yaml");
    let script = format!("{SUITE}/scripts/refund-approved-by-support-lead.yaml");
    // In the case: a misspelled tool in a sequence (line 19), an unknown
    // policy id (line 28), a misspelled tool in an assertion (line 34); in the
    // script: a result for a tool with no contract (line 49) and a misspelled
    // approver role (line 58). All are reported, in file order.
    edit(
        dir,
        &case,
        "  - kind: tool_called\n    tool: issue_refund",
        "  - kind: tool_called\n    tool: issue_refnd",
    );
    edit(
        dir,
        &case,
        "policy_id: tools.network-with-approval",
        "policy_id: tools.network-with-aproval",
    );
    edit(
        dir,
        &case,
        "tools: [read_ticket, lookup_customer, issue_refund]",
        "tools: [read_ticket, lookup_custmer, issue_refund]",
    );
    edit(dir, &script, "    role: support_lead", "    role: suport_lead");
    let refund = "arguments: { customer_id: ACME-913, order_id: \"5610\", amount_cents: 12900, currency: USD, reason: \
                  \"duplicate capture np-5610-r1 on order 5610 during northpay incident NP-2291\" }\n    response:";
    edit(
        dir,
        &script,
        &format!("  - tool: issue_refund\n    {refund}"),
        &format!("  - tool: restart_service\n    {refund}"),
    );
    let r = contextos_in(dir, &["scenario", "check", "--config", "runtime/contextos.toml"]);
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    let known_tools = "delete_account, globex_crm_export, issue_refund, lookup_customer, read_ticket, send_email, \
                       update_ticket";
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(
        lines,
        [
            format!(
                "{case}:19:26: assertions[1].tools[1]: tool `lookup_custmer` is not a contract of this deployment; \
                 did you mean `lookup_customer`? known: {known_tools}"
            )
            .as_str(),
            &format!(
                "{case}:28:16: assertions[3].policy_id: policy id `tools.network-with-aproval` is not an @id of the \
                 policy bundle; did you mean `tools.network-with-approval`? known: {}",
                policy_ids(dir)
            ),
            &format!(
                "{case}:34:11: assertions[5].tool: tool `issue_refnd` is not a contract of this deployment; did you \
                 mean `issue_refund`? known: {known_tools}"
            ),
            &format!(
                "{script}:49:11: tools[2].tool: tool `restart_service` is not a contract of this deployment; \
                 known: {known_tools}"
            ),
            &format!(
                "{script}:58:11: approvals[0].role: approver role `suport_lead` is not in approvers.yaml; did you \
                 mean `support_lead`? known: support_lead, finance_lead, security_officer"
            ),
            "suite customer-escalation has 5 problem(s) in 21 case(s) and 21 script(s)",
        ]
    );
}

#[test]
fn check_reports_a_script_that_does_not_parse_beside_the_other_problems() {
    let work = scratch_project();
    let dir = work.path();
    let script = format!("{SUITE}/scripts/order-status-lookup.yaml");
    edit(dir, &script, "format_version: 1\n", "format_version: 1\nmodels: []\n");
    let case = format!("{SUITE}/cases/order-status-lookup.yaml");
    let text = std::fs::read_to_string(dir.join(&case)).unwrap();
    std::fs::write(
        dir.join(&case),
        format!("{text}  - {{ kind: tool_called, tool: read_tickets }}\n"),
    )
    .unwrap();
    let r = contextos_in(dir, &["scenario", "check"]);
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(lines.len(), 3, "{}", r.stderr);
    assert!(
        lines[0].starts_with(&format!("{case}:")) && lines[0].contains("tool `read_tickets` is not a contract"),
        "{}",
        r.stderr
    );
    assert!(
        lines[1].starts_with(&format!("{script}:3:1: (document): unknown field `models`")),
        "{}",
        r.stderr
    );
    assert_eq!(
        lines[2],
        "suite customer-escalation has 2 problem(s) in 21 case(s) and 21 script(s)"
    );
}

/// The bundle's `@id`s as `scenario check` lists them (sorted).
fn policy_ids(dir: &Path) -> String {
    let mut ids = Vec::new();
    for entry in std::fs::read_dir(dir.join("policies")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "cedar") {
            let text = std::fs::read_to_string(&path).unwrap();
            for rest in text.split("@id(\"").skip(1) {
                ids.push(rest.split('"').next().unwrap().to_owned());
            }
        }
    }
    ids.sort();
    ids.join(", ")
}

#[test]
fn check_reports_a_pattern_eval_cannot_compile_at_its_position() {
    let work = scratch_project();
    let case = format!("{SUITE}/cases/refund-approved-by-support-lead.yaml");
    edit(
        work.path(),
        &case,
        "pattern: \"(?i)approved by a support lead\"",
        "pattern: \"(?i)approved by a (support lead\"",
    );
    let r = contextos_in(work.path(), &["scenario", "check"]);
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    // The renderer wraps long lines (here inside the file name, after a hyphen).
    let flat = r.stderr.replace("\n  │ ", "");
    assert!(
        flat.contains(&format!(
            "failed to parse {SUITE}/cases/refund-approved-by-support-lead.yaml:47:14: answer_regex pattern \
             /(?i)approved by a (support lead/ is invalid"
        )),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("unclosed group"), "{}", r.stderr);
}

#[test]
fn record_fails_when_the_script_runs_out_and_keeps_the_previous_fixtures() {
    let work = scratch_project();
    let dir = work.path();
    let name = "refund-approved-by-support-lead";
    let script = format!("{SUITE}/scripts/{name}.yaml");
    // Drop the last model response (the final answer).
    let path = dir.join(&script);
    let text = std::fs::read_to_string(&path).unwrap();
    let start = text.find("  - content: >-\n      Refunded").unwrap();
    let end = text.find("tools:\n").unwrap();
    std::fs::write(&path, format!("{}{}", &text[..start], &text[end..])).unwrap();
    let fixtures = dir.join(SUITE).join("fixtures").join(name);
    let before = files_under(&fixtures);
    let r = contextos_in(
        dir,
        &[
            "scenario",
            "record",
            SUITE,
            "--case",
            name,
            "--case",
            "order-status-lookup",
        ],
    );
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(
        r.stderr.lines().collect::<Vec<_>>(),
        [
            format!("FAIL   {name}: the run does not match {script}; its fixtures are unchanged").as_str(),
            "       - the script ran out: model call 3 has no response (model: lists 2 response(s))",
        ]
    );
    // The other case still recorded; the summary counts the failure.
    assert!(
        r.stdout.contains("record order-status-lookup: 2 model, 2 tool"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.ends_with("recorded 1 case(s), 1 failed\n"), "{}", r.stdout);
    assert_eq!(
        files_under(&fixtures),
        before,
        "the previous fixtures must stay as they were"
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.join(SUITE).join("fixtures"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn record_fails_when_the_run_leaves_scripted_responses_results_or_approvals_unused() {
    let work = scratch_project();
    let dir = work.path();
    let name = "order-status-lookup";
    let script = format!("{SUITE}/scripts/{name}.yaml");
    let path = dir.join(&script);
    let text = std::fs::read_to_string(&path).unwrap();
    let end = text.find("tools:\n").unwrap();
    let extra_response = "  - content: an answer nobody asks for\n";
    let extra_result =
        "  - tool: send_email\n    arguments: { customer_id: ACME-1 }\n    response: { ok: { sent: true } }\n";
    let approval =
        "approvals:\n  - { tool: issue_refund, verdict: granted, approver: lena.ortiz, role: support_lead }\n";
    std::fs::write(
        &path,
        format!(
            "{}{extra_response}{}{extra_result}{approval}",
            &text[..end],
            &text[end..]
        ),
    )
    .unwrap();
    assert!(
        !text.contains("approvals:"),
        "the edit assumes the script has no approvals"
    );
    let fixtures = dir.join(SUITE).join("fixtures").join(name);
    let before = files_under(&fixtures);
    let r = contextos_in(dir, &["scenario", "record", SUITE, "--case", name]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let results = text[end..].matches("\n  - tool:").count() + 1;
    assert_eq!(
        r.stderr.lines().collect::<Vec<_>>(),
        [
            format!("FAIL   {name}: the run does not match {script}; its fixtures are unchanged").as_str(),
            "       - model response 3 of 3 was never used (the run ended after 2 model call(s))",
            &format!("       - tool result {results} (send_email) was never used: no call had its arguments"),
            "       - approval 1 (issue_refund by support_lead) was never asked for",
        ]
    );
    assert!(r.stdout.ends_with("recorded 0 case(s), 1 failed\n"), "{}", r.stdout);
    assert_eq!(files_under(&fixtures), before);
}

#[test]
fn record_fails_when_an_approval_finds_no_scripted_decision() {
    let work = scratch_project();
    let dir = work.path();
    let name = "refund-approved-by-support-lead";
    let script = format!("{SUITE}/scripts/{name}.yaml");
    let path = dir.join(&script);
    let text = std::fs::read_to_string(&path).unwrap();
    // No approver decision: nobody answers, the refund is refused, and its
    // scripted result goes unused.
    std::fs::write(&path, &text[..text.find("approvals:\n").unwrap()]).unwrap();
    let fixtures = dir.join(SUITE).join("fixtures").join(name);
    let before = files_under(&fixtures);
    let r = contextos_in(dir, &["scenario", "record", SUITE, "--case", name]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let refund = r#"{"customer_id":"ACME-913","order_id":"5610","amount_cents":12900,"currency":"USD","reason":"duplicate capture np-5610-r1 on order 5610 during northpay incident NP-2291"}"#;
    assert_eq!(
        r.stderr.lines().collect::<Vec<_>>(),
        [
            format!("FAIL   {name}: the run does not match {script}; its fixtures are unchanged").as_str(),
            // Told the refund was refused, the model is asked again.
            "       - the script ran out: model call 4 has no response (model: lists 3 response(s))",
            "       - tool result 3 (issue_refund) was never used: no call had its arguments",
            &format!(
                "       - the script ran out: approval of issue_refund with arguments {refund} has no decision in \
                 approvals:"
            ),
        ]
    );
    assert_eq!(files_under(&fixtures), before);
}

#[test]
fn record_fails_when_a_tool_call_finds_no_scripted_result() {
    let work = scratch_project();
    let dir = work.path();
    let name = "order-status-lookup";
    let script = format!("{SUITE}/scripts/{name}.yaml");
    let path = dir.join(&script);
    let text = std::fs::read_to_string(&path).unwrap();
    // Drop the last tool result (from its `- tool:` to the end of the file).
    let last = text.rfind("\n  - tool: ").unwrap() + 1;
    let tool = text[last..]
        .lines()
        .next()
        .unwrap()
        .trim_start_matches("  - tool: ")
        .to_owned();
    std::fs::write(&path, &text[..last]).unwrap();
    let r = contextos_in(dir, &["scenario", "record", SUITE, "--case", name]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{}", r.stderr);
    assert_eq!(
        lines[0],
        format!("FAIL   {name}: the run does not match {script}; its fixtures are unchanged")
    );
    let expected = format!("       - the script ran out: tool call {tool} with arguments {{");
    assert!(lines[1].starts_with(&expected), "{}", r.stderr);
    assert!(lines[1].ends_with("} has no result in tools:"), "{}", r.stderr);
}

#[test]
fn record_rewrites_fixtures_identically_when_the_script_matches_its_run() {
    let work = scratch_project();
    let dir = work.path();
    let fixtures = dir.join(SUITE).join("fixtures").join("refund-approved-by-support-lead");
    let before = files_under(&fixtures);
    std::fs::write(fixtures.join("model").join("stale.json"), "{}").unwrap();
    let r = contextos_in(
        dir,
        &["scenario", "record", SUITE, "--case", "refund-approved-by-support-lead"],
    );
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.ends_with("recorded 1 case(s)\n"), "{}", r.stdout);
    assert_eq!(
        files_under(&fixtures),
        before,
        "a complete recording replaces the whole directory"
    );
}

/// Adds a policy that forbids every run the `task` layer (required in the shipped pack).
fn deny_the_task_layer(dir: &Path) {
    let path = dir.join("policies/context.cedar");
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str(
        "\n@id(\"context.no-task-layer\")\nforbid (principal, action == ContextOS::Action::\"use_pack\", \
         resource is ContextOS::Layer)\nwhen { resource.kind == \"task\" };\n",
    );
    std::fs::write(&path, text).unwrap();
}

const DENIED: &str = "required layer task of pack support_escalation:18 is denied by policy (determined by \
                      context.no-task-layer)";

#[test]
fn a_required_layer_denied_by_policy_fails_the_run_naming_layer_pack_and_policy() {
    let work = scratch_project();
    deny_the_task_layer(work.path());
    let r = contextos_in(
        work.path(),
        &["run", "runtime/examples/escalation/request.yaml", "--store", "store"],
    );
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    let flat = r.stderr.split_whitespace().collect::<Vec<_>>().join(" ");
    let flat = flat.replace(" │ ", " ");
    assert!(flat.contains(DENIED), "{}", r.stderr);
    assert!(r.stdout.is_empty(), "{}", r.stdout);
    assert!(!work.path().join("store").exists(), "a failed run stores nothing");
}

#[test]
fn a_required_layer_denied_by_policy_is_a_failed_case_in_eval_with_the_error_in_the_scorecard() {
    let work = scratch_project();
    deny_the_task_layer(work.path());
    let r = contextos_in(
        work.path(),
        &["eval", "--filter", "order-status-lookup", "--format", "json"],
    );
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let card: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let case = &card["cases"][0];
    assert_eq!(case["name"], "order-status-lookup");
    assert_eq!(case["passed"], false);
    let error = case["error"].as_str().unwrap();
    assert!(error.starts_with(DENIED), "{error}");
}
