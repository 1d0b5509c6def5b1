"""SQL guard: the only way to a ValidatedSql, and the only way to run SQL on a customer database."""

from nl2sql.sqlguard.access import MASK_MODES, Access, ColumnMask, RowFilter, condition_tree
from nl2sql.sqlguard.errors import QueryFailed, QueryTimeout, SqlRefused
from nl2sql.sqlguard.extraction import extract_sql
from nl2sql.sqlguard.execution import QueryResult, ResultColumn, probe, run
from nl2sql.sqlguard.policy import GuardPolicy, sqlglot_dialect
from nl2sql.sqlguard.validation import ValidatedSql, validate

__all__ = [
    "MASK_MODES",
    "Access",
    "ColumnMask",
    "RowFilter",
    "condition_tree",
    "GuardPolicy",
    "QueryFailed",
    "QueryResult",
    "QueryTimeout",
    "ResultColumn",
    "SqlRefused",
    "ValidatedSql",
    "extract_sql",
    "probe",
    "run",
    "sqlglot_dialect",
    "validate",
]
