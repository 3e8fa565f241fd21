//! TypeScript and JavaScript parsing shared by the JS frameworks: oxc's
//! parser on one reused arena per thread, a nesting guard run before it, and
//! small readers for literals, call chains and objects. Never runs any
//! JavaScript.

use std::cell::RefCell;
use std::path::Path;

use oxc_allocator::Allocator;
use oxc_ast::ast::{
    Argument, ArrayExpression, ArrayExpressionElement, CallExpression, ChainElement, Expression,
    ObjectExpression, ObjectPropertyKind, Program, PropertyKey, PropertyKind, Statement,
    TemplateLiteral,
};
use oxc_ast_visit::{VisitJs, walk_js};
use oxc_parser::{ParseOptions, Parser};
use oxc_span::{GetSpan, SourceType};

pub use super::syntax::indentation_at;
use crate::source::Span;

/// The extensions read as TypeScript or JavaScript.
pub const EXTENSIONS: &[&str] = &["ts", "tsx", "mts", "cts", "js", "jsx", "mjs", "cjs"];

/// Whether `path` is read by [`parse`].
pub fn is_script(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    !name.ends_with(".d.ts")
        && path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| EXTENSIONS.contains(&e))
}

/// The dialect the extension asks for: `.ts` files may hold `<T>x` casts,
/// which JSX would read as an element; `.tsx` holds JSX; and JavaScript of
/// any extension may hold JSX (React projects write it in `.js`).
pub fn source_type(path: &Path) -> SourceType {
    let source_type = SourceType::from_path(path).unwrap_or_else(|_| SourceType::ts());
    if source_type.is_javascript() {
        source_type.with_jsx(true)
    } else {
        source_type
    }
}

/// A syntax error: the first one, by position, of those oxc reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub span: Span,
    pub message: String,
}

/// A parsed script.
pub struct Parsed<'a> {
    pub program: Program<'a>,
    pub error: Option<SyntaxError>,
    /// The parser gave up: `program` is empty. Without this, a file with
    /// an error is still whole, as oxc recovered it.
    pub panicked: bool,
}

/// A script nested deeper than [`MAX_NESTING`], at this byte offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooDeep {
    pub offset: usize,
}

/// Arenas larger than this are dropped after use instead of kept for the
/// thread's next file, so one big file does not hold memory for the run.
const KEPT_ARENA_BYTES: usize = 8 << 20;

thread_local! {
    static ARENA: RefCell<Allocator> = RefCell::new(Allocator::default());
}

/// Parse `text` in the dialect of `path`'s extension and hand the result to
/// `read`, which copies out what it needs: the tree lives in the thread's
/// arena, which is reused for the next file. A script nested deeper than
/// [`MAX_NESTING`] is not parsed.
pub fn parse<R>(path: &Path, text: &str, read: impl FnOnce(&Parsed) -> R) -> Result<R, TooDeep> {
    if let Some(offset) = too_deep(text) {
        return Err(TooDeep { offset });
    }
    let source_type = source_type(path);
    Ok(ARENA.with(|arena| match arena.try_borrow_mut() {
        Ok(mut allocator) => {
            let result = read(&parse_in(&allocator, source_type, text));
            if allocator.capacity() > KEPT_ARENA_BYTES {
                *allocator = Allocator::default();
            } else {
                allocator.reset();
            }
            result
        }
        // A reader that parses another file gets an arena of its own.
        Err(_) => read(&parse_in(&Allocator::default(), source_type, text)),
    }))
}

fn parse_in<'a>(allocator: &'a Allocator, source_type: SourceType, text: &'a str) -> Parsed<'a> {
    let options = ParseOptions {
        // CommonJS modules (`.js`, `.cjs`) may return at the top level.
        allow_return_outside_function: true,
        // Nothing here hashes identifiers.
        enable_ident_hashes: false,
        ..ParseOptions::default()
    };
    let parsed = Parser::new(allocator, text, source_type)
        .with_options(options)
        .parse();
    let error = parsed
        .diagnostics
        .errors()
        .map(|error| {
            let at = error
                .labels
                .iter()
                .map(|l| l.span())
                .min_by_key(|s| s.start)
                .map_or(Span::new(0, 0), |s| {
                    Span::new(s.start as usize, s.end as usize)
                });
            (at, error.message.to_string())
        })
        .min_by_key(|(at, _)| at.start)
        .map(|(span, message)| SyntaxError { span, message });
    Parsed {
        program: parsed.program,
        error,
        panicked: parsed.panicked,
    }
}

/// Parse and report whether the text is free of syntax errors, and of
/// array holes (`[, index(...)]`), which are valid JavaScript but never
/// what an edit means.
pub fn parses_cleanly(path: &Path, text: &str) -> bool {
    parse(path, text, |parsed| {
        if parsed.error.is_some() || parsed.panicked {
            return false;
        }
        let mut hole = false;
        walk(&parsed.program, |node| {
            if let Visited::Array(array) = node {
                hole = array
                    .elements
                    .iter()
                    .any(|e| matches!(e, ArrayExpressionElement::Elision(_)));
            }
            !hole
        });
        !hole
    })
    .unwrap_or(false)
}

/// How deep a script may nest before it is not parsed. oxc's parser
/// recurses at least once per level and does not guard its stack, and
/// files are parsed on threads with 2 MiB stacks: a level costs it at most
/// about 3.5 KiB in a debug build (nested type arguments and object
/// literals, the dearest), so this many need under half of that. Real code
/// stays far below it: at most 43 in the 11,000 scripts of unkey, midday,
/// karakeep, openstatus, TERP and polar.
pub const MAX_NESTING: usize = 256;

/// Words that make the parser recurse once more without a bracket:
/// prefix operators, and statements and types that nest their operand.
const NESTING_WORDS: &[&[u8]] = &[
    b"new", b"typeof", b"void", b"delete", b"await", b"yield", b"keyof", b"infer", b"if", b"else",
    b"for", b"while", b"do", b"with",
];

/// Words after which an operand is still to come (so `/` starts a regular
/// expression, and `-x` is a prefix).
const OPERATOR_WORDS: &[&[u8]] = &[
    b"return",
    b"throw",
    b"case",
    b"in",
    b"of",
    b"instanceof",
    b"as",
    b"satisfies",
    b"extends",
];

/// Where the script first nests deeper than [`MAX_NESTING`], found by a
/// byte scan before parsing. A level is a bracket (`(`, `[`, `{`, `${`),
/// or a link of a chain the parser recurses on without one: prefix
/// operators (`!!x`, `- -x`, `new new X`), right-associative and nested
/// forms (`a = b = c`, `a ? b : c ? d : e`, `x => y => z`, `**`, `if`/`else`
/// chains, type arguments `A<B<C>>`). A chain ends at `,`, `;`, or a line
/// break after a complete operand. Strings, comments, template text and
/// regular expressions are skipped. It is an estimate: a `<` may be a
/// comparison, and it is counted all the same; and a chain written one
/// link a line, each line ending in an operand (`a\n? b\n: c\n? d`…), is
/// not counted, though it would take thousands of links to overflow.
pub fn too_deep(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    // Per open bracket: the chain outside it, and whether it is a
    // template's `${`.
    let mut open: Vec<(usize, bool)> = Vec::new();
    let mut chain = 0usize;
    let mut total = 0usize;
    // The last token completed an operand: `/` divides, `-` is binary, and
    // a line break ends the chain.
    let mut operand = false;
    let mut i = 0;
    if bytes.starts_with(b"#!") {
        i = memchr::memchr(b'\n', bytes).unwrap_or(bytes.len());
    }
    while i < bytes.len() {
        let b = bytes[i];
        let next = bytes.get(i + 1).copied();
        let mut step = 1;
        // How the token changes the nesting: one more link, a bracket, or
        // the end of a chain.
        let mut link = false;
        let mut bracket = false;
        match b {
            b'\n' => {
                if operand {
                    total -= chain;
                    chain = 0;
                }
                i += 1;
                continue;
            }
            b' ' | b'\t' | b'\r' => {
                i += 1;
                continue;
            }
            b'/' if next == Some(b'/') => {
                i = memchr::memchr(b'\n', &bytes[i..]).map_or(bytes.len(), |n| i + n);
                continue;
            }
            b'/' if next == Some(b'*') => {
                i = memchr::memmem::find(&bytes[i + 2..], b"*/").map_or(bytes.len(), |n| i + n + 4);
                continue;
            }
            b'\'' | b'"' => {
                step = skip_string(bytes, i) - i;
                operand = true;
            }
            b'`' => {
                let (end, substitution) = skip_template(bytes, i + 1);
                step = end - i;
                bracket = substitution;
                operand = !substitution;
            }
            b'(' | b'[' | b'{' => {
                bracket = true;
                operand = false;
            }
            b')' | b']' | b'}' => {
                operand = true;
                if let Some((outer, template)) = open.pop() {
                    total -= chain + 1;
                    chain = outer;
                    if template && b == b'}' {
                        // Back in the template's text.
                        let (end, substitution) = skip_template(bytes, i + 1);
                        step = end - i;
                        bracket = substitution;
                        operand = !substitution;
                    }
                }
            }
            b',' | b';' => {
                total -= chain;
                chain = 0;
                operand = false;
            }
            b'/' if !operand => {
                // A regular expression, unless it does not end on its line.
                match skip_regex(bytes, i) {
                    Some(end) => {
                        step = end - i;
                        operand = true;
                    }
                    None => operand = false,
                }
            }
            b'a'..=b'z' | b'A'..=b'Z' | b'_' | b'$' | 0x80.. => {
                let end = bytes[i..]
                    .iter()
                    .position(|&c| {
                        !(c.is_ascii_alphanumeric() || matches!(c, b'_' | b'$' | 0x80..))
                    })
                    .map_or(bytes.len(), |n| i + n);
                let word = &bytes[i..end];
                step = end - i;
                // `x.new` is a property, not the keyword.
                let property = i > 0 && bytes[..i].trim_ascii_end().ends_with(b".");
                link = !property && NESTING_WORDS.contains(&word);
                operand = property || !(link || OPERATOR_WORDS.contains(&word));
            }
            b'0'..=b'9' => {
                step = bytes[i..]
                    .iter()
                    .position(|&c| !(c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.')))
                    .unwrap_or(bytes.len() - i);
                operand = true;
            }
            b'.' if next == Some(b'.') => {
                step = 3;
                operand = false;
            }
            b'=' if matches!(next, Some(b'=')) => {
                step = if bytes.get(i + 2) == Some(&b'=') {
                    3
                } else {
                    2
                };
                operand = false;
            }
            // `=>`, and assignments (`<=` and `>=` too: an estimate).
            b'=' => {
                step = if next == Some(b'>') { 2 } else { 1 };
                link = true;
                operand = false;
            }
            b'!' if next == Some(b'=') => {
                step = if bytes.get(i + 2) == Some(&b'=') {
                    3
                } else {
                    2
                };
                operand = false;
            }
            // `x!` asserts non-null; `!x` nests.
            b'!' if operand => {}
            b'+' | b'-' if next == Some(b) => step = 2,
            b'!' | b'~' | b'+' | b'-' if !operand => link = true,
            b'?' if next == Some(b'?') => {
                step = 2;
                operand = false;
            }
            b'?' if next == Some(b'.') && !bytes.get(i + 2).is_some_and(u8::is_ascii_digit) => {
                step = 2;
                operand = false;
            }
            b'*' if next == Some(b'*') => {
                step = 2;
                link = true;
                operand = false;
            }
            // `</a>` closes a JSX element: no regular expression follows.
            b'<' if next == Some(b'/') => {
                step = 2;
                operand = false;
            }
            b'?' | b':' | b'<' => {
                link = true;
                operand = false;
            }
            // Closes type arguments more often than it compares.
            b'>' => operand = true,
            _ => operand = false,
        }
        if bracket {
            open.push((chain, b == b'`' || b == b'}'));
            chain = 0;
            total += 1;
        } else if link {
            chain += 1;
            total += 1;
        }
        if total > MAX_NESTING {
            return Some(i);
        }
        i += step;
    }
    None
}

/// The end of the string literal opening at `start`: past its closing
/// quote, or at the line break that leaves it unterminated.
fn skip_string(bytes: &[u8], start: usize) -> usize {
    let quote = bytes[start];
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'\n' => return i,
            c if c == quote => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

/// Skip template text from `start`: where it ends, and whether it ends
/// at a `${` rather than the closing backquote.
fn skip_template(bytes: &[u8], start: usize) -> (usize, bool) {
    let mut i = start;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'`' => return (i + 1, false),
            b'$' if bytes.get(i + 1) == Some(&b'{') => return (i + 2, true),
            _ => i += 1,
        }
    }
    (bytes.len(), false)
}

/// The end of the regular expression opening at `start` (past its flags),
/// or `None` when no closing `/` follows on its line.
fn skip_regex(bytes: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    let mut class = false;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'\n' => return None,
            b'[' => {
                class = true;
                i += 1;
            }
            b']' => {
                class = false;
                i += 1;
            }
            b'/' if !class => {
                i += 1;
                while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
                    i += 1;
                }
                return Some(i);
            }
            _ => i += 1,
        }
    }
    None
}

/// The nodes a [`walk`] hands out.
#[derive(Clone, Copy)]
pub enum Visited<'w, 'a> {
    Call(&'w CallExpression<'a>),
    Array(&'w ArrayExpression<'a>),
    Object(&'w ObjectExpression<'a>),
}

/// Expressions and statements nested deeper than this are not walked. The
/// nesting guard bounds brackets, but left-associative chains (`a + b + …`,
/// `q.where().limit()…`) are parsed in a loop and may still build trees
/// this deep, which a recursive walk must not follow to the end.
const MAX_WALK_DEPTH: usize = 1024;

/// Walk the program's JavaScript in source order, parents first, and hand
/// every call, array and object literal to `visit`, until it returns
/// `false`. Types and JSX are not walked.
pub fn walk<'a>(program: &Program<'a>, visit: impl FnMut(Visited<'_, 'a>) -> bool) {
    let mut walker = Walker {
        visit,
        depth: 0,
        stopped: false,
    };
    walker.visit_program(program);
}

struct Walker<F> {
    visit: F,
    depth: usize,
    stopped: bool,
}

impl<F> Walker<F> {
    fn deeper(&mut self, walk: impl FnOnce(&mut Self)) {
        if self.stopped || self.depth >= MAX_WALK_DEPTH {
            return;
        }
        self.depth += 1;
        walk(self);
        self.depth -= 1;
    }
}

impl<'a, F: FnMut(Visited<'_, 'a>) -> bool> VisitJs<'a> for Walker<F> {
    fn visit_expression(&mut self, it: &Expression<'a>) {
        self.deeper(|w| walk_js::walk_expression(w, it));
    }

    fn visit_statement(&mut self, it: &Statement<'a>) {
        self.deeper(|w| walk_js::walk_statement(w, it));
    }

    fn visit_call_expression(&mut self, it: &CallExpression<'a>) {
        if !self.stopped {
            self.stopped = !(self.visit)(Visited::Call(it));
            walk_js::walk_call_expression(self, it);
        }
    }

    fn visit_array_expression(&mut self, it: &ArrayExpression<'a>) {
        if !self.stopped {
            self.stopped = !(self.visit)(Visited::Array(it));
            walk_js::walk_array_expression(self, it);
        }
    }

    fn visit_object_expression(&mut self, it: &ObjectExpression<'a>) {
        if !self.stopped {
            self.stopped = !(self.visit)(Visited::Object(it));
            walk_js::walk_object_expression(self, it);
        }
    }

    fn visit_jsx_element(&mut self, _: &oxc_ast::ast::JSXElement<'a>) {}

    fn visit_jsx_fragment(&mut self, _: &oxc_ast::ast::JSXFragment<'a>) {}
}

/// An oxc span as ixray's.
pub fn span(node: &impl GetSpan) -> Span {
    let span = node.span();
    Span::new(span.start as usize, span.end as usize)
}

/// The value of a string literal, or of a template literal without
/// substitutions.
pub fn string_value(expression: &Expression) -> Option<String> {
    match expression {
        Expression::StringLiteral(literal) => Some(literal.value.to_string()),
        Expression::TemplateLiteral(template) => template_text(template),
        Expression::ParenthesizedExpression(inner) => string_value(&inner.expression),
        _ => None,
    }
}

/// The text of a template literal without substitutions.
pub fn template_text(template: &TemplateLiteral) -> Option<String> {
    match template.quasis.as_slice() {
        [only] if template.expressions.is_empty() => only.value.cooked.map(|c| c.to_string()),
        _ => None,
    }
}

/// Strip `as T`, `satisfies T`, `<T>x`, `x!` and parentheses around an
/// expression.
pub fn unwrap_expression<'a>(mut expression: &'a Expression<'a>) -> &'a Expression<'a> {
    loop {
        expression = match expression {
            Expression::ParenthesizedExpression(inner) => &inner.expression,
            Expression::TSAsExpression(inner) => &inner.expression,
            Expression::TSSatisfiesExpression(inner) => &inner.expression,
            Expression::TSNonNullExpression(inner) => &inner.expression,
            Expression::TSTypeAssertion(inner) => &inner.expression,
            _ => return expression,
        }
    }
}

/// One link of a call chain such as `index("n").on(t.a).where(...)`.
#[derive(Clone, Copy)]
pub struct ChainLink<'a> {
    /// The called name: `index` for the root call, `on` for a method.
    pub name: &'a str,
    /// The receiver of the root call (`t` in `t.integer()`), if any.
    pub object: Option<&'a Expression<'a>>,
    /// The arguments; none for a tagged template (``sql`...` ``).
    pub arguments: &'a [Argument<'a>],
}

/// A call, a tagged template or an optional call, as callee and arguments.
fn as_call<'a>(expression: &'a Expression<'a>) -> Option<(&'a Expression<'a>, &'a [Argument<'a>])> {
    match expression {
        Expression::CallExpression(call) => Some((&call.callee, &call.arguments)),
        Expression::TaggedTemplateExpression(tagged) => Some((&tagged.tag, &[])),
        Expression::ChainExpression(chain) => match &chain.expression {
            ChainElement::CallExpression(call) => Some((&call.callee, &call.arguments)),
            _ => None,
        },
        _ => None,
    }
}

/// Split a call chain into its links, root first. `None` when the
/// expression is not a call chain.
pub fn call_chain<'a>(expression: &'a Expression<'a>) -> Option<Vec<ChainLink<'a>>> {
    let (callee, arguments) = as_call(unwrap_expression(expression))?;
    chain_from(callee, arguments)
}

/// [`call_chain`] of a call expression.
pub fn call_chain_of<'a>(call: &'a CallExpression<'a>) -> Option<Vec<ChainLink<'a>>> {
    chain_from(&call.callee, &call.arguments)
}

fn chain_from<'a>(
    mut callee: &'a Expression<'a>,
    mut arguments: &'a [Argument<'a>],
) -> Option<Vec<ChainLink<'a>>> {
    let mut links = Vec::new();
    loop {
        match callee {
            Expression::Identifier(name) => {
                links.push(ChainLink {
                    name: name.name.as_str(),
                    object: None,
                    arguments,
                });
                links.reverse();
                return Some(links);
            }
            Expression::StaticMemberExpression(member) => {
                let object = unwrap_expression(&member.object);
                let name = member.property.name.as_str();
                if let Some((inner, inner_arguments)) = as_call(object) {
                    links.push(ChainLink {
                        name,
                        object: None,
                        arguments,
                    });
                    callee = inner;
                    arguments = inner_arguments;
                } else {
                    links.push(ChainLink {
                        name,
                        object: Some(object),
                        arguments,
                    });
                    links.reverse();
                    return Some(links);
                }
            }
            _ => return None,
        }
    }
}

/// The argument expressions of a call; spreads are left out.
pub fn arguments<'a>(arguments: &'a [Argument<'a>]) -> Vec<&'a Expression<'a>> {
    arguments
        .iter()
        .filter_map(|argument| match argument {
            Argument::SpreadElement(_) => None,
            other => Some(other.to_expression()),
        })
        .collect()
}

/// The `key: value` properties of an object literal, with shorthand
/// properties as `(key, the identifier)`, and each property's span.
/// Spreads, methods, accessors and computed keys are left out.
pub fn object_pairs<'a>(
    object: &'a ObjectExpression<'a>,
) -> Vec<(String, &'a Expression<'a>, Span)> {
    object
        .properties
        .iter()
        .filter_map(|property| match property {
            ObjectPropertyKind::ObjectProperty(p)
                if !p.method && !p.computed && p.kind == PropertyKind::Init =>
            {
                Some((property_key(&p.key)?, &p.value, span(&**p)))
            }
            _ => None,
        })
        .collect()
}

/// The name of an object key: `a`, `"a"`, `'a'`, `1`.
pub fn property_key(key: &PropertyKey) -> Option<String> {
    match key {
        PropertyKey::StaticIdentifier(name) => Some(name.name.to_string()),
        PropertyKey::StringLiteral(literal) => Some(literal.value.to_string()),
        PropertyKey::NumericLiteral(number) => number.raw.map(|r| r.to_string()),
        _ => None,
    }
}

/// The value of `key` in an object literal.
pub fn object_value<'a>(object: &'a ObjectExpression<'a>, key: &str) -> Option<&'a Expression<'a>> {
    object_pairs(object)
        .into_iter()
        .find(|(k, _, _)| k == key)
        .map(|(_, value, _)| value)
}

/// The object literal an expression is, past parentheses and casts.
pub fn as_object<'a>(expression: &'a Expression<'a>) -> Option<&'a ObjectExpression<'a>> {
    match unwrap_expression(expression) {
        Expression::ObjectExpression(object) => Some(object),
        _ => None,
    }
}

/// The array literal an expression is, past parentheses and casts.
pub fn as_array<'a>(expression: &'a Expression<'a>) -> Option<&'a ArrayExpression<'a>> {
    match unwrap_expression(expression) {
        Expression::ArrayExpression(array) => Some(array),
        _ => None,
    }
}

/// The elements of an array literal, spreads included, holes left out.
pub fn array_elements<'a>(array: &'a ArrayExpression<'a>) -> Vec<&'a ArrayExpressionElement<'a>> {
    array
        .elements
        .iter()
        .filter(|e| !matches!(e, ArrayExpressionElement::Elision(_)))
        .collect()
}

/// Whether `name` can be written as `t.name` rather than `t["name"]`.
pub fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_alphanumeric() || c == '_' || c == '$')
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxc_ast::ast::{Declaration, Statement};

    #[test]
    fn array_holes_are_not_clean() {
        let path = Path::new("schema.ts");
        assert!(parses_cleanly(path, "const a = [index(\"x\"), y,];\n"));
        assert!(!parses_cleanly(path, "const a = [, index(\"x\")];\n"));
        assert!(!parses_cleanly(path, "const a = [b,, c];\n"));
        assert!(!parses_cleanly(path, "f(() => [b,, c]);\n"));
    }

    /// The initializer of the `n`th top-level `const`.
    fn initializer<'a>(program: &'a Program<'a>, n: usize) -> &'a Expression<'a> {
        let Statement::VariableDeclaration(declaration) = &program.body[n] else {
            panic!("a declaration")
        };
        declaration.declarations[0].init.as_ref().unwrap()
    }

    #[test]
    fn reads_chains_strings_and_objects() {
        let source = r#"const x = index("a_idx").on(t.a, t.b.desc()).where(sql`${t.a} > 0`);
const o = { id: integer(), "sql-name": text("x"), short, [computed]: 1, m() {}, ...rest };
const q = (db.select() as any)?.from(t).where(eq(t.a, `b`));"#;
        parse(Path::new("s.ts"), source, |parsed| {
            assert!(parsed.error.is_none());
            let chain = call_chain(initializer(&parsed.program, 0)).unwrap();
            let names: Vec<&str> = chain.iter().map(|l| l.name).collect();
            assert_eq!(names, ["index", "on", "where"]);
            let args = arguments(chain[0].arguments);
            assert_eq!(string_value(args[0]).as_deref(), Some("a_idx"));
            assert!(matches!(
                arguments(chain[2].arguments)[0],
                Expression::TaggedTemplateExpression(_)
            ));
            let object = as_object(initializer(&parsed.program, 1)).unwrap();
            let keys: Vec<String> = object_pairs(object)
                .into_iter()
                .map(|(k, _, _)| k)
                .collect();
            assert_eq!(keys, ["id", "sql-name", "short"]);
            let chain = call_chain(initializer(&parsed.program, 2)).unwrap();
            let names: Vec<&str> = chain.iter().map(|l| l.name).collect();
            assert_eq!(names, ["select", "from", "where"]);
            assert!(chain[0].object.is_some());
        })
        .unwrap();
        assert!(is_identifier("queueId") && !is_identifier("sql-name"));
    }

    #[test]
    fn picks_the_dialect_by_extension() {
        assert!(parses_cleanly(Path::new("a.ts"), "const a = <number>b;"));
        assert!(parses_cleanly(
            Path::new("a.tsx"),
            "const a = <div>{b}</div>;"
        ));
        assert!(parses_cleanly(
            Path::new("a.js"),
            "export const A = () => <div>{b}</div>;"
        ));
        assert!(!parses_cleanly(
            Path::new("a.ts"),
            "const a = pgTable(\"x\", {"
        ));
        assert!(is_script(Path::new("a.mjs")) && !is_script(Path::new("a.d.ts")));
    }

    /// What tree-sitter-typescript 0.23 rejected, from real Drizzle projects.
    #[test]
    fn reads_what_the_old_grammar_rejected() {
        for source in [
            "const t = pgTable(\"t\", { s: json(\"s\").$type<import(\"./settings\").Healthcheck>() });",
            "const s = sql<(typeof t.$inferSelect)[\"status\"]>`${t.status}`;",
            "const n = sql<string | null>`NULL`.as(\"x\");",
            "vi.mock(\"drizzle-orm\", async (importOriginal) => ({ ...(await importOriginal<typeof import(\"drizzle-orm\")>()) }));",
        ] {
            parse(Path::new("a.ts"), source, |parsed| {
                assert_eq!(parsed.error, None, "{source}");
            })
            .unwrap();
        }
    }

    #[test]
    fn reports_the_first_error_and_what_was_recovered() {
        let source = "const a = 1;\nconst b = f(.x);\n";
        parse(Path::new("a.ts"), source, |parsed| {
            let error = parsed.error.as_ref().unwrap();
            assert_eq!(error.span.start, source.find(".x").unwrap());
            assert!(parsed.panicked);
        })
        .unwrap();
        // A recoverable error: the rest of the program is there.
        let source = "const a = 1;\nconst b;\nconst c = 3;\n";
        parse(Path::new("a.ts"), source, |parsed| {
            assert!(parsed.error.is_some() && !parsed.panicked);
            assert_eq!(parsed.program.body.len(), 3);
        })
        .unwrap();
    }

    fn nests(text: &str) -> bool {
        too_deep(text).is_some()
    }

    #[test]
    fn the_guard_counts_brackets_and_chains_but_not_strings_or_statements() {
        let open = "(".repeat(300);
        let close = ")".repeat(300);
        assert!(nests(&format!("x = {open}1{close};")));
        assert_eq!(
            too_deep(&format!("x = {open}1{close};")),
            // The `=` is a level too.
            Some(4 + MAX_NESTING - 1)
        );
        assert!(!nests(&format!(
            "x = \"{open}\" + '{open}' + `{open}` + /[(]{{300}}/;"
        )));
        assert!(!nests(&format!("// {open}\n/* {open} */ x = 1;")));
        assert!(nests(&format!("x = {}1;", "!".repeat(300))));
        assert!(nests(&format!("x = {}1;", "- ".repeat(300))));
        assert!(nests(&format!("x = {}1;", "a ? b : ".repeat(300))));
        assert!(nests(&format!("x = {}1;", "`${".repeat(300))));
        assert!(nests(&format!("{}{{}}", "if (a) {} else ".repeat(300))));
        assert!(nests(&format!("let x: {}X;", "A<".repeat(300))));
        // Statements in a row, with or without semicolons, do not nest.
        assert!(!nests(&"const a = b;\n".repeat(1000)));
        assert!(!nests(&"const a = b\nexport const c = !d\n".repeat(1000)));
        assert!(!nests(&format!("x = [{}];", "!a, ".repeat(1000))));
        assert!(!nests(&format!("x = 1{};", " + 1".repeat(1000))));
        assert!(!nests(&format!("x = a{};", " -\nb".repeat(1000))));
        assert!(!nests(&format!("x = a{};", ".b!.c?.d".repeat(1000))));
    }

    /// Every shape the guard lets through, at its limit, parses and walks
    /// on a thread with the 2 MiB stack a walker thread has.
    #[test]
    fn what_the_guard_lets_through_parses_on_a_small_stack() {
        let shapes: Vec<(&str, &str, &str)> = vec![
            ("x = ", "(", ")"),
            ("x = ", "[", "]"),
            ("x = ", "{a:", "}"),
            ("x = ", "f(", ")"),
            ("x = ", "!", ""),
            ("x = ", "a = ", ""),
            ("x = ", "a ? b : ", ""),
            ("x = ", "a => ", ""),
            ("x = ", "new ", ""),
            ("x = ", "`${", "}`"),
            ("x = ", "2 ** ", ""),
            ("x = ", "(class { m() { return ", "} })"),
            ("x = ", "function () { return ", "}"),
            ("", "if (a) {} else ", ""),
            ("", "{", "}"),
            ("let x: ", "A<", ">"),
            ("let x: ", "keyof ", ""),
            ("let x: ", "{ a: ", " }"),
            ("let x: ", "(", ")"),
            ("let x: ", "() => ", ""),
            ("let x: ", "A extends B ? C : ", ""),
        ];
        for (prefix, open, close) in shapes {
            let mut levels = 1;
            let text = loop {
                let text = format!(
                    "{prefix}{}1{}\n",
                    open.repeat(levels + 1),
                    close.repeat(levels + 1)
                );
                if nests(&text) {
                    break format!("{prefix}{}1{}\n", open.repeat(levels), close.repeat(levels));
                }
                levels += 1;
            };
            let thread = std::thread::Builder::new()
                .stack_size(2 << 20)
                .spawn(move || {
                    parse(Path::new("a.ts"), &text, |parsed| {
                        let mut calls = 0;
                        walk(&parsed.program, |_| {
                            calls += 1;
                            true
                        });
                    })
                    .is_ok()
                })
                .unwrap();
            assert!(thread.join().unwrap(), "{open}");
        }
        // Chains the guard does not count are walked only so deep.
        let text = format!("x = f(){};\n", " + f()".repeat(20_000));
        let thread = std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || {
                parse(Path::new("a.ts"), &text, |parsed| {
                    let mut calls = 0;
                    walk(&parsed.program, |_| {
                        calls += 1;
                        true
                    });
                    calls
                })
            })
            .unwrap();
        let calls = thread.join().unwrap().unwrap();
        assert!(calls > 500 && calls < 20_000, "{calls}");
    }

    #[test]
    fn declarations_hold_their_spans() {
        let source = "export const t = 1;\n";
        parse(Path::new("a.ts"), source, |parsed| {
            let Statement::ExportDeclaration(export) = &parsed.program.body[0] else {
                panic!("an export")
            };
            assert!(matches!(
                export.declaration,
                Declaration::VariableDeclaration(_)
            ));
            assert_eq!(span(&**export), Span::new(0, source.len() - 1));
        })
        .unwrap();
    }
}
