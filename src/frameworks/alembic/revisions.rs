//! Reads one Alembic revision file: its identifiers and the schema operations
//! of `upgrade()` that decide which tables and indexes exist. `downgrade()`
//! is never replayed.

use std::sync::Arc;

use tree_sitter::Node;

use crate::frameworks::python as py;
use crate::frameworks::sqlalchemy::models::{
    ColumnDecl, ConstraintDecl, DialectOptions, IndexPartDecl, call_is, dialect_options,
    index_part, read_column, read_constraint,
};
use crate::source::{SourceFile, Span};

#[derive(Debug)]
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
    CreateIndex {
        name: Option<String>,
        table: String,
        parts: Vec<IndexPartDecl>,
        unique: bool,
        options: DialectOptions,
        concurrently: bool,
    },
    DropIndex {
        name: String,
        table: Option<String>,
    },
    /// `op.create_unique_constraint(name, table, columns)`: backed by a
    /// unique index.
    CreateUnique {
        name: Option<String>,
        table: String,
        columns: Vec<String>,
    },
    /// `op.drop_constraint(name, table)`.
    DropConstraint {
        name: String,
        table: Option<String>,
    },
    /// `op.execute("...")` with SQL text.
    Execute {
        sql: String,
    },
}

/// Whether a file's bytes look like an Alembic revision.
pub fn is_revision(bytes: &[u8]) -> bool {
    use memchr::memmem::find;
    find(bytes, b"down_revision").is_some()
        && find(bytes, b"revision").is_some()
        && find(bytes, b"def upgrade").is_some()
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
    for statement in root.named_children(&mut cursor) {
        match statement.kind() {
            "expression_statement" => {
                let Some(assignment) = statement.named_child(0) else {
                    continue;
                };
                if assignment.kind() != "assignment" {
                    continue;
                }
                let (Some(left), Some(right)) = (
                    assignment.child_by_field_name("left"),
                    assignment.child_by_field_name("right"),
                ) else {
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
                let name = statement
                    .child_by_field_name("name")
                    .map(|n| py::text(n, text));
                if name == Some("upgrade")
                    && let Some(body) = statement.child_by_field_name("body")
                {
                    file.has_upgrade = true;
                    let mut context = Context::default();
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
    /// `with op.batch_alter_table("t") as batch_op:`: (alias, table).
    batches: Vec<(String, String)>,
}

fn read_block(block: Node, text: &str, context: &mut Context, out: &mut Vec<Operation>) {
    let mut cursor = block.walk();
    for statement in block.named_children(&mut cursor) {
        match statement.kind() {
            "expression_statement" => {
                if let Some(call) = statement.named_child(0)
                    && call.kind() == "call"
                    && let Some(kind) = read_operation(call, text, context)
                {
                    out.push(Operation {
                        kind,
                        span: py::span(call),
                        autocommit: context.autocommit,
                    });
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
                        let Some(value) = item.child_by_field_name("value") else {
                            continue;
                        };
                        let (expr, alias) = if value.kind() == "as_pattern" {
                            let alias = value
                                .child_by_field_name("alias")
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
                            && let Some(table) = py::arguments(expr, text)
                                .positional
                                .first()
                                .and_then(|t| py::string_value(*t, text))
                            && let Some(alias) = alias
                        {
                            inner.batches.push((alias, table));
                        }
                    }
                }
                if let Some(body) = statement.child_by_field_name("body") {
                    read_block(body, text, &mut inner, out);
                }
            }
            // Both branches of a dialect check may run somewhere.
            "if_statement" | "for_statement" | "try_statement" => {
                let mut inner = statement.walk();
                for child in statement.named_children(&mut inner) {
                    match child.kind() {
                        "block" => read_block(child, text, context, out),
                        "else_clause" | "elif_clause" | "except_clause" | "finally_clause" => {
                            if let Some(body) = child.child_by_field_name("body").or_else(|| {
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

fn read_operation(call: Node, text: &str, context: &Context) -> Option<OperationKind> {
    let function = call.child_by_field_name("function")?;
    if function.kind() != "attribute" {
        return None;
    }
    let object = py::text(function.child_by_field_name("object")?, text);
    let method = py::text(function.child_by_field_name("attribute")?, text);
    let batch_table = context
        .batches
        .iter()
        .find(|(alias, _)| alias == object)
        .map(|(_, table)| table.clone());
    if object != "op" && batch_table.is_none() {
        return None;
    }
    let args = py::arguments(call, text);
    let string_at = |i: usize| args.positional.get(i).and_then(|n| name_value(*n, text));
    let keyword_string = |k: &str| args.keyword(k).and_then(|n| name_value(n, text));
    // In a batch block the table argument is implied, so positions shift.
    let shift = usize::from(batch_table.is_none());
    let table_arg = |i: usize| batch_table.clone().or_else(|| string_at(i));
    Some(match method {
        "create_table" => {
            let table = string_at(0)?;
            let mut columns = Vec::new();
            let mut constraints = Vec::new();
            for arg in args.positional.iter().skip(1) {
                if call_is(*arg, text, "Column") {
                    let name = py::arguments(*arg, text)
                        .positional
                        .first()
                        .and_then(|n| py::string_value(*n, text))?;
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
            table: string_at(0)?,
        },
        "rename_table" => OperationKind::RenameTable {
            from: string_at(0)?,
            to: string_at(1)?,
        },
        "add_column" => {
            let column_call = *args.positional.get(shift)?;
            let name = py::arguments(column_call, text)
                .positional
                .first()
                .and_then(|n| py::string_value(*n, text))?;
            OperationKind::AddColumn {
                table: table_arg(0)?,
                column: read_column(&name, column_call, column_call, text)?,
            }
        }
        "drop_column" => OperationKind::DropColumn {
            table: table_arg(0)?,
            column: string_at(shift)?,
        },
        "create_index" => {
            let columns = *args.positional.get(1 + shift)?;
            let parts = match py::sequence_items(columns) {
                Some(items) => items.into_iter().map(|n| index_part(n, text)).collect(),
                None => vec![index_part(columns, text)],
            };
            let options = dialect_options(&args, text);
            OperationKind::CreateIndex {
                name: string_at(0),
                table: if batch_table.is_some() {
                    batch_table.clone()?
                } else {
                    string_at(1).or_else(|| keyword_string("table_name"))?
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
            name: string_at(0)?,
            table: batch_table
                .clone()
                .or_else(|| string_at(1))
                .or_else(|| keyword_string("table_name")),
        },
        "create_unique_constraint" => OperationKind::CreateUnique {
            name: string_at(0),
            table: table_arg(1)?,
            columns: py::string_list(*args.positional.get(1 + shift)?, text)?,
        },
        "drop_constraint" => OperationKind::DropConstraint {
            name: string_at(0)?,
            table: batch_table
                .clone()
                .or_else(|| string_at(1))
                .or_else(|| keyword_string("table_name")),
        },
        "execute" => {
            let sql_node = *args.positional.first()?;
            let sql = py::string_value(sql_node, text).or_else(|| {
                call_is(sql_node, text, "text")
                    .then(|| {
                        py::arguments(sql_node, text)
                            .positional
                            .first()
                            .and_then(|a| py::string_value(*a, text))
                    })
                    .flatten()
            })?;
            OperationKind::Execute { sql }
        }
        _ => return None,
    })
}

/// A name argument: a string, or `op.f("name")` (a convention-made name
/// that is used as is).
fn name_value(node: Node, text: &str) -> Option<String> {
    if let Some(value) = py::string_value(node, text) {
        return Some(value);
    }
    if node.kind() == "call"
        && py::call_name(node, text).is_some_and(|n| n == "op.f" || n.ends_with(".f") || n == "f")
    {
        return py::arguments(node, text)
            .positional
            .first()
            .and_then(|a| py::string_value(*a, text));
    }
    None
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
        assert!(is_revision(text.as_bytes()));
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
                OperationKind::DropIndex { name, table } => {
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
