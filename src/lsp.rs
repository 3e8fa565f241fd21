//! `ixray lsp`: a language server over stdio. It keeps every file of the
//! workspace read (as `check` reads them) and, when the editor opens,
//! changes or saves a file, reads again only that file from the editor's
//! buffer, resolves the project and runs the rules, then publishes the
//! diagnostics of every file whose findings changed (an edit in one models
//! file can add or clear a finding in another). Code actions apply a
//! finding's fix (the model edit, and the new migration file when the
//! client can create files) or add an ignore comment. Positions are UTF-16
//! unless the client offers UTF-8. Knows nothing about what a finding
//! means: the library decides, this module translates.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use lsp_server::{Connection, ExtractError, Message, Notification, Request, RequestId, Response};
use lsp_types::notification::{
    DidChangeTextDocument, DidChangeWatchedFiles, DidCloseTextDocument, DidOpenTextDocument,
    DidSaveTextDocument, Notification as _, PublishDiagnostics,
};
use lsp_types::request::CodeActionRequest;
use lsp_types::{
    CodeAction, CodeActionKind, CodeActionOrCommand, CodeActionParams,
    CodeActionProviderCapability, CodeDescription, CreateFile, CreateFileOptions, Diagnostic,
    DiagnosticRelatedInformation, DiagnosticSeverity, DocumentChangeOperation, DocumentChanges,
    InitializeParams, NumberOrString, OneOf, OptionalVersionedTextDocumentIdentifier, Position,
    PositionEncodingKind, PublishDiagnosticsParams, Range, ResourceOp, ResourceOperationKind,
    SaveOptions, ServerCapabilities, TextDocumentEdit, TextDocumentSyncCapability,
    TextDocumentSyncKind, TextDocumentSyncOptions, TextDocumentSyncSaveOptions, TextEdit, Uri,
    WorkspaceEdit,
};

use crate::config::Config;
use crate::fix::{self, FixPlan};
use crate::rules::{Finding, Severity};
use crate::source::{Location, Overlay, SourceFile};
use crate::{Analysis, FileOutcome, InputError};

type Error = Box<dyn std::error::Error + Send + Sync>;

/// How the client counts columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Utf8,
    Utf16,
}

/// Serve the client on stdin/stdout until it says `exit`.
pub fn run() -> Result<(), Error> {
    let (connection, threads) = Connection::stdio();
    serve(connection)?;
    threads.join()?;
    Ok(())
}

/// Serve one client on `connection` (the tests use an in-memory one).
pub fn serve(connection: Connection) -> Result<(), Error> {
    let (id, params) = connection.initialize_start()?;
    let params: InitializeParams = serde_json::from_value(params)?;
    let encoding = if params
        .capabilities
        .general
        .as_ref()
        .and_then(|g| g.position_encodings.as_ref())
        .is_some_and(|e| e.contains(&PositionEncodingKind::UTF8))
    {
        Encoding::Utf8
    } else {
        Encoding::Utf16
    };
    let creates_files = params
        .capabilities
        .workspace
        .as_ref()
        .and_then(|w| w.workspace_edit.as_ref())
        .is_some_and(|e| {
            e.document_changes == Some(true)
                && e.resource_operations
                    .as_ref()
                    .is_some_and(|ops| ops.contains(&ResourceOperationKind::Create))
        });
    #[allow(deprecated)]
    let root = params
        .workspace_folders
        .as_ref()
        .and_then(|folders| folders.first())
        .and_then(|f| path_of(&f.uri))
        .or_else(|| params.root_uri.as_ref().and_then(path_of))
        .or_else(|| std::env::current_dir().ok())
        .ok_or("no workspace folder")?;
    let capabilities = ServerCapabilities {
        position_encoding: Some(match encoding {
            Encoding::Utf8 => PositionEncodingKind::UTF8,
            Encoding::Utf16 => PositionEncodingKind::UTF16,
        }),
        text_document_sync: Some(TextDocumentSyncCapability::Options(
            TextDocumentSyncOptions {
                open_close: Some(true),
                change: Some(TextDocumentSyncKind::FULL),
                save: Some(TextDocumentSyncSaveOptions::SaveOptions(SaveOptions {
                    include_text: Some(false),
                })),
                ..Default::default()
            },
        )),
        code_action_provider: Some(CodeActionProviderCapability::Simple(true)),
        ..Default::default()
    };
    connection.initialize_finish(
        id,
        serde_json::json!({
            "capabilities": capabilities,
            "serverInfo": { "name": "ixray", "version": env!("CARGO_PKG_VERSION") },
        }),
    )?;
    // Files created or deleted outside the editor (`makemigrations`, a
    // checkout): the client watches them for us when it can.
    let watches = params
        .capabilities
        .workspace
        .as_ref()
        .and_then(|w| w.did_change_watched_files.as_ref())
        .and_then(|d| d.dynamic_registration)
        .unwrap_or(false);
    if watches {
        let watchers: Vec<serde_json::Value> = [
            "**/*.py",
            "**/*.{ts,tsx,mts,cts,js,mjs,cjs}",
            "**/ixray.toml",
            "**/pyproject.toml",
            "**/alembic.ini",
            "**/_journal.json",
        ]
        .iter()
        .map(|glob| serde_json::json!({ "globPattern": glob }))
        .collect();
        connection.sender.send(Message::Request(Request::new(
            RequestId::from("ixray/watch".to_string()),
            "client/registerCapability".to_string(),
            serde_json::json!({ "registrations": [{
                "id": "ixray/watch",
                "method": DidChangeWatchedFiles::METHOD,
                "registerOptions": { "watchers": watchers },
            }] }),
        )))?;
    }
    // The library writes paths below the current folder as `./app/x.py`:
    // with the workspace as the current folder every path ixray keeps has
    // that one form, and the editor's absolute paths are turned into it.
    std::env::set_current_dir(&root)?;
    let mut server = Server::new(root, encoding, creates_files);
    server.read_everything();
    server.analyze_and_publish(&connection)?;
    for message in &connection.receiver {
        match message {
            Message::Request(request) => {
                if connection.handle_shutdown(&request)? {
                    return Ok(());
                }
                server.request(&connection, request)?;
            }
            Message::Notification(notification) => {
                server.notification(&connection, notification)?;
            }
            Message::Response(_) => {}
        }
    }
    Ok(())
}

struct Server {
    root: PathBuf,
    config: Config,
    /// A configuration file that could not be read: said once, then the
    /// defaults apply.
    config_error: Option<String>,
    encoding: Encoding,
    creates_files: bool,
    /// The open files' buffers.
    buffers: BTreeMap<PathBuf, String>,
    /// Their Python trees, parsed again incrementally on each change.
    trees: crate::source::TreeCache,
    /// Every file of the workspace as last read, by path.
    files: BTreeMap<PathBuf, FileOutcome>,
    walk_errors: Vec<InputError>,
    analysis: Option<Analysis>,
    /// What each file was last sent.
    published: BTreeMap<PathBuf, Vec<Diagnostic>>,
}

impl Server {
    fn new(root: PathBuf, encoding: Encoding, creates_files: bool) -> Server {
        let mut server = Server {
            root,
            config: Config::default(),
            config_error: None,
            encoding,
            creates_files,
            buffers: BTreeMap::new(),
            trees: Default::default(),
            files: BTreeMap::new(),
            walk_errors: Vec::new(),
            analysis: None,
            published: BTreeMap::new(),
        };
        server.load_config();
        server
    }

    fn load_config(&mut self) {
        match crate::config::load(&self.root) {
            Ok(config) => {
                self.config = config;
                self.config_error = None;
            }
            Err(err) => {
                self.config = Config::default();
                self.config_error = Some(err.to_string());
            }
        }
    }

    /// An editor's absolute path in the form ixray keeps paths
    /// (`./app/models.py` below the workspace).
    fn internal(&self, path: PathBuf) -> PathBuf {
        match path.strip_prefix(&self.root) {
            Ok(rest) => Path::new(".").join(rest),
            Err(_) => path,
        }
    }

    fn uri(&self, path: &Path) -> Option<Uri> {
        let mut absolute = PathBuf::new();
        for component in self.root.join(path).components() {
            if component != std::path::Component::CurDir {
                absolute.push(component);
            }
        }
        uri_of(&absolute)
    }

    /// The path of a document the editor names, in ixray's form.
    fn document(&self, uri: &Uri) -> Option<PathBuf> {
        path_of(uri).map(|p| self.internal(p))
    }

    fn overlay(&self) -> Overlay {
        Overlay::new(self.buffers.clone()).with_tree_cache(self.trees.clone())
    }

    /// Walk and read the whole workspace (start, a saved configuration,
    /// files created or deleted).
    fn read_everything(&mut self) {
        // Which migrations are not merged yet: looked up again only here
        // (start, saves of the configuration, files created or deleted).
        self.config.unmerged = Some(std::sync::Arc::new(
            crate::vcs::unmerged(&self.root, None).into_iter().collect(),
        ));
        let read = crate::read_projects(&[PathBuf::from(".")], &self.config, &self.overlay());
        self.files = read.files.into_iter().collect();
        self.walk_errors = read.errors;
    }

    /// Read one file again, from its buffer when it is open.
    fn read_again(&mut self, path: &Path) {
        if self.config.excluded(path) || path.is_absolute() {
            return;
        }
        let outcome = crate::read_one(path, &self.config, &self.overlay());
        self.files.insert(path.to_path_buf(), outcome);
    }

    fn analyze(&mut self) {
        let clock = std::time::Instant::now();
        let files: Vec<(PathBuf, FileOutcome)> = self
            .files
            .iter()
            .map(|(path, outcome)| (path.clone(), outcome.clone()))
            .collect();
        let copied = clock.elapsed();
        let mut analysis = crate::analyze_read(
            &[PathBuf::from(".")],
            &self.config,
            files,
            self.walk_errors.clone(),
        );
        analysis.timings.insert(0, ("copy the kept facts", copied));
        let planning = std::time::Instant::now();
        // A finding is fixable when `fix` would fix it, as `check` says.
        let plan = fix::plan_checked(&analysis, fix::Reparse::No);
        let verdicts = plan.verdicts(&analysis);
        for (finding, verdict) in analysis.findings.iter_mut().zip(verdicts) {
            if verdict.is_err() {
                finding.fix = None;
            }
        }
        analysis
            .timings
            .push(("plan fixes (what is fixable)", planning.elapsed()));
        self.analysis = Some(analysis);
    }

    fn analyze_and_publish(&mut self, connection: &Connection) -> Result<(), Error> {
        self.analyze();
        let analysis = self.analysis.as_ref().expect("just analyzed");
        let mut now: BTreeMap<PathBuf, Vec<Diagnostic>> = BTreeMap::new();
        for finding in &analysis.findings {
            let Some(location) = &finding.location else {
                continue;
            };
            let diagnostic = self.diagnostic(analysis, finding, location);
            now.entry(location.path.clone())
                .or_default()
                .push(diagnostic);
        }
        for error in &analysis.errors {
            let source = analysis.sources.get(&error.path);
            let range = match (error.position, source) {
                (Some((line, column)), Some(source)) => {
                    // 1-based line and column in characters → byte offset.
                    let line = line
                        .saturating_sub(1)
                        .min(source.lines.line_of(source.text.len()));
                    let start = source.lines.line_start(line);
                    let text = source.lines.line_text(&source.text, line);
                    let within: usize = text
                        .chars()
                        .take(column.saturating_sub(1))
                        .map(char::len_utf8)
                        .sum();
                    let p = self.position(source, start + within);
                    Range::new(p, p)
                }
                (Some((line, column)), None) => {
                    let p = Position::new(
                        line.saturating_sub(1) as u32,
                        column.saturating_sub(1) as u32,
                    );
                    Range::new(p, p)
                }
                _ => Range::default(),
            };
            now.entry(error.path.clone()).or_default().push(Diagnostic {
                range,
                severity: Some(DiagnosticSeverity::ERROR),
                source: Some("ixray".into()),
                message: error.message.clone(),
                ..Default::default()
            });
        }
        if let Some(message) = &self.config_error {
            let path = PathBuf::from("./ixray.toml");
            now.entry(path).or_default().push(Diagnostic {
                severity: Some(DiagnosticSeverity::ERROR),
                source: Some("ixray".into()),
                message: format!("configuration ignored: {message}"),
                ..Default::default()
            });
        }
        // Files whose diagnostics changed, cleared ones included.
        let mut paths: Vec<PathBuf> = now.keys().cloned().collect();
        paths.extend(self.published.keys().cloned());
        paths.sort();
        paths.dedup();
        for path in paths {
            let new = now.remove(&path).unwrap_or_default();
            if self.published.get(&path) == Some(&new) {
                continue;
            }
            let Some(uri) = self.uri(&path) else { continue };
            let params = PublishDiagnosticsParams {
                uri,
                diagnostics: new.clone(),
                version: None,
            };
            connection
                .sender
                .send(Message::Notification(Notification::new(
                    PublishDiagnostics::METHOD.to_string(),
                    params,
                )))?;
            if new.is_empty() {
                self.published.remove(&path);
            } else {
                self.published.insert(path, new);
            }
        }
        Ok(())
    }

    fn position(&self, source: &SourceFile, offset: usize) -> Position {
        let offset = offset.min(source.text.len());
        let line = source.lines.line_of(offset);
        let start = source.lines.line_start(line);
        let before = &source.text[start..offset];
        let character = match self.encoding {
            Encoding::Utf8 => before.len(),
            Encoding::Utf16 => before.encode_utf16().count(),
        };
        Position::new(line as u32, character as u32)
    }

    fn range(&self, analysis: &Analysis, location: &Location) -> Range {
        match analysis.sources.get(&location.path) {
            Some(source) => Range::new(
                self.position(source, location.span.start),
                self.position(source, location.span.end),
            ),
            None => Range::new(
                Position::new(
                    location.line.saturating_sub(1) as u32,
                    location.column.saturating_sub(1) as u32,
                ),
                Position::new(
                    location.end_line.saturating_sub(1) as u32,
                    location.end_column.saturating_sub(1) as u32,
                ),
            ),
        }
    }

    fn diagnostic(
        &self,
        analysis: &Analysis,
        finding: &Finding,
        location: &Location,
    ) -> Diagnostic {
        let related: Vec<DiagnosticRelatedInformation> = finding
            .related
            .iter()
            .filter_map(|r| {
                Some(DiagnosticRelatedInformation {
                    location: lsp_types::Location {
                        uri: self.uri(&r.location.path)?,
                        range: self.range(analysis, &r.location),
                    },
                    message: r.message.clone(),
                })
            })
            .collect();
        let mut message = finding.message.clone();
        if let Some(help) = &finding.help {
            message.push_str("\nhelp: ");
            message.push_str(help);
        }
        Diagnostic {
            range: self.range(analysis, location),
            severity: Some(match finding.severity {
                Severity::Error => DiagnosticSeverity::ERROR,
                Severity::Warning => DiagnosticSeverity::WARNING,
                Severity::Info => DiagnosticSeverity::INFORMATION,
            }),
            code: Some(NumberOrString::String(finding.rule.to_string())),
            code_description: crate::report::rule_url(finding.rule)
                .parse::<Uri>()
                .ok()
                .map(|href| CodeDescription { href }),
            source: Some("ixray".into()),
            message,
            related_information: (!related.is_empty()).then_some(related),
            data: Some(key(finding)),
            ..Default::default()
        }
    }

    fn request(&mut self, connection: &Connection, request: Request) -> Result<(), Error> {
        let request = match cast::<CodeActionRequest>(request) {
            Ok((id, params)) => {
                let actions = self.code_actions(&params);
                return respond(connection, id, actions);
            }
            Err(ExtractError::MethodMismatch(request)) => request,
            Err(ExtractError::JsonError { method, error }) => {
                return Err(format!("{method}: {error}").into());
            }
        };
        connection.sender.send(Message::Response(Response::new_err(
            request.id,
            lsp_server::ErrorCode::MethodNotFound as i32,
            format!("ixray does not answer {}", request.method),
        )))?;
        Ok(())
    }

    fn notification(
        &mut self,
        connection: &Connection,
        notification: Notification,
    ) -> Result<(), Error> {
        let method = notification.method.as_str();
        let params = notification.params;
        let changed: Option<PathBuf> = match method {
            DidOpenTextDocument::METHOD => {
                let p: lsp_types::DidOpenTextDocumentParams = serde_json::from_value(params)?;
                let path = self.document(&p.text_document.uri);
                if let Some(path) = &path {
                    self.buffers.insert(path.clone(), p.text_document.text);
                }
                path
            }
            DidChangeTextDocument::METHOD => {
                let p: lsp_types::DidChangeTextDocumentParams = serde_json::from_value(params)?;
                let path = self.document(&p.text_document.uri);
                // Full sync: the last change holds the whole text.
                if let (Some(path), Some(change)) = (&path, p.content_changes.into_iter().last()) {
                    self.buffers.insert(path.clone(), change.text);
                }
                path
            }
            DidCloseTextDocument::METHOD => {
                let p: lsp_types::DidCloseTextDocumentParams = serde_json::from_value(params)?;
                let path = self.document(&p.text_document.uri);
                if let Some(path) = &path {
                    self.buffers.remove(path);
                    self.trees
                        .lock()
                        .expect("no panics while locked")
                        .remove(path);
                }
                path
            }
            DidSaveTextDocument::METHOD => {
                let p: lsp_types::DidSaveTextDocumentParams = serde_json::from_value(params)?;
                let path = self.document(&p.text_document.uri);
                let is_config = path
                    .as_ref()
                    .and_then(|p| p.file_name())
                    .is_some_and(|n| n == "ixray.toml" || n == "pyproject.toml");
                if is_config {
                    self.load_config();
                    self.read_everything();
                    return self.analyze_and_publish(connection);
                }
                path
            }
            DidChangeWatchedFiles::METHOD => {
                self.load_config();
                self.read_everything();
                return self.analyze_and_publish(connection);
            }
            _ => None,
        };
        let Some(path) = changed else {
            return Ok(());
        };
        if !crate::discover::is_candidate(&path) {
            return Ok(());
        }
        let clock = std::time::Instant::now();
        self.read_again(&path);
        let read = clock.elapsed();
        self.analyze_and_publish(connection)?;
        if std::env::var_os("IXRAY_TIMINGS").is_some() {
            #[allow(clippy::print_stderr)]
            {
                eprintln!(
                    "ixray lsp: {}: read {:.1} ms, analyze and publish {:.1} ms",
                    path.display(),
                    read.as_secs_f64() * 1000.0,
                    (clock.elapsed() - read).as_secs_f64() * 1000.0
                );
                if let Some(analysis) = &self.analysis {
                    for (phase, took) in &analysis.timings {
                        eprintln!("{:>9.1} ms  {phase}", took.as_secs_f64() * 1000.0);
                    }
                }
            }
        }
        Ok(())
    }

    fn code_actions(&self, params: &CodeActionParams) -> Vec<CodeActionOrCommand> {
        let Some(analysis) = &self.analysis else {
            return Vec::new();
        };
        let Some(path) = self.document(&params.text_document.uri) else {
            return Vec::new();
        };
        let mut plan: Option<FixPlan> = None;
        let mut actions = Vec::new();
        for diagnostic in &params.context.diagnostics {
            let Some(data) = &diagnostic.data else {
                continue;
            };
            let Some((at, finding)) = analysis.findings.iter().enumerate().find(|(_, f)| {
                &key(f) == data && f.location.as_ref().is_some_and(|l| l.path == path)
            }) else {
                continue;
            };
            if finding.fix.is_some() {
                let plan =
                    plan.get_or_insert_with(|| fix::plan_checked(analysis, fix::Reparse::Yes));
                if let Some(edit) = plan.sets_for(analysis)[at].and_then(|set| self.fix_edit(set)) {
                    actions.push(CodeActionOrCommand::CodeAction(CodeAction {
                        title: format!("ixray: fix `{}` ({})", finding.rule, fix_title(finding)),
                        kind: Some(CodeActionKind::QUICKFIX),
                        diagnostics: Some(vec![diagnostic.clone()]),
                        edit: Some(edit),
                        is_preferred: Some(true),
                        ..Default::default()
                    }));
                }
            }
            if let Some(edit) = self.ignore_edit(analysis, finding) {
                actions.push(CodeActionOrCommand::CodeAction(CodeAction {
                    title: format!("ixray: ignore `{}` on this line", finding.rule),
                    kind: Some(CodeActionKind::QUICKFIX),
                    diagnostics: Some(vec![diagnostic.clone()]),
                    edit: Some(edit),
                    ..Default::default()
                }));
            }
        }
        actions
    }

    /// The change set that fixes a finding, as a workspace edit: every
    /// edited file, and the new migration when the client can create
    /// files (else the model edit alone, which `fix` would not write
    /// without its migration: the title says so).
    // `WorkspaceEdit::changes` is keyed by `Uri`, whose lazily parsed
    // parts clippy takes for interior mutability; keys are never mutated.
    #[allow(clippy::mutable_key_type)]
    fn fix_edit(&self, set: &fix::PlannedSet) -> Option<WorkspaceEdit> {
        let mut operations = Vec::new();
        let mut changes: std::collections::HashMap<Uri, Vec<TextEdit>> = Default::default();
        for change in &set.changes {
            let uri = self.uri(&change.path)?;
            match &change.before {
                Some(before) => {
                    let source = SourceFile::new(change.path.clone(), before.clone());
                    let end = self.position(&source, before.len());
                    let edit =
                        TextEdit::new(Range::new(Position::new(0, 0), end), change.after.clone());
                    if self.creates_files {
                        operations.push(DocumentChangeOperation::Edit(TextDocumentEdit {
                            text_document: OptionalVersionedTextDocumentIdentifier {
                                uri,
                                version: None,
                            },
                            edits: vec![OneOf::Left(edit)],
                        }));
                    } else {
                        changes.entry(uri).or_default().push(edit);
                    }
                }
                None if self.creates_files => {
                    operations.push(DocumentChangeOperation::Op(ResourceOp::Create(
                        CreateFile {
                            uri: uri.clone(),
                            options: Some(CreateFileOptions {
                                overwrite: Some(false),
                                ignore_if_exists: Some(false),
                            }),
                            annotation_id: None,
                        },
                    )));
                    operations.push(DocumentChangeOperation::Edit(TextDocumentEdit {
                        text_document: OptionalVersionedTextDocumentIdentifier {
                            uri,
                            version: None,
                        },
                        edits: vec![OneOf::Left(TextEdit::new(
                            Range::default(),
                            change.after.clone(),
                        ))],
                    }));
                }
                None => {}
            }
        }
        Some(if self.creates_files {
            WorkspaceEdit {
                document_changes: Some(DocumentChanges::Operations(operations)),
                ..Default::default()
            }
        } else {
            WorkspaceEdit {
                changes: Some(changes),
                ..Default::default()
            }
        })
    }

    /// ` # ixray: ignore[rule]` at the end of the finding's line, or the
    /// rule added to the ignore comment already there.
    #[allow(clippy::mutable_key_type)]
    fn ignore_edit(&self, analysis: &Analysis, finding: &Finding) -> Option<WorkspaceEdit> {
        let location = finding.location.as_ref()?;
        let source = analysis.sources.get(&location.path)?;
        let line = location.line - 1;
        let start = source.lines.line_start(line);
        let text = source.lines.line_text(&source.text, line);
        let end = start + text.len();
        let edit = match text.find("ixray: ignore[") {
            Some(at) => {
                let close = text[at..].find(']')? + at;
                let offset = start + close;
                let p = self.position(source, offset);
                TextEdit::new(Range::new(p, p), format!(", {}", finding.rule))
            }
            None => {
                let python = location.path.extension().is_some_and(|e| e == "py");
                let marker = if python { "#" } else { "//" };
                let p = self.position(source, end);
                TextEdit::new(
                    Range::new(p, p),
                    format!("  {marker} ixray: ignore[{}]", finding.rule),
                )
            }
        };
        let mut changes = std::collections::HashMap::new();
        changes.insert(self.uri(&location.path)?, vec![edit]);
        Some(WorkspaceEdit {
            changes: Some(changes),
            ..Default::default()
        })
    }
}

/// What identifies a finding between analyses: rule, table, columns and
/// line.
fn key(finding: &Finding) -> serde_json::Value {
    serde_json::json!({
        "rule": finding.rule,
        "table": finding.table,
        "columns": finding.columns,
        "index": finding.index_name,
        "line": finding.location.as_ref().map(|l| l.line),
    })
}

fn fix_title(finding: &Finding) -> String {
    match &finding.suggested_index {
        Some(index) => {
            let columns: Vec<String> = index
                .columns
                .iter()
                .map(|c| {
                    if c.desc {
                        format!("{} DESC", c.name)
                    } else {
                        c.name.clone()
                    }
                })
                .collect();
            format!(
                "index {} ({}) with a migration",
                index.name,
                columns.join(", ")
            )
        }
        None => "with a migration".into(),
    }
}

fn cast<R>(request: Request) -> Result<(RequestId, R::Params), ExtractError<Request>>
where
    R: lsp_types::request::Request,
    R::Params: serde::de::DeserializeOwned,
{
    request.extract(R::METHOD)
}

fn respond(
    connection: &Connection,
    id: RequestId,
    result: impl serde::Serialize,
) -> Result<(), Error> {
    connection
        .sender
        .send(Message::Response(Response::new_ok(id, result)))?;
    Ok(())
}

/// `file:///a%20b/c.py` → `/a b/c.py`.
pub fn path_of(uri: &Uri) -> Option<PathBuf> {
    let text = uri.as_str();
    let rest = text.strip_prefix("file://")?;
    // `file://localhost/...` and `file:///...` alike.
    let rest = rest.strip_prefix("localhost").unwrap_or(rest);
    let bytes = rest.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    let path = PathBuf::from(String::from_utf8(out).ok()?);
    path.is_absolute().then_some(path)
}

/// `/a b/c.py` → `file:///a%20b/c.py`.
pub fn uri_of(path: &Path) -> Option<Uri> {
    let absolute = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().ok()?.join(path)
    };
    let mut text = String::from("file://");
    for byte in absolute.to_str()?.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'-' | b'_' | b'.' | b'~' => {
                text.push(byte as char)
            }
            other => text.push_str(&format!("%{other:02X}")),
        }
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_uris_round_trip() {
        let path = Path::new("/work/my app/models/ünïcode.py");
        let uri = uri_of(path).unwrap();
        assert_eq!(
            uri.as_str(),
            "file:///work/my%20app/models/%C3%BCn%C3%AFcode.py"
        );
        assert_eq!(path_of(&uri).unwrap(), path);
        let host: Uri = "file://localhost/tmp/x.py".parse().unwrap();
        assert_eq!(path_of(&host).unwrap(), Path::new("/tmp/x.py"));
        let other: Uri = "untitled:Untitled-1".parse().unwrap();
        assert_eq!(path_of(&other), None);
    }

    #[test]
    fn columns_are_counted_in_the_clients_encoding() {
        let source = SourceFile::new("m.py".into(), "x = 'é😀' # z\n".into());
        let offset = source.text.find('#').unwrap();
        let utf16 = Server::new("/".into(), Encoding::Utf16, false);
        assert_eq!(utf16.position(&source, offset), Position::new(0, 10));
        let utf8 = Server::new("/".into(), Encoding::Utf8, false);
        assert_eq!(utf8.position(&source, offset), Position::new(0, 13));
    }
}
