//! Looking at packs without compiling them: what a pack holds (layers,
//! owners, token counts, sources and their staleness) and what changed
//! between two packs. The CLI's `pack inspect` and `pack diff` render these.

use std::collections::{BTreeMap, BTreeSet};

use contextos_core::{ContextLayer, Digest, Timestamp};
use serde::Serialize;

use crate::compile::{header_tokens, snippet_tokens};
use crate::pack::{BuiltLayer, BuiltPack, BuiltSnippet, BuiltSource};
use crate::tokens::TokenCounter;

/// What a pack holds, with token counts under one encoding and staleness at one instant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PackInspection {
    /// `name:version`.
    pub id: String,
    /// Digest of the built pack.
    pub digest: Digest,
    /// What the pack is for.
    pub description: String,
    /// The encoding tokens were counted with.
    pub encoding: String,
    /// The instant staleness is judged at.
    pub now: Timestamp,
    /// Tokens of the whole pack rendered (every layer, every snippet).
    pub total_tokens: u64,
    /// The layers, in canonical order.
    pub layers: Vec<LayerInspection>,
}

/// One layer of an inspected pack.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LayerInspection {
    /// The layer.
    pub layer: ContextLayer,
    /// Its owner.
    pub owner: String,
    /// Allocation priority.
    pub priority: u32,
    /// Minimum tokens.
    pub min_tokens: u64,
    /// Maximum tokens.
    pub max_tokens: u64,
    /// Whether it is required.
    pub required: bool,
    /// Tokens of the layer rendered in full (header included).
    pub tokens: u64,
    /// Its sources.
    pub sources: Vec<SourceInspection>,
}

/// One source of an inspected pack.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SourceInspection {
    /// Where it came from.
    pub uri: String,
    /// Its owner (empty: unowned).
    pub owner: String,
    /// When it was fetched.
    pub fetched_at: Timestamp,
    /// Freshness in milliseconds, if it expires.
    pub ttl_ms: Option<u64>,
    /// When it expires, if it does.
    pub expires_at: Option<Timestamp>,
    /// Whether it is past `expires_at` at the inspection's `now`.
    pub stale: bool,
    /// Its digest.
    pub digest: Digest,
    /// Tokens of its snippets as rendered.
    pub tokens: u64,
    /// Its snippets.
    pub snippets: Vec<SnippetInspection>,
}

/// One snippet of an inspected pack.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SnippetInspection {
    /// Snippet id.
    pub id: String,
    /// Tokens as rendered.
    pub tokens: u64,
    /// Digest of the text.
    pub digest: Digest,
    /// The fact it states, if any.
    pub fact_key: Option<String>,
}

/// The newest `fetched_at` of a pack's sources: the default instant for
/// judging staleness when no clock reading is given.
pub fn newest_fetched_at(pack: &BuiltPack) -> Timestamp {
    pack.layers
        .iter()
        .flat_map(|l| &l.sources)
        .map(|s| s.fetched_at)
        .max()
        .unwrap_or(Timestamp(0))
}

/// Describes `pack` (whose digest is `digest`), counting tokens with
/// `counter` and judging staleness at `now`.
pub fn inspect_pack(pack: &BuiltPack, digest: Digest, counter: &TokenCounter, now: Timestamp) -> PackInspection {
    let layers: Vec<LayerInspection> = pack
        .layers
        .iter()
        .map(|layer| {
            let sources: Vec<SourceInspection> = layer
                .sources
                .iter()
                .map(|source| {
                    let snippets: Vec<SnippetInspection> = source
                        .snippets
                        .iter()
                        .map(|s| SnippetInspection {
                            id: s.id.clone(),
                            tokens: snippet_tokens(counter, s),
                            digest: s.digest,
                            fact_key: s.fact_key.clone(),
                        })
                        .collect();
                    SourceInspection {
                        uri: source.uri.clone(),
                        owner: source.owner.clone(),
                        fetched_at: source.fetched_at,
                        ttl_ms: source.ttl_ms,
                        expires_at: source.expires_at(),
                        stale: source.is_stale(now),
                        digest: source.digest,
                        tokens: snippets.iter().map(|s| s.tokens).sum(),
                        snippets,
                    }
                })
                .collect();
            LayerInspection {
                layer: layer.layer,
                owner: layer.owner.clone(),
                priority: layer.priority,
                min_tokens: layer.min_tokens,
                max_tokens: layer.max_tokens,
                required: layer.required,
                tokens: header_tokens(counter, layer.layer, &pack.id) + sources.iter().map(|s| s.tokens).sum::<u64>(),
                sources,
            }
        })
        .collect();
    PackInspection {
        id: pack.id.clone(),
        digest,
        description: pack.description.clone(),
        encoding: counter.encoding().as_str().to_owned(),
        now,
        total_tokens: layers.iter().map(|l| l.tokens).sum(),
        layers,
    }
}

/// Whether something was added, removed or changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// Only in the second pack.
    Added,
    /// Only in the first pack.
    Removed,
    /// In both, different.
    Changed,
}

/// One difference between two packs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PackChange {
    /// Added, removed or changed.
    pub kind: ChangeKind,
    /// What changed: `pack`, `layer memory`, `source domain <uri>`, `snippet <id>`.
    pub subject: String,
    /// The specifics (`priority 40 -> 50; text sha256:… -> sha256:…`).
    pub detail: String,
}

/// The differences between two packs, pack fields first, then per layer in
/// canonical order: the layer, its sources (by uri), its snippets (by id).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PackDiff {
    /// The first pack's id.
    pub from: String,
    /// The first pack's digest.
    pub from_digest: Digest,
    /// The second pack's id.
    pub to: String,
    /// The second pack's digest.
    pub to_digest: Digest,
    /// Every difference (empty when the packs are equal).
    pub changes: Vec<PackChange>,
}

fn field<T: PartialEq + std::fmt::Debug>(out: &mut Vec<String>, name: &str, a: &T, b: &T) {
    if a != b {
        out.push(format!("{name} {a:?} -> {b:?}"));
    }
}

fn change(kind: ChangeKind, subject: String, detail: String) -> PackChange {
    PackChange { kind, subject, detail }
}

fn layer_fields(a: &BuiltLayer, b: &BuiltLayer) -> Vec<String> {
    let mut out = Vec::new();
    field(&mut out, "owner", &a.owner, &b.owner);
    field(&mut out, "priority", &a.priority, &b.priority);
    field(&mut out, "min_tokens", &a.min_tokens, &b.min_tokens);
    field(&mut out, "max_tokens", &a.max_tokens, &b.max_tokens);
    field(&mut out, "required", &a.required, &b.required);
    out
}

fn source_fields(a: &BuiltSource, b: &BuiltSource) -> Vec<String> {
    let mut out = Vec::new();
    field(&mut out, "owner", &a.owner, &b.owner);
    field(&mut out, "fetched_at", &a.fetched_at.0, &b.fetched_at.0);
    field(&mut out, "ttl_ms", &a.ttl_ms, &b.ttl_ms);
    if a.digest != b.digest {
        out.push(format!("digest {} -> {}", a.digest, b.digest));
    }
    out
}

/// Where each snippet lives: id -> (layer, source uri, snippet).
fn snippets_of(pack: &BuiltPack) -> BTreeMap<&str, (ContextLayer, &str, &BuiltSnippet)> {
    let mut out = BTreeMap::new();
    for layer in &pack.layers {
        for source in &layer.sources {
            for snippet in &source.snippets {
                out.insert(snippet.id.as_str(), (layer.layer, source.uri.as_str(), snippet));
            }
        }
    }
    out
}

/// What changed from `a` to `b`.
pub fn diff_packs(a: &BuiltPack, a_digest: Digest, b: &BuiltPack, b_digest: Digest) -> PackDiff {
    let mut changes = Vec::new();
    let mut pack_fields = Vec::new();
    field(&mut pack_fields, "name", &a.name, &b.name);
    field(&mut pack_fields, "version", &a.version, &b.version);
    field(&mut pack_fields, "description", &a.description, &b.description);
    field(&mut pack_fields, "owner_tenant", &a.owner_tenant, &b.owner_tenant);
    if !pack_fields.is_empty() {
        changes.push(change(ChangeKind::Changed, "pack".into(), pack_fields.join("; ")));
    }
    let (snippets_a, snippets_b) = (snippets_of(a), snippets_of(b));
    for layer in ContextLayer::ALL {
        let (la, lb) = (a.layer(layer), b.layer(layer));
        match (la, lb) {
            (None, None) => continue,
            (Some(_), None) => changes.push(change(ChangeKind::Removed, format!("layer {layer}"), String::new())),
            (None, Some(_)) => changes.push(change(ChangeKind::Added, format!("layer {layer}"), String::new())),
            (Some(x), Some(y)) => {
                let fields = layer_fields(x, y);
                if !fields.is_empty() {
                    changes.push(change(ChangeKind::Changed, format!("layer {layer}"), fields.join("; ")));
                }
            }
        }
        let sources = |l: Option<&BuiltLayer>| -> BTreeMap<String, BuiltSource> {
            l.map(|l| l.sources.iter().map(|s| (s.uri.clone(), s.clone())).collect())
                .unwrap_or_default()
        };
        let (sa, sb) = (sources(la), sources(lb));
        let uris: BTreeSet<&String> = sa.keys().chain(sb.keys()).collect();
        for uri in uris {
            let subject = format!("source {layer} {uri}");
            match (sa.get(uri), sb.get(uri)) {
                (Some(_), None) => changes.push(change(ChangeKind::Removed, subject, String::new())),
                (None, Some(_)) => changes.push(change(ChangeKind::Added, subject, String::new())),
                (Some(x), Some(y)) => {
                    let fields = source_fields(x, y);
                    if !fields.is_empty() {
                        changes.push(change(ChangeKind::Changed, subject, fields.join("; ")));
                    }
                }
                (None, None) => {}
            }
        }
        // Snippets are keyed by id across the pack; each is reported under its layer in `b` (or `a` if removed).
        let ids: BTreeSet<&str> = snippets_a
            .iter()
            .filter(|(id, (l, _, _))| *l == layer && snippets_b.get(*id).is_none_or(|(lb, _, _)| *lb == layer))
            .chain(snippets_b.iter().filter(|(_, (l, _, _))| *l == layer))
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            let subject = format!("snippet {id}");
            match (snippets_a.get(id), snippets_b.get(id)) {
                (Some(_), None) => changes.push(change(ChangeKind::Removed, subject, format!("from layer {layer}"))),
                (None, Some(_)) => changes.push(change(ChangeKind::Added, subject, format!("in layer {layer}"))),
                (Some((la, ua, x)), Some((lb, ub, y))) => {
                    let mut fields = Vec::new();
                    if la != lb {
                        fields.push(format!("moved from layer {la} to {lb}"));
                    } else if ua != ub {
                        fields.push(format!("moved from source {ua} to {ub}"));
                    }
                    if x.digest != y.digest {
                        fields.push(format!("text {} -> {}", x.digest, y.digest));
                    }
                    field(&mut fields, "fact_key", &x.fact_key, &y.fact_key);
                    if !fields.is_empty() {
                        changes.push(change(ChangeKind::Changed, subject, fields.join("; ")));
                    }
                }
                (None, None) => {}
            }
        }
    }
    PackDiff {
        from: a.id.clone(),
        from_digest: a_digest,
        to: b.id.clone(),
        to_digest: b_digest,
        changes,
    }
}
