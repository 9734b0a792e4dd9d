SELECT
    b.month,
    b.target_revenue,
    COALESCE(SUM(r.revenue), 0) AS revenue,
    COALESCE(SUM(r.order_count), 0) AS order_count
FROM FINANCE.REPORTING.BUDGET_TARGETS AS b
LEFT JOIN ECOMMERCE.ANALYTICS.DAILY_REVENUE_ROLLUP AS r
    ON DATE_TRUNC('month', r.order_date) = b.month
GROUP BY b.month, b.target_revenue
