"""ConnectionPolicy narrows the guard's policy to the tables a statement names, and refuses all the full one does."""

from __future__ import annotations

import pytest

from nl2sql.answers import ConnectionPolicy
from nl2sql.sqlguard import SqlRefused, validate
from tests.sqlguard.sqlguard_corpus import ATTACKS, TABLES, policy_for, valid_cases

EXTRA = tuple(f"archive_{i}" for i in range(300))


def wide_policy(dialect: str):
    """The corpus policy on a catalog with hundreds more tables, some with sensitive columns."""
    upper = dialect in {"oracle", "snowflake"}
    tables = tuple(t.upper() if upper else t for t in (*TABLES, *EXTRA))
    return policy_for(dialect, allowed_tables=frozenset(tables),
                      sensitive_columns=frozenset({"people.ssn", *(f"{t}.secret" for t in EXTRA[:50])}))


@pytest.mark.parametrize("attack", ATTACKS, ids=lambda a: a.name)
def test_narrowed_policy_refuses_every_attack(attack):
    policy = wide_policy(attack.dialect)
    with pytest.raises(SqlRefused):
        validate(attack.sql, policy)
    with pytest.raises(SqlRefused):
        validate(attack.sql, ConnectionPolicy(policy).for_sql(attack.sql))


@pytest.mark.parametrize(("name", "dialect", "sql"), list(valid_cases()), ids=lambda v: str(v)[:40])
def test_narrowed_policy_accepts_valid_queries_exactly_as_the_full_one(name, dialect, sql):
    policy = wide_policy(dialect)
    assert validate(sql, ConnectionPolicy(policy).for_sql(sql)) == validate(sql, policy)


def test_narrowed_policy_keeps_only_named_tables_and_their_sensitive_columns():
    policy = wide_policy("postgres")
    narrowed = ConnectionPolicy(policy).for_sql('SELECT * FROM "People" p JOIN archive_7 a ON a.id = p.id')
    assert narrowed.allowed_tables == {"people", "archive_7"}
    assert narrowed.sensitive_columns == {"people.ssn", "archive_7.secret"}
    with pytest.raises(SqlRefused, match="secret"):
        validate("SELECT secret FROM archive_7", ConnectionPolicy(policy).for_sql("SELECT secret FROM archive_7"))
