-- Unlike Dagster's original example, no CURRENT_TIMESTAMP() column: a non-deterministic column
-- makes every refresh change data, so no refresh could ever be NO_DATA.
SELECT
    c.customer_id,
    c.email,
    c.first_name,
    c.last_name,
    COUNT(o.order_id) AS order_count,
    SUM(o.revenue) AS lifetime_value,
    MIN(o.order_date) AS first_order_date,
    MAX(o.order_date) AS latest_order_date
FROM ECOMMERCE.RAW.RAW_CUSTOMERS AS c
LEFT JOIN ECOMMERCE.RAW.RAW_ORDERS AS o
    ON c.customer_id = o.customer_id
    AND o.status = 'completed'
GROUP BY c.customer_id, c.email, c.first_name, c.last_name
