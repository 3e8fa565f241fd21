//! The Drizzle fix matrix: for every non-empty combination of four fix
//! intents on one table (add an FK index, drop a redundant index, drop a
//! duplicate, re-declare a drifted index), in the array and the object form
//! of the extra config, in a one-line and a multi-line layout, on pg, mysql
//! and sqlite, `ixray check` reports exactly the expected rules, `ixray fix`
//! writes a project that drizzle-kit and tsc accept (`generate` finds
//! nothing to do, `migrate` applies on SQLite and PostgreSQL, the database
//! then has exactly the expected indexes), nothing fixable is left, and a
//! second fix changes no byte.
//!
//! Within that, the tables vary what is cheap to vary: three kinds of
//! duplicate, a plain, descending or unique drifted index, columns named by
//! casing, object entries without trailing commas, tables without extra
//! config (the fix writes the callback, and in files without one the
//! import). Beyond the schema drizzle-kit accepts, the test knows the exact
//! text the fix should write and the indexes the database should end with.
//!
//! One generated project per dialect holds all its tables (60, plus the
//! parent), in schema files per form and layout behind a barrel
//! `index.ts`, so drizzle-kit runs once per step, not once per table.
//! `IXRAY_KEEP=1` keeps the projects for a look.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

use common::intents::{Intent, subset};
use common::*;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Dialect {
    Pg,
    Mysql,
    Sqlite,
}

impl Dialect {
    fn name(self) -> &'static str {
        match self {
            Dialect::Pg => "pg",
            Dialect::Mysql => "mysql",
            Dialect::Sqlite => "sqlite",
        }
    }

    fn table_fn(self) -> &'static str {
        match self {
            Dialect::Pg => "pgTable",
            Dialect::Mysql => "mysqlTable",
            Dialect::Sqlite => "sqliteTable",
        }
    }

    fn int(self) -> &'static str {
        match self {
            Dialect::Mysql => "int",
            Dialect::Pg | Dialect::Sqlite => "integer",
        }
    }

    fn core(self) -> &'static str {
        match self {
            Dialect::Pg => "drizzle-orm/pg-core",
            Dialect::Mysql => "drizzle-orm/mysql-core",
            Dialect::Sqlite => "drizzle-orm/sqlite-core",
        }
    }

    fn config(self) -> String {
        let (dialect, url) = match self {
            Dialect::Pg => ("postgresql", "postgres://postgres@localhost:5432/matrix"),
            Dialect::Mysql => ("mysql", "mysql://root@localhost:3306/matrix"),
            Dialect::Sqlite => ("sqlite", "file:./local.db"),
        };
        // PostgreSQL names unnamed columns by casing (`parentId: integer()`
        // is `parent_id`), so the fix must map SQL names back to keys.
        let casing = if self == Dialect::Pg {
            "\n  casing: \"snake_case\","
        } else {
            ""
        };
        format!(
            r#"import {{ defineConfig }} from "drizzle-kit";

export default defineConfig({{
  dialect: "{dialect}",
  // A barrel: index.ts re-exports the table files.
  schema: "./src/db/schema/index.ts",
  out: "./drizzle",{casing}
  dbCredentials: {{
    url: process.env.DATABASE_URL ?? "{url}",
  }},
}});
"#
        )
    }

    /// The harness's `--db` (only read by the database commands).
    fn db(self) -> &'static str {
        match self {
            Dialect::Pg => "postgres",
            Dialect::Mysql | Dialect::Sqlite => "sqlite",
        }
    }

    /// MySQL has no server here: drizzle-kit generate and tsc only.
    fn has_database(self) -> bool {
        self != Dialect::Mysql
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Form {
    Array,
    Object,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Layout {
    /// The whole table, columns and extra config, on one line.
    OneLine,
    /// One column per line, builders chained over lines, one entry per
    /// line; the array form in prettier's style (table name on its own
    /// line, trailing commas), the object form hugging the columns.
    MultiLine,
}

/// A table's text: when the kit history is made (the drifting index still
/// declared), when ixray sees it, and what `ixray fix` should make of it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum State {
    History,
    Checked,
    Fixed,
}

fn camel_case(snake: &str) -> String {
    let mut out = String::new();
    for (i, word) in snake.split('_').enumerate() {
        if i == 0 {
            out.push_str(word);
        } else {
            let mut chars = word.chars();
            out.extend(chars.next().map(|c| c.to_ascii_uppercase()));
            out.push_str(chars.as_str());
        }
    }
    out
}

/// How the `duplicate` intent is written.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Duplicate {
    /// `<t>_dc_idx` and `<t>_dc_again_idx` on (dc): the second goes.
    TwoIndexes,
    /// `dc: integer().unique()` and `<t>_dc_idx`: the index goes.
    UniqueColumn,
    /// `unique().on(t.dc)` in the extra config and `<t>_dc_idx`: the
    /// index goes.
    UniqueConstraint,
}

struct Table {
    dialect: Dialect,
    intents: Vec<Intent>,
    form: Form,
    layout: Layout,
    duplicate: Duplicate,
}

impl Table {
    fn has(&self, intent: Intent) -> bool {
        self.intents.contains(&intent)
    }

    fn name(&self) -> String {
        let intents: Vec<&str> = self.intents.iter().map(|i| i.tag()).collect();
        format!(
            "t_{}_{}_{}",
            intents.join("_"),
            match self.layout {
                Layout::OneLine => "one",
                Layout::MultiLine => "multi",
            },
            match self.form {
                Form::Array => "arr",
                Form::Object => "obj",
            }
        )
    }

    fn var(&self) -> String {
        camel_case(&self.name())
    }

    fn unique_duplicate(&self) -> bool {
        self.duplicate != Duplicate::TwoIndexes
    }

    /// The drifted index is a `uniqueIndex` in the multi-line layout (the
    /// fix must import it; on MySQL drizzle-kit writes it inside CREATE
    /// TABLE), a plain index on (dr_at, id) elsewhere, with `id` descending
    /// on PostgreSQL (whose snapshot records the direction).
    fn drift_unique(&self) -> bool {
        self.layout == Layout::MultiLine
    }

    fn drift_columns(&self, param: &str) -> String {
        match (self.drift_unique(), self.dialect) {
            (true, _) => format!("{param}.drAt"),
            (false, Dialect::Pg) => format!("{param}.drAt, {param}.id.desc()"),
            (false, _) => format!("{param}.drAt, {param}.id"),
        }
    }

    /// An array-form table without extra config when ixray sees it lives
    /// in a file of such tables, which then imports no index builder and
    /// has no callback to take habits from: the fix adds the import and
    /// names the parameter `table`. (In the object form the table sits
    /// with its siblings, so that the new callback takes their form.)
    fn bare(&self) -> bool {
        self.form == Form::Array && self.entries(State::Checked).is_empty()
    }

    /// The callback parameter.
    fn param(&self, state: State) -> &'static str {
        if state == State::Fixed && self.bare() {
            "table"
        } else {
            "t"
        }
    }

    fn expected_rules(&self) -> BTreeSet<&'static str> {
        self.intents.iter().map(|i| i.rule()).collect()
    }

    /// The `_idx` indexes the database has after the fix.
    fn expected_indexes(&self) -> BTreeSet<String> {
        let t = self.name();
        let mut out = BTreeSet::new();
        if self.has(Intent::Fk) {
            out.insert(format!("{t}_parent_id_idx"));
        }
        if self.has(Intent::Redundant) {
            out.insert(format!("{t}_ra_rb_idx"));
        }
        if self.has(Intent::Duplicate) && !self.unique_duplicate() {
            out.insert(format!("{t}_dc_idx"));
        }
        if self.has(Intent::Drift) {
            out.insert(format!("{t}_dr_idx"));
        }
        out
    }

    /// (SQL name, column code) of each column.
    fn columns(&self) -> Vec<(String, String)> {
        let int = self.dialect.int();
        let multi = self.layout == Layout::MultiLine;
        // Multi-line: unnamed columns (the key is the SQL name) and chains
        // over lines.
        let col = |name: &str, chain: &[&str]| -> String {
            let base = if multi {
                format!("{int}()")
            } else {
                format!("{int}(\"{name}\")")
            };
            let sep = if multi { "\n      " } else { "" };
            let chain: String = chain.iter().map(|c| format!("{sep}.{c}")).collect();
            format!("{name}: {base}{chain}")
        };
        let mut out = vec![("id".to_string(), format!("id: {int}(\"id\").primaryKey()"))];
        if self.has(Intent::Fk) {
            let name = if multi && self.dialect == Dialect::Pg {
                ""
            } else {
                "\"parent_id\""
            };
            let chain: Vec<&str> = if self.dialect == Dialect::Mysql {
                vec!["notNull()"]
            } else {
                vec!["notNull()", "references(() => parents.id)"]
            };
            let sep = if multi { "\n      " } else { "" };
            let chain: String = chain.iter().map(|c| format!("{sep}.{c}")).collect();
            out.push((
                "parent_id".into(),
                format!("parentId: {int}({name}){chain}"),
            ));
        }
        if self.has(Intent::Redundant) {
            out.push(("ra".into(), col("ra", &[])));
            out.push(("rb".into(), col("rb", &["notNull()"])));
        }
        if self.has(Intent::Duplicate) {
            let chain: &[&str] = if self.duplicate == Duplicate::UniqueColumn {
                &["unique()"]
            } else {
                &[]
            };
            out.push(("dc".into(), col("dc", chain)));
        }
        if self.has(Intent::Drift) {
            // Its key is not its SQL name: declaring the index again maps
            // `dr_at` back to `drAt` (by casing on pg's multi-line layout).
            let name = if multi && self.dialect == Dialect::Pg {
                String::new()
            } else {
                "\"dr_at\"".to_string()
            };
            out.push(("dr_at".into(), format!("drAt: {int}({name})")));
        }
        out
    }

    /// The extra-config entries: (key for the object form, code).
    fn entries(&self, state: State) -> Vec<(String, String)> {
        let t = self.name();
        let multi = self.layout == Layout::MultiLine;
        // The entries a fix removes are chained over lines when multi-line.
        let chained = |name: &str, on: &str| -> String {
            if multi {
                format!("index(\"{t}_{name}\")\n      .on({on})")
            } else {
                format!("index(\"{t}_{name}\").on({on})")
            }
        };
        let plain = |name: &str, on: &str| format!("index(\"{t}_{name}\").on({on})");
        let drift_code = |param: &str| {
            format!(
                "{}(\"{t}_dr_idx\").on({})",
                if self.drift_unique() {
                    "uniqueIndex"
                } else {
                    "index"
                },
                self.drift_columns(param)
            )
        };
        let drift = ("drIdx".to_string(), drift_code("t"));
        let mut out = Vec::new();
        // Multi-line: the drifted index comes first, so that its removal
        // leaves the others behind it.
        if state == State::History && multi && self.has(Intent::Drift) {
            out.push(drift.clone());
        }
        // (entry, whether the fix removes it)
        let mut listed: Vec<((String, String), bool)> = Vec::new();
        if self.has(Intent::Redundant) {
            listed.push((("raIdx".into(), chained("ra_idx", "t.ra")), true));
            listed.push((("raRbIdx".into(), plain("ra_rb_idx", "t.ra, t.rb")), false));
        }
        if self.has(Intent::Duplicate) {
            if self.duplicate == Duplicate::UniqueConstraint {
                listed.push((("dcUnique".into(), "unique().on(t.dc)".into()), false));
            }
            listed.push((
                ("dcIdx".into(), plain("dc_idx", "t.dc")),
                self.unique_duplicate(),
            ));
            if !self.unique_duplicate() {
                listed.push((("dcAgainIdx".into(), chained("dc_again_idx", "t.dc")), true));
            }
        }
        // The object form's multi-line layout lists the entries the fix
        // removes last (and without a trailing comma), so that neighbours
        // go together and the last one takes the comma before it.
        if self.form == Form::Object && multi {
            listed.sort_by_key(|(_, removed)| *removed);
        }
        out.extend(
            listed
                .into_iter()
                .filter(|(_, removed)| state != State::Fixed || !removed)
                .map(|(entry, _)| entry),
        );
        if state == State::History && !multi && self.has(Intent::Drift) {
            out.push(drift);
        }
        // The fix appends what it adds, then what it declares again; in
        // the object form it keys them by the index name in camelCase.
        if state == State::Fixed {
            let param = self.param(state);
            if self.has(Intent::Fk) {
                out.push((
                    camel_case(&format!("{t}_parent_id_idx")),
                    format!("index(\"{t}_parent_id_idx\").on({param}.parentId)"),
                ));
            }
            if self.has(Intent::Drift) {
                out.push((camel_case(&format!("{t}_dr_idx")), drift_code(param)));
            }
        }
        out
    }

    /// How many entries the fix adds or declares again.
    fn added(&self) -> usize {
        usize::from(self.has(Intent::Fk)) + usize::from(self.has(Intent::Drift))
    }

    fn code(&self, state: State) -> String {
        let d = self.dialect;
        let name = self.name();
        let var = self.var();
        let columns = self.columns();
        let entries = self.entries(state);
        // A fix that removes every entry leaves the callback, empty.
        let callback = !entries.is_empty()
            || (state == State::Fixed && !self.entries(State::Checked).is_empty());
        let param = self.param(state);
        let (open, close) = match self.form {
            Form::Array => (format!("({param}) => ["), "]"),
            Form::Object => (format!("({param}) => ({{"), "})"),
        };
        let mut out = String::new();
        match self.layout {
            Layout::OneLine => {
                let cols: Vec<&str> = columns.iter().map(|(_, c)| c.as_str()).collect();
                let items: Vec<String> = entries
                    .iter()
                    .map(|(k, c)| match self.form {
                        Form::Array => c.clone(),
                        Form::Object => format!("{k}: {c}"),
                    })
                    .collect();
                let extra = match (callback, items.is_empty(), self.form) {
                    (false, _, _) => String::new(),
                    (true, true, _) => format!(", {open}{close}"),
                    (true, false, Form::Array) => format!(", {open}{}{close}", items.join(", ")),
                    (true, false, Form::Object) => format!(", {open} {} {close}", items.join(", ")),
                };
                writeln!(
                    out,
                    "export const {var} = {}(\"{name}\", {{ {} }}{extra});",
                    d.table_fn(),
                    cols.join(", ")
                )
                .unwrap();
            }
            Layout::MultiLine => {
                // The array form in prettier's style, every argument on its
                // own line; the object form hugging the columns.
                let (start, indent, columns_end, separator, end) = match self.form {
                    Form::Array => (
                        format!("{}(\n  \"{name}\",\n  {{\n", d.table_fn()),
                        "    ",
                        "  },\n",
                        "  ",
                        ",\n);\n",
                    ),
                    Form::Object => (
                        format!("{}(\"{name}\", {{\n", d.table_fn()),
                        "  ",
                        "}",
                        ", ",
                        ");\n",
                    ),
                };
                write!(out, "export const {var} = {start}").unwrap();
                for (_, c) in &columns {
                    let c = c.replace("\n      ", &format!("\n{indent}  "));
                    writeln!(out, "{indent}{c},").unwrap();
                }
                out.push_str(columns_end);
                if callback {
                    write!(out, "{separator}{open}").unwrap();
                    if !entries.is_empty() {
                        // Hand-written object entries have no trailing
                        // comma; a callback ixray writes anew has one.
                        let kept = self.entries(State::Fixed).len() - self.added();
                        let trailing =
                            self.form == Form::Array || (state == State::Fixed && kept == 0);
                        out.push('\n');
                        for (i, (k, c)) in entries.iter().enumerate() {
                            let c = c.replace("\n      ", &format!("\n{indent}  "));
                            match self.form {
                                Form::Array => write!(out, "{indent}{c}").unwrap(),
                                Form::Object => write!(out, "{indent}{k}: {c}").unwrap(),
                            }
                            if trailing || i + 1 < entries.len() {
                                out.push(',');
                            }
                            if let Some(comment) = entry_comment(k) {
                                write!(out, " // {comment}").unwrap();
                            }
                            out.push('\n');
                        }
                        out.push_str(&indent[2..]);
                    }
                    out.push_str(close);
                    out.push_str(end);
                } else {
                    // Without a callback, prettier's `  },\n);` stays.
                    out.push_str(if self.form == Form::Array {
                        ");\n"
                    } else {
                        end
                    });
                }
            }
        }
        if self.has(Intent::Fk) && d == Dialect::Mysql {
            writeln!(
                out,
                "export const {var}Relations = relations({var}, ({{ one }}) => ({{\n  parent: one(parents, {{ fields: [{var}.parentId], references: [parents.id] }}),\n}}));"
            )
            .unwrap();
        }
        out
    }
}

/// The comment that ends an entry's line in the multi-line layout: the
/// fix removes an entry with its comment and adds new entries after the
/// comment of the last one it keeps.
fn entry_comment(key: &str) -> Option<&'static str> {
    match key {
        "raIdx" => Some("covered by ra_rb"),
        "raRbIdx" => Some("serves ra too"),
        "dcAgainIdx" => Some("same as dc_idx"),
        "drIdx" => Some("dropped below"),
        _ => None,
    }
}

/// Every non-empty subset of the intents, in a stable order.
fn subsets() -> Vec<Vec<Intent>> {
    (1..16).map(subset).collect()
}

fn tables(dialect: Dialect) -> Vec<Table> {
    let mut out = Vec::new();
    let variants = [
        Duplicate::TwoIndexes,
        Duplicate::UniqueColumn,
        Duplicate::UniqueConstraint,
    ];
    for (group, (form, layout)) in [
        (Form::Array, Layout::OneLine),
        (Form::Array, Layout::MultiLine),
        (Form::Object, Layout::OneLine),
        (Form::Object, Layout::MultiLine),
    ]
    .into_iter()
    .enumerate()
    {
        // Each group of form and layout writes every duplicate variant.
        let mut next_variant = group;
        for intents in subsets() {
            let duplicate = variants[next_variant % variants.len()];
            if intents.contains(&Intent::Duplicate) {
                next_variant += 1;
            }
            out.push(Table {
                dialect,
                intents,
                form,
                layout,
                duplicate,
            });
        }
    }
    out
}

fn file_of(table: &Table) -> String {
    format!(
        "{}_{}{}",
        match table.form {
            Form::Array => "array",
            Form::Object => "object",
        },
        match table.layout {
            Layout::OneLine => "one_line",
            Layout::MultiLine => "multi_line",
        },
        if table.bare() { "_bare" } else { "" }
    )
}

const TSCONFIG: &str = r#"{
  "compilerOptions": {
    "target": "ES2022",
    "lib": ["ES2022"],
    "module": "ESNext",
    "moduleResolution": "bundler",
    "types": ["node"],
    "strict": true,
    "noEmit": true,
    "isolatedModules": true,
    "esModuleInterop": true,
    "forceConsistentCasingInFileNames": true,
    "skipLibCheck": true
  },
  "include": ["drizzle.config.ts", "src/**/*.ts"]
}
"#;

/// The schema files (path below src/db/schema → text) in a state.
fn schema_files(dialect: Dialect, tables: &[Table], state: State) -> BTreeMap<String, String> {
    let d = dialect;
    let mut files: BTreeMap<String, String> = BTreeMap::new();
    files.insert(
        "parents.ts".into(),
        format!(
            "import {{ {table}, {int} }} from \"{}\";\n\nexport const parents = {table}(\"parents\", {{ id: {int}(\"id\").primaryKey() }});\n",
            d.core(),
            table = d.table_fn(),
            int = d.int(),
        ),
    );
    // (file, multi-line) → the tables' code in this state and, for the
    // imports, in the state ixray saw (the fix adds imports, never removes).
    let mut bodies: BTreeMap<String, (bool, String, String)> = BTreeMap::new();
    for table in tables {
        let (_, body, seen) = bodies.entry(file_of(table)).or_insert_with(|| {
            (
                table.layout == Layout::MultiLine,
                String::new(),
                String::new(),
            )
        });
        body.push('\n');
        body.push_str(&table.code(state));
        seen.push_str(&table.code(State::Checked));
    }
    let mut barrel = String::from("export * from \"./parents\";\n");
    for (file, (multi_line, body, seen)) in bodies {
        writeln!(barrel, "export * from \"./{file}\";").unwrap();
        let used = |code: &str| {
            let mut names = vec![d.table_fn(), d.int()];
            for (name, call) in [
                ("unique", "unique().on("),
                ("index", "index("),
                ("uniqueIndex", "uniqueIndex("),
            ] {
                if code.contains(call) {
                    names.push(name);
                }
            }
            names
        };
        let mut names = used(&body);
        if state == State::Fixed {
            // Kept in the import's order, the new ones at its end.
            let mut seen = used(&seen);
            seen.extend(
                names
                    .into_iter()
                    .filter(|n| !seen.contains(n))
                    .collect::<Vec<_>>(),
            );
            names = seen;
        }
        let names = if multi_line {
            let lines: String = names.iter().map(|n| format!("  {n},\n")).collect();
            format!("{{\n{lines}}}")
        } else {
            format!("{{ {} }}", names.join(", "))
        };
        let relations = if d == Dialect::Mysql && body.contains("relations(") {
            "import { relations } from \"drizzle-orm\";\n"
        } else {
            ""
        };
        files.insert(
            format!("{file}.ts"),
            format!(
                "{relations}import {names} from \"{}\";\nimport {{ parents }} from \"./parents\";\n{body}",
                d.core()
            ),
        );
    }
    files.insert("index.ts".into(), barrel);
    files
}

fn write_schema(dir: &Path, files: &BTreeMap<String, String>) {
    let schema_dir = dir.join("src/db/schema");
    std::fs::create_dir_all(&schema_dir).unwrap();
    for (path, text) in files {
        std::fs::write(schema_dir.join(path), text).unwrap();
    }
}

fn output_text(output: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The rules ixray reports per table.
fn rules_by_table(findings: &[serde_json::Value]) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in findings {
        out.entry(f["table"].as_str().unwrap().to_string())
            .or_default()
            .insert(f["rule"].as_str().unwrap().to_string());
    }
    out
}

fn messages_for(findings: &[serde_json::Value], table: &str) -> String {
    findings
        .iter()
        .filter(|f| f["table"] == table)
        .map(|f| format!("    {}: {}\n", f["rule"], f["message"]))
        .collect()
}

fn read_table(dir: &Path, table: &Table) -> String {
    let path = dir.join(format!("src/db/schema/{}.ts", file_of(table)));
    table_source(&std::fs::read_to_string(path).unwrap_or_default(), table)
}

/// A table's statement (and its relations) in a schema file's text.
fn table_source(text: &str, table: &Table) -> String {
    let var = table.var();
    let start = text
        .find(&format!("export const {var} ="))
        .unwrap_or(text.len());
    let rest = &text[start..];
    let end = rest[1..]
        .find("\nexport const ")
        .map_or(rest.len(), |i| i + 1);
    rest[..end].to_string()
}

fn has_tools() -> bool {
    require("the test venv's Python", python().is_some())
        && require(
            "node_modules with drizzle-kit and typescript (npm ci)",
            node_modules_available(),
        )
}

fn run_matrix(dialect: Dialect) {
    let name = dialect.name();
    let tables = tables(dialect);
    let dir = tempfile::tempdir().unwrap();
    // IXRAY_KEEP=1 keeps the project for a look after a failure; the test
    // says where on stderr, which cargo shows for failed tests.
    #[allow(clippy::print_stderr)]
    let (_dir, root) = if std::env::var_os("IXRAY_KEEP").is_some() {
        let kept = dir.keep();
        eprintln!("{name}: the project is kept in {}", kept.display());
        (None, kept)
    } else {
        let root = dir.path().to_path_buf();
        (Some(dir), root)
    };
    let root = root.as_path();
    std::fs::write(root.join("drizzle.config.ts"), dialect.config()).unwrap();
    std::fs::write(root.join("tsconfig.json"), TSCONFIG).unwrap();
    // (1)-(3): the history knows the drifted indexes, the schema no longer.
    write_schema(root, &schema_files(dialect, &tables, State::History));
    let generate = drizzlectl("generate", root, dialect.db());
    assert_success(
        &generate,
        &format!("{name}: the initial drizzle-kit generate"),
    );
    write_schema(root, &schema_files(dialect, &tables, State::Checked));
    assert_success(
        &drizzlectl("tsc", root, dialect.db()),
        &format!("{name}: tsc on the generated schema (a bug in this test)"),
    );

    // (4) Exactly the expected rules, per table.
    let findings = findings(root);
    let reported = rules_by_table(&findings);
    let mut problems = String::new();
    for table in &tables {
        let expected: BTreeSet<String> = table
            .expected_rules()
            .into_iter()
            .map(String::from)
            .collect();
        let got = reported.get(&table.name()).cloned().unwrap_or_default();
        if got != expected {
            writeln!(
                problems,
                "  {}: expected {expected:?}, got {got:?}\n{}{}",
                table.name(),
                messages_for(&findings, &table.name()),
                read_table(root, table)
            )
            .unwrap();
        }
    }
    for (table, rules) in &reported {
        if !tables.iter().any(|t| &t.name() == table) {
            writeln!(problems, "  {table}: unexpected {rules:?}").unwrap();
        }
    }
    assert!(
        problems.is_empty(),
        "{name}: ixray check before the fix:\n{problems}"
    );

    // (5) The fix.
    let (code, stdout, stderr) = run_ixray(root, &["fix", "."]);
    assert!(
        code == 0 && !stderr.contains("not fixed"),
        "{name}: ixray fix exited {code}:\n{stdout}{stderr}"
    );
    let after_fix = tree_contents(root);

    // The schema as the fix should write it: in each table's own layout
    // and form, the removed entries gone and the new ones at the end
    // (asserted last, after what drizzle-kit and tsc say).
    let mut layout = String::new();
    let expected = schema_files(dialect, &tables, State::Fixed);
    for table in &tables {
        let want = table_source(&expected[&format!("{}.ts", file_of(table))], table);
        let got = read_table(root, table);
        if got != want {
            writeln!(layout, "  {}: expected\n{want}  got\n{got}", table.name()).unwrap();
        }
    }
    for (path, want) in &expected {
        let got = std::fs::read_to_string(root.join("src/db/schema").join(path)).unwrap();
        if layout.is_empty() && &got != want {
            writeln!(layout, "  {path}: expected\n{want}  got\n{got}").unwrap();
        }
    }

    // (6) drizzle-kit and tsc accept the result.
    let tsc = drizzlectl("tsc", root, dialect.db());
    assert!(
        tsc.status.success(),
        "{name}: tsc --noEmit after the fix:\n{}",
        output_text(&tsc)
    );
    let check = drizzlectl("generate-check", root, dialect.db());
    assert!(
        check.status.success(),
        "{name}: drizzle-kit generate after the fix is not empty:\n{}",
        output_text(&check)
    );
    if dialect.has_database() {
        let catalog = drizzlectl("catalog", root, dialect.db());
        assert_success(
            &catalog,
            &format!("{name}: drizzle-kit migrate after the fix"),
        );
        let catalog: serde_json::Value =
            serde_json::from_slice(&catalog.stdout).expect("catalog JSON");
        let mut in_database: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for index in catalog["indexes"].as_array().unwrap() {
            let index_name = index["name"].as_str().unwrap_or_default();
            if index_name.ends_with("_idx") {
                in_database
                    .entry(index["table"].as_str().unwrap().to_string())
                    .or_default()
                    .insert(index_name.to_string());
            }
        }
        let mut problems = String::new();
        for table in &tables {
            let got = in_database.remove(&table.name()).unwrap_or_default();
            if got != table.expected_indexes() {
                writeln!(
                    problems,
                    "  {}: expected {:?}, the database has {got:?}\n{}",
                    table.name(),
                    table.expected_indexes(),
                    read_table(root, table)
                )
                .unwrap();
            }
        }
        assert!(
            problems.is_empty() && in_database.is_empty(),
            "{name}: indexes after drizzle-kit migrate:\n{problems}{in_database:?}"
        );
    }

    // (7) Nothing fixable left; on these projects nothing at all is (no
    // finding here is one without a fix, like non-concurrent-index).
    let left = remaining_findings(root);
    assert!(
        left.is_empty(),
        "{name}: still reported after the fix:\n{}",
        left.join("\n")
    );

    // (8) A second fix changes no byte.
    let (code, stdout, stderr) = run_ixray(root, &["fix", "."]);
    assert!(
        code == 0,
        "{name}: second fix exited {code}:\n{stdout}{stderr}"
    );
    let again = tree_contents(root);
    let changed = changed_files(&after_fix, &again);
    assert!(
        changed.is_empty() && again.len() == after_fix.len(),
        "{name}: a second fix changed {changed:?}:\n{stdout}{stderr}"
    );
    assert!(
        layout.is_empty(),
        "{name}: the schema after ixray fix:\n{layout}"
    );
}

/// Every finding, as "table: rule: message".
fn remaining_findings(root: &Path) -> Vec<String> {
    findings(root)
        .iter()
        .map(|f| format!("  {}: {}: {}", f["table"], f["rule"], f["message"]))
        .collect()
}

#[test]
fn sqlite_fix_matrix() {
    if has_tools() {
        run_matrix(Dialect::Sqlite);
    }
}

#[test]
fn postgresql_fix_matrix() {
    if has_tools()
        && require(
            "PostgreSQL on 127.0.0.1 (IXRAY_PG_PORT)",
            postgres_available(),
        )
    {
        run_matrix(Dialect::Pg);
    }
}

#[test]
fn mysql_fix_matrix() {
    if has_tools() {
        run_matrix(Dialect::Mysql);
    }
}
