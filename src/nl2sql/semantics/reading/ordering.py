"""The ordering phase: superlatives ("the X with the highest Y", "the longest rivers") and ordering cues
("ordered by X", "in descending order", "alphabetically").
"""

from __future__ import annotations

from nl2sql.semantics.lexicon import STOP_WORDS, singular, stem
from nl2sql.semantics.model import SemanticModel
from nl2sql.semantics.plan import Agg, Bucket, Col, Expr
from nl2sql.semantics.reading.cues import ADJECTIVE_PROPERTIES, TIME_ADJECTIVES, _output_segments
from nl2sql.semantics.reading.parts import _Draft, _Measure, _Parse
from nl2sql.semantics.reading.schema import _main_quantity, _one_to_one
from nl2sql.semantics.rules.projection import GENERIC_ASKED


def read_superlatives(model: SemanticModel, d: _Draft) -> None:
    """Superlatives: "the X with the highest Y", "the most Z", "longest rivers"."""
    words = d.p.words
    for index, desc in d.sup_cues:
        if any(index in m.tokens for m in d.measures) and words[index] in (
                "maximum", "max", "minimum", "min", "earliest", "latest", "newest", "oldest"):
            continue
        per_group = _superlative_per_group(model, d.p, index, desc, d.groups, d.limit, d.measures)
        if per_group is not None:
            d.measures.append(per_group)  # "for each city, the highest latitude": MAX(latitude) per city
            continue
        lasting = next(((e, t) for e, t, cue in d.durations if index < cue <= index + 4), None)
        if lasting is not None:
            # "the shortest duration between departure and arrival": that difference orders the rows
            d.order_by.append((lasting[0], desc, lasting[1] | set(range(index, index + 3))))
            d.top_one = True
            continue
        target = _superlative_target(model, d.p, index, desc, d.measures, d.focus_entity) \
            or _predicate_target(words, index, d.measures)
        if target is None:
            continue
        expr, tokens_used, as_measure = target
        if as_measure is not None and not any(m.expr == as_measure.expr for m in d.measures):
            d.measures.append(as_measure)
        if words[index] in ("oldest", "youngest") and isinstance(expr, Col) \
                and model.attribute(expr.table, expr.column).role != "time":
            desc = words[index] == "oldest"  # an age, not a date: the oldest have the most years
        d.order_by.append((expr, desc, tokens_used | {index}))
        d.top_one = True


def _predicate_target(words: list[str], index: int, measures: list[_Measure]):
    """ "the zip code in which the average pressure is the lowest": a superlative that ends its clause after "is
    the" ranks by the measure named before it."""
    ends = index + 1 >= len(words) or words[index + 1] in (".", "?", "!", ",", ";", "and")
    if not ends or index < 2 or words[index - 1] != "the" or words[index - 2] not in ("is", "are", "was", "were"):
        return None
    before = [m for m in measures if m.tokens and max(m.tokens) < index - 2]
    if not before:
        return None
    measure = max(before, key=lambda m: max(m.tokens))
    return measure.expr, set(measure.tokens) | {index - 2, index - 1}, None


def read_order(model: SemanticModel, d: _Draft) -> None:
    """ "ordered by X", "in descending order", "alphabetically": the ordering key and direction."""
    if d.order is None:
        return
    words, order_by = d.p.words, d.order_by
    key_index, desc, used = d.order
    if key_index is not None:
        target = _order_target(model, d.p, key_index, d.measures, d.focus_entity, d.groups)
        if target is not None:
            order_by = [o for o in order_by if o[0] != target[0]]
            order_by.insert(0, (target[0], desc if desc is not None else False, used | target[1]))
        elif order_by:
            order_by[0] = (order_by[0][0], desc if desc is not None else order_by[0][1], order_by[0][2] | used)
    elif order_by:
        order_by[0] = (order_by[0][0], desc if desc is not None else order_by[0][1], order_by[0][2] | used)
    elif desc is not None and d.measures:
        order_by.append((d.measures[0].expr, desc, used))
    aged = [i for i in used if words[i] in AGE_WORDS]
    if not order_by and key_index is None and desc is not None and aged and d.focus_entity:
        # "the clubs starting with the oldest": by when they started
        when = _time_of(model, d.p, aged[0], d.focus_entity) or _year_of(model, d.focus_entity)
        if when is not None:
            order_by.append((when, desc, used))
    if not order_by and key_index is None and desc is not None and not d.measures and d.focus_entity \
            and not ALPHABETICAL & set(words):
        asked = _asked_column(model, d, model.entity(d.focus_entity))
        if asked is not None:
            order_by.append((asked, desc, used))  # "list the years of the estimates ... in descending order"
    if not order_by and ALPHABETICAL & set(words) and d.focus_entity:
        entity = model.entity(d.focus_entity)
        shown = _asked_text(model, d, entity) if key_index is None else None
        if shown is not None:
            order_by.append((shown, bool(desc), used))  # "the forenames of all drivers in alphabetical order"
        elif entity.display:
            order_by.append((Col(entity.table, entity.display[-1] if entity.label_parts else entity.display[0]),
                             bool(desc), used))  # "descending alphabetical order": Z first
    d.order_by = order_by
    d.p.used |= used


def _superlative_per_group(model: SemanticModel, p: _Parse, index: int, desc: bool, groups, limit, measures) -> _Measure | None:
    """ "For each city, return the highest latitude among its stations": with a grouping and no top N, a
    superlative right before a numeric column is that column's maximum (minimum) per group."""
    if not groups or limit is not None or any(index in m.tokens for m in measures):
        return None
    link = next((l for l in p.links if l.kind == "column" and l.start == index + 1 and l.score >= 0.6), None)
    if link is None:
        return None
    attribute = model.attribute(link.table, link.column)  # type: ignore[arg-type]
    if not (attribute.is_numeric and attribute.role == "measure"):
        return None
    func = "max" if desc else "min"
    col = Col(link.table, attribute.name)
    return _Measure(Agg(func, col), link.table, {index} | set(link.matched), f"{func}_{attribute.name}")


def _superlative_target(model: SemanticModel, p: _Parse, index: int, desc: bool, measures: list[_Measure], focus: str | None):
    """(order expression, tokens, measure to add) for the superlative at `index`."""
    words = p.words
    for m in measures:
        if m.tokens and min(m.tokens) > index and min(m.tokens) - index <= 3:
            return m.expr, set(m.tokens), None
    # "the room with the maximum occupancy": the superlative opens a number column's own name
    for link in sorted(p.links, key=lambda l: -l.score):
        if link.kind == "column" and link.start == index and link.score >= 0.85 and len(link.matched) > 1 \
                and model.attribute(link.table, link.column).is_numeric:  # type: ignore[arg-type]
            return Col(link.table, link.column), set(link.matched), None  # type: ignore[arg-type]
    # "the most tournament competitions": a value between the superlative and the rows counted is a filter
    valued = {i for v in p.values for i in v.span}
    for link in sorted(p.links, key=lambda l: (l.start, -round(l.score, 2), -len(l.matched))):
        # "the document that has the most sections" (document_sections): the name's words after the superlative
        at = min((i for i in link.matched if i > index), default=-1)
        if at <= index or at > index + 4 or (link.start <= index and link.kind != "entity"):
            continue
        # "the top 3 prominence": the number is how many, not a word between
        gap = [w for k, w in enumerate(words[index + 1:at], index + 1)
               if w not in STOP_WORDS and k not in valued
               and not (k == index + 1 and words[index] == "top" and p.tokens[k].kind == "number")]
        if gap and not all(w in ("number", "amount", "count", "total", "average") for w in gap):
            continue
        counted = any(w in ("number", "count") for w in gap) or words[index] in ("most", "fewest", "least")
        if link.kind == "column":
            attribute = model.attribute(link.table, link.column)  # type: ignore[arg-type]
            col = Col(link.table, attribute.name)
            if link.score < 0.5:
                continue
            if (attribute.is_numeric and attribute.role == "measure") or attribute.role == "time":
                if focus and focus != link.table and model.path(focus, link.table) and not _one_to_one(model, focus, link.table):
                    agg = Agg(attribute.aggregate if not counted else "sum", col)
                    return agg, set(link.matched), _Measure(agg, link.table, set(link.matched), f"{attribute.aggregate}_{attribute.name}")
                return col, set(link.matched), None
            if counted:
                agg = Agg("count_distinct", col)
                return agg, set(link.matched), _Measure(agg, link.table, set(link.matched), f"number_of_{attribute.name}")
            continue
        entity = model.entity(link.table)
        # "the most books" right after the superlative: a count of rows, even where "books" names the table loosely
        counted_next = counted and at == index + 1 and link.score >= 0.45
        if focus == entity.table or entity.bridge or (link.score < 0.7 and not counted_next):
            continue
        agg = Agg("count")
        named = {i for i in link.matched if i > index}
        return agg, named, _Measure(agg, entity.table, named, f"number_of_{entity.name}")
    # "the longest rivers", "the most expensive product": the adjective says which property
    adjective = words[index]
    used: set[int] = set()
    if adjective in ("most", "least") and index + 1 < len(words) and words[index + 1] in ADJECTIVE_PROPERTIES:
        adjective = words[index + 1]
        used = {index + 1}
    elif adjective in ("top", "bottom"):
        # "the top 3 expensive rooms": the adjective after the count says which property ranks them
        after = index + 2 if index + 1 < len(words) and p.tokens[index + 1].kind == "number" else index + 1
        if after < len(words) and words[after] in ADJECTIVE_PROPERTIES:
            adjective = words[after]
            used = {after}
    properties = ADJECTIVE_PROPERTIES.get(adjective)
    termed = _in_terms_of(model, p, max(used | {index}), measures)
    if termed is not None:
        return termed[0], used | termed[1], None  # "the three largest cities in terms of population"
    if adjective in TIME_ADJECTIVES:
        named = _named_time(model, p, max(used | {index}), focus)
        if named is not None:
            return named[0], used | named[1], None  # "in the most recent year" (a year column)
        found = _time_of(model, p, index, focus)
        if found is not None:
            return found, used, None
    if focus:
        entity = model.entity(focus)
        if properties:
            wanted = {stem(w) for w in properties.split()}
            # the rows' own columns first, then the row each points at ("the heaviest entrepreneur": the person's)
            owners = [entity] + ([model.entity(t) for t in _pointed_at(model, focus)]
                                 if adjective not in GENERAL_SUPERLATIVES else [])
            for owner in owners:
                for attribute in owner.attributes:
                    if (set(attribute.words) | attribute.description) & wanted and (
                            (attribute.is_numeric and attribute.role == "measure") or attribute.role == "time"):
                        return Col(owner.table, attribute.name), used, None
        if adjective in ("oldest", "youngest") and index + 1 < len(words):
            found = _time_of(model, p, index, focus)
            if found is not None:
                return found, used, None  # "the oldest college", with no age: the earliest founded
        if adjective in ("largest", "biggest", "smallest", "highest", "lowest", "greatest") and (
                index + 1 < len(words) and any(l.kind == "entity" and l.table == focus and l.start <= index + 2
                                              for l in p.links)):
            main = _main_quantity(entity)
            if main is not None:
                return Col(entity.table, main), used, None
    return None


def _in_terms_of(model: SemanticModel, p: _Parse, index: int, measures: list[_Measure] = ()) -> tuple[Expr, set[int]] | None:
    """The column (or measure) after "in terms of" within a few words after a superlative: "the three largest
    cities in terms of regional population", "the top three types in terms of the average room count"."""
    words = p.words
    for k in range(index + 1, min(index + 5, len(words))):
        lead = 3 if words[k:k + 3] == ["in", "terms", "of"] else 0
        if not lead:
            continue
        start = k + lead + (words[k + lead:k + lead + 1] in (["the"], ["their"], ["its"]))
        for m in measures:
            if m.tokens and min(m.tokens) == start:
                return m.expr, set(m.tokens) | set(range(k, start))
        for link in sorted(p.links, key=lambda l: (-l.score, l.start)):
            if link.kind == "column" and link.score >= 0.7 and k + lead <= link.start <= k + lead + 1:
                return Col(link.table, link.column), set(link.matched) | set(range(k, k + lead))  # type: ignore[arg-type]
    return None


def _named_time(model: SemanticModel, p: _Parse, index: int, focus: str | None) -> tuple[Col, set[int]] | None:
    """A year, date or time column named right after a time adjective ("in the most recent year"; the words may
    have been read as a time window, so the listed rows' column named by the word itself counts too)."""
    for link in sorted(p.links, key=lambda l: -l.score):
        if link.kind == "column" and link.score >= 0.8 and link.start == index + 1:
            attribute = model.attribute(link.table, link.column)  # type: ignore[arg-type]
            if attribute.role == "time" or TIME_NAMES & set(attribute.words):
                return Col(link.table, attribute.name), set(link.matched)
    word = stem(p.words[index + 1]) if index + 1 < len(p.words) else ""
    if focus and word in TIME_NAMES:
        named = [a for a in model.entity(focus).attributes if a.words == (word,)]
        if len(named) == 1:
            return Col(focus, named[0].name), {index + 1}
    return None


TIME_NAMES = frozenset({"year", "date", "time"})
# words that put rows in the order of their time ("starting with the oldest", "from the most recent")
AGE_WORDS = frozenset({"oldest", "earliest", "newest", "latest", "recent", "youngest"})


def _year_of(model: SemanticModel, table: str) -> Col | None:
    """The table's one column named for a year or date, whatever it holds ("start_year" kept as text)."""
    found = [a for a in model.entity(table).attributes if TIME_NAMES & set(a.words)]
    return Col(table, found[0].name) if len(found) == 1 else None
# superlatives that name no property of their own ("the top 3 highest support rates": the rate named after it)
GENERAL_SUPERLATIVES = frozenset({"highest", "lowest", "largest", "smallest", "biggest", "greatest"})


def _pointed_at(model: SemanticModel, table: str) -> list[str]:
    """The tables a row of `table` points at by a reference to their whole key."""
    return [e.right for e in model.neighbours(table)
            if model.entity(e.right).key and {b for _, b in e.pairs} == set(model.entity(e.right).key)
            and not {a for a, _ in e.pairs} <= set(model.entity(table).key)]


def _order_target(model: SemanticModel, p: _Parse, index: int, measures: list[_Measure], focus: str | None, groups=()):
    for m in measures:
        if any(index <= t <= index + 4 for t in m.tokens):
            return m.expr, set(m.tokens)
    # "in descending order of count", "sort by the course count": the count the question shows
    said = next((k for k in range(index, min(index + 3, len(p.words))) if p.words[k] in ("count", "counts")), None)
    counts = [m for m in measures if isinstance(m.expr, Agg) and m.expr.func in ("count", "count_distinct")]
    if said is not None and any(l.kind == "column" and said in l.matched and l.score >= 0.8 for l in p.links):
        said = None  # "sorted by the room count": a column room_count
    if said is not None and len(counts) <= 1:
        # (no count read yet: "each test result and its count" counts the rows per group)
        return (counts[0].expr if counts else Agg("count")), set(range(index, said + 1))
    # "sorted by month": the month the answer is grouped by
    word = p.words[index] if index < len(p.words) else ""
    for exprs, _, tokens in groups:
        for e in exprs:
            if isinstance(e, Bucket) and (word.rstrip("s") == e.grain or word in ("date", "time")):
                return e, {index}
            if isinstance(e, Col) and e.column in model.entity(e.table).by_name and any(
                    index <= t <= index + 2 for t in tokens):
                return e, {index}
    # "in ascending order of date": a general word names the one such column of the rows listed
    if focus and singular(word) in GENERIC_ASKED:
        found = [a for a in model.entity(focus).attributes if stem(word) in a.words and not a.sensitive]
        if len(found) == 1:
            return Col(focus, found[0].name), {index}
        if not found and singular(word) in ("year", "date", "time"):
            when = _time_of(model, p, index, focus)  # "sorted by year" where the rows keep a date
            if when is not None and when.table == focus:
                return when, {index}
    for link in sorted(p.links, key=lambda l: (l.start, -round(l.score, 2), -len(l.matched))):
        if link.start < index or link.start > index + 4:
            continue
        if p.words[link.end:link.end + 1] in (["'s"], ["'"]) or p.words[link.end - 1].endswith(("'s", "s'")):
            continue  # "in descending order of the company's market value": what the company has
        if link.kind == "column":
            return Col(link.table, link.column), set(link.matched)  # type: ignore[arg-type]
        entity = model.entity(link.table)
        if entity.display:
            return Col(entity.table, entity.display[0]), set(link.matched)
    return None


def _time_of(model: SemanticModel, p: _Parse, index: int, focus: str | None) -> Col | None:
    """ "the most recent appointment", "the race held most recently", "the appointment that started most
    recently": the time column of the rows the adjective is about (the table named right after it, else the
    answer's), the one the question's words name ("started": start) when there are several."""
    after = next((l.table for l in p.links if l.kind == "entity" and index < l.start <= index + 2 and l.score >= 0.7),
                 None)
    table = after or focus
    times = [a for a in model.entity(table).attributes if a.role == "time"] if table else []
    if not times:
        # "the school founded most recently", "the students who registered most recently": the time column the
        # question's words name, wherever it is
        named = [l for l in p.links if l.kind == "column" and l.score >= 0.7
                 and model.attribute(l.table, l.column).role == "time"]  # type: ignore[arg-type]
        best = max(named, key=lambda l: (l.score, -abs(l.start - index)), default=None)
        return Col(best.table, best.column) if best is not None else None  # type: ignore[arg-type]
    stems = {stem(w) for w in p.words}
    # the one the question names, else a date, else the first (a start comes before an end)
    times = [a for a in times if set(a.words) & stems] or [a for a in times if "date" in a.words] or times
    return Col(table, times[0].name)


ALPHABETICAL = frozenset({"alphabetically", "alphabetical", "alphabetic", "lexicographic", "lexicographical",
                          "lexicographically"})


def _asked_column(model: SemanticModel, d: _Draft, entity) -> Col | None:
    """The listed table's first column the question asks to see, of any kind (no key)."""
    first = _output_segments(d.p.words, d.head)[0]
    for link in sorted(d.p.links, key=lambda l: (l.start, -l.score)):
        if link.kind == "column" and link.table == entity.table and first[0] <= link.start < first[1] \
                and link.score >= 0.75:
            attribute = model.attribute(link.table, link.column)  # type: ignore[arg-type]
            if attribute.role not in ("key", "reference"):
                return Col(link.table, attribute.name)
    return None


def _asked_text(model: SemanticModel, d: _Draft, entity) -> Col | None:
    """The listed table's first text column the question asks to see, named before the ordering words; None
    when that is its name column (the usual alphabetical order) or nothing is asked."""
    first = _output_segments(d.p.words, d.head)[0]
    for link in sorted(d.p.links, key=lambda l: (l.start, -l.score)):
        if link.kind == "column" and link.table == entity.table and first[0] <= link.start < first[1]:
            if link.column in entity.display:
                # "the first names of all authors in alphabetical order": the part of the name asked for
                return Col(link.table, link.column) if len(entity.display) > 1 and link.score >= 0.75 else None
            attribute = model.attribute(link.table, link.column)  # type: ignore[arg-type]
            if link.score >= 0.75 and attribute.kind == "text" and attribute.role not in ("key", "reference"):
                return Col(link.table, attribute.name)
    return None
