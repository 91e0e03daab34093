//! Reading pack sources, writing artifacts, signing, and the loader that
//! decides whether a pack may be trusted.
//!
//! A signed pack is a [`SignedEnvelope`] of payload type
//! [`PACK_PAYLOAD_TYPE`] whose payload is the built pack's canonical JSON,
//! written as the envelope's canonical JSON plus a newline. The loader
//! verifies the signature against the keyring, that the file is exactly that
//! canonical form (so no byte of it can change unnoticed), and that every
//! digest inside matches its content. An unsigned built pack is refused
//! unless [`LoadOptions::allow_unsigned_dev_packs`] is set.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use contextos_core::{Digest, IoError, canonical_json, parse_json};
use contextos_fs::{AtomicWrite, write_file_atomically};
use contextos_trust::{Keyring, SignedEnvelope, SigningKey};
use serde::Serialize;

use crate::error::PackError;
use crate::pack::{BuiltPack, build_pack, check_digests, parse_pack_source, validate};

/// The DSSE payload type of a signed pack.
pub const PACK_PAYLOAD_TYPE: &str = "application/vnd.contextos.pack+json";

/// The source file name inside a pack source directory.
pub const PACK_SOURCE_FILE: &str = "pack.yaml";

/// How the loader treats packs that are not signed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// Development only: accept unsigned built packs. Every compiled context
    /// that uses one says so (`unsigned_pack_dev_mode` in its controls and
    /// debt warnings).
    pub allow_unsigned_dev_packs: bool,
}

/// How a loaded pack came to be trusted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PackSignature {
    /// Signed by this trusted key.
    Verified {
        /// The key id.
        key_id: String,
    },
    /// Not signed; accepted only because `allow_unsigned_dev_packs` was set.
    UnsignedDev,
}

/// A pack the loader accepted: verified, or unsigned in development mode.
/// Only the loader makes these, so the compiler never sees an unchecked pack.
#[derive(Clone, Debug)]
pub struct LoadedPack {
    pack: BuiltPack,
    digest: Digest,
    signature: PackSignature,
}

impl LoadedPack {
    /// The built pack.
    pub fn pack(&self) -> &BuiltPack {
        &self.pack
    }

    /// Its digest (sha256 of its canonical JSON, the signed payload).
    pub fn digest(&self) -> Digest {
        self.digest
    }

    /// How it was trusted.
    pub fn signature(&self) -> &PackSignature {
        &self.signature
    }

    /// Whether a trusted key signed it.
    pub fn is_signed(&self) -> bool {
        matches!(self.signature, PackSignature::Verified { .. })
    }
}

/// What [`open_pack`] found at a path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PackOrigin {
    /// A source directory or YAML file, built on the fly.
    Source,
    /// An unsigned built artifact.
    Unsigned,
    /// A signed artifact that verified.
    Signed {
        /// The key that signed it.
        key_id: String,
    },
}

fn io_error<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> PackError + 'a {
    move |source| PackError::Io(IoError::new(action, path, source))
}

fn shown(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// The source file of `path`: `path/pack.yaml` for a directory, `path` itself otherwise.
fn source_file(path: &Path) -> PathBuf {
    if path.is_dir() {
        path.join(PACK_SOURCE_FILE)
    } else {
        path.to_path_buf()
    }
}

/// Reads and builds the pack source at `path` (a directory holding
/// `pack.yaml`, or the YAML file itself). Refuses what signing or loading
/// the artifact would refuse: a built pack larger than
/// [`contextos_core::MAX_DOCUMENT_BYTES`] (YAML aliases can expand a small
/// source into a huge one).
pub fn build_pack_dir(path: &Path) -> Result<BuiltPack, PackError> {
    let file = source_file(path);
    let text = fs::read_to_string(&file).map_err(io_error("read pack source", &file))?;
    let name = shown(&file);
    let pack = build_pack(&name, &parse_pack_source(&name, &text)?)?;
    let size = artifact_bytes(&pack)?.len();
    if size > contextos_core::MAX_DOCUMENT_BYTES {
        return Err(PackError::invalid(
            &name,
            "layers",
            format!(
                "the built pack is {size} bytes, more than the limit of {} for a pack artifact (`pack sign` and runs would refuse it); YAML aliases copy what they name, so use fewer or shorter ones",
                contextos_core::MAX_DOCUMENT_BYTES
            ),
        ));
    }
    check_digests(&name, &pack)?;
    Ok(pack)
}

/// The bytes of an artifact file: canonical JSON and a newline.
pub fn artifact_bytes<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, PackError> {
    let mut bytes = canonical_json(value).map_err(|e| PackError::invalid("artifact", "document", e.to_string()))?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// Writes an artifact atomically, replacing an existing file.
pub fn write_artifact(path: &Path, bytes: &[u8]) -> Result<(), PackError> {
    let options = AtomicWrite {
        replace: true,
        secret: false,
    };
    write_file_atomically(path, bytes, options).map_err(io_error("write pack artifact", path))
}

/// Signs a built pack (checked first, so only a valid pack is ever signed).
pub fn sign_pack(pack: &BuiltPack, key: &SigningKey) -> Result<SignedEnvelope, PackError> {
    validate(&pack.id, pack)?;
    check_digests(&pack.id, pack)?;
    Ok(contextos_trust::sign(PACK_PAYLOAD_TYPE, pack, key)?)
}

/// Reads an unsigned built artifact (the input of `pack sign`).
pub fn read_built_pack(path: &Path) -> Result<BuiltPack, PackError> {
    let text = fs::read_to_string(path).map_err(io_error("read pack artifact", path))?;
    let file = shown(path);
    let value: serde_json::Value = parse_json(&file, &text)?;
    if value.get("payloadType").is_some() {
        return Err(PackError::invalid(
            &file,
            "payloadType",
            "this is a signed envelope, not an unsigned built pack",
        ));
    }
    let pack: BuiltPack = parse_json(&file, &text)?;
    validate(&file, &pack)?;
    check_digests(&file, &pack)?;
    Ok(pack)
}

/// Loads a built pack artifact for a run: a signed envelope that verifies
/// against `keyring`, or (only with `allow_unsigned_dev_packs`) an unsigned
/// built pack.
pub fn load_pack(path: &Path, keyring: &Keyring, options: &LoadOptions) -> Result<LoadedPack, PackError> {
    let text = fs::read_to_string(path).map_err(io_error("read pack artifact", path))?;
    load_pack_text(&shown(path), &text, keyring, options)
}

/// [`load_pack`] on text already read from `file`.
pub fn load_pack_text(
    file: &str,
    text: &str,
    keyring: &Keyring,
    options: &LoadOptions,
) -> Result<LoadedPack, PackError> {
    let value: serde_json::Value = parse_json(file, text)?;
    if value.get("payloadType").is_some() {
        let envelope: SignedEnvelope = parse_json(file, text)?;
        let canonical = artifact_bytes(&envelope)?;
        if text.as_bytes() != canonical.as_slice() && text.as_bytes() != &canonical[..canonical.len() - 1] {
            // Verify first: a bad signature is the more useful message.
            verify_envelope(file, &envelope, keyring)?;
            return Err(PackError::tampered(
                file,
                "the envelope file is not in its canonical JSON form (it was edited after signing)",
            ));
        }
        return verify_envelope(file, &envelope, keyring);
    }
    let pack: BuiltPack = parse_json(file, text)?;
    if !options.allow_unsigned_dev_packs {
        return Err(PackError::Unsigned {
            file: file.to_owned(),
            id: pack.id,
        });
    }
    validate(file, &pack)?;
    check_digests(file, &pack)?;
    Ok(LoadedPack {
        digest: pack.digest()?,
        pack,
        signature: PackSignature::UnsignedDev,
    })
}

/// Verifies a signed pack envelope against `keyring` and checks its content.
pub fn verify_envelope(file: &str, envelope: &SignedEnvelope, keyring: &Keyring) -> Result<LoadedPack, PackError> {
    let verify_error = |reason| PackError::Verify {
        file: file.to_owned(),
        reason,
    };
    // Verify against each trusted signer alone, to know which key vouches;
    // when none does, the whole keyring's verdict explains why.
    let mut verified = None;
    for signature in &envelope.signatures {
        let Some(key) = keyring.get(&signature.keyid) else {
            continue;
        };
        let single = Keyring::from_keys([key.clone()]);
        if let Ok(pack) = single.verify_as::<BuiltPack>(envelope, PACK_PAYLOAD_TYPE) {
            verified = Some((pack, signature.keyid.clone()));
            break;
        }
    }
    let Some((pack, key_id)) = verified else {
        return Err(match keyring.verify_as::<BuiltPack>(envelope, PACK_PAYLOAD_TYPE) {
            Err(reason) => verify_error(reason),
            Ok(_) => PackError::tampered(file, "no single trusted key verifies the envelope"),
        });
    };
    validate(file, &pack)?;
    check_digests(file, &pack)?;
    let digest = envelope.payload_digest().map_err(verify_error)?;
    Ok(LoadedPack {
        pack,
        digest,
        signature: PackSignature::Verified { key_id },
    })
}

/// A pack opened for inspection or diffing: not a [`LoadedPack`], so it can
/// never reach the compiler without the loader's checks.
#[derive(Clone, Debug)]
pub struct OpenedPack {
    /// The built pack.
    pub pack: BuiltPack,
    /// Its digest.
    pub digest: Digest,
    /// What was at the path.
    pub origin: PackOrigin,
}

/// Opens whatever is at `path` for inspection or diffing: a source directory
/// or YAML file (built on the fly), an unsigned built artifact, or a signed
/// artifact (which must verify against `keyring`).
pub fn open_pack(path: &Path, keyring: &Keyring) -> Result<OpenedPack, PackError> {
    let is_source = path.is_dir() || path.extension().is_some_and(|e| e == "yaml" || e == "yml");
    if is_source {
        let pack = build_pack_dir(path)?;
        return Ok(OpenedPack {
            digest: pack.digest()?,
            pack,
            origin: PackOrigin::Source,
        });
    }
    let options = LoadOptions {
        allow_unsigned_dev_packs: true,
    };
    let loaded = load_pack(path, keyring, &options)?;
    let origin = match loaded.signature {
        PackSignature::Verified { key_id } => PackOrigin::Signed { key_id },
        PackSignature::UnsignedDev => PackOrigin::Unsigned,
    };
    Ok(OpenedPack {
        pack: loaded.pack,
        digest: loaded.digest,
        origin,
    })
}
