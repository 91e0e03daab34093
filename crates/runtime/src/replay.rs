//! Replay: rerun a packet from its recorded interactions, as it was or
//! against changed policies, tools, packs or evaluator thresholds.

use contextos_action::{RecordedApprover, ReplayTools};
use contextos_core::{Digest, ReplayPacket, digest_of};
use contextos_decision::{RequestDrift, SequenceReplayModel};
use contextos_trust::{Keyring, SignedEnvelope};
use serde::Serialize;

use crate::config::EvaluatorConfig;
use crate::deployment::Deployment;
use crate::diff::{Divergence, first_divergence};
use crate::envelope::{Request, RequestEnvelope};
use crate::error::RunError;
use crate::invoke::{REPLAY_PACKET_TYPE, RunArtifacts, invoke_agent, packet_interactions};

/// Which parts of the deployment a replay swaps out.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReplayOverrides {
    /// Policies were replaced.
    pub policies: bool,
    /// Tool contracts were replaced.
    pub tools: bool,
    /// Packs were replaced.
    pub packs: bool,
    /// Evaluator thresholds.
    pub thresholds: Option<EvaluatorConfig>,
}

impl ReplayOverrides {
    /// Whether anything is overridden.
    pub fn any(&self) -> bool {
        self.policies || self.tools || self.packs || self.thresholds.is_some()
    }
}

/// A replayed run.
#[derive(Debug, Clone)]
pub struct Replay {
    /// The new run.
    pub artifacts: RunArtifacts,
    /// Model calls whose request differed from the recording.
    pub drift: Vec<RequestDrift>,
    /// The 1-based model call that found no recorded response left: the
    /// replay is incomplete (it escalated there), not a behaviour change.
    pub ran_out_at: Option<usize>,
    /// The first call that asked for something the recording does not have.
    pub first_divergence: Option<Divergence>,
}

impl Replay {
    /// Whether the recorded model responses ran out before the run ended.
    pub fn is_incomplete(&self) -> bool {
        self.ran_out_at.is_some()
    }
}

/// Verifies a stored packet envelope and decodes it.
pub fn open_packet(envelope: &SignedEnvelope, keyring: &Keyring) -> Result<ReplayPacket, RunError> {
    Ok(keyring.verify_as(envelope, REPLAY_PACKET_TYPE)?)
}

/// Checks that the deployment still matches what the packet pinned, for every part not overridden.
fn check_pins(dep: &Deployment, packet: &ReplayPacket, overrides: &ReplayOverrides) -> Result<(), RunError> {
    let inputs = &packet.inputs;
    // The bundle's digest covers the tool actions generated from the
    // contracts, so replaced tools may change it without a policy edit.
    if !overrides.policies && !overrides.tools && dep.policy.bundle_digest() != inputs.policy_bundle {
        return Err(RunError::Drift(format!(
            "the policy bundle is {} but run {} was recorded with {}",
            dep.policy.bundle_digest(),
            packet.run_id,
            inputs.policy_bundle
        )));
    }
    if !overrides.tools && dep.catalog.digests() != inputs.tool_contracts {
        return Err(RunError::Drift(format!(
            "tool contracts changed since run {} was recorded",
            packet.run_id
        )));
    }
    let current: Vec<_> = dep.packs.iter().map(|p| p.digest()).collect();
    let pinned: Vec<Digest> = inputs.packs.iter().map(|p| p.digest).collect();
    if !overrides.packs && pinned.iter().any(|d| !current.contains(d)) {
        return Err(RunError::Drift(format!(
            "context packs changed since run {} was recorded",
            packet.run_id
        )));
    }
    Ok(())
}

/// Reruns `packet`. Without overrides the new packet is byte-identical to
/// the old one; with overrides it gets a new run id (`<run>.replay-<digest>`) and
/// records what it replays.
pub fn replay(dep: &Deployment, packet: &ReplayPacket, overrides: &ReplayOverrides) -> Result<Replay, RunError> {
    check_pins(dep, packet, overrides)?;
    let request: Request = serde_json::from_value(packet.inputs.request.clone())
        .map_err(|e| RunError::Input(format!("packet {}: malformed request: {e}", packet.run_id)))?;
    let mut run_context = packet.inputs.run_context.clone();
    if overrides.any() {
        #[derive(Serialize)]
        struct What<'a> {
            policies: Digest,
            tools: &'a std::collections::BTreeMap<String, Digest>,
            packs: Vec<Digest>,
            thresholds: Option<&'a EvaluatorConfig>,
        }
        let what = digest_of(&What {
            policies: dep.policy.bundle_digest(),
            tools: &dep.catalog.digests(),
            packs: dep.packs.iter().map(|p| p.digest()).collect(),
            thresholds: overrides.thresholds.as_ref(),
        })
        .map_err(RunError::bug)?;
        run_context.run_id = format!("{}.replay-{}", packet.run_id, &what.hex()[..8]);
    }
    let env = RequestEnvelope {
        format_version: 1,
        request,
        run_context,
        started_at: packet.inputs.started_at,
    };
    let recorded = packet_interactions(packet)?;
    let provider = SequenceReplayModel::new(recorded.model);
    let adapter = ReplayTools::new(recorded.tools);
    let approver = RecordedApprover::new(crate::script::packet_approvals(packet));
    let thresholds = match (
        &overrides.thresholds,
        packet.inputs.thresholds.get("min_confidence"),
        packet.inputs.thresholds.get("default_confidence"),
    ) {
        (Some(t), _, _) => t.clone(),
        (None, Some(min), Some(default)) => EvaluatorConfig {
            min_confidence: *min,
            default_confidence: *default,
        },
        _ => dep.config.evaluator.clone(),
    };
    let mut artifacts = invoke_agent(dep, &env, &provider, &adapter, &approver, &thresholds)?;
    if overrides.any() {
        artifacts.packet.replay_of = Some(packet.run_id.clone());
        artifacts.packet_envelope = contextos_trust::sign(REPLAY_PACKET_TYPE, &artifacts.packet, &dep.signing_key)?;
    }
    let first_divergence = first_divergence(packet, &artifacts.packet);
    Ok(Replay {
        artifacts,
        drift: provider.drift(),
        ran_out_at: provider.ran_out_at(),
        first_divergence,
    })
}
