"""Words: tokens of questions and identifiers, stems, database abbreviations and number words (English only)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import snowballstemmer

__all__ = ["Token", "identifier_words", "normalize", "number_value", "stem", "stems", "synonyms", "tokenize"]

_STEMMER = snowballstemmer.stemmer("english")

# Abbreviations that schemas use everywhere, expanded so "review_num" answers to "number of reviews".
ABBREVIATIONS = {
    "num": "number", "no": "number", "nr": "number", "nbr": "number", "cnt": "count", "qty": "quantity",
    "amt": "amount", "pct": "percent", "perc": "percent", "avg": "average", "tot": "total", "dt": "date",
    "ts": "timestamp", "desc": "description", "descr": "description", "addr": "address", "cust": "customer",
    "tx": "transaction", "txn": "transaction", "trans": "transaction", "acct": "account", "acc": "account", "emp": "employee",
    "dept": "department", "mgr": "manager", "prod": "product", "ccy": "currency", "curr": "currency",
    "qtr": "quarter", "yr": "year", "mo": "month", "wk": "week", "crtd": "created", "upd": "updated",
    "min": "minimum", "max": "maximum", "bal": "balance", "ref": "reference", "org": "organization",
    "loc": "location", "lat": "latitude", "lng": "longitude", "lon": "longitude", "dur": "duration",
    "val": "value", "seq": "sequence", "stat": "status", "info": "information", "pos": "position",
    "sal": "salary", "temp": "temperature", "dob": "birth", "msg": "message", "pmt": "payment", "inv": "invoice",
    "usr": "user", "cat": "category", "img": "image", "src": "source", "dst": "destination", "dest": "destination",
    "pop": "population", "ctry": "country", "st": "state", "div": "division", "grp": "group", "lvl": "level",
    "mfr": "manufacturer", "mfg": "manufacturing", "vol": "volume", "wt": "weight", "ht": "height", "len": "length",
}

# words that carry no meaning for linking a phrase to the schema
STOP_WORDS = frozenset(
    "a an the of in on at to for by with from and or is are was were be been being do does did has have had "
    "that this these those which what who whom whose where when how there their its it his her they them he she "
    "as into per each every all any some me my our we you your i give show list return get find tell display "
    "please also than then only just".split()
)

# Words that business questions use for one another (general English, not any schema's vocabulary).
SYNONYM_GROUPS = (
    "cost price fee charge", "amount total sum value", "revenue sales turnover income", "client customer buyer",
    "purchase order", "item product article", "employee staff worker personnel", "salary pay wage wages",
    "quantity units qty", "city town", "country nation", "people population inhabitants residents",
    "firm company business", "supplier vendor", "phone telephone", "email mail", "begin start", "finish end",
    "date day", "duration length", "kind type category", "mark grade score", "vehicle car truck",
    "distance length mileage", "weight mass", "rating stars score", "doctor physician", "patient client",
    "course class", "teacher instructor professor", "student pupil learner", "film movie", "shop store",
    "gender sex", "birth birthday born", "age old",
)
_SYNONYMS: dict[str, set[str]] = {}

NUMBER_WORDS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
    "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50,
    "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90, "dozen": 12,
}
SCALE_WORDS = {"hundred": 100, "thousand": 1_000, "million": 1_000_000, "billion": 1_000_000_000, "k": 1_000}


@dataclass(frozen=True, slots=True)
class Token:
    """A word, number or quoted literal of a question, with its place in the text."""

    text: str  # as written
    lower: str
    stem: str
    start: int
    end: int
    kind: str = "word"  # word, number, quoted, date, punct

    @property
    def is_word(self) -> bool:
        return self.kind == "word"


_TOKEN = re.compile(
    r"""(?P<quoted>"[^"]+"|“[^”]+”|‘[^’]+’|`[^`]+`|(?<![\w])'[^']+'(?![\w]))"""
    r"""|(?P<date>\d{4}-\d{1,2}-\d{1,2}(?:[ T]\d{1,2}:\d{2}(?::\d{2})?)?)"""
    r"""|(?P<time>\d{1,2}:\d{2}(?::\d{2})?\s*(?:am|pm)?|\d{1,2}\s*(?:am|pm)\b)"""
    r"""|(?P<ordinal>\d+(?:st|nd|rd|th)\b)"""
    r"""|(?P<numero>\bno\.(?=\s)|\bnum\.(?=\s)|\bnr\.(?=\s)|\#(?=\s*(?:of\b|[a-z])))"""
    r"""|(?P<number>[-+]?\$?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?%?)"""
    r"""|(?P<word>[^\W\d_][\w'’\-]*[\w]|[^\W\d_])"""
    r"""|(?P<punct>[^\w\s])""",
    re.UNICODE | re.IGNORECASE,
)


def normalize(text: str) -> str:
    """Lower case, accents folded, runs of non-alphanumerics as one space: how values and phrases are compared."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return " ".join(re.sub(r"[^\w]+", " ", text.lower()).replace("_", " ").split())


# plurals the stemmer doesn't bring back to their singular's stem
IRREGULAR_PLURALS = {
    "people": "person", "children": "child", "men": "man", "women": "woman", "feet": "foot", "teeth": "tooth",
    "mice": "mouse", "geese": "goose", "wives": "wife", "knives": "knife", "lives": "life", "leaves": "leaf",
    "indices": "index", "matrices": "matrix", "vertices": "vertex", "analyses": "analysis", "criteria": "criterion",
    "theses": "thesis", "crises": "crisis", "diagnoses": "diagnosis", "lenses": "lens", "buses": "bus",
    "busses": "bus", "gases": "gas", "viruses": "virus", "bonuses": "bonus", "censuses": "census",
    "aliases": "alias", "atlases": "atlas", "shelves": "shelf", "halves": "half", "wolves": "wolf", "calves": "calf",
    "thieves": "thief", "loaves": "loaf",
}


def singular(word: str) -> str:
    """The singular of an English plural noun ("instructors" -> "instructor", "categories" -> "category",
    "boxes" -> "box", "people" -> "person"); any other word as it is (lower case)."""
    word = word.lower()
    if word in IRREGULAR_PLURALS:
        return IRREGULAR_PLURALS[word]
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("sses", "xes", "ches", "shes", "zes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


@lru_cache(maxsize=50_000)
def stem(word: str) -> str:
    word = word.lower().replace("’", "'")
    if word.endswith("'s"):
        word = word[:-2]
    word = ABBREVIATIONS.get(word, word)
    word = IRREGULAR_PLURALS.get(word, word)
    return _STEMMER.stemWord(word)


def stems(words: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    return tuple(stem(w) for w in words)


def synonyms(word_stem: str) -> set[str]:
    """Stems of the words used for this one (not itself)."""
    if not _SYNONYMS:
        for group in SYNONYM_GROUPS:
            stems_ = {stem(w) for w in group.split()}
            for s_ in stems_:
                _SYNONYMS.setdefault(s_, set()).update(stems_ - {s_})
    return _SYNONYMS.get(word_stem, set())


def tokenize(text: str) -> list[Token]:
    """Words, numbers, dates, times and quoted literals; hyphenated words are split ("round-trip" is two words)."""
    out: list[Token] = []
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup or "word"
        raw = match.group()
        if kind == "quoted":
            inner = raw[1:-1].strip()
            out.append(Token(inner, inner.lower(), stem(inner), match.start(), match.end(), "quoted"))
        elif kind == "numero":  # "no. of students", "# of orders": the word number
            out.append(Token(raw, "number", stem("number"), match.start(), match.end(), "word"))
        elif kind == "ordinal":
            out.append(Token(raw, raw.lower(), raw.lower(), match.start(), match.end(), "word"))
        elif kind == "word" and ("-" in raw or "_" in raw) and not raw.startswith("-"):
            offset = match.start()
            for part in re.split(r"[-_]", raw):
                if part:
                    out.append(Token(part, part.lower(), stem(part), offset, offset + len(part)))
                offset += len(part) + 1
        elif kind == "time":
            out.append(Token(raw, raw.lower(), raw.lower(), match.start(), match.end(), "time"))
        else:
            lower = raw.lower()
            # "GPAs", "URLs": an acronym's plural (the stemmer keeps the s after a vowel)
            said = lower[:-1] if kind == "word" and _ACRONYM_PLURAL.fullmatch(raw) else lower
            out.append(Token(raw, lower, stem(said) if kind == "word" else lower, match.start(), match.end(), kind))
    return out


_ACRONYM_PLURAL = re.compile(r"[A-Z]{2,}s")


_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")


def identifier_words(name: str) -> list[str]:
    """`xyOrderDateTime` -> [xy, order, date, time]; `review_num` -> [review, num]; lower case."""
    words: list[str] = []
    for part in re.split(r"[^A-Za-z0-9]+", name):
        words += [w.lower() for w in _CAMEL.findall(part)]
    return words


def number_value(tokens: list[Token], index: int) -> tuple[float, int] | None:
    """The number starting at tokens[index] ("42", "1,000", "ten", "a hundred thousand"): (value, tokens used)."""
    token = tokens[index]
    if token.kind == "number":
        text = token.lower.replace(",", "").replace("$", "").rstrip("%")
        try:
            value = float(text)
        except ValueError:
            return None
        used = 1
        if index + 1 < len(tokens) and tokens[index + 1].lower in SCALE_WORDS:
            value *= SCALE_WORDS[tokens[index + 1].lower]
            used = 2
        return value, used
    words = 0
    value = 0.0
    current = 0.0
    i = index
    if token.lower in ("a", "an") and i + 1 < len(tokens) and tokens[i + 1].lower in SCALE_WORDS:
        current = 1.0
        i += 1
    while i < len(tokens):
        word = tokens[i].lower
        if word in NUMBER_WORDS:
            current += NUMBER_WORDS[word]
        elif word in SCALE_WORDS and (current or value):
            scale = SCALE_WORDS[word]
            if scale == 100:
                current *= scale
            else:
                value += current * scale
                current = 0.0
        elif word == "and" and words and i + 1 < len(tokens) and tokens[i + 1].lower in NUMBER_WORDS:
            pass
        else:
            break
        words += 1
        i += 1
    if not words:
        return None
    return value + current, i - index


class Segmenter:
    """Splits names written without separators ("xycustsignupdate" -> xy cust signup date).

    wordninja's English word costs, with the schema's own words and the abbreviations above made cheap, so
    "cust" and "tx" win over splits into rarer English words.
    """

    def __init__(self, extra_words: set[str] | frozenset[str] = frozenset()) -> None:
        self._model = None
        try:
            import wordninja

            base = wordninja.DEFAULT_LANGUAGE_MODEL
            model = object.__new__(wordninja.LanguageModel)
            costs = dict(base._wordcost)
            cheap = min(costs.values()) + 1.0
            for word in set(ABBREVIATIONS) | {w.lower() for w in extra_words if len(w) > 1}:
                costs[word] = min(costs.get(word, 99.0), cheap + 2.0)
            model._wordcost = costs
            model._maxword = max(base._maxword, max((len(w) for w in costs), default=1))
            self._model = model
        except (ImportError, AttributeError):  # no segmentation: names stay whole, which still links by itself
            self._model = None

    def split(self, chunk: str) -> list[str]:
        if self._model is None or len(chunk) < 5 or not chunk.isalpha():
            return [chunk]
        parts = [p.lower() for p in self._model.split(chunk)]
        if len(parts) > 1 and parts[-1] in ("s", "es"):
            parts[-2:] = [parts[-2] + parts[-1]]  # a plural ending is no word ("athletes" beside "athlete_id")
        # a split into fragments no one would write is worse than the whole name
        if any(len(p) == 1 for p in parts) and len(parts) > 2:
            return [chunk]
        return parts or [chunk]


def common_prefix(names: list[str]) -> str:
    """The characters every name starts with (lower case), when each name goes on after it."""
    if len(names) < 2:
        return ""
    lowered = [n.lower() for n in names]
    prefix = lowered[0]
    for name in lowered[1:]:
        while not name.startswith(prefix):
            prefix = prefix[:-1]
    if len(prefix) < 2 or any(len(n) <= len(prefix) + 1 for n in lowered):
        return ""
    return prefix


# --- abbreviations a schema makes up (StuID, crs_code, emp_fname) -------------------------------------------------

# an initial before "name": fname, lname, mname
NAME_INITIALS = {"f": "first", "l": "last", "m": "middle"}
# wordninja's cost of a word (lower is commoner); above this, a short name part is no everyday word ("stu", "crs")
_RARE_COST = 11.8


@lru_cache(maxsize=1)
def _word_costs() -> dict[str, float]:
    try:
        import wordninja

        return dict(wordninja.DEFAULT_LANGUAGE_MODEL._wordcost)
    except (ImportError, AttributeError):
        return {}


def everyday_word(word: str) -> bool:
    """Whether `word` is common English ("age", "grade"), not a made-up short form ("stu", "hrs")."""
    return _word_costs().get(word.lower(), 99.0) < _RARE_COST


def abbreviates(short: str, word: str) -> bool:
    """Whether `short` can be written for `word`: its start ("stu" for student, "prof" for professor) or, from
    three letters, its letters in order from the same first letter ("crs" for course, "hrs" for hours)."""
    if len(word) < len(short) + 2 or not short or short[0] != word[0] or not short.isalpha():
        return False
    if word.startswith(short):
        return len(short) >= 2
    if len(short) < 3:
        return False
    rest = iter(word[1:])
    return all(ch in rest for ch in short[1:])


def expand_name_parts(parts: list[str], full_words: dict[str, int]) -> list[str]:
    """A name's parts with made-up short forms spelt out from the schema's own words: `stu id` -> student id
    (where a table is "student"), `emp fname` -> employee first name. `full_words` counts the words the schema
    spells out in full; a short form with several candidates takes the commonest (a start before letters in
    order)."""
    out: list[str] = []
    for k, part in enumerate(parts):
        if part in ("fname", "lname", "mname"):
            out += [NAME_INITIALS[part[0]], "name"]
            continue
        if part in NAME_INITIALS and k + 1 < len(parts) and parts[k + 1] == "name":
            out.append(NAME_INITIALS[part])
            continue
        if len(part) < 2 or len(part) > 5 or part in ABBREVIATIONS or part in full_words or everyday_word(part) \
                or not part.isalpha():
            out.append(part)
            continue
        candidates = [(not w.startswith(part), -n, w) for w, n in full_words.items() if abbreviates(part, w)]
        out.append(min(candidates)[2] if candidates else part)
    return out
