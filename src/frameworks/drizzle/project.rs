//! Resolves Drizzle facts from every file into schema tables: table and
//! column SQL names (creators, `pgSchema`, `casing`), references across
//! files through imports, the implicit PK/UNIQUE indexes, `relations()` as
//! logical foreign keys, and the drizzle-kit folder's indexes that the
//! schema does not declare.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use super::Casing;
use super::config::{DrizzleConfig, normalize as lexical};
use super::kit::KitFolder;
use super::schema::{
    Builder, ColumnDecl, ColumnRef, Creator, DrizzleFile, ExtraKind, IndexDecl, PartDecl, SqlPiece,
    SqlText, TableDecl, TableRef,
};
use super::types::{ScriptTypes, TypeResolver};
use crate::InputError;
use crate::schema::sql::{self, IndexStatement};
use crate::schema::{
    Column, Dialect, ForeignKey, Framework, Index, IndexKey, IndexMethod, IndexOrigin, IndexPart,
    Table,
};
use crate::source::Location;

#[derive(Debug, Default)]
pub struct Inputs {
    pub files: Vec<DrizzleFile>,
    pub configs: Vec<DrizzleConfig>,
    pub kits: Vec<KitFolder>,
    /// Every script's imports and column helpers, for column types.
    pub types: Vec<ScriptTypes>,
}

#[derive(Debug, Default)]
pub struct DrizzleProject {
    pub files: Vec<DrizzleFile>,
    pub configs: Vec<DrizzleConfig>,
    pub kits: Vec<KitFolder>,
    pub tables: Vec<Table>,
    /// One entry per schema table, in the same order as `tables`.
    pub mapped: Vec<MappedTable>,
}

/// Where a schema table came from, for writing fixes.
#[derive(Debug, Clone)]
pub struct MappedTable {
    /// The SQL name as in the schema (`billing.invoices`).
    pub name: String,
    pub schema: Option<String>,
    /// The SQL name without the schema.
    pub bare_name: String,
    pub file: usize,
    pub decl: usize,
    pub dialect: Dialect,
    pub config: Option<usize>,
    pub kit: Option<usize>,
    /// Column SQL name → key in code.
    pub keys: BTreeMap<String, String>,
}

impl DrizzleProject {
    pub fn decl(&self, mapped: &MappedTable) -> &TableDecl {
        &self.files[mapped.file].tables[mapped.decl]
    }

    /// The position in `mapped` of the table a finding is about: by name,
    /// and by file when two projects in one checkout share a table name.
    pub fn mapped_for(&self, table: &str, path: Option<&Path>) -> Option<usize> {
        let mut candidates = (0..self.mapped.len()).filter(|&m| self.mapped[m].name == table);
        let first = candidates.next()?;
        let Some(path) = path else {
            return Some(first);
        };
        std::iter::once(first)
            .chain(candidates)
            .find(|&m| {
                let mapped = &self.mapped[m];
                self.files[mapped.file].source.path == path
                    || mapped
                        .kit
                        .is_some_and(|k| path.starts_with(&self.kits[k].out))
            })
            .or(Some(first))
    }
}

/// A table found anywhere: (file, declaration).
type TableId = (usize, usize);

struct Resolver<'p> {
    files: &'p [DrizzleFile],
    by_var: HashMap<&'p str, Vec<TableId>>,
}

impl<'p> Resolver<'p> {
    fn new(files: &'p [DrizzleFile]) -> Self {
        let mut by_var: HashMap<&str, Vec<TableId>> = HashMap::new();
        for (f, file) in files.iter().enumerate() {
            for (d, table) in file.tables.iter().enumerate() {
                by_var.entry(table.var.as_str()).or_default().push((f, d));
            }
        }
        Resolver { files, by_var }
    }

    /// The table a reference in `file` names (`this` is the table whose
    /// extra config holds the reference).
    fn table(&self, file: usize, reference: &TableRef, this: Option<TableId>) -> Option<TableId> {
        if *reference == TableRef::This {
            return this;
        }
        let here = &self.files[file];
        self.lookup(
            &here.source.path,
            &here.imports,
            Some(file),
            reference,
            false,
        )
    }

    /// The table a variable names in the file at `path` with `imports`
    /// (`local`: the file, when it declares tables). `strict`: a name that
    /// is neither declared there nor imported names nothing (query code
    /// has local variables that share a table's name); else it names the
    /// only table of that variable name anywhere.
    fn lookup(
        &self,
        path: &Path,
        imports: &[super::schema::Import],
        local: Option<usize>,
        reference: &TableRef,
        strict: bool,
    ) -> Option<TableId> {
        let (local_name, namespace) = match reference {
            TableRef::This => return None,
            TableRef::Var(var) => (var.as_str(), None),
            TableRef::Namespaced(ns, var) => (var.as_str(), Some(ns.as_str())),
        };
        if namespace.is_none()
            && let Some(file) = local
            && let Some(d) = self.files[file]
                .tables
                .iter()
                .position(|t| t.var == local_name)
        {
            return Some((file, d));
        }
        let import = imports.iter().find(|i| match namespace {
            Some(ns) => i.local == ns && i.imported.is_none(),
            None => i.local == local_name,
        });
        if strict && import.is_none() {
            // `import { schema } from "@acme/db"` where the package does
            // `import * as schema from "./schema"; export { schema }`: a
            // namespace re-exported by name, trusted only when one table
            // has the variable name.
            let reexported = namespace.is_some_and(|ns| imports.iter().any(|i| i.local == ns));
            return match self.by_var.get(local_name)?.as_slice() {
                [only] if reexported => Some(*only),
                _ => None,
            };
        }
        let exported = match (import, namespace) {
            (Some(i), None) => i.imported.as_deref().unwrap_or(local_name),
            _ => local_name,
        };
        let candidates = self.by_var.get(exported)?;
        if candidates.len() == 1 {
            return Some(candidates[0]);
        }
        // Several tables share the variable name: take the one the import
        // path points at.
        let import = import?;
        let target = module_path(path, &import.module)?;
        candidates
            .iter()
            .copied()
            .find(|(f, _)| same_module(&self.files[*f].source.path, &target))
    }
}

/// The project's tables as query code names them.
pub struct QueryTables<'p> {
    project: &'p DrizzleProject,
    resolver: Resolver<'p>,
}

impl DrizzleProject {
    pub fn query_tables(&self) -> QueryTables<'_> {
        QueryTables {
            project: self,
            resolver: Resolver::new(&self.files),
        }
    }
}

impl QueryTables<'_> {
    /// The table (its position in `tables`) a variable names in the file
    /// at `path`: declared there, or imported (by name, through a barrel,
    /// or `import * as schema`).
    pub fn named(
        &self,
        path: &Path,
        imports: &[super::schema::Import],
        reference: &TableRef,
    ) -> Option<usize> {
        let local = self
            .project
            .files
            .iter()
            .position(|f| f.source.path == path);
        let id = self
            .resolver
            .lookup(path, imports, local, reference, true)?;
        self.position(id)
    }

    /// The table exported under `name`, when only one table has that
    /// variable name (`db.query.<name>` names the key of the schema
    /// object, which is the export's name when the schema is spread from
    /// the module).
    pub fn exported(&self, name: &str) -> Option<usize> {
        match self.resolver.by_var.get(name)?.as_slice() {
            [id] => self.position(*id),
            _ => None,
        }
    }

    /// The SQL name of the column with key `key` in the table.
    pub fn column(&self, table: usize, key: &str) -> Option<&str> {
        self.project.mapped[table]
            .keys
            .iter()
            .find(|(_, k)| *k == key)
            .map(|(sql, _)| sql.as_str())
    }

    fn position(&self, (file, decl): TableId) -> Option<usize> {
        self.project
            .mapped
            .iter()
            .position(|m| m.file == file && m.decl == decl)
    }

    /// How a relational query's `with: { <field>: ... }` on `table` reads
    /// the related table, as drizzle-orm's `normalizeRelation` resolves the
    /// relation: a `one()` with `fields`/`references` reads the target by
    /// its `references`; any other relation takes the columns of the one
    /// reverse relation on the target (paired by `relationName`, else by
    /// table), which must be a `one()` with `fields`. `None` where drizzle
    /// would throw (no reverse, several) or ixray cannot tell.
    pub fn relation(&self, table: usize, field: &str) -> Option<RelationRead> {
        let mapped = &self.project.mapped[table];
        let source: TableId = (mapped.file, mapped.decl);
        let files = &self.project.files;
        let relations_of = |id: TableId| {
            files.iter().enumerate().flat_map(move |(f, file)| {
                file.relations
                    .iter()
                    .filter(move |r| self.resolver.table(f, &r.table, None) == Some(id))
                    .map(move |r| (f, r))
            })
        };
        let mut named = relations_of(source).filter(|(_, r)| r.field == field);
        let (f, relation) = named.next()?;
        if named.next().is_some() {
            return None;
        }
        let target = self.resolver.table(f, &relation.target, None)?;
        let target_position = self.position(target)?;
        let columns_on = |f: usize, refs: &[super::schema::ColumnRef]| {
            refs.iter()
                .map(|r| {
                    (self.resolver.table(f, &r.table, None) == Some(target))
                        .then(|| self.column(target_position, &r.key).map(str::to_string))
                        .flatten()
                })
                .collect::<Option<Vec<String>>>()
        };
        if !relation.many && !relation.fields.is_empty() {
            return Some(RelationRead {
                table: target_position,
                columns: columns_on(f, &relation.references)?,
                many: false,
                by_target_key: true,
            });
        }
        let reverse: Vec<(usize, &super::schema::RelationDecl)> = relations_of(target)
            .filter(|(f2, r)| match &relation.relation_name {
                Some(name) => {
                    !std::ptr::eq(*r, relation) && r.relation_name.as_deref() == Some(name)
                }
                None => self.resolver.table(*f2, &r.target, None) == Some(source),
            })
            .collect();
        let [(f2, reverse)] = reverse.as_slice() else {
            return None;
        };
        if reverse.many || reverse.fields.is_empty() {
            return None;
        }
        Some(RelationRead {
            table: target_position,
            columns: columns_on(*f2, &reverse.fields)?,
            many: relation.many,
            by_target_key: false,
        })
    }
}

/// What loading one relation reads: `table WHERE columns = <parent's>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelationRead {
    /// The related table (its position in `tables`).
    pub table: usize,
    /// SQL names of the related table's columns the rows are found by.
    pub columns: Vec<String>,
    /// `many()`: all matching rows; else at most one.
    pub many: bool,
    /// Read by the columns the parent's foreign key references (a
    /// many-to-one, usually by the primary key).
    pub by_target_key: bool,
}

/// `./users` from `src/db/orders.ts` → `src/db/users` (no extension).
pub(super) fn module_path(from: &Path, module: &str) -> Option<PathBuf> {
    if !module.starts_with('.') {
        return None;
    }
    let dir = from.parent().unwrap_or(Path::new(""));
    Some(lexical(&dir.join(module)))
}

pub(super) fn same_module(file: &Path, target: &Path) -> bool {
    let file = lexical(file);
    let stem = file.with_extension("");
    // `./users.js` in ESM TypeScript names `users.ts`.
    stem == *target
        || stem == target.with_extension("")
        || (file.file_stem().is_some_and(|s| s == "index") && file.parent() == Some(target))
}

/// A table's facts after the first pass: names and columns.
struct Named<'p> {
    id: TableId,
    decl: &'p TableDecl,
    creator: Creator,
    name: String,
    schema: Option<String>,
    bare_name: String,
    /// Each column with its SQL name and the file that declares it (a
    /// spread column set may live in another file).
    columns: Vec<(&'p ColumnDecl, String, usize)>,
    config: Option<usize>,
}

pub fn resolve(inputs: Inputs, errors: &mut Vec<InputError>) -> DrizzleProject {
    let Inputs {
        mut files,
        mut configs,
        mut kits,
        types,
    } = inputs;
    let types = TypeResolver::new(&types);
    files.sort_by(|a, b| a.source.path.cmp(&b.source.path));
    configs.sort_by(|a, b| a.path.cmp(&b.path));
    kits.sort_by(|a, b| a.out.cmp(&b.out));
    let resolver = Resolver::new(&files);
    // Runtime casing (`drizzle({ casing })`) when the config has none.
    let runtime_casing = files.iter().find_map(|f| f.casing);
    let mut named: Vec<Named> = Vec::new();
    let mut seen: HashMap<(String, Dialect), PathBuf> = HashMap::new();
    for (f, file) in files.iter().enumerate() {
        let config = config_for(&configs, &file.source.path);
        let casing = config.and_then(|c| configs[c].casing).or(runtime_casing);
        for (d, decl) in file.tables.iter().enumerate() {
            let Some(creator) = builder(&files, file, &decl.builder) else {
                continue;
            };
            let bare_name = format!("{}{}{}", creator.prefix, decl.name, creator.suffix);
            let name = match &creator.schema {
                Some(s) => format!("{s}.{bare_name}"),
                None => bare_name.clone(),
            };
            if let Some(first) = seen.get(&(name.clone(), creator.dialect))
                && (config.is_none() || config_for(&configs, first) == config)
            {
                errors.push(InputError {
                    path: file.source.path.clone(),
                    position: Some(line_col(file, decl.span.start)),
                    message: format!(
                        "table `{name}` is declared again (first in {}); this one is skipped",
                        first.display()
                    ),
                });
                continue;
            }
            seen.insert((name.clone(), creator.dialect), file.source.path.clone());
            let mut columns: Vec<(&ColumnDecl, String, usize)> = Vec::new();
            for spread in &decl.spreads {
                if let Some((from, set)) = column_set(&files, f, spread) {
                    columns.extend(set.iter().map(|c| (c, column_name(c, casing), from)));
                }
            }
            columns.extend(decl.columns.iter().map(|c| (c, column_name(c, casing), f)));
            named.push(Named {
                id: (f, d),
                decl,
                schema: creator.schema.clone(),
                creator,
                name,
                bare_name,
                columns,
                config,
            });
        }
    }
    let index_of: HashMap<TableId, usize> =
        named.iter().enumerate().map(|(i, n)| (n.id, i)).collect();
    let column_of = |table: Option<TableId>, key: &str| -> Option<(usize, String)> {
        let n = *index_of.get(&table?)?;
        named[n]
            .columns
            .iter()
            .find(|(c, _, _)| c.key == key)
            .map(|(_, sql, _)| (n, sql.clone()))
    };
    let mut tables = Vec::new();
    let mut mapped = Vec::new();
    for table in &named {
        let (f, _) = table.id;
        let file = &files[f];
        let location = |span| file.source.location(span);
        let this = Some(table.id);
        let local_column = |r: &ColumnRef| -> Option<String> {
            column_of(resolver.table(f, &r.table, this), &r.key)
                .filter(|(n, _)| named[*n].id == table.id)
                .map(|(_, sql)| sql)
        };
        let mut out = Table {
            name: table.name.clone(),
            model: table.decl.var.clone(),
            framework: Framework::Drizzle,
            dialect: table.creator.dialect,
            managed: true,
            unknown_indexes: None,
            dialect_assumed: false,
            location: Some(location(table.decl.span)),
            columns: Vec::new(),
            foreign_keys: Vec::new(),
            generic_foreign_keys: Vec::new(),
            indexes: Vec::new(),
        };
        for (column, sql_name, declared_in) in &table.columns {
            out.columns.push(Column {
                primary_key: column.primary_key,
                type_family: column
                    .builder
                    .as_deref()
                    .and_then(|b| types.family(&files[*declared_in].source.path, b)),
                location: Some(files[*declared_in].source.location(column.span)),
                ..Column::new(sql_name.clone(), column.key.clone())
            });
            if column.primary_key {
                let mut index =
                    Index::new(vec![IndexPart::column(sql_name)], IndexOrigin::PrimaryKey);
                index.unique = true;
                index.name = Some(format!("{}_pkey", table.bare_name));
                index.field = Some(column.key.clone());
                index.location = Some(location(column.span));
                out.indexes.push(index);
            }
            if let Some(name) = &column.unique {
                let mut index =
                    Index::new(vec![IndexPart::column(sql_name)], IndexOrigin::UniqueField);
                index.unique = true;
                index.name = Some(
                    name.clone()
                        .unwrap_or_else(|| format!("{}_{sql_name}_unique", table.bare_name)),
                );
                index.field = Some(column.key.clone());
                index.location = Some(location(column.span));
                out.indexes.push(index);
            }
            if let Some(target) = &column.references {
                let resolved = column_of(resolver.table(f, &target.table, this), &target.key);
                out.foreign_keys.push(ForeignKey {
                    columns: vec![sql_name.clone()],
                    ref_table: resolved.as_ref().map(|(n, _)| named[*n].name.clone()),
                    ref_columns: resolved.map(|(_, c)| vec![c]).unwrap_or_default(),
                    enforced: true,
                    relation_only: false,
                    field: column.key.clone(),
                    location: Some(location(column.span)),
                });
            }
        }
        for item in table.decl.extra.iter().flat_map(|e| &e.items) {
            let item_location = Some(location(item.span));
            match &item.kind {
                ExtraKind::Index(decl) => {
                    if let Some(mut index) = declared_index(decl, table, &local_column) {
                        index.location = item_location;
                        out.indexes.push(index);
                    }
                }
                ExtraKind::PrimaryKey { name, columns } | ExtraKind::Unique { name, columns } => {
                    let Some(columns) = columns
                        .iter()
                        .map(&local_column)
                        .collect::<Option<Vec<_>>>()
                    else {
                        continue;
                    };
                    // drizzle-kit's names: `<t>_<cols>_pk`, `<t>_<cols>_unique`.
                    let (origin, suffix) = match item.kind {
                        ExtraKind::PrimaryKey { .. } => (IndexOrigin::PrimaryKey, "pk"),
                        _ => (IndexOrigin::UniqueConstraint, "unique"),
                    };
                    let mut index =
                        Index::new(columns.iter().map(IndexPart::column).collect(), origin);
                    index.unique = true;
                    index.name = Some(name.clone().unwrap_or_else(|| {
                        format!("{}_{}_{suffix}", table.bare_name, columns.join("_"))
                    }));
                    index.location = item_location;
                    if origin == IndexOrigin::PrimaryKey {
                        for c in &mut out.columns {
                            c.primary_key |= columns.contains(&c.name);
                        }
                    }
                    out.indexes.push(index);
                }
                ExtraKind::ForeignKey {
                    name: _,
                    columns,
                    foreign,
                } => {
                    let Some(local) = columns
                        .iter()
                        .map(&local_column)
                        .collect::<Option<Vec<_>>>()
                    else {
                        continue;
                    };
                    let targets: Vec<Option<(usize, String)>> = foreign
                        .iter()
                        .map(|r| column_of(resolver.table(f, &r.table, this), &r.key))
                        .collect();
                    let ref_table = targets
                        .first()
                        .and_then(|t| t.as_ref())
                        .map(|(n, _)| named[*n].name.clone());
                    out.foreign_keys.push(ForeignKey {
                        field: columns
                            .iter()
                            .map(|c| c.key.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                        columns: local,
                        ref_table,
                        ref_columns: targets.into_iter().flatten().map(|(_, c)| c).collect(),
                        enforced: true,
                        relation_only: false,
                        location: item_location,
                    });
                }
                ExtraKind::Other => {}
            }
        }
        let keys = table
            .columns
            .iter()
            .map(|(c, sql, _)| (sql.clone(), c.key.clone()))
            .collect();
        let kit = table.config.and_then(|c| {
            let out = lexical(&configs[c].out);
            kits.iter().position(|k| lexical(&k.out) == out)
        });
        mapped.push(MappedTable {
            name: table.name.clone(),
            schema: table.schema.clone(),
            bare_name: table.bare_name.clone(),
            file: f,
            decl: table.id.1,
            dialect: table.creator.dialect,
            config: table.config,
            kit,
            keys,
        });
        tables.push(out);
    }
    // `relations()`: `one(t, { fields, references })` is a foreign key in
    // the ORM only; without `.references()` the database has no constraint.
    for (f, file) in files.iter().enumerate() {
        for relation in &file.relations {
            let Some(owner) = relation
                .fields
                .first()
                .and_then(|r| resolver.table(f, &r.table, None))
                .and_then(|id| index_of.get(&id).copied())
            else {
                continue;
            };
            let Some(columns) = relation
                .fields
                .iter()
                .map(|r| column_of(resolver.table(f, &r.table, None), &r.key).map(|(_, c)| c))
                .collect::<Option<Vec<_>>>()
            else {
                continue;
            };
            let target = relation
                .references
                .first()
                .and_then(|r| column_of(resolver.table(f, &r.table, None), &r.key));
            let table = &mut tables[owner];
            if table.foreign_keys.iter().any(|fk| fk.columns == columns) {
                continue;
            }
            table.foreign_keys.push(ForeignKey {
                columns,
                ref_table: target.as_ref().map(|(n, _)| named[*n].name.clone()),
                ref_columns: relation
                    .references
                    .iter()
                    .filter_map(|r| column_of(resolver.table(f, &r.table, None), &r.key))
                    .map(|(_, c)| c)
                    .collect(),
                enforced: false,
                relation_only: true,
                field: relation.field.clone(),
                location: Some(file.source.location(relation.span)),
            });
        }
    }
    // A kit folder whose newest snapshot lacks tables the schema maps to it
    // is not what the database follows (the project pushes, or generates
    // elsewhere): its SQL and snapshot say nothing certain about the
    // database, so they are not read into the tables, and no migration is
    // written into it.
    for (k, kit) in kits.iter().enumerate() {
        let missing: Vec<&str> = mapped
            .iter()
            .filter(|m| m.kit == Some(k))
            .filter(|m| {
                kit.snapshot.as_ref().is_some_and(|s| {
                    s.table(m.schema.as_deref(), &m.bare_name, m.dialect)
                        .is_none()
                })
            })
            .map(|m| m.name.as_str())
            .collect();
        if !missing.is_empty() {
            errors.push(InputError::new(
                &kit.out,
                format!(
                    "the newest drizzle-kit snapshot lacks {} table{} the schema declares ({}…): the folder looks unused, so ixray does not read its migrations or write new ones",
                    missing.len(),
                    if missing.len() == 1 { "" } else { "s" },
                    missing.iter().take(3).map(|m| format!("`{m}`")).collect::<Vec<_>>().join(", ")
                ),
            ));
            for map in mapped.iter_mut().filter(|m| m.kit == Some(k)) {
                map.kit = None;
            }
        }
    }
    for (table, map) in tables.iter_mut().zip(&mapped) {
        if let Some(k) = map.kit {
            add_kit_indexes(table, map, &kits[k]);
        }
    }
    DrizzleProject {
        files,
        configs,
        kits,
        tables,
        mapped,
    }
}

fn line_col(file: &DrizzleFile, offset: usize) -> (usize, usize) {
    let location = file
        .source
        .location(crate::source::Span::new(offset, offset));
    (location.line, location.column)
}

/// The config whose `schema` names the file; else the nearest config in a
/// folder above it.
fn config_for(configs: &[DrizzleConfig], path: &Path) -> Option<usize> {
    if let Some(i) = configs.iter().position(|c| c.covers(path)) {
        return Some(i);
    }
    let path = lexical(path);
    configs
        .iter()
        .enumerate()
        .filter(|(_, c)| c.schema.is_empty() && path.starts_with(lexical(c.dir())))
        .max_by_key(|(_, c)| c.dir().components().count())
        .map(|(i, _)| i)
}

fn builder(files: &[DrizzleFile], file: &DrizzleFile, builder: &Builder) -> Option<Creator> {
    match builder {
        Builder::Resolved(creator) => Some(creator.clone()),
        Builder::Imported(local) => {
            let import = file.imports.iter().find(|i| &i.local == local)?;
            let exported = import.imported.as_deref()?;
            let candidates: Vec<(&DrizzleFile, &Creator)> = files
                .iter()
                .flat_map(|f| f.creators.iter().map(move |c| (f, c)))
                .filter(|(_, c)| c.var == exported)
                .collect();
            if let Some(target) = module_path(&file.source.path, &import.module)
                && let Some((_, creator)) = candidates
                    .iter()
                    .find(|(f, _)| same_module(&f.source.path, &target))
            {
                return Some((*creator).clone());
            }
            let [(found_in, creator)] = candidates.as_slice() else {
                return None;
            };
            // A package's `createTable` (a UI table library's) is not the
            // project's creator of the same name; a workspace package
            // (`@acme/db`) is the project's own folder of that name.
            let from_package = !import.module.starts_with('.')
                && !["@/", "~/", "#", "$"]
                    .iter()
                    .any(|alias| import.module.starts_with(alias));
            if from_package {
                let package = import
                    .module
                    .split('/')
                    .nth(usize::from(import.module.starts_with('@')));
                let in_its_folder = package.is_some_and(|name| {
                    found_in
                        .source
                        .path
                        .components()
                        .any(|c| c.as_os_str() == name)
                });
                if !in_its_folder {
                    return None;
                }
            }
            Some((*creator).clone())
        }
    }
}

/// A spread column set, with the file that declares it.
fn column_set<'p>(
    files: &'p [DrizzleFile],
    file: usize,
    var: &str,
) -> Option<(usize, &'p [ColumnDecl])> {
    if let Some(local) = files[file].column_sets.iter().find(|s| s.var == var) {
        return Some((file, local.columns.as_slice()));
    }
    let exported = files[file]
        .imports
        .iter()
        .find(|i| i.local == var)
        .and_then(|i| i.imported.as_deref())
        .unwrap_or(var);
    files.iter().enumerate().find_map(|(f, other)| {
        other
            .column_sets
            .iter()
            .find(|s| s.var == exported)
            .map(|s| (f, s.columns.as_slice()))
    })
}

/// A column's SQL name: its builder's argument, else its key with casing.
fn column_name(column: &ColumnDecl, casing: Option<Casing>) -> String {
    match (&column.sql_name, casing) {
        (Some(name), _) => name.clone(),
        (None, Some(casing)) => casing.apply(&column.key),
        (None, None) => column.key.clone(),
    }
}

fn render(sql: &SqlText, column: &impl Fn(&ColumnRef) -> Option<String>) -> Option<String> {
    let mut text = String::new();
    for piece in &sql.pieces {
        match piece {
            SqlPiece::Text(t) => text.push_str(t),
            SqlPiece::Column(r) => text.push_str(&column(r)?),
        }
    }
    Some(text)
}

fn declared_index(
    decl: &IndexDecl,
    table: &Named,
    column: &impl Fn(&ColumnRef) -> Option<String>,
) -> Option<Index> {
    let mut parts = Vec::new();
    for part in &decl.parts {
        parts.push(match part {
            PartDecl::Column {
                column: r,
                desc,
                opclass,
            } => IndexPart {
                key: IndexKey::Column(column(r)?),
                desc: *desc,
                opclass: opclass.clone(),
            },
            PartDecl::Expression(sql) => {
                let text = render(sql, column)?;
                sql::index_part(&text).unwrap_or(IndexPart {
                    key: IndexKey::Expression(text),
                    desc: false,
                    opclass: None,
                })
            }
        });
    }
    if parts.is_empty() {
        return None;
    }
    let mut index = Index::new(parts, IndexOrigin::Declared);
    index.unique = decl.unique;
    // drizzle-kit's name for an unnamed index: `<table>_<cols>_index`.
    index.name = Some(decl.name.clone().unwrap_or_else(|| {
        let columns: Vec<String> = index
            .parts
            .iter()
            .map(|p| match &p.key {
                IndexKey::Column(c) => c.clone(),
                IndexKey::Expression(e) => e.clone(),
            })
            .collect();
        format!("{}_{}_index", table.bare_name, columns.join("_"))
    }));
    if let Some(method) = &decl.method {
        index.method = IndexMethod::parse(method);
    }
    // MySQL has no partial indexes; drizzle's mysql-core has no `.where()`.
    if table.creator.dialect != Dialect::Mysql {
        index.predicate = decl
            .predicate
            .as_ref()
            .and_then(|p| render(p, column))
            .map(|text| sql::predicate(&text));
    }
    Some(index)
}

/// Indexes the database has that the schema does not declare: in the
/// newest snapshot (`drizzle-kit generate` would drop them: drift), or made
/// by hand-written SQL migrations (the snapshot never sees them).
fn add_kit_indexes(table: &mut Table, mapped: &MappedTable, kit: &KitFolder) {
    let declared: Vec<String> = table
        .indexes
        .iter()
        .filter_map(|i| i.name.clone())
        .collect();
    let mut from_sql: BTreeMap<String, (Index, Location)> = BTreeMap::new();
    for migration in &kit.statements {
        match &migration.statement {
            IndexStatement::Create(create) if create.table == mapped.bare_name => {
                let Some(name) = &create.name else { continue };
                let mut index = Index::new(create.parts.clone(), IndexOrigin::Migration);
                index.name = Some(name.clone());
                index.unique = create.unique;
                index.method = create.method.clone();
                index.predicate = create.predicate.clone();
                index.include = create.include.clone();
                let at = migration.line_start;
                let location = migration.file.location(crate::source::Span::new(at, at));
                from_sql.insert(name.clone(), (index, location));
            }
            IndexStatement::Drop { name, .. } => {
                from_sql.remove(name);
            }
            IndexStatement::Rename { from, to, .. } => {
                if let Some((mut index, location)) = from_sql.remove(from) {
                    index.name = Some(to.clone());
                    from_sql.insert(to.clone(), (index, location));
                }
            }
            IndexStatement::Create(_) => {}
        }
    }
    let snapshot_indexes = kit
        .snapshot
        .as_ref()
        .map(|s| s.indexes(mapped.schema.as_deref(), &mapped.bare_name, mapped.dialect))
        .unwrap_or_default();
    let in_snapshot: Vec<&str> = snapshot_indexes.iter().map(|i| i.name.as_str()).collect();
    for (name, (mut index, location)) in from_sql {
        if declared.contains(&name) {
            continue;
        }
        index.drift = in_snapshot.contains(&name.as_str());
        index.location = Some(location);
        table.indexes.push(index);
    }
    // drizzle-kit writes a MySQL `uniqueIndex` inside CREATE TABLE
    // (`CONSTRAINT name UNIQUE(..)`), which is no CREATE INDEX; the snapshot
    // lists it with the others. An index no statement names was made that
    // way; one a statement drops or renames is left to the statements.
    for snap in snapshot_indexes {
        let named = kit.statements.iter().any(|m| match &m.statement {
            IndexStatement::Create(c) => c.name.as_deref() == Some(snap.name.as_str()),
            IndexStatement::Drop { name, .. } => *name == snap.name,
            IndexStatement::Rename { from, to, .. } => *from == snap.name || *to == snap.name,
        });
        if named || declared.contains(&snap.name) {
            continue;
        }
        let Some(location) = kit.migrations.iter().find_map(|file| {
            let at = file.text.find(&snap.name)?;
            let line_start = file.lines.line_start(file.lines.line_of(at));
            Some(file.location(crate::source::Span::new(line_start, line_start)))
        }) else {
            continue;
        };
        let parts: Vec<IndexPart> = snap
            .columns
            .iter()
            .map(|c| {
                if c.is_expression {
                    sql::index_part(&c.expression).unwrap_or(IndexPart {
                        key: IndexKey::Expression(c.expression.clone()),
                        desc: c.desc,
                        opclass: None,
                    })
                } else {
                    IndexPart {
                        key: IndexKey::Column(c.expression.clone()),
                        desc: c.desc,
                        opclass: None,
                    }
                }
            })
            .collect();
        if parts.is_empty() {
            continue;
        }
        let mut index = Index::new(parts, IndexOrigin::Migration);
        index.name = Some(snap.name.clone());
        index.unique = snap.unique;
        if let Some(method) = &snap.method {
            index.method = IndexMethod::parse(method);
        }
        index.predicate = snap.predicate.as_deref().map(sql::predicate);
        index.drift = true;
        index.location = Some(location);
        table.indexes.push(index);
    }
}
