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
//! - **A required layer denied by policy** fails the compilation
//!   ([`CompileError::RequiredLayerDenied`], naming the layer, the pack and
//!   the determining policies): a run must not go on with a prompt missing
//!   what its pack says it cannot do without. A pack denied as a whole is
//!   not for this run at all, so its required layers only raise a
//!   `required_layer_starved` warning.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use contextos_core::{
    BudgetReport, CompiledContext, ContextLayer, ContextPackRef, DebtKind, DebtWarning, Digest, FORMAT_VERSION,
    LayerBudget, ManifestLayer, ManifestSnippet, ManifestSource, OmitReason, OmittedSnippet, RankedSnippet, RunContext,
    Timestamp,
};

use crate::allocate::{Allocation, Fate, Group, Item, allocate};
use crate::error::CompileError;
use crate::gate::{GateVerdict, PackGate, PackRefInfo};
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
    let encoding = check_input(input)?;
    // 1. Select packs and layers.
    let mut selection = Selection::new(input);
    for (pack_index, loaded) in input.packs.iter().enumerate() {
        selection.select_pack(gate, pack_index, loaded);
    }
    if let Some(denied) = selection.denied_required.take() {
        return Err(denied);
    }
    // 2. Rank.
    let ranked = selection.rank(input.request);
    // 3. Allocate.
    let (allocation, included) = selection.allocate(input.token_budget);
    // 4. Render.
    let (prompt, manifest) = selection.render(&allocation, &included);

    let Selection {
        controls,
        packs_used,
        omitted,
        mut debts,
        mut layer_budgets,
        ..
    } = selection;
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
            omitted_tokens: omitted.iter().fold(0, |a, o| a.saturating_add(o.tokens)),
            remaining_tokens: input.token_budget.saturating_sub(used_tokens),
            layers: layer_budgets.into_iter().map(|(_, b)| b).collect(),
        },
        omitted,
        debt: debts,
    })
}

/// The encoding the model needs, once the counter is known to match it and
/// no pack appears twice.
fn check_input(input: &CompileInput<'_>) -> Result<Encoding, CompileError> {
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
    Ok(encoding)
}

/// A compilation in progress: the permitted layers and their snippets, and
/// everything already decided about the rest.
struct Selection<'p> {
    counter: &'p TokenCounter,
    now: Timestamp,
    controls: Vec<String>,
    packs_used: Vec<ContextPackRef>,
    omitted: Omissions,
    debts: Vec<DebtWarning>,
    layer_budgets: Vec<((ContextLayer, usize), LayerBudget)>,
    groups: Vec<LayerGroup<'p>>,
    candidates: Vec<Candidate<'p>>,
    /// The first required layer of a permitted pack that the gate denied.
    denied_required: Option<CompileError>,
}

impl<'p> Selection<'p> {
    fn new(input: &CompileInput<'p>) -> Self {
        Self {
            counter: input.tokens,
            now: input.now,
            controls: vec![
                format!("budget:{}", input.token_budget),
                "policy:use_pack".to_owned(),
                format!("safety_mode:{}", input.run.safety_mode.as_str()),
                format!("approval_mode:{}", input.run.approval_mode),
            ],
            packs_used: Vec::new(),
            omitted: Omissions(Vec::new()),
            debts: Vec::new(),
            layer_budgets: Vec::new(),
            groups: Vec::new(),
            candidates: Vec::new(),
            denied_required: None,
        }
    }

    /// Step 1 for one pack: the gate's verdicts on the pack and each of its
    /// layers; permitted layers become groups of candidates.
    fn select_pack<G: PackGate + ?Sized>(&mut self, gate: &G, pack_index: usize, loaded: &'p LoadedPack) {
        let pack = loaded.pack();
        let info = ref_info(loaded);
        if !loaded.is_signed() {
            if !self.controls.iter().any(|c| c == "unsigned_pack_dev_mode") {
                self.controls.push("unsigned_pack_dev_mode".to_owned());
            }
            self.debts.push(debt(
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
            self.packs_used.push(ContextPackRef {
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
            if verdict.allowed {
                self.admit_layer(pack_index, &pack.id, layer, &mut position);
            } else {
                let what = if pack_verdict.allowed { "layer" } else { "pack" };
                self.deny_layer(pack_index, &pack.id, layer, &mut position, what, &verdict);
            }
        }
    }

    /// Omits every snippet of a layer the gate denied (`what` says whether
    /// the pack or the layer itself was denied).
    fn deny_layer(
        &mut self,
        pack_index: usize,
        pack_id: &str,
        layer: &BuiltLayer,
        position: &mut usize,
        what: &str,
        verdict: &GateVerdict,
    ) {
        let mut lost: u64 = 0;
        for source in &layer.sources {
            for snippet in &source.snippets {
                let tokens = snippet_tokens(self.counter, snippet);
                lost = lost.saturating_add(tokens);
                let detail = format!("{what} denied: {}", verdict.reason);
                self.omitted.push(
                    pack_index,
                    pack_id,
                    layer.layer,
                    *position,
                    source,
                    snippet,
                    tokens,
                    OmitReason::Policy,
                    detail,
                    &verdict.policy_ids,
                );
                *position += 1;
            }
        }
        if layer.required {
            if what == "layer" && self.denied_required.is_none() {
                self.denied_required = Some(CompileError::RequiredLayerDenied {
                    layer: layer.layer,
                    pack: pack_id.to_owned(),
                    policies: verdict.policy_ids.clone(),
                    reason: verdict.reason.clone(),
                });
            }
            self.debts.push(starved_by_policy(pack_id, layer, &verdict.reason));
        }
        self.layer_budgets
            .push(((layer.layer, pack_index), layer_budget(pack_id, layer, 0, 0, lost)));
    }

    /// Makes a permitted layer a group and its snippets candidates, warning
    /// about stale and unowned sources.
    fn admit_layer(&mut self, pack_index: usize, pack_id: &'p str, layer: &'p BuiltLayer, position: &mut usize) {
        let group = self.groups.len();
        for source in &layer.sources {
            let stale = source.is_stale(self.now);
            if stale {
                self.debts.push(stale_warning(pack_id, layer, source, self.now));
            }
            if source.owner.is_empty() {
                self.debts.push(debt(
                    pack_id,
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
                self.candidates.push(Candidate {
                    group,
                    source,
                    snippet,
                    position: *position,
                    tokens: snippet_tokens(self.counter, snippet),
                    score: 0,
                    stale,
                });
                *position += 1;
            }
        }
        self.groups.push(LayerGroup {
            pack_index,
            pack_id,
            layer,
            header_tokens: header_tokens(self.counter, layer.layer, pack_id),
            ranked: Vec::new(),
        });
    }

    /// Step 2: BM25 over the candidates, ties by snippet id, then pack order.
    /// Fills each group's rank order and returns the ranking report.
    fn rank(&mut self, request: &str) -> Vec<RankedSnippet> {
        let texts: Vec<&str> = self.candidates.iter().map(|c| c.snippet.text.as_str()).collect();
        let scores = bm25_millis(request, &texts);
        for (candidate, score) in self.candidates.iter_mut().zip(scores) {
            candidate.score = score;
        }
        let (candidates, groups) = (&self.candidates, &self.groups);
        let mut rank_order: Vec<usize> = (0..candidates.len()).collect();
        rank_order.sort_by(|&a, &b| {
            let (ca, cb) = (&candidates[a], &candidates[b]);
            cb.score
                .cmp(&ca.score)
                .then_with(|| ca.snippet.id.cmp(&cb.snippet.id))
                .then_with(|| groups[ca.group].pack_index.cmp(&groups[cb.group].pack_index))
        });
        let ranked = rank_order
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
        self.drop_stale(&rank_order);
        ranked
    }

    /// Stale snippets of layers that are not required leave before
    /// allocation; the rest join their group's rank order.
    fn drop_stale(&mut self, rank_order: &[usize]) {
        for &i in rank_order {
            let c = &self.candidates[i];
            let g = &self.groups[c.group];
            if c.stale && !g.layer.required {
                let detail = format!(
                    "source {} expired at {}ms, before now ({}ms)",
                    c.source.uri,
                    c.source.expires_at().map_or(0, |t| t.0),
                    self.now.0
                );
                self.omitted.push(
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
                self.groups[c.group].ranked.push(i);
            }
        }
    }

    /// Step 3: spends the token budget over the ranked groups; returns the
    /// allocation and the included candidates, and records what was cut.
    fn allocate(&mut self, token_budget: u64) -> (Allocation, BTreeSet<usize>) {
        let mut text_keys: HashMap<Digest, usize> = HashMap::new();
        let alloc_groups: Vec<Group> = self
            .groups
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
                            tokens: self.candidates[i].tokens,
                            key: *text_keys.entry(self.candidates[i].snippet.digest).or_insert(next),
                        }
                    })
                    .collect(),
            })
            .collect();
        let allocation = allocate(&alloc_groups, token_budget);
        let mut included: BTreeSet<usize> = BTreeSet::new();
        let mut first_holder: HashMap<Digest, usize> = HashMap::new();
        for (g, group) in self.groups.iter().enumerate() {
            for (&i, fate) in group.ranked.iter().zip(&allocation.fates[g]) {
                if *fate == Fate::Included {
                    included.insert(i);
                    first_holder.insert(self.candidates[i].snippet.digest, i);
                }
            }
        }
        for g in 0..self.groups.len() {
            self.account_group(g, &allocation, &first_holder, token_budget);
        }
        self.debts
            .extend(conflicting_facts(&self.groups, &self.candidates, &included));
        (allocation, included)
    }

    /// Records the omissions, budget line and debts of group `g` after allocation.
    fn account_group(
        &mut self,
        g: usize,
        allocation: &Allocation,
        first_holder: &HashMap<Digest, usize>,
        token_budget: u64,
    ) {
        let group = &self.groups[g];
        let layer = group.layer;
        let mut lost: u64 = 0;
        let mut cut_by_budget = false;
        for (&i, fate) in group.ranked.iter().zip(&allocation.fates[g]) {
            let c = &self.candidates[i];
            let (reason, detail) = match fate {
                Fate::Included => continue,
                Fate::OverLayerMax => (
                    OmitReason::Budget,
                    format!("layer {} reached its max_tokens {}", layer.layer, layer.max_tokens),
                ),
                Fate::OverBudget => (
                    OmitReason::Budget,
                    format!("the token budget {token_budget} was used up"),
                ),
                Fate::Duplicate => (OmitReason::Duplicate, self.duplicate_detail(c, first_holder)),
            };
            cut_by_budget |= reason == OmitReason::Budget;
            lost = lost.saturating_add(c.tokens);
            self.omitted.push(
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
        let stale_lost: u64 = self
            .candidates
            .iter()
            .filter(|c| c.group == g && c.stale && !layer.required)
            .fold(0, |a, c| a.saturating_add(c.tokens));
        let used = allocation.used[g];
        self.layer_budgets.push((
            (layer.layer, group.pack_index),
            layer_budget(
                group.pack_id,
                layer,
                layer.max_tokens,
                used,
                lost.saturating_add(stale_lost),
            ),
        ));
        let content = group
            .ranked
            .iter()
            .fold(group.header_tokens, |a, &i| a.saturating_add(self.candidates[i].tokens));
        if content > layer.max_tokens {
            self.debts.push(debt(
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
            self.debts.push(debt(
                group.pack_id,
                Some(layer.layer),
                DebtKind::RequiredLayerStarved,
                layer.layer.as_str(),
                format!(
                    "required layer {} got {used} tokens, less than its min_tokens {}: the budget {token_budget} is too small",
                    layer.layer, layer.min_tokens
                ),
            ));
        }
    }

    /// Why a duplicate was omitted: the included snippet holding its text.
    fn duplicate_detail(&self, c: &Candidate<'_>, first_holder: &HashMap<Digest, usize>) -> String {
        match first_holder.get(&c.snippet.digest).map(|&h| &self.candidates[h]) {
            Some(h) => format!(
                "same text as {}#{}, already included",
                self.groups[h.group].pack_id, h.snippet.id
            ),
            None => "same text as a snippet already included".to_owned(),
        }
    }

    /// Step 4: the prompt and manifest, in canonical layer order then pack order.
    fn render(&self, allocation: &Allocation, included: &BTreeSet<usize>) -> (String, Vec<ManifestLayer>) {
        let mut render_order: Vec<usize> = (0..self.groups.len()).collect();
        render_order.sort_by_key(|&g| (self.groups[g].layer.layer, self.groups[g].pack_index));
        let mut prompt = String::new();
        let mut manifest = Vec::new();
        for &g in &render_order {
            let group = &self.groups[g];
            let shown: Vec<usize> = group.ranked.iter().copied().filter(|i| included.contains(i)).collect();
            if shown.is_empty() {
                continue;
            }
            prompt.push_str(&header_chunk(group.layer.layer, group.pack_id));
            for &i in &shown {
                prompt.push_str(&snippet_chunk(self.candidates[i].snippet));
            }
            manifest.push(manifest_layer(group, allocation.used[g], &self.candidates, included));
        }
        (prompt, manifest)
    }
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
