//! ixray reads ORM model source code and finds the database indexes a
//! project is missing, and the ones it does not need.
//!
//! The library API is [`analyze`]: paths in, an [`Analysis`] out (schema,
//! findings, input problems). Nothing here prints.

pub mod baseline;
pub mod config;
pub mod discover;
pub mod explain;
pub mod fix;
pub mod frameworks;
pub mod lsp;
pub mod report;
pub mod rules;
pub mod schema;
pub mod source;
pub mod suppress;
pub mod vcs;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::Config;
use crate::frameworks::alembic::{self, revisions::RevisionFile};
use crate::frameworks::django;
use crate::frameworks::drizzle::{
    self, config::DrizzleConfig, kit::KitFolder, schema::DrizzleFile,
};
use crate::frameworks::markers::MarkedBytes;
use crate::frameworks::python;
use crate::frameworks::python_statements;
use crate::frameworks::sqlalchemy::{self, models::ModelsFile};
use crate::frameworks::typescript;
use crate::rules::Finding;
use crate::schema::Schema;
use crate::source::Overlay;
use crate::source::SourceFile;

/// Files larger than this are not read (minified bundles, data dumps).
pub const MAX_FILE_BYTES: u64 = 8 * 1024 * 1024;

/// A file or path that could not be used, with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    pub path: PathBuf,
    /// 1-based line and column, when the problem has a place in the file.
    pub position: Option<(usize, usize)>,
    pub message: String,
}

impl InputError {
    pub fn new(path: &Path, message: impl Into<String>) -> Self {
        InputError {
            path: path.to_path_buf(),
            position: None,
            message: message.into(),
        }
    }
}

/// The result of analyzing a checkout.
#[derive(Debug, Default)]
pub struct Analysis {
    pub schema: Schema,
    pub findings: Vec<Finding>,
    pub errors: Vec<InputError>,
    pub django: django::project::DjangoProject,
    pub sqlalchemy: sqlalchemy::project::SqlalchemyProject,
    pub drizzle: drizzle::project::DrizzleProject,
    /// Every parsed file, by path, for snippets and suppression comments.
    pub sources: BTreeMap<PathBuf, Arc<SourceFile>>,
    /// The projects read (each path's project, see `project_roots`), as
    /// canonical paths: `fix` writes nothing outside them.
    pub roots: Vec<PathBuf>,
    /// The paths ixray was pointed at: only findings there are reported
    /// and fixed.
    pub scope: Scope,
    /// The paths as given.
    pub paths: Vec<PathBuf>,
    /// The rule selection the analysis ran with.
    pub config: Config,
    /// How many files were read, and how many of them were parsed.
    pub files_read: usize,
    pub files_parsed: usize,
    /// Wall time of each phase, for `IXRAY_TIMINGS=1`.
    pub timings: Vec<(&'static str, std::time::Duration)>,
}

#[derive(Clone)]
pub enum FileOutcome {
    Skipped,
    Facts(Box<FileFacts>),
    Error(InputError),
}

/// What one file contributes, per framework.
#[derive(Default, Clone)]
pub struct FileFacts {
    django: django::FileFacts,
    sqlalchemy: Option<ModelsFile>,
    /// SQLAlchemy query code (read statement by statement).
    sqlalchemy_queries: Option<sqlalchemy::queries::QueryFile>,
    revision: Option<RevisionFile>,
    alembic_ini: Option<alembic::IniFacts>,
    drizzle: Option<DrizzleFile>,
    /// A script's imports and column helpers (also a script with no table).
    drizzle_types: Option<drizzle::types::ScriptTypes>,
    drizzle_config: Option<DrizzleConfig>,
    /// The Drizzle queries of a script.
    drizzle_queries: Option<drizzle::queries::QueryFile>,
    kit: Option<KitFolder>,
    /// Problems found while reading, when the file still gave facts.
    errors: Vec<InputError>,
}

fn too_big(path: &Path, len: u64) -> InputError {
    InputError::new(
        path,
        format!("skipped: file is {len} bytes, more than the {MAX_FILE_BYTES} byte limit"),
    )
}

/// A file's bytes, unless it is larger than [`MAX_FILE_BYTES`]. Its size
/// comes from the open file: one `stat` per file, not two.
fn read_bytes(path: &Path) -> Result<Vec<u8>, InputError> {
    use std::io::Read as _;
    let cannot_read =
        |err: std::io::Error| InputError::new(path, format!("cannot read file: {err}"));
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        // A file too big to read is reported so even when it cannot be
        // opened.
        Err(err) => {
            return Err(match std::fs::metadata(path) {
                Ok(meta) if meta.len() > MAX_FILE_BYTES => too_big(path, meta.len()),
                _ => cannot_read(err),
            });
        }
    };
    let len = file.metadata().map_err(cannot_read)?.len();
    if len > MAX_FILE_BYTES {
        return Err(too_big(path, len));
    }
    let mut bytes = Vec::with_capacity(len as usize);
    // Through `take`, which reads into the capacity given: `File`'s own
    // `read_to_end` asks for the size again. A file that grows meanwhile
    // still ends up over the limit, and the caller reports it.
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(cannot_read)?;
    Ok(bytes)
}

/// Read one file, prefilter its bytes, and parse only when a framework
/// wants it.
fn read_file(path: &Path, overlay: &Overlay, read_queries: bool) -> FileOutcome {
    let bytes = match overlay.get(path) {
        Some(text) => text.as_bytes().to_vec(),
        None => match read_bytes(path) {
            Ok(bytes) => bytes,
            Err(error) => return FileOutcome::Error(error),
        },
    };
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return FileOutcome::Error(too_big(path, bytes.len() as u64));
    }
    if path.file_name().is_some_and(|n| n == "alembic.ini") {
        let text = String::from_utf8_lossy(&bytes);
        return FileOutcome::Facts(Box::new(FileFacts {
            alembic_ini: Some(alembic::read_ini(path, &text)),
            ..FileFacts::default()
        }));
    }
    if drizzle::config::is_config(path) {
        let text = String::from_utf8_lossy(&bytes);
        return FileOutcome::Facts(Box::new(FileFacts {
            drizzle_config: Some(drizzle::config::read(path, &text)),
            ..FileFacts::default()
        }));
    }
    if drizzle::kit::is_journal(path) {
        let text = String::from_utf8_lossy(&bytes);
        let mut facts = FileFacts::default();
        facts.kit = drizzle::kit::read(path, &text, overlay, &mut facts.errors);
        return FileOutcome::Facts(Box::new(facts));
    }
    if typescript::is_script(path) {
        return read_script(path, bytes, read_queries);
    }
    if path.extension().is_none_or(|e| e != "py") {
        return FileOutcome::Skipped;
    }
    let marked = MarkedBytes::new(&bytes);
    let mut roles = django::classify(path, &marked);
    roles.queries = read_queries
        && !django::migrations::is_migration_path(path)
        && django::queries::wanted(path, &marked);
    let revision = !roles.graph && alembic::revisions::is_revision(&marked);
    let tables = !revision && sqlalchemy::declares_tables(&marked);
    let alchemy_queries = read_queries
        && !roles.graph
        && !revision
        && sqlalchemy::queries::mentions_queries(&marked)
        && !python_statements::is_test_path(path);
    if !roles.any() && !revision && !tables && !alchemy_queries {
        return FileOutcome::Skipped;
    }
    let text = match decode(path, bytes) {
        Ok(t) => t,
        Err(err) => return FileOutcome::Error(err),
    };
    let source = SourceFile::new(path.to_path_buf(), text);
    if roles.graph {
        // A migration's place in the graph and every operation: the
        // history is replayed into the state `makemigrations` compares the
        // models with. One it cannot read leaves its app's history unknown.
        let migration = django::migrations::extract(source);
        let mut facts = FileFacts::default();
        facts.django.graph = Some(migration.graph_node());
        facts.django.migration = Some(migration);
        return FileOutcome::Facts(Box::new(facts));
    }
    // Query code is read statement by statement, never parsed whole.
    let sqlalchemy_queries = alchemy_queries
        .then(|| sqlalchemy::queries::extract(source.clone()))
        .filter(|file| !file.queries.is_empty());
    let only_queries = django::FileRoles {
        queries: roles.queries,
        ..django::FileRoles::default()
    };
    if roles == only_queries && !revision && !tables {
        let file = roles.queries.then(|| django::queries::extract(source));
        return FileOutcome::Facts(Box::new(FileFacts {
            django: django::FileFacts {
                queries: file.filter(|f| !f.queries.is_empty()),
                ..django::FileFacts::default()
            },
            sqlalchemy_queries,
            ..FileFacts::default()
        }));
    }
    // Django reads classes and module-level statements only; SQLAlchemy
    // reads `@declared_attr` methods and Alembic `upgrade()`.
    let shape = if revision || tables {
        python::Shape::Whole
    } else {
        python::Shape::Outline
    };
    let tree = overlay.parse_python(path, &source.text, shape);
    if let Some(error) = too_deep(&source, &tree) {
        return FileOutcome::Error(error);
    }
    if let Some(error) = python::first_error(&tree) {
        let location = source.location(error.span);
        return FileOutcome::Error(InputError {
            path: path.to_path_buf(),
            position: Some((location.line, location.column)),
            message: "skipped: syntax error".into(),
        });
    }
    let mut facts = FileFacts {
        sqlalchemy_queries,
        ..FileFacts::default()
    };
    if revision {
        facts.revision = Some(alembic::revisions::extract(source, &tree));
        return FileOutcome::Facts(Box::new(facts));
    }
    if roles.any() {
        facts.django = django::extract(&source, roles, &tree);
    }
    if tables {
        let file = sqlalchemy::models::extract(source, &tree);
        if !file.classes.is_empty() || !file.tables.is_empty() || !file.indexes.is_empty() {
            facts.sqlalchemy = Some(file);
        }
    }
    FileOutcome::Facts(Box::new(facts))
}

/// The file's text, or why it cannot be read as UTF-8.
fn decode(path: &Path, bytes: Vec<u8>) -> Result<String, InputError> {
    String::from_utf8(bytes).map_err(|err| {
        InputError::new(
            path,
            format!(
                "skipped: not valid UTF-8 (invalid byte at offset {})",
                err.utf8_error().valid_up_to()
            ),
        )
    })
}

/// A TypeScript/JavaScript file: parsed only when it mentions drizzle or
/// may hold a query (outside tests). Problems with a file are reported only
/// when it mentions drizzle: query code that does not parse is the
/// project's business, not an input ixray needed.
fn read_script(path: &Path, bytes: Vec<u8>, read_queries: bool) -> FileOutcome {
    let marked = MarkedBytes::new(&bytes);
    let declares_maybe = drizzle::mentions_drizzle(&marked);
    let queries_maybe = read_queries
        && !drizzle::queries::is_test_path(path)
        && drizzle::queries::mentions_queries(&marked);
    if !declares_maybe && !queries_maybe {
        return FileOutcome::Skipped;
    }
    let quiet = |error: InputError| {
        if declares_maybe {
            FileOutcome::Error(error)
        } else {
            FileOutcome::Skipped
        }
    };
    let text = match decode(path, bytes) {
        Ok(t) => t,
        Err(err) => return quiet(err),
    };
    // A bundle (`dist/schema.js`, `*.min.js`) repeats the real schema's
    // tables; reading it would report them twice.
    if let Some(longest) = text.lines().map(str::len).max()
        && longest > MINIFIED_LINE_BYTES
    {
        return quiet(InputError::new(
            path,
            format!("skipped: looks minified or generated (a line of {longest} bytes)"),
        ));
    }
    let source = SourceFile::new(path.to_path_buf(), text);
    let read = typescript::parse(path, &source.text, |parsed| {
        // What oxc recovered from an error is still read; when it gave up,
        // the program is empty and the file is skipped.
        let file =
            (!parsed.panicked).then(|| drizzle::schema::extract(source.clone(), &parsed.program));
        let queries = file
            .as_ref()
            .filter(|_| queries_maybe)
            .map(|file| {
                drizzle::queries::extract(source.clone(), file.imports.clone(), &parsed.program)
            })
            .filter(|q| !q.queries.is_empty());
        let error = parsed.error.as_ref().map(|error| {
            let location = source.location(error.span);
            let message = if parsed.panicked {
                format!("skipped: syntax error ({})", error.message)
            } else {
                format!(
                    "syntax error ({}); read as far as the parser recovered",
                    error.message
                )
            };
            InputError {
                path: path.to_path_buf(),
                position: Some((location.line, location.column)),
                message,
            }
        });
        (file, queries, error)
    });
    let (file, queries, error) = match read {
        Ok(read) => read,
        Err(deep) => {
            let at = source::Span::new(deep.offset, deep.offset);
            return quiet(nested_too_deep(&source, at, typescript::MAX_NESTING));
        }
    };
    let declares = declares_maybe
        && file.as_ref().is_some_and(|file| {
            !file.tables.is_empty()
                || !file.relations.is_empty()
                || !file.column_sets.is_empty()
                || !file.creators.is_empty()
                || file.casing.is_some()
        });
    // Column helpers (`const id = () => varchar(...)`) type the columns
    // of other files, so a file with only helpers is kept.
    let types = if declares_maybe {
        drizzle::types::scan(path, &source.text)
    } else {
        drizzle::types::ScriptTypes::default()
    };
    let helpers = types.has_helpers();
    match (file, error) {
        (Some(file), error) if declares || helpers || queries.is_some() => {
            FileOutcome::Facts(Box::new(FileFacts {
                drizzle: declares.then_some(file),
                drizzle_types: (declares || helpers).then_some(types),
                drizzle_queries: queries,
                errors: error.filter(|_| declares_maybe).into_iter().collect(),
                ..FileFacts::default()
            }))
        }
        (_, Some(error)) => quiet(error),
        (_, None) => FileOutcome::Skipped,
    }
}

/// A Python file nested deeper than the walkers may go, as an input
/// problem.
fn too_deep(source: &SourceFile, tree: &tree_sitter::Tree) -> Option<InputError> {
    let span = frameworks::syntax::too_deep(tree)?;
    Some(nested_too_deep(source, span, frameworks::syntax::MAX_DEPTH))
}

fn nested_too_deep(source: &SourceFile, at: source::Span, limit: usize) -> InputError {
    let location = source.location(at);
    InputError {
        path: source.path.clone(),
        position: Some((location.line, location.column)),
        message: format!("skipped: nested more than {limit} levels deep"),
    }
}

/// Lines longer than this mean a minified bundle, not hand-written schema.
const MINIFIED_LINE_BYTES: usize = 20_000;

/// Analyze the given paths: discover, extract, resolve, run the rules.
pub fn analyze(paths: &[PathBuf], config: &Config) -> Analysis {
    analyze_with(paths, config, &Overlay::default())
}

/// `analyze`, with the overlay's contents in place of the disk's (and its
/// new files present).
pub fn analyze_with(paths: &[PathBuf], config: &Config, overlay: &Overlay) -> Analysis {
    let clock = std::time::Instant::now();
    let read = read_projects(paths, config, overlay);
    let took = clock.elapsed();
    let mut analysis = analyze_read(paths, config, read.files, read.errors);
    analysis
        .timings
        .insert(0, ("walk, read, prefilter, parse, extract", took));
    analysis
}

/// Every file of the projects of `paths`, read, prefiltered, parsed and
/// extracted; what `analyze_read` works from. An editor keeps them and
/// reads again only the files that change.
pub struct ReadProjects {
    pub files: Vec<(PathBuf, FileOutcome)>,
    pub errors: Vec<InputError>,
}

/// Walk and read the projects of `paths` (see `analyze`).
pub fn read_projects(paths: &[PathBuf], config: &Config, overlay: &Overlay) -> ReadProjects {
    // The whole project of each path is read (a model's foreign key target,
    // the settings, the migration history live elsewhere in it); what is
    // reported is what lies under the paths given.
    let project_paths = project_roots(paths);
    let exclusions = config.clone();
    let (mut files, errors) = discover::walk(
        &project_paths,
        move |p| exclusions.excluded(p),
        |p| read_file(p, overlay, config.reads_queries()),
    );
    // Files the overlay creates are not on disk for the walk to find.
    let mut created = false;
    for path in overlay.paths() {
        if !path.exists() && !files.iter().any(|(p, _)| p == path) {
            files.push((
                path.clone(),
                read_file(path, overlay, config.reads_queries()),
            ));
            created = true;
        }
    }
    if created {
        discover::sort_by_path(&mut files);
    }
    ReadProjects { files, errors }
}

/// Read one file as `read_projects` does (an editor's changed buffer).
pub fn read_one(path: &Path, config: &Config, overlay: &Overlay) -> FileOutcome {
    read_file(path, overlay, config.reads_queries())
}

/// Resolve the files read and run the rules (see `analyze`). `files` are
/// sorted by path.
pub fn analyze_read(
    paths: &[PathBuf],
    config: &Config,
    files: Vec<(PathBuf, FileOutcome)>,
    mut errors: Vec<InputError>,
) -> Analysis {
    let mut clock = std::time::Instant::now();
    let mut timings = Vec::new();
    let mut lap = |name: &'static str| {
        timings.push((name, clock.elapsed()));
        clock = std::time::Instant::now();
    };
    let scope = Scope::new(paths);
    let project_paths = project_roots(paths);
    let files_read = files.len();
    let mut inputs = django::project::Inputs {
        models: Vec::new(),
        migrations: Vec::new(),
        graph: Vec::new(),
        settings: Vec::new(),
        apps: Vec::new(),
        dialect: config.dialect,
    };
    let mut alchemy = sqlalchemy::project::Inputs {
        models: Vec::new(),
        revisions: Vec::new(),
        inis: Vec::new(),
        dialect: config.dialect,
    };
    let mut drizzle_inputs = drizzle::project::Inputs::default();
    let mut query_files = Vec::new();
    let mut drizzle_queries = Vec::new();
    let mut alchemy_query_files = Vec::new();
    let mut files_parsed = 0;
    // Collected in the walk's order (sorted by path) and built into a map
    // at once: inserting one by one compares whole paths component by
    // component, about a tenth of the sequential tail on a large tree.
    let mut sources = Vec::new();
    for (_, outcome) in files {
        match outcome {
            FileOutcome::Skipped => {}
            FileOutcome::Error(err) => errors.push(err),
            FileOutcome::Facts(facts) => {
                let facts = *facts;
                if facts.alembic_ini.is_none()
                    && facts.drizzle_config.is_none()
                    && facts.kit.is_none()
                {
                    files_parsed += 1;
                }
                for source in facts.django.sources() {
                    sources.push((source.path.clone(), source));
                }
                if let Some(file) = &facts.sqlalchemy {
                    sources.push((file.source.path.clone(), file.source.clone()));
                }
                if let Some(file) = &facts.sqlalchemy_queries {
                    sources.push((file.source.path.clone(), file.source.clone()));
                }
                if let Some(file) = &facts.revision {
                    sources.push((file.source.path.clone(), file.source.clone()));
                }
                if let Some(file) = &facts.drizzle {
                    sources.push((file.source.path.clone(), file.source.clone()));
                }
                if let Some(file) = &facts.drizzle_queries {
                    sources.push((file.source.path.clone(), file.source.clone()));
                }
                drizzle_queries.extend(facts.drizzle_queries);
                if let Some(kit) = &facts.kit {
                    sources.push((kit.journal.path.clone(), kit.journal.clone()));
                }
                errors.extend(facts.errors);
                drizzle_inputs.files.extend(facts.drizzle);
                drizzle_inputs.types.extend(facts.drizzle_types);
                drizzle_inputs.configs.extend(facts.drizzle_config);
                drizzle_inputs.kits.extend(facts.kit);
                let django = facts.django;
                inputs.models.extend(django.models);
                inputs.migrations.extend(django.migration);
                inputs.graph.extend(django.graph);
                inputs.settings.extend(django.settings);
                inputs.apps.extend(django.apps);
                query_files.extend(django.queries);
                alchemy.models.extend(facts.sqlalchemy);
                alchemy_query_files.extend(facts.sqlalchemy_queries);
                alchemy.revisions.extend(facts.revision);
                alchemy.inis.extend(facts.alembic_ini);
            }
        }
    }
    let sources: BTreeMap<PathBuf, Arc<SourceFile>> = sources.into_iter().collect();
    lap("merge");
    // What git has not merged decides which migrations rules about how
    // they are written speak about; git runs while the projects resolve.
    let unmerged = (!config.all_migrations
        && config.unmerged.is_none()
        && (!inputs.migrations.is_empty() || !alchemy.revisions.is_empty()))
    .then(|| {
        let paths = paths.to_vec();
        // Only migration folders matter: git then stats only their files.
        let mut folders: Vec<PathBuf> = inputs
            .migrations
            .iter()
            .map(|m| &m.source.path)
            .chain(alchemy.revisions.iter().map(|r| &r.source.path))
            .map(|p| folder_of(p).to_path_buf())
            .collect();
        folders.sort_unstable();
        folders.dedup();
        std::thread::spawn(move || {
            paths
                .iter()
                .filter_map(|p| vcs::unmerged(p, Some(&folders)))
                .collect::<Vec<_>>()
        })
    });
    let mut project = django::project::resolve(inputs, &mut errors);
    let mut alchemy = sqlalchemy::project::resolve(alchemy, &mut errors);
    project.plain_indexes = !config.concurrent_indexes;
    for environment in &mut alchemy.environments {
        environment.concurrent_indexes = config.concurrent_indexes;
    }
    let mut drizzle = drizzle::project::resolve(drizzle_inputs, &mut errors);
    lap("resolve");
    let mut access_patterns = django::queries::resolve(&project, &project.tables, &query_files);
    access_patterns.extend(sqlalchemy::queries::resolve(&alchemy, &alchemy_query_files));
    drizzle_queries.sort_by(|a, b| a.source.path.cmp(&b.source.path));
    access_patterns.extend(drizzle::queries::resolve(&drizzle, &drizzle_queries));
    lap("access patterns");
    let mut schema = Schema {
        access_patterns,
        tables: std::mem::take(&mut project.tables),
        index_builds: project
            .histories
            .iter()
            .flat_map(|h| h.builds.iter().cloned())
            .chain(
                alchemy
                    .environments
                    .iter()
                    .flat_map(|e| e.builds.iter().cloned()),
            )
            .collect(),
    };
    let unmerged = match (unmerged, &config.unmerged) {
        (Some(thread), _) => thread.join().unwrap_or_default(),
        (None, Some(known)) => known.as_ref().clone(),
        (None, None) => Vec::new(),
    };
    lap("git (unmerged migrations)");
    mark_pending_builds(&mut schema.index_builds, paths, config, &unmerged);
    schema.tables.append(&mut alchemy.tables);
    schema.tables.append(&mut drizzle.tables);
    schema::type_foreign_key_columns(&mut schema);
    schema::add_database_implicit_indexes(&mut schema);
    let mut findings = rules::run(&schema, config);
    lap("rules");
    let unused_ignores = suppress::apply(&mut findings, &sources, config, |path| {
        frameworks_of_file(&schema, path)
    });
    findings.extend(unused_ignores);
    rules::fold_proposals(&mut findings, |f| scope.holds_finding(f));
    django::emit::describe_fixes(&project, &schema.tables, &mut findings);
    sqlalchemy::emit::describe_fixes(&alchemy, &mut findings);
    drizzle::emit::describe_fixes(&drizzle, &mut findings);
    frameworks::unique_index_names(&schema, &mut findings);
    lap("suppress, describe fixes");
    findings.retain(|f| scope.holds_finding(f));
    errors.retain(|e| scope.holds(&e.path));
    errors.sort_by(|a, b| (&a.path, a.position).cmp(&(&b.path, b.position)));
    let roots = project_paths
        .iter()
        .filter_map(|p| {
            let dir = if p.is_dir() { p.as_path() } else { p.parent()? };
            let dir = if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            };
            std::fs::canonicalize(dir).ok()
        })
        .collect();
    Analysis {
        paths: paths.to_vec(),
        roots,
        scope,
        config: config.clone(),
        schema,
        findings,
        errors,
        django: project,
        sqlalchemy: alchemy,
        drizzle,
        sources,
        files_read,
        files_parsed,
        timings,
    }
}

/// The folders to read for `paths`: for each, the nearest folder at or
/// above it that holds a project marker (so `ixray check orders/models.py`
/// still sees the settings, the other apps and the history), else the path
/// itself. Written relative to the current folder when they can be, so
/// reports show short paths; a folder inside another one is dropped.
pub fn project_roots(paths: &[PathBuf]) -> Vec<PathBuf> {
    let cwd = std::env::current_dir()
        .ok()
        .and_then(|c| std::fs::canonicalize(c).ok());
    let mut roots: Vec<(PathBuf, PathBuf)> = Vec::new();
    for path in paths {
        let Ok(canonical) = std::fs::canonicalize(path) else {
            // Reported by the walk.
            roots.push((path.clone(), path.clone()));
            continue;
        };
        let start = if canonical.is_dir() {
            canonical.as_path()
        } else {
            canonical.parent().unwrap_or(&canonical)
        };
        let found = start
            .ancestors()
            .find(|dir| frameworks::is_project_root(dir));
        let (root, shown) = match found {
            Some(root) => (root.to_path_buf(), relative_to(root, cwd.as_deref())),
            None if canonical.is_dir() => (canonical.clone(), path.clone()),
            None => (start.to_path_buf(), relative_to(start, cwd.as_deref())),
        };
        roots.push((root, shown));
    }
    roots.sort();
    roots.dedup_by(|later, earlier| later.0.starts_with(&earlier.0));
    roots.into_iter().map(|(_, shown)| shown).collect()
}

/// `path` (canonical) as seen from `cwd`: `.`, `app`, `../..`, or itself.
fn relative_to(path: &Path, cwd: Option<&Path>) -> PathBuf {
    let Some(cwd) = cwd else {
        return path.to_path_buf();
    };
    if let Ok(rest) = path.strip_prefix(cwd) {
        return if rest.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            rest.to_path_buf()
        };
    }
    if let Ok(rest) = cwd.strip_prefix(path) {
        return rest.components().map(|_| "..").collect();
    }
    path.to_path_buf()
}

/// The paths ixray was pointed at, as canonical paths.
#[derive(Debug, Default, Clone)]
pub struct Scope {
    paths: Vec<PathBuf>,
    /// A path that could not be resolved: everything is in scope (the
    /// walk reports the path).
    everything: bool,
    /// Folders already resolved: most findings share a few.
    folders: Arc<std::sync::Mutex<ResolvedFolders>>,
}

impl Scope {
    fn new(paths: &[PathBuf]) -> Scope {
        let mut scope = Scope::default();
        for path in paths {
            match std::fs::canonicalize(path) {
                Ok(p) => scope.paths.push(p),
                Err(_) => scope.everything = true,
            }
        }
        scope
    }

    /// Whether `path` lies under one of the paths, once resolved. A file
    /// that is not a symbolic link resolves to its resolved folder and its
    /// name (the folder is looked up once: `canonicalize` asks the file
    /// system about every component); a path that does not exist is
    /// outside.
    pub fn holds(&self, path: &Path) -> bool {
        if self.everything {
            return true;
        }
        let resolved = match std::fs::symlink_metadata(path) {
            Ok(meta) if !meta.file_type().is_symlink() => {
                let resolved = self
                    .folders
                    .lock()
                    .expect("no panics while locked")
                    .file(path);
                resolved.or_else(|| std::fs::canonicalize(path).ok())
            }
            Ok(_) => std::fs::canonicalize(path).ok(),
            Err(_) => None,
        };
        resolved.is_some_and(|p| self.paths.iter().any(|s| p.starts_with(s)))
    }

    /// A finding is where it is located (without a place, it is kept).
    pub fn holds_finding(&self, finding: &Finding) -> bool {
        finding
            .location
            .as_ref()
            .is_none_or(|l| self.holds(&l.path))
    }
}

/// The folder a file is in: `.` for a bare file name.
fn folder_of(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Files named in their resolved folders, each folder resolved once
/// (`canonicalize` asks the file system about every component, and most
/// files share a few folders).
#[derive(Debug, Default)]
struct ResolvedFolders(rustc_hash::FxHashMap<PathBuf, Option<PathBuf>>);

impl ResolvedFolders {
    /// `path`'s resolved folder joined with its file name; `None` when the
    /// folder does not resolve.
    fn file(&mut self, path: &Path) -> Option<PathBuf> {
        let folder = folder_of(path);
        let resolved = self
            .0
            .entry(folder.to_path_buf())
            .or_insert_with(|| std::fs::canonicalize(folder).ok());
        Some(resolved.as_ref()?.join(path.file_name()?))
    }
}

/// Decide which index builds are in migrations not merged yet. In a git
/// checkout: files changed since the merge-base with the default branch
/// (uncommitted and untracked ones included). Elsewhere: the newest
/// revision of each environment. A migration file named on the command line
/// always counts, and `all_migrations` makes every build count.
fn mark_pending_builds(
    builds: &mut [schema::IndexBuild],
    paths: &[PathBuf],
    config: &Config,
    unmerged: &[vcs::Unmerged],
) {
    if config.all_migrations || builds.is_empty() {
        return;
    }
    // A file is named in its resolved folder, as git names it.
    let mut folders = ResolvedFolders::default();
    let named: Vec<PathBuf> = paths
        .iter()
        .filter(|p| p.is_file())
        .filter_map(|p| folders.file(p))
        .collect();
    // Many builds share a migration file: each file is looked up once.
    let mut by_file: rustc_hash::FxHashMap<PathBuf, (bool, bool)> = Default::default();
    for build in builds.iter_mut() {
        let Some(path) = build.location.as_ref().map(|l| l.path.as_path()) else {
            continue;
        };
        let (named_here, unmerged_here) = *by_file.entry(path.to_path_buf()).or_insert_with(|| {
            let Some(canonical) = folders.file(path) else {
                return (false, false);
            };
            (
                named.contains(&canonical),
                unmerged.iter().any(|u| u.contains(&canonical)),
            )
        });
        build.pending = named_here
            || if unmerged.is_empty() {
                build.newest
            } else {
                unmerged_here
            };
    }
}

/// The framework a file's ignore comment speaks for: the framework of a
/// table declared in it, else the language's (TypeScript and JavaScript
/// are Drizzle's; Python is SQLAlchemy's when the project maps only
/// SQLAlchemy tables).
fn frameworks_of_file(schema: &Schema, path: &Path) -> schema::Framework {
    use schema::Framework;
    if let Some(table) = schema
        .tables
        .iter()
        .find(|t| t.location.as_ref().is_some_and(|l| l.path == path))
    {
        return table.framework;
    }
    let python = path.extension().is_some_and(|e| e == "py");
    if !python {
        return Framework::Drizzle;
    }
    let only_sqlalchemy = !schema.tables.is_empty()
        && schema
            .tables
            .iter()
            .all(|t| t.framework == Framework::Sqlalchemy);
    if only_sqlalchemy {
        Framework::Sqlalchemy
    } else {
        Framework::Django
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A path is in scope where it resolves to: a file by its resolved
    /// folder, a symbolic link by its target; a missing one is not.
    #[test]
    fn scope_holds_what_resolves_under_its_paths() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("proj/app")).unwrap();
        std::fs::create_dir_all(root.join("other")).unwrap();
        std::fs::write(root.join("proj/app/models.py"), "").unwrap();
        std::fs::write(root.join("other/models.py"), "").unwrap();
        std::os::unix::fs::symlink(root.join("other/models.py"), root.join("proj/app/link.py"))
            .unwrap();
        std::os::unix::fs::symlink(root.join("other"), root.join("proj/linked")).unwrap();
        let scope = Scope::new(&[root.join("proj")]);
        assert!(scope.holds(&root.join("proj/app/models.py")));
        assert!(scope.holds(&root.join("proj/app")));
        assert!(!scope.holds(&root.join("proj/app/missing.py")));
        assert!(!scope.holds(&root.join("other/models.py")));
        assert!(!scope.holds(&root.join("proj/app/link.py")));
        assert!(!scope.holds(&root.join("proj/linked/models.py")));
        assert!(scope.holds(&root.join("proj/app/../app/models.py")));
    }

    /// Every fixture file of the repository, by extension.
    fn fixture_files(extensions: &[&str]) -> Vec<PathBuf> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut out = Vec::new();
        let mut stack = vec![root.join("fixtures"), root.join("tests/precision")];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    if path.file_name().is_some_and(|n| n != "node_modules") {
                        stack.push(path);
                    }
                } else if path
                    .extension()
                    .and_then(|e| e.to_str())
                    .is_some_and(|e| extensions.contains(&e))
                {
                    out.push(path);
                }
            }
        }
        out.sort();
        out
    }

    /// The byte prefilters never drop a file the extractors would read a
    /// model or a table from: each fixture file is extracted without them,
    /// and whatever declares something must pass its prefilter.
    #[test]
    fn every_fixture_file_with_a_model_or_table_passes_its_prefilter() {
        let mut checked = (0, 0, 0);
        for path in fixture_files(&["py"]) {
            let bytes = std::fs::read(&path).unwrap();
            let marked = MarkedBytes::new(&bytes);
            if django::migrations::is_migration_path(&path)
                || alembic::revisions::is_revision(&marked)
            {
                continue;
            }
            let source = SourceFile::new(path.clone(), String::from_utf8(bytes.clone()).unwrap());
            let tree = python::parse_file(&source.text);
            let roles = django::FileRoles {
                models: true,
                ..django::FileRoles::default()
            };
            let django = django::extract(&source, roles, &tree);
            let django_fields = django
                .models
                .as_ref()
                .is_some_and(|m| m.classes.iter().any(|c| !c.fields.is_empty()));
            if django_fields {
                checked.0 += 1;
                assert!(
                    django::classify(&path, &marked).models,
                    "{}: declares Django fields but fails the Django prefilter",
                    path.display()
                );
            }
            let alchemy = sqlalchemy::models::extract(source, &tree);
            if !alchemy.tables.is_empty() || alchemy.classes.iter().any(|c| c.tablename.is_some()) {
                checked.1 += 1;
                assert!(
                    sqlalchemy::declares_tables(&marked),
                    "{}: declares SQLAlchemy tables but fails the SQLAlchemy prefilter",
                    path.display()
                );
            }
        }
        for path in fixture_files(&["ts", "js", "mts", "mjs"]) {
            let text = std::fs::read_to_string(&path).unwrap();
            let source = SourceFile::new(path.clone(), text);
            let file = typescript::parse(&path, &source.text, |parsed| {
                drizzle::schema::extract(source.clone(), &parsed.program)
            })
            .unwrap();
            if !file.tables.is_empty() {
                checked.2 += 1;
                assert!(
                    drizzle::mentions_drizzle(&MarkedBytes::new(source.text.as_bytes())),
                    "{}: declares Drizzle tables but fails the Drizzle prefilter",
                    path.display()
                );
            }
        }
        assert!(
            checked.0 > 10 && checked.1 > 10 && checked.2 > 3,
            "the fixtures hold models of every framework: {checked:?}"
        );
    }
}
