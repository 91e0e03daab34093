//! The injected id generator. Runs mint ids only through [`IdGen`].

use std::sync::atomic::{AtomicU64, Ordering};

/// A source of fresh identifiers such as `run_…` or `env_…`.
pub trait IdGen: Send + Sync {
    /// A new id starting with `prefix` and an underscore.
    fn next_id(&self, prefix: &str) -> String;
}

/// Deterministic ids: `<prefix>_<seed>_<counter>` with a zero-padded counter.
#[derive(Debug)]
pub struct SequentialIdGen {
    seed: String,
    counter: AtomicU64,
}

impl SequentialIdGen {
    /// Ids are namespaced by `seed` (for example a case name) so parallel runs never collide.
    pub fn new(seed: impl Into<String>) -> Self {
        Self {
            seed: seed.into(),
            counter: AtomicU64::new(1),
        }
    }
}

impl IdGen for SequentialIdGen {
    fn next_id(&self, prefix: &str) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        format!("{prefix}_{}_{n:04}", self.seed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequential_ids_are_stable() {
        let ids = SequentialIdGen::new("refund");
        assert_eq!(ids.next_id("run"), "run_refund_0001");
        assert_eq!(ids.next_id("env"), "env_refund_0002");
    }
}
