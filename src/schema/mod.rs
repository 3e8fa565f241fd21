//! The framework-neutral schema graph: tables, columns, foreign keys and
//! indexes with SQL names. Database knowledge (implicit indexes, coverage)
//! lives here and nowhere else; framework knowledge never does.

pub mod coverage;
pub mod predicate;
pub mod proposal;
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
    /// How people write it: `Django`, `SQLAlchemy`, `Drizzle`.
    pub fn title(self) -> &'static str {
        match self {
            Framework::Django => "Django",
            Framework::Sqlalchemy => "SQLAlchemy",
            Framework::Drizzle => "Drizzle",
        }
    }

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
    /// How the project's query code reads its tables.
    pub access_patterns: Vec<AccessPattern>,
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
    /// Polymorphic references through a (type, id) column pair.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub generic_foreign_keys: Vec<GenericForeignKey>,
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
    /// The column's type, as a family; `None` when the code does not say
    /// (a custom type ixray cannot read).
    pub type_family: Option<TypeFamily>,
    /// The declaration in code.
    pub location: Option<Location>,
}

impl Column {
    /// A column with nothing known beyond its names.
    pub fn new(name: impl Into<String>, field: impl Into<String>) -> Column {
        Column {
            name: name.into(),
            field: field.into(),
            primary_key: false,
            type_family: None,
            location: None,
        }
    }
}

/// What kind of value a column holds, coarsely: a reference and the key it
/// points at belong to the same family (`integer` → `serial`, `varchar(36)`
/// → `char(36)`, `BigInteger` → `Integer`), whatever their sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TypeFamily {
    /// Integers of every size, serials and auto-increments.
    Integer,
    /// `text`, `varchar`, `char` and their variants.
    Text,
    Uuid,
    /// A known type outside those (dates, booleans, JSON, binary, …): never
    /// a key ixray infers references to.
    Other,
}

impl TypeFamily {
    pub fn as_str(self) -> &'static str {
        match self {
            TypeFamily::Integer => "integer",
            TypeFamily::Text => "text",
            TypeFamily::Uuid => "uuid",
            TypeFamily::Other => "other",
        }
    }

    /// The family of a SQL type as written in DDL (`varchar(191)`,
    /// `bigint unsigned`, `character varying`, `uuid`).
    pub fn of_sql(sql: &str) -> TypeFamily {
        let name: String = sql
            .trim_start()
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect::<String>()
            .to_ascii_lowercase();
        match name.as_str() {
            "int" | "integer" | "int2" | "int4" | "int8" | "smallint" | "bigint" | "tinyint"
            | "mediumint" | "serial" | "serial4" | "serial8" | "smallserial" | "bigserial" => {
                TypeFamily::Integer
            }
            "text" | "varchar" | "char" | "character" | "nvarchar" | "nchar" | "tinytext"
            | "mediumtext" | "longtext" | "citext" | "bpchar" => TypeFamily::Text,
            "uuid" | "uniqueidentifier" => TypeFamily::Uuid,
            _ => TypeFamily::Other,
        }
    }
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

/// A reference to a row of any table through two columns, the referenced
/// table's type and the row's id (Django's `GenericForeignKey`): there is
/// no constraint, and no index unless someone declares one.
#[derive(Debug, Clone, Serialize)]
pub struct GenericForeignKey {
    /// The attribute in code that declares it.
    pub field: String,
    /// SQL name of the column naming the referenced table (Django: the
    /// content type foreign key's column).
    pub type_column: String,
    /// SQL name of the column holding the referenced row's id.
    pub id_column: String,
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

/// A foreign key column whose type the code leaves to the target
/// (SQLAlchemy `Column(ForeignKey("users.id"))`, Django's `ForeignKey`)
/// has the type of the column it references. A referenced column that is
/// not there is taken to be the single-column primary key, as
/// `REFERENCES t` without columns is (a Django `ForeignKey` to a model
/// whose key is not `id` names `id`).
pub fn type_foreign_key_columns(schema: &mut Schema) {
    // A chain (a FK to a column that is itself a FK) settles in as many
    // rounds as it is long; a cycle never gets a type.
    for _ in 0..8 {
        let mut found: Vec<(usize, usize, TypeFamily)> = Vec::new();
        for (t, table) in schema.tables.iter().enumerate() {
            for fk in &table.foreign_keys {
                let [column] = fk.columns.as_slice() else {
                    continue;
                };
                let Some(c) = table.columns.iter().position(|c| &c.name == column) else {
                    continue;
                };
                if table.columns[c].type_family.is_some() {
                    continue;
                }
                let Some(target) = fk.ref_table.as_deref().and_then(|n| {
                    schema
                        .tables
                        .iter()
                        .find(|o| o.name == n && o.framework == table.framework)
                }) else {
                    continue;
                };
                let referenced = match fk.ref_columns.as_slice() {
                    [name] => target.columns.iter().find(|c| &c.name == name),
                    _ => None,
                }
                .or_else(|| {
                    let mut keys = target.columns.iter().filter(|c| c.primary_key);
                    match (keys.next(), keys.next()) {
                        (Some(key), None) => Some(key),
                        _ => None,
                    }
                });
                if let Some(family) = referenced.and_then(|c| c.type_family) {
                    found.push((t, c, family));
                }
            }
        }
        if found.is_empty() {
            return;
        }
        for (t, c, family) in found {
            schema.tables[t].columns[c].type_family = Some(family);
        }
    }
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

/// How the project's own code reads a table, at one call site: the
/// conditions, order and limit of one query, in SQL column names.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AccessPattern {
    pub table: String,
    pub framework: Framework,
    pub conditions: Vec<Condition>,
    pub order: Vec<OrderColumn>,
    /// The order is one the framework adds by itself to fetch one row
    /// (Django's `first()`/`last()` without `order_by`): code that calls
    /// it usually wants any matching row, so no index is asked for it.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub order_implicit: bool,
    /// Reads at most a few rows (`LIMIT`, first row, `EXISTS`).
    pub limited: bool,
    pub operation: QueryOperation,
    /// An `OR` joins conditions: no index prefix serves the whole filter.
    pub disjunction: bool,
    pub location: Option<Location>,
}

impl AccessPattern {
    /// A plain select of every row of `table`, before its conditions,
    /// order and limit are added.
    pub fn select(table: String, framework: Framework, location: Option<Location>) -> Self {
        AccessPattern {
            table,
            framework,
            conditions: Vec::new(),
            order: Vec::new(),
            order_implicit: false,
            limited: false,
            operation: QueryOperation::Select,
            disjunction: false,
            location,
        }
    }

    /// A select of `table` for unit tests: conditions as (column, op,
    /// constant), order as column names with `-` for descending.
    #[cfg(test)]
    pub(crate) fn for_test(
        table: &str,
        conditions: &[(&str, ConditionOp, Option<&str>)],
        order: &[&str],
    ) -> AccessPattern {
        AccessPattern {
            conditions: conditions
                .iter()
                .map(|(c, op, v)| Condition {
                    column: c.to_string(),
                    op: *op,
                    constant: v.map(str::to_string),
                })
                .collect(),
            order: order
                .iter()
                .map(|o| OrderColumn {
                    column: o.trim_start_matches('-').to_string(),
                    desc: o.starts_with('-'),
                })
                .collect(),
            ..AccessPattern::select(table.into(), Framework::Django, None)
        }
    }

    /// The query as SQL with `$n` placeholders for the values the code
    /// passes (`SELECT * FROM t WHERE a = $1 AND b IS NULL ORDER BY c DESC
    /// LIMIT 1`). Conditions no btree serves keep their column and say
    /// what is unknown (`name ~ ?`).
    pub fn sql(&self) -> String {
        let mut n = 0;
        let mut placeholder = || {
            n += 1;
            format!("${n}")
        };
        let quote = |c: &str| quote_identifier(c);
        let table = self
            .table
            .split('.')
            .map(quote_identifier)
            .collect::<Vec<_>>()
            .join(".");
        let mut sql = match self.operation {
            QueryOperation::Count => format!("SELECT count(*) FROM {table}"),
            QueryOperation::Exists => format!("SELECT 1 FROM {table}"),
            QueryOperation::Update => format!("UPDATE {table} SET ..."),
            QueryOperation::Delete => format!("DELETE FROM {table}"),
            QueryOperation::Select | QueryOperation::Get => format!("SELECT * FROM {table}"),
        };
        let conditions: Vec<String> = self
            .conditions
            .iter()
            .map(|c| {
                let column = quote(&c.column);
                // Only conditions that compare with a value number a
                // placeholder: `$n` stay dense, as PREPARE needs them.
                let mut value = || c.constant.clone().unwrap_or_else(&mut placeholder);
                match c.op {
                    ConditionOp::Eq => format!("{column} = {}", value()),
                    ConditionOp::NotEq => format!("{column} <> {}", value()),
                    ConditionOp::In => format!("{column} = ANY({})", value()),
                    ConditionOp::Range(bound) => {
                        let op = match bound {
                            RangeBound::Lt => "<",
                            RangeBound::Le => "<=",
                            RangeBound::Gt => ">",
                            RangeBound::Ge => ">=",
                            RangeBound::Between => {
                                let low = placeholder();
                                return format!("{column} BETWEEN {low} AND {}", placeholder());
                            }
                        };
                        format!("{column} {op} {}", value())
                    }
                    ConditionOp::Prefix => format!("{column} LIKE {}", value()),
                    ConditionOp::IsNull => format!("{column} IS NULL"),
                    ConditionOp::IsNotNull => format!("{column} IS NOT NULL"),
                    ConditionOp::Other => format!("{column} ~ {}", value()),
                }
            })
            .collect();
        if !conditions.is_empty() {
            let join = if self.disjunction { " OR " } else { " AND " };
            sql.push_str(" WHERE ");
            sql.push_str(&conditions.join(join));
        }
        if !self.order.is_empty() {
            let order: Vec<String> = self
                .order
                .iter()
                .map(|o| {
                    if o.desc {
                        format!("{} DESC", quote(&o.column))
                    } else {
                        quote(&o.column)
                    }
                })
                .collect();
            sql.push_str(" ORDER BY ");
            sql.push_str(&order.join(", "));
        }
        if self.limited
            && !matches!(
                self.operation,
                QueryOperation::Update | QueryOperation::Delete
            )
        {
            sql.push_str(" LIMIT 1");
        }
        sql
    }
}

/// An identifier as SQL writes it: bare when it is a plain lowercase name,
/// double-quoted otherwise.
pub fn quote_identifier(name: &str) -> String {
    let plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if plain {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Condition {
    pub column: String,
    pub op: ConditionOp,
    /// The literal compared with (`true`, `'down'`), when the code writes
    /// one: a candidate for a partial index predicate.
    pub constant: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConditionOp {
    Eq,
    NotEq,
    In,
    /// `<`, `<=`, `>`, `>=`, `BETWEEN`.
    Range(RangeBound),
    /// `LIKE 'a%'`: a range on a btree with a pattern-capable collation.
    Prefix,
    IsNull,
    IsNotNull,
    /// Anything a plain btree on the column cannot serve (`ILIKE '%a%'`,
    /// a function of the column).
    Other,
}

/// Which side or sides a range condition bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeBound {
    Lt,
    Le,
    Gt,
    Ge,
    Between,
}

impl Serialize for ConditionOp {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl RangeBound {
    /// `x < 1`, `<=`, `>`, `>=`: the comparison operator the code wrote.
    pub fn of_operator(operator: &str) -> Option<RangeBound> {
        match operator {
            "<" | "lt" => Some(RangeBound::Lt),
            "<=" | "lte" => Some(RangeBound::Le),
            ">" | "gt" => Some(RangeBound::Gt),
            ">=" | "gte" => Some(RangeBound::Ge),
            "between" | "range" => Some(RangeBound::Between),
            _ => None,
        }
    }

    /// The bound `NOT (x op v)` is, if it is one range (`NOT BETWEEN` is
    /// two).
    pub fn negated(self) -> Option<RangeBound> {
        match self {
            RangeBound::Lt => Some(RangeBound::Ge),
            RangeBound::Le => Some(RangeBound::Gt),
            RangeBound::Gt => Some(RangeBound::Le),
            RangeBound::Ge => Some(RangeBound::Lt),
            RangeBound::Between => None,
        }
    }
}

impl ConditionOp {
    /// The operator as `ixray schema` writes it (`eq`, `lt`, `between`).
    pub fn name(self) -> &'static str {
        match self {
            ConditionOp::Eq => "eq",
            ConditionOp::NotEq => "not_eq",
            ConditionOp::In => "in",
            ConditionOp::Range(RangeBound::Lt) => "lt",
            ConditionOp::Range(RangeBound::Le) => "le",
            ConditionOp::Range(RangeBound::Gt) => "gt",
            ConditionOp::Range(RangeBound::Ge) => "ge",
            ConditionOp::Range(RangeBound::Between) => "between",
            ConditionOp::Prefix => "prefix",
            ConditionOp::IsNull => "is_null",
            ConditionOp::IsNotNull => "is_not_null",
            ConditionOp::Other => "other",
        }
    }

    /// Whether a btree index on the column can narrow the scan with it.
    pub fn btree_servable(self) -> bool {
        !matches!(self, ConditionOp::NotEq | ConditionOp::Other)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrderColumn {
    pub column: String,
    pub desc: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum QueryOperation {
    Select,
    Get,
    Count,
    Exists,
    Update,
    Delete,
}
#[cfg(test)]
mod tests {
    use super::*;

    fn table(name: &str, columns: Vec<Column>, foreign_keys: Vec<ForeignKey>) -> Table {
        Table {
            name: name.into(),
            model: name.into(),
            framework: Framework::Django,
            dialect: Dialect::Postgresql,
            dialect_assumed: false,
            managed: true,
            unknown_indexes: None,
            location: None,
            columns,
            foreign_keys,
            indexes: Vec::new(),
            generic_foreign_keys: Vec::new(),
        }
    }

    fn typed(name: &str, family: Option<TypeFamily>, primary_key: bool) -> Column {
        Column {
            primary_key,
            type_family: family,
            ..Column::new(name, name)
        }
    }

    fn fk(column: &str, target: &str, target_column: &str) -> ForeignKey {
        ForeignKey {
            columns: vec![column.into()],
            ref_table: Some(target.into()),
            ref_columns: vec![target_column.into()],
            enforced: true,
            relation_only: false,
            field: column.into(),
            location: None,
        }
    }

    #[test]
    fn foreign_key_columns_take_their_targets_type_through_chains() {
        let mut schema = Schema {
            tables: vec![
                table(
                    "lines",
                    vec![typed("order_id", None, false)],
                    vec![fk("order_id", "orders", "id")],
                ),
                // `id` is the parent's key and a FK to it (multi-table
                // inheritance): typed in the second round.
                table(
                    "orders",
                    vec![typed("id", None, true), typed("code", None, false)],
                    vec![fk("id", "documents", "id")],
                ),
                table(
                    "documents",
                    vec![typed("uid", Some(TypeFamily::Uuid), true)],
                    // Django names `id` when the key is another column: the
                    // primary key it is.
                    vec![],
                ),
            ],
            ..Schema::default()
        };
        type_foreign_key_columns(&mut schema);
        let family = |t: usize, c: usize| schema.tables[t].columns[c].type_family;
        assert_eq!(family(1, 0), Some(TypeFamily::Uuid));
        assert_eq!(family(0, 0), Some(TypeFamily::Uuid));
        assert_eq!(family(1, 1), None);
    }

    #[test]
    fn sql_type_names_map_to_families() {
        assert_eq!(TypeFamily::of_sql("varchar(191)"), TypeFamily::Text);
        assert_eq!(
            TypeFamily::of_sql("varchar(48) COLLATE utf8mb4_0900_as_cs"),
            TypeFamily::Text
        );
        assert_eq!(TypeFamily::of_sql("bigint unsigned"), TypeFamily::Integer);
        assert_eq!(TypeFamily::of_sql("UUID"), TypeFamily::Uuid);
        assert_eq!(TypeFamily::of_sql("longblob"), TypeFamily::Other);
    }
}
