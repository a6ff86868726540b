-- Raw rows as Parquet, partitioned by the day they were sold. Bronze loses
-- nothing: a row whose date cannot be parsed lands in the NULL partition
-- (year=__HIVE_DEFAULT_PARTITION__/...).
-- partition_by: year, month, day
SELECT
    sale_id, sale_date, customer_id, customer_name, product_id, product_name,
    category, seller_id, seller_name, region, quantity, unit_price,
    total_value, updated_at,
    CAST(date_part('year', legacy_date(sale_date)) AS INT) AS year,
    CAST(date_part('month', legacy_date(sale_date)) AS INT) AS month,
    CAST(date_part('day', legacy_date(sale_date)) AS INT) AS day
FROM raw.sales
