-- Each dimension has one row per key (a customer, product or seller with two
-- spellings in silver would appear twice).
SELECT 'dim_customer' AS dimension, CAST(customer_id AS BIGINT) AS id, count(*) AS copies
FROM gold.dim_customer GROUP BY customer_id HAVING count(*) > 1
UNION ALL
SELECT 'dim_product', CAST(product_id AS BIGINT), count(*)
FROM gold.dim_product GROUP BY product_id HAVING count(*) > 1
UNION ALL
SELECT 'dim_seller', CAST(seller_id AS BIGINT), count(*)
FROM gold.dim_seller GROUP BY seller_id HAVING count(*) > 1
UNION ALL
SELECT 'dim_date', CAST(date_key AS BIGINT), count(*)
FROM gold.dim_date GROUP BY date_key HAVING count(*) > 1
UNION ALL
SELECT 'fact_sales', sale_id, count(*)
FROM gold.fact_sales GROUP BY sale_id HAVING count(*) > 1
