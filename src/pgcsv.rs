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
    Array, ArrayRef, AsArray, BooleanArray, PrimitiveArray, RecordBatch, StringArray, StringBuilder,
};
use datafusion::arrow::compute::{CastOptions, cast_with_options};
use datafusion::arrow::datatypes::{
    DataType, Date32Type, Decimal128Type, Int32Type, Int64Type, SchemaRef, TimeUnit,
    TimestampMicrosecondType,
};
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
        Self::starting_at(inner, 1)
    }

    /// Wraps a reader positioned at the start of a record on physical
    /// line `line`.
    fn starting_at(inner: R, line: u64) -> Self {
        RecordReader {
            inner,
            line,
            data: Vec::with_capacity(256),
            ends: Vec::with_capacity(16),
            quoted: Vec::with_capacity(16),
            record_line: line,
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

    /// The last record's bytes as text, when they are valid UTF-8.
    fn text(&self) -> Option<&str> {
        std::str::from_utf8(&self.data).ok()
    }

    /// Field `i` of the last record as a slice of its [`RecordReader::text`]:
    /// `None` for NULL.
    fn field_in<'t>(&self, text: &'t str, i: usize) -> Option<&'t str> {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        let end = self.ends[i];
        if start == end && !self.quoted[i] {
            None
        } else {
            // Fields end at ASCII separators, so these are char boundaries.
            text.get(start..end)
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
            // Runs of plain bytes are found with memchr and copied whole;
            // only the bytes that change the state are looked at one by one.
            let mut i = 0;
            let mut done = false;
            while i < buf.len() {
                if pending_quote {
                    pending_quote = false;
                    if buf[i] == b'"' {
                        self.data.push(b'"');
                        i += 1;
                        continue;
                    }
                    in_quotes = false;
                }
                // Inside quotes only a quote or a newline matters.
                let rest = &buf[i..];
                let found = if in_quotes {
                    memchr::memchr2(b'"', b'\n', rest)
                } else {
                    memchr::memchr3(b',', b'"', b'\n', rest)
                };
                let Some(k) = found else {
                    self.data.extend_from_slice(rest);
                    i = buf.len();
                    break;
                };
                self.data.extend_from_slice(&rest[..k]);
                let b = rest[k];
                i += k + 1;
                match (in_quotes, b) {
                    (true, b'"') => pending_quote = true,
                    (true, _) => {
                        self.line += 1;
                        self.data.push(b);
                    }
                    (false, b',') => {
                        self.ends.push(self.data.len());
                        self.quoted.push(field_quoted);
                        field_quoted = false;
                    }
                    (false, b'"') => {
                        in_quotes = true;
                        field_quoted = true;
                    }
                    (false, _) => {
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
                }
            }
            let consumed = i;
            self.inner.consume(consumed);
            if done {
                return Ok(true);
            }
        }
    }
}

/// Whole records of a CSV file, cut so that chunks can be parsed on
/// different cores, with the physical line the first starts on.
#[derive(Debug)]
pub struct Chunk {
    /// The records' bytes.
    pub bytes: Vec<u8>,
    /// The line of the file the first record starts on.
    pub first_line: u64,
}

/// Cuts a CSV stream at record ends. Finding those needs only the quotes
/// and newlines (a newline inside quotes is data, and every quote flips
/// quoting, `""` twice), which memchr finds far faster than a parser reads
/// fields: one core cuts while the others parse.
pub struct Chunker<R> {
    inner: R,
    line: u64,
    /// Bytes after the last record end of the previous chunk.
    carry: Vec<u8>,
    /// Bytes a chunk should have before it is cut.
    target: usize,
}

impl<R: std::io::Read> Chunker<R> {
    /// Cuts `inner`, positioned at the start of a record on line `line`,
    /// into chunks of about `target` bytes (more when one record is
    /// longer).
    pub fn new(inner: R, line: u64, target: usize) -> Self {
        Chunker {
            inner,
            line,
            carry: Vec::new(),
            target: target.max(1),
        }
    }

    /// The next chunk, or `None` at the end of input. The last chunk holds
    /// whatever is left, an unterminated quote included, for the parser to
    /// report with its line.
    pub fn next_chunk(&mut self) -> std::io::Result<Option<Chunk>> {
        let mut buf = std::mem::take(&mut self.carry);
        let mut want = self.target;
        loop {
            let eof = fill(&mut self.inner, &mut buf, want)?;
            if eof {
                if buf.is_empty() {
                    return Ok(None);
                }
                let first_line = self.line;
                self.line += memchr::memchr_iter(b'\n', &buf).count() as u64;
                return Ok(Some(Chunk {
                    bytes: buf,
                    first_line,
                }));
            }
            if let Some((end, lines)) = last_record_end(&buf) {
                self.carry = buf.split_off(end);
                let first_line = self.line;
                self.line += lines;
                return Ok(Some(Chunk {
                    bytes: buf,
                    first_line,
                }));
            }
            // One record longer than the target: read on.
            want = buf.len() * 2;
        }
    }
}

/// Reads until `buf` holds `want` bytes; true at the end of input.
fn fill(inner: &mut impl std::io::Read, buf: &mut Vec<u8>, want: usize) -> std::io::Result<bool> {
    while buf.len() < want {
        let start = buf.len();
        buf.resize(want, 0);
        match inner.read(&mut buf[start..]) {
            Ok(0) => {
                buf.truncate(start);
                return Ok(true);
            }
            Ok(n) => buf.truncate(start + n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => buf.truncate(start),
            Err(e) => {
                buf.truncate(start);
                return Err(e);
            }
        }
    }
    Ok(false)
}

/// The offset just past the last newline outside quotes in `buf` (which
/// starts at a record), and the newlines up to it.
fn last_record_end(buf: &[u8]) -> Option<(usize, u64)> {
    let mut in_quotes = false;
    let mut lines = 0u64;
    let mut end = None;
    for i in memchr::memchr2_iter(b'"', b'\n', buf) {
        if buf[i] == b'"' {
            in_quotes = !in_quotes;
        } else {
            lines += 1;
            if !in_quotes {
                end = Some((i + 1, lines));
            }
        }
    }
    end
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

    /// A reader of records without a header line, the first on physical
    /// line `first_line` of `file`: a [`Chunk`] of it.
    pub fn headless(input: R, schema: SchemaRef, file: impl Into<String>, first_line: u64) -> Self {
        BatchReader {
            records: RecordReader::starting_at(input, first_line),
            schema,
            file: file.into(),
            batch_rows: BATCH_ROWS,
            rejects: None,
        }
    }

    /// The input after what has been read, and the physical line it is on.
    pub fn into_rest(self) -> (R, u64) {
        (self.records.inner, self.records.line)
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
            // One UTF-8 check per record: fields split at ASCII bytes, so
            // each is valid text when the whole record is.
            let text = self.records.text();
            let problem = if self.records.len() != width {
                Some(format!(
                    "expected {width} fields, found {}",
                    self.records.len()
                ))
            } else if text.is_none() {
                let col = (0..width)
                    .find(|&c| {
                        self.records
                            .field(c)
                            .is_some_and(|b| std::str::from_utf8(b).is_err())
                    })
                    .unwrap_or(0);
                Some(format!(
                    "column {}: not valid UTF-8",
                    self.schema.field(col).name()
                ))
            } else {
                None
            };
            let (None, Some(text)) = (problem.as_ref(), text) else {
                let message = problem.unwrap_or_default();
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
            };
            for (builder, &col) in builders.iter_mut().zip(&columns) {
                match self.records.field_in(text, col) {
                    None => builder.append_null(),
                    Some(value) => builder.append_value(value),
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
            // A column whose cast kept every value and that may hold NULLs
            // has nothing to report: most batches skip the per-row pass.
            if field.is_nullable() && typed.null_count() == text.null_count() {
                arrays.push(typed);
                continue;
            }
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
            Plain(Plain<'a>),
            Other(ArrayFormatter<'a>),
        }
        let columns: Vec<Column> = batch
            .columns()
            .iter()
            .map(|a| match a.data_type() {
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
                    Ok(Column::Text(a.as_ref()))
                }
                _ => match Plain::of(a.as_ref()) {
                    Some(p) => Ok(Column::Plain(p)),
                    None => ArrayFormatter::try_new(a.as_ref(), &self.options).map(Column::Other),
                },
            })
            .collect::<Result<_, _>>()?;
        let io = |e: std::io::Error| Error::Lake {
            key: "csv".into(),
            message: e.to_string(),
        };
        let mut scratch = Vec::with_capacity(64);
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
                    Column::Plain(p) => {
                        scratch.clear();
                        if !p.write(row, &mut scratch) {
                            // Outside the years the fast path spells.
                            let f = ArrayFormatter::try_new(p.array(), &self.options)?;
                            write!(scratch, "{}", f.value(row)).map_err(io)?;
                        }
                        out.write_all(&scratch).map_err(io)?;
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

/// A column of numbers, dates or timestamps written without `fmt`: the
/// encoder is most of the raw layer's work, and chrono parses its format
/// string again for every value. Spells each value exactly as the
/// [`CsvEncoder`]'s formatter does (tested against it).
enum Plain<'a> {
    Int32(&'a PrimitiveArray<Int32Type>),
    Int64(&'a PrimitiveArray<Int64Type>),
    Decimal(&'a PrimitiveArray<Decimal128Type>, u32),
    Date(&'a PrimitiveArray<Date32Type>),
    /// Microseconds since the epoch, without a time zone.
    Micros(&'a PrimitiveArray<TimestampMicrosecondType>),
}

impl<'a> Plain<'a> {
    fn of(a: &'a dyn Array) -> Option<Self> {
        Some(match a.data_type() {
            DataType::Int32 => Plain::Int32(a.as_primitive()),
            DataType::Int64 => Plain::Int64(a.as_primitive()),
            DataType::Decimal128(_, s) if *s > 0 => Plain::Decimal(a.as_primitive(), *s as u32),
            DataType::Date32 => Plain::Date(a.as_primitive()),
            DataType::Timestamp(TimeUnit::Microsecond, None) => Plain::Micros(a.as_primitive()),
            _ => return None,
        })
    }

    fn array(&self) -> &'a dyn Array {
        match self {
            Plain::Int32(a) => *a,
            Plain::Int64(a) => *a,
            Plain::Decimal(a, _) => *a,
            Plain::Date(a) => *a,
            Plain::Micros(a) => *a,
        }
    }

    /// Writes row `row` (nothing for NULL); false when it cannot spell it.
    fn write(&self, row: usize, out: &mut Vec<u8>) -> bool {
        if self.array().is_null(row) {
            return true;
        }
        let mut digits = itoa::Buffer::new();
        match self {
            Plain::Int32(a) => out.extend_from_slice(digits.format(a.value(row)).as_bytes()),
            Plain::Int64(a) => out.extend_from_slice(digits.format(a.value(row)).as_bytes()),
            Plain::Decimal(a, scale) => {
                let v = a.value(row);
                let unit = 10u128.pow(*scale);
                let (whole, frac) = (v.unsigned_abs() / unit, v.unsigned_abs() % unit);
                if v < 0 {
                    out.push(b'-');
                }
                out.extend_from_slice(digits.format(whole).as_bytes());
                out.push(b'.');
                let frac = digits.format(frac);
                out.resize(out.len() + *scale as usize - frac.len(), b'0');
                out.extend_from_slice(frac.as_bytes());
            }
            Plain::Date(a) => {
                let Some(d) = chrono::NaiveDate::from_num_days_from_ce_opt(
                    a.value(row).saturating_add(UNIX_EPOCH_DAYS_FROM_CE),
                ) else {
                    return false;
                };
                return write_date(d, out);
            }
            Plain::Micros(a) => {
                let Some(t) = chrono::DateTime::from_timestamp_micros(a.value(row)) else {
                    return false;
                };
                let t = t.naive_utc();
                if !write_date(t.date(), out) {
                    return false;
                }
                use chrono::Timelike;
                out.push(b' ');
                two_digits(t.hour(), out);
                out.push(b':');
                two_digits(t.minute(), out);
                out.push(b':');
                two_digits(t.second(), out);
                // chrono's `%.f`: nothing, or 3, 6 or 9 digits, the fewest
                // that hold the fraction.
                let nanos = t.nanosecond() % 1_000_000_000;
                let (value, width) = match nanos {
                    0 => return true,
                    n if n % 1_000_000 == 0 => (n / 1_000_000, 3),
                    n if n % 1_000 == 0 => (n / 1_000, 6),
                    n => (n, 9),
                };
                out.push(b'.');
                let frac = digits.format(value);
                out.resize(out.len() + width - frac.len(), b'0');
                out.extend_from_slice(frac.as_bytes());
            }
        }
        true
    }
}

/// Days from 0001-01-01 to 1970-01-01.
const UNIX_EPOCH_DAYS_FROM_CE: i32 = 719_163;

/// `YYYY-MM-DD` for years 0 to 9999 (chrono signs the others); false
/// outside them.
fn write_date(d: chrono::NaiveDate, out: &mut Vec<u8>) -> bool {
    use chrono::Datelike;
    let year = d.year();
    if !(0..=9999).contains(&year) {
        return false;
    }
    let year = year as u32;
    two_digits(year / 100, out);
    two_digits(year % 100, out);
    out.push(b'-');
    two_digits(d.month(), out);
    out.push(b'-');
    two_digits(d.day(), out);
    true
}

fn two_digits(v: u32, out: &mut Vec<u8>) {
    out.push(b'0' + (v / 10) as u8);
    out.push(b'0' + (v % 10) as u8);
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
    fn plain_columns_are_spelled_as_the_formatter_spells_them() {
        use datafusion::arrow::array::{
            Date32Array, Decimal128Array, Int32Array, Int64Array, TimestampMicrosecondArray,
        };
        // Values across signs, zero fractions, every %.f width, leap days,
        // and years the fast path hands back to chrono.
        let micros: Vec<Option<i64>> = [
            0i64,
            1,
            999,
            1_000,
            1_500_000,
            1_700_000_000_123_456,
            1_700_000_000_120_000,
            -1,
            -1_000_001,
            951_782_400_000_000,
            -62_135_596_800_000_000,
            -62_135_596_800_000_001,
            253_402_300_799_999_999,
            253_402_300_800_000_000,
        ]
        .into_iter()
        .map(Some)
        .chain([None])
        .collect();
        let days: Vec<Option<i32>> = [
            0, -1, 11_016, 19_000, -719_162, -719_163, -719_528, 2_932_896, 2_932_897,
        ]
        .into_iter()
        .map(Some)
        .chain([None])
        .collect();
        let decimals: Vec<Option<i128>> = [
            0i128,
            5,
            -5,
            250,
            -250,
            123_456_789,
            -100,
            99_999_999_999_999,
            -99_999_999_999_999,
        ]
        .into_iter()
        .map(Some)
        .chain([None])
        .collect();
        let ints = [0i32, -1, i32::MIN, i32::MAX];
        let arrays: Vec<ArrayRef> = vec![
            Arc::new(TimestampMicrosecondArray::from(micros)),
            Arc::new(Date32Array::from(days)),
            Arc::new(
                Decimal128Array::from(decimals.clone())
                    .with_precision_and_scale(14, 2)
                    .unwrap(),
            ),
            Arc::new(
                Decimal128Array::from(decimals)
                    .with_precision_and_scale(20, 5)
                    .unwrap(),
            ),
            Arc::new(Int32Array::from(ints.to_vec())),
            Arc::new(Int64Array::from(vec![0i64, -7, i64::MIN, i64::MAX])),
        ];
        let enc = CsvEncoder::default();
        for a in &arrays {
            let plain = Plain::of(a.as_ref()).expect("a plain column");
            let f = ArrayFormatter::try_new(a.as_ref(), &enc.options).unwrap();
            for row in 0..a.len() {
                let mut fast = Vec::new();
                let expected = f.value(row).to_string();
                if plain.write(row, &mut fast) {
                    assert_eq!(
                        String::from_utf8(fast).unwrap(),
                        expected,
                        "{a:?} row {row}"
                    );
                } else {
                    assert!(
                        expected.starts_with('+') || expected.starts_with('-'),
                        "only signed years are left to chrono: {expected}"
                    );
                }
            }
        }
    }

    #[test]
    fn chunks_cut_at_record_ends_and_parse_as_the_whole_file_does() {
        // Quoted newlines, doubled quotes, CRLF, a record longer than the
        // target, no final newline: every target size gives the same rows
        // and the same lines as one reader.
        let body = "1,\"a\nb\",1.00\r\n2,\"say \"\"hi\"\"\",2.00\n3,,3.00\n4,\"long long long long\",4.00\n5,x,5.00";
        let whole: Vec<_> = {
            let mut r = BatchReader::headless(body.as_bytes(), schema(), "f.csv", 2);
            let b = r.next_batch().unwrap().unwrap();
            (0..b.num_rows())
                .map(|i| format!("{:?}", b.slice(i, 1)))
                .collect()
        };
        for target in [1, 2, 5, 9, 17, 1000] {
            let mut chunker = Chunker::new(body.as_bytes(), 2, target);
            let mut rows = vec![];
            let mut lines = vec![];
            while let Some(c) = chunker.next_chunk().unwrap() {
                lines.push(c.first_line);
                let mut r = BatchReader::headless(&c.bytes[..], schema(), "f.csv", c.first_line);
                while let Some(b) = r.next_batch().unwrap() {
                    rows.extend((0..b.num_rows()).map(|i| format!("{:?}", b.slice(i, 1))));
                }
            }
            assert_eq!(rows, whole, "target {target}");
            assert_eq!(lines[0], 2);
            assert!(lines.windows(2).all(|w| w[0] < w[1]), "{lines:?}");
        }
        // An error in a later chunk names its line in the file.
        let bad = "1,a,1.00\n2,\"b\nc\",2.00\n3,c,oops\n";
        let mut chunker = Chunker::new(bad.as_bytes(), 2, 4);
        let mut errors = vec![];
        while let Some(c) = chunker.next_chunk().unwrap() {
            let mut r = BatchReader::headless(&c.bytes[..], schema(), "f.csv", c.first_line);
            if let Err(e) = r.next_batch() {
                errors.push(e.to_string());
            }
        }
        assert_eq!(errors.len(), 1);
        assert!(errors[0].starts_with("f.csv:5: column price"), "{errors:?}");
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
