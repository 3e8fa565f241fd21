//! Human output in the rustc/ruff manner: `severity[rule]: message`, the
//! place, a source snippet with the span underlined, related places as
//! notes, and the proposed fix as help.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

use super::{PathDisplay, Summary};
use crate::rules::{Finding, Severity};
use crate::source::{Location, SourceFile};

/// How text is decorated.
#[derive(Debug, Clone, Copy, Default)]
pub struct Style {
    /// ANSI colours, as `--color` decided.
    pub color: bool,
}

impl Style {
    fn paint(self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    fn severity(self, severity: Severity) -> String {
        let code = match severity {
            Severity::Error => "1;31",
            Severity::Warning => "1;33",
            Severity::Info => "1;36",
        };
        self.paint(code, severity.as_str())
    }
}

/// The findings, each with its snippet, notes and help; the caller adds
/// the summary line.
pub fn render(
    findings: &[Finding],
    sources: &BTreeMap<PathBuf, Arc<SourceFile>>,
    paths: &PathDisplay,
    style: Style,
) -> String {
    let mut out = String::new();
    for finding in findings {
        let _ = writeln!(
            out,
            "{}{}: {}",
            style.severity(finding.severity),
            style.paint("1", &format!("[{}]", finding.rule)),
            style.paint("1", &finding.message)
        );
        if let Some(location) = &finding.location {
            snippet(
                &mut out,
                location,
                sources.get(&location.path),
                paths,
                style,
            );
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
    out
}

/// `--statistics`: how many findings each rule has, most first, and how
/// many of them `fix` fixes; then the summary.
pub fn statistics(findings: &[Finding], summary: &Summary) -> String {
    let mut out = String::new();
    for (rule, count, fixable) in super::per_rule(findings) {
        let fixable = if fixable > 0 {
            format!("  [{fixable} fixable]")
        } else {
            String::new()
        };
        let _ = writeln!(out, "{count:>5}  {rule}{fixable}");
    }
    out.push_str(&summary.line());
    out
}

fn snippet(
    out: &mut String,
    location: &Location,
    source: Option<&Arc<SourceFile>>,
    paths: &PathDisplay,
    style: Style,
) {
    let gutter = location.line.to_string().len();
    let pad = " ".repeat(gutter);
    let _ = writeln!(
        out,
        "{pad}{} {}:{}:{}",
        style.paint("1;34", "-->"),
        paths.show(&location.path),
        location.line,
        location.column
    );
    let Some(source) = source else { return };
    let line_text = source.lines.line_text(&source.text, location.line - 1);
    let bar = style.paint("1;34", "|");
    let _ = writeln!(out, "{pad} {bar}");
    let _ = writeln!(
        out,
        "{} {bar} {}",
        style.paint("1;34", &location.line.to_string()),
        line_text
    );
    let start = location.column - 1;
    let width = if location.end_line == location.line {
        location.end_column.saturating_sub(location.column).max(1)
    } else {
        line_text.chars().count().saturating_sub(start).max(1)
    };
    let _ = writeln!(
        out,
        "{pad} {bar} {}{}",
        " ".repeat(start),
        style.paint("1;31", &"^".repeat(width))
    );
}
