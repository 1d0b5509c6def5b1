"""jobs: procrastinate's schema (Postgres-backed background jobs shared by every container)

Revision ID: 0002_jobs
Revises: 0001_auth
Create Date: 2026-11-22
"""

import re

from alembic import op
from procrastinate.schema import SchemaManager

revision = "0002_jobs"
down_revision = "0001_auth"
branch_labels = None
depends_on = None


def _objects(kind: str, sql: str) -> list[str]:
    return sorted(set(re.findall(rf"^CREATE {kind} (procrastinate_\w+)", sql, flags=re.MULTILINE)))


def upgrade() -> None:
    # procrastinate's schema of the installed version (pinned to major 3 in pyproject)
    op.execute(SchemaManager.get_schema())


def downgrade() -> None:
    sql = SchemaManager.get_schema()
    for table in ("procrastinate_periodic_defers", "procrastinate_events", "procrastinate_jobs", "procrastinate_workers"):
        op.execute(f"DROP TABLE IF EXISTS {table} CASCADE")
    op.execute(
        "DO $$ DECLARE f record; BEGIN FOR f IN SELECT p.oid::regprocedure AS sig FROM pg_proc p "
        "WHERE p.proname LIKE 'procrastinate\\_%' LOOP EXECUTE 'DROP FUNCTION IF EXISTS ' || f.sig || ' CASCADE'; "
        "END LOOP; END $$"
    )
    for name in _objects("TYPE", sql):
        op.execute(f"DROP TYPE IF EXISTS {name} CASCADE")
