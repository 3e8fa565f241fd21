//! Reads Django migration modules: their place in the graph (name,
//! dependencies, what they replace, `atomic`) and every operation that
//! changes the model state Django keeps for `makemigrations`, or builds and
//! drops indexes in the database. Nothing is replayed here (see
//! `history.rs`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::models::{self, Condition, IndexDecl, Lookup};
use crate::frameworks::pyexpr::{self, Expr, ExprKind, Module};
use crate::frameworks::python as py;
use crate::frameworks::python::Fields as _;
use crate::schema::sql::{self, Statement};
use crate::source::{SourceFile, Span};

#[derive(Debug, Clone)]
pub struct MigrationFile {
    pub source: Arc<SourceFile>,
    /// The app folder (parent of `migrations/`).
    pub app_dir: PathBuf,
    /// The file stem, e.g. `0002_order_customer_idx`.
    pub name: String,
    pub dependencies: Vec<(String, String)>,
    pub replaces: Vec<(String, String)>,
    /// False for `atomic = False`: Django runs the migration outside a
    /// transaction, as CONCURRENTLY needs.
    pub atomic: bool,
    pub operations: Vec<Operation>,
    /// Why the operations could not be read (no `operations` list literal,
    /// a syntax error): the app's history is then unknown.
    pub unreadable: Option<String>,
}

impl MigrationFile {
    /// A migration known only by its file: name and app, nothing read yet.
    pub fn empty(source: Arc<SourceFile>) -> Self {
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
            atomic: true,
            operations: Vec::new(),
            unreadable: None,
            source,
        }
    }

    /// The migration's place in the graph.
    pub fn graph_node(&self) -> GraphNode {
        GraphNode {
            app_dir: self.app_dir.clone(),
            name: self.name.clone(),
            dependencies: self.dependencies.clone(),
            replaces: self.replaces.clone(),
        }
    }
}

/// One operation of `operations = [...]`, where it is written.
#[derive(Debug, Clone)]
pub struct Operation {
    pub kind: OperationKind,
    pub span: Span,
}

/// The operations of `django.db.migrations` (and the concurrent index ones
/// of `django.contrib.postgres.operations`) with what they change. Model
/// names are as written; Django compares them lowercased.
#[derive(Debug, Clone)]
pub enum OperationKind {
    CreateModel {
        name: String,
        fields: Vec<FieldSpec>,
        options: ModelOptions,
    },
    DeleteModel {
        name: String,
    },
    RenameModel {
        old: String,
        new: String,
    },
    AlterModelTable {
        name: String,
        table: Option<String>,
    },
    /// `AlterModelOptions` replaces the options it manages: a `managed` it
    /// leaves out goes back to the default (True).
    AlterModelOptions {
        name: String,
        managed: Option<bool>,
    },
    AddField {
        model: String,
        field: FieldSpec,
    },
    AlterField {
        model: String,
        field: FieldSpec,
    },
    RemoveField {
        model: String,
        name: String,
    },
    RenameField {
        model: String,
        old: String,
        new: String,
    },
    AddIndex {
        model: String,
        index: IndexDecl,
        /// `AddIndexConcurrently`.
        concurrently: bool,
    },
    RemoveIndex {
        model: String,
        name: String,
        /// `RemoveIndexConcurrently`.
        concurrently: bool,
    },
    /// `old_fields` renames an unnamed `index_together` index (4.1+).
    RenameIndex {
        model: String,
        new: String,
        old_name: Option<String>,
        old_fields: Option<Vec<String>>,
    },
    AddConstraint {
        model: String,
        constraint: IndexDecl,
    },
    RemoveConstraint {
        model: String,
        name: String,
    },
    /// `AlterUniqueTogether` / `AlterIndexTogether`: the option's new value.
    AlterTogether {
        model: String,
        option: Together,
        groups: Vec<Vec<String>>,
    },
    /// Raw SQL: its index and table statements run in the database only;
    /// its `state_operations` change the state only.
    RunSql {
        statements: Vec<Statement>,
        state: Vec<Operation>,
    },
    SeparateDatabaseAndState {
        database: Vec<Operation>,
        state: Vec<Operation>,
    },
    /// Changes neither the state nor the indexes (`RunPython`,
    /// `CreateExtension`, `AlterModelManagers`, ...).
    Inert,
    /// An operation ixray cannot evaluate (a custom class, an argument
    /// that is not a literal): what it changes is unknown.
    Unknown {
        /// The model it names, when it names one.
        model: Option<String>,
        what: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Together {
    Unique,
    Index,
}

impl Together {
    pub fn option_name(self) -> &'static str {
        match self {
            Together::Unique => "unique_together",
            Together::Index => "index_together",
        }
    }
}

/// `CreateModel(options={...})`, the options that matter for indexes.
#[derive(Debug, Clone, Default)]
pub struct ModelOptions {
    pub db_table: Option<String>,
    pub managed: Option<bool>,
    pub proxy: bool,
    pub indexes: Vec<IndexDecl>,
    pub constraints: Vec<IndexDecl>,
    pub unique_together: Vec<Vec<String>>,
    pub index_together: Vec<Vec<String>>,
    /// An option that matters could not be read.
    pub unreadable: Option<String>,
}

/// A field as a migration writes it: `("customer", models.ForeignKey(...))`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldSpec {
    pub name: String,
    /// The field class (last name segment): `ForeignKey`, `CharField`, ...
    pub kind: String,
    pub primary_key: bool,
    pub unique: bool,
    pub db_index: Option<bool>,
    pub db_constraint: bool,
    pub db_column: Option<String>,
    /// A relation's target as the migration writes it: `"app.model"`, or
    /// `settings.AUTH_USER_MODEL`.
    pub target: Option<models::Target>,
    pub to_field: Option<String>,
    /// An argument that decides whether the field is indexed is not a
    /// literal (or `**kwargs` hides it).
    pub unreadable: bool,
    pub span: Span,
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
            .and_then(|a| a.field("right"))
        else {
            continue;
        };
        return read_pairs(&pyexpr::convert(value, &snippet));
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

/// Read a whole migration module: graph, `atomic`, operations. The fast
/// reader takes what `makemigrations` writes; anything else is parsed by
/// tree-sitter into the same values.
pub fn extract(source: Arc<SourceFile>) -> MigrationFile {
    let module = match pyexpr::read_module(&source.text) {
        Some(module) => module,
        None => {
            let tree = py::parse_file(&source.text);
            let unreadable = if tree.root_node().has_error() {
                Some("a syntax error")
            } else if crate::frameworks::syntax::too_deep(&tree).is_some() {
                Some("code nested too deep to read")
            } else {
                None
            };
            if let Some(why) = unreadable {
                let mut migration = MigrationFile::empty(source.clone());
                migration.unreadable = Some(why.into());
                migration.dependencies = pairs_assigned(&source.text, "dependencies");
                migration.replaces = pairs_assigned(&source.text, "replaces");
                return migration;
            }
            pyexpr::from_tree(&tree, &source.text)
        }
    };
    from_module(source, &module)
}

fn from_module(source: Arc<SourceFile>, module: &Module) -> MigrationFile {
    let mut migration = MigrationFile::empty(source.clone());
    let text = source.text.as_str();
    let Some(class) = module.classes.iter().find(|c| c.name == "Migration") else {
        migration.unreadable = Some("no `Migration` class".into());
        return migration;
    };
    let mut cx = Reader {
        text,
        names: Vec::new(),
    };
    cx.names
        .extend(module.assignments.iter().map(|(n, v)| (n.as_str(), v)));
    cx.names
        .extend(class.assignments.iter().map(|(n, v)| (n.as_str(), v)));
    let mut operations_read = false;
    for (name, value) in &class.assignments {
        match name.as_str() {
            "dependencies" => migration.dependencies = read_pairs(value),
            "replaces" => migration.replaces = read_pairs(value),
            "atomic" => migration.atomic = value.bool().unwrap_or(true),
            "operations" => match read_operations(value, &cx) {
                Some(operations) => {
                    operations_read = true;
                    migration.operations = operations;
                }
                None => {
                    migration.unreadable =
                        Some("an `operations` value that is not a list literal".into());
                }
            },
            _ => {}
        }
    }
    if !operations_read && migration.unreadable.is_none() {
        migration.unreadable = Some("no `operations` list".into());
    }
    migration
}

fn read_pairs(value: &Expr) -> Vec<(String, String)> {
    value
        .items()
        .unwrap_or_default()
        .iter()
        .filter_map(|item| match item.strings()?.as_slice() {
            [app, name] => Some((app.clone(), name.clone())),
            _ => None,
        })
        .collect()
}

/// Operations Django ships that change neither the model state nor the
/// indexes.
const INERT: &[&str] = &[
    "RunPython",
    "AlterModelManagers",
    "AlterModelTableComment",
    "AlterOrderWithRespectTo",
    // 5.2: changes only attributes that are not in the database.
    "AlterConstraint",
    "CreateExtension",
    "BloomExtension",
    "BtreeGinExtension",
    "BtreeGistExtension",
    "CITextExtension",
    "CryptoExtension",
    "HStoreExtension",
    "TrigramExtension",
    "UnaccentExtension",
    "CreateCollation",
    "RemoveCollation",
    "ValidateConstraint",
];

/// The module being read, with the names its class body and module level
/// assign (`state_operations = [...]` referenced by a call).
struct Reader<'m> {
    text: &'m str,
    names: Vec<(&'m str, &'m Expr)>,
}

impl<'m> Reader<'m> {
    /// A name bound to a value the reader can follow.
    fn resolve(&self, expr: &'m Expr) -> &'m Expr {
        let Some(name) = expr.name() else {
            return expr;
        };
        self.names
            .iter()
            .rev()
            .find(|(n, _)| *n == name)
            .map_or(expr, |(_, value)| *value)
    }
}

fn read_operation(expr: &Expr, cx: &Reader) -> Operation {
    let span = expr.span;
    let kind = read_operation_kind(expr, cx).unwrap_or_else(|| {
        let model = expr.call_args().and_then(|args| {
            args.keyword("model_name")
                .or_else(|| args.keyword("name"))
                .and_then(|n| n.str().map(str::to_string))
        });
        OperationKind::Unknown {
            model,
            what: match expr.call_name() {
                Some(name) => format!("`{name}(...)` ixray cannot evaluate"),
                None => format!(
                    "an operation ixray cannot read (`{}`)",
                    first_line(expr.text(cx.text))
                ),
            },
        }
    });
    Operation { kind, span }
}

fn first_line(text: &str) -> &str {
    let line = text.lines().next().unwrap_or("");
    match line.char_indices().nth(60) {
        Some((i, _)) => &line[..i],
        None => line,
    }
}

/// An optional argument: absent or `None` is `Some(None)`; anything but a
/// string is `None` (not readable).
fn optional_string(expr: Option<&Expr>) -> Option<Option<String>> {
    match expr {
        None => Some(None),
        Some(e) if e.is_none() => Some(None),
        Some(e) => e.str().map(|s| Some(s.to_string())),
    }
}

/// The operation, or `None` when ixray cannot evaluate it.
fn read_operation_kind(expr: &Expr, cx: &Reader) -> Option<OperationKind> {
    let callee = expr.call_name()?;
    let class = py::last_segment(callee);
    let args = expr.call_args()?;
    if args.splat {
        return None;
    }
    let string = |name: &str, position: usize| -> Option<String> {
        args.get(name, position)
            .and_then(|n| n.str().map(str::to_string))
    };
    let kind = match class {
        "CreateModel" => OperationKind::CreateModel {
            name: string("name", 0)?,
            fields: read_fields(args.get("fields", 1)?)?,
            options: match args.get("options", 2) {
                Some(options) if !options.is_none() => read_options(options, cx.text),
                _ => ModelOptions::default(),
            },
        },
        "DeleteModel" => OperationKind::DeleteModel {
            name: string("name", 0)?,
        },
        "RenameModel" => OperationKind::RenameModel {
            old: string("old_name", 0)?,
            new: string("new_name", 1)?,
        },
        "AlterModelTable" => OperationKind::AlterModelTable {
            name: string("name", 0)?,
            table: optional_string(args.get("table", 1))?,
        },
        "AlterModelOptions" => {
            let ExprKind::Dict(options) = &args.get("options", 1)?.kind else {
                return None;
            };
            let managed = match options.iter().find(|(k, _)| k.str() == Some("managed")) {
                Some((_, value)) => Some(value.bool()?),
                None => None,
            };
            OperationKind::AlterModelOptions {
                name: string("name", 0)?,
                managed,
            }
        }
        "AddField" | "AlterField" => {
            let model = string("model_name", 0)?;
            let name = string("name", 1)?;
            let field = read_field(name, args.get("field", 2)?);
            if class == "AddField" {
                OperationKind::AddField { model, field }
            } else {
                OperationKind::AlterField { model, field }
            }
        }
        "RemoveField" => OperationKind::RemoveField {
            model: string("model_name", 0)?,
            name: string("name", 1)?,
        },
        "RenameField" => OperationKind::RenameField {
            model: string("model_name", 0)?,
            old: string("old_name", 1)?,
            new: string("new_name", 2)?,
        },
        "RenameIndex" => {
            let old_fields = match args.get("old_fields", 3) {
                None => None,
                Some(n) if n.is_none() => None,
                Some(n) => Some(n.strings()?),
            };
            let old_name = optional_string(args.get("old_name", 2))?;
            if old_name.is_none() == old_fields.is_none() {
                return None;
            }
            OperationKind::RenameIndex {
                model: string("model_name", 0)?,
                new: string("new_name", 1)?,
                old_name,
                old_fields,
            }
        }
        // `AddIndexConcurrently`, and helper subclasses a project defines
        // in the migration (`AddIndexConcurrentlyOnPostgres`).
        c if c.contains("AddIndex") => OperationKind::AddIndex {
            model: string("model_name", 0)?,
            index: read_index(args.get("index", 1)?, cx.text)?,
            concurrently: c.contains("Concurrently"),
        },
        c if c.contains("RemoveIndex") => OperationKind::RemoveIndex {
            model: string("model_name", 0)?,
            name: string("name", 1)?,
            concurrently: c.contains("Concurrently"),
        },
        // `AddConstraintNotValid` (contrib.postgres) adds a check constraint.
        "AddConstraint" | "AddConstraintNotValid" => OperationKind::AddConstraint {
            model: string("model_name", 0)?,
            constraint: read_index(args.get("constraint", 1)?, cx.text)?,
        },
        "RemoveConstraint" => OperationKind::RemoveConstraint {
            model: string("model_name", 0)?,
            name: string("name", 1)?,
        },
        "AlterUniqueTogether" | "AlterIndexTogether" => {
            let option = if class == "AlterUniqueTogether" {
                Together::Unique
            } else {
                Together::Index
            };
            OperationKind::AlterTogether {
                model: string("name", 0)?,
                option,
                groups: read_together(args.get(option.option_name(), 1)?)?,
            }
        }
        "RunSQL" => {
            let mut statements = Vec::new();
            if let Some(sql_expr) = args.get("sql", 0) {
                for script in sql_strings(cx.resolve(sql_expr), cx) {
                    statements.extend(sql::statements(&script));
                }
            }
            OperationKind::RunSql {
                statements,
                state: match args.get("state_operations", 3) {
                    Some(n) if !n.is_none() => read_operations(n, cx)?,
                    _ => Vec::new(),
                },
            }
        }
        "SeparateDatabaseAndState" => OperationKind::SeparateDatabaseAndState {
            database: match args.get("database_operations", 0) {
                Some(n) if !n.is_none() => read_operations(n, cx)?,
                _ => Vec::new(),
            },
            state: match args.get("state_operations", 1) {
                Some(n) if !n.is_none() => read_operations(n, cx)?,
                _ => Vec::new(),
            },
        },
        c if INERT.contains(&c) => OperationKind::Inert,
        _ => return None,
    };
    Some(kind)
}

/// A list of operations: a literal, a name bound to one, or a sum of them.
fn read_operations(expr: &Expr, cx: &Reader) -> Option<Vec<Operation>> {
    let expr = cx.resolve(expr);
    match &expr.kind {
        ExprKind::Binary { op, left, right } if op == "+" => {
            let mut left = read_operations(left, cx)?;
            left.extend(read_operations(right, cx)?);
            Some(left)
        }
        _ => Some(
            expr.items()?
                .iter()
                .map(|op| read_operation(op, cx))
                .collect(),
        ),
    }
}

/// `fields=[("name", models.CharField(...)), ...]`.
fn read_fields(expr: &Expr) -> Option<Vec<FieldSpec>> {
    expr.items()?
        .iter()
        .map(|item| match item.items()? {
            [name, field] => Some(read_field(name.str()?.to_string(), field)),
            _ => None,
        })
        .collect()
}

fn read_field(name: String, expr: &Expr) -> FieldSpec {
    let mut field = FieldSpec {
        name,
        kind: String::new(),
        primary_key: false,
        unique: false,
        db_index: None,
        db_constraint: true,
        db_column: None,
        target: None,
        to_field: None,
        unreadable: false,
        span: expr.span,
    };
    let (Some(callee), Some(args)) = (expr.call_name(), expr.call_args()) else {
        field.unreadable = true;
        return field;
    };
    field.kind = py::last_segment(callee).to_string();
    field.unreadable = args.splat;
    let mut flag = |name: &str| match args.keyword(name) {
        None => None,
        Some(value) => {
            let read = value.bool();
            field.unreadable |= read.is_none();
            read
        }
    };
    let primary_key = flag("primary_key").unwrap_or(false);
    let unique = flag("unique").unwrap_or(false);
    let db_index = flag("db_index");
    let db_constraint = flag("db_constraint").unwrap_or(true);
    field.primary_key = primary_key;
    field.unique = unique;
    field.db_index = db_index;
    field.db_constraint = db_constraint;
    if let Some(value) = args.get("to", 0)
        && super::history::is_foreign_key(&field.kind)
    {
        field.target = Some(match (value.str(), value.name()) {
            (Some(label), _) => models::Target::Label(label.to_string()),
            (None, Some(name)) if name.ends_with("AUTH_USER_MODEL") => {
                models::Target::AuthUserModel
            }
            _ => models::Target::Unknown,
        });
    }
    field.to_field = args
        .keyword("to_field")
        .and_then(|n| n.str().map(str::to_string));
    if let Some(value) = args.keyword("db_column") {
        match value.str() {
            Some(column) => field.db_column = Some(column.to_string()),
            None => field.unreadable |= !value.is_none(),
        }
    }
    field
}

fn read_options(expr: &Expr, text: &str) -> ModelOptions {
    let mut options = ModelOptions::default();
    let ExprKind::Dict(pairs) = &expr.kind else {
        options.unreadable = Some("`options` that are not a dict literal".into());
        return options;
    };
    for (key, value) in pairs {
        let Some(key) = key.str() else {
            options.unreadable = Some("an option ixray cannot read".into());
            continue;
        };
        let mut unreadable = false;
        match key {
            "db_table" => match value.str() {
                Some(table) => options.db_table = Some(table.to_string()),
                None => unreadable = !value.is_none(),
            },
            "managed" => match value.bool() {
                Some(managed) => options.managed = Some(managed),
                None => unreadable = true,
            },
            "proxy" => match value.bool() {
                Some(proxy) => options.proxy = proxy,
                None => unreadable = true,
            },
            "indexes" | "constraints" => {
                let items: Option<Vec<IndexDecl>> = value
                    .items()
                    .and_then(|items| items.iter().map(|i| read_index(i, text)).collect());
                match items {
                    Some(items) if key == "indexes" => options.indexes = items,
                    Some(items) => options.constraints = items,
                    None => unreadable = true,
                }
            }
            "unique_together" | "index_together" => match read_together(value) {
                Some(groups) if key == "unique_together" => options.unique_together = groups,
                Some(groups) => options.index_together = groups,
                None => unreadable = true,
            },
            _ => {}
        }
        if unreadable {
            options.unreadable = Some(format!("the `{key}` option is not a literal"));
        }
    }
    options
}

/// A together option as Django normalizes it: `{("a", "b")}`, `[...]`,
/// a single `("a", "b")`, `set()` or `None`.
fn read_together(expr: &Expr) -> Option<Vec<Vec<String>>> {
    if expr.is_none() {
        return Some(Vec::new());
    }
    if let Some(name) = expr.call_name() {
        let empty_set = name == "set" && expr.call_args()?.positional.is_empty();
        return empty_set.then(Vec::new);
    }
    let items = expr.items()?;
    if !items.is_empty() && items.iter().all(|i| i.str().is_some()) {
        return Some(vec![expr.strings()?]);
    }
    let mut groups: Vec<Vec<String>> = items.iter().map(Expr::strings).collect::<Option<_>>()?;
    groups.sort();
    groups.dedup();
    Some(groups)
}

/// `"SQL"`, `["SQL", ...]` or `[("SQL", params), ...]` (names followed).
fn sql_strings(expr: &Expr, cx: &Reader) -> Vec<String> {
    if let Some(s) = expr.str() {
        return vec![s.to_string()];
    }
    expr.items()
        .unwrap_or_default()
        .iter()
        .filter_map(|item| {
            let item = cx.resolve(item);
            item.str().map(str::to_string).or_else(|| {
                item.items()?
                    .first()
                    .and_then(|first| cx.resolve(first).str().map(str::to_string))
            })
        })
        .collect()
}

/// An `Index(...)` or constraint as a migration writes it (also the
/// deconstructed `Q(("field", value))` conditions), read as the models'
/// `Meta.indexes` entries are.
pub fn read_index(expr: &Expr, text: &str) -> Option<IndexDecl> {
    let class = py::last_segment(expr.call_name()?).to_string();
    let args = expr.call_args()?;
    let fields = args
        .keyword("fields")
        .and_then(Expr::strings)
        .unwrap_or_default()
        .into_iter()
        .map(crate::frameworks::python::signed_field)
        .collect();
    Some(IndexDecl {
        class,
        fields,
        expressions: args
            .positional
            .iter()
            .map(|e| e.text(text).to_string())
            .collect(),
        name: args
            .keyword("name")
            .and_then(|n| n.str().map(str::to_string)),
        condition: args.keyword("condition").map(|c| read_condition(c, text)),
        include: args
            .keyword("include")
            .and_then(Expr::strings)
            .unwrap_or_default(),
        opclasses: args
            .keyword("opclasses")
            .and_then(Expr::strings)
            .unwrap_or_default(),
        span: expr.span,
    })
}

/// `Q(a=1) & Q(("b", 2))` as ANDed lookups; anything else as written.
fn read_condition(expr: &Expr, text: &str) -> Condition {
    let mut lookups = Vec::new();
    if collect_lookups(expr, text, &mut lookups) {
        Condition::All(lookups)
    } else {
        Condition::Raw(expr.text(text).to_string())
    }
}

fn collect_lookups(expr: &Expr, text: &str, out: &mut Vec<Lookup>) -> bool {
    match &expr.kind {
        ExprKind::Call { .. } if expr.call_name().is_some_and(|n| py::last_segment(n) == "Q") => {
            let Some(args) = expr.call_args() else {
                return false;
            };
            if args.splat {
                return false;
            }
            let first = out.len();
            let mut push = |key: &str, value: &Expr| {
                let (path, lookup) = match key.rsplit_once("__") {
                    Some((path, lookup)) if models::is_lookup(lookup) => (path, lookup),
                    _ => (key, "exact"),
                };
                out.push(Lookup {
                    path: path.to_string(),
                    lookup: lookup.to_string(),
                    value: value.text(text).to_string(),
                    negated: false,
                });
            };
            // `Q(("field", value))`, as Django deconstructs a `Q`.
            for arg in args.positional {
                match arg.items() {
                    Some([key, value]) if key.str().is_some() => {
                        push(key.str().unwrap_or(""), value)
                    }
                    _ => return false,
                }
            }
            let mut negated = false;
            for (key, value) in args.keywords {
                match key.as_str() {
                    // `~Q(state="down")` as makemigrations writes it.
                    "_negated" if matches!(value.kind, ExprKind::True) => negated = true,
                    // `_connector`, anything else.
                    _ if key.starts_with('_') => return false,
                    _ => push(key, value),
                }
            }
            if negated {
                // NOT of one lookup is a conjunct; NOT of an AND is not.
                match &mut out[first..] {
                    [lookup] => lookup.negated = true,
                    _ => return false,
                }
            }
            true
        }
        ExprKind::Binary { op, left, right } if op == "&" => {
            collect_lookups(left, text, out) && collect_lookups(right, text, out)
        }
        // `~Q(status="down")`: one negated lookup (NOT of an AND is no
        // conjunct).
        ExprKind::Unary { op, operand } if op == "~" => {
            let mut inner = Vec::new();
            match (
                collect_lookups(operand, text, &mut inner),
                inner.as_mut_slice(),
            ) {
                (true, [lookup]) if !lookup.negated => {
                    lookup.negated = true;
                    out.append(&mut inner);
                    true
                }
                _ => false,
            }
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negated_q_is_read_as_written_and_as_deconstructed() {
        for (code, readable) in [
            (
                "models.Index(fields=['a'], name='x', condition=models.Q(on=True) & ~models.Q(state='down'))",
                true,
            ),
            (
                "models.Index(fields=['a'], name='x', condition=models.Q(('on', True)) & models.Q(('state', 'down'), _negated=True))",
                true,
            ),
            (
                "models.Index(fields=['a'], name='x', condition=models.Q(('a', 1), ('b', 2), _negated=True))",
                false,
            ),
        ] {
            let tree = crate::frameworks::python::parse(code);
            let node = tree
                .root_node()
                .named_child(0)
                .and_then(|s| s.named_child(0))
                .unwrap();
            let expr = crate::frameworks::pyexpr::convert(node, code);
            let condition = read_index(&expr, code).unwrap().condition.unwrap();
            match condition {
                Condition::All(lookups) => {
                    assert!(readable, "{code}");
                    let negated: Vec<(&str, bool)> = lookups
                        .iter()
                        .map(|l| (l.path.as_str(), l.negated))
                        .collect();
                    assert_eq!(negated, vec![("on", false), ("state", true)]);
                }
                Condition::Raw(_) => assert!(!readable, "{code}"),
            }
        }
    }

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
}
