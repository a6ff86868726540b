//! Trino's clock functions, each of the statement's start (the session's,
//! when `session_start_time` fixes it) in the session's zone, rounded to
//! the precision asked (3 by default):
//!
//! - `current_timestamp(p)` and `now()`: TIMESTAMP(p) WITH TIME ZONE, in the zone;
//! - `localtimestamp(p)`: TIMESTAMP(p), the zone's wall clock;
//! - `current_time(p)`: TIME(p) WITH TIME ZONE, at the zone's offset then;
//! - `localtime(p)`: TIME(p), the wall clock's time of day.
//!
//! DataFusion folds each to a constant when it simplifies the plan, as it
//! does `now()`. A type names its zone when the statement is planned, so a
//! function's result type is fixed by [`ScalarUDFImpl::with_updated_config`]
//! from the session's settings; the offset of `current_time` is the one in
//! force at the fixed start, or else when the statement is planned.

use chrono::{DateTime, Offset, TimeZone, Utc};
use datafusion::arrow::array::timezone::Tz;
use datafusion::arrow::datatypes::{Field, FieldRef};
use datafusion::common::config::ConfigOptions;
use datafusion::logical_expr::simplify::{ExprSimplifyResult, SimplifyContext};
use datafusion::logical_expr::{Expr, ReturnFieldArgs, ScalarUDF, TypeSignature};

use super::*;

/// Which of the four.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    CurrentTimestamp,
    LocalTimestamp,
    CurrentTime,
    LocalTime,
}

/// One of Trino's clock functions, for the session's zone and start.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Clock {
    kind: Kind,
    name: &'static str,
    /// The session's zone, as Trino names it.
    zone: String,
    /// The session's fixed start, as nanoseconds since the epoch.
    fixed: Option<i64>,
    /// `now` for `current_timestamp` (Trino's synonym), which replaces
    /// DataFusion's: that one would take the name `current_timestamp` back
    /// whenever a setting changes.
    aliases: Vec<String>,
    signature: Signature,
}

/// The four, for a session of default settings (each is fixed to the
/// session's settings when a statement is planned).
pub(super) fn functions() -> Vec<ScalarUDF> {
    [
        (Kind::CurrentTimestamp, "current_timestamp"),
        (Kind::LocalTimestamp, "localtimestamp"),
        (Kind::CurrentTime, "current_time"),
        (Kind::LocalTime, "localtime"),
    ]
    .into_iter()
    .map(|(kind, name)| ScalarUDF::from(Clock::new(kind, name, &ConfigOptions::default())))
    .collect()
}

impl Clock {
    fn new(kind: Kind, name: &'static str, config: &ConfigOptions) -> Self {
        let zone = config
            .execution
            .time_zone
            .as_deref()
            .and_then(|z| super::zoned::canonical_zone(z).ok())
            .unwrap_or_else(|| super::zoned::SESSION_ZONE.into());
        let fixed = config
            .extensions
            .get::<crate::engine::clock::SessionOptions>()
            .and_then(|o| o.session_start_time.instant())
            .and_then(|t| t.timestamp_nanos_opt());
        let aliases = match kind {
            Kind::CurrentTimestamp => vec!["now".to_string()],
            _ => vec![],
        };
        Self {
            kind,
            name,
            zone,
            fixed,
            aliases,
            signature: Signature::one_of(
                vec![
                    TypeSignature::Nullary,
                    TypeSignature::Exact(vec![DataType::Int64]),
                ],
                Volatility::Stable,
            ),
        }
    }

    fn tz(&self) -> Result<Tz> {
        Ok(self.zone.parse::<Tz>()?)
    }

    /// The zone's offset east of UTC, in seconds, at an instant.
    fn offset_at(&self, nanos: i64) -> Result<i64> {
        let at = DateTime::<Utc>::from_timestamp_nanos(nanos);
        Ok(i64::from(
            self.tz()?
                .offset_from_utc_datetime(&at.naive_utc())
                .fix()
                .local_minus_utc(),
        ))
    }

    /// `current_time`'s zone: the session's offset, `+hhmm`.
    fn time_zone(&self) -> Result<String> {
        let at = self
            .fixed
            .or_else(|| Utc::now().timestamp_nanos_opt())
            .unwrap_or(0);
        let seconds = self.offset_at(at)?;
        let sign = if seconds < 0 { '-' } else { '+' };
        let minutes = seconds.abs() / 60;
        Ok(format!("{sign}{:02}{:02}", minutes / 60, minutes % 60))
    }

    fn result_type(&self, digits: i64) -> Result<DataType> {
        let unit = if digits > 6 {
            TimeUnit::Nanosecond
        } else {
            TimeUnit::Microsecond
        };
        Ok(match self.kind {
            Kind::CurrentTimestamp => DataType::Timestamp(unit, Some(self.zone.as_str().into())),
            Kind::LocalTimestamp => DataType::Timestamp(unit, None),
            Kind::CurrentTime => DataType::Timestamp(unit, Some(self.time_zone()?.into())),
            Kind::LocalTime => DataType::Time64(unit),
        })
    }
}

/// The digits asked for: Trino's precision, 3 unless given.
fn digits_of(arg: Option<&ScalarValue>) -> Result<i64> {
    match arg {
        None => Ok(3),
        Some(ScalarValue::Int64(Some(p))) if (0..=9).contains(p) => Ok(*p),
        Some(ScalarValue::Int64(Some(p))) if (10..=12).contains(p) => plan_err!(
            "a precision of {p}: Strata's times hold at most nanoseconds (9 digits; \
             Trino's up to picoseconds)"
        ),
        Some(other) => plan_err!("the precision must be a constant from 0 to 12, not {other}"),
    }
}

/// `nanos` rounded to `digits` fraction digits, half up, as Trino rounds.
fn rounded(nanos: i64, digits: i64) -> i64 {
    let step = 10i64.pow((9 - digits) as u32);
    (nanos + step / 2).div_euclid(step) * step
}

impl ScalarUDFImpl for Clock {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn aliases(&self) -> &[String] {
        &self.aliases
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        self.result_type(3)
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let digits = match args.arg_fields.len() {
            0 => 3,
            _ => digits_of(args.scalar_arguments.first().copied().flatten())?,
        };
        Ok(Arc::new(
            Field::new(self.name, self.result_type(digits)?, false)
                .with_metadata([(super::types::PRECISION.to_string(), digits.to_string())].into()),
        ))
    }

    fn with_updated_config(&self, config: &ConfigOptions) -> Option<ScalarUDF> {
        Some(ScalarUDF::from(Self::new(self.kind, self.name, config)))
    }

    fn simplify(&self, args: Vec<Expr>, info: &SimplifyContext) -> Result<ExprSimplifyResult> {
        let Some(start) = info.query_execution_start_time() else {
            return Ok(ExprSimplifyResult::Original(args));
        };
        let digits = match args.first() {
            None => 3,
            Some(Expr::Literal(v, _)) => digits_of(Some(v))?,
            Some(other) => {
                return plan_err!(
                    "{}: the precision must be a constant, not {other}",
                    self.name
                );
            }
        };
        let Some(nanos) = start.timestamp_nanos_opt() else {
            return exec_err!(
                "{}: the statement's start {start} is out of range",
                self.name
            );
        };
        let local = nanos + self.offset_at(nanos)? * 1_000_000_000;
        const DAY: i64 = 86_400 * 1_000_000_000;
        let value = match self.kind {
            Kind::CurrentTimestamp => rounded(nanos, digits),
            Kind::LocalTimestamp => rounded(local, digits),
            // A TIME WITH TIME ZONE is its UTC time of day.
            Kind::CurrentTime => rounded(nanos, digits).rem_euclid(DAY),
            Kind::LocalTime => rounded(local, digits).rem_euclid(DAY),
        };
        let to = self.result_type(digits)?;
        // In nanoseconds of the result's own zone, so the cast changes
        // only the unit (a zoneless value cast to a zone would move).
        let nanosecond = match &to {
            DataType::Timestamp(_, zone) => {
                ScalarValue::TimestampNanosecond(Some(value), zone.clone())
            }
            _ => ScalarValue::Time64Nanosecond(Some(value)),
        };
        Ok(ExprSimplifyResult::Simplified(Expr::Literal(
            nanosecond.cast_to(&to)?,
            None,
        )))
    }

    fn invoke_with_args(&self, _: ScalarFunctionArgs) -> Result<ColumnarValue> {
        exec_err!("{} is folded to a constant before it runs", self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_is_half_up_to_the_digits_asked() {
        assert_eq!(rounded(1_111_111_111, 3), 1_111_000_000);
        assert_eq!(rounded(1_555_555_555, 3), 1_556_000_000);
        assert_eq!(rounded(1_555_555_555, 0), 2_000_000_000);
        assert_eq!(rounded(1_555_555_555, 9), 1_555_555_555);
    }
}
