-- Sales per day, partitioned by day for cheap date-range queries.
-- Read from silver (whose rows the facts are) so that a sync recomputes
-- only the days of the months it changed: a month of silver holds every
-- sale of its days.
-- partition_by: year, month, day
-- order_by: sale_date
-- incremental: replace partitions
SELECT
    sale_date,
    CAST(sum(total_value) AS DECIMAL(18, 2)) AS total_sales,
    CAST(sum(quantity) AS BIGINT) AS total_quantity,
    count(*) AS sales_count,
    CAST(date_part('year', sale_date) AS INT) AS year,
    CAST(date_part('month', sale_date) AS INT) AS month,
    CAST(date_part('day', sale_date) AS INT) AS day
FROM silver.sales
GROUP BY sale_date
ORDER BY sale_date
