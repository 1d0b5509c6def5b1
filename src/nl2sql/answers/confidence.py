"""How likely a reading is to be right: a small logistic model over what the question asks and what the reading's
plan does, trained on the development folds of ../shared/spider_train by `bench/train_confidence.py` (weights in
`confidence_weights.py`, written by that script; the bench shows the held-back folds it never saw).

The features are schema-agnostic: cue words of the question (an order, a grouping, a superlative, an aggregate, a
negation, a number) against the parts of the plan that would honour them, the reading's own score and fit, the
words it left out, and the shape of the plan. A cue the plan ignores is the commonest sign of a wrong reading.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from nl2sql.answers import confidence_weights

__all__ = ["FEATURES", "features", "probability"]

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

FEATURES = (
    "bias", "score", "fit", "left_out", "unread", "no_rows", "one_row", "order_cue", "order_missing",
    "group_cue", "group_missing", "superlative_cue", "superlative_missing", "aggregate_cue", "aggregate_missing",
    "aggregate_unasked", "negation_cue", "negation_missing", "number_cue", "number_missing", "set_cue",
    "tables", "outputs", "filters", "distinct", "key_output", "name_cue_no_text", "words", "runner_up_gap",
    "readings", "agreement", "singular_many_rows", "plural_one_row",
)

# "what is the ...", "which ... has the most": one answer expected; "list all", "what are": several
SINGULAR_STARTS = ("what is", "what's", "who is", "which is", "what was", "who was", "when was", "when did", "how")
PLURAL_STARTS = ("list", "show", "what are", "which are", "who are", "find all", "give all", "return all",
                 "what were", "which were")

_NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?![\w.])")


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


def features(question: str, plan: Mapping[str, Any] | None, *, score: float, fit: float, rows: int | None,
             left_out: int, unread: int, runner_up_gap: float, readings: int, agreement: float = 0.0) -> dict[str, float]:
    """The model's inputs for one reading of `question`."""
    text = " ".join(question.lower().split())
    words = set(re.findall(r"[a-z']+", text))
    plan = plan or {}
    nodes = _kinds(plan, [])
    aggs = [n for n in nodes if n.get("kind") == "Agg"]
    negated = any(n.get("kind") == "Not" or n.get("negate") or n.get("op") in ("<>", "!=") for n in nodes)
    literals = {str(n.get("value")) for n in nodes if n.get("kind") == "Lit"}
    numbers = set(_NUMBER.findall(text))
    limit = plan.get("limit")
    select = plan.get("select") or []
    outputs = [o.get("expr") or {} for o in select]
    tables = {n.get("table") for n in nodes if n.get("kind") == "Col" and n.get("table")} | set(plan.get("via") or ())
    order_cue = bool(words & ORDER_CUES)
    group_cue = _phrase(text, GROUP_CUES)
    superlative_cue = bool(words & SUPERLATIVE_CUES)
    aggregate_cue = _phrase(text, AGGREGATE_CUES)
    negation_cue = bool(words & NEGATION_CUES)
    has_order = bool(plan.get("order_by"))
    key_output = any(o.get("kind") == "Col" and str(o.get("column", "")).lower().endswith("id") for o in outputs)
    text_output = any(o.get("kind") == "Col" and not str(o.get("column", "")).lower().endswith("id") for o in outputs)
    values = {
        "bias": 1.0,
        "score": float(score),
        "fit": float(fit),
        "left_out": float(min(left_out, 4)),
        "unread": float(min(unread, 4)),
        "no_rows": float(rows == 0),
        "one_row": float(rows == 1),
        "order_cue": float(order_cue),
        "order_missing": float(order_cue and not has_order),
        "group_cue": float(group_cue),
        "group_missing": float(group_cue and aggregate_cue and not plan.get("group_by")),
        "superlative_cue": float(superlative_cue),
        "superlative_missing": float(superlative_cue and not (has_order and limit) and not any(
            a.get("func") in ("max", "min") for a in aggs)),
        "aggregate_cue": float(aggregate_cue),
        "aggregate_missing": float(aggregate_cue and not aggs),
        "aggregate_unasked": float(bool(aggs) and not aggregate_cue and not superlative_cue),
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
        "words": float(min(len(words), 30)) / 10,
        "runner_up_gap": float(runner_up_gap),
        "readings": float(min(readings, 6)),
        "agreement": float(agreement),
        "singular_many_rows": float(text.startswith(SINGULAR_STARTS) and (rows or 0) > 1 and not group_cue),
        "plural_one_row": float(text.startswith(PLURAL_STARTS) and rows == 1),
    }
    return values


def probability(values: Mapping[str, float], weights: Mapping[str, float] | None = None) -> float:
    """The chance the reading is right, by the trained weights (or `weights`)."""
    weights = confidence_weights.WEIGHTS if weights is None else weights
    z = sum(weights.get(name, 0.0) * values.get(name, 0.0) for name in FEATURES)
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))
