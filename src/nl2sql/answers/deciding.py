"""The service's last step: from the chosen candidate and what of the question the catalog explains, answer, ask
back or refuse (the rules are in verdict.py; this is where the service's state meets them)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import anyio

from nl2sql.answers.candidates import Candidate
from nl2sql.answers.verdict import WRITE_LABEL, Question, Verdict, decide
from nl2sql.auth import User
from nl2sql.catalog import Connection
from nl2sql.semantics import Reader, metric_parts, nearest_columns, question_coverage

if TYPE_CHECKING:
    from nl2sql.settings import EngineSettings

__all__ = ["Deciding"]


class Deciding:
    """The decision part of SqlGenerationService (a mixin: it reads the service's settings and trust)."""

    settings: EngineSettings
    trust: str

    async def _decide(self, text: str, reader: Reader, notes: list[str], today: dt.date, candidates: list[Candidate],
                      best: Candidate | None, connection: Connection, user: User | None, use_model: bool,
                      trust: str, scope: set[str] | None = None) -> tuple[Candidate | None, Verdict | None]:
        """The candidate that answers and the verdict: answer, ask back or refuse (answers/verdict.py)."""
        best = _covering_golden(candidates, best)

        def verdict_for(chosen: Candidate | None) -> Verdict:
            return self._verdict(text, reader, notes, today, candidates, chosen, connection, user, use_model, scope)

        verdict = await anyio.to_thread.run_sync(verdict_for, best)
        by_model = [c for c in candidates if c.generator in ("model_sql", "model_plan") and c.ran and c.rows]
        if verdict.status == "clarify" and best is not None and best.generator == "reader" and by_model \
                and (use_model or trust == "high"):
            # the reading leaves part of the question out, and the user asked the model ("Try the model") or its
            # SQL has earned trust: the model's query answers, labelled as the model's
            best.chosen = False
            best = max(by_model, key=lambda c: c.score)
            best.chosen = True
            verdict = await anyio.to_thread.run_sync(verdict_for, best)
        model_tried = any(c.generator in ("model_sql", "model_plan") for c in candidates)
        if best is None and model_tried and verdict.status != "answered" and verdict.label != WRITE_LABEL:
            return None, None  # the model was asked and failed: its attempts say why (SqlNotGenerated, as before)
        return best, verdict

    def _verdict(self, text: str, reader: Reader, notes: list[str], today: dt.date, candidates: list[Candidate],
                 best: Candidate | None, connection: Connection, user: User | None, use_model: bool,
                 scope: set[str] | None = None) -> Verdict:
        """Answer, ask back or refuse (answers/verdict.py), from what of the question the catalog explains."""
        coverage = question_coverage(reader, text, today=today, instructions=tuple(notes), scope=scope)
        # the tables retrieval chose for the question: a catalog of thousands is not searched word by word
        nearest = {w: [(t, c) for t, c, _ in nearest_columns(reader.model, w, tables=scope)] for w in coverage.unread}
        model_note = None
        if not use_model and any(g in self.settings.generator_list for g in ("model_plan", "model_sql")):
            model_note = _model_expectation(self.trust)
        asked = Question(text, connection.name, coverage.content, coverage.unread, coverage.write_verb, nearest,
                         model_note, bool(user and user.is_admin), tuple(notes), metric_parts(reader.model.metrics))
        threshold = self.settings.answer_confidence if self.settings.answer_confidence >= 0 else None
        return decide(asked, candidates, best, threshold=threshold)


def _covering_golden(candidates: list[Candidate], best: Candidate | None) -> Candidate | None:
    """A reading that leaves words out never wins over an adapted golden query that ran."""
    if best is None or best.generator != "reader" or not best.left_out:
        return best
    golden = [c for c in candidates if c.generator == "golden" and c.ran and c.rows]
    if not golden:
        return best
    best.chosen = False
    chosen = max(golden, key=lambda c: c.score)
    chosen.chosen = True
    return chosen


def _model_expectation(trust: str) -> str:
    if trust == "high":
        return "asks the configured model to write the query: a few seconds"
    return ("asks the bundled small CPU model: it takes a minute or more and is rarely right; "
            "a larger model can be configured (NL2SQL_LLM_MODEL_PATH or NL2SQL_LLM_BASE_URL)")
