"""Which words of the question a plan accounts for: its coverage, the words it leaves unread or drops, and the
cues (negations, superlatives) a plan shows it has read.
"""

from __future__ import annotations

from nl2sql.semantics.lexicon import STOP_WORDS, stem
from nl2sql.semantics.linking import CUE_WORDS
from nl2sql.semantics.plan import (
    Agg,
    AllOf,
    AnyOf,
    Compare,
    InList,
    IsNull,
    Lit,
    Match,
    Not,
    QueryPlan,
    Related,
    columns_of,
)
from nl2sql.semantics.reading.cues import (
    ADJECTIVE_PROPERTIES,
    AGENT_VERBS_SKIP,
    GROUP_WORDS,
    NEGATIONS,
    ORDER_VERBS,
    QUESTION_HEADS,
    RATIO_WORDS,
    STRING_PHRASES,
    SUPERLATIVES,
    _limit,
    bounds_number,
)
from nl2sql.semantics.reading.parts import _Parse
from nl2sql.semantics.rules.frequency import frequency_cue
from nl2sql.semantics.timewords import find_buckets
from nl2sql.semantics.wordclass import is_light_at


def _words_read(p: _Parse, plan: QueryPlan, used: set[int]) -> set[int]:
    """`used` with the words the plan accounts for without a rule having claimed them."""
    # a table the plan reads accounts for the words that name it
    tables = {plan.base, *plan.via} | {c.table for c in columns_of(plan)}
    used = set(used) | {i for l in p.links if l.kind == "entity" and l.table in tables and l.score >= 0.8
                        for i in l.matched}
    # ... and a column it reads, for the words that name that column ("role code ED", "the claim id")
    plan_columns = {(c.table, c.column) for c in columns_of(plan)}
    used |= {i for l in p.links if l.kind == "column" and l.score >= 0.8 and l.complete
             and (l.table, l.column) in plan_columns for i in l.matched}
    # ... and, beside a value the plan filters on, a word of that value's column ("a Ph.D. degree", "whose email is
    # stanley@example.org" for email_address)
    for v in p.values:
        # (a value of several words or a quoted one: a single word may be the column's own ("star rating"))
        if (v.table, v.column) in plan_columns and set(v.span) <= used \
                and (len(v.span) > 1 or p.tokens[v.start].kind == "quoted"):
            after = next((i for i in range(v.end, len(p.tokens)) if p.tokens[i].kind != "punct"), v.end)
            near = set(range(v.start - VALUE_REACH, v.start)) | {after}
            used |= {i for l in p.links if l.kind == "column" and (l.table, l.column) == (v.table, v.column)
                     for i in l.matched if i in near}
    # ... and "at least one order" when the plan joins the orders: a join keeps the rows that have one
    for i in range(len(p.words) - 2):
        if p.words[i:i + 3] == ["at", "least", "one"] and any(
                l.table in tables and l.table != plan.base and l.score >= 0.8 and {i + 3, i + 4} & l.matched
                for l in p.links):
            used |= {i, i + 1, i + 2}
    # a negation or a superlative is read when the plan denies or ranks something (the words are cues,
    # not names: the rules that read them don't all keep their places)
    if _denies(plan):
        used |= {i for i, w in enumerate(p.words) if w in DENIALS}
    elif not bounds_number(p.words):
        # ... and is not read when it denies nothing, whichever rule claimed the word ("how many rooms have not
        # had any reservation" read as a count of reservations)
        used -= {i for i, w in enumerate(p.words) if w in DENIALS}
    if plan.order_by or any(isinstance(e, Agg) and e.func in ("min", "max")
                            for e in _shown_and_ordered(plan)):
        used |= {i for i, w in enumerate(p.words) if w in SUPERLATIVES}
    # ... and "the most common X" for a plan ranked by a count
    cue = frequency_cue(p.words)
    if cue is not None and any(isinstance(o.expr, Agg) and o.expr.func in ("count", "count_distinct")
                               for o in plan.order_by):
        used |= cue[0]
    return used


# how many words before a value a word of its column may stand ("whose email is x")
VALUE_REACH = 3


def _coverage(p: _Parse, used: set[int]) -> float:
    content = [i for i, t in enumerate(p.tokens) if t.kind in ("word", "quoted", "number", "date")
               and t.lower not in STOP_WORDS and t.stem not in CUE_WORDS]
    linked = {i for l in p.links for i in l.matched if l.score >= 0.6} | {i for v in p.values for i in v.span} | \
        {i for w in p.windows for i in w.tokens}
    important = [i for i in content if i in linked or p.tokens[i].kind in ("quoted", "number", "date")]
    if not important:
        return 1.0
    return sum(1 for i in important if i in used) / len(important)


# nouns after a table's name that name its rows again ("faculty members", "staff people")
ENTITY_TAILS = frozenset({"member", "members", "people", "person", "persons", "individuals", "records", "entries"})


# nouns before a literal that say what kind of text it is ("the word 'court'", "the letter M")
LITERAL_NOUNS = frozenset({"word", "words", "letter", "letters", "string", "substring", "phrase", "character",
                           "characters", "text", "term", "name"})


# words a question may carry that ask for nothing in particular
HARMLESS = frozenset(stem(w) for w in (
    "data database table tables record records row rows entry entries info information detail details value values "
    "result results thing things item items one ones kind sort type there here currently current respectively "
    "known listed stored recorded available registered existing exist exists many much whole entire different "
    "distinct unique same other another both all everything something anything information please kindly "
    "can could would will should may might shall must let us need want like know see".split()))


def _left_out(p: _Parse, used: set[int], *, cues: bool = False) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(content words nothing in the catalog explains, words that name something the plan leaves unused).

    Not counted: stop words, the language's own cue words (aggregates, ordering, grouping, negation, superlatives
    and the adjectives they measure, text-match phrases and the literal after them), time buckets, a top-N
    count, numbers (whether the plan uses them is weighed by the confidence model), and light words: verbs that
    relate things and particles ("placed", "sold", "signed up"; semantics/wordclass.py)."""
    linked = {i for l in p.links for i in l.matched if l.score >= 0.5} | {i for v in p.values for i in v.span} | \
        {i for w in p.windows for i in w.tokens}
    entity = {i for l in p.links if l.kind == "entity" and l.score >= 0.5 for i in l.matched}
    _, limit_tokens = _limit(p.tokens)
    quiet = set(limit_tokens) | {i for b in find_buckets(p.tokens) for i in b.tokens}
    for i in range(len(p.words)):
        for phrase, _ in STRING_PHRASES:
            if tuple(p.words[i:i + len(phrase)]) == phrase:
                quiet |= set(range(i, i + len(phrase) + 1))  # the cue and the literal after it
    unread, dropped = [], []
    for i, t in enumerate(p.tokens):
        if cues and i not in used and i not in quiet and _dropped_cue(p, i):
            dropped.append(t.text)
            continue
        if t.kind != "word" or i in used or i in quiet or t.lower in STOP_WORDS or t.stem in HARMLESS:
            continue
        if t.stem in CUE_WORDS and i not in entity:
            continue
        if t.lower in ENTITY_TAILS and i - 1 in entity and i - 1 in used:
            continue  # "faculty members", "club members": the things the table holds
        if t.lower in LITERAL_NOUNS and i + 1 < len(p.tokens) and (p.tokens[i + 1].kind == "quoted" or (
                len(p.tokens[i + 1].text) == 1 and i + 1 in used)):
            continue  # "contains the word 'court'", "the letter M"
        if t.lower in SUPERLATIVES or t.lower in NEGATIONS or t.lower in QUESTION_HEADS or t.lower in GROUP_WORDS \
                or t.lower in ORDER_VERBS or t.lower in RATIO_WORDS or t.lower in AGENT_VERBS_SKIP \
                or t.lower in ADJECTIVE_PROPERTIES:
            continue
        if i in linked:
            dropped.append(t.text)
        elif not is_light_at([x.text for x in p.tokens], i):
            unread.append(t.text)
    return tuple(dict.fromkeys(unread)), tuple(dict.fromkeys(dropped))


# negations a reading must show (a "<>", NOT, an absence); "other" and "non" also name things ("other details")
DENIALS = frozenset(NEGATIONS) - {"other", "non"}


def _denies(plan: QueryPlan) -> bool:
    """Whether the plan negates anything: `<>`, NOT, an absence, a negated list or match, a missing value."""
    found = False

    def walk(node: object) -> None:
        nonlocal found
        if found:
            return
        if isinstance(node, Compare) and (node.op == "<>" or node.right == Lit(False)) \
                or isinstance(node, Not) or isinstance(node, Related | InList | Match) and node.negate \
                or isinstance(node, IsNull) and not node.negate:
            found = True
        elif isinstance(node, AllOf | AnyOf):
            for item in node.items:
                walk(item)
        elif isinstance(node, Agg) and node.where is not None:
            walk(node.where)

    for part in (plan.where, plan.having, *(o.expr for o in plan.select)):
        walk(part)
    return found


def _shown_and_ordered(plan: QueryPlan) -> list[object]:
    """The expressions a plan shows and orders by, aggregates included."""
    return [o.expr for o in plan.select] + [o.expr for o in plan.order_by]


def _dropped_cue(p: _Parse, index: int) -> bool:
    """A word that says how to read the question, left unused: a number, a quoted literal or a date (no limit
    and no part of a name), a superlative ("the most", "the oldest") or a negation ("not", "never")."""
    token = p.tokens[index]
    if token.kind in ("number", "quoted", "date"):
        return not any(index in l.matched for l in p.links if l.kind != "value")
    return token.kind == "word" and (token.lower in SUPERLATIVES or token.lower in DENIALS)
