-- One row per seller as silver spells it (a seller with two spellings
-- would have two rows, which dim_keys_are_unique reports). A seller's rows
-- come from that seller's sales alone, so a sync recomputes only the
-- sellers whose sales changed and keeps the others' rows as they were.
-- incremental: merge on seller_id
SELECT DISTINCT seller_id, seller_name
FROM silver.sales
ORDER BY seller_id
