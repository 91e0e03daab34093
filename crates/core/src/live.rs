//! The live implementations of the injected traits: the only place in the
//! workspace where wall-clock time, operating-system randomness and the
//! process environment are read (`cargo xtask tidy` enforces this).

use std::time::{SystemTime, UNIX_EPOCH};

use crate::{Clock, IdGen, Secret, Timestamp};

/// The system wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        // A clock set before 1970 reads as the epoch rather than failing a run.
        let millis = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        Timestamp(u64::try_from(millis).unwrap_or(u64::MAX))
    }
}

/// Random ids: `<prefix>_<16 hex digits>` from the operating system's generator.
#[derive(Debug, Default, Clone, Copy)]
pub struct RandomIdGen;

impl IdGen for RandomIdGen {
    fn next_id(&self, prefix: &str) -> String {
        let mut bytes = [0u8; 8];
        fill_random(&mut bytes);
        format!("{prefix}_{}", hex::encode(bytes))
    }
}

/// Fills `buf` from the operating system's cryptographic generator, for key
/// generation and live ids.
///
/// # Panics
/// When the operating system has no entropy source; nothing secure can be
/// done then, and continuing with weak randomness would be worse.
pub fn fill_random(buf: &mut [u8]) {
    #[expect(clippy::expect_used, reason = "no entropy source means no safe way to continue")]
    getrandom::fill(buf).expect("operating system random number generator unavailable");
}

/// A credential from the environment variable `name` (an API key for a live
/// model or a bearer token for an HTTP MCP server): `None` when unset or
/// empty. The CLI edge calls this and passes the [`Secret`] in; nothing else
/// reads the environment.
pub fn secret_from_env(name: &str) -> Option<Secret> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .map(Secret::new)
}
