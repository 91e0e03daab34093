//! The run store on real files: objects, run index, id resolution,
//! verification with real signatures, crash leftovers and tampering.

#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use std::fs;
use std::path::{Path, PathBuf};

use contextos_core::{Digest, ErrorKind, FORMAT_VERSION, Kind, RunOutcome, Timestamp};
use contextos_store::{MAX_OBJECT_BYTES, Resolved, RunIndexEntry, Store, StoreError, StoreProblem};
use contextos_trust::{Keyring, SignedEnvelope, SigningKey, sign};
use proptest::prelude::*;
use serde_json::json;

const RECORD: &str = "application/vnd.contextos.decision-record+json";
const PACKET: &str = "application/vnd.contextos.replay-packet+json";

fn key() -> SigningKey {
    SigningKey::from_seed([7; 32])
}

fn keyring() -> Keyring {
    Keyring::from_keys([key().public()])
}

fn new_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join(".contextos")).unwrap();
    (dir, store)
}

/// The store-relative path of an object, as problems name it.
fn rel(digest: &Digest) -> String {
    let hex = digest.hex();
    format!("objects/{}/{hex}", &hex[..2])
}

fn envelope(payload_type: &str, document: &serde_json::Value) -> SignedEnvelope {
    sign(payload_type, document, &key()).unwrap()
}

fn put_envelope(store: &Store, envelope: &SignedEnvelope) -> Digest {
    store.put_object(&serde_json::to_vec(envelope).unwrap()).unwrap()
}

/// Stores a signed packet and record for `run_id` and indexes them.
fn put_signed_run(store: &Store, run_id: &str, created_at: u64) -> RunIndexEntry {
    let packet = put_envelope(store, &envelope(PACKET, &json!({"run_id": run_id, "steps": []})));
    let record = put_envelope(
        store,
        &envelope(RECORD, &json!({"run_id": run_id, "outcome": "approve"})),
    );
    let entry = entry(run_id, packet, record, created_at);
    store.put_run(&entry).unwrap();
    entry
}

fn entry(run_id: &str, packet: Digest, record: Digest, created_at: u64) -> RunIndexEntry {
    RunIndexEntry {
        format_version: FORMAT_VERSION,
        run_id: run_id.to_owned(),
        packet,
        record,
        outcome: RunOutcome::Completed,
        trace_id: "4bf92f3577b34da6a3ce929d0e0e4736".to_owned(),
        created_at: Timestamp(created_at),
        replay_of: None,
    }
}

fn problems(store: &Store) -> Vec<StoreProblem> {
    store.verify(&keyring()).unwrap().problems
}

fn write(path: &Path, bytes: &[u8]) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, bytes).unwrap();
}

// ---------------------------------------------------------------- objects

#[test]
fn object_round_trip() {
    let (_dir, store) = new_store();
    let bytes = b"{\"hello\":\"world\"}\n";
    let digest = store.put_object(bytes).unwrap();
    assert_eq!(digest, Digest::of_bytes(bytes));
    assert!(store.has_object(&digest).unwrap());
    assert_eq!(store.get_object(&digest).unwrap(), bytes);
    let path = store.object_path(&digest);
    assert!(path.ends_with(rel(&digest)));
    assert_eq!(fs::read(path).unwrap(), bytes);
    // The empty blob is an object too.
    let empty = store.put_object(b"").unwrap();
    assert_eq!(store.get_object(&empty).unwrap(), b"");
}

#[test]
fn put_is_idempotent_and_leaves_no_temp_files() {
    let (_dir, store) = new_store();
    let first = store.put_object(b"same bytes").unwrap();
    let second = store.put_object(b"same bytes").unwrap();
    assert_eq!(first, second);
    let shard = store.object_path(&first).parent().unwrap().to_owned();
    let names: Vec<_> = fs::read_dir(shard).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, [first.hex().as_str()]);
    let report = store.verify(&keyring()).unwrap();
    assert_eq!((report.objects, report.orphans, report.problems.len()), (1, 0, 0));
}

#[test]
fn putting_over_a_corrupted_copy_is_a_verification_error() {
    let (_dir, store) = new_store();
    let digest = store.put_object(b"original").unwrap();
    fs::write(store.object_path(&digest), b"0riginal").unwrap();
    let err = store.put_object(b"original").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Verification);
    assert!(err.to_string().contains(&digest.hex()), "{err}");
}

#[test]
fn missing_object_is_an_input_error() {
    let (_dir, store) = new_store();
    let digest = Digest::of_bytes(b"never stored");
    assert!(!store.has_object(&digest).unwrap());
    let err = store.get_object(&digest).unwrap_err();
    assert!(matches!(err, StoreError::MissingObject { .. }), "{err:?}");
    assert_eq!(err.kind(), ErrorKind::Input);
}

#[test]
fn oversized_objects_are_refused_both_ways() {
    let (_dir, store) = new_store();
    // A sparse file: the size check refuses it before reading a byte.
    let digest = Digest::of_bytes(b"small");
    let path = store.object_path(&digest);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::File::create(&path).unwrap().set_len(MAX_OBJECT_BYTES + 1).unwrap();
    let err = store.get_object(&digest).unwrap_err();
    assert!(matches!(err, StoreError::OversizedObject { .. }), "{err:?}");
    assert_eq!(err.kind(), ErrorKind::Verification);
    assert!(err.to_string().contains(&path.display().to_string()), "{err}");
    let report = store.verify(&keyring()).unwrap();
    assert_eq!(report.problems.len(), 1);
    assert_eq!(report.problems[0].path, rel(&digest));
    assert!(report.problems[0].what.contains("over the"), "{:?}", report.problems);

    let blob = vec![0u8; usize::try_from(MAX_OBJECT_BYTES).unwrap() + 1];
    let err = store.put_object(&blob).unwrap_err();
    assert!(matches!(err, StoreError::BlobTooLarge { .. }), "{err:?}");
    assert_eq!(err.kind(), ErrorKind::Input);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Any single flipped bit anywhere in a stored object is caught on read
    /// and by verify, both naming the object.
    #[test]
    fn flipping_any_byte_is_detected(position in 0usize..10_000, bit in 0u8..8) {
        let (_dir, store) = new_store();
        let signed = envelope(RECORD, &json!({"run_id": "run-0001", "outcome": "approve", "steps": 3}));
        let digest = put_envelope(&store, &signed);
        let path = store.object_path(&digest);
        let mut bytes = fs::read(&path).unwrap();
        let position = position % bytes.len();
        bytes[position] ^= 1 << bit;
        fs::write(&path, &bytes).unwrap();

        let err = store.get_object(&digest).unwrap_err();
        prop_assert_eq!(err.kind(), ErrorKind::Verification);
        prop_assert!(err.to_string().contains(&path.display().to_string()), "{}", err);

        let problems = problems(&store);
        prop_assert!(!problems.is_empty());
        prop_assert!(problems.iter().all(|p| p.path == rel(&digest)), "{:?}", problems);
        prop_assert!(problems.iter().any(|p| p.what.contains("corrupted object")), "{:?}", problems);
    }
}

// ---------------------------------------------------------------- verify

#[test]
fn a_clean_store_verifies_and_counts_everything() {
    let (_dir, store) = new_store();
    put_signed_run(&store, "run-0001", 1_000);
    put_signed_run(&store, "run-0002", 2_000);
    store.put_object(b"a plain blob, not an envelope").unwrap();
    let mut log = store.evidence().unwrap();
    log.append("run_recorded", &json!({"run_id": "run-0001"})).unwrap();
    log.append("run_recorded", &json!({"run_id": "run-0002"})).unwrap();
    drop(log);
    let report = store.verify(&keyring()).unwrap();
    assert!(report.is_clean(), "{:?}", report.problems);
    assert_eq!(report.objects, 5);
    assert_eq!(report.envelopes, 4);
    assert_eq!(report.runs, 2);
    assert_eq!(report.evidence_entries, 2);
    assert_eq!(report.orphans, 0);
}

#[test]
fn re_signed_payload_under_its_new_hash_fails_signature_verification() {
    let (_dir, store) = new_store();
    let original = envelope(RECORD, &json!({"run_id": "run-0001", "outcome": "deny"}));
    let digest = put_envelope(&store, &original);
    // Swap in another document's payload, keep the original signature, and
    // store the result under its own (correct) digest: every name hashes.
    let other = envelope(RECORD, &json!({"run_id": "run-0001", "outcome": "approve"}));
    let tampered = SignedEnvelope {
        payload: other.payload,
        ..original
    };
    let bytes = serde_json::to_vec(&tampered).unwrap();
    let tampered_digest = Digest::of_bytes(&bytes);
    write(&store.object_path(&tampered_digest), &bytes);
    fs::remove_file(store.object_path(&digest)).unwrap();

    assert_eq!(store.get_object(&tampered_digest).unwrap(), bytes);
    let report = store.verify(&keyring()).unwrap();
    assert_eq!(report.envelopes, 1);
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    assert_eq!(report.problems[0].path, rel(&tampered_digest));
    assert!(
        report.problems[0].what.contains("signed envelope does not verify"),
        "{:?}",
        report.problems
    );
}

#[test]
fn envelope_by_an_untrusted_key_is_a_problem() {
    let (_dir, store) = new_store();
    let stranger = sign(RECORD, &json!({"run_id": "run-0001"}), &SigningKey::from_seed([8; 32])).unwrap();
    let digest = put_envelope(&store, &stranger);
    let problems = problems(&store);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].path, rel(&digest));
    assert!(problems[0].what.contains("not signed by a trusted key"), "{problems:?}");
}

#[test]
fn an_envelope_with_an_extra_field_does_not_pass_as_a_plain_blob() {
    let (_dir, store) = new_store();
    let mut value = serde_json::to_value(envelope(RECORD, &json!({"run_id": "run-0001"}))).unwrap();
    value["note"] = json!("hide me");
    let digest = store.put_object(&serde_json::to_vec(&value).unwrap()).unwrap();
    let problems = problems(&store);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].path, rel(&digest));
    assert!(problems[0].what.contains("malformed signed envelope"), "{problems:?}");
}

#[test]
fn run_index_entry_naming_a_missing_object_is_detected() {
    let (_dir, store) = new_store();
    let entry = put_signed_run(&store, "run-0001", 1_000);
    fs::remove_file(store.object_path(&entry.record)).unwrap();
    let report = store.verify(&keyring()).unwrap();
    assert_eq!(report.runs, 1);
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    assert_eq!(report.problems[0].path, "runs/run-0001.json");
    assert!(
        report.problems[0].what.contains("record object"),
        "{:?}",
        report.problems
    );
    assert!(report.problems[0].what.contains(&entry.record.to_string()));
}

#[test]
fn malformed_run_index_entries_are_reported_together_with_everything_else() {
    let (_dir, store) = new_store();
    let entry = put_signed_run(&store, "run-0001", 1_000);
    let runs = store.dir().join("runs");
    write(&runs.join("run-0002.json"), b"{\"format_version\": 1}");
    write(&runs.join("notes.txt"), b"stray");
    // An entry copied under another run id's name.
    fs::copy(runs.join("run-0001.json"), runs.join("run-0003.json")).unwrap();
    fs::write(store.object_path(&entry.packet), b"garbage").unwrap();

    let paths: Vec<String> = problems(&store).into_iter().map(|p| p.path).collect();
    assert_eq!(
        paths,
        [
            rel(&entry.packet),
            "runs/notes.txt".to_owned(),
            "runs/run-0002.json".to_owned(),
            "runs/run-0003.json".to_owned()
        ]
    );
    let err = store.get_run("run-0003").unwrap_err();
    assert!(matches!(err, StoreError::MalformedRun { .. }), "{err:?}");
    assert_eq!(err.kind(), ErrorKind::Verification);
}

#[test]
fn crash_leftover_temp_files_are_orphans_not_problems() {
    let (_dir, store) = new_store();
    let entry = put_signed_run(&store, "run-0001", 1_000);
    let shard = store.object_path(&entry.packet).parent().unwrap().to_owned();
    // What `write_file_atomically` leaves when the process dies before the link.
    write(
        &shard.join(format!(".{}.tmp-0011223344556677", entry.packet.hex())),
        b"half writ",
    );
    write(
        &store.dir().join("runs/.run-0002.json.tmp-8899aabbccddeeff"),
        b"{\"form",
    );
    write(&store.dir().join(".evidence.log.head.tmp-0000000000000000"), b"");
    let report = store.verify(&keyring()).unwrap();
    assert_eq!(report.orphans, 3);
    assert!(report.is_clean(), "{:?}", report.problems);
    assert_eq!(report.objects, 2);
    assert_eq!(store.list_runs().unwrap(), [entry]);
}

#[test]
fn opening_for_writing_removes_crash_leftover_temp_files() {
    let (_dir, store) = new_store();
    let entry = put_signed_run(&store, "run-0001", 1_000);
    let shard = store.object_path(&entry.packet).parent().unwrap().to_owned();
    let leftovers = [
        shard.join(format!(".{}.tmp-0011223344556677", entry.packet.hex())),
        store.dir().join("runs/.run-0002.json.tmp-8899aabbccddeeff"),
        store.dir().join(".evidence.log.head.tmp-0000000000000000"),
    ];
    for path in &leftovers {
        write(path, b"half writ");
    }
    assert_eq!(store.verify(&keyring()).unwrap().orphans, 3);
    let reopened = Store::open(store.dir()).unwrap();
    for path in &leftovers {
        assert!(!path.exists(), "{} survived opening", path.display());
    }
    let report = reopened.verify(&keyring()).unwrap();
    assert_eq!((report.orphans, report.objects), (0, 2));
    assert!(report.is_clean(), "{:?}", report.problems);
    assert_eq!(reopened.list_runs().unwrap(), [entry]);
}

/// A store whose evidence log holds three entries, as a writer killed after
/// syncing the third line but before replacing the head file leaves it: the
/// head acknowledges two, and a fourth line was torn half-way.
fn store_with_unacknowledged_tail() -> (tempfile::TempDir, Store) {
    let (dir, store) = new_store();
    let mut log = store.evidence().unwrap();
    for n in 0..3 {
        log.append("tool_call", &json!({"tool": "refund", "n": n})).unwrap();
    }
    drop(log);
    let text = fs::read_to_string(store.evidence_path()).unwrap();
    let second: serde_json::Value = serde_json::from_str(text.lines().nth(1).unwrap()).unwrap();
    let head = format!(
        "{{\"entries\":2,\"format_version\":{FORMAT_VERSION},\"head\":\"{}\"}}\n",
        second["entry_digest"].as_str().unwrap()
    );
    fs::write(store.dir().join("evidence.log.head"), head).unwrap();
    fs::write(store.evidence_path(), format!("{text}{{\"format_version\":1,\"se")).unwrap();
    (dir, store)
}

#[test]
fn an_unacknowledged_evidence_tail_is_a_warning_that_opening_repairs() {
    let (_dir, store) = store_with_unacknowledged_tail();
    let report = store.verify(&keyring()).unwrap();
    assert!(report.is_clean(), "a crash is not tampering: {:?}", report.problems);
    assert_eq!(report.warnings.len(), 1, "{:?}", report.warnings);
    assert_eq!(report.warnings[0].path, "evidence.log");
    assert!(
        report.warnings[0].what.contains("line 4 is incomplete"),
        "{:?}",
        report.warnings
    );

    let reopened = Store::open(store.dir()).unwrap();
    let report = reopened.verify(&keyring()).unwrap();
    assert!(report.is_clean(), "{:?}", report.problems);
    assert_eq!(report.warnings, [], "opening repaired the tail");
    assert_eq!(report.evidence_entries, 3, "complete entries are kept and acknowledged");
    let text = fs::read_to_string(reopened.evidence_path()).unwrap();
    assert_eq!(text.lines().count(), 3);
    assert!(text.ends_with('\n'), "the torn line is gone");
}

#[test]
fn an_evidence_tail_without_a_torn_line_is_reported_as_unacknowledged() {
    let (_dir, store) = store_with_unacknowledged_tail();
    let text = fs::read_to_string(store.evidence_path()).unwrap();
    let complete = &text[..=text.rfind('\n').unwrap()];
    fs::write(store.evidence_path(), complete).unwrap();
    let report = store.verify(&keyring()).unwrap();
    assert!(report.is_clean(), "{:?}", report.problems);
    assert_eq!(report.evidence_entries, 3);
    assert!(
        report.warnings[0]
            .what
            .contains("holds 3 entries but its head file acknowledges only 2"),
        "{:?}",
        report.warnings
    );
}

#[test]
fn removing_an_acknowledged_entry_is_still_a_problem_not_a_warning() {
    let (_dir, store) = store_with_unacknowledged_tail();
    let text = fs::read_to_string(store.evidence_path()).unwrap();
    let first_line = text.lines().next().unwrap();
    fs::write(store.evidence_path(), format!("{first_line}\n")).unwrap();
    let report = store.verify(&keyring()).unwrap();
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    assert!(
        report.problems[0].what.contains("acknowledged entries were removed"),
        "{:?}",
        report.problems
    );
    assert_eq!(report.warnings, []);
}

#[test]
fn the_evidence_log_knows_what_it_holds() {
    let (_dir, store) = new_store();
    let mut log = store.evidence().unwrap();
    log.append("tool_call", &json!({"n": 1})).unwrap();
    assert!(log.holds("tool_call", &json!({"n": 1})).unwrap());
    assert!(!log.holds("tool_call", &json!({"n": 2})).unwrap());
    assert!(!log.holds("decision_record", &json!({"n": 1})).unwrap());
    drop(log);
    assert!(
        store.evidence().unwrap().holds("tool_call", &json!({"n": 1})).unwrap(),
        "after reopening"
    );
}

#[test]
fn evidence_log_tampering_is_a_problem() {
    let (_dir, store) = new_store();
    let mut log = store.evidence().unwrap();
    for n in 0..3 {
        log.append("tool_call", &json!({"tool": "refund", "amount": 10 * n}))
            .unwrap();
    }
    drop(log);
    let path = store.evidence_path();
    let text = fs::read_to_string(&path).unwrap();
    assert!(text.contains("\"amount\":10"));
    fs::write(&path, text.replace("\"amount\":10", "\"amount\":99")).unwrap();

    let report = store.verify(&keyring()).unwrap();
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    assert_eq!(report.problems[0].path, "evidence.log");
    assert!(report.problems[0].what.contains("entry 2"), "{:?}", report.problems);
}

#[test]
fn evidence_log_is_opened_on_demand_and_locked() {
    let (_dir, store) = new_store();
    assert!(!store.evidence_path().exists());
    let log = store.evidence().unwrap();
    assert_eq!(log.path(), store.evidence_path());
    let err = store.evidence().unwrap_err();
    assert!(err.to_string().contains("already open"), "{err}");
    drop(log);
    store.evidence().unwrap();
}

// ---------------------------------------------------------------- runs

#[test]
fn run_round_trip_and_idempotent_put() {
    let (_dir, store) = new_store();
    let mut entry = put_signed_run(&store, "run-0001", 1_000);
    assert_eq!(store.get_run("run-0001").unwrap(), entry);
    store.put_run(&entry).unwrap();
    // Canonical JSON on disk: sorted keys, no whitespace.
    let on_disk = fs::read_to_string(store.dir().join("runs/run-0001.json")).unwrap();
    assert!(
        on_disk.starts_with("{\"created_at\":1000,\"format_version\":1,"),
        "{on_disk}"
    );

    entry.outcome = RunOutcome::Rejected;
    let err = store.put_run(&entry).unwrap_err();
    assert!(matches!(err, StoreError::RunExists { .. }), "{err:?}");
    assert_eq!(err.kind(), ErrorKind::Input);
    assert!(err.to_string().contains("already exists"), "{err}");
}

#[test]
fn put_run_refuses_bad_ids_and_dangling_objects() {
    let (_dir, store) = new_store();
    let stored = store.put_object(b"packet").unwrap();
    for bad in ["", "../escape", "a/b", ".hidden", "sp ace", &"x".repeat(129)] {
        let err = store.put_run(&entry(bad, stored, stored, 1)).unwrap_err();
        assert!(matches!(err, StoreError::InvalidRunEntry { .. }), "{bad:?}: {err:?}");
        assert_eq!(err.kind(), ErrorKind::Input);
    }
    let missing = Digest::of_bytes(b"not stored");
    let err = store.put_run(&entry("run-0001", stored, missing, 1)).unwrap_err();
    assert!(err.to_string().contains("record object"), "{err}");
    let mut old = entry("run-0001", stored, stored, 1);
    old.format_version = 0;
    assert!(store.put_run(&old).unwrap_err().to_string().contains("format_version"));
    assert!(store.list_runs().unwrap().is_empty());
}

#[test]
fn list_runs_sorts_by_time_then_id() {
    let (_dir, store) = new_store();
    put_signed_run(&store, "c", 2_000);
    put_signed_run(&store, "b", 1_000);
    put_signed_run(&store, "a", 2_000);
    let ids: Vec<String> = store.list_runs().unwrap().into_iter().map(|e| e.run_id).collect();
    assert_eq!(ids, ["b", "a", "c"]);
}

#[test]
fn unknown_run_suggests_similar_ids() {
    let (_dir, store) = new_store();
    for (n, run_id) in ["run-0001", "run-0002", "deploy-7"].into_iter().enumerate() {
        put_signed_run(&store, run_id, n as u64);
    }
    let err = store.get_run("run-0003").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Input);
    let StoreError::UnknownRun { ref closest, runs, .. } = err else {
        panic!("{err:?}")
    };
    assert_eq!(closest, &["run-0001", "run-0002"]);
    assert_eq!(runs, 3);
    assert!(
        err.to_string()
            .contains("did you mean one of \"run-0001\", \"run-0002\"?"),
        "{err}"
    );

    let (_empty_dir, empty) = new_store();
    let err = empty.get_run("../run-0003").unwrap_err();
    assert!(err.to_string().ends_with("the store has no runs"), "{err}");
}

// ---------------------------------------------------------------- resolve

#[test]
fn resolve_run_id_digest_and_prefix() {
    let (_dir, store) = new_store();
    let entry = put_signed_run(&store, "run-0001", 1_000);
    assert_eq!(store.resolve("run-0001").unwrap(), Resolved::Run(entry.clone()));
    let full = entry.packet.to_string();
    assert_eq!(store.resolve(&full).unwrap(), Resolved::Object(entry.packet));
    let hex = entry.packet.hex();
    assert_eq!(store.resolve(&hex[..8]).unwrap(), Resolved::Object(entry.packet));
    assert_eq!(
        store.resolve(&format!("sha256:{}", hex[..12].to_uppercase())).unwrap(),
        Resolved::Object(entry.packet)
    );
}

#[test]
fn resolve_ambiguous_prefix_lists_candidates() {
    let (_dir, store) = new_store();
    // Two names sharing eight hex digits cannot be made by hashing in a test,
    // so place them directly (resolve reads names, verify checks contents).
    let first: Digest = format!("sha256:{}", "ab".repeat(32)).parse().unwrap();
    let second: Digest = format!("sha256:{}{}", "ab".repeat(8), "cd".repeat(24)).parse().unwrap();
    write(&store.object_path(&first), b"one");
    write(&store.object_path(&second), b"two");
    let err = store.resolve("abababab").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Input);
    let StoreError::AmbiguousId { ref candidates, .. } = err else {
        panic!("{err:?}")
    };
    assert_eq!(candidates, &[first, second]);
    let message = err.to_string();
    assert!(
        message.contains(&first.to_string()) && message.contains(&second.to_string()),
        "{message}"
    );
    // They share sixteen digits; the seventeenth tells them apart.
    assert!(matches!(
        store.resolve(&"ab".repeat(8)),
        Err(StoreError::AmbiguousId { .. })
    ));
    assert_eq!(
        store.resolve(&format!("{}a", "ab".repeat(8))).unwrap(),
        Resolved::Object(first)
    );
    assert_eq!(
        store.resolve(&format!("{}c", "ab".repeat(8))).unwrap(),
        Resolved::Object(second)
    );
}

#[test]
fn resolve_unknown_ids_explain_and_suggest() {
    let (_dir, store) = new_store();
    put_signed_run(&store, "run-0001", 1_000);
    let cases = [
        ("run-0002", "not a digest or hex digest prefix", true),
        ("abc", "at least 8 hex digits", false),
        ("00000000", "no stored object's digest starts with 00000000", false),
        (
            &format!("sha256:{}", "0".repeat(64)),
            "no stored object's digest starts with",
            false,
        ),
        (&"a".repeat(65), "longer than a sha256 digest", false),
    ];
    for (id, reason, suggests) in cases {
        let err = store.resolve(id).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Input, "{id}");
        let message = err.to_string();
        assert!(message.contains(reason), "{id}: {message}");
        assert_eq!(
            message.contains("did you mean \"run-0001\"?"),
            suggests,
            "{id}: {message}"
        );
    }
}

#[test]
fn open_existing_requires_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    let missing: PathBuf = dir.path().join("nowhere/.contextos");
    let err = Store::open_existing(&missing).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Input);
    assert!(err.to_string().contains(&missing.display().to_string()), "{err}");
    assert!(!missing.exists());

    let store = Store::open(&missing).unwrap();
    assert!(missing.join("objects").is_dir() && missing.join("runs").is_dir());
    let digest = store.put_object(b"x").unwrap();
    let reopened = Store::open_existing(&missing).unwrap();
    assert_eq!(reopened.get_object(&digest).unwrap(), b"x");
}

#[test]
fn has_layout_needs_both_objects_and_runs_directories() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".contextos");
    assert!(!Store::has_layout(&path), "missing");
    fs::create_dir_all(path.join("runs")).unwrap();
    assert!(!Store::has_layout(&path), "runs/ alone");
    write(&path.join("objects"), b"not a directory");
    assert!(!Store::has_layout(&path), "objects is a file");
    fs::remove_file(path.join("objects")).unwrap();
    Store::open(&path).unwrap();
    assert!(Store::has_layout(&path), "as opened");
}
