//! The compiler through the public API: the bundled pack under real Cedar
//! policies, the real tokenizer and real signatures.

#![expect(clippy::unwrap_used, reason = "a test fails loudly on broken fixtures")]

use std::path::PathBuf;
use std::sync::OnceLock;

use contextos_context::{
    BuiltPack, CompileInput, GateVerdict, LoadedPack, PackGate, PackRefInfo, TokenCounter, build_pack_dir, load_pack,
    sign_pack, verify_envelope,
};
use contextos_core::{ApprovalMode, CompiledContext, ContextLayer, PolicyOutcome, RunContext, SafetyMode, Timestamp};
use contextos_testkit::repo;
use contextos_trust::{Keyring, PolicyEngine, RequestDocument, SigningKey};
use serde_json::{Value, json};

/// 2026-01-01T00:00:00Z: the fixed clock reading of these tests.
const NOW: Timestamp = Timestamp(1_767_225_600_000);

const REQUEST: &str = "Ticket T-4417: the customer was double charged for order 88123 after a checkout \
    timeout and wants a refund of the duplicate charge.";

const MODEL: &str = "gpt-4o";

fn source_dir() -> PathBuf {
    repo().join("runtime/packs/support_escalation")
}

fn committed_artifact() -> PathBuf {
    repo().join("runtime/packs/support_escalation-18.pack.json")
}

fn keyring() -> Keyring {
    Keyring::load_dir(&repo().join("runtime/keys")).unwrap()
}

/// One o200k counter per test binary: building the encoder is the expensive part.
fn counter() -> &'static TokenCounter {
    static COUNTER: OnceLock<TokenCounter> = OnceLock::new();
    COUNTER.get_or_init(|| TokenCounter::for_model(MODEL).unwrap())
}

/// The committed signed pack, loaded as the runtime loads it.
fn bundled() -> LoadedPack {
    load_pack(&committed_artifact(), &keyring(), &Default::default()).unwrap()
}

/// Signs `pack` with a test key and loads it through verification.
fn signed(pack: &BuiltPack) -> LoadedPack {
    let key = SigningKey::from_seed([7; 32]);
    let envelope = sign_pack(pack, &key).unwrap();
    verify_envelope("test.pack.json", &envelope, &Keyring::from_keys([key.public()])).unwrap()
}

fn built_source() -> BuiltPack {
    build_pack_dir(&source_dir()).unwrap()
}

fn run_context(safety_mode: SafetyMode) -> RunContext {
    RunContext {
        safety_mode,
        ..contextos_testkit::run_context("run_test", ApprovalMode::Network)
    }
}

/// A gate that lets everything through (for allocator and determinism properties).
struct AllowAll;

impl PackGate for AllowAll {
    fn allow_pack(&self, _: &PackRefInfo) -> GateVerdict {
        GateVerdict {
            allowed: true,
            policy_ids: Vec::new(),
            reason: "test gate".into(),
        }
    }

    fn allow_layer(&self, pack: &PackRefInfo, _: ContextLayer) -> GateVerdict {
        self.allow_pack(pack)
    }
}

/// The real thing: Cedar `use_pack` over the shipped `policies/` bundle, with
/// the principal and context built from the run, and the pack and layer
/// entities built from the pack (as the runtime does).
struct CedarGate {
    engine: PolicyEngine,
    run: RunContext,
    base_entities: Vec<Value>,
}

impl CedarGate {
    pub(crate) fn new(run: &RunContext) -> Self {
        let engine = PolicyEngine::load(&repo().join("policies")).unwrap();
        let all: Vec<Value> =
            serde_json::from_str(&std::fs::read_to_string(repo().join("policies/tests/entities.json")).unwrap())
                .unwrap();
        // Tenants, users and agents from the shipped fixtures; packs and layers come from the pack itself.
        let base_entities = all
            .into_iter()
            .filter(|e| !matches!(e["uid"]["type"].as_str(), Some("ContextOS::Pack" | "ContextOS::Layer")))
            .collect();
        Self {
            engine,
            run: run.clone(),
            base_entities,
        }
    }

    fn decide(&self, pack: &PackRefInfo, resource: String) -> GateVerdict {
        let mut pack_attrs = json!({ "signed": pack.signed, "attributes": {} });
        let mut entities = self.base_entities.clone();
        if let Some(tenant) = &pack.owner_tenant {
            pack_attrs["owner_tenant"] = json!({"type": "ContextOS::Tenant", "id": tenant});
        }
        entities.push(json!({"uid": {"type": "ContextOS::Pack", "id": pack.id}, "attrs": pack_attrs, "parents": []}));
        for layer in ContextLayer::ALL {
            entities.push(json!({
                "uid": {"type": "ContextOS::Layer", "id": pack.layer_id(layer)},
                "attrs": {"kind": layer.as_str()},
                "parents": [{"type": "ContextOS::Pack", "id": pack.id}],
            }));
        }
        let doc = RequestDocument {
            principal: format!("ContextOS::Agent::{:?}", self.run.agent.id),
            action: "use_pack".into(),
            resource,
            context: json!({
                "tenant": {"type": "ContextOS::Tenant", "id": self.run.tenant_id},
                "safety_mode": self.run.safety_mode.as_str(),
                "run_approval_level": self.run.approval_mode.level(),
                "approval": {"granted": false, "role": ""},
                "budget": {"tool_calls_left": 8, "tokens_left": 20000},
            })
            .as_object()
            .unwrap()
            .clone(),
            entities,
        };
        let (request, entities) = self.engine.request_from_document(&doc).unwrap();
        let decision = self.engine.authorize(&request, &entities);
        GateVerdict {
            allowed: decision.outcome == PolicyOutcome::Allow,
            policy_ids: decision.determining_policies,
            reason: decision.reason,
        }
    }
}

impl PackGate for CedarGate {
    fn allow_pack(&self, pack: &PackRefInfo) -> GateVerdict {
        self.decide(pack, format!("ContextOS::Pack::{:?}", pack.id))
    }

    fn allow_layer(&self, pack: &PackRefInfo, layer: ContextLayer) -> GateVerdict {
        self.decide(pack, format!("ContextOS::Layer::{:?}", pack.layer_id(layer)))
    }
}

fn compile_with(packs: &[LoadedPack], run: &RunContext, budget: u64, gate: &dyn PackGate) -> CompiledContext {
    let input = CompileInput {
        packs,
        request: REQUEST,
        run,
        now: NOW,
        token_budget: budget,
        model: MODEL,
        tokens: counter(),
    };
    contextos_context::compile(&input, gate).unwrap()
}

// ---------------------------------------------------------------- tests

use contextos_context::{CompileError, Encoding, LoadOptions, PackSource, artifact_bytes, build_pack, load_pack_text};
use contextos_core::{DebtKind, ErrorKind, Kind, OmitReason, canonical_json};
use proptest::prelude::*;

const BUDGET: u64 = 900;

fn standard() -> RunContext {
    run_context(SafetyMode::Standard)
}

fn has_debt(cc: &CompiledContext, kind: DebtKind, layer: Option<ContextLayer>) -> bool {
    cc.debt
        .iter()
        .any(|d| d.kind == kind && (layer.is_none() || d.layer == layer))
}

fn source() -> PackSource {
    let file = source_dir().join("pack.yaml");
    contextos_context::parse_pack_source("pack.yaml", &std::fs::read_to_string(file).unwrap()).unwrap()
}

fn layer_mut(source: &mut PackSource, layer: ContextLayer) -> &mut contextos_context::LayerSource {
    source.layers.iter_mut().find(|l| l.layer == layer).unwrap()
}

#[test]
fn bundled_pack_compiles_to_the_snapshot() {
    let run = standard();
    let cc = compile_with(&[bundled()], &run, BUDGET, &CedarGate::new(&run));
    assert!(cc.prompt_tokens <= BUDGET);
    // The stale status-page export: warned about and left out.
    assert!(has_debt(
        &cc,
        DebtKind::StaleSource,
        Some(ContextLayer::RetrievedEvidence)
    ));
    let stale = cc.omitted.iter().find(|o| o.id == "evidence.status-export").unwrap();
    assert_eq!(stale.reason, OmitReason::Stale);
    // The request is about a double charge: the double-charge policy outranks the PII policy.
    let rank = |id: &str| cc.ranked.iter().position(|r| r.id == id).unwrap();
    assert!(rank("policy.double-charge") < rank("policy.pii"));
    let mut manifest = serde_json::to_value(&cc).unwrap();
    manifest.as_object_mut().unwrap().remove("prompt");
    insta::assert_json_snapshot!("bundled_manifest", manifest);
    insta::assert_snapshot!("bundled_prompt", cc.prompt);
}

#[test]
fn prompt_token_count_is_exact() {
    let run = standard();
    for budget in [0, 150, 400, 900, 5000] {
        let cc = compile_with(&[bundled()], &run, budget, &AllowAll);
        assert_eq!(counter().count(&cc.prompt), cc.prompt_tokens, "budget {budget}");
        assert_eq!(cc.budget.used_tokens, cc.prompt_tokens);
        let by_layer: u64 = cc.budget.layers.iter().map(|l| l.used_tokens).sum();
        assert_eq!(by_layer, cc.prompt_tokens);
        assert!(cc.prompt_tokens <= budget);
    }
    // The other encoding, too.
    let cl100k = TokenCounter::new(Encoding::Cl100kBase).unwrap();
    let packs = [bundled()];
    let input = CompileInput {
        packs: &packs,
        request: REQUEST,
        run: &run,
        now: NOW,
        token_budget: 5000,
        model: "gpt-4-turbo",
        tokens: &cl100k,
    };
    let cc = contextos_context::compile(&input, &AllowAll).unwrap();
    assert_eq!(cc.encoding, "cl100k_base");
    assert_eq!(cl100k.count(&cc.prompt), cc.prompt_tokens);
}

#[test]
fn compile_is_pure_and_the_cache_changes_nothing() {
    let run = standard();
    let packs = [bundled()];
    let warm = canonical_json(&compile_with(&packs, &run, BUDGET, &CedarGate::new(&run))).unwrap();
    let cold_counter = TokenCounter::for_model(MODEL).unwrap();
    let input = CompileInput {
        packs: &packs,
        request: REQUEST,
        run: &run,
        now: NOW,
        token_budget: BUDGET,
        model: MODEL,
        tokens: &cold_counter,
    };
    let cold = canonical_json(&contextos_context::compile(&input, &CedarGate::new(&run)).unwrap()).unwrap();
    assert_eq!(warm, cold);
    assert!(cold_counter.cached_entries() > 0);
}

#[test]
fn restricted_run_omits_memory_by_cedar_policy() {
    let run = run_context(SafetyMode::Restricted);
    let cc = compile_with(&[bundled()], &run, 5000, &CedarGate::new(&run));
    let memory: Vec<_> = cc.omitted.iter().filter(|o| o.layer == ContextLayer::Memory).collect();
    assert_eq!(memory.len(), 2);
    for o in &memory {
        assert_eq!(o.reason, OmitReason::Policy);
        assert_eq!(o.policy_ids, ["context.no-memory-when-restricted"]);
        assert!(
            o.detail.starts_with("layer denied: denied: forbidden by"),
            "{}",
            o.detail
        );
    }
    assert!(cc.manifest.iter().all(|l| l.layer != ContextLayer::Memory));
    assert!(!cc.prompt.contains("## memory"));
    let memory_budget = cc
        .budget
        .layers
        .iter()
        .find(|l| l.layer == ContextLayer::Memory)
        .unwrap();
    assert_eq!((memory_budget.allowed_tokens, memory_budget.used_tokens), (0, 0));
    assert!(memory_budget.omitted_tokens > 0);
    // Every other layer is permitted by `context.layers-of-usable-packs`.
    assert!(cc.manifest.iter().any(|l| l.layer == ContextLayer::Domain));
    // The same run in standard mode sees memory.
    let run = standard();
    let cc = compile_with(&[bundled()], &run, 5000, &CedarGate::new(&run));
    assert!(cc.manifest.iter().any(|l| l.layer == ContextLayer::Memory));
}

#[test]
fn pack_of_another_tenant_is_denied_whole() {
    let mut src = source();
    src.owner_tenant = Some("globex".into());
    let pack = signed(&build_pack("pack.yaml", &src).unwrap());
    let run = standard();
    let cc = compile_with(&[pack], &run, 5000, &CedarGate::new(&run));
    assert!(cc.packs.is_empty());
    assert!(cc.prompt.is_empty());
    assert!(cc.omitted.iter().all(|o| o.reason == OmitReason::Policy
        && o.policy_ids == ["tenancy.pack-owned-by-other-tenant"]
        && o.detail.starts_with("pack denied")));
    // Its required layers are starved by policy.
    assert!(has_debt(
        &cc,
        DebtKind::RequiredLayerStarved,
        Some(ContextLayer::System)
    ));
}

#[test]
fn a_required_layer_denied_by_policy_fails_the_compilation_naming_layer_pack_and_policy() {
    let mut src = source();
    layer_mut(&mut src, ContextLayer::Memory).required = true;
    let pack = signed(&build_pack("pack.yaml", &src).unwrap());
    let pack_id = pack.pack().id.clone();
    let run = run_context(SafetyMode::Restricted);
    let input = CompileInput {
        packs: std::slice::from_ref(&pack),
        request: REQUEST,
        run: &run,
        now: NOW,
        token_budget: 5000,
        model: MODEL,
        tokens: counter(),
    };
    let err = contextos_context::compile(&input, &CedarGate::new(&run)).unwrap_err();
    let CompileError::RequiredLayerDenied {
        layer, pack, policies, ..
    } = &err
    else {
        unreachable!("expected RequiredLayerDenied, got {err}");
    };
    assert_eq!((*layer, pack.as_str()), (ContextLayer::Memory, pack_id.as_str()));
    assert_eq!(policies, &["context.no-memory-when-restricted"]);
    assert_eq!(contextos_core::Kind::kind(&err), contextos_core::ErrorKind::Input);
    assert!(
        err.to_string().starts_with(&format!(
            "required layer memory of pack {pack_id} is denied by policy (determined by \
             context.no-memory-when-restricted)"
        )),
        "{err}"
    );
    // A standard run may use the layer: the same pack compiles.
    let run = standard();
    let input = CompileInput { run: &run, ..input };
    assert!(contextos_context::compile(&input, &CedarGate::new(&run)).is_ok());
}

#[test]
fn unsigned_pack_needs_the_dev_flag_and_is_flagged() {
    let text = String::from_utf8(artifact_bytes(&built_source()).unwrap()).unwrap();
    let err = load_pack_text("x.built.json", &text, &keyring(), &LoadOptions::default()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Verification);
    assert!(err.to_string().contains("is not signed"), "{err}");
    let dev = LoadOptions {
        allow_unsigned_dev_packs: true,
    };
    let pack = load_pack_text("x.built.json", &text, &keyring(), &dev).unwrap();
    assert!(!pack.is_signed());
    let run = standard();
    let cc = compile_with(std::slice::from_ref(&pack), &run, BUDGET, &AllowAll);
    assert!(cc.controls.iter().any(|c| c == "unsigned_pack_dev_mode"));
    assert!(has_debt(&cc, DebtKind::UnsignedPackDevMode, None));
    // And the shipped policies still refuse unsigned packs (`context.signed-packs` permits signed ones only).
    let cc = compile_with(&[pack], &run, BUDGET, &CedarGate::new(&run));
    assert!(cc.packs.is_empty());
    assert!(cc.controls.iter().any(|c| c == "unsigned_pack_dev_mode"));
}

#[test]
fn small_budget_starves_required_layers() {
    let run = standard();
    let cc = compile_with(&[bundled()], &run, 120, &AllowAll);
    assert!(cc.prompt_tokens <= 120);
    assert!(has_debt(&cc, DebtKind::RequiredLayerStarved, None));
    // Required layers come first: most of what fits is required content.
    let (required, optional): (Vec<_>, Vec<_>) = cc.budget.layers.iter().partition(|l| l.required);
    let used = |layers: &[&contextos_core::LayerBudget]| layers.iter().map(|l| l.used_tokens).sum::<u64>();
    assert!(used(&required) > used(&optional), "{:?}", cc.budget);
    assert!(cc.omitted.iter().any(|o| o.reason == OmitReason::Budget));
}

#[test]
fn conflicting_facts_duplicates_layer_over_max_and_required_stale() {
    let mut src = source();
    let policy = layer_mut(&mut src, ContextLayer::Policy);
    policy.sources[0].snippets.push(contextos_context::SnippetSource {
        id: "policy.refund-window-old".into(),
        text: "Refunds are available for charges made within the last 14 days.".into(),
        fact_key: Some("refund_window_days".into()),
    });
    let domain = layer_mut(&mut src, ContextLayer::Domain);
    domain.max_tokens = 120;
    let copied = layer_mut(&mut src, ContextLayer::Tenant).sources[0].snippets[0]
        .text
        .clone();
    let session = layer_mut(&mut src, ContextLayer::Session);
    session.sources[0].snippets.push(contextos_context::SnippetSource {
        id: "session.copy".into(),
        text: copied,
        fact_key: None,
    });
    layer_mut(&mut src, ContextLayer::RetrievedEvidence).required = true;
    let pack = signed(&build_pack("pack.yaml", &src).unwrap());
    let run = standard();
    let cc = compile_with(&[pack], &run, 10_000, &AllowAll);

    let conflict = cc.debt.iter().find(|d| d.kind == DebtKind::ConflictingFacts).unwrap();
    assert_eq!(conflict.subject, "refund_window_days");
    assert!(
        conflict.message.contains("policy.refund-window-old"),
        "{}",
        conflict.message
    );

    assert!(has_debt(&cc, DebtKind::LayerOverMax, Some(ContextLayer::Domain)));
    let domain = cc
        .budget
        .layers
        .iter()
        .find(|l| l.layer == ContextLayer::Domain)
        .unwrap();
    assert!(domain.used_tokens <= 120 && domain.omitted_tokens > 0);

    let dup = cc.omitted.iter().find(|o| o.reason == OmitReason::Duplicate).unwrap();
    // The tenant layer (priority 70) is served before the session layer (40).
    assert_eq!(dup.id, "session.copy");
    assert_eq!(
        dup.detail,
        "same text as support_escalation:18#tenant.acme.plan, already included"
    );

    // A stale source in a required layer is kept, and still warned about.
    assert!(cc.prompt.contains("[evidence.status-export]"));
    let stale = cc.debt.iter().find(|d| d.kind == DebtKind::StaleSource).unwrap();
    assert!(
        stale.message.ends_with("kept because the layer is required"),
        "{}",
        stale.message
    );
}

#[test]
fn unknown_model_and_mismatched_counter_are_refused() {
    let run = standard();
    let packs = [bundled()];
    let mut input = CompileInput {
        packs: &packs,
        request: REQUEST,
        run: &run,
        now: NOW,
        token_budget: BUDGET,
        model: "mystery-7b",
        tokens: counter(),
    };
    let err = contextos_context::compile(&input, &AllowAll).unwrap_err();
    assert!(matches!(err, CompileError::UnknownModel { .. }));
    assert_eq!(contextos_core::Kind::kind(&err), contextos_core::ErrorKind::Input);
    input.model = "gpt-4";
    let err = contextos_context::compile(&input, &AllowAll).unwrap_err();
    assert!(matches!(err, CompileError::EncodingMismatch { .. }), "{err}");
    input.model = MODEL;
    let twice = [bundled(), bundled()];
    input.packs = &twice;
    let err = contextos_context::compile(&input, &AllowAll).unwrap_err();
    assert!(err.to_string().contains("given twice"), "{err}");
}

fn layer_bounds() -> impl Strategy<Value = Vec<(bool, u32, u64, u64)>> {
    prop::collection::vec((any::<bool>(), 0u32..100, 0u64..250, 1u64..400), 10)
}

const REQUESTS: [&str; 3] = [
    REQUEST,
    "close my account and delete everything",
    "what is acme's support SLA for billing issues?",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// The allocator through the whole compiler: never over the budget or a
    /// layer's max; every required layer gets its min when that is possible,
    /// and a `required_layer_starved` warning when it does not; the same
    /// inputs give the same bytes.
    #[test]
    fn compiled_budgets_hold(bounds in layer_bounds(), budget in 0u64..1600, request in 0usize..3) {
        let mut src = source();
        for (layer, (required, priority, a, b)) in src.layers.iter_mut().zip(&bounds) {
            layer.required = *required;
            layer.priority = *priority;
            layer.min_tokens = (*a).min(*b);
            layer.max_tokens = (*a).max(*b);
        }
        let built = build_pack("pack.yaml", &src).unwrap();
        let packs = [signed(&built)];
        let run = standard();
        let input = CompileInput {
            packs: &packs,
            request: REQUESTS[request],
            run: &run,
            now: NOW,
            token_budget: budget,
            model: MODEL,
            tokens: counter(),
        };
        let cc = contextos_context::compile(&input, &AllowAll).unwrap();
        prop_assert!(cc.prompt_tokens <= budget);
        prop_assert_eq!(counter().count(&cc.prompt), cc.prompt_tokens);
        let header = |layer: ContextLayer| counter().count(&format!("## {layer} (support_escalation:18)\n"));
        let inspection = contextos_context::inspect_pack(&built, packs[0].digest(), counter(), NOW);
        // "Possible": every required layer's min plus its largest snippet and header fits its max, and all of it fits the budget.
        let mut need_total = 0;
        let mut possible = true;
        for (layer, spent) in built.layers.iter().zip(&cc.budget.layers) {
            prop_assert!(spent.used_tokens <= layer.max_tokens);
            if !layer.required {
                continue;
            }
            let info = inspection.layers.iter().find(|l| l.layer == layer.layer).unwrap();
            let largest = info.sources.iter().flat_map(|s| &s.snippets).map(|s| s.tokens).max().unwrap_or(0);
            let content = info.tokens;
            let need = layer.min_tokens + largest + header(layer.layer);
            possible &= need <= layer.max_tokens && content >= layer.min_tokens;
            need_total += need;
            let starved = cc.debt.iter().any(|d| d.kind == DebtKind::RequiredLayerStarved && d.layer == Some(layer.layer));
            let all_in = !cc.omitted.iter().any(|o| o.layer == layer.layer);
            prop_assert!(
                spent.used_tokens >= layer.min_tokens || starved || all_in,
                "required {} used {} < min {} without a warning", layer.layer, spent.used_tokens, layer.min_tokens
            );
        }
        if possible && need_total <= budget {
            for (layer, spent) in built.layers.iter().zip(&cc.budget.layers) {
                if layer.required {
                    prop_assert!(spent.used_tokens >= layer.min_tokens, "{} starved though possible", layer.layer);
                }
            }
        }
        let again = contextos_context::compile(&input, &AllowAll).unwrap();
        prop_assert_eq!(canonical_json(&again).unwrap(), canonical_json(&cc).unwrap());
    }
}
