//! One folder per ORM. Each reads its sources into facts, resolves them into
//! schema tables, and turns findings into edits in its own idiom.

pub mod alembic;
pub mod django;
pub mod drizzle;
pub mod python;
pub mod sqlalchemy;
pub mod syntax;
pub mod typescript;

use crate::schema::{Framework, Table};

/// The name a framework would give a new index on `columns` of `table`.
pub fn suggest_index_name(table: &Table, columns: &[(String, bool)]) -> String {
    match table.framework {
        Framework::Django => django::project::auto_index_name(&table.name, columns),
        Framework::Sqlalchemy => {
            let cols: Vec<&str> = columns.iter().map(|(c, _)| c.as_str()).collect();
            // Index names live in the table's schema: the bare table name.
            let bare = table.name.rsplit('.').next().unwrap_or(&table.name);
            format!("ix_{bare}_{}", cols.join("_"))
        }
        Framework::Drizzle => drizzle::emit::index_name(&table.name, columns),
    }
}

/// Seconds since the epoch: `SOURCE_DATE_EPOCH` when set (reproducible
/// output), else the clock. Dates in generated migrations come from here.
pub fn now_epoch() -> u64 {
    std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())
        })
}
