ALTER DYNAMIC TABLE "SHOP"."Analytics Mart"."Orders, frozen" SET
  TARGET_LAG = '2 hours'
  SCHEDULER = DISABLE
  WAREHOUSE = "Transforming WH"
  INITIALIZATION_WAREHOUSE = "TRANSFORMING_XL"
  DATA_RETENTION_TIME_IN_DAYS = 0
  FROZEN WHERE (order_date < current_date() - 30);
ALTER DYNAMIC TABLE "SHOP"."Analytics Mart"."Orders, frozen" SET COMMENT = 'Orders; it''s \\ frozen\nafter 30 days';
ALTER DYNAMIC TABLE "SHOP"."Analytics Mart"."Orders, frozen" CLUSTER BY (order_date, to_date(created_at));
