"""Comparisons with numbers as filters: "over 200", "at least 3 orders", "between 10 and 20", "taller than 1.85",
"shorter than average", "the student with ID 1004".
"""

from __future__ import annotations

from nl2sql.semantics.lexicon import STOP_WORDS, number_value
from nl2sql.semantics.model import SemanticModel
from nl2sql.semantics.plan import Agg, AnyOf, Between, Col, Compare, InList, Lit, Overall
from nl2sql.semantics.reading.cues import COMPARE_PHRASES, KEY_WORDS, _limit, _negated
from nl2sql.semantics.reading.parts import _Filter, _Having, _int_or, _Measure, _Parse
from nl2sql.semantics.rules.comparison import (
    TIMES_WORDS,
    overall_comparison,
    comparative,
    either_comparison,
    names_column_before,
    property_column,
)


def _compared(model: SemanticModel, p: _Parse, measures: list[_Measure], filters: list[_Filter]) -> list[_Filter]:
    """`filters` with the question's comparisons with numbers added ("over 200", "at least 3")."""
    words, n = p.words, len(p.tokens)
    compared = _number_filters(model, p, measures)
    # "more than 3 eliminations", "two or more storms": the number is a bar, not a value of some column that
    # happens to hold 3 (or a storm named 'Two')
    def numeric(i: int) -> bool:
        return p.tokens[i].kind == "number" or (p.tokens[i].kind == "word" and number_value(p.tokens, i) is not None)

    bars = {i for f in compared for i in f.tokens if numeric(i)}
    filters = [f for f in filters if not (f.tokens & bars and all(numeric(i) for i in f.tokens))]
    # "population over 1500 or less than 500": either comparison
    pairs = either_comparison([(f.condition, f.tokens) for f in compared], words)
    for a, b in pairs.items():
        compared[a] = _Filter(AnyOf((compared[a].condition, compared[b].condition)), compared[a].tables | compared[b].tables,
                              compared[a].tokens | compared[b].tokens | {i for i in range(n) if words[i] == "or" and min(
                                  compared[a].tokens | compared[b].tokens) < i < max(compared[a].tokens | compared[b].tokens)})
    compared = [f for k, f in enumerate(compared) if k not in pairs.values()]
    return filters + compared


def _number_filters(model: SemanticModel, p: _Parse, measures: list[_Measure]) -> list[_Filter]:
    """Each number (or "once", "twice") the question compares something with, as a filter."""
    out: list[_Filter] = []
    words = p.words
    taken = {i for w in p.windows for i in w.tokens}
    _, limit_tokens = _limit(p.tokens)
    for i, token in enumerate(p.tokens):
        if i in taken or (token.kind not in ("number", "word")):
            continue
        number = number_value(p.tokens, i)
        if number is None and words[i] in TIMES_WORDS:
            number = (TIMES_WORDS[words[i]], 1)  # "more than once", "at least twice"
        if number is None:
            continue
        value, used = number
        if token.kind == "word" and value < 1:
            continue
        op, cue = _comparison_op(model, p, i, used, limit_tokens)
        if op is None and i not in limit_tokens and token.kind == "number":
            keyed = _key_value(model, p, i, value)
            if keyed is not None:
                out.append(keyed)
                continue
        lead = _range_lead(words, i)
        if (op is None or lead > 1) and lead and i + used + 1 < len(words) and words[i + used] in ("and", "to"):
            between = _between_filter(model, p, i, value, used, measures, lead)
            if between is not None:
                out.append(between[0])
                taken |= between[1]
            continue
        if op is None and out and i >= 2 and words[i - 1] in ("or", ",") and _equal_to_number(out[-1], i - 2):
            # "in department 70 or 90": the same column, either number
            first = out[-1].condition
            out[-1] = _Filter(InList(first.left, (first.right, Lit(_int_or(value)))),  # type: ignore[union-attr]
                              out[-1].tables, out[-1].tokens | {i - 1, i}, out[-1].strength)
            continue
        if op is None:
            continue
        found = _compared_with(model, p, i, value, used, op, cue, measures)
        if found is not None:
            out.append(found)
    return out


def _equal_to_number(f: _Filter, index: int) -> bool:
    c = f.condition
    return isinstance(c, Compare) and c.op == "=" and isinstance(c.right, Lit) and index in f.tokens \
        and isinstance(c.right.value, int | float)


def _comparison_op(model: SemanticModel, p: _Parse, i: int, used: int,
                   limit_tokens: set[int]) -> tuple[str | None, set[int]]:
    """(operator, cue tokens) that compare the number at `i` ("more than", "at least", "or more", "taller than";
    a number right after a numeric column's name is equal to it); no operator when none does."""
    words = p.words
    op = None
    cue: set[int] = set()
    for phrase, symbol in COMPARE_PHRASES:
        k = len(phrase)
        if phrase in (("or", "more"), ("or", "less"), ("or", "fewer")):
            if tuple(words[i + used:i + used + k]) == phrase:
                op, cue = symbol, set(range(i + used, i + used + k))
                break
            continue
        # "over a 20000 enrollment size": an article may stand between the phrase and the number
        j = i - 1 if i and words[i - 1] in ("a", "an") else i
        if j - k >= 0 and tuple(words[j - k:j]) == phrase:
            op, cue = symbol, set(range(j - k, i))
            break
    if op is None:
        found = comparative(words, i)
        if found is not None:
            op, cue = found
    if op is None and i not in limit_tokens and p.tokens[i].kind == "number" and names_column_before(i, {
            l.end for l in p.links if l.kind == "column" and l.score >= 0.5 and (
                model.attribute(l.table, l.column).is_numeric  # type: ignore[arg-type]
                or model.attribute(l.table, l.column).role in ("key", "reference"))}, words):  # type: ignore[arg-type]
        op = "="
        if words[i - 1] in ("is", "equals", "was"):
            cue = {i - 1}
        # "artists above age 46", "rooms under price 100": the bound stands before the column's name
        bound = _bound_before_column(p, i)
        if bound is not None:
            op, cue = bound
    if op is None and i not in limit_tokens and _counts_column_after(model, p, i + used) \
            and not (i and p.tokens[i - 1].kind == "number"):
        op = "="  # "rooms with two beds", "courses with 1 credit": that many, in a column counting them
    if words[i + used:i + used + 2] in (["years", "old"], ["year", "old"]):
        # "students who are 18 years old", "over 20 years old": an age
        op, cue = op or "=", cue | {i + used, i + used + 1}
    return op, cue


_BOUNDS_BEFORE = {"above": ">", "over": ">", "exceeding": ">", "under": "<", "below": "<"}


def _bound_before_column(p: _Parse, i: int) -> tuple[str, set[int]] | None:
    """The operator of a bound word right before the column named just before the number at `i`."""
    for link in p.links:
        if link.kind == "column" and link.score >= 0.5 and link.end == i and link.start \
                and p.words[link.start - 1] in _BOUNDS_BEFORE:
            return _BOUNDS_BEFORE[p.words[link.start - 1]], {link.start - 1}
    return None


def _counts_column_after(model: SemanticModel, p: _Parse, at: int) -> bool:
    """Whether the words at `at` name a numeric measure column, in full ("two beds": beds)."""
    for link in p.links:
        if link.kind == "column" and link.start == at and link.complete and link.score >= 0.8:
            attribute = model.attribute(link.table, link.column)  # type: ignore[arg-type]
            if attribute.is_numeric and attribute.role == "measure":
                return True
    return False


# words that open a range of two numbers: "between 10 and 20", "in the range of 8000 and 12000", "from 5 to 9"
RANGE_LEADS = (("range", "of"), ("range", "from"), ("range", "between"), ("between",))


def _range_lead(words: list[str], i: int) -> int:
    """How many words before `i` open a range ("between": 1, "range of": 2); 0 when none does."""
    for lead in RANGE_LEADS:
        if i >= len(lead) and tuple(words[i - len(lead):i]) == lead:
            return len(lead)
    return 0


def _between_filter(model: SemanticModel, p: _Parse, i: int, value: float, used: int,
                    measures: list[_Measure], lead: int = 1) -> tuple[_Filter, set[int]] | None:
    """ "between 10 and 20", "in the range of 10 and 20": (the filter, the span of its words)."""
    upper = number_value(p.tokens, i + used + 1)
    if upper is None:
        return None
    target = _comparison_target(model, p, i - lead, i + used + 1 + upper[1], measures, value=value)
    if target is None or target[3]:
        return None
    low, high = sorted((value, upper[0]))
    condition = Between(target[0], Lit(_int_or(low)), Lit(_int_or(high)))
    span = set(range(i - lead, i + used + 1 + upper[1]))
    return _Filter(condition, target[1], span | target[2]), span


def _compared_with(model: SemanticModel, p: _Parse, i: int, value: float, used: int, op: str, cue: set[int],
                   measures: list[_Measure]) -> _Filter | None:
    """The filter comparing what the words around it name with the number at `i` (negated after "not")."""
    words = p.words
    if op == "=" and cue and words[min(cue)] == "of":
        # "a speed of 200" reads as equality only right after a column ("aged 30" etc. are rare)
        if not any(l.kind == "column" and l.end == min(cue) for l in p.links):
            return None
    negate = _negated(words, min(cue) if cue else i)
    if negate:
        op = {">": "<=", ">=": "<", "<": ">=", "<=": ">", "=": "<>"}[op]
    # "3 or more albums": the cue follows the number, and what is compared is named after the cue; only where
    # nothing is, before the number ("aged 60 or more")
    trailing = bool(cue) and min(cue) > i
    target = _comparison_target(model, p, -1, max(cue) + 1, measures, op, value) if trailing else None
    if target is None:
        # "above age 46": the column stands between the bound and the number
        start = i if not cue or _bound_before_column(p, i) else min(cue)
        target = _comparison_target(model, p, start, i + used, measures, op, value)
    named = list(dict.fromkeys(l.table for l in sorted(p.links, key=lambda l: -l.score)
                               if l.kind == "entity" and l.score >= 0.3))
    # "engineers older than 30" with engineer a job: the rows a value names are the subject too
    named += [v.table for v in sorted(p.values, key=lambda v: -v.score) if v.table not in named]
    near = named + [e.right for t in named for e in model.neighbours(t) if e.right not in named]
    measured = next((found for c in sorted(cue) if (found := property_column(model, near, words[c])) is not None),
                    None)
    verb: set[int] = set()
    if measured is None and cue and min(cue) >= 1:
        measured = property_column(model, near, words[min(cue) - 1])  # "weigh more than 80"
        verb = {min(cue) - 1}
    if measured is not None:
        # "entrepreneurs taller than 1.85": the comparative names the column (a height)
        target = (measured, {measured.table}, verb, False)
    if target is None:
        return None
    expr, tables, link_tokens, is_aggregate = target
    # a column named with an aggregate word ("max temperature") is compared row by row, unless the question says
    # the aggregate besides ("the average mean visibility")
    measured_here = next((m for m in measures if isinstance(m.expr, Agg) and m.expr.arg == expr
                          and m.tokens & link_tokens and (_said_aggregate(words, m.tokens - link_tokens) or not set(
                              model.attribute(expr.table, expr.column).words) & _AGGREGATE_NAMES)), None) \
        if isinstance(expr, Col) and not is_aggregate else None
    if measured_here is not None:
        # "zip codes whose average visibility is below 10": the average is compared (per group), not each row
        expr, is_aggregate = measured_here.expr, True
    condition = Compare(expr, op, Lit(int(value) if float(value).is_integer() else value))
    f = _Filter(condition, tables, cue | set(range(i, i + used)) | link_tokens)
    f.strength = 1.0
    if is_aggregate:
        f.condition = _Having(condition)  # type: ignore[assignment]
    return f


def _said_aggregate(words: list[str], tokens: set[int]) -> bool:
    """The question says an average or an extreme among `tokens` ("the average mean visibility")."""
    return any(words[i] in ("average", "mean", "avg", "maximum", "minimum", "max", "min", "total", "sum") for i in tokens)


# a column named with an aggregate word ("max_temperature", "total_medals") is compared row by row
_AGGREGATE_NAMES = frozenset({"mean", "max", "min", "maximum", "minimum", "total", "number", "num", "avg", "average",
                              "sum", "count"})


def _average_filters(model: SemanticModel, p: _Parse, measures: list[_Measure]) -> list[_Filter]:
    """ "people shorter than average", "salary above the average": the column against its overall mean
    (rules/comparison.py)."""
    out: list[_Filter] = []
    words = p.words
    for i in range(len(words)):
        found = overall_comparison(words, i)
        if found is None:
            continue
        op, cue, func = found
        named = list(dict.fromkeys(l.table for l in sorted(p.links, key=lambda l: -l.score)
                                   if l.kind == "entity" and l.score >= 0.3))
        measured = property_column(model, named, words[min(cue)])
        target = (measured, {measured.table}, set(), False) if measured is not None else \
            _comparison_target(model, p, min(cue), i + 1, [])
        if target is None or not isinstance(target[0], Col):
            continue
        col = target[0]
        condition = Compare(col, op, Overall(Agg(func, col)))
        out.append(_Filter(condition, set(target[1]), cue | set(target[2])))
    return out


def _key_value(model: SemanticModel, p: _Parse, index: int, value: float) -> _Filter | None:
    """ "the student with ID 1004", "order number 12": a number right after an identifier word is the key of
    the table named shortly before it."""
    words = p.words
    if index < 1 or words[index - 1] not in KEY_WORDS:
        return None
    if any(l.kind == "column" and l.end == index and len(l.matched) >= 2 and l.score >= 0.5 for l in p.links):
        return None  # "postal code 70174", "card number 456": a column of its own
    owners = [l for l in p.links if l.kind == "entity" and l.end <= index - 1 and index - 1 - l.end <= 3
              and l.score >= 0.6]
    if not owners:
        return None
    owner = max(owners, key=lambda l: (l.end, l.score))
    entity = model.entity(owner.table)
    if len(entity.key) != 1 or not model.attribute(owner.table, entity.key[0]).is_numeric:
        return None
    condition = Compare(Col(owner.table, entity.key[0]), "=", Lit(_int_or(value)))
    return _Filter(condition, {owner.table}, {index - 1, index} | set(owner.matched))


# the numbers a date may be compared with: years; a year column is no small count
YEARS = (1000, 2999)
SMALL_COUNT = 100


def _comparison_target(model: SemanticModel, p: _Parse, cue_start: int, after: int, measures: list[_Measure], op: str = ">",
                       value: float | None = None):
    """The column a comparison is about: named just before it, or just after the number ("5 orders"). A time is
    compared with a year, not a small count ("visited at least twice" counts the visits, no date is 2)."""
    best = None
    for link in p.links:
        counted = False
        if link.kind == "column":
            attribute = model.attribute(link.table, link.column)  # type: ignore[arg-type]
            if attribute.role == "reference" and link.complete and op != "=" and after <= link.start <= after + 1:
                # "students with at least two allergies" (has_allergy.allergy names the allergy): the rows that
                # hold the reference, counted
                counted = True
            elif not (attribute.is_numeric or attribute.role == "time"):
                continue
            if attribute.role == "time" and value is not None and not YEARS[0] <= value <= YEARS[1] \
                    and (not attribute.is_numeric or attribute.grain == "year" and value < SMALL_COUNT):
                continue  # ("more than one festival in a year": no year is 1)
            if not counted and attribute.role in ("key", "reference") and (link.start >= after or (
                    not link.complete and op != "=")):
                # "more than 2 customers", "events with over 2 records", "in charge of more than one patient"
                # (a column named patient): no identifier compared, the rows counted
                continue
        if link.end <= cue_start:
            if link.kind == "entity":
                continue  # "books cost more than 20": the books are the subject, not what is counted
            distance = cue_start - link.end
            gap = [w for w in p.words[link.end:cue_start] if w not in STOP_WORDS]
            if len(gap) > 2 or distance > 5:
                continue
            score = link.score - 0.1 * distance
            owner = [e for e in p.links if e.kind == "entity" and e.end <= link.start and link.start - e.end <= 4]
            if owner and max(owner, key=lambda e: e.end).table == link.table:
                score += 0.2  # "states with an area greater than": the states' area
        elif (start := _start_after(link, after)) is not None and start - after <= 2:
            score = link.score - 0.1 * (start - after) - 0.05
            subject = [e for e in p.links if e.kind == "entity" and e.end <= cue_start]
            if link.kind == "column" and subject and max(subject, key=lambda e: e.end).table == link.table:
                score += 0.2  # "states with fewer than 100000 people": the states' population
            if counted:
                score -= 0.1  # a table named as well is what is counted
        else:
            continue
        if link.kind == "column" and any(e.kind == "entity" and e.table == link.table and e.complete
                                         and e.matched < link.matched for e in p.links):
            score += 0.01  # "the document with id 3": the documents' own document_id, not a copy in another table
        if best is None or score > best[0]:
            best = (score, link, counted)
    if best is None:
        return None
    link = best[1]
    if best[2]:
        return Agg("count", Col(link.table, link.column)), {link.table}, set(link.matched), True  # type: ignore[arg-type]
    if link.kind == "column":
        return Col(link.table, link.column), {link.table}, set(link.matched), False  # type: ignore[arg-type]
    # "customers with more than 5 orders": a count of related rows
    return _rows_of(model, link.table), {link.table}, set(link.matched), True


def _start_after(link, after: int) -> int | None:
    """Where a link starts at or after `after`: its start; for a table named by words apart ("parties with at
    least 2 events" naming party_events), its first word there."""
    if link.start >= after:
        return link.start
    if link.kind == "entity":
        return min((i for i in link.matched if i >= after), default=None)
    return None


def _rows_of(model: SemanticModel, table: str) -> Agg:
    """A count of `table`'s rows through a join: its distinct keys; with a key of several columns (its first alone
    counts too few: "records" keyed by swimmer and event) the rows where the key's first column is set."""
    entity = model.entity(table)
    key = entity.key
    if not key:
        # a table without a key ("friends" kept as pairs of names): its rows where its first reference is set,
        # so that the count names the table it is taken over
        refs = [a.name for a in entity.attributes if a.role == "reference"]
        return Agg("count", Col(table, refs[0])) if refs else Agg("count")
    return Agg("count_distinct" if len(key) == 1 else "count", Col(table, key[0]))
