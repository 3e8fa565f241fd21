//! Configuration: `ixray.toml`, or `[tool.ixray]` in `pyproject.toml`, found
//! from the checked path upwards; command-line options override it.

use std::path::{Component, Path, PathBuf};

use globset::{Glob, GlobSet, GlobSetBuilder};
use serde::Deserialize;

use crate::schema::Dialect;

#[derive(Debug, Clone)]
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
    /// New migrations build indexes with CONCURRENTLY on PostgreSQL (the
    /// default); false writes plain `CREATE INDEX` (small tables, or a
    /// deploy that accepts the lock), and `non-concurrent-index` is off.
    pub concurrent_indexes: bool,
    /// Read the project's query code into access patterns even when no
    /// enabled rule uses them (`ixray schema`).
    pub read_queries: bool,
    /// The file the configuration came from.
    pub path: Option<PathBuf>,
    /// What git has not merged, when a long-running caller (the language
    /// server) looked it up once instead of on every analysis.
    pub unmerged: Option<std::sync::Arc<Vec<crate::vcs::Unmerged>>>,
    /// Paths never read (`exclude`), besides the folders ixray always
    /// skips; each set keeps the folder its patterns are relative to.
    pub exclude: Vec<PathGlobs>,
    /// More paths never read (`extend-exclude`).
    pub extend_exclude: Vec<PathGlobs>,
    /// Rules not reported for findings in the paths matching each glob.
    pub per_path_ignores: Vec<(PathGlobs, Vec<String>)>,
}

/// Globs over paths, as ruff reads `exclude`: a pattern without `/`
/// matches a file or folder name anywhere (`legacy`, `*_pb2.py`); one with
/// `/` matches a path relative to the folder it was written for (the
/// configuration file's folder, or the current folder for command-line
/// options).
#[derive(Debug, Clone, Default)]
pub struct PathGlobs {
    names: GlobSet,
    paths: GlobSet,
    patterns: Vec<String>,
    /// The current folder, which relative walked paths start from.
    cwd: PathBuf,
}

impl PathGlobs {
    /// Compile `patterns`, anchoring those with `/` at `base`.
    pub fn new(patterns: &[String], base: &Path) -> Result<PathGlobs, String> {
        let cwd = std::env::current_dir().unwrap_or_default();
        let base = absolute(base, &cwd);
        let mut names = GlobSetBuilder::new();
        let mut paths = GlobSetBuilder::new();
        for pattern in patterns {
            let trimmed = pattern.trim_end_matches('/');
            let bad = |e: globset::Error| format!("invalid glob `{pattern}`: {e}");
            if trimmed.contains('/') {
                let anchored = base.join(trimmed.trim_start_matches("./"));
                let anchored = anchored.to_string_lossy();
                paths.add(Glob::new(&anchored).map_err(bad)?);
                // A folder's pattern covers what is inside it.
                paths.add(Glob::new(&format!("{anchored}/**")).map_err(bad)?);
            } else {
                names.add(Glob::new(trimmed).map_err(bad)?);
            }
        }
        Ok(PathGlobs {
            names: names.build().map_err(|e| e.to_string())?,
            paths: paths.build().map_err(|e| e.to_string())?,
            patterns: patterns.to_vec(),
            cwd,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Whether `path` (as walked, relative to the current folder or
    /// absolute) matches: its own name or any folder name on the way, or
    /// the whole path.
    pub fn matches(&self, path: &Path) -> bool {
        if self.patterns.is_empty() {
            return false;
        }
        let absolute = absolute(path, &self.cwd);
        if !self.paths.is_empty() && self.paths.is_match(&absolute) {
            return true;
        }
        !self.names.is_empty()
            && absolute
                .components()
                .any(|c| matches!(c, Component::Normal(name) if self.names.is_match(name)))
    }
}

/// `path` made absolute against the current folder, without `.` parts
/// (the walk's paths start with `./`); links are not resolved.
fn absolute(path: &Path, cwd: &Path) -> PathBuf {
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        cwd.join(path)
    };
    let mut out = PathBuf::new();
    for component in joined.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

impl Default for Config {
    fn default() -> Config {
        Config {
            select: Vec::new(),
            ignore: Vec::new(),
            dialect: None,
            all_migrations: false,
            concurrent_indexes: true,
            read_queries: false,
            path: None,
            unmerged: None,
            exclude: Vec::new(),
            extend_exclude: Vec::new(),
            per_path_ignores: Vec::new(),
        }
    }
}

impl Config {
    /// Whether no rule is left out (a bare `ixray: ignore` that silences
    /// nothing is unused only then).
    pub fn every_rule_enabled(&self) -> bool {
        self.select.is_empty() && self.ignore.is_empty()
    }

    /// Whether the configuration's per-path ignores silence `rule` for
    /// findings in `path`.
    pub fn ignored_for_path(&self, path: &Path, rule: &str) -> bool {
        self.per_path_ignores
            .iter()
            .any(|(globs, rules)| rules.iter().any(|r| r == rule) && globs.matches(path))
    }

    /// Apply the command line's selection over the file's, as ruff does:
    /// a rule the command line selects runs even when the file ignores it.
    pub fn select_on_command_line(&mut self, select: &[String], ignore: &[String]) {
        if !select.is_empty() {
            self.ignore.retain(|r| !select.contains(r));
            self.select = select.to_vec();
        }
        self.ignore.extend(ignore.iter().cloned());
    }

    /// `--exclude` (replaces the file's `exclude`) and `--extend-exclude`
    /// (adds to it), relative to the current folder.
    pub fn exclude_on_command_line(
        &mut self,
        exclude: &[String],
        extend: &[String],
    ) -> Result<(), ConfigError> {
        let cwd = std::env::current_dir().unwrap_or_default();
        let bad = |message: String| invalid(Path::new("--exclude"), message);
        if !exclude.is_empty() {
            self.exclude = vec![PathGlobs::new(exclude, &cwd).map_err(bad)?];
        }
        if !extend.is_empty() {
            self.extend_exclude
                .push(PathGlobs::new(extend, &cwd).map_err(bad)?);
        }
        Ok(())
    }

    /// Whether the walk leaves `path` out.
    pub fn excluded(&self, path: &Path) -> bool {
        self.exclude
            .iter()
            .chain(&self.extend_exclude)
            .any(|g| g.matches(path))
    }

    pub fn rule_enabled(&self, rule: &str) -> bool {
        if rule == "non-concurrent-index" && !self.concurrent_indexes {
            return false;
        }
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
    concurrent_indexes: Option<bool>,
    #[serde(default)]
    exclude: Vec<String>,
    #[serde(default)]
    extend_exclude: Vec<String>,
    /// Glob → rules not reported for findings in matching paths.
    #[serde(default)]
    per_file_ignores: std::collections::BTreeMap<String, Vec<String>>,
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

/// Read the configuration file the user named (`--config FILE`): an
/// `ixray.toml`, or a `pyproject.toml` with a `[tool.ixray]` table.
pub fn load_file(path: &Path) -> Result<Config, ConfigError> {
    let absolute = std::fs::canonicalize(path).map_err(|e| invalid(path, e))?;
    if absolute.file_name().is_some_and(|n| n == "pyproject.toml") {
        return read_pyproject(&absolute)?.ok_or_else(|| invalid(path, "no [tool.ixray] table"));
    }
    read(&absolute)
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
    let base = path.parent().unwrap_or(Path::new("."));
    let globs = |patterns: &[String]| -> Result<Vec<PathGlobs>, ConfigError> {
        if patterns.is_empty() {
            return Ok(Vec::new());
        }
        Ok(vec![
            PathGlobs::new(patterns, base).map_err(|e| invalid(path, e))?,
        ])
    };
    let mut per_path_ignores = Vec::new();
    for (pattern, rules) in &file.per_file_ignores {
        for rule in rules {
            if crate::rules::rule(rule).is_none() {
                return Err(invalid(
                    path,
                    format!("unknown rule `{rule}` in per-file-ignores"),
                ));
            }
        }
        let globs =
            PathGlobs::new(std::slice::from_ref(pattern), base).map_err(|e| invalid(path, e))?;
        per_path_ignores.push((globs, rules.clone()));
    }
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
        concurrent_indexes: file.concurrent_indexes.unwrap_or(true),
        read_queries: false,
        path: Some(path.to_path_buf()),
        unmerged: None,
        exclude: globs(&file.exclude)?,
        extend_exclude: globs(&file.extend_exclude)?,
        per_path_ignores,
    })
}
