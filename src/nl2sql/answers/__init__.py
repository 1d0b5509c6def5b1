"""Answers: asking (AskService: SQL generated, run read-only, shown as a table and chart, in threads) and generating
SQL (SqlGenerationService: a question turned into checked SQL by candidates chosen by execution), with feedback."""

from nl2sql.answers.access import AccessController
from nl2sql.answers.access_pages import AccessPages
from nl2sql.answers.api import AskResponse, api_routes as _api
from nl2sql.answers.ask import AskService
from nl2sql.answers.pending import PendingAsks
from nl2sql.answers.dto import SqlAnswer, SqlNotGenerated
from nl2sql.answers.feedback import FeedbackService
from nl2sql.answers.generation import SqlGenerationService, resolve_trust
from nl2sql.answers.pages import page_routes as _pages
from nl2sql.answers.policy import ConnectionPolicy, for_user as policy_for_user, guard_policy
from nl2sql.answers.trust import ModelTrust, TrustReading

# row policies, column masks and user attributes (admin): /api/v1/access and /admin/access
api_routes = [*_api, AccessController]
page_routes = [*_pages, AccessPages]

__all__ = [
    "AskResponse",
    "AskService",
    "ConnectionPolicy",
    "FeedbackService",
    "ModelTrust",
    "PendingAsks",
    "SqlAnswer",
    "SqlGenerationService",
    "SqlNotGenerated",
    "TrustReading",
    "api_routes",
    "guard_policy",
    "page_routes",
    "policy_for_user",
    "resolve_trust",
]
