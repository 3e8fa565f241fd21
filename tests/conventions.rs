//! The command line's conventions, as a ruff or squawk user expects them:
//! summary and statistics, quiet, exit-zero, colour, excludes, config
//! files and their precedence, ignore comments and `unused-ignore`,
//! baselines, `--changed-since`, and the CI formats (SARIF validated
//! against the OASIS schema, GitHub annotations and markdown snapshots).

mod common;

use std::path::Path;
use std::process::Command;

use common::*;
use serde_json::Value;

const LIBRARY: &str = LIBRARY_APP;

fn json(dir: &Path, args: &[&str]) -> Value {
    let mut all = vec!["check", "--format", "json"];
    all.extend_from_slice(args);
    let (code, stdout, stderr) = run_ixray(dir, &all);
    assert!(code <= 1, "{stdout}\n{stderr}");
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

/// (rule, path) of every finding.
fn found(report: &Value) -> Vec<(String, String)> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap().to_string(),
                f["location"]["path"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

#[test]
fn the_summary_counts_findings_fixable_files_and_tables_and_fixable_is_what_fix_does() {
    let dir = copy_fixture("django/shop");
    // Outside git, the newest migrations count as not merged yet, and
    // `fix`'s new migration makes them old: that rule is not about what
    // `fix` writes.
    write(
        dir.path(),
        "ixray.toml",
        "ignore = [\"non-concurrent-index\"]\n",
    );
    let report = json(dir.path(), &[]);
    let summary = &report["summary"];
    let findings = report["findings"].as_array().unwrap();
    assert_eq!(summary["findings"], findings.len());
    let fixable = findings.iter().filter(|f| f["fixable"] == true).count();
    assert_eq!(summary["fixable"], fixable);
    assert_eq!(summary["tables"]["django"], 12);
    assert!(summary["files_read"].as_u64().unwrap() > 20);

    let (code, stdout, _) = run_ixray(dir.path(), &["check"]);
    assert_eq!(code, 1);
    let last = stdout.lines().last().unwrap();
    assert_eq!(
        last,
        format!(
            "Found {} problems ({fixable} fixable with `ixray fix`) in {} files (Django: 12 tables).",
            findings.len(),
            summary["files_read"]
        )
    );

    // `fix` fixes exactly the findings counted as fixable.
    let (code, stdout, stderr) = run_ixray(dir.path(), &["fix", "."]);
    assert!(code <= 1, "{stdout}\n{stderr}");
    let after = json(dir.path(), &[]);
    assert_eq!(
        after["findings"].as_array().unwrap().len(),
        findings.len() - fixable,
        "{after:#}"
    );
    // And a second `fix --diff` has nothing to change: exit 0.
    let (code, stdout, _) = run_ixray(dir.path(), &["fix", "--diff", "."]);
    assert_eq!((code, stdout.as_str()), (0, ""));
}

#[test]
fn statistics_quiet_and_exit_zero() {
    let shop = fixture("django/shop");
    let (code, stdout, _) = run_ixray(&shop, &["check", "--statistics"]);
    assert_eq!(code, 1);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines[0], "    6  unindexed-foreign-key  [6 fixable]",
        "{stdout}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.ends_with("  missing-query-index  [3 fixable]"))
    );
    assert!(lines.last().unwrap().starts_with("Found 12 problems"));
    assert!(
        !stdout.contains("-->"),
        "no findings, only counts:\n{stdout}"
    );

    let (_, stdout, _) = run_ixray(&shop, &["check", "--statistics", "--format", "json"]);
    let rows: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        rows[0],
        serde_json::json!({"rule": "unindexed-foreign-key", "count": 6, "fixable": 6})
    );

    let (code, quiet, _) = run_ixray(&shop, &["check", "-q"]);
    assert_eq!(code, 1);
    assert!(!quiet.contains("Found 12 problems"), "{quiet}");
    assert!(quiet.contains("warning[unindexed-foreign-key]"));

    let (code, _, _) = run_ixray(&shop, &["check", "--exit-zero"]);
    assert_eq!(code, 0);
    let (code, _, _) = run_ixray(&shop, &["check", "--exit-zero", "no-such-path"]);
    assert_eq!(code, 2, "an error is still an error");
}

#[test]
fn colour_only_when_asked_or_on_a_terminal() {
    let shop = fixture("django/shop");
    let (_, always, _) = run_ixray(&shop, &["check", "--color", "always"]);
    assert!(always.contains("\x1b[1;33mwarning\x1b[0m"), "{always}");
    let (_, never, _) = run_ixray(&shop, &["check", "--color", "never"]);
    assert!(!never.contains('\x1b'));
    // Not a terminal: auto means none, whatever NO_COLOR says.
    let (_, auto, _) = run_ixray(&shop, &["check"]);
    assert!(!auto.contains('\x1b'));
    let output = ixray()
        .current_dir(&shop)
        .env("NO_COLOR", "1")
        .args(["check", "--color", "always"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&output.stdout).contains('\x1b'),
        "--color always wins over NO_COLOR"
    );
}

#[test]
fn excludes_from_the_command_line_and_the_config() {
    let dir = copy_fixture("django/shop");
    let root = dir.path();
    let everything = found(&json(root, &[]));
    assert!(everything.iter().any(|(_, p)| p.starts_with("customers/")));

    let without = found(&json(root, &["--exclude", "customers"]));
    assert!(
        !without.iter().any(|(_, p)| p.starts_with("customers/")),
        "{without:?}"
    );
    assert!(without.iter().any(|(_, p)| p.starts_with("orders/")));

    // A pattern with `/` is relative to the current folder; extend-exclude
    // adds to the config's exclude.
    write(root, "ixray.toml", "exclude = [\"orders/tasks.py\"]\n");
    let report = found(&json(root, &["--extend-exclude", "catalog/models.py"]));
    assert!(
        !report.iter().any(|(_, p)| p == "orders/tasks.py"),
        "{report:?}"
    );
    assert!(
        !report.iter().any(|(_, p)| p == "catalog/models.py"),
        "{report:?}"
    );
    assert!(report.iter().any(|(_, p)| p.starts_with("customers/")));
    // --exclude replaces the config's exclude.
    let report = found(&json(root, &["--exclude", "customers"]));
    assert!(
        report.iter().any(|(_, p)| p == "orders/tasks.py"),
        "{report:?}"
    );
}

#[test]
fn config_files_and_the_command_line_select_winning_over_ignore() {
    let dir = copy_fixture("django/shop");
    let root = dir.path();
    write(
        root,
        "pyproject.toml",
        "[tool.ixray]\nignore = [\"unindexed-foreign-key\"]\n",
    );
    let rules = |args: &[&str]| -> Vec<String> {
        let mut out: Vec<String> = found(&json(root, args))
            .into_iter()
            .map(|(r, _)| r)
            .collect();
        out.sort();
        out.dedup();
        out
    };
    assert!(!rules(&[]).contains(&"unindexed-foreign-key".to_string()));
    // As in ruff: what the command line selects runs, whatever the file ignores.
    assert_eq!(
        rules(&["--select", "unindexed-foreign-key"]),
        vec!["unindexed-foreign-key".to_string()]
    );

    // --config names a file elsewhere; the one found upwards is not read.
    let other = tempfile::tempdir().unwrap();
    write(
        other.path(),
        "strict.toml",
        "select = [\"duplicate-index\"]\n",
    );
    let config = other.path().join("strict.toml");
    assert_eq!(
        rules(&["--config", config.to_str().unwrap()]),
        vec!["duplicate-index".to_string()]
    );
    let (code, _, stderr) = run_ixray(root, &["check", "--config", "missing.toml"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("missing.toml"), "{stderr}");
}

#[test]
fn ignore_comments_on_the_line_above_and_for_the_file_and_unused_ones() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let unindexed = |report: &Value| {
        found(report)
            .iter()
            .filter(|(r, _)| r == "unindexed-foreign-key")
            .count()
    };
    write(root, "library/models.py", LIBRARY);
    assert_eq!(unindexed(&json(root, &[])), 1);

    let above = LIBRARY.replace(
        "    author = ",
        "    # ixray: ignore[unindexed-foreign-key]\n    author = ",
    );
    write(root, "library/models.py", &above);
    let report = json(root, &[]);
    assert_eq!(unindexed(&report), 0, "{report:#}");
    assert!(found(&report).is_empty(), "{report:#}");

    let file_level = format!("# ixray: ignore-file[unindexed-foreign-key]\n{LIBRARY}");
    write(root, "library/models.py", &file_level);
    assert!(found(&json(root, &[])).is_empty());

    // A comment two lines above covers nothing, and says so; so does a
    // misspelt rule.
    let far = LIBRARY.replace(
        "class Book(models.Model):\n",
        "# ixray: ignore[unindexed-foreign-key, unindexed-foriegn-key]\nclass Book(models.Model):\n",
    );
    write(root, "library/models.py", &far);
    let report = json(root, &[]);
    assert_eq!(unindexed(&report), 1);
    let unused: Vec<&Value> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "unused-ignore")
        .collect();
    assert_eq!(unused.len(), 1, "{report:#}");
    let message = unused[0]["message"].as_str().unwrap();
    assert!(
        message.contains("no `unindexed-foreign-key` finding on this line or the next")
            && message.contains("no rule is named `unindexed-foriegn-key`"),
        "{message}"
    );
    assert_eq!(unused[0]["location"]["line"], 8);
    // A rule that does not run cannot be judged.
    let report = json(root, &["--select", "duplicate-index,unused-ignore"]);
    let messages: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["message"].as_str().unwrap())
        .collect();
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert!(!messages[0].contains("no `unindexed-foreign-key` finding"));
}

#[test]
fn per_file_ignores_in_the_config() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "library/models.py", LIBRARY);
    write(
        root,
        "legacy/models.py",
        LIBRARY.replace("Author", "Writer"),
    );
    write(
        root,
        "ixray.toml",
        "[per-file-ignores]\n\"legacy/**\" = [\"unindexed-foreign-key\"]\n",
    );
    let report = found(&json(root, &[]));
    assert_eq!(
        report,
        vec![(
            "unindexed-foreign-key".to_string(),
            "library/models.py".to_string()
        )]
    );
    write(
        root,
        "ixray.toml",
        "[per-file-ignores]\n\"legacy/**\" = [\"no-such-rule\"]\n",
    );
    let (code, _, stderr) = run_ixray(root, &["check", "."]);
    assert_eq!(code, 2);
    assert!(stderr.contains("unknown rule `no-such-rule`"), "{stderr}");
}

#[test]
fn a_baseline_hides_known_findings_by_rule_table_and_columns_not_lines() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "library/models.py", LIBRARY);
    let (code, stdout, stderr) = run_ixray(root, &["check", "--baseline", "ixray-baseline.json"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stderr.contains("wrote 1 finding to the baseline"),
        "{stderr}"
    );
    let saved: Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("ixray-baseline.json")).unwrap())
            .unwrap();
    assert_eq!(
        saved["findings"][0],
        serde_json::json!({"rule": "unindexed-foreign-key", "table": "library_book", "columns": ["author_id"]})
    );

    // The code moves down; the finding is still the known one.
    write(root, "library/models.py", format!("\n\n\n{LIBRARY}"));
    let (code, stdout, _) = run_ixray(root, &["check", "--baseline", "ixray-baseline.json"]);
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.contains("Not shown: 1 finding in the baseline"),
        "{stdout}"
    );

    // A new unindexed foreign key is reported.
    let more = format!(
        "{LIBRARY}\n\nclass Review(models.Model):\n    book = models.ForeignKey(Book, on_delete=models.CASCADE, db_index=False)\n"
    );
    write(root, "library/models.py", &more);
    let report = json(root, &["--baseline", "ixray-baseline.json"]);
    let findings = report["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{report:#}");
    assert_eq!(findings[0]["table"], "library_review");

    // --update-baseline records both.
    let (code, _, _) = run_ixray(
        root,
        &[
            "check",
            "--baseline",
            "ixray-baseline.json",
            "--update-baseline",
        ],
    );
    assert_eq!(code, 0);
    assert!(found(&json(root, &["--baseline", "ixray-baseline.json"])).is_empty());
}

fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@e",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .output()
        .unwrap();
    assert!(status.status.success(), "git {args:?}: {status:?}");
}

#[test]
fn changed_since_reports_findings_whose_place_or_cause_changed() {
    let dir = copy_fixture("django/shop");
    let root = dir.path();
    git(root, &["init", "-q", "-b", "main"]);
    git(root, &["add", "-A"]);
    git(root, &["commit", "-q", "-m", "base"]);
    let (code, stdout, _) = run_ixray(root, &["check", "--changed-since", "HEAD"]);
    assert_eq!(code, 0, "nothing changed: {stdout}");
    assert!(stdout.contains("Not shown: 12 findings outside the files changed since HEAD"));

    // A query file changes: the finding it causes (placed there) appears,
    // and so does one placed elsewhere whose related place it is not.
    let tasks = root.join("orders/tasks.py");
    let text = std::fs::read_to_string(&tasks).unwrap();
    std::fs::write(&tasks, format!("{text}\n# touched\n")).unwrap();
    let report = found(&json(root, &["--changed-since", "HEAD"]));
    assert!(!report.is_empty());
    assert!(
        report
            .iter()
            .all(|(r, p)| r == "missing-query-index" && p == "orders/tasks.py"),
        "{report:?}"
    );

    git(root, &["checkout", "-q", "--", "."]);

    // A finding placed in an unchanged file whose cause changed: the
    // products query (in queries.ts) would make an index in catalog.ts
    // redundant, and only catalog.ts changes.
    let drizzle = copy_fixture("drizzle/pg");
    let root = drizzle.path();
    git(root, &["init", "-q", "-b", "main"]);
    git(root, &["add", "-A"]);
    git(root, &["commit", "-q", "-m", "base"]);
    let catalog = root.join("src/db/schema/catalog.ts");
    let text = std::fs::read_to_string(&catalog).unwrap();
    std::fs::write(&catalog, format!("{text}\n// touched\n")).unwrap();
    let report = found(&json(root, &["--changed-since", "HEAD"]));
    assert!(
        report
            .iter()
            .any(|(r, p)| r == "missing-query-index" && p == "src/db/queries.ts"),
        "{report:?}"
    );
    assert!(
        report
            .iter()
            .all(|(_, p)| p == "src/db/queries.ts" || p == "src/db/schema/catalog.ts"),
        "{report:?}"
    );
    let (code, _, stderr) = run_ixray(root, &["check", "--changed-since", "no-such-ref"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("`no-such-ref` is not a commit"), "{stderr}");
}

#[test]
fn sarif_output_is_valid_sarif_2_1_0_with_rules_and_fixes() {
    if !require("the test venv's Python", python().is_some()) {
        return;
    }
    for fixture in ["django/shop", "sqlalchemy/blog", "drizzle/pg"] {
        let dir = copy_fixture(fixture);
        let (code, stdout, stderr) = run_ixray(dir.path(), &["check", "--format", "sarif"]);
        assert_eq!(code, 1, "{stderr}");
        let file = dir.path().join("report.sarif");
        std::fs::write(&file, &stdout).unwrap();
        let output = Command::new(python().unwrap())
            .arg(repo_root().join("tests/support/validate_sarif.py"))
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{fixture}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let sarif: Value = serde_json::from_str(&stdout).unwrap();
        let run = &sarif["runs"][0];
        let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
        assert!(
            rules
                .iter()
                .all(|r| r["helpUri"].as_str().unwrap().ends_with(".md"))
        );
        let results = run["results"].as_array().unwrap();
        assert!(!results.is_empty());
        // Every fixable finding whose fix edits a model carries the edit.
        let with_fixes = results.iter().filter(|r| r["fixes"].is_array()).count();
        assert!(with_fixes > 0, "{fixture}");
    }
}

#[test]
fn github_annotations_and_markdown_comment() {
    let shop = fixture("django/shop");
    let (code, github, _) = run_ixray(
        &shop,
        &[
            "check",
            "--format",
            "github",
            "--select",
            "unindexed-foreign-key,missing-query-index",
        ],
    );
    assert_eq!(code, 1);
    insta::assert_snapshot!("shop_github", github);

    let dir = copy_fixture("drizzle/pg");
    let output = ixray()
        .current_dir(dir.path())
        .env("SOURCE_DATE_EPOCH", "1795270200")
        .args([
            "check",
            "--format",
            "markdown",
            "--select",
            "missing-query-index,redundant-index",
        ])
        .output()
        .unwrap();
    let markdown = String::from_utf8(output.stdout).unwrap();
    assert!(markdown.starts_with("<!-- ixray-report -->\n"));
    insta::assert_snapshot!("drizzle_pg_markdown", markdown);
}

/// `concurrent-indexes = false`: `fix` writes plain index builds, which
/// Django and Alembic accept, and `non-concurrent-index` is off.
#[test]
fn concurrent_indexes_can_be_turned_off() {
    for (fixture, concurrent, plain) in [
        (
            "django/shop",
            "AddIndexConcurrently",
            "migrations.AddIndex(",
        ),
        (
            "sqlalchemy/blog",
            "postgresql_concurrently=True",
            "op.create_index(",
        ),
    ] {
        let dir = copy_fixture(fixture);
        let root = dir.path();
        let args = ["fix", "--diff", ".", "--dialect", "postgresql"];
        let (_, diff, _) = run_ixray(root, &args);
        assert!(diff.contains(concurrent), "{fixture}: {diff}");
        write(root, "ixray.toml", "concurrent-indexes = false\n");
        let (code, diff, stderr) = run_ixray(root, &args);
        assert_eq!(code, 1, "{fixture}: {stderr}");
        assert!(!diff.contains(concurrent), "{fixture}: {diff}");
        assert!(!diff.contains("autocommit_block"), "{fixture}: {diff}");
        assert!(diff.contains(plain), "{fixture}: {diff}");
        let report = json(root, &["--dialect", "postgresql"]);
        assert!(
            !found(&report)
                .iter()
                .any(|(r, _)| r == "non-concurrent-index"),
            "{fixture}: {report:#}"
        );
    }
}

#[test]
fn json_lists_what_could_not_be_read() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "library/models.py", LIBRARY);
    write(
        root,
        "broken/models.py",
        "from django.db import models\n\nclass Broken(models.Model:\n    x = 1\n",
    );
    let (code, stdout, _) = run_ixray(root, &["check", "--format", "json"]);
    assert_eq!(code, 1);
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        report["errors"],
        serde_json::json!([{
            "path": "broken/models.py", "line": 3, "column": 26, "message": "skipped: syntax error",
        }]),
        "{report:#}"
    );
    assert_eq!(report["findings"][0]["fixable"], true);
}
