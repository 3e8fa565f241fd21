//! Reads Django migration modules: their place in the graph (name,
//! dependencies) and the operations that create or drop indexes.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tree_sitter::Node;

use super::models::{self, IndexDecl};
use crate::frameworks::python as py;
use crate::schema::sql::{self, IndexStatement};
use crate::source::{SourceFile, Span};

#[derive(Debug)]
pub struct MigrationFile {
    pub source: Arc<SourceFile>,
    /// The app folder (parent of `migrations/`).
    pub app_dir: PathBuf,
    /// The file stem, e.g. `0002_order_customer_idx`.
    pub name: String,
    pub dependencies: Vec<(String, String)>,
    pub replaces: Vec<(String, String)>,
    pub operations: Vec<Operation>,
}

impl MigrationFile {
    /// A migration known only by its file: name and app, nothing read yet.
    fn empty(source: Arc<SourceFile>) -> Self {
        MigrationFile {
            app_dir: app_dir_of(&source.path),
            name: source
                .path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default()
                .to_string(),
            dependencies: Vec::new(),
            replaces: Vec::new(),
            operations: Vec::new(),
            source,
        }
    }
}

#[derive(Debug, Clone)]
pub enum Operation {
    AddIndex {
        model: String,
        index: IndexDecl,
    },
    RemoveIndex {
        model: String,
        name: String,
    },
    RenameIndex {
        model: String,
        old: String,
        new: String,
    },
    Sql {
        statement: IndexStatement,
        span: Span,
    },
}

/// A migration's name, its dependencies and what it replaces.
#[derive(Debug, Clone)]
pub struct GraphNode {
    /// The app folder (parent of `migrations/`).
    pub app_dir: PathBuf,
    pub name: String,
    pub dependencies: Vec<(String, String)>,
    pub replaces: Vec<(String, String)>,
}

/// A migration's place in the graph. Only the two lists matter, and a
/// project has many migrations: those lists are parsed alone.
pub fn graph_node(path: &Path, text: &str) -> GraphNode {
    GraphNode {
        app_dir: app_dir_of(path),
        name: path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string(),
        dependencies: pairs_assigned(text, "dependencies"),
        replaces: pairs_assigned(text, "replaces"),
    }
}

/// The `(app, name)` pairs of `name = [...]` in a migration's class body,
/// found by bytes and parsed alone.
fn pairs_assigned(text: &str, name: &str) -> Vec<(String, String)> {
    let bytes = text.as_bytes();
    for at in memchr::memmem::find_iter(bytes, name.as_bytes()) {
        // `name` at the start of a (class-body) line, then `=`.
        let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
        if !text[line_start..at].chars().all(|c| c == ' ' || c == '\t') {
            continue;
        }
        let rest = text[at + name.len()..].trim_start_matches([' ', '\t', ':']);
        let rest = rest
            .split_once('=')
            .filter(|(annotation, _)| !annotation.contains('\n'))
            .map_or(rest, |(_, value)| value)
            .trim_start();
        let Some(list) = balanced(rest) else {
            continue;
        };
        let snippet = format!("x = {list}\n");
        let Some(tree) = py::parse_bounded(&snippet) else {
            continue;
        };
        let Some(value) = tree
            .root_node()
            .named_child(0)
            .and_then(|s| s.named_child(0))
            .and_then(|a| a.child_by_field_name("right"))
        else {
            continue;
        };
        return read_pairs(value, &snippet);
    }
    Vec::new()
}

/// The bracketed expression at the start of `text`, up to its matching
/// bracket (strings and comments skipped).
fn balanced(text: &str) -> Option<&str> {
    let open = text.chars().next().filter(|c| matches!(c, '[' | '('))?;
    let close = if open == '[' { ']' } else { ')' };
    let mut depth = 0usize;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '\'' | '"' => {
                while let Some((_, d)) = chars.next() {
                    if d == '\\' {
                        chars.next();
                    } else if d == c {
                        break;
                    }
                }
            }
            '#' => {
                for (_, d) in chars.by_ref() {
                    if d == '\n' {
                        break;
                    }
                }
            }
            c if c == open => depth += 1,
            c if c == close => {
                depth -= 1;
                if depth == 0 {
                    return Some(&text[..=i]);
                }
            }
            _ => {}
        }
    }
    None
}

/// The first dependency of an app's migrations on a migration of the same
/// app that does not exist (and was not squashed into one that does):
/// Django refuses to migrate such an app.
pub fn broken_dependency(graph: &[&GraphNode], label: &str) -> Option<String> {
    let known = |name: &str| {
        matches!(name, "__first__" | "__latest__")
            || graph
                .iter()
                .any(|m| m.name == name || m.replaces.iter().any(|(a, n)| a == label && n == name))
    };
    graph.iter().find_map(|m| {
        m.dependencies
            .iter()
            .find(|(app, name)| app == label && !known(name))
            .map(|(_, name)| format!("`{}` depends on `{name}`, which does not exist", m.name))
    })
}

/// Whether `path` looks like a Django migration module.
pub fn is_migration_path(path: &Path) -> bool {
    let in_migrations = path
        .parent()
        .and_then(|p| p.file_name())
        .is_some_and(|n| n == "migrations");
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    in_migrations && path.extension().is_some_and(|e| e == "py") && stem != "__init__"
}

pub fn app_dir_of(path: &Path) -> PathBuf {
    path.parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

pub fn extract(source: Arc<SourceFile>, tree: &tree_sitter::Tree) -> Option<MigrationFile> {
    let text = source.text.as_str();
    let definitions = py::definitions(tree, text);
    let class = definitions.classes.iter().find(|c| {
        c.child_by_field_name("name")
            .is_some_and(|n| py::text(n, text) == "Migration")
    })?;
    let body = class.child_by_field_name("body")?;
    let mut migration = MigrationFile::empty(source.clone());
    for (name, value, _) in py::class_assignments(body, text) {
        match name.as_str() {
            "dependencies" => migration.dependencies = read_pairs(value, text),
            "replaces" => migration.replaces = read_pairs(value, text),
            "operations" => {
                for op in py::sequence_items(value).unwrap_or_default() {
                    read_operation(op, text, &mut migration.operations);
                }
            }
            _ => {}
        }
    }
    Some(migration)
}

fn read_pairs(value: Node, text: &str) -> Vec<(String, String)> {
    py::sequence_items(value)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|item| {
            let pair = py::string_list(item, text)?;
            match pair.as_slice() {
                [app, name] => Some((app.clone(), name.clone())),
                _ => None,
            }
        })
        .collect()
}

/// The index operations of a migration without parsing the whole module:
/// find each operation call by its name, take its balanced `( … )`, and parse
/// only that. `check` needs nothing else from migrations, and a project's
/// migrations are most of its Python. Graph fields stay empty.
pub fn extract_operations(source: Arc<SourceFile>) -> MigrationFile {
    let text = source.text.as_str();
    let bytes = text.as_bytes();
    let mut operations = Vec::new();
    let mut hits: Vec<usize> = ["AddIndex", "RemoveIndex", "RenameIndex", "RunSQL"]
        .iter()
        .flat_map(|needle| memchr::memmem::find_iter(bytes, needle.as_bytes()))
        .collect();
    hits.sort_unstable();
    let mut covered_until = 0;
    for hit in hits {
        if hit < covered_until {
            continue;
        }
        let mut name_end = hit;
        while name_end < bytes.len()
            && (bytes[name_end].is_ascii_alphanumeric() || bytes[name_end] == b'_')
        {
            name_end += 1;
        }
        if bytes.get(name_end) != Some(&b'(') {
            continue;
        }
        let mut start = hit;
        while start > 0
            && (bytes[start - 1].is_ascii_alphanumeric()
                || bytes[start - 1] == b'_'
                || bytes[start - 1] == b'.')
        {
            start -= 1;
        }
        // `class X(AddIndexConcurrently):` is a definition, not an operation.
        if text[..start]
            .trim_end_matches([' ', '\t'])
            .ends_with("class")
        {
            continue;
        }
        let Some(end) = balanced_end(bytes, name_end) else {
            continue;
        };
        covered_until = end;
        let snippet = &text[start..end];
        let Some(tree) = py::parse_bounded(snippet) else {
            continue;
        };
        if tree.root_node().has_error() {
            continue;
        }
        let Some(call) = tree
            .root_node()
            .named_child(0)
            .and_then(|statement| statement.named_child(0))
            .filter(|n| n.kind() == "call")
        else {
            continue;
        };
        let first = operations.len();
        read_operation(call, snippet, &mut operations);
        for op in &mut operations[first..] {
            shift(op, start);
        }
    }
    MigrationFile {
        operations,
        ..MigrationFile::empty(source)
    }
}

fn shift(op: &mut Operation, by: usize) {
    match op {
        Operation::AddIndex { index, .. } => {
            index.span = Span::new(index.span.start + by, index.span.end + by);
        }
        Operation::Sql { span, .. } => *span = Span::new(span.start + by, span.end + by),
        Operation::RemoveIndex { .. } | Operation::RenameIndex { .. } => {}
    }
}

/// The offset just past the `)` matching the `(` at `open`, skipping
/// strings (all quote styles) and comments.
fn balanced_end(bytes: &[u8], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = open;
    while i < bytes.len() {
        match bytes[i] {
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            quote @ (b'"' | b'\'') => {
                let triple = bytes.get(i + 1) == Some(&quote) && bytes.get(i + 2) == Some(&quote);
                i += if triple { 3 } else { 1 };
                loop {
                    match bytes.get(i)? {
                        b'\\' => i += 2,
                        c if *c == quote
                            && (!triple
                                || (bytes.get(i + 1) == Some(&quote)
                                    && bytes.get(i + 2) == Some(&quote))) =>
                        {
                            i += if triple { 3 } else { 1 };
                            break;
                        }
                        _ => i += 1,
                    }
                }
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    None
}

fn read_operation(node: Node, text: &str, out: &mut Vec<Operation>) {
    let Some(callee) = py::call_name(node, text) else {
        return;
    };
    let kind = py::last_segment(&callee);
    let args = py::arguments(node, text);
    let arg = |name: &str, position: usize| {
        args.keyword(name)
            .or_else(|| args.positional.get(position).copied())
    };
    let string_arg =
        |name: &str, position: usize| arg(name, position).and_then(|n| py::string_value(n, text));
    if kind.contains("AddIndex") {
        let model = string_arg("model_name", 0);
        let index = arg("index", 1).and_then(|n| read_index(n, text));
        if let (Some(model), Some(index)) = (model, index) {
            out.push(Operation::AddIndex { model, index });
        }
    } else if kind.contains("RemoveIndex") {
        if let (Some(model), Some(name)) = (string_arg("model_name", 0), string_arg("name", 1)) {
            out.push(Operation::RemoveIndex { model, name });
        }
    } else if kind == "RenameIndex" {
        if let (Some(model), Some(new), Some(old)) = (
            string_arg("model_name", 0),
            string_arg("new_name", 1),
            string_arg("old_name", 2),
        ) {
            out.push(Operation::RenameIndex { model, old, new });
        }
    } else if kind == "RunSQL"
        && let Some(sql_node) = arg("sql", 0)
    {
        for script in sql_strings(sql_node, text) {
            for statement in sql::index_statements(&script) {
                out.push(Operation::Sql {
                    statement,
                    span: py::span(node),
                });
            }
        }
    }
}

/// An index in a migration is written as in a model's `Meta.indexes`.
fn read_index(node: Node, text: &str) -> Option<IndexDecl> {
    models::read_index(node, text)
}

/// `"SQL"`, `["SQL", ...]` or `[("SQL", params), ...]`.
fn sql_strings(node: Node, text: &str) -> Vec<String> {
    if let Some(s) = py::string_value(node, text) {
        return vec![s];
    }
    py::sequence_items(node)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|item| {
            py::string_value(item, text).or_else(|| {
                py::sequence_items(item)?
                    .first()
                    .and_then(|first| py::string_value(*first, text))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn graph_lists_are_read_without_parsing_the_module() {
        let text = "from django.conf import settings\nfrom django.db import migrations\n\n\nclass Migration(migrations.Migration):\n    replaces = [(\"shop\", \"0001_initial\"), (\"shop\", \"0002_x\")]\n\n    dependencies = [\n        (\"shop\", \"0000_base\"),  # the ] in a comment\n        migrations.swappable_dependency(settings.AUTH_USER_MODEL),\n        ('auth', \"0012_alter_user_first_name_max_length\"),\n    ]\n    operations = [migrations.RunSQL(\"SELECT '['\")]\n";
        assert_eq!(
            pairs_assigned(text, "dependencies"),
            vec![
                ("shop".to_string(), "0000_base".to_string()),
                (
                    "auth".to_string(),
                    "0012_alter_user_first_name_max_length".to_string()
                ),
            ]
        );
        assert_eq!(pairs_assigned(text, "replaces").len(), 2);
        assert_eq!(
            pairs_assigned("class Migration:\n    operations = []\n", "dependencies"),
            vec![]
        );
    }

    use super::*;

    #[test]
    fn reads_graph_and_index_operations() {
        let text = r#"
from django.db import migrations, models

class Migration(migrations.Migration):
    dependencies = [("shop", "0001_initial"), migrations.swappable_dependency(settings.AUTH_USER_MODEL)]
    operations = [
        migrations.AddIndex(model_name="order", index=models.Index(fields=["customer"], name="ord_c_ix")),
        migrations.RemoveIndex(model_name="order", name="old_ix"),
        migrations.RunSQL(
            sql=["CREATE INDEX legacy_ix ON shop_order (coupon_id);"],
            reverse_sql="DROP INDEX legacy_ix;",
        ),
    ]
"#;
        let source = SourceFile::new(PathBuf::from("shop/migrations/0002_x.py"), text.to_string());
        let tree = py::parse(text);
        let migration = extract(source, &tree).unwrap();
        assert_eq!(migration.name, "0002_x");
        assert_eq!(migration.app_dir, PathBuf::from("shop"));
        assert_eq!(
            migration.dependencies,
            vec![("shop".to_string(), "0001_initial".to_string())]
        );
        assert_eq!(migration.operations.len(), 3);
        assert!(
            matches!(&migration.operations[0], Operation::AddIndex { model, index } if model == "order" && index.name.as_deref() == Some("ord_c_ix"))
        );
        assert!(
            matches!(&migration.operations[2], Operation::Sql { statement: IndexStatement::Create(c), .. } if c.table == "shop_order")
        );

        // Reading only the operation calls finds the same operations, at the same places.
        let fast = extract_operations(migration.source.clone());
        assert_eq!(
            format!("{:?}", fast.operations),
            format!("{:?}", migration.operations)
        );
    }

    #[test]
    fn balanced_end_skips_strings_and_comments() {
        let text = br#"f(")", '(', """)""", # )
 x)"#;
        assert_eq!(balanced_end(text, 1), Some(text.len()));
    }

    #[test]
    fn helper_class_definitions_are_not_operations() {
        let text = "class AddIndexConcurrentlyOnPostgres(AddIndexConcurrently):\n    def f(self):\n        migrations.AddIndex.database_forwards(self)\n";
        let source = SourceFile::new(PathBuf::from("a/migrations/0002_x.py"), text.to_string());
        assert!(extract_operations(source).operations.is_empty());
    }
}
