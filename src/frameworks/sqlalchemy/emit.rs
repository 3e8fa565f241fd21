//! Writes SQLAlchemy fixes: `index=True` on a column (where the module
//! already uses that style), an `Index(...)` in `__table_args__` or a
//! `Table(...)`, or a module-level `Index(...)` after the class; removals of
//! redundant declarations; and one new Alembic revision per environment.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::models::{ArgsForm, ClassDecl, ModelsFile};
use super::project::{ColumnOwner, MappedTable, SqlalchemyProject, TableSource};
use super::{NameColumns, index_name};
use crate::frameworks::alembic::emit::{self as revision, IndexOp};
use crate::frameworks::django::emit::Unfixable;
use crate::frameworks::python as py;
use crate::rules::{Finding, FixIntent};
use crate::schema::{Framework, Index, IndexKey, IndexOrigin};
use crate::source::{ChangeSet, Edit, FileChange, Span};

/// An index to declare: SQL column names with direction.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Declaration {
    name: String,
    columns: Vec<(String, bool)>,
    unique: bool,
    predicate: Option<String>,
}

/// The name SQLAlchemy gives an unnamed index on `columns` of `mapped`.
fn convention_index_name(
    project: &SqlalchemyProject,
    mapped: &MappedTable,
    columns: &[String],
) -> Option<String> {
    let pairs: Vec<(&str, &str)> = columns
        .iter()
        .map(|c| {
            let key = mapped
                .column_by_name(c)
                .map_or(c.as_str(), |r| r.key.as_str());
            (c.as_str(), key)
        })
        .collect();
    index_name(
        &mapped.convention,
        &NameColumns {
            table: &mapped.name,
            schema: mapped.schema.as_deref(),
            columns: pairs,
            referred_table: None,
        },
        None,
        project.dialect,
    )
}

/// Name suggested indexes by the project's naming convention and say how
/// each fix will be written.
pub fn describe_fixes(project: &SqlalchemyProject, findings: &mut [Finding]) {
    for finding in findings
        .iter_mut()
        .filter(|f| f.framework == Framework::Sqlalchemy)
    {
        let Some(mapped) = project.mapped.get(&finding.table) else {
            continue;
        };
        let model = &mapped.model;
        finding.help = match &mut finding.fix {
            Some(FixIntent::AddIndex(spec)) => {
                let columns: Vec<String> = spec.columns.iter().map(|c| c.name.clone()).collect();
                if let Some(name) = convention_index_name(project, mapped, &columns) {
                    spec.name = name;
                }
                if let Some(suggested) = &mut finding.suggested_index {
                    suggested.name = spec.name.clone();
                }
                let migration = if project.environment_for(&finding.table).is_some() {
                    ", with an Alembic revision that builds it"
                } else {
                    ""
                };
                let keys: Vec<String> = spec
                    .columns
                    .iter()
                    .map(|c| {
                        if c.desc {
                            format!("{model}.{}.desc()", c.name)
                        } else {
                            py::quote(&c.name)
                        }
                    })
                    .collect();
                let keyword = match (&spec.predicate, project.dialect) {
                    (None, _) => String::new(),
                    (Some(p), crate::schema::Dialect::Sqlite) => {
                        format!(", sqlite_where=text({})", py::quote(p))
                    }
                    (Some(p), _) => format!(", postgresql_where=text({})", py::quote(p)),
                };
                Some(format!(
                    "declare `Index(\"{}\", {}{keyword})` on `{model}`{migration}",
                    spec.name,
                    keys.join(", ")
                ))
            }
            // A name ixray cannot know (a naming convention it cannot
            // evaluate) cannot be dropped by a revision it writes.
            Some(FixIntent::DropIndex(index)) if index.name.is_none() => {
                finding.fix = None;
                Some(format!(
                    "remove it from `{model}` and drop it by its database name in a revision: ixray cannot tell the name the naming convention gives it"
                ))
            }
            Some(FixIntent::DropIndex(index)) => Some(match index.origin {
                IndexOrigin::FieldFlag => format!(
                    "remove `index=True` from `{model}.{}`, with a revision that drops `{}`",
                    index.field.as_deref().unwrap_or("?"),
                    index.display_name()
                ),
                IndexOrigin::Migration => {
                    format!("drop `{}` in a new Alembic revision", index.display_name())
                }
                _ => format!(
                    "remove `{}` from `{model}`, with a revision that drops it",
                    index.display_name()
                ),
            }),
            Some(FixIntent::DeclareIndex(index)) => Some(format!(
                "declare `{}` on `{model}` so that autogenerate keeps it",
                index.display_name()
            )),
            // Rules without a fix explain themselves.
            None => finding.help.clone(),
        };
    }
}

#[derive(Default)]
struct TablePlan<'a> {
    add: Vec<Declaration>,
    /// Declared in the model only (the database already has them).
    declare: Vec<Declaration>,
    drop: Vec<&'a Index>,
}

/// Turn SQLAlchemy findings into file changes.
pub fn plan(
    project: &SqlalchemyProject,
    findings: &[&Finding],
) -> (Vec<ChangeSet>, Vec<Unfixable>) {
    let mut problems = Vec::new();
    let mut per_table: BTreeMap<&str, TablePlan> = BTreeMap::new();
    for finding in findings
        .iter()
        .filter(|f| f.framework == Framework::Sqlalchemy)
    {
        let Some(fix) = &finding.fix else { continue };
        let unfixable = |reason: String| Unfixable {
            table: finding.table.clone(),
            reason,
        };
        let Some((name, _)) = project.mapped.get_key_value(&finding.table) else {
            problems.push(unfixable(
                if project.history_tables.contains(&finding.table) {
                    format!(
                        "no model ixray reads maps `{}` (only the migration history creates it); write the revision by hand",
                        finding.table
                    )
                } else {
                    format!("`{}` is not a model table ixray can edit", finding.table)
                },
            ));
            continue;
        };
        let entry = per_table.entry(name.as_str()).or_default();
        match fix {
            FixIntent::AddIndex(spec) => {
                let declaration = Declaration {
                    name: spec.name.clone(),
                    columns: spec
                        .columns
                        .iter()
                        .map(|c| (c.name.clone(), c.desc))
                        .collect(),
                    unique: spec.unique,
                    predicate: spec.predicate.clone(),
                };
                if !entry.add.iter().any(|d| d.columns == declaration.columns) {
                    entry.add.push(declaration);
                }
            }
            FixIntent::DeclareIndex(index) => match declaration_of(index) {
                Some(declaration) => {
                    if !entry.declare.contains(&declaration) {
                        entry.declare.push(declaration);
                    }
                }
                None => problems.push(unfixable(format!(
                    "`{}` uses expressions or has no name; declare it by hand",
                    index.display_name()
                ))),
            },
            FixIntent::DropIndex(index) => {
                if index.name.is_none() {
                    problems.push(unfixable(format!(
                        "`{}` has no name to drop it by",
                        index.display_name()
                    )));
                } else if !entry.drop.iter().any(|i| i.name == index.name) {
                    entry.drop.push(index);
                }
            }
        }
    }

    let mut edits: BTreeMap<PathBuf, Vec<Edit>> = BTreeMap::new();
    let mut import_needed: BTreeMap<usize, (bool, bool)> = BTreeMap::new();
    let mut ops: BTreeMap<usize, Vec<IndexOp>> = BTreeMap::new();
    // The environment each edited file's change belongs to.
    let mut file_env: BTreeMap<PathBuf, usize> = BTreeMap::new();
    for (table, plan) in &per_table {
        let mapped = &project.mapped[*table];
        let environment = project.environment_for(table);
        // A model change without its revision would leave the models ahead
        // of the database: change nothing for a table whose history cannot
        // take a new revision.
        if let Some(env) = environment
            && !plan.add.is_empty() | !plan.drop.is_empty()
            && let Err(reason) = revision::head(&project.environments[env])
        {
            problems.push(Unfixable {
                table: table.to_string(),
                reason,
            });
            continue;
        }
        let edited_before: BTreeMap<PathBuf, usize> =
            edits.iter().map(|(p, e)| (p.clone(), e.len())).collect();
        let mut writer = TableWriter {
            project,
            mapped,
            new_entries: Vec::new(),
            module_level: Vec::new(),
            removed_entries: Vec::new(),
            edits: &mut edits,
            import_needed: &mut import_needed,
        };
        for declaration in plan.add.iter().chain(&plan.declare) {
            writer.declare(declaration);
        }
        // New entries take the place of an entry of the same
        // `__table_args__` that goes: one change, never two that overlap.
        let replaced = writer.replace_removed_entry(&plan.drop);
        writer.flush();
        let removed: Vec<Result<(), String>> = plan
            .drop
            .iter()
            .enumerate()
            .map(|(i, index)| {
                // The replaced entry is gone from the model already.
                if replaced.is_some_and(|r| r.drop == i) {
                    Ok(())
                } else {
                    writer.remove(index)
                }
            })
            .collect();
        writer.remove_entries(replaced);
        // New indexes first: nothing is dropped before what serves its
        // queries exists.
        if let Some(env) = environment {
            for declaration in &plan.add {
                ops.entry(env).or_default().push(IndexOp::Create {
                    name: declaration.name.clone(),
                    table: table.to_string(),
                    columns: declaration
                        .columns
                        .iter()
                        .map(|(c, desc)| {
                            if *desc {
                                format!("{c} DESC")
                            } else {
                                c.clone()
                            }
                        })
                        .collect(),
                    unique: declaration.unique,
                    predicate: declaration.predicate.clone(),
                });
            }
        }
        for (index, removed) in plan.drop.iter().zip(removed) {
            if let Err(reason) = removed {
                problems.push(Unfixable {
                    table: table.to_string(),
                    reason,
                });
                continue;
            }
            if let Some(env) = environment {
                ops.entry(env).or_default().push(IndexOp::Drop {
                    name: index.name.clone().unwrap_or_default(),
                    table: table.to_string(),
                    columns: index
                        .parts
                        .iter()
                        .map(|p| match &p.key {
                            IndexKey::Column(c) => c.clone(),
                            IndexKey::Expression(e) => e.clone(),
                        })
                        .collect(),
                    unique: index.unique,
                    predicate: index.predicate.as_ref().map(|p| p.to_string()),
                });
            }
        }
        if let Some(env) = environment {
            for (path, edits) in &edits {
                if edited_before.get(path) != Some(&edits.len()) {
                    file_env.entry(path.clone()).or_insert(env);
                }
            }
        }
    }
    for (file_ix, (needs_index, needs_text)) in import_needed {
        let file = &project.files[file_ix];
        let mut names = Vec::new();
        if needs_index && file.imports.reference("Index").is_none() {
            names.push("Index");
        }
        if needs_text && file.imports.reference("text").is_none() {
            names.push("text");
        }
        if names.is_empty() {
            continue;
        }
        let line = format!("from sqlalchemy import {}", names.join(", "));
        let content = if file.imports.insert_at == 0 {
            format!("{line}\n")
        } else {
            format!("\n{line}")
        };
        edits
            .entry(file.source.path.clone())
            .or_default()
            .push(Edit::insert(file.imports.insert_at, content));
    }
    for edits in edits.values_mut() {
        edits.sort();
    }
    let revisions: BTreeMap<usize, Result<Vec<FileChange>, String>> = ops
        .into_iter()
        .map(|(env, ops)| {
            let revision =
                revision::new_revision(&project.environments[env], &ops).map(|r| vec![r]);
            (env, revision)
        })
        .collect();
    let (sets, withheld) = ChangeSet::group(
        edits,
        |path| file_env.get(path).copied(),
        revisions,
        |&env| {
            format!(
                "Alembic environment {}",
                project.environments[env].versions_dir.display()
            )
        },
    );
    problems.extend(
        withheld
            .into_iter()
            .map(|(table, reason)| Unfixable { table, reason }),
    );
    (sets, problems)
}

/// A declaration for an index that has a name and only plain columns.
fn declaration_of(index: &Index) -> Option<Declaration> {
    Some(Declaration {
        name: index.name.clone()?,
        columns: index
            .parts
            .iter()
            .map(|p| p.column_name().map(|c| (c.to_string(), p.desc)))
            .collect::<Option<_>>()?,
        unique: index.unique,
        predicate: index.predicate.as_ref().map(|p| p.to_string()),
    })
}

/// Collects the edits for one table's declarations.
struct TableWriter<'p, 'e> {
    project: &'p SqlalchemyProject,
    mapped: &'p MappedTable,
    /// `Index(...)` texts for `__table_args__` / `Table(...)`.
    new_entries: Vec<String>,
    /// `Index(...)` texts for module level.
    module_level: Vec<String>,
    /// Entries of a sequence (`__table_args__`, `Table(...)`) to remove:
    /// (file, span). They are removed together, so that neighbours share
    /// their commas and a tuple left with one item keeps its comma.
    removed_entries: Vec<(usize, Span)>,
    edits: &'e mut BTreeMap<PathBuf, Vec<Edit>>,
    /// Per file: needs `Index`, needs `text`.
    import_needed: &'e mut BTreeMap<usize, (bool, bool)>,
}

impl TableWriter<'_, '_> {
    fn file_of_table(&self) -> usize {
        match self.mapped.source {
            TableSource::Class { file, .. } | TableSource::Table { file, .. } => file,
        }
    }

    fn class(&self) -> Option<&ClassDecl> {
        match self.mapped.source {
            TableSource::Class { file, class } => Some(self.project.class(file, class)),
            TableSource::Table { .. } => None,
        }
    }

    fn file(&self) -> &ModelsFile {
        &self.project.files[self.file_of_table()]
    }

    fn push_edit(&mut self, file: usize, edit: Edit) {
        self.edits
            .entry(self.project.files[file].source.path.clone())
            .or_default()
            .push(edit);
    }

    fn index_reference(&mut self) -> String {
        let file = self.file_of_table();
        match self.file().imports.reference("Index") {
            Some(r) => r,
            None => {
                self.import_needed.entry(file).or_default().0 = true;
                "Index".into()
            }
        }
    }

    fn text_reference(&mut self) -> String {
        let file = self.file_of_table();
        match self.file().imports.reference("text") {
            Some(r) => r,
            None => {
                self.import_needed.entry(file).or_default().1 = true;
                "text".into()
            }
        }
    }

    fn keywords(&mut self, declaration: &Declaration) -> String {
        let mut out = String::new();
        if declaration.unique {
            out.push_str(", unique=True");
        }
        if let Some(predicate) = &declaration.predicate {
            let keyword = match self.project.dialect {
                crate::schema::Dialect::Sqlite => "sqlite_where",
                _ => "postgresql_where",
            };
            let text = self.text_reference();
            out.push_str(&format!(", {keyword}={text}({})", py::quote(predicate)));
        }
        out
    }

    fn declare(&mut self, declaration: &Declaration) {
        if self.try_index_flag(declaration) {
            return;
        }
        let plain = declaration.columns.iter().all(|(_, desc)| !desc);
        let keys: Vec<String> = declaration
            .columns
            .iter()
            .map(|(c, _)| {
                self.mapped
                    .column_by_name(c)
                    .map_or_else(|| c.clone(), |r| r.key.clone())
            })
            .collect();
        let index = self.index_reference();
        let keywords = self.keywords(declaration);
        let table_args_editable = match self.class() {
            Some(class) if class.table.is_some() => true,
            Some(class) => match &class.table_args {
                Some(args) => args.form != ArgsForm::Opaque,
                // Only when no mixin supplies `__table_args__`, which a new
                // one would silently replace.
                None => !self.mapped.inherited_table_args,
            },
            None => true,
        };
        if plain && table_args_editable {
            let columns: Vec<String> = keys.iter().map(|k| py::quote(k)).collect();
            self.new_entries.push(format!(
                "{index}({}, {}{keywords})",
                py::quote(&declaration.name),
                columns.join(", ")
            ));
            return;
        }
        let owner = match self.mapped.source {
            TableSource::Class { .. } => self.mapped.model.clone(),
            TableSource::Table { .. } => format!("{}.c", self.mapped.model),
        };
        let columns: Vec<String> = declaration
            .columns
            .iter()
            .map(|(c, desc)| {
                let attr = self
                    .mapped
                    .column_by_name(c)
                    .map_or_else(|| c.clone(), |r| r.attr.clone());
                if *desc {
                    format!("{owner}.{attr}.desc()")
                } else {
                    format!("{owner}.{attr}")
                }
            })
            .collect();
        self.module_level.push(format!(
            "{index}({}, {}{keywords})",
            py::quote(&declaration.name),
            columns.join(", ")
        ));
    }

    /// `index=True` on the column, when the module writes indexes that way
    /// and the column is declared by this very class.
    fn try_index_flag(&mut self, declaration: &Declaration) -> bool {
        let [(column, false)] = declaration.columns.as_slice() else {
            return false;
        };
        if declaration.unique || declaration.predicate.is_some() || !self.file().uses_index_flag {
            return false;
        }
        if convention_index_name(self.project, self.mapped, std::slice::from_ref(column)).as_deref()
            != Some(declaration.name.as_str())
        {
            return false;
        }
        let Some(resolved) = self.mapped.column_by_name(column) else {
            return false;
        };
        let owned_here = match (resolved.owner, self.mapped.source) {
            (ColumnOwner::Class { file, class, .. }, TableSource::Class { file: f, class: c }) => {
                file == f && class == c
            }
            (ColumnOwner::Table { file, table, .. }, TableSource::Table { file: f, table: t }) => {
                file == f && table == t
            }
            _ => false,
        };
        let decl = self.project.column(resolved.owner);
        if !owned_here || decl.index.is_some() {
            return false;
        }
        let file = self.file_of_table();
        let project = self.project;
        let edit = match (decl.call, decl.annotation_end) {
            // In the call's own layout: a new line in a multi-line call,
            // after a comment that ends its last argument's line.
            (Some(call), _) => py::add_keyword_within(
                &project.files[file].source.text,
                call.arguments,
                "index=True",
                py::line_length(&project.files[file].source.path),
            ),
            // A bare `x: Mapped[T]` gets the `mapped_column()` it stood for.
            (None, Some(end)) if self.file().imports_mapped_column() => {
                Edit::insert(end, " = mapped_column(index=True)")
            }
            _ => return false,
        };
        self.push_edit(file, edit);
        true
    }

    /// The sequence new entries go into: the argument list of the table's
    /// `Table(...)`, or the class's own `__table_args__` tuple.
    fn entry_container(&self) -> Option<Span> {
        match self.mapped.source {
            TableSource::Table { file, table } => {
                Some(self.project.files[file].tables[table].call.arguments)
            }
            TableSource::Class { .. } => {
                let class = self.class()?;
                if let Some(table) = &class.table {
                    return Some(table.call.arguments);
                }
                let args = class.table_args.as_ref()?;
                matches!(args.form, ArgsForm::Tuple | ArgsForm::TupleThenDict).then_some(args.value)
            }
        }
    }

    /// Put the collected entries where one of `drops` stands in the
    /// table's `Table(...)` or the class's own `__table_args__` tuple, in
    /// its layout; the index of that drop. Appending after an entry that
    /// goes would be two edits of one place.
    fn replace_removed_entry(&mut self, drops: &[&Index]) -> Option<Replaced> {
        if self.new_entries.is_empty() {
            return None;
        }
        let file = self.file_of_table();
        let container = self.entry_container()?;
        let path = self.project.files[file].source.path.clone();
        let (at, span) = drops.iter().enumerate().find_map(|(i, index)| {
            let location = index.location.as_ref()?;
            (index.origin == IndexOrigin::Declared
                && location.path == path
                && container.start < location.span.start
                && location.span.end < container.end)
                .then_some((i, location.span))
        })?;
        let text = &self.project.files[file].source.text;
        let separator = if text[container.start..container.end].contains('\n') {
            format!(",\n{}", py::indentation_at(text, span.start))
        } else {
            ", ".to_string()
        };
        let entries = std::mem::take(&mut self.new_entries);
        let count = entries.len();
        // The comment after the entry was about the entry that goes.
        let tail = item_tail(text, span.end);
        let comment = tail.comment.zip(tail.line_end);
        self.push_edit(file, Edit::replace(span, entries.join(&separator)));
        if let Some((start, end)) = comment {
            self.push_edit(file, Edit::replace(Span::new(start, end), ""));
        }
        Some(Replaced {
            drop: at,
            span,
            count,
        })
    }

    /// Write the collected entries into `__table_args__`, a `Table(...)`,
    /// or after the class.
    fn flush(&mut self) {
        let file = self.file_of_table();
        let text = self.file().source.text.clone();
        let entries = std::mem::take(&mut self.new_entries);
        if !entries.is_empty() {
            match self.mapped.source {
                TableSource::Table { file: f, table: t } => {
                    let call = self.project.files[f].tables[t].call;
                    self.append_to_sequence(
                        file,
                        &text,
                        call.arguments,
                        call.last_positional_end,
                        &entries,
                    );
                }
                TableSource::Class { file: f, class: c }
                    if self.project.class(f, c).table.is_some() =>
                {
                    let call = self.project.class(f, c).table.as_ref().map(|t| t.call);
                    if let Some(call) = call {
                        self.append_to_sequence(
                            file,
                            &text,
                            call.arguments,
                            call.last_positional_end,
                            &entries,
                        );
                    }
                }
                TableSource::Class { file: f, class: c } => {
                    let class = self.project.class(f, c);
                    match &class.table_args {
                        Some(args) => match args.form {
                            ArgsForm::Tuple | ArgsForm::TupleThenDict
                                if args.last_item_end.is_some() =>
                            {
                                self.append_to_sequence(
                                    file,
                                    &text,
                                    args.value,
                                    args.last_item_end,
                                    &entries,
                                );
                            }
                            _ => {
                                // A dict alone (or an empty tuple) becomes
                                // a tuple that ends with the dict; one item
                                // a line when the dict spans lines.
                                let dict = args.dict.map(|d| &text[d.start..d.end]);
                                let mut items = entries.clone();
                                let replacement = match dict {
                                    Some(dict) if dict.contains('\n') => {
                                        let indent = py::indentation_at(&text, args.value.start);
                                        // The dict moves one level right.
                                        items.push(dict.replace('\n', "\n    "));
                                        let mut tuple = String::from("(\n");
                                        for item in &items {
                                            tuple.push_str(&format!("{indent}    {item},\n"));
                                        }
                                        tuple + indent + ")"
                                    }
                                    _ => {
                                        items.extend(dict.map(str::to_string));
                                        if items.len() == 1 {
                                            format!("({},)", items[0])
                                        } else {
                                            format!("({})", items.join(", "))
                                        }
                                    }
                                };
                                self.push_edit(file, Edit::replace(args.value, replacement));
                            }
                        },
                        None => {
                            let indent = class.body_indent.clone();
                            let at = class
                                .tablename_statement
                                .map_or(class.body.start, |s| s.end);
                            let mut block = format!("\n{indent}__table_args__ = (\n");
                            for entry in &entries {
                                block.push_str(&format!("{indent}    {entry},\n"));
                            }
                            block.push_str(&format!("{indent})"));
                            if class.tablename_statement.is_none() {
                                // At the start of the body: keep the first
                                // statement on its own line.
                                block = format!(
                                    "__table_args__ = (\n{}{indent})\n{indent}",
                                    entries
                                        .iter()
                                        .map(|e| format!("{indent}    {e},\n"))
                                        .collect::<String>()
                                );
                            }
                            self.push_edit(file, Edit::insert(at, block));
                        }
                    }
                }
            }
        }
        let module_level = std::mem::take(&mut self.module_level);
        if !module_level.is_empty() {
            let after = match self.mapped.source {
                TableSource::Class { file: f, class: c } => self.project.class(f, c).span.end,
                TableSource::Table { file: f, table: t } => {
                    statement_end(&text, self.project.files[f].tables[t].call.call)
                }
            };
            let mut block = String::from("\n\n");
            for entry in module_level {
                block.push_str(&format!("\n{entry}"));
            }
            self.push_edit(file, Edit::insert(after, block));
        }
    }

    /// Add entries after the last item of a tuple or argument list, in
    /// its layout (one per line when it is multi-line).
    fn append_to_sequence(
        &mut self,
        file: usize,
        text: &str,
        container: Span,
        last_item_end: Option<usize>,
        entries: &[String],
    ) {
        let Some(end) = last_item_end else {
            return;
        };
        let multiline = text[container.start..container.end].contains('\n');
        let mut insertion = String::new();
        let tail = item_tail(text, end);
        if multiline
            && tail.comment.is_some()
            && let Some(line_end) = tail.line_end.filter(|&e| e < text.len())
        {
            // The comment after the last item stays on its line: new
            // entries go on the lines after it, with the list's trailing
            // comma style.
            let indent = py::indentation_at(text, end).to_string();
            if tail.comma.is_none() {
                self.push_edit(file, Edit::insert(end, ","));
            }
            for (i, entry) in entries.iter().enumerate() {
                let comma = if i + 1 < entries.len() || tail.comma.is_some() {
                    ","
                } else {
                    ""
                };
                insertion.push_str(&format!("{indent}{entry}{comma}\n"));
            }
            self.push_edit(file, Edit::insert(line_end + 1, insertion));
            return;
        }
        if multiline {
            let indent = py::indentation_at(text, end).to_string();
            for entry in entries {
                insertion.push_str(&format!(",\n{indent}{entry}"));
            }
        } else {
            for entry in entries {
                insertion.push_str(&format!(", {entry}"));
            }
        }
        self.push_edit(file, Edit::insert(end, insertion));
    }

    /// Remove a redundant declaration from the model (an entry of a
    /// sequence is only collected, for `remove_entries`).
    fn remove(&mut self, index: &Index) -> Result<(), String> {
        match index.origin {
            IndexOrigin::Migration => Ok(()),
            IndexOrigin::FieldFlag => {
                let field = index.field.as_deref().unwrap_or_default();
                let resolved = self
                    .mapped
                    .columns
                    .iter()
                    .find(|c| c.attr == field)
                    .ok_or_else(|| format!("cannot find the column `{field}`"))?;
                let decl = self.project.column(resolved.owner);
                let keyword = decl
                    .index_keyword
                    .ok_or_else(|| format!("cannot find `index=True` on `{field}`"))?;
                let owner_file = resolved.owner.file();
                // Removing the flag from a mixin would change every table
                // that uses the mixin.
                let on_mixin = match (resolved.owner, self.mapped.source) {
                    (
                        ColumnOwner::Class { file, class, .. },
                        TableSource::Class { file: f, class: c },
                    ) => {
                        (file, class) != (f, c) && !self.mapped.sti_classes.contains(&(file, class))
                    }
                    _ => false,
                };
                if on_mixin {
                    return Err(format!(
                        "`{field}` is declared on a mixin; remove `index=True` by hand"
                    ));
                }
                let text = self.project.files[owner_file].source.text.clone();
                for span in item_removal(&text, keyword) {
                    self.push_edit(owner_file, Edit::replace(span, ""));
                }
                Ok(())
            }
            IndexOrigin::Declared => {
                let location = index
                    .location
                    .as_ref()
                    .ok_or("the index has no place in the source")?;
                let (owner_file, source) = self
                    .project
                    .files
                    .iter()
                    .enumerate()
                    .find(|(_, f)| f.source.path == location.path)
                    .map(|(i, f)| (i, f.source.clone()))
                    .ok_or("the index's file is not part of the analysis")?;
                let text = &source.text;
                let span = location.span;
                // A whole statement (module-level `Index(...)`) goes with its
                // line; an entry of a sequence goes with its comma, later.
                let line_start = text[..span.start].rfind('\n').map_or(0, |i| i + 1);
                if text[line_start..span.start].trim().is_empty()
                    && text[span.end..].starts_with('\n')
                    && py::indentation_at(text, span.start).is_empty()
                {
                    let own_start = with_own_comment(text, line_start, span.end + 1);
                    let start = statement_with_blank_lines_before(text, own_start, span.end + 1);
                    self.push_edit(
                        owner_file,
                        Edit::replace(Span::new(start, span.end + 1), ""),
                    );
                } else {
                    self.removed_entries.push((owner_file, span));
                }
                Ok(())
            }
            _ => Err(format!(
                "`{}` backs a constraint; ixray does not drop it",
                index.display_name()
            )),
        }
    }
}

/// Where `replace_removed_entry` put the new entries: in place of the
/// drop at `drop`, whose entry spanned `span`, `count` of them.
#[derive(Debug, Clone, Copy)]
struct Replaced {
    drop: usize,
    span: Span,
    count: usize,
}

impl TableWriter<'_, '_> {
    /// Remove the collected entries of sequences. Neighbours go in one edit
    /// (each would otherwise take the comma between them); a
    /// `__table_args__` tuple left without items goes entirely, and one left
    /// with a single item keeps a comma after it, or it would be a mere
    /// parenthesized expression, which SQLAlchemy rejects.
    fn remove_entries(&mut self, replaced: Option<Replaced>) {
        let mut by_file: BTreeMap<usize, Vec<Span>> = BTreeMap::new();
        for (file, span) in std::mem::take(&mut self.removed_entries) {
            by_file.entry(file).or_default().push(span);
        }
        for (file, mut spans) in by_file {
            spans.sort();
            spans.dedup();
            let source = self.project.files[file].source.clone();
            let text = source.text.as_str();
            let tuple = self
                .class()
                .filter(|_| file == self.file_of_table())
                .and_then(|c| c.table_args.clone())
                .filter(|a| matches!(a.form, ArgsForm::Tuple | ArgsForm::TupleThenDict));
            let mut lone_survivor = None;
            if let Some(args) = &tuple {
                let survivors: Vec<Span> = args
                    .item_spans
                    .iter()
                    .filter(|item| !spans.contains(item))
                    .copied()
                    .collect();
                match survivors.as_slice() {
                    [] => {
                        // Nothing left: the whole assignment goes.
                        let start = text[..args.value.start].rfind('\n').map_or(0, |i| i + 1);
                        let end = if text[args.value.end..].starts_with('\n') {
                            args.value.end + 1
                        } else {
                            args.value.end
                        };
                        self.push_edit(file, Edit::replace(Span::new(start, end), ""));
                        spans.retain(|s| !(args.value.start <= s.start && s.end <= args.value.end));
                    }
                    [one] if !replaced.is_some_and(|r| r.span == *one && r.count > 1) => {
                        lone_survivor = Some(*one);
                    }
                    _ => {}
                }
            }
            // (entries, spans to delete), neighbours merged.
            let mut removals: Vec<(Span, Vec<Span>)> = Vec::new();
            for span in spans {
                let edits = item_removal(text, span);
                let overlaps = |last: &Vec<Span>| {
                    edits
                        .iter()
                        .any(|e| last.iter().any(|l| e.start < l.end && l.start < e.end))
                };
                match removals.last_mut() {
                    Some(last) if overlaps(&last.1) => {
                        let entries = Span::new(last.0.start, span.end);
                        *last = (entries, item_removal(text, entries));
                    }
                    _ => removals.push((span, edits)),
                }
            }
            if let Some(survivor) = lone_survivor {
                let after = &text[survivor.end..];
                let comma = after
                    .find(|c: char| !c.is_whitespace())
                    .filter(|&i| after[i..].starts_with(','))
                    .map(|i| survivor.end + i);
                let comma_stays = comma.is_some_and(|c| {
                    !removals
                        .iter()
                        .flat_map(|(_, edits)| edits)
                        .any(|edit| edit.start <= c && c < edit.end)
                });
                if !comma_stays {
                    self.push_edit(file, Edit::insert(survivor.end, ","));
                }
            }
            for edit in removals.into_iter().flat_map(|(_, edits)| edits) {
                self.push_edit(file, Edit::replace(edit, ""));
            }
        }
    }
}

/// What follows an item of a list on its line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ItemTail {
    /// The comma right after the item.
    comma: Option<usize>,
    /// Where a comment after the item (and its comma) starts, spaces
    /// before it included.
    comment: Option<usize>,
    /// The end of the item's line (its `\n`, or the end of the text) when
    /// nothing but the comma and a comment follow the item there.
    line_end: Option<usize>,
}

fn item_tail(text: &str, end: usize) -> ItemTail {
    let bytes = text.as_bytes();
    let blanks = |mut i: usize| {
        while i < bytes.len() && matches!(bytes[i], b' ' | b'\t') {
            i += 1;
        }
        i
    };
    let mut code_end = end;
    let mut i = blanks(end);
    let comma = (bytes.get(i) == Some(&b',')).then_some(i);
    if comma.is_some() {
        i += 1;
        code_end = i;
        i = blanks(i);
    }
    let comment = (bytes.get(i) == Some(&b'#')).then_some(code_end);
    if comment.is_some() {
        i = text[i..].find('\n').map_or(text.len(), |n| i + n);
    }
    let line_end = (i == text.len() || bytes[i] == b'\n').then_some(i);
    ItemTail {
        comma,
        comment,
        line_end,
    }
}

/// The spans to delete so that removing an item of a list (or a run of
/// neighbouring items) leaves a valid list in its layout. An item on
/// lines of its own goes with them, its comment included; when it was the
/// last item and had no comma after it, the item before loses its comma.
/// Otherwise the item goes with its comma ([`argument_with_comma`]).
fn item_removal(text: &str, span: Span) -> Vec<Span> {
    let line_start = text[..span.start].rfind('\n').map_or(0, |i| i + 1);
    let tail = item_tail(text, span.end);
    match tail.line_end {
        Some(line_end) if text[line_start..span.start].trim().is_empty() => {
            let mut spans = Vec::new();
            if tail.comma.is_none()
                && let Some(comma) = comma_ending_code_before(text, line_start)
            {
                spans.push(Span::new(comma, comma + 1));
            }
            spans.push(Span::new(line_start, (line_end + 1).min(text.len())));
            spans
        }
        _ => vec![argument_with_comma(text, span)],
    }
}

/// The comma that ends the code of the last line before `line_start` that
/// has code (a comment after it aside).
fn comma_ending_code_before(text: &str, line_start: usize) -> Option<usize> {
    let mut end = line_start;
    while end > 0 {
        let start = text[..end - 1].rfind('\n').map_or(0, |i| i + 1);
        let line = &text[start..end - 1];
        let code = line[..code_length(line)].trim_end();
        if !code.is_empty() {
            return code.ends_with(',').then(|| start + code.len() - 1);
        }
        end = start;
    }
    None
}

/// The length of a line's code: up to a `#` outside string literals.
fn code_length(line: &str) -> usize {
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        match quote {
            Some(_) if escaped => escaped = false,
            Some(_) if c == '\\' => escaped = true,
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '"' || c == '\'' => quote = Some(c),
            None if c == '#' => return i,
            None => {}
        }
    }
    line.len()
}

/// The span of an argument plus the comma that separates it, so that
/// removing it leaves a valid list: the following comma and whitespace, or
/// else the preceding comma.
fn argument_with_comma(text: &str, span: Span) -> Span {
    let after = &text[span.end..];
    let trimmed = after.trim_start_matches([' ', '\t']);
    if let Some(rest) = trimmed.strip_prefix(',') {
        let ws = rest.len() - rest.trim_start().len();
        let consumed = after.len() - rest.len() + ws;
        // Keep the line structure: if the argument started a line, remove
        // from the line start up to the next item.
        let line_start = text[..span.start].rfind('\n').map_or(0, |i| i + 1);
        if text[line_start..span.start].trim().is_empty() && rest[..ws].contains('\n') {
            let next_line =
                span.end + after.len() - rest.len() + rest[..ws].find('\n').unwrap_or(0) + 1;
            return Span::new(line_start, next_line);
        }
        return Span::new(span.start, span.end + consumed);
    }
    let before = &text[..span.start];
    let trimmed = before.trim_end();
    if trimmed.ends_with(',') {
        return Span::new(trimmed.len() - 1, span.end);
    }
    span
}

/// Where the removal of the top-level statement spanning the lines
/// `start..end` begins: the blank lines that separate it from the code
/// before go with it when blank lines (or the end of the file) follow it,
/// so the code around keeps the separation it had.
/// The start of the comment lines right above a statement at
/// `line_start` when they are its own: the statement ends its group
/// (a blank line, a comment or the end of the file follows). Above the
/// first of several statements in a row they are a heading; they stay.
fn with_own_comment(text: &str, line_start: usize, end: usize) -> usize {
    let next = text[end..].split('\n').next().unwrap_or("").trim();
    if !(next.is_empty() || next.starts_with('#')) {
        return line_start;
    }
    let mut start = line_start;
    while start > 0 {
        let previous = text[..start - 1].rfind('\n').map_or(0, |i| i + 1);
        let line = text[previous..start - 1].trim_start();
        if !line.starts_with('#') || previous != start - 1 - line.len() {
            break;
        }
        start = previous;
    }
    start
}

fn statement_with_blank_lines_before(text: &str, start: usize, end: usize) -> usize {
    let rest = &text[end..];
    let blank_follows =
        rest.is_empty() || rest.split('\n').next().is_some_and(|l| l.trim().is_empty());
    if !blank_follows {
        return start;
    }
    let mut start = start;
    while start > 0 {
        let previous = text[..start - 1].rfind('\n').map_or(0, |i| i + 1);
        if !text[previous..start - 1].trim().is_empty() {
            break;
        }
        start = previous;
    }
    start
}

/// The end of the statement that holds `span` (the line's end).
fn statement_end(text: &str, span: Span) -> usize {
    text[span.end..]
        .find('\n')
        .map_or(text.len(), |i| span.end + i)
}
