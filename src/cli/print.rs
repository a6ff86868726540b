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
    /// A JSON array of objects.
    Json,
}

/// Renders batches in `format`.
pub fn render(batches: &[RecordBatch], format: OutputFormat) -> Result<String> {
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
        OutputFormat::Json => {
            let mut writer = datafusion::arrow::json::ArrayWriter::new(Vec::new());
            for b in batches {
                writer.write(b)?;
            }
            writer.finish()?;
            let mut out = String::from_utf8(writer.into_inner()).expect("JSON output is UTF-8");
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
    t.load_style(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic);
    t
}

fn table(batches: &[RecordBatch]) -> Result<String> {
    let mut t = new_table();
    let Some(first) = batches.first() else {
        return Ok("(no rows)\n".to_string());
    };
    let schema = first.schema();
    t.set_header(schema.fields().iter().map(|f| Cell::new(f.name())));
    let options = FormatOptions::default().with_null("NULL");
    let numeric: Vec<bool> = schema
        .fields()
        .iter()
        .map(|f| f.data_type().is_numeric() || matches!(f.data_type(), DataType::Decimal128(..)))
        .collect();
    for b in batches {
        let formatters = b
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        for row in 0..b.num_rows() {
            t.add_row(formatters.iter().zip(&numeric).map(|(f, &num)| {
                let cell = Cell::new(f.value(row).to_string());
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
