"""The MCP tools, resources and prompt: each one a door onto a use case the pages and the REST API use (the ask
flow, the guard, the catalog, retrieval), acting as the API key's user with that user's grants."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ToolError
from mcp.server.mcpserver.prompts.base import UserMessage
from mcp_types import Resource, ToolAnnotations
from pydantic import Field

from nl2sql.answers import AskResponse, AskService
from nl2sql.catalog import CatalogService, Connection, PromptSchema
from nl2sql.errors import AppError, RateLimitedError
from nl2sql.mcp.caller import current_caller
from nl2sql.mcp.shapes import (
    AnswerOut, ConnectionList, GoldenOut, InstructionOut, KnowledgeOut, SchemaOut, ValueOut, answer_out,
    connection_out, joins_out, metrics_out, table_out,
)
from nl2sql.retrieval import Retriever

ConnectionArg = Annotated[str, Field(description="A connection's name, from list_connections")]

TOOL_NAMES = ("list_connections", "describe_schema", "ask", "run_sql", "search_knowledge")
PROMPT_NAMES = ("analyse_question",)
SCHEMA_TEMPLATE = "nl2sql://connections/{connection}/schema"
SCHEMA_URI = re.compile(r"nl2sql://connections/[^/]+/schema")

# past this many tables, an unpruned description lists tables without their columns
FULL_SCHEMA_TABLES = 40

INSTRUCTIONS = (
    "nl2sql answers questions about the team's databases in plain English, with SQL it checks and runs read-only. "
    "Start with list_connections; ask(connection, question) answers a question and says in one line how it read it "
    "(check that line against the question). When ask comes back with status clarify or refused, show the user "
    "its message and options instead of guessing; pick an option by asking its question. Use describe_schema and "
    "search_knowledge to learn a database, and run_sql for SQL you write yourself (one read-only SELECT; the guard "
    "refuses anything else)."
)


@dataclass(frozen=True)
class Toolbox:
    """The services the tools call, and the MCP row cap."""

    ask_service: AskService
    catalog: CatalogService
    retriever: Retriever
    max_rows: int

    # -- tools --------------------------------------------------------------------------------------

    async def list_connections(self) -> ConnectionList:
        """The databases you may ask, with what each holds. Call this first: the other tools take one of these names
        as `connection`."""
        with _tool_errors():
            connections = await self.ask_service.connections(current_caller().user)
        return ConnectionList(connections=[connection_out(c) for c in connections])

    async def describe_schema(
        self,
        connection: ConnectionArg,
        tables: Annotated[list[str] | None, Field(
            description="Only these tables (names as describe_schema lists them)")] = None,
        question: Annotated[str | None, Field(
            description="Prune to the tables and columns that matter for this question")] = None,
    ) -> SchemaOut:
        """A database's tables, columns (types, descriptions, known values), keys, joins and the admin's metrics. Give
        a question to get only what matters for it, or name tables; sensitive columns are marked and never show
        values."""
        with _tool_errors():
            found = await self._connection(connection)
            user = current_caller().user
            schema = await self.catalog.schema_for_user(found.id, user)
            if question and question.strip():
                retrieval = await self.retriever.retrieve(question, found.id,
                                                          visibility=await self.catalog.visibility(user, found.id))
                chosen = [t.table for t in retrieval.tables]
                joins, note = retrieval.join_hints, f"pruned to what matters for the question: {question.strip()}"
            else:
                chosen, joins = list(schema.tables), schema.join_hints
                note = "every included table"
            if tables:
                chosen = _named_tables(schema, tables)
                names = {t.qualified_name for t in chosen}
                joins = [h for h in schema.join_hints if h.left_table in names and h.right_table in names]
                note = "the tables named"
            columns = len(chosen) <= FULL_SCHEMA_TABLES
            if not columns:
                note += (f"; {len(chosen)} tables, so columns are left out: name tables or give a question to see "
                         "their columns")
        return SchemaOut(connection=found.name, dialect=schema.dialect, description=schema.description,
                         tables=[table_out(t, columns=columns) for t in chosen], joins=joins_out(joins),
                         metrics=metrics_out(schema), table_count=len(schema.tables), note=note)

    async def ask(
        self,
        connection: ConnectionArg,
        question: Annotated[str, Field(description="The question, in plain English, as the user would ask it")],
        thread: Annotated[int | None, Field(
            description="thread_id of an earlier answer: this question follows up on it")] = None,
        use_model: Annotated[bool, Field(
            description="Also ask the language model (slower), e.g. after a clarification offering it")] = False,
    ) -> AnswerOut:
        """Answer a question about a database: nl2sql reads it, writes SQL, checks it with its guard and runs it
        read-only. Returns the SQL, the line saying how the question was read, a trust label, typed columns and the
        first rows, and a link to the full answer. A question it can't read whole comes back with status clarify
        (what it understood, what it didn't, options to pick) or refused, never as an error."""
        caller = current_caller()
        with _tool_errors():
            answered = await self.ask_service.ask(caller.user, question, connection, thread_id=thread,
                                                  api_key_id=caller.api_key_id, use_model=use_model)
            if answered.failure is not None:
                raise answered.failure
        return self._answer(AskResponse.of(answered))

    async def run_sql(
        self,
        connection: ConnectionArg,
        sql: Annotated[str, Field(description="One read-only SELECT statement in the connection's dialect")],
    ) -> AnswerOut:
        """Run SQL you wrote on a database: one read-only statement, checked by nl2sql's guard (granted, included
        tables only; no sensitive columns; no writes) and run with a row cap and a timeout. Returns typed columns,
        the first rows and a link. Prefer ask for questions: it knows the catalog's meanings."""
        caller = current_caller()
        with _tool_errors():
            answered = await self.ask_service.run_statement(caller.user, connection, sql)
            if answered.failure is not None:
                raise answered.failure
        return self._answer(AskResponse.of(answered))

    async def search_knowledge(
        self,
        connection: ConnectionArg,
        query: Annotated[str, Field(description="A question or a few words")],
    ) -> KnowledgeOut:
        """What the admins taught nl2sql about a database that bears on a question: verified queries (question and
        SQL), instructions (business rules), metrics and segments, and the question's words found among known
        values."""
        with _tool_errors():
            found = await self._connection(connection)
            user = current_caller().user
            retrieval = await self.retriever.retrieve(query, found.id,
                                                      visibility=await self.catalog.visibility(user, found.id))
            schema = await self.catalog.schema_for_user(found.id, user)
        return KnowledgeOut(
            connection=found.name, query=query,
            golden_queries=[GoldenOut(question=g.golden.question, sql=g.golden.sql, score=round(g.score, 3))
                            for g in retrieval.golden_queries],
            instructions=[InstructionOut(text=i.instruction.text, kind=str(i.instruction.kind), score=round(i.score, 3))
                          for i in retrieval.instructions],
            metrics=metrics_out(schema, _metrics_named(schema, query)),
            values=[ValueOut(column=f"{v.table}.{v.column}", value=v.value, score=round(v.score, 3))
                    for v in retrieval.values],
        )

    # -- resources and prompt -------------------------------------------------------------------------

    async def schema_resources(self) -> list[Resource]:
        """The schema resource of each database the caller may ask (resources/list)."""
        connections = await self.ask_service.connections(current_caller().user)
        return [Resource(uri=SCHEMA_TEMPLATE.format(connection=c.name), name=f"{c.name} schema",
                         title=f"Schema of {c.name}", description=c.description or None, mime_type="application/json")
                for c in connections]

    async def schema_resource(self, connection: str) -> str:
        """A database's schema (every included table, its columns, keys, joins and metrics) as JSON."""
        try:
            described = await self.describe_schema(connection)
        except ToolError as error:
            raise ResourceError(str(error)) from None
        return described.model_dump_json(indent=1)

    def analyse_question(self, connection: str, question: str) -> list[UserMessage]:
        """Analyse a question about a database with nl2sql's tools, checking how it was read."""
        return [UserMessage(
            f"Analyse this question about the `{connection}` database with the nl2sql tools: {question}\n\n"
            f"1. Call search_knowledge(connection={json.dumps(connection)}, query=the question) for verified queries, "
            "business rules and metrics that bear on it.\n"
            "2. Call ask with the question. Compare its `reading` line with the question: say so if it read "
            "something else.\n"
            "3. If the status is clarify or refused, show its message and options and ask me which one I mean; do "
            "not guess.\n"
            "4. If the answer needs more, ask follow-ups with the same `thread`, or describe_schema and run_sql "
            "for your own SQL.\n"
            "5. Answer in a few sentences with the figures, the SQL and the answer's link; say how much to trust it "
            "(its trust label and coverage label)."
        )]

    # -- parts --------------------------------------------------------------------------------------

    async def _connection(self, name: str) -> Connection:
        return await self.catalog.visible_connection(current_caller().user, (name or "").strip())

    def _answer(self, response: AskResponse) -> AnswerOut:
        link = f"{current_caller().base_url}/ask?answer={response.answer_id}"
        return answer_out(response, link, self.max_rows)

    def register(self, server: MCPServer) -> None:
        """Add the tools (read-only, closed-world), the schema resource and the prompt to `server`."""
        read_only = ToolAnnotations(read_only_hint=True, destructive_hint=False, open_world_hint=False)
        repeatable = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True,
                                     open_world_hint=False)
        server.add_tool(self.list_connections, name="list_connections", title="List databases",
                        annotations=repeatable)
        server.add_tool(self.describe_schema, name="describe_schema", title="Describe a database",
                        annotations=repeatable)
        server.add_tool(self.ask, name="ask", title="Ask a question", annotations=read_only)
        server.add_tool(self.run_sql, name="run_sql", title="Run read-only SQL", annotations=read_only)
        server.add_tool(self.search_knowledge, name="search_knowledge", title="Search curated knowledge",
                        annotations=repeatable)
        server.resource(SCHEMA_TEMPLATE, name="schema", title="Database schema",
                        mime_type="application/json")(self.schema_resource)
        server.prompt("analyse_question", title="Analyse a question")(self.analyse_question)


def _metrics_named(schema: PromptSchema, query: str) -> list[str]:
    """Metrics and segments `query` names (a word of their name or synonyms, not a light one), then those whose
    description shares two such words with it."""
    words = set(re.findall(r"\w+", query.casefold())) - LIGHT_WORDS

    def shared(*texts: str) -> int:
        return len(words & set(re.findall(r"\w+", " ".join(texts).replace("_", " ").casefold())))

    named = [m.name for m in schema.metrics if shared(m.name, *m.synonyms)]
    described = [m.name for m in schema.metrics if m.name not in named and shared(m.description) >= 2]
    return named + described


LIGHT_WORDS = frozenset("a an the of in on by for per to and or with what which who how many much is are was were "
                        "there do does did show list give me all each".split())


class Nl2sqlServer(MCPServer):
    """The SDK's server, with the caller's own databases among its listed resources."""

    def __init__(self, toolbox: Toolbox, **options) -> None:
        super().__init__(**options)
        self._toolbox = toolbox
        toolbox.register(self)

    async def list_resources(self) -> list[Resource]:
        return [*await super().list_resources(), *await self._toolbox.schema_resources()]


def _named_tables(schema: PromptSchema, names: list[str]) -> list:
    """The schema's tables by name (qualified or bare, any case); ToolError naming the unknown ones."""
    by_name = {}
    for table in schema.tables:
        by_name.setdefault(table.qualified_name.casefold(), table)
        by_name.setdefault(table.name.casefold(), table)
    unknown = [n for n in names if n.strip().casefold() not in by_name]
    if unknown:
        raise ToolError(f"no included table named {', '.join(map(repr, unknown))} in {schema.connection_name}: "
                        "call describe_schema without `tables` for the list")
    return list({id(t): t for t in (by_name[n.strip().casefold()] for n in names)}.values())


@contextmanager
def _tool_errors() -> Iterator[None]:
    """The product's errors as tool errors (the assistant reads them and can correct itself), never a trace."""
    try:
        yield
    except RateLimitedError as error:
        raise ToolError(f"{error.detail} (retry after {error.retry_after} s)") from None
    except AppError as error:
        raise ToolError(error.detail) from None
