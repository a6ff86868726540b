-- One row per sale, keyed to the dimensions by id and to dim_date by
-- date_key. Its files follow silver's months (hidden partitions: year and
-- month group the files into folders, yet are no columns of the table),
-- and a month of facts comes from that month of silver alone, so a sync
-- replaces only the months it changed instead of rewriting every fact.
-- hidden_partition_by: year, month
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
    total_value,
    year,
    month
FROM silver.sales
