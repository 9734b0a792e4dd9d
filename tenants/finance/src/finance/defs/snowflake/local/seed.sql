-- Local stand-in only: the source tables the planning sync fills in production, with a few rows.
-- Run once, when none of the declared source tables exists yet (`dynamic-tables local start`, or
-- the first connection of the code location).
CREATE TABLE IF NOT EXISTS FINANCE.REPORTING.BUDGET_TARGETS (
    month DATE NOT NULL,
    target_revenue NUMBER(12, 2) NOT NULL
);

INSERT INTO FINANCE.REPORTING.BUDGET_TARGETS (month, target_revenue) VALUES
    (DATE_TRUNC('month', DATEADD('month', -1, CURRENT_DATE())), 500.00),
    (DATE_TRUNC('month', CURRENT_DATE()), 600.00);
