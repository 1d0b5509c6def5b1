"""What the answer shows of the rows that rank it: a question that names what it wants of the top row ("the name
of the activity with the most members") gets those columns, not the count or value that picked the row, unless it
names that too ("... and how many does it have?", "the top 5 cloud cover rates? Also tell me the rate").
"""

from __future__ import annotations

from nl2sql.semantics.plan import Col, Order, Output
from nl2sql.semantics.reading.cues import ORDER_VERBS, SUPERLATIVES
from nl2sql.semantics.reading.parts import _Measure, _Parse

# how many words after a superlative or an ordering word still belong to what it ranks by
RANK_REACH = 6


def without_ranking_measures(p: _Parse, measures: list[_Measure], order_by: list, orders: list[Order],
                             select: list[Output]) -> list[Output]:
    """`select` without the measures that only rank the rows ("Which rank has the fewest faculty members?": the
    count ranks the ranks; the question asks for none); all of it when nothing else would be left."""
    words = p.words
    ranked = {o.expr for o in orders}
    order_tokens = set().union(*(t for _, _, t in order_by)) if order_by else set()
    cues = [i for i in order_tokens if i < len(words) and (words[i] in SUPERLATIVES or words[i] in ORDER_VERBS
                                                          or words[i] in ("order", "top"))]
    asks_count = "how" in words and "many" in words or any(
        w in ("number", "count", "total") and not any(c < i <= c + RANK_REACH for c in cues)
        for i, w in enumerate(words))

    def ranking_only(o: Output) -> bool:
        m = next((m for m in measures if m.expr == o.expr), None)
        return o.expr in ranked and m is not None and bool(m.tokens) and not asks_count \
            and all(any(c < t <= c + RANK_REACH for c in cues) for t in m.tokens)

    kept = [o for o in select if not ranking_only(o)]
    return kept if kept else select


def owned(p: _Parse, tokens: set[int]) -> bool:
    """Whether an asked column's words are followed by its owner ("the author of the submission ...")."""
    after = max(tokens) + 1
    return after < len(p.words) and p.words[after] in ("of", "for") and any(
        l.kind == "entity" and after < l.start <= after + 3 and l.score >= 0.7 for l in p.links)


def named_outside_ordering(p: _Parse, order_by: list, expr) -> bool:
    """Whether the question names an ordering key's column apart from ordering by it ("the top 5 cloud cover
    rates? Also tell me the cloud cover rate")."""
    if not isinstance(expr, Col):
        return False
    order_tokens = set().union(*(t for _, _, t in order_by)) if order_by else set()
    return any(l.kind == "column" and l.table == expr.table and l.column == expr.column and l.score >= 0.3
               and not set(l.matched) & order_tokens for l in p.links)
