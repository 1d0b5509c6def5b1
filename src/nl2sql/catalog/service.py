"""CatalogService: the catalog's one public face. Each story has its file: connections and grants
(connections.py), the synced catalog and its curation (curation.py), the schema the engine sees
(prompt_schema.py), instructions and golden queries (guidance.py), metrics, segments and value synonyms
(layer.py), syncs (sync.py), knowledge drafts
(drafts.py), row policies and column masks (access.py); what they share is in base.py."""

from __future__ import annotations

from nl2sql.auth import User
from nl2sql.catalog.access import AccessPart
from nl2sql.catalog.base import ChangeListener, SyncQueue
from nl2sql.catalog.connections import ConnectionsPart
from nl2sql.catalog.curation import CurationPart
from nl2sql.catalog.drafts import DraftsPart
from nl2sql.catalog.dto import SyncStatus
from nl2sql.catalog.guidance import GuidancePart
from nl2sql.catalog.layer import LayerPart
from nl2sql.catalog.prompt_schema import PromptSchemaPart
from nl2sql.catalog.rows import search_text, split_table_ref

__all__ = ["CatalogService", "ChangeListener", "SyncQueue", "search_text", "split_table_ref"]


class CatalogService(ConnectionsPart, CurationPart, PromptSchemaPart, GuidancePart, LayerPart, DraftsPart, AccessPart):
    """Every catalog use case; other modules read the catalog only through these methods (DTOs out)."""

    # sync -----------------------------------------------------------------------------------------

    async def start_sync(self, actor: User | None, name: str, *, defer: bool = True) -> SyncStatus:
        """Queue a sync job (or return the one already queued or running); without a queue it runs here."""
        async with self._sessions() as db:
            self._refuse_draft(await self._row_by_name(db, name), "synced (sync the live connection, then take a "
                                                                   "new draft)")
        return await self._syncer.start(actor, name, defer=defer)

    async def sync_status(self, name: str) -> SyncStatus | None:
        """The latest sync of the connection, if any."""
        return await self._syncer.latest((await self.get_connection(name)).id)

    async def get_sync(self, sync_id: int) -> SyncStatus:
        return await self._syncer.get(sync_id)

    async def run_sync(self, sync_id: int) -> SyncStatus:
        """Introspect and write the catalog for a queued sync (the job's body; callable directly)."""
        return await self._syncer.run(sync_id)

    async def sync_now(self, actor: User | None, name: str) -> SyncStatus:
        """Queue and run a sync in this task (CLI, demo, bench); the result tells success or why not."""
        status = await self.start_sync(actor, name, defer=False)
        if status.finished:
            return status
        return await self.run_sync(status.id)
