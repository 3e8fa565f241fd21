//! Writes a new Alembic revision for index changes: rendered from the
//! project's own `script.py.mako` (Alembic's generic template when it cannot
//! be read), on top of the single head, named by `file_template`. On
//! PostgreSQL the index is built and dropped CONCURRENTLY inside
//! `autocommit_block()`, so the table is never locked against writes. A
//! project in batch mode (`render_as_batch=True`) gets its operations in
//! `batch_alter_table` blocks, as autogenerate writes them.

use std::path::PathBuf;

use super::history::Environment;
use super::revisions::split_qualified;
use crate::schema::Dialect;
use crate::source::FileChange;

/// One operation of the new revision.
#[derive(Debug, Clone)]
pub enum IndexOp {
    Create {
        name: String,
        table: String,
        /// SQL columns; `col DESC` for a descending part.
        columns: Vec<String>,
        unique: bool,
        predicate: Option<String>,
    },
    Drop {
        name: String,
        table: String,
        columns: Vec<String>,
        unique: bool,
        predicate: Option<String>,
    },
}

impl IndexOp {
    pub fn table(&self) -> &str {
        match self {
            IndexOp::Create { table, .. } | IndexOp::Drop { table, .. } => table,
        }
    }
}

/// Alembic's `generic` template (1.16+), used when the project's cannot be
/// read or uses Mako features beyond substitutions.
const GENERIC_TEMPLATE: &str = r#""""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
${imports if imports else ""}

# revision identifiers, used by Alembic.
revision: str = ${repr(up_revision)}
down_revision: Union[str, Sequence[str], None] = ${repr(down_revision)}
branch_labels: Union[str, Sequence[str], None] = ${repr(branch_labels)}
depends_on: Union[str, Sequence[str], None] = ${repr(depends_on)}


def upgrade() -> None:
    """Upgrade schema."""
    ${upgrades if upgrades else "pass"}


def downgrade() -> None:
    """Downgrade schema."""
    ${downgrades if downgrades else "pass"}
"#;

/// A Python string literal in Alembic's (repr) style: single quotes.
fn repr(value: &str) -> String {
    if value.contains('\'') && !value.contains('"') {
        format!("\"{value}\"")
    } else {
        format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
    }
}

/// How a revision builds indexes: for which database, with CONCURRENTLY,
/// in `batch_alter_table` blocks.
#[derive(Debug, Clone, Copy)]
struct Target {
    dialect: Dialect,
    concurrent: bool,
    batch: bool,
}

fn create_call(
    name: &str,
    table: &str,
    columns: &[String],
    unique: bool,
    predicate: Option<&str>,
    target: Target,
) -> String {
    let Target {
        dialect,
        concurrent,
        batch,
    } = target;
    let columns: Vec<String> = columns
        .iter()
        .map(|c| match c.strip_suffix(" DESC") {
            Some(column) => format!("sa.text({})", repr(&format!("{column} DESC"))),
            None => repr(c),
        })
        .collect();
    let (schema, table) = split_qualified(table);
    let unique = if unique { "True" } else { "False" };
    let mut call = if batch {
        format!(
            "batch_op.create_index(batch_op.f({}), [{}], unique={unique}",
            repr(name),
            columns.join(", ")
        )
    } else {
        format!(
            "op.create_index(op.f({}), {}, [{}], unique={unique}",
            repr(name),
            repr(table),
            columns.join(", ")
        )
    };
    if let Some(schema) = schema.filter(|_| !batch) {
        call.push_str(&format!(", schema={}", repr(schema)));
    }
    if let Some(predicate) = predicate {
        let keyword = if dialect == Dialect::Sqlite {
            "sqlite_where"
        } else {
            "postgresql_where"
        };
        call.push_str(&format!(", {keyword}=sa.text({})", repr(predicate)));
    }
    if concurrent {
        call.push_str(", postgresql_concurrently=True");
    }
    call.push(')');
    call
}

fn drop_call(name: &str, table: &str, target: Target) -> String {
    let Target {
        concurrent, batch, ..
    } = target;
    let (schema, table) = split_qualified(table);
    let mut call = if batch {
        format!("batch_op.drop_index(batch_op.f({})", repr(name))
    } else {
        format!(
            "op.drop_index(op.f({}), table_name={}",
            repr(name),
            repr(table)
        )
    };
    if let Some(schema) = schema.filter(|_| !batch) {
        call.push_str(&format!(", schema={}", repr(schema)));
    }
    if concurrent {
        call.push_str(", postgresql_concurrently=True");
    }
    call.push(')');
    call
}

/// `with op.batch_alter_table(...)` blocks around the calls of each run of
/// one table's operations.
fn in_batches(calls: Vec<(&str, String)>) -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Option<&str> = None;
    for (table, call) in calls {
        if current != Some(table) {
            let (schema, bare) = split_qualified(table);
            out.push(format!(
                "with op.batch_alter_table({}, schema={}) as batch_op:",
                repr(bare),
                schema.map_or_else(|| "None".to_string(), repr)
            ));
            current = Some(table);
        }
        out.push(format!("    {call}"));
    }
    out
}

/// The upgrade and downgrade bodies (without the function's indentation).
/// The upgrade and downgrade calls for `ops`; `concurrent` builds and
/// drops indexes with CONCURRENTLY in an autocommit block (PostgreSQL).
fn bodies(ops: &[IndexOp], target: Target) -> (Vec<String>, Vec<String>) {
    let Target {
        concurrent, batch, ..
    } = target;
    let mut upgrade = Vec::new();
    let mut downgrade = Vec::new();
    for op in ops {
        match op {
            IndexOp::Create {
                name,
                table,
                columns,
                unique,
                predicate,
            } => {
                upgrade.push((
                    table.as_str(),
                    create_call(name, table, columns, *unique, predicate.as_deref(), target),
                ));
                downgrade.push((table.as_str(), drop_call(name, table, target)));
            }
            IndexOp::Drop {
                name,
                table,
                columns,
                unique,
                predicate,
            } => {
                upgrade.push((table.as_str(), drop_call(name, table, target)));
                downgrade.push((
                    table.as_str(),
                    create_call(name, table, columns, *unique, predicate.as_deref(), target),
                ));
            }
        }
    }
    downgrade.reverse();
    let (upgrade, downgrade) = if batch {
        (in_batches(upgrade), in_batches(downgrade))
    } else {
        let calls = |body: Vec<(&str, String)>| body.into_iter().map(|(_, c)| c).collect();
        (calls(upgrade), calls(downgrade))
    };
    if concurrent {
        // CONCURRENTLY cannot run inside a transaction.
        let wrap = |body: Vec<String>| -> Vec<String> {
            let mut out = vec!["with op.get_context().autocommit_block():".to_string()];
            out.extend(body.into_iter().map(|line| format!("    {line}")));
            out
        };
        (wrap(upgrade), wrap(downgrade))
    } else {
        (upgrade, downgrade)
    }
}

fn message(ops: &[IndexOp]) -> String {
    let creates: Vec<&str> = ops
        .iter()
        .filter_map(|o| match o {
            IndexOp::Create { name, .. } => Some(name.as_str()),
            IndexOp::Drop { .. } => None,
        })
        .collect();
    let drops = ops.len() - creates.len();
    match (creates.as_slice(), drops) {
        ([one], 0) => format!("add index {one}"),
        (many, 0) => format!("add {} indexes", many.len()),
        ([], 1) => match &ops[0] {
            IndexOp::Drop { name, .. } => format!("drop index {name}"),
            IndexOp::Create { .. } => unreachable!("no creates"),
        },
        ([], n) => format!("drop {n} indexes"),
        (many, n) => format!("add {} and drop {n} indexes", many.len()),
    }
}

/// (year, month, day, hour, minute, second) in UTC.
fn civil(epoch: u64) -> (i64, u32, u32, u32, u32, u32) {
    let days = (epoch / 86_400) as i64;
    let secs = epoch % 86_400;
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        year,
        month,
        day,
        (secs / 3600) as u32,
        (secs % 3600 / 60) as u32,
        (secs % 60) as u32,
    )
}

/// Alembic's slug: the message's word characters joined by `_`, lowered,
/// cut at a word boundary past `truncate_slug_length` (40).
fn slug(message: &str, limit: usize) -> String {
    let words: Vec<String> = message
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    let mut slug = words.join("_");
    if slug.len() > limit {
        let cut = &slug[..limit];
        slug = match cut.rfind('_') {
            Some(i) => format!("{}_", &cut[..i]),
            None => cut.to_string(),
        };
    }
    slug
}

/// Render `file_template` (`%(rev)s_%(slug)s` by default).
fn file_name(
    template: &str,
    rev: &str,
    slug: &str,
    date: (i64, u32, u32, u32, u32, u32),
    epoch: u64,
) -> String {
    let (year, month, day, hour, minute, second) = date;
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("%(") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(close) = after.find(')') else {
            out.push_str(&rest[start..]);
            rest = "";
            break;
        };
        let token = &after[..close];
        let spec_end = after[close + 1..]
            .find(|c: char| c.is_ascii_alphabetic())
            .map_or(after.len(), |i| close + 1 + i + 1);
        let spec = &after[close + 1..spec_end];
        let number = |n: i64| -> String {
            match spec {
                ".2d" | "02d" => format!("{n:02}"),
                _ => n.to_string(),
            }
        };
        out.push_str(&match token {
            "rev" => rev.to_string(),
            "slug" => slug.to_string(),
            "year" => number(year),
            "month" => number(i64::from(month)),
            "day" => number(i64::from(day)),
            "hour" => number(i64::from(hour)),
            "minute" => number(i64::from(minute)),
            "second" => number(i64::from(second)),
            "epoch" => epoch.to_string(),
            other => other.to_string(),
        });
        rest = &after[spec_end..];
    }
    out.push_str(rest);
    format!("{out}.py")
}

/// Substitute the expressions Alembic's templates use. `None` when the
/// template needs real Mako (control lines, blocks, other expressions).
fn render(template: &str, values: &TemplateValues) -> Option<String> {
    let mut out = String::new();
    for line in template.split_inclusive('\n') {
        let trimmed = line.trim_start();
        if trimmed.starts_with("##") {
            continue;
        }
        if trimmed.starts_with('%') || trimmed.starts_with("<%") {
            return None;
        }
        let indent = &line[..line.len() - trimmed.len()];
        let mut rest = line;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after.find('}')?;
            let expr = after[..end].trim();
            let value = values.expression(expr)?;
            // Multi-line values keep the placeholder's indentation.
            out.push_str(&value.replace('\n', &format!("\n{indent}")));
            rest = &after[end + 1..];
        }
        out.push_str(rest);
    }
    Some(out)
}

struct TemplateValues {
    message: String,
    up_revision: String,
    down_revision: String,
    create_date: String,
    upgrades: String,
    downgrades: String,
}

impl TemplateValues {
    fn expression(&self, expr: &str) -> Option<String> {
        let normalized: String = expr.split_whitespace().collect::<Vec<_>>().join(" ");
        Some(match normalized.as_str() {
            "message" => self.message.clone(),
            "up_revision" => self.up_revision.clone(),
            "down_revision | comma,n" | "down_revision|comma,n" | "down_revision" => {
                self.down_revision.clone()
            }
            "create_date" => self.create_date.clone(),
            "repr(up_revision)" => repr(&self.up_revision),
            "repr(down_revision)" => repr(&self.down_revision),
            "repr(branch_labels)" | "repr(depends_on)" => "None".into(),
            "imports if imports else \"\"" | "imports if imports else ''" => String::new(),
            "upgrades if upgrades else \"pass\"" | "upgrades if upgrades else 'pass'" => {
                self.upgrades.clone()
            }
            "downgrades if downgrades else \"pass\"" | "downgrades if downgrades else 'pass'" => {
                self.downgrades.clone()
            }
            _ => return None,
        })
    }
}

/// The single head a new revision goes on top of, or why there is none.
pub fn head(environment: &Environment) -> Result<String, String> {
    match environment.heads.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err("the Alembic history has no head revision".into()),
        many => Err(format!(
            "the Alembic history in {} has {} heads; merge them (`alembic merge heads`) and run ixray again",
            environment.versions_dir.display(),
            many.len()
        )),
    }
}

/// The new revision file for `ops`, on top of the environment's head.
pub fn new_revision(environment: &Environment, ops: &[IndexOp]) -> Result<FileChange, String> {
    let head = head(environment)?;
    let dialect = environment.dialect;
    let batch = environment.env.as_ref().is_some_and(|e| e.render_as_batch);
    let concurrent = dialect == Dialect::Postgresql && environment.concurrent_indexes;
    let (upgrade, downgrade) = bodies(
        ops,
        Target {
            dialect,
            concurrent,
            batch,
        },
    );
    let message = message(ops);
    let upgrades = upgrade.join("\n");
    let downgrades = downgrade.join("\n");
    let rev = revision_id(&head, &upgrades);
    let epoch = crate::frameworks::now_epoch();
    let date = civil(epoch);
    let values = TemplateValues {
        message: message.clone(),
        up_revision: rev.clone(),
        down_revision: head,
        create_date: format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
            date.0, date.1, date.2, date.3, date.4, date.5
        ),
        upgrades,
        downgrades,
    };
    let template = std::fs::read_to_string(environment.template_path()).ok();
    let contents = template
        .as_deref()
        .and_then(|t| render(t, &values))
        .or_else(|| render(GENERIC_TEMPLATE, &values))
        .ok_or("cannot render the revision template")?;
    let ini = environment.ini.as_ref();
    let template = ini
        .and_then(|i| i.file_template.clone())
        .unwrap_or_else(|| "%(rev)s_%(slug)s".into());
    let limit = ini.and_then(|i| i.truncate_slug_length).unwrap_or(40);
    let name = file_name(&template, &rev, &slug(&message, limit), date, epoch);
    let path: PathBuf = environment.versions_dir.join(name);
    Ok(FileChange::Create { path, contents })
}

/// A 12-hex revision id, derived from the parent and the operations so the
/// same fix always gets the same id.
fn revision_id(head: &str, body: &str) -> String {
    use md5::{Digest, Md5};
    let digest = Md5::digest(format!("{head}\n{body}").as_bytes());
    digest.iter().take(6).map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_slugs_and_file_names() {
        assert_eq!(civil(0), (1970, 1, 1, 0, 0, 0));
        assert_eq!(civil(1_795_270_200), (2026, 11, 21, 14, 10, 0));
        assert_eq!(
            slug("add index ix_comment_post_id", 40),
            "add_index_ix_comment_post_id"
        );
        assert_eq!(
            slug("add index ix_some_really_long_table_name_author_id", 40),
            "add_index_ix_some_really_long_table_"
        );
        assert_eq!(
            file_name(
                "%(year)d_%(month).2d_%(day).2d-%(rev)s_%(slug)s",
                "abc",
                "x",
                civil(1_795_270_200),
                1
            ),
            "2026_11_21-abc_x.py"
        );
    }

    #[test]
    fn batch_mode_groups_each_tables_operations() {
        let create = |table: &str, name: &str| IndexOp::Create {
            name: name.into(),
            table: table.into(),
            columns: vec!["a".into()],
            unique: false,
            predicate: None,
        };
        let ops = [
            IndexOp::Drop {
                name: "ix_t_b".into(),
                table: "t".into(),
                columns: vec!["b".into()],
                unique: false,
                predicate: None,
            },
            create("t", "ix_t_a"),
            create("crm.u", "ix_u_a"),
        ];
        let (upgrade, downgrade) = bodies(
            &ops,
            Target {
                dialect: Dialect::Sqlite,
                concurrent: false,
                batch: true,
            },
        );
        assert_eq!(
            upgrade,
            [
                "with op.batch_alter_table('t', schema=None) as batch_op:",
                "    batch_op.drop_index(batch_op.f('ix_t_b'))",
                "    batch_op.create_index(batch_op.f('ix_t_a'), ['a'], unique=False)",
                "with op.batch_alter_table('u', schema='crm') as batch_op:",
                "    batch_op.create_index(batch_op.f('ix_u_a'), ['a'], unique=False)",
            ]
        );
        assert_eq!(
            downgrade,
            [
                "with op.batch_alter_table('u', schema='crm') as batch_op:",
                "    batch_op.drop_index(batch_op.f('ix_u_a'))",
                "with op.batch_alter_table('t', schema=None) as batch_op:",
                "    batch_op.drop_index(batch_op.f('ix_t_a'))",
                "    batch_op.create_index(batch_op.f('ix_t_b'), ['b'], unique=False)",
            ]
        );
    }

    #[test]
    fn renders_the_generic_template() {
        let values = TemplateValues {
            message: "add index ix_t_a".into(),
            up_revision: "aaaaaaaaaaaa".into(),
            down_revision: "bbbbbbbbbbbb".into(),
            create_date: "2026-11-21 12:00:00".into(),
            upgrades: "with op.get_context().autocommit_block():\n    op.create_index(op.f('ix_t_a'), 't', ['a'], unique=False, postgresql_concurrently=True)".into(),
            downgrades: "pass".into(),
        };
        let text = render(GENERIC_TEMPLATE, &values).unwrap();
        assert!(text.contains("Revises: bbbbbbbbbbbb\n"));
        assert!(text.contains("down_revision: Union[str, Sequence[str], None] = 'bbbbbbbbbbbb'\n"));
        assert!(text.contains(
            "    with op.get_context().autocommit_block():\n        op.create_index(op.f('ix_t_a')"
        ));
        assert!(crate::frameworks::python::parses_cleanly(&text));
        assert_eq!(render("% if x:\n", &values), None);
    }
}
