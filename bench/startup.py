"""Seconds from `nl2sql serve` to /readyz answering 200 on the embedded database, cold and warm.

Cold: a new data dir (initdb, migrations, demo database). Warm: the same data dir again.
Prints the median of several runs of each:  .venv/bin/python bench/startup.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

NL2SQL = str(Path(sys.executable).parent / "nl2sql")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_ready(base: str, proc: subprocess.Popen, timeout: float = 300, poll: float = 0.05) -> None:
    """Until `base`/readyz answers 200; exits with the server's last output if it dies first."""
    deadline = time.perf_counter() + timeout
    while True:
        if proc.poll() is not None:
            output = proc.stderr.read() if proc.stderr else ""
            output = output.decode(errors="replace") if isinstance(output, bytes) else output
            raise SystemExit(f"nl2sql serve exited early: {output[-2000:]}")
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.perf_counter() > deadline:
            raise SystemExit("not ready in time")
        time.sleep(poll)


def stop(proc: subprocess.Popen, sig: int = signal.SIGINT, timeout: float = 60) -> None:
    """Stop the server gracefully (it flushes its records and stops its database), killing it if it hangs."""
    proc.send_signal(sig)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()


def time_to_ready(data_dir: Path, timeout: float = 300) -> float:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NL2SQL_")}
    env |= {"NL2SQL_DATA_DIR": str(data_dir), "NL2SQL_PORT": str(port), "HF_HUB_OFFLINE": "1"}
    start = time.perf_counter()
    proc = subprocess.Popen([NL2SQL, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_ready(f"http://127.0.0.1:{port}", proc, timeout)
        return time.perf_counter() - start
    finally:
        stop(proc, timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    cold, warm = [], []
    for _ in range(args.runs):
        base = Path(tempfile.mkdtemp(prefix="nl2sql-bench-startup-"))
        try:
            cold.append(time_to_ready(base / "data"))
            warm.append(time_to_ready(base / "data"))
        finally:
            shutil.rmtree(base, ignore_errors=True)
    print(f"startup to /readyz, embedded database, {args.runs} runs each")
    print(f"  cold (new data dir): median {statistics.median(cold):.2f} s  (runs: {', '.join(f'{x:.2f}' for x in cold)})")
    print(f"  warm (existing dir): median {statistics.median(warm):.2f} s  (runs: {', '.join(f'{x:.2f}' for x in warm)})")


if __name__ == "__main__":
    main()
