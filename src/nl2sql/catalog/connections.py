"""The catalog's connections: registering customer databases (URLs sealed), who may use them (grants), their engines and connection tests."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any

import anyio
import sqlalchemy as sa

from nl2sql.auth import User
from nl2sql.catalog import engines
from nl2sql.catalog.dto import (
    Connection,
    ConnectionTest,
)
from nl2sql.catalog.models import (
    ConnectionRow,
    GrantRow,
)
from nl2sql.db import utcnow
from nl2sql.errors import ConflictError, ForbiddenError, NotFoundError, UnavailableError, ValidationFailed


log = logging.getLogger("nl2sql.catalog")
from nl2sql.catalog.rows import (
    synonyms_list,
    to_connection,
)
from nl2sql.catalog.base import CatalogCore
from nl2sql.catalog.drafts import draft_name


NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
# The rule in words, shown by the forms (help text, the input's title) and in the server's refusal.
NAME_RULE = ("1-63 characters: lowercase letters, digits, - and _, starting with a letter or digit, no spaces "
             "(for example sales or crm_eu)")
# The same rule for the browser's `pattern` (names are lowercased on save, so capitals pass).
NAME_PATTERN = "[A-Za-z0-9][A-Za-z0-9_\\-]{0,62}"


class ConnectionTestFailed(ValidationFailed):
    """A new connection's test failed and it was not saved; `reason` says why in one sentence."""

    def __init__(self, reason: str, *, hint: str = "") -> None:
        super().__init__(f"the connection test failed, so nothing was saved: {reason}" + (f" ({hint})" if hint else ""),
                         extra={"reason": reason})
        self.reason = reason


class ConnectionsPart(CatalogCore):
    """Connections and grants."""

    # connections --------------------------------------------------------------------------------

    async def list_connections(self) -> list[Connection]:
        """The live connections (drafts are reached through `draft`)."""
        async with self._sessions() as db:
            return [to_connection(r) for r in await db.scalars(
                sa.select(ConnectionRow).where(ConnectionRow.draft_of.is_(None)).order_by(ConnectionRow.name))]

    async def connection_names(self) -> dict[int, str]:
        """Every connection's name by id, drafts too (the audit log shows catalog entries by name)."""
        async with self._sessions() as db:
            return {i: n for i, n in await db.execute(sa.select(ConnectionRow.id, ConnectionRow.name))}

    async def accessible_connections(self, user: User, *, include_failing: bool = False) -> list[Connection]:
        """The live connections `user` may ask: all for admins, granted ones for analysts; a connection whose last
        test failed only with `include_failing` (the admin's connection list), and never for analysts."""
        query = sa.select(ConnectionRow).where(ConnectionRow.draft_of.is_(None)).order_by(ConnectionRow.name)
        if not user.is_admin:
            query = query.join(GrantRow, GrantRow.connection_id == ConnectionRow.id).where(GrantRow.user_id == user.id)
        if not (include_failing and user.is_admin):
            query = query.where(ConnectionRow.test_failure.is_(None))
        async with self._sessions() as db:
            return [to_connection(r) for r in await db.scalars(query)]

    async def get_connection(self, name: str) -> Connection:
        async with self._sessions() as db:
            return to_connection(await self._row_by_name(db, name))

    async def get_connection_by_id(self, connection_id: int) -> Connection:
        async with self._sessions() as db:
            row = await db.get(ConnectionRow, connection_id)
            if row is None:
                raise NotFoundError(f"no connection with id {connection_id}")
            return to_connection(row)

    async def has_access(self, user: User, connection: Connection) -> bool:
        """Whether `user` may use `connection` now: admins always; analysts with a grant, while it passes its tests."""
        if connection.failing and not user.is_admin:
            return False
        return await self.may_read(user, connection.id)

    async def may_read(self, user: User, connection_id: int | None) -> bool:
        """Whether `user` may still read what was answered on connection `connection_id` (its grant still stands;
        admins always). A deleted connection's answers stay readable by admins only."""
        if user.is_admin:
            return True
        if connection_id is None:
            return False
        async with self._sessions() as db:
            return bool(await db.scalar(sa.select(GrantRow.user_id).where(
                GrantRow.connection_id == connection_id, GrantRow.user_id == user.id)))

    async def check_access(self, user: User, connection: Connection) -> None:
        """Raise ForbiddenError unless `user` may use `connection`."""
        if not await self.has_access(user, connection):
            raise ForbiddenError(f"you have no access to connection {connection.name}; ask an admin for a grant")

    async def visible_connection(self, user: User, name: str) -> Connection:
        """The connection if `user` may see it; analysts get 404 for others (names are not disclosed)."""
        connection = await self.get_connection(name)
        if not await self.has_access(user, connection):
            raise NotFoundError(f"no connection named {name!r}")
        return connection

    @staticmethod
    def _check_name(name: str) -> str:
        given = (name or "").strip()
        name = given.lower()
        if not NAME.match(name):
            shown = f"{given[:70]!r} is not a valid connection name" if given else "the connection name is empty"
            raise ValidationFailed(f"{shown}: a name is {NAME_RULE}")
        return name

    @staticmethod
    def _check_schemas(schemas: Iterable[str] | str | None) -> list[str]:
        return synonyms_list(schemas)

    @staticmethod
    def _public(row: ConnectionRow) -> dict[str, Any]:
        # what an audit entry may hold about a connection: never the sealed or clear URL
        return {"name": row.name, "url": engines.redisplay(row.display_url), "schemas": list(row.schemas or []), "description": row.description}

    async def create_connection(
        self,
        actor: User | None,
        name: str,
        url: str,
        *,
        description: str = "",
        schemas: Iterable[str] | str | None = None,
        test: bool = False,
        save_failing: bool = False,
    ) -> Connection:
        """Register a customer database. With `test` it is connected to first: a failed test refuses it with the
        reason (ConnectionTestFailed), or with `save_failing` saves it marked failing, offered to admins only until
        a test passes. Without `test` (the demo, scripts) it is saved untested."""
        name = self._check_name(name)
        parsed = engines.parse_url(url)
        async with self._sessions() as db:
            if await db.scalar(sa.select(ConnectionRow.id).where(ConnectionRow.name == name)):
                raise ConflictError(f"a connection named {name!r} already exists")
        result = await self._probe(parsed) if test else None
        if result is not None and not result.ok and not save_failing:
            raise ConnectionTestFailed(result.message)
        now = utcnow()
        row = ConnectionRow(
            name=name,
            backend=engines.backend_of(parsed),
            display_url=engines.display_url(parsed),
            url_encrypted=self._vault.seal(parsed),
            schemas=self._check_schemas(schemas),
            description=(description or "").strip(),
            created_at=now,
            updated_at=now,
            catalog_changed_at=now,
            test_failure=None if result is None or result.ok else result.message,
            tested_at=now if result is not None else None,
        )
        async with self._sessions() as db:
            if await db.scalar(sa.select(ConnectionRow.id).where(ConnectionRow.name == name)):
                raise ConflictError(f"a connection named {name!r} already exists")
            db.add(row)
            await db.flush()
            after = self._public(row) | ({"test_failure": row.test_failure} if row.test_failure else {})
            self._audit(db, actor, "catalog.connection.create", f"connection:{name}", after=after)
            await db.commit()
            return to_connection(row)

    async def update_connection(
        self,
        actor: User | None,
        name: str,
        *,
        new_name: str | None = None,
        url: str | None = None,
        description: str | None = None,
        schemas: Iterable[str] | str | None = None,
    ) -> Connection:
        """Change a connection; a URL whose password or credential parameters are `***` (as shown) keeps the stored ones."""
        async with self._sessions() as db:
            row = await self._row_by_name(db, name)
            self._refuse_draft(row, "edited (its URL and name follow the live connection)")
            before = self._public(row)
            if new_name is not None and self._check_name(new_name) != row.name:
                new_name = self._check_name(new_name)
                if await db.scalar(sa.select(ConnectionRow.id).where(ConnectionRow.name == new_name)):
                    raise ConflictError(f"a connection named {new_name!r} already exists")
                row.name = new_name
            if url is not None and url.strip() and url.strip() != engines.redisplay(row.display_url):
                parsed = engines.parse_url(url)
                parsed = engines.restore_hidden(parsed, self._vault.open(row.url_encrypted))
                row.backend = engines.backend_of(parsed)
                row.display_url = engines.display_url(parsed)
                row.url_encrypted = self._vault.seal(parsed)
            if description is not None:
                row.description = description.strip()
            if schemas is not None:
                row.schemas = self._check_schemas(schemas)
            row.updated_at = utcnow()
            row.catalog_changed_at = row.updated_at
            self._audit(db, actor, "catalog.connection.update", f"connection:{name}", before, self._public(row))
            draft = await db.scalar(sa.select(ConnectionRow).where(ConnectionRow.draft_of == row.id))
            if draft is not None:  # a draft reads the same database as its connection
                draft.backend, draft.display_url, draft.url_encrypted = row.backend, row.display_url, row.url_encrypted
                draft.schemas, draft.name = list(row.schemas or []), draft_name(row.name)
            await db.commit()
            self._engines.discard(row.id)
            if draft is not None:
                self._engines.discard(draft.id)
            result = to_connection(row)
        await self._notify(result.id)
        return result

    async def reseal_credentials(self, actor: User | None = None) -> int:
        """Re-encrypt every stored connection URL with the current secret key (the last step of a key rotation:
        afterwards the previous keys are no longer needed); one transaction, audited. Returns how many."""
        async with self._sessions() as db:
            rows = (await db.scalars(sa.select(ConnectionRow).order_by(ConnectionRow.id))).all()
            for row in rows:
                row.url_encrypted = self._vault.reseal(row.url_encrypted)
            self._audit(db, actor, "catalog.credentials.reseal", "connections", after={"connections": len(rows)})
            await db.commit()
        return len(rows)

    async def delete_connection(self, actor: User | None, name: str) -> None:
        async with self._sessions() as db:
            row = await self._row_by_name(db, name)
            draft_id = await db.scalar(sa.select(ConnectionRow.id).where(ConnectionRow.draft_of == row.id))
            self._audit(db, actor, "catalog.connection.delete", f"connection:{name}", before=self._public(row))
            await db.delete(row)  # its draft goes with it
            await db.commit()
            self._engines.discard(row.id)
        await self._notify(row.id)
        if draft_id is not None:
            self._engines.discard(draft_id)
            await self._notify(draft_id)

    async def dialect(self, connection_id: int) -> str:
        """The sqlglot dialect name of the connection's database."""
        return (await self.get_connection_by_id(connection_id)).dialect

    async def test_connection(self, name: str) -> ConnectionTest:
        """Connect and ask the server's version; a failure comes back as one precise sentence. The outcome is kept:
        a failure marks the connection failing (offered to admins only), a pass clears the mark."""
        connection = await self.get_connection(name)
        url, _ = await self._url_and_version(connection.id)
        try:
            engines.check_sqlite_file(url)
            engine = await self.engine(connection.id)
        except (ValidationFailed, UnavailableError) as exc:
            result = ConnectionTest(ok=False, message=exc.detail)
        else:
            result = await self._probe_engine(url, engine, connection.backend)
        if not result.ok:
            log.info("connection test of %s failed: %s", name, result.message)
        await self._keep_test(connection.id, result)
        return result

    async def _keep_test(self, connection_id: int, result: ConnectionTest) -> None:
        async with self._sessions() as db:
            await db.execute(sa.update(ConnectionRow).where(ConnectionRow.id == connection_id).values(
                test_failure=None if result.ok else result.message, tested_at=utcnow()))
            await db.commit()

    async def _probe(self, url: sa.URL) -> ConnectionTest:
        """Test a URL not yet saved, on an engine of its own that is disposed afterwards."""
        try:
            engines.check_sqlite_file(url)
            engine = engines.create_engine(url, pool_size=1, connect_timeout=self.settings.connect_timeout)
        except (ValidationFailed, UnavailableError) as exc:
            return ConnectionTest(ok=False, message=exc.detail)
        try:
            return await self._probe_engine(url, engine, engines.backend_of(url))
        finally:
            engine.dispose()

    @staticmethod
    async def _probe_engine(url: sa.URL, engine: sa.Engine, backend: str) -> ConnectionTest:
        def probe() -> str:
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
                info = engine.dialect.server_version_info
                return ".".join(str(p) for p in info) if info else ""

        try:
            version = await anyio.to_thread.run_sync(probe)
        except Exception as exc:  # driver errors come in many types; each is explained, none escapes
            return ConnectionTest(ok=False, message=engines.explain_connect_error(url, exc))
        return ConnectionTest(ok=True, message=f"connected to {backend} {version}".strip(), server_version=version)

    # grants ---------------------------------------------------------------------------------------

    async def grants(self, name: str) -> list[int]:
        """User ids of the analysts granted this connection."""
        async with self._sessions() as db:
            row = await self._row_by_name(db, name)
            ids = await db.scalars(sa.select(GrantRow.user_id).where(GrantRow.connection_id == row.id))
            return sorted(ids)

    async def set_grants(self, actor: User | None, name: str, user_ids: Iterable[int]) -> list[int]:
        """Replace the set of users granted this connection."""
        wanted = sorted({int(u) for u in user_ids})
        async with self._sessions() as db:
            row = await self._row_by_name(db, name)
            self._refuse_draft(row, "granted to analysts (only admins try a draft)")
            before = sorted(await db.scalars(sa.select(GrantRow.user_id).where(GrantRow.connection_id == row.id)))
            if wanted:
                known = set(await db.scalars(sa.text("SELECT id FROM users WHERE id = ANY(:ids)").bindparams(ids=wanted)))
                unknown = [u for u in wanted if u not in known]
                if unknown:
                    raise ValidationFailed(f"no user with id {unknown[0]}")
            await db.execute(sa.delete(GrantRow).where(GrantRow.connection_id == row.id))
            now = utcnow()
            for user_id in wanted:
                db.add(GrantRow(connection_id=row.id, user_id=user_id, granted_at=now))
            if before != wanted:
                self._audit(db, actor, "catalog.grants.set", f"connection:{name}", {"user_ids": before}, {"user_ids": wanted})
            await db.commit()
        return wanted

    async def sync_user_grants(self, user_id: int, wanted: set[str], governed: set[str]) -> list[str]:
        """One user's grants on the `governed` connections become exactly `wanted` (single sign-on's group
        mappings, at each login); grants on other connections stay as an admin set them. Names that are no live
        connection are skipped. Returns the governed connections the user holds now."""
        async with self._sessions() as db:
            rows = list(await db.scalars(sa.select(ConnectionRow).where(
                ConnectionRow.name.in_(sorted(governed)), ConnectionRow.draft_of.is_(None))))
            by_id = {r.id: r.name for r in rows}
            held = set(await db.scalars(sa.select(GrantRow.connection_id).where(
                GrantRow.user_id == user_id, GrantRow.connection_id.in_(list(by_id)))))
            keep = {i for i, name in by_id.items() if name in wanted}
            now = utcnow()
            for connection_id in sorted(keep - held):
                db.add(GrantRow(connection_id=connection_id, user_id=user_id, granted_at=now))
            if held - keep:
                await db.execute(sa.delete(GrantRow).where(GrantRow.user_id == user_id,
                                                           GrantRow.connection_id.in_(sorted(held - keep))))
            for connection_id in sorted(keep ^ held):
                self._audit(db, None, "catalog.grants.sso", f"connection:{by_id[connection_id]}",
                            {"user_id": user_id, "granted": connection_id in held},
                            {"user_id": user_id, "granted": connection_id in keep})
            await db.commit()
        return sorted(by_id[i] for i in keep)
