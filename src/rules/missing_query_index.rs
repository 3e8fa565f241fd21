//! `missing-query-index`: the project's own queries filter or sort a table
//! in a way no index serves. Each table's access patterns are grouped, the
//! ones an existing index serves (or serves well enough) are set aside, and
//! `schema::proposal` proposes the fewest indexes for the rest. Only what
//! the code shows is used: a query ixray cannot resolve gives nothing.

use std::path::Path;

use rustc_hash::FxHashMap;

use super::{Finding, FixIntent, Related, Severity, finding};
use crate::frameworks::suggest_index_name;
use crate::schema::coverage::{
    covering_index_for, index_serves, made_redundant_by, predicate_implied,
};
use crate::schema::proposal::{Proposal, as_predicate, propose};
use crate::schema::{
    AccessPattern, ConditionOp, Dialect, Index, IndexMethod, IndexPart, IndexSpec, QueryOperation,
    Schema, SpecColumn, Table,
};

/// More equality columns than this: the query is a lookup by many fields
/// (`get_or_create(**row)`) whose selective part ixray cannot tell.
const MAX_EQUALITY_COLUMNS: usize = 3;

/// A wider key than this is a guess about which columns matter most.
const MAX_KEY_COLUMNS: usize = 3;

/// Call sites listed with a finding; the rest are counted.
const MAX_RELATED: usize = 10;

pub(super) fn check(schema: &Schema, out: &mut Vec<Finding>) {
    for (table, proposal) in suggestions(schema) {
        out.push(report(table, proposal));
    }
}

/// Every index the rule proposes, with its table and the queries it
/// serves (what `ixray explain` tries on a real planner).
pub fn suggestions(schema: &Schema) -> Vec<(&Table, Proposal<'_>)> {
    let mut out = Vec::new();
    let mut by_table: FxHashMap<(crate::schema::Framework, &str), Vec<&AccessPattern>> =
        FxHashMap::default();
    for pattern in &schema.access_patterns {
        by_table
            .entry((pattern.framework, pattern.table.as_str()))
            .or_default()
            .push(pattern);
    }
    for table in schema.tables.iter().filter(|t| t.checkable()) {
        let Some(patterns) = by_table.get(&(table.framework, table.name.as_str())) else {
            continue;
        };
        let wanted: Vec<&AccessPattern> = patterns
            .iter()
            .copied()
            .filter(|p| needs_an_index(table, p))
            .collect();
        for proposal in propose(table, &wanted) {
            if worth_proposing(table, &proposal) && !unindexed_foreign_key(table, &proposal) {
                out.push((table, proposal));
            }
        }
    }
    out
}

/// Whether a pattern asks for an index: no existing index serves it, and
/// none serves it well enough.
///
/// Well enough: for a query that needs no order (no `ORDER BY`, or not
/// limited to the first rows, or a count, update or delete), an index that
/// starts with a column the query narrows by. A wider index
/// would then help only when one value has many rows, which the code does
/// not show.
pub(super) fn needs_an_index(table: &Table, pattern: &AccessPattern) -> bool {
    // A query that filters nothing (the first rows of the whole table, a
    // development script's sample) says too little about the workload.
    if pattern.conditions.is_empty() {
        return false;
    }
    if pattern.disjunction
        || pattern.location.as_ref().is_some_and(|l| {
            crate::frameworks::one_off_code(
                &l.path,
                table.location.as_ref().map(|t| t.path.as_path()),
            )
        })
    {
        return false;
    }
    let keyed = pattern
        .conditions
        .iter()
        .filter(|c| matches!(c.op, ConditionOp::Eq | ConditionOp::In) && c.constant.is_none())
        .count();
    if keyed > MAX_EQUALITY_COLUMNS {
        return false;
    }
    let usable = |index: &&Index| {
        matches!(index.method, IndexMethod::Btree)
            && index
                .predicate
                .as_ref()
                .is_none_or(|p| predicate_implied(p, pattern))
    };
    if table
        .indexes
        .iter()
        .any(|index| index_serves(index, pattern))
    {
        return false;
    }
    // A partial index whose predicate the query states was made for this
    // kind of query (a queue of unprocessed rows): it holds only the rows
    // wanted, and what is left to sort is small.
    if table.indexes.iter().any(|index| {
        index.method == IndexMethod::Btree
            && index
                .predicate
                .as_ref()
                .is_some_and(|p| predicate_implied(p, pattern))
    }) {
        return false;
    }
    // A handful of rows: a unique key fixed by `=` or `IN`.
    if table.indexes.iter().any(|index| {
        index.unique
            && index.predicate.is_none()
            && index.parts.iter().all(|p| {
                p.column_name().is_some_and(|column| {
                    pattern.conditions.iter().any(|c| {
                        c.column == column && matches!(c.op, ConditionOp::Eq | ConditionOp::In)
                    })
                })
            })
    }) {
        return false;
    }
    let needs_order = !pattern.order.is_empty()
        && !pattern.order_implicit
        && pattern.limited
        && matches!(
            pattern.operation,
            QueryOperation::Select | QueryOperation::Get
        );
    if needs_order {
        return true;
    }
    let narrowing = |column: &str| {
        pattern
            .conditions
            .iter()
            .any(|c| c.column == column && c.op.btree_servable())
    };
    // A query that narrows by no key column (at most by a flag or a status,
    // which a partial index would state) and wants every row is a listing:
    // it reads what it reads whatever the indexes.
    pattern
        .conditions
        .iter()
        .any(|c| c.op.btree_servable() && as_predicate(c).is_none())
        && !table.indexes.iter().filter(usable).any(|index| {
            index
                .parts
                .first()
                .and_then(|p| p.column_name())
                .is_some_and(narrowing)
        })
}

/// Never a lone low-cardinality column (a status, a kind, a flag), never a
/// key wider than the queries can justify, never a partial index where the
/// database has none.
fn worth_proposing(table: &Table, proposal: &Proposal) -> bool {
    let parts = &proposal.index.parts;
    if parts.len() > MAX_KEY_COLUMNS {
        return false;
    }
    if parts.len() == 1
        && parts[0].column_name().is_some_and(low_cardinality)
        && proposal.patterns.iter().all(|p| p.order.is_empty())
    {
        return false;
    }
    if proposal.index.predicate.is_some() {
        // No partial indexes on MySQL; and a full index that starts with
        // the same key already reads the rows in order, checking the
        // predicate as it goes (`redundant-index` would call the partial
        // one redundant).
        if table.dialect == Dialect::Mysql
            || table.indexes.iter().any(|index| {
                index.predicate.is_none()
                    && index.method == IndexMethod::Btree
                    && starts_with_either_way(&index.parts, parts)
            })
        {
            return false;
        }
    }
    true
}

/// `parts` lead `index`, with the same directions or all reversed (a
/// btree reads both ways).
fn starts_with_either_way(index: &[IndexPart], parts: &[IndexPart]) -> bool {
    index.len() >= parts.len()
        && [false, true].iter().any(|&flip| {
            index
                .iter()
                .zip(parts)
                .all(|(a, b)| a.key == b.key && (a.desc != b.desc) == flip)
        })
}

/// The proposal is exactly an unindexed foreign key's index: that rule
/// reports it (one finding, one suggestion). A wider proposal that starts
/// with the key is reported, and the foreign key's finding proposes it
/// too (`rules::fold_proposals`).
fn unindexed_foreign_key(table: &Table, proposal: &Proposal) -> bool {
    proposal.index.predicate.is_none()
        && table.foreign_keys.iter().any(|fk| {
            fk.columns.len() == proposal.index.parts.len()
                && proposal.index.parts.iter().all(|p| {
                    p.column_name()
                        .is_some_and(|c| fk.columns.iter().any(|f| f == c))
                })
                && covering_index_for(table, fk).is_none()
        })
}

/// Names that usually hold a handful of values.
fn low_cardinality(column: &str) -> bool {
    let lower = column.to_ascii_lowercase();
    let word = lower.rsplit('_').next().unwrap_or(&lower);
    lower.starts_with("is_")
        || lower.starts_with("has_")
        || [
            "status", "state", "type", "kind", "enabled", "active", "deleted", "archived",
            "visible", "hidden", "public", "private", "flag", "level", "priority", "role",
            "gender", "lang", "language", "locale", "currency", "country",
        ]
        .contains(&word)
}

fn report(table: &Table, proposal: Proposal) -> Finding {
    let index = &proposal.index;
    let mut sites: Vec<&AccessPattern> = proposal.patterns.clone();
    sites.sort_by_key(|p| {
        p.location
            .as_ref()
            .map(|l| (l.path.clone(), l.line, l.column))
    });
    sites.dedup_by_key(|p| p.location.as_ref().map(|l| (l.path.clone(), l.span.start)));
    let count = sites.len();
    let mut columns: Vec<(String, bool)> = index
        .parts
        .iter()
        .filter_map(|p| Some((p.column_name()?.to_string(), p.desc)))
        .collect();
    // Without descending index columns (drizzle-orm's sqlite-core), a key
    // whose columns all run one way serves either order ascending (the
    // database reads an index backwards); a mixed one cannot be declared.
    let ascending_only =
        !crate::frameworks::declares_descending_columns(table.framework, table.dialect);
    // Only the order's columns have a direction that matters; the key's
    // equality columns read the same either way.
    let ordered: Vec<&(String, bool)> = columns
        .iter()
        .filter(|(c, _)| {
            proposal
                .patterns
                .iter()
                .any(|p| p.order.iter().any(|o| o.column == *c))
        })
        .collect();
    let mixed = ordered.iter().any(|(_, d)| *d) && ordered.iter().any(|(_, d)| !*d);
    if ascending_only && !mixed {
        for (_, desc) in &mut columns {
            *desc = false;
        }
    }
    let spec = IndexSpec {
        name: suggest_index_name(table, &columns),
        table: table.name.clone(),
        columns: columns
            .iter()
            .map(|(name, desc)| SpecColumn {
                name: name.clone(),
                desc: *desc,
            })
            .collect(),
        unique: false,
        predicate: index.predicate.as_ref().map(|p| p.to_string()),
    };
    let queries = if count == 1 {
        "1 query".to_string()
    } else {
        format!("{count} queries")
    };
    let mut f = finding(
        "missing-query-index",
        table,
        format!(
            "{queries} on `{}` {} an index {}: no index serves {}",
            table.name,
            if count == 1 { "needs" } else { "need" },
            index.describe(),
            if count == 1 { "it" } else { "them" }
        ),
    );
    f.severity = evidence(&sites);
    f.columns = columns.iter().map(|(c, _)| c.clone()).collect();
    f.location = sites
        .first()
        .and_then(|p| p.location.clone())
        .or_else(|| table.location.clone());
    for pattern in sites.iter().take(MAX_RELATED) {
        if let Some(location) = &pattern.location {
            f.related.push(Related {
                location: location.clone(),
                message: format!("query: {}", pattern.sql()),
            });
        }
    }
    if count > MAX_RELATED
        && let Some(location) = &table.location
    {
        f.related.push(Related {
            location: location.clone(),
            message: format!("and {} more call sites", count - MAX_RELATED),
        });
    }
    super::note_made_redundant(
        &mut f,
        made_redundant_by(table, &index.parts, index.predicate.is_some()),
    );
    f.suggested_index = Some(spec.clone());
    if ascending_only && mixed {
        f.help = Some(
            "drizzle-orm's sqlite-core cannot declare descending index columns: create this index in a migration by hand".into(),
        );
    } else {
        f.fix = Some(FixIntent::AddIndex(spec));
    }
    f
}

/// How strong the evidence is: several call sites, a query that wants the
/// first rows of an order, or one that runs in a background job, make a
/// warning; one plain call site is a hint.
fn evidence(sites: &[&AccessPattern]) -> Severity {
    let top_rows = sites.iter().any(|p| p.limited && !p.order.is_empty());
    let background = sites.iter().any(|p| {
        p.location
            .as_ref()
            .is_some_and(|l| in_background_job(&l.path))
    });
    if sites.len() >= 3 || top_rows || background {
        Severity::Warning
    } else {
        Severity::Info
    }
}

/// Code that runs on a schedule or a queue, often in a loop.
fn in_background_job(path: &Path) -> bool {
    path.components().any(|c| {
        let name = c.as_os_str().to_string_lossy().to_ascii_lowercase();
        let stem = name.strip_suffix(".py").unwrap_or(&name);
        let stem = stem
            .strip_suffix(".ts")
            .or_else(|| stem.strip_suffix(".js"))
            .unwrap_or(stem);
        matches!(
            stem,
            "tasks" | "jobs" | "workers" | "worker" | "cron" | "crons" | "scheduler" | "commands"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{Column, ForeignKey, Framework, IndexOrigin, IndexPart};
    use crate::source::Location;
    use std::path::PathBuf;

    fn table(indexes: Vec<Index>) -> Table {
        Table {
            name: "checks".into(),
            model: "Check".into(),
            framework: Framework::Django,
            dialect: Dialect::Postgresql,
            dialect_assumed: false,
            managed: true,
            unknown_indexes: None,
            location: Some(at("app/models.py", 1)),
            columns: vec![Column::new("id", "id")],
            foreign_keys: vec![ForeignKey {
                columns: vec!["project_id".into()],
                ref_table: Some("projects".into()),
                ref_columns: vec!["id".into()],
                enforced: true,
                relation_only: false,
                field: "project".into(),
                location: None,
            }],
            indexes,
            generic_foreign_keys: Vec::new(),
        }
    }

    fn at(path: &str, line: usize) -> Location {
        Location {
            path: PathBuf::from(path),
            span: crate::source::Span::default(),
            line,
            column: 1,
            end_line: line,
            end_column: 2,
        }
    }

    fn index(columns: &[&str]) -> Index {
        let mut index = Index::new(
            columns
                .iter()
                .map(|c| {
                    let mut part = IndexPart::column(c.trim_start_matches('-'));
                    part.desc = c.starts_with('-');
                    part
                })
                .collect(),
            IndexOrigin::Declared,
        );
        index.location = Some(at("app/models.py", 9));
        index
    }

    /// `path:line` call site; conditions as (column, op, constant).
    fn query(
        path: &str,
        conditions: &[(&str, ConditionOp, Option<&str>)],
        order: &[&str],
        limited: bool,
    ) -> AccessPattern {
        AccessPattern {
            limited,
            location: Some(at(path, 3)),
            ..AccessPattern::for_test("checks", conditions, order)
        }
    }

    fn run(table: Table, patterns: Vec<AccessPattern>) -> Vec<String> {
        let schema = Schema {
            tables: vec![table],
            access_patterns: patterns,
            ..Schema::default()
        };
        let mut out = Vec::new();
        check(&schema, &mut out);
        out.iter()
            .map(|f| {
                format!(
                    "{} {} [{}]",
                    f.severity.as_str(),
                    f.message,
                    f.related
                        .iter()
                        .map(|r| r.message.as_str())
                        .collect::<Vec<_>>()
                        .join("; ")
                )
            })
            .collect()
    }

    #[test]
    fn proposes_equality_then_order_for_the_first_rows_and_names_what_it_replaces() {
        use ConditionOp::*;
        let got = run(
            table(vec![index(&["project_id"])]),
            vec![query(
                "app/tasks.py",
                &[("project_id", Eq, None), ("enabled", Eq, Some("true"))],
                &["-priority"],
                true,
            )],
        );
        assert_eq!(
            got,
            [
                "warning 1 query on `checks` needs an index (project_id, priority DESC) WHERE enabled: no index serves it [query: SELECT * FROM checks WHERE project_id = $1 AND enabled = true ORDER BY priority DESC LIMIT 1]"
            ]
        );
        // Not partial: the single-column index becomes redundant.
        let got = run(
            table(vec![index(&["project_id"])]),
            vec![query(
                "app/views.py",
                &[("project_id", Eq, None)],
                &["-created"],
                true,
            )],
        );
        assert!(
            got[0].contains("index (project_id) becomes redundant"),
            "{got:?}"
        );
    }

    #[test]
    fn drizzle_on_sqlite_gets_ascending_keys_or_no_fix() {
        use ConditionOp::*;
        let sqlite = || {
            let mut t = table(vec![index(&["project_id"])]);
            t.framework = Framework::Drizzle;
            t.dialect = Dialect::Sqlite;
            t
        };
        let run_one = |pattern: AccessPattern| {
            let schema = Schema {
                tables: vec![sqlite()],
                access_patterns: vec![AccessPattern {
                    framework: Framework::Drizzle,
                    ..pattern
                }],
                ..Schema::default()
            };
            let mut out = Vec::new();
            check(&schema, &mut out);
            out.into_iter().next().expect("a finding")
        };
        // One direction: declared ascending, read backwards.
        let one_way = run_one(query(
            "src/jobs.ts",
            &[("project_id", Eq, None)],
            &["-created"],
            true,
        ));
        match &one_way.fix {
            Some(FixIntent::AddIndex(spec)) => {
                assert!(spec.columns.iter().all(|c| !c.desc), "{spec:?}")
            }
            other => panic!("{other:?}"),
        }
        // Mixed directions cannot be declared in sqlite-core.
        let mixed = run_one(query(
            "src/jobs.ts",
            &[("project_id", Eq, None)],
            &["-created", "name"],
            true,
        ));
        assert!(mixed.fix.is_none());
        assert!(mixed.help.is_some_and(|h| h.contains("sqlite-core")));
    }

    #[test]
    fn a_lookup_by_an_unindexed_column_is_a_hint_until_the_evidence_grows() {
        use ConditionOp::*;
        let one = vec![query("app/views.py", &[("code", Eq, None)], &[], false)];
        assert_eq!(
            run(table(vec![]), one),
            [
                "info 1 query on `checks` needs an index (code): no index serves it [query: SELECT * FROM checks WHERE code = $1]"
            ]
        );
        let three: Vec<AccessPattern> = ["a", "b", "c"]
            .iter()
            .map(|f| query(&format!("app/{f}.py"), &[("code", Eq, None)], &[], false))
            .collect();
        assert!(run(table(vec![]), three)[0].starts_with("warning 3 queries"));
    }

    #[test]
    fn says_nothing_where_the_code_does_not_show_a_need() {
        use ConditionOp::*;
        let cases = [
            // Narrowed by an index already; no order asked for.
            (
                vec![index(&["project_id"])],
                query(
                    "app/v.py",
                    &[("project_id", Eq, None), ("status", Eq, None)],
                    &[],
                    false,
                ),
            ),
            // A sort without a limit, an unfiltered listing.
            (vec![], query("app/v.py", &[], &["name"], false)),
            // A lone low-cardinality column.
            (
                vec![],
                query("app/v.py", &[("status", Eq, None)], &[], false),
            ),
            // Too many equality columns to judge.
            (
                vec![],
                query(
                    "app/v.py",
                    &[
                        ("a", Eq, None),
                        ("b", Eq, None),
                        ("c", Eq, None),
                        ("d", Eq, None),
                    ],
                    &[],
                    false,
                ),
            ),
            // One-off code: a data migration, a backfill script.
            (
                vec![],
                query(
                    "app/migrations/0007_fill.py",
                    &[("code", Eq, None)],
                    &[],
                    false,
                ),
            ),
            (
                vec![],
                query("scripts/backfill.py", &[("code", Eq, None)], &[], false),
            ),
            // The foreign key's own index: `unindexed-foreign-key` says it.
            (
                vec![],
                query("app/v.py", &[("project_id", Eq, None)], &[], false),
            ),
            // A partial index made for the queue the query reads.
            (
                vec![{
                    let mut queue = index(&["processed"]);
                    queue.predicate = Some(crate::schema::sql::predicate("processed IS NULL"));
                    queue
                }],
                query("app/jobs.py", &[("processed", IsNull, None)], &["id"], true),
            ),
            // A unique key fixed by `IN`: a handful of rows to sort.
            (
                vec![{
                    let mut code = index(&["code"]);
                    code.unique = true;
                    code
                }],
                query("app/v.py", &[("code", In, None)], &["-created"], true),
            ),
            // `first()` without `order_by`: any matching row will do.
            (
                vec![index(&["code"])],
                AccessPattern {
                    order_implicit: true,
                    ..query("app/v.py", &[("code", Eq, None)], &["id"], true)
                },
            ),
            // The first rows of the whole table.
            (vec![], query("app/v.py", &[], &["-created"], true)),
            // A full index (the key, read backwards) already gives the
            // order a partial one would.
            (
                vec![{
                    let mut pk = index(&["id"]);
                    pk.unique = true;
                    pk.origin = IndexOrigin::PrimaryKey;
                    pk
                }],
                query(
                    "app/jobs.py",
                    &[("search_vector", IsNull, None)],
                    &["-id"],
                    true,
                ),
            ),
            // A key wider than three columns.
            (
                vec![],
                query(
                    "app/v.py",
                    &[("a", Eq, None), ("b", Eq, None), ("c", Eq, None)],
                    &["-d"],
                    true,
                ),
            ),
        ];
        for (indexes, pattern) in cases {
            let described = pattern.sql();
            let got = run(table(indexes), vec![pattern]);
            assert!(got.is_empty(), "{described}: {got:?}");
        }
        // No partial index on MySQL.
        let mut mysql = table(vec![]);
        mysql.dialect = Dialect::Mysql;
        let got = run(
            mysql,
            vec![query(
                "app/v.py",
                &[("code", Eq, None), ("enabled", Eq, Some("true"))],
                &[],
                false,
            )],
        );
        assert!(got.is_empty(), "{got:?}");
    }
}
