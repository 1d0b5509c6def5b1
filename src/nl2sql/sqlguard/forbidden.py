"""What a query may not contain: statement kinds, clauses and functions, with the reason a person reads."""

from __future__ import annotations

import re

from sqlglot import exp

__all__ = [
    "DEFAULT_TABLE_FUNCTIONS",
    "FORBIDDEN_FUNCTIONS",
    "FORBIDDEN_NODES",
    "SIDE_EFFECT_NAME",
    "STATEMENT_WORDS",
    "forbidden_function_reason",
    "statement_name",
]


def _node(name: str) -> type[exp.Expression] | None:
    # sqlglot adds and renames node classes between releases; a missing one is simply not listed.
    return getattr(exp, name, None)


# Statement kinds, by sqlglot node class, and the words a person knows them by. Found anywhere in
# the tree (a CTE body, a subquery), they refuse the query: a query must only read.
_STATEMENT_NAMES: dict[str, str] = {
    "Insert": "INSERT",
    "Update": "UPDATE",
    "Delete": "DELETE",
    "Merge": "MERGE",
    "Copy": "COPY",
    "LoadData": "LOAD DATA",
    "Export": "EXPORT",
    "Create": "CREATE",
    "Drop": "DROP",
    "Undrop": "UNDROP",
    "Alter": "ALTER",
    "AlterSession": "ALTER SESSION",
    "TruncateTable": "TRUNCATE",
    "Grant": "GRANT",
    "Revoke": "REVOKE",
    "Set": "SET",
    "Pragma": "PRAGMA",
    "Attach": "ATTACH",
    "Detach": "DETACH",
    "Install": "INSTALL",
    "Transaction": "transaction control (BEGIN/START TRANSACTION)",
    "Commit": "COMMIT",
    "Rollback": "ROLLBACK",
    "Use": "USE",
    "Execute": "EXECUTE",
    "ExecuteSql": "EXECUTE",
    "Kill": "KILL",
    "Analyze": "ANALYZE",
    "Cache": "CACHE",
    "Uncache": "UNCACHE",
    "Refresh": "REFRESH",
    "LockingStatement": "LOCKING",
    "Declare": "DECLARE",
    "Comment": "COMMENT",
    "Describe": "DESCRIBE",
    "Show": "SHOW",
    "Summarize": "SUMMARIZE",
    "SwapTable": "SWAP",
    "ConnectTo": "CONNECT",
    "Disconnect": "DISCONNECT",
    "Command": "this kind of",
}

# Clauses that turn a SELECT into a write, a lock or a session change.
_CLAUSE_REASONS: dict[str, str] = {
    "Into": "SELECT ... INTO writes a table, a file or a variable",
    "Lock": "locking clauses (FOR UPDATE / FOR SHARE / LOCK IN SHARE MODE) take row locks",
    "Returning": "RETURNING belongs to a write statement",
    "OnConflict": "ON CONFLICT / ON DUPLICATE KEY belongs to a write statement",
    "Hint": "optimizer hints (/*+ ... */) can change session settings such as the time limit",
    "NextValueFor": "NEXT VALUE FOR advances a sequence",
    "UserDefinedFunction": "defining functions is not allowed",
    "PropertyEQ": "assignments (:=) change session state",
    "SessionParameter": "server and session variables (@@name) are not available to queries",
    "Parameter": "query parameters and variables ($1, @name) cannot be filled in; write literal values",
    "Placeholder": "query parameters (?, :name, %s) cannot be filled in; write literal values",
}

FORBIDDEN_NODES: tuple[tuple[type[exp.Expression], str], ...] = tuple(
    (cls, f"{name} statements are not allowed: only read-only queries run")
    for key, name in _STATEMENT_NAMES.items()
    if (cls := _node(key)) is not None and key != "Command"
) + tuple((cls, reason) for key, reason in _CLAUSE_REASONS.items() if (cls := _node(key)) is not None)


# The words a non-query statement starts with: the kinds above, and the ones sqlglot reads only as
# an opaque command. SQL that fails to parse and starts with one of these is refused as that kind of
# statement; any other first word is a syntax error (a typo such as SELEC), not a statement kind.
STATEMENT_WORDS: frozenset[str] = frozenset(
    {name.split()[0].lower() for key, name in _STATEMENT_NAMES.items() if key not in {"Command", "Transaction"}}
    | {
        "abort", "backup", "begin", "bulk", "call", "check", "checkpoint", "checksum", "close", "cluster",
        "dbcc", "deallocate", "discard", "do", "end", "exec", "explain", "fetch", "flush", "handler", "import",
        "listen", "lock", "move", "notify", "optimize", "prepare", "purge", "put", "reassign", "reconfigure",
        "reindex", "release", "remove", "rename", "repair", "replace", "reset", "resignal", "restore",
        "savepoint", "security", "shutdown", "signal", "start", "uninstall", "unlisten", "unload", "unlock",
        "upsert", "vacuum", "waitfor", "xa",
    }
)


def statement_name(node: exp.Expression) -> str:
    """The word a person knows a top-level statement by (UPDATE, VACUUM, ...)."""
    if isinstance(node, exp.Command):
        return str(node.this or "this").upper()
    return _STATEMENT_NAMES.get(type(node).__name__, type(node).__name__.upper())


# Functions refused by name, grouped by the database that has them. Every group applies to every
# dialect: refusing a name a database lacks costs nothing, and a mislabelled connection must not
# open a hole. Names are compared case-insensitively, schema prefixes (pg_catalog.) ignored.
FORBIDDEN_FUNCTIONS: dict[str, frozenset[str]] = {
    "postgres": frozenset(
        {
            # sleeping and locking hold connections and rows hostage
            "pg_sleep", "pg_sleep_for", "pg_sleep_until",
            "pg_advisory_lock", "pg_advisory_lock_shared", "pg_advisory_xact_lock",
            "pg_advisory_xact_lock_shared", "pg_try_advisory_lock", "pg_try_advisory_lock_shared",
            "pg_try_advisory_xact_lock", "pg_try_advisory_xact_lock_shared", "pg_advisory_unlock",
            "pg_advisory_unlock_all", "pg_advisory_unlock_shared",
            # the server's files
            "pg_read_file", "pg_read_binary_file", "pg_ls_dir", "pg_stat_file", "pg_ls_logdir",
            "pg_ls_waldir", "pg_ls_tmpdir", "pg_ls_archive_statusdir", "pg_file_write", "pg_file_rename",
            "pg_file_unlink", "pg_logdir_ls",
            # large objects read and write server files and their own storage
            "lo_import", "lo_export", "lo_create", "lo_creat", "lo_unlink", "lo_put", "lo_get",
            "lo_from_bytea", "lo_open", "lo_write", "lo_truncate",
            # other databases and the network
            "dblink", "dblink_exec", "dblink_connect", "dblink_connect_u", "dblink_send_query",
            "dblink_get_result", "dblink_open", "dblink_fetch",
            # other sessions and the server itself
            "pg_terminate_backend", "pg_cancel_backend", "pg_reload_conf", "pg_rotate_logfile",
            "pg_promote", "pg_switch_wal", "pg_create_restore_point", "pg_backup_start", "pg_backup_stop",
            "pg_start_backup", "pg_stop_backup", "pg_log_backend_memory_contexts", "pg_stat_reset",
            "pg_stat_reset_shared", "pg_stat_reset_single_table_counters", "pg_stat_reset_single_function_counters",
            "pg_stat_reset_slru", "pg_stat_reset_replication_slot", "pg_stat_reset_subscription_stats",
            "pg_import_system_collations", "pg_export_snapshot", "pg_logical_emit_message",
            # configuration: set_config writes it, current_setting reveals the server's (paths, etc.)
            "set_config", "current_setting",
            # sequences and transaction ids: writes
            "nextval", "setval", "txid_current", "pg_current_xact_id",
            # functions that run a query given as text, which the guard cannot see into
            "query_to_xml", "query_to_xml_and_xmlschema", "query_to_xmlschema", "cursor_to_xml",
            "cursor_to_xmlschema", "table_to_xml", "table_to_xml_and_xmlschema", "table_to_xmlschema",
            "schema_to_xml", "schema_to_xml_and_xmlschema", "schema_to_xmlschema", "database_to_xml",
            "database_to_xml_and_xmlschema", "database_to_xmlschema", "ts_stat", "ts_rewrite",
            # LISTEN/NOTIFY
            "pg_notify",
        }
    ),
    "mysql": frozenset(
        {
            "sleep", "benchmark", "get_lock", "release_lock", "release_all_locks", "load_file",
            "master_pos_wait", "source_pos_wait", "wait_for_executed_gtid_set",
            "wait_until_sql_thread_after_gtids", "sys_exec", "sys_eval", "sys_get", "sys_set",
            "lastval",  # MariaDB sequences; nextval/setval are in the postgres group
        }
    ),
    "sqlite": frozenset(
        {
            "load_extension", "readfile", "writefile", "edit", "fts3_tokenizer", "zipfile",
            # huge blobs exhaust memory; analytics never needs them
            "randomblob", "zeroblob",
        }
    ),
    "duckdb": frozenset(
        {
            "read_csv", "read_csv_auto", "read_parquet", "parquet_scan", "read_json", "read_json_auto",
            "read_json_objects", "read_ndjson", "read_ndjson_auto", "read_ndjson_objects", "read_text",
            "read_blob", "read_xlsx", "glob", "sniff_csv", "parquet_metadata", "parquet_schema",
            "parquet_file_metadata", "parquet_kv_metadata", "iceberg_scan", "delta_scan", "sqlite_scan",
            "sqlite_attach", "postgres_scan", "postgres_attach", "postgres_query", "postgres_execute",
            "mysql_scan", "mysql_query", "mysql_execute", "query", "query_table", "getenv",
            "duckdb_secrets", "http_get", "http_post",
        }
    ),
    "tsql": frozenset(
        {"xp_cmdshell", "openrowset", "opendatasource", "openquery", "openxml", "sp_executesql", "sp_oacreate"}
    ),
    "oracle": frozenset({"dbms_lock", "dbms_pipe", "dbms_xmlgen", "dbms_sql", "utl_http", "utl_file", "utl_inaddr"}),
}

_ALL_FORBIDDEN = frozenset().union(*FORBIDDEN_FUNCTIONS.values())

# Names sqlglot doesn't know (it parses them as anonymous functions) that look like side effects:
# writing, executing, sleeping, locking, files, the network, other sessions. Matching refuses a few
# harmless names too; that is the safe direction, and the repair loop asks the model again.
SIDE_EFFECT_NAME = re.compile(
    r"(?:^|_)(sleep|exec|shell|cmd|write|file|load|import|export|notify|lock|unlock|kill|terminate"
    r"|cancel|reload|rotate|drop|delete|insert|update|upsert|truncate|grant|revoke|alter|create"
    r"|set_?config|setval|nextval|dblink|http|curl|advisory|backup|replication)"
    r"|^(lo|xp|sp|sys|utl|dbms)_|system\$|^pg_ls_|^pg_read|^pg_stat_reset|^pg_wal|^pg_logical"
    r"|(read|write|load)file",
    re.IGNORECASE,
)

# Functions allowed in FROM (set-returning functions). Anything else in FROM is refused, because a
# function in FROM is how databases read files and other servers (read_csv, dblink, OPENROWSET).
DEFAULT_TABLE_FUNCTIONS: frozenset[str] = frozenset(
    {
        "generate_series", "unnest", "json_each", "json_tree", "jsonb_each", "jsonb_each_text",
        "json_each_text", "json_array_elements", "json_array_elements_text", "jsonb_array_elements",
        "jsonb_array_elements_text", "jsonb_to_recordset", "json_to_recordset", "regexp_split_to_table",
        "string_to_table", "json_table", "range", "explodinggenerateseries", "generatedaterange",
    }
)


def function_names(node: exp.Func) -> set[str]:
    """Every name a function node may be known by, lowercased (its SQL name, its class, its literal name)."""
    names = {type(node).__name__.lower()}
    if isinstance(node, exp.Anonymous):
        names.add(str(node.name).lower())
    else:
        try:
            names.add(node.sql_name().lower())
        except Exception:  # noqa: BLE001 — sql_name() only fails for nameless internal nodes
            pass
    return {name for name in names if name}


def forbidden_function_reason(node: exp.Func) -> str | None:
    """Why this function call is refused, or None when it may run."""
    names = function_names(node)
    for name in sorted(names):
        if name in _ALL_FORBIDDEN or name.split(".")[-1] in _ALL_FORBIDDEN:
            return f"function `{name}` is not allowed: it can change data, reach files or other servers, or stall the database"
    if isinstance(node, exp.Anonymous):
        name = str(node.name).lower()
        if SIDE_EFFECT_NAME.search(name):
            return f"function `{name}` is not allowed: its name suggests a side effect (writing, executing, locking, sleeping or reaching files)"
    return None
