"""`nl2sql serve` as the container runs it: an unprivileged user, the root filesystem read-only, only the data dir
writable and /tmp a tmpfs (a private mount namespace stands in for the container). It starts on its embedded
defaults, answers through the reader and the bundled model, and on SIGTERM lets the request in flight finish,
records it and stops its database, so that a restart finds everything."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.serving import CLEAN_EXIT, stop, wait_ready
from tests.test_cli import _free_port

NOBODY = 65534


def _can_isolate() -> bool:
    if os.geteuid() != 0 or not (shutil.which("unshare") and shutil.which("setpriv")):
        return False
    probe = subprocess.run(["unshare", "-m", "sh", "-c", "mount -o bind,ro / / && ! touch /nl2sql-ro-probe"],
                           capture_output=True)
    return probe.returncode == 0


pytestmark = pytest.mark.skipif(not _can_isolate(), reason="needs root and mount namespaces (unshare, setpriv)")


def _isolated(data: Path, *args: str, **popen) -> subprocess.Popen:
    """Run `python -m nl2sql.cli ARGS` as nobody with / read-only, `data` writable and a fresh tmpfs on /tmp."""
    script = (
        f'mount --bind "{data}" "{data}" && mount -o bind,ro / / && mount -t tmpfs -o mode=1777 tmpfs /tmp && '
        f'exec setpriv --reuid {NOBODY} --regid {NOBODY} --clear-groups "$0" -m nl2sql.cli "$@"'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("NL2SQL_")} | {
        "HOME": "/nonexistent", "HF_HUB_OFFLINE": "1", "HF_HOME": "/tmp/huggingface",
        "NL2SQL_DATA_DIR": str(data / "data"), "NL2SQL_LLM_CACHE_DIR": str(data / "models"),
        "NL2SQL_ARGON2_MEMORY_KIB": "1024", "NL2SQL_ARGON2_TIME_COST": "1",
    } | popen.pop("env", {})
    return subprocess.Popen(["unshare", "-m", "sh", "-c", script, sys.executable, *args], env=env, **popen)


def _cli(data: Path, *args: str, stdin: str = "") -> str:
    proc = _isolated(data, *args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = proc.communicate(stdin, timeout=120)
    assert proc.returncode == 0, err
    return out.strip()


def _serve(data: Path, port: int, log: Path) -> subprocess.Popen:
    # no rate limit: the readers below send as fast as they can, and the limit is not what this test is about
    server = _isolated(data, "serve", env={"NL2SQL_PORT": str(port), "NL2SQL_RATE_LIMIT_PER_MINUTE": "0"},
                       stdout=log.open("a"), stderr=subprocess.STDOUT)
    wait_ready(server, f"http://127.0.0.1:{port}", log)
    return server


def test_serves_read_only_as_nobody_and_shuts_down_gracefully_on_sigterm():
    root = Path(tempfile.mkdtemp(prefix="nl2sql-ro-", dir="/var/tmp"))  # not under /tmp: that one is replaced
    os.chown(root, NOBODY, NOBODY)
    root.chmod(0o755)
    log = root / "serve.log"
    port = _free_port()
    try:
        server = _serve(root, port, log)
        assert not list(root.glob("*.probe"))
        _cli(root, "users", "create", "--admin", "--email", "ops@example.com", "--password-stdin",
             stdin="ops password 1234\n")
        key = _cli(root, "api-keys", "create", "--user", "ops@example.com").splitlines()[-1]
        base, headers = f"http://127.0.0.1:{port}", {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=base, headers=headers, timeout=300) as client:
            read = client.post("/api/v1/ask", json={"question": "How many orders were placed in each status?",
                                                    "connection": "demo"})
            assert read.status_code == 200 and read.json()["rows"], read.text
            # a question nothing reads, with "Try the model": the bundled model (llama.cpp, its GGUF in the
            # read-only venv) is asked, and SIGTERM arrives while it works
            outcome: dict[str, object] = {}

            def ask() -> None:
                try:
                    outcome["response"] = client.post(
                        "/api/v1/ask", json={"question": "how many orders qqq zzz xyzzy", "connection": "demo",
                                             "use_model": True},
                        headers={"X-Request-ID": "in-flight-at-sigterm"})
                except httpx.HTTPError as exc:
                    outcome["error"] = exc

            # and readers keep it busy: each request on a connection of its own, until the server stops taking them
            served: list[tuple[float, str, object]] = []  # (sent at, trace id, status or error)

            def read_loop(n: int) -> None:
                with httpx.Client(base_url=base, headers=headers | {"Connection": "close"}, timeout=60) as own:
                    for i in range(10_000):
                        trace, sent = f"reader-{n}-{i}", time.monotonic()
                        try:
                            status = own.get("/api/v1/answers" if i % 2 else "/api/v1/connections",
                                             headers={"X-Request-ID": trace}).status_code
                        except httpx.HTTPError as exc:
                            served.append((sent, trace, exc))
                            return
                        served.append((sent, trace, status))

            asking = threading.Thread(target=ask)
            readers = [threading.Thread(target=read_loop, args=(n,)) for n in range(4)]
            asking.start()
            for reader in readers:
                reader.start()
            time.sleep(1.5)
            assert asking.is_alive(), "the model answered before SIGTERM could arrive"
            stopped_at = time.monotonic()
            server.send_signal(signal.SIGTERM)
            asking.join(120)
            for reader in readers:
                reader.join(60)
        assert "error" not in outcome, outcome
        answered = [(sent, trace, s) for sent, trace, s in served if isinstance(s, int)]
        assert len(answered) > 10 and {s for _, _, s in answered} == {200}, served[-10:]
        # every request sent before the signal got its answer; the ones after were refused at the door
        assert not [r for r in served if not isinstance(r[2], int) and r[0] < stopped_at - 0.2], served[-10:]
        in_flight = outcome["response"]
        assert in_flight.status_code in (200, 422), in_flight.text  # an answer, or the model's SQL refused
        assert server.wait(60) in CLEAN_EXIT
        assert not (root / "data" / "pgdata" / "postmaster.pid").exists()  # the embedded database stopped
        assert "Traceback" not in log.read_text()
        # a restart on the same data dir finds the request that was in flight, recorded
        server = _serve(root, port, log)
        with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
            trace = client.get("/api/v1/logs/in-flight-at-sigterm")
            assert trace.status_code == 200, trace.text
            recorded = trace.json()
            assert [r["status"] for r in recorded["requests"]] == [in_flight.status_code]
            assert recorded["model_calls"] and all(c["status"] == "ok" for c in recorded["model_calls"]), recorded
            for _, last, _ in {t.rsplit("-", 1)[0]: (s, t, st) for s, t, st in answered}.values():
                assert client.get(f"/api/v1/logs/{last}").json()["requests"], last  # each reader's last answer
        assert stop(server) in CLEAN_EXIT
    finally:
        for proc in ("server",):
            running = locals().get(proc)
            if running is not None and running.poll() is None:
                running.kill()
        shutil.rmtree(root, ignore_errors=True)
