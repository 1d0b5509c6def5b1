"""The filters phase: values of columns, quoted literals, comparisons, flags and presence, the admin's segments,
and the merging of equalities on one column ("a grade of A or C").
"""

from __future__ import annotations

from nl2sql.semantics.lexicon import STOP_WORDS, stem
from nl2sql.semantics.linking import Link
from nl2sql.semantics.model import SemanticModel
from nl2sql.semantics.plan import AnyOf, Between, Col, Compare, Condition, InList, IsNull, Lit, Match
from nl2sql.semantics.reading.comparisons import _compared
from nl2sql.semantics.reading.cues import NEGATIONS, STRING_PHRASES, _flag_true, _negated, bounds_number
from nl2sql.semantics.reading.parts import _Absent, _Draft, _Filter, _Parse, _RatioSpan
from nl2sql.semantics.rules.conjunction import equality_column, joined_by_or
from nl2sql.semantics.rules.metric import layer_filters, segments_named
from nl2sql.semantics.rules.negation import denies


def read_filters(model: SemanticModel, d: _Draft) -> None:
    """The filters: values, quoted literals, comparisons with numbers, flags, the admin's segments."""
    p, words = d.p, d.p.words
    context = {m.table for m in d.measures} | ({d.focus_entity} if d.focus_entity else set()) | {
        l.table for l in p.links if l.kind == "entity" and l.score >= 0.7}
    filters: list[_Filter] = list(d.averaged)
    # -- values: each names one column (chosen by the words around it) and one of its values
    # "order by the premise type": the words of an ordering are no value ('Order' of an outcome code)
    ordering = d.order[2] if d.order else set()
    d.value_choices = [c for c in _value_choices(model, p, context)
                       if not ordering & set(range(c[0][1].start, c[0][1].end)) and not _compared_value(p, c[0][1])]
    for choices in d.value_choices:
        filters.append(_value_filter(model, p, choices[0][1]))
    filters = _merge_same_column(filters, p.words, d.ratio_span)
    filters += _literal_filters(model, p, d.match_mode)
    # comparisons with numbers ("over 200", "at least 3", "fewer than a hundred thousand")
    filters = _compared(model, p, d.measures, filters)
    # flags and presence: "with exams", "without a minor", "not part of any organization"
    filters += _flag_filters(model, p)
    filters = _either_values(filters, words)
    # a metric's own filters, and the admin's segments ("active products")
    named_segments = segments_named(model, words, d.named_metrics)
    d.filters = [f for f in filters if not any(f.tokens & s.tokens for s in named_segments)] + [
        _Filter(c, t, u) for c, t, u in layer_filters(d.named_metrics, named_segments)]


# words that make the number after them a bound, not a value ("took office after 1961")
BOUND_WORDS = frozenset({"after", "before", "over", "under", "above", "below", "than", "since", "exceeding"})


def _compared_value(p: _Parse, value: Link) -> bool:
    """A sampled value that is a number right after a bound word ("after 1961", "before 1959"): a comparison with
    it, read by the comparisons, not an equality."""
    return value.start > 0 and p.words[value.start - 1] in BOUND_WORDS and all(
        t.kind == "number" for t in p.tokens[value.start:value.end])


def _literal_filters(model: SemanticModel, p: _Parse, match_mode: str) -> list[_Filter]:
    """Literals in quotes that are no sampled value: a text column named next to them; also the word right
    after "contains", "starts with", "named" when it is no value."""
    tokens, words, n = p.tokens, p.words, len(p.tokens)
    # "albums that contain tracks": a word naming a table or column is no literal
    schema_words = {i for l in p.links if l.score >= 0.8 and l.complete for i in l.matched}
    loose = set()
    for i in range(n):
        for phrase, _ in STRING_PHRASES:
            k = len(phrase)
            if phrase[0] in ("like", "including", "includes"):
                continue
            if tuple(words[i:i + k]) == phrase and i + k < n and tokens[i + k].kind == "word" \
                    and words[i + k] not in STOP_WORDS and not any(i + k in v.span for v in p.values) \
                    and (i + k not in schema_words or tokens[i + k].text[:1].isupper()):
                loose.add(i + k)
        if words[i] in ("letter", "character") and i + 1 < n and tokens[i + 1].kind == "word" \
                and len(tokens[i + 1].text) == 1:
            loose.add(i + 1)  # "containing the letter M": the letter itself, unquoted
    named = _named_after_column(model, p)
    # "a customer with the first name April": a name, not the month
    p.windows = [w for w in p.windows if not set(w.tokens) & set(named)]
    mode = "contains" if match_mode == "contains" else "equals"
    out: list[_Filter] = [_Filter(Match(col, tokens[i].text, mode, _negated(words, i)), {col.table}, {i} | used, 0.8)
                          for i, (col, used) in named.items()]
    for i, token in enumerate(tokens):
        if (token.kind != "quoted" and i not in loose) or i in named or any(i in v.span for v in p.values):
            continue
        found = _literal_filter(model, p, i, match_mode)
        if found is not None:
            out.append(found)
    return out


def _named_after_column(model: SemanticModel, p: _Parse) -> dict[int, tuple[Col, set[int]]]:
    """A capitalised word right after a text column too varied to sample ("the customer with the first name
    Leonie", "whose last name is King"): that column's value, unquoted (index: the column, its words)."""
    tokens, words = p.tokens, p.words
    linked = {i for l in p.links for i in l.matched} | {i for v in p.values for i in v.span}
    out: dict[int, tuple[Col, set[int], float]] = {}
    for link in p.links:
        if link.kind != "column" or link.score < 0.8 or not link.complete \
                or all(words[k] in ("name", "names") for k in link.matched):
            continue  # "the last name Lewis" where no column is a last name: no table's plain name
        attribute = model.attribute(link.table, link.column)  # type: ignore[arg-type]
        if attribute.kind != "text" or attribute.values or attribute.role in ("key", "reference"):
            continue
        i = link.end + (words[link.end:link.end + 1] in (["is"], ["was"], ["of"]))
        if i < len(tokens) and i > 0 and tokens[i].kind == "word" and tokens[i].text[:1].isupper() \
                and words[i] not in STOP_WORDS and i not in linked \
                and (i + 1 == len(tokens) or not tokens[i + 1].text[:1].isupper()) \
                and (i not in out or link.score > out[i][2]):
            out[i] = (Col(link.table, attribute.name), set(link.matched) | set(range(link.end, i)), link.score)
    return {i: (col, used) for i, (col, used, _) in out.items()}


def _value_choices(model: SemanticModel, p: _Parse, context: set[str]) -> list[list[tuple[float, Link]]]:
    """Per value span, its candidate columns ranked by the words around the value and the tables in play."""
    spans: dict[tuple[int, int], list[Link]] = {}
    for value in p.values:
        spans.setdefault((value.start, value.end), []).append(value)
    out = []
    words = p.words
    for (start, end), links in sorted(spans.items()):
        near = [w for w in words[max(0, start - 3):start] + words[end:end + 2] if w not in ("the", "a", "an")]
        near_stems = {stem(w) for w in near} | set(near)
        ranked = []
        for link in links:
            attribute = model.attribute(link.table, link.column)  # type: ignore[arg-type]
            entity = model.entity(link.table)
            score = link.score
            if near_stems & set(attribute.words):
                score += 0.3
            if near_stems & set(entity.words):
                score += 0.2
            if link.table in context:
                score += 0.25
            elif any((model.distance(t, link.table) or 9) <= 1 for t in context):
                score += 0.1
            if entity.bridge:
                score -= 0.2
            if attribute.role in ("dimension", "label", "flag") or attribute.name in entity.display:
                score += 0.05
            ranked.append((round(score, 4), link))
        ranked.sort(key=lambda r: -r[0])
        out.append(ranked)
    return out


def _value_filter(model: SemanticModel, p: _Parse, value: Link) -> _Filter:
    col = Col(value.table, value.column)  # type: ignore[arg-type]
    attribute = model.attribute(value.table, value.column)  # type: ignore[arg-type]
    negate = _negated(p.words, value.start) or _denied_from_afar(p, value)
    literal: object = value.value
    if attribute.kind == "boolean":
        literal = str(value.value).lower() in ("true", "t", "1", "yes", "y")
    elif attribute.is_numeric:
        try:
            literal = float(str(value.value)) if "." in str(value.value) else int(str(value.value))
        except ValueError:
            pass
    condition: Condition = Compare(col, "<>" if negate else "=", Lit(literal))  # type: ignore[arg-type]
    cue = _match_cue(p.words, value.start)
    if cue is not None and attribute.kind == "text":
        # "a studio whose name contains 'Universal'" where Universal is a studio too: the text contained
        return _Filter(Match(col, str(value.value), cue[0], negate), {value.table}, set(value.span) | cue[1], value.score)
    return _Filter(condition, {value.table}, set(value.span), value.score)


def _match_cue(words: list[str], index: int) -> tuple[str, set[int]] | None:
    """(mode, tokens) of a "contains", "starts with", "ends with" right before `index` (or before "the word")."""
    for phrase, mode in STRING_PHRASES:
        if mode == "equals" or phrase[0] in ("like", "including", "includes"):
            continue
        k = len(phrase)
        for gap in (0, 2):
            at = index - gap - k
            if at >= 0 and tuple(words[at:at + k]) == phrase and (
                    gap == 0 or words[index - 2] in ("the", "a") and words[index - 1] in ("word", "string", "text")):
                return mode, set(range(at, index))
    return None


def _denied_from_afar(p: _Parse, value: Link | Col, start: int | None = None) -> bool:
    """ "climbers who are not from the country of Switzerland", "all accounts except the account with name
    'Brown'": a negation a few words before the value, with only little words and the value's own column or table
    between."""
    table, column = (value.table, value.column)
    start = value.start if isinstance(value, Link) else start
    assert start is not None
    naming = {i for l in p.links if l.table == table and (l.kind == "entity" or l.column == column)
              and l.score >= 0.6 for i in l.matched}
    linked = {i for l in p.links if l.score >= 0.6 for i in l.matched}
    verbs = 0  # "never ordered the product Latte": one verb the catalog doesn't name may stand between
    for i in range(start - 1, max(-1, start - 7), -1):
        w = p.words[i]
        if w in ("not", "never", "no", "n't", "nor", "except", "excluding", "besides"):
            return True
        if i in naming or w in STOP_WORDS or w in ("from", "equal", "equals", "to", "as", "with"):
            continue
        if i in linked or verbs:
            return False
        verbs += 1
    return False


def _literal_filter(model: SemanticModel, p: _Parse, index: int, match_mode: str) -> _Filter | None:
    """A quoted literal: compared with the text column named right before it (or after it)."""
    token = p.tokens[index]
    words = p.words
    mode = "equals" if match_mode == "exact" else ("contains" if match_mode == "contains" else "equals")
    for phrases, string_mode in STRING_PHRASES:
        k = len(phrases)
        if index - k >= 0 and tuple(words[index - k:index]) == phrases:
            mode = string_mode if string_mode != "equals" or match_mode != "contains" else "contains"
            break
        if index - k - 2 >= 0 and tuple(words[index - k - 2:index - 2]) == phrases and words[index - 2] in ("the", "a") \
                and words[index - 1] in ("letter", "word", "prefix", "string", "text", "character"):
            mode = string_mode
            break
    if words[index + 1:index + 2] == ["in"] and index + 2 < len(words) \
            and words[index + 2] in ("their", "its", "his", "her", "the", "a", "it", "them"):
        mode = "contains"  # "trains that have 'Express' in their names"
    best: tuple[float, Col, set[int]] | None = None
    for link in p.links:
        if link.end > index + 3 or link.end < index - 6:
            continue
        distance = index - link.end if link.end <= index else (link.start - index) * 2
        if link.kind == "column":
            attribute = model.attribute(link.table, link.column)  # type: ignore[arg-type]
            if attribute.kind != "text":
                continue
            candidate = Col(link.table, attribute.name)
        else:
            entity = model.entity(link.table)
            if not entity.label:
                continue
            candidate = Col(entity.table, entity.label)
        score = link.score - 0.05 * max(0, distance)
        if link.kind == "column" and model.attribute(link.table, link.column).role == "reference":  # type: ignore[arg-type]
            score -= 0.02  # "the course with code X": the course's own code, not a row pointing at it
        if best is None or score > best[0]:
            best = (score, candidate, set(link.matched) if distance == 0 else set())
    if best is None:
        return None
    lead = {index - 1, index - 2} if words[index - 1:index] in (["letter"], ["character"]) else set()
    # "not containing the letter M", "without the letter M", "except the account with name 'Brown'"
    negate = _negated(words, min(lead | {index})) or _denied_from_afar(p, best[1], index)
    condition = Match(best[1], token.text, mode, negate)
    return _Filter(condition, {best[1].table}, {index} | best[2] | lead, 0.8)


def _flag_filters(model: SemanticModel, p: _Parse) -> list[_Filter]:
    """Flags and presence: "active customers", "students who have declared a minor", "without a X"."""
    return _flags(model, p) + _filled(model, p) + _absences(model, p)


def _flags(model: SemanticModel, p: _Parse) -> list[_Filter]:
    """ "customers who are active", "not active": a flag column true (or not)."""
    out: list[_Filter] = []
    words = p.words
    for link in p.links:
        if link.kind != "column" or link.score < 0.6:
            continue
        attribute = model.attribute(link.table, link.column)  # type: ignore[arg-type]
        before = [w for w in words[max(0, link.start - 4):link.start]]
        if attribute.role == "flag":
            cue = {"with", "have", "has", "had", "having", "are", "is", "were", "was", "a", "an", "without", "no",
                   "not", "that", "who", "which"}
            adjective = link.complete and any(e.kind == "entity" and e.table == link.table and e.start == link.end
                                              for e in p.links)
            if not set(before) & cue and link.start != 0 and not adjective:
                continue
            negate = any(w in NEGATIONS for w in before)
            true_value = _flag_true(attribute)
            col = Col(link.table, attribute.name)
            if negate:
                condition: Condition = AnyOf((Compare(col, "<>", Lit(true_value)), IsNull(col))) \
                    if not isinstance(true_value, bool) else Compare(col, "=", Lit(False))
            else:
                condition = Compare(col, "=", Lit(true_value))
            used = set(link.matched) | {i for i in range(max(0, link.start - 4), link.start) if words[i] in NEGATIONS}
            if any(set(link.matched) & f.tokens for f in out):
                continue  # "customers who are active": one table's flag (the best linked), not every table's
            out.append(_Filter(condition, {link.table}, used, link.score))
    return out


def _filled(model: SemanticModel, p: _Parse) -> list[_Filter]:
    """ "students who have declared a minor": the column is filled; "flights with stops": a count above zero."""
    out: list[_Filter] = []
    words = p.words
    for link in p.links:
        if link.kind != "column" or link.score < 0.8 or not link.complete:
            continue
        attribute = model.attribute(link.table, link.column)  # type: ignore[arg-type]
        before = words[max(0, link.start - 3):link.start]
        after = words[link.end:link.end + 2]
        if after and after[0] in ("of", "is", "are", "was", "=", "over", "above", "under", "below", "between",
                                  "greater", "less", "more", "fewer", "at", "equal", "in", "from"):
            continue
        negate = any(w in NEGATIONS for w in before) or (len(before) >= 2 and before[-2:] in (["excluding", "those"],))
        col = Col(link.table, attribute.name)
        used = set(link.matched) | {i for i in range(max(0, link.start - 3), link.start) if words[i] in NEGATIONS}
        if attribute.kind == "text" and attribute.nullable and attribute.role in ("text", "dimension", "reference") \
                and before and before[-1] in ("a", "an", "no", "any") \
                and any(w in ("have", "has", "had", "with", "declared", "without", "no") for w in before):
            out.append(_Filter(IsNull(col, negate=not negate), {link.table}, used, link.score * 0.9))
        elif attribute.is_numeric and attribute.role == "measure" and p.tokens[link.end - 1].lower.endswith("s") \
                and before and before[-1] in ("with", "without", "no", "having"):
            negate = negate or before[-1] in ("without", "no") or any(
                w in ("excluding", "except") for w in words[max(0, link.start - 4):link.start])
            out.append(_Filter(Compare(col, "=" if negate else ">", Lit(0)), {link.table}, used, link.score * 0.9))
    return out


def _absences(model: SemanticModel, p: _Parse) -> list[_Filter]:
    """ "not part of any X", "without a X", "have no X": a reference that is empty."""
    out: list[_Filter] = []
    words = p.words
    for link in p.links:
        if link.kind != "entity":
            continue
        before = words[max(0, link.start - 5):link.start]
        if bounds_number(before):
            continue  # "serves no more than 20 customers": a bound on a count, not an absence
        if not ({"any", "no", "without", "a", "an"} & set(before) and set(before) & NEGATIONS) \
                and not _negated_entity(model, p, link):
            continue
        out.append(_Filter(_Absent(link.table), {link.table}, set(link.matched) | {
            i for i in range(max(0, link.start - 5), link.start) if words[i] in NEGATIONS | {"any", "part"}}, 0.9))
    return out


def _negated_entity(model: SemanticModel, p: _Parse, link: Link) -> bool:
    """ "players that do not have coaches": the rows have no related row in that table (rules/negation.py)."""
    if link.score < 0.6 or model.entity(link.table).bridge:
        return False
    named = {i for l in p.links if l.score >= 0.5 and l is not link for i in l.matched} | {
        i for v in p.values for i in v.span}
    start = max(link.matched)
    while start - 1 in link.matched:
        start -= 1  # the name's last run of words ("teams ... sponsors": "sponsors")
    return denies(p.words, start, named, STOP_WORDS)


_CONNECTORS = {",", "or", "and", "either", "nor", "/", "of", "the", "a", "an"}


def _merge_same_column(filters: list[_Filter], words: list[str], ratio: _RatioSpan | None = None) -> list[_Filter]:
    """ "a grade of A or C": equalities on one column, joined by "or", "and" or commas, become one IN list."""
    out: list[_Filter] = []
    by_column: dict[object, list[_Filter]] = {}
    for f in filters:
        c = f.condition
        if isinstance(c, Compare) and c.op == "=" and isinstance(c.right, Lit) and isinstance(c.left, Col) and f.tokens:
            by_column.setdefault((c.left, ratio.side(min(f.tokens)) if ratio else None), []).append(f)
        else:
            out.append(f)
    for (column, _), group in by_column.items():
        group.sort(key=lambda f: min(f.tokens))
        runs: list[list[_Filter]] = [[group[0]]]
        for f in group[1:]:
            between = words[max(runs[-1][-1].tokens) + 1:min(f.tokens)]
            first = min(runs[-1][0].tokens)
            if "both" in words[max(0, first - 3):first] and "and" in between:
                runs.append([f])  # "both a dog and a cat": each value, not either (rules/conjunction.py)
            elif all(w in _CONNECTORS for w in between):
                runs[-1].append(f)
            else:
                runs.append([f])
        for run in runs:
            out += _merged(column, run)
    return out


def _either_values(filters: list[_Filter], words: list[str]) -> list[_Filter]:
    """ "the service 'Close a policy' or the service 'Upgrade a policy'": two equalities on one column that "or"
    joins are one condition (rules/conjunction.py)."""
    def same_column(a: _Filter, b: _Filter) -> bool:
        found, other = equality_column(a.condition), equality_column(b.condition)
        return found is not None and other is not None and other[0] == found[0]

    return _joined_by_or(filters, words, same_column)


# conditions "or" may join into one: a row's own (not a count per group, not an absence)
_ROW_CONDITIONS = (Compare, Between, InList, Match, AnyOf)


def either_conditions(filters: list[_Filter], words: list[str]) -> list[_Filter]:
    """ "mountains with height more than 5000 or prominence more than 1000", "schools either founded after 1850
    or public": two conditions on rows that "or" joins are one condition, whatever their columns."""
    return _joined_by_or(filters, words, lambda a, b: isinstance(a.condition, _ROW_CONDITIONS)
                         and isinstance(b.condition, _ROW_CONDITIONS))


def _joined_by_or(filters: list[_Filter], words: list[str], pairs) -> list[_Filter]:
    """`filters` with each two that `pairs` accepts and "or" joins in the question made one `AnyOf`."""
    out = list(filters)
    k = 0
    while k < len(out):
        partner = next((j for j in range(k + 1, len(out)) if pairs(out[k], out[j])
                        and joined_by_or(words, out[k].tokens, out[j].tokens) is not None), None)
        if partner is None:
            k += 1
            continue
        a, b = out[k], out.pop(partner)
        connectors = joined_by_or(words, a.tokens, b.tokens) or set()
        out[k] = _Filter(AnyOf((a.condition, b.condition)), a.tables | b.tables, a.tokens | b.tokens | connectors,
                         min(a.strength, b.strength))
    return out


def _merged(column: Col, group: list[_Filter]) -> list[_Filter]:
    if len(group) == 1:
        return group
    if True:
        values = tuple(f.condition.right for f in group)  # type: ignore[union-attr]
        tokens = set().union(*(f.tokens for f in group))
        return [_Filter(InList(column, values), set().union(*(f.tables for f in group)), tokens,
                        min(f.strength for f in group))]  # type: ignore[arg-type]
    return group
