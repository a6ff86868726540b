//! Trino's JSON and UUID types over Strata's text: a JSON value is its canonical text
//! (keys sorted, no spaces) in a VARCHAR field marked [`JSON`], so that a
//! CAST from or to JSON converts as Trino's does instead of quoting or
//! reading the text as a plain string.
//! - `JSON '[1, 2]'` is `json_parse('[1, 2]')` (see `athena`);
//! - `CAST(x AS JSON)` writes x as JSON (`trino_to_json`): numbers, strings,
//!   booleans, arrays, maps (keys as text, sorted) and rows (arrays);
//! - `CAST(json AS T)` reads T from the JSON (`trino_from_json`): a JSON
//!   string's text, numbers and booleans across the scalar types, arrays
//!   into ARRAY(T); an array or object cast to a scalar is an error.

use std::fmt::Write as _;

use datafusion::arrow::datatypes::{Field, FieldRef};
use datafusion::logical_expr::ReturnFieldArgs;

use super::*;

/// The field metadata key that marks a VARCHAR as Trino's JSON.
pub(super) const JSON: &str = "strata.trino_json";

/// The field metadata key that marks a VARCHAR as Trino's UUID (its
/// canonical lowercase text).
pub(super) const UUID: &str = "strata.trino_uuid";

/// The field metadata key that marks a VARCHAR as Trino's IPADDRESS (its
/// canonical text: an IPv4 address, or IPv6 as RFC 5952 writes it).
pub(super) const IPADDRESS: &str = "strata.trino_ipaddress";

/// A VARCHAR field marked with `key` ([`JSON`], [`UUID`], [`IPADDRESS`]).
pub(super) fn marked_field(name: &str, key: &str) -> FieldRef {
    Arc::new(
        Field::new(name, DataType::Utf8, true)
            .with_metadata([(key.to_string(), "1".to_string())].into()),
    )
}

/// A function whose result is a VARCHAR marked with `key` ([`JSON`],
/// [`UUID`]), so that casts from it know what it holds.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(super) struct Marked {
    pub(super) inner: Function,
    pub(super) key: &'static str,
}

impl ScalarUDFImpl for Marked {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn signature(&self) -> &Signature {
        self.inner.signature()
    }
    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        self.inner.return_type(args)
    }
    fn return_field_from_args(&self, _: ReturnFieldArgs) -> Result<FieldRef> {
        Ok(marked_field(self.name(), self.key))
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        self.inner.invoke_with_args(args)
    }
}

/// Canonical text of a value given as bytes or as text, each read by its
/// own parser: the inverse of [`binary_of_texts`].
fn text_of_bytes_or_text(
    a: &ArrayRef,
    of_bytes: impl Fn(&[u8]) -> Result<String>,
    of_text: impl Fn(&str) -> Result<String>,
) -> Result<ArrayRef> {
    let mut out = StringBuilder::new();
    match a.data_type() {
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => {
            let b = cast(a, &DataType::Binary)?;
            for v in b.as_binary::<i32>() {
                out.append_option(v.map(&of_bytes).transpose()?);
            }
        }
        _ => {
            for v in texts(a)? {
                out.append_option(v.as_deref().map(&of_text).transpose()?);
            }
        }
    }
    Ok(Arc::new(out.finish()))
}

/// `trino_uuid(x)`: a UUID from its text (any case, dashed) or its 16
/// bytes, as its lowercase dashed text.
pub(super) fn to_uuid(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let dashed = |hex: &str| {
        format!(
            "{}-{}-{}-{}-{}",
            &hex[..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..]
        )
    };
    text_of_bytes_or_text(
        &a[0],
        |bytes| {
            if bytes.len() != 16 {
                return exec_err!("Invalid UUID binary length: {}", bytes.len());
            }
            let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            Ok(dashed(&hex))
        },
        |text| {
            let parts: Vec<&str> = text.split('-').collect();
            let lengths: Vec<usize> = parts.iter().map(|p| p.len()).collect();
            if lengths != [8, 4, 4, 4, 12]
                || !parts
                    .iter()
                    .all(|p| p.chars().all(|c| c.is_ascii_hexdigit()))
            {
                return exec_err!("Invalid UUID string: {text}");
            }
            Ok(dashed(&parts.concat().to_ascii_lowercase()))
        },
    )
}

/// `trino_uuid_bytes(uuid)`: a UUID's 16 bytes.
pub(super) fn uuid_bytes(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    binary_of_texts(&a[0], |text| {
        let hex = text.replace('-', "");
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16))
            .collect::<std::result::Result<Vec<u8>, _>>()
            .map_err(|e| DataFusionError::Execution(format!("Invalid UUID {text}: {e}")))
    })
}

/// Each text of a marked type as its bytes; NULL stays NULL.
fn binary_of_texts(a: &ArrayRef, bytes: impl Fn(&str) -> Result<Vec<u8>>) -> Result<ArrayRef> {
    let mut out = datafusion::arrow::array::BinaryBuilder::new();
    for v in texts(a)? {
        match v {
            None => out.append_null(),
            Some(text) => out.append_value(bytes(&text)?),
        }
    }
    Ok(Arc::new(out.finish()))
}

/// An address as Trino holds it: 16 bytes, an IPv4 address mapped into
/// IPv6 (`::ffff:a.b.c.d`), so that IPv4 and IPv6 order together.
fn ip_of_text(text: &str) -> Result<std::net::Ipv6Addr> {
    match text.trim().parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(v4)) => Ok(v4.to_ipv6_mapped()),
        Ok(std::net::IpAddr::V6(v6)) => Ok(v6),
        Err(_) => exec_err!("Cannot cast value to IPADDRESS: {text}"),
    }
}

/// Trino's text of an address: a mapped IPv4 address as IPv4, any other
/// as RFC 5952's IPv6 (lowercase, the longest run of zeros as `::`).
fn ip_text(ip: std::net::Ipv6Addr) -> String {
    match ip.to_ipv4_mapped() {
        Some(v4) => v4.to_string(),
        None => ip.to_string(),
    }
}

/// `trino_ipaddress(x)`: an IPADDRESS from its text (IPv4 or IPv6) or its
/// 4 or 16 bytes, as Trino's canonical text.
pub(super) fn to_ipaddress(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    text_of_bytes_or_text(
        &a[0],
        |bytes| {
            let ip = match bytes.len() {
                4 => std::net::Ipv4Addr::from(<[u8; 4]>::try_from(bytes).expect("4"))
                    .to_ipv6_mapped(),
                16 => std::net::Ipv6Addr::from(<[u8; 16]>::try_from(bytes).expect("16")),
                n => return exec_err!("Invalid IP address binary length: {n}"),
            };
            Ok(ip_text(ip))
        },
        |text| ip_of_text(text).map(ip_text),
    )
}

/// `trino_ipaddress_bytes(ip)`: an address's 16 bytes (IPv4 mapped), which
/// order addresses as Trino orders them.
pub(super) fn ipaddress_bytes(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    binary_of_texts(&a[0], |text| Ok(ip_of_text(text)?.octets().to_vec()))
}

/// `contains(network, ip)`: whether a CIDR network (`10.0.0.0/8`,
/// `2001:db8::/32`) holds the address. A prefix out of range, or an IPv4
/// network with bits set past its prefix, is an error, as in Trino (an
/// IPv6 network's are ignored).
pub(super) fn ip_contains(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let (networks, ips) = (texts(&a[0])?, texts(&a[1])?);
    let mut out = datafusion::arrow::array::BooleanBuilder::new();
    for (network, ip) in networks.iter().zip(&ips) {
        let (Some(network), Some(ip)) = (network, ip) else {
            out.append_null();
            continue;
        };
        let invalid = || DataFusionError::Execution(format!("Invalid CIDR: {network}"));
        let (base, prefix) = network.split_once('/').ok_or_else(invalid)?;
        let prefix: u32 = prefix.parse().map_err(|_| invalid())?;
        let (base, prefix, v4) = match base.parse::<std::net::IpAddr>().map_err(|_| invalid())? {
            std::net::IpAddr::V4(v4) if prefix <= 32 => (v4.to_ipv6_mapped(), prefix + 96, true),
            std::net::IpAddr::V6(v6) if prefix <= 128 => (v6, prefix, false),
            _ => return Err(invalid()),
        };
        let mask = u128::MAX.checked_shl(128 - prefix).unwrap_or(0);
        let base = u128::from(base);
        if v4 && base & !mask != 0 {
            return Err(invalid());
        }
        out.append_value(u128::from(ip_of_text(ip)?) & mask == base & mask);
    }
    Ok(Arc::new(out.finish()))
}

/// `trino_to_json(x)`: x written as JSON text.
pub(super) fn to_json(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let mut out = StringBuilder::new();
    for i in 0..a[0].len() {
        let v = ScalarValue::try_from_array(&a[0], i)?;
        if v.is_null() {
            out.append_null();
            continue;
        }
        let mut text = String::new();
        write_json(&mut text, &v)?;
        out.append_value(text);
    }
    Ok(Arc::new(out.finish()))
}

fn write_json(out: &mut String, v: &ScalarValue) -> Result<()> {
    use ScalarValue as S;
    if v.is_null() {
        out.push_str("null");
        return Ok(());
    }
    match v {
        S::Boolean(Some(b)) => write!(out, "{b}").ok(),
        S::Int8(Some(x)) => write!(out, "{x}").ok(),
        S::Int16(Some(x)) => write!(out, "{x}").ok(),
        S::Int32(Some(x)) => write!(out, "{x}").ok(),
        S::Int64(Some(x)) => write!(out, "{x}").ok(),
        S::Float32(Some(x)) => float(out, f64::from(*x), java_number(java_digits_f32(*x))),
        S::Float64(Some(x)) => float(out, *x, java_number(java_digits(*x))),
        S::Decimal128(..) => write!(out, "{v}").ok(),
        S::Utf8(Some(s)) | S::Utf8View(Some(s)) | S::LargeUtf8(Some(s)) => {
            out.push_str(&serde_json::Value::String(s.clone()).to_string());
            Some(())
        }
        S::Date32(_) => {
            out.push_str(&serde_json::Value::String(v.to_string()).to_string());
            Some(())
        }
        S::List(list) => {
            let items = list.value(0);
            out.push('[');
            for i in 0..items.len() {
                if i > 0 {
                    out.push(',');
                }
                write_json(out, &ScalarValue::try_from_array(&items, i)?)?;
            }
            out.push(']');
            Some(())
        }
        S::Map(map) => {
            let entries = map.value(0);
            let (keys, values) = (entries.column(0), entries.column(1));
            let mut pairs = Vec::with_capacity(entries.len());
            for i in 0..entries.len() {
                let key = match ScalarValue::try_from_array(keys, i)? {
                    S::Utf8(Some(s)) | S::Utf8View(Some(s)) | S::LargeUtf8(Some(s)) => s,
                    S::Float64(Some(x)) if x.is_finite() => java_number(java_digits(x)),
                    S::Float32(Some(x)) if x.is_finite() => java_number(java_digits_f32(x)),
                    other => {
                        let mut t = String::new();
                        write_json(&mut t, &other)?;
                        t.trim_matches('"').to_string()
                    }
                };
                let mut value = String::new();
                write_json(&mut value, &ScalarValue::try_from_array(values, i)?)?;
                pairs.push((key, value));
            }
            pairs.sort();
            out.push('{');
            for (i, (k, v)) in pairs.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::Value::String(k.clone()).to_string());
                out.push(':');
                out.push_str(v);
            }
            out.push('}');
            Some(())
        }
        S::Struct(row) => {
            // An object of the fields in their order; an anonymous field
            // (DataFusion's c0, c1...) has an empty name, as in Trino.
            out.push('{');
            for (i, (field, column)) in row.fields().iter().zip(row.columns()).enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let anonymous = field
                    .name()
                    .strip_prefix('c')
                    .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()));
                let name = if anonymous { "" } else { field.name().as_str() };
                out.push_str(&serde_json::Value::String(name.to_string()).to_string());
                out.push(':');
                write_json(out, &ScalarValue::try_from_array(column, 0)?)?;
            }
            out.push('}');
            Some(())
        }
        _ => None,
    }
    .map_or_else(
        || exec_err!("CAST of {} to JSON is not supported", v.data_type()),
        Ok,
    )
}

/// A double's digits as Java's `Double.toString` (Java 19 on) picks them,
/// in Rust's `{:e}` form: the shortest that read back to the same double,
/// except that where one digit would do, the closest of two digits is
/// taken (`1e-323` is the double nearest 9.88e-324: Java writes 9.9E-324).
pub(super) fn java_digits(x: f64) -> String {
    java_digits_of(x)
}

/// `java_digits` for a real, as `Float.toString` picks them.
pub(super) fn java_digits_f32(x: f32) -> String {
    java_digits_of(x)
}

fn java_digits_of<T>(x: T) -> String
where
    T: std::fmt::LowerExp + std::str::FromStr + PartialEq,
{
    let shortest = format!("{x:e}");
    if one_digit(&shortest) {
        let two = format!("{x:.1e}");
        if two.parse::<T>().is_ok_and(|y| y == x) && !two.contains(".0e") {
            return two;
        }
    }
    shortest
}

fn one_digit(scientific: &str) -> bool {
    let mantissa = scientific.split('e').next().unwrap_or_default();
    mantissa.trim_start_matches('-').len() == 1
}

/// A number's shortest digits (Rust's `{:e}`: `1.5e10`) as Java's
/// `Double.toString` writes them, which Trino's JSON uses: plain with at
/// least one fraction digit from 10^-3 to 10^7 (`2.0`, `3.14`), else
/// scientific (`1.0E10`, `1.0E-5`).
pub(super) fn java_number(scientific: String) -> String {
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let (negative, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mantissa),
    };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if negative { "-" } else { "" };
    if digits.chars().all(|c| c == '0') {
        return format!("{sign}0.0");
    }
    if (-3..7).contains(&exponent) {
        let point = exponent + 1;
        let (whole, fraction) = if point <= 0 {
            (
                "0".to_string(),
                format!("{}{digits}", "0".repeat(point.unsigned_abs() as usize)),
            )
        } else if point as usize >= digits.len() {
            (
                format!("{digits}{}", "0".repeat(point as usize - digits.len())),
                String::new(),
            )
        } else {
            (
                digits[..point as usize].to_string(),
                digits[point as usize..].to_string(),
            )
        };
        let fraction = if fraction.is_empty() {
            "0".to_string()
        } else {
            fraction
        };
        format!("{sign}{whole}.{fraction}")
    } else {
        let (first, rest) = digits.split_at(1);
        let rest = if rest.is_empty() { "0" } else { rest };
        format!("{sign}{first}.{rest}E{exponent}")
    }
}

/// Doubles as Trino writes them in JSON: finite ones as numbers, the rest
/// as the strings "NaN", "Infinity", "-Infinity".
fn float(out: &mut String, x: f64, text: String) -> Option<()> {
    if x.is_nan() {
        out.push_str("\"NaN\"");
    } else if x.is_infinite() {
        out.push_str(if x > 0.0 {
            "\"Infinity\""
        } else {
            "\"-Infinity\""
        });
    } else {
        out.push_str(&text);
    }
    Some(())
}

/// `trino_from_json(json, typed NULL)`: the JSON read as the second
/// argument's type.
pub(super) fn from_json(a: &[ArrayRef], ret: &DataType) -> Result<ArrayRef> {
    let docs = texts(&a[0])?;
    let values = docs
        .iter()
        .map(|doc| match doc {
            None => Ok(ScalarValue::try_from(ret)?),
            Some(doc) => {
                let v: serde_json::Value = serde_json::from_str(doc).map_err(|e| {
                    DataFusionError::Execution(format!("Cannot read '{doc}' as JSON: {e}"))
                })?;
                read(&v, ret, doc)
            }
        })
        .collect::<Result<Vec<_>>>()?;
    if values.is_empty() {
        return Ok(datafusion::arrow::array::new_empty_array(ret));
    }
    Ok(cast(&ScalarValue::iter_to_array(values)?, ret)?)
}

/// `v` as a value of exactly type `t` (a list's items must all be of its
/// item type).
fn read(v: &serde_json::Value, t: &DataType, doc: &str) -> Result<ScalarValue> {
    let value = read_as(v, t, doc)?;
    if &value.data_type() == t {
        Ok(value)
    } else {
        Ok(value.cast_to(t)?)
    }
}

fn read_as(v: &serde_json::Value, t: &DataType, doc: &str) -> Result<ScalarValue> {
    use serde_json::Value as V;
    let fail = || exec_err!("Cannot cast JSON '{doc}' to {t}");
    if v.is_null() {
        return ScalarValue::try_from(t);
    }
    let text = match v {
        V::String(s) => s.clone(),
        // A JSON number with a fraction or exponent is a DOUBLE in Trino,
        // whose VARCHAR is written 1.289E2.
        V::Number(n) if !(n.is_i64() || n.is_u64()) && t.is_string() => {
            let x = n.as_f64().unwrap_or_default();
            let texts = super::semantics::double_text(
                &[Arc::new(datafusion::arrow::array::Float64Array::from(vec![x])) as ArrayRef],
                &DataType::Utf8,
            )?;
            texts.as_string::<i32>().value(0).to_string()
        }
        V::Number(n) => n.to_string(),
        V::Bool(b) => b.to_string(),
        V::Array(items) => {
            let DataType::List(item) = t else {
                return fail();
            };
            let values = items
                .iter()
                .map(|x| read(x, item.data_type(), doc))
                .collect::<Result<Vec<_>>>()?;
            return Ok(ScalarValue::List(ScalarValue::new_list_nullable(
                &values,
                item.data_type(),
            )));
        }
        _ => return fail(),
    };
    let scalar = ScalarValue::Utf8(Some(text.clone()));
    match t {
        DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8 => {
            Ok(ScalarValue::Utf8(Some(text)))
        }
        DataType::Boolean => match v {
            V::Bool(b) => Ok(ScalarValue::Boolean(Some(*b))),
            V::Number(n) => Ok(ScalarValue::Boolean(Some(
                n.as_f64().is_some_and(|x| x != 0.0),
            ))),
            _ => match text.as_str() {
                "true" => Ok(ScalarValue::Boolean(Some(true))),
                "false" => Ok(ScalarValue::Boolean(Some(false))),
                _ => fail(),
            },
        },
        _ if t.is_integer() => {
            let x = match v {
                V::Bool(b) => f64::from(u8::from(*b)),
                _ => text.trim().parse::<f64>().map_err(|_| {
                    DataFusionError::Execution(format!("Cannot cast JSON '{doc}' to {t}"))
                })?,
            };
            // Exact integers keep every digit; others round half away from zero.
            let whole = match v {
                V::Number(n) if n.is_i64() => n.as_i64().unwrap_or_default(),
                _ => x.round() as i64,
            };
            ScalarValue::Int64(Some(whole))
                .cast_to(t)
                .ok()
                .filter(|c| !c.is_null())
                .map_or_else(fail, Ok)
        }
        DataType::Float32 | DataType::Float64 => {
            let x = match v {
                V::Bool(b) => f64::from(u8::from(*b)),
                _ => text.trim().parse::<f64>().map_err(|_| {
                    DataFusionError::Execution(format!("Cannot cast JSON '{doc}' to {t}"))
                })?,
            };
            Ok(ScalarValue::Float64(Some(x)).cast_to(t)?)
        }
        DataType::Decimal128(..) => scalar
            .cast_to(t)
            .ok()
            .filter(|c| !c.is_null())
            .map_or_else(fail, Ok),
        _ => fail(),
    }
}
