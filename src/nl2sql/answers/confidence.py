"""How likely a reading is to be right: a small logistic model over what the question asks and what the reading's
plan does, trained on the development folds of ../shared/spider_train by `bench/train_confidence.py` (weights in
`confidence_weights.py`, written by that script; the bench shows the held-back folds it never saw).

The features are schema-agnostic: cue words of the question (an order, a grouping, a superlative, an aggregate, a
negation, a number, "different", "contains") against the parts of the plan that would honour them; how much of the
plan the question's own words account for (outputs, groupings, conditions and tables no word names, literals the
question never says); signs of the reader's commonest confident mistakes (an answer that only repeats the value
the question gave, an aggregate of a column the filter or grouping fixes, the count of a column's values); and the
reading's own score and fit, the words it left out, and the shape of the plan. A cue the plan ignores is the
commonest sign of a wrong reading.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from nl2sql.answers import confidence_weights

__all__ = ["FEATURES", "as_defined", "features", "probability"]

# cue words, as written in questions (general English)
ORDER_CUES = frozenset("order ordered sort sorted ascending descending alphabetical alphabetically ranked rank".split())
GROUP_CUES = ("each", "per", "every", "for each", "for every", "by each", "across each")
SUPERLATIVE_CUES = frozenset(
    "most least highest lowest largest smallest biggest greatest fewest maximum minimum max min oldest youngest "
    "newest latest earliest longest shortest tallest heaviest lightest cheapest best worst top".split())
AGGREGATE_CUES = ("how many", "number of", "count", "total", "sum", "average", "avg", "mean", "maximum", "minimum",
                  "max", "min")
NEGATION_CUES = frozenset("not never no without none nobody nothing neither nor don't doesn't didn't haven't hasn't "
                          "isn't aren't weren't wasn't".split())
SET_CUES = frozenset("both either intersect except union also".split())
NAME_CUES = frozenset("name names named title titles".split())
DISTINCT_CUES = frozenset("distinct different unique".split())
CONTAINS_CUES = frozenset("contain contains containing contained include includes including substring".split())

FEATURES = (
    "bias", "score", "fit", "left_out", "unread", "no_rows", "one_row", "order_cue", "order_missing",
    "group_cue", "group_missing", "superlative_cue", "superlative_missing", "aggregate_cue", "aggregate_missing",
    "aggregate_unasked", "negation_cue", "negation_missing", "number_cue", "number_missing", "set_cue",
    "tables", "outputs", "filters", "distinct", "key_output", "name_cue_no_text", "words", "runner_up_gap",
    "readings", "agreement", "singular_many_rows", "plural_one_row",
    # how much of the plan the question's own words account for (names and literals), whatever the catalog
    "outputs_unnamed", "groups_unnamed", "columns_unnamed", "tables_unnamed", "literals_foreign",
    # the commonest confident mistakes: "how many different ..." counted with repeats, an answer that only repeats
    # the value the question gave (or aggregates a column the filter or the grouping fixes), a grouping nobody
    # asked for, "contains" read as equality, the count of a column's values where its values were meant ("the
    # largest number of votes"), a bare list of one column's values, repeats included, an average asked for and
    # none computed, two things asked for ("names and headquarters") and one output
    "distinct_missing", "output_is_filter", "group_unasked", "contains_missing", "count_column", "listing_all",
    "agg_degenerate", "average_missing", "pair_one_output",
    # the share of the question's content words that are, word for word, a name or a value the plan uses
    "words_exact",
)

# "what is the ...", "which ... has the most": one answer expected; "list all", "what are": several
SINGULAR_STARTS = ("what is", "what's", "who is", "which is", "what was", "who was", "when was", "when did", "how")
PLURAL_STARTS = ("list", "show", "what are", "which are", "who are", "find all", "give all", "return all",
                 "what were", "which were")

_NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?![\w.])")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}(?:-\d{2})?(?:[ T][\d:.]+)?$")
_NAME_PART = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")
# asks for a time window: a year, a month, "last 30 days", "this year"
TIME_CUES = frozenset("january february march april may june july august september october november december jan feb "
                      "mar apr jun jul aug sep sept oct nov dec today yesterday week weeks month months year years "
                      "day days quarter since before after ago recent recently monthly yearly weekly daily quarterly "
                      "annual annually "
                      "when date dates time".split())
_KEY_WORDS = frozenset("id name title code".split())  # a named table's identifying columns stand for it
_PAIR = re.compile(r"\w and (?:the |their |its )?\w")  # "names and headquarters"
_YEAR = re.compile(r"\b(?:1[89]|20)\d{2}\b")


def _stem(word: str) -> str:
    word = word.lower()
    for end, repl in (("ies", "y"), ("ses", "s"), ("s", "")):
        if word.endswith(end) and len(word) > len(end) + 2:
            return word[: -len(end)] + repl
    return word


def _name_words(name: str) -> list[str]:
    """The words of a table or column name: `first_name`, `FirstName`, `order_items` -> first, name / order, item."""
    return [_stem(w) for w in _NAME_PART.findall(str(name)) if not w.isdigit() and len(w) > 1]


def _named(name: str, stems: set[str]) -> bool:
    """Whether a question word (as a stem) names a word of `name` (or starts it: 'dept' for 'department')."""
    for part in _name_words(name):
        if part in stems or any(len(s) >= 4 and (part.startswith(s) or s.startswith(part)) for s in stems):
            return True
    return False


def _kinds(node: Any, out: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        out.append(node)
        for value in node.values():
            _kinds(value, out)
    elif isinstance(node, list):
        for value in node:
            _kinds(value, out)
    return out


def _phrase(text: str, phrases: Sequence[str]) -> bool:
    return any(re.search(rf"\b{re.escape(p)}\b", text) for p in phrases)


# words that ask for nothing of the catalog by themselves (besides the cue words above)
_PLAIN = frozenset("the a an of and or in on at to for from with by is are was were be been do does did have has had "
                   "what which who whom whose when where how many much all any some there their them they it its "
                   "this that these those me give list show find return tell each per than more less least most "
                   "also only as into over under about between".split())


def _exact_share(words: set[str], plan: Mapping[str, Any], nodes: list[dict[str, Any]]) -> float:
    content = {_stem(w) for w in words if len(w) > 2 and w not in _PLAIN and w not in ORDER_CUES
               and w not in SUPERLATIVE_CUES and w not in NEGATION_CUES and w not in TIME_CUES}
    if not content:
        return 1.0
    names: set[str] = set()
    for node in nodes:
        for key in ("table", "column", "name"):
            if isinstance(node.get(key), str):
                names.update(_name_words(node[key]))
        if node.get("kind") == "Lit" and isinstance(node.get("value"), str):
            names.update(_stem(w) for w in re.findall(r"[a-z0-9]+", node["value"].lower()))
        if node.get("kind") == "Match":
            names.update(_stem(w) for w in re.findall(r"[a-z0-9]+", str(node.get("text", "")).lower()))
    return len(content & names) / len(content)


_CONDITIONS = ("Compare", "Between", "InList", "Match", "IsNull")


def _literal_seen(value: Any, text: str, numbers: set[str], timed: bool) -> bool:
    """Whether the question says a literal of the plan: the value itself, or a time window for a date."""
    if isinstance(value, bool) or value is None:
        return True
    if isinstance(value, (int, float)):
        return value in (0, 1) or f"{value:g}" in numbers
    shown = str(value).strip("%").lower()
    if _ISO_DATE.match(shown):
        return timed
    return bool(shown) and (shown in text or shown.replace("_", " ") in text)


def _naming(text: str, plan: Mapping[str, Any], timed: bool) -> dict[str, float]:
    """How much of the plan the question's words account for: outputs, groupings, conditions, tables, literals."""
    stems = {_stem(w) for w in re.findall(r"[a-z0-9]+", text) if len(w) > 1}
    numbers = {f"{float(n):g}" for n in _NUMBER.findall(text)}

    def col_named(col: Mapping[str, Any], key_too: bool = False) -> bool:
        if _named(col.get("column", ""), stems):
            return True
        return key_too and bool(set(_name_words(col.get("column", ""))) & _KEY_WORDS) and _named(col.get("table", ""),
                                                                                                stems)

    explained: set[str] = set()
    outputs_unnamed = 0
    for output in plan.get("select") or []:
        cols = [n for n in _kinds(output.get("expr"), []) if n.get("kind") == "Col"]
        if _named(output.get("name", ""), stems) or any(col_named(c, True) for c in cols):
            explained |= {c.get("table") for c in cols}
        else:
            outputs_unnamed += 1
    groups = [g for g in plan.get("group_by") or [] if isinstance(g, dict)]
    groups_unnamed = 0
    for group in groups:
        cols = [n for n in _kinds(group, []) if n.get("kind") == "Col"]
        timed_group = group.get("kind") in ("Bucket", "Part") and timed
        if timed_group or any(col_named(c) or _named(c.get("table", ""), stems) for c in cols) or not cols:
            explained |= {c.get("table") for c in cols}
        else:
            groups_unnamed += 1
    columns_unnamed = foreign = 0
    conditions = [n for n in _kinds([plan.get("where"), plan.get("having")], []) if n.get("kind") in _CONDITIONS]
    for condition in conditions:
        parts = _kinds(condition, [])
        cols = [n for n in parts if n.get("kind") == "Col"]
        values = [n.get("value") for n in parts if n.get("kind") == "Lit"] + (
            [condition["text"]] if condition.get("kind") == "Match" else [])
        seen = [_literal_seen(v, text, numbers, timed) for v in values]
        foreign += seen.count(False)
        if any(col_named(c) for c in cols) or (values and any(seen)):
            explained |= {c.get("table") for c in cols}
        elif cols:
            columns_unnamed += 1
    tables = {n.get("table") for n in _kinds(plan, []) if n.get("kind") == "Col" and n.get("table")}
    unnamed_tables = [t for t in tables if t not in explained and not _named(t, stems)]
    return {"outputs_unnamed": float(min(outputs_unnamed, 3)), "groups_unnamed": float(min(groups_unnamed, 2)),
            "columns_unnamed": float(min(columns_unnamed, 3)), "tables_unnamed": float(min(len(unnamed_tables), 3)),
            "literals_foreign": float(min(foreign, 3))}


def _col_key(col: Mapping[str, Any]) -> tuple[str, str]:
    return (str(col.get("table") or "").lower(), str(col.get("column", "")).lower())


def _mistakes(words: set[str], text: str, plan: Mapping[str, Any], nodes: list[dict[str, Any]]) -> dict[str, float]:
    """Signs of the reader's commonest confident mistakes (see FEATURES)."""
    counted_once = plan.get("distinct") or any(n.get("func") == "count_distinct" for n in nodes)
    fixed = {_col_key(n["left"]) for n in _kinds(plan.get("where"), []) if n.get("kind") == "Compare"
             and n.get("op") == "=" and (n.get("left") or {}).get("kind") == "Col"}
    outputs = [(o.get("expr") or {}) for o in plan.get("select") or []]
    cols = [o for o in outputs if o.get("kind") == "Col"]
    grouped = {_col_key(g) for g in plan.get("group_by") or [] if isinstance(g, dict) and g.get("kind") == "Col"}
    degenerate = any(n.get("kind") == "Agg" and (n.get("arg") or {}).get("kind") == "Col"
                     and _col_key(n["arg"]) in fixed | grouped for n in nodes)
    repeats = bool(outputs) and len(cols) == len(outputs) and all(_col_key(c) in fixed for c in cols)
    bare = not (plan.get("where") or plan.get("distinct") or plan.get("group_by") or plan.get("limit"))
    asks_group = _phrase(text, GROUP_CUES) or bool(words & SUPERLATIVE_CUES) or " by " in f" {text} "
    return {
        "distinct_missing": float(bool(words & DISTINCT_CUES) and not counted_once),
        "output_is_filter": float(repeats),
        "group_unasked": float(bool(plan.get("group_by")) and not asks_group),
        "contains_missing": float(bool(words & CONTAINS_CUES) and not any(n.get("kind") == "Match" for n in nodes)),
        "agg_degenerate": float(degenerate),
        "count_column": float(any(n.get("kind") == "Agg" and n.get("func") == "count" and n.get("arg") for n in nodes)),
        "listing_all": float(bool(cols) and len(cols) == len(outputs) and bare),
        "average_missing": float(bool(words & {"average", "mean", "avg"}) and not any(
            n.get("func") in ("avg", METRIC) for n in nodes)),
        "pair_one_output": float(len(outputs) == 1 and bool(_PAIR.search(text)) and not words & SET_CUES
                                 and not plan.get("where")),
    }


def _undated_fit(fit: float, naming: Mapping[str, float], explained: bool) -> float:
    """The reading's fit (semantics.sql_fit) without its penalty for literals the question accounts for otherwise:
    sql_fit counts the bounds of a time window the question asked for ("in March 2024"), and the values of a
    metric's own filter, as values the question never names."""
    if not explained or naming["literals_foreign"]:
        return fit
    return min(1.0, fit / 0.7 + 0.15)


def _cues(text: str, words: set[str], plan: Mapping[str, Any], nodes: list[dict[str, Any]]) -> dict[str, float]:
    """Cue words of the question against the plan parts that would honour them, and the plan's shape."""
    aggs = [n for n in nodes if n.get("kind") == "Agg"]
    negated = any(n.get("kind") == "Not" or n.get("negate") or n.get("op") in ("<>", "!=") for n in nodes)
    literals = {str(n.get("value")) for n in nodes if n.get("kind") == "Lit"}
    numbers = set(_NUMBER.findall(text))
    limit = plan.get("limit")
    select = plan.get("select") or []
    outputs = [o.get("expr") or {} for o in select]
    tables = {n.get("table") for n in nodes if n.get("kind") == "Col" and n.get("table")} | set(plan.get("via") or ())
    order_cue, group_cue = bool(words & ORDER_CUES), _phrase(text, GROUP_CUES)
    superlative_cue, aggregate_cue = bool(words & SUPERLATIVE_CUES), _phrase(text, AGGREGATE_CUES)
    negation_cue, has_order = bool(words & NEGATION_CUES), bool(plan.get("order_by"))
    key_output = any(o.get("kind") == "Col" and str(o.get("column", "")).lower().endswith("id") for o in outputs)
    text_output = any(o.get("kind") == "Col" and not str(o.get("column", "")).lower().endswith("id") for o in outputs)
    return {
        "order_cue": float(order_cue),
        "order_missing": float(order_cue and not has_order),
        "group_cue": float(group_cue),
        "group_missing": float(group_cue and aggregate_cue and not plan.get("group_by")),
        "superlative_cue": float(superlative_cue),
        "superlative_missing": float(superlative_cue and not (has_order and limit) and not any(
            a.get("func") in ("max", "min") for a in aggs)),
        "aggregate_cue": float(aggregate_cue),
        "aggregate_missing": float(aggregate_cue and not aggs),
        # a metric's name asks for its aggregate as "total" does ("revenue by category")
        "aggregate_unasked": float(bool(aggs) and not aggregate_cue and not superlative_cue
                                   and not any(a.get("func") == METRIC for a in aggs)),
        "negation_cue": float(negation_cue),
        "negation_missing": float(negation_cue and not negated),
        "number_cue": float(bool(numbers)),
        "number_missing": float(bool(numbers) and not (numbers & literals) and str(limit) not in numbers),
        "set_cue": float(bool(words & SET_CUES)),
        "tables": float(min(len(tables), 4)),
        "outputs": float(min(len(select), 5)),
        "filters": float(sum(1 for n in nodes if n.get("kind") in ("Compare", "Match", "InList", "Between",
                                                                    "IsNull", "Related"))),
        "distinct": float(bool(plan.get("distinct"))),
        "key_output": float(key_output),
        "name_cue_no_text": float(bool(words & NAME_CUES) and not text_output),
    }


METRIC = "metric"  # the aggregate function of an admin-defined metric, as features() sees it


def as_defined(plan: Mapping[str, Any], defined: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The plan with each admin-defined metric it reports (semantics.metric_parts) standing as one named aggregate.

    The metric's expression, its filter and the tables they join come from the admin's definition, not from a guess
    at the question's words: counted as the reading's own, they made every metric answer look like a risky
    multi-table reading with values nobody asked for. A plan with no metric is returned as it is."""
    used = _used(plan, defined)
    if not used:
        return dict(plan)
    # the metric's expression, wherever the plan uses it (its output, an ordering by it), is the one named aggregate
    named = [(d["expr"], {"kind": "Agg", "func": METRIC, "where": None,
                          "arg": {"kind": "Col", "table": d["table"], "column": d["output"]}}) for d in used]
    out = _replaced(dict(plan), named)
    out["where"] = _without(plan.get("where"), [d["where"] for d in used if d.get("where")])
    return out


def _used(plan: Mapping[str, Any], defined: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The metrics the plan reports: an output under the metric's name."""
    by_output = {d["output"]: d for d in defined}
    return [by_output[o.get("name")] for o in plan.get("select") or [] if o.get("name") in by_output]


def _replaced(node: Any, named: Sequence[tuple[Any, Any]]) -> Any:
    for expr, replacement in named:
        if node == expr:
            return replacement
    if isinstance(node, dict):
        return {k: _replaced(v, named) for k, v in node.items()}
    if isinstance(node, list):
        return [_replaced(v, named) for v in node]
    return node


def _without(condition: Any, given: Sequence[Any]) -> Any:
    """`condition` less the parts equal to a given one (inside AllOf too); None when nothing is left."""
    if condition is None or condition in given:
        return None
    if isinstance(condition, dict) and condition.get("kind") == "AllOf":
        items = [i for i in (_without(item, given) for item in condition.get("items") or []) if i is not None]
        return None if not items else items[0] if len(items) == 1 else {**condition, "items": items}
    return condition


def features(question: str, plan: Mapping[str, Any] | None, *, score: float, fit: float, rows: int | None,
             left_out: int, unread: int, runner_up_gap: float, readings: int,
             agreement: float = 0.0, defined: Sequence[Mapping[str, Any]] = ()) -> dict[str, float]:
    """The model's inputs for one reading of `question` (`defined`: the connection's metrics, see as_defined)."""
    text = " ".join(question.lower().split())
    words = set(re.findall(r"[a-z']+", text))
    given = plan or {}
    plan = as_defined(given, defined)
    nodes = _kinds(plan, [])
    values = {
        "bias": 1.0,
        "score": float(score),
        "left_out": float(min(left_out, 4)),
        "unread": float(min(unread, 4)),
        "no_rows": float(rows == 0),
        "one_row": float(rows == 1),
        "words": float(min(len(words), 30)) / 10,
        "runner_up_gap": float(runner_up_gap),
        "readings": float(min(readings, 6)),
        "agreement": float(agreement),
        "singular_many_rows": float(text.startswith(SINGULAR_STARTS) and (rows or 0) > 1
                                    and not _phrase(text, GROUP_CUES)),
        "plural_one_row": float(text.startswith(PLURAL_STARTS) and rows == 1),
    }
    values.update(_cues(text, words, plan, nodes))
    timed = bool(words & TIME_CUES or _YEAR.search(text))
    values.update(_naming(text, plan, timed))
    values.update(_mistakes(words, text, plan, nodes))
    values["words_exact"] = _exact_share(words, plan, nodes)
    dated = any(_ISO_DATE.match(str(n.get("value")).strip("%")) for n in nodes if n.get("kind") == "Lit")
    # a metric's own filter ("cancelled orders excluded") names values the question need not say
    filters = [d["where"] for d in _used(given, defined) if d.get("where")]
    unsaid = any(isinstance(n.get("value"), str) and n["value"].lower() not in text
                 for n in _kinds(filters, []) if n.get("kind") == "Lit")
    values["fit"] = _undated_fit(float(fit), values, dated and timed or unsaid)
    return values


def probability(values: Mapping[str, float], weights: Mapping[str, float] | None = None) -> float:
    """The chance the reading is right, by the trained weights (or `weights`)."""
    weights = confidence_weights.WEIGHTS if weights is None else weights
    z = sum(weights.get(name, 0.0) * values.get(name, 0.0) for name in FEATURES)
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))
