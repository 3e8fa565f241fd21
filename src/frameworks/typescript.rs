//! TypeScript and JavaScript parsing shared by the JS frameworks: one
//! tree-sitter parser per grammar per thread, and small readers for literals,
//! call chains and objects. Never runs any JavaScript.

use std::cell::RefCell;
use std::path::Path;
use std::sync::LazyLock;

use tree_sitter::{Language, Node, Parser, Tree};

pub use super::syntax::{SyntaxError, first_error, indentation_at, span, text};

pub static TYPESCRIPT: LazyLock<Language> =
    LazyLock::new(|| tree_sitter_typescript::LANGUAGE_TYPESCRIPT.into());
pub static TSX: LazyLock<Language> = LazyLock::new(|| tree_sitter_typescript::LANGUAGE_TSX.into());

/// The extensions read as TypeScript or JavaScript.
pub const EXTENSIONS: &[&str] = &["ts", "tsx", "mts", "cts", "js", "jsx", "mjs", "cjs"];

thread_local! {
    static TS_PARSER: RefCell<Parser> = RefCell::new(parser(&TYPESCRIPT));
    static TSX_PARSER: RefCell<Parser> = RefCell::new(parser(&TSX));
}

fn parser(language: &Language) -> Parser {
    let mut parser = Parser::new();
    parser
        .set_language(language)
        .expect("the tree-sitter-typescript grammar matches the tree-sitter core");
    parser
}

/// Whether `path` is read by [`parse`].
pub fn is_script(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    !name.ends_with(".d.ts")
        && path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| EXTENSIONS.contains(&e))
}

/// Parse with the grammar the extension asks for: `.ts` files may hold
/// `<T>x` casts that the TSX grammar rejects, and JavaScript may hold JSX.
pub fn parse(path: &Path, text: &str) -> Tree {
    let tsx = matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("tsx" | "jsx" | "js" | "mjs" | "cjs")
    );
    let cell = if tsx { &TSX_PARSER } else { &TS_PARSER };
    cell.with(|parser| {
        parser
            .borrow_mut()
            .parse(text, None)
            .expect("parsing without a timeout or cancellation always yields a tree")
    })
}

/// Parse and report whether the text is free of syntax errors, and of
/// array holes (`[, index(...)]`), which are valid JavaScript but never
/// what an edit means.
pub fn parses_cleanly(path: &Path, text: &str) -> bool {
    let tree = parse(path, text);
    !tree.root_node().has_error() && !has_array_hole(&tree)
}

fn has_array_hole(tree: &Tree) -> bool {
    super::syntax::find_node(tree, |node, _| {
        if node.kind() != "array" {
            return false;
        }
        // Two separators with no element between them, or one first.
        let mut previous = "[";
        let mut walk = node.walk();
        for child in node.children(&mut walk) {
            let kind = child.kind();
            if kind == "comment" {
                continue;
            }
            if kind == "," && (previous == "," || previous == "[") {
                return true;
            }
            previous = kind;
        }
        false
    })
    .is_some()
}

/// The value of a string literal, or of a template literal without
/// substitutions.
pub fn string_value(node: Node, source: &str) -> Option<String> {
    match node.kind() {
        "string" => {
            let mut value = String::new();
            let mut cursor = node.walk();
            for child in node.named_children(&mut cursor) {
                match child.kind() {
                    "string_fragment" => value.push_str(text(child, source)),
                    "escape_sequence" => value.push_str(unescape(text(child, source))),
                    _ => {}
                }
            }
            Some(value)
        }
        "template_string" => {
            let mut value = String::new();
            let mut cursor = node.walk();
            for child in node.named_children(&mut cursor) {
                match child.kind() {
                    "string_fragment" => value.push_str(text(child, source)),
                    "escape_sequence" => value.push_str(unescape(text(child, source))),
                    _ => return None,
                }
            }
            Some(value)
        }
        "parenthesized_expression" => node
            .named_child(0)
            .and_then(|inner| string_value(inner, source)),
        _ => None,
    }
}

fn unescape(sequence: &str) -> &str {
    match sequence {
        "\\'" => "'",
        "\\\"" => "\"",
        "\\\\" => "\\",
        "\\`" => "`",
        "\\n" => "\n",
        "\\t" => "\t",
        other => other,
    }
}

/// Strip `as T`, `satisfies T`, `x!` and parentheses around an expression.
pub fn unwrap_expression(mut node: Node) -> Node {
    loop {
        match node.kind() {
            "parenthesized_expression"
            | "as_expression"
            | "satisfies_expression"
            | "non_null_expression" => match node.named_child(0) {
                Some(inner) => node = inner,
                None => return node,
            },
            _ => return node,
        }
    }
}

/// One link of a call chain such as `index("n").on(t.a).where(...)`.
#[derive(Debug, Clone, Copy)]
pub struct ChainLink<'t> {
    /// The called name: `index` for the root call, `on` for a method.
    pub name: &'t str,
    /// The receiver of the root call (`t` in `t.integer()`), if any.
    pub object: Option<Node<'t>>,
    pub call: Node<'t>,
    /// The `arguments` node (a `template_string` for tagged templates).
    pub arguments: Option<Node<'t>>,
}

/// Split a call chain into its links, root first. `None` when the
/// expression is not a call chain.
pub fn call_chain<'t>(node: Node<'t>, source: &'t str) -> Option<Vec<ChainLink<'t>>> {
    let mut links = Vec::new();
    let mut current = unwrap_expression(node);
    loop {
        if current.kind() != "call_expression" {
            return None;
        }
        let function = current.child_by_field_name("function")?;
        let arguments = current.child_by_field_name("arguments");
        match function.kind() {
            "identifier" => {
                links.push(ChainLink {
                    name: text(function, source),
                    object: None,
                    call: current,
                    arguments,
                });
                links.reverse();
                return Some(links);
            }
            "member_expression" => {
                let property = function.child_by_field_name("property")?;
                let object = unwrap_expression(function.child_by_field_name("object")?);
                let name = text(property, source);
                if object.kind() == "call_expression" {
                    links.push(ChainLink {
                        name,
                        object: None,
                        call: current,
                        arguments,
                    });
                    current = object;
                } else {
                    links.push(ChainLink {
                        name,
                        object: Some(object),
                        call: current,
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

/// The argument expressions of a call, without comments.
pub fn arguments<'t>(arguments: Option<Node<'t>>) -> Vec<Node<'t>> {
    let Some(arguments) = arguments else {
        return Vec::new();
    };
    if arguments.kind() != "arguments" {
        return Vec::new();
    }
    let mut cursor = arguments.walk();
    arguments
        .named_children(&mut cursor)
        .filter(|n| n.kind() != "comment")
        .collect()
}

/// The `key: value` pairs of an object literal, with shorthand properties as
/// `(key, key node)`. Spreads and methods are left out.
pub fn object_pairs<'t>(object: Node<'t>, source: &str) -> Vec<(String, Node<'t>, Node<'t>)> {
    let mut pairs = Vec::new();
    let mut cursor = object.walk();
    for child in object.named_children(&mut cursor) {
        match child.kind() {
            "pair" => {
                let (Some(key), Some(value)) = (
                    child.child_by_field_name("key"),
                    child.child_by_field_name("value"),
                ) else {
                    continue;
                };
                if let Some(key) = property_key(key, source) {
                    pairs.push((key, value, child));
                }
            }
            "shorthand_property_identifier" => {
                pairs.push((text(child, source).to_string(), child, child));
            }
            _ => {}
        }
    }
    pairs
}

/// The name of an object key: `a`, `"a"`, `'a'`, `1`.
pub fn property_key(key: Node, source: &str) -> Option<String> {
    match key.kind() {
        "property_identifier" | "number" | "private_property_identifier" => {
            Some(text(key, source).to_string())
        }
        "string" => string_value(key, source),
        _ => None,
    }
}

/// The value of `key` in an object literal.
pub fn object_value<'t>(object: Node<'t>, key: &str, source: &str) -> Option<Node<'t>> {
    object_pairs(object, source)
        .into_iter()
        .find(|(k, _, _)| k == key)
        .map(|(_, value, _)| value)
}

/// The elements of an array literal, without comments.
pub fn array_elements(array: Node) -> Vec<Node> {
    let mut cursor = array.walk();
    array
        .named_children(&mut cursor)
        .filter(|n| n.kind() != "comment")
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
    #[test]
    fn array_holes_are_not_clean() {
        let path = std::path::Path::new("schema.ts");
        assert!(parses_cleanly(path, "const a = [index(\"x\"), y,];\n"));
        assert!(!parses_cleanly(path, "const a = [, index(\"x\")];\n"));
        assert!(!parses_cleanly(path, "const a = [b,, c];\n"));
    }

    use super::*;

    #[test]
    fn reads_chains_strings_and_objects() {
        let source = r#"const x = index("a_idx").on(t.a, t.b.desc()).where(sql`${t.a} > 0`);
const o = { id: integer(), "sql-name": text("x"), short };"#;
        let tree = parse(Path::new("s.ts"), source);
        let root = tree.root_node();
        let first = root.named_child(0).unwrap().named_child(0).unwrap();
        let value = first.child_by_field_name("value").unwrap();
        let chain = call_chain(value, source).unwrap();
        let names: Vec<&str> = chain.iter().map(|l| l.name).collect();
        assert_eq!(names, ["index", "on", "where"]);
        let args = arguments(chain[0].arguments);
        assert_eq!(string_value(args[0], source).as_deref(), Some("a_idx"));
        assert_eq!(chain[2].arguments.unwrap().kind(), "arguments");
        let second = root.named_child(1).unwrap().named_child(0).unwrap();
        let object = second.child_by_field_name("value").unwrap();
        let keys: Vec<String> = object_pairs(object, source)
            .into_iter()
            .map(|(k, _, _)| k)
            .collect();
        assert_eq!(keys, ["id", "sql-name", "short"]);
        assert!(is_identifier("queueId") && !is_identifier("sql-name"));
    }

    #[test]
    fn picks_the_grammar_by_extension() {
        assert!(parses_cleanly(Path::new("a.ts"), "const a = <number>b;"));
        assert!(parses_cleanly(
            Path::new("a.tsx"),
            "const a = <div>{b}</div>;"
        ));
        assert!(!parses_cleanly(
            Path::new("a.ts"),
            "const a = pgTable(\"x\", {"
        ));
        assert!(is_script(Path::new("a.mjs")) && !is_script(Path::new("a.d.ts")));
    }
}
