"""Customer-database URLs and engines: encryption at rest, driver checks, precise connect errors."""

from __future__ import annotations

import re
from collections.abc import Sequence
import threading
from pathlib import Path

import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy.engine import URL, make_url

from nl2sql.errors import StartupError, UnavailableError, ValidationFailed

# pip package that brings each SQLAlchemy dialect's default (or named) driver
DRIVER_PACKAGES: dict[str, str] = {
    "postgresql+psycopg": "psycopg[binary]",
    "postgresql+psycopg2": "psycopg2-binary",
    "postgresql+pg8000": "pg8000",
    "mysql+pymysql": "pymysql",
    "mysql+mysqldb": "mysqlclient",
    "mysql+mysqlconnector": "mysql-connector-python",
    "mariadb+pymysql": "pymysql",
    "mariadb+mariadbconnector": "mariadb",
    "duckdb": "duckdb-engine",
    "mssql": "pyodbc",
    "mssql+pyodbc": "pyodbc",
    "mssql+pymssql": "pymssql",
    "oracle": "oracledb",
    "oracle+oracledb": "oracledb",
    "snowflake": "snowflake-sqlalchemy",
    "bigquery": "sqlalchemy-bigquery",
    "redshift": "sqlalchemy-redshift",
    "trino": "trino[sqlalchemy]",
    "clickhouse": "clickhouse-sqlalchemy",
    "databricks": "databricks-sqlalchemy",
}

# URLs without a driver get the one the product installs (psycopg 3, PyMySQL)
DEFAULT_DRIVERS = {"postgresql": "psycopg", "postgres": "psycopg", "mysql": "pymysql", "mariadb": "pymysql"}
ASYNC_DRIVERS = {"asyncpg", "aiomysql", "asyncmy", "aiosqlite", "psycopg_async"}
DIALECTS = {
    "postgresql": "postgres",
    "mysql": "mysql",
    "mariadb": "mysql",
    "sqlite": "sqlite",
    "duckdb": "duckdb",
    "mssql": "tsql",
    "oracle": "oracle",
    "snowflake": "snowflake",
    "bigquery": "bigquery",
    "redshift": "redshift",
    "trino": "trino",
    "clickhouse": "clickhouse",
    "databricks": "databricks",
}
HIDDEN = "***"


def parse_url(raw: str) -> URL:
    """A customer URL in the form the product uses (sync driver, absolute SQLite path), or a clear refusal."""
    raw = (raw or "").strip()
    if not raw:
        raise ValidationFailed("the connection URL is empty")
    try:
        url = make_url(raw)
    except ValueError:  # a port that is not a number
        raise ValidationFailed("the connection URL's port is not a number: write it like host:5432") from None
    except sa.exc.ArgumentError:
        raise ValidationFailed(
            "the connection URL is not a SQLAlchemy URL: write it like postgresql://user:password@host:5432/db, "
            "mysql://user:password@host/db or sqlite:////absolute/path/file.db"
        ) from None
    backend, _, driver = url.drivername.partition("+")
    if backend == "postgres":
        backend = "postgresql"
    if driver in ASYNC_DRIVERS:
        raise ValidationFailed(f"`{url.drivername}` is an async driver: use {backend}:// (the product picks a sync one)")
    if not driver and backend in DEFAULT_DRIVERS:
        driver = DEFAULT_DRIVERS[backend]
    if backend not in DIALECTS:
        raise ValidationFailed(
            f"`{backend}://` is not a database nl2sql connects to: use one of {', '.join(sorted(DIALECTS))} "
            "(for a SQLite file: sqlite:////absolute/path/file.db)"
        )
    url = url.set(drivername=f"{backend}+{driver}" if driver else backend)
    if backend == "sqlite":
        database = url.database or ""
        if database in ("", ":memory:") or database.startswith("file::memory:"):
            raise ValidationFailed("an in-memory SQLite database would be empty: give the path of a file")
        if database.startswith("file:"):
            raise ValidationFailed("write the SQLite file as a plain path (sqlite:////abs/path.db), not a file: URI")
        if not Path(database).is_absolute():
            raise ValidationFailed(f"the SQLite path must be absolute (sqlite:////abs/path.db), got {database!r}")
        _check_sqlite_file(Path(database))
        url = url.set(database=database, query={})
    return url


SQLITE_HEADER = b"SQLite format 3\x00"
SYSTEM_DIRS = ("/proc", "/sys", "/dev", "/etc", "/boot", "/run")


def _check_sqlite_file(path: Path) -> None:
    """A SQLite connection reads a SQLite database file: not a device, not the server's system files, not any
    other file the server can read (whose first bytes an error message might reveal)."""
    resolved = path.resolve()
    if any(resolved == Path(d) or Path(d) in resolved.parents for d in SYSTEM_DIRS):
        raise ValidationFailed(f"{path} is in a system directory; a SQLite connection reads a database file")
    if not resolved.exists():
        return  # the connection test says it can't be opened; the file may be created later
    if not resolved.is_file():
        raise ValidationFailed(f"{path} is not a regular file; a SQLite connection reads a database file")
    try:
        with resolved.open("rb") as handle:
            header = handle.read(len(SQLITE_HEADER))
    except OSError:
        return  # unreadable by the server: the connection test says so
    if header and header != SQLITE_HEADER:
        raise ValidationFailed(f"{path} is not a SQLite database file")


def backend_of(url: URL) -> str:
    return url.get_backend_name()


def sqlglot_dialect(backend: str) -> str:
    """sqlglot's name for a SQLAlchemy backend (MariaDB speaks MySQL)."""
    return DIALECTS.get(backend, backend)


# query parameters that carry a credential (libpq's password and sslpassword, drivers' tokens and keys)
SECRET_PARAM = re.compile(r"pass|pwd|secret|token|api_?key|access_?key|private_?key|credential|signature", re.I)


def secret_params(url: URL) -> list[str]:
    """The URL's query parameters whose values are credentials."""
    return [name for name in url.query if SECRET_PARAM.search(name)]


def display_url(url: URL) -> str:
    """The URL as shown and logged: the password and every credential-like query parameter as ***."""
    hidden = secret_params(url)
    if hidden:
        url = url.update_query_dict({name: HIDDEN for name in hidden})
    return url.render_as_string(hide_password=True).replace("=%2A%2A%2A", "=" + HIDDEN)


def redisplay(text: str) -> str:
    """A stored display URL, redacted again (older versions showed credential query parameters in clear)."""
    try:
        return display_url(make_url(text))
    except Exception:  # not a URL any more: show nothing of it rather than something secret
        return HIDDEN if "?" in text or "@" in text else text


def restore_hidden(url: URL, stored: URL) -> URL:
    """An edited URL whose password or credential parameters are still *** (as shown) keeps the stored ones."""
    if url.password == HIDDEN:
        url = url.set(password=stored.password)
    kept = {name: stored.query[name] for name in secret_params(url) if url.query[name] == HIDDEN and name in stored.query}
    return url.update_query_dict(kept) if kept else url


def driver_package(url: URL) -> str | None:
    return DRIVER_PACKAGES.get(url.drivername) or DRIVER_PACKAGES.get(url.get_backend_name())


class CredentialVault:
    """Encrypts whole URLs (password and any secret query parameters) with the server's Fernet key; during a key
    rotation it also opens what the previous keys sealed, and `reseal` moves a token to the current key."""

    def __init__(self, secret_key: str, previous_keys: Sequence[str] = ()) -> None:
        keys = []
        for name, key in [("NL2SQL_SECRET_KEY", secret_key)] + [("NL2SQL_PREVIOUS_SECRET_KEYS", k) for k in previous_keys]:
            try:
                keys.append(Fernet(key.encode()))
            except (ValueError, TypeError):
                raise StartupError(f"{name} must hold Fernet keys (urlsafe base64 of 32 bytes)") from None
        self._fernet = MultiFernet(keys)

    def seal(self, url: URL) -> str:
        return self._fernet.encrypt(url.render_as_string(hide_password=False).encode()).decode()

    def reseal(self, token: str) -> str:
        """The same URL sealed with the current key (whichever key sealed it)."""
        try:
            return self._fernet.rotate(token.encode()).decode()
        except InvalidToken:
            raise UnavailableError(
                "stored credentials can't be decrypted with NL2SQL_SECRET_KEY or NL2SQL_PREVIOUS_SECRET_KEYS: add the "
                "key they were saved with to NL2SQL_PREVIOUS_SECRET_KEYS"
            ) from None

    def open(self, token: str) -> URL:
        try:
            return make_url(self._fernet.decrypt(token.encode()).decode())
        except InvalidToken:
            raise UnavailableError(
                "the stored credentials can't be decrypted: NL2SQL_SECRET_KEY differs from the one they were saved "
                "with; restore that key or edit the connection's URL again"
            ) from None


def create_engine(url: URL, *, pool_size: int, connect_timeout: int, read_only: bool = True) -> sa.Engine:
    """A pooled engine; SQLite files open read-only, servers get a connect timeout."""
    backend = url.get_backend_name()
    kwargs: dict = {"pool_pre_ping": True}
    connect_args: dict = {}
    if backend == "sqlite":
        path = url.database or ""
        if read_only:
            url = url.set(database=f"file:{path}?mode=ro", query={"uri": "true"})
        connect_args["check_same_thread"] = False
    else:
        kwargs |= {"pool_size": pool_size, "max_overflow": pool_size, "pool_recycle": 1800}
        if backend in ("postgresql", "mysql", "mariadb"):
            connect_args["connect_timeout"] = connect_timeout
    try:
        return sa.create_engine(url, connect_args=connect_args, **kwargs)
    except sa.exc.NoSuchModuleError:
        raise ValidationFailed(
            f"no SQLAlchemy dialect for `{url.drivername}`"
            + (f": pip install {driver_package(url)}" if driver_package(url) else "")
        ) from None
    except ImportError as exc:
        raise ValidationFailed(missing_driver_message(url, exc)) from None


def missing_driver_message(url: URL, exc: BaseException) -> str:
    package = driver_package(url)
    hint = f"pip install {package}" if package else "install its Python driver"
    module = getattr(exc, "name", None) or str(exc)
    return f"the driver for {url.drivername} is not installed (missing module {module}): {hint}"


def check_sqlite_file(url: URL) -> None:
    if url.get_backend_name() == "sqlite":
        path = Path((url.database or "").removeprefix("file:").split("?", 1)[0])
        if not path.is_file():
            raise UnavailableError(f"the SQLite file {path} does not exist (or is not a file)")


_CREDENTIALS = re.compile(
    r"password authentication failed|access denied|authentication failed|role \S+ does not exist|"
    r"login failed|invalid username|no password supplied|\b1045\b"
)
_UNKNOWN_DB = re.compile(r"database \S+ does not exist|unknown database|\b1049\b|cannot open database")
_UNREACHABLE = re.compile(
    r"connection refused|could not connect|can't connect|could not translate host name|name or service not known|"
    r"nodename nor servname|timeout expired|timed out|no route to host|network is unreachable|\b2003\b|\b2005\b|"
    r"connection to server at .* failed|temporary failure in name resolution"
)


def hide_secrets(text: str, url: URL) -> str:
    """`text` (a driver's message) without the URL's password or credential parameters."""
    secrets = [url.password] if url.password else []
    for name in secret_params(url):
        value = url.query[name]
        secrets += [value] if isinstance(value, str) else list(value)
    for secret in sorted({s for s in secrets if s and s != HIDDEN}, key=len, reverse=True):
        text = text.replace(secret, HIDDEN)
    return text


def explain_connect_error(url: URL, exc: BaseException) -> str:
    """One precise sentence for a failed connection, without the password."""
    if isinstance(exc, ImportError):
        return missing_driver_message(url, exc)
    orig = getattr(exc, "orig", None) or exc
    text = " ".join(str(orig).split())
    lowered = text.lower()
    where = f"{url.host or 'localhost'}:{url.port}" if url.port else (url.host or "localhost")
    text = hide_secrets(text, url)
    if url.get_backend_name() == "sqlite":
        if "unable to open database file" in lowered:
            return f"the SQLite file {url.database} can't be opened (missing, or not readable by the server)"
        if "not a database" in lowered:
            return f"{url.database} is not a SQLite database"
        return f"SQLite refused: {text}"
    if _CREDENTIALS.search(lowered):
        return f"bad credentials: {where} refused user {url.username!r} ({_first_line(text)})"
    if _UNKNOWN_DB.search(lowered):
        return f"unknown database {url.database!r} on {where}"
    if _UNREACHABLE.search(lowered):
        return f"cannot reach {where}: the host or port is wrong, or the server is down ({_first_line(text)})"
    return f"{url.get_backend_name()} refused the connection: {_first_line(text)}"


def _first_line(text: str) -> str:
    return text.strip().split("\n", 1)[0][:300]


class EnginePool:
    """Engines per connection and purpose (answers' queries, the engine's candidate checks), rebuilt when the
    connection changes and disposed when it goes; each purpose has its own connections, so checking candidates
    never takes the ones a page is waiting for."""

    def __init__(self, *, pool_size: int, connect_timeout: int) -> None:
        self._pool_size = pool_size
        self._connect_timeout = connect_timeout
        self._engines: dict[tuple[int, str], tuple[object, sa.Engine]] = {}
        self._lock = threading.Lock()

    def get(self, connection_id: int, version: object, url: URL, purpose: str = "query") -> sa.Engine:
        key = (connection_id, purpose)
        with self._lock:
            held = self._engines.get(key)
            if held is not None and held[0] == version:
                return held[1]
            size = self._pool_size if purpose == "query" else max(1, min(2, self._pool_size))
            engine = create_engine(url, pool_size=size, connect_timeout=self._connect_timeout)
            self._engines[key] = (version, engine)
        if held is not None:
            held[1].dispose()
        return engine

    def discard(self, connection_id: int) -> None:
        with self._lock:
            held = [self._engines.pop(k) for k in list(self._engines) if k[0] == connection_id]
        for _, engine in held:
            engine.dispose()

    def close(self) -> None:
        with self._lock:
            held, self._engines = list(self._engines.values()), {}
        for _, engine in held:
            engine.dispose()
