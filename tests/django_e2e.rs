//! End to end with the real Django: the database catalog, after Django
//! applied the fixtures' migrations, is the truth about which foreign keys
//! are indexed; ixray must report exactly those left unindexed. Then `ixray
//! fix` must produce code Django accepts and a database with none left.

mod common;

use std::collections::BTreeSet;

use common::*;

const PROJECTS: &[&str] = &["django/shop", "django/coverage", "django/generic"];

fn databases() -> Vec<&'static str> {
    let mut dbs = vec!["sqlite"];
    if require(
        "PostgreSQL on 127.0.0.1 (IXRAY_PG_PORT)",
        postgres_available(),
    ) {
        dbs.push("postgres");
    }
    dbs
}

#[test]
fn unindexed_foreign_keys_match_the_database_catalog() {
    if !require("the test venv's Python with Django", python().is_some()) {
        return;
    }
    for project in PROJECTS {
        let dir = copy_fixture(project);
        let reported = unindexed_by_ixray(dir.path());
        assert!(
            !reported.is_empty(),
            "{project}: the fixture has unindexed FKs"
        );
        for db in databases() {
            let truth = unindexed_in_database(dir.path(), db);
            pretty_assertions::assert_eq!(
                reported,
                truth,
                "{project} on {db}: ixray (left) vs the database catalog (right)"
            );
        }
    }
}

#[test]
fn fix_produces_migrations_django_accepts_and_indexes_every_foreign_key() {
    if !require("the test venv's Python with Django", python().is_some()) {
        return;
    }
    for project in PROJECTS {
        let dir = copy_fixture(project);
        let (code, stdout, stderr) = run_ixray(dir.path(), &["fix", "."]);
        assert_eq!(code, 0, "{project}: ixray fix failed:\n{stdout}\n{stderr}");
        assert!(
            stdout.contains("migrations/"),
            "{project}: a migration was written:\n{stdout}"
        );

        let check = djangoctl("check", dir.path(), "sqlite");
        assert!(
            check.status.success(),
            "{project}: makemigrations --check found changes after the fix:\n{}\n{}",
            String::from_utf8_lossy(&check.stdout),
            String::from_utf8_lossy(&check.stderr)
        );
        for db in databases() {
            let migrate = djangoctl("migrate", dir.path(), db);
            assert!(
                migrate.status.success(),
                "{project}: migrate on {db} failed after the fix:\n{}\n{}",
                String::from_utf8_lossy(&migrate.stdout),
                String::from_utf8_lossy(&migrate.stderr)
            );
            let left = unindexed_in_database(dir.path(), db);
            assert!(
                left.is_empty(),
                "{project} on {db}: still unindexed after the fix: {left:?}"
            );
        }

        let after = findings(dir.path());
        assert!(
            after.is_empty(),
            "{project}: ixray still reports after the fix: {after:#?}"
        );

        let before_second = tree_contents(dir.path());
        let (code, stdout, _) = run_ixray(dir.path(), &["fix", "."]);
        assert_eq!(code, 0);
        assert!(
            stdout.contains("Nothing to fix."),
            "{project}: second fix: {stdout}"
        );
        assert_eq!(
            before_second,
            tree_contents(dir.path()),
            "{project}: a second fix changed files"
        );
    }
}

/// (table, [type column, id column]) of every generic foreign key ixray reads.
fn generic_foreign_keys(project: &std::path::Path) -> BTreeSet<(String, Vec<String>)> {
    let (code, stdout, stderr) = run_ixray(project, &["schema", "."]);
    assert_eq!(code, 0, "{stderr}");
    let schema: serde_json::Value = serde_json::from_str(&stdout).expect("schema JSON");
    let mut out = BTreeSet::new();
    for table in schema["tables"].as_array().unwrap() {
        for generic in table["generic_foreign_keys"]
            .as_array()
            .into_iter()
            .flatten()
        {
            out.insert((
                table["name"].as_str().unwrap().to_string(),
                vec![
                    generic["type_column"].as_str().unwrap().to_string(),
                    generic["id_column"].as_str().unwrap().to_string(),
                ],
            ));
        }
    }
    out
}

/// The pairs of `generic` that no index of the database leads with: no
/// full btree index whose first two columns are the pair, in either order.
fn unserved_in_database(
    project: &std::path::Path,
    db: &str,
    generic: &BTreeSet<(String, Vec<String>)>,
) -> BTreeSet<(String, Vec<String>)> {
    let output = djangoctl("catalog", project, db);
    assert_success(&output, &format!("the catalog on {db}"));
    let catalog: serde_json::Value = serde_json::from_slice(&output.stdout).expect("catalog JSON");
    let indexes = catalog["indexes"].as_array().unwrap();
    generic
        .iter()
        .filter(|(table, pair)| {
            !indexes.iter().any(|index| {
                let columns: Vec<Option<&str>> = index["columns"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| c.as_str())
                    .collect();
                let mut leading: Vec<Option<&str>> = columns.iter().take(2).copied().collect();
                leading.sort();
                let mut wanted: Vec<Option<&str>> = pair.iter().map(|c| Some(c.as_str())).collect();
                wanted.sort();
                index["table"] == table.as_str()
                    && index["method"] == "btree"
                    && index["partial"] == false
                    && leading == wanted
            })
        })
        .cloned()
        .collect()
}

/// The database judges generic foreign keys too: ixray reports exactly the
/// pairs no index leads with after Django migrated, and after `ixray fix`
/// every pair is served on SQLite and PostgreSQL, Django sees no model
/// change, and a second `fix` changes nothing.
#[test]
fn generic_foreign_keys_match_the_database_and_fix_indexes_them() {
    if !require("the test venv's Python with Django", python().is_some()) {
        return;
    }
    let dir = copy_fixture("django/generic");
    let generic = generic_foreign_keys(dir.path());
    assert_eq!(generic.len(), 10, "{generic:#?}");
    let reported: BTreeSet<(String, Vec<String>)> = findings(dir.path())
        .iter()
        .filter(|f| f["rule"] == "unindexed-generic-foreign-key")
        .map(|f| {
            (
                f["table"].as_str().unwrap().to_string(),
                f["columns"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| c.as_str().unwrap().to_string())
                    .collect(),
            )
        })
        .collect();
    assert_eq!(reported.len(), 7, "{reported:#?}");
    for db in databases() {
        pretty_assertions::assert_eq!(
            reported,
            unserved_in_database(dir.path(), db, &generic),
            "on {db}: ixray (left) vs the database catalog (right)"
        );
    }

    let (code, stdout, stderr) = run_ixray(dir.path(), &["fix", "."]);
    assert_eq!(code, 0, "ixray fix failed:\n{stdout}\n{stderr}");
    let models = std::fs::read_to_string(dir.path().join("tagging/models.py")).unwrap();
    insta::assert_snapshot!("generic_fixed_models", models);
    let migrations = dir.path().join("tagging/migrations");
    let mut written: Vec<String> = std::fs::read_dir(&migrations)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("0002"))
        .collect();
    assert_eq!(written.len(), 1, "one new migration: {written:?}");
    let migration = std::fs::read_to_string(migrations.join(written.pop().unwrap())).unwrap();
    insta::assert_snapshot!("generic_fixed_migration", migration);

    let check = djangoctl("check", dir.path(), "sqlite");
    assert_success(&check, "makemigrations --check after the fix");
    for db in databases() {
        let left = unserved_in_database(dir.path(), db, &generic);
        assert!(
            left.is_empty(),
            "on {db}, still unserved after the fix: {left:?}"
        );
    }
    let after = findings(dir.path());
    assert!(
        after.is_empty(),
        "ixray still reports after the fix: {after:#?}"
    );
    let before_second = tree_contents(dir.path());
    let (code, stdout, _) = run_ixray(dir.path(), &["fix", "."]);
    assert_eq!(code, 0);
    assert!(stdout.contains("Nothing to fix."), "second fix: {stdout}");
    assert!(
        before_second == tree_contents(dir.path()),
        "a second fix changed files"
    );
}
