"""Which words of a question carry little on their own: verbs that relate things ("placed", "sold", "lives"),
particles ("up", "out"). A question may leave such a word unread and still be answered; an unread noun or
adjective ("revenue", "country", "weather") is something the catalog doesn't have, and is asked back.

Parts of speech come from lemminflect's bundled English lexicon (no model, nothing loaded from the network); a
word it can read as a noun is never light.
"""

from __future__ import annotations

import functools

__all__ = ["AUXILIARIES", "is_light", "is_light_at"]

PARTICLES = frozenset("up down out off over away back along around about through together apart".split())


@functools.lru_cache(maxsize=8192)
def is_light(word: str) -> bool:
    """Whether `word` (as written) is a verb form or a particle that no lexicon entry reads as a noun or adjective
    alone ("placed" and "live" are light; "cost", "shop" and "revenue" are not)."""
    lowered = word.lower().strip("'\".,;:!?")
    if not lowered.isalpha():
        return False
    if lowered in PARTICLES:
        return True
    from lemminflect import getAllLemmas

    classes = set(getAllLemmas(lowered))
    if not classes:
        # not in the lexicon: an inflected verb form ("-ed", "-ing") is light, anything else may be a name
        return lowered.endswith(("ed", "ing")) and len(lowered) > 5
    return "VERB" in classes and "NOUN" not in classes and "PROPN" not in classes


PREPOSITIONS = frozenset("in at on for from with under by to into".split())
# words after which a word that may be a noun or a verb is a verb ("did each state place", "to sell")
AUXILIARIES = frozenset("do does did don't doesn't didn't will would can could to has have had was were is are be "
                        "been being".split())


def is_light_at(words: list[str], index: int) -> bool:
    """`is_light` for the word at `index`, also reading a noun-or-verb as a verb right after an auxiliary
    ("how many orders did each state place": `place`), two words back at most."""
    word = words[index]
    if is_light(word):
        return True
    from lemminflect import getAllLemmas

    if "VERB" not in getAllLemmas(word.lower()):
        return False
    if word.lower().endswith(("ing", "ed")) and index + 1 < len(words) and words[index + 1].lower() in PREPOSITIONS:
        return True  # "living in", "located at", "enrolled in": a verb that relates, before its preposition
    return any(w.lower() in AUXILIARIES for w in words[max(0, index - 3):index]) and (
        index == len(words) - 1 or not words[index + 1].isalpha())
