//! Which indexes a table's queries need that its indexes do not give: the
//! fewest new indexes that serve every access pattern no existing index
//! serves (see [`super::coverage::index_serves`]). Database knowledge
//! only; which rule reports a proposal, and how, is the rules' business.

use super::coverage::index_serves;
use super::{
    AccessPattern, Condition, ConditionOp, Conjunct, Index, IndexOrigin, IndexPart, Predicate,
    Table,
};

/// One index the queries need, with the patterns it serves.
#[derive(Debug, Clone)]
pub struct Proposal<'p> {
    pub index: Index,
    pub patterns: Vec<&'p AccessPattern>,
}

/// The indexes `table`'s access patterns need. Patterns an existing index
/// serves, `OR` queries, and queries that narrow nothing a btree can use
/// (full scans, only `<>` or `ILIKE`) ask for nothing. A condition on a
/// constant of a low-cardinality column (`enabled = true`, `status =
/// 'open'`, `deleted_at IS NULL`) that every pattern of a proposal shares
/// becomes its partial predicate instead of a key column; an index whose
/// key would hold only such columns is never proposed.
pub fn propose<'p>(table: &Table, patterns: &[&'p AccessPattern]) -> Vec<Proposal<'p>> {
    let mut proposals: Vec<Proposal<'p>> = Vec::new();
    for &pattern in patterns {
        if pattern.disjunction || table.indexes.iter().any(|i| index_serves(i, pattern)) {
            continue;
        }
        let Some(index) = index_for(table, pattern) else {
            continue;
        };
        match proposals
            .iter_mut()
            .find(|p| p.index.parts == index.parts && p.index.predicate == index.predicate)
        {
            Some(p) => p.patterns.push(pattern),
            None => proposals.push(Proposal {
                index,
                patterns: vec![pattern],
            }),
        }
    }
    // The fewest indexes: a proposal another one serves in full folds
    // into it, the widest first.
    proposals.sort_by_key(|p| std::cmp::Reverse(p.index.parts.len()));
    let mut kept: Vec<Proposal<'p>> = Vec::new();
    for proposal in proposals {
        match kept
            .iter_mut()
            .find(|k| proposal.patterns.iter().all(|p| index_serves(&k.index, p)))
        {
            Some(k) => k.patterns.extend(proposal.patterns),
            None => kept.push(proposal),
        }
    }
    kept
}

/// The index one pattern needs: equality columns (more selective kinds
/// first), then its order columns, or its one range column.
fn index_for(table: &Table, pattern: &AccessPattern) -> Option<Index> {
    let mut equal: Vec<&Condition> = Vec::new();
    let mut predicate = Vec::new();
    for c in &pattern.conditions {
        match c.op {
            ConditionOp::Eq | ConditionOp::In | ConditionOp::IsNull => match as_predicate(c) {
                Some(conjunct) => predicate.push(conjunct),
                None if !equal.iter().any(|e| e.column == c.column) => equal.push(c),
                None => {}
            },
            _ => {}
        }
    }
    equal.sort_by_key(|c| selectivity_rank(table, c));
    let mut parts: Vec<IndexPart> = equal.iter().map(|c| IndexPart::column(&c.column)).collect();
    let order: Vec<_> = pattern
        .order
        .iter()
        .filter(|o| !pattern.order_implicit && !equal.iter().any(|e| e.column == o.column))
        .collect();
    if !order.is_empty() {
        for o in order {
            let mut part = IndexPart::column(&o.column);
            part.desc = o.desc;
            parts.push(part);
        }
    } else if let Some(range) = pattern
        .conditions
        .iter()
        .find(|c| matches!(c.op, ConditionOp::Range(_) | ConditionOp::Prefix))
    {
        parts.push(IndexPart::column(&range.column));
    }
    // Only low-cardinality columns, or nothing at all: no index helps.
    if parts.is_empty() {
        return None;
    }
    let mut index = Index::new(parts, IndexOrigin::Declared);
    if !predicate.is_empty() {
        index.predicate = Some(Predicate::new(predicate));
    }
    Some(index)
}

/// A condition on a constant that a partial predicate states better than a
/// key column: a boolean, `IS NULL` (soft delete), or a string constant
/// (a status) on a column that is no reference.
pub fn as_predicate(c: &Condition) -> Option<Conjunct> {
    match (c.op, c.constant.as_deref()) {
        (ConditionOp::IsNull, _) => Some(Conjunct::Other(format!("{} IS NULL", c.column))),
        (ConditionOp::Eq, Some("true")) => Some(Conjunct::Other(c.column.clone())),
        (ConditionOp::Eq, Some("false")) => Some(Conjunct::Other(format!("NOT {}", c.column))),
        (ConditionOp::Eq, Some(value)) if value.starts_with('\'') && !looks_like_key(&c.column) => {
            Some(Conjunct::Other(format!("{} = {value}", c.column)))
        }
        _ => None,
    }
}

/// References, ids and codes first; everything else after.
fn selectivity_rank(table: &Table, c: &Condition) -> u8 {
    let is_fk = table
        .foreign_keys
        .iter()
        .any(|fk| fk.columns.first() == Some(&c.column));
    if is_fk || looks_like_key(&c.column) {
        0
    } else {
        1
    }
}

fn looks_like_key(column: &str) -> bool {
    let lower = column.to_ascii_lowercase();
    [
        "id", "uuid", "code", "slug", "email", "token", "key", "number",
    ]
    .iter()
    .any(|k| lower == *k || lower.ends_with(&format!("_{k}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{Column, Dialect, ForeignKey, Framework, RangeBound};

    fn table(indexes: Vec<Index>) -> Table {
        Table {
            name: "checks".into(),
            model: "Check".into(),
            framework: Framework::Django,
            dialect: Dialect::Postgresql,
            dialect_assumed: false,
            managed: true,
            unknown_indexes: None,
            location: None,
            columns: vec![Column::new("id", "id")],
            foreign_keys: vec![ForeignKey {
                columns: vec!["customer_id".into()],
                ref_table: Some("customers".into()),
                ref_columns: vec!["id".into()],
                enforced: true,
                relation_only: false,
                field: "customer".into(),
                location: None,
            }],
            indexes,
            generic_foreign_keys: Vec::new(),
        }
    }

    fn pattern(conditions: &[(&str, ConditionOp, Option<&str>)], order: &[&str]) -> AccessPattern {
        AccessPattern::for_test("checks", conditions, order)
    }

    fn describe(proposals: &[Proposal]) -> Vec<String> {
        proposals
            .iter()
            .map(|p| format!("{} x{}", p.index.describe(), p.patterns.len()))
            .collect()
    }

    #[test]
    fn proposes_equality_then_order_with_a_shared_constant_as_predicate() {
        use ConditionOp::*;
        let a = pattern(
            &[("enabled", Eq, Some("true")), ("customer_id", Eq, None)],
            &["-priority"],
        );
        let b = pattern(
            &[("customer_id", Eq, None), ("enabled", Eq, Some("true"))],
            &[],
        );
        let c = pattern(&[("status", Eq, Some("'down'")), ("code", Eq, None)], &[]);
        let pk = {
            let mut i = Index::new(vec![IndexPart::column("id")], IndexOrigin::PrimaryKey);
            i.unique = true;
            i
        };
        let by_id = pattern(&[("id", Eq, None)], &[]);
        let only_flag = pattern(&[("enabled", Eq, Some("true"))], &[]);
        let scan = pattern(&[("name", Other, None)], &[]);
        let t = table(vec![pk]);
        let got = describe(&propose(&t, &[&a, &b, &c, &by_id, &only_flag, &scan]));
        assert_eq!(
            got,
            [
                "(customer_id, priority DESC) WHERE enabled x2",
                "(code) WHERE status = 'down' x1",
            ]
        );
    }

    #[test]
    fn nothing_when_an_existing_index_serves() {
        use ConditionOp::*;
        let mut index = Index::new(
            vec![
                IndexPart::column("customer_id"),
                IndexPart::column("started_at"),
            ],
            IndexOrigin::Declared,
        );
        index.parts[1].desc = true;
        let t = table(vec![index]);
        let q = pattern(&[("customer_id", Eq, None)], &["started_at"]);
        assert!(propose(&t, &[&q]).is_empty());
        let q = pattern(
            &[
                ("customer_id", Eq, None),
                ("started_at", Range(RangeBound::Ge), None),
            ],
            &[],
        );
        assert!(propose(&t, &[&q]).is_empty());
        let q = pattern(&[("customer_id", Eq, None), ("kind", Eq, None)], &[]);
        assert_eq!(describe(&propose(&t, &[&q])), ["(customer_id, kind) x1"]);
    }
}
