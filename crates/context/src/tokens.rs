//! Token counting with the model's real tokenizer (tiktoken), and the cache
//! of per-snippet counts that makes repeated compiles cheap.
//!
//! Building an encoder is far more expensive than using it (o200k_base parses
//! a 200k-entry vocabulary), so each encoder is built once per process and
//! shared; encoding is the next most expensive step, so counts are cached per
//! snippet digest in the [`TokenCounter`] the caller keeps between compiles.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, OnceLock, PoisonError};

use contextos_core::Digest;
use tiktoken_rs::CoreBPE;

use crate::error::CompileError;

/// A tiktoken encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Encoding {
    /// GPT-4o, GPT-4.1, GPT-4.5, GPT-5 and the o-series.
    O200kBase,
    /// GPT-4 and GPT-3.5.
    Cl100kBase,
}

/// Model-name prefixes and their encodings, most specific first: the first
/// prefix that matches wins (`gpt-4o` before `gpt-4`).
const MODEL_PREFIXES: &[(&str, Encoding)] = &[
    ("gpt-4o", Encoding::O200kBase),
    ("chatgpt-4o", Encoding::O200kBase),
    ("gpt-4.1", Encoding::O200kBase),
    ("gpt-4.5", Encoding::O200kBase),
    ("gpt-5", Encoding::O200kBase),
    ("o1", Encoding::O200kBase),
    ("o3", Encoding::O200kBase),
    ("o4", Encoding::O200kBase),
    ("gpt-4", Encoding::Cl100kBase),
    ("gpt-3.5", Encoding::Cl100kBase),
    ("gpt-35", Encoding::Cl100kBase),
];

impl Encoding {
    /// The encoding for a model name (`gpt-4o-mini` -> `o200k_base`,
    /// `gpt-4-turbo` -> `cl100k_base`). An unknown model is an input error:
    /// counting with the wrong tokenizer would make every budget a guess.
    pub fn for_model(model: &str) -> Result<Self, CompileError> {
        MODEL_PREFIXES
            .iter()
            .find(|(prefix, _)| model.starts_with(prefix))
            .map(|&(_, encoding)| encoding)
            .ok_or_else(|| CompileError::UnknownModel {
                model: model.to_owned(),
                known: MODEL_PREFIXES
                    .iter()
                    .map(|(p, _)| format!("{p}*"))
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// The tiktoken name (`o200k_base`, `cl100k_base`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::O200kBase => "o200k_base",
            Self::Cl100kBase => "cl100k_base",
        }
    }

    /// The shared encoder, built on first use.
    pub(crate) fn bpe(self) -> Result<&'static CoreBPE, CompileError> {
        static O200K: OnceLock<Result<CoreBPE, String>> = OnceLock::new();
        static CL100K: OnceLock<Result<CoreBPE, String>> = OnceLock::new();
        let cell = match self {
            Self::O200kBase => O200K.get_or_init(|| tiktoken_rs::o200k_base().map_err(|e| e.to_string())),
            Self::Cl100kBase => CL100K.get_or_init(|| tiktoken_rs::cl100k_base().map_err(|e| e.to_string())),
        };
        cell.as_ref().map_err(|message| CompileError::Encoder {
            encoding: self.as_str(),
            message: message.clone(),
        })
    }
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Counts tokens with one encoding and remembers the counts of snippets by
/// digest. Keep one per encoding for the life of the process and pass it to
/// every compile: the cache never changes a result, only how fast it comes.
pub struct TokenCounter {
    encoding: Encoding,
    bpe: &'static CoreBPE,
    cache: Mutex<HashMap<Digest, u64>>,
}

impl fmt::Debug for TokenCounter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenCounter")
            .field("encoding", &self.encoding)
            .field("cached", &self.cached_entries())
            .finish()
    }
}

impl TokenCounter {
    /// A counter for `encoding` with an empty cache.
    pub fn new(encoding: Encoding) -> Result<Self, CompileError> {
        Ok(Self {
            encoding,
            bpe: encoding.bpe()?,
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// A counter for the encoding of `model` (see [`Encoding::for_model`]).
    pub fn for_model(model: &str) -> Result<Self, CompileError> {
        Self::new(Encoding::for_model(model)?)
    }

    /// The encoding this counter uses.
    pub fn encoding(&self) -> Encoding {
        self.encoding
    }

    /// Tokens of `text` (ordinary text: special-token markers count as text).
    pub fn count(&self, text: &str) -> u64 {
        self.bpe.encode_ordinary(text).len() as u64
    }

    /// Tokens of the chunk `text` renders to, cached under `key` (the digest
    /// of `text`, already checked by the loader).
    pub(crate) fn count_cached(&self, key: &Digest, text: impl FnOnce() -> String) -> u64 {
        if let Some(&n) = self.lock().get(key) {
            return n;
        }
        // Encode outside the lock so parallel compiles do not serialize on it.
        let n = self.count(&text());
        self.lock().insert(*key, n);
        n
    }

    /// How many counts are cached.
    pub fn cached_entries(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Digest, u64>> {
        // A panic elsewhere cannot leave a count half-written: the map stays usable.
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn models_map_to_encodings() {
        for (model, encoding) in [
            ("gpt-4o", Encoding::O200kBase),
            ("gpt-4o-mini", Encoding::O200kBase),
            ("gpt-4.1-nano", Encoding::O200kBase),
            ("o3-mini", Encoding::O200kBase),
            ("gpt-4", Encoding::Cl100kBase),
            ("gpt-4-turbo", Encoding::Cl100kBase),
            ("gpt-3.5-turbo", Encoding::Cl100kBase),
        ] {
            assert_eq!(Encoding::for_model(model).unwrap(), encoding, "{model}");
        }
        let err = Encoding::for_model("llama-3").unwrap_err();
        assert!(err.to_string().contains("llama-3"), "{err}");
    }
}
