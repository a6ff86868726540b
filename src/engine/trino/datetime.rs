//! Trino's date and time functions: `year` .. `second`, `week` (ISO),
//! `day_of_week` (ISO, Monday = 1), `last_day_of_month`, `date_add`,
//! `date_diff`, `date_format`/`date_parse` (MySQL format codes),
//! `format_datetime`/`parse_datetime` (Joda patterns, see [`super::joda`]),
//! `from_iso8601_date`, `from_iso8601_timestamp`, `to_iso8601`.
//!
//! Arguments may be DATE or TIMESTAMP (text is cast); values are handled as
//! naive timestamps in microseconds.

use super::*;

/// A field of a date or timestamp, as Trino numbers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Part {
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
    /// The hours of a zoned value's offset from UTC (signed).
    TimezoneHour,
    /// The minutes of a zoned value's offset beyond its hours (signed).
    TimezoneMinute,
}

impl Part {
    /// Whether a time of day (with or without its zone) has this field.
    fn of_time(self) -> bool {
        matches!(
            self,
            Part::Hour
                | Part::Minute
                | Part::Second
                | Part::Millisecond
                | Part::TimezoneHour
                | Part::TimezoneMinute
        )
    }

    /// The zone fields of a zoned timestamp array, for the zone parts.
    fn of_zone(self, a: &ArrayRef) -> Option<Result<Vec<Option<i64>>>> {
        match self {
            Part::TimezoneHour => Some(super::zoned::zone_fields(a, false)),
            Part::TimezoneMinute => Some(super::zoned::zone_fields(a, true)),
            _ => None,
        }
    }

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
            // Read from the zone by `of_zone`; a wall clock has none.
            Part::TimezoneHour | Part::TimezoneMinute => 0,
        })
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
pub(super) struct DatePart {
    pub(super) name: &'static str,
    pub(super) aliases: Vec<String>,
    pub(super) part: Part,
    pub(super) signature: Signature,
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
        if let [ColumnarValue::Array(values)] = &args.args[..]
            && let Some(parts) = by_kernel(values, self.part)
        {
            return Ok(ColumnarValue::Array(parts?));
        }
        let (a, scalar) = arrays(&args)?;
        if matches!(
            a[0].data_type(),
            DataType::Interval(_) | DataType::Duration(_)
        ) {
            let parts: datafusion::arrow::array::Int64Array =
                interval_parts(&a[0], self.part)?.into_iter().collect();
            return output(Arc::new(parts), scalar);
        }
        if super::zoned::is_time_zoned(a[0].data_type()) && !self.part.of_time() {
            return exec_err!(
                "{}: a TIME WITH TIME ZONE has no {:?}",
                self.name,
                self.part
            );
        }
        if let Some(fields) = self.part.of_zone(&a[0]) {
            let fields: datafusion::arrow::array::Int64Array = fields?.into_iter().collect();
            return output(Arc::new(fields), scalar);
        }
        let mut b = Int64Builder::new();
        for t in timestamps(&a[0])? {
            b.append_option(t.and_then(to_datetime).map(|d| self.part.of(d)));
        }
        output(Arc::new(b.finish()), scalar)
    }
}

/// `date_part(field, x)` (and EXTRACT): a constant field of a column, the
/// pipeline's case (`date_part('year', sale_date)` over every sale), goes
/// to [`by_kernel`]; the rest is [`date_part`], row by row.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(super) struct FastDatePart {
    pub(super) inner: Function,
}

impl ScalarUDFImpl for FastDatePart {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn signature(&self) -> &Signature {
        self.inner.signature()
    }
    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        self.inner.return_type(args)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        if let [
            ColumnarValue::Scalar(
                ScalarValue::Utf8(Some(field))
                | ScalarValue::Utf8View(Some(field))
                | ScalarValue::LargeUtf8(Some(field)),
            ),
            ColumnarValue::Array(values),
        ] = &args.args[..]
            && let Ok(part) = extract_field(field)
            && let Some(parts) = by_kernel(values, part)
        {
            return Ok(ColumnarValue::Array(parts?));
        }
        self.inner.invoke_with_args(args)
    }
}

/// A field of a column of dates or zoneless timestamps by Arrow's
/// vectorised kernel, for the fields where its answer is Trino's; `None`
/// where the row-by-row path must answer.
fn by_kernel(values: &ArrayRef, part: Part) -> Option<Result<ArrayRef>> {
    use datafusion::arrow::compute::kernels::temporal::{DatePart as P, date_part};
    if !matches!(
        values.data_type(),
        DataType::Date32 | DataType::Timestamp(TimeUnit::Microsecond | TimeUnit::Nanosecond, None)
    ) {
        return None;
    }
    if values.data_type() == &DataType::Date32 && part.of_time() {
        return Some(no_time_of_day(part));
    }
    let kernel = match part {
        Part::Year => P::Year,
        Part::Quarter => P::Quarter,
        Part::Month => P::Month,
        Part::Day => P::Day,
        Part::DayOfYear => P::DayOfYear,
        Part::Hour => P::Hour,
        Part::Minute => P::Minute,
        Part::Second => P::Second,
        _ => return None,
    };
    Some(
        date_part(values, kernel)
            .and_then(|parts| cast(&parts, &DataType::Int64))
            .map_err(DataFusionError::from),
    )
}

/// A unit of `date_add` / `date_diff`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Unit {
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

pub(super) fn unit(s: &str) -> Result<Unit> {
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

pub(super) fn fixed_micros(u: Unit) -> Option<i64> {
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

pub(super) fn months_of(u: Unit) -> i64 {
    match u {
        Unit::Month => 1,
        Unit::Quarter => 3,
        _ => 12,
    }
}

pub(super) fn add(d: NaiveDateTime, u: Unit, n: i64) -> Option<NaiveDateTime> {
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

pub(super) fn date_add(a: &[ArrayRef], ret: &DataType) -> Result<ArrayRef> {
    if let DataType::Timestamp(unit, Some(zone)) = a[2].data_type() {
        // As Trino's zoned chronology: a unit shorter than a day is added
        // to the instant, a day or longer on the zone's calendar.
        let units = texts(&a[0])?;
        let kinds: std::collections::BTreeSet<bool> = units
            .iter()
            .flatten()
            .map(|u| Ok(fixed_micros(self::unit(u)?).is_some_and(|m| m < 86_400 * MICROS)))
            .collect::<Result<_>>()?;
        if kinds.len() > 1 {
            return exec_err!("date_add: units both shorter and longer than a day in one column");
        }
        let zoneless = DataType::Timestamp(*unit, None);
        let time_zoned = super::zoned::is_time_zoned(a[2].data_type());
        if !kinds.contains(&true) && !time_zoned {
            let wall = super::zoned::local(&a[2])?;
            let added = date_add(&[a[0].clone(), a[1].clone(), wall], &zoneless)?;
            return super::zoned::in_zone(&cast(&added, &zoneless)?, zone);
        }
        // A TIME WITH TIME ZONE wraps past midnight; a day is not its unit.
        if time_zoned && kinds.contains(&false) {
            return exec_err!("date_add: a day or longer is not a unit of TIME WITH TIME ZONE");
        }
        let instants = cast(&a[2], &zoneless)?;
        let added = date_add(&[a[0].clone(), a[1].clone(), instants], &zoneless)?;
        // The instants again, in the zone (through integers: a cast from a
        // zoneless timestamp would read them on the zone's wall clock).
        let added = cast(&cast(&added, &zoneless)?, &DataType::Int64)?;
        let zoned = cast(&added, a[2].data_type())?;
        return if time_zoned {
            super::zoned::wrap_day(&zoned)
        } else {
            Ok(zoned)
        };
    }
    let (units, ns, ts) = (texts(&a[0])?, integers(&a[1])?, timestamps(&a[2])?);
    let date = is_date(ret);
    // A TIMESTAMP(7..9) keeps the digits past the microsecond, which no
    // unit of date_add reaches: they are carried over as they were.
    let nanos = match a[2].data_type() {
        DataType::Timestamp(TimeUnit::Nanosecond, None)
        | DataType::Time64(TimeUnit::Nanosecond) => {
            Some(integers(&cast(&a[2], &DataType::Int64)?)?)
        }
        _ => None,
    };
    let mut dates = Date32Builder::new();
    let mut stamps = TimestampMicrosecondBuilder::new();
    for i in 0..ts.len() {
        let v = match (&units[i], ns[i], ts[i].and_then(to_datetime)) {
            (Some(u), Some(n), Some(d)) => {
                let u = unit(u)?;
                if date && fixed_micros(u).is_some_and(|m| m < 86_400 * MICROS) {
                    return exec_err!("date_add: '{u:?}' is not a unit of DATE values");
                }
                if matches!(ret, DataType::Time64(_))
                    && fixed_micros(u).is_none_or(|m| m >= 86_400 * MICROS)
                {
                    return exec_err!("date_add: '{u:?}' is not a unit of TIME values");
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
    if date {
        return Ok(Arc::new(dates.finish()));
    }
    let stamps = stamps.finish();
    if let DataType::Time64(unit) = ret {
        let day = 86_400 * MICROS;
        let micros = stamps.iter().map(|m| m.map(|m| m.rem_euclid(day)));
        return Ok(match (unit, nanos) {
            (TimeUnit::Nanosecond, Some(nanos)) => Arc::new(
                micros
                    .zip(nanos)
                    .map(|(m, n)| Some(m? * 1000 + n?.rem_euclid(1000)))
                    .collect::<datafusion::arrow::array::Time64NanosecondArray>(),
            ),
            _ => Arc::new(micros.collect::<datafusion::arrow::array::Time64MicrosecondArray>()),
        });
    }
    Ok(match nanos {
        None => Arc::new(stamps),
        Some(nanos) => Arc::new(datafusion::arrow::array::TimestampNanosecondArray::from(
            stamps
                .iter()
                .zip(nanos)
                .map(|(m, n)| Some(m?.checked_mul(1000)? + n?.rem_euclid(1000)))
                .collect::<Vec<_>>(),
        )),
    })
}

/// `trino_interval_millis(t1 - t2)`: the difference of two timestamps or
/// times as Trino's INTERVAL DAY TO SECOND holds it, in whole milliseconds
/// (rounded half away from zero).
pub(super) fn interval_millis(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let round = |v: i64, per_milli: i64| {
        let half = per_milli / 2;
        let m = if v >= 0 {
            (v + half) / per_milli
        } else {
            (v - half) / per_milli
        };
        m * per_milli
    };
    let unit = match a[0].data_type() {
        DataType::Duration(unit) => unit,
        // TIME - TIME: DataFusion's interval holds no months or days here.
        DataType::Interval(datafusion::arrow::datatypes::IntervalUnit::MonthDayNano) => {
            let i = a[0].as_primitive::<datafusion::arrow::datatypes::IntervalMonthDayNanoType>();
            let out: datafusion::arrow::array::IntervalMonthDayNanoArray = i
                .iter()
                .map(|v| {
                    v.map(|mut v| {
                        v.nanoseconds = round(v.nanoseconds, 1_000_000);
                        v
                    })
                })
                .collect();
            return Ok(Arc::new(out));
        }
        other => return exec_err!("trino_interval_millis: not a duration: {other}"),
    };
    let per_milli: i64 = match unit {
        TimeUnit::Second | TimeUnit::Millisecond => return Ok(a[0].clone()),
        TimeUnit::Microsecond => 1_000,
        TimeUnit::Nanosecond => 1_000_000,
    };
    let raw = integers(&cast(&a[0], &DataType::Int64)?)?;
    let rounded: datafusion::arrow::array::Int64Array = raw
        .into_iter()
        .map(|v| v.map(|v| round(v, per_milli)))
        .collect();
    cast(&rounded, a[0].data_type()).map_err(Into::into)
}

/// `trino_local_text(s)`: a timestamp's text without the zone it names
/// (`2020-05-10 12:34:56 +01:23`, `... UTC`, `... Europe/Paris`), its
/// seconds filled in when it has none (`2013-03-31 00:05`), one-digit
/// months, days and hours padded (`2001-1-22`): a CAST to a
/// zoneless TIMESTAMP keeps the local time, as Trino's does, where Arrow
/// would convert it to UTC (and refuse a time without seconds).
pub(super) fn local_text(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    static ZONED: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(
            r"^\s*(\S+[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)\s*(?:[+-]\d{1,2}(?::?\d{2})?|Z|UTC|[A-Za-z][A-Za-z_]*(?:/[A-Za-z_+-]+)+)\s*$",
        )
        .expect("a valid pattern")
    });
    // Trino reads `2013-03-31 00:05` (no seconds); Arrow needs them.
    static MINUTES: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"^\s*[+-]?\d+-\d{1,2}-\d{1,2}[ T]\d{1,2}:\d{2}$")
            .expect("a valid pattern")
    });
    // Trino reads one-digit months, days and hours (`2001-1-22 3:04:05`).
    static SHORT: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"^(\s*[+-]?\d+)-(\d{1,2})-(\d{1,2})(?:([ T])(\d{1,2}):(.*))?$")
            .expect("a valid pattern")
    });
    let pad = |s: &str| -> String {
        match SHORT.captures(s) {
            Some(c) => {
                let mut out = format!("{}-{:0>2}-{:0>2}", &c[1], &c[2], &c[3]);
                if let (Some(sep), Some(h), Some(rest)) = (c.get(4), c.get(5), c.get(6)) {
                    out.push_str(&format!(
                        "{}{:0>2}:{}",
                        sep.as_str(),
                        h.as_str(),
                        rest.as_str()
                    ));
                }
                out
            }
            None => s.to_string(),
        }
    };
    // Trino's text has a space between date and time; ISO's `T` is read
    // by from_iso8601_timestamp, not by CAST.
    static ISO: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"^\s*[+-]?\d+-\d{1,2}-\d{1,2}T").expect("a valid pattern")
    });
    let mut out = StringBuilder::new();
    for s in texts(&a[0])? {
        if let Some(s) = s.as_deref().filter(|s| ISO.is_match(s)) {
            return exec_err!(
                "Value cannot be cast to timestamp: {s} (a space goes between date and time; \
                 from_iso8601_timestamp reads the T)"
            );
        }
        out.append_option(s.map(|s| {
            let local = match ZONED.captures(&s) {
                Some(c) => c[1].to_string(),
                None => s,
            };
            let local = pad(&local);
            if MINUTES.is_match(&local) {
                format!("{}:00", local.trim())
            } else {
                local
            }
        }));
    }
    Ok(Arc::new(out.finish()))
}

/// Whole units from `a` to `b`, as Trino (Joda) counts them: months are
/// counted by adding them to `a` (end of month clamped) without passing `b`.
pub(super) fn diff(u: Unit, a: NaiveDateTime, b: NaiveDateTime) -> i64 {
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

pub(super) fn date_diff(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    // Zoned values are read on the first's clock, as Trino's chronology of
    // the first's zone reads both instants.
    let second = match (a[1].data_type(), a[2].data_type()) {
        (first @ DataType::Timestamp(_, Some(_)), DataType::Timestamp(_, Some(_))) => {
            cast(&a[2], first)?
        }
        _ => a[2].clone(),
    };
    let (units, xs, ys) = (texts(&a[0])?, timestamps(&a[1])?, timestamps(&second)?);
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

pub(super) fn last_day_of_month(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
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
pub(super) fn mysql_to_chrono(fmt: &str) -> Result<String> {
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
            'x' => "%G",
            'Y' => "%Y",
            'y' => "%y",
            '%' => "%%",
            'D' | 'U' | 'u' | 'V' | 'w' | 'X' => {
                return plan_err!(
                    "date format code %{code} is not supported, as in Trino (%D %U %u %V %w %X); \
                     format_datetime takes Joda patterns for these"
                );
            }
            other => {
                return plan_err!("date format code %{other} is not supported");
            }
        });
    }
    Ok(out)
}

/// Trino formats a timestamp at millisecond precision, rounded half up
/// (`56.5555` is `56.556`).
fn to_millis_rounded(micros: i64) -> i64 {
    (micros + 500).div_euclid(1000) * 1000
}

pub(super) fn date_format(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let (ts, fmts) = (timestamps(&a[0])?, texts(&a[1])?);
    let mut out = StringBuilder::new();
    for i in 0..ts.len() {
        match (ts[i].map(to_millis_rounded).and_then(to_datetime), &fmts[i]) {
            (Some(d), Some(f)) => {
                let chrono_fmt = mysql_to_chrono(f)?;
                out.append_value(d.format(&chrono_fmt).to_string());
            }
            _ => out.append_null(),
        }
    }
    Ok(Arc::new(out.finish()))
}

pub(super) fn date_parse(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let (ss, fmts) = (texts(&a[0])?, texts(&a[1])?);
    let mut out = TimestampMicrosecondBuilder::new();
    for i in 0..ss.len() {
        match (&ss[i], &fmts[i]) {
            (Some(s), Some(f)) => {
                let chrono_fmt = mysql_to_chrono(f)?;
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

pub(super) fn format_datetime(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let (ts, fmts) = (timestamps(&a[0])?, texts(&a[1])?);
    // A zoned value's zone fields are its zone's; the others' the session's.
    let zone = match a[0].data_type() {
        DataType::Timestamp(_, Some(z)) => Some(z.to_string()),
        _ => None,
    };
    let offsets = match &zone {
        Some(_) => super::zoned::offsets(&a[0])?,
        None => vec![Some(0); ts.len()],
    };
    let mut out = StringBuilder::new();
    for i in 0..ts.len() {
        match (ts[i].map(to_millis_rounded).and_then(to_datetime), &fmts[i]) {
            (Some(d), Some(f)) => {
                let tokens = joda::tokens(f).map_err(DataFusionError::Execution)?;
                let zone = joda::Zone {
                    name: zone.as_deref().unwrap_or("UTC"),
                    offset: offsets[i].unwrap_or(0),
                };
                out.append_value(
                    joda::format(d, &tokens, zone).map_err(DataFusionError::Execution)?,
                );
            }
            _ => out.append_null(),
        }
    }
    Ok(Arc::new(out.finish()))
}

pub(super) fn parse_datetime(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
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

/// Parses with `fmt`, the fields it leaves out taking Trino's defaults
/// (`%Y/%m/%d/%H` has no minutes; `%Y` alone is January 1st).
pub(super) fn parse_partial(s: &str, fmt: &str) -> Option<NaiveDateTime> {
    let mut parsed = chrono::format::Parsed::new();
    chrono::format::parse(&mut parsed, s, chrono::format::StrftimeItems::new(fmt)).ok()?;
    joda::default_missing_fields(&mut parsed);
    parsed.to_naive_datetime_with_offset(0).ok()
}

pub(super) fn from_iso8601_date(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
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

pub(super) fn from_iso8601_timestamp(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
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

pub(super) fn to_iso8601(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
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

/// `to_unixtime(timestamp)`: seconds since the epoch as a double, the
/// fraction kept (DataFusion's drops it).
pub(super) fn to_unixtime(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    // A zoned value is an instant: its seconds are UTC's, not its wall
    // clock's, summed as Trino sums them (milliseconds, then the rest), so
    // the double is Trino's to the last bit.
    if let DataType::Timestamp(unit, Some(_)) = a[0].data_type() {
        let per_milli = match unit {
            TimeUnit::Second => return exec_err!("to_unixtime of a zoned TIMESTAMP(0) in seconds"),
            TimeUnit::Millisecond => 1,
            TimeUnit::Microsecond => 1_000,
            TimeUnit::Nanosecond => 1_000_000,
        };
        let values = cast(&a[0], &DataType::Int64)?;
        let out: datafusion::arrow::array::Float64Array = values
            .as_primitive::<datafusion::arrow::datatypes::Int64Type>()
            .iter()
            .map(|v| {
                v.map(|v| {
                    let (millis, rest) = (v.div_euclid(per_milli), v.rem_euclid(per_milli));
                    millis as f64 / 1000.0 + rest as f64 / (per_milli as f64 * 1000.0)
                })
            })
            .collect();
        return Ok(Arc::new(out));
    }
    let out: datafusion::arrow::array::Float64Array = timestamps(&a[0])?
        .into_iter()
        .map(|t| t.map(|m| m as f64 / MICROS as f64))
        .collect();
    Ok(Arc::new(out))
}

/// `from_unixtime(seconds)`: a UTC timestamp, the seconds rounded to the
/// millisecond as Trino does; a value outside the calendar is an error.
pub(super) fn from_unixtime(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let seconds = cast(&a[0], &DataType::Float64)?;
    let seconds = seconds.as_primitive::<datafusion::arrow::datatypes::Float64Type>();
    let mut out = TimestampMicrosecondBuilder::new();
    for s in seconds.iter() {
        let Some(s) = s else {
            out.append_null();
            continue;
        };
        let millis = (s * 1000.0).round();
        if !millis.is_finite()
            || millis.abs() > 2.5e17
            || to_datetime(millis as i64 * 1000).is_none()
        {
            return exec_err!("from_unixtime: {s} seconds is outside the supported range");
        }
        out.append_value(millis as i64 * 1000);
    }
    Ok(Arc::new(out.finish().with_timezone("UTC")))
}

/// `date_part(field, x)`, which `EXTRACT(field FROM x)` is: Trino's fields
/// with Trino's numbering (`DOW` is ISO, Monday = 1; `SECOND` whole).
pub(super) fn date_part(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let fields = texts(&a[0])?;
    let time = matches!(a[1].data_type(), DataType::Time32(_) | DataType::Time64(_))
        || super::zoned::is_time_zoned(a[1].data_type());
    if matches!(
        a[1].data_type(),
        DataType::Interval(_) | DataType::Duration(_)
    ) {
        let mut out = Int64Builder::new();
        for (i, field) in fields.iter().enumerate() {
            match field {
                None => out.append_null(),
                Some(f) => {
                    let part = extract_field(f)?;
                    out.append_option(interval_parts(&a[1].slice(i, 1), part)?[0]);
                }
            }
        }
        return Ok(Arc::new(out.finish()));
    }
    // A time of day is read on the epoch's day.
    let values = timestamps(&a[1])?;
    let mut out = Int64Builder::new();
    let mut known: Option<(String, Part)> = None;
    for (i, (field, t)) in fields.iter().zip(values).enumerate() {
        let (Some(field), Some(t)) = (field, t) else {
            out.append_null();
            continue;
        };
        if known.as_ref().is_none_or(|(f, _)| f != field) {
            let part = extract_field(field)?;
            if time && !part.of_time() {
                return plan_err!("EXTRACT: a TIME has no {field}");
            }
            if a[1].data_type() == &DataType::Date32 && part.of_time() {
                return no_time_of_day(part);
            }
            known = Some((field.clone(), part));
        }
        let part = known.as_ref().expect("set above").1;
        if let Some(fields) = part.of_zone(&a[1].slice(i, 1)) {
            out.append_option(fields?[0]);
            continue;
        }
        out.append_option(to_datetime(t).map(|d| part.of(d)));
    }
    Ok(Arc::new(out.finish()))
}

/// `trino_interval_text(i)`: an interval as Trino's CAST to VARCHAR writes
/// it: years to months as `1-6`, days to seconds as `2 03:04:05.678`.
/// A zero interval is refused, since Strata's intervals do not say which
/// of the two kinds they are, nor is a part finer than milliseconds,
/// which Trino's intervals do not hold.
pub(super) fn interval_text(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    use datafusion::arrow::datatypes::IntervalMonthDayNanoType;
    let values = month_day_nano(&a[0])?;
    let mut out = StringBuilder::new();
    for v in values.as_primitive::<IntervalMonthDayNanoType>().iter() {
        let Some(v) = v else {
            out.append_null();
            continue;
        };
        let sign = |negative: bool| if negative { "-" } else { "" };
        if v.months != 0 && v.days == 0 && v.nanoseconds == 0 {
            let months = i64::from(v.months);
            out.append_value(format!(
                "{}{}-{}",
                sign(months < 0),
                months.abs() / 12,
                months.abs() % 12
            ));
            continue;
        }
        let nanos = i128::from(v.days) * 86_400_000_000_000 + i128::from(v.nanoseconds);
        if v.months != 0 || nanos == 0 || nanos % 1_000_000 != 0 {
            return exec_err!(
                "CAST of this interval to VARCHAR: Trino writes years to months or days to \
                 milliseconds, and Strata cannot tell which a zero interval is"
            );
        }
        let millis = (nanos / 1_000_000).abs();
        out.append_value(format!(
            "{}{} {:02}:{:02}:{:02}.{:03}",
            sign(nanos < 0),
            millis / 86_400_000,
            millis / 3_600_000 % 24,
            millis / 60_000 % 60,
            millis / 1000 % 60,
            millis % 1000
        ));
    }
    Ok(Arc::new(out.finish()))
}

/// `trino_interval_normal(i)`: an interval with its days counted in its
/// nanoseconds, so that intervals compare as Trino's do, by length
/// (`INTERVAL '1' DAY` equals `INTERVAL '24' HOUR`), where Arrow compares
/// months, then days, then nanoseconds.
pub(super) fn interval_normal(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    use datafusion::arrow::datatypes::{IntervalMonthDayNano, IntervalMonthDayNanoType};
    let values = month_day_nano(&a[0])?;
    let out: datafusion::arrow::array::IntervalMonthDayNanoArray = values
        .as_primitive::<IntervalMonthDayNanoType>()
        .iter()
        .map(|v| {
            v.map(|v| {
                i64::from(v.days)
                    .checked_mul(86_400_000_000_000)
                    .and_then(|d| d.checked_add(v.nanoseconds))
                    .map(|n| IntervalMonthDayNano::new(v.months, 0, n))
                    .ok_or_else(|| DataFusionError::Execution("interval out of range".to_string()))
            })
            .transpose()
        })
        .collect::<Result<_>>()?;
    Ok(Arc::new(out))
}

/// Intervals or durations as Arrow's month-day-nanosecond intervals (a
/// duration is its nanoseconds), the one shape the interval readers take.
fn month_day_nano(a: &ArrayRef) -> Result<ArrayRef> {
    use datafusion::arrow::datatypes::IntervalUnit;
    cast(a, &DataType::Interval(IntervalUnit::MonthDayNano)).or_else(|_| {
        let nanos = cast(a, &DataType::Duration(TimeUnit::Nanosecond))?;
        let nanos = integers(&cast(&nanos, &DataType::Int64)?)?;
        let out: datafusion::arrow::array::IntervalMonthDayNanoArray = nanos
            .into_iter()
            .map(|n| n.map(|n| datafusion::arrow::datatypes::IntervalMonthDayNano::new(0, 0, n)))
            .collect();
        Ok(Arc::new(out) as ArrayRef)
    })
}

/// A field of each interval as Trino has it: an interval is either years
/// and months or days to seconds, normalised (`INTERVAL '65' SECOND` has
/// second 5 and minute 1), its fields signed like the interval.
fn interval_parts(a: &ArrayRef, part: Part) -> Result<Vec<Option<i64>>> {
    use datafusion::arrow::datatypes::IntervalMonthDayNanoType;
    let values = month_day_nano(a)?;
    let values = values.as_primitive::<IntervalMonthDayNanoType>();
    values
        .iter()
        .map(|v| {
            let Some(v) = v else { return Ok(None) };
            if v.months != 0 && (v.days != 0 || v.nanoseconds != 0) {
                return exec_err!("an interval is either years to months or days to seconds");
            }
            let months = i64::from(v.months);
            let nanos = i128::from(v.days) * 86_400_000_000_000 + i128::from(v.nanoseconds);
            let of = |unit: i128, modulo: i128| ((nanos / unit) % modulo) as i64;
            Ok(Some(match part {
                Part::Year if nanos == 0 => months / 12,
                Part::Month if nanos == 0 => months % 12,
                Part::Day if months == 0 => (nanos / 86_400_000_000_000) as i64,
                Part::Hour if months == 0 => of(3_600_000_000_000, 24),
                Part::Minute if months == 0 => of(60_000_000_000, 60),
                Part::Second if months == 0 => of(1_000_000_000, 60),
                Part::Millisecond if months == 0 => of(1_000_000, 1000),
                other => return exec_err!("an interval of this kind has no {other:?} field"),
            }))
        })
        .collect()
}

/// Trino's refusal of a time-of-day field of a DATE (`hour(DATE ...)`,
/// `EXTRACT(SECOND FROM DATE ...)`), where Arrow answers 0.
fn no_time_of_day<T>(part: Part) -> Result<T> {
    plan_err!("a DATE has no {part:?} field; cast it to TIMESTAMP first")
}

/// A field of Trino's EXTRACT. MILLISECOND is not one (Trino refuses it;
/// the `millisecond()` function is).
fn extract_field(field: &str) -> Result<Part> {
    Ok(match field.to_ascii_lowercase().as_str() {
        "year" => Part::Year,
        "quarter" => Part::Quarter,
        "month" => Part::Month,
        "week" => Part::Week,
        "day" | "day_of_month" => Part::Day,
        "dow" | "day_of_week" => Part::DayOfWeek,
        "doy" | "day_of_year" => Part::DayOfYear,
        "yow" | "year_of_week" => Part::YearOfWeek,
        "hour" => Part::Hour,
        "minute" => Part::Minute,
        "second" => Part::Second,
        "timezone_hour" => Part::TimezoneHour,
        "timezone_minute" => Part::TimezoneMinute,
        other => {
            return plan_err!(
                "EXTRACT: {other} is not a field of Trino's EXTRACT (YEAR, QUARTER, MONTH, WEEK, \
                 DAY, DAY_OF_WEEK/DOW, DAY_OF_YEAR/DOY, YEAR_OF_WEEK/YOW, HOUR, MINUTE, SECOND, \
                 TIMEZONE_HOUR, TIMEZONE_MINUTE)"
            );
        }
    })
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
            mysql_to_chrono("%Y-%m-%d %H:%i:%s").unwrap(),
            "%Y-%m-%d %H:%M:%S"
        );
        assert!(mysql_to_chrono("%U").is_err());
        assert!(mysql_to_chrono("%D").is_err());
    }
}
