SELECT
    sale_id,
    CAST(date_part('year', sale_date) * 10000
         + date_part('month', sale_date) * 100
         + date_part('day', sale_date) AS INT) AS date_key,
    sale_date,
    customer_id,
    product_id,
    seller_id,
    quantity,
    unit_price,
    total_value
FROM silver.sales
