-- Nothing is dropped: every sale of bronze (which holds every raw row, see
-- bronze_holds_every_raw_row) is in silver or in the quarantine; a failure
-- lists the sale ids missing from both. One column of each is read, from
-- Parquet; the raw CSV is not scanned again. Grouped rather than joined:
-- an aggregate spills to disk, a hash join's build side does not, and at
-- 100M sales it did not fit the memory limit.
SELECT sale_id
FROM (
    SELECT sale_id, 0 AS kept FROM bronze.sales
    UNION ALL
    SELECT sale_id, 1 FROM silver.sales
    UNION ALL
    SELECT sale_id, 1 FROM silver.sales_quarantine
) ids
GROUP BY sale_id
HAVING max(kept) = 0
