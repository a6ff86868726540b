-- Monthly sales: total value, items sold and number of sales per month.
SELECT
    year,
    month,
    CAST(sum(total_sales) AS DECIMAL(18, 2)) AS total_sales,
    CAST(sum(total_quantity) AS BIGINT) AS total_quantity,
    CAST(sum(sales_count) AS BIGINT) AS sales_count
FROM gold.daily_sales
-- Bound by `strata report monthly --year/--from/--to` (the whole range by default).
WHERE sale_date BETWEEN $from AND $to
GROUP BY year, month
ORDER BY year, month
