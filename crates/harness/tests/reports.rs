#![expect(clippy::unwrap_used, reason = "tests fail loudly")]
//! Reports through the public API: JUnit, Markdown and HTML rendered from a
//! hand-made scorecard of one passing, one failing and one errored case.

use contextos_harness::{
    AssertionResult, CaseDetail, CaseResult, MARKDOWN_COMMENT_LIMIT, Scorecard, render_html, render_junit,
    render_markdown,
};
use serde_json::json;

const HOSTILE_ANSWER: &str = "Refund refused.<script>alert(1)</script>";

fn assertion(kind: &str, passed: bool, message: &str) -> AssertionResult {
    AssertionResult {
        kind: kind.to_string(),
        weight: 1.0,
        score: if passed { 1.0 } else { 0.0 },
        passed,
        message: message.to_string(),
    }
}

fn passing(name: &str) -> CaseResult {
    CaseResult {
        name: name.to_string(),
        tags: vec!["orders".into(), "smoke".into()],
        passed: true,
        score: 1.0,
        outcome: Some(serde_json::from_value(json!("completed")).unwrap()),
        error: None,
        assertions: vec![assertion("tool_called", true, "lookup_order was called")],
        detail: Some(
            serde_json::from_value(json!({
                "answer": "Order 1001 shipped on Monday.",
                "tool_calls": [],
                "policy_decisions": [],
                "approvals": [],
                "critic": [{"iteration": 1, "stage": "score", "verdict": "accept", "reason": "answer cites evidence"}],
                "context_manifest": ["support-base/policy: refunds-01"],
                "debt": [],
                "packet": format!("sha256:{}", "1".repeat(64)),
            }))
            .unwrap(),
        ),
    }
}

/// The failing case's drill-down: a read that was allowed and a refund that
/// needed an approval which was refused. Built from JSON so fields added to
/// the primitives later with defaults do not break the fixture.
fn failing_detail() -> CaseDetail {
    let approval = json!({
        "approver": "bob", "role": "finance_manager", "verdict": "refused", "at": 1_700_000_000_500_u64,
        "channel": "fixture"
    });
    let envelope = |id: &str, tool: &str, mode: &str, arguments, outcome: &str, approval, status: &str, result| {
        json!({
            "format_version": 1, "envelope_id": id, "run_id": "run-refund", "tool": tool, "approval_mode": mode,
            "arguments": arguments, "idempotency_key": format!("idem-{id}"), "policy_decision_id": format!("pd_{id}"),
            "policy_outcome": outcome, "approval": approval, "status": status, "result": result,
            "evidence_refs": [], "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "started_at": 1_700_000_000_000_u64, "finished_at": 1_700_000_000_010_u64
        })
    };
    serde_json::from_value(json!({
        "answer": HOSTILE_ANSWER,
        "tool_calls": [
            envelope("env-1", "lookup_order", "read_only", json!({"order_id": "1001"}), "allow", json!(null),
                "executed", json!({"total": 250, "currency": "EUR"})),
            envelope("env-2", "issue_refund", "network", json!({"order_id": "1001", "amount": 250}),
                "approval_required", approval.clone(), "denied", json!(null)),
        ],
        "policy_decisions": [
            {"decision_id": "pd_env-1", "principal": "ContextOS::Agent::\"triage-bot\"", "action": "ContextOS::Action::\"call_tool\"",
             "resource": "ContextOS::Tool::\"lookup_order\"", "outcome": "allow", "determining_policies": ["read-tools"],
             "reason": "permitted by read-tools"},
            {"decision_id": "pd_env-2", "principal": "ContextOS::Agent::\"triage-bot\"", "action": "ContextOS::Action::\"call_tool\"",
             "resource": "ContextOS::Tool::\"issue_refund\"", "outcome": "approval_required",
             "determining_policies": ["refunds-need-finance"], "approver_roles": ["finance_manager"],
             "reason": "refunds over 100 EUR need a finance manager's approval"},
        ],
        "approvals": [approval],
        "critic": [
            {"iteration": 1, "stage": "verify", "verdict": "ok", "reason": "plan uses known tools"},
            {"iteration": 2, "stage": "score", "verdict": "escalate", "reason": "the refund approval was refused"},
        ],
        "context_manifest": ["support-base/policy: refunds-01, refunds-02", "support-base/examples: ex-3"],
        "debt": ["layer examples: 2 snippets dropped for budget"],
        "packet": format!("sha256:{}", "2".repeat(64)),
    }))
    .unwrap()
}

fn failing() -> CaseResult {
    CaseResult {
        name: "refund_over_limit".into(),
        tags: vec!["refunds".into(), "smoke".into()],
        passed: false,
        score: 0.333333,
        outcome: Some(serde_json::from_value(json!("escalated")).unwrap()),
        error: None,
        assertions: vec![
            assertion("tool_called", true, "issue_refund was called"),
            assertion("outcome_is", false, "expected completed, found escalated"),
            assertion(
                "answer_contains",
                false,
                "expected \"refunded\" | found:\nRefund refused.<script>alert(1)</script>",
            ),
        ],
        detail: Some(failing_detail()),
    }
}

fn errored() -> CaseResult {
    CaseResult {
        name: "missing_fixture".into(),
        tags: vec!["refunds".into()],
        passed: false,
        score: 0.0,
        outcome: None,
        error: Some(
            "no recorded model response for request sha256:ab12 (nearest: call 2, differs at /messages/1)".into(),
        ),
        assertions: vec![],
        detail: None,
    }
}

fn scorecard() -> Scorecard {
    Scorecard::from_cases("support", None, vec![passing("lookup_order"), failing(), errored()])
}

fn gate_failures() -> Vec<String> {
    vec!["pass_rate 0.333333 is below the minimum 0.9".into()]
}

#[test]
fn junit_has_a_testcase_per_case_with_failures_and_errors() {
    let xml = render_junit(&scorecard()).unwrap();
    assert!(xml.starts_with("<?xml"), "{xml}");
    assert_eq!(xml.matches("<testcase").count(), 3, "{xml}");
    assert_eq!(xml.matches("<failure").count(), 1, "{xml}");
    assert_eq!(xml.matches("<error").count(), 1, "{xml}");
    assert!(xml.contains(r#"classname="contextos.support""#), "{xml}");
    assert!(xml.contains(r#"type="outcome_is""#), "{xml}");
    assert!(!xml.contains("timestamp=") && !xml.contains("time="), "{xml}");
    assert!(!xml.contains("<script>"), "{xml}");
    assert_eq!(xml, render_junit(&scorecard()).unwrap());
    insta::assert_snapshot!("junit", xml);
}

#[test]
fn junit_names_the_partition() {
    let card = Scorecard::from_cases("support", Some("1/2".into()), vec![passing("lookup_order")]);
    let xml = render_junit(&card).unwrap();
    assert!(xml.contains(r#"<testsuite name="support (1/2)""#), "{xml}");
}

#[test]
fn markdown_comment() {
    let md = render_markdown(&scorecard(), &gate_failures());
    insta::assert_snapshot!("markdown", md);
}

#[test]
fn markdown_says_when_every_gate_passed() {
    let card = Scorecard::from_cases("support", None, vec![passing("lookup_order")]);
    let md = render_markdown(&card, &[]);
    assert!(md.starts_with("## ✅"), "{md}");
    assert!(md.contains("All gates passed."), "{md}");
    assert!(!md.contains("### Failures"), "{md}");
}

#[test]
fn markdown_drops_passing_rows_first_to_fit_a_comment() {
    let mut cases: Vec<CaseResult> = (0..5_000).map(|i| passing(&format!("case_{i:05}"))).collect();
    cases.extend([failing(), errored()]);
    let card = Scorecard::from_cases("support", None, cases);
    let md = render_markdown(&card, &gate_failures());
    assert!(md.len() <= MARKDOWN_COMMENT_LIMIT, "{} bytes", md.len());
    // The failing and errored rows and their details survive; passing rows go.
    assert!(
        md.contains("| refund\\_over\\_limit | ❌ fail |"),
        "failing row missing"
    );
    assert!(md.contains("| missing\\_fixture | 💥 error |"), "errored row missing");
    assert!(
        md.contains("<summary>❌ <code>refund_over_limit</code>"),
        "failure details missing"
    );
    assert!(
        md.contains("| case\\_00000 | ✅ pass |"),
        "the first passing rows are kept"
    );
    assert!(!md.contains("| case\\_04999 |"), "the last passing rows are dropped");
    assert!(md.contains("passing cases not shown"), "no truncation note");
    assert!(md.contains("### By tag") && md.contains("### By assertion kind"));
    assert_eq!(md, render_markdown(&card, &gate_failures()));
}

#[test]
fn html_escapes_data_and_has_a_drill_down_per_case() {
    let card = scorecard();
    let html = render_html(&card, &gate_failures());
    assert!(!html.to_lowercase().contains("<script"), "unescaped script tag");
    assert!(html.contains("Refund refused.&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert_eq!(html.matches("<details class=\"case ").count(), card.cases.len());
    for section in [
        "Trajectory",
        "Policy decisions",
        "Approvals",
        "Critic",
        "Compiled context",
    ] {
        assert!(html.contains(&format!("<h3>{section}</h3>")), "{section} missing");
    }
    assert!(html.contains("refunds-need-finance") && html.contains(&"2".repeat(64)));
    assert!(
        html.contains("&quot;order_id&quot;: &quot;1001&quot;"),
        "arguments JSON missing"
    );
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "external asset"
    );
    assert_eq!(html, render_html(&card, &gate_failures()));
    // The stylesheet is redacted so the snapshot pins structure and escaping, not looks.
    insta::with_settings!({filters => vec![(r"(?s)<style>.*</style>", "<style>[css]</style>")]}, {
        insta::assert_snapshot!("html", html);
    });
}

#[test]
fn html_and_markdown_neutralize_hostile_names() {
    let mut case = passing("<img src=x onerror=alert(1)>|\n# heading");
    case.tags = vec!["<b>tag</b>".into()];
    let card = Scorecard::from_cases("<i>suite</i>", Some("<u>1/2</u>".into()), vec![case]);
    let gates = vec!["<a href=\"javascript:alert(1)\">gate</a>".to_string()];

    let html = render_html(&card, &gates);
    for markup in ["<img", "<b>", "<i>", "<u>", "<a href=\"javascript"] {
        assert!(!html.contains(markup), "{markup} leaked into the HTML");
    }
    assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;"));

    let md = render_markdown(&card, &gates);
    for markup in ["<img", "<b>", "<i>", "<u>", "<a href"] {
        assert!(!md.contains(markup), "{markup} leaked into the Markdown");
    }
    let row = md.lines().find(|l| l.contains("onerror")).unwrap();
    assert!(row.contains("&#124;<br>\\# heading | ✅ pass |"), "{row}");
}

/// Text a model or a case author could write to act on whoever reads a
/// report: mentions, autolinks, HTML, a terminal escape, an OSC 52 clipboard
/// write and characters XML 1.0 forbids.
const HOSTILE_TEXT: &str = "@octocat @acme/security: see https://evil.example/x, HTTP://evil.example, \
                            www.evil.example and mail a@b.example <img src=x> \u{1b}[2J\u{1b}]52;c;ZXZpbA==\u{7} \
                            nul\u{0} bs\u{8} nel\u{85} \u{fffe}\u{ffff}";

fn hostile_card() -> Scorecard {
    let mut case = failing();
    case.name = format!("case {HOSTILE_TEXT}");
    case.assertions[2].message = format!("found: {HOSTILE_TEXT}");
    let mut errored = errored();
    errored.error = Some(format!("run error: {HOSTILE_TEXT}"));
    Scorecard::from_cases("support", None, vec![case, errored])
}

#[test]
fn markdown_defuses_mentions_autolinks_html_and_control_characters() {
    let md = render_markdown(&hostile_card(), &[format!("gate: {HOSTILE_TEXT}")]);
    assert!(md.contains("@\u{200d}octocat"), "{md}");
    assert!(md.contains("@\u{200d}acme/security"), "{md}");
    for (i, _) in md.match_indices('@') {
        assert!(md[i + 1..].starts_with('\u{200d}'), "a live @ at byte {i}: {md}");
    }
    let lower = md.to_ascii_lowercase();
    assert!(!lower.contains("://"), "a live URL: {md}");
    assert!(!lower.contains("www."), "a live www. autolink: {md}");
    assert!(!md.contains("<img"), "{md}");
    let raw: Vec<char> = md.chars().filter(|&c| c.is_control() && c != '\n').collect();
    assert!(raw.is_empty(), "raw control characters {raw:?}: {md}");
    // What was there stays visible.
    assert!(md.contains("\\\\u{1b}\\[2J"), "{md}");
}

/// Whether XML 1.0 allows `c` (its `Char` production).
fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..)
}

#[test]
fn junit_parses_as_xml_whatever_the_case_text() {
    let xml = render_junit(&hostile_card()).unwrap();
    let bad: Vec<char> = xml.chars().filter(|&c| !xml_char(c)).collect();
    assert!(bad.is_empty(), "characters XML 1.0 forbids: {bad:?}");

    // A real XML parser reads it to the end, and the text it reads shows the
    // forbidden characters as escapes instead of dropping them.
    let mut reader = quick_xml::Reader::from_str(&xml);
    // Character data, entity references left out (they are events of their own).
    let mut text = String::new();
    let mut names = Vec::new();
    loop {
        match reader.read_event().unwrap() {
            quick_xml::events::Event::Eof => break,
            quick_xml::events::Event::Text(t) => text.push_str(&t.xml10_content().unwrap()),
            quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e) => {
                for attribute in e.attributes() {
                    let attribute = attribute.unwrap();
                    if attribute.key.as_ref() == b"name" {
                        names.push(
                            attribute
                                .normalized_value(quick_xml::XmlVersion::Explicit1_0)
                                .unwrap()
                                .into_owned(),
                        );
                    }
                }
            }
            _ => {}
        }
    }
    let case = names.iter().find(|n| n.starts_with("case @octocat")).unwrap();
    assert!(
        case.ends_with("\\u{1b}[2J\\u{1b}]52;c;ZXZpbA==\\u{7} nul\\u{0} bs\\u{8} nel\\u{85} \\u{fffe}\\u{ffff}"),
        "{case}"
    );
    assert!(
        text.contains("found: @octocat") && text.contains("\\u{fffe}\\u{ffff}"),
        "{text}"
    );
}
