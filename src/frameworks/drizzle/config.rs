//! `drizzle.config.{ts,js,mjs,cjs,mts,cts,json}`: where the schema lives,
//! the dialect, the output folder and `casing`. Read from the source, never
//! evaluated; values that are not literals are left unknown.

use std::path::{Path, PathBuf};

use globset::{Glob, GlobSet, GlobSetBuilder};
use oxc_ast::ast::{Expression, ObjectExpression, Statement};

use super::Casing;
use crate::frameworks::typescript::{
    Visited, array_elements, object_pairs, object_value, parse, string_value, unwrap_expression,
    walk,
};
use crate::schema::Dialect;

#[derive(Debug, Clone)]
pub struct DrizzleConfig {
    pub path: PathBuf,
    pub dialect: Option<Dialect>,
    /// Schema paths or globs, as written (relative to the config's folder).
    pub schema: Vec<String>,
    /// The drizzle-kit output folder, resolved (default `./drizzle`).
    pub out: PathBuf,
    pub casing: Option<Casing>,
    /// `migrations.prefix` (`index` by default).
    pub prefix: Option<String>,
    matcher: Option<GlobSet>,
}

/// Whether `path` is a drizzle-kit config file.
pub fn is_config(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_prefix("drizzle.config."))
        .is_some_and(|ext| matches!(ext, "ts" | "js" | "mjs" | "cjs" | "mts" | "cts" | "json"))
}

pub fn read(path: &Path, text: &str) -> DrizzleConfig {
    let dir = path.parent().unwrap_or(Path::new("")).to_path_buf();
    let mut config = DrizzleConfig {
        path: path.to_path_buf(),
        dialect: None,
        schema: Vec::new(),
        out: dir.join("drizzle"),
        casing: None,
        prefix: None,
        matcher: None,
    };
    let mut out = None;
    if path.extension().is_some_and(|e| e == "json") {
        if let Ok(value) = serde_json::from_str::<serde_json::Value>(text) {
            config.dialect = value["dialect"]
                .as_str()
                .or(value["driver"].as_str())
                .and_then(dialect_of);
            config.schema = match &value["schema"] {
                serde_json::Value::String(s) => vec![s.clone()],
                serde_json::Value::Array(items) => items
                    .iter()
                    .filter_map(|i| i.as_str().map(String::from))
                    .collect(),
                _ => Vec::new(),
            };
            out = value["out"].as_str().map(String::from);
            config.casing = value["casing"].as_str().and_then(Casing::parse);
            config.prefix = value["migrations"]["prefix"].as_str().map(String::from);
        }
    } else {
        // A config nested deeper than the parser may go is left unread.
        let _ = parse(path, text, |parsed| {
            walk(&parsed.program, |node| match node {
                Visited::Object(object) if is_config_object(object) => {
                    read_config_object(object, &mut config, &mut out);
                    false
                }
                _ => true,
            })
        });
    }
    if let Some(out) = out {
        config.out = normalize(&dir.join(out));
    }
    // drizzle-kit loads a schema file with a bundler and takes every table
    // it exports: files a barrel re-exports are schema files too.
    let mut schema = config.schema.clone();
    for entry in &config.schema {
        if entry.contains(['*', '?', '[', '{']) {
            continue;
        }
        for file in reexported_files(&normalize(&dir.join(entry))) {
            if let Ok(relative) = file.strip_prefix(normalize(&dir)) {
                schema.push(relative.to_string_lossy().into_owned());
            }
        }
    }
    config.matcher = schema_matcher(&dir, &schema);
    config
}

fn dialect_of(name: &str) -> Option<Dialect> {
    match name {
        "postgresql" | "pg" | "postgres" => Some(Dialect::Postgresql),
        "mysql" | "mysql2" | "singlestore" => Some(Dialect::Mysql),
        "sqlite" | "turso" | "libsql" | "better-sqlite" | "d1-http" => Some(Dialect::Sqlite),
        _ => None,
    }
}

/// Whether an object literal has drizzle-kit keys: the first one, in
/// source order, is the config (`defineConfig({...})`, `export default
/// {...}` or `module.exports = {...}`).
fn is_config_object(object: &ObjectExpression) -> bool {
    object_pairs(object)
        .iter()
        .any(|(k, _, _)| matches!(k.as_str(), "dialect" | "schema" | "out" | "driver"))
}

/// The literal values of the config object; `out` is resolved later.
fn read_config_object(
    object: &ObjectExpression,
    config: &mut DrizzleConfig,
    out: &mut Option<String>,
) {
    let string = |key: &str| object_value(object, key).and_then(string_value);
    config.dialect = string("dialect")
        .or_else(|| string("driver"))
        .and_then(|d| dialect_of(&d));
    config.schema = match object_value(object, "schema").map(unwrap_expression) {
        Some(Expression::ArrayExpression(array)) => array_elements(array)
            .into_iter()
            .filter_map(|e| string_value(e.as_expression()?))
            .collect(),
        Some(value) => string_value(value).into_iter().collect(),
        None => Vec::new(),
    };
    *out = string("out");
    config.casing = string("casing").and_then(|c| Casing::parse(&c));
    config.prefix = match object_value(object, "migrations") {
        Some(Expression::ObjectExpression(migrations)) => {
            object_value(migrations, "prefix").and_then(string_value)
        }
        _ => None,
    };
}

/// Drop `.` and resolve `..` lexically.
pub(crate) fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out
}

/// Every file `barrel` re-exports (`export * from "./users"`, `export {
/// a } from "./b"`), through barrels of barrels, resolved as TypeScript
/// resolves a relative module (`.ts`, `.tsx`, `.js`, `.mts`, `/index.ts`).
fn reexported_files(barrel: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = Vec::new();
    let mut pending = vec![barrel.to_path_buf()];
    while let Some(file) = pending.pop() {
        if found.len() > 512 || !file.is_file() {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        if text.len() > 1 << 20 {
            continue;
        }
        let dir = file.parent().unwrap_or(Path::new(""));
        let modules = parse(&file, &text, |parsed| {
            parsed
                .program
                .body
                .iter()
                .filter_map(|statement| match statement {
                    Statement::ExportAllDeclaration(export) => Some(&export.source),
                    Statement::ExportFromDeclaration(export) => Some(&export.source),
                    _ => None,
                })
                .map(|source| source.value.to_string())
                .filter(|module| module.starts_with('.'))
                .collect::<Vec<String>>()
        })
        .unwrap_or_default();
        for module in modules {
            let base = normalize(&dir.join(&module));
            let resolved = ["", ".ts", ".tsx", ".js", ".mts", ".mjs"]
                .iter()
                .map(|ext| PathBuf::from(format!("{}{ext}", base.display())))
                .chain(["index.ts", "index.js"].iter().map(|i| base.join(i)))
                .find(|p| p.is_file());
            if let Some(target) = resolved
                && !found.contains(&target)
            {
                found.push(target.clone());
                pending.push(target);
            }
        }
    }
    found
}

fn schema_matcher(dir: &Path, schema: &[String]) -> Option<GlobSet> {
    if schema.is_empty() {
        return None;
    }
    let mut builder = GlobSetBuilder::new();
    for entry in schema {
        let full = normalize(&dir.join(entry));
        let full = full.to_string_lossy();
        let pattern = if entry.contains(['*', '?', '[', '{']) {
            full.to_string()
        } else {
            // A file, or a folder holding the schema files.
            format!("{{{full},{}/**}}", full.trim_end_matches('/'))
        };
        if let Ok(glob) = Glob::new(&pattern) {
            builder.add(glob);
        }
    }
    builder.build().ok()
}

impl DrizzleConfig {
    /// Whether the config's `schema` names `file`.
    pub fn covers(&self, file: &Path) -> bool {
        self.matcher
            .as_ref()
            .is_some_and(|m| m.is_match(normalize(file)))
    }

    pub fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new(""))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_define_config() {
        let config = read(
            Path::new("app/drizzle.config.ts"),
            r#"import { defineConfig } from "drizzle-kit";
export default defineConfig({
  dialect: "postgresql",
  schema: ["./src/db/schema/*.ts", "./src/extra.ts"],
  out: "./migrations",
  casing: "snake_case",
  migrations: { prefix: "timestamp" },
  dbCredentials: { url: process.env.DATABASE_URL! },
});"#,
        );
        assert_eq!(config.dialect, Some(Dialect::Postgresql));
        assert_eq!(config.out, PathBuf::from("app/migrations"));
        assert_eq!(config.casing, Some(Casing::SnakeCase));
        assert_eq!(config.prefix.as_deref(), Some("timestamp"));
        assert!(config.covers(Path::new("app/src/db/schema/users.ts")));
        assert!(config.covers(Path::new("./app/src/extra.ts")));
        assert!(!config.covers(Path::new("app/src/db/other.ts")));
    }

    #[test]
    fn a_folder_covers_its_files() {
        let config = read(
            Path::new("drizzle.config.json"),
            r#"{"dialect": "sqlite", "schema": "./db"}"#,
        );
        assert_eq!(config.out, PathBuf::from("drizzle"));
        assert!(config.covers(Path::new("db/tables/a.ts")));
    }
}
