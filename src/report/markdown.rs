//! `--format markdown`: a pull-request comment. A fixed first line lets a
//! CI job find and update its own comment; then the summary table, each
//! finding with its help, and for each change `ixray fix` would write the
//! model edit as a ```` ```suggestion ```` block (GitHub shows it as a
//! suggested change when the comment is placed on those lines) and the new
//! migration file. Capped below GitHub's comment size.

use std::fmt::Write as _;

use super::{PathDisplay, Summary, plural, rule_url};
use crate::Analysis;
use crate::fix::FixPlan;
use crate::rules::Severity;

/// The comment's first line, for finding it again.
pub const MARKER: &str = "<!-- ixray-report -->";

/// A new file longer than this is named, not shown.
const LONG_FILE_LINES: usize = 200;

/// GitHub refuses comments over 65,536 characters.
const LIMIT: usize = 60_000;

pub fn render(
    analysis: &Analysis,
    plan: &FixPlan,
    summary: &Summary,
    paths: &PathDisplay,
) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{MARKER}");
    match summary.findings {
        0 => {
            let _ = writeln!(out, "### ixray: no index problems found");
        }
        n => {
            let _ = write!(out, "### ixray: {n} index problem{}", plural(n));
            if summary.fixable > 0 {
                let _ = write!(out, " ({} fixable with `ixray fix`)", summary.fixable);
            }
            out.push('\n');
        }
    }
    out.push('\n');
    if !analysis.findings.is_empty() {
        out.push_str("| | rule | where | finding |\n|---|---|---|---|\n");
        for finding in &analysis.findings {
            let icon = match finding.severity {
                Severity::Error => "🛑",
                Severity::Warning => "⚠️",
                Severity::Info => "ℹ️",
            };
            let place = finding.location.as_ref().map_or(String::new(), |l| {
                format!("`{}:{}`", paths.show(&l.path), l.line)
            });
            let _ = writeln!(
                out,
                "| {icon} | [`{}`]({}) | {place} | {} |",
                finding.rule,
                rule_url(finding.rule),
                cell(&finding.message)
            );
        }
        out.push('\n');
    }
    // Each change set once, after the findings it fixes.
    let mut shown: Vec<&str> = Vec::new();
    for (finding, set) in analysis.findings.iter().zip(plan.sets_for(analysis)) {
        let place = finding.location.as_ref().map_or(String::new(), |l| {
            format!(" in `{}:{}`", paths.show(&l.path), l.line)
        });
        let _ = writeln!(out, "#### `{}`{place}\n", finding.rule);
        let _ = writeln!(out, "{}\n", finding.message);
        if let Some(help) = &finding.help {
            let _ = writeln!(out, "Help: {help}\n");
        }
        let Some(set) = set else {
            continue;
        };
        if shown.contains(&set.unit.as_str()) {
            let _ = writeln!(out, "Fixed by the change to {} above.\n", set.unit);
            continue;
        }
        shown.push(&set.unit);
        let _ = writeln!(out, "`ixray fix` changes {}:\n", set.unit);
        // The model edits first, then the new migration.
        let mut changes: Vec<_> = set.changes.iter().collect();
        changes.sort_by_key(|c| c.before.is_none());
        for change in changes {
            let name = paths.show(&change.path);
            match (&change.before, change.line_edit()) {
                (Some(_), Some(edit)) => {
                    let lines = if edit.first_line == edit.last_line {
                        format!("line {}", edit.first_line)
                    } else {
                        format!("lines {}–{}", edit.first_line, edit.last_line)
                    };
                    let _ = writeln!(
                        out,
                        "`{name}`, {lines}:\n\n{}\n",
                        fenced("suggestion", &edit.replacement)
                    );
                }
                (Some(_), None) => {}
                // drizzle-kit's snapshot: machine-written, long, not read
                // in review.
                (None, _) if change.after.lines().count() > LONG_FILE_LINES => {
                    let _ = writeln!(
                        out,
                        "New file `{name}` ({} lines, written by `ixray fix`).\n",
                        change.after.lines().count()
                    );
                }
                (None, _) => {
                    let _ = writeln!(
                        out,
                        "<details><summary>New file <code>{name}</code></summary>\n\n{}\n\n</details>\n",
                        fenced(language(&name), change.after.trim_end())
                    );
                }
            }
        }
    }
    for note in &summary.notes {
        let _ = writeln!(out, "_Not shown: {note}._\n");
    }
    if out.len() > LIMIT {
        let mut end = LIMIT;
        while !out.is_char_boundary(end) {
            end -= 1;
        }
        out.truncate(end);
        out.push_str("\n\n_… cut to fit a comment: run `ixray check` for the rest._\n");
    }
    out
}

/// A table cell: one line, `|` escaped.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// A fenced block whose fence is longer than any backtick run inside.
fn fenced(info: &str, body: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in body.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat(longest.max(2) + 1);
    if body.is_empty() {
        // An empty suggestion deletes the lines.
        return format!("{fence}{info}\n{fence}");
    }
    format!("{fence}{info}\n{body}\n{fence}")
}

fn language(name: &str) -> &'static str {
    match name.rsplit('.').next() {
        Some("py") => "python",
        Some("sql") => "sql",
        Some("json") => "json",
        Some("ts") | Some("mts") | Some("cts") => "ts",
        Some("js") | Some("mjs") | Some("cjs") => "js",
        _ => "",
    }
}
