//! The context compiler: packs + request + run -> [`CompiledContext`].
//!
//! Pipeline: select packs and layers through the [`PackGate`]; (signatures
//! were verified by the loader: only a [`LoadedPack`] gets here); rank the
//! candidate snippets against the request (BM25); allocate the token budget
//! (see [`crate::allocate`]); render the prompt; emit the manifest, ranking,
//! omissions, controls, budget report and context-debt warnings.
//!
//! A pure function of its inputs: time is the `now` passed in, iteration is
//! over ordered collections, and the token-count cache only changes speed.
//!
//! Decisions worth knowing:
//! - **Stale sources** (`fetched_at + ttl < now`) always produce a
//!   `stale_source` warning. In a layer that is not required their snippets
//!   are omitted with reason `stale`; in a required layer they are kept,
//!   because silently dropping a required layer's content (the output
//!   contract, say) is worse than using it late.
//! - **Prompt layout**: layers in canonical order (then packs in input
//!   order), each introduced by `## <layer> (<pack id>)`, then one line group
//!   per snippet, `[<snippet id>] <text>`, in rank order. Every chunk ends in a
//!   newline and starts with `#` or `[`, so no tokenizer pre-token crosses
//!   two chunks and the prompt's token count is exactly the sum of its
//!   chunks' cached counts.
//! - **Duplicates**: a snippet whose text is already included (any pack or
//!   layer) is omitted with reason `duplicate`.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use contextos_core::{
    BudgetReport, CompiledContext, ContextLayer, ContextPackRef, DebtKind, DebtWarning, Digest, FORMAT_VERSION,
    LayerBudget, ManifestLayer, ManifestSnippet, ManifestSource, OmitReason, OmittedSnippet, RankedSnippet, RunContext,
    Timestamp,
};

use crate::allocate::{Fate, Group, Item, allocate};
use crate::error::CompileError;
use crate::gate::{PackGate, PackRefInfo};
use crate::load::LoadedPack;
use crate::pack::{BuiltLayer, BuiltSnippet, BuiltSource};
use crate::rank::bm25_millis;
use crate::tokens::{Encoding, TokenCounter};

/// Everything a compilation depends on.
#[derive(Clone, Copy, Debug)]
pub struct CompileInput<'a> {
    /// The loaded (verified or development-flagged) packs, in precedence order.
    pub packs: &'a [LoadedPack],
    /// The request text snippets are ranked against.
    pub request: &'a str,
    /// The run's identity envelope.
    pub run: &'a RunContext,
    /// The injected clock's reading (staleness is judged against it).
    pub now: Timestamp,
    /// Tokens the rendered context may take.
    pub token_budget: u64,
    /// The model the context is for; picks the tokenizer.
    pub model: &'a str,
    /// The token counter for the model's encoding (keep it across compiles: it caches).
    pub tokens: &'a TokenCounter,
}

/// The rendered chunk of one snippet.
fn snippet_chunk(snippet: &BuiltSnippet) -> String {
    format!("[{}] {}\n", snippet.id, snippet.text)
}

/// The header line of one pack layer.
fn header_chunk(layer: ContextLayer, pack: &str) -> String {
    format!("## {layer} ({pack})\n")
}

/// Tokens of a snippet as rendered, cached by a key of its id and text digest.
pub(crate) fn snippet_tokens(counter: &TokenCounter, snippet: &BuiltSnippet) -> u64 {
    let mut key = Vec::with_capacity(snippet.id.len() + 33);
    key.extend_from_slice(snippet.id.as_bytes());
    key.push(b'\n');
    key.extend_from_slice(snippet.digest.as_bytes());
    counter.count_cached(&Digest::of_bytes(&key), || snippet_chunk(snippet))
}

/// Tokens of a layer's header line as rendered.
pub(crate) fn header_tokens(counter: &TokenCounter, layer: ContextLayer, pack: &str) -> u64 {
    let header = header_chunk(layer, pack);
    counter.count_cached(&Digest::of_bytes(header.as_bytes()), || header)
}

/// A snippet of a permitted layer.
struct Candidate<'p> {
    group: usize,
    source: &'p BuiltSource,
    snippet: &'p BuiltSnippet,
    /// Position in the pack, for stable output order.
    position: usize,
    tokens: u64,
    score: u64,
    stale: bool,
}

/// A permitted pack layer.
struct LayerGroup<'p> {
    pack_index: usize,
    pack_id: &'p str,
    layer: &'p BuiltLayer,
    header_tokens: u64,
    /// Candidate indices in rank order (stale-omitted ones excluded).
    ranked: Vec<usize>,
}

/// Collects omissions with a sort key (layer, pack, position in pack).
struct Omissions(Vec<((ContextLayer, usize, usize), OmittedSnippet)>);

impl Omissions {
    #[expect(
        clippy::too_many_arguments,
        reason = "one call site per reason; a struct would only rename them"
    )]
    fn push(
        &mut self,
        pack_index: usize,
        pack: &str,
        layer: ContextLayer,
        position: usize,
        source: &BuiltSource,
        snippet: &BuiltSnippet,
        tokens: u64,
        reason: OmitReason,
        detail: String,
        policy_ids: &[String],
    ) {
        self.0.push((
            (layer, pack_index, position),
            OmittedSnippet {
                pack: pack.to_owned(),
                layer,
                id: snippet.id.clone(),
                digest: snippet.digest,
                source_uri: source.uri.clone(),
                tokens,
                reason,
                detail,
                policy_ids: policy_ids.to_vec(),
            },
        ));
    }
}

fn ref_info(loaded: &LoadedPack) -> PackRefInfo {
    let pack = loaded.pack();
    PackRefInfo {
        id: pack.id.clone(),
        name: pack.name.clone(),
        version: pack.version,
        digest: loaded.digest(),
        signed: loaded.is_signed(),
        owner_tenant: pack.owner_tenant.clone(),
    }
}

fn debt(pack: &str, layer: Option<ContextLayer>, kind: DebtKind, subject: &str, message: String) -> DebtWarning {
    DebtWarning {
        pack: pack.to_owned(),
        layer,
        kind,
        subject: subject.to_owned(),
        message,
    }
}

fn starved_by_policy(pack: &str, layer: &BuiltLayer, reason: &str) -> DebtWarning {
    debt(
        pack,
        Some(layer.layer),
        DebtKind::RequiredLayerStarved,
        layer.layer.as_str(),
        format!("required layer {} is denied by policy: {reason}", layer.layer),
    )
}

/// Compiles the context for one run. See the module docs for the pipeline
/// and the decisions it makes; the result is a pure function of `input` and
/// the gate's verdicts.
pub fn compile<G: PackGate + ?Sized>(input: &CompileInput<'_>, gate: &G) -> Result<CompiledContext, CompileError> {
    let encoding = Encoding::for_model(input.model)?;
    if input.tokens.encoding() != encoding {
        return Err(CompileError::EncodingMismatch {
            model: input.model.to_owned(),
            model_encoding: encoding.as_str(),
            counter: input.tokens.encoding().as_str(),
        });
    }
    let mut ids = BTreeSet::new();
    for loaded in input.packs {
        if !ids.insert(loaded.pack().id.as_str()) {
            return Err(CompileError::DuplicatePack {
                id: loaded.pack().id.clone(),
            });
        }
    }
    let counter = input.tokens;
    let tokens_of = |snippet: &BuiltSnippet| snippet_tokens(counter, snippet);

    let mut controls = vec![
        format!("budget:{}", input.token_budget),
        "policy:use_pack".to_owned(),
        format!("safety_mode:{}", input.run.safety_mode.as_str()),
        format!("approval_mode:{}", input.run.approval_mode),
    ];
    let mut packs_used = Vec::new();
    let mut omitted = Omissions(Vec::new());
    let mut debts = Vec::new();
    let mut layer_budgets: Vec<((ContextLayer, usize), LayerBudget)> = Vec::new();
    let mut groups: Vec<LayerGroup<'_>> = Vec::new();
    let mut candidates: Vec<Candidate<'_>> = Vec::new();

    // 1. Select packs and layers.
    for (pack_index, loaded) in input.packs.iter().enumerate() {
        let pack = loaded.pack();
        let info = ref_info(loaded);
        if !loaded.is_signed() {
            if !controls.iter().any(|c| c == "unsigned_pack_dev_mode") {
                controls.push("unsigned_pack_dev_mode".to_owned());
            }
            debts.push(debt(
                &pack.id,
                None,
                DebtKind::UnsignedPackDevMode,
                &pack.id,
                format!(
                    "pack {} is not signed and was used only because allow_unsigned_dev_packs is set",
                    pack.id
                ),
            ));
        }
        let pack_verdict = gate.allow_pack(&info);
        if pack_verdict.allowed {
            packs_used.push(ContextPackRef {
                id: pack.id.clone(),
                digest: loaded.digest(),
            });
        }
        let mut position = 0;
        for layer in &pack.layers {
            let verdict = if pack_verdict.allowed {
                gate.allow_layer(&info, layer.layer)
            } else {
                pack_verdict.clone()
            };
            if !verdict.allowed {
                let what = if pack_verdict.allowed { "layer" } else { "pack" };
                let mut lost = 0;
                for source in &layer.sources {
                    for snippet in &source.snippets {
                        let tokens = tokens_of(snippet);
                        lost += tokens;
                        let detail = format!("{what} denied: {}", verdict.reason);
                        omitted.push(
                            pack_index,
                            &pack.id,
                            layer.layer,
                            position,
                            source,
                            snippet,
                            tokens,
                            OmitReason::Policy,
                            detail,
                            &verdict.policy_ids,
                        );
                        position += 1;
                    }
                }
                if layer.required {
                    debts.push(starved_by_policy(&pack.id, layer, &verdict.reason));
                }
                layer_budgets.push(((layer.layer, pack_index), layer_budget(&pack.id, layer, 0, 0, lost)));
                continue;
            }
            let group = groups.len();
            for source in &layer.sources {
                let stale = source.is_stale(input.now);
                if stale {
                    debts.push(stale_warning(&pack.id, layer, source, input.now));
                }
                if source.owner.is_empty() {
                    debts.push(debt(
                        &pack.id,
                        Some(layer.layer),
                        DebtKind::UnownedSource,
                        &source.uri,
                        format!(
                            "source {} names no owner: nobody is responsible for keeping it right",
                            source.uri
                        ),
                    ));
                }
                for snippet in &source.snippets {
                    candidates.push(Candidate {
                        group,
                        source,
                        snippet,
                        position,
                        tokens: tokens_of(snippet),
                        score: 0,
                        stale,
                    });
                    position += 1;
                }
            }
            groups.push(LayerGroup {
                pack_index,
                pack_id: &pack.id,
                layer,
                header_tokens: header_tokens(counter, layer.layer, &pack.id),
                ranked: Vec::new(),
            });
        }
    }

    // 2. Rank: BM25 over the candidates, ties by snippet id, then pack order.
    let texts: Vec<&str> = candidates.iter().map(|c| c.snippet.text.as_str()).collect();
    for (candidate, score) in candidates.iter_mut().zip(bm25_millis(input.request, &texts)) {
        candidate.score = score;
    }
    let mut rank_order: Vec<usize> = (0..candidates.len()).collect();
    rank_order.sort_by(|&a, &b| {
        let (ca, cb) = (&candidates[a], &candidates[b]);
        cb.score
            .cmp(&ca.score)
            .then_with(|| ca.snippet.id.cmp(&cb.snippet.id))
            .then_with(|| groups[ca.group].pack_index.cmp(&groups[cb.group].pack_index))
    });
    let ranked: Vec<RankedSnippet> = rank_order
        .iter()
        .map(|&i| {
            let c = &candidates[i];
            RankedSnippet {
                pack: groups[c.group].pack_id.to_owned(),
                layer: groups[c.group].layer.layer,
                id: c.snippet.id.clone(),
                score_millis: c.score,
            }
        })
        .collect();

    // Stale snippets of layers that are not required leave before allocation.
    for &i in &rank_order {
        let c = &candidates[i];
        let g = &groups[c.group];
        if c.stale && !g.layer.required {
            let detail = format!(
                "source {} expired at {}ms, before now ({}ms)",
                c.source.uri,
                c.source.expires_at().map_or(0, |t| t.0),
                input.now.0
            );
            omitted.push(
                g.pack_index,
                g.pack_id,
                g.layer.layer,
                c.position,
                c.source,
                c.snippet,
                c.tokens,
                OmitReason::Stale,
                detail,
                &[],
            );
        } else {
            groups[c.group].ranked.push(i);
        }
    }

    // 3. Allocate.
    let mut text_keys: HashMap<Digest, usize> = HashMap::new();
    let alloc_groups: Vec<Group> = groups
        .iter()
        .map(|g| Group {
            required: g.layer.required,
            priority: g.layer.priority,
            min_tokens: g.layer.min_tokens,
            max_tokens: g.layer.max_tokens,
            header_tokens: g.header_tokens,
            items: g
                .ranked
                .iter()
                .map(|&i| {
                    let next = text_keys.len();
                    Item {
                        tokens: candidates[i].tokens,
                        key: *text_keys.entry(candidates[i].snippet.digest).or_insert(next),
                    }
                })
                .collect(),
        })
        .collect();
    let allocation = allocate(&alloc_groups, input.token_budget);
    let mut included: BTreeSet<usize> = BTreeSet::new();
    let mut first_holder: HashMap<Digest, usize> = HashMap::new();
    for (g, group) in groups.iter().enumerate() {
        for (&i, fate) in group.ranked.iter().zip(&allocation.fates[g]) {
            if *fate == Fate::Included {
                included.insert(i);
                first_holder.insert(candidates[i].snippet.digest, i);
            }
        }
    }
    for (g, group) in groups.iter().enumerate() {
        let layer = group.layer;
        let mut lost = 0;
        let mut cut_by_budget = false;
        for (&i, fate) in group.ranked.iter().zip(&allocation.fates[g]) {
            let c = &candidates[i];
            let (reason, detail) = match fate {
                Fate::Included => continue,
                Fate::OverLayerMax => (
                    OmitReason::Budget,
                    format!("layer {} reached its max_tokens {}", layer.layer, layer.max_tokens),
                ),
                Fate::OverBudget => (
                    OmitReason::Budget,
                    format!("the token budget {} was used up", input.token_budget),
                ),
                Fate::Duplicate => {
                    let holder = first_holder.get(&c.snippet.digest).map(|&h| &candidates[h]);
                    let detail = match holder {
                        Some(h) => format!(
                            "same text as {}#{}, already included",
                            groups[h.group].pack_id, h.snippet.id
                        ),
                        None => "same text as a snippet already included".to_owned(),
                    };
                    (OmitReason::Duplicate, detail)
                }
            };
            cut_by_budget |= reason == OmitReason::Budget;
            lost += c.tokens;
            omitted.push(
                group.pack_index,
                group.pack_id,
                layer.layer,
                c.position,
                c.source,
                c.snippet,
                c.tokens,
                reason,
                detail,
                &[],
            );
        }
        let stale_lost: u64 = candidates
            .iter()
            .filter(|c| c.group == g && c.stale && !layer.required)
            .map(|c| c.tokens)
            .sum();
        let used = allocation.used[g];
        layer_budgets.push((
            (layer.layer, group.pack_index),
            layer_budget(group.pack_id, layer, layer.max_tokens, used, lost + stale_lost),
        ));
        let content: u64 = group.ranked.iter().map(|&i| candidates[i].tokens).sum::<u64>() + group.header_tokens;
        if content > layer.max_tokens {
            debts.push(debt(
                group.pack_id,
                Some(layer.layer),
                DebtKind::LayerOverMax,
                layer.layer.as_str(),
                format!(
                    "layer {} holds {content} tokens of usable content, over its max_tokens {}: lower-ranked snippets are cut",
                    layer.layer, layer.max_tokens
                ),
            ));
        }
        if layer.required && used < layer.min_tokens && cut_by_budget {
            debts.push(debt(
                group.pack_id,
                Some(layer.layer),
                DebtKind::RequiredLayerStarved,
                layer.layer.as_str(),
                format!(
                    "required layer {} got {used} tokens, less than its min_tokens {}: the budget {} is too small",
                    layer.layer, layer.min_tokens, input.token_budget
                ),
            ));
        }
    }
    debts.extend(conflicting_facts(&groups, &candidates, &included));

    // 4. Render, in canonical layer order then pack order.
    let mut render_order: Vec<usize> = (0..groups.len()).collect();
    render_order.sort_by_key(|&g| (groups[g].layer.layer, groups[g].pack_index));
    let mut prompt = String::new();
    let mut manifest = Vec::new();
    for &g in &render_order {
        let group = &groups[g];
        let shown: Vec<usize> = group.ranked.iter().copied().filter(|i| included.contains(i)).collect();
        if shown.is_empty() {
            continue;
        }
        prompt.push_str(&header_chunk(group.layer.layer, group.pack_id));
        for &i in &shown {
            prompt.push_str(&snippet_chunk(candidates[i].snippet));
        }
        manifest.push(manifest_layer(group, allocation.used[g], &candidates, &included));
    }

    let used_tokens = allocation.total_used();
    let mut omitted = omitted.0;
    omitted.sort_by_key(|(key, _)| *key);
    let omitted: Vec<OmittedSnippet> = omitted.into_iter().map(|(_, o)| o).collect();
    layer_budgets.sort_by_key(|(key, _)| *key);
    debts.sort();
    Ok(CompiledContext {
        format_version: FORMAT_VERSION,
        packs: packs_used,
        prompt,
        controls,
        prompt_tokens: used_tokens,
        encoding: encoding.as_str().to_owned(),
        request_digest: Digest::of_bytes(input.request.as_bytes()),
        manifest,
        ranked,
        budget: BudgetReport {
            total_tokens: input.token_budget,
            used_tokens,
            omitted_tokens: omitted.iter().map(|o| o.tokens).sum(),
            remaining_tokens: input.token_budget.saturating_sub(used_tokens),
            layers: layer_budgets.into_iter().map(|(_, b)| b).collect(),
        },
        omitted,
        debt: debts,
    })
}

fn layer_budget(pack: &str, layer: &BuiltLayer, allowed: u64, used: u64, omitted: u64) -> LayerBudget {
    LayerBudget {
        pack: pack.to_owned(),
        layer: layer.layer,
        required: layer.required,
        priority: layer.priority,
        min_tokens: layer.min_tokens,
        max_tokens: layer.max_tokens,
        allowed_tokens: allowed,
        used_tokens: used,
        omitted_tokens: omitted,
    }
}

fn stale_warning(pack: &str, layer: &BuiltLayer, source: &BuiltSource, now: Timestamp) -> DebtWarning {
    let expired = source.expires_at().map_or(0, |t| t.0);
    let fate = if layer.required {
        "kept because the layer is required"
    } else {
        "its snippets are omitted"
    };
    debt(
        pack,
        Some(layer.layer),
        DebtKind::StaleSource,
        &source.uri,
        format!(
            "source {} was fetched at {}ms with a ttl of {}ms and expired at {expired}ms, before now ({}ms): {fate}",
            source.uri,
            source.fetched_at.0,
            source.ttl_ms.unwrap_or(0),
            now.0
        ),
    )
}

fn manifest_layer(
    group: &LayerGroup<'_>,
    used: u64,
    candidates: &[Candidate<'_>],
    included: &BTreeSet<usize>,
) -> ManifestLayer {
    let mut sources: Vec<ManifestSource> = Vec::new();
    // Included candidates of this group, in pack (source) order.
    let mut mine: Vec<usize> = group.ranked.iter().copied().filter(|i| included.contains(i)).collect();
    mine.sort_by_key(|&i| candidates[i].position);
    for i in mine {
        let c = &candidates[i];
        let snippet = ManifestSnippet {
            id: c.snippet.id.clone(),
            digest: c.snippet.digest,
            tokens: c.tokens,
        };
        match sources.last_mut() {
            Some(last) if last.uri == c.source.uri => last.snippets.push(snippet),
            _ => sources.push(ManifestSource {
                uri: c.source.uri.clone(),
                owner: c.source.owner.clone(),
                fetched_at: c.source.fetched_at,
                ttl_ms: c.source.ttl_ms,
                digest: c.source.digest,
                snippets: vec![snippet],
            }),
        }
    }
    ManifestLayer {
        pack: group.pack_id.to_owned(),
        layer: group.layer.layer,
        owner: group.layer.owner.clone(),
        tokens: used,
        sources,
    }
}

/// Included snippets of the same layer with the same `fact_key` and different text.
fn conflicting_facts(
    groups: &[LayerGroup<'_>],
    candidates: &[Candidate<'_>],
    included: &BTreeSet<usize>,
) -> Vec<DebtWarning> {
    let mut facts: BTreeMap<(ContextLayer, &str), Vec<usize>> = BTreeMap::new();
    for &i in included {
        let c = &candidates[i];
        if let Some(key) = c.snippet.fact_key.as_deref() {
            facts.entry((groups[c.group].layer.layer, key)).or_default().push(i);
        }
    }
    let mut warnings = Vec::new();
    for ((layer, key), mut holders) in facts {
        let texts: BTreeSet<Digest> = holders.iter().map(|&i| candidates[i].snippet.digest).collect();
        if texts.len() < 2 {
            continue;
        }
        holders.sort_by_key(|&i| (groups[candidates[i].group].pack_index, candidates[i].position));
        let names: Vec<String> = holders
            .iter()
            .map(|&i| format!("{}#{}", groups[candidates[i].group].pack_id, candidates[i].snippet.id))
            .collect();
        warnings.push(debt(
            groups[candidates[holders[0]].group].pack_id,
            Some(layer),
            DebtKind::ConflictingFacts,
            key,
            format!(
                "fact {key:?} is stated differently by {}: the model sees both",
                names.join(", ")
            ),
        ));
    }
    warnings
}
