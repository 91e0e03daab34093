//! Policy impact and coverage throughput: re-evaluating every recorded
//! request of a corpus of 200 copies of the bundled example's packet under a
//! baseline and a candidate policy set (real Cedar, real signatures).
//!
//! `cargo bench -p contextos-harness --bench impact`

#![expect(clippy::unwrap_used, reason = "a benchmark fails loudly on broken fixtures")]

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use contextos_harness::{Corpus, policy_coverage, policy_impact};
use contextos_runtime::{Deployment, Fixtures, RequestEnvelope, envelope_bytes, run_on_fixtures};
use contextos_trust::PolicyEngine;
use divan::Bencher;
use divan::counter::ItemsCount;

const COPIES: usize = 200;

fn main() {
    divan::main();
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

struct Setup {
    deployment: Deployment,
    candidate: PolicyEngine,
    corpus_dir: tempfile::TempDir,
    corpus: Corpus,
    _candidate_dir: tempfile::TempDir,
}

static SETUP: LazyLock<Setup> = LazyLock::new(|| {
    let deployment = Deployment::load(&repo().join("runtime/contextos.toml")).unwrap();
    let dir = repo().join("runtime/examples/escalation");
    let text = std::fs::read_to_string(dir.join("request.yaml")).unwrap();
    let env = RequestEnvelope::parse("request.yaml", &text).unwrap();
    let fixtures = Fixtures::load(&dir.join("fixtures")).unwrap();
    let artifacts = run_on_fixtures(&deployment, &env, &fixtures).unwrap();
    let bytes = envelope_bytes(&artifacts.packet_envelope).unwrap();
    let corpus_dir = tempfile::tempdir().unwrap();
    for i in 0..COPIES {
        let suite = corpus_dir.path().join(format!("suite{:02}", i % 10));
        std::fs::create_dir_all(&suite).unwrap();
        std::fs::write(suite.join(format!("case{i:03}.packet.json")), &bytes).unwrap();
    }
    let corpus = Corpus::load(corpus_dir.path(), &deployment.keyring).unwrap();

    // The candidate freezes refunds.
    let candidate_dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(repo().join("policies")).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), candidate_dir.path().join(entry.file_name())).unwrap();
        }
    }
    std::fs::write(
        candidate_dir.path().join("freeze.cedar"),
        "@id(\"tools.refund-freeze\")\nforbid (principal, action == ContextOS::Action::\"issue_refund\", resource == ContextOS::Tool::\"issue_refund\");\n",
    )
    .unwrap();
    let candidate = PolicyEngine::load(candidate_dir.path()).unwrap();
    Setup {
        deployment,
        candidate,
        corpus_dir,
        corpus,
        _candidate_dir: candidate_dir,
    }
});

/// Both policy sets over every recorded decision; the counter is decisions re-evaluated.
#[divan::bench(sample_count = 20)]
fn impact(bencher: Bencher) {
    let s = &*SETUP;
    let decisions = s.corpus.decisions();
    bencher
        .counter(ItemsCount::new(decisions))
        .bench(|| policy_impact(&s.corpus, &s.deployment, &s.deployment.policy, &s.candidate).unwrap());
}

/// One policy set over every recorded decision.
#[divan::bench(sample_count = 20)]
fn coverage(bencher: Bencher) {
    let s = &*SETUP;
    let decisions = s.corpus.decisions();
    bencher
        .counter(ItemsCount::new(decisions))
        .bench(|| policy_coverage(&s.corpus, &s.deployment, &s.deployment.policy).unwrap());
}

/// Reading, verifying (ed25519) and parsing the corpus; the counter is packets.
#[divan::bench(sample_count = 10)]
fn load_corpus(bencher: Bencher) {
    let s = &*SETUP;
    bencher
        .counter(ItemsCount::new(COPIES))
        .bench(|| Corpus::load(s.corpus_dir.path(), &s.deployment.keyring).unwrap());
}
