"""The server's resident memory, as a user runs it (`nl2sql serve` on its defaults: embedded database, demo):
idle once started (the embedding model loaded in the background), after the bundled model answered a question,
and over a load of concurrent users asking and reading.

    .venv/bin/python bench/memory.py [--users 10] [--seconds 30]

Reads the app process's VmRSS from /proc (the embedded PostgreSQL runs in processes of its own, printed apart).
Each simulated user has an API key and stays under the default rate limit (120 requests a minute). Asserts
nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from startup import NL2SQL, free_port, stop, wait_ready  # noqa: E402

QUESTION = "How many orders were placed in each status?"  # the demo's: the reader answers it
MODEL_QUESTION = "how many orders per qqq zzz"  # not all read: asked with use_model, the bundled model answers


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def postgres_mb(data_dir: Path) -> float:
    """Resident memory of the embedded PostgreSQL: its server process on the data dir and that one's children
    (shared buffers count in each, so this overstates it)."""
    parents: dict[int, int] = {}
    server = None
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if "postgres" in command and str(data_dir) in command:
                server = int(entry.name)
    if server is None:
        return 0.0
    return sum(rss_mb(p) for p, parent in parents.items() if p == server or parent == server)


def settle(pid: int, seconds: float = 90) -> float:
    """RSS once it stops growing (the background warm-up done): 5 s within 5 MB."""
    deadline, last, steady = time.monotonic() + seconds, rss_mb(pid), 0
    while time.monotonic() < deadline and steady < 5:
        time.sleep(1)
        now = rss_mb(pid)
        steady = steady + 1 if abs(now - last) < 5 else 0
        last = now
    return last


def cli(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    done = subprocess.run([NL2SQL, *args], env=env, input=stdin, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise SystemExit(f"nl2sql {' '.join(args)} failed: {done.stderr[-1500:]}")
    return done.stdout.strip()


async def load(url: str, keys: list[str], seconds: float, pid: int) -> tuple[list[float], dict[str, int]]:
    samples: list[float] = []
    outcomes: dict[str, int] = {}
    stop = time.monotonic() + seconds

    async def user(key: str, index: int) -> None:
        headers = {"Authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=120) as client:
            n = 0
            while time.monotonic() < stop:
                n += 1
                if n % 3 == 0:
                    response = await client.post("/api/v1/ask", json={"question": QUESTION, "connection": "demo"})
                else:
                    response = await client.get("/api/v1/answers" if n % 3 == 1 else "/api/v1/connections")
                outcomes[str(response.status_code)] = outcomes.get(str(response.status_code), 0) + 1
                await asyncio.sleep(0.6)  # ~100 requests a minute: under the default limit of 120

    async def watch() -> None:
        while time.monotonic() < stop:
            samples.append(rss_mb(pid))
            await asyncio.sleep(1)

    await asyncio.gather(watch(), *(user(k, i) for i, k in enumerate(keys)))
    return samples, outcomes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=30)
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="nl2sql-bench-memory-"))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NL2SQL_")}
    env |= {"NL2SQL_DATA_DIR": str(data_dir), "NL2SQL_PORT": str(port), "HF_HUB_OFFLINE": "1"}
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([NL2SQL, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_ready(url, proc, poll=0.2)
        print(f"ready: app process {rss_mb(proc.pid):.0f} MB")
        idle = settle(proc.pid)
        print(f"idle (embedding model loaded in the background): {idle:.0f} MB; "
              f"embedded PostgreSQL processes {postgres_mb(data_dir):.0f} MB")
        keys = []
        for i in range(max(1, args.users)):
            email = f"bench{i}@example.com"
            cli(env, "users", "create", "--email", email, "--password-stdin", stdin="bench password 1234\n")
            keys.append(cli(env, "api-keys", "create", "--user", email).splitlines()[-1])
        cli(env, "users", "create", "--email", "bench-admin@example.com", "--admin", "--password-stdin",
            stdin="bench password 1234\n")
        admin = cli(env, "api-keys", "create", "--user", "bench-admin@example.com").splitlines()[-1]
        headers = {"Authorization": f"Bearer {admin}"}
        with httpx.Client(base_url=url, headers=headers, timeout=300) as client:
            users = client.get("/api/v1/users").json()  # the analysts may ask the demo
            ids = [u["id"] for u in users if u["email"].startswith("bench") and u["role"] != "admin"]
            client.put("/api/v1/connections/demo/grants", json={"user_ids": ids}).raise_for_status()
            asked = client.post("/api/v1/ask", json={"question": QUESTION, "connection": "demo"})
            print(f"one question answered by the reader ({asked.status_code}): {rss_mb(proc.pid):.0f} MB")
            modelled = client.post("/api/v1/ask", json={"question": MODEL_QUESTION, "connection": "demo",
                                                        "use_model": True})
            print(f"after the bundled model was asked ({modelled.status_code}): {rss_mb(proc.pid):.0f} MB")
        samples, outcomes = asyncio.run(load(url, keys, args.seconds, proc.pid))
        print(f"under load ({len(keys)} users for {args.seconds:.0f} s asking and reading; responses {outcomes}): "
              f"max {max(samples):.0f} MB, at the end {samples[-1]:.0f} MB (first sample {samples[0]:.0f} MB)")
    finally:
        stop(proc)


if __name__ == "__main__":
    main()
