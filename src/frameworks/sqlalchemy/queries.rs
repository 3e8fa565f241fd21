//! Reads the SQLAlchemy queries of one Python file — `select(M)`,
//! `session.query(M)`, `M.query` (Flask-SQLAlchemy), `session.get(M, id)`,
//! `update(M)`, `delete(M)` chains — with their conditions, orderings and
//! limits as written (model and attribute names). `resolve` turns them
//! into access patterns in SQL names; a query whose model, attribute or
//! method is unknown is left out whole.

use std::sync::Arc;

use rustc_hash::FxHashMap;
use tree_sitter::Node;

use super::models::RelationshipDecl;
use super::project::{MappedTable, SqlalchemyProject, TableSource};
use crate::frameworks::markers::{MarkedBytes, Marker};
use crate::frameworks::python::Fields as _;
use crate::frameworks::python::{self as py};
use crate::frameworks::python_statements as statements;
use crate::schema::{
    AccessPattern, Condition, ConditionOp, Framework, OrderColumn, QueryOperation as Operation,
    RangeBound, Table,
};
use crate::source::{SourceFile, Span};

/// The queries of one file, unresolved.
#[derive(Debug, Clone)]
pub struct QueryFile {
    pub source: Arc<SourceFile>,
    /// `from <module> import <name> [as <local>]`: local → (module, name).
    pub imports: FxHashMap<String, (String, String)>,
    pub queries: Vec<Query>,
    /// Relationship loader options (`selectinload(M.rel)`), wherever the
    /// file builds them: each runs a query of its own on the related table.
    pub loaders: Vec<Loader>,
}

/// `selectinload(Parent.children)`: one link of a loader path.
#[derive(Debug, Clone, PartialEq)]
pub struct Loader {
    pub target: LoaderTarget,
    /// The link before this one in the path (`joinedload(A.bs)` before
    /// `.selectinload(B.cs)`): a key names a relationship of its target.
    pub after: Option<usize>,
    /// The entity of the query the option is given to, where a key at
    /// the start of a path is looked up.
    pub entity: Option<String>,
    /// `None`: a link that only leads the path (`defaultload`, the first
    /// attributes of `joinedload(A.bs, B.cs)`).
    pub strategy: Option<LoadStrategy>,
    /// `Parent.children.and_(Child.x == 1)`: conditions on the related rows.
    pub criteria: Vec<Cond>,
    /// The loader call (`selectinload(...)`, or the link of a chain).
    pub span: Span,
}

/// The relationship a loader link names.
#[derive(Debug, Clone, PartialEq)]
pub enum LoaderTarget {
    /// `Parent.children`.
    Attr { model: String, attr: String },
    /// `"children"` (SQLAlchemy 1.x): of the previous link's target, or
    /// of the query's entity.
    Key(String),
}

/// How a loader reads the related rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadStrategy {
    /// `selectinload`: `WHERE child.fk IN (parent keys)`.
    SelectIn,
    /// `joinedload`, `subqueryload`, `immediateload`: the related rows
    /// are found by `child.fk = parent key` (a join, or one per parent).
    Probe,
}

impl LoadStrategy {
    fn of(name: &str) -> Option<Option<LoadStrategy>> {
        match name {
            "selectinload" => Some(Some(LoadStrategy::SelectIn)),
            "joinedload" | "subqueryload" | "immediateload" => Some(Some(LoadStrategy::Probe)),
            // Loaders that read nothing now: they only lead a path.
            "defaultload" | "lazyload" | "noload" | "raiseload" | "contains_eager"
            | "load_only" | "defer" | "undefer" | "undefer_group" | "with_expression" => Some(None),
            _ => None,
        }
    }

    /// The `relationship(lazy=...)` that loads with every parent.
    fn of_lazy(lazy: &str) -> Option<LoadStrategy> {
        match lazy {
            "selectin" => Some(LoadStrategy::SelectIn),
            "joined" | "subquery" | "immediate" => Some(LoadStrategy::Probe),
            _ => None,
        }
    }

    fn op(self) -> ConditionOp {
        match self {
            LoadStrategy::SelectIn => ConditionOp::In,
            LoadStrategy::Probe => ConditionOp::Eq,
        }
    }
}

/// One query call site.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    /// The entity as the code names it (`User`, `models.User`); `None`
    /// when it selects only computed values (`select(func.count())`).
    pub model: Option<String>,
    pub steps: Vec<Step>,
    pub span: Span,
    /// Bound to a local name that a later statement continues: part of
    /// that query, not a call site of its own.
    pub continued: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// `where()`/`filter()`: conditions, ANDed unless `disjunction`.
    Where {
        conditions: Vec<Cond>,
        disjunction: bool,
    },
    /// `filter_by(attr=value)` on the query's entity.
    FilterBy(Vec<(String, Option<String>)>),
    /// `session.get(M, id)`, `query.get(id)`: the primary key.
    PrimaryKey,
    OrderBy(Vec<Ordered>),
    /// `join()`: `filter_by()` after it names the joined entity.
    Join,
    /// Reads at most a few rows: `limit()`, `first()`, `one()`, `exists()`.
    Limit,
    Operation(Operation),
    /// A method ixray does not know, or a condition it cannot read.
    Unknown(String),
}

impl Query {
    /// Apply `rename` to every model name the query writes.
    fn rename(&mut self, rename: &impl Fn(&mut String)) {
        self.model.iter_mut().for_each(rename);
        for step in &mut self.steps {
            match step {
                Step::Where { conditions, .. } => {
                    conditions.iter_mut().for_each(|c| rename(&mut c.model));
                }
                Step::OrderBy(order) => order.iter_mut().for_each(|o| rename(&mut o.model)),
                _ => {}
            }
        }
    }
}

impl Loader {
    /// Apply `rename` to every model name the loader writes.
    fn rename(&mut self, rename: &impl Fn(&mut String)) {
        if let LoaderTarget::Attr { model, .. } = &mut self.target {
            rename(model);
        }
        self.entity.iter_mut().for_each(rename);
        self.criteria.iter_mut().for_each(|c| rename(&mut c.model));
    }
}

/// `M.attr <op> value`.
#[derive(Debug, Clone, PartialEq)]
pub struct Cond {
    pub model: String,
    pub attr: String,
    pub op: ConditionOp,
    /// A literal, as SQL text: `true`, `'down'`, `3`.
    pub constant: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Ordered {
    pub model: String,
    pub attr: String,
    pub desc: bool,
}

/// Methods that neither filter, order nor limit.
const PASS_THROUGH: &[&str] = &[
    "all",
    "scalars",
    "unique",
    "options",
    "distinct",
    "group_by",
    "having",
    "offset",
    "with_for_update",
    "execution_options",
    "correlate",
    "subquery",
    "scalar_subquery",
    "params",
    "yield_per",
    "enable_eagerloads",
    "values",
    "returning",
    "fetchall",
    "mappings",
    "tuples",
    "iterator",
    "partitions",
    "cte",
    "label",
];

/// The cheap byte prefilter: files that may hold a SQLAlchemy query.
/// `update(`/`delete(`/`select(` count only next to an import of
/// SQLAlchemy (Django code calls `.update(` and `.delete(` too).
pub fn mentions_queries(file: &MarkedBytes) -> bool {
    let has = |marker| file.has(marker);
    let bytes = file.bytes;
    // `.query(`, `M.query.filter`, and `(M.query` continued on the next line.
    has(Marker::Query)
        && memchr::memmem::find_iter(bytes, b".query").any(|at| {
            matches!(
                bytes.get(at + 6),
                Some(b'(' | b'.' | b'\n' | b'\r' | b' ' | b'\\')
            )
        })
        || has(Marker::SessionGet)
        || has(Marker::DbGet)
        || has(Marker::DbSelect)
        || (has(Marker::Sqlalchemy)
            && (has(Marker::SelectCall) && calls(bytes, b"select(")
                || has(Marker::UpdateCall) && calls(bytes, b"update(")
                || has(Marker::DeleteCall) && calls(bytes, b"delete(")))
}

/// Whether `bytes` calls the function `name` (`update(`, `sa.update(`),
/// not a method of that name (`.update(` of a dict or a query, which the
/// chain's own start marks).
fn calls(bytes: &[u8], name: &[u8]) -> bool {
    memchr::memmem::find_iter(bytes, name).any(|at| {
        let before = &bytes[..at];
        match before.last() {
            None => true,
            Some(b) if b.is_ascii_alphanumeric() || *b == b'_' => false,
            Some(b'.') => [&b"sa."[..], b"db.", b"sqlalchemy.", b"sql."]
                .iter()
                .any(|module| {
                    before.ends_with(module)
                        && before[..before.len() - module.len()]
                            .last()
                            .is_none_or(|b| !b.is_ascii_alphanumeric() && *b != b'_' && *b != b'.')
                }),
            Some(_) => true,
        }
    })
}

/// The statements worth parsing: those that may start or run a query.
fn line_mentions_query(bytes: &[u8]) -> bool {
    use memchr::memmem::find;
    let has = |needle: &[u8]| find(bytes, needle).is_some();
    has(b".query")
        || calls(bytes, b"select(")
        || calls(bytes, b"update(")
        || calls(bytes, b"delete(")
        || has(b".execute(")
        || [
            &b"selectinload("[..],
            b"joinedload(",
            b"subqueryload(",
            b"immediateload(",
            b"defaultload(",
        ]
        .iter()
        .any(|loader| has(loader))
        || has(b".scalar")
        || ((has(b".get(") || has(b".get_one(")) && (has(b"session") || has(b"db.")))
}

/// Read the queries of a file, parsing only the statements that may hold
/// one (see `python_statements`).
pub fn extract(source: Arc<SourceFile>) -> QueryFile {
    let text = source.text.as_str();
    let picked = statements::pick(
        text,
        |start, end| line_mentions_query(&text.as_bytes()[start..end]),
        true,
    );
    let mut file = QueryFile {
        imports: picked.imports,
        queries: Vec::new(),
        loaders: Vec::new(),
        source: source.clone(),
    };
    let mut locals: FxHashMap<String, usize> = FxHashMap::default();
    statements::visit_statements(
        text,
        &picked.lines,
        |statement, code, offset, new_scope, scope| {
            if new_scope {
                locals.clear();
            }
            let (queries, loaders) = (file.queries.len(), file.loaders.len());
            let mut reader = Reader {
                text: code,
                offset,
                queries: &mut file.queries,
                loaders: &mut file.loaders,
                entity: None,
                locals: &mut locals,
            };
            reader.walk(statement);
            // A repository's `select(self.model)`: the class says which model.
            if let Some(names) = picked.class_names.get(&scope) {
                let rename = |model: &mut String| {
                    let attribute = model
                        .strip_prefix("self.")
                        .or_else(|| model.strip_prefix("cls."));
                    if let Some((_, name)) =
                        attribute.and_then(|a| names.iter().find(|(n, _)| n == a))
                    {
                        model.clone_from(name);
                    }
                };
                file.queries[queries..]
                    .iter_mut()
                    .for_each(|q| q.rename(&rename));
                file.loaders[loaders..]
                    .iter_mut()
                    .for_each(|l| l.rename(&rename));
            }
        },
    );
    file.queries.sort_by_key(|q| q.span.start);
    file
}

struct Reader<'a> {
    text: &'a str,
    offset: isize,
    queries: &'a mut Vec<Query>,
    loaders: &'a mut Vec<Loader>,
    /// The entity of the query whose arguments are being read.
    entity: Option<String>,
    /// Local name → the query bound to it.
    locals: &'a mut FxHashMap<String, usize>,
}

impl<'a> Reader<'a> {
    fn span(&self, node: Node) -> Span {
        Span::new(
            (node.start_byte() as isize + self.offset) as usize,
            (node.end_byte() as isize + self.offset) as usize,
        )
    }

    fn walk(&mut self, node: Node) {
        if node.kind() == "call" && self.loader_chain(node, None).is_some() {
            return;
        }
        if node.kind() == "assignment"
            && let (Some(left), Some(right)) = (node.field("left"), node.field("right"))
            && left.kind() == "identifier"
        {
            let name = py::text(left, self.text).to_string();
            let mut args = Vec::new();
            let mut entity = None;
            match self.chain(right, &mut args) {
                Some(query) => {
                    entity = query.model.clone();
                    self.queries.push(query);
                    self.locals.insert(name, self.queries.len() - 1);
                }
                None => {
                    self.locals.remove(&name);
                    self.walk(right);
                }
            }
            self.walk_arguments(args, entity);
            return;
        }
        let mut args = Vec::new();
        if let Some(query) = self.chain(node, &mut args) {
            let entity = query.model.clone();
            self.queries.push(query);
            self.walk_arguments(args, entity);
            return;
        }
        let mut cursor = node.walk();
        for child in node.named_children(&mut cursor) {
            self.walk(child);
        }
    }

    /// The argument lists of a query's chain, read with its entity (where
    /// a loader's string path starts).
    fn walk_arguments(&mut self, args: Vec<Node>, entity: Option<String>) {
        let outer = std::mem::replace(&mut self.entity, entity);
        for arg in args {
            self.walk(arg);
        }
        self.entity = outer;
    }

    /// The query `node` builds, if it is a chain ixray knows the start of;
    /// the argument lists along it go to `args` (they may hold subqueries).
    fn chain<'t>(&mut self, node: Node<'t>, args: &mut Vec<Node<'t>>) -> Option<Query> {
        let text = self.text;
        let span = self.span(node);
        let new = |model: Option<String>, steps: Vec<Step>| Query {
            model,
            steps,
            span,
            continued: false,
        };
        match node.kind() {
            "identifier" => {
                let index = *self.locals.get(py::text(node, text))?;
                self.queries[index].continued = true;
                let mut query = self.queries[index].clone();
                query.continued = false;
                query.span = span;
                Some(query)
            }
            // Flask-SQLAlchemy's `Model.query`.
            "attribute" => {
                let object = node.field("object")?;
                let attribute = node.field("attribute")?;
                (py::text(attribute, text) == "query" && is_name(object, text))
                    .then(|| new(Some(py::text(object, text).to_string()), Vec::new()))
            }
            "call" => {
                let function = node.field("function")?;
                let arguments = node.field("arguments")?;
                let positional = positional(arguments);
                match function.kind() {
                    "identifier" => {
                        args.push(arguments);
                        self.start(py::text(function, text), &positional)
                            .map(|(m, s)| new(m, s))
                    }
                    "attribute" => {
                        let object = function.field("object")?;
                        let method = py::text(function.field("attribute")?, text);
                        // `sa.select(M)`, `db.select(M)`.
                        if matches!(py::text(object, text), "sa" | "sqlalchemy" | "db" | "sql")
                            && let Some((model, steps)) = self.start(method, &positional)
                        {
                            args.push(arguments);
                            return Some(new(model, steps));
                        }
                        let receiver = py::last_segment(py::text(object, text));
                        let session = receiver.contains("session") || receiver == "db";
                        match method {
                            // `session.query(M)`, `request.db.query(M)`.
                            "query" => {
                                args.push(arguments);
                                return Some(new(entity(&positional, text), Vec::new()));
                            }
                            "get" | "get_one" if session && positional.len() == 2 => {
                                args.push(arguments);
                                let model = is_name(positional[0], text)
                                    .then(|| py::text(positional[0], text).to_string());
                                return Some(new(
                                    model,
                                    vec![
                                        Step::PrimaryKey,
                                        Step::Limit,
                                        Step::Operation(Operation::Get),
                                    ],
                                ));
                            }
                            // `session.execute(select(M)...)`.
                            "execute" | "scalars" | "scalar" | "scalar_one"
                            | "scalar_one_or_none"
                                if positional.len() == 1 && !self.is_chain(object) =>
                            {
                                let mut query = self.chain(positional[0], args)?;
                                query.span = span;
                                if method.starts_with("scalar_one") {
                                    query.steps.push(Step::Limit);
                                    query.steps.push(Step::Operation(Operation::Get));
                                } else if method == "scalar" {
                                    query.steps.push(Step::Limit);
                                }
                                return Some(query);
                            }
                            _ => {}
                        }
                        let mut query = self.chain(object, args)?;
                        query.span = span;
                        args.push(arguments);
                        let step = self.method(method, arguments, &positional, &mut query);
                        query.steps.extend(step);
                        Some(query)
                    }
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// Read a loader option and the loaders chained to it
    /// (`joinedload(A.bs).selectinload(B.cs)`, `.options(...)` on a
    /// loader, 1.x string paths `joinedload("bs").joinedload("cs")`);
    /// `None` when `node` is no loader, else the last link of the path
    /// it leads to (`Some(None)` when that cannot be followed). `after`:
    /// the link a sub-option's path starts from.
    fn loader_chain(&mut self, node: Node, after: Option<usize>) -> Option<Option<usize>> {
        let function = node.child_by_field_name("function")?;
        let arguments = node.child_by_field_name("arguments")?;
        let text = self.text;
        let (name, start, after) = match function.kind() {
            "identifier" => (py::text(function, text), function, after),
            "attribute" => {
                let attribute = function.child_by_field_name("attribute")?;
                let object = function.child_by_field_name("object")?;
                let name = py::text(attribute, text);
                // A link of a chain: the loader before it comes first.
                let chained = if object.kind() == "call" {
                    self.loader_chain(object, after)
                } else {
                    None
                };
                match chained {
                    Some(end) if name == "options" => {
                        let mut cursor = arguments.walk();
                        for arg in arguments.named_children(&mut cursor) {
                            if arg.kind() == "call" {
                                self.loader_chain(arg, end);
                            }
                        }
                        return Some(end);
                    }
                    Some(end) => (name, attribute, end),
                    None if matches!(
                        py::text(object, text),
                        "orm" | "sa.orm" | "sqlalchemy.orm" | "db"
                    ) =>
                    {
                        (name, function, after)
                    }
                    None => return None,
                }
            }
            _ => return None,
        };
        let strategy = LoadStrategy::of(name)?;
        // Options that shape columns, not relationships: the path goes on.
        if matches!(
            name,
            "load_only" | "defer" | "undefer" | "undefer_group" | "with_expression"
        ) {
            return Some(after);
        }
        let span = Span::new(self.span(start).start, self.span(node).end);
        // `joinedload(A.bs, B.cs)`, `joinedload("bs", "cs")` (SQLAlchemy
        // 1.x): the path's last attribute is loaded so, the ones before by
        // default.
        let positional = positional(arguments);
        let mut end = after;
        for (i, arg) in positional.iter().enumerate() {
            let last = i + 1 == positional.len();
            let Some((target, criteria)) = self.loader_target(*arg) else {
                return Some(None);
            };
            self.loaders.push(Loader {
                target,
                after: end,
                entity: self.entity.clone(),
                strategy: if last { strategy } else { None },
                criteria,
                span,
            });
            end = Some(self.loaders.len() - 1);
        }
        Some(end)
    }

    /// The relationship a loader names: `A.bs`, `"bs"`, or `A.bs.and_(...)`
    /// with criteria on the loaded rows.
    fn loader_target(&self, node: Node) -> Option<(LoaderTarget, Vec<Cond>)> {
        let text = self.text;
        if let Some(key) = py::string_value(node, text) {
            return (!key.contains('.') && !key.is_empty() && key != "*")
                .then_some((LoaderTarget::Key(key), Vec::new()));
        }
        if node.kind() == "call" {
            let callee = node.child_by_field_name("function")?;
            let object = callee.child_by_field_name("object")?;
            if py::text(callee.child_by_field_name("attribute")?, text) != "and_" {
                return None;
            }
            let mut criteria = Vec::new();
            let mut disjunction = false;
            for arg in positional(node.child_by_field_name("arguments")?) {
                conditions_of(arg, text, false, &mut criteria, &mut disjunction)?;
            }
            if disjunction {
                return None;
            }
            let (model, attr) = column(object, text)?;
            return Some((LoaderTarget::Attr { model, attr }, criteria));
        }
        let (model, attr) = column(node, text)?;
        Some((LoaderTarget::Attr { model, attr }, Vec::new()))
    }

    /// Whether `node` itself starts a chain (so `x.execute(...)` is a
    /// method of that query, not a session's).
    fn is_chain(&mut self, node: Node) -> bool {
        let mut ignored = Vec::new();
        match node.kind() {
            "identifier" => self.locals.contains_key(py::text(node, self.text)),
            _ => self.chain(node, &mut ignored).is_some(),
        }
    }

    /// `select(M)`, `update(M)`, `delete(M)`.
    fn start(&self, function: &str, positional: &[Node]) -> Option<(Option<String>, Vec<Step>)> {
        let text = self.text;
        match function {
            "select" => Some((entity(positional, text), Vec::new())),
            "update" | "delete" if positional.len() == 1 && is_name(positional[0], text) => {
                let op = if function == "update" {
                    Operation::Update
                } else {
                    Operation::Delete
                };
                Some((
                    Some(py::text(positional[0], text).to_string()),
                    vec![Step::Operation(op)],
                ))
            }
            _ => None,
        }
    }

    fn method(
        &self,
        method: &str,
        arguments: Node,
        positional: &[Node],
        query: &mut Query,
    ) -> Vec<Step> {
        let text = self.text;
        match method {
            "where" | "filter" => {
                if positional.len() != arguments.named_child_count() {
                    return vec![Step::Unknown(method.into())];
                }
                let mut conditions = Vec::new();
                let mut disjunction = false;
                for arg in positional {
                    if conditions_of(*arg, text, false, &mut conditions, &mut disjunction).is_none()
                    {
                        return vec![Step::Unknown(method.into())];
                    }
                }
                vec![Step::Where {
                    conditions,
                    disjunction,
                }]
            }
            "filter_by" => {
                let mut pairs = Vec::new();
                let mut cursor = arguments.walk();
                for arg in arguments.named_children(&mut cursor) {
                    let (Some(name), Some(value)) = (arg.field("name"), arg.field("value")) else {
                        return vec![Step::Unknown(method.into())];
                    };
                    if arg.kind() != "keyword_argument" {
                        return vec![Step::Unknown(method.into())];
                    }
                    pairs.push((py::text(name, text).to_string(), literal(value, text)));
                }
                vec![Step::FilterBy(pairs)]
            }
            "order_by" => {
                let mut order = Vec::new();
                for arg in positional {
                    match ordered(*arg, text) {
                        Some(o) => order.push(o),
                        None => return vec![Step::Unknown(method.into())],
                    }
                }
                if positional.len() != arguments.named_child_count() {
                    return vec![Step::Unknown(method.into())];
                }
                vec![Step::OrderBy(order)]
            }
            "select_from" if query.model.is_none() && positional.len() == 1 => {
                query.model = entity(positional, text);
                Vec::new()
            }
            "join" | "outerjoin" | "join_from" => vec![Step::Join],
            "limit" | "first" | "first_or_404" | "paginate" | "fetchone" => vec![Step::Limit],
            "one" | "one_or_none" | "one_or_404" | "scalar_one" | "scalar_one_or_none" => {
                vec![Step::Limit, Step::Operation(Operation::Get)]
            }
            "scalar" => vec![Step::Limit],
            "get" | "get_or_404" if positional.len() == 1 => vec![
                Step::PrimaryKey,
                Step::Limit,
                Step::Operation(Operation::Get),
            ],
            "count" => vec![Step::Operation(Operation::Count)],
            "exists" => vec![Step::Limit, Step::Operation(Operation::Exists)],
            "delete" => vec![Step::Operation(Operation::Delete)],
            "update" => vec![Step::Operation(Operation::Update)],
            _ if PASS_THROUGH.contains(&method) => Vec::new(),
            _ => vec![Step::Unknown(method.into())],
        }
    }
}

fn positional(arguments: Node) -> Vec<Node> {
    let mut cursor = arguments.walk();
    arguments
        .named_children(&mut cursor)
        .filter(|n| !matches!(n.kind(), "keyword_argument" | "comment"))
        .collect()
}

/// A plain or dotted name: `User`, `models.User`.
fn is_name(node: Node, text: &str) -> bool {
    match node.kind() {
        "identifier" => true,
        "attribute" => {
            node.field("object")
                .is_some_and(|o| o.kind() == "identifier")
                && !py::text(node, text).contains(char::is_whitespace)
        }
        _ => false,
    }
}

/// The entity a `select()`/`query()` reads, as written: a model
/// (`User`, `models.User`) or a column of one (`User.id`); `resolve`
/// tells them apart.
fn entity(positional: &[Node], text: &str) -> Option<String> {
    let first = *positional.first()?;
    let written = py::text(first, text);
    (matches!(first.kind(), "identifier" | "attribute")
        && written
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '.'))
    .then(|| written.to_string())
}

/// `M.attr` → (`M`, `attr`); `models.M.attr` → (`models.M`, `attr`).
fn column(node: Node, text: &str) -> Option<(String, String)> {
    if node.kind() != "attribute" {
        return None;
    }
    let object = node.field("object")?;
    let attribute = node.field("attribute")?;
    is_name(object, text).then(|| {
        (
            py::text(object, text).to_string(),
            py::text(attribute, text).to_string(),
        )
    })
}

/// A literal as SQL text.
fn literal(node: Node, text: &str) -> Option<String> {
    match node.kind() {
        "true" => Some("true".into()),
        "false" => Some("false".into()),
        "none" => Some("NULL".into()),
        "integer" | "float" => Some(py::text(node, text).to_string()),
        "string" => py::string_value(node, text).map(|s| format!("'{}'", s.replace('\'', "''"))),
        _ => None,
    }
}

/// Read the conditions of one boolean expression; `None` when any part is
/// not a known comparison of a model attribute.
fn conditions_of(
    node: Node,
    text: &str,
    negated: bool,
    out: &mut Vec<Cond>,
    disjunction: &mut bool,
) -> Option<()> {
    match node.kind() {
        "parenthesized_expression" => {
            conditions_of(node.named_child(0)?, text, negated, out, disjunction)
        }
        "unary_operator" if py::text(node, text).starts_with('~') => {
            conditions_of(node.field("argument")?, text, !negated, out, disjunction)
        }
        "binary_operator" => {
            let operator = node.field("operator")?;
            let or = match operator.kind() {
                "&" => false,
                "|" => true,
                _ => return None,
            };
            *disjunction |= or != negated;
            conditions_of(node.field("left")?, text, negated, out, disjunction)?;
            conditions_of(node.field("right")?, text, negated, out, disjunction)
        }
        "comparison_operator" => {
            if node.named_child_count() != 2 {
                return None;
            }
            let left = node.named_child(0)?;
            let right = node.named_child(1)?;
            let operator = node.child(1)?.kind();
            let (target, value, function) = match (column(left, text), column(right, text)) {
                (Some(c), _) => (c, right, false),
                (None, Some(c)) if operator != "==" && operator != "!=" => (c, left, false),
                // `func.lower(M.email) == ...`
                (None, _) => (function_of_column(left, text)?, right, true),
            };
            let constant = literal(value, text).filter(|_| !function);
            let op = match (operator, constant.as_deref()) {
                (_, _) if function => ConditionOp::Other,
                ("==" | "is", Some("NULL")) => ConditionOp::IsNull,
                ("!=" | "is not", Some("NULL")) => ConditionOp::IsNotNull,
                ("==", _) => ConditionOp::Eq,
                ("!=", _) => ConditionOp::NotEq,
                (_, _) if RangeBound::of_operator(operator).is_some() => {
                    ConditionOp::Range(RangeBound::of_operator(operator)?)
                }
                _ => return None,
            };
            out.push(cond(target, op, constant, negated));
            Some(())
        }
        "call" => {
            let function = node.field("function")?;
            let arguments = node.field("arguments")?;
            let positional = positional(arguments);
            let name = py::text(function, text);
            match py::last_segment(name) {
                "and_" | "or_" if function.kind() == "identifier" || name.contains('.') => {
                    *disjunction |= (py::last_segment(name) == "or_") != negated;
                    for arg in positional {
                        conditions_of(arg, text, negated, out, disjunction)?;
                    }
                    return Some(());
                }
                "not_" if positional.len() == 1 => {
                    return conditions_of(positional[0], text, !negated, out, disjunction);
                }
                _ => {}
            }
            let (target, method) = match function.kind() {
                "attribute" => (
                    column(function.field("object")?, text)?,
                    py::text(function.field("attribute")?, text),
                ),
                _ => return None,
            };
            let first = positional.first().copied();
            let constant = first.and_then(|n| literal(n, text));
            let (op, constant) = match method {
                "in_" => (ConditionOp::In, None),
                "not_in" | "notin_" => (ConditionOp::Other, None),
                "between" => (ConditionOp::Range(RangeBound::Between), None),
                "is_" if constant.as_deref() == Some("NULL") => (ConditionOp::IsNull, None),
                "is_not" | "isnot" if constant.as_deref() == Some("NULL") => {
                    (ConditionOp::IsNotNull, None)
                }
                "is_" => (ConditionOp::Eq, constant),
                "is_not" | "isnot" => (ConditionOp::NotEq, constant),
                "startswith" => (ConditionOp::Prefix, None),
                "like" => match &constant {
                    Some(c) if is_prefix_pattern(c) => (ConditionOp::Prefix, None),
                    _ => (ConditionOp::Other, None),
                },
                "ilike" | "contains" | "endswith" | "icontains" | "istartswith" | "iendswith"
                | "notlike" | "not_like" | "notilike" | "not_ilike" | "regexp_match" | "match"
                | "op" => (ConditionOp::Other, None),
                _ => return None,
            };
            out.push(cond(target, op, constant, negated));
            Some(())
        }
        // `where(User.is_active)`: a boolean column.
        "attribute" => {
            let target = column(node, text)?;
            out.push(cond(target, ConditionOp::Eq, Some("true".into()), negated));
            Some(())
        }
        _ => None,
    }
}

/// `'abc%'`: a LIKE pattern a btree can serve as a range.
fn is_prefix_pattern(sql: &str) -> bool {
    let inner = sql.trim_matches('\'');
    let Some(stem) = inner.strip_suffix('%') else {
        return false;
    };
    !stem.is_empty() && !stem.contains(['%', '_', '\\'])
}

/// `func.lower(M.col)` → M.col.
fn function_of_column(node: Node, text: &str) -> Option<(String, String)> {
    if node.kind() != "call" {
        return None;
    }
    let function = node.field("function")?;
    if !py::text(function, text).starts_with("func.") {
        return None;
    }
    let positional = positional(node.field("arguments")?);
    column(*positional.first()?, text)
}

fn cond(
    (model, attr): (String, String),
    op: ConditionOp,
    constant: Option<String>,
    negated: bool,
) -> Cond {
    let op = if negated {
        match op {
            ConditionOp::Eq if constant.as_deref() == Some("true") => {
                return Cond {
                    model,
                    attr,
                    op: ConditionOp::Eq,
                    constant: Some("false".into()),
                };
            }
            ConditionOp::Eq => ConditionOp::NotEq,
            ConditionOp::NotEq => ConditionOp::Eq,
            ConditionOp::IsNull => ConditionOp::IsNotNull,
            ConditionOp::IsNotNull => ConditionOp::IsNull,
            ConditionOp::Range(bound) => bound
                .negated()
                .map_or(ConditionOp::Other, ConditionOp::Range),
            _ => ConditionOp::Other,
        }
    } else {
        op
    };
    let constant = match op {
        ConditionOp::IsNull | ConditionOp::IsNotNull => None,
        _ => constant,
    };
    Cond {
        model,
        attr,
        op,
        constant,
    }
}

/// `M.col`, `M.col.desc()`, `desc(M.col)`, with `.nulls_last()` ignored.
fn ordered(node: Node, text: &str) -> Option<Ordered> {
    if let Some((model, attr)) = column(node, text) {
        return Some(Ordered {
            model,
            attr,
            desc: false,
        });
    }
    if node.kind() != "call" {
        return None;
    }
    let function = node.field("function")?;
    let positional = positional(node.field("arguments")?);
    if function.kind() == "attribute" && positional.is_empty() {
        let object = function.field("object")?;
        let method = py::text(function.field("attribute")?, text);
        return match method {
            "desc" | "asc" => {
                let (model, attr) = column(object, text)?;
                Some(Ordered {
                    model,
                    attr,
                    desc: method == "desc",
                })
            }
            "nulls_last" | "nulls_first" | "nullslast" | "nullsfirst" => ordered(object, text),
            _ => None,
        };
    }
    let name = py::last_segment(py::text(function, text));
    match (name, positional.as_slice()) {
        ("desc" | "asc", [inner]) => {
            let mut o = ordered(*inner, text)?;
            o.desc = name == "desc";
            Some(o)
        }
        ("nulls_last" | "nulls_first" | "nullslast" | "nullsfirst", [inner]) => {
            ordered(*inner, text)
        }
        _ => None,
    }
}

/// The access patterns of the project's SQLAlchemy queries, in SQL names.
/// A query is left out whole when anything it depends on is unknown: a
/// model name that does not resolve to one mapped class, an attribute that
/// is not a column, a method or condition ixray does not know.
pub fn resolve(project: &SqlalchemyProject, files: &[QueryFile]) -> Vec<AccessPattern> {
    let tables: FxHashMap<&str, &Table> = project
        .tables
        .iter()
        .map(|t| (t.name.as_str(), t))
        .collect();
    // Class name → the mapped tables of classes so named.
    let mut by_class: FxHashMap<&str, Vec<(&std::path::Path, &MappedTable)>> = FxHashMap::default();
    for mapped in project.mapped.values() {
        let mut classes = mapped.sti_classes.clone();
        if let TableSource::Class { file, class } = mapped.source {
            classes.push((file, class));
        }
        for (file, class) in classes {
            let name = project.class(file, class).name.as_str();
            let path = project.files[file].source.path.as_path();
            by_class.entry(name).or_default().push((path, mapped));
        }
    }
    let relationships = Relationships {
        project,
        tables: &tables,
        by_class: &by_class,
    };
    let mut out = Vec::new();
    for file in files {
        let resolver = Resolver {
            file,
            by_class: &by_class,
        };
        let mut found = Vec::new();
        for query in file.queries.iter().filter(|q| !q.continued) {
            if let Some(patterns) = resolver.patterns(query, &tables) {
                found.extend(patterns);
            }
        }
        found.extend(resolver.loaders(&relationships));
        // In file order: a loader's pattern next to its query's.
        found.sort_by_key(|p| p.location.as_ref().map(|l| l.span.start));
        out.extend(found);
    }
    out.extend(relationships.eager_by_default());
    out
}

/// What the loader of a relationship reads: the related table, and the
/// columns it finds the related rows by. Only what is unambiguous: a
/// relationship whose columns SQLAlchemy would have to be told (two
/// foreign keys between the tables, a join ixray cannot read) gives
/// nothing.
struct Relationships<'a> {
    project: &'a SqlalchemyProject,
    tables: &'a FxHashMap<&'a str, &'a Table>,
    by_class: &'a FxHashMap<&'a str, Vec<(&'a std::path::Path, &'a MappedTable)>>,
}

/// The rows a loader reads: `table WHERE columns = / IN (parent keys)`,
/// with the conditions a `primaryjoin` adds.
struct Probe {
    table: String,
    columns: Vec<String>,
    conditions: Vec<Condition>,
}

impl<'a> Relationships<'a> {
    /// The mapped table of a class named in model code: the only class of
    /// that name, or the one declared in `near`.
    fn class(&self, name: &str, near: &std::path::Path) -> Option<&'a MappedTable> {
        let candidates = self.by_class.get(py::last_segment(name))?;
        match candidates.as_slice() {
            [(_, only)] => Some(*only),
            _ => {
                let here: Vec<_> = candidates.iter().filter(|(p, _)| *p == near).collect();
                (here.len() == 1).then(|| here[0].1)
            }
        }
    }

    /// The declaration of the class `name` mapped to `mapped`.
    fn class_decl(&self, mapped: &MappedTable, name: &str) -> Option<(usize, usize)> {
        let mut classes = mapped.sti_classes.clone();
        if let TableSource::Class { file, class } = mapped.source {
            classes.push((file, class));
        }
        classes
            .into_iter()
            .find(|&(f, c)| self.project.class(f, c).name == py::last_segment(name))
    }

    /// The relationship `attr` of a class or of a base class of it, or
    /// the one a `backref=` on another class declares there; with the
    /// file that declares it.
    fn relationship(
        &self,
        (file, class): (usize, usize),
        attr: &str,
    ) -> Option<(usize, RelationshipDecl)> {
        let mut at = (file, class);
        let mut chain = Vec::new();
        for _ in 0..8 {
            let decl = &self.project.files[at.0].classes[at.1];
            if let Some(found) = decl.relationships.iter().find(|r| r.attr == attr) {
                return Some((at.0, found.clone()));
            }
            // A column of that name: no relationship.
            if decl.columns.iter().any(|c| c.attr == attr) {
                return None;
            }
            chain.push(decl.name.as_str());
            let mut bases = decl
                .bases
                .iter()
                .filter_map(|base| self.unique_class(py::last_segment(base)));
            match bases.next() {
                Some(base) => at = base,
                None => break,
            }
        }
        let mut backrefs = Vec::new();
        for (f, file) in self.project.files.iter().enumerate() {
            for owner in &file.classes {
                for r in &owner.relationships {
                    if r.backref.as_ref().is_some_and(|(name, _)| name == attr)
                        && r.target.as_deref().is_some_and(|t| chain.contains(&t))
                        && let Some(reverse) = r.backref_relationship(&owner.name)
                    {
                        backrefs.push((f, reverse));
                    }
                }
            }
        }
        (backrefs.len() == 1).then(|| backrefs.remove(0))
    }

    /// The declaration of the only class named `name`.
    fn unique_class(&self, name: &str) -> Option<(usize, usize)> {
        let mut found = self.project.files.iter().enumerate().flat_map(|(f, file)| {
            file.classes
                .iter()
                .enumerate()
                .filter(move |(_, c)| c.name == name)
                .map(move |(c, _)| (f, c))
        });
        match (found.next(), found.next()) {
            (Some(only), None) => Some(only),
            _ => None,
        }
    }

    /// A column named in a relationship's arguments (`Child.parent_id`,
    /// or `parent_id` of the class that declares it).
    fn column(
        &self,
        written: &str,
        owner: &'a MappedTable,
        near: &std::path::Path,
    ) -> Option<(&'a MappedTable, String)> {
        let (mapped, attr) = match written.rsplit_once('.') {
            Some((class, attr)) => (self.class(class, near)?, attr),
            None => (owner, written),
        };
        Some((mapped, column_of(mapped, attr)?))
    }

    /// What loading `relationship` of `parent` reads.
    fn probe(
        &self,
        parent: &'a MappedTable,
        file: usize,
        relationship: &RelationshipDecl,
    ) -> Option<Probe> {
        let near = self.project.files[file].source.path.as_path();
        let child = self.class(relationship.target.as_deref()?, near)?;
        let parent_name = parent.qualified();
        let child_name = child.qualified();
        if let Some(secondary) = &relationship.secondary {
            // The association table's column that points at the parent.
            if relationship.primaryjoin.is_some()
                || relationship.secondaryjoin
                || parent_name == child_name
            {
                return None;
            }
            let table = self.secondary(secondary)?;
            let [fk] = table
                .foreign_keys
                .iter()
                .filter(|fk| fk.ref_table.as_deref() == Some(parent_name.as_str()))
                .collect::<Vec<_>>()[..]
            else {
                return None;
            };
            return Some(Probe {
                table: table.name.clone(),
                columns: fk.columns.clone(),
                conditions: Vec::new(),
            });
        }
        if let Some(join) = &relationship.primaryjoin {
            if parent_name == child_name {
                return None;
            }
            return self.primaryjoin(join, parent, child, near);
        }
        let self_referential = parent_name == child_name;
        // Bare column names are of the class that declares the
        // relationship: the target, for a backref's.
        let owner = if relationship.reverse { child } else { parent };
        let columns = if let Some(written) = &relationship.foreign_keys {
            let columns = written
                .iter()
                .map(|w| self.column(w, owner, near))
                .collect::<Option<Vec<_>>>()?;
            if columns.is_empty() {
                return None;
            }
            if !columns.iter().all(|(m, _)| m.qualified() == child_name) {
                // On the parent: a many-to-one, read by the child's key.
                return None;
            }
            columns.into_iter().map(|(_, c)| c).collect()
        } else {
            let child_table = self.tables.get(child_name.as_str())?;
            let parent_table = self.tables.get(parent_name.as_str())?;
            let to_parent: Vec<_> = child_table
                .foreign_keys
                .iter()
                .filter(|fk| fk.ref_table.as_deref() == Some(parent_name.as_str()))
                .collect();
            let to_child = parent_table
                .foreign_keys
                .iter()
                .filter(|fk| fk.ref_table.as_deref() == Some(child_name.as_str()))
                .count();
            match to_parent.as_slice() {
                [fk] if self_referential || to_child == 0 => fk.columns.clone(),
                _ => return None,
            }
        };
        // An adjacency list: `remote_side` names the key on the parent
        // side of a many-to-one; without it, the relationship is
        // one-to-many (SQLAlchemy's default for a self-reference). Its
        // backref goes the other way.
        if self_referential {
            let one_to_many = match &relationship.remote_side {
                Some(remote) => {
                    remote
                        .iter()
                        .map(|w| self.column(w, owner, near).map(|(_, c)| c))
                        .collect::<Option<Vec<_>>>()?
                        == columns
                }
                None => true,
            };
            if one_to_many == relationship.reverse {
                return None;
            }
        }
        Some(Probe {
            table: child_name,
            columns,
            conditions: Vec::new(),
        })
    }

    /// The table a `secondary=` names: a `Table` variable, else a name.
    fn secondary(&self, written: &str) -> Option<&'a Table> {
        let var = py::last_segment(written);
        let mut by_var = self.project.files.iter().flat_map(|f| {
            f.tables
                .iter()
                .filter(move |t| t.var.as_deref() == Some(var))
        });
        if let (Some(table), None) = (by_var.next(), by_var.next()) {
            let name = crate::frameworks::alembic::revisions::qualify(
                table.schema.as_deref(),
                &table.name,
            );
            return self.tables.get(name.as_str()).copied();
        }
        self.tables.get(written).copied()
    }

    /// `primaryjoin="and_(Parent.id == Child.parent_id, Child.live)"`:
    /// the child's side of the column equalities, and the child's
    /// conditions on constants.
    fn primaryjoin(
        &self,
        join: &str,
        parent: &'a MappedTable,
        child: &'a MappedTable,
        near: &std::path::Path,
    ) -> Option<Probe> {
        let tree = py::parse(join);
        let root = tree.root_node();
        let expression = root.named_child(0)?.named_child(0)?;
        let mut terms = Vec::new();
        conjuncts(expression, join, &mut terms)?;
        let child_name = child.qualified();
        let parent_name = parent.qualified();
        let mut columns = Vec::new();
        let mut conditions = Vec::new();
        for term in terms {
            if term.kind() == "comparison_operator"
                && term.named_child_count() == 2
                && term.child(1).is_some_and(|o| o.kind() == "==")
                && let (Some(left), Some(right)) = (
                    annotated_column(term.named_child(0)?, join),
                    annotated_column(term.named_child(1)?, join),
                )
            {
                let left = self.column(&format!("{}.{}", left.0, left.1), parent, near)?;
                let right = self.column(&format!("{}.{}", right.0, right.1), parent, near)?;
                let sides = (left.0.qualified(), right.0.qualified());
                match (sides.0 == child_name, sides.1 == child_name) {
                    (true, false) if sides.1 == parent_name => columns.push(left.1),
                    (false, true) if sides.0 == parent_name => columns.push(right.1),
                    _ => return None,
                }
                continue;
            }
            // Other terms narrow the rows; those on the child become
            // conditions, the rest are left out (fewer conditions than
            // the query has still ask for a right index).
            let mut found = Vec::new();
            let mut disjunction = false;
            if conditions_of(term, join, false, &mut found, &mut disjunction).is_none()
                || disjunction
            {
                continue;
            }
            for c in found {
                if let Some((mapped, column)) =
                    self.column(&format!("{}.{}", c.model, c.attr), parent, near)
                    && mapped.qualified() == child_name
                {
                    conditions.push(Condition {
                        column,
                        op: c.op,
                        constant: c.constant,
                    });
                }
            }
        }
        let child_table = self.tables.get(child_name.as_str())?;
        // Read by the child's own key: a many-to-one.
        let by_key = child_table.indexes.iter().any(|i| {
            i.unique
                && i.predicate.is_none()
                && i.parts
                    .iter()
                    .map(|p| p.column_name())
                    .eq(columns.iter().map(|c| Some(c.as_str())))
        });
        if columns.is_empty() || by_key {
            return None;
        }
        Some(Probe {
            table: child_name,
            columns,
            conditions,
        })
    }

    /// `relationship(..., lazy="selectin")`: every load of the parent
    /// loads the relationship, wherever the code loads it.
    fn eager_by_default(&self) -> Vec<AccessPattern> {
        let mut out = Vec::new();
        for mapped in self.project.mapped.values() {
            let mut classes = mapped.sti_classes.clone();
            if let TableSource::Class { file, class } = mapped.source {
                classes.push((file, class));
            }
            for (file, class) in classes {
                let decl = self.project.class(file, class);
                let source = &self.project.files[file].source;
                for relationship in &decl.relationships {
                    let eager =
                        |r: &RelationshipDecl| r.lazy.as_deref().and_then(LoadStrategy::of_lazy);
                    if let Some(strategy) = eager(relationship)
                        && let Some(probe) = self.probe(mapped, file, relationship)
                    {
                        out.push(probe.pattern(
                            strategy,
                            Vec::new(),
                            Some(source.location(relationship.span)),
                        ));
                    }
                    // `backref=backref("children", lazy="selectin")`: loads
                    // with every row of the target.
                    if let Some(reverse) = relationship.backref_relationship(&decl.name)
                        && let Some(strategy) = eager(&reverse)
                        && let Some(target) = self.class(
                            relationship.target.as_deref().unwrap_or_default(),
                            &source.path,
                        )
                        && let Some(probe) = self.probe(target, file, &reverse)
                    {
                        out.push(probe.pattern(
                            strategy,
                            Vec::new(),
                            Some(source.location(relationship.span)),
                        ));
                    }
                }
            }
        }
        out
    }
}

impl Probe {
    fn pattern(
        self,
        strategy: LoadStrategy,
        criteria: Vec<Condition>,
        location: Option<crate::source::Location>,
    ) -> AccessPattern {
        let mut conditions: Vec<Condition> = self
            .columns
            .into_iter()
            .map(|column| Condition {
                column,
                op: strategy.op(),
                constant: None,
            })
            .collect();
        conditions.extend(self.conditions);
        conditions.extend(criteria);
        AccessPattern {
            conditions,
            ..AccessPattern::select(self.table, Framework::Sqlalchemy, location)
        }
    }
}

/// The terms of an `and_(...)` / `&` conjunction; `None` for an `or_`.
fn conjuncts<'t>(node: Node<'t>, text: &str, out: &mut Vec<Node<'t>>) -> Option<()> {
    match node.kind() {
        "parenthesized_expression" => conjuncts(node.named_child(0)?, text, out),
        "binary_operator"
            if node
                .child_by_field_name("operator")
                .is_some_and(|o| o.kind() == "&") =>
        {
            conjuncts(node.child_by_field_name("left")?, text, out)?;
            conjuncts(node.child_by_field_name("right")?, text, out)
        }
        "call" if py::call_name(node, text).is_some_and(|n| py::last_segment(&n) == "and_") => {
            for arg in positional(node.child_by_field_name("arguments")?) {
                conjuncts(arg, text, out)?;
            }
            Some(())
        }
        "call" if py::call_name(node, text).is_some_and(|n| py::last_segment(&n) == "or_") => None,
        _ => {
            out.push(node);
            Some(())
        }
    }
}

/// `Child.parent_id`, `foreign(Child.parent_id)`, `remote(Parent.id)`.
fn annotated_column(node: Node, text: &str) -> Option<(String, String)> {
    if node.kind() == "call"
        && py::call_name(node, text)
            .is_some_and(|n| matches!(py::last_segment(&n), "foreign" | "remote"))
    {
        let args = positional(node.child_by_field_name("arguments")?);
        return match args.as_slice() {
            [inner] => column(*inner, text),
            _ => None,
        };
    }
    column(node, text)
}

/// The class a loader path reaches: its mapped table and class name.
type Reached<'a> = Option<(&'a MappedTable, String)>;

struct Resolver<'a> {
    file: &'a QueryFile,
    by_class: &'a FxHashMap<&'a str, Vec<(&'a std::path::Path, &'a MappedTable)>>,
}

impl<'a> Resolver<'a> {
    /// The mapped class a name in query code means: imported from a
    /// module of the project, or declared in the same file.
    fn model(&self, name: &str) -> Option<&'a MappedTable> {
        let imports = &self.file.imports;
        let (module, class) = match name.split_once('.') {
            Some((local, rest)) if !rest.contains('.') => {
                let (module, imported) = imports.get(local)?;
                let module = if module.chars().all(|c| c == '.') {
                    format!("{module}{imported}")
                } else {
                    format!("{module}.{imported}")
                };
                (Some(module), rest)
            }
            Some(_) => return None,
            None => match imports.get(name) {
                Some((module, imported)) => (Some(module.clone()), imported.as_str()),
                None => (None, name),
            },
        };
        let candidates = self.by_class.get(class)?;
        let here = &self.file.source.path;
        let module_file = module.as_deref().and_then(|m| py::module_file(m, here));
        let matching: Vec<&MappedTable> = candidates
            .iter()
            .filter(|(path, _)| match (&module, &module_file) {
                (None, _) => *path == here.as_path(),
                (Some(_), Some(found)) => {
                    *path == found.as_path()
                        || (found.file_name().is_some_and(|n| n == "__init__.py")
                            && path.parent() == found.parent())
                }
                (Some(_), None) => true,
            })
            .map(|(_, m)| *m)
            .collect();
        (matching.len() == 1).then(|| matching[0])
    }

    /// The access patterns of the file's loader options: the related
    /// table read by the relationship's columns, at the loader's call
    /// site. Links are read in path order, each from the class the link
    /// before it reaches.
    fn loaders(&self, relationships: &Relationships<'a>) -> Vec<AccessPattern> {
        let mut reached: Vec<Reached<'a>> = Vec::new();
        let mut out = Vec::new();
        for loader in &self.file.loaders {
            let (pattern, target) = self
                .loader(loader, &reached, relationships)
                .unwrap_or((None, None));
            reached.push(target);
            out.extend(pattern);
        }
        out
    }

    /// One link: its pattern (for a link that loads), and the class it
    /// reaches (mapped table and class name).
    fn loader(
        &self,
        loader: &Loader,
        reached: &[Reached<'a>],
        relationships: &Relationships<'a>,
    ) -> Option<(Option<AccessPattern>, Reached<'a>)> {
        let ((parent, class_name), attr) = match &loader.target {
            LoaderTarget::Attr { model, attr } => ((self.model(model)?, model.clone()), attr),
            LoaderTarget::Key(key) => match loader.after {
                Some(before) => (reached.get(before)?.clone()?, key),
                None => {
                    let entity = loader.entity.as_deref()?;
                    ((self.model(entity)?, entity.to_string()), key)
                }
            },
        };
        let class = relationships.class_decl(parent, &class_name)?;
        let (file, relationship) = relationships.relationship(class, attr)?;
        let near = self.file_path_of(relationships, file);
        let target_name = relationship.target.clone()?;
        let child = relationships.class(&target_name, near)?;
        let reached = Some((child, target_name));
        let Some(strategy) = loader.strategy else {
            return Some((None, reached));
        };
        let Some(probe) = relationships.probe(parent, file, &relationship) else {
            return Some((None, reached));
        };
        let mut criteria = Vec::new();
        for c in &loader.criteria {
            let mapped = self.model(&c.model)?;
            if mapped.qualified() != probe.table {
                return Some((None, reached));
            }
            criteria.push(Condition {
                column: column_of(mapped, &c.attr)?,
                op: c.op,
                constant: c.constant.clone(),
            });
        }
        let location = Some(self.file.source.location(loader.span));
        Some((Some(probe.pattern(strategy, criteria, location)), reached))
    }

    fn file_path_of(&self, relationships: &Relationships<'a>, file: usize) -> &'a std::path::Path {
        relationships.project.files[file].source.path.as_path()
    }

    fn patterns(
        &self,
        query: &Query,
        tables: &FxHashMap<&str, &Table>,
    ) -> Option<Vec<AccessPattern>> {
        let written = query.model.as_deref()?;
        // `select(User)`, or `select(User.id)`.
        let own_mapped = self.model(written).or_else(|| {
            let (model, _) = written.rsplit_once('.')?;
            self.model(model)
        })?;
        let location = Some(self.file.source.location(query.span));
        let mut own =
            AccessPattern::select(own_mapped.qualified(), Framework::Sqlalchemy, location);
        let mut joined: Vec<AccessPattern> = Vec::new();
        let mut after_join = false;
        for step in &query.steps {
            match step {
                Step::Unknown(_) => return None,
                Step::Join => after_join = true,
                Step::Limit => own.limited = true,
                Step::Operation(op) => own.operation = *op,
                Step::PrimaryKey => {
                    let table = tables.get(own.table.as_str())?;
                    let pk: Vec<_> = table.columns.iter().filter(|c| c.primary_key).collect();
                    if pk.len() != 1 {
                        return None;
                    }
                    own.conditions.push(Condition {
                        column: pk[0].name.clone(),
                        op: ConditionOp::Eq,
                        constant: None,
                    });
                }
                Step::FilterBy(pairs) => {
                    if after_join {
                        return None;
                    }
                    for (attr, constant) in pairs {
                        let column = column_of(own_mapped, attr)?;
                        let (op, constant) = match constant.as_deref() {
                            Some("NULL") => (ConditionOp::IsNull, None),
                            _ => (ConditionOp::Eq, constant.clone()),
                        };
                        own.conditions.push(Condition {
                            column,
                            op,
                            constant,
                        });
                    }
                }
                Step::OrderBy(order) => {
                    for o in order {
                        let mapped = self.model(&o.model)?;
                        if !std::ptr::eq(mapped, own_mapped) {
                            // Ordering by a joined table's column: no index
                            // of this table serves it.
                            return None;
                        }
                        own.order.push(OrderColumn {
                            column: column_of(mapped, &o.attr)?,
                            desc: o.desc,
                        });
                    }
                }
                Step::Where {
                    conditions,
                    disjunction,
                } => {
                    for c in conditions {
                        let mapped = self.model(&c.model)?;
                        let condition = Condition {
                            column: column_of(mapped, &c.attr)?,
                            op: c.op,
                            constant: c.constant.clone(),
                        };
                        let pattern = if std::ptr::eq(mapped, own_mapped) {
                            &mut own
                        } else {
                            let table = mapped.qualified();
                            match joined.iter().position(|p| p.table == table) {
                                Some(i) => &mut joined[i],
                                None => {
                                    joined.push(AccessPattern::select(
                                        table,
                                        Framework::Sqlalchemy,
                                        own.location.clone(),
                                    ));
                                    joined.last_mut().expect("just pushed")
                                }
                            }
                        };
                        pattern.disjunction |= *disjunction;
                        pattern.conditions.push(condition);
                    }
                }
            }
        }
        let mut out = vec![own];
        out.extend(joined);
        Some(out)
    }
}

/// The SQL column an attribute of a mapped class names.
fn column_of(mapped: &MappedTable, attr: &str) -> Option<String> {
    mapped
        .columns
        .iter()
        .find(|c| c.attr == attr)
        .or_else(|| mapped.columns.iter().find(|c| c.name == attr))
        .map(|c| c.name.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frameworks::python as py;
    use std::path::PathBuf;

    fn describe(code: &str) -> Vec<String> {
        let source = SourceFile::new(PathBuf::from("services.py"), code.to_string());
        let file = extract(source);
        file.queries
            .iter()
            .filter(|q| !q.continued)
            .map(|q| {
                let mut out = q.model.clone().unwrap_or_else(|| "?".into());
                for step in &q.steps {
                    match step {
                        Step::Where {
                            conditions,
                            disjunction,
                        } => {
                            let c: Vec<String> = conditions
                                .iter()
                                .map(|c| {
                                    format!(
                                        "{}.{} {:?}{}",
                                        c.model,
                                        c.attr,
                                        c.op,
                                        c.constant
                                            .as_ref()
                                            .map_or(String::new(), |v| format!(" {v}"))
                                    )
                                })
                                .collect();
                            out.push_str(&format!(
                                " where[{}{}]",
                                c.join(", "),
                                if *disjunction { " OR" } else { "" }
                            ));
                        }
                        Step::FilterBy(pairs) => {
                            let p: Vec<String> = pairs
                                .iter()
                                .map(|(a, v)| format!("{a}={}", v.as_deref().unwrap_or("?")))
                                .collect();
                            out.push_str(&format!(" by[{}]", p.join(" ")));
                        }
                        Step::OrderBy(o) => {
                            let o: Vec<String> = o
                                .iter()
                                .map(|o| {
                                    format!(
                                        "{}{}.{}",
                                        if o.desc { "-" } else { "" },
                                        o.model,
                                        o.attr
                                    )
                                })
                                .collect();
                            out.push_str(&format!(" order[{}]", o.join(",")));
                        }
                        Step::PrimaryKey => out.push_str(" pk"),
                        Step::Join => out.push_str(" join"),
                        Step::Limit => out.push_str(" limit"),
                        Step::Operation(op) => out.push_str(&format!(" {op:?}")),
                        Step::Unknown(m) => out.push_str(&format!(" ?{m}")),
                    }
                }
                out
            })
            .collect()
    }

    #[test]
    fn function_calls_are_told_from_methods() {
        assert!(calls(b"x = select(User)", b"select("));
        assert!(calls(b"sa.update(User)", b"update("));
        assert!(!calls(b"d.update(x)", b"update("));
        assert!(!calls(b"self.db.update(x)", b"update("));
        assert!(!calls(b"reselect(x)", b"select("));
    }

    #[test]
    fn reads_select_query_and_flask_chains() {
        let code = r#"
from sqlalchemy import select, update, delete, and_, or_, desc, func
from blog.models import Post, User as U


def f(session, db, uid):
    stmt = select(Post).where(Post.author_id == uid, Post.published.is_(True)).order_by(Post.created_at.desc()).limit(10)
    posts = session.execute(stmt).scalars().all()
    session.query(U).filter(U.email.in_(emails)).filter(U.deleted_at == None).first()
    U.query.filter_by(handle="x", active=True).one_or_none()
    db.session.execute(select(Post).filter_by(slug=slug)).scalar_one()
    session.get(U, uid)
    session.execute(update(Post).where(Post.id != 3).values(x=1))
    session.execute(delete(Post).where(or_(Post.title.startswith("a"), ~Post.draft)))
    session.query(Post).filter(and_(Post.rank >= 2, Post.rank.between(1, 2)), func.lower(Post.title) == "x").count()
    select(Post).where(Post.title.like("ab%"), Post.body.ilike("%x%"), Post.x.is_not(None)).order_by(desc(Post.a), Post.b.asc().nulls_last(), Post.c).exists()
    session.query(Post).custom().all()
    session.query(Post).join(U).filter(U.name == "n").all()
"#;
        assert_eq!(
            describe(code),
            [
                "Post where[Post.author_id Eq, Post.published Eq true] order[-Post.created_at] limit",
                "U where[U.email In] where[U.deleted_at IsNull] limit",
                "U by[handle='x' active=true] limit Get",
                "Post by[slug=?] limit Get",
                "U pk limit Get",
                "Post Update where[Post.id NotEq 3]",
                "Post Delete where[Post.title Prefix, Post.draft Eq false OR]",
                "Post where[Post.rank Range(Ge) 2, Post.rank Range(Between), Post.title Other] Count",
                "Post where[Post.title Prefix, Post.body Other, Post.x IsNotNull] order[-Post.a,Post.b,Post.c] limit Exists",
                "Post ?custom",
                "Post join where[U.name Eq 'n']",
            ]
        );
    }

    /// The patterns of query code over models, as SQL.
    fn loaded(models: &str, code: &str) -> Vec<String> {
        let source = SourceFile::new(PathBuf::from("app/models.py"), models.to_string());
        let tree = py::parse(models);
        let models = super::super::models::extract(source, &tree);
        let mut errors = Vec::new();
        let project = super::super::project::resolve(
            super::super::project::Inputs {
                models: vec![models],
                revisions: Vec::new(),
                inis: Vec::new(),
                dialect: Some(crate::schema::Dialect::Postgresql),
            },
            &mut errors,
        );
        let file = extract(SourceFile::new(
            PathBuf::from("app/services.py"),
            code.to_string(),
        ));
        resolve(&project, &[file])
            .iter()
            .filter(|p| !p.conditions.is_empty())
            .map(|p| {
                let line = p.location.as_ref().map_or(0, |l| l.line);
                format!("{line}: {}", p.sql())
            })
            .collect()
    }

    const LOADER_MODELS: &str = r#"
from sqlalchemy import Column, ForeignKey, Table
from sqlalchemy.orm import DeclarativeBase, Mapped, backref, declared_attr, mapped_column, relationship


class Base(DeclarativeBase):
    pass


post_tag = Table(
    "post_tag",
    Base.metadata,
    Column("post_id", ForeignKey("post.id"), primary_key=True),
    Column("tag_id", ForeignKey("tag.id"), primary_key=True),
)


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    best_post_id: Mapped[int] = mapped_column(ForeignKey("post.id"))
    posts: Mapped[list["Post"]] = relationship(back_populates="author", foreign_keys="[Post.author_id]")
    drafts = relationship("Post", primaryjoin="and_(User.id == foreign(Post.author_id), Post.status == 'draft')", viewonly=True)
    best_post = relationship("Post", foreign_keys=[best_post_id])
    anything = relationship("Post")


class Post(NotesMixin, Base):
    __tablename__ = "post"
    id: Mapped[int] = mapped_column(primary_key=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    parent_id: Mapped[int] = mapped_column(ForeignKey("post.id"))
    status: Mapped[str]
    author: Mapped[User] = relationship(back_populates="posts", foreign_keys=[author_id])
    replies: Mapped[list["Post"]] = relationship(back_populates="parent")
    parent: Mapped["Post"] = relationship(back_populates="replies", remote_side=[id])
    tags: Mapped[list["Tag"]] = relationship(secondary=post_tag, lazy="selectin")
    notes = relationship("Note", lazy="joined")
    parent_note = relationship("Note", foreign_keys="[Note.post_id]", viewonly=True)


class Tag(Base):
    __tablename__ = "tag"
    id: Mapped[int] = mapped_column(primary_key=True)


class Note(Base):
    __tablename__ = "note"
    id: Mapped[int] = mapped_column(primary_key=True)
    post_id = mapped_column(ForeignKey("post.id"))
    draft: Mapped[bool]
    reply_to_id = mapped_column(ForeignKey("note.id"))
    reply_to = relationship("Note", remote_side=[id], backref=backref("replies", lazy="selectin"))
    owner_id = mapped_column(ForeignKey("users.id"))
    owner = relationship(User, backref="notes")


class NotesMixin:
    @declared_attr
    def all_notes(cls):
        return relationship("Note", foreign_keys="[Note.post_id]")
"#;

    #[test]
    fn loaders_read_the_related_table_by_the_relationship_columns() {
        let code = r#"
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload, subqueryload, defaultload
from app.models import Note, Post, User


def f(session, uid):
    session.execute(select(User).where(User.id == uid).options(selectinload(User.posts).joinedload(Post.notes)))
    session.query(Post).options(subqueryload(Post.replies), joinedload(Post.author), selectinload(Post.parent)).all()
    opts = [defaultload(User.posts).selectinload(Post.notes.and_(Note.draft == False))]
    session.query(User).options(selectinload(User.drafts), joinedload(User.best_post)).all()
    User.query.options(joinedload("posts").load_only("id").joinedload("notes"), defaultload("best_post").options(subqueryload("replies"))).all()
    session.query(Post).options(joinedload("replies", "tags")).all()
    session.query(User).options(selectinload(User.notes)).all()
    session.query(Post).options(selectinload(Post.all_notes)).all()
"#;
        assert_eq!(
            loaded(LOADER_MODELS, code),
            [
                "8: SELECT * FROM users WHERE id = $1",
                "8: SELECT * FROM post WHERE author_id = ANY($1)",
                "8: SELECT * FROM note WHERE post_id = $1",
                "9: SELECT * FROM post WHERE parent_id = $1",
                "10: SELECT * FROM note WHERE post_id = ANY($1) AND draft = false",
                "11: SELECT * FROM post WHERE author_id = ANY($1) AND status = 'draft'",
                // SQLAlchemy 1.x string paths, from the query's entity.
                "12: SELECT * FROM post WHERE author_id = $1",
                "12: SELECT * FROM note WHERE post_id = $1",
                "12: SELECT * FROM post WHERE parent_id = $1",
                "13: SELECT * FROM post_tag WHERE post_id = $1",
                // A `backref=` declared on the other class.
                "14: SELECT * FROM note WHERE owner_id = ANY($1)",
                // A mixin's `declared_attr` relationship.
                "15: SELECT * FROM note WHERE post_id = ANY($1)",
                // Declared `lazy=` (here on a backref): with every load.
                "53: SELECT * FROM note WHERE reply_to_id = ANY($1)",
                "37: SELECT * FROM post_tag WHERE post_id = ANY($1)",
                "38: SELECT * FROM note WHERE post_id = $1",
            ]
        );
    }

    /// A repository's methods take the model from the class (`model =
    /// Post`): `self.model` and `cls.model` are that model. A class that
    /// does not name it, or assigns it again at run time, gives nothing.
    #[test]
    fn repository_methods_read_the_model_from_the_class() {
        let code = r#"
from sqlalchemy import select, update
from app.models import Note, Post


class Repository(Generic[M]):
    model: type[M]

    def get_by(self, session, **kw):
        return session.execute(select(self.model).where(self.model.status == "x")).scalar_one()


class PostRepository(Repository[Post]):
    model = Post

    def by_author(self, session, uid):
        stmt = select(self.model).where(self.model.author_id == uid).order_by(self.model.id.desc())
        return session.execute(stmt).scalars().all()

    @classmethod
    def with_notes(cls, session):
        def inner():
            return session.execute(select(cls.model).options(selectinload(cls.model.notes)))
        return inner()


class NoteRepository(Repository[Note]):
    model: type[Note] = Note
    other = Post

    def __init__(self, model):
        self.model = model

    def drafts(self, session):
        session.execute(update(self.model).where(self.model.draft == True))
        session.query(self.other).filter(self.other.parent_id == 1).all()
"#;
        assert_eq!(
            loaded(LOADER_MODELS, code),
            [
                "18: SELECT * FROM post WHERE author_id = $1 ORDER BY id DESC",
                "23: SELECT * FROM note WHERE post_id = ANY($1)",
                // `self.model` of `NoteRepository` is assigned in `__init__`.
                "36: SELECT * FROM post WHERE parent_id = 1",
                // Declared `lazy=`, as in the models above.
                "53: SELECT * FROM note WHERE reply_to_id = ANY($1)",
                "37: SELECT * FROM post_tag WHERE post_id = ANY($1)",
                "38: SELECT * FROM note WHERE post_id = $1",
            ]
        );
    }

    /// A relationship whose columns SQLAlchemy must be told, or one ixray
    /// cannot find, gives nothing.
    #[test]
    fn unresolvable_loaders_give_nothing() {
        let code = r#"
from sqlalchemy.orm import selectinload
from app.models import Post, User


def f(session):
    session.query(User).options(selectinload(User.anything)).all()
    session.query(User).options(selectinload(User.missing), selectinload("posts.replies")).all()
    options = [selectinload("posts")]
    session.query(User).options(selectinload(Unknown.posts), selectinload(User.posts.of_type(Post))).all()
"#;
        let patterns = loaded(LOADER_MODELS, code);
        assert!(
            patterns
                .iter()
                .all(|p| ["37:", "38:", "53:"].iter().any(|l| p.starts_with(l))),
            "{patterns:?}"
        );
    }
}
