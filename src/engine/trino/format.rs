//! Trino's `format(format, args...)`: Java's `String.format` in Trino's
//! session locale (en-US), over the Java objects Trino turns SQL values
//! into before it calls it: the integers a `Long`, DOUBLE a `Double`, REAL
//! a `Float`, DECIMAL a `BigDecimal`, DATE a `LocalDate`, TIME a
//! `LocalTime`, TIMESTAMP a `LocalDateTime`, TIMESTAMP WITH TIME ZONE a
//! `ZonedDateTime`, text and JSON their text, an interval (and a TIME WITH
//! TIME ZONE, by a rewrite in [`super::semantics`]) its CAST to VARCHAR.
//! So `format('%s', TIMESTAMP '2020-05-10 12:34:56.1')` is Java's
//! `2020-05-10T12:34:56.100`, and `format('%.2f', 1.005)` rounds half up.
//!
//! What Java would reject (`%d` of a text, a missing argument, a flag a
//! conversion does not take) is an error naming Java's reason, as Trino's
//! `Invalid format string` is; the hexadecimal float `%a`, hash codes of
//! dates and zone names (`%tZ`) are refused rather than guessed.

use chrono::{Offset, TimeZone, Weekday};
use datafusion::arrow::array::timezone::Tz;

use super::*;

/// One argument as the Java object Trino hands Java's formatter.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Null,
    Boolean(bool),
    Long(i64),
    /// A REAL: Java formats it as its double in numeric conversions.
    Float(f32),
    Double(f64),
    /// A `BigDecimal`: its unscaled value and scale.
    Decimal(i128, i8),
    Text(String),
    Date(NaiveDate),
    /// Nanoseconds since midnight.
    Time(i64),
    DateTime(NaiveDateTime),
    /// A `ZonedDateTime`: the wall clock, the offset east of UTC in
    /// seconds, and the zone when it is a region (or UTC) and not an offset.
    Zoned(NaiveDateTime, i32, Option<String>),
}

impl Value {
    /// The Java class Java's formatter names when it refuses a value.
    fn class(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Boolean(_) => "java.lang.Boolean",
            Value::Long(_) => "java.lang.Long",
            Value::Float(_) => "java.lang.Float",
            Value::Double(_) => "java.lang.Double",
            Value::Decimal(..) => "java.math.BigDecimal",
            Value::Text(_) => "java.lang.String",
            Value::Date(_) => "java.time.LocalDate",
            Value::Time(_) => "java.time.LocalTime",
            Value::DateTime(_) => "java.time.LocalDateTime",
            Value::Zoned(..) => "java.time.ZonedDateTime",
        }
    }

    /// Java's `toString` of the value (`%s`).
    fn java_string(&self) -> String {
        match self {
            Value::Null => "null".into(),
            Value::Boolean(b) => b.to_string(),
            Value::Long(v) => v.to_string(),
            Value::Float(x) if x.is_finite() => java_json_number(json_type_digits_f32(*x)),
            Value::Float(x) => special(f64::from(*x)),
            Value::Double(x) if x.is_finite() => java_json_number(json_type_digits(*x)),
            Value::Double(x) => special(*x),
            Value::Decimal(v, s) => big_decimal_string(*v, *s),
            Value::Text(t) => t.clone(),
            Value::Date(d) => local_date(*d),
            Value::Time(n) => local_time(*n),
            Value::DateTime(t) => local_date_time(*t),
            Value::Zoned(t, offset, zone) => {
                let mut s = local_date_time(*t) + &zone_offset(*offset);
                if let Some(z) = zone {
                    s.push_str(&format!("[{z}]"));
                }
                s
            }
        }
    }
}

fn json_type_digits(x: f64) -> String {
    super::json_type::java_digits(x)
}

fn json_type_digits_f32(x: f32) -> String {
    super::json_type::java_digits_f32(x)
}

fn java_json_number(scientific: String) -> String {
    super::json_type::java_number(scientific)
}

/// Java's text of NaN and the infinities.
fn special(x: f64) -> String {
    if x.is_nan() {
        "NaN".into()
    } else if x > 0.0 {
        "Infinity".into()
    } else {
        "-Infinity".into()
    }
}

/// `BigDecimal.toString`: plain, unless the exponent is below -6.
fn big_decimal_string(unscaled: i128, scale: i8) -> String {
    let digits = unscaled.unsigned_abs().to_string();
    let sign = if unscaled < 0 { "-" } else { "" };
    let scale = i32::from(scale);
    let adjusted = digits.len() as i32 - 1 - scale;
    if scale >= 0 && adjusted >= -6 {
        if scale == 0 {
            return format!("{sign}{digits}");
        }
        let point = digits.len() as i32 - scale;
        return if point > 0 {
            let (w, f) = digits.split_at(point as usize);
            format!("{sign}{w}.{f}")
        } else {
            format!("{sign}0.{}{digits}", "0".repeat((-point) as usize))
        };
    }
    let (first, rest) = digits.split_at(1);
    let rest = if rest.is_empty() {
        String::new()
    } else {
        format!(".{rest}")
    };
    let e = if adjusted >= 0 {
        format!("+{adjusted}")
    } else {
        adjusted.to_string()
    };
    format!("{sign}{first}{rest}E{e}")
}

/// `LocalDate.toString`: four-digit years, a sign past 9999.
fn local_date(d: NaiveDate) -> String {
    let y = d.year();
    let year = if y > 9999 {
        format!("+{y}")
    } else if y < 0 {
        format!("-{:04}", -y)
    } else {
        format!("{y:04}")
    };
    format!("{year}-{:02}-{:02}", d.month(), d.day())
}

/// `LocalTime.toString`: `HH:mm`, then seconds when not zero, then the
/// fraction in groups of three digits.
fn local_time(nanos: i64) -> String {
    let (secs, nano) = (
        nanos.div_euclid(1_000_000_000),
        nanos.rem_euclid(1_000_000_000),
    );
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    let mut out = format!("{h:02}:{m:02}");
    if s > 0 || nano > 0 {
        out.push_str(&format!(":{s:02}"));
        if nano % 1_000_000 == 0 && nano > 0 {
            out.push_str(&format!(".{:03}", nano / 1_000_000));
        } else if nano % 1_000 == 0 && nano > 0 {
            out.push_str(&format!(".{:06}", nano / 1_000));
        } else if nano > 0 {
            out.push_str(&format!(".{nano:09}"));
        }
    }
    out
}

fn nanos_of_day(t: NaiveDateTime) -> i64 {
    i64::from(t.num_seconds_from_midnight()) * 1_000_000_000 + i64::from(t.nanosecond())
}

/// `LocalDateTime.toString`: the date, `T`, the time.
fn local_date_time(t: NaiveDateTime) -> String {
    format!("{}T{}", local_date(t.date()), local_time(nanos_of_day(t)))
}

/// `ZoneOffset.toString`: `Z`, `+05:45`, or `+05:41:16`.
fn zone_offset(seconds: i32) -> String {
    if seconds == 0 {
        return "Z".into();
    }
    let sign = if seconds < 0 { '-' } else { '+' };
    let s = seconds.unsigned_abs();
    let mut out = format!("{sign}{:02}:{:02}", s / 3600, s / 60 % 60);
    if !s.is_multiple_of(60) {
        out.push_str(&format!(":{:02}", s % 60));
    }
    out
}

/// An argument column's values as Java objects.
fn values(a: &ArrayRef) -> Result<Vec<Value>> {
    let n = a.len();
    let t = a.data_type().clone();
    let each = |f: &dyn Fn(usize) -> Value| -> Vec<Value> {
        (0..n)
            .map(|i| if a.is_null(i) { Value::Null } else { f(i) })
            .collect()
    };
    Ok(match &t {
        DataType::Null => vec![Value::Null; n],
        DataType::Boolean => {
            let b = a.as_boolean();
            each(&|i| Value::Boolean(b.value(i)))
        }
        t if t.is_integer() => {
            let v = cast(a, &DataType::Int64)?;
            let v = v.as_primitive::<datafusion::arrow::datatypes::Int64Type>();
            each(&|i| Value::Long(v.value(i)))
        }
        DataType::Float32 => {
            let v = a.as_primitive::<datafusion::arrow::datatypes::Float32Type>();
            each(&|i| Value::Float(v.value(i)))
        }
        DataType::Float16 | DataType::Float64 => {
            let v = cast(a, &DataType::Float64)?;
            let v = v.as_primitive::<datafusion::arrow::datatypes::Float64Type>();
            each(&|i| Value::Double(v.value(i)))
        }
        DataType::Decimal128(_, s) => {
            let v = a.as_primitive::<datafusion::arrow::datatypes::Decimal128Type>();
            each(&|i| Value::Decimal(v.value(i), *s))
        }
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Decimal256(..) => {
            texts(a)?
                .into_iter()
                .map(|t| t.map_or(Value::Null, Value::Text))
                .collect()
        }
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => {
            // Trino's CAST of VARBINARY to VARCHAR reads the bytes as UTF-8.
            let v = cast(a, &DataType::Binary)?;
            let v = v.as_binary::<i32>();
            each(&|i| Value::Text(String::from_utf8_lossy(v.value(i)).into_owned()))
        }
        DataType::Date32 | DataType::Date64 => {
            let v = cast(a, &DataType::Date32)?;
            let v = v.as_primitive::<datafusion::arrow::datatypes::Date32Type>();
            each(&|i| {
                NaiveDate::from_num_days_from_ce_opt(v.value(i) + EPOCH_DAYS_FROM_CE)
                    .map_or(Value::Null, Value::Date)
            })
        }
        DataType::Time32(_) | DataType::Time64(_) => {
            let v = cast(a, &DataType::Time64(TimeUnit::Nanosecond))?;
            let v = cast(&v, &DataType::Int64)?;
            let v = v.as_primitive::<datafusion::arrow::datatypes::Int64Type>();
            each(&|i| Value::Time(v.value(i)))
        }
        DataType::Timestamp(_, Some(_)) if super::zoned::is_time_zoned(&t) => {
            texts(&super::zoned::time_zoned_as_text(a)?)?
                .into_iter()
                .map(|t| t.map_or(Value::Null, Value::Text))
                .collect()
        }
        DataType::Timestamp(unit, zone) => {
            let walls = wall_clocks(a, *unit)?;
            let zone = zone.as_deref().map(str::parse::<Tz>).transpose()?;
            let named = zone_name(&t);
            let mut out = Vec::with_capacity(n);
            for wall in walls {
                let Some(instant) = wall else {
                    out.push(Value::Null);
                    continue;
                };
                out.push(match &zone {
                    None => Value::DateTime(instant),
                    Some(z) => {
                        let offset = z.offset_from_utc_datetime(&instant).fix();
                        let local = instant + offset;
                        Value::Zoned(local, offset.local_minus_utc(), named.clone())
                    }
                });
            }
            out
        }
        DataType::Interval(_) | DataType::Duration(_) => {
            let text = super::datetime::interval_text(std::slice::from_ref(a), &DataType::Utf8)?;
            texts(&text)?
                .into_iter()
                .map(|t| t.map_or(Value::Null, Value::Text))
                .collect()
        }
        other => return exec_err!("format does not take a value of type {other}"),
    })
}

/// A timestamp column's values (UTC instants when zoned), to nanoseconds
/// where they fit and microseconds otherwise.
fn wall_clocks(a: &ArrayRef, unit: TimeUnit) -> Result<Vec<Option<NaiveDateTime>>> {
    let (per_second, unit) = match unit {
        TimeUnit::Nanosecond => (1_000_000_000i64, TimeUnit::Nanosecond),
        _ => (1_000_000, TimeUnit::Microsecond),
    };
    let v = cast(a, &DataType::Timestamp(unit, None))?;
    let v = cast(&v, &DataType::Int64)?;
    let v = v.as_primitive::<datafusion::arrow::datatypes::Int64Type>();
    Ok(v.iter()
        .map(|x| {
            let x = x?;
            let nanos = x.rem_euclid(per_second) * (1_000_000_000 / per_second);
            chrono::DateTime::from_timestamp(x.div_euclid(per_second), nanos as u32)
                .map(|t| t.naive_utc())
        })
        .collect())
}

/// The zone `ZonedDateTime.toString` names in brackets: a region, or UTC
/// (Trino's `UTC` is a region id); a fixed offset is not named.
fn zone_name(t: &DataType) -> Option<String> {
    match t {
        DataType::Timestamp(_, Some(z)) if !z.starts_with(['+', '-']) => Some(z.to_string()),
        _ => None,
    }
}

/// `format(format, args...)` over whole columns.
pub(super) fn format(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    if a.len() < 2 {
        return exec_err!("format takes a format and at least one value");
    }
    if !matches!(
        a[0].data_type(),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null
    ) {
        return exec_err!(
            "format: the format must be a VARCHAR, not {}",
            a[0].data_type()
        );
    }
    let formats = texts(&a[0])?;
    let columns = a[1..].iter().map(values).collect::<Result<Vec<_>>>()?;
    let mut out = StringBuilder::new();
    let mut parsed: Option<(String, Vec<Piece>)> = None;
    for (row, f) in formats.iter().enumerate() {
        let Some(f) = f else {
            out.append_null();
            continue;
        };
        if parsed.as_ref().is_none_or(|(text, _)| text != f) {
            parsed = Some((f.clone(), parse(f).map_err(|e| invalid(f, &e))?));
        }
        let pieces = &parsed.as_ref().expect("parsed above").1;
        let args: Vec<&Value> = columns.iter().map(|c| &c[row]).collect();
        out.append_value(render(pieces, &args).map_err(|e| invalid(f, &e))?);
    }
    Ok(Arc::new(out.finish()))
}

/// Trino's message for what Java's formatter throws.
fn invalid(format: &str, reason: &str) -> DataFusionError {
    DataFusionError::Execution(format!("Invalid format string: {format} ({reason})"))
}

/// Which argument a specifier takes.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Index {
    /// The next in order.
    Next,
    /// `%2$s`: the second.
    At(usize),
    /// `%<s`: the previous specifier's.
    Previous,
}

#[derive(Debug, Clone, Default, PartialEq)]
struct Flags {
    left: bool,
    alternate: bool,
    plus: bool,
    space: bool,
    zero: bool,
    group: bool,
    parentheses: bool,
}

/// One `%...` specifier.
#[derive(Debug, Clone, PartialEq)]
struct Spec {
    text: String,
    index: Index,
    flags: Flags,
    width: Option<usize>,
    precision: Option<usize>,
    /// The conversion in lower case (`s`, `d`, `f`, `t`...).
    conversion: char,
    upper: bool,
    /// The field of a `%t` conversion (`Y`, `m`, `H`...).
    time: Option<char>,
}

#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Text(String),
    Spec(Spec),
}

/// The format's text and specifiers, checked as Java checks them.
fn parse(f: &str) -> std::result::Result<Vec<Piece>, String> {
    let chars: Vec<char> = f.chars().collect();
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '%' {
            text.push(chars[i]);
            i += 1;
            continue;
        }
        let start = i;
        i += 1;
        let digits = |i: &mut usize| {
            let s = *i;
            while *i < chars.len() && chars[*i].is_ascii_digit() {
                *i += 1;
            }
            chars[s..*i].iter().collect::<String>()
        };
        let mut index = Index::Next;
        let mut j = i;
        let n = digits(&mut j);
        if !n.is_empty() && chars.get(j) == Some(&'$') {
            let n: usize = n
                .parse()
                .map_err(|_| format!("IllegalFormatArgumentIndex: {n}"))?;
            if n == 0 {
                return Err("IllegalFormatArgumentIndex: Illegal format argument index = 0".into());
            }
            index = Index::At(n);
            i = j + 1;
        }
        let mut flags = Flags::default();
        while let Some(&c) = chars.get(i) {
            let flag = match c {
                '-' => &mut flags.left,
                '#' => &mut flags.alternate,
                '+' => &mut flags.plus,
                ' ' => &mut flags.space,
                '0' => &mut flags.zero,
                ',' => &mut flags.group,
                '(' => &mut flags.parentheses,
                '<' if index == Index::Next => {
                    index = Index::Previous;
                    i += 1;
                    continue;
                }
                _ => break,
            };
            if *flag {
                return Err(format!("DuplicateFormatFlags: Flags = '{c}'"));
            }
            *flag = true;
            i += 1;
        }
        let width = digits(&mut i);
        let width = (!width.is_empty())
            .then(|| width.parse::<usize>())
            .transpose()
            .map_err(|_| "IllegalFormatWidth".to_string())?;
        let mut precision = None;
        if chars.get(i) == Some(&'.') {
            i += 1;
            let p = digits(&mut i);
            if p.is_empty() {
                return Err("UnknownFormatConversion: Conversion = '.'".to_string());
            }
            precision = Some(p.parse::<usize>().map_err(|_| "IllegalFormatPrecision")?);
        }
        let Some(&c) = chars.get(i) else {
            return Err("UnknownFormatConversion: Conversion = '%'".into());
        };
        i += 1;
        let (conversion, upper, time) = if c == 't' || c == 'T' {
            let Some(&field) = chars.get(i) else {
                return Err(format!("UnknownFormatConversion: Conversion = '{c}'"));
            };
            i += 1;
            if !"HIklMSLNpzZsQBbhAaCYyjmdeRTrDFc".contains(field) {
                return Err(format!(
                    "UnknownFormatConversion: Conversion = '{c}{field}'"
                ));
            }
            ('t', c == 'T', Some(field))
        } else if "bBhHsScCdoxXeEfgGaA%n".contains(c) {
            (c.to_ascii_lowercase(), c.is_ascii_uppercase(), None)
        } else {
            return Err(format!("UnknownFormatConversion: Conversion = '{c}'"));
        };
        let spec = Spec {
            text: chars[start..i].iter().collect(),
            index,
            flags,
            width,
            precision,
            conversion,
            upper,
            time,
        };
        check(&spec)?;
        if !text.is_empty() {
            pieces.push(Piece::Text(std::mem::take(&mut text)));
        }
        pieces.push(Piece::Spec(spec));
    }
    if !text.is_empty() {
        pieces.push(Piece::Text(text));
    }
    Ok(pieces)
}

/// The flags, width and precision Java refuses for a conversion.
fn check(s: &Spec) -> std::result::Result<(), String> {
    let f = &s.flags;
    let mismatch = |flag: char| {
        Err(format!(
            "FormatFlagsConversionMismatch: Conversion = {}, Flags = {flag}",
            s.conversion
        ))
    };
    let numeric = matches!(s.conversion, 'd' | 'o' | 'x' | 'e' | 'f' | 'g' | 'a');
    if s.precision.is_some() && matches!(s.conversion, 'c' | 'd' | 'o' | 'x' | 't' | '%' | 'n') {
        return Err(format!(
            "IllegalFormatPrecision: {}",
            s.precision.unwrap_or_default()
        ));
    }
    if s.conversion == 'n' && (s.width.is_some() || *f != Flags::default()) {
        return Err("IllegalFormatWidth: the line separator takes no width or flags".into());
    }
    if !numeric {
        for (on, c) in [
            (f.plus, '+'),
            (f.space, ' '),
            (f.zero, '0'),
            (f.group, ','),
            (f.parentheses, '('),
        ] {
            if on {
                return mismatch(c);
            }
        }
        // Java takes `#` of `%s` only for its own Formattable objects.
        if f.alternate {
            return mismatch('#');
        }
    }
    if numeric {
        if f.plus && f.space || f.left && f.zero {
            return Err(format!("IllegalFormatFlags: Flags = '{}'", flag_text(f)));
        }
        if f.alternate && matches!(s.conversion, 'd' | 'g') {
            return mismatch('#');
        }
        if f.group && matches!(s.conversion, 'o' | 'x' | 'e' | 'a') {
            return mismatch(',');
        }
    }
    if (f.left || f.zero) && s.width.is_none() {
        return Err(format!("MissingFormatWidth: {}", s.text));
    }
    Ok(())
}

fn flag_text(f: &Flags) -> String {
    [
        (f.left, '-'),
        (f.alternate, '#'),
        (f.plus, '+'),
        (f.space, ' '),
        (f.zero, '0'),
        (f.group, ','),
        (f.parentheses, '('),
    ]
    .iter()
    .filter(|(on, _)| *on)
    .map(|(_, c)| *c)
    .collect()
}

/// The format filled with one row's arguments.
fn render(pieces: &[Piece], args: &[&Value]) -> std::result::Result<String, String> {
    let mut out = String::new();
    let mut next = 0usize;
    let mut last: Option<usize> = None;
    for p in pieces {
        let s = match p {
            Piece::Text(t) => {
                out.push_str(t);
                continue;
            }
            Piece::Spec(s) => s,
        };
        match s.conversion {
            '%' => {
                out.push_str(&justify(s, "%".into()));
                continue;
            }
            'n' => {
                out.push('\n');
                continue;
            }
            _ => {}
        }
        let at = match s.index {
            Index::Next => {
                next += 1;
                next - 1
            }
            Index::At(n) => n - 1,
            Index::Previous => {
                last.ok_or_else(|| format!("MissingFormatArgument: Format specifier '{}'", s.text))?
            }
        };
        last = Some(at);
        let value = args
            .get(at)
            .ok_or_else(|| format!("MissingFormatArgument: Format specifier '{}'", s.text))?;
        let text = convert(s, value)?;
        out.push_str(&justify(
            s,
            if s.upper { text.to_uppercase() } else { text },
        ));
    }
    Ok(out)
}

/// Spaces to the width, on the left unless `-`.
fn justify(s: &Spec, text: String) -> String {
    let len = text.chars().count();
    match s.width {
        Some(w) if w > len => {
            let pad = " ".repeat(w - len);
            if s.flags.left {
                text + &pad
            } else {
                pad + &text
            }
        }
        _ => text,
    }
}

fn mismatch(s: &Spec, v: &Value) -> String {
    let c = s.time.map_or(s.conversion, |t| t);
    let c = if s.upper { c.to_ascii_uppercase() } else { c };
    format!("IllegalFormatConversion: {c} != {}", v.class())
}

/// One value by one specifier, before justification and upper case.
fn convert(s: &Spec, v: &Value) -> std::result::Result<String, String> {
    let cut = |t: String| match s.precision {
        Some(p) => t.chars().take(p).collect(),
        None => t,
    };
    match s.conversion {
        'b' => Ok(cut(match v {
            Value::Null => "false".into(),
            Value::Boolean(b) => b.to_string(),
            _ => "true".into(),
        })),
        's' => Ok(cut(v.java_string())),
        'h' => match v {
            Value::Null => Ok(cut("null".into())),
            _ => Ok(cut(format!(
                "{:x}",
                hash_code(v)
                    .ok_or_else(|| { format!("hash code of a {} is not supported", v.class()) })?
            ))),
        },
        'c' => match v {
            Value::Null => Ok("null".into()),
            // Trino hands integers over as Long, which %c does not take.
            _ => Err(mismatch(s, v)),
        },
        'd' | 'o' | 'x' => match v {
            Value::Null => Ok("null".into()),
            Value::Long(n) => Ok(integer(s, *n)?),
            _ => Err(mismatch(s, v)),
        },
        'e' | 'f' | 'g' => match v {
            Value::Null => Ok("null".into()),
            Value::Float(x) => Ok(floating(s, f64::from(*x))),
            Value::Double(x) => Ok(floating(s, *x)),
            Value::Decimal(u, scale) => {
                let d = Digits::of_decimal(*u, *scale);
                Ok(number(s, *u < 0, d))
            }
            _ => Err(mismatch(s, v)),
        },
        'a' => match v {
            Value::Null => Ok("null".into()),
            _ => Err("the hexadecimal float conversion %a is not supported".into()),
        },
        't' => date_time(s, v),
        c => Err(format!("UnknownFormatConversion: Conversion = '{c}'")),
    }
}

/// Java's `hashCode` of the values whose hash is defined simply.
fn hash_code(v: &Value) -> Option<u32> {
    Some(match v {
        Value::Boolean(true) => 1231,
        Value::Boolean(false) => 1237,
        Value::Long(n) => (*n ^ ((*n as u64) >> 32) as i64) as u32,
        Value::Double(x) => {
            let b = if x.is_nan() {
                f64::NAN.to_bits()
            } else {
                x.to_bits()
            };
            (b ^ (b >> 32)) as u32
        }
        Value::Float(x) => {
            if x.is_nan() {
                f32::NAN.to_bits()
            } else {
                x.to_bits()
            }
        }
        Value::Text(t) => t
            .encode_utf16()
            .fold(0u32, |h, c| h.wrapping_mul(31).wrapping_add(u32::from(c))),
        _ => return None,
    })
}

/// `%d`, `%o`, `%x` of a Long.
fn integer(s: &Spec, n: i64) -> std::result::Result<String, String> {
    let f = &s.flags;
    if s.conversion == 'd' {
        let digits = n.unsigned_abs().to_string();
        return Ok(signed(s, n < 0, &digits));
    }
    if n < 0 && (f.plus || f.space || f.parentheses) {
        let flag = if f.plus {
            '+'
        } else if f.space {
            ' '
        } else {
            '('
        };
        return Err(format!(
            "FormatFlagsConversionMismatch: Conversion = {}, Flags = {flag}",
            s.conversion
        ));
    }
    // A negative Long is its 64-bit two's complement, as Java's.
    let (mut body, prefix) = if s.conversion == 'o' {
        (
            format!("{:o}", n as u64),
            if f.alternate { "0" } else { "" },
        )
    } else {
        (
            format!("{:x}", n as u64),
            if f.alternate { "0x" } else { "" },
        )
    };
    if let (true, Some(w)) = (f.zero, s.width) {
        let len = body.len() + prefix.len();
        if w > len {
            body = "0".repeat(w - len) + &body;
        }
    }
    Ok(format!("{prefix}{body}"))
}

/// A magnitude's text with its sign, grouping and zero padding, as Java's
/// `leadingSign`, `localizedMagnitude` and `trailingSign` write it.
fn signed(s: &Spec, negative: bool, magnitude: &str) -> String {
    let f = &s.flags;
    let mut out = String::new();
    if negative {
        out.push(if f.parentheses { '(' } else { '-' });
    } else if f.plus {
        out.push('+');
    } else if f.space {
        out.push(' ');
    }
    let mut body = if f.group {
        grouped(magnitude)
    } else {
        magnitude.to_string()
    };
    if let (true, Some(w)) = (f.zero, s.width) {
        let w = if negative && f.parentheses { w - 1 } else { w };
        let len = out.chars().count() + body.chars().count();
        if w > len {
            body = "0".repeat(w - len) + &body;
        }
    }
    out.push_str(&body);
    if negative && f.parentheses {
        out.push(')');
    }
    out
}

/// Groups of three digits in the whole part, separated by commas.
fn grouped(magnitude: &str) -> String {
    let (whole, rest) = match magnitude.find('.') {
        Some(p) => magnitude.split_at(p),
        None => (magnitude, ""),
    };
    let mut out = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out + rest
}

/// `%e`, `%f`, `%g` of a double: NaN and the infinities as words.
fn floating(s: &Spec, x: f64) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    // Java's sign test: -0.0 is negative.
    let negative = x.is_sign_negative();
    if x.is_infinite() {
        return signed(
            &Spec {
                flags: Flags {
                    zero: false,
                    group: false,
                    ..s.flags.clone()
                },
                ..s.clone()
            },
            negative,
            "Infinity",
        );
    }
    number(s, negative, Digits::of_double(x.abs()))
}

/// A finite magnitude by `%e`, `%f` or `%g`, with its sign.
fn number(s: &Spec, negative: bool, d: Digits) -> String {
    let f = &s.flags;
    match s.conversion {
        'f' => {
            let p = s.precision.unwrap_or(6);
            let mut text = d.rounded_at(p).fixed(p);
            if f.alternate && p == 0 {
                text.push('.');
            }
            signed(s, negative, &text)
        }
        'e' => scientific(s, negative, &d, s.precision.unwrap_or(6)),
        _ => {
            let p = match s.precision {
                None => 6,
                Some(0) => 1,
                Some(p) => p,
            };
            if d.is_zero() {
                return signed(s, negative, &d.fixed(p - 1));
            }
            let r = d.rounded_to(p);
            let e = r.point - 1;
            if (-4..p as i32).contains(&e) {
                let fraction = (p as i32 - 1 - e) as usize;
                signed(s, negative, &d.rounded_at(fraction).fixed(fraction))
            } else {
                scientific(s, negative, &d, p - 1)
            }
        }
    }
}

/// `d.dddddde+XX`: the width, less the exponent's, pads the mantissa.
fn scientific(s: &Spec, negative: bool, d: &Digits, fraction: usize) -> String {
    let (mantissa, exponent) = if d.is_zero() {
        (d.fixed(fraction), 0)
    } else {
        let r = d.rounded_to(fraction + 1);
        let shifted = Digits {
            digits: r.digits.clone(),
            point: 1,
        };
        (shifted.fixed(fraction), r.point - 1)
    };
    let mut mantissa = mantissa;
    if s.flags.alternate && fraction == 0 {
        mantissa.push('.');
    }
    let exp = format!(
        "{}{}{:02}",
        if s.upper { 'E' } else { 'e' },
        if exponent < 0 { '-' } else { '+' },
        exponent.unsigned_abs()
    );
    let narrowed = Spec {
        width: s.width.map(|w| w.saturating_sub(exp.len())),
        ..s.clone()
    };
    signed(&narrowed, negative, &mantissa) + &exp
}

/// A non-negative decimal number as digits: `0.d1 d2 ... × 10^point`.
#[derive(Debug, Clone, PartialEq)]
struct Digits {
    digits: Vec<u8>,
    point: i32,
}

impl Digits {
    /// The shortest digits that read back as the double (Java's).
    fn of_double(x: f64) -> Digits {
        let text = json_type_digits(x);
        let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
        let exponent: i32 = exponent.parse().unwrap_or(0);
        let digits: Vec<u8> = mantissa
            .bytes()
            .filter(u8::is_ascii_digit)
            .map(|b| b - b'0')
            .collect();
        Digits {
            digits,
            point: exponent + 1,
        }
        .trimmed()
    }

    fn of_decimal(unscaled: i128, scale: i8) -> Digits {
        let text = unscaled.unsigned_abs().to_string();
        Digits {
            digits: text.bytes().map(|b| b - b'0').collect(),
            point: text.len() as i32 - i32::from(scale),
        }
        .trimmed()
    }

    fn trimmed(mut self) -> Digits {
        while self.digits.last() == Some(&0) {
            self.digits.pop();
        }
        let lead = self.digits.iter().take_while(|d| **d == 0).count();
        self.digits.drain(..lead);
        self.point -= lead as i32;
        if self.digits.is_empty() {
            self.point = 0;
        }
        self
    }

    fn is_zero(&self) -> bool {
        self.digits.is_empty()
    }

    /// Rounded half up to `keep` digits from the first.
    fn rounded_keeping(&self, keep: i32) -> Digits {
        if keep >= self.digits.len() as i32 {
            return self.clone();
        }
        if keep < 0 {
            return Digits {
                digits: vec![],
                point: 0,
            };
        }
        let keep = keep as usize;
        let mut digits = self.digits[..keep].to_vec();
        let mut point = self.point;
        if self.digits[keep] >= 5 {
            let mut i = keep;
            loop {
                if i == 0 {
                    digits.insert(0, 1);
                    point += 1;
                    break;
                }
                i -= 1;
                if digits[i] == 9 {
                    digits[i] = 0;
                } else {
                    digits[i] += 1;
                    break;
                }
            }
        }
        Digits { digits, point }.trimmed()
    }

    /// Rounded half up to `fraction` digits after the point.
    fn rounded_at(&self, fraction: usize) -> Digits {
        self.rounded_keeping(self.point + fraction as i32)
    }

    /// Rounded half up to `significant` digits.
    fn rounded_to(&self, significant: usize) -> Digits {
        self.rounded_keeping(significant as i32)
    }

    /// Plain text with exactly `fraction` digits after the point.
    fn fixed(&self, fraction: usize) -> String {
        let digit = |i: i32| -> char {
            if i >= 0 && (i as usize) < self.digits.len() {
                char::from(b'0' + self.digits[i as usize])
            } else {
                '0'
            }
        };
        let mut out = String::new();
        if self.point <= 0 {
            out.push('0');
        } else {
            out.extend((0..self.point).map(digit));
        }
        if fraction > 0 {
            out.push('.');
            out.extend((self.point..self.point + fraction as i32).map(digit));
        }
        out
    }
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// `%t` of a date, time, timestamp, zoned timestamp or epoch milliseconds.
fn date_time(s: &Spec, v: &Value) -> std::result::Result<String, String> {
    let field = s.time.unwrap_or('c');
    // (date, nanoseconds of the day, offset): what the value has.
    let (date, time, offset): (Option<NaiveDate>, Option<i64>, Option<i32>) = match v {
        Value::Null => return Ok("null".into()),
        Value::Date(d) => (Some(*d), None, None),
        Value::Time(n) => (None, Some(*n), None),
        Value::DateTime(t) => (Some(t.date()), Some(nanos_of_day(*t)), None),
        Value::Zoned(t, o, _) => (Some(t.date()), Some(nanos_of_day(*t)), Some(*o)),
        // Epoch milliseconds, in the server's zone: Athena's is UTC.
        Value::Long(ms) => {
            let t = chrono::DateTime::from_timestamp_millis(*ms)
                .ok_or_else(|| format!("{ms} is out of range of a date"))?
                .naive_utc();
            (Some(t.date()), Some(nanos_of_day(t)), Some(0))
        }
        _ => return Err(mismatch(s, v)),
    };
    let unsupported = |what: &str| format!("UnsupportedTemporalType: Unsupported field: {what}");
    let date = |what: &str| date.ok_or_else(|| unsupported(what));
    let time = |what: &str| time.ok_or_else(|| unsupported(what));
    let epoch = |what: &str| -> std::result::Result<i64, String> {
        let (d, t, o) = (
            date(what)?,
            time(what)?,
            offset.ok_or_else(|| unsupported(what))?,
        );
        let local = d
            .and_hms_opt(0, 0, 0)
            .expect("midnight")
            .and_utc()
            .timestamp();
        Ok((local - i64::from(o)) * 1000 + t / 1_000_000)
    };
    let hour = |what: &str| time(what).map(|n| n / 3_600_000_000_000);
    let one = |c: char| -> std::result::Result<String, String> {
        Ok(match c {
            'H' => format!("{:02}", hour("HourOfDay")?),
            'k' => hour("HourOfDay")?.to_string(),
            'I' => format!("{:02}", (hour("ClockHourOfAmPm")? + 11) % 12 + 1),
            'l' => ((hour("ClockHourOfAmPm")? + 11) % 12 + 1).to_string(),
            'M' => format!("{:02}", time("MinuteOfHour")? / 60_000_000_000 % 60),
            'S' => format!("{:02}", time("SecondOfMinute")? / 1_000_000_000 % 60),
            'L' => format!("{:03}", time("MilliOfSecond")? / 1_000_000 % 1000),
            'N' => format!("{:09}", time("NanoOfSecond")? % 1_000_000_000),
            'p' => if hour("AmPmOfDay")? < 12 { "am" } else { "pm" }.into(),
            'z' => {
                let o = offset.ok_or_else(|| unsupported("OffsetSeconds"))?;
                let a = o.unsigned_abs();
                format!(
                    "{}{:02}{:02}",
                    if o < 0 { '-' } else { '+' },
                    a / 3600,
                    a / 60 % 60
                )
            }
            's' => epoch("InstantSeconds")?.div_euclid(1000).to_string(),
            'Q' => epoch("InstantSeconds")?.to_string(),
            'B' => MONTHS[date("MonthOfYear")?.month0() as usize].into(),
            'b' | 'h' => MONTHS[date("MonthOfYear")?.month0() as usize][..3].into(),
            'A' => weekday(date("DayOfWeek")?.weekday()).into(),
            'a' => weekday(date("DayOfWeek")?.weekday())[..3].into(),
            'C' => format!("{:02}", date("YearOfEra")?.year().div_euclid(100)),
            'Y' => format!("{:04}", date("YearOfEra")?.year()),
            'y' => format!("{:02}", date("YearOfEra")?.year().rem_euclid(100)),
            'j' => format!("{:03}", date("DayOfYear")?.ordinal()),
            'm' => format!("{:02}", date("MonthOfYear")?.month()),
            'd' => format!("{:02}", date("DayOfMonth")?.day()),
            'e' => date("DayOfMonth")?.day().to_string(),
            other => {
                return Err(format!(
                    "the date/time conversion %t{other} is not supported"
                ));
            }
        })
    };
    Ok(match field {
        'R' => format!("{}:{}", one('H')?, one('M')?),
        'T' => format!("{}:{}:{}", one('H')?, one('M')?, one('S')?),
        'r' => format!(
            "{}:{}:{} {}",
            one('I')?,
            one('M')?,
            one('S')?,
            one('p')?.to_uppercase()
        ),
        'D' => format!("{}/{}/{}", one('m')?, one('d')?, one('y')?),
        'F' => format!("{}-{}-{}", one('Y')?, one('m')?, one('d')?),
        'Z' | 'c' => {
            return Err(format!(
                "%t{field}: zone abbreviations are not supported; %tz gives the offset"
            ));
        }
        c => one(c)?,
    })
}

fn weekday(d: Weekday) -> &'static str {
    match d {
        Weekday::Mon => "Monday",
        Weekday::Tue => "Tuesday",
        Weekday::Wed => "Wednesday",
        Weekday::Thu => "Thursday",
        Weekday::Fri => "Friday",
        Weekday::Sat => "Saturday",
        Weekday::Sun => "Sunday",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn java(f: &str, args: &[Value]) -> std::result::Result<String, String> {
        let pieces = parse(f)?;
        render(&pieces, &args.iter().collect::<Vec<_>>())
    }

    fn ok(f: &str, args: &[Value]) -> String {
        java(f, args).unwrap_or_else(|e| panic!("{f}: {e}"))
    }

    #[test]
    fn trinos_documented_examples() {
        // docs/src/main/sphinx/functions/conversion.md
        assert_eq!(ok("%s%%", &[Value::Long(123)]), "123%");
        assert_eq!(
            ok("%.5f", &[Value::Double(std::f64::consts::PI)]),
            "3.14159"
        );
        assert_eq!(ok("%03d", &[Value::Long(8)]), "008");
        assert_eq!(ok("%,.2f", &[Value::Double(1234567.89)]), "1,234,567.89");
        assert_eq!(
            ok(
                "%-7s,%7s",
                &[Value::Text("hello".into()), Value::Text("world".into())]
            ),
            "hello  ,  world"
        );
        let abc = ["a", "b", "c"].map(|s| Value::Text(s.into()));
        assert_eq!(ok("%2$s %3$s %1$s", &abc), "b c a");
        let d = Value::Date(NaiveDate::from_ymd_opt(2006, 7, 4).unwrap());
        assert_eq!(
            ok("%1$tA, %1$tB %1$te, %1$tY", &[d]),
            "Tuesday, July 4, 2006"
        );
    }

    #[test]
    fn java_objects_print_as_java_prints_them() {
        let t = NaiveDate::from_ymd_opt(2020, 5, 10)
            .unwrap()
            .and_hms_nano_opt(12, 34, 56, 100_000_000)
            .unwrap();
        assert_eq!(ok("%s", &[Value::DateTime(t)]), "2020-05-10T12:34:56.100");
        assert_eq!(
            ok(
                "%s",
                &[Value::Zoned(
                    t,
                    5 * 3600 + 45 * 60,
                    Some("Asia/Kathmandu".into())
                )]
            ),
            "2020-05-10T12:34:56.100+05:45[Asia/Kathmandu]"
        );
        assert_eq!(
            ok("%s", &[Value::Zoned(t, 0, Some("UTC".into()))]),
            "2020-05-10T12:34:56.100Z[UTC]"
        );
        assert_eq!(
            ok("%s", &[Value::Time(45_296_111_100_000)]),
            "12:34:56.111100"
        );
        assert_eq!(ok("%s", &[Value::Time(45_240_000_000_000)]), "12:34");
        assert_eq!(ok("%s", &[Value::Double(1e7)]), "1.0E7");
        assert_eq!(ok("%s", &[Value::Float(1.1)]), "1.1");
        assert_eq!(ok("%s", &[Value::Decimal(1230, 2)]), "12.30");
        assert_eq!(ok("%s", &[Value::Decimal(1, 7)]), "1E-7");
        assert_eq!(
            ok("%s %b %b", &[Value::Null, Value::Null, Value::Long(0)]),
            "null false true"
        );
    }

    #[test]
    fn numbers_round_half_up_and_take_their_flags() {
        assert_eq!(ok("%.2f", &[Value::Double(1.005)]), "1.01");
        assert_eq!(ok("%.1f", &[Value::Double(0.25)]), "0.3");
        assert_eq!(ok("%.0f", &[Value::Double(0.5)]), "1");
        assert_eq!(ok("%f", &[Value::Decimal(-12345, 3)]), "-12.345000");
        assert_eq!(ok("%(,.2f", &[Value::Double(-1234.5)]), "(1,234.50)");
        assert_eq!(ok("%+d % d", &[Value::Long(5), Value::Long(5)]), "+5  5");
        assert_eq!(ok("%08.2f", &[Value::Double(-4.56789)]), "-0004.57");
        assert_eq!(ok("%e", &[Value::Double(12345.678)]), "1.234568e+04");
        assert_eq!(ok("%.2E", &[Value::Double(0.000123)]), "1.23E-04");
        assert_eq!(ok("%g", &[Value::Double(12345.678)]), "12345.7");
        assert_eq!(ok("%g", &[Value::Double(0.00001)]), "1.00000e-05");
        assert_eq!(ok("%g", &[Value::Double(0.0)]), "0.00000");
        assert_eq!(
            ok(
                "%x %X %o",
                &[Value::Long(255), Value::Long(-1), Value::Long(8)]
            ),
            "ff FFFFFFFFFFFFFFFF 10"
        );
        assert_eq!(ok("%#x", &[Value::Long(255)]), "0xff");
        assert_eq!(ok("%f", &[Value::Double(f64::NAN)]), "NaN");
        assert_eq!(ok("%f", &[Value::Double(f64::NEG_INFINITY)]), "-Infinity");
        assert_eq!(
            ok(
                "%.3s|%5S|%-5b|",
                &[
                    Value::Text("abcdef".into()),
                    Value::Text("ab".into()),
                    Value::Boolean(true)
                ]
            ),
            "abc|   AB|true |"
        );
        assert_eq!(ok("%h", &[Value::Text("hello".into())]), "5e918d2");
    }

    #[test]
    fn dates_and_times_by_field() {
        let t = NaiveDate::from_ymd_opt(2001, 2, 3)
            .unwrap()
            .and_hms_milli_opt(16, 5, 6, 789)
            .unwrap();
        let v = [Value::DateTime(t)];
        assert_eq!(
            ok("%tF %tT %<tL", &[v[0].clone(), v[0].clone()]),
            "2001-02-03 16:05:06 789"
        );
        assert_eq!(
            ok("%1$tr %1$Tp %1$tb %1$tj %1$tD", &v),
            "04:05:06 PM PM Feb 034 02/03/01"
        );
        let z = Value::Zoned(t, -3 * 3600, None);
        assert_eq!(ok("%tz %<ts", &[z]), "-0300 981227106");
        assert!(java("%tH", &[Value::Date(t.date())]).is_err());
        assert!(java("%tZ", &[Value::DateTime(t)]).is_err());
    }

    #[test]
    fn what_java_refuses_is_an_error() {
        for (f, v) in [
            ("%d", Value::Text("x".into())),
            ("%d", Value::Double(1.0)),
            ("%f", Value::Long(1)),
            ("%c", Value::Long(65)),
            ("%s %s", Value::Long(1)),
            ("%q", Value::Long(1)),
            ("%-d", Value::Long(1)),
            ("%.2d", Value::Long(1)),
            ("%,x", Value::Long(1)),
            ("%#s", Value::Long(1)),
            ("%+s", Value::Long(1)),
            ("%", Value::Long(1)),
            ("%<s", Value::Long(1)),
        ] {
            assert!(java(f, std::slice::from_ref(&v)).is_err(), "{f} of {v:?}");
        }
        assert_eq!(
            java("%d", &[Value::Text("x".into())]).unwrap_err(),
            "IllegalFormatConversion: d != java.lang.String"
        );
    }
}
