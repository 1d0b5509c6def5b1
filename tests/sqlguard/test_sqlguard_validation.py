"""validate(): the malicious corpus is refused for the right reason, analytical queries pass, rows are capped."""

from __future__ import annotations

import copy
import dataclasses
import pickle

import pytest
import sqlglot
from sqlglot.errors import SqlglotError

from nl2sql.errors import ValidationFailed
from nl2sql.sqlguard import GuardPolicy, SqlRefused, ValidatedSql, validate
from tests.sqlguard.sqlguard_corpus import ALL_DIALECTS, ATTACKS, DIALECTS, VALID, policy_for, valid_cases


def test_corpora_are_large_enough():
    assert len(ATTACKS) >= 60
    assert len(VALID) >= 30
    assert len({attack.name for attack in ATTACKS}) == len(ATTACKS)


@pytest.mark.parametrize("attack", ATTACKS, ids=[a.name for a in ATTACKS])
def test_refuses_attack_with_a_reason_a_person_reads(attack):
    with pytest.raises(SqlRefused) as refused:
        validate(attack.sql, policy_for(attack.dialect))
    assert attack.reason.lower() in refused.value.detail.lower()
    assert refused.value.status_code == 400


def _parses(sql: str, dialect: str) -> bool:
    try:
        return bool(sqlglot.parse(sql, read=dialect))
    except SqlglotError:
        return False


@pytest.mark.parametrize("dialect", ALL_DIALECTS)
def test_every_attack_is_refused_in_every_dialect_it_parses_in(dialect):
    parsed = 0
    for attack in (a for a in ATTACKS if a.portable or a.dialect == dialect):
        if not _parses(attack.sql, dialect):
            # It can't be read as this dialect: validate must refuse it all the same.
            with pytest.raises(SqlRefused):
                validate(attack.sql, policy_for(dialect))
            continue
        parsed += 1
        with pytest.raises(SqlRefused, match=".+"):
            validate(attack.sql, policy_for(dialect))
    assert parsed >= 60  # the property is about parseable statements; most of the corpus is


@pytest.mark.parametrize(("name", "dialect", "sql"), list(valid_cases()), ids=[f"{n}-{d}" for n, d, _ in valid_cases()])
def test_accepts_analytical_query(name, dialect, sql):
    validated = validate(sql, policy_for(dialect))
    assert validated.dialect == dialect
    assert set(validated.tables) <= {
        f"{schema}.{table}"
        for schema in ("public", "nl2sql_test_sqlguard", "main")
        for table in ("customers", "orders", "order_items", "products", "people")
    }
    # The text we run is itself valid and a fixed point.
    assert validate(validated.sql, policy_for(dialect)).sql == validated.sql


def test_refusal_is_a_validation_failure():
    assert issubclass(SqlRefused, ValidationFailed)


def test_rejects_multiple_statements_but_keeps_semicolons_in_strings():
    policy = policy_for("postgres")
    assert "'a;b'" in validate("SELECT 'a;b' FROM orders", policy).sql
    with pytest.raises(SqlRefused, match="only one statement"):
        validate("SELECT 'a;b' FROM orders; SELECT 1", policy)


def test_trailing_semicolon_is_one_statement():
    assert validate("SELECT id FROM orders;", policy_for("sqlite")).sql.startswith("SELECT id FROM orders")


def test_comments_are_removed_from_the_sql_that_runs():
    validated = validate("SELECT id /* hi */ FROM orders -- bye", policy_for("postgres"))
    assert "hi" not in validated.sql and "bye" not in validated.sql


def test_refuses_empty_sql():
    with pytest.raises(SqlRefused, match="empty"):
        validate("   ", policy_for("postgres"))


@pytest.mark.parametrize("dialect", DIALECTS)
def test_a_misspelt_select_is_a_syntax_error_not_a_statement_kind(dialect):
    with pytest.raises(SqlRefused) as refused:
        validate("SELEC id FROM orders", policy_for(dialect))
    detail = refused.value.detail
    assert "statements are not allowed" not in detail
    assert "could not be parsed" in detail
    assert "`SELEC` is not a SQL keyword here; did you mean SELECT?" in detail


@pytest.mark.parametrize(
    ("sql", "word", "keyword"),
    [
        ("SELECT id FORM orders", "FORM", "FROM"),
        ("SELECT id FROM orders WHER id = 1", "WHER", "WHERE"),
        ("SELECT status, count(*) FROM orders GROPU BY status", "GROPU", "GROUP"),
    ],
)
def test_a_misspelt_keyword_inside_the_query_is_pointed_at(sql, word, keyword):
    with pytest.raises(SqlRefused, match=f"`{word}` is not a SQL keyword here; did you mean {keyword}"):
        validate(sql, policy_for("postgres"))


def test_a_name_that_looks_like_a_keyword_is_not_blamed():
    # orders ~ ORDER, but replacing it does not make the SQL parse: say where the parser stopped instead.
    with pytest.raises(SqlRefused) as refused:
        validate("SELECT id FROM orders WHERE id =", policy_for("postgres"))
    detail = refused.value.detail
    assert "could not be parsed" in detail and "orders" not in detail
    assert "line 1, column" in detail and "<class" not in detail


def test_an_unparseable_write_is_still_named_as_the_statement_it_is():
    with pytest.raises(SqlRefused, match="DELETE statements are not allowed"):
        validate("DELETE FROM orders WHERE", policy_for("postgres"))
    with pytest.raises(SqlRefused, match="UPDATE statements are not allowed"):
        validate("UPDATE orders SET total = 0 WHERE (", policy_for("mysql"))


# --- row cap -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dialect", "expected"),
    [
        ("postgres", "SELECT id FROM orders LIMIT 100"),
        ("mysql", "SELECT id FROM orders LIMIT 100"),
        ("sqlite", "SELECT id FROM orders LIMIT 100"),
        ("duckdb", "SELECT id FROM orders LIMIT 100"),
        ("tsql", "SELECT TOP 100 id FROM orders"),
        ("oracle", "SELECT id FROM orders FETCH FIRST 100 ROWS ONLY"),
        ("snowflake", "SELECT id FROM orders LIMIT 100"),
    ],
)
def test_adds_row_cap_in_the_dialects_own_syntax(dialect, expected):
    validated = validate("SELECT id FROM orders", policy_for(dialect, default_schema=None))
    assert validated.sql == expected
    assert validated.limit_applied and validated.row_cap == 100


@pytest.mark.parametrize(
    ("dialect", "sql", "expected"),
    [
        ("postgres", "SELECT id FROM orders LIMIT 100000", "SELECT id FROM orders LIMIT 100"),
        ("postgres", "SELECT id FROM orders LIMIT ALL", "SELECT id FROM orders LIMIT 100"),
        ("mysql", "SELECT id FROM orders LIMIT 5000 OFFSET 10", "SELECT id FROM orders LIMIT 100 OFFSET 10"),
        ("tsql", "SELECT TOP 5000 id FROM orders", "SELECT TOP 100 id FROM orders"),
        ("tsql", "SELECT TOP 10 PERCENT id FROM orders", "SELECT TOP 100 id FROM orders"),
        ("oracle", "SELECT id FROM orders FETCH FIRST 5000 ROWS ONLY", "SELECT id FROM orders FETCH FIRST 100 ROWS ONLY"),
        ("postgres", "SELECT id FROM orders UNION SELECT id FROM customers LIMIT 999", "SELECT id FROM orders UNION SELECT id FROM customers LIMIT 100"),
    ],
)
def test_clamps_a_larger_or_unbounded_limit_to_the_cap(dialect, sql, expected):
    validated = validate(sql, policy_for(dialect, default_schema=None))
    assert validated.sql == expected
    assert validated.limit_applied


@pytest.mark.parametrize(
    ("dialect", "sql"),
    [
        ("postgres", "SELECT id FROM orders LIMIT 7"),
        ("sqlite", "SELECT id FROM orders LIMIT 100"),
        ("tsql", "SELECT TOP 7 id FROM orders"),
        ("oracle", "SELECT id FROM orders FETCH FIRST 7 ROWS ONLY"),
    ],
)
def test_keeps_a_smaller_user_limit(dialect, sql):
    validated = validate(sql, policy_for(dialect, default_schema=None))
    assert validated.sql == sql
    assert not validated.limit_applied


def test_union_in_tsql_is_capped_with_top_around_it():
    validated = validate("SELECT id FROM orders UNION SELECT id FROM customers", policy_for("tsql", default_schema=None))
    assert validated.sql.startswith("SELECT TOP 100 * FROM (")


# --- tables --------------------------------------------------------------------------------------


def test_reports_the_tables_read_schema_qualified():
    validated = validate(
        "WITH x AS (SELECT customer_id FROM orders) SELECT c.name FROM customers c JOIN x ON x.customer_id = c.id",
        policy_for("postgres"),
    )
    assert validated.tables == ("public.customers", "public.orders")


def test_schema_qualified_names_match_the_default_schema():
    assert validate("SELECT id FROM public.orders", policy_for("postgres")).tables == ("public.orders",)


def test_unqualified_name_does_not_match_a_table_allowed_only_in_another_schema():
    policy = policy_for("postgres", allowed_tables={"sales.orders"})
    with pytest.raises(SqlRefused, match="`orders` is not in"):
        validate("SELECT id FROM orders", policy)
    assert validate("SELECT id FROM sales.orders", policy).tables == ("sales.orders",)


def test_table_names_follow_the_dialects_case_rules():
    # PostgreSQL folds unquoted names to lower case; a quoted name keeps its case.
    assert validate("SELECT id FROM ORDERS", policy_for("postgres")).tables == ("public.orders",)
    with pytest.raises(SqlRefused, match="ORDERS"):
        validate('SELECT id FROM "ORDERS"', policy_for("postgres"))
    # SQLite ignores case even when quoted.
    assert validate('SELECT id FROM "ORDERS"', policy_for("sqlite")).tables == ("main.orders",)
    # Snowflake folds to upper case: the catalog's ORDERS is what an unquoted `orders` means.
    snowflake = GuardPolicy(dialect="snowflake", allowed_tables={"ORDERS"})
    assert validate("SELECT id FROM orders", snowflake).tables == ("ORDERS",)


def test_table_function_outside_the_allow_list_is_refused():
    with pytest.raises(SqlRefused, match="table function"):
        validate("SELECT * FROM json_each('[1]')", policy_for("sqlite", table_functions={"generate_series"}))


# --- sensitive columns ---------------------------------------------------------------------------


def test_sensitive_column_in_where_refused_by_default():
    with pytest.raises(SqlRefused, match="sensitive"):
        validate("SELECT name FROM people WHERE ssn = '123'", policy_for("postgres"))


def test_sensitive_column_may_filter_when_the_policy_allows_predicates():
    policy = policy_for("postgres", sensitive_in_predicates=True)
    assert validate("SELECT name FROM people WHERE ssn = '123'", policy)
    assert validate("SELECT o.id FROM orders o JOIN people p ON p.ssn = o.status", policy)
    with pytest.raises(SqlRefused, match="WHERE or JOIN"):
        validate("SELECT ssn FROM people WHERE ssn = '123'", policy)
    with pytest.raises(SqlRefused, match="sensitive"):
        validate("SELECT name FROM people ORDER BY ssn", policy)
    with pytest.raises(SqlRefused, match="sensitive"):
        validate("SELECT name FROM orders WHERE status IN (SELECT ssn FROM people)", policy)


def test_sensitive_column_matching_ignores_case():
    with pytest.raises(SqlRefused, match="sensitive"):
        validate("SELECT SSN FROM People", policy_for("mysql", allowed_tables={"People"}, sensitive_columns={"people.ssn"}))


def test_same_column_name_on_another_table_is_not_sensitive():
    assert validate("SELECT o.id, o.status FROM orders o", policy_for("postgres", sensitive_columns={"people.status"}))


# --- the ValidatedSql type -----------------------------------------------------------------------


def test_validated_sql_cannot_be_built_outside_validate():
    with pytest.raises(TypeError):
        ValidatedSql(sql="DROP TABLE orders", dialect="postgres", tables=(), limit_applied=False, row_cap=1)
    with pytest.raises(TypeError):
        ValidatedSql(sql="DROP TABLE orders", dialect="postgres", tables=(), limit_applied=False, row_cap=1, _mint=object())


def test_validated_sql_is_frozen_and_cannot_be_copied_into_a_new_one():
    validated = validate("SELECT id FROM orders", policy_for("postgres"))
    with pytest.raises(AttributeError):
        validated.sql = "DROP TABLE orders"
    with pytest.raises(TypeError):
        copy.copy(validated)
    with pytest.raises(TypeError):
        pickle.dumps(validated)
    assert not dataclasses.is_dataclass(validated)


def test_policy_maps_sqlalchemy_dialect_names():
    assert GuardPolicy(dialect="postgresql", allowed_tables=set()).read_dialect == "postgres"
    assert GuardPolicy(dialect="mariadb", allowed_tables=set()).read_dialect == "mysql"
    assert GuardPolicy(dialect="mssql", allowed_tables=set()).read_dialect == "tsql"
    assert GuardPolicy(dialect="mysql+pymysql", allowed_tables=set()).read_dialect == "mysql"
    with pytest.raises(SqlRefused, match="not supported"):
        GuardPolicy(dialect="dbase", allowed_tables=set())


@pytest.mark.parametrize("dialect", DIALECTS)
def test_policy_requires_qualified_sensitive_columns(dialect):
    with pytest.raises(ValueError, match="table.column"):
        policy_for(dialect, sensitive_columns={"ssn"})


@pytest.mark.parametrize("dialect", DIALECTS)
def test_functions_outside_the_allow_list_are_refused_unless_an_admin_allows_them(dialect):
    with pytest.raises(SqlRefused, match="function `st_distance` is not allowed"):
        validate("SELECT st_distance(id, id) FROM orders", policy_for(dialect))
    assert validate("SELECT st_distance(id, id) FROM orders", policy_for(dialect, extra_functions={"ST_Distance"}))


@pytest.mark.parametrize("dialect", DIALECTS)
def test_the_allow_list_covers_what_analytics_calls(dialect):
    everyday = {
        "postgres": "SELECT date_trunc('month', created_at), to_char(created_at, 'YYYY-MM'), EXTRACT(YEAR FROM created_at), "
                    "round(avg(amount)::numeric, 2), coalesce(max(status), 'none'), upper(status), length(status), "
                    "string_agg(status, ','), percentile_cont(0.5) WITHIN GROUP (ORDER BY amount), "
                    "row_number() OVER (ORDER BY id), now() - interval '1 day', age(now(), created_at), "
                    "split_part(status, '-', 1), nullif(amount, 0), greatest(1, 2), CURRENT_DATE "
                    "FROM orders GROUP BY created_at, id, status, amount",
        "mysql": "SELECT date_format(created_at, '%Y-%m'), year(created_at), datediff(now(), created_at), "
                 "round(avg(amount), 2), ifnull(max(status), 'none'), group_concat(status), concat(status, '!'), "
                 "timestampdiff(DAY, created_at, now()), curdate(), substring(status, 1, 2), "
                 "rank() OVER (ORDER BY id) FROM orders GROUP BY created_at, id, status, amount",
        "sqlite": "SELECT strftime('%Y-%m', created_at), date(created_at, '-1 day'), julianday('now') - julianday(created_at), "
                  "round(avg(amount), 2), ifnull(max(status), 'none'), group_concat(status), substr(status, 1, 2), "
                  "CAST(amount AS INTEGER), iif(amount > 1, 1, 0), total(amount), lag(id) OVER (ORDER BY id) "
                  "FROM orders GROUP BY created_at, id, status, amount",
    }[dialect]
    assert validate(everyday, policy_for(dialect))
