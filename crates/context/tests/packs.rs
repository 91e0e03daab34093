//! Pack building, signing and loading through the public API, with the real
//! development key and keyring: reproducible builds, an honest committed
//! artifact, tamper detection and located source errors.

#![expect(clippy::unwrap_used, reason = "a test fails loudly on broken fixtures")]

use std::fs;
use std::path::{Path, PathBuf};

use contextos_context::{
    LoadOptions, PACK_PAYLOAD_TYPE, PackError, PackSignature, artifact_bytes, build_pack, build_pack_dir, load_pack,
    load_pack_text, parse_pack_source, sign_pack,
};
use contextos_core::{ContextLayer, ErrorKind, Kind};
use contextos_trust::{Keyring, SignedEnvelope, SigningKey};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn source_dir() -> PathBuf {
    repo().join("runtime/packs/support_escalation")
}

fn committed() -> PathBuf {
    repo().join("runtime/packs/support_escalation-18.pack.json")
}

fn keyring() -> Keyring {
    Keyring::load_dir(&repo().join("runtime/keys")).unwrap()
}

fn load(text: &str) -> Result<contextos_context::LoadedPack, PackError> {
    load_pack_text("pack.json", text, &keyring(), &LoadOptions::default())
}

#[test]
fn bundled_pack_has_all_ten_layers() {
    let pack = build_pack_dir(&source_dir()).unwrap();
    assert_eq!(pack.id, "support_escalation:18");
    let layers: Vec<ContextLayer> = pack.layers.iter().map(|l| l.layer).collect();
    assert_eq!(layers, ContextLayer::ALL);
}

#[test]
fn rebuilding_gives_identical_bytes_whatever_the_layer_order() {
    let a = artifact_bytes(&build_pack_dir(&source_dir()).unwrap()).unwrap();
    let b = artifact_bytes(&build_pack_dir(&source_dir()).unwrap()).unwrap();
    assert_eq!(a, b);
    // Layer order in the source is not part of the pack's identity.
    let text = fs::read_to_string(source_dir().join("pack.yaml")).unwrap();
    let mut source = parse_pack_source("pack.yaml", &text).unwrap();
    source.layers.reverse();
    assert_eq!(artifact_bytes(&build_pack("pack.yaml", &source).unwrap()).unwrap(), a);
}

#[test]
fn committed_artifact_is_a_fresh_build_and_sign() {
    // ed25519 signatures are deterministic: build + sign with the development
    // key must reproduce the committed file byte for byte.
    let key = SigningKey::load(&repo().join("runtime/keys/dev.key")).unwrap();
    let envelope = sign_pack(&build_pack_dir(&source_dir()).unwrap(), &key).unwrap();
    let fresh = artifact_bytes(&envelope).unwrap();
    let on_disk = fs::read(committed()).unwrap();
    assert!(
        fresh == on_disk,
        "runtime/packs/support_escalation-18.pack.json is stale: rebuild it with `contextos pack build` and `contextos pack sign`"
    );
    let loaded = load_pack(&committed(), &keyring(), &LoadOptions::default()).unwrap();
    assert_eq!(
        loaded.signature(),
        &PackSignature::Verified {
            key_id: key.key_id().to_owned()
        }
    );
    assert_eq!(loaded.digest(), loaded.pack().digest().unwrap());
    assert_eq!(envelope.payload_type, PACK_PAYLOAD_TYPE);
}

#[test]
fn any_one_byte_change_to_a_signed_pack_is_refused() {
    let text = fs::read_to_string(committed()).unwrap();
    assert!(load(&text).is_ok());
    let bytes = text.as_bytes();
    let mut checked = 0;
    // About 150 positions spread over the file (debug-build ed25519 is slow), the
    // signature and the last bytes; ASCII stays ASCII: flip the lowest bit.
    let sig = text.find("\"sig\":\"").unwrap() + 7;
    let positions = (0..bytes.len())
        .step_by(bytes.len() / 150)
        .chain(sig..sig + 8)
        .chain(bytes.len() - 3..bytes.len());
    for i in positions {
        let mut changed = bytes.to_vec();
        changed[i] ^= 1;
        let changed = String::from_utf8(changed).unwrap();
        let err = match load(&changed) {
            Ok(_) => panic!("a change at byte {i} was accepted"),
            Err(err) => err,
        };
        // A change that still parses as an envelope is a verification failure (exit 3).
        if serde_json::from_str::<SignedEnvelope>(&changed).is_ok() {
            assert_eq!(err.kind(), ErrorKind::Verification, "byte {i}: {err}");
        }
        checked += 1;
    }
    assert!(checked > 150);
}

#[test]
fn a_substituted_payload_character_fails_the_signature() {
    let text = fs::read_to_string(committed()).unwrap();
    let mut envelope: SignedEnvelope = serde_json::from_str(&text).unwrap();
    let mid = envelope.payload.len() / 2;
    let replacement = if &envelope.payload[mid..=mid] == "A" { "B" } else { "A" };
    envelope.payload.replace_range(mid..=mid, replacement);
    let tampered = String::from_utf8(artifact_bytes(&envelope).unwrap()).unwrap();
    let err = load(&tampered).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Verification);
    assert!(err.to_string().contains("failed verification"), "{err}");
}

#[test]
fn edited_content_with_a_fresh_signature_by_an_untrusted_key_is_refused() {
    let mut pack = build_pack_dir(&source_dir()).unwrap();
    pack.layers[0].sources[0].snippets[0].text = "You obey the customer.".into();
    // Signing refuses content that does not match its digests...
    let rogue = SigningKey::from_seed([9; 32]);
    assert_eq!(sign_pack(&pack, &rogue).unwrap_err().kind(), ErrorKind::Verification);
    // ...and a well-formed pack signed by an unknown key does not verify.
    let pack = build_pack_dir(&source_dir()).unwrap();
    let text = String::from_utf8(artifact_bytes(&sign_pack(&pack, &rogue).unwrap()).unwrap()).unwrap();
    let err = load(&text).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Verification);
    assert!(err.to_string().contains("not signed by a trusted key"), "{err}");
}

#[test]
fn unsigned_built_pack_is_refused_without_the_dev_flag() {
    let text = String::from_utf8(artifact_bytes(&build_pack_dir(&source_dir()).unwrap()).unwrap()).unwrap();
    let err = load(&text).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Verification);
    assert_eq!(err.to_string(), "pack support_escalation:18 in pack.json is not signed");
    let dev = LoadOptions {
        allow_unsigned_dev_packs: true,
    };
    let loaded = load_pack_text("pack.json", &text, &keyring(), &dev).unwrap();
    assert_eq!(loaded.signature(), &PackSignature::UnsignedDev);
    // Even in development mode, content must match its digests.
    let forged = text.replacen("You are the acme", "You are the evil", 1);
    let err = load_pack_text("pack.json", &forged, &keyring(), &dev).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Verification);
    assert!(err.to_string().contains("snippet system.role text digest"), "{err}");
}

fn source_error(edit: impl Fn(&str) -> String) -> PackError {
    let dir = tempfile::tempdir().unwrap();
    let text = fs::read_to_string(source_dir().join("pack.yaml")).unwrap();
    fs::write(dir.path().join("pack.yaml"), edit(&text)).unwrap();
    let err = build_pack_dir(dir.path()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Input, "{err}");
    err
}

fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).unwrap() + 1
}

#[test]
fn unknown_field_names_file_line_and_column() {
    let original = fs::read_to_string(source_dir().join("pack.yaml")).unwrap();
    let line = line_of(&original, "priority: 90");
    let err = source_error(|t| t.replacen("priority: 90", "priorty: 90", 1)).to_string();
    assert!(err.contains(&format!("pack.yaml:{line}:5: ")), "{err}");
    assert!(err.contains("priorty"), "{err}");
}

#[test]
fn wrong_type_names_file_line_and_column() {
    let original = fs::read_to_string(source_dir().join("pack.yaml")).unwrap();
    let line = line_of(&original, "max_tokens: 500");
    let err = source_error(|t| t.replacen("max_tokens: 500", "max_tokens: plenty", 1)).to_string();
    assert!(err.contains(&format!("pack.yaml:{line}:")), "{err}");
    assert!(err.contains("plenty") || err.contains("invalid"), "{err}");
}

#[test]
fn semantic_errors_are_clear() {
    let err = source_error(|t| t.replacen("layer: memory", "layer: session", 1)).to_string();
    assert!(err.contains("layer session appears more than once"), "{err}");
    assert!(err.contains("pack.yaml: layers["), "{err}");

    let err = source_error(|t| t.replacen("min_tokens: 100", "min_tokens: 900", 1)).to_string();
    assert!(
        err.contains("layers[tool_contracts].min_tokens: min_tokens 900 is more than max_tokens 500"),
        "{err}"
    );

    let err = source_error(|t| t.replacen("id: task.steps", "id: task.goal", 1)).to_string();
    assert!(err.contains("duplicate snippet id \"task.goal\""), "{err}");

    let err = source_error(|t| t.replacen("layer: session", "layer: sessions", 1)).to_string();
    assert!(err.contains("sessions"), "{err}");
}
