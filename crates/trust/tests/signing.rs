//! Signed envelopes, key files and the keyring, with real ed25519 signatures.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] functions fail the test by panicking"
)]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use contextos_core::{Digest, ErrorKind, Kind, canonical_json};
use contextos_trust::{
    EnvelopeSignature, Keyring, PublicKey, SignedEnvelope, SigningError, SigningKey, VerifyError, generate_key_files,
    sign,
};
use proptest::prelude::*;
use serde::{Deserialize, Serialize};

const RECORD: &str = "application/vnd.contextos.decision-record+json";

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Record {
    run_id: String,
    decision: String,
    steps: u32,
}

fn record() -> Record {
    Record {
        run_id: "run_0001".to_owned(),
        decision: "approve".to_owned(),
        steps: 3,
    }
}

fn key(n: u8) -> SigningKey {
    SigningKey::from_seed([n; 32])
}

fn signed() -> (SigningKey, Keyring, SignedEnvelope) {
    let key = key(7);
    let keyring = Keyring::from_keys([key.public()]);
    let envelope = sign(RECORD, &record(), &key).unwrap();
    (key, keyring, envelope)
}

#[test]
fn round_trip_verifies_and_decodes() {
    let (key, keyring, envelope) = signed();
    let body = keyring.verify(&envelope, RECORD).unwrap();
    assert_eq!(body, canonical_json(&record()).unwrap());
    assert_eq!(keyring.verify_as::<Record>(&envelope, RECORD).unwrap(), record());
    assert_eq!(envelope.payload_bytes().unwrap(), body);
    assert_eq!(envelope.payload_digest().unwrap(), Digest::of_bytes(&body));
    assert_eq!(envelope.signatures.len(), 1);
    assert_eq!(envelope.signatures[0].keyid, key.key_id());
}

#[test]
fn envelope_has_the_dsse_json_shape() {
    let (_, keyring, envelope) = signed();
    let json = serde_json::to_value(&envelope).unwrap();
    let object = json.as_object().unwrap();
    let mut fields: Vec<&str> = object.keys().map(String::as_str).collect();
    fields.sort_unstable();
    assert_eq!(fields, ["payload", "payloadType", "signatures"]);
    let signature = json["signatures"][0].as_object().unwrap();
    let mut fields: Vec<&str> = signature.keys().map(String::as_str).collect();
    fields.sort_unstable();
    assert_eq!(fields, ["keyid", "sig"]);
    let back: SignedEnvelope = serde_json::from_value(json).unwrap();
    keyring.verify(&back, RECORD).unwrap();
}

#[test]
fn signature_covers_the_dsse_pae() {
    let (key, _, envelope) = signed();
    let body = envelope.payload_bytes().unwrap();
    let mut pae = format!("DSSEv1 {} {RECORD} {} ", RECORD.len(), body.len()).into_bytes();
    pae.extend_from_slice(&body);
    let public = ed25519_dalek::VerifyingKey::from_bytes(&key.public().to_bytes()).unwrap();
    let sig = BASE64.decode(&envelope.signatures[0].sig).unwrap();
    let sig = ed25519_dalek::Signature::from_slice(&sig).unwrap();
    public.verify_strict(&pae, &sig).unwrap();
}

#[test]
fn key_id_is_prefix_of_public_key_digest() {
    let key = key(1);
    let digest = Digest::of_bytes(&key.public().to_bytes());
    assert_eq!(key.key_id(), format!("ed25519:{}", &digest.hex()[..16]));
    assert_eq!(key.public().key_id(), key.key_id());
}

#[test]
fn wrong_payload_type_is_refused() {
    let (_, keyring, envelope) = signed();
    let err = keyring
        .verify(&envelope, "application/vnd.contextos.pack+json")
        .unwrap_err();
    assert!(matches!(err, VerifyError::PayloadTypeMismatch { .. }), "{err}");
    assert_eq!(err.kind(), ErrorKind::Verification);

    // Relabelling the envelope does not help: the type is signed too.
    let mut relabelled = envelope;
    relabelled.payload_type = "application/vnd.contextos.pack+json".to_owned();
    let err = keyring
        .verify(&relabelled, "application/vnd.contextos.pack+json")
        .unwrap_err();
    assert!(matches!(err, VerifyError::BadSignature { .. }), "{err}");
}

#[test]
fn tampered_payload_is_refused() {
    let (_, keyring, mut envelope) = signed();
    let mut other = record();
    other.decision = "deny".to_owned();
    envelope.payload = BASE64.encode(canonical_json(&other).unwrap());
    let err = keyring.verify(&envelope, RECORD).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "signature by {} does not verify over payload type \"{RECORD}\"",
            key(7).key_id()
        )
    );
    assert_eq!(err.kind(), ErrorKind::Verification);
}

#[test]
fn tampered_signature_is_refused() {
    let (_, keyring, mut envelope) = signed();
    let mut sig = BASE64.decode(&envelope.signatures[0].sig).unwrap();
    sig[10] ^= 0x01;
    envelope.signatures[0].sig = BASE64.encode(&sig);
    let err = keyring.verify(&envelope, RECORD).unwrap_err();
    assert!(matches!(err, VerifyError::BadSignature { .. }), "{err}");

    envelope.signatures[0].sig = "not base64!".to_owned();
    let err = keyring.verify(&envelope, RECORD).unwrap_err();
    assert!(matches!(err, VerifyError::MalformedEnvelope { .. }), "{err}");

    envelope.signatures[0].sig = BASE64.encode([0u8; 63]);
    let err = keyring.verify(&envelope, RECORD).unwrap_err();
    assert!(matches!(err, VerifyError::MalformedEnvelope { .. }), "{err}");
}

#[test]
fn bad_payload_encoding_is_refused() {
    let (_, keyring, mut envelope) = signed();
    envelope.payload.push('!');
    let err = keyring.verify(&envelope, RECORD).unwrap_err();
    assert!(matches!(err, VerifyError::MalformedEnvelope { .. }), "{err}");
}

#[test]
fn unknown_key_is_refused_and_ignored_beside_a_trusted_one() {
    let (_, keyring, envelope) = signed();
    let stranger = key(9);
    let foreign = sign(RECORD, &record(), &stranger).unwrap();
    let err = keyring.verify(&foreign, RECORD).unwrap_err();
    assert!(matches!(err, VerifyError::UntrustedSigner { .. }), "{err}");
    assert!(err.to_string().contains(stranger.key_id()), "{err}");

    // Unknown signatures are ignored when a trusted one verifies, in any order.
    let mut both = foreign.clone();
    both.signatures.extend(envelope.signatures.iter().cloned());
    keyring.verify(&both, RECORD).unwrap();
    let mut both = envelope.clone();
    both.signatures.extend(foreign.signatures.iter().cloned());
    keyring.verify(&both, RECORD).unwrap();

    // An empty keyring trusts nothing.
    let err = Keyring::default().verify(&envelope, RECORD).unwrap_err();
    assert!(matches!(err, VerifyError::UntrustedSigner { .. }), "{err}");
}

#[test]
fn the_signer_reported_is_the_trusted_key_that_verified_not_the_first() {
    let stranger = key(9);
    let (key, keyring, envelope) = signed();
    let mut both = sign(RECORD, &record(), &stranger).unwrap();
    both.signatures.extend(envelope.signatures.iter().cloned());
    assert_eq!(both.signatures[0].keyid, stranger.key_id());
    let verified = keyring.verify_signer(&both, RECORD).unwrap();
    assert_eq!(verified.key_id, key.key_id());
    assert_eq!(verified.payload, keyring.verify(&envelope, RECORD).unwrap());

    // A forged signature naming the trusted key, first, is not the one reported either:
    // the one that verified is, and it is the trusted key's own.
    let forged = EnvelopeSignature {
        keyid: key.key_id().to_owned(),
        sig: BASE64.encode([1u8; 64]),
    };
    both.signatures.insert(0, forged);
    assert_eq!(keyring.verify_signer(&both, RECORD).unwrap().key_id, key.key_id());
}

#[test]
fn a_forged_signature_beside_a_valid_one_still_verifies_and_alone_fails() {
    let (key, keyring, envelope) = signed();
    let forged = EnvelopeSignature {
        keyid: key.key_id().to_owned(),
        sig: BASE64.encode([1u8; 64]),
    };
    let mut both = envelope.clone();
    both.signatures.insert(0, forged.clone());
    keyring.verify(&both, RECORD).unwrap();
    let mut alone = envelope;
    alone.signatures = vec![forged];
    assert!(keyring.verify(&alone, RECORD).is_err());
}

#[test]
fn no_signatures_is_refused() {
    let (_, keyring, mut envelope) = signed();
    envelope.signatures.clear();
    let err = keyring.verify(&envelope, RECORD).unwrap_err();
    assert!(matches!(err, VerifyError::MalformedEnvelope { .. }), "{err}");
}

#[test]
fn non_canonical_payload_is_refused_even_when_signed() {
    let keyring = Keyring::from_keys([key(7).public()]);
    let pretty = sign_raw(7, RECORD, b"{ \"steps\": 3 }");
    let err = keyring.verify(&pretty, RECORD).unwrap_err();
    assert!(matches!(err, VerifyError::NotCanonical { .. }), "{err}");
    let duplicate_keys = sign_raw(7, RECORD, b"{\"steps\":3,\"steps\":4}");
    let err = keyring.verify(&duplicate_keys, RECORD).unwrap_err();
    assert!(matches!(err, VerifyError::NotCanonical { .. }), "{err}");
    let not_json = sign_raw(7, RECORD, b"steps=3");
    let err = keyring.verify(&not_json, RECORD).unwrap_err();
    assert!(matches!(err, VerifyError::NotCanonical { .. }), "{err}");
    let canonical = sign_raw(7, RECORD, b"{\"steps\":3}");
    keyring.verify(&canonical, RECORD).unwrap();
}

/// Signs arbitrary payload bytes over the DSSE PAE with the key of seed
/// `[seed; 32]`, bypassing `sign` (which only ever produces canonical JSON).
fn sign_raw(seed: u8, payload_type: &str, body: &[u8]) -> SignedEnvelope {
    use ed25519_dalek::Signer as _;
    let raw = ed25519_dalek::SigningKey::from_bytes(&[seed; 32]);
    let mut pae = format!("DSSEv1 {} {payload_type} {} ", payload_type.len(), body.len()).into_bytes();
    pae.extend_from_slice(body);
    SignedEnvelope {
        payload_type: payload_type.to_owned(),
        payload: BASE64.encode(body),
        signatures: vec![EnvelopeSignature {
            keyid: key(seed).key_id().to_owned(),
            sig: BASE64.encode(raw.sign(&pae).to_bytes()),
        }],
    }
}

#[test]
fn verify_as_reports_a_document_of_the_wrong_shape() {
    let (_, keyring, envelope) = signed();
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[expect(dead_code, reason = "only the shape matters")]
    struct Other {
        name: String,
    }
    let err = keyring.verify_as::<Other>(&envelope, RECORD).unwrap_err();
    assert!(matches!(err, VerifyError::Document { .. }), "{err}");
    assert_eq!(err.kind(), ErrorKind::Input);
}

#[test]
fn key_files_round_trip_through_disk_and_keyring_dir() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("runtime").join("keys");
    let (public_path, secret_path) = generate_key_files(&keys, "release-1").unwrap();
    assert_eq!(public_path, keys.join("release-1.pub"));
    assert_eq!(secret_path, keys.join("release-1.key"));
    generate_key_files(&keys, "ci_2").unwrap();

    let secret = SigningKey::load(&secret_path).unwrap();
    let public = PublicKey::load(&public_path).unwrap();
    assert_eq!(secret.public(), public);
    assert_eq!(std::fs::read_to_string(&public_path).unwrap(), public.to_file_json());

    let public_json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&public_path).unwrap()).unwrap();
    assert_eq!(public_json["format_version"], 1);
    assert_eq!(public_json["algorithm"], "ed25519");
    assert_eq!(public_json["key_id"], public.key_id());
    let secret_json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&secret_path).unwrap()).unwrap();
    assert_eq!(
        BASE64
            .decode(secret_json["secret_key"].as_str().unwrap())
            .unwrap()
            .len(),
        32
    );

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&secret_path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // Secret key files in the directory are not public keys and are skipped.
    let keyring = Keyring::load_dir(&keys).unwrap();
    assert_eq!(keyring.len(), 2);
    assert!(!keyring.is_empty());
    assert!(keyring.key_ids().any(|id| id == public.key_id()));
    let envelope = sign(RECORD, &record(), &secret).unwrap();
    assert_eq!(keyring.verify_as::<Record>(&envelope, RECORD).unwrap(), record());
    // No stray temporary files.
    let mut names: Vec<String> = std::fs::read_dir(&keys)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["ci_2.key", "ci_2.pub", "release-1.key", "release-1.pub"]);
}

#[test]
fn generate_refuses_overwrite_and_bad_names() {
    let dir = tempfile::tempdir().unwrap();
    let (public_path, _) = generate_key_files(dir.path(), "k").unwrap();
    let before = std::fs::read(&public_path).unwrap();
    let err = generate_key_files(dir.path(), "k").unwrap_err();
    assert!(matches!(err, SigningError::KeyFileExists { .. }), "{err}");
    assert_eq!(std::fs::read(&public_path).unwrap(), before);
    for bad in ["", "a b", "../k", "k.pub", "ké"] {
        let err = generate_key_files(dir.path(), bad).unwrap_err();
        assert!(matches!(err, SigningError::InvalidKeyName { .. }), "{bad:?}: {err}");
        assert_eq!(err.kind(), ErrorKind::Input);
    }
}

#[test]
fn malformed_key_files_name_the_file_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let good = key(3).public();
    let cases = [
        ("syntax.pub", "{".to_owned(), "syntax.pub"),
        (
            "missing.pub",
            r#"{"format_version":1,"algorithm":"ed25519","key_id":"x"}"#.to_owned(),
            "public_key",
        ),
        (
            "version.pub",
            good.to_file_json()
                .replace("\"format_version\": 1", "\"format_version\": 2"),
            "format_version",
        ),
        (
            "algorithm.pub",
            good.to_file_json().replace("\"ed25519\"", "\"rsa\""),
            "algorithm",
        ),
        (
            "keyid.pub",
            good.to_file_json().replace(good.key_id(), "ed25519:0000000000000000"),
            "key_id",
        ),
        (
            "short.pub",
            format!(
                r#"{{"format_version":1,"algorithm":"ed25519","key_id":"{}","public_key":"{}"}}"#,
                good.key_id(),
                BASE64.encode([1u8; 31])
            ),
            "public_key",
        ),
        (
            "secret.pub",
            good.to_file_json()
                .replace("\"public_key\"", "\"secret_key\": \"AAAA\", \"public_key\""),
            "field \"secret_key\": not allowed",
        ),
    ];
    for (name, contents, needle) in cases {
        let sub = dir.path().join(name.trim_end_matches(".pub"));
        std::fs::create_dir(&sub).unwrap();
        let path = sub.join(name);
        std::fs::write(&path, contents).unwrap();
        let err = PublicKey::load(&path).unwrap_err();
        let message = err.to_string();
        assert!(message.contains(name) && message.contains(needle), "{name}: {message}");
        assert_eq!(err.kind(), ErrorKind::Input);
        let err = Keyring::load_dir(&sub).unwrap_err();
        assert!(err.to_string().contains(name), "{err}");
    }
}

#[test]
fn duplicate_key_ids_in_a_keyring_dir_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let json = key(4).public().to_file_json();
    std::fs::write(dir.path().join("a.pub"), &json).unwrap();
    std::fs::write(dir.path().join("b.pub"), &json).unwrap();
    let err = Keyring::load_dir(dir.path()).unwrap_err();
    assert!(matches!(err, SigningError::DuplicateKeyId { .. }), "{err}");
    let message = err.to_string();
    assert!(message.contains("a.pub") && message.contains("b.pub"), "{message}");
}

#[test]
fn secret_is_not_in_debug_output() {
    let key = key(5);
    let debug = format!("{key:?} {key:#?}");
    assert!(debug.contains(key.key_id()), "{debug}");
    let secret_b64 = BASE64.encode([5u8; 32]);
    let secret_hex: String = [5u8; 32].iter().map(|b| format!("{b:02x}")).collect();
    assert!(!debug.contains(&secret_b64), "{debug}");
    assert!(!debug.contains(&secret_hex), "{debug}");
    assert!(!debug.contains("5, 5, 5"), "{debug}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn flipping_any_payload_byte_fails(position in any::<prop::sample::Index>(), mask in 1u8..=255) {
        let (_, keyring, mut envelope) = signed();
        let mut body = envelope.payload_bytes().unwrap();
        let i = position.index(body.len());
        body[i] ^= mask;
        envelope.payload = BASE64.encode(&body);
        prop_assert!(keyring.verify(&envelope, RECORD).is_err());
    }

    #[test]
    fn flipping_any_signature_byte_fails(position in 0usize..64, mask in 1u8..=255) {
        let (_, keyring, mut envelope) = signed();
        let mut sig = BASE64.decode(&envelope.signatures[0].sig).unwrap();
        sig[position] ^= mask;
        envelope.signatures[0].sig = BASE64.encode(&sig);
        prop_assert!(keyring.verify(&envelope, RECORD).is_err());
    }
}
