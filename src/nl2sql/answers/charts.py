"""Semantic charts: read a result's column meanings, choose a chart, and write it as a Vega-Lite spec (data only).

One file because choosing a chart and writing its spec read the same column roles and kinds, and a change to a
kind touches both; the choice is a table of rules, each a screen or less.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

__all__ = [
    "CHART_KINDS",
    "CHART_REFINEMENT_SCHEMA",
    "MAX_CHART_POINTS",
    "ChartChoice",
    "ColumnSemantics",
    "apply_refinement",
    "build_spec",
    "choose_chart",
    "classify_columns",
    "refinement_schema",
]

CHART_KINDS = ("line", "bar", "scatter", "pie", "stacked_bar", "number", "table")
MAX_CHART_POINTS = 5000
# The vendored vega-lite (static/vendor/vega/) is 6.x; specs below use only grammar valid in v5 and v6.
VEGA_LITE_SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json"

MAX_PIE_SLICES = 6
MAX_SWITCH_PIE_SLICES = 12
MAX_COLORS = 20
MAX_BAR_CATEGORIES = 200
MAX_CHART_COLUMNS = 6

_NUMERIC = {"integer", "number"}
_PARTS_WORDS = re.compile(
    r"\b(share|shares|percent|percentage|percentages|proportion|proportions|breakdown|distribution|split|"
    r"composition|fraction|mix|makeup|make-up)\b|%"
)
_SCATTER_WORDS = re.compile(r"\b(vs\.?|versus|against|correlat\w*|relationship|relation|scatter)\b")
_PART_COLUMN = re.compile(r"(share|percent|percentage|pct|proportion|fraction|ratio)")
# Totals stack meaningfully (the stack height is the total); averages or prices do not.
_ADDITIVE_COLUMN = re.compile(r"(count|total|sum|revenue|sales|amount|quantity|qty|orders|units|volume|spend|^n_|num_)")
_MEASURE_COLUMN = re.compile(
    r"(count|orders|total|sum|avg|average|mean|min|max|median|revenue|sales|amount|price|cost|quantity|qty|value|"
    r"spend|profit|margin|rate|score|balance|volume|units|share|percent|pct)"
)
_YEAR_COLUMN = re.compile(r"(^|_|\b)(year|yr|fy)s?($|_|\b)")
_SEQUENCE_COLUMN = re.compile(r"(^|_|\b)(month|quarter|qtr|week|weekday|dow|day|hour|minute)s?($|_|\b)")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}(-\d{2})?$")
_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$")
_YEAR_TEXT = re.compile(r"^\d{4}$")
_SAFE_INTEGER = 2**53


class ChartColumn(Protocol):
    """A result column as sqlguard's ResultColumn describes it: a name and a type label."""

    name: str
    type: str


@dataclass(frozen=True)
class ColumnSemantics:
    """What a result column means for charting: its role, its Vega-Lite type and its spread."""

    name: str
    type: str
    position: int  # the column's index in the result's rows
    role: str  # "temporal", "measure" or "category"
    encoding: str  # Vega-Lite type: temporal, quantitative, nominal or ordinal
    distinct: int
    unique: bool
    identifier: bool = False
    time_unit: str | None = None


@dataclass(frozen=True)
class ChartChoice:
    """The chart for a result: kind, fields, why, the kinds the user may switch to, and the spec (data only)."""

    kind: str
    x: str | None
    y: tuple[str, ...]
    color: str | None
    reason: str
    alternatives: tuple[str, ...]
    spec: dict[str, Any]
    note: str | None = None


CHART_REFINEMENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "kind": {"type": "string", "enum": list(CHART_KINDS)},
        "x": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        "y": {"type": "array", "items": {"type": "string"}, "maxItems": 4},
        "color": {"anyOf": [{"type": "string"}, {"type": "null"}]},
    },
    "required": ["kind", "x", "y", "color"],
    "additionalProperties": False,
}


def refinement_schema(columns: Sequence[ChartColumn]) -> dict[str, Any]:
    """CHART_REFINEMENT_SCHEMA narrowed so field names can only be this result's columns."""
    names = list(dict.fromkeys(_column_name(column) for column in columns))
    if not names:
        return CHART_REFINEMENT_SCHEMA
    field = {"type": "string", "enum": names}
    properties = dict(CHART_REFINEMENT_SCHEMA["properties"])
    properties["x"] = {"anyOf": [field, {"type": "null"}]}
    properties["y"] = {"type": "array", "items": field, "maxItems": 4}
    properties["color"] = {"anyOf": [field, {"type": "null"}]}
    return {**CHART_REFINEMENT_SCHEMA, "properties": properties}


# --- column semantics ------------------------------------------------------------------------------


def classify_columns(columns: Sequence[ChartColumn], rows: Sequence[Sequence[Any]]) -> tuple[ColumnSemantics, ...]:
    """Each column's chart role: temporal (dates, ISO text, years), measure (numbers that aren't ids) or category."""
    named = [(_column_name(column), _column_type(column)) for column in columns]
    keys_so_far = True  # GROUP BY keys come before the aggregates
    result = []
    for index, (name, kind) in enumerate(named):
        values = [row[index] for row in rows if index < len(row) and row[index] is not None]
        distinct = len(set(map(_hashable, values)))
        unique = distinct == len(values)
        numeric_after = sum(1 for _, later in named[index + 1 :] if later in _NUMERIC)
        semantics = _classify(name, kind, index, values, distinct, unique, numeric_after, keys_so_far)
        keys_so_far = keys_so_far and semantics.role != "measure"
        result.append(semantics)
    return tuple(result)


def _classify(name, kind, position, values, distinct, unique, numeric_after, key_position) -> ColumnSemantics:
    lowered = name.lower()
    base = {"name": name, "type": kind, "position": position, "distinct": distinct, "unique": unique}
    if kind in {"date", "datetime"}:
        return ColumnSemantics(**base, role="temporal", encoding="temporal", time_unit=_time_unit(values))
    if kind == "boolean":
        return ColumnSemantics(**base, role="category", encoding="nominal")
    if kind == "text":
        if values and all(_parses_as_time(str(v), lowered) for v in values):
            return ColumnSemantics(**base, role="temporal", encoding="temporal", time_unit=_time_unit(values))
        return ColumnSemantics(**base, role="category", encoding="nominal")
    if kind not in _NUMERIC:
        return ColumnSemantics(**base, role="category", encoding="nominal")
    if _is_identifier(name):
        return ColumnSemantics(**base, role="category", encoding="nominal", identifier=True)
    integral = all(_is_integral(v) for v in values)
    if integral and values and _YEAR_COLUMN.search(lowered) and all(1900 <= float(v) <= 2100 for v in values):
        return ColumnSemantics(**base, role="temporal", encoding="temporal", time_unit="utcyear")
    if integral and values and _SEQUENCE_COLUMN.search(lowered) and all(0 <= float(v) <= 60 for v in values):
        # Month 1-12, hour 0-23: ordered positions in time, not amounts and not dates.
        return ColumnSemantics(**base, role="temporal", encoding="ordinal")
    if _MEASURE_COLUMN.search(lowered):
        return ColumnSemantics(**base, role="measure", encoding="quantitative")
    # A GROUP BY key precedes the aggregates, repeats nowhere and runs in small steps (rating 1..5 before a count);
    # counts and amounts repeat or jump.
    if integral and unique and key_position and numeric_after and 1 < distinct <= 24 and _small_steps(values, distinct):
        return ColumnSemantics(**base, role="category", encoding="ordinal")
    return ColumnSemantics(**base, role="measure", encoding="quantitative")


def _small_steps(values: Sequence[Any], distinct: int) -> bool:
    low, high = min(float(v) for v in values), max(float(v) for v in values)
    return 0 <= low and high <= 100 and high - low + 1 <= distinct * 1.5


def _is_identifier(name: str) -> bool:
    lowered = name.lower()
    if lowered in {"id", "key", "code", "zip", "zipcode", "postcode", "phone"}:
        return True
    if re.search(r"(_| )(id|key|code|zip|zipcode|postcode|phone|number|no)$", lowered):
        return True
    return bool(re.search(r"[a-z](Id|ID|Key|Code)$", name)) or lowered.endswith(("zipcode", "postalcode", "_zip_code"))


def _parses_as_time(text: str, lowered_name: str) -> bool:
    text = text.strip()
    if _ISO_DATE.match(text):
        return _iso_date(text) is not None
    if _ISO_DATETIME.match(text):
        return _iso_datetime(text) is not None
    if _YEAR_TEXT.match(text) and _YEAR_COLUMN.search(lowered_name):
        return 1900 <= int(text) <= 2100
    return False


def _iso_date(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text if len(text) == 10 else f"{text}-01")
    except ValueError:
        return None


def _iso_datetime(text: str) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _as_time(value: Any) -> dt.date | dt.datetime | None:
    """A temporal value as a date (day precision) or datetime; years read as 1 January."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None and value.time() == dt.time(0):
            return value.date()
        return value
    if isinstance(value, dt.date):
        return value
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float, decimal.Decimal)) and _is_integral(value):
        return dt.date(int(value), 1, 1) if 1 <= int(value) <= 9999 else None
    text = str(value).strip()
    if _YEAR_TEXT.match(text):
        return dt.date(int(text), 1, 1)
    if _ISO_DATE.match(text):
        return _iso_date(text)
    parsed = _iso_datetime(text)
    if parsed is not None and parsed.tzinfo is None and parsed.time() == dt.time(0):
        return parsed.date()
    return parsed


def _time_unit(values: Sequence[Any]) -> str | None:
    """The coarsest UTC unit that loses nothing: whole years, months or days; None keeps full datetimes."""
    times = [_as_time(v) for v in values]
    if not times or any(t is None or isinstance(t, dt.datetime) for t in times):
        return None
    if all(t.month == 1 and t.day == 1 for t in times):
        return "utcyear"
    if all(t.day == 1 for t in times):
        return "utcyearmonth"
    return "utcyearmonthdate"


# --- choosing --------------------------------------------------------------------------------------


def choose_chart(question: str, columns: Sequence[ChartColumn], rows: Sequence[Sequence[Any]]) -> ChartChoice:
    """The deterministic chart for a question and its result; "table" when no chart would be honest."""
    semantics = _charted_columns(classify_columns(columns, rows))
    alternatives = _alternatives(semantics, rows)
    kind, x, y, color, reason = _decide(question.lower(), semantics, rows)
    if kind == "table":
        return ChartChoice("table", None, (), None, reason, _with_first("table", alternatives), {"kind": "table"})
    spec, note = _spec(kind, x, y, color, semantics, rows)
    return ChartChoice(kind, x, y, color, reason, _with_first(kind, alternatives), spec, note)


def _decide(question: str, semantics: Sequence[ColumnSemantics], rows: Sequence[Sequence[Any]]):
    if not rows or not semantics:
        return "table", None, (), None, "No rows to chart."
    if len(rows) == 1 and len(semantics) == 1 and semantics[0].type in _NUMERIC:
        return "number", None, (semantics[0].name,), None, "One number: shown as a big-number card."
    temporal = [s for s in semantics if s.role == "temporal"]
    measures = [s for s in semantics if s.role == "measure"]
    categories = [s for s in semantics if s.role == "category"]
    if len(semantics) > MAX_CHART_COLUMNS or len(categories) > 2 or len(temporal) > 1:
        return "table", None, (), None, "Too many dimensions for one chart: shown as a table."
    if not measures:
        return "table", None, (), None, "No numeric measure to plot: shown as a table."
    parts = _parts_of_whole(question, measures, rows, semantics)
    if temporal:
        return _decide_over_time(temporal[0], measures, categories, parts)
    if len(categories) == 1:
        return _decide_by_category(question, categories[0], measures, parts, rows, semantics)
    if len(categories) == 2 and len(measures) == 1:
        measure = measures[0]
        outer, inner = sorted(categories, key=lambda c: -c.distinct)
        if (parts or _ADDITIVE_COLUMN.search(measure.name.lower())) and inner.distinct <= MAX_COLORS:
            reason = f"{_title(measure.name)} by {_words(outer.name)}, stacked by {_words(inner.name)}."
            return "stacked_bar", outer.name, (measure.name,), inner.name, reason
        return "table", None, (), None, "Two categories with a measure that does not add up: shown as a table."
    if not categories and len(measures) >= 2:
        reason = f"Two measures: {_words(measures[1].name)} against {_words(measures[0].name)}."
        return "scatter", measures[0].name, (measures[1].name,), None, reason
    return "table", None, (), None, "No chart fits this result: shown as a table."


def _decide_over_time(time: ColumnSemantics, measures, categories, parts):
    over = f"over {_words(time.name)}"
    if not categories:
        if not time.unique:
            reason = f"Several rows per {_words(time.name)}: {_words(measures[0].name)} plotted as points."
            return "scatter", time.name, (measures[0].name,), None, reason
        names = tuple(m.name for m in measures[:4])
        if len(names) > 1:
            return "line", time.name, names, None, f"{_join_titles(names)} {over}, one line each."
        return "line", time.name, names, None, f"{_title(names[0])} {over}."
    if len(categories) == 1 and len(measures) == 1:
        category, measure = categories[0], measures[0]
        if parts and category.distinct <= MAX_COLORS:
            reason = f"Parts of {_words(measure.name)} {over}, stacked by {_words(category.name)}."
            return "stacked_bar", time.name, (measure.name,), category.name, reason
        if category.distinct <= MAX_COLORS:
            reason = f"{_title(measure.name)} {over}, one line per {_words(category.name)}."
            return "line", time.name, (measure.name,), category.name, reason
    return "table", None, (), None, "Too many series for one chart: shown as a table."


def _decide_by_category(question, category, measures, parts, rows, semantics):
    measure = measures[0]
    by = f"by {_words(category.name)}"
    if len(measures) >= 2:
        grouped = not category.unique and category.distinct <= MAX_COLORS
        if _SCATTER_WORDS.search(question) or grouped:
            color = category.name if category.distinct <= MAX_COLORS else None
            reason = f"Two measures: {_words(measures[1].name)} against {_words(measure.name)}"
            reason += f", coloured by {_words(category.name)}." if color else "."
            return "scatter", measure.name, (measures[1].name,), color, reason
    if parts and category.unique and 2 <= category.distinct <= MAX_PIE_SLICES and _all_positive(measure, rows):
        return "pie", category.name, (measure.name,), None, f"Parts of a whole: {_words(measure.name)} {by}."
    if category.distinct > MAX_BAR_CATEGORIES:
        return "table", None, (), None, f"Too many values of {_words(category.name)} to chart: shown as a table."
    order = "in order" if category.encoding == "ordinal" else "largest first"
    reason = f"{_title(measure.name)} {by}, {order}."
    if parts and category.distinct > MAX_PIE_SLICES:
        reason = f"{_title(measure.name)} {by}, {order} (too many parts for a pie)."
    return "bar", category.name, (measure.name,), None, reason


def _parts_of_whole(question, measures, rows, semantics) -> bool:
    """Parts of a whole: the question asks for shares, or the one measure is a percentage summing to 100 (or 1)."""
    if _PARTS_WORDS.search(question):
        return True
    if len(measures) != 1 or not _PART_COLUMN.search(measures[0].name.lower()):
        return False
    values = _numbers(measures[0], rows)
    total = sum(values)
    return bool(values) and (0.98 <= total <= 1.02 or 98 <= total <= 102)


def _alternatives(semantics: Sequence[ColumnSemantics], rows: Sequence[Sequence[Any]]) -> tuple[str, ...]:
    """Kinds that build_spec can draw from this result with default fields, in CHART_KINDS order."""
    kinds = []
    for kind in CHART_KINDS:
        if kind == "table":
            continue
        try:
            _fields(kind, None, None, None, semantics, rows)
        except ValueError:
            continue
        kinds.append(kind)
    return (*kinds, "table")


def _with_first(kind: str, alternatives: tuple[str, ...]) -> tuple[str, ...]:
    return (kind, *(k for k in alternatives if k != kind))


# --- switching and refinement -----------------------------------------------------------------------


def build_spec(
    kind: str,
    x: str | None,
    y: str | Sequence[str] | None,
    color: str | None,
    columns: Sequence[ChartColumn],
    rows: Sequence[Sequence[Any]],
) -> dict[str, Any]:
    """The spec for a chart the user picked; None fields are filled with sensible defaults; ValueError if it can't be drawn."""
    semantics = _charted_columns(classify_columns(columns, rows))
    x, ys, color = _fields(kind, x, y, color, semantics, rows)
    if kind == "table":
        return {"kind": "table"}
    return _spec(kind, x, ys, color, semantics, rows)[0]


def apply_refinement(
    choice: ChartChoice,
    refinement: Mapping[str, Any] | str | None,
    columns: Sequence[ChartColumn],
    rows: Sequence[Sequence[Any]],
) -> ChartChoice:
    """The model's suggested chart when it is valid for this result; otherwise the deterministic `choice` unchanged."""
    if isinstance(refinement, (str, bytes)):
        try:
            refinement = json.loads(refinement)
        except ValueError:
            return choice
    if not isinstance(refinement, Mapping) or set(refinement) - set(CHART_REFINEMENT_SCHEMA["properties"]):
        return choice
    kind, x, y, color = (refinement.get(key) for key in ("kind", "x", "y", "color"))
    if kind not in CHART_KINDS or not _optional_text(x) or not _optional_text(color):
        return choice
    if isinstance(y, str):
        y = [y]
    if y is not None and (not isinstance(y, list) or not all(isinstance(v, str) for v in y)):
        return choice
    semantics = _charted_columns(classify_columns(columns, rows))
    try:
        x, ys, color = _fields(kind, x, y or None, color, semantics, rows)
    except ValueError:
        return choice
    if (kind, x, ys, color) == (choice.kind, choice.x, choice.y, choice.color):
        return choice
    reason = f"Model's suggestion ({kind}), checked against the result."
    if kind == "table":
        return replace(choice, kind="table", x=None, y=(), color=None, reason=reason, spec={"kind": "table"}, note=None)
    spec, note = _spec(kind, x, ys, color, semantics, rows)
    return ChartChoice(kind, x, ys, color, reason, _with_first(kind, choice.alternatives), spec, note)


def _optional_text(value: Any) -> bool:
    return value is None or isinstance(value, str)


def _fields(kind, x, y, color, semantics, rows) -> tuple[str | None, tuple[str, ...], str | None]:
    """Validate (and default) the fields for `kind`; ValueError says what is wrong in words a user understands."""
    if kind not in CHART_KINDS:
        raise ValueError(f"Unknown chart type {kind!r}; choose one of: {', '.join(CHART_KINDS)}.")
    by_name = {s.name: s for s in semantics}
    ys = (y,) if isinstance(y, str) else tuple(y or ())
    for name in (x, color, *ys):
        if name is not None and name not in by_name:
            known = ", ".join(repr(n) for n in by_name) or "none"
            raise ValueError(f"No column named {name!r} in this result (columns: {known}).")
    if kind == "table":
        return None, (), None
    if not rows:
        raise ValueError("The result has no rows to chart.")
    numeric = [s for s in semantics if s.type in _NUMERIC]
    measures = [s for s in semantics if s.role == "measure"] or numeric
    for name in ys:
        if by_name[name].type not in _NUMERIC:
            raise ValueError(f"{name!r} is not numeric, so it cannot be the value axis.")
    if kind == "number":
        if len(rows) != 1:
            raise ValueError("A number card needs a one-row result.")
        ys = ys or tuple(s.name for s in numeric[:1])
        if len(ys) != 1 or x is not None or color is not None:
            raise ValueError("A number card shows exactly one numeric column.")
        return None, ys, None
    if len(ys) > 1 and kind != "line":
        raise ValueError(f"A {_kind_title(kind)} chart shows one value column; several are only possible in a line chart.")
    if len(ys) > 1 and color is not None:
        raise ValueError("A line chart with several value columns already colours by column; leave colour empty.")
    if kind == "scatter":
        axes = [s for s in semantics if s.type in _NUMERIC or s.role == "temporal"]
        x = x or next((s.name for s in semantics if s.role == "temporal"), None) or next(
            (s.name for s in measures if s.name not in ys), None
        )
        if x is None or by_name[x] not in axes:
            raise ValueError("A scatter chart needs a numeric or time column on the x axis.")
        ys = ys or tuple(s.name for s in measures if s.name != x)[:1]
    else:
        if x is None:
            x = _default_x(kind, semantics)
        if x is None:
            raise ValueError(f"A {_kind_title(kind)} chart needs a category or time column for the x axis.")
        if kind in {"bar", "stacked_bar"} and by_name[x].role == "measure":
            raise ValueError(f"{x!r} is a measure; a {_kind_title(kind)} chart needs a category or time column for x.")
        ys = ys or tuple(s.name for s in measures if s.name != x)[:1]
    if not ys:
        raise ValueError(f"A {_kind_title(kind)} chart needs a numeric column for the values.")
    if x in ys:
        raise ValueError(f"{x!r} cannot be on both axes.")
    if kind == "stacked_bar" and color is None:
        color = next((s.name for s in semantics if s.role == "category" and s.name != x and s.distinct <= MAX_COLORS), None)
        if color is None:
            raise ValueError("A stacked bar chart needs a second category to stack by.")
    if color is not None:
        if color == x or color in ys:
            raise ValueError(f"{color!r} is already on an axis; colour by another column.")
        if by_name[color].role == "measure":
            raise ValueError(f"{color!r} is a measure; colour by a category.")
        if by_name[color].distinct > MAX_COLORS:
            raise ValueError(f"{color!r} has {by_name[color].distinct} values; colour works for at most {MAX_COLORS}.")
    if kind == "pie":
        if color is not None:
            raise ValueError("A pie chart colours by its category already; leave colour empty.")
        slices = by_name[x].distinct
        if by_name[x].role == "measure" or slices > MAX_SWITCH_PIE_SLICES:
            raise ValueError(f"A pie chart needs a category with at most {MAX_SWITCH_PIE_SLICES} values; {x!r} has {slices}.")
        if any(v < 0 for v in _numbers(by_name[ys[0]], rows)):
            raise ValueError(f"{ys[0]!r} has negative values, which a pie chart cannot show.")
    return x, ys, color


def _default_x(kind: str, semantics: Sequence[ColumnSemantics]) -> str | None:
    temporal = [s.name for s in semantics if s.role == "temporal"]
    categories = [s.name for s in semantics if s.role == "category"]
    if kind == "line":
        return (temporal or [None])[0]
    if kind == "pie":
        return next((s.name for s in semantics if s.role == "category" and s.distinct <= MAX_SWITCH_PIE_SLICES), None)
    if kind == "stacked_bar":
        ordered = temporal + sorted(categories, key=lambda n: -next(s.distinct for s in semantics if s.name == n))
        return ordered[0] if len(temporal) + len(categories) >= 2 else None
    return (categories + temporal or [None])[0]


# --- the Vega-Lite spec ----------------------------------------------------------------------------


def _spec(kind, x, ys, color, semantics, rows) -> tuple[dict[str, Any], str | None]:
    by_name = {s.name: s for s in semantics}
    index = {s.name: s.position for s in semantics}
    if kind == "number":
        value = _json_value(rows[0][index[ys[0]]], by_name[ys[0]])
        return {"kind": "number", "field": ys[0], "title": _title(ys[0]), "value": value}, None
    label = _label_column(kind, x, color, semantics)
    used = [name for name in dict.fromkeys((x, *ys, color, label)) if name is not None]
    kept = list(rows)
    if by_name[x].role == "temporal":
        # Lines join points in data order; sort by time so the capped slice is the earliest span, not a random one.
        kept.sort(key=lambda row: _time_sort_key(row[index[x]]))
    note = None
    if len(kept) > MAX_CHART_POINTS:
        note = f"The chart shows the first {MAX_CHART_POINTS:,} of {len(kept):,} rows."
        kept = kept[:MAX_CHART_POINTS]
    values = [{name: _json_value(row[index[name]], by_name[name]) for name in used} for row in kept]
    spec: dict[str, Any] = {
        "$schema": VEGA_LITE_SCHEMA,
        "width": "container",
        "height": 320,
        "autosize": {"type": "fit-x", "contains": "padding"},
        "data": {"values": values},
    }
    encoding = spec["encoding"] = {}
    tooltip = [_channel(by_name[name]) for name in used]
    if kind in {"line", "bar", "stacked_bar"} and len(ys) == 1:
        x_channel, y_channel = _channel(by_name[x]), _channel(by_name[ys[0]])
        horizontal = kind != "line" and by_name[x].role == "category" and _long_or_many(x, values, by_name[x])
        if kind != "line" and by_name[x].encoding == "nominal":
            # Largest first; the measure lies on the other axis.
            x_channel["sort"] = "-x" if horizontal else "-y"
        spec["mark"] = {"type": "line", "point": len(values) <= 100} if kind == "line" else {"type": "bar"}
        if horizontal:
            encoding["y"], encoding["x"] = x_channel, y_channel
            # A fixed height rather than {"step": 20}: a step height with a container width makes Vega-Lite warn.
            spec["height"] = max(120, 20 * by_name[x].distinct)
        else:
            encoding["x"], encoding["y"] = x_channel, y_channel
        if color is not None:
            encoding["color"] = _channel(by_name[color], encoding="nominal")
    elif kind == "line":
        series, value = _fold_names(used)
        spec["transform"] = [{"fold": [_field(name) for name in ys], "as": [series, value]}]
        spec["mark"] = {"type": "line", "point": len(values) <= 100}
        encoding["x"] = _channel(by_name[x])
        encoding["y"] = {"field": _field(value), "type": "quantitative", "title": "Value"}
        encoding["color"] = {"field": _field(series), "type": "nominal", "title": "Measure"}
        tooltip += [{"field": _field(series), "type": "nominal", "title": "Measure"}]
    elif kind == "scatter":
        spec["mark"] = {"type": "point", "filled": True}
        encoding["x"], encoding["y"] = _channel(by_name[x]), _channel(by_name[ys[0]])
        if by_name[x].role == "measure":
            encoding["x"]["scale"] = {"zero": False}
        encoding["y"]["scale"] = {"zero": False}
        if color is not None:
            encoding["color"] = _channel(by_name[color], encoding="nominal")
    elif kind == "pie":
        spec["mark"] = {"type": "arc", "innerRadius": 0}
        spec["autosize"] = {"type": "fit", "contains": "padding"}
        encoding["theta"] = {**_channel(by_name[ys[0]]), "stack": True}
        encoding["color"] = {**_channel(by_name[x], encoding="nominal"), "sort": {"field": _field(ys[0]), "order": "descending"}}
        encoding["order"] = {"field": _field(ys[0]), "type": "quantitative", "sort": "descending"}
    encoding["tooltip"] = tooltip
    if note:
        spec["usermeta"] = {"note": note}
    return spec, note


def _label_column(kind, x, color, semantics) -> str | None:
    """A column that names each point (a product, a customer) so the tooltip can say which one it is."""
    if kind != "scatter" or color is not None:
        return None
    return next((s.name for s in semantics if s.role == "category" and s.unique and s.name != x), None)


def _channel(semantics: ColumnSemantics, encoding: str | None = None) -> dict[str, Any]:
    channel: dict[str, Any] = {"field": _field(semantics.name), "type": encoding or semantics.encoding, "title": _title(semantics.name)}
    if channel["type"] == "temporal" and semantics.time_unit:
        channel["timeUnit"] = semantics.time_unit
    if channel["type"] == "quantitative":
        channel["format"] = ",.2~f" if semantics.type == "number" else ","
    return channel


def _field(name: str) -> str:
    """A column name as a Vega-Lite field: dots, brackets and quotes would otherwise read as a nested access path."""
    return re.sub(r"([\\.\[\]'\"])", r"\\\1", name)


def _title(name: str) -> str:
    text = re.sub(r"[_\s]+", " ", name).strip()
    return text[:1].upper() + text[1:] if text else name


def _words(name: str) -> str:
    return re.sub(r"[_\s]+", " ", name).strip() or name


def _join_titles(names: Sequence[str]) -> str:
    titles = [_title(names[0]), *(_words(n) for n in names[1:])]
    return titles[0] if len(titles) == 1 else f"{', '.join(titles[:-1])} and {titles[-1]}"


def _kind_title(kind: str) -> str:
    return kind.replace("_", " ")


def _fold_names(used: Sequence[str]) -> tuple[str, str]:
    series, value = "measure", "value"
    while series in used or value in used:
        series, value = f"_{series}", f"_{value}"
    return series, value


def _long_or_many(x: str, values: Sequence[Mapping[str, Any]], semantics: ColumnSemantics) -> bool:
    labels = {str(v[x]) for v in values if v[x] is not None}
    return semantics.distinct > 12 or any(len(label) > 12 for label in labels)


# --- values ----------------------------------------------------------------------------------------


def _json_value(value: Any, semantics: ColumnSemantics) -> Any:
    """A cell as plain JSON for the spec; temporal cells as ISO text Vega parses the same in every time zone."""
    if value is None:
        return None
    if semantics.role == "temporal" and semantics.encoding == "temporal":
        moment = _as_time(value)
        if moment is None:
            return None
        # Date-only ISO text parses as UTC midnight, which the utc time units then show unshifted.
        return moment.isoformat()
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return str(value) if semantics.role != "measure" and abs(value) >= _SAFE_INTEGER else value
    if isinstance(value, (float, decimal.Decimal)):
        number = float(value)
        if not math.isfinite(number):
            return None
        if semantics.role != "measure" and number.is_integer():
            return int(number)
        return number
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    if isinstance(value, str):
        return value
    return str(value)


def _time_sort_key(value: Any) -> tuple[int, float]:
    moment = _as_time(value) if value is not None else None
    if moment is None:
        return (1, 0.0)
    if isinstance(moment, dt.datetime):
        stamp = moment.timestamp() if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc).timestamp()
        return (0, stamp)
    return (0, dt.datetime(moment.year, moment.month, moment.day, tzinfo=dt.timezone.utc).timestamp())


def _numbers(semantics: ColumnSemantics, rows: Sequence[Sequence[Any]]) -> list[float]:
    index = semantics.position
    numbers = []
    for row in rows:
        value = row[index] if index < len(row) else None
        if isinstance(value, (int, float, decimal.Decimal)) and not isinstance(value, bool):
            numbers.append(float(value))
    return numbers


def _all_positive(semantics: ColumnSemantics, rows: Sequence[Sequence[Any]]) -> bool:
    values = _numbers(semantics, rows)
    return bool(values) and all(v > 0 for v in values)


def _is_integral(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    if isinstance(value, (float, decimal.Decimal)):
        return math.isfinite(float(value)) and float(value).is_integer()
    return False


def _hashable(value: Any) -> Any:
    return value if isinstance(value, (str, int, float, bool, dt.date, decimal.Decimal)) else repr(value)


def _column_name(column: Any) -> str:
    return str(column["name"] if isinstance(column, Mapping) else column.name)


def _column_type(column: Any) -> str:
    return str(column["type"] if isinstance(column, Mapping) else column.type)


def _charted_columns(semantics: Sequence[ColumnSemantics]) -> tuple[ColumnSemantics, ...]:
    """Columns a chart can name; a repeated name (SELECT a.id, b.id) charts its first column only."""
    seen: set[str] = set()
    kept = []
    for s in semantics:
        if s.name not in seen:
            seen.add(s.name)
            kept.append(s)
    return tuple(kept)
