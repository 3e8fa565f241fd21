//! `redundant-implicit-index`: an index the framework creates by itself
//! (Django indexes every `ForeignKey` unless `db_index=False`) whose column
//! leads a wider index or unique constraint. Nobody declared it, so it is
//! kept apart from `redundant-index`, at severity info: dropping it is a
//! small saving, not a mistake someone made.

use super::Finding;
use super::redundant_index::report_prefixes;
use crate::schema::{IndexOrigin, Schema};

pub(super) fn check(schema: &Schema, out: &mut Vec<Finding>) {
    report_prefixes(schema, out, "redundant-implicit-index", |origin| {
        origin == IndexOrigin::FrameworkImplicit
    });
}
