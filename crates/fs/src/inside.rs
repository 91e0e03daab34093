//! Writing only inside a root: a path a caller writes or deletes must stay
//! under its root once symbolic links are resolved, and is never itself a
//! symbolic link (writing or deleting through one reaches whatever it names).

use std::io;
use std::path::{Component, Path, PathBuf};

/// Refuses `path` when it is a symbolic link (dangling or not); a missing
/// path is fine.
pub fn refuse_symlink(path: &Path) -> io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{} is a symbolic link; ContextOS never writes or deletes through one: replace it with a real file or directory",
                path.display()
            ),
        )),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Checks that writing or deleting `path` stays inside `root`: `path` is
/// under `root` without `..`, its deepest existing ancestor resolves (after
/// symbolic links) inside the resolved `root`, and `path` itself is not a
/// symbolic link. `root` must exist.
pub fn check_inside(root: &Path, path: &Path) -> io::Result<()> {
    let outside = |why: String| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} leaves {}: {why}", path.display(), root.display()),
        )
    };
    let rel = path
        .strip_prefix(root)
        .map_err(|_| outside("it is not under it".to_string()))?;
    if rel
        .components()
        .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err(outside("it climbs out with `..` or is absolute".to_string()));
    }
    refuse_symlink(path)?;
    let resolved_root = root.canonicalize()?;
    let mut existing = PathBuf::from(path);
    loop {
        if std::fs::symlink_metadata(&existing).is_ok() || existing == root {
            break;
        }
        if !existing.pop() {
            break;
        }
    }
    // A dangling link among the ancestors does not canonicalize: refuse it too.
    let resolved = existing
        .canonicalize()
        .map_err(|e| outside(format!("{} does not resolve ({e})", existing.display())))?;
    if !resolved.starts_with(&resolved_root) {
        return Err(outside(format!(
            "{} resolves to {} through a symbolic link",
            existing.display(),
            resolved.display()
        )));
    }
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn a_path_through_a_symlinked_directory_is_outside() -> io::Result<()> {
        let root = tempfile::tempdir()?;
        let away = tempfile::tempdir()?;
        std::os::unix::fs::symlink(away.path(), root.path().join("link"))?;
        std::fs::create_dir(root.path().join("real"))?;
        assert!(check_inside(root.path(), &root.path().join("real/new/file")).is_ok());
        assert!(check_inside(root.path(), &root.path().join("link/file")).is_err());
        assert!(check_inside(root.path(), &root.path().join("link")).is_err());
        assert!(check_inside(root.path(), &root.path().join("../file")).is_err());
        // A link that stays inside is still refused as the written path itself.
        std::os::unix::fs::symlink(root.path().join("real"), root.path().join("inner"))?;
        assert!(check_inside(root.path(), &root.path().join("inner/file")).is_ok());
        assert!(check_inside(root.path(), &root.path().join("inner")).is_err());
        Ok(())
    }
}
