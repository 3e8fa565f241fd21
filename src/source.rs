//! Source files, byte spans and text edits. Offsets are bytes everywhere in the
//! core; line/column conversion happens only here, at the edges.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;

/// A half-open byte range `[start, end)` in one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Self {
        Span { start, end }
    }
}

/// How many items two sequences share at the start, and then at the end
/// of what is left: the one span where they differ lies between.
pub fn common_affixes<T: PartialEq>(old: &[T], new: &[T]) -> (usize, usize) {
    let prefix = old.iter().zip(new).take_while(|(a, b)| a == b).count();
    let suffix = old[prefix..]
        .iter()
        .rev()
        .zip(new[prefix..].iter().rev())
        .take_while(|(a, b)| a == b)
        .count();
    (prefix, suffix)
}

/// File contents that stand in for what is on disk: `fix` analyzes the
/// project as it will be once a plan is written, before writing it.
#[derive(Debug, Default, Clone)]
pub struct Overlay {
    files: std::collections::BTreeMap<PathBuf, String>,
    /// An editor's buffers as last parsed, so that a changed buffer is
    /// parsed again incrementally (`ixray lsp`).
    trees: Option<TreeCache>,
}

/// Python trees by path, with the (prepared) text each was parsed from.
pub type TreeCache =
    Arc<std::sync::Mutex<std::collections::BTreeMap<PathBuf, (String, tree_sitter::Tree)>>>;

impl Overlay {
    pub fn new(files: std::collections::BTreeMap<PathBuf, String>) -> Overlay {
        Overlay { files, trees: None }
    }

    /// Keep the Python trees of the overlay's files in `cache`, and parse
    /// them again from there.
    pub fn with_tree_cache(mut self, cache: TreeCache) -> Overlay {
        self.trees = Some(cache);
        self
    }

    /// Parse a Python file's [`prepared`](crate::frameworks::python::prepared)
    /// text: incrementally from its previous tree when the file is one of
    /// the overlay's and the cache holds one.
    pub fn parse_python(
        &self,
        path: &Path,
        text: &str,
        shape: crate::frameworks::python::Shape,
    ) -> tree_sitter::Tree {
        use crate::frameworks::python;
        let prepared = python::prepared(text, shape);
        let Some(cache) = self
            .trees
            .as_ref()
            .filter(|_| self.files.contains_key(path))
        else {
            return python::parse(&prepared);
        };
        let previous = cache.lock().expect("no panics while locked").remove(path);
        let tree = python::reparse(
            &prepared,
            previous
                .as_ref()
                .map(|(old, tree)| (old.as_str(), tree.clone())),
        );
        cache
            .lock()
            .expect("no panics while locked")
            .insert(path.to_path_buf(), (prepared.into_owned(), tree.clone()));
        tree
    }

    pub fn get(&self, path: &Path) -> Option<&str> {
        self.files.get(path).map(String::as_str)
    }

    /// The paths the overlay holds.
    pub fn paths(&self) -> impl Iterator<Item = &PathBuf> {
        self.files.keys()
    }

    pub fn read_to_string(&self, path: &Path) -> std::io::Result<String> {
        match self.get(path) {
            Some(text) => Ok(text.to_string()),
            None => std::fs::read_to_string(path),
        }
    }
}

/// A file that was read and decoded; shared between facts that point into it.
#[derive(Debug)]
pub struct SourceFile {
    pub path: PathBuf,
    pub text: String,
    pub lines: LineIndex,
}

impl SourceFile {
    pub fn new(path: PathBuf, text: String) -> Arc<SourceFile> {
        let lines = LineIndex::new(&text);
        Arc::new(SourceFile { path, text, lines })
    }

    pub fn location(&self, span: Span) -> Location {
        let (line, column) = self.lines.line_col(&self.text, span.start);
        let (end_line, end_column) = self.lines.line_col(&self.text, span.end);
        Location {
            path: self.path.clone(),
            span,
            line,
            column,
            end_line,
            end_column,
        }
    }

    pub fn slice(&self, span: Span) -> &str {
        &self.text[span.start..span.end]
    }
}

/// Start offsets of lines, for byte offset → (line, column) conversion.
#[derive(Debug, Clone)]
pub struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    pub fn new(text: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(memchr::memchr_iter(b'\n', text.as_bytes()).map(|i| i + 1));
        LineIndex { starts }
    }

    /// 0-based line number of a byte offset.
    pub fn line_of(&self, offset: usize) -> usize {
        match self.starts.binary_search(&offset) {
            Ok(line) => line,
            Err(next) => next - 1,
        }
    }

    pub fn line_start(&self, line: usize) -> usize {
        self.starts[line]
    }

    /// 1-based line and 1-based column counted in characters.
    pub fn line_col(&self, text: &str, offset: usize) -> (usize, usize) {
        let offset = offset.min(text.len());
        let line = self.line_of(offset);
        let start = self.starts[line];
        let column = text[start..offset].chars().count() + 1;
        (line + 1, column)
    }

    /// The text of a 0-based line without its line terminator.
    pub fn line_text<'t>(&self, text: &'t str, line: usize) -> &'t str {
        let start = self.starts[line];
        let end = self.starts.get(line + 1).copied().unwrap_or(text.len());
        text[start..end].trim_end_matches(['\n', '\r'])
    }
}

/// A resolved position in a file: the byte span plus 1-based line/column.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Location {
    pub path: PathBuf,
    #[serde(skip)]
    pub span: Span,
    pub line: usize,
    pub column: usize,
    pub end_line: usize,
    pub end_column: usize,
}

/// Replace the bytes of `span` with `content` (an insertion has an empty span).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Edit {
    pub span: Span,
    pub content: String,
}

impl Edit {
    pub fn insert(at: usize, content: impl Into<String>) -> Self {
        Edit {
            span: Span::new(at, at),
            content: content.into(),
        }
    }

    pub fn replace(span: Span, content: impl Into<String>) -> Self {
        Edit {
            span,
            content: content.into(),
        }
    }
}

/// One change to the file system that a fix makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileChange {
    /// Edits to an existing file, against the text that was analyzed.
    Edit { path: PathBuf, edits: Vec<Edit> },
    /// A new file, such as a migration.
    Create { path: PathBuf, contents: String },
}

/// The model edits and new migration files of one migration unit (a Django
/// app, an Alembic environment, a drizzle-kit folder or a schema without
/// one): checked together and written together, or not at all, so that
/// models and migrations never disagree.
#[derive(Debug, Clone)]
pub struct ChangeSet {
    /// For people: `app `shop``, `Alembic environment migrations/`.
    pub unit: String,
    pub changes: Vec<FileChange>,
}

impl ChangeSet {
    /// Group `edits` (by file) and `migrations` (by unit) into change sets:
    /// each edited file joins the unit `unit_of` names for it, each
    /// migration its own unit. A unit whose migration could not be made
    /// (`Err`) is withheld whole, model edits included, with the reason.
    pub fn group<K: Ord + Clone>(
        edits: std::collections::BTreeMap<PathBuf, Vec<Edit>>,
        unit_of: impl Fn(&Path) -> Option<K>,
        migrations: std::collections::BTreeMap<K, Result<Vec<FileChange>, String>>,
        name: impl Fn(&K) -> String,
    ) -> (Vec<ChangeSet>, Vec<(String, String)>) {
        let mut units: std::collections::BTreeMap<Option<K>, Vec<FileChange>> =
            std::collections::BTreeMap::new();
        for (path, edits) in edits {
            let unit = unit_of(&path);
            units
                .entry(unit)
                .or_default()
                .push(FileChange::Edit { path, edits });
        }
        let mut withheld = Vec::new();
        for (unit, migration) in migrations {
            match migration {
                Ok(files) => units.entry(Some(unit)).or_default().extend(files),
                Err(reason) => {
                    let dropped = units.remove(&Some(unit.clone())).unwrap_or_default();
                    let files: Vec<String> = dropped
                        .iter()
                        .map(|c| c.path().display().to_string())
                        .collect();
                    let what = if files.is_empty() {
                        String::new()
                    } else {
                        format!("; its model edits ({}) are withheld too", files.join(", "))
                    };
                    withheld.push((name(&unit), format!("{reason}{what}")));
                }
            }
        }
        let sets = units
            .into_iter()
            .map(|(unit, changes)| ChangeSet {
                unit: unit.as_ref().map_or_else(|| "models".to_string(), &name),
                changes,
            })
            .collect();
        (sets, withheld)
    }
}

impl FileChange {
    pub fn path(&self) -> &Path {
        match self {
            FileChange::Edit { path, .. } | FileChange::Create { path, .. } => path,
        }
    }
}

/// Apply non-overlapping edits to `text`. Edits are sorted by position; an edit
/// that overlaps one already applied is skipped (and reported as `false`).
pub fn apply_edits(text: &str, edits: &[Edit]) -> (String, bool) {
    let mut sorted: Vec<&Edit> = edits.iter().collect();
    sorted.sort_by_key(|e| (e.span.start, e.span.end));
    let mut out = String::with_capacity(text.len() + 256);
    let mut cursor = 0;
    let mut all_applied = true;
    for edit in sorted {
        if edit.span.start < cursor || edit.span.end > text.len() {
            all_applied = false;
            continue;
        }
        out.push_str(&text[cursor..edit.span.start]);
        out.push_str(&edit.content);
        cursor = edit.span.end;
    }
    out.push_str(&text[cursor..]);
    (out, all_applied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_is_one_based_and_counts_chars() {
        let text = "ab\nçd\n";
        let index = LineIndex::new(text);
        assert_eq!(index.line_col(text, 0), (1, 1));
        assert_eq!(index.line_col(text, 3), (2, 1));
        // 'ç' is two bytes: the 'd' after it is the second character.
        assert_eq!(index.line_col(text, 5), (2, 2));
        assert_eq!(index.line_text(text, 1), "çd");
    }

    #[test]
    fn edits_apply_in_order_and_skip_overlaps() {
        let text = "hello world";
        let edits = vec![
            Edit::replace(Span::new(6, 11), "there"),
            Edit::insert(0, ">> "),
            Edit::replace(Span::new(8, 9), "X"),
        ];
        let (out, all) = apply_edits(text, &edits);
        assert_eq!(out, ">> hello there");
        assert!(!all);
    }
}
