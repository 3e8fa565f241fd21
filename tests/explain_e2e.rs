//! `ixray explain` against the real test PostgreSQL with HypoPG: Django
//! migrates the shop fixture onto a scratch database, the test fills the
//! tables the fixture's background jobs query, and the planner must switch
//! those queries to the hypothetical indexes ixray suggests, while the
//! database keeps exactly the indexes and extensions it had.

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

/// A database Django migrated; dropped when the test ends, even on failure.
struct ScratchDatabase {
    name: String,
}

impl ScratchDatabase {
    /// `djangoctl migrate --keep` on `project`: the kept database is ours.
    fn migrated(project: &std::path::Path) -> ScratchDatabase {
        let output = djangoctl_args("migrate", project, "postgres", &["--keep"]);
        assert_success(&output, "djangoctl migrate --keep");
        let stderr = String::from_utf8_lossy(&output.stderr);
        let name = stderr
            .lines()
            .find_map(|l| l.strip_prefix("djangoctl: kept PostgreSQL database "))
            .expect("djangoctl names the kept database")
            .trim()
            .to_string();
        // The settings folder kept beside it is of no use.
        if let Some(tmp) = stderr.lines().find_map(|l| {
            l.strip_prefix("djangoctl: kept ")
                .and_then(|rest| rest.strip_suffix(" (settings module ixray_test_settings)"))
        }) {
            let _ = std::fs::remove_dir_all(tmp);
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

/// Enough rows that a scan of the whole table costs far more than an
/// index probe; foreign keys are not checked (session_replication_role),
/// the plans do not care.
fn fill(client: &mut Client) {
    client
        .batch_execute(
            "SET session_replication_role = replica;
             INSERT INTO orders_shipment
                 (created_at, updated_at, carrier, tracking_number, shipped_at, order_id)
             SELECT now() - g * interval '1 minute', now(), 'carrier-' || (g % 50), 'T' || g,
                    CASE WHEN g % 10 = 0 THEN NULL ELSE now() END, 1
               FROM generate_series(1, 100000) g;
             INSERT INTO orders_payment (transaction_ptr_id, reference, method, order_id)
             SELECT g, 'ref-' || g, 'card', g % 1000 FROM generate_series(1, 100000) g;
             RESET session_replication_role;
             ANALYZE orders_shipment;
             ANALYZE orders_payment;",
        )
        .expect("fill the tables");
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
fn suggested_indexes_are_used_by_the_planner_and_the_database_is_left_as_it_was() {
    if !require("the test venv's Python with Django", python().is_some())
        || !require(
            "PostgreSQL on 127.0.0.1 (IXRAY_PG_PORT)",
            postgres_available(),
        )
    {
        return;
    }
    let dir = copy_fixture("django/shop");
    let db = ScratchDatabase::migrated(dir.path());
    let mut client = db.connect();
    let hypopg = client
        .query_opt(
            "SELECT 1 FROM pg_available_extensions WHERE name = 'hypopg'",
            &[],
        )
        .unwrap()
        .is_some();
    if !require("HypoPG on the test PostgreSQL server", hypopg) {
        return;
    }
    fill(&mut client);
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
