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

/// `makemigrations --check --dry-run` on the project: what it would write,
/// one line per operation (`- Remove index x from y`).
fn makemigrations_plan(project: &std::path::Path) -> (bool, Vec<String>) {
    let check = djangoctl("check", project, "sqlite");
    let out = String::from_utf8_lossy(&check.stdout).to_string();
    assert!(
        matches!(check.status.code(), Some(0 | 1)),
        "makemigrations failed:\n{out}\n{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let operations = out
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("- ") || l.starts_with("~ ") || l.starts_with("+ "))
        .map(str::to_string)
        .collect();
    (check.status.success(), operations)
}

/// What `makemigrations` would write that drops an index, in the terms
/// both sides can say: `remove NAME`, `field MODEL.FIELD`, `together MODEL`.
fn drops_in_plan(plan: &[String]) -> BTreeSet<String> {
    plan.iter()
        .filter_map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                ["-", "Remove", "index", name, ..] | ["-", "Remove", "constraint", name, ..] => {
                    Some(format!("remove {name}"))
                }
                ["~", "Alter", "field", field, "on", model] => {
                    Some(format!("field {model}.{field}"))
                }
                ["~", "Alter", "unique_together", "for", model, ..] => {
                    Some(format!("together {model}"))
                }
                _ => None,
            }
        })
        .collect()
}

/// ixray's `index-drift` findings in the same terms.
fn drift_by_ixray(project: &std::path::Path) -> BTreeSet<String> {
    findings(project)
        .iter()
        .filter(|f| f["rule"] == "index-drift")
        .map(|f| {
            let model = f["model"].as_str().unwrap().to_ascii_lowercase();
            let columns = f["columns"].as_array().unwrap();
            match f["index_name"].as_str() {
                Some(name) => format!("remove {name}"),
                None if columns.len() == 1 => format!(
                    "field {model}.{}",
                    columns[0].as_str().unwrap().trim_end_matches("_id")
                ),
                None => format!("together {model}"),
            }
        })
        .collect()
}

/// `index-drift` says exactly what `makemigrations` would drop: the
/// fixture's models lost five indexes since its migrations ran (one
/// `Meta.indexes` entry, a unique constraint, two `db_index` flags, a
/// `unique_together`), renamed a fifth (a rename, not a drop), and the
/// history holds indexes Django's state does not track (raw SQL) or no
/// longer compares (`index_together`).
#[test]
fn index_drift_is_what_makemigrations_would_drop() {
    if !require("the test venv's Python with Django", python().is_some()) {
        return;
    }
    let dir = copy_fixture("django/history");
    let (clean, plan) = makemigrations_plan(dir.path());
    assert!(!clean, "the fixture drifts: {plan:?}");
    assert!(
        plan.iter()
            .any(|l| l.contains("Rename index entry_status_ix")),
        "{plan:?}"
    );
    let expected = drops_in_plan(&plan);
    assert_eq!(expected.len(), 5, "{plan:?}");
    pretty_assertions::assert_eq!(
        drift_by_ixray(dir.path()),
        expected,
        "ixray (left) vs makemigrations (right)"
    );

    // `ixray fix` declares what it can declare again (a `Meta.indexes`
    // entry, a field flag), and makemigrations no longer drops those.
    let (code, stdout, stderr) = run_ixray(dir.path(), &["fix", "."]);
    assert!(
        code == 0 || code == 1,
        "ixray fix failed:\n{stdout}\n{stderr}"
    );
    let (_, plan) = makemigrations_plan(dir.path());
    let left = drops_in_plan(&plan);
    assert_eq!(
        left,
        BTreeSet::from([
            "remove entry_acct_memo_uq".to_string(),
            "together account".to_string()
        ]),
        "{plan:?}"
    );
    pretty_assertions::assert_eq!(drift_by_ixray(dir.path()), left);
    for db in databases() {
        assert_success(
            &djangoctl("migrate", dir.path(), db),
            "migrate after the fix",
        );
    }
}

/// The indexes a migration builds without CONCURRENTLY on a table an
/// earlier migration created, per `sqlmigrate` on PostgreSQL: (migration,
/// table, columns). `_like` pattern indexes fold into their column's.
fn blocking_builds_in_sql(migration: &str, sql: &str) -> BTreeSet<(String, String, String)> {
    let unquote = |s: &str| s.trim().trim_matches('"').to_string();
    // The parenthesized list after `at`, split at top-level commas, each
    // item's first word (an expression is kept whole).
    let columns = |text: &str| -> String {
        let Some(open) = text.find('(') else {
            return String::new();
        };
        let mut depth = 0;
        let mut items = vec![String::new()];
        for c in text[open..].chars() {
            match c {
                '(' => {
                    depth += 1;
                    if depth == 1 {
                        continue;
                    }
                }
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                ',' if depth == 1 => {
                    items.push(String::new());
                    continue;
                }
                _ => {}
            }
            items.last_mut().unwrap().push(c);
        }
        items
            .iter()
            .map(|item| {
                let item = item.trim();
                if item.contains('(') {
                    item.replace('"', "")
                } else {
                    unquote(item.split_whitespace().next().unwrap_or(""))
                }
            })
            .collect::<Vec<_>>()
            .join(",")
    };
    let statements: Vec<String> = sql
        .split(';')
        .map(|s| {
            s.lines()
                .filter(|l| !l.trim_start().starts_with("--"))
                .collect::<Vec<_>>()
                .join(" ")
                .trim()
                .to_string()
        })
        .collect();
    let created: Vec<String> = statements
        .iter()
        .filter_map(|s| s.strip_prefix("CREATE TABLE "))
        .map(|rest| unquote(rest.split_whitespace().next().unwrap()))
        .collect();
    let mut out = BTreeSet::new();
    for statement in &statements {
        let statement = statement.as_str();
        let found = if (statement.starts_with("CREATE INDEX")
            || statement.starts_with("CREATE UNIQUE INDEX"))
            && !statement.contains("CONCURRENTLY")
        {
            statement.split_once(" ON ").map(|(_, rest)| {
                let table = unquote(rest.split_whitespace().next().unwrap());
                (table, columns(rest))
            })
        } else if let Some(rest) = statement.strip_prefix("ALTER TABLE ") {
            let table = unquote(rest.split_whitespace().next().unwrap());
            rest.split_once(" UNIQUE (")
                .filter(|_| rest.contains("ADD CONSTRAINT"))
                .map(|(_, cols)| (table, columns(&format!("({cols}"))))
        } else {
            None
        };
        if let Some((table, columns)) = found
            && !created.contains(&table)
        {
            out.insert((migration.to_string(), table, columns));
        }
    }
    out
}

/// On PostgreSQL, `non-concurrent-index` reports exactly the index builds
/// `sqlmigrate` shows without CONCURRENTLY on tables that already exist,
/// for every migration of the fixture (`AddIndex`, `AddField` of an indexed
/// field and of a foreign key, `AlterField` turning `db_index` on,
/// `AlterUniqueTogether`, `AddConstraint`, `AlterIndexTogether`, raw SQL),
/// and nothing for a table created in the same migration or for
/// `AddIndexConcurrently` in a migration with `atomic = False`.
#[test]
fn non_concurrent_index_matches_sqlmigrate_on_postgresql() {
    if !require("the test venv's Python with Django", python().is_some())
        || !require(
            "PostgreSQL on 127.0.0.1 (IXRAY_PG_PORT)",
            postgres_available(),
        )
    {
        return;
    }
    let dir = copy_fixture("django/history");
    let mut migrations: Vec<String> = std::fs::read_dir(dir.path().join("ledger/migrations"))
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            let stem = name.strip_suffix(".py")?;
            (stem != "__init__").then(|| stem.to_string())
        })
        .collect();
    migrations.sort();
    let mut truth = BTreeSet::new();
    for migration in &migrations {
        let output = common::djangoctl_args(
            "sqlmigrate",
            dir.path(),
            "postgres",
            &["ledger", migration.as_str()],
        );
        assert_success(&output, &format!("sqlmigrate ledger {migration}"));
        truth.extend(blocking_builds_in_sql(
            migration,
            &String::from_utf8_lossy(&output.stdout),
        ));
    }
    assert!(truth.len() >= 8, "{truth:#?}");
    let reported: BTreeSet<(String, String, String)> =
        findings_with(dir.path(), &["--all-migrations"])
            .iter()
            .filter(|f| f["rule"] == "non-concurrent-index")
            .map(|f| {
                let path = f["location"]["path"].as_str().unwrap();
                let migration = std::path::Path::new(path)
                    .file_stem()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                let columns: Vec<&str> = f["columns"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| c.as_str().unwrap())
                    .collect();
                (
                    migration,
                    f["table"].as_str().unwrap().to_string(),
                    columns.join(","),
                )
            })
            .collect();
    pretty_assertions::assert_eq!(reported, truth, "ixray (left) vs sqlmigrate (right)");
}

/// The history's indexes are the database's: ixray's unindexed foreign
/// keys are the catalog's after `migrate`, including one on a table only
/// the history describes (a model built by `type()`), and none on a
/// foreign key whose index the history built though the model now says
/// `db_index=False`.
#[test]
fn history_indexes_match_the_database_catalog() {
    if !require("the test venv's Python with Django", python().is_some()) {
        return;
    }
    let dir = copy_fixture("django/history");
    let reported = unindexed_by_ixray(dir.path());
    assert_eq!(
        reported,
        BTreeSet::from([(
            "ledger_entryaudit".to_string(),
            vec!["entry_id".to_string()]
        )])
    );
    for db in databases() {
        let truth = unindexed_in_database(dir.path(), db);
        pretty_assertions::assert_eq!(reported, truth, "on {db}: ixray (left) vs catalog (right)");
    }
}

/// Tables `RunSQL` creates are the SQL's: ixray's unindexed foreign keys
/// are the catalog's after `migrate`, on an unmanaged model's table whose
/// foreign key nothing indexes and on a table no model declares; none on
/// one a `CREATE INDEX` or a composite UNIQUE serves, on one a later
/// `RunSQL` drops, or on an unmanaged model no migration makes a table
/// for. `fix` leaves them all and Django sees no model change.
#[test]
fn tables_run_sql_creates_match_the_database_catalog() {
    if !require("the test venv's Python with Django", python().is_some()) {
        return;
    }
    let dir = copy_fixture("django/unmanaged_sql");
    let reported = unindexed_by_ixray(dir.path());
    assert_eq!(
        reported,
        BTreeSet::from([
            ("legacy_audit".to_string(), vec!["warehouse_id".to_string()]),
            (
                "legacy_stock_move".to_string(),
                vec!["warehouse_id".to_string()]
            ),
        ])
    );
    for db in databases() {
        let truth = unindexed_in_database(dir.path(), db);
        pretty_assertions::assert_eq!(reported, truth, "on {db}: ixray (left) vs catalog (right)");
    }
    let before = tree_contents(dir.path());
    let (code, stdout, stderr) = run_ixray(dir.path(), &["fix", "."]);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert_eq!(before, tree_contents(dir.path()), "fix changed files");
    assert_success(
        &djangoctl("check", dir.path(), "sqlite"),
        "makemigrations --check",
    );
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
