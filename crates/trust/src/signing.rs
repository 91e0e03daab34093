//! ed25519 signatures over canonical JSON in DSSE envelopes, the key files
//! they are made and checked with, and the keyring that verifies them.
//!
//! A signed document is a [`SignedEnvelope`] in the DSSE JSON shape
//! (`payloadType`, `payload`, `signatures[{keyid, sig}]`). The payload is the
//! RFC 8785 canonical JSON of the document and the signature covers the DSSE
//! pre-authentication encoding of payload type and payload, so a signature
//! for one payload type never verifies as another. [`Keyring::verify`] fails
//! closed: anything short of a valid signature by a trusted key over a
//! canonical payload of the expected type is an error.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use contextos_core::{CanonicalError, Digest, ErrorKind, FORMAT_VERSION, IoError, Kind, canonical_json};
use contextos_fs::{AtomicWrite, write_file_atomically};
use ed25519_dalek::Signer as _;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// The only signature algorithm ContextOS key files name.
const ALGORITHM: &str = "ed25519";

/// Key files are a few hundred bytes; anything much larger is not a key file.
const MAX_KEY_FILE_BYTES: u64 = 64 * 1024;

/// An error making, reading or writing signing keys, or signing a document.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum SigningError {
    /// A key name with characters outside `[A-Za-z0-9_-]`.
    #[error("invalid key name {name:?}: expected one or more of A-Z, a-z, 0-9, '_' and '-'")]
    InvalidKeyName {
        /// The rejected name.
        name: String,
    },
    /// Key generation would overwrite a file that already exists.
    #[error("refusing to overwrite existing key file {}", path.display())]
    KeyFileExists {
        /// The existing file.
        path: PathBuf,
    },
    /// A key file or keyring directory could not be read or written.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Io(#[from] IoError),
    /// A key file that is not the JSON object ContextOS writes.
    #[error("malformed key file {}: {problem}", path.display())]
    #[diagnostic(help("key files are written by `contextos keys generate`"))]
    MalformedKeyFile {
        /// The key file.
        path: PathBuf,
        /// What is wrong, naming the field.
        problem: String,
    },
    /// Two public key files in a keyring directory hold the same key.
    #[error("duplicate key id {key_id} in keyring: {} and {}", first.display(), second.display())]
    DuplicateKeyId {
        /// The repeated key id.
        key_id: String,
        /// The file loaded first.
        first: PathBuf,
        /// The file that repeated it.
        second: PathBuf,
    },
    /// The document to sign has no canonical JSON form.
    #[error("cannot sign payload of type {payload_type:?}")]
    Canonical {
        /// The payload type being signed.
        payload_type: String,
        /// Why canonicalization failed.
        source: CanonicalError,
    },
}

impl Kind for SigningError {
    /// The error kind the CLI maps to an exit code.
    fn kind(&self) -> ErrorKind {
        ErrorKind::Input
    }
}

/// A signed envelope that did not verify, or whose payload could not be read.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum VerifyError {
    /// The envelope carries a different payload type than the caller expects.
    #[error("envelope payload type {found:?} is not the expected {expected:?}")]
    PayloadTypeMismatch {
        /// The payload type the caller asked for.
        expected: String,
        /// The payload type in the envelope.
        found: String,
    },
    /// No signature names a key in the keyring.
    #[error(
        "envelope of payload type {payload_type:?} is not signed by a trusted key: signed by {key_ids} (trusted: {trusted})"
    )]
    #[diagnostic(help("add the signer's public key file to the keyring directory if it is trusted"))]
    UntrustedSigner {
        /// The envelope's payload type.
        payload_type: String,
        /// The key ids the envelope names, comma separated.
        key_ids: String,
        /// The key ids of the keyring, comma separated (`none` when empty).
        trusted: String,
    },
    /// The envelope is not well formed: no signatures, or a payload or a
    /// trusted key's signature that is not standard base64 of the right size.
    #[error("malformed envelope of payload type {payload_type:?}: {problem}")]
    MalformedEnvelope {
        /// The envelope's payload type.
        payload_type: String,
        /// What is wrong.
        problem: String,
    },
    /// A signature by a trusted key does not verify.
    #[error("signature by {key_id} does not verify over payload type {payload_type:?}")]
    BadSignature {
        /// The signing key id.
        key_id: String,
        /// The envelope's payload type.
        payload_type: String,
    },
    /// The signed payload is not RFC 8785 canonical JSON.
    #[error("payload of type {payload_type:?} is not canonical JSON: {reason}")]
    NotCanonical {
        /// The envelope's payload type.
        payload_type: String,
        /// What differs.
        reason: String,
    },
    /// The verified payload is not the document shape the caller asked for.
    #[error("verified payload of type {payload_type:?} is not a valid document")]
    Document {
        /// The envelope's payload type.
        payload_type: String,
        /// The deserialization error.
        source: serde_json::Error,
    },
}

impl Kind for VerifyError {
    /// The error kind the CLI maps to an exit code: a verified but malformed
    /// document is bad input, everything else failed verification.
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Document { .. } => ErrorKind::Input,
            _ => ErrorKind::Verification,
        }
    }
}

/// The key id of an ed25519 public key: `ed25519:` and the first 16 hex
/// digits of the sha256 of its 32 bytes.
fn key_id_of(public: &ed25519_dalek::VerifyingKey) -> String {
    let hex = Digest::of_bytes(public.as_bytes()).hex();
    format!("{ALGORITHM}:{}", &hex[..16])
}

/// An ed25519 signing key with its key id. `Debug` never shows the secret.
#[derive(Clone)]
pub struct SigningKey {
    inner: ed25519_dalek::SigningKey,
    key_id: String,
}

impl SigningKey {
    /// The key for a 32-byte ed25519 seed.
    pub fn from_seed(seed: [u8; 32]) -> Self {
        let inner = ed25519_dalek::SigningKey::from_bytes(&seed);
        let key_id = key_id_of(&inner.verifying_key());
        Self { inner, key_id }
    }

    /// A new key from the operating system's random number generator.
    pub fn generate() -> Self {
        let mut seed = [0u8; 32];
        contextos_core::live::fill_random(&mut seed);
        let key = Self::from_seed(seed);
        seed.fill(0);
        key
    }

    /// Reads a secret key file (`<name>.key`).
    pub fn load(path: &Path) -> Result<Self, SigningError> {
        let (key_id, seed) = read_key_file(path, KeyHalf::Secret)?;
        let key = Self::from_seed(seed);
        check_key_id(path, &key_id, &key.key_id)?;
        Ok(key)
    }

    /// The key id, `ed25519:<16 hex digits>`.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The public half.
    pub fn public(&self) -> PublicKey {
        PublicKey {
            inner: self.inner.verifying_key(),
            key_id: self.key_id.clone(),
        }
    }

    fn to_file_json(&self) -> String {
        key_file_json(&self.key_id, "secret_key", self.inner.as_bytes())
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("key_id", &self.key_id)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// An ed25519 public key with its key id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKey {
    inner: ed25519_dalek::VerifyingKey,
    key_id: String,
}

impl PublicKey {
    /// The key for 32 public key bytes, or `None` when they are not a valid
    /// curve point.
    pub fn from_bytes(bytes: &[u8; 32]) -> Option<Self> {
        let inner = ed25519_dalek::VerifyingKey::from_bytes(bytes).ok()?;
        Some(Self {
            key_id: key_id_of(&inner),
            inner,
        })
    }

    /// Reads a public key file (`<name>.pub`).
    pub fn load(path: &Path) -> Result<Self, SigningError> {
        let (key_id, bytes) = read_key_file(path, KeyHalf::Public)?;
        let key = Self::from_bytes(&bytes)
            .ok_or_else(|| malformed(path, "field \"public_key\": not a valid ed25519 public key".to_owned()))?;
        check_key_id(path, &key_id, &key.key_id)?;
        Ok(key)
    }

    /// The key id, `ed25519:<16 hex digits>`.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The 32 public key bytes.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.inner.to_bytes()
    }

    /// The contents of this key's public key file (pretty JSON, trailing newline).
    pub fn to_file_json(&self) -> String {
        key_file_json(&self.key_id, "public_key", self.inner.as_bytes())
    }
}

/// Which half of a key pair a key file holds.
#[derive(Clone, Copy)]
enum KeyHalf {
    Public,
    Secret,
}

/// The JSON of both key files; exactly one of the key fields is present.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    format_version: u32,
    algorithm: String,
    key_id: String,
    public_key: Option<String>,
    secret_key: Option<String>,
}

fn key_file_json(key_id: &str, field: &str, key: &[u8; 32]) -> String {
    let mut value = serde_json::json!({"format_version": FORMAT_VERSION, "algorithm": ALGORITHM, "key_id": key_id});
    value[field] = BASE64.encode(key).into();
    format!("{value:#}\n")
}

fn malformed(path: &Path, problem: String) -> SigningError {
    SigningError::MalformedKeyFile {
        path: path.to_owned(),
        problem,
    }
}

fn io_error(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> SigningError + Copy {
    move |source| SigningError::Io(IoError::new(action, path, source))
}

/// Reads a key file holding `half`: its stated key id and its 32 key bytes.
fn read_key_file(path: &Path, half: KeyHalf) -> Result<(String, [u8; 32]), SigningError> {
    let mut bytes = Vec::new();
    fs::File::open(path)
        .and_then(|file| file.take(MAX_KEY_FILE_BYTES + 1).read_to_end(&mut bytes))
        .map_err(io_error("read key file", path))?;
    if bytes.len() as u64 > MAX_KEY_FILE_BYTES {
        return Err(malformed(path, format!("larger than {MAX_KEY_FILE_BYTES} bytes")));
    }
    let file: KeyFile = serde_json::from_slice(&bytes).map_err(|e| malformed(path, e.to_string()))?;
    key_file_fields(file, half).map_err(|(field, problem)| malformed(path, format!("field \"{field}\": {problem}")))
}

/// Checks a parsed key file; an error names the field.
fn key_file_fields(file: KeyFile, half: KeyHalf) -> Result<(String, [u8; 32]), (&'static str, String)> {
    if file.format_version != FORMAT_VERSION {
        let version = file.format_version;
        return Err((
            "format_version",
            format!("unsupported version {version}, expected {FORMAT_VERSION}"),
        ));
    }
    if file.algorithm != ALGORITHM {
        let algorithm = file.algorithm;
        return Err((
            "algorithm",
            format!("unsupported algorithm {algorithm:?}, expected {ALGORITHM:?}"),
        ));
    }
    let (field, key, other, stray) = match half {
        KeyHalf::Public => ("public_key", file.public_key, "secret_key", file.secret_key),
        KeyHalf::Secret => ("secret_key", file.secret_key, "public_key", file.public_key),
    };
    // Above all, a secret must never sit in a file that is read as public.
    if stray.is_some() {
        return Err((
            other,
            "not allowed here: a key file holds one half of a key pair".to_owned(),
        ));
    }
    let key = key.ok_or((field, "missing".to_owned()))?;
    let key = BASE64
        .decode(key)
        .map_err(|e| (field, format!("not valid base64: {e}")))?;
    let len = key.len();
    let key = <[u8; 32]>::try_from(key).map_err(|_| (field, format!("expected 32 bytes, found {len}")))?;
    Ok((file.key_id, key))
}

fn check_key_id(path: &Path, stated: &str, actual: &str) -> Result<(), SigningError> {
    if stated == actual {
        return Ok(());
    }
    Err(malformed(
        path,
        format!("field \"key_id\": {stated:?} does not match the key, which is {actual}"),
    ))
}

/// Generates a new key and writes `<dir>/<name>.pub` and `<dir>/<name>.key`
/// (the secret one with mode 0600 on unix), creating `dir` if needed.
/// Returns `(public key path, secret key path)`. Refuses to overwrite either
/// file and to use a name outside `[A-Za-z0-9_-]+`.
pub fn generate_key_files(dir: &Path, name: &str) -> Result<(PathBuf, PathBuf), SigningError> {
    let valid = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !valid {
        return Err(SigningError::InvalidKeyName { name: name.to_owned() });
    }
    let public_path = dir.join(format!("{name}.pub"));
    let secret_path = dir.join(format!("{name}.key"));
    for path in [&public_path, &secret_path] {
        if fs::symlink_metadata(path).is_ok() {
            return Err(SigningError::KeyFileExists { path: path.clone() });
        }
    }
    fs::create_dir_all(dir).map_err(io_error("create key directory", dir))?;
    let key = SigningKey::generate();
    // The secret first: a crash in between leaves a secret without its public
    // half, which a rerun refuses to overwrite rather than silently replacing.
    for (path, contents, secret) in [
        (&secret_path, key.to_file_json(), true),
        (&public_path, key.public().to_file_json(), false),
    ] {
        let options = AtomicWrite { replace: false, secret };
        write_file_atomically(path, contents.as_bytes(), options).map_err(|source| {
            if source.kind() == io::ErrorKind::AlreadyExists {
                SigningError::KeyFileExists { path: path.clone() }
            } else {
                io_error("write key file", path)(source)
            }
        })?;
    }
    Ok((public_path, secret_path))
}

/// A DSSE envelope: a payload of a stated type and signatures over both.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedEnvelope {
    /// What the payload is, e.g. `application/vnd.contextos.decision-record+json`.
    #[serde(rename = "payloadType")]
    pub payload_type: String,
    /// Standard base64 of the payload's canonical JSON bytes.
    pub payload: String,
    /// Signatures over the DSSE pre-authentication encoding.
    pub signatures: Vec<EnvelopeSignature>,
}

/// One signature in a [`SignedEnvelope`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvelopeSignature {
    /// The signing key's id.
    pub keyid: String,
    /// Standard base64 of the 64-byte ed25519 signature.
    pub sig: String,
}

impl SignedEnvelope {
    /// The decoded payload bytes. Not verified: use [`Keyring::verify`] before
    /// trusting them.
    pub fn payload_bytes(&self) -> Result<Vec<u8>, VerifyError> {
        BASE64
            .decode(&self.payload)
            .map_err(|e| self.malformed(format!("payload is not valid base64: {e}")))
    }

    fn malformed(&self, problem: String) -> VerifyError {
        VerifyError::MalformedEnvelope {
            payload_type: self.payload_type.clone(),
            problem,
        }
    }

    /// The digest of the canonical payload bytes: the signed document's id.
    pub fn payload_digest(&self) -> Result<Digest, VerifyError> {
        Ok(Digest::of_bytes(&self.payload_bytes()?))
    }
}

/// The DSSE v1 pre-authentication encoding of a payload type and body.
fn pae(payload_type: &str, body: &[u8]) -> Vec<u8> {
    let header = format!("DSSEv1 {} {payload_type} {} ", payload_type.len(), body.len());
    let mut out = Vec::with_capacity(header.len() + body.len());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(body);
    out
}

/// Signs the canonical JSON of `value` as a payload of `payload_type`.
pub fn sign<T: Serialize + ?Sized>(
    payload_type: &str,
    value: &T,
    key: &SigningKey,
) -> Result<SignedEnvelope, SigningError> {
    let body = canonical_json(value).map_err(|source| SigningError::Canonical {
        payload_type: payload_type.to_owned(),
        source,
    })?;
    let signature = key.inner.sign(&pae(payload_type, &body));
    Ok(SignedEnvelope {
        payload_type: payload_type.to_owned(),
        payload: BASE64.encode(&body),
        signatures: vec![EnvelopeSignature {
            keyid: key.key_id.clone(),
            sig: BASE64.encode(signature.to_bytes()),
        }],
    })
}

/// What a verified envelope holds: its payload and the trusted key whose
/// signature verified it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// The key id of the trusted key whose signature verified.
    pub key_id: String,
    /// The payload bytes (canonical JSON).
    pub payload: Vec<u8>,
}

/// The public keys whose signatures are trusted.
#[derive(Clone, Debug, Default)]
pub struct Keyring {
    keys: BTreeMap<String, PublicKey>,
}

impl Keyring {
    /// Loads every `*.pub` file in `dir`, in file-name order. A malformed
    /// file, or two files holding the same key, is an error.
    pub fn load_dir(dir: &Path) -> Result<Self, SigningError> {
        let read_error = io_error("read keyring directory", dir);
        let mut paths = Vec::new();
        for entry in fs::read_dir(dir).map_err(read_error)? {
            let path = entry.map_err(read_error)?.path();
            if path.extension().is_some_and(|ext| ext == "pub") && path.is_file() {
                paths.push(path);
            }
        }
        paths.sort();
        let mut keys = BTreeMap::new();
        let mut sources: BTreeMap<String, PathBuf> = BTreeMap::new();
        for path in paths {
            let key = PublicKey::load(&path)?;
            if let Some(first) = sources.get(key.key_id()) {
                return Err(SigningError::DuplicateKeyId {
                    key_id: key.key_id,
                    first: first.clone(),
                    second: path,
                });
            }
            sources.insert(key.key_id.clone(), path);
            keys.insert(key.key_id.clone(), key);
        }
        Ok(Self { keys })
    }

    /// A keyring of the given keys (a key given twice is kept once).
    pub fn from_keys(keys: impl IntoIterator<Item = PublicKey>) -> Self {
        Self {
            keys: keys.into_iter().map(|key| (key.key_id.clone(), key)).collect(),
        }
    }

    /// Whether the keyring trusts no key at all (then nothing verifies).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// How many keys the keyring trusts.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// The trusted key ids, sorted.
    pub fn key_ids(&self) -> impl Iterator<Item = &str> + '_ {
        self.keys.keys().map(String::as_str)
    }

    /// The trusted key with this id.
    pub fn get(&self, key_id: &str) -> Option<&PublicKey> {
        self.keys.get(key_id)
    }

    /// Verifies `envelope` and returns its payload bytes: the payload type
    /// must be `expected_payload_type`, at least one signature must be a
    /// valid signature by a trusted key (signatures by unknown keys are
    /// ignored), and the payload must be canonical JSON.
    pub fn verify(&self, envelope: &SignedEnvelope, expected_payload_type: &str) -> Result<Vec<u8>, VerifyError> {
        Ok(self.verify_signer(envelope, expected_payload_type)?.payload)
    }

    /// Verifies `envelope` like [`Keyring::verify`] and also says which
    /// trusted key's signature verified: an envelope may carry several
    /// signatures, and the first one need not be by a trusted key.
    pub fn verify_signer(
        &self,
        envelope: &SignedEnvelope,
        expected_payload_type: &str,
    ) -> Result<Verified, VerifyError> {
        let payload_type = &envelope.payload_type;
        if payload_type != expected_payload_type {
            return Err(VerifyError::PayloadTypeMismatch {
                expected: expected_payload_type.to_owned(),
                found: payload_type.clone(),
            });
        }
        if envelope.signatures.is_empty() {
            return Err(envelope.malformed("it carries no signatures".to_owned()));
        }
        let body = envelope.payload_bytes()?;
        let message = pae(payload_type, &body);
        // Signatures by unknown keys are skipped; when no trusted signature
        // verifies, the first failure by a trusted key explains why.
        let mut first_failure = None;
        for signature in &envelope.signatures {
            let Some(key) = self.keys.get(&signature.keyid) else {
                continue;
            };
            match check_signature(key, &signature.sig, &message, envelope) {
                Ok(()) => {
                    check_canonical(payload_type, &body)?;
                    return Ok(Verified {
                        key_id: key.key_id.clone(),
                        payload: body,
                    });
                }
                Err(e) => {
                    first_failure.get_or_insert(e);
                }
            }
        }
        Err(first_failure.unwrap_or_else(|| self.untrusted(envelope)))
    }

    /// Verifies `envelope` like [`Keyring::verify`] and deserializes its payload.
    pub fn verify_as<T: DeserializeOwned>(
        &self,
        envelope: &SignedEnvelope,
        expected_payload_type: &str,
    ) -> Result<T, VerifyError> {
        let body = self.verify(envelope, expected_payload_type)?;
        serde_json::from_slice(&body).map_err(|source| VerifyError::Document {
            payload_type: envelope.payload_type.clone(),
            source,
        })
    }

    fn untrusted(&self, envelope: &SignedEnvelope) -> VerifyError {
        let key_ids: Vec<&str> = envelope.signatures.iter().map(|s| s.keyid.as_str()).collect();
        let trusted: Vec<&str> = self.key_ids().collect();
        VerifyError::UntrustedSigner {
            payload_type: envelope.payload_type.clone(),
            key_ids: key_ids.join(", "),
            trusted: if trusted.is_empty() {
                "none".to_owned()
            } else {
                trusted.join(", ")
            },
        }
    }
}

fn check_signature(key: &PublicKey, sig: &str, message: &[u8], envelope: &SignedEnvelope) -> Result<(), VerifyError> {
    let key_id = &key.key_id;
    let malformed = |problem: String| envelope.malformed(format!("signature by {key_id} {problem}"));
    let bytes = BASE64
        .decode(sig)
        .map_err(|e| malformed(format!("is not valid base64: {e}")))?;
    let signature = ed25519_dalek::Signature::from_slice(&bytes)
        .map_err(|_| malformed(format!("is {} bytes, not a 64-byte ed25519 signature", bytes.len())))?;
    // Strict verification also rejects malleable signatures and weak keys.
    let payload_type = envelope.payload_type.clone();
    key.inner
        .verify_strict(message, &signature)
        .map_err(|_| VerifyError::BadSignature {
            key_id: key_id.clone(),
            payload_type,
        })
}

fn check_canonical(payload_type: &str, body: &[u8]) -> Result<(), VerifyError> {
    let not_canonical = |reason: String| VerifyError::NotCanonical {
        payload_type: payload_type.to_owned(),
        reason,
    };
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| not_canonical(format!("not JSON: {e}")))?;
    let canonical = canonical_json(&value).map_err(|e| not_canonical(e.to_string()))?;
    if canonical != body {
        return Err(not_canonical(
            "its bytes differ from the RFC 8785 form of the same document".to_owned(),
        ));
    }
    Ok(())
}
