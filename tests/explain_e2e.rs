//! `ixray explain` and `ixray fix` against the real test PostgreSQL with
//! HypoPG, one fixture per framework. The framework's own tool migrates
//! the fixture onto a scratch database and the test fills the tables its
//! query code reads; the planner must switch every motivating query to
//! the hypothetical index ixray suggests, while the database keeps exactly
//! the indexes and extensions it had. Then `ixray fix` writes the
//! indexes, the framework's tool migrates a fresh database to the new
//! head, and the real planner must choose the real indexes for the same
//! queries.

mod common;

use std::collections::BTreeSet;

use common::*;
use postgres::{Client, NoTls};
use serde_json::Value;

fn pg_config(database: &str) -> String {
    let host = std::env::var("IXRAY_PG_HOST").unwrap_or_else(|_| "127.0.0.1".into());
    let port = std::env::var("IXRAY_PG_PORT").unwrap_or_else(|_| "54329".into());
    let user = std::env::var("IXRAY_PG_USER").unwrap_or_else(|_| "postgres".into());
    let mut config = format!("host={host} port={port} user={user} dbname={database}");
    if let Ok(password) = std::env::var("IXRAY_PG_PASSWORD") {
        config.push_str(&format!(" password={password}"));
    }
    config
}

/// A database a framework's tool migrated; dropped when the test ends,
/// even on failure.
struct ScratchDatabase {
    name: String,
}

/// How a framework's harness migrates a project to its head.
#[derive(Clone, Copy)]
struct Harness {
    script: &'static str,
    command: &'static str,
}

const DJANGO: Harness = Harness {
    script: "djangoctl.py",
    command: "migrate",
};
const ALEMBIC: Harness = Harness {
    script: "alembicctl.py",
    command: "upgrade",
};
const DRIZZLE: Harness = Harness {
    script: "drizzlectl.py",
    command: "migrate",
};

impl ScratchDatabase {
    /// The harness's command with `--keep` on `project`: the kept
    /// database is ours.
    fn migrated(harness: Harness, project: &std::path::Path) -> ScratchDatabase {
        let output = harness_args(
            harness.script,
            harness.command,
            project,
            "postgres",
            &["--keep"],
        );
        assert_success(
            &output,
            &format!("{} {} --keep", harness.script, harness.command),
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        let name = stderr
            .lines()
            .find_map(|l| l.split_once(": kept PostgreSQL database ").map(|(_, n)| n))
            .expect("the harness names the kept database")
            .trim()
            .to_string();
        // The working folder kept beside it is of no use.
        for line in stderr.lines() {
            if let Some((_, rest)) = line.split_once(": kept /") {
                let folder = rest.split(" (").next().unwrap_or(rest);
                let _ = std::fs::remove_dir_all(format!("/{folder}"));
            }
        }
        ScratchDatabase { name }
    }

    fn url(&self) -> String {
        let host = std::env::var("IXRAY_PG_HOST").unwrap_or_else(|_| "127.0.0.1".into());
        let port = std::env::var("IXRAY_PG_PORT").unwrap_or_else(|_| "54329".into());
        let user = std::env::var("IXRAY_PG_USER").unwrap_or_else(|_| "postgres".into());
        match std::env::var("IXRAY_PG_PASSWORD") {
            Ok(password) => format!("postgresql://{user}:{password}@{host}:{port}/{}", self.name),
            Err(_) => format!("postgresql://{user}@{host}:{port}/{}", self.name),
        }
    }

    fn connect(&self) -> Client {
        Client::connect(&pg_config(&self.name), NoTls).expect("connect to the scratch database")
    }
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        if let Ok(mut client) = Client::connect(&pg_config("postgres"), NoTls) {
            let _ = client.batch_execute(&format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.name
            ));
        }
    }
}

/// What the read-only guarantee protects: every index (with its
/// definition) and every extension of the database.
fn catalog(client: &mut Client) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for row in client
        .query(
            "SELECT 'index ' || schemaname || '.' || indexname || ': ' || indexdef FROM pg_indexes \
             UNION ALL SELECT 'extension ' || extname || ' ' || extversion FROM pg_extension",
            &[],
        )
        .unwrap()
    {
        out.insert(row.get(0));
    }
    out
}

/// A value for each row `g` of a column the test does not care about,
/// by the column's type: distinct, so unique constraints hold.
fn filler(data_type: &str) -> &'static str {
    match data_type {
        "smallint" => "(g % 30000)",
        "integer" | "bigint" | "numeric" | "real" | "double precision" => "g",
        "text" | "character varying" | "character" => "'v' || g",
        "boolean" => "(g % 2 = 0)",
        "timestamp with time zone" | "timestamp without time zone" => {
            "now() - g * interval '1 second'"
        }
        "date" => "current_date - (g % 3650)",
        "uuid" => "md5(g::text)::uuid",
        "json" | "jsonb" => "'{}'",
        other => panic!("no filler for a NOT NULL column of type {other}: give it one"),
    }
}

/// Enough rows in `table` that a scan of the whole table costs far more
/// than an index probe. `values` gives the columns the queries filter or
/// sort on their distribution; every other NOT NULL column without a
/// default gets a distinct value of its type. Foreign keys are not checked
/// (session_replication_role): the plans do not care.
fn fill(client: &mut Client, table: &str, values: &[(&str, &str)]) {
    let mut columns = Vec::new();
    let mut expressions = Vec::new();
    for row in client
        .query(
            "SELECT column_name::text, data_type::text, is_nullable = 'YES', \
                    column_default IS NOT NULL OR is_identity = 'YES' \
               FROM information_schema.columns \
              WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position",
            &[&table],
        )
        .unwrap()
    {
        let (name, data_type): (String, String) = (row.get(0), row.get(1));
        let (nullable, defaulted): (bool, bool) = (row.get(2), row.get(3));
        let expression = match values.iter().find(|(c, _)| *c == name) {
            Some((_, value)) => value.to_string(),
            None if nullable || defaulted => continue,
            None => filler(&data_type).to_string(),
        };
        columns.push(format!("\"{name}\""));
        expressions.push(expression);
    }
    assert!(!columns.is_empty(), "table {table} is not in the database");
    for (column, _) in values {
        assert!(
            columns.contains(&format!("\"{column}\"")),
            "{table} has no column {column}"
        );
    }
    client
        .batch_execute(&format!(
            "SET session_replication_role = replica;
             INSERT INTO \"{table}\" ({}) SELECT {} FROM generate_series(1, 100000) g;
             RESET session_replication_role;
             ANALYZE \"{table}\";",
            columns.join(", "),
            expressions.join(", "),
        ))
        .unwrap_or_else(|e| panic!("fill {table}: {e}"));
}

/// The names of the indexes on each table of the database.
fn index_names(client: &mut Client) -> BTreeSet<(String, String)> {
    client
        .query(
            "SELECT tablename::text, indexname::text FROM pg_indexes \
              WHERE schemaname NOT IN ('pg_catalog', 'information_schema')",
            &[],
        )
        .unwrap()
        .into_iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect()
}

/// The indexes the real planner's generic plan of `statement` reads, as
/// `ixray explain` asks for it: prepared, `$n` bound to NULL under
/// `force_generic_plan`.
fn indexes_in_generic_plan(client: &mut Client, statement: &str) -> Vec<String> {
    client
        .batch_execute(&format!(
            "SET plan_cache_mode = force_generic_plan; PREPARE q AS {statement}"
        ))
        .unwrap_or_else(|e| panic!("PREPARE {statement}: {e}"));
    let parameters: i32 = client
        .query_one(
            "SELECT coalesce(cardinality(parameter_types), 0) FROM pg_prepared_statements \
              WHERE name = 'q'",
            &[],
        )
        .unwrap()
        .get(0);
    let arguments = match parameters {
        0 => String::new(),
        n => format!("({})", vec!["NULL"; n as usize].join(", ")),
    };
    let plan = client
        .simple_query(&format!("EXPLAIN (FORMAT JSON) EXECUTE q{arguments}"))
        .unwrap()
        .into_iter()
        .find_map(|message| match message {
            postgres::SimpleQueryMessage::Row(row) => row.get(0).map(str::to_string),
            _ => None,
        })
        .expect("EXPLAIN returns the plan");
    client.batch_execute("DEALLOCATE q").unwrap();
    fn walk(node: &Value, out: &mut Vec<String>) {
        if let Some(name) = node["Index Name"].as_str() {
            out.push(name.to_string());
        }
        for child in node["Plans"].as_array().into_iter().flatten() {
            walk(child, out);
        }
    }
    let plan: Value = serde_json::from_str(&plan).unwrap();
    let mut out = Vec::new();
    walk(&plan[0]["Plan"], &mut out);
    out
}

/// One framework's proof. `fills` says how to fill each table the
/// suggestions are for; `expected` is every suggestion, as `(table,
/// end of its CREATE INDEX)`.
fn prove(
    fixture: &str,
    harness: Harness,
    fills: &[(&str, &[(&str, &str)])],
    expected: &[(&str, &str)],
) {
    if !require("the test venv's Python", python().is_some())
        || !require(
            "PostgreSQL on 127.0.0.1 (IXRAY_PG_PORT)",
            postgres_available(),
        )
        || (harness.script == "drizzlectl.py"
            && !require("node_modules with drizzle-kit", node_modules_available()))
    {
        return;
    }
    let dir = copy_fixture(fixture);
    let db = ScratchDatabase::migrated(harness, dir.path());
    let mut client = db.connect();
    if !require(
        "HypoPG on the test PostgreSQL server",
        hypopg_available(&mut client),
    ) {
        return;
    }
    for (table, values) in fills {
        fill(&mut client, table, values);
    }
    let before = catalog(&mut client);
    let indexes_before = index_names(&mut client);

    // Before the fix: every query of every suggestion switches to the
    // hypothetical index.
    let (code, stdout, stderr) = run_ixray(
        dir.path(),
        &[
            "explain",
            ".",
            "--database-url",
            &db.url(),
            "--create-extension",
            "--format",
            "json",
        ],
    );
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let report: Value = serde_json::from_str(&stdout).expect("JSON output");
    let suggestions = report["suggestions"].as_array().unwrap();
    let mut found: Vec<(String, String)> = Vec::new();
    let mut motivating: Vec<(String, String)> = Vec::new();
    for s in suggestions {
        let table = s["table"].as_str().unwrap().to_string();
        let create = s["create_index"].as_str().unwrap();
        let (_, columns) = create
            .split_once(" ON ")
            .expect("CREATE INDEX ... ON t (...)");
        let columns = columns.split_once(' ').map_or(columns, |(_, c)| c);
        found.push((table.clone(), columns.to_string()));
        assert!(s["error"].is_null(), "{s:#}");
        let hypothetical = s["hypothetical_index"].as_str().expect("HypoPG named it");
        let queries = s["queries"].as_array().unwrap();
        assert!(!queries.is_empty(), "{s:#}");
        for query in queries {
            assert_eq!(query["uses_index"], true, "{table}: {query:#}");
            let cost = |plan: &str| query[plan]["total_cost"].as_f64().unwrap();
            assert!(cost("after") < cost("before"), "{table}: {query:#}");
            assert!(
                query["after"]["nodes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|n| n["index"] == hypothetical),
                "{table}: {query:#}"
            );
            let statement = query["explained_as"].as_str().or(query["sql"].as_str());
            motivating.push((table.clone(), statement.unwrap().to_string()));
        }
    }
    found.sort();
    let mut expected: Vec<(String, String)> = expected
        .iter()
        .map(|(t, c)| (t.to_string(), c.to_string()))
        .collect();
    expected.sort();
    pretty_assertions::assert_eq!(found, expected, "{stdout}");
    pretty_assertions::assert_eq!(catalog(&mut client), before, "the database changed");
    drop(client);
    drop(db);

    // The fix, applied by the framework's own tool to a fresh database:
    // the real planner reads every motivating query through a new index.
    let (code, stdout, stderr) =
        run_ixray(dir.path(), &["fix", ".", "--select", "missing-query-index"]);
    assert_eq!(code, 0, "fix: {stdout}\n{stderr}");
    let db = ScratchDatabase::migrated(harness, dir.path());
    let mut client = db.connect();
    for (table, values) in fills {
        fill(&mut client, table, values);
    }
    let created: BTreeSet<(String, String)> = index_names(&mut client)
        .difference(&indexes_before)
        .cloned()
        .collect();
    assert_eq!(created.len(), expected.len(), "{created:?}\n{stdout}");
    for (table, statement) in &motivating {
        let used = indexes_in_generic_plan(&mut client, statement);
        assert!(
            used.iter()
                .any(|i| created.contains(&(table.clone(), i.clone()))),
            "{statement} reads {used:?}, none of the new indexes {created:?}"
        );
    }
}

fn hypopg_available(client: &mut Client) -> bool {
    client
        .query_opt(
            "SELECT 1 FROM pg_available_extensions WHERE name = 'hypopg'",
            &[],
        )
        .unwrap()
        .is_some()
}

#[test]
fn django_suggestions_are_what_the_planner_uses_before_and_after_the_fix() {
    prove(
        "django/shop",
        DJANGO,
        &[
            (
                "orders_shipment",
                &[
                    ("carrier", "'carrier-' || (g % 50)"),
                    (
                        "shipped_at",
                        "CASE WHEN g % 10 = 0 THEN NULL ELSE now() END",
                    ),
                ],
            ),
            ("orders_payment", &[("order_id", "g % 1000")]),
            (
                "orders_order",
                &[(
                    "status",
                    "CASE WHEN g % 50 = 0 THEN 'pending' ELSE 'shipped' END",
                )],
            ),
        ],
        &[
            (
                "orders_shipment",
                "(carrier, created_at) WHERE shipped_at IS NULL",
            ),
            ("orders_payment", "(reference)"),
            ("orders_order", "(created_at DESC) WHERE status = 'pending'"),
        ],
    );
}

#[test]
fn sqlalchemy_suggestions_are_what_the_planner_uses_before_and_after_the_fix() {
    prove(
        "sqlalchemy/blog",
        ALEMBIC,
        &[(
            "post",
            &[
                ("author_ref", "g % 1000"),
                (
                    "status",
                    "CASE WHEN g % 4 = 0 THEN 'published' ELSE 'draft' END",
                ),
            ],
        )],
        &[
            (
                "post",
                "(author_ref, created_at DESC) WHERE status = 'published'",
            ),
            ("post", "(created_at)"),
        ],
    );
}

#[test]
fn drizzle_suggestions_are_what_the_planner_uses_before_and_after_the_fix() {
    prove(
        "drizzle/pg",
        DRIZZLE,
        &[
            ("order_events", &[("order_id", "g % 1000")]),
            (
                "products",
                &[("category_id", "g % 100"), ("name", "md5(g::text)")],
            ),
        ],
        &[
            ("order_events", "(order_id, created_at DESC)"),
            ("products", "(category_id, name)"),
        ],
    );
}

fn suggestion<'a>(report: &'a Value, table: &str) -> &'a Value {
    report["suggestions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["table"] == table)
        .unwrap_or_else(|| panic!("a suggestion for {table}:\n{report:#}"))
}

/// The suggestion's one query switches to the hypothetical index, and
/// costs less with it.
fn assert_switches(report: &Value, table: &str, index: &str) {
    let s = suggestion(report, table);
    assert!(
        s["create_index"].as_str().unwrap().ends_with(index),
        "{table}: {s:#}"
    );
    let hypothetical = s["hypothetical_index"].as_str().expect("HypoPG named it");
    let query = &s["queries"][0];
    assert_eq!(query["uses_index"], true, "{table}: {query:#}");
    let before = query["before"]["total_cost"].as_f64().unwrap();
    let after = query["after"]["total_cost"].as_f64().unwrap();
    assert!(after < before, "{table}: cost {before} -> {after}");
    let nodes = |plan: &str| -> Vec<Value> { query[plan]["nodes"].as_array().unwrap().clone() };
    assert!(
        nodes("before").iter().any(|n| n["node_type"] == "Seq Scan"),
        "{table}: {query:#}"
    );
    assert!(
        nodes("after").iter().any(|n| n["index"] == hypothetical),
        "{table}: {query:#}"
    );
}

#[test]
fn explain_needs_hypopg_leaves_the_database_as_it_was_and_reports_what_the_server_rejects() {
    if !require("the test venv's Python with Django", python().is_some())
        || !require(
            "PostgreSQL on 127.0.0.1 (IXRAY_PG_PORT)",
            postgres_available(),
        )
    {
        return;
    }
    let dir = copy_fixture("django/shop");
    let db = ScratchDatabase::migrated(DJANGO, dir.path());
    let mut client = db.connect();
    if !require(
        "HypoPG on the test PostgreSQL server",
        hypopg_available(&mut client),
    ) {
        return;
    }
    fill(
        &mut client,
        "orders_shipment",
        &[
            ("carrier", "'carrier-' || (g % 50)"),
            (
                "shipped_at",
                "CASE WHEN g % 10 = 0 THEN NULL ELSE now() END",
            ),
        ],
    );
    fill(&mut client, "orders_payment", &[("order_id", "g % 1000")]);
    let before = catalog(&mut client);
    assert!(!before.iter().any(|e| e.starts_with("extension hypopg")));
    let url = db.url();

    // No HypoPG in the database and no flag: ixray says how to get it.
    let (code, stdout, stderr) = run_ixray(dir.path(), &["explain", ".", "--database-url", &url]);
    assert_eq!(code, 2, "{stdout}\n{stderr}");
    assert!(
        stderr.contains("CREATE EXTENSION hypopg") && stderr.contains("--create-extension"),
        "{stderr}"
    );

    // With the flag ixray creates it inside its rolled-back transaction.
    let (code, stdout, stderr) = run_ixray(
        dir.path(),
        &[
            "explain",
            ".",
            "--database-url",
            &url,
            "--create-extension",
            "--format",
            "json",
        ],
    );
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let report: Value = serde_json::from_str(&stdout).expect("JSON output");
    assert_eq!(report["version"], 1);
    assert_eq!(report["extension_created"], true);
    assert_switches(
        &report,
        "orders_shipment",
        "(carrier, created_at) WHERE shipped_at IS NULL",
    );
    assert_switches(&report, "orders_payment", "(reference)");
    pretty_assertions::assert_eq!(catalog(&mut client), before, "the database changed");

    // The database has HypoPG (the user created it); a table ixray knows
    // is not in the database: that suggestion says so, the others run.
    client
        .batch_execute(
            "CREATE EXTENSION hypopg;
             ALTER TABLE orders_payment RENAME TO orders_payment_archived",
        )
        .unwrap();
    let before = catalog(&mut client);
    let (code, stdout, stderr) = run_ixray(dir.path(), &["explain", ".", "--database-url", &url]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(
        stdout.contains("not explained: table `orders_payment` is not in the database"),
        "{stdout}"
    );
    let shipment = stdout
        .split("\n\n")
        .find(|block| block.starts_with("orders_shipment "))
        .unwrap_or_else(|| panic!("a block for orders_shipment:\n{stdout}"));
    assert!(
        shipment.contains("uses the index: yes"),
        "{shipment}\n{stderr}"
    );
    assert!(
        stdout.contains("rolled back"),
        "the output says nothing was changed:\n{stdout}"
    );
    pretty_assertions::assert_eq!(catalog(&mut client), before, "the database changed");

    // A column the code has and the database lacks: the server's reason,
    // and the run still ends well.
    client
        .batch_execute("ALTER TABLE orders_shipment RENAME COLUMN carrier TO carrier_code")
        .unwrap();
    let (code, stdout, stderr) = run_ixray(dir.path(), &["explain", ".", "--database-url", &url]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(
        stdout.contains("rejected by the server: column \"carrier\" does not exist"),
        "{stdout}"
    );
    pretty_assertions::assert_eq!(catalog(&mut client), before, "the database changed");
}

#[test]
fn an_unreachable_database_is_an_error() {
    let dir = copy_fixture("django/shop");
    // Port 1: nothing listens there.
    let (code, _, stderr) = run_ixray(
        dir.path(),
        &[
            "explain",
            ".",
            "--database-url",
            "postgresql://postgres@127.0.0.1:1/none?connect_timeout=5",
        ],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("cannot connect to the database"),
        "{stderr}"
    );
}
