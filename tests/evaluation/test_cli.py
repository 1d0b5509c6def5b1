"""`nl2sql eval` runs a question CSV through the engine in-process, prints each verdict and the figures, and
stores the run where the pages show it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.answers.conftest import build_shop_db


def test_nl2sql_eval_prints_and_stores_the_run(settings, tmp_path):
    import asyncio

    from nl2sql.app import create_app
    from tests.support import ADMIN_PASSWORD

    shop = tmp_path / "cli_shop.db"
    build_shop_db(shop)

    async def prepare() -> None:
        app = create_app(settings, run_jobs=False)
        async with app.lifespan():
            admin = await app.state.auth.create_user("admin@example.com", ADMIN_PASSWORD, role="admin")
            await app.state.catalog.create_connection(admin, "shop", f"sqlite:///{shop}")
            assert (await app.state.catalog.sync_now(admin, "shop")).error is None

    asyncio.run(prepare())
    questions = tmp_path / "q.csv"
    questions.write_text("question,query,query_category\n"
                         "How many orders are there?,SELECT COUNT(*) FROM orders,count\n"
                         "How many orders per status?,\"SELECT status, COUNT(*) FROM orders GROUP BY status\",group\n"
                         "How many orders are there in all?,SELECT COUNT(*) + 1 FROM orders,count\n")
    out = tmp_path / "run.json"
    env = os.environ | {
        "NL2SQL_DATABASE_URL": settings.database.url, "NL2SQL_DATA_DIR": str(tmp_path / "data"),
        "NL2SQL_SECRET_KEY": settings.server.secret_key, "NL2SQL_DEMO": "false",
        "NL2SQL_LLM_LOAD_AT_START": "false", "NL2SQL_EMBEDDING_LOAD_AT_START": "false", "HF_HUB_OFFLINE": "1",
    }
    done = subprocess.run([sys.executable, "-m", "nl2sql.cli", "eval", "--connection", "shop", "--questions",
                           str(questions), "--out", str(out)], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "evaluation #1: 3 questions on shop" in done.stdout
    assert "[3/3] no " in done.stdout and "done: 2/3 correct (66.7%" in done.stdout
    assert "per category: count 1/2; group 1/1" in done.stdout
    body = json.loads(out.read_text())
    assert body["status"] == "done" and len(body["items"]) == 3

    missing = subprocess.run([sys.executable, "-m", "nl2sql.cli", "eval", "--connection", "nope", "--questions",
                              str(questions)], env=env, capture_output=True, text=True, timeout=300)
    assert missing.returncode == 2 and "nope" in missing.stderr


def test_nl2sql_eval_measures_a_settings_change_against_a_stored_run(settings, tmp_path):
    """A candidate engine setting (here: the prompt template and no reader) is run with `nl2sql eval` before the
    servers get it, on the golden and stored questions, and compared with the run made with the live settings."""
    import asyncio

    from nl2sql.app import create_app
    from tests.support import ADMIN_PASSWORD

    shop = tmp_path / "cli_shop.db"
    build_shop_db(shop)

    async def prepare() -> None:
        app = create_app(settings, run_jobs=False)
        async with app.lifespan():
            admin = await app.state.auth.create_user("admin@example.com", ADMIN_PASSWORD, role="admin")
            connection = await app.state.catalog.create_connection(admin, "shop", f"sqlite:///{shop}")
            assert (await app.state.catalog.sync_now(admin, "shop")).error is None
            await app.state.catalog.add_golden_query(admin, connection.id, "How many orders are there?",
                                                     "SELECT COUNT(*) FROM orders")

    asyncio.run(prepare())
    env = os.environ | {
        "NL2SQL_DATABASE_URL": settings.database.url, "NL2SQL_DATA_DIR": str(tmp_path / "data"),
        "NL2SQL_SECRET_KEY": settings.server.secret_key, "NL2SQL_DEMO": "false",
        "NL2SQL_LLM_LOAD_AT_START": "false", "NL2SQL_EMBEDDING_LOAD_AT_START": "false", "HF_HUB_OFFLINE": "1",
        "NL2SQL_ENGINE_GENERATORS": "reader,golden", "NL2SQL_ENGINE_MODEL_WHEN": "fallback",
    }
    eval_ = [sys.executable, "-m", "nl2sql.cli", "eval", "--connection", "shop"]
    both = subprocess.run([*eval_, "--golden", "--stored"], env=env, capture_output=True, text=True, timeout=120)
    assert both.returncode != 0 and "give one question set" in both.stderr
    live = subprocess.run([*eval_, "--golden"], env=env, capture_output=True, text=True, timeout=300)
    assert live.returncode == 0, live.stderr[-3000:]
    assert "evaluation #1: 1 questions on shop" in live.stdout and "done: 1/1 correct" in live.stdout

    # the candidate: only the golden generator (which holds no answer for a question held out), another prompt
    candidate = env | {"NL2SQL_ENGINE_GENERATORS": "golden", "NL2SQL_ENGINE_PROMPT_TEMPLATE": "completion"}
    tried = subprocess.run([*eval_, "--stored", "--compare-with", "1", "--out", str(tmp_path / "run.json")],
                           env=candidate, capture_output=True, text=True, timeout=300)
    assert tried.returncode == 0, tried.stderr[-3000:]
    assert "done: 0/1 correct" in tried.stdout
    assert "against #1 (" in tried.stdout and "prompt auto): 1/1 -> 0/1; 0 fixed, 1 broken" in tried.stdout
    assert "broken: How many orders are there?" in tried.stdout
    body = json.loads((tmp_path / "run.json").read_text())
    assert body["engine"]["generators"] == "golden" and body["engine"]["prompt_template"] == "completion"
