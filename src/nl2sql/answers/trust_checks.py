"""How much the model's own SQL counts, measured: its SQL checked against the golden queries and against the readings as answers are given, the evidence stored per model name."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import anyio
import sqlalchemy as sa

from nl2sql.answers.candidates import Candidate
from nl2sql.answers.models import ModelTrustCheckRow
from nl2sql.answers.policy import for_user
from nl2sql.answers.trust import TrustReading
from nl2sql.auth import User
from nl2sql.db import utcnow
from nl2sql.errors import ConflictError, ValidationFailed

if TYPE_CHECKING:
    pass


from nl2sql.answers.pipeline import (
    Clock,
    held_out,
)

log = logging.getLogger("nl2sql.answers")


@dataclass(frozen=True)
class ModelCheck:
    """The model asked a connection's verified questions: how many results it reproduced, and the trust now."""

    connection: str
    checked: int
    passed: int
    results: list[dict[str, object]]
    trust: TrustReading

    def to_json(self) -> dict[str, object]:
        return {"connection": self.connection, "checked": self.checked, "passed": self.passed,
                "results": self.results, "trust": self.trust.to_json()}




class TrustChecks:
    """The measured trust, mixed into the generation service (it uses its model, sessions and catalog)."""

    async def check_model(
        self, user: User, connection_name: str, *, limit: int = 20,
        pairs: list[tuple[str, str]] | None = None,
    ) -> ModelCheck:
        """Ask the model each verified query's question (that query kept out of its prompt) and compare the result
        of its SQL with the verified SQL's: evidence for how much its SQL counts (see `ModelTrust`).

        `pairs` (question, SQL) replaces the connection's golden queries. A verified query that no longer runs is
        skipped, not counted against the model."""
        connection = await self._catalog.visible_connection(user, connection_name.strip())
        schema = await self._catalog.schema_for_prompt(connection.id)
        if not schema.tables:
            raise ConflictError(f"connection {connection.name} has no included tables yet: sync it first")
        if pairs is None:
            pairs = [(g.question, g.sql) for g in await self._catalog.golden_queries(connection.id)]
        if not pairs:
            raise ConflictError(f"connection {connection.name} has no golden queries to check the model with")
        if not 1 <= limit <= 200:
            raise ValidationFailed("limit must be between 1 and 200")
        # the checking admin's own row policies and masks hold here too, as on every path that runs SQL
        policy = await for_user(self._catalog, self._policy(schema), user, schema)
        visibility = await self._catalog.visibility(user, connection.id)
        schema = visibility.schema(schema)
        reader = await anyio.to_thread.run_sync(self.reader, schema)
        engine = await self._catalog.engine(connection.id, "check")
        results: list[dict[str, object]] = []
        for question, sql in pairs[:limit]:
            retrieval = await self._retriever.retrieve(question, connection.id, visibility=visibility)
            # the query under test is not shown to the model (nor any with the same question)
            retrieval = replace(retrieval, golden_queries=held_out(retrieval.golden_queries, question, sql))
            verified = Candidate("golden", sql, confidence=1.0)
            terms = await anyio.to_thread.run_sync(lambda: reader.terms(question, today=self._today()))
            await self._check([verified], policy, engine, terms, reader.model.dialect)
            if not verified.ran:
                results.append({"question": question, "passed": None, "error": f"the verified SQL failed: "
                                                                                 f"{verified.error}"})
                continue
            generated = await self._generate(question, retrieval, schema, policy, connection, Clock(), ())
            passed, error = False, generated.error
            if generated.validated is not None:
                direct = Candidate("model_sql", generated.validated.sql, validated=generated.validated)
                await self._check([direct], policy, engine, terms, reader.model.dialect, validated=True)
                passed = direct.ran and direct.fingerprint == verified.fingerprint
                error = direct.error or (None if passed else "a different result")
            await self._save_trust("golden", passed, connection.id)
            results.append({"question": question, "passed": passed, "error": error,
                            "sql": generated.validated.sql if generated.validated else None})
        checked = [r for r in results if r["passed"] is not None]
        return ModelCheck(connection.name, len(checked), sum(1 for r in checked if r["passed"]), results,
                          await self.trust_reading())

    def model_name(self) -> str | None:
        """The configured model's name as its status gives it (nothing loaded, no server call)."""
        return self._model.describe().model

    async def trust_reading(self) -> TrustReading:
        """The model's trust now, with the stored evidence for the configured model loaded."""
        await self._load_trust()
        return self.model_trust.reading()

    async def _load_trust(self) -> str | None:
        """The evidence stored for this model (it survives restarts and is shared by processes on one app
        database); reloaded when another model is configured. Returns the model's name (None while the model
        can't say: the meter then stands as it is, and an answer never fails for it)."""
        if not self.model_trust.measured:
            return None  # a set level needs no evidence
        # the status names the model without loading it; a server's is known after its first answer
        name = self._model.describe().model
        if not name or name.startswith("("):
            try:
                name = (await self._model.info()).model
            except Exception as error:  # an unreachable model server must not cost an answer the reader gave
                log.info("model trust: the model's name is unknown (%s)", error)
                return self._trust_of
        name = name[:300]
        if self._trust_of == name:
            return name
        self.model_trust.reset()
        async with self._sessions() as db:
            for source in ("golden", "answer"):
                rows = list(await db.scalars(
                    sa.select(ModelTrustCheckRow.passed)
                    .where(ModelTrustCheckRow.model == name, ModelTrustCheckRow.source == source)
                    .order_by(ModelTrustCheckRow.id.desc()).limit(self.model_trust.window)))
                for passed in reversed(rows):
                    (self.model_trust.record_golden if source == "golden" else self.model_trust.record_answer)(passed)
        self._trust_of = name
        return name

    async def _save_trust(self, source: str, passed: bool, connection_id: int) -> None:
        name = await self._load_trust()
        (self.model_trust.record_golden if source == "golden" else self.model_trust.record_answer)(passed)
        if name is None:
            return
        async with self._sessions() as db, db.begin():
            db.add(ModelTrustCheckRow(model=name, source=source, passed=passed, connection_id=connection_id,
                                      created_at=utcnow()))

    async def _record_agreement(self, direct: Candidate, candidates: list[Candidate], connection_id: int) -> None:
        """Evidence for the model's trust: did its SQL give the result of a catalog-built candidate?"""
        built = [c for c in candidates if c.generator in ("reader", "golden") and c.ran and c.rows]
        if direct.ran and built and self.model_trust.measured:
            await self._save_trust("answer", any(c.fingerprint == direct.fingerprint for c in built), connection_id)

    def _consult_model(self, candidates: list[Candidate]) -> bool:
        when = self.settings.model_when
        if when == "auto":
            # a small model never answers on its own: it costs a minute and is rarely right ("Try the model" asks it)
            when = "always" if self.trust == "high" else "never"
        if when == "never":
            return False
        if when == "always":
            return True
        if when == "fallback":
            return not any(c.ran and c.rows and c.generator in ("reader", "golden") for c in candidates)
        return not any(
            c.ran and c.rows and c.generator in ("reader", "golden") and c.confidence >= self.settings.confident
            for c in candidates)
