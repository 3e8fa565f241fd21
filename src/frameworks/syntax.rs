//! Tree-sitter helpers that do not depend on the grammar (spans, node
//! text, the first syntax error, the depth guard), used for Python, and
//! `indentation_at`, which the edits of every language use.

use tree_sitter::{Node, Tree};

use crate::source::Span;

/// A syntax error: where the first ERROR or MISSING node is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub span: Span,
}

/// The first error in a tree, if any.
pub fn first_error(tree: &Tree) -> Option<SyntaxError> {
    let root = tree.root_node();
    if !root.has_error() {
        return None;
    }
    let mut node = root;
    'descend: loop {
        let mut cursor = node.walk();
        for child in node.children(&mut cursor) {
            if child.is_error() || child.is_missing() {
                return Some(SyntaxError { span: span(child) });
            }
            if child.has_error() {
                node = child;
                continue 'descend;
            }
        }
        return Some(SyntaxError { span: span(node) });
    }
}

/// Deeper syntax trees than this are not read: the walkers that read
/// declarations recurse, and a file of 10,000 nested parentheses must give
/// a diagnostic, not a stack overflow. Real code stays far below it.
pub const MAX_DEPTH: usize = 400;

/// Where the tree first nests deeper than [`MAX_DEPTH`], if it does.
/// A subtree of `n` nodes nests at most `n` levels below its root, so one
/// too small to pass the limit is not walked: the walk visits the few
/// large nodes of a file, not all of them.
pub fn too_deep(tree: &Tree) -> Option<Span> {
    let mut cursor = tree.walk();
    let mut depth = 0usize;
    loop {
        let node = cursor.node();
        if depth > MAX_DEPTH {
            return Some(span(node));
        }
        let may_pass = depth + node.descendant_count() > MAX_DEPTH;
        if may_pass && cursor.goto_first_child() {
            depth += 1;
            continue;
        }
        if !next_in_order(&mut cursor, &mut depth) {
            return None;
        }
    }
}

/// Move the cursor past the current node's subtree to the next node in
/// source order (a sibling, or an ancestor's sibling), keeping `depth`;
/// false when the tree is done.
fn next_in_order(cursor: &mut tree_sitter::TreeCursor, depth: &mut usize) -> bool {
    loop {
        if cursor.goto_next_sibling() {
            return true;
        }
        if !cursor.goto_parent() {
            return false;
        }
        *depth -= 1;
    }
}

/// The first node, in source order, for which `found(node, depth)` holds.
/// Walks with a cursor, without recursion, so any depth is safe.
pub fn find_node<'t>(
    tree: &'t Tree,
    mut found: impl FnMut(Node<'t>, usize) -> bool,
) -> Option<Node<'t>> {
    let mut cursor = tree.walk();
    let mut depth = 0usize;
    loop {
        if found(cursor.node(), depth) {
            return Some(cursor.node());
        }
        if cursor.goto_first_child() {
            depth += 1;
            continue;
        }
        if !next_in_order(&mut cursor, &mut depth) {
            return None;
        }
    }
}

pub fn span(node: Node) -> Span {
    Span::new(node.start_byte(), node.end_byte())
}

pub fn text<'s>(node: Node, source: &'s str) -> &'s str {
    &source[node.start_byte()..node.end_byte()]
}

/// The leading whitespace of the line that holds `offset`.
pub fn indentation_at(source: &str, offset: usize) -> &str {
    let line_start = source[..offset].rfind('\n').map_or(0, |i| i + 1);
    let rest = &source[line_start..];
    let width = rest.len() - rest.trim_start_matches([' ', '\t']).len();
    &rest[..width]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The walk that skips small subtrees finds the node a full walk finds.
    #[test]
    fn too_deep_finds_the_first_node_past_the_limit() {
        let mut outcomes = Vec::new();
        for nesting in (MAX_DEPTH / 2 - 4..MAX_DEPTH / 2 + 4).chain([MAX_DEPTH]) {
            let text = format!(
                "import os\n\nclass A:\n    x = 1\n\ny = {}1{}\nz = [[1]]\n",
                "(".repeat(nesting),
                ")".repeat(nesting)
            );
            let tree = crate::frameworks::python::parse(&text);
            let full = find_node(&tree, |_, depth| depth > MAX_DEPTH).map(span);
            assert_eq!(too_deep(&tree), full, "{nesting} parentheses");
            outcomes.push(full.is_some());
        }
        assert!(outcomes.contains(&true) && outcomes.contains(&false));
    }
}
