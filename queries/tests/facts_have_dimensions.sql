-- Every fact joins to a row of each dimension.
SELECT f.sale_id,
       c.customer_id IS NULL AS missing_customer,
       p.product_id IS NULL AS missing_product,
       s.seller_id IS NULL AS missing_seller,
       d.date_key IS NULL AS missing_date
FROM gold.fact_sales f
LEFT JOIN gold.dim_customer c ON f.customer_id = c.customer_id
LEFT JOIN gold.dim_product p ON f.product_id = p.product_id
LEFT JOIN gold.dim_seller s ON f.seller_id = s.seller_id
LEFT JOIN gold.dim_date d ON f.date_key = d.date_key
WHERE c.customer_id IS NULL OR p.product_id IS NULL
   OR s.seller_id IS NULL OR d.date_key IS NULL
