//! Each Django app's migration history replayed as Django's loader and
//! `ProjectState` replay it: the model state `makemigrations` compares the
//! models with, the indexes raw SQL adds outside that state, and every
//! index build with how it runs (for `non-concurrent-index`). Operations
//! only ever change models of their own app, so each app is replayed alone.
//! Comparing the state with the models is `project.rs`'s job.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustc_hash::FxHashMap;

use super::migrations::{FieldSpec, MigrationFile, Operation, OperationKind, Together};
use super::models::IndexDecl;
use crate::schema::sql::{AlterTable, CreateTable, IndexStatement, Statement, TableStatement};
use crate::schema::{Dialect, Framework, Index, IndexBuild, IndexKey, IndexOrigin};
use crate::source::{Location, SourceFile, Span};

/// One app's history, replayed.
#[derive(Debug, Clone)]
pub struct AppHistory {
    pub label: String,
    pub app_dir: PathBuf,
    /// The state after every migration ran, by lowercased model name.
    pub models: BTreeMap<String, ModelState>,
    /// Indexes `RunSQL` created that still exist: outside Django's state,
    /// so `makemigrations` never touches them. (table, index)
    pub sql_indexes: Vec<(String, Index)>,
    /// Index and constraint names `RunSQL` dropped: the database lacks
    /// them even where the state still has them.
    pub dropped_by_sql: Vec<String>,
    /// Tables `RunSQL` created that still exist, by name: outside Django's
    /// state (an unmanaged model's table, a table no model declares).
    pub sql_tables: BTreeMap<String, SqlTable>,
    pub builds: Vec<IndexBuild>,
    /// Why no model state of the app is certain (a migration ixray cannot
    /// read, an operation on a model no migration creates).
    pub uncertain: Option<String>,
}

impl AppHistory {
    /// Why the state of `model` (lowercased) is not certain, if it is not.
    pub fn uncertainty(&self, model: &str) -> Option<&str> {
        self.uncertain
            .as_deref()
            .or_else(|| self.models.get(model)?.uncertain.as_deref())
    }
}

/// A table as the `RunSQL` statements that created and altered it leave
/// it.
#[derive(Debug, Clone)]
pub struct SqlTable {
    pub create: CreateTable,
    /// The migration whose `RunSQL` created it (`app.0003_x`).
    pub migration: String,
    /// That `RunSQL` operation.
    pub place: Place,
    /// Why the table is not known as the database has it (a statement
    /// ixray cannot follow touched it).
    pub uncertain: Option<String>,
}

/// Where in a migration something of the state was made; its `Location`
/// is computed only for what a finding shows.
#[derive(Debug, Clone)]
pub struct Place {
    pub source: Arc<SourceFile>,
    pub span: Span,
}

impl Place {
    pub fn location(&self) -> Location {
        self.source.location(self.span)
    }
}

/// A model as the migrations leave it.
#[derive(Debug, Clone)]
pub struct ModelState {
    /// As the latest `CreateModel` / `RenameModel` wrote it.
    pub name: String,
    pub db_table: Option<String>,
    pub managed: bool,
    pub proxy: bool,
    pub fields: Vec<StateField>,
    /// `Meta.indexes`.
    pub indexes: Vec<StateIndex>,
    /// `Meta.constraints` (unique and check).
    pub constraints: Vec<StateIndex>,
    pub unique_together: Vec<StateTogether>,
    pub index_together: Vec<StateTogether>,
    /// The migration whose `CreateModel` made it; empty for a model first
    /// seen in another operation (its state is partial and uncertain).
    pub created_by: String,
    pub place: Place,
    /// Why this model's state is not certain.
    pub uncertain: Option<String>,
}

impl ModelState {
    /// The SQL table: `db_table`, else `<app_label>_<model name>`.
    pub fn table(&self, label: &str) -> String {
        self.db_table
            .clone()
            .unwrap_or_else(|| format!("{label}_{}", self.name.to_ascii_lowercase()))
    }

    pub fn field(&self, name: &str) -> Option<&StateField> {
        self.fields.iter().find(|f| f.spec.name == name)
    }

    /// Field names and attnames (`customer_id`) to SQL columns.
    pub fn columns(&self) -> FxHashMap<String, String> {
        let mut out = FxHashMap::default();
        for field in &self.fields {
            let Some(column) = field.column() else {
                continue;
            };
            if is_foreign_key(&field.spec.kind) {
                out.insert(format!("{}_id", field.spec.name), column.clone());
            }
            out.insert(field.spec.name.clone(), column);
        }
        out
    }

    fn mark_uncertain(&mut self, why: String) {
        self.uncertain.get_or_insert(why);
    }
}

/// A field of the state and the operation that last set it.
#[derive(Debug, Clone)]
pub struct StateField {
    pub spec: FieldSpec,
    pub place: Place,
}

impl StateField {
    /// The SQL column, `None` for fields without one (many-to-many).
    pub fn column(&self) -> Option<String> {
        if is_many_to_many(&self.spec.kind) {
            return None;
        }
        Some(self.spec.db_column.clone().unwrap_or_else(|| {
            if is_foreign_key(&self.spec.kind) {
                format!("{}_id", self.spec.name)
            } else {
                self.spec.name.clone()
            }
        }))
    }
}

/// An `Index` or constraint of the state, with its text in the migration
/// (a fix copies it into the model) and where that is.
#[derive(Debug, Clone)]
pub struct StateIndex {
    pub decl: IndexDecl,
    pub code: String,
    pub place: Place,
    /// False once a `RemoveField` dropped a column it uses: the database
    /// dropped the index with the column, the state still lists it.
    pub in_database: bool,
}

/// One `unique_together` / `index_together` entry.
#[derive(Debug, Clone)]
pub struct StateTogether {
    pub fields: Vec<String>,
    pub place: Place,
    /// As `StateIndex::in_database`.
    pub in_database: bool,
}

/// The indexes a field gives its table: (plain index, unique index).
/// Django indexes a field when `db_index and not unique`; `db_index`
/// defaults to True for foreign keys and slugs, and a `OneToOneField` is
/// unique. On MySQL Django leaves a constrained foreign key's index to
/// InnoDB. A primary key is neither: it is the table's own.
pub fn field_indexes(field: &FieldSpec, dialect: Dialect) -> (bool, bool) {
    if field.primary_key || is_many_to_many(&field.kind) || field.kind.is_empty() {
        return (false, false);
    }
    let unique = field.unique || field.kind == "OneToOneField";
    let fk = is_foreign_key(&field.kind);
    let db_index = field.db_index.unwrap_or(fk || field.kind == "SlugField");
    let left_to_innodb = fk && dialect == Dialect::Mysql && field.db_constraint;
    (db_index && !unique && !left_to_innodb, unique)
}

/// Field classes whose column is a foreign key (`<name>_id`).
pub fn is_foreign_key(kind: &str) -> bool {
    matches!(
        kind,
        "ForeignKey" | "OneToOneField" | "ParentalKey" | "TreeForeignKey" | "TreeOneToOneField"
    )
}

/// Field classes without a column of their own.
fn is_many_to_many(kind: &str) -> bool {
    matches!(
        kind,
        "ManyToManyField"
            | "ParentalManyToManyField"
            | "TreeManyToManyField"
            | "TaggableManager"
            | "GenericRelation"
            | "ForeignObject"
    )
}

/// Where the migrations of one app run, and how builds are reported.
pub struct Settings {
    pub dialect: Dialect,
    pub dialect_assumed: bool,
}

/// The app's migrations in the order Django applies them, and the leaves.
/// A squashed migration stands for the ones it replaces (with nothing
/// applied yet, Django's loader keeps the squash); dependencies on a
/// replaced migration point at the squash.
pub fn order<'m>(
    label: &str,
    migrations: &[&'m MigrationFile],
) -> (Vec<&'m MigrationFile>, Vec<String>) {
    let replaced_by: FxHashMap<&str, &str> = migrations
        .iter()
        .flat_map(|m| {
            m.replaces
                .iter()
                .filter(|(app, _)| app == label)
                .map(|(_, name)| (name.as_str(), m.name.as_str()))
        })
        .collect();
    let live: BTreeMap<&str, &MigrationFile> = migrations
        .iter()
        .filter(|m| !replaced_by.contains_key(m.name.as_str()))
        .map(|m| (m.name.as_str(), *m))
        .collect();
    // A replaced migration may itself be replaced (a squash of squashes).
    let resolve = |mut name: &'m str| -> &'m str {
        for _ in 0..16 {
            match replaced_by.get(name) {
                Some(by) => name = by,
                None => break,
            }
        }
        name
    };
    let mut parents: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let mut children: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (name, migration) in &live {
        let mut own = Vec::new();
        for (app, dependency) in &migration.dependencies {
            if app != label {
                continue;
            }
            let dependency = resolve(dependency.as_str());
            if dependency != *name && live.contains_key(dependency) && !own.contains(&dependency) {
                own.push(dependency);
                children.entry(dependency).or_default().push(name);
            }
        }
        parents.insert(name, own);
    }
    let leaves = live
        .keys()
        .filter(|name| children.get(*name).is_none_or(Vec::is_empty))
        .map(|name| name.to_string())
        .collect();
    let mut waiting: BTreeMap<&str, usize> = parents.iter().map(|(n, p)| (*n, p.len())).collect();
    let mut ready: std::collections::BTreeSet<&str> = waiting
        .iter()
        .filter(|(_, n)| **n == 0)
        .map(|(name, _)| *name)
        .collect();
    let mut ordered = Vec::new();
    while let Some(name) = ready.pop_first() {
        for child in children.get(name).into_iter().flatten() {
            let count = waiting.get_mut(child).expect("every child waits");
            *count -= 1;
            if *count == 0 {
                ready.insert(child);
            }
        }
        ordered.push(live[name]);
    }
    (ordered, leaves)
}

/// Replay one app's migrations (`ordered` as `order` returns them).
pub fn replay(
    label: &str,
    app_dir: &Path,
    ordered: &[&MigrationFile],
    leaves: &[String],
    settings: &Settings,
) -> AppHistory {
    let mut history = AppHistory {
        label: label.to_string(),
        app_dir: app_dir.to_path_buf(),
        models: BTreeMap::new(),
        sql_indexes: Vec::new(),
        dropped_by_sql: Vec::new(),
        sql_tables: BTreeMap::new(),
        builds: Vec::new(),
        uncertain: None,
    };
    for migration in ordered {
        if let Some(why) = &migration.unreadable {
            history
                .uncertain
                .get_or_insert_with(|| format!("{} holds {why}", migration.source.path.display()));
        }
        let step = Step {
            migration,
            label,
            settings,
            newest: leaves.contains(&migration.name),
        };
        for operation in &migration.operations {
            history.run(operation, &step, Mode::Both);
        }
    }
    history
}

/// What an operation may change: everything, the state only
/// (`state_operations`), or the database only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Both,
    StateOnly,
}

/// The migration being replayed.
struct Step<'a> {
    migration: &'a MigrationFile,
    label: &'a str,
    settings: &'a Settings,
    newest: bool,
}

impl Step<'_> {
    fn location(&self, span: crate::source::Span) -> Location {
        self.migration.source.location(span)
    }

    fn place(&self, span: crate::source::Span) -> Place {
        Place {
            source: self.migration.source.clone(),
            span,
        }
    }

    fn at(&self, what: &str, span: crate::source::Span) -> String {
        let location = self.location(span);
        format!("{what} ({}:{})", location.path.display(), location.line)
    }

    fn id(&self) -> String {
        format!("{}.{}", self.label, self.migration.name)
    }
}

/// What one index build is, for its help text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BuildKind {
    /// `AddIndex` / `AddIndexConcurrently`.
    Index,
    /// `AddConstraint(UniqueConstraint)`, `AlterUniqueTogether`,
    /// `unique=True`: a unique constraint's index.
    Unique,
    /// `db_index` (or a foreign key) turned on by `AddField`/`AlterField`.
    FieldIndex,
    /// `AlterIndexTogether`.
    IndexTogether,
    /// `CREATE INDEX` in `RunSQL`.
    Sql,
}

impl AppHistory {
    fn run(&mut self, operation: &Operation, step: &Step, mode: Mode) {
        let span = operation.span;
        let record = mode == Mode::Both;
        match &operation.kind {
            OperationKind::CreateModel {
                name,
                fields,
                options,
            } => {
                let place = step.place(span);
                let item = |decl: &IndexDecl| StateIndex {
                    decl: decl.clone(),
                    code: step.migration.source.text[decl.span.start..decl.span.end].to_string(),
                    place: step.place(decl.span),
                    in_database: true,
                };
                let together = |groups: &Vec<Vec<String>>| {
                    groups
                        .iter()
                        .map(|fields| StateTogether {
                            fields: fields.clone(),
                            place: place.clone(),
                            in_database: true,
                        })
                        .collect()
                };
                let state = ModelState {
                    name: name.clone(),
                    db_table: options.db_table.clone(),
                    managed: options.managed.unwrap_or(true),
                    proxy: options.proxy,
                    fields: fields
                        .iter()
                        .map(|spec| StateField {
                            spec: spec.clone(),
                            place: step.place(spec.span),
                        })
                        .collect(),
                    indexes: options.indexes.iter().map(item).collect(),
                    constraints: options.constraints.iter().map(item).collect(),
                    unique_together: together(&options.unique_together),
                    index_together: together(&options.index_together),
                    created_by: step.migration.name.clone(),
                    place,
                    uncertain: options
                        .unreadable
                        .as_ref()
                        .map(|why| step.at(&format!("`CreateModel` has {why}"), span)),
                };
                self.models.insert(name.to_ascii_lowercase(), state);
            }
            OperationKind::DeleteModel { name } => {
                self.models.remove(&name.to_ascii_lowercase());
            }
            OperationKind::RenameModel { old, new } => {
                match self.models.remove(&old.to_ascii_lowercase()) {
                    Some(mut state) => {
                        state.name = new.clone();
                        self.models.insert(new.to_ascii_lowercase(), state);
                    }
                    None => self.unknown_model(new, "RenameModel", step, span),
                }
            }
            OperationKind::AlterModelTable { name, table } => {
                if let Some(state) = self.model_mut(name, "AlterModelTable", step, span) {
                    state.db_table = table.clone();
                }
            }
            OperationKind::AlterModelOptions { name, managed } => {
                if let Some(state) = self.model_mut(name, "AlterModelOptions", step, span) {
                    state.managed = managed.unwrap_or(true);
                }
            }
            OperationKind::AddField { model, field } => {
                let place = step.place(span);
                let Some(state) = self.model_mut(model, "AddField", step, span) else {
                    return;
                };
                let table_is_new = state.created_by == step.migration.name;
                let table = state.table(step.label);
                let column = StateField {
                    spec: field.clone(),
                    place: place.clone(),
                }
                .column();
                state.fields.retain(|f| f.spec.name != field.name);
                state.fields.push(StateField {
                    spec: field.clone(),
                    place,
                });
                if record && let Some(column) = column {
                    self.field_builds(
                        (false, false),
                        field,
                        &table,
                        &column,
                        table_is_new,
                        step,
                        span,
                    );
                }
            }
            OperationKind::AlterField { model, field } => {
                let place = step.place(span);
                let dialect = step.settings.dialect;
                let Some(state) = self.model_mut(model, "AlterField", step, span) else {
                    return;
                };
                let table_is_new = state.created_by == step.migration.name;
                let table = state.table(step.label);
                let before = match state.fields.iter().position(|f| f.spec.name == field.name) {
                    Some(at) => {
                        let old = std::mem::replace(
                            &mut state.fields[at],
                            StateField {
                                spec: field.clone(),
                                place,
                            },
                        );
                        (!old.spec.unreadable).then(|| field_indexes(&old.spec, dialect))
                    }
                    None => {
                        state.mark_uncertain(step.at(
                            &format!(
                                "`AlterField` on `{}`, which the state does not have",
                                field.name
                            ),
                            span,
                        ));
                        None
                    }
                };
                let column = state.field(&field.name).and_then(StateField::column);
                if record && let (Some(before), Some(column)) = (before, column) {
                    self.field_builds(before, field, &table, &column, table_is_new, step, span);
                }
            }
            OperationKind::RemoveField { model, name } => {
                if let Some(state) = self.model_mut(model, "RemoveField", step, span) {
                    state.fields.retain(|f| &f.spec.name != name);
                    // The database drops the indexes on the column; the
                    // state keeps the options that name it.
                    for item in state.indexes.iter_mut().chain(state.constraints.iter_mut()) {
                        if item.decl.fields.iter().any(|(f, _)| f == name)
                            || item.decl.include.contains(name)
                        {
                            item.in_database = false;
                        }
                    }
                    for together in state
                        .unique_together
                        .iter_mut()
                        .chain(state.index_together.iter_mut())
                    {
                        if together.fields.contains(name) {
                            together.in_database = false;
                        }
                    }
                }
            }
            OperationKind::RenameField { model, old, new } => {
                if let Some(state) = self.model_mut(model, "RenameField", step, span) {
                    match state.fields.iter_mut().find(|f| &f.spec.name == old) {
                        Some(field) => field.spec.name = new.clone(),
                        None => state.mark_uncertain(step.at(
                            &format!("`RenameField` of `{old}`, which the state does not have"),
                            span,
                        )),
                    }
                    // Django renames the field in the together options only.
                    for together in state
                        .unique_together
                        .iter_mut()
                        .chain(state.index_together.iter_mut())
                    {
                        for field in &mut together.fields {
                            if field == old {
                                *field = new.clone();
                            }
                        }
                    }
                }
            }
            OperationKind::AddIndex {
                model,
                index,
                concurrently,
            } => {
                let place = step.place(index.span);
                let Some(state) = self.model_mut(model, "AddIndex", step, span) else {
                    return;
                };
                let table_is_new = state.created_by == step.migration.name;
                let table = state.table(step.label);
                let columns = decl_columns(index, &state.columns());
                state.indexes.push(StateIndex {
                    decl: index.clone(),
                    code: step.migration.source.text[index.span.start..index.span.end].to_string(),
                    place,
                    in_database: true,
                });
                if let Some(name) = &index.name {
                    self.dropped_by_sql.retain(|n| n != name);
                }
                if record {
                    self.build(
                        Build {
                            table,
                            name: index.name.clone(),
                            columns,
                            table_is_new,
                            concurrently: *concurrently,
                            drops: false,
                            kind: BuildKind::Index,
                        },
                        step,
                        span,
                    );
                }
            }
            OperationKind::RemoveIndex {
                model,
                name,
                concurrently,
            } => {
                let Some(state) = self.model_mut(model, "RemoveIndex", step, span) else {
                    return;
                };
                let table = state.table(step.label);
                let before = state.indexes.len();
                state
                    .indexes
                    .retain(|i| i.decl.name.as_deref() != Some(name));
                if state.indexes.len() == before {
                    state.mark_uncertain(step.at(
                        &format!("`RemoveIndex` of `{name}`, which the state does not have"),
                        span,
                    ));
                }
                if record && *concurrently {
                    self.build(
                        Build {
                            table,
                            name: Some(name.clone()),
                            columns: Vec::new(),
                            table_is_new: false,
                            concurrently: true,
                            drops: true,
                            kind: BuildKind::Index,
                        },
                        step,
                        span,
                    );
                }
            }
            OperationKind::RenameIndex {
                model,
                new,
                old_name,
                old_fields,
            } => {
                let place = step.place(span);
                let Some(state) = self.model_mut(model, "RenameIndex", step, span) else {
                    return;
                };
                if let Some(old) = old_name {
                    match state
                        .indexes
                        .iter_mut()
                        .find(|i| i.decl.name.as_deref() == Some(old))
                    {
                        Some(index) => {
                            index.decl.name = Some(new.clone());
                            for quoted in quote_variants(old) {
                                index.code = index.code.replace(&quoted, &python_str(new));
                            }
                        }
                        None => state.mark_uncertain(step.at(
                            &format!("`RenameIndex` of `{old}`, which the state does not have"),
                            span,
                        )),
                    }
                }
                if let Some(fields) = old_fields {
                    // Django turns the `index_together` entry into an
                    // `Index(fields=..., name=new)`.
                    state.index_together.retain(|t| &t.fields != fields);
                    let list: Vec<String> = fields.iter().map(|f| python_str(f)).collect();
                    state.indexes.push(StateIndex {
                        decl: IndexDecl {
                            class: "Index".into(),
                            fields: fields.iter().map(|f| (f.clone(), false)).collect(),
                            expressions: Vec::new(),
                            name: Some(new.clone()),
                            condition: None,
                            include: Vec::new(),
                            opclasses: Vec::new(),
                            span,
                        },
                        code: format!(
                            "models.Index(fields=[{}], name={})",
                            list.join(", "),
                            python_str(new)
                        ),
                        place,
                        in_database: true,
                    });
                }
                self.dropped_by_sql.retain(|n| n != new);
            }
            OperationKind::AddConstraint { model, constraint } => {
                let place = step.place(constraint.span);
                let Some(state) = self.model_mut(model, "AddConstraint", step, span) else {
                    return;
                };
                let table_is_new = state.created_by == step.migration.name;
                let table = state.table(step.label);
                let columns = decl_columns(constraint, &state.columns());
                state.constraints.push(StateIndex {
                    decl: constraint.clone(),
                    code: step.migration.source.text[constraint.span.start..constraint.span.end]
                        .to_string(),
                    place,
                    in_database: true,
                });
                if record && constraint.class == "UniqueConstraint" {
                    self.build(
                        Build {
                            table,
                            name: constraint.name.clone(),
                            columns,
                            table_is_new,
                            concurrently: false,
                            drops: false,
                            kind: BuildKind::Unique,
                        },
                        step,
                        span,
                    );
                }
            }
            OperationKind::RemoveConstraint { model, name } => {
                if let Some(state) = self.model_mut(model, "RemoveConstraint", step, span) {
                    let before = state.constraints.len();
                    state
                        .constraints
                        .retain(|c| c.decl.name.as_deref() != Some(name));
                    if state.constraints.len() == before {
                        state.mark_uncertain(step.at(
                            &format!(
                                "`RemoveConstraint` of `{name}`, which the state does not have"
                            ),
                            span,
                        ));
                    }
                }
            }
            OperationKind::AlterTogether {
                model,
                option,
                groups,
            } => {
                let place = step.place(span);
                let Some(state) = self.model_mut(model, option.option_name(), step, span) else {
                    return;
                };
                let table_is_new = state.created_by == step.migration.name;
                let table = state.table(step.label);
                let columns = state.columns();
                let list = match option {
                    Together::Unique => &mut state.unique_together,
                    Together::Index => &mut state.index_together,
                };
                let added: Vec<Vec<String>> = groups
                    .iter()
                    .filter(|g| !list.iter().any(|t| &t.fields == *g))
                    .cloned()
                    .collect();
                // Entries that stay keep where they were made.
                let mut next: Vec<StateTogether> = list
                    .iter()
                    .filter(|t| groups.contains(&t.fields))
                    .cloned()
                    .collect();
                next.extend(added.iter().map(|fields| StateTogether {
                    fields: fields.clone(),
                    place: place.clone(),
                    in_database: true,
                }));
                *list = next;
                if record {
                    for fields in added {
                        self.build(
                            Build {
                                table: table.clone(),
                                name: None,
                                columns: fields
                                    .iter()
                                    .map(|f| columns.get(f).cloned().unwrap_or_else(|| f.clone()))
                                    .collect(),
                                table_is_new,
                                concurrently: false,
                                drops: false,
                                kind: match option {
                                    Together::Unique => BuildKind::Unique,
                                    Together::Index => BuildKind::IndexTogether,
                                },
                            },
                            step,
                            span,
                        );
                    }
                }
            }
            OperationKind::RunSql { statements, state } => {
                if record {
                    for statement in statements {
                        self.run_sql(statement, step, span);
                    }
                }
                for operation in state {
                    self.run(operation, step, Mode::StateOnly);
                }
            }
            OperationKind::SeparateDatabaseAndState { database, state } => {
                if record {
                    // The database operations run against the state as it
                    // is, which they do not change.
                    let saved = self.models.clone();
                    for operation in database {
                        self.run(operation, step, Mode::Both);
                    }
                    self.models = saved;
                }
                for operation in state {
                    self.run(operation, step, Mode::StateOnly);
                }
            }
            OperationKind::Inert => {}
            OperationKind::Unknown { model, what } => {
                let why = step.at(what, span);
                match model
                    .as_ref()
                    .and_then(|m| self.models.get_mut(&m.to_ascii_lowercase()))
                {
                    Some(state) => state.mark_uncertain(why),
                    None => {
                        self.uncertain.get_or_insert(why);
                    }
                }
            }
        }
    }

    /// The model an operation names. A model no earlier migration creates
    /// (its `CreateModel` squashed away, a history that starts later) gets
    /// a partial state marked uncertain: what the operations add to it
    /// still exists in the database.
    fn model_mut(
        &mut self,
        name: &str,
        operation: &str,
        step: &Step,
        span: crate::source::Span,
    ) -> Option<&mut ModelState> {
        let key = name.to_ascii_lowercase();
        if !self.models.contains_key(&key) {
            self.unknown_model(name, operation, step, span);
        }
        self.models.get_mut(&key)
    }

    fn unknown_model(
        &mut self,
        name: &str,
        operation: &str,
        step: &Step,
        span: crate::source::Span,
    ) {
        let why = step.at(
            &format!("`{operation}` on model `{name}`, which no earlier migration creates"),
            span,
        );
        self.models.insert(
            name.to_ascii_lowercase(),
            ModelState {
                name: name.to_string(),
                db_table: None,
                managed: true,
                proxy: false,
                fields: Vec::new(),
                indexes: Vec::new(),
                constraints: Vec::new(),
                unique_together: Vec::new(),
                index_together: Vec::new(),
                created_by: String::new(),
                place: step.place(span),
                uncertain: Some(why),
            },
        );
    }

    /// The indexes a field operation builds: those the new field has and
    /// the old one (`before`) had not.
    #[allow(clippy::too_many_arguments)]
    fn field_builds(
        &mut self,
        before: (bool, bool),
        field: &FieldSpec,
        table: &str,
        column: &str,
        table_is_new: bool,
        step: &Step,
        span: crate::source::Span,
    ) {
        if field.unreadable {
            return;
        }
        let (plain, unique) = field_indexes(field, step.settings.dialect);
        for (now, was, kind) in [
            (plain, before.0, BuildKind::FieldIndex),
            (unique, before.1, BuildKind::Unique),
        ] {
            if now && !was {
                self.build(
                    Build {
                        table: table.to_string(),
                        name: None,
                        columns: vec![column.to_string()],
                        table_is_new,
                        concurrently: false,
                        drops: false,
                        kind,
                    },
                    step,
                    span,
                );
            }
        }
    }

    fn run_sql(&mut self, statement: &Statement, step: &Step, span: crate::source::Span) {
        let statement = match statement {
            Statement::Index(statement) => statement,
            Statement::Table(statement) => return self.run_table_sql(statement, step, span),
        };
        match statement {
            IndexStatement::Create(create) => {
                let table = create.table.clone();
                let table_is_new =
                    self.models.values().any(|m| {
                        m.created_by == step.migration.name && m.table(step.label) == table
                    }) || self
                        .sql_tables
                        .get(&table)
                        .is_some_and(|t| t.migration == step.id());
                let mut index = Index::new(create.parts.clone(), IndexOrigin::Migration);
                index.name = create.name.clone();
                index.unique = create.unique;
                index.method = create.method.clone();
                index.include = create.include.clone();
                index.predicate = create.predicate.clone();
                index.location = Some(step.location(span));
                let columns = index
                    .parts
                    .iter()
                    .map(|p| match &p.key {
                        IndexKey::Column(c) => c.clone(),
                        IndexKey::Expression(e) => e.clone(),
                    })
                    .collect();
                if let Some(name) = &create.name {
                    self.sql_indexes
                        .retain(|(_, i)| i.name.as_deref() != Some(name.as_str()));
                    self.dropped_by_sql.retain(|n| n != name);
                }
                self.sql_indexes.push((table.clone(), index));
                self.build(
                    Build {
                        table,
                        name: create.name.clone(),
                        columns,
                        table_is_new,
                        concurrently: create.concurrently,
                        drops: false,
                        kind: BuildKind::Sql,
                    },
                    step,
                    span,
                );
            }
            IndexStatement::Drop { name, .. } => {
                self.sql_indexes
                    .retain(|(_, i)| i.name.as_deref() != Some(name.as_str()));
                if !self.dropped_by_sql.contains(name) {
                    self.dropped_by_sql.push(name.clone());
                }
            }
            IndexStatement::Rename { from, to, .. } => {
                for (_, index) in &mut self.sql_indexes {
                    if index.name.as_deref() == Some(from.as_str()) {
                        index.name = Some(to.clone());
                    }
                }
            }
        }
    }

    /// A table statement of `RunSQL`: it changes the tables `RunSQL`
    /// made, and moves or drops the raw SQL indexes with their table.
    /// Statements on a table Django's state knows change nothing here.
    fn run_table_sql(
        &mut self,
        statement: &TableStatement,
        step: &Step,
        span: crate::source::Span,
    ) {
        match statement {
            TableStatement::Create(create) => {
                let name = &create.table.name;
                let known = self.sql_tables.contains_key(name)
                    || self
                        .models
                        .values()
                        .any(|m| m.managed && !m.proxy && m.table(step.label) == *name);
                // `IF NOT EXISTS` on a table that exists does nothing; a
                // plain `CREATE TABLE` of one fails the migration.
                if known {
                    return;
                }
                self.sql_indexes.retain(|(t, _)| t != name);
                self.sql_tables.insert(
                    name.clone(),
                    SqlTable {
                        create: create.clone(),
                        migration: step.id(),
                        place: step.place(span),
                        uncertain: create
                            .unknown
                            .as_ref()
                            .map(|what| step.at(&format!("`RunSQL` runs {what}"), span)),
                    },
                );
            }
            TableStatement::Drop { tables } => {
                for table in tables {
                    self.sql_tables.remove(&table.name);
                    // The database drops a table's indexes with it.
                    self.sql_indexes.retain(|(t, _)| *t != table.name);
                }
            }
            TableStatement::Rename { from, to } => {
                if let Some(mut table) = self.sql_tables.remove(&from.name) {
                    table.create.table.name = to.clone();
                    self.sql_tables.insert(to.clone(), table);
                }
                for (table, _) in &mut self.sql_indexes {
                    if *table == from.name {
                        *table = to.clone();
                    }
                }
            }
            TableStatement::Alter { table, actions } => {
                let Some(sql_table) = self.sql_tables.get_mut(&table.name) else {
                    return;
                };
                for action in actions {
                    // MySQL drops a `CREATE INDEX` index with `ALTER TABLE`.
                    if let AlterTable::DropConstraint(name) = action
                        && self.sql_indexes.iter().any(|(t, i)| {
                            *t == table.name && i.name.as_deref() == Some(name.as_str())
                        })
                    {
                        self.sql_indexes
                            .retain(|(_, i)| i.name.as_deref() != Some(name.as_str()));
                        continue;
                    }
                    if let Err(why) = sql_table.create.apply(action) {
                        sql_table.uncertain.get_or_insert_with(|| {
                            step.at(&format!("`ALTER TABLE {}` {why}", table.name), span)
                        });
                    }
                }
            }
        }
    }

    fn build(&mut self, build: Build, step: &Step, span: crate::source::Span) {
        let atomic = step.migration.atomic;
        let help = build_help(build.kind, build.concurrently);
        self.builds.push(IndexBuild {
            framework: Framework::Django,
            dialect: step.settings.dialect,
            dialect_assumed: step.settings.dialect_assumed,
            table: build.table,
            index_name: build.name,
            columns: build.columns,
            migration: step.id(),
            migration_label: format!("migration `{}`", step.id()),
            table_is_new: build.table_is_new,
            concurrently: build.concurrently,
            outside_transaction: !atomic,
            drops: build.drops,
            help,
            newest: step.newest,
            pending: true,
            location: Some(step.location(span)),
        });
    }
}

/// One index build, before it becomes an `IndexBuild`.
struct Build {
    table: String,
    name: Option<String>,
    columns: Vec<String>,
    table_is_new: bool,
    concurrently: bool,
    drops: bool,
    kind: BuildKind,
}

/// How to write the operation so that PostgreSQL builds the index without
/// blocking writes, as Django projects do it.
fn build_help(kind: BuildKind, concurrently: bool) -> String {
    const NOT_ATOMIC: &str = "set `atomic = False` on the `Migration` class: PostgreSQL runs CONCURRENTLY only outside a transaction (keep the migration to this operation, since nothing in it is rolled back on failure)";
    if concurrently {
        return NOT_ATOMIC.to_string();
    }
    match kind {
        BuildKind::Index => "use `AddIndexConcurrently` (from `django.contrib.postgres.operations`) instead of `AddIndex`, in a migration with `atomic = False`".into(),
        BuildKind::FieldIndex => "in a migration with `atomic = False`, wrap the operation in `SeparateDatabaseAndState`: keep it as the state operation, and build the index with `RunSQL(\"CREATE INDEX CONCURRENTLY ...\")` as the database operation (for a new column: add it without the index first)".into(),
        BuildKind::Unique => "in a migration with `atomic = False`, build the unique index first with `RunSQL(\"CREATE UNIQUE INDEX CONCURRENTLY ...\")`, then attach it with `ALTER TABLE ... ADD CONSTRAINT ... UNIQUE USING INDEX ...`, wrapping both in `SeparateDatabaseAndState` with the Django operation as the state operation".into(),
        BuildKind::IndexTogether => "declare the index in `Meta.indexes` instead and build it with `AddIndexConcurrently` (from `django.contrib.postgres.operations`) in a migration with `atomic = False`".into(),
        BuildKind::Sql => "write `CREATE INDEX CONCURRENTLY` and set `atomic = False` on the `Migration` class".into(),
    }
}

/// The SQL columns (or expressions) an `Index`/constraint declaration
/// covers; a field the state does not know keeps its name.
fn decl_columns(decl: &IndexDecl, columns: &FxHashMap<String, String>) -> Vec<String> {
    decl.fields
        .iter()
        .map(|(f, _)| columns.get(f).cloned().unwrap_or_else(|| f.clone()))
        .chain(decl.expressions.iter().cloned())
        .collect()
}

fn python_str(value: &str) -> String {
    crate::frameworks::python::quote(value)
}

/// `'name'` and `"name"`: how a migration may quote an index name.
fn quote_variants(name: &str) -> [String; 2] {
    [format!("'{name}'"), format!("\"{name}\"")]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frameworks::django::migrations;
    use crate::source::SourceFile;

    fn migration(name: &str, body: &str) -> MigrationFile {
        let text = format!(
            "from django.contrib.postgres.operations import AddIndexConcurrently\nfrom django.db import migrations, models\n\n\nclass Migration(migrations.Migration):\n{body}\n"
        );
        let source = SourceFile::new(PathBuf::from(format!("shop/migrations/{name}.py")), text);
        migrations::extract(source)
    }

    fn replay_all(files: &[MigrationFile]) -> AppHistory {
        let refs: Vec<&MigrationFile> = files.iter().collect();
        let (ordered, leaves) = order("shop", &refs);
        replay(
            "shop",
            Path::new("shop"),
            &ordered,
            &leaves,
            &Settings {
                dialect: Dialect::Postgresql,
                dialect_assumed: false,
            },
        )
    }

    const INITIAL: &str = r#"    initial = True
    dependencies = []
    operations = [
        migrations.CreateModel(
            name="Order",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("customer", models.ForeignKey(on_delete=models.CASCADE, to="crm.customer")),
                ("code", models.CharField(max_length=20)),
                ("status", models.CharField(max_length=10)),
            ],
            options={
                "indexes": [models.Index(fields=["status"], name="ord_status_ix")],
                "unique_together": {("customer", "code")},
            },
        ),
        migrations.AddIndex(
            model_name="order",
            index=models.Index(fields=["code"], name="ord_code_ix"),
        ),
    ]"#;

    #[test]
    fn squashes_stand_for_what_they_replace_and_leaves_are_the_newest() {
        let files = [
            migration("0001_initial", "    dependencies = []\n    operations = []"),
            migration(
                "0002_a",
                "    dependencies = [(\"shop\", \"0001_initial\")]\n    operations = []",
            ),
            migration(
                "0001_squashed_0002_a",
                "    replaces = [(\"shop\", \"0001_initial\"), (\"shop\", \"0002_a\")]\n    dependencies = []\n    operations = []",
            ),
            migration(
                "0003_b",
                "    dependencies = [(\"shop\", \"0002_a\"), (\"crm\", \"0001_initial\")]\n    operations = []",
            ),
            migration(
                "0003_c",
                "    dependencies = [(\"shop\", \"0001_squashed_0002_a\")]\n    operations = []",
            ),
        ];
        let refs: Vec<&MigrationFile> = files.iter().collect();
        let (ordered, leaves) = order("shop", &refs);
        let names: Vec<&str> = ordered.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, vec!["0001_squashed_0002_a", "0003_b", "0003_c"]);
        assert_eq!(leaves, vec!["0003_b", "0003_c"]);
    }

    #[test]
    fn the_state_follows_every_operation_and_builds_are_recorded() {
        let files = vec![
            migration("0001_initial", INITIAL),
            migration(
                "0002_more",
                r#"    dependencies = [("shop", "0001_initial")]
    operations = [
        migrations.AddField(
            model_name="order",
            name="note",
            field=models.TextField(db_index=True, default=""),
        ),
        migrations.AlterField(
            model_name="order",
            name="code",
            field=models.CharField(max_length=30, unique=True),
        ),
        migrations.AlterField(
            model_name="order",
            name="status",
            field=models.CharField(max_length=12),
        ),
        migrations.AddConstraint(
            model_name="order",
            constraint=models.UniqueConstraint(fields=("status", "note"), name="ord_sn_uq"),
        ),
        migrations.AlterUniqueTogether(
            name="order",
            unique_together={("customer", "code"), ("customer", "status")},
        ),
        migrations.RemoveIndex(model_name="order", name="ord_code_ix"),
        migrations.RenameIndex(model_name="order", new_name="ord_st_ix", old_name="ord_status_ix"),
        migrations.RunSQL("CREATE INDEX ord_legacy ON shop_order (status) WHERE status = 'x'"),
        AddIndexConcurrently(
            model_name="order",
            index=models.Index(fields=["-note"], name="ord_note_ix"),
        ),
        migrations.RunPython(migrations.RunPython.noop),
    ]"#,
            ),
        ];
        let history = replay_all(&files);
        assert_eq!(history.uncertain, None);
        let order = &history.models["order"];
        assert_eq!(order.uncertain, None);
        assert_eq!(order.table("shop"), "shop_order");
        let indexes: Vec<&str> = order
            .indexes
            .iter()
            .filter_map(|i| i.decl.name.as_deref())
            .collect();
        assert_eq!(indexes, vec!["ord_st_ix", "ord_note_ix"]);
        assert!(order.indexes[0].code.contains("name=\"ord_st_ix\""));
        let together: Vec<&Vec<String>> = order.unique_together.iter().map(|t| &t.fields).collect();
        assert_eq!(
            together,
            vec![
                &vec!["customer".to_string(), "code".to_string()],
                &vec!["customer".to_string(), "status".to_string()]
            ]
        );
        assert_eq!(
            history
                .sql_indexes
                .iter()
                .map(|(t, i)| format!("{t} {}", i.display_name()))
                .collect::<Vec<_>>(),
            vec!["shop_order ord_legacy"]
        );
        let builds: Vec<String> = history
            .builds
            .iter()
            .map(|b| {
                format!(
                    "{} {} {} new={} concurrently={} outside={}",
                    b.migration,
                    b.index_name.as_deref().unwrap_or("-"),
                    b.columns.join(","),
                    b.table_is_new,
                    b.concurrently,
                    b.outside_transaction
                )
            })
            .collect();
        assert_eq!(
            builds,
            vec![
                "shop.0001_initial ord_code_ix code new=true concurrently=false outside=false",
                "shop.0002_more - note new=false concurrently=false outside=false",
                "shop.0002_more - code new=false concurrently=false outside=false",
                "shop.0002_more ord_sn_uq status,note new=false concurrently=false outside=false",
                "shop.0002_more - customer_id,status new=false concurrently=false outside=false",
                "shop.0002_more ord_legacy status new=false concurrently=false outside=false",
                "shop.0002_more ord_note_ix note new=false concurrently=true outside=false",
            ]
        );
        assert!(history.builds[0].help.contains("AddIndexConcurrently"));
        assert!(history.builds[6].help.contains("atomic = False"));
        assert!(
            history
                .builds
                .iter()
                .all(|b| b.newest == (b.migration == "shop.0002_more"))
        );
    }

    #[test]
    fn state_operations_change_the_state_and_database_operations_only_build() {
        let files = vec![
            migration("0001_initial", INITIAL),
            migration(
                "0002_concurrent",
                r#"    atomic = False
    dependencies = [("shop", "0001_initial")]
    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="order",
                    name="status",
                    field=models.CharField(db_index=True, max_length=10),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    sql="CREATE INDEX CONCURRENTLY shop_order_status_idx ON shop_order (status);",
                    reverse_sql="DROP INDEX CONCURRENTLY shop_order_status_idx;",
                ),
            ],
        ),
    ]"#,
            ),
        ];
        let history = replay_all(&files);
        let status = history.models["order"].field("status").unwrap();
        assert_eq!(status.spec.db_index, Some(true));
        let last = history.builds.last().unwrap();
        assert_eq!(
            (
                last.index_name.as_deref(),
                last.concurrently,
                last.outside_transaction
            ),
            (Some("shop_order_status_idx"), true, true)
        );
        // The state operation builds nothing: the database operation does.
        assert_eq!(history.builds.len(), 2);
    }

    #[test]
    fn operation_lists_may_be_names_and_sums_and_removed_columns_drop_their_indexes() {
        let files = [
            migration("0001_initial", INITIAL),
            migration(
                "0002_swap",
                r#"    dependencies = [("shop", "0001_initial")]
    state_operations = [
        migrations.RemoveField(model_name="order", name="code"),
    ]
    operations = [
        migrations.SeparateDatabaseAndState(state_operations=state_operations),
    ] + EXTRA"#,
            ),
        ];
        let mut files = files;
        // `EXTRA` is a module-level list.
        let text = files[1].source.text.replace(
            "class Migration",
            r#"EXTRA = [migrations.RenameField(model_name="order", old_name="status", new_name="code")]


class Migration"#,
        );
        let source = SourceFile::new(files[1].source.path.clone(), text);
        files[1] = migrations::extract(source);
        let history = replay_all(&files);
        assert_eq!(history.uncertainty("order"), None);
        let order = &history.models["order"];
        let names: Vec<&str> = order.fields.iter().map(|f| f.spec.name.as_str()).collect();
        assert_eq!(names, vec!["id", "customer", "code"]);
        // `ord_code_ix` and the unique (customer, code) named the removed
        // column: the state keeps them, the database does not.
        let code_ix = order
            .indexes
            .iter()
            .find(|i| i.decl.name.as_deref() == Some("ord_code_ix"))
            .unwrap();
        assert!(!code_ix.in_database);
        assert!(!order.unique_together[0].in_database);
        assert!(order.indexes[0].in_database);
    }

    #[test]
    fn what_cannot_be_evaluated_makes_the_state_uncertain() {
        let files = vec![
            migration("0001_initial", INITIAL),
            migration(
                "0002_custom",
                r#"    dependencies = [("shop", "0001_initial")]
    operations = [
        MyCustomOperation(model_name="order"),
        migrations.AddField(model_name="ghost", name="x", field=models.IntegerField()),
    ]"#,
            ),
        ];
        let history = replay_all(&files);
        assert_eq!(history.uncertain, None);
        assert!(
            history.models["order"]
                .uncertain
                .as_deref()
                .is_some_and(|u| u.contains("MyCustomOperation"))
        );
        assert!(history.models["ghost"].uncertain.is_some());
        let unreadable = migration(
            "0003_loop",
            "    dependencies = [(\"shop\", \"0001_initial\")]\n    operations = make_operations()",
        );
        let history = replay_all(&[migration("0001_initial", INITIAL), unreadable]);
        assert!(history.uncertainty("order").is_some());
    }

    #[test]
    fn run_sql_tables_are_created_altered_renamed_and_dropped() {
        let files = vec![migration(
            "0001_initial",
            r#"    dependencies = []
    operations = [
        migrations.CreateModel(
            name="Legacy",
            fields=[("id", models.IntegerField(primary_key=True))],
            options={"db_table": "legacy", "managed": False},
        ),
        migrations.RunSQL(
            sql=[
                "CREATE TABLE legacy (id int PRIMARY KEY, owner_id int REFERENCES auth_user (id))",
                ("CREATE INDEX legacy_owner ON legacy (owner_id)", None),
            ],
            reverse_sql="DROP TABLE legacy",
        ),
        migrations.RunSQL("CREATE TABLE scratch (id int); CREATE INDEX scratch_ix ON scratch (id); DROP TABLE scratch"),
        migrations.RunSQL("CREATE TABLE old_name (id int); ALTER TABLE old_name RENAME TO new_name; ALTER TABLE new_name ADD COLUMN x int UNIQUE"),
        migrations.RunSQL("CREATE TABLE odd (id int); ALTER TABLE odd INHERIT base"),
        migrations.RunSQL("CREATE TABLE copy AS SELECT * FROM legacy"),
        migrations.CreateModel(
            name="Order",
            fields=[("id", models.BigAutoField(primary_key=True))],
        ),
        migrations.RunSQL("CREATE TABLE IF NOT EXISTS shop_order (id int)"),
    ]"#,
        )];
        let history = replay_all(&files);
        let tables: Vec<(&str, &str, bool)> = history
            .sql_tables
            .iter()
            .map(|(name, t)| (name.as_str(), t.migration.as_str(), t.uncertain.is_some()))
            .collect();
        assert_eq!(
            tables,
            vec![
                ("copy", "shop.0001_initial", true),
                ("legacy", "shop.0001_initial", false),
                ("new_name", "shop.0001_initial", false),
                ("odd", "shop.0001_initial", true),
                // `IF NOT EXISTS` on the table `CreateModel` made does
                // nothing.
            ]
        );
        let legacy = &history.sql_tables["legacy"].create;
        assert_eq!(legacy.primary_key(), vec!["id"]);
        assert!(legacy.columns[1].references.is_some());
        assert_eq!(history.sql_tables["new_name"].create.columns[1].name, "x");
        // The dropped table's index went with it.
        let indexes: Vec<&str> = history
            .sql_indexes
            .iter()
            .map(|(t, _)| t.as_str())
            .collect();
        assert_eq!(indexes, vec!["legacy"]);
        assert!(
            history.sql_tables["odd"]
                .uncertain
                .as_deref()
                .is_some_and(|u| u.contains("inherit base"))
        );
    }
}
