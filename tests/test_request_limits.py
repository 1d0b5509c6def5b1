"""A request can't freeze the server: bodies are capped per route, long SQL is refused before parsing, and the
guard runs off the event loop."""


from nl2sql.sqlguard import GuardPolicy, SqlRefused, validate
from nl2sql.web import REQUEST_MAX_BYTES
from tests.support import bearer

import pytest


def test_sql_past_the_size_limits_is_refused_at_once_with_a_reason():
    policy = GuardPolicy(dialect="postgresql", allowed_tables=frozenset({"orders"}))
    huge = "SELECT id FROM orders WHERE id IN (" + ",".join(str(i) for i in range(40_000)) + ")"
    with pytest.raises(SqlRefused, match="characters long"):  # refused before parsing
        validate(huge, policy)
    many = "SELECT id FROM orders WHERE id IN (" + ",".join("1" for _ in range(6_000)) + ")"
    assert len(many) < policy.max_sql_chars
    with pytest.raises(SqlRefused, match="parts"):
        validate(many, policy)
    assert validate("SELECT id FROM orders WHERE id IN (" + ",".join(str(i) for i in range(500)) + ")", policy)


async def test_a_body_past_the_limit_is_413_and_imports_accept_more(client, admin_key):
    big = {"question": "x" * (REQUEST_MAX_BYTES + 10), "connection": "nope"}
    response = await client.post("/api/v1/sql", json=big, headers=bearer(admin_key))
    assert response.status_code == 413
    assert (await client.get("/healthz")).status_code == 200
    # an import of 2 MB is not cut off by the general limit (it fails later: the connection doesn't exist)
    response = await client.post("/api/v1/connections/nope/metadata", content=b"{" + b" " * (2 * 1024 * 1024) + b"}",
                                 headers=bearer(admin_key) | {"content-type": "application/json"})
    assert response.status_code == 404


async def test_the_guard_checks_sql_off_the_event_loop(monkeypatch):
    import threading

    from nl2sql.answers import policy as service

    seen = []
    real = service.validate

    def spy(sql, policy):
        seen.append(threading.current_thread())
        return real(sql, policy)

    monkeypatch.setattr(service, "validate", spy)
    policy = service.ConnectionPolicy(GuardPolicy(dialect="postgresql", allowed_tables=frozenset({"orders"})))
    validated = await service.guarded("SELECT id FROM orders", policy)
    assert validated.sql.startswith("SELECT id FROM orders")
    assert seen and seen[0] is not threading.current_thread()  # a worker thread, not the loop's
