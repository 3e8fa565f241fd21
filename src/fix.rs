//! Applying fixes: every framework's planned changes are checked (the edited
//! text must re-parse cleanly, the file must not have changed since it was
//! analyzed, a new file must not exist yet) and then written atomically.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::Analysis;
use crate::frameworks::{django, drizzle, python, sqlalchemy, typescript};
use crate::source::{FileChange, apply_edits};

/// The outcome of planning fixes for an analysis.
#[derive(Debug, Default)]
pub struct FixPlan {
    /// Each change with the file's new full text.
    pub changes: Vec<PlannedChange>,
    /// Findings that could not be fixed, with the reason.
    pub skipped: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct PlannedChange {
    pub path: PathBuf,
    /// `None` for a new file.
    pub before: Option<String>,
    pub after: String,
}

#[derive(Debug, thiserror::Error)]
pub enum FixError {
    #[error("{path}: {message}")]
    Write { path: PathBuf, message: String },
}

/// Compute the changes that fix the analysis' findings, without writing.
pub fn plan(analysis: &Analysis) -> FixPlan {
    let findings: Vec<_> = analysis
        .findings
        .iter()
        .filter(|f| f.fix.is_some())
        .collect();
    let (mut changes, mut unfixable) =
        django::emit::plan(&analysis.django, &analysis.schema.tables, &findings);
    let (more_changes, more_unfixable) = sqlalchemy::emit::plan(&analysis.sqlalchemy, &findings);
    changes.extend(more_changes);
    unfixable.extend(more_unfixable);
    let (more_changes, more_unfixable) = drizzle::emit::plan(&analysis.drizzle, &findings);
    changes.extend(more_changes);
    unfixable.extend(more_unfixable);
    let mut plan = FixPlan {
        skipped: unfixable
            .into_iter()
            .map(|u| format!("{}: {}", u.table, u.reason))
            .collect(),
        ..FixPlan::default()
    };
    for change in changes {
        match change {
            FileChange::Edit { path, edits } => {
                let Some(source) = analysis.sources.get(&path) else {
                    plan.skipped
                        .push(format!("{}: not part of the analysis", path.display()));
                    continue;
                };
                let (after, all_applied) = apply_edits(&source.text, &edits);
                if !all_applied {
                    plan.skipped.push(format!(
                        "{}: overlapping edits; some were left out",
                        path.display()
                    ));
                }
                if !reparses(&path, &after) {
                    plan.skipped.push(format!(
                        "{}: the edited file would not parse; left unchanged",
                        path.display()
                    ));
                    continue;
                }
                plan.changes.push(PlannedChange {
                    path,
                    before: Some(source.text.clone()),
                    after,
                });
            }
            FileChange::Create { path, contents } => {
                if !reparses(&path, &contents) {
                    plan.skipped.push(format!(
                        "{}: the new file would not parse; not written",
                        path.display()
                    ));
                    continue;
                }
                plan.changes.push(PlannedChange {
                    path,
                    before: None,
                    after: contents,
                });
            }
        }
    }
    plan.changes.sort_by(|a, b| a.path.cmp(&b.path));
    plan
}

fn reparses(path: &Path, text: &str) -> bool {
    match path.extension().and_then(|e| e.to_str()) {
        Some("py") => python::parses_cleanly(text),
        Some("json") => serde_json::from_str::<serde_json::Value>(text).is_ok(),
        _ if typescript::is_script(path) => typescript::parses_cleanly(path, text),
        _ => true,
    }
}

/// Write planned changes. A file that changed on disk since the analysis is
/// left alone; each write goes to a temporary file that is renamed over the
/// original, so a file is never half-written.
pub fn apply(plan: &FixPlan) -> Result<Vec<PathBuf>, Vec<FixError>> {
    let mut written = Vec::new();
    let mut errors = Vec::new();
    for change in &plan.changes {
        let result = match &change.before {
            Some(before) => match std::fs::read_to_string(&change.path) {
                Ok(current) if &current == before => write_atomically(&change.path, &change.after),
                Ok(_) => Err("the file changed since it was analyzed; run ixray again".to_string()),
                Err(err) => Err(err.to_string()),
            },
            None if change.path.exists() => Err("the file already exists".to_string()),
            None => write_atomically(&change.path, &change.after),
        };
        match result {
            Ok(()) => written.push(change.path.clone()),
            Err(message) => errors.push(FixError::Write {
                path: change.path.clone(),
                message,
            }),
        }
    }
    if errors.is_empty() {
        Ok(written)
    } else {
        Err(errors)
    }
}

fn write_atomically(path: &Path, contents: &str) -> Result<(), String> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let file_name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let temp = dir.join(format!(".{file_name}.ixray-{}", std::process::id()));
    let result = (|| -> std::io::Result<()> {
        let mut file = std::fs::File::create(&temp)?;
        file.write_all(contents.as_bytes())?;
        file.sync_all()?;
        if let Ok(meta) = std::fs::metadata(path) {
            std::fs::set_permissions(&temp, meta.permissions())?;
        }
        std::fs::rename(&temp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result.map_err(|e| e.to_string())
}

/// A unified diff of every planned change, for `fix --diff`.
pub fn diff(plan: &FixPlan, display: impl Fn(&Path) -> String) -> String {
    let mut out = String::new();
    for change in &plan.changes {
        let name = display(&change.path);
        let before = change.before.as_deref().unwrap_or("");
        let old_name = if change.before.is_some() {
            format!("a/{name}")
        } else {
            "/dev/null".into()
        };
        let text = similar::TextDiff::from_lines(before, &change.after)
            .unified_diff()
            .context_radius(3)
            .header(&old_name, &format!("b/{name}"))
            .to_string();
        out.push_str(&text);
    }
    out
}
