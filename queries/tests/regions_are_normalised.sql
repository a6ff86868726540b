SELECT customer_id, region
FROM gold.dim_customer
WHERE region IS NULL OR region NOT IN ('Norte', 'Nordeste', 'Centro-Oeste', 'Sudeste', 'Sul')
