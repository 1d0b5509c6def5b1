"""Negation across tables: "players that do not have coaches", "storms which don't have affected regions",
"people who never sold a car", "students who didn't attend any course".

A negation word shortly before a table's name (at most REACH words), with only verbs and small words between
them (nothing else the question names), says the rows listed have no related row in that table: NOT EXISTS.
"""

from __future__ import annotations

from collections.abc import Collection

# negations that deny a relation ("do not have", "never attended", "didn't teach")
NEGATION_VERBS = frozenset({"not", "never", "don't", "doesn't", "didn't", "haven't", "hasn't", "isn't", "aren't",
                            "weren't", "wasn't", "without"})
# how many words before the table's name the negation may stand
REACH = 4


def denies(words: list[str], start: int, named: Collection[int], stop_words: Collection[str]) -> bool:
    """Whether the table named from index `start` is denied: a negation within REACH words before it, and no
    word between them that names something (`named`: indices of words linked to the catalog)."""
    at = next((i for i in range(start - 1, max(-1, start - 1 - REACH), -1) if words[i] in NEGATION_VERBS), None)
    if at is None:
        return False
    return not any(i in named and words[i] not in stop_words for i in range(at + 1, start))
