//! Reads one TypeScript/JavaScript file into Drizzle facts: imports, table
//! declarations (`pgTable`, `mysqlTable`, `sqliteTable`, `pgSchema().table`,
//! table creators) with their columns and extra config, shared column
//! objects, `relations()` and `drizzle({ casing })`. Names of other tables
//! stay unresolved here; `project.rs` resolves them across files.

use std::sync::Arc;

use tree_sitter::{Node, Tree};

use super::{Casing, builder_dialect};
use crate::frameworks::typescript::{
    ChainLink, arguments, array_elements, call_chain, object_pairs, object_value, span,
    string_value, text, unwrap_expression,
};
use crate::schema::Dialect;
use crate::source::{SourceFile, Span};

#[derive(Debug)]
pub struct DrizzleFile {
    pub source: Arc<SourceFile>,
    pub imports: Vec<Import>,
    /// `{ ... }` of each named import, for adding a name to it.
    pub named_imports: Vec<NamedImports>,
    /// Where a new import statement goes (after the last one).
    pub imports_end: usize,
    pub tables: Vec<TableDecl>,
    /// Top-level objects of column builders (`const timestamps = {...}`),
    /// spread into tables.
    pub column_sets: Vec<ColumnSet>,
    pub creators: Vec<Creator>,
    pub relations: Vec<RelationDecl>,
    /// `casing` given to `drizzle(...)` in this file.
    pub casing: Option<Casing>,
}

#[derive(Debug, Clone)]
pub struct Import {
    pub local: String,
    /// The exported name, `None` for `import * as local`.
    pub imported: Option<String>,
    pub module: String,
}

#[derive(Debug, Clone)]
pub struct NamedImports {
    pub module: String,
    pub braces: Span,
    pub names: Vec<(String, String)>,
}

/// A variable that makes tables: `pgTableCreator(fn)` or `pgSchema("s")`.
#[derive(Debug, Clone)]
pub struct Creator {
    pub var: String,
    pub dialect: Dialect,
    /// `pgSchema("billing")`: the tables' schema.
    pub schema: Option<String>,
    /// `pgTableCreator((name) => \`app_${name}\`)`: the text around the name.
    pub prefix: String,
    pub suffix: String,
}

/// How a table's builder was named, before cross-file resolution.
#[derive(Debug, Clone)]
pub enum Builder {
    Resolved(Creator),
    /// A creator or schema variable imported from another file.
    Imported(String),
}

#[derive(Debug, Clone)]
pub struct TableDecl {
    /// The variable in code.
    pub var: String,
    pub builder: Builder,
    pub name: String,
    pub columns: Vec<ColumnDecl>,
    /// Names spread into the columns object (`...timestamps`).
    pub spreads: Vec<String>,
    pub extra: Option<ExtraConfig>,
    /// The whole declaration, the columns argument, and the call's
    /// closing parenthesis.
    pub span: Span,
    pub columns_span: Span,
    pub call_end: usize,
}

#[derive(Debug, Clone)]
pub struct ColumnSet {
    pub var: String,
    pub columns: Vec<ColumnDecl>,
}

#[derive(Debug, Clone)]
pub struct ColumnDecl {
    pub key: String,
    /// The chain's first call as named in code (`varchar`, `t.integer`'s
    /// `integer`, a helper's name): `types.rs` tells its type.
    pub builder: Option<String>,
    /// The builder's string argument, if any.
    pub sql_name: Option<String>,
    pub primary_key: bool,
    /// `.unique()`, with its name when given.
    pub unique: Option<Option<String>>,
    pub references: Option<ColumnRef>,
    pub span: Span,
}

/// A column named in code: `t.queueId`, `users.id`, `schema.users.id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnRef {
    pub table: TableRef,
    pub key: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TableRef {
    /// The extra-config callback's parameter: the table itself.
    This,
    /// A variable (a table in this file or an import).
    Var(String),
    /// `ns.var`, from `import * as ns`.
    Namespaced(String, String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigForm {
    /// `(t) => [ ... ]` (drizzle-orm 0.36+).
    Array,
    /// `(t) => ({ key: ... })`, deprecated since 0.38 but still common.
    Object,
}

#[derive(Debug, Clone)]
pub struct ExtraConfig {
    pub param: String,
    pub form: ConfigForm,
    /// The array or object literal holding the entries.
    pub container: Span,
    pub items: Vec<ExtraItem>,
}

#[derive(Debug, Clone)]
pub struct ExtraItem {
    /// The object key, in the object form.
    pub key: Option<String>,
    pub kind: ExtraKind,
    /// The element, or the `key: value` pair.
    pub span: Span,
}

#[derive(Debug, Clone)]
pub enum ExtraKind {
    Index(IndexDecl),
    PrimaryKey {
        name: Option<String>,
        columns: Vec<ColumnRef>,
    },
    ForeignKey {
        name: Option<String>,
        columns: Vec<ColumnRef>,
        foreign: Vec<ColumnRef>,
    },
    Unique {
        name: Option<String>,
        columns: Vec<ColumnRef>,
    },
    Other,
}

#[derive(Debug, Clone)]
pub struct IndexDecl {
    pub name: Option<String>,
    pub unique: bool,
    pub parts: Vec<PartDecl>,
    pub predicate: Option<SqlText>,
    pub method: Option<String>,
}

#[derive(Debug, Clone)]
pub enum PartDecl {
    Column {
        column: ColumnRef,
        desc: bool,
        opclass: Option<String>,
    },
    Expression(SqlText),
}

/// SQL written in code, with column references still in code names.
#[derive(Debug, Clone, Default)]
pub struct SqlText {
    pub pieces: Vec<SqlPiece>,
}

#[derive(Debug, Clone)]
pub enum SqlPiece {
    Text(String),
    Column(ColumnRef),
}

/// `one(target, { fields: [...], references: [...] })` in `relations()`.
#[derive(Debug, Clone)]
pub struct RelationDecl {
    pub table: TableRef,
    pub field: String,
    pub fields: Vec<ColumnRef>,
    pub references: Vec<ColumnRef>,
    pub span: Span,
}

/// The names imported from drizzle-orm, by local name.
struct Scope<'f> {
    imports: &'f [Import],
    creators: Vec<Creator>,
}

impl Scope<'_> {
    /// The drizzle-orm export a local name stands for.
    fn drizzle_name(&self, local: &str) -> Option<&str> {
        self.imports
            .iter()
            .find(|i| i.local == local && i.module.starts_with("drizzle-orm"))
            .and_then(|i| i.imported.as_deref())
    }

    fn is_drizzle(&self, local: &str, export: &str) -> bool {
        self.drizzle_name(local) == Some(export)
    }

    fn imported(&self, local: &str) -> bool {
        self.imports
            .iter()
            .any(|i| i.local == local && !i.module.starts_with("drizzle-orm"))
    }
}

pub fn extract(source: Arc<SourceFile>, tree: &Tree) -> DrizzleFile {
    let text_ = source.text.as_str();
    let root = tree.root_node();
    let mut file = DrizzleFile {
        source: source.clone(),
        imports: Vec::new(),
        named_imports: Vec::new(),
        imports_end: 0,
        tables: Vec::new(),
        column_sets: Vec::new(),
        creators: Vec::new(),
        relations: Vec::new(),
        casing: None,
    };
    let mut declarations = Vec::new();
    let mut cursor = root.walk();
    for statement in root.named_children(&mut cursor) {
        match statement.kind() {
            "import_statement" => {
                read_import(statement, text_, &mut file);
                file.imports_end = statement.end_byte();
            }
            "export_statement" => {
                if let Some(declaration) = statement.child_by_field_name("declaration") {
                    declarations.push((declaration, statement));
                }
            }
            "lexical_declaration" | "variable_declaration" => {
                declarations.push((statement, statement))
            }
            _ => {}
        }
    }
    // `const { pgTable } = require("drizzle-orm/pg-core")`
    for (declaration, _) in &declarations {
        for declarator in declarators(*declaration) {
            read_require(declarator, text_, &mut file.imports);
        }
    }
    let mut scope = Scope {
        imports: &file.imports,
        creators: Vec::new(),
    };
    for (declaration, _) in &declarations {
        for declarator in declarators(*declaration) {
            if let Some(creator) = read_creator(declarator, text_, &scope) {
                scope.creators.push(creator);
            }
        }
    }
    let mut tables = Vec::new();
    let mut column_sets = Vec::new();
    for (declaration, statement) in &declarations {
        for declarator in declarators(*declaration) {
            let (Some(name), Some(value)) = (
                declarator.child_by_field_name("name"),
                declarator.child_by_field_name("value"),
            ) else {
                continue;
            };
            if name.kind() != "identifier" {
                continue;
            }
            let var = text(name, text_).to_string();
            let value = unwrap_expression(value);
            if let Some(table) = read_table(&var, value, *statement, text_, &scope) {
                tables.push(table);
            } else if value.kind() == "object" {
                let columns = read_columns(value, text_);
                if !columns.is_empty() {
                    column_sets.push(ColumnSet { var, columns });
                }
            }
        }
    }
    let mut relations = Vec::new();
    let mut casing = None;
    find_calls(root, &mut |call| {
        let Some(function) = call.child_by_field_name("function") else {
            return;
        };
        if function.kind() != "identifier" {
            return;
        }
        let name = text(function, text_);
        if scope.is_drizzle(name, "relations") {
            read_relations(call, text_, &mut relations);
        } else if scope.drizzle_name(name) == Some("drizzle") {
            for argument in arguments(call.child_by_field_name("arguments")) {
                if argument.kind() == "object"
                    && let Some(value) = object_value(argument, "casing", text_)
                {
                    casing = string_value(value, text_).and_then(|v| Casing::parse(&v));
                }
            }
        }
    });
    file.creators = scope.creators;
    file.tables = tables;
    file.column_sets = column_sets;
    file.relations = relations;
    file.casing = casing;
    file
}

fn declarators(declaration: Node) -> Vec<Node> {
    let mut cursor = declaration.walk();
    declaration
        .named_children(&mut cursor)
        .filter(|n| n.kind() == "variable_declarator")
        .collect()
}

fn read_import(statement: Node, source: &str, file: &mut DrizzleFile) {
    let Some(module) = statement
        .child_by_field_name("source")
        .and_then(|s| string_value(s, source))
    else {
        return;
    };
    let mut cursor = statement.walk();
    let Some(clause) = statement
        .named_children(&mut cursor)
        .find(|n| n.kind() == "import_clause")
    else {
        return;
    };
    let mut cursor = clause.walk();
    for part in clause.named_children(&mut cursor) {
        match part.kind() {
            "identifier" => file.imports.push(Import {
                local: text(part, source).to_string(),
                imported: Some("default".into()),
                module: module.clone(),
            }),
            "namespace_import" => {
                if let Some(name) = part.named_child(0) {
                    file.imports.push(Import {
                        local: text(name, source).to_string(),
                        imported: None,
                        module: module.clone(),
                    });
                }
            }
            "named_imports" => {
                let mut names = Vec::new();
                let mut cursor = part.walk();
                for specifier in part
                    .named_children(&mut cursor)
                    .filter(|n| n.kind() == "import_specifier")
                {
                    let Some(name) = specifier.child_by_field_name("name") else {
                        continue;
                    };
                    let imported = text(name, source).to_string();
                    let local = specifier
                        .child_by_field_name("alias")
                        .map_or(imported.clone(), |a| text(a, source).to_string());
                    names.push((imported.clone(), local.clone()));
                    file.imports.push(Import {
                        local,
                        imported: Some(imported),
                        module: module.clone(),
                    });
                }
                file.named_imports.push(NamedImports {
                    module: module.clone(),
                    braces: span(part),
                    names,
                });
            }
            _ => {}
        }
    }
}

fn read_require(declarator: Node, source: &str, imports: &mut Vec<Import>) {
    let (Some(pattern), Some(value)) = (
        declarator.child_by_field_name("name"),
        declarator.child_by_field_name("value"),
    ) else {
        return;
    };
    let Some(chain) = call_chain(value, source) else {
        return;
    };
    if chain.len() != 1 || chain[0].name != "require" || chain[0].object.is_some() {
        return;
    }
    let Some(module) = arguments(chain[0].arguments)
        .first()
        .and_then(|m| string_value(*m, source))
    else {
        return;
    };
    match pattern.kind() {
        "object_pattern" => {
            let mut cursor = pattern.walk();
            for part in pattern.named_children(&mut cursor) {
                let (imported, local) = match part.kind() {
                    "shorthand_property_identifier_pattern" => {
                        let name = text(part, source).to_string();
                        (name.clone(), name)
                    }
                    "pair_pattern" => {
                        let (Some(key), Some(value)) = (
                            part.child_by_field_name("key"),
                            part.child_by_field_name("value"),
                        ) else {
                            continue;
                        };
                        (
                            text(key, source).to_string(),
                            text(value, source).to_string(),
                        )
                    }
                    _ => continue,
                };
                imports.push(Import {
                    local,
                    imported: Some(imported),
                    module: module.clone(),
                });
            }
        }
        "identifier" => imports.push(Import {
            local: text(pattern, source).to_string(),
            imported: None,
            module,
        }),
        _ => {}
    }
}

/// `const app = pgTableCreator((name) => \`app_${name}\`)` or
/// `const billing = pgSchema("billing")`.
fn read_creator(declarator: Node, source: &str, scope: &Scope) -> Option<Creator> {
    let name = declarator.child_by_field_name("name")?;
    let value = declarator.child_by_field_name("value")?;
    let chain = call_chain(value, source)?;
    let [link] = chain.as_slice() else {
        return None;
    };
    if link.object.is_some() {
        return None;
    }
    let export = scope.drizzle_name(link.name)?;
    let dialect = builder_dialect(export)?;
    let argument = *arguments(link.arguments).first()?;
    let var = text(name, source).to_string();
    if export.ends_with("Schema") {
        return Some(Creator {
            var,
            dialect,
            schema: Some(string_value(argument, source)?),
            prefix: String::new(),
            suffix: String::new(),
        });
    }
    if !export.ends_with("TableCreator") {
        return None;
    }
    // The callback's body is a template around its parameter.
    let parameter = callback_parameter(argument, source)?;
    let body = unwrap_expression(argument.child_by_field_name("body")?);
    let (mut prefix, mut suffix, mut seen) = (String::new(), String::new(), false);
    if body.kind() != "template_string" {
        return None;
    }
    let mut cursor = body.walk();
    for child in body.named_children(&mut cursor) {
        match child.kind() {
            "string_fragment" if seen => suffix.push_str(text(child, source)),
            "string_fragment" => prefix.push_str(text(child, source)),
            "template_substitution"
                if !seen && child.named_child(0).map(|n| text(n, source)) == Some(&parameter) =>
            {
                seen = true
            }
            _ => return None,
        }
    }
    seen.then_some(Creator {
        var,
        dialect,
        schema: None,
        prefix,
        suffix,
    })
}

/// The first parameter's name of an arrow function or function expression.
fn callback_parameter(function: Node, source: &str) -> Option<String> {
    if !matches!(
        function.kind(),
        "arrow_function" | "function_expression" | "function"
    ) {
        return None;
    }
    if let Some(parameter) = function.child_by_field_name("parameter") {
        return Some(text(parameter, source).to_string());
    }
    let parameters = function.child_by_field_name("parameters")?;
    let first = parameters.named_child(0)?;
    let pattern = first.child_by_field_name("pattern").unwrap_or(first);
    Some(text(pattern, source).to_string())
}

/// The expression a callback returns: its expression body, or the
/// `return` of its block body.
fn callback_result(function: Node) -> Option<Node> {
    let body = function.child_by_field_name("body")?;
    if body.kind() != "statement_block" {
        return Some(unwrap_expression(body));
    }
    let mut cursor = body.walk();
    let statement = body
        .named_children(&mut cursor)
        .find(|n| n.kind() == "return_statement")?;
    statement.named_child(0).map(unwrap_expression)
}

fn read_table(
    var: &str,
    value: Node,
    statement: Node,
    source: &str,
    scope: &Scope,
) -> Option<TableDecl> {
    if value.kind() != "call_expression" {
        return None;
    }
    let function = value.child_by_field_name("function")?;
    let builder = match function.kind() {
        "identifier" => {
            let local = text(function, source);
            if let Some(export) = scope.drizzle_name(local) {
                if !export.ends_with("Table") {
                    return None;
                }
                Builder::Resolved(Creator {
                    var: local.to_string(),
                    dialect: builder_dialect(export)?,
                    schema: None,
                    prefix: String::new(),
                    suffix: String::new(),
                })
            } else if let Some(creator) = scope.creators.iter().find(|c| c.var == local) {
                if creator.schema.is_some() {
                    return None;
                }
                Builder::Resolved(creator.clone())
            } else if scope.imported(local) {
                Builder::Imported(local.to_string())
            } else {
                return None;
            }
        }
        // `billing.table("invoices", ...)`
        "member_expression" => {
            let object = function.child_by_field_name("object")?;
            let property = function.child_by_field_name("property")?;
            if text(property, source) != "table" || object.kind() != "identifier" {
                return None;
            }
            let local = text(object, source);
            if let Some(creator) = scope.creators.iter().find(|c| c.var == local) {
                creator.schema.as_ref()?;
                Builder::Resolved(creator.clone())
            } else if scope.imported(local) {
                Builder::Imported(local.to_string())
            } else {
                return None;
            }
        }
        _ => return None,
    };
    let args = arguments(value.child_by_field_name("arguments"));
    let name = string_value(*args.first()?, source)?;
    let columns_arg = *args.get(1)?;
    let columns_object = match unwrap_expression(columns_arg).kind() {
        "object" => unwrap_expression(columns_arg),
        "arrow_function" | "function_expression" => callback_result(columns_arg)?,
        _ => return None,
    };
    if columns_object.kind() != "object" {
        return None;
    }
    let mut spreads = Vec::new();
    let mut cursor = columns_object.walk();
    for child in columns_object.named_children(&mut cursor) {
        if child.kind() == "spread_element"
            && let Some(inner) = child.named_child(0)
            && inner.kind() == "identifier"
        {
            spreads.push(text(inner, source).to_string());
        }
    }
    let extra = args
        .get(2)
        .and_then(|callback| read_extra_config(*callback, source, scope));
    let arguments_node = value.child_by_field_name("arguments")?;
    Some(TableDecl {
        var: var.to_string(),
        builder,
        name,
        columns: read_columns(columns_object, source),
        spreads,
        extra,
        span: span(statement),
        columns_span: span(columns_arg),
        call_end: arguments_node.end_byte() - 1,
    })
}

fn read_columns(object: Node, source: &str) -> Vec<ColumnDecl> {
    let mut columns = Vec::new();
    for (key, value, pair) in object_pairs(object, source) {
        let Some(chain) = call_chain(value, source) else {
            continue;
        };
        let root = chain[0];
        let sql_name = arguments(root.arguments)
            .first()
            .and_then(|a| string_value(*a, source));
        let mut column = ColumnDecl {
            key,
            builder: Some(root.name.to_string()),
            sql_name,
            primary_key: false,
            unique: None,
            references: None,
            span: span(pair),
        };
        for link in &chain[1..] {
            match link.name {
                "primaryKey" => column.primary_key = true,
                "unique" => {
                    column.unique = Some(
                        arguments(link.arguments)
                            .first()
                            .and_then(|a| string_value(*a, source)),
                    )
                }
                "references" => {
                    column.references = arguments(link.arguments)
                        .first()
                        .and_then(|callback| callback_result(*callback))
                        .and_then(|target| column_ref(target, source, ""));
                }
                _ => {}
            }
        }
        columns.push(column);
    }
    columns
}

/// `t.key`, `t["key"]`, `users.key` or `ns.users.key`.
fn column_ref(node: Node, source: &str, this: &str) -> Option<ColumnRef> {
    let node = unwrap_expression(node);
    let (object, key) = match node.kind() {
        "member_expression" => (
            node.child_by_field_name("object")?,
            text(node.child_by_field_name("property")?, source).to_string(),
        ),
        "subscript_expression" => (
            node.child_by_field_name("object")?,
            string_value(node.child_by_field_name("index")?, source)?,
        ),
        _ => return None,
    };
    let object = unwrap_expression(object);
    let table = match object.kind() {
        "identifier" if text(object, source) == this => TableRef::This,
        "identifier" => TableRef::Var(text(object, source).to_string()),
        "member_expression" => {
            let ns = object.child_by_field_name("object")?;
            if ns.kind() != "identifier" {
                return None;
            }
            TableRef::Namespaced(
                text(ns, source).to_string(),
                text(object.child_by_field_name("property")?, source).to_string(),
            )
        }
        _ => return None,
    };
    Some(ColumnRef { table, key })
}

fn column_refs(node: Option<Node>, source: &str, this: &str) -> Vec<ColumnRef> {
    node.map(|n| {
        array_elements(unwrap_expression(n))
            .into_iter()
            .filter_map(|e| column_ref(e, source, this))
            .collect()
    })
    .unwrap_or_default()
}

fn read_extra_config(callback: Node, source: &str, scope: &Scope) -> Option<ExtraConfig> {
    let param = callback_parameter(callback, source)?;
    let result = callback_result(callback)?;
    let form = match result.kind() {
        "array" => ConfigForm::Array,
        "object" => ConfigForm::Object,
        _ => return None,
    };
    let entries: Vec<(Option<String>, Node, Node)> = match form {
        ConfigForm::Array => array_elements(result)
            .into_iter()
            .map(|e| (None, e, e))
            .collect(),
        ConfigForm::Object => object_pairs(result, source)
            .into_iter()
            .map(|(k, v, pair)| (Some(k), v, pair))
            .collect(),
    };
    let items = entries
        .into_iter()
        .map(|(key, value, whole)| ExtraItem {
            key,
            kind: read_extra_item(value, source, &param, scope),
            span: span(whole),
        })
        .collect();
    Some(ExtraConfig {
        param,
        form,
        container: span(result),
        items,
    })
}

fn read_extra_item(value: Node, source: &str, this: &str, scope: &Scope) -> ExtraKind {
    let Some(chain) = call_chain(value, source) else {
        return ExtraKind::Other;
    };
    let root = chain[0];
    if root.object.is_some() {
        return ExtraKind::Other;
    }
    let root_args = arguments(root.arguments);
    let first_string = root_args.first().and_then(|a| string_value(*a, source));
    match scope.drizzle_name(root.name).unwrap_or("") {
        export @ ("index" | "uniqueIndex") => {
            let mut index = IndexDecl {
                name: first_string,
                unique: export == "uniqueIndex",
                parts: Vec::new(),
                predicate: None,
                method: None,
            };
            for link in &chain[1..] {
                let args = arguments(link.arguments);
                match link.name {
                    "on" | "onOnly" => {
                        index.parts = args
                            .iter()
                            .filter_map(|a| index_part(*a, source, this, scope))
                            .collect();
                    }
                    "using" => {
                        if let Some(method) = args.first().and_then(|m| string_value(*m, source)) {
                            index.method = Some(method);
                            index.parts = args[1..]
                                .iter()
                                .filter_map(|a| index_part(*a, source, this, scope))
                                .collect();
                        }
                    }
                    "where" => {
                        index.predicate = args
                            .first()
                            .and_then(|p| condition(*p, source, this, scope));
                    }
                    _ => {}
                }
            }
            ExtraKind::Index(index)
        }
        "primaryKey" => {
            let (name, columns) = match root_args.first() {
                Some(object) if object.kind() == "object" => (
                    object_value(*object, "name", source).and_then(|n| string_value(n, source)),
                    column_refs(object_value(*object, "columns", source), source, this),
                ),
                // The deprecated variadic form `primaryKey(t.a, t.b)`.
                _ => (
                    None,
                    root_args
                        .iter()
                        .filter_map(|a| column_ref(*a, source, this))
                        .collect(),
                ),
            };
            ExtraKind::PrimaryKey { name, columns }
        }
        "foreignKey" => {
            let Some(object) = root_args.first().filter(|o| o.kind() == "object") else {
                return ExtraKind::Other;
            };
            ExtraKind::ForeignKey {
                name: object_value(*object, "name", source).and_then(|n| string_value(n, source)),
                columns: column_refs(object_value(*object, "columns", source), source, this),
                foreign: column_refs(
                    object_value(*object, "foreignColumns", source),
                    source,
                    this,
                ),
            }
        }
        "unique" => {
            let columns = chain[1..]
                .iter()
                .find(|l| l.name == "on")
                .map(|l| {
                    arguments(l.arguments)
                        .into_iter()
                        .filter_map(|a| column_ref(a, source, this))
                        .collect()
                })
                .unwrap_or_default();
            ExtraKind::Unique {
                name: first_string,
                columns,
            }
        }
        _ => ExtraKind::Other,
    }
}

fn index_part(node: Node, source: &str, this: &str, scope: &Scope) -> Option<PartDecl> {
    let node = unwrap_expression(node);
    if let Some(column) = column_ref(node, source, this) {
        return Some(PartDecl::Column {
            column,
            desc: false,
            opclass: None,
        });
    }
    if let Some(sql) = sql_template(node, source, this, scope) {
        return Some(PartDecl::Expression(sql));
    }
    // `t.col.desc().nullsFirst()`, `t.col.op("text_pattern_ops")`
    let chain = call_chain(node, source)?;
    // The root link is the first modifier on a plain column.
    let column = column_ref(chain[0].object?, source, this)?;
    let (mut desc, mut opclass) = (false, None);
    for link in &chain {
        match link.name {
            "desc" => desc = true,
            "asc" => desc = false,
            "op" => {
                opclass = arguments(link.arguments)
                    .first()
                    .and_then(|o| string_value(*o, source))
            }
            _ => {}
        }
    }
    Some(PartDecl::Column {
        column,
        desc,
        opclass,
    })
}

/// A ``sql`...` `` tagged template.
fn sql_template(node: Node, source: &str, this: &str, scope: &Scope) -> Option<SqlText> {
    if node.kind() != "call_expression" {
        return None;
    }
    let function = node.child_by_field_name("function")?;
    let template = node.child_by_field_name("arguments")?;
    if template.kind() != "template_string" || !scope.is_drizzle(text(function, source), "sql") {
        return None;
    }
    let mut sql = SqlText::default();
    let mut cursor = template.walk();
    for child in template.named_children(&mut cursor) {
        match child.kind() {
            "string_fragment" | "escape_sequence" => {
                sql.pieces.push(SqlPiece::Text(text(child, source).into()))
            }
            "template_substitution" => {
                let inner = child.named_child(0)?;
                sql.pieces
                    .push(SqlPiece::Column(column_ref(inner, source, this)?));
            }
            _ => return None,
        }
    }
    Some(sql)
}

/// A `.where(...)` condition: a ``sql`...` `` template, or drizzle's
/// operators (`isNotNull(t.a)`, `eq(t.a, 'x')`, `and(...)`).
fn condition(node: Node, source: &str, this: &str, scope: &Scope) -> Option<SqlText> {
    let node = unwrap_expression(node);
    if let Some(sql) = sql_template(node, source, this, scope) {
        return Some(sql);
    }
    let chain = call_chain(node, source)?;
    let [
        ChainLink {
            name,
            object: None,
            arguments: args,
            ..
        },
    ] = chain.as_slice()
    else {
        return None;
    };
    let args = arguments(*args);
    let column = |i: usize| args.get(i).and_then(|a| column_ref(*a, source, this));
    let mut sql = SqlText::default();
    match scope.drizzle_name(name)? {
        "isNotNull" | "isNull" => {
            sql.pieces.push(SqlPiece::Column(column(0)?));
            let suffix = if scope.is_drizzle(name, "isNull") {
                " IS NULL"
            } else {
                " IS NOT NULL"
            };
            sql.pieces.push(SqlPiece::Text(suffix.into()));
        }
        op @ ("eq" | "ne" | "gt" | "gte" | "lt" | "lte") => {
            sql.pieces.push(SqlPiece::Column(column(0)?));
            let symbol = match op {
                "eq" => "=",
                "ne" => "<>",
                "gt" => ">",
                "gte" => ">=",
                "lt" => "<",
                _ => "<=",
            };
            let value = args.get(1)?;
            let literal = match value.kind() {
                "string" => format!("'{}'", string_value(*value, source)?.replace('\'', "''")),
                "number" | "true" | "false" | "null" => text(*value, source).to_string(),
                _ => return None,
            };
            sql.pieces
                .push(SqlPiece::Text(format!(" {symbol} {literal}")));
        }
        "and" => {
            for (i, arg) in args.iter().enumerate() {
                if i > 0 {
                    sql.pieces.push(SqlPiece::Text(" AND ".into()));
                }
                sql.pieces
                    .extend(condition(*arg, source, this, scope)?.pieces);
            }
        }
        _ => return None,
    }
    Some(sql)
}

fn read_relations(call: Node, source: &str, out: &mut Vec<RelationDecl>) {
    let args = arguments(call.child_by_field_name("arguments"));
    let (Some(table), Some(callback)) = (args.first(), args.get(1)) else {
        return;
    };
    let table = match column_ref_table(*table, source) {
        Some(t) => t,
        None => return,
    };
    let Some(result) = callback_result(*callback) else {
        return;
    };
    if result.kind() != "object" {
        return;
    }
    for (field, value, pair) in object_pairs(result, source) {
        let Some(chain) = call_chain(value, source) else {
            continue;
        };
        let [link] = chain.as_slice() else { continue };
        if link.name != "one" {
            continue;
        }
        let Some(config) = arguments(link.arguments)
            .get(1)
            .copied()
            .filter(|c| c.kind() == "object")
        else {
            continue;
        };
        let fields = column_refs(object_value(config, "fields", source), source, "");
        let references = column_refs(object_value(config, "references", source), source, "");
        if fields.is_empty() || fields.len() != references.len() {
            continue;
        }
        out.push(RelationDecl {
            table: table.clone(),
            field,
            fields,
            references,
            span: span(pair),
        });
    }
}

fn column_ref_table(node: Node, source: &str) -> Option<TableRef> {
    let node = unwrap_expression(node);
    match node.kind() {
        "identifier" => Some(TableRef::Var(text(node, source).to_string())),
        "member_expression" => {
            let ns = node.child_by_field_name("object")?;
            (ns.kind() == "identifier").then(|| {
                TableRef::Namespaced(
                    text(ns, source).to_string(),
                    node.child_by_field_name("property")
                        .map(|p| text(p, source).to_string())
                        .unwrap_or_default(),
                )
            })
        }
        _ => None,
    }
}

/// Visit every call expression in the tree.
fn find_calls<'t>(node: Node<'t>, visit: &mut impl FnMut(Node<'t>)) {
    let mut cursor = node.walk();
    let mut stack = vec![node];
    while let Some(current) = stack.pop() {
        if current.kind() == "call_expression" {
            visit(current);
        }
        stack.extend(current.named_children(&mut cursor));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frameworks::typescript::parse;
    use std::path::PathBuf;

    fn read(text: &str) -> DrizzleFile {
        let source = SourceFile::new(PathBuf::from("schema.ts"), text.to_string());
        let tree = parse(&source.path, &source.text);
        extract(source, &tree)
    }

    #[test]
    fn reads_tables_columns_and_both_extra_config_forms() {
        let file = read(
            r#"import { sql, relations } from "drizzle-orm";
import { pgTable, pgSchema, integer, text, index as ix, uniqueIndex, primaryKey } from "drizzle-orm/pg-core";
import { users } from "./users";
export const billing = pgSchema("billing");
export const tickets = pgTable("tickets", {
  id: integer().primaryKey(),
  queueId: integer("queue_id").notNull().references(() => users.id, { onDelete: "cascade" }),
  status: text().unique("tickets_status_uq"),
}, (t) => [
  ix("tickets_queue_idx").on(t.queueId, t.status.desc()),
  ix("tickets_open_idx").on(t.queueId).where(sql`${t.status} = 'open'`),
  uniqueIndex().using("btree", t.status),
]);
export const invoices = billing.table("invoices", {
  a: integer(), b: integer(),
}, (table) => ({ pk: primaryKey({ columns: [table.a, table.b] }) }));
export const ticketRelations = relations(tickets, ({ one }) => ({
  owner: one(users, { fields: [tickets.queueId], references: [users.id] }),
}));
"#,
        );
        assert_eq!(file.tables.len(), 2);
        let tickets = &file.tables[0];
        assert_eq!(tickets.name, "tickets");
        let keys: Vec<(&str, Option<&str>)> = tickets
            .columns
            .iter()
            .map(|c| (c.key.as_str(), c.sql_name.as_deref()))
            .collect();
        assert_eq!(
            keys,
            [
                ("id", None),
                ("queueId", Some("queue_id")),
                ("status", None)
            ]
        );
        assert!(tickets.columns[0].primary_key);
        assert_eq!(
            tickets.columns[1].references,
            Some(ColumnRef {
                table: TableRef::Var("users".into()),
                key: "id".into()
            })
        );
        assert_eq!(
            tickets.columns[2].unique,
            Some(Some("tickets_status_uq".into()))
        );
        let extra = tickets.extra.as_ref().unwrap();
        assert_eq!(extra.form, ConfigForm::Array);
        assert_eq!(extra.items.len(), 3);
        let ExtraKind::Index(first) = &extra.items[0].kind else {
            panic!("an index")
        };
        assert_eq!(first.name.as_deref(), Some("tickets_queue_idx"));
        assert!(matches!(
            first.parts[1],
            PartDecl::Column { desc: true, .. }
        ));
        let ExtraKind::Index(partial) = &extra.items[1].kind else {
            panic!("an index")
        };
        assert_eq!(partial.predicate.as_ref().unwrap().pieces.len(), 2);
        let ExtraKind::Index(using) = &extra.items[2].kind else {
            panic!("an index")
        };
        assert!(using.unique && using.method.as_deref() == Some("btree") && using.name.is_none());
        let invoices = &file.tables[1];
        let Builder::Resolved(creator) = &invoices.builder else {
            panic!("resolved")
        };
        assert_eq!(creator.schema.as_deref(), Some("billing"));
        let extra = invoices.extra.as_ref().unwrap();
        assert_eq!(extra.form, ConfigForm::Object);
        assert!(
            matches!(&extra.items[0].kind, ExtraKind::PrimaryKey { columns, .. } if columns.len() == 2)
        );
        assert_eq!(file.relations.len(), 1);
        assert_eq!(file.relations[0].fields[0].key, "queueId");
    }

    #[test]
    fn reads_creators_spreads_require_and_casing() {
        let file = read(
            r#"const { sqliteTableCreator, integer } = require("drizzle-orm/sqlite-core");
const { drizzle } = require("drizzle-orm/libsql");
const timestamps = { createdAt: integer("created_at") };
const table = sqliteTableCreator((name) => `app_${name}`);
const posts = table("posts", { id: integer().primaryKey(), ...timestamps });
const db = drizzle({ client, casing: "snake_case" });
"#,
        );
        assert_eq!(file.tables.len(), 1);
        let Builder::Resolved(creator) = &file.tables[0].builder else {
            panic!("resolved")
        };
        assert_eq!(
            (creator.prefix.as_str(), creator.suffix.as_str()),
            ("app_", "")
        );
        assert_eq!(file.tables[0].spreads, ["timestamps"]);
        assert_eq!(file.column_sets[0].var, "timestamps");
        assert_eq!(file.casing, Some(Casing::SnakeCase));
    }
}
