"""schemathesis against a running `nl2sql serve`: requests generated from /schema/openapi.json for every operation,
as an admin's key sends them, valid (positive) and invalid (negative) ones, answer without a server error and as
the document describes them."""

from __future__ import annotations

import subprocess

import pytest
from cryptography.fernet import Fernet

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from schemathesis import GenerationMode  # noqa: E402
from schemathesis.checks import not_a_server_error, response_schema_conformance  # noqa: E402

from tests.serving import stop, wait_ready  # noqa: E402
from tests.test_cli import NL2SQL, _env, _free_port, _run  # noqa: E402

EXAMPLES = 6  # per operation and mode: about 900 requests in all, under a minute on 2 cores


@pytest.fixture
def server(app_db_url, tmp_path):
    port = _free_port()
    env = _env(NL2SQL_DATABASE_URL=app_db_url, NL2SQL_SECRET_KEY=Fernet.generate_key().decode(),
               NL2SQL_DATA_DIR=str(tmp_path / "data"), NL2SQL_PORT=str(port), NL2SQL_DEMO="false",
               NL2SQL_EMBEDDING_LOAD_AT_START="false", NL2SQL_RATE_LIMIT_PER_MINUTE="0", NL2SQL_LOG_LEVEL="warning")
    log = tmp_path / "serve.log"
    proc = subprocess.Popen([NL2SQL, "serve"], env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(proc, base, log)
        assert _run(["users", "create", "--admin", "--email", "fuzz@example.com"], env,
                    stdin="fuzz password 1234\n").returncode == 0
        key = _run(["api-keys", "create", "--user", "fuzz@example.com"], env).stdout.strip().splitlines()[-1]
        yield base, key, log
    finally:
        stop(proc)


def test_generated_requests_get_no_server_error_and_match_the_document(server):
    base, key, log = server
    schema = schemathesis.openapi.from_url(f"{base}/schema/openapi.json")
    headers = {"Authorization": f"Bearer {key}"}
    failures: list[str] = []
    operations = 0
    calls: dict[int, int] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.method.upper() == "DELETE" and "api-keys" in operation.path:
            continue  # it would revoke the key the walk uses (revocation is covered in tests/auth)
        operations += 1

        @given(case=operation.as_strategy(GenerationMode.POSITIVE) | operation.as_strategy(GenerationMode.NEGATIVE))
        @settings(max_examples=2 * EXAMPLES, deadline=None, database=None, phases=[Phase.generate],
                  suppress_health_check=list(HealthCheck))
        def probe(case) -> None:
            try:
                response = case.call_and_validate(base_url=base, headers=headers, timeout=60,
                                                  checks=[not_a_server_error, response_schema_conformance])
                calls[response.status_code] = calls.get(response.status_code, 0) + 1
            except AssertionError:
                raise
            except Exception as exc:  # schemathesis reports failed checks as its own exception types
                raise AssertionError(str(exc)[:1500]) from None

        try:
            probe()
        except AssertionError as exc:
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
    assert operations > 60 and sum(calls.values()) > operations * 2, (operations, calls)
    print(f"{operations} operations, responses by status: {dict(sorted(calls.items()))}")
    assert failures == [], "\n\n".join(failures)[:20000] + "\n" + log.read_text()[-3000:]
