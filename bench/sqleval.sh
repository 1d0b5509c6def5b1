#!/usr/bin/env bash
# The development split of ../shared/sqleval through the product's own evaluation (`nl2sql eval`), with the
# default settings, as a user would run it: each database loaded into the local PostgreSQL and registered with
# its descriptions and join hints through the catalog (bench/sqleval_load.py), then every question file run per
# database; prints each run's line and the totals that the README shows.
#
#   bash bench/sqleval.sh            # every question (the bundled model is asked only where no reading answers)
#   LIMIT=5 bash bench/sqleval.sh    # the first 5 questions of each file and database
#   DBS="academic" FILES="questions_gen_postgres.csv" LIMIT=2 bash bench/sqleval.sh   # a slice (CI's bench smoke)
#
# The app database is NL2SQL_DATABASE_URL, else an embedded one in .data/bench (the other benches' too); the
# runs are stored there, and `NL2SQL_DATA_DIR=.data/bench .venv/bin/nl2sql serve` shows them on /admin/evaluations.
set -euo pipefail
cd "$(dirname "$0")/.."
SQLEVAL=${SQLEVAL:-../shared/sqleval}
export HF_HUB_OFFLINE=1 NL2SQL_DEMO=false
[ -n "${NL2SQL_DATABASE_URL:-}" ] || export NL2SQL_DATA_DIR=${NL2SQL_DATA_DIR:-.data/bench}
OUT=${OUT:-.data/bench/sqleval-runs}
mkdir -p "$OUT"
.venv/bin/python bench/sqleval_load.py --sqleval "$SQLEVAL" >/dev/null
ADMIN=bench-admin@example.com
echo "bench admin password 1" | .venv/bin/nl2sql users create --email "$ADMIN" --admin --password-stdin \
  >/dev/null 2>&1 || true
started=$(date +%s)
for file in ${FILES:-questions_gen_postgres.csv instruct_basic_postgres.csv instruct_advanced_postgres.csv}; do
  for db in ${DBS:-academic advising atis broker car_dealership geography}; do
    .venv/bin/nl2sql eval --connection "sqleval_$db" --questions "$SQLEVAL/$file" --db-name "$db" --as "$ADMIN" \
      --name "sqleval $file $db" ${LIMIT:+--limit "$LIMIT"} --out "$OUT/${file%.csv}-$db.json" \
      2>&1 | grep -E "^(done|failed|cancelled):|^nl2sql: error" | grep -v "no questions for db_name" \
      | sed "s|^|$file $db: |" || true
  done
done
.venv/bin/python - "$OUT" "$started" <<'PY'
import json, math, pathlib, statistics, sys, time
from collections import defaultdict
runs = [json.loads(p.read_text()) for p in sorted(pathlib.Path(sys.argv[1]).glob("*.json"))
        if p.stat().st_mtime >= int(sys.argv[2])]
items = [(r["name"], i) for r in runs for i in r["items"] if i["state"] == "judged"]
def share(group):
    right = sum(1 for _, i in group if i["correct"])
    return f"{right}/{len(group)} = {right / len(group):.1%}" if group else "-"
classic = [x for x in items if "questions_gen" in x[0]]
seconds = sorted(i["seconds"] for _, i in items)
print(f"\nsqleval development split through nl2sql eval: {share(items)} correct "
      f"(classic questions {share(classic)}); exact {sum(1 for _, i in items if i['match'] == 'exact')}, "
      f"subset {sum(1 for _, i in items if i['match'] == 'subset')}")
if seconds:
    print(f"  p50 {statistics.median(seconds):.2f} s, p95 {seconds[max(0, math.ceil(0.95 * len(seconds)) - 1)]:.2f} s a question")
for label, key in (("category", lambda i: i["category"] or "-"), ("winning generator", lambda i: i["generator"] or "none")):
    groups = defaultdict(list)
    for x in items:
        groups[key(x[1])].append(x)
    print(f"  per {label}: " + "; ".join(f"{k} {share(v)}" for k, v in sorted(groups.items())))
PY
