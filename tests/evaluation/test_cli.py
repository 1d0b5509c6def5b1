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
