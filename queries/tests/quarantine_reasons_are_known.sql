-- Every quarantined row says why, in the contract's words.
SELECT sale_id, sale_date, reason
FROM silver.sales_quarantine
WHERE reason IS NULL
   OR reason NOT IN ('empty_date', 'unrecognised_format', 'invalid_date')
