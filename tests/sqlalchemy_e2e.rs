//! End to end with the real SQLAlchemy and Alembic: the database catalog,
//! after `alembic upgrade head`, is the truth about which foreign keys are
//! indexed; ixray must report exactly those left unindexed, with each
//! database's semantics (`postgresql_where` is ignored on SQLite and the
//! other way round). Then `ixray fix` must produce models and a revision
//! that Alembic applies, checks clean and downgrades, with no FK left
//! unindexed.

mod common;

use common::*;

const PROJECTS: &[&str] = &["sqlalchemy/blog", "sqlalchemy/legacy"];

/// Projects whose catalog ixray must know, the tables only the migration
/// history creates included.
const CATALOG_PROJECTS: &[&str] = &["sqlalchemy/blog", "sqlalchemy/legacy", "sqlalchemy/history"];

/// (harness database, ixray dialect)
fn databases() -> Vec<(&'static str, &'static str)> {
    let mut dbs = vec![("sqlite", "sqlite")];
    if require(
        "PostgreSQL on 127.0.0.1 (IXRAY_PG_PORT)",
        postgres_available(),
    ) {
        dbs.push(("postgres", "postgresql"));
    }
    dbs
}

fn has_python() -> bool {
    require(
        "the test venv's Python with SQLAlchemy and Alembic",
        python().is_some(),
    )
}

#[test]
fn unindexed_foreign_keys_match_the_database_catalog() {
    if !has_python() {
        return;
    }
    for project in CATALOG_PROJECTS {
        let dir = copy_fixture(project);
        for (db, dialect) in databases() {
            let reported = unindexed_by_ixray_with(dir.path(), &["--dialect", dialect]);
            assert!(
                !reported.is_empty(),
                "{project}: the fixture has unindexed FKs"
            );
            let truth = unindexed_in_alembic_database(dir.path(), db);
            pretty_assertions::assert_eq!(
                reported,
                truth,
                "{project} on {db}: ixray (left) vs the database catalog (right)"
            );
        }
    }
}

#[test]
fn fix_produces_a_revision_alembic_applies_checks_and_downgrades() {
    if !has_python() {
        return;
    }
    for project in PROJECTS {
        for (db, dialect) in databases() {
            let dir = copy_fixture(project);
            let (code, stdout, stderr) = run_ixray(dir.path(), &["fix", "--dialect", dialect, "."]);
            // 1: findings without a fix remain (old non-concurrent builds).
            assert!(
                code == 0 || code == 1,
                "{project} ({dialect}): ixray fix failed:\n{stdout}\n{stderr}"
            );
            assert!(
                stdout.contains("migrations/versions/"),
                "{project} ({dialect}): a revision was written:\n{stdout}"
            );

            // The revision applies on both databases, whatever it targets.
            for (other, _) in databases() {
                assert_success(
                    &alembicctl("upgrade", dir.path(), other),
                    &format!("{project} ({dialect}): alembic upgrade head on {other}"),
                );
            }
            assert_success(
                &alembicctl("check", dir.path(), db),
                &format!("{project} ({dialect}): alembic check on {db}"),
            );
            assert_success(
                &alembicctl("downgrade", dir.path(), db),
                &format!("{project} ({dialect}): alembic downgrade -1 on {db}"),
            );
            let left = unindexed_in_alembic_database(dir.path(), db);
            assert!(
                left.is_empty(),
                "{project} on {db}: still unindexed after the fix: {left:?}"
            );

            let after: Vec<_> = findings_with(dir.path(), &["--dialect", dialect])
                .into_iter()
                .filter(|f| f["rule"] != "non-concurrent-index")
                .collect();
            assert!(
                after.is_empty(),
                "{project} ({dialect}): ixray still reports after the fix: {after:#?}"
            );

            let before_second = tree_contents(dir.path());
            let (code, stdout, _) = run_ixray(dir.path(), &["fix", "--dialect", dialect, "."]);
            assert!(code == 0 || code == 1);
            assert!(
                stdout.contains("Nothing to fix."),
                "{project} ({dialect}): second fix: {stdout}"
            );
            assert_eq!(
                before_second,
                tree_contents(dir.path()),
                "{project} ({dialect}): a second fix changed files"
            );
        }
    }
}

/// Tables only the history creates are reported, but `fix` cannot edit a
/// model for them: it says so, writes nothing, and the project's own
/// `alembic check` stays clean.
#[test]
fn history_only_tables_are_reported_and_left_to_the_user() {
    if !has_python() {
        return;
    }
    let dir = copy_fixture("sqlalchemy/history");
    let before = tree_contents(dir.path());
    let (code, stdout, stderr) = run_ixray(dir.path(), &["fix", "."]);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert!(stdout.contains("Nothing to fix."), "{stdout}");
    assert!(
        stderr.contains("legacy_event: no model ixray reads maps `legacy_event` (only the migration history creates it)"),
        "{stderr}"
    );
    assert_eq!(before, tree_contents(dir.path()), "fix wrote files");
    for (db, _) in databases() {
        assert_success(
            &alembicctl("upgrade", dir.path(), db),
            &format!("alembic upgrade head on {db}"),
        );
        assert_success(
            &alembicctl("check", dir.path(), db),
            &format!("alembic check on {db}"),
        );
    }
}

#[test]
fn the_fixture_history_drifts_only_where_ixray_says() {
    if !has_python() {
        return;
    }
    let dir = copy_fixture("sqlalchemy/blog");
    let check = alembicctl("check", dir.path(), "sqlite");
    let output = String::from_utf8_lossy(&check.stdout).to_string()
        + &String::from_utf8_lossy(&check.stderr);
    assert_eq!(check.status.code(), Some(1), "{output}");
    assert!(
        output.contains("remove_index") && output.contains("ix_comment_created_at"),
        "{output}"
    );
    let drift: Vec<String> = findings(dir.path())
        .iter()
        .filter(|f| f["rule"] == "index-drift")
        .map(|f| f["index_name"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(drift, vec!["ix_comment_created_at"]);
}

/// Tables of the same name in several PostgreSQL schemas: ixray keys them
/// by (schema, name), so its unindexed foreign keys match the catalog's, and
/// its revision builds the index in the right schema (`schema=`), which
/// Alembic applies and `alembic check` (with `include_schemas=True`) finds
/// in line with the models.
#[test]
fn tables_in_several_schemas_on_postgresql() {
    if !has_python()
        || !require(
            "PostgreSQL on 127.0.0.1 (IXRAY_PG_PORT)",
            postgres_available(),
        )
    {
        return;
    }
    let dir = copy_fixture("sqlalchemy/schemas");
    let reported = unindexed_by_ixray_with(dir.path(), &["--dialect", "postgresql"]);
    let truth = unindexed_in_alembic_database(dir.path(), "postgres");
    assert_eq!(truth.len(), 2, "{truth:?}");
    pretty_assertions::assert_eq!(reported, truth, "ixray (left) vs the catalog (right)");

    let (code, stdout, stderr) = run_ixray(dir.path(), &["fix", "--dialect", "postgresql", "."]);
    assert!(
        code == 0 || code == 1,
        "ixray fix failed:\n{stdout}\n{stderr}"
    );
    assert_success(
        &alembicctl("check", dir.path(), "postgres"),
        "alembic check after the fix",
    );
    let left = unindexed_in_alembic_database(dir.path(), "postgres");
    assert!(left.is_empty(), "still unindexed after the fix: {left:?}");
    assert!(
        findings_with(dir.path(), &["--dialect", "postgresql"]).is_empty(),
        "ixray still reports after the fix"
    );
    let before_second = tree_contents(dir.path());
    run_ixray(dir.path(), &["fix", "--dialect", "postgresql", "."]);
    assert_eq!(
        before_second,
        tree_contents(dir.path()),
        "a second fix changed files"
    );
}

/// The columns ixray takes for references without an index, by rule.
fn inferred_references(project: &std::path::Path, dialect: &str) -> Vec<(String, Vec<String>)> {
    findings_with(project, &["--dialect", dialect])
        .iter()
        .filter(|f| f["rule"] == "unindexed-reference")
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
        .collect()
}

/// The first key column of every index the catalog lists, per table.
fn leading_columns(project: &std::path::Path, db: &str) -> Vec<(String, String)> {
    let output = alembicctl("catalog", project, db);
    assert_success(&output, &format!("the catalog on {db}"));
    let catalog: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    catalog["indexes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| {
            Some((
                i["table"].as_str()?.to_string(),
                i["columns"].as_array()?.first()?.as_str()?.to_string(),
            ))
        })
        .collect()
}

/// References kept as plain columns: ixray infers exactly the ones
/// `EXPECTED.md` lists, and its fix (models and a revision) is what Alembic
/// applies on both databases and then finds in line with the models; the
/// database then has an index led by each, and ixray reports nothing.
#[test]
fn fix_indexes_inferred_references_and_alembic_agrees() {
    if !has_python() {
        return;
    }
    let expected: Vec<(String, Vec<String>)> = ["user_id", "team_id", "category_id", "created_by"]
        .iter()
        .map(|c| ("posts".to_string(), vec![c.to_string()]))
        .collect();
    for (db, dialect) in databases() {
        let dir = copy_fixture("sqlalchemy/references");
        let mut reported = inferred_references(dir.path(), dialect);
        reported.sort();
        let mut wanted = expected.clone();
        wanted.sort();
        assert_eq!(reported, wanted, "{dialect}");
        let before = leading_columns(dir.path(), db);
        for (table, columns) in &expected {
            assert!(
                !before.contains(&(table.clone(), columns[0].clone())),
                "{db}: {table}.{} is indexed before the fix",
                columns[0]
            );
        }

        let (code, stdout, stderr) = run_ixray(dir.path(), &["fix", "--dialect", dialect, "."]);
        assert_eq!(code, 0, "{dialect}: ixray fix:\n{stdout}\n{stderr}");
        assert!(stdout.contains("fixed: refs/models.py"), "{stdout}");
        for (other, _) in databases() {
            assert_success(
                &alembicctl("upgrade", dir.path(), other),
                &format!("({dialect}) alembic upgrade head on {other}"),
            );
        }
        assert_success(
            &alembicctl("check", dir.path(), db),
            &format!("({dialect}) alembic check on {db}"),
        );
        assert_success(
            &alembicctl("downgrade", dir.path(), db),
            &format!("({dialect}) alembic downgrade -1 on {db}"),
        );
        let after = leading_columns(dir.path(), db);
        for (table, columns) in &expected {
            assert!(
                after.contains(&(table.clone(), columns[0].clone())),
                "{db}: no index leads with {table}.{} after the fix: {after:?}",
                columns[0]
            );
        }
        assert!(
            findings_with(dir.path(), &["--dialect", dialect]).is_empty(),
            "({dialect}) ixray still reports after the fix"
        );
        let before_second = tree_contents(dir.path());
        run_ixray(dir.path(), &["fix", "--dialect", dialect, "."]);
        assert_eq!(
            before_second,
            tree_contents(dir.path()),
            "({dialect}) a second fix changed files"
        );
    }
}
