//! SQLAlchemy: declarative models and `Table` objects read from source
//! (never imported), resolved into tables together with the Alembic
//! history, and fixes written as `index=True` / `Index(...)` declarations.

pub mod emit;
pub mod models;
pub mod project;
pub mod queries;
pub mod types;

use crate::frameworks::markers::{MarkedBytes, Marker};
use crate::schema::sql;
use crate::schema::{Conjunct, Dialect, Index, IndexMethod, Predicate};
use models::{ColumnRef, Convention, DialectOptions, PredicateDecl};

/// The cheap byte prefilter: does this Python file declare SQLAlchemy
/// tables? Column constructors or a table name are required; a mere import
/// (query code, sessions) is not enough.
pub fn declares_tables(file: &MarkedBytes) -> bool {
    let has = |marker| file.has(marker);
    (has(Marker::MappedColumn)
        || has(Marker::ColumnCall)
        || has(Marker::Tablename)
        || has(Marker::TableCall)
        || has(Marker::NamingConvention))
        // `db.Table("tags", db.metadata, ...)` in a module that imports
        // `db` from the project: `Table(` with a metadata argument.
        && (has(Marker::Sqlalchemy)
            || has(Marker::DbModel)
            || has(Marker::Tablename)
            || (has(Marker::TableCall) && has(Marker::Metadata)))
}

/// Apply `postgresql_where=`, `sqlite_where=`, `postgresql_using=`,
/// `postgresql_include=` and `postgresql_ops=` for `dialect`: the other
/// dialects' keywords are ignored by SQLAlchemy, so an index with only
/// `postgresql_where` is a full index on SQLite.
pub fn apply_dialect_options(
    index: &mut Index,
    options: &DialectOptions,
    dialect: Dialect,
    column_name: impl Fn(&ColumnRef) -> Option<String>,
) {
    let predicate = match dialect {
        Dialect::Postgresql => &options.postgresql_where,
        Dialect::Sqlite => &options.sqlite_where,
        Dialect::Mysql => return apply_mysql(index, options),
    };
    if !predicate.is_empty() {
        let mut conjuncts = Vec::new();
        for decl in predicate {
            match decl {
                PredicateDecl::Sql(text) => conjuncts.extend(sql::predicate(text).conjuncts),
                PredicateDecl::NotNull(column) => match column_name(column) {
                    Some(name) => conjuncts.push(Conjunct::IsNotNull(name)),
                    None => conjuncts.push(Conjunct::Other(format!("{column:?} IS NOT NULL"))),
                },
                PredicateDecl::Other(text) => conjuncts.push(Conjunct::Other(text.clone())),
            }
        }
        index.predicate = Some(Predicate::new(conjuncts));
    }
    if dialect == Dialect::Postgresql {
        if let Some(using) = &options.postgresql_using {
            index.method = IndexMethod::parse(using);
        }
        index.include = options.postgresql_include.clone();
        for (key, opclass) in &options.postgresql_ops {
            for part in &mut index.parts {
                if part.column_name() == Some(key.as_str()) {
                    part.opclass = Some(opclass.to_ascii_lowercase());
                }
            }
        }
    }
}

fn apply_mysql(index: &mut Index, options: &DialectOptions) {
    if let Some(using) = &options.mysql_using {
        index.method = IndexMethod::parse(using);
    }
}

/// SQLAlchemy's default naming convention for indexes.
pub const DEFAULT_INDEX_CONVENTION: &str = "ix_%(column_0_label)s";

/// The columns an index or constraint name is made from: (SQL name, key).
pub struct NameColumns<'a> {
    pub table: &'a str,
    /// The table's schema: SQLAlchemy's column labels start with it
    /// (`crm_contacts_account_id`).
    pub schema: Option<&'a str>,
    pub columns: Vec<(&'a str, &'a str)>,
    pub referred_table: Option<&'a str>,
}

/// Render a naming-convention template, as `MetaData(naming_convention=)`
/// does, and shorten a name over the dialect's identifier limit the way
/// SQLAlchemy does (a 4-character md5 suffix).
pub fn convention_name(
    template: &str,
    names: &NameColumns,
    explicit: Option<&str>,
    dialect: Dialect,
) -> Option<String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("%(") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find(")s")?;
        let token = &after[..end];
        out.push_str(&render_token(token, names, explicit)?);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Some(truncate_identifier(out, dialect))
}

fn render_token(token: &str, names: &NameColumns, explicit: Option<&str>) -> Option<String> {
    let label = |(name, _): &(&str, &str)| match names.schema {
        Some(schema) => format!("{schema}_{}_{name}", names.table),
        None => format!("{}_{name}", names.table),
    };
    match token {
        "table_name" => return Some(names.table.to_string()),
        "referred_table_name" => return names.referred_table.map(str::to_string),
        "constraint_name" => return explicit.map(str::to_string),
        _ => {}
    }
    let rest = token.strip_prefix("column_0")?;
    let (all, separator, kind) = if let Some(kind) = rest.strip_prefix("N_") {
        (true, "", kind)
    } else if let Some(kind) = rest.strip_prefix("_N_") {
        (true, "_", kind)
    } else {
        (false, "", rest.strip_prefix('_')?)
    };
    let render = |c: &(&str, &str)| -> Option<String> {
        match kind {
            "name" => Some(c.0.to_string()),
            "key" => Some(c.1.to_string()),
            "label" => Some(label(c)),
            _ => None,
        }
    };
    if all {
        let parts: Option<Vec<String>> = names.columns.iter().map(render).collect();
        Some(parts?.join(separator))
    } else {
        render(names.columns.first()?)
    }
}

fn truncate_identifier(name: String, dialect: Dialect) -> String {
    let limit = match dialect {
        Dialect::Postgresql => 63,
        Dialect::Mysql => 64,
        Dialect::Sqlite => return name,
    };
    if name.len() <= limit {
        return name;
    }
    use md5::{Digest, Md5};
    let digest = Md5::digest(name.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    let mut cut = limit - 8;
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}_{}", &name[..cut], &hex[hex.len() - 4..])
}

/// The name of an index: explicit (wrapped by a convention that uses
/// `%(constraint_name)s`), or made by the convention.
pub fn index_name(
    convention: &Convention,
    names: &NameColumns,
    explicit: Option<&str>,
    dialect: Dialect,
) -> Option<String> {
    let template = convention.ix.as_deref().unwrap_or(DEFAULT_INDEX_CONVENTION);
    match explicit {
        Some(name) if !template.contains("%(constraint_name)s") => Some(name.to_string()),
        _ => convention_name(template, names, explicit, dialect),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_naming_conventions() {
        let names = NameColumns {
            table: "post_tag",
            schema: None,
            columns: vec![("post_id", "post_id"), ("tag_id", "tag")],
            referred_table: None,
        };
        let default = Convention::default();
        assert_eq!(
            index_name(&default, &names, None, Dialect::Postgresql).as_deref(),
            Some("ix_post_tag_post_id")
        );
        assert_eq!(
            index_name(&default, &names, Some("custom"), Dialect::Postgresql).as_deref(),
            Some("custom")
        );
        let custom = Convention {
            ix: Some("ix_%(table_name)s_%(column_0_N_name)s".into()),
            uq: None,
            schema: None,
        };
        assert_eq!(
            index_name(&custom, &names, None, Dialect::Sqlite).as_deref(),
            Some("ix_post_tag_post_id_tag_id")
        );
        let joined = Convention {
            ix: Some("%(column_0N_key)s_idx".into()),
            uq: None,
            schema: None,
        };
        assert_eq!(
            index_name(&joined, &names, None, Dialect::Sqlite).as_deref(),
            Some("post_idtag_idx")
        );
        let in_schema = NameColumns {
            schema: Some("crm"),
            ..names
        };
        assert_eq!(
            index_name(&default, &in_schema, None, Dialect::Postgresql).as_deref(),
            Some("ix_crm_post_tag_post_id")
        );
        let long = "x".repeat(70);
        let truncated = truncate_identifier(long, Dialect::Postgresql);
        assert_eq!(truncated.len(), 60);
    }
}
