"""The question reader: an English analytics question to ranked query plans, without a model call.

It works from the semantic model (names, descriptions, synonyms, sampled values, keys) and the language of
analytics questions alone: aggregate words, grouping ("per", "each", "by"), ordering and top N, comparisons,
ratios, time expressions, negation. Where a phrase is ambiguous it returns several plans, best first.

A pipeline of stages, one module each in semantics/reading/; this file runs them and ranks what comes out:
- parsing.py: definitions spelled out, directives ("match names exactly") set aside, the question's words
  linked to tables, columns, values and time windows (a `_Parse`, cached here per question);
- cues.py: the language's own words (aggregates, superlatives, grouping, ordering, top N, negation); with them
  `_plans` starts a `_Draft` (parts.py) that the phases fill in, in this order: measures.py, focus.py,
  filters.py (with comparisons.py), grouping.py, timing.py (time windows), ordering.py;
- assembly.py: the draft's parts as candidate plans, with their alternatives and scores;
- accounting.py: the words each plan accounts for, its coverage and the words it leaves out, by which `read`
  ranks the readings.
schema.py and ratio.py hold what several stages ask of the model. Small rules, each with its words as data and
its own tests, live in semantics/rules/ and are called from the stages.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date

from nl2sql.semantics.evidence import QuestionTerms
from nl2sql.semantics.explain import describe
from nl2sql.semantics.lexicon import Token, normalize, tokenize
from nl2sql.semantics.linking import Linker
from nl2sql.semantics.model import SemanticModel
from nl2sql.semantics.plan import Output, QueryPlan
from nl2sql.semantics.reading.accounting import DENIALS, _coverage, _left_out, _words_read
from nl2sql.semantics.reading.assembly import assemble_plans
from nl2sql.semantics.reading.cues import (
    SUPERLATIVES,
    _agg_cues,
    _group_cues,
    _head_index,
    _limit,
    _match_mode,
    _order_cues,
    _part_of_column,
    starts_from,
)
from nl2sql.semantics.reading.filters import read_filters
from nl2sql.semantics.reading.focus import read_focus
from nl2sql.semantics.reading.grouping import group_by_focus_column, read_groups
from nl2sql.semantics.reading.measures import _measured_counts, read_measures
from nl2sql.semantics.reading.ordering import read_order, read_superlatives
from nl2sql.semantics.reading.parsing import _near_named, _non_overlapping, _split_directives, expand_definitions
from nl2sql.semantics.reading.parts import _Draft, _Parse, _plain_number
from nl2sql.semantics.reading.ratio import _ratio_span
from nl2sql.semantics.reading.timing import read_windows
from nl2sql.semantics.rules.conjunction import both_values
from nl2sql.semantics.rules.negation import denied_values
from nl2sql.semantics.rules.metric import layer_terms, on_metric_time
from nl2sql.semantics.rules.projection import DEGENERATE, asks_everything, degenerate, every_column, grouped_outputs
from nl2sql.semantics.timewords import find_buckets, find_windows

__all__ = ["Reader", "Reading", "read_question"]

# a reading that leaves a negation of the question unread ("rooms that have not had any reservation" read as a
# count of reservations) is worth this share of its score
DENIAL_DROPPED = 0.95


@dataclass(frozen=True)
class Reading:
    """One way to read the question: its plan, a confidence score, the share of the question it used, its line."""

    plan: QueryPlan
    score: float
    coverage: float
    explanation: str
    used: frozenset[int] = frozenset()
    notes: tuple[str, ...] = ()
    # words of the question this reading leaves out: `unread` names nothing in the catalog (no table, column,
    # value or time), `dropped` names something the plan does not use
    unread: tuple[str, ...] = ()
    dropped: tuple[str, ...] = ()
    read_words: frozenset[str] = frozenset()  # the words it used, lower case ("two" in "at least two orders")


class Reader:
    """Reads questions against one semantic model (build once per catalog version)."""

    def __init__(self, model: SemanticModel) -> None:
        self.model = model
        self.linker = Linker(model)
        self._parses: dict[tuple, _Parse] = {}
        self._parses_lock = threading.Lock()
        self._names_cache: set[tuple[str, ...]] | None = None

    # -- entry ------------------------------------------------------------------------------------------------

    def read(self, question: str, *, today: date | None = None, limit: int = 6,
             scope: set[str] | frozenset[str] | None = None, instructions: Sequence[str] = ()) -> list[Reading]:
        """Readings of the question, best first; `scope` (tables retrieval chose) are preferred, with the tables
        the question names, over a large catalog's others that share a word."""
        today = today or date.today()
        question, defined = expand_definitions(question, instructions)
        tokens = tokenize(question)
        if not tokens:
            return []
        content, directives = _split_directives(tokens)
        parse = self._parse(content, today, scope)
        parse.notes.extend(defined)
        match_mode = _match_mode(directives + content)
        readings: list[Reading] = []
        seen: set[str] = set()
        for plan, score, used in self._plans(parse, today, match_mode):
            plan = on_metric_time(plan, self.model)  # a metric's own time column (rules/metric.py)
            plan = both_values(plan, self.model) or plan  # "allergic to milk and cat": rows with each value
            plan = denied_values(plan, self.model) or plan  # "never ordered the product Latte": none with it
            plan = grouped_outputs(plan)  # a column shown beside an aggregate is what it is grouped by
            everything = asks_everything(parse.words)
            if everything and not plan.aggregated and not plan.group_by:
                # "all the information about the department Marketing": every column of the rows listed
                plan = replace(plan, select=tuple(Output(c.column, c) for c in every_column(self.model, plan.base)))
                used = set(used) | everything
            key = plan.dumps()
            if key in seen:
                continue
            seen.add(key)
            used = _words_read(parse, plan, used)
            coverage = _coverage(parse, used)
            unread, dropped = _left_out(parse, used, cues=True)
            if degenerate(plan):
                score *= DEGENERATE  # "how many eliminations did each team have": not the teams counted per team
            if any(w.lower() in DENIALS for w in dropped):
                score *= DENIAL_DROPPED  # a reading that denies nothing the question denies ranks below one that does
            readings.append(Reading(plan, round(score * (0.55 + 0.45 * coverage), 4), round(coverage, 3),
                                    describe(plan, self.model), frozenset(used), tuple(parse.notes), unread, dropped,
                                    frozenset(parse.tokens[i].lower for i in used if i < len(parse.tokens))))
        readings.sort(key=lambda r: -r.score)
        return readings[:limit]

    def terms(self, question: str, *, today: date | None = None, instructions: Sequence[str] = (),
              scope: set[str] | frozenset[str] | None = None) -> QuestionTerms:
        """Per word the question names, the tables, columns and values it may mean (for weighing others' SQL)."""
        tokens = tokenize(expand_definitions(question, instructions)[0])
        content, _ = _split_directives(tokens) if tokens else ([], [])
        p = self._parse(content, today or date.today(), scope)
        meanings: dict[int, set[str]] = {}
        for link in p.links:
            if link.score < 0.5:
                continue
            name = (self.model.entity(link.table).name if link.kind == "entity" else link.column or "").lower()
            for i in link.matched:
                meanings.setdefault(i, set()).add(name)
        for value in p.values:
            for i in value.span:
                meanings.setdefault(i, set()).update({f"={normalize(str(value.value))}", (value.column or "").lower()})
        for i, token in enumerate(content):
            if token.kind == "quoted":
                meanings.setdefault(i, set()).add(f"={normalize(token.text)}")
        values = {normalize(str(v.value)) for v in p.values} | {normalize(t.text) for t in content if t.kind == "quoted"}
        numbers = {_plain_number(t.lower) for t in content if t.kind == "number"}
        words = p.words
        aggregates = {func for _, _, func in _agg_cues(words)}
        if any(w in ("average", "mean", "avg") for w in words):
            aggregates.add("avg")
        ordered = any(w in SUPERLATIVES for w in words) or _order_cues(words) is not None
        limit, _ = _limit(content)
        return layer_terms(self.model, words, meanings, QuestionTerms(  # the admin's words (rules/metric.py)
                             tuple(frozenset(m) for _, m in sorted(meanings.items())),
                             frozenset(v for v in values if v), frozenset(numbers), normalize(question),
                             frozenset(aggregates), ordered, limit))

    # -- parsing ----------------------------------------------------------------------------------------------

    def _parse(self, tokens: list[Token], today: date, scope: set[str] | frozenset[str] | None = None) -> _Parse:
        """The question's links, values and time windows; the last few are kept (read and terms parse alike)."""
        key = (tuple((t.text, t.kind) for t in tokens), today, frozenset(scope or ()))
        cached = self._parses.get(key)
        if cached is None:
            cached = self._parse_uncached(tokens, today, scope)
            with self._parses_lock:  # readers serve several requests' threads at once
                while len(self._parses) >= 16:
                    self._parses.pop(next(iter(self._parses)))
                self._parses[key] = cached
        return replace(cached, used=set(cached.used), notes=list(cached.notes))

    def _names_a_column(self, tokens: list[Token], span) -> bool:
        """The window's words, in order, are a column's whole name ("last year" and a column last_year)."""
        if len(span) < 2:
            return False
        stems = tuple(tokens[i].stem for i in sorted(span))
        return stems in self._column_names

    @property
    def _column_names(self) -> set[tuple[str, ...]]:
        if self._names_cache is None:
            self._names_cache = {a.words for e in self.model.entities.values() for a in e.attributes if a.words}
        return self._names_cache

    def _parse_uncached(self, tokens: list[Token], today: date, scope: set[str] | frozenset[str] | None) -> _Parse:
        tokens = self.linker.spelled_out(tokens)  # "Jeremy Gibbons": a first and a last name
        words = [t.lower for t in tokens]
        _, limit_tokens = _limit(tokens)
        values = self.linker.values(tokens, skip_numbers=limit_tokens)
        # "the first year and last year of the parties" with a last_year column: the column, not a time window
        windows = [w for w in find_windows(tokens, today) if not self._names_a_column(tokens, w.tokens)]
        taken_by_time = {i for w in windows for i in w.tokens}
        names = self.linker.names(tokens, skip=taken_by_time)
        windows = [w for w in windows if not _amount_not_year(self.model, w, words, names)]
        names, values = _near_named(self.model, names, values, scope or frozenset())
        values = _non_overlapping(values)
        # "the nurse who ...": a word naming a table is that table, not the rows of it holding the word as a value
        # (a nurse's position 'Nurse')
        named = [l for l in names if l.kind == "entity" and l.complete and l.score >= 0.9]
        values = [v for v in values if not any(l.table == v.table and set(l.matched) == set(v.span) for l in named)]
        # "the star ratings of the hotels": a word inside a column's whole name is that column, not a value ('star')
        values = [v for v in values if not any(
            l.kind == "column" and l.score >= 0.9 and set(v.span) < set(l.matched) for l in names)
            or any(tokens[i].kind == "quoted" for i in v.span)]
        taken = {i for v in values for i in v.span}
        links = [l for l in names if not set(l.matched) & taken]
        # "apartment bookings" names the bookings, not the apartments: a table named by part of another
        # table's complete name drops out
        whole = [l for l in links if l.kind == "entity" and l.complete and l.score >= 0.9 and len(l.matched) > 1
                 and max(l.matched) - min(l.matched) + 1 == len(l.matched)]
        links = [l for l in links if not (l.kind == "entity" and any(
            set(l.matched) < set(w.matched) and w.table != l.table for w in whole))]
        return _Parse(tokens, words, links, values, windows)

    # -- composing plans --------------------------------------------------------------------------------------

    def _plans(self, p: _Parse, today: date, match_mode: str) -> list[tuple[QueryPlan, float, set[int]]]:
        """Candidate plans with their scores and the words they used: the phases of reading/, in order."""
        model = self.model
        d = _draft(model, p, match_mode)
        read_measures(model, d)
        read_focus(model, d)
        read_filters(model, d)
        read_groups(model, d)
        read_windows(model, d)
        read_superlatives(model, d)
        read_order(model, d)
        group_by_focus_column(d)
        return assemble_plans(model, d)


def _draft(model: SemanticModel, p: _Parse, match_mode: str) -> _Draft:
    """The question's cues (aggregate words, superlatives, grouping and ordering words, top N, a ratio)."""
    tokens, words = p.tokens, p.words
    column_links = [l for l in p.links if l.kind == "column"]
    limit, limit_tokens = _limit(tokens)
    # "highest first", "from highest to lowest" order a list; they pick no single row
    # "the room with the maximum occupancy" (max_occupancy): the row ranked by that column, no aggregate
    ranked = {i for i, w in enumerate(words) if w in SUPERLATIVES and _ranks_by_its_column(words, i)
              and _part_of_column(i, column_links)}
    agg_cues = [cue for cue in _agg_cues(words) if cue[0] not in ranked]
    aggregated = {i for start, end, _ in agg_cues for i in range(start, end)}  # "the highest and lowest cost"
    sup_cues = [(i, SUPERLATIVES[w]) for i, w in enumerate(words) if w in SUPERLATIVES
                and i not in aggregated and (not _part_of_column(i, column_links) or i in ranked)
                and not (i + 1 < len(words) and words[i + 1] == "first")
                and not (i and words[i - 1] in ("from", "to"))
                and not (i > 1 and words[i - 1] == "the" and (words[i - 2] == "from" or (
                    words[i - 2] == "to" and "from" in words[max(0, i - 6):i - 2])))  # "from the highest to the lowest"
                and not (i and words[i - 1] == "at" and w in ("most", "least"))  # "at most 3": a comparison
                and not starts_from(words, i)]  # "starting from the most recent one": an order
    return _Draft(p, match_mode, head=_head_index(words), buckets=find_buckets(tokens), limit=limit,
                  limit_tokens=limit_tokens, ratio_span=_ratio_span(words, p.links, model),
                  agg_cues=_measured_counts(model, p, agg_cues), sup_cues=sup_cues,
                  group_cues=_group_cues(words), order=_order_cues(words))


def _ranks_by_its_column(words: list[str], i: int) -> bool:
    """ "the room with the maximum occupancy" (a column max_occupancy): the word is the column's, and the row
    with the most of it is asked for."""
    return i >= 2 and words[i - 1] == "the" and words[i - 2] in ("with", "has", "have", "having", "had")


# words after which a number is a bound of an amount, not a year ("price above 2000"; "after 2000" stays a year)
_AMOUNT_BOUNDS = frozenset({"above", "over", "under", "below", "than", "exceeding"})


def _amount_not_year(model: SemanticModel, window, words: list[str], names: list) -> bool:
    """A year-like number that bounds an amount column named just before it ("products with price above 2000",
    "budget more than 2000"): a number compared, not the year 2000."""
    if len(window.tokens) != 1:
        return False
    i = min(window.tokens)
    if i == 0 or words[i - 1] not in _AMOUNT_BOUNDS:
        return False
    cue = i - 2 if words[i - 1] == "than" else i - 1
    for link in names:
        if link.kind == "column" and link.score >= 0.7 and cue - 1 <= link.end <= cue:
            attribute = model.attribute(link.table, link.column)
            if attribute.is_numeric and attribute.role != "time":
                return True
    return False


def read_question(question: str, model: SemanticModel, *, today: date | None = None, limit: int = 6) -> list[Reading]:
    """Ranked readings of `question` over `model` (build a Reader to reuse its index across questions)."""
    return Reader(model).read(question, today=today, limit=limit)
