"""The evaluation module's background job: one run to the end ("evaluation:run")."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nl2sql.jobs import Blueprint, JobContext

if TYPE_CHECKING:
    from nl2sql.evaluation.service import EvaluationService


def jobs_blueprint(regression_cron: str = "") -> Blueprint:
    """The evaluation tasks, fresh per app (a procrastinate blueprint binds to the first app it joins); with
    `regression_cron`, a periodic golden regression of every connection."""
    blueprint = Blueprint()

    if regression_cron.strip():
        @blueprint.periodic(cron=regression_cron.strip())
        @blueprint.task(name="regress", pass_context=True, queueing_lock="evaluation-regress")
        async def regress(context: JobContext, timestamp: int) -> None:
            """Job "evaluation:regress": queue a golden regression of every connection with golden queries."""
            service: EvaluationService = context.additional_context["evaluation"]
            await service.regress_all()

    @blueprint.task(name="run", pass_context=True)
    async def run(context: JobContext, run_id: int) -> None:
        """Job "evaluation:run": answer and judge a run's pending questions."""
        service: EvaluationService = context.additional_context["evaluation"]
        await service.execute(run_id)

    return blueprint
