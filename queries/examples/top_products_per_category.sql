-- The three best-selling products of each category, by revenue (ties by id).
WITH revenue AS (
    SELECT p.category, p.product_id, p.product_name, sum(f.total_value) AS revenue
    FROM gold.fact_sales f
    JOIN gold.dim_product p ON p.product_id = f.product_id
    GROUP BY 1, 2, 3
),
ranked AS (
    SELECT *, row_number() OVER (PARTITION BY category ORDER BY revenue DESC, product_id) AS rank
    FROM revenue
)
SELECT category, rank, product_id, product_name, revenue
FROM ranked
WHERE rank <= 3
ORDER BY category, rank
