"""Every module that runs SQL on a customer database is known, with the reason its statements do or don't carry
the user's row policies and column masks: a module added tomorrow that runs SQL fails here until someone decides."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).parents[2] / "src" / "nl2sql"

# module -> why its statements are (or need not be) guarded with the user's access rules
RUNS_SQL = {
    "answers/ask.py": "every statement is guarded with AskService._policy(user, ...), which applies the user's rules",
    "answers/generation.py": "candidates are guarded with the asking user's policy (policy.for_user)",
    "evaluation/service.py": "gold and predicted SQL run under the run's user's policy (policy_for_user)",
    "evaluation/readiness.py": "an admin's check that golden queries still run: no user's question",
    "semantics/trial.py": "an admin's trial of a plan or metric when it is saved: no user's question",
    "services.py": "the golden-query check when an admin saves one: no user's question",
}


def _runs_sql(path: Path) -> bool:
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "nl2sql.sqlguard":
            if any(alias.name == "run" for alias in node.names):
                return True
        if isinstance(node, ast.Attribute) and node.attr == "run" and isinstance(node.value, ast.Name) \
                and node.value.id == "sqlguard":
            return True
    return False


def test_every_module_that_runs_customer_sql_is_accounted_for():
    found = {str(p.relative_to(SRC)) for p in SRC.rglob("*.py")
             if "sqlguard" not in p.relative_to(SRC).parts and _runs_sql(p)}
    assert found == set(RUNS_SQL), f"new: {found - set(RUNS_SQL)}; gone: {set(RUNS_SQL) - found}"


def test_the_answers_paths_take_their_policy_from_the_user():
    ask = (SRC / "answers" / "ask.py").read_text()
    # the one place ask.py builds a connection's policy applies the user's rules to it
    assert ask.count("guard_policy(") == 1 and "return await for_user(self._catalog, cached[1], user, schema)" in ask
    assert "self._policy(connection" not in ask  # every call names the user
    generation = (SRC / "answers" / "generation.py").read_text()
    assert "policy = await for_user(self._catalog, self._policy(schema), user, schema)" in generation
