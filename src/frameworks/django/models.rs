//! Reads one Django models module into facts: model classes, their fields,
//! and `Meta` options, with the spans that fixes edit. Nothing is resolved
//! across files here (see `project.rs`).

use std::path::PathBuf;
use std::sync::Arc;

use tree_sitter::Node;

use crate::frameworks::python::Fields as _;
use crate::frameworks::python::{self as py, Arguments};
use crate::schema::TypeFamily;
use crate::source::{SourceFile, Span};

#[derive(Debug, Clone)]
pub struct ModelsFile {
    pub source: Arc<SourceFile>,
    /// The app folder the module belongs to (`shop/` for `shop/models.py` and
    /// for `shop/models/order.py`).
    pub app_dir: PathBuf,
    pub imports: Imports,
    pub classes: Vec<ClassDecl>,
}

/// How the module imports Django's model API, so fixes write in its style.
#[derive(Debug, Default, Clone)]
pub struct Imports {
    /// Local name of `django.db.models` (`from django.db import models`).
    pub models_module: Option<String>,
    /// Names imported directly from `django.db.models`: (imported, local).
    pub direct: Vec<(String, String)>,
    /// `from <module> import <name> [as <local>]`: (local, module, name).
    pub from_imports: Vec<(String, String, String)>,
    /// Where a new import line goes: the end of the last top-level import.
    pub insert_at: usize,
}

impl Imports {
    /// How code in this module names `django.db.models.<name>`, if it can.
    pub fn reference(&self, name: &str) -> Option<String> {
        if let Some((_, local)) = self.direct.iter().find(|(n, _)| n == name) {
            return Some(local.clone());
        }
        self.models_module.as_ref().map(|m| format!("{m}.{name}"))
    }

    /// Whether `callee` names a class of `django.db.models` (`models.CharField`,
    /// `CharField` imported from there): never a project class.
    pub fn is_model_api(&self, callee: &str) -> bool {
        match callee.rsplit_once('.') {
            Some((prefix, _)) => {
                self.models_module.as_deref() == Some(prefix) || prefix == "django.db.models"
            }
            None => self.direct.iter().any(|(_, local)| local == callee),
        }
    }

    /// Whether `name` (a callee or a base class) is Django's
    /// `GenericForeignKey` as this module names it: under its own name
    /// (`GenericForeignKey`, `fields.GenericForeignKey`, the old
    /// `generic.GenericForeignKey`) or imported under another.
    pub fn is_generic_foreign_key(&self, name: &str) -> bool {
        if py::last_segment(name) == "GenericForeignKey" {
            return true;
        }
        !name.contains('.')
            && self.from_imports.iter().any(|(local, module, imported)| {
                local == name
                    && imported == "GenericForeignKey"
                    && module.starts_with("django.contrib.contenttypes")
            })
    }
}

#[derive(Debug, Clone)]
pub struct ClassDecl {
    pub name: String,
    pub span: Span,
    pub bases: Vec<String>,
    pub body: Span,
    pub body_indent: String,
    pub fields: Vec<FieldDecl>,
    /// `GenericForeignKey(...)` assignments, and calls that may be one (a
    /// project subclass of it): never columns. See
    /// [`GenericForeignKeyDecl`].
    pub generic_foreign_keys: Vec<GenericForeignKeyDecl>,
    /// Attributes set to `None`: a child removing an inherited field.
    pub removed: Vec<String>,
    /// Managers whose querysets are Django's own (`models.Manager()`,
    /// `SomeQuerySet.as_manager()`, `Manager.from_queryset(SomeQuerySet)()`),
    /// by attribute: `Model.<name>` reads the table as `objects` does. A
    /// manager class of the project is left out (its `get_queryset` may
    /// filter).
    pub managers: Vec<String>,
    pub meta: Option<MetaDecl>,
}

impl ClassDecl {
    /// The end of the last field declaration, generic foreign keys
    /// included: where a new `class Meta` goes.
    pub fn fields_end(&self) -> Option<usize> {
        self.fields
            .iter()
            .map(|f| f.statement.end)
            .chain(
                self.generic_foreign_keys
                    .iter()
                    .filter(|g| {
                        g.django || py::last_segment(&g.callee).ends_with("GenericForeignKey")
                    })
                    .map(|g| g.statement.end),
            )
            .max()
    }
}

/// `content_object = GenericForeignKey("content_type", "object_id")`: a
/// virtual field over two real ones, with no column of its own. A call of
/// any other class that Django's model API does not name is kept here too,
/// with `django` false: it is a generic foreign key only when project.rs
/// finds that its class derives from `GenericForeignKey`.
#[derive(Debug, Clone)]
pub struct GenericForeignKeyDecl {
    pub attr: String,
    /// The callee as written: `GenericForeignKey`, `fields.GenericForeignKey`,
    /// `RestrictedGenericForeignKey`.
    pub callee: String,
    /// The callee is Django's own class, as this module imports it.
    pub django: bool,
    /// The field holding the content type (`ct_field`, default
    /// `content_type`); `None` when it is not a string literal.
    pub ct_field: Option<String>,
    /// The field holding the object's id (`fk_field`, default `object_id`).
    pub fk_field: Option<String>,
    pub statement: Span,
}

#[derive(Debug, Clone)]
pub struct FieldDecl {
    pub attr: String,
    /// The field class: `ForeignKey`, `CharField`, … (last name segment).
    pub kind: String,
    pub call: Span,
    pub statement: Span,
    /// The relation target for relation fields (positional or `to=`).
    pub target: Option<Target>,
    pub through: Option<Target>,
    pub primary_key: bool,
    pub unique: bool,
    pub db_index: Option<bool>,
    pub db_constraint: bool,
    pub db_column: Option<String>,
    /// `related_name=`: absent, a string, or `Some(None)` when it is not a
    /// plain string (`"%(class)s_items"`, a name).
    pub related_name: Option<Option<String>>,
    pub to_field: Option<String>,
    pub db_table: Option<String>,
    pub parent_link: bool,
    /// `name=value` spans of the keyword arguments, for edits.
    pub keyword_spans: Vec<(String, Span)>,
    /// The argument list `( … )`.
    pub arguments: Span,
    /// `**kwargs` in the call: the field's options are unknowable.
    pub dynamic: bool,
}

impl FieldDecl {
    pub fn is_relation(&self) -> bool {
        matches!(
            self.kind.as_str(),
            "ForeignKey" | "OneToOneField" | "ManyToManyField" | "ParentalKey" | "TreeForeignKey"
        )
    }

    pub fn is_many_to_many(&self) -> bool {
        self.kind == "ManyToManyField" || self.kind == "ParentalManyToManyField"
    }

    pub fn is_one_to_one(&self) -> bool {
        self.kind == "OneToOneField"
    }

    /// The family of the column the field makes, from its class; `None`
    /// for a relation (its column takes the target key's type) and for a
    /// field class ixray does not know (a custom or third-party field).
    pub fn type_family(&self) -> Option<TypeFamily> {
        if self.is_relation() {
            return None;
        }
        Some(match self.kind.as_str() {
            "AutoField"
            | "BigAutoField"
            | "SmallAutoField"
            | "IntegerField"
            | "BigIntegerField"
            | "SmallIntegerField"
            | "PositiveIntegerField"
            | "PositiveBigIntegerField"
            | "PositiveSmallIntegerField" => TypeFamily::Integer,
            "CharField" | "TextField" | "SlugField" | "EmailField" | "URLField" | "CICharField"
            | "CITextField" | "CIEmailField" => TypeFamily::Text,
            "UUIDField" => TypeFamily::Uuid,
            "BooleanField"
            | "NullBooleanField"
            | "DateField"
            | "DateTimeField"
            | "TimeField"
            | "DurationField"
            | "DecimalField"
            | "FloatField"
            | "JSONField"
            | "BinaryField"
            | "FileField"
            | "ImageField"
            | "FilePathField"
            | "GenericIPAddressField"
            | "IPAddressField"
            | "ArrayField"
            | "HStoreField" => TypeFamily::Other,
            _ => return None,
        })
    }

    pub fn keyword_span(&self, name: &str) -> Option<Span> {
        self.keyword_spans
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, s)| *s)
    }
}

/// A relation target as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `"Model"`, `"app.Model"` or `"self"`.
    Label(String),
    /// A class reference: `Customer`, `shop.models.Customer`.
    Class(String),
    /// `settings.AUTH_USER_MODEL`
    AuthUserModel,
    /// Something computed.
    Unknown,
}

#[derive(Debug, Clone)]
pub struct MetaDecl {
    pub span: Span,
    pub body: Span,
    pub body_indent: String,
    pub bases: Vec<String>,
    pub is_abstract: Option<bool>,
    pub proxy: bool,
    pub managed: Option<bool>,
    pub db_table: Option<String>,
    pub app_label: Option<String>,
    pub indexes: Option<IndexList>,
    pub constraints: Option<IndexList>,
    pub unique_together: Option<Vec<Vec<String>>>,
    pub index_together: Option<Vec<Vec<String>>>,
    /// `ordering = ["-created", "id"]`: the fields, or `None` when the value
    /// is not a list of strings ixray can read (`F("x").desc()`, a name).
    pub ordering: Option<Option<Vec<String>>>,
    /// `get_latest_by = "created"` or a list of fields.
    pub get_latest_by: Option<Option<Vec<String>>>,
}

/// A string or a list or tuple of strings; `None` for anything else.
fn read_fields(value: Node, text: &str) -> Option<Vec<String>> {
    if let Some(field) = py::string_value(value, text) {
        return Some(vec![field]);
    }
    py::sequence_items(value)?
        .into_iter()
        .map(|item| py::string_value(item, text))
        .collect()
}

/// `indexes = [...]` or `constraints = [...]`, possibly extending a parent's.
#[derive(Debug, Clone)]
pub struct IndexList {
    pub items: Vec<IndexDecl>,
    /// Lists it extends: `Base.Meta.indexes + [...]`, `[*Base.Meta.indexes, ...]`.
    pub inherited: Vec<String>,
    /// The list literal that new entries can go into, with its item spans.
    pub literal: Option<ListLiteral>,
    pub statement: Span,
    /// Part of the value could not be read (a call, a variable).
    pub partial: bool,
}

#[derive(Debug, Clone)]
pub struct ListLiteral {
    pub span: Span,
    pub items: Vec<Span>,
}

/// A `models.Index(...)`, `UniqueConstraint(...)` or contrib index.
#[derive(Debug, Clone)]
pub struct IndexDecl {
    /// `Index`, `UniqueConstraint`, `GinIndex`, `CheckConstraint`, …
    pub class: String,
    /// Field names with DESC flags (`"-created_at"` → (`created_at`, true)).
    pub fields: Vec<(String, bool)>,
    /// Positional expressions as written (`Lower("email")`).
    pub expressions: Vec<String>,
    pub name: Option<String>,
    pub condition: Option<Condition>,
    pub include: Vec<String>,
    pub opclasses: Vec<String>,
    pub span: Span,
}

/// A `Q(...)` condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// ANDed lookups: `Q(a__isnull=False, state="open") & Q(b=1)`.
    All(Vec<Lookup>),
    /// Anything else (OR, negation, expressions), as written.
    Raw(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookup {
    /// `customer__isnull` → path `customer`, lookup `isnull`.
    pub path: String,
    pub lookup: String,
    /// The value as a Python literal text.
    pub value: String,
    /// Written `~Q(path=value)`: the lookup must not hold.
    pub negated: bool,
}

/// Read a models module. Returns `None` when it declares no classes at all.
pub fn extract(source: Arc<SourceFile>, app_dir: PathBuf, tree: &tree_sitter::Tree) -> ModelsFile {
    let text = source.text.as_str();
    let definitions = py::definitions(tree);
    let imports = read_imports(tree.root_node(), text);
    let classes = definitions
        .classes
        .iter()
        .filter_map(|class| read_class(*class, text, &imports))
        .collect();
    ModelsFile {
        source,
        app_dir,
        imports,
        classes,
    }
}

fn read_imports(root: Node, text: &str) -> Imports {
    let mut imports = Imports::default();
    let mut cursor = root.walk();
    for statement in root.named_children(&mut cursor) {
        match statement.kind() {
            "import_from_statement" => {
                imports.insert_at = statement.end_byte();
                let Some(module) = statement
                    .field("module_name")
                    .map(|m| py::text(m, text).to_string())
                else {
                    continue;
                };
                let mut names = statement.walk();
                for name in statement.children_by_field_name("name", &mut names) {
                    let (imported, local) = match name.kind() {
                        "aliased_import" => (
                            name.field("name").map(|n| py::text(n, text)),
                            name.field("alias").map(|n| py::text(n, text)),
                        ),
                        _ => (Some(py::text(name, text)), Some(py::text(name, text))),
                    };
                    let (Some(imported), Some(local)) = (imported, local) else {
                        continue;
                    };
                    if module == "django.db" && imported == "models" {
                        imports.models_module = Some(local.to_string());
                    } else if module == "django.db.models" {
                        imports
                            .direct
                            .push((imported.to_string(), local.to_string()));
                    }
                    imports.from_imports.push((
                        local.to_string(),
                        module.clone(),
                        imported.to_string(),
                    ));
                }
            }
            "import_statement" | "future_import_statement" => {
                imports.insert_at = statement.end_byte();
            }
            _ => {}
        }
    }
    imports
}

fn class_bases(class: Node, text: &str) -> Vec<String> {
    let Some(superclasses) = class.field("superclasses") else {
        return Vec::new();
    };
    let mut cursor = superclasses.walk();
    superclasses
        .named_children(&mut cursor)
        .filter_map(|b| py::dotted_name(b, text))
        .collect()
}

fn body_indent(body: Node, text: &str) -> String {
    py::indentation_at(text, body.start_byte()).to_string()
}

fn read_class(class: Node, text: &str, imports: &Imports) -> Option<ClassDecl> {
    let name = py::text(class.field("name")?, text).to_string();
    let body = class.field("body")?;
    let mut decl = ClassDecl {
        name,
        span: py::span(class),
        bases: class_bases(class, text),
        body: py::span(body),
        body_indent: body_indent(body, text),
        fields: Vec::new(),
        generic_foreign_keys: Vec::new(),
        removed: Vec::new(),
        managers: Vec::new(),
        meta: None,
    };
    let mut cursor = body.walk();
    for statement in body.named_children(&mut cursor) {
        if statement.kind() == "class_definition"
            && statement
                .field("name")
                .is_some_and(|n| py::text(n, text) == "Meta")
        {
            decl.meta = read_meta(statement, text);
        }
    }
    for (attr, value, statement) in py::class_assignments(body, text) {
        if value.kind() == "none" {
            decl.removed.push(attr);
            continue;
        }
        if is_plain_manager(value, text) {
            decl.managers.push(attr);
            continue;
        }
        let generic = read_generic_foreign_key(&attr, value, statement, text, imports);
        let django_generic = generic.as_ref().is_some_and(|g| g.django);
        decl.generic_foreign_keys.extend(generic);
        // Django's GenericForeignKey has no column; a call that may be a
        // subclass of it can still be a real field (`CounterCacheField`).
        if !django_generic && let Some(field) = read_field(attr, value, statement, text) {
            decl.fields.push(field);
        }
    }
    Some(decl)
}

/// `models.Manager()`, `XQuerySet.as_manager()` or
/// `Manager.from_queryset(XQuerySet)()`: a manager whose base queryset is
/// the whole table.
fn is_plain_manager(value: Node, text: &str) -> bool {
    if value.kind() != "call" {
        return false;
    }
    let Some(function) = value.child_by_field_name("function") else {
        return false;
    };
    let no_arguments = value
        .child_by_field_name("arguments")
        .is_some_and(|a| a.named_child_count() == 0);
    match function.kind() {
        // `models.Manager()`, `Manager()`
        "identifier" | "attribute" if no_arguments => {
            let name = py::text(function, text);
            py::last_segment(name) == "Manager"
                || (function.kind() == "attribute"
                    && function
                        .child_by_field_name("attribute")
                        .is_some_and(|a| py::text(a, text) == "as_manager"))
        }
        // `Manager.from_queryset(XQuerySet)()`
        "call" if no_arguments => function
            .child_by_field_name("function")
            .filter(|f| f.kind() == "attribute")
            .is_some_and(|f| {
                let inner = py::text(f, text);
                inner.ends_with(".from_queryset")
                    && py::last_segment(inner.trim_end_matches(".from_queryset")) == "Manager"
            }),
        _ => false,
    }
}

/// A call assignment that is, or may be, a `GenericForeignKey`: Django's
/// (`ct_field`/`fk_field` positional or by keyword, defaults
/// `content_type`/`object_id`; `for_concrete_model` does not matter here),
/// or any callee outside Django's model API, which project.rs resolves.
fn read_generic_foreign_key(
    attr: &str,
    value: Node,
    statement: Node,
    text: &str,
    imports: &Imports,
) -> Option<GenericForeignKeyDecl> {
    let callee = py::call_name(value, text)?;
    if imports.is_model_api(&callee) {
        return None;
    }
    let args = py::arguments(value, text);
    let field = |position: usize, keyword: &str, default: &str| {
        match args
            .keyword(keyword)
            .or_else(|| args.positional.get(position).copied())
        {
            Some(node) => py::string_value(node, text),
            // `GenericForeignKey(*names)`: unknowable.
            None if args.has_splat => None,
            None => Some(default.to_string()),
        }
    };
    Some(GenericForeignKeyDecl {
        attr: attr.to_string(),
        django: imports.is_generic_foreign_key(&callee),
        ct_field: field(0, "ct_field", "content_type"),
        fk_field: field(1, "fk_field", "object_id"),
        callee,
        statement: py::span(statement),
    })
}

fn read_target(node: Node, text: &str) -> Target {
    if let Some(label) = py::string_value(node, text) {
        return Target::Label(label);
    }
    match py::dotted_name(node, text) {
        Some(name) if name.ends_with("AUTH_USER_MODEL") => Target::AuthUserModel,
        Some(name) => Target::Class(name),
        None => Target::Unknown,
    }
}

fn read_field(attr: String, value: Node, statement: Node, text: &str) -> Option<FieldDecl> {
    let callee = py::call_name(value, text)?;
    let kind = py::last_segment(&callee).to_string();
    if !(kind.ends_with("Field") || kind.ends_with("Key") || kind == "ForeignObject") {
        return None;
    }
    let args: Arguments = py::arguments(value, text);
    let flag = |name: &str| args.keyword(name).and_then(py::bool_value);
    let string = |name: &str| args.keyword(name).and_then(|n| py::string_value(n, text));
    let mut field = FieldDecl {
        attr,
        kind,
        call: py::span(value),
        statement: py::span(statement),
        target: None,
        through: args.keyword("through").map(|n| read_target(n, text)),
        primary_key: flag("primary_key").unwrap_or(false),
        unique: flag("unique").unwrap_or(false),
        db_index: flag("db_index"),
        db_constraint: flag("db_constraint").unwrap_or(true),
        db_column: string("db_column"),
        related_name: args.keyword("related_name").map(|n| {
            py::string_value(n, text).filter(|name| !name.contains('%') && !name.contains('+'))
        }),
        to_field: string("to_field"),
        db_table: string("db_table"),
        parent_link: flag("parent_link").unwrap_or(false),
        keyword_spans: Vec::new(),
        arguments: value.field("arguments").map(py::span).unwrap_or_default(),
        dynamic: args.has_splat,
    };
    if let Some(list) = value.field("arguments") {
        let mut cursor = list.walk();
        for child in list.named_children(&mut cursor) {
            if child.kind() == "keyword_argument"
                && let Some(name) = child.field("name")
            {
                field
                    .keyword_spans
                    .push((py::text(name, text).to_string(), py::span(child)));
            }
        }
    }
    if field.is_relation() {
        let target = args
            .keyword("to")
            .or_else(|| args.positional.first().copied());
        field.target = Some(target.map_or(Target::Unknown, |n| read_target(n, text)));
    }
    Some(field)
}

fn read_meta(class: Node, text: &str) -> Option<MetaDecl> {
    let body = class.field("body")?;
    let mut meta = MetaDecl {
        span: py::span(class),
        body: py::span(body),
        body_indent: body_indent(body, text),
        bases: class_bases(class, text),
        is_abstract: None,
        proxy: false,
        managed: None,
        db_table: None,
        app_label: None,
        indexes: None,
        constraints: None,
        unique_together: None,
        index_together: None,
        ordering: None,
        get_latest_by: None,
    };
    for (name, value, statement) in py::class_assignments(body, text) {
        match name.as_str() {
            "abstract" => meta.is_abstract = py::bool_value(value),
            "proxy" => meta.proxy = py::bool_value(value).unwrap_or(false),
            "managed" => meta.managed = py::bool_value(value),
            "db_table" => meta.db_table = py::string_value(value, text),
            "app_label" => meta.app_label = py::string_value(value, text),
            "indexes" => meta.indexes = Some(read_index_list(value, statement, text)),
            "constraints" => meta.constraints = Some(read_index_list(value, statement, text)),
            "unique_together" => meta.unique_together = read_together(value, text),
            "index_together" => meta.index_together = read_together(value, text),
            "ordering" => meta.ordering = Some(read_fields(value, text)),
            "get_latest_by" => meta.get_latest_by = Some(read_fields(value, text)),
            _ => {}
        }
    }
    // `indexes.extend(Base.Meta.indexes)` / `indexes.append(Index(...))`
    // after the assignment.
    let mut cursor = body.walk();
    for statement in body.named_children(&mut cursor) {
        let Some(call) = statement
            .named_child(0)
            .filter(|_| statement.kind() == "expression_statement")
        else {
            continue;
        };
        let Some(callee) = py::call_name(call, text) else {
            continue;
        };
        let Some((target, method)) = callee.split_once('.') else {
            continue;
        };
        let list = match target {
            "indexes" => meta.indexes.as_mut(),
            "constraints" => meta.constraints.as_mut(),
            _ => None,
        };
        let (Some(list), Some(argument)) =
            (list, py::arguments(call, text).positional.first().copied())
        else {
            continue;
        };
        match method {
            "append" => match read_index(argument, text) {
                Some(index) => list.items.push(index),
                None => list.partial = true,
            },
            "extend" => collect_index_list(argument, text, list),
            _ => list.partial = true,
        }
    }
    Some(meta)
}

/// `[("a", "b")]`, `(("a", "b"),)` or a single `("a", "b")`.
fn read_together(value: Node, text: &str) -> Option<Vec<Vec<String>>> {
    let items = py::sequence_items(value)?;
    if !items.is_empty() && items.iter().all(|i| py::string_value(*i, text).is_some()) {
        return Some(vec![py::string_list(value, text)?]);
    }
    items
        .into_iter()
        .map(|item| py::string_list(item, text))
        .collect()
}

fn read_index_list(value: Node, statement: Node, text: &str) -> IndexList {
    let mut list = IndexList {
        items: Vec::new(),
        inherited: Vec::new(),
        literal: None,
        statement: py::span(statement),
        partial: false,
    };
    collect_index_list(value, text, &mut list);
    list
}

fn collect_index_list(value: Node, text: &str, list: &mut IndexList) {
    match value.kind() {
        "list" | "tuple" => {
            let mut items = Vec::new();
            let mut cursor = value.walk();
            for item in value.named_children(&mut cursor) {
                match item.kind() {
                    "comment" => continue,
                    "list_splat" => {
                        match item.named_child(0).and_then(|n| py::dotted_name(n, text)) {
                            Some(name) => list.inherited.push(name),
                            None => list.partial = true,
                        }
                    }
                    _ => match read_index(item, text) {
                        Some(index) => list.items.push(index),
                        None => list.partial = true,
                    },
                }
                items.push(py::span(item));
            }
            if list.literal.is_none() {
                list.literal = Some(ListLiteral {
                    span: py::span(value),
                    items,
                });
            }
        }
        "binary_operator" => {
            for side in ["left", "right"] {
                if let Some(node) = value.field(side) {
                    collect_index_list(node, text, list);
                }
            }
        }
        "parenthesized_expression" => {
            if let Some(inner) = value.named_child(0) {
                collect_index_list(inner, text, list);
            }
        }
        _ => match py::dotted_name(value, text) {
            Some(name) => list.inherited.push(name),
            None => list.partial = true,
        },
    }
}

pub fn read_index(node: Node, text: &str) -> Option<IndexDecl> {
    let callee = py::call_name(node, text)?;
    let class = py::last_segment(&callee).to_string();
    let args = py::arguments(node, text);
    let fields = args
        .keyword("fields")
        .and_then(|n| py::string_list(n, text))
        .unwrap_or_default()
        .into_iter()
        .map(py::signed_field)
        .collect();
    Some(IndexDecl {
        class,
        fields,
        expressions: args
            .positional
            .iter()
            .map(|n| py::text(*n, text).to_string())
            .collect(),
        name: args.keyword("name").and_then(|n| py::string_value(n, text)),
        condition: args.keyword("condition").map(|n| read_condition(n, text)),
        include: args
            .keyword("include")
            .and_then(|n| py::string_list(n, text))
            .unwrap_or_default(),
        opclasses: args
            .keyword("opclasses")
            .and_then(|n| py::string_list(n, text))
            .unwrap_or_default(),
        span: py::span(node),
    })
}

/// Read `Q(a=1, b__isnull=False) & Q(c=2)` into ANDed lookups.
pub fn read_condition(node: Node, text: &str) -> Condition {
    let mut lookups = Vec::new();
    if collect_lookups(node, text, &mut lookups) {
        Condition::All(lookups)
    } else {
        Condition::Raw(py::text(node, text).to_string())
    }
}

fn collect_lookups(node: Node, text: &str, out: &mut Vec<Lookup>) -> bool {
    match node.kind() {
        "call" if py::call_name(node, text).is_some_and(|n| py::last_segment(&n) == "Q") => {
            let args = py::arguments(node, text);
            if !args.positional.is_empty() || args.has_splat {
                return false;
            }
            for (key, value) in args.keywords {
                let (path, lookup) = match key.rsplit_once("__") {
                    Some((path, lookup)) if is_lookup(lookup) => (path.to_string(), lookup),
                    _ => (key.clone(), "exact"),
                };
                out.push(Lookup {
                    path,
                    lookup: lookup.to_string(),
                    value: py::text(value, text).to_string(),
                    negated: false,
                });
            }
            true
        }
        // `~Q(status="down")`: one negated lookup is still a conjunct;
        // `~Q(a=1, b=2)` (NOT of an AND) is not.
        "unary_operator"
            if node
                .field("operator")
                .is_some_and(|op| py::text(op, text) == "~") =>
        {
            let mut inner = Vec::new();
            let read = node
                .field("argument")
                .is_some_and(|a| collect_lookups(a, text, &mut inner));
            match inner.as_mut_slice() {
                [lookup] if read && !lookup.negated => {
                    lookup.negated = true;
                    out.append(&mut inner);
                    true
                }
                _ => false,
            }
        }
        "binary_operator" => {
            let is_and = node
                .field("operator")
                .is_some_and(|op| py::text(op, text) == "&");
            is_and
                && node
                    .field("left")
                    .is_some_and(|l| collect_lookups(l, text, out))
                && node
                    .field("right")
                    .is_some_and(|r| collect_lookups(r, text, out))
        }
        "parenthesized_expression" => node
            .named_child(0)
            .is_some_and(|inner| collect_lookups(inner, text, out)),
        _ => false,
    }
}

pub(crate) fn is_lookup(name: &str) -> bool {
    matches!(
        name,
        "exact"
            | "iexact"
            | "isnull"
            | "gt"
            | "gte"
            | "lt"
            | "lte"
            | "in"
            | "startswith"
            | "istartswith"
            | "endswith"
            | "iendswith"
            | "contains"
            | "icontains"
            | "range"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn extract_text(text: &str) -> ModelsFile {
        let source = SourceFile::new(PathBuf::from("shop/models.py"), text.to_string());
        let tree = py::parse(text);
        extract(source, PathBuf::from("shop"), &tree)
    }

    #[test]
    fn reads_fields_meta_and_indexes() {
        let file = extract_text(
            r#"from django.db import models
from django.db.models import Q

class Order(Stamped):
    customer = models.ForeignKey("crm.Customer", on_delete=models.CASCADE, db_index=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE)
    code = models.SlugField(unique=True)
    legacy = None

    class Meta(Stamped.Meta):
        db_table = "orders"
        indexes = Stamped.Meta.indexes + [
            models.Index(fields=["customer", "-created_at"], name="ord_cust_ix"),
            models.Index(fields=["customer"], name="ord_open_ix", condition=Q(state="open") & Q(customer__isnull=False)),
        ]
        unique_together = ("customer", "code")
        indexes.extend(Audit.Meta.indexes)
        indexes.append(models.Index(fields=["code"], name="ord_code_ix"))
"#,
        );
        assert_eq!(file.imports.models_module.as_deref(), Some("models"));
        assert_eq!(
            file.imports.reference("Index").as_deref(),
            Some("models.Index")
        );
        let class = &file.classes[0];
        assert_eq!(class.bases, vec!["Stamped"]);
        assert_eq!(class.body_indent, "    ");
        assert_eq!(class.removed, vec!["legacy"]);
        let fields: Vec<_> = class
            .fields
            .iter()
            .map(|f| (f.attr.as_str(), f.kind.as_str()))
            .collect();
        assert_eq!(
            fields,
            vec![
                ("customer", "ForeignKey"),
                ("owner", "ForeignKey"),
                ("code", "SlugField")
            ]
        );
        assert_eq!(
            class.fields[0].target,
            Some(Target::Label("crm.Customer".into()))
        );
        assert_eq!(class.fields[0].db_index, Some(false));
        assert_eq!(class.fields[1].target, Some(Target::AuthUserModel));
        assert!(class.fields[2].unique);
        let meta = class.meta.as_ref().unwrap();
        assert_eq!(meta.bases, vec!["Stamped.Meta"]);
        assert_eq!(meta.db_table.as_deref(), Some("orders"));
        assert_eq!(
            meta.unique_together,
            Some(vec![vec!["customer".to_string(), "code".to_string()]])
        );
        let indexes = meta.indexes.as_ref().unwrap();
        assert_eq!(
            indexes.inherited,
            vec!["Stamped.Meta.indexes", "Audit.Meta.indexes"]
        );
        assert_eq!(indexes.items.len(), 3);
        assert_eq!(
            indexes.items[0].fields,
            vec![("customer".into(), false), ("created_at".into(), true)]
        );
        assert_eq!(
            indexes.items[1].condition,
            Some(Condition::All(vec![
                Lookup {
                    path: "state".into(),
                    lookup: "exact".into(),
                    value: "\"open\"".into(),
                    negated: false,
                },
                Lookup {
                    path: "customer".into(),
                    lookup: "isnull".into(),
                    value: "False".into(),
                    negated: false,
                },
            ]))
        );
        assert_eq!(indexes.literal.as_ref().unwrap().items.len(), 2);
    }

    /// The generic foreign keys and fields of each class, one line each.
    fn members(file: &ModelsFile) -> String {
        let mut out = String::new();
        for class in &file.classes {
            let fields: Vec<&str> = class.fields.iter().map(|f| f.attr.as_str()).collect();
            out.push_str(&format!("{}: fields {fields:?}\n", class.name));
            for g in &class.generic_foreign_keys {
                out.push_str(&format!(
                    "  {} = {} django={} ct={:?} fk={:?}\n",
                    g.attr, g.callee, g.django, g.ct_field, g.fk_field
                ));
            }
        }
        out
    }

    #[test]
    fn reads_generic_foreign_keys_in_every_form() {
        let file = extract_text(
            r#"from django.contrib.contenttypes import fields
from django.contrib.contenttypes.fields import GenericForeignKey, GenericRelation
from django.contrib.contenttypes.fields import GenericForeignKey as GFK
from django.db import models

from utilities.fields import RestrictedGenericForeignKey


class Tagged(models.Model):
    content_type = models.ForeignKey("contenttypes.ContentType", models.CASCADE)
    object_id = models.PositiveBigIntegerField()
    by_default = GenericForeignKey()
    positional = GenericForeignKey("content_type", "object_id", for_concrete_model=False)
    keywords = GenericForeignKey(fk_field="object_id", ct_field="content_type")
    through_module = fields.GenericForeignKey("content_type", "object_id")
    aliased = GFK("content_type", "object_id")
    computed = GenericForeignKey(CT_FIELD, "object_id")
    splat = GenericForeignKey(*NAMES)
    subclass = RestrictedGenericForeignKey(ct_field="content_type")
    items = GenericRelation("Item")
    objects = TaggedManager()
"#,
        );
        insta::assert_snapshot!(members(&file), @r#"
        Tagged: fields ["content_type", "object_id", "subclass"]
          by_default = GenericForeignKey django=true ct=Some("content_type") fk=Some("object_id")
          positional = GenericForeignKey django=true ct=Some("content_type") fk=Some("object_id")
          keywords = GenericForeignKey django=true ct=Some("content_type") fk=Some("object_id")
          through_module = fields.GenericForeignKey django=true ct=Some("content_type") fk=Some("object_id")
          aliased = GFK django=true ct=Some("content_type") fk=Some("object_id")
          computed = GenericForeignKey django=true ct=None fk=Some("object_id")
          splat = GenericForeignKey django=true ct=None fk=None
          subclass = RestrictedGenericForeignKey django=false ct=Some("content_type") fk=Some("object_id")
          items = GenericRelation django=false ct=Some("Item") fk=Some("object_id")
          objects = TaggedManager django=false ct=Some("content_type") fk=Some("object_id")
        "#);
    }

    #[test]
    fn one_negated_lookup_is_a_conjunct() {
        let file = extract_text(
            "class A(models.Model):\n    class Meta:\n        indexes = [\n            models.Index(fields=['a'], name='x', condition=Q(on=True) & ~Q(state='down')),\n            models.Index(fields=['a'], name='y', condition=~Q(a=1, b=2)),\n        ]\n",
        );
        let items = &file.classes[0]
            .meta
            .as_ref()
            .unwrap()
            .indexes
            .as_ref()
            .unwrap()
            .items;
        assert_eq!(
            items[0].condition,
            Some(Condition::All(vec![
                Lookup {
                    path: "on".into(),
                    lookup: "exact".into(),
                    value: "True".into(),
                    negated: false,
                },
                Lookup {
                    path: "state".into(),
                    lookup: "exact".into(),
                    value: "'down'".into(),
                    negated: true,
                },
            ]))
        );
        // NOT of an AND is no conjunction.
        assert!(matches!(items[1].condition, Some(Condition::Raw(_))));
    }

    #[test]
    fn or_conditions_stay_raw() {
        let file = extract_text(
            "class A(models.Model):\n    class Meta:\n        indexes = [models.Index(fields=['a'], name='x', condition=Q(a=1) | Q(b=2))]\n",
        );
        let meta = file.classes[0].meta.as_ref().unwrap();
        assert!(matches!(
            meta.indexes.as_ref().unwrap().items[0].condition,
            Some(Condition::Raw(_))
        ));
    }
}
