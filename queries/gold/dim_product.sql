SELECT DISTINCT product_id, product_name, category
FROM silver.sales
ORDER BY product_id
