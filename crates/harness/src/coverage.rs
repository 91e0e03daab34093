//! Policy coverage: which policies of a set determine at least one outcome
//! over the recorded requests of a corpus, and which are never exercised.

use std::collections::BTreeMap;

use contextos_core::{Digest, FORMAT_VERSION};
use contextos_runtime::Deployment;
use contextos_trust::{PolicyEngine, PolicyInfo, PolicyMode};
use serde::{Deserialize, Serialize};

use crate::corpus::{Corpus, CorpusError, CorpusSource, NamedEngine, Reevaluator};

/// A shadow policy and how often it would have changed an outcome.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShadowCoverage {
    /// The policy.
    pub policy: PolicyInfo,
    /// Decisions whose outcome it would have changed, had it been enforced.
    pub would_change: u64,
}

/// How much of a policy set a corpus exercises.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CoverageReport {
    /// Document format version.
    pub format_version: u32,
    /// Digest of the bundle measured.
    pub bundle: Digest,
    /// The corpus directories measured over, in the order given.
    #[serde(default)]
    pub corpora: Vec<CorpusSource>,
    /// Packets in the corpus.
    pub packets: u64,
    /// Decisions re-evaluated (recorded with their request).
    pub decisions: u64,
    /// Decisions recorded without their request (older packets): not re-evaluated.
    pub skipped: u64,
    /// Enforced policies in the bundle.
    pub enforced_total: u64,
    /// Enforced policies that determined at least one outcome.
    pub enforced_exercised: u64,
    /// `enforced_exercised / enforced_total`, rounded to 6 decimals (1 for a bundle without enforced policies).
    pub coverage: f64,
    /// Per exercised enforced policy, how many outcomes it determined.
    pub exercised: BTreeMap<String, u64>,
    /// Enforced policies that determined no outcome, in bundle order.
    pub never_exercised: Vec<PolicyInfo>,
    /// Every shadow policy, in bundle order, with how often it would have changed an outcome.
    pub shadow: Vec<ShadowCoverage>,
    /// Enforced policies whose conditions read a tool call's arguments.
    #[serde(default)]
    pub argument_policies_total: u64,
    /// Of those, the ones that determined at least one outcome.
    #[serde(default)]
    pub argument_policies_exercised: u64,
}

impl CoverageReport {
    /// Whether coverage reaches `min` (a share in [0, 1]).
    pub fn meets(&self, min: f64) -> bool {
        self.coverage >= min
    }
}

/// Re-evaluates every recorded request of `corpus` under `policies` and
/// counts, per policy, the outcomes it determined (for `approval_required`:
/// the permits that would allow with the approval) and, per shadow policy,
/// the outcomes it would have changed. The same for any thread count.
pub fn policy_coverage(
    corpus: &Corpus,
    deployment: &Deployment,
    policies: &PolicyEngine,
) -> Result<CoverageReport, CorpusError> {
    let evaluator = Reevaluator::new(deployment);
    let engines = [NamedEngine {
        name: "measured",
        engine: policies,
    }];
    let evaluated = evaluator.corpus(corpus, &engines)?;

    let mut decisions = 0;
    let mut skipped = 0;
    let mut determined: BTreeMap<String, u64> = BTreeMap::new();
    let mut shadow_effects: BTreeMap<String, u64> = BTreeMap::new();
    for result in evaluated.into_iter().flatten() {
        let Some(evaluation) = result.and_then(|r| r.into_iter().next()) else {
            skipped += 1;
            continue;
        };
        decisions += 1;
        for id in evaluation.determining {
            *determined.entry(id).or_default() += 1;
        }
        let mut ids: Vec<String> = evaluation.shadow.into_iter().map(|s| s.policy_id).collect();
        ids.sort();
        ids.dedup();
        for id in ids {
            *shadow_effects.entry(id).or_default() += 1;
        }
    }

    let mut exercised = BTreeMap::new();
    let mut never_exercised = Vec::new();
    let mut shadow = Vec::new();
    let mut enforced_total: u64 = 0;
    let (mut argument_policies_total, mut argument_policies_exercised) = (0, 0);
    for info in policies.policies() {
        match info.mode {
            PolicyMode::Enforce => {
                enforced_total += 1;
                argument_policies_total += u64::from(info.reads_arguments);
                match determined.get(&info.id) {
                    Some(&n) if n > 0 => {
                        exercised.insert(info.id.clone(), n);
                        argument_policies_exercised += u64::from(info.reads_arguments);
                    }
                    _ => never_exercised.push(info.clone()),
                }
            }
            PolicyMode::Shadow => shadow.push(ShadowCoverage {
                policy: info.clone(),
                would_change: shadow_effects.get(&info.id).copied().unwrap_or(0),
            }),
        }
    }
    let enforced_exercised = exercised.len() as u64;
    let coverage = if enforced_total == 0 {
        1.0
    } else {
        (enforced_exercised as f64 / enforced_total as f64 * 1e6).round() / 1e6
    };
    Ok(CoverageReport {
        format_version: FORMAT_VERSION,
        bundle: policies.bundle_digest(),
        corpora: corpus.sources.clone(),
        packets: corpus.packets.len() as u64,
        decisions,
        skipped,
        enforced_total,
        enforced_exercised,
        coverage,
        exercised,
        never_exercised,
        shadow,
        argument_policies_total,
        argument_policies_exercised,
    })
}
