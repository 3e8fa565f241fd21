//! Reads one TypeScript/JavaScript file into Drizzle facts: imports, table
//! declarations (`pgTable`, `mysqlTable`, `sqliteTable`, `pgSchema().table`,
//! table creators) with their columns and extra config, shared column
//! objects, `relations()` and `drizzle({ casing })`. Names of other tables
//! stay unresolved here; `project.rs` resolves them across files.

use std::sync::Arc;

use oxc_ast::ast::{
    ArrowFunctionBody, BindingPattern, CallExpression, Declaration, Expression, ImportDeclaration,
    ImportDeclarationSpecifier, ModuleExportName, ObjectExpression, ObjectPropertyKind, Program,
    Statement, VariableDeclaration, VariableDeclarator,
};

use super::{Casing, builder_dialect};
use crate::frameworks::typescript::{
    ChainLink, Visited, arguments, array_elements, as_array, as_object, call_chain, object_pairs,
    object_value, property_key, span, string_value, unwrap_expression, walk,
};
use crate::schema::Dialect;
use crate::source::{SourceFile, Span};

#[derive(Debug, Clone)]
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

/// One relation in `relations(table, ...)`: `one(target, { fields: [...],
/// references: [...] })`, or `many(target)`/`one(target)` whose columns
/// the target's reverse relation gives (empty `fields`).
#[derive(Debug, Clone)]
pub struct RelationDecl {
    /// The related table.
    pub target: TableRef,
    pub many: bool,
    /// `relationName`, which pairs a relation with its reverse.
    pub relation_name: Option<String>,
    /// The table `relations()` is about.
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

pub fn extract<'a>(source: Arc<SourceFile>, program: &'a Program<'a>) -> DrizzleFile {
    let text = source.text.as_str();
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
    // Each top-level variable declaration, with the statement that holds
    // it (`export const ...`).
    let mut declarations: Vec<(&VariableDeclaration, Span)> = Vec::new();
    for statement in &program.body {
        match statement {
            Statement::ImportDeclaration(import) => {
                read_import(import, text, &mut file);
                file.imports_end = import.span.end as usize;
            }
            // `import x = require("y")`: an import to add others after.
            Statement::TSImportEqualsDeclaration(import) => {
                file.imports_end = import.span.end as usize;
            }
            Statement::ExportDeclaration(export) => {
                if let Declaration::VariableDeclaration(declaration) = &export.declaration {
                    declarations.push((declaration, span(&**export)));
                }
            }
            Statement::VariableDeclaration(declaration) => {
                declarations.push((declaration, span(&**declaration)))
            }
            _ => {}
        }
    }
    // `const { pgTable } = require("drizzle-orm/pg-core")`
    for (declaration, _) in &declarations {
        for declarator in &declaration.declarations {
            read_require(declarator, &mut file.imports);
        }
    }
    let mut scope = Scope {
        imports: &file.imports,
        creators: Vec::new(),
    };
    for (declaration, _) in &declarations {
        for declarator in &declaration.declarations {
            if let Some(creator) = read_creator(declarator, text, &scope) {
                scope.creators.push(creator);
            }
        }
    }
    let mut tables = Vec::new();
    let mut column_sets = Vec::new();
    for (declaration, statement) in &declarations {
        for declarator in &declaration.declarations {
            let (BindingPattern::BindingIdentifier(name), Some(value)) =
                (&declarator.id, &declarator.init)
            else {
                continue;
            };
            let var = name.name.to_string();
            let value = unwrap_expression(value);
            if let Some(table) = read_table(&var, value, *statement, text, &scope) {
                tables.push(table);
            } else if let Expression::ObjectExpression(object) = value {
                let columns = read_columns(object);
                if !columns.is_empty() {
                    column_sets.push(ColumnSet { var, columns });
                }
            }
        }
    }
    let mut relations = Vec::new();
    let mut casing = None;
    walk(program, |node| {
        let Visited::Call(call) = node else {
            return true;
        };
        let Expression::Identifier(function) = &call.callee else {
            return true;
        };
        let name = function.name.as_str();
        if scope.is_drizzle(name, "relations") {
            read_relations(call, &mut relations);
        } else if scope.drizzle_name(name) == Some("drizzle") {
            for argument in arguments(&call.arguments) {
                if let Expression::ObjectExpression(object) = argument
                    && let Some(value) = object_value(object, "casing")
                {
                    casing = string_value(value).and_then(|v| Casing::parse(&v));
                }
            }
        }
        true
    });
    file.creators = scope.creators;
    file.tables = tables;
    file.column_sets = column_sets;
    file.relations = relations;
    file.casing = casing;
    file
}

fn read_import(import: &ImportDeclaration, text: &str, file: &mut DrizzleFile) {
    let module = import.source.value.to_string();
    let Some(specifiers) = &import.specifiers else {
        return;
    };
    let mut names = Vec::new();
    for specifier in specifiers {
        match specifier {
            ImportDeclarationSpecifier::ImportDefaultSpecifier(default) => {
                file.imports.push(Import {
                    local: default.local.name.to_string(),
                    imported: Some("default".into()),
                    module: module.clone(),
                })
            }
            ImportDeclarationSpecifier::ImportNamespaceSpecifier(namespace) => {
                file.imports.push(Import {
                    local: namespace.local.name.to_string(),
                    imported: None,
                    module: module.clone(),
                })
            }
            ImportDeclarationSpecifier::ImportSpecifier(named) => {
                let imported = match &named.imported {
                    ModuleExportName::IdentifierName(name) => name.name.to_string(),
                    ModuleExportName::IdentifierReference(name) => name.name.to_string(),
                    ModuleExportName::StringLiteral(name) => name.value.to_string(),
                };
                let local = named.local.name.to_string();
                names.push((imported.clone(), local.clone()));
                file.imports.push(Import {
                    local,
                    imported: Some(imported),
                    module: module.clone(),
                });
            }
        }
    }
    // The braces are no node of their own: they are the first `{` and the
    // last `}` before the module name.
    let head = import.span.start as usize..import.source.span.start as usize;
    let Some(clause) = text.get(head.clone()) else {
        return;
    };
    if let (Some(open), Some(close)) = (clause.find('{'), clause.rfind('}'))
        && open < close
    {
        file.named_imports.push(NamedImports {
            module,
            braces: Span::new(head.start + open, head.start + close + 1),
            names,
        });
    }
}

fn read_require(declarator: &VariableDeclarator, imports: &mut Vec<Import>) {
    let Some(chain) = declarator.init.as_ref().and_then(call_chain) else {
        return;
    };
    if chain.len() != 1 || chain[0].name != "require" || chain[0].object.is_some() {
        return;
    }
    let Some(module) = arguments(chain[0].arguments)
        .first()
        .and_then(|m| string_value(m))
    else {
        return;
    };
    match &declarator.id {
        BindingPattern::ObjectPattern(pattern) => {
            for property in &pattern.properties {
                let (false, Some(imported), BindingPattern::BindingIdentifier(local)) = (
                    property.computed,
                    property_key(&property.key),
                    &property.value,
                ) else {
                    continue;
                };
                imports.push(Import {
                    local: local.name.to_string(),
                    imported: Some(imported),
                    module: module.clone(),
                });
            }
        }
        BindingPattern::BindingIdentifier(local) => imports.push(Import {
            local: local.name.to_string(),
            imported: None,
            module,
        }),
        _ => {}
    }
}

/// `const app = pgTableCreator((name) => \`app_${name}\`)` or
/// `const billing = pgSchema("billing")`.
fn read_creator<'a>(
    declarator: &'a VariableDeclarator<'a>,
    text: &str,
    scope: &Scope,
) -> Option<Creator> {
    let BindingPattern::BindingIdentifier(name) = &declarator.id else {
        return None;
    };
    let chain = call_chain(declarator.init.as_ref()?)?;
    let [link] = chain.as_slice() else {
        return None;
    };
    if link.object.is_some() {
        return None;
    }
    let export = scope.drizzle_name(link.name)?;
    let dialect = builder_dialect(export)?;
    let argument = *arguments(link.arguments).first()?;
    let var = name.name.to_string();
    if export.ends_with("Schema") {
        return Some(Creator {
            var,
            dialect,
            schema: Some(string_value(argument)?),
            prefix: String::new(),
            suffix: String::new(),
        });
    }
    if !export.ends_with("TableCreator") {
        return None;
    }
    // The callback's body is a template around its parameter.
    let parameter = callback_parameter(argument, text)?;
    let Expression::ArrowFunctionExpression(arrow) = argument else {
        return None;
    };
    let Expression::TemplateLiteral(template) = unwrap_expression(arrow.body.as_expression()?)
    else {
        return None;
    };
    let ([prefix, suffix], [Expression::Identifier(substituted)]) =
        (template.quasis.as_slice(), template.expressions.as_slice())
    else {
        return None;
    };
    let (prefix, suffix) = (prefix.value.raw.as_str(), suffix.value.raw.as_str());
    if substituted.name.as_str() != parameter || prefix.contains('\\') || suffix.contains('\\') {
        return None;
    }
    Some(Creator {
        var,
        dialect,
        schema: None,
        prefix: prefix.to_string(),
        suffix: suffix.to_string(),
    })
}

/// The first parameter of an arrow function or function expression: its
/// name, or the text of its pattern (`{ one }`).
fn callback_parameter(function: &Expression, text: &str) -> Option<String> {
    let parameters = match function {
        Expression::ArrowFunctionExpression(arrow) => &arrow.params,
        Expression::FunctionExpression(function) => &function.params,
        _ => return None,
    };
    match &parameters.items.first()?.pattern {
        BindingPattern::BindingIdentifier(name) => Some(name.name.to_string()),
        pattern => text
            .get(span(pattern).start..span(pattern).end)
            .map(String::from),
    }
}

/// The expression a callback returns: its expression body, or the
/// `return` of its block body.
pub(super) fn callback_result<'a>(function: &'a Expression<'a>) -> Option<&'a Expression<'a>> {
    let statements = match unwrap_expression(function) {
        Expression::ArrowFunctionExpression(arrow) => match &arrow.body {
            ArrowFunctionBody::FunctionBody(body) => &body.statements,
            body => return body.as_expression().map(unwrap_expression),
        },
        Expression::FunctionExpression(function) => &function.body.as_ref()?.statements,
        _ => return None,
    };
    statements
        .iter()
        .find_map(|statement| match statement {
            Statement::ReturnStatement(returned) => Some(returned),
            _ => None,
        })?
        .argument
        .as_ref()
        .map(unwrap_expression)
}

fn read_table<'a>(
    var: &str,
    value: &'a Expression<'a>,
    statement: Span,
    text: &str,
    scope: &Scope,
) -> Option<TableDecl> {
    let Expression::CallExpression(call) = value else {
        return None;
    };
    let builder = match &call.callee {
        Expression::Identifier(function) => {
            let local = function.name.as_str();
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
        Expression::StaticMemberExpression(member) => {
            let Expression::Identifier(object) = &member.object else {
                return None;
            };
            if member.property.name.as_str() != "table" {
                return None;
            }
            let local = object.name.as_str();
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
    let args = arguments(&call.arguments);
    let name = string_value(args.first()?)?;
    let columns_arg = *args.get(1)?;
    let columns_object = match unwrap_expression(columns_arg) {
        Expression::ObjectExpression(object) => object,
        Expression::ArrowFunctionExpression(_) | Expression::FunctionExpression(_) => {
            as_object(callback_result(columns_arg)?)?
        }
        _ => return None,
    };
    let spreads = columns_object
        .properties
        .iter()
        .filter_map(|property| match property {
            ObjectPropertyKind::SpreadProperty(spread) => match &spread.argument {
                Expression::Identifier(name) => Some(name.name.to_string()),
                _ => None,
            },
            ObjectPropertyKind::ObjectProperty(_) => None,
        })
        .collect();
    let extra = args
        .get(2)
        .and_then(|callback| read_extra_config(callback, text, scope));
    Some(TableDecl {
        var: var.to_string(),
        builder,
        name,
        columns: read_columns(columns_object),
        spreads,
        extra,
        span: statement,
        columns_span: span(columns_arg),
        // The call ends with its closing parenthesis.
        call_end: call.span.end as usize - 1,
    })
}

fn read_columns(object: &ObjectExpression) -> Vec<ColumnDecl> {
    let mut columns = Vec::new();
    for (key, value, pair) in object_pairs(object) {
        let Some(chain) = call_chain(value) else {
            continue;
        };
        let root = chain[0];
        let sql_name = arguments(root.arguments)
            .first()
            .and_then(|a| string_value(a));
        let mut column = ColumnDecl {
            key,
            builder: Some(root.name.to_string()),
            sql_name,
            primary_key: false,
            unique: None,
            references: None,
            span: pair,
        };
        for link in &chain[1..] {
            match link.name {
                "primaryKey" => column.primary_key = true,
                "unique" => {
                    column.unique = Some(
                        arguments(link.arguments)
                            .first()
                            .and_then(|a| string_value(a)),
                    )
                }
                "references" => {
                    column.references = arguments(link.arguments)
                        .first()
                        .and_then(|callback| callback_result(callback))
                        .and_then(|target| column_ref(target, ""));
                }
                _ => {}
            }
        }
        columns.push(column);
    }
    columns
}

/// `t.key`, `t["key"]`, `users.key` or `ns.users.key`.
pub(super) fn column_ref(expression: &Expression, this: &str) -> Option<ColumnRef> {
    let (object, key) = match unwrap_expression(expression) {
        Expression::StaticMemberExpression(member) => {
            (&member.object, member.property.name.to_string())
        }
        Expression::ComputedMemberExpression(member) => {
            (&member.object, string_value(&member.expression)?)
        }
        _ => return None,
    };
    let table = match unwrap_expression(object) {
        Expression::Identifier(name) if name.name.as_str() == this => TableRef::This,
        Expression::Identifier(name) => TableRef::Var(name.name.to_string()),
        Expression::StaticMemberExpression(member) => {
            let Expression::Identifier(ns) = &member.object else {
                return None;
            };
            TableRef::Namespaced(ns.name.to_string(), member.property.name.to_string())
        }
        _ => return None,
    };
    Some(ColumnRef { table, key })
}

fn column_refs(expression: Option<&Expression>, this: &str) -> Vec<ColumnRef> {
    expression
        .and_then(as_array)
        .map(|array| {
            array_elements(array)
                .into_iter()
                .filter_map(|e| column_ref(e.as_expression()?, this))
                .collect()
        })
        .unwrap_or_default()
}

fn read_extra_config(callback: &Expression, text: &str, scope: &Scope) -> Option<ExtraConfig> {
    let param = callback_parameter(unwrap_expression(callback), text)?;
    let result = callback_result(callback)?;
    let item = |key: Option<String>, value: Option<&Expression>, whole: Span| ExtraItem {
        key,
        kind: value.map_or(ExtraKind::Other, |v| read_extra_item(v, &param, scope)),
        span: whole,
    };
    let (form, items) = match result {
        Expression::ArrayExpression(array) => (
            ConfigForm::Array,
            array_elements(array)
                .into_iter()
                .map(|e| item(None, e.as_expression(), span(e)))
                .collect(),
        ),
        Expression::ObjectExpression(object) => (
            ConfigForm::Object,
            object_pairs(object)
                .into_iter()
                .map(|(k, v, pair)| item(Some(k), Some(v), pair))
                .collect(),
        ),
        _ => return None,
    };
    Some(ExtraConfig {
        param,
        form,
        container: span(result),
        items,
    })
}

fn read_extra_item(value: &Expression, this: &str, scope: &Scope) -> ExtraKind {
    let Some(chain) = call_chain(value) else {
        return ExtraKind::Other;
    };
    let root = chain[0];
    if root.object.is_some() {
        return ExtraKind::Other;
    }
    let root_args = arguments(root.arguments);
    let first_string = root_args.first().and_then(|a| string_value(a));
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
                            .filter_map(|a| index_part(a, this, scope))
                            .collect();
                    }
                    "using" => {
                        if let Some(method) = args.first().and_then(|m| string_value(m)) {
                            index.method = Some(method);
                            index.parts = args[1..]
                                .iter()
                                .filter_map(|a| index_part(a, this, scope))
                                .collect();
                        }
                    }
                    "where" => {
                        index.predicate = args.first().and_then(|p| condition(p, this, scope));
                    }
                    _ => {}
                }
            }
            ExtraKind::Index(index)
        }
        "primaryKey" => {
            let (name, columns) = match root_args.first().and_then(|a| as_object(a)) {
                Some(object) => (
                    object_value(object, "name").and_then(string_value),
                    column_refs(object_value(object, "columns"), this),
                ),
                // The deprecated variadic form `primaryKey(t.a, t.b)`.
                None => (
                    None,
                    root_args
                        .iter()
                        .filter_map(|a| column_ref(a, this))
                        .collect(),
                ),
            };
            ExtraKind::PrimaryKey { name, columns }
        }
        "foreignKey" => {
            let Some(object) = root_args.first().and_then(|a| as_object(a)) else {
                return ExtraKind::Other;
            };
            ExtraKind::ForeignKey {
                name: object_value(object, "name").and_then(string_value),
                columns: column_refs(object_value(object, "columns"), this),
                foreign: column_refs(object_value(object, "foreignColumns"), this),
            }
        }
        "unique" => {
            let columns = chain[1..]
                .iter()
                .find(|l| l.name == "on")
                .map(|l| {
                    arguments(l.arguments)
                        .into_iter()
                        .filter_map(|a| column_ref(a, this))
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

fn index_part(expression: &Expression, this: &str, scope: &Scope) -> Option<PartDecl> {
    let expression = unwrap_expression(expression);
    if let Some(column) = column_ref(expression, this) {
        return Some(PartDecl::Column {
            column,
            desc: false,
            opclass: None,
        });
    }
    if let Some(sql) = sql_template(expression, this, scope) {
        return Some(PartDecl::Expression(sql));
    }
    // `t.col.desc().nullsFirst()`, `t.col.op("text_pattern_ops")`
    let chain = call_chain(expression)?;
    // The root link is the first modifier on a plain column.
    let column = column_ref(chain[0].object?, this)?;
    let (mut desc, mut opclass) = (false, None);
    for link in &chain {
        match link.name {
            "desc" => desc = true,
            "asc" => desc = false,
            "op" => {
                opclass = arguments(link.arguments)
                    .first()
                    .and_then(|o| string_value(o))
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

/// A ``sql`...` `` tagged template, its text as written.
fn sql_template(expression: &Expression, this: &str, scope: &Scope) -> Option<SqlText> {
    let Expression::TaggedTemplateExpression(tagged) = expression else {
        return None;
    };
    let Expression::Identifier(tag) = &tagged.tag else {
        return None;
    };
    if !scope.is_drizzle(tag.name.as_str(), "sql") {
        return None;
    }
    let template = &tagged.quasi;
    let mut sql = SqlText::default();
    for (i, quasi) in template.quasis.iter().enumerate() {
        if !quasi.value.raw.is_empty() {
            sql.pieces.push(SqlPiece::Text(quasi.value.raw.to_string()));
        }
        if let Some(substitution) = template.expressions.get(i) {
            sql.pieces
                .push(SqlPiece::Column(column_ref(substitution, this)?));
        }
    }
    Some(sql)
}

/// A `.where(...)` condition: a ``sql`...` `` template, or drizzle's
/// operators (`isNotNull(t.a)`, `eq(t.a, 'x')`, `and(...)`).
fn condition(expression: &Expression, this: &str, scope: &Scope) -> Option<SqlText> {
    let expression = unwrap_expression(expression);
    if let Some(sql) = sql_template(expression, this, scope) {
        return Some(sql);
    }
    let chain = call_chain(expression)?;
    let [
        ChainLink {
            name,
            object: None,
            arguments: args,
        },
    ] = chain.as_slice()
    else {
        return None;
    };
    let args = arguments(args);
    let column = |i: usize| args.get(i).and_then(|a| column_ref(a, this));
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
            let literal = match args.get(1)? {
                Expression::StringLiteral(string) => {
                    format!("'{}'", string.value.replace('\'', "''"))
                }
                Expression::NumericLiteral(number) => number.raw?.to_string(),
                Expression::BooleanLiteral(boolean) => boolean.value.to_string(),
                Expression::NullLiteral(_) => "null".to_string(),
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
                sql.pieces.extend(condition(arg, this, scope)?.pieces);
            }
        }
        _ => return None,
    }
    Some(sql)
}

fn read_relations(call: &CallExpression, out: &mut Vec<RelationDecl>) {
    let args = arguments(&call.arguments);
    let (Some(table), Some(callback)) = (args.first(), args.get(1)) else {
        return;
    };
    let Some(table) = column_ref_table(table) else {
        return;
    };
    let Some(result) = callback_result(callback).and_then(as_object) else {
        return;
    };
    for (field, value, pair) in object_pairs(result) {
        let Some(chain) = call_chain(value) else {
            continue;
        };
        let [link] = chain.as_slice() else { continue };
        if link.name != "one" && link.name != "many" {
            continue;
        }
        let link_args = arguments(link.arguments);
        let Some(target) = link_args.first().and_then(|t| column_ref_table(t)) else {
            continue;
        };
        let config = link_args.get(1).and_then(|c| as_object(c));
        let fields = column_refs(config.and_then(|c| object_value(c, "fields")), "");
        let references = column_refs(config.and_then(|c| object_value(c, "references")), "");
        if fields.len() != references.len() {
            continue;
        }
        let relation_name = config
            .and_then(|c| object_value(c, "relationName"))
            .and_then(string_value);
        out.push(RelationDecl {
            target,
            many: link.name == "many",
            relation_name,
            table: table.clone(),
            field,
            fields,
            references,
            span: pair,
        });
    }
}

pub(super) fn column_ref_table(expression: &Expression) -> Option<TableRef> {
    match unwrap_expression(expression) {
        Expression::Identifier(name) => Some(TableRef::Var(name.name.to_string())),
        Expression::StaticMemberExpression(member) => match &member.object {
            Expression::Identifier(ns) => Some(TableRef::Namespaced(
                ns.name.to_string(),
                member.property.name.to_string(),
            )),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frameworks::typescript::parse;
    use std::path::PathBuf;

    fn read(text: &str) -> DrizzleFile {
        let source = SourceFile::new(PathBuf::from("schema.ts"), text.to_string());
        parse(&source.path.clone(), text, |parsed| {
            assert_eq!(parsed.error, None);
            extract(source, &parsed.program)
        })
        .unwrap()
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
    fn spans_are_byte_offsets_of_what_edits_replace() {
        let text = r#"import type { X } from "./x";
import { pgTable, integer, index } from "drizzle-orm/pg-core";
import util = require("./util");
export const t = pgTable("t", { id: integer(), n: integer("n") }, (t) => [index("i").on(t.n)]);
"#;
        let file = read(text);
        let at = |s: Span| &text[s.start..s.end];
        assert_eq!(
            &text[..file.imports_end],
            text.split_inclusive('\n')
                .take(3)
                .collect::<String>()
                .trim_end()
        );
        assert_eq!(file.named_imports.len(), 2);
        assert_eq!(
            at(file.named_imports[1].braces),
            "{ pgTable, integer, index }"
        );
        let table = &file.tables[0];
        assert_eq!(at(table.span), text.lines().nth(3).unwrap());
        assert_eq!(
            at(table.columns_span),
            "{ id: integer(), n: integer(\"n\") }"
        );
        assert_eq!(&text[table.call_end..table.call_end + 2], ");");
        assert_eq!(at(table.columns[1].span), "n: integer(\"n\")");
        let extra = table.extra.as_ref().unwrap();
        assert_eq!(at(extra.container), "[index(\"i\").on(t.n)]");
        assert_eq!(at(extra.items[0].span), "index(\"i\").on(t.n)");
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
