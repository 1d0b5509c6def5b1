#!/usr/bin/env bash
# Every bench in a short mode (few iterations, small sizes, no targets asserted), so that a bench that no longer
# runs fails the build (CI runs this after the tests). The figures it prints are not the README's: run each
# bench on its own, with its defaults, for those.
#
#   bash bench/smoke.sh           # needs the test install (scripts/install --test) and ../shared/sqleval
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1
py=.venv/bin/python
run() {
  local started=$SECONDS
  echo "== bench smoke: $*"
  "$@" > .data/bench-smoke.log 2>&1 || { tail -40 .data/bench-smoke.log; echo "bench smoke FAILED: $*"; exit 1; }
  tail -3 .data/bench-smoke.log
  echo "   ($((SECONDS - started)) s)"
}
mkdir -p .data
run $py bench/startup.py --runs 1
run $py bench/memory.py --users 2 --seconds 3
run $py bench/load.py --users 3 --seconds 5
run $py bench/ask.py --model fake --requests 5
run $py bench/gateway.py --part overhead --requests 100 --rounds 1
run $py bench/gateway.py --part load --clients 5 --duration 3
run $py bench/catalog_sync.py --tables 50 --requests 3
run $py bench/inference.py --runs 1
run $py bench/sqleval_load.py
run $py bench/recall.py --embedder hashing
run $py bench/noise_tables.py --db academic --tables 20
run $py bench/accuracy.py --db academic --limit 3 --runs reader,golden,full
run $py bench/retrieval_overhead.py --questions 5 --embedder hashing
run $py bench/engine.py --questions 5
run $py bench/spider.py --limit 30
run $py bench/mcp_tools.py --pairs 5 --warmup 2 --clients 2 --seconds 3
run $py bench/access_policies.py --repeat 5
run env DBS=academic FILES=questions_gen_postgres.csv LIMIT=2 bash bench/sqleval.sh
run bash bench/first_run.sh cache
echo "bench smoke: every bench ran"
