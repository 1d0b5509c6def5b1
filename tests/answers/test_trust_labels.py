"""The trust label claims a verified query only when the SQL is that query's SQL with the question's values."""

from __future__ import annotations

from datetime import UTC, datetime

from nl2sql.answers.history import AnswerRecord


def record(**fields) -> AnswerRecord:
    base = dict(id=1, user_id=1, connection_id=1, connection="shop", question="q", sql="SELECT 1", source_sql=None,
                verified=False, golden_query_id=None, status="ok", error=None, attempts=[], retrieved={},
                timings={}, trace_id=None, created_at=datetime.now(UTC), thread_id=None, source="ask",
                row_count=1, truncated=False, columns=[], chart_kind=None, run_error=None, run_ms=None)
    return AnswerRecord(**(base | fields))


SHOWN = {"golden_queries": [{"id": 7, "name": "How many orders were placed in 2024?", "score": 0.9}], "guided_by": [7]}


def test_model_sql_with_a_verified_example_in_its_prompt_does_not_claim_to_be_based_on_it():
    kind, label = record(generator="model_sql", retrieved=SHOWN, sql="SELECT * FROM customers WHERE id = 2024").trust
    assert kind == "guided" and "based on" not in label
    assert label.startswith("generated") and "How many orders were placed in 2024?" in label


def test_an_adapted_verified_query_says_so():
    adapted = record(generator="golden", candidates=[{"chosen": True, "note": "orders in 2025"}])
    kind, label = adapted.trust
    assert kind == "adapted" and label.startswith("based on a verified query") and "orders in 2025" in label


def test_verified_edited_and_read_labels():
    assert record(verified=True).trust == ("verified", "verified query")
    assert record(source="edit", retrieved=SHOWN).trust[0] == "edited"
    assert record(generator="reader").trust == ("read", "read from the question (no model)")


def test_the_progress_line_says_when_a_question_waits_for_the_model():
    from nl2sql.answers.model_generators import model_stage as _model_stage
    from nl2sql.inference import ModelStatus

    def model(busy: int, queued: int):
        status = ModelStatus(backend="llamacpp", model="m", model_file=None, base_url=None, context_size=2048,
                             prompt_format="chat", loaded=True, slots=1, busy=busy, queue_depth=queued, queue_size=8,
                             supports_grammar=True)
        return type("Stub", (), {"describe": lambda self: status})()

    assert _model_stage(model(0, 0)) == "Asking the model"
    assert _model_stage(model(1, 2)) == "Waiting for the model (2 questions ahead), then asking it"
