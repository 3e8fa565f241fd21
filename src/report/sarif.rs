//! `--format sarif`: SARIF 2.1.0 for code scanning (GitHub, GitLab,
//! editors). One run; the driver lists every rule with its page; each
//! result carries its related places, and its fix as SARIF `fixes` where
//! the fix is a text edit of a file that exists (the model declaration;
//! a new migration file is named in the fix's description).

use serde_json::{Value, json};

use super::{PathDisplay, rule_url};
use crate::Analysis;
use crate::fix::FixPlan;
use crate::rules::{RULES, Severity};
use crate::source::Location;

pub fn render(analysis: &Analysis, plan: &FixPlan, paths: &PathDisplay) -> String {
    let rules: Vec<Value> = RULES
        .iter()
        .map(|rule| {
            json!({
                "id": rule.name,
                "name": rule.name,
                "shortDescription": { "text": rule.summary },
                "helpUri": rule_url(rule.name),
                "help": { "text": rule.doc, "markdown": rule.doc },
                "defaultConfiguration": { "level": level(rule.severity) },
                "properties": {
                    "frameworks": rule.frameworks.iter().map(|f| f.as_str()).collect::<Vec<_>>(),
                },
            })
        })
        .collect();
    let sets = plan.sets_for(analysis);
    let results: Vec<Value> = analysis
        .findings
        .iter()
        .zip(sets)
        .map(|(finding, set)| {
            let mut result = json!({
                "ruleId": finding.rule,
                "ruleIndex": RULES.iter().position(|r| r.name == finding.rule),
                "level": level(finding.severity),
                "message": { "text": match &finding.help {
                    Some(help) => format!("{}\nhelp: {help}", finding.message),
                    None => finding.message.clone(),
                } },
                "locations": finding
                    .location
                    .iter()
                    .map(|l| json!({ "physicalLocation": physical(l, paths) }))
                    .collect::<Vec<_>>(),
                "partialFingerprints": {
                    "ixray/v1": format!("{}:{}:{}", finding.rule, finding.table, finding.columns.join(",")),
                },
                "properties": {
                    "framework": finding.framework.as_str(),
                    "table": finding.table,
                    "columns": finding.columns,
                    "fixable": finding.fix.is_some(),
                },
            });
            if !finding.related.is_empty() {
                result["relatedLocations"] = finding
                    .related
                    .iter()
                    .enumerate()
                    .map(|(id, r)| {
                        json!({
                            "id": id,
                            "physicalLocation": physical(&r.location, paths),
                            "message": { "text": r.message },
                        })
                    })
                    .collect();
            }
            if let Some(set) = set {
                let changes: Vec<Value> = set
                    .changes
                    .iter()
                    .filter_map(|change| {
                        let edit = change.line_edit()?;
                        Some(json!({
                            "artifactLocation": { "uri": uri(&paths.show(&change.path)) },
                            // Whole lines, line breaks included: from the
                            // first line's start to the next line's.
                            "replacements": [{
                                "deletedRegion": {
                                    "startLine": edit.first_line,
                                    "startColumn": 1,
                                    "endLine": edit.last_line + 1,
                                    "endColumn": 1,
                                },
                                "insertedContent": { "text": if edit.replacement.is_empty() {
                                    String::new()
                                } else {
                                    format!("{}\n", edit.replacement)
                                } },
                            }],
                        }))
                    })
                    .collect();
                let created: Vec<String> = set
                    .changes
                    .iter()
                    .filter(|c| c.before.is_none())
                    .map(|c| paths.show(&c.path))
                    .collect();
                if !changes.is_empty() {
                    let mut description = format!("ixray fix ({})", set.unit);
                    if !created.is_empty() {
                        description.push_str(&format!(
                            "; `ixray fix` also writes {}",
                            created.join(", ")
                        ));
                    }
                    result["fixes"] = json!([{
                        "description": { "text": description },
                        "artifactChanges": changes,
                    }]);
                }
            }
            result
        })
        .collect();
    let sarif = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "ixray",
                    "version": env!("CARGO_PKG_VERSION"),
                    "informationUri": super::DOCS_URL,
                    "rules": rules,
                }
            },
            "results": results,
            "invocations": [{
                "executionSuccessful": true,
                "toolExecutionNotifications": analysis.errors.iter().map(|e| {
                    let mut n = json!({
                        "level": "warning",
                        "message": { "text": e.message },
                        "locations": [{ "physicalLocation": {
                            "artifactLocation": { "uri": uri(&paths.show(&e.path)) },
                        } }],
                    });
                    if let Some((line, column)) = e.position {
                        n["locations"][0]["physicalLocation"]["region"] =
                            json!({ "startLine": line, "startColumn": column });
                    }
                    n
                }).collect::<Vec<_>>(),
            }],
        }],
    });
    let mut out = serde_json::to_string_pretty(&sarif).expect("SARIF serializes");
    out.push('\n');
    out
}

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

fn physical(location: &Location, paths: &PathDisplay) -> Value {
    json!({
        "artifactLocation": { "uri": uri(&paths.show(&location.path)) },
        "region": {
            "startLine": location.line,
            "startColumn": location.column,
            "endLine": location.end_line,
            "endColumn": location.end_column,
        },
    })
}

/// A path as a relative URI reference: `/` separators, the few
/// characters a URI cannot hold percent-encoded.
fn uri(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        match c {
            '\\' => out.push('/'),
            ' ' | '%' | '#' | '?' | '[' | ']' | '"' | '<' | '>' | '`' | '{' | '}' | '|' | '^' => {
                out.push_str(&format!("%{:02X}", c as u32));
            }
            c => out.push(c),
        }
    }
    out
}
