"""Drives streamsql with psycopg2, psycopg 3, SQLAlchemy 1.4, pandas and pgcli (Debian packages)."""
import datetime
import decimal
import sys

import psycopg2
import sqlalchemy
from sqlalchemy import inspect, text

url = sys.argv[1]  # host:port

conn = psycopg2.connect(host=url.split(":")[0], port=int(url.split(":")[1]), user="py", dbname="streamsql")
cur = conn.cursor()
cur.execute("CREATE TABLE payments (id BIGINT PRIMARY KEY, address TEXT, btc NUMERIC(16,8), at TIMESTAMPTZ, ok BOOLEAN)")
rows = [(i, "bc1q%d" % i, decimal.Decimal("0.%08d" % (i * 1000)), datetime.datetime(2026, 1, 1, 0, 0, i, tzinfo=datetime.timezone.utc), i % 2 == 0) for i in range(10)]
cur.executemany("INSERT INTO payments VALUES (%s, %s, %s, %s, %s)", rows)
conn.commit()
cur.execute("SELECT id, address, btc, at, ok FROM payments WHERE btc > %s AND address LIKE %s ORDER BY id", (decimal.Decimal("0.00002"), "bc1q%"))
got = cur.fetchall()
assert [r[0] for r in got] == list(range(3, 10)), got
assert isinstance(got[0][2], decimal.Decimal) and got[0][2] == decimal.Decimal("0.00003000"), got[0]
assert got[0][3] == datetime.datetime(2026, 1, 1, 0, 0, 3, tzinfo=datetime.timezone.utc), got[0][3]
assert got[0][4] is False
cur.execute("SELECT %s::int + 1, %s, NULL", (41, None))
assert cur.fetchone() == (42, None, None)
try:
    cur.execute("SELECT * FROM nope")
    raise AssertionError("expected an error")
except psycopg2.Error as e:
    assert e.pgcode == "42P01", e.pgcode
conn.rollback()
conn.close()

engine = sqlalchemy.create_engine("postgresql+psycopg2://py@%s/streamsql" % url)
insp = inspect(engine)
assert insp.get_table_names() == ["payments"], insp.get_table_names()
cols = insp.get_columns("payments")
assert [c["name"] for c in cols] == ["id", "address", "btc", "at", "ok"], cols
assert str(cols[2]["type"]) == "NUMERIC(16, 8)", cols[2]["type"]
assert cols[0]["nullable"] is False and cols[1]["nullable"] is True
pk = insp.get_pk_constraint("payments")
assert pk["constrained_columns"] == ["id"], pk
t = sqlalchemy.Table("payments", sqlalchemy.MetaData(), autoload_with=engine)
assert [c.name for c in t.primary_key.columns] == ["id"], t.primary_key
with engine.connect() as c:
    n = c.execute(text("SELECT count(*) FROM payments WHERE ok = :ok"), {"ok": True}).scalar()
    assert n == 5, n
# server-side cursors: psycopg2 named cursors (itersize), WITH HOLD and
# scrollable ones, SQLAlchemy stream_results, pandas chunksize, psycopg 3
conn = psycopg2.connect(host=url.split(":")[0], port=int(url.split(":")[1]), user="py", dbname="streamsql")
named = conn.cursor(name="big")
named.itersize = 1000
named.execute("SELECT g, g * 2 FROM generate_series(1, 25000) g")
total = sum(1 for _ in named)
assert total == 25000, total
named.close()
conn.commit()
held = conn.cursor(name="held", withhold=True)
held.execute("SELECT id FROM payments ORDER BY id")
conn.commit()
assert [r[0] for r in held.fetchmany(3)] == [0, 1, 2]
held.close()
sc = conn.cursor(name="sc", scrollable=True)
sc.execute("SELECT id FROM payments ORDER BY id")
sc.scroll(5, mode="absolute")
assert sc.fetchone()[0] == 5
sc.scroll(-3)
assert sc.fetchone()[0] == 3
sc.close()
conn.rollback()
conn.close()
with engine.connect() as c:
    res = c.execution_options(stream_results=True).execute(text("SELECT g FROM generate_series(1, 20000) g"))
    n = 0
    for part in res.partitions(500):
        n += len(part)
    assert n == 20000, n

# SQLAlchemy's view reflection (Superset and others show the definition)
with engine.begin() as c:
    c.execute(text("CREATE VIEW big_payments AS SELECT id, btc FROM payments WHERE btc > 0.00005"))
insp = inspect(engine)
assert "big_payments" in insp.get_view_names(), insp.get_view_names()
assert "SELECT id, btc FROM payments" in insp.get_view_definition("big_payments"), insp.get_view_definition("big_payments")

# pgcli's start-up (completion metadata) and pgspecial's \d commands
from pgcli.pgexecute import PGExecute
from pgspecial.main import PGSpecial
pe = PGExecute(database="streamsql", user="py", password="", host=url.split(":")[0], port=int(url.split(":")[1]), dsn=None)
for what in ("search_path", "schemata", "tables", "views", "table_columns", "view_columns", "functions", "datatypes", "foreignkeys", "databases", "casing"):
    list(getattr(pe, what)())
assert ("public", "payments") in [tuple(t[:2]) for t in pe.tables()], list(pe.tables())
assert "SELECT id, btc" in str(pe.view_definition("big_payments"))
special = PGSpecial()
for cmd in ("\\d payments", "\\d+ payments", "\\d big_payments", "\\dt", "\\dv", "\\df", "\\dn", "\\l", "\\du"):
    with pe.conn.cursor() as cur:
        for title, rows, headers, status in special.execute(cur, cmd):
            if rows is not None:
                list(rows)
with pe.conn.cursor() as cur:
    out = list(special.execute(cur, "\\d payments"))
    cols = [r[0] for r in out[0][1]]
    assert cols == ["id", "address", "btc", "at", "ok"], cols

import pandas
chunks = list(pandas.read_sql(text("SELECT id, btc FROM payments ORDER BY id"), engine.connect().execution_options(stream_results=True), chunksize=4))
assert [len(ch) for ch in chunks] == [4, 4, 2], [len(ch) for ch in chunks]

import psycopg
with psycopg.connect(host=url.split(":")[0], port=int(url.split(":")[1]), user="py", dbname="streamsql") as p3:
    with p3.cursor(name="p3cur") as cur3:
        cur3.execute("SELECT id, address FROM payments WHERE id >= %s ORDER BY id", (7,))
        assert [r[0] for r in cur3.fetchmany(2)] == [7, 8]
        assert [r[0] for r in cur3.fetchall()] == [9]
    with p3.cursor(name="p3iter") as cur3:
        cur3.itersize = 100
        cur3.execute("SELECT g FROM generate_series(1, 1000) g")
        assert sum(r[0] for r in cur3) == 500500
print("python ok")
