"""Value grounding: words and literals of a question found among columns' sampled distinct values."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

from nl2sql.catalog import PromptTable

from nl2sql.retrieval.dto import ValueMatch

US_STATES = {
    "alabama": "AL", "alaska": "AK", "arizona": "AZ", "arkansas": "AR", "california": "CA", "colorado": "CO",
    "connecticut": "CT", "delaware": "DE", "florida": "FL", "georgia": "GA", "hawaii": "HI", "idaho": "ID",
    "illinois": "IL", "indiana": "IN", "iowa": "IA", "kansas": "KS", "kentucky": "KY", "louisiana": "LA",
    "maine": "ME", "maryland": "MD", "massachusetts": "MA", "michigan": "MI", "minnesota": "MN",
    "mississippi": "MS", "missouri": "MO", "montana": "MT", "nebraska": "NE", "nevada": "NV",
    "new hampshire": "NH", "new jersey": "NJ", "new mexico": "NM", "new york": "NY", "north carolina": "NC",
    "north dakota": "ND", "ohio": "OH", "oklahoma": "OK", "oregon": "OR", "pennsylvania": "PA",
    "rhode island": "RI", "south carolina": "SC", "south dakota": "SD", "tennessee": "TN", "texas": "TX",
    "utah": "UT", "vermont": "VT", "virginia": "VA", "washington": "WA", "west virginia": "WV",
    "wisconsin": "WI", "wyoming": "WY", "district of columbia": "DC",
}
STATE_NAMES = {code.lower(): name for name, code in US_STATES.items()}

# words so common in questions that a column value equal to one of them is no evidence
COMMON = frozenset(
    "a an and are as at be by for from has have how i in is it its many me much of on or per show than that the "
    "their them there these this those to was were what when where which who whose why with all any each list "
    "give get find tell total number count average sum most least top over under between after before during "
    "not no yes one two first last new old".split()
)
WORD = re.compile(r"[\w][\w'.&/-]*", re.UNICODE)
QUOTED = re.compile(r"\"([^\"]{1,200})\"|'([^']{1,200})'|“([^”]{1,200})”")
MAX_NGRAM = 4
FUZZY_MAX = 3


def trigrams(text: str) -> set[str]:
    """pg_trgm-style trigrams: each word padded with two spaces in front and one behind."""
    grams: set[str] = set()
    for word in re.findall(r"[a-z0-9]+", text.lower()):
        padded = f"  {word} "
        grams.update(padded[i:i + 3] for i in range(len(padded) - 2))
    return grams


def similarity(a: str, b: str) -> float:
    """Trigram similarity as pg_trgm computes it: shared / (all distinct) trigrams."""
    ta, tb = trigrams(a), trigrams(b)
    if not ta or not tb:
        return 0.0
    shared = len(ta & tb)
    return shared / (len(ta) + len(tb) - shared)


@dataclass(frozen=True)
class _Owner:
    table: str
    column: str
    value: str


class ValueIndex:
    """Sampled distinct values of non-sensitive columns, for exact (case-insensitive) and trigram lookups."""

    def __init__(self, tables: tuple[PromptTable, ...]) -> None:
        self._exact: dict[str, list[_Owner]] = defaultdict(list)
        for table in tables:
            for column in table.columns:
                if column.sensitive or not column.values:
                    continue
                for value in column.values:
                    key = str(value).strip().lower()
                    if key:
                        self._exact[key].append(_Owner(table.qualified_name, column.name, str(value)))
        self._keys = list(self._exact)
        self._grams: dict[str, list[int]] = defaultdict(list)
        self._sizes: list[int] = []
        for i, key in enumerate(self._keys):
            grams = trigrams(key)
            self._sizes.append(len(grams))
            for gram in grams:
                self._grams[gram].append(i)

    def __len__(self) -> int:
        return len(self._keys)

    def _fuzzy(self, phrase: str, threshold: float) -> list[tuple[str, float]]:
        grams = trigrams(phrase)
        if not grams:
            return []
        shared: dict[int, int] = defaultdict(int)
        for gram in grams:
            for i in self._grams.get(gram, ()):
                shared[i] += 1
        words = len(phrase.split())
        found = []
        for i, count in shared.items():
            score = count / (len(grams) + self._sizes[i] - count)
            # a typo or a variant spelling, not one word of a longer value (`customers` is no `Customer 7`)
            if score >= threshold and len(self._keys[i].split()) == words:
                found.append((self._keys[i], score))
        # a phrase close to many values points at none of them
        return found if len(found) <= FUZZY_MAX else []

    def match(self, question: str, *, threshold: float, limit: int) -> list[ValueMatch]:
        """Values the question mentions, best first: exact 1.0, state name/code 0.95, fuzzy by trigram similarity."""
        if not self._keys or limit <= 0:
            return []
        best: dict[tuple[str, str, str], float] = {}

        def found(key: str, score: float) -> None:
            for owner in self._exact.get(key, ()):
                slot = (owner.table, owner.column, owner.value)
                if score > best.get(slot, 0.0):
                    best[slot] = score

        phrases = _phrases(question)
        for phrase, exact_case in phrases:
            key = phrase.lower()
            if key in self._exact and (not exact_case or any(o.value == phrase for o in self._exact[key])):
                found(key, 1.0)
                continue
            if key in US_STATES and US_STATES[key].lower() in self._exact:
                found(US_STATES[key].lower(), 0.95)
            if exact_case and key in STATE_NAMES and STATE_NAMES[key] in self._exact:
                found(STATE_NAMES[key], 0.95)
            if len(key) >= 4 and not exact_case:
                for other, score in self._fuzzy(key, threshold):
                    found(other, round(score, 3))
        ranked = sorted(best.items(), key=lambda kv: (-kv[1], -len(kv[0][2]), kv[0]))
        return [ValueMatch(table=t, column=c, value=v, score=s) for (t, c, v), s in ranked[:limit]]


def _phrases(question: str) -> list[tuple[str, bool]]:
    """Candidate literals: quoted strings, and word n-grams not made only of common words.

    The flag says the phrase must match with its case (short tokens like `CA` or `IN` are only
    evidence when written as the value is).
    """
    out: list[tuple[str, bool]] = []
    for groups in QUOTED.findall(question):
        text = next(g for g in groups if g).strip()
        if text:
            out.append((text, False))
    words = [w.strip(".'/-&") for w in WORD.findall(question)]
    words = [w for w in words if w]
    for n in range(MAX_NGRAM, 0, -1):
        for i in range(len(words) - n + 1):
            gram = words[i:i + n]
            lowered = [w.lower() for w in gram]
            if all(w in COMMON for w in lowered) or lowered[0] in COMMON and n > 1 and lowered[-1] in COMMON:
                continue
            phrase = " ".join(gram)
            short = n == 1 and len(phrase) <= 2
            if short and not phrase.isupper():
                continue
            if n == 1 and lowered[0] in COMMON and not phrase.isupper():
                continue
            out.append((phrase, short or (n == 1 and phrase.isupper() and len(phrase) <= 3)))
    return out
