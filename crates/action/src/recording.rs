//! Recorded interactions keyed by the digest of their canonical request.
//!
//! A recording directory holds one JSON file per interaction,
//! `{"request": …, "response": …}`. Lookups are exact; a miss is an error
//! (exit 4) that names the nearest recorded request and the JSON pointers
//! where the two differ, never a silent live call.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use contextos_core::{Digest, DocumentError, ErrorKind, IoError, Kind, canonical_json, digest_of, parse_json};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One recorded interaction as stored on disk.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordedPair<Req, Resp> {
    /// The canonical request.
    pub request: Req,
    /// The recorded response.
    pub response: Resp,
}

/// A lookup found no recording for a request.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, miette::Diagnostic)]
#[error("no recorded {kind} interaction for {}request {digest}{}", call_text(.call), nearest_text(.nearest))]
#[diagnostic(help(
    "record it (`contextos run --script … --record DIR`) or fix the request; fixtures never fall back to a live call"
))]
pub struct FixtureMiss {
    /// `model` or `tool`.
    pub kind: String,
    /// Digest of the request that missed.
    pub digest: Digest,
    /// The nearest recorded request: its file and what differs (JSON
    /// pointers, or lines such as `tool added: restart_service` for model
    /// requests).
    pub nearest: Option<Box<(String, Vec<String>)>>,
    /// Which call missed, when the caller knows (`model call 3`), and why
    /// (`recorded model responses ran out`).
    pub call: Option<Box<str>>,
}

fn call_text(call: &Option<Box<str>>) -> String {
    call.as_ref().map(|c| format!("{c}, ")).unwrap_or_default()
}

fn nearest_text(nearest: &Option<Box<(String, Vec<String>)>>) -> String {
    match nearest.as_deref() {
        None => "; the recording is empty".to_string(),
        Some((file, differences)) => {
            let shown: Vec<_> = differences.iter().take(8).cloned().collect();
            let more = if differences.len() > 8 {
                format!(" and {} more", differences.len() - 8)
            } else {
                String::new()
            };
            // JSON pointers read "differing at /a, /b"; described differences are sentences.
            if differences.iter().all(|d| d.starts_with('/')) {
                format!(
                    "; nearest recorded request is {file}, differing at {}{more}",
                    shown.join(", ")
                )
            } else {
                format!("; nearest recorded request is {file}: {}{more}", shown.join("; "))
            }
        }
    }
}

impl Kind for FixtureMiss {
    /// Always a fixture miss (exit 4).
    fn kind(&self) -> ErrorKind {
        ErrorKind::FixtureMiss
    }
}

/// A recording that cannot be loaded.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum RecordingError {
    /// A file does not parse.
    #[error(transparent)]
    Document(#[from] DocumentError),
    /// A file or directory cannot be read or written.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Io(#[from] IoError),
    /// Two files record different responses for the same request.
    #[error("{first} and {second} record different responses for the same request {digest}")]
    Conflict {
        /// First file.
        first: String,
        /// Second file.
        second: String,
        /// The request digest.
        digest: Digest,
    },
}

impl Kind for RecordingError {
    /// Always an input error (exit 2).
    fn kind(&self) -> ErrorKind {
        ErrorKind::Input
    }
}

/// Recorded interactions of one kind, keyed by request digest.
#[derive(Debug, Clone)]
pub struct Recording<Req, Resp> {
    kind: String,
    entries: BTreeMap<Digest, (String, Value, RecordedPair<Req, Resp>)>,
}

impl<Req, Resp> Recording<Req, Resp>
where
    Req: Serialize + DeserializeOwned + Clone,
    Resp: Serialize + DeserializeOwned + Clone + PartialEq,
{
    /// An empty recording of `kind` (`model` or `tool`).
    pub fn empty(kind: &str) -> Self {
        Self {
            kind: kind.to_string(),
            entries: BTreeMap::new(),
        }
    }

    /// Loads every `*.json` file in `dir` (sorted); a missing directory is
    /// an empty recording, one that cannot be read (a file, a link loop) an
    /// error naming it.
    pub fn load(kind: &str, dir: &Path) -> Result<Self, RecordingError> {
        let mut rec = Self::empty(kind);
        match fs::metadata(dir) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(rec),
            Err(e) => return Err(IoError::new("read", dir, e).into()),
            Ok(meta) if !meta.is_dir() => {
                return Err(DocumentError::new(
                    dir.display().to_string(),
                    format!("expected a directory of recorded {kind} interactions, found a file"),
                )
                .into());
            }
            Ok(_) => {}
        }
        let files = contextos_fs::files_with_suffix(dir, &[".json"]).map_err(IoError::of("read", dir))?;
        for path in files {
            let shown = path.display().to_string();
            let text = fs::read_to_string(&path).map_err(IoError::of("read", &path))?;
            let pair: RecordedPair<Req, Resp> = parse_json(&shown, &text)?;
            rec.insert(shown, pair)?;
        }
        Ok(rec)
    }

    /// Adds an interaction recorded under `file`.
    pub fn insert(&mut self, file: String, pair: RecordedPair<Req, Resp>) -> Result<Digest, RecordingError> {
        let request_value = serde_json::to_value(&pair.request)
            .map_err(|e| DocumentError::new(&file, format!("request is not JSON: {e}")))?;
        let digest = digest_of(&request_value).map_err(|e| DocumentError::new(&file, e.to_string()))?;
        if let Some((first, _, existing)) = self.entries.get(&digest) {
            if existing.response != pair.response {
                return Err(RecordingError::Conflict {
                    first: first.clone(),
                    second: file,
                    digest,
                });
            }
            return Ok(digest);
        }
        self.entries.insert(digest, (file, request_value, pair));
        Ok(digest)
    }

    /// The number of recorded interactions.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is recorded.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The recorded response to `request`, or a miss naming the nearest
    /// recorded request and the JSON pointers where it differs.
    pub fn lookup(&self, request: &Req) -> Result<(Digest, Resp), FixtureMiss> {
        self.lookup_explained(request, |recorded, request| {
            differing_pointers(
                &serde_json::to_value(recorded).unwrap_or(Value::Null),
                &serde_json::to_value(request).unwrap_or(Value::Null),
            )
        })
    }

    /// As [`Recording::lookup`], with a miss's differences from the nearest
    /// recorded request (the one differing at the fewest JSON pointers) said
    /// by `explain(recorded, request)`.
    pub fn lookup_explained(
        &self,
        request: &Req,
        explain: impl Fn(&Req, &Req) -> Vec<String>,
    ) -> Result<(Digest, Resp), FixtureMiss> {
        let value = serde_json::to_value(request).unwrap_or(Value::Null);
        let digest = digest_of(&value).unwrap_or_else(|_| Digest::of_bytes(b""));
        if let Some((_, _, pair)) = self.entries.get(&digest) {
            return Ok((digest, pair.response.clone()));
        }
        let nearest = self
            .entries
            .values()
            .map(|(file, recorded, pair)| (file, differing_pointers(recorded, &value).len(), pair))
            .min_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(b.0)))
            .map(|(file, _, pair)| Box::new((file.clone(), explain(&pair.request, request))));
        Err(FixtureMiss {
            kind: self.kind.clone(),
            digest,
            nearest,
            call: None,
        })
    }

    /// The recorded requests, in file order.
    pub fn requests(&self) -> impl Iterator<Item = &Req> {
        self.entries.values().map(|(_, _, pair)| &pair.request)
    }

    /// Writes `pair` as `dir/<prefix>-<digest prefix>.json` (pretty JSON,
    /// sorted keys) and returns the file path. Used by `--record`.
    pub fn write_pair(dir: &Path, prefix: &str, pair: &RecordedPair<Req, Resp>) -> Result<PathBuf, RecordingError> {
        let value = serde_json::to_value(pair).map_err(|e| DocumentError::new(prefix, e.to_string()))?;
        let digest = digest_of(&value["request"]).map_err(|e| DocumentError::new(prefix, e.to_string()))?;
        fs::create_dir_all(dir).map_err(IoError::of("create", dir))?;
        let path = dir.join(format!("{prefix}-{}.json", &digest.hex()[..12]));
        // Pretty, key-sorted JSON: reviewable in diffs, stable across runs.
        let canonical: Value = serde_json::from_slice(&canonical_json(&value).unwrap_or_default()).unwrap_or(value);
        let mut text = serde_json::to_string_pretty(&canonical).unwrap_or_default();
        text.push('\n');
        fs::write(&path, text).map_err(IoError::of("write", &path))?;
        Ok(path)
    }
}

/// RFC 6901 JSON pointers at which `a` and `b` differ (sorted; a missing
/// member on either side counts as a difference at its pointer).
pub fn differing_pointers(a: &Value, b: &Value) -> Vec<String> {
    fn escape(key: &str) -> String {
        key.replace('~', "~0").replace('/', "~1")
    }
    fn walk(a: &Value, b: &Value, at: &str, out: &mut Vec<String>) {
        match (a, b) {
            (Value::Object(x), Value::Object(y)) => {
                let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
                for k in keys {
                    let here = format!("{at}/{}", escape(k));
                    match (x.get(k), y.get(k)) {
                        (Some(va), Some(vb)) => walk(va, vb, &here, out),
                        _ => out.push(here),
                    }
                }
            }
            (Value::Array(x), Value::Array(y)) => {
                for i in 0..x.len().max(y.len()) {
                    let here = format!("{at}/{i}");
                    match (x.get(i), y.get(i)) {
                        (Some(va), Some(vb)) => walk(va, vb, &here, out),
                        _ => out.push(here),
                    }
                }
            }
            _ if a == b => {}
            _ => out.push(if at.is_empty() { "/".to_string() } else { at.to_string() }),
        }
    }
    let mut out = Vec::new();
    walk(a, b, "", &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pointers_name_every_difference() {
        let a = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}], "a/b": 1});
        let b = json!({"model": "m", "messages": [{"role": "user", "content": "hello"}, {"role": "tool"}], "x": 2});
        assert_eq!(
            differing_pointers(&a, &b),
            vec!["/a~1b", "/messages/0/content", "/messages/1", "/x"]
        );
        assert!(differing_pointers(&a, &a).is_empty());
    }

    #[test]
    fn miss_names_nearest_request() {
        let mut rec: Recording<Value, Value> = Recording::empty("tool");
        rec.insert(
            "far.json".into(),
            RecordedPair {
                request: json!({"tool": "b", "arguments": {"id": 9, "z": 1}}),
                response: json!(1),
            },
        )
        .unwrap();
        rec.insert(
            "near.json".into(),
            RecordedPair {
                request: json!({"tool": "a", "arguments": {"id": 1}}),
                response: json!(2),
            },
        )
        .unwrap();
        assert_eq!(
            rec.lookup(&json!({"arguments": {"id": 1}, "tool": "a"})).unwrap().1,
            json!(2)
        );
        let miss = rec.lookup(&json!({"tool": "a", "arguments": {"id": 2}})).unwrap_err();
        assert_eq!(
            miss.nearest.as_deref(),
            Some(&("near.json".to_string(), vec!["/arguments/id".to_string()]))
        );
        assert!(
            miss.to_string()
                .contains("nearest recorded request is near.json, differing at /arguments/id"),
            "{miss}"
        );
    }

    #[test]
    fn conflicting_recordings_are_refused() {
        let mut rec: Recording<Value, Value> = Recording::empty("tool");
        rec.insert(
            "a.json".into(),
            RecordedPair {
                request: json!({"k": 1}),
                response: json!(1),
            },
        )
        .unwrap();
        assert!(matches!(
            rec.insert(
                "b.json".into(),
                RecordedPair {
                    request: json!({"k": 1}),
                    response: json!(2)
                }
            ),
            Err(RecordingError::Conflict { .. })
        ));
    }
}
