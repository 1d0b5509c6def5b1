"""What a user meets on the ask page: the connection they last asked (or the demo), what it holds, questions
to start with, and answers whose numbers read by their meaning."""

from __future__ import annotations

import re

from tests.answers.conftest import build_shop_db
from tests.answers.test_pages import HX, answer_id_of, ask_htmx
from tests.support import ADMIN_PASSWORD, ANALYST_PASSWORD, form_post, login


async def add_shop(client, admin, tmp_path, name: str):
    path = tmp_path / f"{name}.db"
    build_shop_db(path)
    catalog = client.app.state.catalog
    connection = await catalog.create_connection(admin, name, f"sqlite:///{path}")
    assert (await catalog.sync_now(admin, name)).error is None
    return connection


def selected(page: str) -> str | None:
    match = re.search(r'<option value="([^"]+)" selected>', page)
    return match.group(1) if match else None


async def test_the_ask_page_preselects_the_connection_last_asked_not_the_first_by_name(
        client, shop_connection, admin, tmp_path, script):
    await add_shop(client, admin, tmp_path, "alpha")
    await login(client, admin.email, ADMIN_PASSWORD)
    assert selected((await client.get("/ask")).text) == "alpha"  # nothing asked yet, no demo: the first
    await ask_htmx(client, "How many orders?", connection="shop")
    assert selected((await client.get("/ask")).text) == "shop"
    assert selected((await client.get("/ask?connection=alpha")).text) == "alpha"  # the link's choice wins


async def test_a_newcomer_starts_on_the_demo_when_they_may_read_it(client, admin, analyst, tmp_path):
    await add_shop(client, admin, tmp_path, "alpha")
    await add_shop(client, admin, tmp_path, "demo")
    await login(client, admin.email, ADMIN_PASSWORD)
    assert selected((await client.get("/ask")).text) == "demo"
    await client.app.state.catalog.set_grants(admin, "alpha", [analyst.id])
    client.cookies.clear()
    await login(client, analyst.email, ANALYST_PASSWORD)
    page = (await client.get("/ask")).text
    assert selected(page) == "alpha" and 'value="demo"' not in page  # not granted the demo: not offered it


async def test_a_newcomer_sees_what_the_connection_holds_and_questions_it_answers(client, shop_connection, admin):
    catalog = client.app.state.catalog
    await catalog.add_golden_query(admin, shop_connection.id, "Which states have the most customers?",
                                   "SELECT state, COUNT(*) AS customers FROM customers GROUP BY state")
    await login(client, admin.email, ADMIN_PASSWORD)
    page = (await client.get("/ask")).text
    assert 'id="starters"' in page and "customers, orders (2 tables)" in page
    starters = re.findall(r'data-starter="([^"]+)"', page)
    assert starters[0] == "Which states have the most customers?"  # golden queries first
    assert "How many customers are there?" in starters or "How many orders are there?" in starters
    assert 'hx-trigger="change from:#ask-connection"' in page  # the select swaps the panel


async def test_starter_questions_built_from_the_model_are_answered_by_the_reader(client, shop_connection, admin):
    from nl2sql.answers.starters import build_overview

    catalog = client.app.state.catalog
    schema = await catalog.schema_for_prompt(shop_connection.id)
    reader = client.app.state.ask._engine.reader(schema)
    overview = build_overview(schema, [], reader)
    assert "How many orders are there?" in overview.questions  # a count
    assert "Total amount by status" in overview.questions, overview.questions  # a measure by a category
    for question in overview.questions:
        best = reader.read(question, limit=1)[0]
        assert not best.unread and not best.dropped, question


async def test_changing_the_connection_swaps_the_panel_and_analysts_see_only_their_grants(
        client, shop_connection, admin, analyst, tmp_path):
    await add_shop(client, admin, tmp_path, "alpha")
    await client.app.state.catalog.set_grants(admin, "shop", [analyst.id])
    await login(client, admin.email, ADMIN_PASSWORD)
    panel = await client.get("/ask/overview?connection=alpha", headers=HX)
    assert panel.status_code == 200 and "<strong>alpha</strong>" in panel.text and "<html" not in panel.text
    client.cookies.clear()
    await login(client, analyst.email, ANALYST_PASSWORD)
    page = (await client.get("/ask")).text
    assert 'value="alpha"' not in page and "<strong>shop</strong>" in page
    hidden = await client.get("/ask/overview?connection=alpha", headers=HX)
    assert hidden.status_code == 200 and "alpha" not in hidden.text and "Choose a database" in hidden.text


async def test_an_answers_numbers_read_by_their_meaning_in_table_chart_and_csv(client, shop_connection, admin, script):
    catalog = client.app.state.catalog
    await catalog.update_column(admin, shop_connection.id, "orders", "amount", description="Order amount in EUR")
    await login(client, admin.email, ADMIN_PASSWORD)
    script.append("SELECT status, SUM(amount) AS amount, AVG(amount) / 3.0 AS avg_third, "
                  "1.0 * COUNT(*) / (SELECT COUNT(*) FROM orders) AS share FROM orders GROUP BY status ORDER BY status")
    answer = await ask_htmx(client, "Amount, a third of the average and share of orders per status")
    cells = re.findall(r'<td class="num"[^>]*>([^<]*)</td>', answer)
    assert "€2,250.00" in cells and "50.0%" in cells  # new: 10+30+...+290 = 2250; half the orders each
    assert any(re.fullmatch(r"\d+\.\d\d", c) for c in cells), cells  # averages: two decimals, not thirteen
    assert "· EUR" in answer and "· %" in answer  # the unit under the column name
    assert not re.search(r"Timings: \d{4,} ms", answer) and "Timings: " in answer
    answer_id = answer_id_of(answer)
    csv = (await client.get(f"/answers/{answer_id}/csv")).text.splitlines()
    assert csv[0] == "status,amount (EUR),avg_third,share (%)"
    assert csv[1].split(",")[3] == "0.5"  # the CSV keeps the value itself


async def test_a_short_result_shows_every_row_without_an_inner_scroll(client, shop_connection, admin, script):
    await login(client, admin.email, ADMIN_PASSWORD)
    script.append("SELECT id, amount FROM orders WHERE id <= 13 ORDER BY id")
    answer = await ask_htmx(client, "List the first 13 orders")
    assert 'class="table-wrap"' in answer and "scrolls" not in answer


async def test_the_trace_page_shows_timings_as_durations(client, shop_connection, admin, script):
    await login(client, admin.email, ADMIN_PASSWORD)
    answer_id = answer_id_of(await ask_htmx(client, "How many orders?"))
    await form_post(client, f"/answers/{answer_id}/feedback", {"rating": "up"}, page="/ask", htmx=True)
    listing = await client.get("/admin/feedback")
    feedback_id = re.search(r'href="/admin/feedback/(\d+)"', listing.text).group(1)
    trace = (await client.get(f"/admin/feedback/{feedback_id}")).text
    line = re.search(r'<p class="muted timings-line">(.*?)</p>', trace, re.S).group(1)
    assert "total_ms" not in line and re.search(r"total \d+(\.\d)? (ms|s)\b", line), line
