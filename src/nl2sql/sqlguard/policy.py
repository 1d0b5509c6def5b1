"""What a connection lets a query see: its dialect, allowed tables, sensitive columns and row cap."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from nl2sql.sqlguard.access import Access
from nl2sql.sqlguard.errors import SqlRefused
from nl2sql.sqlguard.forbidden import DEFAULT_TABLE_FUNCTIONS

__all__ = ["GuardPolicy", "sqlglot_dialect"]

# SQLAlchemy dialect names (and a few common spellings) to sqlglot's. MariaDB speaks MySQL's SQL.
_DIALECTS: dict[str, str] = {
    "postgresql": "postgres",
    "postgres": "postgres",
    "psycopg": "postgres",
    "mysql": "mysql",
    "mariadb": "mysql",
    "sqlite": "sqlite",
    "duckdb": "duckdb",
    "mssql": "tsql",
    "tsql": "tsql",
    "sqlserver": "tsql",
    "snowflake": "snowflake",
    "oracle": "oracle",
    "bigquery": "bigquery",
    "redshift": "redshift",
    "trino": "trino",
    "presto": "presto",
    "databricks": "databricks",
    "clickhouse": "clickhouse",
}


def sqlglot_dialect(name: str) -> str:
    """The sqlglot dialect for a SQLAlchemy dialect or driver name (`postgresql+psycopg` -> `postgres`)."""
    key = name.strip().lower().split("+", 1)[0]
    try:
        return _DIALECTS[key]
    except KeyError:
        raise SqlRefused(f"databases of kind `{name}` are not supported") from None


def _names(values: Iterable[str] | str) -> frozenset[str]:
    if isinstance(values, str):
        values = [values]
    return frozenset(value.strip() for value in values if value and value.strip())


@dataclass(frozen=True)
class GuardPolicy:
    """The rules one connection imposes on a query; callers (answers, catalog glue) build it.

    `allowed_tables` holds `table`, `schema.table` or `catalog.schema.table`, spelled as the database
    stores them; an unqualified name means "in `default_schema`". `sensitive_columns` holds
    `table.column` or `schema.table.column`; their values never reach a result. With
    `sensitive_in_predicates` a sensitive column may still filter rows in WHERE or JOIN ... ON.
    Functions are allowed from sqlguard.functions' list; `extra_functions` names more (an admin's setting).
    `access` holds the user's row filters and column masks (a hidden column is a sensitive one).
    """

    dialect: str
    allowed_tables: frozenset[str]
    sensitive_columns: frozenset[str] = frozenset()
    row_cap: int = 1000
    default_schema: str | None = None
    sensitive_in_predicates: bool = False
    table_functions: frozenset[str] = field(default=DEFAULT_TABLE_FUNCTIONS)
    extra_functions: frozenset[str] = frozenset()
    # a statement's size limits: parsing and checking cost CPU in proportion (about 3 s for 100 KB on one core)
    max_sql_chars: int = 50_000
    max_nodes: int = 5_000
    # the user's row policies and column masks, applied by rewriting the checked statement (none: unrestricted)
    access: Access = field(default_factory=Access)

    def __post_init__(self) -> None:
        # Accept any iterable from callers; keep the stored form hashable and immutable.
        object.__setattr__(self, "allowed_tables", _names(self.allowed_tables))
        object.__setattr__(self, "sensitive_columns", _names(self.sensitive_columns))
        object.__setattr__(self, "table_functions", frozenset(n.lower() for n in _names(self.table_functions)))
        object.__setattr__(self, "extra_functions", frozenset(n.lower() for n in _names(self.extra_functions)))
        if int(self.row_cap) < 1:
            raise ValueError("row_cap must be at least 1")
        for column in self.sensitive_columns:
            if "." not in column:
                raise ValueError(f"sensitive column `{column}` must be written table.column")
        sqlglot_dialect(self.dialect)

    @property
    def read_dialect(self) -> str:
        """The sqlglot dialect the SQL is parsed and written in."""
        return sqlglot_dialect(self.dialect)
