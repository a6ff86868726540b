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

/// PostgreSQL's `hashtextextended(text, seed)` (its `hash_bytes_extended`,
/// lookup3 over the text's UTF-8 bytes, as a little-endian server computes
/// it), so that `strata verify` can hash rows in the lake exactly as the
/// source hashes them: both sides then compute the same fingerprint, each
/// in its own engine, and only a row per day crosses the network.
#[derive(Debug, PartialEq, Eq, Hash)]
struct PgHashText {
    signature: Signature,
}

/// PostgreSQL's `hash_bytes_extended` on a little-endian machine.
pub fn pg_hash_bytes_extended(k: &[u8], seed: u64) -> u64 {
    fn mix(a: &mut u32, b: &mut u32, c: &mut u32) {
        *a = a.wrapping_sub(*c);
        *a ^= c.rotate_left(4);
        *c = c.wrapping_add(*b);
        *b = b.wrapping_sub(*a);
        *b ^= a.rotate_left(6);
        *a = a.wrapping_add(*c);
        *c = c.wrapping_sub(*b);
        *c ^= b.rotate_left(8);
        *b = b.wrapping_add(*a);
        *a = a.wrapping_sub(*c);
        *a ^= c.rotate_left(16);
        *c = c.wrapping_add(*b);
        *b = b.wrapping_sub(*a);
        *b ^= a.rotate_left(19);
        *a = a.wrapping_add(*c);
        *c = c.wrapping_sub(*b);
        *c ^= b.rotate_left(4);
        *b = b.wrapping_add(*a);
    }
    fn last(a: &mut u32, b: &mut u32, c: &mut u32) {
        *c ^= *b;
        *c = c.wrapping_sub(b.rotate_left(14));
        *a ^= *c;
        *a = a.wrapping_sub(c.rotate_left(11));
        *b ^= *a;
        *b = b.wrapping_sub(a.rotate_left(25));
        *c ^= *b;
        *c = c.wrapping_sub(b.rotate_left(16));
        *a ^= *c;
        *a = a.wrapping_sub(c.rotate_left(4));
        *b ^= *a;
        *b = b.wrapping_sub(a.rotate_left(14));
        *c ^= *b;
        *c = c.wrapping_sub(b.rotate_left(24));
    }
    let word = |w: &[u8]| {
        let mut x = 0u32;
        for (i, byte) in w.iter().enumerate() {
            x |= u32::from(*byte) << (8 * i);
        }
        x
    };
    let init = 0x9e37_79b9u32
        .wrapping_add(k.len() as u32)
        .wrapping_add(3_923_095);
    let (mut a, mut b, mut c) = (init, init, init);
    if seed != 0 {
        a = a.wrapping_add((seed >> 32) as u32);
        b = b.wrapping_add(seed as u32);
        mix(&mut a, &mut b, &mut c);
    }
    let mut rest = k;
    while rest.len() >= 12 {
        a = a.wrapping_add(word(&rest[0..4]));
        b = b.wrapping_add(word(&rest[4..8]));
        c = c.wrapping_add(word(&rest[8..12]));
        mix(&mut a, &mut b, &mut c);
        rest = &rest[12..];
    }
    // The last 11 bytes: a and b take theirs as little-endian words; c's
    // lowest byte is left for the length, so its bytes start one higher.
    a = a.wrapping_add(word(&rest[..rest.len().min(4)]));
    if rest.len() > 4 {
        b = b.wrapping_add(word(&rest[4..rest.len().min(8)]));
    }
    if rest.len() > 8 {
        c = c.wrapping_add(word(&rest[8..]) << 8);
    }
    last(&mut a, &mut b, &mut c);
    (u64::from(b) << 32) | u64::from(c)
}

impl ScalarUDFImpl for PgHashText {
    fn name(&self) -> &str {
        "hashtextextended"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [text, seed] = args.args.as_slice() else {
            return exec_err!("hashtextextended expects a text and a seed");
        };
        let seed = match seed {
            ColumnarValue::Scalar(ScalarValue::Int64(Some(s))) => *s as u64,
            _ => return exec_err!("hashtextextended expects a constant seed"),
        };
        let rows = args.number_rows;
        let texts = text.to_array(rows)?;
        let texts = datafusion::arrow::compute::cast(&texts, &DataType::Utf8)?;
        let texts = texts.as_string::<i32>();
        let hashes: datafusion::arrow::array::Int64Array = texts
            .iter()
            .map(|t| t.map(|t| pg_hash_bytes_extended(t.as_bytes(), seed) as i64))
            .collect();
        Ok(ColumnarValue::Array(Arc::new(hashes)))
    }
}

/// Registers Strata's functions in a session.
pub fn register(ctx: &SessionContext) {
    ctx.register_udf(ScalarUDF::from(PgHashText {
        signature: Signature::one_of(
            [DataType::Utf8, DataType::Utf8View, DataType::LargeUtf8]
                .into_iter()
                .map(|t| datafusion::logical_expr::TypeSignature::Exact(vec![t, DataType::Int64]))
                .collect(),
            Volatility::Immutable,
        ),
    }));
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

    const PG_HASHES: &[(&str, i64, i64)] = &[
        ("", 0, -6939563903564495251),
        ("", 42, 6158832220375811857),
        ("a", 0, 3591986179850072241),
        ("a", 42, 6942402718208252407),
        ("ab", 0, 2833316173711343549),
        ("ab", 42, 1055583026507242713),
        ("abc", 0, -6747756470228489321),
        ("abc", 42, 4423357919252764502),
        ("abcd", 0, -1038429303365892052),
        ("abcd", 42, 8078444844130423812),
        ("abcde", 0, 3076356108696143428),
        ("abcde", 42, 3866110239706809221),
        ("abcdef", 0, 290958262752763840),
        ("abcdef", 42, 1563925892556055185),
        ("abcdefg", 0, -6158032784613548338),
        ("abcdefg", 42, -3496946539560983456),
        ("abcdefgh", 0, -8882191227074733005),
        ("abcdefgh", 42, -6100851256988995111),
        ("abcdefghi", 0, -3278210106038014113),
        ("abcdefghi", 42, -2685125201776515235),
        ("abcdefghij", 0, -3183301415634409076),
        ("abcdefghij", 42, 3893516793257000183),
        ("abcdefghijk", 0, 3112909444737856467),
        ("abcdefghijk", 42, 82226251194666265),
        ("abcdefghijkl", 0, -7556637188122330412),
        ("abcdefghijkl", 42, 6421059121120153082),
        ("abcdefghijklmnopqrstuvw", 0, -1198571854151947912),
        ("abcdefghijklmnopqrstuvw", 42, 8481204888633122338),
        ("São Paulo, 13/12/2023", 0, -6227752153752889401),
        ("São Paulo, 13/12/2023", 42, 9117413396242098641),
    ];

    #[test]
    fn text_hashes_as_postgresql_hashes_it() {
        // SELECT hashtextextended(t, s) on PostgreSQL 15, x86-64: every
        // length of the tail (0 to 11 bytes past a 12-byte block), and a seed.
        for (text, seed, expected) in PG_HASHES {
            assert_eq!(
                pg_hash_bytes_extended(text.as_bytes(), *seed as u64) as i64,
                *expected,
                "{text:?}, seed {seed}"
            );
        }
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
