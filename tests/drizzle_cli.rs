//! Drizzle through the command line, without node or a database: MySQL
//! semantics (InnoDB indexes enforced FKs, not `relations()`-only ones),
//! schema-only fixes when there is no drizzle-kit folder, bad files as
//! diagnostics, and idempotent fixes.

mod common;

use std::path::Path;

use common::*;

fn write(dir: &Path, relative: &str, contents: &[u8]) {
    let path = dir.join(relative);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, contents).unwrap();
}

fn read(dir: &Path, relative: &str) -> String {
    std::fs::read_to_string(dir.join(relative)).unwrap()
}

const MYSQL_SCHEMA: &str = r#"import { relations } from "drizzle-orm";
import { mysqlTable, int, varchar, index, foreignKey } from "drizzle-orm/mysql-core";

export const accounts = mysqlTable("accounts", {
  id: int().primaryKey().autoincrement(),
  region: varchar({ length: 8 }).notNull(),
});

export const members = mysqlTable("members", {
  id: int().primaryKey().autoincrement(),
  accountId: int("account_id").notNull().references(() => accounts.id),
  invitedBy: int("invited_by"),
  region: varchar({ length: 8 }).notNull(),
  homeId: int("home_id").notNull(),
}, (t) => [
  index("members_region_home_idx").on(t.region, t.homeId),
  foreignKey({ columns: [t.homeId, t.region], foreignColumns: [accounts.id, accounts.region] }),
]);

export const memberRelations = relations(members, ({ one }) => ({
  account: one(accounts, { fields: [members.accountId], references: [accounts.id] }),
  inviter: one(members, { fields: [members.invitedBy], references: [members.id] }),
}));
"#;

#[test]
fn mysql_indexes_enforced_foreign_keys_but_not_relations_only_ones() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "src/schema.ts", MYSQL_SCHEMA.as_bytes());
    let reported = unindexed_by_ixray(dir.path());
    // `.references()` and `foreignKey()` are constraints: InnoDB builds an
    // index for each (the composite one because (region, home_id) has the
    // FK columns in another order). `invitedBy` exists only in relations().
    assert_eq!(
        reported.into_iter().collect::<Vec<_>>(),
        [("members".to_string(), vec!["invited_by".to_string()])]
    );
}

#[test]
fn without_a_kit_folder_only_the_schema_is_edited() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "src/schema.ts", MYSQL_SCHEMA.as_bytes());
    write(
        dir.path(),
        "src/posts.ts",
        br#"import { pgTable, integer, text } from "drizzle-orm/pg-core";
import { users } from "./users";

export const posts = pgTable("posts", {
  id: integer().primaryKey(),
  authorId: integer("author_id").references(() => users.id),
  title: text(),
});
"#,
    );
    write(
        dir.path(),
        "src/users.ts",
        br#"import { pgTable, integer } from "drizzle-orm/pg-core";
export const users = pgTable("users", { id: integer().primaryKey() });
"#,
    );
    let (code, stdout, stderr) = run_ixray(dir.path(), &["fix", "."]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let posts = read(dir.path(), "src/posts.ts");
    assert!(
        posts.starts_with("import { pgTable, integer, text, index } from \"drizzle-orm/pg-core\";"),
        "{posts}"
    );
    assert!(
        posts.contains(
            "  title: text(),\n}, (table) => [\n  index(\"posts_author_id_idx\").on(table.authorId),\n]);"
        ),
        "{posts}"
    );
    let schema = read(dir.path(), "src/schema.ts");
    assert!(
        schema.contains(
            "  foreignKey({ columns: [t.homeId, t.region], foreignColumns: [accounts.id, accounts.region] }),\n  index(\"members_invited_by_idx\").on(t.invitedBy),\n]);"
        ),
        "{schema}"
    );
    assert!(unindexed_by_ixray(dir.path()).is_empty());
    let files: Vec<_> = tree_contents(dir.path())
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    assert_eq!(
        files.len(),
        3,
        "no migration without a kit folder: {files:?}"
    );
    let before = tree_contents(dir.path());
    let (code, _, stderr) = run_ixray(dir.path(), &["fix", "."]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        tree_contents(dir.path()),
        before,
        "a second fix changed files"
    );
}

#[test]
fn object_form_gets_a_keyed_entry_and_casing_names_the_columns() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "drizzle.config.ts",
        br#"import { defineConfig } from "drizzle-kit";
export default defineConfig({ dialect: "sqlite", schema: "./db/schema.ts", casing: "snake_case" });
"#,
    );
    write(
        dir.path(),
        "db/schema.ts",
        br#"import { sqliteTable, integer, index as idx } from "drizzle-orm/sqlite-core";
export const lists = sqliteTable("lists", { id: integer().primaryKey() });
export const items = sqliteTable("items", {
  id: integer().primaryKey(),
  listId: integer().references(() => lists.id),
  ownerListId: integer().references(() => lists.id),
}, (t) => ({
  byOwner: idx("items_owner_list_id_idx").on(t.ownerListId),
}));
"#,
    );
    let findings = findings(dir.path());
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0]["columns"][0], "list_id");
    let (code, _, stderr) = run_ixray(dir.path(), &["fix", "."]);
    assert_eq!(code, 0, "{stderr}");
    let schema = read(dir.path(), "db/schema.ts");
    assert!(
        schema.contains(
            "  byOwner: idx(\"items_owner_list_id_idx\").on(t.ownerListId),\n  itemsListIdIdx: idx(\"items_list_id_idx\").on(t.listId),\n}));"
        ),
        "{schema}"
    );
}

#[test]
fn bad_files_are_reported_and_the_rest_is_still_checked() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "src/schema.ts", MYSQL_SCHEMA.as_bytes());
    write(
        dir.path(),
        "src/broken.ts",
        b"import { pgTable } from \"drizzle-orm/pg-core\";\nexport const t = pgTable(\"t\", {\n  id: integer(.primaryKey(),\n",
    );
    write(
        dir.path(),
        "src/latin1.ts",
        b"// drizzle-orm \xe9t\xe9\nexport const x = 1;\n",
    );
    let mut minified = b"import{pgTable as p}from\"drizzle-orm/pg-core\";".to_vec();
    for i in 0..3000 {
        minified.extend_from_slice(format!("export const t{i}=p(\"t{i}\",{{id:1}});").as_bytes());
    }
    write(dir.path(), "dist/schema.min.js", &minified);
    write(dir.path(), "drizzle/meta/_journal.json", b"{ not json");
    let (code, stdout, stderr) = run_ixray(dir.path(), &["check"]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    for expected in [
        "src/broken.ts:3:15: skipped: syntax error (Unexpected token)",
        "src/latin1.ts: skipped: not valid UTF-8",
        "dist/schema.min.js: skipped: looks minified or generated",
        "drizzle/meta/_journal.json: not a drizzle-kit journal",
    ] {
        assert!(
            stderr.contains(expected),
            "missing {expected:?} in:\n{stderr}"
        );
    }
    assert!(stdout.contains("`members.invited_by`"), "{stdout}");
}

/// TypeScript that tree-sitter-typescript 0.23 rejected, as real Drizzle
/// projects write it: an `import()` type in `$type<>()`, generic tagged
/// templates, `importOriginal<typeof import("...")>()`.
const NEWER_SYNTAX_SCHEMA: &str = r#"import { sql } from "drizzle-orm";
import { pgTable, integer, json, text } from "drizzle-orm/pg-core";

export const projects = pgTable("projects", {
  id: integer().primaryKey(),
});

export const deployments = pgTable("deployments", {
  id: integer().primaryKey(),
  projectId: integer("project_id").notNull().references(() => projects.id),
  healthcheck: json("healthcheck").$type<import("./settings").Healthcheck>(),
  status: text("status").notNull().default(sql<string>`'pending'`),
});
"#;

const NEWER_SYNTAX_QUERIES: &str = r#"import { eq, sql } from "drizzle-orm";
import { db } from "./client";
import { deployments } from "./schema";

export function statusOf(id: number) {
  return db
    .select({
      status: sql<(typeof deployments.$inferSelect)["status"]>`${deployments.status}`,
      note: sql<string | null>`NULL`.as("note"),
    })
    .from(deployments)
    .where(eq(deployments.id, id));
}
"#;

const NEWER_SYNTAX_TEST: &str = r#"import { describe, it, vi } from "vitest";

vi.mock("drizzle-orm", async (importOriginal) => {
  const actual = await importOriginal<typeof import("drizzle-orm")>();
  return { ...actual };
});

describe("statusOf", () => {
  it("reads a status", async () => {});
});
"#;

#[test]
fn newer_typescript_syntax_is_read_without_errors() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "db/settings.ts",
        b"export type Healthcheck = { path: string; interval: number };\n",
    );
    write(dir.path(), "db/schema.ts", NEWER_SYNTAX_SCHEMA.as_bytes());
    write(dir.path(), "db/queries.ts", NEWER_SYNTAX_QUERIES.as_bytes());
    write(
        dir.path(),
        "db/queries.test.ts",
        NEWER_SYNTAX_TEST.as_bytes(),
    );
    let (code, stdout, stderr) = run_ixray(dir.path(), &["check", "--format", "json", "."]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert_eq!(stderr, "", "no file is reported");
    // The table is read, and its foreign key is reported.
    assert_eq!(
        unindexed_by_ixray(dir.path())
            .into_iter()
            .collect::<Vec<_>>(),
        [("deployments".to_string(), vec!["project_id".to_string()])]
    );
}

#[test]
fn a_syntax_error_the_parser_recovers_from_is_reported_and_the_file_still_read() {
    let dir = tempfile::tempdir().unwrap();
    let schema = NEWER_SYNTAX_SCHEMA.replace(
        "export const projects",
        "const pending;\nexport const projects",
    );
    write(dir.path(), "db/schema.ts", schema.as_bytes());
    let (code, stdout, stderr) = run_ixray(dir.path(), &["check", "."]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert_eq!(
        stderr.trim_end(),
        "ixray: db/schema.ts:4:7: syntax error (Missing initializer in const declaration); read as far as the parser recovered"
    );
    assert!(stdout.contains("`deployments.project_id`"), "{stdout}");
}

#[test]
fn text_report_of_the_pg_fixture() {
    let (code, stdout, stderr) = run_ixray(&fixture("drizzle/pg"), &["check"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
    insta::assert_snapshot!("pg_text", stdout);
}

#[test]
fn json_report_of_the_mysql_fixture() {
    let (code, stdout, stderr) =
        run_ixray(&fixture("drizzle/mysql"), &["check", "--format", "json"]);
    assert_eq!(code, 1, "{stderr}");
    insta::assert_snapshot!("mysql_json", stdout);
}

#[test]
fn text_report_of_the_references_fixture() {
    let (code, stdout, stderr) = run_ixray(&fixture("drizzle/references"), &["check"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
    insta::assert_snapshot!("references_text", stdout);
}

/// PlanetScale style: a bigint `pk` from a helper function, a public `id`
/// from a `customType` in another file, references as plain columns, some
/// of them declared in `relations()` only.
#[test]
fn planetscale_references_are_inferred_through_helpers() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "package.json", b"{}");
    write(
        dir.path(),
        "src/schema/util/id.ts",
        br#"import { customType } from "drizzle-orm/mysql-core";

export const id = customType<{ data: string }>({
  dataType() {
    return "varchar(48) COLLATE utf8mb4_0900_as_cs";
  },
});
"#,
    );
    write(
        dir.path(),
        "src/schema/util/primary_key.ts",
        br#"import { bigint } from "drizzle-orm/mysql-core";

export function primaryKey() {
  return bigint("pk", { mode: "number", unsigned: true }).autoincrement().primaryKey();
}
"#,
    );
    write(
        dir.path(),
        "src/schema/workspaces.ts",
        br#"import { mysqlTable, varchar } from "drizzle-orm/mysql-core";
import { id } from "./util/id";
import { primaryKey } from "./util/primary_key";

export const workspaces = mysqlTable("workspaces", {
  pk: primaryKey(),
  id: id("id").notNull().unique(),
  name: varchar("name", { length: 256 }).notNull(),
});

export const apps = mysqlTable("apps", {
  pk: primaryKey(),
  id: id("id").notNull().unique(),
  workspaceId: id("workspace_id").notNull(),
});
"#,
    );
    write(
        dir.path(),
        "src/schema/keys.ts",
        br#"import { relations } from "drizzle-orm";
import { bigint, index, mysqlTable, varchar } from "drizzle-orm/mysql-core";
import { id } from "./util/id";
import { primaryKey } from "./util/primary_key";
import { apps, workspaces } from "./workspaces";

export const keys = mysqlTable(
  "keys",
  {
    pk: primaryKey(),
    id: id("id").notNull().unique(),
    workspaceId: id("workspace_id").notNull(),
    appId: id("app_id").notNull(),
    forWorkspaceId: id("for_workspace_id"),
    stripeSubscriptionId: varchar("stripe_subscription_id", { length: 256 }),
    resourceType: varchar("resource_type", { length: 32 }),
    resourceId: id("resource_id"),
    appPk: bigint("app_pk", { mode: "number" }),
  },
  (table) => [index("keys_for_workspace_id_idx").on(table.forWorkspaceId)],
);

export const keysRelations = relations(keys, ({ one }) => ({
  workspace: one(workspaces, { fields: [keys.workspaceId], references: [workspaces.id] }),
}));

export const appsRelations = relations(apps, ({ one }) => ({
  workspace: one(workspaces, { fields: [apps.workspaceId], references: [workspaces.id] }),
}));
"#,
    );
    let found: Vec<(String, String)> = findings(dir.path())
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap().to_string(),
                f["message"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    // `workspace_id` is a relation (unindexed-foreign-key's, located at
    // the `relations()` entries); `app_id` only looks like one.
    assert_eq!(
        found,
        [
            (
                "unindexed-reference".to_string(),
                "`keys.app_id` looks like a reference to `apps.id` (name `app_id`, both text) but no index leads with it".to_string()
            ),
            (
                "unindexed-foreign-key".to_string(),
                "relation `keys.workspace_id` → `workspaces` has no index and no constraint"
                    .to_string()
            ),
            (
                "unindexed-foreign-key".to_string(),
                "relation `apps.workspace_id` → `workspaces` has no index and no constraint"
                    .to_string()
            ),
        ]
    );
    let (code, stdout, stderr) = run_ixray(dir.path(), &["fix", "."]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let keys = read(dir.path(), "src/schema/keys.ts");
    assert!(
        keys.contains("index(\"keys_app_id_idx\").on(table.appId)"),
        "{keys}"
    );
    let (code, stdout, _) = run_ixray(dir.path(), &["check"]);
    assert_eq!(code, 0, "{stdout}");
}

#[test]
fn fix_diff_of_the_sqlite_fixture() {
    let dir = copy_fixture("drizzle/sqlite");
    let output = ixray()
        .current_dir(dir.path())
        .env("SOURCE_DATE_EPOCH", "1795270200")
        .args(["fix", "--diff", "."])
        .output()
        .unwrap();
    assert!(output.status.code().is_some_and(|c| c <= 1));
    insta::assert_snapshot!("sqlite_fix_diff", String::from_utf8(output.stdout).unwrap());
}

/// The help text and a new extra-config callback name columns through the
/// table's own callback parameter; a table without a callback gets a
/// generic name, never another table's parameter (`(account) =>`).
#[test]
fn help_and_new_callbacks_use_the_right_parameter_name() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "src/schema.ts",
        br#"import { pgTable, integer, index } from "drizzle-orm/pg-core";

export const accounts = pgTable("accounts", {
  id: integer().primaryKey(),
  ownerId: integer("owner_id").references(() => accounts.id),
  parentId: integer("parent_id").references(() => accounts.id),
}, (account) => [index("accounts_owner_idx").on(account.ownerId)]);

export const sessions = pgTable("sessions", {
  id: integer().primaryKey(),
  accountId: integer("account_id").references(() => accounts.id),
});
"#,
    );
    let report = findings(dir.path());
    let help = |table: &str| -> String {
        let finding = report
            .iter()
            .find(|f| f["table"] == table && f["rule"] == "unindexed-foreign-key")
            .unwrap_or_else(|| panic!("a finding on {table}: {report:#?}"));
        let (_, stdout, _) = run_ixray(dir.path(), &["check"]);
        let line = finding["location"]["line"].as_u64().unwrap();
        stdout
            .lines()
            .skip_while(|l| !l.contains(&format!("schema.ts:{line}:")))
            .find(|l| l.contains("= help:"))
            .unwrap_or_default()
            .to_string()
    };
    assert!(
        help("accounts").contains(".on(account.parentId)"),
        "{}",
        help("accounts")
    );
    assert!(
        help("sessions").contains(".on(table.accountId)"),
        "{}",
        help("sessions")
    );
    let (code, stdout, stderr) = run_ixray(dir.path(), &["fix", "."]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let schema = read(dir.path(), "src/schema.ts");
    assert!(
        schema.contains(
            "}, (table) => [\n  index(\"sessions_account_id_idx\").on(table.accountId),\n]);"
        ),
        "{schema}"
    );
}

/// A config whose `schema` is a barrel (`index.ts` re-exporting the table
/// files, as drizzle-kit allows) covers the re-exported files: they are
/// fixed together with the kit migration, exactly as with the folder.
#[test]
fn a_barrel_schema_covers_the_files_it_reexports() {
    let with_folder = copy_fixture("drizzle/pg");
    let with_barrel = copy_fixture("drizzle/pg");
    let config = with_barrel.path().join("drizzle.config.ts");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace(
            "schema: \"./src/db/schema\"",
            "schema: \"./src/db/schema/index.ts\"",
        ),
    )
    .unwrap();
    let diff = |dir: &Path| {
        let output = ixray()
            .current_dir(dir)
            .env("SOURCE_DATE_EPOCH", "1795270200")
            .args(["fix", "--diff", "."])
            .output()
            .unwrap();
        String::from_utf8(output.stdout).unwrap()
    };
    let expected = diff(with_folder.path());
    assert!(
        expected.contains("drizzle/meta/_journal.json"),
        "{expected}"
    );
    assert_eq!(diff(with_barrel.path()), expected);
}

/// With a drizzle-kit folder in the project, a schema file no config names
/// gets no edit: an edit without its migration would leave kit and
/// database apart.
#[test]
fn schema_files_no_config_names_are_not_edited_without_a_migration() {
    let dir = copy_fixture("drizzle/pg");
    let config = dir.path().join("drizzle.config.ts");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace(
            "schema: \"./src/db/schema\"",
            "schema: \"./src/db/schema/catalog.ts\"",
        ),
    )
    .unwrap();
    let before = tree_contents(dir.path());
    let (_, stdout, stderr) = run_ixray(dir.path(), &["fix", "."]);
    assert!(
        stderr.contains("no drizzle.config `schema` entry names"),
        "{stdout}{stderr}"
    );
    let after = tree_contents(dir.path());
    let changed = changed_files(&before, &after);
    assert!(
        changed
            .iter()
            .all(|p| !p.ends_with("users.ts") && !p.ends_with("orders.ts")),
        "no schema file edited without its migration: {changed:?}"
    );
}

/// A removal and an addition in one extra-config array are one rewrite of
/// the array, in one line or one entry per line as the array was written;
/// never an array hole (`[, index(...)]`).
#[test]
fn a_removal_and_an_addition_in_one_array_are_one_change() {
    for (config, expected) in [
        (
            "(t) => [index(\"posts_slug_idx\").on(t.slug)]",
            "(t) => [index(\"posts_author_id_idx\").on(t.authorId)]",
        ),
        (
            "(t) => [\n  index(\"posts_slug_idx\").on(t.slug),\n  index(\"posts_title_idx\").on(t.title),\n]",
            "(t) => [\n  index(\"posts_title_idx\").on(t.title),\n  index(\"posts_author_id_idx\").on(t.authorId),\n]",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let schema = format!(
            "import {{ pgTable, integer, text, index }} from \"drizzle-orm/pg-core\";\n\nexport const users = pgTable(\"users\", {{ id: integer().primaryKey() }});\n\nexport const posts = pgTable(\"posts\", {{\n  id: integer().primaryKey(),\n  slug: text(\"slug\").unique(),\n  title: text(\"title\"),\n  authorId: integer(\"author_id\").references(() => users.id),\n}}, {config});\n"
        );
        write(dir.path(), "src/schema.ts", schema.as_bytes());
        let (code, stdout, stderr) = run_ixray(dir.path(), &["fix", "."]);
        assert_eq!(code, 0, "{stdout}{stderr}");
        let after = read(dir.path(), "src/schema.ts");
        assert!(after.contains(expected), "{after}");
        let (code, stdout, _) = run_ixray(dir.path(), &["check"]);
        assert_eq!(code, 0, "{stdout}");
    }
}

/// A kit folder whose newest snapshot lacks tables the schema declares is
/// not what the database follows: ixray says so, reads nothing from it
/// (no drift, no index only its SQL makes) and writes no migration there.
#[test]
fn a_kit_folder_behind_the_schema_is_not_trusted() {
    let dir = copy_fixture("drizzle/pg");
    write(
        dir.path(),
        "src/db/schema/audit.ts",
        br#"import { pgTable, integer } from "drizzle-orm/pg-core";
import { users } from "./users";

export const auditEntries = pgTable("audit_entries", {
  id: integer().primaryKey(),
  userId: integer("user_id").references(() => users.id),
});
"#,
    );
    let (code, stdout, stderr) = run_ixray(dir.path(), &["check"]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stderr.contains("the folder looks unused"), "{stderr}");
    assert!(!stdout.contains("index-drift"), "{stdout}");
    let before = tree_contents(dir.path());
    let (_, _, stderr) = run_ixray(dir.path(), &["fix", "."]);
    assert!(stderr.contains("looks unused"), "{stderr}");
    assert_eq!(tree_contents(dir.path()), before, "nothing written");
}

/// An extra config keeps the layout of its table: a new one on the
/// table's line when the table is one line, on a line of its own when
/// every argument is (prettier); removing every entry leaves `[]` or
/// `({})`, one-line object braces keep their inner spaces, removed
/// neighbours at the end of a list without a trailing comma go in one edit,
/// and a comment that ends an entry's line stays with that entry.
#[test]
fn extra_config_edits_keep_the_table_layout() {
    let users = "export const users = pgTable(\"users\", { id: integer().primaryKey() });\n";
    for (table, expected) in [
        (
            "export const posts = pgTable(\"posts\", { id: integer().primaryKey(), authorId: integer(\"author_id\").references(() => users.id) });",
            "export const posts = pgTable(\"posts\", { id: integer().primaryKey(), authorId: integer(\"author_id\").references(() => users.id) }, (table) => [index(\"posts_author_id_idx\").on(table.authorId)]);",
        ),
        (
            "export const posts = pgTable(\n  \"posts\",\n  {\n    id: integer().primaryKey(),\n    authorId: integer(\"author_id\").references(() => users.id),\n  },\n);",
            "export const posts = pgTable(\n  \"posts\",\n  {\n    id: integer().primaryKey(),\n    authorId: integer(\"author_id\").references(() => users.id),\n  },\n  (table) => [\n    index(\"posts_author_id_idx\").on(table.authorId),\n  ],\n);",
        ),
        (
            "export const posts = pgTable(\"posts\", {\n  id: integer().primaryKey(),\n  slug: text().unique(),\n}, (t) => [\n  index(\"posts_slug_idx\").on(t.slug),\n]);",
            "export const posts = pgTable(\"posts\", {\n  id: integer().primaryKey(),\n  slug: text().unique(),\n}, (t) => []);",
        ),
        (
            "export const posts = pgTable(\"posts\", { id: integer().primaryKey(), slug: text().unique() }, (t) => ({ bySlug: index(\"posts_slug_idx\").on(t.slug) }));",
            "export const posts = pgTable(\"posts\", { id: integer().primaryKey(), slug: text().unique() }, (t) => ({}));",
        ),
        (
            "export const posts = pgTable(\"posts\", { id: integer().primaryKey(), slug: text().unique(), authorId: integer(\"author_id\").references(() => users.id) }, (t) => ({ bySlug: index(\"posts_slug_idx\").on(t.slug) }));",
            "export const posts = pgTable(\"posts\", { id: integer().primaryKey(), slug: text().unique(), authorId: integer(\"author_id\").references(() => users.id) }, (t) => ({ postsAuthorIdIdx: index(\"posts_author_id_idx\").on(t.authorId) }));",
        ),
        // A comment that ends an entry's line goes with the entry, and new
        // entries come after the comment of the last one kept.
        (
            "export const posts = pgTable(\"posts\", {\n  id: integer().primaryKey(),\n  authorId: integer(\"author_id\").references(() => users.id),\n  slug: text(),\n  title: text(),\n}, (t) => ({\n  bySlugTitle: index(\"posts_slug_title_idx\").on(t.slug, t.title), // wide\n  bySlug: index(\"posts_slug_idx\").on(t.slug) // narrow\n}));",
            "}, (t) => ({\n  bySlugTitle: index(\"posts_slug_title_idx\").on(t.slug, t.title), // wide\n  postsAuthorIdIdx: index(\"posts_author_id_idx\").on(t.authorId)\n}));",
        ),
        (
            "export const posts = pgTable(\"posts\", {\n  id: integer().primaryKey(),\n  authorId: integer(\"author_id\").references(() => users.id),\n  slug: text(),\n  title: text(),\n}, (t) => [\n  index(\"posts_slug_idx\").on(t.slug), // narrow\n  index(\"posts_slug_title_idx\").on(t.slug, t.title), // wide\n]);",
            "}, (t) => [\n  index(\"posts_slug_title_idx\").on(t.slug, t.title), // wide\n  index(\"posts_author_id_idx\").on(t.authorId),\n]);",
        ),
        // Neighbours removed at the end of a list without a trailing comma.
        (
            "export const posts = pgTable(\"posts\", {\n  id: integer().primaryKey(),\n  slug: text(),\n  title: text(),\n}, (t) => ({\n  bySlugTitle: index(\"posts_slug_title_idx\").on(t.slug, t.title),\n  bySlug: index(\"posts_slug_idx\").on(t.slug),\n  bySlugAgain: index(\"posts_slug_title_again_idx\").on(t.slug, t.title)\n}));",
            "}, (t) => ({\n  bySlugTitle: index(\"posts_slug_title_idx\").on(t.slug, t.title)\n}));",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let schema = format!(
            "import {{ pgTable, integer, text, index }} from \"drizzle-orm/pg-core\";\n\n{users}\n{table}\n"
        );
        write(dir.path(), "src/schema.ts", schema.as_bytes());
        let (code, stdout, stderr) = run_ixray(dir.path(), &["fix", "."]);
        assert_eq!(code, 0, "{stdout}{stderr}");
        let after = read(dir.path(), "src/schema.ts");
        assert!(after.contains(expected), "{after}");
    }
}

/// drizzle-kit writes a MySQL `uniqueIndex` inside CREATE TABLE
/// (`CONSTRAINT name UNIQUE(..)`); the snapshot lists it. Once the schema
/// no longer declares it, it is drift, fixed by declaring it again. The
/// tables of the file that need `index` and `uniqueIndex` share one import
/// edit.
#[test]
fn mysql_unique_index_made_in_create_table_can_drift() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "drizzle.config.ts",
        br#"import { defineConfig } from "drizzle-kit";
export default defineConfig({ dialect: "mysql", schema: "./src/schema.ts", out: "./drizzle" });
"#,
    );
    write(
        dir.path(),
        "src/schema.ts",
        br#"import { relations } from "drizzle-orm";
import { mysqlTable, int } from "drizzle-orm/mysql-core";

export const posts = mysqlTable("posts", { id: int().primaryKey(), tagId: int("tag_id") });
export const tags = mysqlTable("tags", { id: int().primaryKey(), slug: int(), parentId: int("parent_id") });
export const postRelations = relations(posts, ({ one }) => ({ tag: one(tags, { fields: [posts.tagId], references: [tags.id] }) }));
export const tagRelations = relations(tags, ({ one }) => ({ parent: one(tags, { fields: [tags.parentId], references: [tags.id] }) }));
"#,
    );
    write(
        dir.path(),
        "drizzle/0000_init.sql",
        b"CREATE TABLE `posts` (\n\t`id` int NOT NULL,\n\t`tag_id` int,\n\tCONSTRAINT `posts_id` PRIMARY KEY(`id`)\n);\n--> statement-breakpoint\nCREATE TABLE `tags` (\n\t`id` int NOT NULL,\n\t`slug` int,\n\t`parent_id` int,\n\tCONSTRAINT `tags_id` PRIMARY KEY(`id`),\n\tCONSTRAINT `tags_slug_idx` UNIQUE(`slug`)\n);\n",
    );
    write(
        dir.path(),
        "drizzle/meta/_journal.json",
        br#"{"version":"7","dialect":"mysql","entries":[{"idx":0,"version":"5","when":1796197211411,"tag":"0000_init","breakpoints":true}]}"#,
    );
    write(
        dir.path(),
        "drizzle/meta/0000_snapshot.json",
        br#"{"version":"5","dialect":"mysql","id":"12859106-8034-4ada-9d4a-a8f6620e22cf","prevId":"00000000-0000-0000-0000-000000000000",
"tables":{"posts":{"name":"posts","columns":{"id":{"name":"id","type":"int","primaryKey":false,"notNull":true,"autoincrement":false},"tag_id":{"name":"tag_id","type":"int","primaryKey":false,"notNull":false,"autoincrement":false}},
"indexes":{},"foreignKeys":{},"compositePrimaryKeys":{"posts_id":{"name":"posts_id","columns":["id"]}},"uniqueConstraints":{},"checkConstraint":{}},
"tags":{"name":"tags","columns":{"id":{"name":"id","type":"int","primaryKey":false,"notNull":true,"autoincrement":false},"slug":{"name":"slug","type":"int","primaryKey":false,"notNull":false,"autoincrement":false},"parent_id":{"name":"parent_id","type":"int","primaryKey":false,"notNull":false,"autoincrement":false}},
"indexes":{"tags_slug_idx":{"name":"tags_slug_idx","columns":["slug"],"isUnique":true}},"foreignKeys":{},"compositePrimaryKeys":{"tags_id":{"name":"tags_id","columns":["id"]}},"uniqueConstraints":{},"checkConstraint":{}}},
"views":{},"_meta":{"schemas":{},"tables":{},"columns":{}},"internal":{"tables":{},"indexes":{}}}"#,
    );
    let report = findings(dir.path());
    let drift: Vec<_> = report
        .iter()
        .filter(|f| f["rule"] == "index-drift")
        .collect();
    assert_eq!(drift.len(), 1, "{report:#?}");
    assert_eq!(drift[0]["location"]["path"], "drizzle/0000_init.sql");
    assert_eq!(drift[0]["location"]["line"], 12);
    assert_eq!(
        report.len(),
        3,
        "and two relations without an index: {report:#?}"
    );
    let before = tree_contents(dir.path());
    let (code, stdout, stderr) = run_ixray(dir.path(), &["fix", "."]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let schema = read(dir.path(), "src/schema.ts");
    assert!(
        schema.contains(
            "import { mysqlTable, int, index, uniqueIndex } from \"drizzle-orm/mysql-core\";"
        ) && schema.contains(
            "parentId: int(\"parent_id\") }, (table) => [index(\"tags_parent_id_idx\").on(table.parentId), uniqueIndex(\"tags_slug_idx\").on(table.slug)]);"
        ),
        "{schema}"
    );
    let changed: Vec<_> = tree_contents(dir.path())
        .into_iter()
        .filter(|f| !before.contains(f))
        .map(|(p, _)| p)
        .collect();
    assert!(
        !changed
            .iter()
            .any(|p| p.to_string_lossy().contains("tags_slug")),
        "the drifted index needs no migration: {changed:?}"
    );
}

/// A `.ignore` file (for search tools) does not hide the drizzle-kit
/// folder; a folder git ignores is not read, and then the schema is not
/// edited either: its migration could not be written.
#[test]
fn an_ignored_kit_folder_blocks_the_schema_edit() {
    let dir = copy_fixture("drizzle/pg");
    let root = dir.path();
    write(root, ".ignore", b"drizzle/meta/\n");
    let (code, stdout, stderr) = run_ixray(root, &["fix", "--diff", "."]);
    assert_eq!(code, 1, "something to change: {stdout}{stderr}");
    assert!(
        stdout.contains("+++ b/drizzle/meta/_journal.json") && stdout.contains("+++ b/src/"),
        "a .ignore file does not hide the kit folder:\n{stdout}{stderr}"
    );

    std::fs::rename(root.join(".ignore"), root.join(".gitignore")).unwrap();
    let before = tree_contents(root);
    let (_, stdout, stderr) = run_ixray(root, &["fix", "."]);
    assert!(
        stderr.contains("was not read (is it ignored?)"),
        "{stdout}{stderr}"
    );
    assert!(!stdout.contains("fixed: src/"), "{stdout}");
    assert_eq!(before, tree_contents(root), "nothing is written");
}

/// Tables made by the project's own creator, in files that import nothing
/// from drizzle themselves, are read; a library's function of the same
/// name is not the creator.
#[test]
fn tables_from_a_project_creator_in_files_without_drizzle_imports() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        root,
        "drizzle.config.ts",
        b"import { defineConfig } from \"drizzle-kit\";\nexport default defineConfig({ dialect: \"postgresql\", schema: \"./src/db/*.ts\" });\n",
    );
    write(
        root,
        "src/db/table.ts",
        b"import { pgTableCreator } from \"drizzle-orm/pg-core\";\nexport const createTable = pgTableCreator((name) => `app_${name}`);\n",
    );
    write(
        root,
        "src/db/builders.ts",
        b"export { integer, serial, text } from \"drizzle-orm/pg-core\";\n",
    );
    write(
        root,
        "src/db/users.ts",
        b"import { createTable } from \"./table\";\nimport { serial } from \"./builders\";\n\nexport const users = createTable(\"user\", { id: serial(\"id\").primaryKey() });\n",
    );
    write(
        root,
        "src/db/posts.ts",
        br#"import { createTable } from "./table";
import { integer, serial, text } from "./builders";
import { users } from "./users";

export const posts = createTable("post", {
  id: serial("id").primaryKey(),
  authorId: integer("author_id").references(() => users.id),
  title: text("title"),
});
"#,
    );
    write(
        root,
        "src/ui/grid.ts",
        br#"import { createTable } from "@tanstack/table-core";
import { integer } from "./cells";

export const grid = createTable("grid", { ownerId: integer("owner_id") });
"#,
    );
    let (_, stdout, stderr) = run_ixray(root, &["schema", "."]);
    let schema: serde_json::Value = serde_json::from_str(&stdout).expect(&stderr);
    let tables: Vec<&str> = schema["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(tables, ["app_post", "app_user"], "{stderr}");
    let (code, stdout, _) = run_ixray(root, &["check", "."]);
    assert_eq!(code, 1);
    assert!(
        stdout.contains("foreign key `app_post.author_id` has no index"),
        "{stdout}"
    );
}
