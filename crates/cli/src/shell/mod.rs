//! `memdb sql`: an interactive SQL shell in psql's manner, embedded on a
//! data directory (or in memory) or connected to a server.
//!
//! - [`split`]: cutting input into statements at `;`.
//! - [`backend`]: running a statement in-process or over pgwire.
//! - [`render`]: aligned, unaligned and expanded result output.
//! - [`meta`]: backslash commands (`\d`, `\dt`, `\timing`, …).
//!
//! Input comes from `-c` and `-f` (in the order given), from a pipe, or
//! from the terminal with line editing and history (rustyline). Exit
//! codes follow psql: 0 success, 1 a fatal error of the shell's own (a
//! missing file), 2 the database could not be reached or the connection
//! was lost, 3 a statement failed in non-interactive input.

pub mod backend;
pub mod meta;
pub mod render;
pub mod split;

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use backend::{Backend, CopyInput, Failure, Reply};
use meta::Meta;
use split::StatementBuffer;

use crate::progress::{ScriptBar, Spinner};

/// `println!` with a script's progress bar taken off the screen.
macro_rules! say {
    ($($arg:tt)*) => { crate::progress::suspend(|| println!($($arg)*)) };
}

/// `print!` with a script's progress bar taken off the screen.
macro_rules! say_part {
    ($($arg:tt)*) => { crate::progress::suspend(|| print!($($arg)*)) };
}

/// `eprintln!` with a script's progress bar taken off the screen.
macro_rules! say_err {
    ($($arg:tt)*) => { crate::progress::suspend(|| eprintln!($($arg)*)) };
}

/// One piece of non-interactive input, in command-line order.
#[derive(Debug, Clone)]
pub enum Step {
    /// `-c SQL` (statements or one backslash command).
    Command(String),
    /// `-f FILE` (`-` is standard input).
    File(PathBuf),
}

/// How output looks and what a failure does.
#[derive(Debug, Clone, Copy, Default)]
pub struct ShellOptions {
    /// Keep going after a failed statement in non-interactive input.
    pub continue_on_error: bool,
    /// Rows only: no header, no footer, no command tags (`-t`).
    pub tuples_only: bool,
    /// Values separated by `|` without padding (`-A`).
    pub unaligned: bool,
}

/// The process exit code of a shell run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// Everything ran.
    Success = 0,
    /// The shell's own failure (an unreadable file).
    Fatal = 1,
    /// The database could not be reached, or the connection was lost.
    Connection = 2,
    /// A statement failed in non-interactive input.
    ScriptError = 3,
}

/// Where lines come from.
enum Source<'a> {
    /// The terminal, with line editing and history.
    Terminal(&'a mut rustyline::DefaultEditor),
    /// Text read in advance (a `-c` string, a file, a pipe): its lines and
    /// a name for messages.
    Text { lines: std::vec::IntoIter<String>, name: String, line: usize, bar: Option<ScriptBar> },
}

/// A line, or why there is none.
enum Line {
    Text(String),
    /// Ctrl-C at the prompt.
    Interrupted,
    /// Ctrl-D or the end of the input.
    End,
}

impl Source<'_> {
    fn next_line(&mut self, prompt: &str) -> Line {
        match self {
            Source::Terminal(editor) => match editor.readline(prompt) {
                Ok(line) => {
                    if !line.trim().is_empty() {
                        let _ = editor.add_history_entry(line.as_str());
                    }
                    Line::Text(line)
                }
                Err(rustyline::error::ReadlineError::Interrupted) => Line::Interrupted,
                Err(_) => Line::End,
            },
            Source::Text { lines, line, bar, .. } => match lines.next() {
                Some(text) => {
                    *line += 1;
                    if let Some(bar) = bar {
                        bar.advance(text.len() as u64 + 1);
                    }
                    Line::Text(text)
                }
                None => Line::End,
            },
        }
    }

    /// Where a message about the current statement points (`file:line: `).
    fn location(&self) -> String {
        match self {
            Source::Terminal(_) => String::new(),
            Source::Text { name, .. } if name == "-c" => String::new(),
            Source::Text { name, line, .. } => format!("{name}:{line}: "),
        }
    }
}

/// What to do after a statement or command.
#[derive(Debug, PartialEq, Eq)]
enum Flow {
    Continue,
    /// `\q`, or a failure that ends non-interactive input.
    Stop(ExitStatus),
}

/// A shell session over a backend.
pub struct Shell {
    backend: Backend,
    options: ShellOptions,
    timing: bool,
    expanded: bool,
    /// Whether any statement failed (non-interactive input with
    /// `continue_on_error` still exits 3).
    failed: bool,
}

impl Shell {
    /// A shell over `backend`.
    pub fn new(backend: Backend, options: ShellOptions) -> Shell {
        Shell { backend, options, timing: false, expanded: false, failed: false }
    }

    /// Runs `-c`/`-f` steps in order, stopping at the first failure
    /// (unless `continue_on_error`), and ends the session.
    pub async fn run_steps(mut self, steps: &[Step]) -> ExitStatus {
        for step in steps {
            let (text, name, file) = match step {
                Step::Command(sql) => {
                    if sql.trim_start().starts_with('\\') {
                        let mut source =
                            Source::Text { lines: Vec::new().into_iter(), name: "-c".into(), line: 1, bar: None };
                        match self.meta(sql, &mut source).await {
                            Flow::Continue => continue,
                            Flow::Stop(status) => return self.finish(status),
                        }
                    }
                    (sql.clone(), "-c".to_owned(), false)
                }
                Step::File(path) => match read_input(path) {
                    Ok(text) => (text, path.display().to_string(), true),
                    Err(e) => {
                        eprintln!("memdb: {e}");
                        return self.finish(ExitStatus::Fatal);
                    }
                },
            };
            // A file (or piped input) shows a bar over its bytes while it runs.
            let label = if name == "-" { "standard input" } else { name.as_str() };
            let bar = file.then(|| ScriptBar::start(label, text.len() as u64));
            let lines: Vec<String> = text.lines().map(str::to_owned).collect();
            let mut source = Source::Text { lines: lines.into_iter(), name, line: 0, bar };
            if let Flow::Stop(status) = self.run_source(&mut source, false).await {
                return self.finish(status);
            }
        }
        let status = if self.failed { ExitStatus::ScriptError } else { ExitStatus::Success };
        self.finish(status)
    }

    /// Reads statements from the terminal (or, when standard input is not
    /// one, from the pipe) until `\q` or end of input.
    pub async fn run_interactive(mut self) -> ExitStatus {
        if !std::io::stdin().is_terminal() {
            return self.run_steps(&[Step::File(PathBuf::from("-"))]).await;
        }
        let mut editor = match rustyline::DefaultEditor::new() {
            Ok(editor) => editor,
            Err(e) => {
                eprintln!("memdb: cannot use the terminal: {e}");
                return self.finish(ExitStatus::Fatal);
            }
        };
        let history = std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".memdb_history"));
        if let Some(path) = &history {
            let _ = editor.load_history(path);
        }
        println!(
            "memdb {} — {}. Type \\? for help, \\q to quit.",
            env!("CARGO_PKG_VERSION"),
            self.backend.description()
        );
        let flow = self.run_source(&mut Source::Terminal(&mut editor), true).await;
        if let Some(path) = &history {
            let _ = editor.save_history(path);
        }
        let status = match flow {
            Flow::Stop(status) => status,
            Flow::Continue => ExitStatus::Success,
        };
        self.finish(status)
    }

    fn finish(self, status: ExitStatus) -> ExitStatus {
        match self.backend.close() {
            Ok(()) => status,
            Err(e) => {
                eprintln!("memdb: {e}");
                ExitStatus::Fatal
            }
        }
    }

    /// Runs everything `source` holds.
    async fn run_source(&mut self, source: &mut Source<'_>, interactive: bool) -> Flow {
        let mut buffer = StatementBuffer::default();
        loop {
            let prompt = if buffer.is_pending() { "memdb-> " } else { "memdb=> " };
            let line = match source.next_line(prompt) {
                Line::Text(line) => line,
                Line::Interrupted => {
                    buffer.clear();
                    continue;
                }
                Line::End => {
                    // A file's last statement may lack its `;`; what was
                    // typed at the terminal but not ended is dropped, as
                    // psql does (it may be a DELETE waiting for its WHERE).
                    match buffer.take_rest() {
                        Some(rest) if !interactive => return self.statement(&rest, source, interactive).await,
                        _ => return Flow::Continue,
                    }
                }
            };
            if !buffer.is_pending() && line.trim_start().starts_with('\\') {
                if let Flow::Stop(status) = self.meta(&line, source).await {
                    return Flow::Stop(status);
                }
                continue;
            }
            for statement in buffer.push_line(&line) {
                if let Flow::Stop(status) = self.statement(&statement, source, interactive).await {
                    return Flow::Stop(status);
                }
            }
        }
    }

    /// Runs one statement and prints what it produced.
    async fn statement(&mut self, sql: &str, source: &mut Source<'_>, interactive: bool) -> Flow {
        let started = Instant::now();
        // No spinner over the prompt of COPY data typed at the terminal.
        let spinner = (interactive && !backend::is_copy_in(sql))
            .then(|| Spinner::after(Duration::from_secs(1), "running (Ctrl-C cancels)"));
        let outcome = {
            let mut copy_rows = || match source.next_line(">> ") {
                Line::Text(line) => CopyInput::Line(line),
                Line::Interrupted => CopyInput::Cancel,
                Line::End => CopyInput::End,
            };
            self.backend.run(sql, &mut copy_rows).await
        };
        drop(spinner);
        let elapsed = started.elapsed();
        let flow = match outcome {
            Ok(replies) => {
                self.print(replies);
                Flow::Continue
            }
            Err(failure) => {
                report(&source.location(), &failure);
                match self.note_failure(interactive) {
                    _ if failure.fatal => Flow::Stop(ExitStatus::Connection),
                    flow => flow,
                }
            }
        };
        if self.timing {
            say!("Time: {:.3} ms", elapsed.as_secs_f64() * 1000.0);
        }
        flow
    }

    fn print(&self, replies: Vec<Reply>) {
        crate::progress::suspend(|| self.write_replies(replies));
    }

    fn write_replies(&self, replies: Vec<Reply>) {
        let mut out = std::io::stdout().lock();
        for reply in replies {
            let text = match reply {
                Reply::Rows { columns, rows, tag } => {
                    if self.options.unaligned || self.options.tuples_only {
                        render::plain(&columns, &rows, !self.options.tuples_only, self.options.unaligned)
                    } else {
                        let mut text = render::table(&columns, &rows, self.expanded, "");
                        text.push('\n');
                        // psql names what a statement with RETURNING did.
                        if !tag.starts_with("SELECT") {
                            text.push_str(&tag);
                            text.push('\n');
                        }
                        text
                    }
                }
                Reply::Command(tag) if !self.options.tuples_only => format!("{tag}\n"),
                Reply::Command(_) => String::new(),
                Reply::CopyOut(data) => {
                    let _ = out.write_all(&data);
                    continue;
                }
            };
            let _ = out.write_all(text.as_bytes());
        }
        let _ = out.flush();
    }

    /// Runs a backslash command.
    async fn meta(&mut self, line: &str, source: &mut Source<'_>) -> Flow {
        let command = match meta::parse(line) {
            Ok(command) => command,
            Err(e) => {
                say_err!("{}{e}", source.location());
                return self.meta_failed(source);
            }
        };
        match command {
            Meta::Quit => return Flow::Stop(ExitStatus::Success),
            Meta::Help => say_part!("{}", meta::HELP),
            Meta::Timing(on) => {
                self.timing = on.unwrap_or(!self.timing);
                say!("Timing is {}.", if self.timing { "on" } else { "off" });
            }
            Meta::Expanded(on) => {
                self.expanded = on.unwrap_or(!self.expanded);
                say!("Expanded display is {}.", if self.expanded { "on" } else { "off" });
            }
            Meta::ConnInfo => say!("You are {}.", self.backend.description()),
            Meta::Echo(text) => say!("{text}"),
            Meta::Include(path) => {
                let text = match read_input(&PathBuf::from(&path)) {
                    Ok(text) => text,
                    Err(e) => {
                        say_err!("{}{e}", source.location());
                        return self.meta_failed(source);
                    }
                };
                let lines: Vec<String> = text.lines().map(str::to_owned).collect();
                let mut included = Source::Text { lines: lines.into_iter(), name: path, line: 0, bar: None };
                let flow = Box::pin(self.run_source(&mut included, false)).await;
                // At the terminal, a failed statement in the file ends the
                // file, not the session.
                return match (source, flow) {
                    (Source::Terminal(_), Flow::Stop(ExitStatus::ScriptError)) => Flow::Continue,
                    (_, flow) => flow,
                };
            }
            Meta::List { title, sql } => return self.listing(title, &sql, source).await,
            Meta::Describe(name) => return self.describe(&name, source).await,
        }
        Flow::Continue
    }

    fn meta_failed(&mut self, source: &Source<'_>) -> Flow {
        self.note_failure(matches!(source, Source::Terminal(_)))
    }

    /// Notes a failure and decides what follows: at the terminal, or with
    /// `--continue-on-error`, the next statement; otherwise exit code 3.
    fn note_failure(&mut self, interactive: bool) -> Flow {
        self.failed = true;
        if interactive || self.options.continue_on_error { Flow::Continue } else { Flow::Stop(ExitStatus::ScriptError) }
    }

    /// Runs a catalog query and prints it under `title`.
    async fn listing(&mut self, title: &str, sql: &str, source: &mut Source<'_>) -> Flow {
        match self.backend.run(sql, &mut || CopyInput::End).await {
            Ok(replies) => {
                for reply in replies {
                    if let Reply::Rows { columns, rows, .. } = reply {
                        if rows.is_empty() {
                            say!("Did not find any relations.");
                        } else {
                            say!("{}", format!("{title:^width$}", width = title.len() + 8).trim_end());
                            say_part!("{}", render::table(&columns, &rows, self.expanded, ""));
                            say!();
                        }
                    }
                }
                Flow::Continue
            }
            Err(failure) => {
                report(&source.location(), &failure);
                self.meta_failed(source)
            }
        }
    }

    /// `\d NAME`: columns, then indexes.
    async fn describe(&mut self, name: &str, source: &mut Source<'_>) -> Flow {
        let (columns_sql, indexes_sql) = meta::describe(name);
        let columns = self.backend.run(&columns_sql, &mut || CopyInput::End).await;
        let indexes = self.backend.run(&indexes_sql, &mut || CopyInput::End).await;
        let rows_of = |replies: Result<Vec<Reply>, Failure>| -> Result<_, Failure> {
            Ok(replies?.into_iter().find_map(|r| match r {
                Reply::Rows { columns, rows, .. } => Some((columns, rows)),
                _ => None,
            }))
        };
        match (rows_of(columns), rows_of(indexes)) {
            (Ok(Some((columns, rows))), Ok(indexes)) if !rows.is_empty() => {
                say!("Table \"{name}\"");
                let table = render::table(&columns, &rows, false, "");
                // psql prints no row count under a description.
                say_part!("{}", table.rsplit_once("(").map_or(table.as_str(), |(t, _)| t));
                if let Some((_, indexes)) = indexes.filter(|(_, rows)| !rows.is_empty()) {
                    say!("Indexes:");
                    for index in indexes {
                        let name = index.first().cloned().flatten().unwrap_or_default();
                        let definition = index.get(1).cloned().flatten().unwrap_or_default();
                        say!("    \"{name}\" {definition}");
                    }
                }
                say!();
                Flow::Continue
            }
            (Err(failure), _) | (_, Err(failure)) => {
                report(&source.location(), &failure);
                self.meta_failed(source)
            }
            _ => {
                say_err!("{}Did not find any relation named \"{name}\".", source.location());
                self.meta_failed(source)
            }
        }
    }
}

/// Prints a failure as psql does (`ERROR:  …`, then DETAIL and HINT).
fn report(location: &str, failure: &Failure) {
    crate::progress::suspend(|| write_failure(location, failure));
}

fn write_failure(location: &str, failure: &Failure) {
    let severity = if failure.fatal { "FATAL" } else { "ERROR" };
    match &failure.code {
        Some(code) => eprintln!("{location}{severity}:  {} (SQLSTATE {code})", failure.message),
        None => eprintln!("{location}{severity}:  {}", failure.message),
    }
    if let Some(detail) = &failure.detail {
        eprintln!("DETAIL:  {detail}");
    }
    if let Some(hint) = &failure.hint {
        eprintln!("HINT:  {hint}");
    }
}

/// A file's text, or standard input's for `-`.
fn read_input(path: &PathBuf) -> Result<String, String> {
    if path.as_os_str() == "-" {
        let mut text = String::new();
        for line in std::io::stdin().lock().lines() {
            let line = line.map_err(|e| format!("reading standard input: {e}"))?;
            text.push_str(&line);
            text.push('\n');
        }
        return Ok(text);
    }
    std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}
