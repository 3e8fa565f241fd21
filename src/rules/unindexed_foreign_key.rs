//! `unindexed-foreign-key`: a foreign key that no index serves. Deleting or
//! updating a parent row then scans the child table, and joins from the
//! parent (reverse relations, prefetches) cannot use an index.

use super::redundant_index::describe;
use super::{Finding, FixIntent, Related, columns_text, finding};
use crate::frameworks::suggest_index_name;
use crate::schema::coverage::{covering_index_for, made_redundant_by};
use crate::schema::{
    AccessPattern, ConditionOp, Dialect, IndexPart, IndexSpec, Schema, SpecColumn,
};

/// Call sites named as evidence on one finding; the rest are counted.
const MAX_SITES: usize = 3;

pub(super) fn check(schema: &Schema, out: &mut Vec<Finding>) {
    let mut patterns: rustc_hash::FxHashMap<(crate::schema::Framework, &str), Vec<&AccessPattern>> =
        rustc_hash::FxHashMap::default();
    for pattern in &schema.access_patterns {
        patterns
            .entry((pattern.framework, pattern.table.as_str()))
            .or_default()
            .push(pattern);
    }
    for table in schema.tables.iter().filter(|t| t.checkable()) {
        let queries = patterns
            .get(&(table.framework, table.name.as_str()))
            .map_or(&[][..], Vec::as_slice);
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
                // Name the FK column the index holds: of a composite key it
                // may hold only one.
                let held = |n: usize| {
                    let column = index.parts[n].column_name().unwrap_or_default();
                    let all_leading = index.parts.len() >= fk.columns.len()
                        && index.parts[..fk.columns.len()].iter().all(|p| {
                            p.column_name()
                                .is_some_and(|c| fk.columns.iter().any(|f| f == c))
                        });
                    if n == 0 && all_leading {
                        columns_text(&fk.columns)
                    } else {
                        column.to_string()
                    }
                };
                let message = match position {
                    Some(0) if index.predicate.is_some() => format!(
                        "index {} starts with `{}` but is partial",
                        describe(index),
                        held(0),
                    ),
                    Some(0) => continue,
                    Some(n) => format!(
                        "index {} has `{}` only as column {} of {}",
                        describe(index),
                        held(n),
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
            // The project's own queries that look rows up by the foreign
            // key and that no index serves: they would read through the
            // new index (evidence; the finding stands without them).
            let model = table.location.as_ref().map(|l| l.path.as_path());
            let mut sites: Vec<&AccessPattern> = queries
                .iter()
                .copied()
                .filter(|p| {
                    !p.disjunction
                        && fk.columns.iter().all(|c| {
                            p.conditions.iter().any(|cond| {
                                &cond.column == c
                                    && matches!(cond.op, ConditionOp::Eq | ConditionOp::In)
                            })
                        })
                        && p.location
                            .as_ref()
                            .is_some_and(|l| !crate::frameworks::one_off_code(&l.path, model))
                        && super::missing_query_index::needs_an_index(table, p)
                })
                .collect();
            sites.sort_by_key(|p| p.location.clone());
            sites.dedup_by_key(|p| p.location.clone());
            for site in sites.iter().take(MAX_SITES) {
                if let Some(location) = &site.location {
                    f.related.push(Related {
                        location: location.clone(),
                        message: format!("query by the foreign key: {}", site.sql()),
                    });
                }
            }
            if sites.len() > MAX_SITES {
                let last = sites[MAX_SITES..]
                    .iter()
                    .filter_map(|p| p.location.clone())
                    .next();
                if let Some(location) = last {
                    f.related.push(Related {
                        location,
                        message: format!(
                            "and {} more quer{} by the foreign key",
                            sites.len() - MAX_SITES,
                            if sites.len() - MAX_SITES == 1 {
                                "y"
                            } else {
                                "ies"
                            }
                        ),
                    });
                }
            }
            let parts: Vec<IndexPart> = fk.columns.iter().map(IndexPart::column).collect();
            super::note_made_redundant(&mut f, made_redundant_by(table, &parts, false));
            f.suggested_index = Some(spec.clone());
            f.fix = Some(FixIntent::AddIndex(spec));
            out.push(f);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{
        Column, Conjunct, ForeignKey, Framework, Index, IndexOrigin, IndexPart, Predicate, Table,
    };
    use crate::source::{Location, Span};

    fn at(line: usize) -> Location {
        Location {
            path: "m.py".into(),
            line,
            column: 1,
            end_line: line,
            end_column: 1,
            span: Span::new(0, 0),
        }
    }

    fn index(columns: &[&str], partial: bool, line: usize) -> Index {
        let mut index = Index::new(
            columns.iter().map(|c| IndexPart::column(*c)).collect(),
            IndexOrigin::Declared,
        );
        if partial {
            index.predicate = Some(Predicate::new(vec![Conjunct::Other("live".into())]));
        }
        index.location = Some(at(line));
        index
    }

    /// `regs` with a foreign key on (event_id, form_id) and `indexes`; the
    /// notes of its one finding.
    fn notes_with(indexes: Vec<Index>) -> Vec<String> {
        let table = Table {
            name: "regs".into(),
            model: "Reg".into(),
            framework: Framework::Sqlalchemy,
            dialect: Dialect::Postgresql,
            dialect_assumed: false,
            managed: true,
            unknown_indexes: None,
            location: None,
            columns: vec![
                Column::new("event_id", "event_id"),
                Column::new("form_id", "form_id"),
            ],
            foreign_keys: vec![ForeignKey {
                columns: vec!["event_id".into(), "form_id".into()],
                ref_table: Some("forms".into()),
                ref_columns: vec!["event_id".into(), "id".into()],
                enforced: true,
                relation_only: false,
                field: "form".into(),
                location: Some(at(1)),
            }],
            indexes,
            generic_foreign_keys: Vec::new(),
        };
        let mut out = Vec::new();
        check(
            &Schema {
                tables: vec![table],
                ..Schema::default()
            },
            &mut out,
        );
        out[0].related.iter().map(|r| r.message.clone()).collect()
    }

    /// The notes name the column of a composite key that an index holds,
    /// not the whole key.
    #[test]
    fn notes_name_the_foreign_key_column_an_index_holds() {
        let notes = notes_with(vec![
            index(&["friendly_id", "event_id"], false, 2),
            index(&["form_id", "user_id"], true, 3),
            index(&["event_id", "form_id"], true, 4),
        ]);
        assert_eq!(
            notes,
            [
                "index (friendly_id, event_id) has `event_id` only as column 2 of 2",
                "index (form_id, user_id) WHERE live starts with `form_id` but is partial",
                "index (event_id, form_id) WHERE live starts with `event_id, form_id` but is partial",
            ]
        );
    }

    /// An index on the key's first column is made redundant by the index
    /// the finding proposes, and the finding says so.
    #[test]
    fn an_index_the_proposed_one_makes_redundant_is_named() {
        let notes = notes_with(vec![index(&["event_id"], false, 2)]);
        assert_eq!(
            notes,
            ["index (event_id) becomes redundant: the new index starts with its columns"]
        );
    }
}
