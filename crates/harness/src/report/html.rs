//! One self-contained HTML page per scorecard: inline CSS, no scripts, no
//! external assets, drill-down through `<details>`. Every piece of text that
//! comes from the scorecard passes through [`escape_html`], so an answer or
//! argument cannot inject markup.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};

use contextos_core::cedar_names::shown;
use contextos_core::{
    ApprovalVerdict, CriticVerdict, PolicyDecision, PolicyOutcome, RunOutcome, ToolCallStatus, ToolEnvelope,
};
use serde_json::Value;

use super::format::{Verdict, escape_html as esc, percent, score};
use crate::{CaseDetail, CaseResult, Scorecard, Tally};

/// Renders a scorecard and the failed gates as one self-contained HTML page:
/// summary cards (pass rate, mean score, per tag, per assertion kind), gate
/// failures, the case table, and per case a `<details>` drill-down with the
/// decision, trajectory, policy decisions, approvals, critic notes, compiled
/// context and packet digest. Failing cases start open.
pub fn render_html(card: &Scorecard, gate_failures: &[String]) -> String {
    let mut out = String::with_capacity(16 * 1024 + card.cases.len() * 4 * 1024);
    // Writing into a `String` cannot fail.
    let _ = page(&mut out, card, gate_failures);
    out
}

fn page(out: &mut String, card: &Scorecard, gate_failures: &[String]) -> fmt::Result {
    let green = gate_failures.is_empty() && card.overall.passed == card.overall.total;
    let partition = match &card.partition {
        Some(p) => format!(" (partition {})", esc(p)),
        None => String::new(),
    };
    writeln!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">"
    )?;
    writeln!(
        out,
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
    )?;
    writeln!(
        out,
        "<title>ContextOS scorecard: {}{partition}</title>",
        esc(&card.suite)
    )?;
    writeln!(out, "<style>{CSS}</style>\n</head>\n<body>\n<main>")?;

    let (class, label) = if green { ("pass", "passed") } else { ("fail", "failed") };
    writeln!(out, "<header class=\"headline {class}\">")?;
    writeln!(
        out,
        "<h1><span class=\"badge {class}\">{label}</span> Scenario suite <code>{}</code>{partition}</h1>",
        esc(&card.suite)
    )?;
    let errored = card.cases.iter().filter(|c| c.error.is_some()).count();
    write!(out, "<p>{} of {} cases passed", card.overall.passed, card.overall.total)?;
    if errored > 0 {
        write!(out, " · {errored} errored")?;
    }
    writeln!(out, " · {}</p>\n</header>", gate_summary(gate_failures))?;

    writeln!(out, "<section class=\"cards\">")?;
    let passed = format!("{} of {} cases", card.overall.passed, card.overall.total);
    summary_card(
        out,
        "Pass rate",
        &percent(card.overall.pass_rate),
        card.overall.pass_rate,
        &passed,
    )?;
    summary_card(
        out,
        "Mean score",
        &score(card.mean_score),
        card.mean_score,
        "weighted, over cases",
    )?;
    let gate_rate = if gate_failures.is_empty() { 1.0 } else { 0.0 };
    let (gate_value, gate_sub) = match gate_failures.len() {
        0 => ("passed".to_string(), "every gate held"),
        n => (format!("{n} failed"), "listed under Gates"),
    };
    summary_card(out, "Gates", &gate_value, gate_rate, gate_sub)?;
    writeln!(out, "</section>")?;

    writeln!(out, "<h2>Gates</h2>")?;
    if gate_failures.is_empty() {
        writeln!(out, "<p><span class=\"badge pass\">passed</span> All gates passed.</p>")?;
    } else {
        writeln!(out, "<ul class=\"gates\">")?;
        for failure in gate_failures {
            writeln!(
                out,
                "<li><span class=\"badge fail\">failed</span> {}</li>",
                esc(failure)
            )?;
        }
        writeln!(out, "</ul>")?;
    }

    tally_cards(out, "By tag", &card.by_tag, "No case has a tag.")?;
    tally_cards(out, "By assertion kind", &card.by_kind, "No assertions.")?;

    writeln!(out, "<h2>Cases</h2>")?;
    if card.cases.is_empty() {
        writeln!(out, "<p class=\"muted\">The suite has no cases.</p>")?;
    } else {
        case_table(out, &card.cases)?;
        writeln!(out, "<h2>Drill-down</h2>")?;
        for (index, case) in card.cases.iter().enumerate() {
            case_details(out, index + 1, case)?;
        }
    }
    writeln!(
        out,
        "<footer class=\"muted\">Rendered by ContextOS from a scorecard of format version {}.</footer>",
        card.format_version
    )?;
    writeln!(out, "</main>\n</body>\n</html>")
}

fn gate_summary(gate_failures: &[String]) -> String {
    match gate_failures.len() {
        0 => "all gates passed".to_string(),
        1 => "1 gate failed".to_string(),
        n => format!("{n} gates failed"),
    }
}

fn summary_card(out: &mut String, label: &str, value: &str, rate: f64, sub: &str) -> fmt::Result {
    writeln!(
        out,
        "<div class=\"card\"><div class=\"label\">{}</div><div class=\"value\">{}</div>{}<div class=\"sub muted\">{}</div></div>",
        esc(label),
        esc(value),
        meter(rate),
        esc(sub)
    )
}

fn tally_cards(out: &mut String, title: &str, tallies: &BTreeMap<String, Tally>, empty: &str) -> fmt::Result {
    writeln!(out, "<h2>{}</h2>", esc(title))?;
    if tallies.is_empty() {
        return writeln!(out, "<p class=\"muted\">{}</p>", esc(empty));
    }
    writeln!(out, "<section class=\"cards small\">")?;
    for (name, tally) in tallies {
        let class = if tally.passed == tally.total { "pass" } else { "fail" };
        writeln!(
            out,
            "<div class=\"card\"><div class=\"label\"><code>{}</code></div><div class=\"value\"><span class=\"badge {class}\">{}</span></div>{}<div class=\"sub muted\">{} of {} passed</div></div>",
            esc(name),
            percent(tally.pass_rate),
            meter(tally.pass_rate),
            tally.passed,
            tally.total
        )?;
    }
    writeln!(out, "</section>")
}

/// A green-on-red bar filled to `rate` (clamped to [0, 1]).
fn meter(rate: f64) -> String {
    let width = (rate.clamp(0.0, 1.0) * 100.0 * 10.0).round() / 10.0;
    format!("<div class=\"meter\"><span style=\"width:{width}%\"></span></div>")
}

fn verdict_badge(verdict: Verdict) -> String {
    badge(
        match verdict {
            Verdict::Pass => "pass",
            Verdict::Fail | Verdict::Error => "fail",
        },
        verdict.as_str(),
    )
}

/// A badge: `class` is one of the page's own classes, `text` is escaped.
fn badge(class: &'static str, text: &str) -> String {
    format!("<span class=\"badge {class}\">{}</span>", esc(text))
}

fn outcome_badge(outcome: Option<RunOutcome>) -> String {
    match outcome {
        Some(o @ RunOutcome::Completed) => badge("pass", o.as_str()),
        Some(o @ RunOutcome::Escalated) => badge("warn", o.as_str()),
        Some(o @ RunOutcome::Rejected) => badge("fail", o.as_str()),
        None => badge("neutral", "none"),
    }
}

fn policy_badge(outcome: PolicyOutcome) -> String {
    let class = match outcome {
        PolicyOutcome::Allow => "pass",
        PolicyOutcome::Deny => "fail",
        PolicyOutcome::ApprovalRequired => "warn",
    };
    badge(class, outcome.as_str())
}

fn approval_badge(verdict: ApprovalVerdict) -> String {
    let class = match verdict {
        ApprovalVerdict::Granted => "pass",
        ApprovalVerdict::Refused => "fail",
    };
    badge(class, verdict.as_str())
}

fn status_badge(status: ToolCallStatus) -> String {
    let class = match status {
        ToolCallStatus::Executed => "pass",
        ToolCallStatus::Denied | ToolCallStatus::Failed => "fail",
        ToolCallStatus::Deduplicated => "neutral",
    };
    badge(class, status.as_str())
}

fn case_table(out: &mut String, cases: &[CaseResult]) -> fmt::Result {
    writeln!(out, "<div class=\"table-wrap\"><table>")?;
    writeln!(
        out,
        "<thead><tr><th>Case</th><th>Result</th><th class=\"num\">Score</th><th>Outcome</th><th>Tags</th><th>Failed assertions</th></tr></thead>\n<tbody>"
    )?;
    for (index, case) in cases.iter().enumerate() {
        let failed: Vec<String> = case
            .assertions
            .iter()
            .filter(|a| !a.passed)
            .map(|a| format!("<code>{}</code>", esc(&a.kind)))
            .collect();
        let failed = match (&case.error, failed.is_empty()) {
            (Some(_), true) => "run error".to_string(),
            (_, true) => "<span class=\"muted\">none</span>".to_string(),
            (_, false) => failed.join(", "),
        };
        let tags: Vec<String> = case.tags.iter().map(|t| badge("neutral", t)).collect();
        writeln!(
            out,
            "<tr><td><a href=\"#case-{}\">{}</a></td><td>{}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td><td>{failed}</td></tr>",
            index + 1,
            esc(&case.name),
            verdict_badge(Verdict::of(case)),
            score(case.score),
            outcome_badge(case.outcome),
            tags.join(" "),
        )?;
    }
    writeln!(out, "</tbody></table></div>")
}

fn case_details(out: &mut String, number: usize, case: &CaseResult) -> fmt::Result {
    let verdict = Verdict::of(case);
    let open = if verdict == Verdict::Pass { "" } else { " open" };
    writeln!(
        out,
        "<details class=\"case {}\" id=\"case-{number}\"{open}>",
        verdict.as_str()
    )?;
    writeln!(
        out,
        "<summary>{} <code>{}</code> <span class=\"muted\">score {}</span></summary>\n<div class=\"body\">",
        verdict_badge(verdict),
        esc(&case.name),
        score(case.score)
    )?;
    if let Some(error) = &case.error {
        writeln!(out, "<h3>Error</h3>\n<pre class=\"error\">{}</pre>", esc(error))?;
    }

    writeln!(out, "<h3>Assertions</h3>")?;
    if case.assertions.is_empty() {
        writeln!(out, "<p class=\"muted\">None.</p>")?;
    } else {
        writeln!(out, "<div class=\"table-wrap\"><table>")?;
        writeln!(
            out,
            "<thead><tr><th>Kind</th><th>Result</th><th class=\"num\">Score</th><th class=\"num\">Weight</th><th>Message</th></tr></thead>\n<tbody>"
        )?;
        for a in &case.assertions {
            let result = if a.passed {
                badge("pass", "pass")
            } else {
                badge("fail", "fail")
            };
            writeln!(
                out,
                "<tr><td><code>{}</code></td><td>{result}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"text\">{}</td></tr>",
                esc(&a.kind),
                score(a.score),
                esc(&a.weight.to_string()),
                esc(&a.message)
            )?;
        }
        writeln!(out, "</tbody></table></div>")?;
    }

    writeln!(out, "<h3>Decision</h3>\n<dl class=\"decision\">")?;
    writeln!(out, "<dt>Outcome</dt><dd>{}</dd>", outcome_badge(case.outcome))?;
    match &case.detail {
        Some(detail) => {
            writeln!(
                out,
                "<dt>Answer</dt><dd><pre class=\"answer\">{}</pre></dd>\n</dl>",
                esc(&detail.answer)
            )?;
            drill_down(out, number, detail)?;
        }
        None => writeln!(
            out,
            "</dl>\n<p class=\"muted\">No run detail: the run did not complete.</p>"
        )?,
    }
    writeln!(out, "</div>\n</details>")
}

fn drill_down(out: &mut String, number: usize, detail: &CaseDetail) -> fmt::Result {
    trajectory_table(out, number, detail)?;
    decision_table(out, number, detail)?;
    approval_table(out, detail)?;
    critic_table(out, detail)?;
    context_section(out, detail)?;
    writeln!(
        out,
        "<h3>Replay packet</h3>\n<p><code>{}</code></p>",
        esc(&detail.packet)
    )
}

fn trajectory_table(out: &mut String, number: usize, detail: &CaseDetail) -> fmt::Result {
    writeln!(out, "<h3>Trajectory</h3>")?;
    if detail.tool_calls.is_empty() {
        return writeln!(out, "<p class=\"muted\">No tool calls.</p>");
    }
    writeln!(out, "<div class=\"table-wrap\"><table>")?;
    writeln!(
        out,
        "<thead><tr><th class=\"num\">#</th><th>Tool</th><th>Arguments</th><th>Status</th><th>Policy</th><th>Approval</th></tr></thead>\n<tbody>"
    )?;
    for (index, envelope) in detail.tool_calls.iter().enumerate() {
        tool_call_row(out, number, index + 1, envelope, &detail.policy_decisions)?;
    }
    writeln!(out, "</tbody></table></div>")
}

fn decision_table(out: &mut String, number: usize, detail: &CaseDetail) -> fmt::Result {
    writeln!(out, "<h3>Policy decisions</h3>")?;
    if detail.policy_decisions.is_empty() {
        return writeln!(out, "<p class=\"muted\">No policy decisions.</p>");
    }
    writeln!(out, "<div class=\"table-wrap\"><table>")?;
    writeln!(
        out,
        "<thead><tr><th class=\"num\">#</th><th>Principal</th><th>Action</th><th>Resource</th><th>Outcome</th><th>Determining policies</th><th>Reason</th></tr></thead>\n<tbody>"
    )?;
    for (index, decision) in detail.policy_decisions.iter().enumerate() {
        policy_row(out, number, index + 1, decision)?;
    }
    writeln!(out, "</tbody></table></div>")
}

fn approval_table(out: &mut String, detail: &CaseDetail) -> fmt::Result {
    writeln!(out, "<h3>Approvals</h3>")?;
    if detail.approvals.is_empty() {
        return writeln!(out, "<p class=\"muted\">No approvals.</p>");
    }
    writeln!(out, "<div class=\"table-wrap\"><table>")?;
    writeln!(
        out,
        "<thead><tr><th>Approver</th><th>Role</th><th>Verdict</th><th>At</th><th>Channel</th></tr></thead>\n<tbody>"
    )?;
    for approval in &detail.approvals {
        writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"mono\">{}</td><td>{}</td></tr>",
            esc(&approval.approver),
            esc(&approval.role),
            approval_badge(approval.verdict),
            esc(&approval.at.to_string()),
            esc(&approval.channel)
        )?;
    }
    writeln!(out, "</tbody></table></div>")
}

fn critic_table(out: &mut String, detail: &CaseDetail) -> fmt::Result {
    writeln!(out, "<h3>Critic</h3>")?;
    if detail.critic.is_empty() {
        return writeln!(out, "<p class=\"muted\">No critic notes.</p>");
    }
    writeln!(out, "<div class=\"table-wrap\"><table>")?;
    writeln!(
        out,
        "<thead><tr><th class=\"num\">Iteration</th><th>Stage</th><th>Verdict</th><th>Reason</th></tr></thead>\n<tbody>"
    )?;
    for note in &detail.critic {
        let class = match note.verdict {
            CriticVerdict::Ok | CriticVerdict::Accept => "pass",
            CriticVerdict::Reject => "fail",
            CriticVerdict::Replan | CriticVerdict::Retry | CriticVerdict::Escalate => "warn",
        };
        writeln!(
            out,
            "<tr><td class=\"num\">{}</td><td>{}</td><td>{}</td><td class=\"text\">{}</td></tr>",
            note.iteration,
            note.stage,
            badge(class, note.verdict.as_str()),
            esc(&note.reason)
        )?;
    }
    writeln!(out, "</tbody></table></div>")
}

fn context_section(out: &mut String, detail: &CaseDetail) -> fmt::Result {
    writeln!(out, "<h3>Compiled context</h3>")?;
    if detail.context_manifest.is_empty() {
        writeln!(out, "<p class=\"muted\">No manifest lines.</p>")?;
    } else {
        writeln!(out, "<ul class=\"manifest\">")?;
        for line in &detail.context_manifest {
            writeln!(out, "<li><code>{}</code></li>", esc(line))?;
        }
        writeln!(out, "</ul>")?;
    }
    if !detail.debt.is_empty() {
        writeln!(out, "<h4>Context-debt warnings</h4>\n<ul class=\"debt\">")?;
        for warning in &detail.debt {
            writeln!(out, "<li>{} {}</li>", badge("warn", "debt"), esc(warning))?;
        }
        writeln!(out, "</ul>")?;
    }
    Ok(())
}

fn tool_call_row(
    out: &mut String,
    case: usize,
    number: usize,
    envelope: &ToolEnvelope,
    decisions: &[PolicyDecision],
) -> fmt::Result {
    // Link the call to the decision that governed it, by position, so the
    // anchor never carries data text.
    let policy = match decisions
        .iter()
        .position(|d| d.decision_id == envelope.policy_decision_id)
    {
        Some(at) => format!(
            "{} <a class=\"muted\" href=\"#case-{case}-decision-{}\">decision {}</a>",
            policy_badge(envelope.policy_outcome),
            at + 1,
            at + 1
        ),
        None => policy_badge(envelope.policy_outcome),
    };
    let approval = match &envelope.approval {
        Some(a) => format!(
            "{} by {} <span class=\"muted\">(role {}, via {})</span>",
            approval_badge(a.verdict),
            esc(&a.approver),
            esc(&a.role),
            esc(&a.channel)
        ),
        None => "<span class=\"muted\">none</span>".to_string(),
    };
    let result = match &envelope.result {
        Some(value) => format!(
            "<details class=\"result\"><summary>result</summary><pre class=\"json\">{}</pre></details>",
            esc(&pretty(value))
        ),
        None => String::new(),
    };
    writeln!(
        out,
        "<tr><td class=\"num\">{number}</td><td><code>{}</code><div class=\"muted\">{}</div></td><td><pre class=\"json\">{}</pre>{result}</td><td>{}</td><td>{policy}</td><td>{approval}</td></tr>",
        esc(&envelope.tool),
        esc(envelope.approval_mode.as_str()),
        esc(&pretty(&envelope.arguments)),
        status_badge(envelope.status),
    )
}

fn policy_row(out: &mut String, case: usize, number: usize, decision: &PolicyDecision) -> fmt::Result {
    let policies: Vec<String> = decision
        .determining_policies
        .iter()
        .map(|p| format!("<code>{}</code>", esc(p)))
        .collect();
    let policies = if policies.is_empty() {
        "<span class=\"muted\">none</span>".to_string()
    } else {
        policies.join("<br>")
    };
    let mut reason = esc(&decision.reason);
    if !decision.approver_roles.is_empty() {
        let roles: Vec<String> = decision.approver_roles.iter().map(|r| esc(r)).collect();
        write!(
            reason,
            "<div class=\"muted\">approver roles: {}</div>",
            roles.join(", ")
        )?;
    }
    for shadow in &decision.shadow {
        write!(
            reason,
            "<div class=\"muted\">shadow <code>{}</code> would be {}</div>",
            esc(&shadow.policy_id),
            policy_badge(shadow.would_be)
        )?;
    }
    for error in &decision.errors {
        write!(reason, "<div>{} {}</div>", badge("fail", "error"), esc(error))?;
    }
    writeln!(
        out,
        "<tr id=\"case-{case}-decision-{number}\"><td class=\"num\">{number}</td><td><code>{}</code></td><td><code>{}</code></td><td><code>{}</code></td><td>{}</td><td>{policies}</td><td class=\"text\">{reason}</td></tr>",
        esc(shown(&decision.principal)),
        esc(shown(&decision.action)),
        esc(shown(&decision.resource)),
        policy_badge(decision.outcome),
    )
}

/// Pretty JSON; serializing a `Value` does not fail, but if it ever did the
/// page says so instead of aborting.
fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|e| format!("(unprintable JSON: {e})"))
}

const CSS: &str = r#"
:root { --fg: #1f2328; --muted: #59636e; --bg: #ffffff; --panel: #f6f8fa; --border: #d1d9e0;
  --green: #1a7f37; --green-bg: #dafbe1; --red: #cf222e; --red-bg: #ffebe9; --amber: #9a6700; --amber-bg: #fff8c5; }
@media (prefers-color-scheme: dark) {
  :root { --fg: #e6edf3; --muted: #9198a1; --bg: #0d1117; --panel: #151b23; --border: #3d444d;
    --green: #3fb950; --green-bg: #12261e; --red: #f85149; --red-bg: #2d1214; --amber: #d29922; --amber-bg: #2e2409; }
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg);
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; }
main { max-width: 1200px; margin: 0 auto; padding: 24px; }
h1 { font-size: 1.5rem; margin: 0 0 4px; }
h2 { font-size: 1.2rem; margin: 32px 0 12px; padding-bottom: 4px; border-bottom: 1px solid var(--border); }
h3 { font-size: 1rem; margin: 20px 0 8px; }
h4 { font-size: .9rem; margin: 14px 0 6px; }
a { color: inherit; }
code, pre, .mono { font-family: ui-monospace, SFMono-Regular, "SF Mono", Menlo, Consolas, monospace; font-size: .85em; }
pre { margin: 0; padding: 8px 10px; background: var(--panel); border: 1px solid var(--border); border-radius: 6px;
  white-space: pre-wrap; overflow-wrap: anywhere; max-height: 28em; overflow: auto; }
pre.error { color: var(--red); }
.muted { color: var(--muted); }
.badge { display: inline-block; padding: 0 8px; border-radius: 999px; font-size: .78rem; font-weight: 600;
  line-height: 1.7; white-space: nowrap; border: 1px solid transparent; }
.badge.pass { color: var(--green); background: var(--green-bg); border-color: var(--green); }
.badge.fail { color: var(--red); background: var(--red-bg); border-color: var(--red); }
.badge.warn { color: var(--amber); background: var(--amber-bg); border-color: var(--amber); }
.badge.neutral { color: var(--muted); background: var(--panel); border-color: var(--border); }
.headline { padding: 16px 20px; margin-bottom: 20px; border: 1px solid var(--border); border-radius: 8px; }
.headline.pass { background: var(--green-bg); }
.headline.fail { background: var(--red-bg); }
.headline p { margin: 4px 0 0; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(220px, 1fr)); gap: 12px; }
.card { padding: 12px 14px; background: var(--panel); border: 1px solid var(--border); border-radius: 8px; }
.card .label { color: var(--muted); font-size: .78rem; text-transform: uppercase; letter-spacing: .04em; overflow-wrap: anywhere; }
.card .value { font-size: 1.6rem; font-weight: 600; }
.cards.small .label { text-transform: none; letter-spacing: 0; }
.cards.small .value { font-size: 1rem; margin-top: 4px; }
.card .sub { font-size: .8rem; margin-top: 4px; }
.meter { height: 6px; margin-top: 8px; background: var(--red-bg); border-radius: 3px; overflow: hidden; }
.meter span { display: block; height: 100%; background: var(--green); }
ul.gates { padding-left: 0; list-style: none; }
ul.gates li { margin: 4px 0; }
.table-wrap { overflow-x: auto; }
table { width: 100%; border-collapse: collapse; font-size: .9rem; }
th, td { padding: 6px 8px; text-align: left; vertical-align: top; border: 1px solid var(--border); }
th { background: var(--panel); font-weight: 600; }
.num { text-align: right; font-variant-numeric: tabular-nums; }
td.text { white-space: pre-wrap; overflow-wrap: anywhere; }
details.case { margin: 10px 0; border: 1px solid var(--border); border-left-width: 4px; border-radius: 8px; }
details.case.pass { border-left-color: var(--green); }
details.case.fail, details.case.error { border-left-color: var(--red); }
details.case > summary { padding: 10px 14px; cursor: pointer; font-weight: 600; }
details.case[open] > summary { background: var(--panel); border-bottom: 1px solid var(--border); }
details.case .body { padding: 4px 14px 14px; }
details.result > summary { cursor: pointer; color: var(--muted); font-size: .85rem; }
dl.decision { display: grid; grid-template-columns: max-content 1fr; gap: 6px 16px; margin: 0; }
dl.decision dt { color: var(--muted); }
dl.decision dd { margin: 0; min-width: 0; }
ul.manifest, ul.debt { margin: 0; padding-left: 20px; }
footer { margin-top: 40px; font-size: .8rem; }
"#;
