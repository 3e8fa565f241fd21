//! Applying fixes: every framework's planned change sets are checked (each
//! edited text must re-parse cleanly, no edits may overlap, the file must
//! not have changed since it was analyzed, a new file must not exist yet)
//! and then written. A change set (the model edits and migrations of one
//! app, Alembic environment or drizzle-kit folder) is checked whole and
//! written whole: if any of its files fails, none of them is written.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::Analysis;
use crate::frameworks::{django, drizzle, python, sqlalchemy, typescript};
use crate::rules::{Finding, FixIntent};
use crate::schema::Index;
use crate::source::{ChangeSet, Edit, FileChange, Location, apply_edits};

/// The outcome of planning fixes for an analysis.
#[derive(Debug, Default, Clone)]
pub struct FixPlan {
    /// The change sets that passed every check, each written together.
    pub sets: Vec<PlannedSet>,
    /// What could not be fixed, with the reason.
    pub withheld: Vec<Withheld>,
}

/// A change `fix` leaves out, and why.
#[derive(Debug, Clone, Default)]
pub struct Withheld {
    /// The change set (app, Alembic environment, drizzle-kit folder).
    pub unit: Option<String>,
    /// The tables whose changes are left out (none: the unit's).
    pub tables: Vec<String>,
    /// The construct: the model (class, table variable) and where it is
    /// declared.
    pub model: Option<String>,
    pub location: Option<Location>,
    pub reason: String,
}

impl Withheld {
    /// `orders/models.py:12: `Order` (orders_order): reason` for people.
    pub fn describe(&self, display: impl Fn(&Path) -> String) -> String {
        let mut out = String::new();
        if let Some(location) = &self.location {
            out.push_str(&format!("{}:{}: ", display(&location.path), location.line));
        }
        match (&self.model, self.tables.as_slice()) {
            (Some(model), [table]) if model != table => {
                out.push_str(&format!("`{model}` ({table}): "))
            }
            (_, []) => {}
            (_, tables) => out.push_str(&format!("{}: ", tables.join(", "))),
        }
        if let Some(unit) = &self.unit {
            out.push_str(&format!("{unit}: "));
        }
        out.push_str(&self.reason);
        out
    }
}

/// One change set, ready to write.
#[derive(Debug, Clone)]
pub struct PlannedSet {
    pub unit: String,
    pub changes: Vec<PlannedChange>,
}

#[derive(Debug, Clone)]
pub struct PlannedChange {
    pub path: PathBuf,
    /// `None` for a new file.
    pub before: Option<String>,
    pub after: String,
}

impl FixPlan {
    /// For each finding, whether the plan fixes it, and if not, why.
    pub fn verdicts(&self, analysis: &Analysis) -> Vec<Result<(), String>> {
        let changed: rustc_hash::FxHashSet<&Path> = self
            .sets
            .iter()
            .flat_map(|s| &s.changes)
            .map(|c| c.path.as_path())
            .collect();
        let mut withheld: rustc_hash::FxHashMap<&str, &str> = rustc_hash::FxHashMap::default();
        for w in &self.withheld {
            for table in &w.tables {
                withheld.entry(table.as_str()).or_insert(w.reason.as_str());
            }
        }
        let declared = declared_paths(analysis);
        let units: Vec<String> = self
            .withheld
            .iter()
            .filter(|w| w.tables.is_empty())
            .map(|w| w.describe(|p| p.display().to_string()))
            .collect();
        analysis
            .findings
            .iter()
            .map(|finding| {
                if finding.fix.is_none() {
                    return Err("no automatic fix".into());
                }
                if let Some(reason) = withheld.get(finding.table.as_str()) {
                    return Err(reason.to_string());
                }
                // Every fix edits the file that declares the table.
                let path = declared
                    .get(&(finding.table.as_str(), finding.framework))
                    .copied()
                    .or(finding.location.as_ref().map(|l| l.path.as_path()));
                if path.is_some_and(|p| changed.contains(p)) {
                    return Ok(());
                }
                Err(if units.is_empty() {
                    "ixray cannot write this change".into()
                } else {
                    units.join("; ")
                })
            })
            .collect()
    }

    /// For each finding of the analysis, the change set that fixes it: the
    /// one that edits the file declaring its table (as `verdicts` decides).
    pub fn sets_for(&self, analysis: &Analysis) -> Vec<Option<&PlannedSet>> {
        let declared = declared_paths(analysis);
        let mut by_path: rustc_hash::FxHashMap<&Path, &PlannedSet> = Default::default();
        for set in &self.sets {
            for change in &set.changes {
                by_path.entry(change.path.as_path()).or_insert(set);
            }
        }
        analysis
            .findings
            .iter()
            .map(|finding| {
                finding.fix.as_ref()?;
                let path = declared
                    .get(&(finding.table.as_str(), finding.framework))
                    .copied()
                    .or(finding.location.as_ref().map(|l| l.path.as_path()))?;
                by_path.get(path).copied()
            })
            .collect()
    }

    /// Every change of every set, by path.
    pub fn changes(&self) -> Vec<&PlannedChange> {
        let mut all: Vec<&PlannedChange> = self.sets.iter().flat_map(|s| &s.changes).collect();
        all.sort_by(|a, b| a.path.cmp(&b.path));
        all
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FixError {
    #[error("{path}: {message}")]
    Write { path: PathBuf, message: String },
}

/// `plan`, then the project is analyzed again as it will be once the plan
/// is written (the planned texts stand in for the files): a change set
/// whose tables do not come out with exactly the planned indexes, or that
/// leaves a planned finding or brings a new one, is withheld. This is
/// `fix`'s last check before writing.
pub fn plan_verified(analysis: &Analysis) -> FixPlan {
    verify(analysis, plan(analysis))
}

/// Withhold the sets of `plan` that re-analysis does not confirm.
fn verify(analysis: &Analysis, mut plan: FixPlan) -> FixPlan {
    if plan.sets.is_empty() {
        return plan;
    }
    let overlay = crate::source::Overlay::new(
        plan.changes()
            .into_iter()
            .map(|c| (c.path.clone(), c.after.clone()))
            .collect(),
    );
    let after = crate::analyze_with(&analysis.paths, &analysis.config, &overlay);
    // A table the plan leaves out keeps what it has.
    let left_out: rustc_hash::FxHashSet<String> = plan
        .withheld
        .iter()
        .flat_map(|w| w.tables.iter().cloned())
        .collect();
    let expected = planned_schema(analysis, &left_out);
    let context = Verification::new(analysis, &after, &expected);
    let mut kept = Vec::new();
    for set in std::mem::take(&mut plan.sets) {
        let tables: Vec<String> = context
            .tables_in(set.changes.iter().map(|c| c.path.as_path()))
            .into_iter()
            .collect();
        let checked: Vec<&String> = tables.iter().filter(|t| !left_out.contains(*t)).collect();
        match context.check(&checked) {
            Ok(()) => kept.push(set),
            Err(problem) => plan.withheld.push(Withheld {
                unit: Some(set.unit.clone()),
                tables,
                reason: format!(
                    "{problem}; nothing of this change set was written (this is a bug in ixray: please report it)"
                ),
                ..Withheld::default()
            }),
        }
    }
    plan.sets = kept;
    plan
}

/// The tables declared in `files`.
fn tables_of<'p>(analysis: &Analysis, files: impl Iterator<Item = &'p Path>) -> Vec<String> {
    let files: Vec<&Path> = files.collect();
    analysis
        .schema
        .tables
        .iter()
        .filter(|t| {
            t.location
                .as_ref()
                .is_some_and(|l| files.contains(&l.path.as_path()))
        })
        .map(|t| t.name.clone())
        .collect()
}

/// The schema as every planned fix leaves it.
fn planned_schema(
    analysis: &Analysis,
    left_out: &rustc_hash::FxHashSet<String>,
) -> crate::schema::Schema {
    let mut schema = analysis.schema.clone();
    let tables = table_positions(&schema);
    for finding in analysis
        .findings
        .iter()
        .chain(&consequences(analysis))
        .filter(|f| !left_out.contains(&f.table))
    {
        apply_intent(&mut schema, &tables, finding);
    }
    schema
}

/// An index as the database sees it (name and place aside), and whether
/// only the migration history has it (the models must declare what the
/// migrations build).
fn index_key(index: &Index) -> String {
    format!(
        "{}{}{}{}{}",
        if index.origin == crate::schema::IndexOrigin::Migration {
            "history only: "
        } else {
            ""
        },
        if index.unique { "UNIQUE " } else { "" },
        index.describe(),
        if index.include.is_empty() {
            String::new()
        } else {
            format!(" INCLUDE ({})", index.include.join(", "))
        },
        index
            .predicate
            .as_ref()
            .map(|p| format!(" WHERE {p:?}"))
            .unwrap_or_default()
    )
}

/// A finding, for comparing two analyses.
type FindingKey = (&'static str, String, Vec<String>, Option<String>);

fn finding_key(f: &Finding) -> FindingKey {
    (
        f.rule,
        f.table.clone(),
        f.columns.clone(),
        f.index_name.clone(),
    )
}

/// What re-analysis is compared with, indexed once for every set.
struct Verification<'a> {
    after: &'a Analysis,
    expected: &'a crate::schema::Schema,
    expected_tables: rustc_hash::FxHashMap<String, usize>,
    after_tables: rustc_hash::FxHashMap<String, usize>,
    tables_by_file: rustc_hash::FxHashMap<&'a Path, Vec<String>>,
    before: rustc_hash::FxHashSet<FindingKey>,
    planned_fixes: rustc_hash::FxHashSet<FindingKey>,
    /// What the rules say of the planned schema is expected: an index that
    /// a new composite makes redundant and that ixray cannot drop stays.
    predicted: rustc_hash::FxHashSet<FindingKey>,
    after_findings: rustc_hash::FxHashMap<&'a str, Vec<&'a Finding>>,
}

impl<'a> Verification<'a> {
    fn new(
        analysis: &'a Analysis,
        after: &'a Analysis,
        expected: &'a crate::schema::Schema,
    ) -> Self {
        let mut tables_by_file: rustc_hash::FxHashMap<&Path, Vec<String>> =
            rustc_hash::FxHashMap::default();
        for table in &analysis.schema.tables {
            if let Some(location) = &table.location {
                tables_by_file
                    .entry(location.path.as_path())
                    .or_default()
                    .push(table.name.clone());
            }
        }
        let mut after_findings: rustc_hash::FxHashMap<&str, Vec<&Finding>> =
            rustc_hash::FxHashMap::default();
        for finding in &after.findings {
            after_findings
                .entry(finding.table.as_str())
                .or_default()
                .push(finding);
        }
        Verification {
            after,
            expected,
            expected_tables: table_positions(expected),
            after_tables: table_positions(&after.schema),
            tables_by_file,
            before: analysis.findings.iter().map(finding_key).collect(),
            planned_fixes: analysis
                .findings
                .iter()
                .filter(|f| f.fix.is_some())
                .map(finding_key)
                .collect(),
            predicted: crate::rules::run(expected, &analysis.config)
                .iter()
                .map(finding_key)
                .collect(),
            after_findings,
        }
    }

    fn tables_in<'p>(&self, files: impl Iterator<Item = &'p Path>) -> Vec<String> {
        files
            .filter_map(|f| self.tables_by_file.get(f))
            .flatten()
            .cloned()
            .collect()
    }

    /// The tables, read again from the planned texts, have exactly the
    /// planned indexes; their planned findings are gone and none is new.
    fn check(&self, tables: &[&String]) -> Result<(), String> {
        let keys = |schema: &crate::schema::Schema,
                    positions: &rustc_hash::FxHashMap<String, usize>,
                    name: &str|
         -> Option<Vec<String>> {
            let table = &schema.tables[*positions.get(name)?];
            let mut keys: Vec<String> = table
                .indexes
                .iter()
                // InnoDB's own FK index comes and goes with the others.
                .filter(|i| i.origin != crate::schema::IndexOrigin::DatabaseImplicit)
                .map(index_key)
                .collect();
            keys.sort();
            Some(keys)
        };
        for table in tables {
            let planned = keys(self.expected, &self.expected_tables, table);
            let found = keys(&self.after.schema, &self.after_tables, table);
            if planned != found {
                return Err(format!(
                    "read again, `{table}` has indexes {} instead of the planned {}",
                    found.map_or("(none: the table is gone)".into(), |k| k.join("; ")),
                    planned.map_or("(none)".into(), |k| k.join("; "))
                ));
            }
            for finding in self
                .after_findings
                .get(table.as_str())
                .into_iter()
                .flatten()
            {
                let key = finding_key(finding);
                if self.predicted.contains(&key) {
                    continue;
                }
                if self.planned_fixes.contains(&key) {
                    return Err(format!(
                        "read again, `{}` still has the {} finding the change should fix",
                        finding.table, finding.rule
                    ));
                }
                if !self.before.contains(&key) {
                    return Err(format!(
                        "read again, `{}` has a new {} finding: {}",
                        finding.table, finding.rule, finding.message
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Compute the changes that fix the analysis' findings, without writing.
pub fn plan(analysis: &Analysis) -> FixPlan {
    plan_checked(analysis, Reparse::Yes)
}

/// Whether planned texts are parsed again before they count as planned.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Reparse {
    Yes,
    /// For `check`'s count: what the planner can render (the re-parse, like
    /// `fix`'s re-analysis, only ever catches a bug in ixray's renderers,
    /// and on a project with thousands of fixes it costs seconds).
    No,
}

/// `plan`, re-parsing edited files or not.
pub fn plan_checked(analysis: &Analysis, reparse: Reparse) -> FixPlan {
    python::forget_line_lengths();
    // The fixes, and what they bring about, in one plan.
    let consequences = consequences(analysis);
    let all: Vec<&Finding> = analysis
        .findings
        .iter()
        .chain(&consequences)
        .filter(|f| f.fix.is_some())
        .collect();
    // One decision per index: an index only the history has that is also
    // redundant or a duplicate is dropped, not declared in the model.
    let dropped = |index: &Index, table: &str| {
        all.iter().any(|f| {
            f.table == table
                && matches!(&f.fix, Some(FixIntent::DropIndex(d))
                    if d.name == index.name && d.parts == index.parts)
        })
    };
    let findings: Vec<&Finding> = all
        .iter()
        .copied()
        .filter(|f| !matches!(&f.fix, Some(FixIntent::DeclareIndex(i)) if dropped(i, &f.table)))
        .collect();
    let (mut sets, mut unfixable) =
        django::emit::plan(&analysis.django, &analysis.schema.tables, &findings);
    let (more_sets, more_unfixable) = sqlalchemy::emit::plan(&analysis.sqlalchemy, &findings);
    sets.extend(more_sets);
    unfixable.extend(more_unfixable);
    let (more_sets, more_unfixable) = drizzle::emit::plan(&analysis.drizzle, &findings);
    sets.extend(more_sets);
    unfixable.extend(more_unfixable);
    // Two findings on one table may be withheld for the same reason.
    let mut seen = rustc_hash::FxHashSet::default();
    unfixable.retain(|u| seen.insert((u.table.clone(), u.reason.clone())));
    let mut plan = FixPlan {
        withheld: unfixable
            .into_iter()
            .map(|u| {
                match analysis.schema.tables.iter().find(|t| t.name == u.table) {
                    Some(table) => Withheld {
                        tables: vec![table.name.clone()],
                        model: Some(table.model.clone()),
                        location: table.location.clone(),
                        reason: u.reason,
                        ..Withheld::default()
                    },
                    // Not a table: a unit whose migration cannot be made.
                    None => Withheld {
                        unit: Some(u.table),
                        reason: u.reason,
                        ..Withheld::default()
                    },
                }
            })
            .collect(),
        ..FixPlan::default()
    };
    let sets = merge_sharing_files(sets);
    let checked = parallel_map(&sets, |set| check_set(analysis, set, reparse));
    for (set, checked) in sets.into_iter().zip(checked) {
        match checked {
            Ok(changes) if changes.is_empty() => {}
            Ok(changes) => plan.sets.push(PlannedSet {
                unit: set.unit,
                changes,
            }),
            Err(problem) => {
                // The tables declared in the set's files go with it.
                let tables = tables_of(analysis, set.changes.iter().map(FileChange::path));
                plan.withheld.push(Withheld {
                    unit: Some(set.unit),
                    tables,
                    reason: format!("{problem}; nothing of this change set was written"),
                    ..Withheld::default()
                });
            }
        }
    }
    plan.sets.sort_by(|a, b| a.unit.cmp(&b.unit));
    plan
}

/// `f` over `items` on the machine's cores (re-parsing edited files is
/// the planner's main cost), results in order.
fn parallel_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if threads == 1 || items.len() < 2 {
        return items.iter().map(f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    let f = &f;
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(f).collect::<Vec<R>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("the planner does not panic"))
            .collect()
    })
}

/// Sets that touch one file are written together (a file is written once).
fn merge_sharing_files(sets: Vec<ChangeSet>) -> Vec<ChangeSet> {
    let mut merged: Vec<ChangeSet> = Vec::new();
    let mut owner: rustc_hash::FxHashMap<PathBuf, usize> = rustc_hash::FxHashMap::default();
    for set in sets {
        let shared = set
            .changes
            .iter()
            .find_map(|c| owner.get(c.path()).copied());
        let Some(at) = shared else {
            for change in &set.changes {
                owner.insert(change.path().to_path_buf(), merged.len());
            }
            merged.push(set);
            continue;
        };
        let existing = &mut merged[at];
        existing.unit = format!("{} and {}", existing.unit, set.unit);
        for change in set.changes {
            owner.insert(change.path().to_path_buf(), at);
            match (
                existing
                    .changes
                    .iter_mut()
                    .find(|c| c.path() == change.path()),
                change,
            ) {
                (
                    Some(FileChange::Edit { edits, .. }),
                    FileChange::Edit {
                        edits: more_edits, ..
                    },
                ) => edits.extend(more_edits),
                (_, change) => existing.changes.push(change),
            }
        }
    }
    merged
}

/// The set's files with their new text, or the first reason it cannot be
/// written.
fn check_set(
    analysis: &Analysis,
    set: &ChangeSet,
    reparse: Reparse,
) -> Result<Vec<PlannedChange>, String> {
    let mut out = Vec::new();
    for change in &set.changes {
        // The file, or for a new file its folder, must lie inside the paths
        // ixray was pointed at (a symbolic link may lead elsewhere).
        let path = change.path();
        let real = match path.exists() {
            true => std::fs::canonicalize(path).ok(),
            false => path
                .parent()
                .map(|p| {
                    if p.as_os_str().is_empty() {
                        Path::new(".")
                    } else {
                        p
                    }
                })
                .and_then(|p| std::fs::canonicalize(p).ok()),
        };
        if !real.is_some_and(|real| crate::discover::inside(&real, &analysis.roots)) {
            return Err(format!(
                "{} is outside the checked paths; ixray writes nothing there",
                path.display()
            ));
        }
        match change {
            FileChange::Edit { path, edits } => {
                let source = analysis
                    .sources
                    .get(path)
                    .ok_or_else(|| format!("{}: not part of the analysis", path.display()))?;
                let mut edits = in_the_files_style(&source.text, edits);
                // The same edit planned twice (one model reached twice) is
                // made once; the order of the rest is kept.
                let mut seen: Vec<Edit> = Vec::new();
                edits.retain(|e| {
                    let first = !seen.contains(e);
                    if first {
                        seen.push(e.clone());
                    }
                    first
                });
                let (after, all_applied) = apply_edits(&source.text, &edits);
                if !all_applied {
                    return Err(format!(
                        "{}: two edits overlap (ixray cannot yet combine them)",
                        path.display()
                    ));
                }
                if after.len() as u64 > crate::MAX_FILE_BYTES {
                    return Err(format!(
                        "{}: the edited file would be larger than the {} bytes ixray reads",
                        path.display(),
                        crate::MAX_FILE_BYTES
                    ));
                }
                if reparse == Reparse::Yes && !reparses(path, &after) {
                    return Err(format!(
                        "{}: the edited file would not parse",
                        path.display()
                    ));
                }
                // An edit that changes nothing is no change to write.
                if after != source.text {
                    out.push(PlannedChange {
                        path: path.clone(),
                        before: Some(source.text.clone()),
                        after,
                    });
                }
            }
            FileChange::Create { path, contents } => {
                // Rendered from a CRLF template: CRLF throughout.
                let contents = &if contents.contains("\r\n") {
                    with_line_ending(contents, "\r\n")
                } else {
                    contents.clone()
                };
                if reparse == Reparse::Yes && !reparses(path, contents) {
                    return Err(format!("{}: the new file would not parse", path.display()));
                }
                out.push(PlannedChange {
                    path: path.clone(),
                    before: None,
                    after: contents.clone(),
                });
            }
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

/// Edits as the file writes text: its line ending (CRLF when most lines
/// end so), and nothing inserted before a byte-order mark.
fn in_the_files_style(text: &str, edits: &[Edit]) -> Vec<Edit> {
    let crlf = text.matches("\r\n").count();
    let ending = if crlf > 0 && crlf * 2 >= text.matches('\n').count() {
        "\r\n"
    } else {
        "\n"
    };
    let bom = if text.starts_with('\u{feff}') { 3 } else { 0 };
    edits
        .iter()
        .map(|edit| {
            let mut edit = edit.clone();
            if ending == "\r\n" {
                edit.content = with_line_ending(&edit.content, ending);
            }
            if edit.span.start < bom {
                edit.span.start = bom;
                edit.span.end = edit.span.end.max(bom);
            }
            edit
        })
        .collect()
}

/// `text` with every line ending made `ending`.
fn with_line_ending(text: &str, ending: &str) -> String {
    text.replace("\r\n", "\n").replace('\n', ending)
}

/// What fixing the findings brings about: the findings the rules make on
/// the schema as it will be once every planned index is added and dropped
/// (a single-column index that a new composite makes redundant), with
/// their fixes described, until nothing new comes up. `fix` adds them to
/// the same change sets, so one run reaches the fixed point.
fn consequences(analysis: &Analysis) -> Vec<Finding> {
    let mut schema = analysis.schema.clone();
    let mut planned: Vec<Finding> = analysis
        .findings
        .iter()
        .filter(|f| f.fix.is_some())
        .cloned()
        .collect();
    let mut added: Vec<Finding> = Vec::new();
    let mut known: rustc_hash::FxHashSet<IndexKey> =
        analysis.findings.iter().map(index_of_finding).collect();
    let tables = table_positions(&schema);
    for _ in 0..4 {
        for finding in &planned {
            apply_intent(&mut schema, &tables, finding);
        }
        let mut next: Vec<Finding> =
            crate::rules::run_where(&schema, &analysis.config, |r| r.drops_indexes)
                .into_iter()
                .filter(
                    |f| matches!(f.fix, Some(FixIntent::DropIndex(ref i)) if i.location.is_some()),
                )
                .filter(|f| !crate::suppress::silenced(f, &analysis.sources, &analysis.config))
                .filter(|f| analysis.scope.holds_finding(f))
                .filter(|f| !known.contains(&index_of_finding(f)))
                .collect();
        django::emit::describe_fixes(&analysis.django, &schema.tables, &mut next);
        sqlalchemy::emit::describe_fixes(&analysis.sqlalchemy, &mut next);
        drizzle::emit::describe_fixes(&analysis.drizzle, &mut next);
        next.retain(|f| f.fix.is_some());
        if next.is_empty() {
            break;
        }
        known.extend(next.iter().map(index_of_finding));
        added.extend(next.iter().cloned());
        planned = next;
    }
    added
}

/// The existing index a finding is about: its table, place and name.
type IndexKey = (String, Option<(PathBuf, usize, usize)>, Option<String>);

fn index_of_finding(f: &Finding) -> IndexKey {
    (
        f.table.clone(),
        f.location
            .as_ref()
            .map(|l| (l.path.clone(), l.span.start, l.span.end)),
        f.index_name.clone(),
    )
}

/// Each table's position in the schema, by name (the first of a name).
fn table_positions(schema: &crate::schema::Schema) -> rustc_hash::FxHashMap<String, usize> {
    let mut positions = rustc_hash::FxHashMap::default();
    for (i, table) in schema.tables.iter().enumerate() {
        positions.entry(table.name.clone()).or_insert(i);
    }
    positions
}

/// The schema as it is once a finding's fix is made.
fn apply_intent(
    schema: &mut crate::schema::Schema,
    tables: &rustc_hash::FxHashMap<String, usize>,
    finding: &Finding,
) {
    let Some(table) = tables
        .get(&finding.table)
        .and_then(|&i| schema.tables.get_mut(i))
    else {
        return;
    };
    match &finding.fix {
        Some(FixIntent::AddIndex(spec)) => {
            let mut index = crate::schema::Index::new(
                spec.columns
                    .iter()
                    .map(|c| crate::schema::IndexPart {
                        desc: c.desc,
                        ..crate::schema::IndexPart::column(&c.name)
                    })
                    .collect(),
                crate::schema::IndexOrigin::Declared,
            );
            index.name = Some(spec.name.clone());
            index.unique = spec.unique;
            index.predicate = spec.predicate.as_deref().map(crate::schema::sql::predicate);
            // Two findings may propose one index (`rules::fold_proposals`).
            if !table
                .indexes
                .iter()
                .any(|i| i.name == index.name && i.parts == index.parts)
            {
                table.indexes.push(index);
            }
        }
        Some(FixIntent::DropIndex(dropped)) => {
            table.indexes.retain(|i| {
                !(i.location == dropped.location
                    && i.parts == dropped.parts
                    && i.name == dropped.name)
            });
        }
        Some(FixIntent::DeclareIndex(declared)) => {
            for index in table
                .indexes
                .iter_mut()
                .filter(|i| i.name == declared.name && i.parts == declared.parts)
            {
                index.origin = crate::schema::IndexOrigin::Declared;
                index.drift = false;
            }
        }
        None => {}
    }
}

fn reparses(path: &Path, text: &str) -> bool {
    match path.extension().and_then(|e| e.to_str()) {
        Some("py") => python::parses_cleanly(text),
        Some("json") => serde_json::from_str::<serde_json::Value>(text).is_ok(),
        _ if typescript::is_script(path) => typescript::parses_cleanly(path, text),
        _ => true,
    }
}

/// Write the planned change sets, each whole or not at all: every file of a
/// set is first written beside its target and checked against what was
/// analyzed (a file that changed since is left alone, a new file must not
/// exist), then all are renamed into place. If anything fails, what the set
/// already put in place is restored, so a set is never half-written.
pub fn apply(plan: &FixPlan) -> Applied {
    let mut applied = Applied::default();
    for set in &plan.sets {
        match apply_set(set) {
            Ok(paths) => applied.written.push((set.unit.clone(), paths)),
            Err(error) => applied.errors.push(error),
        }
    }
    applied
}

/// What `apply` wrote, per change set, and the sets it could not write.
#[derive(Debug, Default)]
pub struct Applied {
    pub written: Vec<(String, Vec<PathBuf>)>,
    pub errors: Vec<FixError>,
}

fn apply_set(set: &PlannedSet) -> Result<Vec<PathBuf>, FixError> {
    let fail = |path: &Path, message: String| FixError::Write {
        path: path.to_path_buf(),
        message: format!("{message}; nothing of {} was written", set.unit),
    };
    // Stage every file first.
    let mut staged: Vec<(PathBuf, &PlannedChange)> = Vec::new();
    let cleanup = |staged: &[(PathBuf, &PlannedChange)]| {
        for (temp, _) in staged {
            let _ = std::fs::remove_file(temp);
        }
    };
    for change in &set.changes {
        let current = match &change.before {
            Some(before) => match std::fs::read_to_string(&change.path) {
                Ok(current) if &current == before => Ok(()),
                Ok(_) => Err("the file changed since it was analyzed; run ixray again".to_string()),
                Err(err) => Err(err.to_string()),
            },
            None if change.path.exists() => Err("the file already exists".to_string()),
            None => Ok(()),
        };
        let staged_file = current.and_then(|()| stage(&change.path, &change.after));
        match staged_file {
            Ok(temp) => staged.push((temp, change)),
            Err(message) => {
                cleanup(&staged);
                return Err(fail(&change.path, message));
            }
        }
    }
    // Then put them in place, undoing on failure.
    let mut placed: Vec<&PlannedChange> = Vec::new();
    for (i, (temp, change)) in staged.iter().enumerate() {
        // A new file is linked into place, which fails if it exists by
        // now: two `ixray fix` runs at once never both write migration 0004.
        let placed_ok = match change.before {
            Some(_) => std::fs::rename(temp, &change.path),
            None => match std::fs::hard_link(temp, &change.path) {
                Ok(()) => {
                    let _ = std::fs::remove_file(temp);
                    Ok(())
                }
                Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => Err(err),
                // A file system without hard links: check, then rename.
                Err(_) if change.path.exists() => Err(std::io::ErrorKind::AlreadyExists.into()),
                Err(_) => std::fs::rename(temp, &change.path),
            },
        };
        if let Err(err) = placed_ok {
            for done in placed.iter().rev() {
                match &done.before {
                    Some(before) => {
                        let _ = stage(&done.path, before).map(|t| std::fs::rename(t, &done.path));
                    }
                    None => {
                        let _ = std::fs::remove_file(&done.path);
                    }
                }
            }
            cleanup(&staged[i..]);
            return Err(fail(&change.path, err.to_string()));
        }
        placed.push(change);
    }
    Ok(placed.iter().map(|c| c.path.clone()).collect())
}

/// Write `contents` to a temporary file beside `path` (same folder, so the
/// rename is atomic), with `path`'s permissions when it exists.
pub(crate) fn stage(path: &Path, contents: &str) -> Result<PathBuf, String> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let file_name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let temp = dir.join(format!(".{file_name}.ixray-{}", std::process::id()));
    let result = (|| -> std::io::Result<()> {
        let mut file = std::fs::File::create(&temp)?;
        file.write_all(contents.as_bytes())?;
        file.sync_all()?;
        if let Ok(meta) = std::fs::metadata(path) {
            std::fs::set_permissions(&temp, meta.permissions())?;
        }
        Ok(())
    })();
    match result {
        Ok(()) => Ok(temp),
        Err(err) => {
            let _ = std::fs::remove_file(&temp);
            Err(err.to_string())
        }
    }
}

/// The file that declares each table, by (SQL name, framework).
fn declared_paths(
    analysis: &Analysis,
) -> rustc_hash::FxHashMap<(&str, crate::schema::Framework), &Path> {
    let mut declared = rustc_hash::FxHashMap::default();
    for table in &analysis.schema.tables {
        if let Some(location) = &table.location {
            declared
                .entry((table.name.as_str(), table.framework))
                .or_insert(location.path.as_path());
        }
    }
    declared
}

/// Whole lines of an existing file that a change replaces: what review
/// tools take as a suggestion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineEdit {
    /// 1-based, inclusive, in the file before the change.
    pub first_line: usize,
    pub last_line: usize,
    /// The new text of those lines, without the final line break.
    pub replacement: String,
}

impl PlannedChange {
    /// The smallest run of whole lines that turns `before` into `after`
    /// (at least one line: an insertion carries the line above it).
    /// `None` for a new file or no change.
    pub fn line_edit(&self) -> Option<LineEdit> {
        let before = self.before.as_deref()?;
        if before == self.after {
            return None;
        }
        let old: Vec<&str> = before.split_inclusive('\n').collect();
        let new: Vec<&str> = self.after.split_inclusive('\n').collect();
        let (prefix, suffix) = crate::source::common_affixes(&old, &new);
        let (mut first, last_old, mut first_new, last_new) =
            (prefix, old.len() - suffix, prefix, new.len() - suffix);
        if first == last_old && first > 0 {
            // A pure insertion: replace the line above with itself and the
            // new lines.
            first -= 1;
            first_new -= 1;
        }
        if first == last_old {
            return None;
        }
        let replacement: String = new[first_new..last_new].concat();
        Some(LineEdit {
            first_line: first + 1,
            last_line: last_old,
            replacement: replacement
                .strip_suffix('\n')
                .unwrap_or(&replacement)
                .to_string(),
        })
    }
}

/// A unified diff of every planned change, for `fix --diff`.
pub fn diff(plan: &FixPlan, display: impl Fn(&Path) -> String) -> String {
    let mut out = String::new();
    for change in plan.changes() {
        let name = display(&change.path);
        let before = change.before.as_deref().unwrap_or("");
        let old_name = if change.before.is_some() {
            format!("a/{name}")
        } else {
            "/dev/null".into()
        };
        let text = similar::TextDiff::from_lines(before, &change.after)
            .unified_diff()
            .context_radius(3)
            .header(&old_name, &format!("b/{name}"))
            .to_string();
        out.push_str(&text);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(path: &Path, before: Option<&str>, after: &str) -> PlannedChange {
        PlannedChange {
            path: path.to_path_buf(),
            before: before.map(str::to_string),
            after: after.to_string(),
        }
    }

    /// A set whose planned text does not give the planned indexes when it
    /// is read again is withheld before anything is written.
    #[test]
    fn a_set_that_reads_back_differently_is_withheld() {
        let dir = tempfile::tempdir().unwrap();
        let app = dir.path().join("shop");
        std::fs::create_dir_all(app.join("migrations")).unwrap();
        std::fs::write(app.join("__init__.py"), "").unwrap();
        std::fs::write(app.join("migrations/__init__.py"), "").unwrap();
        std::fs::write(
            app.join("migrations/0001_initial.py"),
            "from django.db import migrations\n\n\nclass Migration(migrations.Migration):\n    initial = True\n    dependencies = []\n    operations = []\n",
        )
        .unwrap();
        std::fs::write(
            app.join("models.py"),
            "from django.db import models\n\n\nclass A(models.Model):\n    name = models.CharField(max_length=9)\n\n\nclass B(models.Model):\n    a = models.ForeignKey(A, on_delete=models.CASCADE, db_index=False)\n",
        )
        .unwrap();
        let analysis = crate::analyze(
            &[dir.path().to_path_buf()],
            &crate::config::Config::default(),
        );
        let planned = plan(&analysis);
        assert_eq!(planned.sets.len(), 1);
        assert!(verify(&analysis, planned.clone()).withheld.is_empty());

        // The model edit is lost: read again, `shop_b` has no new index.
        let mut tampered = planned;
        for change in &mut tampered.sets[0].changes {
            if let Some(before) = &change.before {
                change.after = before.clone();
            }
        }
        let verified = verify(&analysis, tampered);
        assert!(verified.sets.is_empty());
        let reason = &verified.withheld[0].reason;
        assert!(reason.contains("read again, `shop_b`"), "{reason}");
    }

    #[test]
    fn a_set_is_written_whole_or_not_at_all() {
        let dir = tempfile::tempdir().unwrap();
        let models = dir.path().join("models.py");
        std::fs::write(&models, "old\n").unwrap();
        let migration = dir.path().join("0002_new.py");

        // Staging fails (the folder does not exist): nothing is written.
        let set = PlannedSet {
            unit: "app `shop`".into(),
            changes: vec![
                change(&models, Some("old\n"), "new\n"),
                change(&dir.path().join("missing/0002.py"), None, "x\n"),
            ],
        };
        let err = apply(&FixPlan {
            sets: vec![set],
            withheld: Vec::new(),
        })
        .errors;
        assert!(
            err[0]
                .to_string()
                .contains("nothing of app `shop` was written")
        );
        assert_eq!(std::fs::read_to_string(&models).unwrap(), "old\n");

        // Putting in place fails on the last file (a folder stands where the
        // file should go): the files already in place are restored.
        let blocked = dir.path().join("blocked.py");
        std::fs::create_dir_all(blocked.join("inside")).unwrap();
        let set = PlannedSet {
            unit: "app `shop`".into(),
            changes: vec![
                change(&migration, None, "migration\n"),
                change(&models, Some("old\n"), "new\n"),
                change(&blocked, None, "x\n"),
            ],
        };
        assert!(
            !apply(&FixPlan {
                sets: vec![set],
                withheld: Vec::new(),
            })
            .errors
            .is_empty()
        );
        assert_eq!(std::fs::read_to_string(&models).unwrap(), "old\n");
        assert!(!migration.exists());
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(".ixray-"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");

        // A good set is written.
        let set = PlannedSet {
            unit: "app `shop`".into(),
            changes: vec![
                change(&migration, None, "migration\n"),
                change(&models, Some("old\n"), "new\n"),
            ],
        };
        let applied = apply(&FixPlan {
            sets: vec![set],
            withheld: Vec::new(),
        });
        assert!(applied.errors.is_empty());
        assert_eq!(applied.written[0].1.len(), 2);

        // One set fails, the other is written, and both are reported.
        let other = dir.path().join("other.py");
        let sets = vec![
            PlannedSet {
                unit: "app `library`".into(),
                changes: vec![change(&other, None, "x\n")],
            },
            PlannedSet {
                unit: "app `shop`".into(),
                changes: vec![change(&dir.path().join("missing/0003.py"), None, "x\n")],
            },
        ];
        let applied = apply(&FixPlan {
            sets,
            withheld: Vec::new(),
        });
        assert_eq!(
            applied.written,
            vec![("app `library`".to_string(), vec![other.clone()])]
        );
        assert_eq!(applied.errors.len(), 1);
        assert!(other.exists());
        assert_eq!(std::fs::read_to_string(&models).unwrap(), "new\n");
    }
}
