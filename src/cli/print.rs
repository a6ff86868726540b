//! Printing query results: a terminal table, CSV or JSON.

use comfy_table::{Cell, CellAlignment, ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};

use crate::error::{Error, Result};
use crate::pgcsv::CsvEncoder;

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum OutputFormat {
    /// A table for people.
    #[default]
    Table,
    /// CSV with a header (PostgreSQL's dialect).
    Csv,
    /// Tab-separated, with a header; tabs, newlines and backslashes escaped.
    Tsv,
    /// A JSON array of objects.
    Json,
    /// One JSON object per line.
    Ndjson,
    /// A Markdown table.
    Markdown,
}

/// How results are printed: format, row cap, layout.
#[derive(Debug, Clone, Copy, Default)]
pub struct PrintOptions {
    /// The format.
    pub format: OutputFormat,
    /// Rows shown at most (a line says how many were left out).
    pub max_rows: Option<usize>,
    /// One `column | value` line per column, a block per row (table format).
    pub expanded: bool,
}

/// Renders at most `max_rows` rows, saying how many were left out.
pub fn render_with(batches: &[RecordBatch], options: &PrintOptions) -> Result<String> {
    let total: usize = batches.iter().map(|b| b.num_rows()).sum();
    let shown: Vec<RecordBatch> = match options.max_rows {
        Some(max) if total > max => {
            let mut left = max;
            let mut out = vec![];
            for b in batches {
                if left == 0 {
                    break;
                }
                let n = left.min(b.num_rows());
                out.push(b.slice(0, n));
                left -= n;
            }
            out
        }
        _ => batches.to_vec(),
    };
    let mut text = if options.expanded && options.format == OutputFormat::Table {
        expanded(&shown)?
    } else if shown.is_empty() && !batches.is_empty() {
        render(
            &batches[..1]
                .iter()
                .map(|b| b.slice(0, 0))
                .collect::<Vec<_>>(),
            options.format,
        )?
    } else {
        render(&shown, options.format)?
    };
    let shown_rows: usize = shown.iter().map(|b| b.num_rows()).sum();
    if shown_rows < total {
        text.push_str(&format!(
            "({} of {} rows shown, {} left out; raise --max-rows to see more)\n",
            shown_rows,
            total,
            total - shown_rows
        ));
    }
    Ok(text)
}

fn expanded(batches: &[RecordBatch]) -> Result<String> {
    let mut out = String::new();
    let mut n = 0;
    for b in batches {
        let schema = b.schema();
        let width = schema
            .fields()
            .iter()
            .map(|f| f.name().len())
            .max()
            .unwrap_or(0);
        for row in rows_of(b, "NULL")? {
            n += 1;
            out.push_str(&format!("-[ RECORD {n} ]-\n"));
            for (value, field) in row.iter().zip(schema.fields()) {
                out.push_str(&format!("{:<width$} | {value}\n", field.name()));
            }
        }
    }
    if n == 0 {
        out.push_str("(no rows)\n");
    }
    Ok(out)
}

/// Batches as JSON in format `F` (an array, or one object per line).
fn json<F: datafusion::arrow::json::writer::JsonFormat>(batches: &[RecordBatch]) -> Result<String> {
    let mut writer = datafusion::arrow::json::Writer::<_, F>::new(Vec::new());
    for b in batches {
        writer.write(b)?;
    }
    writer.finish()?;
    Ok(String::from_utf8(writer.into_inner()).expect("JSON output is UTF-8"))
}

/// The column names of a batch.
fn header(batch: &RecordBatch) -> Vec<String> {
    batch
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect()
}

/// Every row of `batch` as text cells, NULL spelled as `null` says.
pub fn rows_of(batch: &RecordBatch, null: &str) -> Result<Vec<Vec<String>>> {
    // Zoneless timestamps as Trino and Athena print them, with a space
    // (Arrow writes `T`), at every depth: in arrays and maps too.
    let options = FormatOptions::default()
        .with_null(null)
        .with_timestamp_format(Some("%Y-%m-%d %H:%M:%S%.f"))
        .with_datetime_format(Some("%Y-%m-%d %H:%M:%S%.f"));
    // Zoned timestamps as Trino prints them: the zone's wall clock, then
    // the zone (Arrow writes the UTC offset in RFC 3339).
    let columns = batch
        .columns()
        .iter()
        .map(|c| crate::engine::trino::zoned_display(c, "%Y-%m-%d %H:%M:%S%.f"))
        .collect::<datafusion::error::Result<Vec<_>>>()?;
    let formatters = columns
        .iter()
        .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok((0..batch.num_rows())
        .map(|row| {
            formatters
                .iter()
                .map(|f| f.value(row).to_string())
                .collect()
        })
        .collect())
}

/// `batch` with its TIME WITH TIME ZONE columns as text: Arrow holds them as
/// timestamps on the epoch's day, which the CSV and JSON writers would print.
fn times_of_day_as_text(batch: &RecordBatch) -> Result<RecordBatch> {
    let columns = batch
        .columns()
        .iter()
        .map(crate::engine::trino::time_zoned_as_text)
        .collect::<datafusion::error::Result<Vec<_>>>()?;
    if columns
        .iter()
        .zip(batch.columns())
        .all(|(a, b)| a.data_type() == b.data_type())
    {
        return Ok(batch.clone());
    }
    let fields: Vec<_> = batch
        .schema()
        .fields()
        .iter()
        .zip(&columns)
        .map(|(f, c)| f.as_ref().clone().with_data_type(c.data_type().clone()))
        .collect();
    Ok(RecordBatch::try_new(
        std::sync::Arc::new(datafusion::arrow::datatypes::Schema::new(fields)),
        columns,
    )?)
}

/// Renders batches in `format`.
pub fn render(batches: &[RecordBatch], format: OutputFormat) -> Result<String> {
    let batches = &batches
        .iter()
        .map(times_of_day_as_text)
        .collect::<Result<Vec<_>>>()?;
    match format {
        OutputFormat::Table => table(batches),
        OutputFormat::Csv => {
            let mut out = Vec::new();
            let enc = CsvEncoder::default();
            if let Some(first) = batches.first() {
                enc.write_header(&mut out, &first.schema())
                    .map_err(|e| Error::io("stdout", e))?;
            }
            for b in batches {
                enc.write_batch(&mut out, b)?;
            }
            Ok(String::from_utf8(out).expect("CSV output is UTF-8"))
        }
        OutputFormat::Tsv => {
            let mut out = String::new();
            if let Some(first) = batches.first() {
                let names = header(first);
                out.push_str(&names.join("\t"));
                out.push('\n');
            }
            for b in batches {
                for row in rows_of(b, "")? {
                    let cells: Vec<String> = row
                        .iter()
                        .map(|v| {
                            v.replace('\\', "\\\\")
                                .replace('\t', "\\t")
                                .replace('\n', "\\n")
                                .replace('\r', "\\r")
                        })
                        .collect();
                    out.push_str(&cells.join("\t"));
                    out.push('\n');
                }
            }
            Ok(out)
        }
        OutputFormat::Ndjson => json::<datafusion::arrow::json::writer::LineDelimited>(batches),
        OutputFormat::Markdown => {
            let mut out = String::new();
            let Some(first) = batches.first() else {
                return Ok(String::new());
            };
            let names = header(first);
            out.push_str(&format!("| {} |\n", names.join(" | ")));
            out.push_str(&format!("|{}\n", " --- |".repeat(names.len())));
            for b in batches {
                for row in rows_of(b, "NULL")? {
                    let cells: Vec<String> = row
                        .iter()
                        .map(|v| v.replace('|', "\\|").replace('\n', " "))
                        .collect();
                    out.push_str(&format!("| {} |\n", cells.join(" | ")));
                }
            }
            Ok(out)
        }
        OutputFormat::Json => {
            let mut out = json::<datafusion::arrow::json::writer::JsonArray>(batches)?;
            if out.is_empty() {
                out.push_str("[]");
            }
            out.push('\n');
            Ok(out)
        }
    }
}

/// A table in the house style, sized to the terminal.
pub fn new_table() -> Table {
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED);
    // Fit to the terminal, unless it reports a useless width (a pty with no
    // size says 0): then wrapping would put one character per line.
    if t.width().is_none_or(|w| w >= 40) {
        t.set_content_arrangement(ContentArrangement::Dynamic);
    }
    t
}

fn table(batches: &[RecordBatch]) -> Result<String> {
    let mut t = new_table();
    let Some(first) = batches.first() else {
        return Ok("(no rows)\n".to_string());
    };
    let schema = first.schema();
    t.set_header(schema.fields().iter().map(|f| Cell::new(f.name())));
    let numeric: Vec<bool> = schema
        .fields()
        .iter()
        .map(|f| f.data_type().is_numeric() || matches!(f.data_type(), DataType::Decimal128(..)))
        .collect();
    for b in batches {
        for row in rows_of(b, "NULL")? {
            t.add_row(row.into_iter().zip(&numeric).map(|(value, &num)| {
                let cell = Cell::new(value);
                if num {
                    cell.set_alignment(CellAlignment::Right)
                } else {
                    cell
                }
            }));
        }
    }
    Ok(format!("{t}\n"))
}
