//! `fuzz-seeds OUT_DIR`: writes each fuzz target's seed corpus
//! (`fuzz/seeds.txt`) to `OUT_DIR/<target>/`, one file per seed, named
//! `seed-<n>`. `cargo xtask fuzz` runs it before fuzzing; existing files
//! (what earlier runs found) are kept.

use std::fs;
use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [out] = &args[..] else {
        eprintln!("usage: fuzz-seeds OUT_DIR\n\nexample: fuzz-seeds fuzz/corpus");
        return ExitCode::from(2);
    };
    match write_seeds(&PathBuf::from(out)) {
        Ok(count) => {
            println!("fuzz-seeds: {count} seeds written under {out}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

fn write_seeds(out: &std::path::Path) -> Result<usize, String> {
    let seeds = contextos_fuzz::seeds().map_err(|e| e.to_string())?;
    for (index, seed) in seeds.iter().enumerate() {
        let dir = out.join(&seed.target);
        fs::create_dir_all(&dir).map_err(|e| format!("failed to create {}: {e}", dir.display()))?;
        let path = dir.join(format!("seed-{index:03}"));
        fs::write(&path, &seed.input).map_err(|e| format!("failed to write {}: {e}", path.display()))?;
    }
    Ok(seeds.len())
}
