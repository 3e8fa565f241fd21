//! The revision graph of each Alembic environment: revisions grouped by
//! their versions folder, ordered by `down_revision` (branches and merges),
//! checked for broken chains, and replayed into the tables and indexes the
//! database has after `alembic upgrade head`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rustc_hash::FxHashMap;

use super::IniFacts;
use super::env::{self, EnvFacts};
use super::revisions::{OperationKind, RevisionFile, qualify, split_qualified};
use crate::InputError;
use crate::frameworks::sqlalchemy::{
    self,
    models::{ColumnDecl, ColumnRef, ConstraintDecl, FkRef},
};
use crate::schema::sql::{IndexStatement, index_statement, split_statements};
use crate::schema::{
    Column, Dialect, ForeignKey, Framework, Index, IndexBuild, IndexKey, IndexOrigin, IndexPart,
};
use crate::source::{Location, SourceFile};

/// One Alembic environment: a versions folder and its revisions.
#[derive(Debug)]
pub struct Environment {
    pub ini: Option<IniFacts>,
    /// Where new revisions go: the folder of the head revision.
    pub versions_dir: PathBuf,
    /// Revisions in upgrade order.
    pub revisions: Vec<RevisionFile>,
    pub heads: Vec<String>,
    pub dialect: Dialect,
    /// Neither the command line, `ixray.toml` nor `alembic.ini` names the
    /// database; `dialect` is assumed.
    pub dialect_assumed: bool,
    pub state: State,
    pub builds: Vec<IndexBuild>,
    /// `env.py`'s `target_metadata` and `include_object` / `include_name`.
    pub env: Option<EnvFacts>,
    /// New revisions build indexes concurrently on PostgreSQL (the
    /// configuration's `concurrent-indexes`).
    pub concurrent_indexes: bool,
}

impl Environment {
    /// Autogenerate compares an index of this name on this table (it may
    /// not when `env.py` filters either out).
    pub fn autogenerate_compares(&self, table: &str, index: Option<&str>) -> bool {
        let Some(filter) = self.env.as_ref().and_then(|e| e.filter.as_ref()) else {
            return true;
        };
        let (_, bare) = split_qualified(table);
        !filter.may_skip(bare) && !index.is_some_and(|n| filter.may_skip(n))
    }

    /// `env.py`, beside the versions folder.
    fn env_path(ini: Option<&IniFacts>, versions_dir: &Path) -> PathBuf {
        match ini.and_then(|i| i.script_location.clone()) {
            Some(location) => location.join("env.py"),
            None => versions_dir
                .parent()
                .unwrap_or(Path::new(""))
                .join("env.py"),
        }
    }

    /// `script.py.mako`, the template `alembic revision` renders.
    pub fn template_path(&self) -> PathBuf {
        match self.ini.as_ref().and_then(|i| i.script_location.clone()) {
            Some(location) => location.join("script.py.mako"),
            None => self
                .versions_dir
                .parent()
                .unwrap_or(Path::new(""))
                .join("script.py.mako"),
        }
    }
}

/// The database after every revision ran.
#[derive(Debug, Default)]
pub struct State {
    /// By qualified name (`schema.table`, or `table` in the default schema).
    pub tables: BTreeMap<String, TableState>,
    /// An operation on a table ixray could not name changed the history:
    /// no table's indexes are certain.
    pub uncertain: Option<String>,
    /// A foreign key operation on a table ixray could not name: no table's
    /// columns and foreign keys are certain.
    pub shape_uncertain: Option<String>,
}

#[derive(Debug, Default)]
pub struct TableState {
    /// The revision whose `create_table` made it.
    pub created_by: Option<String>,
    /// Indexes built by `create_index`, `index=True` columns of
    /// `create_table`, or raw SQL, with their origin `Migration`.
    pub indexes: Vec<Index>,
    /// Why the indexes the history gives this table are not certain (an
    /// operation whose name or columns ixray could not evaluate).
    pub uncertain: Option<String>,
    /// The primary key `create_table` gave it (empty: none), when the
    /// history created the table. The database has this key, whatever the
    /// model says.
    pub primary_key: Option<Vec<String>>,
    /// The `create_table` call.
    pub location: Option<Location>,
    /// Columns and foreign keys, as `create_table`, `add_column` and
    /// foreign key operations left them (complete only when the history
    /// created the table).
    pub columns: Vec<Column>,
    pub foreign_keys: Vec<HistoryForeignKey>,
    /// Why the columns and foreign keys are not certain.
    pub shape_uncertain: Option<String>,
}

/// A foreign key with the name `drop_constraint` drops it by.
#[derive(Debug, Clone)]
pub struct HistoryForeignKey {
    pub name: Option<String>,
    pub key: ForeignKey,
}

impl State {
    /// Why `table`'s indexes are not certain, if they are not.
    pub fn uncertainty(&self, table: &str) -> Option<&str> {
        self.uncertain
            .as_deref()
            .or_else(|| self.tables.get(table)?.uncertain.as_deref())
    }

    /// Why `table`'s columns and foreign keys are not certain, if they are
    /// not (its indexes' uncertainty included).
    pub fn shape_uncertainty(&self, table: &str) -> Option<&str> {
        self.uncertainty(table)
            .or(self.shape_uncertain.as_deref())
            .or_else(|| self.tables.get(table)?.shape_uncertain.as_deref())
    }
}

impl TableState {
    /// Add a column `create_table` or `add_column` declares, with its
    /// foreign keys.
    fn add_column(&mut self, column: &ColumnDecl, source: &SourceFile) {
        let location = &Some(source.location(column.statement));
        let name = column.name().to_string();
        self.columns.retain(|c| c.name != name);
        self.columns.push(Column {
            primary_key: column.primary_key,
            type_family: column.type_family,
            location: location.clone(),
            ..Column::new(name.clone(), name.clone())
        });
        for target in &column.foreign_keys {
            let (ref_table, ref_column) = fk_target(target);
            self.foreign_keys.push(HistoryForeignKey {
                name: None,
                key: foreign_key(
                    vec![name.clone()],
                    ref_table,
                    ref_column.into_iter().collect(),
                    location,
                ),
            });
        }
    }
}

/// `[schema.]table.column` of a foreign key target; the table is unknown
/// when the target is not a string.
fn fk_target(target: &FkRef) -> (Option<String>, Option<String>) {
    match target {
        FkRef::Text(text) => match text.rsplit_once('.') {
            Some((table, column)) => {
                let (schema, bare) = split_qualified(table);
                (Some(qualify(schema, bare)), Some(column.to_string()))
            }
            None => (None, None),
        },
        FkRef::Attr { attr, .. } => (None, Some(attr.clone())),
        FkRef::TableColumn { column, .. } => (None, Some(column.clone())),
    }
}

fn foreign_key(
    columns: Vec<String>,
    ref_table: Option<String>,
    ref_columns: Vec<String>,
    location: &Option<Location>,
) -> ForeignKey {
    ForeignKey {
        field: columns.join(", "),
        columns,
        ref_table,
        ref_columns,
        enforced: true,
        relation_only: false,
        location: location.clone(),
    }
}

/// Group revisions into environments, order and check each graph, and
/// replay it. `dialect` overrides what `alembic.ini` says.
pub fn build(
    revisions: Vec<RevisionFile>,
    inis: Vec<IniFacts>,
    dialect: Option<Dialect>,
    errors: &mut Vec<InputError>,
) -> Vec<Environment> {
    let mut groups: BTreeMap<PathBuf, (Option<IniFacts>, Vec<RevisionFile>)> = BTreeMap::new();
    for revision in revisions {
        let dir = revision
            .source
            .path
            .parent()
            .unwrap_or(Path::new(""))
            .to_path_buf();
        let ini = inis.iter().find(|ini| {
            ini.versions_dirs()
                .iter()
                .any(|v| same_dir(v, &dir) || dir.starts_with(v))
        });
        // A file is a revision only where Alembic looks for revisions: under
        // an `alembic.ini`'s versions folders, or (with no ini claiming it)
        // in a `versions/` folder beside an `env.py`. It must assign
        // `revision` and `down_revision` at module level. Anything else
        // (`scripts/db.py` with an `upgrade()`) is not a revision at all.
        let configured = ini.is_some()
            || (dir.file_name().is_some_and(|n| n == "versions")
                && dir.parent().is_some_and(|p| p.join("env.py").is_file()));
        if !configured
            || (ini.is_none() && (revision.revision.is_none() || !revision.has_down_revision))
        {
            continue;
        }
        let key = ini.map_or(dir.clone(), |i| i.path.clone());
        groups
            .entry(key)
            .or_insert_with(|| (ini.cloned(), Vec::new()))
            .1
            .push(revision);
    }
    groups
        .into_values()
        .map(|(ini, revisions)| {
            let known = dialect.or(ini.as_ref().and_then(|i| i.dialect));
            let dialect = known.unwrap_or_default();
            let (ordered, heads) = order(revisions, errors);
            let versions_dir = heads
                .first()
                .and_then(|h| ordered.iter().find(|r| r.revision.as_deref() == Some(h)))
                .or(ordered.last())
                .and_then(|r| r.source.path.parent())
                .unwrap_or(Path::new(""))
                .to_path_buf();
            let (state, mut builds) = replay(&ordered, dialect, known.is_none());
            for build in &mut builds {
                build.newest = heads.contains(&build.migration);
            }
            let env = env::read(&Environment::env_path(ini.as_ref(), &versions_dir));
            Environment {
                env,
                ini,
                versions_dir,
                revisions: ordered,
                heads,
                dialect,
                dialect_assumed: known.is_none(),
                state,
                builds,
                concurrent_indexes: true,
            }
        })
        .collect()
}

fn same_dir(a: &Path, b: &Path) -> bool {
    a == b
        || match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        }
}

/// Topological upgrade order (parents first, ties by revision id), and the
/// heads. Broken chains become errors; the rest of the graph is kept.
fn order(
    revisions: Vec<RevisionFile>,
    errors: &mut Vec<InputError>,
) -> (Vec<RevisionFile>, Vec<String>) {
    let mut by_id: BTreeMap<String, RevisionFile> = BTreeMap::new();
    for revision in revisions {
        let Some(id) = revision.revision.clone() else {
            errors.push(InputError::new(
                &revision.source.path,
                "Alembic revision without a `revision` identifier; not replayed",
            ));
            continue;
        };
        if let Some(existing) = by_id.get(&id) {
            errors.push(InputError::new(
                &revision.source.path,
                format!(
                    "revision `{id}` is also defined in {}; this one is not replayed",
                    existing.source.path.display()
                ),
            ));
            continue;
        }
        by_id.insert(id, revision);
    }
    let mut children: FxHashMap<String, Vec<String>> = FxHashMap::default();
    let mut pending: FxHashMap<String, usize> = FxHashMap::default();
    for (id, revision) in &by_id {
        let mut known = 0;
        for down in &revision.down_revisions {
            if by_id.contains_key(down) {
                known += 1;
                children.entry(down.clone()).or_default().push(id.clone());
            } else {
                errors.push(InputError::new(
                    &revision.source.path,
                    format!(
                        "broken revision chain: down_revision `{down}` of revision `{id}` names no revision in {}",
                        revision
                            .source
                            .path
                            .parent()
                            .map(|p| p.display().to_string())
                            .unwrap_or_default()
                    ),
                ));
            }
        }
        pending.insert(id.clone(), known);
    }
    let heads: Vec<String> = by_id
        .keys()
        .filter(|id| children.get(*id).is_none_or(|c| c.is_empty()))
        .cloned()
        .collect();
    let mut ready: std::collections::BTreeSet<String> = pending
        .iter()
        .filter(|(_, n)| **n == 0)
        .map(|(id, _)| id.clone())
        .collect();
    let mut ordered_ids = Vec::new();
    while let Some(id) = ready.pop_first() {
        for child in children.get(&id).into_iter().flatten() {
            let count = pending.get_mut(child).expect("every child is pending");
            *count -= 1;
            if *count == 0 {
                ready.insert(child.clone());
            }
        }
        ordered_ids.push(id);
    }
    if ordered_ids.len() < by_id.len() {
        let stuck: Vec<&String> = by_id
            .keys()
            .filter(|id| !ordered_ids.contains(id))
            .collect();
        if let Some(first) = stuck.first().and_then(|id| by_id.get(*id)) {
            errors.push(InputError::new(
                &first.source.path,
                format!(
                    "broken revision chain: revisions {} form a cycle; they are not replayed",
                    stuck
                        .iter()
                        .map(|s| format!("`{s}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
    }
    if heads.len() > 1
        && let Some(first) = heads.first().and_then(|h| by_id.get(h))
    {
        errors.push(InputError::new(
            &first.source.path,
            format!(
                "the revision history has {} heads ({}); `alembic upgrade head` fails until they are merged with `alembic merge heads`",
                heads.len(),
                heads
                    .iter()
                    .map(|h| format!("`{h}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    let ordered = ordered_ids
        .into_iter()
        .filter_map(|id| by_id.remove(&id))
        .collect();
    (ordered, heads)
}

/// Run every revision's `upgrade()` against an empty database model.
fn replay(
    revisions: &[RevisionFile],
    dialect: Dialect,
    dialect_assumed: bool,
) -> (State, Vec<IndexBuild>) {
    let mut state = State::default();
    let mut builds = Vec::new();
    for revision in revisions {
        let id = revision.revision.clone().unwrap_or_default();
        let source = &revision.source;
        for operation in &revision.operations {
            let location = Some(source.location(operation.span));
            let build = BuildSite {
                revision: &id,
                dialect,
                dialect_assumed,
                autocommit: operation.autocommit,
                location: &location,
            };
            match &operation.kind {
                OperationKind::CreateTable {
                    table,
                    columns,
                    constraints,
                } => {
                    let mut created = TableState {
                        created_by: Some(id.clone()),
                        location: location.clone(),
                        ..TableState::default()
                    };
                    for column in columns {
                        created.add_column(column, source);
                    }
                    let mut primary_key: Vec<String> = columns
                        .iter()
                        .filter(|c| c.primary_key)
                        .map(|c| c.name().to_string())
                        .collect();
                    // Unique constraints are unique indexes in the database.
                    for column in columns
                        .iter()
                        .filter(|c| c.unique == Some(true) && c.index != Some(true))
                    {
                        let mut index = Index::new(
                            vec![IndexPart::column(column.name())],
                            IndexOrigin::Migration,
                        );
                        index.unique = true;
                        index.location = location.clone();
                        created.indexes.push(index);
                    }
                    for constraint in constraints {
                        if let ConstraintDecl::ForeignKey {
                            name,
                            columns,
                            targets,
                            span,
                        } = constraint
                        {
                            let at = Some(source.location(*span));
                            let columns: Option<Vec<String>> =
                                columns.iter().map(column_of).collect();
                            let targets: Vec<(Option<String>, Option<String>)> =
                                targets.iter().map(fk_target).collect();
                            let ref_table = targets.first().and_then(|t| t.0.clone());
                            let ref_columns: Option<Vec<String>> =
                                targets.iter().map(|t| t.1.clone()).collect();
                            match (columns, ref_columns) {
                                (Some(columns), Some(ref_columns)) if !columns.is_empty() => {
                                    created.foreign_keys.push(HistoryForeignKey {
                                        name: name.clone(),
                                        key: foreign_key(columns, ref_table, ref_columns, &at),
                                    });
                                }
                                _ => {
                                    created.shape_uncertain = Some(uncertain_at(
                                        "a foreign key whose columns ixray cannot read",
                                        &location,
                                    ));
                                }
                            }
                        }
                        if let ConstraintDecl::PrimaryKey { columns } = constraint {
                            match columns.iter().map(column_of).collect::<Option<Vec<_>>>() {
                                Some(columns) => primary_key = columns,
                                None => {
                                    created.uncertain = Some(uncertain_at(
                                        "a primary key whose columns ixray cannot read",
                                        &location,
                                    ));
                                }
                            }
                        }
                        if let ConstraintDecl::Unique { name, columns, .. } = constraint {
                            let parts: Option<Vec<IndexPart>> = columns
                                .iter()
                                .map(|c| match c {
                                    ColumnRef::Key(k) => Some(IndexPart::column(k)),
                                    _ => None,
                                })
                                .collect();
                            match parts {
                                Some(parts) => {
                                    let mut index = Index::new(parts, IndexOrigin::Migration);
                                    index.name = name.clone();
                                    index.unique = true;
                                    index.location = location.clone();
                                    created.indexes.push(index);
                                }
                                None => {
                                    created.uncertain = Some(uncertain_at(
                                        "a unique constraint whose columns ixray cannot read",
                                        &location,
                                    ));
                                }
                            }
                        }
                    }
                    let (_, bare) = split_qualified(table);
                    for column in columns.iter().filter(|c| c.index == Some(true)) {
                        let name = column.name().to_string();
                        let mut index =
                            Index::new(vec![IndexPart::column(&name)], IndexOrigin::Migration);
                        index.name = Some(format!("ix_{bare}_{name}"));
                        index.unique = column.unique == Some(true);
                        index.location = location.clone();
                        created.indexes.push(index);
                    }
                    created.primary_key = Some(primary_key);
                    state.tables.insert(table.clone(), created);
                }
                OperationKind::DropTable { table } => {
                    state.tables.remove(table);
                }
                // Indexes move with their table and keep their names;
                // references to it follow it.
                OperationKind::RenameTable { from, to } => {
                    if let Some(table) = state.tables.remove(from) {
                        state.tables.insert(to.clone(), table);
                    }
                    for table in state.tables.values_mut() {
                        for fk in &mut table.foreign_keys {
                            if fk.key.ref_table.as_deref() == Some(from.as_str()) {
                                fk.key.ref_table = Some(to.clone());
                            }
                        }
                    }
                }
                OperationKind::AddColumn { table, column } => {
                    if let Some(table) = state.tables.get_mut(table) {
                        table.add_column(column, source);
                    }
                }
                // Dropping a column drops every index and foreign key that
                // uses it.
                OperationKind::DropColumn { table, column } => {
                    if let Some(table) = state.tables.get_mut(table) {
                        table.indexes.retain(|i| !uses_column(i, column));
                        table.columns.retain(|c| &c.name != column);
                        table
                            .foreign_keys
                            .retain(|fk| !fk.key.columns.contains(column));
                    }
                }
                OperationKind::RenameColumn { table, from, to } => {
                    let renamed = table;
                    for (name, table) in state.tables.iter_mut() {
                        for fk in &mut table.foreign_keys {
                            if fk.key.ref_table.as_ref() == Some(renamed) {
                                for column in &mut fk.key.ref_columns {
                                    if column == from {
                                        *column = to.clone();
                                    }
                                }
                            }
                            if name == renamed {
                                for column in &mut fk.key.columns {
                                    if column == from {
                                        *column = to.clone();
                                    }
                                }
                            }
                        }
                    }
                    if let Some(table) = state.tables.get_mut(table) {
                        for column in &mut table.columns {
                            if &column.name == from {
                                column.name = to.clone();
                                column.field = to.clone();
                            }
                        }
                        for column in table.primary_key.iter_mut().flatten() {
                            if column == from {
                                *column = to.clone();
                            }
                        }
                        for index in &mut table.indexes {
                            for part in &mut index.parts {
                                if part.key == IndexKey::Column(from.clone()) {
                                    part.key = IndexKey::Column(to.clone());
                                }
                            }
                            for column in &mut index.include {
                                if column == from {
                                    *column = to.clone();
                                }
                            }
                        }
                    }
                }
                OperationKind::CreateIndex {
                    name,
                    table,
                    parts,
                    unique,
                    options,
                    concurrently,
                } => {
                    let parts = parts
                        .iter()
                        .map(|p| IndexPart {
                            key: match &p.column {
                                ColumnRef::Expression(e) => IndexKey::Expression(e.clone()),
                                other => IndexKey::Column(column_of(other).unwrap_or_default()),
                            },
                            desc: p.desc,
                            opclass: None,
                        })
                        .collect();
                    let mut index = Index::new(parts, IndexOrigin::Migration);
                    index.name = name.clone();
                    index.unique = *unique;
                    index.location = location.clone();
                    sqlalchemy::apply_dialect_options(&mut index, options, dialect, column_of);
                    build.record(&mut state, &mut builds, table.clone(), index, *concurrently);
                }
                OperationKind::DropIndex {
                    name,
                    table,
                    schema,
                }
                | OperationKind::DropConstraint {
                    name,
                    table,
                    schema,
                } => {
                    if let (OperationKind::DropConstraint { .. }, Some(table)) =
                        (&operation.kind, table)
                        && let Some(entry) = state.tables.get_mut(table)
                    {
                        entry
                            .foreign_keys
                            .retain(|fk| fk.name.as_deref() != Some(name));
                    }
                    drop_index(
                        &mut state,
                        name,
                        table.as_deref(),
                        schema.as_deref(),
                        &location,
                    );
                }
                OperationKind::CreateUnique {
                    name,
                    table,
                    columns,
                } => {
                    let mut index = Index::new(
                        columns.iter().map(IndexPart::column).collect(),
                        IndexOrigin::Migration,
                    );
                    index.name = name.clone();
                    index.unique = true;
                    index.location = location.clone();
                    state
                        .tables
                        .entry(table.clone())
                        .or_default()
                        .indexes
                        .push(index);
                }
                OperationKind::CreatePrimaryKey { table, columns } => {
                    state.tables.entry(table.clone()).or_default().primary_key =
                        Some(columns.clone());
                }
                OperationKind::CreateForeignKey {
                    name,
                    table,
                    columns,
                    ref_table,
                    ref_columns,
                } => {
                    if let Some(table) = state.tables.get_mut(table) {
                        table.foreign_keys.push(HistoryForeignKey {
                            name: name.clone(),
                            key: foreign_key(
                                columns.clone(),
                                Some(ref_table.clone()),
                                ref_columns.clone(),
                                &location,
                            ),
                        });
                    }
                }
                OperationKind::DropForeignKey { name, table } => {
                    drop_foreign_key(&mut state, name, table, &location);
                }
                OperationKind::UnknownForeignKeys { table, what } => {
                    let reason = uncertain_at(what, &location);
                    match table.as_ref().and_then(|t| state.tables.get_mut(t)) {
                        Some(table) => {
                            table.shape_uncertain.get_or_insert(reason);
                        }
                        None if table.is_some() => {}
                        None => {
                            state.shape_uncertain.get_or_insert(reason);
                        }
                    }
                }
                // One pass over the script's statements, in order: the
                // table statements make shapes uncertain, the index
                // statements are replayed.
                OperationKind::Execute { sql } => {
                    for statement in split_statements(sql) {
                        shape_changes_in_sql(&mut state, &statement, &location);
                        let Some(statement) = index_statement(&statement) else {
                            continue;
                        };
                        match statement {
                            IndexStatement::Create(create) => {
                                let table = qualify(create.schema.as_deref(), &create.table);
                                let mut index = Index::new(create.parts, IndexOrigin::Migration);
                                index.name = create.name.clone();
                                index.unique = create.unique;
                                index.method = create.method;
                                index.include = create.include;
                                index.predicate = create.predicate;
                                index.location = location.clone();
                                build.record(
                                    &mut state,
                                    &mut builds,
                                    table,
                                    index,
                                    create.concurrently,
                                );
                            }
                            IndexStatement::Drop { name, schema } => {
                                drop_index(&mut state, &name, None, schema.as_deref(), &location);
                            }
                            IndexStatement::Rename { from, to, schema } => {
                                for (_, table) in tables_in_schema(&mut state, schema.as_deref()) {
                                    for index in &mut table.indexes {
                                        if index.name.as_deref() == Some(from.as_str()) {
                                            index.name = Some(to.clone());
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                OperationKind::Unknown { table, what } => {
                    let reason = uncertain_at(what, &location);
                    match table {
                        Some(table) => {
                            let entry = state.tables.entry(table.clone()).or_default();
                            entry.uncertain.get_or_insert(reason);
                        }
                        None => {
                            state.uncertain.get_or_insert(reason);
                        }
                    }
                }
            }
        }
    }
    (state, builds)
}

/// Drop a foreign key by name. A name that matches none of the table's
/// named foreign keys may be one the database or a naming convention
/// chose: the table's foreign keys are then uncertain.
fn drop_foreign_key(state: &mut State, name: &str, table: &str, location: &Option<Location>) {
    let Some(entry) = state.tables.get_mut(table) else {
        return;
    };
    let before = entry.foreign_keys.len();
    entry
        .foreign_keys
        .retain(|fk| fk.name.as_deref() != Some(name));
    if entry.foreign_keys.len() == before {
        entry.shape_uncertain.get_or_insert_with(|| {
            uncertain_at(
                &format!("drops foreign key `{name}`, which ixray cannot match to one it knows"),
                location,
            )
        });
    }
}

/// Raw SQL that changes a table's columns or constraints (`ALTER TABLE t`,
/// `DROP TABLE t`) makes that table's shape uncertain: ixray reads only the
/// index statements of raw SQL. A statement about tables in a form ixray
/// does not know makes every table it mentions uncertain. `statement` is
/// one statement of the script (quotes and comments split as SQL does).
fn shape_changes_in_sql(state: &mut State, statement: &str, location: &Option<Location>) {
    let lower = statement.to_ascii_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '.'))
        .filter(|w| !w.is_empty())
        .collect();
    if !words.contains(&"table") {
        return;
    }
    let named = match words.as_slice() {
        ["alter" | "drop", "table", rest @ ..] => rest
            .iter()
            .find(|w| !matches!(**w, "if" | "exists" | "only"))
            .map(|w| vec![*w]),
        // A table created here is not one the history knows.
        ["create", ..] => Some(Vec::new()),
        _ => None,
    };
    if let (["drop", "table", ..], Some(names)) = (words.as_slice(), &named) {
        state.tables.retain(|name, _| {
            let bare = split_qualified(name).1.to_ascii_lowercase();
            !names
                .iter()
                .any(|n| n.rsplit('.').next() == Some(bare.as_str()))
        });
        return;
    }
    let affected = |bare: &str| match &named {
        Some(names) => names.iter().any(|n| n.rsplit('.').next() == Some(bare)),
        None => words.iter().any(|w| w.rsplit('.').next() == Some(bare)),
    };
    for (name, table) in state.tables.iter_mut() {
        let bare = split_qualified(name).1.to_ascii_lowercase();
        if affected(&bare) {
            table
                .shape_uncertain
                .get_or_insert_with(|| uncertain_at("raw SQL that may change the table", location));
        }
    }
}

/// "what (path:line)" for an uncertainty.
fn uncertain_at(what: &str, location: &Option<crate::source::Location>) -> String {
    match location {
        Some(l) => format!("{what} ({}:{})", l.path.display(), l.line),
        None => what.to_string(),
    }
}

/// Whether an index uses `column`: as a key part, inside an expression or
/// predicate, or as an INCLUDE column.
fn uses_column(index: &Index, column: &str) -> bool {
    let mentions = |sql: &str| {
        sql.split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .any(|word| word == column)
    };
    index.parts.iter().any(|p| match &p.key {
        IndexKey::Column(c) => c == column,
        IndexKey::Expression(e) => mentions(e),
    }) || index.include.iter().any(|c| c == column)
        || index
            .predicate
            .as_ref()
            .is_some_and(|p| mentions(&p.to_string()))
}

/// The tables of one schema (`None`: the default schema).
fn tables_in_schema<'s>(
    state: &'s mut State,
    schema: Option<&'s str>,
) -> impl Iterator<Item = (&'s String, &'s mut TableState)> {
    let schema = schema.filter(|s| *s != "public");
    state
        .tables
        .iter_mut()
        .filter(move |(name, _)| split_qualified(name).0 == schema)
}

/// A plain column named in a revision (`"col"`, `t.c.col`); `None` for an
/// expression.
fn column_of(column: &ColumnRef) -> Option<String> {
    match column {
        ColumnRef::Key(k) => Some(k.clone()),
        ColumnRef::Attr { attr, .. } => Some(attr.clone()),
        ColumnRef::TableColumn { column, .. } => Some(column.clone()),
        ColumnRef::Expression(_) => None,
    }
}

/// Where an index build happens: the revision and the operation.
struct BuildSite<'a> {
    revision: &'a str,
    dialect: Dialect,
    dialect_assumed: bool,
    autocommit: bool,
    location: &'a Option<crate::source::Location>,
}

impl BuildSite<'_> {
    /// Add a built index to the state and record how it was built.
    fn record(
        &self,
        state: &mut State,
        builds: &mut Vec<IndexBuild>,
        table: String,
        index: Index,
        concurrently: bool,
    ) {
        let entry = state.tables.entry(table.clone()).or_default();
        let help = if concurrently {
            "wrap the operation in `with op.get_context().autocommit_block():`"
        } else {
            "build it with `postgresql_concurrently=True` inside `with op.get_context().autocommit_block():`"
        };
        builds.push(IndexBuild {
            framework: Framework::Sqlalchemy,
            dialect: self.dialect,
            dialect_assumed: self.dialect_assumed,
            table,
            index_name: index.name.clone(),
            columns: column_names(&index),
            migration: self.revision.to_string(),
            migration_label: format!("revision `{}`", self.revision),
            table_is_new: entry.created_by.as_deref() == Some(self.revision),
            concurrently,
            outside_transaction: self.autocommit,
            drops: false,
            help: help.to_string(),
            newest: false,
            pending: true,
            location: self.location.clone(),
        });
        entry.indexes.push(index);
    }
}

fn column_names(index: &Index) -> Vec<String> {
    index
        .parts
        .iter()
        .map(|p| match &p.key {
            IndexKey::Column(c) => c.clone(),
            IndexKey::Expression(e) => e.clone(),
        })
        .collect()
}

/// Drop an index or constraint by name: from `table` when given, else from
/// every table of its schema (index names are unique per schema). A name
/// that matches nothing may be one of the constraints whose name the
/// database or a naming convention chose (`uq_t_a_b`, `t_a_b_key`): when a
/// table has an unnamed index on columns the name spells out, that table's
/// indexes become uncertain.
fn drop_index(
    state: &mut State,
    name: &str,
    table: Option<&str>,
    schema: Option<&str>,
    location: &Option<crate::source::Location>,
) {
    let mut dropped = false;
    let mut unnamed_candidates = Vec::new();
    let mut visit = |table_name: &String, table: &mut TableState| {
        let before = table.indexes.len();
        table.indexes.retain(|i| i.name.as_deref() != Some(name));
        dropped |= table.indexes.len() != before;
        if table.indexes.iter().any(|i| {
            i.name.is_none()
                && i.parts
                    .iter()
                    .all(|p| p.column_name().is_some_and(|c| name.contains(c)))
        }) {
            unnamed_candidates.push(table_name.clone());
        }
    };
    match table {
        Some(table) => {
            if let Some(entry) = state.tables.get_mut(table) {
                visit(&table.to_string(), entry);
            }
        }
        None => {
            for (key, table) in tables_in_schema(state, schema) {
                visit(key, table);
            }
        }
    }
    if dropped {
        return;
    }
    for table in unnamed_candidates {
        if let Some(entry) = state.tables.get_mut(&table) {
            entry.uncertain.get_or_insert_with(|| {
                uncertain_at(
                    &format!("drops `{name}`, which may be one of its constraints named by the database or a naming convention"),
                    location,
                )
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frameworks::alembic::revisions;
    use crate::frameworks::python as py;
    use crate::source::SourceFile;

    /// An `alembic.ini` whose versions folder is `versions/`.
    fn ini() -> IniFacts {
        IniFacts {
            path: PathBuf::from("alembic.ini"),
            version_locations: vec![PathBuf::from("versions")],
            ..IniFacts::default()
        }
    }

    fn revision(id: &str, down: &str, body: &str) -> RevisionFile {
        let text = format!(
            "from alembic import op\nrevision = \"{id}\"\ndown_revision = {down}\n\ndef upgrade():\n{body}\n"
        );
        let source = SourceFile::new(PathBuf::from(format!("versions/{id}_x.py")), text);
        let tree = py::parse(&source.text);
        revisions::extract(source, &tree)
    }

    #[test]
    fn orders_branches_and_merges_and_replays() {
        let revisions = vec![
            revision(
                "c",
                "(\"a\", \"b\")",
                "    op.drop_index(\"ix_t_b\", table_name=\"t\")",
            ),
            revision(
                "a",
                "None",
                "    op.create_table(\"t\", sa.Column(\"id\", sa.Integer()))\n    op.create_index(\"ix_t_a\", \"t\", [\"a\"])",
            ),
            revision(
                "b",
                "\"a\"",
                "    op.create_index(\"ix_t_b\", \"t\", [\"b\"])\n    op.execute(\"CREATE INDEX CONCURRENTLY ix_t_c ON t (c) WHERE c IS NOT NULL\")",
            ),
        ];
        let mut errors = Vec::new();
        let envs = build(
            revisions,
            vec![ini()],
            Some(Dialect::Postgresql),
            &mut errors,
        );
        assert!(errors.is_empty(), "{errors:?}");
        let env = &envs[0];
        let ids: Vec<&str> = env
            .revisions
            .iter()
            .filter_map(|r| r.revision.as_deref())
            .collect();
        assert_eq!(ids, vec!["a", "b", "c"]);
        assert_eq!(env.heads, vec!["c"]);
        let names: Vec<&str> = env.state.tables["t"]
            .indexes
            .iter()
            .filter_map(|i| i.name.as_deref())
            .collect();
        assert_eq!(names, vec!["ix_t_a", "ix_t_c"]);
        let builds: Vec<(bool, bool)> = env
            .builds
            .iter()
            .map(|b| (b.table_is_new, b.concurrently))
            .collect();
        assert_eq!(builds, vec![(true, false), (false, false), (false, true)]);
    }

    #[test]
    fn unique_constraints_are_unique_indexes() {
        let revisions = vec![
            revision(
                "a",
                "None",
                "    op.create_table(\"t\", sa.Column(\"email\", sa.String(), unique=True), sa.Column(\"x\", sa.Integer()), sa.UniqueConstraint(\"x\", \"email\"))\n    op.create_unique_constraint(\"uq_t_x\", \"t\", [\"x\"])",
            ),
            revision(
                "b",
                "\"a\"",
                "    op.drop_constraint(\"uq_t_x\", \"t\", type_=\"unique\")",
            ),
        ];
        let mut errors = Vec::new();
        let envs = build(revisions, vec![ini()], None, &mut errors);
        let uniques: Vec<String> = envs[0].state.tables["t"]
            .indexes
            .iter()
            .map(|i| format!("{} {}", i.unique, i.describe()))
            .collect();
        assert_eq!(uniques, vec!["true (email)", "true (x, email)"]);
    }

    #[test]
    fn columns_and_foreign_keys_follow_the_history() {
        let revisions = vec![
            revision(
                "a",
                "None",
                "    op.create_table(\"u\", sa.Column(\"id\", sa.Integer(), primary_key=True))\n    op.create_table(\"t\", sa.Column(\"id\", sa.Integer()), sa.Column(\"u_id\", sa.Integer(), sa.ForeignKey(\"u.id\")), sa.Column(\"v_id\", sa.Integer()), sa.ForeignKeyConstraint([\"v_id\"], [\"u.id\"], name=\"fk_t_v\"))\n    op.create_table(\"s\", sa.Column(\"u_id\", sa.Integer(), sa.ForeignKey(\"u.id\")))",
            ),
            revision(
                "b",
                "\"a\"",
                "    op.drop_constraint(\"fk_t_v\", \"t\", type_=\"foreignkey\")\n    op.add_column(\"t\", sa.Column(\"w_id\", sa.Integer()))\n    op.create_foreign_key(None, \"t\", \"u\", [\"w_id\"], [\"id\"])\n    op.rename_table(\"u\", \"users\")\n    op.drop_column(\"t\", \"u_id\")\n    op.drop_constraint(\"s_u_id_fkey\", \"s\", type_=\"foreignkey\")",
            ),
        ];
        let mut errors = Vec::new();
        let envs = build(revisions, vec![ini()], None, &mut errors);
        let state = &envs[0].state;
        let t = &state.tables["t"];
        let columns: Vec<&str> = t.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(columns, vec!["id", "v_id", "w_id"]);
        let fks: Vec<String> = t
            .foreign_keys
            .iter()
            .map(|fk| format!("{:?} -> {:?}", fk.key.columns, fk.key.ref_table))
            .collect();
        assert_eq!(fks, vec!["[\"w_id\"] -> Some(\"users\")"]);
        assert!(state.shape_uncertainty("t").is_none());
        // A foreign key dropped by a name the database chose: unknown.
        assert!(
            state
                .shape_uncertainty("s")
                .is_some_and(|why| why.contains("s_u_id_fkey")),
            "{:?}",
            state.shape_uncertainty("s")
        );
    }

    #[test]
    fn raw_sql_that_alters_a_table_makes_it_uncertain() {
        let revisions = vec![revision(
            "a",
            "None",
            "    op.create_table(\"t\", sa.Column(\"id\", sa.Integer()))\n    op.create_table(\"other\", sa.Column(\"id\", sa.Integer()))\n    op.execute(\"ALTER TABLE t ADD COLUMN u_id integer REFERENCES other (id)\")\n    op.execute(\"CREATE INDEX ix_other ON other (id)\")\n    op.create_table(\"gone\", sa.Column(\"id\", sa.Integer()))\n    op.execute(\"DROP TABLE IF EXISTS gone\")\n    op.create_table(\"kept\", sa.Column(\"id\", sa.Integer()))\n    op.execute(\"-- DROP TABLE kept;\\nCREATE INDEX ix_kept ON kept (id)\")",
        )];
        let mut errors = Vec::new();
        let envs = build(revisions, vec![ini()], None, &mut errors);
        let state = &envs[0].state;
        assert!(state.shape_uncertainty("t").is_some());
        assert!(state.shape_uncertainty("other").is_none());
        assert!(state.uncertainty("t").is_none(), "indexes stay certain");
        assert!(!state.tables.contains_key("gone"));
        // A statement in a comment is no statement.
        assert!(
            state.tables["kept"]
                .indexes
                .iter()
                .any(|i| i.name.as_deref() == Some("ix_kept"))
        );
        assert!(state.shape_uncertainty("kept").is_none());
    }

    #[test]
    fn broken_chains_are_errors_not_crashes() {
        let revisions = vec![
            revision("a", "None", "    pass"),
            revision("b", "\"a\"", "    pass"),
            revision("c", "\"a\"", "    pass"),
            revision("d", "\"zz\"", "    pass"),
        ];
        let mut errors = Vec::new();
        let envs = build(revisions, vec![ini()], None, &mut errors);
        let messages: Vec<&str> = errors.iter().map(|e| e.message.as_str()).collect();
        assert!(
            messages
                .iter()
                .any(|m| m.contains("down_revision `zz` of revision `d` names no revision")),
            "{messages:?}"
        );
        assert!(
            messages
                .iter()
                .any(|m| m.contains("3 heads (`b`, `c`, `d`)")),
            "{messages:?}"
        );
        assert_eq!(envs[0].revisions.len(), 4);
    }
}
