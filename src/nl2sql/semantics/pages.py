"""The page that shows what the product understood of a connection, and lets an admin correct it."""

from __future__ import annotations

from typing import Annotated, Any

import json

from litestar import Controller, Request, get, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Template

from nl2sql.auth import current_user, requires_admin, requires_user
from nl2sql.catalog import AGGREGATES, COLUMN_ROLES, CatalogService, PromptSchema
from nl2sql.errors import AppError, ValidationFailed
from nl2sql.semantics.lexicon import ABBREVIATIONS, identifier_words, stem
from nl2sql.semantics.model import SemanticModel, build_semantic_model
from nl2sql.web import IMPORT_MAX_BYTES, render

Form = Body(media_type=RequestEncodingType.URL_ENCODED)
Upload = Body(media_type=RequestEncodingType.MULTI_PART)


def _text(data: dict[str, Any], key: str) -> str:
    value = data.get(key, "")
    if isinstance(value, list):
        value = value[-1] if value else ""
    return str(value or "").strip()


def written_words(stems: tuple[str, ...], name: str) -> tuple[str, ...]:
    """The reader's stems of a name as a person writes them: each stem as the name's own word ("citi" -> city,
    "activ" -> active), an abbreviation spelt out ("qty" -> quantity)."""
    tokens = identifier_words(name)
    out = []
    for word_stem in stems:
        word = next((ABBREVIATIONS.get(t, t) for t in tokens if stem(t) == word_stem), None)
        out.append(word or _piece(name.lower(), word_stem) or word_stem)
    return tuple(out)


def _piece(name: str, word_stem: str) -> str | None:
    """The longest run of letters in a name written as one run ("unitprice") whose stem is `word_stem`."""
    letters = "".join(ch for ch in name if ch.isalpha())
    for size in range(min(len(letters), 24), 1, -1):
        for start in range(len(letters) - size + 1):
            piece = letters[start:start + size]
            if stem(piece) == word_stem:
                return ABBREVIATIONS.get(piece, piece)
    return None


def answers_to(model: SemanticModel, schema: PromptSchema) -> dict[str, dict[str, tuple[str, ...]]]:
    """What each table ("" key) and column answers to, in the words people wrote: the name's words (as the reader
    splits it), then the business name and synonyms as the admin typed them."""
    out: dict[str, dict[str, tuple[str, ...]]] = {}
    for table in schema.tables:
        entity = model.entities.get(table.qualified_name)
        if entity is None:
            continue
        by_column = {c.name: c for c in table.columns}
        shown = {"": _distinct(" ".join(written_words(entity.words, table.name)), table.business_name,
                               *table.synonyms)}
        for attribute in entity.attributes:
            column = by_column.get(attribute.name)
            extra = (column.business_name, *column.synonyms) if column is not None else ()
            shown[attribute.name] = _distinct(" ".join(written_words(attribute.words, attribute.name)), *extra)
        out[table.qualified_name] = shown
    return out


def _distinct(*phrases: str) -> tuple[str, ...]:
    seen: dict[str, str] = {}
    for phrase in phrases:
        text = " ".join((phrase or "").split())
        if text and text.lower() not in seen:
            seen[text.lower()] = text
    return tuple(seen.values())


class SemanticsPages(Controller):
    path = "/connections/{name:str}/semantics"
    include_in_schema = False
    guards = [requires_user]

    async def _context(self, request: Request, catalog: CatalogService, name: str, **extra: Any) -> dict[str, Any]:
        user = current_user(request)
        connection = await catalog.visible_connection(user, name)
        schema = await catalog.schema_for_user(connection.id, user)
        model: SemanticModel = build_semantic_model(schema)
        stored = {t.qualified_name: t for t in schema.tables}
        return {"user": user, "connection": connection, "model": model, "stored": stored, "roles": COLUMN_ROLES,
                "aggregates": AGGREGATES, "answers_to": answers_to(model, schema), "message": None,
                "error": None, "metrics": schema.metrics, "trial": None, "dbt_report": None,
                "value_words": [(t.qualified_name, c.name, c.value_synonyms) for t in schema.tables
                                for c in t.columns if c.value_synonyms]} | extra

    @get("/")
    async def show(self, request: Request, catalog_service: CatalogService, name: str) -> Template:
        return render(request, "semantics/model.html", await self._context(request, catalog_service, name))

    @post("/columns", guards=[requires_admin])
    async def correct_column(
        self, request: Request, catalog_service: CatalogService, name: str, data: Annotated[dict[str, Any], Form]
    ) -> Template:
        connection = await catalog_service.get_connection(name)
        table, column = _text(data, "table"), _text(data, "column")
        try:
            await catalog_service.update_column(
                current_user(request), connection.id, table, column,
                semantics={"role": _text(data, "role"), "aggregate": _text(data, "aggregate")})
        except AppError as exc:
            ctx = await self._context(request, catalog_service, name, error=exc.detail)
            return render(request, "semantics/model.html", ctx, status_code=exc.status_code)
        ctx = await self._context(request, catalog_service, name, message=f"Saved {table}.{column}.")
        return render(request, "semantics/model.html", ctx)

    @post("/tables", guards=[requires_admin])
    async def correct_table(
        self, request: Request, catalog_service: CatalogService, name: str, data: Annotated[dict[str, Any], Form]
    ) -> Template:
        connection = await catalog_service.get_connection(name)
        table = _text(data, "table")
        try:
            await catalog_service.update_table(
                current_user(request), connection.id, table,
                semantics={"label": _text(data, "label"), "time": _text(data, "time")})
        except AppError as exc:
            ctx = await self._context(request, catalog_service, name, error=exc.detail)
            return render(request, "semantics/model.html", ctx, status_code=exc.status_code)
        ctx = await self._context(request, catalog_service, name, message=f"Saved {table}.")
        return render(request, "semantics/model.html", ctx)


    # the semantic layer: metrics and segments ------------------------------------------------------------------

    async def _layer_done(self, request: Request, catalog: CatalogService, name: str, action) -> Template:
        """Run one change of the layer; the page again with what it did, or with the reason it was refused."""
        try:
            extra = await action()
        except AppError as exc:
            ctx = await self._context(request, catalog, name, error=exc.detail)
            return render(request, "semantics/model.html", ctx, status_code=exc.status_code)
        return render(request, "semantics/model.html", await self._context(request, catalog, name, **extra))

    @post("/metrics", guards=[requires_admin])
    async def add_metric(
        self, request: Request, catalog_service: CatalogService, name: str, data: Annotated[dict[str, Any], Form]
    ) -> Template:
        connection = await catalog_service.get_connection(name)
        spec = {key: _text(data, key) for key in ("kind", "name", "expression", "filters", "time_column", "synonyms",
                                                   "description", "format")}

        async def action() -> dict[str, Any]:
            saved = await catalog_service.add_metric(current_user(request), connection.id, spec)
            return {"message": f"Saved the {saved.kind} {saved.name!r}: it was tried on the data first."}

        return await self._layer_done(request, catalog_service, name, action)

    @post("/metrics/{metric_id:int}/delete", guards=[requires_admin])
    async def delete_metric(self, request: Request, catalog_service: CatalogService, name: str, metric_id: int) -> Template:
        connection = await catalog_service.get_connection(name)

        async def action() -> dict[str, Any]:
            await catalog_service.delete_metric(current_user(request), connection.id, metric_id)
            return {"message": "Deleted."}

        return await self._layer_done(request, catalog_service, name, action)

    @post("/metrics/{metric_id:int}/try", guards=[requires_admin])
    async def try_metric(self, request: Request, catalog_service: CatalogService, name: str, metric_id: int) -> Template:
        connection = await catalog_service.get_connection(name)

        async def action() -> dict[str, Any]:
            stored = await catalog_service.get_metric(connection.id, metric_id)
            _, found = await catalog_service.check_metric(connection.id, stored.spec(), metric_id)
            return {"trial": found} if hasattr(found, "sql") else {"message": f"{stored.name}: {found}"}

        return await self._layer_done(request, catalog_service, name, action)

    @post("/value-synonyms", guards=[requires_admin])
    async def set_value_synonyms(
        self, request: Request, catalog_service: CatalogService, name: str, data: Annotated[dict[str, Any], Form]
    ) -> Template:
        connection = await catalog_service.get_connection(name)
        table, column = _text(data, "table"), _text(data, "column")

        async def action() -> dict[str, Any]:
            kept = await catalog_service.set_value_synonyms(current_user(request), connection.id, table, column,
                                                            value_lines(_text(data, "synonyms")))
            return {"message": f"Saved the words for {len(kept)} value(s) of {table}.{column}."}

        return await self._layer_done(request, catalog_service, name, action)

    @post("/dbt", guards=[requires_admin], request_max_body_size=IMPORT_MAX_BYTES)
    async def import_dbt(
        self, request: Request, catalog_service: CatalogService, name: str, data: Annotated[dict[str, Any], Upload]
    ) -> Template:
        async def action() -> dict[str, Any]:
            files = {key: await _json_upload(data, key, required=key == "manifest")
                     for key in ("manifest", "catalog", "semantic_manifest")}
            report = await catalog_service.import_dbt(current_user(request), name, files["manifest"], files["catalog"],
                                                      files["semantic_manifest"])
            return {"dbt_report": report,
                    "message": f"Imported into the draft {report.draft}: try it and publish it on its draft page."}

        return await self._layer_done(request, catalog_service, name, action)


def value_lines(text: str) -> dict[str, list[str]]:
    """ "CA = California, Calif." lines as {value: [words]}; a line without "=" is refused."""
    out: dict[str, list[str]] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        value, sep, words = line.partition("=")
        if not sep or not value.strip():
            raise ValidationFailed(f"line {number}: write the value, '=', then the words for it (CA = California)")
        out[value.strip()] = [w.strip() for w in words.split(",") if w.strip()]
    return out


async def _json_upload(data: dict[str, Any], key: str, *, required: bool) -> Any:
    upload = data.get(key)
    if not isinstance(upload, UploadFile) or not upload.filename:
        if required:
            raise ValidationFailed(f"choose dbt's {key}.json (in the project's target/ folder)")
        return None
    try:
        return json.loads((await upload.read()).decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ValidationFailed(f"{upload.filename} is not a JSON file") from None


page_routes = [SemanticsPages]
