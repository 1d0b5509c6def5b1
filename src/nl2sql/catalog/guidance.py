"""Guidance an admin gives the engine: instructions (always or topical) and golden queries (question + verified SQL, test-run before they are stored)."""

from __future__ import annotations

import logging
from collections.abc import Iterable

import anyio
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from nl2sql.auth import User
from nl2sql.catalog import transfer
from nl2sql.catalog.dto import (
    GoldenQuery,
    ImportReport,
    Instruction,
    InstructionKind,
)
from nl2sql.catalog.models import (
    GoldenQueryRow,
    InstructionRow,
)
from nl2sql.db import utcnow
from nl2sql.errors import AppError, ConflictError, NotFoundError, UnavailableError, ValidationFailed

log = logging.getLogger("nl2sql.catalog")
from nl2sql.catalog.rows import (
    like_pattern,
    to_golden,
    to_instruction,
)
from nl2sql.catalog.base import CatalogCore


class GuidancePart(CatalogCore):
    """Instructions and golden queries."""

    # instructions ---------------------------------------------------------------------------------

    async def instructions(self, connection_id: int, kind: InstructionKind | str | None = None) -> list[Instruction]:
        query = sa.select(InstructionRow).where(InstructionRow.connection_id == connection_id)
        if kind:
            query = query.where(InstructionRow.kind == InstructionKind(kind).value)
        async with self._sessions() as db:
            return [to_instruction(r) for r in await db.scalars(query.order_by(InstructionRow.id))]

    @staticmethod
    def _instruction_fields(text: str, kind: InstructionKind | str) -> tuple[str, str]:
        text = (text or "").strip()
        if not text:
            raise ValidationFailed("the instruction text is empty")
        if len(text) > 4000:
            raise ValidationFailed("an instruction may have at most 4000 characters")
        try:
            return text, InstructionKind(kind).value
        except ValueError:
            raise ValidationFailed("the instruction kind must be `always` or `topical`") from None

    async def add_instruction(
        self, actor: User | None, connection_id: int, text: str, kind: InstructionKind | str = InstructionKind.ALWAYS
    ) -> Instruction:
        text, kind = self._instruction_fields(text, kind)
        now = utcnow()
        async with self._change(connection_id) as change:
            db = change.db
            row = InstructionRow(connection_id=connection_id, text=text, kind=kind, created_at=now, updated_at=now)
            db.add(row)
            await db.flush()
            change.audit(actor, "catalog.instruction.create", f"connection:{connection_id}/instruction:{row.id}",
                     after={"text": text, "kind": kind})
            result = to_instruction(row)
        return result

    async def update_instruction(
        self, actor: User | None, connection_id: int, instruction_id: int, text: str, kind: InstructionKind | str
    ) -> Instruction:
        text, kind = self._instruction_fields(text, kind)
        async with self._change(connection_id) as change:
            db = change.db
            row = await db.get(InstructionRow, instruction_id)
            if row is None or row.connection_id != connection_id:
                raise NotFoundError(f"no instruction {instruction_id}")
            before = {"text": row.text, "kind": row.kind}
            row.text, row.kind, row.updated_at = text, kind, utcnow()
            change.audit(actor, "catalog.instruction.update", f"connection:{connection_id}/instruction:{row.id}",
                     before, {"text": text, "kind": kind})
            result = to_instruction(row)
        return result

    async def delete_instruction(self, actor: User | None, connection_id: int, instruction_id: int) -> None:
        async with self._change(connection_id) as change:
            db = change.db
            row = await db.get(InstructionRow, instruction_id)
            if row is None or row.connection_id != connection_id:
                raise NotFoundError(f"no instruction {instruction_id}")
            change.audit(actor, "catalog.instruction.delete", f"connection:{connection_id}/instruction:{row.id}",
                     before={"text": row.text, "kind": row.kind})
            await db.delete(row)

    # golden queries -------------------------------------------------------------------------------

    async def golden_queries(self, connection_id: int, search: str | None = None) -> list[GoldenQuery]:
        query = sa.select(GoldenQueryRow).where(GoldenQueryRow.connection_id == connection_id)
        for term in (search or "").split():
            pattern = like_pattern(term)
            query = query.where(sa.or_(GoldenQueryRow.question.ilike(pattern, escape="\\"),
                                       GoldenQueryRow.sql.ilike(pattern, escape="\\")))
        async with self._sessions() as db:
            return [to_golden(r) for r in await db.scalars(query.order_by(GoldenQueryRow.id))]

    async def check_golden_sql(self, connection_id: int, sql: str) -> str:
        """The SQL as it will be stored, or ValidationFailed with the reason (parse, read-only, test run)."""
        target = await self.sql_target(connection_id)
        try:
            engine = await self.engine(connection_id)
        except UnavailableError as exc:
            raise ValidationFailed(f"the SQL can't be test-run: {exc.detail}") from None
        check = self._golden_check
        try:
            return await anyio.to_thread.run_sync(lambda: check(sql, target, engine))
        except ValidationFailed:
            raise
        except AppError as exc:
            # a failed or timed-out test run is a reason to refuse the query, not a server error
            raise ValidationFailed(exc.detail) from None

    async def _golden_fields(self, connection_id: int, question: str, sql: str) -> tuple[str, str]:
        question = (question or "").strip()
        if not question:
            raise ValidationFailed("the question is empty")
        if len(question) > 2000:
            raise ValidationFailed("a question may have at most 2000 characters")
        return question, await self.check_golden_sql(connection_id, sql)

    @staticmethod
    async def _refuse_duplicate(db: AsyncSession, connection_id: int, question: str, except_id: int | None = None) -> None:
        """One golden query per question (case, spacing and end punctuation aside) on a connection."""
        def key(text: str) -> str:
            return " ".join(text.lower().split()).rstrip("?.! ")

        rows = await db.execute(sa.select(GoldenQueryRow.id, GoldenQueryRow.question).where(
            GoldenQueryRow.connection_id == connection_id))
        for other_id, other in rows:
            if other_id != except_id and key(other) == key(question):
                raise ConflictError(f"golden query #{other_id} already has this question ({other!r}): edit that one "
                                    "instead")

    async def add_golden_query(self, actor: User | None, connection_id: int, question: str, sql: str) -> GoldenQuery:
        question, sql = await self._golden_fields(connection_id, question, sql)
        now = utcnow()
        async with self._change(connection_id) as change:
            db = change.db
            await self._refuse_duplicate(db, connection_id, question)
            row = GoldenQueryRow(connection_id=connection_id, question=question, sql=sql, created_at=now, updated_at=now)
            db.add(row)
            await db.flush()
            change.audit(actor, "catalog.golden_query.create", f"connection:{connection_id}/golden_query:{row.id}",
                     after={"question": question, "sql": sql})
            result = to_golden(row)
        return result

    async def update_golden_query(
        self, actor: User | None, connection_id: int, query_id: int, question: str, sql: str
    ) -> GoldenQuery:
        question, sql = await self._golden_fields(connection_id, question, sql)
        async with self._change(connection_id) as change:
            db = change.db
            row = await db.get(GoldenQueryRow, query_id)
            if row is None or row.connection_id != connection_id:
                raise NotFoundError(f"no golden query {query_id}")
            await self._refuse_duplicate(db, connection_id, question, except_id=query_id)
            before = {"question": row.question, "sql": row.sql}
            row.question, row.sql, row.updated_at = question, sql, utcnow()
            change.audit(actor, "catalog.golden_query.update", f"connection:{connection_id}/golden_query:{row.id}",
                     before, {"question": question, "sql": sql})
            result = to_golden(row)
        return result

    async def delete_golden_query(self, actor: User | None, connection_id: int, query_id: int) -> None:
        async with self._change(connection_id) as change:
            db = change.db
            row = await db.get(GoldenQueryRow, query_id)
            if row is None or row.connection_id != connection_id:
                raise NotFoundError(f"no golden query {query_id}")
            change.audit(actor, "catalog.golden_query.delete", f"connection:{connection_id}/golden_query:{row.id}",
                     before={"question": row.question, "sql": row.sql})
            await db.delete(row)

    async def import_golden_rows(
        self, actor: User | None, connection_id: int, rows: Iterable[tuple[int, str, str]]
    ) -> ImportReport:
        """Add (line, question, sql) rows; a bad row is reported with its line and reason, good rows stay."""
        imported, errors = 0, []
        for line, question, sql in rows:
            try:
                await self.add_golden_query(actor, connection_id, question, sql)
                imported += 1
            except (ValidationFailed, ConflictError) as exc:
                errors.append((line, exc.detail))
        return ImportReport(imported=imported, skipped=len(errors), errors=tuple(errors))

    async def import_golden_csv(self, actor: User | None, connection_id: int, text: str) -> ImportReport:
        """Add golden queries from a question,sql CSV; bad rows are reported by line, good rows kept."""
        return await self.import_golden_rows(actor, connection_id, transfer.parse_golden_csv(text))

    async def export_golden_csv(self, connection_id: int) -> str:
        return transfer.golden_csv([(q.question, q.sql) for q in await self.golden_queries(connection_id)])
