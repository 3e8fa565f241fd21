//! SQLAlchemy and Alembic through the command line, without a database:
//! report snapshots, the fix as a diff (snapshot), broken revision chains and
//! bad files as diagnostics, and idempotent fixes.

mod common;

use std::path::Path;

use common::*;

fn write(dir: &Path, relative: &str, contents: &[u8]) {
    let path = dir.join(relative);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, contents).unwrap();
}

#[test]
fn text_report_of_the_blog_fixture() {
    // Every migration, so that the report does not depend on the git state
    // of this repository.
    let (code, stdout, stderr) =
        run_ixray(&fixture("sqlalchemy/blog"), &["check", "--all-migrations"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
    insta::assert_snapshot!("blog_text", stdout);
}

#[test]
fn json_report_of_the_legacy_fixture() {
    let (code, stdout, stderr) = run_ixray(
        &fixture("sqlalchemy/legacy"),
        &["check", "--format", "json"],
    );
    assert_eq!(code, 1, "{stderr}");
    insta::assert_snapshot!("legacy_json", stdout);
}

#[test]
fn fix_diff_of_the_blog_fixture() {
    let dir = copy_fixture("sqlalchemy/blog");
    let output = ixray()
        .current_dir(dir.path())
        .env("SOURCE_DATE_EPOCH", "1795270200")
        .args(["fix", "--diff", "."])
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    insta::assert_snapshot!("blog_fix_diff", stdout);
}

#[test]
fn broken_revision_chains_are_diagnostics_and_block_only_the_revision() {
    let dir = copy_fixture("sqlalchemy/blog");
    write(
        dir.path(),
        "migrations/versions/aaaaaaaaaaaa_orphan.py",
        b"from alembic import op\n\nrevision = \"aaaaaaaaaaaa\"\ndown_revision = \"deadbeef0000\"\n\n\ndef upgrade():\n    op.create_index(\"ix_post_slug\", \"post\", [\"slug\"])\n\n\ndef downgrade():\n    pass\n",
    );
    let (code, stdout, stderr) = run_ixray(dir.path(), &["check"]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("aaaaaaaaaaaa_orphan.py: broken revision chain: down_revision `deadbeef0000` of revision `aaaaaaaaaaaa` names no revision"),
        "{stderr}"
    );
    assert!(
        stderr.contains("the revision history has 2 heads (`4a1dc6ab2397`, `aaaaaaaaaaaa`)"),
        "{stderr}"
    );
    // The rest is still checked.
    assert!(stdout.contains("unindexed-foreign-key"), "{stdout}");

    // Without a single head there is nowhere to put a revision, so no model
    // is changed either (models ahead of the database would be worse).
    let before = tree_contents(dir.path());
    let (_, _, stderr) = run_ixray(dir.path(), &["fix", "."]);
    assert!(stderr.contains("has 2 heads; merge them"), "{stderr}");
    assert_eq!(before, tree_contents(dir.path()));
}

#[test]
fn a_revision_cycle_and_a_duplicate_id_do_not_crash() {
    let dir = tempfile::tempdir().unwrap();
    let revision = |id: &str, down: &str| {
        format!(
            "from alembic import op\nrevision = \"{id}\"\ndown_revision = \"{down}\"\n\ndef upgrade():\n    pass\n"
        )
    };
    write(
        dir.path(),
        "migrations/env.py",
        b"from alembic import context\n",
    );
    write(
        dir.path(),
        "migrations/versions/a_x.py",
        revision("a", "b").as_bytes(),
    );
    write(
        dir.path(),
        "migrations/versions/b_x.py",
        revision("b", "a").as_bytes(),
    );
    write(
        dir.path(),
        "migrations/versions/c_x.py",
        revision("a", "b").as_bytes(),
    );
    let (code, _, stderr) = run_ixray(dir.path(), &["check"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("form a cycle"), "{stderr}");
    assert!(
        stderr.contains("revision `a` is also defined in"),
        "{stderr}"
    );
}

#[test]
fn bad_model_files_are_reported_and_the_rest_is_still_checked() {
    let dir = copy_fixture("sqlalchemy/legacy");
    write(
        dir.path(),
        "warehouse/broken.py",
        b"from sqlalchemy import Column\nclass Broken(Base:\n    __tablename__ = \"x\"\n",
    );
    write(
        dir.path(),
        "warehouse/binary.py",
        b"\xff\xfe sqlalchemy Column(",
    );
    let (code, stdout, stderr) = run_ixray(dir.path(), &["check"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("warehouse/broken.py:2:"), "{stderr}");
    assert!(stderr.contains("syntax error"), "{stderr}");
    assert!(
        stderr.contains("warehouse/binary.py: skipped: not valid UTF-8"),
        "{stderr}"
    );
    assert!(stdout.contains("product.supplier_id"), "{stdout}");
}

#[test]
fn fixing_twice_changes_nothing_the_second_time() {
    let dir = copy_fixture("sqlalchemy/legacy");
    let (code, stdout, stderr) = run_ixray(dir.path(), &["fix", "."]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let after_first = tree_contents(dir.path());
    let (code, stdout, _) = run_ixray(dir.path(), &["fix", "."]);
    assert_eq!(code, 0);
    assert!(stdout.contains("Nothing to fix."), "{stdout}");
    assert_eq!(after_first, tree_contents(dir.path()));
    let (code, stdout, _) = run_ixray(dir.path(), &["check"]);
    assert_eq!(code, 0, "{stdout}");
}

#[test]
fn a_redundant_index_flag_on_a_mixin_is_left_to_the_user() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "app/models.py",
        br#"from sqlalchemy import Column, Index, Integer, String
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    pass


class Sluggable:
    slug = Column(String(50), index=True)


class Page(Sluggable, Base):
    __tablename__ = "page"
    __table_args__ = (Index("ix_page_slug_title", "slug", "title"),)
    id = Column(Integer, primary_key=True)
    title = Column(String(100))
"#,
    );
    let (_, stdout, _) = run_ixray(dir.path(), &["check"]);
    assert!(stdout.contains("redundant-index"), "{stdout}");
    let before = tree_contents(dir.path());
    let (_, _, stderr) = run_ixray(dir.path(), &["fix", "."]);
    assert!(
        stderr.contains("`slug` is declared on a mixin; remove `index=True` by hand"),
        "{stderr}"
    );
    assert_eq!(before, tree_contents(dir.path()));
}

/// One `fix` reaches the fixed point: the composite index it adds for a
/// foreign key makes an existing single-column index redundant, and the
/// same revision drops it; a second `fix` changes nothing.
#[test]
fn one_fix_also_drops_what_its_new_indexes_make_redundant() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    alembic_project(root);
    write(
        root,
        "app/models.py",
        b"from sqlalchemy import Column, ForeignKeyConstraint, Index, Integer\nfrom sqlalchemy.orm import declarative_base\n\nBase = declarative_base()\n\n\nclass Message(Base):\n    __tablename__ = \"messages\"\n    case_id = Column(Integer, primary_key=True)\n    id = Column(Integer, primary_key=True)\n\n\nclass Attachment(Base):\n    __tablename__ = \"attachments\"\n    __table_args__ = (\n        Index(\"ix_attachments_case\", \"case_id\"),\n        ForeignKeyConstraint([\"case_id\", \"message_id\"], [\"messages.case_id\", \"messages.id\"]),\n    )\n    id = Column(Integer, primary_key=True)\n    case_id = Column(Integer)\n    message_id = Column(Integer)\n",
    );
    write(
        root,
        "migrations/versions/r1_initial.py",
        b"from alembic import op\nimport sqlalchemy as sa\n\nrevision = \"r1\"\ndown_revision = None\n\n\ndef upgrade():\n    op.create_table(\"messages\", sa.Column(\"case_id\", sa.Integer(), nullable=False), sa.Column(\"id\", sa.Integer(), nullable=False), sa.PrimaryKeyConstraint(\"case_id\", \"id\"))\n    op.create_table(\"attachments\", sa.Column(\"id\", sa.Integer(), primary_key=True), sa.Column(\"case_id\", sa.Integer()), sa.Column(\"message_id\", sa.Integer()))\n    op.create_index(\"ix_attachments_case\", \"attachments\", [\"case_id\"])\n",
    );
    let models = fix_models(root);
    assert!(!models.contains("ix_attachments_case\""), "{models}");
    let (code, stdout, _) = run_ixray(root, &["check"]);
    assert_eq!(code, 0, "nothing left:\n{stdout}");
    let before = tree_contents(root);
    run_ixray(root, &["fix", "."]);
    assert_eq!(tree_contents(root), before, "a second fix changed files");
}

/// An Alembic environment on SQLite with a minimal template, for tests
/// that add `app/models.py` and revisions.
fn alembic_project(root: &Path) {
    write(
        root,
        "alembic.ini",
        b"[alembic]\nscript_location = migrations\nsqlalchemy.url = sqlite:///app.db\n",
    );
    write(root, "migrations/env.py", b"from alembic import context\n");
    write(
        root,
        "migrations/script.py.mako",
        b"\"\"\"${message}\n\nRevision ID: ${up_revision}\nRevises: ${down_revision | comma,n}\nCreate Date: ${create_date}\n\n\"\"\"\nfrom alembic import op\nimport sqlalchemy as sa\n\nrevision = ${repr(up_revision)}\ndown_revision = ${repr(down_revision)}\nbranch_labels = None\ndepends_on = None\n\n\ndef upgrade():\n    ${upgrades if upgrades else \"pass\"}\n\n\ndef downgrade():\n    ${downgrades if downgrades else \"pass\"}\n",
    );
}

/// An index only the history has that is also redundant gets one decision:
/// the revision drops it; the model does not declare it.
#[test]
fn a_drifted_redundant_index_is_dropped_not_declared() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    alembic_project(root);
    write(
        root,
        "app/models.py",
        b"from sqlalchemy import Column, Index, Integer\nfrom sqlalchemy.orm import declarative_base\n\nBase = declarative_base()\n\n\nclass Item(Base):\n    __tablename__ = \"items\"\n    __table_args__ = (Index(\"ix_items_a_b\", \"a\", \"b\"),)\n    id = Column(Integer, primary_key=True)\n    a = Column(Integer)\n    b = Column(Integer)\n",
    );
    write(
        root,
        "migrations/versions/r1_initial.py",
        b"from alembic import op\nimport sqlalchemy as sa\n\nrevision = \"r1\"\ndown_revision = None\n\n\ndef upgrade():\n    op.create_table(\"items\", sa.Column(\"id\", sa.Integer(), primary_key=True), sa.Column(\"a\", sa.Integer()), sa.Column(\"b\", sa.Integer()))\n    op.create_index(\"ix_items_a_b\", \"items\", [\"a\", \"b\"])\n    op.create_index(\"ix_items_a\", \"items\", [\"a\"])\n",
    );
    let (_, before, _) = run_ixray(root, &["check"]);
    assert!(
        before.contains("index-drift") && before.contains("redundant-index"),
        "{before}"
    );
    let (_, stdout, stderr) = run_ixray(root, &["fix", "."]);
    assert!(stdout.contains("migrations/versions/"), "{stdout}{stderr}");
    let models = std::fs::read_to_string(root.join("app/models.py")).unwrap();
    assert!(!models.contains("ix_items_a\""), "not declared:\n{models}");
    assert_nothing_left(root);
}

/// A new `Index(...)` in a `Table(...)` goes before its keyword arguments
/// (`schema=`); the default convention labels the column with the schema.
#[test]
fn an_index_in_a_table_call_goes_before_its_keywords() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        root,
        "app/models.py",
        b"from sqlalchemy import Column, ForeignKey, Index, Integer, MetaData, Table\n\nmetadata = MetaData()\n\nrooms = Table(\"rooms\", metadata, Column(\"id\", Integer, primary_key=True), schema=\"rb\")\n\nroom_equipment = Table(\n    \"room_equipment\",\n    metadata,\n    Column(\"room_id\", Integer, ForeignKey(\"rb.rooms.id\")),\n    Column(\"name\", Integer),\n    schema=\"rb\"\n)\n",
    );
    let models = fix_models(root);
    assert!(
        models.contains("    Column(\"name\", Integer),\n    Index(\"ix_rb_room_equipment_room_id\", \"room_id\"),\n    schema=\"rb\"\n)"),
        "{models}"
    );
}

/// A proposed index never takes the name of an index that exists: the
/// convention's `ix_<table>_<first column>` for a composite would collide.
#[test]
fn proposed_index_names_never_collide() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        root,
        "app/models.py",
        b"from sqlalchemy import Column, ForeignKeyConstraint, Index, Integer\nfrom sqlalchemy.orm import declarative_base\n\nBase = declarative_base()\n\n\nclass Message(Base):\n    __tablename__ = \"messages\"\n    case_id = Column(Integer, primary_key=True)\n    id = Column(Integer, primary_key=True)\n\n\nclass Attachment(Base):\n    __tablename__ = \"attachments\"\n    __table_args__ = (\n        Index(\"ix_attachments_case_id\", \"case_id\", \"position\", unique=True),\n        ForeignKeyConstraint([\"case_id\", \"message_id\"], [\"messages.case_id\", \"messages.id\"]),\n    )\n    id = Column(Integer, primary_key=True)\n    case_id = Column(Integer)\n    message_id = Column(Integer)\n    position = Column(Integer)\n",
    );
    let (_, stdout, _) = run_ixray(root, &["check", "--format", "json"]);
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let names: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["suggested_index"]["name"].as_str())
        .collect();
    assert_eq!(names, vec!["ix_attachments_case_id_2"], "{stdout}");
}

/// A foreign key on the first column of a composite foreign key: one index,
/// led by both, serves the two, so `fix` adds that one alone (two would
/// leave the narrow one redundant for the next run).
#[test]
fn foreign_keys_one_index_serves_get_that_one_index() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        root,
        "app/models.py",
        b"from sqlalchemy import Column, ForeignKey, ForeignKeyConstraint, Integer\nfrom sqlalchemy.orm import declarative_base\n\nBase = declarative_base()\n\n\nclass Tenant(Base):\n    __tablename__ = \"tenant\"\n    id = Column(Integer, primary_key=True)\n\n\nclass Account(Base):\n    __tablename__ = \"account\"\n    tenant_id = Column(Integer, primary_key=True)\n    id = Column(Integer, primary_key=True)\n\n\nclass Invoice(Base):\n    __tablename__ = \"invoice\"\n    __table_args__ = (\n        ForeignKeyConstraint([\"tenant_id\", \"account_id\"], [\"account.tenant_id\", \"account.id\"]),\n    )\n    id = Column(Integer, primary_key=True)\n    tenant_id = Column(Integer, ForeignKey(\"tenant.id\"))\n    account_id = Column(Integer)\n",
    );
    let proposed: Vec<serde_json::Value> = findings(root)
        .iter()
        .map(|f| f["suggested_index"]["columns"].clone())
        .collect();
    assert_eq!(proposed.len(), 2);
    assert!(proposed.iter().all(|p| p == &proposed[0]), "{proposed:?}");
    let (code, stdout, stderr) = run_ixray(root, &["fix", "."]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let models = std::fs::read_to_string(root.join("app/models.py")).unwrap();
    assert_eq!(models.matches("Index(").count(), 1, "{models}");
    assert!(findings(root).is_empty(), "{models}");
}

/// Removing the only `Index` of `__table_args__` while adding one to the
/// same class is one change: the new entry takes the old one's place, and
/// the revision drops one and builds the other.
#[test]
fn a_removal_and_an_addition_in_table_args_are_one_change() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    alembic_project(root);
    write(
        root,
        "app/models.py",
        b"from sqlalchemy import Column, ForeignKey, Index, Integer, String\nfrom sqlalchemy.orm import declarative_base\n\nBase = declarative_base()\n\n\nclass User(Base):\n    __tablename__ = \"users\"\n    id = Column(Integer, primary_key=True)\n\n\nclass Post(Base):\n    __tablename__ = \"posts\"\n    __table_args__ = (Index(\"ix_posts_slug\", \"slug\"),)\n    id = Column(Integer, primary_key=True)\n    slug = Column(String, unique=True)\n    author_id = Column(Integer, ForeignKey(\"users.id\"))\n",
    );
    write(
        root,
        "migrations/versions/r1_initial.py",
        b"from alembic import op\nimport sqlalchemy as sa\n\nrevision = \"r1\"\ndown_revision = None\n\n\ndef upgrade():\n    op.create_table(\"users\", sa.Column(\"id\", sa.Integer(), primary_key=True))\n    op.create_table(\"posts\", sa.Column(\"id\", sa.Integer(), primary_key=True), sa.Column(\"slug\", sa.String(), unique=True), sa.Column(\"author_id\", sa.Integer(), sa.ForeignKey(\"users.id\")))\n    op.create_index(\"ix_posts_slug\", \"posts\", [\"slug\"])\n",
    );
    let models = fix_models(root);
    assert!(
        models.contains("    __table_args__ = (Index(\"ix_posts_author_id\", \"author_id\"),)\n"),
        "{models}"
    );
    assert_nothing_left(root);
    let before = tree_contents(root);
    run_ixray(root, &["fix", "."]);
    assert_eq!(tree_contents(root), before, "a second fix changed files");
}

/// An index whose name a naming convention gives and ixray cannot evaluate
/// (a custom token) cannot be dropped by a revision ixray writes: the
/// finding stays, without a fix, and is not counted as fixable.
#[test]
fn an_index_named_by_a_convention_ixray_cannot_evaluate_is_not_fixable() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        root,
        "app/models.py",
        b"from sqlalchemy import Column, Integer, UniqueConstraint\nfrom sqlalchemy.orm import declarative_base\n\nBase = declarative_base()\n\n\ndef _columns(constraint, table):\n    return '_'.join(c.name for c in constraint.columns)\n\n\nNAMING = {\"ix\": \"ix_%(table_name)s_%(columns)s\", \"columns\": _columns}\nBase.metadata.naming_convention = NAMING\n\n\nclass Item(Base):\n    __tablename__ = \"items\"\n    __table_args__ = (UniqueConstraint(\"a\", \"b\"),)\n    id = Column(Integer, primary_key=True)\n    a = Column(Integer, index=True)\n    b = Column(Integer)\n",
    );
    let (code, stdout, _) = run_ixray(root, &["check"]);
    assert_eq!(code, 1);
    assert!(stdout.contains("redundant-index"), "{stdout}");
    assert!(stdout.contains("Found 1 problem in "), "{stdout}");
    let (_, stdout, _) = run_ixray(root, &["fix", "."]);
    assert!(stdout.contains("Nothing to fix."), "{stdout}");
}

/// A new `Index(...)` of a `Table(...)` takes the place of an entry that
/// goes, as in `__table_args__`: appending after the last entry while
/// removing it would be two edits of one place, and nothing was written.
#[test]
fn an_index_in_a_table_call_takes_the_place_of_one_that_goes() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        root,
        "app/models.py",
        b"from sqlalchemy import Column, ForeignKey, Index, Integer, MetaData, Table\n\nmetadata = MetaData()\n\nowners = Table(\"owners\", metadata, Column(\"id\", Integer, primary_key=True))\n\nitems = Table(\n    \"items\",\n    metadata,\n    Column(\"id\", Integer, primary_key=True),\n    Column(\"owner_id\", Integer, ForeignKey(\"owners.id\")),\n    Column(\"a\", Integer),\n    Column(\"b\", Integer),\n    Index(\"ix_items_a_b\", \"a\", \"b\"),\n    Index(\"ix_items_a\", \"a\"),\n)\n",
    );
    let models = fix_models(root);
    assert!(
        models.contains("    Index(\"ix_items_a_b\", \"a\", \"b\"),\n    Index(\"ix_items_owner_id\", \"owner_id\"),\n)\n"),
        "{models}"
    );
    assert_nothing_left(root);
}

/// Entries removed from a `__table_args__` tuple: neighbours go in one
/// edit, and a tuple left with one item keeps a comma after it (`(Index(..))`
/// is no tuple, and SQLAlchemy refuses it).
#[test]
fn a_table_args_tuple_left_with_one_item_stays_a_tuple() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        root,
        "app/models.py",
        br#"from sqlalchemy import Column, Index, Integer
from sqlalchemy.orm import declarative_base

Base = declarative_base()


class Head(Base):
    __tablename__ = "head"
    __table_args__ = (Index("ix_head_a_b", "a", "b"), Index("ix_head_c_copy", "c"), Index("ix_head_d_copy", "d"))
    id = Column(Integer, primary_key=True)
    a = Column(Integer)
    b = Column(Integer)
    c = Column(Integer, index=True)
    d = Column(Integer, index=True)


class Tail(Base):
    __tablename__ = "tail"
    __table_args__ = (Index("ix_tail_c_copy", "c"), Index("ix_tail_d_copy", "d"), Index("ix_tail_a_b", "a", "b"))
    id = Column(Integer, primary_key=True)
    a = Column(Integer)
    b = Column(Integer)
    c = Column(Integer, index=True)
    d = Column(Integer, index=True)


class Options(Base):
    __tablename__ = "options"
    __table_args__ = (Index("ix_options_c_copy", "c"), {"comment": "kept"})
    id = Column(Integer, primary_key=True)
    c = Column(Integer, index=True)
"#,
    );
    let models = fix_models(root);
    for kept in [
        "    __table_args__ = (Index(\"ix_head_a_b\", \"a\", \"b\"),)\n",
        "    __table_args__ = (Index(\"ix_tail_a_b\", \"a\", \"b\"),)\n",
        "    __table_args__ = ({\"comment\": \"kept\"},)\n",
    ] {
        assert!(models.contains(kept), "{kept}\nnot in:\n{models}");
    }
    assert_nothing_left(root);
}

/// A module-level `Index(...)` that goes takes the blank lines before it
/// along, so the code around keeps its separation; a multi-line dict
/// `__table_args__` becomes a tuple with one item a line.
#[test]
fn removals_and_additions_keep_the_module_layout() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        root,
        "app/models.py",
        br#"from sqlalchemy import Column, ForeignKey, Index, Integer
from sqlalchemy.orm import declarative_base

Base = declarative_base()


class Owner(Base):
    __tablename__ = "owner"
    __table_args__ = {
        "comment": "people",
    }
    id = Column(Integer, primary_key=True)
    parent_id = Column(Integer, ForeignKey("owner.id"))


class Item(Base):
    __tablename__ = "item"
    id = Column(Integer, primary_key=True)
    a = Column(Integer)
    b = Column(Integer)


Index("ix_item_a", Item.a)


Index("ix_item_a_b", Item.a, Item.b)
"#,
    );
    let models = fix_models(root);
    assert!(
        models.contains(
            "    __table_args__ = (\n        Index(\"ix_owner_parent_id\", \"parent_id\"),\n        {\n            \"comment\": \"people\",\n        },\n    )\n"
        ),
        "{models}"
    );
    assert!(
        models.ends_with("    b = Column(Integer)\n\n\nIndex(\"ix_item_a_b\", Item.a, Item.b)\n"),
        "{models}"
    );
    assert_nothing_left(root);
}

/// In a module that writes `index=True`, an index the history has on a
/// column declared by a bare `x: Mapped[T]` annotation is declared as the
/// `mapped_column(index=True)` the annotation stood for.
#[test]
fn a_bare_mapped_annotation_gets_its_mapped_column() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    alembic_project(root);
    write(
        root,
        "app/models.py",
        b"from typing import Optional\n\nfrom sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column\n\n\nclass Base(DeclarativeBase):\n    pass\n\n\nclass Note(Base):\n    __tablename__ = \"note\"\n    id: Mapped[int] = mapped_column(primary_key=True)\n    code: Mapped[str] = mapped_column(index=True)\n    topic: Mapped[Optional[str]]\n",
    );
    write(
        root,
        "migrations/versions/r1_initial.py",
        b"from alembic import op\nimport sqlalchemy as sa\n\nrevision = \"r1\"\ndown_revision = None\n\n\ndef upgrade():\n    op.create_table(\"note\", sa.Column(\"id\", sa.Integer(), primary_key=True), sa.Column(\"code\", sa.String(), nullable=False), sa.Column(\"topic\", sa.String()))\n    op.create_index(\"ix_note_code\", \"note\", [\"code\"])\n    op.create_index(\"ix_note_topic\", \"note\", [\"topic\"])\n",
    );
    let models = fix_models(root);
    assert!(
        models.ends_with("    topic: Mapped[Optional[str]] = mapped_column(index=True)\n"),
        "{models}"
    );
    assert_nothing_left(root);
}

/// `Index("...")` strings name columns by key, and a declarative
/// `owner = Column("owner_id", ...)` is keyed by its SQL name, not by the
/// attribute (SQLAlchemy raises for `Index("ix", "owner")`); a `Table`
/// column's `key=` is its key.
#[test]
fn a_new_index_names_columns_by_key() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        root,
        "app/models.py",
        br#"from sqlalchemy import Column, ForeignKey, Index, Integer, Table
from sqlalchemy.orm import declarative_base

Base = declarative_base()


class Owner(Base):
    __tablename__ = "owner"
    id = Column(Integer, primary_key=True)


class Pet(Base):
    __tablename__ = "pet"
    __table_args__ = {"comment": "pets"}
    id = Column(Integer, primary_key=True)
    owner = Column("owner_id", Integer, ForeignKey("owner.id"))


toys = Table("toy", Base.metadata, Column("id", Integer, primary_key=True), Column("owner_id", Integer, ForeignKey("owner.id"), key="owner"))
"#,
    );
    let models = fix_models(root);
    assert!(
        models.contains("Index(\"ix_pet_owner_id\", \"owner_id\")"),
        "{models}"
    );
    assert!(
        models.contains("key=\"owner\"), Index(\"ix_toy_owner_id\", \"owner\"))"),
        "{models}"
    );
}

/// Comments after entries of a multi-line `__table_args__` stay with their
/// entries: an entry that goes takes its comment along (and, without a
/// trailing comma, the comma of the entry before), a new entry takes no
/// comment from the one it replaces, and one appended after a comment goes
/// on the next line.
#[test]
fn comments_after_table_args_entries_stay_with_their_entries() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        root,
        "app/models.py",
        br#"from sqlalchemy import Column, ForeignKey, Index, Integer
from sqlalchemy.orm import declarative_base

Base = declarative_base()


class A(Base):
    __tablename__ = "a"
    __table_args__ = (
        Index("ix_a_b_c", "b", "c"),  # wide
        Index("ix_a_d", "d"),  # first
        Index("ix_a_d_copy", "d")  # copy
    )
    id = Column(Integer, primary_key=True)
    b = Column(Integer)
    c = Column(Integer)
    d = Column(Integer)


class B(Base):
    __tablename__ = "b"
    __table_args__ = (
        Index("ix_b_x", "x"),  # lookups
        Index("ix_b_x_copy", "x"),  # the copy
    )
    id = Column(Integer, primary_key=True)
    x = Column(Integer)
    a_id = Column(Integer, ForeignKey("a.id"))


class D(Base):
    __tablename__ = "d"
    __table_args__ = (
        Index("ix_d_x", "x"),  # lookups
    )
    id = Column(Integer, primary_key=True)
    x = Column(Integer)
    a_id = Column(Integer, ForeignKey("a.id"))
"#,
    );
    let models = fix_models(root);
    for expected in [
        "        Index(\"ix_a_b_c\", \"b\", \"c\"),  # wide\n        Index(\"ix_a_d\", \"d\")  # first\n    )\n",
        "        Index(\"ix_b_x\", \"x\"),  # lookups\n        Index(\"ix_b_a_id\", \"a_id\"),\n    )\n",
        "        Index(\"ix_d_x\", \"x\"),  # lookups\n        Index(\"ix_d_a_id\", \"a_id\"),\n    )\n",
    ] {
        assert!(models.contains(expected), "{expected}\nnot in:\n{models}");
    }
    assert_nothing_left(root);
}

/// A `db.Table(..., db.metadata, ...)` in a module that imports `db` from
/// the project (no `sqlalchemy` in the file) is read.
#[test]
fn a_table_on_the_projects_metadata_passes_the_prefilter() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        root,
        "app/models.py",
        b"from app.core import db\n\n\nclass User(db.Model):\n    __tablename__ = \"users\"\n    id = db.Column(db.Integer, primary_key=True)\n",
    );
    write(
        root,
        "app/favorites.py",
        b"from app.core import db\n\nfavorite_users = db.Table(\n    \"favorite_users\",\n    db.metadata,\n    db.Column(\"user_id\", db.Integer, db.ForeignKey(\"users.id\"), primary_key=True),\n    db.Column(\"target_id\", db.Integer, db.ForeignKey(\"users.id\"), primary_key=True),\n)\n",
    );
    let (_, stdout, stderr) = run_ixray(root, &["check", "--format", "json", "."]);
    let report: serde_json::Value =
        serde_json::from_str(&stdout).unwrap_or_else(|_| panic!("{stderr}"));
    let found: Vec<(&str, &str)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["table"].as_str().unwrap(),
                f["columns"][0].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(found, vec![("favorite_users", "target_id")], "{stdout}");
}

#[test]
fn json_report_of_the_references_fixture() {
    let (code, stdout, stderr) = run_ixray(
        &fixture("sqlalchemy/references"),
        &["check", "--format", "json"],
    );
    assert_eq!(code, 1, "{stderr}");
    insta::assert_snapshot!("references_json", stdout);
}

/// An inferred reference is silenced on its line like any finding, and
/// a plain-column project with no other table of the name says nothing.
#[test]
fn inferred_references_are_suppressed_and_typed_by_their_targets() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "pyproject.toml", b"[project]\nname = \"app\"\n");
    write(
        dir.path(),
        "app/models.py",
        br#"import sqlalchemy as sa
from sqlalchemy import Column, ForeignKey, Integer, String
from sqlalchemy.orm import declarative_base

Base = declarative_base()


class Account(Base):
    __tablename__ = "accounts"
    id = Column(String(36), primary_key=True)


class Invoice(Base):
    __tablename__ = "invoices"
    id = Column(Integer, primary_key=True)
    account_id = Column(String(36))  # ixray: ignore[unindexed-reference]
    # Typed by its target: a string, like `accounts.id`.
    payer_id = Column(ForeignKey("accounts.id"), index=True)


class Refund(Base):
    __tablename__ = "refunds"
    id = Column(Integer, primary_key=True)
    invoice_id = Column(Integer)
    payer_id = Column(String(36))
    # No table `ledger`: nothing to infer.
    ledger_id = Column(Integer)
"#,
    );
    let found: Vec<(String, String)> = findings(dir.path())
        .iter()
        .map(|f| {
            assert_eq!(f["rule"], "unindexed-reference");
            assert_eq!(f["applicability"], "needs-review");
            (
                f["table"].as_str().unwrap().to_string(),
                f["message"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            (
                "refunds".to_string(),
                "`refunds.invoice_id` looks like a reference to `invoices.id` (name `invoice_id`, both integer) but no index leads with it".to_string()
            ),
            (
                "refunds".to_string(),
                "`refunds.payer_id` looks like a reference to `accounts.id` (`invoices` declares `payer_id` as a foreign key to `accounts`, both text) but no index leads with it".to_string()
            ),
        ]
    );
    let (code, stdout, _) = run_ixray(dir.path(), &["check", "--ignore", "unindexed-reference"]);
    assert_eq!(code, 0, "{stdout}");
    let models = fix_models(dir.path());
    assert!(
        models.contains("invoice_id = Column(Integer, index=True)")
            && models.contains("payer_id = Column(String(36), index=True)"),
        "{models}"
    );
    assert_nothing_left(dir.path());
}

/// `ixray fix` in `root`, which must edit `app/models.py`; its new text.
fn fix_models(root: &Path) -> String {
    let (_, stdout, stderr) = run_ixray(root, &["fix", "."]);
    assert!(stdout.contains("fixed: app/models.py"), "{stdout}{stderr}");
    std::fs::read_to_string(root.join("app/models.py")).unwrap()
}

/// `ixray check` in `root` finds nothing.
fn assert_nothing_left(root: &Path) {
    let (code, after, _) = run_ixray(root, &["check"]);
    assert_eq!(code, 0, "{after}");
}
