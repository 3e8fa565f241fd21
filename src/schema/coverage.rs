//! The one place that answers "is this served by an index?" and "is this index
//! unnecessary?". Every rule asks here; none re-implements leftmost-prefix or
//! partial-predicate logic.

use rustc_hash::FxHashSet;

use super::{
    AccessPattern, ConditionOp, Conjunct, Dialect, ForeignKey, GenericForeignKey, Index,
    IndexMethod, IndexOrigin, IndexPart, Table,
};

/// The first index (in declaration order) that serves lookups of `fk`.
///
/// An index covers an FK on n columns when (PostgreSQL, SQLite, MySQL docs):
/// it is a btree (a hash index only for a single column); its first n key
/// parts are plain columns whose set equals the FK columns (MySQL requires the
/// same order); and it has no predicate, or only `col IS NOT NULL` on FK
/// columns, which the RI lookup (a non-null equality) implies. Direction,
/// NULLS order and INCLUDE columns do not matter; PK and UNIQUE indexes count.
pub fn covering_index_for<'t>(table: &'t Table, fk: &ForeignKey) -> Option<&'t Index> {
    table
        .indexes
        .iter()
        .find(|index| index_covers_columns(index, &fk.columns, table.dialect))
}

/// The indexes of `table` that a new full index with key `parts` would
/// make unnecessary: plain, full, non-unique indexes with a shorter key
/// the new one starts with. A partial new index makes none redundant.
pub fn made_redundant_by<'t>(
    table: &'t Table,
    parts: &[IndexPart],
    partial: bool,
) -> Vec<&'t Index> {
    if partial {
        return Vec::new();
    }
    table
        .indexes
        .iter()
        .filter(|existing| {
            !existing.unique
                && existing.predicate.is_none()
                && existing.origin != IndexOrigin::PrimaryKey
                && existing.parts.len() < parts.len()
                && parts.starts_with(&existing.parts)
        })
        .collect()
}

pub fn index_covers_columns(index: &Index, columns: &[String], dialect: Dialect) -> bool {
    if !leads_with(index, columns, dialect != Dialect::Mysql) {
        return false;
    }
    match &index.predicate {
        None => true,
        Some(predicate) => predicate.conjuncts.iter().all(|c| match c {
            Conjunct::IsNotNull(col) => columns.contains(col),
            Conjunct::Other(_) => false,
        }),
    }
}

/// The first index (in declaration order) that serves lookups of a generic
/// foreign key: a full (not partial) btree index whose first two key parts
/// are its type and id columns, in either order. Every lookup through it
/// (a generic relation, a generic prefetch) is an equality on both, which
/// any order serves on every database. A partial index is not counted,
/// even one the lookup's predicate implies: ixray keeps this simple.
pub fn covering_index_for_generic<'t>(
    table: &'t Table,
    generic: &GenericForeignKey,
) -> Option<&'t Index> {
    let columns = [generic.type_column.clone(), generic.id_column.clone()];
    table
        .indexes
        .iter()
        .find(|index| index.predicate.is_none() && leads_with(index, &columns, true))
}

/// Whether the index's first key parts are plain columns, exactly
/// `columns` (in any order when `any_order`), and its method can serve an
/// equality lookup on them: btree, or hash for a single column.
fn leads_with(index: &Index, columns: &[String], any_order: bool) -> bool {
    let n = columns.len();
    if n == 0 || index.parts.len() < n {
        return false;
    }
    match index.method {
        IndexMethod::Btree => {}
        IndexMethod::Hash if n == 1 => {}
        _ => return false,
    }
    let prefix: Option<Vec<&str>> = index.parts[..n].iter().map(|p| p.column_name()).collect();
    let Some(prefix) = prefix else {
        return false;
    };
    if any_order {
        let wanted: FxHashSet<&str> = columns.iter().map(String::as_str).collect();
        let got: FxHashSet<&str> = prefix.iter().copied().collect();
        wanted == got && got.len() == n
    } else {
        prefix.iter().zip(columns).all(|(a, b)| *a == b)
    }
}

/// Whether `index` serves a query's access pattern the way a btree can
/// (PostgreSQL "Multicolumn Indexes", "Indexes and ORDER BY"): the
/// equality columns (`=`, `IN`, `IS NULL`) are the index's first columns,
/// in any order; then either the order columns follow in their order with
/// the same directions or all reversed, or one range column follows. A
/// partial index serves only when the query's own conditions imply each
/// conjunct of its predicate. A query joined by `OR` is served by no
/// single index. Conditions a btree cannot use (`<>`, `ILIKE '%x%'`) are
/// filters on the rows found and ask nothing of the index.
/// Whether a query's own conditions imply every conjunct of a partial
/// index's predicate, so the index holds every row the query wants.
pub fn predicate_implied(predicate: &super::Predicate, pattern: &AccessPattern) -> bool {
    predicate.conjuncts.iter().all(|c| implied(c, pattern))
}

pub fn index_serves(index: &Index, pattern: &AccessPattern) -> bool {
    if pattern.disjunction || index.method != IndexMethod::Btree {
        return false;
    }
    if let Some(predicate) = &index.predicate
        && !predicate.conjuncts.iter().all(|c| implied(c, pattern))
    {
        return false;
    }
    // A condition the predicate already fixes (`enabled` for `WHERE
    // enabled`) asks nothing more of the key.
    let fixed = |c: &crate::schema::Condition| {
        index.predicate.as_ref().is_some_and(|p| {
            p.conjuncts
                .iter()
                .any(|conjunct| matches!(conjunct, Conjunct::Other(_)) && writes(c, conjunct))
        })
    };
    let equal: FxHashSet<&str> = pattern
        .conditions
        .iter()
        .filter(|c| {
            matches!(
                c.op,
                ConditionOp::Eq | ConditionOp::In | ConditionOp::IsNull
            )
        })
        .filter(|c| !fixed(c))
        .map(|c| c.column.as_str())
        .collect();
    let columns: Vec<Option<&str>> = index.parts.iter().map(|p| p.column_name()).collect();
    // A unique key fixed by `=` finds at most one row: nothing is left to
    // narrow or sort.
    let single_row = index.unique
        && columns.iter().all(|c| {
            c.is_some_and(|c| {
                pattern
                    .conditions
                    .iter()
                    .any(|q| q.column == c && q.op == ConditionOp::Eq)
            })
        });
    if single_row {
        return true;
    }
    if columns.len() < equal.len() {
        return false;
    }
    let lead: FxHashSet<&str> = columns[..equal.len()].iter().flatten().copied().collect();
    if lead != equal {
        return false;
    }
    let rest = &index.parts[equal.len()..];
    // An order the framework adds to fetch one row asks nothing of the key.
    if !pattern.order.is_empty() && !pattern.order_implicit {
        // A sort on an equality column is free: its value is fixed.
        let order: Vec<_> = pattern
            .order
            .iter()
            .filter(|o| !equal.contains(o.column.as_str()))
            .collect();
        if order.len() > rest.len() {
            return false;
        }
        let same = order
            .iter()
            .zip(rest)
            .all(|(o, p)| p.column_name() == Some(o.column.as_str()));
        let forward = order.iter().zip(rest).all(|(o, p)| o.desc == p.desc);
        let backward = order.iter().zip(rest).all(|(o, p)| o.desc != p.desc);
        return same && (order.len() <= 1 || forward || backward);
    }
    let ranges: Vec<&str> = pattern
        .conditions
        .iter()
        .filter(|c| matches!(c.op, ConditionOp::Range(_) | ConditionOp::Prefix))
        .map(|c| c.column.as_str())
        .collect();
    ranges.is_empty()
        || rest
            .first()
            .and_then(|p| p.column_name())
            .is_some_and(|c| ranges.contains(&c))
}

/// Whether the query's conditions imply one conjunct of a partial index's
/// predicate: `col IS NOT NULL` by any `=`/`IN`/range on the column (none
/// matches NULL) or an explicit `IS NOT NULL`; any other conjunct only by
/// the same condition written in the query (`status = 'open'`).
fn implied(conjunct: &Conjunct, pattern: &AccessPattern) -> bool {
    match conjunct {
        Conjunct::IsNotNull(column) => pattern.conditions.iter().any(|c| {
            c.column == *column
                && matches!(
                    c.op,
                    ConditionOp::Eq
                        | ConditionOp::In
                        | ConditionOp::Range(_)
                        | ConditionOp::Prefix
                        | ConditionOp::IsNotNull
                )
        }),
        Conjunct::Other(_) => pattern.conditions.iter().any(|c| writes(c, conjunct)),
    }
}

/// Whether a query condition is the predicate conjunct, as ixray writes
/// predicates: `status = 'open'`, `status <> 'down'`, `deleted_at IS
/// NULL`, and a bare `enabled` for `enabled = true`.
fn writes(c: &crate::schema::Condition, conjunct: &Conjunct) -> bool {
    let Conjunct::Other(text) = conjunct else {
        return false;
    };
    let written = match (c.op, &c.constant) {
        (ConditionOp::Eq, Some(value)) => format!("{} = {value}", c.column),
        (ConditionOp::NotEq, Some(value)) => format!("{} <> {value}", c.column),
        (ConditionOp::IsNull, _) => format!("{} IS NULL", c.column),
        _ => return false,
    };
    let flag = |value: &str| c.op == ConditionOp::Eq && c.constant.as_deref() == Some(value);
    // `exclude(status="down")` against `~Q(status="down")`, which reads
    // back as `not(status = 'down')`.
    let not_equal = || {
        c.op == ConditionOp::NotEq
            && c.constant.as_ref().is_some_and(|value| {
                super::sql::predicate(&format!("NOT ({} = {value})", c.column)).conjuncts
                    == [conjunct.clone()]
            })
    };
    written.eq_ignore_ascii_case(text)
        || not_equal()
        || (flag("true") && *text == c.column)
        || (flag("false")
            && text
                .get(..4)
                .is_some_and(|not| not.eq_ignore_ascii_case("NOT "))
            && text.get(4..).is_some_and(|rest| rest.trim() == c.column))
}

/// How index `a` is made unnecessary by index `b` on the same table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Redundancy {
    /// Same definition.
    Duplicate,
    /// `a`'s key is a strict leftmost prefix of `b`'s.
    Prefix,
    /// `a` is partial and `b`, without a predicate, starts with `a`'s key:
    /// every query that can use `a` implies nothing `b` needs.
    PartialOfFull,
}

/// Whether `a` is unnecessary given `b` (§5 of the semantics notes).
///
/// Never across methods, opclasses, expression-vs-column, or partial-vs-full;
/// a unique index is never redundant with a wider one. For duplicates the
/// caller decides which one of the pair to drop (see [`duplicate_to_drop`]).
pub fn redundancy(a: &Index, b: &Index) -> Option<Redundancy> {
    if a.method != b.method {
        return None;
    }
    if a.predicate != b.predicate {
        // A full index serves every query a partial one serves; a unique
        // partial index enforces a rule the full one does not.
        let partial_of_full = a.predicate.is_some()
            && b.predicate.is_none()
            && !a.unique
            && a.parts.len() <= b.parts.len()
            && starts_with_key_of(b, a);
        return partial_of_full.then_some(Redundancy::PartialOfFull);
    }
    if a.parts == b.parts {
        let mut ai: Vec<&String> = a.include.iter().collect();
        let mut bi: Vec<&String> = b.include.iter().collect();
        ai.sort();
        bi.sort();
        return (ai == bi).then_some(Redundancy::Duplicate);
    }
    if a.unique || a.parts.len() >= b.parts.len() {
        return None;
    }
    starts_with_key_of(b, a).then_some(Redundancy::Prefix)
}

/// Whether `wide` starts with `narrow`'s key parts (same keys and
/// opclasses; the same directions or all of them reversed, which a btree
/// scanned backwards gives) and holds every INCLUDE column of `narrow`.
fn starts_with_key_of(wide: &Index, narrow: &Index) -> bool {
    let Some(prefix) = wide.parts.get(..narrow.parts.len()) else {
        return false;
    };
    let same_keys = narrow
        .parts
        .iter()
        .zip(prefix)
        .all(|(x, y)| x.key == y.key && x.opclass == y.opclass);
    if !same_keys {
        return false;
    }
    // A single-column index scans backwards; wider ones need the same
    // directions, or all of them reversed.
    let directions_ok = narrow.parts.len() == 1
        || narrow
            .parts
            .iter()
            .zip(prefix)
            .all(|(x, y)| x.desc == y.desc)
        || narrow
            .parts
            .iter()
            .zip(prefix)
            .all(|(x, y)| x.desc != y.desc);
    if !directions_ok {
        return false;
    }
    let wide_columns: FxHashSet<&str> = wide
        .parts
        .iter()
        .filter_map(|p| p.column_name())
        .chain(wide.include.iter().map(String::as_str))
        .collect();
    narrow
        .include
        .iter()
        .all(|c| wide_columns.contains(c.as_str()))
}

/// Of two duplicate indexes, the one to drop: never a constraint when the
/// other is not one; otherwise the one that is not unique; otherwise the later
/// one. `None` when both back constraints (report only, never drop).
pub fn duplicate_to_drop<'i>(first: &'i Index, second: &'i Index) -> Option<&'i Index> {
    let keeps = |i: &Index| (i.origin.is_constraint() || i.unique, i.locked);
    match (keeps(first), keeps(second)) {
        ((true, _), (true, _)) => None,
        ((true, _), _) => Some(second),
        (_, (true, _)) => Some(first),
        ((false, true), (false, false)) => Some(second),
        ((false, false), (false, true)) => Some(first),
        _ => Some(second),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{Framework, IndexOrigin, IndexPart, Predicate, RangeBound};

    fn table(dialect: Dialect, indexes: Vec<Index>) -> Table {
        Table {
            name: "t".into(),
            model: "T".into(),
            framework: Framework::Django,
            dialect,
            managed: true,
            unknown_indexes: None,
            dialect_assumed: false,
            location: None,
            columns: vec![],
            foreign_keys: vec![],
            generic_foreign_keys: vec![],
            indexes,
        }
    }

    fn fk(cols: &[&str]) -> ForeignKey {
        ForeignKey {
            columns: cols.iter().map(|c| c.to_string()).collect(),
            ref_table: None,
            ref_columns: vec![],
            enforced: true,
            relation_only: false,
            field: "f".into(),
            location: None,
        }
    }

    fn idx(cols: &[&str]) -> Index {
        let parts = cols
            .iter()
            .map(|c| {
                let mut part = IndexPart::column(c.trim_start_matches('-'));
                part.desc = c.starts_with('-');
                part
            })
            .collect();
        Index::new(parts, IndexOrigin::Declared)
    }

    fn pattern(conditions: &[(&str, ConditionOp, Option<&str>)], order: &[&str]) -> AccessPattern {
        AccessPattern {
            limited: true,
            ..AccessPattern::for_test("t", conditions, order)
        }
    }

    #[test]
    fn an_index_serves_equality_prefix_then_order_or_one_range() {
        use ConditionOp::*;
        let q = pattern(
            &[("customer_id", Eq, None), ("status", Eq, None)],
            &["-started_at"],
        );
        assert!(index_serves(
            &idx(&["status", "customer_id", "-started_at"]),
            &q
        ));
        assert!(index_serves(
            &idx(&["customer_id", "status", "started_at"]),
            &q
        ));
        assert!(!index_serves(&idx(&["customer_id", "started_at"]), &q));
        assert!(!index_serves(&idx(&["customer_id", "status"]), &q));
        let two = pattern(&[("a", Eq, None)], &["-b", "c"]);
        assert!(index_serves(&idx(&["a", "-b", "c"]), &two));
        assert!(index_serves(&idx(&["a", "b", "-c"]), &two));
        assert!(!index_serves(&idx(&["a", "b", "c"]), &two));
        let range = pattern(
            &[
                ("a", Eq, None),
                ("t", Range(RangeBound::Ge), None),
                ("x", Other, None),
            ],
            &[],
        );
        assert!(index_serves(&idx(&["a", "t"]), &range));
        assert!(!index_serves(&idx(&["t", "a"]), &range));
        let sort_on_equal = pattern(&[("a", Eq, None)], &["a", "-b"]);
        assert!(index_serves(&idx(&["a", "-b"]), &sort_on_equal));
        let mut unique = idx(&["id"]);
        unique.unique = true;
        let by_key = pattern(&[("id", Eq, None), ("status", Eq, None)], &["-t"]);
        assert!(index_serves(&unique, &by_key), "one row by the key");
        assert!(!index_serves(
            &unique,
            &pattern(&[("id", In, None)], &["-t"])
        ));
        let mut or = pattern(&[("a", Eq, None)], &[]);
        or.disjunction = true;
        assert!(!index_serves(&idx(&["a"]), &or));
    }

    #[test]
    fn a_partial_index_serves_only_queries_that_imply_its_predicate() {
        use ConditionOp::*;
        let mut enabled = idx(&["customer_id", "-priority"]);
        enabled.predicate = Some(Predicate::new(vec![Conjunct::Other("enabled".into())]));
        let q = pattern(
            &[("customer_id", Eq, None), ("enabled", Eq, Some("true"))],
            &["-priority"],
        );
        assert!(index_serves(&enabled, &q), "the predicate fixes `enabled`");
        let q = pattern(&[("customer_id", Eq, None)], &["-priority"]);
        assert!(!index_serves(&enabled, &q));
        let mut open = idx(&["customer_id"]);
        open.predicate = Some(Predicate::new(vec![Conjunct::Other(
            "status = 'open'".into(),
        )]));
        let q = pattern(
            &[("customer_id", Eq, None), ("status", NotEq, Some("'open'"))],
            &[],
        );
        assert!(!index_serves(&open, &q));
        let mut not_null = idx(&["owner_id"]);
        not_null.predicate = Some(Predicate::new(vec![Conjunct::IsNotNull("owner_id".into())]));
        assert!(index_serves(
            &not_null,
            &pattern(&[("owner_id", Eq, None)], &[])
        ));
        assert!(!index_serves(
            &not_null,
            &pattern(&[("owner_id", IsNull, None)], &[])
        ));
        let mut not_down = idx(&["alert_after"]);
        not_down.predicate = Some(crate::schema::sql::predicate("NOT (status = 'down')"));
        let q = pattern(
            &[
                ("alert_after", Range(crate::schema::RangeBound::Lt), None),
                ("status", NotEq, Some("'down'")),
            ],
            &["alert_after"],
        );
        assert!(index_serves(&not_down, &q), "`<>` implies `NOT (=)`");
        let q = pattern(
            &[
                ("alert_after", Range(crate::schema::RangeBound::Lt), None),
                ("status", NotEq, Some("'up'")),
            ],
            &["alert_after"],
        );
        assert!(!index_serves(&not_down, &q), "another value");
        // `Q(dismissed=False)` reads back as `not dismissed`.
        for written in ["NOT dismissed", "not dismissed"] {
            let mut open = idx(&["app_id", "-updated_at"]);
            open.predicate = Some(Predicate::new(vec![Conjunct::Other(written.into())]));
            let q = pattern(
                &[("app_id", Eq, None), ("dismissed", Eq, Some("false"))],
                &["-updated_at"],
            );
            assert!(index_serves(&open, &q), "{written}");
        }
    }

    #[test]
    fn leftmost_prefix_covers_second_column_does_not() {
        let t = table(Dialect::Postgresql, vec![idx(&["a", "b"])]);
        assert!(covering_index_for(&t, &fk(&["a"])).is_some());
        assert!(covering_index_for(&t, &fk(&["b"])).is_none());
    }

    #[test]
    fn composite_fk_order_matters_only_on_mysql() {
        let pg = table(Dialect::Postgresql, vec![idx(&["b", "a", "c"])]);
        assert!(covering_index_for(&pg, &fk(&["a", "b"])).is_some());
        let my = table(Dialect::Mysql, vec![idx(&["b", "a", "c"])]);
        assert!(covering_index_for(&my, &fk(&["a", "b"])).is_none());
        assert!(covering_index_for(&my, &fk(&["b", "a"])).is_some());
    }

    #[test]
    fn partial_index_covers_only_with_not_null_predicate() {
        let mut not_null = idx(&["a"]);
        not_null.predicate = Some(Predicate::new(vec![Conjunct::IsNotNull("a".into())]));
        let mut other = idx(&["a"]);
        other.predicate = Some(Predicate::new(vec![Conjunct::Other(
            "state = 'open'".into(),
        )]));
        assert!(
            covering_index_for(&table(Dialect::Postgresql, vec![not_null]), &fk(&["a"])).is_some()
        );
        assert!(
            covering_index_for(&table(Dialect::Postgresql, vec![other]), &fk(&["a"])).is_none()
        );
    }

    #[test]
    fn hash_covers_single_column_only_and_gin_never() {
        let mut hash = idx(&["a", "b"]);
        hash.method = IndexMethod::Hash;
        assert!(
            covering_index_for(
                &table(Dialect::Postgresql, vec![hash.clone()]),
                &fk(&["a", "b"])
            )
            .is_none()
        );
        let mut single = idx(&["a"]);
        single.method = IndexMethod::Hash;
        assert!(
            covering_index_for(&table(Dialect::Postgresql, vec![single]), &fk(&["a"])).is_some()
        );
        let mut gin = idx(&["a"]);
        gin.method = IndexMethod::Gin;
        assert!(covering_index_for(&table(Dialect::Postgresql, vec![gin]), &fk(&["a"])).is_none());
    }

    #[test]
    fn descending_and_include_do_not_matter_for_fk() {
        let mut index = idx(&["-a"]);
        index.include = vec!["z".into()];
        assert!(
            covering_index_for(&table(Dialect::Postgresql, vec![index]), &fk(&["a"])).is_some()
        );
    }

    fn generic() -> GenericForeignKey {
        GenericForeignKey {
            field: "content_object".into(),
            type_column: "content_type_id".into(),
            id_column: "object_id".into(),
            location: None,
        }
    }

    #[test]
    fn a_generic_foreign_key_is_served_by_its_pair_leading_in_either_order() {
        let served = |index: Index| {
            covering_index_for_generic(&table(Dialect::Mysql, vec![index]), &generic()).is_some()
        };
        assert!(served(idx(&["content_type_id", "object_id"])));
        assert!(served(idx(&["object_id", "content_type_id", "tag"])));
        assert!(served(idx(&["-object_id", "content_type_id"])));
        let mut unique = idx(&["content_type_id", "object_id", "voter"]);
        unique.origin = IndexOrigin::UniqueConstraint;
        unique.unique = true;
        assert!(served(unique));
        assert!(!served(idx(&["content_type_id"])));
        assert!(!served(idx(&["tag", "content_type_id", "object_id"])));
        assert!(!served(idx(&["content_type_id", "tag", "object_id"])));
        let mut partial = idx(&["content_type_id", "object_id"]);
        partial.predicate = Some(Predicate::new(vec![Conjunct::IsNotNull(
            "object_id".into(),
        )]));
        assert!(!served(partial));
        let mut gin = idx(&["content_type_id", "object_id"]);
        gin.method = IndexMethod::Gin;
        assert!(!served(gin));
    }

    #[test]
    fn prefix_redundancy_rules() {
        assert_eq!(
            redundancy(&idx(&["a"]), &idx(&["a", "b"])),
            Some(Redundancy::Prefix)
        );
        assert_eq!(
            redundancy(&idx(&["-a"]), &idx(&["a", "b"])),
            Some(Redundancy::Prefix)
        );
        assert_eq!(redundancy(&idx(&["a", "-b"]), &idx(&["a", "b", "c"])), None);
        assert_eq!(
            redundancy(&idx(&["-a", "-b"]), &idx(&["a", "b", "c"])),
            Some(Redundancy::Prefix)
        );
        assert_eq!(redundancy(&idx(&["b"]), &idx(&["a", "b"])), None);
        assert_eq!(redundancy(&idx(&["a", "b"]), &idx(&["a"])), None);
    }

    #[test]
    fn unique_is_never_redundant_with_a_wider_index() {
        let mut unique = idx(&["a"]);
        unique.unique = true;
        assert_eq!(redundancy(&unique, &idx(&["a", "b"])), None);
        let mut wide_unique = idx(&["a", "b"]);
        wide_unique.unique = true;
        assert_eq!(
            redundancy(&idx(&["a"]), &wide_unique),
            Some(Redundancy::Prefix)
        );
    }

    #[test]
    fn a_partial_index_is_redundant_with_a_full_one_never_the_reverse() {
        let predicate = Some(Predicate::new(vec![Conjunct::Other("x = 1".into())]));
        let mut partial = idx(&["a"]);
        partial.predicate = predicate.clone();
        assert_eq!(
            redundancy(&partial, &idx(&["a", "b"])),
            Some(Redundancy::PartialOfFull)
        );
        assert_eq!(
            redundancy(&partial, &idx(&["a"])),
            Some(Redundancy::PartialOfFull)
        );
        assert_eq!(redundancy(&idx(&["a"]), &partial), None);
        assert_eq!(redundancy(&partial, &idx(&["b", "a"])), None);
        // All directions reversed is the same order read backwards.
        let mut partial_pair = idx(&["a", "-b"]);
        partial_pair.predicate = predicate.clone();
        assert_eq!(
            redundancy(&partial_pair, &idx(&["-a", "b"])),
            Some(Redundancy::PartialOfFull)
        );
        assert_eq!(redundancy(&partial_pair, &idx(&["a", "b"])), None);
        // Wider than the full index: the full one cannot serve it.
        assert_eq!(redundancy(&partial_pair, &idx(&["a"])), None);
        // A unique partial index enforces a rule.
        let mut unique = partial.clone();
        unique.unique = true;
        assert_eq!(redundancy(&unique, &idx(&["a", "b"])), None);
        let mut partial_wide = idx(&["a", "b"]);
        partial_wide.predicate = predicate;
        assert_eq!(
            redundancy(&partial, &partial_wide),
            Some(Redundancy::Prefix)
        );
        let mut other_predicate = partial_wide.clone();
        other_predicate.predicate = Some(Predicate::new(vec![Conjunct::Other("y = 1".into())]));
        assert_eq!(redundancy(&partial, &other_predicate), None);
    }

    #[test]
    fn different_methods_and_opclasses_are_never_redundant() {
        let mut gin = idx(&["a"]);
        gin.method = IndexMethod::Gin;
        assert_eq!(redundancy(&gin, &idx(&["a"])), None);
        let mut like = idx(&["a"]);
        like.parts[0].opclass = Some("varchar_pattern_ops".into());
        assert_eq!(redundancy(&like, &idx(&["a", "b"])), None);
    }

    #[test]
    fn include_must_be_contained_in_the_wider_index() {
        let mut a = idx(&["a"]);
        a.include = vec!["c".into()];
        assert_eq!(redundancy(&a, &idx(&["a", "b"])), None);
        assert_eq!(redundancy(&a, &idx(&["a", "c"])), Some(Redundancy::Prefix));
    }

    #[test]
    fn duplicate_keeps_the_constraint() {
        let plain = idx(&["a"]);
        let mut unique = idx(&["a"]);
        unique.unique = true;
        unique.origin = IndexOrigin::UniqueField;
        assert_eq!(redundancy(&plain, &unique), Some(Redundancy::Duplicate));
        assert!(std::ptr::eq(
            duplicate_to_drop(&unique, &plain).unwrap(),
            &plain
        ));
        assert!(std::ptr::eq(
            duplicate_to_drop(&plain, &unique).unwrap(),
            &plain
        ));
        assert!(duplicate_to_drop(&unique, &unique.clone()).is_none());
        let second = idx(&["a"]);
        assert!(std::ptr::eq(
            duplicate_to_drop(&plain, &second).unwrap(),
            &second
        ));
    }
}
