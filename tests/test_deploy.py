"""The container image and the compose examples, checked as far as a machine without a Docker engine allows:
what they set is a real setting, everything the app writes lands on the volume or a tmpfs, and each example runs
non-root on a read-only root filesystem with a health check and a stop timeout longer than the shutdown grace."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from nl2sql.settings import ServerSettings, setting_docs

ROOT = Path(__file__).parents[1]
EXAMPLES = sorted((ROOT / "deploy").glob("*/compose.yaml"))
KNOWN = {name for name, _, _ in setting_docs()}


def _dockerfile_env() -> dict[str, str]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    env: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("ENV "):
            env |= dict(re.findall(r"(\w+)=(\S+)", line))
    return env


def _seconds(value: str) -> int:
    match = re.fullmatch(r"(\d+)(s|m)", value)
    assert match, value
    return int(match.group(1)) * (60 if match.group(2) == "m" else 1)


def test_there_are_the_three_examples():
    assert {p.parent.name for p in EXAMPLES} == {"embedded", "external-postgres", "vllm"}


def test_the_image_writes_only_to_the_data_volume_and_tmp():
    env = _dockerfile_env()
    assert {k for k in env if k.startswith("NL2SQL_")} <= KNOWN
    assert env["NL2SQL_DATA_DIR"] == "/data"
    assert env["NL2SQL_LLM_CACHE_DIR"].startswith("/data/")  # a bundled model assembled once, kept
    assert env["HF_HOME"].startswith("/tmp/") and env["HF_HUB_OFFLINE"] == "1"
    text = (ROOT / "Dockerfile").read_text()
    assert 'VOLUME ["/data"]' in text and "STOPSIGNAL SIGTERM" in text
    assert "ARG RUNTIME_IMAGE=" in text and "FROM ${RUNTIME_IMAGE}" in text  # CUDA's runtime base is smaller


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.parent.name)
def test_each_example_runs_the_app_hardened(path: Path):
    compose = yaml.safe_load(path.read_text())
    app = compose["services"]["nl2sql"]
    assert (path.parent / app["build"]["context"] / "Dockerfile").is_file()
    assert app["read_only"] is True and "/tmp" in app["tmpfs"]
    assert app["user"] == "10001:10001"
    data = [v for v in app["volumes"] if v.endswith(":/data")]
    assert data and data[0].split(":")[0] in compose["volumes"]
    assert "/readyz" in " ".join(app["healthcheck"]["test"])
    env = app.get("environment", {})
    assert {k for k in env if k.startswith("NL2SQL_")} <= KNOWN, set(env) - KNOWN
    grace = int(env.get("NL2SQL_SHUTDOWN_GRACE_SECONDS", ServerSettings().shutdown_grace_seconds))
    assert _seconds(app["stop_grace_period"]) > grace
    for name, service in compose["services"].items():
        for dependency, condition in (service.get("depends_on") or {}).items():
            assert condition == {"condition": "service_healthy"}, (name, dependency)
            assert "healthcheck" in compose["services"][dependency]


def test_the_external_database_example_shares_a_secret_key_and_needs_pgvector():
    compose = yaml.safe_load((ROOT / "deploy/external-postgres/compose.yaml").read_text())
    env = compose["services"]["nl2sql"]["environment"]
    assert env["NL2SQL_DATABASE_URL"].startswith("postgresql://") and "@postgres:5432/" in env["NL2SQL_DATABASE_URL"]
    assert env["NL2SQL_SECRET_KEY"].startswith("${NL2SQL_SECRET_KEY:?")  # required, never a default in the file
    assert compose["services"]["postgres"]["image"].startswith("pgvector/pgvector:")


def test_the_vllm_example_uses_the_openai_backend_with_guided_decoding():
    compose = yaml.safe_load((ROOT / "deploy/vllm/compose.yaml").read_text())
    env = compose["services"]["nl2sql"]["environment"]
    assert env["NL2SQL_LLM_BACKEND"] == "openai" and env["NL2SQL_LLM_BASE_URL"] == "http://vllm:8000/v1"
    assert env["NL2SQL_LLM_GUIDED_DECODING"] == "vllm"
    served = compose["services"]["vllm"]["command"]
    assert served[served.index("--served-model-name") + 1] == env["NL2SQL_LLM_MODEL"]
