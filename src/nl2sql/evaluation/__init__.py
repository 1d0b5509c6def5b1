"""Evaluation: an admin's question sets run through the real engine and judged by execution."""

from nl2sql.evaluation.judge import Table, gold_alternatives, judge, match

__all__ = ["Table", "gold_alternatives", "judge", "match"]
