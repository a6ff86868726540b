//! What `strata verify` found, as recorded: one JSON file per verification
//! under `_strata/meta/verify/`, queryable as `meta.verify` (one row per
//! comparison) and `meta.verify_rows` (one row per row that differs).

use serde::{Deserialize, Serialize};

/// One `strata verify`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Verification {
    /// Sortable by time, as run ids are.
    pub verify_id: String,
    /// When it started (RFC 3339).
    pub verified_at: String,
    /// The source compared, its password hidden.
    pub source: String,
    /// Seconds it took.
    pub duration_s: f64,
    /// Bronze, then silver.
    pub checks: Vec<Check>,
}

impl Verification {
    /// Whether every comparison found the two sides equal.
    pub fn equal(&self) -> bool {
        self.checks.iter().all(|c| c.status == "equal")
    }
}

/// One comparison of the source with a layer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Check {
    /// What of the lake was compared: `bronze.sales`, or
    /// `silver.sales + silver.sales_quarantine`.
    pub lake_tables: String,
    /// What it was compared with: `source` for bronze; `bronze.sales` (its
    /// distinct rows, cleaned) for silver.
    pub against: String,
    /// `equal` or `different`.
    pub status: String,
    /// Rows of what it was compared with (bronze's distinct rows, for silver).
    pub source_rows: u64,
    /// Lake rows compared.
    pub lake_rows: u64,
    /// Days on either side (`''` counts as one: the undated spellings).
    pub days: u64,
    /// Days whose count or hash differ, all of them.
    pub days_different: Vec<String>,
    /// Rows present more times on one side than on the other, on the first
    /// days that differ (at most `strata verify`'s limit).
    pub rows: Vec<RowDifference>,
    /// Rows that differ on the days looked at, named or not.
    pub rows_different: u64,
}

/// A row one side has more copies of than the other.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RowDifference {
    /// Its day (`YYYY-MM-DD` from its legacy spelling, `''` when undated).
    pub day: String,
    /// Its sale id.
    pub sale_id: String,
    /// The side with more copies: `source` or `lake` for bronze, `bronze`
    /// or `silver` for silver.
    pub only_in: String,
    /// How many more.
    pub copies: u64,
    /// The row, as compared.
    pub row: String,
}
