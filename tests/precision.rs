//! The precision guard: one small project per class of false finding seen on
//! real repositories (tests/precision/<case>/), each with the exact findings
//! it must give in `expected.txt` (usually none), plus the cases that need a
//! git history, built here in a temp dir.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use common::*;

/// `rule table (columns)` per finding, from `check --format json`, plus
/// `error: <message>` for every input problem ixray printed.
fn findings(dir: &Path, extra: &[&str]) -> BTreeSet<String> {
    let mut args = vec!["check", "--format", "json"];
    args.extend_from_slice(extra);
    let (code, stdout, stderr) = run_ixray(dir, &args);
    assert!(code == 0 || code == 1, "exit {code}: {stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).expect("json report");
    let errors = stderr
        .lines()
        .filter_map(|l| l.strip_prefix("ixray: "))
        .map(|l| format!("error: {}", l.split_once(": ").map_or(l, |(_, m)| m)));
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let columns: Vec<&str> = f["columns"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_str().unwrap())
                .collect();
            format!(
                "{} {} ({})",
                f["rule"].as_str().unwrap(),
                f["table"].as_str().unwrap(),
                columns.join(", ")
            )
        })
        .chain(errors)
        .collect()
}

#[test]
fn every_case_gives_exactly_its_expected_findings() {
    let root = repo_root().join("tests/precision");
    let mut cases: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert!(!cases.is_empty());
    let mut failures = Vec::new();
    for case in &cases {
        let expected: BTreeSet<String> = std::fs::read_to_string(case.join("expected.txt"))
            .unwrap_or_else(|_| panic!("{} has no expected.txt", case.display()))
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(str::to_string)
            .collect();
        // A copy outside any git checkout: what the case says does not
        // depend on this repository's history.
        let dir = tempfile::tempdir().unwrap();
        copy_dir(case, dir.path());
        let got = findings(dir.path(), &[]);
        if got != expected {
            failures.push(format!(
                "{}:\n  expected {expected:#?}\n  got {got:#?}",
                case.file_name().unwrap().to_string_lossy()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .current_dir(dir)
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
        .args([
            "-c",
            "init.defaultBranch=main",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .status()
        .expect("git runs");
    assert!(status.success(), "git {args:?}");
}

fn write(dir: &Path, relative: &str, contents: &str) {
    let path = dir.join(relative);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, contents).unwrap();
}

fn revision(id: &str, down: &str, body: &str) -> String {
    format!(
        "from alembic import op\nimport sqlalchemy as sa\n\nrevision = \"{id}\"\ndown_revision = {down}\n\n\ndef upgrade():\n{body}\n"
    )
}

/// `non-concurrent-index` speaks only about migrations not merged yet: in a
/// git checkout, those changed since the merge-base with the default branch;
/// elsewhere, the newest revision. A path given on the command line and
/// `--all-migrations` widen it.
#[test]
fn non_concurrent_index_reports_only_unmerged_migrations() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        root,
        "alembic.ini",
        "[alembic]\nscript_location = migrations\nsqlalchemy.url = postgresql://localhost/x\n",
    );
    write(
        root,
        "app/models.py",
        "from sqlalchemy import Column, Integer, Index\nfrom sqlalchemy.orm import declarative_base\nBase = declarative_base()\n\nclass Item(Base):\n    __tablename__ = \"item\"\n    id = Column(Integer, primary_key=True)\n    a = Column(Integer, index=True)\n    b = Column(Integer, index=True)\n    c = Column(Integer, index=True)\n",
    );
    write(
        root,
        "migrations/versions/r1_initial.py",
        &revision(
            "r1",
            "None",
            "    op.create_table(\"item\", sa.Column(\"id\", sa.Integer(), primary_key=True), sa.Column(\"a\", sa.Integer()), sa.Column(\"b\", sa.Integer()), sa.Column(\"c\", sa.Integer()))",
        ),
    );
    write(
        root,
        "migrations/versions/r2_index_a.py",
        &revision(
            "r2",
            "\"r1\"",
            "    op.create_index(\"ix_item_a\", \"item\", [\"a\"])",
        ),
    );
    let builds = |extra: &[&str]| -> Vec<String> {
        findings(root, extra)
            .into_iter()
            .filter(|f| f.starts_with("non-concurrent-index"))
            .collect()
    };

    // Not a git checkout: only the newest revision counts.
    write(
        root,
        "migrations/versions/r3_index_b.py",
        &revision(
            "r3",
            "\"r2\"",
            "    op.create_index(\"ix_item_b\", \"item\", [\"b\"])",
        ),
    );
    assert_eq!(builds(&[]), vec!["non-concurrent-index item (b)"]);

    // On the default branch everything committed is merged.
    git(root, &["init", "-q"]);
    git(root, &["add", "."]);
    git(root, &["commit", "-q", "-m", "history"]);
    assert_eq!(builds(&[]), Vec::<String>::new());
    assert_eq!(
        builds(&["--all-migrations"]),
        vec![
            "non-concurrent-index item (a)",
            "non-concurrent-index item (b)"
        ]
    );
    // A migration named on the command line is always checked.
    assert_eq!(
        builds(&[".", "migrations/versions/r2_index_a.py"]),
        vec!["non-concurrent-index item (a)"]
    );

    // A feature branch: its own commit and an untracked file are unmerged.
    git(root, &["checkout", "-q", "-b", "feature"]);
    write(
        root,
        "migrations/versions/r4_index_c.py",
        &revision(
            "r4",
            "\"r3\"",
            "    op.create_index(\"ix_item_c\", \"item\", [\"c\"])",
        ),
    );
    assert_eq!(builds(&[]), vec!["non-concurrent-index item (c)"]);
    git(root, &["add", "."]);
    git(root, &["commit", "-q", "-m", "index c"]);
    assert_eq!(builds(&[]), vec!["non-concurrent-index item (c)"]);
}

/// Without `sqlalchemy.url` the dialect is assumed, and the finding says so.
#[test]
fn an_assumed_dialect_is_named_in_the_finding() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        root,
        "alembic.ini",
        "[alembic]\nscript_location = migrations\n",
    );
    write(
        root,
        "app/models.py",
        "from sqlalchemy import Column, ForeignKey, Integer\nfrom sqlalchemy.orm import declarative_base\nBase = declarative_base()\n\nclass Owner(Base):\n    __tablename__ = \"owners\"\n    id = Column(Integer, primary_key=True)\n\nclass Item(Base):\n    __tablename__ = \"item\"\n    id = Column(Integer, primary_key=True)\n    a = Column(Integer, index=True)\n    owner_id = Column(Integer, ForeignKey(\"owners.id\"))\n",
    );
    write(
        root,
        "migrations/versions/r1_initial.py",
        &revision(
            "r1",
            "None",
            "    op.create_table(\"item\", sa.Column(\"id\", sa.Integer(), primary_key=True), sa.Column(\"a\", sa.Integer()))",
        ),
    );
    write(
        root,
        "migrations/versions/r2_index_a.py",
        &revision(
            "r2",
            "\"r1\"",
            "    op.create_index(\"ix_item_a\", \"item\", [\"a\"])",
        ),
    );
    let (_, stdout, _) = run_ixray(root, &["check", "--format", "json"]);
    assert!(
        stdout.contains("without CONCURRENTLY; writes to `item` are blocked until the build finishes (PostgreSQL assumed: nothing names the database)"),
        "{stdout}"
    );
    // On MySQL InnoDB would index the foreign key: the finding depends on
    // the assumption and says so.
    assert!(
        stdout.contains("foreign key `item.owner_id` has no index (references `owners`) (PostgreSQL assumed: nothing names the database)"),
        "{stdout}"
    );
    let (_, stdout, _) = run_ixray(
        root,
        &["check", "--format", "json", "--dialect", "postgresql"],
    );
    assert!(stdout.contains("non-concurrent-index"), "{stdout}");
    assert!(!stdout.contains("assumed"), "{stdout}");
}

fn django_migration(dependency: Option<&str>, atomic: bool, operations: &str) -> String {
    format!(
        "from django.contrib.postgres.operations import AddIndexConcurrently\nfrom django.db import migrations, models\n\n\nclass Migration(migrations.Migration):\n{}    dependencies = [{}]\n    operations = [\n{operations}\n    ]\n",
        if atomic { "" } else { "    atomic = False\n" },
        dependency.map_or(String::new(), |d| format!("(\"shop\", \"{d}\")")),
    )
}

/// Django migrations follow the same pending rule: outside git the app's
/// leaf migration, in a checkout what is not merged; and a concurrent
/// operation in an atomic migration is reported (PostgreSQL refuses it).
#[test]
fn django_non_concurrent_index_reports_only_unmerged_migrations() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        root,
        "site/settings.py",
        "INSTALLED_APPS = [\"shop\"]\nDATABASES = {\"default\": {\"ENGINE\": \"django.db.backends.postgresql\"}}\n",
    );
    write(root, "manage.py", "");
    write(root, "shop/__init__.py", "");
    write(
        root,
        "shop/models.py",
        "from django.db import models\n\n\nclass Item(models.Model):\n    a = models.IntegerField()\n    b = models.IntegerField()\n    c = models.IntegerField()\n\n    class Meta:\n        indexes = [\n            models.Index(fields=[\"a\"], name=\"item_a\"),\n            models.Index(fields=[\"b\"], name=\"item_b\"),\n            models.Index(fields=[\"c\"], name=\"item_c\"),\n        ]\n",
    );
    write(root, "shop/migrations/__init__.py", "");
    write(
        root,
        "shop/migrations/0001_initial.py",
        &django_migration(
            None,
            true,
            "        migrations.CreateModel(name=\"Item\", fields=[(\"id\", models.BigAutoField(primary_key=True)), (\"a\", models.IntegerField()), (\"b\", models.IntegerField()), (\"c\", models.IntegerField())]),",
        ),
    );
    write(
        root,
        "shop/migrations/0002_item_a.py",
        &django_migration(
            Some("0001_initial"),
            true,
            "        migrations.AddIndex(model_name=\"item\", index=models.Index(fields=[\"a\"], name=\"item_a\")),",
        ),
    );
    write(
        root,
        "shop/migrations/0003_item_b.py",
        &django_migration(
            Some("0002_item_a"),
            true,
            "        AddIndexConcurrently(model_name=\"item\", index=models.Index(fields=[\"b\"], name=\"item_b\")),",
        ),
    );
    let builds = |extra: &[&str]| -> Vec<String> {
        findings(root, extra)
            .into_iter()
            .filter(|f| f.starts_with("non-concurrent-index"))
            .collect()
    };
    // Not a git checkout: the leaf, whose concurrent build runs inside a
    // transaction.
    assert_eq!(builds(&[]), vec!["non-concurrent-index shop_item (b)"]);
    let (_, stdout, _) = run_ixray(root, &["check"]);
    assert!(
        stdout.contains("CONCURRENTLY inside a transaction") && stdout.contains("atomic = False"),
        "{stdout}"
    );

    git(root, &["init", "-q"]);
    git(root, &["add", "."]);
    git(root, &["commit", "-q", "-m", "history"]);
    assert_eq!(builds(&[]), Vec::<String>::new());
    assert_eq!(
        builds(&["--all-migrations"]),
        vec![
            "non-concurrent-index shop_item (a)",
            "non-concurrent-index shop_item (b)"
        ]
    );

    git(root, &["checkout", "-q", "-b", "feature"]);
    write(
        root,
        "shop/migrations/0004_item_c.py",
        &django_migration(
            Some("0003_item_b"),
            false,
            "        AddIndexConcurrently(model_name=\"item\", index=models.Index(fields=[\"c\"], name=\"item_c\")),\n        migrations.AddIndex(model_name=\"item\", index=models.Index(fields=[\"a\", \"c\"], name=\"item_a_c\")),",
        ),
    );
    assert_eq!(builds(&[]), vec!["non-concurrent-index shop_item (a, c)"]);
}
