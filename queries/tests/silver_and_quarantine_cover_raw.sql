-- Nothing is dropped: every sale of bronze (which holds every raw row, see
-- bronze_holds_every_raw_row) is in silver or in the quarantine. Compared
-- day by day: the distinct sales of each bronze folder against silver's
-- rows of that date, and the default (undated) folder against the
-- quarantine. A failure names each day, and how many sales it lost.
--
-- Counted per day rather than matched id by id: bronze's scan reads its
-- folders in day order, so its per-day distinct count streams in bounded
-- memory on every core, where matching 20M ids at 10M sales competed with
-- gold for the cores and spilled. Duplicates are exact (same id, same
-- date: the contract), so a day's distinct ids are its clean sales; a sale
-- kept twice shows here as a day with more sales kept than sold, and in
-- dim_keys_are_unique.
WITH bronze_days AS (
    SELECT year, month, day, count(DISTINCT sale_id) AS sales
    FROM bronze.sales
    GROUP BY year, month, day
),
kept_days AS (
    SELECT
        CAST(date_part('year', sale_date) AS INT) AS year,
        CAST(date_part('month', sale_date) AS INT) AS month,
        CAST(date_part('day', sale_date) AS INT) AS day,
        count(*) AS sales
    FROM silver.sales
    GROUP BY sale_date
    UNION ALL
    SELECT NULL, NULL, NULL, count(*)
    FROM silver.sales_quarantine
)
SELECT
    coalesce(b.year, k.year) AS year,
    coalesce(b.month, k.month) AS month,
    coalesce(b.day, k.day) AS day,
    coalesce(b.sales, 0) AS bronze_sales,
    coalesce(k.sales, 0) AS kept_sales
FROM bronze_days b
FULL JOIN kept_days k
    ON (b.year IS NOT DISTINCT FROM k.year)
   AND (b.month IS NOT DISTINCT FROM k.month)
   AND (b.day IS NOT DISTINCT FROM k.day)
WHERE coalesce(b.sales, 0) <> coalesce(k.sales, 0)
