//! Fixes in Drizzle's idiom: index entries in the table's extra config
//! (in the file's own array or object form, adding the callback and the
//! `index` import when absent), and, where the project has a drizzle-kit
//! folder, the migration drizzle-kit itself would write: the next numbered
//! SQL file, its journal entry and its snapshot, so `drizzle-kit generate`
//! finds nothing left to do.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::{Value, json};

use super::core_module;
use super::kit::KitFolder;
use super::project::{DrizzleProject, MappedTable};
use super::schema::{ConfigForm, DrizzleFile, TableDecl};
use crate::frameworks::django::emit::Unfixable;
use crate::frameworks::now_epoch;
use crate::frameworks::typescript::{indentation_at, is_identifier};
use crate::rules::{Finding, FixIntent};
use crate::schema::predicate::{Term, Test, terms};
use crate::schema::{Dialect, Framework, Index, IndexKey, IndexOrigin};
use crate::source::{ChangeSet, Edit, FileChange, Span};

/// The name ixray gives a new index: `<table>_<cols>_idx` (drizzle's
/// documented style; the schema is not part of it).
pub fn index_name(table: &str, columns: &[(String, bool)]) -> String {
    let bare = table.rsplit('.').next().unwrap_or(table);
    let cols: Vec<&str> = columns.iter().map(|(c, _)| c.as_str()).collect();
    format!("{bare}_{}_idx", cols.join("_"))
}

pub fn describe_fixes(project: &DrizzleProject, findings: &mut [Finding]) {
    for finding in findings
        .iter_mut()
        .filter(|f| f.framework == Framework::Drizzle)
    {
        let path = finding.location.as_ref().map(|l| l.path.as_path());
        let Some(m) = project.mapped_for(&finding.table, path) else {
            continue;
        };
        let mapped = &project.mapped[m];
        let model = &project.decl(mapped).var;
        let param = callback_param(&project.files[mapped.file], project.decl(mapped));
        let kit = mapped.kit.is_some();
        finding.help = match &finding.fix {
            Some(FixIntent::AddIndex(spec)) => {
                let parts: Vec<String> = spec
                    .columns
                    .iter()
                    .map(|c| {
                        let key = mapped
                            .keys
                            .get(&c.name)
                            .map_or(c.name.as_str(), String::as_str);
                        column_code(&param, key, c.desc)
                    })
                    .collect();
                // A partial index: its `.where(sql`…`)`, or why `fix`
                // leaves it to the user.
                let condition = match spec
                    .predicate
                    .as_deref()
                    .map(|p| where_terms(p, mapped.dialect, |c| mapped.keys.get(c).cloned()))
                {
                    None => String::new(),
                    Some(Ok(terms)) => format!(
                        ".where(sql`{}`)",
                        where_text(&terms, |(_, key)| {
                            format!("${{{}}}", column_code(&param, key, false))
                        })
                    ),
                    Some(Err(reason)) => {
                        finding.help = Some(format!(
                            "add a partial index on ({}) to `{model}` by hand: {reason}",
                            parts.join(", ")
                        ));
                        continue;
                    }
                };
                Some(format!(
                    "add `index(\"{}\").on({}){condition}` to `{model}`'s extra config{}",
                    spec.name,
                    parts.join(", "),
                    if kit {
                        ", with a drizzle-kit migration that creates it"
                    } else {
                        ", then run `drizzle-kit generate`"
                    }
                ))
            }
            Some(FixIntent::DropIndex(index)) => Some(match index.origin {
                IndexOrigin::Migration => format!(
                    "drop `{}` in a new drizzle-kit migration",
                    index.display_name()
                ),
                _ => format!(
                    "remove `{}` from `{model}`{}",
                    index.display_name(),
                    if kit {
                        ", with a drizzle-kit migration that drops it"
                    } else {
                        ", then run `drizzle-kit generate`"
                    }
                ),
            }),
            Some(FixIntent::DeclareIndex(index)) => Some(format!(
                "declare `{}` in `{model}`'s extra config so that `drizzle-kit generate` keeps it",
                index.display_name()
            )),
            None => finding.help.clone(),
        };
    }
}

/// The parameter name of the table's extra-config callback: its own, or
/// for a new callback the file's convention when every callback of the file
/// uses one name (`t`), else `table`; never another table's own name
/// (`(account) => …` on `session`).
fn callback_param(file: &DrizzleFile, decl: &TableDecl) -> String {
    if let Some(extra) = &decl.extra {
        return extra.param.clone();
    }
    let mut params = file
        .tables
        .iter()
        .filter_map(|t| Some((t.extra.as_ref()?.param.as_str(), t.var.as_str())));
    match params.next() {
        Some((first, var)) if !names_its_table(first, var) && params.all(|(p, _)| p == first) => {
            first.to_string()
        }
        _ => "table".to_string(),
    }
}

/// A callback parameter that names its own table (`account` for
/// `accounts`, `vt` for `verificationTokens`) is no convention for others.
fn names_its_table(param: &str, var: &str) -> bool {
    let param = param.to_ascii_lowercase();
    let initials: String = var
        .chars()
        .enumerate()
        .filter(|(i, c)| *i == 0 || c.is_ascii_uppercase())
        .map(|(_, c)| c.to_ascii_lowercase())
        .collect();
    param.len() > 1 && (var.to_ascii_lowercase().starts_with(&param) || initials == param)
}

/// An index to write into the schema.
struct NewIndex {
    name: String,
    unique: bool,
    /// (column key in code, descending)
    columns: Vec<(String, bool)>,
    /// (SQL column, descending), for the migration.
    sql_columns: Vec<(String, bool)>,
    /// A partial index's predicate: each term with its column's key.
    predicate: Option<Vec<(Term, String)>>,
}

#[derive(Default)]
struct TablePlan<'a> {
    /// Declared in the schema, with a migration.
    add: Vec<NewIndex>,
    /// Declared in the schema only (the database already has them).
    declare: Vec<NewIndex>,
    drop: Vec<&'a Index>,
}

/// Turn Drizzle findings into file changes.
pub fn plan(project: &DrizzleProject, findings: &[&Finding]) -> (Vec<ChangeSet>, Vec<Unfixable>) {
    let mut problems = Vec::new();
    let mut per_table: BTreeMap<usize, TablePlan> = BTreeMap::new();
    for finding in findings
        .iter()
        .filter(|f| f.framework == Framework::Drizzle)
    {
        let Some(fix) = &finding.fix else { continue };
        let unfixable = |reason: &str| Unfixable {
            table: finding.table.clone(),
            reason: reason.to_string(),
        };
        let path = finding.location.as_ref().map(|l| l.path.as_path());
        let Some(m) = project.mapped_for(&finding.table, path) else {
            continue;
        };
        let mapped = &project.mapped[m];
        let key_of = |sql: &str| mapped.keys.get(sql).cloned();
        let plan = per_table.entry(m).or_default();
        match fix {
            FixIntent::AddIndex(spec) => {
                if !crate::frameworks::declares_descending_columns(
                    crate::schema::Framework::Drizzle,
                    mapped.dialect,
                ) && spec.columns.iter().any(|c| c.desc)
                {
                    problems.push(unfixable(
                        "drizzle-orm's sqlite-core cannot declare descending index columns; create the index in a migration by hand",
                    ));
                    continue;
                }
                let predicate = match spec
                    .predicate
                    .as_deref()
                    .map(|p| where_terms(p, mapped.dialect, |c| key_of(c)))
                {
                    None => None,
                    Some(Ok(terms)) => Some(terms),
                    Some(Err(reason)) => {
                        problems.push(unfixable(&reason));
                        continue;
                    }
                };
                let Some(columns) = spec
                    .columns
                    .iter()
                    .map(|c| key_of(&c.name).map(|k| (k, c.desc)))
                    .collect::<Option<Vec<_>>>()
                else {
                    problems.push(unfixable("a column has no key in the schema"));
                    continue;
                };
                if plan.add.iter().any(|a| a.name == spec.name) {
                    continue;
                }
                plan.add.push(NewIndex {
                    name: spec.name.clone(),
                    unique: spec.unique,
                    columns,
                    sql_columns: spec
                        .columns
                        .iter()
                        .map(|c| (c.name.clone(), c.desc))
                        .collect(),
                    predicate,
                });
            }
            FixIntent::DeclareIndex(index) => {
                let columns = plain_columns(index).and_then(|cols| {
                    cols.into_iter()
                        .map(|(c, d)| key_of(&c).map(|k| (k, d)))
                        .collect::<Option<Vec<_>>>()
                });
                match (columns, &index.name) {
                    (Some(columns), Some(name)) if index.predicate.is_none() => {
                        plan.declare.push(NewIndex {
                            name: name.clone(),
                            unique: index.unique,
                            sql_columns: plain_columns(index).unwrap_or_default(),
                            columns,
                            predicate: None,
                        })
                    }
                    _ => problems.push(unfixable(
                        "the index has an expression or a predicate; declare it by hand",
                    )),
                }
            }
            FixIntent::DropIndex(index) => match index.origin {
                IndexOrigin::Declared if index.location.is_some() => plan.drop.push(index),
                IndexOrigin::Migration if mapped.kit.is_some() => plan.drop.push(index),
                _ => problems.push(unfixable("only declared indexes are removed")),
            },
        }
    }
    let mut file_edits: BTreeMap<usize, Vec<Edit>> = BTreeMap::new();
    let mut imports: BTreeMap<usize, (Dialect, Vec<&'static str>)> = BTreeMap::new();
    // The files whose new entries need drizzle's `sql` tag.
    let mut sql_users: std::collections::BTreeSet<usize> = std::collections::BTreeSet::new();
    let mut kit_statements: BTreeMap<usize, Vec<KitChange>> = BTreeMap::new();
    for (m, plan) in &per_table {
        let mapped = &project.mapped[*m];
        // A schema edit without its migration is never written: with a
        // drizzle-kit folder in the project and no config naming this file,
        // ixray cannot tell which folder migrates the table.
        let unused_kit = mapped.kit.is_none()
            && mapped.config.is_some_and(|c| {
                let out = super::config::normalize(&project.configs[c].out);
                project
                    .kits
                    .iter()
                    .any(|k| super::config::normalize(&k.out) == out)
            });
        // A kit folder on disk that the analysis did not read (ignored by
        // git, unreadable): the migration cannot be written, so neither is
        // the schema edit.
        let unread_kit = mapped.kit.is_none()
            && mapped.config.is_some_and(|c| {
                std::path::Path::new(&project.configs[c].out)
                    .join("meta/_journal.json")
                    .exists()
            })
            && !unused_kit;
        if unread_kit {
            problems.push(Unfixable {
                table: mapped.name.clone(),
                reason: format!(
                    "its drizzle-kit folder {} was not read (is it ignored?), so its migration cannot be written",
                    project.configs[mapped.config.expect("checked")].out.display()
                ),
            });
            continue;
        }
        if unused_kit {
            problems.push(Unfixable {
                table: mapped.name.clone(),
                reason: "its drizzle-kit folder looks unused (the newest snapshot lacks tables the schema declares); run `drizzle-kit generate` first".into(),
            });
            continue;
        }
        if mapped.config.is_none() && !project.kits.is_empty() {
            problems.push(Unfixable {
                table: mapped.name.clone(),
                reason: format!(
                    "no drizzle.config `schema` entry names {} (a barrel that re-exports it is not followed yet), so ixray cannot tell which drizzle-kit folder migrates it",
                    project.files[mapped.file].source.path.display()
                ),
            });
            continue;
        }
        let file = &project.files[mapped.file];
        let decl = project.decl(mapped);
        let edits = file_edits.entry(mapped.file).or_default();
        let new: Vec<&NewIndex> = plan.add.iter().chain(&plan.declare).collect();
        let items: Vec<Span> = decl
            .extra
            .iter()
            .flat_map(|e| &e.items)
            .map(|item| item.span)
            .collect();
        let mut removed: Vec<usize> = plan
            .drop
            .iter()
            .filter(|index| index.origin == IndexOrigin::Declared)
            .filter_map(|index| {
                let at = index.location.as_ref()?;
                items
                    .iter()
                    .position(|span| at.path == file.source.path && at.span == *span)
            })
            .collect();
        removed.sort_unstable();
        removed.dedup();
        // Neighbouring entries go in one edit: removed one by one, the last
        // of a list without a trailing comma would take the comma its
        // removed neighbour already takes, and the edits would overlap.
        let mut removals = Vec::new();
        let mut runs = removed.iter().peekable();
        while let Some(&first) = runs.next() {
            let mut last = first;
            while runs.next_if(|&&next| next == last + 1).is_some() {
                last += 1;
            }
            removals.push(remove_item(
                &file.source.text,
                Span::new(items[first].start, items[last].end),
            ));
        }
        match (new.is_empty(), removals.is_empty()) {
            (true, _) => edits.extend(empty_or_removals(&file.source.text, decl, removals)),
            (false, true) => edits.extend(add_entries(file, decl, &new, mapped.dialect)),
            // Removals and additions in one extra config: one rewrite.
            (false, false) => match rewrite_extra(file, decl, &removals, &new, mapped.dialect) {
                Some(rewrite) => edits.extend(rewrite),
                None => {
                    problems.push(Unfixable {
                        table: mapped.name.clone(),
                        reason: "cannot combine the removal and the addition in the extra config"
                            .into(),
                    });
                    continue;
                }
            },
        }
        if new.iter().any(|n| n.predicate.is_some()) {
            sql_users.insert(mapped.file);
        }
        if !new.is_empty() {
            // One import edit per file, for every table's new entries.
            let (_, builders) = imports
                .entry(mapped.file)
                .or_insert_with(|| (mapped.dialect, Vec::new()));
            for builder in needed_builders(&new) {
                if !builders.contains(&builder) {
                    builders.push(builder);
                }
            }
        }
        if let Some(k) = mapped.kit {
            let changes = kit_statements.entry(k).or_default();
            for index in &plan.add {
                changes.push(KitChange::Create {
                    mapped: mapped.clone(),
                    name: index.name.clone(),
                    unique: index.unique,
                    columns: index.sql_columns.clone(),
                    predicate: index.predicate.as_ref().map(|t| kit_where(mapped, t)),
                });
            }
            for index in &plan.drop {
                changes.push(KitChange::Drop {
                    mapped: mapped.clone(),
                    name: index.name.clone().unwrap_or_default(),
                    in_snapshot: index.origin == IndexOrigin::Declared,
                });
            }
        }
    }
    for (f, (dialect, mut builders)) in imports {
        builders.sort_by_key(|b| *b == "uniqueIndex");
        if let (_, Some(import)) = builder_names(&project.files[f], dialect, &builders) {
            file_edits.entry(f).or_default().push(import);
        }
    }
    for f in sql_users {
        if let (_, Some(import)) = imported_names(&project.files[f], "drizzle-orm", &["sql"]) {
            file_edits.entry(f).or_default().push(import);
        }
    }
    // Each schema file goes with the kit folder of the tables it edits.
    let file_kit: BTreeMap<PathBuf, usize> = per_table
        .keys()
        .filter_map(|&m| {
            let mapped = &project.mapped[m];
            Some((project.files[mapped.file].source.path.clone(), mapped.kit?))
        })
        .collect();
    let edits: BTreeMap<PathBuf, Vec<Edit>> = file_edits
        .into_iter()
        .filter(|(_, edits)| !edits.is_empty())
        .map(|(f, edits)| (project.files[f].source.path.clone(), edits))
        .collect();
    let migrations: BTreeMap<usize, Result<Vec<FileChange>, String>> = kit_statements
        .into_iter()
        .filter(|(_, changes)| !changes.is_empty())
        .map(|(k, changes)| (k, migration(&project.kits[k], &changes)))
        .collect();
    let (sets, withheld) = ChangeSet::group(
        edits,
        |path| file_kit.get(path).copied(),
        migrations,
        |&k| format!("drizzle-kit folder {}", project.kits[k].out.display()),
    );
    problems.extend(
        withheld
            .into_iter()
            .map(|(table, reason)| Unfixable { table, reason }),
    );
    (sets, problems)
}

/// A partial index's predicate as terms on keyed columns, or why it cannot
/// be written.
fn where_terms(
    predicate: &str,
    dialect: Dialect,
    key_of: impl Fn(&str) -> Option<String>,
) -> Result<Vec<(Term, String)>, String> {
    if dialect == Dialect::Mysql {
        return Err("MySQL has no partial indexes (mysql-core has no `.where()`); index the columns without the predicate by hand if that serves".into());
    }
    terms(predicate)?
        .into_iter()
        .map(|term| {
            if let Test::Equals(crate::schema::predicate::Literal::Text(text))
            | Test::NotEquals(crate::schema::predicate::Literal::Text(text)) = &term.test
                && text.contains(['`', '\\', '$'])
            {
                return Err(format!(
                    "the predicate's text `{text}` would need escaping in a template; add the index by hand"
                ));
            }
            let key = key_of(&term.column).ok_or_else(|| {
                format!("the predicate's column `{}` has no key in the schema", term.column)
            })?;
            Ok((term, key))
        })
        .collect()
}

/// The predicate's SQL with each column written by `column`: the text of
/// the schema's `sql` template and, with drizzle's rendering of a column,
/// the WHERE clause drizzle-kit writes from it.
fn where_text(terms: &[(Term, String)], column: impl Fn(&(Term, String)) -> String) -> String {
    let parts: Vec<String> = terms
        .iter()
        .map(|entry| {
            let c = column(entry);
            match &entry.0.test {
                Test::True => c,
                Test::False => format!("NOT {c}"),
                Test::IsNull => format!("{c} IS NULL"),
                Test::IsNotNull => format!("{c} IS NOT NULL"),
                Test::Equals(value) => format!("{c} = {}", value.sql()),
                Test::NotEquals(value) => format!("NOT ({c} = {})", value.sql()),
            }
        })
        .collect();
    parts.join(" AND ")
}

/// The WHERE clause drizzle-kit writes for the schema's `sql` template:
/// drizzle renders `${t.col}` as the double-quoted, table-qualified column
/// (`"billing"."monitors"."enabled"`), in every dialect.
fn kit_where(mapped: &MappedTable, terms: &[(Term, String)]) -> String {
    let mut table = String::new();
    if let (Some(schema), Dialect::Postgresql) = (&mapped.schema, mapped.dialect) {
        table.push_str(&format!("\"{schema}\"."));
    }
    table.push_str(&format!("\"{}\"", mapped.bare_name));
    where_text(terms, |(term, _)| format!("{table}.\"{}\"", term.column))
}

fn plain_columns(index: &Index) -> Option<Vec<(String, bool)>> {
    index
        .parts
        .iter()
        .map(|p| match &p.key {
            IndexKey::Column(c) => Some((c.clone(), p.desc)),
            IndexKey::Expression(_) => None,
        })
        .collect()
}

fn column_code(param: &str, key: &str, desc: bool) -> String {
    let access = if is_identifier(key) {
        format!("{param}.{key}")
    } else {
        format!(
            "{param}[{}]",
            serde_json::to_string(key).unwrap_or_default()
        )
    };
    if desc {
        format!("{access}.desc()")
    } else {
        access
    }
}

/// The local names of `index` and `uniqueIndex`, and the edit that
/// imports whichever is missing.
fn builder_names(
    file: &DrizzleFile,
    dialect: Dialect,
    needed: &[&str],
) -> (Vec<String>, Option<Edit>) {
    imported_names(file, core_module(dialect), needed)
}

/// The local names of `needed` exports of `module` (a namespace import's
/// `d.sql` too), and the edit that imports whichever is missing.
fn imported_names(
    file: &DrizzleFile,
    module: &str,
    needed: &[&str],
) -> (Vec<String>, Option<Edit>) {
    let mut names = Vec::new();
    let mut missing = Vec::new();
    for export in needed {
        let namespace = file
            .imports
            .iter()
            .find(|i| i.module == module && i.imported.is_none());
        match file
            .imports
            .iter()
            .find(|i| i.module == module && i.imported.as_deref() == Some(export))
        {
            Some(import) => names.push(import.local.clone()),
            None if namespace.is_some() => {
                names.push(format!("{}.{export}", namespace.expect("checked").local))
            }
            None => {
                names.push(export.to_string());
                missing.push(*export);
            }
        }
    }
    if missing.is_empty() {
        return (names, None);
    }
    let text = &file.source.text;
    let edit = match file.named_imports.iter().find(|n| n.module == module) {
        Some(braces) => {
            // After the last name, keeping a trailing comma and line layout.
            let inner = &text[braces.braces.start + 1..braces.braces.end - 1];
            let trimmed = inner.trim_end();
            let last_end = braces.braces.start + 1 + trimmed.len();
            if trimmed.is_empty() {
                Edit::insert(braces.braces.start + 1, format!(" {} ", missing.join(", ")))
            } else if let Some(without_comma) = trimmed.strip_suffix(',') {
                let multiline = inner.contains('\n');
                let separator = if multiline {
                    format!(
                        "\n{}",
                        indentation_at(
                            text,
                            braces.braces.start + 1 + without_comma.trim_end().len()
                        )
                    )
                } else {
                    " ".to_string()
                };
                let names: String = missing.iter().map(|m| format!("{separator}{m},")).collect();
                Edit::insert(last_end, names)
            } else {
                let names: String = missing.iter().map(|m| format!(", {m}")).collect();
                Edit::insert(last_end, names)
            }
        }
        None => Edit::insert(
            file.imports_end,
            format!(
                "{}import {{ {} }} from \"{module}\";{}",
                if file.imports_end == 0 { "" } else { "\n" },
                missing.join(", "),
                if file.imports_end == 0 { "\n" } else { "" }
            ),
        ),
    };
    (names, Some(edit))
}

/// The builders the new entries call: `index`, `uniqueIndex` or both.
fn needed_builders(new: &[&NewIndex]) -> Vec<&'static str> {
    ["index", "uniqueIndex"]
        .into_iter()
        .filter(|b| new.iter().any(|n| n.unique == (*b == "uniqueIndex")))
        .collect()
}

/// Insert the new entries into the table's extra config, or give the table
/// one. The import of a missing builder is the caller's: one edit per file,
/// however many of its tables need it.
fn add_entries(
    file: &DrizzleFile,
    decl: &TableDecl,
    new: &[&NewIndex],
    dialect: Dialect,
) -> Vec<Edit> {
    let text = &file.source.text;
    let needed = needed_builders(new);
    let (builders, _) = builder_names(file, dialect, &needed);
    let builder_for = |unique: bool| {
        let export = if unique { "uniqueIndex" } else { "index" };
        let i = needed.iter().position(|n| *n == export).unwrap_or(0);
        builders[i].clone()
    };
    // The file's own habits, from its other tables.
    let sibling = file.tables.iter().find_map(|t| t.extra.as_ref());
    let param = callback_param(file, decl);
    let sql_tag = imported_names(file, "drizzle-orm", &["sql"]).0.remove(0);
    let form = decl
        .extra
        .as_ref()
        .or(sibling)
        .map_or(ConfigForm::Array, |e| e.form);
    let mut used_keys: Vec<String> = decl
        .extra
        .iter()
        .flat_map(|e| &e.items)
        .filter_map(|i| i.key.clone())
        .collect();
    let entries: Vec<String> = new
        .iter()
        .map(|index| {
            let columns: Vec<String> = index
                .columns
                .iter()
                .map(|(key, desc)| column_code(&param, key, *desc))
                .collect();
            let mut call = format!(
                "{}({}).on({})",
                builder_for(index.unique),
                serde_json::to_string(&index.name).unwrap_or_default(),
                columns.join(", ")
            );
            if let Some(terms) = &index.predicate {
                // `${t.col}` renders as drizzle-kit's quoted column.
                let condition = where_text(terms, |(_, key)| {
                    format!("${{{}}}", column_code(&param, key, false))
                });
                call.push_str(&format!(".where({sql_tag}`{condition}`)"));
            }
            match form {
                ConfigForm::Array => call,
                ConfigForm::Object => {
                    let key = object_key(&index.name, &used_keys);
                    used_keys.push(key.clone());
                    format!("{key}: {call}")
                }
            }
        })
        .collect();
    // A table written on one line keeps its extra config on that line.
    let one_line = !text[decl.span.start..decl.span.end].contains('\n');
    let mut edits: Vec<Edit> = Vec::new();
    match &decl.extra {
        Some(extra) => {
            let container = extra.container;
            let inner = &text[container.start + 1..container.end - 1];
            let last_item = extra.items.last().map(|i| i.span);
            match last_item {
                None => {
                    let multiline = inner.contains('\n');
                    let indent = indentation_at(text, container.start);
                    let content = if multiline || (entries.len() > 1 && !one_line) {
                        let unit = indent_unit(text);
                        let body: String = entries
                            .iter()
                            .map(|e| format!("\n{indent}{unit}{e},"))
                            .collect();
                        format!("{body}\n{indent}")
                    } else {
                        one_line_entries(form, &entries)
                    };
                    edits.push(Edit::replace(
                        Span::new(container.start + 1, container.end - 1),
                        content,
                    ));
                }
                Some(last) => {
                    let after = &text[last.end..container.end - 1];
                    let trailing_comma = after.trim_start().starts_with(',');
                    let multiline = inner.contains('\n');
                    if multiline {
                        // New lines go after a comment that ends the last
                        // entry's line: it stays with its entry.
                        let indent = indentation_at(text, last.start);
                        if trailing_comma {
                            let comma = last.end + after.find(',').unwrap_or(0) + 1;
                            let body: String =
                                entries.iter().map(|e| format!("\n{indent}{e},")).collect();
                            edits.push(Edit::insert(after_line_comment(text, comma), body));
                        } else {
                            let body: Vec<String> =
                                entries.iter().map(|e| format!("\n{indent}{e}")).collect();
                            edits.push(Edit::insert(last.end, ","));
                            edits.push(Edit::insert(
                                after_line_comment(text, last.end),
                                body.join(","),
                            ));
                        }
                    } else {
                        let body: String = entries.iter().map(|e| format!(", {e}")).collect();
                        edits.push(Edit::insert(last.end, body));
                    }
                }
            }
        }
        None => {
            // A new third argument, laid out like the call: on the table's
            // line when the whole table is on one line; on a line of its
            // own when every argument is (prettier's `},\n  (t) => [`);
            // else `}, (table) => [\n  index(...).on(...),\n]` after the
            // columns.
            let columns_end = decl.columns_span.end;
            let between = &text[columns_end..decl.call_end.max(columns_end)];
            let own_lines = between.contains('\n');
            let indent = if own_lines {
                indentation_at(text, decl.columns_span.start)
            } else {
                indentation_at(text, columns_end.saturating_sub(1))
            };
            let body = if one_line {
                one_line_entries(form, &entries)
            } else {
                let unit = indent_unit(text);
                let lines: String = entries
                    .iter()
                    .map(|e| format!("\n{indent}{unit}{e},"))
                    .collect();
                format!("{lines}\n{indent}")
            };
            let callback = match form {
                ConfigForm::Array => format!("({param}) => [{body}]"),
                ConfigForm::Object => format!("({param}) => ({{{body}}})"),
            };
            let trailing_comma = between
                .trim_start()
                .starts_with(',')
                .then(|| columns_end + between.find(',').unwrap_or(0) + 1);
            edits.push(match (own_lines, trailing_comma) {
                (true, Some(comma)) => Edit::insert(comma, format!("\n{indent}{callback},")),
                (true, None) => Edit::insert(columns_end, format!(",\n{indent}{callback}")),
                (false, _) => Edit::insert(columns_end, format!(", {callback}")),
            });
        }
    }
    edits
}

/// Entries on one line: `[a, b]`'s inside, or `({ a: .., b: .. })`'s with
/// the spaces prettier puts inside object braces.
fn one_line_entries(form: ConfigForm, entries: &[String]) -> String {
    match form {
        ConfigForm::Array => entries.join(", "),
        ConfigForm::Object => format!(" {} ", entries.join(", ")),
    }
}

/// The edits for an extra config that loses entries and gains `new`: the
/// removals are made on the file's text, which is read again to add the
/// entries in its layout; the container is then replaced as a whole.
fn rewrite_extra(
    file: &DrizzleFile,
    decl: &TableDecl,
    removals: &[Edit],
    new: &[&NewIndex],
    dialect: Dialect,
) -> Option<Vec<Edit>> {
    let text = &file.source.text;
    let container = decl.extra.as_ref()?.container;
    let (removed, all_applied) = crate::source::apply_edits(text, removals);
    if !all_applied
        || removals
            .iter()
            .any(|e| e.span.start < container.start || e.span.end > container.end)
    {
        return None;
    }
    let path = file.source.path.clone();
    let source = crate::source::SourceFile::new(path.clone(), removed.clone());
    let reread = crate::frameworks::typescript::parse(&path, &removed, |parsed| {
        super::schema::extract(source, &parsed.program)
    })
    .ok()?;
    let again = reread.tables.iter().find(|t| t.var == decl.var)?;
    let inside = add_entries(&reread, again, new, dialect);
    let (added, _) = crate::source::apply_edits(&removed, &inside);
    let end = container.end - (text.len() - removed.len()) + (added.len() - removed.len());
    Some(vec![Edit::replace(
        container,
        added.get(container.start..end)?.to_string(),
    )])
}

/// The file's indentation step, from its first indented line.
fn indent_unit(text: &str) -> String {
    text.lines()
        .map(|l| &l[..l.len() - l.trim_start().len()])
        .find(|i| !i.is_empty())
        .map_or("  ".to_string(), |i| {
            if i.starts_with('\t') {
                "\t".into()
            } else {
                " ".repeat(i.len().min(4))
            }
        })
}

/// An object-form key for an index: its name in camelCase, made unique.
fn object_key(name: &str, used: &[String]) -> String {
    let base = super::Casing::CamelCase.apply(name);
    let base = if is_identifier(&base) {
        base
    } else {
        "index".to_string()
    };
    let mut key = base.clone();
    let mut n = 2;
    while used.contains(&key) {
        key = format!("{base}{n}");
        n += 1;
    }
    key
}

/// The removals, or, when they leave nothing but blanks between the
/// extra config's brackets, one edit that empties it: `(t) => []`, never
/// an empty array spread over lines or `({  })`.
fn empty_or_removals(text: &str, decl: &TableDecl, removals: Vec<Edit>) -> Vec<Edit> {
    let Some(extra) = &decl.extra else {
        return removals;
    };
    let inner = Span::new(extra.container.start + 1, extra.container.end - 1);
    let inside = |e: &Edit| e.span.start >= inner.start && e.span.end <= inner.end;
    if removals.is_empty() || !removals.iter().all(inside) {
        return removals;
    }
    let mut left = String::new();
    let mut at = inner.start;
    let mut sorted: Vec<&Edit> = removals.iter().collect();
    sorted.sort_by_key(|e| e.span.start);
    for edit in sorted {
        left.push_str(text.get(at..edit.span.start.max(at)).unwrap_or_default());
        left.push_str(&edit.content);
        at = at.max(edit.span.end);
    }
    left.push_str(text.get(at..inner.end).unwrap_or_default());
    if left.trim().is_empty() {
        vec![Edit::replace(inner, "")]
    } else {
        removals
    }
}

/// The comma that ends the entry before `at`, past the blanks and line
/// comments between them (`a, // why a\n  b`).
fn comma_before(text: &str, at: usize) -> Option<usize> {
    let mut end = at;
    loop {
        let before = text[..end].trim_end();
        if before.ends_with(',') {
            return Some(before.len() - 1);
        }
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let line = &before[line_start..];
        // A `//` after an even number of quotes is a comment, not a URL
        // in a string.
        let comment = line.match_indices("//").map(|(i, _)| i).find(|&i| {
            line[..i]
                .chars()
                .filter(|c| matches!(c, '"' | '\'' | '`'))
                .count()
                % 2
                == 0
        })?;
        end = line_start + comment;
    }
}

/// Whether the rest of a line holds nothing but blanks and a comment.
fn blank_or_comment(rest_of_line: &str) -> bool {
    let rest = rest_of_line.trim();
    rest.is_empty() || rest.starts_with("//") || (rest.starts_with("/*") && rest.ends_with("*/"))
}

/// The end of the line from `at` when the rest of it is a comment (the
/// comment of the entry before `at`), else `at`.
fn after_line_comment(text: &str, at: usize) -> usize {
    let rest = &text[at..];
    let line = &rest[..rest.find('\n').unwrap_or(rest.len())];
    if !line.trim().is_empty() && blank_or_comment(line) {
        at + line.trim_end().len()
    } else {
        at
    }
}

/// Remove an array element or object entry (or a run of neighbouring ones)
/// with its comma and, when it stands on its own line, the line, with a
/// comment that ends it (`index(..).on(t.a), // old`).
fn remove_item(text: &str, item: Span) -> Edit {
    let bytes = text.as_bytes();
    let mut j = item.end;
    while j < bytes.len() && (bytes[j] == b' ' || bytes[j] == b'\t') {
        j += 1;
    }
    let line_start = text[..item.start].rfind('\n').map_or(0, |i| i + 1);
    let own_line = text[line_start..item.start].trim().is_empty();
    let line_end = |from: usize| from + text[from..].find('\n').unwrap_or(text.len() - from);
    if j < bytes.len() && bytes[j] == b',' {
        let end = j + 1;
        if own_line && blank_or_comment(&text[end..line_end(end)]) {
            return Edit::replace(
                Span::new(line_start, (line_end(end) + 1).min(text.len())),
                "",
            );
        }
        let rest = &text[end..];
        let spaces = rest.len() - rest.trim_start_matches([' ', '\t']).len();
        return Edit::replace(Span::new(item.start, end + spaces), "");
    }
    // The last entry without a trailing comma: take the comma before it.
    let Some(comma) = comma_before(text, item.start) else {
        return Edit::replace(item, "");
    };
    if own_line && blank_or_comment(&text[item.end..line_end(item.end)]) {
        // The line goes; what follows the comma before it (the previous
        // entry's comment) stays.
        let kept = &text[comma + 1..line_start];
        return Edit::replace(
            Span::new(comma, line_end(item.end)),
            kept.strip_suffix('\n').unwrap_or(kept),
        );
    }
    Edit::replace(Span::new(comma, item.end), "")
}

enum KitChange {
    Create {
        mapped: MappedTable,
        name: String,
        unique: bool,
        columns: Vec<(String, bool)>,
        /// The WHERE clause as drizzle-kit renders the schema's `sql`.
        predicate: Option<String>,
    },
    Drop {
        mapped: MappedTable,
        name: String,
        /// Whether the snapshot knows the index (a declared one); one made
        /// by hand-written SQL is not in it.
        in_snapshot: bool,
    },
}

fn quote(dialect: Dialect, name: &str) -> String {
    match dialect {
        Dialect::Postgresql => format!("\"{name}\""),
        Dialect::Mysql | Dialect::Sqlite => format!("`{name}`"),
    }
}

/// The table as drizzle-kit writes it in DDL.
fn table_sql(mapped: &MappedTable) -> String {
    match (&mapped.schema, mapped.dialect) {
        (Some(schema), Dialect::Postgresql) => format!(
            "{}.{}",
            quote(mapped.dialect, schema),
            quote(mapped.dialect, &mapped.bare_name)
        ),
        _ => quote(mapped.dialect, &mapped.bare_name),
    }
}

/// drizzle-kit's DDL for a change (0.30+: no `IF NOT EXISTS`).
fn statement(change: &KitChange) -> String {
    match change {
        KitChange::Create {
            mapped,
            name,
            unique,
            columns,
            predicate,
        } => {
            let d = mapped.dialect;
            let unique = if *unique { "UNIQUE " } else { "" };
            let cols: Vec<String> = columns
                .iter()
                .map(|(c, desc)| match (d, desc) {
                    (Dialect::Postgresql, true) => format!("{} DESC NULLS LAST", quote(d, c)),
                    (_, true) => format!("{} DESC", quote(d, c)),
                    _ => quote(d, c),
                })
                .collect();
            let using = if d == Dialect::Postgresql {
                " USING btree"
            } else {
                ""
            };
            let condition = predicate
                .as_ref()
                .map(|p| format!(" WHERE {p}"))
                .unwrap_or_default();
            format!(
                "CREATE {unique}INDEX {} ON {}{using} ({}){condition};",
                quote(d, name),
                table_sql(mapped),
                cols.join(",")
            )
        }
        KitChange::Drop { mapped, name, .. } => match (mapped.dialect, &mapped.schema) {
            (Dialect::Postgresql, Some(schema)) => format!(
                "DROP INDEX {}.{};",
                quote(Dialect::Postgresql, schema),
                quote(Dialect::Postgresql, name)
            ),
            (Dialect::Mysql, _) => format!(
                "DROP INDEX {} ON {};",
                quote(Dialect::Mysql, name),
                table_sql(mapped)
            ),
            (d, _) => format!("DROP INDEX {};", quote(d, name)),
        },
    }
}

/// The snapshot's entry for a new index, as drizzle-kit serializes it.
fn snapshot_index(change: &KitChange) -> Option<(String, Value)> {
    let KitChange::Create {
        mapped,
        name,
        unique,
        columns,
        predicate,
    } = change
    else {
        return None;
    };
    let mut value = match mapped.dialect {
        Dialect::Postgresql => json!({
            "name": name,
            "columns": columns.iter().map(|(c, desc)| json!({
                "expression": c,
                "isExpression": false,
                "asc": !desc,
                "nulls": "last",
            })).collect::<Vec<_>>(),
            "isUnique": unique,
            "concurrently": false,
            "method": "btree",
            "with": {},
        }),
        Dialect::Mysql | Dialect::Sqlite => json!({
            "name": name,
            "columns": columns.iter().map(|(c, _)| c.clone()).collect::<Vec<_>>(),
            "isUnique": unique,
        }),
    };
    // drizzle-kit writes `where` right after `isUnique`, only when set.
    if let (Some(predicate), Some(entry)) = (predicate, value.as_object_mut()) {
        let at = entry
            .keys()
            .position(|k| k == "isUnique")
            .map_or(entry.len(), |i| i + 1);
        entry.shift_insert(at, "where".to_string(), Value::String(predicate.clone()));
    }
    Some((name.clone(), value))
}

fn snapshot_key(mapped: &MappedTable) -> String {
    match mapped.dialect {
        Dialect::Postgresql => format!(
            "{}.{}",
            mapped.schema.as_deref().unwrap_or("public"),
            mapped.bare_name
        ),
        _ => mapped.bare_name.clone(),
    }
}

/// The next migration of a drizzle-kit folder: SQL, journal, snapshot.
fn migration(kit: &KitFolder, changes: &[KitChange]) -> Result<Vec<FileChange>, String> {
    let Some(snapshot) = &kit.snapshot else {
        return Err(
            "the drizzle-kit folder has no readable snapshot; run `drizzle-kit generate`".into(),
        );
    };
    let last = kit.entries.last();
    let idx = last.map_or(0, |e| e.idx + 1);
    if let Some(last) = last
        && !last.tag.starts_with(&format!("{:04}_", last.idx))
    {
        return Err(format!(
            "migration names like `{}` (a `migrations.prefix` other than `index`) are not written yet; run `drizzle-kit generate`",
            last.tag
        ));
    }
    let breakpoints = last.is_none_or(|e| e.breakpoints);
    let statements: Vec<String> = changes.iter().map(statement).collect();
    let sql = statements.join(if breakpoints {
        "--> statement-breakpoint\n"
    } else {
        "\n"
    });
    let slug = match changes {
        [KitChange::Create { name, .. }] => format!("add_{name}"),
        [KitChange::Drop { name, .. }] => format!("drop_{name}"),
        _ => "ixray_indexes".to_string(),
    };
    let slug: String = slug
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(60)
        .collect();
    let tag = format!("{idx:04}_{slug}");
    // The migrator applies entries newer than the last applied one, so the
    // new entry must be later than every earlier `when`.
    let previous = kit.entries.iter().map(|e| e.when).max().unwrap_or(0);
    let when = (now_epoch() * 1000).max(previous + 1);
    // Journal.
    let mut journal: Value = serde_json::from_str(&kit.journal.text)
        .map_err(|e| format!("the journal cannot be read: {e}"))?;
    let version = last.map_or_else(
        || {
            snapshot.value["version"]
                .as_str()
                .unwrap_or("7")
                .to_string()
        },
        |e| e.version.clone(),
    );
    journal["entries"]
        .as_array_mut()
        .ok_or("the journal has no entries list")?
        .push(json!({
            "idx": idx,
            "version": version,
            "when": when,
            "tag": tag,
            "breakpoints": breakpoints,
        }));
    // Snapshot: the previous one plus the changes, with a new id.
    let mut next = snapshot.value.clone();
    let prev_id = snapshot.id().to_string();
    next["id"] = Value::String(snapshot_id(&prev_id, &sql));
    next["prevId"] = Value::String(prev_id);
    for change in changes {
        let (mapped, name) = match change {
            KitChange::Create { mapped, name, .. } => (mapped, name),
            KitChange::Drop {
                mapped,
                name,
                in_snapshot,
            } => {
                if !in_snapshot {
                    continue;
                }
                (mapped, name)
            }
        };
        let key = snapshot_key(mapped);
        let Some(indexes) = next["tables"][&key]["indexes"].as_object_mut() else {
            return Err(format!(
                "table `{key}` is not in the newest snapshot; run `drizzle-kit generate` first"
            ));
        };
        match snapshot_index(change) {
            Some((name, value)) => {
                indexes.insert(name, value);
            }
            None => {
                indexes.shift_remove(name);
            }
        }
    }
    let meta = kit.out.join("meta");
    let trailing = |original: &str| if original.ends_with('\n') { "\n" } else { "" };
    Ok(vec![
        FileChange::Create {
            path: kit.out.join(format!("{tag}.sql")),
            contents: sql,
        },
        FileChange::Create {
            path: meta.join(format!("{idx:04}_snapshot.json")),
            contents: format!("{}{}", pretty(&next), trailing(&snapshot.text)),
        },
        FileChange::Edit {
            path: kit.journal.path.clone(),
            edits: vec![Edit::replace(
                Span::new(0, kit.journal.text.len()),
                format!("{}{}", pretty(&journal), trailing(&kit.journal.text)),
            )],
        },
    ])
}

/// `JSON.stringify(value, null, 2)`.
fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

/// A version-4-shaped UUID derived from the previous snapshot and the SQL,
/// so the same fix gives the same files.
fn snapshot_id(prev: &str, sql: &str) -> String {
    use md5::{Digest, Md5};
    let mut bytes: [u8; 16] = Md5::digest(format!("{prev}\n{sql}").as_bytes()).into();
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapped(dialect: Dialect, schema: Option<&str>) -> MappedTable {
        MappedTable {
            name: "monitors".into(),
            schema: schema.map(String::from),
            bare_name: "monitors".into(),
            file: 0,
            decl: 0,
            dialect,
            config: None,
            kit: None,
            keys: [
                ("owner_id", "ownerId"),
                ("enabled", "enabled"),
                ("status", "status"),
                ("deleted_at", "deletedAt"),
                ("n", "n"),
            ]
            .into_iter()
            .map(|(c, k)| (c.to_string(), k.to_string()))
            .collect(),
        }
    }

    /// The forms match what drizzle-kit 0.31 wrote for the same schema code
    /// (`index("m_b").on(t.ownerId, t.n.desc()).where(sql\`NOT ${t.enabled}
    /// AND ${t.deletedAt} IS NULL\`)`), byte for byte.
    #[test]
    fn partial_indexes_are_written_as_drizzle_kit_writes_them() {
        let table = mapped(Dialect::Postgresql, None);
        let key_of = |c: &str| table.keys.get(c).cloned();
        let terms = where_terms(
            "NOT enabled AND deleted_at IS NULL",
            Dialect::Postgresql,
            key_of,
        )
        .unwrap();
        assert_eq!(
            where_text(&terms, |(_, key)| format!(
                "${{{}}}",
                column_code("t", key, false)
            )),
            "NOT ${t.enabled} AND ${t.deletedAt} IS NULL"
        );
        let change = KitChange::Create {
            mapped: table.clone(),
            name: "m_b".into(),
            unique: false,
            columns: vec![("owner_id".into(), false), ("n".into(), true)],
            predicate: Some(kit_where(&table, &terms)),
        };
        assert_eq!(
            statement(&change),
            r#"CREATE INDEX "m_b" ON "monitors" USING btree ("owner_id","n" DESC NULLS LAST) WHERE NOT "monitors"."enabled" AND "monitors"."deleted_at" IS NULL;"#
        );
        let (_, entry) = snapshot_index(&change).unwrap();
        assert_eq!(
            serde_json::to_string(&entry).unwrap(),
            r#"{"name":"m_b","columns":[{"expression":"owner_id","isExpression":false,"asc":true,"nulls":"last"},{"expression":"n","isExpression":false,"asc":false,"nulls":"last"}],"isUnique":false,"where":"NOT \"monitors\".\"enabled\" AND \"monitors\".\"deleted_at\" IS NULL","concurrently":false,"method":"btree","with":{}}"#
        );

        let in_schema = mapped(Dialect::Postgresql, Some("billing"));
        let terms = where_terms("enabled", Dialect::Postgresql, |c| {
            in_schema.keys.get(c).cloned()
        })
        .unwrap();
        assert_eq!(
            kit_where(&in_schema, &terms),
            r#""billing"."monitors"."enabled""#
        );

        let lite = mapped(Dialect::Sqlite, None);
        let terms = where_terms(
            "NOT (status = 'down') AND owner_id IS NOT NULL AND n = 42",
            Dialect::Sqlite,
            |c| lite.keys.get(c).cloned(),
        )
        .unwrap();
        let change = KitChange::Create {
            mapped: lite.clone(),
            name: "m_d".into(),
            unique: false,
            columns: vec![("owner_id".into(), false)],
            predicate: Some(kit_where(&lite, &terms)),
        };
        assert_eq!(
            statement(&change),
            r#"CREATE INDEX `m_d` ON `monitors` (`owner_id`) WHERE NOT ("monitors"."status" = 'down') AND "monitors"."owner_id" IS NOT NULL AND "monitors"."n" = 42;"#
        );
        let (_, entry) = snapshot_index(&change).unwrap();
        assert_eq!(
            serde_json::to_string(&entry).unwrap(),
            r#"{"name":"m_d","columns":["owner_id"],"isUnique":false,"where":"NOT (\"monitors\".\"status\" = 'down') AND \"monitors\".\"owner_id\" IS NOT NULL AND \"monitors\".\"n\" = 42"}"#
        );
    }

    #[test]
    fn partial_indexes_drizzle_cannot_take_are_refused() {
        let table = mapped(Dialect::Mysql, None);
        let key_of = |c: &str| table.keys.get(c).cloned();
        assert!(
            where_terms("enabled", Dialect::Mysql, key_of)
                .unwrap_err()
                .starts_with("MySQL has no partial indexes")
        );
        let key_of = |c: &str| table.keys.get(c).cloned();
        assert!(where_terms("missing IS NULL", Dialect::Postgresql, key_of).is_err());
        let key_of = |c: &str| table.keys.get(c).cloned();
        assert!(where_terms("status = '${x}'", Dialect::Postgresql, key_of).is_err());
        let key_of = |c: &str| table.keys.get(c).cloned();
        assert!(where_terms("enabled OR n = 1", Dialect::Postgresql, key_of).is_err());
    }

    #[test]
    fn a_parameter_named_after_its_table_is_no_convention() {
        assert!(names_its_table("account", "accounts"));
        assert!(names_its_table("vt", "verificationTokens"));
        assert!(names_its_table("ak", "apiKeys"));
        assert!(!names_its_table("t", "tags"));
        assert!(!names_its_table("table", "users"));
    }
}
