"""Ordering phrases the reader's "ordered by X" cue doesn't cover: "in the descending order of age", "in
decreasing order of their sales", "sort them in ascending order of building stories", "sort the rooms
according to the price".

The key is named right after "of" (or "according to"); the adjective before "order" gives the direction.
"""

from __future__ import annotations

# adjectives before "order" and the direction each gives (True: descending)
DIRECTIONS = {"descending": True, "decreasing": True, "reverse": True, "reversed": True, "ascending": False,
              "increasing": False, "alphabetical": False, "chronological": False}
# words that may stand between "in" and "order"
FILLERS = frozenset({"the", "a", "an"})
# words after "order" that lead to its key: "in descending order of age", "in the descending order using age"
KEY_LEADS = frozenset({"of", "using", "by", "on"})
# verbs that make "according to X" an ordering
SORT_VERBS = frozenset({"sort", "sorted", "order", "ordered", "rank", "ranked", "arrange", "arranged", "list", "listed"})


def order_phrase(words: list[str]) -> tuple[int, bool | None, set[int]] | None:
    """(index where the key's name starts, descending? or None, the phrase's token indices)."""
    for i, w in enumerate(words):
        if w == "order" and i + 1 < len(words) and words[i + 1] in KEY_LEADS:
            j = i - 1
            desc = None
            used = {i, i + 1}
            while j >= 0 and (words[j] in DIRECTIONS or words[j] in FILLERS):
                if words[j] in DIRECTIONS:
                    desc = DIRECTIONS[words[j]]
                used.add(j)
                j -= 1
            if j >= 0 and words[j] == "in":
                used.add(j)
                return i + 2, desc, used
        if w == "according" and i + 1 < len(words) and words[i + 1] == "to" and SORT_VERBS & set(words[:i]):
            return i + 2, None, {i, i + 1}
    return None
