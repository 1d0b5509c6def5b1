"""What the catalog hands to other modules: frozen DTOs, never ORM rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


# What an admin may say about the semantic model: a column's role and default aggregate, a table's display
# (label) column and main time column.
COLUMN_ROLES = ("key", "reference", "measure", "dimension", "time", "label", "flag", "text")
AGGREGATES = ("sum", "avg", "min", "max", "count", "count_distinct")


class InstructionKind(StrEnum):
    ALWAYS = "always"
    TOPICAL = "topical"


class SyncState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(frozen=True)
class Connection:
    """A customer database as people see it; the URL shown has no password."""

    id: int
    name: str
    backend: str
    dialect: str
    display_url: str
    schemas: tuple[str, ...]
    description: str
    created_at: datetime
    updated_at: datetime
    catalog_changed_at: datetime
    synced_at: datetime | None
    draft_of: int | None = None  # a knowledge draft: the id of the live connection it will be published to
    # why its last test failed (None: passed, or never tested); a failing connection is offered to admins only
    test_failure: str | None = None
    tested_at: datetime | None = None

    @property
    def failing(self) -> bool:
        """Whether its last connection test failed (it is kept out of analysts' and the ask page's pickers)."""
        return self.test_failure is not None


@dataclass(frozen=True)
class DraftChange:
    """One thing the draft changed since it was taken: what publishing it does to the live connection.

    `kind` is table, column, join_hint, instruction, golden_query or metric (a metric or segment); `action`
    update, add or remove; `field`
    the changed field of an update (tables and columns); `before` the live value now, `after` the draft's."""

    kind: str
    action: str
    target: str
    field: str = ""
    before: Any = None
    after: Any = None
    live_id: int | None = None
    draft_id: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "action": self.action, "target": self.target, "field": self.field,
                "before": self.before, "after": self.after}


@dataclass(frozen=True)
class DraftConflict:
    """One thing the draft and the live connection both changed, differently, since the draft was taken: a publish
    stops on it until someone says which side wins.

    `base` is the value when the draft was taken (unknown, `base_known` false, for a draft taken before drafts kept
    it), `live` the value now and `draft` the draft's; a row one side deleted has None there, and `live_did` /
    `draft_did` say "changed" or "deleted". `change` is what publishing does when the draft wins; `key` names the
    conflict in a publish's choices."""

    kind: str
    target: str
    field: str
    base: Any
    live: Any
    draft: Any
    live_did: str
    draft_did: str
    change: DraftChange
    live_id: int | None = None
    base_known: bool = True

    @property
    def key(self) -> str:
        if self.kind in ("table", "column"):
            return f"{self.kind}:{self.target}:{self.field}"
        return f"{self.kind}:{self.live_id}"

    @property
    def detail(self) -> str:
        what = f"{self.kind.replace('_', ' ')} {self.target}" + (f" · {self.field.replace('_', ' ')}" if self.field else "")
        if not self.base_known:
            return (f"{what}: the draft and the live connection differ, and this draft was taken before drafts kept "
                    "what they started from")
        return f"{what}: the live connection {self.live_did} it since the draft was taken, and the draft {self.draft_did} it"

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "kind": self.kind, "target": self.target, "field": self.field,
                "base": self.base, "base_known": self.base_known, "live": self.live, "draft": self.draft,
                "live_did": self.live_did, "draft_did": self.draft_did, "detail": self.detail}


@dataclass(frozen=True)
class KnowledgeDraft:
    """A connection's draft: a hidden copy of its curated catalog (descriptions, semantic corrections, join
    hints, instructions, golden queries) that admins edit like any connection, try, then publish or discard."""

    connection: Connection  # the draft itself (edit it through the usual pages and API)
    live: Connection
    created_at: datetime
    changes: tuple[DraftChange, ...]
    live_synced_since: bool  # the live connection was synced after the draft was taken (new tables are not in it)
    conflicts: tuple[DraftConflict, ...] = ()  # where the live side changed what the draft changed: publish stops
    base_known: bool = True  # false for a draft taken before drafts kept what the live connection said then

    @property
    def changed_at(self) -> datetime:
        return self.connection.catalog_changed_at

    def to_json(self) -> dict[str, Any]:
        return {"name": self.connection.name, "live": self.live.name, "created_at": self.created_at.isoformat(),
                "changed_at": self.changed_at.isoformat(), "live_synced_since": self.live_synced_since,
                "changes": [c.to_json() for c in self.changes], "conflicts": [c.to_json() for c in self.conflicts],
                "base_known": self.base_known}


@dataclass(frozen=True)
class ConnectionTest:
    ok: bool
    message: str
    server_version: str | None = None


@dataclass(frozen=True)
class ForeignKey:
    columns: tuple[str, ...]
    ref_schema: str | None
    ref_table: str
    ref_columns: tuple[str, ...]
    name: str = ""


@dataclass(frozen=True)
class Column:
    id: int
    name: str
    type: str
    nullable: bool
    default: str | None
    primary_key: bool
    comment: str
    description: str
    business_name: str
    synonyms: tuple[str, ...]
    included: bool
    sensitive: bool
    distinct_values: tuple[str, ...] | None
    semantics: dict[str, str] = field(default_factory=dict, compare=False)  # role, aggregate
    value_synonyms: dict[str, tuple[str, ...]] = field(default_factory=dict, compare=False)  # value -> words

    @property
    def effective_description(self) -> str:
        """The human description, else the database comment."""
        return self.description or self.comment


@dataclass(frozen=True)
class Table:
    id: int
    connection_id: int
    schema: str | None
    name: str
    kind: str
    comment: str
    description: str
    business_name: str
    synonyms: tuple[str, ...]
    included: bool
    row_count: int | None
    columns: tuple[Column, ...] = ()
    foreign_keys: tuple[ForeignKey, ...] = ()
    semantics: dict[str, str] = field(default_factory=dict, compare=False)  # label, time

    @property
    def qualified_name(self) -> str:
        return f"{self.schema}.{self.name}" if self.schema else self.name

    @property
    def effective_description(self) -> str:
        return self.description or self.comment


@dataclass(frozen=True)
class TablePage:
    tables: tuple[Table, ...]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


@dataclass(frozen=True)
class JoinHint:
    """Tables people join and on which column pairs (beyond declared foreign keys)."""

    id: int
    left_table: str
    right_table: str
    pairs: tuple[tuple[str, str], ...]
    note: str = ""


@dataclass(frozen=True)
class Instruction:
    id: int
    connection_id: int
    text: str
    kind: InstructionKind
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class GoldenQuery:
    id: int
    connection_id: int
    question: str
    sql: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class SyncStatus:
    id: int
    connection_id: int
    status: SyncState
    phase: str
    done: int
    total: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None
    diff: dict[str, Any] | None

    @property
    def finished(self) -> bool:
        return self.status in (SyncState.SUCCEEDED, SyncState.FAILED)

    @property
    def percent(self) -> int:
        return int(100 * self.done / self.total) if self.total else (100 if self.finished else 0)


@dataclass(frozen=True)
class PromptColumn:
    name: str
    type: str
    description: str
    business_name: str
    synonyms: tuple[str, ...]
    nullable: bool
    primary_key: bool
    sensitive: bool
    values: tuple[str, ...] | None
    semantics: dict[str, str] = field(default_factory=dict, compare=False, hash=False)
    value_synonyms: dict[str, tuple[str, ...]] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class PromptTable:
    schema: str | None
    name: str
    description: str
    business_name: str
    synonyms: tuple[str, ...]
    row_count: int | None
    columns: tuple[PromptColumn, ...]
    foreign_keys: tuple[ForeignKey, ...]
    semantics: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    @property
    def qualified_name(self) -> str:
        return f"{self.schema}.{self.name}" if self.schema else self.name


METRIC_KINDS = ("metric", "segment")
METRIC_FORMATS = ("plain", "currency", "percent")


@dataclass(frozen=True)
class Metric:
    """A metric (`kind` metric: a named formula such as `sum(order_items.quantity * order_items.unit_price)`) or a
    segment (`kind` segment: a named condition such as `products.is_active = 1`) of a connection's semantic layer.

    `filters` are SQL conditions every use of a metric applies; `time_column` (`table.column`) is what it is
    reported by; `synonyms` are the other words people use for it."""

    id: int
    connection_id: int
    kind: str
    name: str
    expression: str
    filters: tuple[str, ...] = ()
    time_column: str = ""
    synonyms: tuple[str, ...] = ()
    description: str = ""
    format: str = "plain"

    def spec(self) -> dict[str, Any]:
        """The fields an admin sets (export, drafts, the API)."""
        return {"kind": self.kind, "name": self.name, "expression": self.expression, "filters": list(self.filters),
                "time_column": self.time_column, "synonyms": list(self.synonyms), "description": self.description,
                "format": self.format}


@dataclass(frozen=True)
class PromptSchema:
    """The included part of a connection's catalog, ready for retrieval and prompting."""

    connection_id: int
    connection_name: str
    dialect: str
    description: str
    tables: tuple[PromptTable, ...]
    join_hints: tuple[JoinHint, ...]
    version: datetime
    metrics: tuple[Metric, ...] = ()  # the admin's metrics and segments
    # whose view this is: "" for the whole included catalog, else a user's `Visibility.fingerprint` (caches key on it)
    seen_by: str = field(default="", compare=False)

    @property
    def sensitive_columns(self) -> frozenset[str]:
        """`table.column` (schema-qualified where the table is) of every sensitive column."""
        return frozenset(f"{t.qualified_name}.{c.name}" for t in self.tables for c in t.columns if c.sensitive)


@dataclass(frozen=True)
class DbtReport:
    """What an import of dbt artifacts put in the connection's knowledge draft (`draft`), and what it could not:
    models that match no table, metrics refused when tried, dbt definitions with no counterpart here."""

    draft: str
    tables_described: int
    columns_described: int
    join_hints: int
    known_values: int
    metrics: int
    segments: int
    unmapped: tuple[str, ...] = ()
    refused: tuple[str, ...] = ()
    unsupported: tuple[str, ...] = ()


@dataclass(frozen=True)
class ImportReport:
    """What a bulk import did: counts and the rows it refused, each with its reason."""

    imported: int
    skipped: int = 0
    errors: tuple[tuple[int, str], ...] = field(default_factory=tuple)
    notes: tuple[str, ...] = field(default_factory=tuple)
