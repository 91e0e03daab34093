//! The pack format: the YAML source a team writes ([`PackSource`]) and the
//! built artifact the runtime trusts ([`BuiltPack`]), with the one set of
//! rules both must satisfy.
//!
//! Building is a pure function of the source text: layers are put in
//! canonical order, snippet text is trimmed, and every snippet and source
//! gets a digest of its content. A built pack's id is `name:version` and its
//! digest is the sha256 of its canonical JSON, so rebuilding the same source
//! gives the same bytes and the same digest.

use std::collections::{BTreeMap, BTreeSet};

use contextos_core::{ContextLayer, Digest, FORMAT_VERSION, Timestamp, digest_of, parse_yaml};
use serde::{Deserialize, Serialize};

use crate::error::PackError;

/// A pack source file (`pack.yaml`), as a team writes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PackSource {
    /// Document format version (1).
    pub format_version: u32,
    /// Pack name: lowercase letters, digits, `_` and `-`.
    pub name: String,
    /// Pack version, a positive integer; a changed pack gets a new version.
    pub version: u32,
    /// What the pack is for.
    #[serde(default)]
    pub description: String,
    /// The tenant that owns the pack, if it is tenant-private (Cedar `owner_tenant`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_tenant: Option<String>,
    /// The layers, each at most once, in any order.
    pub layers: Vec<LayerSource>,
}

/// One layer of a pack source.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct LayerSource {
    /// Which of the ten layers this is.
    pub layer: ContextLayer,
    /// The team or person that owns the layer's content.
    pub owner: String,
    /// Allocation priority after required layers (higher first).
    pub priority: u32,
    /// Tokens the layer gets before any layer gets more than its minimum.
    pub min_tokens: u64,
    /// Tokens the layer may never exceed (header line included).
    pub max_tokens: u64,
    /// Whether the run needs this layer: allocated first; never loses stale content.
    #[serde(default)]
    pub required: bool,
    /// Where the content comes from.
    pub sources: Vec<SourceSpec>,
}

/// A source of content with its provenance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct SourceSpec {
    /// Where the content was fetched from.
    pub uri: String,
    /// Who owns the source; empty or absent is a context-debt warning.
    #[serde(default)]
    pub owner: String,
    /// When the content was fetched (milliseconds since the Unix epoch).
    pub fetched_at: Timestamp,
    /// How long the content stays fresh, in milliseconds; absent: it does not expire.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_ms: Option<u64>,
    /// The content, cut into snippets (the compiler includes or omits whole snippets).
    pub snippets: Vec<SnippetSource>,
}

/// A unit of content.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct SnippetSource {
    /// Unique within the pack.
    pub id: String,
    /// The text (leading and trailing whitespace is trimmed at build).
    pub text: String,
    /// Names the fact the snippet states: two included snippets of a layer
    /// with the same key and different text are conflicting facts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fact_key: Option<String>,
}

/// A built pack: immutable, content-addressed, the payload that is signed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuiltPack {
    /// Document format version.
    pub format_version: u32,
    /// `name:version`.
    pub id: String,
    /// Pack name.
    pub name: String,
    /// Pack version.
    pub version: u32,
    /// What the pack is for.
    pub description: String,
    /// The tenant that owns the pack, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_tenant: Option<String>,
    /// The layers, in canonical order.
    pub layers: Vec<BuiltLayer>,
}

/// One built layer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuiltLayer {
    /// Which layer.
    pub layer: ContextLayer,
    /// Owner of the layer's content.
    pub owner: String,
    /// Allocation priority.
    pub priority: u32,
    /// Minimum tokens.
    pub min_tokens: u64,
    /// Maximum tokens.
    pub max_tokens: u64,
    /// Whether the layer is required.
    pub required: bool,
    /// Sources, in source-file order.
    pub sources: Vec<BuiltSource>,
}

/// One built source with its provenance and digest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuiltSource {
    /// Where the content came from.
    pub uri: String,
    /// Owner (may be empty: unowned).
    pub owner: String,
    /// When it was fetched.
    pub fetched_at: Timestamp,
    /// Freshness in milliseconds (absent: does not expire).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_ms: Option<u64>,
    /// sha256 over one line `<snippet id> <snippet digest>` per snippet, in order.
    pub digest: Digest,
    /// Snippets, in source-file order.
    pub snippets: Vec<BuiltSnippet>,
}

/// One built snippet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuiltSnippet {
    /// Unique within the pack.
    pub id: String,
    /// Trimmed text.
    pub text: String,
    /// sha256 of the text's UTF-8 bytes.
    pub digest: Digest,
    /// The fact the snippet states, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fact_key: Option<String>,
}

impl BuiltSource {
    /// Whether the source is past `fetched_at + ttl` at `now`.
    pub fn is_stale(&self, now: Timestamp) -> bool {
        self.expires_at().is_some_and(|at| at < now)
    }

    /// When the source stops being fresh, if it expires.
    pub fn expires_at(&self) -> Option<Timestamp> {
        self.ttl_ms.map(|ttl| self.fetched_at.plus_millis(ttl))
    }
}

impl BuiltPack {
    /// The pack's digest: sha256 of its canonical JSON (the signed payload).
    pub fn digest(&self) -> Result<Digest, PackError> {
        digest_of(self).map_err(|e| PackError::invalid(&self.id, "pack", e.to_string()))
    }

    /// The layer, if the pack has it.
    pub fn layer(&self, layer: ContextLayer) -> Option<&BuiltLayer> {
        self.layers.iter().find(|l| l.layer == layer)
    }
}

/// Parses pack source text (YAML) read from `file`. Unknown fields and wrong
/// types are errors naming the file, line and column.
pub fn parse_pack_source(file: &str, text: &str) -> Result<PackSource, PackError> {
    Ok(parse_yaml(file, text)?)
}

/// Builds a pack from its source: validates it, orders layers canonically,
/// trims snippet text and computes every digest. Pure: the same source gives
/// the same [`BuiltPack`] (and so the same bytes and digest).
pub fn build_pack(file: &str, source: &PackSource) -> Result<BuiltPack, PackError> {
    let mut seen = BTreeSet::new();
    for (i, layer) in source.layers.iter().enumerate() {
        if !seen.insert(layer.layer) {
            return Err(PackError::invalid(
                file,
                format!("layers[{i}].layer"),
                format!(
                    "layer {} appears more than once; each layer appears at most once",
                    layer.layer
                ),
            ));
        }
    }
    let mut layers: Vec<BuiltLayer> = source.layers.iter().map(build_layer).collect();
    layers.sort_by_key(|l| l.layer);
    let pack = BuiltPack {
        format_version: source.format_version,
        id: format!("{}:{}", source.name, source.version),
        name: source.name.clone(),
        version: source.version,
        description: source.description.trim().to_owned(),
        owner_tenant: source.owner_tenant.clone(),
        layers,
    };
    validate(file, &pack)?;
    Ok(pack)
}

fn build_layer(layer: &LayerSource) -> BuiltLayer {
    BuiltLayer {
        layer: layer.layer,
        owner: layer.owner.clone(),
        priority: layer.priority,
        min_tokens: layer.min_tokens,
        max_tokens: layer.max_tokens,
        required: layer.required,
        sources: layer
            .sources
            .iter()
            .map(|s| {
                let snippets: Vec<BuiltSnippet> = s
                    .snippets
                    .iter()
                    .map(|snippet| {
                        let text = snippet.text.trim().to_owned();
                        BuiltSnippet {
                            id: snippet.id.clone(),
                            digest: Digest::of_bytes(text.as_bytes()),
                            text,
                            fact_key: snippet.fact_key.clone(),
                        }
                    })
                    .collect();
                BuiltSource {
                    uri: s.uri.clone(),
                    owner: s.owner.trim().to_owned(),
                    fetched_at: s.fetched_at,
                    ttl_ms: s.ttl_ms,
                    digest: source_digest(&snippets),
                    snippets,
                }
            })
            .collect(),
    }
}

/// The digest of a source: sha256 over one line `<snippet id> <snippet digest>\n`
/// per snippet, in order (snippet ids hold no spaces or newlines).
pub(crate) fn source_digest(snippets: &[BuiltSnippet]) -> Digest {
    let mut lines = String::new();
    for s in snippets {
        lines.push_str(&s.id);
        lines.push(' ');
        lines.push_str(&s.digest.to_string());
        lines.push('\n');
    }
    Digest::of_bytes(lines.as_bytes())
}

fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

fn is_snippet_id(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'/'))
}

/// The rules every pack satisfies, built from source or loaded as an artifact.
pub(crate) fn validate(file: &str, pack: &BuiltPack) -> Result<(), PackError> {
    let bad = |field: String, message: String| Err(PackError::invalid(file, field, message));
    if pack.format_version != FORMAT_VERSION {
        return bad(
            "format_version".into(),
            format!(
                "unsupported format_version {}, expected {FORMAT_VERSION}",
                pack.format_version
            ),
        );
    }
    if !is_name(&pack.name) {
        return bad(
            "name".into(),
            format!(
                "invalid pack name {:?}: use lowercase letters, digits, '_' and '-'",
                pack.name
            ),
        );
    }
    if pack.version == 0 {
        return bad("version".into(), "version must be 1 or more".into());
    }
    let id = format!("{}:{}", pack.name, pack.version);
    if pack.id != id {
        return bad("id".into(), format!("id {:?} is not name:version ({id:?})", pack.id));
    }
    if pack.owner_tenant.as_deref().is_some_and(|t| t.trim().is_empty()) {
        return bad(
            "owner_tenant".into(),
            "owner_tenant is empty; omit it for a shared pack".into(),
        );
    }
    if pack.layers.is_empty() {
        return bad("layers".into(), "a pack has at least one layer".into());
    }
    if let Some(w) = pack.layers.windows(2).find(|w| w[0].layer >= w[1].layer) {
        return bad(
            format!("layers[{}]", w[1].layer),
            "layers are not in canonical order or appear twice".into(),
        );
    }
    let mut snippet_ids: BTreeMap<&str, String> = BTreeMap::new();
    for layer in &pack.layers {
        validate_layer(file, layer, &mut snippet_ids)?;
    }
    Ok(())
}

/// A layer's rules and its sources', with snippet ids unique across the pack
/// (`snippet_ids` holds where each was first seen).
fn validate_layer<'p>(
    file: &str,
    layer: &'p BuiltLayer,
    snippet_ids: &mut BTreeMap<&'p str, String>,
) -> Result<(), PackError> {
    let bad = |field: String, message: String| Err(PackError::invalid(file, field, message));
    let at = format!("layers[{}]", layer.layer);
    if layer.owner.trim().is_empty() {
        return bad(format!("{at}.owner"), "every layer names its owner".into());
    }
    if layer.max_tokens == 0 {
        return bad(format!("{at}.max_tokens"), "max_tokens must be more than 0".into());
    }
    if layer.min_tokens > layer.max_tokens {
        return bad(
            format!("{at}.min_tokens"),
            format!(
                "min_tokens {} is more than max_tokens {}",
                layer.min_tokens, layer.max_tokens
            ),
        );
    }
    if layer.sources.is_empty() {
        return bad(format!("{at}.sources"), "a layer has at least one source".into());
    }
    let mut uris = BTreeSet::new();
    for (si, source) in layer.sources.iter().enumerate() {
        let at = format!("{at}.sources[{si}]");
        if source.uri.trim().is_empty() {
            return bad(format!("{at}.uri"), "every source names its uri".into());
        }
        if !uris.insert(source.uri.as_str()) {
            return bad(
                format!("{at}.uri"),
                format!("source {:?} appears twice in layer {}", source.uri, layer.layer),
            );
        }
        if source.snippets.is_empty() {
            return bad(format!("{at}.snippets"), "a source has at least one snippet".into());
        }
        for (ni, snippet) in source.snippets.iter().enumerate() {
            validate_snippet(file, format!("{at}.snippets[{ni}]"), snippet, snippet_ids)?;
        }
    }
    Ok(())
}

/// A snippet's rules; `at` is its field path.
fn validate_snippet<'p>(
    file: &str,
    at: String,
    snippet: &'p BuiltSnippet,
    snippet_ids: &mut BTreeMap<&'p str, String>,
) -> Result<(), PackError> {
    let bad = |field: String, message: String| Err(PackError::invalid(file, field, message));
    if !is_snippet_id(&snippet.id) {
        return bad(
            format!("{at}.id"),
            format!(
                "invalid snippet id {:?}: use letters, digits, '_', '-', '.' and '/'",
                snippet.id
            ),
        );
    }
    if let Some(first) = snippet_ids.insert(&snippet.id, at.clone()) {
        return bad(
            format!("{at}.id"),
            format!("duplicate snippet id {:?} (first at {first})", snippet.id),
        );
    }
    if snippet.text.is_empty() {
        return bad(format!("{at}.text"), "snippet text is empty".into());
    }
    if snippet.fact_key.as_deref().is_some_and(|k| k.trim().is_empty()) {
        return bad(format!("{at}.fact_key"), "fact_key is empty; omit it instead".into());
    }
    Ok(())
}

/// Checks that an artifact's content matches its digests: every snippet's
/// text, every source's snippets, and trimmed text as the builder writes it.
pub(crate) fn check_digests(file: &str, pack: &BuiltPack) -> Result<(), PackError> {
    for layer in &pack.layers {
        for source in &layer.sources {
            for snippet in &source.snippets {
                if snippet.text.trim() != snippet.text {
                    return Err(PackError::tampered(
                        file,
                        format!("snippet {} has untrimmed text, which no build writes", snippet.id),
                    ));
                }
                let actual = Digest::of_bytes(snippet.text.as_bytes());
                if actual != snippet.digest {
                    return Err(PackError::tampered(
                        file,
                        format!(
                            "snippet {} text digest is {actual}, not the recorded {}",
                            snippet.id, snippet.digest
                        ),
                    ));
                }
            }
            let actual = source_digest(&source.snippets);
            if actual != source.digest {
                return Err(PackError::tampered(
                    file,
                    format!(
                        "source {} digest is {actual}, not the recorded {}",
                        source.uri, source.digest
                    ),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = "\
format_version: 1
name: tiny
version: 2
layers:
  - layer: task
    owner: team-a
    priority: 10
    min_tokens: 0
    max_tokens: 100
    sources:
      - uri: file:///task.md
        owner: team-a
        fetched_at: 1000
        snippets:
          - id: t1
            text: \"  Triage the ticket.\\n\"
  - layer: system
    owner: team-a
    priority: 50
    min_tokens: 10
    max_tokens: 200
    required: true
    sources:
      - uri: file:///system.md
        fetched_at: 1000
        ttl_ms: 5
        snippets:
          - id: s1
            text: You are careful.
";

    fn build(text: &str) -> Result<BuiltPack, PackError> {
        build_pack("pack.yaml", &parse_pack_source("pack.yaml", text)?)
    }

    #[test]
    fn build_orders_layers_trims_and_digests() {
        let pack = build(MINIMAL).unwrap();
        assert_eq!(pack.id, "tiny:2");
        let order: Vec<_> = pack.layers.iter().map(|l| l.layer).collect();
        assert_eq!(order, [ContextLayer::System, ContextLayer::Task]);
        let t1 = &pack.layers[1].sources[0].snippets[0];
        assert_eq!(t1.text, "Triage the ticket.");
        assert_eq!(t1.digest, Digest::of_bytes(b"Triage the ticket."));
        check_digests("x", &pack).unwrap();
        assert!(pack.layers[0].sources[0].is_stale(Timestamp(1006)));
        assert!(!pack.layers[0].sources[0].is_stale(Timestamp(1005)));
        assert!(!pack.layers[1].sources[0].is_stale(Timestamp(u64::MAX)));
    }

    #[test]
    fn semantic_errors_name_the_field() {
        let dup_layer = MINIMAL.replace("layer: task", "layer: system");
        let err = build(&dup_layer).unwrap_err().to_string();
        assert!(
            err.contains("layers[1].layer") && err.contains("more than once"),
            "{err}"
        );

        let min_over_max = MINIMAL.replace("min_tokens: 10", "min_tokens: 500");
        let err = build(&min_over_max).unwrap_err().to_string();
        assert!(
            err.contains("layers[system].min_tokens") && err.contains("min_tokens 500 is more than max_tokens 200"),
            "{err}"
        );

        let dup_snippet = MINIMAL.replace("id: s1", "id: t1");
        let err = build(&dup_snippet).unwrap_err().to_string();
        assert!(err.contains("duplicate snippet id \"t1\""), "{err}");
        assert!(err.starts_with("invalid pack pack.yaml: "), "{err}");
    }

    #[test]
    fn tampered_text_is_caught() {
        let mut pack = build(MINIMAL).unwrap();
        pack.layers[0].sources[0].snippets[0].text = "You are reckless.".into();
        let err = check_digests("p.json", &pack).unwrap_err();
        assert_eq!(
            contextos_core::Kind::kind(&err),
            contextos_core::ErrorKind::Verification
        );
        assert!(err.to_string().contains("snippet s1 text digest"), "{err}");
    }
}
