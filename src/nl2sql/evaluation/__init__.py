"""Evaluation: an admin's question sets run through the real engine, judged by execution, stored and compared."""

from nl2sql.evaluation.api import api_routes
from nl2sql.evaluation.judge import Table, gold_alternatives, judge, match
from nl2sql.evaluation.runs import Comparison, EvalQuestion, EvalRun, Trial, parse_questions
from nl2sql.evaluation.service import EvaluationService
from nl2sql.evaluation.pages import page_routes
from nl2sql.evaluation.tasks import jobs_blueprint

__all__ = [
    "Comparison",
    "EvalQuestion",
    "EvalRun",
    "EvaluationService",
    "Table",
    "Trial",
    "api_routes",
    "gold_alternatives",
    "jobs_blueprint",
    "judge",
    "match",
    "page_routes",
    "parse_questions",
]
