"""The most (or least) frequent value of a column: "Which apartment type code appears the most often?", "the most
common country among members", "Which allergy type is most common?".

Read as: GROUP BY the column, ORDER BY COUNT(*) DESC (ASC for "least"), LIMIT 1, showing the column only.

The cue is a superlative of frequency (MOST_WORDS then FREQUENCY_WORDS: "most common", "least frequent", "most
often"), or "the most"/"the least" closing the question ("which city appears the most?"). The column is the one
the question names closest to the cue; a column that points at another table (a code, a reference) or holds a
category is preferred over a measure, and among tables holding the same column the one that references the other
(where the value repeats) wins.
"""

from __future__ import annotations

from collections.abc import Iterable

from nl2sql.semantics.model import SemanticModel
from nl2sql.semantics.plan import Agg, AllOf, Col, Condition, Order, Output, QueryPlan, columns_of

# superlatives of frequency: the word, and whether it asks for the most (True) or the least (False)
MOST_WORDS = {"most": True, "least": False, "fewest": False}
FREQUENCY_WORDS = frozenset({"common", "frequent", "frequently", "often", "popular", "commonly"})
# words that may close a question after "the most" ("appears the most times", "has the most?")
CLOSING = frozenset({"?", ".", "!", "times", "time", "frequently", "often"})
# how much a column's role suits "the most common X" (a category repeats; a key never does)
ROLE_WEIGHT = {"reference": 1.0, "dimension": 1.0, "label": 0.9, "text": 0.85, "flag": 0.7, "time": 0.7,
               "measure": 0.6, "key": 0.0}
# the column must lie within this many words of the cue
REACH = 8
# a reading of this shape is preferred over readings that leave the frequency words unread
PREFERENCE = 1.1


def frequency_cue(words: list[str]) -> tuple[set[int], bool] | None:
    """The cue's token indices and whether it asks for the most frequent value."""
    for i, w in enumerate(words):
        if w not in MOST_WORDS:
            continue
        if i + 1 < len(words) and words[i + 1] in FREQUENCY_WORDS:
            return {i, i + 1}, MOST_WORDS[w]
        if i and words[i - 1] == "the" and (i + 1 == len(words) or words[i + 1] in CLOSING):
            return {i - 1, i}, MOST_WORDS[w]
    return None


def _candidates(model: SemanticModel, links: Iterable, cue: set[int]) -> list[tuple[float, object]]:
    start, end = min(cue), max(cue)
    out = []
    for link in links:
        if link.kind != "column" or link.score < 0.45:
            continue
        if link.start > end + REACH or link.end < start - REACH:
            continue
        attribute = model.attribute(link.table, link.column)
        weight = ROLE_WEIGHT.get(attribute.role, 0.5)
        if weight == 0.0:
            continue
        distance = min(abs(link.start - end), abs(start - link.end))
        out.append((link.score * weight - 0.02 * distance + 0.01 * len(link.matched), link))
    out.sort(key=lambda item: -item[0])
    return out


def most_frequent_plans(model: SemanticModel, words: list[str], links: list, conditions: list[tuple[Condition, set[int]]],
                        head_tokens: set[int]) -> list[tuple[QueryPlan, float, set[int]]]:
    """Plans for "the most common X": one per candidate column (best first), with the question's filters on
    that column's table (or tables it joins)."""
    found = frequency_cue(words)
    if found is None:
        return []
    cue, desc = found
    plans = []
    seen: set[Col] = set()
    for rank, (score, link) in enumerate(_candidates(model, links, cue)[:2]):
        col = Col(link.table, link.column)
        if col in seen:
            continue
        seen.add(col)
        kept = [(c, t) for c, t in conditions if all(
            x.table == col.table or model.path(col.table, x.table) is not None for x in columns_of(c))]
        where = [c for c, _ in kept]
        shown, grouped, via = _named_target(model, words, links, link, col)
        counted = _how_many(words)
        plan = QueryPlan(
            base=col.table,
            # "the most common mill type, and how many are there": the count shown beside it
            select=tuple(Output(c.column, c) for c in shown) + ((Output("count", Agg("count")),) if counted else ()),
            where=(where[0] if len(where) == 1 else AllOf(tuple(where))) if where else None,
            group_by=grouped,
            order_by=(Order(Agg("count"), desc),),
            limit=1,
            via=via,
        )
        used = set(cue) | set(link.matched) | set(head_tokens) | {i for _, t in kept for i in t} | counted
        plans.append((plan, PREFERENCE - 0.1 * rank, used))
    return plans



def _how_many(words: list[str]) -> set[int]:
    """The tokens of a "how many" that asks for the count of the most common value ("and how many are there")."""
    return next(({i, i + 1} for i in range(len(words) - 1) if words[i] == "how" and words[i + 1] == "many"), set())


def _named_target(model: SemanticModel, words: list[str], links: list, link, col: Col,
                  ) -> tuple[tuple[Col, ...], tuple[Col, ...], tuple]:
    """(shown, grouped by, joined) for the most common value of `col`: the column itself, or, where it points at a
    table the question names by the same words ("the genre most frequent across all tracks": genre_id), that
    table's name column, grouped by its key ("the code of the document type": the code itself)."""
    if any(words[i] in ("code", "codes", "id", "ids", "number", "numbers") for i in link.matched if i < len(words)):
        return (col,), (col,), ()
    for edge in model.references(col.table, col.column):
        target = model.entity(edge.right)
        named = any(l.kind == "entity" and l.table == target.table and set(l.matched) & set(link.matched)
                    for l in links)
        if named and target.display and len(edge.pairs) == 1:
            key = Col(target.table, dict(edge.pairs)[col.column])
            label = tuple(Col(target.table, c) for c in target.display if c not in target.key) or (key,)
            return label, (key, *label), (col.table, target.table)
    return (col,), (col,), ()
