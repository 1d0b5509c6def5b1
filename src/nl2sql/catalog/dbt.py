"""Reading a dbt project's artifacts (`manifest.json`, and `catalog.json`, `semantic_manifest.json` when present)
into what the catalog keeps: table and column descriptions, join hints (`relationships` tests, entities), known
values (`accepted_values` tests), metrics (dbt metrics and measures) and segments (boolean dimensions).

Pure: dicts in, plain data out. What has no counterpart here (a cumulative or conversion metric, a median, a
metric filter on a dimension no semantic model defines) is listed with the reason, never dropped silently.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from nl2sql.errors import ValidationFailed

__all__ = ["DbtModel", "DbtProject", "read_dbt"]

_AGGS = {"sum": "sum", "count": "count", "count_distinct": "count_distinct", "average": "avg", "avg": "avg",
         "min": "min", "max": "max"}
_TEMPLATE = re.compile(r"\{\{\s*(Dimension|TimeDimension|Entity)\(\s*'([^']+)'[^)]*\)\s*\}\}")
_REF = re.compile(r"ref\(\s*['\"]([^'\"]+)['\"]\s*\)")


@dataclass
class DbtModel:
    """A model, seed or source: the relation it builds (schema, name) and what its YAML says about it."""

    unique_id: str
    schema: str
    name: str
    description: str = ""
    columns: dict[str, str] = field(default_factory=dict)  # column -> description
    accepted: dict[str, list[str]] = field(default_factory=dict)  # column -> accepted values


@dataclass
class DbtProject:
    models: list[DbtModel] = field(default_factory=list)
    # (child unique_id, child column, parent unique_id, parent column)
    relationships: list[tuple[str, str, str, str]] = field(default_factory=list)
    # metrics and segments as the catalog's specs, their tables named by unique_id in "{{node:ID}}" until mapped
    metrics: list[dict[str, Any]] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)


def _model(node: dict[str, Any]) -> DbtModel:
    name = node.get("alias") or node.get("identifier") or node.get("name") or ""
    raw = node.get("columns") if isinstance(node.get("columns"), dict) else {}
    columns = {str(c.get("name", k)): str(c.get("description") or "").strip()
               for k, c in raw.items() if isinstance(c, dict)}
    return DbtModel(node.get("unique_id", ""), node.get("schema") or "", name, (node.get("description") or "").strip(),
                    columns)


def _comments(catalog: Any, by_id: dict[str, DbtModel]) -> None:
    """catalog.json's database comments, where the manifest describes nothing."""
    if not isinstance(catalog, dict):
        return
    for uid, entry in ((catalog.get("nodes") or {}) | (catalog.get("sources") or {})).items():
        model = by_id.get(uid)
        if model is None:
            continue
        model.description = model.description or ((entry.get("metadata") or {}).get("comment") or "").strip()
        for name, column in (entry.get("columns") or {}).items():
            if not model.columns.get(name) and (column.get("comment") or "").strip():
                model.columns[name] = column["comment"].strip()


def _tests(nodes: dict[str, Any], project: DbtProject, by_id: dict[str, DbtModel]) -> None:
    for node in nodes.values():
        if not isinstance(node, dict) or node.get("resource_type") != "test":
            continue
        meta = node.get("test_metadata") or {}
        kwargs = meta.get("kwargs") or {}
        column = node.get("column_name") or kwargs.get("column_name") or ""
        attached = node.get("attached_node") or next(iter((node.get("depends_on") or {}).get("nodes") or []), "")
        if meta.get("name") == "accepted_values" and attached in by_id and column:
            by_id[attached].accepted[column] = [str(v) for v in kwargs.get("values") or []]
        elif meta.get("name") == "relationships" and attached in by_id and column:
            parents = [n for n in (node.get("depends_on") or {}).get("nodes") or [] if n != attached]
            target = _REF.search(str(kwargs.get("to") or ""))
            parent = next((p for p in parents if target is None or p.split(".")[-1] == target.group(1)),
                          parents[0] if parents else None)
            if parent in by_id and kwargs.get("field"):
                project.relationships.append((attached, column, parent, str(kwargs["field"])))


def read_dbt(manifest: Any, catalog: Any = None, semantic_manifest: Any = None) -> DbtProject:
    """The project as the catalog can use it; ValidationFailed when `manifest` is not a dbt manifest."""
    if not isinstance(manifest, dict) or not isinstance(manifest.get("nodes"), dict):
        raise ValidationFailed("manifest.json must be dbt's manifest: a JSON object with \"nodes\"")
    project = DbtProject()
    by_id: dict[str, DbtModel] = {}
    sources = manifest.get("sources") if isinstance(manifest.get("sources"), dict) else {}
    for node in [*manifest["nodes"].values(), *sources.values()]:
        if isinstance(node, dict) and node.get("resource_type") in ("model", "seed", "snapshot", "source"):
            model = _model(node)
            project.models.append(model)
            by_id[model.unique_id] = model
    _comments(catalog, by_id)
    _tests(manifest["nodes"], project, by_id)
    semantic = semantic_manifest if isinstance(semantic_manifest, dict) else {}
    models = semantic.get("semantic_models") or _values(manifest.get("semantic_models"))
    metrics = semantic.get("metrics") or _values(manifest.get("metrics"))
    try:
        _semantic([m for m in models if isinstance(m, dict)], [m for m in metrics if isinstance(m, dict)],
                  project, by_id)
    except (KeyError, TypeError, AttributeError) as error:
        raise ValidationFailed(f"the semantic models or metrics are not dbt's: {error!r} is missing or malformed") \
            from None
    return project


def _values(found: Any) -> list[Any]:
    if isinstance(found, dict):
        return list(found.values())
    return list(found) if isinstance(found, list) else []


# -- semantic models and metrics ---------------------------------------------------------------------------------


@dataclass
class _Semantic:
    name: str
    table: str  # "{{node:ID}}": the model's relation, mapped to a catalog table later
    dimensions: dict[str, dict[str, Any]]
    measures: dict[str, dict[str, Any]]
    primary: str | None
    primary_expr: str | None
    time: str | None


def _relation(model: dict[str, Any], by_id: dict[str, DbtModel]) -> str | None:
    relation = model.get("node_relation") or {}
    alias, schema = relation.get("alias"), relation.get("schema_name")
    found = next((m for m in by_id.values() if m.name == alias and (not schema or m.schema == schema)), None)
    if found is None:
        ref = _REF.search(str(model.get("model") or ""))
        found = next((m for m in by_id.values() if ref and m.unique_id.split(".")[-1] == ref.group(1)), None)
    return None if found is None else "{{node:" + found.unique_id + "}}"


def _semantic(models: list[dict], metrics: list[dict], project: DbtProject, by_id: dict[str, DbtModel]) -> None:
    read: list[_Semantic] = []
    for model in models:
        table = _relation(model, by_id)
        if table is None:
            project.unsupported.append(f"semantic model {model.get('name')!r}: its model is not in the manifest")
            continue
        entities = model.get("entities") or []
        primary = next((e for e in entities if e.get("type") in ("primary", "unique", "natural")), None)
        read.append(_Semantic(model.get("name", ""), table,
                              {d["name"]: d for d in model.get("dimensions") or []},
                              {m["name"]: m for m in model.get("measures") or []},
                              primary.get("name") if primary else None,
                              (primary.get("expr") or primary.get("name")) if primary else None,
                              (model.get("defaults") or {}).get("agg_time_dimension")))
        for entity in entities:
            if entity.get("type") == "foreign":
                project.relationships.append((table, entity.get("expr") or entity["name"], "", entity["name"]))
        for dimension in model.get("dimensions") or []:
            expr = dimension.get("expr") or dimension["name"]
            if dimension.get("type") == "categorical" and re.match(r"^(is|has)_\w+$", expr):
                words = dimension["name"].split("_")[1:]
                project.metrics.append({"kind": "segment", "name": " ".join(words), "expression": f"{table}.{expr}",
                                        "synonyms": [], "description": dimension.get("description") or ""})
    measures = {name: (s, m) for s in read for name, m in s.measures.items()}
    seen: set[str] = set()
    for metric in metrics:
        spec = _metric(metric, measures, read)
        if isinstance(spec, str):
            project.unsupported.append(f"metric {metric.get('name')!r}: {spec}")
        else:
            project.metrics.append(spec)
            seen.add(spec["name"])
    for name, (s, m) in measures.items():
        if m.get("create_metric") and name not in seen:
            spec = _measure_metric(name, s, m, m.get("description") or "")
            (project.metrics.append(spec) if isinstance(spec, dict)
             else project.unsupported.append(f"measure {name!r}: {spec}"))
    # a foreign entity joins the semantic model whose primary entity has its name
    resolved = []
    for child, column, parent, entity in project.relationships:
        if parent:
            resolved.append((child, column, parent, entity))
            continue
        owner = next((s for s in read if s.primary == entity), None)
        if owner is not None and owner.table != child:
            resolved.append((child, column, owner.table, owner.primary_expr or entity))
    project.relationships = resolved


def _formula(s: _Semantic, measure: dict[str, Any]) -> str | None:
    agg = _AGGS.get(str(measure.get("agg") or ""))
    if agg is None:
        return None
    expr = str(measure.get("expr") or measure["name"])
    if expr.strip() == "1" and agg in ("sum", "count"):
        return "count(*)"
    column = expr if not re.fullmatch(r"\w+", expr) else f"{s.table}.{expr}"
    return f"count(distinct {column})" if agg == "count_distinct" else f"{agg}({column})"


def _time(s: _Semantic, measure: dict[str, Any]) -> str:
    name = measure.get("agg_time_dimension") or s.time
    dimension = s.dimensions.get(name or "")
    return f"{s.table}.{dimension.get('expr') or dimension['name']}" if dimension else ""


def _measure_metric(name: str, s: _Semantic, measure: dict[str, Any], description: str) -> dict[str, Any] | str:
    formula = _formula(s, measure)
    if formula is None:
        return f"aggregation {measure.get('agg')!r} can't be expressed"
    return {"kind": "metric", "name": name.replace("_", " "), "expression": formula, "filters": [],
            "time_column": _time(s, measure), "synonyms": [name] if "_" in name else [], "description": description,
            "format": "plain"}


def _where(raw: Any, read: list[_Semantic]) -> list[str] | str:
    """A dbt filter's SQL templates with each Dimension('entity__name') as the column it stands for."""
    filters = raw.get("where_filters") if isinstance(raw, dict) else raw
    out = []
    for item in filters or []:
        text = item.get("where_sql_template") if isinstance(item, dict) else str(item)
        problem = []

        def column(match: re.Match) -> str:
            entity, _, name = match.group(2).rpartition("__")
            for s in read:
                if s.primary == entity or (not entity and name in s.dimensions):
                    d = s.dimensions.get(name)
                    if d is not None:
                        return f"{s.table}.{d.get('expr') or d['name']}"
            problem.append(match.group(2))
            return match.group(0)

        sql = " ".join(_TEMPLATE.sub(column, text or "").split())
        if problem:
            return f"its filter names {', '.join(problem)}, which no semantic model defines"
        out.append(sql)
    return out


def _metric(metric: dict[str, Any], measures: dict, read: list[_Semantic]) -> dict[str, Any] | str:
    kind = metric.get("type")
    params = metric.get("type_params") or {}
    name = str(metric.get("name") or "")
    filters = _where(metric.get("filter"), read)
    if isinstance(filters, str):
        return filters
    spec: dict[str, Any] = {"kind": "metric", "name": name.replace("_", " "), "filters": filters,
                            "synonyms": [name] if "_" in name else [], "format": "plain",
                            "description": (metric.get("description") or metric.get("label") or "").strip()}
    if kind == "simple":
        ref = params.get("measure") or {}
        measure = measures.get(ref.get("name") if isinstance(ref, dict) else ref)
        if measure is None:
            return "its measure is in no semantic model"
        part = _where(ref.get("filter") if isinstance(ref, dict) else None, read)
        if isinstance(part, str):
            return part
        formula = _formula(measure[0], measure[1])
        if formula is None:
            return f"aggregation {measure[1].get('agg')!r} can't be expressed"
        return spec | {"expression": formula, "filters": filters + part, "time_column": _time(*measure)}
    if kind == "ratio":
        parts = [params.get("numerator"), params.get("denominator")]
        if any(isinstance(p, dict) and p.get("filter") for p in parts):
            return "a filter on one side of a ratio can't be expressed (define that side as a metric of its own)"
        names = [p.get("name") if isinstance(p, dict) else p for p in parts]
        return spec | {"expression": f"{names[0]} / {names[1]}", "time_column": ""}
    if kind == "derived":
        expr = str(params.get("expr") or "")
        for ref in params.get("metrics") or []:
            if ref.get("filter") or ref.get("offset_window"):
                return "a derived metric's filtered or offset inputs can't be expressed"
            if ref.get("alias"):
                expr = re.sub(rf"\b{re.escape(ref['alias'])}\b", ref["name"], expr)
        return spec | {"expression": expr, "time_column": ""}
    return f"{kind} metrics can't be expressed (simple, ratio and derived can)"
