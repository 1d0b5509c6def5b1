"""REST routes of a connection's semantic layer: metrics and segments (list, create, edit, delete, try: the value
and the SQL) and value synonyms, under /api/v1/connections/{name}/."""

from __future__ import annotations

from typing import Any, Literal

import msgspec
from litestar import Controller, Request, delete, get, post, put

from nl2sql.auth import current_user, requires_admin, requires_user
from nl2sql.catalog import CatalogService, DbtReport, Metric
from nl2sql.errors import ForbiddenError, NotFoundError
from nl2sql.web import IMPORT_MAX_BYTES
from nl2sql.semantics.trial import Trial


class MetricBody(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    expression: str  # a metric's formula (`sum(order_items.quantity * order_items.unit_price)`), a segment's condition
    kind: Literal["metric", "segment"] = "metric"
    filters: list[str] = []  # SQL conditions every use of the metric applies
    time_column: str = ""  # table.column it is reported by
    synonyms: list[str] = []
    description: str = ""
    format: Literal["plain", "currency", "percent"] = "plain"


class ValueSynonymsBody(msgspec.Struct, forbid_unknown_fields=True):
    table: str
    column: str
    synonyms: dict[str, list[str]]  # value -> the words people use for it; {} clears them


class DbtArtifacts(msgspec.Struct, forbid_unknown_fields=True):
    manifest: dict[str, Any]  # target/manifest.json
    catalog: dict[str, Any] | None = None  # target/catalog.json (dbt docs generate)
    semantic_manifest: dict[str, Any] | None = None  # target/semantic_manifest.json


class TrialOut(msgspec.Struct):
    """A definition tried against the data: the SQL that computes it, its value (a segment: its row count), its
    read-back."""

    metric: Metric
    sql: str
    value: Any
    readback: str


def _trial(metric: Metric, found: Any) -> TrialOut:
    if isinstance(found, Trial):
        value = found.value if isinstance(found.value, int) else float(found.value)
        return TrialOut(metric, found.sql, value, found.readback)
    return TrialOut(metric, "", None, str(found))


class LayerController(Controller):
    path = "/api/v1/connections/{name:str}"
    tags = ["semantics"]
    guards = [requires_user]

    @get("/metrics", summary="The connection's metrics and segments (?kind=metric or segment)")
    async def list_metrics(self, request: Request, catalog_service: CatalogService, name: str,
                           kind: Literal["metric", "segment"] | None = None) -> list[Metric]:
        user = current_user(request)
        connection = await catalog_service.visible_connection(user, name)
        seen = await catalog_service.visibility(user, connection.id)
        return [m for m in await catalog_service.metrics(connection.id, kind) if seen.shows_metric(m)]

    @post("/metrics", summary="Add a metric or segment (admin): it must compile for the connection's dialect, pass "
                              "the SQL guard and return a number (a segment: count its rows), or it is refused with "
                              "the reason", guards=[requires_admin])
    async def add_metric(self, request: Request, catalog_service: CatalogService, name: str, data: MetricBody) -> Metric:
        connection = await catalog_service.get_connection(name)
        return await catalog_service.add_metric(current_user(request), connection.id, msgspec.structs.asdict(data))

    @post("/metrics/try", summary="Try a metric or segment without saving it: its SQL and value (admin)",
          guards=[requires_admin], status_code=200)
    async def try_new(self, catalog_service: CatalogService, name: str, data: MetricBody) -> TrialOut:
        connection = await catalog_service.get_connection(name)
        return _trial(*await catalog_service.check_metric(connection.id, msgspec.structs.asdict(data)))

    @get("/metrics/{metric_id:int}", summary="One metric or segment")
    async def get_metric(self, request: Request, catalog_service: CatalogService, name: str, metric_id: int) -> Metric:
        user = current_user(request)
        connection = await catalog_service.visible_connection(user, name)
        found = await catalog_service.get_metric(connection.id, metric_id)
        if not (await catalog_service.visibility(user, connection.id)).shows_metric(found):
            raise NotFoundError(f"no metric {metric_id} on this connection")
        return found

    @post("/metrics/{metric_id:int}/try", summary="Try a stored metric or segment: its SQL and value today",
          status_code=200)
    async def try_stored(self, request: Request, catalog_service: CatalogService, name: str, metric_id: int) -> TrialOut:
        user = current_user(request)
        connection = await catalog_service.visible_connection(user, name)
        if (await catalog_service.visibility(user, connection.id)).restricts:
            # a trial runs on every row, unrewritten: a user under policies asks the question instead
            raise ForbiddenError("trying a metric runs it on all rows; under your access policies, ask for it instead")
        stored = await catalog_service.get_metric(connection.id, metric_id)
        return _trial(*await catalog_service.check_metric(connection.id, stored.spec(), metric_id))

    @put("/metrics/{metric_id:int}", summary="Replace a metric or segment (admin; tried like a new one)",
         guards=[requires_admin])
    async def update_metric(self, request: Request, catalog_service: CatalogService, name: str, metric_id: int,
                            data: MetricBody) -> Metric:
        connection = await catalog_service.get_connection(name)
        return await catalog_service.update_metric(current_user(request), connection.id, metric_id,
                                                   msgspec.structs.asdict(data))

    @delete("/metrics/{metric_id:int}", summary="Delete a metric or segment (admin)", guards=[requires_admin])
    async def delete_metric(self, request: Request, catalog_service: CatalogService, name: str, metric_id: int) -> None:
        connection = await catalog_service.get_connection(name)
        await catalog_service.delete_metric(current_user(request), connection.id, metric_id)

    @put("/value-synonyms", summary="Set a column's value synonyms (admin): {value: [words]}, e.g. "
                                    '{"CA": ["California"]}; {} clears them', guards=[requires_admin])
    async def set_value_synonyms(self, request: Request, catalog_service: CatalogService, name: str,
                                 data: ValueSynonymsBody) -> dict[str, list[str]]:
        connection = await catalog_service.get_connection(name)
        kept = await catalog_service.set_value_synonyms(current_user(request), connection.id, data.table, data.column,
                                                        data.synonyms)
        return {value: list(words) for value, words in kept.items()}

    @post("/dbt", request_max_body_size=IMPORT_MAX_BYTES, guards=[requires_admin],
          summary="Import a dbt project's artifacts (admin): descriptions, relationships (join hints), accepted values, "
                  "semantic models' measures and the project's metrics land in the connection's knowledge draft, "
                  "each metric tried first; the report lists what it added and what it could not map. Nothing is "
                  "applied when no dbt model matches a table.")
    async def import_dbt(self, request: Request, catalog_service: CatalogService, name: str,
                         data: DbtArtifacts) -> DbtReport:
        return await catalog_service.import_dbt(current_user(request), name, data.manifest, data.catalog,
                                                data.semantic_manifest)


api_routes = [LayerController]
