"""The functions a query may call: an allow list per dialect (aggregates, window functions, math, strings,
dates and times, casts, conditionals, JSON and arrays read as values); everything else is refused.

The list is written as SQL names, the way people and models write them. sqlglot parses many names into typed
nodes (UPPER -> exp.Upper, DATE_TRUNC -> exp.DateTrunc or exp.TimestampTrunc, ...) and the rest into
exp.Anonymous; which node a name becomes depends on the dialect and sqlglot's version, so the allowed node
classes are derived from the names by parsing each one in the dialect (once per dialect, cached).
"""

from __future__ import annotations

import functools
import re

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel

__all__ = ["SAFE_FUNCTIONS", "function_allowed", "function_name"]

_AGGREGATES = """
count sum avg min max stddev stddev_pop stddev_samp std variance var_pop var_samp median mode percentile_cont
percentile_disc string_agg array_agg group_concat listagg bool_and bool_or every bit_and bit_or bit_xor corr
covar_pop covar_samp regr_slope regr_intercept regr_r2 regr_count approx_count_distinct approx_distinct any_value
count_if countif json_agg jsonb_agg json_object_agg jsonb_object_agg json_arrayagg json_objectagg total arg_max
arg_min argmax argmin max_by min_by quantile_cont quantile_disc geomean logical_and logical_or
"""
_WINDOW = "row_number rank dense_rank percent_rank cume_dist ntile lag lead first_value last_value nth_value"
_MATH = """
abs ceil ceiling floor round trunc truncate sign sqrt cbrt power pow exp ln log log10 log2 mod div pi degrees
radians sin cos tan asin acos atan atan2 cot sinh cosh tanh greatest least width_bucket random rand factorial gcd
lcm safe_divide
"""
_STRINGS = """
length len char_length character_length octet_length bit_length lower upper lcase ucase initcap trim ltrim rtrim
btrim substring substr mid left right lpad rpad replace translate concat concat_ws position strpos instr locate
split_part reverse repeat space regexp_replace regexp_matches regexp_match regexp_substr regexp_like regexp_instr
regexp_count regexp_extract starts_with startswith ends_with endswith format ascii chr char unicode hex unhex
to_hex soundex difference string_to_array array_to_string split printf quote md5 contains ilike like glob_match
levenshtein jaro_winkler_similarity
"""
_DATES = """
now current_date current_time current_timestamp localtime localtimestamp date_trunc datetrunc date_part datepart
extract age to_char to_date to_timestamp to_number make_date make_time make_timestamp make_interval date_add
date_sub datediff date_diff dateadd timestampdiff timestampadd timestamp_diff date_format str_to_date
from_unixtime unix_timestamp year month day dayofmonth dayofweek dayofyear weekday week weekofyear quarter hour
minute second microsecond last_day monthname dayname curdate curtime sysdate utc_date utc_time utc_timestamp
strftime strptime julianday unixepoch date time datetime timestamp timediff period_diff period_add justify_days
justify_hours justify_interval isfinite date_bin timezone convert_tz makedate maketime yearweek to_days from_days
epoch epoch_ms time_bucket add_months months_between next_day time_to_str str_to_time ts_or_ds_to_date
date_from_parts datefromparts eomonth isodow isoyear yearofweek
"""
_CASTS_AND_CONDITIONALS = """
cast try_cast convert safe_cast coalesce nullif ifnull nvl nvl2 isnull iif if case decode typeof row struct tuple
"""
_JSON_AND_ARRAYS = """
to_json to_jsonb row_to_json json_build_object jsonb_build_object json_build_array jsonb_build_array
json_extract json_extract_scalar json_extract_path json_extract_path_text jsonb_extract_path
jsonb_extract_path_text json_unquote json_value json_query json_array_length jsonb_array_length json_typeof
jsonb_typeof json_object json_array json_valid json_type json_keys json_contains jsonb_path_query_first
json_each json_tree jsonb_each jsonb_each_text json_each_text json_array_elements json_array_elements_text
jsonb_array_elements jsonb_array_elements_text array_length cardinality array_position array_contains unnest
array_cat array_append array_prepend array_remove array_distinct array_sort array_size list_contains
generate_series range string_to_table regexp_split_to_table
"""
SAFE_FUNCTIONS: frozenset[str] = frozenset(
    " ".join((_AGGREGATES, _WINDOW, _MATH, _STRINGS, _DATES, _CASTS_AND_CONDITIONALS, _JSON_AND_ARRAYS)).split()
)
# keywords that parse into function nodes without parentheses
_BARE = ("current_date", "current_time", "current_timestamp", "localtime", "localtimestamp")
# structural nodes sqlglot models as functions: CAST(x AS t), x::t, CASE, EXISTS, ARRAY[...], literals' helpers
_STRUCTURAL: tuple[type[exp.Expression], ...] = (
    exp.Cast, exp.TryCast, exp.Case, exp.If, exp.Extract, exp.Coalesce, exp.Exists, exp.Nullif, exp.Array,
    exp.Collate, exp.Greatest, exp.Least, exp.Interval,
)


# aggregates that are not plain computations: AI_AGG calls a language model, the others wrap unknown functions
_UNPLAIN_AGGREGATES = ("AI", "Anonymous", "Combined", "Parameterized")


# sqlglot's own nodes for date and time conversions (what TO_DATE, STRFTIME, DATE(...) parse into in one
# dialect or another, e.g. TsOrDsToTimestamp, StrToTime, UnixToTime, DateStrToDate, TimestampTrunc)
_DATE_NODE = re.compile(r"^(TsOrDs|TsOrDi|DiTo|StrTo|TimeStr|DateStr|UnixTo|TimeTo|DateTo|TimestampTo|Date|Time|"
                        r"Timestamp|Datetime|Day|Week|Month|Quarter|Year|Hour|Minute|Second)[A-Za-z]*$|^(LastDay|NextDay)$")


@functools.cache
def _allowed(dialect: str) -> tuple[frozenset[str], frozenset[str]]:
    """(typed node class names, anonymous function names) the allow list means in `dialect`."""
    classes: set[str] = {cls.__name__ for cls in _STRUCTURAL}
    anonymous: set[str] = set()
    for name in SAFE_FUNCTIONS:
        for text in (f"SELECT {name}(x)", f"SELECT {name}(x, y)", f"SELECT {name}(x, y, z)") + (
                (f"SELECT {name}",) if name in _BARE else ()):
            try:
                tree = sqlglot.parse_one(text, read=dialect, error_level=ErrorLevel.IGNORE)
            except Exception:  # noqa: BLE001 — a name this dialect can't parse in this form
                continue
            select = tree if isinstance(tree, exp.Select) else None
            node = select.expressions[0] if select is not None and select.expressions else None
            if isinstance(node, exp.Alias):
                node = node.this
            if isinstance(node, exp.Anonymous):
                anonymous.add(str(node.name).lower())
            elif isinstance(node, exp.Func):
                classes.add(type(node).__name__)
        anonymous.add(name)
    return frozenset(classes), frozenset(anonymous)


def function_allowed(node: exp.Func, dialect: str, extra: frozenset[str] = frozenset()) -> bool:
    """Whether the function call `node` (parsed in `dialect`) is on the allow list, or among `extra` names."""
    if isinstance(node, exp.AggFunc) and not type(node).__name__.startswith(_UNPLAIN_AGGREGATES):
        return True  # aggregates compute over rows: every plain one sqlglot knows
    if isinstance(node, (exp.Binary, exp.Unary, exp.Connector, exp.Predicate)):
        return True  # operators sqlglot also models as functions (AND, OR, ->, @>, ~, POW, ...): values only
    classes, anonymous = _allowed(dialect)
    if isinstance(node, exp.Anonymous):
        name = str(node.name).lower()
        return name in anonymous or name.split(".")[-1] in anonymous or name in extra
    if type(node).__name__ in classes or _DATE_NODE.match(type(node).__name__):
        return True
    name = function_name(node)
    return name in SAFE_FUNCTIONS or name in extra


def function_name(node: exp.Func) -> str:
    """The name the call is written with, lower-cased (its class name where sqlglot has no SQL name)."""
    if isinstance(node, exp.Anonymous):
        return str(node.name).lower()
    try:
        return node.sql_name().lower()
    except Exception:  # noqa: BLE001 — nameless internal nodes
        return type(node).__name__.lower()
