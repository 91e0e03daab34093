//! Where the repository is, for the shipped `policies/`, `runtime/` and `tests/peers`.

use std::path::{Path, PathBuf};

/// The repository root (canonical).
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the repository root exists")
}
