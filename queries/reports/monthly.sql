-- Monthly sales: total value, items sold and number of sales per month.
SELECT
    year,
    month,
    CAST(sum(total_sales) AS DECIMAL(18, 2)) AS total_sales,
    CAST(sum(total_quantity) AS BIGINT) AS total_quantity,
    CAST(sum(sales_count) AS BIGINT) AS sales_count
FROM gold.daily_sales
GROUP BY year, month
ORDER BY year, month
