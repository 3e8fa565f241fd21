//! A generated project in which every Django model carries a different
//! combination of fix intents, in single-line and multi-line layouts and in
//! two placement styles (indexes in `Meta`, or as field flags and
//! constraints). Django writes the history; ixray must find exactly the
//! intended findings, and `ixray fix` must leave a project that Django
//! accepts (`makemigrations --check`, `migrate` on SQLite and PostgreSQL),
//! with nothing left to fix and a second `fix` a no-op.
//!
//! There is no drift intent for Django: a model that stops declaring an
//! index its migrations created is a removal `makemigrations` has yet to
//! write (Django's own `makemigrations --check` reports it), not an index
//! the next migration would drop by surprise, so `index-drift` does not
//! apply to Django.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

use common::*;

/// One fix intent, with the rule that should report it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Intent {
    /// A foreign key with `db_index=False` and no index: add one.
    Fk,
    /// A single-column index that a composite starting with it covers.
    Redundant,
    /// Two indexes with one definition.
    Duplicate,
    /// Django's own FK index, covered by a wider index or constraint.
    Implicit,
}

const INTENTS: [Intent; 4] = [
    Intent::Fk,
    Intent::Redundant,
    Intent::Duplicate,
    Intent::Implicit,
];

impl Intent {
    fn letter(self) -> char {
        match self {
            Intent::Fk => 'f',
            Intent::Redundant => 'r',
            Intent::Duplicate => 'd',
            Intent::Implicit => 'i',
        }
    }

    fn rule(self) -> &'static str {
        match self {
            Intent::Fk => "unindexed-foreign-key",
            Intent::Redundant => "redundant-index",
            Intent::Duplicate => "duplicate-index",
            Intent::Implicit => "redundant-implicit-index",
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Layout {
    /// Every call and list on one line.
    Single,
    /// One argument or list item per line, with trailing commas.
    Multi,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Style {
    /// Every index in `Meta.indexes`.
    Meta,
    /// Indexes as field flags (`db_index=True`, `unique=True`) and
    /// constraints where Django allows.
    Fields,
}

struct Case {
    intents: Vec<Intent>,
    layout: Layout,
    style: Style,
}

impl Case {
    /// Short and unique: used for the model name and index names.
    fn code(&self) -> String {
        let mut code: String = self.intents.iter().map(|i| i.letter()).collect();
        code.push(match self.layout {
            Layout::Single => 's',
            Layout::Multi => 'm',
        });
        code.push(match self.style {
            Style::Meta => 'a',
            Style::Fields => 'b',
        });
        code
    }

    fn model(&self) -> String {
        format!("T{}", self.code())
    }

    fn table(&self) -> String {
        format!("matrix_t{}", self.code())
    }

    fn has(&self, intent: Intent) -> bool {
        self.intents.contains(&intent)
    }
}

/// Every combination of intents, in each layout and style.
fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for mask in 1u32..(1 << INTENTS.len()) {
        let intents: Vec<Intent> = INTENTS
            .iter()
            .enumerate()
            .filter(|(i, _)| mask & (1 << i) != 0)
            .map(|(_, intent)| *intent)
            .collect();
        for layout in [Layout::Single, Layout::Multi] {
            for style in [Style::Meta, Style::Fields] {
                cases.push(Case {
                    intents: intents.clone(),
                    layout,
                    style,
                });
            }
        }
    }
    cases
}

/// A call `head(arg, arg)` in the case's layout, at class-body indent.
fn call(layout: Layout, head: &str, args: &[String], indent: &str) -> String {
    match layout {
        _ if args.is_empty() => format!("{head}()"),
        Layout::Single => format!("{head}({})", args.join(", ")),
        Layout::Multi => {
            let mut out = format!("{head}(\n");
            for arg in args {
                let _ = writeln!(out, "{indent}    {arg},");
            }
            out.push_str(indent);
            out.push(')');
            out
        }
    }
}

/// A list `[item, item]` in the case's layout.
fn list(layout: Layout, items: &[String], indent: &str) -> String {
    match layout {
        Layout::Single => format!("[{}]", items.join(", ")),
        Layout::Multi => {
            let mut out = "[\n".to_string();
            for item in items {
                let _ = writeln!(out, "{indent}    {item},");
            }
            out.push_str(indent);
            out.push(']');
            out
        }
    }
}

fn quoted(items: &[&str]) -> String {
    let items: Vec<String> = items.iter().map(|i| format!("\"{i}\"")).collect();
    format!("[{}]", items.join(", "))
}

fn model_source(case: &Case) -> String {
    let code = case.code();
    let layout = case.layout;
    let index = |columns: &[&str], name: &str| {
        call(
            layout,
            "models.Index",
            &[
                format!("fields={}", quoted(columns)),
                format!("name=\"{code}_{name}\""),
            ],
            "            ",
        )
    };
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut indexes: Vec<String> = Vec::new();
    let mut constraints: Vec<String> = Vec::new();
    let field = |args: &[&str], kind: &str| {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        call(layout, &format!("models.{kind}"), &args, "    ")
    };
    if case.has(Intent::Fk) {
        fields.push((
            "fk".into(),
            field(
                &[
                    "Target",
                    "on_delete=models.CASCADE",
                    "db_index=False",
                    "related_name=\"+\"",
                ],
                "ForeignKey",
            ),
        ));
    }
    if case.has(Intent::Redundant) {
        match case.style {
            Style::Meta => {
                fields.push(("ra".into(), field(&[], "IntegerField")));
                indexes.push(index(&["ra"], "ra"));
            }
            Style::Fields => {
                fields.push(("ra".into(), field(&["db_index=True"], "IntegerField")));
            }
        }
        fields.push(("rb".into(), field(&[], "IntegerField")));
        indexes.push(index(&["ra", "rb"], "ra_rb"));
    }
    if case.has(Intent::Duplicate) {
        match case.style {
            Style::Meta => {
                fields.push(("dc".into(), field(&[], "IntegerField")));
                indexes.push(index(&["dc"], "dc"));
                indexes.push(index(&["dc"], "dc2"));
            }
            Style::Fields => {
                fields.push(("dc".into(), field(&["unique=True"], "IntegerField")));
                indexes.push(index(&["dc"], "dc"));
            }
        }
    }
    if case.has(Intent::Implicit) {
        fields.push((
            "ifk".into(),
            field(
                &["Target", "on_delete=models.CASCADE", "related_name=\"+\""],
                "ForeignKey",
            ),
        ));
        fields.push(("iv".into(), field(&[], "IntegerField")));
        match case.style {
            Style::Meta => indexes.push(index(&["ifk", "iv"], "ifk_iv")),
            Style::Fields => constraints.push(call(
                layout,
                "models.UniqueConstraint",
                &[
                    format!("fields={}", quoted(&["ifk", "iv"])),
                    format!("name=\"{code}_ifk_iv_uniq\""),
                ],
                "            ",
            )),
        }
    }
    let mut out = format!("\n\nclass {}(models.Model):\n", case.model());
    for (name, definition) in &fields {
        let _ = writeln!(out, "    {name} = {definition}");
    }
    if !indexes.is_empty() || !constraints.is_empty() {
        out.push_str("\n    class Meta:\n");
        if !indexes.is_empty() {
            let _ = writeln!(
                out,
                "        indexes = {}",
                list(layout, &indexes, "        ")
            );
        }
        if !constraints.is_empty() {
            let _ = writeln!(
                out,
                "        constraints = {}",
                list(layout, &constraints, "        ")
            );
        }
    }
    out
}

fn models_source(cases: &[Case]) -> String {
    let mut out = String::from(
        "from django.db import models\n\n\nclass Target(models.Model):\n    name = models.CharField(max_length=20)\n",
    );
    for case in cases {
        out.push_str(&model_source(case));
    }
    out
}

const MANAGE: &str = r#"import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "site_settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
"#;

/// The settings; the harness points the database elsewhere, but ixray
/// reads the engine to know the dialect (PostgreSQL: concurrent builds).
const SETTINGS: &str = r#"SECRET_KEY = "not-a-secret-generated-test-project"
INSTALLED_APPS = ["matrix"]
DATABASES = {"default": {"ENGINE": "django.db.backends.ENGINE", "NAME": "unused"}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
"#;

fn write_project(dir: &Path, cases: &[Case], engine: &str) {
    let app = dir.join("matrix");
    std::fs::create_dir_all(app.join("migrations")).unwrap();
    std::fs::write(dir.join("manage.py"), MANAGE).unwrap();
    std::fs::write(
        dir.join("site_settings.py"),
        SETTINGS.replace("ENGINE", engine),
    )
    .unwrap();
    std::fs::write(app.join("__init__.py"), "").unwrap();
    std::fs::write(app.join("migrations/__init__.py"), "").unwrap();
    std::fs::write(app.join("models.py"), models_source(cases)).unwrap();
    let made = djangoctl("makemigrations", dir, "sqlite");
    assert_success(&made, "makemigrations for the generated project");
    assert!(app.join("migrations/0001_initial.py").exists());
}

fn output_text(output: &std::process::Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn every_combination_of_intents_is_fixed_for_sqlite() {
    every_combination_of_intents_is_fixed("sqlite3");
}

#[test]
fn every_combination_of_intents_is_fixed_for_postgresql() {
    every_combination_of_intents_is_fixed("postgresql");
}

/// The project declares `engine`; it is migrated on SQLite and PostgreSQL
/// either way (Django runs a project's migrations on any database).
fn every_combination_of_intents_is_fixed(engine: &str) {
    if !require("the test venv's Python with Django", python().is_some()) {
        return;
    }
    let mut databases = vec!["sqlite"];
    if require(
        "PostgreSQL on 127.0.0.1 (IXRAY_PG_PORT)",
        postgres_available(),
    ) {
        databases.push("postgres");
    }
    let cases = cases();
    assert_eq!(cases.len(), 15 * 4);
    let dir = tempfile::tempdir().unwrap();
    write_project(dir.path(), &cases, engine);

    // ixray finds exactly the intended findings, model by model.
    let mut found: BTreeMap<String, BTreeSet<&str>> = BTreeMap::new();
    for finding in findings(dir.path()) {
        let rule = finding["rule"].as_str().unwrap();
        let rule = INTENTS
            .iter()
            .map(|i| i.rule())
            .find(|r| *r == rule)
            .unwrap_or_else(|| panic!("unexpected finding {finding:#}"));
        found
            .entry(finding["table"].as_str().unwrap().to_string())
            .or_default()
            .insert(rule);
    }
    let mut wrong = Vec::new();
    for case in &cases {
        let expected: BTreeSet<&str> = case.intents.iter().map(|i| i.rule()).collect();
        let got = found.remove(&case.table()).unwrap_or_default();
        if got != expected {
            wrong.push(format!(
                "{}: expected {expected:?}, got {got:?}",
                case.table()
            ));
        }
    }
    wrong.extend(found.keys().map(|t| format!("{t}: unexpected findings")));
    assert!(wrong.is_empty(), "findings:\n{}", wrong.join("\n"));

    let (code, stdout, stderr) = run_ixray(dir.path(), &["fix", "."]);
    let models = std::fs::read_to_string(dir.path().join("matrix/models.py")).unwrap();
    assert_eq!(
        code, 0,
        "ixray fix:\n{stdout}\n{stderr}\nmodels.py now:\n{models}"
    );
    assert!(
        !stdout.contains("withheld") && !stdout.contains("not fixed"),
        "ixray fix left something out:\n{stdout}"
    );

    // The edits, for review: every layout's result is in the snapshot.
    insta::assert_snapshot!(format!("fixed_models_{engine}"), models);
    let migrations = dir.path().join("matrix/migrations");
    let mut written: Vec<_> = std::fs::read_dir(&migrations)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("0002"))
        .collect();
    assert_eq!(written.len(), 1, "one new migration: {written:?}");
    let migration = std::fs::read_to_string(migrations.join(written.pop().unwrap())).unwrap();
    insta::assert_snapshot!(format!("fixed_migration_{engine}"), migration);

    let check = djangoctl("check", dir.path(), "sqlite");
    assert!(
        check.status.success(),
        "makemigrations --check after the fix:\n{}\nmodels.py:\n{models}",
        output_text(&check)
    );
    for db in &databases {
        let migrate = djangoctl("migrate", dir.path(), db);
        assert!(
            migrate.status.success(),
            "migrate on {db} after the fix:\n{}",
            output_text(&migrate)
        );
    }

    let left: Vec<String> = findings(dir.path())
        .iter()
        .map(|f| format!("{}: {} {}", f["table"], f["rule"], f["message"]))
        .collect();
    assert!(
        left.is_empty(),
        "findings after the fix:\n{}",
        left.join("\n")
    );

    let before = tree_contents(dir.path());
    let (code, stdout, _) = run_ixray(dir.path(), &["fix", "."]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("Nothing to fix."), "second fix: {stdout}");
    assert!(
        before == tree_contents(dir.path()),
        "a second fix changed files"
    );
}
