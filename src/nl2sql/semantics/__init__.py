"""Semantics: the semantic model of a connection, the query plan, its compiler, and the question reader."""

from nl2sql.semantics.compiler import CompileError, compile_plan
from nl2sql.semantics.explain import describe
from nl2sql.semantics.model import Attribute, Entity, JoinEdge, SemanticModel, build_semantic_model
from nl2sql.semantics.plan import QueryPlan, plan_from_json
from nl2sql.semantics.reader import Reader, Reading, read_question

__all__ = [
    "Attribute",
    "CompileError",
    "Entity",
    "JoinEdge",
    "QueryPlan",
    "Reader",
    "Reading",
    "SemanticModel",
    "build_semantic_model",
    "compile_plan",
    "describe",
    "plan_from_json",
    "read_question",
]
