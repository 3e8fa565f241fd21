//! The command line as users meet it: output formats (snapshots), exit
//! codes, bad input, suppression comments, `fix --diff`, `schema`, `rule`.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::*;

const GOOD_APP: &str = LIBRARY_APP;

#[test]
fn json_report_of_the_example_project() {
    let (code, stdout, stderr) = run_ixray(&fixture("django/shop"), &["check", "--format", "json"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
    insta::assert_snapshot!("shop_json", stdout);
}

#[test]
fn text_report_of_the_example_project() {
    let (code, stdout, _) = run_ixray(&fixture("django/shop"), &["check"]);
    assert_eq!(code, 1);
    insta::assert_snapshot!("shop_text", stdout);
}

#[test]
fn paths_are_relative_to_the_current_directory() {
    let (_, stdout, _) = run_ixray(&fixture("django"), &["check", "--format", "json", "shop"]);
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let path = report["findings"][0]["location"]["path"].as_str().unwrap();
    assert!(path.starts_with("shop/"), "{path}");
}

#[test]
fn exit_codes_follow_ruff() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "library/models.py",
        GOOD_APP.replace(", db_index=False", "").as_bytes(),
    );
    let (code, stdout, _) = run_ixray(dir.path(), &["check", "."]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("No index problems found in "), "{stdout}");

    write(dir.path(), "library/models.py", GOOD_APP.as_bytes());
    let (code, _, _) = run_ixray(dir.path(), &["check", "."]);
    assert_eq!(code, 1);

    // A path that does not exist: an error, and nothing else.
    let (code, stdout, stderr) = run_ixray(dir.path(), &["check", "does-not-exist"]);
    assert_eq!(code, 2);
    assert_eq!(stdout, "");
    assert_eq!(
        stderr.trim_end(),
        "ixray: error: does-not-exist: cannot read path: No such file or directory (os error 2)"
    );

    let (code, _, stderr) = run_ixray(dir.path(), &["check", "--select", "no-such-rule", "."]);
    assert_eq!(code, 2);
    assert!(stderr.contains("unknown rule `no-such-rule`"), "{stderr}");
}

#[test]
fn bad_input_is_reported_and_the_rest_is_still_checked() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "library/models.py", GOOD_APP.as_bytes());
    write(
        root,
        "broken/models.py",
        b"from django.db import models\n\nclass Broken(models.Model:\n    x = 1\n",
    );
    write(
        root,
        "latin1/models.py",
        b"from django.db import models\n# caf\xe9\nclass A(models.Model):\n    pass\n",
    );
    std::fs::create_dir_all(root.join("empty")).unwrap();
    std::os::unix::fs::symlink(root.join("nowhere.py"), root.join("dangling_models.py")).unwrap();
    // A broken link to a file ixray never reads is nobody's problem.
    std::os::unix::fs::symlink(root.join("nowhere"), root.join(".prettierignore")).unwrap();
    std::fs::create_dir_all(root.join("loop")).unwrap();
    std::os::unix::fs::symlink(root.join("loop"), root.join("loop/again")).unwrap();

    let (code, stdout, stderr) = run_ixray(root, &["check", ".", "missing-dir"]);
    assert_eq!(
        code, 2,
        "a path that does not exist is a usage error:\n{stderr}"
    );
    assert!(
        stdout.contains("library_book.author_id"),
        "the good app is still checked:\n{stdout}"
    );
    for expected in [
        "missing-dir: cannot read path",
        "broken/models.py:3:",
        "syntax error",
        "latin1/models.py: skipped: not valid UTF-8",
        "dangling_models.py: cannot read: broken symbolic link",
        "symbolic link loop",
    ] {
        assert!(
            stderr.contains(expected),
            "stderr lacks {expected:?}:\n{stderr}"
        );
    }
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains(".prettierignore"), "{stderr}");

    // Without the missing path the input problems still make the run fail.
    let (code, _, _) = run_ixray(root, &["check", "."]);
    assert_eq!(code, 1);
}

#[test]
fn an_empty_directory_is_not_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = run_ixray(dir.path(), &["check", "."]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains("No index problems found in 0 files."),
        "{stdout}"
    );
    assert!(
        stderr.contains("warning: no Django, SQLAlchemy or Drizzle models found in ."),
        "{stderr}"
    );
    // A TypeScript project without Drizzle tables is told the same, not
    // that it has no Python.
    std::fs::write(dir.path().join("index.ts"), "export const x = 1;\n").unwrap();
    let (code, _, stderr) = run_ixray(dir.path(), &["check", "."]);
    assert_eq!(code, 0);
    assert!(
        stderr.contains("no Django, SQLAlchemy or Drizzle models found"),
        "{stderr}"
    );
}

#[test]
fn fix_leaves_files_with_syntax_errors_alone() {
    let dir = tempfile::tempdir().unwrap();
    let broken = b"from django.db import models\n\nclass Broken(models.Model:\n    owner = models.ForeignKey('auth.User', models.CASCADE, db_index=False)\n";
    write(dir.path(), "broken/models.py", broken);
    let (code, _, stderr) = run_ixray(dir.path(), &["fix", "."]);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(
        std::fs::read(dir.path().join("broken/models.py")).unwrap(),
        broken
    );
}

#[test]
fn suppression_comments_silence_one_rule_on_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let source = GOOD_APP.replace(
        "db_index=False)",
        "db_index=False)  # ixray: ignore[unindexed-foreign-key]",
    );
    write(dir.path(), "library/models.py", source.as_bytes());
    let (code, stdout, _) = run_ixray(dir.path(), &["check", "."]);
    assert_eq!(code, 0, "{stdout}");

    let other_rule = GOOD_APP.replace(
        "db_index=False)",
        "db_index=False)  # ixray: ignore[duplicate-index]",
    );
    write(dir.path(), "library/models.py", other_rule.as_bytes());
    let (code, _, _) = run_ixray(dir.path(), &["check", "."]);
    assert_eq!(code, 1);
}

#[test]
fn select_and_ignore_choose_rules() {
    let shop = fixture("django/shop");
    let rules = |args: &[&str]| -> BTreeSet<String> {
        let mut all = vec!["check", "--format", "json"];
        all.extend_from_slice(args);
        let (_, stdout, _) = run_ixray(&shop, &all);
        let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["rule"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        rules(&["--select", "duplicate-index"]),
        BTreeSet::from(["duplicate-index".to_string()])
    );
    assert!(!rules(&["--ignore", "redundant-index,duplicate-index"]).contains("redundant-index"));
}

#[test]
fn mysql_leaves_enforced_foreign_keys_to_innodb() {
    let project = fixture("django/mysql_shop");
    let reported = unindexed_by_ixray(&project);
    let expected: BTreeSet<(String, Vec<String>)> = [
        ("inventory_stockitem", "replaced_by_id"),
        ("inventory_stockmovement", "moved_by_id"),
    ]
    .into_iter()
    .map(|(t, c)| (t.to_string(), vec![c.to_string()]))
    .collect();
    pretty_assertions::assert_eq!(reported, expected);
    // The same project read as PostgreSQL: every `db_index=False` FK is unindexed.
    let (_, stdout, _) = run_ixray(
        &project,
        &["check", "--format", "json", "--dialect", "postgresql"],
    );
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert!(report["findings"].as_array().unwrap().len() > expected.len());
}

#[test]
fn fix_diff_prints_and_writes_nothing() {
    let dir = copy_fixture("django/shop");
    let before = tree_contents(dir.path());
    let (code, stdout, _) = run_ixray(dir.path(), &["fix", "--diff", "."]);
    assert_eq!(code, 1, "there is something to change");
    assert!(stdout.contains("+++ b/orders/models/order.py"), "{stdout}");
    assert!(stdout.contains("AddIndexConcurrently"), "{stdout}");
    assert_eq!(before, tree_contents(dir.path()));
}

#[test]
fn schema_prints_the_normalized_graph() {
    let (code, stdout, _) = run_ixray(&fixture("django/coverage"), &["schema"]);
    assert_eq!(code, 0);
    let schema: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let tables: Vec<&str> = schema["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(
        tables.contains(&"legacy_legacyentry"),
        "app label from AppConfig.label: {tables:?}"
    );
    assert!(
        tables.contains(&"custom_table_name"),
        "Meta.db_table: {tables:?}"
    );
    assert!(
        tables.contains(&"cases_manytomanycase_owners"),
        "auto M2M table: {tables:?}"
    );
    assert!(
        !tables
            .iter()
            .any(|t| t.contains("unmanaged") && t.starts_with("cases_")),
        "{tables:?}"
    );
}

/// A `GenericForeignKey` (also a project subclass of it, and a
/// `GenericRelation`) is no column: the schema lists its two real columns
/// under `generic_foreign_keys` instead.
#[test]
fn generic_foreign_keys_are_not_columns() {
    let (code, stdout, _) = run_ixray(&fixture("django/generic"), &["schema"]);
    assert_eq!(code, 0);
    let schema: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let mut columns = Vec::new();
    let mut generics = Vec::new();
    for table in schema["tables"].as_array().unwrap() {
        let name = table["name"].as_str().unwrap();
        for column in table["columns"].as_array().unwrap() {
            columns.push(format!("{name}.{}", column["name"].as_str().unwrap()));
        }
        for generic in table["generic_foreign_keys"]
            .as_array()
            .into_iter()
            .flatten()
        {
            generics.push(format!(
                "{name}.{} ({}, {})",
                generic["field"].as_str().unwrap(),
                generic["type_column"].as_str().unwrap(),
                generic["id_column"].as_str().unwrap()
            ));
        }
    }
    for phantom in [
        "tagging_taggeditem.content_object",
        "tagging_comment.target",
        "tagging_journal.object",
        "tagging_prefix.scope",
        "tagging_bookmark.parent",
        "tagging_bookmark.tags",
    ] {
        assert!(
            !columns.iter().any(|c| c == phantom),
            "{phantom}: {columns:#?}"
        );
    }
    assert!(
        columns
            .iter()
            .any(|c| c == "tagging_journal.object_type_id")
    );
    insta::assert_snapshot!(generics.join("\n"), @r"
    tagging_bookmark.parent (parent_type_id, parent_id)
    tagging_cluster.scope (scope_type_id, scope_id)
    tagging_comment.target (target_type_id, target_id)
    tagging_flag.content_object (content_type_id, object_id)
    tagging_journal.object (object_type_id, object_id)
    tagging_note.content_object (content_type_id, object_id)
    tagging_prefix.scope (scope_type_id, scope_id)
    tagging_reminder.content_object (content_type_id, object_id)
    tagging_taggeditem.content_object (content_type_id, object_id)
    tagging_vote.content_object (content_type_id, object_id)
    ");
}

/// Which generic foreign keys are reported, and how (the rule's fixture).
#[test]
fn text_report_of_generic_foreign_keys() {
    let (code, stdout, _) = run_ixray(&fixture("django/generic"), &["check"]);
    assert_eq!(code, 1);
    insta::assert_snapshot!("generic_text", stdout);
}

/// Unmanaged models whose tables `RunSQL` creates (and a table no model
/// declares) are checked with what the SQL says, and `fix` leaves them,
/// saying why (the fixture's EXPECTED.md).
#[test]
fn text_report_of_tables_run_sql_creates() {
    let (code, stdout, _) = run_ixray(&fixture("django/unmanaged_sql"), &["check"]);
    assert_eq!(code, 1);
    insta::assert_snapshot!("unmanaged_sql_text", stdout);
}

#[test]
fn fix_leaves_tables_run_sql_creates_and_says_why() {
    let dir = copy_fixture("django/unmanaged_sql");
    let before = tree_contents(dir.path());
    let (code, stdout, stderr) = run_ixray(dir.path(), &["fix", "."]);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert_eq!(before, tree_contents(dir.path()));
    assert!(
        stderr.contains("`legacy_stock_move` is created by `RunSQL` in migration `legacy.0002_legacy_tables_sql`; the model `StockMove` is `managed = False`, so write the index as `RunSQL` by hand"),
        "{stderr}"
    );
    assert!(
        stderr.contains("`legacy_audit` is created by `RunSQL` in migration `legacy.0002_legacy_tables_sql`; no model declares it"),
        "{stderr}"
    );
}

/// On MySQL the SQL's `REFERENCES` makes InnoDB index the foreign key.
#[test]
fn innodb_indexes_the_foreign_keys_run_sql_constrains() {
    let reported =
        unindexed_by_ixray_with(&fixture("django/unmanaged_sql"), &["--dialect", "mysql"]);
    assert!(reported.is_empty(), "{reported:?}");
}

/// `schema` shows a table `RunSQL` creates like any other: its columns and
/// keys as the SQL has them, its indexes locked (only SQL changes them).
#[test]
fn schema_shows_tables_run_sql_creates() {
    let (code, stdout, _) = run_ixray(&fixture("django/unmanaged_sql"), &["schema"]);
    assert_eq!(code, 0);
    let schema: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let lines: Vec<String> = schema["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let names = |key: &str, field: &str| -> Vec<String> {
                t[key]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|i| match &i[field] {
                        serde_json::Value::Array(parts) => parts
                            .iter()
                            .map(|p| p.as_str().unwrap())
                            .collect::<Vec<_>>()
                            .join(","),
                        other => other.as_str().unwrap().to_string(),
                    })
                    .collect()
            };
            let indexes: Vec<String> = t["indexes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| {
                    format!(
                        "{}{}",
                        i["origin"].as_str().unwrap(),
                        if i["locked"] == true { "*" } else { "" }
                    )
                })
                .collect();
            format!(
                "{} ({}) managed={} columns={:?} fks={:?} indexes={:?}",
                t["name"].as_str().unwrap(),
                t["model"].as_str().unwrap(),
                t["managed"],
                names("columns", "name"),
                names("foreign_keys", "columns"),
                indexes
            )
        })
        .collect();
    insta::assert_snapshot!(lines.join("\n"), @r#"
    legacy_allocation (Allocation) managed=true columns=["id", "warehouse_id", "sku"] fks=["warehouse_id"] indexes=["primary_key*", "unique_constraint*"]
    legacy_audit (legacy_audit) managed=true columns=["id", "warehouse_id", "note"] fks=["warehouse_id"] indexes=["primary_key*"]
    legacy_report (Report) managed=false columns=["id", "warehouse_id"] fks=["warehouse_id"] indexes=["framework_implicit", "primary_key"]
    legacy_shipment (Shipment) managed=true columns=["id", "warehouse_id", "tracking"] fks=["warehouse_id"] indexes=["primary_key*", "migration*"]
    legacy_stock_move (StockMove) managed=true columns=["id", "warehouse_id", "quantity"] fks=["warehouse_id"] indexes=["primary_key*"]
    legacy_transfer (Transfer) managed=false columns=["id", "warehouse_id"] fks=["warehouse_id"] indexes=["framework_implicit", "primary_key"]
    legacy_warehouse (Warehouse) managed=true columns=["id", "name"] fks=[] indexes=["primary_key"]
    "#);
}

#[test]
fn every_rule_has_a_complete_doc_page() {
    let (code, stdout, _) = run_ixray(&repo_root(), &["rule"]);
    assert_eq!(code, 0);
    for rule in ixray::rules::RULES {
        assert!(stdout.contains(rule.name), "{stdout}");
        let (code, doc, _) = run_ixray(&repo_root(), &["rule", rule.name]);
        assert_eq!(code, 0);
        assert!(doc.starts_with(&format!("# {}", rule.name)));
        for section in [
            "## What it finds",
            "## Why it matters",
            "## Example",
            "## Fix",
            "## Suppress",
        ] {
            assert!(doc.contains(section), "{} lacks {section}", rule.name);
        }
        let page =
            std::fs::read_to_string(repo_root().join(format!("docs/rules/{}.md", rule.name)))
                .unwrap();
        assert_eq!(doc, page);
    }
    let (code, _, stderr) = run_ixray(&repo_root(), &["rule", "nope"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("unknown rule"));
}

/// A removal and an addition in one single-line `Meta.indexes` list are
/// made as one rewrite of the list, with a migration that does exactly
/// what the models now say; the other app gets its own migration.
#[test]
fn a_removal_and_an_addition_in_one_list_are_one_change() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        root,
        "site/settings.py",
        b"DATABASES = {\"default\": {\"ENGINE\": \"django.db.backends.sqlite3\"}}\nINSTALLED_APPS = [\"shop\", \"library\"]\n",
    );
    for app in ["shop", "library"] {
        django_app(root, app);
    }
    write(
        root,
        "shop/models.py",
        b"from django.db import models\n\n\nclass Customer(models.Model):\n    name = models.CharField(max_length=20)\n\n\nclass Order(models.Model):\n    code = models.CharField(max_length=20, unique=True)\n    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, db_index=False)\n\n    class Meta:\n        indexes = [models.Index(fields=[\"code\"], name=\"order_code_idx\")]\n",
    );
    write(root, "library/models.py", GOOD_APP.as_bytes());
    let (_, stdout, stderr) = run_ixray(root, &["fix", "."]);
    assert!(
        stdout.contains("fixed: shop/models.py"),
        "{stdout}\n{stderr}"
    );
    let models = std::fs::read_to_string(root.join("shop/models.py")).unwrap();
    // Too long for one line of 88 columns: one entry per line.
    assert!(
        models.contains("        indexes = [\n            models.Index(fields=[\"customer\"], name=\"shop_order_custome_"),
        "{models}"
    );
    assert!(!models.contains("order_code_idx"), "{models}");
    let migration = std::fs::read_dir(root.join("shop/migrations"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with("0002"))
        .expect("a shop migration");
    let migration = std::fs::read_to_string(migration).unwrap();
    assert!(
        migration.contains("RemoveIndex") && migration.contains("AddIndex"),
        "{migration}"
    );
    assert!(
        std::fs::read_dir(root.join("library/migrations"))
            .unwrap()
            .any(|e| e.unwrap().file_name().to_string_lossy().starts_with("0002")),
        "the library app got its migration"
    );
    let before = tree_contents(root);
    let (code, stdout, _) = run_ixray(root, &["fix", "."]);
    assert!(stdout.contains("Nothing to fix."), "{code} {stdout}");
    assert_eq!(tree_contents(root), before);
}

/// Two `ixray fix` runs at once write one migration, never two with the
/// same number.
#[test]
fn concurrent_fixes_write_one_migration() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    django_app(root, "library");
    write(root, "library/models.py", GOOD_APP.as_bytes());
    let runs: Vec<_> = (0..4)
        .map(|_| {
            ixray()
                .current_dir(root)
                .args(["fix", "."])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut run in runs {
        run.wait().unwrap();
    }
    let migrations: Vec<String> = std::fs::read_dir(root.join("library/migrations"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("000"))
        .collect();
    assert_eq!(migrations.len(), 2, "{migrations:?}");
    let (code, stdout, _) = run_ixray(root, &["fix", "."]);
    assert!(stdout.contains("Nothing to fix."), "{code} {stdout}");
}

/// A relation to a model that ships with Django resolves to its real table,
/// and its fix is written like makemigrations would write it.
#[test]
fn relations_to_django_contrib_models_are_fixable() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    django_app(root, "tags");
    write(
        root,
        "tags/models.py",
        b"from django.contrib.contenttypes.models import ContentType\nfrom django.db import models\n\n\nclass TaggedItem(models.Model):\n    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE)\n    object_id = models.PositiveIntegerField()\n    site = models.ForeignKey(\"sites.Site\", on_delete=models.CASCADE, db_index=False)\n\n    class Meta:\n        indexes = [models.Index(fields=[\"content_type\", \"object_id\"], name=\"tagged_ct_obj_idx\")]\n",
    );
    let (_, stdout, _) = run_ixray(root, &["check", "--format", "json"]);
    assert!(stdout.contains("(references `django_site`)"), "{stdout}");
    let (_, diff, stderr) = run_ixray(root, &["fix", "--diff", "."]);
    assert!(!stderr.contains("cannot resolve"), "{stderr}");
    assert!(
        diff.contains("to=\"contenttypes.contenttype\""),
        "{diff}\n{stderr}"
    );
}

/// A fix keeps a file's CRLF line endings and its byte-order mark.
#[test]
fn fixes_keep_crlf_line_endings_and_the_bom() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "library/__init__.py", b"");
    let crlf = format!("\u{feff}{}", GOOD_APP.replace('\n', "\r\n"));
    write(root, "library/models.py", crlf.as_bytes());
    let (code, stdout, stderr) = run_ixray(root, &["fix", "."]);
    assert!(code == 0 || code == 1, "{stdout}{stderr}");
    assert!(
        stdout.contains("fixed: library/models.py"),
        "{stdout}{stderr}"
    );
    let after = std::fs::read_to_string(root.join("library/models.py")).unwrap();
    assert!(after.starts_with('\u{feff}'), "the BOM stays first");
    let lone = after
        .match_indices('\n')
        .filter(|(i, _)| *i == 0 || &after[i - 1..*i] != "\r")
        .count();
    assert_eq!(lone, 0, "every line ends with CRLF:\n{after:?}");
    assert!(after.contains("models.Index("), "{after}");
}

/// A symbolic link to a folder outside the checked path is not followed:
/// its models are not reported and `fix` never writes there.
#[test]
fn symbolic_links_out_of_the_tree_are_not_followed() {
    let outside = tempfile::tempdir().unwrap();
    write(outside.path(), "shop/__init__.py", b"");
    write(outside.path(), "shop/models.py", GOOD_APP.as_bytes());
    let before = tree_contents(outside.path());
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "library/__init__.py", b"");
    write(root, "library/models.py", GOOD_APP.as_bytes());
    std::os::unix::fs::symlink(outside.path().join("shop"), root.join("shop")).unwrap();
    let (_, stdout, stderr) = run_ixray(root, &["check", "--format", "json"]);
    assert!(stdout.contains("library_book"), "{stdout}{stderr}");
    assert!(!stdout.contains("shop_"), "{stdout}");
    run_ixray(root, &["fix", "."]);
    assert_eq!(
        tree_contents(outside.path()),
        before,
        "nothing outside changed"
    );
}

/// 10,000 nested parentheses in a model, a schema, a migration and a
/// config give a diagnostic, never a crash, and the rest is still checked.
#[test]
fn deeply_nested_input_is_reported_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let open = "(".repeat(10_000);
    let close = ")".repeat(10_000);
    write(root, "library/__init__.py", b"");
    write(root, "library/models.py", GOOD_APP.as_bytes());
    write(
        root,
        "deep/models.py",
        format!("from django.db import models\n\n\nclass A(models.Model):\n    b = models.ForeignKey({open}\"library.Book\"{close}, on_delete=models.CASCADE)\n").as_bytes(),
    );
    write(
        root,
        "deep/migrations/0002_x.py",
        format!("from django.db import migrations, models\n\n\nclass Migration(migrations.Migration):\n    dependencies = [{open}(\"deep\", \"0001\"){close}]\n    operations = [migrations.AddIndex(model_name=\"a\", index=models.Index(fields=[{open}\"b\"{close}], name=\"x\"))]\n").as_bytes(),
    );
    write(
        root,
        "web/schema.ts",
        format!("import {{ pgTable, integer }} from \"drizzle-orm/pg-core\";\nexport const t = pgTable(\"t\", {{ id: integer().references(() => {open}t.id{close}) }});\n").as_bytes(),
    );
    write(
        root,
        "web/drizzle.config.ts",
        format!(
            "export default {{ dialect: \"postgresql\", schema: {open}\"./schema.ts\"{close} }};\n"
        )
        .as_bytes(),
    );
    let (code, stdout, stderr) = run_ixray(root, &["check"]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        !stderr.contains("overflow") && !stderr.contains("panicked"),
        "{stderr}"
    );
    assert!(stderr.contains("deep/models.py:5:"), "{stderr}");
    assert!(stderr.contains("nested more than"), "{stderr}");
    assert!(stderr.contains("web/schema.ts"), "{stderr}");
    assert!(
        stdout.contains("library_book"),
        "the rest is checked:\n{stdout}"
    );
}

/// `db_index=False` joins a field whose last argument has a comment after
/// it: the comment stays on its line, the file parses, and the migration
/// is written with it.
#[test]
fn a_comment_after_the_last_argument_stays_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    django_app(root, "vm");
    write(
        root,
        "vm/models.py",
        b"from django.db import models\n\n\nclass Machine(models.Model):\n    name = models.CharField(max_length=20)\n\n\nclass Interface(models.Model):\n    machine = models.ForeignKey(\n        to=\"vm.Machine\",\n        on_delete=models.CASCADE,\n        related_name=\"interfaces\"  # the machine's own\n    )\n    name = models.CharField(max_length=20)\n\n    class Meta:\n        constraints = [models.UniqueConstraint(fields=[\"machine\", \"name\"], name=\"vm_interface_uq\")]\n",
    );
    let (_, stdout, stderr) = run_ixray(root, &["fix", "."]);
    assert!(stdout.contains("fixed: vm/models.py"), "{stdout}{stderr}");
    let models = std::fs::read_to_string(root.join("vm/models.py")).unwrap();
    assert!(
        models.contains("        related_name=\"interfaces\",  # the machine's own\n        db_index=False\n    )"),
        "{models}"
    );
    let (code, stdout, _) = run_ixray(root, &["check"]);
    assert_eq!(code, 0, "{stdout}");
}

/// A Django app folder with an empty initial migration.
fn django_app(root: &Path, app: &str) {
    write(root, &format!("{app}/__init__.py"), b"");
    write(root, &format!("{app}/migrations/__init__.py"), b"");
    write(
        root,
        &format!("{app}/migrations/0001_initial.py"),
        b"from django.db import migrations\n\n\nclass Migration(migrations.Migration):\n    initial = True\n    dependencies = []\n    operations = []\n",
    );
}

/// The (path, rule) pairs `ixray check` reports from `cwd`.
fn reported(cwd: &Path, args: &[&str]) -> BTreeSet<(String, String)> {
    let mut all = vec!["check", "--format", "json"];
    all.extend_from_slice(args);
    let (_, stdout, stderr) = run_ixray(cwd, &all);
    let report: serde_json::Value =
        serde_json::from_str(&stdout).unwrap_or_else(|_| panic!("{stdout}{stderr}"));
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["location"]["path"].as_str().unwrap().to_string(),
                f["rule"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// `fix --select RULE` fixes that rule's findings and nothing else.
#[test]
fn fix_select_fixes_only_the_selected_rule() {
    let dir = copy_fixture("django/shop");
    let root = dir.path();
    let before = reported(root, &["."]);
    let (code, stdout, stderr) = run_ixray(root, &["fix", "--select", "redundant-index", "."]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let changed: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("fixed: "))
        .collect();
    assert!(
        !changed.is_empty() && changed.iter().all(|p| p.starts_with("catalog/")),
        "only the catalog app has a redundant index: {stdout}"
    );
    let after = reported(root, &["."]);
    // Outside git, `non-concurrent-index` speaks about the newest migration
    // of each app, which the fix's new migration replaces.
    let expected: BTreeSet<(String, String)> = before
        .into_iter()
        .filter(|(_, rule)| rule != "redundant-index" && rule != "non-concurrent-index")
        .collect();
    let after: BTreeSet<(String, String)> = after
        .into_iter()
        .filter(|(_, rule)| rule != "non-concurrent-index")
        .collect();
    pretty_assertions::assert_eq!(after, expected);
}

/// `fix PATH` reads the whole project (the settings, the other apps, the
/// history) but fixes only the findings under PATH; `check` from inside an
/// app shows paths from there.
#[test]
fn fix_on_a_path_fixes_only_the_findings_there() {
    let dir = copy_fixture("django/shop");
    let root = dir.path();
    let before = reported(root, &["."]);
    assert!(
        before.iter().any(|(p, _)| p == "orders/models/base.py")
            && before.iter().any(|(p, _)| p.starts_with("customers/")),
        "{before:?}"
    );
    // One file: reported alone, with the project's settings (no
    // "PostgreSQL assumed").
    let (_, stdout, _) = run_ixray(root, &["check", "orders/models/order.py"]);
    assert!(
        stdout.contains("orders/models/order.py") && !stdout.contains("base.py"),
        "{stdout}"
    );
    assert!(!stdout.contains("assumed"), "{stdout}");
    // From inside the app, paths are relative to it.
    let inside = reported(&root.join("orders"), &[]);
    assert!(
        inside.contains(&(
            "models/order.py".to_string(),
            "unindexed-foreign-key".to_string()
        )),
        "{inside:?}"
    );
    assert!(
        inside
            .iter()
            .all(|(p, _)| p.starts_with("models/") || p == "tasks.py"),
        "{inside:?}"
    );

    let (code, stdout, stderr) = run_ixray(root, &["fix", "orders/models/order.py"]);
    assert!(code == 0 || code == 1, "{stdout}{stderr}");
    assert!(
        stdout.contains("fixed: orders/models/order.py")
            && stdout.contains("fixed: orders/migrations/"),
        "{stdout}"
    );
    let after = reported(root, &["."]);
    let expected: BTreeSet<(String, String)> = before
        .into_iter()
        .filter(|(path, _)| path != "orders/models/order.py")
        .collect();
    pretty_assertions::assert_eq!(after, expected);
}

/// A model whose change ixray cannot write (a relation to a class from a
/// package it cannot see, so no migration can name it) is left out whole:
/// its class is untouched and the migration does not mention it, while the
/// other model of the same file is fixed. `check` counts as fixable exactly
/// what `fix` then fixes, and says why the rest is left.
#[test]
fn a_table_whose_change_cannot_be_written_is_left_out_whole() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    django_app(root, "shop");
    let models = r#"from django.db import models
from vendor.models import Warehouse


class Stock(models.Model):
    warehouse = models.ForeignKey(Warehouse, on_delete=models.CASCADE)
    day = models.DateField()
    parent = models.ForeignKey("self", on_delete=models.CASCADE, db_index=False)

    class Meta:
        indexes = [models.Index(fields=["warehouse", "day"], name="stock_wh_day")]


class Shelf(models.Model):
    stock = models.ForeignKey(Stock, on_delete=models.CASCADE, db_index=False)
"#;
    write(root, "shop/models.py", models.as_bytes());
    let stock_class =
        &models[models.find("class Stock").unwrap()..models.find("class Shelf").unwrap()];

    let (_, stdout, _) = run_ixray(root, &["check", "--format", "json", "."]);
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let findings = report["findings"].as_array().unwrap();
    let fixable: BTreeSet<(&str, &str)> = findings
        .iter()
        .filter(|f| f["fixable"] == true)
        .map(|f| (f["table"].as_str().unwrap(), f["rule"].as_str().unwrap()))
        .collect();
    assert_eq!(
        fixable,
        BTreeSet::from([("shop_shelf", "unindexed-foreign-key")]),
        "{stdout}"
    );
    let left: Vec<&serde_json::Value> = findings
        .iter()
        .filter(|f| f["table"] == "shop_stock")
        .collect();
    assert_eq!(left.len(), 2, "{stdout}");
    assert!(
        left.iter().all(|f| f["fixable"] == false
            && f["help"]
                .as_str()
                .unwrap()
                .contains("cannot resolve the relation target")),
        "{stdout}"
    );
    let (_, text, _) = run_ixray(root, &["check", "."]);
    assert!(text.contains("(1 fixable with `ixray fix`)"), "{text}");

    let (code, stdout, stderr) = run_ixray(root, &["fix", "."]);
    assert_eq!(code, 1, "findings are left: {stdout}{stderr}");
    assert!(
        stderr.contains("ixray: not fixed: shop/models.py:5: `Stock` (shop_stock): ")
            && stderr.contains("none of its changes were made"),
        "{stderr}"
    );
    let after = std::fs::read_to_string(root.join("shop/models.py")).unwrap();
    assert!(after.contains(stock_class), "Stock is untouched:\n{after}");
    assert_ne!(after, models, "Shelf is fixed");
    let migration = std::fs::read_dir(root.join("shop/migrations"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().contains("0002_"))
        .expect("a migration for Shelf");
    let migration = std::fs::read_to_string(migration).unwrap();
    assert!(
        migration.contains("model_name=\"shelf\"") && !migration.contains("model_name=\"stock\""),
        "{migration}"
    );
}

/// A models file near ixray's size limit: the fix would push it over, so
/// nothing is written (the next run would skip the file), and it says so.
/// The padding is 300,000 comment lines in a row, on which the Python
/// grammar alone takes minutes: ixray reads it in a moment.
#[test]
fn a_fix_never_writes_a_file_ixray_would_then_skip() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    django_app(root, "library");
    let limit = 8 * 1024 * 1024;
    let mut models = String::from(GOOD_APP);
    let filler = "# padding to the size limit\n";
    while models.len() + filler.len() < limit - 16 {
        models.push_str(filler);
    }
    write(root, "library/models.py", models.as_bytes());
    let (code, stdout, _) = run_ixray(root, &["check", "."]);
    assert_eq!(code, 1, "the file is read: {stdout}");
    assert!(stdout.contains("library_book"), "{stdout}");
    let before = tree_contents(root);
    let (_, stdout, stderr) = run_ixray(root, &["fix", "."]);
    assert!(
        stderr.contains("would be larger than the 8388608 bytes ixray reads"),
        "{stdout}{stderr}"
    );
    assert!(before == tree_contents(root), "nothing is written");
}

/// Two app folders with one label and one model (a copy left behind):
/// the model is edited once per file, every file still parses, and a
/// second fix changes nothing.
#[test]
fn two_apps_with_one_label_are_edited_once_each() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for copy in ["v1", "v2"] {
        django_app(root, &format!("{copy}/library"));
        write(
            root,
            &format!("{copy}/library/models.py"),
            GOOD_APP.as_bytes(),
        );
    }
    let (_, stdout, stderr) = run_ixray(root, &["fix", "."]);
    assert!(!stderr.contains("would not parse"), "{stdout}{stderr}");
    for copy in ["v1", "v2"] {
        let models =
            std::fs::read_to_string(root.join(format!("{copy}/library/models.py"))).unwrap();
        for line in models.lines() {
            assert!(
                line.matches("db_index").count() <= 1,
                "{copy}: {line}\n{stdout}{stderr}"
            );
        }
        let (code, _, stderr) = run_ixray(root, &["check", &format!("{copy}/library/models.py")]);
        assert!(!stderr.contains("syntax error"), "{code} {stderr}");
    }
    let before = tree_contents(root);
    let (_, stdout, _) = run_ixray(root, &["fix", "."]);
    assert!(stdout.contains("Nothing to fix."), "{stdout}");
    assert!(before == tree_contents(root), "a second fix changed files");
}

/// A relation to a class imported under another name resolves to that
/// model: its table is known, and the migration names the model.
#[test]
fn a_relation_to_an_aliased_import_resolves() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    django_app(root, "library");
    django_app(root, "shop");
    write(root, "library/models.py", GOOD_APP.as_bytes());
    write(
        root,
        "shop/models.py",
        b"from django.db import models\n\nfrom library.models import Author as Writer\n\n\nclass Signing(models.Model):\n    writer = models.ForeignKey(Writer, on_delete=models.CASCADE)\n    day = models.DateField()\n\n    class Meta:\n        indexes = [models.Index(fields=[\"writer\", \"day\"], name=\"signing_writer_day\")]\n",
    );
    let (_, schema, _) = run_ixray(root, &["schema", "."]);
    let schema: serde_json::Value = serde_json::from_str(&schema).unwrap();
    let signing = schema["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "shop_signing")
        .unwrap();
    assert_eq!(signing["foreign_keys"][0]["ref_table"], "library_author");
    let (_, stdout, stderr) = run_ixray(root, &["fix", "."]);
    assert!(!stderr.contains("not fixed"), "{stdout}{stderr}");
    let migration = std::fs::read_dir(root.join("shop/migrations"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().contains("0002_"))
        .expect("a migration");
    let migration = std::fs::read_to_string(migration).unwrap();
    assert!(migration.contains("to=\"library.author\""), "{migration}");
}

/// `db.Model` (Flask-SQLAlchemy) is no Django model, even in a folder that
/// looks like an app; `Model` imported from `django.db.models` under
/// another name is.
#[test]
fn only_djangos_model_makes_a_django_model() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    django_app(root, "shop");
    write(
        root,
        "shop/models.py",
        b"from django.db.models import CASCADE, ForeignKey, Model as DjangoModel\n\nfrom .db import db\n\n\nclass Owner(DjangoModel):\n    pass\n\n\nclass Pet(DjangoModel):\n    owner = ForeignKey(Owner, on_delete=CASCADE, db_index=False)\n\n\nclass Legacy(db.Model):\n    pass\n",
    );
    let (_, schema, _) = run_ixray(root, &["schema", "."]);
    let schema: serde_json::Value = serde_json::from_str(&schema).unwrap();
    let django: BTreeSet<&str> = schema["tables"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["framework"] == "django")
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(django, BTreeSet::from(["shop_owner", "shop_pet"]));
}

/// A model defined outside a `models` module, on the project's own
/// abstract base, and imported by `models.py` (Django finds it there) is
/// read: nothing in its class header says `Model`.
#[test]
fn a_model_outside_the_models_module_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    django_app(root, "shop");
    write(
        root,
        "shop/base.py",
        b"from django.db import models\n\n\nclass Stamped(models.Model):\n    created = models.DateTimeField()\n\n    class Meta:\n        abstract = True\n",
    );
    write(
        root,
        "shop/order.py",
        b"from django.db import models\n\nfrom .base import Stamped\n\n\nclass Customer(Stamped):\n    name = models.CharField(max_length=9)\n\n\nclass Order(Stamped):\n    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, db_index=False)\n",
    );
    write(
        root,
        "shop/models.py",
        b"from .order import Customer, Order  # noqa: F401\n",
    );
    let reported = unindexed_by_ixray(root);
    assert!(
        reported.contains(&("shop_order".to_string(), vec!["customer_id".to_string()])),
        "{reported:?}"
    );
}

/// The access patterns of the shop fixture's query code, one line each:
/// `table where … order … [limited] operation @ file:line`.
#[test]
fn schema_lists_the_access_patterns_of_django_query_code() {
    let (code, stdout, stderr) = run_ixray(&fixture("django/shop"), &["schema"]);
    assert_eq!(code, 0, "{stderr}");
    let schema: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    insta::assert_snapshot!(access_pattern_lines(&schema).join("\n"));
}

/// The access patterns of the Drizzle storefront's query code
/// (`src/db/queries.ts`), in the same one-line form.
#[test]
fn schema_lists_the_access_patterns_of_drizzle_query_code() {
    let (code, stdout, stderr) = run_ixray(&fixture("drizzle/pg"), &["schema"]);
    assert_eq!(code, 0, "{stderr}");
    let schema: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    insta::assert_snapshot!(access_pattern_lines(&schema).join("\n"));
}

/// `table where … order … [limited] operation @ file:line`, one per
/// access pattern.
fn access_pattern_lines(schema: &serde_json::Value) -> Vec<String> {
    schema["access_patterns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let conditions: Vec<String> = p["conditions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| {
                    let constant = c["constant"]
                        .as_str()
                        .map_or(String::new(), |v| format!(" {v}"));
                    format!(
                        "{} {}{constant}",
                        c["column"].as_str().unwrap(),
                        c["op"].as_str().unwrap()
                    )
                })
                .collect();
            let order: Vec<String> = p["order"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| {
                    let desc = if o["desc"].as_bool().unwrap() {
                        " DESC"
                    } else {
                        ""
                    };
                    format!("{}{desc}", o["column"].as_str().unwrap())
                })
                .collect();
            format!(
                "{} where [{}{}] order [{}]{} {} @ {}:{}",
                p["table"].as_str().unwrap(),
                conditions.join(", "),
                if p["disjunction"].as_bool().unwrap() {
                    " OR"
                } else {
                    ""
                },
                order.join(", "),
                if p["limited"].as_bool().unwrap() {
                    " limited"
                } else {
                    ""
                },
                p["operation"].as_str().unwrap(),
                p["location"]["path"].as_str().unwrap(),
                p["location"]["line"],
            )
        })
        .collect()
}

/// The access patterns of the SQLAlchemy blog's query code
/// (`blog/services.py`), in the same one-line form.
#[test]
fn schema_lists_the_access_patterns_of_sqlalchemy_query_code() {
    let (code, stdout, stderr) = run_ixray(&fixture("sqlalchemy/blog"), &["schema"]);
    assert_eq!(code, 0, "{stderr}");
    let schema: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let lines = access_pattern_lines(&schema);
    insta::assert_snapshot!(lines.join("\n"));
}

/// Managers other than `objects`: one over the whole table (plain,
/// `as_manager()`, `from_queryset()`, inherited from an abstract base) reads
/// the table as `objects` does; a project manager class may filter in its
/// `get_queryset`, so its queries are left out.
#[test]
fn custom_managers_over_the_whole_table_are_read_and_others_left_out() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        root,
        "shop/models.py",
        r#"from django.db import models


class OrderQuerySet(models.QuerySet):
    def open(self):
        return self.filter(status="open")


class LiveManager(models.Manager):
    def get_queryset(self):
        return super().get_queryset().filter(deleted=False)


class Base(models.Model):
    everything = models.Manager()

    class Meta:
        abstract = True


class Order(Base):
    code = models.CharField(max_length=20)
    status = models.CharField(max_length=20)
    placed = models.DateTimeField()
    deleted = models.BooleanField(default=False)

    objects = models.Manager()
    orders = OrderQuerySet.as_manager()
    listed = models.Manager.from_queryset(OrderQuerySet)()
    live = LiveManager()
"#,
    );
    write(
        root,
        "shop/services.py",
        r#"from shop.models import Order


# Query files are found by `.objects` (and a few other markers); custom
# managers are read in them.
def everything():
    return Order.objects.all()


def by_code(code):
    return Order.orders.filter(code=code).first()


def by_status(status):
    return Order.listed.filter(status=status).order_by("-placed")[:10]


def placed_after(when):
    return Order.everything.filter(placed__gte=when).count()


def live_by_code(code):
    return Order.live.filter(code=code).exists()


def not_a_manager(key):
    return Order.cache.get(key)
"#,
    );
    let (code, stdout, stderr) = run_ixray(root, &["schema"]);
    assert_eq!(code, 0, "{stderr}");
    let schema: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let lines = access_pattern_lines(&schema);
    let lines: Vec<&str> = lines
        .iter()
        .map(|l| l.split(" @ ").next().unwrap())
        .collect();
    assert_eq!(
        lines,
        vec![
            "shop_order where [] order [] select",
            "shop_order where [code eq] order [id] limited get",
            "shop_order where [status eq] order [placed DESC] limited select",
            "shop_order where [placed ge] order [] count",
        ],
        "{stdout}"
    );
}
