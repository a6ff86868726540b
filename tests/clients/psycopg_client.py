"""A real PostgreSQL driver (psycopg 3) against `strata serve`, for
tests/it/serve.rs: prints what it read as JSON, with each value's Python
type, so the Rust test compares it with the lake.

usage: psycopg_client.py PORT PASSWORD|- CHECK
"""

import datetime
import decimal
import json
import sys
import threading
import time

import psycopg


def connect(port, password):
    kw = dict(host="127.0.0.1", port=port, user="strata", dbname="strata", connect_timeout=10)
    if password != "-":
        kw["password"] = password
    return psycopg.connect(**kw)


def typed(v):
    return [type(v).__name__, str(v)]


def prepared(port, password):
    """A prepared statement with typed parameters, text and binary results."""
    out = {}
    with connect(port, password) as conn:
        sql = (
            "SELECT sale_date, total_sales, sales_count FROM gold.daily_sales "
            "WHERE sale_date BETWEEN %s AND %s ORDER BY sale_date"
        )
        args = (datetime.date(2023, 1, 1), datetime.date(2023, 1, 31))
        # prepare=True: Parse once, then Bind/Execute, as a driver's
        # prepared statement does.
        for round_ in range(2):
            rows = conn.execute(sql, args, prepare=True).fetchall()
            out[f"text_{round_}"] = [[typed(v) for v in r] for r in rows]
        cur = conn.cursor(binary=True)
        cur.execute(
            "SELECT total_sales, sale_date FROM gold.daily_sales WHERE total_sales > %s "
            "ORDER BY total_sales DESC LIMIT 3",
            (decimal.Decimal("1000.50"),),
        )
        out["binary"] = [[typed(v) for v in r] for r in cur.fetchall()]
    return out


def concurrent(port, password):
    """8 clients at once, each its own query; their answers."""
    answers = {}

    def one(i):
        with connect(port, password) as conn:
            row = conn.execute(
                "SELECT count(*), sum(total_value) FROM gold.fact_sales WHERE customer_id %% 8 = %s",
                (i,),
            ).fetchone()
            answers[i] = [str(row[0]), str(row[1])]

    threads = [threading.Thread(target=one, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {str(k): v for k, v in sorted(answers.items())}


def timeout(port, password):
    """A query past the server's timeout is stopped with SQLSTATE 57014."""
    with connect(port, password) as conn:
        try:
            conn.execute(
                "SELECT count(*) FROM gold.fact_sales a, gold.fact_sales b, gold.fact_sales c "
                "WHERE a.sale_id + b.sale_id + c.sale_id < 0"
            ).fetchone()
            return {"error": None}
        except psycopg.Error as e:
            return {"error": [e.sqlstate, str(e)]}


def cancel(port, password):
    """A long query cancelled from another thread; the session goes on."""
    with connect(port, password) as conn:
        # The session's first statement opens the lake; after it, the long
        # query reaches the server at once.
        conn.execute("SELECT 1").fetchone()
        conn.rollback()
        done = threading.Event()

        def press_ctrl_c():
            # A cancel that arrives before the statement is running is
            # ignored, by PostgreSQL as by Strata; a user presses again.
            while not done.wait(1.0):
                conn.cancel()

        presser = threading.Thread(target=press_ctrl_c)
        started = time.monotonic()
        presser.start()
        error = None
        try:
            # Billions of combinations, none of them kept: no row comes
            # before the whole join is read.
            conn.execute(
                "SELECT count(*) FROM gold.fact_sales a, gold.fact_sales b, gold.fact_sales c, "
                "gold.fact_sales d WHERE a.sale_id + b.sale_id + c.sale_id + d.sale_id < 0"
            ).fetchone()
        except psycopg.Error as e:
            error = [e.sqlstate, str(e)]
        seconds = time.monotonic() - started
        done.set()
        presser.join()
        conn.rollback()
        after = conn.execute("SELECT 41 + 1").fetchone()[0]
        return {"error": error, "seconds": seconds, "after": after}


def discovery(port, password):
    """What Superset does on connecting, through SQLAlchemy's PostgreSQL
    dialect: list schemas and tables, reflect a table's columns, keys,
    indexes and comment, then query it."""
    import sqlalchemy as sa

    auth = "strata" if password == "-" else f"strata:{password}"
    engine = sa.create_engine(f"postgresql+psycopg://{auth}@127.0.0.1:{port}/strata")
    inspector = sa.inspect(engine)
    columns = inspector.get_columns("fact_sales", schema="gold")
    table = sa.Table("fact_sales", sa.MetaData(), schema="gold", autoload_with=engine)
    with engine.connect() as conn:
        total = conn.execute(
            sa.select(sa.func.sum(table.c.total_value)).where(table.c.quantity > 5)
        ).scalar_one()
    engine.dispose()
    return {
        "schemas": inspector.get_schema_names(),
        "tables": inspector.get_table_names(schema="gold"),
        "views": inspector.get_view_names(schema="gold"),
        "columns": [[c["name"], str(c["type"]), c["nullable"]] for c in columns],
        "pk": inspector.get_pk_constraint("fact_sales", schema="gold")["constrained_columns"],
        "fks": inspector.get_foreign_keys("fact_sales", schema="gold"),
        "indexes": inspector.get_indexes("fact_sales", schema="gold"),
        "comment": inspector.get_table_comment("fact_sales", schema="gold")["text"],
        "reflected": [c.name for c in table.columns],
        "total": typed(total),
    }


if __name__ == "__main__":
    port, password, check = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    print(json.dumps({"prepared": prepared, "concurrent": concurrent, "cancel": cancel, "timeout": timeout, "discovery": discovery}[check](port, password)))
