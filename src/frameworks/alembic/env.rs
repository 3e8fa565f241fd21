//! Reads an environment's `env.py` for what autogenerate compares: the
//! `target_metadata` it hands to `context.configure`, and the
//! `include_object` / `include_name` filters. ixray cannot run the filters,
//! so it keeps every name and name prefix they mention: an index or table
//! named there may be skipped by autogenerate, and is never reported as
//! drift.

use std::path::Path;

use tree_sitter::Node;

use crate::frameworks::python as py;
use crate::frameworks::python::Fields as _;

/// The names an autogenerate filter mentions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AutogenerateFilter {
    /// String literals compared with the object's name.
    pub names: Vec<String>,
    /// `name.startswith("…")` prefixes.
    pub prefixes: Vec<String>,
}

impl AutogenerateFilter {
    /// Autogenerate may skip an object of this name.
    pub fn may_skip(&self, name: &str) -> bool {
        self.names.iter().any(|n| n == name) || self.prefixes.iter().any(|p| name.starts_with(p))
    }
}

/// What one `env.py` says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvFacts {
    /// The names whose `.metadata` `target_metadata` is (`Base` for
    /// `target_metadata = Base.metadata`); empty when ixray cannot tell.
    pub target_carriers: Vec<String>,
    pub filter: Option<AutogenerateFilter>,
    /// `context.configure(..., render_as_batch=True)`: autogenerate writes
    /// index operations in `batch_alter_table` blocks, and so does ixray.
    pub render_as_batch: bool,
}

/// The facts of the `env.py` at `path`, if there is one.
pub fn read(path: &Path) -> Option<EnvFacts> {
    let text = std::fs::read_to_string(path).ok()?;
    let tree = py::parse_bounded(&text)?;
    let root = tree.root_node();
    let mut facts = EnvFacts::default();
    let mut cursor = root.walk();
    for statement in root.named_children(&mut cursor) {
        if let Some(assignment) = statement.named_child(0)
            && assignment.kind() == "assignment"
            && assignment
                .field("left")
                .is_some_and(|l| py::text(l, &text) == "target_metadata")
            && let Some(right) = assignment.field("right")
        {
            let values = py::sequence_items(right).unwrap_or_else(|| vec![right]);
            facts.target_carriers = values
                .into_iter()
                .filter_map(|v| py::dotted_name(v, &text))
                .filter_map(|n| n.strip_suffix(".metadata").map(str::to_string))
                .map(|n| py::last_segment(&n).to_string())
                .collect();
        }
    }
    facts.filter = read_filter(root, &text);
    visit(root, &mut |node| {
        if node.kind() == "keyword_argument"
            && node
                .field("name")
                .is_some_and(|n| py::text(n, &text) == "render_as_batch")
            && node
                .field("value")
                .is_some_and(|v| py::text(v, &text) == "True")
        {
            facts.render_as_batch = true;
        }
    });
    Some(facts)
}

fn read_filter(root: Node, text: &str) -> Option<AutogenerateFilter> {
    if !text.contains("include_object") && !text.contains("include_name") {
        return None;
    }
    let text = text.to_string();
    // The functions passed as `include_object=` / `include_name=`.
    let mut filters: Vec<String> = Vec::new();
    visit(root, &mut |node| {
        if node.kind() == "keyword_argument"
            && let (Some(name), Some(value)) = (node.field("name"), node.field("value"))
            && matches!(py::text(name, &text), "include_object" | "include_name")
            && let Some(function) = py::dotted_name(value, &text)
        {
            filters.push(py::last_segment(&function).to_string());
        }
    });
    if filters.is_empty() {
        return None;
    }
    let mut filter = AutogenerateFilter::default();
    visit(root, &mut |node| {
        if node.kind() == "function_definition"
            && node
                .field("name")
                .is_some_and(|n| filters.iter().any(|f| f == py::text(n, &text)))
        {
            collect(node, &text, &mut filter);
        }
    });
    filter.names.sort();
    filter.names.dedup();
    filter.prefixes.sort();
    filter.prefixes.dedup();
    Some(filter)
}

/// Every string literal of the function is a name it may compare with, and
/// the argument of `.startswith(…)` a prefix.
fn collect(function: Node, text: &str, filter: &mut AutogenerateFilter) {
    visit(function, &mut |node| {
        if node.kind() == "call"
            && py::call_name(node, text).is_some_and(|n| n.ends_with(".startswith"))
        {
            for argument in py::arguments(node, text).positional {
                let values = py::string_value(argument, text)
                    .map(|v| vec![v])
                    .or_else(|| py::string_list(argument, text))
                    .unwrap_or_default();
                filter.prefixes.extend(values);
            }
        } else if node.kind() == "string"
            && let Some(value) = py::string_value(node, text)
        {
            filter.names.push(value);
        }
    });
}

fn visit<'t>(node: Node<'t>, f: &mut impl FnMut(Node<'t>)) {
    f(node);
    let mut cursor = node.walk();
    for child in node.named_children(&mut cursor) {
        visit(child, f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_names_and_prefixes_of_the_filter_functions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("env.py");
        std::fs::write(
            &path,
            r#"
def include_object(object, name, type_, reflected, compare_to):
    """Skip hand-made constraints."""
    if type_ == "unique_constraint" and name in ("foods_name_key", "units_name_key"):
        return False
    return not name.startswith(("legacy_", "tmp_"))

def unrelated():
    return "not_a_filter"

target_metadata = app.models.Base.metadata
context.configure(target_metadata=target_metadata, include_object=include_object)
"#,
        )
        .unwrap();
        let facts = read(&path).unwrap();
        assert_eq!(facts.target_carriers, vec!["Base"]);
        assert!(!facts.render_as_batch);
        let filter = facts.filter.unwrap();
        assert!(filter.may_skip("foods_name_key"));
        assert!(filter.may_skip("legacy_ix_a"));
        assert!(!filter.may_skip("not_a_filter"));
        assert!(!filter.may_skip("ix_users_email"));
    }

    #[test]
    fn reads_batch_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("env.py");
        std::fs::write(
            &path,
            "def run_migrations_online():\n    context.configure(connection=c, target_metadata=m, render_as_batch=True)\n",
        )
        .unwrap();
        assert!(read(&path).unwrap().render_as_batch);
    }
}
