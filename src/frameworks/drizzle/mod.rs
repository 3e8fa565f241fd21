//! Drizzle ORM: table declarations in TypeScript/JavaScript (`schema.rs`),
//! `drizzle.config.*` (`config.rs`), the drizzle-kit output folder as the
//! database state (`kit.rs`), resolution into schema tables (`project.rs`)
//! and fixes in Drizzle's idiom (`emit.rs`). Reads source only; never runs
//! node.

pub mod config;
pub mod emit;
pub mod kit;
pub mod project;
pub mod queries;
pub mod schema;
pub mod types;

use crate::frameworks::markers::{MarkedBytes, Marker};
use crate::schema::Dialect;

/// Whether a script may declare Drizzle tables or relations, or configure
/// drizzle: it imports from `drizzle-orm` (or `drizzle-kit` for the
/// config), or calls a table maker or `relations` that it may import from
/// the project's own files (`createTable("post", …)` with the creator in
/// `./table`, builders re-exported by `./builders`). Cheap enough to run on
/// every file.
pub fn mentions_drizzle(file: &MarkedBytes) -> bool {
    file.has(Marker::Drizzle) || file.has(Marker::TableCall) || file.has(Marker::RelationsCall)
}

/// How drizzle names an unnamed column from its key (`casing`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Casing {
    SnakeCase,
    CamelCase,
}

impl Casing {
    pub fn parse(value: &str) -> Option<Casing> {
        match value {
            "snake_case" => Some(Casing::SnakeCase),
            "camelCase" => Some(Casing::CamelCase),
            _ => None,
        }
    }

    /// drizzle-orm's `toSnakeCase`/`toCamelCase` (casing.ts): split into
    /// words with `/[\da-z]+|[A-Z]+(?![a-z])|[A-Z][\da-z]+/g`, then join.
    pub fn apply(self, key: &str) -> String {
        let words = casing_words(key);
        match self {
            Casing::SnakeCase => words
                .iter()
                .map(|w| w.to_lowercase())
                .collect::<Vec<_>>()
                .join("_"),
            Casing::CamelCase => {
                let mut out = String::new();
                for (i, word) in words.iter().enumerate() {
                    if i == 0 {
                        out.push_str(&word.to_lowercase());
                    } else {
                        let mut chars = word.chars();
                        if let Some(first) = chars.next() {
                            out.extend(first.to_uppercase());
                            out.push_str(chars.as_str());
                        }
                    }
                }
                out
            }
        }
    }
}

fn casing_words(input: &str) -> Vec<String> {
    let chars: Vec<char> = input
        .chars()
        .filter(|c| *c != '\'' && *c != '\u{2019}')
        .collect();
    let lower_or_digit = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    let mut words = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if lower_or_digit(c) {
            let start = i;
            while i < chars.len() && lower_or_digit(chars[i]) {
                i += 1;
            }
            words.push(chars[start..i].iter().collect());
        } else if c.is_ascii_uppercase() {
            let start = i;
            let mut end = i;
            while end < chars.len() && chars[end].is_ascii_uppercase() {
                end += 1;
            }
            // `[A-Z]+(?![a-z])`, backtracking from the longest run.
            let mut matched = None;
            let mut k = end;
            while k > start {
                if !chars.get(k).is_some_and(|n| n.is_ascii_lowercase()) {
                    matched = Some(k);
                    break;
                }
                k -= 1;
            }
            if let Some(k) = matched {
                words.push(chars[start..k].iter().collect());
                i = k;
            } else {
                // `[A-Z][\da-z]+`
                i += 1;
                while i < chars.len() && lower_or_digit(chars[i]) {
                    i += 1;
                }
                words.push(chars[start..i].iter().collect());
            }
        } else {
            i += 1;
        }
    }
    words
}

/// The dialect a table builder writes for (`pgTable`, `mysqlSchema`, ...).
pub fn builder_dialect(name: &str) -> Option<Dialect> {
    if name.starts_with("pg") {
        Some(Dialect::Postgresql)
    } else if name.starts_with("mysql") {
        Some(Dialect::Mysql)
    } else if name.starts_with("sqlite") {
        Some(Dialect::Sqlite)
    } else {
        None
    }
}

/// The core module for a dialect, where `index` is imported from.
pub fn core_module(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Postgresql => "drizzle-orm/pg-core",
        Dialect::Mysql => "drizzle-orm/mysql-core",
        Dialect::Sqlite => "drizzle-orm/sqlite-core",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_keys_like_drizzle() {
        let snake = |k| Casing::SnakeCase.apply(k);
        assert_eq!(snake("queueId"), "queue_id");
        assert_eq!(snake("userID"), "user_id");
        assert_eq!(snake("HTTPServer"), "http_server");
        assert_eq!(snake("address2Line"), "address2_line");
        assert_eq!(snake("already_snake"), "already_snake");
        assert_eq!(snake("A1"), "a_1");
        let camel = |k| Casing::CamelCase.apply(k);
        assert_eq!(camel("queue_id"), "queueId");
        assert_eq!(camel("created_at_utc"), "createdAtUtc");
    }
}
