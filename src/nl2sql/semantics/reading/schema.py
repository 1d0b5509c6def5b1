"""What the reader asks of the semantic model: a table's headline number, references between tables, whether a
join repeats rows, a table's own key, and the conditions for rows that lack related rows.
"""

from __future__ import annotations

from nl2sql.semantics.lexicon import stem
from nl2sql.semantics.model import Attribute, Entity, SemanticModel
from nl2sql.semantics.plan import Agg, Col, Condition, Expr, IsNull, Related


_QUANTITY_WORDS = [stem(w) for w in ("amount", "total", "value", "price", "revenue", "sales", "cost", "quantity",
                                        "size", "score", "balance")]


def _main_quantity(entity: Entity) -> str | None:
    """The entity's headline number ("the largest payment" is its amount): a measure named like one, else the first."""
    measures = [a for a in entity.attributes if a.is_numeric and a.role == "measure"]
    for word in _QUANTITY_WORDS:
        for a in measures:
            if word in a.words:
                return a.name
    return measures[0].name if len(measures) == 1 else None


def _entity_of_reference(model: SemanticModel, attribute: Attribute) -> Entity | None:
    for edge in model.references(attribute.table, attribute.name):
        return model.entity(edge.right)
    return None


def _reference_to(model: SemanticModel, table: str, target: str) -> str | None:
    for edge in model.neighbours(table):
        if edge.right == target and len(edge.pairs) == 1:
            return edge.pairs[0][0]
    return None


def _same_named(model: SemanticModel, table: str, attribute: Attribute) -> str | None:
    entity = model.entity(table)
    for other in entity.attributes:
        if other.words == attribute.words or (other.core_words == attribute.core_words and other.kind == attribute.kind):
            if other.role not in ("key",) or attribute.role in ("key", "reference"):
                return other.name
    return None


def _one_to_one(model: SemanticModel, a: str, b: str) -> bool:
    """Whether each row of `a` has at most one row of `b` (b is reached through references a holds)."""
    path = model.path(a, b)
    if not path:
        return False
    for edge in path:
        target = model.entity(edge.right)
        if not all(col in target.key for _, col in edge.pairs) or not target.key:
            return False
    return True


def _is_own_key(model: SemanticModel, expr: Expr, table: str) -> bool:
    if not isinstance(expr, Col) or expr.table != table:
        return False
    entity = model.entity(table)
    # one column of a key of several names no row ("the month" of happy hours keyed by shop and month)
    return expr.column in entity.key and len(entity.key) == 1 or expr.column in entity.display


def _as_column_of(model: SemanticModel, col: Col, table: str) -> Col:
    """`col`, or the column of `table` it points at ("the student id" of enrolments is the student's id)."""
    if col.table != table:
        for edge in model.references(col.table, col.column):
            if edge.right == table:
                return Col(table, dict(edge.pairs).get(col.column, col.column))
    return col


def _count_of(model: SemanticModel, agg: Agg, table: str, other: str) -> Agg:
    """A count of `table`'s rows over a join with `other`: its distinct keys, or `other`'s reference to it."""
    if agg.arg is not None or agg.func != "count":
        return agg
    ref = _reference_to(model, other, table)
    if ref is not None and agg.where is None:
        return Agg("count_distinct", Col(other, ref))
    key = model.entity(table).key
    if not key:
        return agg
    # a key of several columns: its first alone counts too few ("records" keyed by swimmer and event)
    return Agg("count_distinct" if len(key) == 1 else "count", Col(table, key[0]), agg.where)


def _absent(model: SemanticModel, base: str, table: str) -> Condition | None:
    """Rows of `base` with no `table`: a reference column that is empty, or no related rows at all."""
    for edge in model.neighbours(base):
        if edge.right == table and len(edge.pairs) == 1:
            column = edge.pairs[0][0]
            entity = model.entity(base)
            if column not in entity.key:
                return IsNull(Col(base, column))
    if model.path(base, table):
        return Related(table, None, negate=True)
    return None
