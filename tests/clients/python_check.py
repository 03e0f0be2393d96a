"""Drives streamsql with psycopg2 and SQLAlchemy 1.4 (Debian packages)."""
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
print("python ok")
