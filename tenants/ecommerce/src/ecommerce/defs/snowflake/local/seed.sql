-- Local stand-in only: the raw tables the ETL pipeline fills in production, with a few rows.
-- Run once, when none of the declared source tables exists yet (`dynamic-tables local start`).
CREATE TABLE IF NOT EXISTS ECOMMERCE.RAW.RAW_CUSTOMERS (
    customer_id VARCHAR(50) NOT NULL,
    email VARCHAR(255),
    first_name VARCHAR(100),
    last_name VARCHAR(100)
);

CREATE TABLE IF NOT EXISTS ECOMMERCE.RAW.RAW_ORDERS (
    order_id VARCHAR(50) NOT NULL,
    customer_id VARCHAR(50) NOT NULL,
    order_date DATE NOT NULL,
    revenue NUMBER(12, 2) NOT NULL,
    status VARCHAR(20)
);

INSERT INTO ECOMMERCE.RAW.RAW_CUSTOMERS (customer_id, email, first_name, last_name) VALUES
    ('C001', 'ada@example.com', 'Ada', 'Lovelace'),
    ('C002', 'grace@example.com', 'Grace', 'Hopper'),
    ('C003', 'alan@example.com', 'Alan', 'Turing');

INSERT INTO ECOMMERCE.RAW.RAW_ORDERS (order_id, customer_id, order_date, revenue, status) VALUES
    ('O1001', 'C001', DATEADD('day', -3, CURRENT_DATE()), 120.50, 'completed'),
    ('O1002', 'C001', DATEADD('day', -2, CURRENT_DATE()), 80.00, 'completed'),
    ('O1003', 'C002', DATEADD('day', -2, CURRENT_DATE()), 42.25, 'completed'),
    ('O1004', 'C003', DATEADD('day', -1, CURRENT_DATE()), 310.00, 'returned'),
    ('O1005', 'C002', DATEADD('day', -1, CURRENT_DATE()), 19.99, 'completed');
