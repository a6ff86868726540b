//! `strata sql`.

use super::{Outcome, open_lake};
use crate::cli::SqlArgs;
use crate::cli::print::PrintOptions;
use crate::cli::repl::{self, Flow, Session};
use crate::config::Config;
use crate::error::{Error, Result};

/// The prompt, or the statements of `-c`, `-f` and standard input.
pub async fn sql(config: Config, args: &SqlArgs) -> Result<Outcome> {
    let ws = open_lake(config).await?;
    let interactive = args.command.is_empty() && args.file.is_none() && repl::stdin_is_terminal();
    let print = PrintOptions {
        format: args.format,
        max_rows: args.max_rows.or(interactive.then_some(40)),
        expanded: false,
    };
    if interactive {
        return repl::interactive(&ws, print, args.output.as_deref())
            .await
            .map(|_| Outcome::Success);
    }
    let mut session = Session::new(&ws, print);
    session.set_output(args.output.as_deref())?;
    let mut texts: Vec<String> = args.command.clone();
    if let Some(f) = &args.file {
        texts.push(std::fs::read_to_string(f).map_err(|e| Error::io(f, e))?);
    }
    if texts.is_empty() {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
            .map_err(|e| Error::io("stdin", e))?;
        texts.push(text);
    }
    for text in texts {
        let (ok, flow) = session.run_text(&text, true).await?;
        if !ok {
            return Ok(Outcome::Failed);
        }
        if flow == Flow::Quit {
            break;
        }
    }
    Ok(Outcome::Success)
}
