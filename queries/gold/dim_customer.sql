SELECT DISTINCT customer_id, customer_name, region
FROM silver.sales
ORDER BY customer_id
