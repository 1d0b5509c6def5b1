"""Evaluation fixtures: the answers tests' synced SQLite shop."""

from tests.answers.conftest import shop  # noqa: F401
