"""How far the configured model has earned its say: measured, not assumed.

A model's size or backend says what it might do; the evidence says what it does. Two kinds of evidence count:
the connection's verified (golden) queries asked of the model without their SQL in its prompt (does its SQL give
the verified result?), and, as answers are given, whether the model's SQL gives the same result as one of the
reader's readings or an adapted verified query (a right model agrees with the catalog-built candidates about as
often as those are right; a confidently wrong one almost never does).

The selection weighs candidates with the measured level; the decision to consult the model at all stays with the
configured level, so a strong model that was unlucky keeps being asked and can earn its trust back.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

__all__ = ["ModelTrust", "TrustReading"]


@dataclass(frozen=True)
class TrustReading:
    """The meter's state: what was configured, what the evidence says, and the level the selection uses."""

    configured: str
    level: str
    measured: bool
    golden_checks: int
    golden_agreed: int
    answer_checks: int
    answer_agreed: int
    why: str

    def to_json(self) -> dict[str, object]:
        return {
            "configured": self.configured, "level": self.level, "measured": self.measured,
            "golden_checks": self.golden_checks, "golden_agreed": self.golden_agreed,
            "answer_checks": self.answer_checks, "answer_agreed": self.answer_agreed, "why": self.why,
        }


class ModelTrust:
    """A sliding record of the model's checks; `level()` is `high` or `low`.

    With `measured` off the configured level stands. With it on, the configured level stands until `min_checks`
    pieces of evidence exist; then the model is trusted when its verified-query checks pass at least `golden_pass`
    of the time (they are ground truth) or, without enough of those, when it agreed with the catalog-built
    candidates at least `agreement` of the time.
    """

    def __init__(self, configured: str, *, measured: bool = True, window: int = 50, min_checks: int = 5,
                 golden_pass: float = 0.5, agreement: float = 0.2) -> None:
        self.configured = configured
        self.measured = measured
        self.window = window
        self._golden: deque[bool] = deque(maxlen=window)
        self._answers: deque[bool] = deque(maxlen=window)
        self._min = max(1, min_checks)
        self._golden_pass = golden_pass
        self._agreement = agreement
        self._lock = threading.Lock()

    def record_golden(self, passed: bool) -> None:
        with self._lock:
            self._golden.append(passed)

    def record_answer(self, agreed: bool) -> None:
        with self._lock:
            self._answers.append(agreed)

    def reset(self) -> None:
        with self._lock:
            self._golden.clear()
            self._answers.clear()

    def level(self) -> str:
        return self.reading().level

    def reading(self) -> TrustReading:
        with self._lock:
            golden, answers = list(self._golden), list(self._answers)
        g_n, g_ok, a_n, a_ok = len(golden), sum(golden), len(answers), sum(answers)

        def out(level: str, why: str) -> TrustReading:
            return TrustReading(self.configured, level, self.measured, g_n, g_ok, a_n, a_ok, why)

        if not self.measured:
            return out(self.configured, "set by NL2SQL_ENGINE_MODEL_TRUST")
        if g_n >= self._min:
            share = g_ok / g_n
            level = "high" if share >= self._golden_pass else "low"
            return out(level, f"the model's SQL gave the verified result for {g_ok} of {g_n} golden queries "
                              f"({share:.0%}; {self._golden_pass:.0%} earns trust)")
        if a_n >= self._min:
            share = a_ok / a_n
            level = "high" if share >= self._agreement else "low"
            return out(level, f"the model's SQL agreed with a catalog-built candidate in {a_ok} of {a_n} answers "
                              f"({share:.0%}; {self._agreement:.0%} earns trust)")
        return out(self.configured, f"not measured yet ({g_n} golden checks, {a_n} compared answers; "
                                    f"{self._min} needed): the configured level stands")
