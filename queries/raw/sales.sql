-- The legacy extract as it is: text dates untouched, duplicates kept.
-- format: csv
SELECT
    sale_id, sale_date, customer_id, customer_name, product_id, product_name,
    category, seller_id, seller_name, region, quantity, unit_price,
    total_value, updated_at
FROM legacy.sales
