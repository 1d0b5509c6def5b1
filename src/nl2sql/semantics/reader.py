"""The question reader: an English analytics question to ranked query plans, without a model call.

It works from the semantic model (names, descriptions, synonyms, sampled values, keys) and the language of
analytics questions alone: aggregate words, grouping ("per", "each", "by"), ordering and top N, comparisons,
ratios, time expressions, negation. Where a phrase is ambiguous it returns several plans, best first.

One file, knowingly: the reader is one grammar whose rules share the question's token state and each other's
helpers (measures, filters, grouping and ordering read one another's spans). Cutting it into files by line
count would scatter that state; splitting it into a registry of plan rules is its own piece of work. New rules
go to semantics/rules/ (one small module each, with its words as data and its own tests), called from here.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

from nl2sql.semantics.evidence import QuestionTerms
from nl2sql.semantics.explain import describe
from nl2sql.semantics.lexicon import STOP_WORDS, Token, normalize, number_value, stem, tokenize
from nl2sql.semantics.linking import CUE_WORDS, Link, Linker
from nl2sql.semantics.model import Attribute, Entity, SemanticModel
from nl2sql.semantics.rules.comparison import (
    TIMES_WORDS,
    average_comparison,
    comparative,
    either_comparison,
    names_column_before,
    property_column,
)
from nl2sql.semantics.rules.conjunction import both_values, equality_column, joined_by_or
from nl2sql.semantics.rules.coordination import aggregate_chains, column_beside_aggregate, coordinated_columns
from nl2sql.semantics.rules.frequency import frequency_cue, most_frequent_plans
from nl2sql.semantics.rules.negation import denies
from nl2sql.semantics.rules.metric import layer_filters, layer_terms, metrics_named, on_metric_time, segments_named
from nl2sql.semantics.rules.ordering import order_phrase
from nl2sql.semantics.rules.projection import (
    asks_distinct,
    asks_everything,
    every_column,
    generic_outputs,
    list_columns,
    set_of_values,
    shown_of_group,
)
from nl2sql.semantics.plan import (
    Agg,
    AllOf,
    AnyOf,
    Arith,
    Between,
    Bucket,
    Col,
    Compare,
    Condition,
    Elapsed,
    Expr,
    InList,
    IsNull,
    Lit,
    Match,
    Not,
    Order,
    Output,
    Overall,
    Part,
    QueryPlan,
    Related,
    columns_of,
)
from nl2sql.semantics.timewords import BUCKET_WORDS, TimeWindow, find_buckets, find_windows
from nl2sql.semantics.wordclass import is_light_at

__all__ = ["Reader", "Reading", "read_question"]

# -- the language of analytics questions -----------------------------------------------------------------------

AGG_PHRASES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("how", "many"), "count"), (("how", "much"), "sum"), (("total", "number", "of"), "count"),
    (("total", "count", "of"), "count"), (("number", "of"), "count"), (("count", "of"), "count"),
    (("no", "of"), "count"), (("count",), "count"), (("sum", "of"), "sum"), (("total",), "sum"), (("sum",), "sum"),
    (("overall",), "sum"), (("combined",), "sum"), (("cumulative",), "sum"), (("average",), "avg"),
    (("avg",), "avg"), (("mean",), "avg"), (("maximum",), "max"), (("max",), "max"), (("minimum",), "min"),
    (("min",), "min"), (("typical",), "avg"),
)
SUPERLATIVES = {
    "highest": True, "most": True, "largest": True, "biggest": True, "greatest": True, "longest": True,
    "best": True, "top": True, "maximum": True, "max": True, "latest": True, "newest": True, "tallest": True,
    "heaviest": True, "fastest": True, "richest": True, "busiest": True, "oldest": False, "highest-rated": True,
    "lowest": False, "least": False, "fewest": False, "smallest": False, "shortest": False, "minimum": False,
    "min": False, "worst": False, "earliest": False, "cheapest": False, "slowest": False, "lightest": False,
    "youngest": True, "priciest": True,
}
# what a superlative adjective measures when no column is named after it
ADJECTIVE_PROPERTIES = {
    "longest": "length duration distance pages", "shortest": "length duration distance pages", "tallest": "height altitude elevation",
    "highest": "altitude elevation height", "largest": "area size capacity", "biggest": "area size capacity",
    "smallest": "area size capacity", "heaviest": "weight", "lightest": "weight", "fastest": "speed",
    "slowest": "speed", "oldest": "age birth date", "youngest": "age birth date",
    "earliest": "date time", "latest": "date time", "newest": "date time", "expensive": "price cost amount",
    "cheap": "price cost amount", "cheapest": "price cost amount", "costly": "price cost amount",
    "popular": "count quantity sales", "recent": "date time", "heavy": "weight", "long": "length duration",
}
GROUP_WORDS = {"each", "every", "per", "by", "across", "respective"}
ORDER_VERBS = {"order", "ordered", "sort", "sorted", "rank", "ranked", "arrange", "arranged", "list", "listed"}
COMPARE_PHRASES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("more", "than"), ">"), (("greater", "than"), ">"), (("larger", "than"), ">"), (("higher", "than"), ">"),
    (("bigger", "than"), ">"), (("longer", "than"), ">"), (("older", "than"), ">"), (("over",), ">"),
    (("above",), ">"), (("exceeding",), ">"), (("exceeds",), ">"), (("exceed",), ">"),
    (("at", "least"), ">="), (("no", "less", "than"), ">="), (("not", "less", "than"), ">="),
    (("or", "more"), ">="), (("less", "than"), "<"), (("fewer", "than"), "<"), (("lower", "than"), "<"),
    (("smaller", "than"), "<"), (("shorter", "than"), "<"), (("younger", "than"), "<"), (("under",), "<"),
    (("below",), "<"), (("at", "most"), "<="), (("no", "more", "than"), "<="), (("not", "more", "than"), "<="),
    (("up", "to"), "<="), (("or", "less"), "<="), (("or", "fewer"), "<="), (("equal", "to"), "="),
    (("exactly",), "="), (("equals",), "="), (("of",), "="),
)
NEGATIONS = {"not", "no", "without", "never", "excluding", "except", "exclude", "excludes", "non", "none", "neither",
             "nor", "don't", "doesn't", "didn't", "haven't", "hasn't", "isn't", "aren't", "weren't", "wasn't", "other"}
QUESTION_HEADS = {"which", "what", "who", "whose", "list", "show", "give", "return", "get", "find", "display", "name",
                  "tell", "identify", "select", "fetch", "retrieve", "calculate", "compute", "determine", "report",
                  "count", "provide", "output", "print", "enumerate"}
RATIO_WORDS = {"ratio", "proportion", "percentage", "percent", "share", "fraction", "rate"}
AGENT_VERBS_SKIP = {"grouped", "split", "broken", "sorted", "ordered", "ranked", "arranged", "segmented", "break",
                    "group", "sort", "order", "rank", "aggregated", "categorized", "partitioned", "down"}
STRING_PHRASES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("starts", "with"), "starts"), (("start", "with"), "starts"), (("starting", "with"), "starts"),
    (("begins", "with"), "starts"), (("begin", "with"), "starts"), (("beginning", "with"), "starts"),
    (("ends", "with"), "ends"), (("end", "with"), "ends"), (("ending", "with"), "ends"),
    (("contains",), "contains"), (("contain",), "contains"), (("containing",), "contains"),
    (("includes",), "contains"), (("including",), "contains"), (("like",), "contains"), (("named",), "equals"),
    (("called",), "equals"), (("titled",), "equals"),
)
# number words that may say how many rows to list ("which three cities have the largest population")
COUNT_WORDS = {"two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "twenty"}
_PLURAL_EXCEPTIONS = {"series", "species", "news", "status", "data", "bus", "gas", "class", "address", "business",
                      "access", "process", "analysis", "campus", "virus", "bonus", "census", "canvas"}


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


@dataclass
class _Measure:
    expr: Expr
    table: str
    tokens: set[int]
    name: str
    implicit: bool = False  # the aggregate word was only part of the column's name ("number of citations")


@dataclass
class _Filter:
    condition: Condition
    tables: set[str]
    tokens: set[int]
    strength: float = 1.0


@dataclass
class _Parse:
    tokens: list[Token]
    words: list[str]
    links: list[Link]
    values: list[Link]
    windows: list[TimeWindow]
    used: set[int] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)


def _plural(token: Token) -> bool:
    w = token.lower
    return (w.endswith("s") and not w.endswith("ss") and w not in _PLURAL_EXCEPTIONS and len(w) > 3) or w in (
        "people", "children", "men", "women", "data", "criteria")


class Reader:
    """Reads questions against one semantic model (build once per catalog version)."""

    def __init__(self, model: SemanticModel) -> None:
        self.model = model
        self.linker = Linker(model)
        self._parses: dict[tuple, _Parse] = {}
        self._parses_lock = threading.Lock()

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
            everything = asks_everything(parse.words)
            if everything and not plan.aggregated and not plan.group_by:
                # "all the information about the department Marketing": every column of the rows listed
                plan = replace(plan, select=tuple(Output(c.column, c) for c in every_column(self.model, plan.base)))
                used = set(used) | everything
            key = plan.dumps()
            if key in seen:
                continue
            seen.add(key)
            # a table the plan reads accounts for the words that name it
            tables = {plan.base, *plan.via} | {c.table for c in columns_of(plan)}
            used = set(used) | {i for l in parse.links if l.kind == "entity" and l.table in tables and l.score >= 0.8
                                for i in l.matched}
            # ... and a column it reads, for the words that name that column ("role code ED", "the claim id")
            plan_columns = {(c.table, c.column) for c in columns_of(plan)}
            used |= {i for l in parse.links if l.kind == "column" and l.score >= 0.8 and l.complete
                     and (l.table, l.column) in plan_columns for i in l.matched}
            # a negation or a superlative is read when the plan denies or ranks something (the words are cues,
            # not names: the rules that read them don't all keep their places)
            if _denies(plan):
                used |= {i for i, w in enumerate(parse.words) if w in _DENIALS}
            if plan.order_by or any(isinstance(e, Agg) and e.func in ("min", "max")
                                    for e in _shown_and_ordered(plan)):
                used |= {i for i, w in enumerate(parse.words) if w in SUPERLATIVES}
            # ... and "the most common X" for a plan ranked by a count
            cue = frequency_cue(parse.words)
            if cue is not None and any(isinstance(o.expr, Agg) and o.expr.func in ("count", "count_distinct")
                                       for o in plan.order_by):
                used |= cue[0]
            coverage = _coverage(parse, used)
            unread, dropped = _left_out(parse, used, cues=True)
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

    def _parse_uncached(self, tokens: list[Token], today: date, scope: set[str] | frozenset[str] | None) -> _Parse:
        words = [t.lower for t in tokens]
        _, limit_tokens = _limit(tokens)
        values = self.linker.values(tokens, skip_numbers=limit_tokens)
        windows = find_windows(tokens, today)
        taken_by_time = {i for w in windows for i in w.tokens}
        names = self.linker.names(tokens, skip=taken_by_time)
        names, values = self._near_named(names, values, scope or frozenset())
        values = _non_overlapping(values)
        taken = {i for v in values for i in v.span}
        links = [l for l in names if not set(l.matched) & taken]
        # "apartment bookings" names the bookings, not the apartments: a table named by part of another
        # table's complete name drops out
        whole = [l for l in links if l.kind == "entity" and l.complete and l.score >= 0.9 and len(l.matched) > 1
                 and max(l.matched) - min(l.matched) + 1 == len(l.matched)]
        links = [l for l in links if not (l.kind == "entity" and any(
            set(l.matched) < set(w.matched) and w.table != l.table for w in whole))]
        return _Parse(tokens, words, links, values, windows)

    def _near_named(self, names: list[Link], values: list[Link],
                    scope: set[str] | frozenset[str]) -> tuple[list[Link], list[Link]]:
        """Words that could be a column of many tables ("title", "name", "status"): the tables the question
        names (and those retrieval chose, `scope`), and their neighbours, come first; at most a few of the rest
        stay."""
        names = self._connected_first(names)
        anchors = {l.table for l in names if l.kind == "entity" and l.complete and l.score >= 0.9}
        anchors |= {t for t in scope if t in self.model.entities}
        if not anchors:
            return names, values
        reach = set(anchors) | {e.right for t in anchors for e in self.model.neighbours(t)}
        best: dict[int, float] = {}
        for link in names + values:
            if link.table in reach:
                for i in (link.matched or link.span):
                    best[i] = max(best.get(i, 0.0), link.score)

        def demoted(link: Link) -> Link:
            if link.table in reach:
                return link
            tokens = link.matched or frozenset(link.span)
            if any(best.get(i, 0.0) >= link.score - 0.15 for i in tokens):
                return link.rescored(round(link.score * 0.8, 4))
            return link

        names = sorted((demoted(l) for l in names), key=lambda l: (-l.score, l.start))
        values = [demoted(v) for v in values]
        kept: list[Link] = []
        per_span: dict[tuple[str, int, int], int] = {}
        for link in names:
            key = (link.kind, link.start, link.end)
            per_span[key] = per_span.get(key, 0) + 1
            if per_span[key] <= 8 or link.table in reach:
                kept.append(link)
        return kept, values

    def _connected_first(self, names: list[Link]) -> list[Link]:
        """Two tables named by the same words ("client" and "xyclient"): the one that joins the question's
        other tables, else the one that joins anything, is meant; the other drops behind."""
        spans: dict[tuple[int, int], list[Link]] = {}
        for link in names:
            if link.kind == "entity" and link.complete and link.score >= 0.9:
                spans.setdefault((link.start, link.end), []).append(link)
        if not any(len(group) > 1 for group in spans.values()):
            return names
        worse: dict[int, Link] = {}
        for span, group in spans.items():
            if len(group) < 2:
                continue
            others = {l.table for s, g in spans.items() if s != span for l in g}

            def rank(link: Link) -> tuple[bool, bool]:
                near = any(self.model.path(link.table, t) is not None for t in others if t != link.table)
                return near, bool(self.model.neighbours(link.table))

            top = max(rank(l) for l in group)
            for link in group:
                if rank(link) < top:
                    worse[id(link)] = link.rescored(round(link.score * 0.85, 4))
        return [worse.get(id(l), l) for l in names]

    # -- composing plans --------------------------------------------------------------------------------------

    def _plans(self, p: _Parse, today: date, match_mode: str):
        tokens, words = p.tokens, p.words
        n = len(tokens)
        entity_links = [l for l in p.links if l.kind == "entity"]
        column_links = [l for l in p.links if l.kind == "column"]

        # where the question's answer starts: "which X", "what is the Y", "list the Z", "how many W"
        head = _head_index(words)
        buckets = find_buckets(tokens)
        limit, limit_tokens = _limit(tokens)

        ratio_span = _ratio_span(words, p.links, self.model)
        agg_cues = self._measured_counts(p, _agg_cues(words))
        # "highest first", "from highest to lowest" order a list; they pick no single row
        sup_cues = [(i, SUPERLATIVES[w]) for i, w in enumerate(words) if w in SUPERLATIVES
                    and not _part_of_column(i, column_links)
                    and not (i + 1 < len(words) and words[i + 1] == "first")
                    and not (i and words[i - 1] in ("from", "to"))]
        group_cues = _group_cues(words)
        order = _order_cues(words)

        # -- measures: an aggregate word and what it applies to
        measures: list[_Measure] = []
        measure_alternatives: list[list[_Measure]] = []
        for start, end, func in agg_cues:
            if any(start in m.tokens for m in measures):
                continue
            options = self._measure_options(p, start, end, func)
            if options:
                same = next((m for m in measures if _measured(m.expr) == _measured(options[0].expr)
                             and _measured(m.expr) is not None
                             and (ratio_span is None or ratio_span.side(min(m.tokens)) == ratio_span.side(start))),
                            None)
                if same is not None and isinstance(same.expr, Agg) and isinstance(options[0].expr, Agg) \
                        and same.expr.func != options[0].expr.func and options[0].expr.func != "count":
                    same = None  # "the minimum and the average age": two aggregates of one column
                if same is not None:
                    same.tokens |= options[0].tokens  # the same quantity named twice ("ordered by the number of ...")
                    same.implicit = same.implicit and options[0].implicit
                    continue
                measures.append(options[0])
                measure_alternatives.append(options)
        measures = self._coordinated_measures(p, agg_cues, measures)
        # "people shorter than average": each row against the mean of all, no average shown
        averaged = self._average_filters(p, measures)
        if averaged:
            spent = set().union(*(f.tokens for f in averaged))
            measures = [m for m in measures if not (m.tokens & spent)]
            measure_alternatives = [[m for m in options if not (m.tokens & spent)] for options in measure_alternatives]
            measure_alternatives = [options for options in measure_alternatives if options]
        # the admin's metrics are what they measure, whatever aggregate words name them (rules/metric.py)
        named_metrics = metrics_named(self.model, words)
        if named_metrics:
            measures = sorted([m for m in measures if not any(m.tokens & f.tokens for f in named_metrics)] + [
                _Measure(f.definition.expr, f.definition.table, set(f.tokens), f.definition.output)  # type: ignore[union-attr]
                for f in named_metrics], key=lambda m: min(m.tokens, default=0))
            # a metric's words ask for an aggregate as "total" or "average" do ("revenue per category": grouped)
            agg_cues = agg_cues + [(min(f.tokens), max(f.tokens) + 1, "sum") for f in named_metrics]
        # a column whose own name holds the aggregate word ("total_weight", "num_passengers", "average_score")
        for link in column_links:
            if link.score < 0.75:
                continue
            attribute = self.model.attribute(link.table, link.column)  # type: ignore[arg-type]
            if any(words[i] in ("total", "number", "average", "count") for i in link.matched) and attribute.is_numeric:
                if not any(set(link.span) & m.tokens for m in measures):
                    pass

        # "what was the first order date", "when did the last payment happen": the earliest / latest time
        measures += self._time_extremes(p, head, measures, limit_tokens)
        # "the time from admission to graduation", "days since the last order": durations
        durations = self._durations(p)
        for lasting, lasting_tokens, cue in durations:
            agg = next(((i, f) for i, _, f in agg_cues if cue - 4 <= i < cue), None)
            if agg is not None:
                measures = [m for m in measures if not (m.tokens & lasting_tokens) and agg[0] not in m.tokens]
                func = agg[1] if agg[1] != "count" else "avg"
                measures.append(_Measure(Agg(func, lasting), _table_of(lasting) or "", lasting_tokens | {agg[0]},
                                         f"{func}_duration"))

        # -- the focus: the entity (or column) the answer lists
        focus_entity, focus_tokens = self._focus(p, head, measures)
        focus_column = self._focus_column(p, head, measures)
        if focus_column is not None and focus_entity is not None \
                and (focus_entity == focus_column[0].table or self.model.path(focus_entity, focus_column[0].table)) \
                and not (set(focus_tokens) & focus_column[1]) and (sup_cues or limit is not None) \
                and self.model.attribute(focus_column[0].table, focus_column[0].column).role != "label":
            # "which state has the most customers": the answer is per state, the customers are what is counted
            focus_entity, focus_tokens = None, set(focus_column[1])
        # "what month were most students admitted": the answer is a month, the students are counted
        time_head = None
        if len(words) > 1 and words[0] in ("what", "which") and words[1] in ("month", "year", "day", "week",
                                                                             "quarter", "weekday"):
            claimed = [l for l in p.links if 1 in l.matched and l.score >= 0.8 and l.kind == "column"]
            if not claimed:
                time_head = ("day" if words[1] == "weekday" else words[1], {0, 1})
                focus_entity, focus_tokens = None, {1}  # the answer is a month: what is counted is no focus
        context = {m.table for m in measures} | ({focus_entity} if focus_entity else set()) | {
            l.table for l in entity_links if l.score >= 0.7}

        filters: list[_Filter] = list(averaged)
        # -- values: each names one column (chosen by the words around it) and one of its values
        value_choices = self._value_choices(p, context)
        for choices in value_choices:
            filters.append(self._value_filter(p, choices[0][1]))
        filters = _merge_same_column(filters, p.words, ratio_span)
        # literals in quotes that are no sampled value: a text column named next to them; also the word right
        # after "contains", "starts with", "named" when it is no value
        loose = set()
        for i in range(n):
            for phrase, _ in STRING_PHRASES:
                k = len(phrase)
                if phrase[0] in ("like", "including", "includes"):
                    continue
                if tuple(words[i:i + k]) == phrase and i + k < n and tokens[i + k].kind == "word" \
                        and words[i + k] not in STOP_WORDS and not any(i + k in v.span for v in p.values):
                    loose.add(i + k)
        for i, token in enumerate(tokens):
            if (token.kind != "quoted" and i not in loose) or any(i in v.span for v in p.values):
                continue
            found = self._literal_filter(p, i, match_mode)
            if found is not None:
                filters.append(found)
        # comparisons with numbers ("over 200", "at least 3", "fewer than a hundred thousand")
        compared = self._number_filters(p, measures)
        # "more than 3 eliminations": the 3 is a bar, not a value of some column that happens to hold 3
        bars = {i for f in compared for i in f.tokens if p.tokens[i].kind == "number"}
        filters = [f for f in filters if not (f.tokens & bars and all(p.tokens[i].kind == "number" for i in f.tokens))]
        # "population over 1500 or less than 500": either comparison
        pairs = either_comparison([(f.condition, f.tokens) for f in compared], words)
        for a, b in pairs.items():
            compared[a] = _Filter(AnyOf((compared[a].condition, compared[b].condition)), compared[a].tables | compared[b].tables,
                                  compared[a].tokens | compared[b].tokens | {i for i in range(n) if words[i] == "or" and min(
                                      compared[a].tokens | compared[b].tokens) < i < max(compared[a].tokens | compared[b].tokens)})
        compared = [f for k, f in enumerate(compared) if k not in pairs.values()]
        filters += compared
        # flags and presence: "with exams", "without a minor", "not part of any organization"
        filters += self._flag_filters(p)
        filters = _either_values(filters, words)
        # a metric's own filters, and the admin's segments ("active products")
        named_segments = segments_named(self.model, words, named_metrics)
        filters = [f for f in filters if not any(f.tokens & s.tokens for s in named_segments)] + [
            _Filter(c, t, u) for c, t, u in layer_filters(named_metrics, named_segments)]

        # -- grouping
        groups: list[tuple[list[Expr], str, set[int]]] = []  # (exprs, table, tokens)
        group_rivals: list[tuple[int, tuple]] = []
        for start, end in group_cues:
            if not agg_cues and not measures and not sup_cues and limit is None and ratio_span is None \
                    and words[end - 1] in ("each", "every") and not COUNTING & set(words):
                continue  # "the name and grade for each classroom": a list, nothing counted per classroom
            target = self._group_target(p, start, end, measures)
            if target is not None and not agg_cues and not measures and target[1] == focus_entity and focus_entity \
                    and self._is_own_key(target[0][0], focus_entity):
                continue  # "the name and age of every student": all students, no grouping
            if target is not None:
                groups.append(target)
                rival = self._group_target(p, start, end, measures, not_tables={target[1]})
                if rival is not None and rival[2] == target[2] and not group_rivals:
                    group_rivals.append((len(groups) - 1, rival))
        if not groups and measures and all(_has_agg(m.expr) for m in measures):
            # "show all ages and corresponding number of students": grouped by the column listed beside it
            cue = next((a for a, _, _ in agg_cues if a in measures[0].tokens), None)
            taken = set().union(*(m.tokens for m in measures))
            link = column_beside_aggregate(words, p.links, cue, taken) if cue is not None else None
            if link is not None:
                col = Col(link.table, self.model.attribute(link.table, link.column).name)  # type: ignore[arg-type]
                groups.append(([col], link.table, set(link.matched) | {link.end}))
        if time_head is not None:
            from nl2sql.semantics.timewords import TimeBucket

            buckets = [TimeBucket(time_head[0], frozenset(time_head[1]))] + list(buckets)
        strong = {i for l in p.links if l.score >= 0.8 and l.complete and len(l.matched) > 1 for i in l.matched}
        grains: set[str] = set()
        for bucket in buckets:
            if any(bucket.tokens & g[2] for g in groups) or bucket.tokens & strong:
                continue  # "daily price" names a table, it asks for no days
            if bucket.grain in grains:
                continue  # "quarterly sales ... each quarter as its first date": one grouping by quarter
            grains.add(bucket.grain)
            time_col = self._time_column(p, measures, focus_entity, near=min(bucket.tokens))
            if time_col is not None:
                attribute = self.model.attribute(time_col.table, time_col.column)
                expr: Expr = time_col if (attribute.grain in ("year", "month") and bucket.grain in ("year", "month")) \
                    or (attribute.grain == "date" and bucket.grain == "day") else Bucket(bucket.grain, time_col)
                groups = [g for g in groups if not (len(g[0]) == 1 and g[0][0] == time_col)]
                groups.append(([expr], time_col.table, set(bucket.tokens)))
        for window in p.windows:
            found = self._window_filter(p, window, measures, focus_entity)
            if found is not None:
                filters.append(found)

        # -- superlatives: "the X with the highest Y", "the most Z", "longest rivers"
        order_by: list[tuple[Expr, bool, set[int]]] = []
        top_one = False
        for index, desc in sup_cues:
            if any(index in m.tokens for m in measures) and words[index] in (
                    "maximum", "max", "minimum", "min", "earliest", "latest", "newest", "oldest"):
                continue
            per_group = self._superlative_per_group(p, index, desc, groups, limit, measures)
            if per_group is not None:
                measures.append(per_group)  # "for each city, the highest latitude": MAX(latitude) per city
                continue
            lasting = next(((e, t) for e, t, cue in durations if index < cue <= index + 4), None)
            if lasting is not None:
                # "the shortest duration between departure and arrival": that difference orders the rows
                order_by.append((lasting[0], desc, lasting[1] | set(range(index, index + 3))))
                top_one = True
                continue
            target = self._superlative_target(p, index, desc, measures, focus_entity)
            if target is None:
                continue
            expr, tokens_used, as_measure = target
            if as_measure is not None and not any(m.expr == as_measure.expr for m in measures):
                measures.append(as_measure)
            if words[index] in ("oldest", "youngest") and isinstance(expr, Col) \
                    and self.model.attribute(expr.table, expr.column).role != "time":
                desc = words[index] == "oldest"  # an age, not a date: the oldest have the most years
            order_by.append((expr, desc, tokens_used | {index}))
            top_one = True
        if order is not None:
            key_index, desc, used = order
            if key_index is not None:
                target = self._order_target(p, key_index, measures, focus_entity, groups)
                if target is not None:
                    order_by = [o for o in order_by if o[0] != target[0]]
                    order_by.insert(0, (target[0], desc if desc is not None else False, used | target[1]))
                elif order_by:
                    order_by[0] = (order_by[0][0], desc if desc is not None else order_by[0][1], order_by[0][2] | used)
            elif order_by:
                order_by[0] = (order_by[0][0], desc if desc is not None else order_by[0][1], order_by[0][2] | used)
            elif desc is not None and measures:
                order_by.append((measures[0].expr, desc, used))
            if not order_by and {"alphabetically", "alphabetical", "alphabetic"} & set(words) and focus_entity:
                entity = self.model.entity(focus_entity)
                if entity.display:
                    order_by.append((Col(entity.table, entity.display[-1] if entity.label_parts else entity.display[0]),
                                     bool(desc), used))  # "descending alphabetical order": Z first
            p.used |= used

        if focus_column is not None and focus_entity is None and (top_one or limit is not None) and not groups \
                and measures and all(_has_agg(m.expr) for m in measures):
            groups.append(([focus_column[0]], focus_column[0].table, focus_column[1]))
        plans = list(self._assemble(p, head, focus_entity, focus_tokens, measures, measure_alternatives, groups,
                                    filters, order_by, limit, limit_tokens, top_one))
        # the same grouping words, read as another table's column ("per full name": doctors' or patients')
        for k, rival in group_rivals:
            swapped = list(groups)
            swapped[k] = rival
            for plan, score, used in self._assemble(p, head, focus_entity, focus_tokens, measures, [], swapped,
                                                    filters, order_by, limit, limit_tokens, top_one):
                plans.append((plan, score * 0.95, used))
        # another column for the first value that could be in several
        for k, choices in enumerate(value_choices):
            if len(choices) > 1 and choices[1][0] >= choices[0][0] - 0.15:
                original = self._value_filter(p, choices[0][1])
                swapped = [self._value_filter(p, choices[1][1]) if f.condition == original.condition else f
                           for f in filters]
                for plan, score, used in self._assemble(p, head, focus_entity, focus_tokens, measures, [], groups,
                                                        swapped, order_by, limit, limit_tokens, top_one):
                    plans.append((plan, score * 0.9, used))
                break
        # "the most common X": the value of X that most rows have
        conditions = [(f.condition, f.tokens) for f in filters if not isinstance(f.condition, _Having | _Absent)]
        for plan, score, used in most_frequent_plans(self.model, words, p.links, conditions, set(range(head))):
            plans.append((plan, score * _link_quality(p, used), used))
        return plans

    def _measured_counts(self, p: _Parse, cues: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
        """ "the maximum and minimum number of cows" with a cows column: the maximum of the column, no count.
        A "number of" right after another aggregate word, before a numeric column's name, names that column."""
        out = []
        for k, (start, end, func) in enumerate(cues):
            previous = cues[k - 1] if k else None
            if func == "count" and previous is not None and previous[2] in ("max", "min", "avg", "sum") \
                    and previous[1] == start and p.words[start] in ("number", "count") and any(
                        l.kind == "column" and l.start == end and l.score >= 0.7
                        and self.model.attribute(l.table, l.column).is_numeric  # type: ignore[arg-type]
                        and self.model.attribute(l.table, l.column).role == "measure"  # type: ignore[arg-type]
                        for l in p.links):
                continue
            out.append((start, end, func))
        return out

    def _superlative_per_group(self, p: _Parse, index: int, desc: bool, groups, limit, measures) -> _Measure | None:
        """ "For each city, return the highest latitude among its stations": with a grouping and no top N, a
        superlative right before a numeric column is that column's maximum (minimum) per group."""
        if not groups or limit is not None or any(index in m.tokens for m in measures):
            return None
        link = next((l for l in p.links if l.kind == "column" and l.start == index + 1 and l.score >= 0.6), None)
        if link is None:
            return None
        attribute = self.model.attribute(link.table, link.column)  # type: ignore[arg-type]
        if not (attribute.is_numeric and attribute.role == "measure"):
            return None
        func = "max" if desc else "min"
        col = Col(link.table, attribute.name)
        return _Measure(Agg(func, col), link.table, {index} | set(link.matched), f"{func}_{attribute.name}")

    def _coordinated_measures(self, p: _Parse, agg_cues, measures: list[_Measure]) -> list[_Measure]:
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
            attribute = self.model.attribute(col.table, col.column)
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
                attribute = self.model.attribute(link.table, link.column)  # type: ignore[arg-type]
                if m.expr.func in ("sum", "avg") and not attribute.is_numeric:
                    break
                col = Col(link.table, attribute.name)
                out.insert(out.index(m) + 1, _Measure(Agg(m.expr.func, col), link.table, set(link.matched),
                                                      f"{m.expr.func}_{attribute.name}"))
                m.tokens |= set(range(max(m.tokens) + 1, link.start))
        return out

    def _value_choices(self, p: _Parse, context: set[str]) -> list[list[tuple[float, Link]]]:
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
                attribute = self.model.attribute(link.table, link.column)  # type: ignore[arg-type]
                entity = self.model.entity(link.table)
                score = link.score
                if near_stems & set(attribute.words):
                    score += 0.3
                if near_stems & set(entity.words):
                    score += 0.2
                if link.table in context:
                    score += 0.25
                elif any((self.model.distance(t, link.table) or 9) <= 1 for t in context):
                    score += 0.1
                if entity.bridge:
                    score -= 0.2
                if attribute.role in ("dimension", "label", "flag") or attribute.name in entity.display:
                    score += 0.05
                ranked.append((round(score, 4), link))
            ranked.sort(key=lambda r: -r[0])
            out.append(ranked)
        return out

    # -- measures ---------------------------------------------------------------------------------------------

    def _measure_options(self, p: _Parse, start: int, end: int, func: str) -> list[_Measure]:
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
            if link.kind == "column":
                attribute = self.model.attribute(link.table, link.column)  # type: ignore[arg-type]
                implicit = False
                if overlap:
                    # the aggregate word is part of the column's name: "total credit", "number of enrolled"
                    if not attribute.is_numeric or attribute.role in ("key", "reference"):
                        continue  # "the number of professors" is no professor_number (an identifier)
                    if func == "count" and set(link.matched) <= set(range(start, end)):
                        continue  # "the total number of payments": "total" alone names no amount column here
                    agg = {"count": attribute.aggregate, "sum": "sum"}.get(func, func)
                    expr: Expr = Agg(agg, Col(link.table, attribute.name))
                    score = link.score + 0.15
                    implicit = all(i in link.matched or words[i] in STOP_WORDS for i in range(start, end))
                    if head is not None and head not in link.matched and set(link.matched) <= set(range(start, end)):
                        # "total revenue": "total" alone is no name for an amount column when a noun follows it
                        score *= 0.6
                elif func == "count":
                    if attribute.role != "measure" and any(words[i] in ("number", "numbers") and i + 1 < len(words)
                                                           and words[i + 1] == "of" and min(link.matched) == i
                                                           for i in link.matched):
                        continue  # "count the number of apartment bookings": no apartment_number
                    if attribute.role in ("key", "reference", "label") or attribute.name in self.model.entity(link.table).display:
                        target_entity = self._entity_of_reference(attribute)
                        expr = Agg("count_distinct", Col(link.table, attribute.name))
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
                    elif {p.tokens[i].stem for i in link.matched} <= set(self.model.entity(link.table).words):
                        # "the number of payments": the word names the payments table as much as its amount
                        expr = Agg("count")
                        score = link.score * 0.6
                    else:
                        expr = Agg("count", Col(link.table, attribute.name))
                        score = link.score * 0.5
                else:
                    if not ((attribute.is_numeric and attribute.role in ("measure", "dimension"))
                            or (func in ("min", "max") and attribute.role == "time")):
                        continue
                    expr = Agg(func, Col(link.table, attribute.name))
                    score = link.score
                name = f"{'number' if func == 'count' and not implicit else func}_{attribute.name}"
                if isinstance(expr, Agg) and expr.arg is None:
                    name = f"number_of_{self.model.entity(link.table).name}"
                if implicit:
                    name = attribute.name
                if head is not None and head in link.matched:
                    score += 0.15
                elif head is not None and link.start > head:
                    score -= 0.1  # "total revenue amount": the phrase's head is a word this column does not answer to
                candidates.append((score - 0.02 * max(0, link.start - end),
                                   _Measure(expr, link.table, set(range(start, end)) | set(link.matched), name,
                                            implicit)))
            else:
                weak = link.score < 0.6 and not (func == "count" and link.score >= 0.3 and head in link.matched
                                                 and _plural(p.tokens[head]))
                if overlap or weak or self.model.entity(link.table).bridge:
                    continue
                entity = self.model.entity(link.table)
                if func != "count":
                    # "the total of paid orders", "the average of payments": their headline number
                    between = [i for i in range(end, link.start) if words[i] not in STOP_WORDS
                               and not any(i in v.span for v in p.values) and words[i] not in BUCKET_WORDS]
                    if between:
                        continue
                    main = _main_quantity(entity)
                    if main is None or any(w in ("number",) for w in words[start:end]):
                        if func != "sum":
                            continue
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
                    candidates.append((score - 0.02 * max(0, link.start - end), _Measure(
                        expr, entity.table, set(range(start, end)) | set(link.matched) | tail,
                        f"{func}_{main}" if isinstance(expr.arg, Col) else f"number_of_{entity.name}")))
                    continue
                expr = Agg("count")
                score = link.score * 0.95 + (0.15 if head is not None and head in link.matched else 0)
                candidates.append((score - 0.02 * max(0, link.start - end),
                                   _Measure(expr, entity.table, set(range(start, end)) | set(link.matched),
                                            f"number_of_{entity.name}")))
        candidates.sort(key=lambda c: -c[0])
        return [m for _, m in candidates[:3]]

    def _entity_of_reference(self, attribute: Attribute) -> Entity | None:
        for edge in self.model.references(attribute.table, attribute.name):
            return self.model.entity(edge.right)
        return None

    # -- filters ----------------------------------------------------------------------------------------------

    def _value_filter(self, p: _Parse, value: Link) -> _Filter:
        col = Col(value.table, value.column)  # type: ignore[arg-type]
        attribute = self.model.attribute(value.table, value.column)  # type: ignore[arg-type]
        negate = _negated(p.words, value.start)
        literal: object = value.value
        if attribute.kind == "boolean":
            literal = str(value.value).lower() in ("true", "t", "1", "yes", "y")
        elif attribute.is_numeric:
            try:
                literal = float(str(value.value)) if "." in str(value.value) else int(str(value.value))
            except ValueError:
                pass
        condition: Condition = Compare(col, "<>" if negate else "=", Lit(literal))  # type: ignore[arg-type]
        return _Filter(condition, {value.table}, set(value.span), value.score)

    def _literal_filter(self, p: _Parse, index: int, match_mode: str) -> _Filter | None:
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
        best: tuple[float, Col, set[int]] | None = None
        for link in p.links:
            if link.end > index + 3 or link.end < index - 6:
                continue
            distance = index - link.end if link.end <= index else (link.start - index) * 2
            if link.kind == "column":
                attribute = self.model.attribute(link.table, link.column)  # type: ignore[arg-type]
                if attribute.kind != "text":
                    continue
                candidate = Col(link.table, attribute.name)
            else:
                entity = self.model.entity(link.table)
                if not entity.label:
                    continue
                candidate = Col(entity.table, entity.label)
            score = link.score - 0.05 * max(0, distance)
            if link.kind == "column" and self.model.attribute(link.table, link.column).role == "reference":  # type: ignore[arg-type]
                score -= 0.02  # "the course with code X": the course's own code, not a row pointing at it
            if best is None or score > best[0]:
                best = (score, candidate, set(link.matched) if distance == 0 else set())
        if best is None:
            return None
        negate = _negated(words, index)
        condition = Match(best[1], token.text, mode, negate)
        return _Filter(condition, {best[1].table}, {index} | best[2], 0.8)

    def _number_filters(self, p: _Parse, measures: list[_Measure]) -> list[_Filter]:
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
            op = None
            cue: set[int] = set()
            for phrase, symbol in COMPARE_PHRASES:
                k = len(phrase)
                if phrase in (("or", "more"), ("or", "less"), ("or", "fewer")):
                    after = tuple(words[i + used:i + used + k])
                    nxt = i + used + 1
                    while nxt < len(words) and words[nxt] not in ("or",) and nxt < i + used + 3:
                        nxt += 1
                    if after == phrase:
                        op, cue = symbol, set(range(i + used, i + used + k))
                        break
                    continue
                if i - k >= 0 and tuple(words[i - k:i]) == phrase:
                    op, cue = symbol, set(range(i - k, i))
                    break
            if op is None:
                found = comparative(words, i)
                if found is not None:
                    op, cue = found
            if op is None and i not in limit_tokens and token.kind == "number" and names_column_before(i, {
                    l.end for l in p.links if l.kind == "column" and l.score >= 0.5 and (
                        self.model.attribute(l.table, l.column).is_numeric  # type: ignore[arg-type]
                        or self.model.attribute(l.table, l.column).role in ("key", "reference"))}):  # type: ignore[arg-type]
                op = "="
            if op is None and i not in limit_tokens and token.kind == "number":
                keyed = self._key_value(p, i, value)
                if keyed is not None:
                    out.append(keyed)
                    continue
            if op is None and i >= 1 and words[i - 1] == "between" and i + used + 1 < len(words) \
                    and words[i + used] == "and":
                upper = number_value(p.tokens, i + used + 1)
                if upper is not None:
                    target = self._comparison_target(p, i - 1, i + used + 1 + upper[1], measures)
                    if target is not None and not target[3]:
                        low, high = sorted((value, upper[0]))
                        condition = Between(target[0], Lit(_int_or(low)), Lit(_int_or(high)))
                        span = set(range(i - 1, i + used + 1 + upper[1]))
                        out.append(_Filter(condition, target[1], span | target[2]))
                        taken |= span
                continue
            if op is None:
                continue
            if op == "=" and cue and words[min(cue)] == "of":
                # "a speed of 200" reads as equality only right after a column ("aged 30" etc. are rare)
                if not any(l.kind == "column" and l.end == min(cue) for l in p.links):
                    continue
            negate = _negated(words, min(cue) if cue else i)
            if negate:
                op = {">": "<=", ">=": "<", "<": ">=", "<=": ">", "=": "<>"}[op]
            target = self._comparison_target(p, min(cue) if cue else i, i + used, measures, op)
            named = list(dict.fromkeys(l.table for l in sorted(p.links, key=lambda l: -l.score)
                                       if l.kind == "entity" and l.score >= 0.3))
            near = named + [e.right for t in named for e in self.model.neighbours(t) if e.right not in named]
            measured = property_column(self.model, near, words[min(cue)]) if cue else None
            verb: set[int] = set()
            if measured is None and cue and min(cue) >= 1:
                measured = property_column(self.model, near, words[min(cue) - 1])  # "weigh more than 80"
                verb = {min(cue) - 1}
            if measured is not None:
                # "entrepreneurs taller than 1.85": the comparative names the column (a height)
                target = (measured, {measured.table}, verb, False)
            if target is None:
                continue
            expr, tables, link_tokens, is_aggregate = target
            condition = Compare(expr, op, Lit(int(value) if float(value).is_integer() else value))
            f = _Filter(condition, tables, cue | set(range(i, i + used)) | link_tokens)
            f.strength = 1.0
            if is_aggregate:
                f.condition = _Having(condition)  # type: ignore[assignment]
            out.append(f)
        return out

    def _average_filters(self, p: _Parse, measures: list[_Measure]) -> list[_Filter]:
        """ "people shorter than average", "salary above the average": the column against its overall mean
        (rules/comparison.py)."""
        out: list[_Filter] = []
        words = p.words
        for i in range(len(words)):
            found = average_comparison(words, i)
            if found is None:
                continue
            op, cue = found
            named = list(dict.fromkeys(l.table for l in sorted(p.links, key=lambda l: -l.score)
                                       if l.kind == "entity" and l.score >= 0.3))
            measured = property_column(self.model, named, words[min(cue)])
            target = (measured, {measured.table}, set(), False) if measured is not None else \
                self._comparison_target(p, min(cue), i + 1, [])
            if target is None or not isinstance(target[0], Col):
                continue
            col = target[0]
            condition = Compare(col, op, Overall(Agg("avg", col)))
            out.append(_Filter(condition, set(target[1]), cue | set(target[2])))
        return out

    def _key_value(self, p: _Parse, index: int, value: float) -> _Filter | None:
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
        entity = self.model.entity(owner.table)
        if len(entity.key) != 1 or not self.model.attribute(owner.table, entity.key[0]).is_numeric:
            return None
        condition = Compare(Col(owner.table, entity.key[0]), "=", Lit(_int_or(value)))
        return _Filter(condition, {owner.table}, {index - 1, index} | set(owner.matched))

    def _comparison_target(self, p: _Parse, cue_start: int, after: int, measures: list[_Measure], op: str = ">"):
        """The column a comparison is about: named just before it, or just after the number ("5 orders")."""
        best = None
        for link in p.links:
            if link.kind == "column":
                attribute = self.model.attribute(link.table, link.column)  # type: ignore[arg-type]
                if not (attribute.is_numeric or attribute.role == "time"):
                    continue
                if attribute.role in ("key", "reference") and not link.complete and (link.start >= after or op != "="):
                    continue  # "more than 2 customers", "events with over 2 records": no identifier compared
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
            elif link.start >= after and link.start - after <= 2:
                score = link.score - 0.1 * (link.start - after) - 0.05
                subject = [e for e in p.links if e.kind == "entity" and e.end <= cue_start]
                if link.kind == "column" and subject and max(subject, key=lambda e: e.end).table == link.table:
                    score += 0.2  # "states with fewer than 100000 people": the states' population
            else:
                continue
            if best is None or score > best[0]:
                best = (score, link)
        if best is None:
            return None
        link = best[1]
        if link.kind == "column":
            return Col(link.table, link.column), {link.table}, set(link.matched), False  # type: ignore[arg-type]
        # "customers with more than 5 orders": a count of related rows
        return Agg("count_distinct", Col(link.table, self.model.entity(link.table).key[0])) if self.model.entity(
            link.table).key else Agg("count"), {link.table}, set(link.matched), True

    def _flag_filters(self, p: _Parse) -> list[_Filter]:
        out: list[_Filter] = []
        words = p.words
        for link in p.links:
            if link.kind != "column" or link.score < 0.6:
                continue
            attribute = self.model.attribute(link.table, link.column)  # type: ignore[arg-type]
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
        # "students who have declared a minor": the column is filled; "flights with stops": a count above zero
        for link in p.links:
            if link.kind != "column" or link.score < 0.8 or not link.complete:
                continue
            attribute = self.model.attribute(link.table, link.column)  # type: ignore[arg-type]
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
                negate = negate or before[-1] in ("without", "no") or any(w in ("excluding", "except") for w in words[max(0, link.start - 4):link.start])
                out.append(_Filter(Compare(col, "=" if negate else ">", Lit(0)), {link.table}, used, link.score * 0.9))
        # "not part of any X", "without a X", "have no X": a reference that is empty
        for link in p.links:
            if link.kind != "entity":
                continue
            before = words[max(0, link.start - 5):link.start]
            if not ({"any", "no", "without", "a", "an"} & set(before) and set(before) & NEGATIONS) \
                    and not self._negated_entity(p, link):
                continue
            out.append(_Filter(_Absent(link.table), {link.table}, set(link.matched) | {
                i for i in range(max(0, link.start - 5), link.start) if words[i] in NEGATIONS | {"any", "part"}}, 0.9))
        return out

    def _negated_entity(self, p: _Parse, link: Link) -> bool:
        """ "players that do not have coaches": the rows have no related row in that table (rules/negation.py)."""
        if link.score < 0.6 or self.model.entity(link.table).bridge:
            return False
        named = {i for l in p.links if l.score >= 0.5 and l is not link for i in l.matched} | {
            i for v in p.values for i in v.span}
        start = max(link.matched)
        while start - 1 in link.matched:
            start -= 1  # the name's last run of words ("teams ... sponsors": "sponsors")
        return denies(p.words, start, named, STOP_WORDS)

    def _window_filter(self, p: _Parse, window: TimeWindow, measures: list[_Measure], focus: str | None) -> _Filter | None:
        near = min(window.tokens)
        col = self._time_column(p, measures, focus, near=near, year=window.year is not None)
        if col is None:
            return None
        attribute = self.model.attribute(col.table, col.column)
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

    def _time_column(self, p: _Parse, measures: list[_Measure], focus: str | None, *, near: int,
                     year: bool = False) -> Col | None:
        """The time column a time expression applies to: a named one close by, else the main one of the subject."""
        best = None
        for link in p.links:
            if link.kind != "column":
                continue
            attribute = self.model.attribute(link.table, link.column)  # type: ignore[arg-type]
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
            entity = self.model.entity(table)
            if year:
                years = [a for a in entity.attributes if a.role == "time" and a.grain == "year"]
                if years:
                    return Col(table, years[0].name)
            if entity.time:
                return Col(table, entity.time)
        return None

    # -- the focus --------------------------------------------------------------------------------------------

    def _focus(self, p: _Parse, head: int, measures: list[_Measure]) -> tuple[str | None, set[int]]:
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
            if len(gap) <= 1:
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
        return None, set()

    def _durations(self, p: _Parse) -> list[tuple[Expr, set[int], int]]:
        """(expression, tokens, where its phrase starts) for "from A to B", "between A and B", "since A"."""
        words = p.words
        unit = next((u for w, u in (("minutes", "minute"), ("minute", "minute"), ("hours", "hour"), ("hour", "hour"),
                                    ("weeks", "week"), ("days", "day"), ("day", "day")) if w in words), "day")

        def timeish(link: Link) -> bool:
            if link.kind != "column" or link.score < 0.5:
                return False
            a = self.model.attribute(link.table, link.column)  # type: ignore[arg-type]
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
                expr = self._elapsed(unit, start_col, end_col)
                cue = min(i for i in range(max(0, a.start - 4), a.start) if words[i] in ("from", "between", "since"))
                out.append((expr, set(a.matched) | set(b.matched) | set(range(cue, a.start)), cue))
                used |= set(a.matched) | set(b.matched)
                break
        return out

    def _elapsed(self, unit: str, start: Col, end: Col) -> Expr:
        a = self.model.attribute(start.table, start.column)
        if a.is_numeric:
            # seconds since an epoch: the difference, in the unit asked
            divisor = {"minute": 60, "hour": 3600, "day": 86400, "week": 604800}.get(unit)
            diff: Expr = Arith("-", end, start)
            return Arith("/", diff, Lit(divisor)) if divisor else diff
        return Elapsed(unit if unit in ("day", "hour", "minute") else "day", start, end)

    def _time_extremes(self, p: _Parse, head: int, measures: list[_Measure], limit_tokens: set[int]) -> list[_Measure]:
        words = p.words
        if not words or words[0] not in ("what", "when", "what's", "whats") or measures:
            return []
        out: list[_Measure] = []
        for i, w in enumerate(words):
            func = {"first": "min", "earliest": "min", "oldest": "min", "last": "max", "latest": "max",
                    "newest": "max", "recent": "max"}.get(w)
            if func is None or i in limit_tokens:
                continue
            for link in sorted(p.links, key=lambda l: (l.start, -l.score)):
                if link.start <= i or link.start > i + 3:
                    continue
                if link.kind == "column":
                    attribute = self.model.attribute(link.table, link.column)  # type: ignore[arg-type]
                    if attribute.role != "time":
                        continue
                    col = Col(link.table, attribute.name)
                elif words[0] == "when":
                    entity = self.model.entity(link.table)
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

    def _focus_column(self, p: _Parse, head: int, measures: list[_Measure]) -> tuple[Col, set[int]] | None:
        """ "Which state has the most customers", "the top 5 countries by ...": a column (no quantity) the answer
        is per; None when it's a table."""
        words = p.words
        top = next((i for i, w in enumerate(words) if w in ("top", "bottom") and i + 1 < len(words)
                    and p.tokens[i + 1].kind == "number"), None)
        if top is not None:
            head = top + 2
        elif not words or words[0] not in ("which", "what"):
            return None
        for link in sorted(p.links, key=lambda l: (l.start, -round(l.score, 2), -len(l.matched))):
            if link.start < head or link.start > head + 2:
                continue
            if link.kind == "entity" and link.score >= 0.8:
                return None
            if link.kind != "column" or link.score < 0.8 or any(set(link.matched) & m.tokens for m in measures):
                continue
            attribute = self.model.attribute(link.table, link.column)  # type: ignore[arg-type]
            if attribute.role in ("dimension", "text", "label", "reference") or attribute.grain in ("year", "month"):
                return Col(link.table, attribute.name), set(link.matched)
        return None

    # -- groups, superlatives, order ----------------------------------------------------------------------------

    def _group_target(self, p: _Parse, start: int, end: int, measures: list[_Measure], not_tables: set[str] = frozenset()):
        words = p.words
        home = {m.table for m in measures}

        def preference(link: Link) -> tuple:
            own_key = False
            if link.kind == "column":
                own_key = link.column in self.model.entity(link.table).key
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
            if home and any(self.model.path(t, link.table) is None for t in home):
                continue
            if link.kind == "entity":
                entity = self.model.entity(link.table)
                exprs: list[Expr] = [Col(entity.table, k) for k in entity.key] + [
                    Col(entity.table, c) for c in entity.display if c not in entity.key]
                if not exprs:
                    continue
                # a measure of another table grouped by an entity that a column of that table points at
                for m in measures:
                    if m.table == entity.table:
                        continue
                    ref = self._reference_to(m.table, entity.table)
                    # no name to show, or the name is the key the other table holds ("lakes per state" where a
                    # lake row holds its state's name): group by that column, without the join
                    natural = ref is not None and set(entity.display) <= set(entity.key) and ref in (
                        a.name for a in self.model.entity(m.table).attributes)
                    if ref is not None and ((not entity.label and not entity.label_parts) or natural):
                        exprs = [Col(m.table, ref)]
                        return exprs, m.table, tokens_used
                return exprs, entity.table, tokens_used
            attribute = self.model.attribute(link.table, link.column)  # type: ignore[arg-type]
            col = Col(link.table, attribute.name)
            # "by country" where the measure's table has its own country column: use that one
            for m in measures:
                if m.table != link.table:
                    alt = self._same_named(m.table, attribute)
                    if alt is not None:
                        return [Col(m.table, alt)], m.table, tokens_used
            if attribute.role == "time" and attribute.grain in ("date", "timestamp"):
                return [col], link.table, tokens_used
            return [col], link.table, tokens_used
        return None

    def _reference_to(self, table: str, target: str) -> str | None:
        for edge in self.model.neighbours(table):
            if edge.right == target and len(edge.pairs) == 1:
                return edge.pairs[0][0]
        return None

    def _same_named(self, table: str, attribute: Attribute) -> str | None:
        entity = self.model.entity(table)
        for other in entity.attributes:
            if other.words == attribute.words or (other.core_words == attribute.core_words and other.kind == attribute.kind):
                if other.role not in ("key",) or attribute.role in ("key", "reference"):
                    return other.name
        return None

    def _superlative_target(self, p: _Parse, index: int, desc: bool, measures: list[_Measure], focus: str | None):
        """(order expression, tokens, measure to add) for the superlative at `index`."""
        words = p.words
        for m in measures:
            if m.tokens and min(m.tokens) > index and min(m.tokens) - index <= 3:
                return m.expr, set(m.tokens), None
        for link in sorted(p.links, key=lambda l: (l.start, -round(l.score, 2), -len(l.matched))):
            if link.start <= index or link.start > index + 4:
                continue
            gap = [w for w in words[index + 1:link.start] if w not in STOP_WORDS]
            if gap and not all(w in ("number", "amount", "count", "total", "average") for w in gap):
                continue
            counted = any(w in ("number", "count") for w in gap) or words[index] in ("most", "fewest", "least")
            if link.kind == "column":
                attribute = self.model.attribute(link.table, link.column)  # type: ignore[arg-type]
                col = Col(link.table, attribute.name)
                if link.score < 0.5:
                    continue
                if (attribute.is_numeric and attribute.role == "measure") or attribute.role == "time":
                    if focus and focus != link.table and self.model.path(focus, link.table) and not self._one_to_one(focus, link.table):
                        agg = Agg(attribute.aggregate if not counted else "sum", col)
                        return agg, set(link.matched), _Measure(agg, link.table, set(link.matched), f"{attribute.aggregate}_{attribute.name}")
                    return col, set(link.matched), None
                if counted:
                    agg = Agg("count_distinct", col)
                    return agg, set(link.matched), _Measure(agg, link.table, set(link.matched), f"number_of_{attribute.name}")
                continue
            entity = self.model.entity(link.table)
            if focus == entity.table or entity.bridge or link.score < 0.7:
                continue
            agg = Agg("count")
            return agg, set(link.matched), _Measure(agg, entity.table, set(link.matched), f"number_of_{entity.name}")
        # "the longest rivers", "the most expensive product": the adjective says which property
        adjective = words[index]
        used: set[int] = set()
        if adjective in ("most", "least") and index + 1 < len(words) and words[index + 1] in ADJECTIVE_PROPERTIES:
            adjective = words[index + 1]
            used = {index + 1}
        properties = ADJECTIVE_PROPERTIES.get(adjective)
        if focus:
            entity = self.model.entity(focus)
            if properties:
                wanted = {stem(w) for w in properties.split()}
                for attribute in entity.attributes:
                    if (set(attribute.words) | attribute.description) & wanted and (
                            (attribute.is_numeric and attribute.role == "measure") or attribute.role == "time"):
                        return Col(entity.table, attribute.name), used, None
            if adjective in ("largest", "biggest", "smallest", "highest", "lowest", "greatest") and (
                    index + 1 < len(words) and any(l.kind == "entity" and l.table == focus and l.start <= index + 2
                                                  for l in p.links)):
                main = _main_quantity(entity)
                if main is not None:
                    return Col(entity.table, main), used, None
        return None

    def _one_to_one(self, a: str, b: str) -> bool:
        """Whether each row of `a` has at most one row of `b` (b is reached through references a holds)."""
        path = self.model.path(a, b)
        if not path:
            return False
        for edge in path:
            target = self.model.entity(edge.right)
            if not all(col in target.key for _, col in edge.pairs) or not target.key:
                return False
        return True

    def _order_target(self, p: _Parse, index: int, measures: list[_Measure], focus: str | None, groups=()):
        for m in measures:
            if any(index <= t <= index + 4 for t in m.tokens):
                return m.expr, set(m.tokens)
        # "sorted by month": the month the answer is grouped by
        word = p.words[index] if index < len(p.words) else ""
        for exprs, _, tokens in groups:
            for e in exprs:
                if isinstance(e, Bucket) and (word.rstrip("s") == e.grain or word in ("date", "time")):
                    return e, {index}
                if isinstance(e, Col) and e.column in self.model.entity(e.table).by_name and any(
                        index <= t <= index + 2 for t in tokens):
                    return e, {index}
        for link in sorted(p.links, key=lambda l: (l.start, -round(l.score, 2), -len(l.matched))):
            if link.start < index or link.start > index + 4:
                continue
            if link.kind == "column":
                return Col(link.table, link.column), set(link.matched)  # type: ignore[arg-type]
            entity = self.model.entity(link.table)
            if entity.display:
                return Col(entity.table, entity.display[0]), set(link.matched)
        return None

    # -- assembling -------------------------------------------------------------------------------------------

    def _assemble(self, p, head, focus, focus_tokens, measures, measure_alternatives, groups, filters, order_by,
                  limit, limit_tokens, top_one):
        words = p.words
        outputs_asked = self._asked_outputs(p, head, focus, measures, groups, filters)
        options = [measures]
        for i, alternatives in enumerate(measure_alternatives[:2]):
            for alternative in alternatives[1:2]:
                options.append([alternative if k == i else m for k, m in enumerate(measures)])
        ratio = _ratio_span(words, p.links, self.model)
        for variant, chosen in enumerate(options):
            plan, used = self._build(p, focus, focus_tokens, chosen, groups, filters, order_by, limit, limit_tokens,
                                     top_one, outputs_asked, ratio)
            if plan is None:
                continue
            score = 1.0 - 0.12 * variant
            yield plan, score * _link_quality(p, used), used
            if plan.where is not None and any(isinstance(f.condition, Match) and f.condition.mode == "equals" for f in filters):
                loose = _loosen(plan)
                if loose is not None:
                    yield loose, score * 0.9 * _link_quality(p, used), used

    def _asked_outputs(self, p: _Parse, head: int, focus: str | None, measures, groups, filters) -> list[tuple[Col, set[int]]]:
        """Columns the question asks to see: "the names and areas of the lakes", "return the id, name and ..."."""
        out: list[tuple[Col, set[int]]] = []
        used_elsewhere = set().union(*(m.tokens for m in measures), *(g[2] for g in groups), *(f.tokens for f in filters)) \
            if (measures or groups or filters) else set()
        words = p.words
        segments = _output_segments(words, head)
        id_words = {"id", "ids", "code", "codes", "key", "number", "numbers", "no"}
        # among equally good names, the listed table's own column ("ticker ID" of tickers, not of prices)
        for link in sorted(p.links, key=lambda l: (-round(l.score, 2), l.table != focus, l.start)):
            if link.kind != "column" or link.score < (0.3 if link.table == focus and link.complete else 0.75):
                continue
            if set(link.matched) & used_elsewhere:
                continue
            if not any(a <= link.start < b for a, b in segments):
                continue
            attribute = self.model.attribute(link.table, link.column)  # type: ignore[arg-type]
            if attribute.role in ("key", "reference") and not id_words & {words[i] for i in link.matched}:
                continue
            if focus and link.table != focus and not self.model.path(focus, link.table):
                continue
            col = Col(link.table, attribute.name)
            if any(c == col for c, _ in out):
                continue
            if any(set(link.matched) & t for _, t in out):
                continue
            out.append((col, set(link.matched)))
        taken = used_elsewhere.union(*(t for _, t in out))
        for col, tokens in generic_outputs(self.model, words, [t.stem for t in p.tokens], segments, focus, taken):
            same = next((t for c, t in out if c == col), None)
            if same is None:
                out.append((col, tokens))
            else:
                same |= tokens  # "the full names": "names" already linked the name columns, "full" says both
        return sorted(out, key=lambda o: min(o[1], default=0))

    def _ratio(self, p: _Parse, measures: list[_Measure] | None = None, filters: list[_Filter] | None = None):
        """ "ratio of A to B", "A per B", "proportion of X with Y (out of all X)": where the two sides are."""
        return _ratio_span(p.words, p.links, self.model)

    def _build(self, p, focus, focus_tokens, measures, groups, filters, order_by, limit, limit_tokens, top_one,
               asked, ratio):
        words = p.words
        used: set[int] = set(focus_tokens) | set(limit_tokens) | set(p.used)
        select: list[Output] = []
        group_by: list[Expr] = []
        where: list[Condition] = []
        having: list[Condition] = []
        via: list[str] = []
        # a table named only to group by a column that points at it ("lakes per state") needs no join
        grouped_by_reference = {i for exprs, table, tokens in groups for i in tokens}
        tables_mentioned = [l.table for l in sorted(p.links, key=lambda l: l.start)
                            if l.kind == "entity" and l.score >= 0.85 and l.complete
                            and not self.model.entity(l.table).bridge
                            and not (set(l.matched) & grouped_by_reference
                                     and all(t != l.table for _, t, tk in groups if set(l.matched) & tk))]

        ratio_expr = None
        if ratio is not None:
            ratio_expr = self._ratio_expr(p, ratio, measures, filters, focus, grouped=bool(groups))
            if ratio_expr is not None:
                used |= ratio_expr[1]
        if measures and all(m.implicit for m in measures) and not groups and (focus is None or all(
                m.table == focus for m in measures)):
            # "the publications with the highest number of citations": a column of each row, not a sum
            plain = {m.expr: _strip_agg(m.expr) for m in measures}
            order_by = [(plain.get(e, e), d, t) for e, d, t in order_by]
            asked = list(asked) + [(plain[m.expr], m.tokens) for m in measures if isinstance(plain[m.expr], Col)]
            used |= set().union(*(m.tokens for m in measures))
            focus = focus or measures[0].table
            measures = []
        base = measures[0].table if measures else focus
        if ratio_expr is not None and ratio_expr[2]:
            base = ratio_expr[2][0]
        if base is None:
            return None, used
        entity = self.model.entity(base)
        # "the number of unique customers" beside sales' totals: customers counted once each, not sales
        measures = [replace(m, expr=self._count_of(m.expr, m.table, base))
                    if isinstance(m.expr, Agg) and m.table != base else m for m in measures]

        # filters
        for f in filters:
            used |= f.tokens
            if isinstance(f.condition, _Having):
                having.append(f.condition.condition)
            elif isinstance(f.condition, _Absent):
                cond = self._absent(base, f.condition.table)
                if cond is not None:
                    where.append(cond)
            else:
                if ratio_expr is not None and f.condition in ratio_expr[3]:
                    continue
                where.append(f.condition)
        absent = {f.condition.table for f in filters if isinstance(f.condition, _Absent)}
        # "hosts who did not serve as a host of any party": the tables the negation names are not joined
        denied = set().union(*(f.tokens for f in filters if isinstance(f.condition, _Absent)))
        absent |= {l.table for l in p.links if l.kind == "entity" and l.matched and set(l.matched) <= denied}
        for table in tables_mentioned:
            if table not in via and table not in absent:
                via.append(table)

        aggregated = bool(measures) or ratio_expr is not None and _has_agg(ratio_expr[0])
        if groups and not aggregated:
            # grouping words without an aggregate: the focus entity is counted ("courses per department")
            counted = focus if focus and all(focus != g[1] or self.model.entity(focus).key != [] for g in groups) else None
            if counted is not None and not all(self._is_own_key(g[0], counted) for g in groups):
                measures = [_Measure(Agg("count"), counted, set(), f"number_of_{self.model.entity(counted).name}")]
                base = counted
                entity = self.model.entity(base)
                aggregated = True
        kept_groups = []
        for exprs, table, tokens in groups:
            per_own = tokens and words[min(tokens)] == "per" and all(self._is_own_key(e, base) for e in exprs)
            if per_own and aggregated:
                used |= tokens  # "per order item" over order items: the average is over its rows already
                continue
            kept_groups.append((exprs, table, tokens))
        groups = kept_groups
        for exprs, table, tokens in groups:
            used |= tokens
            if aggregated:
                if all(self._is_own_key(e, base) for e in exprs) and not any(_has_agg(m.expr) and m.table != base for m in measures):
                    # "for each course" when every row is one course: no grouping, one row each
                    for e in exprs:
                        select.append(Output(_name_of(e), e))
                    group_by = []
                    aggregated = False
                    measures = [_Measure(_strip_agg(m.expr), m.table, m.tokens, m.name) for m in measures]
                    if ratio_expr is not None:
                        ratio_expr = (_strip_agg(ratio_expr[0]), ratio_expr[1], ratio_expr[2], ratio_expr[3])
                    continue
            for e in exprs:
                if not aggregated or e in shown_of_group(self.model, exprs, {stem(w) for w in words}):
                    select.append(Output(_name_of(e), e))
                if aggregated:
                    group_by.append(e)
        if ratio_expr is not None:
            select.append(Output("ratio", ratio_expr[0]))
            for m in measures:
                used |= m.tokens
        else:
            for m in measures:
                used |= m.tokens
                select.append(Output(m.name, m.expr))
        if not select and (measures or groups or ratio_expr is not None):
            return None, used

        # a question about a list ("which authors ...", "what are the titles ...")
        if not aggregated and not any(isinstance(o.expr, Col) and o.expr.table == base and o.expr.column in entity.display for o in select):
            pass
        if not measures and ratio_expr is None and not groups:
            select = []
            focus_entity = self.model.entity(focus) if focus else entity
            for c, t in asked:
                used |= t
            first = _output_segments(words, _head_index(words))[0]
            in_columns = {i for _, t in asked for i in t}
            rows_asked = any(first[0] <= i < first[1] and i not in in_columns for i in focus_tokens)
            select = [Output(c.column, c) for c in list_columns(self.model, focus_entity.table, rows_asked=rows_asked, asked=
                                                                   [c for c, t in sorted(asked, key=lambda a: min(a[1]))])]
            base = focus_entity.table
            entity = focus_entity
            if having:  # one group per row listed: its key too, so that two rows with one name stay two
                names = any(isinstance(o.expr, Col) and o.expr.table == base and o.expr.column in entity.display
                            for o in select)
                group_by = [Col(base, k) for k in entity.key if names] + [o.expr for o in select]
                aggregated = True
        elif aggregated and focus and focus != base and not groups and (top_one or limit is not None):
            # "which author has the most publications": the measure per focus entity, the best one
            focus_entity = self.model.entity(focus)
            keys = [Col(focus, k) for k in focus_entity.key] + [Col(focus, c) for c in focus_entity.display if c not in focus_entity.key]
            counted = set().union(*(m.tokens for m in measures)) if measures else set()
            named = [(self._as_column_of(c, focus), t) for c, t in sorted(asked, key=lambda a: min(a[1]))
                     if self._as_column_of(c, focus).table == focus and not t <= counted]
            if named and focus_entity.key:
                # "the name and capacity of the dorm with the fewest amenities": the columns asked, per dorm
                used |= set().union(*(t for _, t in named))
                select = [Output(c.column, c) for c, _ in named] + select
                group_by = list(dict.fromkeys([Col(focus, k) for k in focus_entity.key] + [c for c, _ in named])) + group_by
            else:
                select = [Output(_name_of(k), k) for k in shown_of_group(self.model, keys, {stem(w) for w in words})] + select
                group_by = keys + group_by
        elif aggregated and asked and not groups:
            for c, t in asked:
                if c.table == focus and focus_tokens and self.model.attribute(c.table, c.column).role in ("label", "key", "text", "dimension"):
                    used |= t
                    select.insert(0, Output(c.column, c))
                    group_by.insert(0, c)
        elif aggregated and asked and group_by:
            # "top car models by revenue, return the make, model and ...": the make is a grouping column too
            grouped_tables = {e.table for e in group_by if isinstance(e, Col)}
            measure_tokens = set().union(*(m.tokens for m in measures)) if measures else set()
            at = next((k for k, o in enumerate(select) if o.expr == group_by[0]), 0)
            # grouped by a table's key, any of its columns is one value per group
            by_key = {e.table for e in group_by if isinstance(e, Col) and e.column in self.model.entity(e.table).key}
            for c, t in asked:
                if c.table in grouped_tables and c not in group_by and not (t & measure_tokens) and (
                        c.table in by_key or self.model.attribute(c.table, c.column).role in ("label", "text", "dimension")):
                    used |= t
                    select.insert(at, Output(c.column, c))
                    group_by.insert(at, c)
                    at += 1

        # ordering
        orders: list[Order] = []
        keys: list[tuple[Output, bool]] = []
        for expr, desc, tokens in order_by:
            used |= tokens
            if _has_agg(expr) and not aggregated:
                expr = _strip_agg(expr)
            orders.append(Order(expr, desc))
            if not select:  # an ordering key is shown when nothing else is
                if not _has_agg(expr) or aggregated:
                    select.append(Output(_name_of(expr), expr))
            elif not any(o.expr == expr for o in select) and not (isinstance(expr, Col) and aggregated and expr not in group_by):
                if not _has_agg(expr) or aggregated:
                    # "the 5 largest lakes": their areas are part of the answer; "ordered by budget" and "the
                    # title of the longest book" ask for no budget or length (decided once the limit is known)
                    explicit = any(words[i] in ORDER_VERBS | {"order", "according"} for i in tokens if i < len(words))
                    keys.append((Output(_name_of(expr), expr), explicit))
        if aggregated and group_by:
            for o in orders:
                if not _has_agg(o.expr) and o.expr not in group_by:
                    group_by.append(o.expr)
        if not orders and limit is None and aggregated:
            # a trend ("per month", "daily totals") reads in time order
            timeline = [e for e in group_by if isinstance(e, Bucket) or (
                isinstance(e, Col) and self.model.attribute(e.table, e.column).role == "time")]
            if timeline:
                orders.append(Order(timeline[0], False))
        final_limit = limit
        if final_limit is None and top_one and orders and not limit_tokens:
            focus_token = next((p.tokens[i] for i in sorted(focus_tokens)), None) if focus_tokens else None
            plural = focus_token is not None and _plural(focus_token)
            if not plural and not _asks_ordering(words):
                final_limit = 1
        # a join repeats rows only where a row of the base has several rows of the joined table
        joined = any(t != base and t in self.model.entities and self.model.path(base, t) is not None
                     and not self._one_to_one(base, t) for t in via)
        table_named = any(l.kind == "entity" and l.table == base and l.score >= 0.8 for l in p.links)
        # rows of a list repeated by joins to filter tables, or asked once each: list each once
        distinct = not aggregated and (asks_distinct(words) or joined or set_of_values(
            self.model, [o.expr for o in select if isinstance(o.expr, Col)], table_named))
        # "the most expensive product": its price is part of the answer; "ordered by budget" asks for no budget
        select += [o for o, explicit in keys if not explicit]
        if distinct:
            # SELECT DISTINCT can only be ordered by what it shows
            select += [Output(_name_of(o.expr), o.expr) for o in orders if not any(x.expr == o.expr for x in select)]
        if not select:
            return None, used  # nothing to show (a bridge table listed for its own sake): no reading
        where = list(dict.fromkeys(where))
        having = list(dict.fromkeys(having))
        plan = QueryPlan(
            base=base,
            select=tuple(_unique_outputs(select)),
            where=(where[0] if len(where) == 1 else AllOf(tuple(where))) if where else None,
            group_by=tuple(dict.fromkeys(group_by)),
            having=(having[0] if len(having) == 1 else AllOf(tuple(having))) if having else None,
            order_by=tuple(orders),
            limit=final_limit,
            distinct=distinct and not group_by,
            via=tuple(t for t in via if t in self.model.entities and self.model.path(base, t) is not None),
        )
        return plan, used

    def _ratio_expr(self, p: _Parse, ratio: _RatioSpan, measures, filters, focus, grouped: bool = False):
        """(expression, tokens, tables, filters it took): two aggregates (possibly filtered) or two columns of a row."""
        words = p.words
        tokens = {ratio.index} | ({ratio.to} if ratio.to is not None else set())
        if ratio.out_of is not None:
            tokens |= {ratio.out_of, ratio.out_of + 1}

        def side_of(index: int) -> int | None:
            return ratio.side(index)

        def side(k: int, taken: set[str]):
            ms = [m for m in measures if m.tokens and side_of(min(m.tokens)) == k]
            if ms:
                return ms[0].expr, ms[0].table, set(ms[0].tokens)
            links = [l for l in p.links if side_of(l.start) == k]
            columns = []
            for link in links:
                if link.kind != "column":
                    continue
                attribute = self.model.attribute(link.table, link.column)  # type: ignore[arg-type]
                if link.score < 0.5 or not {p.tokens[i].stem for i in link.matched} & set(attribute.core_words):
                    continue
                if attribute.is_numeric and attribute.role in ("measure", "dimension") and attribute.name not in taken:
                    columns.append((link.score + 0.02 * len(link.matched), link, attribute))
            if columns:
                _, link, attribute = max(columns, key=lambda c: (c[0], -c[1].start))
                return Col(link.table, attribute.name), link.table, set(link.matched)
            entities = sorted((l for l in links if l.kind == "entity" and not self.model.entity(l.table).bridge),
                              key=lambda l: (l.start, -round(l.score, 2), -len(l.matched)))
            if entities:
                first = entities[0]
                expr: Expr = Agg("count")
                used = set(first.matched)
                # "publications presented in conferences": the rows of the first that have one of the second
                for other in entities[1:]:
                    ref = self._reference_to(first.table, other.table)
                    if ref is not None:
                        expr = Agg("count", None, IsNull(Col(first.table, ref), negate=True))
                        used |= set(other.matched)
                        break
                return expr, first.table, used
            return None

        a = side(0, set())
        if a is None:
            return None
        if ratio.to is None and ratio.share and grouped and isinstance(a[0], Agg) and a[0].where is None \
                and not any(f.tokens and side_of(min(f.tokens)) == 0 for f in filters) \
                and (a[0].arg is None or isinstance(a[0].arg, Col)):
            # "the share of payments made by each method": each group's part of all rows
            b = (Overall(a[0], a[1] if a[0].arg is None else None), a[1], set())
        elif ratio.to is None and ratio.share:
            # a part of a whole: the same thing counted with the side's conditions, then without
            b = (_strip_where(a[0]), a[1], set())
        else:
            # two columns of a row differ ("one-way to round-trip cost"); one column under two conditions may not
            conditioned = any(f.tokens and side_of(min(f.tokens)) is not None for f in filters)
            taken = {a[0].column} if isinstance(a[0], Col) and not conditioned else set()
            b = side(1, taken)
        if b is None:
            return None
        (ea, ta, ua), (eb, tb, ub) = a, b
        tokens |= ua | ub
        fa = [f for f in filters if f.tokens and side_of(min(f.tokens)) == 0]
        fb = [f for f in filters if f.tokens and side_of(min(f.tokens)) == 1] if not ratio.share or ratio.to else []
        # "the population of California": a value that names a row of another table takes that table's column
        ea, ta = self._measure_for_values(ea, ta, fa)
        eb, tb = self._measure_for_values(eb, tb, fb)
        if isinstance(ea, Agg) and isinstance(eb, Agg) and ta != tb:
            ea = self._count_of(ea, ta, tb)
            eb = self._count_of(eb, tb, ta)
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
        if isinstance(ea, Agg) and ea.func == "count" and ea.arg is None and ea.where is not None and isinstance(eb, Agg) \
                and eb.func == "count" and eb.arg is None and ta == tb:
            pass
        expr: Expr = Arith("/", ea, eb)
        if words[ratio.index] in ("percentage", "percent"):
            expr = Arith("*", Lit(100), expr)
        if ratio.average:
            expr = Agg("avg", expr)
            tokens.add(ratio.index - 1)
        return expr, tokens, [ta, tb], side_filters

    def _count_of(self, agg: Agg, table: str, other: str) -> Agg:
        """A count of `table`'s rows over a join with `other`: its distinct keys, or `other`'s reference to it."""
        if agg.arg is not None or agg.func != "count":
            return agg
        ref = self._reference_to(other, table)
        if ref is not None and agg.where is None:
            return Agg("count_distinct", Col(other, ref))
        key = self.model.entity(table).key
        return Agg("count_distinct", Col(table, key[0]), agg.where) if key else agg

    def _measure_for_values(self, expr: Expr, table: str, side_filters: list[_Filter]) -> tuple[Expr, str]:
        if not isinstance(expr, Col | Agg) or not side_filters:
            return expr, table
        col = expr if isinstance(expr, Col) else expr.arg
        if not isinstance(col, Col):
            return expr, table
        attribute = self.model.attribute(col.table, col.column)
        for f in side_filters:
            c = f.condition
            target = c.left if isinstance(c, Compare) else (c.arg if isinstance(c, Match | InList) else None)
            if not isinstance(target, Col) or target.table == col.table:
                continue
            other = self.model.entity(target.table)
            same = next((a for a in other.attributes if a.words == attribute.words and a.is_numeric), None)
            if same is not None:
                moved = Col(other.table, same.name)
                return (moved if isinstance(expr, Col) else replace(expr, arg=moved)), other.table
        return expr, table

    def _absent(self, base: str, table: str) -> Condition | None:
        """Rows of `base` with no `table`: a reference column that is empty, or no related rows at all."""
        for edge in self.model.neighbours(base):
            if edge.right == table and len(edge.pairs) == 1:
                column = edge.pairs[0][0]
                entity = self.model.entity(base)
                if column not in entity.key:
                    return IsNull(Col(base, column))
        if self.model.path(base, table):
            return Related(table, None, negate=True)
        return None

    def _as_column_of(self, col: Col, table: str) -> Col:
        """`col`, or the column of `table` it points at ("the student id" of enrolments is the student's id)."""
        if col.table != table:
            for edge in self.model.references(col.table, col.column):
                if edge.right == table:
                    return Col(table, dict(edge.pairs).get(col.column, col.column))
        return col

    def _is_own_key(self, expr: Expr, table: str) -> bool:
        if not isinstance(expr, Col) or expr.table != table:
            return False
        entity = self.model.entity(table)
        return expr.column in entity.key or expr.column in entity.display


@dataclass(frozen=True)
class _RatioSpan:
    index: int  # the ratio word
    to: int | None  # where the second side starts ("to", "versus", "over"); None for a share of all
    end: int  # where the second side ends
    share: bool  # proportion, share, percentage, fraction: part of a whole
    average: bool  # "the average ratio of A to B"
    out_of: int | None = None  # "out of all X"

    def side(self, index: int) -> int | None:
        """0 for the first side, 1 for the second, None outside the ratio."""
        if self.to is None:
            return 0 if self.index < index < (self.out_of or self.end) else (1 if self.out_of and index > self.out_of else None)
        if self.index < index < self.to:
            return 0
        if self.to < index < self.end:
            return 1
        return None


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


@dataclass(frozen=True)
class _Having:
    condition: Condition


@dataclass(frozen=True)
class _Absent:
    table: str


# -- helpers ---------------------------------------------------------------------------------------------------


# words that ask for a count even where no aggregate cue is read ("how many X for each Y")
COUNTING = frozenset({"many", "number", "numbers", "count", "total", "much"})
# words after which a number names a row by its key ("the student with ID 1004", "order number 12")
KEY_WORDS = frozenset({"id", "number", "no", "#", "code"})
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
    out = list(filters)
    k = 0
    while k < len(out):
        found = equality_column(out[k].condition)
        partner = next((j for j in range(k + 1, len(out)) if found is not None
                        and (other := equality_column(out[j].condition)) is not None and other[0] == found[0]
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


_QUANTITY_WORDS = [stem(w) for w in ("amount", "total", "value", "price", "revenue", "sales", "cost", "quantity",
                                        "size", "score", "balance")]


def _main_quantity(entity: Entity) -> str | None:
    """The entity's headline number ("the largest payment" is its amount): a measure named like one, else the first."""
    measures = [a for a in entity.attributes if a.is_numeric and a.role == "measure"]
    for word in _QUANTITY_WORDS:
        for a in measures:
            if word in a.words:
                return a.name
    return measures[0].name if len(measures) == 1 else None


def _table_of(expr: object) -> str | None:
    cols = columns_of(expr)
    return cols[0].table if cols else None


def _strip_where(expr: Expr) -> Expr:
    if isinstance(expr, Agg):
        return replace(expr, where=None)
    return expr


def _int_or(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def _plain_number(text: str) -> str:
    try:
        value = float(text.replace(",", "").replace("$", "").rstrip("%"))
    except ValueError:
        return text
    return str(int(value)) if value.is_integer() else str(value)


def _measured(expr: object) -> object:
    """What an aggregate is over: its column, or the counted table's rows (None for other expressions)."""
    if isinstance(expr, Agg):
        return expr.arg if expr.arg is not None else ("rows", expr.where)
    return None


def _has_agg(expr: object) -> bool:
    if isinstance(expr, Agg):
        return True
    if isinstance(expr, Arith):
        return _has_agg(expr.left) or _has_agg(expr.right)
    return False


def _strip_agg(expr: Expr) -> Expr:
    if isinstance(expr, Agg) and expr.arg is not None and expr.func in ("sum", "avg", "min", "max"):
        return expr.arg
    if isinstance(expr, Arith):
        return Arith(expr.op, _strip_agg(expr.left), _strip_agg(expr.right))
    return expr


def _name_of(expr: Expr) -> str:
    if isinstance(expr, Col):
        return expr.column
    if isinstance(expr, Agg):
        inner = expr.arg.column if isinstance(expr.arg, Col) else "rows"
        return f"{expr.func}_{inner}"
    if isinstance(expr, Bucket):
        return expr.grain
    if isinstance(expr, Part):
        return expr.part
    return "value"


def _unique_outputs(select: list[Output]) -> list[Output]:
    out: list[Output] = []
    names: set[str] = set()
    for o in select:
        if any(o.expr == x.expr for x in out):
            continue
        name = o.name
        n = 2
        while name in names:
            name = f"{o.name}_{n}"
            n += 1
        names.add(name)
        out.append(Output(name, o.expr))
    return out


def _non_overlapping(links: list[Link]) -> list[Link]:
    """Values chosen longest first; one value per question span (several columns may still hold it)."""
    chosen: list[Link] = []
    taken: set[int] = set()
    by_span: dict[tuple[int, int], list[Link]] = {}
    for link in links:
        by_span.setdefault((link.start, link.end), []).append(link)
    for (start, end), group in sorted(by_span.items(), key=lambda kv: (-(kv[0][1] - kv[0][0]), kv[0][0])):
        if taken & set(range(start, end)):
            continue
        taken |= set(range(start, end))
        chosen += sorted(group, key=lambda l: -l.score)
    return chosen


_DIRECTIVE_STARTS = {"always", "use", "filter", "match", "note", "assume", "when", "if", "only", "do", "don't", "make",
                     "ensure", "please", "remember", "ignore", "treat", "consider", "exclude", "include", "round", "to"}
_DIRECTIVE_WORDS = {"ilike", "like", "match", "matching", "matches", "sql", "table", "tables", "join", "filter", "case",
                    "insensitive", "insensitively", "exact", "string", "strings", "query", "column", "columns",
                    "percent", "wildcards", "upper", "lower", "lowercase", "uppercase", "nulls", "null", "cte", "ctes",
                    "subquery", "window", "group"}


_TERM = r"[A-Z][A-Z0-9]{1,7}"
_DEFINITION = re.compile(
    rf"\b(?P<term>{_TERM})\s*(?:\((?P<expansion>[^()=]{{3,80}})\))?\s*(?:=|:=|\bmeans\b|\bis defined as\b)\s*"
    r"(?P<phrase>[^=;()\n.]+?)\s*(?=[.;)\n]|$)")
_EXPANSION = re.compile(rf"\b(?P<term>{_TERM})\s*\((?P<expansion>[a-zA-Z][a-zA-Z ,'-]{{3,80}})\)")
_VAGUE_PERIOD = re.compile(r"\s+(?:within|for|over|in|during)\s+(?:a|the|any)\s+(?:specified|designated|given|"
                           r"chosen|certain|selected)\s+(?:start\s+)?(?:period|time|range|window)\b.*$", re.I)


def expand_definitions(question: str, instructions: Sequence[str] = ()) -> tuple[str, list[str]]:
    """Terms the question (or an instruction appended to it) defines, spelled out where it uses them.

    "Who are the top 3 salespersons by ASP? (ASP (average selling price) = total sales amount / number of
    sales)" reads as "... by the ratio of total sales amount to number of sales". A term is an abbreviation
    in capitals; a definition is "TERM = words", "TERM means words" or "TERM (words)". Formulas with more than
    one operator are left as they are (the model may still use them). `instructions` (the connection's, an
    admin's "AOV = average order value") lend their definitions too, though none of their other words.
    """
    notes: list[str] = []
    meaning: dict[str, str] = {}
    text = question
    found = [(m, True) for m in _DEFINITION.finditer(question)]
    found += [(m, False) for extra in instructions for m in _DEFINITION.finditer(extra)]
    for match, inside in found:
        phrase = _VAGUE_PERIOD.sub("", match.group("phrase").strip()).strip(" ,")
        operators = re.findall(r"[-+*/]", phrase)
        if not phrase or len(operators) > 1 or (operators and operators[0] != "/"):
            continue
        if operators:
            a, b = (part.strip() for part in phrase.split("/", 1))
            if not a or not b:
                continue
            phrase = f"the ratio of {a} to {b}"
        meaning.setdefault(match.group("term"), phrase)
        if inside:
            text = text.replace(match.group(0), " ")
    for match in _EXPANSION.finditer(text):
        meaning.setdefault(match.group("term"), match.group("expansion").strip())
    text = _EXPANSION.sub(lambda m: m.group("term"), text)
    for term, phrase in meaning.items():
        used = re.compile(rf"\b{re.escape(term)}\b")
        if used.search(text):
            text = used.sub(phrase, text)
            notes.append(f"read {term} as \"{phrase}\"")
    text = re.sub(r"\(\s*\)", " ", text)
    return re.sub(r"\s{2,}", " ", text).strip(), notes


def _split_directives(tokens: list[Token]) -> tuple[list[Token], list[Token]]:
    """Sentences that tell how to write the SQL ("Always filter names using ILIKE") are hints, not content.

    A sentence ends at . ? ! or ;, and a parenthesised part is judged on its own ("(Match strings exactly)").
    """
    pieces: list[list[Token]] = [[]]
    depth = 0
    for token in tokens:
        if token.text == "(":
            if depth == 0 and pieces[-1]:
                pieces.append([])
            depth += 1
            pieces[-1].append(token)
            continue
        pieces[-1].append(token)
        if token.text == ")":
            depth = max(0, depth - 1)
            if depth == 0:
                pieces.append([])
        elif token.kind == "punct" and token.text in ".?!;":
            pieces.append([])  # inside parentheses too: "(To get ..., join the tables. Always order with NULLS last.)"
    content: list[Token] = []
    directives: list[Token] = []
    for piece in pieces:
        words = [t.lower for t in piece if t.kind != "punct"]
        if not words:
            content += piece
            continue
        if (words[0] in _DIRECTIVE_STARTS and set(words) & _DIRECTIVE_WORDS) or \
                {"ilike", "wildcards", "insensitively"} & set(words):
            directives += piece
        else:
            content += piece
    return content or tokens, directives


def _match_mode(tokens: Sequence[Token]) -> str:
    words = [t.lower for t in tokens]
    text = " ".join(words)
    if "exact" in words or "exactly" in words:
        return "exact"
    if "ilike" in words or "insensitive" in text or "insensitively" in text or "wildcard" in text or "partial" in words:
        return "contains"
    return "default"


def _head_index(words: list[str]) -> int:
    for i, w in enumerate(words[:6]):
        if w in QUESTION_HEADS or w == "how":
            j = i + 1
            while j < len(words) and words[j] in ("is", "are", "was", "were", "the", "a", "an", "me", "all", "of", "'s",
                                                   "s", "do", "does", "did", "us", "both", "each", "every"):
                j += 1
            return j
    return 0


def _limit(tokens: list[Token]) -> tuple[int | None, set[int]]:
    words = [t.lower for t in tokens]
    units = {"day", "days", "week", "weeks", "month", "months", "year", "years", "quarter", "quarters", "hours",
             "hour", "minutes"}
    for i, w in enumerate(words):
        if w in ("top", "first", "bottom", "last", "latest", "recent") and i + 1 < len(words):
            number = number_value(tokens, i + 1)
            if number and 1 <= number[0] < 10_000:
                after = words[i + 1 + number[1]] if i + 1 + number[1] < len(words) else ""
                if after in units:
                    continue  # "the last 30 days" is a time window
                return int(number[0]), set(range(i, i + 1 + number[1]))
        if w in ("which", "what", "the", "list", "show", "give", "name", "find") and i + 2 < len(words) and \
                (tokens[i + 1].kind == "number" or words[i + 1] in COUNT_WORDS) and words[i + 2] not in units \
                and tokens[i + 2].kind == "word" and _plural(tokens[i + 2]):
            number = number_value(tokens, i + 1)
            if number and number[1] == 1 and 1 <= number[0] < 1000 and not re.fullmatch(r"(19|20)\d\d", words[i + 1]):
                return int(number[0]), {i + 1}
        if tokens[i].kind in ("number", "word") and i + 1 < len(words) and words[i + 1] in SUPERLATIVES:
            number = number_value(tokens, i)
            if number and number[1] == 1 and 1 <= number[0] < 1000 and (i == 0 or words[i - 1] in ("the", "top", "which", "what", "are", "list", "show", "give", "find")):
                return int(number[0]), {i}
    return None, set()


def _agg_cues(words: list[str]) -> list[tuple[int, int, str]]:
    out = _agg_phrases(words)
    # "the total sales count": a count, its word after the noun
    for k in range(len(out) - 1):
        (s1, e1, f1), (s2, e2, f2) = out[k], out[k + 1]
        if f1 == "sum" and f2 == "count" and s2 == e1 + 1 and words[s2] in ("count", "counts"):
            out[k] = (s1, e1, "count")
            out[k + 1] = (s2, e2, "")
    return [c for c in out if c[2]]


def _agg_phrases(words: list[str]) -> list[tuple[int, int, str]]:
    out: list[tuple[int, int, str]] = []
    taken: set[int] = set()
    for i in range(len(words)):
        if i in taken:
            continue
        for phrase, func in AGG_PHRASES:
            k = len(phrase)
            if tuple(words[i:i + k]) == phrase:
                if phrase == ("count",) and i + 1 < len(words) and words[i + 1] == "the":
                    pass
                out.append((i, i + k, func))
                taken |= set(range(i, i + k))
                break
    return out


def _group_cues(words: list[str]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for i, w in enumerate(words):
        if w not in GROUP_WORDS and w != "different":
            continue
        if w == "by":
            before = words[i - 1] if i else ""
            if before in ORDER_VERBS or before in ("descending", "ascending"):
                continue
            if _ranked_before(words, i):
                continue  # "the top 10 products by price" ranks them
            if before.endswith(("ed", "en")) and before not in AGENT_VERBS_SKIP:
                continue  # "written by authors": who did it, not a grouping
        if w == "each" and i + 1 < len(words) and words[i + 1] in ("other",):
            continue
        if w == "across" and i + 1 < len(words) and words[i + 1] in ("all", "the", "every"):
            continue  # "the maximum across all farms": over all of them, not per farm
        if w == "different" and not (i and words[i - 1] in ("for", "in", "across", "among", "by")):
            continue  # "how many different locations": distinct ones; "the average price for different X": per X
        start = i
        end = i + 1
        if w == "each" and i and words[i - 1] in ("for", "in", "of", "from", "at", "to"):
            start = i - 1
        if w == "across" and i + 1 < len(words) and words[i + 1] in ("different", "all", "the", "various"):
            end = i + 2
        out.append((start, end))
    return out


def _ranked_before(words: list[str], index: int) -> str | None:
    """ "top" or "bottom" when one heads the phrase before ``index`` ("the top 5 best selling car models by ...")."""
    for j in range(index - 1, max(-1, index - 8), -1):
        if words[j] in ("top", "bottom"):
            return words[j]
        if words[j] in (",", ".", "?", ";", "!", "by", "and", "with", "where", "that", "who", "which"):
            return None
    return None


def _order_cues(words: list[str]):
    """(index after which the ordering key is named or None, descending?, tokens) for "ordered by X desc" etc."""
    desc: bool | None = None
    used: set[int] = set()
    key_index: int | None = None
    for i, w in enumerate(words):
        if w in ("descending", "desc", "decreasing"):
            desc, used = True, used | {i}
        elif w in ("ascending", "asc", "increasing"):
            desc, used = False, used | {i}
        elif w in ("alphabetically", "alphabetical", "alphabetic"):
            # "in descending alphabetical order", "reverse alphabetical order": Z first
            desc = desc is True or (i >= 1 and words[i - 1] in ("reverse", "reversed", "inverse"))
            used = used | {i} | ({i - 1} if i >= 1 and words[i - 1] in ("reverse", "reversed", "inverse") else set())
        elif w in ("highest", "largest", "most", "longest", "biggest", "greatest", "newest", "latest") and (
                (i >= 1 and words[i - 1] == "from") or (i + 1 < len(words) and words[i + 1] == "first")):
            desc, used = True, used | {i - 1, i, i + 1}
        elif w in ("lowest", "smallest", "least", "shortest", "fewest", "oldest", "earliest") and (
                i + 1 < len(words) and words[i + 1] == "first"):
            desc, used = False, used | {i, i + 1}
        elif w in ("lowest", "smallest", "least", "shortest", "fewest") and i >= 1 and words[i - 1] == "from":
            desc, used = False, used | {i - 1, i}
        if w == "by" and key_index is None and _ranked_before(words, i):
            key_index = i + 1
            used |= {i}
            if desc is None:
                desc = _ranked_before(words, i) == "top"
        if w in ORDER_VERBS - {"list", "listed"} and i + 1 < len(words) and words[i + 1] in ("by", "on", "according"):
            key_index = i + 2
            used |= {i, i + 1}
        elif w in ("sort", "order", "rank", "arrange") and i + 1 < len(words) and words[i + 1] in ("the", "them", "these", "results"):
            key_index = i + 1
            used |= {i}
        elif w == "order" and i >= 1 and words[i - 1] == "in" and i + 1 < len(words) and words[i + 1] == "of":
            key_index = i + 2
            used |= {i - 1, i, i + 1}
    found = order_phrase(words)  # "in the descending order of age", "according to the price"
    if found is not None and (key_index is None or found[0] > key_index):
        key_index, desc, used = found[0], desc if found[1] is None else found[1], used | found[2]
    if desc is None and key_index is None:
        return None
    return key_index, desc, used


def _asks_ordering(words: list[str]) -> bool:
    return any(w in ("ordered", "sorted", "order", "sort", "ranked", "descending", "ascending") for w in words)


def _output_segments(words: list[str], head: int) -> list[tuple[int, int]]:
    """Stretches of the question that name what to return: after the question word, and "return/give/show ..." parts."""
    stop = next((i for i in range(head, len(words)) if words[i] in ("of", "for", "in", "that", "who", "which", "with",
                                                                     "whose", "where", "by", "from", "have", "has",
                                                                     "had", "is", "are", "was", "were")), len(words))
    segments = [(head, min(stop + 1, head + 8))]
    for i, w in enumerate(words):
        if w in ("return", "give", "show", "list", "include", "display", "provide", "including", "showing") and i > head:
            end = next((j for j in range(i + 1, len(words)) if words[j] in (".", "?", "!", ";")), len(words))
            segments.append((i + 1, end))
        if w in ("and",) and i > head and i + 1 < len(words) and words[i + 1] in ("their", "its", "the", "his", "her"):
            segments.append((i + 1, min(len(words), i + 6)))
        if w in ("both",) and i >= head:
            segments.append((i + 1, min(len(words), i + 8)))
    return segments


def _part_of_column(index: int, column_links: list[Link]) -> bool:
    return any(index in l.matched and l.score >= 0.85 for l in column_links)


def _negated(words: list[str], index: int) -> bool:
    window = words[max(0, index - 3):index]
    return any(w in NEGATIONS - {"other"} for w in window) or (
        len(window) >= 2 and window[-2:] == ["other", "than"])


def _flag_true(attribute: Attribute) -> object:
    if attribute.kind == "boolean" or not attribute.values:
        return True if attribute.kind == "boolean" else 1
    lowered = {v.lower(): v for v in attribute.values}
    for yes in ("yes", "y", "true", "t", "1"):
        if yes in lowered:
            return lowered[yes]
    return attribute.values[-1]


def _coverage(p: _Parse, used: set[int]) -> float:
    content = [i for i, t in enumerate(p.tokens) if t.kind in ("word", "quoted", "number", "date")
               and t.lower not in STOP_WORDS and t.stem not in CUE_WORDS]
    linked = {i for l in p.links for i in l.matched if l.score >= 0.6} | {i for v in p.values for i in v.span} | \
        {i for w in p.windows for i in w.tokens}
    important = [i for i in content if i in linked or p.tokens[i].kind in ("quoted", "number", "date")]
    if not important:
        return 1.0
    return sum(1 for i in important if i in used) / len(important)


# nouns after a table's name that name its rows again ("faculty members", "staff people")
ENTITY_TAILS = frozenset({"member", "members", "people", "person", "persons", "individuals", "records", "entries"})
# nouns before a literal that say what kind of text it is ("the word 'court'", "the letter M")
LITERAL_NOUNS = frozenset({"word", "words", "letter", "letters", "string", "substring", "phrase", "character",
                           "characters", "text", "term", "name"})
# words a question may carry that ask for nothing in particular
HARMLESS = frozenset(stem(w) for w in (
    "data database table tables record records row rows entry entries info information detail details value values "
    "result results thing things item items one ones kind sort type there here currently current respectively "
    "known listed stored recorded available registered existing exist exists many much whole entire different "
    "distinct unique same other another both all everything something anything information please kindly "
    "can could would will should may might shall must let us need want like know see".split()))


def _left_out(p: _Parse, used: set[int], *, cues: bool = False) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(content words nothing in the catalog explains, words that name something the plan leaves unused).

    Not counted: stop words, the language's own cue words (aggregates, ordering, grouping, negation, superlatives
    and the adjectives they measure, text-match phrases and the literal after them), time buckets, a top-N
    count, numbers (whether the plan uses them is weighed by the confidence model), and light words: verbs that
    relate things and particles ("placed", "sold", "signed up"; semantics/wordclass.py)."""
    linked = {i for l in p.links for i in l.matched if l.score >= 0.5} | {i for v in p.values for i in v.span} | \
        {i for w in p.windows for i in w.tokens}
    entity = {i for l in p.links if l.kind == "entity" and l.score >= 0.5 for i in l.matched}
    _, limit_tokens = _limit(p.tokens)
    quiet = set(limit_tokens) | {i for b in find_buckets(p.tokens) for i in b.tokens}
    for i in range(len(p.words)):
        for phrase, _ in STRING_PHRASES:
            if tuple(p.words[i:i + len(phrase)]) == phrase:
                quiet |= set(range(i, i + len(phrase) + 1))  # the cue and the literal after it
    unread, dropped = [], []
    for i, t in enumerate(p.tokens):
        if cues and i not in used and i not in quiet and _dropped_cue(p, i):
            dropped.append(t.text)
            continue
        if t.kind != "word" or i in used or i in quiet or t.lower in STOP_WORDS or t.stem in HARMLESS:
            continue
        if t.stem in CUE_WORDS and i not in entity:
            continue
        if t.lower in ENTITY_TAILS and i - 1 in entity and i - 1 in used:
            continue  # "faculty members", "club members": the things the table holds
        if t.lower in LITERAL_NOUNS and i + 1 < len(p.tokens) and (p.tokens[i + 1].kind == "quoted" or (
                len(p.tokens[i + 1].text) == 1 and i + 1 in used)):
            continue  # "contains the word 'court'", "the letter M"
        if t.lower in SUPERLATIVES or t.lower in NEGATIONS or t.lower in QUESTION_HEADS or t.lower in GROUP_WORDS \
                or t.lower in ORDER_VERBS or t.lower in RATIO_WORDS or t.lower in AGENT_VERBS_SKIP \
                or t.lower in ADJECTIVE_PROPERTIES:
            continue
        if i in linked:
            dropped.append(t.text)
        elif not is_light_at([x.text for x in p.tokens], i):
            unread.append(t.text)
    return tuple(dict.fromkeys(unread)), tuple(dict.fromkeys(dropped))


# negations a reading must show (a "<>", NOT, an absence); "other" and "non" also name things ("other details")
_DENIALS = frozenset(NEGATIONS) - {"other", "non"}


def _denies(plan: QueryPlan) -> bool:
    """Whether the plan negates anything: `<>`, NOT, an absence, a negated list or match, a missing value."""
    found = False

    def walk(node: object) -> None:
        nonlocal found
        if found:
            return
        if isinstance(node, Compare) and (node.op == "<>" or node.right == Lit(False)) \
                or isinstance(node, Not) or isinstance(node, Related | InList | Match) and node.negate \
                or isinstance(node, IsNull) and not node.negate:
            found = True
        elif isinstance(node, AllOf | AnyOf):
            for item in node.items:
                walk(item)
        elif isinstance(node, Agg) and node.where is not None:
            walk(node.where)

    for part in (plan.where, plan.having, *(o.expr for o in plan.select)):
        walk(part)
    return found


def _shown_and_ordered(plan: QueryPlan) -> list[object]:
    """The expressions a plan shows and orders by, aggregates included."""
    return [o.expr for o in plan.select] + [o.expr for o in plan.order_by]


def _dropped_cue(p: _Parse, index: int) -> bool:
    """A word that says how to read the question, left unused: a number, a quoted literal or a date (no limit
    and no part of a name), a superlative ("the most", "the oldest") or a negation ("not", "never")."""
    token = p.tokens[index]
    if token.kind in ("number", "quoted", "date"):
        return not any(index in l.matched for l in p.links if l.kind != "value")
    return token.kind == "word" and (token.lower in SUPERLATIVES or token.lower in _DENIALS)


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


def read_question(question: str, model: SemanticModel, *, today: date | None = None, limit: int = 6) -> list[Reading]:
    """Ranked readings of `question` over `model` (build a Reader to reuse its index across questions)."""
    return Reader(model).read(question, today=today, limit=limit)
