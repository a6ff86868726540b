//! Trino's functions between numbers and their written form with a unit:
//! `format_number` (`12.3K`), `parse_data_size` (`'2.3MB'` to bytes) and
//! `human_readable_seconds` (`1 hour, 1 minute`).

use datafusion::arrow::array::Decimal128Array;

use super::*;

/// `format_number(x)`: the whole part of `x` in thousands (K), millions
/// (M), billions (B), trillions (T) or quadrillions (Q), with up to three
/// significant digits rounded half up.
pub(super) fn format_number(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    // Trino formats a double's whole part: (long) x, which saturates and
    // makes NaN 0, as Rust's `as` does.
    let wholes: Vec<Option<i64>> = if a[0].data_type().is_integer() {
        integers(&a[0])?
    } else {
        doubles(&a[0])?
            .into_iter()
            .map(|v| v.map(|v| v as i64))
            .collect()
    };
    let mut out = StringBuilder::new();
    for w in wholes {
        match w {
            Some(w) => out.append_value(units_of(w)),
            None => out.append_null(),
        }
    }
    Ok(Arc::new(out.finish()))
}

fn units_of(whole: i64) -> String {
    let mut value = whole as f64;
    let mut unit = "";
    for next in ["K", "M", "B", "T", "Q"] {
        if value.abs() >= 1000.0 {
            value /= 1000.0;
            unit = next;
        }
    }
    // Up to two decimals below 10 (every negative value included, as in
    // Trino), one below 100, none above.
    let decimals = if value < 10.0 {
        2
    } else if value < 100.0 {
        1
    } else {
        0
    };
    format!("{}{unit}", half_up(value, decimals))
}

/// `x` rounded half up to `decimals` places, without trailing zeros (Java's
/// `DecimalFormat("#.##")` with `HALF_UP`): on the double's exact decimal
/// expansion, so 1.005 (stored as 1.00499...) rounds down, as in Java.
fn half_up(x: f64, decimals: usize) -> String {
    // 1100 places hold the exact expansion of any finite double.
    let exact = format!("{:.1100}", x.abs());
    let (whole, fraction) = exact.split_once('.').unwrap_or((&exact, ""));
    let mut digits: Vec<u8> = whole
        .bytes()
        .chain(fraction.bytes().take(decimals))
        .collect();
    if fraction
        .as_bytes()
        .get(decimals)
        .is_some_and(|d| *d >= b'5')
    {
        let mut i = digits.len();
        loop {
            if i == 0 {
                digits.insert(0, b'1');
                break;
            }
            i -= 1;
            if digits[i] == b'9' {
                digits[i] = b'0';
            } else {
                digits[i] += 1;
                break;
            }
        }
    }
    let split = digits.len() - decimals;
    let mut text = String::from_utf8_lossy(&digits[..split]).into_owned();
    let kept = String::from_utf8_lossy(&digits[split..]);
    let kept = kept.trim_end_matches('0');
    if !kept.is_empty() {
        text.push('.');
        text.push_str(kept);
    }
    if x < 0.0 {
        text.insert(0, '-');
    }
    text
}

/// `parse_data_size(text)`: `'2.3MB'` as bytes, DECIMAL(38, 0), in powers
/// of 1024 (B, kB, MB, GB, TB, PB, EB, ZB, YB as written), the fraction of
/// a byte dropped.
pub(super) fn parse_data_size(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let mut out = Vec::with_capacity(a[0].len());
    for text in texts(&a[0])? {
        out.push(text.map(|t| bytes_of(&t)).transpose()?);
    }
    Ok(Arc::new(
        Decimal128Array::from(out).with_precision_and_scale(38, 0)?,
    ))
}

fn bytes_of(text: &str) -> Result<i128> {
    let invalid = || DataFusionError::Execution(format!("Invalid data size: '{text}'"));
    let number_len = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(number_len);
    let power = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"]
        .iter()
        .position(|u| *u == unit)
        .ok_or_else(invalid)? as u32
        * 10;
    // A number as Java's BigDecimal reads it: `1`, `1.`, `.5`, not `.`.
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty() || fraction.contains('.') {
        return Err(invalid());
    }
    let out_of_range = || DataFusionError::Execution(format!("Value out of range: '{text}'"));
    let whole: i128 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| out_of_range())?
    };
    let mut bytes = whole.checked_mul(1i128 << power).ok_or_else(out_of_range)?;
    // floor(0.fraction * 2^power), one bit at a time so that nothing
    // overflows; digits past the 36th cannot reach a whole byte.
    let fraction = &fraction[..fraction.len().min(36)];
    if !fraction.is_empty() {
        let scale = 10i128.pow(fraction.len() as u32);
        let mut rest: i128 = fraction.parse().map_err(|_| invalid())?;
        let mut part: i128 = 0;
        for _ in 0..power {
            rest *= 2;
            part *= 2;
            if rest >= scale {
                rest -= scale;
                part += 1;
            }
        }
        bytes = bytes.checked_add(part).ok_or_else(out_of_range)?;
    }
    if bytes >= 10i128.pow(38) {
        return Err(out_of_range());
    }
    Ok(bytes)
}

/// `human_readable_seconds(x)`: `x` seconds (rounded, sign dropped) in
/// weeks, days, hours, minutes and seconds, the zero ones left out.
pub(super) fn human_readable_seconds(a: &[ArrayRef], _: &DataType) -> Result<ArrayRef> {
    let mut out = StringBuilder::new();
    for x in doubles(&a[0])? {
        let Some(x) = x else {
            out.append_null();
            continue;
        };
        if !x.is_finite() {
            return exec_err!("Invalid argument found: {x}");
        }
        // Java's Math.round: half up.
        let mut seconds = (x.abs() + 0.5).floor() as u64;
        let mut parts = Vec::new();
        for (unit, size) in [
            ("week", 604_800),
            ("day", 86_400),
            ("hour", 3_600),
            ("minute", 60),
            ("second", 1),
        ] {
            let n = seconds / size;
            seconds %= size;
            if n > 0 {
                parts.push(format!("{n} {unit}{}", if n == 1 { "" } else { "s" }));
            }
        }
        if parts.is_empty() {
            out.append_value("0 seconds");
        } else {
            out.append_value(parts.join(", "));
        }
    }
    Ok(Arc::new(out.finish()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_in_units_as_trino_writes_them() {
        for (n, text) in [
            (0, "0"),
            (999, "999"),
            (12_345, "12.3K"),
            (12_399, "12.4K"),
            (123_456, "123K"),
            (999_999, "1000K"),
            (-999_999, "-1000K"),
            (-1_000, "-1K"),
            (i64::MAX, "9223Q"),
            (i64::MIN, "-9223.37Q"),
        ] {
            assert_eq!(units_of(n), text, "{n}");
        }
        assert_eq!(half_up(1.125, 2), "1.13");
        assert_eq!(half_up(1.005, 2), "1");
    }

    #[test]
    fn data_sizes_in_bytes() {
        for (text, bytes) in [
            ("1B", 1i128),
            ("1.9B", 1),
            ("2.3MB", 2_411_724),
            ("2.234kB", 2_287),
            ("8YB", 9_671_406_556_917_033_397_649_408),
        ] {
            assert_eq!(bytes_of(text).unwrap(), bytes, "{text}");
        }
        for bad in ["", "B", "1", "1 B", "1.2.3MB", "1mb", "-1B"] {
            assert!(bytes_of(bad).is_err(), "{bad}");
        }
        assert!(bytes_of("69175290276410818560000EB").is_err());
    }
}
