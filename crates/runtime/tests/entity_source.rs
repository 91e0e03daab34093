//! A deployment's own schema and entity source reach Cedar: attributes of
//! users and packs typed by the deployment's `UserAttributes` /
//! `PackAttributes`, values from its entity source, its own entity types,
//! and clear input errors when a value does not fit.
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use std::fs;
use std::path::{Path, PathBuf};

use contextos_core::{ErrorKind, Kind, PolicyOutcome};
use contextos_intelligence::{BudgetLeft, principal_uid, run_attributes};
use contextos_runtime::{Deployment, Fixtures, RequestEnvelope, run_entities, run_on_fixtures};
use contextos_trust::PolicyRequest;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// The deployment's own types: a namespace of its own, user and pack
/// attributes, and an entity type of its own that user attributes point at.
const PROBE_SCHEMA: &str = "\nnamespace Probe {\n  entity Team;\n  \
type UserAttributes = { clearance: Long, team?: Team };\n  type PackAttributes = { data_class: String };\n}\n";

const PROBE_POLICY: &str = "@id(\"probe.confidential-packs-need-clearance\")\n\
forbid (principal, action == ContextOS::Action::\"use_pack\", resource is ContextOS::Pack)\n\
when { resource.attributes.data_class == \"confidential\" && principal.acting_for.attributes.clearance < 2 };\n";

/// A copy of the shipped deployment whose schema declares the probe types,
/// whose policies add the probe rule, and whose entity source is `source`.
fn project(source: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for sub in ["runtime", "policies"] {
        copy_dir(&repo().join(sub), &dir.path().join(sub));
    }
    let schema = dir.path().join("policies/schema.cedarschema");
    let text = fs::read_to_string(&schema).unwrap();
    fs::write(&schema, format!("{text}{PROBE_SCHEMA}")).unwrap();
    fs::write(dir.path().join("policies/probe.cedar"), PROBE_POLICY).unwrap();
    let config = dir.path().join("runtime/contextos.toml");
    let text = fs::read_to_string(&config).unwrap();
    let mut lines: Vec<String> = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("entities ="))
        .map(str::to_string)
        .collect();
    let paths = lines.iter().position(|l| l.trim() == "[paths]").unwrap();
    lines.insert(paths + 1, "entities = \"probe-entities.yaml\"".to_string());
    fs::write(&config, lines.join("\n") + "\n").unwrap();
    fs::write(dir.path().join("runtime/probe-entities.yaml"), source).unwrap();
    dir
}

fn example() -> (RequestEnvelope, Fixtures) {
    let dir = repo().join("runtime/examples/escalation");
    let text = fs::read_to_string(dir.join("request.yaml")).unwrap();
    (
        RequestEnvelope::parse("request.yaml", &text).unwrap(),
        Fixtures::load(&dir.join("fixtures")).unwrap(),
    )
}

/// The `use_pack` decision on the bundled pack for the example's run.
fn pack_decision(dep: &Deployment, env: &RequestEnvelope) -> contextos_core::PolicyDecision {
    let entities = run_entities(dep, env).unwrap();
    let run = &env.run_context;
    let pack = &dep.packs[0].pack().id;
    let request = PolicyRequest {
        principal: principal_uid(run).unwrap(),
        action: r#"ContextOS::Action::"use_pack""#.parse().unwrap(),
        resource: format!("ContextOS::Pack::{pack:?}").parse().unwrap(),
        attributes: run_attributes(
            run,
            BudgetLeft {
                tool_calls: 8,
                tokens: 20_000,
            },
        )
        .unwrap(),
        approval_role: None,
    };
    dep.policy.authorize(&request, &entities)
}

const SOURCE: &str = "format_version: 1\nusers:\n  alice: { clearance: CLEARANCE, team: { type: Probe::Team, id: support } }\n\
packs:\n  support_escalation: { data_class: confidential }\nentities:\n  - { uid: { type: Probe::Team, id: support }, attrs: {}, parents: [] }\n";

#[test]
fn user_and_pack_attributes_from_the_entity_source_decide_pack_use() {
    let (env, fixtures) = example();
    let low = project(&SOURCE.replace("CLEARANCE", "1"));
    let dep = Deployment::load(&low.path().join("runtime/contextos.toml")).unwrap();
    let denied = pack_decision(&dep, &env);
    assert_eq!(denied.outcome, PolicyOutcome::Deny, "{denied:#?}");
    assert_eq!(denied.determining_policies, ["probe.confidential-packs-need-clearance"]);

    let high = project(&SOURCE.replace("CLEARANCE", "2"));
    let dep = Deployment::load(&high.path().join("runtime/contextos.toml")).unwrap();
    assert_eq!(pack_decision(&dep, &env).outcome, PolicyOutcome::Allow);
    // The whole run goes through, and its packet names the entity source it used.
    let run = run_on_fixtures(&dep, &env, &fixtures).unwrap();
    assert_eq!(
        run.packet.inputs.entity_source,
        Some(dep.entities.digest().unwrap()),
        "the packet records which entity source decided"
    );
}

#[test]
fn an_attribute_that_does_not_fit_the_declared_type_is_an_input_error_naming_it() {
    let (env, _) = example();
    // A user's clearance as a string: the deployment loads (identities come
    // with each run), the run's entities are refused.
    let wrong = project(&SOURCE.replace("CLEARANCE", "\"high\""));
    let dep = Deployment::load(&wrong.path().join("runtime/contextos.toml")).unwrap();
    let err = run_entities(&dep, &env).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Input);
    let text = err.to_string();
    assert!(
        text.contains("User::\"alice\"")
            && text.contains("\"high\"")
            && text.contains("probe-entities.yaml")
            && text.contains("UserAttributes"),
        "{text}"
    );

    // A pack attribute the schema does not declare: the deployment refuses to load.
    let extra = project(
        &SOURCE
            .replace("CLEARANCE", "1")
            .replace("data_class: confidential", "data_class: confidential, owner: x"),
    );
    let err = Deployment::load(&extra.path().join("runtime/contextos.toml")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Input);
    let text = err.to_string();
    assert!(
        text.contains("support_escalation") && text.contains("owner") && text.contains("PackAttributes"),
        "{text}"
    );

    // An entity of a type no schema declares.
    let unknown = project(&SOURCE.replace("CLEARANCE", "1").replace(
        "type: Probe::Team, id: support }, attrs",
        "type: Probe::Squad, id: support }, attrs",
    ));
    let err = Deployment::load(&unknown.path().join("runtime/contextos.toml")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Input);
    assert!(err.to_string().contains("Probe::Squad"), "{err}");
}

#[test]
fn a_missing_or_malformed_entity_source_names_the_file() {
    let missing = project("format_version: 1\n");
    fs::remove_file(missing.path().join("runtime/probe-entities.yaml")).unwrap();
    let err = Deployment::load(&missing.path().join("runtime/contextos.toml")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Input);
    assert!(err.to_string().contains("probe-entities.yaml"), "{err}");

    let malformed = project("format_version: 1\nuser:\n  alice: {}\n");
    let err = Deployment::load(&malformed.path().join("runtime/contextos.toml")).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("probe-entities.yaml:2:1") && text.contains("unknown field `user`"),
        "{text}"
    );
}
