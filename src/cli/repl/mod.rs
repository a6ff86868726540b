//! `strata sql`: SQL over the lake, at a prompt or from `-c`, `-f` and pipes.
//!
//! The loop (this file), statement splitting ([`split`]), backslash commands
//! ([`meta`]), completion ([`helper`]) and printing (`cli::print`) each live in
//! their own module, as in datafusion-cli.

pub mod helper;
pub mod meta;
pub(crate) use crate::engine::split;

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use datafusion::arrow::array::RecordBatch;

use crate::app::Workspace;
use crate::app::statement::execute;
use crate::cli::print::{PrintOptions, render_with};
use crate::error::{Error, Result, user_message};
use meta::Meta;

/// What the caller should do after a statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Read on.
    Continue,
    /// `\q`.
    Quit,
}

/// The state of one `strata sql` session: how to print, where to.
pub struct Session<'a> {
    ws: &'a Workspace,
    /// How results print.
    pub print: PrintOptions,
    /// Print elapsed time and rows after each statement.
    pub timing: bool,
    output: Option<(PathBuf, std::fs::File)>,
    /// Ctrl-C cancels the running statement (interactive only).
    cancellable: bool,
}

impl<'a> Session<'a> {
    /// A session over `ws`'s lake.
    pub fn new(ws: &'a Workspace, print: PrintOptions) -> Self {
        Session {
            ws,
            print,
            timing: false,
            output: None,
            cancellable: false,
        }
    }

    /// Sends results to a file (`None`: standard output).
    pub fn set_output(&mut self, path: Option<&Path>) -> Result<()> {
        self.output = match path {
            None => None,
            Some(p) => Some((
                p.to_path_buf(),
                std::fs::File::create(p).map_err(|e| Error::io(p, e))?,
            )),
        };
        Ok(())
    }

    fn emit(&mut self, text: &str) -> Result<()> {
        match &mut self.output {
            Some((path, file)) => file
                .write_all(text.as_bytes())
                .map_err(|e| Error::io(&*path, e)),
            None => {
                let mut out = std::io::stdout().lock();
                out.write_all(text.as_bytes())
                    .and_then(|_| out.flush())
                    .map_err(|e| Error::io("stdout", e))
            }
        }
    }

    /// Runs the statements and backslash commands in `text`. Returns
    /// `Ok(false)` if one failed (it is reported); with `stop_on_error`, stops there.
    pub async fn run_text(&mut self, text: &str, stop_on_error: bool) -> Result<(bool, Flow)> {
        let mut ok = true;
        let mut pending = String::new();
        for line in text.split_inclusive('\n') {
            if split::is_blank(&pending) && line.trim_start().starts_with('\\') {
                pending.clear();
                match self.run_one(line.trim()).await {
                    Ok(Flow::Quit) => return Ok((ok, Flow::Quit)),
                    Ok(Flow::Continue) => {}
                    // Nobody reads any more: nothing left to say it to.
                    Err(e) if e.is_closed_pipe() => return Err(e),
                    Err(e) => {
                        report(&e);
                        ok = false;
                        if stop_on_error {
                            return Ok((false, Flow::Continue));
                        }
                    }
                }
                continue;
            }
            pending.push_str(line);
            let (statements, rest) = split::split(&pending);
            for s in statements {
                if let Err(e) = self.run_one(&s).await {
                    if e.is_closed_pipe() {
                        return Err(e);
                    }
                    report(&e);
                    ok = false;
                    if stop_on_error {
                        return Ok((false, Flow::Continue));
                    }
                }
            }
            pending = rest;
        }
        // A last statement without `;` still runs (`-c "SELECT 1"`).
        if !split::is_blank(&pending)
            && let Err(e) = self.run_one(pending.trim()).await
        {
            if e.is_closed_pipe() {
                return Err(e);
            }
            report(&e);
            ok = false;
        }
        Ok((ok, Flow::Continue))
    }

    /// Runs one statement or backslash command.
    pub async fn run_one(&mut self, text: &str) -> Result<Flow> {
        if text.starts_with('\\') {
            let command = meta::parse(text).map_err(Error::Config)?;
            return Box::pin(self.meta(command)).await;
        }
        let started = Instant::now();
        let batches = if self.cancellable {
            match tokio::task::block_in_place(|| run_cancellable(self.ws, text))? {
                Some(batches) => batches,
                None => {
                    eprintln!("cancelled");
                    return Ok(Flow::Continue);
                }
            }
        } else {
            execute(self.ws, text).await?
        };
        let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
        let no_columns = batches.first().is_none_or(|b| b.num_columns() == 0);
        if no_columns {
            self.emit("OK\n")?;
        } else {
            let text = render_with(&batches, &self.print)?;
            self.emit(&text)?;
        }
        if self.timing {
            eprintln!("({rows} rows in {:.3} s)", started.elapsed().as_secs_f64());
        }
        Ok(Flow::Continue)
    }

    async fn meta(&mut self, command: Meta) -> Result<Flow> {
        match command {
            Meta::Help => self.emit(&meta::help())?,
            Meta::Quit => return Ok(Flow::Quit),
            Meta::Tables(schema) => {
                let sql = match schema {
                    Some(s) => format!("SHOW TABLES IN {s}"),
                    None => "SHOW TABLES".into(),
                };
                return self.run_one(&sql).await;
            }
            Meta::Describe(t) => return self.run_one(&format!("DESCRIBE {t}")).await,
            Meta::Schemas => {
                let names: Vec<String> = self.ws.engine.tables().into_keys().collect();
                self.emit(&format!("{}\n", names.join("\n")))?;
            }
            Meta::Timing(v) => {
                self.timing = v.unwrap_or(!self.timing);
                eprintln!("timing {}", if self.timing { "on" } else { "off" });
            }
            Meta::Expanded(v) => {
                self.print.expanded = v.unwrap_or(!self.print.expanded);
                eprintln!(
                    "expanded display {}",
                    if self.print.expanded { "on" } else { "off" }
                );
            }
            Meta::Format(None) => eprintln!("format {:?}", self.print.format),
            Meta::Format(Some(f)) => self.print.format = f,
            Meta::Output(path) => self.set_output(path.as_deref())?,
            Meta::Include(path) => {
                let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
                let (_, flow) = Box::pin(self.run_text(&text, false)).await?;
                return Ok(flow);
            }
        }
        Ok(Flow::Continue)
    }
}

/// Runs a statement on a runtime of its own until it ends or Ctrl-C comes
/// (`None`). A cancelled query's tasks stop only at their next yield point;
/// on their own runtime, shut down without waiting, they can never starve the
/// prompt's next statement.
fn run_cancellable(ws: &Workspace, sql: &str) -> Result<Option<Vec<RecordBatch>>> {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| Error::Internal(format!("cannot start a query runtime: {e}")))?;
                let outcome = runtime.block_on(async {
                    tokio::select! {
                        result = execute(ws, sql) => result.map(Some),
                        _ = tokio::signal::ctrl_c() => Ok(None),
                    }
                });
                runtime.shutdown_background();
                outcome
            })
            .join()
            .map_err(|_| Error::Internal("the query thread panicked".into()))?
    })
}

fn report(e: &Error) {
    eprintln!("error: {}", user_message(e));
}

/// The interactive prompt: history in `~/.strata_history`, completion of
/// keywords, schemas, tables and columns, Ctrl-C cancels, Ctrl-D leaves.
pub async fn interactive(
    ws: &Workspace,
    print: PrintOptions,
    output: Option<&Path>,
) -> Result<bool> {
    use rustyline::error::ReadlineError;
    let engine = &ws.engine;
    let mut session = Session::new(ws, print);
    session.set_output(output)?;
    session.cancellable = true;
    let helper = helper::SqlHelper::new(engine).await;
    let mut editor: rustyline::Editor<helper::SqlHelper, rustyline::history::DefaultHistory> =
        rustyline::Editor::new().map_err(|e| Error::Internal(format!("the line editor: {e}")))?;
    editor.set_helper(Some(helper));
    let history = ws.config.history_file.clone();
    if let Some(h) = &history {
        let _ = editor.load_history(h);
    }
    eprintln!(
        "strata sql: {} -- \\? for help, \\q to quit",
        engine.lake().describe()
    );
    loop {
        let line = tokio::task::block_in_place(|| editor.readline("strata> "));
        match line {
            Ok(input) => {
                if split::is_blank(&input) {
                    continue;
                }
                let _ = editor.add_history_entry(input.trim());
                let (_, flow) = session.run_text(&input, false).await?;
                if flow == Flow::Quit {
                    break;
                }
                if let Some(h) = editor.helper_mut() {
                    h.refresh(engine).await;
                }
            }
            Err(ReadlineError::Interrupted) => continue, // Ctrl-C at the prompt: a new line
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(Error::Internal(format!("reading input: {e}"))),
        }
    }
    if let Some(h) = &history {
        let _ = editor.save_history(h);
    }
    Ok(true)
}

/// Whether standard input is a terminal (else `strata sql` reads SQL from it).
pub fn stdin_is_terminal() -> bool {
    std::io::stdin().is_terminal()
}
