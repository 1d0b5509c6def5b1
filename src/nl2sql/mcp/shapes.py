"""What the MCP tools hand back: typed results (their JSON schemas are the tools' output schemas), built from the
answers and catalog DTOs."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from nl2sql.answers import AskResponse
from nl2sql.catalog import Connection, PromptSchema, PromptTable


class ConnectionOut(BaseModel):
    name: str = Field(description="Pass this as `connection` to the other tools")
    description: str = Field(description="What the database holds, as its admin wrote it")
    database: str = Field(description="Kind of database: postgresql, mysql, sqlite, duckdb, ...")
    synced_at: str | None = Field(description="When its schema was last read (ISO 8601), null if never")


class ConnectionList(BaseModel):
    connections: list[ConnectionOut]


class ColumnOut(BaseModel):
    name: str
    type: str
    description: str = ""
    business_name: str = ""
    synonyms: list[str] = []
    primary_key: bool = False
    nullable: bool = True
    sensitive: bool = Field(False, description="Sensitive: it can't be selected, filtered or joined on; no values shown")
    role: str | None = Field(None, description="measure, dimension, time, key, label, ... as the catalog says")
    values: list[str] | None = Field(None, description="Known values (sampled distinct values), when few enough")


class ForeignKeyOut(BaseModel):
    columns: list[str]
    references: str = Field(description="The referenced table")
    referenced_columns: list[str]


class TableOut(BaseModel):
    name: str = Field(description="Table name as SQL needs it (schema-qualified where the catalog is)")
    description: str = ""
    business_name: str = ""
    synonyms: list[str] = []
    row_count: int | None = None
    columns: list[ColumnOut] | None = Field(None, description="Null when left out to keep the answer short")
    foreign_keys: list[ForeignKeyOut] = []


class JoinOut(BaseModel):
    left: str
    right: str
    on: list[str] = Field(description="Column pairs, as `left.column = right.column`")
    note: str = ""


class MetricOut(BaseModel):
    kind: Literal["metric", "segment"] = Field(description="metric: a named formula; segment: a named condition")
    name: str = Field(description="Say it in a question to ask: `ask` reads it as defined")
    expression: str = Field(description="A metric's formula or a segment's condition (SQL)")
    description: str = ""
    synonyms: list[str] = []
    filters: list[str] = Field([], description="Conditions every use of the metric applies")
    time_column: str = Field("", description="`table.column` the metric is reported by over time")


class SchemaOut(BaseModel):
    connection: str
    dialect: str = Field(description="SQL dialect for run_sql")
    description: str
    tables: list[TableOut]
    joins: list[JoinOut] = Field(description="Joins people use beyond the declared foreign keys")
    metrics: list[MetricOut] = Field(description="The admin's named metrics and segments")
    table_count: int = Field(description="Included tables in the whole connection")
    note: str = Field(description="How this view was chosen (pruned for a question, named tables, or all)")


class TrustOut(BaseModel):
    kind: str = Field(description="verified, adapted, read, guided, generated, edited or written")
    label: str


class OptionOut(BaseModel):
    kind: str = Field(description="ask: ask `question` instead; reading: another reading; define: an admin defines "
                                  "`term`; model: ask again with use_model")
    label: str
    question: str | None = None
    term: str | None = None
    note: str | None = None


class ClarificationOut(BaseModel):
    message: str = Field(description="Why it was not answered, to show the user")
    understood: str | None = None
    not_understood: list[str] = []
    options: list[OptionOut] = []


class ColumnTypeOut(BaseModel):
    name: str
    type: str = Field(description="number, text, date, ... as the answer shows it")


class AnswerOut(BaseModel):
    status: Literal["answered", "clarify", "refused"] = Field(
        description="answered: SQL ran, rows below; clarify: asked back (see clarification.options); refused: the "
                    "question is about nothing in this database")
    answer_id: int
    link: str = Field(description="The answer on the nl2sql pages: full table, chart, CSV, feedback")
    thread_id: int | None = Field(None, description="Pass as `thread` to ask a follow-up in the same thread")
    connection: str
    question: str
    sql: str | None = None
    reading: str | None = Field(None, description="How the question was read, in one line: check it against the question")
    label: str | None = Field(None, description="How much of the question the answer covers")
    trust: TrustOut
    columns: list[ColumnTypeOut] = []
    rows: list[list[Any]] = []
    rows_returned: int = 0
    more_rows: bool = Field(False, description="More rows exist than are returned here (see the link)")
    note: str | None = Field(None, description="Why values or rows were cut, when they were")
    alternatives: list[str] = Field([], description="Close runner-up readings (\"did you mean\")")
    clarification: ClarificationOut | None = None


class GoldenOut(BaseModel):
    question: str
    sql: str = Field(description="Verified SQL an admin approved for this question")
    score: float


class InstructionOut(BaseModel):
    text: str
    kind: str = Field(description="always (applies to every question) or topical")
    score: float


class ValueOut(BaseModel):
    column: str = Field(description="table.column holding the value")
    value: str
    score: float


class KnowledgeOut(BaseModel):
    connection: str
    query: str
    golden_queries: list[GoldenOut]
    instructions: list[InstructionOut]
    metrics: list[MetricOut] = Field(description="Metrics and segments the query names, then those its words describe")
    values: list[ValueOut] = Field(description="Words of the query found among the columns' known values")


def connection_out(connection: Connection) -> ConnectionOut:
    return ConnectionOut(name=connection.name, description=connection.description, database=connection.backend,
                         synced_at=connection.synced_at.isoformat() if connection.synced_at else None)


def table_out(table: PromptTable, *, columns: bool = True) -> TableOut:
    return TableOut(
        name=table.qualified_name, description=table.description, business_name=table.business_name,
        synonyms=list(table.synonyms), row_count=table.row_count,
        columns=[ColumnOut(
            name=c.name, type=c.type, description=c.description, business_name=c.business_name,
            synonyms=list(c.synonyms), primary_key=c.primary_key, nullable=c.nullable, sensitive=c.sensitive,
            role=(c.semantics or {}).get("role"),
            values=None if c.sensitive or not c.values else list(c.values[:VALUES_SHOWN]),
        ) for c in table.columns] if columns else None,
        foreign_keys=[ForeignKeyOut(
            columns=list(fk.columns), references=f"{fk.ref_schema}.{fk.ref_table}" if fk.ref_schema else fk.ref_table,
            referenced_columns=list(fk.ref_columns)) for fk in table.foreign_keys],
    )


VALUES_SHOWN = 25


def joins_out(schema_joins) -> list[JoinOut]:
    return [JoinOut(left=h.left_table, right=h.right_table, note=h.note,
                    on=[f"{h.left_table}.{a} = {h.right_table}.{b}" for a, b in h.pairs]) for h in schema_joins]


def metrics_out(schema: PromptSchema, names: list[str] | None = None) -> list[MetricOut]:
    """The schema's metrics and segments (those in `names`, in its order, when given)."""
    by_name = {m.name: m for m in schema.metrics}
    return [MetricOut(kind=m.kind, name=m.name, expression=m.expression, description=m.description,
                      synonyms=list(m.synonyms), filters=list(m.filters), time_column=m.time_column)
            for m in (schema.metrics if names is None else [by_name[n] for n in names])]


def answer_out(response: AskResponse, link: str, max_rows: int) -> AnswerOut:
    """The REST answer (answers.AskResponse) cut to what an assistant reads: no chart spec, at most `max_rows` rows."""
    clarification = response.clarification
    rows = response.rows[:max_rows]
    notes = [response.cut_note] if response.cut_note else []
    if response.policies:
        notes.append("your access policies applied: " + "; ".join(response.policies))
    if len(response.rows) > max_rows:
        notes.append(f"{max_rows} of {response.row_count} rows returned here; the link shows them all")
    return AnswerOut(
        status=response.status, answer_id=response.answer_id, link=link, thread_id=response.thread_id,
        connection=response.connection, question=response.question, sql=response.sql,
        reading=response.plan.line if response.plan else None, label=response.label,
        trust=TrustOut(kind=response.trust.kind, label=response.trust.label),
        columns=[ColumnTypeOut(name=c["name"], type=c["type"]) for c in response.columns],
        rows=rows, rows_returned=len(rows), more_rows=len(response.rows) > max_rows or response.truncated,
        note="; ".join(notes) or None,
        alternatives=[a["line"] for a in response.alternatives],
        clarification=ClarificationOut(
            message=clarification.message, understood=clarification.understood,
            not_understood=list(clarification.not_understood),
            options=[OptionOut(kind=o.kind, label=o.label, question=o.question, term=o.term, note=o.note)
                     for o in clarification.options],
        ) if clarification else None,
    )
