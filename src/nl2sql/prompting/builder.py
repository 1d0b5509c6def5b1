"""build_prompt: the retrieved context rendered through templates/prompts/, fitted to the model's context."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

import jinja2

from nl2sql.catalog import JoinHint, PromptTable
from nl2sql.resources import resource_path
from nl2sql.inference import Message
from nl2sql.prompting.context import (
    ErrorFeedback,
    Prompt,
    PromptBudget,
    PromptTooLarge,
    RetrievedContext,
    Turn,
    is_always,
)

__all__ = ["build_prompt", "prompt_kind", "render_table"]

TemplateChoice = Literal["auto", "completion", "chat"]

# Families whose models were not trained on chat turns get the completion prompt.
_COMPLETION_FAMILIES = frozenset({"completion"})
_COMPLETION_STOP = ("[/SQL]", "###", "\nQuestion:")
_MAX_VALUES = 8
_MAX_VALUE_CHARS = 40
_MAX_NOTE_CHARS = 300
# Always-on instructions are dropped only after every ranked item: the admin asked for them everywhere.
_ALWAYS_RANK = 10.0

_SIMPLE_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
_RESERVED = frozenset(
    "all and as asc between by case check column constraint create cross default delete desc distinct end "
    "except from full group having in index inner insert into is join key left like limit not null offset on "
    "or order outer primary references right select table then to union unique update user using values when "
    "where window with".split()
)
_QUOTES = {"mysql": ("`", "`"), "tsql": ("[", "]"), "bigquery": ("`", "`")}


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(resource_path("templates") / "prompts"),
        autoescape=False,  # prompts are plain text, not HTML
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    return env


_BLANK_RUNS = re.compile(r"\n{3,}")


def _render(template: str, **context: Any) -> str:
    # optional sections leave blank runs behind; one blank line is enough between sections
    return _BLANK_RUNS.sub("\n\n", _environment().get_template(template).render(**context))


def _ident(name: str, dialect: str) -> str:
    if _SIMPLE_NAME.match(name) and name not in _RESERVED:
        return name
    left, right = _QUOTES.get(dialect, ('"', '"'))
    return f"{left}{name.replace(right, right + right)}{right}"


def _table_ident(table: PromptTable, dialect: str) -> str:
    name = _ident(table.name, dialect)
    return f"{_ident(table.schema, dialect)}.{name}" if table.schema else name


def _oneline(text: str, limit: int = _MAX_NOTE_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _literal(value: str) -> str:
    value = _oneline(str(value), _MAX_VALUE_CHARS)
    return "'" + value.replace("'", "''") + "'"


def render_table(
    table: PromptTable,
    dialect: str,
    *,
    present: set[str] | None = None,
    matched_values: dict[str, list[str]] | None = None,
) -> str:
    """One table as a CREATE TABLE statement with descriptions, keys and value hints as comments.

    `present` names the tables in the prompt (foreign keys to others are left out); `matched_values`
    maps a column to values of it the question mentions, shown before the sampled ones.
    """
    matched_values = matched_values or {}
    keys = [c.name for c in table.columns if c.primary_key]
    lines: list[tuple[str, str]] = []
    for column in table.columns:
        sql = f"{_ident(column.name, dialect)} {column.type or 'TEXT'}"
        if column.primary_key and len(keys) == 1:
            sql += " PRIMARY KEY"
        elif not column.nullable:
            sql += " NOT NULL"
        notes = []
        if column.description:
            notes.append(_oneline(column.description))
        names = [n for n in (column.business_name, *column.synonyms) if n and n != column.name]
        if names:
            notes.append("also called " + ", ".join(names))
        if column.sensitive:
            notes.append("sensitive: never select or filter on it")
        else:
            values = list(dict.fromkeys([*matched_values.get(column.name, ()), *(column.values or ())]))
            if values:
                shown = ", ".join(_literal(v) for v in values[:_MAX_VALUES])
                notes.append(f"values: {shown}" + (", …" if len(values) > _MAX_VALUES else ""))
        lines.append((sql, "; ".join(notes)))
    if len(keys) > 1:
        lines.append((f"PRIMARY KEY ({', '.join(_ident(k, dialect) for k in keys)})", ""))
    for fk in table.foreign_keys:
        target = f"{fk.ref_schema}.{fk.ref_table}" if fk.ref_schema else fk.ref_table
        if present is not None and target not in present and fk.ref_table not in present:
            continue
        ref = _ident(fk.ref_table, dialect)
        if fk.ref_schema:
            ref = f"{_ident(fk.ref_schema, dialect)}.{ref}"
        lines.append((
            f"FOREIGN KEY ({', '.join(_ident(c, dialect) for c in fk.columns)}) "
            f"REFERENCES {ref}({', '.join(_ident(c, dialect) for c in fk.ref_columns)})",
            "",
        ))
    comment = _oneline(table.description) if table.description else ""
    names = [n for n in (table.business_name, *table.synonyms) if n and n != table.name]
    if names:
        comment = (comment + "; " if comment else "") + "also called " + ", ".join(names)
    return _render("_table.j2", name=_table_ident(table, dialect), comment=comment, lines=lines).strip()


def _join_line(hint: JoinHint, present: set[str]) -> str | None:
    if hint.left_table not in present or hint.right_table not in present:
        return None
    left, right = hint.left_table, hint.right_table
    condition = " AND ".join(f"{left}.{a} = {right}.{b}" for a, b in hint.pairs)
    line = f"join {left} to {right} on {condition}"
    return f"{line} ({_oneline(hint.note, 120)})" if hint.note else line


def prompt_kind(prompt_format: str, template: TemplateChoice = "auto") -> Literal["completion", "chat"]:
    """Which prompt a model family gets: completion for base models, chat for instruct models."""
    if template != "auto":
        return template
    return "completion" if prompt_format in _COMPLETION_FAMILIES else "chat"


@dataclass
class _Item:
    kind: Literal["table", "instruction", "example", "turn"]
    rank: float
    cost: int
    payload: Any
    label: str


def build_prompt(
    question: str,
    retrieval: RetrievedContext,
    budget: PromptBudget,
    dialect: str,
    today: dt.date,
    *,
    history: Sequence[Turn] = (),
    error_feedback: ErrorFeedback | None = None,
    template: TemplateChoice = "auto",
) -> Prompt:
    """The prompt for `question` that fits `budget`: lowest-ranked tables, instructions, examples go first.

    Items are whole (a table's DDL, an instruction, an example, an earlier turn), so nothing is cut
    mid-statement. Raises PromptTooLarge when the question alone does not fit.
    """
    question = " ".join(question.split())
    kind = prompt_kind(budget.prompt_format, template)
    count = budget.count_tokens
    table_names = {t.table.qualified_name for t in retrieval.tables} | {t.table.name for t in retrieval.tables}
    matched: dict[str, dict[str, list[str]]] = {}
    for match in sorted(retrieval.values, key=lambda m: -m.score):
        matched.setdefault(match.table, {}).setdefault(match.column, []).append(match.value)

    def table_values(table: PromptTable) -> dict[str, list[str]]:
        return matched.get(table.qualified_name) or matched.get(table.name) or {}

    items: list[_Item] = []
    for scored in retrieval.tables:
        table = scored.table
        # priced with every foreign key shown: the final text can only be shorter
        ddl = render_table(table, dialect, present=table_names, matched_values=table_values(table))
        items.append(_Item("table", scored.score, count(ddl) + 1, scored, f"table {table.qualified_name}"))
    for scored in retrieval.instructions:
        instruction = scored.instruction
        rank = _ALWAYS_RANK + scored.score if is_always(instruction) else scored.score
        items.append(_Item("instruction", rank, count(_oneline(instruction.text, 2000)) + 2, scored,
                           f"instruction {instruction.id}"))
    for scored in retrieval.golden_queries:
        golden = scored.golden
        items.append(_Item("example", scored.score, count(golden.question) + count(golden.sql) + 8, scored,
                           f"golden query {golden.id}"))
    for age, turn in enumerate(reversed(history)):
        # the latest turn matters most for a follow-up; older ones fade
        items.append(_Item("turn", 1.0 - 0.05 * age, count(turn.question) + count(turn.sql) + 2 * budget.per_message_overhead,
                           turn, f"earlier question {len(history) - age}"))

    def assemble(kept: list[_Item]) -> tuple[str, tuple[Message, ...], int, list[_Item]]:
        tables = [i.payload for i in kept if i.kind == "table"]
        present = {t.table.qualified_name for t in tables} | {t.table.name for t in tables}
        ddls = [
            render_table(t.table, dialect, present=present, matched_values=table_values(t.table)) for t in tables
        ]
        joins = [line for hint in retrieval.join_hints if (line := _join_line(hint, present))]
        instructions = sorted((i.payload for i in kept if i.kind == "instruction"),
                              key=lambda s: (not is_always(s.instruction), -s.score))
        instruction_texts = [_oneline(s.instruction.text, 2000) for s in instructions]
        examples = [i.payload.golden for i in kept if i.kind == "example"]
        turns = [t for t in history if any(i.payload is t for i in kept if i.kind == "turn")]
        context = dict(
            question=question, dialect=dialect, today=today.isoformat(), tables=ddls, joins=joins,
            instructions=instruction_texts, examples=examples, history=turns, feedback=error_feedback,
        )
        if kind == "completion":
            text = _render("completion.j2", **context)
            return text, (), count(text), kept
        messages = [Message("system", _render("chat_system.j2", **context).strip())]
        for turn in turns:
            messages.append(Message("user", turn.question))
            messages.append(Message("assistant", f"```sql\n{turn.sql}\n```"))
        messages.append(Message("user", _render("chat_user.j2", **context).strip()))
        if error_feedback is not None:
            messages.append(Message("assistant", f"```sql\n{error_feedback.sql}\n```"))
            messages.append(Message("user", _render("chat_repair.j2", **context).strip()))
        tokens = sum(count(m.content) + budget.per_message_overhead for m in messages) + budget.per_message_overhead
        text = "\n".join(f"{m.role}: {m.content}" for m in messages)
        return text, tuple(messages), tokens, kept

    limit = budget.prompt_tokens
    _, _, base_tokens, _ = assemble([])
    if base_tokens > limit:
        raise PromptTooLarge(
            f"the question{' and the previous attempt' if error_feedback else ''} take {base_tokens} tokens, "
            f"more than the {limit} the model's context leaves for a prompt; shorten the question"
        )
    ranked = sorted(items, key=lambda i: -i.rank)
    available = limit - base_tokens
    kept: list[_Item] = []
    for item in ranked:
        if item.cost > available:
            break  # this item and every lower-ranked one are dropped
        available -= item.cost
        kept.append(item)
    text, messages, tokens, kept = assemble(kept)
    # estimates of single items can miss what joining them costs: drop from the bottom until it fits
    while tokens > limit and kept:
        kept = kept[:-1]
        text, messages, tokens, kept = assemble(kept)
    kept_ids = {id(i) for i in kept}
    dropped = tuple(f"{i.label} ({i.rank:.2f})" for i in ranked if id(i) not in kept_ids)
    tables = [i.payload for i in kept if i.kind == "table"]
    return Prompt(
        kind=kind,
        template="completion.j2" if kind == "completion" else "chat_system.j2",
        text=text,
        messages=messages,
        stop=_COMPLETION_STOP if kind == "completion" else (),
        tokens=tokens,
        prompt_id=hashlib.sha256(text.encode()).hexdigest()[:16],
        tables=tuple(t.table for t in tables),
        table_scores=tuple(t.score for t in tables),
        instructions=tuple(i.payload.instruction for i in kept if i.kind == "instruction"),
        golden_queries=tuple(i.payload.golden for i in kept if i.kind == "example"),
        dropped=dropped,
    )
