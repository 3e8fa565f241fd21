//! The framework-neutral schema graph: tables, columns, foreign keys and
//! indexes with SQL names. Database knowledge (implicit indexes, coverage)
//! lives here and nowhere else; framework knowledge never does.

pub mod coverage;
pub mod sql;

use std::fmt;

use serde::Serialize;

use crate::source::Location;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Framework {
    Django,
    Sqlalchemy,
    Drizzle,
}

impl Framework {
    pub fn as_str(self) -> &'static str {
        match self {
            Framework::Django => "django",
            Framework::Sqlalchemy => "sqlalchemy",
            Framework::Drizzle => "drizzle",
        }
    }
}

/// The SQL database the project runs on; it decides implicit indexes and
/// coverage details.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    #[default]
    Postgresql,
    Mysql,
    Sqlite,
}

impl Dialect {
    pub fn parse(name: &str) -> Option<Dialect> {
        match name.to_ascii_lowercase().as_str() {
            "postgresql" | "postgres" | "pg" => Some(Dialect::Postgresql),
            "mysql" | "mariadb" => Some(Dialect::Mysql),
            "sqlite" | "sqlite3" => Some(Dialect::Sqlite),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Dialect::Postgresql => "postgresql",
            Dialect::Mysql => "mysql",
            Dialect::Sqlite => "sqlite",
        }
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Schema {
    pub tables: Vec<Table>,
    /// Every index build the migration history runs, in history order.
    pub index_builds: Vec<IndexBuild>,
}

/// One index build in a migration, for rules about how indexes are built.
#[derive(Debug, Clone, Serialize)]
pub struct IndexBuild {
    pub framework: Framework,
    pub dialect: Dialect,
    /// Nothing said which database the project runs on; `dialect` is the
    /// default ixray assumed.
    pub dialect_assumed: bool,
    pub table: String,
    pub index_name: Option<String>,
    pub columns: Vec<String>,
    /// The migration that builds it (Alembic revision id, Django
    /// `app_label.migration_name`).
    pub migration: String,
    /// How findings name that migration, in the framework's words:
    /// ``revision `4f1c2a9e` `` (Alembic), ``migration `shop.0003_x` ``
    /// (Django).
    pub migration_label: String,
    /// The table is created by the same migration, so it is still empty.
    pub table_is_new: bool,
    /// Built with CONCURRENTLY (`postgresql_concurrently=True`).
    pub concurrently: bool,
    /// Runs outside a transaction (Alembic `autocommit_block()`, a Django
    /// migration with `atomic = False`), as CONCURRENTLY requires.
    pub outside_transaction: bool,
    /// The operation drops the index (`RemoveIndexConcurrently`) rather
    /// than building it; it matters only when it runs CONCURRENTLY inside
    /// a transaction.
    pub drops: bool,
    /// How to write this operation safely, in the framework's own idiom
    /// (the framework knows; rules do not).
    pub help: String,
    /// The migration is one of the newest of its history (a head): when
    /// ixray cannot ask git what is merged, only these count as pending.
    pub newest: bool,
    /// The migration is not merged yet, so it can still be changed: rules
    /// about how a migration is written speak only about these.
    pub pending: bool,
    pub location: Option<Location>,
}

impl Schema {
    pub fn table(&self, name: &str) -> Option<&Table> {
        self.tables.iter().find(|t| t.name == name)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Table {
    /// SQL name.
    pub name: String,
    /// The name in code (Django/SQLAlchemy class, Drizzle variable).
    pub model: String,
    pub framework: Framework,
    pub dialect: Dialect,
    /// Nothing names the project's database: `dialect` is ixray's default,
    /// and findings that depend on it say so.
    pub dialect_assumed: bool,
    /// False when the framework emits no DDL for the table (Django
    /// `managed = False`): indexes on it are not the framework's to change.
    pub managed: bool,
    /// Why the table's index set is not fully known (indexes built by code
    /// ixray cannot read, a migration it cannot evaluate). Rules whose
    /// answer depends on the index set say nothing about such a table.
    pub unknown_indexes: Option<String>,
    pub location: Option<Location>,
    pub columns: Vec<Column>,
    pub foreign_keys: Vec<ForeignKey>,
    pub indexes: Vec<Index>,
}

impl Table {
    /// The framework owns the table's DDL and ixray knows every index it
    /// has: rules about its indexes can speak.
    pub fn checkable(&self) -> bool {
        self.managed && self.unknown_indexes.is_none()
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Column {
    /// SQL name.
    pub name: String,
    /// The attribute in code that declares it.
    pub field: String,
    pub primary_key: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct ForeignKey {
    /// SQL names of the referencing columns, in constraint order.
    pub columns: Vec<String>,
    pub ref_table: Option<String>,
    pub ref_columns: Vec<String>,
    /// A database constraint exists (Django `db_constraint=True`).
    pub enforced: bool,
    /// Declared only as an ORM relation (Drizzle `relations()`), not as a
    /// column reference or constraint: findings call it a relation.
    pub relation_only: bool,
    /// The attribute in code that declares the relation.
    pub field: String,
    pub location: Option<Location>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IndexMethod {
    Btree,
    Hash,
    Gin,
    Gist,
    Brin,
    Spgist,
    Bloom,
    Other(String),
}

impl IndexMethod {
    pub fn parse(name: &str) -> IndexMethod {
        match name.to_ascii_lowercase().as_str() {
            "btree" => IndexMethod::Btree,
            "hash" => IndexMethod::Hash,
            "gin" => IndexMethod::Gin,
            "gist" => IndexMethod::Gist,
            "brin" => IndexMethod::Brin,
            "spgist" => IndexMethod::Spgist,
            "bloom" => IndexMethod::Bloom,
            other => IndexMethod::Other(other.to_string()),
        }
    }
}

/// One key part of an index: a column or an expression.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct IndexPart {
    #[serde(flatten)]
    pub key: IndexKey,
    pub desc: bool,
    pub opclass: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IndexKey {
    Column(String),
    Expression(String),
}

impl IndexPart {
    pub fn column(name: impl Into<String>) -> Self {
        IndexPart {
            key: IndexKey::Column(name.into()),
            desc: false,
            opclass: None,
        }
    }

    pub fn column_name(&self) -> Option<&str> {
        match &self.key {
            IndexKey::Column(c) => Some(c),
            IndexKey::Expression(_) => None,
        }
    }
}

/// A partial index predicate, as a normalized conjunction.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Predicate {
    pub conjuncts: Vec<Conjunct>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Conjunct {
    /// `column IS NOT NULL`
    IsNotNull(String),
    /// Any other condition, as normalized SQL text.
    Other(String),
}

impl Predicate {
    pub fn new(mut conjuncts: Vec<Conjunct>) -> Self {
        conjuncts.sort();
        conjuncts.dedup();
        Predicate { conjuncts }
    }
}

impl fmt::Display for Predicate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, c) in self.conjuncts.iter().enumerate() {
            if i > 0 {
                f.write_str(" AND ")?;
            }
            match c {
                Conjunct::IsNotNull(col) => write!(f, "{col} IS NOT NULL")?,
                Conjunct::Other(text) => f.write_str(text)?,
            }
        }
        Ok(())
    }
}

/// Why an index exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IndexOrigin {
    /// The PRIMARY KEY's index.
    PrimaryKey,
    /// A column-level UNIQUE (Django `unique=True`, OneToOneField).
    UniqueField,
    /// A table-level unique constraint (`unique_together`, `UniqueConstraint`).
    UniqueConstraint,
    /// A column flag such as Django `db_index=True`.
    FieldFlag,
    /// An index the framework adds by itself (Django's FK index).
    FrameworkImplicit,
    /// An index the database adds by itself (InnoDB's FK index).
    DatabaseImplicit,
    /// An index declared in the model (`Meta.indexes`, `index_together`).
    Declared,
    /// An index that only the migration history creates.
    Migration,
}

impl IndexOrigin {
    /// Whether the index backs a constraint (dropping it drops the rule).
    pub fn is_constraint(self) -> bool {
        matches!(
            self,
            IndexOrigin::PrimaryKey | IndexOrigin::UniqueField | IndexOrigin::UniqueConstraint
        )
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Index {
    pub name: Option<String>,
    pub parts: Vec<IndexPart>,
    /// Non-key INCLUDE columns.
    pub include: Vec<String>,
    pub unique: bool,
    pub predicate: Option<Predicate>,
    pub method: IndexMethod,
    pub origin: IndexOrigin,
    /// The attribute whose flag or relation created the index, if any.
    pub field: Option<String>,
    /// True when the user cannot change this index in code (Django's
    /// auto-created M2M tables): it is never proposed for removal.
    pub locked: bool,
    /// The framework's migration generator tracks this index but no model
    /// declares it, so the next generated migration would drop it (Alembic
    /// autogenerate compares the models with the database).
    pub drift: bool,
    pub location: Option<Location>,
}

impl Index {
    pub fn new(parts: Vec<IndexPart>, origin: IndexOrigin) -> Self {
        Index {
            name: None,
            parts,
            include: Vec::new(),
            unique: false,
            predicate: None,
            method: IndexMethod::Btree,
            origin,
            field: None,
            locked: false,
            drift: false,
            location: None,
        }
    }

    /// A short human description: `(customer_id, created_at DESC)`.
    pub fn describe(&self) -> String {
        let parts: Vec<String> = self
            .parts
            .iter()
            .map(|p| {
                let key = match &p.key {
                    IndexKey::Column(c) => c.clone(),
                    IndexKey::Expression(e) => e.clone(),
                };
                if p.desc { format!("{key} DESC") } else { key }
            })
            .collect();
        let mut text = format!("({})", parts.join(", "));
        if let Some(pred) = &self.predicate {
            text.push_str(&format!(" WHERE {pred}"));
        }
        text
    }

    pub fn display_name(&self) -> String {
        match &self.name {
            Some(n) => n.clone(),
            None => self.describe(),
        }
    }
}

/// A framework-neutral description of an index ixray proposes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IndexSpec {
    pub name: String,
    pub table: String,
    pub columns: Vec<SpecColumn>,
    pub unique: bool,
    #[serde(rename = "where")]
    pub predicate: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SpecColumn {
    pub name: String,
    pub desc: bool,
}

/// Add the indexes the database creates by itself (database knowledge, so it
/// lives here): InnoDB builds an index for an enforced FK that no index serves.
pub fn add_database_implicit_indexes(schema: &mut Schema) {
    for table in &mut schema.tables {
        if table.dialect != Dialect::Mysql {
            continue;
        }
        let mut added = Vec::new();
        for fk in &table.foreign_keys {
            if fk.enforced && coverage::covering_index_for(table, fk).is_none() {
                let mut index = Index::new(
                    fk.columns.iter().map(IndexPart::column).collect(),
                    IndexOrigin::DatabaseImplicit,
                );
                index.field = Some(fk.field.clone());
                index.locked = true;
                index.location = fk.location.clone();
                added.push(index);
            }
        }
        table.indexes.extend(added);
    }
}
