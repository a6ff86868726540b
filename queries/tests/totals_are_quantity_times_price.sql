-- Money is exact: every clean sale's total is quantity times unit price.
SELECT sale_id, quantity, unit_price, total_value
FROM silver.sales
WHERE total_value <> quantity * unit_price
