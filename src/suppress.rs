//! What the user silenced: `# ixray: ignore[rule]` / `// ixray: ignore[rule]`
//! comments on a finding's line or alone on the line above it, file-level
//! `ixray: ignore-file[rule]` comments, and the configuration's per-path
//! ignores. Also finds the ignore comments that silence nothing, which the
//! rule `unused-ignore` reports. Knows nothing about what a finding means.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use memchr::memmem;

use crate::config::Config;
use crate::rules::{Finding, Severity};
use crate::schema::Framework;
use crate::source::{SourceFile, Span};

const MARKER: &str = "ixray: ignore";

/// One ignore comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IgnoreComment {
    /// 1-based line of the comment.
    pub line: usize,
    /// `ixray: ignore-file`: every finding of the file.
    pub file_level: bool,
    /// The rules named in brackets; `None` silences every rule.
    pub rules: Option<Vec<String>>,
    /// Nothing but the comment on its line: it also covers the next line.
    pub own_line: bool,
    /// The comment from its `#` or `//` to the end of the line.
    pub span: Span,
}

impl IgnoreComment {
    fn names(&self, rule: &str) -> bool {
        self.rules
            .as_ref()
            .is_none_or(|rules| rules.iter().any(|r| r == rule))
    }

    fn covers_line(&self, line: usize) -> bool {
        self.file_level || self.line == line || (self.own_line && self.line + 1 == line)
    }
}

/// The ignore comments of a file, in order. A marker inside a string is
/// not a comment: it must follow `#` (Python) or `//` (TypeScript and
/// JavaScript) with nothing but spaces between.
pub fn comments(source: &SourceFile) -> Vec<IgnoreComment> {
    let text = source.text.as_str();
    let mut out = Vec::new();
    for at in memmem::find_iter(text.as_bytes(), MARKER.as_bytes()) {
        let line = source.lines.line_of(at);
        let line_start = source.lines.line_start(line);
        let before = text[line_start..at].trim_end();
        let Some(opener) = ["#", "//"]
            .into_iter()
            .find(|opener| before.ends_with(opener))
        else {
            continue;
        };
        let comment_start = line_start + before.len() - opener.len();
        let code = &text[line_start..comment_start];
        let line_end = text[at..].find('\n').map_or(text.len(), |n| at + n);
        let rest = text[at + MARKER.len()..line_end].trim_end();
        let (file_level, rest) = match rest.strip_prefix("-file") {
            Some(rest) => (true, rest),
            None => (false, rest),
        };
        let rules = match rest.strip_prefix('[') {
            Some(list) => {
                let Some((list, _)) = list.split_once(']') else {
                    continue;
                };
                Some(
                    list.split(',')
                        .map(|r| r.trim().to_string())
                        .filter(|r| !r.is_empty())
                        .collect(),
                )
            }
            // `ixray: ignored` or `ixray: ignore-files` is not ours.
            None if rest.starts_with(|c: char| c.is_alphanumeric() || c == '-' || c == '_') => {
                continue;
            }
            None => None,
        };
        out.push(IgnoreComment {
            line: line + 1,
            file_level,
            rules,
            own_line: code.trim().is_empty(),
            span: Span::new(comment_start, line_end),
        });
    }
    out
}

/// Drop the findings the user silenced and return what `unused-ignore`
/// says about the comments that silenced nothing. `framework_of` tells
/// which framework a file with an unused comment belongs to.
pub fn apply(
    findings: &mut Vec<Finding>,
    sources: &BTreeMap<PathBuf, Arc<SourceFile>>,
    config: &Config,
    framework_of: impl Fn(&Path) -> Framework,
) -> Vec<Finding> {
    let mut by_file: BTreeMap<&Path, (Vec<IgnoreComment>, Vec<Vec<bool>>)> = BTreeMap::new();
    for (path, source) in sources {
        // The marker is rare: one search per file decides.
        if memmem::find(source.text.as_bytes(), MARKER.as_bytes()).is_none() {
            continue;
        }
        let found = comments(source);
        if !found.is_empty() {
            let used = found
                .iter()
                .map(|c| vec![false; c.rules.as_ref().map_or(1, |r| r.len().max(1))])
                .collect();
            by_file.insert(path.as_path(), (found, used));
        }
    }
    findings.retain(|finding| {
        let Some(location) = &finding.location else {
            return true;
        };
        if config.ignored_for_path(&location.path, finding.rule) {
            return false;
        }
        let Some((found, used)) = by_file.get_mut(location.path.as_path()) else {
            return true;
        };
        let mut silenced = false;
        for (comment, used) in found.iter().zip(used.iter_mut()) {
            if !comment.covers_line(location.line) || !comment.names(finding.rule) {
                continue;
            }
            silenced = true;
            match &comment.rules {
                None => used[0] = true,
                Some(rules) => {
                    for (rule, flag) in rules.iter().zip(used.iter_mut()) {
                        *flag |= rule == finding.rule;
                    }
                }
            }
        }
        !silenced
    });
    if !config.rule_enabled("unused-ignore") {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (path, (found, used)) in by_file {
        let source = &sources[path];
        for (comment, used) in found.iter().zip(&used) {
            let unused: Vec<String> = match &comment.rules {
                None if !used[0] && config.every_rule_enabled() => vec![String::new()],
                None => Vec::new(),
                Some(rules) => rules
                    .iter()
                    .zip(used)
                    .filter(|(rule, used)| {
                        !**used
                            && (crate::rules::rule(rule).is_none() || config.rule_enabled(rule))
                            && rule.as_str() != "unused-ignore"
                    })
                    .map(|(rule, _)| rule.clone())
                    .collect(),
            };
            if unused.is_empty() {
                continue;
            }
            let comment_text = source.slice(comment.span).trim_end();
            let (unknown, known): (Vec<&String>, Vec<&String>) = unused
                .iter()
                .partition(|r| !r.is_empty() && crate::rules::rule(r).is_none());
            let scope = if comment.file_level {
                "in this file"
            } else {
                "on this line or the next"
            };
            let mut parts = Vec::new();
            if !known.is_empty() {
                if known.iter().any(|r| r.is_empty()) {
                    parts.push(format!("no finding {scope}"));
                } else {
                    let names: Vec<String> = known.iter().map(|r| format!("`{r}`")).collect();
                    parts.push(format!("no {} finding {scope}", names.join(" or ")));
                }
            }
            if !unknown.is_empty() {
                let names: Vec<String> = unknown.iter().map(|r| format!("`{r}`")).collect();
                parts.push(format!(
                    "no rule is named {} (see `ixray rule`)",
                    names.join(" or ")
                ));
            }
            let whole = unused.len() == comment.rules.as_ref().map_or(1, Vec::len);
            out.push(Finding {
                rule: "unused-ignore",
                severity: Severity::Info,
                framework: framework_of(path),
                model: String::new(),
                table: String::new(),
                columns: Vec::new(),
                index_name: None,
                message: format!(
                    "unused ignore comment `{comment_text}`: {}",
                    parts.join("; ")
                ),
                location: Some(source.location(comment.span)),
                related: Vec::new(),
                suggested_index: None,
                fix: None,
                help: Some(if whole {
                    "remove the comment".to_string()
                } else {
                    let names: Vec<String> = unused.iter().map(|r| format!("`{r}`")).collect();
                    format!("remove {} from the comment", names.join(", "))
                }),
                inferred: false,
            });
        }
    }
    out
}

/// Whether a finding is silenced, as `check` decides it (for fixes
/// planned after the rules ran again).
pub fn silenced(
    finding: &Finding,
    sources: &BTreeMap<PathBuf, Arc<SourceFile>>,
    config: &Config,
) -> bool {
    let Some(location) = &finding.location else {
        return false;
    };
    if config.ignored_for_path(&location.path, finding.rule) {
        return true;
    }
    let Some(source) = sources.get(&location.path) else {
        return false;
    };
    if memmem::find(source.text.as_bytes(), MARKER.as_bytes()).is_none() {
        return false;
    }
    comments(source)
        .iter()
        .any(|c| c.covers_line(location.line) && c.names(finding.rule))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Vec<IgnoreComment> {
        comments(&SourceFile::new(PathBuf::from("m.py"), text.to_string()))
    }

    #[test]
    fn comments_are_read_with_their_rules_and_scope() {
        let found = read(
            "a = 1  # ixray: ignore[unindexed-foreign-key, redundant-index]\n\
             # ixray: ignore\n\
             s = \"ixray: ignore\"\n\
             // ixray: ignore-file[duplicate-index]\n\
             # ixray: ignored by nobody\n\
             b = 2 # ixray: ignore[\n",
        );
        assert_eq!(found.len(), 3, "{found:#?}");
        assert_eq!(found[0].line, 1);
        assert!(!found[0].own_line && !found[0].file_level);
        assert_eq!(
            found[0].rules.as_deref(),
            Some(
                &[
                    "unindexed-foreign-key".to_string(),
                    "redundant-index".to_string()
                ][..]
            )
        );
        assert_eq!(
            (found[1].line, found[1].own_line, &found[1].rules),
            (2, true, &None)
        );
        assert!(found[2].file_level);
        assert_eq!(found[2].line, 4);
    }

    #[test]
    fn a_comment_covers_its_line_and_alone_the_next() {
        let found = read("x = 1  # ixray: ignore\n# ixray: ignore\ny = 2\nz = 3\n");
        assert!(found[0].covers_line(1) && !found[0].covers_line(2));
        assert!(found[1].covers_line(2) && found[1].covers_line(3));
        assert!(!found[1].covers_line(4));
    }
}
