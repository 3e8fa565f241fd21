//! Reads the Drizzle queries of one script: `db.select().from(t)` chains,
//! `db.update(t)`, `db.delete(t)`, `db.$count(t)` and the relational
//! `db.query.<key>.findMany/findFirst({ ... })`, with the conditions,
//! orderings and limits they ask for, in code names (`users.createdAt`).
//! Which table a name means and its columns' SQL names are resolved with
//! the whole project (`resolve`). A query with anything ixray cannot read
//! (`sql` templates, conditions built at run time, methods it does not
//! know) is left out whole: nothing is guessed.

use std::path::Path;
use std::sync::Arc;

use oxc_ast::ast::{BindingPattern, Expression};
use rustc_hash::FxHashSet;

use super::project::{DrizzleProject, QueryTables};
use super::schema::{ColumnRef, Import, TableRef, callback_result, column_ref, column_ref_table};
use crate::frameworks::markers::{MarkedBytes, Marker};
use crate::frameworks::typescript::{
    ChainLink, Visited, arguments, as_array, as_object, call_chain_of, object_pairs, object_value,
    span, string_value, unwrap_expression, walk,
};
use crate::schema::{
    AccessPattern, Condition, ConditionOp, Framework, OrderColumn, QueryOperation, RangeBound,
};
use crate::source::{SourceFile, Span};

/// The queries of one script, unresolved.
#[derive(Debug, Clone)]
pub struct QueryFile {
    pub source: Arc<SourceFile>,
    pub imports: Vec<Import>,
    pub queries: Vec<Query>,
}

/// One query call site.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub target: Target,
    pub operation: QueryOperation,
    pub conditions: Vec<Comparison>,
    /// An `or()` (or a negated `and()`) joins conditions.
    pub disjunction: bool,
    /// (column, descending).
    pub order: Vec<(ColumnRef, bool)>,
    pub limited: bool,
    pub joins: Vec<Join>,
    /// `with: { posts: ... }` of a relational query: each relation loaded
    /// runs a query of its own on the related table.
    pub with: Vec<Loaded>,
    pub span: Span,
}

/// One entry of `with`: the relation's field, and what its own config
/// asks (`where`, `orderBy`, `limit`, nested `with`), in a query whose
/// span is the entry's.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    pub field: String,
    pub query: Query,
}

/// The table a query reads, as the code names it.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// `.from(users)`, `update(schema.users)`.
    Table(TableRef),
    /// `db.query.users`: the key of the schema object given to `drizzle()`.
    Relational(String),
}

/// `.innerJoin(t2, on)`: the joined table and the conditions of `on`.
#[derive(Debug, Clone, PartialEq)]
pub struct Join {
    pub table: TableRef,
    pub on: Vec<Comparison>,
}

/// `eq(users.email, x)`: a column compared with a value.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub column: ColumnRef,
    pub op: ConditionOp,
    pub value: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A literal, as SQL text: `true`, `'open'`, `3`.
    Constant(String),
    /// Another column (`eq(posts.authorId, users.id)`), or a member
    /// expression that may turn out not to be one.
    Column(ColumnRef),
    /// Anything computed.
    Parameter,
}

/// Whether a script is test code: its queries say nothing about what the
/// application asks of the database in production.
pub fn is_test_path(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    name.contains(".test.")
        || name.contains(".spec.")
        || path.components().any(|c| {
            matches!(
                c.as_os_str().to_str(),
                Some("__tests__" | "test" | "tests" | "e2e")
            )
        })
}

/// The cheap byte prefilter: scripts that may hold a query. Query code
/// often imports its tables from the project's schema module and never
/// names drizzle, so this looks for the query builder's own methods
/// (`.from(` only with a `select`: `Array.from(` is everywhere).
pub fn mentions_queries(file: &MarkedBytes) -> bool {
    file.has(Marker::WhereCall)
        || (file.has(Marker::FromCall) && file.has(Marker::Select))
        || file.has(Marker::FindMany)
        || file.has(Marker::FindFirst)
        || file.has(Marker::Count)
}

/// Methods of a select, update or delete chain that neither filter, order
/// nor limit it, nor change which rows it reads.
const PASS_THROUGH: &[&str] = &[
    "offset",
    "groupBy",
    "having",
    "for",
    "prepare",
    "execute",
    "then",
    "catch",
    "finally",
    "as",
    "all",
    "get",
    "run",
    "values",
    "returning",
    "set",
    "toSQL",
];

/// The drizzle-orm filter operators read.
const COMPARISONS: &[&str] = &[
    "eq",
    "ne",
    "gt",
    "gte",
    "lt",
    "lte",
    "between",
    "notBetween",
    "inArray",
    "notInArray",
    "isNull",
    "isNotNull",
    "like",
    "notLike",
    "ilike",
    "notIlike",
    "arrayContains",
    "arrayContained",
    "arrayOverlaps",
];

/// Read the queries of a parsed script. `imports` are the script's
/// imports (as `schema::extract` reads them).
pub fn extract<'a>(
    source: Arc<SourceFile>,
    imports: Vec<Import>,
    program: &oxc_ast::ast::Program<'a>,
) -> QueryFile {
    let mut queries = Vec::new();
    // Where each chain read so far starts: its inner calls (`db.select()
    // .from(t)` inside `….where(…)`) start there too and are no query of
    // their own.
    let mut seen: FxHashSet<usize> = FxHashSet::default();
    let operators = Operators::imported(&imports);
    walk(program, |node| {
        let Visited::Call(call) = node else {
            return true;
        };
        let whole = span(call);
        if seen.contains(&whole.start) {
            return true;
        }
        let Some(links) = call_chain_of(call) else {
            return true;
        };
        match read_chain(&links, &operators, whole) {
            Read::NotAQuery => {}
            Read::Unknown => {
                seen.insert(whole.start);
            }
            Read::Query(query) => {
                seen.insert(whole.start);
                queries.push(*query);
            }
        }
        true
    });
    queries.sort_by_key(|q| q.span.start);
    QueryFile {
        source,
        imports,
        queries,
    }
}

enum Read {
    NotAQuery,
    /// A query with something ixray cannot read.
    Unknown,
    Query(Box<Query>),
}

/// What the operator functions are called in a piece of code: imported
/// names (from drizzle-orm, or from the project's own module that
/// re-exports them), or the names a relational callback destructures
/// from its second parameter (`(t, { eq }) => …`, `(t, ops) => ops.eq(…)`).
#[derive(Clone, Default)]
struct Operators {
    /// local name → operator.
    names: Vec<(String, String)>,
    /// A callback's operators object.
    object: Option<String>,
    /// A callback's table parameter.
    this: String,
}

impl Operators {
    fn imported(imports: &[Import]) -> Operators {
        let names = imports
            .iter()
            .filter_map(|i| {
                let imported = i.imported.as_deref()?;
                is_operator(imported).then(|| (i.local.clone(), imported.to_string()))
            })
            .collect();
        Operators {
            names,
            ..Operators::default()
        }
    }

    /// The operators in a relational callback `(t, { eq, and }) => …`.
    fn in_callback(&self, callback: &Expression) -> Option<Operators> {
        let params = match unwrap_expression(callback) {
            Expression::ArrowFunctionExpression(arrow) => &arrow.params,
            Expression::FunctionExpression(function) => &function.params,
            _ => return None,
        };
        let mut out = self.clone();
        out.this = String::new();
        if let Some(first) = params.items.first() {
            let BindingPattern::BindingIdentifier(name) = &first.pattern else {
                return None;
            };
            out.this = name.name.to_string();
            // The parameter shadows an import of the same name.
            out.names.retain(|(local, _)| *local != out.this);
        }
        if let Some(second) = params.items.get(1) {
            match &second.pattern {
                BindingPattern::BindingIdentifier(name) => out.object = Some(name.name.to_string()),
                BindingPattern::ObjectPattern(pattern) => {
                    if pattern.rest.is_some() {
                        return None;
                    }
                    for property in &pattern.properties {
                        let key = crate::frameworks::typescript::property_key(&property.key)?;
                        let BindingPattern::BindingIdentifier(local) = &property.value else {
                            return None;
                        };
                        let local = local.name.to_string();
                        out.names.retain(|(l, _)| *l != local);
                        if is_operator(&key) {
                            out.names.push((local, key));
                        }
                    }
                }
                _ => return None,
            }
        }
        Some(out)
    }

    /// The operator a callee names.
    fn of<'e>(&'e self, callee: &'e Expression) -> Option<&'e str> {
        match unwrap_expression(callee) {
            Expression::Identifier(name) => self
                .names
                .iter()
                .find(|(local, _)| *local == name.name.as_str())
                .map(|(_, op)| op.as_str()),
            Expression::StaticMemberExpression(member) => {
                let Expression::Identifier(object) = &member.object else {
                    return None;
                };
                let name = member.property.name.as_str();
                (self.object.as_deref() == Some(object.name.as_str()) && is_operator(name))
                    .then_some(name)
            }
            _ => None,
        }
    }
}

fn is_operator(name: &str) -> bool {
    COMPARISONS.contains(&name) || matches!(name, "and" | "or" | "not" | "asc" | "desc")
}

fn new_query(target: Target, operation: QueryOperation, span: Span) -> Query {
    Query {
        target,
        operation,
        conditions: Vec::new(),
        disjunction: false,
        order: Vec::new(),
        limited: false,
        joins: Vec::new(),
        with: Vec::new(),
        span,
    }
}

fn read_chain(links: &[ChainLink], operators: &Operators, whole: Span) -> Read {
    let Some((root, rest)) = links.split_first() else {
        return Read::NotAQuery;
    };
    let Some(object) = root.object else {
        return Read::NotAQuery;
    };
    let args = arguments(root.arguments);
    let (mut query, rest) = match root.name {
        "select" | "selectDistinct" | "selectDistinctOn" => {
            let Some((from, rest)) = rest.split_first() else {
                return Read::NotAQuery;
            };
            if from.name != "from" {
                return Read::NotAQuery;
            }
            let table = match arguments(from.arguments).as_slice() {
                [table] => column_ref_table(table),
                _ => None,
            };
            let Some(table) = table else {
                return Read::Unknown;
            };
            (
                new_query(Target::Table(table), QueryOperation::Select, whole),
                rest,
            )
        }
        "update" | "delete" | "$count" => {
            let table = match (root.name, args.as_slice()) {
                ("$count", [table, ..]) if args.len() <= 2 => column_ref_table(table),
                (_, [table]) => column_ref_table(table),
                _ => None,
            };
            let Some(table) = table else {
                return Read::NotAQuery;
            };
            // `hash.update(data)`, `map.delete(key)`: a drizzle update sets.
            if root.name == "update" && rest.first().is_none_or(|l| l.name != "set") {
                return Read::NotAQuery;
            }
            let operation = match root.name {
                "update" => QueryOperation::Update,
                "delete" => QueryOperation::Delete,
                _ => QueryOperation::Count,
            };
            let mut query = new_query(Target::Table(table), operation, whole);
            if root.name == "$count"
                && let Some(filter) = args.get(1)
                && read_condition(filter, operators, false, &mut query).is_none()
            {
                return Read::Unknown;
            }
            (query, rest)
        }
        "findMany" | "findFirst" => {
            let Some(key) = relational_key(object) else {
                return Read::NotAQuery;
            };
            let mut query = new_query(Target::Relational(key), QueryOperation::Select, whole);
            query.limited = root.name == "findFirst";
            if root.arguments.len() != args.len()
                || args.len() > 1
                || args
                    .first()
                    .is_some_and(|config| read_relational(config, operators, &mut query).is_none())
            {
                return Read::Unknown;
            }
            (query, rest)
        }
        _ => return Read::NotAQuery,
    };
    for link in rest {
        let args = arguments(link.arguments);
        if args.len() != link.arguments.len() {
            // A spread: arguments built at run time.
            return Read::Unknown;
        }
        let read = match (link.name, args.as_slice()) {
            ("where", [condition]) => read_condition(condition, operators, false, &mut query),
            ("orderBy", columns) if !columns.is_empty() => columns
                .iter()
                .try_for_each(|c| read_order(c, operators, &mut query.order)),
            ("limit", [_]) => {
                query.limited = true;
                Some(())
            }
            ("innerJoin" | "leftJoin" | "rightJoin" | "fullJoin", [table, on])
                if query.operation == QueryOperation::Select =>
            {
                read_join(table, Some(on), operators, &mut query)
            }
            ("crossJoin", [table]) => read_join(table, None, operators, &mut query),
            (name, _) if PASS_THROUGH.contains(&name) => Some(()),
            _ => None,
        };
        if read.is_none() {
            return Read::Unknown;
        }
    }
    Read::Query(Box::new(query))
}

/// `db.query.users`, `tx.query.users`, `ctx.db.query.users` → `users`.
fn relational_key(object: &Expression) -> Option<String> {
    let Expression::StaticMemberExpression(member) = unwrap_expression(object) else {
        return None;
    };
    let Expression::StaticMemberExpression(query) = unwrap_expression(&member.object) else {
        return None;
    };
    (query.property.name == "query").then(|| member.property.name.to_string())
}

/// The config object of `findMany`/`findFirst`.
fn read_relational(config: &Expression, operators: &Operators, query: &mut Query) -> Option<()> {
    let object = as_object(config)?;
    let pairs = object_pairs(object);
    // A spread or a computed key: options built at run time.
    if pairs.len() != object.properties.len() {
        return None;
    }
    for (key, value, _) in pairs {
        match key.as_str() {
            "where" => match callback(value, operators)? {
                (Some(result), ops) => read_condition(result, &ops, false, query)?,
                (None, _) => read_condition(value, operators, false, query)?,
            },
            "orderBy" => {
                let (value, ops) = match callback(value, operators)? {
                    (Some(result), ops) => (result, ops),
                    (None, ops) => (value, ops),
                };
                match as_array(value) {
                    Some(array) => {
                        for element in array.elements.iter() {
                            read_order(element.as_expression()?, &ops, &mut query.order)?;
                        }
                    }
                    None => read_order(value, &ops, &mut query.order)?,
                }
            }
            "limit" => query.limited = true,
            "with" => query.with = read_with(value, operators),
            // Which columns come back: not which rows.
            "columns" | "extras" | "offset" => {}
            _ => return None,
        }
    }
    Some(())
}

/// The relations a `with` object loads: `{ posts: true }`, `{ posts: {
/// where, orderBy, limit, with } }`. Of an entry whose options ixray
/// cannot read, only the relation itself (and what it nests) is kept.
fn read_with(value: &Expression, operators: &Operators) -> Vec<Loaded> {
    let Some(object) = as_object(value) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (field, value, pair) in object_pairs(object) {
        let mut query = new_query(
            Target::Relational(field.clone()),
            QueryOperation::Select,
            pair,
        );
        match unwrap_expression(value) {
            Expression::BooleanLiteral(b) if !b.value => continue,
            Expression::BooleanLiteral(_) => {}
            _ => {
                if read_relational(value, operators, &mut query).is_none() {
                    // A filter built at run time (`cond ? eq(…) : undefined`)
                    // still reads by the relation's columns: that much is
                    // certain, the rest is left out.
                    query = new_query(
                        Target::Relational(field.clone()),
                        QueryOperation::Select,
                        pair,
                    );
                    if let Some(with) = as_object(value).and_then(|o| object_value(o, "with")) {
                        query.with = read_with(with, operators);
                    }
                }
            }
        }
        out.push(Loaded { field, query });
    }
    out
}

/// A relational callback's result and its operators; `(None, ..)` when
/// the value is no function.
fn callback<'e>(
    value: &'e Expression<'e>,
    operators: &Operators,
) -> Option<(Option<&'e Expression<'e>>, Operators)> {
    match unwrap_expression(value) {
        Expression::ArrowFunctionExpression(_) | Expression::FunctionExpression(_) => {
            let ops = operators.in_callback(value)?;
            Some((Some(callback_result(value)?), ops))
        }
        _ => Some((None, operators.clone())),
    }
}

fn read_join(
    table: &Expression,
    on: Option<&Expression>,
    operators: &Operators,
    query: &mut Query,
) -> Option<()> {
    let table = column_ref_table(table)?;
    let mut conditions = new_query(
        Target::Table(table.clone()),
        QueryOperation::Select,
        query.span,
    );
    if let Some(on) = on {
        read_condition(on, operators, false, &mut conditions)?;
    }
    query.joins.push(Join {
        table,
        on: conditions.conditions,
    });
    Some(())
}

/// `asc(t.c)`, `desc(t.c)`, `t.c`.
fn read_order(
    expression: &Expression,
    operators: &Operators,
    out: &mut Vec<(ColumnRef, bool)>,
) -> Option<()> {
    let expression = unwrap_expression(expression);
    if let Expression::CallExpression(call) = expression {
        let desc = match operators.of(&call.callee)? {
            "asc" => false,
            "desc" => true,
            _ => return None,
        };
        let args = arguments(&call.arguments);
        let [column] = args.as_slice() else {
            return None;
        };
        if call.arguments.len() != 1 {
            return None;
        }
        out.push((column_ref(column, &operators.this)?, desc));
        return Some(());
    }
    out.push((column_ref(expression, &operators.this)?, false));
    Some(())
}

/// Read a filter into the query's conditions; `None` when any part of it
/// is unknown (a `sql` template, a condition chosen at run time such as
/// `cond ? eq(…) : undefined`, a variable, a spread). `negated`: under
/// an odd number of `not()`.
fn read_condition(
    expression: &Expression,
    operators: &Operators,
    negated: bool,
    query: &mut Query,
) -> Option<()> {
    let Expression::CallExpression(call) = unwrap_expression(expression) else {
        return None;
    };
    let operator = operators.of(&call.callee)?;
    let args = arguments(&call.arguments);
    if args.len() != call.arguments.len() {
        return None;
    }
    match operator {
        // not(and(a, b)) is or(not(a), not(b)).
        "and" | "or" => {
            if (operator == "or") != negated && args.len() > 1 {
                query.disjunction = true;
            }
            args.iter()
                .try_for_each(|a| read_condition(a, operators, negated, query))
        }
        "not" => match args.as_slice() {
            [inner] => read_condition(inner, operators, !negated, query),
            _ => None,
        },
        _ => {
            let (column, rest) = args.split_first()?;
            let column = column_ref(column, &operators.this)?;
            let arity = match operator {
                "isNull" | "isNotNull" => 0,
                "between" | "notBetween" => 2,
                _ => 1,
            };
            if rest.len() != arity {
                return None;
            }
            let value = match rest.first() {
                Some(value) => read_value(value, &operators.this)?,
                None => Value::Parameter,
            };
            use ConditionOp::*;
            let op = match (operator, negated) {
                ("eq", false) | ("ne", true) => Eq,
                ("eq", true) | ("ne", false) => NotEq,
                ("gt" | "gte" | "lt" | "lte", false) => Range(RangeBound::of_operator(operator)?),
                ("gt" | "gte" | "lt" | "lte", true) => {
                    Range(RangeBound::of_operator(operator)?.negated()?)
                }
                ("between", false) | ("notBetween", true) => Range(RangeBound::Between),
                ("inArray", false) | ("notInArray", true) => In,
                ("isNull", false) | ("isNotNull", true) => IsNull,
                ("isNull", true) | ("isNotNull", false) => IsNotNull,
                ("like", false) if matches!(&value, Value::Constant(p) if is_prefix_pattern(p)) => {
                    Prefix
                }
                _ => Other,
            };
            let value = match op {
                Eq | NotEq | Prefix => value,
                // A list, a bound or a pattern is no single value.
                _ if matches!(value, Value::Column(_)) => value,
                _ => Value::Parameter,
            };
            query.conditions.push(Comparison { column, op, value });
            Some(())
        }
    }
}

/// `'abc%'`: a `LIKE` pattern whose only wildcard is one `%` at the end.
fn is_prefix_pattern(sql: &str) -> bool {
    let Some(inner) = sql.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')) else {
        return false;
    };
    let Some(prefix) = inner.strip_suffix('%') else {
        return false;
    };
    !prefix.is_empty() && !prefix.contains(['%', '_', '\\'])
}

/// A compared value; `None` for `null`/`undefined`, which drizzle's types
/// do not accept (the query is left out rather than guessed at).
fn read_value(expression: &Expression, this: &str) -> Option<Value> {
    let expression = unwrap_expression(expression);
    Some(match expression {
        Expression::BooleanLiteral(b) => Value::Constant(b.value.to_string()),
        Expression::NumericLiteral(n) => match n.raw {
            Some(raw) => Value::Constant(raw.to_string()),
            None => Value::Parameter,
        },
        Expression::NullLiteral(_) => return None,
        Expression::Identifier(name) if name.name == "undefined" => return None,
        _ => match string_value(expression) {
            Some(s) => Value::Constant(format!("'{}'", s.replace('\'', "''"))),
            None => match column_ref(expression, this) {
                Some(column) => Value::Column(column),
                None => Value::Parameter,
            },
        },
    })
}

/// The access patterns of the project's Drizzle queries, in SQL names. A
/// query is left out whole when its table or any column it names does not
/// resolve to exactly one table of the project.
pub fn resolve(project: &DrizzleProject, files: &[QueryFile]) -> Vec<AccessPattern> {
    let tables = project.query_tables();
    let mut out = Vec::new();
    for file in files {
        for query in &file.queries {
            out.extend(patterns(project, &tables, file, query));
        }
    }
    out
}

fn patterns(
    project: &DrizzleProject,
    tables: &QueryTables,
    file: &QueryFile,
    query: &Query,
) -> Vec<AccessPattern> {
    let path = file.source.path.as_path();
    let main = match &query.target {
        Target::Table(reference) => tables.named(path, &file.imports, reference),
        Target::Relational(key) => tables.exported(key),
    };
    let Some(main) = main else {
        return Vec::new();
    };
    let mut out = resolve_query(project, tables, file, query, main).unwrap_or_default();
    // The relations load whatever became of the query's own filter.
    loaded_patterns(project, tables, file, main, &query.with, &mut out);
    out
}

/// The queries `with` runs: on the related table, by the relation's
/// columns (`posts.author_id = users.id`, one lookup per parent row, as
/// drizzle's lateral join or correlated subquery does), with the entry's
/// own `where`, `orderBy` and `limit`. A many-to-one reads the target by
/// the key its parent references: nothing to ask of an index.
fn loaded_patterns(
    project: &DrizzleProject,
    tables: &QueryTables,
    file: &QueryFile,
    parent: usize,
    with: &[Loaded],
    out: &mut Vec<AccessPattern>,
) {
    for entry in with {
        let Some(relation) = tables.relation(parent, &entry.field) else {
            continue;
        };
        if !relation.by_target_key
            && let Some(patterns) =
                resolve_query(project, tables, file, &entry.query, relation.table)
            && let Some(mut own) = patterns.into_iter().next()
        {
            let mut conditions: Vec<Condition> = relation
                .columns
                .iter()
                .map(|column| Condition {
                    column: column.clone(),
                    op: ConditionOp::Eq,
                    constant: None,
                })
                .collect();
            conditions.append(&mut own.conditions);
            own.conditions = conditions;
            own.limited |= !relation.many;
            out.push(own);
        }
        loaded_patterns(
            project,
            tables,
            file,
            relation.table,
            &entry.query.with,
            out,
        );
    }
}

fn resolve_query(
    project: &DrizzleProject,
    tables: &QueryTables,
    file: &QueryFile,
    query: &Query,
    main: usize,
) -> Option<Vec<AccessPattern>> {
    let path = file.source.path.as_path();
    let table_of = |reference: &TableRef| tables.named(path, &file.imports, reference);
    let mut joined = Vec::new();
    for join in &query.joins {
        joined.push(table_of(&join.table)?);
    }
    // The table a column reference names: the query's own or a joined one.
    let column_of = |column: &ColumnRef| -> Option<(usize, String)> {
        let table = match &column.table {
            TableRef::This => main,
            reference => table_of(reference)?,
        };
        if table != main && !joined.contains(&table) {
            return None;
        }
        Some((table, tables.column(table, &column.key)?.to_string()))
    };
    let location = Some(file.source.location(query.span));
    let pattern = |table: usize| {
        AccessPattern::select(
            project.tables[table].name.clone(),
            Framework::Drizzle,
            location.clone(),
        )
    };
    let mut own = AccessPattern {
        limited: query.limited,
        operation: query.operation,
        disjunction: query.disjunction,
        ..pattern(main)
    };
    let mut others: Vec<(usize, AccessPattern)> = Vec::new();
    let condition = |c: &Comparison, column: String| Condition {
        column,
        op: c.op,
        constant: match &c.value {
            Value::Constant(v) => Some(v.clone()),
            _ => None,
        },
    };
    for comparison in &query.conditions {
        let (table, column) = column_of(&comparison.column)?;
        if table == main {
            own.conditions.push(condition(comparison, column));
        } else {
            let at = match others.iter().position(|(t, _)| *t == table) {
                Some(at) => at,
                None => {
                    others.push((table, pattern(table)));
                    others.len() - 1
                }
            };
            others[at].1.disjunction |= query.disjunction;
            others[at].1.conditions.push(condition(comparison, column));
        }
    }
    for (join, &table) in query.joins.iter().zip(&joined) {
        let at = match others.iter().position(|(t, _)| *t == table) {
            Some(at) => at,
            None => {
                others.push((table, pattern(table)));
                others.len() - 1
            }
        };
        for comparison in &join.on {
            // `eq(users.id, posts.authorId)` joining posts: the condition
            // on posts is the one an index on posts serves.
            let (column_table, column) = column_of(&comparison.column)?;
            if column_table == table {
                others[at].1.conditions.push(condition(comparison, column));
                continue;
            }
            if let Value::Column(other) = &comparison.value
                && comparison.op == ConditionOp::Eq
            {
                let (other_table, other_column) = column_of(other)?;
                if other_table == table {
                    others[at].1.conditions.push(Condition {
                        column: other_column,
                        op: ConditionOp::Eq,
                        constant: None,
                    });
                }
            }
        }
    }
    for (column, desc) in &query.order {
        let (table, column) = column_of(column)?;
        if table != main {
            return None;
        }
        own.order.push(OrderColumn {
            column,
            desc: *desc,
        });
    }
    let mut out = vec![own];
    out.extend(others.into_iter().map(|(_, p)| p));
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frameworks::typescript::parse;
    use std::path::PathBuf;

    fn queries(code: &str) -> Vec<String> {
        let path = PathBuf::from("queries.ts");
        let source = SourceFile::new(path.clone(), code.to_string());
        parse(&path, code, |parsed| {
            let file = super::super::schema::extract(source.clone(), &parsed.program);
            extract(source.clone(), file.imports, &parsed.program)
        })
        .unwrap()
        .queries
        .iter()
        .map(describe)
        .collect()
    }

    fn table(reference: &TableRef) -> String {
        match reference {
            TableRef::This => "this".into(),
            TableRef::Var(v) => v.clone(),
            TableRef::Namespaced(ns, v) => format!("{ns}.{v}"),
        }
    }

    fn column(c: &ColumnRef) -> String {
        format!("{}.{}", table(&c.table), c.key)
    }

    fn comparisons(list: &[Comparison]) -> String {
        list.iter()
            .map(|c| {
                let value = match &c.value {
                    Value::Constant(v) => v.clone(),
                    Value::Column(other) => column(other),
                    Value::Parameter => "?".into(),
                };
                format!("{} {:?} {value}", column(&c.column), c.op)
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn describe(q: &Query) -> String {
        let target = match &q.target {
            Target::Table(t) => table(t),
            Target::Relational(key) => format!("query.{key}"),
        };
        let mut out = format!("{:?} {target}", q.operation);
        for join in &q.joins {
            out.push_str(&format!(
                " join {} on [{}]",
                table(&join.table),
                comparisons(&join.on)
            ));
        }
        if !q.conditions.is_empty() {
            out.push_str(&format!(" where [{}]", comparisons(&q.conditions)));
        }
        if q.disjunction {
            out.push_str(" OR");
        }
        if !q.order.is_empty() {
            let order: Vec<String> = q
                .order
                .iter()
                .map(|(c, desc)| format!("{}{}", column(c), if *desc { " desc" } else { "" }))
                .collect();
            out.push_str(&format!(" order [{}]", order.join(", ")));
        }
        if q.limited {
            out.push_str(" limited");
        }
        for loaded in &q.with {
            out.push_str(&format!(
                " with {}{{{}}}",
                loaded.field,
                describe(&loaded.query)
            ));
        }
        out
    }

    #[test]
    fn reads_builder_chains() {
        let code = r#"
import { and, desc, eq, gt, inArray, isNull, like, ilike, not, or, asc, sql } from "drizzle-orm";
import { posts, users } from "./schema";
import * as schema from "./schema";

export async function f(db: any, id: number, ids: number[]) {
  await db.select().from(posts).where(and(eq(posts.authorId, id), gt(posts.score, 3), isNull(posts.deletedAt), inArray(posts.id, ids))).orderBy(desc(posts.createdAt), posts.id).limit(10);
  await db.select({ id: users.id }).from(schema.users).where(eq(schema.users.active, true));
  await db.transaction(async (tx: any) => {
    await tx.update(users).set({ name: "x" }).where(eq(users.id, id)).returning();
    await tx.delete(posts).where(or(eq(posts.status, 'draft'), not(eq(posts.authorId, id))));
  });
  await db.select().from(posts).innerJoin(users, eq(posts.authorId, users.id)).where(like(users.email, "ab%"));
  await db.select().from(posts).where(not(and(eq(posts.a, 1), ilike(posts.b, "%x%"))));
  await db.$count(posts, eq(posts.authorId, id));
}
"#;
        assert_eq!(
            queries(code),
            [
                "Select posts where [posts.authorId Eq ?, posts.score Range(Gt) ?, posts.deletedAt IsNull ?, posts.id In ?] order [posts.createdAt desc, posts.id] limited",
                "Select schema.users where [schema.users.active Eq true]",
                "Update users where [users.id Eq ?]",
                "Delete posts where [posts.status Eq 'draft', posts.authorId NotEq ?] OR",
                "Select posts join users on [posts.authorId Eq users.id] where [users.email Prefix 'ab%']",
                "Select posts where [posts.a NotEq 1, posts.b Other ?] OR",
                "Count posts where [posts.authorId Eq ?]",
            ]
        );
    }

    #[test]
    fn reads_relational_queries_in_both_forms() {
        let code = r#"
import { desc, eq } from "@acme/db";
import { posts } from "@acme/db/schema";

export async function f(db: any, id: string) {
  await db.query.posts.findMany({ where: eq(posts.userId, id), orderBy: [desc(posts.createdAt)], limit: 5, with: { author: true } });
  await db.query.posts.findFirst({ where: (t, { eq, and }) => and(eq(t.userId, id), eq(t.published, true)), orderBy: (t, { desc }) => [desc(t.createdAt)] });
  await db.query.posts.findFirst({ where: (p, ops) => ops.eq(p.slug, "home"), orderBy: desc(posts.id) });
  await db.query.users.findMany();
}
"#;
        assert_eq!(
            queries(code),
            [
                "Select query.posts where [posts.userId Eq ?] order [posts.createdAt desc] limited with author{Select query.author}",
                "Select query.posts where [this.userId Eq ?, this.published Eq true] order [this.createdAt desc] limited",
                "Select query.posts where [this.slug Eq 'home'] order [posts.id desc] limited",
                "Select query.users",
            ]
        );
    }

    /// What cannot be read leaves the whole query out; what is no query is
    /// not read.
    #[test]
    fn leaves_out_what_it_cannot_read() {
        let code = r#"
import { and, eq, sql } from "drizzle-orm";
import { posts } from "./schema";

export async function f(db: any, id: number, cond: boolean, filters: any[], opts: any) {
  await db.select().from(posts).where(and(eq(posts.authorId, id), cond ? eq(posts.x, 1) : undefined));
  await db.select().from(posts).where(sql`${posts.id} = ${id}`);
  await db.select().from(posts).where(and(...filters));
  await db.select().from(posts).where(eq(posts.authorId, id)).$dynamic();
  await db.select().from(posts).orderBy(sql`random()`);
  await db.query.posts.findMany({ ...opts, where: eq(posts.id, id) });
  await db.query.posts.findMany(opts);
  await db.select().from(posts).where(eq(posts.authorId, null));
  await db.select().from(posts).where(equals(posts.authorId, id));
  new Map().delete(id);
  hash.update(id);
  Array.from(filters).filter(Boolean);
  await db.select().from(posts).where(eq(posts.authorId, id));
}
"#;
        // `map.delete(id)` reads like `db.delete(t)`: `id` is no table, so
        // resolution drops it.
        assert_eq!(
            queries(code),
            ["Delete id", "Select posts where [posts.authorId Eq ?]"]
        );
    }

    #[test]
    fn test_files_and_the_prefilter() {
        for path in [
            "src/a.test.ts",
            "src/a.spec.tsx",
            "src/__tests__/a.ts",
            "test/a.ts",
            "packages/db/tests/a.ts",
        ] {
            assert!(is_test_path(Path::new(path)), "{path}");
        }
        assert!(!is_test_path(Path::new("src/queries/latest.ts")));
        let mentions = |bytes: &[u8]| mentions_queries(&MarkedBytes::new(bytes));
        assert!(mentions(b"await db.query.users.findFirst({})"));
        assert!(mentions(b"db.select().from(t)"));
        assert!(!mentions(b"export const x = Array.from(y);"));
    }

    #[test]
    fn reads_the_relations_a_relational_query_loads() {
        let code = r#"
import { desc } from "drizzle-orm";
import { comments } from "./schema";

export async function f(db: any, id: number) {
  await db.query.users.findMany({ with: { posts: { where: (p, { eq }) => eq(p.published, true), orderBy: [desc(comments.id)], limit: 3, with: { comments: true } }, profile: true, skipped: false, odd: { where: id ? eq(comments.id, id) : undefined, with: { a: true } } } });
}
"#;
        assert_eq!(
            queries(code),
            [
                "Select query.users with posts{Select query.posts where [this.published Eq true] order [comments.id desc] limited with comments{Select query.comments}} with profile{Select query.profile} with odd{Select query.odd with a{Select query.a}}"
            ]
        );
    }

    /// The patterns of `code` over the schema `schema` (one file each),
    /// as SQL at their lines.
    fn loaded(schema: &str, code: &str) -> Vec<String> {
        let read = |path: &str, text: &str| {
            let path = PathBuf::from(path);
            let source = SourceFile::new(path.clone(), text.to_string());
            parse(&path, text, |parsed| {
                let file = super::super::schema::extract(source.clone(), &parsed.program);
                let queries = extract(source.clone(), file.imports.clone(), &parsed.program);
                (file, queries)
            })
            .unwrap()
        };
        let (schema_file, _) = read("src/schema.ts", schema);
        let (code_file, queries) = read("src/queries.ts", code);
        let mut errors = Vec::new();
        let project = super::super::project::resolve(
            super::super::project::Inputs {
                files: vec![schema_file, code_file],
                ..Default::default()
            },
            &mut errors,
        );
        resolve(&project, &[queries])
            .iter()
            .map(|p| {
                let line = p.location.as_ref().map_or(0, |l| l.line);
                format!("{line}: {}", p.sql())
            })
            .collect()
    }

    const RELATIONS_SCHEMA: &str = r#"
import { relations } from "drizzle-orm";
import { boolean, integer, pgTable, text } from "drizzle-orm/pg-core";

export const users = pgTable("users", { id: integer().primaryKey(), name: text() });
export const posts = pgTable("posts", {
  id: integer().primaryKey(),
  authorId: integer("author_id").notNull(),
  editorId: integer("editor_id"),
  published: boolean().notNull(),
  rank: integer().notNull(),
});
export const comments = pgTable("comments", { id: integer().primaryKey(), postId: integer("post_id").notNull() });

export const usersRelations = relations(users, ({ many }) => ({
  posts: many(posts, { relationName: "author" }),
  edited: many(posts, { relationName: "editor" }),
  anyPosts: many(posts),
}));
export const postsRelations = relations(posts, ({ one, many }) => ({
  author: one(users, { fields: [posts.authorId], references: [users.id], relationName: "author" }),
  editor: one(users, { fields: [posts.editorId], references: [users.id], relationName: "editor" }),
  comments: many(comments),
}));
export const commentsRelations = relations(comments, ({ one }) => ({
  post: one(posts, { fields: [comments.postId], references: [posts.id] }),
}));
"#;

    #[test]
    fn relations_load_by_the_reverse_relation_columns() {
        let code = r#"
import { asc } from "drizzle-orm";
import { posts } from "./schema";

export async function f(db: any) {
  await db.query.users.findMany({
    with: {
      posts: { where: (p, { eq }) => eq(p.published, true), orderBy: [asc(posts.rank)], limit: 5, with: { comments: true, author: true } },
      edited: true,
    },
  });
}
"#;
        assert_eq!(
            loaded(RELATIONS_SCHEMA, code),
            [
                "6: SELECT * FROM users",
                "8: SELECT * FROM posts WHERE author_id = $1 AND published = true ORDER BY rank LIMIT 1",
                "8: SELECT * FROM comments WHERE post_id = $1",
                "9: SELECT * FROM posts WHERE editor_id = $1",
            ]
        );
    }

    /// A relation drizzle could not resolve either (two reverse relations
    /// and no `relationName`), or one ixray does not know, gives nothing.
    #[test]
    fn unresolvable_relations_give_nothing() {
        let code = r#"
export async function f(db: any) {
  await db.query.users.findMany({ with: { anyPosts: true, unknown: true } });
  await db.query.comments.findMany({ with: { post: { with: { missing: true } } } });
}
"#;
        assert_eq!(
            loaded(RELATIONS_SCHEMA, code),
            ["3: SELECT * FROM users", "4: SELECT * FROM comments"]
        );
    }
}
