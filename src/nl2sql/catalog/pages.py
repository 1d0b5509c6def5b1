"""Pages of the catalog: connections, sync progress, the catalog browser, instructions, golden queries, audit log."""

from __future__ import annotations

from dataclasses import replace

import json
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect, Template

from nl2sql.auth import AuthService, Role, current_user, requires_admin, requires_user
from nl2sql.catalog import engines
from nl2sql.catalog.connections import NAME_PATTERN, NAME_RULE, ConnectionTestFailed
from nl2sql.catalog.dto import Connection, ImportReport
from nl2sql.catalog.service import CatalogService
from nl2sql.errors import AppError, ValidationFailed
from nl2sql.web import IMPORT_MAX_BYTES, redirect, render

Form = Body(media_type=RequestEncodingType.URL_ENCODED)
Upload = Body(media_type=RequestEncodingType.MULTI_PART)
PER_PAGE = 20


def _text(data: dict[str, Any], key: str) -> str:
    value = data.get(key, "")
    if isinstance(value, list):
        value = value[-1] if value else ""
    return str(value or "")


def _flag(data: dict[str, Any], key: str) -> bool:
    return key in data and _text(data, key) not in ("", "0", "false", "off")


async def _upload_text(data: dict[str, Any], key: str = "file") -> str:
    upload = data.get(key)
    if not isinstance(upload, UploadFile):
        raise ValidationFailed("choose a file to import")
    raw = await upload.read()
    if len(raw) > 20_000_000:
        raise ValidationFailed("the file is larger than 20 MB")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationFailed("the file must be UTF-8 text") from None


def _echoable_url(raw: str) -> str:
    """The URL to put back in the form after a refusal: only one that carries no password or credential."""
    try:
        parsed = engines.parse_url(raw)
    except AppError:
        return ""
    return raw if parsed.password is None and not engines.secret_params(parsed) else ""


class ConnectionPages(Controller):
    path = "/connections"
    include_in_schema = False
    guards = [requires_user]

    async def _list(self, request: Request, catalog: CatalogService, **extra: Any) -> dict[str, Any]:
        user = current_user(request)
        connections = await catalog.accessible_connections(user, include_failing=True)
        statuses = {c.name: await catalog.sync_status(c.name) for c in connections}
        return {"user": user, "connections": connections, "statuses": statuses, "form": {}, "message": None,
                "error": None, "name_rule": NAME_RULE, "name_pattern": NAME_PATTERN} | extra

    @get("/")
    async def connections(self, request: Request, catalog_service: CatalogService) -> Template:
        return render(request, "catalog/connections.html", await self._list(request, catalog_service))

    @post("/", guards=[requires_admin])
    async def create(self, request: Request, catalog_service: CatalogService, data: Annotated[dict[str, Any], Form]) -> Any:
        save_failing = _flag(data, "save_failing")
        try:
            created = await catalog_service.create_connection(
                current_user(request), _text(data, "name"), _text(data, "url"),
                description=_text(data, "description"), schemas=_text(data, "schemas"),
                test=True, save_failing=save_failing,
            )
        except AppError as exc:
            error = exc.detail
            if isinstance(exc, ConnectionTestFailed):
                error = ConnectionTestFailed(
                    exc.reason, hint="fix the URL, or tick “Save even if the test fails” to keep it marked as failing"
                ).detail
            form = {k: _text(data, k) for k in ("name", "description", "schemas")}
            form["url"] = _echoable_url(_text(data, "url"))  # a URL with a password or credential is never echoed
            form["save_failing"] = save_failing
            ctx = await self._list(request, catalog_service, error=error, form=form)
            return render(request, "catalog/connections.html", ctx, fragment="catalog/_connections.html",
                          status_code=exc.status_code)
        # a new connection is tested at once: its page opens with the result (a closed port says so there)
        return redirect(request, f"/connections/{created.name}?test=1")

    async def _detail(self, request: Request, catalog: CatalogService, auth: AuthService, name: str,
                      **extra: Any) -> dict[str, Any]:
        user = current_user(request)
        connection = await catalog.visible_connection(user, name)
        ctx = {"user": user, "connection": connection, "sync": await catalog.sync_status(name), "message": None,
               "error": None, "test": None, "report": None, "name_rule": NAME_RULE, "name_pattern": NAME_PATTERN}
        if user.is_admin:
            ctx["analysts"] = [u for u in await auth.list_users() if u.role == Role.ANALYST]
            ctx["granted"] = set(await catalog.grants(name))
        return ctx | extra

    @get("/{name:str}")
    async def detail(self, request: Request, catalog_service: CatalogService, auth_service: AuthService,
                     name: str, test: bool = False) -> Template:
        ctx = await self._detail(request, catalog_service, auth_service, name)
        if test and ctx["user"].is_admin:
            result = await catalog_service.test_connection(name)
            ctx["test"] = replace(result, message=f"Saved. Connection test: {result.message}")
        return render(request, "catalog/connection.html", ctx)

    @post("/{name:str}", guards=[requires_admin])
    async def update(self, request: Request, catalog_service: CatalogService, auth_service: AuthService, name: str,
                     data: Annotated[dict[str, Any], Form]) -> Any:
        try:
            updated = await catalog_service.update_connection(
                current_user(request), name, new_name=_text(data, "name") or None, url=_text(data, "url") or None,
                description=_text(data, "description"), schemas=_text(data, "schemas"),
            )
        except AppError as exc:
            ctx = await self._detail(request, catalog_service, auth_service, name, error=exc.detail)
            return render(request, "catalog/connection.html", ctx, fragment="catalog/_connection_form.html",
                          status_code=exc.status_code)
        if updated.name != name:
            return redirect(request, f"/connections/{updated.name}")
        ctx = await self._detail(request, catalog_service, auth_service, name, message="Saved.")
        return render(request, "catalog/connection.html", ctx, fragment="catalog/_connection_form.html")

    @post("/{name:str}/test", guards=[requires_admin])
    async def test(self, request: Request, catalog_service: CatalogService, auth_service: AuthService,
                   name: str) -> Template:
        was_failing = (await catalog_service.get_connection(name)).failing
        result = await catalog_service.test_connection(name)
        if result.ok and was_failing:
            result = replace(result, message=f"{result.message}: it is offered to analysts and on the ask page again")
        elif not result.ok:
            result = replace(result, message=f"{result.message} (marked failing: not offered to analysts or on the "
                                             "ask page until a test passes)")
        ctx = await self._detail(request, catalog_service, auth_service, name, test=result)
        return render(request, "catalog/connection.html", ctx, fragment="catalog/_test_result.html")

    @post("/{name:str}/retest", guards=[requires_admin])
    async def retest(self, request: Request, catalog_service: CatalogService, name: str) -> Template:
        """Test a connection again from the list: a pass offers it to analysts and the ask page again."""
        result = await catalog_service.test_connection(name)
        if result.ok:
            extra = {"message": f"{name} passed its test ({result.message}): it is offered to analysts again."}
        else:
            extra = {"error": f"{name} still fails its test: {result.message}"}
        ctx = await self._list(request, catalog_service, **extra)
        return render(request, "catalog/connections.html", ctx, fragment="catalog/_connections.html")

    @post("/{name:str}/delete", guards=[requires_admin])
    async def delete(self, request: Request, catalog_service: CatalogService, name: str) -> Any:
        await catalog_service.delete_connection(current_user(request), name)
        return redirect(request, "/connections")

    @post("/{name:str}/grants", guards=[requires_admin])
    async def grants(self, request: Request, catalog_service: CatalogService, auth_service: AuthService, name: str,
                     data: Annotated[dict[str, Any], Form]) -> Template:
        raw = data.get("user_id", [])
        ids = raw if isinstance(raw, list) else [raw]
        try:
            await catalog_service.set_grants(current_user(request), name, [int(i) for i in ids
                                                                           if str(i).isascii() and str(i).isdigit()])
            extra = {"message": "Access saved."}
            status = 200
        except AppError as exc:
            extra, status = {"error": exc.detail}, exc.status_code
        ctx = await self._detail(request, catalog_service, auth_service, name, **extra)
        return render(request, "catalog/connection.html", ctx, fragment="catalog/_grants.html", status_code=status)

    @post("/{name:str}/sync", guards=[requires_admin])
    async def start_sync(self, request: Request, catalog_service: CatalogService, auth_service: AuthService,
                         name: str) -> Template:
        await catalog_service.start_sync(current_user(request), name)
        ctx = await self._detail(request, catalog_service, auth_service, name)
        return render(request, "catalog/connection.html", ctx, fragment="catalog/_sync.html")

    @get("/{name:str}/sync", opt={"rate_limited": False})
    async def sync_status(self, request: Request, catalog_service: CatalogService, auth_service: AuthService,
                          name: str) -> Template:
        ctx = await self._detail(request, catalog_service, auth_service, name)
        return render(request, "catalog/connection.html", ctx, fragment="catalog/_sync.html")

    @post("/{name:str}/metadata", guards=[requires_admin], request_max_body_size=IMPORT_MAX_BYTES)
    async def import_metadata(self, request: Request, catalog_service: CatalogService, auth_service: AuthService,
                              name: str, data: Annotated[dict[str, Any], Upload]) -> Template:
        user = current_user(request)
        connection = await catalog_service.get_connection(name)
        status = 200
        try:
            text = await _upload_text(data)
            upload = data.get("file")
            if upload.filename.lower().endswith(".csv"):
                report = await catalog_service.import_metadata_csv(user, connection.id, text)
            else:
                try:
                    payload = json.loads(text)
                except json.JSONDecodeError as exc:
                    raise ValidationFailed(f"the file is not JSON (line {exc.lineno}): {exc.msg}") from None
                report = await catalog_service.import_metadata(user, connection.id, payload,
                                                               db=_text(data, "db") or None)
            extra = {"report": report}
        except AppError as exc:
            extra, status = {"error": exc.detail}, exc.status_code
        ctx = await self._detail(request, catalog_service, auth_service, name, **extra)
        return render(request, "catalog/connection.html", ctx, fragment="catalog/_metadata.html", status_code=status)

    @get("/{name:str}/metadata.json", guards=[requires_admin])
    async def export_metadata_json(self, request: Request, catalog_service: CatalogService, name: str) -> Response:
        connection = await catalog_service.visible_connection(current_user(request), name)
        document = await catalog_service.export_metadata(connection.id)
        return Response(document, headers={"Content-Disposition": f'attachment; filename="{name}-metadata.json"'})

    @get("/{name:str}/metadata.csv", guards=[requires_admin])
    async def export_metadata_csv(self, request: Request, catalog_service: CatalogService, name: str) -> Response:
        connection = await catalog_service.visible_connection(current_user(request), name)
        return Response(await catalog_service.export_metadata_csv(connection.id), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}-metadata.csv"'})

    # instructions ---------------------------------------------------------------------------------

    async def _instructions(self, request: Request, catalog: CatalogService, name: str, **extra: Any) -> dict[str, Any]:
        user = current_user(request)
        connection = await catalog.visible_connection(user, name)
        return {"user": user, "connection": connection, "instructions": await catalog.instructions(connection.id),
                "message": None, "error": None, "form": {}} | extra

    @get("/{name:str}/instructions")
    async def instructions(self, request: Request, catalog_service: CatalogService, name: str,
                           term: str | None = None) -> Template:
        context = await self._instructions(request, catalog_service, name)
        if term and term.strip():
            # "Define 'revenue'" from a clarified question: the form starts the definition, topical
            context["form"] = {"text": f"{term.strip()[:100]} = ", "kind": "topical"}
        return render(request, "catalog/instructions.html", context)

    @post("/{name:str}/instructions", guards=[requires_admin])
    async def save_instruction(self, request: Request, catalog_service: CatalogService, name: str,
                               data: Annotated[dict[str, Any], Form]) -> Template:
        user = current_user(request)
        connection = await catalog_service.get_connection(name)
        action, status, extra = _text(data, "action") or "add", 200, {}
        try:
            if action == "delete":
                await catalog_service.delete_instruction(user, connection.id, int(_text(data, "id")))
                extra["message"] = "Instruction deleted."
            elif action == "update":
                await catalog_service.update_instruction(user, connection.id, int(_text(data, "id")),
                                                         _text(data, "text"), _text(data, "kind"))
                extra["message"] = "Instruction saved."
            else:
                await catalog_service.add_instruction(user, connection.id, _text(data, "text"), _text(data, "kind"))
                extra["message"] = "Instruction added."
        except (AppError, ValueError) as exc:
            status = getattr(exc, "status_code", 400)
            extra = {"error": getattr(exc, "detail", "invalid instruction id"),
                     "form": {"text": _text(data, "text"), "kind": _text(data, "kind")}}
        ctx = await self._instructions(request, catalog_service, name, **extra)
        return render(request, "catalog/instructions.html", ctx, fragment="catalog/_instructions.html",
                      status_code=status)

    # golden queries -------------------------------------------------------------------------------

    async def _golden(self, request: Request, catalog: CatalogService, name: str, q: str | None = None,
                      **extra: Any) -> dict[str, Any]:
        user = current_user(request)
        connection = await catalog.visible_connection(user, name)
        return {"user": user, "connection": connection, "queries": await catalog.golden_queries(connection.id, q),
                "q": q or "", "message": None, "error": None, "form": {}, "report": None} | extra

    @get("/{name:str}/golden-queries")
    async def golden_queries(self, request: Request, catalog_service: CatalogService, name: str,
                             q: str | None = None) -> Template:
        ctx = await self._golden(request, catalog_service, name, q)
        return render(request, "catalog/golden.html", ctx, fragment="catalog/_golden_list.html")

    @post("/{name:str}/golden-queries", guards=[requires_admin])
    async def save_golden(self, request: Request, catalog_service: CatalogService, name: str,
                          data: Annotated[dict[str, Any], Form]) -> Template:
        user = current_user(request)
        connection = await catalog_service.get_connection(name)
        action, status, extra = _text(data, "action") or "add", 200, {}
        try:
            if action == "delete":
                await catalog_service.delete_golden_query(user, connection.id, int(_text(data, "id")))
                extra["message"] = "Golden query deleted."
            elif action == "update":
                await catalog_service.update_golden_query(user, connection.id, int(_text(data, "id")),
                                                          _text(data, "question"), _text(data, "sql"))
                extra["message"] = "Golden query saved: it parsed and ran read-only."
            else:
                await catalog_service.add_golden_query(user, connection.id, _text(data, "question"), _text(data, "sql"))
                extra["message"] = "Golden query added: it parsed and ran read-only."
        except (AppError, ValueError) as exc:
            status = getattr(exc, "status_code", 400)
            extra = {"error": getattr(exc, "detail", "invalid id"),
                     "form": {"question": _text(data, "question"), "sql": _text(data, "sql")}}
        ctx = await self._golden(request, catalog_service, name, **extra)
        return render(request, "catalog/golden.html", ctx, fragment="catalog/_golden.html", status_code=status)

    @post("/{name:str}/golden-queries/import", guards=[requires_admin], request_max_body_size=IMPORT_MAX_BYTES)
    async def import_golden(self, request: Request, catalog_service: CatalogService, name: str,
                            data: Annotated[dict[str, Any], Upload]) -> Template:
        connection = await catalog_service.get_connection(name)
        status, extra = 200, {}
        try:
            report: ImportReport = await catalog_service.import_golden_csv(
                current_user(request), connection.id, await _upload_text(data))
            extra["report"] = report
        except AppError as exc:
            status, extra = exc.status_code, {"error": exc.detail}
        ctx = await self._golden(request, catalog_service, name, **extra)
        return render(request, "catalog/golden.html", ctx, fragment="catalog/_golden.html", status_code=status)

    @get("/{name:str}/golden-queries.csv")
    async def export_golden(self, request: Request, catalog_service: CatalogService, name: str) -> Response:
        connection = await catalog_service.visible_connection(current_user(request), name)
        return Response(await catalog_service.export_golden_csv(connection.id), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}-golden-queries.csv"'})


class CatalogPages(Controller):
    """The catalog browser: search, pagination and inline edits by htmx swaps."""

    path = "/catalog"
    include_in_schema = False
    guards = [requires_user]

    @get("/")
    async def browse(self, request: Request, catalog_service: CatalogService, connection: str | None = None,
                     q: str | None = None, page: int = 1) -> Template | Redirect:
        user = current_user(request)
        connections = await catalog_service.accessible_connections(user)
        chosen: Connection | None = None
        if connection:
            chosen = await catalog_service.visible_connection(user, connection)
            # a knowledge draft, or a connection failing its test (admins), is browsed when asked for by name
            if chosen.id not in {c.id for c in connections}:
                connections = [*connections, chosen]
        elif connections:
            chosen = connections[0]
        result = None
        if chosen is not None:
            result = await catalog_service.tables(chosen.id, search=q, page=max(1, page), per_page=PER_PAGE,
                                                  included_only=not user.is_admin)
            seen = await catalog_service.visibility(user, chosen.id)
            result = replace(result, tables=tuple(seen.table(t) for t in result.tables))
        ctx = {"user": user, "connections": connections, "connection": chosen, "result": result, "q": q or ""}
        return render(request, "catalog/browser.html", ctx, fragment="catalog/_tables.html")

    @post("/{name:str}/tables/{table:str}", guards=[requires_admin])
    async def edit_table(self, request: Request, catalog_service: CatalogService, name: str, table: str,
                         data: Annotated[dict[str, Any], Form]) -> Template:
        connection = await catalog_service.get_connection(name)
        updated = await catalog_service.update_table(
            current_user(request), connection.id, table, description=_text(data, "description"),
            business_name=_text(data, "business_name"), synonyms=_text(data, "synonyms"),
            included=_flag(data, "included"),
        )
        return Template(template_name="catalog/_table.html",
                        context={"user": current_user(request), "connection": connection, "t": updated, "open": True})

    @post("/{name:str}/tables/{table:str}/columns/{column:str}", guards=[requires_admin])
    async def edit_column(self, request: Request, catalog_service: CatalogService, name: str, table: str, column: str,
                          data: Annotated[dict[str, Any], Form]) -> Template:
        connection = await catalog_service.get_connection(name)
        updated = await catalog_service.update_column(
            current_user(request), connection.id, table, column, description=_text(data, "description"),
            business_name=_text(data, "business_name"), synonyms=_text(data, "synonyms"),
            included=_flag(data, "included"), sensitive=_flag(data, "sensitive"),
        )
        table_dto = await catalog_service.table(connection.id, table)
        return Template(template_name="catalog/_column.html",
                        context={"user": current_user(request), "connection": connection, "t": table_dto,
                                 "c": updated, "saved": True})


page_routes = [ConnectionPages, CatalogPages]
