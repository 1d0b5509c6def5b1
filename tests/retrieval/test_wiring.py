"""The app builds the retriever, registers the reindex task and queues it when a catalog changes."""

from __future__ import annotations

import sqlalchemy as sa

from nl2sql.retrieval import Retriever


async def test_a_catalog_change_in_the_app_queues_a_delayed_reindex_job(client):
    app = client.app
    assert isinstance(app.state.retriever, Retriever)
    assert "retrieval:reindex" in app.state.jobs.app.tasks
    connection = await app.state.catalog.create_connection(None, "wired", "sqlite:////tmp/nl2sql-retrieval-none.db")
    await app.state.catalog.update_connection(None, "wired", description="changed")
    async with app.state.db.sessions() as db:
        jobs = (await db.execute(sa.text(
            "SELECT args, status, scheduled_at > now() AS later FROM procrastinate_jobs "
            "WHERE task_name = 'retrieval:reindex'"))).all()
    assert any(args == {"connection_id": connection.id} and status == "todo" and later for args, status, later in jobs)
