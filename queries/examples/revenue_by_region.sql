-- Monthly revenue by region (Athena: date_format with MySQL codes).
SELECT date_format(f.sale_date, '%Y-%m') AS month,
       c.region,
       sum(f.total_value) AS revenue,
       count(*) AS sales
FROM gold.fact_sales f
JOIN gold.dim_customer c ON c.customer_id = f.customer_id
GROUP BY 1, 2
ORDER BY 1, 2
