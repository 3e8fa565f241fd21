//! Reads one Python module into SQLAlchemy facts: declarative classes and
//! their columns, `Table(...)` objects, module-level `Index(...)`, declarative
//! bases and naming conventions, with the spans fixes edit. Nothing is
//! resolved across files here (see `project.rs`).

use std::sync::Arc;

use tree_sitter::Node;

use super::types;
use crate::frameworks::python::Fields as _;
use crate::frameworks::python::{self as py, Arguments};
use crate::schema::TypeFamily;
use crate::source::{SourceFile, Span};

#[derive(Debug, Clone)]
pub struct ModelsFile {
    pub source: Arc<SourceFile>,
    pub imports: Imports,
    pub classes: Vec<ClassDecl>,
    pub tables: Vec<TableDecl>,
    /// `Index(...)` statements at module level.
    pub indexes: Vec<IndexDecl>,
    /// Module-level names bound to a metadata carrier: `Base =
    /// declarative_base(...)`, `metadata = MetaData(...)`, `reg = registry()`,
    /// `db = SQLAlchemy()`.
    pub metadata_vars: Vec<MetadataVar>,
    /// Module-level dict literals that look like naming conventions.
    pub convention_vars: Vec<(String, Convention)>,
    /// `db.Model.metadata.naming_convention = ...` after the fact: the
    /// carrier's first name and the convention it gets.
    pub convention_overrides: Vec<(String, ConventionRef)>,
    /// `index=True` appears in a column of this module.
    pub uses_index_flag: bool,
    /// Other calls at module level that are handed a class (`helper(User)`,
    /// `helper(User.email)`, `listen(User.__table__, "after_create", …)`):
    /// they may build indexes ixray cannot see.
    pub module_calls: Vec<ModuleCall>,
}

#[derive(Debug, Clone)]
pub struct ModuleCall {
    pub callee: String,
    /// The first name of every argument (`User` for `User.email`).
    pub names: Vec<String>,
    pub span: Span,
}

/// How the module names SQLAlchemy's API, so fixes write in its style.
#[derive(Debug, Default, Clone)]
pub struct Imports {
    /// Names imported from `sqlalchemy` itself: (imported, local).
    pub direct: Vec<(String, String)>,
    /// The `from sqlalchemy import ...` statement, for adding a name.
    pub from_statement: Option<Span>,
    /// A local alias of the `sqlalchemy` module (`import sqlalchemy as sa`).
    pub module_alias: Option<String>,
    /// Where a new import line goes: the end of the last top-level import.
    pub insert_at: usize,
    /// Every `from module import name [as local]`: (local, module).
    pub from_modules: Vec<(String, String)>,
}

impl ModelsFile {
    /// `mapped_column` is imported under its own name from `sqlalchemy.orm`.
    pub fn imports_mapped_column(&self) -> bool {
        self.imports
            .from_modules
            .iter()
            .any(|(local, module)| local == "mapped_column" && module == "sqlalchemy.orm")
    }
}

impl Imports {
    /// How code in this module names `sqlalchemy.<name>`, if it can.
    pub fn reference(&self, name: &str) -> Option<String> {
        if let Some((_, local)) = self.direct.iter().find(|(n, _)| n == name) {
            return Some(local.clone());
        }
        self.module_alias.as_ref().map(|m| format!("{m}.{name}"))
    }
}

/// What a `MetaData(...)` gives every table on it: the naming-convention
/// templates that name indexes, and the default schema.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Convention {
    pub ix: Option<String>,
    pub uq: Option<String>,
    /// `MetaData(schema="...")`: tables without a schema of their own live
    /// there.
    pub schema: Option<String>,
}

/// Where a naming convention comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConventionRef {
    Inline(Convention),
    /// A module-level dict or metadata variable of that name.
    Name(String),
    /// No convention given: SQLAlchemy's default.
    Default,
}

#[derive(Debug, Clone)]
pub struct MetadataVar {
    pub name: String,
    pub kind: CarrierKind,
    pub convention: ConventionRef,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CarrierKind {
    MetaData,
    DeclarativeBase,
    Registry,
    /// Flask-SQLAlchemy's `db`; models derive from `db.Model`.
    FlaskSqlalchemy,
}

#[derive(Debug, Clone)]
pub struct ClassDecl {
    pub name: String,
    /// The class name's span (findings point here).
    pub name_span: Span,
    pub span: Span,
    pub bases: Vec<String>,
    pub decorators: Vec<String>,
    pub body: Span,
    pub body_indent: String,
    pub tablename: Option<String>,
    /// The `__tablename__ = ...` statement.
    pub tablename_statement: Option<Span>,
    /// `__tablename__` is a `declared_attr` the extractor cannot evaluate.
    pub tablename_dynamic: bool,
    /// `@declared_attr def __tablename__(cls): return cls.__name__.lower()`:
    /// every mapped subclass is named after itself.
    pub tablename_from_class_name: bool,
    pub is_abstract: bool,
    /// `__table__ = Table(...)`.
    pub table: Option<TableDecl>,
    pub table_args: Option<TableArgs>,
    pub columns: Vec<ColumnDecl>,
    /// `metadata = MetaData(...)` on a declarative base class.
    pub metadata: Option<ConventionRef>,
    /// Derives from `DeclarativeBase` or is decorated `@as_declarative`.
    pub declarative_root: bool,
    /// `attr = relationship(...)`: what loaders of the attribute read.
    pub relationships: Vec<RelationshipDecl>,
}

/// `children = relationship("Child", ...)`, as written: the names in it
/// are resolved with the whole project (`queries::resolve`).
#[derive(Debug, Clone, Default)]
pub struct RelationshipDecl {
    pub attr: String,
    /// The target class's name (`"Child"`, `Child`, `"app.models.Child"`
    /// → `Child`), else the `Mapped[list["Child"]]` annotation's.
    pub target: Option<String>,
    /// `secondary=`: a table's name (a string) or the variable bound to it.
    pub secondary: Option<String>,
    /// `foreign_keys=`: the columns as written (`Child.parent_id`,
    /// `parent_id`); `Some(vec![])` when they cannot be read.
    pub foreign_keys: Option<Vec<String>>,
    /// `remote_side=`, as `foreign_keys`.
    pub remote_side: Option<Vec<String>>,
    /// `primaryjoin=`: the Python expression (from a string, a lambda's
    /// body, or the expression itself).
    pub primaryjoin: Option<String>,
    /// `secondaryjoin=` is given.
    pub secondaryjoin: bool,
    /// `lazy="selectin"` and the like.
    pub lazy: Option<String>,
    /// `backref="children"` / `backref=backref("children", lazy=...)`:
    /// the reverse relationship it declares on the target, and its `lazy`.
    pub backref: Option<(String, Option<String>)>,
    /// The reverse a `backref=` declares, not a `relationship()` written
    /// on its class: bare column names in it are the target's.
    pub reverse: bool,
    /// The `relationship(...)` call.
    pub span: Span,
}

impl RelationshipDecl {
    /// The relationship `backref=` declares on the target of this one,
    /// declared on `owner`.
    pub fn backref_relationship(&self, owner: &str) -> Option<RelationshipDecl> {
        let (attr, lazy) = self.backref.clone()?;
        Some(RelationshipDecl {
            attr,
            target: Some(owner.to_string()),
            lazy,
            backref: None,
            reverse: true,
            ..self.clone()
        })
    }
}

#[derive(Debug, Clone)]
pub struct ColumnDecl {
    /// The attribute (declarative) or the column name (`Table`).
    pub attr: String,
    /// An explicit SQL name (first positional string).
    pub sql_name: Option<String>,
    /// `key=`, the name `Index("...")` strings use.
    pub key: Option<String>,
    pub primary_key: bool,
    pub index: Option<bool>,
    /// The `index=...` keyword argument, for removing it.
    pub index_keyword: Option<Span>,
    pub unique: Option<bool>,
    pub foreign_keys: Vec<FkRef>,
    /// From the type argument, else the `Mapped[...]` annotation.
    pub type_family: Option<TypeFamily>,
    pub statement: Span,
    /// The `Column(...)`/`mapped_column(...)` call, absent for a bare
    /// `x: Mapped[T]` annotation.
    pub call: Option<CallSpans>,
    /// The annotation of a bare `x: Mapped[T]`, where `= mapped_column()`
    /// would go.
    pub annotation_end: Option<usize>,
}

impl ColumnDecl {
    pub fn name(&self) -> &str {
        self.sql_name.as_deref().unwrap_or(&self.attr)
    }
}

/// The spans of a call that edits need.
#[derive(Debug, Clone, Copy)]
pub struct CallSpans {
    pub call: Span,
    /// The argument list, parentheses included.
    pub arguments: Span,
    /// The last argument's end, if there is one.
    pub last_argument_end: Option<usize>,
    /// The last positional argument's end: new positional arguments go
    /// here, before any keyword (`Table(..., Column(...), schema="s")`).
    pub last_positional_end: Option<usize>,
}

impl CallSpans {
    pub(crate) fn of(call: Node) -> Option<CallSpans> {
        let args = call.field("arguments")?;
        let mut cursor = args.walk();
        let arguments: Vec<Node> = args
            .named_children(&mut cursor)
            .filter(|n| n.kind() != "comment")
            .collect();
        let positional = arguments
            .iter()
            .rfind(|n| !matches!(n.kind(), "keyword_argument" | "dictionary_splat"));
        Some(CallSpans {
            call: py::span(call),
            arguments: py::span(args),
            last_argument_end: arguments.last().map(|n| n.end_byte()),
            last_positional_end: positional.map(|n| n.end_byte()),
        })
    }
}

/// A foreign key target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FkRef {
    /// `"[schema.]table.column"`.
    Text(String),
    /// `Model.attr`.
    Attr { class: String, attr: String },
    /// `table_var.c.column`.
    TableColumn { table: String, column: String },
}

/// A column reference inside an index or constraint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColumnRef {
    /// A string: the column key.
    Key(String),
    Attr {
        class: String,
        attr: String,
    },
    TableColumn {
        table: String,
        column: String,
    },
    /// SQL text (`text("lower(email)")`) or an expression in Python.
    Expression(String),
}

#[derive(Debug, Clone)]
pub struct IndexPartDecl {
    pub column: ColumnRef,
    pub desc: bool,
}

/// A predicate conjunct of a partial index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PredicateDecl {
    /// SQL text, from `text("...")` or a string.
    Sql(String),
    /// `Model.col.is_not(None)` / `isnot(None)` / `!= None`.
    NotNull(ColumnRef),
    /// Anything else, as written.
    Other(String),
}

#[derive(Debug, Clone, Default)]
pub struct DialectOptions {
    pub postgresql_where: Vec<PredicateDecl>,
    pub sqlite_where: Vec<PredicateDecl>,
    pub postgresql_include: Vec<String>,
    pub postgresql_using: Option<String>,
    pub mysql_using: Option<String>,
    pub postgresql_ops: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
pub struct IndexDecl {
    pub name: Option<String>,
    pub parts: Vec<IndexPartDecl>,
    pub unique: bool,
    pub options: DialectOptions,
    pub span: Span,
    /// An f-string in the name, a column or the predicate: ixray cannot
    /// know the index exactly.
    pub computed: bool,
}

#[derive(Debug, Clone)]
pub enum ConstraintDecl {
    Index(IndexDecl),
    Unique {
        name: Option<String>,
        columns: Vec<ColumnRef>,
        span: Span,
    },
    PrimaryKey {
        columns: Vec<ColumnRef>,
    },
    ForeignKey {
        /// `name=`, the name `drop_constraint` uses.
        name: Option<String>,
        columns: Vec<ColumnRef>,
        targets: Vec<FkRef>,
        span: Span,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgsForm {
    Tuple,
    Dict,
    TupleThenDict,
    /// Computed (`declared_attr`, a call, a name): read what we can, never
    /// edit it.
    Opaque,
}

#[derive(Debug, Clone)]
pub struct TableArgs {
    pub form: ArgsForm,
    pub items: Vec<ConstraintDecl>,
    /// The value (tuple or dict literal).
    pub value: Span,
    /// The trailing dict of a tuple, or the dict alone.
    pub dict: Option<Span>,
    /// The end of the last non-dict item of a tuple.
    pub last_item_end: Option<usize>,
    /// Every item of a tuple, the dict included, in order: a fix that
    /// removes entries must know what is left.
    pub item_spans: Vec<Span>,
    pub schema: Option<String>,
    /// What ixray could not read (a helper call, a starred expression, a
    /// computed value): it may add indexes, so the table's declared index
    /// set is unknown.
    pub unreadable: Option<String>,
}

#[derive(Debug, Clone)]
pub struct TableDecl {
    /// The variable it is assigned to, if any.
    pub var: Option<String>,
    pub name: String,
    /// The metadata expression (`Base.metadata`, `metadata`).
    pub metadata: Option<String>,
    pub columns: Vec<ColumnDecl>,
    pub constraints: Vec<ConstraintDecl>,
    pub call: CallSpans,
    pub schema: Option<String>,
}

pub fn extract(source: Arc<SourceFile>, tree: &tree_sitter::Tree) -> ModelsFile {
    let text = source.text.as_str();
    let defs = py::definitions(tree);
    let mut file = ModelsFile {
        source: source.clone(),
        imports: read_imports(tree.root_node(), text),
        classes: Vec::new(),
        tables: Vec::new(),
        indexes: Vec::new(),
        metadata_vars: Vec::new(),
        convention_vars: Vec::new(),
        convention_overrides: Vec::new(),
        uses_index_flag: text.contains("index=True"),
        module_calls: Vec::new(),
    };
    for class in defs.classes {
        if let Some(decl) = read_class(class, text) {
            file.classes.push(decl);
        }
    }
    for assignment in defs.assignments {
        read_module_assignment(assignment, text, &mut file);
    }
    // Bare `Index(...)` expression statements at module level.
    let root = tree.root_node();
    let mut cursor = root.walk();
    for statement in root.named_children(&mut cursor) {
        if statement.kind() != "expression_statement" {
            continue;
        }
        let Some(call) = statement.named_child(0).filter(|c| c.kind() == "call") else {
            continue;
        };
        if call_is(call, text, "Index") {
            if let Some(index) = read_index(call, text) {
                file.indexes.push(index);
            }
        } else if let Some(module_call) = read_module_call(call, text) {
            file.module_calls.push(module_call);
        }
    }
    file
}

/// A module-level call that may build indexes: not an event listener for
/// something other than table creation.
fn read_module_call(call: Node, text: &str) -> Option<ModuleCall> {
    let callee = py::call_name(call, text)?;
    let args = py::arguments(call, text);
    if py::last_segment(&callee) == "listen"
        && !args
            .positional
            .iter()
            .any(|a| py::string_value(*a, text).is_some_and(|e| e.ends_with("_create")))
    {
        return None;
    }
    let names: Vec<String> = args
        .positional
        .iter()
        .chain(args.keywords.iter().map(|(_, v)| v))
        .filter_map(|a| py::dotted_name(*a, text))
        .map(|n| n.split('.').next().unwrap_or(&n).to_string())
        .collect();
    (!names.is_empty()).then(|| ModuleCall {
        callee,
        names,
        span: py::span(call),
    })
}

fn read_imports(root: Node, text: &str) -> Imports {
    let mut imports = Imports::default();
    let mut cursor = root.walk();
    for statement in root.named_children(&mut cursor) {
        match statement.kind() {
            "import_from_statement" => {
                imports.insert_at = statement.end_byte();
                let module = statement
                    .field("module_name")
                    .map(|m| py::text(m, text))
                    .unwrap_or("");
                if module != "sqlalchemy" {
                    let mut names = statement.walk();
                    for name in statement.children_by_field_name("name", &mut names) {
                        let local = match name.kind() {
                            "aliased_import" => name.field("alias"),
                            _ => Some(name),
                        };
                        if let Some(local) = local {
                            imports
                                .from_modules
                                .push((py::text(local, text).to_string(), module.to_string()));
                        }
                    }
                    continue;
                }
                imports.from_statement = Some(py::span(statement));
                let mut names = statement.walk();
                for name in statement.children_by_field_name("name", &mut names) {
                    match name.kind() {
                        "dotted_name" => {
                            let n = py::text(name, text).to_string();
                            imports.direct.push((n.clone(), n));
                        }
                        "aliased_import" => {
                            if let (Some(n), Some(alias)) =
                                (name.field("name"), name.field("alias"))
                            {
                                imports.direct.push((
                                    py::text(n, text).to_string(),
                                    py::text(alias, text).to_string(),
                                ));
                            }
                        }
                        _ => {}
                    }
                }
            }
            "import_statement" => {
                imports.insert_at = statement.end_byte();
                let mut names = statement.walk();
                for name in statement.children_by_field_name("name", &mut names) {
                    match name.kind() {
                        "dotted_name" if py::text(name, text) == "sqlalchemy" => {
                            imports.module_alias = Some("sqlalchemy".into());
                        }
                        "aliased_import" => {
                            if let (Some(n), Some(alias)) =
                                (name.field("name"), name.field("alias"))
                                && py::text(n, text) == "sqlalchemy"
                            {
                                imports.module_alias = Some(py::text(alias, text).to_string());
                            }
                        }
                        _ => {}
                    }
                }
            }
            "future_import_statement" => imports.insert_at = statement.end_byte(),
            // A module docstring: imports go after it.
            "expression_statement"
                if imports.insert_at == 0
                    && statement
                        .named_child(0)
                        .is_some_and(|n| n.kind() == "string") =>
            {
                imports.insert_at = statement.end_byte();
            }
            _ => {}
        }
    }
    imports
}

/// Whether `node` is a call to `name` (any module prefix: `sa.Index`,
/// `db.Index`, `Index`).
pub(crate) fn call_is(node: Node, text: &str, name: &str) -> bool {
    py::call_name(node, text).is_some_and(|n| py::last_segment(&n) == name)
}

fn last_call_name(node: Node, text: &str) -> Option<String> {
    py::call_name(node, text).map(|n| py::last_segment(&n).to_string())
}

fn read_module_assignment(assignment: Node, text: &str, file: &mut ModelsFile) {
    let (Some(left), Some(right)) = (assignment.field("left"), assignment.field("right")) else {
        return;
    };
    if left.kind() == "attribute"
        && let Some(target) = py::dotted_name(left, text)
        && let Some(carrier) = target.strip_suffix(".naming_convention")
    {
        let carrier = carrier.split('.').next().unwrap_or(carrier).to_string();
        let convention = if right.kind() == "dictionary" {
            ConventionRef::Inline(convention_literal(right, text).unwrap_or_default())
        } else {
            py::dotted_name(right, text).map_or(ConventionRef::Default, ConventionRef::Name)
        };
        file.convention_overrides.push((carrier, convention));
        return;
    }
    if left.kind() != "identifier" {
        return;
    }
    let name = py::text(left, text).to_string();
    if right.kind() == "dictionary" {
        if let Some(convention) = convention_literal(right, text) {
            file.convention_vars.push((name, convention));
        }
        return;
    }
    let Some(callee) = last_call_name(right, text) else {
        return;
    };
    let args = py::arguments(right, text);
    let kind = match callee.as_str() {
        "Table" => {
            if let Some(mut table) = read_table(right, text) {
                table.var = Some(name);
                file.tables.push(table);
            }
            return;
        }
        "Index" => {
            if let Some(index) = read_index(right, text) {
                file.indexes.push(index);
            }
            return;
        }
        "MetaData" => {
            file.metadata_vars.push(MetadataVar {
                name,
                kind: CarrierKind::MetaData,
                convention: metadata_convention(right, text),
            });
            return;
        }
        "declarative_base" => CarrierKind::DeclarativeBase,
        "registry" => CarrierKind::Registry,
        "SQLAlchemy" => CarrierKind::FlaskSqlalchemy,
        "generate_base" => {
            // `Base = reg.generate_base()`: the registry's metadata.
            let registry = right
                .field("function")
                .and_then(|f| f.field("object"))
                .and_then(|o| py::dotted_name(o, text));
            file.metadata_vars.push(MetadataVar {
                name,
                kind: CarrierKind::DeclarativeBase,
                convention: registry.map_or(ConventionRef::Default, ConventionRef::Name),
            });
            return;
        }
        _ => return,
    };
    let convention = args
        .keyword("metadata")
        .map(|m| metadata_expression(m, text))
        .unwrap_or(ConventionRef::Default);
    file.metadata_vars.push(MetadataVar {
        name,
        kind,
        convention,
    });
}

/// `MetaData(...)` inline, or a name bound to one.
fn metadata_expression(node: Node, text: &str) -> ConventionRef {
    if call_is(node, text, "MetaData") {
        return metadata_convention(node, text);
    }
    match py::dotted_name(node, text) {
        Some(name) => ConventionRef::Name(name),
        None => ConventionRef::Default,
    }
}

fn metadata_convention(call: Node, text: &str) -> ConventionRef {
    let args = py::arguments(call, text);
    let schema = args
        .keyword("schema")
        .and_then(|s| py::string_value(s, text));
    match args.keyword("naming_convention") {
        Some(value) if value.kind() == "dictionary" => ConventionRef::Inline(Convention {
            schema,
            ..convention_literal(value, text).unwrap_or_default()
        }),
        // A convention by name loses the schema; a schema by itself is rare
        // next to a named convention.
        Some(value) => match py::dotted_name(value, text) {
            Some(name) => ConventionRef::Name(name),
            None => ConventionRef::Default,
        },
        None => ConventionRef::Inline(Convention {
            schema,
            ..Convention::default()
        }),
    }
}

/// A dict literal with naming-convention keys.
fn convention_literal(dict: Node, text: &str) -> Option<Convention> {
    let pairs = py::dict_pairs(dict, text);
    if !pairs
        .iter()
        .any(|(k, _)| matches!(k.as_str(), "ix" | "uq" | "fk" | "pk" | "ck"))
    {
        return None;
    }
    let value = |key: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == key)
            .and_then(|(_, v)| py::string_value(*v, text))
    };
    Some(Convention {
        ix: value("ix"),
        uq: value("uq"),
        schema: None,
    })
}

fn read_class(class: Node, text: &str) -> Option<ClassDecl> {
    let name_node = class.field("name")?;
    let body = class.field("body")?;
    let mut bases = Vec::new();
    if let Some(superclasses) = class.field("superclasses") {
        let mut cursor = superclasses.walk();
        for base in superclasses.named_children(&mut cursor) {
            let base = if base.kind() == "subscript" {
                base.field("value").unwrap_or(base)
            } else {
                base
            };
            if let Some(name) = py::dotted_name(base, text) {
                bases.push(name);
            }
        }
    }
    let mut decorators = Vec::new();
    if let Some(parent) = class.parent()
        && parent.kind() == "decorated_definition"
    {
        let mut cursor = parent.walk();
        for decorator in parent.named_children(&mut cursor) {
            if decorator.kind() != "decorator" {
                continue;
            }
            if let Some(expr) = decorator.named_child(0) {
                let expr = if expr.kind() == "call" {
                    expr.field("function").unwrap_or(expr)
                } else {
                    expr
                };
                if let Some(name) = py::dotted_name(expr, text) {
                    decorators.push(name);
                }
            }
        }
    }
    let span_node = class
        .parent()
        .filter(|p| p.kind() == "decorated_definition")
        .unwrap_or(class);
    let first_statement = body.named_child(0);
    let body_indent = first_statement
        .map(|n| py::indentation_at(text, n.start_byte()).to_string())
        .unwrap_or_else(|| "    ".into());
    let mut decl = ClassDecl {
        name: py::text(name_node, text).to_string(),
        name_span: py::span(name_node),
        span: py::span(span_node),
        declarative_root: bases.iter().any(|b| {
            matches!(
                py::last_segment(b),
                "DeclarativeBase" | "DeclarativeBaseNoMeta"
            )
        }) || decorators
            .iter()
            .any(|d| py::last_segment(d) == "as_declarative"),
        bases,
        decorators,
        body: py::span(body),
        body_indent,
        tablename: None,
        tablename_statement: None,
        tablename_dynamic: false,
        tablename_from_class_name: false,
        is_abstract: false,
        table: None,
        table_args: None,
        columns: Vec::new(),
        metadata: None,
        relationships: Vec::new(),
    };
    let mut cursor = body.walk();
    for statement in body.named_children(&mut cursor) {
        match statement.kind() {
            "expression_statement" => {
                if let Some(assignment) = statement.named_child(0)
                    && assignment.kind() == "assignment"
                {
                    read_class_assignment(assignment, statement, text, &mut decl);
                }
            }
            "decorated_definition" => read_declared_attr(statement, text, &mut decl),
            _ => {}
        }
    }
    Some(decl)
}

fn read_class_assignment(assignment: Node, statement: Node, text: &str, decl: &mut ClassDecl) {
    let Some(left) = assignment.field("left") else {
        return;
    };
    if left.kind() != "identifier" {
        return;
    }
    let name = py::text(left, text);
    let right = assignment.field("right");
    let annotation = assignment.field("type");
    match (name, right) {
        ("__tablename__", Some(value)) => {
            decl.tablename = py::string_value(value, text);
            decl.tablename_dynamic = decl.tablename.is_none();
            decl.tablename_statement = Some(py::span(statement));
        }
        ("__abstract__", Some(value)) => decl.is_abstract = py::bool_value(value) == Some(true),
        ("__table_args__", Some(value)) => decl.table_args = Some(read_table_args(value, text)),
        ("__table__", Some(value)) if call_is(value, text, "Table") => {
            decl.table = read_table(value, text);
        }
        ("metadata", Some(value)) if call_is(value, text, "MetaData") => {
            decl.metadata = Some(metadata_convention(value, text));
        }
        (_, Some(value)) if call_is(value, text, "relationship") => {
            decl.relationships
                .push(read_relationship(name, value, annotation, text));
        }
        (_, Some(value)) if value.kind() == "call" => {
            if let Some(mut column) = read_column(name, value, statement, text) {
                if column.type_family.is_none() {
                    column.type_family =
                        annotation.and_then(|a| types::of_annotation(py::text(a, text)));
                }
                decl.columns.push(column);
            }
        }
        (_, None) => {
            // `created_at: Mapped[datetime]`: a column with defaults. Only
            // `Mapped[...]` annotations map; `ClassVar` and friends do not.
            let Some(annotation) = annotation else { return };
            let written = py::text(annotation, text);
            if !is_mapped_annotation(written) {
                return;
            }
            decl.columns.push(ColumnDecl {
                attr: name.to_string(),
                sql_name: None,
                key: None,
                primary_key: false,
                index: None,
                index_keyword: None,
                unique: None,
                foreign_keys: Vec::new(),
                type_family: types::of_annotation(written),
                statement: py::span(statement),
                call: None,
                annotation_end: Some(annotation.end_byte()),
            });
        }
        _ => {}
    }
}

fn read_relationship(
    attr: &str,
    call: Node,
    annotation: Option<Node>,
    text: &str,
) -> RelationshipDecl {
    let args = py::arguments(call, text);
    let class_name = |node: Node| -> Option<String> {
        let written = py::string_value(node, text).or_else(|| py::dotted_name(node, text))?;
        Some(py::last_segment(written.trim()).to_string())
    };
    let target = match args.positional.first() {
        Some(first) => class_name(*first),
        None => annotation.and_then(|a| annotated_target(py::text(a, text))),
    };
    let columns = |node: Node| -> Vec<String> {
        if let Some(written) = py::string_value(node, text) {
            let inner = written.trim().trim_start_matches('[').trim_end_matches(']');
            return inner
                .split(',')
                .map(|c| c.trim().to_string())
                .filter(|c| !c.is_empty())
                .collect();
        }
        let items = py::sequence_items(node).unwrap_or_else(|| vec![node]);
        items
            .into_iter()
            .map(|n| py::dotted_name(n, text))
            .collect::<Option<Vec<_>>>()
            .unwrap_or_default()
    };
    let expression = |node: Node| -> String {
        if let Some(written) = py::string_value(node, text) {
            return written;
        }
        if node.kind() == "lambda"
            && let Some(body) = node.child_by_field_name("body")
        {
            return py::text(body, text).to_string();
        }
        py::text(node, text).to_string()
    };
    RelationshipDecl {
        attr: attr.to_string(),
        target,
        secondary: args
            .keyword("secondary")
            .and_then(|s| py::string_value(s, text).or_else(|| py::dotted_name(s, text))),
        foreign_keys: args.keyword("foreign_keys").map(columns),
        remote_side: args.keyword("remote_side").map(columns),
        primaryjoin: args.keyword("primaryjoin").map(expression),
        secondaryjoin: args.keyword("secondaryjoin").is_some(),
        lazy: args.keyword("lazy").and_then(|l| py::string_value(l, text)),
        backref: args.keyword("backref").and_then(|b| {
            if let Some(name) = py::string_value(b, text) {
                return Some((name, None));
            }
            if !call_is(b, text, "backref") {
                return None;
            }
            let inner = py::arguments(b, text);
            let name = py::string_value(*inner.positional.first()?, text)?;
            let lazy = inner
                .keyword("lazy")
                .and_then(|l| py::string_value(l, text));
            Some((name, lazy))
        }),
        reverse: false,
        span: py::span(call),
    }
}

/// The class a `Mapped[list["Child"]]`/`Mapped["Child"]` annotation names.
fn annotated_target(written: &str) -> Option<String> {
    let mut inner = written.trim();
    loop {
        let open = inner.find('[')?;
        let head = py::last_segment(inner[..open].trim());
        if !matches!(
            head,
            "Mapped"
                | "List"
                | "list"
                | "Set"
                | "set"
                | "Optional"
                | "WriteOnlyMapped"
                | "DynamicMapped"
        ) {
            return None;
        }
        inner = inner[open + 1..].strip_suffix(']')?.trim();
        let bare = inner.trim_matches(|c| c == '"' || c == '\'');
        if !bare.contains('[') {
            let bare = bare.split('|').next()?.trim();
            return (!bare.is_empty()
                && bare
                    .chars()
                    .all(|c| c.is_alphanumeric() || c == '_' || c == '.'))
            .then(|| py::last_segment(bare).to_string());
        }
        inner = bare;
    }
}

/// `Mapped[int]`, `orm.Mapped[...]`, but not `Mapped[List["Child"]]` (a
/// relationship needs `relationship()`, so a bare one is never a column).
fn is_mapped_annotation(written: &str) -> bool {
    let Some(open) = written.find('[') else {
        return false;
    };
    let head = written[..open].trim();
    if py::last_segment(head) != "Mapped" {
        return false;
    }
    let inner = written[open + 1..].trim_start();
    ![
        "List[",
        "list[",
        "Set[",
        "set[",
        "Dict[",
        "dict[",
        "WriteOnlyMapped",
    ]
    .iter()
    .any(|p| inner.starts_with(p))
}

/// `@declared_attr` functions: `__tablename__`, `__table_args__`, and
/// mixin columns (`def owner_id(cls): return mapped_column(ForeignKey(..))`).
fn read_declared_attr(statement: Node, text: &str, decl: &mut ClassDecl) {
    let mut cursor = statement.walk();
    let is_declared_attr = statement.named_children(&mut cursor).any(|d| {
        d.kind() == "decorator"
            && d.named_child(0)
                .and_then(|e| py::dotted_name(e, text))
                .is_some_and(|n| n.contains("declared_attr"))
    });
    let Some(function) = statement.field("definition") else {
        return;
    };
    if !is_declared_attr || function.kind() != "function_definition" {
        return;
    }
    let Some(name) = function.field("name").map(|n| py::text(n, text)) else {
        return;
    };
    let Some(returned) = returned_value(function) else {
        if name == "__tablename__" {
            decl.tablename_dynamic = true;
        }
        return;
    };
    match name {
        "__tablename__" => {
            let value = py::text(returned, text).replace(' ', "");
            if value == "cls.__name__.lower()" {
                decl.tablename_from_class_name = true;
            } else {
                decl.tablename = py::string_value(returned, text);
                decl.tablename_dynamic = decl.tablename.is_none();
            }
        }
        "__table_args__" => {
            let mut args = read_table_args(returned, text);
            args.form = ArgsForm::Opaque;
            // Anything before the `return` (conditions, a list built up)
            // can change what it returns.
            if args.unreadable.is_none() && !single_return(function) {
                args.unreadable = Some(format!(
                    "`__table_args__` computed by the `declared_attr` of `{}`",
                    decl.name
                ));
            }
            decl.table_args = Some(args);
        }
        // A mixin's relationship (`def owner(cls): return relationship(...)`).
        _ if call_is(returned, text, "relationship") => {
            decl.relationships
                .push(read_relationship(name, returned, None, text));
        }
        _ if returned.kind() == "call" => {
            if let Some(column) = read_column(name, returned, statement, text) {
                decl.columns.push(column);
            }
        }
        _ => {}
    }
}

/// The function body is one `return` statement (a docstring aside).
fn single_return(function: Node) -> bool {
    let Some(body) = function.field("body") else {
        return false;
    };
    let mut cursor = body.walk();
    let statements: Vec<Node> = body
        .named_children(&mut cursor)
        .filter(|s| s.kind() != "comment")
        .filter(|s| {
            !(s.kind() == "expression_statement"
                && s.named_child(0).is_some_and(|n| n.kind() == "string"))
        })
        .collect();
    matches!(statements.as_slice(), [only] if only.kind() == "return_statement")
}

/// The expression of a function's single `return`.
fn returned_value(function: Node) -> Option<Node> {
    let body = function.field("body")?;
    let mut cursor = body.walk();
    let statement = body
        .named_children(&mut cursor)
        .find(|s| s.kind() == "return_statement")?;
    statement.named_child(0)
}

/// A `Column(...)`/`mapped_column(...)` call (also wrapped in `deferred()`).
pub(crate) fn read_column(
    attr: &str,
    call: Node,
    statement: Node,
    text: &str,
) -> Option<ColumnDecl> {
    let callee = last_call_name(call, text)?;
    let call = match callee.as_str() {
        "Column" | "mapped_column" => call,
        "deferred" | "column_property" => {
            let inner = py::arguments(call, text).positional.first().copied()?;
            return read_column(attr, inner, statement, text);
        }
        _ => return None,
    };
    let args = py::arguments(call, text);
    let mut column = ColumnDecl {
        attr: attr.to_string(),
        sql_name: None,
        key: args.keyword("key").and_then(|k| py::string_value(k, text)),
        primary_key: flag(&args, "primary_key") == Some(true),
        index: flag(&args, "index"),
        index_keyword: args.keyword("index").and_then(|v| v.parent()).map(py::span),
        unique: flag(&args, "unique"),
        foreign_keys: Vec::new(),
        type_family: None,
        statement: py::span(statement),
        call: CallSpans::of(call),
        annotation_end: None,
    };
    if let Some(name) = args.keyword("name").and_then(|n| py::string_value(n, text)) {
        column.sql_name = Some(name);
    }
    for (i, arg) in args.positional.iter().enumerate() {
        if i == 0
            && let Some(name) = py::string_value(*arg, text)
        {
            column.sql_name = Some(name);
            continue;
        }
        if call_is(*arg, text, "ForeignKey") {
            if let Some(target) = py::arguments(*arg, text).positional.first()
                && let Some(fk) = fk_ref(*target, text)
            {
                column.foreign_keys.push(fk);
            }
        } else if column.type_family.is_none() {
            column.type_family = types::of_type(py::text(*arg, text));
        }
    }
    // `Column("id", type_=Integer)`
    if column.type_family.is_none()
        && let Some(written) = args.keyword("type_")
    {
        column.type_family = types::of_type(py::text(written, text));
    }
    Some(column)
}

pub(crate) fn flag(args: &Arguments, name: &str) -> Option<bool> {
    args.keyword(name).and_then(py::bool_value)
}

pub(crate) fn fk_ref(node: Node, text: &str) -> Option<FkRef> {
    if let Some(value) = py::string_value(node, text) {
        return Some(FkRef::Text(value));
    }
    match column_ref(node, text) {
        ColumnRef::Attr { class, attr } => Some(FkRef::Attr { class, attr }),
        ColumnRef::TableColumn { table, column } => Some(FkRef::TableColumn { table, column }),
        _ => None,
    }
}

/// `"col"`, `Model.col`, `table.c.col`, `table.c["col"]`, or an expression.
pub(crate) fn column_ref(node: Node, text: &str) -> ColumnRef {
    if let Some(key) = py::string_value(node, text) {
        return ColumnRef::Key(key);
    }
    // A bare name in a class body (`Index("ix", file_id)` after
    // `file_id = Column(...)`) is that attribute's column.
    if node.kind() == "identifier" {
        return ColumnRef::Key(py::text(node, text).to_string());
    }
    if let Some(name) = py::dotted_name(node, text) {
        let segments: Vec<&str> = name.split('.').collect();
        match segments.as_slice() {
            [table, "c", column] | [table, "columns", column] => {
                return ColumnRef::TableColumn {
                    table: (*table).into(),
                    column: (*column).into(),
                };
            }
            [.., class, attr] => {
                return ColumnRef::Attr {
                    class: (*class).into(),
                    attr: (*attr).into(),
                };
            }
            _ => {}
        }
    }
    if node.kind() == "subscript"
        && let (Some(value), Some(sub)) = (node.field("value"), node.field("subscript"))
        && let (Some(object), Some(key)) =
            (py::dotted_name(value, text), py::string_value(sub, text))
        && let Some(table) = object.strip_suffix(".c")
    {
        return ColumnRef::TableColumn {
            table: table.into(),
            column: key,
        };
    }
    if call_is(node, text, "text")
        && let Some(sql) = py::arguments(node, text)
            .positional
            .first()
            .and_then(|a| py::string_value(*a, text))
    {
        return ColumnRef::Expression(sql);
    }
    ColumnRef::Expression(py::text(node, text).to_string())
}

fn read_index(call: Node, text: &str) -> Option<IndexDecl> {
    let args = py::arguments(call, text);
    let mut positional = args.positional.iter();
    let name_node = positional.next()?;
    let name = py::string_value(*name_node, text);
    let mut parts = Vec::new();
    for arg in positional {
        parts.push(index_part(*arg, text));
    }
    Some(IndexDecl {
        name,
        parts,
        unique: flag(&args, "unique") == Some(true),
        options: dialect_options(&args, text),
        span: py::span(call),
        computed: has_interpolation(call),
    })
}

/// Whether an f-string with a replacement field occurs below `node`.
fn has_interpolation(node: Node) -> bool {
    if node.kind() == "interpolation" {
        return true;
    }
    let mut cursor = node.walk();
    node.children(&mut cursor).any(has_interpolation)
}

/// An index expression: `Model.col.desc()`, `desc(Model.col)`, `"col"`,
/// `text("col DESC")`, or anything else as an expression.
pub(crate) fn index_part(node: Node, text: &str) -> IndexPartDecl {
    if node.kind() == "call"
        && let Some(function) = node.field("function")
    {
        if function.kind() == "attribute"
            && let Some(attribute) = function.field("attribute")
            && let Some(object) = function.field("object")
        {
            match py::text(attribute, text) {
                "desc" => {
                    let mut part = index_part(object, text);
                    part.desc = true;
                    return part;
                }
                "asc" => return index_part(object, text),
                _ => {}
            }
        }
        if let Some(name) = last_call_name(node, text)
            && (name == "desc" || name == "asc")
            && let Some(inner) = py::arguments(node, text).positional.first()
        {
            let mut part = index_part(*inner, text);
            part.desc = name == "desc";
            return part;
        }
        if call_is(node, text, "text")
            && let Some(sql) = py::arguments(node, text)
                .positional
                .first()
                .and_then(|a| py::string_value(*a, text))
            && let Some(part) = crate::schema::sql::index_part(&sql)
        {
            return match part.key {
                crate::schema::IndexKey::Column(c) => IndexPartDecl {
                    column: ColumnRef::Key(c),
                    desc: part.desc,
                },
                crate::schema::IndexKey::Expression(e) => IndexPartDecl {
                    column: ColumnRef::Expression(e),
                    desc: part.desc,
                },
            };
        }
    }
    IndexPartDecl {
        column: column_ref(node, text),
        desc: false,
    }
}

pub(crate) fn dialect_options(args: &Arguments, text: &str) -> DialectOptions {
    let strings = |name: &str| {
        args.keyword(name)
            .and_then(|v| py::sequence_items(v))
            .map(|items| {
                items
                    .into_iter()
                    .filter_map(|i| match column_ref(i, text) {
                        ColumnRef::Key(k) => Some(k),
                        ColumnRef::Attr { attr, .. } => Some(attr),
                        ColumnRef::TableColumn { column, .. } => Some(column),
                        ColumnRef::Expression(_) => None,
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    DialectOptions {
        postgresql_where: args
            .keyword("postgresql_where")
            .map(|w| predicate(w, text))
            .unwrap_or_default(),
        sqlite_where: args
            .keyword("sqlite_where")
            .map(|w| predicate(w, text))
            .unwrap_or_default(),
        postgresql_include: strings("postgresql_include"),
        postgresql_using: args
            .keyword("postgresql_using")
            .and_then(|v| py::string_value(v, text)),
        mysql_using: args
            .keyword("mysql_using")
            .and_then(|v| py::string_value(v, text)),
        postgresql_ops: args
            .keyword("postgresql_ops")
            .map(|d| {
                py::dict_pairs(d, text)
                    .into_iter()
                    .filter_map(|(k, v)| Some((k, py::string_value(v, text)?)))
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// A partial-index condition: `text("...")`, `and_(a, b)`,
/// `Model.col.is_not(None)`, `Model.col != None`.
fn predicate(node: Node, text: &str) -> Vec<PredicateDecl> {
    if let Some(sql) = py::string_value(node, text) {
        return vec![PredicateDecl::Sql(sql)];
    }
    if node.kind() == "call" {
        let name = last_call_name(node, text).unwrap_or_default();
        let args = py::arguments(node, text);
        match name.as_str() {
            "text" => {
                if let Some(sql) = args
                    .positional
                    .first()
                    .and_then(|a| py::string_value(*a, text))
                {
                    return vec![PredicateDecl::Sql(sql)];
                }
            }
            "and_" => {
                return args
                    .positional
                    .iter()
                    .flat_map(|a| predicate(*a, text))
                    .collect();
            }
            "is_not" | "isnot" if is_none_argument(&args) => {
                if let Some(object) = node.field("function").and_then(|f| f.field("object")) {
                    return vec![PredicateDecl::NotNull(column_ref(object, text))];
                }
            }
            _ => {}
        }
    }
    if node.kind() == "comparison_operator" {
        let operands: Vec<Node> = {
            let mut cursor = node.walk();
            node.named_children(&mut cursor).collect()
        };
        let operator = node.child(1).map(|o| py::text(o, text)).unwrap_or_default();
        if let [left, right] = operands.as_slice()
            && right.kind() == "none"
            && (operator == "!=" || operator == "is not")
        {
            return vec![PredicateDecl::NotNull(column_ref(*left, text))];
        }
    }
    vec![PredicateDecl::Other(py::text(node, text).to_string())]
}

fn is_none_argument(args: &Arguments) -> bool {
    args.positional.len() == 1 && args.positional[0].kind() == "none"
}

pub(crate) fn read_constraint(call: Node, text: &str) -> Option<ConstraintDecl> {
    let callee = last_call_name(call, text)?;
    let args = py::arguments(call, text);
    let refs =
        |nodes: &[Node]| -> Vec<ColumnRef> { nodes.iter().map(|n| column_ref(*n, text)).collect() };
    match callee.as_str() {
        "Index" => read_index(call, text).map(ConstraintDecl::Index),
        "UniqueConstraint" => Some(ConstraintDecl::Unique {
            name: args
                .keyword("name")
                .and_then(|n| py::Scope::default().string(n, text)),
            columns: refs(&args.positional),
            span: py::span(call),
        }),
        "PrimaryKeyConstraint" => Some(ConstraintDecl::PrimaryKey {
            columns: refs(&args.positional),
        }),
        "ForeignKeyConstraint" => {
            let columns = py::sequence_items(*args.positional.first()?)?
                .into_iter()
                .map(|n| column_ref(n, text))
                .collect();
            let targets = py::sequence_items(*args.positional.get(1)?)?
                .into_iter()
                .filter_map(|n| fk_ref(n, text))
                .collect();
            Some(ConstraintDecl::ForeignKey {
                name: args
                    .keyword("name")
                    .and_then(|n| py::Scope::default().string(n, text)),
                columns,
                targets,
                span: py::span(call),
            })
        }
        _ => None,
    }
}

fn read_table_args(value: Node, text: &str) -> TableArgs {
    let mut args = TableArgs {
        form: ArgsForm::Opaque,
        items: Vec::new(),
        value: py::span(value),
        dict: None,
        last_item_end: None,
        item_spans: Vec::new(),
        schema: None,
        unreadable: None,
    };
    let schema_of = |dict: Node| {
        py::dict_pairs(dict, text)
            .into_iter()
            .find(|(k, _)| k == "schema")
            .and_then(|(_, v)| py::string_value(v, text))
    };
    if value.kind() == "dictionary" {
        args.form = ArgsForm::Dict;
        args.dict = Some(py::span(value));
        args.schema = schema_of(value);
        return args;
    }
    let is_tuple = value.kind() == "tuple"
        || (value.kind() == "parenthesized_expression"
            && value.named_child(0).is_some_and(|n| n.kind() == "call"));
    let Some(items) = py::sequence_items(value) else {
        args.unreadable = Some(format!(
            "`__table_args__ = {}`",
            short(py::text(value, text))
        ));
        // `helper(cls, schema="events")`: the schema at least is known.
        if value.kind() == "call" {
            args.schema = py::arguments(value, text)
                .keyword("schema")
                .and_then(|s| py::string_value(s, text));
        }
        return args;
    };
    if is_tuple {
        args.form = ArgsForm::Tuple;
    }
    for item in items {
        args.item_spans.push(py::span(item));
        if item.kind() == "dictionary" {
            args.dict = Some(py::span(item));
            args.schema = schema_of(item);
            if args.form == ArgsForm::Tuple {
                args.form = ArgsForm::TupleThenDict;
            }
            continue;
        }
        args.last_item_end = Some(item.end_byte());
        if let Some(constraint) = read_constraint(item, text) {
            if let ConstraintDecl::Index(index) = &constraint
                && index.computed
                && args.unreadable.is_none()
            {
                args.unreadable = Some(format!(
                    "`{}`, computed by an f-string",
                    short(py::text(item, text))
                ));
            }
            args.items.push(constraint);
        } else if !last_call_name(item, text).is_some_and(|n| NO_INDEX_ITEMS.contains(&n.as_str()))
            && args.unreadable.is_none()
        {
            args.unreadable = Some(format!(
                "`{}` in `__table_args__`",
                short(py::text(item, text))
            ));
        }
    }
    args
}

/// `__table_args__` items that never create an index.
const NO_INDEX_ITEMS: &[&str] = &[
    "CheckConstraint",
    "ExcludeConstraint",
    "Computed",
    "Identity",
];

/// Code shortened for a message.
fn short(code: &str) -> String {
    let code = code.split_whitespace().collect::<Vec<_>>().join(" ");
    if code.chars().count() > 60 {
        format!("{}…", code.chars().take(59).collect::<String>())
    } else {
        code
    }
}

fn read_table(call: Node, text: &str) -> Option<TableDecl> {
    let args = py::arguments(call, text);
    let name = py::string_value(*args.positional.first()?, text)?;
    let mut table = TableDecl {
        var: None,
        name,
        metadata: args
            .positional
            .get(1)
            .and_then(|m| py::dotted_name(*m, text)),
        columns: Vec::new(),
        constraints: Vec::new(),
        call: CallSpans::of(call)?,
        schema: args
            .keyword("schema")
            .and_then(|s| py::string_value(s, text)),
    };
    for arg in args.positional.iter().skip(2) {
        if call_is(*arg, text, "Column") {
            let column_args = py::arguments(*arg, text);
            let Some(name) = column_args
                .positional
                .first()
                .and_then(|n| py::string_value(*n, text))
            else {
                continue;
            };
            if let Some(column) = read_column(&name, *arg, *arg, text) {
                table.columns.push(column);
            }
        } else if let Some(constraint) = read_constraint(*arg, text) {
            table.constraints.push(constraint);
        }
    }
    Some(table)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn extract_text(text: &str) -> ModelsFile {
        let source = SourceFile::new(PathBuf::from("models.py"), text.to_string());
        let tree = py::parse(text);
        extract(source, &tree)
    }

    #[test]
    fn reads_both_column_styles_and_table_args() {
        let file = extract_text(
            r#"from datetime import datetime
from sqlalchemy import Column, ForeignKey, Index, Integer, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

class Base(DeclarativeBase):
    metadata = MetaData(naming_convention={"ix": "ix_%(column_0_label)s"})

class Ticket(Base):
    __tablename__ = "ticket"
    __table_args__ = (
        Index("ix_ticket_queue_opened", "queue_id", text("opened_at DESC")),
        Index("ix_ticket_open", "queue_id", postgresql_where=text("status = 'open'")),
        {"schema": "support"},
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    queue_id: Mapped[int] = mapped_column("queue_ref", ForeignKey("support.queue.id"))
    owner_id = Column(Integer, ForeignKey(User.id), index=True)
    opened_at: Mapped[datetime]
    tags: Mapped[list["Tag"]] = relationship()

Index("ix_ticket_owner_desc", Ticket.owner_id.desc(), postgresql_using="hash")
"#,
        );
        assert_eq!(file.classes.len(), 2);
        let base = &file.classes[0];
        assert!(base.declarative_root);
        assert_eq!(
            base.metadata,
            Some(ConventionRef::Inline(Convention {
                ix: Some("ix_%(column_0_label)s".into()),
                uq: None,
                schema: None,
            }))
        );
        let ticket = &file.classes[1];
        assert_eq!(ticket.tablename.as_deref(), Some("ticket"));
        let columns: Vec<(&str, &str)> = ticket
            .columns
            .iter()
            .map(|c| (c.attr.as_str(), c.name()))
            .collect();
        assert_eq!(
            columns,
            vec![
                ("id", "id"),
                ("queue_id", "queue_ref"),
                ("owner_id", "owner_id"),
                ("opened_at", "opened_at")
            ]
        );
        assert_eq!(
            ticket.columns[1].foreign_keys,
            vec![FkRef::Text("support.queue.id".into())]
        );
        assert_eq!(
            ticket.columns[2].foreign_keys,
            vec![FkRef::Attr {
                class: "User".into(),
                attr: "id".into()
            }]
        );
        assert_eq!(ticket.columns[2].index, Some(true));
        let args = ticket.table_args.as_ref().unwrap();
        assert_eq!(args.form, ArgsForm::TupleThenDict);
        assert_eq!(args.schema.as_deref(), Some("support"));
        assert_eq!(args.items.len(), 2);
        let ConstraintDecl::Index(first) = &args.items[0] else {
            panic!("expected an index");
        };
        assert!(first.parts[1].desc);
        let ConstraintDecl::Index(partial) = &args.items[1] else {
            panic!("expected an index");
        };
        assert_eq!(
            partial.options.postgresql_where,
            vec![PredicateDecl::Sql("status = 'open'".into())]
        );
        assert_eq!(file.indexes.len(), 1);
        assert!(file.indexes[0].parts[0].desc);
        assert_eq!(
            file.indexes[0].options.postgresql_using.as_deref(),
            Some("hash")
        );
    }

    #[test]
    fn reads_column_types_from_arguments_and_annotations() {
        let file = extract_text(
            r#"import uuid
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

class Order(Base):
    __tablename__ = "orders"
    id = sa.Column(sa.BigInteger, primary_key=True)
    code = Column("order_code", String(36), nullable=False)
    customer_id: Mapped[int] = mapped_column(index=False)
    token: Mapped[Optional[uuid.UUID]] = mapped_column(postgresql.UUID(as_uuid=True))
    note: Mapped[str | None]
    user_id = Column(ForeignKey("users.id"))
    placed_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    blob = Column(EncryptedType(sa.Unicode))
    typed = Column("typed", type_=sa.Integer)

lines = sa.Table("lines", metadata, sa.Column("order_id", sa.Integer, sa.ForeignKey("orders.id")))
"#,
        );
        let types: Vec<(&str, Option<TypeFamily>)> = file.classes[0]
            .columns
            .iter()
            .chain(&file.tables[0].columns)
            .map(|c| (c.name(), c.type_family))
            .collect();
        assert_eq!(
            types,
            vec![
                ("id", Some(TypeFamily::Integer)),
                ("order_code", Some(TypeFamily::Text)),
                ("customer_id", Some(TypeFamily::Integer)),
                ("token", Some(TypeFamily::Uuid)),
                ("note", Some(TypeFamily::Text)),
                // Typed by its target when the schema is put together.
                ("user_id", None),
                ("placed_at", Some(TypeFamily::Other)),
                ("blob", None),
                ("typed", Some(TypeFamily::Integer)),
                ("order_id", Some(TypeFamily::Integer)),
            ]
        );
    }

    #[test]
    fn reads_tables_bases_and_conventions() {
        let file = extract_text(
            r#"import sqlalchemy as sa
NAMING = {"ix": "ix_%(table_name)s_%(column_0_N_name)s"}
metadata = sa.MetaData(naming_convention=NAMING)
Base = declarative_base(metadata=metadata)
post_tag = sa.Table(
    "post_tag",
    Base.metadata,
    sa.Column("post_id", sa.ForeignKey("post.id"), primary_key=True),
    sa.Column("tag_id", sa.ForeignKey("tag.id"), primary_key=True),
    sa.Index("ix_post_tag_tag", "tag_id"),
)
"#,
        );
        assert_eq!(file.imports.module_alias.as_deref(), Some("sa"));
        assert_eq!(file.convention_vars.len(), 1);
        assert_eq!(file.metadata_vars.len(), 2);
        assert_eq!(
            file.metadata_vars[0].convention,
            ConventionRef::Name("NAMING".into())
        );
        assert_eq!(
            file.metadata_vars[1].convention,
            ConventionRef::Name("metadata".into())
        );
        let table = &file.tables[0];
        assert_eq!(table.var.as_deref(), Some("post_tag"));
        assert_eq!(table.metadata.as_deref(), Some("Base.metadata"));
        assert_eq!(table.columns.len(), 2);
        assert!(table.columns.iter().all(|c| c.primary_key));
        assert_eq!(table.constraints.len(), 1);
    }
}
