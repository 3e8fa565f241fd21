//! Output formats. Each reporter turns findings into text; none decides what
//! a finding is.

pub mod explain;
pub mod json;
pub mod text;

use std::path::{Path, PathBuf};

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
