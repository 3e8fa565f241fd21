//! Python parsing shared by the Python frameworks: one tree-sitter parser per
//! thread, compiled queries, and small readers for literals and calls.

use std::borrow::Cow;
use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use tree_sitter::{Language, Node, Parser, Tree};

use crate::source::{Edit, Span};

pub use super::syntax::{SyntaxError, first_error, indentation_at, span, text};

pub static LANGUAGE: LazyLock<Language> = LazyLock::new(|| tree_sitter_python::LANGUAGE.into());

/// Field ids by name, looked up once: `child_by_field_name` compares the
/// name with the grammar's field names one by one on every call, which
/// cost about 2% of a check.
static FIELD_IDS: LazyLock<rustc_hash::FxHashMap<&'static str, u16>> = LazyLock::new(|| {
    let language: &'static Language = &LANGUAGE;
    (1..=language.field_count() as u16)
        .filter_map(|id| Some((language.field_name_for_id(id)?, id)))
        .collect()
});

/// `node.field("body")`: a Python node's child by field name, through
/// [`FIELD_IDS`].
pub trait Fields<'t> {
    fn field(&self, name: &str) -> Option<Node<'t>>;
}

impl<'t> Fields<'t> for Node<'t> {
    fn field(&self, name: &str) -> Option<Node<'t>> {
        self.child_by_field_id(*FIELD_IDS.get(name)?)
    }
}

thread_local! {
    static PARSER: RefCell<Parser> = RefCell::new({
        let mut parser = Parser::new();
        parser
            .set_language(&LANGUAGE)
            .expect("the tree-sitter-python grammar matches the tree-sitter core");
        parser
    });
}

pub fn parse(text: &str) -> Tree {
    PARSER.with(|parser| {
        parser
            .borrow_mut()
            .parse(text, None)
            .expect("parsing without a timeout or cancellation always yields a tree")
    })
}

/// Comment-only lines in a row beyond which the grammar's scanner, which
/// looks past every following comment line at each one, gets slow
/// (quadratic: 5,000 lines take half a second).
const COMMENT_RUN: usize = 200;

/// How much of a file its readers walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Every statement: Alembic revisions read `upgrade()`, SQLAlchemy
    /// reads `@declared_attr` methods.
    Whole,
    /// Classes, module-level statements and function headers, not function
    /// bodies: what Django models, settings and app configs are read from.
    Outline,
}

/// The text tree-sitter is given for a file: the same bytes at the same
/// offsets, with parts no reader walks blanked out (Python ignores both).
/// Long runs of comment-only lines become blank lines, since the grammar's
/// scanner is quadratic in them; with [`Shape::Outline`], each function
/// body becomes one placeholder statement (`(...)` or `0`) from where the
/// body's first statement started to where its last ended, so the nodes
/// around it keep their spans. A syntax error inside a blanked body is then not seen.
pub fn prepared(text: &str, shape: Shape) -> Cow<'_, str> {
    let mut blanked: Option<Vec<u8>> = None;
    let runs = comment_runs(text);
    if !runs.is_empty() {
        let bytes = blanked.get_or_insert_with(|| text.as_bytes().to_vec());
        for (from, to) in runs {
            blank(&mut bytes[from..to]);
        }
    }
    if shape == Shape::Outline {
        blank_function_bodies(text.as_bytes(), &mut blanked);
    }
    match blanked {
        // Only ASCII bytes were replaced, and only whole tokens, strings
        // and comments: still UTF-8.
        Some(bytes) => Cow::Owned(String::from_utf8(bytes).expect("still UTF-8")),
        None => Cow::Borrowed(text),
    }
}

/// Spaces for every byte but line breaks.
fn blank(bytes: &mut [u8]) {
    for byte in bytes {
        if !matches!(*byte, b'\n' | b'\r') {
            *byte = b' ';
        }
    }
}

/// Runs of more than [`COMMENT_RUN`] comment-only lines: their byte ranges.
fn comment_runs(text: &str) -> Vec<(usize, usize)> {
    let mut runs = Vec::new();
    let mut start = None;
    let mut count = 0;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if line.trim_start().starts_with('#') {
            if start.is_none() {
                start = Some(offset);
                count = 0;
            }
            count += 1;
        } else if let Some(at) = start.take()
            && count > COMMENT_RUN
        {
            runs.push((at, offset));
        }
        offset += line.len();
    }
    if let Some(at) = start
        && count > COMMENT_RUN
    {
        runs.push((at, offset));
    }
    runs
}

/// Replace the body of every `def` with a placeholder (see [`prepared`]).
/// Nothing is blanked in a file indented with tabs (the scanner's widths
/// are not Python's there), nor a body that may run to the end of the file
/// because a bracket or string in it is never closed.
fn blank_function_bodies(text: &[u8], blanked: &mut Option<Vec<u8>>) {
    if memchr::memchr(b'\t', text).is_some() {
        return;
    }
    let lines = super::python_statements::logical_lines(text);
    let mut i = 0;
    while i < lines.len() {
        let header = lines[i];
        let code = &text[header.start..header.end];
        let is_def = code.starts_with(b"def ") || code.starts_with(b"async def ");
        if !is_def || !code.ends_with(b":") {
            i += 1;
            continue;
        }
        let mut next = i + 1;
        while next < lines.len() && lines[next].indent > header.indent {
            next += 1;
        }
        let body = &lines[i + 1..next];
        i = next.max(i + 1);
        let (Some(first), Some(last)) = (body.first(), body.last()) else {
            continue;
        };
        let last_code = &text[last.start..last.end];
        if next == lines.len() && memchr::memchr2(b'\n', b'\r', last_code).is_some() {
            continue;
        }
        let bytes = blanked.get_or_insert_with(|| text.to_vec());
        blank(&mut bytes[first.start..last.end]);
        // One parenthesized expression from the body's first statement to
        // the end of its last: it starts at the body's own indentation
        // (the last statement may be deeper, inside an `if`), so comments
        // after the body belong where they did.
        let placeholder = &mut bytes[first.start..last.end];
        match placeholder {
            [only] => *only = b'0',
            [open, .., close] => (*open, *close) = (b'(', b')'),
            [] => {}
        }
    }
}

/// Parse a whole file (see [`prepared`]): a file of a few hundred thousand
/// comment lines parses in linear time.
pub fn parse_file(text: &str) -> Tree {
    parse(&prepared(text, Shape::Whole))
}

/// Parse a file's [`prepared`] text again after an edit, reusing the tree
/// of its previous prepared text: tree-sitter reparses only around the
/// changed bytes (the one span where the texts differ).
pub fn reparse(text: &str, previous: Option<(&str, Tree)>) -> Tree {
    let Some((old, mut tree)) = previous else {
        return parse(text);
    };
    let (old_bytes, new_bytes) = (old.as_bytes(), text.as_bytes());
    let (prefix, suffix) = crate::source::common_affixes(old_bytes, new_bytes);
    let point = |bytes: &[u8], offset: usize| {
        let before = &bytes[..offset];
        let row = memchr::memchr_iter(b'\n', before).count();
        let column = offset - memchr::memrchr(b'\n', before).map_or(0, |n| n + 1);
        tree_sitter::Point::new(row, column)
    };
    tree.edit(&tree_sitter::InputEdit {
        start_byte: prefix,
        old_end_byte: old_bytes.len() - suffix,
        new_end_byte: new_bytes.len() - suffix,
        start_position: point(old_bytes, prefix),
        old_end_position: point(old_bytes, old_bytes.len() - suffix),
        new_end_position: point(new_bytes, new_bytes.len() - suffix),
    });
    PARSER.with(|parser| {
        parser
            .borrow_mut()
            .parse(text, Some(&tree))
            .expect("parsing without a timeout or cancellation always yields a tree")
    })
}

/// Parse a fragment or a side file the walkers will read: `None` when it
/// nests deeper than they may go (see `syntax::MAX_DEPTH`).
pub fn parse_bounded(text: &str) -> Option<Tree> {
    let tree = parse(text);
    super::syntax::too_deep(&tree).is_none().then_some(tree)
}

/// Parse and report whether the text is free of syntax errors, including
/// the call errors Python finds but the grammar accepts: a positional
/// argument after a keyword one, a keyword given twice.
pub fn parses_cleanly(text: &str) -> bool {
    let tree = parse_file(text);
    !tree.root_node().has_error() && calls_are_valid(&tree, text)
}

fn calls_are_valid(tree: &Tree, text: &str) -> bool {
    super::syntax::find_node(tree, |node, _| {
        node.kind() == "argument_list" && !arguments_are_valid(node, text)
    })
    .is_none()
}

fn arguments_are_valid(list: Node, source: &str) -> bool {
    let mut keywords: Vec<&str> = Vec::new();
    let mut after_keyword = false;
    let mut cursor = list.walk();
    for argument in list.named_children(&mut cursor) {
        match argument.kind() {
            "comment" | "list_splat" => {}
            "keyword_argument" => {
                let Some(name) = argument.field("name") else {
                    continue;
                };
                let name = text(name, source);
                if keywords.contains(&name) {
                    return false;
                }
                keywords.push(name);
                after_keyword = true;
            }
            "dictionary_splat" => after_keyword = true,
            _ if after_keyword => return false,
            _ => {}
        }
    }
    true
}

/// Top-level classes and module-level assignments, in source order.
pub struct Definitions<'t> {
    pub classes: Vec<Node<'t>>,
    pub assignments: Vec<Node<'t>>,
}

pub fn definitions(tree: &Tree) -> Definitions<'_> {
    let mut classes = Vec::new();
    let mut assignments = Vec::new();
    let root = tree.root_node();
    let mut cursor = root.walk();
    for child in root.named_children(&mut cursor) {
        match child.kind() {
            "class_definition" => classes.push(child),
            "decorated_definition" => {
                if let Some(class) = child
                    .field("definition")
                    .filter(|d| d.kind() == "class_definition")
                {
                    classes.push(class);
                }
            }
            "expression_statement" => {
                let mut inner = child.walk();
                assignments.extend(
                    child
                        .named_children(&mut inner)
                        .filter(|n| n.kind() == "assignment"),
                );
            }
            _ => {}
        }
    }
    Definitions {
        classes,
        assignments,
    }
}

/// The value of a plain string literal (also implicit concatenation);
/// `None` for f-strings with replacement fields and anything that is not a
/// string.
pub fn string_value(node: Node, source: &str) -> Option<String> {
    Scope::default().string(node, source)
}

/// A string's content with its escape sequences (children of the content
/// node in the grammar) read: `\n` is a newline.
fn push_content(out: &mut String, content: Node, source: &str) {
    let mut at = content.start_byte();
    let mut cursor = content.walk();
    for escape in content.children(&mut cursor) {
        if escape.kind() != "escape_sequence" {
            continue;
        }
        out.push_str(&source[at..escape.start_byte()]);
        out.push_str(&unescape(text(escape, source)));
        at = escape.end_byte();
    }
    out.push_str(&source[at..content.end_byte()]);
}

fn unescape(escape: &str) -> String {
    match escape {
        "\\n" => "\n".into(),
        "\\t" => "\t".into(),
        "\\\\" => "\\".into(),
        "\\'" => "'".into(),
        "\\\"" => "\"".into(),
        other => other.into(),
    }
}

/// `True`/`False` literals.
pub fn bool_value(node: Node) -> Option<bool> {
    match node.kind() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

/// The dotted name of an identifier or attribute chain: `models.ForeignKey`.
pub fn dotted_name(node: Node, source: &str) -> Option<String> {
    match node.kind() {
        "identifier" => Some(text(node, source).to_string()),
        "attribute" => {
            let object = dotted_name(node.field("object")?, source)?;
            let attribute = text(node.field("attribute")?, source);
            Some(format!("{object}.{attribute}"))
        }
        _ => None,
    }
}

/// A Django field name in an ordering or index (`"-created_at"`): the
/// name, and whether it is descending.
pub fn signed_field(field: String) -> (String, bool) {
    match field.strip_prefix('-') {
        Some(name) => (name.to_string(), true),
        None => (field, false),
    }
}

/// The last segment of a dotted name: `models.ForeignKey` → `ForeignKey`.
pub fn last_segment(name: &str) -> &str {
    name.rsplit('.').next().unwrap_or(name)
}

/// A call's callee as a dotted name, when it is one.
pub fn call_name(call: Node, source: &str) -> Option<String> {
    if call.kind() != "call" {
        return None;
    }
    dotted_name(call.field("function")?, source)
}

/// Positional and keyword arguments of a call.
pub struct Arguments<'t> {
    pub positional: Vec<Node<'t>>,
    pub keywords: Vec<(String, Node<'t>)>,
    /// `*args` / `**kwargs` make the argument list unknowable.
    pub has_splat: bool,
}

impl<'t> Arguments<'t> {
    pub fn keyword(&self, name: &str) -> Option<Node<'t>> {
        self.keywords
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, node)| *node)
    }
}

pub fn arguments<'t>(call: Node<'t>, source: &str) -> Arguments<'t> {
    let mut args = Arguments {
        positional: Vec::new(),
        keywords: Vec::new(),
        has_splat: false,
    };
    let Some(list) = call.field("arguments") else {
        return args;
    };
    let mut cursor = list.walk();
    for child in list.named_children(&mut cursor) {
        match child.kind() {
            "keyword_argument" => {
                if let (Some(name), Some(value)) = (child.field("name"), child.field("value")) {
                    args.keywords.push((text(name, source).to_string(), value));
                }
            }
            "list_splat" | "dictionary_splat" => args.has_splat = true,
            "comment" => {}
            _ => args.positional.push(child),
        }
    }
    args
}

/// Elements of a list, tuple or set literal (also a parenthesized one).
pub fn sequence_items(node: Node) -> Option<Vec<Node>> {
    match node.kind() {
        "list" | "tuple" | "set" => {
            let mut cursor = node.walk();
            Some(
                node.named_children(&mut cursor)
                    .filter(|n| n.kind() != "comment")
                    .collect(),
            )
        }
        "parenthesized_expression" => {
            let inner = node.named_child(0)?;
            match inner.kind() {
                "list" | "tuple" | "set" => sequence_items(inner),
                _ => Some(vec![inner]),
            }
        }
        _ => None,
    }
}

/// String elements of a list/tuple literal; `None` if any is not a string.
pub fn string_list(node: Node, source: &str) -> Option<Vec<String>> {
    sequence_items(node)?
        .into_iter()
        .map(|n| string_value(n, source))
        .collect()
}

/// Key/value pairs of a dict literal whose keys are strings.
pub fn dict_pairs<'t>(node: Node<'t>, source: &str) -> Vec<(String, Node<'t>)> {
    let mut out = Vec::new();
    if node.kind() != "dictionary" {
        return out;
    }
    let mut cursor = node.walk();
    for pair in node.named_children(&mut cursor) {
        if pair.kind() != "pair" {
            continue;
        }
        if let (Some(key), Some(value)) = (
            pair.field("key").and_then(|k| string_value(k, source)),
            pair.field("value"),
        ) {
            out.push((key, value));
        }
    }
    out
}

/// The statements of a class body, each as (target name, assigned value,
/// whole statement) for simple `name = value` / `name: T = value` lines.
pub fn class_assignments<'t>(body: Node<'t>, source: &str) -> Vec<(String, Node<'t>, Node<'t>)> {
    let mut out = Vec::new();
    let mut cursor = body.walk();
    for statement in body.named_children(&mut cursor) {
        if statement.kind() != "expression_statement" {
            continue;
        }
        let Some(assignment) = statement.named_child(0) else {
            continue;
        };
        if assignment.kind() != "assignment" {
            continue;
        }
        let (Some(left), Some(right)) = (assignment.field("left"), assignment.field("right"))
        else {
            continue;
        };
        if left.kind() == "identifier" {
            out.push((text(left, source).to_string(), right, statement));
        }
    }
    out
}

/// A value a simple Python program binds to a name: a string, or a list or
/// tuple of values. What ixray can evaluate without running the code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Str(String),
    Seq(Vec<Value>),
    /// A dict with string keys, in order.
    Dict(Vec<(String, Value)>),
}

impl Value {
    /// The values a `for` loop over this value binds: a sequence's items,
    /// a dict's keys.
    pub fn iterate(self) -> Option<Vec<Value>> {
        match self {
            Value::Seq(items) => Some(items),
            Value::Dict(pairs) => Some(pairs.into_iter().map(|(k, _)| Value::Str(k)).collect()),
            Value::Str(_) => None,
        }
    }
}

/// Names bound to values ixray can evaluate: module constants, local
/// assignments, loop variables. A name bound to something it cannot
/// evaluate is *unbound* here, so that a later use of it is unknown rather
/// than stale.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    values: Vec<(String, Option<Value>)>,
}

impl Scope {
    pub fn bind(&mut self, name: &str, value: Option<Value>) {
        self.values.push((name.to_string(), value));
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        self.lookup(name).flatten()
    }

    /// `Some(None)` when `name` is assigned something ixray cannot
    /// evaluate, `None` when it is not assigned at all.
    pub fn lookup(&self, name: &str) -> Option<Option<&Value>> {
        self.values
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_ref())
    }

    /// Run one statement if it binds names: `a = …`, `a, b = …`, `a += […]`.
    pub fn run_statement(&mut self, statement: Node, source: &str) {
        let Some(assignment) = statement
            .named_child(0)
            .filter(|_| statement.kind() == "expression_statement")
        else {
            return;
        };
        let (Some(left), Some(right)) = (assignment.field("left"), assignment.field("right"))
        else {
            return;
        };
        let value = match assignment.kind() {
            "assignment" => self.eval(right, source),
            "augmented_assignment" => {
                let plus = assignment
                    .field("operator")
                    .is_some_and(|o| text(o, source) == "+=");
                match (
                    plus,
                    self.get(text(left, source)).cloned(),
                    self.eval(right, source),
                ) {
                    (true, Some(Value::Seq(mut a)), Some(Value::Seq(b))) => {
                        a.extend(b);
                        Some(Value::Seq(a))
                    }
                    (true, Some(Value::Str(a)), Some(Value::Str(b))) => Some(Value::Str(a + &b)),
                    _ => None,
                }
            }
            _ => return,
        };
        self.bind_target(left, value, source);
    }

    /// Bind an assignment or loop target (`x`, `a, b`, `(a, b)`, `[a, b]`)
    /// to `value`, element-wise for patterns.
    pub fn bind_target(&mut self, target: Node, value: Option<Value>, source: &str) {
        match target.kind() {
            "identifier" => self.bind(text(target, source), value),
            "pattern_list" | "tuple_pattern" | "list_pattern" | "tuple" | "list" => {
                let mut cursor = target.walk();
                let names: Vec<Node> = target.named_children(&mut cursor).collect();
                let items = match value {
                    Some(Value::Seq(items)) if items.len() == names.len() => {
                        items.into_iter().map(Some).collect()
                    }
                    _ => vec![None; names.len()],
                };
                for (name, item) in names.into_iter().zip(items) {
                    self.bind_target(name, item, source);
                }
            }
            "parenthesized_expression" => {
                if let Some(inner) = target.named_child(0) {
                    self.bind_target(inner, value, source);
                }
            }
            _ => {}
        }
    }

    /// Evaluate literals, names, f-strings of known names, `+` of strings
    /// or sequences, and `op.f("name")`-style wrappers of one string.
    pub fn eval(&self, node: Node, source: &str) -> Option<Value> {
        match node.kind() {
            "string" => {
                let mut out = String::new();
                let mut cursor = node.walk();
                for child in node.children(&mut cursor) {
                    match child.kind() {
                        "string_content" => push_content(&mut out, child, source),
                        "escape_sequence" => out.push_str(&unescape(text(child, source))),
                        "interpolation" => {
                            let has_format = {
                                let mut c = child.walk();
                                child.named_children(&mut c).any(|n| {
                                    n.kind() == "format_specifier" || n.kind() == "type_conversion"
                                })
                            };
                            if has_format {
                                return None;
                            }
                            let expression = child.field("expression")?;
                            out.push_str(&self.string(expression, source)?);
                        }
                        _ => {}
                    }
                }
                Some(Value::Str(out))
            }
            "concatenated_string" => {
                let mut out = String::new();
                let mut cursor = node.walk();
                for child in node.named_children(&mut cursor) {
                    out.push_str(&self.string(child, source)?);
                }
                Some(Value::Str(out))
            }
            "identifier" => self.get(text(node, source)).cloned(),
            "list" | "tuple" => {
                let mut items = Vec::new();
                let mut cursor = node.walk();
                for item in node.named_children(&mut cursor) {
                    match item.kind() {
                        "comment" => {}
                        // `[*BASE, "x"]`
                        "list_splat" => match self.eval(item.named_child(0)?, source)? {
                            Value::Seq(inner) => items.extend(inner),
                            _ => return None,
                        },
                        _ => items.push(self.eval(item, source)?),
                    }
                }
                Some(Value::Seq(items))
            }
            "parenthesized_expression" => self.eval(node.named_child(0)?, source),
            "binary_operator" => {
                let operator = node.field("operator")?;
                if text(operator, source) != "+" {
                    return None;
                }
                let left = self.eval(node.field("left")?, source)?;
                let right = self.eval(node.field("right")?, source)?;
                match (left, right) {
                    (Value::Str(a), Value::Str(b)) => Some(Value::Str(a + &b)),
                    (Value::Seq(mut a), Value::Seq(b)) => {
                        a.extend(b);
                        Some(Value::Seq(a))
                    }
                    _ => None,
                }
            }
            "dictionary" => {
                let mut pairs = Vec::new();
                let mut cursor = node.walk();
                for pair in node.named_children(&mut cursor) {
                    if pair.kind() == "comment" {
                        continue;
                    }
                    if pair.kind() != "pair" {
                        return None;
                    }
                    let key = self.string(pair.field("key")?, source)?;
                    let value = self.eval(pair.field("value")?, source)?;
                    pairs.push((key, value));
                }
                Some(Value::Dict(pairs))
            }
            // `d.items()`, `d.keys()`, `d.values()` of a known dict.
            "call"
                if node
                    .field("function")
                    .is_some_and(|f| f.kind() == "attribute")
                    && arguments(node, source).positional.is_empty() =>
            {
                let function = node.field("function")?;
                let Value::Dict(pairs) = self.eval(function.field("object")?, source)? else {
                    return self.wrapped_name(node, source);
                };
                let items = match text(function.field("attribute")?, source) {
                    "items" => pairs
                        .into_iter()
                        .map(|(k, v)| Value::Seq(vec![Value::Str(k), v]))
                        .collect(),
                    "keys" => pairs.into_iter().map(|(k, _)| Value::Str(k)).collect(),
                    "values" => pairs.into_iter().map(|(_, v)| v).collect(),
                    _ => return None,
                };
                Some(Value::Seq(items))
            }
            "call" => self.wrapped_name(node, source),
            _ => None,
        }
    }

    /// `op.f("ix_name")`, `conv("uq_name")`: the name as written.
    fn wrapped_name(&self, node: Node, source: &str) -> Option<Value> {
        let name = call_name(node, source)?;
        if !matches!(last_segment(&name), "f" | "conv") {
            return None;
        }
        let args = arguments(node, source);
        match args.positional.as_slice() {
            [one] if args.keywords.is_empty() => self.eval(*one, source),
            _ => None,
        }
    }

    /// `eval` when the result is a string.
    pub fn string(&self, node: Node, source: &str) -> Option<String> {
        match self.eval(node, source)? {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// `eval` when the result is a sequence of strings.
    pub fn strings(&self, node: Node, source: &str) -> Option<Vec<String>> {
        match self.eval(node, source)? {
            Value::Seq(items) => items
                .into_iter()
                .map(|v| match v {
                    Value::Str(s) => Some(s),
                    _ => None,
                })
                .collect(),
            _ => None,
        }
    }
}

/// The file of a module named in an import, relative (`.sql`) to the
/// importing file's folder, or absolute (`pkg.sql`) from any folder above
/// it: `None` for a module that is not a file of the project (an installed
/// package).
pub fn module_file(module: &str, importer: &Path) -> Option<PathBuf> {
    let dots = module.chars().take_while(|c| *c == '.').count();
    let relative: PathBuf = module[dots..]
        .split('.')
        .filter(|s| !s.is_empty())
        .collect();
    let candidates = |base: &Path| {
        [
            base.join(&relative).with_extension("py"),
            base.join(&relative).join("__init__.py"),
        ]
    };
    let folder = importer.parent()?;
    if dots > 0 {
        let base = folder.ancestors().nth(dots - 1)?;
        return candidates(base).into_iter().find(|p| p.is_file());
    }
    folder
        .ancestors()
        .take(12)
        .flat_map(candidates)
        .find(|p| p.is_file())
}

/// The names a module binds at top level, as they stand at its end.
pub fn module_scope(tree: &Tree, source: &str) -> Scope {
    let mut scope = Scope::default();
    let root = tree.root_node();
    let mut cursor = root.walk();
    for statement in root.named_children(&mut cursor) {
        scope.run_statement(statement, source);
    }
    scope
}

/// Add `keyword` as the last argument of a call's `( … )`.
pub fn add_keyword(text: &str, arguments: Span, keyword: &str) -> Edit {
    add_keyword_within(text, arguments, keyword, usize::MAX)
}

/// `add_keyword`, and a call on one line that would grow past
/// `line_length` gets one argument per line with a trailing comma, as
/// black and ruff format it.
pub fn add_keyword_within(text: &str, arguments: Span, keyword: &str, line_length: usize) -> Edit {
    let inside = &text[arguments.start + 1..arguments.end - 1];
    // `f(\n    a, b, c\n)`: the arguments hugged on one line of their own,
    // as black and ruff write a call that fits there. The keyword joins
    // that line when it still fits, else every argument gets its line.
    let lines: Vec<&str> = inside.lines().filter(|l| !l.trim().is_empty()).collect();
    if let [only] = lines.as_slice()
        && inside.contains('\n')
        && !only.contains('#')
        && !only.trim_end().ends_with(',')
        && let Some(items) = argument_texts(text, arguments)
        && items.len() > 1
    {
        let line_start = arguments.start + 1 + inside.find(only).expect("a line of it");
        let end = line_start + only.trim_end().len();
        if only.trim_end().chars().count() + 2 + keyword.len() <= line_length {
            return Edit::insert(end, format!(", {keyword}"));
        }
        let indent = crate::frameworks::syntax::indentation_at(text, arguments.start);
        let mut out = String::from("\n");
        for item in items.iter().map(String::as_str).chain([keyword]) {
            out.push_str(&format!("{indent}    {item},\n"));
        }
        out.push_str(indent);
        return Edit::replace(Span::new(arguments.start + 1, arguments.end - 1), out);
    }
    if !inside.contains('\n') && !inside.trim().is_empty() {
        let line_start = text[..arguments.start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = text[arguments.end..]
            .find('\n')
            .map_or(text.len(), |i| arguments.end + i);
        let width = text[line_start..line_end].trim_end().chars().count() + 2 + keyword.len();
        if width > line_length
            && let Some(mut items) = argument_texts(text, arguments)
        {
            let indent = crate::frameworks::syntax::indentation_at(text, arguments.start);
            items.push(keyword.to_string());
            let mut out = String::from("\n");
            for item in items {
                out.push_str(&format!("{indent}    {item},\n"));
            }
            out.push_str(indent);
            return Edit::replace(Span::new(arguments.start + 1, arguments.end - 1), out);
        }
    }
    add_keyword_inline(text, arguments, keyword)
}

/// The text of each argument of a call's `( … )` on one line.
fn argument_texts(text: &str, arguments: Span) -> Option<Vec<String>> {
    let call = format!("f{}", &text[arguments.start..arguments.end]);
    let tree = parse_bounded(&call)?;
    let call_node = tree.root_node().named_child(0)?.named_child(0)?;
    let list = call_node.field("arguments")?;
    let mut cursor = list.walk();
    let items: Vec<String> = list
        .named_children(&mut cursor)
        .map(|n| call[n.start_byte()..n.end_byte()].to_string())
        .collect();
    (!list.has_error() && !items.is_empty()).then_some(items)
}

fn add_keyword_inline(text: &str, arguments: Span, keyword: &str) -> Edit {
    let inside = &text[arguments.start + 1..arguments.end - 1];
    // The code ends where the last argument (and its comma) ends: a comment
    // after it (`related_name="x"  # note`) stays where it is.
    let trimmed = match last_argument_end(text, arguments) {
        Some(end) => {
            let after = &text[end..arguments.end - 1];
            let comma = after.trim_start_matches([' ', '\t']).starts_with(',');
            let end = if comma {
                end + after.find(',').expect("checked") + 1
            } else {
                end
            };
            &text[arguments.start + 1..end]
        }
        None => inside.trim_end(),
    };
    let content_end = arguments.start + 1 + trimmed.len();
    if trimmed.is_empty() {
        return Edit::insert(arguments.start + 1, keyword);
    }
    if inside.contains('\n') {
        let indent = inside
            .lines()
            .rfind(|l| !l.trim().is_empty())
            .map(|l| l.len() - l.trim_start().len())
            .unwrap_or(4);
        let pad = " ".repeat(indent);
        // A comment after the last argument stays on its line: the new
        // keyword goes on the next one.
        let line_end = text[content_end..arguments.end - 1]
            .find('\n')
            .map(|i| content_end + i);
        let comment = line_end.filter(|&end| text[content_end..end].contains('#'));
        match (comment, trimmed.ends_with(',')) {
            (Some(end), true) => Edit::insert(end, format!("\n{pad}{keyword},")),
            (Some(end), false) => Edit::replace(
                Span::new(content_end, end),
                format!(",{}\n{pad}{keyword}", &text[content_end..end]),
            ),
            (None, true) => Edit::insert(content_end, format!("\n{pad}{keyword},")),
            (None, false) => Edit::insert(content_end, format!(",\n{pad}{keyword}")),
        }
    } else if trimmed.ends_with(',') {
        Edit::insert(content_end, format!(" {keyword}"))
    } else {
        Edit::insert(content_end, format!(", {keyword}"))
    }
}

/// Where the last argument of a call's `( … )` ends, comments aside.
fn last_argument_end(text: &str, arguments: Span) -> Option<usize> {
    let call = format!("f{}", &text[arguments.start..arguments.end]);
    let tree = parse_bounded(&call)?;
    let call_node = tree.root_node().named_child(0)?.named_child(0)?;
    let list = call_node.field("arguments")?;
    let mut cursor = list.walk();
    let last = list
        .named_children(&mut cursor)
        .filter(|n| n.kind() != "comment")
        .last()?;
    // `call` has one byte (`f`) before the original `(`.
    Some(arguments.start + last.end_byte() - 1)
}

/// Line lengths by folder, read once per planning: every edit of a file
/// asks.
static LINE_LENGTHS: std::sync::Mutex<Vec<(PathBuf, usize)>> = std::sync::Mutex::new(Vec::new());

/// Forget the line lengths read so far (the configuration may change
/// between two plans of one process).
pub fn forget_line_lengths() {
    if let Ok(mut known) = LINE_LENGTHS.lock() {
        known.clear();
    }
}

/// The line length the project's formatter keeps, for code ixray writes
/// into `file`: `line-length` of the nearest `ruff.toml` / `.ruff.toml`, or
/// of `[tool.ruff]` / `[tool.black]` in the nearest `pyproject.toml` that
/// sets one; else 88, the default of both.
pub fn line_length(file: &Path) -> usize {
    let folder = file.parent().unwrap_or(file).to_path_buf();
    let known = |folder: &Path| {
        LINE_LENGTHS
            .lock()
            .ok()
            .and_then(|k| k.iter().find(|(f, _)| f == folder).map(|(_, l)| *l))
    };
    if let Some(length) = known(&folder) {
        return length;
    }
    let length = read_line_length(file);
    if let Ok(mut k) = LINE_LENGTHS.lock() {
        k.push((folder, length));
    }
    length
}

fn read_line_length(file: &Path) -> usize {
    const DEFAULT: usize = 88;
    let read = |path: &Path, tables: &[&[&str]]| -> Option<usize> {
        let text = std::fs::read_to_string(path).ok()?;
        let value: toml::Value = toml::from_str(&text).ok()?;
        tables.iter().find_map(|keys| {
            let table = keys.iter().try_fold(&value, |v, k| v.get(*k))?;
            usize::try_from(table.get("line-length")?.as_integer()?).ok()
        })
    };
    for dir in file.ancestors().skip(1) {
        for name in ["ruff.toml", ".ruff.toml"] {
            if let Some(length) = read(&dir.join(name), &[&[]]) {
                return length;
            }
        }
        let pyproject = dir.join("pyproject.toml");
        if let Some(length) = read(&pyproject, &[&["tool", "ruff"], &["tool", "black"]]) {
            return length;
        }
        // The project's root: stop there.
        if pyproject.exists() || dir.join(".git").exists() {
            break;
        }
    }
    DEFAULT
}

/// Render a Python string literal with double quotes.
pub fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod reparse_tests {
    use super::*;

    /// The tree of an incremental reparse is the tree of a fresh parse.
    #[test]
    fn a_reparse_gives_the_tree_a_fresh_parse_gives() {
        let old = "class A(models.Model):\n    a = models.ForeignKey(B, on_delete=models.CASCADE)\n\n\nclass C:\n    pass\n";
        let tree = parse_file(old);
        for new in [
            old.replace("CASCADE)", "CASCADE, db_index=False)"),
            old.replace("class C:", "class Céé(D):"),
            format!("import x\n{old}"),
            old.replace("    pass\n", ""),
            String::new(),
        ] {
            let again = reparse(&new, Some((old, tree.clone())));
            assert_eq!(
                again.root_node().to_sexp(),
                parse_file(&new).root_node().to_sexp(),
                "{new}"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Function bodies become one placeholder that ends where the body
    /// did: classes, fields after methods and every span around them stay.
    #[test]
    fn an_outline_blanks_function_bodies_in_place() {
        let text = "class A(models.Model):\n    a = models.IntegerField()\n\n    @property\n    def total(self) -> int:  # sum\n        \"\"\"Doc.\"\"\"\n        if self.a:\n            return sum(\n                x for x in self.items  # :\n            )\n        return 0; pass\n\n    def short(self): return self.a\n\n    def one(self):\n        x\n\n    def deeper(self):\n        if self.a:\n            return 1\n        # a note at the body's indentation\n\n    b = models.CharField(max_length=9)\n\n\nasync def f(x=lambda y: y):\n    await g(\"é\")\n";
        let outline = prepared(text, Shape::Outline);
        assert_eq!(outline.len(), text.len());
        assert!(
            !outline.contains("sum(") && !outline.contains("Doc") && !outline.contains("await")
        );
        assert!(outline.contains("def short(self): return self.a"));
        assert!(outline.contains("    def one(self):\n        0\n"));
        let whole = parse(text);
        let tree = parse(&outline);
        assert!(!tree.root_node().has_error(), "{outline}");
        // Spans of everything outside function bodies.
        fn spans(tree: &Tree) -> Vec<(String, usize, usize)> {
            let mut spans = Vec::new();
            let mut cursor = tree.walk();
            'walk: loop {
                let node = cursor.node();
                spans.push((node.kind().to_string(), node.start_byte(), node.end_byte()));
                if node.kind() != "function_definition" && cursor.goto_first_child() {
                    continue;
                }
                while !cursor.goto_next_sibling() {
                    if !cursor.goto_parent() {
                        break 'walk;
                    }
                }
            }
            spans
        }
        assert_eq!(spans(&tree), spans(&whole));
    }

    /// What may hide an unclosed bracket or string, and tab indentation
    /// (whose widths the line scanner does not share with Python), is left
    /// for tree-sitter to see.
    #[test]
    fn an_outline_keeps_what_it_cannot_be_sure_of() {
        let unclosed = "class A:\n    def f(self):\n        return g(\n\n\nclass B:\n    b = 1\n";
        assert!(matches!(
            prepared(unclosed, Shape::Outline),
            Cow::Borrowed(_)
        ));
        assert!(
            parse(&prepared(unclosed, Shape::Outline))
                .root_node()
                .has_error()
        );
        let tabs = "class A:\n\tdef f(self):\n\t\treturn 1\n";
        assert!(matches!(prepared(tabs, Shape::Outline), Cow::Borrowed(_)));
        let whole = "def f():\n    return 1\n";
        assert!(matches!(prepared(whole, Shape::Whole), Cow::Borrowed(_)));
    }

    /// The language server reparses an outline incrementally from the
    /// previous outline: the same tree as a fresh parse.
    #[test]
    fn an_outline_reparses_incrementally() {
        let old = "class A(models.Model):\n    a = models.IntegerField()\n\n    def f(self):\n        return 1\n";
        let tree = parse(&prepared(old, Shape::Outline));
        for new in [
            old.replace("return 1", "return Order.objects.filter(a=1)"),
            old.replace("return 1", "return (1"),
            old.replace(
                "    def f(self):\n        return 1\n",
                "    b = models.IntegerField()\n",
            ),
            format!("{old}    def g(self):\n        pass\n"),
        ] {
            let new_outline = prepared(&new, Shape::Outline);
            let again = reparse(
                &new_outline,
                Some((&prepared(old, Shape::Outline), tree.clone())),
            );
            assert_eq!(
                again.root_node().to_sexp(),
                parse(&new_outline).root_node().to_sexp(),
                "{new}"
            );
        }
    }

    #[test]
    fn long_comment_runs_parse_in_place() {
        let text = format!(
            "# head\n{}class A:\n    x = 1  # note\n{}",
            "# c\n".repeat(COMMENT_RUN + 1),
            "    # trailing\n".repeat(COMMENT_RUN + 1)
        );
        let tree = parse_file(&text);
        assert!(!tree.root_node().has_error());
        let class = tree.root_node().named_child(0).unwrap();
        let class = if class.kind() == "comment" {
            tree.root_node().named_child(1).unwrap()
        } else {
            class
        };
        assert_eq!(class.kind(), "class_definition");
        assert_eq!(class.start_byte(), text.find("class A").unwrap());
        assert!(parses_cleanly(&text));
    }

    #[test]
    fn a_call_that_outgrows_the_line_gets_one_argument_per_line() {
        let text = "    fk = models.ForeignKey(Target, on_delete=models.CASCADE)\n";
        let open = text.find('(').unwrap();
        let arguments = Span::new(open, text.rfind(')').unwrap() + 1);
        let (short, _) = crate::source::apply_edits(
            text,
            &[add_keyword_within(text, arguments, "db_index=False", 88)],
        );
        assert_eq!(
            short,
            "    fk = models.ForeignKey(Target, on_delete=models.CASCADE, db_index=False)\n"
        );
        let (long, _) = crate::source::apply_edits(
            text,
            &[add_keyword_within(text, arguments, "db_index=False", 60)],
        );
        assert_eq!(
            long,
            "    fk = models.ForeignKey(\n        Target,\n        on_delete=models.CASCADE,\n        db_index=False,\n    )\n"
        );
    }

    #[test]
    fn hugged_arguments_take_the_keyword_on_their_line_or_get_a_line_each() {
        let text = "x = mapped_column(\n    Uuid, ForeignKey(\"p.id\"), nullable=True\n)\n";
        let arguments = Span::new(text.find('(').unwrap(), text.rfind(')').unwrap() + 1);
        let (fits, _) = crate::source::apply_edits(
            text,
            &[add_keyword_within(text, arguments, "index=True", 88)],
        );
        assert_eq!(
            fits,
            "x = mapped_column(\n    Uuid, ForeignKey(\"p.id\"), nullable=True, index=True\n)\n"
        );
        let (long, _) = crate::source::apply_edits(
            text,
            &[add_keyword_within(text, arguments, "index=True", 50)],
        );
        assert_eq!(
            long,
            "x = mapped_column(\n    Uuid,\n    ForeignKey(\"p.id\"),\n    nullable=True,\n    index=True,\n)\n"
        );
        assert!(parses_cleanly(&long));
    }

    #[test]
    fn the_line_length_comes_from_the_nearest_formatter_config() {
        let dir = tempfile::tempdir().unwrap();
        let app = dir.path().join("app");
        std::fs::create_dir_all(&app).unwrap();
        let models = app.join("models.py");
        assert_eq!(line_length(&models), 88);
        forget_line_lengths();
        std::fs::write(
            dir.path().join("pyproject.toml"),
            "[tool.black]\nline-length = 100\n",
        )
        .unwrap();
        assert_eq!(line_length(&models), 100);
        forget_line_lengths();
        std::fs::write(
            dir.path().join("pyproject.toml"),
            "[tool.ruff]\nline-length = 120\n[tool.black]\nline-length = 100\n",
        )
        .unwrap();
        assert_eq!(line_length(&models), 120);
        forget_line_lengths();
        std::fs::write(app.join("ruff.toml"), "line-length = 79\n").unwrap();
        assert_eq!(line_length(&models), 79);
    }

    #[test]
    fn reads_strings_calls_and_syntax_errors() {
        let source = "x = models.ForeignKey('a' \"b\", on_delete=models.CASCADE, db_index=False)\n";
        let tree = parse(source);
        assert!(first_error(&tree).is_none());
        let defs = definitions(&tree);
        assert_eq!(defs.assignments.len(), 1);
        let call = defs.assignments[0].field("right").unwrap();
        assert_eq!(
            call_name(call, source).as_deref(),
            Some("models.ForeignKey")
        );
        let args = arguments(call, source);
        assert_eq!(
            string_value(args.positional[0], source).as_deref(),
            Some("ab")
        );
        assert_eq!(bool_value(args.keyword("db_index").unwrap()), Some(false));

        // Escapes are read, except in raw strings.
        let source = r#"a = 'x\ny\'z'
b = r'x\ny'
c = """q\tr"""
"#;
        let tree = parse(source);
        let values: Vec<Option<String>> = definitions(&tree)
            .assignments
            .iter()
            .map(|a| string_value(a.field("right").unwrap(), source))
            .collect();
        assert_eq!(
            values,
            [
                Some("x\ny'z".to_string()),
                Some(r"x\ny".to_string()),
                Some("q\tr".to_string())
            ]
        );

        let broken = parse("class A(:\n    pass\n");
        assert!(first_error(&broken).is_some());
    }

    #[test]
    fn scopes_evaluate_constants_f_strings_and_patterns() {
        let source = "T = \"files\"\nNAMES = [\"a\", f\"ix_{T}_b\"]\nx = (T + \"_x\", NAMES)\ny = f\"{T!r}\"\n";
        let tree = parse(source);
        let defs = definitions(&tree);
        let mut scope = Scope::default();
        let mut results = Vec::new();
        for assignment in &defs.assignments {
            let left = assignment.field("left").unwrap();
            let right = assignment.field("right").unwrap();
            let value = scope.eval(right, source);
            results.push(value.clone());
            scope.bind_target(left, value, source);
        }
        let s = |v: &str| Value::Str(v.into());
        assert_eq!(
            results,
            vec![
                Some(s("files")),
                Some(Value::Seq(vec![s("a"), s("ix_files_b")])),
                Some(Value::Seq(vec![
                    s("files_x"),
                    Value::Seq(vec![s("a"), s("ix_files_b")])
                ])),
                None,
            ]
        );
        let dict = "D = {\"ix_a\": [\"a\"], \"ix_b\": [\"b\"]}\nk = D.keys()\ni = D.items()\n";
        let tree = parse(dict);
        let defs = definitions(&tree);
        for assignment in &defs.assignments {
            let left = assignment.field("left").unwrap();
            let right = assignment.field("right").unwrap();
            let value = scope.eval(right, dict);
            scope.bind_target(left, value, dict);
        }
        assert_eq!(
            scope.get("D").cloned().and_then(Value::iterate),
            Some(vec![s("ix_a"), s("ix_b")])
        );
        assert_eq!(
            scope.get("k"),
            Some(&Value::Seq(vec![s("ix_a"), s("ix_b")]))
        );
        assert_eq!(
            scope.get("i"),
            Some(&Value::Seq(vec![
                Value::Seq(vec![s("ix_a"), Value::Seq(vec![s("a")])]),
                Value::Seq(vec![s("ix_b"), Value::Seq(vec![s("b")])]),
            ]))
        );
        let pattern = parse("a, (b, c) = 1\n");
        let target = pattern
            .root_node()
            .named_child(0)
            .unwrap()
            .named_child(0)
            .unwrap()
            .field("left")
            .unwrap();
        scope.bind_target(
            target,
            Some(Value::Seq(vec![s("1"), Value::Seq(vec![s("2"), s("3")])])),
            "a, (b, c) = 1\n",
        );
        assert_eq!(scope.get("c"), Some(&s("3")));
        scope.bind("c", None);
        assert_eq!(scope.get("c"), None);
    }

    #[test]
    fn call_errors_the_grammar_accepts_are_not_clean() {
        assert!(parses_cleanly("f(a, b=1, *c, **d)\n"));
        assert!(!parses_cleanly("f(b=1, a)\n"));
        assert!(!parses_cleanly("f(db_index=False, db_index=False)\n"));
        assert!(!parses_cleanly(
            "class A:\n    x = T(\"t\", m, schema=\"s\", Index(\"i\", \"c\"))\n"
        ));
    }

    #[test]
    fn f_strings_are_not_literal_values() {
        let source = "x = f\"a{b}\"\n";
        let tree = parse(source);
        let defs = definitions(&tree);
        let value = defs.assignments[0].field("right").unwrap();
        assert_eq!(string_value(value, source), None);
    }
}
