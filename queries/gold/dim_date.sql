-- One row per calendar day from the first to the last sale date.
-- day_of_week is ISO: 1 = Monday .. 7 = Sunday.
WITH bounds AS (
    SELECT min(sale_date) AS first_day, max(sale_date) AS last_day
    FROM silver.sales
),
days AS (
    SELECT CAST(unnest(generate_series(first_day, last_day, INTERVAL '1 day')) AS DATE) AS sale_date
    FROM bounds
    WHERE first_day IS NOT NULL
)
SELECT
    CAST(date_part('year', sale_date) * 10000
         + date_part('month', sale_date) * 100
         + date_part('day', sale_date) AS INT) AS date_key,
    sale_date,
    CAST(date_part('year', sale_date) AS INT) AS year,
    CAST(date_part('month', sale_date) AS INT) AS month,
    CAST(date_part('day', sale_date) AS INT) AS day,
    CAST(date_part('quarter', sale_date) AS INT) AS quarter,
    to_char(sale_date, '%B') AS month_name,
    CAST(day_of_week(sale_date) AS INT) AS day_of_week,
    day_of_week(sale_date) IN (6, 7) AS is_weekend
FROM days
ORDER BY sale_date
