"""The admin's business words: a metric's name or synonym ("revenue", "sales", "average order value") is that
metric, measured by whatever grouping, time window and top N the rest of the question adds; a segment's
("active products", "no longer sold") is its condition.

Words are matched by stems, stop words aside, longest first; an aggregate word right before a metric ("total
revenue", "the sum of sales") belongs to it, since the metric says how it is summed up.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from nl2sql.semantics.evidence import QuestionTerms
from nl2sql.semantics.lexicon import STOP_WORDS, normalize, stem
from nl2sql.semantics.layer import MetricDef, SegmentDef
from nl2sql.semantics.model import SemanticModel
from nl2sql.semantics.plan import AllOf, Col, Condition, Lit, columns_of

# words before a metric that only say it is summed up ("total revenue", "overall sales")
SUMMING = frozenset({"total", "overall", "sum", "aggregate", "combined", "entire", "whole", "gross"})
# words a segment phrase keeps although they are stop words ("no longer sold", "not active")
KEPT = frozenset({"no", "not"})


@dataclass(frozen=True)
class Found:
    """A metric or segment the question names, and the token indices that name it."""

    definition: MetricDef | SegmentDef
    tokens: frozenset[int]


def _content(words: list[str]) -> list[tuple[int, str]]:
    return [(i, stem(w)) for i, w in enumerate(words) if w not in STOP_WORDS or w in KEPT]


def _find(words: list[str], definitions, taken: set[int]) -> list[Found]:
    content = _content(words)
    stems = [s for _, s in content]
    options = []
    for definition in definitions:
        for phrase in definition.phrases:
            n = len(phrase)
            for k in range(len(stems) - n + 1):
                if tuple(stems[k:k + n]) == phrase:
                    options.append((n, k, definition))
    found: list[Found] = []
    for n, k, definition in sorted(options, key=lambda o: (-o[0], o[1])):
        indices = {content[j][0] for j in range(k, k + n)}
        if indices & taken:
            continue
        taken |= indices
        found.append(Found(definition, frozenset(indices)))
    return found


def metrics_named(model: SemanticModel, words: list[str]) -> list[Found]:
    """The metrics the question names, each with its words and the summing words right before them."""
    if not model.metrics:
        return []
    out = []
    for hit in _find(words, model.metrics, set()):
        tokens = set(hit.tokens)
        i = min(tokens) - 1
        while i >= 0 and (words[i] in SUMMING or (words[i] == "of" and i and words[i - 1] == "sum")):
            tokens.add(i)
            i -= 1
        out.append(Found(hit.definition, frozenset(tokens)))
    return sorted(out, key=lambda f: min(f.tokens))


def segments_named(model: SemanticModel, words: list[str], metrics: list[Found]) -> list[Found]:
    """The segments the question names (outside the words of its metrics)."""
    if not model.segments:
        return []
    return _find(words, model.segments, {i for f in metrics for i in f.tokens})


def layer_filters(metrics: list[Found], segments: list[Found]) -> list[tuple[Condition, set[str], set[int]]]:
    """(condition, its tables, the words it accounts for) for each metric's filters and each segment."""
    out: list[tuple[Condition, set[str], set[int]]] = []
    seen: list[Condition] = []
    for found in metrics:
        where = found.definition.where  # type: ignore[union-attr]
        if where is None:
            continue
        for item in where.items if isinstance(where, AllOf) else (where,):
            if item not in seen:
                seen.append(item)
                out.append((item, {c.table for c in columns_of(item)}, set()))
    for found in segments:
        condition = found.definition.condition  # type: ignore[union-attr]
        out.append((condition, {c.table for c in columns_of(condition)}, set(found.tokens)))
    return out


# the words that ask for each aggregate; inside a metric's words they ask for nothing more ("average order value")
AGGREGATE_WORDS = {"avg": {"average", "avg", "mean"}, "sum": {"total", "sum", "overall"},
                   "count": {"number", "count", "many"}, "min": {"minimum", "min", "lowest", "least"},
                   "max": {"maximum", "max", "highest", "most"}}


def _literals(node) -> set[str]:
    out: set[str] = set()
    if isinstance(node, Lit) and isinstance(node.value, str):
        out.add(normalize(node.value))
    elif dataclasses.is_dataclass(node) and not isinstance(node, type):
        for f in dataclasses.fields(node):
            out |= _literals(getattr(node, f.name))
    elif isinstance(node, tuple | list):
        for item in node:
            out |= _literals(item)
    return out


def layer_terms(model: SemanticModel, words: list[str], meanings: dict[int, set[str]], terms: QuestionTerms,
                ) -> QuestionTerms:
    """What the question names, for weighing SQL, with the layer's words meaning what their definitions use: a
    metric's words name its columns and tables (its filters' values are no foreign literals), and an aggregate
    word inside them asks for no aggregate of its own."""
    metrics = metrics_named(model, words)
    found = [*metrics, *segments_named(model, words, metrics)]
    if not found:
        return terms
    meanings = {i: set(m) for i, m in meanings.items()}
    values = set(terms.values)
    layer: set[int] = set()
    for f in found:
        d = f.definition
        parts = (d.expr, d.where) if isinstance(d, MetricDef) else (d.condition,)
        names = {c.column.lower() for c in columns_of(parts)} | {c.table.rpartition(".")[2].lower()
                                                                  for c in columns_of(parts)}
        if isinstance(d, MetricDef):
            names.add(d.output.lower())
        for i in f.tokens:
            meanings[i] = names
        values |= _literals(parts)
        layer |= set(f.tokens)
    outside = {w for i, w in enumerate(words) if i not in layer}
    aggregates = frozenset(a for a in terms.aggregates if AGGREGATE_WORDS.get(a, set()) & outside
                           or a not in AGGREGATE_WORDS)
    return dataclasses.replace(terms, words=tuple(frozenset(m) for _, m in sorted(meanings.items())),
                               values=frozenset(values), aggregates=aggregates)


def _swap(node, old, new):
    """`node` with every `old` column as `new` (plans are frozen dataclasses and tuples)."""
    if node == old:
        return new
    if isinstance(node, tuple):
        return tuple(_swap(item, old, new) for item in node)
    if dataclasses.is_dataclass(node) and not isinstance(node, type):
        changes = {f.name: _swap(getattr(node, f.name), old, new) for f in dataclasses.fields(node)
                   if f.name != "meta"}
        return dataclasses.replace(node, **changes)
    return node


def on_metric_time(plan, model: SemanticModel):
    """A plan measuring a metric, with its table's main time column as the metric's own time column where the
    admin set another ("shipped revenue in 2025" on shipped_on, though orders are dated by order_date)."""
    for metric in model.metrics:
        if metric.time is None or not any(o.expr == metric.expr for o in plan.select):
            continue
        main = model.entity(metric.time.table).time
        if main and main != metric.time.column:
            plan = _swap(plan, Col(metric.time.table, main), metric.time)
    return plan
