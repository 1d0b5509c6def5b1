"""The admin's semantic layer of a connection: metrics and segments (checked against the data before they are
stored), value synonyms per column, and the import of a dbt project's definitions into a knowledge draft."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import anyio
import sqlalchemy as sa

from nl2sql.auth import User
from nl2sql.catalog.base import CatalogCore
from nl2sql.catalog import dbt
from nl2sql.catalog.dto import METRIC_FORMATS, METRIC_KINDS, DbtReport, Metric
from nl2sql.catalog.models import ColumnRow, MetricRow, TableRow
from nl2sql.catalog.transfer import MetadataImport, MetadataPatch
from nl2sql.catalog.rows import to_metric
from nl2sql.db import utcnow
from nl2sql.errors import AppError, ConflictError, NotFoundError, UnavailableError, ValidationFailed

def metric_fields(spec: dict[str, Any]) -> dict[str, Any]:
    """An admin's metric or segment, checked for shape (not yet against the data)."""
    if not isinstance(spec, dict):
        raise ValidationFailed("a metric must be an object")
    kind = str(spec.get("kind") or "metric")
    if kind not in METRIC_KINDS:
        raise ValidationFailed(f"kind must be one of {', '.join(METRIC_KINDS)}")
    name = " ".join(str(spec.get("name") or "").split())
    if not name or len(name) > 100:
        raise ValidationFailed("a name of 1 to 100 characters is needed")
    expression = str(spec.get("expression") or "").strip()
    if not expression or len(expression) > 2000:
        raise ValidationFailed("the " + ("formula" if kind == "metric" else "condition") + " is empty or too long")
    fmt = str(spec.get("format") or "plain")
    if fmt not in METRIC_FORMATS:
        raise ValidationFailed(f"format must be one of {', '.join(METRIC_FORMATS)}")

    def texts(key: str) -> tuple[str, ...]:
        value = spec.get(key) or []
        if isinstance(value, str):
            value = [v for v in value.replace("\n", ",").split(",")] if key == "synonyms" else value.splitlines()
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise ValidationFailed(f"{key} must be a list of texts")
        return tuple(v.strip() for v in value if v.strip())

    return {"kind": kind, "name": name, "expression": expression, "filters": texts("filters"),
            "time_column": str(spec.get("time_column") or "").strip(), "synonyms": texts("synonyms"),
            "description": str(spec.get("description") or "").strip(), "format": fmt}


class LayerPart(CatalogCore):
    """Metrics, segments and value synonyms."""

    async def metrics(self, connection_id: int, kind: str | None = None) -> list[Metric]:
        query = sa.select(MetricRow).where(MetricRow.connection_id == connection_id)
        if kind:
            query = query.where(MetricRow.kind == kind)
        async with self._sessions() as db:
            return [to_metric(r) for r in await db.scalars(query.order_by(MetricRow.kind, MetricRow.name))]

    async def get_metric(self, connection_id: int, metric_id: int) -> Metric:
        async with self._sessions() as db:
            row = await db.get(MetricRow, metric_id)
            if row is None or row.connection_id != connection_id:
                raise NotFoundError(f"no metric {metric_id}")
            return to_metric(row)

    async def check_metric(self, connection_id: int, spec: dict[str, Any], metric_id: int = 0) -> tuple[Metric, Any]:
        """The metric as it would be stored and what its check found, or ValidationFailed with the reason."""
        fields = metric_fields(spec)
        metric = Metric(metric_id, connection_id, **fields)
        schema = await self.schema_for_prompt(connection_id)  # type: ignore[attr-defined]
        others = tuple(m for m in schema.metrics if m.id != metric_id and not (m.kind == metric.kind and m.name == metric.name))
        schema = dataclasses.replace(schema, metrics=others + (metric,))
        try:
            engine = await self.engine(connection_id)
        except UnavailableError as exc:
            raise ValidationFailed(f"the metric can't be tried: {exc.detail}") from None
        check = self._metric_check
        try:
            found = await anyio.to_thread.run_sync(lambda: check(metric, schema, engine))
        except ValidationFailed:
            raise
        except AppError as exc:
            raise ValidationFailed(exc.detail) from None
        return metric, found

    async def add_metric(self, actor: User | None, connection_id: int, spec: dict[str, Any]) -> Metric:
        metric, _ = await self.check_metric(connection_id, spec)
        now = utcnow()
        async with self._change(connection_id) as change:
            db = change.db
            await self._refuse_same_name(db, connection_id, metric)
            row = MetricRow(connection_id=connection_id, **_row_fields(metric), created_at=now, updated_at=now)
            db.add(row)
            await db.flush()
            change.audit(actor, f"catalog.{metric.kind}.create", f"connection:{connection_id}/{metric.kind}:{row.id}",
                         after=metric.spec())
            result = to_metric(row)
        return result

    async def update_metric(self, actor: User | None, connection_id: int, metric_id: int, spec: dict[str, Any]) -> Metric:
        metric, _ = await self.check_metric(connection_id, spec, metric_id)
        async with self._change(connection_id) as change:
            db = change.db
            row = await db.get(MetricRow, metric_id)
            if row is None or row.connection_id != connection_id:
                raise NotFoundError(f"no metric {metric_id}")
            await self._refuse_same_name(db, connection_id, metric, metric_id)
            before = to_metric(row).spec()
            for key, value in _row_fields(metric).items():
                setattr(row, key, value)
            row.updated_at = utcnow()
            change.audit(actor, f"catalog.{metric.kind}.update", f"connection:{connection_id}/{metric.kind}:{row.id}",
                         before, metric.spec())
            result = to_metric(row)
        return result

    async def delete_metric(self, actor: User | None, connection_id: int, metric_id: int) -> None:
        async with self._change(connection_id) as change:
            db = change.db
            row = await db.get(MetricRow, metric_id)
            if row is None or row.connection_id != connection_id:
                raise NotFoundError(f"no metric {metric_id}")
            change.audit(actor, f"catalog.{row.kind}.delete", f"connection:{connection_id}/{row.kind}:{row.id}",
                         before=to_metric(row).spec())
            await db.delete(row)

    async def set_value_synonyms(self, actor: User | None, connection_id: int, table: str, column: str,
                                 synonyms: dict[str, Any]) -> dict[str, tuple[str, ...]]:
        """Replace a column's value synonyms ({value: [words]}); an empty mapping clears them."""
        if not isinstance(synonyms, dict):
            raise ValidationFailed("value synonyms must map each value to a list of words")
        clean: dict[str, list[str]] = {}
        for value, words in synonyms.items():
            if isinstance(words, str):
                words = words.split(",")
            if not isinstance(words, list | tuple) or not all(isinstance(w, str) for w in words):
                raise ValidationFailed(f"the synonyms of {value!r} must be a list of words")
            kept = [" ".join(w.split()) for w in words if w.strip()]
            if str(value).strip() and kept:
                clean[str(value).strip()] = kept
        async with self._change(connection_id) as change:
            db = change.db
            table_row = await self._table_row(db, connection_id, table)
            row = await db.scalar(sa.select(ColumnRow).where(ColumnRow.table_id == table_row.id,
                                                             ColumnRow.name == column))
            if row is None:
                raise NotFoundError(f"no column {column!r} in {table}")
            before = dict(row.value_synonyms or {})
            if before != clean:
                row.value_synonyms = clean
                change.audit(actor, "catalog.value_synonyms.update", f"connection:{connection_id}/column:{row.id}",
                             before, clean)
        return {k: tuple(v) for k, v in clean.items()}

    async def _import_metrics(self, actor: User | None, connection_id: int, specs: list[dict[str, Any]],
                              ) -> tuple[int, list[tuple[int, str]]]:
        """Add or replace (by kind and name) each metric; one refused is an error of its position, not the end."""
        existing = {(m.kind, m.name.lower()): m for m in await self.metrics(connection_id)}
        added, errors = 0, []
        for number, spec in enumerate(specs, 1):
            try:
                key = (str(spec.get("kind") or "metric"), " ".join(str(spec.get("name") or "").split()).lower())
                if key in existing:
                    await self.update_metric(actor, connection_id, existing[key].id, spec)
                else:
                    await self.add_metric(actor, connection_id, spec)
                added += 1
            except (ValidationFailed, ConflictError) as exc:
                errors.append((number, f"{spec.get('kind') or 'metric'} {spec.get('name')!r}: {exc.detail}"))
        return added, errors

    # dbt ---------------------------------------------------------------------------------------------------

    async def import_dbt(self, actor: User | None, name: str, manifest: Any, catalog: Any = None,
                         semantic_manifest: Any = None) -> DbtReport:
        """Put a dbt project's descriptions, relationships, accepted values, metrics and segments into the
        connection's knowledge draft (taken now unless it has one), to try and publish like any draft. Models map
        to tables by name (schema-aware); when none does, nothing is applied and ValidationFailed says so."""
        project = dbt.read_dbt(manifest, catalog, semantic_manifest)
        async with self._sessions() as db:
            live = await self._row_by_name(db, name)
            self._refuse_draft(live, "the target of a dbt import (import into the live connection's name)")
            rows = (await db.scalars(sa.select(TableRow).where(TableRow.connection_id == live.id))).all()
        refs = {(r.schema or "", r.name): (f"{r.schema}.{r.name}" if r.schema else r.name) for r in rows}
        mapped, unmapped = _map_models(project.models, refs)
        if not mapped:
            listed = ", ".join(f"{m.schema}.{m.name}" if m.schema else m.name for m in project.models[:12])
            raise ValidationFailed(f"none of the {len(project.models)} dbt models, seeds and sources matches a table "
                                   f"of {name}, so nothing was applied (dbt builds: {listed or 'nothing'})")
        draft = await self.draft_of(name) or await self.create_draft(actor, name)  # type: ignore[attr-defined]
        draft_id = draft.connection.id
        models = {m.unique_id: m for m in project.models}
        patches = [MetadataPatch(mapped[uid], None, {"description": models[uid].description})
                   for uid in mapped if models[uid].description]
        patches += [MetadataPatch(mapped[uid], column, {"description": text}) for uid in mapped
                    for column, text in models[uid].columns.items() if text]
        hints = [{"left_table": mapped[a], "right_table": mapped[b], "pairs": [[ca, cb]], "note": "dbt relationship"}
                 for a, ca, b, cb in (_node(x) for x in project.relationships) if a in mapped and b in mapped]
        applied = await self._apply_metadata(actor, draft_id, MetadataImport(patches, hints), "dbt")  # type: ignore[attr-defined]
        known = await self._known_values(actor, draft_id, {(mapped[uid], c): v for uid in mapped
                                                            for c, v in models[uid].accepted.items()})
        specs, unmapped_specs = _specs_on_tables(project.metrics, mapped)
        _, errors = await self._import_metrics(actor, draft_id, specs)
        failed = {number for number, _ in errors}
        kept = [spec["kind"] for number, spec in enumerate(specs, 1) if number not in failed]
        hinted = next((int(m.group(1)) for note in applied.notes if (m := re.match(r"(\d+) join hint", note))), 0)
        return DbtReport(
            draft=draft.connection.name,
            tables_described=sum(1 for p in patches if p.column is None),
            columns_described=sum(1 for p in patches if p.column is not None),
            join_hints=hinted, known_values=known, metrics=kept.count("metric"), segments=kept.count("segment"),
            # a documented column the model no longer builds is a name that maps to nothing, too
            unmapped=tuple(unmapped + unmapped_specs + [reason for _, reason in applied.errors]),
            refused=tuple(reason for _, reason in errors),
            unsupported=tuple(project.unsupported))

    async def _known_values(self, actor: User | None, connection_id: int,
                            accepted: dict[tuple[str, str], list[str]]) -> int:
        """dbt's accepted values as a column's known values, where sync sampled none (never on a sensitive one)."""
        count = 0
        async with self._change(connection_id) as change:
            for (ref, column), values in accepted.items():
                table = await self._table_row(change.db, connection_id, ref)
                row = await change.db.scalar(sa.select(ColumnRow).where(ColumnRow.table_id == table.id,
                                                                        ColumnRow.name == column))
                if row is None or row.sensitive or row.distinct_values or not values:
                    continue
                row.distinct_values = sorted(values)
                change.audit(actor, "catalog.column.update", f"connection:{connection_id}/column:{row.id}",
                             after={"distinct_values": row.distinct_values, "source": "dbt accepted_values"})
                count += 1
        return count

    @staticmethod
    async def _refuse_same_name(db, connection_id: int, metric: Metric, except_id: int | None = None) -> None:
        found = await db.scalar(sa.select(MetricRow.id).where(
            MetricRow.connection_id == connection_id, MetricRow.kind == metric.kind,
            sa.func.lower(MetricRow.name) == metric.name.lower()))
        if found is not None and found != except_id:
            raise ConflictError(f"{metric.kind} #{found} is already named {metric.name!r}: edit that one instead")


def _row_fields(metric: Metric) -> dict[str, Any]:
    spec = metric.spec()
    spec.pop("kind")
    return {"kind": metric.kind, **spec}


def _map_models(models: list[dbt.DbtModel], refs: dict[tuple[str, str], str]) -> tuple[dict[str, str], list[str]]:
    """dbt unique_id -> the catalog's table ref, by schema and name (case aside), else by a name only one table
    has; the models that match nothing, for the report."""
    exact = {(s.lower(), n.lower()): ref for (s, n), ref in refs.items()}
    by_name: dict[str, list[str]] = {}
    for (_, n), ref in refs.items():
        by_name.setdefault(n.lower(), []).append(ref)
    mapped, unmapped = {}, []
    for model in models:
        ref = exact.get((model.schema.lower(), model.name.lower()))
        if ref is None and len(by_name.get(model.name.lower(), [])) == 1:
            ref = by_name[model.name.lower()][0]
        if ref is None:
            unmapped.append(f"{model.unique_id}: no table {model.schema + '.' if model.schema else ''}{model.name}")
        else:
            mapped[model.unique_id] = ref
    return mapped, unmapped


def _node(relationship: tuple[str, str, str, str]) -> tuple[str, str, str, str]:
    """A relationship with its tables as unique_ids (semantic models name them "{{node:ID}}")."""
    a, ca, b, cb = relationship
    strip = lambda x: x[7:-2] if x.startswith("{{node:") else x  # noqa: E731
    return strip(a), ca, strip(b), cb


def _specs_on_tables(specs: list[dict[str, Any]], mapped: dict[str, str]) -> tuple[list[dict[str, Any]], list[str]]:
    """Metric and segment specs with each "{{node:ID}}" as its catalog table; those naming an unmapped model
    are listed instead."""
    out, unmapped = [], []
    for spec in specs:
        text = " ".join([spec["expression"], *spec.get("filters", []), spec.get("time_column", "")])
        missing = [uid for uid in _NODE.findall(text) if uid not in mapped]
        if missing:
            unmapped.append(f"{spec['kind']} {spec['name']!r}: its model {missing[0]} matches no table")
            continue

        def on_table(value: str) -> str:
            return _NODE.sub(lambda m: mapped[m.group(1)], value)

        out.append(spec | {"expression": on_table(spec["expression"]),
                           "filters": [on_table(f) for f in spec.get("filters", [])],
                           "time_column": on_table(spec.get("time_column", ""))})
    return out, unmapped


_NODE = re.compile(r"\{\{node:([^}]+)\}\}")
