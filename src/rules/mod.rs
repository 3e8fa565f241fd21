//! The rule registry: each rule's name, default severity and documentation,
//! and the findings rules produce. A rule is a pure function of the schema.

mod duplicate_index;
mod index_drift;
pub mod missing_query_index;
mod non_concurrent_index;
mod redundant_implicit_index;
mod redundant_index;
mod unindexed_foreign_key;
mod unindexed_generic_foreign_key;
mod unindexed_reference;

use serde::Serialize;

use crate::config::Config;
use crate::schema::{Framework, Index, IndexSpec, Schema};
use crate::source::Location;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

pub struct Rule {
    pub name: &'static str,
    /// The frameworks whose projects it can report on (its doc page
    /// lists them).
    pub frameworks: &'static [Framework],
    pub severity: Severity,
    pub summary: &'static str,
    pub doc: &'static str,
    check: fn(&Schema, &mut Vec<Finding>),
    /// The rule grades each finding by its evidence, up to `severity`.
    graded: bool,
    /// Its fixes drop an index: what a planned fix makes unnecessary is
    /// found by running these rules again (`fix::consequences`).
    pub drops_indexes: bool,
}

const ALL: &[Framework] = &[Framework::Django, Framework::Sqlalchemy, Framework::Drizzle];
const DJANGO: &[Framework] = &[Framework::Django];

pub static RULES: &[Rule] = &[
    Rule {
        name: "unindexed-foreign-key",
        frameworks: ALL,
        severity: Severity::Warning,
        summary: "a foreign key whose columns are not the leading columns of any usable index",
        doc: include_str!("../../docs/rules/unindexed-foreign-key.md"),
        check: unindexed_foreign_key::check,
        graded: false,
        drops_indexes: false,
    },
    Rule {
        name: "unindexed-generic-foreign-key",
        frameworks: DJANGO,
        severity: Severity::Warning,
        summary: "a Django GenericForeignKey whose content type and object id columns lead no index",
        doc: include_str!("../../docs/rules/unindexed-generic-foreign-key.md"),
        check: unindexed_generic_foreign_key::check,
        graded: false,
        drops_indexes: false,
    },
    Rule {
        name: "unindexed-reference",
        frameworks: &[Framework::Sqlalchemy, Framework::Drizzle],
        severity: Severity::Warning,
        summary: "a column that references a table by name and type, without a foreign key, that no index leads with (inferred)",
        doc: include_str!("../../docs/rules/unindexed-reference.md"),
        check: unindexed_reference::check,
        graded: false,
        drops_indexes: false,
    },
    Rule {
        name: "missing-query-index",
        frameworks: ALL,
        severity: Severity::Warning,
        summary: "queries in the project's own code that filter or sort a table in a way no index serves",
        doc: include_str!("../../docs/rules/missing-query-index.md"),
        check: missing_query_index::check,
        graded: true,
        drops_indexes: false,
    },
    Rule {
        name: "redundant-index",
        frameworks: ALL,
        severity: Severity::Warning,
        summary: "an index made unnecessary by another that starts with the same columns",
        doc: include_str!("../../docs/rules/redundant-index.md"),
        check: redundant_index::check,
        graded: false,
        drops_indexes: true,
    },
    Rule {
        name: "redundant-implicit-index",
        frameworks: DJANGO,
        severity: Severity::Info,
        summary: "an index the framework adds by itself (Django's foreign key index) that a wider index starting with the same column makes unnecessary",
        doc: include_str!("../../docs/rules/redundant-implicit-index.md"),
        check: redundant_implicit_index::check,
        graded: false,
        drops_indexes: true,
    },
    Rule {
        name: "duplicate-index",
        frameworks: ALL,
        severity: Severity::Warning,
        summary: "two indexes with the same definition",
        doc: include_str!("../../docs/rules/duplicate-index.md"),
        check: duplicate_index::check,
        graded: false,
        drops_indexes: true,
    },
    Rule {
        name: "index-drift",
        frameworks: ALL,
        severity: Severity::Warning,
        summary: "an index the migration history creates but no model declares; the next generated migration would drop it",
        doc: include_str!("../../docs/rules/index-drift.md"),
        check: index_drift::check,
        graded: false,
        drops_indexes: false,
    },
    Rule {
        name: "non-concurrent-index",
        frameworks: &[Framework::Django, Framework::Sqlalchemy],
        severity: Severity::Warning,
        summary: "a migration that builds an index on an existing PostgreSQL table without CONCURRENTLY",
        doc: include_str!("../../docs/rules/non-concurrent-index.md"),
        check: non_concurrent_index::check,
        graded: false,
        drops_indexes: false,
    },
    Rule {
        name: "unused-ignore",
        frameworks: ALL,
        severity: Severity::Info,
        summary: "an `ixray: ignore` comment that silences no finding",
        doc: include_str!("../../docs/rules/unused-ignore.md"),
        // Reported by `suppress::apply`, which sees the comments and what
        // each silenced.
        check: |_, _| {},
        graded: false,
        drops_indexes: false,
    },
];

/// Name, on a finding that proposes an index, the existing indexes that
/// index makes unnecessary (the same `fix` drops them when it can).
fn note_made_redundant(finding: &mut Finding, indexes: Vec<&Index>) {
    for existing in indexes {
        if let Some(location) = &existing.location {
            finding.related.push(Related {
                location: location.clone(),
                message: format!(
                    "index {} becomes redundant: the new index starts with its columns",
                    redundant_index::describe(existing)
                ),
            });
        }
    }
}

pub fn rule(name: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.name == name)
}

/// A labelled secondary location.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Related {
    #[serde(flatten)]
    pub location: Location,
    pub message: String,
}

/// What a fix should do, before a framework decides how to write it.
#[derive(Debug, Clone)]
pub enum FixIntent {
    AddIndex(IndexSpec),
    DropIndex(Box<Index>),
    /// Declare in the model an index the database already has (no
    /// migration).
    DeclareIndex(Box<Index>),
}

#[derive(Debug, Clone)]
pub struct Finding {
    pub rule: &'static str,
    pub severity: Severity,
    pub framework: Framework,
    pub model: String,
    pub table: String,
    pub columns: Vec<String>,
    pub index_name: Option<String>,
    pub message: String,
    pub location: Option<Location>,
    pub related: Vec<Related>,
    pub suggested_index: Option<IndexSpec>,
    pub fix: Option<FixIntent>,
    /// How the framework would write the fix, for people.
    pub help: Option<String>,
    /// The finding rests on an inference (a reference guessed from names
    /// and types), so its fix needs someone's judgement.
    pub inferred: bool,
}

/// How far a fix can be trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Applicability {
    /// An index is built or declared: no query gets slower.
    Safe,
    /// An index is dropped (a query that relied on its smaller size may
    /// read more), or the finding is inferred and may be wrong.
    NeedsReview,
}

impl Applicability {
    pub fn as_str(self) -> &'static str {
        match self {
            Applicability::Safe => "safe",
            Applicability::NeedsReview => "needs-review",
        }
    }
}

impl Finding {
    /// `None` when there is no fix.
    pub fn applicability(&self) -> Option<Applicability> {
        let fix = self.fix.as_ref()?;
        Some(match fix {
            FixIntent::DropIndex(_) => Applicability::NeedsReview,
            _ if self.inferred => Applicability::NeedsReview,
            FixIntent::AddIndex(_) | FixIntent::DeclareIndex(_) => Applicability::Safe,
        })
    }
}

/// Run every enabled rule; findings come out sorted by place, then rule.
pub fn run(schema: &Schema, config: &Config) -> Vec<Finding> {
    run_where(schema, config, |_| true)
}

/// `run`, with only the enabled rules that `keep` keeps.
pub fn run_where(schema: &Schema, config: &Config, keep: impl Fn(&Rule) -> bool) -> Vec<Finding> {
    let mut findings = Vec::new();
    for rule in RULES
        .iter()
        .filter(|r| config.rule_enabled(r.name) && keep(r))
    {
        let start = findings.len();
        (rule.check)(schema, &mut findings);
        for finding in &mut findings[start..] {
            finding.severity = if rule.graded {
                finding.severity.min(rule.severity)
            } else {
                rule.severity
            };
        }
    }
    findings.sort_by(|a, b| {
        let key = |f: &Finding| {
            (
                f.location
                    .as_ref()
                    .map(|l| (l.path.clone(), l.line, l.column)),
                f.rule,
                f.table.clone(),
                f.index_name.clone(),
                f.columns.clone(),
            )
        };
        key(a).cmp(&key(b))
    });
    findings
}

/// Proposals on one table fold into one index: when a finding's proposed
/// index is a leftmost prefix of another's (same columns, order and
/// directions, neither partial nor the narrow one unique), the finding
/// proposes the wider index instead, which serves it too. Otherwise one
/// `fix` would add both, and the next run would report the narrow one as
/// redundant. Only findings `fixable` accepts take part (the ones that are
/// reported and fixed: not suppressed, in scope).
pub fn fold_proposals(findings: &mut [Finding], fixable: impl Fn(&Finding) -> bool) {
    let proposals: Vec<(usize, IndexSpec)> = findings
        .iter()
        .enumerate()
        .filter(|(_, f)| fixable(f))
        .filter_map(|(i, f)| match &f.fix {
            Some(FixIntent::AddIndex(spec)) => Some((i, spec.clone())),
            _ => None,
        })
        .collect();
    let extends = |wide: &IndexSpec, narrow: &IndexSpec| {
        wide.table == narrow.table
            && !narrow.unique
            && narrow.predicate.is_none()
            && wide.predicate.is_none()
            && wide.columns.len() > narrow.columns.len()
            && wide.columns.starts_with(&narrow.columns)
    };
    for (i, narrow) in &proposals {
        // The widest, so that a chain of prefixes folds into its end; the
        // first of equally wide ones.
        let mut wider: Option<&IndexSpec> = None;
        for (j, wide) in &proposals {
            if findings[*j].framework == findings[*i].framework
                && extends(wide, narrow)
                && wider.is_none_or(|w| wide.columns.len() > w.columns.len())
            {
                wider = Some(wide);
            }
        }
        if let Some(wide) = wider {
            let finding = &mut findings[*i];
            finding.suggested_index = Some(wide.clone());
            finding.fix = Some(FixIntent::AddIndex(wide.clone()));
        }
    }
}

/// A finding about `table` with the common fields filled in.
fn finding(rule: &'static str, table: &crate::schema::Table, message: String) -> Finding {
    Finding {
        rule,
        severity: Severity::Warning,
        framework: table.framework,
        model: table.model.clone(),
        table: table.name.clone(),
        columns: Vec::new(),
        index_name: None,
        message,
        location: None,
        related: Vec::new(),
        suggested_index: None,
        fix: None,
        help: None,
        inferred: false,
    }
}

fn columns_text(columns: &[String]) -> String {
    columns.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::SpecColumn;

    /// Each rule's page names exactly the frameworks it covers, its
    /// default severity and a way to suppress it.
    #[test]
    fn rule_pages_list_their_frameworks_and_severity() {
        for rule in RULES {
            let header: String = rule
                .doc
                .lines()
                .skip_while(|l| !l.starts_with("**Default severity:**"))
                .take_while(|l| !l.trim().is_empty())
                .collect::<Vec<_>>()
                .join(" ");
            assert!(
                header.starts_with(&format!("**Default severity:** {}", rule.severity.as_str())),
                "{}: {header}",
                rule.name
            );
            let listed = header
                .split("**Frameworks:**")
                .nth(1)
                .unwrap_or_else(|| panic!("{}: no Frameworks line", rule.name))
                .split(" · ")
                .next()
                .unwrap();
            for framework in [Framework::Django, Framework::Sqlalchemy, Framework::Drizzle] {
                assert_eq!(
                    listed.contains(framework.title()),
                    rule.frameworks.contains(&framework),
                    "{}: the page lists `{listed}`",
                    rule.name
                );
            }
            assert!(rule.doc.contains("## Suppress"), "{}", rule.name);
        }
    }

    fn proposal(table: &str, columns: &[&str]) -> Finding {
        let spec = IndexSpec {
            name: format!("{table}_{}_idx", columns.join("_")),
            table: table.into(),
            columns: columns
                .iter()
                .map(|c| SpecColumn {
                    name: c.to_string(),
                    desc: false,
                })
                .collect(),
            unique: false,
            predicate: None,
        };
        Finding {
            rule: "unindexed-foreign-key",
            severity: Severity::Warning,
            framework: Framework::Django,
            model: "M".into(),
            table: table.into(),
            columns: columns.iter().map(|c| c.to_string()).collect(),
            index_name: None,
            message: String::new(),
            location: None,
            related: Vec::new(),
            suggested_index: Some(spec.clone()),
            fix: Some(FixIntent::AddIndex(spec)),
            help: None,
            inferred: false,
        }
    }

    fn proposed(findings: &[Finding]) -> Vec<String> {
        findings
            .iter()
            .map(|f| match &f.fix {
                Some(FixIntent::AddIndex(spec)) => spec.name.clone(),
                _ => "-".into(),
            })
            .collect()
    }

    #[test]
    fn a_proposal_another_one_starts_with_folds_into_the_widest() {
        let mut findings = vec![
            proposal("t", &["a"]),
            proposal("t", &["a", "b"]),
            proposal("t", &["a", "b", "c"]),
            proposal("t", &["b"]),
            proposal("u", &["a"]),
            proposal("t", &["x"]),
            proposal("t", &["x", "y"]),
        ];
        fold_proposals(&mut findings, |f| f.columns != ["x", "y"]);
        assert_eq!(
            proposed(&findings),
            [
                "t_a_b_c_idx",
                "t_a_b_c_idx",
                "t_a_b_c_idx",
                "t_b_idx",
                "u_a_idx",
                "t_x_idx",
                "t_x_y_idx"
            ]
        );
        assert_eq!(
            findings[0]
                .suggested_index
                .as_ref()
                .map(|s| s.name.as_str()),
            Some("t_a_b_c_idx")
        );
    }

    #[test]
    fn unique_or_partial_proposals_do_not_fold() {
        let mut unique = proposal("t", &["a"]);
        if let Some(FixIntent::AddIndex(spec)) = &mut unique.fix {
            spec.unique = true;
        }
        let mut partial = proposal("t", &["a", "b"]);
        if let Some(FixIntent::AddIndex(spec)) = &mut partial.fix {
            spec.predicate = Some("b IS NULL".into());
        }
        let mut findings = vec![
            unique,
            partial,
            proposal("t", &["b"]),
            proposal("t", &["b", "c"]),
        ];
        if let Some(FixIntent::AddIndex(spec)) = &mut findings[3].fix {
            spec.columns[1].desc = true;
        }
        fold_proposals(&mut findings, |_| true);
        assert_eq!(
            proposed(&findings),
            ["t_a_idx", "t_a_b_idx", "t_b_c_idx", "t_b_c_idx"]
        );
    }
}
