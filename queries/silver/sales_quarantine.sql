-- Rows whose sale date cannot be parsed, one per distinct legacy row, with
-- the reason (empty_date, unrecognised_format, invalid_date). Reads only
-- bronze's NULL partition.
WITH distinct_rejects AS (
    SELECT DISTINCT
        sale_id, sale_date, customer_id, customer_name, product_id,
        product_name, category, seller_id, seller_name, region, quantity,
        unit_price, total_value, updated_at
    FROM bronze.sales
    WHERE year IS NULL
)
SELECT
    sale_id, sale_date, customer_id, customer_name, product_id, product_name,
    category, seller_id, seller_name, region, quantity, unit_price,
    total_value, updated_at,
    legacy_date_issue(sale_date) AS reason
FROM distinct_rejects
ORDER BY sale_id
