-- Clean sales: exact duplicates removed first, then the date parsed and the
-- region normalised. Rows with a bad date are in silver.sales_quarantine;
-- reading only dated partitions keeps the two disjoint by construction.
WITH distinct_sales AS (
    SELECT DISTINCT
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
    updated_at
FROM distinct_sales
