-- Bronze loses nothing: same row count and money as raw, duplicates included.
WITH r AS (SELECT count(*) AS n, sum(total_value) AS money FROM raw.sales),
     b AS (SELECT count(*) AS n, sum(total_value) AS money FROM bronze.sales)
SELECT r.n AS raw_rows, b.n AS bronze_rows, r.money AS raw_money, b.money AS bronze_money
FROM r, b
WHERE (r.n IS DISTINCT FROM b.n) OR (r.money IS DISTINCT FROM b.money)
