"""KeywordIndex: the full-text match of tables and columns, in memory, ranked as PostgreSQL ranks it.

The database's keyword search (`ts_rank(tsv, query, 1)` over every matching row) cost 15-25 ms per question
on a 50,000-column catalog, most of it fetching thousands of wide rows. The same ranking over an inverted
index built once per catalog version takes a few milliseconds.
"""

from __future__ import annotations

import heapq
import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable

from nl2sql.retrieval.embedder import split_identifier, stem

# ts_rank's weight of a position without a label (D), and its normaliser: the limit of sum(1/i^2), pi^2/6
WEIGHT_D = 0.1
SUM_INVERSE_SQUARES = 1.64493406685
# a tsvector keeps at most this many positions of one lexeme
MAX_POSITIONS = 256
WORD = re.compile(r"[a-z0-9]+")


def keyword_terms(text: str) -> str:
    """An item's words as its full-text entry holds them: lower case, identifiers split, plurals stemmed."""
    return " ".join(stem(w) for w in WORD.findall(split_identifier(text).lower()))


def _term_rank(occurrences: int) -> float:
    """One query term's share in ts_rank (calc_rank_or) for a lexeme found `occurrences` times, all weight D."""
    n = min(occurrences, MAX_POSITIONS)
    return sum(WEIGHT_D / (j * j) for j in range(1, n + 1)) / SUM_INVERSE_SQUARES


TERM_RANK = [_term_rank(n) for n in range(MAX_POSITIONS + 1)]


class KeywordIndex:
    """Entries (kind, key, terms as keyword_terms() writes them) searchable by OR of terms.

    `match()` scores as `ts_rank(to_tsvector('simple', terms), to_tsquery('simple', 't1 | t2'), 1)`: per
    found term the weighted sum over its positions, averaged over the query's terms, divided by
    log2(1 + the entry's word count).
    """

    def __init__(self, entries: Iterable[tuple[str, str, str]]) -> None:
        self._keys: list[tuple[str, str]] = []
        postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
        for kind, key, terms in entries:
            counts = Counter(terms.split())
            if not counts:
                continue
            length = sum(min(n, MAX_POSITIONS) for n in counts.values())
            norm = math.log2(length + 1)
            entry = len(self._keys)
            self._keys.append((kind, key))
            for term, n in counts.items():
                postings[term].append((entry, TERM_RANK[min(n, MAX_POSITIONS)] / norm))
        self._postings = dict(postings)

    def match(self, terms: list[str], limits: dict[str, int]) -> dict[tuple[str, str], float]:
        """(kind, key) -> rank of the best `limits[kind]` entries holding any of the terms."""
        unique = list(dict.fromkeys(terms))
        if not unique:
            return {}
        ranks: dict[int, float] = defaultdict(float)
        for term in unique:
            for entry, rank in self._postings.get(term, ()):
                ranks[entry] += rank
        by_kind: dict[str, list[tuple[float, tuple[str, str]]]] = defaultdict(list)
        size = len(unique)
        for entry, rank in ranks.items():
            key = self._keys[entry]
            if limits.get(key[0], 0) > 0:
                by_kind[key[0]].append((rank / size, key))
        found: dict[tuple[str, str], float] = {}
        for kind, ranked in by_kind.items():
            for rank, key in heapq.nsmallest(limits[kind], ranked, key=lambda rk: (-rk[0], rk[1])):
                found[key] = rank
        return found
