//! `non-concurrent-index`: a migration builds an index on a PostgreSQL
//! table that already exists without CONCURRENTLY (outside a transaction).
//! A plain CREATE INDEX holds a lock that blocks every write to the table
//! until the build finishes.

use super::{Finding, Severity};
use crate::schema::{Dialect, Schema};

pub(super) fn check(schema: &Schema, out: &mut Vec<Finding>) {
    for build in &schema.index_builds {
        if build.dialect != Dialect::Postgresql
            || !build.pending
            || build.table_is_new
            || (build.concurrently && build.outside_transaction)
        {
            continue;
        }
        let name = build
            .index_name
            .clone()
            .unwrap_or_else(|| format!("({})", build.columns.join(", ")));
        let (message, help) = if build.concurrently {
            (
                format!(
                    "revision `{}` builds index `{name}` CONCURRENTLY inside a transaction, which PostgreSQL refuses",
                    build.migration
                ),
                "wrap the operation in `with op.get_context().autocommit_block():`",
            )
        } else {
            (
                format!(
                    "revision `{}` builds index `{name}` on existing table `{}` without CONCURRENTLY; writes to `{}` are blocked until the build finishes",
                    build.migration, build.table, build.table
                ),
                "build it with `postgresql_concurrently=True` inside `with op.get_context().autocommit_block():`",
            )
        };
        let (message, help) = if build.dialect_assumed {
            (
                format!("{message} (PostgreSQL assumed: nothing names the database)"),
                format!(
                    "{help}; if the database is not PostgreSQL, set `dialect` in ixray.toml or pass `--dialect`"
                ),
            )
        } else {
            (message, help.to_string())
        };
        let model = schema
            .table(&build.table)
            .map_or_else(|| build.table.clone(), |t| t.model.clone());
        out.push(Finding {
            rule: "non-concurrent-index",
            severity: Severity::Warning,
            framework: build.framework,
            model,
            table: build.table.clone(),
            columns: build.columns.clone(),
            index_name: build.index_name.clone(),
            message,
            location: build.location.clone(),
            related: Vec::new(),
            suggested_index: None,
            fix: None,
            help: Some(help),
            inferred: false,
        });
    }
}
