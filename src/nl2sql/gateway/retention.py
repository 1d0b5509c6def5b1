"""The scheduled retention job: bodies first, then records past their retention period."""

from __future__ import annotations

from nl2sql.jobs import Blueprint

RETENTION_CRON = "17 * * * *"  # hourly, off the full hour when other housekeeping tends to run


def retention_blueprint() -> Blueprint:
    """A fresh blueprint (procrastinate renames tasks when a blueprint is registered, so one per app)."""
    blueprint = Blueprint()

    @blueprint.periodic(cron=RETENTION_CRON)
    @blueprint.task(name="purge", pass_context=True, queueing_lock="gateway-purge")
    async def purge(context, timestamp: int) -> None:
        """Delete what retention says is due."""
        await context.additional_context["gateway"].purge_expired()

    return blueprint
