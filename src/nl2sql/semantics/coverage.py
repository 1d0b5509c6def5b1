"""What of a question the catalog explains at all, before any reading: its content words, the ones that name a
table, column, value or time, and the ones nothing explains (a question about nothing here has only those).
Also the catalog's nearest names for a word it doesn't know, to offer as "did you mean"."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from datetime import date

from nl2sql.semantics.lexicon import STOP_WORDS, stem, synonyms, tokenize
from nl2sql.semantics.model import SemanticModel
from nl2sql.semantics.reader import Reader, _left_out, _split_directives, expand_definitions
from nl2sql.semantics.rules.metric import metrics_named, segments_named

__all__ = ["Coverage", "WRITE_VERBS", "nearest_columns", "question_coverage"]

# imperative verbs that ask to change data; a question starting with one asks for a write, not a read
WRITE_VERBS = frozenset("delete remove drop erase wipe purge truncate update modify change alter edit set insert add "
                        "create rename replace overwrite destroy kill grant revoke".split())


@dataclass(frozen=True)
class Coverage:
    """A question's content words (as written), those the catalog links and those it doesn't; whether it asks
    for a write."""

    content: tuple[str, ...]
    linked: tuple[str, ...]
    unread: tuple[str, ...]
    write_verb: str | None

    @property
    def share_linked(self) -> float:
        return len(self.linked) / len(self.content) if self.content else 0.0


def question_coverage(reader: Reader, question: str, *, today: date | None = None,
                      instructions: tuple[str, ...] = (), scope: set[str] | frozenset[str] | None = None) -> Coverage:
    """Which content words of `question` name something in the reader's catalog (the reader's own rules of what
    a word that asks for nothing is: stop and cue words, light verbs, numbers)."""
    text, _ = expand_definitions(question, instructions)
    tokens = tokenize(text)
    # the reader's own parse (same package), with the same scope as its reading: it is cached, not done again
    content_tokens, _ = _split_directives(tokens) if tokens else ([], [])
    parse = reader._parse(content_tokens, today or date.today(), scope)  # noqa: SLF001
    # the admin's metrics and segments name something too ("revenue", "active products")
    metrics = metrics_named(reader.model, parse.words)
    layer = {i for f in (*metrics, *segments_named(reader.model, parse.words, metrics)) for i in f.tokens}
    unread, linked = _left_out(parse, layer)
    linked = tuple(dict.fromkeys((*linked, *(parse.tokens[i].text for i in sorted(layer)
                                             if parse.tokens[i].kind == "word" and parse.words[i] not in STOP_WORDS))))
    content = tuple(dict.fromkeys((*linked, *unread)))
    first = next((t.lower for t in parse.tokens if t.kind == "word" and t.lower not in ("please", "can", "could",
                                                                                          "you", "would", "kindly")),
                 None)
    write = first if first in WRITE_VERBS else None
    return Coverage(content, linked, unread, write)


def nearest_columns(model: SemanticModel, word: str, limit: int = 3, *,
                    tables: set[str] | frozenset[str] | None = None) -> list[tuple[str, str, float]]:
    """(table, column, similarity) of the columns whose words are closest to `word`: by spelling, or through a
    general synonym ("revenue" and "sales"); only in `tables` when given (retrieval's choice, on a big catalog)."""
    target = stem(word.lower())
    kin = synonyms(target)
    scored: list[tuple[float, str, str]] = []
    for key, entity in model.entities.items():
        if tables and key not in tables:
            continue
        for attribute in entity.attributes:
            if attribute.role == "key" or attribute.sensitive:
                continue
            parts = set(attribute.words) | {w for phrase in attribute.phrases for w in phrase}
            written = {w for w in attribute.name.lower().replace("-", "_").split("_") if len(w) > 2}
            best = max([difflib.SequenceMatcher(None, target, part).ratio() for part in parts]
                       + [difflib.SequenceMatcher(None, word.lower(), part).ratio() for part in written], default=0.0)
            if parts & kin:
                best = max(best, 0.85)
            if best >= 0.7:
                scored.append((best, entity.table, attribute.name))
    scored.sort(key=lambda item: (-item[0], item[1], item[2]))
    return [(t, c, round(s, 3)) for s, t, c in scored[:limit]]
