//! `ixray explain` output: one block per suggested index (text), or the
//! whole report as JSON (`--format json`, version 1).

use std::fmt::Write as _;

use serde::Serialize;

use super::PathDisplay;
use crate::explain::{PlanNode, PlanSummary, QueryReport, Report, SuggestionReport};

pub fn text(report: &Report, paths: &PathDisplay) -> String {
    let mut out = String::new();
    if report.suggestions.is_empty() {
        out.push_str(
            "No index to explain: `missing-query-index` suggests none for this project.\n",
        );
    }
    for suggestion in &report.suggestions {
        block(&mut out, suggestion, paths);
        out.push('\n');
    }
    let tried: Vec<&SuggestionReport> = report
        .suggestions
        .iter()
        .filter(|s| s.hypothetical_index.is_some())
        .collect();
    let used = tried
        .iter()
        .filter(|s| s.queries.iter().any(|q| q.uses_index == Some(true)))
        .count();
    let _ = writeln!(
        out,
        "{} suggested index{} explained on PostgreSQL {} with HypoPG {}: the planner uses {used} of {}.",
        report.suggestions.len(),
        if report.suggestions.len() == 1 {
            ""
        } else {
            "es"
        },
        report.server_version,
        report.hypopg_version,
        tried.len(),
    );
    let _ = writeln!(
        out,
        "Nothing was changed: the transaction was read-only and rolled back{}.",
        if report.extension_created {
            " (CREATE EXTENSION hypopg included)"
        } else {
            ""
        }
    );
    out
}

fn block(out: &mut String, suggestion: &SuggestionReport, paths: &PathDisplay) {
    let _ = writeln!(
        out,
        "{} ({} `{}`): {}",
        suggestion.table, suggestion.framework, suggestion.model, suggestion.create_index
    );
    if let Some(name) = &suggestion.hypothetical_index {
        let _ = writeln!(out, "  hypothetical index: {name}");
    }
    if let Some(error) = &suggestion.error {
        let _ = writeln!(out, "  not explained: {error}");
    }
    for query in &suggestion.queries {
        query_block(out, query, suggestion.error.is_some(), paths);
    }
    if suggestion.queries_left_out > 0 {
        let _ = writeln!(
            out,
            "  and {} more quer{} not explained",
            suggestion.queries_left_out,
            if suggestion.queries_left_out == 1 {
                "y"
            } else {
                "ies"
            }
        );
    }
}

fn query_block(out: &mut String, query: &QueryReport, failed: bool, paths: &PathDisplay) {
    let _ = writeln!(out, "  query: {}", query.sql);
    if let Some(explained) = &query.explained_as {
        let _ = writeln!(out, "    explained as: {explained}");
    }
    for location in &query.locations {
        let _ = writeln!(
            out,
            "    at {}:{}:{}",
            paths.show(&location.path),
            location.line,
            location.column
        );
    }
    if let Some(error) = &query.error {
        let _ = writeln!(out, "    rejected by the server: {error}");
    }
    if let Some(before) = &query.before {
        let _ = writeln!(out, "    before: {}", plan_line(before));
    }
    if let Some(after) = &query.after {
        let _ = writeln!(out, "    after:  {}", plan_line(after));
    }
    match (query.uses_index, &query.before, &query.after) {
        (Some(uses), Some(before), Some(after)) => {
            let _ = writeln!(
                out,
                "    uses the index: {}{}",
                if uses { "yes" } else { "no" },
                change(before.total_cost, after.total_cost)
            );
        }
        _ if query.error.is_none() && !failed => {
            let _ = writeln!(out, "    uses the index: unknown");
        }
        _ => {}
    }
}

fn plan_line(plan: &PlanSummary) -> String {
    let nodes: Vec<String> = plan.nodes.iter().map(node).collect();
    format!("cost {:.2}  {}", plan.total_cost, nodes.join(" -> "))
}

fn node(node: &PlanNode) -> String {
    let mut text = node.node_type.clone();
    if let Some(index) = &node.index {
        let _ = write!(text, " using {index}");
    }
    if let Some(relation) = &node.relation {
        let _ = write!(text, " on {relation}");
    }
    text
}

fn change(before: f64, after: f64) -> String {
    if before > 0.0 && before.is_finite() && after.is_finite() {
        format!(" (cost {:+.1}%)", (after - before) / before * 100.0)
    } else {
        String::new()
    }
}

#[derive(Serialize)]
struct Json<'a> {
    version: u32,
    #[serde(flatten)]
    report: JsonReport<'a>,
}

#[derive(Serialize)]
struct JsonReport<'a> {
    #[serde(flatten)]
    report: &'a Report,
    suggestions: Vec<JsonSuggestion<'a>>,
}

#[derive(Serialize)]
struct JsonSuggestion<'a> {
    #[serde(flatten)]
    suggestion: &'a SuggestionReport,
    queries: Vec<JsonQuery<'a>>,
}

#[derive(Serialize)]
struct JsonQuery<'a> {
    #[serde(flatten)]
    query: &'a QueryReport,
    locations: Vec<JsonLocation>,
}

#[derive(Serialize)]
struct JsonLocation {
    path: String,
    line: usize,
    column: usize,
}

/// `--format json`: the report with paths shown as in every other output.
pub fn json(report: &Report, paths: &PathDisplay) -> String {
    let document = Json {
        version: 1,
        report: JsonReport {
            report,
            suggestions: report
                .suggestions
                .iter()
                .map(|suggestion| JsonSuggestion {
                    suggestion,
                    queries: suggestion
                        .queries
                        .iter()
                        .map(|query| JsonQuery {
                            query,
                            locations: query
                                .locations
                                .iter()
                                .map(|l| JsonLocation {
                                    path: paths.show(&l.path),
                                    line: l.line,
                                    column: l.column,
                                })
                                .collect(),
                        })
                        .collect(),
                })
                .collect(),
        },
    };
    let mut text = serde_json::to_string_pretty(&document).unwrap_or_default();
    text.push('\n');
    text
}
