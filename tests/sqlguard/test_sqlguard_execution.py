"""run() and probe() against real PostgreSQL, MariaDB and SQLite: read-only, time limit, row cap, rollback."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from nl2sql.sqlguard import QueryFailed, QueryTimeout, SqlRefused, probe, run, validate
from tests.sqlguard.conftest import counter_value
from tests.sqlguard.sqlguard_corpus import TABLES, policy_for, valid_cases

DIALECT = {"postgresql": "postgres", "mysql": "mysql", "mariadb": "mysql", "sqlite": "sqlite"}


def _policy(engine: sa.Engine, **changes):
    dialect = DIALECT[engine.dialect.name]
    changes.setdefault("allowed_tables", frozenset({*TABLES, "numbers"}))
    return policy_for(dialect, **changes)


def test_runs_every_analytical_query_of_the_corpus(engine):
    dialect = DIALECT[engine.dialect.name]
    failures = []
    for name, _, sql in valid_cases((dialect,)):
        try:
            result = run(validate(sql, _policy(engine)), engine, timeout_s=10, max_rows=100)
            assert result.columns
        except Exception as error:  # noqa: BLE001 — collect every failure, then report them together
            failures.append(f"{name}: {error}")
    assert not failures, "\n".join(failures)


def test_returns_columns_rows_and_types(engine):
    sql = validate(
        "SELECT o.id, c.name, o.total, o.ordered_at, c.created_at FROM orders o JOIN customers c ON c.id = o.customer_id ORDER BY o.id",
        _policy(engine),
    )
    result = run(sql, engine, timeout_s=10, max_rows=100)
    assert [column.name for column in result.columns] == ["id", "name", "total", "ordered_at", "created_at"]
    types = [column.type for column in result.columns]
    # SQLite stores dates as text and has no type in its cursor description.
    expected_dates = ["text", "text"] if engine.dialect.name == "sqlite" else ["datetime", "date"]
    # SQLite keeps 19.00 as the integer 19 (NUMERIC affinity); the label follows the values.
    expected_total = "integer" if engine.dialect.name == "sqlite" else "number"
    assert types == ["integer", "text", expected_total, *expected_dates]
    assert result.row_count == 4 and len(result.rows) == 4
    assert result.rows[0][:2] == (1, "Ada")
    assert not result.truncated
    assert result.elapsed_s >= 0


def test_marks_result_truncated_when_more_rows_than_max_rows(engine):
    sql = validate("SELECT id FROM orders ORDER BY id", _policy(engine))
    result = run(sql, engine, timeout_s=10, max_rows=2)
    assert [row[0] for row in result.rows] == [1, 2]
    assert result.truncated and result.row_count == 2


def test_row_cap_clamps_the_rows_and_reports_truncation(engine):
    capped = validate("SELECT id FROM orders ORDER BY id LIMIT 1000", _policy(engine, row_cap=3))
    result = run(capped, engine, timeout_s=10, max_rows=100)
    assert capped.limit_applied and result.row_count == 3 and result.truncated
    smaller = validate("SELECT id FROM orders ORDER BY id LIMIT 2", _policy(engine, row_cap=3))
    result = run(smaller, engine, timeout_s=10, max_rows=100)
    assert not smaller.limit_applied and result.row_count == 2 and not result.truncated


def test_function_that_writes_is_stopped_by_the_read_only_transaction(engine):
    bump = "bump_here()" if engine.dialect.name == "sqlite" else "bump()"
    with pytest.raises(SqlRefused, match="not allowed"):  # unknown functions are refused by default
        validate(f"SELECT {bump} AS n", _policy(engine))
    # an admin who allows it (NL2SQL_ENGINE_EXTRA_FUNCTIONS) still can't write: the guard can't see inside a UDF
    sql = validate(f"SELECT {bump} AS n", _policy(engine, extra_functions={"bump", "bump_here"}))
    before = counter_value(engine)
    with pytest.raises(QueryFailed) as failed:
        run(sql, engine, timeout_s=10, max_rows=10)
    assert "Traceback" not in failed.value.detail
    assert counter_value(engine) == before
    # Control: the same statement on a plain connection does write, so the test can fail.
    with engine.begin() as conn:
        conn.exec_driver_sql(f"SELECT {bump}").all()
    assert counter_value(engine) == before + 1


def test_read_only_error_message_names_the_cause(postgres_engine, mariadb_engine, sqlite_engine):
    messages = {}
    for engine, bump in ((postgres_engine, "bump()"), (mariadb_engine, "bump()"), (sqlite_engine, "bump_here()")):
        with pytest.raises(QueryFailed) as failed:
            run(validate(f"SELECT {bump} AS n", _policy(engine, extra_functions={"bump", "bump_here"})), engine, timeout_s=10, max_rows=10)
        messages[engine.dialect.name] = failed.value.detail.lower()
    assert "read-only transaction" in messages["postgresql"]
    assert "read only transaction" in messages["mysql"]
    assert "user-defined function raised exception" in messages["sqlite"]


def test_timeout_stops_a_slow_cross_join(engine):
    sql = validate(
        "SELECT COUNT(*) FROM numbers a, numbers b, numbers c WHERE a.n + b.n * 2 + c.n * 3 = -1",
        _policy(engine),
    )
    with pytest.raises(QueryTimeout, match="longer than 0.5 s"):
        run(sql, engine, timeout_s=0.5, max_rows=10)
    # The connection is healthy afterwards and the limit does not stick to it.
    assert run(validate("SELECT COUNT(*) FROM orders", _policy(engine)), engine, timeout_s=10, max_rows=1).rows == ((4,),)


def test_database_error_becomes_query_failed_with_the_databases_message(engine):
    sql = validate("SELECT no_such_column FROM orders", _policy(engine))
    with pytest.raises(QueryFailed) as failed:
        run(sql, engine, timeout_s=10, max_rows=10)
    assert "no_such_column" in failed.value.detail
    assert failed.value.extra["database_message"]
    assert failed.value.status_code == 422


def test_connection_is_usable_after_a_failed_query(engine):
    with pytest.raises(QueryFailed):
        run(validate("SELECT no_such_column FROM orders", _policy(engine)), engine, timeout_s=10, max_rows=10)
    assert run(validate("SELECT COUNT(*) FROM customers", _policy(engine)), engine, timeout_s=10, max_rows=1).rows == ((3,),)


def _single_connection(engine: sa.Engine) -> sa.Engine:
    return sa.create_engine(engine.url, pool_size=1, max_overflow=0)


def test_session_settings_are_restored_for_the_pool(engine):
    single = _single_connection(engine)
    try:
        run(validate("SELECT id FROM orders", _policy(engine)), single, timeout_s=3, max_rows=10)
        with single.connect() as conn:
            if engine.dialect.name == "postgresql":
                assert conn.exec_driver_sql("SHOW transaction_read_only").scalar() == "off"
                assert conn.exec_driver_sql("SHOW statement_timeout").scalar() == "0"
            elif engine.dialect.name == "mysql":
                assert float(conn.exec_driver_sql("SELECT @@SESSION.max_statement_time").scalar()) == 0
                conn.exec_driver_sql("UPDATE counter SET n = n")  # writable again: not stuck read-only
            else:
                assert conn.exec_driver_sql("PRAGMA query_only").scalar() == 0
    finally:
        single.dispose()


def test_run_always_rolls_back(engine):
    single = _single_connection(engine)
    try:
        run(validate("SELECT id FROM orders", _policy(engine)), single, timeout_s=3, max_rows=10)
        with single.connect() as conn:
            # A pooled connection comes back outside any transaction our run left open.
            assert not conn.in_transaction()
            if engine.dialect.name == "postgresql":
                status = conn.connection.dbapi_connection.info.transaction_status
                assert status.name == "IDLE"
            elif engine.dialect.name == "sqlite":
                assert not conn.connection.dbapi_connection.in_transaction
    finally:
        single.dispose()


def test_probe_accepts_a_valid_query_without_running_it(postgres_engine, mariadb_engine, sqlite_engine):
    for engine in (postgres_engine, mariadb_engine, sqlite_engine):
        assert probe(validate("SELECT id FROM orders WHERE total > 10", _policy(engine)), engine, 5) is None
    before = counter_value(postgres_engine)
    probe(validate("SELECT bump() AS n", _policy(postgres_engine, extra_functions={"bump"})), postgres_engine, 5)
    assert counter_value(postgres_engine) == before


def test_probe_reports_the_database_error(engine):
    with pytest.raises(QueryFailed, match="no_such_column"):
        probe(validate("SELECT no_such_column FROM orders", _policy(engine)), engine, 5)


def test_refuses_sql_validated_for_another_dialect(postgres_engine, sqlite_engine):
    sql = validate("SELECT id FROM orders", _policy(postgres_engine))
    with pytest.raises(SqlRefused, match="checked as postgres"):
        run(sql, sqlite_engine, timeout_s=3, max_rows=10)


def test_run_takes_only_validated_sql(sqlite_engine):
    with pytest.raises(TypeError):
        run("SELECT 1", sqlite_engine, timeout_s=3, max_rows=10)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("database", "sql"),
    [
        ("postgres", r"SELECT E'a\'; DELETE FROM orders; --' AS x"),
        ("postgres", "SELECT $tag$ $$; DELETE FROM orders; $tag$ AS x"),
        ("postgres", "SELECT 1 /* /* nested */ ; DELETE FROM orders; -- */ AS x"),
        ("mariadb", r"SELECT 'a\'; DELETE FROM orders; -- ' AS x"),
        ("mariadb", "SELECT 1 AS x # ; DELETE FROM orders\n"),
    ],
)
def test_quoting_and_comment_tricks_run_as_one_harmless_statement(request, database, sql):
    engine = request.getfixturevalue(f"{database}_engine")
    result = run(validate(sql, _policy(engine)), engine, timeout_s=5, max_rows=10)
    assert result.row_count == 1
    assert run(validate("SELECT COUNT(*) FROM orders", _policy(engine)), engine, timeout_s=5, max_rows=1).rows == ((4,),)


# --- the size caps: one value, and a whole result --------------------------------------------------


def _text_of_length(engine: sa.Engine, length: int) -> str:
    """SQL for a text value of `length` x's, in the engine's dialect."""
    if engine.dialect.name == "sqlite":
        return f"printf('%.*c', {length}, 'x')"
    return f"repeat('x', {length})"


def test_cuts_a_value_longer_than_the_value_cap_and_marks_it(engine):
    sql = validate(f"SELECT id, {_text_of_length(engine, 5000)} AS v FROM orders ORDER BY id", _policy(engine))
    result = run(sql, engine, timeout_s=10, max_rows=100, value_cap=1000)
    assert [row[0] for row in result.rows] == [1, 2, 3, 4]
    for _, value in result.rows:
        assert value.startswith("x" * 1000) and not value.startswith("x" * 1001)
        assert value.endswith("[cut: 1,000 of 5,000 characters shown]")
    assert result.values_cut == 4 and not result.bytes_cut and not result.truncated
    short = run(sql, engine, timeout_s=10, max_rows=100, value_cap=5000)
    assert short.values_cut == 0 and short.rows[0][1] == "x" * 5000


def test_stops_fetching_at_the_byte_cap_and_says_the_result_was_cut(engine):
    sql = validate(f"SELECT n, {_text_of_length(engine, 2000)} AS v FROM numbers ORDER BY n",
                   _policy(engine, row_cap=1000))
    result = run(sql, engine, timeout_s=10, max_rows=1000, max_bytes=100_000)
    assert result.bytes_cut and not result.truncated and result.values_cut == 0
    assert 10 < result.row_count < 60  # ~2 kB a row: about 48 rows fit
    assert [row[0] for row in result.rows] == list(range(result.row_count))  # the first rows, in order
    assert result.size_bytes <= 100_000
    whole = run(sql, engine, timeout_s=10, max_rows=1000)  # the default cap (16 MiB) holds all 2 MB
    assert whole.row_count == 1000 and not whole.bytes_cut and whole.size_bytes > 2_000_000
    # the connection is fine afterwards (MySQL's unfinished result was dropped with its connection)
    assert run(validate("SELECT COUNT(*) FROM orders", _policy(engine)), engine, timeout_s=5, max_rows=1).rows == ((4,),)


def test_the_byte_cap_counts_arrays_and_json_values_too(postgres_engine):
    sql = validate("SELECT n, array_agg(n) OVER (ORDER BY n) AS running FROM numbers ORDER BY n",
                   _policy(postgres_engine, row_cap=1000))
    result = run(sql, postgres_engine, timeout_s=10, max_rows=1000, value_cap=500, max_bytes=300_000)
    assert result.bytes_cut and result.size_bytes <= 300_000
    assert result.rows[1][1] == [0, 1]  # short arrays stay arrays
    long_ones = [value for _, value in result.rows if isinstance(value, str)]
    assert long_ones and long_ones[-1].endswith("[cut: 500 characters shown]") and long_ones[-1].startswith("[0, 1, 2")
    assert result.values_cut == len(long_ones)


_MEMORY_CHILD = """
import resource, sys
import sqlalchemy as sa
from nl2sql.sqlguard import run, validate
from tests.sqlguard.sqlguard_corpus import TABLES, policy_for
engine = sa.create_engine(sys.argv[1])
policy = policy_for(sys.argv[2], allowed_tables=frozenset({*TABLES, "numbers"}), row_cap=1000)
sql = validate(sys.argv[3], policy)
run(validate("SELECT COUNT(*) FROM orders", policy), engine, timeout_s=30, max_rows=1)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
result = run(sql, engine, timeout_s=60, max_rows=1000, max_bytes=4_000_000)
grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024
print(result.bytes_cut, result.row_count, grown)
"""


def test_a_huge_result_is_not_read_whole_before_the_byte_cap_stops_it(engine):
    # 300 values of 1 MB: the driver must not fetch them all (a client-side cursor holds 300 MB) when 4 MB are kept
    import subprocess
    import sys
    from pathlib import Path

    url = engine.url.render_as_string(hide_password=False)
    sql = f"SELECT n, {_text_of_length(engine, 1_000_000)} AS v FROM numbers WHERE n < 300"
    root = Path(__file__).resolve().parents[2]
    child = subprocess.run([sys.executable, "-c", _MEMORY_CHILD, url, DIALECT[engine.dialect.name], sql],
                           capture_output=True, text=True, cwd=root, timeout=120)
    assert child.returncode == 0, child.stderr[-2000:]
    cut, rows, grown_mb = child.stdout.split()
    assert cut == "True" and 0 < int(rows) < 100  # ~65 kB a row once each value is cut to the value cap
    assert int(grown_mb) < 100, f"the process grew by {grown_mb} MB for a 4 MB result"
