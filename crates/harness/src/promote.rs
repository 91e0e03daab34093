//! `contextos promote`: turn a stored run into a golden case, with fixtures
//! copied from its packet and assertions scaffolded from what happened.

use std::path::Path;

use contextos_core::ReplayPacket;
use contextos_core::cedar_names::TOOL;
use contextos_runtime::{PacketInteractions, Request, packet_approvals, packet_interactions, write_fixtures};
use serde_json::Value;

use crate::scenario::{Assertion, CaseFile, CaseRequest, SequenceMode};
use crate::suite::HarnessError;

/// The case file a packet becomes: the request, the full run context (its run
/// id included, so the case reproduces the run), and assertions describing
/// what happened, for the user to edit.
pub fn scaffold_case(packet: &ReplayPacket, name: &str) -> Result<CaseFile, HarnessError> {
    let request: Request = serde_json::from_value(packet.inputs.request.clone())
        .map_err(|e| HarnessError::Usage(format!("packet {}: malformed request: {e}", packet.run_id)))?;
    let record = &packet.decision_record;
    let mut assertions = vec![Assertion::Outcome {
        is: record.outcome,
        weight: None,
        not: false,
    }];
    if !packet.tool_envelopes.is_empty() {
        assertions.push(Assertion::ToolSequence {
            tools: packet.tool_envelopes.iter().map(|e| e.tool.clone()).collect(),
            mode: SequenceMode::Exact,
            weight: None,
            not: false,
        });
    }
    let mut seen = std::collections::BTreeSet::new();
    for d in &record.policy_decisions {
        let Some(tool) = d
            .resource
            .strip_prefix(TOOL)
            .and_then(|t| t.strip_prefix("::\""))
            .and_then(|t| t.strip_suffix('"'))
        else {
            continue;
        };
        if seen.insert(tool.to_string()) {
            assertions.push(Assertion::Policy {
                tool: tool.to_string(),
                outcome: d.outcome,
                policy_id: d.determining_policies.first().cloned(),
                weight: None,
                not: false,
            });
        }
    }
    for e in &packet.tool_envelopes {
        if let Some(a) = &e.approval {
            assertions.push(Assertion::Approval {
                tool: e.tool.clone(),
                role: Some(a.role.clone()),
                verdict: Some(a.verdict),
                weight: None,
                not: false,
            });
        }
    }
    let excerpt: String = record.answer.chars().take(60).collect();
    let excerpt = excerpt
        .rsplit_once(' ')
        .map_or(excerpt.clone(), |(head, _)| head.to_string());
    if !excerpt.is_empty() {
        assertions.push(Assertion::AnswerContains {
            text: excerpt,
            weight: None,
            not: false,
        });
    }
    assertions.push(Assertion::Golden {
        weight: None,
        not: false,
    });
    let run_context =
        serde_json::to_value(&packet.inputs.run_context).map_err(|e| HarnessError::Usage(e.to_string()))?;
    Ok(CaseFile {
        format_version: 1,
        name: name.to_string(),
        description: format!(
            "promoted from run {} (review and edit the scaffolded assertions)",
            packet.run_id
        ),
        tags: vec!["promoted".to_string()],
        request: CaseRequest {
            id: Some(request.id),
            channel: Some(request.channel),
            text: request.text,
        },
        run_context,
        started_at: Some(packet.inputs.started_at.0),
        fixtures: None,
        script: None,
        assertions,
    })
}

/// Writes the packet's recorded interactions and approvals as the case's fixtures.
pub fn write_packet_fixtures(packet: &ReplayPacket, dir: &Path) -> Result<(), HarnessError> {
    let PacketInteractions { model, tools } = packet_interactions(packet)?;
    write_fixtures(dir, &model, &tools, &packet_approvals(packet))?;
    Ok(())
}

/// Writes `case` as YAML to `suite_dir/cases/<name>.yaml`; refuses to overwrite.
pub fn write_case(case: &CaseFile, suite_dir: &Path) -> Result<std::path::PathBuf, HarnessError> {
    let path = suite_dir.join("cases").join(format!("{}.yaml", case.name));
    if path.exists() {
        return Err(HarnessError::Usage(format!(
            "{} already exists; pick another --case name",
            path.display()
        )));
    }
    let value: Value = serde_json::to_value(case).map_err(|e| HarnessError::Usage(e.to_string()))?;
    let yaml = serde_saphyr::to_string(&value).map_err(|e| HarnessError::Usage(e.to_string()))?;
    let header = "# Promoted from a stored run. The assertions were scaffolded from what happened:\n# keep the ones that matter, loosen or drop the rest.\n";
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| HarnessError::io("create", dir, e))?;
    }
    std::fs::write(&path, format!("{header}{yaml}")).map_err(|e| HarnessError::io("write", &path, e))?;
    Ok(path)
}
