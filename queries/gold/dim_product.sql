-- One row per product as silver spells it (a product with two spellings
-- would have two rows, which dim_keys_are_unique reports). A product's rows
-- come from that product's sales alone, so a sync recomputes only the
-- products whose sales changed and keeps the others' rows as they were.
-- incremental: merge on product_id
SELECT DISTINCT product_id, product_name, category
FROM silver.sales
ORDER BY product_id
