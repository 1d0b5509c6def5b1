"""Results held to a size: long values cut and marked, a large result stopped at its byte cap, the page, the API
and the CSV saying so, and the in-memory result cache bounded by bytes as well as by count."""

from __future__ import annotations

import csv
import io

import pytest

from nl2sql.answers.results import ResultCache
from nl2sql.inference import FakeChatModel
from nl2sql.settings import AnswersSettings, CatalogSettings, EngineSettings
from tests.answers.test_pages import HX
from tests.support import ADMIN_PASSWORD, bearer, form_post, login

# 30 orders x 30 customers = 900 rows of a 5,000-character value: ~4.5 MB, far past the caps below
WIDE = ("SELECT o.id, c.id AS customer, printf('%.*c', 5000, 'x') AS filler "
        "FROM orders o JOIN customers c ON c.id > 0 ORDER BY o.id, c.id")
VALUE_CAP, RESULT_BYTES, CSV_BYTES = 1000, 200_000, 100_000


@pytest.fixture
async def client(settings, script):
    """The app with small size caps and a scripted fake model."""
    from litestar.testing import AsyncTestClient

    from nl2sql.app import create_app
    from tests.conftest import with_section

    def reply(prompt: str) -> str:
        return script.pop(0) if script else "SELECT COUNT(*) FROM orders"

    engine = EngineSettings(generators="model_sql", model_when="always", value_cap=VALUE_CAP, result_bytes=RESULT_BYTES)
    answers = AnswersSettings(csv_max_bytes=CSV_BYTES)
    app = create_app(with_section(settings, catalog=CatalogSettings(demo=False), engine=engine, answers=answers),
                     chat_model=FakeChatModel([reply]))
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as test_client:
        yield test_client


def test_result_cache_evicts_the_oldest_when_its_bytes_pass_the_cap():
    cache = ResultCache(100, max_bytes=1000)
    cache.put(1, "one", 400)
    cache.put(2, "two", 400)
    assert cache.get(1) == "one"  # now the most recently used
    cache.put(3, "three", 400)  # 1,200 bytes: the least recently used goes
    assert cache.get(2) is None and cache.get(1) == "one" and cache.get(3) == "three" and cache.bytes == 800
    cache.put(1, "one again", 100)  # replacing an entry counts its new size only
    assert cache.bytes == 500 and len(cache) == 2
    cache.put(4, "too big", 1001)  # heavier than the whole cache: not kept, nothing else lost
    assert cache.get(4) is None and cache.bytes == 500 and len(cache) == 2


def test_result_cache_keeps_its_count_bound_too():
    cache = ResultCache(2, max_bytes=10**9)
    for answer_id in (1, 2, 3):
        cache.put(answer_id, answer_id, 10)
    assert cache.get(1) is None and len(cache) == 2 and cache.bytes == 20


async def test_api_answer_says_its_values_and_rows_were_cut_by_size(client, shop_connection, admin_key, script):
    script.append(WIDE)
    response = await client.post("/api/v1/ask", json={"question": "Everything", "connection": "shop"},
                                 headers=bearer(admin_key))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["bytes_cut"] is True and body["truncated"] is False
    assert 50 < body["row_count"] < 900 and body["values_cut"] == body["row_count"]
    assert len(response.content) < 2 * RESULT_BYTES
    filler = body["rows"][0][2]
    assert filler.startswith("x" * VALUE_CAP) and filler.endswith("[cut: 1,000 of 5,000 characters shown]")
    assert "size cap" in body["cut_note"] and "cut there" in body["cut_note"]
    # a small result says nothing of the kind
    small = (await client.post("/api/v1/ask", json={"question": "How many?", "connection": "shop"},
                               headers=bearer(admin_key))).json()
    assert small["bytes_cut"] is False and small["values_cut"] == 0 and small["cut_note"] is None

    history = (await client.get("/api/v1/answers", headers=bearer(admin_key))).json()
    cut = next(item for item in history["items"] if item["id"] == body["answer_id"])
    assert cut["truncated"] is True  # the history's "more rows than shown"


async def test_csv_download_of_a_large_result_stops_at_its_byte_cap_with_a_last_line_saying_so(
    client, shop_connection, admin_key, script,
):
    script.append(WIDE)
    answer_id = (await client.post("/api/v1/ask", json={"question": "Everything", "connection": "shop"},
                                   headers=bearer(admin_key))).json()["answer_id"]
    response = await client.get(f"/api/v1/answers/{answer_id}/csv", headers=bearer(admin_key))
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["id", "customer", "filler"] and 10 < len(rows) < 200
    assert rows[-1][0].startswith("# cut: the download reached its size cap (NL2SQL_ANSWERS_CSV_MAX_BYTES)")
    assert rows[1][2].endswith("[cut: 1,000 of 5,000 characters shown]")


async def test_edit_and_run_page_shows_a_note_when_the_result_was_cut(client, shop_connection, admin, script):
    await login(client, admin.email, ADMIN_PASSWORD)
    answered = await client.app.state.ask.ask(admin, "How many orders?", "shop")
    response = await form_post(client, f"/answers/{answered.record.id}/run", {"sql": WIDE}, page="/ask", htmx=True)
    assert response.status_code == 200, response.text
    assert 'class="alert warn result-cut"' in response.text and "cut by size" in response.text
    assert "the result reached the 195 KiB size cap" in response.text
    assert "values were longer than 1,000 characters and cut there" in response.text
    page = await client.get(f"/ask?answer={answered.record.id}", headers=HX)
    assert "result-cut" not in page.text  # the first answer, a count, was not cut
