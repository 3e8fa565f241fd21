//! Reads the DDL that migrations carry as raw SQL: index statements
//! (`CREATE INDEX`, `DROP INDEX`) and table statements (`CREATE TABLE`,
//! `DROP TABLE`, `ALTER TABLE`). Only what changes which tables, keys and
//! indexes exist; other statements are ignored. What a table statement does
//! that this reader cannot follow is reported, never guessed.

use super::{
    Column, Conjunct, Dialect, ForeignKey, Framework, Index, IndexKey, IndexMethod, IndexOrigin,
    IndexPart, Predicate, Table, TypeFamily,
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexStatement {
    Create(CreateIndex),
    /// `DROP INDEX [schema.]name`.
    Drop {
        name: String,
        schema: Option<String>,
    },
    /// `ALTER INDEX [schema.]from RENAME TO to`.
    Rename {
        from: String,
        to: String,
        schema: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateIndex {
    pub name: Option<String>,
    /// The bare table name; its schema, when written, is `schema`.
    pub table: String,
    pub schema: Option<String>,
    pub unique: bool,
    pub concurrently: bool,
    pub method: IndexMethod,
    pub parts: Vec<IndexPart>,
    pub include: Vec<String>,
    pub predicate: Option<Predicate>,
}

/// Every CREATE/DROP INDEX statement in a SQL script, in order.
pub fn index_statements(script: &str) -> Vec<IndexStatement> {
    split_statements(script)
        .into_iter()
        .filter_map(|s| index_statement(&s))
        .collect()
}

/// One statement (of [`split_statements`]) as an index statement, when it
/// is one.
pub fn index_statement(statement: &str) -> Option<IndexStatement> {
    parse_statement(statement)
}

/// One statement of a script that changes tables or indexes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Statement {
    Index(IndexStatement),
    Table(TableStatement),
}

/// Every index and table statement in a SQL script, in order.
pub fn statements(script: &str) -> Vec<Statement> {
    split_statements(script)
        .into_iter()
        .filter_map(|s| {
            parse_statement(&s)
                .map(Statement::Index)
                .or_else(|| parse_table_statement(&s).map(Statement::Table))
        })
        .collect()
}

/// A WHERE clause written as SQL text (`deleted_at IS NULL AND ...`).
pub fn predicate(sql: &str) -> Predicate {
    parse_predicate(&tokenize(sql))
}

/// One index key part written as SQL text: `name`, `"name" DESC`,
/// `lower(email)`.
pub fn index_part(sql: &str) -> Option<IndexPart> {
    parse_part(&tokenize(sql))
}

/// Split on `;` outside quotes and comments, dropping comments.
pub fn split_statements(script: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut chars = script.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' | '`' => {
                current.push(c);
                for d in chars.by_ref() {
                    current.push(d);
                    if d == c {
                        break;
                    }
                }
            }
            '-' if chars.peek() == Some(&'-') => {
                for d in chars.by_ref() {
                    if d == '\n' {
                        break;
                    }
                }
                current.push(' ');
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut star = false;
                for d in chars.by_ref() {
                    if star && d == '/' {
                        break;
                    }
                    star = d == '*';
                }
                current.push(' ');
            }
            ';' => out.push(std::mem::take(&mut current)),
            c => current.push(c),
        }
    }
    out.push(current);
    out.retain(|s| !s.trim().is_empty());
    out
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Quoted(String),
    Open,
    Close,
    Comma,
    Other(String),
}

fn tokenize(sql: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut chars = sql.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '(' {
            chars.next();
            tokens.push(Token::Open);
        } else if c == ')' {
            chars.next();
            tokens.push(Token::Close);
        } else if c == ',' {
            chars.next();
            tokens.push(Token::Comma);
        } else if c == '"' || c == '`' {
            chars.next();
            let mut word = String::new();
            for d in chars.by_ref() {
                if d == c {
                    break;
                }
                word.push(d);
            }
            tokens.push(Token::Quoted(word));
        } else if c == '\'' {
            chars.next();
            let mut lit = String::from("'");
            for d in chars.by_ref() {
                lit.push(d);
                if d == '\'' {
                    break;
                }
            }
            tokens.push(Token::Other(lit));
        } else if c.is_alphanumeric() || c == '_' || c == '.' {
            let mut word = String::new();
            while let Some(&d) = chars.peek() {
                if d.is_alphanumeric() || d == '_' || d == '.' || d == '$' {
                    word.push(d);
                    chars.next();
                } else {
                    break;
                }
            }
            tokens.push(Token::Word(word));
        } else {
            let mut op = String::new();
            op.push(c);
            chars.next();
            while let Some(&d) = chars.peek() {
                if "<>=!:|".contains(d) {
                    op.push(d);
                    chars.next();
                } else {
                    break;
                }
            }
            tokens.push(Token::Other(op));
        }
    }
    tokens
}

struct Cursor {
    tokens: Vec<Token>,
    at: usize,
}

impl Cursor {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn keyword(&mut self, kw: &str) -> bool {
        match self.peek() {
            Some(Token::Word(w)) if w.eq_ignore_ascii_case(kw) => {
                self.at += 1;
                true
            }
            _ => false,
        }
    }

    fn keywords(&mut self, kws: &[&str]) -> bool {
        let start = self.at;
        if kws.iter().all(|k| self.keyword(k)) {
            return true;
        }
        self.at = start;
        false
    }

    /// The bare name of a possibly schema-qualified identifier.
    fn identifier(&mut self) -> Option<String> {
        self.qualified_identifier().map(|(_, name)| name)
    }

    /// `(schema, name)` of `name`, `schema.name`, `"schema"."name"`.
    fn qualified_identifier(&mut self) -> Option<(Option<String>, String)> {
        let mut schema = None;
        let mut name = match self.peek()? {
            Token::Word(w) => w.clone(),
            Token::Quoted(q) => q.clone(),
            _ => return None,
        };
        self.at += 1;
        // The parts of a qualified name arrive as Quoted("s"), Word("."),
        // Quoted("t"); Word("s."), Quoted("t"); or Quoted("s"), Word(".t").
        loop {
            match self.peek() {
                Some(Token::Word(w) | Token::Other(w)) if w == "." && !name.ends_with('.') => {
                    self.at += 1;
                    name.push('.');
                }
                Some(Token::Word(w)) if w.starts_with('.') && !name.ends_with('.') => {
                    name.push_str(&w.clone());
                    self.at += 1;
                    break;
                }
                Some(Token::Word(w) | Token::Quoted(w)) if name.ends_with('.') => {
                    name.push_str(&w.clone());
                    self.at += 1;
                }
                _ => break,
            }
        }
        if let Some((qualifier, bare)) = name.rsplit_once('.') {
            schema = Some(qualifier.to_string());
            name = bare.to_string();
        }
        Some((schema, name))
    }

    /// Tokens up to the matching `)`, split on top-level commas.
    fn parenthesized_list(&mut self) -> Option<Vec<Vec<Token>>> {
        if self.peek() != Some(&Token::Open) {
            return None;
        }
        self.at += 1;
        let mut items = vec![Vec::new()];
        let mut depth = 0;
        while let Some(token) = self.tokens.get(self.at).cloned() {
            self.at += 1;
            match token {
                Token::Open => depth += 1,
                Token::Close if depth == 0 => return Some(items),
                Token::Close => depth -= 1,
                Token::Comma if depth == 0 => {
                    items.push(Vec::new());
                    continue;
                }
                _ => {}
            }
            items.last_mut()?.push(token);
        }
        None
    }
}

fn render(tokens: &[Token]) -> String {
    let mut out = String::new();
    for (i, token) in tokens.iter().enumerate() {
        let piece = match token {
            Token::Word(w) => w.to_ascii_lowercase(),
            Token::Quoted(q) => q.clone(),
            Token::Open => "(".into(),
            Token::Close => ")".into(),
            Token::Comma => ",".into(),
            Token::Other(o) => o.clone(),
        };
        let glue = i > 0
            && !matches!(token, Token::Close | Token::Comma | Token::Open)
            && !matches!(tokens[i - 1], Token::Open);
        if glue {
            out.push(' ');
        }
        out.push_str(&piece);
    }
    out
}

fn parse_statement(sql: &str) -> Option<IndexStatement> {
    let mut c = Cursor {
        tokens: tokenize(sql),
        at: 0,
    };
    if c.keyword("DROP") {
        if !c.keyword("INDEX") {
            return None;
        }
        c.keyword("CONCURRENTLY");
        c.keywords(&["IF", "EXISTS"]);
        let (schema, name) = c.qualified_identifier()?;
        return Some(IndexStatement::Drop { name, schema });
    }
    if c.keyword("ALTER") {
        if !c.keyword("INDEX") {
            return None;
        }
        c.keywords(&["IF", "EXISTS"]);
        let (schema, from) = c.qualified_identifier()?;
        if !c.keywords(&["RENAME", "TO"]) {
            return None;
        }
        let to = c.identifier()?;
        return Some(IndexStatement::Rename { from, to, schema });
    }
    if !c.keyword("CREATE") {
        return None;
    }
    let unique = c.keyword("UNIQUE");
    if !c.keyword("INDEX") {
        return None;
    }
    let concurrently = c.keyword("CONCURRENTLY");
    c.keywords(&["IF", "NOT", "EXISTS"]);
    let name = if matches!(c.peek(), Some(Token::Word(w)) if w.eq_ignore_ascii_case("ON")) {
        None
    } else {
        Some(c.identifier()?)
    };
    if !c.keyword("ON") {
        return None;
    }
    c.keyword("ONLY");
    let (schema, table) = c.qualified_identifier()?;
    let mut method = IndexMethod::Btree;
    if c.keyword("USING") {
        method = IndexMethod::parse(&c.identifier()?);
    }
    let parts = c
        .parenthesized_list()?
        .into_iter()
        .map(|tokens| parse_part(&tokens))
        .collect::<Option<Vec<_>>>()?;
    let mut include = Vec::new();
    let mut predicate = None;
    while let Some(token) = c.peek().cloned() {
        c.at += 1;
        match token {
            Token::Word(w) if w.eq_ignore_ascii_case("INCLUDE") => {
                include = c.parenthesized_list()?.iter().map(|t| render(t)).collect();
            }
            Token::Word(w) if w.eq_ignore_ascii_case("WHERE") => {
                predicate = Some(parse_predicate(&c.tokens[c.at..]));
                break;
            }
            _ => {}
        }
    }
    Some(IndexStatement::Create(CreateIndex {
        name,
        table,
        schema,
        unique,
        concurrently,
        method,
        parts,
        include,
        predicate,
    }))
}

fn parse_part(tokens: &[Token]) -> Option<IndexPart> {
    let mut tokens = tokens.to_vec();
    let mut desc = false;
    // Trailing modifiers: ASC/DESC, NULLS FIRST/LAST.
    loop {
        match tokens.last() {
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("DESC") => {
                desc = true;
                tokens.pop();
            }
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("ASC") => {
                tokens.pop();
            }
            Some(Token::Word(w))
                if (w.eq_ignore_ascii_case("FIRST") || w.eq_ignore_ascii_case("LAST"))
                    && tokens.len() >= 2 =>
            {
                tokens.truncate(tokens.len() - 2);
            }
            _ => break,
        }
    }
    let (key, opclass) = match tokens.as_slice() {
        [] => return None,
        [Token::Word(w)] | [Token::Quoted(w)] => (IndexKey::Column(w.clone()), None),
        [Token::Word(w), Token::Word(op)] | [Token::Quoted(w), Token::Word(op)] => {
            (IndexKey::Column(w.clone()), Some(op.to_ascii_lowercase()))
        }
        other => (IndexKey::Expression(render(other)), None),
    };
    Some(IndexPart { key, desc, opclass })
}

/// Split a WHERE clause on top-level AND and recognise `col IS NOT NULL`.
fn parse_predicate(tokens: &[Token]) -> Predicate {
    let mut conjuncts = Vec::new();
    let mut current: Vec<Token> = Vec::new();
    let mut depth = 0;
    let mut flush = |current: &mut Vec<Token>| {
        let mut part: &[Token] = current;
        while part.first() == Some(&Token::Open) && part.last() == Some(&Token::Close) {
            part = &part[1..part.len() - 1];
        }
        if !part.is_empty() {
            conjuncts.push(conjunct(part));
        }
        current.clear();
    };
    for token in tokens {
        match token {
            Token::Open => depth += 1,
            Token::Close => depth -= 1,
            Token::Word(w) if depth == 0 && w.eq_ignore_ascii_case("AND") => {
                flush(&mut current);
                continue;
            }
            _ => {}
        }
        current.push(token.clone());
    }
    flush(&mut current);
    Predicate::new(conjuncts)
}

fn conjunct(tokens: &[Token]) -> Conjunct {
    if let [col, Token::Word(is), Token::Word(not), Token::Word(null)] = tokens
        && is.eq_ignore_ascii_case("IS")
        && not.eq_ignore_ascii_case("NOT")
        && null.eq_ignore_ascii_case("NULL")
        && let Token::Word(name) | Token::Quoted(name) = col
    {
        return Conjunct::IsNotNull(name.rsplit('.').next().unwrap_or(name).to_string());
    }
    Conjunct::Other(render(tokens))
}

/// A statement that creates, drops, renames or changes a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TableStatement {
    Create(CreateTable),
    /// `DROP TABLE [IF EXISTS] a, b`.
    Drop {
        tables: Vec<TableName>,
    },
    /// `ALTER TABLE from RENAME TO to`, `RENAME TABLE from TO to`.
    Rename {
        from: TableName,
        to: String,
    },
    /// `ALTER TABLE t action, ...`.
    Alter {
        table: TableName,
        actions: Vec<AlterTable>,
    },
}

/// A possibly schema-qualified table name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableName {
    pub name: String,
    pub schema: Option<String>,
}

/// A table as `CREATE TABLE` makes it; `ALTER TABLE` changes it in place
/// (`apply`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateTable {
    pub table: TableName,
    pub if_not_exists: bool,
    pub columns: Vec<ColumnDef>,
    pub constraints: Vec<TableConstraint>,
    /// Why the reader cannot tell the table's columns and indexes (`AS
    /// SELECT`, `LIKE`, `PARTITION OF`, `INHERITS`, a clause it cannot
    /// read): its callers must treat the table as unknown.
    pub unknown: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnDef {
    pub name: String,
    /// The type as written (`numeric(10, 2)`), lowercased.
    pub sql_type: String,
    pub primary_key: bool,
    pub unique: bool,
    pub references: Option<Reference>,
}

/// `REFERENCES t [(c, ...)]`; no columns means the referenced table's
/// primary key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub table: TableName,
    pub columns: Vec<String>,
}

/// A table-level constraint or (MySQL) inline index, with its
/// `CONSTRAINT name` when written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableConstraint {
    pub name: Option<String>,
    pub kind: ConstraintKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConstraintKind {
    PrimaryKey(Vec<IndexPart>),
    Unique(Vec<IndexPart>),
    ForeignKey {
        columns: Vec<String>,
        references: Reference,
    },
    /// MySQL `KEY name (cols)` / `INDEX` / `FULLTEXT` / `SPATIAL`.
    Index {
        parts: Vec<IndexPart>,
        method: IndexMethod,
    },
    /// `CHECK (...)`: no index.
    Check,
}

/// One action of an `ALTER TABLE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlterTable {
    AddColumn(ColumnDef),
    DropColumn(String),
    RenameColumn {
        from: String,
        to: String,
    },
    AddConstraint(TableConstraint),
    /// `DROP CONSTRAINT n`, MySQL `DROP FOREIGN KEY n` / `DROP INDEX n`.
    DropConstraint(String),
    /// MySQL `DROP PRIMARY KEY`.
    DropPrimaryKey,
    /// Changes no key or index (`ALTER COLUMN ... SET NOT NULL`, `OWNER
    /// TO`, `VALIDATE CONSTRAINT`).
    Other,
    /// An action the reader cannot follow, as written.
    Unknown(String),
}

impl CreateTable {
    /// Apply one `ALTER TABLE` action; `Err` says why the table is no
    /// longer known.
    pub fn apply(&mut self, action: &AlterTable) -> Result<(), String> {
        match action {
            AlterTable::AddColumn(column) => {
                self.columns.retain(|c| c.name != column.name);
                self.columns.push(column.clone());
            }
            AlterTable::DropColumn(name) => {
                // The database drops the constraints and indexes on it.
                self.columns.retain(|c| &c.name != name);
                self.constraints
                    .retain(|c| !c.kind.columns().iter().any(|col| col == name));
            }
            AlterTable::RenameColumn { from, to } => {
                for column in self.columns.iter_mut().filter(|c| &c.name == from) {
                    column.name = to.clone();
                }
                for constraint in &mut self.constraints {
                    constraint.kind.rename_column(from, to);
                }
            }
            AlterTable::AddConstraint(constraint) => self.constraints.push(constraint.clone()),
            AlterTable::DropConstraint(name) => {
                let before = self.constraints.len();
                self.constraints.retain(|c| c.name.as_ref() != Some(name));
                if self.constraints.len() == before {
                    // A constraint the table declared without a name: the
                    // database named it, and ixray cannot tell which it is.
                    return Err(format!(
                        "drops constraint `{name}`, which ixray cannot name"
                    ));
                }
            }
            AlterTable::DropPrimaryKey => {
                for column in &mut self.columns {
                    column.primary_key = false;
                }
                self.constraints
                    .retain(|c| !matches!(c.kind, ConstraintKind::PrimaryKey(_)));
            }
            AlterTable::Other => {}
            AlterTable::Unknown(what) => return Err(format!("runs `{what}`")),
        }
        Ok(())
    }

    /// The primary key's columns, from a column flag or a constraint.
    pub fn primary_key(&self) -> Vec<String> {
        for constraint in &self.constraints {
            if let ConstraintKind::PrimaryKey(parts) = &constraint.kind {
                return parts
                    .iter()
                    .filter_map(|p| p.column_name().map(str::to_string))
                    .collect();
            }
        }
        self.columns
            .iter()
            .filter(|c| c.primary_key)
            .map(|c| c.name.clone())
            .collect()
    }

    /// The table as the database has it: its columns, foreign keys and the
    /// indexes the database makes for PRIMARY KEY and UNIQUE (and the
    /// inline MySQL keys). InnoDB's FK indexes are added later, for every
    /// table alike (`add_database_implicit_indexes`). Every index is
    /// locked: only SQL can change it. `location` is where the statement
    /// is, for everything it declares.
    pub fn to_table(
        &self,
        framework: Framework,
        dialect: Dialect,
        location: Option<crate::source::Location>,
    ) -> Table {
        let primary_key = self.primary_key();
        let mut table = Table {
            name: self.table.name.clone(),
            model: self.table.name.clone(),
            framework,
            dialect,
            dialect_assumed: false,
            managed: true,
            unknown_indexes: self.unknown.clone(),
            location: location.clone(),
            columns: self
                .columns
                .iter()
                .map(|c| Column {
                    primary_key: primary_key.contains(&c.name),
                    type_family: Some(TypeFamily::of_sql(&c.sql_type)),
                    location: location.clone(),
                    ..Column::new(c.name.clone(), c.name.clone())
                })
                .collect(),
            foreign_keys: Vec::new(),
            generic_foreign_keys: Vec::new(),
            indexes: Vec::new(),
        };
        let mut add_index = |parts: Vec<IndexPart>,
                             origin: IndexOrigin,
                             name: Option<&String>,
                             method: IndexMethod| {
            let mut index = Index::new(parts, origin);
            index.method = method;
            index.unique = origin.is_constraint();
            index.name = name.cloned();
            index.locked = true;
            index.location = location.clone();
            table.indexes.push(index);
        };
        if !primary_key.is_empty() {
            let name = self.constraints.iter().find_map(|c| match c.kind {
                ConstraintKind::PrimaryKey(_) => c.name.as_ref(),
                _ => None,
            });
            add_index(
                primary_key.iter().map(IndexPart::column).collect(),
                IndexOrigin::PrimaryKey,
                name,
                IndexMethod::Btree,
            );
        }
        for column in self.columns.iter().filter(|c| c.unique && !c.primary_key) {
            add_index(
                vec![IndexPart::column(&column.name)],
                IndexOrigin::UniqueField,
                None,
                IndexMethod::Btree,
            );
        }
        let mut foreign_keys = Vec::new();
        for column in &self.columns {
            if let Some(reference) = &column.references {
                foreign_keys.push((vec![column.name.clone()], reference, None));
            }
        }
        for constraint in &self.constraints {
            match &constraint.kind {
                ConstraintKind::Unique(parts) => add_index(
                    parts.clone(),
                    IndexOrigin::UniqueConstraint,
                    constraint.name.as_ref(),
                    IndexMethod::Btree,
                ),
                ConstraintKind::Index { parts, method } => add_index(
                    parts.clone(),
                    IndexOrigin::Migration,
                    constraint.name.as_ref(),
                    method.clone(),
                ),
                ConstraintKind::ForeignKey {
                    columns,
                    references,
                } => foreign_keys.push((columns.clone(), references, constraint.name.as_ref())),
                ConstraintKind::PrimaryKey(_) | ConstraintKind::Check => {}
            }
        }
        for (columns, reference, name) in foreign_keys {
            table.foreign_keys.push(ForeignKey {
                field: name.cloned().unwrap_or_else(|| columns.join(", ")),
                columns,
                ref_table: Some(reference.table.name.clone()),
                ref_columns: reference.columns.clone(),
                enforced: true,
                relation_only: false,
                location: location.clone(),
            });
        }
        table
    }
}

impl ConstraintKind {
    /// The plain columns it names.
    pub fn columns(&self) -> Vec<&str> {
        match self {
            ConstraintKind::PrimaryKey(parts)
            | ConstraintKind::Unique(parts)
            | ConstraintKind::Index { parts, .. } => {
                parts.iter().filter_map(IndexPart::column_name).collect()
            }
            ConstraintKind::ForeignKey { columns, .. } => {
                columns.iter().map(String::as_str).collect()
            }
            ConstraintKind::Check => Vec::new(),
        }
    }

    fn rename_column(&mut self, from: &str, to: &str) {
        match self {
            ConstraintKind::PrimaryKey(parts)
            | ConstraintKind::Unique(parts)
            | ConstraintKind::Index { parts, .. } => {
                for part in parts {
                    if part.column_name() == Some(from) {
                        part.key = IndexKey::Column(to.to_string());
                    }
                }
            }
            ConstraintKind::ForeignKey { columns, .. } => {
                for column in columns.iter_mut().filter(|c| *c == from) {
                    *column = to.to_string();
                }
            }
            ConstraintKind::Check => {}
        }
    }
}

impl Cursor {
    fn new(tokens: Vec<Token>) -> Cursor {
        Cursor { tokens, at: 0 }
    }

    fn table_name(&mut self) -> Option<TableName> {
        let (schema, name) = self.qualified_identifier()?;
        Some(TableName { name, schema })
    }

    fn done(&self) -> bool {
        self.at >= self.tokens.len()
    }

    /// The next word, uppercased, without consuming it.
    fn peek_word(&self) -> Option<String> {
        match self.peek()? {
            Token::Word(w) => Some(w.to_ascii_uppercase()),
            _ => None,
        }
    }

    /// `(a, b)` as plain column names.
    fn column_list(&mut self) -> Option<Vec<String>> {
        self.parenthesized_list()?
            .iter()
            .map(|item| match item.as_slice() {
                [Token::Word(w) | Token::Quoted(w)] => Some(w.clone()),
                _ => None,
            })
            .collect()
    }

    /// `(a, b DESC, lower(c))` as index parts.
    fn part_list(&mut self) -> Option<Vec<IndexPart>> {
        self.parenthesized_list()?
            .iter()
            .map(|item| parse_part(item))
            .collect()
    }

    fn reference(&mut self) -> Option<Reference> {
        let table = self.table_name()?;
        let columns = if self.peek() == Some(&Token::Open) {
            self.column_list()?
        } else {
            Vec::new()
        };
        Some(Reference { table, columns })
    }
}

/// Words that may start a table element that is not a column.
const CONSTRAINT_WORDS: &[&str] = &[
    "CONSTRAINT",
    "PRIMARY",
    "UNIQUE",
    "FOREIGN",
    "CHECK",
    "EXCLUDE",
    "KEY",
    "INDEX",
    "FULLTEXT",
    "SPATIAL",
    "LIKE",
];

fn parse_table_statement(sql: &str) -> Option<TableStatement> {
    let mut c = Cursor::new(tokenize(sql));
    if c.keyword("CREATE") {
        c.keywords(&["OR", "REPLACE"]);
        let _ = c.keyword("GLOBAL") || c.keyword("LOCAL");
        // A temporary table is gone when the migration's session ends.
        if c.keyword("TEMPORARY") || c.keyword("TEMP") {
            return None;
        }
        c.keyword("UNLOGGED");
        if !c.keyword("TABLE") {
            return None;
        }
        return Some(TableStatement::Create(create_table(&mut c)?));
    }
    if c.keyword("DROP") {
        if !c.keyword("TABLE") {
            return None;
        }
        c.keywords(&["IF", "EXISTS"]);
        let mut tables = vec![c.table_name()?];
        while c.peek() == Some(&Token::Comma) {
            c.at += 1;
            tables.push(c.table_name()?);
        }
        return Some(TableStatement::Drop { tables });
    }
    if c.keywords(&["RENAME", "TABLE"]) {
        let from = c.table_name()?;
        if !c.keyword("TO") {
            return None;
        }
        let to = c.identifier()?;
        return Some(TableStatement::Rename { from, to });
    }
    if !c.keywords(&["ALTER", "TABLE"]) {
        return None;
    }
    c.keywords(&["IF", "EXISTS"]);
    c.keyword("ONLY");
    let table = c.table_name()?;
    if matches!(c.peek(), Some(Token::Other(o)) if o == "*") {
        c.at += 1;
    }
    if c.keywords(&["RENAME", "TO"]) {
        let to = c.identifier()?;
        return Some(TableStatement::Rename { from: table, to });
    }
    let rest = c.tokens[c.at..].to_vec();
    let actions = split_top_level(&rest)
        .into_iter()
        .map(|tokens| alter_action(&tokens))
        .collect();
    Some(TableStatement::Alter { table, actions })
}

/// Tokens split on commas outside parentheses.
fn split_top_level(tokens: &[Token]) -> Vec<Vec<Token>> {
    let mut items = vec![Vec::new()];
    let mut depth = 0usize;
    for token in tokens {
        match token {
            Token::Open => depth += 1,
            Token::Close => depth = depth.saturating_sub(1),
            Token::Comma if depth == 0 => {
                items.push(Vec::new());
                continue;
            }
            _ => {}
        }
        if let Some(item) = items.last_mut() {
            item.push(token.clone());
        }
    }
    items.retain(|i| !i.is_empty());
    items
}

/// What follows `CREATE TABLE`.
fn create_table(c: &mut Cursor) -> Option<CreateTable> {
    let if_not_exists = c.keywords(&["IF", "NOT", "EXISTS"]);
    let table = c.table_name()?;
    let mut create = CreateTable {
        table,
        if_not_exists,
        columns: Vec::new(),
        constraints: Vec::new(),
        unknown: None,
    };
    let unknown = |create: &mut CreateTable, what: &str| {
        create.unknown = Some(format!("`CREATE TABLE {} {what}`", create.table.name));
    };
    match c.peek_word().as_deref() {
        Some("AS") => {
            unknown(&mut create, "AS ...");
            return Some(create);
        }
        Some("PARTITION") => {
            unknown(&mut create, "PARTITION OF ...");
            return Some(create);
        }
        Some("LIKE") => {
            unknown(&mut create, "LIKE ...");
            return Some(create);
        }
        Some("OF") => {
            unknown(&mut create, "OF ...");
            return Some(create);
        }
        _ => {}
    }
    let Some(elements) = c.parenthesized_list() else {
        unknown(&mut create, "...");
        return Some(create);
    };
    for element in elements.iter().filter(|e| !e.is_empty()) {
        let first = match &element[0] {
            Token::Word(w) => Some(w.to_ascii_uppercase()),
            _ => None,
        };
        if first
            .as_deref()
            .is_some_and(|w| CONSTRAINT_WORDS.contains(&w))
        {
            match table_constraint(&mut Cursor::new(element.clone())) {
                Some(constraint) => create.constraints.push(constraint),
                None => {
                    unknown(&mut create, &format!("({} ...)", render(element)));
                    return Some(create);
                }
            }
        } else {
            match column_def(element) {
                Some(column) => create.columns.push(column),
                None => {
                    unknown(&mut create, &format!("({} ...)", render(element)));
                    return Some(create);
                }
            }
        }
    }
    // Options after the elements: storage (`ENGINE=InnoDB`, `WITHOUT
    // ROWID`, `WITH (...)`), `PARTITION BY` (the indexes are the parent's),
    // and what makes the table another's (`INHERITS`, `AS SELECT`).
    while let Some(token) = c.peek().cloned() {
        c.at += 1;
        if let Token::Word(w) = token {
            let w = w.to_ascii_uppercase();
            if w == "INHERITS" || w == "AS" {
                unknown(&mut create, &format!("(...) {w} ..."));
                break;
            }
        }
    }
    Some(create)
}

/// `[CONSTRAINT name] PRIMARY KEY (..) | UNIQUE (..) | FOREIGN KEY (..)
/// REFERENCES t (..) | CHECK (..)`, MySQL `[UNIQUE] KEY|INDEX name (..)`.
fn table_constraint(c: &mut Cursor) -> Option<TableConstraint> {
    let mut name = None;
    if c.keyword("CONSTRAINT") {
        name = Some(c.identifier()?);
    }
    // MySQL puts an index name after the kind: `UNIQUE KEY uq (a)`.
    let index_name = |c: &mut Cursor, name: &mut Option<String>| {
        if c.peek() != Some(&Token::Open) && !c.keyword("USING") {
            let own = c.identifier();
            if name.is_none() {
                *name = own;
            }
        }
    };
    let kind = match c.peek_word()?.as_str() {
        "PRIMARY" => {
            c.keywords(&["PRIMARY", "KEY"]);
            ConstraintKind::PrimaryKey(c.part_list()?)
        }
        "UNIQUE" => {
            c.keyword("UNIQUE");
            let _ = c.keyword("KEY") || c.keyword("INDEX");
            c.keywords(&["NULLS", "NOT", "DISTINCT"]);
            c.keywords(&["NULLS", "DISTINCT"]);
            index_name(c, &mut name);
            ConstraintKind::Unique(c.part_list()?)
        }
        "FOREIGN" => {
            c.keywords(&["FOREIGN", "KEY"]);
            index_name(c, &mut name);
            let columns = c.column_list()?;
            if !c.keyword("REFERENCES") {
                return None;
            }
            ConstraintKind::ForeignKey {
                columns,
                references: c.reference()?,
            }
        }
        "CHECK" => ConstraintKind::Check,
        "KEY" | "INDEX" | "FULLTEXT" | "SPATIAL" => {
            let method = match c.peek_word()?.as_str() {
                "FULLTEXT" => IndexMethod::Other("fulltext".into()),
                "SPATIAL" => IndexMethod::Other("spatial".into()),
                _ => IndexMethod::Btree,
            };
            c.at += 1;
            let _ = c.keyword("KEY") || c.keyword("INDEX");
            index_name(c, &mut name);
            ConstraintKind::Index {
                parts: c.part_list()?,
                method,
            }
        }
        // EXCLUDE builds an index whose use ixray does not model; LIKE
        // copies another table.
        _ => return None,
    };
    if matches!(
        kind,
        ConstraintKind::PrimaryKey(_) | ConstraintKind::Unique(_)
    ) && rest_has(c, "USING")
        && rest_has(c, "INDEX")
    {
        // `UNIQUE USING INDEX ix` adopts an index ixray may not know.
        return None;
    }
    Some(TableConstraint { name, kind })
}

/// Whether a later token at depth zero is the word `kw`.
fn rest_has(c: &Cursor, kw: &str) -> bool {
    let mut depth = 0usize;
    c.tokens[c.at..].iter().any(|t| match t {
        Token::Open => {
            depth += 1;
            false
        }
        Token::Close => {
            depth = depth.saturating_sub(1);
            false
        }
        Token::Word(w) => depth == 0 && w.eq_ignore_ascii_case(kw),
        _ => false,
    })
}

/// Words that end a column's type and start its constraints.
const COLUMN_CONSTRAINT_WORDS: &[&str] = &[
    "NOT",
    "NULL",
    "DEFAULT",
    "PRIMARY",
    "UNIQUE",
    "REFERENCES",
    "CHECK",
    "CONSTRAINT",
    "COLLATE",
    "GENERATED",
    "AUTO_INCREMENT",
    "AUTOINCREMENT",
    "COMMENT",
    "ON",
    "IDENTITY",
];

/// `name type [constraints...]`.
fn column_def(tokens: &[Token]) -> Option<ColumnDef> {
    let name = match tokens.first()? {
        Token::Word(w) | Token::Quoted(w) => w.clone(),
        _ => return None,
    };
    let mut column = ColumnDef {
        name,
        sql_type: String::new(),
        primary_key: false,
        unique: false,
        references: None,
    };
    let mut c = Cursor::new(tokens[1..].to_vec());
    let type_start = c.at;
    let mut depth = 0usize;
    while let Some(token) = c.peek() {
        match token {
            Token::Open => depth += 1,
            Token::Close => depth = depth.saturating_sub(1),
            Token::Word(w)
                if depth == 0
                    && COLUMN_CONSTRAINT_WORDS.contains(&w.to_ascii_uppercase().as_str()) =>
            {
                break;
            }
            _ => {}
        }
        c.at += 1;
    }
    column.sql_type = render(&c.tokens[type_start..c.at]);
    while !c.done() {
        if c.keywords(&["PRIMARY", "KEY"]) {
            column.primary_key = true;
        } else if c.keyword("UNIQUE") {
            c.keyword("KEY");
            column.unique = true;
        } else if c.keyword("REFERENCES") {
            column.references = Some(c.reference()?);
        } else if c.peek() == Some(&Token::Open) {
            // CHECK (...), DEFAULT (...), GENERATED ... AS (...).
            c.parenthesized_list()?;
        } else {
            c.at += 1;
        }
    }
    Some(column)
}

/// One action of `ALTER TABLE t ...`.
fn alter_action(tokens: &[Token]) -> AlterTable {
    let mut c = Cursor::new(tokens.to_vec());
    let unknown = || AlterTable::Unknown(render(tokens));
    let word = c.peek_word().unwrap_or_default();
    match word.as_str() {
        "ADD" => {
            c.at += 1;
            let starts_constraint = c
                .peek_word()
                .is_some_and(|w| CONSTRAINT_WORDS.contains(&w.as_str()) && w != "LIKE");
            if starts_constraint {
                return match table_constraint(&mut c) {
                    Some(constraint) => AlterTable::AddConstraint(constraint),
                    None => unknown(),
                };
            }
            c.keyword("COLUMN");
            c.keywords(&["IF", "NOT", "EXISTS"]);
            match column_def(&c.tokens[c.at..]) {
                Some(column) => AlterTable::AddColumn(column),
                None => unknown(),
            }
        }
        "DROP" => {
            c.at += 1;
            if c.keywords(&["PRIMARY", "KEY"]) {
                return AlterTable::DropPrimaryKey;
            }
            let constraint = c.keyword("CONSTRAINT")
                || c.keywords(&["FOREIGN", "KEY"])
                || c.keyword("INDEX")
                || c.keyword("KEY");
            if !constraint {
                c.keyword("COLUMN");
            }
            c.keywords(&["IF", "EXISTS"]);
            match c.identifier() {
                Some(name) if constraint => AlterTable::DropConstraint(name),
                Some(name) => AlterTable::DropColumn(name),
                None => unknown(),
            }
        }
        "RENAME" => {
            c.at += 1;
            if c.keyword("CONSTRAINT") || c.keyword("INDEX") || c.keyword("KEY") {
                return unknown();
            }
            c.keyword("COLUMN");
            match (c.identifier(), c.keyword("TO"), c.identifier()) {
                (Some(from), true, Some(to)) => AlterTable::RenameColumn { from, to },
                _ => unknown(),
            }
        }
        // Changes a column's type, default, nullability or storage, or the
        // table's owner, triggers, statistics: no key or index.
        "ALTER" | "OWNER" | "ENABLE" | "DISABLE" | "VALIDATE" | "SET" | "RESET" | "CLUSTER"
        | "REPLICA" | "FORCE" | "NO" | "COMMENT" => AlterTable::Other,
        _ => unknown(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_create_and_drop_index() {
        let statements = index_statements(
            "-- legacy\nCREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS \"ix_a\" ON public.\"orders\" USING btree (customer_id, created_at DESC NULLS LAST) INCLUDE (total) WHERE customer_id IS NOT NULL AND (state = 'open');\nDROP INDEX IF EXISTS old_ix;",
        );
        assert_eq!(statements.len(), 2);
        let IndexStatement::Create(create) = &statements[0] else {
            panic!("expected a CREATE INDEX");
        };
        assert_eq!(create.name.as_deref(), Some("ix_a"));
        assert_eq!(create.table, "orders");
        assert!(create.unique && create.concurrently);
        assert_eq!(create.parts.len(), 2);
        assert!(create.parts[1].desc);
        assert_eq!(create.include, vec!["total"]);
        assert_eq!(
            create.predicate.as_ref().unwrap().conjuncts,
            vec![
                Conjunct::IsNotNull("customer_id".into()),
                Conjunct::Other("state = 'open'".into())
            ]
        );
        assert_eq!(
            statements[1],
            IndexStatement::Drop {
                name: "old_ix".into(),
                schema: None
            }
        );
    }

    #[test]
    fn expressions_and_opclasses() {
        let statements = index_statements(
            "create index e on t (lower(email)); create index l on t (name varchar_pattern_ops)",
        );
        let IndexStatement::Create(e) = &statements[0] else {
            panic!()
        };
        assert_eq!(e.parts[0].key, IndexKey::Expression("lower(email)".into()));
        let IndexStatement::Create(l) = &statements[1] else {
            panic!()
        };
        assert_eq!(l.parts[0].opclass.as_deref(), Some("varchar_pattern_ops"));
    }

    #[test]
    fn schemas_and_renames() {
        let statements = index_statements(
            "CREATE INDEX ix ON events.files (uuid); DROP INDEX \"events\".\"ix\"; ALTER INDEX IF EXISTS users.ix_a RENAME TO ix_b",
        );
        let IndexStatement::Create(create) = &statements[0] else {
            panic!()
        };
        assert_eq!(
            (create.schema.as_deref(), create.table.as_str()),
            (Some("events"), "files")
        );
        assert_eq!(
            statements[1..],
            [
                IndexStatement::Drop {
                    name: "ix".into(),
                    schema: Some("events".into())
                },
                IndexStatement::Rename {
                    from: "ix_a".into(),
                    to: "ix_b".into(),
                    schema: Some("users".into())
                }
            ]
        );
    }

    #[test]
    fn other_statements_are_ignored() {
        assert!(index_statements("ALTER TABLE t ADD COLUMN x int; SELECT 1;").is_empty());
    }

    fn create(sql: &str) -> CreateTable {
        match statements(sql).as_slice() {
            [Statement::Table(TableStatement::Create(create))] => create.clone(),
            other => panic!("expected one CREATE TABLE: {other:?}"),
        }
    }

    #[test]
    fn reads_create_table_columns_keys_and_references() {
        let t = create(
            r#"/* legacy */ CREATE TABLE IF NOT EXISTS "billing"."invoice" (
                "id" bigserial NOT NULL PRIMARY KEY,
                `code` varchar(20) NOT NULL UNIQUE, -- shown to customers
                total numeric(10, 2) DEFAULT (0.0) CHECK (total >= 0),
                customer_id bigint NOT NULL REFERENCES "crm_customer" ("id") ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
                region_id integer REFERENCES regions,
                note text DEFAULT 'primary key, unique',
                shop_id int, shop_code varchar(8),
                CONSTRAINT inv_shop_fk FOREIGN KEY (shop_id, shop_code) REFERENCES shop (id, code),
                CONSTRAINT inv_cust_code_uq UNIQUE (customer_id, code),
                CHECK (shop_id > 0)
            ) WITH (fillfactor = 70)"#,
        );
        assert_eq!(
            t.table,
            TableName {
                name: "invoice".into(),
                schema: Some("billing".into())
            }
        );
        assert!(t.if_not_exists);
        assert_eq!(t.unknown, None);
        let columns: Vec<(&str, &str, bool, bool)> = t
            .columns
            .iter()
            .map(|c| {
                (
                    c.name.as_str(),
                    c.sql_type.as_str(),
                    c.primary_key,
                    c.unique,
                )
            })
            .collect();
        assert_eq!(
            columns,
            vec![
                ("id", "bigserial", true, false),
                ("code", "varchar(20)", false, true),
                ("total", "numeric(10, 2)", false, false),
                ("customer_id", "bigint", false, false),
                ("region_id", "integer", false, false),
                ("note", "text", false, false),
                ("shop_id", "int", false, false),
                ("shop_code", "varchar(8)", false, false),
            ]
        );
        assert_eq!(
            t.columns[3].references,
            Some(Reference {
                table: TableName {
                    name: "crm_customer".into(),
                    schema: None
                },
                columns: vec!["id".into()]
            })
        );
        assert_eq!(t.columns[4].references.as_ref().unwrap().columns.len(), 0);
        assert_eq!(t.constraints.len(), 3);
        assert_eq!(t.constraints[0].name.as_deref(), Some("inv_shop_fk"));

        let table = t.to_table(Framework::Django, Dialect::Postgresql, None);
        let indexes: Vec<(String, IndexOrigin, bool)> = table
            .indexes
            .iter()
            .map(|i| (i.display_name(), i.origin, i.unique))
            .collect();
        assert_eq!(
            indexes,
            vec![
                ("(id)".to_string(), IndexOrigin::PrimaryKey, true),
                ("(code)".to_string(), IndexOrigin::UniqueField, true),
                (
                    "inv_cust_code_uq".to_string(),
                    IndexOrigin::UniqueConstraint,
                    true
                ),
            ]
        );
        assert!(table.indexes.iter().all(|i| i.locked));
        let fks: Vec<(Vec<String>, Option<String>, Vec<String>)> = table
            .foreign_keys
            .iter()
            .map(|f| {
                (
                    f.columns.clone(),
                    f.ref_table.clone(),
                    f.ref_columns.clone(),
                )
            })
            .collect();
        assert_eq!(
            fks,
            vec![
                (
                    vec!["customer_id".into()],
                    Some("crm_customer".into()),
                    vec!["id".into()]
                ),
                (vec!["region_id".into()], Some("regions".into()), vec![]),
                (
                    vec!["shop_id".into(), "shop_code".into()],
                    Some("shop".into()),
                    vec!["id".into(), "code".into()]
                ),
            ]
        );
        assert_eq!(table.columns[1].type_family, Some(TypeFamily::Text));
        assert!(table.columns[0].primary_key);
    }

    #[test]
    fn table_level_primary_keys_and_mysql_inline_keys() {
        let t = create(
            "CREATE TABLE `post_tag` (`post_id` int NOT NULL, `tag_id` int NOT NULL, `slug` varchar(10), PRIMARY KEY (`post_id`, `tag_id`), UNIQUE KEY `pt_slug` (`slug`), KEY `pt_tag` (`tag_id`), FULLTEXT KEY `pt_ft` (`slug`), CONSTRAINT `pt_tag_fk` FOREIGN KEY (`tag_id`) REFERENCES `tag` (`id`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
        );
        assert_eq!(t.unknown, None);
        assert_eq!(t.primary_key(), vec!["post_id", "tag_id"]);
        let table = t.to_table(Framework::Django, Dialect::Mysql, None);
        let indexes: Vec<String> = table
            .indexes
            .iter()
            .map(|i| format!("{} {:?} {}", i.describe(), i.method, i.unique))
            .collect();
        assert_eq!(
            indexes,
            vec![
                "(post_id, tag_id) Btree true",
                "(slug) Btree true",
                "(tag_id) Btree false",
                "(slug) Other(\"fulltext\") false",
            ]
        );
        assert_eq!(table.indexes[1].name.as_deref(), Some("pt_slug"));
        assert_eq!(table.foreign_keys[0].field, "pt_tag_fk");
    }

    #[test]
    fn what_the_reader_cannot_follow_is_unknown() {
        for sql in [
            "CREATE TABLE t AS SELECT * FROM u",
            "CREATE TABLE t (LIKE u INCLUDING ALL)",
            "CREATE TABLE t PARTITION OF u FOR VALUES IN (1)",
            "CREATE TABLE t (id int) INHERITS (u)",
            "CREATE TABLE t (id int, EXCLUDE USING gist (id WITH =))",
            "CREATE TABLE t OF some_type",
        ] {
            assert!(create(sql).unknown.is_some(), "{sql}");
        }
        // A temporary table does not outlive the migration.
        assert!(statements("CREATE TEMPORARY TABLE t (id int)").is_empty());
    }

    #[test]
    fn drop_rename_and_alter_table() {
        let statements = statements(
            "DROP TABLE IF EXISTS a, public.b CASCADE; ALTER TABLE a RENAME TO c; RENAME TABLE d TO e; \
             ALTER TABLE ONLY \"c\" ADD CONSTRAINT c_fk FOREIGN KEY (x_id) REFERENCES x (id), \
             ADD UNIQUE (code), ADD COLUMN IF NOT EXISTS y_id int REFERENCES y, DROP CONSTRAINT old_uq, \
             DROP COLUMN z, RENAME COLUMN p TO q, ALTER COLUMN q SET NOT NULL, ADD KEY k (q), \
             ADD CONSTRAINT u UNIQUE USING INDEX ix, INHERIT base",
        );
        let name = |n: &str| TableName {
            name: n.into(),
            schema: None,
        };
        assert_eq!(
            statements[0],
            Statement::Table(TableStatement::Drop {
                tables: vec![
                    name("a"),
                    TableName {
                        name: "b".into(),
                        schema: Some("public".into())
                    }
                ]
            })
        );
        assert_eq!(
            statements[1..3],
            [
                Statement::Table(TableStatement::Rename {
                    from: name("a"),
                    to: "c".into()
                }),
                Statement::Table(TableStatement::Rename {
                    from: name("d"),
                    to: "e".into()
                })
            ]
        );
        let Statement::Table(TableStatement::Alter { table, actions }) = &statements[3] else {
            panic!("{:?}", statements[3]);
        };
        assert_eq!(table, &name("c"));
        let kinds: Vec<String> = actions
            .iter()
            .map(|a| match a {
                AlterTable::AddConstraint(c) => format!("add {:?} {:?}", c.name, c.kind.columns()),
                AlterTable::AddColumn(c) => format!("column {} {}", c.name, c.references.is_some()),
                AlterTable::DropConstraint(n) => format!("drop {n}"),
                AlterTable::DropColumn(n) => format!("drop column {n}"),
                AlterTable::RenameColumn { from, to } => format!("rename {from} {to}"),
                AlterTable::Other => "other".into(),
                AlterTable::DropPrimaryKey => "drop pk".into(),
                AlterTable::Unknown(what) => format!("unknown {what}"),
            })
            .collect();
        assert_eq!(
            kinds,
            vec![
                "add Some(\"c_fk\") [\"x_id\"]",
                "add None [\"code\"]",
                "column y_id true",
                "drop old_uq",
                "drop column z",
                "rename p q",
                "other",
                "add Some(\"k\") [\"q\"]",
                "unknown add constraint u unique using index ix",
                "unknown inherit base",
            ]
        );
    }

    #[test]
    fn alter_table_changes_the_created_table() {
        let mut t = create(
            "CREATE TABLE t (id int PRIMARY KEY, a int, b int, CONSTRAINT t_b_uq UNIQUE (b), UNIQUE (a))",
        );
        for action in [
            AlterTable::DropColumn("a".into()),
            AlterTable::RenameColumn {
                from: "b".into(),
                to: "c".into(),
            },
        ] {
            t.apply(&action).unwrap();
        }
        assert_eq!(t.constraints.len(), 1);
        assert_eq!(t.constraints[0].kind.columns(), vec!["c"]);
        t.apply(&AlterTable::DropConstraint("t_b_uq".into()))
            .unwrap();
        assert!(t.constraints.is_empty());
        assert!(
            t.apply(&AlterTable::DropConstraint("t_pkey".into()))
                .is_err()
        );
        t.apply(&AlterTable::DropPrimaryKey).unwrap();
        assert!(t.primary_key().is_empty());
    }
}
