CREATE OR ALTER DYNAMIC TABLE "SHOP"."Analytics Mart"."Orders, frozen"
  TARGET_LAG = '2 hours'
  SCHEDULER = DISABLE
  WAREHOUSE = "Transforming WH"
  INITIALIZATION_WAREHOUSE = "TRANSFORMING_XL"
  REFRESH_MODE = ADAPTIVE
  INITIALIZE = ON_SCHEDULE
  CLUSTER BY (order_date, to_date(created_at))
  DATA_RETENTION_TIME_IN_DAYS = 7
  COMMENT = 'Orders; it''s \\ frozen\nafter 30 days'
  FROZEN WHERE (order_date < current_date() - 30)
AS
select * from SHOP.RAW.ORDERS where status = 'done';
