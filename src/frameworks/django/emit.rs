//! Writes Django fixes: `models.Index(...)` entries in the model's
//! `Meta.indexes` (creating `Meta` or the list when absent), `db_index=False`
//! on a field whose implicit index is redundant, and one new migration per
//! app, named and numbered as `makemigrations` would, depending on the app's
//! leaf migration. On PostgreSQL indexes are built concurrently.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::models::{ClassDecl, IndexList, ModelsFile};
use super::project::{DjangoProject, Drift, DriftKind, Model};
use crate::frameworks::python::{self as py, quote};
use crate::rules::{Finding, FixIntent};
use crate::schema::{Dialect, Framework, Index, IndexOrigin, IndexSpec, Table};
use crate::source::{ChangeSet, Edit, FileChange, Span};

/// A finding that `fix` cannot write, with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unfixable {
    pub table: String,
    pub reason: String,
}

/// What one model needs: new indexes, indexes to drop, and indexes the
/// database has that the model must declare again (drift: no migration).
#[derive(Default)]
struct ModelPlan<'f> {
    add: Vec<&'f IndexSpec>,
    drop: Vec<&'f Index>,
    /// `Meta.indexes` entries, as the migration wrote them.
    declare: Vec<&'f str>,
    /// Field flags to turn back on: (attribute, `db_index` or `unique`).
    flags: Vec<(&'f str, &'static str)>,
}

/// One migration operation, rendered, with its name fragment.
struct MigrationOp {
    fragment: String,
    code: String,
    concurrent: bool,
}

const ADD_INDEX_HELPER: &str = "AddIndexConcurrentlyOnPostgres";
const REMOVE_INDEX_HELPER: &str = "RemoveIndexConcurrentlyOnPostgres";

/// Fill in `help` on Django findings: the fix as a person would write it.
pub fn describe_fixes(project: &DjangoProject, tables: &[Table], findings: &mut [Finding]) {
    let tables: rustc_hash::FxHashMap<&str, &Table> =
        tables.iter().map(|t| (t.name.as_str(), t)).collect();
    for finding in findings
        .iter_mut()
        .filter(|f| f.framework == Framework::Django)
    {
        // Only SQL changes a table `RunSQL` creates: the rule's help stands,
        // and `plan` says why no fix is written.
        if project.sql_tables.contains_key(&finding.table) {
            continue;
        }
        let Some(model) = project.model_for_table(&finding.table) else {
            continue;
        };
        let class = project.class(model);
        let file = &project.files[model.file];
        let mut manual = false;
        finding.help = match &finding.fix {
            Some(FixIntent::AddIndex(spec)) => {
                let Some(table) = tables.get(finding.table.as_str()) else {
                    continue;
                };
                let index_ref = file
                    .imports
                    .reference("Index")
                    .unwrap_or_else(|| "models.Index".into());
                let q_ref = file
                    .imports
                    .reference("Q")
                    .unwrap_or_else(|| "models.Q".into());
                // `plan` reports a partial index it cannot write, with why.
                match partial_refusal(project.dialect, spec)
                    .map_or_else(|| render_index(spec, table, &index_ref, &q_ref), Err)
                {
                    Ok(entry) => Some(format!(
                        "add `{entry}` to `{}.Meta.indexes`, with a migration",
                        class.name
                    )),
                    Err(reason) => Some(format!(
                        "add a partial index on ({}) to `{}.Meta.indexes` by hand: {reason}",
                        spec.columns
                            .iter()
                            .map(|c| c.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                        class.name
                    )),
                }
            }
            // An index only the history has: `makemigrations` drops it.
            Some(FixIntent::DropIndex(index)) if index.drift => {
                manual = true;
                Some(format!(
                    "run `makemigrations`: no model declares `{}`, so the migration it writes drops it",
                    index.display_name()
                ))
            }
            Some(FixIntent::DropIndex(index)) => Some(match index.origin {
                IndexOrigin::FrameworkImplicit | IndexOrigin::FieldFlag
                    if project.dialect == Dialect::Postgresql
                        && class
                            .fields
                            .iter()
                            .find(|f| Some(f.attr.as_str()) == index.field.as_deref())
                            .is_some_and(|f| is_char_like(&f.kind)) =>
                {
                    manual = true;
                    format!(
                        "drop the plain index by hand if no `startswith` lookup needs it: `db_index=False` on `{}.{}` would also drop its `_like` pattern index",
                        class.name,
                        index.field.as_deref().unwrap_or("?")
                    )
                }
                // An inherited field is changed where it is declared, which
                // changes every model that inherits it: left to the user.
                IndexOrigin::FrameworkImplicit | IndexOrigin::FieldFlag
                    if !class
                        .fields
                        .iter()
                        .any(|f| Some(f.attr.as_str()) == index.field.as_deref()) =>
                {
                    manual = true;
                    format!(
                        "`{}` is inherited by `{}`: set `db_index=False` where it is declared if every model that inherits it has such an index",
                        index.field.as_deref().unwrap_or("?"),
                        class.name
                    )
                }
                IndexOrigin::FrameworkImplicit | IndexOrigin::FieldFlag => format!(
                    "set `db_index=False` on `{}.{}`, with a migration",
                    class.name,
                    index.field.as_deref().unwrap_or("?")
                ),
                IndexOrigin::Declared => format!(
                    "remove it from `Meta.indexes`, with a migration that drops `{}`",
                    index.display_name()
                ),
                _ => format!("drop `{}`", index.display_name()),
            }),
            Some(FixIntent::DeclareIndex(index)) => {
                let (help, fixable) = describe_drift(project, finding, index, class, file);
                manual = !fixable;
                Some(help)
            }

            // A finding without a fix keeps the help its rule gave.
            None => finding.help.take(),
        };
        if manual {
            finding.fix = None;
        }
    }
}

/// The drift record behind a drift finding.
fn drift_of<'p>(project: &'p DjangoProject, finding: &Finding, index: &Index) -> Option<&'p Drift> {
    let location = index.location.as_ref()?;
    project.drift.iter().find(|d| {
        d.table == finding.table
            && d.location.path == location.path
            && d.location.span == location.span
            && d.columns == finding.columns
    })
}

/// How to declare a drifted index again, and whether `fix` does it.
fn describe_drift(
    project: &DjangoProject,
    finding: &Finding,
    index: &Index,
    class: &ClassDecl,
    file: &ModelsFile,
) -> (String, bool) {
    let Some(drift) = drift_of(project, finding, index) else {
        return (
            format!(
                "declare `{}` in `{}` again, or run `makemigrations` if it should go",
                index.display_name(),
                class.name
            ),
            false,
        );
    };
    match &drift.kind {
        DriftKind::Index { code } => {
            let entry = model_entry(code, file);
            let text = entry.clone().unwrap_or_else(|| one_line(code));
            (
                format!(
                    "declare `{text}` in `{}.Meta.indexes` (the database has it; no migration is needed)",
                    class.name
                ),
                entry.is_some(),
            )
        }
        DriftKind::Constraint { code } => (
            format!(
                "declare `{}` in `{}.Meta.constraints` (the database has it; no migration is needed)",
                one_line(code),
                class.name
            ),
            false,
        ),
        DriftKind::UniqueTogether { fields } => (
            format!(
                "add `({})` to `{}.Meta.unique_together`, or declare a `UniqueConstraint` with a migration that replaces it",
                fields
                    .iter()
                    .map(|f| quote(f))
                    .collect::<Vec<_>>()
                    .join(", "),
                class.name
            ),
            false,
        ),
        DriftKind::Field { field, unique } => {
            let flag = if *unique { "unique" } else { "db_index" };
            let own = class.fields.iter().any(|f| &f.attr == field && !f.dynamic);
            (
                format!("set `{flag}=True` on `{}.{field}` again", class.name),
                own,
            )
        }
    }
}

/// A migration's `Index(...)` text on one line.
fn one_line(code: &str) -> String {
    let mut out = String::new();
    for (i, line) in code.lines().enumerate() {
        let line = if i == 0 { line } else { line.trim_start() };
        if i > 0
            && !(out.ends_with('(')
                || out.ends_with('[')
                || line.starts_with(')')
                || line.starts_with(']'))
        {
            out.push(' ');
        }
        out.push_str(line);
    }
    out.replace(", )", ")")
        .replace(", ]", "]")
        .replace(",)", ")")
        .replace(",]", "]")
}

/// A migration's `models.Index(...)` as the models module writes it: its
/// `models.` names through the module's own import of `django.db.models`.
/// `None` when it names anything else (`django.contrib.postgres...`).
fn model_entry(code: &str, file: &ModelsFile) -> Option<String> {
    let code = one_line(code);
    let alias = file.imports.models_module.as_deref()?;
    let mut out = String::with_capacity(code.len());
    let bytes = code.as_bytes();
    let mut i = 0;
    let mut quote_char: Option<u8> = None;
    while i < bytes.len() {
        let c = bytes[i];
        if let Some(q) = quote_char {
            out.push(c as char);
            if c == b'\\' && i + 1 < bytes.len() {
                out.push(bytes[i + 1] as char);
                i += 2;
                continue;
            }
            if c == q {
                quote_char = None;
            }
            i += 1;
            continue;
        }
        if c == b'"' || c == b'\'' {
            // `'memo'` as the module writes strings: `"memo"`.
            let end = code[i + 1..].find(c as char).map(|e| i + 1 + e);
            if let Some(end) = end
                && !code[i + 1..end].contains(['"', '\'', '\\'])
            {
                out.push('"');
                out.push_str(&code[i + 1..end]);
                out.push('"');
                i = end + 1;
                continue;
            }
            quote_char = Some(c);
            out.push(c as char);
            i += 1;
            continue;
        }
        if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < bytes.len()
                && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' || bytes[i] == b'.')
            {
                i += 1;
            }
            let word = &code[start..i];
            let keyword = bytes.get(i) == Some(&b'=') && bytes.get(i + 1) != Some(&b'=');
            match word.split_once('.') {
                Some(("models", rest)) if !rest.contains('.') => {
                    out.push_str(alias);
                    out.push('.');
                    out.push_str(rest);
                }
                Some(_) => return None,
                None if keyword || matches!(word, "True" | "False" | "None") => out.push_str(word),
                None => return None,
            }
            continue;
        }
        out.push(c as char);
        i += 1;
    }
    Some(out)
}

/// Turn Django findings into file changes. Findings that cannot be written
/// safely come back as `Unfixable` with the reason.
pub fn plan(
    project: &DjangoProject,
    tables: &[Table],
    findings: &[&Finding],
) -> (Vec<ChangeSet>, Vec<Unfixable>) {
    let mut problems = Vec::new();
    let tables_by_name: rustc_hash::FxHashMap<&str, &Table> =
        tables.iter().map(|t| (t.name.as_str(), t)).collect();
    let mut per_model: BTreeMap<usize, ModelPlan> = BTreeMap::new();
    for finding in findings.iter().filter(|f| f.framework == Framework::Django) {
        let Some(fix) = &finding.fix else { continue };
        if let Some(migration) = project.sql_tables.get(&finding.table) {
            let why = match project.model_for_table(&finding.table) {
                Some(model) => format!(
                    "the model `{}` is `managed = False`, so write the index as `RunSQL` by hand",
                    model.name
                ),
                None => "no model declares it, so write the index as `RunSQL` by hand".into(),
            };
            problems.push(Unfixable {
                table: finding.table.clone(),
                reason: format!(
                    "`{}` is created by `RunSQL` in migration `{migration}`; {why}",
                    finding.table
                ),
            });
            continue;
        }
        let Some(model_ix) = project.by_table.get(&finding.table).copied() else {
            let reason = if project.history_tables.contains(&finding.table) {
                format!(
                    "no model ixray reads declares `{}` (only the migration history does); write the migration by hand",
                    finding.table
                )
            } else {
                format!("`{}` is not a model table ixray can edit", finding.table)
            };
            problems.push(Unfixable {
                table: finding.table.clone(),
                reason,
            });
            continue;
        };
        let entry = per_model.entry(model_ix).or_default();
        match fix {
            FixIntent::AddIndex(spec) => {
                let refusal = partial_refusal(project.dialect, spec).or_else(|| {
                    let table = tables_by_name.get(finding.table.as_str())?;
                    render_index(spec, table, "models.Index", "models.Q").err()
                });
                if let Some(reason) = refusal {
                    problems.push(Unfixable {
                        table: finding.table.clone(),
                        reason,
                    });
                    continue;
                }
                if !entry
                    .add
                    .iter()
                    .any(|s| s.columns == spec.columns && s.predicate == spec.predicate)
                {
                    entry.add.push(spec);
                }
            }
            FixIntent::DropIndex(index) => {
                if !entry
                    .drop
                    .iter()
                    .any(|i| i.location == index.location && i.parts == index.parts)
                {
                    entry.drop.push(index);
                }
            }
            FixIntent::DeclareIndex(index) => {
                match drift_of(project, finding, index).map(|d| &d.kind) {
                    Some(DriftKind::Index { code }) => entry.declare.push(code),
                    Some(DriftKind::Field { field, unique }) => entry
                        .flags
                        .push((field, if *unique { "unique" } else { "db_index" })),
                    _ => problems.push(Unfixable {
                        table: finding.table.clone(),
                        reason: format!("declare `{}` in the model by hand", index.display_name()),
                    }),
                }
            }
        }
    }

    let mut edits: BTreeMap<PathBuf, Vec<Edit>> = BTreeMap::new();
    let mut ops: BTreeMap<PathBuf, (String, Vec<MigrationOp>)> = BTreeMap::new();
    for (model_ix, plan) in &per_model {
        let model = &project.models[*model_ix];
        let Some(table) = tables_by_name.get(model.table.as_str()) else {
            continue;
        };
        let file = &project.files[model.file];
        let class = project.class(model);
        let path = file.source.path.clone();
        let model_ops = &mut ops
            .entry(model.app_dir.clone())
            .or_insert_with(|| (model.app_label.clone(), Vec::new()))
            .1;
        // The import joins the file only with the model's other edits.
        let (index_ref, import) = match file.imports.reference("Index") {
            Some(r) => (r, None),
            None => (
                "models.Index".to_string(),
                Some(Edit::insert(
                    file.imports.insert_at,
                    if file.imports.insert_at == 0 {
                        "from django.db import models\n"
                    } else {
                        "\nfrom django.db import models"
                    },
                )),
            ),
        };
        // Removals first: when they and the additions touch the same
        // `Meta.indexes` list, the list is rewritten once.
        let mut drop_edits: Vec<Edit> = Vec::new();
        let mut drop_ops: Vec<MigrationOp> = Vec::new();
        let mut refused = Vec::new();
        for index in &plan.drop {
            match drop_index(project, model, class, file, table, index) {
                Ok((edit, op)) => {
                    drop_edits.push(edit);
                    drop_ops.push(op);
                }
                Err(reason) => refused.push(reason),
            }
        }
        // A table's change is made whole or not at all: its other fixes
        // wait until the refused one is made by hand.
        if !refused.is_empty() {
            problems.push(Unfixable {
                table: table.name.clone(),
                reason: format!("{}; none of its changes were made", refused.join("; ")),
            });
            continue;
        }
        // Field flags the database already has: the model says so again.
        let mut flag_edits = Vec::new();
        for (attr, flag) in &plan.flags {
            match class.fields.iter().find(|f| f.attr == *attr && !f.dynamic) {
                Some(field) => {
                    let text = file.source.text.as_str();
                    let edit = match field.keyword_span(flag) {
                        Some(span) => Edit::replace(span, format!("{flag}=True")),
                        None => py::add_keyword_within(
                            text,
                            field.arguments,
                            &format!("{flag}=True"),
                            py::line_length(&path),
                        ),
                    };
                    flag_edits.push(edit);
                }
                None => refused.push(format!(
                    "`{attr}` is not declared in `{}` itself; set `{flag}=True` where it is declared",
                    class.name
                )),
            }
        }
        if !refused.is_empty() {
            problems.push(Unfixable {
                table: table.name.clone(),
                reason: format!("{}; none of its changes were made", refused.join("; ")),
            });
            continue;
        }
        let declared: Vec<String> = plan
            .declare
            .iter()
            .filter_map(|code| model_entry(code, file))
            .collect();
        // `Q` for a partial index: through the module's own import, the
        // `models` import the fix adds, or an import of its own.
        let needs_q = plan.add.iter().any(|spec| spec.predicate.is_some());
        let (q_ref, q_import) = match file.imports.reference("Q") {
            Some(r) => (r, None),
            None if import.is_some() || !needs_q => ("models.Q".to_string(), None),
            None => (
                "Q".to_string(),
                Some(Edit::insert(
                    file.imports.insert_at,
                    "\nfrom django.db.models import Q",
                )),
            ),
        };
        if !plan.add.is_empty() || !declared.is_empty() {
            let rendered: Result<Vec<(String, String)>, String> = plan
                .add
                .iter()
                .map(|spec| {
                    Ok((
                        render_index(spec, table, &index_ref, &q_ref)?,
                        render_index(spec, table, "models.Index", "models.Q")?,
                    ))
                })
                .collect();
            let (mut entries, migration_entries): (Vec<String>, Vec<String>) = match rendered {
                Ok(rendered) => rendered.into_iter().unzip(),
                Err(reason) => {
                    problems.push(Unfixable {
                        table: table.name.clone(),
                        reason,
                    });
                    continue;
                }
            };
            entries.extend(declared);
            let literal = class
                .meta
                .as_ref()
                .and_then(|m| m.indexes.as_ref())
                .and_then(|l| l.literal.as_ref());
            let (inside, outside): (Vec<Edit>, Vec<Edit>) = drop_edits.into_iter().partition(|e| {
                literal.is_some_and(|l| l.span.start < e.span.start && e.span.end < l.span.end)
            });
            drop_edits = outside;
            let added = match literal {
                Some(list) if !inside.is_empty() => rewrite_list(
                    &file.source.text,
                    list.span,
                    &inside,
                    &entries,
                    py::line_length(&path),
                )
                .ok_or_else(|| {
                    "cannot combine the removal and the addition in `Meta.indexes`".to_string()
                }),
                _ => add_to_meta(project, model, class, file, &entries),
            };
            match added {
                Ok(edit) => edits
                    .entry(path.clone())
                    .or_default()
                    .extend(import.into_iter().chain(q_import).chain([edit])),
                Err(reason) => {
                    problems.push(Unfixable {
                        table: table.name.clone(),
                        reason,
                    });
                    continue;
                }
            }
            for (spec, entry) in plan.add.iter().zip(&migration_entries) {
                let concurrent = project.dialect == Dialect::Postgresql && !project.plain_indexes;
                let op_name = if concurrent {
                    ADD_INDEX_HELPER
                } else {
                    "migrations.AddIndex"
                };
                model_ops.push(MigrationOp {
                    fragment: format!("{}_{}", model.name.to_ascii_lowercase(), spec.name.to_ascii_lowercase()),
                    code: format!(
                        "        {op_name}(\n            model_name={},\n            index={entry},\n        ),\n",
                        quote(&model.name.to_ascii_lowercase())
                    ),
                    concurrent,
                });
            }
        }
        if !drop_edits.is_empty() {
            edits.entry(path.clone()).or_default().extend(drop_edits);
        }
        if !flag_edits.is_empty() {
            edits.entry(path.clone()).or_default().extend(flag_edits);
        }
        model_ops.extend(drop_ops);
    }

    // Each models file goes with the app of the models it edits.
    let file_app: BTreeMap<PathBuf, PathBuf> = per_model
        .keys()
        .map(|&m| {
            let model = &project.models[m];
            (
                project.files[model.file].source.path.clone(),
                model.app_dir.clone(),
            )
        })
        .collect();
    let labels: BTreeMap<PathBuf, String> = ops
        .iter()
        .map(|(dir, (label, _))| (dir.clone(), label.clone()))
        .collect();
    let mut graph: Graph = rustc_hash::FxHashMap::default();
    for node in &project.graph {
        graph.entry(node.app_dir.as_path()).or_default().push(node);
    }
    let migrations: BTreeMap<PathBuf, Result<Vec<FileChange>, String>> = ops
        .into_iter()
        .filter(|(_, (_, ops))| !ops.is_empty())
        .map(|(app_dir, (label, ops))| {
            let migration =
                new_migration(&graph, &app_dir, &label, ops).map(|m| m.into_iter().collect());
            (app_dir, migration)
        })
        .collect();
    let (sets, withheld) = ChangeSet::group(
        edits,
        |path| file_app.get(path).cloned(),
        migrations,
        |dir| format!("app `{}`", labels.get(dir).map_or("?", String::as_str)),
    );
    problems.extend(
        withheld
            .into_iter()
            .map(|(table, reason)| Unfixable { table, reason }),
    );
    (sets, problems)
}

/// The migrations of each app folder.
type Graph<'p> = rustc_hash::FxHashMap<&'p Path, Vec<&'p super::migrations::GraphNode>>;

/// `models.Index(fields=["customer", "-created_at"], name="...")`, with
/// `condition=models.Q(...)` for a partial index (`q_ref` names `Q`).
fn render_index(
    spec: &IndexSpec,
    table: &Table,
    index_ref: &str,
    q_ref: &str,
) -> Result<String, String> {
    let fields: Vec<String> = spec
        .columns
        .iter()
        .map(|c| {
            let field = field_of(table, &c.name).unwrap_or(&c.name).to_string();
            quote(&if c.desc { format!("-{field}") } else { field })
        })
        .collect();
    let condition = match &spec.predicate {
        Some(predicate) => format!(", condition={}", condition(predicate, table, q_ref)?),
        None => String::new(),
    };
    Ok(format!(
        "{index_ref}(fields=[{}], name={}{condition})",
        fields.join(", "),
        quote(&spec.name)
    ))
}

/// Why a partial index cannot be written on this database, if it cannot.
fn partial_refusal(dialect: Dialect, spec: &IndexSpec) -> Option<String> {
    // Django skips an index with a `condition` on MySQL (no partial indexes).
    (spec.predicate.is_some() && dialect == Dialect::Mysql).then(|| {
        "MySQL has no partial indexes (Django creates no index with a `condition` there); index the columns without the predicate by hand if that serves".to_string()
    })
}

/// The model field that declares a SQL column.
fn field_of<'t>(table: &'t Table, column: &str) -> Option<&'t str> {
    table
        .columns
        .iter()
        .find(|col| col.name == column)
        .map(|col| col.field.as_str())
}

/// A partial index predicate as Django's `Q`, on the model's field names:
/// `Q(enabled=True, deleted_at__isnull=True)`, and `~Q(status="down")` for
/// a negated equality, joined with `&` (keyword arguments cannot say NOT,
/// nor name one lookup twice). The migration writes the same expression,
/// so the state `makemigrations` rebuilds equals the model's. On a nullable
/// column Django compiles `~Q(status="down")` to `NOT (status = 'down' AND
/// status IS NOT NULL)`, which keeps NULL rows that `NOT (status = 'down')`
/// leaves out: the very condition `exclude(status="down")` queries with.
fn condition(predicate: &str, table: &Table, q_ref: &str) -> Result<String, String> {
    use crate::schema::predicate::{Literal, Test, terms};
    let value = |literal: &Literal| match literal {
        Literal::Text(text) => quote(text),
        Literal::Number(n) => n.clone(),
    };
    let mut lookups: Vec<(String, String, bool)> = Vec::new();
    for term in terms(predicate)? {
        let field = field_of(table, &term.column).ok_or_else(|| {
            format!(
                "no field of the model declares `{}`, which the predicate names",
                term.column
            )
        })?;
        let (key, value, negated) = match &term.test {
            Test::True => (field.to_string(), "True".to_string(), false),
            Test::False => (field.to_string(), "False".to_string(), false),
            Test::IsNull => (format!("{field}__isnull"), "True".to_string(), false),
            Test::IsNotNull => (format!("{field}__isnull"), "False".to_string(), false),
            Test::Equals(literal) => (field.to_string(), value(literal), false),
            Test::NotEquals(literal) => (field.to_string(), value(literal), true),
        };
        lookups.push((key, value, negated));
    }
    let mut keys: Vec<&str> = lookups.iter().map(|(k, _, _)| k.as_str()).collect();
    keys.sort_unstable();
    keys.dedup();
    if keys.len() == lookups.len() && lookups.iter().all(|(_, _, negated)| !negated) {
        let arguments: Vec<String> = lookups.iter().map(|(k, v, _)| format!("{k}={v}")).collect();
        return Ok(format!("{q_ref}({})", arguments.join(", ")));
    }
    let parts: Vec<String> = lookups
        .iter()
        .map(|(k, v, negated)| format!("{}{q_ref}({k}={v})", if *negated { "~" } else { "" }))
        .collect();
    Ok(parts.join(" & "))
}

/// The edit that adds `entries` to the model's `Meta.indexes`.
fn add_to_meta(
    project: &DjangoProject,
    model: &Model,
    class: &ClassDecl,
    file: &ModelsFile,
    entries: &[String],
) -> Result<Edit, String> {
    let text = file.source.text.as_str();
    if let Some(meta) = &class.meta {
        if let Some(list) = &meta.indexes {
            return match &list.literal {
                Some(literal) => Ok(insert_into_list(
                    text,
                    literal.span,
                    &literal.items,
                    entries,
                    py::line_length(&file.source.path),
                )),
                None => {
                    // `indexes = Base.Meta.indexes`: extend it.
                    let value_start = text[list.statement.start..list.statement.end]
                        .find('=')
                        .map(|i| list.statement.start + i + 1)
                        .ok_or("cannot read the `indexes` assignment")?;
                    let value = text[value_start..list.statement.end].trim();
                    Ok(Edit::replace(
                        Span::new(value_start, list.statement.end),
                        format!(" {value} + {}", multiline_list(&meta.body_indent, entries)),
                    ))
                }
            };
        }
        // Meta without `indexes`: keep what `class Meta(Base.Meta)` inherits.
        let inherited = inherited_indexes_ref(project, model, &meta.bases);
        let assignment = indexes_assignment(&meta.body_indent, inherited.as_deref(), entries);
        return Ok(Edit::insert(meta.body.end, format!("\n{assignment}")));
    }
    // No Meta of its own: Django would use an abstract parent's Meta, so the
    // new Meta must extend it or the parent's options (ordering, indexes) are lost.
    let indent = &class.body_indent;
    let inner = format!("{indent}    ");
    let parent_meta = abstract_parent_meta(project, model, class);
    let header = match &parent_meta {
        Some(base) => format!("{indent}class Meta({base}.Meta):"),
        None => format!("{indent}class Meta:"),
    };
    let inherited = match &parent_meta {
        Some(base) if parent_has_indexes(project, model) => Some(format!("{base}.Meta.indexes")),
        _ => None,
    };
    let assignment = indexes_assignment(&inner, inherited.as_deref(), entries);
    let at = class.fields_end().unwrap_or(class.body.end);
    Ok(Edit::insert(at, format!("\n\n{header}\n{assignment}")))
}

/// `indexes = [ ... ]` at `indent`, extending an inherited list when given.
fn indexes_assignment(indent: &str, inherited: Option<&str>, entries: &[String]) -> String {
    let mut items: Vec<String> = Vec::new();
    if let Some(inherited) = inherited {
        items.push(format!("*{inherited}"));
    }
    items.extend(entries.iter().cloned());
    format!("{indent}indexes = {}", multiline_list(indent, &items))
}

fn multiline_list(indent: &str, items: &[String]) -> String {
    let mut out = String::from("[\n");
    for item in items {
        let _ = writeln!(out, "{indent}    {item},");
    }
    out.push_str(indent);
    out.push(']');
    out
}

/// The base class expression (as written in the child) of the abstract
/// parent whose Meta the model inherits, e.g. `TimeStamped`.
fn abstract_parent_meta(
    project: &DjangoProject,
    model: &Model,
    class: &ClassDecl,
) -> Option<String> {
    let (file, class_ix) = model.meta_from?;
    if (file, class_ix) == (model.file, model.class) {
        return None;
    }
    let owner = &project.files[file].classes[class_ix];
    // The direct base that leads to the Meta owner.
    class
        .bases
        .iter()
        .find(|b| b.rsplit('.').next() == Some(owner.name.as_str()))
        .cloned()
        .or_else(|| {
            model.parents.iter().find_map(|p| {
                let parent = &project.models[*p];
                if parent.meta_from == Some((file, class_ix)) {
                    class
                        .bases
                        .iter()
                        .find(|b| b.rsplit('.').next() == Some(parent.name.as_str()))
                        .cloned()
                } else {
                    None
                }
            })
        })
}

fn parent_has_indexes(project: &DjangoProject, model: &Model) -> bool {
    model
        .meta_from
        .and_then(|(f, c)| project.files[f].classes[c].meta.as_ref())
        .is_some_and(|m| m.indexes.is_some())
}

/// For `class Meta(Base.Meta)`: `Base.Meta.indexes` when Base's Meta has indexes.
fn inherited_indexes_ref(
    project: &DjangoProject,
    model: &Model,
    meta_bases: &[String],
) -> Option<String> {
    let base = meta_bases.iter().find_map(|b| b.strip_suffix(".Meta"))?;
    let simple = base.rsplit('.').next()?;
    let parent = model
        .parents
        .iter()
        .map(|p| &project.models[*p])
        .find(|p| p.name == simple)?;
    let meta = project.class(parent).meta.as_ref()?;
    meta.indexes
        .as_ref()
        .map(|_| format!("{base}.Meta.indexes"))
}

/// Insert entries into a list literal, matching its layout.
fn insert_into_list(
    text: &str,
    list: Span,
    items: &[Span],
    entries: &[String],
    line_length: usize,
) -> Edit {
    let close = list.end - 1; // the `]`
    let multiline = text[list.start..list.end].contains('\n');
    if items.is_empty() {
        let indent = py::indentation_at(text, list.start);
        return Edit::replace(
            Span::new(list.start, list.end),
            multiline_list(indent, entries),
        );
    }
    let last = *items.last().expect("items is not empty");
    if !multiline {
        let joined = entries.join(", ");
        let line_start = text[..list.start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = text[list.end..]
            .find('\n')
            .map_or(text.len(), |i| list.end + i);
        let width =
            text[line_start..line_end].trim_end().chars().count() + 2 + joined.chars().count();
        if width <= line_length {
            return Edit::insert(last.end, format!(", {joined}"));
        }
        // Too long for one line: one item per line, as black and ruff
        // format a list that does not fit.
        let mut all: Vec<String> = items
            .iter()
            .map(|i| text[i.start..i.end].to_string())
            .collect();
        all.extend(entries.iter().cloned());
        return Edit::replace(
            list,
            multiline_list(py::indentation_at(text, list.start), &all),
        );
    }
    let item_indent = py::indentation_at(text, items[0].start).to_string();
    let after_last = &text[last.end..close];
    let has_trailing_comma = after_last.trim_start().starts_with(',');
    let close_line_start = text[..close].rfind('\n').map_or(0, |i| i + 1);
    let close_alone = text[close_line_start..close].trim().is_empty();
    if has_trailing_comma && close_alone {
        // Before the line of the closing `]`: this never overlaps with the
        // removal of the list's last entry.
        let mut insertion = String::new();
        for entry in entries {
            let _ = writeln!(insertion, "{item_indent}{entry},");
        }
        return Edit::insert(close_line_start, insertion);
    }
    let mut insertion = String::new();
    let at = if has_trailing_comma {
        last.end + after_last.find(',').expect("checked above") + 1
    } else {
        insertion.push(',');
        last.end
    };
    for entry in entries {
        let _ = write!(insertion, "\n{item_indent}{entry},");
    }
    if !has_trailing_comma {
        // Keep the list's own style: no trailing comma was there.
        insertion.pop();
    }
    Edit::insert(at, insertion)
}

/// Edit the model so the index goes away, and the migration operation.
fn drop_index(
    project: &DjangoProject,
    model: &Model,
    class: &ClassDecl,
    file: &ModelsFile,
    table: &Table,
    index: &Index,
) -> Result<(Edit, MigrationOp), String> {
    let text = file.source.text.as_str();
    let model_name = model.name.to_ascii_lowercase();
    match index.origin {
        IndexOrigin::Declared => {
            let name = index.name.as_deref().ok_or("the index has no name")?;
            let location = index.location.as_ref().ok_or("the index has no location")?;
            let own_list = class
                .meta
                .as_ref()
                .and_then(|m| m.indexes.as_ref())
                .filter(|_| location.path == file.source.path);
            let Some(item) = own_list.and_then(|l| find_item(l, location.span)) else {
                return Err(format!(
                    "`{name}` is declared outside `{}`'s own `Meta.indexes` (an abstract base?); remove it there",
                    class.name
                ));
            };
            let concurrent = project.dialect == Dialect::Postgresql && !project.plain_indexes;
            let op_name = if concurrent {
                REMOVE_INDEX_HELPER
            } else {
                "migrations.RemoveIndex"
            };
            Ok((
                remove_list_item(text, item),
                MigrationOp {
                    fragment: format!("remove_{model_name}_{}", name.to_ascii_lowercase()),
                    code: format!(
                        "        {op_name}(\n            model_name={},\n            name={},\n        ),\n",
                        quote(&model_name),
                        quote(name)
                    ),
                    concurrent,
                },
            ))
        }
        IndexOrigin::FrameworkImplicit | IndexOrigin::FieldFlag => {
            let attr = index.field.as_deref().ok_or("the index has no field")?;
            let Some(field) = class.fields.iter().find(|f| f.attr == attr) else {
                return Err(format!(
                    "`{attr}` is inherited by `{}`; set `db_index=False` where it is declared",
                    class.name
                ));
            };
            if field.dynamic {
                return Err(format!(
                    "`{attr}` is built from `**kwargs`; edit it by hand"
                ));
            }
            let edit = match field.keyword_span("db_index") {
                // `db_index=True` on a plain field: without it the field is
                // not indexed (False is the default), so it goes.
                Some(span) if !field.is_relation() => remove_argument(text, field.arguments, span),
                Some(span) => Edit::replace(span, "db_index=False"),
                None => py::add_keyword_within(
                    text,
                    field.arguments,
                    "db_index=False",
                    py::line_length(&file.source.path),
                ),
            };
            let rendered = render_field_for_migration(project, model, file, table, field)?;
            Ok((
                edit,
                MigrationOp {
                    fragment: format!("alter_{model_name}_{attr}"),
                    code: format!(
                        "        migrations.AlterField(\n            model_name={},\n            name={},\n            field={rendered},\n        ),\n",
                        quote(&model_name),
                        quote(attr)
                    ),
                    concurrent: false,
                },
            ))
        }
        _ => Err(format!(
            "{} is not declared in a model (a migration or the database creates it); drop it by hand",
            index.display_name()
        )),
    }
}

/// The edit that removes one argument of a call's `( … )`: the whole
/// argument list when it is the only one, else as a list item.
fn remove_argument(text: &str, arguments: Span, argument: Span) -> Edit {
    let inside = Span::new(arguments.start + 1, arguments.end - 1);
    let rest = format!(
        "{}{}",
        &text[inside.start..argument.start],
        &text[argument.end..inside.end]
    );
    if rest.trim().trim_matches(',').trim().is_empty() {
        return Edit::replace(inside, "");
    }
    remove_list_item(text, argument)
}

/// Fields stored as varchar/text: on PostgreSQL Django gives their
/// `db_index` a second, `_like` index with a pattern opclass.
fn is_char_like(kind: &str) -> bool {
    matches!(
        kind,
        "CharField"
            | "SlugField"
            | "EmailField"
            | "URLField"
            | "TextField"
            | "FilePathField"
            | "FileField"
            | "ImageField"
            | "GenericIPAddressField"
            | "CICharField"
            | "CIEmailField"
    )
}

fn find_item(list: &IndexList, span: Span) -> Option<Span> {
    list.literal
        .as_ref()?
        .items
        .iter()
        .copied()
        .find(|item| *item == span)
}

/// One edit for a list literal that loses items and gains `entries`: the
/// removals are made on the list's own text, which is read again to add
/// the entries in its layout. `None` when the result cannot be read.
fn rewrite_list(
    text: &str,
    list: Span,
    removals: &[Edit],
    entries: &[String],
    line_length: usize,
) -> Option<Edit> {
    let local: Vec<Edit> = removals
        .iter()
        .map(|e| {
            Edit::replace(
                Span::new(e.span.start - list.start, e.span.end - list.start),
                e.content.clone(),
            )
        })
        .collect();
    let (removed, all_applied) = crate::source::apply_edits(&text[list.start..list.end], &local);
    if !all_applied {
        return None;
    }
    // The list read again on its own; its layout is then judged on the
    // original line (the indentation of `indexes = [`).
    let tree = py::parse_bounded(&removed)?;
    let node = tree.root_node().named_child(0)?.named_child(0)?;
    if node.kind() != "list" {
        return None;
    }
    let line_start = text[..list.start].rfind('\n').map_or(0, |i| i + 1);
    let offset = list.start - line_start;
    let items: Vec<Span> = py::sequence_items(node)?
        .into_iter()
        .map(|n| Span::new(n.start_byte() + offset, n.end_byte() + offset))
        .collect();
    let indented = format!("{}{removed}", &text[line_start..list.start]);
    // A single-line list left empty stays on one line when it fits the
    // formatter's line length.
    let single = format!("[{}]", entries.join(", "));
    if items.is_empty() && !removed.contains('\n') && offset + single.len() <= line_length {
        return Some(Edit::replace(list, single));
    }
    let own = Span::new(offset, indented.len());
    let edit = insert_into_list(&indented, own, &items, entries, line_length);
    let (rewritten, _) = crate::source::apply_edits(&indented, &[edit]);
    Some(Edit::replace(list, rewritten[offset..].to_string()))
}

/// Remove one item from a list literal with its comma (and its line when
/// it stands alone on it).
fn remove_list_item(text: &str, item: Span) -> Edit {
    let line_start = text[..item.start].rfind('\n').map_or(0, |i| i + 1);
    let alone_before = text[line_start..item.start].trim().is_empty();
    let rest = &text[item.end..];
    let comma = rest.trim_start_matches([' ', '\t']).starts_with(',');
    let mut end = item.end;
    if comma {
        end += rest.find(',').expect("checked above") + 1;
    }
    let line_end = text[end..].find('\n').map(|i| end + i);
    let alone_after = line_end.is_some_and(|le| text[end..le].trim().is_empty());
    if alone_before && alone_after {
        // Comment lines right above the entry describe it: they go too.
        let mut start = line_start;
        while start > 0 {
            let previous_start = text[..start - 1].rfind('\n').map_or(0, |i| i + 1);
            if !text[previous_start..start].trim_start().starts_with('#') {
                break;
            }
            start = previous_start;
        }
        return Edit::replace(Span::new(start, line_end.expect("checked") + 1), "");
    }
    if comma {
        // `a, ITEM, b` → `a, b`
        let spaces = text[end..].len() - text[end..].trim_start_matches([' ', '\t']).len();
        return Edit::replace(Span::new(item.start, end + spaces), "");
    }
    // The last item without a trailing comma: take the comma before it.
    let before = text[..item.start].trim_end();
    let start = if before.ends_with(',') {
        before.len() - 1
    } else {
        item.start
    };
    Edit::replace(Span::new(start, item.end), "")
}

/// The field as a migration writes it (`to="app.model"`), unindexed: a
/// relation with `db_index=False`, a plain field without `db_index`. Only arguments that mean the same inside a migration
/// are accepted; anything else makes the fix manual.
fn render_field_for_migration(
    project: &DjangoProject,
    model: &Model,
    file: &ModelsFile,
    table: &Table,
    field: &super::models::FieldDecl,
) -> Result<String, String> {
    let text = file.source.text.as_str();
    let tree = py::parse(&text[field.call.start..field.call.end]);
    let snippet = &text[field.call.start..field.call.end];
    let root = tree.root_node();
    let call = root
        .named_child(0)
        .and_then(|s| s.named_child(0))
        .filter(|n| n.kind() == "call")
        .ok_or("cannot re-read the field")?;
    let args = py::arguments(call, snippet);
    let models_alias = file.imports.models_module.as_deref();
    let mut kwargs: Vec<(String, String)> = Vec::new();
    let target = match &field.target {
        Some(super::models::Target::AuthUserModel) => Some("settings.AUTH_USER_MODEL".to_string()),
        Some(target) => {
            // The model the analysis resolved the relation to (through
            // import aliases too), else the target as written.
            let resolved = table
                .foreign_keys
                .iter()
                .find(|fk| fk.field == field.attr)
                .and_then(|fk| project.model_for_table(fk.ref_table.as_deref()?))
                .map(|m| format!("{}.{}", m.app_label, m.name.to_ascii_lowercase()));
            let label = resolved
                .or_else(|| target_label(project, model, target))
                .ok_or("cannot resolve the relation target")?;
            Some(quote(&label))
        }
        None if field.is_relation() => return Err("cannot read the relation target".into()),
        None => None,
    };
    if let Some(target) = target {
        kwargs.push(("to".into(), target));
    }
    for (position, node) in args.positional.iter().enumerate() {
        let name = match (field.is_relation(), position) {
            (true, 0) => continue,
            (true, 1) => "on_delete",
            // A plain field's first positional argument is its verbose name.
            (false, 0) => "verbose_name",
            _ => return Err("positional field arguments ixray cannot name".into()),
        };
        kwargs.push((name.into(), portable(*node, snippet, models_alias)?));
    }
    for (name, node) in &args.keywords {
        if name == "to" || name == "db_index" {
            continue;
        }
        kwargs.push((name.clone(), portable(*node, snippet, models_alias)?));
    }
    // A relation is indexed unless told otherwise; a plain field is not.
    if field.is_relation() {
        kwargs.push(("db_index".into(), "False".into()));
    }
    kwargs.sort();
    let body: Vec<String> = kwargs.iter().map(|(k, v)| format!("{k}={v}")).collect();
    Ok(format!("models.{}({})", field.kind, body.join(", ")))
}

/// `"app_label.modelname"` for a relation target, as migrations write it.
fn target_label(
    project: &DjangoProject,
    model: &Model,
    target: &super::models::Target,
) -> Option<String> {
    use super::models::Target;
    match target {
        Target::Label(l) if l == "self" => Some(format!(
            "{}.{}",
            model.app_label,
            model.name.to_ascii_lowercase()
        )),
        Target::Label(l) => Some(match l.split_once('.') {
            Some((app, name)) => format!("{app}.{}", name.to_ascii_lowercase()),
            None => format!("{}.{}", model.app_label, l.to_ascii_lowercase()),
        }),
        Target::Class(name) => {
            let simple = name.rsplit('.').next()?;
            let candidates: Vec<&Model> = project
                .by_name
                .get(simple)
                .into_iter()
                .flatten()
                .map(|&i| &project.models[i])
                .collect();
            match candidates
                .iter()
                .find(|m| m.app_label == model.app_label)
                .or(candidates.first())
            {
                Some(chosen) => Some(format!(
                    "{}.{}",
                    chosen.app_label,
                    chosen.name.to_ascii_lowercase()
                )),
                // `ForeignKey(ContentType, ...)` imported from django.contrib.
                None => super::project::imported_contrib_model(&project.files[model.file], name)
                    .map(|(app, class, _)| format!("{app}.{}", class.to_ascii_lowercase())),
            }
        }
        _ => None,
    }
}

/// A value that means the same in a migration module: literals, `models.X`
/// attributes, and lazy translations of literals.
fn portable(
    node: tree_sitter::Node,
    text: &str,
    models_alias: Option<&str>,
) -> Result<String, String> {
    let raw = py::text(node, text);
    match node.kind() {
        "string" | "concatenated_string" | "integer" | "float" | "true" | "false" | "none" => {
            Ok(raw.to_string())
        }
        "attribute" => {
            let name = py::dotted_name(node, text).unwrap_or_default();
            match (name.split_once('.'), models_alias) {
                (Some((head, rest)), Some(alias)) if head == alias => Ok(format!("models.{rest}")),
                _ => Err(format!(
                    "`{raw}` may not resolve inside a migration; edit it by hand"
                )),
            }
        }
        "call" => {
            let callee = py::call_name(node, text).unwrap_or_default();
            let args = py::arguments(node, text);
            let is_translation = matches!(
                callee.as_str(),
                "_" | "gettext_lazy" | "gettext" | "ugettext_lazy" | "pgettext_lazy"
            );
            match args.positional.last() {
                Some(arg) if is_translation && py::string_value(*arg, text).is_some() => {
                    Ok(py::text(*arg, text).to_string())
                }
                _ => Err(format!(
                    "`{raw}` may not resolve inside a migration; edit it by hand"
                )),
            }
        }
        _ => Err(format!(
            "`{raw}` may not resolve inside a migration; edit it by hand"
        )),
    }
}

/// The name `makemigrations` gives a migration from its operations.
fn migration_name(fragments: &[String]) -> String {
    let clean = |s: &str| {
        let mut out = String::new();
        let mut last_underscore = false;
        for c in s.chars() {
            if c.is_alphanumeric() || c == '_' {
                out.push(c);
                last_underscore = c == '_';
            } else if !last_underscore {
                out.push('_');
                last_underscore = true;
            }
        }
        out
    };
    let mut name = clean(&fragments[0]);
    for fragment in &fragments[1..] {
        let next = format!("{name}_{}", clean(fragment));
        if next.len() > 52 {
            name.push_str("_and_more");
            break;
        }
        name = next;
    }
    name
}

/// The app's single leaf migration: the one no other migration of the app
/// depends on (squashed-away migrations excluded).
fn leaf_migration(graph: &Graph, app_dir: &Path, label: &str) -> Result<Option<String>, String> {
    // The graph as the analysis read it; `fix` refuses to write over a
    // folder that changed since (new files are created only if absent).
    let migrations: Vec<&super::migrations::GraphNode> =
        graph.get(app_dir).cloned().unwrap_or_default();
    if migrations.is_empty() {
        return Ok(None);
    }
    let replaced: Vec<&String> = migrations
        .iter()
        .flat_map(|m| {
            m.replaces
                .iter()
                .filter(|(a, _)| a == label)
                .map(|(_, n)| n)
        })
        .collect();
    let live: Vec<&super::migrations::GraphNode> = migrations
        .iter()
        .copied()
        .filter(|m| !replaced.contains(&&m.name))
        .collect();
    let depended: Vec<&String> = live
        .iter()
        .flat_map(|m| {
            m.dependencies
                .iter()
                .filter(|(a, _)| a == label)
                .map(|(_, n)| n)
        })
        .collect();
    let leaves: Vec<&String> = live
        .iter()
        .map(|m| &m.name)
        .filter(|name| !depended.contains(name))
        .collect();
    match leaves.as_slice() {
        [leaf] => Ok(Some((*leaf).clone())),
        [] => Err(format!("the migrations of app `{label}` form a cycle")),
        many => Err(format!(
            "app `{label}` has conflicting leaf migrations ({}); run `manage.py makemigrations --merge` first",
            many.iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

fn new_migration(
    graph: &Graph,
    app_dir: &Path,
    label: &str,
    ops: Vec<MigrationOp>,
) -> Result<Option<FileChange>, String> {
    if !app_dir.join("migrations").is_dir() {
        // The app has no migrations: the model edit is the whole fix.
        return Ok(None);
    }
    let leaf = leaf_migration(graph, app_dir, label)?;
    let number = leaf
        .as_deref()
        .and_then(|l| l.split('_').next())
        .and_then(|n| n.parse::<u32>().ok())
        .unwrap_or(0)
        + 1;
    let mut ops = ops;
    // Add before remove, like the autodetector; stable within each group.
    ops.sort_by_key(|op| op.fragment.starts_with("remove_") || op.fragment.starts_with("alter_"));
    let fragments: Vec<String> = ops.iter().map(|o| o.fragment.clone()).collect();
    let name = format!("{number:04}_{}", migration_name(&fragments));
    let path = app_dir.join("migrations").join(format!("{name}.py"));
    if path.exists() {
        return Err(format!("{} already exists", path.display()));
    }
    let uses = |helper: &str| ops.iter().any(|o| o.code.contains(helper));
    let concurrent = ops.iter().any(|o| o.concurrent);
    let uses_settings = ops
        .iter()
        .any(|o| o.code.contains("settings.AUTH_USER_MODEL"));
    let mut out = format!("# Generated by ixray {}\n\n", env!("CARGO_PKG_VERSION"));
    if uses_settings {
        out.push_str("from django.conf import settings\n");
    }
    match (uses(ADD_INDEX_HELPER), uses(REMOVE_INDEX_HELPER)) {
        (true, true) => out.push_str(
            "from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently\n",
        ),
        (true, false) => out.push_str("from django.contrib.postgres.operations import AddIndexConcurrently\n"),
        (false, true) => out.push_str("from django.contrib.postgres.operations import RemoveIndexConcurrently\n"),
        (false, false) => {}
    }
    out.push_str("from django.db import migrations, models\n");
    if uses(ADD_INDEX_HELPER) {
        out.push_str(&helper_class(
            ADD_INDEX_HELPER,
            "AddIndexConcurrently",
            "migrations.AddIndex",
            "Build the index",
        ));
    }
    if uses(REMOVE_INDEX_HELPER) {
        out.push_str(&helper_class(
            REMOVE_INDEX_HELPER,
            "RemoveIndexConcurrently",
            "migrations.RemoveIndex",
            "Drop the index",
        ));
    }
    out.push_str("\n\nclass Migration(migrations.Migration):\n");
    if concurrent {
        out.push_str("    # CREATE/DROP INDEX CONCURRENTLY cannot run inside a transaction.\n    atomic = False\n\n");
    }
    out.push_str("    dependencies = [\n");
    if let Some(leaf) = &leaf {
        let _ = writeln!(out, "        ({}, {}),", quote(label), quote(leaf));
    }
    if uses_settings {
        out.push_str("        migrations.swappable_dependency(settings.AUTH_USER_MODEL),\n");
    }
    out.push_str("    ]\n\n    operations = [\n");
    for op in &ops {
        out.push_str(&op.code);
    }
    out.push_str("    ]\n");
    Ok(Some(FileChange::Create {
        path,
        contents: out,
    }))
}

/// A migration-local operation that runs CONCURRENTLY on PostgreSQL and the
/// plain operation elsewhere (SQLite in tests, for instance).
fn helper_class(name: &str, base: &str, plain: &str, verb: &str) -> String {
    format!(
        r#"

class {name}({base}):
    """{verb} without blocking writes on PostgreSQL; plainly on other databases."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)
        else:
            {plain}.database_forwards(self, app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)
        else:
            {plain}.database_backwards(self, app_label, schema_editor, from_state, to_state)
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migration_names_follow_makemigrations() {
        assert_eq!(
            migration_name(&["order_orders_orde_shippin_0c7b1d_idx".into()]),
            "order_orders_orde_shippin_0c7b1d_idx"
        );
        assert_eq!(
            migration_name(&["order_a_idx".into(), "order_b_idx".into()]),
            "order_a_idx_order_b_idx"
        );
        assert_eq!(
            migration_name(&[
                "order_orders_orde_shippin_0c7b1d_idx".into(),
                "order_orders_orde_coupon__1a2b3c_idx".into()
            ]),
            "order_orders_orde_shippin_0c7b1d_idx_and_more"
        );
    }

    fn monitors() -> Table {
        Table {
            name: "app_monitor".into(),
            model: "Monitor".into(),
            framework: Framework::Django,
            dialect: Dialect::Postgresql,
            dialect_assumed: false,
            managed: true,
            unknown_indexes: None,
            location: None,
            columns: vec![
                crate::schema::Column::new("id", "id"),
                crate::schema::Column::new("owner_id", "owner"),
                crate::schema::Column::new("enabled", "enabled"),
                crate::schema::Column::new("state", "status"),
                crate::schema::Column::new("deleted_at", "deleted_at"),
                crate::schema::Column::new("n", "n"),
            ],
            foreign_keys: Vec::new(),
            generic_foreign_keys: Vec::new(),
            indexes: Vec::new(),
        }
    }

    fn spec(predicate: &str) -> IndexSpec {
        IndexSpec {
            name: "mon_owner_live_ix".into(),
            table: "app_monitor".into(),
            columns: vec![
                crate::schema::SpecColumn {
                    name: "owner_id".into(),
                    desc: false,
                },
                crate::schema::SpecColumn {
                    name: "n".into(),
                    desc: true,
                },
            ],
            unique: false,
            predicate: Some(predicate.into()),
        }
    }

    #[test]
    fn predicates_become_q_on_field_names() {
        let table = monitors();
        let q = |predicate: &str| condition(predicate, &table, "models.Q");
        assert_eq!(q("enabled").unwrap(), "models.Q(enabled=True)");
        assert_eq!(q("NOT enabled").unwrap(), "models.Q(enabled=False)");
        assert_eq!(
            q("deleted_at IS NULL").unwrap(),
            "models.Q(deleted_at__isnull=True)"
        );
        assert_eq!(
            q("owner_id IS NOT NULL").unwrap(),
            "models.Q(owner__isnull=False)"
        );
        assert_eq!(q("state = 'down'").unwrap(), "models.Q(status=\"down\")");
        assert_eq!(q("n = 42").unwrap(), "models.Q(n=42)");
        assert_eq!(
            q("NOT (state = 'down')").unwrap(),
            "~models.Q(status=\"down\")"
        );
        assert_eq!(
            q("enabled AND deleted_at IS NULL AND state = 'it''s'").unwrap(),
            "models.Q(enabled=True, deleted_at__isnull=True, status=\"it's\")"
        );
        assert_eq!(
            q("enabled AND NOT (state = 'down')").unwrap(),
            "models.Q(enabled=True) & ~models.Q(status=\"down\")"
        );
        // One lookup twice cannot be two keyword arguments.
        assert_eq!(
            q("n = 1 AND n = 2").unwrap(),
            "models.Q(n=1) & models.Q(n=2)"
        );
        assert!(q("enabled OR n = 1").is_err());
        assert!(q("n > 1").is_err());
        assert!(q("missing IS NULL").unwrap_err().contains("`missing`"));
    }

    #[test]
    fn partial_indexes_carry_their_condition() {
        let table = monitors();
        assert_eq!(
            render_index(
                &spec("enabled AND deleted_at IS NULL"),
                &table,
                "Index",
                "Q"
            )
            .unwrap(),
            "Index(fields=[\"owner\", \"-n\"], name=\"mon_owner_live_ix\", condition=Q(enabled=True, deleted_at__isnull=True))"
        );
        assert!(partial_refusal(Dialect::Postgresql, &spec("enabled")).is_none());
        assert!(
            partial_refusal(Dialect::Mysql, &spec("enabled"))
                .unwrap()
                .starts_with("MySQL has no partial indexes")
        );
    }

    #[test]
    fn keywords_are_added_in_the_call_style() {
        let one_line = "models.ForeignKey(A, on_delete=models.CASCADE)";
        let span = Span::new(17, one_line.len());
        let edit = py::add_keyword(one_line, span, "db_index=False");
        let (out, _) = crate::source::apply_edits(one_line, &[edit]);
        assert_eq!(
            out,
            "models.ForeignKey(A, on_delete=models.CASCADE, db_index=False)"
        );

        let multi = "models.ForeignKey(\n        A,\n        on_delete=models.CASCADE,\n    )";
        let span = Span::new(17, multi.len());
        let (out, _) =
            crate::source::apply_edits(multi, &[py::add_keyword(multi, span, "db_index=False")]);
        assert_eq!(
            out,
            "models.ForeignKey(\n        A,\n        on_delete=models.CASCADE,\n        db_index=False,\n    )"
        );
    }

    #[test]
    fn list_items_are_removed_with_their_line() {
        let text = "x = [\n    a,\n    # about b\n    b,\n]\n";
        let edit = remove_list_item(text, Span::new(31, 32));
        let (out, _) = crate::source::apply_edits(text, &[edit]);
        assert_eq!(out, "x = [\n    a,\n]\n");
        let inline = "x = [a, b]";
        let (out, _) =
            crate::source::apply_edits(inline, &[remove_list_item(inline, Span::new(8, 9))]);
        assert_eq!(out, "x = [a]");
        let (out, _) =
            crate::source::apply_edits(inline, &[remove_list_item(inline, Span::new(5, 6))]);
        assert_eq!(out, "x = [b]");
    }
}
