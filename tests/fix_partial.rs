//! Partial indexes through `fix`, proven by the real frameworks. No rule
//! reaches the CLI with a predicate yet, so each test analyses a fixture,
//! puts findings carrying partial `IndexSpec`s in place of the rules' own
//! (whose fixes are set aside), and runs `fix`'s own planner, checker and
//! writer on them. Then Django must accept the project (`makemigrations
//! --check`, `migrate` on SQLite and PostgreSQL, the catalog shows the
//! partial indexes), and drizzle-kit must find nothing left to generate
//! and migrate it (`tsc` accepting the schema). On MySQL neither framework
//! can make a partial index: `fix` refuses, with the reason.

mod common;

use std::path::Path;

use common::*;
use ixray::rules::{Finding, FixIntent, Severity};
use ixray::schema::{IndexSpec, SpecColumn};

/// A partial index a finding asks for.
struct Partial<'a> {
    table: &'a str,
    /// (SQL column, descending)
    columns: &'a [(&'a str, bool)],
    name: &'a str,
    predicate: &'a str,
}

/// The first table `pick` accepts and its first column outside the key.
fn first_plain_column(
    analysis: &ixray::Analysis,
    pick: impl Fn(&ixray::schema::Table) -> bool,
) -> (&str, &str) {
    let table = analysis
        .schema
        .tables
        .iter()
        .find(|t| pick(t))
        .expect("a table");
    let column = table
        .columns
        .iter()
        .find(|c| !c.primary_key)
        .expect("a column");
    (&table.name, &column.name)
}

/// A finding that asks for a partial index, as `missing-query-index` will.
fn partial_finding(analysis: &ixray::Analysis, partial: &Partial) -> Finding {
    let Partial {
        table,
        columns,
        name,
        predicate,
    } = *partial;
    let declared = analysis
        .schema
        .table(table)
        .unwrap_or_else(|| panic!("the fixture has `{table}`"));
    let spec = IndexSpec {
        name: name.into(),
        table: table.into(),
        columns: columns
            .iter()
            .map(|(c, desc)| SpecColumn {
                name: c.to_string(),
                desc: *desc,
            })
            .collect(),
        unique: false,
        predicate: Some(predicate.into()),
    };
    Finding {
        rule: "missing-query-index",
        severity: Severity::Warning,
        framework: declared.framework,
        model: declared.model.clone(),
        table: table.into(),
        columns: columns.iter().map(|(c, _)| c.to_string()).collect(),
        index_name: None,
        message: format!("queries on `{table}` want a partial index"),
        location: declared.location.clone(),
        related: Vec::new(),
        suggested_index: Some(spec.clone()),
        fix: Some(FixIntent::AddIndex(spec)),
        help: None,
        inferred: false,
    }
}

/// The project's analysis with `partial` as the only findings to fix.
fn analysis_with(
    dir: &Path,
    partial: impl Fn(&ixray::Analysis) -> Vec<Finding>,
) -> ixray::Analysis {
    let paths = vec![dir.to_path_buf()];
    let config = ixray::config::load(dir).expect("config");
    let mut analysis = ixray::analyze(&paths, &config);
    assert!(analysis.errors.is_empty(), "{:?}", analysis.errors);
    let mut extra = partial(&analysis);
    // What `check` does with every finding: the help, in the framework's words.
    ixray::frameworks::django::emit::describe_fixes(
        &analysis.django,
        &analysis.schema.tables,
        &mut extra,
    );
    ixray::frameworks::drizzle::emit::describe_fixes(&analysis.drizzle, &mut extra);
    for finding in &mut analysis.findings {
        finding.fix = None;
    }
    analysis.findings.extend(extra);
    analysis
}

/// `IXRAY_KEEP=1` keeps a fixed project for a look; stderr says where.
#[allow(clippy::print_stderr)]
fn keep_if_asked(dir: tempfile::TempDir) -> Option<tempfile::TempDir> {
    if std::env::var_os("IXRAY_KEEP").is_none() {
        return Some(dir);
    }
    eprintln!("the project is kept in {}", dir.keep().display());
    None
}

/// Plan, check against a re-analysis and write, as `ixray fix` does;
/// nothing may be withheld.
fn fix(analysis: &ixray::Analysis) {
    let plan = ixray::fix::plan_verified(analysis);
    let withheld: Vec<String> = plan
        .withheld
        .iter()
        .map(|w| w.describe(|p| p.display().to_string()))
        .collect();
    assert!(withheld.is_empty(), "withheld: {withheld:#?}");
    assert!(!plan.sets.is_empty(), "nothing planned");
    let applied = ixray::fix::apply(&plan);
    assert!(applied.errors.is_empty(), "{:?}", applied.errors);
}

/// The withheld reasons for a project whose database has no partial
/// indexes.
fn refusals(analysis: &ixray::Analysis) -> Vec<String> {
    let plan = ixray::fix::plan_verified(analysis);
    assert!(plan.sets.is_empty(), "a partial index was planned on MySQL");
    plan.withheld.iter().map(|w| w.reason.clone()).collect()
}

fn read(dir: &Path, relative: &str) -> String {
    std::fs::read_to_string(dir.join(relative)).expect("readable")
}

/// The partial indexes of the catalog, by table and name.
fn partial_indexes(catalog: &std::process::Output) -> Vec<(String, String)> {
    assert_success(catalog, "the catalog");
    let catalog: serde_json::Value = serde_json::from_slice(&catalog.stdout).expect("JSON");
    let mut out: Vec<(String, String)> = catalog["indexes"]
        .as_array()
        .expect("indexes")
        .iter()
        .filter(|i| i["partial"] == true)
        .map(|i| {
            (
                i["table"].as_str().unwrap().to_string(),
                i["name"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

const DJANGO_PARTIALS: [Partial; 5] = [
    // A boolean and a negated text equality, on another app.
    Partial {
        table: "catalog_product",
        columns: &[("price", false)],
        name: "product_live_price_ix",
        predicate: "is_active AND NOT (sku = 'legacy')",
    },
    // A FK column by its field name, and IS NULL.
    Partial {
        table: "orders_shipment",
        columns: &[("carrier", false)],
        name: "shipment_unsent_ix",
        predicate: "shipped_at IS NULL AND packed_by_id IS NOT NULL",
    },
    // Text and number equalities, with a descending key.
    Partial {
        table: "orders_order",
        columns: &[("created_at", true)],
        name: "order_pending_ix",
        predicate: "status = 'pending'",
    },
    Partial {
        table: "orders_coupon",
        columns: &[("valid_until", false)],
        name: "coupon_half_ix",
        predicate: "percent_off = 50",
    },
    Partial {
        table: "orders_transaction",
        columns: &[("created_at", false)],
        name: "payment_failed_ix",
        predicate: "NOT succeeded",
    },
];

#[test]
fn django_writes_partial_indexes_that_django_accepts() {
    if !require("the test venv's Python", python().is_some()) {
        return;
    }
    let dir = copy_fixture("django/shop");
    let root = dir.path().to_path_buf();
    let _dir = keep_if_asked(dir);
    let dir = root.as_path();
    // A module that imports `Q` itself: its model says `Q`, the migration
    // `models.Q`, and Django must find them equal.
    let models = dir.join("catalog/models.py");
    let text = read(dir, "catalog/models.py").replace(
        "from django.db import models\n",
        "from django.db import models\nfrom django.db.models import Q\n",
    );
    std::fs::write(&models, text).unwrap();
    let analysis = analysis_with(dir, |analysis| {
        DJANGO_PARTIALS
            .iter()
            .map(|p| partial_finding(analysis, p))
            .collect()
    });
    let help = analysis.findings.last().and_then(|f| f.help.clone());
    assert_eq!(
        help.as_deref(),
        Some(
            r#"add `models.Index(fields=["created_at"], name="payment_failed_ix", condition=models.Q(succeeded=False))` to `Transaction.Meta.indexes`, with a migration"#
        )
    );
    fix(&analysis);

    let catalog = read(dir, "catalog/models.py");
    assert!(
        catalog.contains(
            r#"models.Index(fields=["price"], name="product_live_price_ix", condition=Q(is_active=True) & ~Q(sku="legacy")),"#
        ),
        "{catalog}"
    );
    let orders = read(dir, "orders/models/order.py");
    for entry in [
        r#"models.Index(fields=["carrier"], name="shipment_unsent_ix", condition=models.Q(shipped_at__isnull=True, packed_by__isnull=False))"#,
        r#"models.Index(fields=["-created_at"], name="order_pending_ix", condition=models.Q(status="pending"))"#,
        r#"models.Index(fields=["valid_until"], name="coupon_half_ix", condition=models.Q(percent_off=50))"#,
    ] {
        assert!(orders.contains(entry), "{entry} not in:\n{orders}");
    }
    let migration = std::fs::read_dir(dir.join("catalog/migrations"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().contains("0003_"))
        .expect("a new catalog migration");
    let migration = std::fs::read_to_string(migration).unwrap();
    assert!(
        migration.contains(
            r#"index=models.Index(fields=["price"], name="product_live_price_ix", condition=models.Q(is_active=True) & ~models.Q(sku="legacy")),"#
        ),
        "{migration}"
    );

    assert_success(
        &djangoctl("check", dir, "sqlite"),
        "makemigrations --check after the fix",
    );
    let mut databases = vec!["sqlite"];
    if require(
        "PostgreSQL on 127.0.0.1 (IXRAY_PG_PORT)",
        postgres_available(),
    ) {
        databases.push("postgres");
    }
    for db in databases {
        assert_success(&djangoctl("migrate", dir, db), &format!("migrate on {db}"));
        let partial = partial_indexes(&djangoctl("catalog", dir, db));
        for Partial { table, name, .. } in &DJANGO_PARTIALS {
            assert!(
                partial.contains(&(table.to_string(), name.to_string())),
                "{db}: no partial {name} on {table}: {partial:?}"
            );
        }
    }
}

#[test]
fn django_on_mysql_refuses_partial_indexes() {
    assert_mysql_refuses_partial_indexes("django/mysql_shop", |t| {
        t.managed && t.location.is_some()
    });
}

/// A partial index on a table of `fixture` (a MySQL project) is refused,
/// with the reason in the refusal and in the finding's help.
fn assert_mysql_refuses_partial_indexes(
    fixture: &str,
    pick: impl Fn(&ixray::schema::Table) -> bool,
) {
    let dir = copy_fixture(fixture);
    let analysis = analysis_with(dir.path(), |analysis| {
        let (table, column) = first_plain_column(analysis, &pick);
        vec![partial_finding(
            analysis,
            &Partial {
                table,
                columns: &[(column, false)],
                name: "partial_idx",
                predicate: &format!("{column} IS NOT NULL"),
            },
        )]
    });
    let reasons = refusals(&analysis);
    assert!(
        reasons
            .iter()
            .any(|r| r.starts_with("MySQL has no partial indexes")),
        "{fixture}: {reasons:?}"
    );
    let help = analysis.findings.last().and_then(|f| f.help.as_deref());
    assert!(
        help.is_some_and(|h| h.contains("by hand: MySQL has no partial indexes")),
        "{fixture}: {help:?}"
    );
}

const DRIZZLE_PG_PARTIALS: [Partial; 4] = [
    // A boolean, into a file that imports no `sql` yet.
    Partial {
        table: "users",
        columns: &[("display_name", false)],
        name: "users_active_top_idx",
        predicate: "is_active AND manager_id IS NULL",
    },
    // A table without extra config: the callback is new.
    Partial {
        table: "order_events",
        columns: &[("kind", false), ("created_at", true)],
        name: "order_events_kind_idx",
        predicate: "NOT (kind = 'noise') AND payload IS NOT NULL",
    },
    // A table in a schema.
    Partial {
        table: "billing.invoices",
        columns: &[("issued_at", false)],
        name: "invoices_unpaid_idx",
        predicate: "paid_at IS NULL",
    },
    Partial {
        table: "orders",
        columns: &[("placed_at", false)],
        name: "orders_free_idx",
        predicate: "total_amount_cents = 0",
    },
];

/// In the object form.
const DRIZZLE_SQLITE_PARTIALS: [Partial; 2] = [
    Partial {
        table: "notes",
        columns: &[("updated_at", false)],
        name: "notes_live_updated_idx",
        predicate: "NOT archived AND editor_id IS NULL",
    },
    Partial {
        table: "labels",
        columns: &[("name", false)],
        name: "labels_default_color_idx",
        predicate: "color = '#888888'",
    },
];

fn has_node_tools() -> bool {
    require("the test venv's Python", python().is_some())
        && require(
            "node_modules with drizzle-kit and typescript (npm ci)",
            node_modules_available(),
        )
}

#[test]
fn drizzle_writes_partial_indexes_drizzle_kit_agrees_with() {
    if !has_node_tools() {
        return;
    }
    let mut projects: Vec<(&str, &str)> = vec![("drizzle/sqlite", "sqlite")];
    if require(
        "PostgreSQL on 127.0.0.1 (IXRAY_PG_PORT)",
        postgres_available(),
    ) {
        projects.push(("drizzle/pg", "postgres"));
    }
    for (project, db) in projects {
        let dir = copy_fixture(project);
        let root = dir.path().to_path_buf();
        let _dir = keep_if_asked(dir);
        let dir = root.as_path();
        let partials: &[Partial] = if db == "postgres" {
            &DRIZZLE_PG_PARTIALS
        } else {
            &DRIZZLE_SQLITE_PARTIALS
        };
        let analysis = analysis_with(dir, |analysis| {
            partials
                .iter()
                .map(|p| partial_finding(analysis, p))
                .collect()
        });
        if db == "postgres" {
            let help = analysis
                .findings
                .iter()
                .find(|f| f.table == "users" && f.rule == "missing-query-index")
                .and_then(|f| f.help.clone());
            assert_eq!(
                help.as_deref(),
                Some(
                    "add `index(\"users_active_top_idx\").on(t.displayName).where(sql`${t.isActive} AND ${t.managerId} IS NULL`)` to `users`'s extra config, with a drizzle-kit migration that creates it"
                )
            );
        }
        fix(&analysis);
        if db == "postgres" {
            let users = read(dir, "src/db/schema/users.ts");
            assert!(
                users.contains(r#"import { relations, sql } from "drizzle-orm";"#),
                "{users}"
            );
            assert!(
                users.contains(
                    r#"index("users_active_top_idx").on(t.displayName).where(sql`${t.isActive} AND ${t.managerId} IS NULL`),"#
                ),
                "{users}"
            );
        } else {
            let schema = read(dir, "src/db/schema.ts");
            assert!(
                schema.contains(
                    r#"index("notes_live_updated_idx").on(t.updatedAt).where(sql`NOT ${t.archived} AND ${t.editorId} IS NULL`)"#
                ),
                "{schema}"
            );
        }
        assert_success(
            &drizzlectl("tsc", dir, db),
            &format!("{project}: tsc --noEmit on the fixed schema"),
        );
        assert_success(
            &drizzlectl("check", dir, db),
            &format!("{project}: drizzle-kit migrate, then generate finds nothing to do"),
        );
        let partial = partial_indexes(&drizzlectl("catalog", dir, db));
        for Partial { table, name, .. } in partials {
            assert!(
                partial.contains(&(table.to_string(), name.to_string())),
                "{project}: no partial {name} on {table}: {partial:?}"
            );
        }
    }
}

#[test]
fn drizzle_on_mysql_refuses_partial_indexes() {
    assert_mysql_refuses_partial_indexes("drizzle/mysql", |t| t.location.is_some());
}

/// drizzle-orm's sqlite-core columns have no `.desc()`: a descending key
/// is refused rather than written as code drizzle-kit cannot load.
#[test]
fn drizzle_on_sqlite_refuses_descending_keys() {
    let dir = copy_fixture("drizzle/sqlite");
    let analysis = analysis_with(dir.path(), |analysis| {
        let (table, column) = first_plain_column(analysis, |t| t.location.is_some());
        let mut finding = partial_finding(
            analysis,
            &Partial {
                table,
                columns: &[(column, true)],
                name: "desc_idx",
                predicate: "",
            },
        );
        if let Some(FixIntent::AddIndex(spec)) = &mut finding.fix {
            spec.predicate = None;
        }
        vec![finding]
    });
    let reasons = refusals(&analysis);
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("sqlite-core cannot declare descending index columns")),
        "{reasons:?}"
    );
}
