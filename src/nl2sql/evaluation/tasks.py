"""The evaluation module's background job: one run to the end ("evaluation:run")."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nl2sql.jobs import Blueprint, JobContext

if TYPE_CHECKING:
    from nl2sql.evaluation.service import EvaluationService


def jobs_blueprint() -> Blueprint:
    """The evaluation tasks, fresh per app (a procrastinate blueprint binds to the first app it joins)."""
    blueprint = Blueprint()

    @blueprint.task(name="run", pass_context=True)
    async def run(context: JobContext, run_id: int) -> None:
        """Job "evaluation:run": answer and judge a run's pending questions."""
        service: EvaluationService = context.additional_context["evaluation"]
        await service.execute(run_id)

    return blueprint
