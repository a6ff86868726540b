//! Arrow values as PostgreSQL's wire sees them: a column's type (OID and
//! modifier), and each value in text or binary format. Money stays NUMERIC
//! with its scale and dates stay dates, so a driver hands its program a
//! decimal and a date, not a float and a string.

use std::sync::Arc;

use bytes::{BufMut, BytesMut};
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{
    DataType, Date32Type, Date64Type, Decimal128Type, Float16Type, Float32Type, Float64Type,
    Int8Type, Int16Type, Int32Type, Int64Type, TimeUnit, UInt8Type, UInt16Type, UInt32Type,
    UInt64Type,
};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::scalar::ScalarValue;
use pgwire::api::Type;
use pgwire::api::results::{FieldFormat, FieldInfo};
use pgwire::messages::data::DataRow;

use crate::error::{Error, Result};

/// Days from 1970-01-01 (Arrow's epoch) to 2000-01-01 (PostgreSQL's).
const PG_EPOCH_DAYS: i64 = 10_957;
/// The same in microseconds.
const PG_EPOCH_MICROS: i64 = PG_EPOCH_DAYS * 86_400_000_000;

/// The PostgreSQL type a column of `data_type` is sent as, and its type
/// modifier (a NUMERIC's precision and scale). Types PostgreSQL has no
/// counterpart for (lists, maps, structs, intervals) go as text.
pub(crate) fn pg_type(data_type: &DataType) -> (Type, i32) {
    match data_type {
        DataType::Boolean => (Type::BOOL, -1),
        DataType::Int8 | DataType::Int16 | DataType::UInt8 => (Type::INT2, -1),
        DataType::Int32 | DataType::UInt16 => (Type::INT4, -1),
        DataType::Int64 | DataType::UInt32 => (Type::INT8, -1),
        DataType::UInt64 => (Type::NUMERIC, -1),
        DataType::Float16 | DataType::Float32 => (Type::FLOAT4, -1),
        DataType::Float64 => (Type::FLOAT8, -1),
        DataType::Decimal128(p, s) | DataType::Decimal256(p, s) if *s >= 0 => (
            Type::NUMERIC,
            ((i32::from(*p) << 16) | i32::from(*s as u8)) + 4,
        ),
        DataType::Decimal32(p, s) | DataType::Decimal64(p, s) if *s >= 0 => (
            Type::NUMERIC,
            ((i32::from(*p) << 16) | i32::from(*s as u8)) + 4,
        ),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => (Type::VARCHAR, -1),
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => (Type::BYTEA, -1),
        DataType::Date32 | DataType::Date64 => (Type::DATE, -1),
        DataType::Timestamp(_, None) => (Type::TIMESTAMP, -1),
        DataType::Timestamp(_, Some(_)) => (Type::TIMESTAMPTZ, -1),
        DataType::Time32(_) | DataType::Time64(_) => (Type::TIME, -1),
        _ => (Type::TEXT, -1),
    }
}

/// The row description of `schema`, each column in `format(i)`.
pub(crate) fn fields(
    schema: &datafusion::arrow::datatypes::Schema,
    format: impl Fn(usize) -> FieldFormat,
) -> Vec<FieldInfo> {
    schema
        .fields()
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let (ty, modifier) = pg_type(f.data_type());
            FieldInfo::new(f.name().clone(), None, None, ty, format(i)).with_type_modifier(modifier)
        })
        .collect()
}

/// How values print in text format: PostgreSQL's date and time spelling.
fn text_options() -> FormatOptions<'static> {
    FormatOptions::default()
        .with_null("")
        .with_date_format(Some("%Y-%m-%d"))
        .with_timestamp_format(Some("%Y-%m-%d %H:%M:%S%.f"))
        .with_timestamp_tz_format(Some("%Y-%m-%d %H:%M:%S%.f%:z"))
        .with_time_format(Some("%H:%M:%S%.f"))
}

/// The batch's rows as DataRow messages, each column in the format the
/// client asked for.
pub(crate) fn rows(batch: &RecordBatch, fields: &[FieldInfo]) -> Result<Vec<DataRow>> {
    let options = text_options();
    let columns = batch.columns();
    let formatters = columns
        .iter()
        .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let mut out = Vec::with_capacity(batch.num_rows());
    let mut buf = BytesMut::new();
    let mut text = String::new();
    for row in 0..batch.num_rows() {
        for (i, column) in columns.iter().enumerate() {
            if column.is_null(row) {
                buf.put_i32(-1);
                continue;
            }
            let at = buf.len();
            buf.put_i32(0);
            match fields[i].format() {
                FieldFormat::Binary => binary(column.as_ref(), row, &mut buf, &formatters[i])?,
                FieldFormat::Text => {
                    text.clear();
                    text_value(column.as_ref(), row, &formatters[i], &mut text)?;
                    buf.put_slice(text.as_bytes());
                }
            }
            let len = (buf.len() - at - 4) as i32;
            buf[at..at + 4].copy_from_slice(&len.to_be_bytes());
        }
        out.push(DataRow::new(buf.split(), columns.len() as i16));
    }
    Ok(out)
}

/// A value in PostgreSQL's text format.
fn text_value(
    column: &dyn Array,
    row: usize,
    formatter: &ArrayFormatter,
    out: &mut String,
) -> Result<()> {
    use std::fmt::Write;
    match column.data_type() {
        DataType::Boolean => out.push(if column.as_boolean().value(row) {
            't'
        } else {
            'f'
        }),
        DataType::Float32 | DataType::Float64 | DataType::Float16 => {
            let v = float(column, row);
            if v.is_nan() {
                out.push_str("NaN");
            } else if v.is_infinite() {
                out.push_str(if v > 0.0 { "Infinity" } else { "-Infinity" });
            } else {
                write!(out, "{v}").expect("a String takes any text");
            }
        }
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => {
            out.push_str("\\x");
            out.push_str(&hex::encode(bytes_of(column, row)));
        }
        _ => write!(out, "{}", formatter.value(row))
            .map_err(|e| Error::Internal(format!("formatting a value: {e}")))?,
    }
    Ok(())
}

fn float(column: &dyn Array, row: usize) -> f64 {
    match column.data_type() {
        DataType::Float16 => f64::from(column.as_primitive::<Float16Type>().value(row)),
        DataType::Float32 => f64::from(column.as_primitive::<Float32Type>().value(row)),
        _ => column.as_primitive::<Float64Type>().value(row),
    }
}

fn bytes_of(column: &dyn Array, row: usize) -> &[u8] {
    match column.data_type() {
        DataType::LargeBinary => column.as_binary::<i64>().value(row),
        DataType::BinaryView => column.as_binary_view().value(row),
        _ => column.as_binary::<i32>().value(row),
    }
}

/// A value in PostgreSQL's binary format, for the type [`pg_type`] gave
/// its column.
fn binary(
    column: &dyn Array,
    row: usize,
    out: &mut BytesMut,
    formatter: &ArrayFormatter,
) -> Result<()> {
    match column.data_type() {
        DataType::Boolean => out.put_u8(u8::from(column.as_boolean().value(row))),
        DataType::Int8 => out.put_i16(column.as_primitive::<Int8Type>().value(row).into()),
        DataType::Int16 => out.put_i16(column.as_primitive::<Int16Type>().value(row)),
        DataType::UInt8 => out.put_i16(column.as_primitive::<UInt8Type>().value(row).into()),
        DataType::Int32 => out.put_i32(column.as_primitive::<Int32Type>().value(row)),
        DataType::UInt16 => out.put_i32(column.as_primitive::<UInt16Type>().value(row).into()),
        DataType::Int64 => out.put_i64(column.as_primitive::<Int64Type>().value(row)),
        DataType::UInt32 => out.put_i64(column.as_primitive::<UInt32Type>().value(row).into()),
        DataType::UInt64 => numeric(
            i128::from(column.as_primitive::<UInt64Type>().value(row)),
            0,
            out,
        ),
        DataType::Float16 | DataType::Float32 => out.put_f32(float(column, row) as f32),
        DataType::Float64 => out.put_f64(float(column, row)),
        DataType::Decimal128(_, s) if *s >= 0 => numeric(
            column.as_primitive::<Decimal128Type>().value(row),
            *s as u32,
            out,
        ),
        DataType::Decimal32(_, _) | DataType::Decimal64(_, _) | DataType::Decimal256(_, _) => {
            let cast = datafusion::arrow::compute::cast(
                &column.slice(row, 1),
                &DataType::Decimal128(38, decimal_scale(column.data_type())),
            )?;
            let s = decimal_scale(column.data_type());
            numeric(
                cast.as_primitive::<Decimal128Type>().value(0),
                s as u32,
                out,
            )
        }
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => {
            out.put_slice(bytes_of(column, row))
        }
        DataType::Date32 => out.put_i32(
            (i64::from(column.as_primitive::<Date32Type>().value(row)) - PG_EPOCH_DAYS) as i32,
        ),
        DataType::Date64 => out.put_i32(
            (column.as_primitive::<Date64Type>().value(row) / 86_400_000 - PG_EPOCH_DAYS) as i32,
        ),
        DataType::Timestamp(_, _) => {
            let cast = datafusion::arrow::compute::cast(
                &column.slice(row, 1),
                &DataType::Timestamp(TimeUnit::Microsecond, None),
            )?;
            let micros = cast
                .as_primitive::<datafusion::arrow::datatypes::TimestampMicrosecondType>()
                .value(0);
            out.put_i64(micros - PG_EPOCH_MICROS);
        }
        DataType::Time32(_) | DataType::Time64(_) => {
            let cast = datafusion::arrow::compute::cast(
                &column.slice(row, 1),
                &DataType::Time64(TimeUnit::Microsecond),
            )?;
            out.put_i64(
                cast.as_primitive::<datafusion::arrow::datatypes::Time64MicrosecondType>()
                    .value(0),
            );
        }
        // Sent as TEXT, whose binary format is its text.
        _ => {
            let mut text = String::new();
            text_value(column, row, formatter, &mut text)?;
            out.put_slice(text.as_bytes());
        }
    }
    Ok(())
}

fn decimal_scale(data_type: &DataType) -> i8 {
    match data_type {
        DataType::Decimal32(_, s)
        | DataType::Decimal64(_, s)
        | DataType::Decimal128(_, s)
        | DataType::Decimal256(_, s) => (*s).max(0),
        _ => 0,
    }
}

/// PostgreSQL's binary NUMERIC: base-10000 digits with a weight, a sign
/// and the display scale, from an unscaled integer and its scale.
pub(crate) fn numeric(unscaled: i128, scale: u32, out: &mut BytesMut) {
    let negative = unscaled < 0;
    let digits = unscaled.unsigned_abs().to_string();
    let scale = scale as usize;
    // Integer and fraction parts as decimal text, the integer part at least
    // "0".
    let padded = if digits.len() <= scale {
        format!("{}{}", "0".repeat(scale + 1 - digits.len()), digits)
    } else {
        digits
    };
    let (int_part, frac_part) = padded.split_at(padded.len() - scale);
    // Group by four from the decimal point outwards.
    let int_pad = (4 - int_part.len() % 4) % 4;
    let int_text = format!("{}{}", "0".repeat(int_pad), int_part);
    let frac_pad = (4 - frac_part.len() % 4) % 4;
    let frac_text = format!("{}{}", frac_part, "0".repeat(frac_pad));
    let group = |s: &str| -> Vec<i16> {
        s.as_bytes()
            .chunks(4)
            .map(|c| c.iter().fold(0i16, |acc, d| acc * 10 + i16::from(d - b'0')))
            .collect()
    };
    let mut groups = group(&int_text);
    let mut weight = groups.len() as i16 - 1;
    groups.extend(group(&frac_text));
    // Leading zero groups lower the weight; trailing ones carry nothing.
    let lead = groups.iter().take_while(|g| **g == 0).count();
    groups.drain(..lead);
    weight -= lead as i16;
    while groups.last() == Some(&0) {
        groups.pop();
    }
    if groups.is_empty() {
        weight = 0;
    }
    out.put_i16(groups.len() as i16);
    out.put_i16(weight);
    out.put_u16(if negative && !groups.is_empty() {
        0x4000
    } else {
        0
    });
    out.put_u16(scale as u16);
    for g in groups {
        out.put_i16(g);
    }
}

/// A parameter the client bound, as the value of the type the statement
/// needs (`target`, when DataFusion inferred one) or of the type the
/// client declared.
pub(crate) fn param(
    value: Option<&[u8]>,
    binary: bool,
    declared: Option<&Type>,
    target: Option<&DataType>,
) -> Result<ScalarValue> {
    let declared_type = declared.and_then(arrow_type);
    let Some(value) = value else {
        let t = target.or(declared_type.as_ref()).unwrap_or(&DataType::Null);
        return Ok(ScalarValue::try_from(t)?);
    };
    let decoded = if binary {
        from_binary(value, declared)?
    } else {
        let text = std::str::from_utf8(value)
            .map_err(|_| Error::Statement("a text parameter is not UTF-8".into()))?;
        ScalarValue::Utf8(Some(text.to_string()))
    };
    let want = target.cloned().or(declared_type);
    match want {
        Some(t) if t != decoded.data_type() && t != DataType::Null => {
            decoded.cast_to(&t).map_err(|e| {
                Error::Statement(format!(
                    "parameter {decoded} cannot be read as {t}: {}",
                    e.strip_backtrace()
                ))
            })
        }
        _ => Ok(decoded),
    }
}

/// The Arrow type of a PostgreSQL type a client declares for a parameter.
fn arrow_type(t: &Type) -> Option<DataType> {
    Some(match *t {
        Type::BOOL => DataType::Boolean,
        Type::INT2 => DataType::Int16,
        Type::INT4 => DataType::Int32,
        Type::INT8 => DataType::Int64,
        Type::FLOAT4 => DataType::Float32,
        Type::FLOAT8 => DataType::Float64,
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => DataType::Utf8,
        Type::DATE => DataType::Date32,
        Type::TIMESTAMP => DataType::Timestamp(TimeUnit::Microsecond, None),
        Type::TIMESTAMPTZ => DataType::Timestamp(TimeUnit::Microsecond, Some(Arc::from("UTC"))),
        _ => return None,
    })
}

/// A binary-format parameter of the declared type.
fn from_binary(value: &[u8], declared: Option<&Type>) -> Result<ScalarValue> {
    let wrong = |what: &str| {
        Error::Statement(format!(
            "a binary {what} parameter of {} bytes cannot be read",
            value.len()
        ))
    };
    let be = |n: usize| -> Result<[u8; 8]> {
        if value.len() != n {
            return Err(wrong(&format!("{n}-byte")));
        }
        let mut b = [0u8; 8];
        b[8 - n..].copy_from_slice(value);
        Ok(b)
    };
    Ok(match declared {
        Some(&Type::BOOL) => ScalarValue::Boolean(Some(be(1)?[7] != 0)),
        Some(&Type::INT2) => ScalarValue::Int16(Some(i64::from_be_bytes(be(2)?) as i16)),
        Some(&Type::INT4) => ScalarValue::Int32(Some(i64::from_be_bytes(be(4)?) as i32)),
        Some(&Type::INT8) => ScalarValue::Int64(Some(i64::from_be_bytes(be(8)?))),
        Some(&Type::FLOAT4) => {
            ScalarValue::Float32(Some(f32::from_bits(u64::from_be_bytes(be(4)?) as u32)))
        }
        Some(&Type::FLOAT8) => {
            ScalarValue::Float64(Some(f64::from_bits(u64::from_be_bytes(be(8)?))))
        }
        Some(&Type::DATE) => ScalarValue::Date32(Some(
            (i64::from_be_bytes(be(4)?) as i32) + PG_EPOCH_DAYS as i32,
        )),
        Some(&Type::TIMESTAMP) => ScalarValue::TimestampMicrosecond(
            Some(i64::from_be_bytes(be(8)?) + PG_EPOCH_MICROS),
            None,
        ),
        Some(&Type::TEXT | &Type::VARCHAR | &Type::BPCHAR | &Type::NAME) | None => {
            ScalarValue::Utf8(Some(
                String::from_utf8(value.to_vec())
                    .map_err(|_| Error::Statement("a text parameter is not UTF-8".into()))?,
            ))
        }
        Some(other) => {
            return Err(Error::Statement(format!(
                "parameters of type {} are read in text format only",
                other.name()
            )));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Date32Array, Decimal128Array, StringArray};
    use datafusion::arrow::datatypes::{Field, Schema};

    fn numeric_bytes(v: i128, scale: u32) -> Vec<i16> {
        let mut b = BytesMut::new();
        numeric(v, scale, &mut b);
        b.chunks(2)
            .map(|c| i16::from_be_bytes([c[0], c[1]]))
            .collect()
    }

    #[test]
    fn numerics_are_base_10000_digits_with_weight_sign_and_scale() {
        // ndigits, weight, sign, dscale, digits...
        // R$ 204,392,641.00: 2 | 0439 | 2641, weight 2, the cents all zero.
        assert_eq!(
            numeric_bytes(20439264100, 2),
            vec![3, 2, 0, 2, 2, 439, 2641]
        );
        assert_eq!(numeric_bytes(-5, 2), vec![1, -1, 0x4000, 2, 500]);
        assert_eq!(numeric_bytes(0, 2), vec![0, 0, 0, 2]);
        assert_eq!(numeric_bytes(1_0000_0000, 0), vec![1, 2, 0, 0, 1]);
        assert_eq!(numeric_bytes(123456, 3), vec![2, 0, 0, 3, 123, 4560]);
    }

    #[test]
    fn money_and_dates_keep_their_types_and_print_as_postgresql_does() {
        let schema = Schema::new(vec![
            Field::new("total", DataType::Decimal128(18, 2), true),
            Field::new("day", DataType::Date32, true),
            Field::new("name", DataType::Utf8, true),
        ]);
        let batch = RecordBatch::try_new(
            Arc::new(schema.clone()),
            vec![
                Arc::new(
                    Decimal128Array::from(vec![Some(123450), None])
                        .with_precision_and_scale(18, 2)
                        .unwrap(),
                ),
                Arc::new(Date32Array::from(vec![Some(19_000), Some(10_957)])),
                Arc::new(StringArray::from(vec![Some("São Paulo"), Some("")])),
            ],
        )
        .unwrap();
        let text = fields(&schema, |_| FieldFormat::Text);
        assert_eq!(text[0].datatype(), &Type::NUMERIC);
        assert_eq!(text[0].type_modifier(), (18 << 16 | 2) + 4);
        assert_eq!(text[1].datatype(), &Type::DATE);
        let rows = rows(&batch, &text).unwrap();
        let cells = |r: &DataRow| {
            let mut d = &r.data[..];
            let mut out = vec![];
            while !d.is_empty() {
                let n = i32::from_be_bytes(d[..4].try_into().unwrap());
                d = &d[4..];
                if n < 0 {
                    out.push(None);
                } else {
                    out.push(Some(String::from_utf8(d[..n as usize].to_vec()).unwrap()));
                    d = &d[n as usize..];
                }
            }
            out
        };
        assert_eq!(
            cells(&rows[0]),
            vec![
                Some("1234.50".into()),
                Some("2022-01-08".into()),
                Some("São Paulo".into())
            ]
        );
        assert_eq!(
            cells(&rows[1]),
            vec![None, Some("2000-01-01".into()), Some(String::new())]
        );
        // Binary: a date is days since 2000-01-01.
        let binary = fields(&schema, |_| FieldFormat::Binary);
        let rows = super::rows(&batch, &binary).unwrap();
        let d = &rows[1].data[..];
        assert_eq!(&d[..4], &(-1i32).to_be_bytes(), "NULL money");
        assert_eq!(&d[4..12], &[0, 0, 0, 4, 0, 0, 0, 0], "2000-01-01 is day 0");
    }

    #[test]
    fn parameters_take_the_type_the_statement_needs() {
        let p = param(Some(b"2024-01-31"), false, None, Some(&DataType::Date32)).unwrap();
        assert_eq!(p, ScalarValue::Date32(Some(19_753)));
        let p = param(Some(&7i32.to_be_bytes()), true, Some(&Type::INT4), None).unwrap();
        assert_eq!(p, ScalarValue::Int32(Some(7)));
        let p = param(
            Some(b"12.30"),
            false,
            None,
            Some(&DataType::Decimal128(10, 2)),
        )
        .unwrap();
        assert_eq!(p, ScalarValue::Decimal128(Some(1230), 10, 2));
        let p = param(None, false, None, Some(&DataType::Int64)).unwrap();
        assert_eq!(p, ScalarValue::Int64(None));
        let e = param(Some(b"x"), false, None, Some(&DataType::Int64)).unwrap_err();
        assert!(e.to_string().contains("cannot be read as Int64"), "{e}");
    }
}
