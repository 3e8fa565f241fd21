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
    let suggested = report.suggestions.len();
    let _ = writeln!(
        out,
        "{suggested} suggested index{}, {} tried on PostgreSQL {} with HypoPG {}: the planner uses {used} of them.",
        if suggested == 1 { "" } else { "es" },
        tried.len(),
        report.server_version,
        report.hypopg_version,
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

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::source::{Location, Span};

    fn node(node_type: &str, index: Option<&str>) -> PlanNode {
        PlanNode {
            node_type: node_type.into(),
            relation: Some("jobs")
                .filter(|_| node_type.ends_with("Scan"))
                .map(Into::into),
            index: index.map(Into::into),
        }
    }

    fn report() -> Report {
        let location = Location {
            path: PathBuf::from("app/jobs.py"),
            span: Span::default(),
            line: 12,
            column: 5,
            end_line: 12,
            end_column: 40,
        };
        Report {
            server_version: "15.18".into(),
            hypopg_version: "1.3.1".into(),
            extension_created: false,
            suggestions: vec![
                SuggestionReport {
                    table: "jobs".into(),
                    model: "Job".into(),
                    framework: "django",
                    create_index: "CREATE INDEX ON jobs (queue, run_at) WHERE done_at IS NULL"
                        .into(),
                    hypothetical_index: Some("<1>btree_jobs_queue_run_at".into()),
                    error: None,
                    queries: vec![QueryReport {
                        sql: "UPDATE jobs SET ... WHERE queue = $1".into(),
                        explained_as: Some("SELECT * FROM jobs WHERE queue = $1".into()),
                        locations: vec![location],
                        before: Some(PlanSummary {
                            total_cost: 200.0,
                            nodes: vec![node("Seq Scan", None)],
                        }),
                        after: Some(PlanSummary {
                            total_cost: 50.0,
                            nodes: vec![node("Index Scan", Some("<1>btree_jobs_queue_run_at"))],
                        }),
                        uses_index: Some(true),
                        error: None,
                    }],
                    queries_left_out: 2,
                },
                SuggestionReport {
                    table: "gone".into(),
                    model: "Gone".into(),
                    framework: "django",
                    create_index: "CREATE INDEX ON gone (a)".into(),
                    hypothetical_index: None,
                    error: Some("table `gone` is not in the database".into()),
                    queries: Vec::new(),
                    queries_left_out: 0,
                },
            ],
        }
    }

    #[test]
    fn text_has_one_block_per_suggestion() {
        insta::assert_snapshot!(text(&report(), &PathDisplay::new(None)), @r#"
jobs (django `Job`): CREATE INDEX ON jobs (queue, run_at) WHERE done_at IS NULL
  hypothetical index: <1>btree_jobs_queue_run_at
  query: UPDATE jobs SET ... WHERE queue = $1
    explained as: SELECT * FROM jobs WHERE queue = $1
    at app/jobs.py:12:5
    before: cost 200.00  Seq Scan on jobs
    after:  cost 50.00  Index Scan using <1>btree_jobs_queue_run_at on jobs
    uses the index: yes (cost -75.0%)
  and 2 more queries not explained

gone (django `Gone`): CREATE INDEX ON gone (a)
  not explained: table `gone` is not in the database

2 suggested indexes, 1 tried on PostgreSQL 15.18 with HypoPG 1.3.1: the planner uses 1 of them.
Nothing was changed: the transaction was read-only and rolled back.
"#);
    }

    #[test]
    fn json_shows_paths_as_every_output_does() {
        let value: serde_json::Value =
            serde_json::from_str(&json(&report(), &PathDisplay::new(None))).unwrap();
        assert_eq!(value["version"], 1);
        let query = &value["suggestions"][0]["queries"][0];
        assert_eq!(query["locations"][0]["path"], "app/jobs.py");
        assert_eq!(
            query["after"]["nodes"][0]["index"],
            "<1>btree_jobs_queue_run_at"
        );
        assert_eq!(value["suggestions"][1]["queries"], serde_json::json!([]));
    }
}
