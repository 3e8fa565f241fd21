//! `unindexed-generic-foreign-key`: a generic foreign key (Django's
//! `GenericForeignKey`) whose type and id columns lead no index. Django
//! creates none for it, and every lookup through it (a `GenericRelation`,
//! a generic prefetch, deleting an object with generic relations) filters
//! on both columns.

use super::redundant_index::describe;
use super::{Finding, FixIntent, Related, finding};
use crate::frameworks::suggest_index_name;
use crate::schema::coverage::covering_index_for_generic;
use crate::schema::{IndexSpec, Schema, SpecColumn};

pub(super) fn check(schema: &Schema, out: &mut Vec<Finding>) {
    for table in schema.tables.iter().filter(|t| t.checkable()) {
        let mut seen: Vec<[&str; 2]> = Vec::new();
        for generic in &table.generic_foreign_keys {
            let pair = [generic.type_column.as_str(), generic.id_column.as_str()];
            if seen.contains(&pair) {
                continue;
            }
            seen.push(pair);
            if covering_index_for_generic(table, generic).is_some() {
                continue;
            }
            let columns = vec![generic.type_column.clone(), generic.id_column.clone()];
            // The type column first, as Django's documentation writes it:
            // the index then serves the content type's foreign key too.
            let spec = IndexSpec {
                name: suggest_index_name(
                    table,
                    &columns
                        .iter()
                        .map(|c| (c.clone(), false))
                        .collect::<Vec<_>>(),
                ),
                table: table.name.clone(),
                columns: columns
                    .iter()
                    .map(|c| SpecColumn {
                        name: c.clone(),
                        desc: false,
                    })
                    .collect(),
                unique: false,
                predicate: None,
            };
            let mut f = finding(
                "unindexed-generic-foreign-key",
                table,
                format!(
                    "generic foreign key `{}` on `{}` (`{}`, `{}`) has no index: Django creates none for a GenericForeignKey",
                    generic.field, table.name, generic.type_column, generic.id_column
                ),
            );
            f.columns = columns;
            f.location = generic.location.clone();
            // Point at indexes that hold both columns but do not lead with
            // them, or only behind a predicate.
            for index in &table.indexes {
                let Some(location) = &index.location else {
                    continue;
                };
                let position = |column: &str| {
                    index
                        .parts
                        .iter()
                        .position(|p| p.column_name() == Some(column))
                };
                let (Some(a), Some(b)) =
                    (position(&generic.type_column), position(&generic.id_column))
                else {
                    continue;
                };
                let message = if a.max(b) == 1 {
                    format!(
                        "index {} starts with both columns but is {}",
                        describe(index),
                        if index.predicate.is_some() {
                            "partial"
                        } else {
                            "not a btree index"
                        }
                    )
                } else {
                    format!(
                        "index {} has them only as columns {} and {} of {}",
                        describe(index),
                        a.min(b) + 1,
                        a.max(b) + 1,
                        index.parts.len()
                    )
                };
                f.related.push(Related {
                    location: location.clone(),
                    message,
                });
            }
            f.suggested_index = Some(spec.clone());
            f.fix = Some(FixIntent::AddIndex(spec));
            out.push(f);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{
        Column, Conjunct, Dialect, Framework, GenericForeignKey, Index, IndexOrigin, IndexPart,
        Predicate, Table,
    };

    fn table(indexes: Vec<Index>) -> Table {
        let column = |name: &str, field: &str| Column {
            primary_key: name == "id",
            ..Column::new(name, field)
        };
        let generic = GenericForeignKey {
            field: "content_object".into(),
            type_column: "content_type_id".into(),
            id_column: "object_id".into(),
            location: None,
        };
        Table {
            name: "tags_taggeditem".into(),
            model: "TaggedItem".into(),
            framework: Framework::Django,
            dialect: Dialect::Postgresql,
            dialect_assumed: false,
            managed: true,
            unknown_indexes: None,
            location: None,
            columns: vec![
                column("id", "id"),
                column("content_type_id", "content_type"),
                column("object_id", "object_id"),
                column("tag", "tag"),
            ],
            foreign_keys: vec![],
            // Declared twice (a second attribute on the same pair): one finding.
            generic_foreign_keys: vec![generic.clone(), generic],
            indexes,
        }
    }

    fn index(columns: &[&str], origin: IndexOrigin) -> Index {
        let mut index = Index::new(
            columns.iter().map(|c| IndexPart::column(*c)).collect(),
            origin,
        );
        index.unique = origin == IndexOrigin::UniqueConstraint;
        index.name = Some(format!("{}_idx", columns.join("_")));
        index.location = Some(crate::source::Location {
            path: "tags/models.py".into(),
            span: crate::source::Span::default(),
            line: 1,
            column: 1,
            end_line: 1,
            end_column: 1,
        });
        index
    }

    fn findings(table: Table) -> Vec<Finding> {
        let mut out = Vec::new();
        check(
            &Schema {
                tables: vec![table],
                ..Schema::default()
            },
            &mut out,
        );
        out
    }

    #[test]
    fn reports_a_pair_no_index_leads_with_and_proposes_it_type_first() {
        // Django's own index on the content type FK alone does not serve it.
        let found = findings(table(vec![index(
            &["content_type_id"],
            IndexOrigin::FrameworkImplicit,
        )]));
        assert_eq!(found.len(), 1);
        let f = &found[0];
        assert_eq!(f.columns, ["content_type_id", "object_id"]);
        assert_eq!(
            f.message,
            "generic foreign key `content_object` on `tags_taggeditem` (`content_type_id`, `object_id`) has no index: Django creates none for a GenericForeignKey"
        );
        let Some(FixIntent::AddIndex(spec)) = &f.fix else {
            panic!("an index is proposed: {:?}", f.fix);
        };
        let columns: Vec<&str> = spec.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(columns, ["content_type_id", "object_id"]);
        assert!(f.related.is_empty(), "{:?}", f.related);
    }

    #[test]
    fn an_index_or_unique_constraint_led_by_the_pair_in_either_order_serves_it() {
        for served in [
            index(&["object_id", "content_type_id"], IndexOrigin::Declared),
            index(
                &["content_type_id", "object_id", "tag"],
                IndexOrigin::UniqueConstraint,
            ),
            index(&["object_id", "content_type_id"], IndexOrigin::Migration),
        ] {
            assert!(
                findings(table(vec![served.clone()])).is_empty(),
                "{served:?}"
            );
        }
    }

    #[test]
    fn an_index_holding_the_pair_later_or_behind_a_predicate_does_not_and_is_named() {
        let mut partial = index(&["content_type_id", "object_id"], IndexOrigin::Declared);
        partial.predicate = Some(Predicate::new(vec![Conjunct::IsNotNull(
            "object_id".into(),
        )]));
        let found = findings(table(vec![
            index(
                &["tag", "content_type_id", "object_id"],
                IndexOrigin::Declared,
            ),
            partial,
        ]));
        assert_eq!(found.len(), 1);
        let related: Vec<&str> = found[0]
            .related
            .iter()
            .map(|r| r.message.as_str())
            .collect();
        assert_eq!(
            related,
            [
                "index `tag_content_type_id_object_id_idx` (tag, content_type_id, object_id) has them only as columns 2 and 3 of 3",
                "index `content_type_id_object_id_idx` (content_type_id, object_id) WHERE object_id IS NOT NULL starts with both columns but is partial",
            ]
        );
    }

    #[test]
    fn says_nothing_about_tables_it_cannot_check() {
        let mut unmanaged = table(vec![]);
        unmanaged.managed = false;
        assert!(findings(unmanaged).is_empty());
        let mut unknown = table(vec![]);
        unknown.unknown_indexes = Some("built by code".into());
        assert!(findings(unknown).is_empty());
    }
}
