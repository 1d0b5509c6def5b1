#!/usr/bin/env bash
# A newcomer's first run, timed: a fresh clone in a temp dir, `scripts/start`, and the demo question answered.
# Prints seconds to the first answer with pip's wheel cache (llama.cpp already built once on this machine)
# and without it (PIP_NO_CACHE_DIR=1: llama.cpp compiles from source, as on a brand-new machine).
#   bash bench/first_run.sh              both
#   bash bench/first_run.sh cache        only with the cache (a few minutes less)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
modes=${*:-"cache nocache"}

run_once() {
  local mode=$1
  local work
  work=$(mktemp -d "${TMPDIR:-/tmp}/nl2sql-first-run.XXXXXX")
  local pid=""
  local started
  started=$(date +%s.%N)
  git clone -q "$repo" "$work/nl2sql"
  local port
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  local extra=()
  [ "$mode" = nocache ] && extra=(PIP_NO_CACHE_DIR=1)
  (cd "$work/nl2sql" && exec env "${extra[@]}" NL2SQL_DATA_DIR="$work/data" NL2SQL_PORT="$port" \
      NL2SQL_BOOTSTRAP_ADMIN_EMAIL=first@example.com NL2SQL_BOOTSTRAP_ADMIN_PASSWORD=first-run-password-1 \
      scripts/start) >"$work/start.log" 2>&1 &
  pid=$!
  until python3 -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$port/readyz', timeout=2)" 2>/dev/null; do
    if ! kill -0 "$pid" 2>/dev/null; then echo "first_run[$mode]: scripts/start exited:"; tail -20 "$work/start.log"; exit 1; fi
    sleep 1
  done
  local ready
  ready=$(date +%s.%N)
  local key
  key=$(cd "$work/nl2sql" && NL2SQL_DATA_DIR="$work/data" .venv/bin/nl2sql api-keys create --user first@example.com)
  "$work/nl2sql/.venv/bin/python" - "$port" "$key" <<'PY'
import sys, httpx
r = httpx.post(f"http://127.0.0.1:{sys.argv[1]}/api/v1/ask", json={"question": "How many customers are there?",
               "connection": "demo"}, headers={"Authorization": f"Bearer {sys.argv[2]}"}, timeout=600)
assert r.status_code == 200 and r.json()["rows"], r.text[:300]
PY
  local answered
  answered=$(date +%s.%N)
  kill -INT "$pid"; wait "$pid" || true
  python3 - "$mode" "$started" "$ready" "$answered" <<'PY'
import sys
mode, start, ready, answered = sys.argv[1], *map(float, sys.argv[2:])
label = "with pip's wheel cache" if mode == "cache" else "without pip's cache (llama.cpp compiled)"
print(f"first run {label}: ready after {ready - start:.0f} s, first answer after {answered - start:.0f} s")
PY
  rm -rf "$work"
}

for mode in $modes; do
  run_once "$mode"
done
