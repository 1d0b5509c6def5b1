"""The guard's corpora: statements that must never run, and analytical queries that must."""

from __future__ import annotations

from dataclasses import dataclass

from nl2sql.sqlguard import GuardPolicy

DIALECTS = ("postgres", "mysql", "sqlite")
ALL_DIALECTS = ("postgres", "mysql", "sqlite", "duckdb", "tsql", "snowflake", "oracle")
TABLES = ("customers", "orders", "order_items", "products", "people")
DEFAULT_SCHEMA = {"postgres": "public", "mysql": "nl2sql_test_sqlguard", "sqlite": "main"}


UPPER_CASE_DIALECTS = {"oracle", "snowflake"}  # they store unquoted names in upper case


def policy_for(dialect: str, **changes) -> GuardPolicy:
    """The corpus policy: the shop tables, people.ssn sensitive, at most 100 rows."""
    upper = dialect in UPPER_CASE_DIALECTS
    values = dict(
        dialect=dialect,
        allowed_tables=frozenset(t.upper() if upper else t for t in TABLES),
        sensitive_columns=frozenset({"people.ssn"}),
        row_cap=100,
        default_schema=DEFAULT_SCHEMA.get(dialect),
    )
    values.update(changes)
    return GuardPolicy(**values)


@dataclass(frozen=True)
class Attack:
    name: str
    dialect: str  # the dialect the statement is written for
    sql: str
    reason: str  # a fragment of the refusal message a person reads
    # False where the text means something harmless in another dialect (SQLite ignores the case of
    # quoted names; PostgreSQL reads @@ as an operator), so the every-dialect property skips it.
    portable: bool = True


ZW = "\u200b"

ATTACKS: tuple[Attack, ...] = (
    # stacked queries and comments hiding statements
    Attack("stacked_drop", "postgres", "SELECT 1; DROP TABLE orders", "only one statement"),
    Attack("stacked_delete", "mysql", "SELECT * FROM orders; DELETE FROM orders", "only one statement"),
    Attack("stacked_after_line_comment", "mysql", "SELECT 1 -- harmless\n; DROP TABLE orders", "only one statement"),
    Attack("stacked_after_block_comment", "sqlite", "SELECT 1 /* x */; UPDATE orders SET total = 0", "only one statement"),
    Attack("stacked_transaction", "postgres", "BEGIN; DELETE FROM orders; COMMIT", "only one statement"),
    Attack("mysql_executable_comment", "mysql", "SELECT 1 /*! , (SELECT 1 FROM orders FOR UPDATE) */", "executable comments"),
    Attack("optimizer_hint_disables_timeout", "mysql", "SELECT /*+ SET_VAR(max_execution_time=0) */ * FROM orders", "hints"),
    # writes, plain and in disguise
    Attack("delete", "postgres", "DELETE FROM orders", "DELETE statements are not allowed"),
    Attack("update", "mysql", "UPDATE orders SET total = 0", "UPDATE statements are not allowed"),
    Attack("insert", "sqlite", "INSERT INTO orders (id) VALUES (1)", "INSERT statements are not allowed"),
    Attack("insert_select", "postgres", "INSERT INTO orders SELECT * FROM orders", "INSERT statements"),
    Attack("merge", "postgres", "MERGE INTO orders o USING customers c ON o.customer_id = c.id WHEN MATCHED THEN DELETE", "MERGE"),
    Attack("mixed_case_delete", "postgres", "DeLeTe FrOm orders", "DELETE statements are not allowed"),
    Attack("delete_in_cte", "postgres", "WITH x AS (DELETE FROM orders RETURNING *) SELECT * FROM x", "DELETE statements"),
    Attack("update_in_cte", "postgres", "WITH x AS (UPDATE orders SET total = 0 RETURNING id) SELECT * FROM x", "UPDATE statements"),
    Attack("insert_in_cte", "postgres", "WITH x AS (INSERT INTO orders (id) VALUES (1) RETURNING id) SELECT id FROM x", "INSERT statements"),
    Attack("delete_in_nested_cte", "postgres", "SELECT * FROM (WITH d AS (DELETE FROM orders RETURNING id) SELECT id FROM d) s", "DELETE statements"),
    Attack("replace_into", "mysql", "REPLACE INTO orders (id) VALUES (1)", "REPLACE statements"),
    Attack("insert_ignore", "mysql", "INSERT IGNORE INTO orders (id) VALUES (1)", "INSERT statements"),
    Attack("on_duplicate_key", "mysql", "INSERT INTO orders (id) VALUES (1) ON DUPLICATE KEY UPDATE total = 0", "INSERT statements"),
    Attack("on_conflict", "postgres", "INSERT INTO orders (id) VALUES (1) ON CONFLICT DO NOTHING", "INSERT statements"),
    Attack("select_into_table", "postgres", "SELECT * INTO backup FROM orders", "SELECT ... INTO"),
    Attack("select_into_outfile", "mysql", "SELECT * FROM orders INTO OUTFILE '/tmp/orders.csv'", "INTO OUTFILE"),
    Attack("select_into_dumpfile", "mysql", "SELECT name FROM customers INTO DUMPFILE '/tmp/x'", "INTO DUMPFILE"),
    Attack("copy_to_file", "postgres", "COPY orders TO '/tmp/orders.csv'", "COPY statements"),
    Attack("copy_to_program", "postgres", "COPY (SELECT * FROM orders) TO PROGRAM 'rm -rf /'", "COPY statements"),
    Attack("load_data", "mysql", "LOAD DATA INFILE '/etc/passwd' INTO TABLE orders", "LOAD"),
    Attack("load_data_local", "mysql", "LOAD DATA LOCAL INFILE '/etc/passwd' INTO TABLE orders", "LOAD"),
    # DDL and DCL
    Attack("drop_table", "sqlite", "DROP TABLE orders", "DROP statements"),
    Attack("create_table_as", "postgres", "CREATE TABLE stolen AS SELECT * FROM people", "CREATE statements"),
    Attack("alter_table", "mysql", "ALTER TABLE orders ADD COLUMN x INT", "ALTER statements"),
    Attack("truncate", "postgres", "TRUNCATE orders", "TRUNCATE statements"),
    Attack("create_function", "postgres", "CREATE FUNCTION f() RETURNS int AS 'SELECT 1' LANGUAGE sql", "CREATE statements"),
    Attack("comment_on", "postgres", "COMMENT ON TABLE orders IS 'owned'", "statements are not allowed"),
    Attack("grant", "postgres", "GRANT ALL ON orders TO PUBLIC", "GRANT statements"),
    Attack("revoke", "mysql", "REVOKE SELECT ON orders FROM 'app'@'%'", "REVOKE statements"),
    Attack("set_role", "postgres", "SET ROLE postgres", "SET statements"),
    Attack("set_search_path", "postgres", "SET search_path = evil", "SET statements"),
    Attack("set_session_timeout", "mysql", "SET SESSION max_execution_time = 0", "SET statements"),
    Attack("reset_all", "postgres", "RESET ALL", "RESET statements"),
    # locks
    Attack("for_update", "postgres", "SELECT * FROM orders FOR UPDATE", "locking clauses"),
    Attack("for_share", "postgres", "SELECT id FROM orders FOR SHARE", "locking clauses"),
    Attack("for_no_key_update_skip_locked", "postgres", "SELECT id FROM orders FOR NO KEY UPDATE SKIP LOCKED", "locking clauses"),
    Attack("lock_in_share_mode", "mysql", "SELECT * FROM orders LOCK IN SHARE MODE", "locking clauses"),
    Attack("lock_table", "postgres", "LOCK TABLE orders IN ACCESS EXCLUSIVE MODE", "LOCK statements"),
    Attack("lock_tables", "mysql", "LOCK TABLES orders WRITE", "LOCK TABLES statements"),
    Attack("subquery_for_update", "postgres", "SELECT * FROM (SELECT id FROM orders FOR UPDATE) s", "locking clauses"),
    # procedures, dynamic SQL, session and server control
    Attack("call", "mysql", "CALL refresh_everything()", "CALL statements"),
    Attack("do_block", "postgres", "DO $$ BEGIN DELETE FROM orders; END $$", "DO statements"),
    Attack("do_sleep", "mysql", "DO SLEEP(5)", "DO statements"),
    Attack("execute", "postgres", "EXECUTE wipe", "EXECUTE statements"),
    Attack("prepare", "postgres", "PREPARE wipe AS DELETE FROM orders", "PREPARE statements"),
    Attack("prepare_from_concat", "mysql", "PREPARE s FROM CONCAT('DRO', 'P TABLE orders')", "PREPARE statements"),
    Attack("listen", "postgres", "LISTEN channel", "LISTEN statements"),
    Attack("notify", "postgres", "NOTIFY channel, 'x'", "NOTIFY statements"),
    Attack("vacuum", "postgres", "VACUUM FULL orders", "VACUUM statements"),
    Attack("analyze", "postgres", "ANALYZE orders", "ANALYZE statements"),
    Attack("refresh_materialized_view", "postgres", "REFRESH MATERIALIZED VIEW order_stats", "REFRESH"),
    Attack("explain_analyze_delete", "postgres", "EXPLAIN ANALYZE DELETE FROM orders", "EXPLAIN statements"),
    Attack("begin", "postgres", "BEGIN", "transaction control"),
    Attack("commit", "mysql", "COMMIT", "COMMIT statements"),
    Attack("start_transaction_read_write", "mysql", "START TRANSACTION READ WRITE", "statements are not allowed"),
    Attack("pragma_writable_schema", "sqlite", "PRAGMA writable_schema = 1", "PRAGMA statements"),
    Attack("pragma_query_only_off", "sqlite", "PRAGMA query_only = OFF", "PRAGMA statements"),
    Attack("attach", "sqlite", "ATTACH DATABASE '/tmp/evil.db' AS evil", "ATTACH statements"),
    Attack("handler_open", "mysql", "HANDLER orders OPEN", "HANDLER statements"),
    Attack("kill", "mysql", "KILL 1", "KILL statements"),
    Attack("use_database", "mysql", "USE mysql", "USE statements"),
    Attack("show_grants", "mysql", "SHOW GRANTS", "SHOW statements"),
    Attack("declare_cursor", "postgres", "DECLARE c CURSOR FOR SELECT * FROM orders", "DECLARE statements"),
    Attack("exec_xp_cmdshell", "tsql", "EXEC xp_cmdshell 'dir'", "statements are not allowed"),
    # dangerous functions
    Attack("pg_sleep", "postgres", "SELECT pg_sleep(10)", "`pg_sleep`"),
    Attack("pg_sleep_schema_qualified", "postgres", "SELECT pg_catalog.pg_sleep(10)", "`pg_sleep`"),
    Attack("pg_sleep_upper_case", "postgres", "SELECT PG_SLEEP(10)", "`pg_sleep`"),
    Attack("pg_sleep_quoted", "postgres", 'SELECT "pg_sleep"(10)', "`pg_sleep`"),
    Attack("pg_sleep_in_where", "postgres", "SELECT id FROM orders WHERE pg_sleep(1) IS NOT NULL", "`pg_sleep`"),
    Attack("pg_sleep_in_lateral", "postgres", "SELECT * FROM orders, LATERAL (SELECT pg_sleep(1)) s", "`pg_sleep`"),
    Attack("pg_read_file", "postgres", "SELECT pg_read_file('/etc/passwd')", "`pg_read_file`"),
    Attack("pg_read_binary_file", "postgres", "SELECT pg_read_binary_file('/etc/passwd')", "`pg_read_binary_file`"),
    Attack("pg_ls_dir", "postgres", "SELECT * FROM pg_ls_dir('.')", "`pg_ls_dir`"),
    Attack("lo_import", "postgres", "SELECT lo_import('/etc/passwd')", "`lo_import`"),
    Attack("lo_export", "postgres", "SELECT lo_export(1, '/tmp/x')", "`lo_export`"),
    Attack("dblink_exec", "postgres", "SELECT dblink_exec('host=evil', 'DROP TABLE x')", "`dblink_exec`"),
    Attack("dblink_from", "postgres", "SELECT * FROM dblink('host=evil', 'SELECT 1') AS t(a int)", "`dblink`"),
    Attack("pg_terminate_backend", "postgres", "SELECT pg_terminate_backend(42)", "`pg_terminate_backend`"),
    Attack("pg_cancel_backend", "postgres", "SELECT pg_cancel_backend(42)", "`pg_cancel_backend`"),
    Attack("set_config", "postgres", "SELECT set_config('statement_timeout', '0', false)", "`set_config`"),
    Attack("pg_reload_conf", "postgres", "SELECT pg_reload_conf()", "`pg_reload_conf`"),
    Attack("current_setting", "postgres", "SELECT current_setting('data_directory')", "`current_setting`"),
    Attack("pg_notify", "postgres", "SELECT pg_notify('channel', 'x')", "`pg_notify`"),
    Attack("nextval", "postgres", "SELECT nextval('orders_id_seq')", "`nextval`"),
    Attack("advisory_lock", "postgres", "SELECT pg_advisory_lock(1)", "`pg_advisory_lock`"),
    Attack("query_to_xml_concat", "postgres", "SELECT query_to_xml('DEL' || 'ETE FROM orders RETURNING *', true, true, '')", "`query_to_xml`"),
    Attack("txid_current", "postgres", "SELECT txid_current()", "`txid_current`"),
    Attack("mysql_sleep", "mysql", "SELECT SLEEP(10)", "`sleep`"),
    Attack("mysql_sleep_in_subquery", "mysql", "SELECT id FROM orders WHERE id = (SELECT sleep(5))", "`sleep`"),
    Attack("benchmark", "mysql", "SELECT BENCHMARK(100000000, MD5('x'))", "`benchmark`"),
    Attack("load_file", "mysql", "SELECT LOAD_FILE('/etc/passwd')", "`load_file`"),
    Attack("get_lock", "mysql", "SELECT GET_LOCK('x', 10)", "`get_lock`"),
    Attack("sys_exec", "mysql", "SELECT sys_exec('rm -rf /')", "`sys_exec`"),
    Attack("load_extension", "sqlite", "SELECT load_extension('/tmp/evil.so')", "`load_extension`"),
    Attack("writefile", "sqlite", "SELECT writefile('/tmp/x', 'y')", "`writefile`"),
    Attack("readfile", "sqlite", "SELECT readfile('/etc/passwd')", "`readfile`"),
    Attack("randomblob", "sqlite", "SELECT randomblob(1000000000)", "`randomblob`"),
    Attack("unknown_side_effect_function", "postgres", "SELECT http_get('http://evil/')", "`http_get`"),
    Attack("duckdb_read_csv", "duckdb", "SELECT * FROM read_csv('/etc/passwd')", "read_csv"),
    Attack("openrowset", "tsql", "SELECT * FROM OPENROWSET('SQLNCLI', 'server=evil', 'SELECT 1') AS x", "openrowset"),
    Attack("session_variable_assignment", "mysql", "SELECT @a := total FROM orders", "assignments"),
    Attack("server_variable", "mysql", "SELECT @@datadir", "server and session variables", portable=False),
    Attack("parameter_placeholder", "postgres", "SELECT * FROM orders WHERE id = $1", "parameters"),
    # tables outside the catalog
    Attack("unknown_table", "postgres", "SELECT * FROM secrets", "table `secrets` is not in this connection's catalog"),
    Attack("unknown_table_in_join", "mysql", "SELECT o.id FROM orders o JOIN secrets s ON s.id = o.id", "`secrets`"),
    Attack("unknown_table_in_subquery", "sqlite", "SELECT id FROM orders WHERE id IN (SELECT id FROM secrets)", "`secrets`"),
    Attack("unknown_table_in_union", "postgres", "SELECT name FROM customers UNION SELECT password FROM users", "`users`"),
    Attack("information_schema", "postgres", "SELECT * FROM information_schema.tables", "`information_schema.tables`"),
    Attack("pg_shadow", "postgres", "SELECT * FROM pg_catalog.pg_shadow", "`pg_catalog.pg_shadow`"),
    Attack("pg_stat_activity", "postgres", "SELECT query FROM pg_stat_activity", "`pg_stat_activity`"),
    Attack("sqlite_master", "sqlite", "SELECT sql FROM sqlite_master", "`sqlite_master`"),
    Attack("mysql_user", "mysql", "SELECT * FROM mysql.user", "`mysql.user`"),
    Attack("other_schema_same_name", "postgres", "SELECT * FROM private.orders", "`private.orders`"),
    Attack("cte_name_shadowing_in_other_scope", "postgres", "SELECT * FROM (WITH secrets AS (SELECT 1 AS a) SELECT a FROM secrets) s, secrets", "`secrets`"),
    Attack("cte_referencing_later_cte_name", "postgres", "WITH a AS (SELECT * FROM secrets), secrets AS (SELECT 1 AS x) SELECT * FROM a", "`secrets`"),
    Attack("quoted_case_variant", "postgres", 'SELECT * FROM "ORDERS"', "`ORDERS`", portable=False),
    # sensitive columns
    Attack("select_sensitive", "postgres", "SELECT ssn FROM people", "sensitive"),
    Attack("select_sensitive_qualified", "mysql", "SELECT p.ssn FROM people AS p", "sensitive"),
    Attack("sensitive_in_function", "sqlite", "SELECT upper(ssn) FROM people", "sensitive"),
    Attack("sensitive_in_case", "postgres", "SELECT CASE WHEN ssn LIKE '1%' THEN 1 ELSE 0 END FROM people", "sensitive"),
    Attack("sensitive_via_cte_alias", "postgres", "WITH x AS (SELECT ssn AS harmless FROM people) SELECT harmless FROM x", "sensitive"),
    Attack("sensitive_order_by", "mysql", "SELECT name FROM people ORDER BY ssn", "sensitive"),
    Attack("sensitive_star", "postgres", "SELECT * FROM people", "sensitive column `people.ssn`"),
    Attack("sensitive_qualified_star", "sqlite", "SELECT p.* FROM people p", "sensitive column `people.ssn`"),
    Attack("sensitive_whole_row", "postgres", "SELECT row_to_json(p) FROM people p", "whole rows"),
    Attack("sensitive_star_in_subquery", "postgres", "SELECT s.name FROM (SELECT * FROM people) s", "sensitive column"),
    # functions that reveal the server: refused because they are not on the allow list
    Attack("server_settings", "postgres", "SELECT name, setting FROM orders, pg_show_all_settings() s LIMIT 5", "not allowed"),
    Attack("server_settings_in_select", "postgres", "SELECT (pg_show_all_settings()).name FROM orders", "not allowed"),
    Attack("other_sessions_activity", "postgres", "SELECT pg_stat_get_backend_activity(b) FROM generate_series(1, 20) AS b", "not allowed"),
    Attack("server_version", "postgres", "SELECT version() FROM orders", "not allowed"),
    Attack("server_address", "postgres", "SELECT inet_server_addr(), inet_server_port() FROM orders", "not allowed"),
    Attack("mysql_server_vars", "mysql", "SELECT connection_id(), @@hostname FROM orders", "not allowed"),
    Attack("sqlite_compile_options", "sqlite", "SELECT sqlite_compileoption_get(0) FROM orders", "not allowed"),
    Attack("unknown_function", "postgres", "SELECT my_custom_udf(id) FROM orders", "not allowed"),
    # row values and star expansions inside EXISTS test a guess a character at a time
    Attack("sensitive_row_cast_in_exists", "postgres", "SELECT name FROM people p WHERE EXISTS (SELECT 1 FROM people q WHERE q.id = p.id AND CAST(ROW(q.*) AS TEXT) LIKE '%123-4%')", "sensitive column `people.ssn`"),
    Attack("sensitive_to_json_star_in_exists", "postgres", "SELECT name FROM people p WHERE EXISTS (SELECT 1 FROM people q WHERE q.id = p.id AND to_json(q.*)::text LIKE '%123%')", "sensitive column `people.ssn`"),
    Attack("sensitive_row_compare", "postgres", "SELECT name FROM people p WHERE ROW(p.*) = ROW(1, 'Ada', '123-45-6789')", "sensitive column `people.ssn`"),
    Attack("sensitive_row_compare_in_exists", "postgres", "SELECT 1 FROM orders o WHERE EXISTS (SELECT 1 FROM people q WHERE ROW(q.*) = ROW(1, 'Ada', '123-45-6789'))", "sensitive column `people.ssn`"),
    Attack("sensitive_whole_row_in_exists", "postgres", "SELECT name FROM people p WHERE EXISTS (SELECT 1 FROM people q WHERE q.id = p.id AND to_json(q)::text LIKE '%123%')", "whole rows"),
    Attack("sensitive_star_in_in_subquery", "postgres", "SELECT name FROM people WHERE (1, 'Ada', '123-45-6789') IN (SELECT * FROM people)", "sensitive column"),
    Attack("sensitive_natural_join", "postgres", "SELECT a.name FROM people a NATURAL JOIN (SELECT 1 AS id, 'Ada' AS name, '123-45-6789' AS ssn) g", "NATURAL JOIN"),
    Attack("sensitive_natural_join_sqlite", "sqlite", "SELECT a.name FROM people a NATURAL JOIN (SELECT 1 AS id, '123-45-6789' AS ssn) g", "NATURAL JOIN"),
    Attack("sensitive_using_join", "postgres", "SELECT a.name FROM people a JOIN (SELECT '123-45-6789' AS ssn) g USING (ssn)", "USING"),
    Attack("sensitive_using_join_sqlite", "sqlite", "SELECT a.name FROM people a JOIN (SELECT '123-45-6789' AS ssn) g USING (ssn)", "USING"),
    # column alias lists rename a table's columns by position (the probe's eight, and the rest of the class)
    Attack("alias_list_rename", "postgres", "SELECT a AS id, c AS leaked FROM people AS q(a, b, c)", "renames columns by position"),
    Attack("alias_list_in_join", "postgres", "SELECT o.id, q.c FROM orders o JOIN people AS q(a, b, c) ON q.a = o.customer_id", "renames columns by position"),
    Attack("alias_list_in_subquery", "postgres", "SELECT x.c FROM (SELECT q.c FROM people AS q(a, b, c)) AS x", "renames columns by position"),
    Attack("alias_list_in_string_agg", "postgres", "SELECT string_agg(c, ',') FROM people AS q(a, b, c)", "renames columns by position"),
    Attack("alias_list_exists_oracle", "postgres", "SELECT 1 FROM orders WHERE EXISTS (SELECT 1 FROM people AS q(a, b, c) WHERE c LIKE '1%')", "renames columns by position"),
    Attack("alias_list_in_where", "postgres", "SELECT a FROM people AS q(a, b, c) WHERE c LIKE '123%'", "renames columns by position"),
    Attack("alias_list_in_order_by", "postgres", "SELECT a FROM people AS q(a, b, c) ORDER BY c", "renames columns by position"),
    Attack("alias_list_in_scalar_subquery", "postgres", "SELECT (SELECT max(c) FROM people AS q(a, b, c)) FROM orders", "renames columns by position"),
    Attack("alias_list_lateral", "postgres", "SELECT l.c FROM orders o, LATERAL (SELECT q.c FROM people AS q(a, b, c) WHERE q.a = o.customer_id) AS l", "renames columns by position"),
    Attack("alias_list_in_union", "postgres", "SELECT name FROM customers UNION SELECT c FROM people AS q(a, b, c)", "renames columns by position"),
    Attack("alias_list_over_table_statement", "postgres", "SELECT c FROM (TABLE people) AS t(a, b, c)", "renames columns by position"),
    Attack("alias_list_over_derived_table", "postgres", "SELECT c FROM (SELECT id, name, ssn FROM people) AS t(a, b, c)", "sensitive"),
    Attack("cte_column_list", "postgres", "WITH x(a, b, c) AS (SELECT id, name, ssn FROM people) SELECT c FROM x", "sensitive"),
    Attack("cte_column_list_sqlite", "sqlite", "WITH x(a, b, c) AS (SELECT id, name, ssn FROM people) SELECT c FROM x", "sensitive"),
    Attack("derived_column_list_mysql", "mysql", "SELECT c FROM (SELECT id, name, ssn FROM people) AS t(a, b, c)", "sensitive"),
    # catalog types answer whether a table the connection excludes exists
    Attack("regclass_probe", "postgres", "SELECT 'hidden_tbl'::regclass::oid", "catalog types"),
    Attack("regclass_cast_probe", "postgres", "SELECT CAST('hidden_tbl' AS regclass) FROM orders", "catalog types"),
    Attack("regtype_probe", "postgres", "SELECT 'secret_type'::text::regtype", "catalog types"),
    Attack("regproc_probe", "postgres", "SELECT 'pg_read_file'::regproc", "catalog types"),
    Attack("regnamespace_probe", "postgres", "SELECT 'hidden_schema'::regnamespace::oid", "catalog types"),
    # invisible and look-alike characters
    Attack("zero_width_space_split_keyword", "postgres", f"SELECT 1; DR{ZW}OP TABLE orders", "invisible"),
    Attack("zero_width_joiner_in_name", "mysql", "SELECT id FROM ord\u200ders", "invisible"),
    Attack("bidi_override", "postgres", "SELECT id FROM orders -- \u202e; DROP TABLE orders", "invisible"),
    Attack("fullwidth_drop", "postgres", "\uff24\uff32\uff2f\uff30 TABLE orders", "could not be parsed"),
    Attack("cyrillic_o_in_table", "postgres", "SELECT id FROM \u043erders", "mixes alphabets"),
    Attack("greek_question_mark_as_semicolon", "postgres", "SELECT 1\u037e DROP TABLE orders", "could not be parsed"),
    Attack("nbsp_separator", "mysql", "SELECT\u00a0id FROM orders", "invisible"),
)


# Analytical queries over the shop schema in tests/sqlguard/conftest.py. A str runs in every
# dialect; a dict gives one spelling per dialect (date functions differ).
VALID: tuple[tuple[str, str | dict[str, str]], ...] = (
    ("simple_projection", "SELECT id, name, city FROM customers"),
    ("filter_and_order", "SELECT id, total FROM orders WHERE total > 50 ORDER BY total DESC"),
    ("inner_join", "SELECT c.name, o.total FROM customers c JOIN orders o ON o.customer_id = c.id"),
    ("left_join_with_null_check", "SELECT c.name FROM customers c LEFT JOIN orders o ON o.customer_id = c.id WHERE o.id IS NULL"),
    ("three_table_join", "SELECT p.category, SUM(oi.quantity * oi.price) AS revenue FROM order_items oi JOIN products p ON p.id = oi.product_id JOIN orders o ON o.id = oi.order_id GROUP BY p.category"),
    ("group_by_having", "SELECT customer_id, COUNT(*) AS n FROM orders GROUP BY customer_id HAVING COUNT(*) > 1"),
    ("aggregates", "SELECT MIN(total), MAX(total), AVG(total), SUM(total), COUNT(DISTINCT customer_id) FROM orders"),
    ("cte", "WITH big AS (SELECT * FROM orders WHERE total > 100) SELECT customer_id, COUNT(*) FROM big GROUP BY customer_id"),
    ("two_ctes", "WITH spend AS (SELECT customer_id, SUM(total) AS s FROM orders GROUP BY customer_id), top AS (SELECT customer_id FROM spend WHERE s > 100) SELECT c.name FROM customers c JOIN top t ON t.customer_id = c.id"),
    ("cte_named_like_a_word", "WITH orders_2024 AS (SELECT id FROM orders) SELECT COUNT(*) FROM orders_2024"),
    ("recursive_cte", "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 5) SELECT x FROM n"),
    ("window_row_number", "SELECT id, customer_id, ROW_NUMBER() OVER (PARTITION BY customer_id ORDER BY total DESC) AS rn FROM orders"),
    ("window_running_total", "SELECT id, SUM(total) OVER (ORDER BY id ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS running FROM orders"),
    ("window_rank", "SELECT name, RANK() OVER (ORDER BY price DESC) AS r FROM products"),
    ("window_lag", "SELECT id, total - LAG(total) OVER (ORDER BY id) AS delta FROM orders"),
    ("scalar_subquery", "SELECT name, (SELECT COUNT(*) FROM orders o WHERE o.customer_id = c.id) AS n FROM customers c"),
    ("in_subquery", "SELECT name FROM customers WHERE id IN (SELECT customer_id FROM orders WHERE total > 100)"),
    ("exists_subquery", "SELECT name FROM customers c WHERE EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id)"),
    ("exists_star_subquery", "SELECT name FROM customers c WHERE EXISTS (SELECT * FROM orders o WHERE o.customer_id = c.id)"),
    ("derived_table", "SELECT t.customer_id, t.s FROM (SELECT customer_id, SUM(total) AS s FROM orders GROUP BY customer_id) t WHERE t.s > 10"),
    ("case_expression", "SELECT id, CASE WHEN total >= 100 THEN 'large' WHEN total >= 50 THEN 'medium' ELSE 'small' END AS size FROM orders"),
    ("coalesce_and_nullif", "SELECT COALESCE(city, 'unknown'), NULLIF(name, '') FROM customers"),
    ("union", "SELECT name FROM customers UNION SELECT name FROM products"),
    ("union_all_with_order", "SELECT id, 'order' AS kind FROM orders UNION ALL SELECT id, 'customer' FROM customers ORDER BY id"),
    ("like_with_percent", "SELECT name FROM customers WHERE name LIKE '%a%'"),
    ("semicolon_inside_string", "SELECT name FROM customers WHERE name <> 'a;b; DROP TABLE orders'"),
    ("comment_mentioning_drop", "SELECT id FROM orders -- DROP TABLE orders is not run\nWHERE total > 0"),
    ("keyword_concatenated_in_string", "SELECT 'DR' || 'OP TABLE orders' AS s FROM orders"),
    ("distinct", "SELECT DISTINCT status FROM orders"),
    ("between_and_in", "SELECT id FROM orders WHERE total BETWEEN 10 AND 500 AND status IN ('paid', 'shipped')"),
    ("limit_smaller_than_cap", "SELECT id FROM orders ORDER BY id LIMIT 3"),
    ("limit_with_offset", "SELECT id FROM orders ORDER BY id LIMIT 2 OFFSET 1"),
    ("sensitive_table_without_sensitive_column", "SELECT id, name FROM people"),
    ("count_star_on_sensitive_table", "SELECT COUNT(*) FROM people"),
    ("values_with_column_list", {"postgres": "SELECT v.a, v.b FROM (VALUES (1, 'x'), (2, 'y')) AS v(a, b)",
                                 "mysql": "WITH v(a, b) AS (SELECT 1, 'x' UNION ALL SELECT 2, 'y') SELECT a, b FROM v",
                                 "sqlite": "WITH v(a, b) AS (VALUES (1, 'x'), (2, 'y')) SELECT a, b FROM v"}),
    ("column_list_on_table_without_sensitive_columns", {"postgres": "SELECT o.a FROM orders AS o(a, b)",
                                                         "mysql": "SELECT o.id FROM orders AS o", "sqlite": "SELECT o.id FROM orders AS o"}),
    ("cte_column_list_without_sensitive_columns", "WITH x(a, b) AS (SELECT id, name FROM customers) SELECT a, b FROM x"),
    ("arithmetic_and_rounding", "SELECT id, ROUND(total * 1.2, 2) AS gross FROM orders"),
    ("string_functions", "SELECT UPPER(name), LOWER(city), LENGTH(name) FROM customers"),
    ("cast", "SELECT CAST(total AS INTEGER) FROM orders"),
    ("function_named_like_a_column", "SELECT ABS(total - 100) FROM orders"),
    (
        "month_bucket",
        {
            "postgres": "SELECT date_trunc('month', ordered_at) AS m, SUM(total) FROM orders GROUP BY 1 ORDER BY 1",
            "mysql": "SELECT DATE_FORMAT(ordered_at, '%Y-%m') AS m, SUM(total) FROM orders GROUP BY 1 ORDER BY 1",
            "sqlite": "SELECT strftime('%Y-%m', ordered_at) AS m, SUM(total) FROM orders GROUP BY 1 ORDER BY 1",
        },
    ),
    (
        "last_30_days",
        {
            "postgres": "SELECT COUNT(*) FROM orders WHERE ordered_at >= CURRENT_DATE - INTERVAL '30 days'",
            "mysql": "SELECT COUNT(*) FROM orders WHERE ordered_at >= DATE_SUB(CURDATE(), INTERVAL 30 DAY)",
            "sqlite": "SELECT COUNT(*) FROM orders WHERE ordered_at >= date('now', '-30 days')",
        },
    ),
    (
        "year_extract",
        {
            "postgres": "SELECT EXTRACT(YEAR FROM ordered_at) AS y, COUNT(*) FROM orders GROUP BY 1",
            "mysql": "SELECT YEAR(ordered_at) AS y, COUNT(*) FROM orders GROUP BY 1",
            "sqlite": "SELECT CAST(strftime('%Y', ordered_at) AS INTEGER) AS y, COUNT(*) FROM orders GROUP BY 1",
        },
    ),
    (
        "days_between",
        {
            "postgres": "SELECT id, CURRENT_DATE - CAST(ordered_at AS DATE) AS age FROM orders",
            "mysql": "SELECT id, DATEDIFF(CURDATE(), ordered_at) AS age FROM orders",
            "sqlite": "SELECT id, julianday('now') - julianday(ordered_at) AS age FROM orders",
        },
    ),
    (
        "table_function",
        {
            "postgres": "SELECT g.x FROM generate_series(1, 3) AS g(x)",
            "mysql": "SELECT id FROM orders WHERE id < 4",
            "sqlite": "SELECT j.value FROM json_each('[1, 2, 3]') AS j",
        },
    ),
)


def valid_cases(dialects=DIALECTS):
    """(name, dialect, sql) for every valid query in every dialect."""
    for name, sql in VALID:
        for dialect in dialects:
            yield name, dialect, sql if isinstance(sql, str) else sql[dialect]
