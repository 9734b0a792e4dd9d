SELECT
    order_date,
    COUNT(DISTINCT order_id) AS order_count,
    COUNT(DISTINCT customer_id) AS unique_customers,
    SUM(revenue) AS revenue,
    AVG(revenue) AS avg_order_value
FROM ECOMMERCE.RAW.RAW_ORDERS
WHERE status = 'completed'
GROUP BY order_date
