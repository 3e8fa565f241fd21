//! The partial-index predicates `fix` can write in every framework: a
//! conjunction of simple tests on one column each, read from an
//! `IndexSpec`'s SQL text so each emitter spells them in its own idiom
//! (Django `Q`, Drizzle `sql`). Anything else is refused, never guessed.

/// One test on one column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    /// SQL name of the column.
    pub column: String,
    pub test: Test,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Test {
    /// `col` (a boolean that is true).
    True,
    /// `NOT col`.
    False,
    /// `col IS NULL`.
    IsNull,
    /// `col IS NOT NULL`.
    IsNotNull,
    /// `col = literal`.
    Equals(Literal),
    /// `NOT (col = literal)`.
    NotEquals(Literal),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Literal {
    /// A string constant, unquoted (`''` read as `'`).
    Text(String),
    /// A number, as written (`42`, `-1`, `2.5`).
    Number(String),
}

impl Literal {
    /// The literal as SQL writes it.
    pub fn sql(&self) -> String {
        match self {
            Literal::Text(text) => format!("'{}'", text.replace('\'', "''")),
            Literal::Number(n) => n.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// An identifier, bare or double-quoted (`status`, `"Status"`).
    Name(String),
    /// A keyword, upper-cased: AND, NOT, IS, NULL.
    Keyword(&'static str),
    Text(String),
    Number(String),
    Equals,
    Open,
    Close,
}

/// The terms of `predicate`, joined by AND; an error naming what cannot be
/// read otherwise.
pub fn terms(predicate: &str) -> Result<Vec<Term>, String> {
    let unsupported = || format!("the predicate `{predicate}` is not one ixray can write yet");
    let tokens = tokenize(predicate).ok_or_else(unsupported)?;
    let mut terms = Vec::new();
    for part in tokens.split(|t| *t == Token::Keyword("AND")) {
        terms.push(term(part).ok_or_else(unsupported)?);
    }
    Ok(terms)
}

fn term(tokens: &[Token]) -> Option<Term> {
    use Token::*;
    let (column, test) = match tokens {
        [Name(c)] => (c, Test::True),
        [Keyword("NOT"), Name(c)] => (c, Test::False),
        [Name(c), Keyword("IS"), Keyword("NULL")] => (c, Test::IsNull),
        [Name(c), Keyword("IS"), Keyword("NOT"), Keyword("NULL")] => (c, Test::IsNotNull),
        [Name(c), Equals, value] => (c, Test::Equals(literal(value)?)),
        [Keyword("NOT"), Open, Name(c), Equals, value, Close] => {
            (c, Test::NotEquals(literal(value)?))
        }
        [Open, inner @ .., Close] => return term(inner),
        _ => return None,
    };
    Some(Term {
        column: column.clone(),
        test,
    })
}

fn literal(token: &Token) -> Option<Literal> {
    match token {
        Token::Text(t) => Some(Literal::Text(t.clone())),
        Token::Number(n) => Some(Literal::Number(n.clone())),
        _ => None,
    }
}

fn tokenize(sql: &str) -> Option<Vec<Token>> {
    let mut tokens = Vec::new();
    let mut chars = sql.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' | ')' | '=' => {
                chars.next();
                tokens.push(match c {
                    '(' => Token::Open,
                    ')' => Token::Close,
                    _ => Token::Equals,
                });
            }
            '"' => {
                chars.next();
                let mut name = String::new();
                loop {
                    match chars.next()? {
                        '"' if chars.peek() == Some(&'"') => {
                            chars.next();
                            name.push('"');
                        }
                        '"' => break,
                        d => name.push(d),
                    }
                }
                tokens.push(Token::Name(name));
            }
            '\'' => {
                chars.next();
                let mut text = String::new();
                loop {
                    match chars.next()? {
                        '\'' if chars.peek() == Some(&'\'') => {
                            chars.next();
                            text.push('\'');
                        }
                        '\'' => break,
                        d => text.push(d),
                    }
                }
                tokens.push(Token::Text(text));
            }
            c if c.is_ascii_digit() || c == '-' => {
                let mut number = String::new();
                while let Some(&d) = chars.peek() {
                    if d.is_ascii_digit() || d == '.' || (d == '-' && number.is_empty()) {
                        number.push(d);
                        chars.next();
                    } else {
                        break;
                    }
                }
                if number.parse::<f64>().is_err() {
                    return None;
                }
                tokens.push(Token::Number(number));
            }
            c if c.is_alphabetic() || c == '_' => {
                let mut word = String::new();
                while let Some(&d) = chars.peek() {
                    if d.is_alphanumeric() || d == '_' {
                        word.push(d);
                        chars.next();
                    } else {
                        break;
                    }
                }
                let keyword = ["AND", "NOT", "IS", "NULL"]
                    .into_iter()
                    .find(|k| word.eq_ignore_ascii_case(k));
                // `OR`, `TRUE`, `IN` and the rest say more than a term can.
                if ["OR", "TRUE", "FALSE", "IN", "LIKE", "BETWEEN"]
                    .iter()
                    .any(|k| word.eq_ignore_ascii_case(k))
                {
                    return None;
                }
                tokens.push(match keyword {
                    Some(k) => Token::Keyword(k),
                    None => Token::Name(word),
                });
            }
            _ => return None,
        }
    }
    Some(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn term(column: &str, test: Test) -> Term {
        Term {
            column: column.into(),
            test,
        }
    }

    #[test]
    fn reads_the_forms_rules_write() {
        assert_eq!(
            terms("enabled AND NOT archived AND deleted_at IS NULL AND owner_id IS NOT NULL")
                .unwrap(),
            vec![
                term("enabled", Test::True),
                term("archived", Test::False),
                term("deleted_at", Test::IsNull),
                term("owner_id", Test::IsNotNull),
            ]
        );
        assert_eq!(
            terms("status = 'it''s' and n = 42 AND NOT (\"Kind\" = 'x')").unwrap(),
            vec![
                term("status", Test::Equals(Literal::Text("it's".into()))),
                term("n", Test::Equals(Literal::Number("42".into()))),
                term("Kind", Test::NotEquals(Literal::Text("x".into()))),
            ]
        );
        assert_eq!(Literal::Text("it's".into()).sql(), "'it''s'");
    }

    #[test]
    fn refuses_everything_else() {
        for predicate in [
            "a = 1 OR b = 2",
            "a > 1",
            "lower(email) = 'x'",
            "a IN (1, 2)",
            "a = b",
            "NOT (a = 1 AND b = 2)",
            "a = true",
            "t.a IS NULL",
            "",
            "a = 'unterminated",
        ] {
            assert!(terms(predicate).is_err(), "{predicate}");
        }
    }
}
