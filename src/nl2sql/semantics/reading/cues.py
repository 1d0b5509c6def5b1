"""The language of analytics questions: the reader's cue words as data, and the finders of aggregate, grouping,
ordering, top-N and negation cues in a question's words (no schema involved).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from nl2sql.semantics.lexicon import Token, number_value
from nl2sql.semantics.linking import Link
from nl2sql.semantics.model import Attribute
from nl2sql.semantics.rules.ordering import order_phrase


AGG_PHRASES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("how", "many"), "count"), (("how", "much"), "sum"), (("total", "number", "of"), "count"),
    (("total", "count", "of"), "count"), (("number", "of"), "count"), (("count", "of"), "count"),
    (("no", "of"), "count"), (("count",), "count"), (("sum", "of"), "sum"), (("total",), "sum"), (("sum",), "sum"),
    (("overall",), "sum"), (("combined",), "sum"), (("cumulative",), "sum"), (("average",), "avg"),
    (("avg",), "avg"), (("mean",), "avg"), (("maximum",), "max"), (("max",), "max"), (("minimum",), "min"),
    (("min",), "min"), (("typical",), "avg"),
)


SUPERLATIVES = {
    "highest": True, "most": True, "largest": True, "biggest": True, "greatest": True, "longest": True,
    "best": True, "top": True, "maximum": True, "max": True, "latest": True, "newest": True, "tallest": True,
    "heaviest": True, "fastest": True, "richest": True, "busiest": True, "oldest": False, "highest-rated": True,
    "lowest": False, "least": False, "fewest": False, "smallest": False, "shortest": False, "minimum": False,
    "min": False, "worst": False, "earliest": False, "cheapest": False, "slowest": False, "lightest": False,
    "youngest": True, "priciest": True,
}


# what a superlative adjective measures when no column is named after it
ADJECTIVE_PROPERTIES = {
    "longest": "length duration distance pages", "shortest": "length duration distance pages height", "tallest": "height altitude elevation",
    "highest": "altitude elevation height", "largest": "area size capacity", "biggest": "area size capacity",
    "smallest": "area size capacity", "heaviest": "weight", "lightest": "weight", "fastest": "speed",
    "slowest": "speed", "oldest": "age birth date", "youngest": "age birth date",
    "earliest": "date time", "latest": "date time", "newest": "date time", "expensive": "price cost amount",
    "cheap": "price cost amount", "cheapest": "price cost amount", "costly": "price cost amount",
    "pricy": "price cost amount", "pricey": "price cost amount", "priciest": "price cost amount",
    "popular": "count quantity sales", "recent": "date time", "recently": "date time", "heavy": "weight", "long": "length duration",
}


# superlatives of time: the latest or earliest row by one of its time columns
TIME_ADJECTIVES = frozenset({"earliest", "latest", "newest", "recent", "recently"})


GROUP_WORDS = {"each", "every", "per", "by", "across", "respective"}


ORDER_VERBS = {"order", "ordered", "sort", "sorted", "rank", "ranked", "arrange", "arranged", "list", "listed"}


COMPARE_PHRASES: tuple[tuple[tuple[str, ...], str], ...] = (
    # "greater than or equal to 12000" before "equal to"
    *(((word, "than", "or", "equal", "to"), op) for word, op in (
        ("greater", ">="), ("more", ">="), ("larger", ">="), ("higher", ">="), ("bigger", ">="),
        ("less", "<="), ("fewer", "<="), ("lower", "<="), ("smaller", "<="))),
    (("more", "than"), ">"), (("greater", "than"), ">"), (("larger", "than"), ">"), (("higher", "than"), ">"),
    (("bigger", "than"), ">"), (("longer", "than"), ">"), (("older", "than"), ">"), (("over",), ">"),
    (("above",), ">"), (("exceeding",), ">"), (("exceeds",), ">"), (("exceed",), ">"),
    (("at", "least"), ">="), (("no", "less", "than"), ">="), (("not", "less", "than"), ">="),
    (("or", "more"), ">="), (("less", "than"), "<"), (("fewer", "than"), "<"), (("lower", "than"), "<"),
    (("smaller", "than"), "<"), (("shorter", "than"), "<"), (("younger", "than"), "<"), (("under",), "<"),
    (("below",), "<"), (("at", "most"), "<="), (("no", "more", "than"), "<="), (("not", "more", "than"), "<="),
    (("up", "to"), "<="), (("or", "less"), "<="), (("or", "fewer"), "<="), (("equal", "to"), "="),
    (("exactly",), "="), (("equals",), "="), (("of",), "="),
)


NEGATIONS = {"not", "no", "without", "never", "excluding", "except", "exclude", "excludes", "non", "none", "neither",
             "nor", "don't", "doesn't", "didn't", "haven't", "hasn't", "isn't", "aren't", "weren't", "wasn't", "other"}


# "no more than 20", "not later than 2010": a negation word that bounds a number, denying nothing
BOUND_WORDS = frozenset({"more", "less", "fewer", "later", "earlier"})


def bounds_number(words: list[str]) -> bool:
    """The words hold "no more than", "not less than", "no fewer", "not later than": a bound, not a denial."""
    return any(words[k] in ("no", "not") and words[k + 1] in BOUND_WORDS for k in range(len(words) - 1))


QUESTION_HEADS = {"which", "what", "who", "whose", "list", "show", "give", "return", "get", "find", "display", "name",
                  "tell", "identify", "select", "fetch", "retrieve", "calculate", "compute", "determine", "report",
                  "count", "provide", "output", "print", "enumerate"}


RATIO_WORDS = {"ratio", "proportion", "percentage", "percent", "share", "fraction", "rate"}


AGENT_VERBS_SKIP = {"grouped", "split", "broken", "sorted", "ordered", "ranked", "arranged", "segmented", "break",
                    "group", "sort", "order", "rank", "aggregated", "categorized", "partitioned", "down"}


STRING_PHRASES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("starts", "with"), "starts"), (("start", "with"), "starts"), (("starting", "with"), "starts"),
    (("begins", "with"), "starts"), (("begin", "with"), "starts"), (("beginning", "with"), "starts"),
    (("ends", "with"), "ends"), (("end", "with"), "ends"), (("ending", "with"), "ends"),
    (("started", "with"), "starts"), (("ended", "with"), "ends"),
    (("contains",), "contains"), (("contain",), "contains"), (("containing",), "contains"), (("contained",), "contains"),
    (("includes",), "contains"), (("including",), "contains"), (("like",), "contains"), (("named",), "equals"),
    (("called",), "equals"), (("titled",), "equals"),
)


# number words that may say how many rows to list ("which three cities have the largest population")
COUNT_WORDS = {"two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "twenty"}


_PLURAL_EXCEPTIONS = {"series", "species", "news", "status", "data", "bus", "gas", "class", "address", "business",
                      "access", "process", "analysis", "campus", "virus", "bonus", "census", "canvas"}


# words that ask for a count even where no aggregate cue is read ("how many X for each Y")
COUNTING = frozenset({"many", "number", "numbers", "count", "total", "much"})


# words after which a number names a row by its key ("the student with ID 1004", "order number 12")
KEY_WORDS = frozenset({"id", "number", "no", "#", "code"})


def _plural(token: Token) -> bool:
    w = token.lower
    return (w.endswith("s") and not w.endswith("ss") and w not in _PLURAL_EXCEPTIONS and len(w) > 3) or w in (
        "people", "children", "men", "women", "data", "criteria")


def _match_mode(tokens: Sequence[Token]) -> str:
    words = [t.lower for t in tokens]
    text = " ".join(words)
    if "exact" in words or "exactly" in words:
        return "exact"
    if "ilike" in words or "insensitive" in text or "insensitively" in text or "wildcard" in text or "partial" in words:
        return "contains"
    return "default"


def _head_index(words: list[str]) -> int:
    for i, w in enumerate(words[:6]):
        if w in QUESTION_HEADS or w == "how":
            j = i + 1
            while j < len(words) and words[j] in ("is", "are", "was", "were", "the", "a", "an", "me", "all", "of", "'s",
                                                   "s", "do", "does", "did", "us", "both", "each", "every"):
                j += 1
            return j
    return 0


def _limit(tokens: list[Token]) -> tuple[int | None, set[int]]:
    words = [t.lower for t in tokens]
    units = {"day", "days", "week", "weeks", "month", "months", "year", "years", "quarter", "quarters", "hours",
             "hour", "minutes"}
    for i, w in enumerate(words):
        if w in ("top", "first", "bottom", "last", "latest", "recent") and i + 1 < len(words) \
                and not starts_from(words, i):  # "starting from the most recent one": no single row
            number = number_value(tokens, i + 1)
            if number and 1 <= number[0] < 10_000:
                after = words[i + 1 + number[1]] if i + 1 + number[1] < len(words) else ""
                if after in units:
                    continue  # "the last 30 days" is a time window
                return int(number[0]), set(range(i, i + 1 + number[1]))
        if w in ("which", "what", "the", "list", "show", "give", "name", "find") and i + 2 < len(words) and \
                (tokens[i + 1].kind == "number" or words[i + 1] in COUNT_WORDS) and words[i + 2] not in units \
                and tokens[i + 2].kind == "word" and _plural(tokens[i + 2]):
            number = number_value(tokens, i + 1)
            if number and number[1] == 1 and 1 <= number[0] < 1000 and not re.fullmatch(r"(19|20)\d\d", words[i + 1]):
                return int(number[0]), {i + 1}
        if tokens[i].kind in ("number", "word") and i + 1 < len(words) and words[i + 1] in SUPERLATIVES:
            number = number_value(tokens, i)
            if number and number[1] == 1 and 1 <= number[0] < 1000 and (i == 0 or words[i - 1] in (
                    "the", "top", "which", "what", "are", "list", "show", "give", "find", "with", "of", "by")):
                return int(number[0]), {i}
    return None, set()


# superlative adjectives that, coordinated with another aggregate word, are the extreme values of a column: "the
# highest and lowest cost", "the highest, lowest, and average price"
EXTREMES = {"highest": "max", "lowest": "min", "largest": "max", "smallest": "min", "biggest": "max",
            "greatest": "max", "longest": "max", "shortest": "min", "tallest": "max", "heaviest": "max",
            "lightest": "min", "fastest": "max", "slowest": "min", "cheapest": "min",
            # of an age (dates' extremes are read as times: "the oldest and latest date")
            "oldest": "max", "youngest": "min"}
_COORDINATED = frozenset({"average", "avg", "mean", "maximum", "minimum", "max", "min", "total"})


def _coordinated_extremes(words: list[str]) -> list[tuple[int, int, str]]:
    """Superlatives in a list with another aggregate word ("highest and lowest", "highest, lowest, and average"):
    each is that extreme's aggregate, not an ordering."""
    out: list[tuple[int, int, str]] = []
    i = 0
    while i < len(words):
        if words[i] not in EXTREMES and words[i] not in _COORDINATED:
            i += 1
            continue
        items, j = [i], i
        while True:
            k = j + 1
            while k < len(words) and words[k] in (",", "and") or (k > j + 1 and k < len(words) and words[k] == "the"):
                k += 1
            if k == j + 1 or k >= len(words) or (words[k] not in EXTREMES and words[k] not in _COORDINATED):
                break
            items.append(k)
            j = k
        if len(items) > 1:
            out += [(x, x + 1, EXTREMES[words[x]]) for x in items if words[x] in EXTREMES]
        i = j + 1
    return out


def _agg_cues(words: list[str]) -> list[tuple[int, int, str]]:
    out = _agg_phrases(words)
    extremes = [c for c in _coordinated_extremes(words) if not any(a[0] <= c[0] < a[1] for a in out)]
    out = sorted(out + extremes)
    if ("how", "many") in zip(words, words[1:]):
        # "how many staff in total?": the count is the total; "in total" adds no sum
        out = [c for c in out if not (words[c[0]] == "total" and c[0] and words[c[0] - 1] == "in"
                                      and (c[1] >= len(words) or words[c[1]] in ("?", ".", "!")))]
    # "the total sales count": a count, its word after the noun
    for k in range(len(out) - 1):
        (s1, e1, f1), (s2, e2, f2) = out[k], out[k + 1]
        if f1 == "sum" and f2 == "count" and s2 == e1 + 1 and words[s2] in ("count", "counts"):
            out[k] = (s1, e1, "count")
            out[k + 1] = (s2, e2, "")
    return [c for c in out if c[2]]


def _agg_phrases(words: list[str]) -> list[tuple[int, int, str]]:
    out: list[tuple[int, int, str]] = []
    taken: set[int] = set()
    for i in range(len(words)):
        if i in taken:
            continue
        for phrase, func in AGG_PHRASES:
            k = len(phrase)
            if tuple(words[i:i + k]) == phrase:
                if phrase == ("count",) and i + 1 < len(words) and words[i + 1] == "the":
                    pass
                out.append((i, i + k, func))
                taken |= set(range(i, i + k))
                break
    return out


# past participles that end in neither -ed nor -en: "taught by", "held by", "won by"
IRREGULAR_PARTICIPLES = frozenset({"taught", "bought", "sold", "made", "held", "won", "led", "built", "paid", "sent",
                                   "kept", "brought", "caught", "run", "done", "told", "found", "lent", "spent", "shot",
                                   "hit", "read", "set"})


def _group_cues(words: list[str]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for i, w in enumerate(words):
        if w not in GROUP_WORDS and w != "different":
            continue
        if w == "by":
            before = words[i - 1] if i else ""
            if before in ORDER_VERBS or before in ("descending", "ascending"):
                continue
            if _ranked_before(words, i):
                continue  # "the top 10 products by price" ranks them
            if (before.endswith(("ed", "en")) or before in IRREGULAR_PARTICIPLES) and before not in AGENT_VERBS_SKIP:
                continue  # "written by authors", "taught by": who did it, not a grouping
            if i + 1 < len(words) and words[i + 1] in ("a", "an"):
                continue  # "by a staff member whose ...": one who did it
        if w == "each" and i + 1 < len(words) and words[i + 1] in ("other",):
            continue
        if w == "across" and i + 1 < len(words) and (words[i + 1] in ("all", "the", "every") or any(
                t in ("total", "sum", "overall", "combined") for t in words[max(0, i - 6):i])):
            continue  # "the maximum across all farms", "the total number of customers across banks": over all
        if w == "different" and not _per_different(words, i):
            continue  # "how many different locations": distinct ones; "the average price for different X": per X
        start = i
        end = i + 1
        if w == "each" and i and words[i - 1] in ("for", "in", "of", "from", "at", "to"):
            start = i - 1
        if w == "across" and i + 1 < len(words) and words[i + 1] in ("different", "all", "the", "various"):
            end = i + 2
        out.append((start, end))
    return out


# aggregate words that make "of different X", "with different X" a grouping ("the average age of students with
# different sex"); without one, "the names of the different branches" are distinct names
_AGGREGATING = frozenset({"average", "avg", "mean", "total", "sum", "maximum", "minimum", "max", "min", "oldest",
                          "youngest", "count", "number", "many"})


def _per_different(words: list[str], i: int) -> bool:
    """Whether "different" at `i` asks for one answer per value: "for (the) different states"."""
    k = i - 1 if i and words[i - 1] == "the" else i
    if not k:
        return False
    lead = words[k - 1]
    # ("the number of different cities", "kinds of different ratings": distinct ones counted)
    counted = k >= 2 and words[k - 2] in COUNTING | {"kinds", "kind", "types", "type", "sorts"}
    return lead in ("for", "in", "across", "among", "by") or (
        lead in ("of", "with") and not (lead == "of" and counted) and bool(_AGGREGATING & set(words[:k - 1])))


def _ranked_before(words: list[str], index: int) -> str | None:
    """ "top" or "bottom" when one heads the phrase before ``index`` ("the top 5 best selling car models by ...")."""
    for j in range(index - 1, max(-1, index - 8), -1):
        if words[j] in ("top", "bottom"):
            return words[j]
        if words[j] in (",", ".", "?", ";", "!", "by", "and", "with", "where", "that", "who", "which"):
            return None
    return None


# the ends of a "from ... to ..." direction: "from the highest to the lowest", "from large to small"
HIGH_END = frozenset("highest largest most longest biggest greatest newest latest high large big great long more "
                     "maximum max top".split())
LOW_END = frozenset("lowest smallest least shortest fewest earliest low small little short few less minimum min "
                    "bottom".split())


def _from_to(words: list[str], i: int) -> tuple[bool, set[int]] | None:
    """(descending?, tokens) for the direction "from [the] X [to [the] Y]" at `i` ("from the highest to the lowest",
    "from large to small", "from highest"); None when the words after "from" name no end."""
    j = i + 1 + (i + 1 < len(words) and words[i + 1] == "the")
    if j >= len(words) or words[j] not in HIGH_END | LOW_END:
        return None
    desc, used = words[j] in HIGH_END, set(range(i, j + 1))
    k = j + 1
    if k < len(words) and words[k] == "to":
        end = k + 1 + (k + 1 < len(words) and words[k + 1] == "the")
        if end < len(words) and words[end] in (LOW_END if desc else HIGH_END):
            used |= set(range(k, end + 1))
        elif end < len(words) and words[end] in HIGH_END | LOW_END:
            return None  # "from high to higher": no direction
    elif words[j] not in ("highest", "largest", "most", "longest", "biggest", "greatest", "newest", "latest",
                          "lowest", "smallest", "least", "shortest", "fewest"):
        return None  # "from small towns": a bare adjective is no direction without its other end
    return desc, used


def _order_cues(words: list[str]):
    """(index after which the ordering key is named or None, descending?, tokens) for "ordered by X desc" etc."""
    desc: bool | None = None
    used: set[int] = set()
    key_index: int | None = None
    for i, w in enumerate(words):
        if w in ("descending", "desc", "decreasing"):
            desc, used = True, used | {i}
        elif w in ("ascending", "asc", "increasing"):
            desc, used = False, used | {i}
        elif w in ("alphabetically", "alphabetical", "alphabetic", "lexicographic", "lexicographical",
                   "lexicographically"):
            # "in descending alphabetical order", "reverse alphabetical order": Z first
            desc = desc is True or (i >= 1 and words[i - 1] in ("reverse", "reversed", "inverse"))
            used = used | {i} | ({i - 1} if i >= 1 and words[i - 1] in ("reverse", "reversed", "inverse") else set())
        elif w == "from" and _from_to(words, i) is not None:
            desc, span = _from_to(words, i)  # type: ignore[misc]
            used = used | span
        elif w in ("highest", "largest", "most", "longest", "biggest", "greatest", "newest", "latest") and (
                i + 1 < len(words) and words[i + 1] == "first"):
            desc, used = True, used | {i, i + 1}
        elif w in ("lowest", "smallest", "least", "shortest", "fewest", "oldest", "earliest") and (
                i + 1 < len(words) and words[i + 1] == "first"):
            desc, used = False, used | {i, i + 1}
        if w == "by" and key_index is None and _ranked_before(words, i):
            key_index = i + 1
            used |= {i}
            if desc is None:
                desc = _ranked_before(words, i) == "top"
        if w in ORDER_VERBS - {"list", "listed"} and i + 1 < len(words) and words[i + 1] in ("by", "on", "according"):
            key_index = i + 2
            used |= {i, i + 1}
        elif w in ORDER_VERBS - {"list", "listed"} and i + 2 < len(words) and words[i + 2] == "by" \
                and words[i + 1] in ("descending", "ascending", "desc", "asc", "decreasingly", "increasingly"):
            key_index = i + 3  # "ordered descending by amount of money requested"
            used |= {i, i + 1, i + 2}
        elif w in ("sort", "order", "rank", "arrange") and i + 1 < len(words) and words[i + 1] in ("the", "them", "these", "results"):
            key_index = i + 1
            used |= {i}
        elif w == "order" and i >= 1 and words[i - 1] == "in" and i + 1 < len(words) and words[i + 1] == "of":
            key_index = i + 2
            used |= {i - 1, i, i + 1}
    started = _starting_with(words)  # "starting from the most recent one", "starting with the oldest"
    if started is not None and desc is None:
        desc, used = started[0], used | started[1]
    found = order_phrase(words)  # "in the descending order of age", "according to the price"
    if found is not None and (key_index is None or found[0] > key_index):
        key_index, desc, used = found[0], desc if found[1] is None else found[1], used | found[2]
    if desc is None and key_index is None:
        return None
    return key_index, desc, used


# words that open the end a list starts from ("starting from the most recent one")
START_WORDS = frozenset({"starting", "beginning", "start", "begin"})


def _starting_with(words: list[str]) -> tuple[bool, set[int]] | None:
    """(descending?, tokens) for "starting from the most recent one", "beginning with the oldest": the end a list
    starts from; for a time, the oldest first is ascending."""
    for i, w in enumerate(words[:-2]):
        if w not in START_WORDS or words[i + 1] not in ("from", "with"):
            continue
        j = i + 2 + (words[i + 2] in ("the", "a"))
        if j < len(words) and words[j] == "most" and j + 1 < len(words):
            j += 1
        if j >= len(words) or (words[j] not in SUPERLATIVES and words[j] not in ("recent", "recently")):
            return None
        desc = words[j] in ("recent", "recently") or (SUPERLATIVES.get(words[j], True) and words[j] != "youngest")
        end = j + 1 + (j + 1 < len(words) and words[j + 1] in ("one", "ones", "first"))
        return desc, set(range(i, end))
    return None


def starts_from(words: list[str], index: int) -> bool:
    """The superlative at `index` says where a list starts ("starting from the most recent one"), no single row."""
    found = _starting_with(words)
    return found is not None and index in found[1]


def _asks_ordering(words: list[str]) -> bool:
    return any(w in ("ordered", "sorted", "order", "sort", "ranked", "descending", "ascending") for w in words)


# verbs after which a question lists what to show ("... ? Tell me the name and position", "report the difference")
OUTPUT_VERBS = frozenset({"return", "give", "show", "list", "include", "display", "provide", "including", "showing",
                          "tell", "report", "print", "output"})


# how many words after the question word may name what to show: one name, or a list of them
NAME_REACH = 8
LIST_REACH = 16


def _output_segments(words: list[str], head: int) -> list[tuple[int, int]]:
    """Stretches of the question that name what to return: after the question word, and "return/give/show ..." parts."""
    stop = _segment_end(words, head)
    # a list of columns ("the distinct first names, last names, and phone numbers") may run longer than one name
    reach = LIST_REACH if any(w in (",", "and") for w in words[head:stop]) else NAME_REACH
    segments = [(head, min(stop + 1, head + reach))]
    for i, w in enumerate(words):
        if w in OUTPUT_VERBS and i > head:
            end = next((j for j in range(i + 1, len(words)) if words[j] in (".", "?", "!", ";")), len(words))
            segments.append((i + 1, end))
        if w in ("and",) and i > head and i + 1 < len(words) and words[i + 1] in ("their", "its", "the", "his", "her"):
            segments.append((i + 1, min(len(words), i + 6)))
        if w in ("both",) and i >= head:
            segments.append((i + 1, min(len(words), i + 8)))
        # "... and in which countries are they located?": a second question asks for another column
        asks = next((j for j in range(i + 1, min(i + 3, len(words))) if words[j] in ("which", "what")), None)
        if w == "and" and i > head and asks is not None:
            segments.append((asks + 1, min(len(words), asks + 4)))
    return segments


_SEGMENT_STOPS = frozenset({"of", "for", "in", "that", "who", "which", "with", "whose", "where", "by", "from", "have",
                            "has", "had", "is", "are", "was", "were"})


def _segment_end(words: list[str], head: int) -> int:
    """Where the first stretch of asked columns ends: at the first word that starts a condition or an owner, unless
    the list goes on after a short owner ("the type of bed and name of all rooms": bed's type, then the name)."""
    i = head
    while i < len(words):
        if words[i] in _SEGMENT_STOPS:
            joiner = next((j for j in range(i + 1, min(i + 4, len(words))) if words[j] in ("and", ",")), None)
            if words[i] == "of" and joiner is not None and joiner + 1 < len(words) \
                    and words[joiner + 1] not in _SEGMENT_STOPS and all(w not in _SEGMENT_STOPS for w in words[i + 1:joiner]):
                i = joiner + 1
                continue
            return i
        i += 1
    return len(words)


def _part_of_column(index: int, column_links: list[Link]) -> bool:
    return any(index in l.matched and l.score >= 0.85 for l in column_links)


def _negated(words: list[str], index: int) -> bool:
    window = words[max(0, index - 3):index]
    return any(w in NEGATIONS - {"other"} for w in window) or (
        len(window) >= 2 and window[-2:] == ["other", "than"])


def _flag_true(attribute: Attribute) -> object:
    if attribute.kind == "boolean" or not attribute.values:
        return True if attribute.kind == "boolean" else 1
    lowered = {v.lower(): v for v in attribute.values}
    for yes in ("yes", "y", "true", "t", "1"):
        if yes in lowered:
            return lowered[yes]
    return attribute.values[-1]
