-- Clean sales: exact duplicates removed first, then the date parsed and the
-- region normalised. Rows with a bad date are in silver.sales_quarantine;
-- reading only dated partitions keeps the two disjoint by construction.
-- Duplicates share a sale date, so grouping by bronze's day partition as
-- well changes no group; it lets each day's groups be emitted as the scan
-- moves past that day, instead of holding every row until the end.
--
-- Partitioned by month (bronze's days would make files of a few hundred
-- rows at 1M sales), and a month of silver comes from that month's days of
-- bronze alone: a sync that changed a few days of bronze replaces just
-- their months here.
-- partition_by: year, month
-- incremental: replace partitions
WITH distinct_sales AS (
    SELECT DISTINCT
        year, month, day,
        sale_id, sale_date, customer_id, customer_name, product_id,
        product_name, category, seller_id, seller_name, region, quantity,
        unit_price, total_value, updated_at
    FROM bronze.sales
    WHERE year IS NOT NULL
)
SELECT
    sale_id,
    legacy_date(sale_date) AS sale_date,
    customer_id,
    customer_name,
    product_id,
    product_name,
    category,
    seller_id,
    seller_name,
    CASE lower(trim(region))
        WHEN 'norte' THEN 'Norte'
        WHEN 'nordeste' THEN 'Nordeste'
        WHEN 'centro-oeste' THEN 'Centro-Oeste'
        WHEN 'sudeste' THEN 'Sudeste'
        WHEN 'sul' THEN 'Sul'
        ELSE trim(region)
    END AS region,
    quantity,
    unit_price,
    total_value,
    updated_at,
    year,
    month
FROM distinct_sales
