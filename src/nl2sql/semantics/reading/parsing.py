"""The question's text to its parse: definitions spelled out, directives set aside, and the linker's names and
values narrowed to those near the tables the question (or retrieval) names.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from nl2sql.semantics.lexicon import Token
from nl2sql.semantics.linking import Link
from nl2sql.semantics.model import SemanticModel


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


def _near_named(model: SemanticModel, names: list[Link], values: list[Link],
                scope: set[str] | frozenset[str]) -> tuple[list[Link], list[Link]]:
    """Words that could be a column of many tables ("title", "name", "status"): the tables the question
    names (and those retrieval chose, `scope`), and their neighbours, come first; at most a few of the rest
    stay."""
    names = _connected_first(model, names)
    anchors = {l.table for l in names if l.kind == "entity" and l.complete and l.score >= 0.9}
    anchors |= {t for t in scope if t in model.entities}
    if not anchors:
        return names, values
    reach = set(anchors) | {e.right for t in anchors for e in model.neighbours(t)}
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


def _connected_first(model: SemanticModel, names: list[Link]) -> list[Link]:
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
            near = any(model.path(link.table, t) is not None for t in others if t != link.table)
            return near, bool(model.neighbours(link.table))

        top = max(rank(l) for l in group)
        for link in group:
            if rank(link) < top:
                worse[id(link)] = link.rescored(round(link.score * 0.85, 4))
    return [worse.get(id(l), l) for l in names]


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
