//! `contextos pack …` through the real binary, with the committed bundled
//! pack, the development key and the shipped keyring.

#![expect(clippy::unwrap_used, reason = "a test or benchmark fails loudly on broken fixtures")]

use std::fs;

mod common;
use common::{command_in, repo, run};

/// A scratch directory with a copy of the bundled pack source and the keys.
fn scratch() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("packs/support_escalation");
    fs::create_dir_all(&src).unwrap();
    fs::copy(
        repo().join("runtime/packs/support_escalation/pack.yaml"),
        src.join("pack.yaml"),
    )
    .unwrap();
    fs::create_dir_all(dir.path().join("keys")).unwrap();
    for key in ["dev.key", "dev.pub"] {
        fs::copy(repo().join("runtime/keys").join(key), dir.path().join("keys").join(key)).unwrap();
    }
    dir
}

const COMMITTED: &str = "runtime/packs/support_escalation-18.pack.json";

#[test]
fn build_sign_verify_round_trip_reproduces_the_committed_artifact() {
    let dir = scratch();
    let r = run(command_in(dir.path()).args(["pack", "build", "packs/support_escalation"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    insta::assert_snapshot!("build", r.stdout);
    let built = dir.path().join("packs/support_escalation-18.built.json");
    assert!(built.is_file());

    let r = run(command_in(dir.path()).args([
        "pack",
        "sign",
        "packs/support_escalation-18.built.json",
        "--key",
        "keys/dev.key",
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    insta::assert_snapshot!("sign", r.stdout);
    let signed = fs::read(dir.path().join("packs/support_escalation-18.pack.json")).unwrap();
    assert_eq!(signed, fs::read(repo().join(COMMITTED)).unwrap());

    let r = run(command_in(dir.path()).args([
        "pack",
        "verify",
        "packs/support_escalation-18.pack.json",
        "--keys",
        "keys",
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    insta::assert_snapshot!("verify", r.stdout);
}

#[test]
fn build_out_flag_and_rebuild_gives_the_same_bytes() {
    let dir = scratch();
    for out in ["a.json", "b.json"] {
        let r = run(command_in(dir.path()).args(["pack", "build", "packs/support_escalation/pack.yaml", "--out", out]));
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    assert_eq!(
        fs::read(dir.path().join("a.json")).unwrap(),
        fs::read(dir.path().join("b.json")).unwrap()
    );
}

#[test]
fn verify_refuses_a_tampered_pack_with_exit_3() {
    let dir = scratch();
    let text = fs::read_to_string(repo().join(COMMITTED)).unwrap();
    // Change one base64 character in the middle of the signed payload.
    let mid = text.find("\"payload\":\"").unwrap() + 2000;
    let mut bytes = text.into_bytes();
    bytes[mid] = if bytes[mid] == b'A' { b'B' } else { b'A' };
    fs::write(dir.path().join("tampered.pack.json"), bytes).unwrap();
    let r = run(command_in(dir.path()).args(["pack", "verify", "tampered.pack.json", "--keys", "keys"]));
    assert_eq!(r.code, 3, "{}\n{}", r.stdout, r.stderr);
    insta::assert_snapshot!("verify_tampered", r.stderr);
}

#[test]
fn verify_refuses_an_unsigned_pack_with_exit_3() {
    let dir = scratch();
    let r = run(command_in(dir.path()).args(["pack", "build", "packs/support_escalation", "--out", "x.json"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run(command_in(dir.path()).args(["pack", "verify", "x.json", "--keys", "keys"]));
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr.contains("pack support_escalation:18 in x.json is not signed"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("allow_unsigned_dev_packs"), "{}", r.stderr);
}

#[test]
fn verify_with_an_empty_keyring_names_the_signer() {
    let dir = scratch();
    fs::create_dir(dir.path().join("nokeys")).unwrap();
    let r = run(command_in(&repo())
        .args(["pack", "verify", COMMITTED, "--keys"])
        .arg(dir.path().join("nokeys")));
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("not signed by a trusted key"), "{}", r.stderr);
    assert!(r.stderr.contains("trusted: none"), "{}", r.stderr);
}

#[test]
fn build_reports_source_errors_with_location() {
    let dir = scratch();
    let file = dir.path().join("packs/support_escalation/pack.yaml");
    let text = fs::read_to_string(&file)
        .unwrap()
        .replacen("priority: 90", "priorty: 90", 1);
    fs::write(&file, text).unwrap();
    let r = run(command_in(dir.path()).args(["pack", "build", "packs/support_escalation"]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("packs/support_escalation/pack.yaml:47:5"),
        "{}",
        r.stderr
    );
    insta::assert_snapshot!("build_unknown_field", r.stderr);
}

#[test]
fn inspect_shows_layers_tokens_and_staleness() {
    let r = run(command_in(&repo()).args(["pack", "inspect", COMMITTED, "--now", "1767225600000"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("STALE: expired at 1748822400000"), "{}", r.stdout);
    insta::assert_snapshot!("inspect", r.stdout);
}

#[test]
fn inspect_defaults_now_to_the_newest_fetch_and_speaks_json() {
    let r = run(command_in(&repo()).args([
        "pack",
        "inspect",
        "runtime/packs/support_escalation",
        "--format",
        "json",
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    // 2025-12-31, the ticket search: the newest fetched_at in the pack, not the wall clock.
    assert_eq!(v["now"], 1_767_139_200_000u64);
    assert_eq!(v["layers"].as_array().unwrap().len(), 10);
    let total: u64 = v["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["tokens"].as_u64().unwrap())
        .sum();
    assert_eq!(v["total_tokens"].as_u64().unwrap(), total);
}

#[test]
fn diff_lists_added_removed_and_changed() {
    let dir = scratch();
    let file = dir.path().join("packs/support_escalation/pack.yaml");
    let text = fs::read_to_string(&file)
        .unwrap()
        .replacen("version: 18", "version: 19", 1)
        .replacen("within the last 30 days", "within the last 45 days", 1)
        .replacen("    priority: 30\n", "    priority: 35\n", 1)
        .replacen(
            "          - id: session.handoff\n",
            "          - id: session.language\n            text: Answer in the language of the ticket.\n          - id: session.handoff\n",
            1,
        )
        .replacen("          - id: memory.customer-preference\n            text: >\n              Reviewed and promoted: acme customers prefer email follow-up after a refund over a phone\n              call.\n", "", 1);
    fs::write(&file, text).unwrap();
    let r = run(command_in(dir.path())
        .args(["pack", "diff"])
        .arg(repo().join(COMMITTED))
        .args(["packs/support_escalation", "--keys", "keys"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    insta::assert_snapshot!("diff", r.stdout);
    let r = run(command_in(&repo()).args(["pack", "diff", COMMITTED, "runtime/packs/support_escalation"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.ends_with("no differences\n"), "{}", r.stdout);
}

#[test]
fn help_has_examples() {
    for verb in ["build", "sign", "verify", "inspect", "diff"] {
        let r = run(command_in(&repo()).args(["pack", verb, "--help"]));
        assert_eq!(r.code, 0);
        assert!(r.stdout.contains("contextos pack "), "{verb}: {}", r.stdout);
    }
}
