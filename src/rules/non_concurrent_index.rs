//! `non-concurrent-index`: a migration builds an index on a PostgreSQL
//! table that already exists without CONCURRENTLY (outside a transaction).
//! A plain CREATE INDEX holds a lock that blocks every write to the table
//! until the build finishes. How to write it instead is the framework's
//! to say (`IndexBuild::help`).

use super::{Finding, Severity};
use crate::schema::{Dialect, Schema};

pub(super) fn check(schema: &Schema, out: &mut Vec<Finding>) {
    let mut models: rustc_hash::FxHashMap<&str, &str> = rustc_hash::FxHashMap::default();
    for table in &schema.tables {
        models.entry(&table.name).or_insert(&table.model);
    }
    for build in &schema.index_builds {
        if build.dialect != Dialect::Postgresql
            || !build.pending
            || (build.table_is_new && !build.concurrently)
            || (build.concurrently && build.outside_transaction)
            || (build.drops && !build.concurrently)
        {
            continue;
        }
        let name = build
            .index_name
            .clone()
            .unwrap_or_else(|| format!("({})", build.columns.join(", ")));
        let message = if build.concurrently {
            format!(
                "{} {} index `{name}` CONCURRENTLY inside a transaction, which PostgreSQL refuses",
                build.migration_label,
                if build.drops { "drops" } else { "builds" }
            )
        } else {
            format!(
                "{} builds index `{name}` on existing table `{}` without CONCURRENTLY; writes to `{}` are blocked until the build finishes",
                build.migration_label, build.table, build.table
            )
        };
        let (message, help) = if build.dialect_assumed {
            (
                format!("{message} (PostgreSQL assumed: nothing names the database)"),
                format!(
                    "{}; if the database is not PostgreSQL, set `dialect` in ixray.toml or pass `--dialect`",
                    build.help
                ),
            )
        } else {
            (message, build.help.clone())
        };
        let model = models
            .get(build.table.as_str())
            .map_or_else(|| build.table.clone(), |m| m.to_string());
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
