//! Each fuzz target's body over its seed corpus (`fuzz/seeds.txt`) and its
//! regression inputs (`fuzz/regressions/<target>/`): what cargo-fuzz runs,
//! as a plain test, so CI exercises the same code without a sanitizer build.
#![expect(clippy::unwrap_used, clippy::panic, reason = "tests fail loudly")]

use contextos_fuzz::{TARGETS, Target, regressions, seeds};

fn target(name: &str) -> &'static Target {
    TARGETS.iter().find(|t| t.name == name).unwrap()
}

/// Runs `name` over every seed and regression input: none may panic, and the
/// setup (shipped keys, policies) must load.
fn run_corpus(name: &str) {
    let target = target(name);
    let seeds: Vec<_> = seeds().unwrap().into_iter().filter(|s| s.target == name).collect();
    assert!(!seeds.is_empty(), "fuzz/seeds.txt seeds nothing for {name}");
    for seed in &seeds {
        (target.run)(&seed.input).unwrap_or_else(|e| panic!("{name} on {}: {e}", seed.path));
    }
    for (path, input) in regressions(name) {
        (target.run)(&input).unwrap_or_else(|e| panic!("{name} on {}: {e}", path.display()));
    }
}

macro_rules! corpus_tests {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                run_corpus(stringify!($name));
            }
        )*

        #[test]
        fn every_target_has_a_corpus_test() {
            let tested = [$(stringify!($name)),*];
            let targets: Vec<_> = TARGETS.iter().map(|t| t.name).collect();
            assert_eq!(tested.to_vec(), targets);
        }
    };
}

corpus_tests!(
    document,
    scenario,
    pack,
    packet,
    policy,
    tools,
    mcp,
    openapi,
    model_response
);

#[test]
fn every_parser_of_every_target_has_a_seed() {
    let seeds = seeds().unwrap();
    for target in TARGETS {
        for (index, parser) in target.parsers.iter().enumerate() {
            let seeded = seeds
                .iter()
                .any(|s| s.target == target.name && s.input.first() == Some(&u8::try_from(index).unwrap()));
            assert!(
                seeded,
                "no seed for parser {parser} (selector {index}) of {}",
                target.name
            );
        }
    }
    for seed in &seeds {
        assert!(
            TARGETS.iter().any(|t| t.name == seed.target),
            "fuzz/seeds.txt names an unknown target {:?}",
            seed.target
        );
    }
}

#[test]
fn seeds_reach_the_parsers_and_bad_input_is_refused_not_a_crash() {
    // A seed is a real file of its kind: the parser accepts it.
    let request = seeds()
        .unwrap()
        .into_iter()
        .find(|s| s.target == "scenario" && s.path == "runtime/examples/escalation/request.yaml")
        .unwrap();
    assert_eq!(
        request.input[0], 3,
        "request.yaml is the scenario target's request parser"
    );
    let text = std::str::from_utf8(&request.input[1..]).unwrap();
    assert!(contextos_runtime::RequestEnvelope::parse("request.yaml", text).is_ok());
    // Truncated, empty and non-UTF-8 inputs come back as errors, not panics.
    for target in TARGETS {
        for input in [
            &b""[..],
            &[0],
            &[1, 0xff, 0xfe],
            &request.input[..request.input.len() / 2],
        ] {
            (target.run)(input).unwrap();
        }
    }
}
