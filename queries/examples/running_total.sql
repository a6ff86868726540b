-- Revenue per month with its running total within the year.
WITH monthly AS (
    SELECT year(sale_date) AS year, month(sale_date) AS month, sum(total_value) AS revenue
    FROM gold.fact_sales
    GROUP BY 1, 2
)
SELECT year, month, revenue,
       sum(revenue) OVER (PARTITION BY year ORDER BY month ROWS UNBOUNDED PRECEDING) AS year_to_date
FROM monthly
ORDER BY year, month
