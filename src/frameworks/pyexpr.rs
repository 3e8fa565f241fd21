//! Python expressions as owned values (names, literals, calls, attributes,
//! subscripts, containers, operators), for what ixray reads a lot of:
//! Django migrations, which are mostly data, and the statements of query
//! code (`read_statement`). A small hand-written reader takes what these
//! are made of in one pass; anything it does not know makes it give up,
//! and the text is read by tree-sitter instead, into the same values.

use tree_sitter::Node;

use crate::frameworks::python as py;
use crate::frameworks::python::Fields as _;
use crate::source::Span;

#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    /// An identifier or attribute chain: `models.CharField`.
    Name(String),
    /// A string literal (implicit concatenation joined); f-strings with
    /// replacement fields and bytes are `Other`.
    Str(String),
    Number,
    True,
    False,
    None,
    Call {
        func: Box<Expr>,
        args: Vec<Expr>,
        keywords: Vec<(String, Expr)>,
        /// `*args` or `**kwargs`: the arguments are not all known.
        splat: bool,
    },
    List(Vec<Expr>),
    Tuple(Vec<Expr>),
    Set(Vec<Expr>),
    Dict(Vec<(Expr, Expr)>),
    Binary {
        op: String,
        left: Box<Expr>,
        right: Box<Expr>,
    },
    Unary {
        op: String,
        operand: Box<Expr>,
    },
    /// Attribute access on anything but a name: `f(x).y`, `a[0].b`
    /// (on a name it is part of the `Name`).
    Attribute {
        value: Box<Expr>,
        name: String,
    },
    /// `value[index]`; several indexes are a `Tuple`.
    Subscript {
        value: Box<Expr>,
        index: Box<Expr>,
    },
    /// `a:b:c` in a subscript: the parts written.
    Slice(Vec<Expr>),
    /// A construct not modelled (a conditional, a comprehension, an
    /// f-string, `await`, an assignment expression) with the expressions
    /// inside it, so that a reader looking for calls still finds them.
    Opaque(Vec<Expr>),
    /// Anything else: a lambda; when reading a module, a comprehension.
    Other,
}

impl Expr {
    pub fn str(&self) -> Option<&str> {
        match &self.kind {
            ExprKind::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn bool(&self) -> Option<bool> {
        match self.kind {
            ExprKind::True => Some(true),
            ExprKind::False => Some(false),
            _ => None,
        }
    }

    pub fn name(&self) -> Option<&str> {
        match &self.kind {
            ExprKind::Name(n) => Some(n),
            _ => None,
        }
    }

    pub fn is_none(&self) -> bool {
        self.kind == ExprKind::None
    }

    /// The callee's dotted name, for a call.
    pub fn call_name(&self) -> Option<&str> {
        match &self.kind {
            ExprKind::Call { func, .. } => func.name(),
            _ => None,
        }
    }

    /// A call's arguments.
    pub fn call_args(&self) -> Option<CallArgs<'_>> {
        match &self.kind {
            ExprKind::Call {
                args,
                keywords,
                splat,
                ..
            } => Some(CallArgs {
                positional: args,
                keywords,
                splat: *splat,
            }),
            _ => None,
        }
    }

    /// The items of a list, tuple or set.
    pub fn items(&self) -> Option<&[Expr]> {
        match &self.kind {
            ExprKind::List(items) | ExprKind::Tuple(items) | ExprKind::Set(items) => Some(items),
            _ => None,
        }
    }

    /// The strings of a list or tuple of strings.
    pub fn strings(&self) -> Option<Vec<String>> {
        self.items()?
            .iter()
            .map(|i| i.str().map(str::to_string))
            .collect()
    }

    /// The text the expression was read from.
    pub fn text<'t>(&self, source: &'t str) -> &'t str {
        &source[self.span.start..self.span.end]
    }

    /// The expressions directly inside this one, in source order (keyword
    /// arguments' values, dictionaries' keys and values).
    pub fn each_child(&self, mut visit: impl FnMut(&Expr)) {
        match &self.kind {
            ExprKind::Call {
                func,
                args,
                keywords,
                ..
            } => {
                visit(func);
                args.iter().for_each(&mut visit);
                keywords.iter().for_each(|(_, value)| visit(value));
            }
            ExprKind::List(items)
            | ExprKind::Tuple(items)
            | ExprKind::Set(items)
            | ExprKind::Slice(items)
            | ExprKind::Opaque(items) => items.iter().for_each(visit),
            ExprKind::Dict(pairs) => pairs.iter().for_each(|(key, value)| {
                visit(key);
                visit(value);
            }),
            ExprKind::Binary { left, right, .. } => {
                visit(left);
                visit(right);
            }
            ExprKind::Unary { operand, .. } => visit(operand),
            ExprKind::Attribute { value, .. } => visit(value),
            ExprKind::Subscript { value, index } => {
                visit(value);
                visit(index);
            }
            ExprKind::Name(_)
            | ExprKind::Str(_)
            | ExprKind::Number
            | ExprKind::True
            | ExprKind::False
            | ExprKind::None
            | ExprKind::Other => {}
        }
    }
}

/// One statement of query code, as the readers of queries need it.
#[derive(Debug, Clone, PartialEq)]
pub enum Statement {
    /// `name = value` (or `name: T = value`).
    Assign { target: String, value: Expr },
    /// Any other statement, or a compound statement's header: the
    /// expressions it holds, in source order.
    Exprs(Vec<Expr>),
    /// A function defined here: its body's statements, in a scope of
    /// their own.
    Function(Vec<Statement>),
}

/// The arguments of a call.
#[derive(Debug, Clone, Copy)]
pub struct CallArgs<'e> {
    pub positional: &'e [Expr],
    pub keywords: &'e [(String, Expr)],
    pub splat: bool,
}

impl<'e> CallArgs<'e> {
    pub fn keyword(&self, name: &str) -> Option<&'e Expr> {
        self.keywords
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }

    /// A keyword argument, or the positional one at `position`.
    pub fn get(&self, name: &str, position: usize) -> Option<&'e Expr> {
        self.keyword(name).or_else(|| self.positional.get(position))
    }
}

/// What a module assigns: at top level, and in each top-level class body.
#[derive(Debug, Default)]
pub struct Module {
    pub assignments: Vec<(String, Expr)>,
    pub classes: Vec<ClassDef>,
}

#[derive(Debug)]
pub struct ClassDef {
    pub name: String,
    pub assignments: Vec<(String, Expr)>,
}

/// Read a module with the fast reader; `None` when it holds anything the
/// reader does not know (the caller then uses `from_tree`).
pub fn read_module(text: &str) -> Option<Module> {
    Reader::new(text).module()
}

/// Read one logical line of query code, `text[start..end]`, as a
/// statement with the fast reader; `None` when it holds anything the
/// reader does not know or would lose (a definition, a decorator, a
/// one-line compound statement, a comprehension, an f-string's fields):
/// the caller parses it with tree-sitter then (`statements_from_tree`).
pub fn read_statement(text: &str, start: usize, end: usize) -> Option<Statement> {
    let mut reader = Reader::at(text.get(..end)?, start, true);
    let statement = reader.statement()?;
    matches!(reader.tok, Tok::Newline | Tok::End).then_some(statement)
}

/// The same, from a tree-sitter tree.
pub fn from_tree(tree: &tree_sitter::Tree, text: &str) -> Module {
    let definitions = py::definitions(tree);
    let mut module = Module::default();
    for assignment in &definitions.assignments {
        if let (Some(left), Some(right)) = (assignment.field("left"), assignment.field("right"))
            && left.kind() == "identifier"
        {
            module
                .assignments
                .push((py::text(left, text).to_string(), convert(right, text)));
        }
    }
    for class in &definitions.classes {
        let (Some(name), Some(body)) = (class.field("name"), class.field("body")) else {
            continue;
        };
        module.classes.push(ClassDef {
            name: py::text(name, text).to_string(),
            assignments: py::class_assignments(body, text)
                .into_iter()
                .map(|(name, value, _)| (name, convert(value, text)))
                .collect(),
        });
    }
    module
}

/// A tree-sitter expression node as an `Expr`.
pub fn convert(node: Node, text: &str) -> Expr {
    Converter { text, shift: 0 }.expr(node)
}

/// Reads tree-sitter nodes into `Expr`s and `Statement`s, with spans
/// shifted from the parsed text to the file (query code is parsed a few
/// statements at a time, out of place).
struct Converter<'t> {
    text: &'t str,
    shift: isize,
}

impl Converter<'_> {
    fn span(&self, node: Node) -> Span {
        let span = py::span(node);
        let at = |offset: usize| (offset as isize + self.shift) as usize;
        Span::new(at(span.start), at(span.end))
    }

    fn children(&self, node: Node) -> Vec<Expr> {
        let mut cursor = node.walk();
        node.named_children(&mut cursor)
            .filter(|n| n.kind() != "comment")
            .map(|n| self.expr(n))
            .collect()
    }

    fn expr(&self, node: Node) -> Expr {
        let text = self.text;
        let span = self.span(node);
        let other = |span| Expr {
            kind: ExprKind::Other,
            span,
        };
        let kind = match node.kind() {
            "identifier" => match py::text(node, text) {
                "True" => ExprKind::True,
                "False" => ExprKind::False,
                "None" => ExprKind::None,
                name => ExprKind::Name(name.to_string()),
            },
            "attribute" => match (py::dotted_name(node, text), node.field("object")) {
                (Some(name), _) => ExprKind::Name(name),
                (None, Some(object)) => match node.field("attribute") {
                    Some(name) => ExprKind::Attribute {
                        value: Box::new(self.expr(object)),
                        name: py::text(name, text).to_string(),
                    },
                    None => ExprKind::Other,
                },
                (None, None) => ExprKind::Other,
            },
            "string" | "concatenated_string" => match py::string_value(node, text) {
                Some(s) => ExprKind::Str(s),
                None => ExprKind::Opaque(self.children(node)),
            },
            "integer" | "float" => ExprKind::Number,
            "true" => ExprKind::True,
            "false" => ExprKind::False,
            "none" => ExprKind::None,
            "call" => self.call(node, span),
            "list" => ExprKind::List(self.children(node)),
            "tuple" => ExprKind::Tuple(self.children(node)),
            "set" => ExprKind::Set(self.children(node)),
            "dictionary" => {
                let mut pairs = Vec::new();
                let mut cursor = node.walk();
                for pair in node.named_children(&mut cursor) {
                    if pair.kind() == "comment" {
                        continue;
                    }
                    match (pair.field("key"), pair.field("value")) {
                        (Some(k), Some(v)) if pair.kind() == "pair" => {
                            pairs.push((self.expr(k), self.expr(v)));
                        }
                        // `**other` inside a dict literal.
                        _ => return other(span),
                    }
                }
                ExprKind::Dict(pairs)
            }
            "parenthesized_expression" => {
                return match node.named_child(0) {
                    Some(inner) if node.named_child_count() == 1 => {
                        let mut inner = self.expr(inner);
                        inner.span = span;
                        inner
                    }
                    _ => other(span),
                };
            }
            "binary_operator" | "boolean_operator" => {
                match (
                    node.field("left"),
                    node.field("operator"),
                    node.field("right"),
                ) {
                    (Some(l), Some(op), Some(r)) => ExprKind::Binary {
                        op: py::text(op, text).to_string(),
                        left: Box::new(self.expr(l)),
                        right: Box::new(self.expr(r)),
                    },
                    _ => ExprKind::Other,
                }
            }
            "unary_operator" | "not_operator" => {
                match (
                    node.child(0),
                    node.field("argument").or_else(|| node.named_child(0)),
                ) {
                    (Some(op), Some(operand)) => ExprKind::Unary {
                        op: py::text(op, text).to_string(),
                        operand: Box::new(self.expr(operand)),
                    },
                    _ => ExprKind::Other,
                }
            }
            "subscript" => {
                let mut indexes = Vec::new();
                let mut cursor = node.walk();
                for index in node.children_by_field_name("subscript", &mut cursor) {
                    indexes.push(self.expr(index));
                }
                let index = match indexes.len() {
                    1 => indexes.pop().unwrap_or_else(|| other(span)),
                    _ => Expr {
                        span: Span::new(
                            indexes.first().map_or(span.start, |i| i.span.start),
                            indexes.last().map_or(span.end, |i| i.span.end),
                        ),
                        kind: ExprKind::Tuple(indexes),
                    },
                };
                match node.field("value") {
                    Some(value) => ExprKind::Subscript {
                        value: Box::new(self.expr(value)),
                        index: Box::new(index),
                    },
                    None => ExprKind::Other,
                }
            }
            "slice" => ExprKind::Slice(self.children(node)),
            "lambda" => ExprKind::Other,
            // A conditional, a comprehension, `await`, `x := y`, a
            // comparison of more than two operands…
            _ => match self.comparison(node) {
                Some(kind) => kind,
                None => ExprKind::Opaque(self.children(node)),
            },
        };
        Expr { kind, span }
    }

    /// `a < b` (one operator, two operands) as a binary operator.
    fn comparison(&self, node: Node) -> Option<ExprKind> {
        if node.kind() != "comparison_operator" || node.named_child_count() != 2 {
            return None;
        }
        let (left, right) = (node.named_child(0)?, node.named_child(1)?);
        let op = self.text.get(left.end_byte()..right.start_byte())?;
        Some(ExprKind::Binary {
            op: op.split_whitespace().collect::<Vec<_>>().join(" "),
            left: Box::new(self.expr(left)),
            right: Box::new(self.expr(right)),
        })
    }

    fn call(&self, node: Node, span: Span) -> ExprKind {
        let text = self.text;
        let func = node.field("function").map_or(
            Expr {
                kind: ExprKind::Other,
                span,
            },
            |f| self.expr(f),
        );
        let mut args = Vec::new();
        let mut keywords = Vec::new();
        let mut splat = false;
        match node.field("arguments") {
            Some(list) if list.kind() == "argument_list" => {
                let mut cursor = list.walk();
                for child in list.named_children(&mut cursor) {
                    match child.kind() {
                        "comment" => {}
                        "keyword_argument" => {
                            if let (Some(name), Some(value)) =
                                (child.field("name"), child.field("value"))
                            {
                                keywords.push((py::text(name, text).to_string(), self.expr(value)));
                            }
                        }
                        "list_splat" | "dictionary_splat" => splat = true,
                        _ => args.push(self.expr(child)),
                    }
                }
            }
            // A generator argument: `f(x for x in y)`.
            Some(generator) => {
                splat = true;
                args.push(self.expr(generator));
            }
            None => {}
        }
        ExprKind::Call {
            func: Box::new(func),
            args,
            keywords,
            splat,
        }
    }

    /// A statement node as the statements it holds: a compound statement
    /// gives its header's expressions and its body's statements in order,
    /// a function its own scope.
    fn statements(&self, node: Node, out: &mut Vec<Statement>) {
        let text = self.text;
        match node.kind() {
            "function_definition" => {
                let mut body = Vec::new();
                if let Some(block) = node.field("body") {
                    self.statements(block, &mut body);
                }
                out.push(Statement::Function(body));
                return;
            }
            "expression_statement" => {
                if let Some(assignment) = node.named_child(0).filter(|n| n.kind() == "assignment")
                    && let (Some(left), Some(right)) =
                        (assignment.field("left"), assignment.field("right"))
                    && left.kind() == "identifier"
                {
                    out.push(Statement::Assign {
                        target: py::text(left, text).to_string(),
                        value: self.expr(right),
                    });
                    return;
                }
            }
            "for_statement" => {
                // The targets bind names; only the iterable and the body
                // are read.
                if let Some(right) = node.field("right") {
                    out.push(Statement::Exprs(vec![self.expr(right)]));
                }
                let mut cursor = node.walk();
                for child in node.named_children(&mut cursor) {
                    if child.kind() == "block" || child.kind().ends_with("_clause") {
                        self.statements(child, out);
                    }
                }
                return;
            }
            _ => {}
        }
        let mut exprs = Vec::new();
        let mut cursor = node.walk();
        for child in node.named_children(&mut cursor) {
            match child.kind() {
                "comment" => {}
                kind if is_statement_kind(kind) => {
                    if !exprs.is_empty() {
                        out.push(Statement::Exprs(std::mem::take(&mut exprs)));
                    }
                    self.statements(child, out);
                }
                _ => exprs.push(self.expr(child)),
            }
        }
        if !exprs.is_empty() {
            out.push(Statement::Exprs(exprs));
        }
    }
}

/// Nodes that hold statements rather than being an expression.
fn is_statement_kind(kind: &str) -> bool {
    kind.ends_with("_statement")
        || kind.ends_with("_clause")
        || kind.ends_with("_definition")
        || matches!(kind, "block" | "module")
}

/// The statements of a tree-sitter statement node, with spans shifted by
/// `shift` (from the text parsed to the file).
pub fn statements_from_tree(node: Node, text: &str, shift: isize) -> Vec<Statement> {
    let mut out = Vec::new();
    Converter { text, shift }.statements(node, &mut out);
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    Name,
    Number,
    Str,
    /// Punctuation or an operator.
    Op,
    /// The end of a logical line (outside brackets).
    Newline,
    End,
}

/// The fast reader: a tokenizer and a recursive-descent parser over the
/// expressions generated modules use.
struct Reader<'t> {
    text: &'t str,
    bytes: &'t [u8],
    pos: usize,
    /// Bracket depth: newlines inside brackets are not line ends.
    depth: usize,
    /// The current token.
    tok: Tok,
    start: usize,
    end: usize,
    /// The column of the current token's line start, for a token that
    /// starts a logical line.
    line_indent: usize,
    at_line_start: bool,
    /// The end of the token before the current one.
    prev_end: usize,
    steps: usize,
    /// Expressions being read inside each other.
    nesting: usize,
    /// Reading statements of query code: a construct whose inside would
    /// be lost (a comprehension, an f-string's fields, a starred item)
    /// makes the reader give up, so that tree-sitter reads it instead.
    strict: bool,
}

/// Nesting beyond this is left to tree-sitter.
const MAX_NESTING: usize = 64;

/// Binary operators by precedence, lowest first.
const BINARY_LEVELS: &[&[&str]] = &[
    &["or"],
    &["and"],
    &["==", "!=", "<", ">", "<=", ">=", "in", "is"],
    &["|"],
    &["^"],
    &["&"],
    &["<<", ">>"],
    &["+", "-"],
    &["*", "/", "//", "%", "@"],
];

/// The comparisons' level, where `not in` is an operator and `not x`
/// an operand.
const NOT_LEVEL: usize = 2;

impl<'t> Reader<'t> {
    fn new(text: &'t str) -> Self {
        Self::at(text, 0, false)
    }

    /// A reader whose first token starts at `pos` (at or before it).
    fn at(text: &'t str, pos: usize, strict: bool) -> Self {
        let mut reader = Reader {
            text,
            bytes: text.as_bytes(),
            pos,
            depth: 0,
            tok: Tok::End,
            start: 0,
            end: 0,
            line_indent: 0,
            at_line_start: true,
            prev_end: pos,
            steps: 0,
            nesting: 0,
            strict,
        };
        reader.advance();
        reader
    }

    fn tok_text(&self) -> &'t str {
        &self.text[self.start..self.end]
    }

    fn is_op(&self, op: &str) -> bool {
        self.tok == Tok::Op && self.tok_text() == op
    }

    fn is_name(&self, name: &str) -> bool {
        self.tok == Tok::Name && self.tok_text() == name
    }

    /// Move to the next token.
    fn advance(&mut self) {
        self.steps += 1;
        self.prev_end = self.end;
        let bytes = self.bytes;
        // Whitespace, comments, line continuations.
        while self.pos < bytes.len() {
            match bytes[self.pos] {
                b' ' | b'\t' | b'\r' | b'\x0c' => self.pos += 1,
                b'\\' if bytes.get(self.pos + 1) == Some(&b'\n') => self.pos += 2,
                b'#' => {
                    while self.pos < bytes.len() && bytes[self.pos] != b'\n' {
                        self.pos += 1;
                    }
                }
                b'\n' => {
                    self.pos += 1;
                    if self.depth == 0 && !self.at_line_start {
                        // A logical line ends here.
                        self.tok = Tok::Newline;
                        self.start = self.pos - 1;
                        self.end = self.pos;
                        self.at_line_start = true;
                        return;
                    }
                }
                _ => break,
            }
        }
        if self.pos >= bytes.len() {
            if self.depth == 0 && !self.at_line_start {
                self.tok = Tok::Newline;
                self.start = self.pos;
                self.end = self.pos;
                self.at_line_start = true;
                return;
            }
            self.tok = Tok::End;
            self.start = self.pos;
            self.end = self.pos;
            return;
        }
        if self.at_line_start && self.depth == 0 {
            let line_begin = self.text[..self.pos].rfind('\n').map_or(0, |i| i + 1);
            self.line_indent = self.pos - line_begin;
        }
        self.at_line_start = false;
        self.start = self.pos;
        let c = bytes[self.pos];
        // String prefixes: r, b, u, f and pairs.
        let mut prefix_end = self.pos;
        while prefix_end < bytes.len()
            && prefix_end - self.pos < 2
            && matches!(
                bytes[prefix_end],
                b'r' | b'R' | b'b' | b'B' | b'u' | b'U' | b'f' | b'F'
            )
        {
            prefix_end += 1;
        }
        if prefix_end < bytes.len() && matches!(bytes[prefix_end], b'"' | b'\'') {
            if let Some(end) = string_end(bytes, prefix_end) {
                self.pos = end;
                self.tok = Tok::Str;
                self.end = end;
                return;
            }
            // An unterminated string: nothing to read.
            self.pos = bytes.len();
            self.tok = Tok::End;
            self.end = self.pos;
            return;
        }
        if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 {
            while self.pos < bytes.len()
                && (bytes[self.pos].is_ascii_alphanumeric()
                    || bytes[self.pos] == b'_'
                    || bytes[self.pos] >= 0x80)
            {
                self.pos += 1;
            }
            self.tok = Tok::Name;
            self.end = self.pos;
            return;
        }
        if c.is_ascii_digit()
            || (c == b'.' && bytes.get(self.pos + 1).is_some_and(u8::is_ascii_digit))
        {
            while self.pos < bytes.len()
                && (bytes[self.pos].is_ascii_alphanumeric()
                    || bytes[self.pos] == b'_'
                    || bytes[self.pos] == b'.'
                    || ((bytes[self.pos] == b'+' || bytes[self.pos] == b'-')
                        && matches!(bytes[self.pos - 1], b'e' | b'E')))
            {
                self.pos += 1;
            }
            self.tok = Tok::Number;
            self.end = self.pos;
            return;
        }
        // Operators by their first bytes (names, numbers, strings and
        // every non-ASCII byte were taken above).
        let at = |k: usize| bytes.get(self.pos + k).copied().unwrap_or(0);
        let len = match (c, at(1), at(2)) {
            (b'*', b'*', b'=') | (b'/', b'/', b'=') | (b'>', b'>', b'=') | (b'<', b'<', b'=') => 3,
            (b'.', b'.', b'.') => 3,
            (b'*', b'*', _) | (b'/', b'/', _) | (b'<', b'<', _) | (b'>', b'>', _) => 2,
            (b'-', b'>', _) => 2,
            (
                b'=' | b'!' | b'<' | b'>' | b'+' | b'-' | b'*' | b'/' | b'%' | b'&' | b'|' | b'^'
                | b'@' | b':',
                b'=',
                _,
            ) => 2,
            _ => 1,
        };
        match c {
            b'(' | b'[' | b'{' => self.depth += 1,
            b')' | b']' | b'}' => self.depth = self.depth.saturating_sub(1),
            _ => {}
        }
        self.pos += len;
        self.tok = Tok::Op;
        self.end = self.pos;
    }

    fn expect_op(&mut self, op: &str) -> Option<()> {
        if self.is_op(op) {
            self.advance();
            Some(())
        } else {
            None
        }
    }

    /// The module's top-level statements.
    fn module(&mut self) -> Option<Module> {
        let mut module = Module::default();
        while self.tok != Tok::End {
            if self.tok == Tok::Newline {
                self.advance();
                continue;
            }
            if self.line_indent != 0 {
                return None;
            }
            if self.is_name("class") {
                module.classes.push(self.class_def()?);
            } else if self.is_name("def") || self.is_name("async") || self.is_op("@") {
                self.skip_statement(0)?;
            } else if let Some((name, value)) = self.assignment()? {
                module.assignments.push((name, value));
            }
        }
        Some(module)
    }

    /// One logical line of query code as a statement: a simple statement,
    /// or a compound statement's header (`if …:`, `for … in …:`,
    /// `with … as …:`). Definitions, decorators and one-line compound
    /// statements give `None`.
    fn statement(&mut self) -> Option<Statement> {
        if self.is_name("async") {
            self.advance();
        }
        let keyword = if self.tok == Tok::Name {
            self.tok_text()
        } else {
            ""
        };
        let exprs = match keyword {
            "if" | "elif" | "while" => {
                self.advance();
                let condition = self.expression()?;
                self.header_end()?;
                vec![condition]
            }
            "else" | "try" | "finally" => {
                self.advance();
                self.header_end()?;
                Vec::new()
            }
            "except" => {
                self.advance();
                if self.is_op("*") {
                    self.advance();
                }
                let mut exprs = Vec::new();
                if !self.is_op(":") {
                    exprs.push(self.expression()?);
                    if self.is_name("as") {
                        self.advance();
                        self.expression()?;
                    }
                }
                self.header_end()?;
                exprs
            }
            "for" => {
                // The targets bind names; only the iterable is read.
                while !(self.depth == 0 && self.is_name("in")) {
                    if matches!(self.tok, Tok::Newline | Tok::End) {
                        return None;
                    }
                    self.advance();
                }
                self.advance();
                let iterable = self.expression_list()?;
                self.header_end()?;
                vec![iterable]
            }
            "with" => {
                self.advance();
                if self.is_op("(") {
                    // `with (a as b, c):` or a parenthesized expression.
                    return None;
                }
                let mut items = Vec::new();
                loop {
                    items.push(self.expression()?);
                    if self.is_name("as") {
                        self.advance();
                        self.expression()?;
                    }
                    if !self.is_op(",") {
                        break;
                    }
                    self.advance();
                }
                self.header_end()?;
                items
            }
            "return" | "yield" | "assert" | "del" => {
                self.advance();
                if keyword == "yield" && self.is_name("from") {
                    self.advance();
                }
                if matches!(self.tok, Tok::Newline | Tok::End) {
                    Vec::new()
                } else {
                    vec![self.expression_list()?]
                }
            }
            "raise" => {
                self.advance();
                let mut exprs = Vec::new();
                if !matches!(self.tok, Tok::Newline | Tok::End) {
                    exprs.push(self.expression()?);
                    if self.is_name("from") {
                        self.advance();
                        exprs.push(self.expression()?);
                    }
                }
                exprs
            }
            "pass" | "break" | "continue" | "global" | "nonlocal" | "import" => {
                while !matches!(self.tok, Tok::Newline | Tok::End) {
                    self.advance();
                }
                Vec::new()
            }
            "def" | "class" | "from" | "lambda" => return None,
            _ => return self.assignment_or_expression(),
        };
        Some(Statement::Exprs(exprs))
    }

    /// The `:` that ends a compound statement's header, and nothing after
    /// it on the line.
    fn header_end(&mut self) -> Option<()> {
        self.expect_op(":")?;
        matches!(self.tok, Tok::Newline | Tok::End).then_some(())
    }

    /// `name = value`, `name: T = value`, `target = value`, `target += value`
    /// or an expression.
    fn assignment_or_expression(&mut self) -> Option<Statement> {
        if self.is_op("@") {
            return None;
        }
        let first = self.expression_list()?;
        let simple_name = match &first.kind {
            ExprKind::Name(name) if !name.contains('.') => Some(name.clone()),
            _ => None,
        };
        if self.is_op(":") {
            // An annotation.
            let target = simple_name?;
            self.advance();
            self.expression()?;
            if !self.is_op("=") {
                return Some(Statement::Exprs(Vec::new()));
            }
            self.advance();
            let value = self.expression_list()?;
            return Some(Statement::Assign { target, value });
        }
        let augmented = self.tok == Tok::Op
            && self.tok_text().len() >= 2
            && self.tok_text().ends_with('=')
            && !matches!(self.tok_text(), "==" | "!=" | "<=" | ">=");
        if self.is_op("=") || augmented {
            self.advance();
            let value = self.expression_list()?;
            if self.is_op("=") {
                // `a = b = c`
                return None;
            }
            return Some(match simple_name {
                Some(target) if !augmented => Statement::Assign { target, value },
                _ => Statement::Exprs(vec![first, value]),
            });
        }
        Some(Statement::Exprs(vec![first]))
    }

    /// `name = value` (or `name: T = value`); any other simple statement is
    /// skipped. `None` when the text is not what the reader knows.
    fn assignment(&mut self) -> Option<Option<(String, Expr)>> {
        let indent = self.line_indent;
        if self.tok == Tok::Name
            && !matches!(
                self.tok_text(),
                "import"
                    | "from"
                    | "if"
                    | "for"
                    | "while"
                    | "try"
                    | "with"
                    | "def"
                    | "class"
                    | "return"
                    | "pass"
                    | "raise"
                    | "assert"
                    | "del"
                    | "global"
                    | "nonlocal"
                    | "elif"
                    | "else"
                    | "except"
                    | "finally"
                    | "async"
                    | "lambda"
            )
        {
            let name = self.tok_text().to_string();
            let mark = (self.pos, self.depth, self.tok, self.start, self.end);
            self.advance();
            if self.is_op(":") {
                // An annotation: skip it.
                self.advance();
                self.expression()?;
            }
            if self.is_op("=") {
                self.advance();
                let value = self.expression_list()?;
                if self.tok == Tok::Newline || self.tok == Tok::End {
                    return Some(Some((name, value)));
                }
                // `a = b = c`, or a tail the reader does not follow.
                if self.is_op("=") {
                    return None;
                }
                return None;
            }
            (self.pos, self.depth, self.tok, self.start, self.end) = mark;
        }
        self.skip_statement(indent)?;
        Some(None)
    }

    /// Skip a statement: its logical line, and its block when the line
    /// opens one (ends with `:`).
    fn skip_statement(&mut self, indent: usize) -> Option<()> {
        let mut last_colon = false;
        while self.tok != Tok::Newline && self.tok != Tok::End {
            last_colon = self.is_op(":");
            self.advance();
            if self.steps > self.bytes.len() * 4 + 16 {
                return None;
            }
        }
        if self.tok == Tok::Newline {
            self.advance();
        }
        if last_colon {
            // The block: the lines indented deeper.
            while self.tok != Tok::End {
                if self.tok == Tok::Newline {
                    self.advance();
                    continue;
                }
                if self.line_indent <= indent {
                    break;
                }
                while self.tok != Tok::Newline && self.tok != Tok::End {
                    self.advance();
                }
            }
        }
        Some(())
    }

    fn class_def(&mut self) -> Option<ClassDef> {
        let indent = self.line_indent;
        self.advance();
        if self.tok != Tok::Name {
            return None;
        }
        let name = self.tok_text().to_string();
        self.advance();
        if self.is_op("(") {
            // The bases are not needed.
            self.skip_bracket()?;
        }
        self.expect_op(":")?;
        let mut class = ClassDef {
            name,
            assignments: Vec::new(),
        };
        if self.tok != Tok::Newline {
            // `class A: pass` on one line.
            self.skip_statement(indent)?;
            return Some(class);
        }
        self.advance();
        while self.tok != Tok::End {
            if self.tok == Tok::Newline {
                self.advance();
                continue;
            }
            if self.line_indent <= indent {
                break;
            }
            let line_indent = self.line_indent;
            if self.is_name("def")
                || self.is_name("async")
                || self.is_op("@")
                || self.is_name("class")
            {
                self.skip_statement(line_indent)?;
                continue;
            }
            if let Some(pair) = self.assignment()? {
                class.assignments.push(pair);
            }
        }
        Some(class)
    }

    /// `a, b` without brackets is a tuple.
    fn expression_list(&mut self) -> Option<Expr> {
        let first = self.expression()?;
        if !self.is_op(",") {
            return Some(first);
        }
        let start = first.span.start;
        let mut items = vec![first];
        while self.is_op(",") {
            self.advance();
            if self.tok == Tok::Newline || self.tok == Tok::End || self.is_op("=") {
                break;
            }
            items.push(self.expression()?);
        }
        let end = items.last().map_or(start, |i| i.span.end);
        Some(Expr {
            kind: ExprKind::Tuple(items),
            span: Span::new(start, end),
        })
    }

    fn expression(&mut self) -> Option<Expr> {
        if self.nesting > MAX_NESTING {
            return None;
        }
        self.nesting += 1;
        let expr = self.conditional();
        self.nesting -= 1;
        expr
    }

    fn conditional(&mut self) -> Option<Expr> {
        if self.depth > MAX_NESTING || self.steps > self.bytes.len() * 4 + 16 {
            return None;
        }
        if self.is_name("lambda") {
            return self.lambda();
        }
        let value = self.binary(0)?;
        // `a if b else c`
        if self.is_name("if") {
            self.advance();
            let test = self.binary(0)?;
            if !self.is_name("else") {
                return None;
            }
            self.advance();
            let other = self.expression()?;
            return Some(Expr {
                span: Span::new(value.span.start, other.span.end),
                kind: ExprKind::Opaque(vec![value, test, other]),
            });
        }
        Some(value)
    }

    /// A lambda is kept as `Other`: its body is skipped to the next `,`
    /// or closing bracket at its own depth.
    fn lambda(&mut self) -> Option<Expr> {
        let start = self.start;
        let depth = self.depth;
        // The parameters, up to the `:` at the lambda's own depth.
        while !(self.depth == depth && self.is_op(":")) {
            if self.tok == Tok::End || self.tok == Tok::Newline || self.depth < depth {
                return None;
            }
            self.advance();
        }
        self.advance();
        let mut end = self.end;
        loop {
            if self.tok == Tok::End || self.tok == Tok::Newline {
                break;
            }
            // A closer lowers the depth as it is read: the one that ends
            // the enclosing group leaves it below the lambda's.
            if (self.depth == depth && self.is_op(",")) || self.depth < depth {
                break;
            }
            end = self.end;
            self.advance();
        }
        Some(Expr {
            kind: ExprKind::Other,
            span: Span::new(start, end),
        })
    }

    /// Binary operators from precedence `min_level` up (see
    /// [`BINARY_LEVELS`]), by precedence climbing: one call per operand,
    /// not one per level.
    fn binary(&mut self, min_level: usize) -> Option<Expr> {
        // `not x` binds looser than a comparison, tighter than `and`.
        let mut left = if min_level <= NOT_LEVEL && self.is_name("not") {
            let start = self.start;
            self.advance();
            let operand = self.binary(NOT_LEVEL)?;
            Expr {
                span: Span::new(start, operand.span.end),
                kind: ExprKind::Unary {
                    op: "not".into(),
                    operand: Box::new(operand),
                },
            }
        } else {
            self.unary()?
        };
        // Operators of one level in a row: a long chain nests as deep as it
        // is long, and is left to tree-sitter (whose depth limit then
        // applies).
        let mut run = (usize::MAX, 0);
        loop {
            let Some(level) = self.binary_level().filter(|level| *level >= min_level) else {
                return Some(left);
            };
            run = if run.0 == level {
                (level, run.1 + 1)
            } else {
                (level, 1)
            };
            let mut op = self.tok_text().to_string();
            self.advance();
            // `not in`, `is not`
            if (op == "not" && self.is_name("in")) || (op == "is" && self.is_name("not")) {
                op = format!("{op} {}", self.tok_text());
                self.advance();
            } else if op == "not" {
                return None;
            }
            let right = self.binary(level + 1)?;
            left = Expr {
                span: Span::new(left.span.start, right.span.end),
                kind: ExprKind::Binary {
                    op,
                    left: Box::new(left),
                    right: Box::new(right),
                },
            };
            if run.1 == MAX_NESTING {
                return None;
            }
        }
    }

    /// The precedence level of the binary operator at the current token.
    fn binary_level(&self) -> Option<usize> {
        if !matches!(self.tok, Tok::Op | Tok::Name) {
            return None;
        }
        let text = self.tok_text();
        if text == "not" {
            return Some(NOT_LEVEL);
        }
        BINARY_LEVELS.iter().position(|ops| ops.contains(&text))
    }

    fn unary(&mut self) -> Option<Expr> {
        if self.nesting > MAX_NESTING {
            return None;
        }
        // A prefix operator; `await x` is kept as what it awaits.
        if self.is_op("-") || self.is_op("+") || self.is_op("~") || self.is_name("await") {
            let start = self.start;
            let op = self.tok_text().to_string();
            self.advance();
            self.nesting += 1;
            let operand = self.unary();
            self.nesting -= 1;
            let operand = Box::new(operand?);
            return Some(Expr {
                span: Span::new(start, operand.span.end),
                kind: if op == "await" {
                    ExprKind::Opaque(vec![*operand])
                } else {
                    ExprKind::Unary { op, operand }
                },
            });
        }
        let base = self.postfix()?;
        if self.is_op("**") {
            self.advance();
            let exponent = self.unary()?;
            return Some(Expr {
                span: Span::new(base.span.start, exponent.span.end),
                kind: ExprKind::Binary {
                    op: "**".into(),
                    left: Box::new(base),
                    right: Box::new(exponent),
                },
            });
        }
        Some(base)
    }

    /// An atom with its calls, attributes and subscripts.
    fn postfix(&mut self) -> Option<Expr> {
        let mut expr = self.atom()?;
        loop {
            if self.is_op(".") {
                self.advance();
                if self.tok != Tok::Name {
                    return None;
                }
                let attribute = self.tok_text().to_string();
                let end = self.end;
                self.advance();
                let span = Span::new(expr.span.start, end);
                expr = Expr {
                    span,
                    kind: match expr.kind {
                        ExprKind::Name(name) => ExprKind::Name(format!("{name}.{attribute}")),
                        _ => ExprKind::Attribute {
                            value: Box::new(expr),
                            name: attribute,
                        },
                    },
                };
            } else if self.is_op("(") {
                expr = self.call(expr)?;
            } else if self.is_op("[") {
                expr = self.subscript(expr)?;
            } else {
                return Some(expr);
            }
        }
    }

    /// `value[index]`, the `[` current.
    fn subscript(&mut self, value: Expr) -> Option<Expr> {
        self.advance();
        let mut indexes = Vec::new();
        while !self.is_op("]") {
            if self.tok == Tok::End {
                return None;
            }
            indexes.push(self.index()?);
            if self.is_op(",") {
                self.advance();
            } else if !self.is_op("]") {
                return None;
            }
        }
        let end = self.end;
        self.advance();
        let index = match indexes.len() {
            0 => return None,
            1 => indexes.pop()?,
            _ => Expr {
                span: Span::new(indexes[0].span.start, indexes[indexes.len() - 1].span.end),
                kind: ExprKind::Tuple(indexes),
            },
        };
        Some(Expr {
            span: Span::new(value.span.start, end),
            kind: ExprKind::Subscript {
                value: Box::new(value),
                index: Box::new(index),
            },
        })
    }

    /// One index of a subscript: an expression or a slice.
    fn index(&mut self) -> Option<Expr> {
        let start = self.start;
        let first = if self.is_op(":") {
            None
        } else {
            Some(self.expression()?)
        };
        if !self.is_op(":") {
            return first;
        }
        let mut parts: Vec<Expr> = first.into_iter().collect();
        while self.is_op(":") {
            self.advance();
            if !(self.is_op(":") || self.is_op(",") || self.is_op("]")) {
                parts.push(self.expression()?);
            }
        }
        Some(Expr {
            span: Span::new(start, self.last_end()),
            kind: ExprKind::Slice(parts),
        })
    }

    fn call(&mut self, func: Expr) -> Option<Expr> {
        let start = func.span.start;
        self.advance(); // (
        let mut args = Vec::new();
        let mut keywords = Vec::new();
        let mut splat = false;
        while !self.is_op(")") {
            if self.tok == Tok::End {
                return None;
            }
            if self.is_op("*") || self.is_op("**") {
                self.advance();
                self.expression()?;
                splat = true;
            } else if self.tok == Tok::Name && self.peek_is_keyword() {
                let name = self.tok_text().to_string();
                self.advance();
                self.advance(); // =
                keywords.push((name, self.expression()?));
            } else {
                let arg = self.expression()?;
                if self.is_name("for") {
                    // A generator argument.
                    return None;
                }
                args.push(arg);
            }
            if self.is_op(",") {
                self.advance();
            } else if !self.is_op(")") {
                return None;
            }
        }
        let end = self.end;
        self.advance(); // )
        Some(Expr {
            kind: ExprKind::Call {
                func: Box::new(func),
                args,
                keywords,
                splat,
            },
            span: Span::new(start, end),
        })
    }

    /// Whether the current name is followed by `=` (not `==`).
    fn peek_is_keyword(&self) -> bool {
        let rest = self.text[self.end..].trim_start_matches([' ', '\t', '\r', '\n']);
        rest.starts_with('=') && !rest.starts_with("==")
    }

    fn atom(&mut self) -> Option<Expr> {
        let start = self.start;
        match self.tok {
            Tok::Name => {
                let name = self.tok_text();
                let kind = match name {
                    "True" => ExprKind::True,
                    "False" => ExprKind::False,
                    "None" => ExprKind::None,
                    "lambda" | "yield" | "await" | "not" | "if" | "else" | "for" | "in" | "is"
                    | "and" | "or" => return None,
                    _ => ExprKind::Name(name.to_string()),
                };
                let end = self.end;
                self.advance();
                Some(Expr {
                    kind,
                    span: Span::new(start, end),
                })
            }
            Tok::Number => {
                let end = self.end;
                self.advance();
                Some(Expr {
                    kind: ExprKind::Number,
                    span: Span::new(start, end),
                })
            }
            Tok::Str => {
                let mut value = Some(String::new());
                let mut end = self.end;
                while self.tok == Tok::Str {
                    match (&mut value, string_value(self.tok_text())) {
                        (Some(v), Some(part)) => v.push_str(&part),
                        _ => value = None,
                    }
                    end = self.end;
                    self.advance();
                }
                if value.is_none() && self.strict {
                    return None;
                }
                Some(Expr {
                    kind: value.map_or(ExprKind::Other, ExprKind::Str),
                    span: Span::new(start, end),
                })
            }
            Tok::Op => match self.tok_text() {
                "(" => self.parenthesized(),
                "[" => {
                    let items = self.sequence("]")?;
                    Some(Expr {
                        kind: items.map_or(ExprKind::Other, ExprKind::List),
                        span: Span::new(start, self.last_end()),
                    })
                }
                "{" => self.braces(),
                _ => None,
            },
            Tok::Newline | Tok::End => None,
        }
    }

    /// `None` when reading strictly: what follows would be lost.
    fn give_up_when_strict(&self) -> Option<()> {
        (!self.strict).then_some(())
    }

    /// The end of the token just consumed.
    fn last_end(&self) -> usize {
        self.prev_end
    }

    /// Skip a bracketed group whose opener is the current token, closer
    /// included.
    fn skip_bracket(&mut self) -> Option<()> {
        let depth = self.depth;
        loop {
            self.advance();
            if self.tok == Tok::End {
                return None;
            }
            if self.depth < depth {
                break;
            }
        }
        self.advance();
        Some(())
    }

    /// Items up to `close`, the opener already current; `Some(None)` for a
    /// comprehension (skipped).
    fn sequence(&mut self, close: &str) -> Option<Option<Vec<Expr>>> {
        let depth = self.depth;
        self.advance();
        let mut items = Vec::new();
        while !self.is_op(close) {
            if self.tok == Tok::End {
                return None;
            }
            if self.is_op("*") {
                // `[*a, b]`: not a literal ixray reads.
                self.give_up_when_strict()?;
                self.skip_to_close(depth)?;
                return Some(None);
            }
            items.push(self.expression()?);
            if self.is_name("for") {
                self.give_up_when_strict()?;
                self.skip_to_close(depth)?;
                return Some(None);
            }
            if self.is_op(",") {
                self.advance();
            } else if !self.is_op(close) {
                return None;
            }
        }
        self.advance();
        Some(Some(items))
    }

    /// Skip to just past the bracket that closes `depth` (the depth inside
    /// it).
    fn skip_to_close(&mut self, depth: usize) -> Option<()> {
        while self.depth >= depth {
            if self.tok == Tok::End {
                return None;
            }
            self.advance();
        }
        // The closer is current: consume it.
        self.advance();
        Some(())
    }

    fn parenthesized(&mut self) -> Option<Expr> {
        let start = self.start;
        let depth = self.depth;
        self.advance();
        if self.is_op(")") {
            self.advance();
            return Some(Expr {
                kind: ExprKind::Tuple(Vec::new()),
                span: Span::new(start, self.last_end()),
            });
        }
        let first = self.expression()?;
        if self.is_name("for") {
            self.give_up_when_strict()?;
            self.skip_to_close(depth)?;
            return Some(Expr {
                kind: ExprKind::Other,
                span: Span::new(start, self.last_end()),
            });
        }
        if self.is_op(")") {
            self.advance();
            return Some(Expr {
                kind: first.kind,
                span: Span::new(start, self.last_end()),
            });
        }
        let mut items = vec![first];
        while self.is_op(",") {
            self.advance();
            if self.is_op(")") {
                break;
            }
            items.push(self.expression()?);
        }
        self.expect_op(")")?;
        Some(Expr {
            kind: ExprKind::Tuple(items),
            span: Span::new(start, self.last_end()),
        })
    }

    /// A dict or set literal.
    fn braces(&mut self) -> Option<Expr> {
        let start = self.start;
        let depth = self.depth;
        self.advance();
        let mut pairs = Vec::new();
        let mut items = Vec::new();
        while !self.is_op("}") {
            if self.tok == Tok::End {
                return None;
            }
            if self.is_op("**") || self.is_op("*") {
                self.skip_to_close(depth)?;
                return Some(Expr {
                    kind: ExprKind::Other,
                    span: Span::new(start, self.last_end()),
                });
            }
            let key = self.expression()?;
            if self.is_op(":") {
                self.advance();
                pairs.push((key, self.expression()?));
            } else {
                items.push(key);
            }
            if self.is_name("for") {
                self.give_up_when_strict()?;
                self.skip_to_close(depth)?;
                return Some(Expr {
                    kind: ExprKind::Other,
                    span: Span::new(start, self.last_end()),
                });
            }
            if self.is_op(",") {
                self.advance();
            } else if !self.is_op("}") {
                return None;
            }
        }
        self.advance();
        let span = Span::new(start, self.last_end());
        if !pairs.is_empty() && !items.is_empty() {
            return None;
        }
        Some(Expr {
            kind: if items.is_empty() {
                ExprKind::Dict(pairs)
            } else {
                ExprKind::Set(items)
            },
            span,
        })
    }
}

/// The offset just past the string literal whose quote is at `quote`.
fn string_end(bytes: &[u8], quote: usize) -> Option<usize> {
    let q = bytes[quote];
    let triple = bytes.get(quote + 1) == Some(&q) && bytes.get(quote + 2) == Some(&q);
    let mut i = quote + if triple { 3 } else { 1 };
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'\n' if !triple => return None,
            c if c == q => {
                if !triple {
                    return Some(i + 1);
                }
                if bytes.get(i + 1) == Some(&q) && bytes.get(i + 2) == Some(&q) {
                    return Some(i + 3);
                }
                i += 1;
            }
            _ => i += 1,
        }
    }
    None
}

/// The value of one string literal token; `None` for bytes and f-strings
/// with replacement fields.
fn string_value(token: &str) -> Option<String> {
    let quote_at = token.find(['"', '\''])?;
    let prefix = token[..quote_at].to_ascii_lowercase();
    let raw = prefix.contains('r');
    let q = &token[quote_at..];
    let body = if q.starts_with("\"\"\"") || q.starts_with("'''") {
        &q[3..q.len() - 3]
    } else {
        &q[1..q.len() - 1]
    };
    if prefix.contains('f') && body.contains('{') {
        return None;
    }
    if raw || !body.contains('\\') {
        return Some(body.to_string());
    }
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('\\') => out.push('\\'),
            Some('\'') => out.push('\''),
            Some('"') => out.push('"'),
            Some('\n') => {}
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fast reader and tree-sitter give the same values.
    fn same(text: &str) -> Module {
        let fast = read_module(text).expect("the fast reader reads it");
        let tree = py::parse(text);
        let slow = from_tree(&tree, text);
        assert_eq!(
            format!("{:?}", fast.assignments),
            format!("{:?}", slow.assignments),
            "module level"
        );
        assert_eq!(fast.classes.len(), slow.classes.len());
        for (a, b) in fast.classes.iter().zip(&slow.classes) {
            assert_eq!(a.name, b.name);
            assert_eq!(
                format!("{:?}", a.assignments),
                format!("{:?}", b.assignments)
            );
        }
        fast
    }

    #[test]
    fn reads_a_generated_migration_as_tree_sitter_does() {
        let module = same(
            r#"# Generated by Django 5.2 on 2026-01-01
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

SQL = """
CREATE INDEX x ON t (a);  -- '"' inside
"""
EXTRA = [migrations.RunSQL(SQL, reverse_sql="DROP INDEX x")] + OTHER


def forwards(apps, schema_editor):
    Model = apps.get_model("shop", "Order")
    for o in Model.objects.all():
        o.save()


class Migration(migrations.Migration):
    """Doc."""

    atomic = False
    initial = True
    dependencies = [
        ("shop", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='Order',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('price', models.DecimalField(decimal_places=2, default=-1.5e3, max_digits=12)),
                ('state', models.CharField(choices=[('a', 'A'), ('b', 'B')], default=lambda: "a", max_length=2)),
                ('owner', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'indexes': [models.Index(condition=models.Q(('state', 'a'), _negated=True), fields=['-price'], name='o_ix')],
                'unique_together': {('owner', 'state')},
                'verbose_name': r'order\n',
            },
            bases=(models.Model,),
        ),
        migrations.RunPython(forwards, lambda apps, schema_editor: None),
        migrations.RunPython(
            lambda apps, schema_editor: forwards(
                "Order", apps, schema_editor
            ),
            migrations.RunPython.noop,
        ),
        migrations.AddField('order', 'x', field=models.IntegerField(**KW)),
        migrations.RunSQL([("UPDATE t SET a = %s", [1])], elidable=not False),
    ] + EXTRA
"#,
        );
        assert_eq!(module.classes[0].name, "Migration");
        assert_eq!(module.classes[0].assignments.len(), 4);
    }

    #[test]
    fn what_it_does_not_know_is_left_to_tree_sitter() {
        assert!(read_module("x = [a for a in b]\n").is_some());
        assert!(read_module("if X:\n    y = 1\nelse:\n    y = 2\n").is_some());
        assert!(read_module("x = (\n").is_none());
        assert!(read_module("x = 'unterminated\n").is_none());
        let long = format!("x = {}1\n", "1 + ".repeat(1000));
        assert!(read_module(&long).is_none());
        let deep = format!("x = {}1\n", "-".repeat(1000));
        assert!(read_module(&deep).is_none());
        // A chain of one operator is read up to the nesting limit.
        let longest = format!("x = {}1\n", "1 + ".repeat(MAX_NESTING - 1));
        assert!(read_module(&longest).is_some());
        let too_long = format!("x = {}1\n", "1 + ".repeat(MAX_NESTING));
        assert!(read_module(&too_long).is_none());
        let mixed = format!("x = {}1\n", "1 + 2 * ".repeat(MAX_NESTING - 1));
        assert!(read_module(&mixed).is_some());
    }

    #[test]
    fn reads_attributes_of_calls_subscripts_slices_and_conditionals_as_tree_sitter_does() {
        let module = same(
            "a = f(x).y.z(k=1)[0]\nb = m[1:2, ::3, :][\"k\"].n\nc = p if q else r.s\nd = x < y\ne = (g(1)).h\n",
        );
        let kind = |i: usize| &module.assignments[i].1.kind;
        let ExprKind::Subscript { value, index } = kind(0) else {
            panic!("{:?}", kind(0));
        };
        assert_eq!(index.kind, ExprKind::Number);
        assert!(matches!(&value.kind, ExprKind::Call { func, .. }
            if matches!(&func.kind, ExprKind::Attribute { name, .. } if name == "z")));
        let ExprKind::Attribute { value, .. } = kind(1) else {
            panic!("{:?}", kind(1));
        };
        let ExprKind::Subscript { value, .. } = &value.kind else {
            panic!("{value:?}");
        };
        let ExprKind::Subscript { index, .. } = &value.kind else {
            panic!("{value:?}");
        };
        let ExprKind::Tuple(slices) = &index.kind else {
            panic!("{index:?}");
        };
        let parts: Vec<usize> = slices
            .iter()
            .map(|s| match &s.kind {
                ExprKind::Slice(parts) => parts.len(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(parts, [2, 1, 0]);
        assert!(matches!(kind(2), ExprKind::Opaque(parts) if parts.len() == 3));
    }

    #[test]
    fn reads_one_statement_of_query_code() {
        let read = |text: &str| read_statement(text, 0, text.len());
        let assign = read("qs = Order.objects.filter(a=1)").expect("read");
        assert!(matches!(&assign, Statement::Assign { target, .. } if target == "qs"));
        for (text, exprs) in [
            ("if a.exists():", 1),
            ("elif b:", 1),
            ("for x, y in rows.all():", 1),
            ("async with a() as b, c():", 2),
            ("return", 0),
            ("return a, b", 1),
            ("raise E(x) from err", 2),
            ("except (A, B) as e:", 1),
            ("self.qs = Order.objects.all()", 2),
            ("total += qs.count()", 2),
            ("count: int = 3", 0),
            ("print(x)", 1),
        ] {
            match read(text) {
                Some(Statement::Exprs(found)) if found.len() == exprs => {}
                Some(Statement::Assign { .. }) if text.starts_with("count") => {}
                other => panic!("{text}: {other:?}"),
            }
        }
        for text in [
            "def f(): pass",
            "class A:",
            "@decorator",
            "if a: b()",
            "a = b = c",
            "x = [o for o in Order.objects.all()]",
            "x = f\"{a.b()}\"",
            "x = (y := 1)",
            "with (a as b):",
            "x = yield y",
        ] {
            assert_eq!(read(text), None, "{text}");
        }
    }

    #[test]
    fn binary_operators_nest_by_precedence() {
        let text = "a = x or not y == z and w\nb = x + y * z - w ** 2 // v\nc = x not in y or x is not z\nd = x | y & z ^ w << 1\ne = not not x\n";
        let module = read_module(text).expect("the fast reader reads it");
        let shapes: Vec<String> = module
            .assignments
            .iter()
            .map(|(_, value)| shape(value, text))
            .collect();
        assert_eq!(
            shapes,
            [
                "(x or ((not (y == z)) and w))",
                "((x + (y * z)) - ((w ** 2) // v))",
                "((x not in y) or (x is not z))",
                "(x | ((y & z) ^ (w << 1)))",
                "(not (not x))",
            ]
        );
    }

    /// Operators are read whole, by their first bytes.
    #[test]
    fn operators_are_single_tokens() {
        let ops = "**= //= >>= <<= ... ** // == != <= >= << >> -> += -= *= /= %= &= |= ^= @= := ( ) [ ] { } , ; ~ . : = < > + - * / % & | ^ @ !";
        let mut reader = Reader::new(ops);
        let mut tokens = Vec::new();
        while reader.tok == Tok::Op {
            tokens.push(reader.tok_text());
            reader.advance();
        }
        assert_eq!(tokens, ops.split(' ').collect::<Vec<_>>());
    }

    /// An expression with every operator's operands in parentheses.
    fn shape(expr: &Expr, text: &str) -> String {
        match &expr.kind {
            ExprKind::Binary { op, left, right } => {
                format!("({} {op} {})", shape(left, text), shape(right, text))
            }
            ExprKind::Unary { op, operand } => format!("({op} {})", shape(operand, text)),
            _ => expr.text(text).to_string(),
        }
    }
}
