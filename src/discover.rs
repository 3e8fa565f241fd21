//! Walking the given paths: gitignore-aware and parallel, skipping vendored
//! and generated trees. What happens to each file is the caller's `visit`.

use std::path::{Component, Path, PathBuf};
use std::sync::Mutex;

use ignore::{WalkBuilder, WalkState};

use crate::InputError;
use crate::frameworks::typescript;

/// Directories that never hold a project's own models.
const SKIPPED_DIRS: &[&str] = &[
    "node_modules",
    "site-packages",
    "__pycache__",
    ".venv",
    "venv",
    ".tox",
    ".nox",
    ".mypy_cache",
    ".git",
];

/// Configuration files read by name.
const FILE_NAMES: &[&str] = &["alembic.ini", "_journal.json", "drizzle.config.json"];

/// Walk `paths` and run `visit` on every candidate source file, on the
/// walker's own threads, so reading and parsing overlap with walking.
/// Results come back sorted by path (the order never depends on threads).
pub fn walk<T: Send>(
    paths: &[PathBuf],
    excluded: impl Fn(&Path) -> bool + Send + Sync + 'static,
    visit: impl Fn(&Path) -> T + Sync,
) -> (Vec<(PathBuf, T)>, Vec<InputError>) {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    let mut roots = Vec::new();
    let mut named = Vec::new();
    for path in paths {
        match std::fs::metadata(path) {
            Ok(meta) if meta.is_file() => named.push(path),
            Ok(_) => roots.push(path.clone()),
            Err(err) => errors.push(InputError::new(path, format!("cannot read path: {err}"))),
        }
    }
    // A file named beside a folder that holds it is read once, by the walk.
    let canonical_roots: Vec<PathBuf> = roots
        .iter()
        .filter_map(|r| std::fs::canonicalize(r).ok())
        .collect();
    for path in named {
        let inside = std::fs::canonicalize(path)
            .is_ok_and(|p| canonical_roots.iter().any(|r| p.starts_with(r)));
        if !inside {
            let outcome = visit(path);
            files.push((path.clone(), outcome));
        }
    }
    let canonical_roots = canonical_roots.clone();
    if let Some((first, rest)) = roots.split_first() {
        let mut builder = WalkBuilder::new(first);
        for root in rest {
            builder.add(root);
        }
        builder
            .hidden(false)
            // Followed, so that a link loop is found and reported.
            .follow_links(true)
            .require_git(false)
            // `.ignore` files are for search tools (karakeep lists its
            // drizzle-kit `meta/` there); what git ignores is not the
            // project's, what a search tool skips still is.
            .ignore(false)
            .filter_entry(move |entry| {
                let skipped = entry.depth() > 0
                    && entry.file_type().is_some_and(|t| t.is_dir())
                    && entry.file_name().to_str().is_some_and(|n| {
                        SKIPPED_DIRS.contains(&n) || (n.starts_with('.') && n.len() > 1)
                    });
                // A symbolic link is followed only while it stays inside the
                // paths being checked: ixray never reads (or fixes) a
                // project it was not pointed at.
                let escapes = entry.path_is_symlink()
                    && std::fs::canonicalize(entry.path())
                        .is_ok_and(|target| !inside(&target, &canonical_roots));
                let excluded = entry.depth() > 0 && excluded(entry.path());
                !(skipped || escapes || excluded)
            });
        let found = Mutex::new(Vec::new());
        let problems = Mutex::new(Vec::new());
        let visit = &visit;
        builder.build_parallel().run(|| {
            let found = &found;
            let problems = &problems;
            Box::new(move |entry| {
                match entry {
                    Ok(entry) => {
                        if entry.file_type().is_some_and(|t| t.is_file())
                            && has_extension(entry.path())
                        {
                            let outcome = visit(entry.path());
                            found
                                .lock()
                                .expect("no panics while locked")
                                .push((entry.into_path(), outcome));
                        }
                    }
                    // A broken link to a file ixray would never read
                    // (`.prettierignore`) is not a problem.
                    Err(err) if dangling_irrelevant(&err) => {}
                    Err(err) => problems
                        .lock()
                        .expect("no panics while locked")
                        .push(walk_error(err)),
                }
                WalkState::Continue
            })
        });
        files.extend(found.into_inner().expect("no panics while locked"));
        errors.extend(problems.into_inner().expect("no panics while locked"));
    }
    sort_by_path(&mut files);
    files.dedup_by(|a, b| a.0 == b.0);
    errors.sort_by(|a, b| a.path.cmp(&b.path));
    (files, errors)
}

/// Sort by path, in `Path`'s order (component by component, stable), with
/// each path split into components once, into one byte string compared by
/// `memcmp`: each component's kind, then its bytes, then a zero before the
/// next. `Path::cmp` splits both paths anew on every comparison, which on
/// the main thread cost more than a rule, and comparing vectors of
/// components still cost 20 M instructions on a large tree.
pub fn sort_by_path<T>(files: &mut Vec<(PathBuf, T)>) {
    let keys: Vec<Vec<u8>> = files
        .iter()
        .map(|(path, _)| {
            let mut key = Vec::with_capacity(path.as_os_str().len() + 8);
            for (i, component) in path.components().enumerate() {
                if i > 0 {
                    key.push(0);
                }
                // In `Component`'s own order.
                let (kind, bytes) = match component {
                    Component::Prefix(p) => (1, p.as_os_str().as_encoded_bytes()),
                    Component::RootDir => (2, &[][..]),
                    Component::CurDir => (3, &[][..]),
                    Component::ParentDir => (4, &[][..]),
                    Component::Normal(name) => (5, name.as_encoded_bytes()),
                };
                key.push(kind);
                key.extend_from_slice(bytes);
            }
            key
        })
        .collect();
    let mut order: Vec<usize> = (0..files.len()).collect();
    order.sort_by(|a, b| keys[*a].cmp(&keys[*b]));
    drop(keys);
    let mut slots: Vec<Option<(PathBuf, T)>> = files.drain(..).map(Some).collect();
    files.extend(
        order
            .into_iter()
            .map(|i| slots[i].take().expect("a permutation takes each slot once")),
    );
}

/// Whether `path` (canonical) lies in one of `roots` (canonical).
pub fn inside(path: &Path, roots: &[PathBuf]) -> bool {
    roots.iter().any(|root| path.starts_with(root))
}

/// Whether the walk would read `path` (by its name; an editor's file).
pub fn is_candidate(path: &Path) -> bool {
    has_extension(path)
}

fn has_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        // Python, and the scripts the JavaScript frameworks read.
        .is_some_and(|e| e == "py" || typescript::EXTENSIONS.contains(&e))
        || path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| FILE_NAMES.contains(&n))
}

fn dangling_irrelevant(err: &ignore::Error) -> bool {
    match err {
        ignore::Error::WithPath { path, .. } => {
            std::fs::symlink_metadata(path).is_ok()
                && std::fs::metadata(path).is_err()
                && !has_extension(path)
        }
        ignore::Error::WithDepth { err, .. } => dangling_irrelevant(err),
        _ => false,
    }
}

fn walk_error(err: ignore::Error) -> InputError {
    match err {
        ignore::Error::WithPath { path, err } => {
            let dangling =
                std::fs::symlink_metadata(&path).is_ok() && std::fs::metadata(&path).is_err();
            let reason = if dangling {
                "cannot read: broken symbolic link".to_string()
            } else {
                format!("cannot read: {err}")
            };
            InputError::new(&path, reason)
        }
        ignore::Error::WithDepth { err, .. } => walk_error(*err),
        ignore::Error::Loop { ancestor, child } => InputError::new(
            &child,
            format!("symbolic link loop (points back to {})", ancestor.display()),
        ),
        other => InputError::new(Path::new("."), other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorting_by_path_keeps_paths_order() {
        let paths = [
            "a.b", "a/b", "./b", "a-b/c", "a/b/c", "/x", "../y", ".", "a//b", "a/./b", "a/b/", "b",
            "a/b.py", "a/b/a.py", "A/b", "a/b",
        ];
        let mut fast: Vec<(PathBuf, usize)> = paths
            .iter()
            .enumerate()
            .map(|(i, p)| (PathBuf::from(p), i))
            .collect();
        let mut slow = fast.clone();
        sort_by_path(&mut fast);
        slow.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(fast, slow);
    }
}
