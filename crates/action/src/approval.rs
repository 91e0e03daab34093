//! The approver seam: who is asked when policy says `approval_required`.
//! Recorded approvals (fixtures) are the default; interactive and webhook
//! approvers plug in behind the same trait.

use std::path::Path;

use contextos_core::{ApprovalVerdict, DocumentError, parse_yaml};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What the gateway asks an approver.
#[derive(Clone, Debug, PartialEq)]
pub struct ApprovalRequest<'a> {
    /// The tool.
    pub tool: &'a str,
    /// Its arguments.
    pub arguments: &'a Value,
    /// Roles whose approval would permit the call.
    pub roles: &'a [String],
    /// The policy engine's reason.
    pub reason: &'a str,
}

/// An approver's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApprovalAnswer {
    /// Who answered.
    pub approver: String,
    /// Their role.
    pub role: String,
    /// Granted or refused.
    pub verdict: ApprovalVerdict,
    /// Where the answer came from.
    pub channel: String,
}

/// Someone who can approve or refuse a call.
pub trait Approver: Send + Sync {
    /// The answer, or `None` when nobody is there to answer (treated as refused).
    fn decide(&self, request: &ApprovalRequest<'_>) -> Option<ApprovalAnswer>;
}

/// One recorded approver decision, matched by tool and, when given, arguments.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RecordedApproval {
    /// The tool.
    pub tool: String,
    /// Only for these exact arguments, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arguments: Option<Value>,
    /// Granted or refused.
    pub verdict: ApprovalVerdict,
    /// The approver's id.
    pub approver: String,
    /// The approver's role (one of the bundle's `approvers.yaml` roles).
    pub role: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ApprovalsFile {
    format_version: u32,
    approvals: Vec<RecordedApproval>,
}

/// Approvals answered from a recording (`approvals.yaml` in a fixture directory).
#[derive(Clone, Debug, Default)]
pub struct RecordedApprover {
    approvals: Vec<RecordedApproval>,
}

impl RecordedApprover {
    /// An approver with these recorded decisions.
    pub fn new(approvals: Vec<RecordedApproval>) -> Self {
        Self { approvals }
    }

    /// Loads `approvals.yaml` from `dir`; a missing file means no recorded
    /// approvals, one that cannot be read (not UTF-8, a directory, a link
    /// loop) is an error naming it.
    pub fn load(dir: &Path) -> Result<Self, DocumentError> {
        let path = dir.join("approvals.yaml");
        let shown = path.display().to_string();
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => {
                return Err(DocumentError::new(
                    shown,
                    format!("cannot read the recorded approvals: {e}"),
                ));
            }
        };
        let file: ApprovalsFile = parse_yaml(&shown, &text)?;
        if file.format_version != 1 {
            return Err(DocumentError::new(
                shown,
                format!("unsupported format_version {}, expected 1", file.format_version),
            ));
        }
        Ok(Self::new(file.approvals))
    }

    /// The recorded decisions.
    pub fn approvals(&self) -> &[RecordedApproval] {
        &self.approvals
    }

    /// The index of the decision that answers `request` (same tool and, when
    /// the decision names them, the same arguments), if one was recorded.
    pub fn position(&self, request: &ApprovalRequest<'_>) -> Option<usize> {
        self.approvals
            .iter()
            .position(|a| a.tool == request.tool && a.arguments.as_ref().is_none_or(|args| args == request.arguments))
    }
}

impl Approver for RecordedApprover {
    fn decide(&self, request: &ApprovalRequest<'_>) -> Option<ApprovalAnswer> {
        self.position(request)
            .and_then(|i| self.approvals.get(i))
            .map(|a| ApprovalAnswer {
                approver: a.approver.clone(),
                role: a.role.clone(),
                verdict: a.verdict,
                channel: "recorded".to_string(),
            })
    }
}
