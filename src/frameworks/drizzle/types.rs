//! Column types as families: drizzle's column builders by name
//! (`integer`, `serial`, `varchar`, `uuid`, …) and the project's own
//! helpers that wrap one (`const id = (name) => varchar(name, { length:
//! 191 })`, `function pk() { return bigint("pk", …) }`, `export const cuid =
//! customType({ dataType() { return "varchar(191)" } })`), followed through
//! imports.
//!
//! Helpers are found by a light token scan of the file's text, not by the
//! parser that reads tables: it needs only declarations, returns and
//! imports, and keeps working whichever parser `schema.rs` uses.

use std::path::{Path, PathBuf};

use crate::schema::TypeFamily;

/// The family of a drizzle column builder (pg-core, mysql-core,
/// sqlite-core), by its exported name.
pub fn builder_family(name: &str) -> Option<TypeFamily> {
    Some(match name {
        "integer" | "int" | "smallint" | "tinyint" | "mediumint" | "bigint" | "serial"
        | "smallserial" | "bigserial" => TypeFamily::Integer,
        "text" | "varchar" | "char" | "tinytext" | "mediumtext" | "longtext" => TypeFamily::Text,
        "uuid" => TypeFamily::Uuid,
        "boolean" | "timestamp" | "datetime" | "date" | "time" | "year" | "interval" | "json"
        | "jsonb" | "numeric" | "decimal" | "real" | "float" | "double" | "doublePrecision"
        | "blob" | "binary" | "varbinary" | "bytea" | "inet" | "cidr" | "macaddr" | "macaddr8"
        | "point" | "line" | "vector" | "halfvec" | "sparsevec" | "bit" | "geometry"
        | "mysqlEnum" => TypeFamily::Other,
        _ => return None,
    })
}

/// What one script declares that types columns: its imports and its
/// builder helpers.
#[derive(Debug, Clone, Default)]
pub struct ScriptTypes {
    pub path: PathBuf,
    imports: Vec<Import>,
    helpers: Vec<Helper>,
}

impl ScriptTypes {
    pub fn has_helpers(&self) -> bool {
        !self.helpers.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Import {
    local: String,
    imported: String,
    module: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Helper {
    name: String,
    body: HelperBody,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HelperBody {
    /// The helper returns a call chain rooted at this name.
    Call(String),
    /// `customType({ dataType() { return "<sql>" } })`.
    Sql(String),
}

/// Families of column builders across a project's scripts.
pub struct TypeResolver<'s> {
    scripts: &'s [ScriptTypes],
}

/// Helpers calling helpers: deeper than this is not followed.
const MAX_DEPTH: usize = 6;

impl<'s> TypeResolver<'s> {
    pub fn new(scripts: &'s [ScriptTypes]) -> Self {
        TypeResolver { scripts }
    }

    /// The family of a column whose chain starts with `builder` in the
    /// script at `path`.
    pub fn family(&self, path: &Path, builder: &str) -> Option<TypeFamily> {
        match self.scripts.iter().position(|s| s.path == path) {
            Some(script) => self.local(script, builder, 0),
            None => builder_family(builder),
        }
    }

    /// What `name` means in `script`: its own helper, an import, or one of
    /// drizzle's builders reached through the columns callback's parameter
    /// (`(t) => ({ id: t.integer() })`).
    fn local(&self, script: usize, name: &str, depth: usize) -> Option<TypeFamily> {
        if depth > MAX_DEPTH {
            return None;
        }
        let types = &self.scripts[script];
        if let Some(helper) = types.helpers.iter().find(|h| h.name == name) {
            return self.body(script, &helper.body, depth);
        }
        if let Some(import) = types.imports.iter().find(|i| i.local == name) {
            if import.module.starts_with("drizzle-orm") {
                return builder_family(&import.imported);
            }
            return self.imported(script, import, depth + 1);
        }
        builder_family(name)
    }

    fn body(&self, script: usize, body: &HelperBody, depth: usize) -> Option<TypeFamily> {
        match body {
            HelperBody::Sql(sql) => Some(TypeFamily::of_sql(sql)),
            HelperBody::Call(root) => self.local(script, root, depth + 1),
        }
    }

    /// A helper imported from another script: the module's script when
    /// the path is relative; otherwise (a path alias) the helpers of that
    /// name anywhere, when they agree.
    fn imported(&self, script: usize, import: &Import, depth: usize) -> Option<TypeFamily> {
        let from = &self.scripts[script].path;
        if let Some(target) = super::project::module_path(from, &import.module) {
            let other = self
                .scripts
                .iter()
                .position(|s| super::project::same_module(&s.path, &target))?;
            return self.local(other, &import.imported, depth);
        }
        let mut families = self.scripts.iter().enumerate().filter_map(|(i, s)| {
            let helper = s.helpers.iter().find(|h| h.name == import.imported)?;
            Some(self.body(i, &helper.body, depth))
        });
        let first = families.next()??;
        families.all(|f| f == Some(first)).then_some(first)
    }
}

/// Read a script's imports and builder helpers.
pub fn scan(path: &Path, text: &str) -> ScriptTypes {
    let tokens = tokens(text);
    let mut types = ScriptTypes {
        path: path.to_path_buf(),
        ..ScriptTypes::default()
    };
    let mut depth = 0usize;
    let mut i = 0;
    while i < tokens.len() {
        match &tokens[i] {
            Token::Punct("{") => depth += 1,
            Token::Punct("}") => depth = depth.saturating_sub(1),
            Token::Ident("import") if depth == 0 => read_import(&tokens, i, &mut types.imports),
            Token::Ident("function") if depth == 0 => {
                if let Some(Token::Ident(name)) = tokens.get(i + 1)
                    && let Some(body) = function_result(&tokens, i + 2)
                {
                    types.helpers.push(Helper {
                        name: (*name).to_string(),
                        body,
                    });
                }
            }
            Token::Ident("const" | "let" | "var") if depth == 0 => {
                if let Some(Token::Ident(name)) = tokens.get(i + 1)
                    && let Some(value) = value_start(&tokens, i + 2)
                    && let Some(body) = helper_value(&tokens, value)
                {
                    types.helpers.push(Helper {
                        name: (*name).to_string(),
                        body,
                    });
                }
            }
            _ => {}
        }
        i += 1;
    }
    types
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token<'t> {
    Ident(&'t str),
    /// A string or template literal's text, without the quotes.
    Str(&'t str),
    Punct(&'t str),
}

/// Split TypeScript/JavaScript into identifiers, string literals and
/// punctuation, dropping comments, numbers and regular expressions. Only
/// as exact as the helper patterns need.
fn tokens(text: &str) -> Vec<Token<'_>> {
    let bytes = text.as_bytes();
    let mut out: Vec<Token> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if text[i..].starts_with("//") {
            i = text[i..].find('\n').map_or(bytes.len(), |n| i + n);
        } else if text[i..].starts_with("/*") {
            i = text[i + 2..]
                .find("*/")
                .map_or(bytes.len(), |n| i + 2 + n + 2);
        } else if c == b'"' || c == b'\'' {
            let end = string_end(bytes, i + 1, c);
            out.push(Token::Str(&text[i + 1..end.min(bytes.len())]));
            i = end + 1;
        } else if c == b'`' {
            let end = template_end(bytes, i + 1);
            out.push(Token::Str(&text[i + 1..end.min(bytes.len())]));
            i = end + 1;
        } else if c.is_ascii_alphabetic() || c == b'_' || c == b'$' || c >= 0x80 {
            let start = i;
            while i < bytes.len()
                && (bytes[i].is_ascii_alphanumeric()
                    || bytes[i] == b'_'
                    || bytes[i] == b'$'
                    || bytes[i] >= 0x80)
            {
                i += 1;
            }
            out.push(Token::Ident(&text[start..i]));
        } else if c.is_ascii_digit() {
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'.') {
                i += 1;
            }
        } else if text[i..].starts_with("=>") {
            out.push(Token::Punct("=>"));
            i += 2;
        } else if c == b'/' && regex_may_start(out.last()) {
            i = regex_end(bytes, i + 1);
        } else {
            let len = text[i..].chars().next().map_or(1, char::len_utf8);
            out.push(Token::Punct(&text[i..i + len]));
            i += len;
        }
    }
    out
}

fn string_end(bytes: &[u8], mut i: usize, quote: u8) -> usize {
    while i < bytes.len() && bytes[i] != quote && bytes[i] != b'\n' {
        i += if bytes[i] == b'\\' { 2 } else { 1 };
    }
    i
}

/// The closing backtick, past `${ ... }` substitutions (which may hold
/// strings and templates of their own).
fn template_end(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'`' => return i,
            b'$' if bytes.get(i + 1) == Some(&b'{') => {
                let mut depth = 1;
                i += 2;
                while i < bytes.len() && depth > 0 {
                    match bytes[i] {
                        b'{' => depth += 1,
                        b'}' => depth -= 1,
                        b'"' | b'\'' => i = string_end(bytes, i + 1, bytes[i]),
                        b'`' => i = template_end(bytes, i + 1),
                        _ => {}
                    }
                    i += 1;
                }
            }
            _ => i += 1,
        }
    }
    i
}

/// A `/` starts a regular expression where an expression may start.
fn regex_may_start(previous: Option<&Token>) -> bool {
    match previous {
        None => true,
        Some(Token::Punct(p)) => !matches!(*p, ")" | "]" | "}"),
        Some(Token::Ident(word)) => matches!(*word, "return" | "typeof" | "case" | "in" | "of"),
        Some(Token::Str(_)) => false,
    }
}

fn regex_end(bytes: &[u8], mut i: usize) -> usize {
    let mut class = false;
    while i < bytes.len() && bytes[i] != b'\n' {
        match bytes[i] {
            b'\\' => i += 1,
            b'[' => class = true,
            b']' => class = false,
            b'/' if !class => {
                i += 1;
                while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
                    i += 1;
                }
                return i;
            }
            _ => {}
        }
        i += 1;
    }
    i
}

/// `import [type] { a, b as c } from "m"`, `import d, { … } from "m"`.
fn read_import(tokens: &[Token], at: usize, imports: &mut Vec<Import>) {
    let mut names = Vec::new();
    let mut i = at + 1;
    if tokens.get(i) == Some(&Token::Ident("type")) {
        i += 1;
    }
    while let Some(token) = tokens.get(i) {
        match token {
            Token::Punct("{") => {
                i += 1;
                while let Some(Token::Ident(name)) = tokens.get(i) {
                    let mut name = *name;
                    if name == "type"
                        && let Some(Token::Ident(next)) = tokens.get(i + 1)
                    {
                        i += 1;
                        name = next;
                    }
                    let local = match (tokens.get(i + 1), tokens.get(i + 2)) {
                        (Some(Token::Ident("as")), Some(Token::Ident(alias))) => {
                            i += 2;
                            *alias
                        }
                        _ => name,
                    };
                    names.push((name.to_string(), local.to_string()));
                    i += 1;
                    if tokens.get(i) == Some(&Token::Punct(",")) {
                        i += 1;
                    }
                }
            }
            Token::Ident("from") => {
                if let Some(Token::Str(module)) = tokens.get(i + 1) {
                    imports.extend(names.into_iter().map(|(imported, local)| Import {
                        local,
                        imported,
                        module: (*module).to_string(),
                    }));
                }
                return;
            }
            Token::Punct(";") | Token::Str(_) => return,
            _ => {}
        }
        i += 1;
        if i > at + 400 {
            return;
        }
    }
}

/// After `const name`: the value's first token, past a type annotation.
fn value_start(tokens: &[Token], mut i: usize) -> Option<usize> {
    if tokens.get(i) == Some(&Token::Punct(":")) {
        i = skip_type(tokens, i + 1, &["="]);
    }
    (tokens.get(i) == Some(&Token::Punct("="))).then_some(i + 1)
}

/// Past a type annotation: to the first of `stops` outside brackets.
fn skip_type(tokens: &[Token], mut i: usize, stops: &[&str]) -> usize {
    let mut depth = 0i32;
    while let Some(token) = tokens.get(i) {
        match token {
            Token::Punct(p) if depth == 0 && stops.contains(p) => return i,
            Token::Punct("(" | "[" | "{" | "<") => depth += 1,
            Token::Punct(")" | "]" | "}" | ">") => depth -= 1,
            Token::Punct(";") if depth == 0 => return i,
            _ => {}
        }
        if depth < 0 {
            return i;
        }
        i += 1;
    }
    i
}

/// The closing bracket matching the opening one at `open`.
fn matching(tokens: &[Token], open: usize) -> Option<usize> {
    let mut depth = 0i32;
    for (i, token) in tokens.iter().enumerate().skip(open) {
        match token {
            Token::Punct("(" | "[" | "{") => depth += 1,
            Token::Punct(")" | "]" | "}") => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// A `const` value that is a builder helper: an arrow function or
/// function expression returning a call chain, or a `customType(...)`.
fn helper_value(tokens: &[Token], mut i: usize) -> Option<HelperBody> {
    if tokens.get(i) == Some(&Token::Ident("async")) {
        i += 1;
    }
    match tokens.get(i)? {
        Token::Ident("customType") => custom_type_sql(tokens, i + 1).map(HelperBody::Sql),
        Token::Ident("function") => {
            let after_name = match tokens.get(i + 1) {
                Some(Token::Ident(_)) => i + 2,
                _ => i + 1,
            };
            function_result(tokens, after_name)
        }
        // `name => varchar(name)`
        Token::Ident(_) if tokens.get(i + 1) == Some(&Token::Punct("=>")) => {
            arrow_result(tokens, i + 2)
        }
        Token::Punct("(") => {
            let close = matching(tokens, i)?;
            let mut arrow = close + 1;
            if tokens.get(arrow) == Some(&Token::Punct(":")) {
                arrow = skip_type(tokens, arrow + 1, &["=>"]);
            }
            (tokens.get(arrow) == Some(&Token::Punct("=>")))
                .then(|| arrow_result(tokens, arrow + 1))?
        }
        _ => None,
    }
}

/// `function [name] (params) [: type] { … return root(…) … }` from the
/// parameter list.
fn function_result(tokens: &[Token], mut i: usize) -> Option<HelperBody> {
    if tokens.get(i) == Some(&Token::Punct("<")) {
        i = skip_type(tokens, i + 1, &[">"]) + 1;
    }
    if tokens.get(i) != Some(&Token::Punct("(")) {
        return None;
    }
    let mut body = matching(tokens, i)? + 1;
    if tokens.get(body) == Some(&Token::Punct(":")) {
        body = skip_type(tokens, body + 1, &["{"]);
    }
    block_result(tokens, body)
}

/// An arrow function's body: an expression, or a block with a `return`.
fn arrow_result(tokens: &[Token], i: usize) -> Option<HelperBody> {
    match tokens.get(i)? {
        Token::Punct("{") => block_result(tokens, i),
        _ => call_root(tokens, i),
    }
}

/// The first `return` directly in the block at `open`.
fn block_result(tokens: &[Token], open: usize) -> Option<HelperBody> {
    if tokens.get(open) != Some(&Token::Punct("{")) {
        return None;
    }
    let close = matching(tokens, open)?;
    let mut depth = 0;
    for i in open + 1..close {
        match &tokens[i] {
            Token::Punct("{") => depth += 1,
            Token::Punct("}") => depth -= 1,
            Token::Ident("return") if depth == 0 => return call_root(tokens, i + 1),
            _ => {}
        }
    }
    None
}

/// `root(…)…`, `root<T>(…)…`, `(root(…)…)`: the root's name.
fn call_root(tokens: &[Token], mut i: usize) -> Option<HelperBody> {
    while tokens.get(i) == Some(&Token::Punct("(")) {
        i += 1;
    }
    let Token::Ident(name) = tokens.get(i)? else {
        return None;
    };
    let mut next = i + 1;
    if tokens.get(next) == Some(&Token::Punct("<")) {
        next = skip_type(tokens, next + 1, &[">"]) + 1;
    }
    (tokens.get(next) == Some(&Token::Punct("("))).then(|| HelperBody::Call((*name).to_string()))
}

/// The SQL type a `customType<…>({ dataType() { return "…" } })` returns.
fn custom_type_sql(tokens: &[Token], mut i: usize) -> Option<String> {
    if tokens.get(i) == Some(&Token::Punct("<")) {
        i = skip_type(tokens, i + 1, &[">"]) + 1;
    }
    if tokens.get(i) != Some(&Token::Punct("(")) {
        return None;
    }
    let close = matching(tokens, i)?;
    let data_type = (i..close).find(|&k| tokens[k] == Token::Ident("dataType"))?;
    (data_type..close).find_map(|k| match (&tokens[k], tokens.get(k + 1)) {
        (Token::Ident("return") | Token::Punct("=>"), Some(Token::Str(sql))) => {
            Some((*sql).to_string())
        }
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn helpers(text: &str) -> Vec<(String, HelperBody)> {
        scan(Path::new("x.ts"), text)
            .helpers
            .into_iter()
            .map(|h| (h.name, h.body))
            .collect()
    }

    fn call(name: &str) -> HelperBody {
        HelperBody::Call(name.into())
    }

    #[test]
    fn finds_helpers_in_every_form() {
        let found = helpers(
            r#"
import { varchar, bigint, customType } from "drizzle-orm/mysql-core";
// const commented = (n) => text(n);
export const id = (name: string) => varchar(name, { length: 191 });
const cuid = (name) => { const x = `a${"}"}b`; return text(name).$defaultFn(() => createId()); };
export function primaryKey(): ReturnType<typeof bigint> {
  if (/}/.test("x")) { return 1; }
  return bigint("pk", { mode: "number", unsigned: true }).autoincrement().primaryKey();
}
export const caseSensitive = customType<{ data: string; config: { length: number } }>({
  dataType(config) {
    return `varchar(${config.length}) COLLATE utf8mb4_0900_as_cs`;
  },
});
const short = name => (char(name, { length: 36 }));
const notAHelper = varchar("x");
export const columns = { a: varchar("a") };
function inner() { const nested = (n) => int(n); return 3; }
"#,
        );
        assert_eq!(
            found,
            vec![
                ("id".into(), call("varchar")),
                ("cuid".into(), call("text")),
                ("primaryKey".into(), call("bigint")),
                (
                    "caseSensitive".into(),
                    HelperBody::Sql("varchar(${config.length}) COLLATE utf8mb4_0900_as_cs".into())
                ),
                ("short".into(), call("char")),
            ]
        );
    }

    #[test]
    fn resolves_builders_helpers_and_imports() {
        let scripts = vec![
            scan(
                Path::new("src/schema/util/id.ts"),
                r#"import { customType } from "drizzle-orm/mysql-core";
export const id = customType<{ data: string }>({ dataType() { return "varchar(48)"; } });"#,
            ),
            scan(
                Path::new("src/schema/util/pk.ts"),
                r#"import { bigint } from "drizzle-orm/mysql-core";
export function primaryKey() { return bigint("pk", { mode: "number" }).primaryKey(); }"#,
            ),
            scan(
                Path::new("src/schema/keys.ts"),
                r#"import { varchar as vc, int } from "drizzle-orm/mysql-core";
import { id } from "./util/id";
import { primaryKey as pk } from "./util/pk";
import { cuid } from "@/lib/cuid";
const local = (n: string) => vc(n, { length: 12 });"#,
            ),
            scan(
                Path::new("lib/cuid.ts"),
                r#"import { text } from "drizzle-orm/pg-core";
export const cuid = (name: string) => text(name);"#,
            ),
        ];
        let types = TypeResolver::new(&scripts);
        let keys = Path::new("src/schema/keys.ts");
        assert_eq!(types.family(keys, "id"), Some(TypeFamily::Text));
        assert_eq!(types.family(keys, "pk"), Some(TypeFamily::Integer));
        assert_eq!(types.family(keys, "vc"), Some(TypeFamily::Text));
        assert_eq!(types.family(keys, "int"), Some(TypeFamily::Integer));
        assert_eq!(types.family(keys, "local"), Some(TypeFamily::Text));
        assert_eq!(types.family(keys, "cuid"), Some(TypeFamily::Text));
        // `t.uuid()` in a columns callback.
        assert_eq!(types.family(keys, "uuid"), Some(TypeFamily::Uuid));
        assert_eq!(types.family(keys, "mystery"), None);
        assert_eq!(
            types.family(Path::new("elsewhere.ts"), "serial"),
            Some(TypeFamily::Integer)
        );
    }
}
