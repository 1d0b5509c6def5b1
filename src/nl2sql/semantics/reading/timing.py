"""Time in questions: windows ("in 2024", "last month") as filters, durations ("from A to B") and first/last
times as measures, and the time column each applies to.
"""

from __future__ import annotations

from datetime import timedelta

from nl2sql.semantics.lexicon import stem
from nl2sql.semantics.linking import Link
from nl2sql.semantics.model import SemanticModel
from nl2sql.semantics.plan import Agg, AllOf, Arith, Between, Col, Compare, Condition, Elapsed, Expr, InList, Lit, Part
from nl2sql.semantics.reading.parts import _Draft, _Filter, _Measure, _Parse
from nl2sql.semantics.timewords import TimeWindow


def read_windows(model: SemanticModel, d: _Draft) -> None:
    """Time windows ("in 2024", "last month") as filters on the time column they apply to."""
    valued = {i for f in d.filters for i in f.tokens}
    for window in d.p.windows:
        if set(window.tokens) & valued:
            continue  # "registered in 2016" where a register year holds '2016': that value, read by the filters
        found = _window_filter(model, d.p, window, d.measures, d.focus_entity)
        if found is not None:
            d.filters.append(found)


def _window_filter(model: SemanticModel, p: _Parse, window: TimeWindow, measures: list[_Measure], focus: str | None) -> _Filter | None:
    near = min(window.tokens)
    col = _time_column(model, p, measures, focus, near=near, year=window.year is not None)
    if col is None:
        return None
    attribute = model.attribute(col.table, col.column)
    used = set(window.tokens)
    if attribute.grain == "year":
        if window.year is not None:
            return _Filter(Compare(col, "=", Lit(window.year)), {col.table}, used)
        if window.start and window.end:
            return _Filter(Between(col, Lit(window.start.year), Lit((window.end - timedelta(days=1)).year)),
                           {col.table}, used)
        if window.start:  # "after 1989": from 1990 on
            return _Filter(Compare(col, ">=", Lit(window.start.year)), {col.table}, used)
        if window.end:  # "before 2000": up to 1999
            return _Filter(Compare(col, "<", Lit(window.end.year)), {col.table}, used)
        return None
    if attribute.grain == "month" and window.month is not None:
        return _Filter(Compare(col, "=", Lit(window.month)), {col.table}, used)
    if attribute.grain not in ("date", "timestamp"):
        return None
    if window.weekdays:
        # Part dow: 0 = Sunday ... 6 = Saturday; the window counts Monday = 0
        days = tuple(Lit((d + 1) % 7) for d in window.weekdays)
        return _Filter(InList(Part("dow", col), days), {col.table}, used)
    if window.month is not None:
        return _Filter(Compare(Part("month", col), "=", Lit(window.month)), {col.table}, used)
    parts: list[Condition] = []
    if window.start is not None:
        parts.append(Compare(col, ">=", Lit(window.start.isoformat())))
    if window.end is not None:
        parts.append(Compare(col, "<", Lit(window.end.isoformat())))
    if not parts:
        return None
    return _Filter(parts[0] if len(parts) == 1 else AllOf(tuple(parts)), {col.table}, used)


def _time_column(model: SemanticModel, p: _Parse, measures: list[_Measure], focus: str | None, *, near: int,
                 year: bool = False) -> Col | None:
    """The time column a time expression applies to: a named one close by, else the main one of the subject."""
    best = None
    for link in p.links:
        if link.kind != "column":
            continue
        attribute = model.attribute(link.table, link.column)  # type: ignore[arg-type]
        if attribute.role != "time":
            continue
        distance = abs(link.start - near)
        if distance > 8:
            continue
        score = link.score - 0.04 * distance
        if best is None or score > best[0]:
            best = (score, Col(link.table, attribute.name))
    if best is not None:
        return best[1]
    # a time qualifies what is measured, else the events the question names beside its subject ("which
    # customer placed the most orders in 2025": the orders' date, not the customer's sign-up date), else the
    # subject itself
    named = [l.table for l in sorted(p.links, key=lambda l: l.start) if l.kind == "entity"]
    tables = [m.table for m in measures] + [t for t in named if t != focus] + ([focus] if focus else [])
    for table in tables:
        entity = model.entity(table)
        if year:
            years = [a for a in entity.attributes if a.role == "time" and a.grain == "year"]
            if years:
                return Col(table, years[0].name)
        if entity.time:
            return Col(table, entity.time)
    return None


def _durations(model: SemanticModel, p: _Parse) -> list[tuple[Expr, set[int], int]]:
    """(expression, tokens, where its phrase starts) for "from A to B", "between A and B", "since A"."""
    words = p.words
    unit = next((u for w, u in (("minutes", "minute"), ("minute", "minute"), ("hours", "hour"), ("hour", "hour"),
                                ("weeks", "week"), ("days", "day"), ("day", "day")) if w in words), "day")

    def timeish(link: Link) -> bool:
        if link.kind != "column" or link.score < 0.5:
            return False
        a = model.attribute(link.table, link.column)  # type: ignore[arg-type]
        return (a.role == "time" and a.grain in ("date", "timestamp")) or (
            a.is_numeric and a.role != "key" and set(a.words) & {stem("time"), stem("date")})

    times = sorted((l for l in p.links if timeish(l)), key=lambda l: (l.start, -l.score))
    out: list[tuple[Expr, set[int], int]] = []
    used: set[int] = set()
    for a in times:
        if set(a.matched) & used:
            continue
        for b in times:
            if b.start <= a.start or b.start - a.end > 4 or (b.table, b.column) == (a.table, a.column) \
                    or b.table != a.table:
                continue
            # "between departure and arrival times": the second name may share the first one's last word
            joiner = words[a.start + 1:b.start]
            lead = words[max(0, a.start - 4):a.start]
            if not ({"to", "and", "until", "till"} & set(joiner)) or not (
                    {"from", "between", "since"} & set(lead)):
                continue
            start_col, end_col = Col(a.table, a.column), Col(b.table, b.column)  # type: ignore[arg-type]
            expr = _elapsed(model, unit, start_col, end_col)
            cue = min(i for i in range(max(0, a.start - 4), a.start) if words[i] in ("from", "between", "since"))
            out.append((expr, set(a.matched) | set(b.matched) | set(range(cue, a.start)), cue))
            used |= set(a.matched) | set(b.matched)
            break
    return out


def _elapsed(model: SemanticModel, unit: str, start: Col, end: Col) -> Expr:
    a = model.attribute(start.table, start.column)
    if a.is_numeric:
        # seconds since an epoch: the difference, in the unit asked
        divisor = {"minute": 60, "hour": 3600, "day": 86400, "week": 604800}.get(unit)
        diff: Expr = Arith("-", end, start)
        return Arith("/", diff, Lit(divisor)) if divisor else diff
    return Elapsed(unit if unit in ("day", "hour", "minute") else "day", start, end)


def _time_extremes(model: SemanticModel, p: _Parse, head: int, measures: list[_Measure], limit_tokens: set[int]) -> list[_Measure]:
    words = p.words
    if not words or words[0] not in ("what", "when", "what's", "whats") or measures:
        return []
    out: list[_Measure] = []
    for i, w in enumerate(words):
        func = {"first": "min", "earliest": "min", "oldest": "min", "last": "max", "latest": "max",
                "newest": "max", "recent": "max"}.get(w)
        if func is None or i in limit_tokens or i and words[i - 1] in ("most", "least") \
                or any(l.kind == "column" and i in l.matched and l.score >= 0.9 for l in p.links):
            # "the first year and last year of the parties": the columns first_year and last_year; "the event in
            # the most recent year": a superlative, the ordering's
            continue
        for link in sorted(p.links, key=lambda l: (l.start, -l.score)):
            if link.start <= i or link.start > i + 3:
                continue
            if link.kind == "column":
                attribute = model.attribute(link.table, link.column)  # type: ignore[arg-type]
                if attribute.role != "time":
                    continue
                col = Col(link.table, attribute.name)
            elif words[0] == "when":
                entity = model.entity(link.table)
                if not entity.time:
                    continue
                col = Col(entity.table, entity.time)
            else:
                continue
            out.append(_Measure(Agg(func, col), col.table, {i} | set(link.matched), f"{func}_{col.column}"))
            break
        if out:
            break
    return out
