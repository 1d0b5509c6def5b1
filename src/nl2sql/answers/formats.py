"""How a result's numbers are shown: each column's format (money, percent, decimals) read from its meaning."""

from __future__ import annotations

import decimal
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from nl2sql.answers.charts import ColumnSemantics
from nl2sql.semantics import output_name

__all__ = ["ColumnFormat", "catalog_currencies", "column_formats", "currency_named", "formatted_spec", "metric_formats"]

# Currencies a description or business name may name ("Amount paid in USD", "Preis in Euro"): code, pattern.
_CURRENCIES = (
    ("USD", r"\busd\b|\bus ?\$|\bu\.s\. dollars?\b|\b(us )?dollars?\b|\$"),
    ("EUR", r"\beur\b|\beuros?\b|€"),
    ("GBP", r"\bgbp\b|\bpounds? sterling\b|£"),
    ("JPY", r"\bjpy\b|\byen\b|¥"),
    ("CHF", r"\bchf\b|\bswiss francs?\b"),
    ("CAD", r"\bcad\b|\bcanadian dollars?\b"),
    ("AUD", r"\baud\b|\baustralian dollars?\b"),
    ("INR", r"\binr\b|\brupees?\b|₹"),
)
_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "INR": "₹"}
_MONEY_NAME = re.compile(
    r"(revenue|sales|amount|price|cost|spend|spent|profit|income|earning|balance|paid|payment|fee|salary|wage|"
    r"budget|aov|gmv|turnover)", re.I)
_NOT_MONEY = re.compile(r"(count|number|quantity|qty|units|orders$|items$|percent|pct|share|ratio|rate|score|rank)",
                        re.I)
_PERCENT_NAME = re.compile(r"(percent|percentage|pct|%)", re.I)
_FRACTION_NAME = re.compile(r"(share|ratio|proportion|fraction)", re.I)
_AVERAGE_NAME = re.compile(r"(^|_|\b)(avg|average|mean|median)", re.I)


def currency_named(text: str) -> str | None:
    """The currency code a description names ("Amount paid in USD" -> USD), or None."""
    lowered = (text or "").lower()
    for code, pattern in _CURRENCIES:
        # "US dollars" reads as USD before the Canadian/Australian patterns get a chance: test those first.
        if code == "USD" and re.search(r"\b(canadian|australian)\s+dollars?\b", lowered):
            continue
        if re.search(pattern, lowered):
            return code
    return None


def catalog_currencies(tables: Iterable[Any]) -> dict[str, str]:
    """Column name (lower case) -> currency, for catalog columns whose description or business name names one.

    `tables` are the catalog's tables (PromptTable or Table: anything with `columns` of name/description/
    business_name). A name used with two currencies is left out: the result could mean either."""
    found: dict[str, set[str]] = {}
    for table in tables:
        for column in table.columns:
            text = " ".join(filter(None, (getattr(column, "description", ""), getattr(column, "business_name", ""),
                                          getattr(column, "comment", ""))))
            code = currency_named(text)
            if code:
                found.setdefault(column.name.lower(), set()).add(code)
    return {name: codes.pop() for name, codes in found.items() if len(codes) == 1}


def metric_formats(schema: Any) -> dict[str, str]:
    """The admin's metrics' formats by their output column ("revenue" -> currency)."""
    return {output_name(m.name): m.format for m in getattr(schema, "metrics", ()) if m.kind == "metric"}


@dataclass(frozen=True)
class ColumnFormat:
    """How one result column's values are shown: kind plain (text, ids, years), integer, decimal, money
    (with `currency` when the catalog names one), percent (values already in 0-100) or fraction (0-1 shown as %)."""

    name: str
    kind: str = "plain"
    currency: str | None = None

    @property
    def unit(self) -> str | None:
        if self.kind == "money":
            return self.currency
        return "%" if self.kind in ("percent", "fraction") else None

    @property
    def header(self) -> str:
        """The column's name with its unit, as the CSV header carries it ("revenue (USD)")."""
        return f"{self.name} ({self.unit})" if self.unit else self.name

    @property
    def numeric(self) -> bool:
        return self.kind != "plain"

    def show(self, value: Any) -> str:
        """The value as the page shows it: separators, sensible decimals, the unit."""
        number = _number(value)
        if number is None or self.kind == "plain":
            return "" if value is None else str(value)
        if self.kind == "integer":
            return f"{number:,.0f}"
        if self.kind == "decimal":
            return _decimal(number)
        if self.kind == "money":
            text = f"{abs(number):,.2f}"
            sign = "-" if number < 0 else ""
            symbol = _SYMBOLS.get(self.currency or "")
            if symbol:
                return f"{sign}{symbol}{text}"
            return f"{sign}{text} {self.currency}" if self.currency else f"{sign}{text}"
        percent = number * 100 if self.kind == "fraction" else number
        return f"{percent:,.1f}%"

    def vega(self) -> dict[str, Any]:
        """Vega-Lite `format` (and the unit for the axis title) for a quantitative channel of this column."""
        if self.kind == "fraction":
            return {"format": ".1%"}
        if self.kind == "percent":
            return {"format": ",.1f", "unit": "%"}
        if self.kind == "money":
            return {"format": "$,.2f" if self.currency == "USD" else ",.2f", "unit": self.currency}
        if self.kind == "decimal":
            return {"format": ",.2~f"}
        return {"format": ","} if self.kind == "integer" else {}


def column_formats(semantics: Sequence[ColumnSemantics], rows: Sequence[Sequence[Any]],
                   currencies: Mapping[str, str] | None = None,
                   declared: Mapping[str, str] | None = None) -> tuple[ColumnFormat, ...]:
    """Each column's format from its chart semantics, its name, its values and the catalog's currencies;
    `declared` (column name -> currency, percent or plain: the admin's metrics) wins over what names suggest."""
    currencies = currencies or {}
    only = set(currencies.values())
    default = only.pop() if len(only) == 1 else None  # one currency across the catalog: money columns are in it
    declared = {k.lower(): v for k, v in (declared or {}).items()}
    out = []
    for s in semantics:
        kind = declared.get(s.name.lower()) if s.type in ("integer", "number") else None
        if kind == "currency":
            out.append(ColumnFormat(s.name, "money", currencies.get(s.name.lower()) or default))
        elif kind == "percent":
            out.append(ColumnFormat(s.name, "percent"))
        else:
            out.append(_format(s, rows, currencies, default))
    return tuple(out)


def _format(s: ColumnSemantics, rows, currencies: Mapping[str, str], default: str | None) -> ColumnFormat:
    if s.type not in ("integer", "number") or s.identifier or s.role != "measure":
        return ColumnFormat(s.name)
    name = s.name.lower()
    values = [v for v in (_number(row[s.position]) for row in rows if s.position < len(row)) if v is not None]
    if _PERCENT_NAME.search(name):
        return ColumnFormat(s.name, "percent")
    if _FRACTION_NAME.search(name):
        if all(-1 <= v <= 1 for v in values):
            return ColumnFormat(s.name, "fraction")
        if "ratio" not in name:  # a share above 1 is already in percent; a ratio above 1 is a plain number
            return ColumnFormat(s.name, "percent")
    currency = currencies.get(name) or _suffix_currency(name, currencies)
    if currency or (_MONEY_NAME.search(name) and not _NOT_MONEY.search(name) and default):
        return ColumnFormat(s.name, "money", currency or default)
    if s.type == "integer" or (values and all(v.is_integer() for v in values) and not _AVERAGE_NAME.search(name)):
        return ColumnFormat(s.name, "integer")
    return ColumnFormat(s.name, "decimal")


def _suffix_currency(name: str, currencies: Mapping[str, str]) -> str | None:
    """`avg_unit_price`, `total_amount`: a catalog money column's name at the end of the result column's."""
    for column, code in currencies.items():
        if name.endswith(column) and (name == column or name[-len(column) - 1] in "_ "):
            return code
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, decimal.Decimal)):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _decimal(number: float) -> str:
    if number != 0 and abs(number) < 0.01:
        return f"{number:.3g}"
    return f"{number:,.2f}"


def formatted_spec(spec: Mapping[str, Any], formats: Sequence[ColumnFormat]) -> dict[str, Any]:
    """A copy of a chart spec with each quantitative channel's axis format and unit, and a number card's text."""
    by_name = {f.name: f for f in formats}
    out = dict(spec)
    if spec.get("kind") == "number":
        fmt = by_name.get(str(spec.get("field")))
        if fmt is not None and fmt.numeric and spec.get("value") is not None:
            out["text"] = fmt.show(spec["value"])
        return out
    encoding = spec.get("encoding")
    if not isinstance(encoding, Mapping):
        return out
    out["encoding"] = {key: _channel(channel, by_name, key) for key, channel in encoding.items()}
    return out


# axis labels: short ("250,000", "13%"); tooltips: the value as the table shows it
_AXIS_FORMATS = {"fraction": ".0%", "percent": ",.1~f", "money": ",.2~f", "decimal": ",.2~f", "integer": ","}


def _channel(channel: Any, by_name: Mapping[str, ColumnFormat], key: str) -> Any:
    if isinstance(channel, list):
        return [_channel(c, by_name, key) for c in channel]
    if not isinstance(channel, Mapping) or channel.get("type") != "quantitative":
        return channel
    fmt = by_name.get(re.sub(r"\\(.)", r"\1", str(channel.get("field", ""))))
    if fmt is None or not fmt.numeric:
        return channel
    vega = fmt.vega()
    out = dict(channel)
    if key in ("x", "y"):
        out.pop("format", None)
        out["axis"] = {**(channel.get("axis") or {}), "format": _AXIS_FORMATS[fmt.kind]}
    elif "format" in vega:
        out["format"] = vega["format"]
    if vega.get("unit") and out.get("title"):
        out["title"] = f"{out['title']} ({vega['unit']})"
    return out
