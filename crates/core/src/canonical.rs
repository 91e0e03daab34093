//! Canonical JSON (RFC 8785, via `serde_jcs`) and `sha256:` digests.
//!
//! A document's identity is the digest of its canonical form, so key order and
//! whitespace never change an id.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest as _, Sha256};

/// Canonicalization failed: the value cannot be represented as RFC 8785 JSON
/// (for example a map with non-string keys or a non-finite float).
#[derive(Debug, thiserror::Error)]
#[error("cannot canonicalize document: {0}")]
pub struct CanonicalError(#[from] serde_json::Error);

/// Every value ContextOS canonicalizes is built to serialize: a failure is a bug.
impl crate::Kind for CanonicalError {
    fn kind(&self) -> crate::ErrorKind {
        crate::ErrorKind::Bug
    }
}

/// Serializes `value` as RFC 8785 canonical JSON bytes.
///
/// RFC 8785 writes every number as an IEEE 754 double (I-JSON), so integers
/// beyond ±2^53 lose precision; documents keep such values (sizes, counters,
/// amounts) in range or as strings.
pub fn canonical_json<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, CanonicalError> {
    Ok(serde_jcs::to_vec(value)?)
}

/// The digest of the canonical JSON form of `value`.
pub fn digest_of<T: Serialize + ?Sized>(value: &T) -> Result<Digest, CanonicalError> {
    Ok(Digest::of_bytes(&canonical_json(value)?))
}

/// Deep-merges `over` into `base`: objects merge key by key, recursively;
/// anything else in `over` replaces what `base` had. Used for defaults
/// (policy tests, scenario cases).
pub fn merge_json(
    base: &mut serde_json::Map<String, serde_json::Value>,
    over: &serde_json::Map<String, serde_json::Value>,
) {
    for (k, v) in over {
        match (base.get_mut(k), v) {
            (Some(serde_json::Value::Object(b)), serde_json::Value::Object(o)) => merge_json(b, o),
            _ => {
                base.insert(k.clone(), v.clone());
            }
        }
    }
}

/// A sha256 content digest, rendered and parsed as `sha256:<64 lowercase hex>`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Digest([u8; 32]);

impl Digest {
    /// The digest of raw bytes.
    pub fn of_bytes(bytes: &[u8]) -> Self {
        Self(Sha256::digest(bytes).into())
    }

    /// The raw 32 digest bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The lowercase hex form without the `sha256:` prefix (used for file names).
    pub fn hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex())
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A string that is not `sha256:` followed by 64 lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid digest {input:?}: expected \"sha256:\" followed by 64 lowercase hex digits")]
pub struct DigestParseError {
    input: String,
}

/// A malformed digest is the caller's input (exit 2).
impl crate::Kind for DigestParseError {
    fn kind(&self) -> crate::ErrorKind {
        crate::ErrorKind::Input
    }
}

impl FromStr for Digest {
    type Err = DigestParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || DigestParseError {
            input: s.chars().take(80).collect(),
        };
        let hex_part = s.strip_prefix("sha256:").ok_or_else(err)?;
        if hex_part.len() != 64 || hex_part.bytes().any(|b| !matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(err());
        }
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(hex_part, &mut bytes).map_err(|_| err())?;
        Ok(Self(bytes))
    }
}

impl Serialize for Digest {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::Value;

    #[test]
    fn known_vector() {
        // sha256("abc") from FIPS 180-2.
        assert_eq!(
            Digest::of_bytes(b"abc").to_string(),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn canonical_form_sorts_keys_and_drops_whitespace() {
        let v: Value = serde_json::from_str(r#"{ "b": 1, "a": [true, null, "x"] }"#).unwrap();
        assert_eq!(canonical_json(&v).unwrap(), br#"{"a":[true,null,"x"],"b":1}"#);
    }

    #[test]
    fn parse_rejects_bad_digests() {
        for bad in [
            "",
            "sha256:",
            "md5:00",
            &format!("sha256:{}", "A".repeat(64)),
            &format!("sha256:{}", "0".repeat(63)),
        ] {
            assert!(bad.parse::<Digest>().is_err(), "{bad:?} parsed");
        }
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            // I-JSON: integers within ±2^53 survive RFC 8785 exactly.
            (-(1i64 << 53)..=(1i64 << 53)).prop_map(Value::from),
            "[a-zA-Z0-9 _\\-\u{e9}\u{1F600}\"\\\\]{0,12}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map("[a-z]{0,6}", inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn canonical_json_round_trips(v in json_value()) {
            let bytes = canonical_json(&v).unwrap();
            let back: Value = serde_json::from_slice(&bytes).unwrap();
            prop_assert_eq!(&back, &v);
            // Canonicalizing the canonical form is the identity.
            prop_assert_eq!(canonical_json(&back).unwrap(), bytes);
        }

        #[test]
        fn digest_ignores_key_order_and_whitespace(v in json_value()) {
            let pretty = serde_json::to_string_pretty(&v).unwrap();
            let reparsed: Value = serde_json::from_str(&pretty).unwrap();
            // Rebuild every object with its keys inserted in reverse order.
            fn reverse_keys(v: &Value) -> Value {
                match v {
                    Value::Object(m) => {
                        let mut out = serde_json::Map::new();
                        for (k, val) in m.iter().rev() {
                            out.insert(k.clone(), reverse_keys(val));
                        }
                        Value::Object(out)
                    }
                    Value::Array(a) => Value::Array(a.iter().map(reverse_keys).collect()),
                    other => other.clone(),
                }
            }
            prop_assert_eq!(digest_of(&reverse_keys(&reparsed)).unwrap(), digest_of(&v).unwrap());
        }

        #[test]
        fn digest_display_parses_back(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
            let d = Digest::of_bytes(&bytes);
            prop_assert_eq!(d.to_string().parse::<Digest>().unwrap(), d);
        }
    }
}
