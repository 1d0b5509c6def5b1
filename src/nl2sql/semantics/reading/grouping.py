"""The grouping phase: "per", "each", "by" and what they group by, a column listed beside a count, time buckets.
"""

from __future__ import annotations

from nl2sql.semantics.lexicon import STOP_WORDS
from nl2sql.semantics.linking import Link
from nl2sql.semantics.model import SemanticModel
from nl2sql.semantics.plan import Agg, Bucket, Col, Compare, Expr, InList
from nl2sql.semantics.reading.cues import COUNTING
from nl2sql.semantics.reading.parts import _Draft, _has_agg, _Measure, _Parse
from nl2sql.semantics.reading.schema import _is_own_key, _reference_to, _same_named
from nl2sql.semantics.reading.timing import _time_column
from nl2sql.semantics.rules.coordination import column_beside_aggregate
from nl2sql.semantics.timewords import TimeBucket


def read_groups(model: SemanticModel, d: _Draft) -> None:
    """The grouping: "per", "each", "by" and their targets, a column listed beside a count, time buckets."""
    _cued_groups(model, d)
    _each_value_groups(model, d)
    if not d.groups and d.measures and all(_has_agg(m.expr) for m in d.measures):
        # "show all ages and corresponding number of students": grouped by the column listed beside it
        cue = next((a for a, _, _ in d.agg_cues if a in d.measures[0].tokens), None)
        taken = set().union(*(m.tokens for m in d.measures))
        link = column_beside_aggregate(d.p.words, d.p.links, cue, taken) if cue is not None else None
        if link is not None:
            col = Col(link.table, model.attribute(link.table, link.column).name)  # type: ignore[arg-type]
            d.groups.append(([col], link.table, set(link.matched) | {link.end}))
    _time_groups(model, d)
    # "customers of each gender" with a 0/1 gender: the word that names the grouping is no flag to filter by
    grouped = [(set(cols), tokens) for cols, _, tokens in d.groups]
    d.filters = [f for f in d.filters if not any(
        f.tokens and f.tokens <= tokens and isinstance(f.condition, Compare) and f.condition.left in cols
        for cols, tokens in grouped)]


def _cued_groups(model: SemanticModel, d: _Draft) -> None:
    """A group per grouping word's target; an equally good target in another table is a rival reading."""
    words = d.p.words
    for start, end in d.group_cues:
        if not d.agg_cues and not d.measures and not d.sup_cues and d.limit is None and d.ratio_span is None \
                and words[end - 1] in ("each", "every") and not COUNTING & set(words):
            continue  # "the name and grade for each classroom": a list, nothing counted per classroom
        target = _group_target(model, d.p, start, end, d.measures) or _each_at_the_end(model, d, start, end)
        plain = not d.agg_cues and not d.measures or d.measures and all(
            m.implicit and m.table == d.focus_entity for m in d.measures)
        if target is not None and plain and target[1] == d.focus_entity \
                and d.focus_entity and _is_own_key(model, target[0][0], d.focus_entity):
            # "the name and age of every student", "... of every company ordered by their number of sales" (a
            # column of each row): all of them, no grouping
            continue
        if target is not None and target[1] == d.focus_entity and _is_own_key(model, target[0][0], target[1]) \
                and _names_table(model, d.p, target) and _extremes_of_own(d.measures, target[1]):
            continue  # "the minimum, maximum and average market value for every company": over all of them
        if target is not None and words[end - 1] == "by" and _named_one(d, target):
            continue  # "the albums by the artist 'AC/DC'": who made them, one of them; not a group per artist
        if target is not None:
            target = _and_another(model, d.p, target)
            d.groups.append(target)
            rival = _group_target(model, d.p, start, end, d.measures, not_tables={target[1]})
            if rival is not None and rival[2] == target[2] and not d.group_rivals:
                d.group_rivals.append((len(d.groups) - 1, rival))


def _each_at_the_end(model: SemanticModel, d: _Draft, start: int, end: int):
    """ "the names of the albums, and how many tracks are on each?": "each" closing the question groups by the
    table named before the count."""
    words = d.p.words
    if words[end - 1] not in ("each", "every") or (end < len(words) and words[end] not in ("?", ".", "!", ";")):
        return None
    measured = set().union(*(m.tokens for m in d.measures)) if d.measures else set()
    named = [l for l in d.p.links if l.kind == "entity" and l.score >= 0.8 and l.end <= min(measured, default=start)
             and not set(l.matched) & measured and l.table not in {m.table for m in d.measures}]
    if not named:
        return None
    link = min(named, key=lambda l: (l.start, -l.score))
    target = _group_target(model, d.p, link.start, link.start, d.measures)
    return (target[0], target[1], target[2] | set(range(start, end))) if target is not None else None


def _extremes_of_own(measures: list[_Measure], table: str) -> bool:
    """Whether every measure is a minimum, maximum or average of the table's own column (one per row would be the
    column itself)."""
    return bool(measures) and all(isinstance(m.expr, Agg) and m.expr.func in ("min", "max", "avg")
                                  and isinstance(m.expr.arg, Col) and m.expr.arg.table == table for m in measures)


def _names_table(model: SemanticModel, p: _Parse, target) -> bool:
    """Whether the grouping's words name its table (or a column spelt as the table), not another of its columns
    ("every company", not "each day of week")."""
    entity = model.entity(target[1])
    return any(l.kind == "entity" and l.table == target[1] and l.matched & target[2] for l in p.links) and not any(
        l.kind == "column" and l.table == target[1] and l.score >= 0.5 and l.matched & target[2]
        and model.attribute(l.table, l.column).words != entity.words for l in p.links)  # type: ignore[arg-type]


def _named_one(d: _Draft, target) -> bool:
    """Whether a value of the grouped table follows its name right away ("by the artist 'AC/DC'")."""
    after = max(target[2], default=-1) + 1
    return any(v.table == target[1] and v.start == after for v in d.p.values) or any(
        f.tables == {target[1]} and after in f.tokens for f in d.filters)


def _each_value_groups(model: SemanticModel, d: _Draft) -> None:
    """ "the average age of male and female students", "the number of male and female professors": every value of
    a column, joined by "and" under an aggregate, asks for the aggregate of each value side by side (kept to all
    rows, the comparison is what is left to ask): a group by the column. Some of its values ("the total budget of
    the Marketing and Finance departments") are one set of rows; so is "male or female"."""
    if d.groups or not d.measures or not all(_has_agg(m.expr) for m in d.measures) or d.top_one or d.sup_cues:
        return
    words = d.p.words
    for f in d.filters:
        c = f.condition
        if not (isinstance(c, InList) and not c.negate and isinstance(c.arg, Col) and len(f.tokens) >= 2):
            continue
        known = {v.lower() for v in model.attribute(c.arg.table, c.arg.column).values or ()}
        if not known or {str(v.value).lower() for v in c.values} != known:
            continue
        between = words[min(f.tokens):max(f.tokens) + 1]
        if "and" in between and "or" not in between and "both" not in words[max(0, min(f.tokens) - 3):min(f.tokens)]:
            d.groups.append(([c.arg], c.arg.table, set(f.tokens)))
            return


def _time_groups(model: SemanticModel, d: _Draft) -> None:
    """ "per month", "daily", "what month ...": a group by the time column's bucket."""
    buckets = d.buckets
    if d.time_head is not None:
        buckets = [TimeBucket(d.time_head[0], frozenset(d.time_head[1]))] + list(buckets)
    strong = {i for l in d.p.links if l.score >= 0.8 and l.complete and len(l.matched) > 1 for i in l.matched}
    grains: set[str] = set()
    for bucket in buckets:
        if any(bucket.tokens & g[2] for g in d.groups) or bucket.tokens & strong:
            continue  # "daily price" names a table, it asks for no days
        if bucket.grain in grains:
            continue  # "quarterly sales ... each quarter as its first date": one grouping by quarter
        grains.add(bucket.grain)
        time_col = _time_column(model, d.p, d.measures, d.focus_entity, near=min(bucket.tokens))
        if time_col is not None:
            attribute = model.attribute(time_col.table, time_col.column)
            expr: Expr = time_col if (attribute.grain in ("year", "month") and bucket.grain in ("year", "month")) \
                or (attribute.grain == "date" and bucket.grain == "day") else Bucket(bucket.grain, time_col)
            d.groups = [g for g in d.groups if not (len(g[0]) == 1 and g[0][0] == time_col)]
            d.groups.append(([expr], time_col.table, set(bucket.tokens)))


def _and_another(model: SemanticModel, p: _Parse, target):
    """ "for each rank and gender": the group's column and the one named after "and", both grouping (columns of
    one table, neither an amount)."""
    exprs, table, tokens = target
    end = max(tokens) + 1
    if not (len(exprs) == 1 and isinstance(exprs[0], Col) and p.words[end:end + 1] == ["and"]):
        return target
    start = end + 1 + (p.words[end + 1:end + 2] in (["the"], ["their"], ["its"]))
    for link in sorted(p.links, key=lambda l: -l.score):
        if link.kind == "column" and link.start == start and link.score >= 0.8 and link.table == exprs[0].table:
            attribute = model.attribute(link.table, link.column)  # type: ignore[arg-type]
            if attribute.role in ("dimension", "flag", "text", "label") and attribute.name != exprs[0].column:
                return [*exprs, Col(link.table, attribute.name)], table, set(tokens) | set(range(end, link.end))
            break
    return target


def group_by_focus_column(d: _Draft) -> None:
    """ "Which state has the most customers": the best of the focus column's values, each a group."""
    if d.focus_column is not None and d.focus_entity is None and (d.top_one or d.limit is not None) and not d.groups \
            and d.measures and all(_has_agg(m.expr) for m in d.measures):
        d.groups.append(([d.focus_column[0]], d.focus_column[0].table, d.focus_column[1]))


def _group_target(model: SemanticModel, p: _Parse, start: int, end: int, measures: list[_Measure], not_tables: set[str] = frozenset()):
    words = p.words
    home = {m.table for m in measures}

    def preference(link: Link) -> tuple:
        own_key = False
        if link.kind == "column":
            own_key = link.column in model.entity(link.table).key
        return (link.start, -round(link.score, 2), -len(link.matched), link.table not in home, not own_key)

    first_score = None
    for link in sorted(p.links, key=preference):
        if link.start < end or link.start > end + 3:
            continue
        if link.table in not_tables:
            first_score = link.score if first_score is None else first_score
            continue
        if first_score is not None and link.score < first_score - 0.05:
            return None  # only an equally good rival is another reading
        gap = [w for w in words[end:link.start] if w not in STOP_WORDS and w not in ("different", "individual", "respective", "unique")]
        if gap:
            continue
        if any(set(link.matched) & m.tokens for m in measures):
            continue
        tokens_used = set(range(start, end)) | set(link.matched)
        if home and any(model.path(t, link.table) is None for t in home):
            continue
        if link.kind == "entity":
            entity = model.entity(link.table)
            exprs: list[Expr] = [Col(entity.table, k) for k in entity.key] + [
                Col(entity.table, c) for c in entity.display if c not in entity.key]
            if not exprs:
                continue
            # a measure of another table grouped by an entity that a column of that table points at
            for m in measures:
                if m.table == entity.table:
                    continue
                ref = _reference_to(model, m.table, entity.table)
                # no name to show, or the name is the key the other table holds ("lakes per state" where a
                # lake row holds its state's name): group by that column, without the join
                natural = ref is not None and set(entity.display) <= set(entity.key) and ref in (
                    a.name for a in model.entity(m.table).attributes)
                if ref is not None and ((not entity.label and not entity.label_parts) or natural):
                    exprs = [Col(m.table, ref)]
                    return exprs, m.table, tokens_used
            return exprs, entity.table, tokens_used
        attribute = model.attribute(link.table, link.column)  # type: ignore[arg-type]
        col = Col(link.table, attribute.name)
        # "by country" where the measure's table has its own country column: use that one
        for m in measures:
            if m.table != link.table:
                alt = _same_named(model, m.table, attribute)
                if alt is not None:
                    return [Col(m.table, alt)], m.table, tokens_used
        if attribute.role == "time" and attribute.grain in ("date", "timestamp"):
            return [col], link.table, tokens_used
        return [col], link.table, tokens_used
    return None
