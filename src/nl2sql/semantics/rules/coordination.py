"""Coordinated aggregates: several aggregate words over one column, one aggregate word over several columns, a
column listed beside an aggregate.

- "the minimum, average, and maximum age", "the total and maximum duration": the aggregate words joined by
  commas and "and" share the column named after the last one: MIN(age), AVG(age), MAX(age).
- "the average latitude and longitude", "the average height and weight": the column after "and" takes the same
  aggregate: AVG(lat), AVG(long).
- "show all ages and corresponding number of students", "the positions and the average height": a column
  listed right before "and <aggregate>" is what the aggregate is grouped by.

A counting phrase right after another aggregate word ("the maximum number of bathrooms") is part of the column's
name, not a count of its own.
"""

from __future__ import annotations

# words that join coordinated items
JOINERS = frozenset({",", "and", "or", "&", "as", "well", "also", "the"})


def aggregate_chains(words: list[str], cues: list[tuple[int, int, str]]) -> list[list[tuple[int, int, str]]]:
    """Runs of two or more aggregate cues with only joining words between them ("minimum, average and
    maximum"); a count cue that directly follows another cue ("maximum number of") is left out."""
    chains: list[list[tuple[int, int, str]]] = []
    current: list[tuple[int, int, str]] = []
    for cue in sorted(cues):
        if current:
            gap = words[current[-1][1]:cue[0]]
            if not gap and cue[2] == "count":
                continue  # "maximum number of X": X's maximum
            if gap and all(w in JOINERS for w in gap) and any(w in (",", "and", "&") for w in gap):
                current.append(cue)
                continue
            if len(current) > 1:
                chains.append(current)
        current = [cue]
    if len(current) > 1:
        chains.append(current)
    return chains


def coordinated_columns(words: list[str], after: int, links: list, taken: set[int]) -> list:
    """Column links joined by "and"/"," right after index `after` ("height and weight": the weight link),
    as long as each is named next to the previous one and by words no other part of the question took."""
    out = []
    at = after
    while at < len(words) and words[at] in (",", "and"):
        nxt = at + 1
        while nxt < len(words) and words[nxt] in ("the", "its", "their", "and"):
            nxt += 1
        found = [l for l in links if l.kind == "column" and l.start == nxt and l.score >= 0.6
                 and not set(l.matched) & taken]
        if not found:
            break
        best = max(found, key=lambda l: (l.score, len(l.matched)))
        out.append(best)
        at = best.end
    return out


# words that may stand between "and" and an aggregate listed beside a column ("ages and corresponding number")
BESIDE = frozenset({"the", "corresponding", "their", "its", "respective", "associated", "a", "total"})


def column_beside_aggregate(words: list[str], links: list, cue_start: int, taken: set[int]):
    """ "Show all ages and corresponding number of students", "the transaction type and the number of
    transactions": a column named right before "and <aggregate>" is what the aggregate is grouped by. The
    column's link, or None."""
    j = cue_start - 1
    while j >= 0 and words[j] in BESIDE:
        j -= 1
    if j < 1 or words[j] != "and":
        return None
    found = [l for l in links if l.kind == "column" and l.end == j and l.score >= 0.6 and not set(l.matched) & taken]
    return max(found, key=lambda l: (l.score, len(l.matched))) if found else None
