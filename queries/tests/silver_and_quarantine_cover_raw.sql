-- Nothing is dropped: every sale of bronze (which holds every raw row, see
-- bronze_holds_every_raw_row) is in silver or in the quarantine. One
-- column of each is read, from Parquet; the raw CSV is not scanned again.
SELECT b.sale_id, b.sale_date
FROM bronze.sales b
LEFT JOIN (
    SELECT DISTINCT sale_id FROM silver.sales
    UNION
    SELECT DISTINCT sale_id FROM silver.sales_quarantine
) kept ON kept.sale_id = b.sale_id
WHERE kept.sale_id IS NULL
