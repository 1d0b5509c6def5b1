"""The focus phase: the entity (or column) the answer lists, named right after the question word.
"""

from __future__ import annotations

from nl2sql.semantics.lexicon import STOP_WORDS, singular
from nl2sql.semantics.linking import CUE_WORDS
from nl2sql.semantics.model import SemanticModel
from nl2sql.semantics.plan import Agg, Col
from nl2sql.semantics.reading.parts import _Draft, _Measure, _Parse
from nl2sql.semantics.rules.projection import GENERIC_ASKED


def read_focus(model: SemanticModel, d: _Draft) -> None:
    """The focus: the entity (or column) the answer lists."""
    p, words = d.p, d.p.words
    focus_entity, focus_tokens = _focus(model, p, d.head, d.measures)
    focus_column = _focus_column(model, p, d.head, d.measures)
    if focus_column is not None and focus_entity is not None \
            and (focus_entity == focus_column[0].table or model.path(focus_entity, focus_column[0].table)) \
            and (not set(focus_tokens) & focus_column[1] or _names_inside(model, p, focus_tokens, focus_column)) \
            and (d.sup_cues or d.limit is not None) \
            and (model.attribute(focus_column[0].table, focus_column[0].column).role != "label"
                 or _counts_own_rows(d.measures, focus_column[0].table)):
        # "which state has the most customers": the answer is per state, the customers are what is counted ("the
        # film studio that made the most films": the table's word is part of the column's name)
        focus_entity, focus_tokens = None, set(focus_column[1])
    # "what month were most students admitted": the answer is a month, the students are counted
    time_head = None
    if len(words) > 1 and words[0] in ("what", "which") and words[1] in ("month", "year", "day", "week",
                                                                         "quarter", "weekday"):
        claimed = [l for l in p.links if 1 in l.matched and l.score >= 0.8 and l.kind == "column"]
        if not claimed:
            time_head = ("day" if words[1] == "weekday" else words[1], {0, 1})
            focus_entity, focus_tokens = None, {1}  # the answer is a month: what is counted is no focus
    d.focus_entity, d.focus_tokens, d.focus_column, d.time_head = focus_entity, focus_tokens, focus_column, time_head


def _names_inside(model: SemanticModel, p: _Parse, table_tokens: set[int], column: tuple[Col, set[int]]) -> bool:
    """ "film studio" for film.studio: the table's word opens the column's name, one run of words, and is no word
    of the column's own ("invoice number" is the invoices' key, not a category of them)."""
    col, tokens = column
    own = set(model.attribute(col.table, col.column).words)
    return bool(table_tokens) and set(table_tokens) < tokens and min(table_tokens) == min(tokens) \
        and max(tokens) - min(tokens) + 1 == len(tokens) and not {p.tokens[i].stem for i in table_tokens} & own


def _columns_of(model: SemanticModel, p: _Parse, head: int, link) -> bool:
    """The words between the question word and the table are columns asked of it: "the full name and id of the
    customer who ...", each word a column of that table or a general word ("name", "id", "full")."""
    words = p.words
    # ("the ids and first names of the 3 teachers that ...": how many stands between)
    start = link.start - 1 if link.start and p.tokens[link.start - 1].kind == "number" else link.start
    if start < 2 or "of" not in words[start - 2:start]:
        return False
    owned = {i for l in p.links if l.kind == "column" and l.table == link.table and l.score >= 0.5 for i in l.matched}
    return all(words[i] in STOP_WORDS or words[i] in CUE_WORDS or i in owned or singular(words[i]) in GENERIC_ASKED
               or words[i] in ("full", "first", "last", "middle", "of", ",")
               for i in range(head, start))


def _counts_own_rows(measures: list[_Measure], table: str) -> bool:
    """A count of the table's own rows is measured: "the manager name with the most gas stations" counts stations
    per manager name (a row's name with the most of its own rows means the name is what groups them)."""
    return any(isinstance(m.expr, Agg) and m.expr.func in ("count", "count_distinct") and m.table == table
               for m in measures)


def _focus(model: SemanticModel, p: _Parse, head: int, measures: list[_Measure]) -> tuple[str | None, set[int]]:
    """The entity the answer is about: named right after the question word, else the first named one."""
    words = p.words
    for link in sorted(p.links, key=lambda l: (l.start, -round(l.score, 2), -len(l.matched))):
        if link.kind != "entity" or link.start < head:
            continue
        if any(set(link.matched) & m.tokens for m in measures):
            continue
        if link.score < 0.6 and any(c.kind == "column" and c.score >= 0.8 and c.complete and len(c.matched) > 1
                                    and set(link.matched) < set(c.matched) for c in p.links):
            continue  # "payment" of "payment methods" names a column, not the payments table
        if link.score < 0.9 and any(c.kind == "column" and c.score >= link.score + 0.2 and c.complete
                                     and set(link.matched) <= set(c.matched) for c in p.links):
            continue  # "the title of ...": a column named exactly, not a table whose name ends in "title"
        gap = [w for w in words[head:link.start] if w not in STOP_WORDS and w not in CUE_WORDS]
        if len(gap) <= 1 or _columns_of(model, p, head, link):
            return link.table, set(link.matched)
        break
    if measures:
        return measures[0].table, set()
    entities = [l for l in p.links if l.kind == "entity"]
    if entities:
        best = max(entities, key=lambda l: (l.score, -l.start))
        return best.table, set(best.matched)
    columns = [l for l in p.links if l.kind == "column"]
    if columns:
        return columns[0].table, set()
    if p.values:
        # "Where is Chess Club?": only a value is named; its table is what the answer is about
        return max(p.values, key=lambda v: v.score).table, set()
    return None, set()


def _focus_column(model: SemanticModel, p: _Parse, head: int, measures: list[_Measure]) -> tuple[Col, set[int]] | None:
    """ "Which state has the most customers", "the top 5 countries by ...": a column (no quantity) the answer
    is per; None when it's a table."""
    words = p.words
    top = next((i for i, w in enumerate(words) if w in ("top", "bottom") and i + 1 < len(words)
                and p.tokens[i + 1].kind == "number"), None)
    if top is not None:
        head = top + 2
    elif not words or words[0] not in ("which", "what") + _ORDERS:
        return None
    if words[head:head + 2] in (["name", "of"], ["names", "of"]):
        # "what is the name of the studio that made the most films": a column's name is its value
        head += 2 + (words[head + 2:head + 3] in (["the"], ["a"], ["an"]))
    measured = {m.table for m in measures}
    # among equally good names, the column of the table the question measures ("the zip code with the lowest
    # average pressure": the weather's zip code, not the trips')
    for link in sorted(p.links, key=lambda l: (l.start, -round(l.score, 2), l.table not in measured, -len(l.matched))):
        if link.start < head or link.start > head + 2:
            continue
        if link.kind == "entity" and link.score >= 0.8:
            return None
        if link.kind != "column" or link.score < 0.8 or any(set(link.matched) & m.tokens for m in measures):
            continue
        attribute = model.attribute(link.table, link.column)  # type: ignore[arg-type]
        if words[0] in _ORDERS and top is None and words[link.end:link.end + 1] not in (
                ["that"], ["which"], ["who"], ["with"], ["whose"], ["having"], ["has"], ["had"], ["where"]):
            return None  # "find the id and name of the student that ...": the columns of a row, not a category
        if attribute.role in ("dimension", "text", "label", "reference") or attribute.grain in ("year", "month"):
            return Col(link.table, attribute.name), set(link.matched)
    return None


# an order instead of a question: "find the building that has the most faculty members"
_ORDERS = ("find", "give", "return", "show", "list", "display", "tell")
