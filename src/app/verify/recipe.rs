//! The fingerprint of a set of sales rows, as SQL that PostgreSQL and
//! DataFusion both evaluate to the same values.
//!
//! A row is written as one text (its columns' text joined by U+001F, a NULL
//! as U+001E, the timestamp to the microsecond) and hashed with
//! PostgreSQL's `hashtextextended` (Strata has the same function, bit for
//! bit). A set's fingerprint per day is its row count and the exact sum of
//! its rows' hashes: order does not matter, so each side computes it in its
//! own engine, in parallel, and only a row per day crosses the network.
//! Where a day differs, the rows are compared by a readable text instead (a
//! SQL tuple: strings quoted with `'` doubled, NULL as `NULL`), which is
//! what the differences show.
//!
//! The day is read from the legacy text by position (`DD/MM/YYYY` has `/`
//! third, `YYYY-MM-DD...` has `-` fifth), without checking it is a calendar
//! day: a bucket only needs to be the same on both sides, and PostgreSQL
//! has no Strata date parser. Other spellings share the day `''`.

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
    /// column unchanged.
    Cleaned,
}

/// The day a legacy `sale_date` text names, as `YYYY-MM-DD`, or `''`: the
/// same SQL in both engines.
pub(crate) fn day(sale_date: &str) -> String {
    format!(
        "CASE WHEN substr({sale_date}, 3, 1) = '/' THEN substr({sale_date}, 7, 4) || '-' || \
         substr({sale_date}, 4, 2) || '-' || substr({sale_date}, 1, 2) \
         WHEN substr({sale_date}, 5, 1) = '-' THEN substr({sale_date}, 1, 10) ELSE '' END"
    )
}

impl Dialect {
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

    /// Each column of `form` as text, `None` where it is left out. Over a
    /// relation with the contract's columns and, for [`Form::Cleaned`], a
    /// `verify_day` column.
    fn parts(self, form: Form, text: impl Fn(&str) -> String, null: &str) -> Vec<String> {
        let mut parts = vec![];
        if form == Form::Cleaned {
            parts.push(text("verify_day"));
        }
        for (name, kind) in COLUMNS {
            let t = match (form, name, kind) {
                (Form::Cleaned, "sale_date", _) => continue,
                (Form::Cleaned, "region", _) => text("lower(trim(region))"),
                (_, _, Kind::Text) => text(name),
                (_, _, Kind::Number) => format!("CAST({name} AS VARCHAR)"),
                (_, _, Kind::Timestamp) => text(&self.timestamp_text(name)),
            };
            parts.push(format!("coalesce({t}, {null})"));
        }
        parts
    }

    /// The text a row of `form` is hashed by: cheap to build on both sides
    /// (one `concat_ws`, not a chain of `||` that builds every prefix).
    fn hashed_text(self, form: Form) -> String {
        format!(
            "concat_ws(chr(31), {})",
            self.parts(form, |e| e.to_string(), "chr(30)").join(", ")
        )
    }

    /// A row's hash as a BIGINT.
    fn hash(self, form: Form) -> String {
        format!("hashtextextended({}, 0)", self.hashed_text(form))
    }

    /// The text a row of `form` is shown by, where a day differs.
    pub(crate) fn row_text(self, form: Form) -> String {
        let quoted = |e: &str| format!("'''' || replace({e}, '''', '''''') || ''''");
        format!(
            "'(' || {} || ')'",
            self.parts(form, quoted, "'NULL'").join(" || ', ' || ")
        )
    }

    /// Per day of `table` (a relation with the contract's columns): its
    /// rows and the sum of their hashes, as extracted. Columns: day, rows,
    /// hash (all text).
    pub(crate) fn fingerprint(self, table: &str) -> String {
        format!(
            "SELECT verify_day, CAST(count(*) AS VARCHAR), {} \
             FROM (SELECT verify_day, {} AS h \
                   FROM (SELECT {} AS verify_day, * FROM {table}) dated) hashed \
             GROUP BY verify_day",
            self.exact_sum("h"),
            self.hash(Form::Extracted),
            day("sale_date"),
        )
    }

    /// The rows of `table` on `days`, in `form`, each with its copies; a
    /// cleaned form counts each distinct row as extracted once, as silver
    /// keeps them (two spellings of one cleaned row are two rows of silver).
    /// Columns: day, sale_id, row text, copies (all text).
    pub(crate) fn rows(self, table: &str, form: Form, days: &[String]) -> String {
        let text = self.row_text(form);
        let dated = format!(
            "(SELECT {} AS verify_day, * FROM {table}) dated WHERE verify_day IN ({})",
            day("sale_date"),
            in_list(days)
        );
        match form {
            Form::Extracted => format!(
                "SELECT verify_day, CAST(sale_id AS VARCHAR), row_, CAST(count(*) AS VARCHAR) \
                 FROM (SELECT verify_day, sale_id, {text} AS row_ FROM {dated}) r \
                 GROUP BY verify_day, sale_id, row_"
            ),
            Form::Cleaned => format!(
                "SELECT verify_day, CAST(sale_id AS VARCHAR), row_, '1' \
                 FROM (SELECT DISTINCT verify_day, sale_id, row_, extracted \
                       FROM (SELECT verify_day, sale_id, {text} AS row_, {} AS extracted \
                             FROM {dated}) r) d",
                self.hash(Form::Extracted)
            ),
        }
    }
}

/// Per day of bronze, from one scan: its rows and hash as extracted, and
/// the rows and hash of its distinct rows in their cleaned form (rows are
/// grouped by both hashes first, so a duplicate counts once). Columns:
/// day, rows, hash, distinct rows, distinct hash (all text).
pub(crate) fn bronze_fingerprint() -> String {
    let d = Dialect::DataFusion;
    format!(
        "SELECT verify_day, CAST(sum(copies) AS VARCHAR), CAST(sum(extracted_sum) AS VARCHAR), \
                CAST(count(*) AS VARCHAR), {} \
         FROM (SELECT verify_day, extracted, cleaned, count(*) AS copies, \
                      sum(CAST(extracted AS DECIMAL(38, 0))) AS extracted_sum \
               FROM (SELECT verify_day, {} AS extracted, {} AS cleaned \
                     FROM (SELECT {} AS verify_day, * FROM bronze.sales) dated) hashed \
               GROUP BY verify_day, extracted, cleaned) rows_ \
         GROUP BY verify_day",
        d.exact_sum("cleaned"),
        d.hash(Form::Extracted),
        d.hash(Form::Cleaned),
        day("sale_date"),
    )
}

/// Silver and its quarantine together, each row with its `verify_day`.
fn silver_relation() -> String {
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
        day("sale_date")
    )
}

/// Per day of silver with its quarantine: rows and hash of their cleaned
/// form. Columns: day, rows, hash (all text).
pub(crate) fn silver_fingerprint() -> String {
    let d = Dialect::DataFusion;
    format!(
        "SELECT verify_day, CAST(count(*) AS VARCHAR), {} \
         FROM (SELECT verify_day, {} AS h FROM {} dated) hashed GROUP BY verify_day",
        d.exact_sum("h"),
        d.hash(Form::Cleaned),
        silver_relation(),
    )
}

/// Silver's rows on `days`, each with its copies: the same columns as
/// [`Dialect::rows`].
pub(crate) fn silver_rows(days: &[String]) -> String {
    let d = Dialect::DataFusion;
    format!(
        "SELECT verify_day, CAST(sale_id AS VARCHAR), row_, CAST(count(*) AS VARCHAR) \
         FROM (SELECT verify_day, sale_id, {} AS row_ FROM {} dated WHERE verify_day IN ({})) r \
         GROUP BY verify_day, sale_id, row_",
        d.row_text(Form::Cleaned),
        silver_relation(),
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
            text.starts_with("'(' || '''' || replace(verify_day,"),
            "{text}"
        );
    }

    #[test]
    fn the_dialects_differ_only_where_the_engines_do() {
        let pg = Dialect::Postgres.fingerprint("public.sales");
        let df = Dialect::DataFusion.fingerprint("legacy.sales");
        assert!(
            pg.contains("to_char(updated_at") && !pg.contains("DECIMAL"),
            "{pg}"
        );
        assert!(
            df.contains("CAST(updated_at AS VARCHAR)") && df.contains("DECIMAL(38, 0)"),
            "{df}"
        );
        let strip = |s: &str| s.replace("public.sales", "T").replace("legacy.sales", "T");
        assert_eq!(
            strip(&pg).replace("to_char(updated_at, 'YYYY-MM-DD HH24:MI:SS.US')", "TS"),
            strip(&df)
                .replace("CAST(updated_at AS VARCHAR)", "TS")
                .replace(
                    "CAST(sum(CAST(h AS DECIMAL(38, 0))) AS VARCHAR)",
                    "CAST(sum(h) AS VARCHAR)"
                )
        );
    }

    #[test]
    fn days_are_quoted_as_literals() {
        assert_eq!(
            in_list(&["2021-01-02".into(), "o'k".into()]),
            "'2021-01-02', 'o''k'"
        );
    }
}
