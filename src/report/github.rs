//! `--format github`: one GitHub Actions workflow command per finding
//! (`::warning file=…,line=…,col=…,title=…::message`), which the runner
//! shows as an annotation on the pull request's diff.

use std::fmt::Write as _;

use super::PathDisplay;
use crate::rules::{Finding, Severity};

pub fn render(findings: &[Finding], paths: &PathDisplay) -> String {
    let mut out = String::new();
    for finding in findings {
        let command = match finding.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "notice",
        };
        let mut message = finding.message.clone();
        if let Some(help) = &finding.help {
            message.push_str("\nhelp: ");
            message.push_str(help);
        }
        let title = format!("ixray ({})", finding.rule);
        match &finding.location {
            Some(l) => {
                let _ = writeln!(
                    out,
                    "::{command} file={},line={},col={},endLine={},endColumn={},title={}::{}",
                    property(&paths.show(&l.path)),
                    l.line,
                    l.column,
                    l.end_line,
                    l.end_column,
                    property(&title),
                    data(&message)
                );
            }
            None => {
                let _ = writeln!(
                    out,
                    "::{command} title={}::{}",
                    property(&title),
                    data(&message)
                );
            }
        }
    }
    out
}

/// A workflow command's message: `%`, CR and LF escaped.
fn data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A workflow command's property value: `:` and `,` escaped as well.
fn property(text: &str) -> String {
    data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped_as_the_runner_reads_them() {
        assert_eq!(data("50% of\nrows"), "50%25 of%0Arows");
        assert_eq!(property("a:b,c"), "a%3Ab%2Cc");
    }
}
