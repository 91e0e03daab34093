//! Secret redaction by field name and by value pattern. Everything that is
//! persisted (packets, records, evidence, logs, snapshots) passes through
//! [`redact`] first.

use serde_json::Value;

/// What replaces a redacted value.
pub const REDACTED: &str = "[redacted]";

/// Field names (lowercase, compared after removing `-` and `_`) whose values are always secret.
const SECRET_FIELDS: [&str; 10] = [
    "password",
    "passwd",
    "secret",
    "token",
    "apikey",
    "authorization",
    "accesstoken",
    "refreshtoken",
    "privatekey",
    "secretkey",
];

/// Whether a field of this name always holds a secret (`api_key`, `password`,
/// `Authorization`, `refresh-token`, …).
pub fn is_secret_field(name: &str) -> bool {
    let squashed: String = name
        .chars()
        .filter(|c| *c != '_' && *c != '-')
        .flat_map(char::to_lowercase)
        .collect();
    SECRET_FIELDS.iter().any(|f| squashed == *f || squashed.ends_with(f))
}

/// Whether a string value looks like a credential: bearer tokens, common API
/// key prefixes, PEM private keys.
pub fn looks_like_secret(value: &str) -> bool {
    let v = value.trim();
    let prefixed = |prefix: &str, min_rest: usize| {
        v.strip_prefix(prefix).is_some_and(|rest| {
            rest.len() >= min_rest
                && rest
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        })
    };
    v.contains("-----BEGIN") && v.contains("PRIVATE KEY")
        || v.get(..7).is_some_and(|p| p.eq_ignore_ascii_case("bearer ")) && v.len() > 20
        || prefixed("sk-", 16)
        || prefixed("ghp_", 20)
        || prefixed("xoxb-", 16)
        || prefixed("AKIA", 16)
}

/// A copy of `value` with secret fields and secret-looking strings replaced by [`REDACTED`].
pub fn redact(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let v = if is_secret_field(k) && !v.is_null() {
                        Value::String(REDACTED.into())
                    } else {
                        redact(v)
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(redact).collect()),
        Value::String(s) => Value::String(redact_text(s)),
        other => other.clone(),
    }
}

/// `text` with every whitespace-separated secret-looking word replaced.
pub fn redact_text(text: &str) -> String {
    if !text.split_whitespace().any(looks_like_secret) && !looks_like_secret(text) {
        return text.to_string();
    }
    if looks_like_secret(text) {
        return REDACTED.to_string();
    }
    text.split(' ')
        .map(|w| if looks_like_secret(w) { REDACTED } else { w })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn redacts_fields_and_patterns() {
        let v = json!({
            "api_key": "abc",
            "nested": {"Authorization": "Bearer abcdefghijklmnopqrstuvwxyz", "note": "sk-abcdefghijklmnopqrstu"},
            "list": ["ok", "ghp_abcdefghijklmnopqrstuvwxyz"],
            "customer_id": "C-1",
            "token_count": 5
        });
        let r = redact(&v);
        assert_eq!(r["api_key"], REDACTED);
        assert_eq!(r["nested"]["Authorization"], REDACTED);
        assert_eq!(r["nested"]["note"], REDACTED);
        assert_eq!(r["list"], json!(["ok", REDACTED]));
        assert_eq!(
            redact(&json!({"note": "key ghp_abcdefghijklmnopqrstuvwxyz inside"}))["note"],
            "key [redacted] inside"
        );
        assert_eq!(r["customer_id"], "C-1");
        assert_eq!(r["token_count"], 5, "a count is not a token");
    }

    #[test]
    fn redacts_words_in_text() {
        assert_eq!(redact_text("use sk-abcdefghijklmnopqrstu now"), "use [redacted] now");
        assert_eq!(redact_text("nothing here"), "nothing here");
    }
}
