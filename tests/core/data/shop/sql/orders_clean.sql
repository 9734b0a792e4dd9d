select * from SHOP.RAW.ORDERS where status = 'done';
