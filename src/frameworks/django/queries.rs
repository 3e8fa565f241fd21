//! Reads the ORM queries of one Python file: `Model.objects` chains and
//! `get_object_or_404(Model, ...)`, with the lookups, orderings and limits
//! they ask for, as written (field paths, not columns). Which model a name
//! means and which columns a path reaches is resolved with the whole
//! project (`resolve_queries`); nothing here guesses.

use std::sync::Arc;

use rustc_hash::FxHashMap;

use super::project::{DjangoProject, Model};
use crate::frameworks::markers::{MarkedBytes, Marker};
use crate::frameworks::pyexpr::{Expr, ExprKind, Statement};
use crate::frameworks::python::{self as py};
pub use crate::frameworks::python_statements::is_test_path;
use crate::frameworks::python_statements::{self as statements, Reading};
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

/// Where a file names a manager or a shortcut (see [`QUERY_MARKERS`]), or
/// filters or sorts something (a related manager:
/// `order.lines.filter(...)`): the start of every such marker, in order,
/// found in one pass. A statement is worth reading when one of them lies
/// in it.
fn statement_marker_starts(text: &str) -> Vec<usize> {
    static SEARCHER: std::sync::LazyLock<aho_corasick::packed::Searcher> =
        std::sync::LazyLock::new(|| {
            aho_corasick::packed::Config::new()
                .builder()
                .extend(QUERY_MARKERS.map(|m| m.bytes()))
                .extend([&b".filter("[..], b".exclude(", b".order_by("])
                .build()
                .expect("a few short literal patterns always build")
        });
    crate::frameworks::markers::overlapping(&SEARCHER, text.as_bytes())
        .map(|hit| hit.start())
        .collect()
}

/// Read the queries of a file without parsing all of it: only the
/// statements (logical lines) that name a manager or a shortcut, and later
/// statements of the same function that continue a queryset bound to a
/// local name, are read, each on its own. Query code is most of a
/// project's Python; parsing it whole would cost more than everything
/// else ixray does.
pub fn extract(source: Arc<SourceFile>) -> QueryFile {
    extract_with(source, Reading::Fast)
}

fn extract_with(source: Arc<SourceFile>, reading: Reading) -> QueryFile {
    let text = source.text.as_str();
    let markers = statement_marker_starts(text);
    let picked = statements::pick(
        text,
        |start, end| {
            let first = markers.partition_point(|m| *m < start);
            markers.get(first).is_some_and(|m| *m < end)
        },
        false,
    );
    let mut file = QueryFile {
        imports: picked.imports,
        queries: Vec::new(),
        source: source.clone(),
    };
    let mut locals: FxHashMap<String, Bound> = FxHashMap::default();
    statements::read_statements(text, &picked.lines, reading, |read, new_scope| {
        if new_scope {
            locals.clear();
        }
        let mut reader = Reader {
            text,
            queries: &mut file.queries,
        };
        reader.statements(read, &mut locals);
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
    /// The file's text (spans are the file's).
    text: &'a str,
    queries: &'a mut Vec<Query>,
}

impl Reader<'_> {
    /// Read statements in order, binding querysets to local names; nested
    /// functions get a scope of their own.
    fn statements(&mut self, statements: &[Statement], locals: &mut FxHashMap<String, Bound>) {
        for statement in statements {
            match statement {
                Statement::Function(body) => self.statements(body, &mut FxHashMap::default()),
                Statement::Assign { target, value } => match self.chain(value, locals) {
                    // `order = Order.objects.get(...)` binds a row, a
                    // count or a flag, not a queryset a later line goes
                    // on with.
                    Some(query) if query.steps.iter().any(|s| matches!(s, Step::Operation(_))) => {
                        locals.remove(target);
                        self.queries.push(query);
                        self.arguments_of_chain(value, locals);
                    }
                    Some(query) => {
                        self.queries.push(query.clone());
                        let index = self.queries.len() - 1;
                        locals.insert(target.clone(), Bound { query, index });
                        self.arguments_of_chain(value, locals);
                    }
                    None => {
                        locals.remove(target);
                        self.expressions(value, locals);
                    }
                },
                Statement::Exprs(exprs) => {
                    for expr in exprs {
                        self.expressions(expr, locals);
                    }
                }
            }
        }
    }

    /// Every maximal chain inside an expression.
    fn expressions(&mut self, expr: &Expr, locals: &mut FxHashMap<String, Bound>) {
        let chainable = match &expr.kind {
            ExprKind::Call { .. } | ExprKind::Attribute { .. } | ExprKind::Subscript { .. } => true,
            ExprKind::Name(name) => name.contains('.'),
            _ => false,
        };
        if chainable && let Some(query) = self.chain(expr, locals) {
            self.queries.push(query);
            // Arguments may hold queries too (`filter(id__in=Other.objects…)`).
            self.arguments_of_chain(expr, locals);
            return;
        }
        expr.each_child(|child| self.expressions(child, locals));
    }

    fn arguments_of_chain(&mut self, expr: &Expr, locals: &mut FxHashMap<String, Bound>) {
        let mut current = expr;
        loop {
            match &current.kind {
                ExprKind::Call {
                    func,
                    args,
                    keywords,
                    ..
                } => {
                    for arg in args.iter().chain(keywords.iter().map(|(_, value)| value)) {
                        self.expressions(arg, locals);
                    }
                    current = func;
                }
                ExprKind::Attribute { value, .. } | ExprKind::Subscript { value, .. } => {
                    current = value
                }
                _ => return,
            }
        }
    }

    /// The query a chain expression runs, when it is rooted at a model's
    /// manager, at a local queryset, or is `get_object_or_404(Model, …)`.
    fn chain(&mut self, expr: &Expr, locals: &mut FxHashMap<String, Bound>) -> Option<Query> {
        let span = expr.span;
        let query = |model: String, manager: Option<&str>, related: Option<&str>| Query {
            model,
            manager: manager.map(str::to_string),
            related: related.map(str::to_string),
            steps: Vec::new(),
            span,
            continued: false,
        };
        // Unroll to the root, outermost link last.
        let mut links = Vec::new();
        let mut current = Chained::of(expr);
        loop {
            match current {
                Chained::Call(call, function) => match Chained::of(function) {
                    Chained::Attribute(name, object) => {
                        links.push(Link::Call(name, call));
                        current = object.chained();
                    }
                    Chained::Identifier(name) => {
                        if !matches!(name, "get_object_or_404" | "get_list_or_404") {
                            return None;
                        }
                        let args = call.call_args()?;
                        let model = args.positional.first()?.name()?.to_string();
                        let mut query = query(model, None, None);
                        let mut filter = self.filter(call, false, true);
                        if !filter.lookups.is_empty() || filter.dynamic {
                            filter.dynamic |= args.splat;
                            query.steps.push(Step::Filter(filter));
                        }
                        if name == "get_object_or_404" {
                            query.steps.push(Step::Limit);
                            query.steps.push(Step::Operation(Operation::Get));
                        }
                        links.reverse();
                        return self.apply(query, &links);
                    }
                    _ => return None,
                },
                Chained::Subscript(index, value) => {
                    links.push(Link::Subscript(index));
                    current = Chained::of(value);
                }
                Chained::Attribute(name, object) => {
                    let follows_queryset_method = matches!(
                        links.last(),
                        Some(Link::Call(method, _)) if is_queryset_method(method)
                    );
                    // `Order.objects`, or `Order.active.filter(...)`: a
                    // manager the model must declare (checked when the
                    // query resolves).
                    let custom_manager = is_accessor_name(name) && follows_queryset_method;
                    let is_manager = is_manager_name(name) || custom_manager;
                    let owner = object.chained();
                    match owner {
                        Chained::Identifier(model) if is_manager && starts_upper(model) => {
                            links.reverse();
                            return self.apply(query(model.to_string(), Some(name), None), &links);
                        }
                        Chained::Attribute(..)
                            if is_manager_name(name)
                                && let Some(dotted) = object.dotted()
                                && starts_upper(py::last_segment(dotted)) =>
                        {
                            links.reverse();
                            return self.apply(query(dotted.to_string(), Some(name), None), &links);
                        }
                        _ => {}
                    }
                    // `obj.ping_set.filter(...)`: a related manager, when a
                    // queryset method follows and the owner is no class.
                    let class_owner =
                        matches!(owner, Chained::Identifier(owner) if starts_upper(owner));
                    if is_accessor_name(name) && !class_owner && follows_queryset_method {
                        links.reverse();
                        return self.apply(query(String::new(), None, Some(name)), &links);
                    }
                    links.push(Link::Attribute(name));
                    current = owner;
                }
                Chained::Identifier(name) => {
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
                Chained::Other => return None,
            }
        }
    }

    fn apply(&self, mut query: Query, links: &[Link]) -> Option<Query> {
        for link in links {
            match link {
                Link::Attribute(name) => {
                    // `Model.objects.filter(...).query` and the like.
                    query.steps.push(Step::Unknown(name.to_string()));
                }
                Link::Subscript(index) => {
                    if matches!(index.kind, ExprKind::Slice(_) | ExprKind::Number) {
                        query.steps.push(Step::DefaultOrder(DefaultOrder::Slice));
                        query.steps.push(Step::Limit);
                    } else {
                        query.steps.push(Step::Unknown("[]".into()));
                    }
                }
                Link::Call(name, call) => self.method(&mut query, name, call),
            }
        }
        Some(query)
    }

    fn method(&self, query: &mut Query, name: &str, call: &Expr) {
        let steps = &mut query.steps;
        let Some(args) = call.call_args() else {
            steps.push(Step::Unknown(name.into()));
            return;
        };
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
                let mut order = Vec::new();
                for arg in args.positional {
                    match arg.str() {
                        Some("?") => {}
                        Some(field) => order.push(py::signed_field(field.to_string())),
                        None => {
                            steps.push(Step::Unknown("order_by".into()));
                            return;
                        }
                    }
                }
                if args.splat {
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
                let fields: Option<Vec<&str>> = args.positional.iter().map(Expr::str).collect();
                match fields {
                    Some(fields) if !fields.is_empty() => {
                        let desc = name == "latest";
                        steps.push(Step::OrderBy(
                            fields
                                .into_iter()
                                .map(|f| {
                                    let (field, reversed) = py::signed_field(f.to_string());
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
    fn filter(&self, call: &Expr, negated: bool, shortcut: bool) -> Filter {
        let Some(args) = call.call_args() else {
            return Filter {
                dynamic: true,
                ..Filter::default()
            };
        };
        let mut filter = Filter {
            dynamic: args.splat,
            ..Filter::default()
        };
        for (key, value) in args.keywords {
            if matches!(key.as_str(), "defaults" | "create_defaults") {
                continue;
            }
            filter.lookups.push(self.lookup(key, value, negated));
        }
        for arg in args.positional.iter().skip(usize::from(shortcut)) {
            self.q_expression(arg, negated, &mut filter);
        }
        filter
    }

    fn lookup(&self, key: &str, value: &Expr, negated: bool) -> Lookup {
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
    fn q_expression(&self, expr: &Expr, negated: bool, filter: &mut Filter) {
        match &expr.kind {
            ExprKind::Binary { op, left, right } => {
                match op.as_str() {
                    "&" => {}
                    "|" => filter.disjunction = true,
                    _ => {
                        filter.dynamic = true;
                        return;
                    }
                }
                self.q_expression(left, negated, filter);
                self.q_expression(right, negated, filter);
            }
            ExprKind::Unary { op, operand } if op == "~" => {
                self.q_expression(operand, !negated, filter)
            }
            ExprKind::Call { .. }
                if expr.call_name().is_some_and(|n| py::last_segment(n) == "Q") =>
            {
                let inner = self.filter(expr, negated, false);
                filter.dynamic |= inner.dynamic;
                filter.disjunction |= inner.disjunction;
                filter.lookups.extend(inner.lookups);
            }
            _ => filter.dynamic = true,
        }
    }
}

/// One link of a chain, outermost last once unrolled.
enum Link<'e> {
    Call(&'e str, &'e Expr),
    Attribute(&'e str),
    Subscript(&'e Expr),
}

/// An expression seen as part of a chain. A dotted name
/// (`shop.Order.objects`) is one `Name` in `pyexpr`; here it is
/// attributes on an identifier, as the chain walks it.
#[derive(Clone, Copy)]
enum Chained<'e> {
    /// A call and its callee.
    Call(&'e Expr, &'e Expr),
    /// `object.name`.
    Attribute(&'e str, Object<'e>),
    /// `value[index]`: the index and the value.
    Subscript(&'e Expr, &'e Expr),
    Identifier(&'e str),
    Other,
}

/// What an attribute is taken of: an expression, or the start of a
/// dotted name.
#[derive(Clone, Copy)]
enum Object<'e> {
    Expr(&'e Expr),
    Dotted(&'e str),
}

impl<'e> Chained<'e> {
    fn of(expr: &'e Expr) -> Self {
        match &expr.kind {
            ExprKind::Name(name) => Self::dotted(name),
            ExprKind::Call { func, .. } => Chained::Call(expr, func),
            ExprKind::Attribute { value, name } => Chained::Attribute(name, Object::Expr(value)),
            ExprKind::Subscript { value, index } => Chained::Subscript(index, value),
            _ => Chained::Other,
        }
    }

    fn dotted(name: &'e str) -> Self {
        match name.rsplit_once('.') {
            Some((object, attribute)) => Chained::Attribute(attribute, Object::Dotted(object)),
            None => Chained::Identifier(name),
        }
    }
}

impl<'e> Object<'e> {
    fn chained(self) -> Chained<'e> {
        match self {
            Object::Expr(expr) => Chained::of(expr),
            Object::Dotted(name) => Chained::dotted(name),
        }
    }

    /// The dotted name this is, when it is one.
    fn dotted(self) -> Option<&'e str> {
        match self {
            Object::Expr(expr) => expr.name(),
            Object::Dotted(name) => Some(name),
        }
    }
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
fn constant(expr: &Expr, text: &str) -> Value {
    match &expr.kind {
        ExprKind::True => Value::Constant("true".into()),
        ExprKind::False => Value::Constant("false".into()),
        ExprKind::None => Value::Constant("NULL".into()),
        ExprKind::Number => Value::Constant(expr.text(text).to_string()),
        ExprKind::Str(s) => Value::Constant(format!("'{}'", s.replace('\'', "''"))),
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
    let mut own = AccessPattern::select(table.name.clone(), Framework::Django, location.clone());
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
                                        disjunction: own.disjunction,
                                        ..AccessPattern::select(
                                            target.clone(),
                                            Framework::Django,
                                            own.location.clone(),
                                        )
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

    /// The fast reader and tree-sitter read the same queries, also from
    /// what the fast reader hands on to tree-sitter.
    #[test]
    fn the_fast_reader_reads_what_tree_sitter_reads() {
        let code = r#"
from shop.models import Order, Line

def listing(request, customer):
    qs = (
        Order.objects.filter(customer=customer, status="open")
        .exclude(~Q(paid=True) & Q(total__gte=10))
        .order_by("-created_at")
    )
    first = qs.first()
    first.note = "seen"
    if Order.objects.filter(reference=request.GET["r"]).exists():
        pass
    elif qs[:5].count() > 3 and not qs.filter(flag=None).exists():
        pass
    for line in Line.objects.filter(order__in=qs.values("id"))[1:10:2]:
        total += line.price
    with lock(Order.objects.select_for_update().get(pk=1)) as order, other():
        pass
    names = [o.name for o in Order.objects.filter(kind="a")]
    label = f"{Order.objects.count()} orders"
    latest = Order.objects.latest("created_at") if customer else None
    count = await Order.objects.filter(a=1).acount()
    rows = sorted(o.total for o in Order.objects.filter(b=2))
    if (found := Order.objects.filter(c=3).first()): pass
    Order.objects.filter(pk__in=[*ids]).update(status="done")
    customer.order_set.filter(status="open").order_by("id")[0]
    x = y = Order.objects.filter(d=4)
    get_object_or_404(Order, reference=customer.ref, status=-1)
    return qs.filter(total__range=(1, 2)).values_list("id", flat=True)

class View(Base):
    queryset = Order.objects.filter(e=5).order_by("?")
    def get(self): return Order.objects.get(f=6)
"#;
        let source = SourceFile::new(PathBuf::from("views.py"), code.to_string());
        let fast = extract_with(source.clone(), Reading::Fast).queries;
        let slow = extract_with(source, Reading::TreeSitter).queries;
        assert_eq!(fast, slow);
        let read: Vec<&str> = fast
            .iter()
            .map(|q| &code[q.span.start..q.span.end])
            .collect();
        assert_eq!(read.len(), 21, "{read:#?}");
        // `first = qs.first()` binds a row: `first.note` is no query.
        assert!(read.contains(&"qs.first()"));
        assert!(!read.iter().any(|q| q.starts_with("first")));
        // Plain lines are the fast reader's; what it would lose is not.
        let line = |text: &str| {
            let start = code.find(text).unwrap();
            crate::frameworks::pyexpr::read_statement(code, start, start + text.len())
        };
        assert!(line("first = qs.first()").is_some());
        assert!(line(r#"label = f"{Order.objects.count()} orders""#).is_none());
        assert!(line("if (found := Order.objects.filter(c=3).first()): pass").is_none());
        assert!(line("def get(self): return Order.objects.get(f=6)").is_none());
    }

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
