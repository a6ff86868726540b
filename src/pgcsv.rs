//! PostgreSQL's CSV dialect (`COPY ... (FORMAT csv, HEADER)`), read and written
//! as Arrow record batches.
//!
//! Arrow's own CSV reader cannot be used for the legacy extract: it reads an
//! unquoted empty field and a quoted empty string (`""`) both as NULL, while
//! the contract says NULL is the former and an empty string the latter, and
//! the raw layer must keep the two apart. This reader tracks quoting per field
//! and names the file and physical line of any record it rejects.

use std::io::{BufRead, Write};
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, RecordBatch, StringArray, StringBuilder,
};
use datafusion::arrow::compute::{CastOptions, cast_with_options};
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};

use crate::error::{Error, Result};

/// Rows per record batch produced by [`BatchReader`].
pub const BATCH_ROWS: usize = 8192;

/// Splits a byte stream into CSV records, remembering which fields were quoted.
pub struct RecordReader<R> {
    inner: R,
    /// Physical line the reader is on (1-based).
    line: u64,
    /// Bytes of the current record's fields, back to back.
    data: Vec<u8>,
    /// End offset in `data` of each field.
    ends: Vec<usize>,
    /// Whether each field had a quote anywhere (so it can't be NULL).
    quoted: Vec<bool>,
    /// Line the current record started on.
    record_line: u64,
}

impl<R: BufRead> RecordReader<R> {
    /// Wraps a reader positioned at the start of a record.
    pub fn new(inner: R) -> Self {
        RecordReader {
            inner,
            line: 1,
            data: Vec::with_capacity(256),
            ends: Vec::with_capacity(16),
            quoted: Vec::with_capacity(16),
            record_line: 1,
        }
    }

    /// Line the last record read started on.
    fn record_line(&self) -> u64 {
        self.record_line
    }

    /// Number of fields in the last record read.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Field `i` of the last record: `None` for NULL (unquoted and empty).
    pub fn field(&self, i: usize) -> Option<&[u8]> {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        let end = self.ends[i];
        if start == end && !self.quoted[i] {
            None
        } else {
            Some(&self.data[start..end])
        }
    }

    /// Reads the next record. `Ok(false)` at the end of input.
    ///
    /// Follows PostgreSQL: a quote opens or closes quoting anywhere in a field,
    /// `""` inside quotes is one quote, and a newline inside quotes is data.
    fn read_record(&mut self) -> std::io::Result<bool> {
        self.data.clear();
        self.ends.clear();
        self.quoted.clear();
        self.record_line = self.line;
        let mut in_quotes = false;
        let mut field_quoted = false;
        // A quote seen at the end of a buffer may be the first of a `""` pair.
        let mut pending_quote = false;
        let mut started = false;
        loop {
            let buf = self.inner.fill_buf()?;
            if buf.is_empty() {
                if pending_quote {
                    in_quotes = false;
                }
                if in_quotes {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!(
                            "unterminated quoted field starting on line {}",
                            self.record_line
                        ),
                    ));
                }
                if !started {
                    return Ok(false);
                }
                self.ends.push(self.data.len());
                self.quoted.push(field_quoted);
                return Ok(true);
            }
            started = true;
            let mut consumed = 0;
            let mut done = false;
            for &b in buf {
                consumed += 1;
                if pending_quote {
                    pending_quote = false;
                    if b == b'"' {
                        self.data.push(b'"');
                        continue;
                    }
                    in_quotes = false;
                }
                if in_quotes {
                    match b {
                        b'"' => pending_quote = true,
                        b'\n' => {
                            self.line += 1;
                            self.data.push(b);
                        }
                        _ => self.data.push(b),
                    }
                    continue;
                }
                match b {
                    b',' => {
                        self.ends.push(self.data.len());
                        self.quoted.push(field_quoted);
                        field_quoted = false;
                    }
                    b'"' => {
                        in_quotes = true;
                        field_quoted = true;
                    }
                    b'\n' => {
                        self.line += 1;
                        // A CR before the LF belongs to the line ending.
                        let field_start = self.ends.last().copied().unwrap_or(0);
                        if self.data.len() > field_start && self.data.last() == Some(&b'\r') {
                            self.data.pop();
                        }
                        self.ends.push(self.data.len());
                        self.quoted.push(field_quoted);
                        done = true;
                        break;
                    }
                    _ => self.data.push(b),
                }
            }
            self.inner.consume(consumed);
            if done {
                return Ok(true);
            }
        }
    }
}

/// Reads a CSV file of a known schema into record batches.
///
/// Every field is first collected as text, then each column is cast to its
/// declared type in one vectorised step; a value that does not convert is
/// reported with its line and column.
pub struct BatchReader<R> {
    records: RecordReader<R>,
    schema: SchemaRef,
    file: String,
    batch_rows: usize,
    /// In lenient mode, the rows that could not be read (else the first
    /// such row is an error).
    rejects: Option<Vec<Reject>>,
}

/// A row a lenient reader set aside, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    /// The line the record starts on (the header is line 1).
    pub line: u64,
    /// What is wrong with it.
    pub reason: String,
    /// The record's fields, comma-joined as read (NULL as empty).
    pub record: String,
}

impl<R: BufRead> BatchReader<R> {
    /// Opens a reader, checking that the header names the schema's columns in order.
    pub fn new(input: R, schema: SchemaRef, file: impl Into<String>) -> Result<Self> {
        let file = file.into();
        let mut records = RecordReader::new(input);
        let io_err = |e: std::io::Error, line| Error::Csv {
            file: file.clone(),
            line,
            message: e.to_string(),
        };
        if !records.read_record().map_err(|e| io_err(e, 1))? {
            return Err(Error::Csv {
                file,
                line: 1,
                message: "empty file: expected a header line".into(),
            });
        }
        let found: Vec<String> = (0..records.len())
            .map(|i| String::from_utf8_lossy(records.field(i).unwrap_or_default()).into_owned())
            .collect();
        let expected: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        if found != expected {
            return Err(Error::Csv {
                file,
                line: 1,
                message: format!(
                    "header does not match the table's columns\n  expected: {}\n  found:    {}",
                    expected.join(","),
                    crate::error::quoted(&found.join(","))
                ),
            });
        }
        Ok(BatchReader {
            records,
            schema,
            file,
            batch_rows: BATCH_ROWS,
            rejects: None,
        })
    }

    /// Sets unreadable rows aside (see [`BatchReader::take_rejects`])
    /// instead of failing on the first: a landed file loads all its good rows.
    pub fn lenient(mut self) -> Self {
        self.rejects = Some(Vec::new());
        self
    }

    /// The rows set aside since the last call (lenient mode).
    pub fn take_rejects(&mut self) -> Vec<Reject> {
        self.rejects
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    fn record_text(&self) -> String {
        (0..self.records.len())
            .map(|i| {
                String::from_utf8_lossy(self.records.field(i).unwrap_or_default()).into_owned()
            })
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Reads the next batch, or `None` at the end of the file.
    pub fn next_batch(&mut self) -> Result<Option<RecordBatch>> {
        let columns: Vec<usize> = (0..self.schema.fields().len()).collect();
        let width = self.schema.fields().len();
        let mut builders: Vec<StringBuilder> = columns
            .iter()
            .map(|_| StringBuilder::with_capacity(self.batch_rows, self.batch_rows * 16))
            .collect();
        let mut lines = Vec::with_capacity(self.batch_rows);
        while lines.len() < self.batch_rows {
            let more = self.records.read_record().map_err(|e| Error::Csv {
                file: self.file.clone(),
                line: self.records.record_line(),
                message: e.to_string(),
            })?;
            if !more {
                break;
            }
            let line = self.records.record_line();
            let mut problem = None;
            if self.records.len() != width {
                problem = Some(format!(
                    "expected {width} fields, found {}",
                    self.records.len()
                ));
            } else if let Some(col) = (0..width).find(|&c| {
                self.records
                    .field(c)
                    .is_some_and(|b| std::str::from_utf8(b).is_err())
            }) {
                problem = Some(format!(
                    "column {}: not valid UTF-8",
                    self.schema.field(col).name()
                ));
            }
            if let Some(message) = problem {
                let record = self.record_text();
                match &mut self.rejects {
                    Some(rejects) => {
                        rejects.push(Reject {
                            line,
                            reason: message,
                            record,
                        });
                        continue;
                    }
                    None => {
                        return Err(Error::Csv {
                            file: self.file.clone(),
                            line,
                            message,
                        });
                    }
                }
            }
            for (builder, &col) in builders.iter_mut().zip(&columns) {
                match self.records.field(col) {
                    None => builder.append_null(),
                    Some(bytes) => {
                        let text = std::str::from_utf8(bytes).map_err(|_| Error::Csv {
                            file: self.file.clone(),
                            line,
                            message: format!(
                                "column {}: not valid UTF-8",
                                self.schema.field(col).name()
                            ),
                        })?;
                        builder.append_value(text);
                    }
                }
            }
            lines.push(line);
        }
        if lines.is_empty() {
            return Ok(None);
        }
        let texts: Vec<StringArray> = builders.into_iter().map(|mut b| b.finish()).collect();
        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(columns.len());
        // Per row, the first problem found (lenient mode sets those rows aside).
        let mut problems: Vec<Option<String>> = vec![None; lines.len()];
        for (text, &col) in texts.iter().zip(&columns) {
            let field = self.schema.field(col);
            let typed = if field.data_type() == &DataType::Utf8 {
                Arc::new(text.clone()) as ArrayRef
            } else {
                cast_with_options(
                    text,
                    field.data_type(),
                    &CastOptions {
                        safe: true,
                        ..Default::default()
                    },
                )?
            };
            for (row, problem) in problems.iter_mut().enumerate() {
                if problem.is_some() {
                    continue;
                }
                if text.is_valid(row) && typed.is_null(row) {
                    *problem = Some(format!(
                        "column {}: cannot read {} as {}",
                        field.name(),
                        crate::error::quoted(text.value(row)),
                        field.data_type()
                    ));
                } else if !field.is_nullable() && typed.is_null(row) {
                    *problem = Some(format!("column {} is NULL but may not be", field.name()));
                }
            }
            arrays.push(typed);
        }
        if let Some(row) = problems.iter().position(Option::is_some) {
            let Some(rejects) = &mut self.rejects else {
                return Err(Error::Csv {
                    file: self.file.clone(),
                    line: lines[row],
                    message: problems[row].clone().expect("found above"),
                });
            };
            for (row, problem) in problems.iter().enumerate() {
                if let Some(reason) = problem {
                    let record = texts
                        .iter()
                        .map(|t| if t.is_valid(row) { t.value(row) } else { "" })
                        .collect::<Vec<_>>()
                        .join(",");
                    rejects.push(Reject {
                        line: lines[row],
                        reason: reason.clone(),
                        record,
                    });
                }
            }
            let keep: BooleanArray = problems.iter().map(|p| Some(p.is_none())).collect();
            arrays = arrays
                .iter()
                .map(|a| datafusion::arrow::compute::filter(a, &keep))
                .collect::<std::result::Result<_, _>>()?;
        }
        Ok(Some(RecordBatch::try_new(self.schema.clone(), arrays)?))
    }
}

/// Writes batches as PostgreSQL CSV: header once, NULL as an unquoted empty
/// field, an empty string as `""`, quoting only where needed.
pub struct CsvEncoder {
    options: FormatOptions<'static>,
}

impl Default for CsvEncoder {
    fn default() -> Self {
        CsvEncoder {
            // Spelled as PostgreSQL prints timestamps, so a raw extract of the
            // fixture is byte-identical to the fixture.
            options: FormatOptions::default()
                .with_null("")
                .with_timestamp_format(Some("%Y-%m-%d %H:%M:%S%.f"))
                .with_datetime_format(Some("%Y-%m-%d %H:%M:%S%.f")),
        }
    }
}

impl CsvEncoder {
    /// Writes the header line for `schema`.
    pub fn write_header(&self, out: &mut impl Write, schema: &SchemaRef) -> std::io::Result<()> {
        for (i, f) in schema.fields().iter().enumerate() {
            if i > 0 {
                out.write_all(b",")?;
            }
            write_text(out, f.name())?;
        }
        out.write_all(b"\n")
    }

    /// Appends the rows of `batch`.
    pub fn write_batch(&self, out: &mut impl Write, batch: &RecordBatch) -> Result<()> {
        enum Column<'a> {
            Text(&'a dyn Array),
            Other(ArrayFormatter<'a>),
        }
        let columns: Vec<Column> = batch
            .columns()
            .iter()
            .map(|a| match a.data_type() {
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
                    Ok(Column::Text(a.as_ref()))
                }
                _ => ArrayFormatter::try_new(a.as_ref(), &self.options).map(Column::Other),
            })
            .collect::<Result<_, _>>()?;
        let io = |e: std::io::Error| Error::Lake {
            key: "csv".into(),
            message: e.to_string(),
        };
        for row in 0..batch.num_rows() {
            for (i, col) in columns.iter().enumerate() {
                if i > 0 {
                    out.write_all(b",").map_err(io)?;
                }
                match col {
                    Column::Text(a) => {
                        if a.is_valid(row) {
                            write_text(out, text_value(*a, row)).map_err(io)?;
                        }
                    }
                    Column::Other(f) => {
                        write!(out, "{}", f.value(row)).map_err(io)?;
                    }
                }
            }
            out.write_all(b"\n").map_err(io)?;
        }
        Ok(())
    }
}

fn text_value(a: &dyn Array, row: usize) -> &str {
    match a.data_type() {
        DataType::Utf8 => a.as_string::<i32>().value(row),
        DataType::LargeUtf8 => a.as_string::<i64>().value(row),
        _ => a.as_string_view().value(row),
    }
}

/// Writes one non-NULL text value, quoted when PostgreSQL would quote it.
pub fn write_text(out: &mut impl Write, s: &str) -> std::io::Result<()> {
    let needs_quotes =
        s.is_empty() || s == "\\." || s.bytes().any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r'));
    if !needs_quotes {
        return out.write_all(s.as_bytes());
    }
    out.write_all(b"\"")?;
    for part in s.split_inclusive('"') {
        out.write_all(part.as_bytes())?;
        if part.ends_with('"') {
            out.write_all(b"\"")?;
        }
    }
    out.write_all(b"\"")
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::datatypes::{Field, Schema};

    fn records(input: &str) -> Vec<Vec<Option<String>>> {
        // A tiny buffer makes every state cross a buffer boundary.
        let mut r = RecordReader::new(std::io::BufReader::with_capacity(1, input.as_bytes()));
        let mut out = vec![];
        while r.read_record().unwrap() {
            out.push(
                (0..r.len())
                    .map(|i| r.field(i).map(|b| String::from_utf8(b.to_vec()).unwrap()))
                    .collect(),
            );
        }
        out
    }

    fn s(v: &str) -> Option<String> {
        Some(v.to_string())
    }

    #[test]
    fn null_is_unquoted_empty_and_empty_string_is_quoted() {
        assert_eq!(records("a,,\"\"\n"), vec![vec![s("a"), None, s("")]]);
    }

    #[test]
    fn quotes_commas_and_newlines_inside_quotes() {
        assert_eq!(
            records("\"x,y\",\"say \"\"hi\"\"\",\"two\nlines\"\nz,1,2\n"),
            vec![
                vec![s("x,y"), s("say \"hi\""), s("two\nlines")],
                vec![s("z"), s("1"), s("2")]
            ]
        );
    }

    #[test]
    fn crlf_and_missing_final_newline() {
        assert_eq!(
            records("a,b\r\nc,d"),
            vec![vec![s("a"), s("b")], vec![s("c"), s("d")]]
        );
    }

    #[test]
    fn padding_is_kept() {
        assert_eq!(records(" sudeste ,x\n"), vec![vec![s(" sudeste "), s("x")]]);
    }

    #[test]
    fn unterminated_quote_is_an_error() {
        let mut r = RecordReader::new("\"abc\n".as_bytes());
        assert!(r.read_record().is_err());
    }

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("name", DataType::Utf8, true),
            Field::new("price", DataType::Decimal128(12, 2), false),
        ]))
    }

    #[test]
    fn typed_batches_and_errors_name_file_and_line() {
        let ok = "id,name,price\n1,,2.50\n2,\"\",3.00\n";
        let mut r = BatchReader::new(ok.as_bytes(), schema(), "f.csv").unwrap();
        let b = r.next_batch().unwrap().unwrap();
        assert_eq!(b.num_rows(), 2);
        assert!(b.column(1).is_null(0));
        assert_eq!(b.column(1).as_string::<i32>().value(1), "");
        assert!(r.next_batch().unwrap().is_none());

        let bad = "id,name,price\n1,a,2.50\n2,b,abc\n";
        let mut r = BatchReader::new(bad.as_bytes(), schema(), "f.csv").unwrap();
        let e = r.next_batch().unwrap_err().to_string();
        assert!(e.starts_with("f.csv:3: column price"), "{e}");

        let short = "id,name,price\n1,a\n";
        let mut r = BatchReader::new(short.as_bytes(), schema(), "f.csv").unwrap();
        let e = r.next_batch().unwrap_err().to_string();
        assert_eq!(e, "f.csv:2: expected 3 fields, found 2");

        let null_id = "id,name,price\n,a,1.00\n";
        let mut r = BatchReader::new(null_id.as_bytes(), schema(), "f.csv").unwrap();
        let e = r.next_batch().unwrap_err().to_string();
        assert_eq!(e, "f.csv:2: column id is NULL but may not be");

        let e = BatchReader::new("id,nom,price\n".as_bytes(), schema(), "f.csv")
            .err()
            .unwrap()
            .to_string();
        assert!(e.starts_with("f.csv:1: header does not match"), "{e}");
    }

    #[test]
    fn encoder_round_trips_through_the_reader() {
        let input = "id,name,price\n1,,2.50\n2,\"\",3.00\n3,\"a,\"\"b\"\"\",4.10\n";
        let mut r = BatchReader::new(input.as_bytes(), schema(), "f.csv").unwrap();
        let batch = r.next_batch().unwrap().unwrap();
        let enc = CsvEncoder::default();
        let mut out = vec![];
        enc.write_header(&mut out, &schema()).unwrap();
        enc.write_batch(&mut out, &batch).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), input);
    }
}
