-- The daily aggregate keeps every cent of the facts.
WITH f AS (SELECT sum(total_value) AS total, count(*) AS n FROM gold.fact_sales),
     d AS (SELECT sum(total_sales) AS total, sum(sales_count) AS n FROM gold.daily_sales)
SELECT f.total AS fact_total, d.total AS daily_total, f.n AS facts, d.n AS daily_count
FROM f, d
WHERE f.total <> d.total OR f.n <> d.n
