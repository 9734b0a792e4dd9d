-- Local stand-in only: the source tables the loading pipeline fills in production, with a few rows.
-- Run once, when none of the declared source tables exists yet (`dynamic-tables local start`, or
-- the first connection of the code location).
CREATE TABLE IF NOT EXISTS {{ cookiecutter.snowflake_database }}.{{ cookiecutter.snowflake_schema }}.RAW_EVENTS (
    event_id VARCHAR(50) NOT NULL,
    event_date DATE NOT NULL,
    event_kind VARCHAR(50) NOT NULL
);

INSERT INTO {{ cookiecutter.snowflake_database }}.{{ cookiecutter.snowflake_schema }}.RAW_EVENTS (event_id, event_date, event_kind) VALUES
    ('E1', DATEADD('day', -2, CURRENT_DATE()), 'signup'),
    ('E2', DATEADD('day', -1, CURRENT_DATE()), 'signup'),
    ('E3', DATEADD('day', -1, CURRENT_DATE()), 'purchase'),
    ('E4', CURRENT_DATE(), 'purchase');
