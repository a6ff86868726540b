CREATE SCHEMA IF NOT EXISTS `gold`;

CREATE EXTERNAL TABLE IF NOT EXISTS `gold`.`daily_sales` (
  `sale_date` date,
  `total_sales` decimal(18,2),
  `total_quantity` bigint,
  `sales_count` bigint
)
PARTITIONED BY (
  `year` int,
  `month` int,
  `day` int
)
STORED AS PARQUET
LOCATION 's3://acme-lake/strata/gold/daily_sales/'
TBLPROPERTIES (
  'parquet.compression' = 'ZSTD',
  'projection.enabled' = 'true',
  'projection.year.type' = 'integer',
  'projection.year.range' = '2021,2024',
  'projection.month.type' = 'integer',
  'projection.month.range' = '1,12',
  'projection.day.type' = 'integer',
  'projection.day.range' = '1,31',
  'storage.location.template' = 's3://acme-lake/strata/gold/daily_sales/year=${year}/month=${month}/day=${day}/'
);

CREATE EXTERNAL TABLE IF NOT EXISTS `gold`.`dim_customer` (
  `customer_id` int,
  `customer_name` string,
  `region` string
)
STORED AS PARQUET
LOCATION 's3://acme-lake/strata/gold/dim_customer/'
TBLPROPERTIES (
  'parquet.compression' = 'ZSTD'
);

CREATE EXTERNAL TABLE IF NOT EXISTS `gold`.`dim_date` (
  `date_key` int,
  `sale_date` date,
  `year` int,
  `month` int,
  `day` int,
  `quarter` int,
  `month_name` string,
  `day_of_week` int,
  `is_weekend` boolean
)
STORED AS PARQUET
LOCATION 's3://acme-lake/strata/gold/dim_date/'
TBLPROPERTIES (
  'parquet.compression' = 'ZSTD'
);

CREATE EXTERNAL TABLE IF NOT EXISTS `gold`.`dim_product` (
  `product_id` int,
  `product_name` string,
  `category` string
)
STORED AS PARQUET
LOCATION 's3://acme-lake/strata/gold/dim_product/'
TBLPROPERTIES (
  'parquet.compression' = 'ZSTD'
);

CREATE EXTERNAL TABLE IF NOT EXISTS `gold`.`dim_seller` (
  `seller_id` int,
  `seller_name` string
)
STORED AS PARQUET
LOCATION 's3://acme-lake/strata/gold/dim_seller/'
TBLPROPERTIES (
  'parquet.compression' = 'ZSTD'
);

CREATE EXTERNAL TABLE IF NOT EXISTS `gold`.`fact_sales` (
  `sale_id` bigint,
  `date_key` int,
  `sale_date` date,
  `customer_id` int,
  `product_id` int,
  `seller_id` int,
  `quantity` int,
  `unit_price` decimal(12,2),
  `total_value` decimal(14,2)
)
STORED AS PARQUET
LOCATION 's3://acme-lake/strata/gold/fact_sales/'
TBLPROPERTIES (
  'parquet.compression' = 'ZSTD'
);

