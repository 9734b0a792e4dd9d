CREATE VIEW "SHOP"."BI"."DASHBOARD"
AS
select 1 as one;
