//! One folder per ORM. Each reads its sources into facts, resolves them into
//! schema tables, and turns findings into edits in its own idiom.

pub mod alembic;
pub mod django;
pub mod drizzle;
pub mod markers;
pub mod pyexpr;
pub mod python;
pub mod python_statements;
pub mod sqlalchemy;
pub mod syntax;
pub mod typescript;

use crate::rules::Finding;
use crate::schema::{Dialect, Framework, Schema, Table};

/// Whether `dir` is a project's root: it holds a package manifest or
/// ixray's configuration, or a file one of the frameworks keeps there
/// (`manage.py`, `alembic.ini`, `drizzle.config.*`).
pub fn is_project_root(dir: &std::path::Path) -> bool {
    const MANIFESTS: &[&str] = &[
        "ixray.toml",
        "pyproject.toml",
        "setup.py",
        "setup.cfg",
        "package.json",
        "manage.py",
        "alembic.ini",
    ];
    MANIFESTS.iter().any(|m| dir.join(m).exists())
        || std::fs::read_dir(dir).is_ok_and(|entries| {
            entries
                .flatten()
                .any(|e| drizzle::config::is_config(&e.path()))
        })
}

/// The name a framework would give a new index on `columns` of `table`.
pub fn suggest_index_name(table: &Table, columns: &[(String, bool)]) -> String {
    match table.framework {
        Framework::Django => django::project::auto_index_name(&table.name, columns),
        Framework::Sqlalchemy => {
            let cols: Vec<&str> = columns.iter().map(|(c, _)| c.as_str()).collect();
            // Index names live in the table's schema: the bare table name.
            let bare = table.name.rsplit('.').next().unwrap_or(&table.name);
            format!("ix_{bare}_{}", cols.join("_"))
        }
        Framework::Drizzle => drizzle::emit::index_name(&table.name, columns),
    }
}

/// A proposed index never takes a name an index or constraint already has
/// where names must be unique (PostgreSQL: per schema; SQLite: per
/// database; MySQL: per table), nor another proposal's: it gets a numbered
/// suffix, within the database's identifier length.
pub fn unique_index_names(schema: &Schema, findings: &mut [Finding]) {
    let scope = |table: &crate::schema::Table| -> String {
        match table.dialect {
            Dialect::Postgresql => table
                .name
                .rsplit_once('.')
                .map_or(String::new(), |(s, _)| s.to_string()),
            Dialect::Sqlite => String::new(),
            Dialect::Mysql => table.name.clone(),
        }
    };
    let mut taken: rustc_hash::FxHashSet<(String, String)> = schema
        .tables
        .iter()
        .flat_map(|t| {
            let scope = scope(t);
            t.indexes
                .iter()
                .filter_map(move |i| Some((scope.clone(), i.name.clone()?)))
        })
        .collect();
    // Findings that propose the same index (folded, see
    // `rules::fold_proposals`) propose it under one name.
    let mut named: rustc_hash::FxHashMap<Proposal, String> = rustc_hash::FxHashMap::default();
    for finding in findings.iter_mut() {
        let Some(crate::rules::FixIntent::AddIndex(spec)) = &mut finding.fix else {
            continue;
        };
        let Some(table) = schema.tables.iter().find(|t| t.name == finding.table) else {
            continue;
        };
        let proposal = (
            table.name.clone(),
            spec.name.clone(),
            spec.columns
                .iter()
                .map(|c| (c.name.clone(), c.desc))
                .collect::<Vec<_>>(),
        );
        if let Some(name) = named.get(&proposal) {
            let name = name.clone();
            rename_proposal(finding, &name);
            continue;
        }
        let scope = scope(table);
        let limit = match table.dialect {
            Dialect::Postgresql => 63,
            Dialect::Mysql => 64,
            Dialect::Sqlite => usize::MAX,
        };
        let limit = if table.framework == Framework::Django {
            30
        } else {
            limit
        };
        let mut name = spec.name.clone();
        let mut n = 2;
        while taken.contains(&(scope.clone(), name.clone())) {
            let suffix = format!("_{n}");
            let mut base = spec.name.clone();
            while base.len() + suffix.len() > limit && base.pop().is_some() {}
            name = format!("{base}{suffix}");
            n += 1;
        }
        taken.insert((scope, name.clone()));
        named.insert(proposal, name.clone());
        rename_proposal(finding, &name);
    }
}

/// A proposed index by table, proposed name and key columns (with DESC).
type Proposal = (String, String, Vec<(String, bool)>);

/// Give the index a finding proposes its final name, in its help too.
fn rename_proposal(finding: &mut Finding, name: &str) {
    let Some(crate::rules::FixIntent::AddIndex(spec)) = &mut finding.fix else {
        return;
    };
    if spec.name == name {
        return;
    }
    if let Some(help) = &mut finding.help {
        *help = help.replace(&spec.name, name);
    }
    spec.name = name.to_string();
    if let Some(suggested) = &mut finding.suggested_index {
        suggested.name = name.to_string();
    }
}

/// Seconds since the epoch: `SOURCE_DATE_EPOCH` when set (reproducible
/// output), else the clock. Dates in generated migrations come from here.
pub fn now_epoch() -> u64 {
    std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())
        })
}

/// Code that runs once or beside the application: data migrations (Django
/// `migrations/`, Alembic revisions, their task modules), scripts
/// (backfills), tools, examples. Their queries ask nothing of the schema
/// the application keeps. Only the folders below the one the query and
/// the model share count (a checkout may live under `~/scripts`).
pub fn one_off_code(path: &std::path::Path, model: Option<&std::path::Path>) -> bool {
    let shared = model.map_or(0, |m| {
        path.components()
            .zip(m.components())
            .take_while(|(a, b)| a == b)
            .count()
    });
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if name.contains(".test.") || name.contains(".spec.") || name.starts_with("test_") {
        return true;
    }
    path.components().skip(shared).any(|c| {
        matches!(
            c.as_os_str().to_str(),
            Some(
                "tests"
                    | "test"
                    | "__tests__"
                    | "migrations"
                    | "versions"
                    | "alembic"
                    | "scripts"
                    | "script"
                    | "bin"
                    | "tools"
                    | "examples"
                    | "example"
                    | "docs"
                    | "seed"
                    | "seeds"
                    | "fixtures"
            )
        )
    })
}

/// Whether the framework can declare a descending index column for this
/// database: drizzle-orm's sqlite-core columns have no `.desc()`.
pub fn declares_descending_columns(
    framework: crate::schema::Framework,
    dialect: crate::schema::Dialect,
) -> bool {
    !(framework == crate::schema::Framework::Drizzle && dialect == crate::schema::Dialect::Sqlite)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::{FixIntent, Severity};
    use crate::schema::{Index, IndexOrigin, IndexPart, IndexSpec, SpecColumn};

    fn proposal(columns: &[&str]) -> Finding {
        let spec = IndexSpec {
            name: "t_a_idx".into(),
            table: "t".into(),
            columns: columns
                .iter()
                .map(|c| SpecColumn {
                    name: c.to_string(),
                    desc: false,
                })
                .collect(),
            unique: false,
            predicate: None,
        };
        Finding {
            rule: "unindexed-foreign-key",
            severity: Severity::Warning,
            framework: Framework::Sqlalchemy,
            model: "T".into(),
            table: "t".into(),
            columns: Vec::new(),
            index_name: None,
            message: String::new(),
            location: None,
            related: Vec::new(),
            suggested_index: Some(spec.clone()),
            fix: Some(FixIntent::AddIndex(spec)),
            help: None,
            inferred: false,
        }
    }

    #[test]
    fn one_index_proposed_twice_keeps_one_name_and_others_get_their_own() {
        let mut taken = Index::new(vec![IndexPart::column("z")], IndexOrigin::Declared);
        taken.name = Some("t_a_idx".into());
        let schema = Schema {
            tables: vec![Table {
                name: "t".into(),
                model: "T".into(),
                framework: Framework::Sqlalchemy,
                dialect: Dialect::Postgresql,
                dialect_assumed: false,
                managed: true,
                unknown_indexes: None,
                location: None,
                columns: vec![],
                foreign_keys: vec![],
                generic_foreign_keys: vec![],
                indexes: vec![taken],
            }],
            ..Schema::default()
        };
        let mut findings = vec![
            proposal(&["a", "b"]),
            proposal(&["a", "b"]),
            proposal(&["a"]),
        ];
        unique_index_names(&schema, &mut findings);
        let names: Vec<String> = findings
            .iter()
            .map(|f| match &f.fix {
                Some(FixIntent::AddIndex(spec)) => spec.name.clone(),
                _ => String::new(),
            })
            .collect();
        assert_eq!(names, ["t_a_idx_2", "t_a_idx_2", "t_a_idx_3"]);
        assert_eq!(
            findings[1].suggested_index.as_ref().unwrap().name,
            "t_a_idx_2"
        );
    }
}
