//! The ContextOS context plane: "what the model saw, and what was
//! intentionally left out".
//!
//! This crate owns the context-pack format (the YAML source a team writes
//! and the built, content-addressed artifact), building, signing and loading
//! packs (an unsigned or tampered pack is refused unless the development
//! flag `allow_unsigned_dev_packs` is set), and the compiler: select packs
//! and layers through a [`PackGate`], rank snippets against the request
//! (BM25), allocate the token budget counted with the model's real tokenizer
//! (tiktoken), render the prompt and emit the manifest, ranking, omissions,
//! budget report and context-debt warnings of a
//! [`contextos_core::CompiledContext`].
//!
//! It does not decide policy (the runtime implements [`PackGate`] with
//! Cedar), read the clock (`now` is an input), call models, or store
//! anything: the compiled context goes into the replay packet elsewhere.
//!
//! Loading the shipped signed pack with the shipped keyring; a pack that does
//! not verify is refused:
//!
//! ```
//! use std::path::Path;
//! use contextos_context::{LoadOptions, load_pack};
//! use contextos_trust::Keyring;
//!
//! let keyring = Keyring::load_dir(Path::new("../../runtime/keys"))?;
//! let path = Path::new("../../runtime/packs/support_escalation-18.pack.json");
//! let pack = load_pack(path, &keyring, &LoadOptions::default())?;
//! assert!(pack.is_signed());
//! assert_eq!((pack.pack().name.as_str(), pack.pack().version), ("support_escalation", 18));
//! assert!(load_pack(path, &Keyring::default(), &LoadOptions::default()).is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(missing_docs)]

mod allocate;
mod compile;
mod error;
mod gate;
mod inspect;
mod load;
mod pack;
mod rank;
mod tokens;

pub use compile::{CompileInput, compile};
pub use error::{CompileError, PackError};
pub use gate::{GateVerdict, PackGate, PackRefInfo};
pub use inspect::{
    ChangeKind, LayerInspection, PackChange, PackDiff, PackInspection, SnippetInspection, SourceInspection, diff_packs,
    inspect_pack, newest_fetched_at,
};
pub use load::{
    LoadOptions, LoadedPack, OpenedPack, PACK_PAYLOAD_TYPE, PACK_SOURCE_FILE, PackOrigin, PackSignature,
    artifact_bytes, build_pack_dir, load_pack, load_pack_text, open_pack, read_built_pack, sign_pack, verify_envelope,
    write_artifact,
};
pub use pack::{
    BuiltLayer, BuiltPack, BuiltSnippet, BuiltSource, LayerSource, PackSource, SnippetSource, SourceSpec, build_pack,
    parse_pack_source,
};
pub use tokens::{Encoding, TokenCounter};
