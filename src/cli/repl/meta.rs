//! Backslash commands of the REPL. Each is described once, in [`COMMANDS`];
//! the help (`\?`) and the parser both read that table.

use std::path::PathBuf;

use crate::cli::print::OutputFormat;

/// A parsed backslash command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Meta {
    /// `\?`: the help.
    Help,
    /// `\q`: leave.
    Quit,
    /// `\d`: the tables of every schema, or of one.
    Tables(Option<String>),
    /// `\d TABLE`: a table's columns and types.
    Describe(String),
    /// `\dn`: the schemas.
    Schemas,
    /// `\timing [on|off]`: elapsed time and rows after each statement.
    Timing(Option<bool>),
    /// `\format [FORMAT]`: how results print.
    Format(Option<OutputFormat>),
    /// `\o [FILE]`: results to a file, or back to the terminal.
    Output(Option<PathBuf>),
    /// `\i FILE`: run the statements in a file.
    Include(PathBuf),
    /// `\x [on|off]`: expanded (one value per line) display.
    Expanded(Option<bool>),
}

/// Name, arguments, what it does.
const COMMANDS: &[(&str, &str, &str)] = &[
    ("\\?", "", "show this help"),
    ("\\q", "", "quit (Ctrl-D too)"),
    (
        "\\d",
        "[TABLE|SCHEMA]",
        "list tables, or describe a table (partition columns marked)",
    ),
    ("\\dn", "", "list schemas"),
    (
        "\\timing",
        "[on|off]",
        "toggle elapsed time and row count after each statement",
    ),
    (
        "\\format",
        "[table|csv|tsv|json|ndjson|markdown]",
        "show or set the output format",
    ),
    (
        "\\o",
        "[FILE]",
        "send results to FILE, or back to the terminal",
    ),
    ("\\i", "FILE", "run the SQL statements in FILE"),
    (
        "\\x",
        "[on|off]",
        "toggle expanded display (one column per line)",
    ),
];

/// The help text.
pub fn help() -> String {
    let width = COMMANDS
        .iter()
        .map(|(n, a, _)| n.len() + a.len() + 1)
        .max()
        .unwrap_or(0);
    let mut out =
        String::from("Statements end with ';'. Ctrl-C cancels a running query, Ctrl-D leaves.\n");
    for (name, args, what) in COMMANDS {
        let left = if args.is_empty() {
            name.to_string()
        } else {
            format!("{name} {args}")
        };
        out.push_str(&format!("  {left:<width$}  {what}\n"));
    }
    out
}

fn on_off(arg: Option<&str>) -> Result<Option<bool>, String> {
    match arg {
        None => Ok(None),
        Some("on") => Ok(Some(true)),
        Some("off") => Ok(Some(false)),
        Some(other) => Err(format!("expected on or off, got `{other}`")),
    }
}

/// Parses a line starting with `\`.
pub fn parse(line: &str) -> Result<Meta, String> {
    let line = line.trim().trim_end_matches(';').trim();
    let (name, arg) = match line.split_once(char::is_whitespace) {
        Some((n, a)) => (n, Some(a.trim()).filter(|a| !a.is_empty())),
        None => (line, None),
    };
    Ok(match name {
        "\\?" | "\\h" | "\\help" => Meta::Help,
        "\\q" | "\\quit" => Meta::Quit,
        "\\d" => match arg {
            None => Meta::Tables(None),
            Some(a) if a.contains('.') => Meta::Describe(a.to_string()),
            Some(a) => Meta::Tables(Some(a.to_string())),
        },
        "\\dn" => Meta::Schemas,
        "\\timing" => Meta::Timing(on_off(arg)?),
        "\\x" => Meta::Expanded(on_off(arg)?),
        "\\format" => Meta::Format(
            arg.map(|a| {
                <OutputFormat as clap::ValueEnum>::from_str(a, true).map_err(|_| {
                    format!("unknown format `{a}` (table, csv, tsv, json, ndjson, markdown)")
                })
            })
            .transpose()?,
        ),
        "\\o" => Meta::Output(arg.map(PathBuf::from)),
        "\\i" => Meta::Include(PathBuf::from(arg.ok_or("\\i needs a file")?)),
        other => return Err(format!("unknown command `{other}`; \\? lists them")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse() {
        assert_eq!(parse("\\d"), Ok(Meta::Tables(None)));
        assert_eq!(parse("\\d gold"), Ok(Meta::Tables(Some("gold".into()))));
        assert_eq!(
            parse("\\d gold.fact_sales"),
            Ok(Meta::Describe("gold.fact_sales".into()))
        );
        assert_eq!(parse("\\timing on"), Ok(Meta::Timing(Some(true))));
        assert_eq!(
            parse("\\format csv"),
            Ok(Meta::Format(Some(OutputFormat::Csv)))
        );
        assert!(parse("\\format xml").is_err());
        assert!(parse("\\zz").unwrap_err().contains("\\?"));
        assert_eq!(parse("\\q;"), Ok(Meta::Quit));
    }

    #[test]
    fn the_help_lists_every_command() {
        let h = help();
        for (name, _, _) in COMMANDS {
            assert!(h.contains(name), "{name}");
        }
    }
}
