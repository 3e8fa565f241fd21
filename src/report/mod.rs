//! Output formats. Each reporter turns findings into text; none decides what
//! a finding is.

pub mod explain;
pub mod github;
pub mod json;
pub mod markdown;
pub mod sarif;
pub mod text;

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::Analysis;
use crate::schema::Framework;

/// The counts a run ends with: findings, how many `fix` fixes, and what
/// was read, per framework.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub findings: usize,
    pub fixable: usize,
    pub files_read: usize,
    /// Tables read per framework (`django`, `sqlalchemy`, `drizzle`),
    /// frameworks with none left out.
    pub tables: std::collections::BTreeMap<&'static str, usize>,
    /// What else the run left out (`--changed-since`, `--baseline`).
    pub notes: Vec<String>,
}

impl Summary {
    pub fn of(analysis: &Analysis, notes: Vec<String>) -> Summary {
        let tables = [Framework::Django, Framework::Sqlalchemy, Framework::Drizzle]
            .into_iter()
            .map(|framework| {
                let count = analysis
                    .schema
                    .tables
                    .iter()
                    .filter(|t| t.framework == framework)
                    .count();
                (framework.as_str(), count)
            })
            .filter(|(_, count)| *count > 0)
            .collect();
        Summary {
            findings: analysis.findings.len(),
            fixable: analysis.findings.iter().filter(|f| f.fix.is_some()).count(),
            files_read: analysis.files_read,
            tables,
            notes,
        }
    }

    /// `Found 3 problems (2 fixable with `ixray fix`) in 412 files
    /// (Django: 120 tables).`, as ruff ends its output.
    pub fn line(&self) -> String {
        let mut out = match self.findings {
            0 => "No index problems found".to_string(),
            n => format!("Found {n} problem{}", plural(n)),
        };
        if self.fixable > 0 {
            out.push_str(&format!(" ({} fixable with `ixray fix`)", self.fixable));
        }
        out.push_str(&format!(
            " in {} file{}",
            self.files_read,
            plural(self.files_read)
        ));
        if !self.tables.is_empty() {
            let read: Vec<String> = [Framework::Django, Framework::Sqlalchemy, Framework::Drizzle]
                .into_iter()
                .filter_map(|framework| {
                    let n = *self.tables.get(framework.as_str())?;
                    Some(format!("{}: {n} table{}", framework.title(), plural(n)))
                })
                .collect();
            out.push_str(&format!(" ({})", read.join(", ")));
        }
        out.push_str(".\n");
        for note in &self.notes {
            out.push_str(&format!("Not shown: {note}.\n"));
        }
        out
    }
}

/// (rule, findings, fixable), most findings first, then by name.
pub fn per_rule(findings: &[crate::rules::Finding]) -> Vec<(&'static str, usize, usize)> {
    let mut counts: std::collections::BTreeMap<&'static str, (usize, usize)> =
        std::collections::BTreeMap::new();
    for finding in findings {
        let entry = counts.entry(finding.rule).or_default();
        entry.0 += 1;
        entry.1 += usize::from(finding.fix.is_some());
    }
    let mut rows: Vec<_> = counts
        .into_iter()
        .map(|(rule, (count, fixable))| (rule, count, fixable))
        .collect();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    rows
}

pub fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Where a rule's page is published.
pub fn rule_url(rule: &str) -> String {
    format!("{DOCS_URL}/{rule}.md")
}

/// The rule pages in the repository (`ixray rule NAME` prints the same).
pub const DOCS_URL: &str = "https://github.com/ixray-dev/ixray/blob/main/docs/rules";

/// Paths in output are relative to the current directory when below it.
#[derive(Debug, Clone)]
pub struct PathDisplay {
    cwd: Option<PathBuf>,
}

impl PathDisplay {
    pub fn new(cwd: Option<PathBuf>) -> Self {
        PathDisplay {
            cwd: cwd.and_then(|c| std::fs::canonicalize(&c).ok().or(Some(c))),
        }
    }

    pub fn show(&self, path: &Path) -> String {
        // `../app/models.py`, read from the project above the current
        // folder, is shown as `models.py` when it is below it.
        let climbs = path
            .components()
            .any(|c| c == std::path::Component::ParentDir);
        if path.is_relative() && !climbs {
            let text = path.to_string_lossy();
            return text.strip_prefix("./").unwrap_or(&text).to_string();
        }
        if let Some(cwd) = &self.cwd {
            // A file about to be created: its folder exists.
            let canonical = std::fs::canonicalize(path)
                .ok()
                .or_else(|| {
                    let parent = std::fs::canonicalize(path.parent()?).ok()?;
                    Some(parent.join(path.file_name()?))
                })
                .unwrap_or_else(|| path.to_path_buf());
            if let Ok(rest) = canonical.strip_prefix(cwd) {
                return rest.to_string_lossy().into_owned();
            }
        }
        path.to_string_lossy().into_owned()
    }
}
