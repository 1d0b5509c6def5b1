"""Ask, history and feedback pages: progress then answer, rows, chart switch, edit, CSV, feedback, promotion."""

from __future__ import annotations

import asyncio
import re

from tests.support import ADMIN_PASSWORD, ANALYST_PASSWORD, bearer, form_post, login

ORDERS_BY_STATUS = "SELECT status, COUNT(*) AS orders FROM orders GROUP BY status ORDER BY orders DESC"
HX = {"HX-Request": "true"}


async def ask_htmx(client, question: str, connection: str = "shop", thread_id: str = "") -> str:
    """Post the ask form as htmx does and poll the progress fragment until the answer comes."""
    response = await form_post(client, "/ask", {"question": question, "connection": connection, "thread_id": thread_id},
                               page="/ask", htmx=True)
    assert response.status_code == 200, response.text
    text = response.text
    for _ in range(200):
        match = re.search(r'hx-get="(/ask/progress/[^"]+)"', text)
        if not match:
            return text
        await asyncio.sleep(0.05)
        text = (await client.get(match.group(1), headers=HX)).text
    raise AssertionError("the answer never came")


def answer_id_of(fragment: str) -> str:
    match = re.search(r'data-answer-id="(\d+)"', fragment)
    assert match, fragment
    return match.group(1)


async def test_root_sends_a_logged_in_user_to_ask(client, admin):
    await login(client, admin.email, ADMIN_PASSWORD)
    response = await client.get("/", follow_redirects=False)
    assert response.headers["location"] == "/ask"


async def test_ask_page_shows_progress_then_the_answer_with_sql_table_chart_and_trust(client, shop_connection, admin, script):
    await login(client, admin.email, ADMIN_PASSWORD)
    page = await client.get("/ask")
    assert page.status_code == 200 and 'option value="shop"' in page.text and "Ask" in page.text
    script.extend([ORDERS_BY_STATUS, ORDERS_BY_STATUS])  # two asks below

    first = await form_post(client, "/ask", {"question": "Orders per status?", "connection": "shop"}, page="/ask", htmx=True)
    assert "/ask/progress/" in first.text and "Orders per status?" in first.text
    answer = await ask_htmx(client, "Orders per status?")
    assert '<span class="kw">SELECT</span>' in answer and "trust-generated" in answer
    assert "<th>status<span class=\"coltype\">text</span></th>" in answer
    assert "data-vega-spec" in answer and "Download CSV" in answer
    assert 'id="thread-id"' in answer and 'hx-swap-oob="true"' in answer


async def test_a_refused_question_shows_the_reason_in_the_page(client, shop_connection, admin, script):
    await login(client, admin.email, ADMIN_PASSWORD)
    script.extend(["DROP TABLE orders"] * 3)
    answer = await ask_htmx(client, "How many orders are there?")
    assert "No valid SQL" in answer and "What was tried (2 attempts)" in answer and "Traceback" not in answer


async def test_without_javascript_the_form_post_renders_the_whole_answer(client, shop_connection, admin, script):
    await login(client, admin.email, ADMIN_PASSWORD)
    script.append(ORDERS_BY_STATUS)
    response = await form_post(client, "/ask", {"question": "Orders per status?", "connection": "shop"}, page="/ask")
    assert response.status_code == 200 and "shipped" in response.text and "<html" in response.text


async def test_rows_are_paged_on_the_server(client, shop_connection, admin, script):
    await login(client, admin.email, ADMIN_PASSWORD)
    client.app.state.ask.settings = type(client.app.state.ask.settings)(page_size=10)
    script.append("SELECT id, amount FROM orders ORDER BY id")
    answer = await ask_htmx(client, "List orders")
    answer_id = answer_id_of(answer)
    assert "page 1 of 3" in answer
    second = await client.get(f"/answers/{answer_id}/rows?page=2", headers=HX)
    assert "rows 11–20 of 30" in second.text and ">11<" in second.text and ">10<" not in second.text


async def test_switching_the_chart_returns_a_new_spec_or_a_reason(client, shop_connection, admin, script):
    await login(client, admin.email, ADMIN_PASSWORD)
    script.append(ORDERS_BY_STATUS)
    answer_id = answer_id_of(await ask_htmx(client, "Orders per status?"))
    pie = await client.get(f"/answers/{answer_id}/chart?kind=pie", headers=HX)
    assert '"arc"' in pie.text
    bad = await client.get(f"/answers/{answer_id}/chart?kind=line&y=status", headers=HX)
    assert 'role="alert"' in bad.text and "data-vega-spec" not in bad.text


async def test_edited_sql_runs_through_the_guard(client, shop_connection, admin, script):
    await login(client, admin.email, ADMIN_PASSWORD)
    script.append(ORDERS_BY_STATUS)
    answer_id = answer_id_of(await ask_htmx(client, "Orders per status?"))
    edited = await form_post(client, f"/answers/{answer_id}/run", {"sql": "SELECT COUNT(*) AS n FROM customers"},
                             page="/ask", htmx=True)
    assert edited.status_code == 200 and "edited by hand" in edited.text and "number" in edited.text
    # hand-written SQL answers no question of its own: the heading and History say it was edited
    assert "Edited SQL (from: Orders per status?)" in edited.text
    history = await client.get("/history")
    assert "Edited SQL (from: Orders per status?)" in history.text
    again = await form_post(client, f"/answers/{answer_id_of(edited.text)}/run", {"sql": "SELECT 2 AS n"},
                            page="/ask", htmx=True)
    assert "Edited SQL (from: Orders per status?)" in again.text and "(from: Edited" not in again.text
    refused = await form_post(client, f"/answers/{answer_id}/run", {"sql": "DELETE FROM orders"}, page="/ask", htmx=True)
    assert refused.status_code == 400 and "DELETE" in refused.text and refused.headers["hx-retarget"] == "#flash"


async def test_analysts_may_not_edit_sql_when_the_setting_is_off(client, shop_connection, admin, analyst, script):
    from nl2sql.settings import AnswersSettings

    await client.app.state.catalog.set_grants(admin, "shop", [analyst.id])
    client.app.state.ask.settings = AnswersSettings(analysts_edit_sql=False)
    await login(client, analyst.email, ANALYST_PASSWORD)
    answer = await ask_htmx(client, "How many orders?")
    answer_id = answer_id_of(answer)
    assert "Edit and run" not in answer
    response = await form_post(client, f"/answers/{answer_id}/run", {"sql": "SELECT 1 AS x FROM orders"}, page="/ask",
                               htmx=True)
    assert response.status_code == 403


async def test_csv_download_from_the_page(client, shop_connection, admin, script):
    await login(client, admin.email, ADMIN_PASSWORD)
    script.append(ORDERS_BY_STATUS)
    answer_id = answer_id_of(await ask_htmx(client, "Orders per status?"))
    response = await client.get(f"/answers/{answer_id}/csv")
    assert response.status_code == 200 and response.text.splitlines()[0] == "status,orders"


async def test_history_lists_own_questions_and_admins_see_everyones(client, shop_connection, admin, analyst, script):
    await client.app.state.catalog.set_grants(admin, "shop", [analyst.id])
    await login(client, analyst.email, ANALYST_PASSWORD)
    await ask_htmx(client, "analyst question on orders")
    history = await client.get("/history")
    assert "analyst question" in history.text and "Re-run" in history.text
    await client.post("/logout", data={}, follow_redirects=False)

    client.cookies.clear()
    await login(client, admin.email, ADMIN_PASSWORD)
    await ask_htmx(client, "admin question on orders")
    everyone = await client.get("/history")
    assert "analyst question" in everyone.text and "admin question" in everyone.text
    only = await client.get(f"/history?user_id={analyst.id}", headers=HX)
    assert "analyst question" in only.text and "admin question" not in only.text


async def test_feedback_then_admin_promotes_it_and_the_question_is_answered_by_the_verified_query(
    client, shop_connection, admin, script
):
    await login(client, admin.email, ADMIN_PASSWORD)
    question = "How many orders does each status have?"
    script.append(ORDERS_BY_STATUS)
    answer_id = answer_id_of(await ask_htmx(client, question))
    given = await form_post(client, f"/answers/{answer_id}/feedback", {"rating": "up", "comment": "spot on"},
                            page="/ask", htmx=True)
    assert "feedback was saved" in given.text

    listing = await client.get("/admin/feedback?rating=up")
    feedback_id = re.search(r'href="/admin/feedback/(\d+)"', listing.text).group(1)
    trace = await client.get(f"/admin/feedback/{feedback_id}")
    assert "Attempts" in trace.text and ORDERS_BY_STATUS.split(" FROM")[0] in trace.text and "orders" in trace.text
    promoted = await form_post(client, f"/admin/feedback/{feedback_id}/promote", {"question": question},
                               page="/admin/feedback", htmx=True)
    assert "Promoted to golden query" in promoted.text

    again = await ask_htmx(client, question)
    assert "trust-verified" in again and "verified query" in again


async def test_promoting_refused_sql_shows_the_reason(client, shop_connection, admin, script):
    await login(client, admin.email, ADMIN_PASSWORD)
    answer_id = answer_id_of(await ask_htmx(client, "How many orders?"))
    await form_post(client, f"/answers/{answer_id}/feedback",
                    {"rating": "down", "corrected_sql": "SELECT total FROM invoices"}, page="/ask", htmx=True)
    listing = await client.get("/admin/feedback")
    feedback_id = re.search(r'href="/admin/feedback/(\d+)"', listing.text).group(1)
    refused = await form_post(client, f"/admin/feedback/{feedback_id}/promote", {}, page="/admin/feedback", htmx=True)
    assert "Refused:" in refused.text and "invoices" in refused.text
    dismissed = await form_post(client, f"/admin/feedback/{feedback_id}/dismiss", {}, page="/admin/feedback", htmx=True)
    assert "dismissed" in dismissed.text


async def test_analysts_cannot_open_the_feedback_admin_page(client, analyst):
    await login(client, analyst.email, ANALYST_PASSWORD)
    assert (await client.get("/admin/feedback")).status_code == 403


async def test_progress_polls_do_not_count_against_the_users_rate_limit(client, shop_connection, admin, admin_key,
                                                                        script):
    await login(client, admin.email, ADMIN_PASSWORD)
    put = await client.put(f"/api/v1/quotas/user/{admin.id}", json={"requests_per_minute": 6},
                           headers=bearer(admin_key))
    assert put.status_code == 200, put.text
    script.append(ORDERS_BY_STATUS)
    first = await form_post(client, "/ask", {"question": "Orders per status?", "connection": "shop"}, page="/ask",
                            htmx=True)
    poll = re.search(r'hx-get="(/ask/progress/[^"]+)"', first.text).group(1)
    assert 'data-poll' in first.text and 'hx-trigger="load delay:500ms"' in first.text
    # a slow question polled far more often than the limit allows still ends on screen
    statuses, text = [], ""
    for _ in range(300):
        response = await client.get(poll, headers=HX)
        statuses.append(response.status_code)
        text = response.text
        if len(statuses) >= 15 and "progress-card" not in text:
            break
        await asyncio.sleep(0.02)
    assert statuses == [200] * len(statuses) and len(statuses) >= 15
    assert "shipped" in text
    # the limit itself still holds for the user's own requests (13 of them: more than twice the limit, so one
    # minute's window holds more than 6 even when the requests straddle a minute boundary)
    codes = [(await client.get("/history")).status_code for _ in range(13)]
    assert 429 in codes


async def test_a_follow_up_is_promoted_under_the_whole_question_it_stood_for(client, shop_connection, admin, script):
    await login(client, admin.email, ADMIN_PASSWORD)
    script.extend([ORDERS_BY_STATUS, ORDERS_BY_STATUS])
    first = await ask_htmx(client, "How many orders does each status have?")
    thread = re.search(r'name="thread_id" id="thread-id" value="(\d+)"', first).group(1)
    follow = await ask_htmx(client, "only for 2024", thread_id=thread)
    await form_post(client, f"/answers/{answer_id_of(follow)}/feedback", {"rating": "up"}, page="/ask", htmx=True)
    listing = await client.get("/admin/feedback")
    feedback_id = re.search(r'href="/admin/feedback/(\d+)"', listing.text).group(1)
    trace = await client.get(f"/admin/feedback/{feedback_id}")
    assert 'name="question" value="How many orders does each status have only for 2024"' in trace.text


async def test_a_timed_out_question_ends_on_the_page_and_is_in_history(client, shop_connection, admin, script):
    from nl2sql.inference import InferenceTimeout

    await login(client, admin.email, ADMIN_PASSWORD)
    script.append(InferenceTimeout("the model did not finish within 120 s; the request was cancelled"))
    ended = await ask_htmx(client, "Which zebra sold the most?")
    assert "did not finish within 120 s" in ended and "from asking to this message" in ended
    assert "Recorded as answer #" in ended
    history = await client.get("/history")
    assert "Which zebra sold the most?" in history.text


async def test_a_question_in_progress_can_be_cancelled(client, shop_connection, admin, script):
    await login(client, admin.email, ADMIN_PASSWORD)
    started = await form_post(client, "/ask", {"question": "Orders per status?", "connection": "shop"}, page="/ask",
                              htmx=True)
    token = re.search(r'hx-get="/ask/progress/([^"]+)"', started.text).group(1)
    assert f'hx-post="/ask/progress/{token}/cancel"' in started.text
    cancelled = await form_post(client, f"/ask/progress/{token}/cancel", {}, page="/ask", htmx=True)
    assert cancelled.status_code == 200 and "Cancelled:" in cancelled.text
    polled = await client.get(f"/ask/progress/{token}", headers=HX)
    assert "progress-card" not in polled.text  # it ended: cancelled, or its answer if it was already done


async def test_the_progress_names_the_steps_as_they_happen(client, shop_connection, admin):
    stages = []
    ask_service = client.app.state.ask
    admin_user = await client.app.state.auth.find_user(admin.email)
    await ask_service.ask(admin_user, "How many orders per status?", "shop", progress=stages.append)
    assert stages[0].startswith("Reading the question")
    assert any(s == "Asking the model" or s.startswith("Waiting for the model") for s in stages)
    assert stages[-2:] == ["Running the query", "Drawing the chart"]
