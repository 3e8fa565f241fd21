//! The SQLAlchemy + Alembic fix matrix: one generated project with a table
//! for every non-empty combination of four fix intents (add a foreign-key
//! index, drop a redundant index, drop a duplicate, declare a drifted
//! index), in single-line and multi-line layouts, for each way a model
//! places its indexes (`index=True`, a `__table_args__` tuple, a
//! `__table_args__` that starts as a dict, a core `Table(...)`, a
//! module-level `Index(...)`): 150 tables. Across the matrix, independently
//! of each other, alternate: classic `Column` and 2.0 `mapped_column` (or a
//! bare `Mapped[...]`), an index or a unique constraint as the duplicate's
//! twin, columns whose attribute or key differs from the SQL name, and
//! multi-line lists with or without a trailing comma; multi-line entries
//! carry comments that must stay with them.
//!
//! The real Alembic writes the initial revision (autogenerate) while the
//! models still declare the drifted indexes; then those declarations are
//! taken out. ixray must report exactly the planted findings, table by
//! table; after `ixray fix`, the models must keep each table's layout,
//! Alembic must upgrade, find nothing with `alembic check` and downgrade,
//! on SQLite and PostgreSQL; ixray must find nothing left; and a second fix
//! must change no byte. The project is generated twice: fixes for
//! PostgreSQL with SQLAlchemy's default naming convention, and fixes for
//! SQLite with a naming convention of its own and Alembic's batch mode.
//!
//! `IXRAY_KEEP_MATRIX=1` keeps the generated projects and says where.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Output};

use common::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Intent {
    /// A `ForeignKey` column without an index: `unindexed-foreign-key`.
    Fk,
    /// An index on (ra) next to one on (ra, rb): `redundant-index`.
    Redundant,
    /// Two indexes on (dc), or an index and a unique constraint on (dc):
    /// `duplicate-index`.
    Duplicate,
    /// An index on (dr) the history creates and no model declares:
    /// `index-drift`.
    Drift,
}

const INTENTS: [Intent; 4] = [
    Intent::Fk,
    Intent::Redundant,
    Intent::Duplicate,
    Intent::Drift,
];

impl Intent {
    fn tag(self) -> &'static str {
        match self {
            Intent::Fk => "fk",
            Intent::Redundant => "red",
            Intent::Duplicate => "dup",
            Intent::Drift => "drift",
        }
    }

    fn rule(self) -> &'static str {
        match self {
            Intent::Fk => "unindexed-foreign-key",
            Intent::Redundant => "redundant-index",
            Intent::Duplicate => "duplicate-index",
            Intent::Drift => "index-drift",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// Every call and container on one line.
    Single,
    /// One argument or item per line, with a trailing comma.
    Multi,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    /// `index=True` on single columns; composites and the second duplicate
    /// in a `__table_args__` tuple.
    Flag,
    /// `__table_args__ = (Index(...), ...)`.
    Tuple,
    /// `__table_args__ = {"comment": ...}`, or a tuple that ends with that
    /// dict once there are indexes.
    Dict,
    /// `name = Table("name", Base.metadata, Column(...), Index(...))`.
    Table,
    /// `Index("name", Model.column)` after the class.
    Module,
}

const STYLES: [Style; 5] = [
    Style::Flag,
    Style::Tuple,
    Style::Dict,
    Style::Table,
    Style::Module,
];

impl Style {
    fn tag(self) -> &'static str {
        match self {
            Style::Flag => "flag",
            Style::Tuple => "tuple",
            Style::Dict => "dict",
            Style::Table => "table",
            Style::Module => "module",
        }
    }

    /// The models module of this style's tables (`index=True` is a
    /// module-wide habit ixray follows, so each style has its own).
    fn module(self) -> String {
        format!("by_{}", self.tag())
    }
}

/// One generated table.
#[derive(Debug, Clone)]
struct Case {
    intents: Vec<Intent>,
    layout: Layout,
    style: Style,
    /// `x: Mapped[...] = mapped_column(...)` rather than `x = Column(...)`.
    mapped: bool,
    /// The duplicate's twin is a unique constraint rather than an index.
    unique_twin: bool,
    /// The FK and drift columns have attribute names (`Column("owner_id")`
    /// as `owner`) or, in a `Table`, keys (`key="owner"`) of their own.
    renamed: bool,
    /// Multi-line calls and tuples end with a comma after the last item.
    trailing_comma: bool,
    /// `Base.metadata` has a naming convention for indexes (see
    /// `CONVENTION`) rather than SQLAlchemy's default.
    convention: bool,
}

/// The custom index naming convention, and the name it gives an index on
/// one column.
const CONVENTION: &str = r#"{"ix": "%(table_name)s_%(column_0_N_name)s_idx"}"#;

/// How the model declares an index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Placement {
    /// `index=True` on its (single) column.
    Flag,
    /// `unique=True` on its (single) column.
    UniqueFlag,
    /// `Index(...)` in the style's container, or at module level.
    Entry,
    /// `UniqueConstraint(...)` in the style's container.
    UniqueEntry,
}

/// An index the model declares.
struct IndexDecl {
    name: String,
    columns: Vec<&'static str>,
    placement: Placement,
}

/// A column: SQL name, attribute (or key, in a `Table`), foreign key,
/// `index=True`, `unique=True`.
struct ColumnDecl {
    name: &'static str,
    attr: &'static str,
    foreign_key: bool,
    flag: bool,
    unique: bool,
}

const COMMENT: &str = r#"{"comment": "generated by the fix matrix"}"#;

impl Case {
    fn has(&self, intent: Intent) -> bool {
        self.intents.contains(&intent)
    }

    fn table(&self) -> String {
        let intents: Vec<&str> = self.intents.iter().map(|i| i.tag()).collect();
        let layout = match self.layout {
            Layout::Single => "one",
            Layout::Multi => "multi",
        };
        format!("t_{}_{layout}_{}", intents.join("_"), self.style.tag())
    }

    fn class(&self) -> String {
        self.table()
            .split('_')
            .map(|part| {
                let mut chars = part.chars();
                chars.next().map_or_else(String::new, |first| {
                    first.to_ascii_uppercase().to_string() + chars.as_str()
                })
            })
            .collect()
    }

    fn shape(&self) -> Shape {
        Shape {
            layout: self.layout,
            trailing_comma: self.trailing_comma,
        }
    }

    /// The name `index=True` gives an index on `column`.
    fn flag_name(&self, column: &str) -> String {
        let t = self.table();
        if self.convention {
            format!("{t}_{column}_idx")
        } else {
            format!("ix_{t}_{column}")
        }
    }

    /// The attribute (class) or key (`Table`) of a column.
    fn attr(&self, column: &'static str) -> &'static str {
        match column {
            "owner_id" if self.renamed => "owner",
            "dr" if self.renamed => "drift",
            _ => column,
        }
    }

    /// How an `Index("...")` string names a column: its key, which is the
    /// SQL name unless a `Table` column says `key=`.
    fn key(&self, column: &'static str) -> &'static str {
        if self.style == Style::Table {
            self.attr(column)
        } else {
            column
        }
    }

    /// (rule, what it is about: the index's name, or the FK's columns).
    /// Of two duplicates the copy goes: it is the later one, and the
    /// unique twin is never dropped.
    fn expected(&self) -> BTreeSet<(String, String)> {
        let t = self.table();
        self.intents
            .iter()
            .map(|i| {
                let flag = self.style == Style::Flag;
                let subject = match i {
                    Intent::Fk => "owner_id".to_string(),
                    Intent::Redundant if flag => self.flag_name("ra"),
                    Intent::Redundant => format!("ix_{t}_ra"),
                    Intent::Duplicate => format!("ix_{t}_dc_copy"),
                    Intent::Drift if flag => self.flag_name("dr"),
                    Intent::Drift => format!("ix_{t}_dr"),
                };
                (i.rule().to_string(), subject)
            })
            .collect()
    }

    fn indexes(&self, with_drift: bool) -> Vec<IndexDecl> {
        let t = self.table();
        let single = if self.style == Style::Flag {
            Placement::Flag
        } else {
            Placement::Entry
        };
        let unique = match self.style {
            Style::Flag | Style::Module => Placement::UniqueFlag,
            _ => Placement::UniqueEntry,
        };
        let index = |name: String, columns: Vec<&'static str>, placement| IndexDecl {
            name,
            columns,
            placement,
        };
        let mut out = Vec::new();
        let name = |column: &str| match single {
            Placement::Flag => self.flag_name(column),
            _ => format!("ix_{t}_{column}"),
        };
        if self.has(Intent::Redundant) {
            out.push(index(name("ra"), vec!["ra"], single));
            out.push(index(
                format!("ix_{t}_ra_rb"),
                vec!["ra", "rb"],
                Placement::Entry,
            ));
        }
        if self.has(Intent::Duplicate) {
            let twin = if self.unique_twin { unique } else { single };
            out.push(index(name("dc"), vec!["dc"], twin));
            out.push(index(
                format!("ix_{t}_dc_copy"),
                vec!["dc"],
                Placement::Entry,
            ));
        }
        if self.has(Intent::Drift) && with_drift {
            out.push(index(name("dr"), vec!["dr"], single));
        }
        out
    }

    fn columns(&self, indexes: &[IndexDecl]) -> Vec<ColumnDecl> {
        let flagged = |name: &str, placement| {
            indexes
                .iter()
                .any(|i| i.placement == placement && i.columns.as_slice() == [name])
        };
        let mut names = Vec::new();
        if self.has(Intent::Fk) {
            names.push("owner_id");
        }
        if self.has(Intent::Redundant) {
            names.extend(["ra", "rb"]);
        }
        if self.has(Intent::Duplicate) {
            names.push("dc");
        }
        if self.has(Intent::Drift) {
            names.push("dr");
        }
        names
            .into_iter()
            .map(|name| ColumnDecl {
                name,
                attr: self.attr(name),
                foreign_key: name == "owner_id",
                flag: flagged(name, Placement::Flag),
                unique: flagged(name, Placement::UniqueFlag),
            })
            .collect()
    }

    /// The Python source of this table (and its module-level indexes).
    fn render(&self, with_drift: bool) -> String {
        let indexes = self.indexes(with_drift);
        let columns = self.columns(&indexes);
        let entries: Vec<String> = indexes
            .iter()
            .filter_map(|i| {
                let columns = i.columns.iter().map(|c| quote(self.key(c)));
                match i.placement {
                    Placement::Entry if self.style != Style::Module => {
                        let args: Vec<String> =
                            std::iter::once(quote(&i.name)).chain(columns).collect();
                        Some(format!("Index({}){}", args.join(", "), about(&i.name)))
                    }
                    Placement::UniqueEntry => Some(format!(
                        "UniqueConstraint({}){}",
                        columns.collect::<Vec<_>>().join(", "),
                        about(i.columns[0])
                    )),
                    _ => None,
                }
            })
            .collect();
        match self.style {
            Style::Table => self.render_table(&columns, &entries),
            _ => self.render_class(&columns, &entries, &indexes),
        }
    }

    fn render_table(&self, columns: &[ColumnDecl], entries: &[String]) -> String {
        let t = self.table();
        let mut items = vec![quote(&t), "Base.metadata".to_string()];
        items.push(call(
            "Column",
            &[quote("id"), "Integer".into(), "primary_key=True".into()],
            self.shape(),
            0,
        ));
        for column in columns {
            let mut args = vec![quote(column.name)];
            args.extend(column_args(column));
            if column.attr != column.name {
                args.push(format!("key={}", quote(column.attr)));
            }
            items.push(call("Column", &args, self.shape(), 0));
        }
        items.extend(entries.iter().cloned());
        format!("{t} = {}\n", call("Table", &items, self.shape(), 0))
    }

    fn render_class(
        &self,
        columns: &[ColumnDecl],
        entries: &[String],
        indexes: &[IndexDecl],
    ) -> String {
        let class = self.class();
        let mut out = format!("class {class}(Base):\n");
        writeln!(out, "    __tablename__ = {}", quote(&self.table())).unwrap();
        let mut args: Vec<String> = entries.to_vec();
        if self.style == Style::Dict {
            args.push(COMMENT.to_string());
        }
        match args.as_slice() {
            [] => {}
            [dict] if self.style == Style::Dict => match self.layout {
                Layout::Single => writeln!(out, "    __table_args__ = {dict}").unwrap(),
                Layout::Multi => writeln!(
                    out,
                    "    __table_args__ = {{\n        {},\n    }}",
                    &dict[1..dict.len() - 1]
                )
                .unwrap(),
            },
            _ => {
                writeln!(
                    out,
                    "    __table_args__ = {}",
                    tuple(&args, self.shape(), 4)
                )
                .unwrap();
            }
        }
        let pk = ColumnDecl {
            name: "id",
            attr: "id",
            foreign_key: false,
            flag: false,
            unique: false,
        };
        for column in std::iter::once(&pk).chain(columns) {
            let mut args = column_args(column);
            if column.name == "id" {
                args.push("primary_key=True".into());
            }
            if column.attr != column.name {
                args.insert(0, quote(column.name));
            }
            if self.mapped {
                let annotation = if column.name == "id" {
                    "int"
                } else {
                    "Optional[int]"
                };
                // 2.0 style: the type comes from the annotation, and a
                // column with nothing to say has no `mapped_column()`.
                args.retain(|a| a != "Integer");
                let value = if args.is_empty() {
                    String::new()
                } else {
                    format!(" = {}", call("mapped_column", &args, self.shape(), 4))
                };
                writeln!(out, "    {}: Mapped[{annotation}]{value}", column.attr).unwrap();
            } else {
                writeln!(
                    out,
                    "    {} = {}",
                    column.attr,
                    call("Column", &args, self.shape(), 4)
                )
                .unwrap();
            }
        }
        if self.style == Style::Module {
            for index in indexes.iter().filter(|i| i.placement == Placement::Entry) {
                let mut args = vec![quote(&index.name)];
                args.extend(
                    index
                        .columns
                        .iter()
                        .map(|c| format!("{class}.{}", self.attr(c))),
                );
                write!(out, "\n\n{}\n", call("Index", &args, self.shape(), 0)).unwrap();
            }
        }
        out
    }
}

/// The arguments of a column after its name: type, FK, `index=True`.
fn column_args(column: &ColumnDecl) -> Vec<String> {
    let mut args = vec!["Integer".to_string()];
    if column.foreign_key {
        args.push(format!(
            r#"ForeignKey("matrix_parent.id"){}"#,
            about("matrix_parent.id")
        ));
    }
    if column.flag {
        args.push("index=True".into());
    }
    if column.unique {
        args.push("unique=True".into());
    }
    args
}

fn quote(s: &str) -> String {
    format!("\"{s}\"")
}

/// `name(a, b)` on one line, or one argument per line with a trailing
/// comma; `indent` is the indentation of the line the call starts on.
/// How a call or tuple is laid out.
#[derive(Debug, Clone, Copy)]
struct Shape {
    layout: Layout,
    /// After the last item of a multi-line call or tuple.
    trailing_comma: bool,
}

/// An item's comment, written after its comma in a multi-line layout.
const COMMENT_MARK: &str = "  # ";

/// `name(a, b)` on one line, or one argument per line; `indent` is the
/// indentation of the line the call starts on.
fn call(name: &str, args: &[String], shape: Shape, indent: usize) -> String {
    match shape.layout {
        Layout::Single => {
            let args: Vec<&str> = args.iter().map(|a| without_comment(a)).collect();
            format!("{name}({})", args.join(", "))
        }
        Layout::Multi => format!("{name}{}", lines("(", args, ")", shape, indent)),
    }
}

fn tuple(items: &[String], shape: Shape, indent: usize) -> String {
    let items: Vec<String> = match shape.layout {
        Layout::Single => items
            .iter()
            .map(|i| without_comment(i).to_string())
            .collect(),
        Layout::Multi => items.to_vec(),
    };
    match (shape.layout, items.as_slice()) {
        (Layout::Single, [one]) => format!("({one},)"),
        (Layout::Single, _) => format!("({})", items.join(", ")),
        // One item without its comma would be no tuple.
        (Layout::Multi, [_]) => lines(
            "(",
            &items,
            ")",
            Shape {
                trailing_comma: true,
                ..shape
            },
            indent,
        ),
        (Layout::Multi, _) => lines("(", &items, ")", shape, indent),
    }
}

fn without_comment(item: &str) -> &str {
    item.split(COMMENT_MARK).next().unwrap_or(item)
}

/// The comment that says what an item is about; after the fix it must
/// still sit on that item's line.
fn about(what: &str) -> String {
    format!("{COMMENT_MARK}about {what}")
}

/// One item a line, each with its comma (the last one's only with a
/// trailing comma) and then its comment.
fn lines(open: &str, items: &[String], close: &str, shape: Shape, indent: usize) -> String {
    let inner = " ".repeat(indent + 4);
    let mut out = format!("{open}\n");
    for (i, item) in items.iter().enumerate() {
        // A nested multi-line call moves right with its line.
        let item = item.replace('\n', &format!("\n{}", " ".repeat(4)));
        // A nested call's comments are its own: only the last line's
        // comment is the item's.
        let last_line = item.rfind('\n').map_or(0, |i| i + 1);
        let (code, comment) = match item[last_line..].find(COMMENT_MARK) {
            Some(at) => (
                item[..last_line + at].to_string(),
                item[last_line + at..].to_string(),
            ),
            None => (item, String::new()),
        };
        let comma = if i + 1 < items.len() || shape.trailing_comma {
            ","
        } else {
            ""
        };
        writeln!(out, "{inner}{code}{comma}{comment}").unwrap();
    }
    out + &" ".repeat(indent) + close
}

fn cases(convention: bool) -> Vec<Case> {
    let mut out = Vec::new();
    for style in STYLES {
        for (l, layout) in [Layout::Single, Layout::Multi].into_iter().enumerate() {
            for mask in 1..16usize {
                let intents = INTENTS
                    .iter()
                    .enumerate()
                    .filter(|(bit, _)| mask & (1 << bit) != 0)
                    .map(|(_, i)| *i)
                    .collect();
                out.push(Case {
                    intents,
                    layout,
                    style,
                    // A core `Table` has `Column`s only; elsewhere the two
                    // column forms alternate over subsets and layouts, and
                    // so, independently, do the duplicate's two forms.
                    mapped: style != Style::Table && (mask + l) % 2 == 1,
                    unique_twin: (mask.count_ones() as usize + l).is_multiple_of(2),
                    renamed: (mask / 4 + l) % 2 == 1,
                    trailing_comma: layout == Layout::Single || mask % 3 != 0,
                    convention,
                });
            }
        }
    }
    out
}

fn write(root: &Path, relative: &str, contents: &str) {
    let path = root.join(relative);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, contents).unwrap();
}

/// The models, with or without the declarations of the drifted indexes.
fn write_models(root: &Path, cases: &[Case], with_drift: bool) {
    for style in STYLES {
        let mut text = format!(
            "\"\"\"Generated by tests/fix_matrix_sqlalchemy.rs: indexes placed by {}.\"\"\"\n\n\
             from typing import Optional\n\n\
             from sqlalchemy import Column, ForeignKey, Index, Integer, Table, UniqueConstraint\n\
             from sqlalchemy.orm import Mapped, mapped_column\n\n\
             from app.base import Base\n",
            style.tag()
        );
        for case in cases.iter().filter(|c| c.style == style) {
            write!(text, "\n\n{}", case.render(with_drift)).unwrap();
        }
        write(root, &format!("app/{}.py", style.module()), &text);
    }
}

/// The Alembic skeleton of the blog fixture (alembic.ini, env.py,
/// script.py.mako) around an `app` package.
fn write_project(root: &Path, cases: &[Case], render_as_batch: bool) {
    let blog = fixture("sqlalchemy/blog");
    let read = |relative: &str| std::fs::read_to_string(blog.join(relative)).unwrap();
    write(root, "alembic.ini", &read("alembic.ini"));
    let mut env = read("migrations/env.py");
    assert!(env.contains("from blog.models import Base"));
    if render_as_batch {
        assert_eq!(env.matches("transaction_per_migration=True,").count(), 2);
        env = env.replace(
            "transaction_per_migration=True,",
            "transaction_per_migration=True,\n        render_as_batch=True,",
        );
    }
    write(
        root,
        "migrations/env.py",
        &env.replace(
            "from blog.models import Base",
            "from app.models import Base",
        ),
    );
    write(
        root,
        "migrations/script.py.mako",
        &read("migrations/script.py.mako"),
    );
    std::fs::create_dir_all(root.join("migrations/versions")).unwrap();
    write(root, "app/__init__.py", "");
    let base_body = if cases.iter().any(|c| c.convention) {
        format!("metadata = MetaData(naming_convention={CONVENTION})")
    } else {
        "pass".to_string()
    };
    write(
        root,
        "app/base.py",
        &format!(
            "from sqlalchemy import Column, Integer, MetaData\n\
             from sqlalchemy.orm import DeclarativeBase\n\n\n\
             class Base(DeclarativeBase):\n    {base_body}\n\n\n\
             class MatrixParent(Base):\n    __tablename__ = \"matrix_parent\"\n    \
             id = Column(Integer, primary_key=True)\n"
        ),
    );
    let mut models = String::from(
        "\"\"\"Every mapped table; importing this fills Base.metadata.\"\"\"\n\nfrom app.base import Base\n",
    );
    for style in STYLES {
        writeln!(models, "from app import {}  # noqa: F401", style.module()).unwrap();
    }
    write(root, "app/models.py", &models);
    write_models(root, cases, true);
}

/// `alembicctl.py revision`: the initial revision, by autogenerate.
fn autogenerate(root: &Path) -> Output {
    Command::new(python().expect("checked by require()"))
        .arg(repo_root().join("tests/support/alembicctl.py"))
        .args(["revision"])
        .arg(root)
        .args([
            "--db",
            "sqlite",
            "-m",
            "initial",
            "--rev-id",
            "000000000001",
        ])
        .output()
        .expect("the harness runs")
}

fn text_of(output: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A finding: rule, subject (the index's name, or else the columns) and
/// message.
type Found = (String, String, String);

/// Findings per table.
fn findings_by_table(root: &Path, dialect: &str) -> BTreeMap<String, Vec<Found>> {
    let mut out: BTreeMap<String, Vec<Found>> = BTreeMap::new();
    for finding in findings_with(root, &["--dialect", dialect]) {
        let text = |v: &serde_json::Value| v.as_str().unwrap_or("?").to_string();
        let subject = match finding["index_name"].as_str() {
            Some(name) => name.to_string(),
            None => finding["columns"]
                .as_array()
                .map(|c| c.iter().map(text).collect::<Vec<_>>().join(", "))
                .unwrap_or_default(),
        };
        out.entry(text(&finding["table"])).or_default().push((
            text(&finding["rule"]),
            subject,
            text(&finding["message"]),
        ));
    }
    out
}

/// How the generated project is set up around its tables.
#[derive(Debug, Clone, Copy)]
struct Project {
    /// What ixray writes fixes for (`--dialect`).
    dialect: &'static str,
    /// `Base.metadata` has `CONVENTION`.
    naming_convention: bool,
    /// env.py says `render_as_batch=True`, so the initial revision
    /// creates indexes in `batch_alter_table` blocks.
    render_as_batch: bool,
}

#[allow(clippy::print_stderr)] // where a kept project is, on request
fn run_matrix(project: Project) {
    let dialect = project.dialect;
    let cases = cases(project.naming_convention);
    let dir = tempfile::tempdir().unwrap();
    // To look at the project after a failure: IXRAY_KEEP_MATRIX=1.
    let root = if std::env::var_os("IXRAY_KEEP_MATRIX").is_some() {
        let kept = dir.keep();
        eprintln!(
            "fix matrix ({dialect}): the project is kept in {}",
            kept.display()
        );
        kept
    } else {
        dir.path().to_path_buf()
    };
    let root = root.as_path();
    write_project(root, &cases, project.render_as_batch);

    // (1, 2) The history creates every table with the models' indexes,
    // the drifted ones included.
    let initial = autogenerate(root);
    assert!(
        initial.status.success(),
        "alembic revision --autogenerate failed:\n{}",
        text_of(&initial)
    );
    // (3) Then the models stop declaring the drifted indexes.
    write_models(root, &cases, false);

    // (4) Exactly the planted findings, table by table.
    let mut found = findings_by_table(root, dialect);
    let mut wrong = String::new();
    for case in &cases {
        let table = case.table();
        let findings = found.remove(&table).unwrap_or_default();
        let got: BTreeSet<(String, String)> = findings
            .iter()
            .map(|(rule, subject, _)| (rule.clone(), subject.clone()))
            .collect();
        if got != case.expected() || findings.len() != case.intents.len() {
            writeln!(
                wrong,
                "{table} ({}): expected {:?}, ixray found:",
                case.style.module(),
                case.expected()
            )
            .unwrap();
            for (rule, subject, message) in &findings {
                writeln!(wrong, "    {rule} ({subject}): {message}").unwrap();
            }
        }
    }
    for (table, findings) in &found {
        writeln!(wrong, "{table}: unexpected {findings:?}").unwrap();
    }
    assert!(wrong.is_empty(), "findings before the fix:\n{wrong}");

    // (5) One fix for everything.
    let (code, fix_out, fix_err) = run_ixray(root, &["fix", "--dialect", dialect, "."]);
    assert_eq!(code, 0, "ixray fix:\n{fix_out}\n{fix_err}");
    let wrong = misplaced_comments(root);
    assert!(wrong.is_empty(), "comments moved by the fix:\n{wrong}");
    let wrong = layout_problems(root, &cases);
    assert!(
        wrong.is_empty(),
        "not in the table's layout after the fix:\n{wrong}"
    );
    // In the modules' own layout: what goes takes its blank lines along.
    for style in STYLES {
        let path = format!("app/{}.py", style.module());
        let text = std::fs::read_to_string(root.join(&path)).unwrap();
        if let Some(at) = text.find("\n\n\n\n") {
            let line = text[..at].lines().count() + 1;
            let around: Vec<&str> = text.lines().skip(line.saturating_sub(8)).take(16).collect();
            panic!(
                "{path}:{line}: more than two blank lines after the fix:\n{}",
                around.join("\n")
            );
        }
    }

    // (6) Alembic applies the result and finds the models in line with the
    // database, on both databases.
    let mut dbs = vec!["sqlite"];
    if require(
        "PostgreSQL on 127.0.0.1 (IXRAY_PG_PORT)",
        postgres_available(),
    ) {
        dbs.push("postgres");
    }
    for db in dbs {
        for command in ["check", "downgrade"] {
            let output = alembicctl(command, root, db);
            assert!(
                output.status.success(),
                "alembicctl.py {command} on {db} after `ixray fix --dialect {dialect}`:\n{}\n\
                 ixray fix said:\n{fix_out}\n{fix_err}",
                text_of(&output)
            );
        }
    }

    // (7) Nothing left.
    let left = findings_by_table(root, dialect);
    assert!(
        left.is_empty(),
        "ixray check after the fix:\n{left:#?}\nixray fix said:\n{fix_out}\n{fix_err}"
    );

    // (8) A second fix is a no-op.
    let before = tree_contents(root);
    let (code, stdout, stderr) = run_ixray(root, &["fix", "--dialect", dialect, "."]);
    assert_eq!(code, 0, "second ixray fix:\n{stdout}\n{stderr}");
    assert!(stdout.contains("Nothing to fix."), "second fix:\n{stdout}");
    let after = tree_contents(root);
    let changed: Vec<_> = before
        .iter()
        .zip(&after)
        .filter(|(b, a)| b != a)
        .map(|(b, _)| b.0.display().to_string())
        .collect();
    assert!(
        before.len() == after.len() && changed.is_empty(),
        "a second fix changed {changed:?}"
    );
}

/// Lines whose `# about X` comment is not about anything on the line.
fn misplaced_comments(root: &Path) -> String {
    let mut wrong = String::new();
    for style in STYLES {
        let path = format!("app/{}.py", style.module());
        let text = std::fs::read_to_string(root.join(&path)).unwrap();
        for (n, line) in text.lines().enumerate() {
            if let Some((code, what)) = line.split_once("# about ")
                && !code.contains(&quote(what))
            {
                writeln!(wrong, "{path}:{}: {line}", n + 1).unwrap();
            }
        }
    }
    wrong
}

/// Each table's `__table_args__` or `Table(...)` in the table's layout: on
/// one line, or one item a line. A `__table_args__` the fix creates has no
/// layout to follow and is written one item a line.
fn layout_problems(root: &Path, cases: &[Case]) -> String {
    let mut wrong = String::new();
    for case in cases {
        let path = format!("app/{}.py", case.style.module());
        let text = std::fs::read_to_string(root.join(&path)).unwrap();
        let head = match case.style {
            Style::Table => format!("{} = Table(", case.table()),
            _ => format!("class {}(Base):\n", case.class()),
        };
        let start = text.find(&head).expect("the table is still there");
        let end = text[start..].find("\n\n").map_or(text.len(), |e| start + e);
        let block = &text[start..end];
        let bad = match case.style {
            Style::Table => match case.layout {
                Layout::Single => block.contains('\n'),
                Layout::Multi => block.lines().any(|l| {
                    let code = without_comment(l).trim_end();
                    code.starts_with("    Index(")
                        && (!(code.ends_with("),") || code.ends_with(')')) || code.contains("), "))
                }),
            },
            _ => block
                .lines()
                .find(|l| l.starts_with("    __table_args__ = "))
                .is_some_and(|l| {
                    let opens = l.ends_with('(') || l.ends_with('{');
                    let created = !case.render(false).contains("__table_args__");
                    match case.layout {
                        Layout::Single => opens && !created,
                        Layout::Multi => !opens,
                    }
                }),
        };
        if bad {
            writeln!(
                wrong,
                "{path}, {} ({:?}):\n{block}",
                case.table(),
                case.layout
            )
            .unwrap();
        }
    }
    wrong
}

fn has_python() -> bool {
    require(
        "the test venv's Python with SQLAlchemy and Alembic",
        python().is_some(),
    )
}

/// Fixes written for PostgreSQL (concurrent builds in an autocommit
/// block), with SQLAlchemy's default naming convention.
#[test]
fn fix_matrix_for_postgresql() {
    if has_python() {
        run_matrix(Project {
            dialect: "postgresql",
            naming_convention: false,
            render_as_batch: false,
        });
    }
}

/// Fixes written for SQLite, with a naming convention of the project's
/// own (`index=True` and new indexes get its names) and Alembic's batch
/// mode, as SQLite projects use it: the history creates the indexes in
/// `batch_alter_table` blocks.
#[test]
fn fix_matrix_for_sqlite_with_a_naming_convention_and_batch_mode() {
    if has_python() {
        run_matrix(Project {
            dialect: "sqlite",
            naming_convention: true,
            render_as_batch: true,
        });
    }
}

/// The generator itself: one table per combination, names that fit
/// PostgreSQL's identifiers, and both column forms in every layout.
#[test]
fn the_matrix_covers_every_combination() {
    let cases = cases(false);
    assert_eq!(cases.len(), 15 * 2 * 5);
    let tables: BTreeSet<String> = cases.iter().map(Case::table).collect();
    assert_eq!(tables.len(), cases.len());
    for case in cases.iter().chain(&self::cases(true)) {
        for index in case.indexes(true) {
            assert!(index.name.len() <= 63, "{}", index.name);
        }
    }
    for style in STYLES {
        for layout in [Layout::Single, Layout::Multi] {
            let here = |c: &&Case| c.style == style && c.layout == layout;
            if style != Style::Table {
                for mapped in [false, true] {
                    assert!(cases.iter().filter(here).any(|c| c.mapped == mapped));
                }
            }
            for unique_twin in [false, true] {
                assert!(
                    cases
                        .iter()
                        .filter(here)
                        .any(|c| c.has(Intent::Duplicate) && c.unique_twin == unique_twin)
                );
            }
            if layout == Layout::Multi {
                for trailing_comma in [false, true] {
                    assert!(
                        cases
                            .iter()
                            .filter(here)
                            .any(|c| c.trailing_comma == trailing_comma)
                    );
                }
            }
            for renamed in [false, true] {
                for intent in [Intent::Fk, Intent::Drift] {
                    assert!(
                        cases
                            .iter()
                            .filter(here)
                            .any(|c| c.has(intent) && c.renamed == renamed)
                    );
                }
            }
        }
    }
}
