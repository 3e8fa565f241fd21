//! Reads one Alembic revision file: its identifiers and the schema operations
//! of `upgrade()` that decide which tables and indexes exist. `downgrade()`
//! is never replayed.

use std::path::Path;
use std::sync::Arc;

use tree_sitter::Node;

use crate::frameworks::markers::{MarkedBytes, Marker};
use crate::frameworks::python as py;
use crate::frameworks::python::Fields as _;
use crate::frameworks::sqlalchemy::models::{
    ColumnDecl, ColumnRef, ConstraintDecl, DialectOptions, IndexPartDecl, call_is, dialect_options,
    index_part, read_column, read_constraint,
};
use crate::source::{SourceFile, Span};

#[derive(Debug, Clone)]
pub struct RevisionFile {
    pub source: Arc<SourceFile>,
    pub revision: Option<String>,
    /// Empty for the first revision (`down_revision = None`).
    pub down_revisions: Vec<String>,
    /// `down_revision` is assigned at all.
    pub has_down_revision: bool,
    pub revision_span: Option<Span>,
    pub operations: Vec<Operation>,
    /// `upgrade()` was found.
    pub has_upgrade: bool,
}

#[derive(Debug, Clone)]
pub struct Operation {
    pub kind: OperationKind,
    pub span: Span,
    /// Runs inside `op.get_context().autocommit_block()`.
    pub autocommit: bool,
}

/// Table names are qualified by their schema when the revision gives one
/// (`"events.files"`), so that tables of the same name in different schemas
/// stay apart.
#[derive(Debug, Clone)]
pub enum OperationKind {
    CreateTable {
        table: String,
        columns: Vec<ColumnDecl>,
        constraints: Vec<ConstraintDecl>,
    },
    DropTable {
        table: String,
    },
    RenameTable {
        from: String,
        to: String,
    },
    AddColumn {
        table: String,
        column: ColumnDecl,
    },
    DropColumn {
        table: String,
        column: String,
    },
    /// `op.alter_column(table, column, new_column_name=...)`.
    RenameColumn {
        table: String,
        from: String,
        to: String,
    },
    CreateIndex {
        name: Option<String>,
        table: String,
        parts: Vec<IndexPartDecl>,
        unique: bool,
        options: DialectOptions,
        concurrently: bool,
    },
    /// Index and constraint names are unique per schema, so a drop without
    /// a table looks in its schema (`None`: the default one).
    DropIndex {
        name: String,
        table: Option<String>,
        schema: Option<String>,
    },
    /// `op.create_unique_constraint(name, table, columns)`: backed by a
    /// unique index.
    CreateUnique {
        name: Option<String>,
        table: String,
        columns: Vec<String>,
    },
    /// `op.create_primary_key(name, table, columns)`.
    CreatePrimaryKey {
        table: String,
        columns: Vec<String>,
    },
    /// `op.drop_constraint(name, table)` of a constraint that may have an
    /// index (not `type_="foreignkey"` or `"check"`).
    DropConstraint {
        name: String,
        table: Option<String>,
        schema: Option<String>,
    },
    /// `op.create_foreign_key(name, source, referent, local, remote)`.
    CreateForeignKey {
        name: Option<String>,
        table: String,
        columns: Vec<String>,
        ref_table: String,
        ref_columns: Vec<String>,
    },
    /// `op.drop_constraint(name, table, type_="foreignkey")`.
    DropForeignKey {
        name: String,
        table: String,
    },
    /// A foreign key operation whose arguments ixray cannot evaluate: the
    /// foreign keys the history gives the table (every table's, when the
    /// table is unknown too) are uncertain. Indexes are not affected.
    UnknownForeignKeys {
        table: Option<String>,
        what: String,
    },
    /// `op.execute("...")` with SQL text.
    Execute {
        sql: String,
    },
    /// An operation that can change tables or indexes whose arguments ixray
    /// cannot evaluate (a name computed at run time). The table's history
    /// (every table's, when the table is unknown too) is then uncertain.
    Unknown {
        table: Option<String>,
        what: String,
    },
}

/// `schema.table`, or `table` in the default schema (`public` is the
/// default schema of PostgreSQL).
pub fn qualify(schema: Option<&str>, table: &str) -> String {
    match schema {
        Some(schema) if !schema.is_empty() && schema != "public" => format!("{schema}.{table}"),
        _ => table.to_string(),
    }
}

/// The schema of a qualified name, and the bare name.
pub fn split_qualified(name: &str) -> (Option<&str>, &str) {
    match name.rsplit_once('.') {
        Some((schema, table)) => (Some(schema), table),
        None => (None, name),
    }
}

/// Whether a file's bytes look like an Alembic revision.
pub fn is_revision(file: &MarkedBytes) -> bool {
    file.has(Marker::DownRevision) && file.has(Marker::Revision) && file.has(Marker::DefUpgrade)
}

pub fn extract(source: Arc<SourceFile>, tree: &tree_sitter::Tree) -> RevisionFile {
    let text = source.text.as_str();
    let mut file = RevisionFile {
        source: source.clone(),
        revision: None,
        down_revisions: Vec::new(),
        has_down_revision: false,
        revision_span: None,
        operations: Vec::new(),
        has_upgrade: false,
    };
    let root = tree.root_node();
    let mut cursor = root.walk();
    // Module-level constants (`INDEX_NAME = "ix_…"`) as they stand when
    // `upgrade()` runs: after every module-level statement.
    let mut module = Context::default();
    for statement in root.named_children(&mut cursor) {
        if statement.kind() == "import_from_statement" {
            bind_imported_constants(statement, text, &source.path, &mut module.scope);
        } else {
            module.scope.run_statement(statement, text);
        }
    }
    let mut cursor = root.walk();
    for statement in root.named_children(&mut cursor) {
        match statement.kind() {
            "expression_statement" => {
                let Some(assignment) = statement.named_child(0) else {
                    continue;
                };
                if assignment.kind() != "assignment" {
                    continue;
                }
                let (Some(left), Some(right)) =
                    (assignment.field("left"), assignment.field("right"))
                else {
                    continue;
                };
                match py::text(left, text) {
                    "revision" => {
                        file.revision = py::string_value(right, text);
                        file.revision_span = Some(py::span(statement));
                    }
                    "down_revision" => {
                        file.has_down_revision = true;
                        file.down_revisions = match py::string_value(right, text) {
                            Some(one) => vec![one],
                            None => py::string_list(right, text).unwrap_or_default(),
                        };
                    }
                    _ => {}
                }
            }
            "function_definition" => {
                let name = statement.field("name").map(|n| py::text(n, text));
                if name == Some("upgrade")
                    && let Some(body) = statement.field("body")
                {
                    file.has_upgrade = true;
                    let mut context = module.clone();
                    read_block(body, text, &mut context, &mut file.operations);
                }
            }
            _ => {}
        }
    }
    file
}

#[derive(Debug, Clone, Default)]
struct Context {
    autocommit: bool,
    /// `with op.batch_alter_table("t") as batch_op:`: (alias, qualified table).
    batches: Vec<(String, String)>,
    /// Constants, local assignments and loop variables.
    scope: py::Scope,
}

/// `from pkg.sql import CREATE_FN` where the module is a file of the
/// project: bind the constants it defines at module level (SQL kept in a
/// shared module is common in long histories). The module is found from
/// the revision's folder upwards; only its own literals are evaluated.
fn bind_imported_constants(statement: Node, text: &str, revision: &Path, scope: &mut py::Scope) {
    let Some(module) = statement.field("module_name") else {
        return;
    };
    let module = py::text(module, text);
    let mut names = Vec::new();
    let mut cursor = statement.walk();
    for child in statement.children_by_field_name("name", &mut cursor) {
        match child.kind() {
            "dotted_name" => {
                let name = py::text(child, text).to_string();
                names.push((name.clone(), name));
            }
            "aliased_import" => {
                if let (Some(name), Some(alias)) = (child.field("name"), child.field("alias")) {
                    names.push((py::text(name, text).into(), py::text(alias, text).into()));
                }
            }
            _ => {}
        }
    }
    // Only names that look like constants, so that ordinary imports cost
    // no file reads.
    names.retain(|(name, _)| {
        name.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
    });
    if names.is_empty() {
        return;
    }
    let Some(path) = py::module_file(module, revision) else {
        return;
    };
    let Ok(source) = std::fs::read_to_string(&path) else {
        return;
    };
    if source.len() > 1 << 20 {
        return;
    }
    let Some(tree) = py::parse_bounded(&source) else {
        return;
    };
    let constants = py::module_scope(&tree, &source);
    for (name, alias) in names {
        if let Some(value) = constants.get(&name) {
            scope.bind(&alias, Some(value.clone()));
        }
    }
}

/// Loops over more values than this are not unrolled (their operations
/// become unknown instead).
const MAX_UNROLLED: usize = 256;

fn read_block(block: Node, text: &str, context: &mut Context, out: &mut Vec<Operation>) {
    let mut cursor = block.walk();
    for statement in block.named_children(&mut cursor) {
        match statement.kind() {
            "expression_statement" => {
                let Some(expression) = statement.named_child(0) else {
                    continue;
                };
                match expression.kind() {
                    "assignment" | "augmented_assignment" => {
                        context.scope.run_statement(statement, text);
                    }
                    "call" => {
                        if let Some(kind) = read_operation(expression, text, context) {
                            out.push(Operation {
                                kind,
                                span: py::span(expression),
                                autocommit: context.autocommit,
                            });
                        }
                    }
                    _ => {}
                }
            }
            "with_statement" => {
                let mut inner = context.clone();
                let mut items = statement.walk();
                for clause in statement.named_children(&mut items) {
                    if clause.kind() != "with_clause" {
                        continue;
                    }
                    let mut clause_cursor = clause.walk();
                    for item in clause.named_children(&mut clause_cursor) {
                        let Some(value) = item.field("value") else {
                            continue;
                        };
                        let (expr, alias) = if value.kind() == "as_pattern" {
                            let alias = value
                                .field("alias")
                                .map(|a| py::text(a, text).trim().to_string());
                            (value.named_child(0).unwrap_or(value), alias)
                        } else {
                            (value, None)
                        };
                        let name = py::call_name(expr, text).unwrap_or_default();
                        if name.ends_with("autocommit_block")
                            || py::text(expr, text).contains("autocommit_block")
                        {
                            inner.autocommit = true;
                        } else if py::last_segment(&name) == "batch_alter_table"
                            && let Some(alias) = alias
                        {
                            let args = py::arguments(expr, text);
                            let schema = args
                                .keyword("schema")
                                .and_then(|s| context.scope.string(s, text));
                            let table = args
                                .positional
                                .first()
                                .and_then(|t| context.scope.string(*t, text))
                                .or_else(|| {
                                    args.keyword("table_name")
                                        .and_then(|t| context.scope.string(t, text))
                                });
                            match table {
                                Some(table) => inner
                                    .batches
                                    .push((alias, qualify(schema.as_deref(), &table))),
                                None => out.push(Operation {
                                    kind: OperationKind::Unknown {
                                        table: None,
                                        what: "batch_alter_table on a table name ixray cannot evaluate".into(),
                                    },
                                    span: py::span(expr),
                                    autocommit: context.autocommit,
                                }),
                            }
                        }
                    }
                }
                if let Some(body) = statement.field("body") {
                    read_block(body, text, &mut inner, out);
                }
                context.scope = inner.scope;
            }
            // `for name in INDEXES:` runs its body once per value; a loop
            // over something ixray cannot evaluate runs it once with the
            // loop variable unknown.
            "for_statement" => {
                let (Some(left), Some(right), Some(body)) = (
                    statement.field("left"),
                    statement.field("right"),
                    statement.field("body"),
                ) else {
                    continue;
                };
                match context.scope.eval(right, text).and_then(py::Value::iterate) {
                    Some(items) if items.len() <= MAX_UNROLLED => {
                        for item in items {
                            context.scope.bind_target(left, Some(item), text);
                            read_block(body, text, context, out);
                        }
                    }
                    _ => {
                        context.scope.bind_target(left, None, text);
                        read_block(body, text, context, out);
                    }
                }
                if let Some(alternative) = statement.field("alternative")
                    && let Some(body) = alternative.field("body")
                {
                    read_block(body, text, context, out);
                }
            }
            // Both branches of a dialect check may run somewhere.
            "if_statement" | "try_statement" | "while_statement" => {
                let mut inner = statement.walk();
                for child in statement.named_children(&mut inner) {
                    match child.kind() {
                        "block" => read_block(child, text, context, out),
                        "else_clause" | "elif_clause" | "except_clause" | "finally_clause" => {
                            if let Some(body) = child.field("body").or_else(|| {
                                let mut c = child.walk();
                                child.named_children(&mut c).find(|n| n.kind() == "block")
                            }) {
                                read_block(body, text, context, out);
                            }
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
}

/// Methods of `op` (and `batch_op`) that change tables, columns or indexes.
const SCHEMA_METHODS: &[&str] = &[
    "create_table",
    "drop_table",
    "rename_table",
    "add_column",
    "drop_column",
    "alter_column",
    "create_index",
    "drop_index",
    "create_unique_constraint",
    "drop_constraint",
    "create_primary_key",
    "create_foreign_key",
    "execute",
];

fn read_operation(call: Node, text: &str, context: &Context) -> Option<OperationKind> {
    let function = call.field("function")?;
    if function.kind() != "attribute" {
        return None;
    }
    let object = py::text(function.field("object")?, text);
    let method = py::text(function.field("attribute")?, text);
    let batch_table = context
        .batches
        .iter()
        .find(|(alias, _)| alias == object)
        .map(|(_, table)| table.clone());
    if (object != "op" && batch_table.is_none()) || !SCHEMA_METHODS.contains(&method) {
        return None;
    }
    let args = py::arguments(call, text);
    // Type and nullability changes keep every index.
    if method == "alter_column" && args.keyword("new_column_name").is_none() {
        return None;
    }
    let scope = &context.scope;
    let schema = args.keyword("schema").and_then(|n| scope.string(n, text));
    // In a batch block the table argument is implied, so positions shift.
    let shift = usize::from(batch_table.is_none());
    // Foreign keys and checks have no index of their own: they change only
    // the foreign keys the history knows.
    let constraint_type = (method == "drop_constraint")
        .then(|| args.keyword("type_").and_then(|t| scope.string(t, text)))
        .flatten();
    if constraint_type.as_deref() == Some("check") {
        return None;
    }
    if method == "create_foreign_key" || constraint_type.as_deref() == Some("foreignkey") {
        return Some(
            read_foreign_key(
                method,
                &args,
                text,
                scope,
                &batch_table,
                schema.as_deref(),
                shift,
            )
            .unwrap_or_else(|| OperationKind::UnknownForeignKeys {
                table: batch_table.clone().or_else(|| {
                    args.positional
                        .get(1)
                        .copied()
                        .or_else(|| args.keyword("source_table"))
                        .or_else(|| args.keyword("table_name"))
                        .and_then(|n| scope.string(n, text))
                        .map(|t| qualify(schema.as_deref(), &t))
                }),
                what: format!("`{object}.{method}(…)` with arguments ixray cannot evaluate"),
            }),
        );
    }
    if let Some(known) = read_known(
        method,
        &args,
        text,
        scope,
        &batch_table,
        schema.as_deref(),
        shift,
    ) {
        return Some(known);
    }
    if method == "execute" && !execute_may_change_indexes(call, text) {
        // Raw SQL that cannot be read is only a problem when it looks like
        // DDL; data migrations (`UPDATE …`) are common and harmless.
        return None;
    }
    let table_position = match method {
        "create_index"
        | "drop_index"
        | "create_unique_constraint"
        | "drop_constraint"
        | "create_primary_key" => 1,
        _ => 0,
    };
    let table = batch_table.or_else(|| {
        (method != "execute")
            .then(|| {
                args.positional
                    .get(table_position)
                    .and_then(|n| scope.string(*n, text))
                    .or_else(|| {
                        args.keyword("table_name")
                            .and_then(|n| scope.string(n, text))
                    })
            })
            .flatten()
            .map(|t| qualify(schema.as_deref(), &t))
    });
    Some(OperationKind::Unknown {
        table,
        what: format!("`{object}.{method}(…)` with arguments ixray cannot evaluate"),
    })
}

/// An `op.execute(...)` ixray cannot evaluate: true when the parts it can
/// read mention DDL that could touch indexes, or it can read nothing.
fn execute_may_change_indexes(call: Node, text: &str) -> bool {
    let Some(argument) = py::arguments(call, text).positional.first().copied() else {
        return false;
    };
    // SQLAlchemy DDL elements that never touch an index.
    if [
        "CreateSchema",
        "DropSchema",
        "CreateSequence",
        "DropSequence",
    ]
    .iter()
    .any(|element| call_is(argument, text, element))
    {
        return false;
    }
    let argument = if call_is(argument, text, "text") {
        match py::arguments(argument, text).positional.first() {
            Some(inner) => *inner,
            None => return false,
        }
    } else {
        argument
    };
    // The literal parts of an f-string or concatenation.
    let mut literal = String::new();
    let mut stack = vec![argument];
    while let Some(node) = stack.pop() {
        if node.kind() == "string_content" {
            literal.push_str(py::text(node, text));
            literal.push(' ');
        }
        let mut cursor = node.walk();
        stack.extend(node.children(&mut cursor));
    }
    if literal.trim().is_empty() {
        // `op.execute(statement)` built elsewhere: not knowable.
        return true;
    }
    let upper = literal.to_ascii_uppercase();
    [
        "INDEX",
        "CONSTRAINT",
        "UNIQUE",
        "PRIMARY KEY",
        "DROP TABLE",
        "RENAME",
        "DROP COLUMN",
    ]
    .iter()
    .any(|k| upper.contains(k))
}

/// `create_foreign_key` or `drop_constraint(type_="foreignkey")`, when
/// every argument that decides it can be evaluated.
fn read_foreign_key(
    method: &str,
    args: &py::Arguments,
    text: &str,
    scope: &py::Scope,
    batch_table: &Option<String>,
    schema: Option<&str>,
    shift: usize,
) -> Option<OperationKind> {
    let at = |i: usize, keyword: &str| {
        args.positional
            .get(i)
            .copied()
            .or_else(|| args.keyword(keyword))
    };
    let string_at = |i: usize, keyword: &str| at(i, keyword).and_then(|n| scope.string(n, text));
    let table = |i: usize, keyword: &str, schema: Option<&str>| {
        batch_table
            .clone()
            .or_else(|| string_at(i, keyword).map(|t| qualify(schema, &t)))
    };
    if method == "drop_constraint" {
        return Some(OperationKind::DropForeignKey {
            name: string_at(0, "constraint_name")?,
            table: table(1, "table_name", schema)?,
        });
    }
    let source_schema = args
        .keyword("source_schema")
        .and_then(|n| scope.string(n, text));
    let referent_schema = args
        .keyword("referent_schema")
        .and_then(|n| scope.string(n, text));
    let name = match at(0, "constraint_name") {
        None => None,
        Some(n) if n.kind() == "none" => None,
        Some(n) => Some(scope.string(n, text)?),
    };
    Some(OperationKind::CreateForeignKey {
        name,
        table: table(1, "source_table", source_schema.as_deref())?,
        ref_table: qualify(
            referent_schema.as_deref(),
            &string_at(1 + shift, "referent_table")?,
        ),
        columns: scope.strings(at(2 + shift, "local_cols")?, text)?,
        ref_columns: scope.strings(at(3 + shift, "remote_cols")?, text)?,
    })
}

/// The operation, when every argument that decides it can be evaluated.
fn read_known(
    method: &str,
    args: &py::Arguments,
    text: &str,
    scope: &py::Scope,
    batch_table: &Option<String>,
    schema: Option<&str>,
    shift: usize,
) -> Option<OperationKind> {
    let string_at = |i: usize| args.positional.get(i).and_then(|n| scope.string(*n, text));
    let keyword_string = |k: &str| args.keyword(k).and_then(|n| scope.string(n, text));
    let table_arg = |i: usize| {
        batch_table
            .clone()
            .or_else(|| string_at(i).map(|t| qualify(schema, &t)))
    };
    // A name that is written as `None` is absent; anything else must be known.
    let optional_name = |node: Option<Node>| -> Option<Option<String>> {
        match node {
            None => Some(None),
            Some(n) if n.kind() == "none" => Some(None),
            Some(n) => scope.string(n, text).map(Some),
        }
    };
    Some(match method {
        "create_table" => {
            let table = qualify(schema, &string_at(0)?);
            let mut columns = Vec::new();
            let mut constraints = Vec::new();
            for arg in args.positional.iter().skip(1) {
                if call_is(*arg, text, "Column") {
                    let name = py::arguments(*arg, text)
                        .positional
                        .first()
                        .and_then(|n| scope.string(*n, text))?;
                    if let Some(column) = read_column(&name, *arg, *arg, text) {
                        columns.push(column);
                    }
                } else if let Some(constraint) = read_constraint(*arg, text) {
                    constraints.push(constraint);
                }
            }
            OperationKind::CreateTable {
                table,
                columns,
                constraints,
            }
        }
        "drop_table" => OperationKind::DropTable {
            table: qualify(
                schema,
                &string_at(0).or_else(|| keyword_string("table_name"))?,
            ),
        },
        "rename_table" => OperationKind::RenameTable {
            from: qualify(schema, &string_at(0)?),
            to: qualify(schema, &string_at(1)?),
        },
        "add_column" => {
            let column_call = *args.positional.get(shift)?;
            let name = py::arguments(column_call, text)
                .positional
                .first()
                .and_then(|n| scope.string(*n, text))?;
            OperationKind::AddColumn {
                table: table_arg(0)?,
                column: read_column(&name, column_call, column_call, text)?,
            }
        }
        "drop_column" => OperationKind::DropColumn {
            table: table_arg(0)?,
            column: string_at(shift)?,
        },
        "alter_column" => OperationKind::RenameColumn {
            table: table_arg(0)?,
            from: string_at(shift).or_else(|| keyword_string("column_name"))?,
            to: keyword_string("new_column_name")?,
        },
        "create_index" => {
            let columns = args
                .positional
                .get(1 + shift)
                .copied()
                .or_else(|| args.keyword("columns"))?;
            let parts = match scope.strings(columns, text) {
                Some(names) => names
                    .into_iter()
                    .map(|name| IndexPartDecl {
                        column: ColumnRef::Key(name),
                        desc: false,
                    })
                    .collect(),
                None => {
                    let items = py::sequence_items(columns).unwrap_or_else(|| vec![columns]);
                    let mut parts = Vec::new();
                    for item in items {
                        // A bare name is a constant here, not a column.
                        if item.kind() == "identifier" {
                            parts.push(IndexPartDecl {
                                column: ColumnRef::Key(scope.string(item, text)?),
                                desc: false,
                            });
                        } else {
                            parts.push(index_part(item, text));
                        }
                    }
                    parts
                }
            };
            let options = dialect_options(args, text);
            OperationKind::CreateIndex {
                name: optional_name(
                    args.positional
                        .first()
                        .copied()
                        .or_else(|| args.keyword("index_name")),
                )?,
                table: if batch_table.is_some() {
                    batch_table.clone()?
                } else {
                    qualify(
                        schema,
                        &string_at(1).or_else(|| keyword_string("table_name"))?,
                    )
                },
                parts,
                unique: args.keyword("unique").and_then(py::bool_value) == Some(true),
                concurrently: args
                    .keyword("postgresql_concurrently")
                    .and_then(py::bool_value)
                    == Some(true),
                options,
            }
        }
        "drop_index" => OperationKind::DropIndex {
            name: string_at(0).or_else(|| keyword_string("index_name"))?,
            table: batch_table.clone().or_else(|| {
                string_at(1)
                    .or_else(|| keyword_string("table_name"))
                    .map(|t| qualify(schema, &t))
            }),
            schema: schema.map(str::to_string),
        },
        "create_unique_constraint" => OperationKind::CreateUnique {
            name: optional_name(args.positional.first().copied())?,
            table: table_arg(1)?,
            columns: scope.strings(*args.positional.get(1 + shift)?, text)?,
        },
        "drop_constraint" => OperationKind::DropConstraint {
            name: string_at(0).or_else(|| keyword_string("constraint_name"))?,
            table: batch_table.clone().or_else(|| {
                string_at(1)
                    .or_else(|| keyword_string("table_name"))
                    .map(|t| qualify(schema, &t))
            }),
            schema: schema.map(str::to_string),
        },
        "create_primary_key" => OperationKind::CreatePrimaryKey {
            table: table_arg(1)?,
            columns: scope.strings(*args.positional.get(1 + shift)?, text)?,
        },
        "execute" => {
            let sql_node = *args.positional.first()?;
            let sql = scope.string(sql_node, text).or_else(|| {
                call_is(sql_node, text, "text")
                    .then(|| {
                        py::arguments(sql_node, text)
                            .positional
                            .first()
                            .and_then(|a| scope.string(*a, text))
                    })
                    .flatten()
            })?;
            OperationKind::Execute { sql }
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn reads_identifiers_and_operations() {
        let text = r#""""add things

Revision ID: 7c41e0a9d2f3
Revises: 1b9e44c0a7d5, 2c
"""
from alembic import op
import sqlalchemy as sa

revision: str = "7c41e0a9d2f3"
down_revision = ("1b9e44c0a7d5", "2c")

def upgrade() -> None:
    op.create_table(
        "tag",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("post_id", sa.Integer(), sa.ForeignKey("post.id"), index=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_post_title"), "post", ["title"], unique=False)
    with op.batch_alter_table("comment", schema=None) as batch_op:
        batch_op.create_index("ix_comment_author", ["author_id"], unique=False)
        batch_op.drop_index("ix_old")
    with op.get_context().autocommit_block():
        op.create_index("ix_c", "comment", ["created_at"], postgresql_concurrently=True)
    op.execute("CREATE INDEX ix_raw ON post (slug)")
    op.drop_index("ix_gone", table_name="post")

def downgrade() -> None:
    op.drop_table("tag")
"#;
        let source = SourceFile::new(PathBuf::from("versions/7c41e0a9d2f3_x.py"), text.into());
        let tree = py::parse(text);
        assert!(is_revision(&MarkedBytes::new(text.as_bytes())));
        let file = extract(source, &tree);
        assert_eq!(file.revision.as_deref(), Some("7c41e0a9d2f3"));
        assert_eq!(file.down_revisions, vec!["1b9e44c0a7d5", "2c"]);
        let kinds: Vec<String> = file
            .operations
            .iter()
            .map(|o| match &o.kind {
                OperationKind::CreateTable { table, columns, .. } => {
                    format!("create_table {table} {}", columns.len())
                }
                OperationKind::CreateIndex {
                    name,
                    table,
                    concurrently,
                    ..
                } => format!(
                    "create_index {} {table} {concurrently} {}",
                    name.as_deref().unwrap_or("-"),
                    o.autocommit
                ),
                OperationKind::DropIndex { name, table, .. } => {
                    format!("drop_index {name} {}", table.as_deref().unwrap_or("-"))
                }
                OperationKind::Execute { sql } => format!("execute {sql}"),
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(
            kinds,
            vec![
                "create_table tag 2",
                "create_index ix_post_title post false false",
                "create_index ix_comment_author comment false false",
                "drop_index ix_old comment",
                "create_index ix_c comment true true",
                "execute CREATE INDEX ix_raw ON post (slug)",
                "drop_index ix_gone post",
            ]
        );
    }
}
