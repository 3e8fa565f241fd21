//! Baselines: `ixray check --baseline FILE` records today's findings so
//! that later runs report only new ones. A finding is known when the
//! baseline holds one with the same rule, table and columns (not the
//! line: code moves); findings without a table (`unused-ignore`) are
//! matched by their file and message. Counts matter: a second unindexed
//! foreign key on the same columns of another model is new.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::rules::Finding;

#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    #[error("baseline {path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
struct Entry {
    rule: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    table: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    columns: Vec<String>,
    /// For findings without a table: the file (relative to the baseline)
    /// and the message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    message: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct File {
    version: u32,
    findings: Vec<Counted>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Counted {
    #[serde(flatten)]
    entry: Entry,
    #[serde(default = "one", skip_serializing_if = "is_one")]
    count: usize,
}

fn one() -> usize {
    1
}

fn is_one(n: &usize) -> bool {
    *n == 1
}

/// The findings a baseline knows.
#[derive(Debug, Default)]
pub struct Baseline {
    known: BTreeMap<Entry, usize>,
}

fn entry(finding: &Finding, base: &Path) -> Entry {
    let mut entry = Entry {
        rule: finding.rule.to_string(),
        table: finding.table.clone(),
        columns: finding.columns.clone(),
        path: None,
        message: None,
    };
    if finding.table.is_empty() {
        entry.path = finding.location.as_ref().map(|l| relative(&l.path, base));
        entry.message = Some(finding.message.clone());
    }
    entry
}

/// `path` relative to `base` when below it, with `/` separators.
fn relative(path: &Path, base: &Path) -> String {
    let canonical = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let (path, base) = (canonical(path), canonical(base));
    path.strip_prefix(&base)
        .unwrap_or(&path)
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// Read a baseline; `None` when the file does not exist yet.
pub fn read(path: &Path) -> Result<Option<Baseline>, BaselineError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(BaselineError::Invalid {
                path: path.to_path_buf(),
                message: e.to_string(),
            });
        }
    };
    let file: File = serde_json::from_str(&text).map_err(|e| BaselineError::Invalid {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    if file.version != 1 {
        return Err(BaselineError::Invalid {
            path: path.to_path_buf(),
            message: format!("version {} is not one this ixray reads (1)", file.version),
        });
    }
    let mut known = BTreeMap::new();
    for counted in file.findings {
        *known.entry(counted.entry).or_insert(0) += counted.count;
    }
    Ok(Some(Baseline { known }))
}

/// Write `findings` as the baseline `path` (atomically: a reader never
/// sees half a file). `base` is the folder paths are written relative to.
pub fn write(path: &Path, findings: &[Finding], base: &Path) -> Result<(), BaselineError> {
    let mut known: BTreeMap<Entry, usize> = BTreeMap::new();
    for finding in findings {
        *known.entry(entry(finding, base)).or_insert(0) += 1;
    }
    let file = File {
        version: 1,
        findings: known
            .into_iter()
            .map(|(entry, count)| Counted { entry, count })
            .collect(),
    };
    let mut text = serde_json::to_string_pretty(&file).expect("a baseline serializes");
    text.push('\n');
    let invalid = |message: String| BaselineError::Invalid {
        path: path.to_path_buf(),
        message,
    };
    let staged = crate::fix::stage(path, &text).map_err(invalid)?;
    std::fs::rename(&staged, path).map_err(|e| {
        let _ = std::fs::remove_file(&staged);
        invalid(e.to_string())
    })?;
    Ok(())
}

impl Baseline {
    /// Drop the findings the baseline knows; how many were dropped.
    pub fn hide_known(&self, findings: &mut Vec<Finding>, base: &Path) -> usize {
        let mut left = self.known.clone();
        let before = findings.len();
        findings.retain(|f| match left.get_mut(&entry(f, base)) {
            Some(n) if *n > 0 => {
                *n -= 1;
                false
            }
            _ => true,
        });
        before - findings.len()
    }
}
