//! `ixray explain`: asks a real PostgreSQL planner, through HypoPG's
//! hypothetical indexes, whether it would use each index
//! `missing-query-index` proposes for the project's own queries.
//!
//! Read-only on the user's database: one transaction, made `READ ONLY`
//! before anything derived from the code runs, and rolled back. Only
//! hypothetical indexes (memory of this session, never the catalog) are
//! created; `CREATE EXTENSION hypopg` only when the caller asks for it, and
//! then inside that same rolled-back transaction. Nothing here prints.

use postgres::{GenericClient, NoTls, Transaction};
use serde::Serialize;

use crate::rules::missing_query_index::suggestions;
use crate::schema::proposal::Proposal;
use crate::schema::{
    AccessPattern, Conjunct, Index, IndexKey, QueryOperation, Schema, Table, quote_identifier,
};
use crate::source::Location;

/// Queries explained per suggestion; the rest are counted.
pub const MAX_QUERIES: usize = 5;

/// Plan nodes shown per plan, from the top.
const MAX_NODES: usize = 4;

/// The one prepared statement name ixray uses (always deallocated).
const STATEMENT: &str = "ixray_explain";

#[derive(Debug, Clone)]
pub struct Options {
    /// A libpq connection string or `postgresql://` URL.
    pub database_url: String,
    /// Run `CREATE EXTENSION hypopg` (inside the rolled-back transaction)
    /// when the database does not have it.
    pub create_extension: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ExplainError {
    #[error("invalid database URL: {0}")]
    Url(#[source] postgres::Error),
    #[error("cannot connect to the database: {0}")]
    Connect(#[source] postgres::Error),
    #[error("{}", hypopg_missing(*.major, *.available, *.create_extension))]
    HypopgMissing {
        /// The server's major version (the Debian package carries it).
        major: u32,
        /// The server has HypoPG's files: only `CREATE EXTENSION` is missing.
        available: bool,
        /// `--create-extension` was given.
        create_extension: bool,
    },
    #[error("database error: {0}")]
    Database(#[from] postgres::Error),
}

fn hypopg_missing(major: u32, available: bool, create_extension: bool) -> String {
    let create = "CREATE EXTENSION hypopg; in the database (needs the CREATE privilege on it), \
                  or pass --create-extension to have ixray create it inside its rolled-back \
                  transaction";
    if available && !create_extension {
        format!(
            "the HypoPG extension is installed on the server but not in this database: run {create}"
        )
    } else {
        format!(
            "the HypoPG extension is not installed on the server (PostgreSQL {major}): install \
             it (Debian/Ubuntu: apt install postgresql-{major}-hypopg; other systems: \
             https://hypopg.readthedocs.io), then run {create}"
        )
    }
}

/// What the planner said about every suggestion.
#[derive(Debug, Serialize)]
pub struct Report {
    /// `SHOW server_version`.
    pub server_version: String,
    pub hypopg_version: String,
    /// HypoPG was created by ixray for this run (and rolled back).
    pub extension_created: bool,
    #[serde(skip)]
    pub suggestions: Vec<SuggestionReport>,
}

#[derive(Debug, Serialize)]
pub struct SuggestionReport {
    pub table: String,
    pub model: String,
    pub framework: &'static str,
    /// The hypothetical index, as HypoPG was given it.
    pub create_index: String,
    /// The name HypoPG gave it (`<16409>btree_orders_shipment_carrier`).
    pub hypothetical_index: Option<String>,
    /// Why the suggestion could not be tried (table not in the database,
    /// HypoPG rejected the index).
    pub error: Option<String>,
    /// Written by the reporter (paths shown relative).
    #[serde(skip)]
    pub queries: Vec<QueryReport>,
    /// Distinct queries past [`MAX_QUERIES`], not explained.
    pub queries_left_out: usize,
}

#[derive(Debug, Serialize)]
pub struct QueryReport {
    /// The query as ixray reads it from the code.
    pub sql: String,
    /// The statement explained, when it differs: an `UPDATE` or `DELETE`
    /// is explained as the `SELECT` of the rows it changes.
    pub explained_as: Option<String>,
    /// Call sites (written by the reporter, paths shown relative).
    #[serde(skip)]
    pub locations: Vec<Location>,
    pub before: Option<PlanSummary>,
    pub after: Option<PlanSummary>,
    /// The plan with the hypothetical index uses it.
    pub uses_index: Option<bool>,
    /// The server rejected the statement (a column the database lacks).
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PlanSummary {
    /// The planner's estimated total cost of the whole statement.
    pub total_cost: f64,
    /// The top plan nodes, depth first.
    pub nodes: Vec<PlanNode>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PlanNode {
    pub node_type: String,
    pub relation: Option<String>,
    pub index: Option<String>,
}

/// Connect to the database and explain every suggestion of `schema`
/// before and with its hypothetical index. A suggestion or query the
/// server rejects is reported in its place; only a lost connection or a
/// database without HypoPG is an error.
pub fn explain(schema: &Schema, options: &Options) -> Result<Report, ExplainError> {
    let mut config: postgres::Config = options.database_url.parse().map_err(ExplainError::Url)?;
    let mut client = config
        .application_name("ixray explain")
        .connect(NoTls)
        .map_err(ExplainError::Connect)?;
    let server_version = show(&mut client, "server_version")?;
    let major = show(&mut client, "server_version_num")?
        .parse::<u32>()
        .map(|n| n / 10000)
        .unwrap_or(0);
    let installed = hypopg_schema(&mut client)?;
    if installed.is_none() {
        let available = client
            .query_opt(
                "SELECT 1 FROM pg_available_extensions WHERE name = 'hypopg'",
                &[],
            )?
            .is_some();
        if !(available && options.create_extension) {
            return Err(ExplainError::HypopgMissing {
                major,
                available,
                create_extension: options.create_extension,
            });
        }
    }

    // Dropping a `Transaction` rolls it back: every way out of this
    // function, errors included, leaves the database as it was.
    let mut tx = client.transaction()?;
    let extension_created = installed.is_none();
    if extension_created {
        tx.batch_execute("CREATE EXTENSION hypopg")?;
    }
    // From here on the server refuses any write. HypoPG keeps its indexes
    // in this session's memory, so it works in a read-only transaction.
    tx.batch_execute(
        "SET TRANSACTION READ ONLY;
         SET LOCAL plan_cache_mode = force_generic_plan;
         SET LOCAL lock_timeout = '5s';
         SET LOCAL statement_timeout = '60s'",
    )?;
    let hypopg = match installed {
        Some(schema) => schema,
        None => hypopg_schema(&mut tx)?.unwrap_or_else(|| "public".into()),
    };
    let hypopg_version: String = tx
        .query_one(
            "SELECT extversion FROM pg_extension WHERE extname = 'hypopg'",
            &[],
        )?
        .get(0);
    let hypopg = quote_identifier(&hypopg);
    // Indexes an earlier run of this session left (none on a new one).
    tx.batch_execute(&format!("SELECT {hypopg}.hypopg_reset()"))?;

    let mut out = Vec::new();
    for (table, proposal) in suggestions(schema) {
        out.push(explain_suggestion(&mut tx, &hypopg, table, &proposal)?);
    }
    tx.rollback()?;
    Ok(Report {
        server_version,
        hypopg_version,
        extension_created,
        suggestions: out,
    })
}

fn show(client: &mut impl GenericClient, setting: &str) -> Result<String, postgres::Error> {
    let row = client.query_one("SELECT current_setting($1)", &[&setting])?;
    Ok(row.get(0))
}

/// The schema HypoPG's functions live in, when the database has it.
fn hypopg_schema(client: &mut impl GenericClient) -> Result<Option<String>, postgres::Error> {
    let row = client.query_opt(
        "SELECT n.nspname::text FROM pg_extension e \
         JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'hypopg'",
        &[],
    )?;
    Ok(row.map(|r| r.get(0)))
}

/// Run `work` under a savepoint. An error the server raises (a missing
/// table or column) rolls back to it, leaving the transaction usable, and
/// comes back as the server's message; a lost connection ends the run.
fn guarded<T>(
    tx: &mut Transaction,
    work: impl FnOnce(&mut Transaction) -> Result<T, postgres::Error>,
) -> Result<Result<T, String>, postgres::Error> {
    let mut savepoint = tx.savepoint("ixray")?;
    match work(&mut savepoint) {
        Ok(value) => {
            savepoint.commit()?;
            Ok(Ok(value))
        }
        Err(err) if err.as_db_error().is_some() => {
            savepoint.rollback()?;
            Ok(Err(server_message(&err)))
        }
        Err(err) => Err(err),
    }
}

/// A table name as SQL writes it: `schema.table`, each part quoted when
/// needed.
pub fn qualified(table: &str) -> String {
    table
        .split('.')
        .map(quote_identifier)
        .collect::<Vec<_>>()
        .join(".")
}

/// The suggestion as the `CREATE INDEX` HypoPG takes:
/// `CREATE INDEX ON t (a, b DESC) WHERE p`.
pub fn create_index_sql(table: &str, index: &Index) -> String {
    let parts: Vec<String> = index
        .parts
        .iter()
        .map(|p| {
            let mut part = match &p.key {
                IndexKey::Column(c) => quote_identifier(c),
                IndexKey::Expression(e) => format!("({e})"),
            };
            if let Some(opclass) = &p.opclass {
                part.push(' ');
                part.push_str(opclass);
            }
            if p.desc {
                part.push_str(" DESC");
            }
            part
        })
        .collect();
    let mut sql = format!(
        "CREATE INDEX ON {} ({})",
        qualified(table),
        parts.join(", ")
    );
    if let Some(predicate) = &index.predicate {
        let conjuncts: Vec<String> = predicate
            .conjuncts
            .iter()
            .map(|c| match c {
                Conjunct::IsNotNull(column) => format!("{} IS NOT NULL", quote_identifier(column)),
                Conjunct::Other(text) => text.clone(),
            })
            .collect();
        sql.push_str(" WHERE ");
        sql.push_str(&conjuncts.join(" AND "));
    }
    sql
}

/// The statement whose plan shows whether the index serves the pattern.
/// `sql()` writes an `UPDATE` as `UPDATE t SET ...`, which no server
/// takes, and ixray does not know what it sets: the rows an `UPDATE` or
/// `DELETE` changes are found by the same scan as the `SELECT` of them.
pub fn explainable(pattern: &AccessPattern) -> String {
    match pattern.operation {
        QueryOperation::Update | QueryOperation::Delete => AccessPattern {
            operation: QueryOperation::Select,
            order_implicit: false,
            limited: false,
            ..pattern.clone()
        }
        .sql(),
        _ => pattern.sql(),
    }
}

fn explain_suggestion(
    tx: &mut Transaction,
    hypopg: &str,
    table: &Table,
    proposal: &Proposal,
) -> Result<SuggestionReport, postgres::Error> {
    let create_index = create_index_sql(&table.name, &proposal.index);
    let mut queries: Vec<QueryReport> = Vec::new();
    let mut left_out = 0;
    let mut patterns = proposal.patterns.clone();
    patterns.sort_by_key(|p| {
        p.location
            .as_ref()
            .map(|l| (l.path.clone(), l.line, l.column))
    });
    for pattern in patterns {
        let sql = pattern.sql();
        let explained = explainable(pattern);
        let location = pattern.location.clone();
        if let Some(query) = queries
            .iter_mut()
            .find(|q| q.explained_as.as_ref().unwrap_or(&q.sql) == &explained)
        {
            query.locations.extend(location);
            continue;
        }
        if queries.len() == MAX_QUERIES {
            left_out += 1;
            continue;
        }
        queries.push(QueryReport {
            explained_as: (explained != sql).then_some(explained),
            sql,
            locations: location.into_iter().collect(),
            before: None,
            after: None,
            uses_index: None,
            error: None,
        });
    }
    let mut report = SuggestionReport {
        table: table.name.clone(),
        model: table.model.clone(),
        framework: table.framework.as_str(),
        create_index,
        hypothetical_index: None,
        error: None,
        queries,
        queries_left_out: left_out,
    };

    let exists = guarded(tx, |tx| {
        let row = tx.query_one("SELECT to_regclass($1)::text", &[&qualified(&table.name)])?;
        Ok(row.get::<_, Option<String>>(0).is_some())
    })?;
    match exists {
        Ok(true) => {}
        Ok(false) => {
            report.error = Some(format!("table `{}` is not in the database", table.name));
            return Ok(report);
        }
        Err(message) => {
            report.error = Some(format!("table `{}`: {message}", table.name));
            return Ok(report);
        }
    }
    for query in &mut report.queries {
        let statement = query.explained_as.as_ref().unwrap_or(&query.sql).clone();
        match plan(tx, &statement)? {
            Ok(summary) => query.before = Some(summary.0),
            Err(message) => query.error = Some(message),
        }
    }
    let created = guarded(tx, |tx| {
        let row = tx.query_one(
            &format!("SELECT indexrelid, indexname FROM {hypopg}.hypopg_create_index($1)"),
            &[&report.create_index],
        )?;
        Ok((row.get::<_, u32>(0), row.get::<_, String>(1)))
    })?;
    let (oid, name) = match created {
        Ok(created) => created,
        Err(message) => {
            report.error = Some(format!("HypoPG could not create the index: {message}"));
            return Ok(report);
        }
    };
    for query in report.queries.iter_mut().filter(|q| q.error.is_none()) {
        let statement = query.explained_as.as_ref().unwrap_or(&query.sql).clone();
        match plan(tx, &statement)? {
            Ok((summary, indexes)) => {
                query.uses_index = Some(indexes.contains(&name));
                query.after = Some(summary);
            }
            Err(message) => query.error = Some(message),
        }
    }
    // The next suggestion is tried alone.
    tx.execute(&format!("SELECT {hypopg}.hypopg_drop_index($1)"), &[&oid])?;
    report.hypothetical_index = Some(name);
    Ok(report)
}

type Planned = (PlanSummary, Vec<String>);

/// The generic plan of `statement` (its `$n` left unknown), and every
/// index it uses. `Err` is the server's reason for rejecting the
/// statement; the outer `Err` a lost connection.
///
/// PostgreSQL 16's `EXPLAIN (GENERIC_PLAN)` takes `$n` directly; to work
/// on every version, the statement is prepared (the server infers the
/// parameters' types) and `EXPLAIN EXECUTE` runs it with NULLs under
/// `plan_cache_mode = force_generic_plan`: a generic plan does not depend
/// on the values, so NULL does not short-circuit it. It is prepared anew
/// each time, since HypoPG's indexes do not invalidate a cached plan.
fn plan(tx: &mut Transaction, statement: &str) -> Result<Result<Planned, String>, postgres::Error> {
    let outcome = guarded(tx, |tx| {
        // The extended protocol takes one statement only: nothing the
        // code held can run as a second one.
        tx.execute(&format!("PREPARE {STATEMENT} AS {statement}"), &[])?;
        let parameters: i32 = tx
            .query_one(
                "SELECT coalesce(cardinality(parameter_types), 0) FROM pg_prepared_statements \
                 WHERE name = $1",
                &[&STATEMENT],
            )?
            .get(0);
        let arguments = if parameters == 0 {
            String::new()
        } else {
            format!("({})", vec!["NULL"; parameters as usize].join(", "))
        };
        // EXPLAIN's JSON comes back as `json`, which the client reads
        // only in text mode; this statement is ixray's own.
        let text = tx
            .simple_query(&format!(
                "EXPLAIN (FORMAT JSON) EXECUTE {STATEMENT}{arguments}"
            ))?
            .into_iter()
            .find_map(|message| match message {
                postgres::SimpleQueryMessage::Row(row) => row.get(0).map(str::to_string),
                _ => None,
            })
            .unwrap_or_default();
        tx.batch_execute(&format!("DEALLOCATE {STATEMENT}"))?;
        Ok(summarize(&text))
    })?;
    // A PREPARE is not undone by rolling back to the savepoint.
    if outcome.is_err()
        && tx
            .query_opt(
                "SELECT 1 FROM pg_prepared_statements WHERE name = $1",
                &[&STATEMENT],
            )?
            .is_some()
    {
        tx.batch_execute(&format!("DEALLOCATE {STATEMENT}"))?;
    }
    Ok(outcome)
}

/// The server's own words when it rejected a statement.
fn server_message(err: &postgres::Error) -> String {
    match err.as_db_error() {
        Some(db) => db.message().to_string(),
        None => err.to_string(),
    }
}

/// Total cost, top nodes and every index named in an `EXPLAIN (FORMAT
/// JSON)` output.
fn summarize(json: &str) -> Planned {
    let value: serde_json::Value = serde_json::from_str(json).unwrap_or_default();
    let root = &value[0]["Plan"];
    let mut nodes = Vec::new();
    let mut indexes = Vec::new();
    let mut stack = vec![root];
    while let Some(node) = stack.pop() {
        let text = |key: &str| node[key].as_str().map(str::to_string);
        if let Some(index) = text("Index Name") {
            indexes.push(index);
        }
        if nodes.len() < MAX_NODES
            && let Some(node_type) = text("Node Type")
        {
            nodes.push(PlanNode {
                node_type,
                relation: text("Relation Name"),
                index: text("Index Name"),
            });
        }
        if let Some(children) = node["Plans"].as_array() {
            stack.extend(children.iter().rev());
        }
    }
    (
        PlanSummary {
            total_cost: root["Total Cost"].as_f64().unwrap_or(f64::NAN),
            nodes,
        },
        indexes,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{
        Condition, ConditionOp, Framework, IndexOrigin, IndexPart, OrderColumn, Predicate,
    };

    fn pattern(operation: QueryOperation) -> AccessPattern {
        AccessPattern {
            table: "billing.Invoice".into(),
            framework: Framework::Sqlalchemy,
            conditions: vec![
                Condition {
                    column: "deleted_at".into(),
                    op: ConditionOp::IsNull,
                    constant: None,
                },
                Condition {
                    column: "customerId".into(),
                    op: ConditionOp::Eq,
                    constant: None,
                },
            ],
            order: vec![OrderColumn {
                column: "issued_at".into(),
                desc: true,
            }],
            order_implicit: false,
            limited: true,
            operation,
            disjunction: false,
            location: None,
        }
    }

    #[test]
    fn the_index_is_written_as_hypopg_takes_it() {
        let mut index = Index::new(
            vec![
                IndexPart::column("customerId"),
                IndexPart {
                    desc: true,
                    ..IndexPart::column("issued_at")
                },
            ],
            IndexOrigin::Declared,
        );
        index.predicate = Some(Predicate::new(vec![
            Conjunct::Other("deleted_at IS NULL".into()),
            Conjunct::IsNotNull("paidAt".into()),
        ]));
        assert_eq!(
            create_index_sql("billing.Invoice", &index),
            r#"CREATE INDEX ON billing."Invoice" ("customerId", issued_at DESC) WHERE "paidAt" IS NOT NULL AND deleted_at IS NULL"#
        );
    }

    #[test]
    fn updates_and_deletes_are_explained_as_the_select_of_their_rows() {
        let select = r#"SELECT * FROM billing."Invoice" WHERE deleted_at IS NULL AND "customerId" = $1 ORDER BY issued_at DESC"#;
        assert_eq!(explainable(&pattern(QueryOperation::Update)), select);
        assert_eq!(explainable(&pattern(QueryOperation::Delete)), select);
        assert_eq!(
            explainable(&pattern(QueryOperation::Get)),
            format!("{select} LIMIT 1")
        );
    }

    #[test]
    fn a_plan_gives_its_cost_top_nodes_and_indexes() {
        let json = r#"[{"Plan": {"Node Type": "Limit", "Total Cost": 3.56, "Plans": [
            {"Node Type": "Index Scan", "Relation Name": "s",
             "Index Name": "<13556>btree_s_carrier", "Total Cost": 695.34}]}}]"#;
        let (summary, indexes) = summarize(json);
        assert_eq!(summary.total_cost, 3.56);
        let nodes: Vec<_> = summary
            .nodes
            .iter()
            .map(|n| {
                (
                    n.node_type.as_str(),
                    n.relation.as_deref(),
                    n.index.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            nodes,
            [
                ("Limit", None, None),
                ("Index Scan", Some("s"), Some("<13556>btree_s_carrier"))
            ]
        );
        assert_eq!(indexes, ["<13556>btree_s_carrier"]);
    }
}
