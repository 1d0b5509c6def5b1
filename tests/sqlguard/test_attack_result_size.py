"""The security probe's result-size item, on real PostgreSQL, MariaDB and SQLite: a query returning huge values
(`SELECT repeat('x', 20000000) FROM generate_series(1, 3)`) or a huge number of large rows, through edit and
run, the model's SQL and the CSV download, keeps no more than the value and byte caps, says so, and the
in-memory result cache holds no more than its byte cap."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from nl2sql.inference import FakeChatModel
from nl2sql.retrieval import HashingEmbedder
from nl2sql.settings import AnswersSettings, EngineSettings
from tests.conftest import with_section
from tests.sqlguard.conftest import mariadb_engine, postgres_engine, sqlite_engine  # noqa: F401
from tests.sqlguard.test_attack_paths import _url

VALUE_CAP = EngineSettings().value_cap  # the defaults: these are the caps a server runs with
RESULT_BYTES = EngineSettings().result_bytes
CSV_BYTES = 8 * 1024 * 1024
CACHE_BYTES = 40 * 1024 * 1024

# Three values of 20 million characters (60 MB) each way the dialect spells it (MariaDB's values stop at
# max_allowed_packet, 16 MB by default: 10 million there).
HUGE_VALUES = {
    "postgresql": "SELECT repeat('x', 20000000) AS v FROM generate_series(1, 3)",
    "mysql": "SELECT repeat('x', 10000000) AS v FROM numbers LIMIT 3",
    "sqlite": "SELECT printf('%.*c', 20000000, 'x') AS v FROM numbers LIMIT 3",
}
# 1,000 rows of 100,000 characters: 100 MB, each value past the value cap and the whole past the byte cap (no
# ORDER BY: SQLite would build every value to sort the rows, which takes the query past its time limit)
MANY_ROWS = {
    "postgresql": "SELECT n, repeat('x', 100000) AS v FROM numbers",
    "mysql": "SELECT n, repeat('x', 100000) AS v FROM numbers",
    "sqlite": "SELECT n, printf('%.*c', 100000, 'x') AS v FROM numbers",
}


@pytest.mark.parametrize("database", ["postgres", "mariadb", "sqlite"])
async def test_huge_values_and_results_are_cut_to_the_caps_on_every_path(settings, database, request):
    from litestar.testing import AsyncTestClient

    from nl2sql.app import create_app

    engine: sa.Engine = request.getfixturevalue(f"{database}_engine")
    reply = {"sql": "SELECT COUNT(*) FROM orders"}
    model = FakeChatModel([lambda prompt: reply["sql"]])
    app = create_app(with_section(settings, engine=EngineSettings(generators="model_sql", model_when="always"),
                                  answers=AnswersSettings(csv_max_bytes=CSV_BYTES, cached_result_bytes=CACHE_BYTES)),
                     chat_model=model, embedder=HashingEmbedder())
    async with AsyncTestClient(app=app, base_url="http://testserver.local"):
        auth, catalog, ask = app.state.auth, app.state.catalog, app.state.ask
        admin = await auth.create_user("admin@example.com", "correct horse battery staple", role="admin")
        await catalog.create_connection(admin, "target", _url(engine))
        assert (await catalog.sync_now(admin, "target")).error is None
        answer_id = (await ask.ask(admin, "How many orders are there?", "target")).record.id
        huge, many = HUGE_VALUES[engine.dialect.name], MANY_ROWS[engine.dialect.name]

        # edit and run: each huge value cut to the value cap, and the answer says so
        answered = await ask.run_sql(admin, answer_id, huge)
        result = answered.result
        assert answered.failure is None and len(result.rows) == 3 and result.values_cut == 3
        assert all(len(value) < VALUE_CAP + 100 and "[cut: 65,536 of" in value for (value,) in result.rows)
        assert "cut there" in result.cut_note

        # the model's SQL: many large rows stop at the byte cap (its check run is capped as well)
        reply["sql"] = many
        answered = await ask.ask(admin, "Everything, please", "target")
        result = answered.result
        assert answered.failure is None and result.bytes_cut and result.values_cut == len(result.rows)
        assert 0 < len(result.rows) < 1000 and result.size_bytes <= RESULT_BYTES
        assert "size cap" in result.cut_note

        # the CSV re-run: capped by bytes too, with a last line saying so
        name, chunks = await ask.csv(admin, answered.record.id)
        body = b"".join(chunks)
        assert len(body) < CSV_BYTES and body.rstrip().endswith(b"the rest were left out")

        # the result cache holds bytes, not a count of results: a few more such answers stay within its cap
        for _ in range(4):
            await ask.run_sql(admin, answered.record.id, many + " ")
        assert ask._cache.bytes <= CACHE_BYTES and len(ask._cache) <= 3
