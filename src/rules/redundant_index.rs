//! `redundant-index`: an index whose key is a leftmost prefix of another
//! index's key (same method, predicate and per-column properties). Every
//! query it serves, the wider index serves too; it still costs writes and
//! space.

use super::{Finding, FixIntent, Related, finding};
use crate::schema::coverage::{Redundancy, duplicate_to_drop, redundancy};
use crate::schema::{IndexOrigin, Schema};

pub(super) fn check(schema: &Schema, out: &mut Vec<Finding>) {
    // The framework's own FK indexes are `redundant-implicit-index`.
    report_prefixes(schema, out, "redundant-index", |origin| {
        origin != IndexOrigin::FrameworkImplicit
    });
}

/// Report every index of an origin `wanted` accepts whose key is a leftmost
/// prefix of another index's key.
pub(super) fn report_prefixes(
    schema: &Schema,
    out: &mut Vec<Finding>,
    rule: &'static str,
    wanted: impl Fn(IndexOrigin) -> bool,
) {
    for table in schema.tables.iter().filter(|t| t.checkable()) {
        for a in &table.indexes {
            // The database owns InnoDB's FK index; the framework owns locked ones.
            if a.locked || a.origin == IndexOrigin::DatabaseImplicit || !wanted(a.origin) {
                continue;
            }
            let others = || table.indexes.iter().filter(|b| !std::ptr::eq(*b, a));
            // The twin `duplicate-index` drops is its finding, never both;
            // the twin it keeps may still be redundant, and is reported now
            // so that one `fix` removes both.
            if others().any(|b| {
                redundancy(a, b) == Some(Redundancy::Duplicate)
                    && std::ptr::eq(duplicate_target(&table.indexes, a, b), a)
            }) {
                continue;
            }
            // The widest index that serves it: never one that is itself
            // redundant and dropped by the same fix.
            let Some((b, kind)) = others()
                .filter_map(|b| match redundancy(a, b) {
                    Some(kind @ (Redundancy::Prefix | Redundancy::PartialOfFull)) => {
                        Some((b, kind))
                    }
                    _ => None,
                })
                .rev()
                .max_by_key(|(b, _)| b.parts.len())
            else {
                continue;
            };
            let subject = match (&a.field, a.origin) {
                (Some(field), IndexOrigin::FrameworkImplicit) => {
                    format!("the automatic index of `{field}` {}", a.describe())
                }
                _ if kind == Redundancy::PartialOfFull => format!("partial index {}", describe(a)),
                _ => format!("index {}", describe(a)),
            };
            let reason = if kind == Redundancy::PartialOfFull {
                "starts with the same columns and has no predicate, so it serves every query the partial index serves"
            } else {
                "starts with the same columns"
            };
            let mut f = finding(
                rule,
                table,
                format!(
                    "{subject} on `{}` is redundant: {} {} {reason}",
                    table.name,
                    kind_of(b),
                    describe(b),
                ),
            );
            f.columns = a
                .parts
                .iter()
                .filter_map(|p| p.column_name().map(String::from))
                .collect();
            f.index_name = a.name.clone();
            f.location = a.location.clone();
            if let Some(location) = &b.location {
                f.related.push(Related {
                    location: location.clone(),
                    message: format!("{} {} covers it", kind_of(b), describe(b)),
                });
            }
            f.fix = Some(FixIntent::DropIndex(Box::new(a.clone())));
            out.push(f);
        }
    }
}

/// Of two identical indexes, the one `duplicate-index` reports: the one
/// `duplicate_to_drop` picks for the pair in declaration order, else the
/// later one.
pub(super) fn duplicate_target<'i>(
    indexes: &'i [crate::schema::Index],
    a: &'i crate::schema::Index,
    b: &'i crate::schema::Index,
) -> &'i crate::schema::Index {
    let position = |x: &crate::schema::Index| indexes.iter().position(|i| std::ptr::eq(i, x));
    let (first, second) = if position(a) < position(b) {
        (a, b)
    } else {
        (b, a)
    };
    match duplicate_to_drop(first, second) {
        Some(d) if std::ptr::eq(d, first) => first,
        _ => second,
    }
}

pub(super) fn describe(index: &crate::schema::Index) -> String {
    match &index.name {
        Some(name) => format!("`{name}` {}", index.describe()),
        None => index.describe(),
    }
}

pub(super) fn kind_of(index: &crate::schema::Index) -> &'static str {
    match index.origin {
        IndexOrigin::PrimaryKey => "the primary key",
        IndexOrigin::UniqueField | IndexOrigin::UniqueConstraint => "unique constraint",
        _ if index.unique => "unique index",
        _ => "index",
    }
}
