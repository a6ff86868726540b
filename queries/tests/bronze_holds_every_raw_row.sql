-- Bronze loses nothing: the same row count and money as raw, duplicates
-- included. Both figures are what the writers counted and summed while
-- writing (meta.tables, meta.column_totals), so no table is scanned again.
-- A raw table holding landed files has no recorded sum; its rows are still
-- compared. A bronze that `strata sync` keeps (model 'strata sync') holds
-- the source's changes since raw was extracted, so it is not raw's copy:
-- `strata verify` compares it with the source itself.
-- checks: raw.sales, bronze.sales
WITH rows_of AS (
    SELECT layer, row_count FROM meta.tables
    WHERE table_name = 'sales' AND layer IN ('raw', 'bronze')
),
synced AS (
    SELECT count(*) AS n FROM meta.tables
    WHERE table_name = 'sales' AND layer = 'bronze' AND model = 'strata sync'
),
money_of AS (
    SELECT layer, total FROM meta.column_totals
    WHERE table_name = 'sales' AND column_name = 'total_value' AND layer IN ('raw', 'bronze')
),
r AS (
    SELECT n.row_count AS n, m.total AS money
    FROM rows_of n LEFT JOIN money_of m ON m.layer = n.layer
    WHERE n.layer = 'raw'
),
b AS (
    SELECT n.row_count AS n, m.total AS money
    FROM rows_of n LEFT JOIN money_of m ON m.layer = n.layer
    WHERE n.layer = 'bronze'
)
SELECT r.n AS raw_rows, b.n AS bronze_rows, r.money AS raw_money, b.money AS bronze_money
FROM r, b, synced
WHERE synced.n = 0
  AND ((r.n IS DISTINCT FROM b.n)
   OR (r.money IS NOT NULL AND r.money IS DISTINCT FROM b.money))
