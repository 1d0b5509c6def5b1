"""Ratios, shares and percentages: where the two sides of "the ratio of A to B" are, and their expression.
"""

from __future__ import annotations

from dataclasses import replace

from nl2sql.semantics.linking import Link
from nl2sql.semantics.model import SemanticModel
from nl2sql.semantics.plan import Agg, AllOf, Arith, Col, Compare, Condition, Expr, InList, IsNull, Lit, Match, Overall
from nl2sql.semantics.reading.cues import RATIO_WORDS
from nl2sql.semantics.reading.parts import _Filter, _Parse, _RatioSpan, _strip_where
from nl2sql.semantics.reading.schema import _count_of, _reference_to


def _quantity(model: SemanticModel | None, link: Link) -> bool:
    if model is None or link.kind != "column":
        return False
    attribute = model.attribute(link.table, link.column)  # type: ignore[arg-type]
    return attribute.is_numeric and attribute.role == "measure"


def _ratio_span(words: list[str], links: list[Link], model: SemanticModel | None = None) -> _RatioSpan | None:
    n = len(words)
    ends = {".", "?", "!", ";"}
    for i, w in enumerate(words):
        if w not in RATIO_WORDS:
            continue
        if w == "rate" and (i + 1 >= n or words[i + 1] != "of"):
            continue
        if any(l.kind == "column" and i in l.matched and len(l.matched) > 1 and l.score >= 0.8 for l in links):
            continue  # "the average market share": a column's name, no ratio to compute
        end = next((j for j in range(i + 1, n) if words[j] in ends), n)
        group = next((j for j in range(i + 2, end) if words[j] in ("each", "every", "per", "across", "by")
                      or (words[j] == "for" and j + 1 < end and words[j + 1] in ("each", "every", "all"))), end)
        to = next((j for j in range(i + 1, group) if words[j] in ("to", "versus", "vs", "over", "against", "per")
                   and not (j + 1 < n and words[j + 1] in ("be", "have", "the", "purchase") and words[j - 1] in ("how", "want", "need", "required"))), None)
        out_of = next((j for j in range(i + 1, group) if words[j] == "out" and j + 1 < n and words[j + 1] == "of"), None)
        if to is None and words[i - 1:i] != ["the"] and i >= 2 and words[i - 1] in ("to",):
            continue
        share = w in ("proportion", "percentage", "percent", "share", "fraction") and to is None
        average = i >= 1 and words[i - 1] in ("average", "mean", "avg")
        if to is None and not share:
            # "the A to B ratio": sides before the word
            before = next((j for j in range(i - 1, max(-1, i - 8), -1) if words[j] == "to"), None)
            if before is None:
                continue
            start = next((j for j in range(before - 1, -1, -1) if words[j] in ("the", "a", "of", "is", "what")), -1)
            return _RatioSpan(start, before, i, False, average)
        return _RatioSpan(i, to, group, share, average, out_of)
    for i, w in enumerate(words):
        if w == "per" and 0 < i < n - 1:
            # "population per area": two quantities; "amount per method" groups instead
            left = [l for l in links if i - 3 <= l.end <= i and l.score >= 0.7 and _quantity(model, l)]
            right = [l for l in links if i < l.start <= i + 3 and l.score >= 0.7 and _quantity(model, l)]
            if left and right and not any(words[j] in ("total", "sum", "average", "avg", "number", "count", "how")
                                          for j in range(max(0, i - 6), i)):
                start = min(l.start for l in left) - 1
                return _RatioSpan(start, i, max(l.end for l in right) + 1, False, False)
    return None


def _ratio_expr(model: SemanticModel, p: _Parse, ratio: _RatioSpan, measures, filters, focus, grouped: bool = False):
    """(expression, tokens, tables, filters it took): two aggregates (possibly filtered) or two columns of a row."""
    words = p.words
    tokens = {ratio.index} | ({ratio.to} if ratio.to is not None else set())
    if ratio.out_of is not None:
        tokens |= {ratio.out_of, ratio.out_of + 1}
    a = _ratio_side(model, p, ratio, measures, 0, set())
    if a is None:
        return None
    b = _second_side(model, p, ratio, measures, filters, grouped, a)
    if b is None:
        return None
    (ea, ta, ua), (eb, tb, ub) = a, b
    tokens |= ua | ub
    fa = [f for f in filters if f.tokens and ratio.side(min(f.tokens)) == 0]
    fb = [f for f in filters if f.tokens and ratio.side(min(f.tokens)) == 1] if not ratio.share or ratio.to else []
    # "the population of California": a value that names a row of another table takes that table's column
    ea, ta = _measure_for_values(model, ea, ta, fa)
    eb, tb = _measure_for_values(model, eb, tb, fb)
    if isinstance(ea, Agg) and isinstance(eb, Agg) and ta != tb:
        ea = _count_of(model, ea, ta, tb)
        eb = _count_of(model, eb, tb, ta)
    if isinstance(ea, Col) and isinstance(eb, Col) and (fa or fb):
        ea, eb = Agg("sum", ea), Agg("sum", eb)
    side_filters: list[Condition] = []
    if fa and isinstance(ea, Agg):
        cond = fa[0].condition if len(fa) == 1 else AllOf(tuple(f.condition for f in fa))
        ea = replace(ea, where=cond if ea.where is None else AllOf((ea.where, cond)))
        side_filters += [f.condition for f in fa]
    if fb and isinstance(eb, Agg):
        cond = fb[0].condition if len(fb) == 1 else AllOf(tuple(f.condition for f in fb))
        eb = replace(eb, where=cond if eb.where is None else AllOf((eb.where, cond)))
        side_filters += [f.condition for f in fb]
    expr: Expr = Arith("/", ea, eb)
    if words[ratio.index] in ("percentage", "percent"):
        expr = Arith("*", Lit(100), expr)
    if ratio.average:
        expr = Agg("avg", expr)
        tokens.add(ratio.index - 1)
    return expr, tokens, [ta, tb], side_filters


def _second_side(model: SemanticModel, p: _Parse, ratio: _RatioSpan, measures, filters, grouped: bool, a):
    """The ratio's denominator, given its numerator `a`."""
    if ratio.to is None and ratio.share and grouped and isinstance(a[0], Agg) and a[0].where is None \
            and not any(f.tokens and ratio.side(min(f.tokens)) == 0 for f in filters) \
            and (a[0].arg is None or isinstance(a[0].arg, Col)):
        # "the share of payments made by each method": each group's part of all rows
        return Overall(a[0], a[1] if a[0].arg is None else None), a[1], set()
    if ratio.to is None and ratio.share:
        # a part of a whole: the same thing counted with the side's conditions, then without
        return _strip_where(a[0]), a[1], set()
    # two columns of a row differ ("one-way to round-trip cost"); one column under two conditions may not
    conditioned = any(f.tokens and ratio.side(min(f.tokens)) is not None for f in filters)
    taken = {a[0].column} if isinstance(a[0], Col) and not conditioned else set()
    return _ratio_side(model, p, ratio, measures, 1, taken)


def _ratio_side(model: SemanticModel, p: _Parse, ratio: _RatioSpan, measures, k: int, taken: set[str]):
    """(expression, table, tokens) of side `k` of the ratio: a measure, a numeric column, or a table's rows."""
    ms = [m for m in measures if m.tokens and ratio.side(min(m.tokens)) == k]
    if ms:
        return ms[0].expr, ms[0].table, set(ms[0].tokens)
    links = [l for l in p.links if ratio.side(l.start) == k]
    columns = []
    for link in links:
        if link.kind != "column":
            continue
        attribute = model.attribute(link.table, link.column)  # type: ignore[arg-type]
        if link.score < 0.5 or not {p.tokens[i].stem for i in link.matched} & set(attribute.core_words):
            continue
        if attribute.is_numeric and attribute.role in ("measure", "dimension") and attribute.name not in taken:
            columns.append((link.score + 0.02 * len(link.matched), link, attribute))
    if columns:
        _, link, attribute = max(columns, key=lambda c: (c[0], -c[1].start))
        return Col(link.table, attribute.name), link.table, set(link.matched)
    entities = sorted((l for l in links if l.kind == "entity" and not model.entity(l.table).bridge),
                      key=lambda l: (l.start, -round(l.score, 2), -len(l.matched)))
    if entities:
        first = entities[0]
        expr: Expr = Agg("count")
        used = set(first.matched)
        # "publications presented in conferences": the rows of the first that have one of the second
        for other in entities[1:]:
            ref = _reference_to(model, first.table, other.table)
            if ref is not None:
                expr = Agg("count", None, IsNull(Col(first.table, ref), negate=True))
                used |= set(other.matched)
                break
        return expr, first.table, used
    return None


def _measure_for_values(model: SemanticModel, expr: Expr, table: str, side_filters: list[_Filter]) -> tuple[Expr, str]:
    if not isinstance(expr, Col | Agg) or not side_filters:
        return expr, table
    col = expr if isinstance(expr, Col) else expr.arg
    if not isinstance(col, Col):
        return expr, table
    attribute = model.attribute(col.table, col.column)
    for f in side_filters:
        c = f.condition
        target = c.left if isinstance(c, Compare) else (c.arg if isinstance(c, Match | InList) else None)
        if not isinstance(target, Col) or target.table == col.table:
            continue
        other = model.entity(target.table)
        same = next((a for a in other.attributes if a.words == attribute.words and a.is_numeric), None)
        if same is not None:
            moved = Col(other.table, same.name)
            return (moved if isinstance(expr, Col) else replace(expr, arg=moved)), other.table
    return expr, table
