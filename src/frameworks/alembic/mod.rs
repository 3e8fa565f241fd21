//! Alembic: revision files read from source, ordered by their
//! `down_revision` graph and replayed into the database state the history
//! builds; fixes are new revision files.

pub mod emit;
pub mod env;
pub mod history;
pub mod revisions;

use std::path::{Path, PathBuf};

use crate::schema::Dialect;

/// What `alembic.ini` says about where revisions live and how new ones are
/// named.
#[derive(Debug, Clone, Default)]
pub struct IniFacts {
    pub path: PathBuf,
    /// `script_location`, resolved against the ini's folder.
    pub script_location: Option<PathBuf>,
    /// `version_locations`, resolved; empty means `<script_location>/versions`.
    pub version_locations: Vec<PathBuf>,
    /// `file_template`, with `%%` already unescaped.
    pub file_template: Option<String>,
    pub truncate_slug_length: Option<usize>,
    /// The dialect of `sqlalchemy.url`, when it names one.
    pub dialect: Option<Dialect>,
}

impl IniFacts {
    /// The folders revision files live in.
    pub fn versions_dirs(&self) -> Vec<PathBuf> {
        if !self.version_locations.is_empty() {
            return self.version_locations.clone();
        }
        self.script_location
            .iter()
            .map(|s| s.join("versions"))
            .collect()
    }
}

/// Read the `[alembic]` section of an `alembic.ini`.
pub fn read_ini(path: &Path, text: &str) -> IniFacts {
    let here = path.parent().unwrap_or(Path::new(""));
    let mut facts = IniFacts {
        path: path.to_path_buf(),
        ..IniFacts::default()
    };
    let mut section = String::new();
    let mut separator = " ".to_string();
    let mut raw_locations = None;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || trimmed.starts_with(';') || trimmed.is_empty() {
            continue;
        }
        if let Some(name) = trimmed.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            section = name.trim().to_string();
            continue;
        }
        if section != "alembic" {
            continue;
        }
        let Some((key, value)) = trimmed.split_once(['=', ':']) else {
            continue;
        };
        let value = value
            .trim()
            .replace("%(here)s", &here.to_string_lossy())
            .replace("%%", "%");
        match key.trim() {
            "script_location" => facts.script_location = Some(resolve(here, &value)),
            "version_locations" => raw_locations = Some(value),
            "version_path_separator" => {
                separator = match value.as_str() {
                    "os" | ":" => ":".into(),
                    ";" => ";".into(),
                    "space" | "" => " ".into(),
                    "newline" => "\n".into(),
                    other => other.into(),
                };
            }
            "file_template" => facts.file_template = Some(value),
            "truncate_slug_length" => facts.truncate_slug_length = value.parse().ok(),
            "sqlalchemy.url" => facts.dialect = url_dialect(&value),
            _ => {}
        }
    }
    if let Some(raw) = raw_locations {
        facts.version_locations = raw
            .split(separator.as_str())
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| resolve(here, s))
            .collect();
    }
    facts
}

fn resolve(here: &Path, value: &str) -> PathBuf {
    let path = Path::new(value);
    if path.is_absolute() {
        path.to_path_buf()
    } else if value.contains(':') && !value.contains('/') {
        // `package:folder` names a folder inside an installed package.
        here.join(value.replace(':', "/"))
    } else {
        here.join(path)
    }
}

/// The dialect of a database URL: `postgresql+psycopg://…` → PostgreSQL.
pub fn url_dialect(url: &str) -> Option<Dialect> {
    let scheme = url.split("://").next()?.split('+').next()?;
    match scheme {
        "postgresql" | "postgres" => Some(Dialect::Postgresql),
        "mysql" | "mariadb" => Some(Dialect::Mysql),
        "sqlite" => Some(Dialect::Sqlite),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_alembic_ini() {
        let facts = read_ini(
            Path::new("/p/alembic.ini"),
            "[alembic]\nscript_location = %(here)s/migrations\nfile_template = %%(year)d_%%(rev)s_%%(slug)s\nsqlalchemy.url = postgresql+psycopg://localhost/blog\n\n[loggers]\nkeys = root\n",
        );
        assert_eq!(
            facts.script_location.as_deref(),
            Some(Path::new("/p/migrations"))
        );
        assert_eq!(
            facts.file_template.as_deref(),
            Some("%(year)d_%(rev)s_%(slug)s")
        );
        assert_eq!(facts.dialect, Some(Dialect::Postgresql));
        assert_eq!(
            facts.versions_dirs(),
            vec![PathBuf::from("/p/migrations/versions")]
        );
    }
}
