//! What a git checkout has not merged yet: the files changed since the
//! merge-base with the repository's default branch, plus uncommitted and
//! untracked files. Rules about how a migration is written use it to speak
//! only about migrations that can still be changed. Runs `git`; knows
//! nothing about frameworks.

use std::path::{Path, PathBuf};
use std::process::Command;

use rustc_hash::FxHashSet;

/// The unmerged files of one checkout, as canonical absolute paths.
#[derive(Debug, Clone)]
pub struct Unmerged {
    /// The ref the checkout is compared with (`origin/main`).
    pub base_ref: String,
    files: FxHashSet<PathBuf>,
}

impl Unmerged {
    /// Whether the file at `path`, a resolved path (as git names it under
    /// the resolved checkout root), is unmerged.
    pub fn contains(&self, path: &Path) -> bool {
        self.files.contains(path)
    }
}

/// The unmerged files of the git checkout that holds `path`; `None` when
/// `path` is not in a git checkout, git is missing, or no default branch
/// can be found (the caller then falls back to something it can know).
/// With `within` (folders), only files in those folders are looked up,
/// which spares git a stat of every file of a large checkout; `None` when
/// none of them is in the checkout.
pub fn unmerged(path: &Path, within: Option<&[PathBuf]>) -> Option<Unmerged> {
    let root = checkout_root(path)?;
    let pathspecs = match within {
        Some(folders) => Some(pathspecs_under(&root, folders)?),
        None => None,
    };
    let base_ref = default_branch(&root)?;
    let merge_base = git(&root, &["merge-base", "HEAD", &base_ref])?;
    let files = changed_files(&root, &merge_base, pathspecs.as_deref().unwrap_or_default())?;
    Some(Unmerged { base_ref, files })
}

/// Literal git pathspecs for the folders under `root` (at most
/// [`MAX_PATHSPECS`]: more look the whole checkout up); `None` when none
/// is under it.
fn pathspecs_under(root: &Path, folders: &[PathBuf]) -> Option<Vec<String>> {
    let mut specs: Vec<String> = folders
        .iter()
        .filter_map(|folder| std::fs::canonicalize(folder).ok())
        .filter(|folder| folder.starts_with(root))
        .filter_map(|folder| Some(format!(":(literal){}", folder.to_str()?)))
        .collect();
    specs.sort_unstable();
    specs.dedup();
    match specs.len() {
        0 => None,
        n if n > MAX_PATHSPECS => Some(Vec::new()),
        _ => Some(specs),
    }
}

/// Beyond this many folders, git is asked about the whole checkout.
const MAX_PATHSPECS: usize = 2_000;

/// The folder to ask git from for `path`: itself, or the folder of a file.
fn folder_of(path: &Path) -> PathBuf {
    if path.is_dir() {
        path.to_path_buf()
    } else {
        path.parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf()
    }
}

/// The top folder of the checkout that holds `path`, canonical.
fn checkout_root(path: &Path) -> Option<PathBuf> {
    let root = PathBuf::from(git(&folder_of(path), &["rev-parse", "--show-toplevel"])?);
    Some(std::fs::canonicalize(&root).unwrap_or(root))
}

/// Files changed since `base` (committed since, staged and unstaged alike)
/// and untracked files, as absolute paths under `root`; only those the
/// `pathspecs` match when there are any. Both git commands run at once.
fn changed_files(root: &Path, base: &str, pathspecs: &[String]) -> Option<FxHashSet<PathBuf>> {
    let run = |args: &[&str]| {
        let mut all: Vec<&str> = args.to_vec();
        all.push("--");
        all.extend(pathspecs.iter().map(String::as_str));
        spawn_git(root, &all)
    };
    let changed = run(&["diff", "--name-only", "--no-renames", "-z", base]);
    let untracked = run(&["ls-files", "--others", "--exclude-standard", "-z"]);
    // Both are waited for, whatever the other gave.
    let (changed, untracked) = (changed.and_then(finish), untracked.and_then(finish));
    let (changed, untracked) = (changed?, untracked?);
    Some(
        changed
            .split('\0')
            .chain(untracked.split('\0'))
            .filter(|name| !name.is_empty())
            .map(|name| root.join(name))
            .collect(),
    )
}

/// The files changed since a git ref, as canonical absolute paths.
#[derive(Debug, Clone)]
pub struct Changed {
    files: FxHashSet<PathBuf>,
}

impl Changed {
    fn holds(&self, path: &Path) -> bool {
        std::fs::canonicalize(path).is_ok_and(|p| self.files.contains(&p))
    }

    /// Whether a finding's place or cause lies in a changed file: its
    /// location, or a related one (the query that needs the index, the
    /// index that makes another redundant).
    pub fn touches(&self, finding: &crate::rules::Finding) -> bool {
        finding.location.iter().any(|l| self.holds(&l.path))
            || finding.related.iter().any(|r| self.holds(&r.location.path))
    }
}

/// What changed since `reference` in the checkout that holds `path`:
/// commits since it, staged and unstaged changes, untracked files.
pub fn changed_since(path: &Path, reference: &str) -> Result<Changed, String> {
    let root = checkout_root(path)
        .ok_or_else(|| format!("{} is not in a git checkout", folder_of(path).display()))?;
    let commit = format!("{reference}^{{commit}}");
    git(&root, &["rev-parse", "--verify", "--quiet", &commit])
        .ok_or_else(|| format!("`{reference}` is not a commit in {}", root.display()))?;
    let files = changed_files(&root, reference, &[]).ok_or("git diff failed")?;
    Ok(Changed { files })
}

/// The branch pull requests merge into: what `origin/HEAD` points at, else
/// the first of `origin/main`, `origin/master`, `main`, `master` that exists.
fn default_branch(root: &Path) -> Option<String> {
    if let Some(head) = git(
        root,
        &[
            "symbolic-ref",
            "--quiet",
            "--short",
            "refs/remotes/origin/HEAD",
        ],
    ) {
        return Some(head);
    }
    ["origin/main", "origin/master", "main", "master"]
        .into_iter()
        .find(|candidate| {
            git(
                root,
                &[
                    "rev-parse",
                    "--verify",
                    "--quiet",
                    &format!("{candidate}^{{commit}}"),
                ],
            )
            .is_some()
        })
        .map(str::to_string)
}

/// Run git in `dir`; its trimmed stdout when it succeeds.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    finish(spawn_git(dir, args)?)
}

/// Start git in `dir`, its output piped.
fn spawn_git(dir: &Path, args: &[&str]) -> Option<std::process::Child> {
    Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_OPTIONAL_LOCKS", "0")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .ok()
}

/// A started git's trimmed stdout when it succeeds.
fn finish(child: std::process::Child) -> Option<String> {
    let output = child.wait_with_output().ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8(output.stdout).ok()?;
    Some(text.trim_end_matches('\n').to_string())
}
