//! The `ixray` command line: parse arguments, call the library, print, and
//! map the outcome to an exit code (0 clean, 1 findings, 2 error).

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};

use ixray::config::{self, Config};
use ixray::report::{self, PathDisplay};
use ixray::rules::RULES;
use ixray::schema::Dialect;
use ixray::{Analysis, analyze, explain, fix};

/// Reading a large project allocates millions of small strings and nodes
/// on both walker threads; mimalloc's thread-local heaps take about a
/// tenth of the run's time off glibc's allocator (as ruff does with an
/// allocator of its own).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "ixray",
    version,
    about = "Find missing and redundant database indexes in ORM source code"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Report index problems.
    Check {
        /// Files or directories (default: the current directory). The
        /// whole project around each is read; findings under them are
        /// reported.
        paths: Vec<PathBuf>,
        /// Output format: text for people, json (a stable contract), sarif
        /// (SARIF 2.1.0, for code scanning), github (workflow annotations),
        /// markdown (a pull-request comment).
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Print the number of findings per rule instead of the findings.
        #[arg(long)]
        statistics: bool,
        /// Print the findings and nothing else (no summary line).
        #[arg(short, long)]
        quiet: bool,
        /// Exit with 0 even when there are findings (2 still means an
        /// error).
        #[arg(long)]
        exit_zero: bool,
        /// Colour in text output: auto (on a terminal, unless NO_COLOR is
        /// set), always, never.
        #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
        color: ColorChoice,
        /// Report only findings that are not in this baseline file; the
        /// file is written with today's findings when it does not exist.
        #[arg(long, value_name = "FILE")]
        baseline: Option<PathBuf>,
        /// With --baseline: rewrite the file with today's findings.
        #[arg(long, requires = "baseline")]
        update_baseline: bool,
        /// Report only findings whose place or cause (a related place) is
        /// in a file changed since this git ref (committed, staged,
        /// unstaged or untracked).
        #[arg(long, value_name = "REF")]
        changed_since: Option<String>,
        #[command(flatten)]
        selection: Selection,
    },
    /// Apply fixes: model edits and new migration files.
    Fix {
        /// Files or directories (default: the current directory).
        paths: Vec<PathBuf>,
        /// Print the changes as a diff and write nothing; exit 1 when
        /// there is something to change.
        #[arg(long)]
        diff: bool,
        #[command(flatten)]
        selection: Selection,
    },
    /// Print the normalized schema graph as JSON.
    Schema {
        /// Files or directories (default: the current directory).
        paths: Vec<PathBuf>,
        /// The database: postgresql, mysql or sqlite (default: from the
        /// settings).
        #[arg(long)]
        dialect: Option<String>,
    },
    /// Ask a PostgreSQL planner (with HypoPG's hypothetical indexes)
    /// whether it would use each index `missing-query-index` suggests.
    /// Read-only: one transaction, rolled back.
    Explain {
        /// Files or directories (default: the current directory).
        paths: Vec<PathBuf>,
        /// The database to ask (`postgresql://user@host:5432/name`); only
        /// its planner is used, nothing is written.
        // `hide_env_values`: the URL may hold a password; help never shows it.
        #[arg(long, env = "IXRAY_DATABASE_URL", hide_env_values = true)]
        database_url: String,
        /// The project's database dialect, when its settings cannot tell.
        #[arg(long)]
        dialect: Option<String>,
        /// When the database lacks HypoPG, run `CREATE EXTENSION hypopg`
        /// inside the transaction that is rolled back.
        #[arg(long)]
        create_extension: bool,
        /// Output format: text for people, json.
        #[arg(long, value_enum, default_value_t = ExplainFormat::Text)]
        format: ExplainFormat,
    },
    /// Run the language server on stdin/stdout (for editors; see
    /// docs/editors.md).
    Lsp,
    /// Print a rule's documentation (every rule's summary without NAME).
    Rule {
        /// The rule (`ixray rule` lists them).
        name: Option<String>,
    },
}

#[derive(clap::Args)]
struct Selection {
    /// Only these rules (comma-separated).
    #[arg(long, value_delimiter = ',')]
    select: Vec<String>,
    /// Not these rules (comma-separated).
    #[arg(long, value_delimiter = ',')]
    ignore: Vec<String>,
    /// The database: postgresql, mysql or sqlite (default: from the settings).
    #[arg(long)]
    dialect: Option<String>,
    /// Check how every migration builds its indexes, not only migrations
    /// not merged yet (changed since the merge-base with the default branch).
    #[arg(long)]
    all_migrations: bool,
    /// Read the configuration from this file (an ixray.toml, or a
    /// pyproject.toml with [tool.ixray]) instead of searching for one.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Paths not to read, as globs (replaces the configuration's
    /// `exclude`); a pattern without `/` matches a name anywhere.
    #[arg(long, value_delimiter = ',', value_name = "GLOB")]
    exclude: Vec<String>,
    /// More paths not to read, besides the configuration's `exclude`.
    #[arg(long, value_delimiter = ',', value_name = "GLOB")]
    extend_exclude: Vec<String>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Text,
    Json,
    Sarif,
    Github,
    Markdown,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ExplainFormat {
    Text,
    Json,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ColorChoice {
    Auto,
    Always,
    Never,
}

impl ColorChoice {
    fn enabled(self) -> bool {
        use std::io::IsTerminal as _;
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                std::io::stdout().is_terminal()
                    && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            }
        }
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(err) => {
            #[allow(clippy::print_stderr)]
            {
                eprintln!("ixray: error: {err:#}");
            }
            ExitCode::from(2)
        }
    }
}

fn paths_or_cwd(paths: Vec<PathBuf>) -> Vec<PathBuf> {
    if paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        paths
    }
}

fn load_config(paths: &[PathBuf], selection: Option<&Selection>) -> anyhow::Result<Config> {
    let mut config = match selection.and_then(|s| s.config.as_ref()) {
        Some(file) => config::load_file(file)?,
        None => config::load(&paths[0])?,
    };
    if let Some(selection) = selection {
        for rule in selection.select.iter().chain(&selection.ignore) {
            if ixray::rules::rule(rule).is_none() {
                anyhow::bail!("unknown rule `{rule}` (see `ixray rule`)");
            }
        }
        config.select_on_command_line(&selection.select, &selection.ignore);
        config.exclude_on_command_line(&selection.exclude, &selection.extend_exclude)?;
        if let Some(name) = &selection.dialect {
            config.dialect = Some(parse_dialect(name)?);
        }
        config.all_migrations |= selection.all_migrations;
    }
    Ok(config)
}

fn parse_dialect(name: &str) -> anyhow::Result<Dialect> {
    Dialect::parse(name)
        .with_context(|| format!("unknown dialect `{name}` (postgresql, mysql, sqlite)"))
}

/// Print input problems to stderr; true when an explicitly given path was
/// unusable (then that is all that is printed, as an error).
fn report_errors(analysis: &Analysis, paths: &[PathBuf], display: &PathDisplay) -> bool {
    let mut stderr = std::io::stderr().lock();
    let mut missing_root = false;
    for error in &analysis.errors {
        let place = match error.position {
            Some((line, column)) => format!("{}:{line}:{column}", display.show(&error.path)),
            None => display.show(&error.path),
        };
        if paths.contains(&error.path) {
            missing_root = true;
            let _ = writeln!(stderr, "ixray: error: {place}: {}", error.message);
        } else {
            let _ = writeln!(stderr, "ixray: {place}: {}", error.message);
        }
    }
    if !missing_root && analysis.schema.tables.is_empty() {
        let shown: Vec<String> = paths.iter().map(|p| display.show(p)).collect();
        let _ = writeln!(
            stderr,
            "ixray: warning: no Django, SQLAlchemy or Drizzle models found in {}",
            shown.join(", ")
        );
    }
    missing_root
}

fn run() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    let display = PathDisplay::new(std::env::current_dir().ok());
    let mut stdout = std::io::stdout().lock();
    match cli.command {
        Command::Check {
            paths,
            format,
            statistics,
            quiet,
            exit_zero,
            color,
            baseline,
            update_baseline,
            changed_since,
            selection,
        } => {
            let paths = paths_or_cwd(paths);
            let config = load_config(&paths, Some(&selection))?;
            let mut analysis = analyze(&paths, &config);
            let missing_root = report_errors(&analysis, &paths, &display);
            // Nothing that was asked for exists: the error is all there is.
            if missing_root && paths.iter().all(|p| !p.exists()) {
                return Ok(ExitCode::from(2));
            }
            let planning = std::time::Instant::now();
            let plan = mark_what_fix_does(&mut analysis);
            analysis
                .timings
                .push(("plan fixes (what is fixable)", planning.elapsed()));
            if std::env::var_os("IXRAY_TIMINGS").is_some() {
                let mut stderr = std::io::stderr().lock();
                writeln!(
                    stderr,
                    "files: {} read, {} parsed",
                    analysis.files_read, analysis.files_parsed
                )?;
                for (phase, took) in &analysis.timings {
                    writeln!(stderr, "{:>9.1} ms  {phase}", took.as_secs_f64() * 1000.0)?;
                }
            }
            let mut notes = Vec::new();
            if let Some(reference) = &changed_since {
                let changed = ixray::vcs::changed_since(&paths[0], reference)
                    .map_err(|e| anyhow::anyhow!("--changed-since {reference}: {e}"))?;
                let before = analysis.findings.len();
                analysis.findings.retain(|f| changed.touches(f));
                notes.push(format!(
                    "{} finding{} outside the files changed since {reference}",
                    before - analysis.findings.len(),
                    if before - analysis.findings.len() == 1 {
                        ""
                    } else {
                        "s"
                    }
                ));
            }
            if let Some(file) = &baseline {
                let base = file.parent().unwrap_or(std::path::Path::new("."));
                match ixray::baseline::read(file)? {
                    Some(known) if !update_baseline => {
                        let hidden = known.hide_known(&mut analysis.findings, base);
                        notes.push(format!(
                            "{hidden} finding{} in the baseline {}",
                            if hidden == 1 { "" } else { "s" },
                            display.show(file)
                        ));
                    }
                    _ => {
                        ixray::baseline::write(file, &analysis.findings, base)?;
                        writeln!(
                            std::io::stderr().lock(),
                            "ixray: wrote {} finding{} to the baseline {}",
                            analysis.findings.len(),
                            if analysis.findings.len() == 1 {
                                ""
                            } else {
                                "s"
                            },
                            display.show(file)
                        )?;
                        analysis.findings.clear();
                    }
                }
            }
            let summary = report::Summary::of(&analysis, notes);
            let text = match (format, statistics) {
                (Format::Text, true) => report::text::statistics(&analysis.findings, &summary),
                (Format::Json, true) => report::json::statistics(&analysis.findings),
                (Format::Text, false) => {
                    let style = report::text::Style {
                        color: color.enabled(),
                    };
                    let mut text = report::text::render(
                        &analysis.findings,
                        &analysis.sources,
                        &display,
                        style,
                    );
                    if !quiet {
                        text.push_str(&summary.line());
                    }
                    text
                }
                (Format::Json, false) => {
                    report::json::render(&analysis.findings, &analysis.errors, &summary, &display)
                }
                (Format::Sarif, _) => report::sarif::render(&analysis, &plan, &display),
                (Format::Github, _) => report::github::render(&analysis.findings, &display),
                (Format::Markdown, _) => {
                    report::markdown::render(&analysis, &plan, &summary, &display)
                }
            };
            stdout.write_all(text.as_bytes())?;
            let code = if missing_root {
                ExitCode::from(2)
            } else if exit_zero {
                ExitCode::SUCCESS
            } else {
                exit_code(&analysis)
            };
            // The process ends next: freeing every file's text and facts
            // one by one would only delay the exit (about 1 ms on saleor).
            std::mem::forget(analysis);
            Ok(code)
        }
        Command::Fix {
            paths,
            diff,
            selection,
        } => {
            let paths = paths_or_cwd(paths);
            let config = load_config(&paths, Some(&selection))?;
            let analysis = analyze(&paths, &config);
            let missing_root = report_errors(&analysis, &paths, &display);
            let plan = fix::plan_verified(&analysis);
            let mut stderr = std::io::stderr().lock();
            for withheld in &plan.withheld {
                writeln!(
                    stderr,
                    "ixray: not fixed: {}",
                    withheld.describe(|p| display.show(p))
                )?;
            }
            if diff {
                // What each change set would write, beside the diff.
                for set in &plan.sets {
                    let files: Vec<String> =
                        set.changes.iter().map(|c| display.show(&c.path)).collect();
                    writeln!(
                        stderr,
                        "ixray: would write {}: {}",
                        set.unit,
                        files.join(", ")
                    )?;
                }
                stdout.write_all(fix::diff(&plan, |p| display.show(p)).as_bytes())?;
                return Ok(if missing_root {
                    ExitCode::from(2)
                } else if plan.sets.is_empty() {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(1)
                });
            }
            // Every set that was written is listed, even when another
            // could not be.
            let applied = fix::apply(&plan);
            // Per change set: what it holds, then each file.
            for (unit, paths) in &applied.written {
                writeln!(
                    stdout,
                    "{unit}: {} file{} written together",
                    paths.len(),
                    if paths.len() == 1 { "" } else { "s" }
                )?;
                for path in paths {
                    writeln!(stdout, "fixed: {}", display.show(path))?;
                }
            }
            for error in &applied.errors {
                writeln!(stderr, "ixray: error: {error}")?;
            }
            if !applied.errors.is_empty() {
                return Ok(ExitCode::from(2));
            }
            if applied.written.is_empty() {
                writeln!(stdout, "Nothing to fix.")?;
            }
            // What is left after the fix, as `check` would report it.
            let after = analyze(&paths, &config);
            let remaining = after.findings.len();
            if remaining > 0 {
                writeln!(
                    stdout,
                    "{remaining} problem{} left; see `ixray check`.",
                    if remaining == 1 { "" } else { "s" }
                )?;
            }
            Ok(if missing_root {
                ExitCode::from(2)
            } else if remaining > 0 || !analysis.errors.is_empty() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Schema { paths, dialect } => {
            let paths = paths_or_cwd(paths);
            let mut config = load_config(&paths, None)?;
            if let Some(name) = dialect {
                config.dialect = Some(parse_dialect(&name)?);
            }
            config.read_queries = true;
            let analysis = analyze(&paths, &config);
            let missing_root = report_errors(&analysis, &paths, &display);
            serde_json::to_writer_pretty(&mut stdout, &analysis.schema)?;
            writeln!(stdout)?;
            Ok(if missing_root {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Explain {
            paths,
            database_url,
            dialect,
            create_extension,
            format,
        } => {
            let paths = paths_or_cwd(paths);
            let mut config = load_config(&paths, None)?;
            if let Some(name) = dialect {
                config.dialect = Some(parse_dialect(&name)?);
            }
            // The suggestions come from the query code, whatever the
            // project's rule selection.
            config.read_queries = true;
            let analysis = analyze(&paths, &config);
            if report_errors(&analysis, &paths, &display) {
                return Ok(ExitCode::from(2));
            }
            let options = explain::Options {
                database_url,
                create_extension,
            };
            let report = explain::explain(&analysis.schema, &options)?;
            let text = match format {
                ExplainFormat::Text => report::explain::text(&report, &display),
                ExplainFormat::Json => report::explain::json(&report, &display),
            };
            stdout.write_all(text.as_bytes())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Lsp => {
            drop(stdout);
            ixray::lsp::run().map_err(|e| anyhow::anyhow!("{e}"))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Rule { name: None } => {
            let width = RULES.iter().map(|r| r.name.len()).max().unwrap_or(0);
            for rule in RULES {
                writeln!(stdout, "{:<width$} {}", rule.name, rule.summary)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Rule { name: Some(name) } => match ixray::rules::rule(&name) {
            Some(rule) => {
                stdout.write_all(rule.doc.as_bytes())?;
                Ok(ExitCode::SUCCESS)
            }
            None => anyhow::bail!("unknown rule `{name}`; `ixray rule` lists them"),
        },
    }
}

/// A finding counts as fixable only when `ixray fix` would fix it: the
/// fixes are planned as `fix` plans them, and a finding whose change is
/// withheld loses its fix, its help saying why.
fn mark_what_fix_does(analysis: &mut Analysis) -> fix::FixPlan {
    if analysis.findings.iter().all(|f| f.fix.is_none()) {
        return fix::FixPlan::default();
    }
    let plan = fix::plan_checked(analysis, fix::Reparse::No);
    let verdicts = plan.verdicts(analysis);
    for (finding, verdict) in analysis.findings.iter_mut().zip(verdicts) {
        if finding.fix.is_none() {
            continue;
        }
        if let Err(reason) = verdict {
            finding.fix = None;
            let help = finding.help.take().unwrap_or_default();
            finding.help = Some(if help.is_empty() {
                format!("`ixray fix` leaves this: {reason}")
            } else {
                format!("{help} (`ixray fix` leaves this: {reason})")
            });
        }
    }
    plan
}

fn exit_code(analysis: &Analysis) -> ExitCode {
    if !analysis.findings.is_empty() || !analysis.errors.is_empty() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    use super::Cli;

    /// `--help` explains every argument of every command.
    #[test]
    fn every_argument_has_help() {
        let cli = Cli::command();
        let mut missing = Vec::new();
        for command in cli.get_subcommands() {
            assert!(command.get_about().is_some(), "{}", command.get_name());
            for arg in command.get_arguments() {
                let id = arg.get_id().as_str();
                if id == "help" || id == "version" {
                    continue;
                }
                if arg.get_help().is_none() && arg.get_long_help().is_none() {
                    missing.push(format!("{} {id}", command.get_name()));
                }
            }
        }
        assert!(missing.is_empty(), "arguments without help: {missing:?}");
    }
}
