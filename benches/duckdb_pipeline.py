"""The same medallion pipeline as Strata's `queries/`, in DuckDB SQL: the
peer `strata bench` and `cargo bench` time in alternating rounds.

    python3 benches/duckdb_pipeline.py LEGACY.csv WORK_DIR THREADS MEMORY_LIMIT

legacy CSV -> raw CSV -> bronze Parquet (hive year=/month=/day=) -> silver
(distinct, dates parsed, regions normalised) and quarantine -> gold (four
dimensions, facts, daily sales partitioned by day) -> monthly report. The
same checks of a date (DD/MM/YYYY, YYYY-MM-DD, YYYY-MM-DD HH:MI:SS, exactly)
and the same zstd Parquet. Prints seconds per phase as JSON pairs, in order,
the whole pipeline last.
"""

import json
import shutil
import sys
import time
from pathlib import Path

import duckdb

COLUMNS = """{
    'sale_id': 'BIGINT', 'sale_date': 'VARCHAR', 'customer_id': 'INTEGER',
    'customer_name': 'VARCHAR', 'product_id': 'INTEGER', 'product_name': 'VARCHAR',
    'category': 'VARCHAR', 'seller_id': 'INTEGER', 'seller_name': 'VARCHAR',
    'region': 'VARCHAR', 'quantity': 'INTEGER', 'unit_price': 'DECIMAL(12,2)',
    'total_value': 'DECIMAL(14,2)', 'updated_at': 'TIMESTAMP'}"""

CLEAN = """sale_id, sale_date, customer_id, customer_name, product_id,
    product_name, category, seller_id, seller_name, region, quantity,
    unit_price, total_value, updated_at"""


def main() -> None:
    csv, work, threads, memory = sys.argv[1], Path(sys.argv[2]), sys.argv[3], sys.argv[4]
    if work.exists():
        shutil.rmtree(work)
    for d in ["raw", "bronze", "silver", "gold"]:
        (work / d).mkdir(parents=True)
    con = duckdb.connect()
    con.execute(f"SET threads = {int(threads)}")
    con.execute(f"SET memory_limit = '{memory}'")
    con.execute(f"SET temp_directory = '{work / 'spill'}'")
    con.execute("SET preserve_insertion_order = false")
    con.execute(
        r"""CREATE MACRO legacy_date(s) AS CASE
            WHEN regexp_full_match(s, '\d{2}/\d{2}/\d{4}') THEN CAST(try_strptime(s, '%d/%m/%Y') AS DATE)
            WHEN regexp_full_match(s, '\d{4}-\d{2}-\d{2}') THEN CAST(try_strptime(s, '%Y-%m-%d') AS DATE)
            WHEN regexp_full_match(s, '\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}')
                THEN CAST(try_strptime(s, '%Y-%m-%d %H:%M:%S') AS DATE)
        END"""
    )
    con.execute(
        r"""CREATE MACRO legacy_date_issue(s) AS CASE
            WHEN s IS NULL OR trim(s) = '' THEN 'empty_date'
            WHEN NOT (regexp_full_match(s, '\d{2}/\d{2}/\d{4}') OR regexp_full_match(s, '\d{4}-\d{2}-\d{2}')
                      OR regexp_full_match(s, '\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}')) THEN 'unrecognised_format'
            ELSE 'invalid_date'
        END"""
    )
    pq = "(FORMAT parquet, COMPRESSION zstd)"
    phases = {}

    def phase(name, *sql):
        t = time.perf_counter()
        for s in sql:
            con.execute(s)
        phases[name] = time.perf_counter() - t

    raw, bronze, silver, gold = (str(work / d) for d in ["raw", "bronze", "silver", "gold"])
    phase(
        "raw",
        f"""COPY (SELECT * FROM read_csv('{csv}', header = true, columns = {COLUMNS}))
            TO '{raw}/sales.csv' (HEADER)""",
    )
    phase(
        "bronze",
        f"""COPY (SELECT *, year(legacy_date(sale_date)) AS year,
                 month(legacy_date(sale_date)) AS month, day(legacy_date(sale_date)) AS day
              FROM read_csv('{raw}/sales.csv', header = true, columns = {COLUMNS}))
            TO '{bronze}/sales' (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (year, month, day))""",
    )
    bronze_scan = f"read_parquet('{bronze}/sales/**/*.parquet', hive_partitioning = true)"
    phase(
        "silver",
        f"""COPY (WITH d AS (SELECT DISTINCT {CLEAN} FROM {bronze_scan} WHERE year IS NOT NULL)
              SELECT sale_id, legacy_date(sale_date) AS sale_date, customer_id, customer_name,
                     product_id, product_name, category, seller_id, seller_name,
                     CASE lower(trim(region)) WHEN 'norte' THEN 'Norte' WHEN 'nordeste' THEN 'Nordeste'
                          WHEN 'centro-oeste' THEN 'Centro-Oeste' WHEN 'sudeste' THEN 'Sudeste'
                          WHEN 'sul' THEN 'Sul' ELSE trim(region) END AS region,
                     quantity, unit_price, total_value, updated_at
              FROM d) TO '{silver}/sales.parquet' {pq}""",
        f"""COPY (WITH d AS (SELECT DISTINCT {CLEAN} FROM {bronze_scan} WHERE year IS NULL)
              SELECT *, legacy_date_issue(sale_date) AS reason FROM d ORDER BY sale_id)
            TO '{silver}/sales_quarantine.parquet' {pq}""",
    )
    s = f"read_parquet('{silver}/sales.parquet')"
    phase(
        "gold",
        f"""COPY (SELECT DISTINCT customer_id, customer_name, region FROM {s} ORDER BY customer_id)
            TO '{gold}/dim_customer.parquet' {pq}""",
        f"""COPY (SELECT DISTINCT product_id, product_name, category FROM {s} ORDER BY product_id)
            TO '{gold}/dim_product.parquet' {pq}""",
        f"""COPY (SELECT DISTINCT seller_id, seller_name FROM {s} ORDER BY seller_id)
            TO '{gold}/dim_seller.parquet' {pq}""",
        f"""COPY (WITH b AS (SELECT min(sale_date) AS f, max(sale_date) AS l FROM {s}),
                  days AS (SELECT CAST(unnest(generate_series(f, l, INTERVAL 1 DAY)) AS DATE) AS sale_date
                           FROM b WHERE f IS NOT NULL)
              SELECT CAST(year(sale_date) * 10000 + month(sale_date) * 100 + day(sale_date) AS INT) AS date_key,
                     sale_date, year(sale_date) AS year, month(sale_date) AS month, day(sale_date) AS day,
                     quarter(sale_date) AS quarter, monthname(sale_date) AS month_name,
                     isodow(sale_date) AS day_of_week, isodow(sale_date) >= 6 AS is_weekend
              FROM days ORDER BY sale_date) TO '{gold}/dim_date.parquet' {pq}""",
        f"""COPY (SELECT sale_id,
                     CAST(year(sale_date) * 10000 + month(sale_date) * 100 + day(sale_date) AS INT) AS date_key,
                     sale_date, customer_id, product_id, seller_id, quantity, unit_price, total_value
              FROM {s}) TO '{gold}/fact_sales.parquet' {pq}""",
        f"""COPY (SELECT sale_date, CAST(sum(total_value) AS DECIMAL(18, 2)) AS total_sales,
                     CAST(sum(quantity) AS BIGINT) AS total_quantity, count(*) AS sales_count,
                     year(sale_date) AS year, month(sale_date) AS month, day(sale_date) AS day
              FROM read_parquet('{gold}/fact_sales.parquet') GROUP BY sale_date ORDER BY sale_date)
            TO '{gold}/daily_sales' (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (year, month, day))""",
    )
    phase(
        "report",
        f"""SELECT year, month, CAST(sum(total_sales) AS DECIMAL(18, 2)), CAST(sum(total_quantity) AS BIGINT),
                   CAST(sum(sales_count) AS BIGINT)
            FROM read_parquet('{gold}/daily_sales/**/*.parquet', hive_partitioning = true)
            GROUP BY year, month ORDER BY year, month""",
    )
    phases["whole"] = sum(phases.values())
    print(json.dumps(list(phases.items())))


if __name__ == "__main__":
    main()
