"""The measures phase: what each aggregate word applies to (a column, a table's rows or headline number), with
its alternatives; coordinated aggregates, the admin's metrics, first/last times and durations.
"""

from __future__ import annotations

from nl2sql.semantics.lexicon import STOP_WORDS, stem
from nl2sql.semantics.linking import Link, counted_things
from nl2sql.semantics.model import Attribute, SemanticModel
from nl2sql.semantics.plan import Agg, Col, Expr
from nl2sql.semantics.reading.comparisons import _average_filters
from nl2sql.semantics.reading.cues import SUPERLATIVES, _plural
from nl2sql.semantics.reading.parts import _Draft, _Measure, _measured, _Parse, _table_of
from nl2sql.semantics.reading.schema import _entity_of_reference, _main_quantity
from nl2sql.semantics.reading.timing import _durations, _time_extremes
from nl2sql.semantics.rules.coordination import aggregate_chains, coordinated_columns
from nl2sql.semantics.rules.metric import metrics_named
from nl2sql.semantics.rules.projection import DISTINCT_WORDS
from nl2sql.semantics.timewords import BUCKET_WORDS


def read_measures(model: SemanticModel, d: _Draft) -> None:
    """The measures: what each aggregate word applies to, the admin's metrics, first and last times, durations."""
    _aggregate_measures(model, d)
    d.measures = _coordinated_measures(model, d.p, d.agg_cues, d.measures)
    # "people shorter than average": each row against the mean of all, no average shown
    d.averaged = _average_filters(model, d.p, d.measures)
    if d.averaged:
        spent = set().union(*(f.tokens for f in d.averaged))
        d.measures = [m for m in d.measures if not (m.tokens & spent)]
        d.measure_alternatives = [[m for m in options if not (m.tokens & spent)]
                                  for options in d.measure_alternatives]
        d.measure_alternatives = [options for options in d.measure_alternatives if options]
    _metric_measures(model, d)
    # "what was the first order date", "when did the last payment happen": the earliest / latest time
    d.measures += _time_extremes(model, d.p, d.head, d.measures, d.limit_tokens)
    # "the time from admission to graduation", "days since the last order": durations
    d.durations = _durations(model, d.p)
    _duration_measures(d)


def _aggregate_measures(model: SemanticModel, d: _Draft) -> None:
    """An aggregate word and what it applies to: the best option, the others kept as alternatives."""
    for start, end, func in d.agg_cues:
        if any(start in m.tokens for m in d.measures):
            continue
        options = _measure_options(model, d.p, start, end, func)
        if options:
            same = next((m for m in d.measures if _measured(m.expr) == _measured(options[0].expr)
                         and _measured(m.expr) is not None
                         and (d.ratio_span is None or d.ratio_span.side(min(m.tokens)) == d.ratio_span.side(start))),
                        None)
            if same is not None and isinstance(same.expr, Agg) and isinstance(options[0].expr, Agg) \
                    and same.expr.func != options[0].expr.func and options[0].expr.func != "count":
                same = None  # "the minimum and the average age": two aggregates of one column
            if same is not None:
                same.tokens |= options[0].tokens  # the same quantity named twice ("ordered by the number of ...")
                same.implicit = same.implicit and options[0].implicit
                continue
            d.measures.append(options[0])
            d.measure_alternatives.append(options)


def _metric_measures(model: SemanticModel, d: _Draft) -> None:
    """The admin's metrics are what they measure, whatever aggregate words name them (rules/metric.py)."""
    d.named_metrics = metrics_named(model, d.p.words)
    if d.named_metrics:
        d.measures = sorted([m for m in d.measures if not any(m.tokens & f.tokens for f in d.named_metrics)] + [
            _Measure(f.definition.expr, f.definition.table, set(f.tokens), f.definition.output)  # type: ignore[union-attr]
            for f in d.named_metrics], key=lambda m: min(m.tokens, default=0))
        # a metric's words ask for an aggregate as "total" or "average" do ("revenue per category": grouped)
        d.agg_cues = d.agg_cues + [(min(f.tokens), max(f.tokens) + 1, "sum") for f in d.named_metrics]


def _duration_measures(d: _Draft) -> None:
    """An aggregate word shortly before a duration ("the average time from ... to ...") aggregates it."""
    for lasting, lasting_tokens, cue in d.durations:
        agg = next(((i, f) for i, _, f in d.agg_cues if cue - 4 <= i < cue), None)
        if agg is not None:
            d.measures = [m for m in d.measures if not (m.tokens & lasting_tokens) and agg[0] not in m.tokens]
            func = agg[1] if agg[1] != "count" else "avg"
            d.measures.append(_Measure(Agg(func, lasting), _table_of(lasting) or "", lasting_tokens | {agg[0]},
                                       f"{func}_duration"))


def _measured_counts(model: SemanticModel, p: _Parse, cues: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """ "the maximum and minimum number of cows" with a cows column: the maximum of the column, no count.
    A "number of" right after another aggregate word, before a numeric column's name, names that column."""
    out = []
    for k, (start, end, func) in enumerate(cues):
        previous = cues[k - 1] if k else None
        if func == "count" and previous is not None and previous[2] in ("max", "min", "avg", "sum") \
                and previous[1] == start and p.words[start] in ("number", "count") and any(
                    l.kind == "column" and l.start == end and l.score >= 0.7
                    and model.attribute(l.table, l.column).is_numeric  # type: ignore[arg-type]
                    and model.attribute(l.table, l.column).role == "measure"  # type: ignore[arg-type]
                    for l in p.links):
            continue
        if func == "count" and start and p.words[start - 1] in SUPERLATIVES and p.words[start] == "number" \
                and _quantity_at(model, p, end):
            continue  # "the largest number of followers" with a followers column: that column ranks, no count
        if func == "count" and p.words[start] in ("number", "numbers") and _names_a_column(model, p, start):
            continue  # "the phone number of employees", "the apartment numbers": a column, no count
        if func == "count" and p.words[start] in ("number", "numbers") and start \
                and p.words[start - 1] in NUMBER_NAMES:
            continue  # "the phone number of the performer" (a column Customer_Phone): a name, no count
        if func == "count" and p.words[start] in ("number", "numbers") and _count_column_at(model, p, start):
            continue  # "the number of rooms" with a room_count column: the column holds the count
        if func == "count" and "number" in p.words[start:end] and _counts_held(model, p, end):
            # "the total number of followers", with a followers column: their sum, no count of rows ("the number
            # of followers of each user": each user's own, one row each)
            out.append((start, end, "sum"))
            continue
        out.append((start, end, func))
    return out


# words before "number" that make it the name of one thing, not a count ("phone number", "room number")
NUMBER_NAMES = frozenset({"phone", "telephone", "fax", "mobile", "cell", "contact", "account", "card", "room",
                          "flight", "serial", "house", "street", "apartment", "invoice", "registration", "license",
                          "licence", "passport", "model", "part", "policy", "tracking", "reference", "vat", "tax",
                          "security", "identification", "id", "zip", "postal", "building", "office", "seat", "unit",
                          "order", "product", "version", "shirt", "jersey", "roll", "bank"})


def _count_column_at(model: SemanticModel, p: _Parse, index: int) -> bool:
    """A numeric column that holds a count is named from `index` ("number of rooms": room_count)."""
    return any(l.kind == "column" and l.start == index and l.complete and l.score >= 0.9 and len(l.matched) > 1
               and model.attribute(l.table, l.column).is_numeric  # type: ignore[arg-type]
               and model.attribute(l.table, l.column).role == "measure"  # type: ignore[arg-type]
               and counted_things(model.attribute(l.table, l.column).words)  # type: ignore[arg-type]
               for l in p.links)


def _quantity_at(model: SemanticModel, p: _Parse, start: int) -> bool:
    """A numeric measure column is named right at `start`."""
    return any(l.kind == "column" and l.start == start and l.score >= 0.7
               and model.attribute(l.table, l.column).is_numeric  # type: ignore[arg-type]
               and model.attribute(l.table, l.column).role == "measure"  # type: ignore[arg-type]
               for l in p.links)


def _counts_held(model: SemanticModel, p: _Parse, end: int) -> bool:
    """Whether the words right after "number of" name a numeric column that holds the count itself (a column
    "followers"), and no table of their own."""
    column = next((l for l in p.links if l.kind == "column" and l.start == end and l.complete and l.score >= 0.9),
                  None)
    if column is None:
        return False
    # (a table named by the same stem is no rival where the word is the column's own name as written: "followers"
    # with a followers column and a table "follows")
    spelt = column.end - column.start == 1 and p.words[end] == str(column.column).lower()
    if any(l.kind == "entity" and l.start == end and l.score >= 0.8 and not (
            spelt and model.entity(l.table).name.lower() != p.words[end]) for l in p.links):
        return False
    attribute = model.attribute(column.table, column.column)  # type: ignore[arg-type]
    return attribute.is_numeric and attribute.role == "measure" and attribute.kind == "integer"


def _names_a_column(model: SemanticModel, p: _Parse, index: int) -> bool:
    """Whether "number" at `index` ends the name of a column that is no amount, spelled by the words before it
    ("phone number": phone_number)."""
    return any(l.kind == "column" and l.score >= 0.85 and l.complete and max(l.matched) == index
               and min(l.matched) < index
               and model.attribute(l.table, l.column).role != "measure"  # type: ignore[arg-type]
               for l in p.links)


def _coordinated_measures(model: SemanticModel, p: _Parse, agg_cues, measures: list[_Measure]) -> list[_Measure]:
    """ "the minimum, average and maximum age": one measure per aggregate word over the shared column;
    "the average height and weight": the aggregate over each coordinated column (rules/coordination.py)."""
    out = list(measures)
    # "the maximum number of bathrooms": the count phrase is part of the column's name
    ordered = sorted(agg_cues)
    modifiers = {i for a, b in zip(ordered, ordered[1:]) if a[1] == b[0] and b[2] == "count" and a[2] != "count"
                 for i in range(b[0], b[1])}
    if modifiers:
        kept = [m for m in out if not (isinstance(m.expr, Agg) and m.expr.func in ("count", "count_distinct")
                                       and m.tokens & modifiers)]
        if kept:
            out = kept
    for chain in aggregate_chains(p.words, agg_cues):
        cue_tokens = {i for s, e, _ in chain for i in range(s, e)}
        found = next((m for m in out if isinstance(m.expr, Agg) and isinstance(m.expr.arg, Col)
                      and m.tokens & cue_tokens), None)
        if found is None:
            continue
        col = found.expr.arg
        attribute = model.attribute(col.table, col.column)
        if not attribute.is_numeric and any(f in ("sum", "avg") for _, _, f in chain):
            continue
        first = out.index(found)
        out = [m for m in out if not (m.tokens & cue_tokens)]
        made = [_Measure(Agg(f, col), found.table, (found.tokens - cue_tokens) | set(range(s, e)),
                         f"{f}_{col.column}") for s, e, f in chain]
        out[first:first] = made
    for m in list(out):
        if not isinstance(m.expr, Agg) or not isinstance(m.expr.arg, Col) or m.expr.func == "count_distinct":
            continue
        taken = set().union(*(x.tokens for x in out))
        for link in coordinated_columns(p.words, max(m.tokens) + 1, p.links, taken):
            attribute = model.attribute(link.table, link.column)  # type: ignore[arg-type]
            if m.expr.func in ("sum", "avg") and not attribute.is_numeric:
                break
            col = Col(link.table, attribute.name)
            out.insert(out.index(m) + 1, _Measure(Agg(m.expr.func, col), link.table, set(link.matched),
                                                  f"{m.expr.func}_{attribute.name}"))
            m.tokens |= set(range(max(m.tokens) + 1, link.start))
    return out


def _measure_options(model: SemanticModel, p: _Parse, start: int, end: int, func: str) -> list[_Measure]:
    """What an aggregate word at [start, end) applies to: the next column or entity named after it."""
    words = p.words
    candidates: list[tuple[float, _Measure]] = []
    # the word right after the aggregate word heads its phrase: "average GPA of students" is about GPA
    head = next((i for i in range(end, len(words)) if words[i] not in STOP_WORDS and p.tokens[i].kind == "word"), None)
    for link in p.links:
        overlap = set(link.matched) & set(range(start, end))
        if link.start < start and not overlap:
            continue
        gap = [i for i in range(end, link.start) if words[i] not in STOP_WORDS and p.tokens[i].kind == "word"]
        if link.start >= end and len(gap) > 2:
            continue
        if link.start > end + 5:
            continue
        if link.start > end and words[link.start - 1] in ("each", "per", "every"):
            continue  # "the number of students in each classroom": the classroom groups, it is not counted
        if link.kind == "column":
            found = _column_measure(model, p, link, start, end, func, head, overlap)
        else:
            found = _entity_measure(model, p, link, start, end, func, head, overlap)
        if found is not None:
            candidates.append(found)
    if func == "count" and head is not None:
        # "the number of Professors who ...", where Professor is a rank: the rows holding that value are counted
        for value in p.values:
            # ("how many engineers" with 'engineer' a job: a plural matches a little less, enough when nothing
            # else is named)
            if value.start == head and value.score >= (0.8 if candidates else 0.7) and _plural(p.tokens[head]):
                entity = model.entity(value.table)
                candidates.append((value.score + 0.05, _Measure(Agg("count"), value.table, set(range(start, end)),
                                                                f"number_of_{entity.name}")))
                break
    candidates.sort(key=lambda c: -c[0])
    return [m for _, m in candidates[:3]]


def _column_measure(model: SemanticModel, p: _Parse, link: Link, start: int, end: int, func: str, head: int | None,
                    overlap: set[int]) -> tuple[float, _Measure] | None:
    """The aggregate word applied to a column named after it (or a column whose name holds it)."""
    words = p.words
    attribute = model.attribute(link.table, link.column)  # type: ignore[arg-type]
    implicit = False
    if overlap:
        # the aggregate word is part of the column's name: "total credit", "number of enrolled"
        if not attribute.is_numeric or attribute.role in ("key", "reference"):
            return None  # "the number of professors" is no professor_number (an identifier)
        if func == "count" and set(link.matched) <= set(range(start, end)):
            return None  # "the total number of payments": "total" alone names no amount column here
        agg = {"count": attribute.aggregate, "sum": "sum"}.get(func, func)
        expr: Expr = Agg(agg, Col(link.table, attribute.name))
        score = link.score + 0.15
        implicit = all(i in link.matched or words[i] in STOP_WORDS for i in range(start, end))
        if head is not None and head not in link.matched and set(link.matched) <= set(range(start, end)):
            # "total revenue": "total" alone is no name for an amount column when a noun follows it
            score *= 0.6
    elif func == "count":
        counted = _column_count(model, p, link, attribute, start, head)
        if counted is None:
            return None
        expr, score, implicit = counted
    else:
        if not ((attribute.is_numeric and attribute.role in ("measure", "dimension"))
                or (func in ("min", "max") and attribute.role == "time")):
            return None
        expr = Agg(func, Col(link.table, attribute.name))
        score = link.score
    name = f"{'number' if func == 'count' and not implicit else func}_{attribute.name}"
    if isinstance(expr, Agg) and expr.arg is None:
        name = f"number_of_{model.entity(link.table).name}"
    if implicit:
        name = attribute.name
    if head is not None and head in link.matched:
        score += 0.15
    elif head is not None and link.start > head:
        score -= 0.1  # "total revenue amount": the phrase's head is a word this column does not answer to
    return (score - 0.02 * max(0, link.start - end),
            _Measure(expr, link.table, set(range(start, end)) | set(link.matched), name, implicit))


def _column_count(model: SemanticModel, p: _Parse, link: Link, attribute: Attribute, start: int,
                  head: int | None) -> tuple[Expr, float, bool] | None:
    """(expression, score, implicit) for a count word before a column: its distinct values, its sum, or rows."""
    words = p.words
    implicit = False
    if any(words[i] in DISTINCT_WORDS for i in range(max(start, link.start - 2), link.start)) \
            and attribute.role not in ("key", "reference", "label"):
        # "how many different advisors": its distinct values, whatever the column holds
        return Agg("count_distinct", Col(link.table, attribute.name)), link.score * 0.8, False
    if attribute.role != "measure" and any(words[i] in ("number", "numbers") and i + 1 < len(words)
                                           and words[i + 1] == "of" and min(link.matched) == i
                                           for i in link.matched):
        return None  # "count the number of apartment bookings": no apartment_number
    if attribute.role in ("key", "reference", "label") or attribute.name in model.entity(link.table).display:
        target_entity = _entity_of_reference(model, attribute)
        expr: Expr = Agg("count_distinct", Col(link.table, attribute.name))
        score = link.score * 0.7
        if target_entity is not None:
            score *= 0.9
    elif attribute.is_numeric and attribute.role == "measure" and attribute.words and (
            attribute.words[0] in (stem("number"), stem("count"), stem("total"))
            or attribute.words[-1] in (stem("count"), stem("total"))):
        expr = Agg("sum", Col(link.table, attribute.name))  # num_passengers, visitor_count
        score = link.score
        # "the largest number of bedrooms" with a bedroom_count column: each row's count ranks
        implicit = start > 0 and words[start - 1] in SUPERLATIVES
    elif attribute.is_numeric and attribute.role == "measure" and head is not None and head in link.matched and (
            words[start] in ("how", "total") or attribute.described.lower().startswith(("number of", "count of"))):
        # "how many units", "the total number of pages": the quantities add up
        expr = Agg("sum", Col(link.table, attribute.name))
        score = link.score * 0.9
    elif attribute.role in ("dimension", "text", "flag"):
        expr = Agg("count_distinct", Col(link.table, attribute.name))
        score = link.score * 0.55
    elif {p.tokens[i].stem for i in link.matched} <= set(model.entity(link.table).words):
        # "the number of payments": the word names the payments table as much as its amount
        expr = Agg("count")
        score = link.score * 0.6
    elif attribute.is_numeric and attribute.role == "measure":
        # "ordered by the number of sales" with a sales amount: the amount itself (summed when grouped), no count
        # of its values
        expr = Agg("sum", Col(link.table, attribute.name))
        score, implicit = link.score * 0.5, True
    else:
        expr = Agg("count", Col(link.table, attribute.name))
        score = link.score * 0.5
    return expr, score, implicit


def _entity_measure(model: SemanticModel, p: _Parse, link: Link, start: int, end: int, func: str, head: int | None,
                    overlap: set[int]) -> tuple[float, _Measure] | None:
    """The aggregate word applied to a table named after it: its rows counted, or its headline number."""
    words = p.words
    weak = link.score < 0.6 and not (func == "count" and link.score >= 0.3 and head in link.matched
                                     and _plural(p.tokens[head]))
    if overlap or weak or model.entity(link.table).bridge:
        return None
    entity = model.entity(link.table)
    if func != "count":
        # "the total of paid orders", "the average of payments": their headline number
        between = [i for i in range(end, link.start) if words[i] not in STOP_WORDS
                   and not any(i in v.span for v in p.values) and words[i] not in BUCKET_WORDS]
        if between:
            return None
        main = _main_quantity(entity)
        if main is None or any(w in ("number",) for w in words[start:end]):
            if func != "sum":
                return None
            expr = Agg("count")
            score = link.score * 0.5
        else:
            expr = Agg(func, Col(entity.table, main))
            score = link.score * 0.85
        tail = set()
        if isinstance(expr.arg, Col) and link.end < len(words) and words[link.end] in (
                "amount", "amounts", "value", "values", "figure", "figures"):
            tail = {link.end}  # "total revenue amount": one phrase
            score += 0.05
        if head is not None and head in link.matched:
            score += 0.15
        return (score - 0.02 * max(0, link.start - end), _Measure(
            expr, entity.table, set(range(start, end)) | set(link.matched) | tail,
            f"{func}_{main}" if isinstance(expr.arg, Col) else f"number_of_{entity.name}"))
    expr = Agg("count")
    score = link.score * 0.95 + (0.15 if head is not None and head in link.matched else 0)
    return (score - 0.02 * max(0, link.start - end),
            _Measure(expr, entity.table, set(range(start, end)) | set(link.matched), f"number_of_{entity.name}"))
