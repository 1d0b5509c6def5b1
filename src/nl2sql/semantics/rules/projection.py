"""Which columns a list shows, and whether it lists each row once.

A question that names the columns it wants ("the names and locations of the wrestlers", "the start and end dates
of each booking") is answered with those columns and no others: no key column beside them, no display column
it did not ask for. A question that names only the things ("list all the activities") is answered with the
things' display column (their name or title), and with their key only where they have no display column.

Rows are listed once (DISTINCT) when the question says so ("the different majors", "distinct codes"), when a
join to another table can repeat them, or when the question asks for the values of one descriptive column
without naming whose they are ("show all majors"): it asks for the set of values, not for one per row.
"""

from __future__ import annotations

from nl2sql.semantics.lexicon import STOP_WORDS, singular, stem
from nl2sql.semantics.model import SemanticModel
from nl2sql.semantics.plan import Col

# words that ask for each value once
DISTINCT_WORDS = frozenset({"distinct", "different", "unique", "various"})
# roles of a column whose values repeat across rows (a category), so that asking for "all X" means the set of X
CATEGORY_ROLES = frozenset({"dimension"})


def asks_distinct(words: list[str]) -> bool:
    """The question asks for each value once ("the different majors", "distinct codes", "unique names")."""
    return any(w in DISTINCT_WORDS for w in words)


def list_columns(model: SemanticModel, table: str, asked: list[Col], rows_asked: bool = False,
                 distinct: bool = False) -> list[Col]:
    """The columns a list of `table`'s rows shows: the asked ones; else the display column, the key only when
    the table has no display column (its display is its key). `rows_asked`: the question asks for the rows
    themselves beside their columns ("the cities ... and their population", "which course has the most
    students"): their display column comes first unless an asked column already names them. `distinct`: the
    question asks for distinct values ("the distinct hometowns of gymnasts"), whoever's they are."""
    if asked and distinct and not rows_asked:
        return list(asked)
    if asked:
        shown = list(asked)
        names_rows = any(model.attribute(c.table, c.column).role in ("label", "key", "text", "dimension", "reference")
                         for c in asked)
        entity = model.entity(table)
        named_elsewhere = entity.label is None and any(model.entity(c.table).label == c.column for c in asked)
        if (not any(c.table == table for c in asked) and not named_elsewhere) or (rows_asked and not names_rows):
            # the question asks for another table's columns about these rows: say which row each belongs to (not
            # where the rows, nameless, are named by the row they point at: "the names of the entrepreneurs")
            shown = [Col(table, c) for c in entity.display if Col(table, c) not in asked] + shown
        return shown
    entity = model.entity(table)
    shown = [Col(table, c) for c in entity.display]
    if entity.label_parts and not entity.label:
        # a person named by parts (first and last name) may share them with another: the key tells them apart
        shown = [Col(table, k) for k in entity.key if k not in entity.display] + shown
    return shown


def set_of_values(model: SemanticModel, select: list[Col], table_named: bool) -> bool:
    """One category column asked for without naming whose it is ("show all majors", "what cities do students live
    in"; `table_named`: a table named as the owner, "the cities of the students"): the set of its values."""
    if table_named or len(select) != 1:
        return False
    col = select[0]
    return model.attribute(col.table, col.column).role in CATEGORY_ROLES



# words that ask for a row's key ("the id and name of each ...")
ID_WORDS = frozenset({"id", "ids", "identifier", "identifiers"})


def shown_of_group(model: SemanticModel, exprs: list, stems: set[str] = frozenset()) -> list:
    """Of the columns a grouping by an entity uses (its key and its name), the ones to show: the name, and the
    key only when the question names it ("the id and name of each ...", `stems`: the question's word stems) or
    the entity is named by parts (a first and last name two people may share). The key stays in GROUP BY."""
    names = [e for e in exprs if isinstance(e, Col) and e.column in model.entity(e.table).display]
    keys = [e for e in exprs if isinstance(e, Col) and e.column in model.entity(e.table).key]
    if not names or not keys or set(names) & set(keys) or ID_WORDS & stems:
        return list(exprs)
    if any(model.entity(e.table).label_parts and not model.entity(e.table).label for e in names):
        return list(exprs)
    return [e for e in exprs if e not in keys or set(model.attribute(e.table, e.column).words) <= stems]


# words too general to name a column by themselves ("the date", "the name", "the type") unless the rows listed
# have exactly one column that answers to them
GENERIC_ASKED = frozenset({"date", "name", "type", "code", "id", "status", "time", "year", "title", "address", "detail",
                           "description"})
# what may stand before a column asked in general words ("the name", "and its type"; not "the department name")
DETERMINERS = frozenset({"the", "a", "an", ",", "and", "their", "its", "his", "her"})
NAME = stem("name")
# "full name": the parts a person's name is kept in
NAME_PARTS = (("first", "name"), ("middle", "name"), ("last", "name"))


def generic_outputs(model: SemanticModel, words: list[str], stems: list[str], segments: list[tuple[int, int]],
                    table: str | None, taken: set[int]) -> list[tuple[Col, set[int]]]:
    """Columns a list asks for in general words, read on the listed table alone: "the payment id, the date and
    the amount" (payments have one date column), "the full names of the customers" (first and last name)."""
    if table is None:
        return []
    entity = model.entity(table)
    out: list[tuple[Col, set[int]]] = where_outputs(entity, words, taken)
    for start, end in segments:
        for i in range(start, min(end, len(words))):
            if i in taken:
                continue
            if words[i] == "full" and i + 1 < len(words) and words[i + 1] in ("name", "names"):
                parts = [a for phrase in NAME_PARTS for a in entity.attributes
                         if a.words[-2:] == tuple(phrase) or tuple(a.words) == phrase]
                if len(parts) >= 2:
                    out += [(Col(table, a.name), {i, i + 1}) for a in parts]
                continue
            if singular(words[i]) not in GENERIC_ASKED or (i and words[i - 1] not in DETERMINERS):
                continue  # "the payment id": a longer name another rule reads
            # (a reference's name is another row's: "the names of courses" are no course.dept_name)
            found = [a for a in entity.attributes if stems[i] in a.words and not a.sensitive
                     and not (a.role == "reference" and stems[i] == NAME)]
            if len(found) == 1:
                out.append((Col(table, found[0].name), {i}))
            elif not found and not any(stems[i] in a.words for a in entity.attributes):
                same = _of_same_row(model, table, stems[i]) or _named_as_table(entity, stems[i])
                out += [(col, {i}) for col in same]
    return out


def _named_as_table(entity, word: str) -> list[Col]:
    """ "the names of the companies" where companies keep their name in a column named like the table
    (company.Company): that column, when it holds text."""
    if word != NAME:
        return []
    found = [a for a in entity.attributes if a.words == entity.words and a.role not in ("key", "reference")
             and a.kind == "text"]
    return [Col(entity.table, found[0].name)] if len(found) == 1 else []


def _of_same_row(model: SemanticModel, table: str, word: str) -> list[Col]:
    """The one column named `word` of a table whose row is the same thing as the listed table's: its key is the
    listed table's key ("the names of the gymnasts" where gymnast.gymnast_id is a people.people_id and people hold
    the names). Empty when no such table or several columns."""
    key = set(model.entity(table).key)
    found: list[Col] = []
    pointed: list[Col] = []
    for edge in model.neighbours(table):
        other = model.entity(edge.right)
        if not other.key or {b for _, b in edge.pairs} != set(other.key):
            continue
        named = [Col(other.table, a.name) for a in other.attributes if word in a.words and not a.sensitive]
        if key and {a for a, _ in edge.pairs} == key:
            found += named
        else:
            pointed += named
    if not found and len(pointed) == 1 and model.entity(table).label is None:
        # "the name of the entrepreneur" where an entrepreneur row points at the person it is (people_id): the
        # one table it points at that has the column, while it has no name of its own
        return pointed
    return found if len(found) == 1 else []


# words between "of" and the table that owns the asked column ("the names of all the mountains")
OWNER_FILLERS = frozenset({"the", "all", "each", "every", "their", "its"})


def owned_outputs(model: SemanticModel, words: list[str], stems: list[str], segments: list[tuple[int, int]],
                  table: str | None, owners: dict[int, str], taken: set[int]) -> list[tuple[Col, set[int]]]:
    """Columns asked in general words of another table than the one listed, named right after them: "show names
    of climbers and the names of mountains they climb" (the mountain's name). `owners`: the index of each word
    that names one table, with that table. The table must join the listed one and have exactly one column of
    that word."""
    out: list[tuple[Col, set[int]]] = []
    if table is None:
        return out
    for start, end in segments:
        for i in range(start, min(end, len(words))):
            if i in taken or singular(words[i]) not in GENERIC_ASKED or i + 1 >= len(words) \
                    or words[i + 1] not in ("of", "for") or (i and words[i - 1] not in DETERMINERS):
                continue  # "the department name of the instructor": a longer name another rule reads
            k = i + 2
            while k < len(words) and words[k] in OWNER_FILLERS:
                k += 1
            owner = owners.get(k)
            if owner is None or owner == table or not model.path(table, owner):
                continue
            found = [a for a in model.entity(owner).attributes if stems[i] in a.words and not a.sensitive
                     and a.role != "reference"]
            if len(found) == 1:
                out.append((Col(owner, found[0].name), {i}))
    return out


# what "where is ...?" asks for, by the words of a column's name, most telling first
PLACE_WORDS = ("location", "address", "place", "venue", "city", "country", "building", "room", "office")


def where_outputs(entity, words: list[str], taken: set[int]) -> list[tuple[Col, set[int]]]:
    """ "Where is the history department?", "Where is the club ... located?": the listed table's place."""
    if not words or words[0] != "where" or 0 in taken:
        return []
    for place in PLACE_WORDS:
        found = [a for a in entity.attributes if stem(place) in a.words and not a.sensitive]
        if len(found) == 1:
            return [(Col(entity.table, found[0].name), {0} | ({len(words) - 2} if words[-2:-1] == ["located"] else set()))]
    return []


# "all the information about", "all details of", "everything about": every column of the rows listed
EVERYTHING_NOUNS = frozenset({"information", "info", "details", "data", "attributes", "columns", "fields"})
EVERYTHING_LINKS = frozenset({"about", "on", "for", "of", "regarding", "from", "in"})


def asks_everything(words: list[str]) -> set[int]:
    """The token indices of a phrase asking for every column ("all the information about the department",
    "everything about", "all details of"); empty when there is none."""
    for i, w in enumerate(words):
        if w == "everything" and i + 1 < len(words) and words[i + 1] in ("about", "on", "for", "of"):
            return {i}
        if w == "all":
            k = i + 1 + (1 if i + 1 < len(words) and words[i + 1] == "the" else 0)
            if k < len(words) and words[k] in EVERYTHING_NOUNS and k + 1 < len(words) \
                    and words[k + 1] in EVERYTHING_LINKS:
                return set(range(i, k + 1))
            # "all the customer information", "all the job history info": the table named before the noun
            named = next((n for n in range(k + 1, min(k + 4, len(words))) if words[n] in EVERYTHING_NOUNS), None)
            if named is not None and words[named] != "details" \
                    and not {"distinct", "unique", "different"} & set(words[k:named]) \
                    and not any(x in STOP_WORDS for x in words[k:named]):
                return set(range(i, named + 1))
        if w == "information" and i > 0 and words[i - 1] == "the" and i + 1 < len(words) \
                and words[i + 1] in EVERYTHING_LINKS:
            return {i - 1, i}  # "list the information of all instructors"
    return set()


def every_column(model: SemanticModel, table: str) -> list[Col]:
    """The columns a "everything about" list shows: all of the table's, sensitive ones excepted."""
    return [Col(table, a.name) for a in model.entity(table).attributes if not a.sensitive]


# how much a reading that aggregates its own grouping column keeps of its score
DEGENERATE = 0.85
# aggregates that say nothing of a column every row of the group shares
_CONSTANT_IN_GROUP = frozenset({"count_distinct", "min", "max", "avg"})


def degenerate(plan) -> bool:
    """The plan shows an aggregate of a column it groups by or fixes with an equality ("the number of distinct teams
    per team": always 1; "the number of male students (sex is 'M')" as the count of distinct sexes: 1): a reading
    of the grouping's or the condition's words as the measure's too."""
    from nl2sql.semantics.plan import Agg

    fixed = {g for g in plan.group_by if isinstance(g, Col)} | _fixed(plan.where)
    return any(isinstance(o.expr, Agg) and o.expr.func in _CONSTANT_IN_GROUP and o.expr.arg in fixed
               for o in plan.select)


def _fixed(condition) -> set:
    """Columns an equality with a literal fixes (in AllOf too)."""
    from nl2sql.semantics.plan import AllOf, Compare, Lit

    if isinstance(condition, Compare) and condition.op == "=" and isinstance(condition.left, Col) \
            and isinstance(condition.right, Lit):
        return {condition.left}
    if isinstance(condition, AllOf):
        return set().union(*(_fixed(c) for c in condition.items))
    return set()


def grouped_outputs(plan):
    """The plan with each plain column it shows beside an aggregate among its groups ("how many rooms in each
    building": the building shown and counted by); a plan that shows no aggregate, or groups them all, as it is."""
    from dataclasses import replace

    from nl2sql.semantics.plan import Agg

    if plan.having is None and not any(isinstance(o.expr, Agg) for o in plan.select):
        return plan
    measured = {o.expr.arg for o in plan.select
                if isinstance(o.expr, Agg) and o.expr.func in ("avg", "min", "max", "sum")}
    plain = {o.expr for o in plan.select if isinstance(o.expr, Col)}
    if plain and plain <= measured and set(plan.group_by) <= plain and plan.having is None:
        # "the highest cost, lowest cost and average cost": the column is what is measured, not a grouping
        return replace(plan, select=tuple(o for o in plan.select if o.expr not in plain), group_by=())
    loose = tuple(o.expr for o in plan.select if isinstance(o.expr, Col) and o.expr not in plan.group_by)
    if not loose or not any(isinstance(o.expr, Agg) for o in plan.select):
        return plan
    return replace(plan, group_by=(*plan.group_by, *dict.fromkeys(loose)))
