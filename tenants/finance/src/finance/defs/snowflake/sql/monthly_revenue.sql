SELECT
    DATE_TRUNC('month', order_date) AS month,
    SUM(revenue) AS revenue,
    SUM(order_count) AS order_count
FROM ECOMMERCE.ANALYTICS.DAILY_REVENUE_ROLLUP
GROUP BY DATE_TRUNC('month', order_date)
