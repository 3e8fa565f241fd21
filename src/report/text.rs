//! Human output in the rustc/ruff manner: `severity[rule]: message`, the
//! place, a source snippet with the span underlined, related places as
//! notes, and the proposed fix as help.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

use super::PathDisplay;
use crate::rules::Finding;
use crate::source::{Location, SourceFile};

pub fn render(
    findings: &[Finding],
    sources: &BTreeMap<PathBuf, Arc<SourceFile>>,
    paths: &PathDisplay,
) -> String {
    let mut out = String::new();
    for finding in findings {
        let _ = writeln!(
            out,
            "{}[{}]: {}",
            finding.severity.as_str(),
            finding.rule,
            finding.message
        );
        if let Some(location) = &finding.location {
            snippet(&mut out, location, sources.get(&location.path), paths);
        }
        for related in &finding.related {
            let _ = writeln!(
                out,
                "   = note: {} ({}:{}:{})",
                related.message,
                paths.show(&related.location.path),
                related.location.line,
                related.location.column
            );
        }
        if let Some(help) = &finding.help {
            let _ = writeln!(out, "   = help: {help}");
        }
        out.push('\n');
    }
    let fixable = findings.iter().filter(|f| f.fix.is_some()).count();
    match findings.len() {
        0 => out.push_str("No index problems found.\n"),
        n => {
            let _ = write!(out, "Found {n} problem{}", if n == 1 { "" } else { "s" });
            if fixable > 0 {
                let _ = write!(out, " ({fixable} fixable with `ixray fix`)");
            }
            out.push_str(".\n");
        }
    }
    out
}

fn snippet(
    out: &mut String,
    location: &Location,
    source: Option<&Arc<SourceFile>>,
    paths: &PathDisplay,
) {
    let gutter = location.line.to_string().len();
    let pad = " ".repeat(gutter);
    let _ = writeln!(
        out,
        "{pad}--> {}:{}:{}",
        paths.show(&location.path),
        location.line,
        location.column
    );
    let Some(source) = source else { return };
    let line_text = source.lines.line_text(&source.text, location.line - 1);
    let _ = writeln!(out, "{pad} |");
    let _ = writeln!(out, "{} | {}", location.line, line_text);
    let start = location.column - 1;
    let width = if location.end_line == location.line {
        location.end_column.saturating_sub(location.column).max(1)
    } else {
        line_text.chars().count().saturating_sub(start).max(1)
    };
    let _ = writeln!(out, "{pad} | {}{}", " ".repeat(start), "^".repeat(width));
}
