-- One row per clean sale. Partitioned by its day's key (the folders are
-- `date_key=20240105`; the column stays where the contract puts it), so a
-- sync replaces only the days whose silver rows changed.
-- partition_by: date_key
-- incremental: replace partitions
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
