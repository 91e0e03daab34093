//! The evidence log on real files: appends, reopening, tampering and crash
//! recovery.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] functions fail the test by panicking"
)]

use std::fs;
use std::path::{Path, PathBuf};

use contextos_core::{ErrorKind, Kind, digest_of};
use contextos_trust::{EvidenceError, EvidenceLog, LogReport, verify_log};
use proptest::prelude::*;
use serde_json::{Value, json};

fn log_path(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join(".contextos").join("evidence.log")
}

fn head_path(log: &Path) -> PathBuf {
    PathBuf::from(format!("{}.head", log.display()))
}

/// A log with `n` entries, closed again.
fn write_log(n: u64) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = log_path(&dir);
    let mut log = EvidenceLog::open(&path).unwrap();
    for i in 0..n {
        log.append(
            "tool_call",
            &json!({"tool": "refund", "call": i, "args": {"amount": 10 * i}}),
        )
        .unwrap();
    }
    (dir, path)
}

fn lines(path: &Path) -> Vec<String> {
    fs::read_to_string(path).unwrap().lines().map(str::to_owned).collect()
}

fn write_lines(path: &Path, lines: &[String]) {
    let mut text = lines.join("\n");
    if !lines.is_empty() {
        text.push('\n');
    }
    fs::write(path, text).unwrap();
}

fn verify_err(path: &Path) -> EvidenceError {
    let err = verify_log(path).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Verification, "{err}");
    // Open refuses a tampered log too.
    assert!(
        EvidenceLog::open(path).is_err(),
        "open accepted a log that fails verification: {err}"
    );
    err
}

#[test]
fn append_reopen_and_verify() {
    let dir = tempfile::tempdir().unwrap();
    let path = log_path(&dir);
    let mut log = EvidenceLog::open(&path).unwrap();
    assert_eq!((log.entries(), log.head()), (0, None));
    assert_eq!(verify_log(&path).unwrap(), LogReport { entries: 0, head: None });

    let first = log.append("decision", &json!({"verdict": "approve"})).unwrap();
    assert_eq!(first.seq, 0);
    assert_eq!(first.prev, None);
    assert_eq!(first.payload_digest, digest_of(&json!({"verdict": "approve"})).unwrap());
    let second = log.append("approval", &json!({"by": "alice"})).unwrap();
    assert_eq!(second.seq, 1);
    assert_eq!(second.prev, Some(first.entry_digest));
    drop(log);

    let report = verify_log(&path).unwrap();
    assert_eq!(
        report,
        LogReport {
            entries: 2,
            head: Some(second.entry_digest)
        }
    );

    let mut log = EvidenceLog::open(&path).unwrap();
    assert_eq!((log.entries(), log.head()), (2, Some(second.entry_digest)));
    let third = log.append("decision", &json!({"verdict": "deny"})).unwrap();
    assert_eq!(third.prev, Some(second.entry_digest));
    drop(log);
    assert_eq!(verify_log(&path).unwrap().entries, 3);

    // One canonical JSON line per entry, and a canonical head file.
    let text = fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count(), 3);
    let entry: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(entry["prev"], Value::Null);
    assert_eq!(entry["kind"], "decision");
    let head = fs::read_to_string(head_path(&path)).unwrap();
    assert_eq!(
        head,
        format!(
            "{{\"entries\":3,\"format_version\":1,\"head\":\"{}\"}}\n",
            third.entry_digest
        )
    );
}

#[test]
fn a_second_writer_is_refused() {
    let (_dir, path) = write_log(1);
    let _log = EvidenceLog::open(&path).unwrap();
    let err = EvidenceLog::open(&path).unwrap_err();
    assert!(matches!(err, EvidenceError::Locked { .. }), "{err}");
    // Readers are not blocked.
    verify_log(&path).unwrap();
}

#[test]
fn modified_payload_byte_is_detected() {
    let (_dir, path) = write_log(4);
    let mut lines = lines(&path);
    lines[2] = lines[2].replace("\"amount\":20", "\"amount\":29");
    write_lines(&path, &lines);
    let err = verify_err(&path);
    let message = err.to_string();
    assert!(
        message.contains("entry 3 (line 3, seq 2): payload_digest is"),
        "{message}"
    );
    assert!(message.contains("evidence.log"), "{message}");
}

#[test]
fn modified_digest_is_detected() {
    let (_dir, path) = write_log(4);
    let mut lines = lines(&path);
    let entry: Value = serde_json::from_str(&lines[1]).unwrap();
    let digest = entry["entry_digest"].as_str().unwrap();
    let mut forged = digest.to_owned();
    let last = if forged.ends_with('0') { "1" } else { "0" };
    forged.replace_range(forged.len() - 1.., last);
    lines[1] = lines[1].replace(digest, &forged);
    write_lines(&path, &lines);
    let err = verify_err(&path);
    assert!(
        matches!(
            err,
            EvidenceError::BadEntry {
                line: 2,
                seq: Some(1),
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("entry_digest is"), "{err}");
}

#[test]
fn deleted_middle_line_is_detected() {
    let (_dir, path) = write_log(5);
    let mut lines = lines(&path);
    lines.remove(2);
    write_lines(&path, &lines);
    let err = verify_err(&path);
    assert!(
        matches!(
            err,
            EvidenceError::BadEntry {
                line: 3,
                seq: Some(3),
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn swapped_lines_are_detected() {
    let (_dir, path) = write_log(5);
    let mut lines = lines(&path);
    lines.swap(1, 3);
    write_lines(&path, &lines);
    let err = verify_err(&path);
    assert!(
        matches!(
            err,
            EvidenceError::BadEntry {
                line: 2,
                seq: Some(3),
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn consistent_rewrite_of_seq_is_still_a_broken_chain() {
    // Delete a line and renumber what follows: prev no longer matches.
    let (_dir, path) = write_log(4);
    let mut lines = lines(&path);
    lines.remove(1);
    for (i, line) in lines.iter_mut().enumerate() {
        let mut entry: Value = serde_json::from_str(line).unwrap();
        entry["seq"] = json!(i);
        *line = String::from_utf8(contextos_core::canonical_json(&entry).unwrap()).unwrap();
    }
    write_lines(&path, &lines);
    let err = verify_err(&path);
    let message = err.to_string();
    assert!(
        message.contains("entry 2 (line 2, seq 1): prev is sha256:"),
        "{message}"
    );
    assert!(message.contains("but entry 1 hashes to sha256:"), "{message}");
}

#[test]
fn dropped_last_lines_are_detected() {
    for drop in [1, 2, 3] {
        let (_dir, path) = write_log(3);
        let mut lines = lines(&path);
        lines.truncate(3 - drop);
        write_lines(&path, &lines);
        let err = verify_err(&path);
        assert!(
            matches!(err, EvidenceError::Truncated { recorded: 3, found, .. } if found == 3 - drop as u64),
            "{err}"
        );
    }
}

#[test]
fn edited_head_is_detected() {
    let (_dir, path) = write_log(3);
    let head = head_path(&path);
    let original = fs::read_to_string(&head).unwrap();

    fs::write(&head, original.replace("\"entries\":3", "\"entries\":2")).unwrap();
    let err = verify_err(&path);
    assert!(matches!(err, EvidenceError::HeadMismatch { entries: 2, .. }), "{err}");

    fs::write(&head, original.replace("\"entries\":3", "\"entries\":4")).unwrap();
    assert!(matches!(verify_err(&path), EvidenceError::Truncated { .. }));

    let digest_start = original.find("sha256:").unwrap() + 7;
    let mut forged = original.clone();
    let c = if &forged[digest_start..=digest_start] == "a" {
        "b"
    } else {
        "a"
    };
    forged.replace_range(digest_start..=digest_start, c);
    fs::write(&head, forged).unwrap();
    assert!(matches!(verify_err(&path), EvidenceError::HeadMismatch { .. }));

    fs::write(&head, original.replace('\n', " \n")).unwrap();
    assert!(matches!(verify_err(&path), EvidenceError::HeadFile { .. }));

    fs::remove_file(&head).unwrap();
    assert!(matches!(verify_err(&path), EvidenceError::MissingHead { .. }));

    fs::write(&head, &original).unwrap();
    verify_log(&path).unwrap();
    fs::remove_file(&path).unwrap();
    assert!(matches!(verify_err(&path), EvidenceError::MissingLog { .. }));
}

/// Simulates a crash after the line of the last entry was written but before
/// the head file acknowledged it: the head file of `n - 1` entries, the log of `n`.
fn unacknowledged_log(n: u64) -> (tempfile::TempDir, PathBuf) {
    let (dir, path) = write_log(n - 1);
    let head = fs::read(head_path(&path)).unwrap();
    let mut log = EvidenceLog::open(&path).unwrap();
    log.append("tool_call", &json!({"late": true})).unwrap();
    drop(log);
    fs::write(head_path(&path), head).unwrap();
    (dir, path)
}

#[test]
fn torn_final_line_is_recovered_on_open() {
    let (_dir, path) = unacknowledged_log(3);
    let full = fs::read(&path).unwrap();
    // Cut the unacknowledged line short, including its newline.
    fs::write(&path, &full[..full.len() - 20]).unwrap();
    let err = verify_log(&path).unwrap_err();
    assert!(matches!(err, EvidenceError::TornLine { line: 3, .. }), "{err}");

    let mut log = EvidenceLog::open(&path).unwrap();
    assert_eq!(log.entries(), 2);
    drop(log);
    assert_eq!(verify_log(&path).unwrap().entries, 2);
    assert_eq!(lines(&path).len(), 2);

    // The log keeps working after recovery.
    log = EvidenceLog::open(&path).unwrap();
    let entry = log.append("decision", &json!({"after": "crash"})).unwrap();
    assert_eq!(entry.seq, 2);
    drop(log);
    assert_eq!(verify_log(&path).unwrap().head, Some(entry.entry_digest));
}

#[test]
fn torn_garbage_after_the_last_entry_is_recovered() {
    let (_dir, path) = write_log(2);
    let mut bytes = fs::read(&path).unwrap();
    bytes.extend_from_slice(b"{\"format_version\":1,\"seq\":2,\"pr");
    fs::write(&path, bytes).unwrap();
    assert!(matches!(verify_log(&path).unwrap_err(), EvidenceError::TornLine { .. }));
    drop(EvidenceLog::open(&path).unwrap());
    assert_eq!(verify_log(&path).unwrap().entries, 2);
}

#[test]
fn torn_line_inside_the_acknowledged_range_is_refused() {
    let (_dir, path) = write_log(3);
    let full = fs::read(&path).unwrap();
    fs::write(&path, &full[..full.len() - 1]).unwrap();
    let err = verify_err(&path);
    assert!(
        matches!(
            err,
            EvidenceError::Truncated {
                recorded: 3,
                found: 2,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn complete_unacknowledged_entry_is_kept() {
    let (_dir, path) = unacknowledged_log(3);
    let err = verify_log(&path).unwrap_err();
    assert!(
        matches!(
            err,
            EvidenceError::Unacknowledged {
                recorded: 2,
                found: 3,
                ..
            }
        ),
        "{err}"
    );

    let log = EvidenceLog::open(&path).unwrap();
    assert_eq!(log.entries(), 3);
    let head = log.head();
    drop(log);
    assert_eq!(verify_log(&path).unwrap(), LogReport { entries: 3, head });
}

#[test]
fn over_long_line_is_refused_without_reading_it_whole() {
    let (_dir, path) = write_log(1);
    let mut bytes = fs::read(&path).unwrap();
    bytes.resize(bytes.len() + 16 * 1024 * 1024 + 10, b'x');
    bytes.push(b'\n');
    fs::write(&path, bytes).unwrap();
    let err = verify_err(&path);
    assert!(matches!(err, EvidenceError::BadEntry { line: 2, .. }), "{err}");
    assert!(err.to_string().contains("longer than"), "{err}");
}

#[derive(Clone, Debug)]
enum Tamper {
    None,
    FlipLogByte(prop::sample::Index, u8),
    FlipHeadByte(prop::sample::Index, u8),
    DeleteLine(prop::sample::Index),
    SwapLines(prop::sample::Index, prop::sample::Index),
    DropLast(usize),
}

fn tamper() -> impl Strategy<Value = Tamper> {
    prop_oneof![
        Just(Tamper::None),
        (any::<prop::sample::Index>(), 1u8..=255).prop_map(|(i, m)| Tamper::FlipLogByte(i, m)),
        (any::<prop::sample::Index>(), 1u8..=255).prop_map(|(i, m)| Tamper::FlipHeadByte(i, m)),
        any::<prop::sample::Index>().prop_map(Tamper::DeleteLine),
        (any::<prop::sample::Index>(), any::<prop::sample::Index>()).prop_map(|(a, b)| Tamper::SwapLines(a, b)),
        (1usize..4).prop_map(Tamper::DropLast),
    ]
}

fn payload() -> impl Strategy<Value = (String, Value)> {
    (
        prop::sample::select(vec!["decision", "tool_call", "approval"]),
        prop::collection::btree_map("[a-z]{1,5}", any::<i32>(), 0..4),
        "[ -~é]{0,12}",
    )
        .prop_map(|(kind, numbers, note)| (kind.to_owned(), json!({"numbers": numbers, "note": note})))
}

/// Applies `tamper`; returns whether any file changed.
fn apply(path: &Path, tamper: &Tamper) -> bool {
    let head = head_path(path);
    let before = (fs::read(path).unwrap(), fs::read(&head).unwrap());
    let mut lines = lines(path);
    match tamper {
        Tamper::None => {}
        Tamper::FlipLogByte(i, mask) => {
            let mut bytes = before.0.clone();
            if !bytes.is_empty() {
                let at = i.index(bytes.len());
                bytes[at] ^= *mask;
            }
            fs::write(path, bytes).unwrap();
        }
        Tamper::FlipHeadByte(i, mask) => {
            let mut bytes = before.1.clone();
            let at = i.index(bytes.len());
            bytes[at] ^= *mask;
            fs::write(&head, bytes).unwrap();
        }
        Tamper::DeleteLine(i) => {
            if !lines.is_empty() {
                lines.remove(i.index(lines.len()));
            }
            write_lines(path, &lines);
        }
        Tamper::SwapLines(a, b) => {
            if !lines.is_empty() {
                let (a, b) = (a.index(lines.len()), b.index(lines.len()));
                lines.swap(a, b);
            }
            write_lines(path, &lines);
        }
        Tamper::DropLast(n) => {
            lines.truncate(lines.len().saturating_sub(*n));
            write_lines(path, &lines);
        }
    }
    (fs::read(path).unwrap(), fs::read(&head).unwrap()) != before
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn verification_fails_iff_tampered(
        appends in prop::collection::vec(payload(), 0..7),
        reopen_at in any::<prop::sample::Index>(),
        tamper in tamper(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = log_path(&dir);
        let reopen_at = reopen_at.index(appends.len() + 1);
        let mut log = EvidenceLog::open(&path).unwrap();
        let mut head = None;
        for (i, (kind, payload)) in appends.iter().enumerate() {
            if i == reopen_at {
                drop(log);
                log = EvidenceLog::open(&path).unwrap();
            }
            head = Some(log.append(kind, payload).unwrap().entry_digest);
        }
        drop(log);
        let expected = LogReport { entries: appends.len() as u64, head };
        prop_assert_eq!(verify_log(&path).unwrap(), expected.clone());

        let tampered = apply(&path, &tamper);
        match verify_log(&path) {
            Ok(report) => {
                prop_assert!(!tampered, "tampering {:?} went undetected", tamper);
                prop_assert_eq!(report, expected);
            }
            Err(err) => {
                prop_assert!(tampered, "untampered log failed: {}", err);
                prop_assert_eq!(err.kind(), ErrorKind::Verification);
            }
        }
    }
}
