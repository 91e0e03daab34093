//! The live implementations of the injected traits: the only place in the
//! workspace where wall-clock time, operating-system randomness and the
//! process environment are read (clippy's `disallowed_methods`, configured in
//! clippy.toml, enforces this).

use std::time::{SystemTime, UNIX_EPOCH};

use crate::{Clock, IdGen, Secret, Timestamp};

/// The system wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[expect(
        clippy::disallowed_methods,
        reason = "the live clock is the one reader of wall-clock time"
    )]
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
#[expect(
    clippy::disallowed_methods,
    reason = "live ids and keys are the one use of operating-system randomness"
)]
pub fn fill_random(buf: &mut [u8]) {
    #[expect(clippy::expect_used, reason = "no entropy source means no safe way to continue")]
    getrandom::fill(buf).expect("operating system random number generator unavailable");
}

/// Whether `name` can name an environment variable that a configuration
/// points at (`api_key_env`, `bearer_token_env`): a letter or `_`, then
/// letters, digits and `_`, at most 128 characters.
pub fn is_env_var_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= 128
}

/// A credential from the environment variable `name` (an API key for a live
/// model or a bearer token for an HTTP MCP server): `None` when unset or
/// empty. The CLI edge calls this and passes the [`Secret`] in; nothing else
/// reads the environment.
#[expect(clippy::disallowed_methods, reason = "the CLI edge's one reader of the environment")]
pub fn secret_from_env(name: &str) -> Option<Secret> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .map(Secret::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variable_names_are_plain_identifiers() {
        for good in ["OPENAI_API_KEY", "_T", "crm_token2"] {
            assert!(is_env_var_name(good), "{good}");
        }
        for bad in ["", "2FA", "A B", "A-B", "A=B", &"A".repeat(129)] {
            assert!(!is_env_var_name(bad), "{bad}");
        }
    }
}
