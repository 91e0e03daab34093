//! `contextos eval`, `schema`, `scorecard merge` through the real binary.
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use std::path::{Path, PathBuf};

use assert_cmd::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn contextos(args: &[&str]) -> (i32, String, String) {
    let out = Command::cargo_bin("contextos")
        .unwrap()
        .current_dir(repo())
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn committed_schemas_match_the_code() {
    for (kind, file) in [("scenario", "case.schema.json"), ("suite", "suite.schema.json")] {
        let (code, stdout, stderr) = contextos(&["schema", kind]);
        assert_eq!(code, 0, "{stderr}");
        let committed = std::fs::read_to_string(repo().join("scenarios/schema").join(file)).unwrap();
        assert_eq!(
            stdout, committed,
            "scenarios/schema/{file} is stale: regenerate it with `contextos schema {kind} > scenarios/schema/{file}`"
        );
    }
}
