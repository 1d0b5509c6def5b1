import sqlalchemy as sa

import pytest

from nl2sql.errors import ConflictError, NotFoundError, ValidationFailed
from tests.catalog.conftest import MARIADB_PASSWORD, PG_PASSWORD


def _app_tables_dump(app_db_url: str) -> tuple[list[str], str]:
    """Every table of the app database and every row of them as text."""
    engine = sa.create_engine(app_db_url)
    with engine.connect() as conn:
        tables = conn.execute(sa.text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).scalars().all()
        dump = "\n".join(str(row) for t in tables for row in conn.execute(sa.text(f'SELECT * FROM "{t}"')))
    engine.dispose()
    return tables, dump


async def test_connection_url_is_shown_without_its_password(catalog, pg_shop):
    connection = await catalog.create_connection(None, "shop", pg_shop, description="Shop")
    assert PG_PASSWORD not in connection.display_url
    assert "***" in connection.display_url
    assert connection.dialect == "postgres"
    assert (await catalog.get_connection("shop")).description == "Shop"


async def test_password_is_absent_in_clear_from_every_app_table(catalog, pg_shop, mariadb_shop, app_db_url):
    await catalog.create_connection(None, "pg", pg_shop)
    await catalog.create_connection(None, "maria", mariadb_shop)
    await catalog.update_connection(None, "maria", description="edited", url=mariadb_shop.replace(MARIADB_PASSWORD, "***"))
    tables, dump = _app_tables_dump(app_db_url)
    assert "catalog_connections" in tables and "audit_log" in tables
    assert "maria" in dump
    assert PG_PASSWORD not in dump
    assert MARIADB_PASSWORD not in dump
    # the masked edit kept the stored password: the connection still works
    assert (await catalog.test_connection("maria")).ok


async def test_duplicate_and_malformed_names_are_refused(catalog, sqlite_shop):
    await catalog.create_connection(None, "shop", sqlite_shop)
    with pytest.raises(ConflictError):
        await catalog.create_connection(None, "shop", sqlite_shop)
    with pytest.raises(ValidationFailed, match="lowercase"):
        await catalog.create_connection(None, "Bad Name!", sqlite_shop)


async def test_relative_sqlite_paths_and_garbage_urls_are_refused(catalog):
    with pytest.raises(ValidationFailed, match="absolute"):
        await catalog.create_connection(None, "rel", "sqlite:///relative.db")
    with pytest.raises(ValidationFailed, match="SQLAlchemy URL"):
        await catalog.create_connection(None, "junk", "not a url")
    with pytest.raises(ValidationFailed, match="port is not a number"):
        await catalog.create_connection(None, "junk", "postgresql://u@db host:notaport/x")


async def test_connection_test_succeeds_on_each_real_database(catalog, pg_shop, mariadb_shop, sqlite_shop):
    for name, url in (("pg", pg_shop), ("maria", mariadb_shop), ("lite", sqlite_shop)):
        await catalog.create_connection(None, name, url)
        result = await catalog.test_connection(name)
        assert result.ok, result.message


async def test_connection_test_names_unreachable_port(catalog):
    await catalog.create_connection(None, "down", "postgresql://postgres:pw@127.0.0.1:1/nothing")
    result = await catalog.test_connection("down")
    assert not result.ok
    assert result.message.startswith("cannot reach 127.0.0.1:1")
    assert "pw" not in result.message.split("(")[0]


async def test_connection_test_names_bad_credentials(catalog, mariadb_shop):
    await catalog.create_connection(None, "maria", mariadb_shop.replace(MARIADB_PASSWORD, "wrong-password"))
    result = await catalog.test_connection("maria")
    assert not result.ok
    assert result.message.startswith("bad credentials")
    assert "wrong-password" not in result.message


async def test_connection_test_names_unknown_database(catalog):
    await catalog.create_connection(None, "nodb", "postgresql://postgres@127.0.0.1:5432/catalog_no_such_db")
    result = await catalog.test_connection("nodb")
    assert not result.ok
    assert result.message.startswith("unknown database 'catalog_no_such_db'")


async def test_connection_test_names_missing_sqlite_file(catalog, tmp_path):
    await catalog.create_connection(None, "gone", f"sqlite:///{tmp_path}/missing.db")
    result = await catalog.test_connection("gone")
    assert not result.ok
    assert "does not exist" in result.message


async def test_connection_test_names_the_missing_driver_package(catalog):
    await catalog.create_connection(None, "mssql", "mssql+pyodbc://u:p@host/db?driver=x")
    result = await catalog.test_connection("mssql")
    assert not result.ok
    assert "pip install pyodbc" in result.message


async def test_editing_a_connection_replaces_its_engine(catalog, sqlite_shop, tmp_path):
    connection = await catalog.create_connection(None, "shop", sqlite_shop)
    first = await catalog.engine(connection.id)
    assert await catalog.engine(connection.id) is first
    await catalog.update_connection(None, "shop", description="new text")
    assert await catalog.engine(connection.id) is not first


async def test_sqlite_engine_is_read_only(catalog, sqlite_shop):
    connection = await catalog.create_connection(None, "shop", sqlite_shop)
    engine = await catalog.engine(connection.id)
    with engine.connect() as conn, pytest.raises(sa.exc.OperationalError, match="readonly"):
        conn.execute(sa.text("DELETE FROM orders"))


async def test_deleted_connection_is_gone(catalog, sqlite_shop):
    await catalog.create_connection(None, "shop", sqlite_shop)
    await catalog.delete_connection(None, "shop")
    with pytest.raises(NotFoundError):
        await catalog.get_connection("shop")


async def test_credentials_in_the_query_string_are_hidden_everywhere_and_kept_on_edit(catalog, pg_shop, app_db_url):
    # libpq takes the password (and a client key's passphrase) as query parameters too
    url = pg_shop.replace(f":{PG_PASSWORD}@", "@") + f"?password={PG_PASSWORD}&sslpassword=ssl-Key-Phrase-42&application_name=nl2sql-test"
    connection = await catalog.create_connection(None, "qs", url)
    assert PG_PASSWORD not in connection.display_url and "ssl-Key-Phrase-42" not in connection.display_url
    assert "password=***" in connection.display_url and "sslpassword=***" in connection.display_url
    assert "application_name=nl2sql-test" in connection.display_url  # what isn't a credential stays readable
    # an edit that submits the URL as shown keeps the stored credentials
    shown = connection.display_url.replace("nl2sql-test", "nl2sql-edited")
    await catalog.update_connection(None, "qs", url=shown)
    assert (await catalog.get_connection("qs")).display_url == shown
    assert (await catalog.test_connection("qs")).ok
    tables, dump = _app_tables_dump(app_db_url)
    assert PG_PASSWORD not in dump and "ssl-Key-Phrase-42" not in dump
    assert "nl2sql-edited" in dump


async def test_a_display_url_stored_in_clear_by_an_older_version_is_shown_redacted(catalog, sqlite_shop, app_db_url):
    await catalog.create_connection(None, "old", sqlite_shop)
    engine = sa.create_engine(app_db_url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE catalog_connections SET display_url = 'postgresql://u@h/db?user=u&password=pw-In-Clear'"))
    engine.dispose()
    shown = (await catalog.get_connection("old")).display_url
    assert "pw-In-Clear" not in shown and "password=***" in shown


def test_driver_messages_lose_every_credential_of_the_url():
    from sqlalchemy.engine import make_url

    from nl2sql.catalog.engines import display_url, hide_secrets, redisplay

    url = make_url("postgresql://u:Pw-1@h/db?sslpassword=Key-2&api_key=Tok-3&sslmode=require")
    message = hide_secrets("auth failed for Pw-1 (key Key-2, token Tok-3) sslmode=require", url)
    assert "Pw-1" not in message and "Key-2" not in message and "Tok-3" not in message and "require" in message
    assert display_url(url) == "postgresql://u:***@h/db?api_key=***&sslmode=require&sslpassword=***"
    assert redisplay(display_url(url)) == display_url(url)
    assert "secret" not in redisplay("not a url ?password=secret")


@pytest.mark.parametrize("url, reason", [
    ("file:///etc/passwd", "not a database nl2sql connects to"),
    ("sqlite:///file:/etc/passwd", "plain path"),
    ("sqlite:////etc/passwd", "system directory"),
    ("sqlite:////proc/self/environ", "system directory"),
    ("sqlite:////dev/zero", "system directory"),
])
async def test_urls_that_would_read_server_files_are_refused(catalog, url, reason):
    with pytest.raises(ValidationFailed, match=reason):
        await catalog.create_connection(None, "probe", url)


async def test_a_file_that_is_not_a_sqlite_database_is_refused_by_name(catalog, tmp_path, sqlite_shop):
    secret = tmp_path / "secret-key"
    secret.write_text("fernet-key-material-0123456789")
    with pytest.raises(ValidationFailed, match="not a SQLite database file") as refused:
        await catalog.create_connection(None, "probe", f"sqlite:///{secret}")
    assert "fernet" not in refused.value.detail
    assert await catalog.create_connection(None, "shop", sqlite_shop)  # a real database file is fine
