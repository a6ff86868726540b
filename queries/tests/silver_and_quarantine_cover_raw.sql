-- Nothing is dropped: clean rows plus quarantined rows = distinct raw rows.
WITH counts AS (
    SELECT
        (SELECT count(*) FROM silver.sales) AS clean,
        (SELECT count(*) FROM silver.sales_quarantine) AS quarantined,
        (SELECT count(*) FROM (SELECT DISTINCT * FROM raw.sales)) AS distinct_raw
)
SELECT * FROM counts WHERE clean + quarantined <> distinct_raw
