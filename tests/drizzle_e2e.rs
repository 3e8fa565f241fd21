//! End to end with the real drizzle-kit: the database catalog, after
//! `drizzle-kit migrate`, is the truth about which foreign keys are indexed;
//! ixray must report exactly those left unindexed. Then `ixray fix` must
//! write a schema that `tsc` accepts and a migration after which
//! `drizzle-kit generate` finds nothing to do, `drizzle-kit migrate`
//! applies, and no FK is left unindexed; a second fix changes nothing.

mod common;

use common::*;

/// (fixture, harness database)
fn projects() -> Vec<(&'static str, &'static str)> {
    let mut projects = vec![("drizzle/sqlite", "sqlite")];
    if require(
        "PostgreSQL on 127.0.0.1 (IXRAY_PG_PORT)",
        postgres_available(),
    ) {
        projects.push(("drizzle/pg", "postgres"));
    }
    projects
}

fn has_tools() -> bool {
    require("the test venv's Python", python().is_some())
        && require(
            "node_modules with drizzle-kit and typescript (npm ci)",
            node_modules_available(),
        )
}

#[test]
fn unindexed_foreign_keys_match_the_database_catalog() {
    if !has_tools() {
        return;
    }
    for (project, db) in projects() {
        let dir = copy_fixture(project);
        let mut reported = unindexed_by_ixray(dir.path());
        assert!(
            !reported.is_empty(),
            "{project}: the fixture has unindexed FKs"
        );
        // A `relations()`-only FK has no constraint, so the catalog cannot
        // know it; it is compared separately below.
        let logical = logical_foreign_keys(dir.path());
        for fk in &logical {
            reported.remove(fk);
        }
        let truth = unindexed_in_drizzle_database(dir.path(), db);
        pretty_assertions::assert_eq!(
            reported,
            truth,
            "{project} on {db}: ixray (left) vs the database catalog (right)"
        );
    }
}

/// `relations()`-only foreign keys, from `ixray schema`.
fn logical_foreign_keys(project: &std::path::Path) -> Vec<(String, Vec<String>)> {
    let (code, stdout, stderr) = run_ixray(project, &["schema", "."]);
    assert_eq!(code, 0, "{stderr}");
    let schema: serde_json::Value = serde_json::from_str(&stdout).expect("schema JSON");
    let mut logical = Vec::new();
    for table in schema["tables"].as_array().unwrap() {
        for fk in table["foreign_keys"].as_array().unwrap() {
            if fk["enforced"] == false {
                let columns = fk["columns"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| c.as_str().unwrap().to_string())
                    .collect();
                logical.push((table["name"].as_str().unwrap().to_string(), columns));
            }
        }
    }
    logical
}

#[test]
fn fix_writes_a_schema_and_migration_drizzle_kit_accepts() {
    if !has_tools() {
        return;
    }
    for (project, db) in projects() {
        let dir = copy_fixture(project);
        let (code, _, stderr) = run_ixray(dir.path(), &["fix", "."]);
        assert!(code == 0 || code == 1, "{project}: fix failed: {stderr}");
        let after_fix = tree_contents(dir.path());
        assert_success(
            &drizzlectl("tsc", dir.path(), db),
            &format!("{project}: tsc --noEmit on the fixed schema"),
        );
        let generate = drizzlectl("generate-check", dir.path(), db);
        assert_success(
            &generate,
            &format!("{project}: drizzle-kit generate finds nothing to do"),
        );
        let left = unindexed_in_drizzle_database(dir.path(), db);
        assert!(
            left.is_empty(),
            "{project} on {db}: unindexed after the fix: {left:?}"
        );
        assert!(
            unindexed_by_ixray(dir.path()).is_empty(),
            "{project}: ixray still reports unindexed FKs after the fix"
        );
        let (code, _, stderr) = run_ixray(dir.path(), &["fix", "."]);
        assert!(code == 0 || code == 1, "{project}: second fix: {stderr}");
        assert_eq!(
            tree_contents(dir.path()),
            after_fix,
            "{project}: a second fix changed files"
        );
    }
}

/// References kept as plain columns (typed through helpers): ixray infers
/// exactly the ones `EXPECTED.md` lists; after `ixray fix` the schema
/// type-checks, drizzle-kit generates nothing more and migrates, the
/// database has an index led by each, and ixray reports nothing.
#[test]
fn fix_indexes_inferred_references_and_drizzle_kit_agrees() {
    if !has_tools()
        || !require(
            "PostgreSQL on 127.0.0.1 (IXRAY_PG_PORT)",
            postgres_available(),
        )
    {
        return;
    }
    let dir = copy_fixture("drizzle/references");
    let columns = [
        "user_id",
        "category_id",
        "project_id",
        "workspace_id",
        "created_by",
    ];
    let reported: Vec<(String, String)> = findings(dir.path())
        .iter()
        .map(|f| {
            assert_eq!(f["rule"], "unindexed-reference", "{f:#}");
            (
                f["table"].as_str().unwrap().to_string(),
                f["columns"][0].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected: Vec<(String, String)> = columns
        .iter()
        .map(|c| ("tasks".to_string(), c.to_string()))
        .collect();
    assert_eq!(reported, expected);

    let (code, stdout, stderr) = run_ixray(dir.path(), &["fix", "."]);
    assert_eq!(code, 0, "fix failed: {stdout}{stderr}");
    let after_fix = tree_contents(dir.path());
    assert_success(
        &drizzlectl("tsc", dir.path(), "postgres"),
        "tsc --noEmit on the fixed schema",
    );
    assert_success(
        &drizzlectl("check", dir.path(), "postgres"),
        "drizzle-kit migrate, then generate finds nothing to do",
    );
    let catalog = drizzlectl("catalog", dir.path(), "postgres");
    assert_success(&catalog, "the catalog");
    let catalog: serde_json::Value = serde_json::from_slice(&catalog.stdout).unwrap();
    let leading: Vec<(&str, &str)> = catalog["indexes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| Some((i["table"].as_str()?, i["columns"][0].as_str()?)))
        .collect();
    for column in columns {
        assert!(
            leading.contains(&("tasks", column)),
            "no index leads with tasks.{column}: {leading:?}"
        );
    }
    assert!(findings(dir.path()).is_empty(), "ixray still reports");
    run_ixray(dir.path(), &["fix", "."]);
    assert_eq!(
        tree_contents(dir.path()),
        after_fix,
        "a second fix changed files"
    );
}
