//! Resolves SQLAlchemy facts from every file into schema tables: which
//! classes map a table (declarative bases, `__abstract__`, single-table and
//! joined inheritance, mixins), column SQL names, foreign keys by SQL or
//! attribute reference, naming conventions, module-level indexes, and the
//! indexes only the Alembic history creates.

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;

use super::models::{
    CarrierKind, ClassDecl, ColumnDecl, ColumnRef, ConstraintDecl, Convention, ConventionRef,
    FkRef, IndexDecl, MetadataVar, ModelsFile, TableArgs,
};
use super::{NameColumns, apply_dialect_options, index_name};
use crate::InputError;
use crate::frameworks::alembic::history::{self, Environment};
use crate::frameworks::alembic::revisions::{qualify, split_qualified};
use crate::frameworks::alembic::{IniFacts, revisions::RevisionFile};
use crate::schema::{
    Column, Dialect, ForeignKey, Framework, Index, IndexKey, IndexOrigin, IndexPart, Table,
};

pub struct Inputs {
    pub models: Vec<ModelsFile>,
    pub revisions: Vec<RevisionFile>,
    pub inis: Vec<IniFacts>,
    /// From the command line or `ixray.toml`; overrides `alembic.ini`.
    pub dialect: Option<Dialect>,
}

/// Where a table is declared, for fixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableSource {
    Class { file: usize, class: usize },
    Table { file: usize, table: usize },
}

/// Which declaration a column comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnOwner {
    Class {
        file: usize,
        class: usize,
        column: usize,
    },
    Table {
        file: usize,
        table: usize,
        column: usize,
    },
    /// A column of a class's `__table__ = Table(...)`.
    ClassTable {
        file: usize,
        class: usize,
        column: usize,
    },
}

impl ColumnOwner {
    pub fn file(self) -> usize {
        match self {
            ColumnOwner::Class { file, .. }
            | ColumnOwner::Table { file, .. }
            | ColumnOwner::ClassTable { file, .. } => file,
        }
    }

    /// The declaration this owner points at.
    pub fn declaration(self, files: &[ModelsFile]) -> &ColumnDecl {
        match self {
            ColumnOwner::Class {
                file,
                class,
                column,
            } => &files[file].classes[class].columns[column],
            ColumnOwner::Table {
                file,
                table,
                column,
            } => &files[file].tables[table].columns[column],
            ColumnOwner::ClassTable {
                file,
                class,
                column,
            } => {
                &files[file].classes[class]
                    .table
                    .as_ref()
                    .expect("a ClassTable owner has a table")
                    .columns[column]
            }
        }
    }
}

#[derive(Debug, Clone)]
pub struct ResolvedColumn {
    pub attr: String,
    /// The name `Index("...")` strings use.
    pub key: String,
    pub name: String,
    pub owner: ColumnOwner,
}

#[derive(Debug, Clone)]
pub struct MappedTable {
    /// The bare SQL name (naming conventions use it).
    pub name: String,
    /// `__table_args__ = {"schema": ...}`, `Table(..., schema=...)`.
    pub schema: Option<String>,
    pub model: String,
    pub source: TableSource,
    pub convention: Convention,
    pub columns: Vec<ResolvedColumn>,
    /// The class has no `__table_args__` but a mixin gives it one, which a
    /// new one on the class would silently replace.
    pub inherited_table_args: bool,
    /// Classes whose columns land in this table (STI subclasses).
    pub sti_classes: Vec<(usize, usize)>,
    /// Declared in a scripts, tests or examples folder.
    pub in_side_folder: bool,
}

impl MappedTable {
    /// `schema.table`, or the bare name in the default schema: the name the
    /// schema graph and the migration history use.
    pub fn qualified(&self) -> String {
        qualify(self.schema.as_deref(), &self.name)
    }

    pub fn column_by_key(&self, key: &str) -> Option<&ResolvedColumn> {
        self.columns
            .iter()
            .find(|c| c.attr == key)
            .or_else(|| self.columns.iter().find(|c| c.key == key))
            .or_else(|| self.columns.iter().find(|c| c.name == key))
    }

    pub fn column_by_name(&self, name: &str) -> Option<&ResolvedColumn> {
        self.columns.iter().find(|c| c.name == name)
    }
}

#[derive(Debug, Default)]
pub struct SqlalchemyProject {
    pub files: Vec<ModelsFile>,
    pub tables: Vec<Table>,
    /// By qualified SQL table name.
    pub mapped: BTreeMap<String, MappedTable>,
    pub environments: Vec<Environment>,
    pub dialect: Dialect,
    /// Tables only the migration history creates: no model ixray reads
    /// maps them, so no fix can edit one.
    pub history_tables: Vec<String>,
}

impl SqlalchemyProject {
    pub fn class(&self, file: usize, class: usize) -> &ClassDecl {
        &self.files[file].classes[class]
    }

    pub fn column(&self, owner: ColumnOwner) -> &ColumnDecl {
        owner.declaration(&self.files)
    }

    /// The Alembic environment that builds `table`, or the only one.
    pub fn environment_for(&self, table: &str) -> Option<usize> {
        self.environments
            .iter()
            .position(|e| e.state.tables.contains_key(table))
            .or_else(|| (self.environments.len() == 1).then_some(0))
    }
}

pub fn resolve(inputs: Inputs, errors: &mut Vec<InputError>) -> SqlalchemyProject {
    let mut files = inputs.models;
    files.sort_by(|a, b| a.source.path.cmp(&b.source.path));
    apply_convention_overrides(&mut files);
    let environments = history::build(inputs.revisions, inputs.inis, inputs.dialect, errors);
    let dialect = inputs
        .dialect
        .or_else(|| environments.first().map(|e| e.dialect))
        .unwrap_or_default();
    let mut resolver = Resolver::new(&files, dialect);
    resolver.map_tables();
    let mut tables = resolver.build_tables();
    let carriers: Vec<Option<String>> = (0..resolver.mapped.len())
        .map(|m| resolver.carrier_of(m))
        .collect();
    let mut mapped = std::mem::take(&mut resolver.mapped);
    let targets: Vec<&str> = environments
        .iter()
        .filter_map(|e| e.env.as_ref())
        .flat_map(|e| e.target_carriers.iter().map(String::as_str))
        .collect();
    let keep = application_tables(&mapped, &carriers, &targets);
    // Autogenerate compares only the metadata env.py targets (when ixray
    // can tell which it is).
    let mut targeted: Vec<bool> = carriers
        .iter()
        .map(|c| targets.is_empty() || c.as_deref().is_none_or(|c| targets.contains(&c)))
        .collect();
    let mut kept = keep.iter();
    tables.retain(|_| *kept.next().expect("one table per mapping"));
    let mut kept = keep.iter();
    mapped.retain(|_| *kept.next().expect("one flag per mapping"));
    let mut kept = keep.iter();
    targeted.retain(|_| *kept.next().expect("one flag per mapping"));
    merge_history(&mut tables, &targeted, &environments);
    let dialect_assumed =
        inputs.dialect.is_none() && environments.first().is_none_or(|e| e.dialect_assumed);
    let only_in_history = history_only_tables(&tables, &environments);
    let history_tables = only_in_history.iter().map(|t| t.name.clone()).collect();
    tables.extend(only_in_history);
    for table in &mut tables {
        table.dialect_assumed = dialect_assumed;
    }
    SqlalchemyProject {
        mapped: mapped.into_iter().map(|m| (m.qualified(), m)).collect(),
        files,
        tables,
        environments,
        dialect,
        history_tables,
    }
}

/// Tables only the migration history knows: an `op.create_table` whose
/// model no module ixray reads maps (a model that was deleted while its
/// table stayed, one from an installed package, one built by code). The
/// database has them as the history left them, so they are analysed with
/// what it says; when the history of the table is not certain, no rule
/// speaks about it and `ixray schema` says why. Left out when any model
/// maps a table of the same name in another schema (a default schema ixray
/// may not see).
fn history_only_tables(model_tables: &[Table], environments: &[Environment]) -> Vec<Table> {
    let known: rustc_hash::FxHashSet<&str> = model_tables
        .iter()
        .map(|t| split_qualified(&t.name).1)
        .collect();
    let mut out: Vec<Table> = Vec::new();
    for environment in environments {
        let state = &environment.state;
        for (name, history) in &state.tables {
            if history.created_by.is_none()
                || known.contains(split_qualified(name).1)
                || out.iter().any(|t| &t.name == name)
            {
                continue;
            }
            let mut indexes = Vec::new();
            if let Some(columns) = history.primary_key.as_ref().filter(|c| !c.is_empty()) {
                let mut pk = Index::new(
                    columns.iter().map(IndexPart::column).collect(),
                    IndexOrigin::PrimaryKey,
                );
                pk.unique = true;
                pk.location = history.location.clone();
                indexes.push(pk);
            }
            indexes.extend(history.indexes.iter().cloned());
            // Only a migration can change them.
            for index in &mut indexes {
                index.locked = true;
            }
            let mut columns = history.columns.clone();
            if let Some(key) = &history.primary_key {
                for column in &mut columns {
                    column.primary_key = key.contains(&column.name);
                }
            }
            out.push(Table {
                name: name.clone(),
                model: name.clone(),
                framework: Framework::Sqlalchemy,
                dialect: environment.dialect,
                dialect_assumed: environment.dialect_assumed,
                managed: true,
                unknown_indexes: state.shape_uncertainty(name).map(|why| {
                    format!("the migration history has an operation ixray cannot evaluate: {why}")
                }),
                location: history.location.clone(),
                columns,
                foreign_keys: history
                    .foreign_keys
                    .iter()
                    .map(|fk| fk.key.clone())
                    .collect(),
                generic_foreign_keys: Vec::new(),
                indexes,
            });
        }
    }
    out
}

struct Resolver<'f> {
    files: &'f [ModelsFile],
    dialect: Dialect,
    classes: FxHashMap<&'f str, Vec<(usize, usize)>>,
    mapped: Vec<MappedTable>,
    /// Class name → index in `mapped` (STI subclasses point at the parent).
    class_tables: FxHashMap<(usize, usize), usize>,
    /// `Table` variable name → index in `mapped`.
    table_vars: FxHashMap<&'f str, usize>,
    /// Names bound to Flask-SQLAlchemy (`db = SQLAlchemy()`).
    flask_vars: Vec<&'f str>,
}

impl<'f> Resolver<'f> {
    fn new(files: &'f [ModelsFile], dialect: Dialect) -> Self {
        let mut classes: FxHashMap<&str, Vec<(usize, usize)>> = FxHashMap::default();
        for (f, file) in files.iter().enumerate() {
            for (c, class) in file.classes.iter().enumerate() {
                classes.entry(class.name.as_str()).or_default().push((f, c));
            }
        }
        Resolver {
            files,
            dialect,
            classes,
            mapped: Vec::new(),
            class_tables: FxHashMap::default(),
            table_vars: FxHashMap::default(),
            flask_vars: files
                .iter()
                .flat_map(|f| &f.metadata_vars)
                .filter(|v| v.kind == CarrierKind::FlaskSqlalchemy)
                .map(|v| v.name.as_str())
                .collect(),
        }
    }

    fn class(&self, at: (usize, usize)) -> &'f ClassDecl {
        &self.files[at.0].classes[at.1]
    }

    /// A class by (dotted) name as written in `file`: the same file first.
    fn find_class(&self, name: &str, file: usize) -> Option<(usize, usize)> {
        let candidates = self
            .classes
            .get(crate::frameworks::python::last_segment(name))?;
        candidates
            .iter()
            .find(|(f, _)| *f == file)
            .or_else(|| candidates.first())
            .copied()
    }

    /// Base classes in method resolution order (depth first, left to
    /// right, each once), without the class itself.
    fn ancestors(&self, at: (usize, usize)) -> Vec<(usize, usize)> {
        self.walk_bases(at, |_| false)
    }

    /// Unmapped ancestors (mixins, abstract bases) whose columns and
    /// `__table_args__` reach the class: the walk does not go past a mapped
    /// class, whose attributes take precedence (joined inheritance keeps the
    /// parent's mixin columns on the parent table).
    fn unmapped_ancestors(&self, at: (usize, usize)) -> Vec<(usize, usize)> {
        self.walk_bases(at, |next| {
            let class = self.class(next);
            class.tablename.is_some() || class.table.is_some() || self.maps_own_table(next)
        })
    }

    /// Depth-first walk over the bases; a class for which `stop` holds is
    /// neither returned nor walked through.
    fn walk_bases(
        &self,
        at: (usize, usize),
        stop: impl Fn((usize, usize)) -> bool,
    ) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        let mut stack: Vec<(usize, usize)> = Vec::new();
        let push_bases = |at: (usize, usize), stack: &mut Vec<(usize, usize)>| {
            for base in self.class(at).bases.iter().rev() {
                if let Some(found) = self.find_class(base, at.0)
                    && found != at
                {
                    stack.push(found);
                }
            }
        };
        push_bases(at, &mut stack);
        while let Some(next) = stack.pop() {
            if out.contains(&next) || next == at || out.len() > 64 || stop(next) {
                continue;
            }
            out.push(next);
            push_bases(next, &mut stack);
        }
        out
    }

    /// Whether the class maps its own table.
    fn maps_own_table(&self, at: (usize, usize)) -> bool {
        let class = self.class(at);
        if class.is_abstract || class.declarative_root {
            return false;
        }
        if class.tablename.is_some() || class.table.is_some() {
            return true;
        }
        let ancestors = self.ancestors(at);
        if ancestors.iter().any(|a| {
            let c = self.class(*a);
            c.tablename.is_some() || c.table.is_some()
        }) {
            return false;
        }
        ancestors
            .iter()
            .any(|a| self.class(*a).tablename_from_class_name)
            || (self.is_flask_model(at) && class.columns.iter().any(|c| c.primary_key))
    }

    /// Derives from Flask-SQLAlchemy's `db.Model`, which names tables after
    /// the class.
    fn is_flask_model(&self, at: (usize, usize)) -> bool {
        if self.flask_vars.is_empty() {
            return false;
        }
        let mut bases: Vec<&String> = self.class(at).bases.iter().collect();
        for ancestor in self.ancestors(at) {
            bases.extend(self.class(ancestor).bases.iter());
        }
        bases.iter().any(|b| {
            b.strip_suffix(".Model")
                .is_some_and(|v| self.flask_vars.contains(&v))
        })
    }

    fn table_name(&self, at: (usize, usize)) -> Option<String> {
        let class = self.class(at);
        if let Some(table) = &class.table {
            return Some(table.name.clone());
        }
        if let Some(name) = &class.tablename {
            return Some(name.clone());
        }
        if self
            .ancestors(at)
            .iter()
            .any(|a| self.class(*a).tablename_from_class_name)
        {
            return Some(class.name.to_lowercase());
        }
        if class.tablename_dynamic {
            return None;
        }
        Some(camel_to_snake(&class.name))
    }

    fn convention_for_class(&self, at: (usize, usize)) -> Convention {
        let mut chain = vec![at];
        chain.extend(self.ancestors(at));
        for c in &chain {
            let class = self.class(*c);
            if let Some(metadata) = &class.metadata {
                return self.convention(metadata, c.0, 0);
            }
            for decorator in &class.decorators {
                if let Some(registry) = decorator.strip_suffix(".mapped") {
                    return self.convention(&ConventionRef::Name(registry.into()), c.0, 0);
                }
            }
            for base in &class.bases {
                let carrier = base.strip_suffix(".Model").unwrap_or(base);
                if self.find_class(base, c.0).is_none()
                    && let Some(found) = self.carrier(carrier, c.0)
                {
                    return found;
                }
            }
        }
        Convention::default()
    }

    fn carrier(&self, name: &str, file: usize) -> Option<Convention> {
        self.find_var(name, file)
            .map(|(f, v)| self.convention(&self.files[f].metadata_vars[v].convention, f, 1))
    }

    fn find_var(&self, name: &str, file: usize) -> Option<(usize, usize)> {
        let name = crate::frameworks::python::last_segment(name);
        let in_file = |f: usize| {
            self.files[f]
                .metadata_vars
                .iter()
                .position(|v| v.name == name)
                .map(|v| (f, v))
        };
        in_file(file).or_else(|| (0..self.files.len()).find_map(in_file))
    }

    fn convention(&self, reference: &ConventionRef, file: usize, depth: usize) -> Convention {
        match reference {
            ConventionRef::Inline(c) => c.clone(),
            ConventionRef::Default => Convention::default(),
            ConventionRef::Name(_) if depth > 8 => Convention::default(),
            ConventionRef::Name(name) => {
                let name = name.strip_suffix(".metadata").unwrap_or(name);
                let short = crate::frameworks::python::last_segment(name);
                let dict = std::iter::once(file)
                    .chain(0..self.files.len())
                    .find_map(|f| {
                        self.files[f]
                            .convention_vars
                            .iter()
                            .find(|(n, _)| n == short)
                            .map(|(_, c)| c.clone())
                    });
                if let Some(dict) = dict {
                    return dict;
                }
                if let Some((f, v)) = self.find_var(short, file) {
                    return self.convention(
                        &self.files[f].metadata_vars[v].convention,
                        f,
                        depth + 1,
                    );
                }
                if let Some(class) = self.find_class(short, file)
                    && let Some(metadata) = &self.class(class).metadata
                {
                    return self.convention(metadata, class.0, depth + 1);
                }
                Convention::default()
            }
        }
    }

    /// Decide every mapped table and its columns.
    fn map_tables(&mut self) {
        let mut sti = Vec::new();
        for (f, file) in self.files.iter().enumerate() {
            for c in 0..file.classes.len() {
                let at = (f, c);
                if self.maps_own_table(at) {
                    let Some(name) = self.table_name(at) else {
                        continue;
                    };
                    let index = self.mapped.len();
                    let table = self.map_class(at, name);
                    self.mapped.push(table);
                    self.class_tables.insert(at, index);
                } else if !self.class(at).is_abstract && !self.class(at).declarative_root {
                    sti.push(at);
                }
            }
            for (t, table) in file.tables.iter().enumerate() {
                let index = self.mapped.len();
                let convention: Convention = table
                    .metadata
                    .as_ref()
                    .map(|m| self.convention(&ConventionRef::Name(m.clone()), f, 0))
                    .unwrap_or_default();
                self.mapped.push(MappedTable {
                    name: table.name.clone(),
                    schema: table.schema.clone().or_else(|| convention.schema.clone()),
                    model: table.var.clone().unwrap_or_else(|| table.name.clone()),
                    source: TableSource::Table { file: f, table: t },
                    convention,
                    columns: table
                        .columns
                        .iter()
                        .enumerate()
                        .map(|(i, col)| {
                            resolved(
                                col,
                                ColumnOwner::Table {
                                    file: f,
                                    table: t,
                                    column: i,
                                },
                            )
                        })
                        .collect(),
                    inherited_table_args: false,
                    sti_classes: Vec::new(),
                    in_side_folder: in_side_folder(&file.source.path),
                });
                if let Some(var) = &table.var {
                    self.table_vars.insert(var.as_str(), index);
                }
            }
        }
        // Single-table inheritance: a subclass without its own table adds
        // its columns to the nearest mapped ancestor's table.
        for at in sti {
            let Some(parent) = self
                .ancestors(at)
                .into_iter()
                .find_map(|a| self.class_tables.get(&a).copied())
            else {
                continue;
            };
            self.class_tables.insert(at, parent);
            let mut extra = Vec::new();
            for (i, column) in self.class(at).columns.iter().enumerate() {
                if self.mapped[parent]
                    .columns
                    .iter()
                    .all(|c| c.attr != column.attr)
                {
                    extra.push(resolved(
                        column,
                        ColumnOwner::Class {
                            file: at.0,
                            class: at.1,
                            column: i,
                        },
                    ));
                }
            }
            self.mapped[parent].columns.extend(extra);
            self.mapped[parent].sti_classes.push(at);
        }
    }

    fn map_class(&self, at: (usize, usize), name: String) -> MappedTable {
        let class = self.class(at);
        let mut columns: Vec<ResolvedColumn> = Vec::new();
        if let Some(table) = &class.table {
            for (i, col) in table.columns.iter().enumerate() {
                columns.push(resolved(
                    col,
                    ColumnOwner::ClassTable {
                        file: at.0,
                        class: at.1,
                        column: i,
                    },
                ));
            }
        } else {
            // Mixin and abstract-base columns are copied into the table;
            // mapped ancestors keep theirs (joined inheritance). Declarative
            // copies them after the class's own columns, nearest base
            // first, so `CREATE TABLE` (and a composite primary key) lists
            // the class's own columns first. The nearest definition of an
            // attribute wins.
            let mut sources = vec![at];
            sources.extend(self.unmapped_ancestors(at));
            for source in sources {
                for (i, col) in self.class(source).columns.iter().enumerate() {
                    if columns.iter().any(|c| c.attr == col.attr) {
                        continue;
                    }
                    columns.push(resolved(
                        col,
                        ColumnOwner::Class {
                            file: source.0,
                            class: source.1,
                            column: i,
                        },
                    ));
                }
            }
        }
        let convention = self.convention_for_class(at);
        let schema = match &class.table {
            Some(table) => table.schema.clone(),
            None => self
                .table_args(at)
                .and_then(|(_, args)| args.schema.clone()),
        }
        .or_else(|| convention.schema.clone());
        MappedTable {
            name,
            schema,
            model: class.name.clone(),
            source: TableSource::Class {
                file: at.0,
                class: at.1,
            },
            convention,
            columns,
            inherited_table_args: class.table_args.is_none()
                && self
                    .unmapped_ancestors(at)
                    .iter()
                    .any(|a| self.class(*a).table_args.is_some()),
            sti_classes: Vec::new(),
            in_side_folder: in_side_folder(&self.files[at.0].source.path),
        }
    }

    /// The name of the metadata carrier a mapping belongs to: `Base` for a
    /// class deriving from `Base` (a `declarative_base()` or a
    /// `DeclarativeBase` subclass), `db` for `db.Model`, `metadata` for
    /// `Table(..., metadata)`.
    fn carrier_of(&self, mapped: usize) -> Option<String> {
        let at = match self.mapped[mapped].source {
            TableSource::Table { file, table } => {
                let metadata = self.files[file].tables[table].metadata.as_deref()?;
                return metadata.split('.').next().map(str::to_string);
            }
            TableSource::Class { file, class } => (file, class),
        };
        let mut chain = vec![at];
        chain.extend(self.ancestors(at));
        for c in chain {
            let class = self.class(c);
            if class.declarative_root {
                return Some(class.name.clone());
            }
            for base in &class.bases {
                let carrier = base.strip_suffix(".Model").unwrap_or(base);
                if self.find_class(base, c.0).is_none() && self.find_var(carrier, c.0).is_some() {
                    return Some(crate::frameworks::python::last_segment(carrier).to_string());
                }
            }
        }
        None
    }

    /// The `__table_args__` in effect, with the file that writes it: the
    /// class's own, else the first unmapped ancestor's.
    fn table_args(&self, at: (usize, usize)) -> Option<(usize, &'f TableArgs)> {
        if let Some(args) = &self.class(at).table_args {
            return Some((at.0, args));
        }
        self.unmapped_ancestors(at)
            .into_iter()
            .find_map(|a| self.class(a).table_args.as_ref().map(|args| (a.0, args)))
    }

    fn table_args_items(&self, at: (usize, usize)) -> Vec<(usize, &'f ConstraintDecl)> {
        self.table_args(at)
            .map(|(file, args)| args.items.iter().map(|i| (file, i)).collect())
            .unwrap_or_default()
    }

    fn build_tables(&self) -> Vec<Table> {
        let mut tables: Vec<Table> = self
            .mapped
            .iter()
            .map(|mapped| self.build_table(mapped))
            .collect();
        // A module-level helper handed a mapped class may build indexes.
        for (f, file) in self.files.iter().enumerate() {
            for call in &file.module_calls {
                for name in &call.names {
                    let target = self
                        .find_class(name, f)
                        .and_then(|at| self.class_tables.get(&at).copied())
                        .or_else(|| self.table_vars.get(name.as_str()).copied());
                    if let Some(t) = target {
                        let location = file.source.location(call.span);
                        tables[t].unknown_indexes.get_or_insert_with(|| {
                            format!(
                                "`{}(…)` at {}:{} may build indexes ixray cannot see",
                                call.callee,
                                location.path.display(),
                                location.line
                            )
                        });
                    }
                }
            }
        }
        // Module-level `Index(...)` attaches to the table its columns name.
        for (f, file) in self.files.iter().enumerate() {
            for index in &file.indexes {
                let Some(target) = index
                    .parts
                    .iter()
                    .find_map(|p| self.table_of_ref(&p.column, f))
                else {
                    continue;
                };
                let mapped = &self.mapped[target];
                let built = self.build_index(index, mapped, f);
                tables[target].indexes.push(built);
            }
        }
        tables
    }

    fn table_of_ref(&self, column: &ColumnRef, file: usize) -> Option<usize> {
        match column {
            ColumnRef::Attr { class, .. } => {
                let at = self.find_class(class, file)?;
                self.class_tables.get(&at).copied()
            }
            ColumnRef::TableColumn { table, .. } => self.table_vars.get(table.as_str()).copied(),
            _ => None,
        }
    }

    /// The SQL column name a reference means in `mapped`.
    fn column_name(&self, column: &ColumnRef, mapped: &MappedTable) -> Option<String> {
        match column {
            ColumnRef::Key(key) => Some(
                mapped
                    .column_by_key(key)
                    .map_or_else(|| key.clone(), |c| c.name.clone()),
            ),
            ColumnRef::Attr { attr, .. } => Some(
                mapped
                    .column_by_key(attr)
                    .map_or_else(|| attr.clone(), |c| c.name.clone()),
            ),
            ColumnRef::TableColumn { column, .. } => Some(
                mapped
                    .column_by_key(column)
                    .map_or_else(|| column.clone(), |c| c.name.clone()),
            ),
            ColumnRef::Expression(_) => None,
        }
    }

    fn build_index(&self, decl: &IndexDecl, mapped: &MappedTable, file: usize) -> Index {
        let parts: Vec<IndexPart> = decl
            .parts
            .iter()
            .map(|p| IndexPart {
                key: match self.column_name(&p.column, mapped) {
                    Some(name) => IndexKey::Column(name),
                    None => match &p.column {
                        ColumnRef::Expression(e) => IndexKey::Expression(e.clone()),
                        other => IndexKey::Expression(format!("{other:?}")),
                    },
                },
                desc: p.desc,
                opclass: None,
            })
            .collect();
        let mut index = Index::new(parts, IndexOrigin::Declared);
        index.unique = decl.unique;
        index.name = self.name_for(mapped, &index, decl.name.as_deref());
        apply_dialect_options(&mut index, &decl.options, self.dialect, |r| {
            self.column_name(r, mapped)
        });
        index.location = Some(self.files[file].source.location(decl.span));
        index
    }

    fn name_for(
        &self,
        mapped: &MappedTable,
        index: &Index,
        explicit: Option<&str>,
    ) -> Option<String> {
        let columns: Vec<(&str, &str)> = index
            .parts
            .iter()
            .filter_map(|p| p.column_name())
            .map(|name| {
                let key = mapped.column_by_name(name).map_or(name, |c| c.key.as_str());
                (name, key)
            })
            .collect();
        if columns.is_empty() && explicit.is_none() {
            return None;
        }
        index_name(
            &mapped.convention,
            &NameColumns {
                table: &mapped.name,
                schema: mapped.schema.as_deref(),
                columns,
                referred_table: None,
            },
            explicit,
            self.dialect,
        )
    }

    fn build_table(&self, mapped: &MappedTable) -> Table {
        let location = match mapped.source {
            TableSource::Class { file, class } => self.files[file]
                .source
                .location(self.files[file].classes[class].name_span),
            TableSource::Table { file, table } => self.files[file]
                .source
                .location(self.files[file].tables[table].call.call),
        };
        let unknown_indexes = match mapped.source {
            TableSource::Class { file, class } => self
                .table_args((file, class))
                .and_then(|(_, args)| args.unreadable.clone())
                .or_else(|| {
                    self.unreadable_base((file, class))
                        .map(|base| format!("`{base}`, a base class ixray cannot read"))
                })
                .map(|what| {
                    format!("its indexes are partly built by code ixray cannot read: {what}")
                }),
            TableSource::Table { .. } => None,
        };
        let mut table = Table {
            name: mapped.qualified(),
            model: mapped.model.clone(),
            framework: Framework::Sqlalchemy,
            dialect: self.dialect,
            managed: true,
            unknown_indexes,
            dialect_assumed: false,
            location: Some(location),
            columns: Vec::new(),
            foreign_keys: Vec::new(),
            generic_foreign_keys: Vec::new(),
            indexes: Vec::new(),
        };
        let mut primary: Vec<String> = Vec::new();
        for column in &mapped.columns {
            let decl = self.column_decl(column.owner);
            let owner_file = column.owner.file();
            let location = self.files[owner_file].source.location(decl.statement);
            table.columns.push(Column {
                primary_key: decl.primary_key,
                type_family: decl.type_family,
                location: Some(location.clone()),
                ..Column::new(column.name.clone(), column.attr.clone())
            });
            if decl.primary_key {
                primary.push(column.name.clone());
            }
            for fk in &decl.foreign_keys {
                let (ref_table, ref_column) = self.fk_target(fk, owner_file);
                table.foreign_keys.push(ForeignKey {
                    columns: vec![column.name.clone()],
                    ref_table,
                    ref_columns: ref_column.into_iter().collect(),
                    enforced: true,
                    relation_only: false,
                    field: column.attr.clone(),
                    location: Some(location.clone()),
                });
            }
            let single = vec![IndexPart::column(&column.name)];
            if decl.index == Some(true) {
                let mut index = Index::new(single.clone(), IndexOrigin::FieldFlag);
                index.unique = decl.unique == Some(true);
                index.name = self.name_for(mapped, &index, None);
                index.field = Some(column.attr.clone());
                index.location = Some(location.clone());
                table.indexes.push(index);
            } else if decl.unique == Some(true) {
                let mut index = Index::new(single, IndexOrigin::UniqueField);
                index.unique = true;
                index.field = Some(column.attr.clone());
                index.location = Some(location.clone());
                table.indexes.push(index);
            }
        }
        let constraints: Vec<(usize, &ConstraintDecl)> = match mapped.source {
            TableSource::Class { file, class } => {
                let class_decl = &self.files[file].classes[class];
                match &class_decl.table {
                    Some(t) => t.constraints.iter().map(|c| (file, c)).collect(),
                    None => self.table_args_items((file, class)),
                }
            }
            TableSource::Table { file, table } => self.files[file].tables[table]
                .constraints
                .iter()
                .map(|c| (file, c))
                .collect(),
        };
        for (cf, constraint) in constraints {
            match constraint {
                ConstraintDecl::Index(decl) => {
                    let index = self.build_index(decl, mapped, cf);
                    table.indexes.push(index);
                }
                ConstraintDecl::Unique {
                    name,
                    columns,
                    span,
                } => {
                    let parts: Option<Vec<IndexPart>> = columns
                        .iter()
                        .map(|c| self.column_name(c, mapped).map(IndexPart::column))
                        .collect();
                    if let Some(parts) = parts {
                        let mut index = Index::new(parts, IndexOrigin::UniqueConstraint);
                        index.name = name.clone();
                        index.unique = true;
                        index.location = Some(self.files[cf].source.location(*span));
                        table.indexes.push(index);
                    }
                }
                ConstraintDecl::PrimaryKey { columns } => {
                    primary = columns
                        .iter()
                        .filter_map(|c| self.column_name(c, mapped))
                        .collect();
                    for column in &mut table.columns {
                        column.primary_key = primary.contains(&column.name);
                    }
                }
                ConstraintDecl::ForeignKey {
                    columns,
                    targets,
                    span,
                    ..
                } => {
                    let columns: Vec<String> = columns
                        .iter()
                        .filter_map(|c| self.column_name(c, mapped))
                        .collect();
                    let resolved: Vec<(Option<String>, Option<String>)> =
                        targets.iter().map(|t| self.fk_target(t, cf)).collect();
                    let field = columns.join(", ");
                    table.foreign_keys.push(ForeignKey {
                        columns,
                        ref_table: resolved.first().and_then(|(t, _)| t.clone()),
                        ref_columns: resolved.into_iter().filter_map(|(_, c)| c).collect(),
                        enforced: true,
                        relation_only: false,
                        field,
                        location: Some(self.files[cf].source.location(*span)),
                    });
                }
            }
        }
        if !primary.is_empty() {
            let mut index = Index::new(
                primary.iter().map(IndexPart::column).collect(),
                IndexOrigin::PrimaryKey,
            );
            index.unique = true;
            table.indexes.insert(0, index);
        }
        table
    }

    /// A base class of the class or its unmapped ancestors that is neither
    /// in the project nor a known declarative base or column-free mixin: it
    /// may add columns and indexes (an installed package's mixin).
    fn unreadable_base(&self, at: (usize, usize)) -> Option<String> {
        let mut chain = vec![at];
        chain.extend(self.unmapped_ancestors(at));
        for c in chain {
            for base in &self.class(c).bases {
                let plain = base.split('[').next().unwrap_or(base);
                let short = crate::frameworks::python::last_segment(plain);
                let file = &self.files[c.0];
                // A class of a project file that declares no columns (so
                // ixray did not parse it) adds none.
                let from_project_file = file
                    .imports
                    .from_modules
                    .iter()
                    .find(|(local, _)| local == plain.split('.').next().unwrap_or(plain))
                    .is_some_and(|(_, module)| {
                        crate::frameworks::python::module_file(module, &file.source.path).is_some()
                    });
                let known = self.find_class(plain, c.0).is_some()
                    || self
                        .find_var(plain.strip_suffix(".Model").unwrap_or(plain), c.0)
                        .is_some()
                    || COLUMN_FREE_BASES.contains(&short)
                    || from_project_file;
                if !known {
                    return Some(base.clone());
                }
            }
        }
        None
    }

    fn column_decl(&self, owner: ColumnOwner) -> &'f ColumnDecl {
        owner.declaration(self.files)
    }

    /// (table, column) SQL names of a foreign key target.
    fn fk_target(&self, fk: &FkRef, file: usize) -> (Option<String>, Option<String>) {
        match fk {
            // `[schema.]table.column`
            FkRef::Text(text) => {
                let mut segments = text.rsplitn(2, '.');
                let column = segments.next().map(str::to_string);
                let table = segments.next().map(|t| {
                    let (schema, bare) = split_qualified(t);
                    qualify(schema, bare)
                });
                (table, column)
            }
            FkRef::Attr { class, attr } => {
                let Some(at) = self.find_class(class, file) else {
                    return (None, Some(attr.clone()));
                };
                let Some(&t) = self.class_tables.get(&at) else {
                    return (None, Some(attr.clone()));
                };
                let mapped = &self.mapped[t];
                (
                    Some(mapped.qualified()),
                    Some(
                        mapped
                            .column_by_key(attr)
                            .map_or_else(|| attr.clone(), |c| c.name.clone()),
                    ),
                )
            }
            FkRef::TableColumn { table, column } => match self.table_vars.get(table.as_str()) {
                Some(&t) => (Some(self.mapped[t].qualified()), Some(column.clone())),
                None => (None, Some(column.clone())),
            },
        }
    }
}

fn in_side_folder(path: &std::path::Path) -> bool {
    path.components().any(|c| {
        c.as_os_str()
            .to_str()
            .is_some_and(|name| SIDE_FOLDERS.contains(&name))
    })
}

/// Base classes from libraries that add no columns or indexes.
const COLUMN_FREE_BASES: &[&str] = &[
    "object",
    "Generic",
    "Protocol",
    "ABC",
    "DeclarativeBase",
    "DeclarativeBaseNoMeta",
    "MappedAsDataclass",
    "AsyncAttrs",
    "Model",
    // flask_login, sqlalchemy_serializer: methods only.
    "UserMixin",
    "AnonymousUserMixin",
    "SerializerMixin",
];

fn resolved(column: &ColumnDecl, owner: ColumnOwner) -> ResolvedColumn {
    ResolvedColumn {
        attr: column.attr.clone(),
        // `Column("owner_id")` is keyed `owner_id` whatever attribute holds
        // it: declarative keeps the key the Column has (SQLAlchemy 2.0).
        key: column
            .key
            .clone()
            .unwrap_or_else(|| column.name().to_string()),
        name: column.name().to_string(),
        owner,
    }
}

/// Which mappings are the application's when several map the same table:
/// a stand-alone script (`scripts/create_tables.py` with its own `Base`)
/// must not replace or join the application's tables. The ones on the
/// metadata `env.py` targets win; without that, the ones outside script,
/// test and example folders.
fn application_tables(
    mapped: &[MappedTable],
    carriers: &[Option<String>],
    targets: &[&str],
) -> Vec<bool> {
    let mut keep = vec![true; mapped.len()];
    let mut groups: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, table) in mapped.iter().enumerate() {
        groups.entry(table.qualified()).or_default().push(i);
    }
    for members in groups.values().filter(|m| m.len() > 1) {
        let targeted: Vec<usize> = members
            .iter()
            .copied()
            .filter(|&i| carriers[i].as_deref().is_some_and(|c| targets.contains(&c)))
            .collect();
        let chosen: Vec<usize> = if !targeted.is_empty() {
            targeted
        } else {
            members
                .iter()
                .copied()
                .filter(|&i| !mapped[i].in_side_folder)
                .collect()
        };
        if chosen.is_empty() {
            continue;
        }
        for &i in members {
            keep[i] = chosen.contains(&i);
        }
    }
    keep
}

/// Folders whose code is not the application's own.
const SIDE_FOLDERS: &[&str] = &[
    "scripts", "script", "bin", "tools", "tests", "test", "examples", "example", "docs",
];

/// `db.Model.metadata.naming_convention = NAMING` replaces the convention
/// of the carrier `db` wherever it is defined (or defines the carrier when
/// ixray did not recognise its constructor, such as a `SQLAlchemy`
/// subclass).
fn apply_convention_overrides(files: &mut [ModelsFile]) {
    let overrides: Vec<(usize, String, ConventionRef)> = files
        .iter()
        .enumerate()
        .flat_map(|(f, file)| {
            file.convention_overrides
                .iter()
                .map(move |(carrier, convention)| (f, carrier.clone(), convention.clone()))
        })
        .collect();
    for (f, carrier, convention) in overrides {
        // A name reference is looked up from the file that assigns it.
        let convention = match convention {
            ConventionRef::Name(name) => files[f]
                .convention_vars
                .iter()
                .find(|(n, _)| *n == name)
                .map_or(ConventionRef::Name(name), |(_, c)| {
                    ConventionRef::Inline(c.clone())
                }),
            other => other,
        };
        let existing = files
            .iter_mut()
            .flat_map(|file| file.metadata_vars.iter_mut())
            .find(|v| v.name == carrier);
        match existing {
            Some(var) => var.convention = convention,
            None => files[f].metadata_vars.push(MetadataVar {
                name: carrier,
                kind: CarrierKind::MetaData,
                convention,
            }),
        }
    }
}

/// Flask-SQLAlchemy's table name for a class: `OrderItem` → `order_item`.
fn camel_to_snake(name: &str) -> String {
    let mut out = String::new();
    let chars: Vec<char> = name.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        if c.is_uppercase() {
            let prev_lower =
                i > 0 && (chars[i - 1].is_lowercase() || chars[i - 1].is_ascii_digit());
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            if i > 0 && (prev_lower || (next_lower && chars[i - 1].is_uppercase())) {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(*c);
        }
    }
    out
}

/// Indexes the history builds that no model declares join the model's
/// table: they exist in the database. Alembic autogenerate would drop them.
fn merge_history(tables: &mut [Table], targeted: &[bool], environments: &[Environment]) {
    for (table, &targeted) in tables.iter_mut().zip(targeted) {
        // The environment that builds the table, or the only one.
        let environment = environments
            .iter()
            .find(|e| e.state.tables.contains_key(&table.name))
            .or(match environments {
                [only] => Some(only),
                _ => None,
            });
        if table.unknown_indexes.is_none()
            && let Some(why) = environment.and_then(|e| e.state.uncertainty(&table.name))
        {
            table.unknown_indexes = Some(format!(
                "the migration history has an operation ixray cannot evaluate: {why}"
            ));
        }
        let Some(state) = environment.and_then(|e| e.state.tables.get(&table.name)) else {
            continue;
        };
        // The database's primary key is the one the history created; a
        // model `primary_key=True` only tells the ORM how to map rows.
        if let Some(columns) = &state.primary_key {
            let parts: Vec<IndexPart> = columns.iter().map(IndexPart::column).collect();
            let model = table
                .indexes
                .iter()
                .position(|i| i.origin == IndexOrigin::PrimaryKey);
            match model {
                Some(i) if parts.is_empty() => {
                    table.indexes.remove(i);
                }
                Some(i) => table.indexes[i].parts = parts,
                None if !parts.is_empty() => {
                    let mut index = Index::new(parts, IndexOrigin::PrimaryKey);
                    index.unique = true;
                    table.indexes.insert(0, index);
                }
                None => {}
            }
        }
        for built in &state.indexes {
            let declared = table.indexes.iter().any(|i| match (&i.name, &built.name) {
                (Some(a), Some(b)) if a == b => true,
                _ => {
                    i.parts == built.parts
                        && i.unique == built.unique
                        && i.predicate == built.predicate
                        && i.method == built.method
                }
            });
            if !declared {
                let mut index = built.clone();
                // Autogenerate drops what it compares and no model declares.
                index.drift = targeted
                    && environment.is_some_and(|e| {
                        e.autogenerate_compares(&table.name, index.name.as_deref())
                    });
                table.indexes.push(index);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frameworks::python as py;
    use crate::source::SourceFile;
    use std::path::PathBuf;

    fn project(files: &[(&str, &str)]) -> SqlalchemyProject {
        let models = files
            .iter()
            .map(|(path, text)| {
                let source = SourceFile::new(PathBuf::from(path), text.to_string());
                let tree = py::parse(text);
                super::super::models::extract(source, &tree)
            })
            .collect();
        let mut errors = Vec::new();
        resolve(
            Inputs {
                models,
                revisions: Vec::new(),
                inis: Vec::new(),
                dialect: Some(Dialect::Postgresql),
            },
            &mut errors,
        )
    }

    #[test]
    fn mixins_inheritance_and_association_tables() {
        let p = project(&[
            (
                "app/base.py",
                "from sqlalchemy.orm import DeclarativeBase\nclass Base(DeclarativeBase):\n    pass\n\nclass Owned:\n    owner_id: Mapped[int] = mapped_column(ForeignKey(\"user.id\"))\n",
            ),
            (
                "app/models.py",
                r#"from sqlalchemy import Column, ForeignKey, Index, Table
class User(Base):
    __tablename__ = "user"
    id: Mapped[int] = mapped_column(primary_key=True)

class Post(Owned, Base):
    __tablename__ = "post"
    id: Mapped[int] = mapped_column(primary_key=True)
    editor_id = Column(ForeignKey(User.id), index=True)
    kind: Mapped[str]

class Video(Post):
    duration: Mapped[int]

class Admin(User):
    __tablename__ = "admin"
    id: Mapped[int] = mapped_column(ForeignKey("user.id"), primary_key=True)

post_tag = Table(
    "post_tag", Base.metadata,
    Column("post_id", ForeignKey("post.id"), primary_key=True),
    Column("tag_id", ForeignKey("tag.id"), primary_key=True),
)
Index("ix_post_kind_desc", Post.kind.desc())
"#,
            ),
        ]);
        let summary: Vec<String> = p
            .tables
            .iter()
            .map(|t| {
                format!(
                    "{} cols={:?} fks={:?} ix={:?}",
                    t.name,
                    t.columns
                        .iter()
                        .map(|c| c.name.as_str())
                        .collect::<Vec<_>>(),
                    t.foreign_keys
                        .iter()
                        .map(|f| format!(
                            "{}->{}",
                            f.columns.join(","),
                            f.ref_table.clone().unwrap_or_default()
                        ))
                        .collect::<Vec<_>>(),
                    t.indexes
                        .iter()
                        .map(|i| i.display_name())
                        .collect::<Vec<_>>()
                )
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                "user cols=[\"id\"] fks=[] ix=[\"(id)\"]",
                "post cols=[\"id\", \"editor_id\", \"kind\", \"owner_id\", \"duration\"] fks=[\"editor_id->user\", \"owner_id->user\"] ix=[\"(id)\", \"ix_post_editor_id\", \"ix_post_kind_desc\"]",
                "admin cols=[\"id\"] fks=[\"id->user\"] ix=[\"(id)\"]",
                "post_tag cols=[\"post_id\", \"tag_id\"] fks=[\"post_id->post\", \"tag_id->tag\"] ix=[\"(post_id, tag_id)\"]",
            ]
        );
    }

    #[test]
    fn schemas_come_from_table_args_tables_and_metadata() {
        let p = project(&[(
            "app/models.py",
            r#"from sqlalchemy import Column, ForeignKey, Integer, MetaData, Table
from sqlalchemy.orm import declarative_base

Base = declarative_base(metadata=MetaData(schema="archive"))

class File(Base):
    __tablename__ = "files"
    id = Column(Integer, primary_key=True)

class Event(Base):
    __tablename__ = "events"
    __table_args__ = {"schema": "events"}
    id = Column(Integer, primary_key=True)
    file_id = Column(Integer, ForeignKey("archive.files.id"))

links = Table("links", Base.metadata, Column("event_id", ForeignKey("events.events.id")), schema="public")
"#,
        )]);
        let names: Vec<(&str, Vec<String>)> = p
            .tables
            .iter()
            .map(|t| {
                (
                    t.name.as_str(),
                    t.foreign_keys
                        .iter()
                        .filter_map(|f| f.ref_table.clone())
                        .collect(),
                )
            })
            .collect();
        assert_eq!(
            names,
            vec![
                ("archive.files", vec![]),
                ("events.events", vec!["archive.files".to_string()]),
                ("links", vec!["events.events".to_string()]),
            ]
        );
    }

    #[test]
    fn conventions_assigned_later_apply_when_they_can_be_rendered() {
        let names = |code: &str| -> Vec<Option<String>> {
            let p = project(&[("app/models.py", code)]);
            p.tables[0]
                .indexes
                .iter()
                .filter(|i| i.origin == IndexOrigin::FieldFlag)
                .map(|i| i.name.clone())
                .collect()
        };
        let model = "\nclass T(Base):\n    __tablename__ = \"t\"\n    id = Column(Integer, primary_key=True)\n    a = Column(Integer, index=True)\n";
        let plain = format!(
            "Base = declarative_base()\nNAMING = {{\"ix\": \"idx_%(table_name)s_%(column_0_name)s\"}}\nBase.metadata.naming_convention = NAMING\n{model}"
        );
        assert_eq!(names(&plain), vec![Some("idx_t_a".to_string())]);
        // A custom token is a function ixray cannot run: the name is left to
        // the convention.
        let custom = format!(
            "Base = declarative_base()\ndef _cols(c, t):\n    return 'x'\nNAMING = {{\"ix\": \"ix_%(cols)s\", \"cols\": _cols}}\nBase.metadata.naming_convention = NAMING\n{model}"
        );
        assert_eq!(names(&custom), vec![None]);
    }

    #[test]
    fn flask_models_are_named_after_the_class() {
        assert_eq!(camel_to_snake("OrderItem"), "order_item");
        assert_eq!(camel_to_snake("HTTPLog"), "http_log");
        let p = project(&[(
            "app.py",
            "from flask_sqlalchemy import SQLAlchemy\ndb = SQLAlchemy()\nclass OrderItem(db.Model):\n    id = db.Column(db.Integer, primary_key=True)\n    order_id = db.Column(db.Integer, db.ForeignKey('order.id'))\n",
        )]);
        assert_eq!(p.tables[0].name, "order_item");
        assert_eq!(
            p.tables[0].foreign_keys[0].ref_table.as_deref(),
            Some("order")
        );
    }
}
