-- Revenue per year and its growth over the year before, in percent.
WITH yearly AS (
    SELECT year(sale_date) AS year, sum(total_value) AS revenue
    FROM gold.fact_sales
    GROUP BY 1
)
SELECT year,
       revenue,
       lag(revenue) OVER (ORDER BY year) AS previous,
       -- round keeps the quotient's scale (as Trino's does); the cast shows two digits.
       CAST(round((revenue - lag(revenue) OVER (ORDER BY year)) * 100 / lag(revenue) OVER (ORDER BY year), 2)
            AS DECIMAL(12, 2)) AS growth_pct
FROM yearly
ORDER BY year
