//! SQL functions for the legacy data's quirks, registered in every session.
//!
//! The contract's date rules need a calendar check (`31/02/2023` matches a
//! spelling but is no day), and DataFusion's `to_date` fails the whole query
//! on such a value instead of yielding NULL. These functions apply the rules
//! row by row so bad rows can be routed to quarantine by the SQL.

use std::sync::Arc;

use chrono::{Datelike, NaiveDate};
use datafusion::arrow::array::{Array, ArrayRef, AsArray, Date32Builder, StringBuilder};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{ScalarValue, exec_err};
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::SessionContext;

/// Why a legacy `sale_date` is rejected (the quarantine's `reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateIssue {
    /// NULL or only blanks.
    Empty,
    /// None of the three spellings matches.
    UnrecognisedFormat,
    /// A spelling matches, but it names no calendar day (or time of day).
    Invalid,
}

impl DateIssue {
    /// The contract's spelling of the reason.
    pub fn reason(self) -> &'static str {
        match self {
            DateIssue::Empty => "empty_date",
            DateIssue::UnrecognisedFormat => "unrecognised_format",
            DateIssue::Invalid => "invalid_date",
        }
    }
}

/// Parses a legacy date: exactly `DD/MM/YYYY`, `YYYY-MM-DD` or
/// `YYYY-MM-DD HH24:MI:SS`, zero-padded; the time part is checked and dropped.
fn parse_legacy_date(s: Option<&str>) -> Result<NaiveDate, DateIssue> {
    let Some(s) = s else {
        return Err(DateIssue::Empty);
    };
    if s.trim().is_empty() {
        return Err(DateIssue::Empty);
    }
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| -> Option<u32> {
        let part = &b[r];
        part.iter()
            .all(u8::is_ascii_digit)
            .then(|| part.iter().fold(0, |n, d| n * 10 + u32::from(d - b'0')))
    };
    let shape = |seps: &[(usize, u8)]| seps.iter().all(|&(i, c)| b[i] == c);
    let (year, month, day, time) = match b.len() {
        10 if shape(&[(2, b'/'), (5, b'/')]) => (digits(6..10), digits(3..5), digits(0..2), None),
        10 if shape(&[(4, b'-'), (7, b'-')]) => (digits(0..4), digits(5..7), digits(8..10), None),
        19 if shape(&[(4, b'-'), (7, b'-'), (10, b' '), (13, b':'), (16, b':')]) => (
            digits(0..4),
            digits(5..7),
            digits(8..10),
            Some((digits(11..13), digits(14..16), digits(17..19))),
        ),
        _ => return Err(DateIssue::UnrecognisedFormat),
    };
    let (Some(year), Some(month), Some(day)) = (year, month, day) else {
        return Err(DateIssue::UnrecognisedFormat);
    };
    if let Some((h, m, sec)) = time {
        let (Some(h), Some(m), Some(sec)) = (h, m, sec) else {
            return Err(DateIssue::UnrecognisedFormat);
        };
        if h > 23 || m > 59 || sec > 59 {
            return Err(DateIssue::Invalid);
        }
    }
    if year == 0 {
        return Err(DateIssue::Invalid);
    }
    NaiveDate::from_ymd_opt(year as i32, month, day).ok_or(DateIssue::Invalid)
}

const UNIX_EPOCH_DAYS_FROM_CE: i32 = 719_163;

/// `legacy_date(text) -> DATE`: the parsed sale date, NULL when it is bad.
#[derive(Debug, PartialEq, Eq, Hash)]
struct LegacyDate {
    signature: Signature,
}

/// `legacy_date_issue(text) -> VARCHAR`: why a sale date is bad, NULL when good.
#[derive(Debug, PartialEq, Eq, Hash)]
struct LegacyDateIssue {
    signature: Signature,
}

fn text_signature() -> Signature {
    Signature::exact(vec![DataType::Utf8], Volatility::Immutable)
}

fn map_text<B>(
    args: &ScalarFunctionArgs,
    mut builder: B,
    mut push: impl FnMut(&mut B, Option<&str>),
    finish: impl FnOnce(B) -> ArrayRef,
) -> Result<ColumnarValue> {
    let [arg] = args.args.as_slice() else {
        return exec_err!("expects one argument");
    };
    match arg {
        ColumnarValue::Array(a) => {
            let strings = a.as_string::<i32>();
            for i in 0..strings.len() {
                push(&mut builder, strings.is_valid(i).then(|| strings.value(i)));
            }
            Ok(ColumnarValue::Array(finish(builder)))
        }
        ColumnarValue::Scalar(ScalarValue::Utf8(v)) => {
            push(&mut builder, v.as_deref());
            let array = finish(builder);
            Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(
                &array, 0,
            )?))
        }
        other => exec_err!("expects text, got {}", other.data_type()),
    }
}

impl ScalarUDFImpl for LegacyDate {
    fn name(&self) -> &str {
        "legacy_date"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Date32)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        map_text(
            &args,
            Date32Builder::with_capacity(rows),
            |b, s| match parse_legacy_date(s) {
                Ok(d) => b.append_value(d.num_days_from_ce() - UNIX_EPOCH_DAYS_FROM_CE),
                Err(_) => b.append_null(),
            },
            |mut b| Arc::new(b.finish()),
        )
    }
}

impl ScalarUDFImpl for LegacyDateIssue {
    fn name(&self) -> &str {
        "legacy_date_issue"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        map_text(
            &args,
            StringBuilder::with_capacity(rows, rows * 8),
            |b, s| match parse_legacy_date(s) {
                Ok(_) => b.append_null(),
                Err(issue) => b.append_value(issue.reason()),
            },
            |mut b| Arc::new(b.finish()),
        )
    }
}

/// Registers Strata's functions in a session.
pub fn register(ctx: &SessionContext) {
    ctx.register_udf(ScalarUDF::from(LegacyDate {
        signature: text_signature(),
    }));
    ctx.register_udf(ScalarUDF::from(LegacyDateIssue {
        signature: text_signature(),
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> Result<NaiveDate, DateIssue> {
        Ok(NaiveDate::from_ymd_opt(y, m, day).unwrap())
    }

    #[test]
    fn the_three_spellings_parse() {
        assert_eq!(parse_legacy_date(Some("15/01/2024")), d(2024, 1, 15));
        assert_eq!(parse_legacy_date(Some("2024-01-15")), d(2024, 1, 15));
        assert_eq!(
            parse_legacy_date(Some("2024-01-15 23:59:59")),
            d(2024, 1, 15)
        );
        assert_eq!(parse_legacy_date(Some("29/02/2024")), d(2024, 2, 29));
    }

    #[test]
    fn reasons_follow_the_contract() {
        use DateIssue::*;
        for (input, issue) in [
            (None, Empty),
            (Some(""), Empty),
            (Some("   "), Empty),
            (Some("N/A"), UnrecognisedFormat),
            (Some("1/2/2024"), UnrecognisedFormat),
            (Some("2024/01/15"), UnrecognisedFormat),
            (Some(" 2024-01-15"), UnrecognisedFormat),
            (Some("2024-01-15T10:00:00"), UnrecognisedFormat),
            (Some("ab/cd/efgh"), UnrecognisedFormat),
            (Some("00/00/0000"), Invalid),
            (Some("31/02/2023"), Invalid),
            (Some("29/02/2023"), Invalid),
            (Some("2023-13-01"), Invalid),
            (Some("2023-01-01 24:00:00"), Invalid),
        ] {
            assert_eq!(parse_legacy_date(input), Err(issue), "{input:?}");
        }
    }
}
