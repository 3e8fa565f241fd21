//! One folder per ORM. Each reads its sources into facts, resolves them into
//! schema tables, and turns findings into edits in its own idiom.

pub mod alembic;
pub mod django;
pub mod drizzle;
pub mod python;
pub mod sqlalchemy;
pub mod typescript;

use crate::schema::{Framework, Table};

/// The name a framework would give a new index on `columns` of `table`.
pub fn suggest_index_name(table: &Table, columns: &[(String, bool)]) -> String {
    match table.framework {
        Framework::Django => django::project::auto_index_name(&table.name, columns),
        Framework::Sqlalchemy => {
            let cols: Vec<&str> = columns.iter().map(|(c, _)| c.as_str()).collect();
            format!("ix_{}_{}", table.name, cols.join("_"))
        }
        Framework::Drizzle => drizzle::emit::index_name(&table.name, columns),
    }
}
