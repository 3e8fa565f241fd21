//! End to end with the real Django: the database catalog, after Django
//! applied the fixtures' migrations, is the truth about which foreign keys
//! are indexed; ixray must report exactly those left unindexed. Then `ixray
//! fix` must produce code Django accepts and a database with none left.

mod common;

use common::*;

const PROJECTS: &[&str] = &["django/shop", "django/coverage"];

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
