"""Pulling the SQL statement out of a model's answer (code fences, prose, labels, run-on completions)."""

from __future__ import annotations

import re

from nl2sql.sqlguard.errors import SqlRefused

__all__ = ["extract_sql"]

# Words a statement starts with. Writes are included on purpose: extracting them lets validate()
# refuse them by name instead of the model's answer reading as "no SQL".
_STATEMENT_START = re.compile(
    r"(?im)^[ \t]*(?:(?:sql|query|answer|sql query)[ \t]*:[ \t]*)?\(*[ \t]*"
    r"(?=(select|with|insert|update|delete|merge|create|drop|alter|truncate|grant|revoke|copy|call|exec|execute"
    r"|pragma|attach|set|show|explain|replace|load|values|vacuum|lock|do|prepare|listen|notify|begin|commit)\b)"
)
_LABEL = re.compile(r"(?i)^[ \t]*(?:sql|query|answer|sql query)[ \t]*:[ \t]*")
_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[ \t]*\n?")
# Tokens chat templates leak into answers.
_SPECIAL_TOKENS = re.compile(r"<\|[^|>]{1,40}\|>|</?s>|\[/?(?:SQL|INST|QUERY)\]|<end_of_turn>|<start_of_turn>\w*|<eos>")
# SQL words a continuation line may begin with; a line starting otherwise and reading as a
# sentence ends the statement.
_SQL_LINE_WORDS = {
    "select", "from", "where", "join", "left", "right", "inner", "outer", "full", "cross", "natural",
    "group", "order", "having", "limit", "offset", "fetch", "union", "intersect", "except", "minus",
    "with", "and", "or", "not", "on", "using", "case", "when", "then", "else", "end", "as", "in",
    "exists", "between", "like", "ilike", "is", "null", "window", "partition", "over", "by", "asc",
    "desc", "distinct", "all", "any", "some", "values", "lateral", "top", "qualify", "returning",
    "into", "set", "count", "sum", "avg", "min", "max", "cast", "coalesce", "round", "date", "extract",
    "filter", "rows", "range", "preceding", "following", "current", "unbounded", "nulls", "first", "last",
}
_PROSE = re.compile(
    r"(?i)^(this|the|here|note|explanation|explain|it|these|those|i|we|you|in this|above|below|that|"
    r"output|result|results|answer|question|assistant|user|hope|let|if|to|because|finally|also)(?=[ \t,:]|$)"
)
_SENTENCE = re.compile(r"^[A-Z][a-z]+(?:[ \t]+[a-z][a-z'-]+){2,}")


def extract_sql(model_output: str) -> str:
    """The first SQL statement in a model's answer, without fences, labels, prose or a trailing `;`."""
    text = _SPECIAL_TOKENS.sub("", (model_output or "").replace("\r\n", "\n"))
    for segment in _segments(text):
        start = _STATEMENT_START.search(segment)
        if start is None:
            continue
        statement = _first_statement(_LABEL.sub("", segment[start.start() :], count=1))
        if statement:
            return statement
    raise SqlRefused("the model's answer contains no SQL query")


def _segments(text: str) -> list[str]:
    """Places SQL may be, most likely first: text before an unopened closing fence, fenced blocks, the whole text."""
    fences = list(_FENCE.finditer(text))
    segments: list[str] = []
    if fences:
        head = text[: fences[0].start()]
        # A completion that continues a prompt ending in ```sql starts with the SQL and then closes.
        if _STATEMENT_START.match(head.lstrip("\n")) and head.strip():
            segments.append(head)
        for opening, closing in zip(fences[::2], fences[1::2] + [None] * (len(fences) % 2), strict=False):
            end = closing.start() if closing is not None else len(text)
            segments.append(text[opening.end() : end])
    segments.append(text)
    return segments


def _first_statement(text: str) -> str:
    """Text up to the first top-level `;` or the first line of prose after the SQL."""
    out: list[str] = []
    i, n = 0, len(text)
    line_start = True
    while i < n:
        char = text[i]
        if line_start and out and _is_prose_line(text, i):
            break
        line_start = False
        if char == ";":
            break
        if char == "\n":
            out.append(char)
            i += 1
            line_start = True
            continue
        if char in "'\"`[":
            end = _quoted_end(text, i)
            out.append(text[i:end])
            i = end
            continue
        if text.startswith("--", i) or (char == "#" and _is_line_comment_hash(text, i)):
            end = text.find("\n", i)
            end = n if end < 0 else end
            out.append(text[i:end])
            i = end
            continue
        if text.startswith("/*", i):
            end = text.find("*/", i + 2)
            end = n if end < 0 else end + 2
            out.append(text[i:end])
            i = end
            continue
        if char == "$":
            tag = re.match(r"\$[A-Za-z_]*\$", text[i:])
            if tag:
                end = text.find(tag.group(0), i + len(tag.group(0)))
                end = n if end < 0 else end + len(tag.group(0))
                out.append(text[i:end])
                i = end
                continue
        if text.startswith("```", i):
            break
        out.append(char)
        i += 1
    return "".join(out).strip()


def _quoted_end(text: str, start: int) -> int:
    closer = "]" if text[start] == "[" else text[start]
    i = start + 1
    while i < len(text):
        if text[i] == "\\" and closer == "'":
            i += 2
            continue
        if text[i] == closer:
            if closer != "]" and i + 1 < len(text) and text[i + 1] == closer:
                i += 2
                continue
            return i + 1
        if closer == "[" and text[i] == "\n":
            return i
        i += 1
    return len(text)


def _is_line_comment_hash(text: str, i: int) -> bool:
    # `#` starts a comment in MySQL; in PostgreSQL it is an operator between operands (a # b).
    return i == 0 or text[i - 1] in "\n \t" and (i + 1 >= len(text) or text[i + 1] in " \t#-")


def _is_prose_line(text: str, i: int) -> bool:
    line = text[i : (text.find("\n", i) if "\n" in text[i:] else len(text))].strip()
    if not line:
        return False
    first = re.match(r"[A-Za-z_]+", line)
    if first and first.group(0).lower() in _SQL_LINE_WORDS:
        return False
    if line.startswith(("-", "/*", "(", ")", ",", "'", '"', "`", "[")) and not line.startswith("- "):
        return False
    return bool(
        _PROSE.match(line)
        or _SENTENCE.match(line)
        or line.startswith(("- ", "* ", "**", "##"))
        or (line.endswith(":") and " " in line)
    )
