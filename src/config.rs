//! Configuration: `ixray.toml`, or `[tool.ixray]` in `pyproject.toml`, found
//! from the checked path upwards; command-line options override it.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::schema::Dialect;

#[derive(Debug, Clone, Default)]
pub struct Config {
    /// Only these rules (all when empty).
    pub select: Vec<String>,
    /// Never these rules.
    pub ignore: Vec<String>,
    /// The database dialect, when settings cannot tell or should be overridden.
    pub dialect: Option<Dialect>,
    /// Rules about how a migration is written (`non-concurrent-index`)
    /// look at every migration, not only the ones not merged yet.
    pub all_migrations: bool,
    /// Read the project's query code into access patterns even when no
    /// enabled rule uses them (`ixray schema`).
    pub read_queries: bool,
    /// The file the configuration came from.
    pub path: Option<PathBuf>,
}

impl Config {
    pub fn rule_enabled(&self, rule: &str) -> bool {
        (self.select.is_empty() || self.select.iter().any(|r| r == rule))
            && !self.ignore.iter().any(|r| r == rule)
    }

    /// Whether the project's query code is read: a rule needs its access
    /// patterns, or they were asked for.
    pub fn reads_queries(&self) -> bool {
        self.read_queries || self.rule_enabled("missing-query-index")
    }
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct FileConfig {
    #[serde(default)]
    select: Vec<String>,
    #[serde(default)]
    ignore: Vec<String>,
    dialect: Option<String>,
    #[serde(default)]
    all_migrations: bool,
}

#[derive(Debug, Deserialize)]
struct PyProject {
    tool: Option<PyProjectTool>,
}

#[derive(Debug, Deserialize)]
struct PyProjectTool {
    ixray: Option<toml::Value>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// Find and read the configuration for `start` (a file or directory).
pub fn load(start: &Path) -> Result<Config, ConfigError> {
    let start = std::fs::canonicalize(start).unwrap_or_else(|_| start.to_path_buf());
    let mut dir = if start.is_dir() {
        Some(start.as_path())
    } else {
        start.parent()
    };
    while let Some(current) = dir {
        let ixray_toml = current.join("ixray.toml");
        if ixray_toml.is_file() {
            return read(&ixray_toml);
        }
        let pyproject = current.join("pyproject.toml");
        if pyproject.is_file()
            && let Some(config) = read_pyproject(&pyproject)?
        {
            return Ok(config);
        }
        dir = current.parent();
    }
    Ok(Config::default())
}

fn invalid(path: &Path, message: impl ToString) -> ConfigError {
    ConfigError::Invalid {
        path: path.to_path_buf(),
        message: message.to_string(),
    }
}

fn read(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| invalid(path, e))?;
    let parsed: FileConfig = toml::from_str(&text).map_err(|e| invalid(path, e))?;
    convert(parsed, path)
}

fn read_pyproject(path: &Path) -> Result<Option<Config>, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| invalid(path, e))?;
    let parsed: PyProject = toml::from_str(&text).map_err(|e| invalid(path, e))?;
    let Some(value) = parsed.tool.and_then(|t| t.ixray) else {
        return Ok(None);
    };
    let parsed: FileConfig = value.try_into().map_err(|e| invalid(path, e))?;
    convert(parsed, path).map(Some)
}

fn convert(file: FileConfig, path: &Path) -> Result<Config, ConfigError> {
    for rule in file.select.iter().chain(&file.ignore) {
        if crate::rules::rule(rule).is_none() {
            return Err(invalid(path, format!("unknown rule `{rule}`")));
        }
    }
    let dialect = match file.dialect {
        None => None,
        Some(name) => Some(Dialect::parse(&name).ok_or_else(|| {
            invalid(
                path,
                format!("unknown dialect `{name}` (postgresql, mysql, sqlite)"),
            )
        })?),
    };
    Ok(Config {
        select: file.select,
        ignore: file.ignore,
        dialect,
        all_migrations: file.all_migrations,
        read_queries: false,
        path: Some(path.to_path_buf()),
    })
}
