"""Semantics: the semantic model of a connection, the query plan, its compiler, and the question reader."""

from nl2sql.semantics.compiler import CompileError, compile_plan
from nl2sql.semantics.coverage import Coverage, nearest_columns, question_coverage
from nl2sql.semantics.edit import Control, EditError, apply_edits, reading_controls
from nl2sql.semantics.evidence import QuestionTerms, sql_fit
from nl2sql.semantics.explain import describe
from nl2sql.semantics.form import form_columns, plan_form_schema, plan_from_form
from nl2sql.semantics.golden import Adaptation, adapt_golden, same_literals
from nl2sql.semantics.layer import MetricDef, SegmentDef, metric_parts, output_name
from nl2sql.semantics.layer_api import api_routes
from nl2sql.semantics.model import Attribute, Entity, JoinEdge, SemanticModel, build_semantic_model
from nl2sql.semantics.pages import page_routes
from nl2sql.semantics.plan import QueryPlan, plan_from_json
from nl2sql.semantics.reader import Reader, Reading, read_question
from nl2sql.semantics.trial import Trial, metric_check, metric_plan, try_metric

__all__ = [
    "Adaptation",
    "Attribute",
    "CompileError",
    "Coverage",
    "Control",
    "EditError",
    "Entity",
    "JoinEdge",
    "MetricDef",
    "QueryPlan",
    "QuestionTerms",
    "Reader",
    "Reading",
    "SegmentDef",
    "SemanticModel",
    "Trial",
    "adapt_golden",
    "api_routes",
    "apply_edits",
    "build_semantic_model",
    "compile_plan",
    "describe",
    "form_columns",
    "metric_check",
    "metric_parts",
    "metric_plan",
    "nearest_columns",
    "output_name",
    "page_routes",
    "plan_form_schema",
    "plan_from_form",
    "plan_from_json",
    "question_coverage",
    "read_question",
    "reading_controls",
    "same_literals",
    "sql_fit",
    "try_metric",
]
