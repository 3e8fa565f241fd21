//! Cheap statement-level reading of Python query code, shared by the
//! frameworks' query extractors: a byte scanner splits a file into logical
//! lines, and only the statements that may hold a query are parsed, all in
//! one tree-sitter call. It knows nothing of any ORM.

use rustc_hash::FxHashMap;
use tree_sitter::Node;

use super::pyexpr::{self, Statement};
use super::python as py;

/// The statements of a file picked for parsing, and its `from` imports.
pub(crate) struct Picked {
    /// `from <module> import <name> [as <local>]`: local → (module, name).
    pub imports: FxHashMap<String, (String, String)>,
    pub lines: Vec<LogicalLine>,
    /// What `self.<name>` and `cls.<name>` stand for in a class's methods:
    /// the class's own `name = Dotted.Name` attributes (a repository's
    /// `model = Order`), by the scope of each function inside the class.
    /// An attribute the class's code assigns again (`self.model = m`) is
    /// left out: its value is not known.
    pub class_names: FxHashMap<usize, Vec<(String, String)>>,
}

/// Pick the statements that `mentions` a query marker (asked with a
/// statement's byte range in `text`), and the later ones
/// of the same function that continue a name such a statement assigned
/// (`qs = ...; qs.order_by(...)`). Top-level `from` imports are read on
/// the way, and with `class_names` the names classes give their attributes.
pub(crate) fn pick(
    text: &str,
    mentions: impl Fn(usize, usize) -> bool,
    class_names: bool,
) -> Picked {
    let mut picked = Picked {
        imports: FxHashMap::default(),
        lines: Vec::new(),
        class_names: FxHashMap::default(),
    };
    let mut classes = Classes::default();
    let mut bound: Vec<&[u8]> = Vec::new();
    let mut scope = usize::MAX;
    for line in logical_lines(text.as_bytes()) {
        if line.scope != scope {
            scope = line.scope;
            bound.clear();
        }
        let snippet = &text[line.start..line.end];
        let bytes = snippet.as_bytes();
        if class_names {
            classes.read(line, snippet);
        }
        if line.indent == 0 && snippet.starts_with("from ") {
            picked.imports.extend(from_import(snippet));
            continue;
        }
        if mentions(line.start, line.end) || bound.iter().any(|name| continues(bytes, name)) {
            if let Some(name) = assigned_name(bytes) {
                bound.push(name);
            }
            picked.lines.push(line);
        } else {
            bound.retain(|name| !assigns(bytes, name));
        }
    }
    picked.class_names = classes.names_by_function();
    picked
}

/// The `def`/`class` scopes of a file as `logical_lines` numbers them (the
/// k-th line that opens one opens scope k), with the classes' attributes.
#[derive(Default)]
struct Classes {
    /// Scope k - 1: whether it is a class, and the scope it is in.
    scopes: Vec<(bool, usize)>,
    /// Class scope → its `name = Dotted.Name` attributes.
    attributes: FxHashMap<usize, Vec<(String, String)>>,
    /// Class scope → the attributes its functions assign (`self.x = ...`).
    reassigned: FxHashMap<usize, Vec<String>>,
}

impl Classes {
    fn read(&mut self, line: LogicalLine, code: &str) {
        let is_class = code.starts_with("class ");
        if is_class || code.starts_with("def ") || code.starts_with("async def ") {
            self.scopes.push((is_class, line.scope));
            return;
        }
        if self.is_class(line.scope) {
            if let Some((name, value)) = class_attribute(code) {
                self.attributes
                    .entry(line.scope)
                    .or_default()
                    .push((name.into(), value.into()));
            }
        } else if let Some(class) = self.class_of(line.scope)
            && let Some(name) = ["self.", "cls."]
                .iter()
                .find_map(|receiver| code.strip_prefix(receiver))
                .and_then(|rest| assigned_name(rest.as_bytes()))
        {
            let name = String::from_utf8_lossy(name).into_owned();
            self.reassigned.entry(class).or_default().push(name);
        }
    }

    fn is_class(&self, scope: usize) -> bool {
        scope > 0 && self.scopes.get(scope - 1).is_some_and(|(class, _)| *class)
    }

    /// The class whose method `scope` is, or is nested in.
    fn class_of(&self, mut scope: usize) -> Option<usize> {
        while scope > 0 {
            let (class, parent) = *self.scopes.get(scope - 1)?;
            if class {
                return None;
            }
            if self.is_class(parent) {
                return Some(parent);
            }
            scope = parent;
        }
        None
    }

    fn names_by_function(&self) -> FxHashMap<usize, Vec<(String, String)>> {
        let mut by_function = FxHashMap::default();
        if self.attributes.is_empty() {
            return by_function;
        }
        for function in 1..=self.scopes.len() {
            let Some(class) = self.class_of(function) else {
                continue;
            };
            let Some(attributes) = self.attributes.get(&class) else {
                continue;
            };
            let reassigned = self.reassigned.get(&class);
            let names: Vec<(String, String)> = attributes
                .iter()
                .filter(|(name, _)| !reassigned.is_some_and(|r| r.contains(name)))
                .cloned()
                .collect();
            if !names.is_empty() {
                by_function.insert(function, names);
            }
        }
        by_function
    }
}

/// `model = Order` or `model: type[Order] = models.Order` in a class
/// body: the attribute and the (dotted) name it is given.
fn class_attribute(code: &str) -> Option<(&str, &str)> {
    let (target, value) = code.split_once('=')?;
    let name = target.split(':').next()?.trim();
    let value = value.trim();
    let plain = |s: &str| {
        !s.is_empty()
            && s.split('.').all(|part| {
                part.bytes().next().is_some_and(|b| !b.is_ascii_digit())
                    && part.bytes().all(is_identifier_byte)
            })
    };
    (plain(name) && !name.contains('.') && plain(value)).then_some((name, value))
}

/// Parse the picked statements and hand each top-level statement node to
/// `visit` in file order, with the text it was parsed from, the shift from
/// a position in that text to one in the file, whether it starts a new
/// scope (function or class) since the previous one, and its scope.
pub(crate) fn visit_statements(
    text: &str,
    lines: &[LogicalLine],
    mut visit: impl FnMut(Node, &str, isize, bool, usize),
) {
    let mut scope = usize::MAX;
    parse_lines(text, lines, |i, statement, code, shift, first| {
        let new_scope = first && lines[i].scope != scope;
        if first {
            scope = lines[i].scope;
        }
        visit(statement, code, shift, new_scope, lines[i].scope);
    });
}

/// How statements are read (see [`read_statements`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reading {
    /// `pyexpr`'s fast reader, tree-sitter for the lines it does not know.
    Fast,
    /// Tree-sitter for every line: what the fast reader must agree with.
    #[cfg_attr(not(test), allow(dead_code))]
    TreeSitter,
}

/// Read the picked statements and hand each line's statements to `visit`
/// in file order, with whether the line starts a new scope (function or
/// class) since the previous one. Spans are the file's. Most lines are
/// read by `pyexpr`'s fast reader; the few it does not know are parsed
/// with tree-sitter, all in one call.
pub(crate) fn read_statements(
    text: &str,
    lines: &[LogicalLine],
    reading: Reading,
    mut visit: impl FnMut(&[Statement], bool),
) {
    let mut read: Vec<Vec<Statement>> = Vec::with_capacity(lines.len());
    let mut unread = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let fast = match reading {
            Reading::Fast => pyexpr::read_statement(text, line.start, line.end),
            Reading::TreeSitter => None,
        };
        match fast {
            Some(statement) => read.push(vec![statement]),
            None => {
                read.push(Vec::new());
                unread.push(i);
            }
        }
    }
    if !unread.is_empty() {
        let others: Vec<LogicalLine> = unread.iter().map(|i| lines[*i]).collect();
        parse_lines(text, &others, |i, statement, code, shift, _| {
            read[unread[i]].extend(pyexpr::statements_from_tree(statement, code, shift));
        });
    }
    let mut scope = usize::MAX;
    for (line, statements) in lines.iter().zip(&read) {
        visit(statements, line.scope != scope);
        scope = line.scope;
    }
}

/// Parse the lines with tree-sitter and hand each top-level statement
/// node to `visit` in file order, with its line's index, the text it was
/// parsed from, the shift from a position in that text to one in the
/// file, and whether it is the line's first statement.
fn parse_lines(
    text: &str,
    lines: &[LogicalLine],
    mut visit: impl FnMut(usize, Node, &str, isize, bool),
) {
    if lines.is_empty() {
        return;
    }
    // One parse for all of them, each at the start of a line of its own:
    // parsing costs mostly per call, and a file may have hundreds.
    let mut code = String::new();
    let mut starts = Vec::with_capacity(lines.len());
    for line in lines {
        starts.push(code.len());
        push_statement(&mut code, &text[line.start..line.end]);
        code.push('\n');
    }
    let tree = py::parse(&code);
    if tree.root_node().has_error() {
        // A statement the scanner cut wrongly must not spoil the others.
        for (i, line) in lines.iter().enumerate() {
            let mut one = String::new();
            push_statement(&mut one, &text[line.start..line.end]);
            let tree = py::parse(&one);
            let root = tree.root_node();
            let mut cursor = root.walk();
            for (k, statement) in root.named_children(&mut cursor).enumerate() {
                visit(i, statement, &one, line.start as isize, k == 0);
            }
        }
    } else {
        let root = tree.root_node();
        let mut cursor = root.walk();
        let mut last = usize::MAX;
        for statement in root.named_children(&mut cursor) {
            let at = starts.partition_point(|s| *s <= statement.start_byte());
            let Some(i) = at.checked_sub(1) else {
                continue;
            };
            // Spans in `code` shift to the file.
            let shift = lines[i].start as isize - starts[i] as isize;
            visit(i, statement, &code, shift, i != last);
            last = i;
        }
    }
}

/// Whether a file is test code: its queries say nothing about what the
/// application asks of the database in production.
pub fn is_test_path(path: &std::path::Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    name.starts_with("test_")
        || name.ends_with("_test.py")
        || name.ends_with("_tests.py")
        || name == "tests.py"
        || name == "conftest.py"
        || path
            .components()
            .any(|c| matches!(c.as_os_str().to_str(), Some("tests" | "test" | "testing")))
}

/// Append a statement so that it parses alone: a compound statement's
/// header gets a body, `elif` becomes `if` (same length, same offsets).
pub(crate) fn push_statement(code: &mut String, statement: &str) {
    match statement.strip_prefix("elif") {
        Some(rest) => {
            code.push_str("if  ");
            code.push_str(rest);
        }
        None => code.push_str(statement),
    }
    if statement.ends_with(':') {
        code.push_str(" pass");
    }
}

/// The name a statement assigns (`qs = ...`), if it starts so.
pub(crate) fn assigned_name(bytes: &[u8]) -> Option<&[u8]> {
    let end = bytes.iter().position(|b| !is_identifier_byte(*b))?;
    (end > 0 && assigns(bytes, &bytes[..end])).then(|| &bytes[..end])
}

/// Whether a statement uses `name` as the start of a chain: `name.` or
/// `name[`, with no identifier character before it.
pub(crate) fn continues(bytes: &[u8], name: &[u8]) -> bool {
    memchr::memmem::find_iter(bytes, name).any(|at| {
        let before_ok = at == 0 || !is_identifier_byte(bytes[at - 1]) && bytes[at - 1] != b'.';
        before_ok && matches!(bytes.get(at + name.len()), Some(b'.' | b'['))
    })
}

/// Whether a statement starts by assigning to `name`.
pub(crate) fn assigns(bytes: &[u8], name: &[u8]) -> bool {
    bytes.starts_with(name)
        && bytes[name.len()..]
            .iter()
            .find(|b| **b != b' ')
            .is_some_and(|b| *b == b'=')
        && bytes
            .get(name.len()..)
            .is_some_and(|rest| !rest.trim_ascii_start().starts_with(b"=="))
}

pub(crate) fn is_identifier_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// One logical line of Python: a statement's text from its first
/// character to its end (before a trailing comment), its indentation, and
/// the function or class it belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LogicalLine {
    pub start: usize,
    pub end: usize,
    pub indent: usize,
    /// Index of the innermost enclosing `def`/`class` line's scope; 0 is
    /// the module.
    pub scope: usize,
}

/// Split Python source into logical lines with a single byte scan:
/// brackets, strings (all quote and prefix forms), comments, backslash
/// continuations and `;` are honoured. Blank and comment-only lines give
/// nothing.
pub(crate) fn logical_lines(bytes: &[u8]) -> Vec<LogicalLine> {
    let mut lines = Vec::new();
    // Open `def`/`class` blocks: (indent, scope id).
    let mut scopes: Vec<(usize, usize)> = Vec::new();
    let mut next_scope = 1;
    let mut i = 0;
    let n = bytes.len();
    let mut line_indent = 0;
    let mut at_line_start = true;
    while i < n {
        // At the start of a physical line: measure indentation.
        if at_line_start {
            let mut width = 0;
            while i < n && (bytes[i] == b' ' || bytes[i] == b'\t') {
                width += if bytes[i] == b'\t' { 8 } else { 1 };
                i += 1;
            }
            line_indent = width;
            at_line_start = false;
            continue;
        }
        match bytes[i] {
            b'\n' | b'\r' => {
                i += 1;
                at_line_start = true;
            }
            b' ' | b'\t' | b';' | b'\x0c' => i += 1,
            b'#' => {
                while i < n && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'\\' => i += 2,
            _ => {
                let start = i;
                let (end, next) = statement_end(bytes, i);
                let indent = line_indent;
                while scopes.last().is_some_and(|(open, _)| *open >= indent) {
                    scopes.pop();
                }
                let scope = scopes.last().map_or(0, |(_, id)| *id);
                lines.push(LogicalLine {
                    start,
                    end,
                    indent,
                    scope,
                });
                let text = &bytes[start..end];
                let opens = [&b"def "[..], b"async def ", b"class "]
                    .iter()
                    .any(|k| text.starts_with(k));
                if opens {
                    scopes.push((indent, next_scope));
                    next_scope += 1;
                }
                i = next;
                if i < n && bytes[i - 1] == b'\n' {
                    at_line_start = true;
                }
            }
        }
    }
    lines
}

/// Where the statement starting at `start` ends (before a trailing
/// comment and whitespace), and where scanning goes on.
fn statement_end(bytes: &[u8], start: usize) -> (usize, usize) {
    let n = bytes.len();
    let mut depth = 0usize;
    let mut i = start;
    let mut code_end = start;
    while i < n {
        let b = bytes[i];
        match b {
            b'(' | b'[' | b'{' => {
                depth += 1;
                i += 1;
                code_end = i;
            }
            b')' | b']' | b'}' => {
                depth = depth.saturating_sub(1);
                i += 1;
                code_end = i;
            }
            b'#' => {
                while i < n && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'\\' => {
                i += 2;
                code_end = i.min(n);
            }
            b'\n' if depth == 0 => return (code_end, i + 1),
            b';' if depth == 0 => return (code_end, i + 1),
            b'\'' | b'"' => {
                i = string_end(bytes, i);
                code_end = i;
            }
            b' ' | b'\t' | b'\r' | b'\n' => i += 1,
            _ => {
                // A run of ordinary bytes (names, operators): most of the
                // text, skipped in a tight loop.
                i += 1;
                while i < n && ORDINARY[bytes[i] as usize] {
                    i += 1;
                }
                code_end = i;
            }
        }
    }
    (code_end, n)
}

/// Bytes `statement_end` has nothing to decide about.
static ORDINARY: [bool; 256] = {
    let mut table = [true; 256];
    let special = b"()[]{}#\\\n;'\" \t\r";
    let mut k = 0;
    while k < special.len() {
        table[special[k] as usize] = false;
        k += 1;
    }
    table
};

/// The end of the string literal whose opening quote is at `i` (prefix
/// letters are ordinary bytes before it).
fn string_end(bytes: &[u8], i: usize) -> usize {
    let n = bytes.len();
    let quote = bytes[i];
    let triple = i + 2 < n && bytes[i + 1] == quote && bytes[i + 2] == quote;
    let mut j = if triple { i + 3 } else { i + 1 };
    while j < n {
        match bytes[j] {
            b'\\' => j += 2,
            b if b == quote => {
                if !triple {
                    return j + 1;
                }
                if j + 2 < n && bytes[j + 1] == quote && bytes[j + 2] == quote {
                    return j + 3;
                }
                j += 1;
            }
            // An unterminated one-line string ends with its line.
            b'\n' if !triple => return j,
            _ => j += 1,
        }
    }
    n
}

/// The names a `from <module> import a, b as c` statement binds: local
/// name → (module, imported name). Comments were cut off by the scanner
/// only after the statement; those inside parentheses go here.
pub(crate) fn from_import(statement: &str) -> Vec<(String, (String, String))> {
    let Some(rest) = statement.strip_prefix("from ") else {
        return Vec::new();
    };
    let Some((module, names)) = rest.split_once(" import ") else {
        return Vec::new();
    };
    let module = module.trim();
    // Comments inside parentheses end at their line.
    let without_comments: String;
    let names = if names.contains('#') {
        without_comments = names
            .lines()
            .map(|l| l.split('#').next().unwrap_or(""))
            .collect::<Vec<_>>()
            .join(" ");
        without_comments.as_str()
    } else {
        names
    };
    // Names are ASCII identifiers or any non-ASCII letters (Python's own
    // check is left to Python: what passes here is only looked up).
    let ok = |w: &str| {
        w.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80)
    };
    names
        .trim()
        .trim_start_matches('(')
        .trim_end_matches(')')
        .split(',')
        .filter_map(|item| {
            let mut words = item.split_whitespace();
            let imported = words.next()?;
            let local = match (words.next(), words.next()) {
                (Some("as"), Some(alias)) => alias,
                (None, _) => imported,
                _ => return None,
            };
            (ok(imported) && ok(local) && imported != "*").then(|| {
                (
                    local.to_string(),
                    (module.to_string(), imported.to_string()),
                )
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_imports_bind_their_local_names() {
        let pairs = |statement: &str| {
            from_import(statement)
                .into_iter()
                .map(|(local, (module, name))| format!("{local}={module}:{name}"))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            pairs("from shop.models import Order, Line as L"),
            ["Order=shop.models:Order", "L=shop.models:Line"]
        );
        assert_eq!(
            pairs("from .models import (\n    Order,  # the orders\n    Café as C,\n)"),
            ["Order=.models:Order", "C=.models:Café"]
        );
        assert!(pairs("from x import *").is_empty());
        assert!(pairs("from x import a.b").is_empty());
        assert!(pairs("import x").is_empty());
    }

    #[test]
    fn logical_lines_honour_brackets_strings_comments_and_scopes() {
        let code = "import x\n\ndef f(a):\n    q = X.objects.filter(\n        a=\")(\",  # )\n        b=\"\"\"\n)\"\"\")\n    y = 1; z = \\\n        2\n    class C:\n        w = 3\n    v = 4\nu = 5\n";
        let lines = logical_lines(code.as_bytes());
        let texts: Vec<(&str, usize)> = lines
            .iter()
            .map(|l| (&code[l.start..l.end], l.scope))
            .collect();
        assert_eq!(
            texts,
            [
                ("import x", 0),
                ("def f(a):", 0),
                (
                    "q = X.objects.filter(\n        a=\")(\",  # )\n        b=\"\"\"\n)\"\"\")",
                    1
                ),
                ("y = 1", 1),
                ("z = \\\n        2", 1),
                ("class C:", 1),
                ("w = 3", 2),
                ("v = 4", 1),
                ("u = 5", 0),
            ]
        );
    }
}
