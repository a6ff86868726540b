//! The legacy data generator: `strata fixtures --sales N --seed S`.
//!
//! Writes a CSV of the legacy `sales` table exactly as the contract
//! describes it: mostly `DD/MM/YYYY` dates with ISO spellings mixed in, a few
//! unparseable dates, exact duplicate rows (double postings), and regions
//! with messy case and padding. It streams: memory does not grow with N.
//! The same N and seed give the same bytes on every machine, because the
//! random stream is ChaCha8 and every attribute of a customer, product or
//! seller is derived from its id rather than from the stream.

use std::collections::VecDeque;
use std::io::Write;

use chrono::{Duration, NaiveDate};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::pgcsv::write_text;

/// What to generate.
#[derive(Debug, Clone, Copy)]
pub struct FixtureSpec {
    /// Distinct sales (rows before duplicates).
    pub sales: u64,
    /// Seed of the random stream.
    pub seed: u64,
}

/// What was generated.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FixtureStats {
    /// Lines written, header excluded.
    pub rows: u64,
    /// Distinct sales.
    pub sales: u64,
    /// Extra exact copies of a sale.
    pub duplicates: u64,
    /// Sales whose date cannot be parsed.
    pub bad_dates: u64,
}

/// The canonical fixture's parameters: `fixtures/legacy_sales.csv`.
pub const DEFAULT_SALES: u64 = 500;
/// The canonical fixture's seed.
pub const DEFAULT_SEED: u64 = 42;

const HEADER: &str = "sale_id,sale_date,customer_id,customer_name,product_id,product_name,category,seller_id,seller_name,region,quantity,unit_price,total_value,updated_at\n";
const REGIONS: [&str; 5] = ["Norte", "Nordeste", "Centro-Oeste", "Sudeste", "Sul"];
const FIRST: [&str; 20] = [
    "Ana", "Bruno", "Carla", "Diego", "Eduarda", "Felipe", "Gabriela", "Heitor", "Isabela", "João",
    "Larissa", "Marcos", "Natália", "Otávio", "Paula", "Rafael", "Sofia", "Thiago", "Vitória",
    "Lucas",
];
const LAST: [&str; 16] = [
    "Silva",
    "Santos",
    "Oliveira",
    "Souza",
    "Rodrigues",
    "Ferreira",
    "Alves",
    "Pereira",
    "Lima",
    "Gomes",
    "Costa",
    "Ribeiro",
    "Martins",
    "Carvalho",
    "Almeida",
    "Lopes",
];
const CATEGORIES: [(&str, [&str; 4]); 6] = [
    (
        "Eletrônicos",
        ["Smartphone", "Fone de Ouvido", "Smart TV", "Caixa de Som"],
    ),
    ("Informática", ["Notebook", "Monitor", "Teclado", "Mouse"]),
    (
        "Casa",
        ["Cafeteira", "Liquidificador", "Aspirador", "Ventilador"],
    ),
    (
        "Esporte",
        ["Bicicleta", "Tênis de Corrida", "Bola", "Mochila"],
    ),
    (
        "Livros",
        ["Romance", "Biografia", "Dicionário", "Guia de Viagem"],
    ),
    (
        "Beleza",
        ["Perfume", "Hidratante", "Secador", "Kit Maquiagem"],
    ),
];
const LINES: [&str; 6] = ["Lite", "Pro", "Max", "Plus", "Basic", "Prime"];
const SELLER_KINDS: [&str; 4] = ["Comercial", "Distribuidora", "Loja", "Atacado"];
/// Spellings of an unparseable date, one per contract reason and more.
const BAD_DATES: [&str; 4] = ["", "N/A", "00/00/0000", "31/02/2023"];

/// A 64-bit mix (SplitMix64's finaliser): a fixed function of its input.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

struct Pools {
    seed: u64,
    customers: u32,
    products: u32,
    sellers: u32,
}

impl Pools {
    fn for_sales(sales: u64, seed: u64) -> Self {
        let clamp = |v: u64, lo: u64, hi: u64| v.clamp(lo, hi) as u32;
        Pools {
            seed,
            customers: clamp(sales / 5, 20, 200_000),
            products: clamp(sales / 10, 12, 5_000),
            sellers: clamp(sales / 25, 5, 1_000),
        }
    }

    fn h(&self, kind: u64, id: u32) -> u64 {
        mix(self.seed ^ mix(kind << 32 | u64::from(id)))
    }

    fn customer(&self, id: u32) -> (String, &'static str) {
        let h = self.h(1, id);
        let name = format!(
            "{} {}",
            FIRST[(h % FIRST.len() as u64) as usize],
            LAST[((h >> 16) % LAST.len() as u64) as usize]
        );
        (name, REGIONS[((h >> 32) % REGIONS.len() as u64) as usize])
    }

    /// Name, category and unit price in cents.
    fn product(&self, id: u32) -> (String, &'static str, i64) {
        let h = self.h(2, id);
        let (category, nouns) = CATEGORIES[(h % CATEGORIES.len() as u64) as usize];
        let name = format!(
            "{} {} {}",
            nouns[((h >> 8) % 4) as usize],
            LINES[((h >> 16) % LINES.len() as u64) as usize],
            id
        );
        let cents = 500 + ((h >> 24) % 249_501) as i64;
        (name, category, cents)
    }

    fn seller(&self, id: u32) -> String {
        let h = self.h(3, id);
        format!(
            "{} {}",
            SELLER_KINDS[(h % SELLER_KINDS.len() as u64) as usize],
            LAST[((h >> 16) % LAST.len() as u64) as usize]
        )
    }
}

/// Messes up a region's spelling the ways the legacy system did.
fn messy_region(region: &str, variant: u32) -> String {
    match variant % 4 {
        0 => format!(" {}", region.to_lowercase()),
        1 => region.to_uppercase(),
        2 => {
            // 'Centro-oeste ': only the first letter kept upper case.
            let mut s: String = region.chars().take(1).collect();
            s.push_str(&region.chars().skip(1).collect::<String>().to_lowercase());
            s.push(' ');
            s
        }
        _ => format!("  {region} "),
    }
}

/// Writes the fixture to `out`.
pub fn write_fixture(spec: FixtureSpec, out: &mut impl Write) -> std::io::Result<FixtureStats> {
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    let pools = Pools::for_sales(spec.sales, spec.seed);
    let first_day = NaiveDate::from_ymd_opt(2021, 1, 1).expect("valid date");
    let days = (NaiveDate::from_ymd_opt(2024, 12, 31).expect("valid date") - first_day).num_days();
    // A few bad dates even in a small file, about 0.1% of a large one,
    // spread evenly so every slice of the file has some.
    let bad = if spec.sales >= 8 {
        (spec.sales / 1000).max(4)
    } else {
        0
    };
    let stride = spec.sales.checked_div(bad).unwrap_or(u64::MAX);
    let offset = if bad > 0 {
        rng.random_range(0..stride)
    } else {
        0
    };

    let mut stats = FixtureStats {
        sales: spec.sales,
        ..Default::default()
    };
    out.write_all(HEADER.as_bytes())?;
    // Double postings reappear a few rows later, as the legacy batch job did.
    let mut pending: VecDeque<(u64, Vec<u8>)> = VecDeque::new();
    let mut line = Vec::with_capacity(256);
    for k in 0..spec.sales {
        let sale_id = k + 1;
        let customer_id = rng.random_range(1..=pools.customers);
        let product_id = rng.random_range(1..=pools.products);
        let seller_id = rng.random_range(1..=pools.sellers);
        let quantity: i64 = rng.random_range(1..=20);
        let date = first_day + Duration::days(rng.random_range(0..=days));
        let seconds = rng.random_range(0..86_400);
        let format_pick: f64 = rng.random();
        let messy: f64 = rng.random();
        let messy_variant: u32 = rng.random();
        let updated_after_days = rng.random_range(0..=7);
        let duplicate: f64 = rng.random();
        let delay = rng.random_range(1..=20u64);

        let time = chrono::NaiveTime::from_num_seconds_from_midnight_opt(seconds, 0)
            .expect("seconds within a day");
        let sale_date = if bad > 0 && k % stride == offset && k / stride < bad {
            stats.bad_dates += 1;
            BAD_DATES[((k / stride) % BAD_DATES.len() as u64) as usize].to_string()
        } else if format_pick < 0.80 {
            date.format("%d/%m/%Y").to_string()
        } else if format_pick < 0.95 {
            date.format("%Y-%m-%d").to_string()
        } else {
            date.and_time(time).format("%Y-%m-%d %H:%M:%S").to_string()
        };
        let updated_at = (date + Duration::days(updated_after_days)).and_time(time);
        let (customer_name, region) = pools.customer(customer_id);
        let region = if messy < 0.10 {
            messy_region(region, messy_variant)
        } else {
            region.to_string()
        };
        let (product_name, category, unit_cents) = pools.product(product_id);
        let seller_name = pools.seller(seller_id);
        let total_cents = unit_cents * quantity;

        line.clear();
        write!(line, "{sale_id},")?;
        write_text(&mut line, &sale_date)?;
        write!(line, ",{customer_id},")?;
        write_text(&mut line, &customer_name)?;
        write!(line, ",{product_id},")?;
        write_text(&mut line, &product_name)?;
        line.push(b',');
        write_text(&mut line, category)?;
        write!(line, ",{seller_id},")?;
        write_text(&mut line, &seller_name)?;
        line.push(b',');
        write_text(&mut line, &region)?;
        writeln!(
            line,
            ",{quantity},{}.{:02},{}.{:02},{}",
            unit_cents / 100,
            unit_cents % 100,
            total_cents / 100,
            total_cents % 100,
            updated_at.format("%Y-%m-%d %H:%M:%S")
        )?;
        out.write_all(&line)?;
        stats.rows += 1;

        while pending.front().is_some_and(|(at, _)| *at <= k) {
            let (_, copy) = pending.pop_front().expect("non-empty");
            out.write_all(&copy)?;
            stats.rows += 1;
        }
        if duplicate < 0.02 {
            pending.push_back((k + delay, line.clone()));
            pending.make_contiguous().sort_by_key(|(at, _)| *at);
            stats.duplicates += 1;
        }
    }
    for (_, copy) in pending {
        out.write_all(&copy)?;
        stats.rows += 1;
    }
    out.flush()?;
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generate(sales: u64, seed: u64) -> (Vec<u8>, FixtureStats) {
        let mut out = vec![];
        let stats = write_fixture(FixtureSpec { sales, seed }, &mut out).unwrap();
        (out, stats)
    }

    #[test]
    fn same_seed_same_bytes_other_seed_other_bytes() {
        assert_eq!(generate(300, 7).0, generate(300, 7).0);
        assert_ne!(generate(300, 7).0, generate(300, 8).0);
    }

    #[test]
    fn counts_add_up() {
        let (bytes, stats) = generate(2000, 1);
        let text = String::from_utf8(bytes).unwrap();
        assert_eq!(text.lines().count() as u64, stats.rows + 1);
        assert_eq!(stats.rows, stats.sales + stats.duplicates);
        assert_eq!(stats.bad_dates, 4);
        assert!(stats.duplicates > 10 && stats.duplicates < 80, "{stats:?}");
        assert!(text.contains(",\"\",")); // an empty date is quoted, not NULL
    }

    #[test]
    fn attributes_are_a_function_of_the_id() {
        let pools = Pools::for_sales(1000, 3);
        assert_eq!(pools.customer(17), pools.customer(17));
        assert_eq!(pools.product(5), pools.product(5));
    }
}
