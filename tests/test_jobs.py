import asyncio

from nl2sql.db import sync_url
from nl2sql.jobs import Blueprint, Jobs


async def test_deferred_job_runs_in_the_in_process_worker(app_db_url):
    blueprint = Blueprint()
    seen: list[tuple[int, str]] = []

    @blueprint.task(name="record", pass_context=True)
    async def record(context, value: int) -> None:
        seen.append((value, context.additional_context["marker"]))

    jobs = Jobs(sync_url(app_db_url), {"demo": blueprint})
    await jobs.open()
    jobs.start_worker({"marker": "from-app"})
    try:
        job_id = await jobs.defer("demo:record", value=41)
        assert job_id > 0
        for _ in range(100):
            if seen:
                break
            await asyncio.sleep(0.1)
        assert seen == [(41, "from-app")]
    finally:
        await jobs.close()
