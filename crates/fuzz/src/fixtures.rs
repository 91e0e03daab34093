//! What the target bodies share: the repository root, the shipped keyring
//! and policy engine (loaded once per thread), a scratch directory per thread
//! for parsers that only read files, and the CLI's error rendering.

use std::cell::OnceCell;
use std::fs;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use contextos_trust::{Keyring, PolicyEngine};
use miette::{Diagnostic, GraphicalReportHandler, GraphicalTheme};
use tempfile::TempDir;

/// The repository root (this crate is `crates/fuzz`).
pub(crate) fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

thread_local! {
    static KEYRING: OnceCell<Rc<Keyring>> = const { OnceCell::new() };
    static ENGINE: OnceCell<Rc<PolicyEngine>> = const { OnceCell::new() };
    static SCRATCH: OnceCell<Rc<TempDir>> = const { OnceCell::new() };
}

/// Loads a value once per thread; a failed load is tried again next time.
fn once<T>(
    key: &'static std::thread::LocalKey<OnceCell<Rc<T>>>,
    load: impl FnOnce() -> Result<T, String>,
) -> Result<Rc<T>, String> {
    key.with(|cell| {
        if let Some(value) = cell.get() {
            return Ok(Rc::clone(value));
        }
        let value = Rc::new(load()?);
        Ok(Rc::clone(cell.get_or_init(|| value)))
    })
}

/// The shipped development keyring (`runtime/keys`).
pub(crate) fn keyring() -> Result<Rc<Keyring>, String> {
    once(&KEYRING, || {
        Keyring::load_dir(&root().join("runtime/keys")).map_err(|e| format!("setup: runtime/keys: {e}"))
    })
}

/// The shipped policy bundle (`policies/`).
pub(crate) fn engine() -> Result<Rc<PolicyEngine>, String> {
    once(&ENGINE, || {
        PolicyEngine::load(&root().join("policies")).map_err(|e| format!("setup: policies: {e}"))
    })
}

/// This thread's scratch directory `name`, emptied.
pub(crate) fn scratch(name: &str) -> Result<PathBuf, String> {
    let base = once(&SCRATCH, || {
        tempfile::tempdir().map_err(|e| format!("setup: scratch directory: {e}"))
    })?;
    let dir = base.path().join(name);
    if dir.exists() {
        fs::remove_dir_all(&dir).map_err(|e| setup_io(&dir, &e))?;
    }
    fs::create_dir_all(&dir).map_err(|e| setup_io(&dir, &e))?;
    Ok(dir)
}

/// Writes `bytes` to `path` (a scratch file).
pub(crate) fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(|e| setup_io(parent, &e))?;
    }
    fs::write(path, bytes).map_err(|e| setup_io(path, &e))
}

/// Copies the shipped file `rel` (relative to the root) into `dir`.
pub(crate) fn copy_shipped(rel: &str, dir: &Path) -> Result<(), String> {
    let from = root().join(rel);
    let name = from
        .file_name()
        .ok_or_else(|| format!("setup: {rel} has no file name"))?;
    fs::copy(&from, dir.join(name)).map_err(|e| setup_io(&from, &e))?;
    Ok(())
}

fn setup_io(path: &Path, err: &std::io::Error) -> String {
    format!("setup: {}: {err}", path.display())
}

/// Renders an error as the CLI does (miette's graphical report, with the
/// source snippet and label), so located errors are exercised too.
pub(crate) fn render(err: &dyn Diagnostic) -> String {
    let handler = GraphicalReportHandler::new_themed(GraphicalTheme::unicode_nocolor());
    let mut text = String::new();
    // Writing to a String cannot fail; a render error is not a crash.
    let _ = handler.render_report(&mut text, err);
    text
}
