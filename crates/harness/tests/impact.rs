#![expect(clippy::unwrap_used, reason = "tests fail loudly")]
//! Policy impact and coverage over a corpus recorded from the bundled
//! example: real Cedar, real signatures.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use contextos_core::{ErrorKind, Kind, PolicyOutcome, ReplayPacket};
use contextos_harness::{
    ChangeCount, Corpus, CorpusError, CorpusKind, CorpusSource, ImpactReport, policy_coverage, policy_impact,
};
use contextos_runtime::{
    Deployment, Fixtures, REPLAY_PACKET_TYPE, RequestEnvelope, envelope_bytes, open_packet, run_on_fixtures,
};
use contextos_trust::{PolicyEngine, SignedEnvelope, SigningKey, sign};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn deployment() -> &'static Deployment {
    static DEP: OnceLock<Deployment> = OnceLock::new();
    DEP.get_or_init(|| Deployment::load(&repo().join("runtime/contextos.toml")).unwrap())
}

/// The signed packet of the bundled example, run once per test binary.
fn example_packet_bytes() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| {
        let dir = repo().join("runtime/examples/escalation");
        let text = std::fs::read_to_string(dir.join("request.yaml")).unwrap();
        let env = RequestEnvelope::parse("request.yaml", &text).unwrap();
        let fixtures = Fixtures::load(&dir.join("fixtures")).unwrap();
        let a = run_on_fixtures(deployment(), &env, &fixtures).unwrap();
        envelope_bytes(&a.packet_envelope).unwrap()
    })
}

/// `<tmp>/escalation/example.packet.json`.
fn corpus_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "escalation/example.packet.json", example_packet_bytes());
    dir
}

fn write(root: &Path, rel: &str, bytes: &[u8]) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

fn load(dir: &Path) -> Corpus {
    Corpus::load(dir, &deployment().keyring).unwrap()
}

/// A copy of the shipped bundle, edited by `edit(file name, text) -> text`, plus extra files.
fn candidate(edit: impl Fn(&str, String) -> String, extra: &[(&str, &str)]) -> (tempfile::TempDir, PolicyEngine) {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(repo().join("policies")).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(entry.path()).unwrap();
            std::fs::write(dir.path().join(&name), edit(&name, text)).unwrap();
        }
    }
    for (name, text) in extra {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let engine = PolicyEngine::load(dir.path()).unwrap();
    (dir, engine)
}

const REFUND_FREEZE: &str = "@id(\"tools.refund-freeze\")\n\
forbid (principal, action == ContextOS::Action::\"issue_refund\", resource == ContextOS::Tool::\"issue_refund\");\n";

fn refund_freeze() -> (tempfile::TempDir, PolicyEngine) {
    candidate(|_, text| text, &[("freeze.cedar", REFUND_FREEZE)])
}

fn impact(corpus: &Corpus, candidate: &PolicyEngine) -> ImpactReport {
    let dep = deployment();
    policy_impact(corpus, dep, &dep.policy, candidate).unwrap()
}

#[test]
fn fresh_packets_record_the_request_of_every_decision() {
    let corpus = load(corpus_dir().path());
    let decisions = &corpus.packets[0].packet.decision_record.policy_decisions;
    assert!(decisions.iter().all(|d| d.request.is_some()));
    let approved: Vec<_> = decisions
        .iter()
        .filter_map(|d| d.request.as_ref()?.approval_role.as_deref())
        .collect();
    assert_eq!(
        approved,
        vec!["support_lead"],
        "the refund's second decision carries the approval"
    );
    let context = &decisions[0].request.as_ref().unwrap().context;
    assert!(context.get("approval").is_none(), "{context}");
    assert_eq!(context["safety_mode"], "standard");
}

#[test]
fn corpus_names_cases_by_suite_and_file_stem() {
    let dir = corpus_dir();
    write(dir.path(), "alpha/second.packet.json", example_packet_bytes());
    write(dir.path(), "alpha/notes.json", b"{}");
    let corpus = load(dir.path());
    let names: Vec<_> = corpus
        .packets
        .iter()
        .map(|p| (p.suite.as_str(), p.case.as_str()))
        .collect();
    assert_eq!(names, vec![("alpha", "second"), ("escalation", "example")]);
}

#[test]
fn unchanged_bundle_has_no_impact() {
    let corpus = load(corpus_dir().path());
    let (_dir, same) = candidate(|_, text| text, &[]);
    let report = impact(&corpus, &same);
    assert_eq!(report.baseline_bundle, report.candidate_bundle);
    assert!(report.is_unchanged());
    assert!(report.reasons_changed.is_empty());
    assert!(report.by_resource.is_empty() && report.by_policy.is_empty());
    assert_eq!((report.packets, report.skipped, report.recorded_mismatch), (1, 0, 0));
    assert_eq!(report.decisions, corpus.decisions());
}

#[test]
fn added_forbid_newly_denies_the_refund_decisions_and_nothing_else() {
    let corpus = load(corpus_dir().path());
    let (_dir, freeze) = refund_freeze();
    let report = impact(&corpus, &freeze);
    let changes: Vec<_> = report
        .changes
        .iter()
        .map(|c| (c.resource.as_str(), c.before, c.after))
        .collect();
    assert_eq!(
        changes,
        vec![
            (
                "ContextOS::Tool::\"issue_refund\"",
                PolicyOutcome::ApprovalRequired,
                PolicyOutcome::Deny
            ),
            (
                "ContextOS::Tool::\"issue_refund\"",
                PolicyOutcome::Allow,
                PolicyOutcome::Deny
            ),
        ]
    );
    assert!(
        report
            .changes
            .iter()
            .all(|c| c.after_policies == ["tools.refund-freeze"]
                && c.before_policies == ["tools.network-with-approval"]
                && c.action == "ContextOS::Action::\"issue_refund\""
                && c.principal == "ContextOS::Agent::\"triage-bot\""
                && c.reason_after.contains("tools.refund-freeze"))
    );
    assert!(report.changes[0].index < report.changes[1].index);
    assert_eq!(
        report.by_resource,
        BTreeMap::from([(
            "ContextOS::Tool::\"issue_refund\"".to_string(),
            ChangeCount {
                newly_denied: 2,
                ..ChangeCount::default()
            }
        )])
    );
    assert_eq!(
        report.by_policy,
        BTreeMap::from([
            ("tools.network-with-approval".to_string(), 2),
            ("tools.refund-freeze".to_string(), 2)
        ])
    );
    assert!(report.reasons_changed.is_empty());
}

#[test]
fn dropping_the_destructive_guard_keeps_the_delete_denied_for_another_reason() {
    let corpus = load(corpus_dir().path());
    let (_dir, unguarded) = candidate(
        |name, text| {
            if name != "tools.cedar" {
                return text;
            }
            let start = text.find("@id(\"tools.destructive-guard\")").unwrap();
            let end = start + text[start..].find("};").unwrap() + 2;
            format!("{}{}", &text[..start], &text[end..])
        },
        &[],
    );
    assert!(unguarded.policies().iter().all(|p| p.id != "tools.destructive-guard"));
    let report = impact(&corpus, &unguarded);
    // The destructive permit still needs elevated mode and an officer: no
    // outcome changes, but the reason does, and that is a change too.
    assert!(report.changes.is_empty(), "{:#?}", report.changes);
    assert!(!report.is_unchanged());
    assert!(report.by_resource.is_empty());
    assert_eq!(report.reasons_changed.len(), 1, "{:#?}", report.reasons_changed);
    let delete = &report.reasons_changed[0];
    assert_eq!(delete.resource, "ContextOS::Tool::\"delete_account\"");
    assert_eq!(
        (delete.before, delete.after),
        (PolicyOutcome::Deny, PolicyOutcome::Deny)
    );
    assert_eq!(delete.before_policies, vec!["tools.destructive-guard"]);
    assert!(delete.after_policies.is_empty());
    assert!(
        delete.reason_after.contains("no policy permits"),
        "{}",
        delete.reason_after
    );
}

#[test]
fn tampered_packet_fails_verification() {
    let dir = corpus_dir();
    let mut envelope: SignedEnvelope = serde_json::from_slice(example_packet_bytes()).unwrap();
    // Flip the signature's first character to another base64 digit: still 64 bytes, no longer valid.
    let sig = &mut envelope.signatures[0].sig;
    let first = if sig.starts_with('A') { "B" } else { "A" };
    sig.replace_range(..1, first);
    write(
        dir.path(),
        "escalation/tampered.packet.json",
        &envelope_bytes(&envelope).unwrap(),
    );
    let err = Corpus::load(dir.path(), &deployment().keyring).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Verification, "{err}");
    assert!(err.to_string().contains("tampered.packet.json"), "{err}");
}

#[test]
fn missing_empty_and_malformed_corpora_are_input_errors() {
    let keyring = &deployment().keyring;
    let dir = tempfile::tempdir().unwrap();
    let missing = Corpus::load(&dir.path().join("nope"), keyring).unwrap_err();
    assert!(matches!(missing, CorpusError::Missing { .. }));
    let empty = Corpus::load(dir.path(), keyring).unwrap_err();
    assert!(matches!(empty, CorpusError::Empty { .. }), "{empty}");
    write(dir.path(), "s/broken.packet.json", b"{\"payloadType\": ");
    let broken = Corpus::load(dir.path(), keyring).unwrap_err();
    assert!(broken.to_string().contains("broken.packet.json"), "{broken}");
    for err in [missing, empty, broken] {
        assert_eq!(err.kind(), ErrorKind::Input, "{err}");
    }
}

#[test]
fn decisions_recorded_without_their_request_are_skipped() {
    let dep = deployment();
    let envelope: SignedEnvelope = serde_json::from_slice(example_packet_bytes()).unwrap();
    let mut packet: ReplayPacket = open_packet(&envelope, &dep.keyring).unwrap();
    let total = packet.decision_record.policy_decisions.len() as u64;
    for d in &mut packet.decision_record.policy_decisions {
        d.request = None;
    }
    let key = SigningKey::load(&repo().join("runtime/keys/dev.key")).unwrap();
    let old = sign(REPLAY_PACKET_TYPE, &packet, &key).unwrap();
    let dir = corpus_dir();
    write(dir.path(), "old/example.packet.json", &envelope_bytes(&old).unwrap());
    let corpus = load(dir.path());
    let (_dir, freeze) = refund_freeze();
    let report = impact(&corpus, &freeze);
    assert_eq!((report.packets, report.skipped, report.decisions), (2, total, total));
    assert!(report.changes.iter().all(|c| c.suite == "escalation"));
    let coverage = policy_coverage(&corpus, dep, &dep.policy).unwrap();
    assert_eq!((coverage.skipped, coverage.decisions), (total, total));
}

#[test]
fn coverage_of_the_shipped_bundle_lists_exercised_and_never_exercised_policies() {
    let dep = deployment();
    let corpus = load(corpus_dir().path());
    let report = policy_coverage(&corpus, dep, &dep.policy).unwrap();
    for id in [
        "tools.read-only-in-tenant",
        "tools.network-with-approval",
        "tools.destructive-guard",
        "context.signed-packs",
        "context.layers-of-usable-packs",
    ] {
        assert!(report.exercised.get(id).is_some_and(|n| *n > 0), "{id}: {report:#?}");
    }
    assert_eq!(report.exercised["tools.read-only-in-tenant"], 2);
    let never: Vec<&str> = report.never_exercised.iter().map(|p| p.id.as_str()).collect();
    assert!(never.contains(&"tenancy.agent-outside-run-tenant"), "{never:?}");
    assert!(
        never.iter().filter(|id| id.starts_with("tenancy.")).count() == 6,
        "{never:?}"
    );
    let tenancy = &report
        .never_exercised
        .iter()
        .find(|p| p.id.starts_with("tenancy."))
        .unwrap();
    assert!(
        tenancy.file.ends_with("tenancy.cedar") && tenancy.line > 0,
        "{tenancy:?}"
    );
    assert!(report.exercised.keys().all(|id| !never.contains(&id.as_str())));

    let enforced = dep
        .policy
        .policies()
        .iter()
        .filter(|p| p.mode == contextos_trust::PolicyMode::Enforce)
        .count() as u64;
    assert_eq!(report.enforced_total, enforced);
    assert_eq!(report.enforced_exercised as usize, report.exercised.len());
    assert_eq!(
        report.enforced_exercised + report.never_exercised.len() as u64,
        enforced
    );
    let expected = (report.enforced_exercised as f64 / enforced as f64 * 1e6).round() / 1e6;
    assert_eq!(report.coverage, expected);

    // Shadow policies are reported apart and never count towards coverage.
    let shadow: Vec<(&str, u64)> = report
        .shadow
        .iter()
        .map(|s| (s.policy.id.as_str(), s.would_change))
        .collect();
    assert_eq!(shadow, vec![("tools.shadow-network-budget-headroom", 0)]);
    assert!(!report.exercised.contains_key("tools.shadow-network-budget-headroom"));

    // --min gating.
    assert!(report.meets(report.coverage));
    assert!(report.meets(0.0));
    assert!(!report.meets(0.9));
    assert!(!report.meets(report.coverage + 0.000_001));
}

#[test]
fn coverage_measures_a_candidate_on_the_same_corpus() {
    let dep = deployment();
    let corpus = load(corpus_dir().path());
    let (_dir, freeze) = refund_freeze();
    let report = policy_coverage(&corpus, dep, &freeze).unwrap();
    assert_eq!(report.bundle, freeze.bundle_digest());
    assert_eq!(report.exercised["tools.refund-freeze"], 2);
    // The freeze wins both refund decisions: the network permit no longer determines anything.
    assert!(
        report
            .never_exercised
            .iter()
            .any(|p| p.id == "tools.network-with-approval")
    );
}

#[test]
fn a_shadow_policy_that_would_change_outcomes_is_counted() {
    let dep = deployment();
    let corpus = load(corpus_dir().path());
    let shadow = "@id(\"tools.shadow-no-refunds\")\n@mode(\"shadow\")\n\
forbid (principal, action == ContextOS::Action::\"issue_refund\", resource == ContextOS::Tool::\"issue_refund\");\n";
    let (_dir, engine) = candidate(|_, text| text, &[("shadow.cedar", shadow)]);
    let report = policy_coverage(&corpus, dep, &engine).unwrap();
    let counted = report
        .shadow
        .iter()
        .find(|s| s.policy.id == "tools.shadow-no-refunds")
        .unwrap();
    assert_eq!(counted.would_change, 2);
    // An enforced outcome is unaffected, so enforced coverage equals the shipped bundle's.
    let shipped = policy_coverage(&corpus, dep, &dep.policy).unwrap();
    assert_eq!(report.exercised, shipped.exercised);
}

#[test]
fn reports_are_identical_for_any_thread_count() {
    let dep = deployment();
    let dir = tempfile::tempdir().unwrap();
    for (i, suite) in ["zeta", "alpha", "mid"].iter().enumerate() {
        for case in 0..3 {
            write(
                dir.path(),
                &format!("{suite}/case{}.packet.json", (i + case) % 4),
                example_packet_bytes(),
            );
        }
    }
    let (_dir, freeze) = refund_freeze();
    let in_pool = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| {
                let corpus = load(dir.path());
                let impact = policy_impact(&corpus, dep, &dep.policy, &freeze).unwrap();
                let coverage = policy_coverage(&corpus, dep, &freeze).unwrap();
                (
                    serde_json::to_string(&impact).unwrap(),
                    serde_json::to_string(&coverage).unwrap(),
                    impact,
                )
            })
    };
    let (one_impact, one_coverage, report) = in_pool(1);
    let (two_impact, two_coverage, _) = in_pool(2);
    assert_eq!(one_impact, two_impact);
    assert_eq!(one_coverage, two_coverage);
    assert_eq!(report.changes.len(), 18);
    let keys: Vec<_> = report
        .changes
        .iter()
        .map(|c| (c.suite.clone(), c.case.clone(), c.index))
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    assert_eq!(keys[0].0, "alpha");
}

/// A checked-in packet of an earlier format, as it was signed: format 1
/// (tool calls were all `ContextOS::Action::"call_tool"`, without arguments) and format
/// 2 (per-tool actions with arguments, before the `ContextOS` namespace).
fn earlier_format_corpus(version: u32) -> Corpus {
    load(&Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/format-v{version}")))
}

#[test]
fn earlier_format_packets_still_verify_and_their_decisions_count_as_before_the_schema_change() {
    for version in [1, 2] {
        let corpus = earlier_format_corpus(version);
        let packet = &corpus.packets[0].packet;
        assert_eq!(packet.format_version, version);
        let recorded = packet
            .decision_record
            .policy_decisions
            .iter()
            .filter(|d| d.request.is_some())
            .count();
        assert!(recorded > 0, "format {version}");
        let report = impact(&corpus, &deployment().policy);
        assert_eq!(
            report.before_schema_change, recorded as u64,
            "format {version}: {report:#?}"
        );
        assert_eq!(report.decisions, 0, "format {version}: {report:#?}");
        assert!(
            report.changes.is_empty() && report.reasons_changed.is_empty(),
            "format {version}: {report:#?}"
        );
    }
}

#[test]
fn earlier_format_packets_still_replay() {
    for version in [1, 2] {
        let corpus = earlier_format_corpus(version);
        let packet = &corpus.packets[0].packet;
        // The bundle and the refund contract (its declared data class)
        // changed since these were recorded.
        let overrides = contextos_runtime::ReplayOverrides {
            policies: true,
            tools: true,
            ..Default::default()
        };
        let replay = contextos_runtime::replay(deployment(), packet, &overrides).unwrap();
        let again = &replay.artifacts.packet;
        assert_eq!(again.format_version, contextos_core::RECORD_FORMAT_VERSION);
        assert_eq!(
            again.decision_record.outcome, packet.decision_record.outcome,
            "format {version}"
        );
        assert_eq!(
            again.decision_record.answer, packet.decision_record.answer,
            "format {version}"
        );
        let tools = |p: &ReplayPacket| {
            p.tool_envelopes
                .iter()
                .map(|e| (e.tool.clone(), e.status))
                .collect::<Vec<_>>()
        };
        assert_eq!(tools(again), tools(packet), "format {version}");
    }
}

// ------------------------------------------------------- run store corpora

/// A store at `<tmp>/.contextos` holding the bundled example run once per
/// `(run id, started_at)`, persisted as `contextos run` does.
fn store_with_runs(runs: &[(&str, u64)]) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".contextos");
    let store = contextos_store::Store::open(&path).unwrap();
    let example = repo().join("runtime/examples/escalation");
    let text = std::fs::read_to_string(example.join("request.yaml")).unwrap();
    let fixtures = Fixtures::load(&example.join("fixtures")).unwrap();
    for (run_id, started_at) in runs {
        let mut env = RequestEnvelope::parse("request.yaml", &text).unwrap();
        env.run_context.run_id = (*run_id).to_string();
        env.started_at = contextos_core::Timestamp(*started_at);
        let artifacts = run_on_fixtures(deployment(), &env, &fixtures).unwrap();
        contextos_runtime::persist(&store, &artifacts).unwrap();
    }
    (dir, path)
}

#[test]
fn a_run_store_is_a_corpus_of_its_runs_in_run_id_order() {
    // run_z is recorded first: the store lists runs by time, the corpus by id.
    let (_dir, path) = store_with_runs(&[("run_z", 1_767_225_600_000), ("run_a", 1_767_225_700_000)]);
    let listed: Vec<String> = contextos_store::Store::open_existing(&path)
        .unwrap()
        .list_runs()
        .unwrap()
        .into_iter()
        .map(|e| e.run_id)
        .collect();
    assert_eq!(listed, ["run_z", "run_a"]);

    let corpus = load(&path);
    let names: Vec<_> = corpus
        .packets
        .iter()
        .map(|p| (p.suite.as_str(), p.case.as_str(), p.packet.run_id.as_str()))
        .collect();
    assert_eq!(names, [("store", "run_a", "run_a"), ("store", "run_z", "run_z")]);
    assert!(
        corpus.packets[0].file.starts_with("run run_a in store ") && corpus.packets[0].file.contains("(sha256:"),
        "{}",
        corpus.packets[0].file
    );
    assert_eq!(
        corpus.sources,
        [CorpusSource {
            dir: path.to_string_lossy().replace('\\', "/"),
            kind: CorpusKind::Store,
            packets: 2,
        }]
    );

    // Each stored run is compared as a packet file would be.
    let (_candidate, freeze) = refund_freeze();
    let report = impact(&corpus, &freeze);
    let changed: Vec<_> = report
        .changes
        .iter()
        .map(|c| (c.suite.as_str(), c.case.as_str(), c.index))
        .collect();
    assert_eq!(
        changed,
        [
            ("store", "run_a", 13),
            ("store", "run_a", 14),
            ("store", "run_z", 13),
            ("store", "run_z", 14)
        ]
    );
    assert_eq!(report.corpora, corpus.sources);
}

#[test]
fn packet_trees_and_run_stores_load_together_in_the_order_given() {
    let tree = corpus_dir();
    let (_dir, store) = store_with_runs(&[("run_escalation_4411", 1_767_225_600_000)]);
    let corpus = Corpus::load_all(&[store.clone(), tree.path().to_owned()], &deployment().keyring).unwrap();
    let kinds: Vec<_> = corpus.sources.iter().map(|s| (s.kind, s.packets)).collect();
    assert_eq!(kinds, [(CorpusKind::Store, 1), (CorpusKind::Packets, 1)]);
    assert_eq!(corpus.packets[0].suite, "store");
    assert_eq!(corpus.packets[1].suite, "escalation");
    // The same run, stored or as a packet file, is the same verified packet.
    assert_eq!(corpus.packets[0].packet, corpus.packets[1].packet);
}

#[test]
fn an_empty_run_store_is_an_input_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".contextos");
    contextos_store::Store::open(&path).unwrap();
    let err = Corpus::load(&path, &deployment().keyring).unwrap_err();
    assert!(matches!(err, CorpusError::EmptyStore { .. }), "{err}");
    assert_eq!(err.kind(), ErrorKind::Input);
    assert!(err.to_string().contains("holds no runs"), "{err}");
}

#[test]
fn a_missing_or_corrupt_stored_packet_names_the_run_and_the_digest() {
    let (_dir, path) = store_with_runs(&[("run_escalation_4411", 1_767_225_600_000)]);
    let store = contextos_store::Store::open_existing(&path).unwrap();
    let entry = store.get_run("run_escalation_4411").unwrap();
    let object = store.object_path(&entry.packet);
    let mut bytes = std::fs::read(&object).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&object, &bytes).unwrap();
    let corrupt = Corpus::load(&path, &deployment().keyring).unwrap_err();
    assert_eq!(corrupt.kind(), ErrorKind::Verification, "{corrupt}");

    std::fs::remove_file(&object).unwrap();
    let missing = Corpus::load(&path, &deployment().keyring).unwrap_err();
    assert_eq!(missing.kind(), ErrorKind::Input, "{missing}");
    for err in [corrupt, missing] {
        let message = err.to_string();
        assert!(
            message.contains("run run_escalation_4411") && message.contains(&entry.packet.to_string()),
            "{message}"
        );
    }
}

#[test]
fn a_stored_packet_with_a_bad_signature_fails_verification() {
    let (_dir, path) = store_with_runs(&[("run_escalation_4411", 1_767_225_600_000)]);
    let store = contextos_store::Store::open_existing(&path).unwrap();
    let mut entry = store.get_run("run_escalation_4411").unwrap();
    let mut envelope: SignedEnvelope = serde_json::from_slice(&store.get_object(&entry.packet).unwrap()).unwrap();
    let sig = &mut envelope.signatures[0].sig;
    let first = if sig.starts_with('A') { "B" } else { "A" };
    sig.replace_range(..1, first);
    entry.packet = store.put_object(&envelope_bytes(&envelope).unwrap()).unwrap();
    std::fs::remove_file(path.join("runs/run_escalation_4411.json")).unwrap();
    store.put_run(&entry).unwrap();
    let err = Corpus::load(&path, &deployment().keyring).unwrap_err();
    assert!(matches!(err, CorpusError::Verification { .. }), "{err}");
    assert_eq!(err.kind(), ErrorKind::Verification);
    assert!(
        err.to_string().contains("run run_escalation_4411") && err.to_string().contains(&entry.packet.to_string()),
        "{err}"
    );
}

#[test]
fn a_run_index_entry_pointing_at_another_runs_packet_fails_verification() {
    let (_dir, path) = store_with_runs(&[("run_escalation_4411", 1_767_225_600_000)]);
    let store = contextos_store::Store::open_existing(&path).unwrap();
    let mut entry = store.get_run("run_escalation_4411").unwrap();
    entry.run_id = "run_other".to_string();
    store.put_run(&entry).unwrap();
    let err = Corpus::load(&path, &deployment().keyring).unwrap_err();
    assert!(matches!(err, CorpusError::RunMismatch { .. }), "{err}");
    assert_eq!(err.kind(), ErrorKind::Verification);
    assert!(
        err.to_string().contains("run run_other in store")
            && err.to_string().contains("records run \"run_escalation_4411\""),
        "{err}"
    );
}

#[test]
fn each_suite_verifies_with_its_own_keyring() {
    let envelope: SignedEnvelope = serde_json::from_slice(example_packet_bytes()).unwrap();
    let packet: ReplayPacket = open_packet(&envelope, &deployment().keyring).unwrap();
    let other = SigningKey::from_seed([7; 32]);
    let other_keys = contextos_trust::Keyring::from_keys([other.public()]);
    let resigned = envelope_bytes(&sign(REPLAY_PACKET_TYPE, &packet, &other).unwrap()).unwrap();
    let dir = corpus_dir();
    write(dir.path(), "other/example.packet.json", &resigned);

    let mut keys = contextos_harness::CorpusKeys::new(deployment().keyring.clone());
    keys.insert_suite("other", other_keys.clone());
    let corpus = Corpus::load_with(dir.path(), &keys).unwrap();
    assert_eq!(corpus.suites(), ["escalation", "other"]);

    // Without its own keys the other suite's packet does not verify, and is named.
    let err = Corpus::load(dir.path(), &deployment().keyring).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Verification, "{err}");
    assert!(err.to_string().contains("other/example.packet.json"), "{err}");

    // A packet signed by another suite's key does not verify under its own suite's keys.
    write(dir.path(), "other/intruder.packet.json", example_packet_bytes());
    let err = Corpus::load_with(dir.path(), &keys).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Verification, "{err}");
    assert!(err.to_string().contains("other/intruder.packet.json"), "{err}");
}
