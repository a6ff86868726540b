-- One row per customer as silver spells it (a customer with two spellings
-- would have two rows, which dim_keys_are_unique reports). A customer's rows
-- come from that customer's sales alone, so a sync recomputes only the
-- customers whose sales changed and keeps the others' rows as they were.
-- incremental: merge on customer_id
SELECT DISTINCT customer_id, customer_name, region
FROM silver.sales
ORDER BY customer_id
