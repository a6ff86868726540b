SELECT DISTINCT seller_id, seller_name
FROM silver.sales
ORDER BY seller_id
