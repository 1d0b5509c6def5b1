"""REST routes of the catalog: /api/v1/connections/... and /api/v1/audit."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, Response, delete, get, patch, post, put
from litestar.params import Parameter

from nl2sql.auth import current_user, requires_admin, requires_user
from nl2sql.catalog.dto import (
    Column,
    Connection,
    ConnectionTest,
    GoldenQuery,
    ImportReport,
    Instruction,
    JoinHint,
    SyncStatus,
    Table,
)
from nl2sql.catalog.connections import ConnectionTestFailed
from nl2sql.catalog.service import CatalogService
from nl2sql.errors import NotFoundError, ValidationFailed
from nl2sql.web import IMPORT_MAX_BYTES

CSV = "text/csv; charset=utf-8"


class ConnectionCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    url: str
    description: str = ""
    schemas: list[str] = []
    # a connection is tested before it is saved; a failed test refuses it (400, with the reason) unless this is
    # true, when it is saved marked as failing: offered to admins only until a test passes
    save_failing: bool = False


class ConnectionPatch(msgspec.Struct, forbid_unknown_fields=True):
    name: str | None = None
    url: str | None = None
    description: str | None = None
    schemas: list[str] | None = None


class TablePatch(msgspec.Struct, forbid_unknown_fields=True):
    description: str | None = None
    business_name: str | None = None
    synonyms: list[str] | None = None
    included: bool | None = None
    semantics: dict[str, str] | None = None  # corrections: label (display column), time (main time column)


class ColumnPatch(msgspec.Struct, forbid_unknown_fields=True):
    description: str | None = None
    business_name: str | None = None
    synonyms: list[str] | None = None
    included: bool | None = None
    sensitive: bool | None = None
    semantics: dict[str, str] | None = None  # corrections: role, aggregate


class JoinHintCreate(msgspec.Struct, forbid_unknown_fields=True):
    left_table: str
    right_table: str
    pairs: list[tuple[str, str]]
    note: str = ""


class InstructionBody(msgspec.Struct, forbid_unknown_fields=True):
    text: str
    kind: Literal["always", "topical"] = "always"


class GoldenQueryBody(msgspec.Struct, forbid_unknown_fields=True):
    question: str
    sql: str


class Grants(msgspec.Struct, forbid_unknown_fields=True):
    user_ids: list[int]


async def _visible(request: Request, catalog: CatalogService, name: str) -> Connection:
    return await catalog.visible_connection(current_user(request), name)


async def _text_body(request: Request) -> str:
    raw = await request.body()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ValidationFailed("the body must be UTF-8 text") from None


class ConnectionController(Controller):
    path = "/api/v1/connections"
    tags = ["catalog"]
    guards = [requires_user]

    @get("/", summary="Connections I may use (admins: all, those failing their last test too, with `test_failure`)")
    async def list_connections(self, request: Request, catalog_service: CatalogService) -> list[Connection]:
        return await catalog_service.accessible_connections(current_user(request), include_failing=True)

    @post("/", summary="Add a connection (admin): it is tested first, and a failed test refuses it with the reason "
                       "unless `save_failing` is true (then it is saved marked failing, offered to admins only until "
                       "a test passes); the URL's password is stored encrypted, never shown",
          guards=[requires_admin])
    async def create_connection(self, request: Request, catalog_service: CatalogService, data: ConnectionCreate) -> Connection:
        try:
            return await catalog_service.create_connection(
                current_user(request), data.name, data.url, description=data.description, schemas=data.schemas,
                test=True, save_failing=data.save_failing,
            )
        except ConnectionTestFailed as exc:
            raise ConnectionTestFailed(exc.reason, hint='send "save_failing": true to save it marked as failing') from None

    @get("/{name:str}", summary="One connection")
    async def get_connection(self, request: Request, catalog_service: CatalogService, name: str) -> Connection:
        return await _visible(request, catalog_service, name)

    @patch("/{name:str}", summary="Rename or change URL (a `***` password keeps the stored one), description, schemas (admin)",
           guards=[requires_admin])
    async def update_connection(
        self, request: Request, catalog_service: CatalogService, name: str, data: ConnectionPatch
    ) -> Connection:
        return await catalog_service.update_connection(
            current_user(request), name, new_name=data.name, url=data.url, description=data.description,
            schemas=data.schemas,
        )

    @delete("/{name:str}", summary="Delete a connection and its catalog (admin)", guards=[requires_admin])
    async def delete_connection(self, request: Request, catalog_service: CatalogService, name: str) -> None:
        await catalog_service.delete_connection(current_user(request), name)

    @post("/{name:str}/test", summary="Try to connect; a failure names its cause and marks the connection failing, "
                                      "a pass clears the mark (admin)", guards=[requires_admin],
          status_code=200)
    async def test_connection(self, catalog_service: CatalogService, name: str) -> ConnectionTest:
        return await catalog_service.test_connection(name)

    @post("/{name:str}/sync", summary="Start a sync job (admin); poll GET .../sync", guards=[requires_admin],
          status_code=202)
    async def start_sync(self, request: Request, catalog_service: CatalogService, name: str) -> SyncStatus:
        return await catalog_service.start_sync(current_user(request), name)

    @get("/{name:str}/sync", summary="The latest sync: status, phase, progress, error and diff")
    async def sync_status(self, request: Request, catalog_service: CatalogService, name: str) -> SyncStatus:
        await _visible(request, catalog_service, name)
        status = await catalog_service.sync_status(name)
        if status is None:
            raise NotFoundError(f"connection {name} was never synced: POST .../sync starts one")
        return status

    @get("/{name:str}/tables", summary="Tables with columns and foreign keys; ?q= searches, X-Total-Count has the total")
    async def tables(
        self,
        request: Request,
        catalog_service: CatalogService,
        name: str,
        q: str | None = None,
        page: Annotated[int, Parameter(ge=1)] = 1,
        per_page: Annotated[int, Parameter(ge=1, le=500)] = 100,
    ) -> Response[list[Table]]:
        connection = await _visible(request, catalog_service, name)
        user = current_user(request)
        result = await catalog_service.tables(connection.id, search=q, page=page, per_page=per_page,
                                              included_only=not user.is_admin)
        seen = await catalog_service.visibility(user, connection.id)
        return Response([seen.table(t) for t in result.tables], headers={"X-Total-Count": str(result.total)})

    @get("/{name:str}/tables/{table:str}", summary="One table by name or schema.name")
    async def table(self, request: Request, catalog_service: CatalogService, name: str, table: str) -> Table:
        connection = await _visible(request, catalog_service, name)
        user = current_user(request)
        found = await catalog_service.table(connection.id, table, included_only=not user.is_admin)
        return (await catalog_service.visibility(user, connection.id)).table(found)

    @patch("/{name:str}/tables/{table:str}", summary="Edit a table's description, business name, synonyms, inclusion (admin)",
           guards=[requires_admin])
    async def update_table(
        self, request: Request, catalog_service: CatalogService, name: str, table: str, data: TablePatch
    ) -> Table:
        connection = await catalog_service.get_connection(name)
        return await catalog_service.update_table(
            current_user(request), connection.id, table, description=data.description,
            business_name=data.business_name, synonyms=data.synonyms, included=data.included,
            semantics=data.semantics,
        )

    @patch("/{name:str}/tables/{table:str}/columns/{column:str}",
           summary="Edit a column's description, names, inclusion or sensitive flag (admin)", guards=[requires_admin])
    async def update_column(
        self, request: Request, catalog_service: CatalogService, name: str, table: str, column: str, data: ColumnPatch
    ) -> Column:
        connection = await catalog_service.get_connection(name)
        return await catalog_service.update_column(
            current_user(request), connection.id, table, column, description=data.description,
            business_name=data.business_name, synonyms=data.synonyms, included=data.included, sensitive=data.sensitive,
            semantics=data.semantics,
        )

    @get("/{name:str}/metadata", summary="Export human metadata as JSON (or ?format=csv) (admin)", guards=[requires_admin])
    async def export_metadata(
        self, request: Request, catalog_service: CatalogService, name: str, format: Literal["json", "csv"] = "json"
    ) -> Response:
        connection = await _visible(request, catalog_service, name)
        if format == "csv":
            return Response(await catalog_service.export_metadata_csv(connection.id), media_type=CSV)
        return Response(await catalog_service.export_metadata(connection.id))

    @post("/{name:str}/metadata", request_max_body_size=IMPORT_MAX_BYTES, summary="Import metadata JSON: our export, sqleval dbs/<db>.json or columns_join.json "
          "(?db= picks its entry) (admin)", guards=[requires_admin], status_code=200)
    async def import_metadata(
        self, request: Request, catalog_service: CatalogService, name: str, data: dict[str, Any],
        db: str | None = None,
    ) -> ImportReport:
        connection = await catalog_service.get_connection(name)
        return await catalog_service.import_metadata(current_user(request), connection.id, data, db=db)

    @post("/{name:str}/metadata/csv", request_max_body_size=IMPORT_MAX_BYTES, summary="Import metadata CSV (table,column,description,business_name,synonyms,"
          "included,sensitive) sent as text/csv (admin)", guards=[requires_admin], status_code=200)
    async def import_metadata_csv(self, request: Request, catalog_service: CatalogService, name: str) -> ImportReport:
        connection = await catalog_service.get_connection(name)
        return await catalog_service.import_metadata_csv(current_user(request), connection.id, await _text_body(request))

    @get("/{name:str}/join-hints", summary="Join hints")
    async def join_hints(self, request: Request, catalog_service: CatalogService, name: str) -> list[JoinHint]:
        connection = await _visible(request, catalog_service, name)
        return await catalog_service.join_hints(connection.id)

    @post("/{name:str}/join-hints", summary="Add a join hint (admin)", guards=[requires_admin])
    async def add_join_hint(
        self, request: Request, catalog_service: CatalogService, name: str, data: JoinHintCreate
    ) -> JoinHint:
        connection = await catalog_service.get_connection(name)
        return await catalog_service.add_join_hint(
            current_user(request), connection.id, data.left_table, data.right_table, data.pairs, data.note
        )

    @delete("/{name:str}/join-hints/{hint_id:int}", summary="Delete a join hint (admin)", guards=[requires_admin])
    async def delete_join_hint(self, request: Request, catalog_service: CatalogService, name: str, hint_id: int) -> None:
        connection = await catalog_service.get_connection(name)
        await catalog_service.delete_join_hint(current_user(request), connection.id, hint_id)

    @get("/{name:str}/instructions", summary="Instructions (?kind=always|topical)")
    async def instructions(
        self, request: Request, catalog_service: CatalogService, name: str,
        kind: Literal["always", "topical"] | None = None,
    ) -> list[Instruction]:
        connection = await _visible(request, catalog_service, name)
        return await catalog_service.instructions(connection.id, kind)

    @post("/{name:str}/instructions", summary="Add an instruction (admin)", guards=[requires_admin])
    async def add_instruction(
        self, request: Request, catalog_service: CatalogService, name: str, data: InstructionBody
    ) -> Instruction:
        connection = await catalog_service.get_connection(name)
        return await catalog_service.add_instruction(current_user(request), connection.id, data.text, data.kind)

    @put("/{name:str}/instructions/{instruction_id:int}", summary="Replace an instruction (admin)",
         guards=[requires_admin])
    async def update_instruction(
        self, request: Request, catalog_service: CatalogService, name: str, instruction_id: int, data: InstructionBody
    ) -> Instruction:
        connection = await catalog_service.get_connection(name)
        return await catalog_service.update_instruction(
            current_user(request), connection.id, instruction_id, data.text, data.kind)

    @delete("/{name:str}/instructions/{instruction_id:int}", summary="Delete an instruction (admin)",
            guards=[requires_admin])
    async def delete_instruction(
        self, request: Request, catalog_service: CatalogService, name: str, instruction_id: int
    ) -> None:
        connection = await catalog_service.get_connection(name)
        await catalog_service.delete_instruction(current_user(request), connection.id, instruction_id)

    @get("/{name:str}/golden-queries", summary="Golden queries (?q= filters question and SQL)")
    async def golden_queries(
        self, request: Request, catalog_service: CatalogService, name: str, q: str | None = None
    ) -> list[GoldenQuery]:
        connection = await _visible(request, catalog_service, name)
        return await catalog_service.golden_queries(connection.id, q)

    @post("/{name:str}/golden-queries", summary="Add a golden query: one read-only statement, run first (read-only, row cap, NL2SQL_CATALOG_QUERY_TIMEOUT) (admin)",
          guards=[requires_admin])
    async def add_golden_query(
        self, request: Request, catalog_service: CatalogService, name: str, data: GoldenQueryBody
    ) -> GoldenQuery:
        connection = await catalog_service.get_connection(name)
        return await catalog_service.add_golden_query(current_user(request), connection.id, data.question, data.sql)

    @put("/{name:str}/golden-queries/{query_id:int}", summary="Replace a golden query (admin)", guards=[requires_admin])
    async def update_golden_query(
        self, request: Request, catalog_service: CatalogService, name: str, query_id: int, data: GoldenQueryBody
    ) -> GoldenQuery:
        connection = await catalog_service.get_connection(name)
        return await catalog_service.update_golden_query(
            current_user(request), connection.id, query_id, data.question, data.sql)

    @delete("/{name:str}/golden-queries/{query_id:int}", summary="Delete a golden query (admin)", guards=[requires_admin])
    async def delete_golden_query(
        self, request: Request, catalog_service: CatalogService, name: str, query_id: int
    ) -> None:
        connection = await catalog_service.get_connection(name)
        await catalog_service.delete_golden_query(current_user(request), connection.id, query_id)

    @post("/{name:str}/golden-queries/import", request_max_body_size=IMPORT_MAX_BYTES, summary="Import a question,sql CSV sent as text/csv; bad rows are "
          "reported by line, good rows kept (admin)", guards=[requires_admin], status_code=200)
    async def import_golden(self, request: Request, catalog_service: CatalogService, name: str) -> ImportReport:
        connection = await catalog_service.get_connection(name)
        return await catalog_service.import_golden_csv(current_user(request), connection.id, await _text_body(request))

    @get("/{name:str}/golden-queries/export", summary="Golden queries as a question,sql CSV")
    async def export_golden(self, request: Request, catalog_service: CatalogService, name: str) -> Response:
        connection = await _visible(request, catalog_service, name)
        return Response(await catalog_service.export_golden_csv(connection.id), media_type=CSV)

    @get("/{name:str}/grants", summary="Users granted this connection (admin)", guards=[requires_admin])
    async def grants(self, catalog_service: CatalogService, name: str) -> Grants:
        return Grants(user_ids=await catalog_service.grants(name))

    @put("/{name:str}/grants", summary="Replace the users granted this connection (admin)", guards=[requires_admin])
    async def set_grants(self, request: Request, catalog_service: CatalogService, name: str, data: Grants) -> Grants:
        return Grants(user_ids=await catalog_service.set_grants(current_user(request), name, data.user_ids))


api_routes = [ConnectionController]
