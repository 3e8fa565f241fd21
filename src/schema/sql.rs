//! Reads the index DDL that migrations carry as raw SQL (`CREATE INDEX`,
//! `DROP INDEX`). Only what changes which indexes exist; other statements are
//! ignored.

use super::{Conjunct, IndexKey, IndexMethod, IndexPart, Predicate};

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
        .filter_map(|s| parse_statement(&s))
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
fn split_statements(script: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut chars = script.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' => {
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
}
