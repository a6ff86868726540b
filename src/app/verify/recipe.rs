//! The fingerprint of a set of sales rows, as SQL that PostgreSQL and
//! DataFusion both evaluate to the same values.
//!
//! A row is written as one canonical text (a SQL tuple: numbers as their
//! decimal text, strings quoted with `'` doubled, NULL as `NULL`, the
//! timestamp to the microsecond), and hashed to 60 bits from its MD5. A
//! set's fingerprint per day is its row count and the exact sum of its
//! rows' hashes: order does not matter, so the two sides can compute it
//! each in its own engine, in parallel, and agree.
//!
//! The day is read from the legacy text (`DD/MM/YYYY`, `YYYY-MM-DD`,
//! `YYYY-MM-DD HH:MI:SS`) by its digits alone, without checking it is a
//! calendar day: PostgreSQL has no Strata date parser, and a bucket only
//! needs to be the same on both sides. Undated spellings share the day `''`.

/// The engine a piece of SQL is written for: the two differ only in a few
/// spellings, each in one method here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// The legacy server computes its side itself, in one snapshot.
    Postgres,
    /// Strata's session: the lake, or a CSV source.
    DataFusion,
}

/// The contract's columns, each with how it is written as text.
const COLUMNS: [(&str, Kind); 14] = [
    ("sale_id", Kind::Number),
    ("sale_date", Kind::Text),
    ("customer_id", Kind::Number),
    ("customer_name", Kind::Text),
    ("product_id", Kind::Number),
    ("product_name", Kind::Text),
    ("category", Kind::Text),
    ("seller_id", Kind::Number),
    ("seller_name", Kind::Text),
    ("region", Kind::Text),
    ("quantity", Kind::Number),
    ("unit_price", Kind::Number),
    ("total_value", Kind::Number),
    ("updated_at", Kind::Timestamp),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Number,
    Text,
    Timestamp,
}

/// Which form of the rows is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Form {
    /// Every column as extracted: what bronze holds, duplicates included.
    Extracted,
    /// What silver keeps of a row: the day instead of its spelling, the
    /// region as `lower(trim(region))` (silver's normalisation maps each
    /// known region to a spelling with the same lower case), every other
    /// column unchanged. Compared over distinct source rows.
    Cleaned,
}

impl Dialect {
    fn matches(self, expr: &str, pattern: &str) -> String {
        match self {
            Dialect::Postgres => format!("({expr} ~ '{pattern}')"),
            Dialect::DataFusion => format!("regexp_like({expr}, '{pattern}')"),
        }
    }

    /// The 60 high bits of the MD5 of `text`, as a BIGINT.
    fn hash(self, text: &str) -> String {
        match self {
            Dialect::Postgres => format!("('x' || substr(md5({text}), 1, 15))::bit(60)::bigint"),
            Dialect::DataFusion => format!("from_base(substr(md5({text}), 1, 15), 16)"),
        }
    }

    /// The exact sum of a BIGINT expression, as text.
    fn exact_sum(self, expr: &str) -> String {
        match self {
            // PostgreSQL sums BIGINT as NUMERIC.
            Dialect::Postgres => format!("CAST(sum({expr}) AS VARCHAR)"),
            Dialect::DataFusion => format!("CAST(sum(CAST({expr} AS DECIMAL(38, 0))) AS VARCHAR)"),
        }
    }

    fn timestamp_text(self, column: &str) -> String {
        match self {
            Dialect::Postgres => format!("to_char({column}, 'YYYY-MM-DD HH24:MI:SS.US')"),
            // A TIMESTAMP(6) as text always has its six fraction digits.
            Dialect::DataFusion => format!("CAST({column} AS VARCHAR)"),
        }
    }

    /// The day a legacy `sale_date` text names, as `YYYY-MM-DD`, or `''`.
    pub(crate) fn day(self, sale_date: &str) -> String {
        let day_month_year = self.matches(sale_date, "^[0-9]{2}/[0-9]{2}/[0-9]{4}$");
        let iso = self.matches(
            sale_date,
            "^[0-9]{4}-[0-9]{2}-[0-9]{2}( [0-9]{2}:[0-9]{2}:[0-9]{2})?$",
        );
        format!(
            "CASE WHEN {day_month_year} THEN substr({sale_date}, 7, 4) || '-' || \
             substr({sale_date}, 4, 2) || '-' || substr({sale_date}, 1, 2) \
             WHEN {iso} THEN substr({sale_date}, 1, 10) ELSE '' END"
        )
    }

    /// The canonical text of a row of `form`, over a relation that has the
    /// contract's columns and (for [`Form::Cleaned`]) a `verify_day` column.
    pub(crate) fn row_text(self, form: Form) -> String {
        let quoted = |e: &str| format!("'''' || replace({e}, '''', '''''') || ''''");
        let mut parts = vec![];
        if form == Form::Cleaned {
            parts.push(quoted("verify_day"));
        }
        for (name, kind) in COLUMNS {
            let text = match (form, name, kind) {
                (Form::Cleaned, "sale_date", _) => continue,
                (Form::Cleaned, "region", _) => quoted("lower(trim(region))"),
                (_, _, Kind::Text) => quoted(name),
                (_, _, Kind::Number) => format!("CAST({name} AS VARCHAR)"),
                (_, _, Kind::Timestamp) => format!("'''' || {} || ''''", self.timestamp_text(name)),
            };
            parts.push(format!("coalesce({text}, 'NULL')"));
        }
        format!("'(' || {} || ')'", parts.join(" || ', ' || "))
    }

    /// Per day of `table` (a relation with the contract's columns): rows and
    /// hash of every row as extracted, and rows and hash of its distinct
    /// rows in their cleaned form. One scan: rows are grouped by their two
    /// hashes first, so a duplicate counts once in the distinct figures.
    /// Columns: day, rows, hash, distinct rows, distinct hash (all text).
    pub(crate) fn source_fingerprint(self, table: &str) -> String {
        format!(
            "SELECT verify_day, CAST(sum(copies) AS VARCHAR), {}, CAST(count(*) AS VARCHAR), {} \
             FROM (SELECT verify_day, extracted, cleaned, count(*) AS copies \
                   FROM (SELECT verify_day, {} AS extracted, {} AS cleaned \
                         FROM (SELECT {} AS verify_day, * FROM {table}) dated) hashed \
                   GROUP BY verify_day, extracted, cleaned) rows_ \
             GROUP BY verify_day",
            self.exact_sum("extracted * copies"),
            self.exact_sum("cleaned"),
            self.hash(&self.row_text(Form::Extracted)),
            self.hash(&self.row_text(Form::Cleaned)),
            self.day("sale_date"),
        )
    }

    /// The rows of `table` on `days`, in `form`, each with its copies.
    /// Columns: day, sale_id, row text, copies (all text).
    pub(crate) fn source_rows(self, table: &str, form: Form, days: &[String]) -> String {
        let text = self.row_text(form);
        let (select, group) = match form {
            Form::Extracted => (
                "CAST(count(*) AS VARCHAR)",
                "GROUP BY verify_day, sale_id, row_",
            ),
            Form::Cleaned => ("'1'", ""),
        };
        let distinct = if form == Form::Cleaned {
            "DISTINCT "
        } else {
            ""
        };
        format!(
            "SELECT {distinct}verify_day, CAST(sale_id AS VARCHAR), row_, {select} \
             FROM (SELECT verify_day, sale_id, {text} AS row_ \
                   FROM (SELECT {} AS verify_day, * FROM {table}) dated \
                   WHERE verify_day IN ({})) r {group}",
            self.day("sale_date"),
            in_list(days),
        )
    }
}

/// The lake's relation of `form`: bronze as it is, or silver and its
/// quarantine together, each row with its `day`.
fn lake_relation(form: Form) -> String {
    let d = Dialect::DataFusion;
    match form {
        Form::Extracted => format!(
            "(SELECT {} AS verify_day, * FROM bronze.sales)",
            d.day("sale_date")
        ),
        Form::Cleaned => {
            let columns: Vec<&str> = COLUMNS
                .iter()
                .map(|(n, _)| *n)
                .filter(|n| *n != "sale_date")
                .collect();
            let columns = columns.join(", ");
            format!(
                "(SELECT CAST(sale_date AS VARCHAR) AS verify_day, {columns} FROM silver.sales \
                 UNION ALL \
                 SELECT {} AS verify_day, {columns} FROM silver.sales_quarantine)",
                d.day("sale_date")
            )
        }
    }
}

/// Per day of the lake's rows in `form`: rows and hash (all text).
pub(crate) fn lake_fingerprint(form: Form) -> String {
    let d = Dialect::DataFusion;
    format!(
        "SELECT verify_day, CAST(count(*) AS VARCHAR), {} \
         FROM (SELECT verify_day, {} AS h FROM {} dated) hashed GROUP BY verify_day",
        d.exact_sum("h"),
        d.hash(&d.row_text(form)),
        lake_relation(form),
    )
}

/// The lake's rows of `form` on `days`, each with its copies: the same
/// columns as [`Dialect::source_rows`].
pub(crate) fn lake_rows(form: Form, days: &[String]) -> String {
    let d = Dialect::DataFusion;
    format!(
        "SELECT verify_day, CAST(sale_id AS VARCHAR), row_, CAST(count(*) AS VARCHAR) \
         FROM (SELECT verify_day, sale_id, {} AS row_ FROM {} dated WHERE verify_day IN ({})) r \
         GROUP BY verify_day, sale_id, row_",
        d.row_text(form),
        lake_relation(form),
        in_list(days),
    )
}

/// Days as a SQL list of string literals.
fn in_list(days: &[String]) -> String {
    days.iter()
        .map(|d| format!("'{}'", d.replace('\'', "''")))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cleaned_form_leaves_out_the_spelling_of_the_date_and_of_the_region() {
        let text = Dialect::Postgres.row_text(Form::Cleaned);
        assert!(text.contains("lower(trim(region))"), "{text}");
        assert!(!text.contains("sale_date"), "{text}");
        assert!(
            text.starts_with("'(' || coalesce('''' || replace(verify_day,"),
            "{text}"
        );
    }

    #[test]
    fn the_dialects_differ_only_where_the_engines_do() {
        let pg = Dialect::Postgres.source_fingerprint("public.sales");
        let df = Dialect::DataFusion.source_fingerprint("legacy.sales");
        assert!(
            pg.contains("::bit(60)::bigint") && pg.contains(" ~ '"),
            "{pg}"
        );
        assert!(
            df.contains("from_base(") && df.contains("regexp_like("),
            "{df}"
        );
        assert!(df.contains("DECIMAL(38, 0)"), "{df}");
    }

    #[test]
    fn days_are_quoted_as_literals() {
        assert_eq!(
            in_list(&["2021-01-02".into(), "o'k".into()]),
            "'2021-01-02', 'o''k'"
        );
    }
}
