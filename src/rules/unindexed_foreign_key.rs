//! `unindexed-foreign-key`: a foreign key that no index serves. Deleting or
//! updating a parent row then scans the child table, and joins from the
//! parent (reverse relations, prefetches) cannot use an index.

use super::redundant_index::describe;
use super::{Finding, FixIntent, Related, columns_text, finding};
use crate::frameworks::suggest_index_name;
use crate::schema::coverage::covering_index_for;
use crate::schema::{Dialect, IndexSpec, Schema, SpecColumn};

pub(super) fn check(schema: &Schema, out: &mut Vec<Finding>) {
    for table in schema.tables.iter().filter(|t| t.checkable()) {
        let mut seen: Vec<&[String]> = Vec::new();
        for fk in &table.foreign_keys {
            if seen.contains(&fk.columns.as_slice()) {
                continue;
            }
            seen.push(&fk.columns);
            if covering_index_for(table, fk).is_some() {
                continue;
            }
            let columns: Vec<(String, bool)> =
                fk.columns.iter().map(|c| (c.clone(), false)).collect();
            let spec = IndexSpec {
                name: suggest_index_name(table, &columns),
                table: table.name.clone(),
                columns: fk
                    .columns
                    .iter()
                    .map(|c| SpecColumn {
                        name: c.clone(),
                        desc: false,
                    })
                    .collect(),
                unique: false,
                predicate: None,
            };
            let message = if fk.relation_only {
                // Only an ORM relation: there is no constraint to speak of.
                format!(
                    "relation `{}.{}`{} has no index and no constraint",
                    table.name,
                    columns_text(&fk.columns),
                    fk.ref_table
                        .as_deref()
                        .map(|t| format!(" → `{t}`"))
                        .unwrap_or_default()
                )
            } else {
                format!(
                    "foreign key `{}.{}` has no index{}",
                    table.name,
                    columns_text(&fk.columns),
                    fk.ref_table
                        .as_deref()
                        .map(|t| format!(" (references `{t}`)"))
                        .unwrap_or_default()
                )
            };
            // On MySQL InnoDB would index an enforced foreign key itself.
            let message = if table.dialect_assumed && fk.enforced {
                format!(
                    "{message} ({} assumed: nothing names the database)",
                    match table.dialect {
                        Dialect::Postgresql => "PostgreSQL",
                        Dialect::Mysql => "MySQL",
                        Dialect::Sqlite => "SQLite",
                    }
                )
            } else {
                message
            };
            let mut f = finding("unindexed-foreign-key", table, message);
            f.columns = fk.columns.clone();
            f.location = fk.location.clone();
            // Point at indexes that almost serve it: they hold the FK columns
            // but not in the leading position, or behind a predicate.
            for index in &table.indexes {
                let Some(location) = &index.location else {
                    continue;
                };
                let position = index.parts.iter().position(|p| {
                    p.column_name()
                        .is_some_and(|c| fk.columns.iter().any(|f| f == c))
                });
                let message = match position {
                    Some(0) if index.predicate.is_some() => format!(
                        "index {} starts with `{}` but is partial",
                        describe(index),
                        columns_text(&fk.columns),
                    ),
                    Some(0) => continue,
                    Some(n) => format!(
                        "index {} has `{}` only as column {} of {}",
                        describe(index),
                        columns_text(&fk.columns),
                        n + 1,
                        index.parts.len()
                    ),
                    None => continue,
                };
                f.related.push(Related {
                    location: location.clone(),
                    message,
                });
            }
            f.suggested_index = Some(spec.clone());
            f.fix = Some(FixIntent::AddIndex(spec));
            out.push(f);
        }
    }
}
