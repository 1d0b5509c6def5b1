"""catalog: credential-like query parameters (password, sslpassword, tokens, keys) redacted in stored display
URLs and in the audit log's connection entries, which earlier versions kept in clear

Revision ID: 0010_redact_url_parameters
Revises: 0009_catalog_semantics
Create Date: 2026-12-02
"""

import json

import sqlalchemy as sa
from alembic import op

from nl2sql.catalog.engines import redisplay

revision = "0010_redact_url_parameters"
down_revision = "0009_catalog_semantics"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    for row in bind.execute(sa.text("SELECT id, display_url FROM catalog_connections")).all():
        shown = redisplay(row.display_url)
        if shown != row.display_url:
            bind.execute(sa.text("UPDATE catalog_connections SET display_url = :u WHERE id = :i"),
                         {"u": shown, "i": row.id})
    entries = bind.execute(sa.text(
        "SELECT id, before, after FROM audit_log WHERE action LIKE 'catalog.connection.%'")).all()
    for entry in entries:
        changed = {}
        for field in ("before", "after"):
            value = getattr(entry, field)
            if isinstance(value, dict) and isinstance(value.get("url"), str):
                shown = redisplay(value["url"])
                if shown != value["url"]:
                    changed[field] = json.dumps(value | {"url": shown})
        if changed:
            sets = ", ".join(f"{f} = CAST(:{f} AS JSONB)" for f in changed)
            bind.execute(sa.text(f"UPDATE audit_log SET {sets} WHERE id = :i"), changed | {"i": entry.id})


def downgrade() -> None:
    pass  # what was redacted is gone; the sealed URLs still hold every credential
