"""Plan to SQL: the statement is built as a sqlglot tree (never pasted text) and rendered in the connection's dialect.

Joins are found over the semantic model's join graph (shortest paths through bridge tables); the SQL still goes
through the guard like any other candidate.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import sqlglot
from sqlglot import exp

from nl2sql.semantics.model import JoinEdge, SemanticModel
from nl2sql.semantics.plan import (
    Agg,
    AllOf,
    AnyOf,
    Arith,
    Between,
    Bucket,
    Col,
    Compare,
    Condition,
    Elapsed,
    Expr,
    InList,
    IsNull,
    Lit,
    Match,
    Not,
    Part,
    Overall,
    QueryPlan,
    Related,
    Today,
)

__all__ = ["CompileError", "compile_plan"]

_PLAIN = re.compile(r"[a-z_][a-z0-9_]*")
# words that must be quoted as names in at least one supported dialect
_RESERVED = frozenset(
    "all and any array as asc between both case cast check collate column constraint create cross current_date "
    "current_time current_timestamp current_user default desc distinct do else end except false fetch for foreign "
    "from full grant group having in inner intersect interval into is join key lateral leading left like limit "
    "localtime natural not null offset on only or order outer over partition primary range rank references right "
    "row rows select session_user some table then to trailing true union unique user using values when where "
    "window with".split()
)
_NULLS_LAST_DIALECTS = ("postgres", "duckdb", "oracle", "snowflake", "redshift")


class CompileError(ValueError):
    """The plan can't be compiled for this model (an unknown column, tables with no join path)."""


def _ident(name: str) -> exp.Identifier:
    return exp.to_identifier(name, quoted=not _PLAIN.fullmatch(name) or name in _RESERVED)


@dataclass
class _Scope:
    """Tables of one SELECT (the outer query or a Related subquery) and their aliases."""

    aliases: dict[str, str] = field(default_factory=dict)
    prefix: str = ""

    def alias(self, table: str) -> str:
        return self.aliases[table]


class _Compiler:
    def __init__(self, plan: QueryPlan, model: SemanticModel, dialect: str) -> None:
        self.plan = plan
        self.model = model
        self.dialect = dialect

    # -- tables and joins ---------------------------------------------------------------------------------

    def _table(self, table: str, alias: str) -> exp.Table:
        entity = self.model.entity(table)
        node = exp.Table(this=_ident(entity.name), db=_ident(entity.schema) if entity.schema else None)
        if alias != entity.name or entity.schema:
            node.set("alias", exp.TableAlias(this=_ident(alias)))
        return node

    def _plan_joins(self, base: str, needed: list[str], taken: set[str]) -> tuple[list[str], list[JoinEdge]]:
        """Tables in join order and the edges that connect each to the tree built so far.

        Tables are connected in the order given (the question's), each by the shortest path from the tree;
        among equally short paths, one from the most recently added table wins.
        """
        order = [base]
        edges: list[JoinEdge] = []
        in_tree = {base}
        for target in dict.fromkeys(needed):
            if target in in_tree:
                continue
            best: list[JoinEdge] | None = None
            for start in reversed(order):
                path = self.model.path(start, target)
                if path is not None and (best is None or len(path) < len(best)):
                    best = path
            if best is None:
                raise CompileError(f"no join path from {base} to {target}")
            for edge in best:
                if edge.right not in in_tree:
                    in_tree.add(edge.right)
                    order.append(edge.right)
                    edges.append(edge)
        return order, edges

    def _aliases(self, tables: list[str], prefix: str, taken: set[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        for table in tables:
            name = self.model.entity(table).name
            alias = prefix + name
            n = 2
            while alias in taken or alias in out.values():
                alias = f"{prefix}{name}{n}"
                n += 1
            out[table] = alias
        return out

    def _from_and_joins(self, select: exp.Select, scope: _Scope, order: list[str], edges: list[JoinEdge]) -> exp.Select:
        select = select.from_(self._table(order[0], scope.alias(order[0])))
        for edge in edges:
            on = self._pairs(edge, scope)
            select = select.join(self._table(edge.right, scope.alias(edge.right)), on=on, join_type="inner")
        return select

    def _pairs(self, edge: JoinEdge, scope: _Scope, outer: _Scope | None = None) -> exp.Expression:
        left_scope = outer or scope
        conditions = [
            exp.EQ(this=exp.column(_ident(a), table=_ident(left_scope.alias(edge.left))),
                   expression=exp.column(_ident(b), table=_ident(scope.alias(edge.right))))
            for a, b in edge.pairs
        ]
        return exp.and_(*conditions) if len(conditions) > 1 else conditions[0]

    # -- the statement ------------------------------------------------------------------------------------

    def compile(self) -> str:
        plan = self.plan
        if plan.base not in self.model.entities:
            raise CompileError(f"unknown table {plan.base}")
        needed = [plan.base] + [t for t in plan.via if t in self.model.entities] + [c.table for c in _outer_columns(plan)]
        for col in _outer_columns(plan):
            self._check(col)
        order, edges = self._plan_joins(plan.base, needed, set())
        scope = _Scope(self._aliases(order, "", set()))
        self.scope = scope
        self.joined = len(order) > 1
        outputs = [exp.alias_(self.expr(o.expr, scope), _ident(_output_name(o.name))) for o in plan.select]
        select = exp.select(*outputs)
        if plan.distinct:
            select = select.distinct()
        select = self._from_and_joins(select, scope, order, edges)
        if plan.where is not None:
            select = select.where(self.condition(plan.where, scope))
        if plan.group_by:
            select = select.group_by(*(self._grouped(g, scope) for g in plan.group_by))
        if plan.having is not None:
            select = select.having(self.condition(plan.having, scope))
        if plan.order_by:
            orders = [self._ordered(o.expr, o.desc, scope) for o in plan.order_by]
            if plan.limit is not None:
                # ties broken the same way every time: by what the rows are grouped by, else the base's key
                keys = list(plan.group_by) or [Col(plan.base, k) for k in self.model.entity(plan.base).key
                                               if not plan.aggregated]
                ordered = {o.expr for o in plan.order_by}
                for key in keys:
                    if key not in ordered and (not plan.distinct or any(o.expr == key for o in plan.select)):
                        orders.append(self._ordered(key, False, scope, tiebreak=True))
            select = select.order_by(*orders)
        if plan.limit is not None:
            select = select.limit(int(plan.limit))
        return select.sql(dialect=self.dialect)

    def _check(self, col: Col) -> None:
        try:
            self.model.attribute(col.table, col.column)
        except KeyError:
            raise CompileError(f"unknown column {col.table}.{col.column}") from None

    def _grouped(self, expr: Expr, scope: _Scope) -> exp.Expression:
        for output in self.plan.select:
            if output.expr == expr and not isinstance(expr, Col):
                return exp.column(_ident(_output_name(output.name)))
        return self.expr(expr, scope)

    def _ordered(self, expr: Expr, desc: bool, scope: _Scope, tiebreak: bool = False) -> exp.Ordered:
        target: exp.Expression | None = None
        for output in self.plan.select:
            if output.expr == expr and not (tiebreak and isinstance(expr, Col)):
                target = exp.column(_ident(_output_name(output.name)))
                break
        if target is None or self._as_text(expr):
            target = self._number(expr, scope)
        ordered = exp.Ordered(this=target, desc=desc)
        if self.dialect in _NULLS_LAST_DIALECTS:
            ordered.set("nulls_first", False)
        return ordered

    # -- expressions ----------------------------------------------------------------------------------------

    def _as_text(self, node: object) -> bool:
        """A number column stored as text ('344'): compared, ordered and summed cast to a number."""
        return isinstance(node, Col) and node.table in self.model.entities \
            and self.model.attribute(node.table, node.column).stored_as_text

    def _number(self, node: Expr, scope: _Scope) -> exp.Expression:
        value = self.expr(node, scope)
        return exp.Cast(this=value, to=exp.DataType.build("DOUBLE")) if self._as_text(node) else value

    def expr(self, node: Expr, scope: _Scope) -> exp.Expression:
        if isinstance(node, Col):
            return exp.column(_ident(node.column), table=_ident(scope.alias(node.table)))
        if isinstance(node, Lit):
            return _literal(node.value)
        if isinstance(node, Today):
            return exp.CurrentDate()
        if isinstance(node, Agg):
            return self._aggregate(node, scope)
        if isinstance(node, Arith):
            left, right = self._number(node.left, scope), self._number(node.right, scope)
            if node.op == "/":
                # 1.0 * x: a real division in every dialect (integer division would truncate); NULLIF: no error on 0
                numerator = exp.Mul(this=exp.Literal.number("1.0"), expression=exp.Paren(this=left))
                return exp.Div(this=numerator, expression=exp.Nullif(this=right, expression=exp.Literal.number(0)))
            cls = {"+": exp.Add, "-": exp.Sub, "*": exp.Mul}[node.op]
            return exp.Paren(this=cls(this=left, expression=right))
        if isinstance(node, Bucket):
            return self._bucket(node.grain, self.expr(node.arg, scope))
        if isinstance(node, Part):
            return self._part(node.part, self.expr(node.arg, scope))
        if isinstance(node, Elapsed):
            return self._elapsed(node.unit, self.expr(node.start, scope), self.expr(node.end, scope))
        if isinstance(node, Overall):
            return self._overall(node, scope)
        raise CompileError(f"unsupported expression {type(node).__name__}")

    def _overall(self, node: Overall, outer: _Scope) -> exp.Expression:
        """(SELECT AGG(column) FROM its table): one value over all the table's rows."""
        if node.agg.where is not None or not (isinstance(node.agg.arg, Col) or node.agg.arg is None and node.table):
            raise CompileError("an overall aggregate needs one column (or a table's rows) and no condition")
        if isinstance(node.agg.arg, Col):
            table = node.agg.arg.table
            self._check(node.agg.arg)
        else:
            table = node.table  # type: ignore[assignment]
            if table not in self.model.entities:
                raise CompileError(f"unknown table {table}")
        scope = _Scope(self._aliases([table], "all_", set(outer.aliases.values())))
        value = self._aggregate(node.agg, scope) if node.agg.arg is not None else exp.Count(this=exp.Star())
        inner = exp.select(value).from_(self._table(table, scope.alias(table)))
        return exp.Subquery(this=inner)

    def _aggregate(self, node: Agg, scope: _Scope) -> exp.Expression:
        if node.arg is None:
            base = self.model.entity(self.plan.base)
            if self.joined and len(base.key) == 1 and node.func == "count":
                # a join can repeat the base's rows: count the base's keys instead of rows (a key of several
                # columns has no portable distinct count, and its first column alone counts too few)
                arg: exp.Expression = self.expr(Col(base.table, base.key[0]), scope)
                func = "count_distinct"
            else:
                arg = exp.Star() if node.where is None else exp.Literal.number(1)
                func = node.func
        else:
            func = node.func
            arg = self.expr(node.arg, scope) if func in ("count", "count_distinct") else self._number(node.arg, scope)
        if node.where is not None:
            arg = exp.Case(ifs=[exp.If(this=self.condition(node.where, scope), true=arg)])
        if func == "count":
            return exp.Count(this=arg)
        if func == "count_distinct":
            return exp.Count(this=exp.Distinct(expressions=[arg]))
        cls = {"sum": exp.Sum, "avg": exp.Avg, "min": exp.Min, "max": exp.Max}[func]
        return cls(this=arg)

    def _bucket(self, grain: str, arg: exp.Expression) -> exp.Expression:
        d = self.dialect
        if grain == "year":
            return self._part("year", arg)
        if d in ("postgres", "duckdb", "snowflake", "redshift"):
            return exp.Anonymous(this="DATE_TRUNC", expressions=[exp.Literal.string(grain), arg])
        if d == "mysql":
            formats = {"day": "%Y-%m-%d", "month": "%Y-%m-01"}
            if grain in formats:
                return exp.Anonymous(this="DATE_FORMAT", expressions=[arg, exp.Literal.string(formats[grain])])
            if grain == "week":  # the Monday of the week
                return sqlglot.parse_one("DATE_SUB(DATE(x), INTERVAL WEEKDAY(x) DAY)", read="mysql").transform(
                    lambda n: arg.copy() if isinstance(n, exp.Column) and n.name == "x" else n)
            return sqlglot.parse_one("MAKEDATE(YEAR(x), 1) + INTERVAL (QUARTER(x) - 1) QUARTER", read="mysql").transform(
                lambda n: arg.copy() if isinstance(n, exp.Column) and n.name == "x" else n)
        if d == "sqlite":
            if grain == "day":
                return exp.Anonymous(this="DATE", expressions=[arg])
            if grain == "month":
                return exp.Anonymous(this="STRFTIME", expressions=[exp.Literal.string("%Y-%m-01"), arg])
            if grain == "week":
                return exp.Anonymous(this="DATE", expressions=[arg, exp.Literal.string("weekday 0"),
                                                                 exp.Literal.string("-6 days")])
            return sqlglot.parse_one(
                "STRFTIME('%Y', x) || '-' || PRINTF('%02d', ((CAST(STRFTIME('%m', x) AS INTEGER) - 1) / 3) * 3 + 1) || '-01'",
                read="sqlite").transform(lambda n: arg.copy() if isinstance(n, exp.Column) and n.name == "x" else n)
        return exp.DateTrunc(this=arg, unit=exp.Literal.string(grain.upper()))

    def _part(self, part: str, arg: exp.Expression) -> exp.Expression:
        if self.dialect == "sqlite":
            codes = {"year": "%Y", "month": "%m", "day": "%d", "dow": "%w", "hour": "%H"}
            if part == "quarter":
                month = exp.Cast(this=exp.Anonymous(this="STRFTIME", expressions=[exp.Literal.string("%m"), arg]),
                                 to=exp.DataType.build("INT"))
                return sqlglot.parse_one("(m + 2) / 3", read="sqlite").transform(
                    lambda n: month.copy() if isinstance(n, exp.Column) and n.name == "m" else n)
            return exp.Cast(this=exp.Anonymous(this="STRFTIME", expressions=[exp.Literal.string(codes[part]), arg]),
                            to=exp.DataType.build("INT"))
        if self.dialect == "mysql":
            if part == "dow":  # 0 = Sunday, as PostgreSQL and SQLite count
                return exp.Sub(this=exp.Anonymous(this="DAYOFWEEK", expressions=[arg]), expression=exp.Literal.number(1))
            name = {"year": "YEAR", "month": "MONTH", "quarter": "QUARTER", "day": "DAY", "hour": "HOUR"}[part]
            return exp.Anonymous(this=name, expressions=[arg])
        unit = {"dow": "DOW"}.get(part, part.upper())
        return exp.Extract(this=exp.var(unit), expression=arg)

    def _elapsed(self, unit: str, start: exp.Expression, end: exp.Expression) -> exp.Expression:
        d = self.dialect
        per_day = {"day": 1, "hour": 24, "minute": 1440, "second": 86400}[unit]
        if d == "mysql":
            if unit == "day":
                return exp.Anonymous(this="DATEDIFF", expressions=[end, start])
            return exp.Anonymous(this="TIMESTAMPDIFF", expressions=[exp.var(unit.upper()), start, end])
        if d == "sqlite":
            days = exp.Sub(this=exp.Anonymous(this="JULIANDAY", expressions=[end]),
                           expression=exp.Anonymous(this="JULIANDAY", expressions=[start]))
            return exp.Mul(this=exp.Paren(this=days), expression=exp.Literal.number(per_day)) if per_day != 1 else days
        if unit == "day":
            return exp.Sub(this=exp.Cast(this=end, to=exp.DataType.build("DATE")),
                           expression=exp.Cast(this=start, to=exp.DataType.build("DATE")))
        seconds = exp.Extract(this=exp.var("EPOCH"), expression=exp.Paren(this=exp.Sub(
            this=exp.Cast(this=end, to=exp.DataType.build("TIMESTAMP")),
            expression=exp.Cast(this=start, to=exp.DataType.build("TIMESTAMP")))))
        return exp.Div(this=seconds, expression=exp.Literal.number(86400 // per_day))

    # -- conditions -----------------------------------------------------------------------------------------

    def condition(self, node: Condition, scope: _Scope) -> exp.Expression:
        if isinstance(node, Compare):
            cls = {"=": exp.EQ, "<>": exp.NEQ, "<": exp.LT, "<=": exp.LTE, ">": exp.GT, ">=": exp.GTE}[node.op]
            # a number column stored as text is compared as a number, unless with a text ('2001' as sampled)
            texts = any(isinstance(side, Lit) and isinstance(side.value, str) for side in (node.left, node.right))
            side = self.expr if texts else self._number
            return cls(this=side(node.left, scope), expression=side(node.right, scope))
        if isinstance(node, Between):
            return exp.Between(this=self._number(node.arg, scope), low=self.expr(node.low, scope),
                               high=self.expr(node.high, scope))
        if isinstance(node, InList):
            inner = exp.In(this=self.expr(node.arg, scope), expressions=[_literal(v.value) for v in node.values])
            return exp.Not(this=inner) if node.negate else inner
        if isinstance(node, Match):
            return self._match(node, scope)
        if isinstance(node, IsNull):
            test = exp.Is(this=self.expr(node.arg, scope), expression=exp.Null())
            return exp.Not(this=test) if node.negate else test
        if isinstance(node, AllOf):
            return exp.and_(*(exp.Paren(this=self.condition(i, scope)) for i in node.items))
        if isinstance(node, AnyOf):
            return exp.Paren(this=exp.or_(*(self.condition(i, scope) for i in node.items)))
        if isinstance(node, Not):
            return exp.Not(this=exp.Paren(this=self.condition(node.item, scope)))
        if isinstance(node, Related):
            return self._related(node, scope)
        raise CompileError(f"unsupported condition {type(node).__name__}")

    def _match(self, node: Match, scope: _Scope) -> exp.Expression:
        arg = self.expr(node.arg, scope)
        text = node.text
        if node.mode == "equals":
            test: exp.Expression = exp.EQ(this=exp.Lower(this=arg), expression=exp.Literal.string(text.lower()))
        else:
            escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            pattern = {"contains": f"%{escaped}%", "starts": f"{escaped}%", "ends": f"%{escaped}"}[node.mode]
            if self.dialect in ("postgres", "duckdb", "snowflake"):
                test = exp.ILike(this=arg, expression=exp.Literal.string(pattern))
            else:
                test = exp.Like(this=exp.Lower(this=arg), expression=exp.Literal.string(pattern.lower()))
            if escaped != text:
                test = exp.Escape(this=test, expression=exp.Literal.string("\\"))
        return exp.Not(this=test) if node.negate else test

    def _related(self, node: Related, outer: _Scope) -> exp.Expression:
        base = self.plan.base
        if node.table not in self.model.entities:
            raise CompileError(f"unknown table {node.table}")
        inner_cols = _columns(node.where) if node.where is not None else []
        for col in inner_cols:
            self._check(col)
        path = self.model.path(base, node.table)
        if not path:
            raise CompileError(f"no join path from {base} to {node.table}")
        first = path[0]
        order, edges = self._plan_joins(first.right, [e.right for e in path[1:]] + [c.table for c in inner_cols
                                                                                   if c.table != base], set())
        scope = _Scope(self._aliases(order, "r_", set(outer.aliases.values())))
        sub = exp.select(exp.Literal.number(1))
        sub = self._from_and_joins(sub, scope, order, edges)
        correlation = exp.and_(*(
            exp.EQ(this=exp.column(_ident(b), table=_ident(scope.alias(first.right))),
                   expression=exp.column(_ident(a), table=_ident(outer.alias(base))))
            for a, b in first.pairs))
        merged = _Scope({**scope.aliases, **{t: a for t, a in outer.aliases.items() if t not in scope.aliases}})
        where = correlation if node.where is None else exp.and_(correlation, self.condition(node.where, merged))
        sub = sub.where(where)
        test = exp.Exists(this=sub)
        return exp.Not(this=test) if node.negate else test


def _literal(value: object) -> exp.Expression:
    if value is None:
        return exp.Null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, int | float):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return exp.Literal.number(value)
    return exp.Literal.string(str(value))


def _output_name(name: str) -> str:
    cleaned = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") or "value"
    return cleaned if not cleaned[0].isdigit() else f"n_{cleaned}"


def _columns(node: object) -> list[Col]:
    from nl2sql.semantics.plan import columns_of

    return columns_of(node)


def _outer_columns(plan: QueryPlan) -> list[Col]:
    """Columns of the outer query: a Related condition's own columns belong to its subquery."""
    found: list[Col] = []

    def walk(value: object) -> None:
        if isinstance(value, Related | Overall):
            return
        if isinstance(value, Col):
            found.append(value)
            return
        if isinstance(value, tuple | list):
            for item in value:
                walk(item)
            return
        fields = getattr(value, "__dataclass_fields__", None)
        if fields:
            for name in fields:
                if name != "meta":
                    walk(getattr(value, name))

    walk((plan.select, plan.where, plan.group_by, plan.having, plan.order_by))
    return found


def compile_plan(plan: QueryPlan, model: SemanticModel, dialect: str | None = None) -> str:
    """The plan as one SQL statement for `dialect` (default: the model's); CompileError when it can't be built."""
    try:
        return _Compiler(plan, model, dialect or model.dialect).compile()
    except KeyError as error:
        raise CompileError(f"unknown table or column {error}") from None
