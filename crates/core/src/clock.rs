//! The injected clock. Runs read time only through [`Clock`], so a run under
//! [`FixedClock`] is reproducible to the byte.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

/// Milliseconds since the Unix epoch (UTC). Serialized as a plain integer so
/// documents never depend on a time-zone or formatting library.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(transparent)]
pub struct Timestamp(pub u64);

impl Timestamp {
    /// This instant plus `millis`, saturating.
    pub fn plus_millis(self, millis: u64) -> Self {
        Self(self.0.saturating_add(millis))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}ms", self.0)
    }
}

/// A source of the current time.
pub trait Clock: Send + Sync {
    /// The current instant.
    fn now(&self) -> Timestamp;
}

/// A deterministic clock: starts at `start` and advances by `step_ms` on every
/// reading, so ordering is visible in records while staying reproducible.
#[derive(Debug)]
pub struct FixedClock {
    next: AtomicU64,
    step_ms: u64,
}

impl FixedClock {
    /// A clock whose first reading is `start` and which advances `step_ms` per reading.
    pub fn new(start: Timestamp, step_ms: u64) -> Self {
        Self {
            next: AtomicU64::new(start.0),
            step_ms,
        }
    }
}

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.next.fetch_add(self.step_ms, Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_clock_steps() {
        let c = FixedClock::new(Timestamp(1_000), 5);
        assert_eq!(
            [c.now(), c.now(), c.now()],
            [Timestamp(1_000), Timestamp(1_005), Timestamp(1_010)]
        );
    }
}
