-- The daily aggregate keeps every cent of the facts. IS DISTINCT FROM, not
-- <>: an empty daily_sales sums to NULL, and `x <> NULL` is never true.
-- The parentheses are needed: DataFusion's parser binds OR tighter here.
WITH f AS (SELECT sum(total_value) AS total, count(*) AS n FROM gold.fact_sales),
     d AS (SELECT sum(total_sales) AS total, sum(sales_count) AS n FROM gold.daily_sales)
SELECT f.total AS fact_total, d.total AS daily_total, f.n AS facts, d.n AS daily_count
FROM f, d
WHERE (f.total IS DISTINCT FROM d.total) OR (f.n IS DISTINCT FROM d.n)
