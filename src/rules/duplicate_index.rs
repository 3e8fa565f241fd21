//! `duplicate-index`: two indexes with the same definition (method, key
//! parts, INCLUDE columns and predicate). One of them is pure overhead.

use super::redundant_index::{describe, duplicate_target, kind_of};
use super::{Finding, FixIntent, Related, finding};
use crate::schema::coverage::{Redundancy, duplicate_to_drop, redundancy};
use crate::schema::{IndexOrigin, Schema};

pub(super) fn check(schema: &Schema, out: &mut Vec<Finding>) {
    for table in schema.tables.iter().filter(|t| t.checkable()) {
        let indexes = &table.indexes;
        let mut reported: Vec<usize> = Vec::new();
        for (i, first) in indexes.iter().enumerate() {
            for (j, second) in indexes.iter().enumerate().skip(i + 1) {
                if redundancy(first, second) != Some(Redundancy::Duplicate) {
                    continue;
                }
                let drop = duplicate_to_drop(first, second);
                let (target, target_ix, other) =
                    if std::ptr::eq(duplicate_target(indexes, first, second), first) {
                        (first, i, second)
                    } else {
                        (second, j, first)
                    };
                // Two constraints with one definition (`unique=True` next to
                // `UniqueConstraint("slug")`, a unique on the primary key's
                // columns) are one index when the table is created: the
                // database drops the repeated one. ixray cannot tell whether
                // one was added later, so it says nothing.
                if reported.contains(&target_ix)
                    || target.origin == IndexOrigin::DatabaseImplicit
                    || (target.locked && other.locked)
                    || (target.origin.is_constraint() && other.origin.is_constraint())
                {
                    continue;
                }
                reported.push(target_ix);
                let mut f = finding(
                    "duplicate-index",
                    table,
                    format!(
                        "{} {} on `{}` duplicates {} {}",
                        kind_of(target),
                        describe(target),
                        table.name,
                        kind_of(other),
                        describe(other)
                    ),
                );
                f.columns = target
                    .parts
                    .iter()
                    .filter_map(|p| p.column_name().map(String::from))
                    .collect();
                f.index_name = target.name.clone();
                f.location = target.location.clone();
                if let Some(location) = &other.location {
                    f.related.push(Related {
                        location: location.clone(),
                        message: format!(
                            "same definition as {} {}",
                            kind_of(other),
                            describe(other)
                        ),
                    });
                }
                if drop.is_some() && !target.locked {
                    f.fix = Some(FixIntent::DropIndex(Box::new(target.clone())));
                }
                out.push(f);
            }
        }
    }
}
