//! [`Secret`]: a credential that can be used but never shown or persisted.

use std::fmt;

/// A credential (an API key, a bearer token). It has no `Serialize`, and its
/// `Debug` and `Display` print [`REDACTED`](crate::REDACTED), so it cannot
/// reach a packet, a record, a fixture or a log by accident; only
/// [`expose`](Self::expose) gives the value, at the one place that sends it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a credential.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The credential itself, for the request header that carries it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({})", crate::REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(crate::REDACTED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_never_prints() {
        let key = Secret::new("sk-live-0123456789abcdef");
        assert_eq!(format!("{key}"), crate::REDACTED);
        assert!(!format!("{key:?}").contains("0123456789"));
        assert_eq!(key.expose(), "sk-live-0123456789abcdef");
    }
}
