//! Shared helpers for integration tests: the ixray binary, fixture copies,
//! and the Django harness (`tests/support/djangoctl.py`) run by the test venv.

#![allow(dead_code, clippy::print_stderr)]

pub mod intents;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Write `contents` to `dir/relative`, creating folders.
pub fn write(dir: &Path, relative: &str, contents: impl AsRef<[u8]>) {
    let path = dir.join(relative);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, contents).unwrap();
}

/// A Django app with one foreign key Django leaves unindexed.
pub const LIBRARY_APP: &str = r#"from django.db import models


class Author(models.Model):
    name = models.CharField(max_length=100)


class Book(models.Model):
    author = models.ForeignKey(Author, on_delete=models.CASCADE, db_index=False)
    title = models.CharField(max_length=200)
"#;

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixture(relative: &str) -> PathBuf {
    repo_root().join("fixtures").join(relative)
}

pub fn ixray() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ixray"))
}

/// Run ixray in `dir`; returns (exit code, stdout, stderr).
pub fn run_ixray(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let output = ixray()
        .current_dir(dir)
        .args(args)
        .output()
        .expect("ixray runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Copy a fixture project into a fresh temporary directory.
pub fn copy_fixture(relative: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    copy_dir(&fixture(relative), dir.path());
    dir
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            if entry.file_name() != "__pycache__" {
                copy_dir(&entry.path(), &target);
            }
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Every file below `dir` with its contents, for before/after comparisons.
pub fn tree_contents(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        for entry in std::fs::read_dir(&current).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            if entry.file_type().unwrap().is_dir() {
                if entry.file_name() != "__pycache__" {
                    stack.push(path);
                }
            } else {
                out.push((
                    path.strip_prefix(dir).unwrap().to_path_buf(),
                    std::fs::read(&path).unwrap(),
                ));
            }
        }
    }
    out.sort();
    out
}

/// The paths whose contents differ between two `tree_contents` (new files
/// included).
pub fn changed_files(before: &[(PathBuf, Vec<u8>)], after: &[(PathBuf, Vec<u8>)]) -> Vec<String> {
    after
        .iter()
        .filter(|(p, c)| {
            before
                .iter()
                .find(|(q, _)| q == p)
                .is_none_or(|(_, d)| d != c)
        })
        .map(|(p, _)| p.display().to_string())
        .collect()
}

/// With `CI=true` a missing tool fails the test; elsewhere it is skipped
/// with a message.
pub fn require(what: &str, available: bool) -> bool {
    if available {
        return true;
    }
    if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
        panic!("{what} is not available; run the tests through scripts/test");
    }
    eprintln!("skipping: {what} is not available (run scripts/test to set it up)");
    false
}

/// The test venv's Python, when it exists.
pub fn python() -> Option<PathBuf> {
    let candidate = std::env::var_os("IXRAY_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".venv/bin/python"));
    candidate.exists().then_some(candidate)
}

pub fn postgres_available() -> bool {
    let host = std::env::var("IXRAY_PG_HOST").unwrap_or_else(|_| "127.0.0.1".into());
    let port = std::env::var("IXRAY_PG_PORT").unwrap_or_else(|_| "54329".into());
    std::net::TcpStream::connect(format!("{host}:{port}")).is_ok()
}

/// Run a harness script of `tests/support/` with the test venv's Python.
fn harness(script: &str, command: &str, project: &Path, db: &str) -> Output {
    let python = python().expect("checked by require()");
    Command::new(python)
        .arg(repo_root().join("tests/support").join(script))
        .arg(command)
        .arg(project)
        .args(["--db", db])
        .output()
        .expect("the harness runs")
}

pub fn djangoctl(command: &str, project: &Path, db: &str) -> Output {
    harness("djangoctl.py", command, project, db)
}

/// `djangoctl` with positional arguments after the project
/// (`sqlmigrate APP MIGRATION`).
pub fn djangoctl_args(command: &str, project: &Path, db: &str, args: &[&str]) -> Output {
    harness_args("djangoctl.py", command, project, db, args)
}

/// A harness script of `tests/support/` with arguments after the project
/// (`--keep`, positional ones).
pub fn harness_args(
    script: &str,
    command: &str,
    project: &Path,
    db: &str,
    args: &[&str],
) -> Output {
    let python = python().expect("checked by require()");
    Command::new(python)
        .arg(repo_root().join("tests/support").join(script))
        .arg(command)
        .arg(project)
        .args(args)
        .args(["--db", db])
        .output()
        .expect("the harness runs")
}

pub fn drizzlectl(command: &str, project: &Path, db: &str) -> Output {
    harness("drizzlectl.py", command, project, db)
}

/// The Node packages of the repo's lock file (drizzle-kit, typescript),
/// installed by scripts/test.
pub fn node_modules_available() -> bool {
    let dir = std::env::var_os("IXRAY_NODE_MODULES")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("node_modules"));
    dir.join("drizzle-kit").exists() && dir.join("typescript").exists()
}

/// The FKs the database leaves unindexed after `drizzle-kit migrate`.
pub fn unindexed_in_drizzle_database(project: &Path, db: &str) -> BTreeSet<(String, Vec<String>)> {
    unindexed_in_catalog(&drizzlectl("catalog", project, db), db)
}

pub fn alembicctl(command: &str, project: &Path, db: &str) -> Output {
    harness("alembicctl.py", command, project, db)
}

/// Assert that a harness command succeeded, showing its output if not.
pub fn assert_success(output: &Output, what: &str) {
    assert!(
        output.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Django's own tables (contrib apps) are not the fixtures' business.
pub fn is_project_table(table: &str) -> bool {
    !(table.starts_with("auth_") || table.starts_with("django_"))
}

/// The FKs the database leaves unindexed, after Django applied the
/// project's migrations: (table, columns).
pub fn unindexed_in_database(project: &Path, db: &str) -> BTreeSet<(String, Vec<String>)> {
    unindexed_in_catalog(&djangoctl("catalog", project, db), db)
}

/// The FKs the database leaves unindexed after `alembic upgrade head`.
pub fn unindexed_in_alembic_database(project: &Path, db: &str) -> BTreeSet<(String, Vec<String>)> {
    unindexed_in_catalog(&alembicctl("catalog", project, db), db)
}

fn unindexed_in_catalog(output: &Output, db: &str) -> BTreeSet<(String, Vec<String>)> {
    assert_success(output, &format!("the catalog on {db}"));
    let catalog: serde_json::Value = serde_json::from_slice(&output.stdout).expect("catalog JSON");
    catalog["foreign_keys"]
        .as_array()
        .expect("foreign_keys list")
        .iter()
        .filter(|fk| fk["indexed"] == false)
        .map(|fk| {
            (
                fk["table"].as_str().unwrap().to_string(),
                strings(&fk["columns"]),
            )
        })
        .filter(|(table, _)| is_project_table(table))
        .collect()
}

fn strings(value: &serde_json::Value) -> Vec<String> {
    value
        .as_array()
        .expect("a JSON list")
        .iter()
        .map(|c| c.as_str().expect("a string").to_string())
        .collect()
}

/// ixray's JSON findings for a project.
pub fn findings(project: &Path) -> Vec<serde_json::Value> {
    findings_with(project, &[])
}

/// ixray's JSON findings with extra options (`--dialect sqlite`).
pub fn findings_with(project: &Path, options: &[&str]) -> Vec<serde_json::Value> {
    let mut args = vec!["check", "--format", "json"];
    args.extend_from_slice(options);
    args.push(".");
    let (code, stdout, stderr) = run_ixray(project, &args);
    assert!(
        code == 0 || code == 1,
        "ixray check failed ({code}): {stderr}"
    );
    let report: serde_json::Value = serde_json::from_str(&stdout).expect("JSON report");
    assert_eq!(report["version"], 1);
    report["findings"].as_array().unwrap().clone()
}

pub fn unindexed_by_ixray(project: &Path) -> BTreeSet<(String, Vec<String>)> {
    unindexed_by_ixray_with(project, &[])
}

pub fn unindexed_by_ixray_with(
    project: &Path,
    options: &[&str],
) -> BTreeSet<(String, Vec<String>)> {
    findings_with(project, options)
        .iter()
        .filter(|f| f["rule"] == "unindexed-foreign-key")
        .map(|f| {
            (
                f["table"].as_str().unwrap().to_string(),
                strings(&f["columns"]),
            )
        })
        .collect()
}
