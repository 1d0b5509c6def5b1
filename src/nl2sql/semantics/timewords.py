"""Time in questions: windows ("in 2021", "last 7 days", "the previous ISO week") and buckets ("per month")."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, replace
from datetime import date, timedelta

from nl2sql.semantics.lexicon import Token, number_value

__all__ = ["TimeBucket", "TimeWindow", "find_buckets", "find_windows"]

MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
MONTHS |= {name.lower(): i for i, name in enumerate(calendar.month_abbr) if name}
MONTHS.pop("may", None)  # "may" is a verb far more often than a month; "May 2021" is still read below
WEEKDAYS = {name.lower(): i for i, name in enumerate(calendar.day_name)}  # Monday = 0
UNITS = {"day": "day", "days": "day", "week": "week", "weeks": "week", "month": "month", "months": "month",
         "quarter": "quarter", "quarters": "quarter", "year": "year", "years": "year"}
ORDINALS = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4}
BUCKET_WORDS = {"daily": "day", "weekly": "week", "monthly": "month", "quarterly": "quarter", "yearly": "year",
                "annual": "year", "annually": "year"}


@dataclass(frozen=True)
class TimeWindow:
    """A stretch of time: dates are [start, end) (end exclusive); `year` alone for year-number columns."""

    start: date | None
    end: date | None
    tokens: frozenset[int]
    text: str
    year: int | None = None  # a calendar year (lets a `year` number column be compared directly)
    month: int | None = None  # a month of any year ("in April")
    weekdays: tuple[int, ...] = ()  # on weekends / on Mondays (0 = Monday)


@dataclass(frozen=True)
class TimeBucket:
    grain: str
    tokens: frozenset[int]


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    return date(day.year + month // 12, month % 12 + 1, 1)


def _period(unit: str, today: date) -> date:
    """The start of the current calendar `unit` (weeks start on Monday, as ISO weeks do)."""
    if unit == "day":
        return today
    if unit == "week":
        return today - timedelta(days=today.weekday())
    if unit == "month":
        return today.replace(day=1)
    if unit == "quarter":
        return date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    return date(today.year, 1, 1)


def _shift(day: date, unit: str, n: int) -> date:
    if unit == "day":
        return day + timedelta(days=n)
    if unit == "week":
        return day + timedelta(weeks=n)
    if unit == "month":
        return _add_months(day.replace(day=1), n) if day.day == 1 else _add_months(day, n).replace(
            day=min(day.day, calendar.monthrange(*_y_m(_add_months(day, n)))[1]))
    if unit == "quarter":
        return _shift(day, "month", 3 * n)
    try:
        return day.replace(year=day.year + n)
    except ValueError:  # 29 February
        return day.replace(year=day.year + n, day=28)


def _y_m(day: date) -> tuple[int, int]:
    return day.year, day.month


def _day_number(word: str) -> int | None:
    """A day of the month as written beside a month's name: 21, 21st, 3rd."""
    found = re.fullmatch(r"([12]?\d|3[01])(st|nd|rd|th)?", word)
    return int(found.group(1)) if found and 1 <= int(found.group(1)) <= 31 else None


def _is_year(token: Token) -> int | None:
    if token.kind == "number" and re.fullmatch(r"(19|20)\d\d", token.lower):
        return int(token.lower)
    return None


# words before which a year of an earlier century is a year ("founded before 1850"; "more than 1850" is a number)
_OLD_YEAR_CUES = frozenset({"before", "after", "since", "until", "in"})


def _is_old_year(token: Token) -> int | None:
    if token.kind == "number" and re.fullmatch(r"1[5-8]\d\d", token.lower):
        return int(token.lower)
    return None


def find_windows(tokens: list[Token], today: date) -> list[TimeWindow]:
    """Every time window the question names, each with the tokens it used."""
    scan = _WindowScan(tokens, today)
    i = 0
    while i < scan.n:
        i = scan.step(i)
    return scan.out


class _WindowScan:
    """One pass of `find_windows` over a question's tokens: the windows found so far and the tokens they used.
    Each reading method takes the index of a token and answers the index to read next, or None when the
    token is not what it reads."""

    def __init__(self, tokens: list[Token], today: date) -> None:
        self.tokens = tokens
        self.today = today
        self.out: list[TimeWindow] = []
        self.used: set[int] = set()
        self.n = len(tokens)
        self.words = [t.lower for t in tokens]
        self.recent: tuple[str, int] | None = None  # the unit and count of the last "past N units" window

    def add(self, start: date | None, end: date | None, span: range, **extra) -> None:
        """Records a window over the span's tokens, unless one of them is used already."""
        ids = frozenset(i for i in span if i < self.n)
        if ids & self.used:
            return
        self.used.update(ids)
        text = " ".join(self.tokens[i].text for i in sorted(ids))
        self.out.append(TimeWindow(start, end, ids, text, **extra))

    def step(self, i: int) -> int:
        """Reads the window (if any) that starts at token i; the index to read next."""
        words, n = self.words, self.n
        w = words[i]
        if w in ("last", "past", "previous", "prior", "recent") and i + 1 < n \
                and not (i and words[i - 1] in ("most", "least")):  # "the most recent year": the latest, no window
            nxt = self._past(i)
            if nxt is not None:
                return nxt
        if w in ("this", "current") and i + 1 < n and words[i + 1] in UNITS:
            return self._this(i)
        for rule in (self._day_word, self._date, self._quarter, self._month, self._year):
            nxt = rule(i)
            if nxt is not None:
                return nxt
        return i + 1

    def _past(self, i: int) -> int | None:
        """last / past / previous N units; in the last N units; the previous (ISO) unit."""
        tokens, words, n, today, add = self.tokens, self.words, self.n, self.today, self.add
        number = number_value(tokens, i + 1) if i + 1 < n else None
        if number and i + 1 + number[1] < n and words[i + 1 + number[1]] in UNITS:
            count = int(number[0])
            unit = UNITS[words[i + 1 + number[1]]]
            self.recent = (unit, count)
            lead = i - 1 if i and words[i - 1] in ("the", "in", "over", "during", "within") else i
            add(_shift(today, unit, -count), today + timedelta(days=1), range(lead, i + 2 + number[1]))
            return i + 2 + number[1]
        if words[i + 1] in UNITS or (words[i + 1] in ("iso", "calendar") and i + 2 < n and words[i + 2] in UNITS):
            skip = 2 if words[i + 1] in UNITS else 3
            unit = UNITS[words[i + skip - 1]]
            current = _period(unit, today)
            lead = i - 1 if i and words[i - 1] in ("the", "in", "during", "of") else i
            add(_shift(current, unit, -1), current, range(lead, i + skip))
            return i + skip
        return None

    def _this(self, i: int) -> int:
        """this / current unit; after a window, "excluding the current unit" ends that window instead."""
        words, n, today, out, used = self.words, self.n, self.today, self.out, self.used
        unit = UNITS[words[i + 1]]
        current = _period(unit, today)
        before = words[max(0, i - 3):i]
        if out and ("excluding" in before or "except" in before or "without" in before
                    or " ".join(before).endswith(("not including the", "not including"))):
            # "the last 6 months excluding the current month": the window before it stops where this one starts
            last = out[-1]
            start = last.start
            if self.recent is not None and self.recent[0] == unit and last.end == today + timedelta(days=1):
                start = _shift(current, unit, -self.recent[1])
            span = {j for j in range(max(0, i - 3), min(n, i + 2)) if j not in used and (
                j >= i or words[j] in ("excluding", "except", "without", "not", "including", "the", ","))}
            out[-1] = replace(last, start=start, end=min(last.end, current) if last.end else current,
                              tokens=last.tokens | frozenset(span))
            used.update(span)
            return i + 2
        self.add(current, _shift(current, unit, 1), range(i - 1 if i and words[i - 1] in ("the", "in") else i, i + 2))
        return i + 2

    def _day_word(self, i: int) -> int | None:
        """today (alone, or closing the window before it), yesterday, weekends, Mondays."""
        words, n, today, out, used, add = self.words, self.n, self.today, self.out, self.used, self.add
        w = words[i]
        if w in ("today", "today's") and out and (words[max(0, i - 2):i] in (["inclusive", "of"], ["up", "to"])
                                                  or (i and words[i - 1] in ("including", "through", "until", "till"))):
            # "the past 30 days, inclusive of today": part of the window before it, not a window of its own
            last = out[-1]
            extra = {j for j in range(max(0, i - 2), min(n, i + 3)) if j not in used and (
                j <= i or words[j] in ("s", "'s", "date"))}
            start = last.start
            if start is not None and last.end == today + timedelta(days=1) and last.text.endswith(("days", "day")):
                start = start + timedelta(days=1)  # "the past 7 days, inclusive of today": today and the 6 before
            out[-1] = replace(last, start=start, tokens=last.tokens | frozenset(extra))
            used.update(extra)
        elif w == "today":
            add(today, today + timedelta(days=1), range(i, i + 1))
        elif w == "yesterday":
            add(today - timedelta(days=1), today, range(i, i + 1))
        elif w in ("weekend", "weekends"):
            add(None, None, range(i - 1 if i and words[i - 1] in ("on", "the", "a") else i, i + 1), weekdays=(5, 6))
        elif w.rstrip("s") in WEEKDAYS and (w.endswith("s") or (i and words[i - 1] == "on")):
            add(None, None, range(i, i + 1), weekdays=(WEEKDAYS[w.rstrip("s")],))
        else:
            return None
        return i + 1

    def _date(self, i: int) -> int | None:
        """A date (2024-03-15, "June 21, 2002", "21st of June 2002"): on it, before / after / since it, or from it
        to another."""
        words, n, add = self.words, self.n, self.add
        found = self._day_at(i)
        if found is None:
            return None
        day, nxt = found
        if day is not None:
            before = words[i - 1] if i else ""
            if before in ("before", "until", "prior"):
                add(None, day, range(i - 1, nxt))
            elif before in ("after",):
                add(day + timedelta(days=1), None, range(i - 1, nxt))
            elif before in ("since", "from") and not (nxt + 1 < n and words[nxt] in ("to", "and", "until")):
                add(day, None, range(i - 1, nxt))
            elif nxt + 1 < n and words[nxt] in ("to", "and", "until") and (end := self._day_at(nxt + 1)) \
                    and end[0] is not None:
                add(day, end[0] + timedelta(days=1), range(i - 1 if before in ("between", "from") else i, end[1]))
                return end[1]
            else:
                add(day, day + timedelta(days=1), range(i - 1 if before in ("on", "of") else i, nxt))
        return nxt

    def _day_at(self, i: int) -> tuple[date | None, int] | None:
        """The date that starts at token i and the index after it: a date token, or one spoken with the month's
        name and a year ("June 21, 2002", "Oct 23 2010", "21 June 2002", "the 21st of June, 2002")."""
        tokens, words, n = self.tokens, self.words, self.n
        if tokens[i].kind == "date":
            return _parse_date(tokens[i].lower), i + 1
        month = MONTHS.get(words[i]) or (5 if words[i] == "may" else None)
        if month is not None and i + 1 < n and (number := _day_number(words[i + 1])):
            day, j = number, i + 2  # June 21(st)(,) 2002
        elif (number := _day_number(words[i])) and i + 1 < n:
            j = i + 2 if words[i + 1] == "of" else i + 1  # 21(st) (of) June(,) 2002
            month = MONTHS.get(words[j]) or (5 if words[j] == "may" else None) if j < n else None
            day, j = number, j + 1
        else:
            return None
        if month is None:
            return None
        j += j < n and words[j] == ","
        year = _is_year(tokens[j]) if j < n else None
        if year is None:
            return None
        try:
            return date(year, month, day), j + 1
        except ValueError:
            return None

    def _quarter(self, i: int) -> int | None:
        """the first quarter (of 2021), Q3 (2021): this year's when no year follows."""
        tokens, words, n, today, add = self.tokens, self.words, self.n, self.today, self.add
        w = words[i]
        if words[i] in ORDINALS and i + 2 < n and words[i + 1] in ("quarter",):
            q = ORDINALS[words[i]]
            year = next((_is_year(tokens[j]) for j in range(i + 2, min(n, i + 5)) if _is_year(tokens[j])), today.year)
            span_end = next((j + 1 for j in range(i + 2, min(n, i + 5)) if _is_year(tokens[j])), i + 2)
            start = date(year, 3 * (q - 1) + 1, 1)
            add(start, _shift(start, "quarter", 1), range(i - 1 if i and words[i - 1] == "the" else i, span_end))
            return span_end
        if re.fullmatch(r"q[1-4]", w):
            q = int(w[1])
            nxt = _is_year(tokens[i + 1]) if i + 1 < n else None
            year = nxt or today.year
            start = date(year, 3 * (q - 1) + 1, 1)
            add(start, _shift(start, "quarter", 1), range(i, i + (2 if nxt else 1)))
            return i + 1
        return None

    def _month(self, i: int) -> int | None:
        """A month with its year (April 2021), or a month of any year (in April)."""
        tokens, words, n, add = self.tokens, self.words, self.n, self.add
        w = words[i]
        if not ((w in MONTHS or w == "may") and (w != "may" or (i + 1 < n and _is_year(tokens[i + 1])))):
            return None
        month = MONTHS.get(w, 5)
        nxt = _is_year(tokens[i + 1]) if i + 1 < n else None
        if nxt:
            start = date(nxt, month, 1)
            add(start, _add_months(start, 1),
                range(i - 1 if i and words[i - 1] in ("in", "of", "during") else i, i + 2))
            return i + 2
        add(None, None, range(i - 1 if i and words[i - 1] in ("in", "of", "during") else i, i + 1), month=month)
        return i + 1

    def _year(self, i: int) -> int | None:
        """A year: in it, before / after / since it, or from it to another."""
        tokens, words, n, add = self.tokens, self.words, self.n, self.add
        before = words[i - 1] if i else ""
        # "before year 1850": the cue stands before "(the) year", and makes an old number a year too
        ahead = words[i - 3 if i >= 3 and words[i - 2] == "the" else i - 2] if before == "year" and i >= 2 else before
        year = _is_year(tokens[i]) or (_is_old_year(tokens[i]) if {before, ahead} & _OLD_YEAR_CUES else None)
        if year is None:
            return None
        cue = i - 1
        if before == "year" and i >= 2:
            # "after year 1998", "before the year 2000": the cue stands before "(the) year"
            cue = i - 3 if i >= 3 and words[i - 2] == "the" else i - 2
            if words[cue] in ("before", "until", "after", "since"):
                before = words[cue]
            else:
                cue = i - 1
        if before in ("before", "until"):
            add(None, date(year, 1, 1), range(cue, i + 1))
        elif before in ("after",):
            add(date(year + 1, 1, 1), None, range(cue, i + 1))
        elif before == "since":
            add(date(year, 1, 1), None, range(cue, i + 1))
        elif i + 2 < n and words[i + 1] in ("to", "and", "through") and _is_year(tokens[i + 2]):
            last = _is_year(tokens[i + 2]) or year
            add(date(year, 1, 1), date(last + 1, 1, 1), range(i - 1 if before in ("between", "from") else i, i + 3))
            return i + 3
        else:
            lead = i
            if i >= 2 and words[i - 1] == "year" and words[i - 2] == "the":
                lead = i - 2
            elif i and words[i - 1] in ("year", "in", "of", "during", "for"):
                lead = i - 1
            add(date(year, 1, 1), date(year + 1, 1, 1), range(lead, i + 1), year=year)
        return i + 1


# words before "by" that make it an ordering
_ORDERING = frozenset({"order", "ordered", "sort", "sorted", "rank", "ranked", "arranged", "descending",
                       "ascending", "listed"})


def find_buckets(tokens: list[Token]) -> list[TimeBucket]:
    """Grouping by time: "monthly", "per month", "each year", "by quarter", "over the years", "month by month"."""
    out: list[TimeBucket] = []
    words = [t.lower for t in tokens]
    for i, w in enumerate(words):
        if w in BUCKET_WORDS:
            out.append(TimeBucket(BUCKET_WORDS[w], frozenset({i})))
        elif w in UNITS and i and words[i - 1] in ("per", "each", "every", "by") and not (
                words[i - 1] == "by" and i >= 2 and words[i - 2] in _ORDERING):
            # ("in descending order by year", "sorted by year": an order, not a grouping)
            out.append(TimeBucket(UNITS[w], frozenset({i - 1, i})))
        elif w in ("years", "months", "weeks", "days", "quarters") and i >= 2 and words[i - 1] == "the" and words[i - 2] in ("over", "across", "through"):
            out.append(TimeBucket(UNITS[w], frozenset({i - 2, i - 1, i})))
        elif w in UNITS and i >= 2 and words[i - 1] == "each" and words[i - 2] in ("for", "in", "of"):
            pass  # already counted by the "each" rule
    return out


def _parse_date(text: str) -> date | None:
    match = re.match(r"(\d{4})-(\d{1,2})-(\d{1,2})", text)
    if not match:
        return None
    try:
        return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        return None
