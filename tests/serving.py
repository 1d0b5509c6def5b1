"""`nl2sql serve` as a subprocess for the tests that run the real server: wait until it is ready, stop it."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import httpx


def wait_ready(server: subprocess.Popen, base: str, log: Path, timeout: float = 180) -> None:
    """Until `base`/readyz answers 200; fails with the end of the server's log if it dies or takes too long."""
    deadline = time.monotonic() + timeout
    while True:
        assert server.poll() is None, log.read_text()[-3000:]
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "server not ready: " + log.read_text()[-3000:]
        time.sleep(0.2)


def stop(server: subprocess.Popen, timeout: float = 60) -> int | None:
    """SIGTERM, as a container runtime sends it; the exit status, or None when it had to be killed."""
    server.send_signal(signal.SIGTERM)
    try:
        return server.wait(timeout)
    except subprocess.TimeoutExpired:
        server.kill()
        return None


# uvicorn shuts down gracefully, then re-raises the signal: a SIGTERM exit, not an error code
CLEAN_EXIT = (0, -signal.SIGTERM)
