"""Answers: the question-to-SQL use case (retrieve, prompt, generate, validate, check, repair) and its records."""

from nl2sql.answers.api import SqlRequest, SqlResponse, api_routes as sql_api_routes
from nl2sql.answers.ask import AskResult, AskService, PendingAsks
from nl2sql.answers.ask_api import ask_api_routes
from nl2sql.answers.dto import Attempt, Retrieved, RetrievedItem, SqlAnswer, SqlNotGenerated
from nl2sql.answers.feedback import FeedbackService
from nl2sql.answers.pages import page_routes
from nl2sql.answers.service import (
    AnswerService,
    ConnectionPolicy,
    ContextRetriever,
    ModelCheck,
    guard_policy,
    resolve_trust,
)
from nl2sql.answers.trust import ModelTrust, TrustReading

api_routes = [*sql_api_routes, *ask_api_routes]

__all__ = [
    "AnswerService",
    "AskResult",
    "AskService",
    "Attempt",
    "ConnectionPolicy",
    "ContextRetriever",
    "FeedbackService",
    "ModelCheck",
    "ModelTrust",
    "PendingAsks",
    "Retrieved",
    "RetrievedItem",
    "SqlAnswer",
    "SqlNotGenerated",
    "SqlRequest",
    "SqlResponse",
    "TrustReading",
    "api_routes",
    "guard_policy",
    "page_routes",
    "resolve_trust",
]
