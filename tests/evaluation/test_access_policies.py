"""An evaluation run by a user under a row policy: the engine's answers and the gold SQL both read only the rows
that user may see (the shop has 30 orders, 15 of them `new`)."""

from __future__ import annotations

from nl2sql.evaluation import EvaluationService, parse_questions
from nl2sql.inference import FakeChatModel

# the first gold is a constant: right only if the engine's answer was filtered; the second is right only if the
# gold SQL was filtered too
CSV = """question,query,query_category
How many orders are there?,SELECT 15,count
How many orders are there in all?,SELECT COUNT(*) FROM orders,count
"""


async def test_a_run_by_a_policed_user_counts_only_their_rows(shop):
    await shop.catalog.add_row_policy(shop.admin, "shop", "orders", f"user:{shop.admin.id}", "status = 'new'")
    answers = shop.service(FakeChatModel(["SELECT 1"]), generators="reader", model_when="never")
    service = EvaluationService(shop.sessions, shop.catalog, answers, shop.auth)
    created = await service.create(shop.admin, "shop", parse_questions(CSV), name="policed")
    done = await service.execute(created.id)
    assert done.status == "done" and done.correct == 2, [(f.question, f.reason) for f in done.failures]
