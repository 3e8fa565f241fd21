//! `unindexed-reference`: a column that references another table without
//! saying so (no foreign key, no relation), found by its name and type,
//! that no index serves. Projects on databases without foreign keys
//! (PlanetScale/Vitess) keep references as plain columns, and joins and
//! lookups through them then scan the table.
//!
//! The reference is inferred, so the rule is strict about when it speaks:
//! the column's whole name must point at exactly one table, or other tables
//! must declare a foreign key of that name to exactly one table; both
//! types must be known and of the same family; and a polymorphic pair
//! (`subject_type` + `subject_id`) never counts.

use rustc_hash::FxHashMap;

use super::{Finding, FixIntent, Related, finding};
use crate::frameworks::suggest_index_name;
use crate::schema::coverage::index_covers_columns;
use crate::schema::{Column, Framework, IndexSpec, Schema, SpecColumn, Table, TypeFamily};
use crate::source::Location;

/// Frameworks whose projects write references as plain columns. Django
/// projects write `ForeignKey` (with `db_constraint=False` when the
/// database has no constraints): tried on netbox, saleor and healthchecks,
/// the rule found only a protocol's tunnel number and a denormalized copy
/// of a deleted-or-not tax class id, neither of which wants an index.
const FRAMEWORKS: &[Framework] = &[Framework::Sqlalchemy, Framework::Drizzle];

pub(super) fn check(schema: &Schema, out: &mut Vec<Finding>) {
    let tables: Vec<&Table> = schema
        .tables
        .iter()
        .filter(|t| FRAMEWORKS.contains(&t.framework))
        .collect();
    let declared = DeclaredReferences::new(&tables);
    for table in tables.iter().copied().filter(|t| t.checkable()) {
        for column in &table.columns {
            let Some(reference) = infer(table, column, &tables, &declared) else {
                continue;
            };
            out.push(report(table, column, &reference));
        }
    }
}

/// Why a column is taken to reference a table.
#[derive(Debug, PartialEq, Eq)]
enum Evidence {
    /// Its name is the table's name (or model's) followed by `Id`/`_id`.
    Name,
    /// Other tables (these ones) declare a foreign key of the same column
    /// name to the table; `example` is the first declaration.
    SameNameElsewhere {
        tables: Vec<String>,
        example: Option<Location>,
    },
}

#[derive(Debug)]
struct Reference<'s> {
    target: &'s Table,
    key: &'s Column,
    family: TypeFamily,
    evidence: Evidence,
}

/// The columns that other tables declare as single-column foreign keys,
/// by column name: which tables they reference, and from where.
struct DeclaredReferences<'s> {
    by_column: FxHashMap<(Framework, &'s str), Vec<DeclaredReference<'s>>>,
}

struct DeclaredReference<'s> {
    from: &'s Table,
    target: &'s str,
    target_column: Option<&'s str>,
    location: Option<&'s Location>,
}

impl<'s> DeclaredReferences<'s> {
    fn new(tables: &[&'s Table]) -> Self {
        let mut by_column: FxHashMap<(Framework, &str), Vec<DeclaredReference>> =
            FxHashMap::default();
        for table in tables {
            for fk in &table.foreign_keys {
                let ([column], Some(target)) = (fk.columns.as_slice(), fk.ref_table.as_deref())
                else {
                    continue;
                };
                // A self-reference (`parent_id`) says nothing about another
                // table's column of that name.
                if target == table.name {
                    continue;
                }
                by_column
                    .entry((table.framework, column.as_str()))
                    .or_default()
                    .push(DeclaredReference {
                        from: table,
                        target,
                        target_column: match fk.ref_columns.as_slice() {
                            [c] => Some(c.as_str()),
                            _ => None,
                        },
                        location: fk.location.as_ref(),
                    });
            }
        }
        DeclaredReferences { by_column }
    }
}

fn infer<'s>(
    table: &'s Table,
    column: &'s Column,
    tables: &[&'s Table],
    declared: &DeclaredReferences<'s>,
) -> Option<Reference<'s>> {
    let family = column.type_family?;
    if !matches!(
        family,
        TypeFamily::Integer | TypeFamily::Text | TypeFamily::Uuid
    ) {
        return None;
    }
    let alone = std::slice::from_ref(&column.name);
    let sole_key =
        column.primary_key && table.columns.iter().filter(|c| c.primary_key).count() == 1;
    if sole_key
        || table
            .foreign_keys
            .iter()
            .any(|fk| fk.columns.contains(&column.name))
        || table
            .indexes
            .iter()
            .any(|i| index_covers_columns(i, alone, table.dialect))
    {
        return None;
    }
    let words = words_of(&column.name);
    if polymorphic(table, &words) {
        return None;
    }
    // Tables of the same framework and database: one project's, as far as
    // the schema can tell.
    let peers = tables
        .iter()
        .copied()
        .filter(|t| t.framework == table.framework && t.dialect == table.dialect);
    let by_name: Vec<&Table> = match words.split_last() {
        Some((last, stem)) if last == "id" && !stem.is_empty() => {
            peers.clone().filter(|t| names_table(stem, t)).collect()
        }
        _ => Vec::new(),
    };
    let elsewhere: Vec<&DeclaredReference> = declared
        .by_column
        .get(&(table.framework, column.name.as_str()))
        .map(|refs| {
            refs.iter()
                .filter(|r| r.from.name != table.name && r.from.dialect == table.dialect)
                .collect()
        })
        .unwrap_or_default();
    let mut targets: Vec<&str> = by_name.iter().map(|t| t.name.as_str()).collect();
    targets.extend(elsewhere.iter().map(|r| r.target));
    targets.sort_unstable();
    targets.dedup();
    // A column naming its own table (`accounts.account_id`, `tunnels.tunnel_id`)
    // holds someone else's id for it, not a reference.
    if targets.contains(&table.name.as_str()) {
        return None;
    }
    let [target_name] = targets.as_slice() else {
        // Nothing points anywhere, or the name and the declarations point
        // at several tables: ambiguous.
        return None;
    };
    let target = peers.clone().find(|t| t.name == *target_name)?;
    let key = if by_name.is_empty() {
        let mut named: Vec<Option<&str>> = elsewhere.iter().map(|r| r.target_column).collect();
        named.sort_unstable();
        named.dedup();
        match named.as_slice() {
            [Some(c)] => target.columns.iter().find(|k| k.name == *c),
            _ => referenced_key(target),
        }
    } else {
        referenced_key(target)
    }?;
    if key.type_family != Some(family) {
        return None;
    }
    let evidence = if by_name.is_empty() {
        let mut tables: Vec<String> = elsewhere.iter().map(|r| r.from.name.clone()).collect();
        tables.sort();
        tables.dedup();
        let example = elsewhere
            .iter()
            .filter_map(|r| r.location)
            .min_by_key(|l| (&l.path, l.line))
            .cloned();
        Evidence::SameNameElsewhere { tables, example }
    } else {
        Evidence::Name
    };
    Some(Reference {
        target,
        key,
        family,
        evidence,
    })
}

/// The column a reference by name points at: `id` when it is the primary
/// key or unique on its own (PlanetScale schemas keep an integer `pk` and
/// a unique public `id`), else the single-column primary key.
fn referenced_key(table: &Table) -> Option<&Column> {
    let alone_unique = |name: &str| {
        table.indexes.iter().any(|i| {
            i.unique
                && i.predicate.is_none()
                && i.parts.len() == 1
                && i.parts[0].column_name() == Some(name)
        })
    };
    if let Some(id) = table.columns.iter().find(|c| c.name == "id")
        && (alone_unique("id") || (id.primary_key && single_key(table)))
    {
        return Some(id);
    }
    let mut keys = table.columns.iter().filter(|c| c.primary_key);
    match (keys.next(), keys.next()) {
        (Some(key), None) => Some(key),
        _ => None,
    }
}

fn single_key(table: &Table) -> bool {
    table.columns.iter().filter(|c| c.primary_key).count() == 1
}

/// The column is one half of a polymorphic pair: a sibling names the kind
/// of thing it points at (`subject_type` next to `subject_id`,
/// `targetType` next to `targetId`, Django's `content_type`-style
/// `object_type_id`).
fn polymorphic(table: &Table, words: &[String]) -> bool {
    let stem = match words.split_last() {
        Some((last, stem)) if last == "id" => stem,
        _ => words,
    };
    const KINDS: &[&[&str]] = &[
        &["type"],
        &["type", "id"],
        &["kind"],
        &["model"],
        &["table"],
        &["class"],
        &["content", "type"],
        &["content", "type", "id"],
    ];
    table.columns.iter().any(|c| {
        let other = words_of(&c.name);
        other.len() > stem.len()
            && other[..stem.len()] == *stem
            && KINDS.iter().any(|k| {
                other[stem.len()..]
                    .iter()
                    .map(String::as_str)
                    .eq(k.iter().copied())
            })
    })
}

/// Whether the words before `id` name the table: its SQL name (without a
/// schema) or its name in code, word for word, the last word singular or
/// plural (`customer` → `customers`, `category` → `categories`, `person`
/// → `people`). Only the whole stem counts: `parentCategoryId` does not
/// name `categories`.
fn names_table(stem: &[String], table: &Table) -> bool {
    let bare = table.name.rsplit('.').next().unwrap_or(&table.name);
    [bare, table.model.as_str()]
        .iter()
        .any(|name| same_name(stem, &words_of(name)))
}

fn same_name(a: &[String], b: &[String]) -> bool {
    let (Some((a_last, a_rest)), Some((b_last, b_rest))) = (a.split_last(), b.split_last()) else {
        return false;
    };
    a_rest == b_rest && same_noun(a_last, b_last)
}

fn same_noun(a: &str, b: &str) -> bool {
    a == b || plurals(a).iter().any(|p| p == b) || plurals(b).iter().any(|p| p == a)
}

/// The plural forms English gives `word` (more than one where spelling
/// varies; compared against real table names, extra forms do no harm).
fn plurals(word: &str) -> Vec<String> {
    const IRREGULAR: &[(&str, &str)] = &[
        ("person", "people"),
        ("child", "children"),
        ("man", "men"),
        ("woman", "women"),
        ("mouse", "mice"),
        ("datum", "data"),
        ("medium", "media"),
        ("criterion", "criteria"),
        ("index", "indices"),
        ("matrix", "matrices"),
        ("vertex", "vertices"),
    ];
    let mut out: Vec<String> = IRREGULAR
        .iter()
        .filter(|(singular, _)| *singular == word)
        .map(|(_, plural)| plural.to_string())
        .collect();
    out.push(format!("{word}s"));
    out.push(format!("{word}es"));
    let consonant_y = word.len() > 1
        && word.ends_with('y')
        && !matches!(
            word.as_bytes()[word.len() - 2],
            b'a' | b'e' | b'i' | b'o' | b'u'
        );
    if consonant_y {
        out.push(format!("{}ies", &word[..word.len() - 1]));
    }
    if let Some(stem) = word.strip_suffix("is") {
        out.push(format!("{stem}es"));
    }
    if let Some(stem) = word.strip_suffix("fe").or_else(|| word.strip_suffix('f')) {
        out.push(format!("{stem}ves"));
    }
    out
}

/// Lower-case words of a camelCase, PascalCase or snake_case name:
/// `customerId`, `customer_id` and `CustomerID` are `customer id`.
fn words_of(name: &str) -> Vec<String> {
    let chars: Vec<char> = name.chars().collect();
    let mut out: Vec<String> = Vec::new();
    let mut current = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_alphanumeric() {
            if !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
            continue;
        }
        let previous = i.checked_sub(1).map(|p| chars[p]);
        let next = chars.get(i + 1);
        // A new word at `aB`, and at the last capital of `HTTPServer`.
        let boundary = c.is_uppercase()
            && previous.is_some_and(|p| {
                p.is_lowercase()
                    || p.is_ascii_digit()
                    || (p.is_uppercase() && next.is_some_and(|n| n.is_lowercase()))
            });
        if boundary && !current.is_empty() {
            out.push(std::mem::take(&mut current));
        }
        current.extend(c.to_lowercase());
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

fn report(table: &Table, column: &Column, reference: &Reference) -> Finding {
    let target = reference.target;
    let why = match &reference.evidence {
        Evidence::Name => format!("name `{}`", column.name),
        Evidence::SameNameElsewhere { tables, .. } => format!(
            "{} declare{} `{}` as a foreign key to `{}`",
            quoted_list(tables),
            if tables.len() == 1 { "s" } else { "" },
            column.name,
            target.name
        ),
    };
    let message = format!(
        "`{}.{}` looks like a reference to `{}.{}` ({why}, both {}) but no index leads with it",
        table.name,
        column.name,
        target.name,
        reference.key.name,
        reference.family.as_str()
    );
    let mut f = finding("unindexed-reference", table, message);
    f.columns = vec![column.name.clone()];
    f.location = column.location.clone().or_else(|| table.location.clone());
    f.inferred = true;
    if let Some(location) = reference
        .key
        .location
        .clone()
        .or_else(|| target.location.clone())
    {
        f.related.push(Related {
            location,
            message: format!(
                "the key it seems to reference: `{}.{}`",
                target.name, reference.key.name
            ),
        });
    }
    if let Evidence::SameNameElsewhere {
        example: Some(location),
        ..
    } = &reference.evidence
    {
        f.related.push(Related {
            location: location.clone(),
            message: format!(
                "`{}` is declared a foreign key to `{}` here",
                column.name, target.name
            ),
        });
    }
    let columns = vec![(column.name.clone(), false)];
    let spec = IndexSpec {
        name: suggest_index_name(table, &columns),
        table: table.name.clone(),
        columns: vec![SpecColumn {
            name: column.name.clone(),
            desc: false,
        }],
        unique: false,
        predicate: None,
    };
    f.suggested_index = Some(spec.clone());
    f.fix = Some(FixIntent::AddIndex(spec));
    f
}

/// `` `a` `` / `` `a` and `b` `` / `` `a`, `b` and 2 more ``.
fn quoted_list(names: &[String]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    match quoted.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [a, b] => format!("{a} and {b}"),
        [a, b, rest @ ..] => format!("{a}, {b} and {} more", rest.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{Dialect, ForeignKey, Index, IndexOrigin, IndexPart, Table, TypeFamily::*};

    fn column(name: &str, family: Option<TypeFamily>) -> Column {
        Column {
            type_family: family,
            ..Column::new(name, name)
        }
    }

    fn table(name: &str, model: &str, columns: Vec<Column>) -> Table {
        let mut table = Table {
            name: name.into(),
            model: model.into(),
            framework: Framework::Drizzle,
            dialect: Dialect::Postgresql,
            dialect_assumed: false,
            managed: true,
            unknown_indexes: None,
            location: None,
            columns,
            foreign_keys: Vec::new(),
            indexes: Vec::new(),
            generic_foreign_keys: Vec::new(),
        };
        if let Some(id) = table.columns.iter_mut().find(|c| c.name == "id") {
            id.primary_key = true;
            let mut pk = Index::new(vec![IndexPart::column("id")], IndexOrigin::PrimaryKey);
            pk.unique = true;
            table.indexes.push(pk);
        }
        table
    }

    fn fk(column: &str, target: &str) -> ForeignKey {
        ForeignKey {
            columns: vec![column.into()],
            ref_table: Some(target.into()),
            ref_columns: vec!["id".into()],
            enforced: true,
            relation_only: false,
            field: column.into(),
            location: None,
        }
    }

    /// `table.column → target.key`, for every finding.
    fn inferred(tables: Vec<Table>) -> Vec<String> {
        let schema = Schema {
            tables,
            ..Schema::default()
        };
        let mut out = Vec::new();
        check(&schema, &mut out);
        out.iter()
            .map(|f| {
                let target = f.message.split("reference to `").nth(1).unwrap();
                format!(
                    "{}.{} → {}",
                    f.table,
                    f.columns[0],
                    target.split('`').next().unwrap()
                )
            })
            .collect()
    }

    fn keyed(name: &str, family: TypeFamily) -> Table {
        table(name, name, vec![column("id", Some(family))])
    }

    #[test]
    fn words_split_camel_snake_and_acronyms() {
        assert_eq!(words_of("customerId"), ["customer", "id"]);
        assert_eq!(words_of("customer_id"), ["customer", "id"]);
        assert_eq!(words_of("CustomerID"), ["customer", "id"]);
        assert_eq!(words_of("HTTPServerId"), ["http", "server", "id"]);
        assert_eq!(words_of("keyAuth"), ["key", "auth"]);
        assert_eq!(words_of("address2Id"), ["address2", "id"]);
    }

    #[test]
    fn singular_and_plural_names_match() {
        let same = |a: &str, b: &str| same_name(&words_of(a), &words_of(b));
        assert!(same("user", "users"));
        assert!(same("category", "categories"));
        assert!(same("address", "addresses"));
        assert!(same("person", "people"));
        assert!(same("status", "statuses"));
        assert!(same("key", "keys"));
        assert!(same("box", "boxes"));
        assert!(same("analysis", "analyses"));
        assert!(same("order_line", "orderLines"));
        assert!(same("users", "user"));
        assert!(!same("user", "users_extra"));
        assert!(!same("category", "parent_categories"));
        assert!(!same("use", "user"));
    }

    #[test]
    fn infers_camel_and_snake_references_to_plural_tables() {
        let found = inferred(vec![
            keyed("customers", Integer),
            keyed("categories", Integer),
            keyed("addresses", Uuid),
            keyed("people", Text),
            keyed("workspaces", Text),
            table(
                "orders",
                "orders",
                vec![
                    column("id", Some(Integer)),
                    column("customerId", Some(Integer)),
                    column("categoryId", Some(Integer)),
                    column("address_id", Some(Uuid)),
                    column("personId", Some(Text)),
                    column("workspace_id", Some(Text)),
                ],
            ),
        ]);
        assert_eq!(
            found,
            [
                "orders.customerId → customers.id",
                "orders.categoryId → categories.id",
                "orders.address_id → addresses.id",
                "orders.personId → people.id",
                "orders.workspace_id → workspaces.id",
            ]
        );
    }

    #[test]
    fn infers_from_the_model_name_too() {
        let found = inferred(vec![
            table("app_user", "User", vec![column("id", Some(Integer))]),
            table(
                "posts",
                "Post",
                vec![
                    column("id", Some(Integer)),
                    column("user_id", Some(Integer)),
                ],
            ),
        ]);
        assert_eq!(found, ["posts.user_id → app_user.id"]);
    }

    #[test]
    fn never_from_the_last_word_of_a_longer_name() {
        let found = inferred(vec![
            keyed("categories", Integer),
            keyed("subscriptions", Text),
            table(
                "products",
                "products",
                vec![
                    column("id", Some(Integer)),
                    column("parentCategoryId", Some(Integer)),
                    column("stripeSubscriptionId", Some(Text)),
                ],
            ),
        ]);
        assert!(found.is_empty(), "{found:?}");
    }

    #[test]
    fn never_when_types_differ_or_are_unknown() {
        let found = inferred(vec![
            keyed("users", Integer),
            keyed("teams", Integer),
            keyed("accounts", Uuid),
            table("plans", "plans", vec![column("id", None)]),
            table(
                "events",
                "events",
                vec![
                    column("id", Some(Integer)),
                    // An external id kept as text.
                    column("userId", Some(Text)),
                    column("teamId", None),
                    column("accountId", Some(Integer)),
                    column("planId", Some(Integer)),
                ],
            ),
        ]);
        assert!(found.is_empty(), "{found:?}");
    }

    #[test]
    fn never_for_polymorphic_pairs() {
        let found = inferred(vec![
            keyed("references", Integer),
            keyed("entities", Integer),
            keyed("targets", Integer),
            keyed("users", Integer),
            table(
                "audit_log",
                "auditLog",
                vec![
                    column("id", Some(Integer)),
                    column("reference_type", Some(Text)),
                    column("reference_id", Some(Integer)),
                    column("entity_type", Some(Text)),
                    column("entity_id", Some(Integer)),
                    column("targetType", Some(Text)),
                    column("targetId", Some(Integer)),
                    column("user_id", Some(Integer)),
                ],
            ),
        ]);
        assert_eq!(found, ["audit_log.user_id → users.id"]);
    }

    #[test]
    fn never_when_the_name_is_ambiguous() {
        let found = inferred(vec![
            keyed("user", Integer),
            table("users", "people", vec![column("id", Some(Integer))]),
            table(
                "posts",
                "posts",
                vec![column("id", Some(Integer)), column("userId", Some(Integer))],
            ),
        ]);
        assert!(found.is_empty(), "{found:?}");
    }

    #[test]
    fn never_for_declared_keys_indexed_columns_or_the_own_table() {
        let mut posts = table(
            "posts",
            "posts",
            vec![
                column("id", Some(Integer)),
                column("userId", Some(Integer)),
                column("teamId", Some(Integer)),
                column("post_id", Some(Integer)),
            ],
        );
        posts.foreign_keys.push(fk("userId", "users"));
        // A composite index led by the column covers it.
        posts.indexes.push(Index::new(
            vec![IndexPart::column("teamId"), IndexPart::column("id")],
            IndexOrigin::Declared,
        ));
        let found = inferred(vec![
            keyed("users", Integer),
            keyed("teams", Integer),
            posts,
        ]);
        assert!(found.is_empty(), "{found:?}");
    }

    #[test]
    fn a_composite_key_member_that_leads_nothing_is_checked() {
        let mut members = table(
            "team_members",
            "teamMembers",
            vec![
                column("teamId", Some(Integer)),
                column("userId", Some(Integer)),
            ],
        );
        for c in &mut members.columns {
            c.primary_key = true;
        }
        let mut pk = Index::new(
            vec![IndexPart::column("teamId"), IndexPart::column("userId")],
            IndexOrigin::PrimaryKey,
        );
        pk.unique = true;
        members.indexes.push(pk);
        let found = inferred(vec![
            keyed("users", Integer),
            keyed("teams", Integer),
            members,
        ]);
        assert_eq!(found, ["team_members.userId → users.id"]);
    }

    #[test]
    fn same_name_as_other_tables_foreign_keys() {
        let mut posts = table(
            "posts",
            "posts",
            vec![
                column("id", Some(Integer)),
                column("createdBy", Some(Integer)),
            ],
        );
        posts.foreign_keys.push(fk("createdBy", "users"));
        let mut comments = table(
            "comments",
            "comments",
            vec![
                column("id", Some(Integer)),
                column("createdBy", Some(Integer)),
            ],
        );
        comments.foreign_keys.push(fk("createdBy", "users"));
        // Self-references say nothing about other tables' `parentId`.
        // (`files.fileId` would be the table's own: never a reference.)
        let mut folders = table(
            "folders",
            "folders",
            vec![
                column("id", Some(Integer)),
                column("parentId", Some(Integer)),
            ],
        );
        folders.foreign_keys.push(fk("parentId", "folders"));
        let files = table(
            "files",
            "files",
            vec![
                column("id", Some(Integer)),
                column("createdBy", Some(Integer)),
                column("parentId", Some(Integer)),
            ],
        );
        let schema = Schema {
            tables: vec![keyed("users", Integer), posts, comments, folders, files],
            ..Schema::default()
        };
        let mut out = Vec::new();
        check(&schema, &mut out);
        let messages: Vec<&str> = out.iter().map(|f| f.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "`files.createdBy` looks like a reference to `users.id` (`comments` and `posts` declare `createdBy` as a foreign key to `users`, both integer) but no index leads with it"
            ]
        );
    }

    #[test]
    fn a_column_naming_its_own_table_is_not_a_reference() {
        // `tunnels.tunnel_id` is a protocol's number, though
        // `terminations.tunnel_id` references `tunnels`.
        let mut terminations = table(
            "terminations",
            "terminations",
            vec![
                column("id", Some(Integer)),
                column("tunnel_id", Some(Integer)),
            ],
        );
        terminations.foreign_keys.push(fk("tunnel_id", "tunnels"));
        let found = inferred(vec![
            table(
                "tunnels",
                "tunnels",
                vec![
                    column("id", Some(Integer)),
                    column("tunnel_id", Some(Integer)),
                ],
            ),
            terminations,
            table(
                "accounts",
                "accounts",
                vec![column("id", Some(Text)), column("account_id", Some(Text))],
            ),
        ]);
        assert!(found.is_empty(), "{found:?}");
    }

    #[test]
    fn declared_keys_of_one_name_to_several_tables_are_ambiguous() {
        let mut a = table(
            "a",
            "a",
            vec![
                column("id", Some(Integer)),
                column("ownerId", Some(Integer)),
            ],
        );
        a.foreign_keys.push(fk("ownerId", "users"));
        let mut b = table(
            "b",
            "b",
            vec![
                column("id", Some(Integer)),
                column("ownerId", Some(Integer)),
            ],
        );
        b.foreign_keys.push(fk("ownerId", "teams"));
        let c = table(
            "c",
            "c",
            vec![
                column("id", Some(Integer)),
                column("ownerId", Some(Integer)),
            ],
        );
        let found = inferred(vec![
            keyed("users", Integer),
            keyed("teams", Integer),
            a,
            b,
            c,
        ]);
        assert!(found.is_empty(), "{found:?}");
    }

    #[test]
    fn a_unique_public_id_is_the_key_behind_an_integer_pk() {
        // PlanetScale style: `pk` bigint, `id` varchar unique.
        let mut workspaces = table(
            "workspaces",
            "workspaces",
            vec![column("pk", Some(Integer)), column("id", Some(Text))],
        );
        workspaces.columns[0].primary_key = true;
        workspaces.columns[1].primary_key = false;
        workspaces.indexes[0].parts = vec![IndexPart::column("pk")];
        let mut unique = Index::new(vec![IndexPart::column("id")], IndexOrigin::UniqueField);
        unique.unique = true;
        workspaces.indexes.push(unique);
        let found = inferred(vec![
            workspaces,
            table(
                "keys",
                "keys",
                vec![column("id", Some(Text)), column("workspace_id", Some(Text))],
            ),
        ]);
        assert_eq!(found, ["keys.workspace_id → workspaces.id"]);
    }

    #[test]
    fn django_is_left_alone() {
        let mut users = keyed("users", Integer);
        users.framework = Framework::Django;
        let mut posts = table(
            "posts",
            "posts",
            vec![
                column("id", Some(Integer)),
                column("user_id", Some(Integer)),
            ],
        );
        posts.framework = Framework::Django;
        assert!(inferred(vec![users, posts]).is_empty());
    }
}
