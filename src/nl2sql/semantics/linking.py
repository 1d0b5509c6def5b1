"""Schema linking: which words of a question name which tables, columns and values of the semantic model.

Words are compared by stem, weighted by how rare they are in the schema (a schema where every column ends
in `id` learns nothing from "id"); a column's words may be spread over a few neighbouring words of the
question ("number of passengers booked" names `num_passengers`). Values come from the catalog's sampled values.

One file: names and values are linked through one index of the schema's words (each name's variants, the words'
weights), which both halves read and build.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field, replace
from functools import cached_property

from nl2sql.semantics.lexicon import (
    STOP_WORDS,
    Token,
    identifier_words,
    normalize,
    singular,
    stem,
    synonyms,
    tokenize,
)
from nl2sql.semantics.model import Attribute, Entity, SemanticModel

__all__ = ["Link", "Linker"]

# words of a question that never name schema elements on their own (cue words of analytics questions)
CUE_WORDS = frozenset(stem(w) for w in (
    "how many much number count total sum average avg mean maximum minimum max min highest lowest largest "
    "smallest biggest greatest most least fewest top bottom first last each every per by group order sort sorted "
    "ordered rank ranked ascending descending asc desc ratio proportion percentage percent share fraction "
    "distinct unique different between over under above below more less greater fewer than at least exactly "
    "equal equals not no without with none any both either neither whose which what who where when list show "
    "give return find display tell name names also along their its respective corresponding "
    "overall combined across respectively alphabetically alphabetical whole entire all".split()))
# Words too generic to name a column alone, however rare they are in this schema.
GENERIC = frozenset(stem(w) for w in "id key code number num name type date time value status flag info data".split())
# units in column names ("distance_km", "weight_kg"): the question rarely repeats them
UNITS = frozenset(stem(w) for w in ("km kg g lb lbs mi miles m cm mm usd eur gbp pct tons ton mins min secs sec ms "
                                     "hrs hr kwh l ml").split())
WINDOW = 4  # a column's words may be spread over this many question words
# little words a column name may hold that say nothing ("is_active", "ships_to_customers"); "from" and "to" stay
STOP_STEMS = frozenset(stem(w) for w in "is has have was are were the a an of for by with".split())


@dataclass(frozen=True)
class Link:
    """Question words [start, end) that name a table, a column or a value."""

    start: int
    end: int
    kind: str  # entity, column, value
    table: str
    column: str | None = None
    value: str | None = None
    score: float = 0.0
    matched: frozenset[int] = frozenset()  # the token indices that matched
    complete: bool = True  # every word of the name was found

    @property
    def span(self) -> range:
        return range(self.start, self.end)

    def rescored(self, score: float) -> Link:
        """This link with another score (cheaper than dataclasses.replace, which large catalogs call a lot)."""
        return Link(self.start, self.end, self.kind, self.table, self.column, self.value, score, self.matched,
                    self.complete)


@dataclass
class _Element:
    kind: str
    table: str
    column: str | None
    variants: list[tuple[tuple[str, ...], float]] = field(default_factory=list)
    table_words: frozenset[str] = frozenset()
    tight: set[int] = field(default_factory=set)  # variants whose words must stand side by side
    spoken: set[int] = field(default_factory=set)  # variants of how people say the name, not counted in weights


class Linker:
    """The schema's words, indexed once per semantic model."""

    def __init__(self, model: SemanticModel) -> None:
        self.model = model
        self._borrowed: set[tuple[str, int]] = set()
        self._elided: set[tuple[str, int]] = set()
        self._clipped: list[str] | None = None
        self._words_of_table: dict[str, frozenset[str]] = {}
        self.elements: list[_Element] = []
        # the names columns are spelt with ("card number": then no card_id is called that)
        spelt = frozenset(tuple(w for w in a.words if w not in STOP_STEMS)
                          for entity in model.entities.values() for a in entity.attributes)
        for entity in model.entities.values():
            self.elements.append(_entity_element(entity))
            for attribute in entity.attributes:
                if attribute.sensitive:
                    continue
                self.elements.append(_attribute_element(attribute, spelt))
        self.by_word: dict[str, list[tuple[int, int, float]]] = defaultdict(list)
        for index, element in enumerate(self.elements):
            for variant_index, (words, _) in enumerate(element.variants):
                for word in set(words):
                    self.by_word[word].append((index, variant_index, 0.0))

    @cached_property
    def weights(self) -> dict[str, float]:
        """Inverse frequency of each schema word among the elements' names (rare words say more)."""
        counts: dict[str, int] = defaultdict(int)
        for element in self.elements:
            for word in set(w for k, (words, _) in enumerate(element.variants) if k not in element.spoken
                            for w in words):
                counts[word] += 1
        total = max(1, len(self.elements))
        out = {}
        for word, n in counts.items():
            weight = math.log(1 + total / n)
            if word in GENERIC:
                weight *= 0.35
            elif word in UNITS:
                weight *= 0.2
            out[word] = weight
        return out

    def weight(self, word: str) -> float:
        return self.weights.get(word, 1.0)

    # -- names ----------------------------------------------------------------------------------------------

    def names(self, tokens: list[Token], skip: set[int] | None = None) -> list[Link]:
        """Every plausible table and column named by the question's words, best first."""
        skip = skip or set()
        positions: dict[str, list[int]] = defaultdict(list)
        borrowed: set[tuple[str, int]] = set()  # (schema word, position) matched through a synonym
        self._borrowed = borrowed
        for i, token in enumerate(tokens):
            if token.kind not in ("word", "quoted") or i in skip:
                continue
            if token.lower in STOP_WORDS:
                continue
            positions[token.stem].append(i)
            if token.kind == "quoted":
                for part in normalize(token.text).split():
                    positions[stem(part)].append(i)
            elif token.kind == "word":
                for other in synonyms(token.stem) | self._shortened(token):
                    if i not in positions[other]:
                        positions[other].append(i)
                        borrowed.add((other, i))
        self._elided = self._elided_heads(tokens, positions, skip)
        candidates: dict[tuple[int, int], None] = {}
        for word in positions:
            for element_index, variant_index, _ in self.by_word.get(word, ()):
                candidates[(element_index, variant_index)] = None
        links: dict[tuple[str, str, str | None, int, int], Link] = {}
        for element_index, variant_index in candidates:
            element = self.elements[element_index]
            words, base_score = element.variants[variant_index]
            present = {w for w in words if w in positions}
            if len(present) == 1 and len(set(words)) > 1 and (present <= GENERIC or present <= CUE_WORDS) \
                    and not _says_most(next(iter(present)), words) and not (
                    element.kind == "entity" and present <= _ORDER_STEMS
                    and not any(_used_as_cue(tokens, i) for i in positions[next(iter(present))])):
                # one generic word of a longer name ("name" of "supplier_name"): no link (as _align says); "the
                # latest order" names the customer orders (no ordering there)
                continue
            for link in self._align(element, words, base_score, positions, tokens, variant_index in element.tight):
                key = (link.kind, link.table, link.column, link.start, link.end)
                if key not in links or links[key].score < link.score:
                    links[key] = link
        # one link per element and question word: the best of the windows that share words
        kept: dict[tuple[str, str, str | None], list[Link]] = {}
        for link in sorted(links.values(), key=lambda l: (-l.score, l.start)):
            same = kept.setdefault((link.kind, link.table, link.column), [])
            overlapping = [k for k, other in enumerate(same) if set(link.matched) & set(other.matched)]
            if overlapping:
                k = overlapping[0]
                if link.kind == "entity" and _widens(same[k], link):
                    # "web accelerators" for web_client_accelerator: the shorter name scores higher, and the word
                    # before it is still part of the table's name
                    same[k] = replace(same[k], start=link.start, end=max(same[k].end, link.end),
                                      matched=same[k].matched | link.matched)
                continue
            same.append(link)
        out = [l for group in kept.values() for l in group]
        out = self._prefer_named_tables(out, set(positions))
        return sorted(out, key=lambda l: (-l.score, l.start))

    def _shortened(self, token: Token) -> set[str]:
        """The schema's clipped forms of a question word no name holds: "prerequisites" is the table prereq,
        "department" the column dept... (a schema word of 4 letters or more that starts the word)."""
        if token.stem in self.by_word or len(token.lower) < 7:
            return set()
        if self._clipped is None:
            self._clipped = sorted((w for w in self.by_word if len(w) >= 4 and w.isalpha()), key=len, reverse=True)
        return next(({w} for w in self._clipped if token.lower.startswith(w) and len(token.lower) >= len(w) + 2),
                    set())

    def _elided_heads(self, tokens: list[Token], positions: dict[str, list[int]], skip: set[int]) -> set[tuple[str, int]]:
        """ "the first, middle, and last names", "home and away scores": the noun after the last modifier is
        every modifier's. Each earlier modifier's place also holds the noun, for the names that hold both words
        ("first_name"); the (noun, place) pairs are returned so that other names don't take the noun there."""
        elided: set[tuple[str, int]] = set()
        words = [t.lower for t in tokens]
        for k, token in enumerate(tokens):
            if token.lower in ("and", "or") and k >= 2:
                elided |= self._shared_modifiers(tokens, k, positions, skip)
            if token.lower not in ("and", "or") or k + 2 >= len(tokens) or k < 1:
                continue
            last, head = tokens[k + 1], tokens[k + 2]
            if last.kind != "word" or head.kind != "word" or head.lower in STOP_WORDS or last.lower in STOP_WORDS:
                continue
            modifiers = []
            i = k - 2 if words[k - 1] == "," else k - 1  # "first, middle, and last"
            while i >= 0 and tokens[i].kind == "word" and words[i] not in STOP_WORDS and i not in skip:
                modifiers.append(i)
                if i >= 1 and words[i - 1] == ",":
                    i -= 2
                    continue
                break
            for m in modifiers:
                if words[m] == "," or tokens[m].stem == head.stem:
                    continue
                # only where a name of the schema holds both words: "first" + "name", not "cats" + "dogs"
                holders = {e for e, _, _ in self.by_word.get(tokens[m].stem, ())}
                if holders & {e for e, _, _ in self.by_word.get(head.stem, ())} and m not in positions[head.stem]:
                    positions[head.stem].append(m)
                    positions[head.stem].sort()
                    elided.add((head.stem, m))
        return elided

    def _shared_modifiers(self, tokens: list[Token], k: int, positions: dict[str, list[int]],
                          skip: set[int]) -> set[tuple[str, int]]:
        """ "the budget type codes and descriptions": the modifiers before the first noun are the second noun's
        too (budget_type_description), where a name of the schema holds them with it."""
        words = [t.lower for t in tokens]
        second = k + 1
        if second >= len(tokens) or tokens[second].kind != "word" or words[second] in STOP_WORDS:
            return set()
        if second + 1 < len(tokens) and tokens[second + 1].kind == "word" and words[second + 1] not in STOP_WORDS:
            return set()  # "codes and type names": the second phrase has modifiers of its own
        modifiers, i = [], k - 2
        while i >= 0 and tokens[i].kind == "word" and words[i] not in STOP_WORDS and i not in skip:
            modifiers.append(i)
            i -= 1
        nouns = {e for e, _, _ in self.by_word.get(tokens[second].stem, ())}
        out: set[tuple[str, int]] = set()
        for m in modifiers:
            word = tokens[m].stem
            if nouns & {e for e, _, _ in self.by_word.get(word, ())} and second not in positions[word]:
                positions[word].append(second)
                positions[word].sort()
                out.add((word, second))
        return out

    def _table_words(self, table: str) -> frozenset[str]:
        found = self._words_of_table.get(table)
        if found is None:
            found = self._words_of_table[table] = frozenset(self.model.entity(table).words)
        return found

    def _prefer_named_tables(self, links: list[Link], present: set[str]) -> list[Link]:
        """The same column name in several tables, matched equally: the table the question names elsewhere wins.

        "the total refund amount issued" is refunds_issued.refund_amount, not refunds_requested's.
        """
        rivals: dict[tuple[int, int, str], list[Link]] = defaultdict(list)
        for link in links:
            if link.kind == "column" or (link.kind == "entity" and not link.complete):
                rivals[(link.start, link.end, link.column or "")].append(link)
        better: dict[int, Link] = {}
        for group in rivals.values():
            if len({l.table for l in group}) < 2:
                continue
            top = max(l.score for l in group)
            group = [l for l in group if l.score >= top - 0.1 and l.score >= 0.3]  # the rest lose anyway
            if len({l.table for l in group}) < 2:
                continue
            words = {l.table: self._table_words(l.table) for l in group}
            shared = frozenset.intersection(*words.values())
            named = {l.table for l in group if (words[l.table] - shared) & present}
            if not named or len(named) == len(group):
                continue
            for l in group:
                if l.table not in named:
                    better[id(l)] = l.rescored(round(l.score - (0.03 if l.kind == "column" else 0.08), 4))
        return [better.get(id(l), l) for l in links]

    def _align(self, element: _Element, words: tuple[str, ...], base: float, positions, tokens,
               tight: bool = False) -> list[Link]:
        """Windows of question words covering the variant's words (one per place), scored by weighted coverage."""
        wanted = list(dict.fromkeys(words))
        total = sum(self.weight(w) for w in wanted)
        if total <= 0:
            return []
        found: list[Link] = []
        anchors = sorted({p for w in wanted for p in positions.get(w, ())})
        for anchor in anchors:
            matched: dict[str, int] = {}
            for w in wanted:
                near = [p for p in positions.get(w, ()) if anchor <= p < anchor + WINDOW + len(wanted)
                        and ((w, p) not in self._elided or tokens[p].stem in wanted)]
                if near:
                    matched[w] = near[0]
            if not matched:
                continue
            # "payments and total amount": the words of two phrases make no one name; the first phrase's part stays
            # (nor a table across a grouping: "events for each party" names the events, grouped by party)
            cuts = ("and", "or", ",", ";", "each", "per", "every") if element.kind == "entity" else ("and", "or", ",", ";")
            cut = next((i for i in range(anchor + 1, max(matched.values())) if tokens[i].lower in cuts), None)
            if cut is not None:
                matched = {w: p for w, p in matched.items() if p < cut}
                if not matched:
                    continue
            covered = sum(self.weight(w) for w in matched)
            coverage = covered / total
            if len(matched) == 1 and len(wanted) > 1:
                only = next(iter(matched))
                if (only in GENERIC or only in CUE_WORDS) and not _says_most(only, wanted) and not (
                        element.kind == "entity" and only in _ORDER_STEMS and not _used_as_cue(tokens, matched[only])):
                    continue
            lo, hi = min(matched.values()), max(matched.values())
            hits = set(matched.values())
            if tight and (len(matched) != len(wanted) or hi - lo + 1 != len(hits)):
                continue
            # words in between that are no stop words ("number of references": no gap; "number of cited references": one)
            gaps = sum(1 for i in range(lo, hi + 1) if i not in hits and tokens[i].lower not in STOP_WORDS)
            score = base * coverage * (0.92 ** gaps) * (0.85 ** sum((w, p) in self._borrowed for w, p in matched.items()))
            if all(w in CUE_WORDS for w in matched) and all(_used_as_cue(tokens, i) for i in matched.values()):
                score *= 0.4
            if element.kind == "entity" and any(tokens[i].lower.endswith("ed") and len(tokens[i].lower) > 4
                                                 for i in matched.values()) \
                    and not self.model.entity(element.table).name.lower().endswith("ed"):
                score *= 0.8  # "shifts worked by", "items shipped": verbs, not the tables work_shift, ship
            if element.kind == "column" and element.table_words and all(w in element.table_words for w in matched):
                score *= 0.3  # only the table's own name: that names the table, not this column
            start, end = min(matched.values()), max(matched.values()) + 1
            link = Link(start, end, element.kind, element.table, element.column, None, round(score, 4),
                        frozenset(matched.values()), len(matched) == len(wanted))
            found.append(link)
        return found

    # -- values ---------------------------------------------------------------------------------------------

    def _column_words(self, table: str, column: str) -> tuple[str, ...]:
        try:
            return self.model.attribute(table, column).core_words
        except KeyError:
            return ()

    def spelled_out(self, tokens: list[Token]) -> list[Token]:
        """`tokens`, with a quoted name that is no value as a whole but whose words are values of different columns
        of one table read word by word: "Jeremy Gibbons" with first and last names in columns of their own."""
        out: list[Token] = []
        for token in tokens:
            inner = tokenize(token.text) if token.kind == "quoted" else []
            if len(inner) > 1 and not self.model.values.get(normalize(token.text)) and self._one_row(inner):
                offset = token.start + 1  # past the opening quote
                out += [Token(t.text, t.lower, t.stem, offset + t.start, offset + t.end, t.kind) for t in inner]
            else:
                out.append(token)
        return out

    def _one_row(self, words: list[Token]) -> bool:
        """Whether every word is a sampled value, each of another column of one table."""
        if any(t.kind != "word" for t in words):
            return False
        places = [{(e.table, e.column) for e in self.model.values.get(normalize(t.text)) or ()} for t in words]
        tables = set.intersection(*({table for table, _ in p} for p in places))
        return any(len({next(c for t, c in sorted(p) if t == table) for p in places}) == len(words)
                   for table in tables)

    def values(self, tokens: list[Token], skip_numbers: set[int] | None = None) -> list[Link]:
        """Spans of the question equal to a sampled value of some column (case and punctuation aside)."""
        out: list[Link] = []
        index = self.model.values
        if not index:
            return out
        n = len(tokens)
        for start in range(n):
            if tokens[start].kind == "punct":
                continue
            for end in range(min(n, start + 12), start, -1):
                if not _value_span(tokens, start, end):
                    continue
                words = [t.text for t in tokens[start:end] if t.kind != "punct"]
                key = normalize(" ".join(words))
                if not key:
                    continue
                entries = index.get(key)
                plural = False
                owned = tokens[end].lower if end < n else ""
                owner = words[-1][:-2] if words[-1].lower().endswith(("'s", "’s")) and stem(owned) in self.weights \
                    else None
                if not entries and owner:
                    # "Bob's friends": the owner of something the schema names is a value ("Peru's neighbour" is not)
                    entries = index.get(normalize(" ".join(words[:-1] + [owner])))
                if not entries and end - start == 1 and tokens[start].kind == "word" and words[0].isalpha() \
                        and stem(words[0]) not in self.weights:
                    # "all the instructors": the plural of a sampled value ('Instructor'), where no table or
                    # column is named by the word ("names", "mountains" are the schema's own words)
                    entries = index.get(normalize(singular(words[0])))
                    plural = bool(entries) and singular(words[0]) != words[0].lower()
                    entries = entries if plural else None
                if not entries:
                    continue
                single_stop = end - start == 1 and tokens[start].lower in STOP_WORDS and tokens[start].kind != "quoted"
                if single_stop:
                    # "a", "in", "or" are values only right after a word of their column ("a grade of A")
                    # ... and written as the value is: "countries in which ..." is no country code 'IN'
                    before = {stem(t.lower) for t in tokens[max(0, start - 3):start]}
                    entries = tuple(e for e in entries if before & set(self._column_words(e.table, e.column))
                                    and tokens[start].text == e.value)
                    if not entries:
                        continue
                numeric = all(t.kind == "number" for t in tokens[start:end])
                if numeric and skip_numbers and set(range(start, end)) & skip_numbers:
                    break
                said = _as_written(tokens[start:end])
                for entry in entries:
                    exact = said in (entry.value, entry.value.rstrip(".")) \
                        or (tokens[start].kind == "quoted" and end - start == 1) \
                        or (owner is not None and " ".join(words[:-1] + [owner]) == entry.value)
                    score = (0.95 if exact else 0.85) * (0.3 if single_stop else 1.0) * (0.6 if numeric else 1.0)
                    score *= 0.9 if plural else 1.0
                    if end - start == 1 and len(key) <= 2 and not exact:
                        score *= 0.5
                    out.append(Link(start, end, "value", entry.table, entry.column, entry.value, round(score, 4),
                                    frozenset(range(start, end))))
                break  # the longest value starting here
        return out


# at most this many words in a value's span (punctuation inside it aside: "stanley.monahan@example.org")
VALUE_WORDS = 6


# generic words that only say the name is a key: "status" says more of status_code than "code" does
KEYISH = frozenset(stem(w) for w in ("id", "key", "code", "number", "num", "no"))
KINDS = frozenset(stem(w) for w in ("status", "type"))


def _says_most(word: str, words) -> bool:
    """Whether "status" or "type" alone names a column spelt with it and key words ("the status" for
    status_code, "the type" for type_code)."""
    return word in KINDS and all(w in KINDS | KEYISH for w in words)


def _widens(kept: Link, other: Link) -> bool:
    """Whether `other` covers `kept`'s words plus words right before them, with nothing in between."""
    extra = other.matched - kept.matched
    return bool(extra) and kept.matched < other.matched and max(extra) < min(kept.matched) and \
        set(range(min(extra), min(kept.matched))) <= extra


def _value_span(tokens: list[Token], start: int, end: int) -> bool:
    """Whether tokens[start:end] can spell a value: at most VALUE_WORDS words, ending on a word, and any
    punctuation inside written against the word before it ("Ph.D", "Comp. Sci", "a.b@example.org"), as a sentence's
    own punctuation is not ("Paris, List")."""
    span = tokens[start:end]
    if span[-1].kind == "punct" or sum(t.kind != "punct" for t in span) > VALUE_WORDS:
        return False
    return all(t.kind != "punct" or (k and t.start == span[k - 1].end and t.text in ".@&/+")
               for k, t in enumerate(span))


def _as_written(span: list[Token]) -> str:
    """The span's text with its own spacing ("Comp. Sci", "Ph.D")."""
    out = span[0].text
    for before, token in zip(span, span[1:]):
        out += token.text if token.start == before.end else " " + token.text
    return out


_ORDER_WORDS = {"order", "ordered", "sort", "sorted", "rank", "ranked", "ranking"}
_ORDER_STEMS = frozenset(stem(w) for w in _ORDER_WORDS)


def _used_as_cue(tokens: list[Token], i: int) -> bool:
    """Whether a word that could name a table is used as a word of the question's grammar here.

    "orders" in "how many orders" names a table; "order" in "in descending order" or "ordered by" does not.
    """
    word = tokens[i].lower
    after = tokens[i + 1].lower if i + 1 < len(tokens) else ""
    if word in ("first", "last", "middle") and after in ("name", "names"):
        return False  # "the last names": a person's name part, no ordering
    if word in ("name", "names") and i and tokens[i - 1].lower in ("first", "last", "middle"):
        return False
    if word in _ORDER_WORDS or stem(word) in {stem(w) for w in _ORDER_WORDS}:
        after = tokens[i + 1].lower if i + 1 < len(tokens) else ""
        before = tokens[i - 1].lower if i else ""
        return word in ("ordered", "sorted", "ranked") or after in ("by", "of", "according") or before in (
            "in", "descending", "ascending", "alphabetical", "reverse", "increasing", "decreasing", "sort")
    return True


def _stems_of(attribute: Attribute) -> tuple[str, ...]:
    return attribute.words + attribute.table_words


def _entity_element(entity: Entity) -> _Element:
    element = _Element("entity", entity.table, None)
    if entity.words:
        element.variants.append((entity.words, 1.0))
        if len(entity.words) > 1 and not entity.bridge and entity.words[-1] not in GENERIC | CUE_WORDS | {stem("title")}:
            element.variants.append((entity.words[-1:], 0.7))  # "the payments" for payment_transactions; not "names"
    for phrase in entity.phrases:
        element.variants.append((phrase, 1.0))
    return element


# units a column's name may end with ("Sales_in_Billion", "length_meters", "Height_in_cm"): the quantity is named
# without them ("the largest sales")
UNIT_WORDS = frozenset(
    "billion billions million millions thousand thousands meter meters metre metres km kilometer kilometers mile "
    "miles feet foot ft inch inches cm mm kg kilogram kilograms pound pounds lb lbs usd dollar dollars euro euros "
    "eur gbp percent pct mph kmh seconds secs minutes mins hours hrs days years".split())


def _without_unit(words: list[str]) -> list[str]:
    """The name's words before a trailing unit ("sales in billion" -> sales; "length meters" -> length); [] when
    the name ends with no unit or would keep no word."""
    lowered = [w.lower() for w in words]
    k = len(lowered)
    while k > 0 and lowered[k - 1] in UNIT_WORDS:
        k -= 1
    if k == len(lowered):
        return []
    if k > 0 and lowered[k - 1] in ("in", "per"):
        k -= 1
    return words[:k] if k > 0 else []


# a first word that only says "the rest" ("other_details", "additional_info"): the column is named without it
FILLER_LEADS = frozenset(stem(w) for w in ("other", "additional", "extra", "misc", "miscellaneous"))


def _attribute_element(attribute: Attribute, siblings: frozenset[tuple[str, ...]] = frozenset()) -> _Element:
    element = _Element("column", attribute.table, attribute.name,
                       table_words=frozenset(attribute.table_words) - frozenset(attribute.core_words))
    content = tuple(w for w in attribute.words if w not in STOP_STEMS)
    if attribute.words:
        element.variants.append((content or attribute.words, 1.0))
    core = attribute.core_words
    if core != attribute.words:
        element.variants.append((core, 0.95))
    # a short description that names the column ("Units ordered" for quantity); not a sentence about it
    # ("Who placed the order", "Day the order was placed")
    text = attribute.described.strip().lower()
    described = [w for w in attribute.described_words if w not in STOP_STEMS] if text else []
    sentence = text.split()[:1] and text.split()[0] in ("who", "what", "when", "where", "which", "how", "whether",
                                                          "day", "date", "time", "1", "0", "true", "false")
    if 1 <= len(described) <= 3 and not sentence and " the " not in f" {text} ":
        element.variants.append((tuple(described), 0.75))
    if len(content) >= 2 and content[0] in FILLER_LEADS:
        element.variants.append((content[1:], 0.95))  # "the detail of each staff member" for other_details
    raw = [w for w in identifier_words(attribute.name) if w.isalpha()]
    unitless = _without_unit(raw)
    if unitless:
        element.variants.append((tuple(stem(w) for w in unitless if stem(w) not in STOP_STEMS), 0.95))
    if 2 <= len(raw) <= 3 and all(len(w) > 1 for w in raw):
        element.variants.append(((stem("".join(raw)),), 0.95))  # "wavelength" for wave_length
    if attribute.table_words and not set(attribute.table_words) & set(attribute.words):
        # "domain name" for domain.name, "flight number" for flight.number: the words side by side
        element.tight.add(len(element.variants))
        element.variants.append((attribute.table_words + attribute.words, 1.0))
    for phrase in attribute.phrases:
        element.variants.append((phrase, 1.0))
    if attribute.role in ("key", "reference") and len(content) >= 2 and content[-1] == stem("id") \
            and (*content[:-1], NUMBER) not in siblings:
        element.tight.add(len(element.variants))  # "the department numbers" for department_id, side by side
        element.spoken.add(len(element.variants))
        element.variants.append(((*content[:-1], NUMBER), 0.95))
    counted = counted_things(content)
    if counted:
        element.variants.append(((NUMBER, *counted), 0.95))  # "the number of rooms" for room_count, num_rooms
    return element


NUMBER = stem("number")
# the words a column that holds a count of things is named with, before or after the things ("room_count",
# "num_rooms", "no_of_customers")
COUNT_WORDS = frozenset({stem("count"), stem("num"), NUMBER, stem("no")})


def counted_things(words: tuple[str, ...]) -> tuple[str, ...]:
    """The things a count column counts (room_count, num_rooms: room), else ()."""
    if len(words) >= 2 and words[-1] == stem("count") and words[0] not in COUNT_WORDS:
        return words[:-1]  # (not "prof_num", "emp_no": a number that names one)
    if len(words) >= 2 and words[0] in COUNT_WORDS and words[-1] not in COUNT_WORDS:
        return words[1:]
    return ()
