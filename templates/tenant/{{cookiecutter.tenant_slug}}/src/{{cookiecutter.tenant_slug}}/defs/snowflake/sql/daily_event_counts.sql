SELECT
    event_date,
    event_kind,
    COUNT(*) AS event_count
FROM {{ cookiecutter.snowflake_database }}.{{ cookiecutter.snowflake_schema }}.RAW_EVENTS
GROUP BY event_date, event_kind
