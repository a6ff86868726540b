//! Joda-Time patterns, as Trino's `format_datetime` and `parse_datetime`
//! read them (`yyyy-MM-dd HH:mm:ss.SSS`, `EEEE`, `'literal'`).
//!
//! Formatting is done here field by field, because Joda pads every numeric
//! field to the number of letters (`DDD`, `SSSS`), which chrono's codes
//! cannot say. Parsing is handed to chrono's parser after translation: its
//! numeric fields accept fewer digits, as Joda's do.

use chrono::{Datelike, NaiveDateTime, Timelike};

/// One piece of a pattern: text to copy, or a field and its letter count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    /// Printed as is (quoted text, punctuation, spaces).
    Literal(String),
    /// A pattern letter repeated `count` times.
    Field(char, usize),
}

/// Splits a pattern into tokens; letters Joda does not know are an error,
/// with Joda's own wording.
pub fn tokens(pattern: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let literal = |out: &mut Vec<Token>, s: &str| match out.last_mut() {
        Some(Token::Literal(l)) => l.push_str(s),
        _ => out.push(Token::Literal(s.to_string())),
    };
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            // '' is a quote; 'text' is text, '' inside it a quote.
            if chars.get(i + 1) == Some(&'\'') {
                literal(&mut out, "'");
                i += 2;
                continue;
            }
            let mut text = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err(format!("Unterminated quote in pattern: {pattern}")),
                    Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                        text.push('\'');
                        i += 2;
                    }
                    Some('\'') => {
                        i += 1;
                        break;
                    }
                    Some(&ch) => {
                        text.push(ch);
                        i += 1;
                    }
                }
            }
            literal(&mut out, &text);
        } else if c.is_ascii_alphabetic() {
            if !"GCYyxwedDEMHhKkmsSaZz".contains(c) {
                return Err(format!("Illegal pattern component: {c}"));
            }
            let start = i;
            while chars.get(i) == Some(&c) {
                i += 1;
            }
            out.push(Token::Field(c, i - start));
        } else {
            literal(&mut out, &c.to_string());
            i += 1;
        }
    }
    Ok(out)
}

fn padded(n: i64, width: usize) -> String {
    if n < 0 {
        format!("-{:0width$}", -n)
    } else {
        format!("{n:0width$}")
    }
}

/// A zone as Joda's zone fields print it: its name and its offset from UTC
/// at the instant formatted, in seconds.
#[derive(Debug, Clone, Copy)]
pub struct Zone<'a> {
    /// `UTC`, `+05:45`, `Asia/Kathmandu`.
    pub name: &'a str,
    /// Seconds east of UTC.
    pub offset: i64,
}

impl Zone<'_> {
    /// The session's zone of zoneless timestamps: UTC, as Athena's.
    pub const UTC: Zone<'static> = Zone {
        name: "UTC",
        offset: 0,
    };

    fn offset_text(&self, colon: bool) -> String {
        let (sign, o) = if self.offset < 0 {
            ('-', -self.offset)
        } else {
            ('+', self.offset)
        };
        let sep = if colon { ":" } else { "" };
        format!("{sign}{:02}{sep}{:02}", o / 3600, o / 60 % 60)
    }
}

/// Formats a timestamp's wall-clock time in `zone` as Joda would. Joda's
/// short zone names (`z` of a region: Java's `NPT`, where the zone
/// database says `+0545`) are not Strata's to guess, so they fail.
pub fn format(d: NaiveDateTime, tokens: &[Token], zone: Zone) -> Result<String, String> {
    let mut out = String::new();
    for t in tokens {
        match t {
            Token::Literal(s) => out.push_str(s),
            Token::Field(c, n) => {
                let n = *n;
                let year = |y: i32| {
                    if n == 2 {
                        padded(i64::from(y.rem_euclid(100)), 2)
                    } else {
                        padded(i64::from(y), n)
                    }
                };
                let text = match c {
                    'G' => if d.year() > 0 { "AD" } else { "BC" }.to_string(),
                    'C' => padded(i64::from(d.year() / 100), n),
                    'Y' | 'y' => year(d.year()),
                    'x' => year(d.iso_week().year()),
                    'w' => padded(i64::from(d.iso_week().week()), n),
                    'e' => padded(i64::from(d.weekday().number_from_monday()), n),
                    'E' if n >= 4 => d.format("%A").to_string(),
                    'E' => d.format("%a").to_string(),
                    'D' => padded(i64::from(d.ordinal()), n),
                    'M' if n >= 4 => d.format("%B").to_string(),
                    'M' if n == 3 => d.format("%b").to_string(),
                    'M' => padded(i64::from(d.month()), n),
                    'd' => padded(i64::from(d.day()), n),
                    'a' => d.format("%p").to_string(),
                    'K' => padded(i64::from(d.hour() % 12), n),
                    'h' => padded(i64::from(d.hour12().1), n),
                    'H' => padded(i64::from(d.hour()), n),
                    'k' => padded(i64::from(if d.hour() == 0 { 24 } else { d.hour() }), n),
                    'm' => padded(i64::from(d.minute()), n),
                    's' => padded(i64::from(d.second()), n),
                    'S' => {
                        // A fraction: its first n digits, zeros past nanoseconds.
                        let mut f = format!("{:09}", d.nanosecond() % 1_000_000_000);
                        while f.len() < n {
                            f.push('0');
                        }
                        f[..n].to_string()
                    }
                    'Z' if n == 1 => zone.offset_text(false),
                    'Z' if n == 2 => zone.offset_text(true),
                    'Z' => zone.name.to_string(),
                    'z' if zone.name == "UTC" || zone.name.starts_with(['+', '-']) => {
                        zone.name.to_string()
                    }
                    'z' => {
                        return Err(format!(
                            "the short name of {} (z) is not supported; ZZZ gives the zone's id",
                            zone.name
                        ));
                    }
                    _ => unreachable!("tokens() admits only known letters"),
                };
                out.push_str(&text);
            }
        }
    }
    Ok(out)
}

/// The chrono parsing format for a pattern.
fn chrono_parse_format(tokens: &[Token]) -> Result<String, String> {
    let mut out = String::new();
    for t in tokens {
        match t {
            Token::Literal(s) => out.push_str(&s.replace('%', "%%")),
            Token::Field(c, n) => out.push_str(match (c, *n) {
                ('Y' | 'y', 2) => "%y",
                ('Y' | 'y', _) => "%Y",
                ('x', 2) => "%g",
                ('x', _) => "%G",
                ('w', _) => "%V",
                ('e', _) => "%u",
                ('E', n) if n >= 4 => "%A",
                ('E', _) => "%a",
                ('D', _) => "%j",
                ('M', n) if n >= 4 => "%B",
                ('M', 3) => "%b",
                ('M', _) => "%m",
                ('d', _) => "%d",
                ('a', _) => "%p",
                ('h' | 'K', _) => "%I",
                ('H' | 'k', _) => "%H",
                ('m', _) => "%M",
                ('s', _) => "%S",
                ('S', n) if n <= 3 => "%3f",
                ('S', n) if n <= 6 => "%6f",
                ('S', _) => "%9f",
                ('Z', 1) => "%z",
                ('Z', 2) => "%:z",
                (c, _) => {
                    return Err(format!(
                        "parse_datetime: pattern letter {c} cannot be parsed (format only)"
                    ));
                }
            }),
        }
    }
    Ok(out)
}

/// Fills the fields a pattern left out with Joda's (and Trino's
/// `date_parse`'s) defaults: 1970, January, the 1st, midnight.
pub fn default_missing_fields(p: &mut chrono::format::Parsed) {
    let has_date_in_year = p.month().is_some() || p.ordinal().is_some() || p.isoweek().is_some();
    if p.year().is_none()
        && p.year_div_100().is_none()
        && p.year_mod_100().is_none()
        && p.isoyear().is_none()
    {
        let _ = p.set_year(1970);
    }
    if !has_date_in_year {
        let _ = p.set_month(1);
    }
    if p.day().is_none() && p.ordinal().is_none() && p.isoweek().is_none() {
        let _ = p.set_day(1);
    }
    if p.hour_div_12().is_none() {
        let _ = p.set_hour(0);
    }
    if p.minute().is_none() {
        let _ = p.set_minute(0);
    }
    if p.second().is_none() {
        let _ = p.set_second(0);
    }
}

/// Parses `s` with a pattern, as microseconds since the epoch in UTC. Fields
/// the pattern leaves out take Joda's defaults: 1970, January, the 1st,
/// midnight.
pub fn parse(s: &str, tokens: &[Token]) -> Result<Option<i64>, String> {
    let fmt = chrono_parse_format(tokens)?;
    let mut p = chrono::format::Parsed::new();
    if chrono::format::parse(&mut p, s, chrono::format::StrftimeItems::new(&fmt)).is_err() {
        return Ok(None);
    }
    default_missing_fields(&mut p);
    let micros = if p.offset().is_some() {
        p.to_datetime().map(|d| d.timestamp_micros())
    } else {
        p.to_naive_datetime_with_offset(0)
            .map(|d| d.and_utc().timestamp_micros())
    };
    Ok(micros.ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(d: &str, pattern: &str) -> String {
        let d = NaiveDateTime::parse_from_str(d, "%Y-%m-%d %H:%M:%S%.f").unwrap();
        format(d, &tokens(pattern).unwrap(), Zone::UTC).unwrap()
    }

    #[test]
    fn pads_each_field_to_its_letter_count() {
        assert_eq!(
            fmt("2024-02-05 07:08:09.123456", "yyyy-MM-dd HH:mm:ss.SSS"),
            "2024-02-05 07:08:09.123"
        );
        assert_eq!(fmt("2024-02-05 07:08:09", "D DDD y yy"), "36 036 2024 24");
        assert_eq!(fmt("2024-02-05 00:08:09", "h K k a"), "12 0 24 AM");
        assert_eq!(
            fmt("2024-02-05 13:00:00", "EEE EEEE MMM MMMM"),
            "Mon Monday Feb February"
        );
        assert_eq!(
            fmt("2024-02-05 13:00:00", "'week' w 'of' xxxx, ''yy"),
            "week 6 of 2024, '24"
        );
    }

    #[test]
    fn unknown_letters_and_open_quotes_are_errors() {
        assert_eq!(
            tokens("yyyy-qq").unwrap_err(),
            "Illegal pattern component: q"
        );
        assert!(tokens("yyyy 'at").is_err());
    }

    #[test]
    fn parsing_defaults_missing_fields() {
        let p = |s: &str, f: &str| parse(s, &tokens(f).unwrap()).unwrap();
        let at = |s: &str| {
            NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S")
                .unwrap()
                .and_utc()
                .timestamp_micros()
        };
        assert_eq!(p("2024-02", "yyyy-MM"), Some(at("2024-02-01 00:00:00")));
        assert_eq!(
            p("2024/2/5 7:08", "yyyy/M/d H:mm"),
            Some(at("2024-02-05 07:08:00"))
        );
        assert_eq!(
            p("2024-02-05 09:00 +0200", "yyyy-MM-dd HH:mm Z"),
            Some(at("2024-02-05 07:00:00"))
        );
        assert_eq!(p("2024-02-30", "yyyy-MM-dd"), None);
    }
}
