//! Reads the ORM queries of one Python file: `Model.objects` chains and
//! `get_object_or_404(Model, ...)`, with the lookups, orderings and limits
//! they ask for, as written (field paths, not columns). Which model a name
//! means and which columns a path reaches is resolved with the whole
//! project (`resolve_queries`); nothing here guesses.

use std::sync::Arc;

use rustc_hash::FxHashMap;
use tree_sitter::Node;

use super::project::{DjangoProject, Model};
use crate::frameworks::markers::{MarkedBytes, Marker};
use crate::frameworks::python::Fields as _;
use crate::frameworks::python::{self as py};
use crate::frameworks::python_statements as statements;
pub use crate::frameworks::python_statements::is_test_path;
use crate::schema::{
    AccessPattern, Column, Condition, ConditionOp, Framework, OrderColumn, RangeBound, Table,
};
use crate::source::{SourceFile, Span};

/// The queries of one file, unresolved.
#[derive(Debug, Clone)]
pub struct QueryFile {
    pub source: Arc<SourceFile>,
    /// `from <module> import <name> [as <local>]`: local → (module, name).
    pub imports: FxHashMap<String, (String, String)>,
    pub queries: Vec<Query>,
}

/// One query call site: a chain on a model's manager, or a shortcut.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    /// The model as the code names it: `Order`, `shop_models.Order`.
    pub model: String,
    /// The manager attribute (`objects`, `_default_manager`, a custom one).
    pub manager: Option<String>,
    /// A related manager (`check.ping_set`, `order.lines`): the accessor
    /// name; `model` is then empty and the accessor decides the table.
    pub related: Option<String>,
    pub steps: Vec<Step>,
    pub span: Span,
    /// Bound to a local name that a later chain continues
    /// (`qs = ...; qs.order_by(...)`): part of that query, not a call
    /// site of its own.
    pub continued: bool,
}

/// One link of a queryset chain that matters for indexes.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// `filter()`/`get()`/`exclude()` … conditions, ANDed.
    Filter(Filter),
    /// `order_by("-time", "id")`: (field path, descending).
    OrderBy(Vec<(String, bool)>),
    /// Reads at most a few rows: `first()`, `get()`, `[:n]`, `exists()`.
    Limit,
    /// Rows in the order Django picks when the chain names none: the
    /// model's `Meta.ordering`, its primary key, or `get_latest_by`.
    DefaultOrder(DefaultOrder),
    /// The statement the chain ends in.
    Operation(Operation),
    /// A method ixray does not know (a custom queryset method): what it
    /// filters on is unknown.
    Unknown(String),
}

pub use crate::schema::QueryOperation as Operation;

/// Which order Django applies when the query names none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultOrder {
    /// `first()`: `Meta.ordering`, else the primary key.
    First,
    /// `last()`: the reverse of what `first()` uses.
    Last,
    /// `[:n]`: `Meta.ordering`, else none.
    Slice,
    /// `latest()`/`earliest()` without fields: `Meta.get_latest_by`.
    Latest,
    Earliest,
}

/// Conditions of one `filter()`-like call.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Filter {
    pub lookups: Vec<Lookup>,
    /// An `|` between `Q` objects: no index prefix serves the whole filter.
    pub disjunction: bool,
    /// Built at run time (`filter(**kwargs)`, a `Q` in a variable): the
    /// conditions are unknown.
    pub dynamic: bool,
}

/// `customer__name__startswith="a"` → path `["customer", "name"]`,
/// lookup `startswith`, value `Constant("'a'")`.
#[derive(Debug, Clone, PartialEq)]
pub struct Lookup {
    pub path: Vec<String>,
    pub lookup: String,
    pub value: Value,
    /// Under `exclude()` or `~Q(...)`.
    pub negated: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A literal, as SQL text: `true`, `'down'`, `NULL`, `3`.
    Constant(String),
    /// Anything computed.
    Parameter,
}

/// Django's lookups (`django.db.models.lookups` and the date transforms).
const LOOKUPS: &[&str] = &[
    "exact",
    "iexact",
    "in",
    "gt",
    "gte",
    "lt",
    "lte",
    "range",
    "isnull",
    "startswith",
    "istartswith",
    "endswith",
    "iendswith",
    "contains",
    "icontains",
    "regex",
    "iregex",
    "date",
    "year",
    "month",
    "day",
    "week",
    "week_day",
    "iso_week_day",
    "quarter",
    "time",
    "hour",
    "minute",
    "second",
    "search",
    "trigram_similar",
    "unaccent",
    "overlap",
    "contained_by",
    "has_key",
    "has_keys",
    "has_any_keys",
    "len",
];

/// Queryset methods that neither filter, order nor limit.
const PASS_THROUGH: &[&str] = &[
    "all",
    "select_related",
    "prefetch_related",
    "only",
    "defer",
    "values",
    "values_list",
    "distinct",
    "using",
    "select_for_update",
    "iterator",
    "none",
    "order_by_nothing",
    "alias",
];

/// Whether a file's queries are read: application code that may hold one.
pub fn wanted(path: &std::path::Path, file: &MarkedBytes) -> bool {
    QUERY_MARKERS.iter().any(|m| file.has(*m)) && !is_test_path(path)
}

/// What a file (and a statement) that may hold a query names: a manager
/// or a shortcut.
const QUERY_MARKERS: [Marker; 4] = [
    Marker::Objects,
    Marker::RelatedSet,
    Marker::DefaultManager,
    Marker::GetObjectOr404,
];

/// Whether a statement may hold a query (see [`QUERY_MARKERS`]).
fn mentions_queries(bytes: &[u8]) -> bool {
    STATEMENT_QUERY_MARKERS
        .iter()
        .any(|m| m.find(bytes).is_some())
}

type Finder = memchr::memmem::Finder<'static>;

/// Searchers are built once: building one costs more than searching a
/// short statement.
static STATEMENT_QUERY_MARKERS: std::sync::LazyLock<[Finder; 4]> =
    std::sync::LazyLock::new(|| QUERY_MARKERS.map(|m| Finder::new(m.bytes())));

static STATEMENT_MARKERS: std::sync::LazyLock<[Finder; 3]> = std::sync::LazyLock::new(|| {
    [
        Finder::new(b".filter("),
        Finder::new(b".exclude("),
        Finder::new(b".order_by("),
    ]
});

/// A statement worth parsing in a file that passed the prefilter: it names
/// a manager or a shortcut, or filters or sorts something (a related
/// manager: `order.lines.filter(...)`).
fn statement_may_query(bytes: &[u8]) -> bool {
    mentions_queries(bytes) || STATEMENT_MARKERS.iter().any(|m| m.find(bytes).is_some())
}

/// Read the queries of a file without parsing all of it: only the
/// statements (logical lines) that name a manager or a shortcut, and later
/// statements of the same function that continue a queryset bound to a
/// local name, are parsed, each on its own. Query code is most of a
/// project's Python; parsing it whole would cost more than everything
/// else ixray does.
pub fn extract(source: Arc<SourceFile>) -> QueryFile {
    let text = source.text.as_str();
    let picked = statements::pick(text, statement_may_query);
    let mut file = QueryFile {
        imports: picked.imports,
        queries: Vec::new(),
        source: source.clone(),
    };
    let mut locals: FxHashMap<String, Bound> = FxHashMap::default();
    statements::visit_statements(text, &picked.lines, |statement, code, offset, new_scope| {
        if new_scope {
            locals.clear();
        }
        let mut reader = Reader {
            text: code,
            offset,
            queries: &mut file.queries,
        };
        reader.statement(statement, &mut locals);
    });
    file.queries.sort_by_key(|q| q.span.start);
    file
}

/// A chain bound to a local variable: `qs = Order.objects.filter(...)`,
/// with its place in the file's list.
#[derive(Debug, Clone)]
struct Bound {
    query: Query,
    index: usize,
}

struct Reader<'a> {
    /// The statement parsed, and where it starts in the file.
    text: &'a str,
    /// Added to a position in `text` to give the position in the file.
    offset: isize,
    queries: &'a mut Vec<Query>,
}

impl Reader<'_> {
    /// Read the statements of a block in order, binding querysets to
    /// local names; nested functions get a scope of their own.
    fn block(&mut self, block: Node, locals: &mut FxHashMap<String, Bound>) {
        let mut cursor = block.walk();
        for statement in block.named_children(&mut cursor) {
            self.statement(statement, locals);
        }
    }

    fn statement(&mut self, node: Node, locals: &mut FxHashMap<String, Bound>) {
        match node.kind() {
            "function_definition" => {
                if let Some(body) = node.field("body") {
                    self.block(body, &mut FxHashMap::default());
                }
                return;
            }
            "class_definition" | "decorated_definition" => {
                let mut cursor = node.walk();
                for child in node.named_children(&mut cursor) {
                    self.statement(child, locals);
                }
                return;
            }
            "block" | "module" => {
                self.block(node, locals);
                return;
            }
            "expression_statement" => {
                if let Some(assignment) = node.named_child(0).filter(|n| n.kind() == "assignment")
                    && let (Some(left), Some(right)) =
                        (assignment.field("left"), assignment.field("right"))
                    && left.kind() == "identifier"
                {
                    let name = py::text(left, self.text).to_string();
                    match self.chain(right, locals) {
                        Some(query) => {
                            self.queries.push(query.clone());
                            let index = self.queries.len() - 1;
                            locals.insert(name, Bound { query, index });
                        }
                        None => {
                            locals.remove(&name);
                            self.expressions(right, locals);
                        }
                    }
                    return;
                }
            }
            _ => {}
        }
        // Statements that hold blocks (if, for, with, try) and plain
        // expressions: every chain in them, in source order.
        let mut cursor = node.walk();
        for child in node.named_children(&mut cursor) {
            match child.kind() {
                "block" => self.block(child, locals),
                "function_definition" | "class_definition" | "decorated_definition" => {
                    self.statement(child, locals)
                }
                _ if child.kind().ends_with("_clause") || child.kind() == "block" => {
                    self.statement(child, locals)
                }
                _ => self.expressions(child, locals),
            }
        }
    }

    /// Every maximal chain inside an expression.
    fn expressions(&mut self, node: Node, locals: &mut FxHashMap<String, Bound>) {
        if matches!(node.kind(), "call" | "attribute" | "subscript")
            && let Some(query) = self.chain(node, locals)
        {
            self.queries.push(query);
            // Arguments may hold queries too (`filter(id__in=Other.objects…)`).
            self.arguments_of_chain(node, locals);
            return;
        }
        if matches!(node.kind(), "lambda" | "function_definition") {
            return;
        }
        let mut cursor = node.walk();
        for child in node.named_children(&mut cursor) {
            self.expressions(child, locals);
        }
    }

    fn arguments_of_chain(&mut self, node: Node, locals: &mut FxHashMap<String, Bound>) {
        let mut current = node;
        loop {
            match current.kind() {
                "call" => {
                    if let Some(args) = current.field("arguments") {
                        let mut cursor = args.walk();
                        for arg in args.named_children(&mut cursor) {
                            self.expressions(arg, locals);
                        }
                    }
                    match current.field("function") {
                        Some(f) => current = f,
                        None => return,
                    }
                }
                "attribute" => match current.field("object") {
                    Some(o) => current = o,
                    None => return,
                },
                "subscript" => match current.field("value") {
                    Some(v) => current = v,
                    None => return,
                },
                _ => return,
            }
        }
    }

    /// The query a chain expression runs, when it is rooted at a model's
    /// manager, at a local queryset, or is `get_object_or_404(Model, …)`.
    fn chain(&mut self, node: Node, locals: &mut FxHashMap<String, Bound>) -> Option<Query> {
        let span = py::span(node);
        let shift = |at: usize| (at as isize + self.offset) as usize;
        let span = Span::new(shift(span.start), shift(span.end));
        // Unroll to the root, outermost link last.
        let mut links = Vec::new();
        let mut current = node;
        loop {
            match current.kind() {
                "call" => {
                    let function = current.field("function")?;
                    if function.kind() == "attribute" {
                        let name = py::text(function.field("attribute")?, self.text);
                        links.push(Link::Call(name.to_string(), current));
                        current = function.field("object")?;
                    } else if function.kind() == "identifier" {
                        let name = py::text(function, self.text);
                        if !matches!(name, "get_object_or_404" | "get_list_or_404") {
                            return None;
                        }
                        let args = py::arguments(current, self.text);
                        let model = py::dotted_name(*args.positional.first()?, self.text)?;
                        let mut query = Query {
                            model,
                            manager: None,
                            related: None,
                            steps: Vec::new(),
                            span,
                            continued: false,
                        };
                        let mut filter = self.filter(current, false, true);
                        if !filter.lookups.is_empty() || filter.dynamic {
                            filter.dynamic |= args.has_splat;
                            query.steps.push(Step::Filter(filter));
                        }
                        if name == "get_object_or_404" {
                            query.steps.push(Step::Limit);
                            query.steps.push(Step::Operation(Operation::Get));
                        }
                        links.reverse();
                        return self.apply(query, &links);
                    } else {
                        return None;
                    }
                }
                "subscript" => {
                    links.push(Link::Subscript(current));
                    current = current.field("value")?;
                }
                "attribute" => {
                    let name = py::text(current.field("attribute")?, self.text);
                    let object = current.field("object")?;
                    // `Order.objects`, or `Order.active.filter(...)`: a
                    // manager the model must declare (checked when the
                    // query resolves).
                    let custom_manager = is_accessor_name(name)
                        && matches!(links.last(), Some(Link::Call(method, _)) if is_queryset_method(method));
                    if object.kind() == "identifier"
                        && (is_manager_name(name) || custom_manager)
                        && starts_upper(py::text(object, self.text))
                    {
                        links.reverse();
                        let query = Query {
                            model: py::text(object, self.text).to_string(),
                            manager: Some(name.to_string()),
                            related: None,
                            steps: Vec::new(),
                            span,
                            continued: false,
                        };
                        return self.apply(query, &links);
                    }
                    if object.kind() == "attribute"
                        && is_manager_name(name)
                        && let Some(dotted) = py::dotted_name(object, self.text)
                        && starts_upper(py::last_segment(&dotted))
                    {
                        links.reverse();
                        let query = Query {
                            model: dotted,
                            manager: Some(name.to_string()),
                            related: None,
                            steps: Vec::new(),
                            span,
                            continued: false,
                        };
                        return self.apply(query, &links);
                    }
                    // `obj.ping_set.filter(...)`: a related manager, when a
                    // queryset method follows and the owner is no class.
                    if is_accessor_name(name)
                        && !(object.kind() == "identifier"
                            && starts_upper(py::text(object, self.text)))
                        && matches!(links.last(), Some(Link::Call(method, _)) if is_queryset_method(method))
                    {
                        links.reverse();
                        let query = Query {
                            model: String::new(),
                            manager: None,
                            related: Some(name.to_string()),
                            steps: Vec::new(),
                            span,
                            continued: false,
                        };
                        return self.apply(query, &links);
                    }
                    links.push(Link::Attribute(name.to_string()));
                    current = object;
                }
                "identifier" => {
                    let name = py::text(current, self.text);
                    let bound = locals.get_mut(name)?;
                    if links.is_empty() {
                        return None;
                    }
                    let mut query = bound.query.clone();
                    query.span = span;
                    self.queries[bound.index].continued = true;
                    links.reverse();
                    return self.apply(query, &links);
                }
                _ => return None,
            }
        }
    }

    fn apply(&self, mut query: Query, links: &[Link]) -> Option<Query> {
        for link in links {
            match link {
                Link::Attribute(name) => {
                    // `Model.objects.filter(...).query` and the like.
                    query.steps.push(Step::Unknown(name.clone()));
                }
                Link::Subscript(node) => {
                    let slice = node.field("subscript");
                    if slice.is_some_and(|s| s.kind() == "slice" || s.kind() == "integer") {
                        query.steps.push(Step::DefaultOrder(DefaultOrder::Slice));
                        query.steps.push(Step::Limit);
                    } else {
                        query.steps.push(Step::Unknown("[]".into()));
                    }
                }
                Link::Call(name, call) => self.method(&mut query, name, *call),
            }
        }
        Some(query)
    }

    fn method(&self, query: &mut Query, name: &str, call: Node) {
        let steps = &mut query.steps;
        match name {
            "filter" => steps.push(Step::Filter(self.filter(call, false, false))),
            "exclude" => steps.push(Step::Filter(self.filter(call, true, false))),
            "get" | "get_or_create" | "update_or_create" => {
                let filter = self.filter(call, false, false);
                if !filter.lookups.is_empty() || filter.dynamic {
                    steps.push(Step::Filter(filter));
                }
                steps.push(Step::Limit);
                steps.push(Step::Operation(Operation::Get));
            }
            "order_by" => {
                let args = py::arguments(call, self.text);
                let mut order = Vec::new();
                for arg in &args.positional {
                    match py::string_value(*arg, self.text) {
                        Some(field) if field == "?" => {}
                        Some(field) => order.push(py::signed_field(field)),
                        None => {
                            steps.push(Step::Unknown("order_by".into()));
                            return;
                        }
                    }
                }
                if args.has_splat {
                    steps.push(Step::Unknown("order_by".into()));
                    return;
                }
                steps.push(Step::OrderBy(order));
            }
            "first" | "last" => {
                steps.push(Step::DefaultOrder(if name == "first" {
                    DefaultOrder::First
                } else {
                    DefaultOrder::Last
                }));
                steps.push(Step::Limit);
                steps.push(Step::Operation(Operation::Get));
            }
            "latest" | "earliest" => {
                let args = py::arguments(call, self.text);
                let fields: Option<Vec<String>> = args
                    .positional
                    .iter()
                    .map(|a| py::string_value(*a, self.text))
                    .collect();
                match fields {
                    Some(fields) if !fields.is_empty() => {
                        let desc = name == "latest";
                        steps.push(Step::OrderBy(
                            fields
                                .into_iter()
                                .map(|f| {
                                    let (field, reversed) = py::signed_field(f);
                                    (field, reversed != desc)
                                })
                                .collect(),
                        ));
                    }
                    // `get_latest_by` decides: resolved with the model.
                    Some(_) => steps.push(Step::DefaultOrder(if name == "latest" {
                        DefaultOrder::Latest
                    } else {
                        DefaultOrder::Earliest
                    })),
                    None => steps.push(Step::Unknown(name.into())),
                }
                steps.push(Step::Limit);
                steps.push(Step::Operation(Operation::Get));
            }
            "exists" => {
                steps.push(Step::Limit);
                steps.push(Step::Operation(Operation::Exists));
            }
            "count" => steps.push(Step::Operation(Operation::Count)),
            "update" => steps.push(Step::Operation(Operation::Update)),
            "delete" => steps.push(Step::Operation(Operation::Delete)),
            // An annotation's name is no column: a filter or order on it
            // does not resolve, and the query is left out then.
            "annotate" | "aggregate" => {}
            "extra" | "raw" | "union" | "intersection" | "difference" => {
                steps.push(Step::Unknown(name.into()))
            }
            _ if PASS_THROUGH.contains(&name) => {}
            _ => steps.push(Step::Unknown(name.into())),
        }
    }

    /// The conditions of a `filter()`-like call: keyword lookups and `Q`
    /// objects. `shortcut` skips the model argument of
    /// `get_object_or_404(Model, ...)`.
    fn filter(&self, call: Node, negated: bool, shortcut: bool) -> Filter {
        let args = py::arguments(call, self.text);
        let mut filter = Filter {
            dynamic: args.has_splat,
            ..Filter::default()
        };
        for (key, value) in &args.keywords {
            if matches!(key.as_str(), "defaults" | "create_defaults") {
                continue;
            }
            filter.lookups.push(self.lookup(key, *value, negated));
        }
        for arg in args.positional.iter().skip(usize::from(shortcut)) {
            self.q_expression(*arg, negated, &mut filter);
        }
        filter
    }

    fn lookup(&self, key: &str, value: Node, negated: bool) -> Lookup {
        let mut path: Vec<String> = key.split("__").map(str::to_string).collect();
        let lookup = match path.last() {
            Some(last) if path.len() > 1 && LOOKUPS.contains(&last.as_str()) => {
                path.pop().unwrap_or_default()
            }
            _ => "exact".to_string(),
        };
        Lookup {
            path,
            lookup,
            value: constant(value, self.text),
            negated,
        }
    }

    /// `Q(a=1) & Q(b=2)`, `~Q(...)`, `Q(a=1) | Q(b=2)`.
    fn q_expression(&self, node: Node, negated: bool, filter: &mut Filter) {
        match node.kind() {
            "parenthesized_expression" => match node.named_child(0) {
                Some(inner) => self.q_expression(inner, negated, filter),
                None => filter.dynamic = true,
            },
            "binary_operator" => {
                let operator = node.field("operator").map(|o| py::text(o, self.text));
                match operator {
                    Some("&") => {}
                    Some("|") => filter.disjunction = true,
                    _ => {
                        filter.dynamic = true;
                        return;
                    }
                }
                for side in ["left", "right"] {
                    match node.field(side) {
                        Some(child) => self.q_expression(child, negated, filter),
                        None => filter.dynamic = true,
                    }
                }
            }
            "unary_operator" if node.child(0).is_some_and(|o| o.kind() == "~") => {
                match node.field("argument") {
                    Some(inner) => self.q_expression(inner, !negated, filter),
                    None => filter.dynamic = true,
                }
            }
            "call"
                if py::call_name(node, self.text).is_some_and(|n| py::last_segment(&n) == "Q") =>
            {
                let inner = self.filter(node, negated, false);
                filter.dynamic |= inner.dynamic;
                filter.disjunction |= inner.disjunction;
                filter.lookups.extend(inner.lookups);
            }
            _ => filter.dynamic = true,
        }
    }
}

enum Link<'t> {
    Call(String, Node<'t>),
    Attribute(String),
    Subscript(Node<'t>),
}

/// A lowercase attribute that can name a reverse relation.
fn is_accessor_name(name: &str) -> bool {
    !is_manager_name(name)
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Methods of a queryset (or a manager) that start or shape a query.
fn is_queryset_method(name: &str) -> bool {
    matches!(
        name,
        "filter"
            | "exclude"
            | "get"
            | "get_or_create"
            | "update_or_create"
            | "order_by"
            | "first"
            | "last"
            | "latest"
            | "earliest"
            | "exists"
            | "count"
            | "update"
            | "delete"
    ) || PASS_THROUGH.contains(&name)
}

/// Whether the model, or a model it inherits from, declares `name` as a
/// manager over the whole table (see `ClassDecl::managers`).
fn declares_manager(project: &DjangoProject, model: usize, name: &str) -> bool {
    let mut stack = vec![model];
    let mut seen = Vec::new();
    while let Some(index) = stack.pop() {
        if seen.contains(&index) {
            continue;
        }
        seen.push(index);
        let model = &project.models[index];
        let class = project.class(model);
        if class.managers.iter().any(|m| m == name) {
            return true;
        }
        // A field or anything else of that name hides an inherited one.
        if class.fields.iter().any(|f| f.attr == name) {
            return false;
        }
        stack.extend(model.parents.iter().copied());
    }
    false
}

fn is_manager_name(name: &str) -> bool {
    name == "objects" || name == "_default_manager" || name == "_base_manager"
}

fn starts_upper(name: &str) -> bool {
    name.chars().next().is_some_and(char::is_uppercase)
}

/// A literal value as SQL text.
fn constant(node: Node, text: &str) -> Value {
    match node.kind() {
        "true" => Value::Constant("true".into()),
        "false" => Value::Constant("false".into()),
        "none" => Value::Constant("NULL".into()),
        "integer" | "float" => Value::Constant(py::text(node, text).to_string()),
        "string" => match py::string_value(node, text) {
            Some(s) => Value::Constant(format!("'{}'", s.replace('\'', "''"))),
            None => Value::Parameter,
        },
        _ => Value::Parameter,
    }
}

/// The access patterns of the project's queries, in SQL names. A query is
/// left out whole when anything it depends on is unknown: a model name
/// that does not resolve to one concrete model, a field path that is not a
/// column or a forward relation, a method ixray does not know, a filter
/// built at run time.
pub fn resolve(
    project: &DjangoProject,
    tables: &[Table],
    files: &[QueryFile],
) -> Vec<AccessPattern> {
    let tables: FxHashMap<&str, &Table> = tables.iter().map(|t| (t.name.as_str(), t)).collect();
    let accessors = related_accessors(project, &tables);
    let mut out = Vec::new();
    for file in files {
        for query in file.queries.iter().filter(|q| !q.continued) {
            if let Some(name) = &query.related {
                // One relation answers to the name in the whole project:
                // its model's rows of one parent.
                let Some(&(model, column)) = accessors.get(name.as_str()).and_then(|a| a.as_ref())
                else {
                    continue;
                };
                let Some(table) = tables.get(project.models[model].table.as_str()) else {
                    continue;
                };
                let location = Some(file.source.location(query.span));
                let mut found = patterns(table, &tables, &project.models[model], query, location);
                if let Some(own) = found.first_mut()
                    && !own
                        .conditions
                        .iter()
                        .any(|c| c.column == column && c.op == ConditionOp::Eq)
                {
                    own.conditions.insert(
                        0,
                        Condition {
                            column: column.to_string(),
                            op: ConditionOp::Eq,
                            constant: None,
                        },
                    );
                }
                out.extend(found);
                continue;
            }
            let Some(model) = model_of(project, file, &query.model) else {
                continue;
            };
            if let Some(manager) = &query.manager
                && !is_manager_name(manager)
                && !declares_manager(project, model, manager)
            {
                continue;
            }
            let Some(table) = tables.get(project.models[model].table.as_str()) else {
                continue;
            };
            let location = Some(file.source.location(query.span));
            out.extend(patterns(
                table,
                &tables,
                &project.models[model],
                query,
                location,
            ));
        }
    }
    out
}

/// Reverse accessors of the project's foreign keys (`related_name`, else
/// `<model>_set`) to the model and column they filter by; `None` for a
/// name more than one relation answers to (ixray cannot tell which).
fn related_accessors<'p>(
    project: &'p DjangoProject,
    tables: &FxHashMap<&str, &'p Table>,
) -> FxHashMap<String, Option<(usize, &'p str)>> {
    let mut out: FxHashMap<String, Option<(usize, &str)>> = FxHashMap::default();
    for (index, model) in project.models.iter().enumerate() {
        if model.is_abstract || model.proxy {
            continue;
        }
        let Some(table) = tables.get(model.table.as_str()) else {
            continue;
        };
        let class = project.class(model);
        for fk in table.foreign_keys.iter().filter(|fk| fk.columns.len() == 1) {
            let declared = class.fields.iter().find(|f| f.attr == fk.field);
            if declared.is_some_and(|f| f.is_one_to_one() || f.is_many_to_many()) {
                continue;
            }
            let accessor = match declared.map(|f| &f.related_name) {
                Some(Some(Some(name))) => name.clone(),
                // `related_name="+"`, a placeholder or a name in a variable.
                Some(Some(None)) => continue,
                // Inherited fields may name theirs in a base: only the
                // default is certain, and only for a field declared here.
                None => continue,
                Some(None) => format!("{}_set", model.name.to_ascii_lowercase()),
            };
            let entry = (index, fk.columns[0].as_str());
            out.entry(accessor)
                .and_modify(|known| {
                    if *known != Some(entry) {
                        *known = None;
                    }
                })
                .or_insert(Some(entry));
        }
    }
    out
}

/// The concrete model a name in query code means: imported from a module
/// of the project, or declared in the same file; unique by name, or unique
/// in the module it is imported from.
fn model_of(project: &DjangoProject, file: &QueryFile, name: &str) -> Option<usize> {
    let (module, class) = match name.split_once('.') {
        // `models.Ping` with `from shop import models`.
        Some((local, rest)) if !rest.contains('.') => {
            let (module, imported) = file.imports.get(local)?;
            let module = if module.chars().all(|c| c == '.') {
                format!("{module}{imported}")
            } else {
                format!("{module}.{imported}")
            };
            (Some(module), rest)
        }
        Some(_) => return None,
        None => match file.imports.get(name) {
            Some((module, imported)) => (Some(module.clone()), imported.as_str()),
            None => (None, name),
        },
    };
    let candidates: Vec<usize> = project
        .by_name
        .get(class)?
        .iter()
        .copied()
        .filter(|&i| !project.models[i].is_abstract)
        .collect();
    let module_file = module
        .as_deref()
        .and_then(|m| py::module_file(m, &file.source.path));
    let in_file = |i: usize| {
        let path = &project.files[project.models[i].file].source.path;
        match (&module, &module_file) {
            (None, _) => *path == file.source.path,
            // `from shop.models import Order` with `shop/models/__init__.py`
            // re-exporting `shop/models/order.py`.
            (Some(_), Some(found)) => {
                path == found
                    || (found.file_name().is_some_and(|n| n == "__init__.py")
                        && path.parent() == found.parent())
            }
            (Some(_), None) => true,
        }
    };
    let matching: Vec<usize> = candidates.into_iter().filter(|&i| in_file(i)).collect();
    (matching.len() == 1).then(|| matching[0])
}

/// The patterns one query gives: its own table's, and one per table a
/// forward relation joins (`customer__name=...`).
fn patterns(
    table: &Table,
    tables: &FxHashMap<&str, &Table>,
    model: &Model,
    query: &Query,
    location: Option<crate::source::Location>,
) -> Vec<AccessPattern> {
    let mut explicit_order = false;
    let mut default_order = None;
    let mut own = AccessPattern {
        table: table.name.clone(),
        framework: Framework::Django,
        conditions: Vec::new(),
        order: Vec::new(),
        order_implicit: false,
        limited: false,
        operation: Operation::Select,
        disjunction: false,
        location: location.clone(),
    };
    let mut joined: Vec<AccessPattern> = Vec::new();
    for step in &query.steps {
        match step {
            Step::Unknown(_) => return Vec::new(),
            Step::Limit => own.limited = true,
            Step::Operation(op) => own.operation = *op,
            Step::DefaultOrder(order) => default_order = Some(*order),
            Step::OrderBy(fields) => {
                explicit_order = true;
                own.order.clear();
                for (field, desc) in fields {
                    let path: Vec<String> = field.split("__").map(str::to_string).collect();
                    // Ordering by a relation orders by the related model's
                    // own ordering: not a column here.
                    match column_of(table, &path) {
                        Some(Reached::Column(column)) if !is_relation_name(table, field) => {
                            own.order.push(OrderColumn {
                                column,
                                desc: *desc,
                            })
                        }
                        _ => return Vec::new(),
                    }
                }
            }
            Step::Filter(filter) => {
                if filter.dynamic {
                    return Vec::new();
                }
                own.disjunction |= filter.disjunction;
                for lookup in &filter.lookups {
                    let Some(reached) = column_of(table, &lookup.path) else {
                        return Vec::new();
                    };
                    match reached {
                        Reached::Column(column) => own.conditions.push(condition(column, lookup)),
                        Reached::Join(target, rest, local) => {
                            let Some(other) = tables.get(target.as_str()) else {
                                return Vec::new();
                            };
                            // The join fixes the relation's column here: a
                            // nested loop looks rows up by it.
                            if !own
                                .conditions
                                .iter()
                                .any(|c| c.column == local && c.op == ConditionOp::Eq)
                            {
                                own.conditions.push(Condition {
                                    column: local,
                                    op: ConditionOp::Eq,
                                    constant: None,
                                });
                            }
                            let Some(Reached::Column(column)) = column_of(other, &rest) else {
                                return Vec::new();
                            };
                            let pattern = match joined.iter_mut().find(|p| p.table == target) {
                                Some(p) => p,
                                None => {
                                    joined.push(AccessPattern {
                                        table: target.clone(),
                                        conditions: Vec::new(),
                                        order: Vec::new(),
                                        order_implicit: false,
                                        limited: false,
                                        operation: Operation::Select,
                                        ..own.clone()
                                    });
                                    joined.last_mut().expect("just pushed")
                                }
                            };
                            pattern.disjunction |= filter.disjunction;
                            pattern.conditions.push(condition(column, lookup));
                        }
                    }
                }
            }
        }
    }
    if !explicit_order
        && own.limited
        && matches!(own.operation, Operation::Select | Operation::Get)
        && let Some(order) = default_order
    {
        match default_ordering(table, model, order) {
            Some(columns) => {
                own.order = columns;
                own.order_implicit = matches!(order, DefaultOrder::First | DefaultOrder::Last);
            }
            // An order ixray cannot read: what the query wants is unknown.
            None => return Vec::new(),
        }
    } else if explicit_order
        && own.order.is_empty()
        && own.limited
        && matches!(
            default_order,
            Some(DefaultOrder::First | DefaultOrder::Last)
        )
    {
        // `order_by()` cleared the order: `first()` orders by the key.
        match column_of(table, &["pk".to_string()]) {
            Some(Reached::Column(column)) => {
                own.order.push(OrderColumn {
                    column,
                    desc: default_order == Some(DefaultOrder::Last),
                });
                own.order_implicit = true;
            }
            _ => return Vec::new(),
        }
    }
    let mut out = vec![own];
    out.extend(joined);
    out
}

/// The order Django gives a query that names none, in columns: `None`
/// when ixray cannot read it (an expression, a relation's ordering).
fn default_ordering(table: &Table, model: &Model, order: DefaultOrder) -> Option<Vec<OrderColumn>> {
    let fields: Vec<(String, bool)> = match order {
        DefaultOrder::First | DefaultOrder::Last | DefaultOrder::Slice => match &model.ordering {
            Some(fields) => fields
                .as_ref()?
                .iter()
                .map(|f| py::signed_field(f.clone()))
                .collect(),
            None if order == DefaultOrder::Slice => Vec::new(),
            None => vec![("pk".to_string(), false)],
        },
        DefaultOrder::Latest | DefaultOrder::Earliest => model
            .get_latest_by
            .clone()??
            .into_iter()
            .map(py::signed_field)
            .collect(),
    };
    // `last()` and `latest()` read the order backwards.
    let reversed = matches!(order, DefaultOrder::Last | DefaultOrder::Latest);
    fields
        .into_iter()
        .map(|(field, desc)| {
            if field == "?" {
                return None;
            }
            let path: Vec<String> = field.split("__").map(str::to_string).collect();
            match column_of(table, &path)? {
                Reached::Column(column) if !is_relation_name(table, &field) => Some(OrderColumn {
                    column,
                    desc: desc != reversed,
                }),
                _ => None,
            }
        })
        .collect()
}

enum Reached {
    Column(String),
    /// A forward relation to another table, the rest of the path there,
    /// and the relation's column here.
    Join(String, Vec<String>, String),
}

fn is_relation_name(table: &Table, field: &str) -> bool {
    table
        .foreign_keys
        .iter()
        .any(|fk| fk.field == field && !fk.relation_only)
}

/// Where a lookup path leads from `table`: a column (`status`, `pk`,
/// `customer`, `customer_id`, `customer__id`), or through a forward
/// relation to another table.
fn column_of(table: &Table, path: &[String]) -> Option<Reached> {
    let (first, rest) = path.split_first()?;
    if first == "pk" {
        let pk: Vec<&Column> = table.columns.iter().filter(|c| c.primary_key).collect();
        return (rest.is_empty() && pk.len() == 1).then(|| Reached::Column(pk[0].name.clone()));
    }
    if let Some(fk) = table
        .foreign_keys
        .iter()
        .find(|fk| fk.field == *first && fk.columns.len() == 1)
    {
        let column = fk.columns[0].clone();
        return match rest {
            [] => Some(Reached::Column(column)),
            [target] if target == "pk" || fk.ref_columns.first() == Some(target) => {
                Some(Reached::Column(column))
            }
            [target] if target == "id" && fk.ref_columns.is_empty() => {
                Some(Reached::Column(column))
            }
            _ => Some(Reached::Join(fk.ref_table.clone()?, rest.to_vec(), column)),
        };
    }
    if !rest.is_empty() {
        // A transform (`created__date`) or a reverse relation: not a plain
        // column comparison.
        return None;
    }
    table
        .columns
        .iter()
        .find(|c| c.field == *first || c.name == *first)
        .map(|c| Reached::Column(c.name.clone()))
}

fn condition(column: String, lookup: &Lookup) -> Condition {
    let constant = match &lookup.value {
        Value::Constant(c) => Some(c.clone()),
        Value::Parameter => None,
    };
    let op = match (lookup.lookup.as_str(), constant.as_deref(), lookup.negated) {
        ("exact", Some("NULL"), false) => ConditionOp::IsNull,
        ("exact", Some("NULL"), true) => ConditionOp::IsNotNull,
        ("isnull", Some("true"), false) | ("isnull", Some("false"), true) => ConditionOp::IsNull,
        ("isnull", Some("false"), false) | ("isnull", Some("true"), true) => ConditionOp::IsNotNull,
        (_, _, true) if lookup.lookup == "exact" => ConditionOp::NotEq,
        (_, _, true) => ConditionOp::Other,
        ("exact", _, _) => ConditionOp::Eq,
        ("in", _, _) => ConditionOp::In,
        ("gt" | "gte" | "lt" | "lte" | "range", _, _) => {
            ConditionOp::Range(RangeBound::of_operator(&lookup.lookup).expect("a range lookup"))
        }
        ("startswith", _, _) => ConditionOp::Prefix,
        _ => ConditionOp::Other,
    };
    let constant = match op {
        ConditionOp::IsNull | ConditionOp::IsNotNull => None,
        _ => constant,
    };
    Condition {
        column,
        op,
        constant,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn queries(code: &str) -> Vec<Query> {
        let source = SourceFile::new(PathBuf::from("views.py"), code.to_string());
        extract(source)
            .queries
            .into_iter()
            .filter(|q| !q.continued)
            .collect()
    }

    fn describe(q: &Query) -> String {
        let mut out = q.model.clone();
        for step in &q.steps {
            match step {
                Step::Filter(f) => {
                    let lookups: Vec<String> = f
                        .lookups
                        .iter()
                        .map(|l| {
                            let value = match &l.value {
                                Value::Constant(c) => c.clone(),
                                Value::Parameter => "?".into(),
                            };
                            format!(
                                "{}{}__{}={value}",
                                if l.negated { "~" } else { "" },
                                l.path.join("."),
                                l.lookup
                            )
                        })
                        .collect();
                    out.push_str(&format!(
                        " filter[{}{}{}]",
                        lookups.join(" "),
                        if f.disjunction { " OR" } else { "" },
                        if f.dynamic { " DYNAMIC" } else { "" }
                    ));
                }
                Step::OrderBy(o) => {
                    let o: Vec<String> = o
                        .iter()
                        .map(|(f, d)| format!("{}{f}", if *d { "-" } else { "" }))
                        .collect();
                    out.push_str(&format!(" order[{}]", o.join(",")));
                }
                Step::Limit => out.push_str(" limit"),
                Step::DefaultOrder(order) => out.push_str(&format!(" default[{order:?}]")),
                Step::Operation(op) => out.push_str(&format!(" {op:?}")),
                Step::Unknown(name) => out.push_str(&format!(" ?{name}")),
            }
        }
        out
    }

    #[test]
    fn reads_chains_shortcuts_and_locals() {
        let code = r#"
from django.shortcuts import get_object_or_404
from shop.models import Check as C, Flip
from . import models


def view(request, code):
    check = get_object_or_404(C, code=code, user=request.user)
    flips = Flip.objects.filter(owner=check, processed__isnull=True).order_by("-created")[:10]
    qs = C.objects.filter(status="down")
    qs = qs.exclude(enabled=False)
    for c in qs.order_by("priority"):
        pass
    n = models.Ping.objects.filter(Q(kind="start") | Q(kind="fail")).count()
    C.objects.filter(**filters).update(status="up")
    latest = Flip.objects.latest("created")
    return Flip.objects.filter(owner_id__in=C.objects.filter(project=p).values("id")).exists()
"#;
        let got: Vec<String> = queries(code).iter().map(describe).collect();
        assert_eq!(
            got,
            [
                "C filter[code__exact=? user__exact=?] limit Get",
                "Flip filter[owner__exact=? processed__isnull=true] order[-created] default[Slice] limit",
                "C filter[status__exact='down'] filter[~enabled__exact=false] order[priority]",
                "models.Ping filter[kind__exact='start' kind__exact='fail' OR] Count",
                "C filter[ DYNAMIC] Update",
                "Flip order[-created] limit Get",
                "Flip filter[owner_id__in=?] limit Exists",
                "C filter[project__exact=?]",
            ]
        );
    }

    #[test]
    fn unknown_methods_and_bindings_are_marked() {
        let code = r#"
def f():
    a = Order.objects.active().filter(total__gte=10)
    b = something.filter(x=1)
    return Order.objects.get(pk=1), Order.objects.filter(customer__name__istartswith="a")
"#;
        let got: Vec<String> = queries(code).iter().map(describe).collect();
        assert_eq!(
            got,
            [
                "Order ?active filter[total__gte=10]",
                "Order filter[pk__exact=1] limit Get",
                "Order filter[customer.name__istartswith='a']",
            ]
        );
    }
}
