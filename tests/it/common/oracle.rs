//! An independent reading of the legacy CSV: the contract's rules restated
//! in plain Rust, so tests compare the lake with answers not computed by it.

#![allow(dead_code)]

use std::collections::HashSet;

use chrono::NaiveDate;

pub fn cents(s: &str) -> i64 {
    let (units, frac) = s.split_once('.').unwrap();
    units.parse::<i64>().unwrap() * 100 + frac.parse::<i64>().unwrap()
}

/// The contract's date rules, restated: exact zero-padded spellings only.
pub fn classify(date: &str) -> Result<NaiveDate, &'static str> {
    if date.trim().is_empty() {
        return Err("empty_date");
    }
    let padded = |s: &str, seps: &[(usize, char)]| {
        s.char_indices()
            .all(|(i, c)| seps.iter().any(|&(at, sep)| at == i && sep == c) || c.is_ascii_digit())
    };
    let format = match date.len() {
        10 if padded(date, &[(2, '/'), (5, '/')]) => "%d/%m/%Y",
        10 if padded(date, &[(4, '-'), (7, '-')]) => "%Y-%m-%d",
        19 if padded(date, &[(4, '-'), (7, '-'), (10, ' '), (13, ':'), (16, ':')]) => {
            return chrono::NaiveDateTime::parse_from_str(date, "%Y-%m-%d %H:%M:%S")
                .map(|d| d.date())
                .map_err(|_| "invalid_date");
        }
        _ => return Err("unrecognised_format"),
    };
    NaiveDate::parse_from_str(date, format).map_err(|_| "invalid_date")
}

/// A clean sale: distinct, dated, region normalised.
#[derive(Debug, Clone)]
pub struct Sale {
    pub date: NaiveDate,
    pub customer_id: i64,
    pub product_id: i64,
    pub product_name: String,
    pub category: String,
    pub region: String,
    pub quantity: i64,
    pub cents: i64,
}

/// The contract's region spellings.
pub fn normalise_region(r: &str) -> String {
    match r.trim().to_lowercase().as_str() {
        "norte" => "Norte",
        "nordeste" => "Nordeste",
        "centro-oeste" => "Centro-Oeste",
        "sudeste" => "Sudeste",
        "sul" => "Sul",
        other => return other.to_string(),
    }
    .to_string()
}

/// The silver rows of a fixture-shaped CSV (no field holds a comma).
pub fn clean_sales(csv: &str) -> Vec<Sale> {
    let mut seen = HashSet::new();
    let mut out = vec![];
    for line in csv.lines().skip(1) {
        if !seen.insert(line.to_string()) {
            continue;
        }
        let f: Vec<&str> = line.split(',').collect();
        if let Ok(date) = classify(f[1].trim_matches('"')) {
            out.push(Sale {
                date,
                customer_id: f[2].parse().unwrap(),
                product_id: f[4].parse().unwrap(),
                product_name: f[5].to_string(),
                category: f[6].to_string(),
                region: normalise_region(f[9]),
                quantity: f[10].parse().unwrap(),
                cents: cents(f[12]),
            });
        }
    }
    out
}

/// Cents as a decimal with two places.
pub fn money(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", cents.abs() / 100, cents.abs() % 100)
}
