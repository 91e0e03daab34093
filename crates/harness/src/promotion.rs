//! The `contextos promote` workflow: a stored run's packet becomes a case of
//! a suite (case file and fixtures), which then runs once to keep its golden.

use std::path::{Path, PathBuf};

use contextos_core::ReplayPacket;
use contextos_runtime::Deployment;

use crate::golden::accept_goldens;
use crate::promote::{scaffold_case, write_case, write_packet_fixtures};
use crate::runner::{RunOptions, run_suite};
use crate::scorecard::AssertionResult;
use crate::suite::{HarnessError, Selection, load_suite};

/// Refuses a case name that is not kebab-case (a-z, 0-9, -): it names the
/// case file and the fixtures directory.
pub fn check_case_name(name: &str) -> Result<(), HarnessError> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err(HarnessError::Usage(format!(
            "case name {name:?} must be kebab-case (a-z, 0-9, -)"
        )));
    }
    Ok(())
}

/// The files a promotion wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromotedCase {
    /// The case file, `<suite>/cases/<name>.yaml`.
    pub case_file: PathBuf,
    /// The fixtures directory, `<suite>/fixtures/<name>`.
    pub fixtures: PathBuf,
}

/// Adds case `name` to the suite in `suite_dir`: scaffolds it from `packet`
/// and writes it with the packet's recorded interactions as its fixtures.
/// Refuses to overwrite an existing case or fixtures directory, and to write
/// through a symbolic link or outside `suite_dir`.
pub fn promote_packet(packet: &ReplayPacket, name: &str, suite_dir: &Path) -> Result<PromotedCase, HarnessError> {
    let case = scaffold_case(packet, name)?;
    let fixtures = suite_dir.join("fixtures").join(name);
    let case_path = suite_dir.join("cases").join(format!("{name}.yaml"));
    for path in [&fixtures, &case_path] {
        contextos_fs::check_inside(suite_dir, path).map_err(|e| HarnessError::io("write", path, e))?;
    }
    if fixtures.exists() {
        return Err(HarnessError::Usage(format!(
            "{} already exists; pick another --case name",
            fixtures.display()
        )));
    }
    let case_file = write_case(&case, suite_dir)?;
    write_packet_fixtures(packet, &fixtures)?;
    Ok(PromotedCase { case_file, fixtures })
}

/// What the first run of a promoted case showed.
#[derive(Debug, Clone, PartialEq)]
pub struct FirstRun {
    /// The golden packets written.
    pub goldens: Vec<PathBuf>,
    /// Scaffolded assertions that do not hold yet (the golden comparison aside).
    pub pending: Vec<AssertionResult>,
}

/// Runs promoted case `name` of the suite in `suite_dir` once under `dep` and
/// keeps its packet as the golden under `goldens`. A case that does not run
/// is an error; assertions that fail are listed for the user to edit.
pub fn run_promoted_case(
    dep: &Deployment,
    suite_dir: &Path,
    name: &str,
    goldens: &Path,
) -> Result<FirstRun, HarnessError> {
    let suite = load_suite(suite_dir)?;
    let selection = Selection {
        filters: vec![name.to_string()],
        partition: None,
    };
    let cases: Vec<_> = selection
        .apply(&suite.cases)
        .into_iter()
        .filter(|c| c.file.name == name)
        .collect();
    let options = RunOptions {
        keep_packets: true,
        ..RunOptions::default()
    };
    let (runs, card) = run_suite(dep, &suite, &cases, None, &options);
    let mut written = Vec::new();
    if let Some(run) = runs.first() {
        if let Some(e) = &run.result.error {
            return Err(HarnessError::Usage(format!("the promoted case does not run: {e}")));
        }
        written = accept_goldens(&runs, &suite.file.name, goldens)?;
    }
    let pending = card
        .cases
        .iter()
        .flat_map(|c| c.assertions.iter().filter(|a| !a.passed && a.kind != "golden"))
        .cloned()
        .collect();
    Ok(FirstRun {
        goldens: written,
        pending,
    })
}
