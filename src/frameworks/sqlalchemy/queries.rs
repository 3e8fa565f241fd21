//! Reads the SQLAlchemy queries of one Python file — `select(M)`,
//! `session.query(M)`, `M.query` (Flask-SQLAlchemy), `session.get(M, id)`,
//! `update(M)`, `delete(M)` chains — with their conditions, orderings and
//! limits as written (model and attribute names). `resolve` turns them
//! into access patterns in SQL names; a query whose model, attribute or
//! method is unknown is left out whole.

use std::sync::Arc;

use rustc_hash::FxHashMap;
use tree_sitter::Node;

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
#[derive(Debug)]
pub struct QueryFile {
    pub source: Arc<SourceFile>,
    /// `from <module> import <name> [as <local>]`: local → (module, name).
    pub imports: FxHashMap<String, (String, String)>,
    pub queries: Vec<Query>,
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
        || has(b".scalar")
        || ((has(b".get(") || has(b".get_one(")) && (has(b"session") || has(b"db.")))
}

/// Read the queries of a file, parsing only the statements that may hold
/// one (see `python_statements`).
pub fn extract(source: Arc<SourceFile>) -> QueryFile {
    let text = source.text.as_str();
    let picked = statements::pick(text, line_mentions_query);
    let mut file = QueryFile {
        imports: picked.imports,
        queries: Vec::new(),
        source: source.clone(),
    };
    let mut locals: FxHashMap<String, usize> = FxHashMap::default();
    statements::visit_statements(text, &picked.lines, |statement, code, offset, new_scope| {
        if new_scope {
            locals.clear();
        }
        let mut reader = Reader {
            text: code,
            offset,
            queries: &mut file.queries,
            locals: &mut locals,
        };
        reader.walk(statement);
    });
    file.queries.sort_by_key(|q| q.span.start);
    file
}

struct Reader<'a> {
    text: &'a str,
    offset: isize,
    queries: &'a mut Vec<Query>,
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
        if node.kind() == "assignment"
            && let (Some(left), Some(right)) = (node.field("left"), node.field("right"))
            && left.kind() == "identifier"
        {
            let name = py::text(left, self.text).to_string();
            let mut args = Vec::new();
            match self.chain(right, &mut args) {
                Some(query) => {
                    self.queries.push(query);
                    self.locals.insert(name, self.queries.len() - 1);
                }
                None => {
                    self.locals.remove(&name);
                    self.walk(right);
                }
            }
            for arg in args {
                self.walk(arg);
            }
            return;
        }
        let mut args = Vec::new();
        if let Some(query) = self.chain(node, &mut args) {
            self.queries.push(query);
            for arg in args {
                self.walk(arg);
            }
            return;
        }
        let mut cursor = node.walk();
        for child in node.named_children(&mut cursor) {
            self.walk(child);
        }
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
    let mut out = Vec::new();
    for file in files {
        for query in file.queries.iter().filter(|q| !q.continued) {
            let resolver = Resolver {
                file,
                by_class: &by_class,
            };
            if let Some(patterns) = resolver.patterns(query, &tables) {
                out.extend(patterns);
            }
        }
    }
    out
}

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
        let mut own = AccessPattern {
            table: own_mapped.qualified(),
            framework: Framework::Sqlalchemy,
            conditions: Vec::new(),
            order: Vec::new(),
            order_implicit: false,
            limited: false,
            operation: Operation::Select,
            disjunction: false,
            location,
        };
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
                                    joined.push(AccessPattern {
                                        table,
                                        conditions: Vec::new(),
                                        order: Vec::new(),
                                        order_implicit: false,
                                        limited: false,
                                        operation: Operation::Select,
                                        disjunction: false,
                                        ..own.clone()
                                    });
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
}
