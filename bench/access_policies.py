"""The cost of row policies and column masks: the guard's validate() per statement without and with a policy
(p50 and p95 µs; the difference is the rewrite), and validate + run on a SQLite table of 100,000 rows without
and with a row policy (p50 ms), side by side.

    .venv/bin/python bench/access_policies.py [--repeat 300]

Not measured here: the app's one extra app-database query per request that reads the connection's policies.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

from nl2sql.sqlguard import Access, ColumnMask, GuardPolicy, RowFilter, run, validate

STATEMENTS = [
    "SELECT id, amount FROM sales",
    "SELECT s.id, r.name FROM sales s JOIN reps r ON r.id = s.owner_id",
    "SELECT region, SUM(amount) AS total FROM sales GROUP BY region",
    "SELECT id FROM sales WHERE amount > (SELECT AVG(amount) FROM sales)",
    "WITH big AS (SELECT * FROM sales WHERE amount > 10) SELECT id FROM big",
    "SELECT id FROM sales WHERE region = 'EU' UNION SELECT id FROM sales WHERE region = 'US'",
    "SELECT id, ROW_NUMBER() OVER (ORDER BY amount DESC, id) AS rn FROM sales",
    "SELECT a.id, b.id FROM sales a JOIN sales b ON a.owner_id = b.owner_id AND a.id < b.id",
    "SELECT id FROM reps WHERE EXISTS (SELECT 1 FROM sales WHERE sales.owner_id = reps.id)",
]
TABLES = {"sales", "reps"}
ACCESS = Access(filters=(RowFilter("sales", "region = {user.region}"),),
                masks=(ColumnMask("reps.email", "last4"),), attributes={"region": "EU"},
                columns={"reps": ("id", "name", "region", "email")})


def _times(action, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        out.append(time.perf_counter() - started)
    return out


def _database(folder: Path) -> sa.Engine:
    path = folder / "sales.db"
    with sqlite3.connect(path) as conn:
        conn.executescript("CREATE TABLE reps (id INTEGER PRIMARY KEY, name TEXT, region TEXT, email TEXT);"
                           "CREATE TABLE sales (id INTEGER PRIMARY KEY, region TEXT, owner_id INTEGER, amount INTEGER);")
        conn.executemany("INSERT INTO reps VALUES (?, ?, ?, ?)",
                         [(i, f"rep {i}", ("EU", "US", "APAC")[i % 3], f"r{i}@example.com") for i in range(100)])
        conn.executemany("INSERT INTO sales VALUES (?, ?, ?, ?)",
                         [(i, ("EU", "US", "APAC")[i % 3], i % 100, i % 997) for i in range(100_000)])
    return sa.create_engine(f"sqlite:///{path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=300)
    args = parser.parse_args()
    plain = GuardPolicy(dialect="sqlite", allowed_tables=TABLES)
    policed = GuardPolicy(dialect="sqlite", allowed_tables=TABLES, access=ACCESS)
    print(f"{'statement':70} {'plain p50':>10} {'policy p50':>11} {'plain p95':>10} {'policy p95':>11}  (µs)")
    extra = []
    for sql in STATEMENTS:
        a = _times(lambda: validate(sql, plain), args.repeat)
        b = _times(lambda: validate(sql, policed), args.repeat)
        extra.append(statistics.median(b) - statistics.median(a))
        q = lambda xs, p: statistics.quantiles(xs, n=100)[p - 1] * 1e6  # noqa: E731
        print(f"{sql[:70]:70} {statistics.median(a) * 1e6:10.0f} {statistics.median(b) * 1e6:11.0f} "
              f"{q(a, 95):10.0f} {q(b, 95):11.0f}")
    print(f"the rewrite's added cost per statement, p50 over the statements: {statistics.median(extra) * 1e6:.0f} µs")
    with tempfile.TemporaryDirectory() as folder:
        engine = _database(Path(folder))
        for sql in STATEMENTS[:3]:
            a = _times(lambda: run(validate(sql, plain), engine, timeout_s=30, max_rows=1000), 30)
            b = _times(lambda: run(validate(sql, policed), engine, timeout_s=30, max_rows=1000), 30)
            print(f"validate + run, {sql[:50]:50} plain p50 {statistics.median(a) * 1e3:7.2f} ms, "
                  f"with a policy {statistics.median(b) * 1e3:7.2f} ms")
        engine.dispose()


if __name__ == "__main__":
    main()
