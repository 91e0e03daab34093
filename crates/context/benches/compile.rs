//! The context compiler against a raw tiktoken encode, in one run.
//!
//! - `raw_encode_bundled`: `encode_ordinary` of the bundled pack's snippet
//!   texts, concatenated, with the shared o200k_base encoder: the floor.
//! - `compile_bundled_warm`: the whole compile of the bundled pack (gate,
//!   BM25, allocation, render, manifest) with a budget that includes every
//!   fresh snippet and the per-snippet token-count cache warm, as in a
//!   long-running runtime. Target: at most 1.5x the raw encode.
//! - `compile_1mb_*`: a generated pack of about 1 MB of snippet text with an
//!   8,000-token budget, warm and cold cache.
//!
//! `cargo bench -p contextos-context` (or `cargo xtask bench -p contextos-context`)

#![expect(clippy::expect_used, reason = "a benchmark fails loudly on broken fixtures")]

use std::path::Path;

use contextos_context::{
    BuiltPack, CompileInput, GateVerdict, LayerSource, LoadedPack, PackGate, PackRefInfo, PackSource, SnippetSource,
    SourceSpec, TokenCounter, build_pack, build_pack_dir, compile, sign_pack, verify_envelope,
};
use contextos_core::{ApprovalMode, ContextLayer, RunContext, Timestamp};
use contextos_trust::{Keyring, SigningKey};
use divan::{Bencher, black_box};

fn main() {
    divan::main();
}

const NOW: Timestamp = Timestamp(1_767_225_600_000);
const REQUEST: &str = "Ticket T-4417: the customer was double charged for order 88123 after a checkout \
    timeout and wants a refund of the duplicate charge.";
const MODEL: &str = "gpt-4o";

struct AllowAll;

impl PackGate for AllowAll {
    fn allow_pack(&self, _: &PackRefInfo) -> GateVerdict {
        GateVerdict {
            allowed: true,
            policy_ids: vec!["bench".into()],
            reason: "benchmark".into(),
        }
    }

    fn allow_layer(&self, pack: &PackRefInfo, _: ContextLayer) -> GateVerdict {
        self.allow_pack(pack)
    }
}

fn run_context() -> RunContext {
    contextos_testkit::run_context("run_bench", ApprovalMode::Network)
}

fn signed(pack: &BuiltPack) -> LoadedPack {
    let key = SigningKey::from_seed([3; 32]);
    let envelope = sign_pack(pack, &key).expect("sign");
    verify_envelope("bench.pack.json", &envelope, &Keyring::from_keys([key.public()])).expect("verify")
}

fn bundled() -> LoadedPack {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../runtime/packs/support_escalation");
    signed(&build_pack_dir(&dir).expect("bundled pack builds"))
}

fn snippet_texts(pack: &BuiltPack) -> String {
    let mut text = String::new();
    for layer in &pack.layers {
        for source in &layer.sources {
            for snippet in &source.snippets {
                text.push_str(&snippet.text);
                text.push('\n');
            }
        }
    }
    text
}

/// The vocabulary synthetic snippets are drawn from.
const WORDS: &[&str] = &[
    "refund",
    "charge",
    "double",
    "customer",
    "ticket",
    "order",
    "payment",
    "gateway",
    "timeout",
    "capture",
    "escalate",
    "policy",
    "tenant",
    "acme",
    "invoice",
    "dispute",
    "chargeback",
    "approval",
    "lead",
    "account",
    "billing",
    "history",
    "merchant",
    "reference",
    "retry",
    "duplicate",
    "within",
    "days",
    "support",
    "agent",
    "the",
    "a",
    "of",
    "to",
    "and",
    "is",
    "for",
    "on",
    "with",
    "after",
];

/// A deterministic pack of about `bytes` of snippet text: ten layers of
/// sources of ~500-byte snippets drawn from a support vocabulary by a
/// linear congruential generator (no randomness source needed).
fn synthetic(bytes: usize) -> BuiltPack {
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) as usize
    };
    let per_layer = bytes / ContextLayer::ALL.len();
    let mut counter = 0;
    let layers = ContextLayer::ALL
        .iter()
        .enumerate()
        .map(|(i, &layer)| {
            let mut sources = Vec::new();
            let mut size = 0;
            while size < per_layer {
                let mut snippets = Vec::new();
                for _ in 0..20 {
                    let mut text = String::new();
                    while text.len() < 500 {
                        text.push_str(WORDS[next() % WORDS.len()]);
                        text.push(if next() % 12 == 0 { '.' } else { ' ' });
                    }
                    size += text.len();
                    counter += 1;
                    snippets.push(SnippetSource {
                        id: format!("s{counter}"),
                        text,
                        fact_key: None,
                    });
                }
                sources.push(SourceSpec {
                    uri: format!("https://kb.example/{layer}/{}", sources.len()),
                    owner: "bench".into(),
                    fetched_at: Timestamp(1_766_016_000_000),
                    ttl_ms: None,
                    snippets,
                });
            }
            LayerSource {
                layer,
                owner: "bench".into(),
                priority: u32::try_from(i).expect("small") * 10,
                min_tokens: 100,
                max_tokens: 2_000,
                required: i % 3 == 0,
                sources,
            }
        })
        .collect();
    let source = PackSource {
        format_version: 1,
        name: "synthetic".into(),
        version: 1,
        description: String::new(),
        owner_tenant: None,
        layers,
    };
    build_pack("synthetic.yaml", &source).expect("synthetic pack builds")
}

fn compile_once(packs: &[LoadedPack], run: &RunContext, budget: u64, tokens: &TokenCounter) -> u64 {
    let input = CompileInput {
        packs,
        request: REQUEST,
        run,
        now: NOW,
        token_budget: budget,
        model: MODEL,
        tokens,
    };
    compile(&input, &AllowAll).expect("compile").prompt_tokens
}

#[divan::bench]
fn raw_encode_bundled(bencher: Bencher) {
    let text = snippet_texts(bundled().pack());
    let bpe = tiktoken_rs::o200k_base_singleton();
    bencher.bench_local(|| black_box(bpe.encode_ordinary(black_box(&text)).len()));
}

#[divan::bench]
fn compile_bundled_warm(bencher: Bencher) {
    let packs = [bundled()];
    let run = run_context();
    let tokens = TokenCounter::for_model(MODEL).expect("encoder");
    compile_once(&packs, &run, 100_000, &tokens);
    bencher.bench_local(|| black_box(compile_once(&packs, &run, 100_000, &tokens)));
}

#[divan::bench(sample_count = 20, sample_size = 1)]
fn raw_encode_1mb(bencher: Bencher) {
    let text = snippet_texts(&synthetic(1 << 20));
    let bpe = tiktoken_rs::o200k_base_singleton();
    bencher.bench_local(|| black_box(bpe.encode_ordinary(black_box(&text)).len()));
}

#[divan::bench(sample_count = 20, sample_size = 1)]
fn compile_1mb_warm(bencher: Bencher) {
    let packs = [signed(&synthetic(1 << 20))];
    let run = run_context();
    let tokens = TokenCounter::for_model(MODEL).expect("encoder");
    compile_once(&packs, &run, 8_000, &tokens);
    bencher.bench_local(|| black_box(compile_once(&packs, &run, 8_000, &tokens)));
}

#[divan::bench(sample_count = 10, sample_size = 1)]
fn compile_1mb_cold(bencher: Bencher) {
    let packs = [signed(&synthetic(1 << 20))];
    let run = run_context();
    bencher
        .with_inputs(|| TokenCounter::for_model(MODEL).expect("encoder"))
        .bench_local_refs(|tokens| black_box(compile_once(&packs, &run, 8_000, tokens)));
}
