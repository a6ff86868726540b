//! Trino's TIMESTAMP WITH TIME ZONE as Arrow's zoned timestamp: the value
//! is the instant (UTC since the epoch), the column's type names the zone.
//!
//! Trino keeps a zone per value; Arrow keeps one per column. A query's
//! zoned values come from literals, casts and `at_timezone`, each of which
//! names one zone, so the zone is fixed when the query is planned; a text
//! column cast to a zoned timestamp must name that one zone on every row
//! (else the cast fails, naming the row's text), so a value never silently
//! takes another zone. The session zone is UTC, as Athena's.
//!
//! Fields (`hour`, `day`, `EXTRACT`...), casts to DATE, TIME and TIMESTAMP,
//! and the text of a value are read on the zone's wall clock, as Trino's.
//!
//! TIME WITH TIME ZONE is a zoned timestamp too, whose zone is a fixed
//! offset written `+hhmm` (a TIMESTAMP WITH TIME ZONE's offsets are written
//! `+hh:mm`), and whose value is its UTC time of day on the epoch's day,
//! always in [0, 24h): so values of any offsets compare as Trino compares
//! them, normalised to UTC, and the wall clock's fields are the offset's.

use chrono::{LocalResult, Offset, TimeZone};
use datafusion::arrow::array::PrimitiveArray;
use datafusion::arrow::array::timezone::Tz;
use datafusion::arrow::datatypes::{Field, FieldRef, Int64Type};
use datafusion::logical_expr::{ReturnFieldArgs, ScalarUDF};

use super::*;

/// The field metadata key of a CAST to TIMESTAMP(p) WITH TIME ZONE, whose
/// zone the planner does not know: [`super::semantics`] takes it from the
/// value (a literal's text, a zoned value's type, else the session zone).
pub(super) const ZONE_FROM_VALUE: &str = "strata.trino_zone_from_value";

/// The session's zone unless `SET TIME ZONE` names another: UTC, as Athena's.
pub(super) const SESSION_ZONE: &str = "UTC";

/// A zone as Trino names it: `UTC` for UTC however written (`Z`, `+00:00`,
/// `GMT`), an offset as `+hh:mm`, a region in its canonical case.
pub(super) fn canonical_zone(name: &str) -> Result<String> {
    let n = name.trim();
    if ["Z", "UTC", "GMT", "UT", "Zulu", "UCT"]
        .iter()
        .any(|z| z.eq_ignore_ascii_case(n))
    {
        return Ok(SESSION_ZONE.into());
    }
    if let Some(rest) = n.strip_prefix(['+', '-']) {
        let sign = &n[..1];
        let digits: String = rest.chars().filter(char::is_ascii_digit).collect();
        let (h, m) = match (digits.len(), rest.contains(':')) {
            (1 | 2, false) => (digits.parse::<u32>().ok(), Some(0)),
            (4, _) => (digits[..2].parse().ok(), digits[2..].parse().ok()),
            (3, true) => (digits[..1].parse().ok(), digits[1..].parse().ok()),
            _ => (None, None),
        };
        return match (h, m) {
            (Some(0), Some(0)) => Ok(SESSION_ZONE.into()),
            (Some(h), Some(m)) if h <= 14 && m < 60 => Ok(format!("{sign}{h:02}:{m:02}")),
            _ => plan_err!("'{name}' is not a time zone offset (+hh:mm)"),
        };
    }
    // Trino reads region names in any case and writes them canonically.
    match chrono_tz::TZ_VARIANTS
        .iter()
        .find(|z| z.name().eq_ignore_ascii_case(n))
    {
        Some(z) => Ok(z.name().to_string()),
        None => plan_err!("'{name}' is not a time zone Strata knows"),
    }
}

/// Whether a zoned timestamp type is Trino's TIME WITH TIME ZONE: its zone
/// an offset written `+hhmm`.
pub(super) fn is_time_zoned(t: &DataType) -> bool {
    matches!(t, DataType::Timestamp(_, Some(z))
        if z.len() == 5 && z.starts_with(['+', '-']) && z[1..].bytes().all(|b| b.is_ascii_digit()))
}

/// The zone of a TIME WITH TIME ZONE at a canonical offset (`+08:35`, or
/// `UTC`): `+0835`, `+0000`. A region has no fixed offset, so it has none.
pub(super) fn time_zone_of(canonical: &str) -> Option<String> {
    if canonical == SESSION_ZONE {
        return Some("+0000".into());
    }
    let (sign, rest) = canonical.split_at_checked(1)?;
    let (h, m) = rest.split_once(':')?;
    // Trino's offsets reach ±14:00 (`TIME '12:00:00+14:01'` is an error).
    let minutes = h.parse::<u32>().ok()? * 60 + m.parse::<u32>().ok()?;
    (["+", "-"].contains(&sign) && h.len() == 2 && m.len() == 2 && minutes <= 14 * 60)
        .then(|| format!("{sign}{h}{m}"))
}

/// A TIME WITH TIME ZONE's offset as Trino writes it: `+08:35`.
pub(super) fn offset_text(time_zone: &str) -> String {
    format!("{}:{}", &time_zone[..3], &time_zone[3..])
}

/// TIME WITH TIME ZONE values brought back into the epoch's day (after
/// arithmetic or rounding moved them past midnight), as Trino wraps them.
pub(super) fn wrap_day(a: &ArrayRef) -> Result<ArrayRef> {
    let DataType::Timestamp(unit, _) = a.data_type() else {
        return Ok(a.clone());
    };
    let day = 86_400 * per_second(*unit);
    let wrapped = map_values(a, |v| Some(v.rem_euclid(day)))?;
    Ok(cast(&wrapped, a.data_type())?)
}

/// `trino_timetz_text(text, target, digits)`: a text `hh:mm[:ss[.f]][ ]±hh:mm`
/// as Trino reads a TIME WITH TIME ZONE, to `target`'s type; a text naming
/// no offset is at the target's, and one naming another fails.
pub(super) fn timetz_text(a: &[ArrayRef], ret: &DataType) -> Result<ArrayRef> {
    let DataType::Timestamp(unit, Some(zone)) = ret else {
        return exec_err!("trino_timetz_text to {ret}");
    };
    let digits = integers(&a[2])?.first().copied().flatten().unwrap_or(3) as u32;
    let scale = per_second(*unit);
    let offset = offset_text(zone);
    let mut out = Vec::with_capacity(a[0].len());
    for text in texts(&a[0])? {
        let Some(text) = text else {
            out.push(None);
            continue;
        };
        let written = text
            .trim()
            .find(['+', '-'])
            .map_or((text.trim(), None), |at| {
                let t = text.trim();
                (t[..at].trim_end(), Some(t[at..].trim()))
            });
        let named = match written.1 {
            Some(o) => canonical_zone(o).ok().and_then(|c| time_zone_of(&c)),
            None => Some(zone.to_string()),
        };
        let on_epoch = format!("1970-01-01 {}", written.0);
        let parsed = split(&on_epoch);
        let (Some(named), Some(parsed)) = (named, parsed) else {
            return exec_err!("'{text}' is not a time with time zone");
        };
        if named != zone.as_ref() {
            return exec_err!(
                "'{text}' is at the offset {}, but this column's values are at {offset}: \
                 Strata holds one offset per column",
                offset_text(&named)
            );
        }
        let Some(wall) = parsed.rounded(digits) else {
            return exec_err!("'{text}' is not a time with time zone");
        };
        // Rounding may carry into the next day; the offset may cross one.
        let utc = (wall.and_utc().timestamp() - offset_seconds(zone)) * scale
            + i64::from(wall.nanosecond()) / (1_000_000_000 / scale);
        out.push(Some(utc.rem_euclid(86_400 * scale)));
    }
    let values: ArrayRef = Arc::new(PrimitiveArray::<Int64Type>::from(out));
    Ok(cast(&values, ret)?)
}

/// The TIME WITH TIME ZONE zone a time text names (`12:34+08:35`).
pub(super) fn time_offset_of_text(text: &str) -> Option<String> {
    let t = text.trim();
    let at = t.find(['+', '-'])?;
    canonical_zone(t[at..].trim())
        .ok()
        .and_then(|c| time_zone_of(&c))
}

/// `trino_time_at_offset(time, target)`: a TIME at `target`'s offset.
pub(super) fn time_at_offset(a: &[ArrayRef], ret: &DataType) -> Result<ArrayRef> {
    let DataType::Timestamp(unit, Some(zone)) = ret else {
        return exec_err!("trino_time_at_offset to {ret}");
    };
    let scale = per_second(*unit);
    let since_midnight = cast(
        &cast(
            &a[0],
            &DataType::Time64(match unit {
                TimeUnit::Nanosecond => TimeUnit::Nanosecond,
                _ => TimeUnit::Microsecond,
            }),
        )?,
        &DataType::Int64,
    )?;
    let offset = offset_seconds(zone) * scale;
    let utc = map_values(&since_midnight, |v| {
        Some((v - offset).rem_euclid(86_400 * scale))
    })?;
    Ok(cast(&utc, ret)?)
}

/// `trino_on_session_day(time, start, session_zone, in_zone, target)`: a
/// time of day on the day the session started, as Trino casts a TIME (or a
/// TIME WITH TIME ZONE) to a TIMESTAMP: the day is the start's in the
/// session's zone. `time` is a TIME, or a timestamp read modulo a day (a
/// TIME WITH TIME ZONE's UTC time, or a wall clock). When `in_zone` is
/// true the result is an instant of the session's zone, moved by the
/// zone's offset at the start (as Trino's, whatever the offset at that
/// time of day); else it stays where it is (a wall clock, or a TIME WITH
/// TIME ZONE's UTC time, whose result keeps its offset).
pub(super) fn on_session_day(a: &[ArrayRef], ret: &DataType) -> Result<ArrayRef> {
    let DataType::Timestamp(unit, _) = ret else {
        return exec_err!("trino_on_session_day to {ret}");
    };
    let scale = per_second(*unit);
    let day = 86_400 * scale;
    let start = cast(
        &a[1],
        &DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
    )?;
    let start = cast(&start, &DataType::Int64)?;
    let Some(start) = start.as_primitive::<Int64Type>().iter().flatten().next() else {
        return exec_err!("trino_on_session_day without the session's start");
    };
    let zone_text = cast(&a[2], &DataType::Utf8)?;
    let zone_text = zone_text.as_string::<i32>();
    let zone = tz(if zone_text.is_empty() || zone_text.is_null(0) {
        SESSION_ZONE
    } else {
        zone_text.value(0)
    })?;
    let in_zone = a[3]
        .as_boolean_opt()
        .is_some_and(|b| !b.is_empty() && b.value(0));
    let at = chrono::DateTime::from_timestamp_nanos(start);
    let offset = i64::from(
        zone.offset_from_utc_datetime(&at.naive_utc())
            .fix()
            .local_minus_utc(),
    );
    let local_day = (at.naive_utc() + Duration::seconds(offset)).date();
    let days = (local_day - NaiveDate::from_ymd_opt(1970, 1, 1).expect("the epoch")).num_days();
    let shift = if in_zone { offset * scale } else { 0 };
    let base = days.checked_mul(day).and_then(|b| b.checked_sub(shift));
    let Some(base) = base else {
        return exec_err!("the session's day {local_day} is out of range");
    };
    let time_of_day = match a[0].data_type() {
        DataType::Time32(_) | DataType::Time64(_) => cast(
            &a[0],
            &DataType::Time64(match unit {
                TimeUnit::Nanosecond => TimeUnit::Nanosecond,
                _ => TimeUnit::Microsecond,
            }),
        )?,
        DataType::Timestamp(_, zone) => cast(&a[0], &DataType::Timestamp(*unit, zone.clone()))?,
        other => return exec_err!("trino_on_session_day of {other}"),
    };
    let values = map_values(&time_of_day, |v| base.checked_add(v.rem_euclid(day)))?;
    Ok(cast(&values, ret)?)
}

/// The seconds east of UTC of a TIME WITH TIME ZONE's zone (`+0835`).
fn offset_seconds(time_zone: &str) -> i64 {
    let sign = if time_zone.starts_with('-') { -1 } else { 1 };
    let h: i64 = time_zone[1..3].parse().unwrap_or(0);
    let m: i64 = time_zone[3..5].parse().unwrap_or(0);
    sign * (h * 3600 + m * 60)
}

fn tz(zone: &str) -> Result<Tz> {
    Ok(zone.parse::<Tz>()?)
}

fn per_second(unit: TimeUnit) -> i64 {
    match unit {
        TimeUnit::Second => 1,
        TimeUnit::Millisecond => 1_000,
        TimeUnit::Microsecond => 1_000_000,
        TimeUnit::Nanosecond => 1_000_000_000,
    }
}

/// The TIME WITH TIME ZONE zone (`+0545`) a region's timestamp at one
/// instant of `unit`s is cast to: a constant's, whose date fixes it. As
/// Trino takes it, that is the offset in force at the local wall time
/// read as a UTC instant (so 03:23:45 in Los Angeles on the morning summer
/// time starts is -08:00, the offset of 03:23:45 UTC, the evening before).
/// Trino keeps the wall time, so where that offset is not the one in force
/// the instant moves: the value at the returned zone is the second result.
pub(super) fn time_zone_at(zone: &str, value: i64, unit: TimeUnit) -> Option<(String, i64)> {
    let zone = tz(zone).ok()?;
    let actual = offset_at(&zone, value, unit)?;
    let local = value.checked_add(actual.checked_mul(per_second(unit))?)?;
    let seconds = offset_at(&zone, local, unit)?;
    let sign = if seconds < 0 { '-' } else { '+' };
    let minutes = seconds.abs() / 60;
    let time_zone = time_zone_of(&format!("{sign}{:02}:{:02}", minutes / 60, minutes % 60))?;
    let moved = value.checked_add((actual - seconds).checked_mul(per_second(unit))?)?;
    Some((time_zone, moved))
}

/// The zone's offset from UTC, in seconds, at an instant of `unit`s.
fn offset_at(zone: &Tz, value: i64, unit: TimeUnit) -> Option<i64> {
    let at = chrono::DateTime::from_timestamp(value.div_euclid(per_second(unit)), 0)?;
    Some(i64::from(
        zone.offset_from_utc_datetime(&at.naive_utc())
            .fix()
            .local_minus_utc(),
    ))
}

/// The instant of a wall-clock time in `zone`: the earlier of two in a
/// repeated hour, the time moved past a skipped hour (as Trino's).
fn instant_of(zone: &Tz, local: NaiveDateTime) -> Option<NaiveDateTime> {
    match zone.from_local_datetime(&local) {
        LocalResult::Single(t) => Some(t.naive_utc()),
        LocalResult::Ambiguous(a, b) => Some(a.naive_utc().min(b.naive_utc())),
        LocalResult::None => {
            // In a gap: read with the offset in force just before it.
            let before = zone
                .from_local_datetime(&(local - Duration::hours(3)))
                .earliest()?;
            Some(local - Duration::seconds(i64::from(before.offset().fix().local_minus_utc())))
        }
    }
}

/// Each value of a timestamp array through `f`, as integers of its unit;
/// a value `f` cannot map is out of range.
fn map_values(a: &ArrayRef, f: impl Fn(i64) -> Option<i64>) -> Result<ArrayRef> {
    let values = cast(a, &DataType::Int64)?;
    let mut out = Vec::with_capacity(values.len());
    for v in values.as_primitive::<Int64Type>().iter() {
        out.push(match v {
            None => None,
            Some(v) => match f(v) {
                Some(m) => Some(m),
                None => return exec_err!("a timestamp out of range: {v}"),
            },
        });
    }
    Ok(Arc::new(PrimitiveArray::<Int64Type>::from(out)))
}

/// The wall-clock values of a zoned timestamp array: the same unit,
/// without a zone. Other arrays come back as they are.
pub(super) fn local(a: &ArrayRef) -> Result<ArrayRef> {
    let DataType::Timestamp(unit, Some(zone)) = a.data_type() else {
        return Ok(a.clone());
    };
    let (unit, zone) = (*unit, tz(zone)?);
    let local = map_values(a, |v| {
        let shift = offset_at(&zone, v, unit)?.checked_mul(per_second(unit))?;
        v.checked_add(shift)
    })?;
    Ok(cast(&local, &DataType::Timestamp(unit, None))?)
}

/// The instants in `zone` of wall-clock values (a zoneless timestamp
/// array), as a timestamp of the same unit in that zone.
pub(super) fn in_zone(a: &ArrayRef, zone: &str) -> Result<ArrayRef> {
    let DataType::Timestamp(unit, None) = a.data_type() else {
        return exec_err!("in_zone of {}", a.data_type());
    };
    let (unit, z) = (*unit, tz(zone)?);
    let scale = per_second(unit);
    let instants = map_values(a, |v| {
        let wall = chrono::DateTime::from_timestamp(v.div_euclid(scale), 0)?.naive_utc();
        let at = instant_of(&z, wall)?.and_utc().timestamp();
        at.checked_mul(scale)?.checked_add(v.rem_euclid(scale))
    })?;
    Ok(cast(
        &instants,
        &DataType::Timestamp(unit, Some(zone.into())),
    )?)
}

/// A timestamp text as written: its date and time to the second, its
/// fraction in picoseconds (Trino reads up to 12 digits), its zone if any.
struct Written<'a> {
    at: NaiveDateTime,
    picos: u64,
    zone: Option<&'a str>,
}

impl Written<'_> {
    /// The wall-clock time rounded to `digits` fraction digits (half up,
    /// as Trino rounds), nanoseconds exact.
    fn rounded(&self, digits: u32) -> Option<NaiveDateTime> {
        let step = 10u64.pow(12 - digits.min(9));
        let picos = (self.picos + step / 2) / step * step;
        self.at
            .checked_add_signed(Duration::nanoseconds((picos / 1000) as i64))
    }
}

/// Reads `[+-]yyyy-mm-dd[ hh:mm[:ss[.fffffffffff]]][ zone]`, years past
/// 9999 and before 1 included, as Trino's timestamp texts.
fn split(text: &str) -> Option<Written<'_>> {
    let t = text.trim();
    let (sign, body) = match t.strip_prefix('-') {
        Some(b) => (-1, b),
        None => (1, t.strip_prefix('+').unwrap_or(t)),
    };
    let date_end = body
        .char_indices()
        .find(|(_, c)| !(c.is_ascii_digit() || *c == '-'))
        .map_or(body.len(), |(i, _)| i);
    let mut ymd = body[..date_end].split('-');
    let (y, m, d) = (ymd.next()?, ymd.next()?, ymd.next()?);
    if ymd.next().is_some() || y.len() < 4 {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(
        sign * y.parse::<i32>().ok()?,
        m.parse().ok()?,
        d.parse().ok()?,
    )?;
    let mut rest = &body[date_end..];
    let (mut time, mut picos) = (chrono::NaiveTime::MIN, 0);
    if let Some(clock) = rest.strip_prefix([' ', 'T'])
        && clock.starts_with(|c: char| c.is_ascii_digit())
    {
        let end = clock
            .char_indices()
            .find(|(_, c)| !(c.is_ascii_digit() || *c == ':' || *c == '.'))
            .map_or(clock.len(), |(i, _)| i);
        let (hms, fraction) = clock[..end].split_once('.').unwrap_or((&clock[..end], ""));
        let parts: Vec<u32> = hms
            .split(':')
            .map(|p| p.parse().ok())
            .collect::<Option<_>>()?;
        if fraction.len() > 12 || !fraction.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
        picos = format!("{fraction:0<12}").parse::<u64>().ok()?;
        time = match parts[..] {
            [h, m] => chrono::NaiveTime::from_hms_opt(h, m, 0)?,
            [h, m, s] => chrono::NaiveTime::from_hms_opt(h, m, s)?,
            _ => return None,
        };
        rest = &clock[end..];
    }
    let zone = rest.trim();
    Some(Written {
        at: date.and_time(time),
        picos,
        zone: (!zone.is_empty()).then_some(zone),
    })
}

/// A TIMESTAMP or TIME literal's text (`2020-05-01 12:34:56.123456789012
/// Asia/Kathmandu`, `12:34:56.5555555555+08:35`) with its fraction of 10
/// to 12 digits rounded half up to `digits` (at most 9), carrying into the
/// second, the date, or round the clock for a time of day; what follows
/// the fraction stays as written. `None` for any other text, or a year
/// outside 1 to 9999.
pub(crate) fn round_picoseconds(text: &str, digits: u32) -> Option<String> {
    let dot = text.find('.')?;
    let fraction = text[dot + 1..]
        .find(|c: char| !c.is_ascii_digit())
        .map_or(text.len() - dot - 1, |n| n);
    if !(10..=12).contains(&fraction) || digits > 9 {
        return None;
    }
    let (head, suffix) = (&text[..dot + 1 + fraction], &text[dot + 1 + fraction..]);
    let time_of_day = !head.trim_start().contains('-');
    let dated = if time_of_day {
        format!("1970-01-01 {}", head.trim_start())
    } else {
        head.to_string()
    };
    let written = split(&dated)?;
    let rounded = written.rounded(digits)?;
    if !(1..=9999).contains(&rounded.year()) && !time_of_day {
        return None;
    }
    let clock = if time_of_day {
        "%H:%M:%S"
    } else {
        "%Y-%m-%d %H:%M:%S"
    };
    let fraction = match digits {
        0 => String::new(),
        d => format!(
            ".{:0width$}",
            rounded.nanosecond() / 10u32.pow(9 - d),
            width = d as usize
        ),
    };
    Some(format!("{}{fraction}{suffix}", rounded.format(clock)))
}

/// The zone a timestamp text names after its date and time, canonical.
pub(super) fn zone_of_text(text: &str) -> Option<String> {
    split(text)
        .and_then(|w| w.zone)
        .and_then(|z| canonical_zone(z).ok())
}

/// `trino_zoned_text(text, target, digits)`: a text naming a zone (or none,
/// for the session's, which is then `target`'s) read as Trino reads a TIMESTAMP WITH TIME ZONE, to
/// `target`'s type: its unit and zone. A row naming another zone fails.
pub(super) fn zoned_text(a: &[ArrayRef], ret: &DataType) -> Result<ArrayRef> {
    let DataType::Timestamp(unit, Some(zone)) = ret else {
        return exec_err!("trino_zoned_text to {ret}");
    };
    let digits = integers(&a[2])?.first().copied().flatten().unwrap_or(3) as u32;
    let z = tz(zone)?;
    let scale = per_second(*unit);
    let mut out = Vec::with_capacity(a[0].len());
    for text in texts(&a[0])? {
        let Some(text) = text else {
            out.push(None);
            continue;
        };
        let Some(written) = split(&text) else {
            return exec_err!("'{text}' is not a timestamp with time zone");
        };
        let named = written.zone;
        // A text naming no zone is in the session's, the column's here.
        let named = named.map_or(Ok(zone.to_string()), canonical_zone)?;
        if named != zone.as_ref() {
            return exec_err!(
                "'{text}' names the zone {named}, but this column's values are in {zone}: \
                 Strata holds one zone per column (Trino one per value), so the texts of a \
                 column cast to TIMESTAMP WITH TIME ZONE must name one zone, or none for the \
                 session's"
            );
        }
        let at = written
            .rounded(digits)
            .and_then(|w| instant_of(&z, w))
            .map(|t| t.and_utc());
        // Trino packs a zoned instant's milliseconds in 52 bits (about
        // 71,000 years either side of 1970) and refuses the rest.
        let at = at.filter(|t| t.timestamp_millis().unsigned_abs() < 1 << 51);
        let value = at.and_then(|t| {
            t.timestamp()
                .checked_mul(scale)?
                .checked_add(i64::from(t.timestamp_subsec_nanos()) / (1_000_000_000 / scale))
        });
        match value {
            Some(v) => out.push(Some(v)),
            None => {
                return exec_err!(
                    "'{text}' is out of the range of TIMESTAMP({digits}) WITH TIME ZONE"
                );
            }
        }
    }
    let values: ArrayRef = Arc::new(PrimitiveArray::<Int64Type>::from(out));
    Ok(cast(&values, ret)?)
}

/// Each value's zone offset as Trino's `timezone_hour` or `timezone_minute`
/// gives it (`-08:35` is hour -8, minute -35).
pub(super) fn zone_fields(a: &ArrayRef, minutes: bool) -> Result<Vec<Option<i64>>> {
    if !matches!(a.data_type(), DataType::Timestamp(_, Some(_))) {
        return plan_err!("timezone_hour and timezone_minute take a TIMESTAMP WITH TIME ZONE");
    }
    Ok(offsets(a)?
        .into_iter()
        .map(|o| {
            let o = o? / 60;
            Some(if minutes { o % 60 } else { o / 60 })
        })
        .collect())
}

/// Each value's zone offset from UTC, in seconds.
pub(super) fn offsets(a: &ArrayRef) -> Result<Vec<Option<i64>>> {
    let DataType::Timestamp(unit, Some(zone)) = a.data_type() else {
        return Ok(vec![Some(0); a.len()]);
    };
    let (unit, z) = (*unit, tz(zone)?);
    let values = cast(a, &DataType::Int64)?;
    Ok(values
        .as_primitive::<Int64Type>()
        .iter()
        .map(|v| offset_at(&z, v?, unit))
        .collect())
}

/// A zone's offset at an instant as ISO 8601 writes it (`+05:45`, `Z`).
pub(super) fn iso_offsets(a: &ArrayRef) -> Result<Vec<Option<String>>> {
    let DataType::Timestamp(_, Some(zone)) = a.data_type() else {
        return Ok(vec![None; a.len()]);
    };
    Ok(offsets(a)?
        .into_iter()
        .map(|o| {
            let o = o?;
            Some(if zone.as_ref() == "UTC" {
                "Z".to_string()
            } else {
                let (sign, o) = if o < 0 { ('-', -o) } else { ('+', o) };
                format!("{sign}{:02}:{:02}", o / 3600, o / 60 % 60)
            })
        })
        .collect())
}

/// `at_timezone(t, zone)` and `with_timezone(t, zone)`: the zone is the
/// result type's, so it must be a constant.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(super) struct ZoneChange {
    name: &'static str,
    signature: Signature,
}

impl ZoneChange {
    /// `at_timezone`: the same instant in another zone.
    pub(super) fn at() -> ScalarUDF {
        ScalarUDF::from(ZoneChange {
            name: "at_timezone",
            signature: Signature::any(2, Volatility::Immutable),
        })
    }
    /// `with_timezone`: a zoneless timestamp's wall-clock time in a zone.
    pub(super) fn with() -> ScalarUDF {
        ScalarUDF::from(ZoneChange {
            name: "with_timezone",
            signature: Signature::any(2, Volatility::Immutable),
        })
    }
}

impl ScalarUDFImpl for ZoneChange {
    fn name(&self) -> &str {
        self.name
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        plan_err!("{} is typed by its arguments", self.name)
    }
    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let zone = match args.scalar_arguments.get(1) {
            Some(Some(ScalarValue::Utf8(Some(z)) | ScalarValue::Utf8View(Some(z))))
            | Some(Some(ScalarValue::LargeUtf8(Some(z)))) => canonical_zone(z)?,
            _ => {
                return plan_err!(
                    "{}: the zone must be a constant text (Strata keeps one zone per column)",
                    self.name
                );
            }
        };
        let unit = match (self.name, args.arg_fields[0].data_type()) {
            ("at_timezone", DataType::Timestamp(u, Some(_))) => *u,
            ("with_timezone", DataType::Timestamp(u, None)) => *u,
            ("with_timezone", DataType::Date32 | DataType::Date64) => TimeUnit::Microsecond,
            (_, t) => {
                return plan_err!(
                    "{} does not take {t}: at_timezone takes a TIMESTAMP WITH TIME ZONE, \
                     with_timezone a TIMESTAMP",
                    self.name
                );
            }
        };
        Ok(Arc::new(Field::new(
            self.name,
            DataType::Timestamp(unit, Some(zone.into())),
            true,
        )))
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let DataType::Timestamp(unit, Some(zone)) = args.return_field.data_type().clone() else {
            return exec_err!("{} returns a zoned timestamp", self.name);
        };
        let (a, scalar) = arrays(&args)?;
        let changed = if self.name == "at_timezone" {
            cast(&a[0], &DataType::Timestamp(unit, Some(zone)))?
        } else {
            let wall = cast(&a[0], &DataType::Timestamp(unit, None))?;
            in_zone(&wall, &zone)?
        };
        output(changed, scalar)
    }
}

/// `timezone(x)`: the zone of a TIMESTAMP WITH TIME ZONE (a region, `UTC`
/// or an offset `+01:00`) or the offset of a TIME WITH TIME ZONE (`+09:00`).
pub(super) fn timezone(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let DataType::Timestamp(_, Some(z)) = a[0].data_type() else {
        return exec_err!(
            "timezone takes a TIMESTAMP WITH TIME ZONE or a TIME WITH TIME ZONE, not {}",
            a[0].data_type()
        );
    };
    let zone = if is_time_zoned(a[0].data_type()) {
        offset_text(z)
    } else {
        z.to_string()
    };
    let out: datafusion::arrow::array::StringArray = (0..a[0].len())
        .map(|i| a[0].is_valid(i).then_some(zone.as_str()))
        .collect();
    Ok(Arc::new(out))
}

/// A zoned timestamp array as text: its wall-clock time as `format`
/// writes zoneless ones, then its zone (`2020-05-01 12:34:56.1 Asia/Kathmandu`).
pub fn display(a: &ArrayRef, format: &str) -> Result<ArrayRef> {
    let DataType::Timestamp(_, Some(zone)) = a.data_type() else {
        return Ok(a.clone());
    };
    // A TIME WITH TIME ZONE: the time of day, then the offset (`12:34:56+08:35`).
    let (format, zone) = if is_time_zoned(a.data_type()) {
        (
            format.rsplit_once(' ').map_or(format, |(_, time)| time),
            offset_text(zone),
        )
    } else {
        (format, format!(" {zone}"))
    };
    let wall = local(a)?;
    let options = datafusion::arrow::util::display::FormatOptions::default()
        .with_timestamp_format(Some(format));
    let f = datafusion::arrow::util::display::ArrayFormatter::try_new(wall.as_ref(), &options)?;
    let mut out = StringBuilder::new();
    for i in 0..wall.len() {
        if wall.is_null(i) {
            out.append_null();
        } else {
            out.append_value(format!("{}{zone}", f.value(i)));
        }
    }
    Ok(Arc::new(out.finish()))
}

/// A TIME WITH TIME ZONE column as its text (`12:34:56+08:35`), for the
/// writers that would print its epoch day; any other column as it is.
pub fn time_zoned_as_text(a: &ArrayRef) -> Result<ArrayRef> {
    if is_time_zoned(a.data_type()) {
        display(a, "%H:%M:%S%.f")
    } else {
        Ok(a.clone())
    }
}

/// A typed NULL of `t`, the second argument of [`zoned_text`].
pub(super) fn typed_null(t: &DataType) -> ScalarValue {
    ScalarValue::try_from(t).unwrap_or(ScalarValue::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wall(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f").unwrap()
    }

    #[test]
    fn zones_are_named_as_trino_names_them() {
        assert_eq!(canonical_zone("utc").unwrap(), "UTC");
        assert_eq!(canonical_zone("+00:00").unwrap(), "UTC");
        assert_eq!(canonical_zone("Z").unwrap(), "UTC");
        assert_eq!(canonical_zone("+0545").unwrap(), "+05:45");
        assert_eq!(canonical_zone("-8").unwrap(), "-08:00");
        assert_eq!(canonical_zone("asia/kathmandu").unwrap(), "Asia/Kathmandu");
        assert!(canonical_zone("+15:00").is_err());
        assert!(canonical_zone("Mars/Olympus").is_err());
    }

    #[test]
    fn texts_round_half_up_from_twelve_digits_and_carry() {
        let w = split("2020-05-01 12:34:56.555555555555 Asia/Kathmandu").unwrap();
        assert_eq!(w.zone, Some("Asia/Kathmandu"));
        assert_eq!(w.rounded(5), Some(wall("2020-05-01 12:34:56.55556")));
        assert_eq!(w.rounded(9), Some(wall("2020-05-01 12:34:56.555555556")));
        let w = split("2020-12-31 23:59:59.9999").unwrap();
        assert_eq!(w.zone, None);
        assert_eq!(w.rounded(3), Some(wall("2021-01-01 00:00:00")));
        let w = split("-12001-05-01 12:34 +07:09").unwrap();
        assert_eq!(w.at.year(), -12001);
        assert!(split("2020-13-01 00:00:00 UTC").is_none());
        assert!(split("20-05-01").is_none());
    }

    #[test]
    fn a_regions_offset_at_an_instant_is_that_dates() {
        // 2020-01-01 and 2020-07-01, 12:00 UTC.
        let (winter, summer) = (1_577_880_000, 1_593_604_800);
        let la = |t| time_zone_at("America/Los_Angeles", t, TimeUnit::Second);
        assert_eq!(la(winter), Some(("-0800".into(), winter)));
        assert_eq!(la(summer), Some(("-0700".into(), summer)));
        // 2020-03-08 03:23:45 PDT (10:23:45 UTC): its wall time as UTC is
        // the evening before, still PST, and 03:23:45 PST is an hour later.
        assert_eq!(
            la(1_583_663_025),
            Some(("-0800".into(), 1_583_663_025 + 3600))
        );
        let kathmandu = time_zone_at("Asia/Kathmandu", summer * 1000, TimeUnit::Millisecond);
        assert_eq!(kathmandu, Some(("+0545".into(), summer * 1000)));
    }

    #[test]
    fn picosecond_literals_round_to_their_cast() {
        let r = |t: &str, d: u32| round_picoseconds(t, d);
        assert_eq!(
            r("2020-05-01 12:34:56.123456789012", 9).as_deref(),
            Some("2020-05-01 12:34:56.123456789")
        );
        assert_eq!(
            r("2020-05-01 12:34:56.1234567895", 9).as_deref(),
            Some("2020-05-01 12:34:56.123456790")
        );
        assert_eq!(
            r("2020-12-31 23:59:59.999999999999 Asia/Kathmandu", 3).as_deref(),
            Some("2021-01-01 00:00:00.000 Asia/Kathmandu")
        );
        assert_eq!(r("23:59:59.5555555555", 0).as_deref(), Some("00:00:00"));
        assert_eq!(
            r("12:34:56.111111111111+08:35", 1).as_deref(),
            Some("12:34:56.1+08:35")
        );
        // Nine digits or fewer, or not a time: left as written.
        assert_eq!(r("2020-05-01 12:34:56.123456789", 3), None);
        assert_eq!(r("1.5", 3), None);
    }

    #[test]
    fn wall_clocks_in_gaps_and_overlaps_read_as_trino_reads_them() {
        let la = tz("America/Los_Angeles").unwrap();
        // 02:30 does not exist on 2020-03-08: read with the offset before (PST).
        assert_eq!(
            instant_of(&la, wall("2020-03-08 02:30:00")),
            Some(wall("2020-03-08 10:30:00"))
        );
        // 01:30 happens twice on 2020-11-01: the earlier (PDT).
        assert_eq!(
            instant_of(&la, wall("2020-11-01 01:30:00")),
            Some(wall("2020-11-01 08:30:00"))
        );
    }

    #[test]
    fn a_time_with_time_zone_is_its_utc_time_of_day() {
        assert_eq!(time_zone_of("+08:35").as_deref(), Some("+0835"));
        assert_eq!(time_zone_of("UTC").as_deref(), Some("+0000"));
        assert_eq!(time_zone_of("Asia/Kathmandu"), None);
        let time_zoned = DataType::Timestamp(TimeUnit::Microsecond, Some("+0835".into()));
        assert!(is_time_zoned(&time_zoned));
        assert!(!is_time_zoned(&DataType::Timestamp(
            TimeUnit::Microsecond,
            Some("+08:35".into())
        )));
        let texts: ArrayRef = Arc::new(datafusion::arrow::array::StringArray::from(vec![
            Some("01:00:00+05:00"),
            Some("23:59:59.9999 +05:00"),
            None,
        ]));
        let target = DataType::Timestamp(TimeUnit::Microsecond, Some("+0500".into()));
        let digits: ArrayRef = Arc::new(datafusion::arrow::array::Int64Array::from(vec![3]));
        let typed = new_null(&target);
        let values = timetz_text(&[texts, typed, digits], &target).unwrap();
        let micros = integers(&cast(&values, &DataType::Int64).unwrap()).unwrap();
        // 01:00 at +05:00 is 20:00 UTC; 23:59:59.9999 rounds to midnight, 19:00 UTC.
        assert_eq!(
            micros,
            vec![Some(20 * 3600 * MICROS), Some(19 * 3600 * MICROS), None]
        );
        let shown = display(&values, "%Y-%m-%d %H:%M:%S%.f").unwrap();
        assert_eq!(shown.as_string::<i32>().value(0), "01:00:00+05:00");
    }

    fn new_null(t: &DataType) -> ArrayRef {
        datafusion::arrow::array::new_null_array(t, 1)
    }

    #[test]
    fn wall_clock_and_zone_round_trip() {
        let walls: ArrayRef = Arc::new(datafusion::arrow::array::TimestampMicrosecondArray::from(
            vec![
                Some(to_micros(wall("2020-05-01 12:34:56.123456"))),
                None,
                Some(to_micros(wall("1500-05-10 00:00:00"))),
            ],
        ));
        let zoned = in_zone(&walls, "Asia/Kathmandu").unwrap();
        let back = local(&zoned).unwrap();
        assert_eq!(back.as_ref(), walls.as_ref());
        let offsets = offsets(&zoned).unwrap();
        assert_eq!(offsets[0], Some(5 * 3600 + 45 * 60));
        assert_eq!(offsets[1], None);
    }
}
