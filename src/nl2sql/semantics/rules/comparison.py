"""Comparisons with a number that the reader's fixed phrases don't list.

- Any comparative adjective before "than" compares: "taller than 1.85", "heavier than 10", "cheaper than 5".
  Most comparatives mean "more"; the words in LESS_COMPARATIVES mean "less".
- Two comparisons of one column with "or" between them are either: "population over 1500 or less than 500".
- "once", "twice" are numbers: "more than once" is "more than 1".
- A number right after a column's name is that column's value: "grade 4", "room 107", "the document with id 7",
  "block floor 1" (a column, then the number, nothing between them).
"""

from __future__ import annotations

from nl2sql.semantics.lexicon import stem
from nl2sql.semantics.model import SemanticModel
from nl2sql.semantics.plan import Col

# comparatives that point down ("lower than", "cheaper than"); any other "-er than" / "more ... than" points up
LESS_COMPARATIVES = frozenset({
    "less", "fewer", "lower", "smaller", "shorter", "younger", "lighter", "cheaper", "earlier", "slower",
    "thinner", "narrower", "poorer", "weaker", "worse", "closer", "nearer", "shallower",
})
# words that are a number of times ("more than once", "at least twice")
TIMES_WORDS = {"once": 1, "twice": 2, "thrice": 3}
# words ending in -er before "than" that compare nothing ("other than", "rather than")
NOT_COMPARATIVES = frozenset({"other", "rather", "whether", "either", "neither", "never", "number", "order"})


def comparative(words: list[str], index: int) -> tuple[str, set[int]] | None:
    """ "X-er than" ending right before ``index``: (">" or "<", the cue's token indices), else None."""
    if index < 2 or words[index - 1] != "than":
        return None
    word = words[index - 2]
    if word in NOT_COMPARATIVES:
        return None
    if word in LESS_COMPARATIVES:
        return "<", {index - 2, index - 1}
    if word.endswith("er") and len(word) > 3 or word in ("more", "greater", "bigger", "larger", "better"):
        return ">", {index - 2, index - 1}
    return None


def names_column_before(number_index: int, column_ends: set[int], words: list[str] | None = None) -> bool:
    """The number follows a column's name directly ("grade 4", "id 7"), or after "is" ("whose number of loans is
    0"): it is that column's value."""
    if number_index in column_ends:
        return True
    if not words or number_index < 1:
        return False
    return words[number_index - 1] in ("is", "equals", "was") and number_index - 1 in column_ends


# what a comparative adjective measures when the question names no column ("taller than 1.85": the height)
COMPARATIVE_PROPERTIES = {
    "taller": "height", "shorter": "height length duration", "heavier": "weight", "lighter": "weight",
    "older": "age", "younger": "age", "years": "age", "year": "age", "longer": "length duration distance", "faster": "speed", "slower": "speed",
    "bigger": "size area capacity", "larger": "size area capacity", "smaller": "size area capacity",
    "cheaper": "price cost", "richer": "wealth worth", "wider": "width", "deeper": "depth",
    # verbs before "more than" / "less than" ("weigh more than 80", "cost less than 5", "earn over 3000")
    "weigh": "weight", "weighs": "weight", "weighing": "weight", "cost": "price cost", "costs": "price cost",
    "costing": "price cost", "earn": "salary income wage pay", "earns": "salary income wage pay",
    "earning": "salary income wage pay", "last": "duration length", "lasts": "duration length",
    "lasted": "duration length", "measure": "length size", "measures": "length size",
}


def property_column(model: SemanticModel, tables: list[str], word: str) -> Col | None:
    """The numeric column of one of `tables` that the comparative `word` measures ("taller": a height column)."""
    properties = COMPARATIVE_PROPERTIES.get(word)
    if not properties:
        return None
    wanted = [stem(w) for w in properties.split()]
    for want in wanted:
        for table in tables:
            for attribute in model.entity(table).attributes:
                if attribute.is_numeric and attribute.role == "measure" and want in attribute.words:
                    return Col(table, attribute.name)
    return None


def either_comparison(conditions: list[tuple[object, set[int]]], words: list[str]) -> dict[int, int]:
    """Pairs of comparisons on one column with "or" between them ("population over 1500 or less than 500"):
    {index of the first: index of the second} into `conditions` ((condition, tokens) pairs)."""
    from nl2sql.semantics.plan import Compare

    pairs: dict[int, int] = {}
    for a, (first, tokens_a) in enumerate(conditions):
        for b, (second, tokens_b) in enumerate(conditions):
            if b <= a or a in pairs or b in pairs.values() or not tokens_a or not tokens_b:
                continue
            if not (isinstance(first, Compare) and isinstance(second, Compare) and first.left == second.left):
                continue
            own_a, own_b = tokens_a - tokens_b, tokens_b - tokens_a  # the column's name may be shared
            if not own_a or not own_b:
                continue
            low, high = sorted((own_a, own_b), key=min)
            between = words[max(low) + 1:min(high)]
            if "or" in between and len(between) <= 3:
                pairs[a] = b
    return pairs


# "taller than average", "a salary above the average", "below average": a comparison with all rows' mean; "a
# balance below the maximum balance": with all rows' largest
AVERAGE_WORDS = frozenset({"average", "mean"})
OVERALL_WORDS = {"average": "avg", "mean": "avg", "maximum": "max", "max": "max", "minimum": "min", "min": "min"}
ABOVE_BELOW = {"above": ">", "over": ">", "below": "<", "under": "<"}


def overall_comparison(words: list[str], index: int) -> tuple[str, set[int], str] | None:
    """(">" or "<", the cue's token indices, the aggregate) when words[index] is "average" (or "maximum",
    "minimum" after "the") compared with: "shorter than average", "below the maximum balance"."""
    if words[index] not in OVERALL_WORDS or words[index] not in AVERAGE_WORDS and words[index - 1:index] != ["the"]:
        return None
    found = average_comparison(words, index, OVERALL_WORDS)
    return (*found, OVERALL_WORDS[words[index]]) if found else None


def average_comparison(words: list[str], index: int, cues=AVERAGE_WORDS) -> tuple[str, set[int]] | None:
    """(">" or "<", the cue's token indices) when words[index] is "average" compared with ("shorter than
    average", "higher than the average", "above average"), else None."""
    if words[index] not in cues:
        return None
    at = index - 1 if index >= 1 and words[index - 1] in ("the", "an") else index
    if at >= 1 and words[at - 1] in ABOVE_BELOW:
        return ABOVE_BELOW[words[at - 1]], set(range(at - 1, index + 1))
    found = comparative(words, at)
    if found is None:
        return None
    op, cue = found
    return op, cue | set(range(at, index + 1))
