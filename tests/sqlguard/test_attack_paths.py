"""The malicious corpus through every path of the product that accepts SQL, on real PostgreSQL, MariaDB and
SQLite: saved as a golden query, run in place of an answer's SQL ("Edit and run"), and written by the model
(a fake one that answers with the attack). Each is refused, and the database is the same afterwards."""

from __future__ import annotations

import hashlib

import pytest
import sqlalchemy as sa

from nl2sql.errors import AppError
from nl2sql.inference import FakeChatModel
from nl2sql.retrieval import HashingEmbedder
from nl2sql.settings import EngineSettings
from tests.conftest import with_section
from tests.sqlguard.conftest import DB_NAME, mariadb_engine, postgres_engine, sqlite_engine  # noqa: F401
from tests.sqlguard.sqlguard_corpus import ATTACKS

FAMILY = {"postgresql": "postgres", "mysql": "mysql", "mariadb": "mysql", "sqlite": "sqlite"}


def _fingerprint(engine: sa.Engine) -> dict[str, str]:
    """Every table and a digest of its rows: any write, drop or create changes it."""
    out = {}
    names = sa.inspect(engine).get_table_names()
    with engine.connect() as conn:
        for name in sorted(names):
            rows = conn.execute(sa.text(f"SELECT * FROM {name}")).all()
            out[name] = hashlib.sha256(repr(sorted(map(repr, rows))).encode()).hexdigest()
    return out


def _words(sql: str) -> str:
    return " ".join(sql.split()).lower().removesuffix(" limit 1000")


def _url(engine: sa.Engine) -> str:
    if engine.dialect.name == "sqlite":
        return f"sqlite:///{engine.url.database}"
    if engine.dialect.name == "postgresql":
        return f"postgresql://postgres@127.0.0.1:5432/{DB_NAME}"
    return f"mysql://root@127.0.0.1:3306/{DB_NAME}"


@pytest.mark.parametrize("database", ["postgres", "mariadb", "sqlite"])
async def test_every_attack_is_refused_on_every_path_and_the_database_is_unchanged(settings, database, request):
    from litestar.testing import AsyncTestClient

    from nl2sql.app import create_app

    engine: sa.Engine = request.getfixturevalue(f"{database}_engine")
    family = FAMILY[engine.dialect.name]
    attacks = [a for a in ATTACKS if a.dialect == family or a.portable]
    assert len(attacks) >= 150, len(attacks)
    before = _fingerprint(engine)
    reply = {"sql": "SELECT COUNT(*) FROM orders"}
    model = FakeChatModel([lambda prompt: reply["sql"]])
    app = create_app(with_section(settings, engine=EngineSettings(generators="model_sql", model_when="always",
                                                                 repair_attempts=1)),
                     chat_model=model, embedder=HashingEmbedder())
    async with AsyncTestClient(app=app, base_url="http://testserver.local"):
        auth, catalog = app.state.auth, app.state.catalog
        admin = await auth.create_user("admin@example.com", "correct horse battery staple", role="admin")
        connection = await catalog.create_connection(admin, "target", _url(engine))
        assert (await catalog.sync_now(admin, "target")).error is None
        assert "people.ssn" in (await catalog.schema_for_prompt(connection.id)).sensitive_columns
        answered = await app.state.ask.ask(admin, "How many orders are there?", "target")
        answer_id = answered.record.id

        let_through, first_statement_only = [], []
        for attack in attacks:
            reply["sql"] = attack.sql
            for path, attempt in (
                ("golden query", lambda: catalog.add_golden_query(admin, connection.id, f"attack {attack.name}",
                                                                  attack.sql)),
                ("edit and run", lambda: app.state.ask.run_sql(admin, answer_id, attack.sql)),
                ("model's SQL", lambda: app.state.generation.generate_sql(admin, f"qqq {attack.name}", "target")),
            ):
                try:
                    result = await attempt()
                except AppError as refused:
                    assert 400 <= refused.status_code < 500, (attack.name, path, refused.status_code)
                    continue
                sql = getattr(result, "sql", None) or getattr(getattr(result, "record", None), "sql", None) or ""
                if path == "model's SQL" and _words(sql) != _words(attack.sql) and _words(sql) in _words(attack.sql):
                    # the model's answer is read up to its first statement ("SELECT 1; DROP ..." is "SELECT 1"),
                    # which passed the guard on its own: the attack's statement never reached the database
                    first_statement_only.append(attack.name)
                    continue
                let_through.append(f"{attack.name} via {path}: {sql}")
        assert let_through == []
        assert len(first_statement_only) <= 10, first_statement_only  # stacked statements only
        stacked = {a.name for a in attacks if ";" in a.sql}
        assert set(first_statement_only) <= stacked, first_statement_only
        assert await catalog.golden_queries(connection.id) == []
    assert _fingerprint(engine) == before


ALIAS_LIST_LEAKS = (
    "SELECT a AS id, c AS leaked FROM people AS q(a, b, c)",
    "SELECT o.id, q.c FROM orders o JOIN people AS q(a, b, c) ON q.a = o.customer_id",
    "SELECT x.c FROM (SELECT q.c FROM people AS q(a, b, c)) AS x",
    "SELECT string_agg(c, ',') FROM people AS q(a, b, c)",
    "SELECT 1 FROM orders WHERE EXISTS (SELECT 1 FROM people AS q(a, b, c) WHERE c LIKE '1%')",
    "WITH x(a, b, c) AS (SELECT id, name, ssn FROM people) SELECT c FROM x",
    "SELECT c FROM (TABLE people) AS t(a, b, c)",
    "SELECT name FROM customers UNION SELECT c FROM people AS q(a, b, c)",
)


async def test_column_alias_lists_leak_nothing_through_drafts_evaluations_answers_or_csv(settings, postgres_engine):
    """The probe's high finding: on PostgreSQL, `people AS q(a, b, c)` renamed the sensitive column and every path
    that takes SQL (an analyst's edit-and-run and its CSV, golden queries, a draft's golden queries, evaluation gold
    SQL) showed its values."""
    from litestar.testing import AsyncTestClient

    from nl2sql.app import create_app
    from nl2sql.evaluation import EvalQuestion

    secrets = ("123-45-6789", "987-65-4321")
    app = create_app(settings, chat_model=FakeChatModel(["SELECT COUNT(*) FROM orders"]), embedder=HashingEmbedder())
    async with AsyncTestClient(app=app, base_url="http://testserver.local"):
        auth, catalog = app.state.auth, app.state.catalog
        admin = await auth.create_user("admin@example.com", "correct horse battery staple", role="admin")
        analyst = await auth.create_user("analyst@example.com", "correct horse battery staple", role="analyst")
        connection = await catalog.create_connection(admin, "target", _url(postgres_engine))
        assert (await catalog.sync_now(admin, "target")).error is None
        await catalog.set_grants(admin, "target", [analyst.id])
        answered = await app.state.ask.ask(analyst, "How many orders are there?", "target")
        draft = (await catalog.create_draft(admin, "target")).connection
        for sql in ALIAS_LIST_LEAKS:
            for path, attempt in (
                ("edit and run", lambda: app.state.ask.run_sql(analyst, answered.record.id, sql)),
                ("golden query", lambda: catalog.add_golden_query(admin, connection.id, "leak", sql)),
                ("draft golden query", lambda: catalog.add_golden_query(admin, draft.id, "leak", sql)),
            ):
                with pytest.raises(AppError) as refused:
                    await attempt()
                assert refused.value.status_code == 400, (path, sql)
                assert "sensitive" in refused.value.detail or "position" in refused.value.detail, (path, refused.value.detail)
        # the answer the analyst can download is still the one that passed the guard
        filename, chunks = await app.state.ask.csv(analyst, answered.record.id)
        assert not any(secret in b"".join(chunks).decode() for secret in secrets)
        run = await app.state.evaluation.create(admin, "target", [EvalQuestion("How many orders are there?", sql)
                                                                  for sql in ALIAS_LIST_LEAKS], name="leak")
        finished = await app.state.evaluation.execute(run.id)
        shown = repr(finished)
        assert not any(secret in shown for secret in secrets)
        assert all("gold SQL failed" in (item.reason or "") for item in finished.items), [i.reason for i in finished.items]
