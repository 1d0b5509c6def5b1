"""Golden-query adaptation: a verified query whose question matches except for its literals, with the new literals.

"How many orders were shipped to Texas in 2024?" against the golden "How many orders were shipped to Ohio in
2023?": the rest of the words agree, so 'Ohio' and 2023 in the verified SQL become 'Texas' and 2024, replaced in
its syntax tree (never in its text). Anything else that differs refuses the adaptation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlglot
from sqlglot import exp

from nl2sql.semantics.lexicon import STOP_WORDS, Token, normalize, tokenize
from nl2sql.semantics.model import SemanticModel
from nl2sql.semantics.timewords import MONTHS

__all__ = ["Adaptation", "adapt_golden", "same_literals"]


@dataclass(frozen=True)
class Adaptation:
    sql: str
    replaced: tuple[tuple[str, str], ...]  # (golden literal, new literal)


@dataclass(frozen=True)
class _Literal:
    text: str
    kind: str  # number, year, text
    start: int
    end: int


def _literals(tokens: list[Token], model: SemanticModel) -> list[_Literal]:
    out: list[_Literal] = []
    n = len(tokens)
    taken: set[int] = set()
    for i, token in enumerate(tokens):
        if token.kind == "quoted":
            out.append(_Literal(token.text, "text", i, i + 1))
            taken.add(i)
        elif token.kind == "number":
            kind = "year" if re.fullmatch(r"(19|20)\d\d", token.lower) else "number"
            out.append(_Literal(token.lower.replace(",", ""), kind, i, i + 1))
            taken.add(i)
        elif token.kind == "date":
            out.append(_Literal(token.lower, "date", i, i + 1))
            taken.add(i)
    # sampled values of the catalog, longest first ("New York" before "York")
    for start in range(n):
        if start in taken:
            continue
        for end in range(min(n, start + 6), start, -1):
            span = range(start, end)
            if any(j in taken for j in span):
                continue
            key = normalize(" ".join(t.text for t in tokens[start:end]))
            if not key or (end - start == 1 and tokens[start].lower in STOP_WORDS):
                continue
            if key in model.values or (end - start == 1 and tokens[start].lower in MONTHS):
                entries = model.values.get(key, ())
                text = entries[0].value if entries else tokens[start].text
                out.append(_Literal(text, "text", start, end))
                taken.update(span)
                break
    return sorted(out, key=lambda l: l.start)


def same_literals(question: str, golden_question: str, model: SemanticModel) -> bool:
    """Whether the two questions name the same values, numbers and dates (case aside): a near-identical question
    that names another month or value is not the verified query's question."""
    new = sorted(l.text.lower() for l in _literals(tokenize(question), model))
    old = sorted(l.text.lower() for l in _literals(tokenize(golden_question), model))
    return new == old


def _skeleton(tokens: list[Token], literals: list[_Literal]) -> list[str]:
    inside = {i for l in literals for i in range(l.start, l.end)}
    return [t.stem for i, t in enumerate(tokens) if i not in inside and t.kind != "punct" and t.lower not in STOP_WORDS]


def adapt_golden(question: str, golden_question: str, golden_sql: str, model: SemanticModel,
                 dialect: str | None = None) -> Adaptation | None:
    """The golden SQL with this question's literals, or None when the questions differ in more than literals."""
    new_tokens, old_tokens = tokenize(question), tokenize(golden_question)
    new_literals, old_literals = _literals(new_tokens, model), _literals(old_tokens, model)
    if not old_literals or len(new_literals) != len(old_literals):
        return None
    if _skeleton(new_tokens, new_literals) != _skeleton(old_tokens, old_literals):
        return None
    pairs = []
    for old, new in zip(old_literals, new_literals):
        if old.kind != new.kind and {old.kind, new.kind} != {"number", "year"}:
            return None
        pairs.append((old, new))
    if all(old.text.lower() == new.text.lower() for old, new in pairs):
        return None  # the same question: the golden shortcut's business, not an adaptation
    dialect = dialect or model.dialect
    try:
        tree = sqlglot.parse_one(golden_sql, read=dialect)
    except sqlglot.errors.ParseError:
        return None
    replaced: list[tuple[str, str]] = []
    for old, new in pairs:
        if old.text.lower() == new.text.lower():
            continue
        if not _substitute(tree, old, new):
            return None
        replaced.append((old.text, new.text))
    return Adaptation(tree.sql(dialect=dialect), tuple(replaced))


def _substitute(tree: exp.Expression, old: _Literal, new: _Literal) -> bool:
    """Replace every literal of the SQL equal to `old` by `new`; False when none is found."""
    hits = 0
    for literal in list(tree.find_all(exp.Literal)):
        value = literal.this
        if literal.is_string:
            if old.kind == "text" and value.lower() == old.text.lower():
                literal.replace(exp.Literal.string(_cased(value, new.text)))
                hits += 1
            elif old.kind == "year" and new.kind == "year" and value.startswith(old.text + "-"):
                literal.replace(exp.Literal.string(new.text + value[len(old.text):]))
                hits += 1
            elif old.kind == "year" and new.kind == "year" and value.startswith(str(int(old.text) + 1) + "-"):
                # the end of a year's range: '2025-01-01' for 2024
                literal.replace(exp.Literal.string(str(int(new.text) + 1) + value[len(old.text):]))
                hits += 1
            elif old.kind == "date" and value == old.text:
                literal.replace(exp.Literal.string(new.text))
                hits += 1
        elif old.kind in ("number", "year") and _same_number(value, old.text):
            literal.replace(exp.Literal.number(new.text))
            hits += 1
    return hits > 0


def _same_number(a: str, b: str) -> bool:
    try:
        return float(a) == float(b)
    except ValueError:
        return False


def _cased(original: str, new: str) -> str:
    """The new value in the stored value's case style (codes stay upper case)."""
    if original.isupper():
        return new.upper()
    return new
