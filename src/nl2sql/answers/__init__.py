"""Answers: the question-to-SQL use case (retrieve, prompt, generate, validate, check, repair) and its records."""

from nl2sql.answers.api import SqlRequest, SqlResponse, api_routes
from nl2sql.answers.dto import Attempt, Retrieved, RetrievedItem, SqlAnswer, SqlNotGenerated
from nl2sql.answers.service import AnswerService, ConnectionPolicy, ContextRetriever, guard_policy

__all__ = [
    "AnswerService",
    "Attempt",
    "ConnectionPolicy",
    "ContextRetriever",
    "Retrieved",
    "RetrievedItem",
    "SqlAnswer",
    "SqlNotGenerated",
    "SqlRequest",
    "SqlResponse",
    "api_routes",
    "guard_policy",
]
