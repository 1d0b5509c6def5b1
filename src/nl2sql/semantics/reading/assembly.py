"""The draft's parts as candidate plans: SELECT, WHERE, GROUP BY, HAVING, ORDER BY and LIMIT put together for
each choice of measures, groups and filters, with each plan's score.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from nl2sql.semantics.lexicon import stem
from nl2sql.semantics.model import Entity, SemanticModel
from nl2sql.semantics.plan import Agg, AllOf, AnyOf, Bucket, Col, Compare, Condition, Expr, Match, Order, Output, QueryPlan
from nl2sql.semantics.reading.cues import ORDER_VERBS, _asks_ordering, _head_index, _output_segments, _plural
from nl2sql.semantics.reading.filters import _value_filter, either_conditions
from nl2sql.semantics.reading.parts import (
    _Absent,
    _Draft,
    _has_agg,
    _Having,
    _Measure,
    _name_of,
    _Parse,
    _strip_agg,
    _unique_outputs,
)
from nl2sql.semantics.reading.ratio import _ratio_expr, _ratio_span
from nl2sql.semantics.reading.showing import named_outside_ordering, owned, without_ranking_measures
from nl2sql.semantics.reading.schema import _absent, _as_column_of, _count_of, _is_own_key, _one_to_one
from nl2sql.semantics.rules.frequency import most_frequent_plans
from nl2sql.semantics.rules.projection import (
    asks_distinct,
    generic_outputs,
    owned_outputs,
    list_columns,
    set_of_values,
    shown_of_group,
)


def assemble_plans(model: SemanticModel, d: _Draft) -> list[tuple[QueryPlan, float, set[int]]]:
    """The draft's parts as scored plans, with the rival readings of its grouping words and of its first value."""
    p = d.p
    plans = list(_assemble(model, d, d.measure_alternatives, d.groups, d.filters))
    # the same grouping words, read as another table's column ("per full name": doctors' or patients')
    for k, rival in d.group_rivals:
        swapped = list(d.groups)
        swapped[k] = rival
        for plan, score, used in _assemble(model, d, [], swapped, d.filters):
            plans.append((plan, score * 0.95, used))
    # another column for the first value that could be in several
    for k, choices in enumerate(d.value_choices):
        if len(choices) > 1 and choices[1][0] >= choices[0][0] - 0.15:
            original = _value_filter(model, p, choices[0][1])
            swapped_filters = [_value_filter(model, p, choices[1][1]) if f.condition == original.condition else f
                               for f in d.filters]
            for plan, score, used in _assemble(model, d, [], d.groups, swapped_filters):
                plans.append((plan, score * 0.9, used))
            break
    # "the most common X": the value of X that most rows have
    conditions = [(f.condition, f.tokens) for f in d.filters if not isinstance(f.condition, _Having | _Absent)]
    for plan, score, used in most_frequent_plans(model, p.words, p.links, conditions, set(range(d.head))):
        plans.append((plan, score * _link_quality(p, used), used))
    return plans


def _assemble(model: SemanticModel, d: _Draft, measure_alternatives, groups, filters):
    """Plans of the draft's parts, with `groups` and `filters` as given: its measures, then an alternative for
    each of the first two, and a looser text match where an exact one may miss."""
    p, focus, measures = d.p, d.focus_entity, d.measures
    words = p.words
    outputs_asked = _asked_outputs(model, p, d.head, focus, measures, groups, filters)
    options = [measures]
    for i, alternatives in enumerate(measure_alternatives[:2]):
        for alternative in alternatives[1:2]:
            options.append([alternative if k == i else m for k, m in enumerate(measures)])
    ratio = _ratio_span(words, p.links, model)
    for variant, chosen in enumerate(options):
        plan, used = _build(model, p, focus, d.focus_tokens, chosen, groups, filters, d.order_by, d.limit,
                            d.limit_tokens, d.top_one, outputs_asked, ratio)
        if plan is None:
            continue
        score = 1.0 - 0.12 * variant
        yield plan, score * _link_quality(p, used), used
        if plan.where is not None and any(isinstance(f.condition, Match) and f.condition.mode == "equals" for f in filters):
            loose = _loosen(plan)
            if loose is not None:
                yield loose, score * 0.9 * _link_quality(p, used), used


def _asked_outputs(model: SemanticModel, p: _Parse, head: int, focus: str | None, measures, groups, filters) -> list[tuple[Col, set[int]]]:
    """Columns the question asks to see: "the names and areas of the lakes", "return the id, name and ..."."""
    out: list[tuple[Col, set[int]]] = []
    used_elsewhere = set().union(*(m.tokens for m in measures), *(g[2] for g in groups), *(f.tokens for f in filters)) \
        if (measures or groups or filters) else set()
    words = p.words
    segments = _output_segments(words, head)
    id_words = {"id", "ids", "code", "codes", "key", "number", "numbers", "no"}
    # among equally good names, the listed table's own column ("ticker ID" of tickers, not of prices)
    # ... and of two that start together, the one naming more words ("bed type" for bed_type, not beds)
    for link in sorted(p.links, key=lambda l: (-round(l.score, 2), l.table != focus, l.start, -len(l.matched))):
        if link.kind != "column" or link.score < (0.3 if link.table == focus and link.complete
                                                  else 0.55 if link.table == focus else 0.75):
            continue
        if set(link.matched) & used_elsewhere:
            continue
        if not any(a <= link.start < b for a, b in segments):
            continue
        attribute = model.attribute(link.table, link.column)  # type: ignore[arg-type]
        if attribute.role in ("key", "reference") and not id_words & {words[i] for i in link.matched}:
            continue
        if focus and link.table != focus and not model.path(focus, link.table):
            continue
        col = Col(link.table, attribute.name)
        if any(c == col for c, _ in out):
            continue
        if any(set(link.matched) & t for _, t in out):
            continue
        out.append((col, set(link.matched)))
    taken = used_elsewhere.union(*(t for _, t in out))
    stems = [t.stem for t in p.tokens]
    named: dict[int, set[str]] = {}
    for link in p.links:
        if link.kind == "entity" and link.score >= 0.9:
            for i in link.matched:
                named.setdefault(i, set()).add(link.table)
    owners = {i: next(iter(tables)) for i, tables in named.items() if len(tables) == 1}  # one table named there
    for col, tokens in generic_outputs(model, words, stems, segments, focus, taken) \
            + owned_outputs(model, words, stems, segments, focus, owners, taken):
        same = next((t for c, t in out if c == col), None)
        if same is None:
            out.append((col, tokens))
        else:
            same |= tokens  # "the full names": "names" already linked the name columns, "full" says both
    return sorted(out, key=lambda o: min(o[1], default=0))


@dataclass
class _Shape:
    """The plan `_build` is putting together: what it reads from, shows, groups, filters and orders so far."""

    p: _Parse
    focus: str | None
    focus_tokens: set[int]
    measures: list[_Measure]
    groups: list
    order_by: list
    asked: list
    used: set[int]
    base: str = ""
    entity: Entity | None = None
    ratio_expr: tuple | None = None
    aggregated: bool = False
    select: list[Output] = field(default_factory=list)
    group_by: list[Expr] = field(default_factory=list)
    where: list[Condition] = field(default_factory=list)
    having: list[Condition] = field(default_factory=list)
    via: list[str] = field(default_factory=list)


def _build(model: SemanticModel, p, focus, focus_tokens, measures, groups, filters, order_by, limit, limit_tokens,
           top_one, asked, ratio):
    """One plan of the given parts (None when they show nothing), with the question's words it used."""
    s = _Shape(p, focus, focus_tokens, measures, groups, order_by, asked,
               set(focus_tokens) | set(limit_tokens) | set(p.used))
    tables_mentioned = _tables_mentioned(model, p, groups, measures, order_by, filters)
    if ratio is not None:
        s.ratio_expr = _ratio_expr(model, p, ratio, measures, filters, focus, grouped=bool(groups))
        if s.ratio_expr is not None:
            s.used |= s.ratio_expr[1]
    _plain_measures(s, set().union(*(f.tokens for f in filters)) if filters else set())
    base = s.measures[0].table if s.measures else s.focus
    if base is None and not s.groups and s.order_by:
        # "the author of the submission with the highest score": no count per author after all; the rows of the
        # table whose column is asked (or ranks them) are the answer's
        named = [c for c, _ in s.asked] + [e for e, _, _ in s.order_by if isinstance(e, Col)]
        if named:
            base = s.focus = named[0].table
    if s.ratio_expr is not None and s.ratio_expr[2]:
        base = s.ratio_expr[2][0]
    if base is None:
        return None, s.used
    s.base, s.entity = base, model.entity(base)
    # "the number of unique customers" beside sales' totals: customers counted once each, not sales
    s.measures = [replace(m, expr=_count_of(model, m.expr, m.table, s.base))
                  if isinstance(m.expr, Agg) and m.table != s.base else m for m in s.measures]
    _apply_filters(model, s, filters, tables_mentioned)
    _apply_groups(model, s)
    if not _show_measures(s):
        return None, s.used
    _show_asked(model, s, limit, top_one)
    orders, keys, final_limit = _ordering(model, s, limit, limit_tokens, top_one)
    return _finish(model, s, orders, keys, final_limit)


def _tables_mentioned(model: SemanticModel, p: _Parse, groups, measures=(), order_by=(), filters=()) -> list[str]:
    """The tables the question names for themselves, in its order."""
    # a table named only to group by a column that points at it ("lakes per state") needs no join
    grouped_by_reference = {i for exprs, table, tokens in groups for i in tokens}
    # ... or only inside a condition on another table's column ("employees in department 80": the employees'
    # department_id compared)
    grouped_by_reference |= {i for f in filters if isinstance(f.condition, Compare) and isinstance(
        f.condition.left, Col) and model.attribute(f.condition.left.table, f.condition.left.column).role == "reference"
        for i in f.tokens}
    # a table named inside a measured column's name ("the average number of hosts" is party.number_of_hosts):
    # the word names the column, not the hosts
    measured = {i: m.table for m in measures if isinstance(m.expr, Agg) and isinstance(m.expr.arg, Col)
                for i in m.tokens}
    # ... and so is one inside the ordering column's name ("ordered by the number of hosts")
    measured |= {i: e.table for e, _, tokens in order_by if isinstance(e, Col) for i in tokens if i not in measured}
    return [l.table for l in sorted(p.links, key=lambda l: l.start)
            if l.kind == "entity" and l.score >= 0.85 and l.complete
            and not model.entity(l.table).bridge
            and not (l.matched and all(measured.get(i) not in (None, l.table) for i in l.matched))
            and not (set(l.matched) & grouped_by_reference
                     and all(t != l.table for _, t, tk in groups if set(l.matched) & tk))]


def _plain_measures(s: _Shape, compared: set[int]) -> None:
    """ "the publications with the highest number of citations": a column of each row, not a sum. One a condition
    compares ("the dates when the max temperature was over 85") is no part of the answer."""
    if s.measures and all(m.implicit for m in s.measures) and not s.groups and (s.focus is None or all(
            m.table == s.focus for m in s.measures)):
        plain = {m.expr: _strip_agg(m.expr) for m in s.measures}
        s.order_by = [(plain.get(e, e), d, t) for e, d, t in s.order_by]
        s.asked = list(s.asked) + [(plain[m.expr], m.tokens) for m in s.measures if isinstance(plain[m.expr], Col)
                                   and not m.tokens <= compared]
        s.used |= set().union(*(m.tokens for m in s.measures))
        s.focus = s.focus or s.measures[0].table
        s.measures = []


def _apply_filters(model: SemanticModel, s: _Shape, filters, tables_mentioned: list[str]) -> None:
    """The filters as WHERE and HAVING conditions; the tables they and the question name, joined."""
    filters = either_conditions(filters, s.p.words)  # "height over 5000 or prominence over 1000"
    for f in filters:
        s.used |= f.tokens
        if isinstance(f.condition, _Having):
            s.having.append(f.condition.condition)
        elif isinstance(f.condition, _Absent):
            cond = _absent(model, s.base, f.condition.table)
            if cond is not None:
                s.where.append(cond)
        else:
            if s.ratio_expr is not None and f.condition in s.ratio_expr[3]:
                continue
            s.where.append(f.condition)
    absent = {f.condition.table for f in filters if isinstance(f.condition, _Absent)}
    # "hosts who did not serve as a host of any party": the tables the negation names are not joined
    denied = set().union(*(f.tokens for f in filters if isinstance(f.condition, _Absent)))
    absent |= {l.table for l in s.p.links if l.kind == "entity" and l.matched and set(l.matched) <= denied}
    for table in tables_mentioned:
        if table not in s.via and table not in absent:
            s.via.append(table)


def _apply_groups(model: SemanticModel, s: _Shape) -> None:
    """The groups as GROUP BY (and their keys shown), or one row each where a group is a row of the base."""
    words = s.p.words
    s.aggregated = bool(s.measures) or s.ratio_expr is not None and _has_agg(s.ratio_expr[0])
    if s.groups and not s.aggregated:
        # grouping words without an aggregate: the focus entity is counted ("courses per department")
        counted = s.focus if s.focus and all(s.focus != g[1] or model.entity(s.focus).key != [] for g in s.groups) \
            else None
        if counted is not None and not all(_is_own_key(model, g[0], counted) for g in s.groups):
            s.measures = [_Measure(Agg("count"), counted, set(), f"number_of_{model.entity(counted).name}")]
            s.base = counted
            s.entity = model.entity(s.base)
            s.aggregated = True
    kept_groups = []
    for exprs, table, tokens in s.groups:
        per_own = tokens and words[min(tokens)] == "per" and all(_is_own_key(model, e, s.base) for e in exprs)
        if per_own and s.aggregated:
            s.used |= tokens  # "per order item" over order items: the average is over its rows already
            continue
        kept_groups.append((exprs, table, tokens))
    s.groups = kept_groups
    for exprs, table, tokens in s.groups:
        s.used |= tokens
        if s.aggregated:
            # (rows counted per a name of theirs are rows sharing that name: "which month has the most happy hours")
            counted_by_name = any(isinstance(m.expr, Agg) and m.expr.func == "count" and m.expr.arg is None
                                  for m in s.measures) and any(
                isinstance(e, Col) and (e.column,) != tuple(s.entity.key) for e in exprs)
            if all(_is_own_key(model, e, s.base) for e in exprs) and not counted_by_name and not any(
                    _has_agg(m.expr) and m.table != s.base for m in s.measures):
                # "for each course" when every row is one course: no grouping, one row each
                for e in exprs:
                    s.select.append(Output(_name_of(e), e))
                s.group_by = []
                s.aggregated = False
                s.measures = [_Measure(_strip_agg(m.expr), m.table, m.tokens, m.name) for m in s.measures]
                if s.ratio_expr is not None:
                    s.ratio_expr = (_strip_agg(s.ratio_expr[0]), s.ratio_expr[1], s.ratio_expr[2], s.ratio_expr[3])
                continue
        for e in exprs:
            if not s.aggregated or e in shown_of_group(model, exprs, {stem(w) for w in words}):
                s.select.append(Output(_name_of(e), e))
            if s.aggregated:
                s.group_by.append(e)


def _show_measures(s: _Shape) -> bool:
    """The measures (or the ratio) shown; False when the parts show nothing at all."""
    if s.ratio_expr is not None:
        s.select.append(Output("ratio", s.ratio_expr[0]))
        for m in s.measures:
            s.used |= m.tokens
    else:
        for m in s.measures:
            s.used |= m.tokens
            s.select.append(Output(m.name, m.expr))
    return bool(s.select or not (s.measures or s.groups or s.ratio_expr is not None))


# words that join a listed column to an aggregate shown beside it ("the buildings along with the number of ...")
_LISTED_WITH = frozenset({"and", "with", ",", "together", "along", "plus"})


def _show_asked(model: SemanticModel, s: _Shape, limit, top_one) -> None:
    """The columns the question asks to see, as the shape of the plan allows them."""
    if not s.measures and s.ratio_expr is None and not s.groups:
        _list_outputs(model, s)  # a question about a list ("which authors ...", "what are the titles ...")
    elif s.aggregated and s.focus and s.focus != s.base and not s.groups and (top_one or limit is not None):
        _best_of_focus(model, s)
    elif s.aggregated and s.asked and not s.groups:
        # "which studios have an average gross above 4500000": the asked column is what the compared aggregate
        # is per, though no word names the rows themselves
        shown = False
        measured = min((min(m.tokens) for m in s.measures if m.tokens), default=len(s.p.words))
        for c, t in s.asked:
            # "show different publishers together with the number of publications": listed, then counted
            listed = min(t) < measured and any(w in _LISTED_WITH for w in s.p.words[min(t) + 1:measured])
            if c.table == s.focus and (s.focus_tokens or s.having or listed) and model.attribute(
                    c.table, c.column).role in ("label", "key", "text", "dimension"):
                s.used |= t
                s.select.insert(0, Output(c.column, c))
                s.group_by.insert(0, c)
                shown = True
        if shown and s.having and not s.focus_tokens:
            # ... and the aggregate only picks the studios: it is not asked to be seen
            compared = {h.left for h in s.having if isinstance(h, Compare)}
            s.select = [o for o in s.select if o.expr not in compared] or s.select
    elif s.aggregated and s.asked and s.group_by:
        _asked_group_columns(model, s)


def _list_outputs(model: SemanticModel, s: _Shape) -> None:
    """A list of rows: the columns asked, else the focus entity's own."""
    words = s.p.words
    focus_entity = model.entity(s.focus) if s.focus else s.entity
    for c, t in s.asked:
        s.used |= t
    first = _output_segments(words, _head_index(words))[0]
    in_columns = {i for _, t in s.asked for i in t}
    rows_asked = any(first[0] <= i < first[1] and i not in in_columns for i in s.focus_tokens)
    s.select = [Output(c.column, c) for c in list_columns(
        model, focus_entity.table, rows_asked=rows_asked, distinct=asks_distinct(words),
        asked=[c for c, t in sorted(s.asked, key=lambda a: min(a[1]))])]
    s.base = focus_entity.table
    s.entity = focus_entity
    if s.having:  # one group per row listed: its key too, so that two rows with one name stay two
        names = any(isinstance(o.expr, Col) and o.expr.table == s.base and o.expr.column in s.entity.display
                    for o in s.select)
        s.group_by = [Col(s.base, k) for k in s.entity.key if names] + [o.expr for o in s.select]
        s.aggregated = True


def _best_of_focus(model: SemanticModel, s: _Shape) -> None:
    """ "which author has the most publications": the measure per focus entity, the best one."""
    focus = s.focus
    focus_entity = model.entity(focus)
    keys = [Col(focus, k) for k in focus_entity.key] + [Col(focus, c) for c in focus_entity.display
                                                        if c not in focus_entity.key]
    counted = set().union(*(m.tokens for m in s.measures)) if s.measures else set()
    named = [(_as_column_of(model, c, focus), t) for c, t in sorted(s.asked, key=lambda a: min(a[1]))
             if _as_column_of(model, c, focus).table == focus and not t <= counted]
    if named and focus_entity.key:
        # "the name and capacity of the dorm with the fewest amenities": the columns asked, per dorm
        s.used |= set().union(*(t for _, t in named))
        s.select = [Output(c.column, c) for c, _ in named] + s.select
        s.group_by = list(dict.fromkeys([Col(focus, k) for k in focus_entity.key] + [c for c, _ in named])) \
            + s.group_by
    else:
        s.select = [Output(_name_of(k), k) for k in shown_of_group(model, keys, {stem(w) for w in s.p.words})] \
            + s.select
        s.group_by = keys + s.group_by


def _asked_group_columns(model: SemanticModel, s: _Shape) -> None:
    """ "top car models by revenue, return the make, model and ...": the make is a grouping column too."""
    grouped_tables = {e.table for e in s.group_by if isinstance(e, Col)}
    measure_tokens = set().union(*(m.tokens for m in s.measures)) if s.measures else set()
    at = next((k for k, o in enumerate(s.select) if o.expr == s.group_by[0]), 0)
    # grouped by a table's key, any of its columns is one value per group
    by_key = {e.table for e in s.group_by if isinstance(e, Col) and e.column in model.entity(e.table).key}
    for c, t in s.asked:
        if c.table in grouped_tables and c not in s.group_by and not (t & measure_tokens) and (
                c.table in by_key or model.attribute(c.table, c.column).role in ("label", "text", "dimension")):
            s.used |= t
            s.select.insert(at, Output(c.column, c))
            s.group_by.insert(at, c)
            at += 1


def _ordering(model: SemanticModel, s: _Shape, limit, limit_tokens, top_one):
    """(ORDER BY, ordering keys to show and whether the question named them, the row limit)."""
    words = s.p.words
    orders: list[Order] = []
    keys: list[tuple[Output, bool]] = []
    for expr, desc, tokens in s.order_by:
        s.used |= tokens
        if _has_agg(expr) and not s.aggregated:
            expr = _strip_agg(expr)
        orders.append(Order(expr, desc))
        if not s.select:  # an ordering key is shown when nothing else is
            if not _has_agg(expr) or s.aggregated:
                s.select.append(Output(_name_of(expr), expr))
        elif not any(o.expr == expr for o in s.select) and not (
                isinstance(expr, Col) and s.aggregated and expr not in s.group_by):
            if not _has_agg(expr) or s.aggregated:
                # "the 5 largest lakes": their areas are part of the answer; "ordered by budget" and "the
                # title of the longest book" ask for no budget or length (decided once the limit is known)
                explicit = any(words[i] in ORDER_VERBS | {"order", "according"} for i in tokens if i < len(words))
                keys.append((Output(_name_of(expr), expr), explicit))
    if s.aggregated and s.group_by:
        for o in orders:
            if not _has_agg(o.expr) and o.expr not in s.group_by:
                s.group_by.append(o.expr)
    if not orders and limit is None and s.aggregated:
        # a trend ("per month", "daily totals") reads in time order
        timeline = [e for e in s.group_by if isinstance(e, Bucket) or (
            isinstance(e, Col) and model.attribute(e.table, e.column).role == "time")]
        if timeline:
            orders.append(Order(timeline[0], False))
    final_limit = limit
    if final_limit is None and top_one and orders and not limit_tokens:
        focus_token = next((s.p.tokens[i] for i in sorted(s.focus_tokens)), None) if s.focus_tokens else None
        # "what is the headquarters of ...": the verb says one, whatever the noun's ending
        singular = words[:2] in (["what", "is"], ["what", "was"], ["who", "is"], ["who", "was"], ["which", "is"])
        plural = focus_token is not None and _plural(focus_token) and not singular
        if not plural and not _asks_ordering(words):
            final_limit = 1
    return orders, keys, final_limit


def _finish(model: SemanticModel, s: _Shape, orders: list[Order], keys, final_limit):
    """The plan, with DISTINCT where joins repeat rows or the question asks for it."""
    words, base = s.p.words, s.base
    # a join repeats rows only where a row of the base has several rows of the joined table
    joined = any(t != base and t in model.entities and model.path(base, t) is not None
                 and not _one_to_one(model, base, t) for t in s.via)
    # "the countries of the mountains", "each mountain's country": the rows' values, one per row; "what cities
    # do students live in", "show all majors", "the studios that have produced films with ...": the set of values
    table_named = any(l.kind == "entity" and l.score >= 0.8 and (l.table == base or l.table in s.via)
                      and owns(words, l.start, l.end) for l in s.p.links)
    # rows of a list repeated by joins to filter tables, or asked once each: list each once
    distinct = not s.aggregated and (asks_distinct(words) or joined or set_of_values(
        model, [o.expr for o in s.select if isinstance(o.expr, Col)], table_named))
    named = any(t and (not t <= s.focus_tokens or owned(s.p, t)) for _, t in s.asked)
    if not named or final_limit is not None and final_limit > 1:
        # "the 5 largest lakes", "which state has the most customers", "the most expensive product": what ranks
        # the rows is part of the answer (their areas, how many customers, its price)
        select = s.select + [o for o, explicit in keys if not explicit]
    else:
        # "the title of the longest book", "the name of the activity with the most members": the question names
        # what it wants to see of the top row; what picks the row is no part of the answer unless the question
        # names it apart from ranking by it ("... and how many does it have?")
        select = s.select + [o for o, explicit in keys
                             if not explicit and named_outside_ordering(s.p, s.order_by, o.expr)]
        select = without_ranking_measures(s.p, s.measures, s.order_by, orders, select)
    if distinct:
        # SELECT DISTINCT can only be ordered by what it shows
        select += [Output(_name_of(o.expr), o.expr) for o in orders if not any(x.expr == o.expr for x in select)]
    if not select:
        return None, s.used  # nothing to show (a bridge table listed for its own sake): no reading
    where = list(dict.fromkeys(s.where))
    having = list(dict.fromkeys(s.having))
    plan = QueryPlan(
        base=base,
        select=tuple(_unique_outputs(select)),
        where=(where[0] if len(where) == 1 else AllOf(tuple(where))) if where else None,
        group_by=tuple(dict.fromkeys(s.group_by)),
        having=(having[0] if len(having) == 1 else AllOf(tuple(having))) if having else None,
        order_by=tuple(orders),
        limit=final_limit,
        distinct=distinct and not s.group_by,
        via=tuple(t for t in s.via if t in model.entities and model.path(base, t) is not None),
    )
    return plan, s.used


# what stands before a table named as the owner of the values listed ("of all the", "for each")
_OWNING = (("of",), ("of", "the"), ("of", "all"), ("of", "all", "the"), ("of", "each"), ("of", "every"), ("each",),
           ("every",), ("for", "each"), ("for", "every"))


def owns(words: list[str], start: int, end: int) -> bool:
    """The table named at words[start:end] owns the values listed: "the countries of (all) the mountains",
    "each mountain's country", "for every mountain"."""
    return any(tuple(words[max(0, start - len(lead)):start]) == lead for lead in _OWNING) \
        or words[end - 1].endswith("'s") or words[end:end + 1] == ["'"]


def _link_quality(p: _Parse, used: set[int]) -> float:
    scores = [l.score for l in p.links if set(l.matched) & used]
    return 0.6 + 0.4 * (sum(scores) / len(scores)) if scores else 0.7


def _loosen(plan: QueryPlan) -> QueryPlan | None:
    """The same plan with exact text matches relaxed to case-insensitive containment."""
    def relax(c):
        if isinstance(c, Match) and c.mode == "equals":
            return Match(c.arg, c.text, "contains", c.negate)
        if isinstance(c, AllOf):
            return AllOf(tuple(relax(i) for i in c.items))
        if isinstance(c, AnyOf):
            return AnyOf(tuple(relax(i) for i in c.items))
        return c
    if plan.where is None:
        return None
    loose = relax(plan.where)
    return replace(plan, where=loose) if loose != plan.where else None
