//! Trino's (Athena's) date and time functions with Trino's semantics, so an
//! analyst's Athena query runs unchanged: `year` .. `second`, `week` (ISO),
//! `day_of_week` (ISO, Monday = 1), `last_day_of_month`, `date_add`,
//! `date_diff`, `date_format`/`date_parse` (MySQL format codes),
//! `from_iso8601_date`, `from_iso8601_timestamp`, `to_iso8601`.
//!
//! Arguments may be DATE or TIMESTAMP (text is cast); values are handled as
//! naive timestamps in microseconds.

use std::sync::Arc;

use chrono::{Datelike, Duration, Months, NaiveDate, NaiveDateTime, Timelike};
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Date32Builder, Int64Builder, StringBuilder,
    TimestampMicrosecondBuilder,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, TimeUnit, TimestampMicrosecondType};
use datafusion::common::{ScalarValue, exec_err, plan_err};
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::SessionContext;

use super::joda;

const MICROS: i64 = 1_000_000;
const EPOCH_DAYS_FROM_CE: i32 = 719_163;

fn to_datetime(micros: i64) -> Option<NaiveDateTime> {
    chrono::DateTime::from_timestamp_micros(micros).map(|d| d.naive_utc())
}

fn to_micros(d: NaiveDateTime) -> i64 {
    d.and_utc().timestamp_micros()
}

fn to_days(d: NaiveDate) -> i32 {
    d.num_days_from_ce() - EPOCH_DAYS_FROM_CE
}

/// The arguments as arrays of `number_rows`, and whether all were constants.
fn arrays(args: &ScalarFunctionArgs) -> Result<(Vec<ArrayRef>, bool)> {
    let all_scalar = args
        .args
        .iter()
        .all(|a| matches!(a, ColumnarValue::Scalar(_)));
    let n = if all_scalar { 1 } else { args.number_rows };
    let arrays = args
        .args
        .iter()
        .map(|a| a.to_array(n))
        .collect::<Result<Vec<_>>>()?;
    Ok((arrays, all_scalar))
}

fn output(array: ArrayRef, all_scalar: bool) -> Result<ColumnarValue> {
    if all_scalar {
        Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(
            &array, 0,
        )?))
    } else {
        Ok(ColumnarValue::Array(array))
    }
}

/// A DATE or TIMESTAMP argument as naive microseconds.
fn timestamps(a: &ArrayRef) -> Result<Vec<Option<i64>>> {
    let t = match a.data_type() {
        DataType::Timestamp(_, Some(_)) => cast(
            &cast(
                a,
                &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            )?,
            &DataType::Timestamp(TimeUnit::Microsecond, None),
        )?,
        _ => cast(a, &DataType::Timestamp(TimeUnit::Microsecond, None))?,
    };
    let t = t.as_primitive::<TimestampMicrosecondType>();
    Ok((0..t.len())
        .map(|i| t.is_valid(i).then(|| t.value(i)))
        .collect())
}

fn texts(a: &ArrayRef) -> Result<Vec<Option<String>>> {
    let t = cast(a, &DataType::Utf8)?;
    let t = t.as_string::<i32>();
    Ok((0..t.len())
        .map(|i| t.is_valid(i).then(|| t.value(i).to_string()))
        .collect())
}

fn integers(a: &ArrayRef) -> Result<Vec<Option<i64>>> {
    let t = cast(a, &DataType::Int64)?;
    let t = t.as_primitive::<datafusion::arrow::datatypes::Int64Type>();
    Ok((0..t.len())
        .map(|i| t.is_valid(i).then(|| t.value(i)))
        .collect())
}

fn is_date(t: &DataType) -> bool {
    matches!(t, DataType::Date32 | DataType::Date64)
}

/// A field of a date or timestamp, as Trino numbers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Part {
    Year,
    Quarter,
    Month,
    Week,
    YearOfWeek,
    Day,
    DayOfWeek,
    DayOfYear,
    Hour,
    Minute,
    Second,
    Millisecond,
}

impl Part {
    fn of(self, d: NaiveDateTime) -> i64 {
        i64::from(match self {
            Part::Year => d.year(),
            Part::Quarter => (d.month0() / 3 + 1) as i32,
            Part::Month => d.month() as i32,
            Part::Week => d.iso_week().week() as i32,
            Part::YearOfWeek => d.iso_week().year(),
            Part::Day => d.day() as i32,
            Part::DayOfWeek => d.weekday().number_from_monday() as i32,
            Part::DayOfYear => d.ordinal() as i32,
            Part::Hour => d.hour() as i32,
            Part::Minute => d.minute() as i32,
            Part::Second => d.second() as i32,
            Part::Millisecond => (d.nanosecond() / 1_000_000) as i32,
        })
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct DatePart {
    name: &'static str,
    aliases: Vec<String>,
    part: Part,
    signature: Signature,
}

impl ScalarUDFImpl for DatePart {
    fn name(&self) -> &str {
        self.name
    }
    fn aliases(&self) -> &[String] {
        &self.aliases
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let (a, scalar) = arrays(&args)?;
        let mut b = Int64Builder::new();
        for t in timestamps(&a[0])? {
            b.append_option(t.and_then(to_datetime).map(|d| self.part.of(d)));
        }
        output(Arc::new(b.finish()), scalar)
    }
}

/// A function's return type from its argument types.
type ReturnType = fn(&[DataType]) -> Result<DataType>;
/// A function's evaluation over whole argument arrays, given its return type.
type Eval = fn(&[ArrayRef], &DataType) -> Result<ArrayRef>;

/// A Trino function implemented by one function over whole arrays.
struct Function {
    name: &'static str,
    signature: Signature,
    returns: ReturnType,
    eval: Eval,
}

impl std::fmt::Debug for Function {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}
impl PartialEq for Function {
    fn eq(&self, o: &Self) -> bool {
        self.name == o.name
    }
}
impl Eq for Function {}
impl std::hash::Hash for Function {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.name.hash(h)
    }
}

impl ScalarUDFImpl for Function {
    fn name(&self) -> &str {
        self.name
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        (self.returns)(args)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let types: Vec<DataType> = args
            .arg_fields
            .iter()
            .map(|f| f.data_type().clone())
            .collect();
        let ret = (self.returns)(&types)?;
        let (a, scalar) = arrays(&args)?;
        output((self.eval)(&a, &ret)?, scalar)
    }
}

/// A unit of `date_add` / `date_diff`.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Unit {
    Millisecond,
    Second,
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Quarter,
    Year,
}

fn unit(s: &str) -> Result<Unit> {
    Ok(match s.to_ascii_lowercase().as_str() {
        "millisecond" => Unit::Millisecond,
        "second" => Unit::Second,
        "minute" => Unit::Minute,
        "hour" => Unit::Hour,
        "day" => Unit::Day,
        "week" => Unit::Week,
        "month" => Unit::Month,
        "quarter" => Unit::Quarter,
        "year" => Unit::Year,
        other => return exec_err!("'{other}' is not a valid unit (millisecond .. year)"),
    })
}

fn fixed_micros(u: Unit) -> Option<i64> {
    Some(match u {
        Unit::Millisecond => 1_000,
        Unit::Second => MICROS,
        Unit::Minute => 60 * MICROS,
        Unit::Hour => 3_600 * MICROS,
        Unit::Day => 86_400 * MICROS,
        Unit::Week => 7 * 86_400 * MICROS,
        _ => return None,
    })
}

fn months_of(u: Unit) -> i64 {
    match u {
        Unit::Month => 1,
        Unit::Quarter => 3,
        _ => 12,
    }
}

fn add(d: NaiveDateTime, u: Unit, n: i64) -> Option<NaiveDateTime> {
    match fixed_micros(u) {
        Some(step) => d.checked_add_signed(Duration::microseconds(step.checked_mul(n)?)),
        None => {
            let months = n.checked_mul(months_of(u))?;
            let m = Months::new(u32::try_from(months.unsigned_abs()).ok()?);
            if months >= 0 {
                d.checked_add_months(m)
            } else {
                d.checked_sub_months(m)
            }
        }
    }
}

fn date_add(a: &[ArrayRef], ret: &DataType) -> Result<ArrayRef> {
    let (units, ns, ts) = (texts(&a[0])?, integers(&a[1])?, timestamps(&a[2])?);
    let date = is_date(ret);
    let mut dates = Date32Builder::new();
    let mut stamps = TimestampMicrosecondBuilder::new();
    for i in 0..ts.len() {
        let v = match (&units[i], ns[i], ts[i].and_then(to_datetime)) {
            (Some(u), Some(n), Some(d)) => {
                let u = unit(u)?;
                if date && fixed_micros(u).is_some_and(|m| m < 86_400 * MICROS) {
                    return exec_err!("date_add: '{u:?}' is not a unit of DATE values");
                }
                Some(add(d, u, n).ok_or_else(|| {
                    DataFusionError::Execution("date_add: result out of range".into())
                })?)
            }
            _ => None,
        };
        if date {
            dates.append_option(v.map(|d| to_days(d.date())));
        } else {
            stamps.append_option(v.map(to_micros));
        }
    }
    Ok(if date {
        Arc::new(dates.finish())
    } else {
        Arc::new(stamps.finish())
    })
}

/// Whole units from `a` to `b`, as Trino (Joda) counts them: months are
/// counted by adding them to `a` (end of month clamped) without passing `b`.
fn diff(u: Unit, a: NaiveDateTime, b: NaiveDateTime) -> i64 {
    if let Some(step) = fixed_micros(u) {
        return (to_micros(b) - to_micros(a)) / step;
    }
    let mut months =
        i64::from(b.year() - a.year()) * 12 + i64::from(b.month()) - i64::from(a.month());
    if let Some(c) = add(a, Unit::Month, months) {
        if months > 0 && c > b {
            months -= 1;
        } else if months < 0 && c < b {
            months += 1;
        }
    }
    months / months_of(u)
}

fn date_diff(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let (units, xs, ys) = (texts(&a[0])?, timestamps(&a[1])?, timestamps(&a[2])?);
    let mut out = Int64Builder::new();
    for i in 0..xs.len() {
        match (
            &units[i],
            xs[i].and_then(to_datetime),
            ys[i].and_then(to_datetime),
        ) {
            (Some(u), Some(x), Some(y)) => out.append_value(diff(unit(u)?, x, y)),
            _ => out.append_null(),
        }
    }
    Ok(Arc::new(out.finish()))
}

fn last_day_of_month(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let mut out = Date32Builder::new();
    for t in timestamps(&a[0])? {
        out.append_option(t.and_then(to_datetime).and_then(|d| {
            let first = NaiveDate::from_ymd_opt(d.year(), d.month(), 1)?;
            Some(to_days(
                first.checked_add_months(Months::new(1))?.pred_opt()?,
            ))
        }));
    }
    Ok(Arc::new(out.finish()))
}

/// Translates MySQL format codes (Trino's `date_format`) to chrono's.
/// `%D` (day with English suffix) is returned as a marker handled by the caller.
fn mysql_to_chrono(fmt: &str, parsing: bool) -> Result<String> {
    let mut out = String::new();
    let mut chars = fmt.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let Some(code) = chars.next() else {
            return plan_err!("date format ends with a lone %");
        };
        out.push_str(match code {
            'a' => "%a",
            'b' => "%b",
            'c' => "%-m",
            'd' => "%d",
            'e' => "%-d",
            'f' => "%6f",
            'H' => "%H",
            'h' | 'I' => "%I",
            'i' => "%M",
            'j' => "%j",
            'k' => "%-H",
            'l' => "%-I",
            'M' => "%B",
            'm' => "%m",
            'p' => "%p",
            'r' => "%I:%M:%S %p",
            'S' | 's' => "%S",
            'T' => "%H:%M:%S",
            'v' => "%V",
            'W' => "%A",
            'w' => "%w",
            'x' => "%G",
            'Y' => "%Y",
            'y' => "%y",
            '%' => "%%",
            'D' if !parsing => "\u{1}",
            other => {
                return plan_err!(
                    "date format code %{other} is not supported (Trino does not support %U, %u, %V, %X either)"
                );
            }
        });
    }
    Ok(out)
}

fn ordinal_suffix(day: u32) -> String {
    let suffix = match (day % 10, day % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{day}{suffix}")
}

fn date_format(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let (ts, fmts) = (timestamps(&a[0])?, texts(&a[1])?);
    let mut out = StringBuilder::new();
    for i in 0..ts.len() {
        match (ts[i].and_then(to_datetime), &fmts[i]) {
            (Some(d), Some(f)) => {
                let chrono_fmt = mysql_to_chrono(f, false)?;
                let text = d
                    .format(&chrono_fmt)
                    .to_string()
                    .replace('\u{1}', &ordinal_suffix(d.day()));
                out.append_value(text);
            }
            _ => out.append_null(),
        }
    }
    Ok(Arc::new(out.finish()))
}

fn date_parse(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let (ss, fmts) = (texts(&a[0])?, texts(&a[1])?);
    let mut out = TimestampMicrosecondBuilder::new();
    for i in 0..ss.len() {
        match (&ss[i], &fmts[i]) {
            (Some(s), Some(f)) => {
                let chrono_fmt = mysql_to_chrono(f, true)?;
                match parse_partial(s, &chrono_fmt) {
                    Some(d) => out.append_value(to_micros(d)),
                    None => return exec_err!("Invalid format: \"{s}\" does not match \"{f}\""),
                }
            }
            _ => out.append_null(),
        }
    }
    Ok(Arc::new(out.finish()))
}

fn format_datetime(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let (ts, fmts) = (timestamps(&a[0])?, texts(&a[1])?);
    let mut out = StringBuilder::new();
    for i in 0..ts.len() {
        match (ts[i].and_then(to_datetime), &fmts[i]) {
            (Some(d), Some(f)) => {
                let tokens = joda::tokens(f).map_err(DataFusionError::Execution)?;
                out.append_value(joda::format(d, &tokens));
            }
            _ => out.append_null(),
        }
    }
    Ok(Arc::new(out.finish()))
}

fn parse_datetime(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let (ss, fmts) = (texts(&a[0])?, texts(&a[1])?);
    let mut out = TimestampMicrosecondBuilder::new();
    for i in 0..ss.len() {
        match (&ss[i], &fmts[i]) {
            (Some(s), Some(f)) => {
                let tokens = joda::tokens(f).map_err(DataFusionError::Execution)?;
                match joda::parse(s, &tokens).map_err(DataFusionError::Execution)? {
                    Some(m) => out.append_value(m),
                    None => return exec_err!("Invalid format: \"{s}\" does not match \"{f}\""),
                }
            }
            _ => out.append_null(),
        }
    }
    Ok(Arc::new(out.finish().with_timezone("UTC")))
}

/// One step of a JSON path: `.key`, `["key"]` or `[index]`.
#[derive(Debug, PartialEq)]
enum JsonStep {
    Key(String),
    Index(usize),
}

/// Parses the JSONPath subset Trino's `json_extract*` accept.
fn json_path(path: &str) -> Result<Vec<JsonStep>> {
    let invalid = || exec_err!("Invalid JSON path: '{path}'");
    let Some(mut rest) = path.trim().strip_prefix('$') else {
        return invalid();
    };
    let mut steps = Vec::new();
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            if end == 0 || r[..end].contains('*') {
                return invalid();
            }
            steps.push(JsonStep::Key(r[..end].to_string()));
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let Some(end) = r.find(']') else {
                return invalid();
            };
            let inner = r[..end].trim();
            if let Some(q) = inner
                .strip_prefix('"')
                .and_then(|q| q.strip_suffix('"'))
                .or_else(|| inner.strip_prefix('\'').and_then(|q| q.strip_suffix('\'')))
            {
                steps.push(JsonStep::Key(q.to_string()));
            } else if let Ok(i) = inner.parse::<usize>() {
                steps.push(JsonStep::Index(i));
            } else {
                return invalid();
            }
            rest = &r[end + 1..];
        } else {
            return invalid();
        }
    }
    Ok(steps)
}

/// The value at `steps` in `json`; None for malformed JSON or a missing
/// step (Trino answers NULL for both).
fn json_at(json: &str, steps: &[JsonStep]) -> Option<serde_json::Value> {
    let mut v: serde_json::Value = serde_json::from_str(json).ok()?;
    for s in steps {
        v = match (s, v) {
            (JsonStep::Key(k), serde_json::Value::Object(mut m)) => m.remove(k)?,
            (JsonStep::Index(i), serde_json::Value::Array(mut a)) if *i < a.len() => {
                a.swap_remove(*i)
            }
            _ => return None,
        };
    }
    Some(v)
}

fn json_extract_scalar(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    json_extract_with(a, |v| match v {
        serde_json::Value::String(s) => Some(s),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    })
}

fn json_extract(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    json_extract_with(a, |v| Some(v.to_string()))
}

fn json_extract_with(
    a: &[ArrayRef],
    render: fn(serde_json::Value) -> Option<String>,
) -> Result<ArrayRef> {
    let (docs, paths) = (texts(&a[0])?, texts(&a[1])?);
    let mut out = StringBuilder::new();
    for i in 0..docs.len() {
        match (&docs[i], &paths[i]) {
            (Some(doc), Some(path)) => {
                let steps = json_path(path)?;
                out.append_option(json_at(doc, &steps).and_then(render));
            }
            _ => out.append_null(),
        }
    }
    Ok(Arc::new(out.finish()))
}

/// Parses with `fmt`, the fields it leaves out taking Trino's defaults
/// (`%Y/%m/%d/%H` has no minutes; `%Y` alone is January 1st).
fn parse_partial(s: &str, fmt: &str) -> Option<NaiveDateTime> {
    let mut parsed = chrono::format::Parsed::new();
    chrono::format::parse(&mut parsed, s, chrono::format::StrftimeItems::new(fmt)).ok()?;
    joda::default_missing_fields(&mut parsed);
    parsed.to_naive_datetime_with_offset(0).ok()
}

fn from_iso8601_date(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let mut out = Date32Builder::new();
    for s in texts(&a[0])? {
        match s {
            None => out.append_null(),
            Some(s) => match NaiveDate::parse_from_str(&s, "%Y-%m-%d")
                .or_else(|_| NaiveDate::parse_from_str(&format!("{s}-1"), "%G-W%V-%u"))
                .or_else(|_| NaiveDate::parse_from_str(&s, "%G-W%V-%u"))
                .or_else(|_| NaiveDate::parse_from_str(&s, "%Y-%j"))
            {
                Ok(d) => out.append_value(to_days(d)),
                Err(_) => return exec_err!("Invalid format: \"{s}\" is not an ISO 8601 date"),
            },
        }
    }
    Ok(Arc::new(out.finish()))
}

fn from_iso8601_timestamp(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let mut out = TimestampMicrosecondBuilder::new();
    for s in texts(&a[0])? {
        match s {
            None => out.append_null(),
            Some(s) => {
                let micros = chrono::DateTime::parse_from_rfc3339(&s)
                    .map(|d| d.timestamp_micros())
                    .or_else(|_| {
                        NaiveDateTime::parse_from_str(&s, "%Y-%m-%dT%H:%M:%S%.f").map(to_micros)
                    })
                    .or_else(|_| NaiveDateTime::parse_from_str(&s, "%Y-%m-%dT%H:%M").map(to_micros))
                    .or_else(|_| {
                        NaiveDate::parse_from_str(&s, "%Y-%m-%d")
                            .map(|d| to_micros(d.and_time(Default::default())))
                    });
                match micros {
                    Ok(m) => out.append_value(m),
                    Err(_) => {
                        return exec_err!("Invalid format: \"{s}\" is not an ISO 8601 timestamp");
                    }
                }
            }
        }
    }
    Ok(Arc::new(out.finish().with_timezone("UTC")))
}

fn to_iso8601(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let date = is_date(a[0].data_type());
    let utc = matches!(a[0].data_type(), DataType::Timestamp(_, Some(_)));
    let mut out = StringBuilder::new();
    for t in timestamps(&a[0])? {
        out.append_option(t.and_then(to_datetime).map(|d| {
            if date {
                d.format("%Y-%m-%d").to_string()
            } else if utc {
                d.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
            } else {
                d.format("%Y-%m-%dT%H:%M:%S%.3f").to_string()
            }
        }));
    }
    Ok(Arc::new(out.finish()))
}

/// `count_if(condition)`: rows where the condition is true.
#[derive(Debug, Default)]
struct CountIf(i64);

impl datafusion::logical_expr::Accumulator for CountIf {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let b = values[0].as_boolean();
        self.0 += b.iter().filter(|v| *v == Some(true)).count() as i64;
        Ok(())
    }
    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(ScalarValue::Int64(Some(self.0)))
    }
    fn size(&self) -> usize {
        std::mem::size_of_val(self)
    }
    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![ScalarValue::Int64(Some(self.0))])
    }
    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let counts = states[0].as_primitive::<datafusion::arrow::datatypes::Int64Type>();
        self.0 += counts.iter().flatten().sum::<i64>();
        Ok(())
    }
}

/// `max_by(x, y)` / `min_by(x, y)`: the `x` of the row with the largest
/// (smallest) `y`; rows whose `y` is NULL are ignored.
#[derive(Debug, PartialEq, Eq, Hash)]
struct ByAggregate {
    name: &'static str,
    max: bool,
    signature: Signature,
}

impl datafusion::logical_expr::AggregateUDFImpl for ByAggregate {
    fn name(&self) -> &str {
        self.name
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        Ok(args[0].clone())
    }
    fn state_fields(
        &self,
        args: datafusion::logical_expr::function::StateFieldsArgs,
    ) -> Result<Vec<datafusion::arrow::datatypes::FieldRef>> {
        use datafusion::arrow::datatypes::Field;
        Ok(vec![
            Arc::new(Field::new(
                "value",
                args.input_fields[0].data_type().clone(),
                true,
            )),
            Arc::new(Field::new(
                "key",
                args.input_fields[1].data_type().clone(),
                true,
            )),
        ])
    }
    fn accumulator(
        &self,
        args: datafusion::logical_expr::function::AccumulatorArgs,
    ) -> Result<Box<dyn datafusion::logical_expr::Accumulator>> {
        Ok(Box::new(By {
            max: self.max,
            value_type: args.return_field.data_type().clone(),
            key_type: args.exprs[1].data_type(args.schema)?,
            best: None,
        }))
    }
}

#[derive(Debug)]
struct By {
    max: bool,
    value_type: DataType,
    key_type: DataType,
    best: Option<(ScalarValue, ScalarValue)>,
}

impl By {
    fn offer(&mut self, values: &ArrayRef, keys: &ArrayRef) -> Result<()> {
        for i in 0..keys.len() {
            if keys.is_null(i) {
                continue;
            }
            let key = ScalarValue::try_from_array(keys, i)?;
            let better = match &self.best {
                None => true,
                Some((_, best)) => match key.partial_cmp(best) {
                    Some(std::cmp::Ordering::Greater) => self.max,
                    Some(std::cmp::Ordering::Less) => !self.max,
                    _ => false,
                },
            };
            if better {
                self.best = Some((ScalarValue::try_from_array(values, i)?, key));
            }
        }
        Ok(())
    }
}

impl datafusion::logical_expr::Accumulator for By {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.offer(&values[0], &values[1])
    }
    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        self.offer(&states[0], &states[1])
    }
    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(match &self.best {
            Some((v, k)) => vec![v.clone(), k.clone()],
            None => vec![
                ScalarValue::try_from(&self.value_type)?,
                ScalarValue::try_from(&self.key_type)?,
            ],
        })
    }
    fn evaluate(&mut self) -> Result<ScalarValue> {
        match &self.best {
            Some((v, _)) => Ok(v.clone()),
            None => ScalarValue::try_from(&self.value_type),
        }
    }
    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.best.as_ref().map_or(0, |(v, k)| v.size() + k.size())
    }
}

/// `regexp_extract(string, pattern [, group])`: the first match (or its
/// group), NULL when nothing matches.
fn regexp_extract(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let (strings, patterns) = (texts(&a[0])?, texts(&a[1])?);
    let groups = match a.get(2) {
        Some(g) => integers(g)?,
        None => vec![Some(0); strings.len()],
    };
    let mut compiled: Option<(String, regex::Regex)> = None;
    let mut out = StringBuilder::new();
    for i in 0..strings.len() {
        let (Some(s), Some(p), Some(g)) = (&strings[i], &patterns[i], groups[i]) else {
            out.append_null();
            continue;
        };
        if compiled.as_ref().is_none_or(|(q, _)| q != p) {
            let re = regex::Regex::new(p)
                .map_err(|e| DataFusionError::Execution(format!("regexp_extract: {e}")))?;
            compiled = Some((p.clone(), re));
        }
        let re = &compiled.as_ref().expect("compiled above").1;
        if g < 0 || g as usize >= re.captures_len() {
            return exec_err!("regexp_extract: pattern has no group {g}");
        }
        out.append_option(
            re.captures(s)
                .and_then(|c| c.get(g as usize))
                .map(|m| m.as_str()),
        );
    }
    Ok(Arc::new(out.finish()))
}

/// Registers the functions in a session (replacing DataFusion's `date_format`,
/// which takes chrono codes, with Trino's).
pub fn register(ctx: &SessionContext) {
    use datafusion::execution::FunctionRegistry;
    ctx.register_udf(ScalarUDF::from(super::lenient::Try::new()));
    ctx.register_udf(ScalarUDF::from(super::lenient::If::new()));
    {
        let state = ctx.state_ref();
        let mut state = state.write();
        for rewrite in [
            Arc::new(super::lenient::TryRewrite) as Arc<_>,
            Arc::new(super::lenient::IfRewrite) as Arc<_>,
        ] {
            state
                .register_function_rewrite(rewrite)
                .expect("a session accepts function rewrites");
        }
    }
    let parts = [
        ("year", vec![], Part::Year),
        ("quarter", vec![], Part::Quarter),
        ("month", vec![], Part::Month),
        ("week", vec!["week_of_year"], Part::Week),
        ("year_of_week", vec!["yow"], Part::YearOfWeek),
        ("day", vec!["day_of_month"], Part::Day),
        ("day_of_week", vec!["dow"], Part::DayOfWeek),
        ("day_of_year", vec!["doy"], Part::DayOfYear),
        ("hour", vec![], Part::Hour),
        ("minute", vec![], Part::Minute),
        ("second", vec![], Part::Second),
        ("millisecond", vec![], Part::Millisecond),
    ];
    for (name, aliases, part) in parts {
        ctx.register_udf(ScalarUDF::from(DatePart {
            name,
            aliases: aliases.into_iter().map(String::from).collect(),
            part,
            signature: Signature::any(1, Volatility::Immutable),
        }));
    }
    let same_as_third: ReturnType = |t| {
        Ok(if t.get(2).is_some_and(is_date) {
            DataType::Date32
        } else {
            DataType::Timestamp(TimeUnit::Microsecond, None)
        })
    };
    let functions: [(&'static str, usize, ReturnType, Eval); 12] = [
        ("date_add", 3, same_as_third, date_add),
        ("date_diff", 3, |_| Ok(DataType::Int64), date_diff),
        (
            "last_day_of_month",
            1,
            |_| Ok(DataType::Date32),
            last_day_of_month,
        ),
        ("date_format", 2, |_| Ok(DataType::Utf8), date_format),
        (
            "date_parse",
            2,
            |_| Ok(DataType::Timestamp(TimeUnit::Microsecond, None)),
            date_parse,
        ),
        (
            "from_iso8601_date",
            1,
            |_| Ok(DataType::Date32),
            from_iso8601_date,
        ),
        (
            "from_iso8601_timestamp",
            1,
            |_| {
                Ok(DataType::Timestamp(
                    TimeUnit::Microsecond,
                    Some("UTC".into()),
                ))
            },
            from_iso8601_timestamp,
        ),
        ("to_iso8601", 1, |_| Ok(DataType::Utf8), to_iso8601),
        (
            "format_datetime",
            2,
            |_| Ok(DataType::Utf8),
            format_datetime,
        ),
        (
            "parse_datetime",
            2,
            |_| {
                Ok(DataType::Timestamp(
                    TimeUnit::Microsecond,
                    Some("UTC".into()),
                ))
            },
            parse_datetime,
        ),
        (
            "json_extract_scalar",
            2,
            |_| Ok(DataType::Utf8),
            json_extract_scalar,
        ),
        ("json_extract", 2, |_| Ok(DataType::Utf8), json_extract),
    ];
    for (name, arity, returns, eval) in functions {
        ctx.register_udf(ScalarUDF::from(Function {
            name,
            signature: Signature::any(arity, Volatility::Immutable),
            returns,
            eval,
        }));
    }
    ctx.register_udf(ScalarUDF::from(Function {
        name: "regexp_extract",
        signature: Signature::one_of(
            vec![
                datafusion::logical_expr::TypeSignature::Any(2),
                datafusion::logical_expr::TypeSignature::Any(3),
            ],
            Volatility::Immutable,
        ),
        returns: |_| Ok(DataType::Utf8),
        eval: regexp_extract,
    }));
    ctx.register_udaf(datafusion::logical_expr::create_udaf(
        "count_if",
        vec![DataType::Boolean],
        Arc::new(DataType::Int64),
        Volatility::Immutable,
        Arc::new(|_| Ok(Box::new(CountIf::default()))),
        Arc::new(vec![DataType::Int64]),
    ));
    for (name, max) in [("max_by", true), ("min_by", false)] {
        ctx.register_udaf(datafusion::logical_expr::AggregateUDF::from(ByAggregate {
            name,
            max,
            signature: Signature::any(2, Volatility::Immutable),
        }));
    }
    // Trino's names for what DataFusion already has.
    let state = ctx.state();
    for (theirs, ours) in [
        ("arbitrary", "any_value"),
        ("approx_percentile", "approx_percentile_cont"),
    ] {
        if let Some(f) = state.aggregate_functions().get(ours) {
            ctx.register_udaf(f.as_ref().clone().with_aliases([theirs]));
        }
    }
    for (theirs, ours) in [
        ("element_at", "array_element"),
        ("sequence", "generate_series"),
        ("split", "string_to_array"),
        ("levenshtein_distance", "levenshtein"),
    ] {
        if let Some(f) = state.scalar_functions().get(ours) {
            ctx.register_udf(f.as_ref().clone().with_aliases([theirs]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dt(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    #[test]
    fn month_differences_count_like_joda() {
        assert_eq!(
            diff(
                Unit::Month,
                dt("2024-01-31 00:00:00"),
                dt("2024-02-29 00:00:00")
            ),
            1
        );
        assert_eq!(
            diff(
                Unit::Month,
                dt("2024-01-15 00:00:00"),
                dt("2024-02-14 00:00:00")
            ),
            0
        );
        assert_eq!(
            diff(
                Unit::Month,
                dt("2024-03-15 00:00:00"),
                dt("2024-01-16 00:00:00")
            ),
            -1
        );
        assert_eq!(
            diff(
                Unit::Year,
                dt("2020-02-29 00:00:00"),
                dt("2021-02-28 00:00:00")
            ),
            1
        );
        assert_eq!(
            diff(
                Unit::Day,
                dt("2024-01-01 12:00:00"),
                dt("2024-01-03 11:59:59")
            ),
            1
        );
    }

    #[test]
    fn mysql_codes() {
        assert_eq!(
            mysql_to_chrono("%Y-%m-%d %H:%i:%s", false).unwrap(),
            "%Y-%m-%d %H:%M:%S"
        );
        assert!(mysql_to_chrono("%U", false).is_err());
        assert_eq!(ordinal_suffix(1), "1st");
        assert_eq!(ordinal_suffix(12), "12th");
        assert_eq!(ordinal_suffix(23), "23rd");
    }
}
