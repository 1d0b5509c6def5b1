"""Whether to answer at all: a question is answered only when what answers it accounts for the question; otherwise
the product asks back (what it understood, what it didn't, one-click ways forward) or, for a question about
nothing in the catalog or one that asks to change data, refuses in one sentence. Also the label every answer
carries: how much of the question it covers.

Pure: the service hands in the question's coverage (semantics.question_coverage), the candidates and the
catalog's nearest names; nothing here does I/O.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from nl2sql.answers import confidence
from nl2sql.answers.candidates import Candidate

__all__ = ["ANSWERED", "CLARIFY", "REFUSED", "Option", "Question", "Verdict", "decide", "reading_confidence",
           "reading_features", "verdict_from_json"]

ANSWERED, CLARIFY, REFUSED = "answered", "clarify", "refused"
WRITE_LABEL = "refused: asks to change data"

# Below this share of content words that name something in the catalog, a question no reading answers is
# taken to be about something else ("who won the 1998 World Cup?", gibberish) and refused.
MIN_LINKED_SHARE = 0.5
# words after which an unread word is a grouping or filter the question insists on ("average order value by
# country" where nothing is called country): such a question is never answered without it
_INSISTING = frozenset("by per each every for in from of with".split())


@dataclass(frozen=True)
class Option:
    """One click that moves a clarified question forward.

    kind: `ask` (ask `question`, a rewording built from the catalog), `reading` (answer with the candidate at
    `index`, a reading that leaves words out), `define` (an admin defines `term`: the instruction form),
    `model` (try the configured model, with `note` saying what to expect)."""

    kind: str
    label: str
    question: str | None = None
    index: int | None = None
    term: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class Verdict:
    """answered, clarify or refused; the sentence the user reads; how much of the question the answer covers."""

    status: str
    message: str
    coverage: str  # all | partly | none
    label: str  # "read from the question: all of it" / "partly: 'by country' not found"
    understood: str | None = None  # the best reading's line, where there is one
    not_understood: tuple[str, ...] = ()
    options: tuple[Option, ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["not_understood"] = list(self.not_understood)
        out["options"] = [asdict(o) for o in self.options]
        return out


def verdict_from_json(data: dict[str, Any] | None) -> Verdict | None:
    if not data:
        return None
    options = tuple(Option(**o) for o in data.get("options") or ())
    return Verdict(data["status"], data["message"], data.get("coverage", "none"), data.get("label", ""),
                   data.get("understood"), tuple(data.get("not_understood") or ()), options)


def _quoted(words: Sequence[str]) -> str:
    shown = [f"'{w}'" for w in words[:4]]
    return ", ".join(shown[:-1]) + f" and {shown[-1]}" if len(shown) > 1 else (shown[0] if shown else "")


@dataclass(frozen=True)
class Question:
    """What the service knows of the question when it decides."""

    text: str
    connection: str
    content: tuple[str, ...]  # content words as written
    unread: tuple[str, ...]  # content words nothing in the catalog names
    write_verb: str | None
    nearest: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # unread word -> (table, column)
    model_note: str | None = None  # set when a model can be tried: what to expect of it
    admin: bool = False
    instructions: tuple[str, ...] = ()  # the connection's instructions retrieved for the question
    metrics: tuple[dict[str, Any], ...] = ()  # the connection's metrics (semantics.metric_parts)

    def defined(self) -> tuple[str, ...]:
        """Unread words an instruction of the connection talks about ("Revenue means ...")."""
        text = " ".join(self.instructions).lower()
        return tuple(w for w in self.unread if re.search(rf"\b{re.escape(w.lower())}\b", text))

    @property
    def share_linked(self) -> float:
        return 1 - len(self.unread) / len(self.content) if self.content else 0.0


def reading_confidence(question: Question, candidates: Sequence[Candidate], winner: Candidate) -> float:
    """The trained model's chance that the winning reading is right (answers/confidence.py)."""
    return confidence.probability(reading_features(question, candidates, winner))


def reading_features(question: Question, candidates: Sequence[Candidate], winner: Candidate) -> dict[str, float]:
    """The confidence model's inputs for the winning reading."""
    others = sorted((c.score for c in candidates if c.ran and c is not winner and c.generator == "reader"),
                    reverse=True)
    ran = [c for c in candidates if c.generator == "reader" and c.ran and c is not winner]
    agreeing = sum(1 for c in ran if c.fingerprint == winner.fingerprint)
    return confidence.features(
        question.text, winner.plan, score=winner.confidence, fit=winner.fit, rows=winner.rows,
        left_out=len(winner.left_out), unread=len(question.unread),
        runner_up_gap=winner.score - others[0] if others else 1.0,
        readings=len(ran) + 1, agreement=agreeing / len(ran) if ran else 0.0, defined=question.metrics)


def decide(question: Question, candidates: Sequence[Candidate], winner: Candidate | None, *,
           threshold: float | None = None) -> Verdict:
    """The verdict for the chosen candidate (None when none ran); a reading answers when the confidence model
    gives it at least `threshold` (default: the trained one) and it leaves out no word the question insists on."""
    if question.write_verb:
        return Verdict(REFUSED, f"nl2sql only reads data: it can't {question.write_verb} anything. Ask a question "
                                "about the data instead, such as how many there are or which ones match.", "none",
                       WRITE_LABEL)
    if winner is not None and winner.generator in ("golden", "verified"):
        return Verdict(ANSWERED, "answered from a verified query", "all", "based on a verified query: all of it")
    if winner is not None and winner.generator in ("model_sql", "model_plan") and question.content \
            and not question.share_linked:
        return Verdict(REFUSED, f"This doesn't look like a question about the data in {question.connection}: "
                                f"nothing there is called {_quoted(question.unread)}.", "none",
                       "refused: about nothing in this catalog", None, question.unread)
    if winner is not None and winner.generator in ("model_sql", "model_plan"):
        return Verdict(ANSWERED, "written by the model", "all" if not question.unread else "partly",
                       "generated by the model" + (f"; not in the catalog: {_quoted(question.unread)}"
                                                   if question.unread else ""))
    if winner is None or winner.generator != "reader":
        return _nothing_read(question, candidates)
    # a word the catalog doesn't name is still read when the reading used it ("at least two", "higher than")
    left = tuple(dict.fromkeys((*winner.left_out, *(w for w in question.unread if w.lower() not in winner.read_words))))
    if left or _insisted(question, winner.read_words):
        # a reading answers only when it accounts for the question: the words it leaves out are named, and the
        # reading itself is one click away
        return _clarify(question, candidates, winner, left or question.unread)
    threshold = confidence.confidence_weights.THRESHOLD if threshold is None else threshold
    if reading_confidence(question, candidates, winner) >= threshold:
        return Verdict(ANSWERED, "read from the question", "all", "read from the question: all of it")
    # the reading uses every word but the confidence model doubts it: the first option answers with it in one click
    return Verdict(CLARIFY, f"I'm not sure this reads your question right: {winner.explanation}.", "partly",
                   "not sure of the reading", winner.explanation, (),
                   _options(question, candidates, winner, reading_first=True))


def _insisted(question: Question, read: frozenset[str] = frozenset()) -> bool:
    """Whether an unread word (one the reading didn't use either) follows a word that makes it a grouping or a
    condition ("by country"; not "from large to small", which the reading read as a direction)."""
    words = question.text.lower().split()
    unread = {w.lower() for w in question.unread} - read
    return any(w.strip("?.,!;:'\"") in unread and i and words[i - 1] in _INSISTING for i, w in enumerate(words))


def _nothing_read(question: Question, candidates: Sequence[Candidate]) -> Verdict:
    defined = question.defined()
    if defined:
        # an instruction defines the word, in terms the reader can't compute itself (a formula, a condition)
        return Verdict(CLARIFY, f"This connection's instructions define {_quoted(defined)}, but not in a form I can "
                                "turn into a query myself.", "partly", f"partly: {_quoted(defined)} defined only in "
                                "words", None, question.unread, _options(question, candidates))
    if not question.content or question.share_linked < MIN_LINKED_SHARE:
        return Verdict(REFUSED, f"This doesn't look like a question about the data in {question.connection}: "
                                + (f"nothing there is called {_quoted(question.unread)}." if question.unread
                                   else "it names no table, column or value there."), "none",
                       "refused: about nothing in this catalog", None, question.unread, _options(question, candidates))
    return _clarify(question, candidates, None, question.unread)


def _clarify(question: Question, candidates: Sequence[Candidate], winner: Candidate | None,
             left: tuple[str, ...]) -> Verdict:
    understood = winner.explanation if winner is not None else None
    defined = [w for w in question.defined() if w in left]
    if defined:
        message = (f"This connection's instructions define {_quoted(defined)}, but not in a form I can turn into a "
                   "query myself" + (f"; without {'it' if len(defined) == 1 else 'them'} the question reads as: "
                                     f"{understood}." if understood else "."))
    elif left:
        message = f"I couldn't read {_quoted(left)} in this question" + (
            f"; without {'it' if len(left) == 1 else 'them'} it reads as: {understood}." if understood else ".")
    else:
        message = "I couldn't read this question into one query."
    return Verdict(CLARIFY, message, "partly" if understood else "none",
                   f"partly: {_quoted(left)} not read" if left else "not read", understood, left,
                   _options(question, candidates, winner))


def _options(question: Question, candidates: Sequence[Candidate], winner: Candidate | None = None, *,
             reading_first: bool = False) -> tuple[Option, ...]:
    options: list[Option] = []
    for word in question.unread:
        for table, column in question.nearest.get(word, [])[:2]:
            words = column.replace("_", " ")
            rewording = _replace_word(question.text, word, words)
            if rewording != question.text:
                options.append(Option("ask", f"'{word}' as {table}.{column}", question=rewording))
    if winner is not None:
        # the index of the reading among every candidate filed with the answer (the "did you mean" endpoint's)
        index = next((i for i, c in enumerate(candidates) if c is winner), None)
        if index is not None and winner.explanation:
            option = Option("reading", f"Answer as read: {winner.explanation}", index=index)
            options.insert(0 if reading_first else len(options), option)
    options = options[:3]
    if question.admin:
        for word in question.unread[:1]:
            options.append(Option("define", f"Define '{word}' for this connection", term=word))
    if question.model_note:
        options.append(Option("model", "Try the model", note=question.model_note))
    return tuple(options)


def _replace_word(text: str, word: str, replacement: str) -> str:
    return re.sub(rf"\b{re.escape(word)}\b", replacement, text, count=1, flags=re.IGNORECASE)
