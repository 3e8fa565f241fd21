//! `--format json`, version 1 (see docs/design.md): a stable contract.

use serde::Serialize;

use super::{PathDisplay, Summary};
use crate::InputError;
use crate::rules::Finding;
use crate::schema::IndexSpec;
use crate::source::Location;

#[derive(Serialize)]
struct Report<'a> {
    version: u32,
    findings: Vec<JsonFinding<'a>>,
    /// What could not be read (syntax errors, unreadable files, broken
    /// revision chains): the findings may be incomplete.
    errors: Vec<JsonError<'a>>,
    summary: &'a Summary,
}

#[derive(Serialize)]
struct JsonError<'a> {
    path: String,
    line: Option<usize>,
    column: Option<usize>,
    message: &'a str,
}

#[derive(Serialize)]
struct RuleCount {
    rule: &'static str,
    count: usize,
    fixable: usize,
}

/// `--statistics --format json`: findings and fixable ones per rule.
pub fn statistics(findings: &[Finding]) -> String {
    let rows: Vec<RuleCount> = super::per_rule(findings)
        .into_iter()
        .map(|(rule, count, fixable)| RuleCount {
            rule,
            count,
            fixable,
        })
        .collect();
    let mut out = serde_json::to_string_pretty(&rows).expect("counts serialize");
    out.push('\n');
    out
}

#[derive(Serialize)]
struct JsonFinding<'a> {
    rule: &'a str,
    severity: &'a str,
    framework: &'a str,
    model: &'a str,
    table: &'a str,
    columns: &'a [String],
    index_name: Option<&'a str>,
    message: &'a str,
    location: Option<JsonLocation>,
    related: Vec<JsonRelated<'a>>,
    suggested_index: Option<&'a IndexSpec>,
    /// `ixray fix` fixes it (planned as `fix` plans it).
    fixable: bool,
    /// For a fixable finding: `safe` (an index is built or declared; no
    /// query gets slower) or `needs-review` (an index is dropped: a query
    /// that relied on its smaller size may read more; or the finding is
    /// inferred and may be wrong).
    applicability: Option<&'static str>,
    /// How to fix it by hand, or how `fix` does it.
    help: Option<&'a str>,
}

#[derive(Serialize)]
struct JsonLocation {
    path: String,
    line: usize,
    column: usize,
    end_line: usize,
    end_column: usize,
}

#[derive(Serialize)]
struct JsonRelated<'a> {
    path: String,
    line: usize,
    column: usize,
    message: &'a str,
}

fn location(l: &Location, paths: &PathDisplay) -> JsonLocation {
    JsonLocation {
        path: paths.show(&l.path),
        line: l.line,
        column: l.column,
        end_line: l.end_line,
        end_column: l.end_column,
    }
}

pub fn render(
    findings: &[Finding],
    errors: &[InputError],
    summary: &Summary,
    paths: &PathDisplay,
) -> String {
    let report = Report {
        version: 1,
        summary,
        errors: errors
            .iter()
            .map(|e| JsonError {
                path: paths.show(&e.path),
                line: e.position.map(|(line, _)| line),
                column: e.position.map(|(_, column)| column),
                message: &e.message,
            })
            .collect(),
        findings: findings
            .iter()
            .map(|f| JsonFinding {
                rule: f.rule,
                severity: f.severity.as_str(),
                framework: f.framework.as_str(),
                model: &f.model,
                table: &f.table,
                columns: &f.columns,
                index_name: f.index_name.as_deref(),
                message: &f.message,
                location: f.location.as_ref().map(|l| location(l, paths)),
                fixable: f.fix.is_some(),
                applicability: f.applicability().map(|a| a.as_str()),
                help: f.help.as_deref(),
                related: f
                    .related
                    .iter()
                    .map(|r| JsonRelated {
                        path: paths.show(&r.location.path),
                        line: r.location.line,
                        column: r.location.column,
                        message: &r.message,
                    })
                    .collect(),
                suggested_index: f.suggested_index.as_ref(),
            })
            .collect(),
    };
    let mut out = serde_json::to_string_pretty(&report).expect("findings serialize to JSON");
    out.push('\n');
    out
}
