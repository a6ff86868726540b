//! PostgreSQL types as Arrow types, and binary `COPY` rows as Arrow arrays.
//!
//! Rows arrive as the binary COPY format (a header, then per row a field
//! count and length-prefixed fields in each type's binary send format) and
//! are decoded straight into Arrow builders: no per-row objects.

use std::sync::Arc;

use bytes::{Buf, BytesMut};
use datafusion::arrow::array::NullBufferBuilder;
use datafusion::arrow::array::{
    ArrayRef, BinaryBuilder, BooleanBuilder, Date32Builder, Decimal128Builder, Float32Builder,
    Float64Builder, Int16Builder, Int32Builder, Int64Builder, ListArray, StringBuilder,
    Time64MicrosecondBuilder, TimestampMicrosecondBuilder,
};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, TimeUnit};

/// Days from 1970-01-01 to PostgreSQL's epoch, 2000-01-01.
const PG_EPOCH_DAYS: i32 = 10_957;
/// Microseconds from 1970-01-01 to 2000-01-01.
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;
/// Precision and scale given to `numeric` without a declared typmod.
const UNCONSTRAINED_NUMERIC: (u8, i8) = (38, 10);

/// A column's PostgreSQL type, as far as Strata reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PgKind {
    /// `smallint`.
    Int2,
    /// `integer`.
    Int4,
    /// `bigint`.
    Int8,
    /// `real`.
    Float4,
    /// `double precision`.
    Float8,
    /// `boolean`.
    Bool,
    /// `numeric(p, s)`.
    Numeric(u8, i8),
    /// `text`, `varchar`, `char`, `name`, `citext`, enums: UTF-8 as sent.
    Text,
    /// `date`.
    Date,
    /// `timestamp without time zone`.
    Timestamp,
    /// `timestamp with time zone` (UTC).
    TimestampTz,
    /// `time without time zone`.
    Time,
    /// `interval`, read as ISO 8601 text.
    Interval,
    /// `uuid`, read as text.
    Uuid,
    /// `json`, read as text.
    Json,
    /// `jsonb`, read as text.
    Jsonb,
    /// `bytea`.
    Bytea,
    /// A one-dimensional array of a scalar kind.
    Array(Box<PgKind>),
    /// Anything else: the type's name, for the error.
    Unsupported(String),
}

impl PgKind {
    /// Maps a catalog entry (base type name, `typtype`, typmod) to a kind.
    pub fn from_catalog(
        name: &str,
        typtype: &str,
        typmod: i32,
        elem: Option<(&str, &str)>,
    ) -> Self {
        if let Some((elem_name, elem_type)) = elem {
            return match PgKind::from_catalog(elem_name, elem_type, typmod, None) {
                PgKind::Unsupported(n) => PgKind::Unsupported(format!("{n}[]")),
                k => PgKind::Array(Box::new(k)),
            };
        }
        if typtype == "e" {
            return PgKind::Text;
        }
        match name {
            "int2" => PgKind::Int2,
            "int4" => PgKind::Int4,
            "int8" => PgKind::Int8,
            "float4" => PgKind::Float4,
            "float8" => PgKind::Float8,
            "bool" => PgKind::Bool,
            "numeric" if typmod >= 4 => {
                let precision = (((typmod - 4) >> 16) & 0xffff) as u8;
                let scale = ((typmod - 4) & 0xffff) as i8;
                if precision > 38 {
                    PgKind::Unsupported(format!(
                        "numeric({precision},{scale}) (more than 38 digits)"
                    ))
                } else {
                    PgKind::Numeric(precision, scale)
                }
            }
            "numeric" => PgKind::Numeric(UNCONSTRAINED_NUMERIC.0, UNCONSTRAINED_NUMERIC.1),
            "text" | "varchar" | "bpchar" | "name" | "citext" => PgKind::Text,
            "date" => PgKind::Date,
            "timestamp" => PgKind::Timestamp,
            "timestamptz" => PgKind::TimestampTz,
            "time" => PgKind::Time,
            "interval" => PgKind::Interval,
            "uuid" => PgKind::Uuid,
            "json" => PgKind::Json,
            "jsonb" => PgKind::Jsonb,
            "bytea" => PgKind::Bytea,
            other => PgKind::Unsupported(other.to_string()),
        }
    }

    /// The Arrow type a column of this kind becomes.
    pub fn arrow_type(&self) -> DataType {
        match self {
            PgKind::Int2 => DataType::Int16,
            PgKind::Int4 => DataType::Int32,
            PgKind::Int8 => DataType::Int64,
            PgKind::Float4 => DataType::Float32,
            PgKind::Float8 => DataType::Float64,
            PgKind::Bool => DataType::Boolean,
            PgKind::Numeric(p, s) => DataType::Decimal128(*p, *s),
            PgKind::Date => DataType::Date32,
            PgKind::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, None),
            PgKind::TimestampTz => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            PgKind::Time => DataType::Time64(TimeUnit::Microsecond),
            PgKind::Bytea => DataType::Binary,
            PgKind::Text | PgKind::Interval | PgKind::Uuid | PgKind::Json | PgKind::Jsonb => {
                DataType::Utf8
            }
            PgKind::Array(elem) => {
                DataType::List(Arc::new(Field::new("item", elem.arrow_type(), true)))
            }
            // A placeholder: scanning such a column is refused with the type's name.
            PgKind::Unsupported(_) => DataType::Null,
        }
    }

    /// Whether comparisons on it mean the same in PostgreSQL and DataFusion
    /// (text collation and char padding do not), so range filters may be
    /// sent to the server.
    pub fn orders_like_arrow(&self) -> bool {
        matches!(
            self,
            PgKind::Int2
                | PgKind::Int4
                | PgKind::Int8
                | PgKind::Numeric(..)
                | PgKind::Date
                | PgKind::Timestamp
                | PgKind::TimestampTz
                | PgKind::Bool
        )
    }
}

enum Builder {
    I16(Int16Builder),
    I32(Int32Builder),
    I64(Int64Builder),
    F32(Float32Builder),
    F64(Float64Builder),
    Bool(BooleanBuilder),
    Decimal(Decimal128Builder, u8, i8),
    Text(StringBuilder),
    Date(Date32Builder),
    Ts(TimestampMicrosecondBuilder, bool),
    Time(Time64MicrosecondBuilder),
    Interval(StringBuilder),
    Uuid(StringBuilder),
    Json(StringBuilder),
    Jsonb(StringBuilder),
    Bytea(BinaryBuilder),
    List {
        field: FieldRef,
        values: Box<Builder>,
        offsets: Vec<i32>,
        nulls: NullBufferBuilder,
    },
}

impl Builder {
    fn new(kind: &PgKind) -> Result<Self, String> {
        Ok(match kind {
            PgKind::Int2 => Builder::I16(Int16Builder::new()),
            PgKind::Int4 => Builder::I32(Int32Builder::new()),
            PgKind::Int8 => Builder::I64(Int64Builder::new()),
            PgKind::Float4 => Builder::F32(Float32Builder::new()),
            PgKind::Float8 => Builder::F64(Float64Builder::new()),
            PgKind::Bool => Builder::Bool(BooleanBuilder::new()),
            PgKind::Numeric(p, s) => Builder::Decimal(
                Decimal128Builder::new()
                    .with_precision_and_scale(*p, *s)
                    .map_err(|e| e.to_string())?,
                *p,
                *s,
            ),
            PgKind::Text => Builder::Text(StringBuilder::new()),
            PgKind::Date => Builder::Date(Date32Builder::new()),
            PgKind::Timestamp => Builder::Ts(TimestampMicrosecondBuilder::new(), false),
            PgKind::TimestampTz => Builder::Ts(TimestampMicrosecondBuilder::new(), true),
            PgKind::Time => Builder::Time(Time64MicrosecondBuilder::new()),
            PgKind::Interval => Builder::Interval(StringBuilder::new()),
            PgKind::Uuid => Builder::Uuid(StringBuilder::new()),
            PgKind::Json => Builder::Json(StringBuilder::new()),
            PgKind::Jsonb => Builder::Jsonb(StringBuilder::new()),
            PgKind::Bytea => Builder::Bytea(BinaryBuilder::new()),
            PgKind::Array(elem) => Builder::List {
                field: Arc::new(Field::new("item", elem.arrow_type(), true)),
                values: Box::new(Builder::new(elem)?),
                offsets: vec![0],
                nulls: NullBufferBuilder::new(0),
            },
            PgKind::Unsupported(name) => return Err(format!("type {name} is not supported")),
        })
    }

    fn append_null(&mut self) {
        match self {
            Builder::I16(b) => b.append_null(),
            Builder::I32(b) => b.append_null(),
            Builder::I64(b) => b.append_null(),
            Builder::F32(b) => b.append_null(),
            Builder::F64(b) => b.append_null(),
            Builder::Bool(b) => b.append_null(),
            Builder::Decimal(b, ..) => b.append_null(),
            Builder::Text(b)
            | Builder::Interval(b)
            | Builder::Uuid(b)
            | Builder::Json(b)
            | Builder::Jsonb(b) => b.append_null(),
            Builder::Date(b) => b.append_null(),
            Builder::Ts(b, _) => b.append_null(),
            Builder::Time(b) => b.append_null(),
            Builder::Bytea(b) => b.append_null(),
            Builder::List { offsets, nulls, .. } => {
                offsets.push(*offsets.last().expect("offsets start at 0"));
                nulls.append_null();
            }
        }
    }

    fn append(&mut self, v: &[u8]) -> Result<(), String> {
        match self {
            Builder::I16(b) => b.append_value(i16::from_be_bytes(fixed(v)?)),
            Builder::I32(b) => b.append_value(i32::from_be_bytes(fixed(v)?)),
            Builder::I64(b) => b.append_value(i64::from_be_bytes(fixed(v)?)),
            Builder::F32(b) => b.append_value(f32::from_be_bytes(fixed(v)?)),
            Builder::F64(b) => b.append_value(f64::from_be_bytes(fixed(v)?)),
            Builder::Bool(b) => b.append_value(fixed::<1>(v)?[0] != 0),
            Builder::Decimal(b, p, s) => b.append_value(numeric_to_i128(v, *p, *s)?),
            Builder::Text(b) | Builder::Json(b) => b.append_value(utf8(v)?),
            Builder::Jsonb(b) => match v.split_first() {
                Some((1, rest)) => b.append_value(utf8(rest)?),
                _ => return Err("unknown jsonb version".into()),
            },
            Builder::Uuid(b) => b.append_value(uuid_text(&fixed::<16>(v)?)),
            Builder::Interval(b) => b.append_value(interval_iso8601(v)?),
            Builder::Date(b) => {
                let days = i32::from_be_bytes(fixed(v)?);
                if days == i32::MAX || days == i32::MIN {
                    return Err("date is ±infinity, which Arrow cannot hold; cast it in a view (e.g. NULLIF(col, 'infinity'))".into());
                }
                b.append_value(days.checked_add(PG_EPOCH_DAYS).ok_or("date out of range")?)
            }
            Builder::Ts(b, _) => {
                let micros = i64::from_be_bytes(fixed(v)?);
                if micros == i64::MAX || micros == i64::MIN {
                    return Err("timestamp is ±infinity, which Arrow cannot hold; cast it in a view (e.g. NULLIF(col, 'infinity'))".into());
                }
                b.append_value(
                    micros
                        .checked_add(PG_EPOCH_MICROS)
                        .ok_or("timestamp out of range")?,
                )
            }
            Builder::Time(b) => b.append_value(i64::from_be_bytes(fixed(v)?)),
            Builder::Bytea(b) => b.append_value(v),
            Builder::List {
                values,
                offsets,
                nulls,
                ..
            } => {
                let n = decode_array(v, values)?;
                let last = *offsets.last().expect("offsets start at 0");
                offsets.push(last + n);
                nulls.append_non_null();
            }
        }
        Ok(())
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Builder::I16(b) => Arc::new(b.finish()),
            Builder::I32(b) => Arc::new(b.finish()),
            Builder::I64(b) => Arc::new(b.finish()),
            Builder::F32(b) => Arc::new(b.finish()),
            Builder::F64(b) => Arc::new(b.finish()),
            Builder::Bool(b) => Arc::new(b.finish()),
            Builder::Decimal(b, p, s) => Arc::new(
                b.finish()
                    .with_precision_and_scale(*p, *s)
                    .expect("checked when the builder was made"),
            ),
            Builder::Text(b)
            | Builder::Interval(b)
            | Builder::Uuid(b)
            | Builder::Json(b)
            | Builder::Jsonb(b) => Arc::new(b.finish()),
            Builder::Date(b) => Arc::new(b.finish()),
            Builder::Ts(b, tz) => {
                let a = b.finish();
                if *tz {
                    Arc::new(a.with_timezone("UTC"))
                } else {
                    Arc::new(a)
                }
            }
            Builder::Time(b) => Arc::new(b.finish()),
            Builder::Bytea(b) => Arc::new(b.finish()),
            Builder::List {
                field,
                values,
                offsets,
                nulls,
            } => {
                let values = values.finish();
                let offsets = OffsetBuffer::new(std::mem::replace(offsets, vec![0]).into());
                Arc::new(ListArray::new(
                    field.clone(),
                    offsets,
                    values,
                    nulls.finish(),
                ))
            }
        }
    }
}

fn fixed<const N: usize>(v: &[u8]) -> Result<[u8; N], String> {
    v.try_into()
        .map_err(|_| format!("expected {N} bytes, got {}", v.len()))
}

fn utf8(v: &[u8]) -> Result<&str, String> {
    std::str::from_utf8(v).map_err(|_| "text is not valid UTF-8".to_string())
}

/// Decodes a one-dimensional array's elements into `values`; returns their count.
fn decode_array(v: &[u8], values: &mut Builder) -> Result<i32, String> {
    let mut r = v;
    let take_i32 = |r: &mut &[u8]| -> Result<i32, String> {
        if r.len() < 4 {
            return Err("truncated array".into());
        }
        Ok(r.get_i32())
    };
    let ndim = take_i32(&mut r)?;
    let _has_nulls = take_i32(&mut r)?;
    let _elem_oid = take_i32(&mut r)?;
    if ndim == 0 {
        return Ok(0);
    }
    if ndim != 1 {
        return Err(format!(
            "{ndim}-dimensional arrays are not supported; unnest them in a view"
        ));
    }
    let len = take_i32(&mut r)?;
    let _lower_bound = take_i32(&mut r)?;
    for _ in 0..len {
        let n = take_i32(&mut r)?;
        if n < 0 {
            values.append_null();
        } else {
            let n = n as usize;
            if r.len() < n {
                return Err("truncated array element".into());
            }
            values.append(&r[..n])?;
            r.advance(n);
        }
    }
    Ok(len)
}

/// PostgreSQL's binary numeric as an integer scaled by 10^scale, exactly.
fn numeric_to_i128(v: &[u8], precision: u8, scale: i8) -> Result<i128, String> {
    let mut r = v;
    if r.len() < 8 {
        return Err("truncated numeric".into());
    }
    let ndigits = r.get_i16() as i32;
    let weight = r.get_i16() as i32;
    let sign = r.get_u16();
    let _dscale = r.get_u16();
    match sign {
        0x0000 | 0x4000 => {}
        0xC000 => return Err("NaN cannot be stored as a decimal".into()),
        0xD000 => return Err("Infinity cannot be stored as a decimal".into()),
        0xF000 => return Err("-Infinity cannot be stored as a decimal".into()),
        s => return Err(format!("bad numeric sign {s:#x}")),
    }
    if r.len() < ndigits as usize * 2 {
        return Err("truncated numeric".into());
    }
    let overflow = || format!("value does not fit in numeric({precision},{scale})");
    let mut acc: i128 = 0;
    for _ in 0..ndigits {
        acc = acc
            .checked_mul(10_000)
            .and_then(|a| a.checked_add(i128::from(r.get_i16())))
            .ok_or_else(overflow)?;
    }
    // The last base-10000 digit stands for 10^(4 * (weight - ndigits + 1)).
    let exponent = 4 * (weight - ndigits + 1) + i32::from(scale);
    if exponent >= 0 {
        acc = acc
            .checked_mul(10i128.checked_pow(exponent as u32).ok_or_else(overflow)?)
            .ok_or_else(overflow)?;
    } else {
        let div = 10i128.checked_pow((-exponent) as u32).unwrap_or(i128::MAX);
        if acc % div != 0 {
            return Err(format!("value has more than {scale} decimal places"));
        }
        acc /= div;
    }
    if acc >= 10i128.pow(u32::from(precision)) {
        return Err(overflow());
    }
    Ok(if sign == 0x4000 { -acc } else { acc })
}

fn uuid_text(b: &[u8; 16]) -> String {
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// An interval as PostgreSQL's `iso_8601` interval style prints it.
fn interval_iso8601(v: &[u8]) -> Result<String, String> {
    let mut r = v;
    if r.len() != 16 {
        return Err("bad interval".into());
    }
    let micros = r.get_i64();
    let days = r.get_i32();
    let months = r.get_i32();
    let (years, months) = (months / 12, months % 12);
    let mut out = String::from("P");
    if years != 0 {
        out.push_str(&format!("{years}Y"));
    }
    if months != 0 {
        out.push_str(&format!("{months}M"));
    }
    if days != 0 {
        out.push_str(&format!("{days}D"));
    }
    if micros != 0 {
        out.push('T');
        let hours = micros / 3_600_000_000;
        let minutes = (micros % 3_600_000_000) / 60_000_000;
        let sec_micros = micros % 60_000_000;
        if hours != 0 {
            out.push_str(&format!("{hours}H"));
        }
        if minutes != 0 {
            out.push_str(&format!("{minutes}M"));
        }
        if sec_micros != 0 {
            let whole = sec_micros / 1_000_000;
            let frac = (sec_micros % 1_000_000).abs();
            if frac == 0 {
                out.push_str(&format!("{whole}S"));
            } else {
                let sign = if sec_micros < 0 && whole == 0 {
                    "-"
                } else {
                    ""
                };
                let frac = format!("{frac:06}");
                out.push_str(&format!("{sign}{whole}.{}S", frac.trim_end_matches('0')));
            }
        }
    }
    if out == "P" {
        out.push_str("T0S");
    }
    Ok(out)
}

/// Where a bad value was, for the error message.
#[derive(Debug, Clone)]
pub struct RowKey {
    /// 1-based row number within this stream.
    pub row: u64,
    /// The row's `ctid`, when the relation has one.
    pub ctid: Option<(u32, u16)>,
}

/// Decodes a binary COPY stream into record batches of `kinds`.
pub struct CopyDecoder {
    names: Vec<String>,
    builders: Vec<Builder>,
    /// The stream carries a trailing `ctid` column (for error messages).
    has_ctid: bool,
    buf: BytesMut,
    header_done: bool,
    finished: bool,
    rows_in_batch: usize,
    rows: u64,
}

/// Why decoding stopped.
#[derive(Debug)]
pub struct DecodeError {
    /// The column, when a value was at fault.
    pub column: Option<String>,
    /// The row, when known.
    pub key: Option<RowKey>,
    /// What is wrong.
    pub message: String,
}

impl CopyDecoder {
    /// A decoder for columns `(name, kind)`, in the order the COPY sends them.
    pub fn new(columns: &[(String, PgKind)], has_ctid: bool) -> Result<Self, DecodeError> {
        let builders = columns
            .iter()
            .map(|(name, kind)| {
                Builder::new(kind).map_err(|message| DecodeError {
                    column: Some(name.clone()),
                    key: None,
                    message,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(CopyDecoder {
            names: columns.iter().map(|(n, _)| n.clone()).collect(),
            builders,
            has_ctid,
            buf: BytesMut::new(),
            header_done: false,
            finished: false,
            rows_in_batch: 0,
            rows: 0,
        })
    }

    /// Rows decoded into the batch being built.
    pub fn pending_rows(&self) -> usize {
        self.rows_in_batch
    }

    /// Feeds a chunk of the stream, decoding every complete row in it.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), DecodeError> {
        self.buf.extend_from_slice(chunk);
        if !self.header_done {
            const SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";
            if self.buf.len() < SIGNATURE.len() + 8 {
                return Ok(());
            }
            if &self.buf[..SIGNATURE.len()] != SIGNATURE {
                return Err(self.stream_error("not a binary COPY stream"));
            }
            let ext = u32::from_be_bytes(self.buf[15..19].try_into().expect("4 bytes")) as usize;
            if self.buf.len() < 19 + ext {
                return Ok(());
            }
            self.buf.advance(19 + ext);
            self.header_done = true;
        }
        while !self.finished {
            let Some(len) = self.complete_row_len()? else {
                break;
            };
            let row = self.buf.split_to(len).freeze();
            self.decode_row(&row)?;
        }
        Ok(())
    }

    /// The byte length of the next row if it is all in the buffer.
    fn complete_row_len(&mut self) -> Result<Option<usize>, DecodeError> {
        if self.buf.len() < 2 {
            return Ok(None);
        }
        let fields = i16::from_be_bytes([self.buf[0], self.buf[1]]);
        if fields == -1 {
            self.finished = true;
            self.buf.advance(2);
            return Ok(None);
        }
        let expected = self.builders.len() + usize::from(self.has_ctid);
        if fields as usize != expected {
            return Err(self.stream_error(&format!("row has {fields} fields, expected {expected}")));
        }
        let mut at = 2;
        for _ in 0..fields {
            if self.buf.len() < at + 4 {
                return Ok(None);
            }
            let n = i32::from_be_bytes(self.buf[at..at + 4].try_into().expect("4 bytes"));
            at += 4 + n.max(0) as usize;
        }
        Ok((self.buf.len() >= at).then_some(at))
    }

    fn decode_row(&mut self, row: &[u8]) -> Result<(), DecodeError> {
        self.rows += 1;
        let mut fields: Vec<Option<&[u8]>> = Vec::with_capacity(self.builders.len() + 1);
        let mut r = &row[2..];
        while !r.is_empty() {
            let n = r.get_i32();
            if n < 0 {
                fields.push(None);
            } else {
                fields.push(Some(&r[..n as usize]));
                r.advance(n as usize);
            }
        }
        for (i, builder) in self.builders.iter_mut().enumerate() {
            let result = match fields[i] {
                None => {
                    builder.append_null();
                    Ok(())
                }
                Some(v) => builder.append(v),
            };
            if let Err(message) = result {
                let ctid = if self.has_ctid {
                    fields.last().copied().flatten().and_then(|t| {
                        let t: [u8; 6] = t.try_into().ok()?;
                        Some((
                            u32::from_be_bytes(t[0..4].try_into().ok()?),
                            u16::from_be_bytes(t[4..6].try_into().ok()?),
                        ))
                    })
                } else {
                    None
                };
                return Err(DecodeError {
                    column: Some(self.names[i].clone()),
                    key: Some(RowKey {
                        row: self.rows,
                        ctid,
                    }),
                    message,
                });
            }
        }
        self.rows_in_batch += 1;
        Ok(())
    }

    /// Whether the end-of-data marker has been read.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Takes the rows decoded so far as arrays (one per column).
    pub fn take_arrays(&mut self) -> (Vec<ArrayRef>, usize) {
        let rows = std::mem::take(&mut self.rows_in_batch);
        (
            self.builders.iter_mut().map(Builder::finish).collect(),
            rows,
        )
    }

    fn stream_error(&self, message: &str) -> DecodeError {
        DecodeError {
            column: None,
            key: None,
            message: message.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numeric(digits: &[i16], weight: i16, sign: u16, dscale: u16) -> Vec<u8> {
        let mut v = vec![];
        v.extend((digits.len() as i16).to_be_bytes());
        v.extend(weight.to_be_bytes());
        v.extend(sign.to_be_bytes());
        v.extend(dscale.to_be_bytes());
        for d in digits {
            v.extend(d.to_be_bytes());
        }
        v
    }

    #[test]
    fn numerics_are_exact() {
        // 12.50 = [12, 5000] weight 0
        assert_eq!(
            numeric_to_i128(&numeric(&[12, 5000], 0, 0, 2), 12, 2),
            Ok(1250)
        );
        // -123456.78 = [12, 3456, 7800] weight 1
        assert_eq!(
            numeric_to_i128(&numeric(&[12, 3456, 7800], 1, 0x4000, 2), 14, 2),
            Ok(-12345678)
        );
        // 0
        assert_eq!(numeric_to_i128(&numeric(&[], 0, 0, 2), 12, 2), Ok(0));
        // 20000 = [2] weight 1
        assert_eq!(
            numeric_to_i128(&numeric(&[2], 1, 0, 0), 12, 2),
            Ok(2_000_000)
        );
        // 0.001 at scale 2 loses a digit: an error, not a rounding
        assert!(numeric_to_i128(&numeric(&[10], -1, 0, 3), 12, 2).is_err());
        assert!(
            numeric_to_i128(&numeric(&[], 0, 0xC000, 0), 12, 2)
                .unwrap_err()
                .contains("NaN")
        );
        // 10^12 does not fit numeric(12,2)
        assert!(numeric_to_i128(&numeric(&[1], 3, 0, 0), 12, 2).is_err());
    }

    #[test]
    fn intervals_read_as_iso8601() {
        let iv = |micros: i64, days: i32, months: i32| {
            let mut v = vec![];
            v.extend(micros.to_be_bytes());
            v.extend(days.to_be_bytes());
            v.extend(months.to_be_bytes());
            interval_iso8601(&v).unwrap()
        };
        assert_eq!(iv(0, 0, 0), "PT0S");
        assert_eq!(iv(3_723_500_000, 3, 14), "P1Y2M3DT1H2M3.5S");
        assert_eq!(iv(0, -1, 0), "P-1D");
    }

    #[test]
    fn types_map_from_the_catalog() {
        assert_eq!(
            PgKind::from_catalog("numeric", "b", (12 << 16 | 2) + 4, None),
            PgKind::Numeric(12, 2)
        );
        assert_eq!(
            PgKind::from_catalog("numeric", "b", -1, None),
            PgKind::Numeric(38, 10)
        );
        assert_eq!(PgKind::from_catalog("mood", "e", -1, None), PgKind::Text);
        assert_eq!(
            PgKind::from_catalog("_int4", "b", -1, Some(("int4", "b"))),
            PgKind::Array(Box::new(PgKind::Int4))
        );
        assert_eq!(
            PgKind::from_catalog("point", "b", -1, None),
            PgKind::Unsupported("point".into())
        );
    }
}
