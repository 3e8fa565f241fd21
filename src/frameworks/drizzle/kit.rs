//! The drizzle-kit output folder (0.x layout) as the database state:
//! `meta/_journal.json` orders the migrations, the newest
//! `meta/NNNN_snapshot.json` is what `drizzle-kit generate` compares the
//! schema with, and the SQL files are what `drizzle-kit migrate` runs
//! (including hand-written `generate --custom` files the snapshot never sees).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;

use crate::InputError;
use crate::schema::Dialect;
use crate::schema::sql::{IndexStatement, index_statements};
use crate::source::SourceFile;

/// Whether `path` is a drizzle-kit journal.
pub fn is_journal(path: &Path) -> bool {
    path.file_name().is_some_and(|n| n == "_journal.json")
        && path
            .parent()
            .and_then(|p| p.file_name())
            .is_some_and(|n| n == "meta")
}

#[derive(Debug, Clone)]
pub struct KitFolder {
    /// The output folder (`out` in the config).
    pub out: PathBuf,
    pub journal: Arc<SourceFile>,
    pub dialect: Dialect,
    /// The journal's own `version` and the entries' `version`.
    pub entries: Vec<JournalEntry>,
    pub snapshot: Option<Snapshot>,
    /// Every CREATE/DROP INDEX of every migration, in order.
    pub statements: Vec<MigrationStatement>,
    /// The SQL files of the journal's entries that could be read, in order.
    pub migrations: Vec<Arc<SourceFile>>,
}

#[derive(Debug, Clone)]
pub struct JournalEntry {
    pub idx: u64,
    pub version: String,
    pub when: u64,
    pub tag: String,
    pub breakpoints: bool,
}

#[derive(Debug, Clone)]
pub struct Snapshot {
    pub path: PathBuf,
    pub text: String,
    pub value: Value,
}

#[derive(Debug, Clone)]
pub struct MigrationStatement {
    pub file: Arc<SourceFile>,
    pub statement: IndexStatement,
    /// The start of the line where the statement's index name appears.
    pub line_start: usize,
}

/// One index in the snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotIndex {
    pub name: String,
    /// Column names, or expression text for expressions.
    pub columns: Vec<SnapshotColumn>,
    pub unique: bool,
    pub predicate: Option<String>,
    pub method: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotColumn {
    pub expression: String,
    pub is_expression: bool,
    pub desc: bool,
}

pub fn read(
    path: &Path,
    text: &str,
    overlay: &crate::source::Overlay,
    errors: &mut Vec<InputError>,
) -> Option<KitFolder> {
    let journal: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(err) => {
            errors.push(InputError::new(
                path,
                format!("not a drizzle-kit journal: {err}"),
            ));
            return None;
        }
    };
    let meta = path.parent()?;
    let out = meta.parent()?.to_path_buf();
    let dialect = match journal["dialect"].as_str() {
        Some("postgresql" | "pg") => Dialect::Postgresql,
        Some("mysql" | "singlestore") => Dialect::Mysql,
        Some("sqlite" | "turso") => Dialect::Sqlite,
        other => {
            errors.push(InputError::new(
                path,
                format!("drizzle-kit journal with unknown dialect {other:?}; skipped"),
            ));
            return None;
        }
    };
    let entries: Vec<JournalEntry> = journal["entries"]
        .as_array()
        .map(|entries| {
            entries
                .iter()
                .filter_map(|e| {
                    Some(JournalEntry {
                        idx: e["idx"].as_u64()?,
                        version: e["version"].as_str().unwrap_or("").to_string(),
                        when: e["when"].as_u64().unwrap_or(0),
                        tag: e["tag"].as_str()?.to_string(),
                        breakpoints: e["breakpoints"].as_bool().unwrap_or(true),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let mut statements = Vec::new();
    let mut migrations = Vec::new();
    for entry in &entries {
        let sql_path = out.join(format!("{}.sql", entry.tag));
        match overlay.read_to_string(&sql_path) {
            Ok(sql) => {
                let file = SourceFile::new(sql_path, sql);
                migrations.push(file.clone());
                for statement in index_statements(&file.text) {
                    let name = match &statement {
                        IndexStatement::Create(c) => c.name.clone().unwrap_or_default(),
                        IndexStatement::Drop { name, .. }
                        | IndexStatement::Rename { from: name, .. } => name.clone(),
                    };
                    let line_start = file
                        .text
                        .find(&name)
                        .map_or(0, |at| file.lines.line_start(file.lines.line_of(at)));
                    statements.push(MigrationStatement {
                        file: file.clone(),
                        statement,
                        line_start,
                    });
                }
            }
            Err(err) => errors.push(InputError::new(
                &sql_path,
                format!(
                    "migration `{}` of the journal cannot be read: {err}",
                    entry.tag
                ),
            )),
        }
    }
    let snapshot = entries.last().and_then(|last| {
        let prefix = last.tag.split('_').next().unwrap_or(&last.tag);
        let snapshot_path = meta.join(format!("{prefix}_snapshot.json"));
        let text = match overlay.read_to_string(&snapshot_path) {
            Ok(t) => t,
            Err(err) => {
                errors.push(InputError::new(
                    &snapshot_path,
                    format!("the newest drizzle-kit snapshot cannot be read: {err}"),
                ));
                return None;
            }
        };
        match serde_json::from_str(&text) {
            Ok(value) => Some(Snapshot {
                path: snapshot_path,
                text,
                value,
            }),
            Err(err) => {
                errors.push(InputError::new(
                    &snapshot_path,
                    format!("not a drizzle-kit snapshot: {err}"),
                ));
                None
            }
        }
    });
    Some(KitFolder {
        out,
        journal: SourceFile::new(path.to_path_buf(), text.to_string()),
        dialect,
        entries,
        snapshot,
        statements,
        migrations,
    })
}

impl Snapshot {
    /// The snapshot's entry for a table (`public.t` on PostgreSQL).
    pub fn table(&self, schema: Option<&str>, name: &str, dialect: Dialect) -> Option<&Value> {
        let tables = self.value.get("tables")?;
        match dialect {
            Dialect::Postgresql => tables.get(format!("{}.{name}", schema.unwrap_or("public"))),
            _ => tables.get(name),
        }
    }

    pub fn indexes(
        &self,
        schema: Option<&str>,
        name: &str,
        dialect: Dialect,
    ) -> Vec<SnapshotIndex> {
        let Some(indexes) = self
            .table(schema, name, dialect)
            .and_then(|t| t.get("indexes"))
            .and_then(|i| i.as_object())
        else {
            return Vec::new();
        };
        indexes
            .iter()
            .map(|(key, index)| SnapshotIndex {
                name: index["name"].as_str().unwrap_or(key).to_string(),
                columns: index["columns"]
                    .as_array()
                    .map(|columns| {
                        columns
                            .iter()
                            .map(|c| match c {
                                Value::String(s) => SnapshotColumn {
                                    expression: s.clone(),
                                    is_expression: false,
                                    desc: false,
                                },
                                other => SnapshotColumn {
                                    expression: other["expression"]
                                        .as_str()
                                        .unwrap_or("")
                                        .to_string(),
                                    is_expression: other["isExpression"].as_bool().unwrap_or(false),
                                    desc: other["asc"].as_bool() == Some(false),
                                },
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
                unique: index["isUnique"].as_bool().unwrap_or(false),
                predicate: index["where"].as_str().map(String::from),
                method: index["method"].as_str().map(String::from),
            })
            .collect()
    }

    pub fn id(&self) -> &str {
        self.value["id"].as_str().unwrap_or("")
    }
}
